/*
 * A bounded multi-producer, single-consumer queue of spans: the hand-off
 * between application threads (op_span_end) and the exporter thread.
 *
 * Locking: `lock` protects every field. Producers hold it for a few
 * instructions; the consumer holds it only to move spans out, never while
 * exporting. Deadlock prevention: no other lock is ever taken while it is
 * held. fork() is prepared by taking it, so the child's only thread
 * holds it: the child empties the queue (op_queue_reset_child) and then
 * releases it.
 */
#ifndef OP_QUEUE_H
#define OP_QUEUE_H

#include <pthread.h>
#include <stdint.h>

#include "span.h"

struct op_queue {
	pthread_mutex_t lock;
	struct op_span **ring;
	uint32_t cap;       /* fixed at init: OTEL_BSP_MAX_QUEUE_SIZE */
	uint32_t head;      /* next slot to read */
	uint32_t len;       /* spans queued */
	uint64_t dropped;   /* spans refused because the queue was full */
};

/* Returns 0, or -1 if the ring cannot be allocated. */
int op_queue_init(struct op_queue *q, uint32_t cap);

/*
 * Adds a span. Returns the new length (>= 1), or 0 when the queue is full:
 * the span is then freed and counted in `dropped`.
 */
uint32_t op_queue_push(struct op_queue *q, struct op_span *s);

/* Moves up to `max` spans into `out`; returns how many. */
uint32_t op_queue_pop(struct op_queue *q, struct op_span **out, uint32_t max);

uint32_t op_queue_len(struct op_queue *q);
uint64_t op_queue_dropped(struct op_queue *q);

/*
 * In a forked child, with `lock` held (taken before fork()): frees the
 * spans inherited from the parent (the parent exports them; the child
 * must not). The caller releases the lock.
 */
void op_queue_reset_child(struct op_queue *q);

void op_queue_destroy(struct op_queue *q);

#endif
