/*
 * The HTTP/1.1 the process suite's programs speak, client and server side,
 * so that every response can be checked byte for byte without a record of
 * what was asked: the answer to a request is a pure function of its path
 * and body.
 *
 * Request (client):
 *   GET|POST <path> HTTP/1.1
 *   Host: 127.0.0.1
 *   X-Sum: <FNV-1a of the body, 8 hex digits>
 *   [Content-Length: <n>]            (POST; body bytes hp_body_byte(i))
 *
 * Response (server): 200, Content-Length, X-Tp: <traceparent headers seen>,
 * body hp_answer(path, body length, body sum). A request that is not
 * exactly that (plus the trace headers a tracing library adds: at most one
 * traceparent, tracestate, baggage; and the User-Agent and Accept that
 * curl sends) gets 400 and is counted as bad. A
 * request for /__stats gets the server's counters as one JSON line.
 */
#ifndef HP_H
#define HP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Longest head either side accepts, and longest answer body. */
#define HP_HEAD_MAX 8192
#define HP_BODY_MAX 4096
/* A request body is at most this long. */
#define HP_REQ_BODY_MAX 65536

uint32_t hp_fnv(const void *p, size_t n, uint32_t h);
#define HP_FNV_INIT 2166136261u

/* Byte i of every request body. */
static inline char hp_body_byte(size_t i)
{
	return (char)('A' + (i * 7 + i / 13) % 26);
}

/* The answer body for a request; returns its length (< cap). */
size_t hp_answer(const char *path, size_t body_len, uint32_t body_sum, char *out, size_t cap);

/* How a request is written and its answer read. */
enum hp_io {
	HP_IO_RW,       /* write / read */
	HP_IO_SEND,     /* send / recv */
	HP_IO_VEC,      /* writev / readv */
	HP_IO_MSG,      /* sendmsg / recvmsg */
	HP_IO_COUNT
};

/* A connected TCP socket to 127.0.0.1:port, or -1 (errno set). */
int hp_connect(int port);

/*
 * One request on `fd` and its answer, checked byte for byte. Returns 0 on
 * success; -1 on an I/O error (errno set) or a wrong answer, with a reason
 * in `why` (static text or the buffer given). `*tp` gets the X-Tp the server
 * answered (traceparent headers it saw), if tp is not NULL.
 */
int hp_request(int fd, const char *path, size_t body_len, enum hp_io io, int *tp,
	       char *why, size_t why_size);

/*
 * One GET on a new connection, closed afterwards: the common case of the
 * suite's programs. Returns 0 or -1 as hp_request does.
 */
int hp_get(int port, const char *path, char *why, size_t why_size);

/* Server counters, updated by hp_serve. */
struct hp_stats {
	_Atomic long conns;      /* connections accepted */
	_Atomic long reqs;       /* requests answered 200 */
	_Atomic long tp0;        /* of which without traceparent */
	_Atomic long tp1;        /* of which with exactly one valid traceparent */
	_Atomic long bad;        /* requests answered 400 (and connections with junk) */
	_Atomic long idle;       /* connections closed with no byte received */
};

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
int hp_listen(int *port);

/* Serves one connection until the peer closes it; closes fd. */
void hp_serve(int fd, struct hp_stats *st);

/* Starts a detached thread accepting on `lfd` and serving each connection in a thread of its own. */
int hp_serve_background(int lfd, struct hp_stats *st);

/* Writes all of p (retrying short writes and EINTR); 0 or -1. */
int hp_write_all(int fd, const void *p, size_t n);

/* Milliseconds of CLOCK_MONOTONIC. */
long long hp_mono_ms(void);

/*
 * The tid of this process's otelpreload worker thread, or 0 when there is
 * none (untraced, or no span made yet).
 */
int hp_worker_tid(void);

/*
 * True when the worker `tid` sits in poll/ppoll: libcurl waiting on the
 * collector, that is, in the middle of an export.
 */
int hp_worker_exporting(int tid);

/*
 * Waits up to `ms` until the worker is in the middle of an export; returns
 * 1 if it was seen there, 0 if not (never caught, or no worker within
 * 50 ms: call it after the spans were made).
 */
int hp_wait_exporting(long ms);

/* True once the exporter module (libotelpreload-exporter.so) is mapped. */
int hp_exporter_mapped(void);

/* Copies of libotelpreload.so (or its testing variant) loaded in this process. */
int hp_library_copies(void);

#endif
