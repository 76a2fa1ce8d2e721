#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/syscall.h>

#include "ids.h"
#include "op.h"

/*
 * Bumped in a forked child; a thread whose state carries an older value
 * reseeds first. Relaxed is enough: only the forking thread exists when it
 * changes, and threads created later start unseeded anyway.
 */
static _Atomic unsigned generation = 1;

struct rng {
	uint64_t s[4];
	unsigned generation;   /* 0: never seeded */
};

static __thread struct rng tls_rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void seed(struct rng *r)
{
	uint64_t buf[4] = { 0 };
	int saved = errno;
	ssize_t n;

	/*
	 * GRND_NONBLOCK: early in boot the pool may not be ready, and a host
	 * thread must never block on us. Then the fallback mixes time, pid,
	 * thread id and an address, which is unique enough for IDs.
	 */
	n = getrandom(buf, sizeof buf, GRND_NONBLOCK);
	if (n != (ssize_t)sizeof buf) {
		uint64_t x = (uint64_t)op_now_ns() ^ ((uint64_t)op_mono_ns() << 17) ^
			     ((uint64_t)getpid() << 32) ^ (uint64_t)syscall(SYS_gettid) ^
			     (uint64_t)(uintptr_t)r;
		for (int i = 0; i < 4; i++)
			buf[i] ^= splitmix64(&x);
	}
	if (!(buf[0] | buf[1] | buf[2] | buf[3]))
		buf[0] = 1;
	memcpy(r->s, buf, sizeof r->s);
	r->generation = atomic_load_explicit(&generation, memory_order_relaxed);
	errno = saved;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna): fast, 256-bit state, good equidistribution. */
static uint64_t next(void)
{
	struct rng *r = &tls_rng;
	uint64_t *s = r->s, result, t;

	if (OP_UNLIKELY(r->generation != atomic_load_explicit(&generation, memory_order_relaxed)))
		seed(r);
	result = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void op_ids_trace(uint8_t id[16])
{
	uint64_t a, b;

	do {
		a = next();
		b = next();
	} while (!(a | b));
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

void op_ids_span(uint8_t id[8])
{
	uint64_t a;

	do
		a = next();
	while (!a);
	memcpy(id, &a, 8);
}

void op_ids_reseed_all(void)
{
	unsigned g = atomic_load_explicit(&generation, memory_order_relaxed) + 1;

	atomic_store_explicit(&generation, g ? g : 1, memory_order_relaxed);
}
