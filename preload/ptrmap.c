#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "ptrmap.h"

static size_t slot_of(const struct op_ptrmap *m, const void *key)
{
	/* Objects are at least 16-byte aligned: the low bits say nothing. */
	uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (m->cap - 1);
}

/* Index of `key`, or of the empty slot where it would go. Needs cap > len. */
static size_t probe(const struct op_ptrmap *m, const void *key)
{
	size_t i = slot_of(m, key);

	while (m->slots[i].key && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct op_ptrmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64, i;
	struct op_ptrmap_slot *old = m->slots, *slots = calloc(cap, sizeof *slots);
	size_t old_cap = m->cap;

	if (!slots)
		return -1;
	m->slots = slots;
	m->cap = cap;
	for (i = 0; i < old_cap; i++)
		if (old[i].key)
			m->slots[probe(m, old[i].key)] = old[i];
	free(old);
	return 0;
}

/* Removes slot `i`, shifting back the entries of its probe run (no tombstones). */
static void erase(struct op_ptrmap *m, size_t i)
{
	size_t j = i;

	m->slots[i].key = NULL;
	m->len--;
	for (;;) {
		size_t home;

		j = (j + 1) & (m->cap - 1);
		if (!m->slots[j].key)
			return;
		home = slot_of(m, m->slots[j].key);
		/* Entry j may move to the hole i when its home is not in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
}

void *op_ptrmap_get(struct op_ptrmap *m, const void *key)
{
	void *v = NULL;

	pthread_mutex_lock(&m->lock);
	if (m->len) {
		size_t i = probe(m, key);

		v = m->slots[i].key ? m->slots[i].value : NULL;
	}
	pthread_mutex_unlock(&m->lock);
	return v;
}

int op_ptrmap_put(struct op_ptrmap *m, const void *key, void *value)
{
	int rc = 0, saved = errno;

	pthread_mutex_lock(&m->lock);
	if ((m->len + 1) * 2 > m->cap && grow(m) < 0) {
		rc = -1;
	} else {
		size_t i = probe(m, key);

		if (!m->slots[i].key)
			m->len++;
		m->slots[i].key = key;
		m->slots[i].value = value;
	}
	pthread_mutex_unlock(&m->lock);
	errno = saved;
	return rc;
}

void *op_ptrmap_take(struct op_ptrmap *m, const void *key)
{
	void *v = NULL;

	pthread_mutex_lock(&m->lock);
	if (m->len) {
		size_t i = probe(m, key);

		if (m->slots[i].key) {
			v = m->slots[i].value;
			erase(m, i);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return v;
}

size_t op_ptrmap_take_if(struct op_ptrmap *m, bool (*pred)(void *value, void *arg), void *arg,
			 void **out, size_t max)
{
	size_t n = 0, i = 0;

	pthread_mutex_lock(&m->lock);
	while (i < m->cap && n < max) {
		if (m->slots[i].key && pred(m->slots[i].value, arg)) {
			out[n++] = m->slots[i].value;
			/* The shift may bring another entry into slot i: look again. */
			erase(m, i);
			continue;
		}
		i++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

void op_ptrmap_atfork_prepare(struct op_ptrmap *m)
{
	pthread_mutex_lock(&m->lock);
}

void op_ptrmap_atfork_parent(struct op_ptrmap *m)
{
	pthread_mutex_unlock(&m->lock);
}

void op_ptrmap_atfork_child(struct op_ptrmap *m)
{
	pthread_mutex_unlock(&m->lock);
}
