/*
 * The batch span processor (SDK specification, OTEL_BSP_*): ended spans go
 * into a bounded queue; one worker thread, started with the first span and
 * never earlier, exports them in batches of at most
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE, every OTEL_BSP_SCHEDULE_DELAY or as soon
 * as a full batch is waiting. At normal exit the queue is flushed within
 * OTEL_BSP_EXPORT_TIMEOUT.
 */
#ifndef OP_BSP_H
#define OP_BSP_H

#include <stdint.h>

#include "span.h"

/* Takes ownership of an ended, sampled span. Never blocks on export. */
void op_bsp_push(struct op_span *s);

/*
 * Exports everything queued, waiting at most `timeout_ms`. Used at exit.
 * Returns 0 when the queue was drained, -1 on timeout.
 */
int op_bsp_flush(int64_t timeout_ms);

/*
 * The flush of an exiting process: the first call fixes a deadline of
 * OTEL_BSP_EXPORT_TIMEOUT from now, later calls share it.
 */
void op_bsp_exit_flush(void);

/* Counters for debug output and tests. */
uint64_t op_bsp_dropped(void);
uint64_t op_bsp_exported(void);

/* fork() handlers, called from the library's pthread_atfork handlers. */
void op_bsp_atfork_prepare(void);
void op_bsp_atfork_parent(void);
void op_bsp_atfork_child(void);

#endif
