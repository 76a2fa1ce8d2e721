#include <stdlib.h>

#include "queue.h"

int op_queue_init(struct op_queue *q, uint32_t cap)
{
	pthread_mutex_init(&q->lock, NULL);
	q->ring = calloc(cap, sizeof *q->ring);
	q->cap = q->ring ? cap : 0;
	q->head = q->len = 0;
	q->dropped = 0;
	return q->ring ? 0 : -1;
}

uint32_t op_queue_push(struct op_queue *q, struct op_span *s)
{
	uint32_t len;

	pthread_mutex_lock(&q->lock);
	if (q->len >= q->cap) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		op_span_free(s);
		return 0;
	}
	q->ring[(q->head + q->len) % q->cap] = s;
	len = ++q->len;
	pthread_mutex_unlock(&q->lock);
	return len;
}

uint32_t op_queue_pop(struct op_queue *q, struct op_span **out, uint32_t max)
{
	uint32_t n = 0;

	pthread_mutex_lock(&q->lock);
	while (n < max && q->len > 0) {
		out[n++] = q->ring[q->head];
		q->ring[q->head] = NULL;
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

uint32_t op_queue_len(struct op_queue *q)
{
	uint32_t len;

	pthread_mutex_lock(&q->lock);
	len = q->len;
	pthread_mutex_unlock(&q->lock);
	return len;
}

uint64_t op_queue_dropped(struct op_queue *q)
{
	uint64_t d;

	pthread_mutex_lock(&q->lock);
	d = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}

void op_queue_reset_child(struct op_queue *q)
{
	while (q->len > 0) {
		op_span_free(q->ring[q->head]);
		q->ring[q->head] = NULL;
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	q->head = 0;
	q->dropped = 0;
}

void op_queue_destroy(struct op_queue *q)
{
	struct op_span *s;

	while (op_queue_pop(q, &s, 1))
		op_span_free(s);
	free(q->ring);
	q->ring = NULL;
	q->cap = 0;
	pthread_mutex_destroy(&q->lock);
}
