#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "../exporter/plugin.h"
#include "bsp.h"
#include "codeattr.h"
#include "config.h"
#include "op.h"
#include "queue.h"
#include "resource.h"
#include "sdk.h"

static struct op_queue queue;

/*
 * The worker's state. Only `w.lock` must be held to read or write any
 * field. Deadlock prevention: the only lock ever taken while holding it is
 * the queue's (order: w.lock, then queue.lock); producers release the
 * queue's lock before they take w.lock. The fork handlers take both in
 * that order.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* the worker sleeps here */
	pthread_cond_t flushed;       /* op_bsp_flush() waits here */
	bool started;                 /* a worker exists in this process */
	bool failed;                  /* no worker can run: spans are dropped */
	uint64_t flush_req;           /* flushes asked for */
	uint64_t flush_done;          /* flushes completed */
	int64_t flush_deadline;       /* CLOCK_MONOTONIC ns, for the newest request */
} w = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;
static bool exit_hook_registered;   /* atexit() is inherited across fork */

/* Counters, relaxed: read only for reports. */
static _Atomic uint64_t exported;
static _Atomic uint64_t failed_spans;

/* Set by the exit flush: exporters then stop waiting for a collector that is down. */
static _Atomic bool exiting;

/* Spans in the export under way, for the report at exit. */
static _Atomic uint64_t in_flight;

/*
 * The exporter module. Loaded by the worker thread and used by it alone;
 * kept across fork (the mapping is inherited) but its context is not: the
 * parent's connections must not be touched by the child.
 */
static const struct op_exporter_api *api;
static void *api_ctx;
static bool api_loaded;
static bool api_created;   /* create() was called in this process (once: it reports its own errors) */

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void init(void)
{
	cond_init(&w.wake);
	cond_init(&w.flushed);
	init_ok = op_queue_init(&queue, op_cfg.bsp_max_queue_size) == 0;
}

static struct timespec mono_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	return ts;
}

/* Directory of the loaded libotelpreload.so, where the module sits too. */
static void module_path(char *out, size_t size)
{
	char real[PATH_MAX];
	const char *slash, *name;
	Dl_info info;

	if (!dladdr((void *)&op_bsp_push, &info) || !info.dli_fname) {
		snprintf(out, size, "%s", OP_EXPORTER_MODULE);
		return;
	}
	/*
	 * The name the library was loaded under may be a symlink to it (an
	 * LD_PRELOAD entry pointing into an install): the module sits next to
	 * the file itself.
	 */
	name = realpath(info.dli_fname, real) ? real : info.dli_fname;
	slash = strrchr(name, '/');
	if (!slash)
		snprintf(out, size, "%s", OP_EXPORTER_MODULE);
	else
		snprintf(out, size, "%.*s/%s", (int)(slash - name), name, OP_EXPORTER_MODULE);
}

/*
 * Held while the worker loads the module and creates the exporters. fork() waits for it (see
 * op_bsp_atfork_prepare): a child forked in the middle of a dlopen() gets
 * the loader's half-built state, and its own later dlopen() of the module
 * crashes; forked before or after, it is consistent.
 */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static void load_exporter_locked(void)
{
	char path[PATH_MAX];
	op_exporter_entry_fn entry;
	void *h;

	api_loaded = true;
	module_path(path, sizeof path);
	/*
	 * RTLD_LOCAL: libcurl, OpenSSL and protobuf-c stay out of the global
	 * scope, so the host's own copies never bind to ours or the reverse.
	 */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		op_warn("cannot load the exporter module %s: %s; spans are dropped", path, dlerror());
		return;
	}
	entry = (op_exporter_entry_fn)dlsym(h, OP_EXPORTER_ENTRY);
	api = entry ? entry() : NULL;
	if (!api || api->abi != OP_EXPORTER_ABI) {
		op_warn("%s is not an exporter module of otelpreload %s; spans are dropped",
			path, OP_VERSION);
		api = NULL;
	}
}

static void export_batch(struct op_span **batch, uint32_t n, const struct op_resource *res,
			 int64_t deadline)
{
	enum op_export_result r = OP_EXPORT_FAILED;

	/*
	 * Loading the module and creating the exporters (libcurl's and
	 * OpenSSL's global initialisation) both happen under load_lock, which
	 * fork() waits for: a child forked in the middle would inherit their
	 * locks held by a thread it does not have.
	 */
	if (!api_loaded || (api && !api_created)) {
		pthread_mutex_lock(&load_lock);
		if (!api_loaded)
			load_exporter_locked();
		if (api && !api_created) {
			api_created = true;
			api_ctx = api->create(&op_cfg, op_log_level, &exiting);
		}
		pthread_mutex_unlock(&load_lock);
	}
	/* Symbols and lines for the stacks captured on the host's threads, off their clock. */
	for (uint32_t i = 0; i < n; i++)
		op_code_annotate(batch[i]);
	/* Release: a child forked from here on sees the popped batch (worker_state_free_child). */
	atomic_store_explicit(&in_flight, n, memory_order_release);
	if (api && api_ctx)
		r = api->export_spans(api_ctx, batch, n, res, deadline,
				      atomic_load_explicit(&exiting, memory_order_relaxed) ?
				      OP_EXPORT_FINAL : 0);
	if (r == OP_EXPORT_OK) {
		atomic_fetch_add_explicit(&exported, n, memory_order_relaxed);
		op_debug("exported %u spans", n);
	} else {
		atomic_fetch_add_explicit(&failed_spans, n, memory_order_relaxed);
		op_debug("export of %u spans failed; dropped", n);
	}
	atomic_store_explicit(&in_flight, 0, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		op_span_free(batch[i]);
}

/*
 * The exporter must never take CPU the application wants: on Linux a
 * thread has its own nice value, and OP_WORKER_NICE_STEP above the
 * process's lets the scheduler run the application first whenever both
 * are ready, while the worker still gets the idle time (and a share under
 * full load) to drain the queue. Failure changes nothing but priority.
 */
#define OP_WORKER_NICE_STEP 10

static void lower_priority(void)
{
	int saved = errno, nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno == 0) {
		nice += OP_WORKER_NICE_STEP;
		if (nice > 19)
			nice = 19;
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
	}
	errno = saved;
}

/*
 * The worker's batch and resource live here rather than on its stack, so
 * that a forked child, which has no worker, can free them (its own worker
 * builds new ones with the child's pid).
 */
static struct op_span **wk_batch;
static uint32_t wk_batch_max;
static struct op_resource wk_res;
static bool wk_res_built;

static void *worker(void *arg)
{
	/* Without memory for a batch, spans go one at a time. */
	static struct op_span *one[1];
	struct op_span **batch;
	uint32_t batch_max;

	(void)arg;
	/* Everything this thread does is ours: never trace it. */
	OP_GUARD_ENTER();
	lower_priority();
	wk_batch_max = op_cfg.bsp_max_export_batch;
	wk_batch = malloc(wk_batch_max * sizeof *wk_batch);
	op_resource_build(&wk_res, &op_cfg, NULL, NULL, (long)getpid());
	wk_res_built = true;

	batch = wk_batch ? wk_batch : one;
	batch_max = wk_batch ? wk_batch_max : 1;

	for (;;) {
		int64_t delay_end = op_mono_ns() + op_cfg.bsp_schedule_delay_ms * 1000000;
		int64_t deadline;
		uint64_t req;
		uint32_t left, n;

		pthread_mutex_lock(&w.lock);
		while (w.flush_req == w.flush_done && op_queue_len(&queue) < batch_max) {
			struct timespec ts = mono_ts(delay_end);

			if (pthread_cond_timedwait(&w.wake, &w.lock, &ts) == ETIMEDOUT)
				break;
		}
		req = w.flush_req;
		deadline = op_mono_ns() + op_cfg.bsp_export_timeout_ms * 1000000;
		if (req != w.flush_done && w.flush_deadline < deadline)
			deadline = w.flush_deadline;
		pthread_mutex_unlock(&w.lock);

		/* What is queued now, and no more: producers cannot keep us here. */
		for (left = op_queue_len(&queue); left > 0; left -= n) {
			n = op_queue_pop(&queue, batch, left < batch_max ? left : batch_max);
			if (n == 0)
				break;
			export_batch(batch, n, &wk_res, deadline);
		}

		pthread_mutex_lock(&w.lock);
		w.flush_done = req;
		pthread_cond_broadcast(&w.flushed);
		pthread_mutex_unlock(&w.lock);
	}
	return NULL;
}

/*
 * One deadline for the whole exit, however many handlers flush: the
 * process never waits more than OTEL_BSP_EXPORT_TIMEOUT in total.
 */
static int64_t exit_deadline;

void op_bsp_exit_flush(void)
{
	int64_t now = op_mono_ns();
	bool first = !exit_deadline;

	if (first)
		exit_deadline = now + op_cfg.bsp_export_timeout_ms * 1000000;
	atomic_store_explicit(&exiting, true, memory_order_relaxed);
	if (now < exit_deadline)
		op_bsp_flush((exit_deadline - now + 999999) / 1000000);
	/*
	 * The one line a user who asked for info gets: export failures are
	 * debug-level (a collector that is down must not fill the host's
	 * stderr), but how many spans were lost is worth knowing. Spans still
	 * queued or being exported when the wait ended are lost too: the
	 * process is about to end.
	 */
	if (first) {
		uint64_t full = op_queue_dropped(&queue);
		uint64_t failed = atomic_load_explicit(&failed_spans, memory_order_relaxed);
		uint64_t pending = op_queue_len(&queue) +
				   atomic_load_explicit(&in_flight, memory_order_relaxed);
		uint64_t done = op_bsp_exported();

		if (done || full || failed || pending)
			op_info("at exit: %llu spans exported, %llu lost (%llu with the queue full, "
				"%llu in failed exports, %llu unsent when the exit wait ended)",
				(unsigned long long)done,
				(unsigned long long)(full + failed + pending),
				(unsigned long long)full, (unsigned long long)failed,
				(unsigned long long)pending);
	}
}

static void at_exit(void)
{
	/*
	 * exit() called on a thread that is inside the library, which is a
	 * signal handler interrupting one of our hooks: that thread may hold
	 * the queue's lock or be in the middle of a malloc. Waiting for the
	 * worker could then last for ever; the spans are given up instead.
	 */
	if (op_guard)
		return;
	op_bsp_exit_flush();
}

/* Called with w.lock held. */
static void start_worker(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	/*
	 * The worker must never take the host's signals: it is created with
	 * all of them blocked and inherits that mask.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		w.failed = true;
		op_debug("cannot start the exporter thread: %s; spans are dropped", strerror(rc));
		return;
	}
	pthread_setname_np(t, "otelpreload");
	w.started = true;
	/*
	 * Registered now, after the host's earlier atexit handlers and before
	 * the exporter module initialises OpenSSL (told not to register its
	 * own cleanup), so the flush runs while everything it needs is alive.
	 */
	if (!exit_hook_registered) {
		exit_hook_registered = true;
		atexit(at_exit);
	}
}

void op_bsp_push(struct op_span *s)
{
	uint32_t len;

	if (!op_cfg.exporters) {
		op_span_free(s);
		return;
	}
	pthread_once(&init_once, init);
	if (!init_ok) {
		op_span_free(s);
		return;
	}
	len = op_queue_push(&queue, s);
	if (len == 0) {
		uint64_t d = op_queue_dropped(&queue);

		/* Powers of two: a storm of drops gives a few lines, not millions. */
		if ((d & (d - 1)) == 0)
			op_debug("queue full (OTEL_BSP_MAX_QUEUE_SIZE=%u): %llu spans dropped so far",
				 queue.cap, (unsigned long long)d);
		return;
	}
	pthread_mutex_lock(&w.lock);
	if (!w.started && !w.failed)
		start_worker();
	else if (len >= op_cfg.bsp_max_export_batch)
		pthread_cond_signal(&w.wake);
	pthread_mutex_unlock(&w.lock);
}

int op_bsp_flush(int64_t timeout_ms)
{
	int64_t deadline = op_mono_ns() + timeout_ms * 1000000;
	struct timespec ts = mono_ts(deadline);
	uint64_t req;
	int rc = 0;

	pthread_mutex_lock(&w.lock);
	if (!w.started) {
		pthread_mutex_unlock(&w.lock);
		return 0;
	}
	req = ++w.flush_req;
	w.flush_deadline = deadline;
	pthread_cond_signal(&w.wake);
	while (w.flush_done < req) {
		if (pthread_cond_timedwait(&w.flushed, &w.lock, &ts) == ETIMEDOUT) {
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&w.lock);
	if (rc)
		op_debug("flush did not finish within %lld ms", (long long)timeout_ms);
	return rc;
}

uint64_t op_bsp_dropped(void)
{
	return op_queue_dropped(&queue) + atomic_load_explicit(&failed_spans, memory_order_relaxed);
}

uint64_t op_bsp_exported(void)
{
	return atomic_load_explicit(&exported, memory_order_relaxed);
}

void op_bsp_atfork_prepare(void)
{
	/* Lock order: load_lock, w.lock, queue.lock; the worker takes none of the others under load_lock. */
	pthread_mutex_lock(&load_lock);
	pthread_mutex_lock(&w.lock);
	pthread_mutex_lock(&queue.lock);
}

void op_bsp_atfork_parent(void)
{
	pthread_mutex_unlock(&queue.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_mutex_unlock(&load_lock);
}

/*
 * The parent's worker state, copied into a forked child that has no
 * worker: a batch being exported (in_flight spans of it, popped and not
 * yet freed), the batch array and the resource.
 */
static void worker_state_free_child(void)
{
	uint64_t n = atomic_load_explicit(&in_flight, memory_order_acquire);

	if (wk_batch) {
		for (uint32_t i = 0; i < n && i < wk_batch_max; i++)
			op_span_free(wk_batch[i]);
		free(wk_batch);
		wk_batch = NULL;
	}
	if (wk_res_built) {
		op_resource_free(&wk_res);
		wk_res_built = false;
	}
}

void op_bsp_atfork_child(void)
{
	/*
	 * The child has only the forking thread, which holds the three locks
	 * (op_bsp_atfork_prepare): they are released, not re-created. The
	 * parent's queued spans are the parent's to export; the worker is
	 * started again by the child's first span, and the exporter context is
	 * rebuilt (the parent's is leaked on purpose: cleaning it up could
	 * close or write to connections the parent still uses).
	 */
	if (init_ok) {
		cond_init(&w.wake);
		cond_init(&w.flushed);
		op_queue_reset_child(&queue);
	}
	if (w.started)
		worker_state_free_child();
	op_code_atfork_child();
	pthread_mutex_unlock(&queue.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_mutex_unlock(&load_lock);
	w.started = false;
	w.failed = false;
	/*
	 * Forked while the worker was loading the module: the child has no
	 * worker to finish it, so its own worker loads it again.
	 */
	if (!api)
		api_loaded = false;
	w.flush_req = w.flush_done = 0;
	exit_deadline = 0;
	atomic_store_explicit(&exiting, false, memory_order_relaxed);
	atomic_store_explicit(&in_flight, 0, memory_order_relaxed);
	api_ctx = NULL;
	api_created = false;
	atomic_store_explicit(&exported, 0, memory_order_relaxed);
	atomic_store_explicit(&failed_spans, 0, memory_order_relaxed);
}
