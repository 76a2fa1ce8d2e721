/*
 * Trace and span IDs: random, from a per-thread xoshiro256** generator
 * seeded from getrandom(2). A forked child reseeds before its first ID,
 * so parent and child never repeat each other's IDs.
 */
#ifndef OP_IDS_H
#define OP_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Fills a 16-byte trace ID, never all zero. */
void op_ids_trace(uint8_t id[16]);
/* Fills an 8-byte span ID, never all zero. */
void op_ids_span(uint8_t id[8]);

/*
 * Makes every thread reseed before its next ID. Called in a forked child
 * (the child's copy of the calling thread's state would otherwise repeat
 * the parent's sequence).
 */
void op_ids_reseed_all(void);

#endif
