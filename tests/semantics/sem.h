/*
 * What the semantics programs share: a transcript, a peer that works
 * through raw system calls, and the check of what the peer received.
 *
 * Each program exercises one behaviour through libc, the way an
 * application does, and prints a transcript of everything the application
 * observes (return values, errno names, byte counts, checksums of the
 * bytes received) to stdout. tests/semantics/run.sh runs it without and
 * with libotelpreload.so and compares the transcripts byte for byte, so a
 * transcript holds only what must not change: nothing that depends on
 * timing (how much a non-blocking write takes), fd numbers or ports.
 * Figures that may vary go to the side file (SEM_SIDE), which the driver
 * reads for its own checks.
 *
 * The peer end of every connection is driven through syscall(2): the
 * library never sees those calls, so the peer reads exactly what went over
 * the wire and sends exactly what the program asks, in the same process
 * and (but for sem_flags' late sender) the same thread as the application:
 * deterministic, nothing left to scheduling.
 *
 * Environment:
 *   SEM_INJECT=1   the library runs with its default propagators: every
 *                  request on a traced TCP client connection must reach
 *                  the peer with one traceparent line after its request
 *                  line. Unset or 0: none may carry one.
 *   SEM_SIDE=FILE  where side figures go (appended).
 */
#ifndef SEM_H
#define SEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* errno as a successful call must leave it: no call sets this one. */
#define SEM_SENTINEL ENOTRECOVERABLE

/* How long the peer waits for bytes the application should have sent. */
#define SEM_WAIT_MS 10000

extern bool sem_inject;

/* Reads the environment; call first. */
void sem_start(void);

/*
 * The program is about to close every descriptor but 0-2: the side file's
 * FILE is flushed now and replaced by a new one afterwards (sem_reopen).
 */
void sem_before_closing_all(void);
void sem_reopen(void);

/* Prints the summary line; returns the exit status (1 when a check failed). */
int sem_end(void);

/* One transcript line. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One side line: figures that may differ between runs. */
void side(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records an expectation in the transcript ("ok: ..." or "FAILED: ..."). */
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A setup step that cannot fail in a working environment failed: exit 2. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The symbolic name of an errno value ("EAGAIN"). */
const char *ename(int e);

/* "what = r" or "what = -1 ENAME" into the transcript. */
void sayret(const char *what, ssize_t r, int err);

/*
 * A span the library must export (otlp mode): KIND is "client" or
 * "server", PATH the request's path; status 0 for none. `maybe`: it may
 * be missing.
 */
void want_span(const char *kind, const char *method, const char *path, int status, bool maybe);

/* FNV-1a of the bytes: a checksum for the transcript. */
uint32_t sum(const void *p, size_t n);

/* Growable byte buffer. */
struct bytes {
	char *p;
	size_t len, cap;
};
void bytes_add(struct bytes *b, const void *p, size_t n);
void bytes_free(struct bytes *b);

/* ---- raw system calls: invisible to any preloaded library ---------------- */
ssize_t raw_read(int fd, void *p, size_t n);
ssize_t raw_write(int fd, const void *p, size_t n);
int raw_close(int fd);
int raw_socket(int domain, int type, int proto);
int raw_connect(int fd, const struct sockaddr *a, socklen_t len);
int raw_accept(int fd, int flags);

/* ---- endpoints ------------------------------------------------------------ */
/* A raw listener on 127.0.0.1 (rcvbuf > 0: SO_RCVBUF for what it accepts). */
int peer_listen(int *port, int rcvbuf);
/* A raw accept, waiting up to SEM_WAIT_MS. */
int peer_accept(int listener);
/* A raw blocking connection to 127.0.0.1:port. */
int peer_dial(int port);
/* Every byte of p to a raw fd (blocking writes, polled). */
void peer_send(int fd, const void *p, size_t n);
/* Reads exactly n bytes from a raw fd (waiting up to SEM_WAIT_MS). */
bool peer_recv_exact(int fd, void *p, size_t n);
/* No byte is waiting on a raw fd (checked without blocking; EOF is no byte). */
bool peer_idle(int fd);

/* An application socket: libc socket() and connect() to 127.0.0.1:port. */
int app_dial(int port, int sndbuf);
/* An application listener (libc socket, bind, listen) on 127.0.0.1. */
int app_listen(int *port);
/* Sets or clears O_NONBLOCK. */
void set_nonblock(int fd, bool on);

/* ---- what the peer receives -------------------------------------------- */
enum inj {
	INJ_NO,    /* never a header from the library (not a traced request) */
	INJ_YES,   /* one traceparent line when SEM_INJECT, else none */
	INJ_ANY,   /* either (documented as not always traced) */
};

/*
 * The peer's view of one connection: everything read so far, and how far
 * it has been matched against the application's requests.
 */
struct peer {
	int fd;
	struct bytes in;
	size_t at;          /* bytes of `in` matched */
	unsigned injected;  /* traceparent lines found */
	unsigned requests;
};

/* Reads whatever is available now, without blocking. */
void peer_drain(struct peer *p);

/*
 * Reads until the peer has received `len` bytes of application requests
 * (complete HTTP/1.x requests: heads and Content-Length bodies) beyond
 * what was matched before, with the library's lines after each request
 * line as `inj` says, and checks them: one transcript check named `what`.
 * (The application's own header lines must not start with "traceparent: ":
 * a line that does, right after a request line, is taken for the library's.)
 */
bool peer_expect(struct peer *p, const void *app, size_t len, enum inj inj, const char *what);

/* The same for bytes that are not HTTP requests: exactly these. */
bool peer_expect_raw(struct peer *p, const void *app, size_t len, const char *what);

/*
 * A response the peer sends: "HTTP/1.1 <status> X\r\nContent-Length: n\r\n
 * \r\n<body>", the body `n` bytes derived from `seed`. Returns its length.
 */
size_t http_response(char *out, size_t cap, int status, size_t n, unsigned seed);

/* A request head with a Content-Length body of `n` bytes derived from `seed`. */
size_t http_request(struct bytes *out, const char *method, const char *target, size_t n,
		    unsigned seed);

/*
 * Reads exactly `n` bytes from the application fd with read() (polling on
 * EAGAIN); false on EOF or error. Checks errno hygiene on every call.
 */
bool app_read_exact(int fd, void *p, size_t n);

/* The application's calls that send bytes. */
enum wcall { WC_WRITE, WC_SEND, WC_SENDTO, WC_SENDMSG, WC_WRITEV, WC_COUNT };
extern const char *const wcall_name[WC_COUNT];

/* One call of kind `how` (writev and sendmsg split p into three iovecs). */
ssize_t app_send1(int fd, const void *p, size_t n, enum wcall how, int flags);

/*
 * Sends all of p with calls of kind `how` on a non-blocking application fd
 * (or with MSG_DONTWAIT in `flags`): on EAGAIN the peer drains and the
 * writer polls. Every result is checked (a count in [1, asked], or -1 with
 * EAGAIN; errno untouched on success); returns the number of EAGAINs.
 */
unsigned app_send_all(int fd, const void *p, size_t n, enum wcall how, int flags,
		      struct peer *drain);

#endif
