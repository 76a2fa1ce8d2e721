/*
 * A map from object addresses (an SSL *, a gnutls_session_t, a CURL *) to
 * our state for them: open addressing with linear probing, one mutex. The
 * libraries whose objects are keyed here forbid using one object from two
 * threads at once, so the lock is only ever contended across objects and
 * is held for a probe or two.
 */
#ifndef OP_PTRMAP_H
#define OP_PTRMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct op_ptrmap_slot {
	const void *key;        /* NULL: empty */
	void *value;
};

struct op_ptrmap {
	pthread_mutex_t lock;
	struct op_ptrmap_slot *slots;
	size_t cap;             /* 0 or a power of two */
	size_t len;
};

#define OP_PTRMAP_INIT { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }

/* The value for `key`, or NULL. */
void *op_ptrmap_get(struct op_ptrmap *m, const void *key);

/* Sets the value for `key` (replacing none: the key must be absent). -1: out of memory. */
int op_ptrmap_put(struct op_ptrmap *m, const void *key, void *value);

/* Removes `key` and returns its value, or NULL. */
void *op_ptrmap_take(struct op_ptrmap *m, const void *key);

/*
 * Removes every entry for which `pred` is true and stores its value in
 * `out` (at most `max`). Returns how many were removed.
 */
size_t op_ptrmap_take_if(struct op_ptrmap *m, bool (*pred)(void *value, void *arg), void *arg,
			 void **out, size_t max);

/* fork(): held across it; the child re-creates the lock. */
void op_ptrmap_atfork_prepare(struct op_ptrmap *m);
void op_ptrmap_atfork_parent(struct op_ptrmap *m);
void op_ptrmap_atfork_child(struct op_ptrmap *m);

#endif
