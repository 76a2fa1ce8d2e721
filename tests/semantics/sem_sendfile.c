/*
 * Bodies that do not pass through write(): sendfile() and splice() after a
 * head written with write(), on a traced server connection (responses) and
 * a traced client connection (requests), keep-alive, each followed by an
 * ordinary exchange on the same connection. The peer must receive every
 * byte as the application sent it (requests: with the library's line
 * after each request line, and only there), the application must see the
 * same counts, and each exchange must be one span with its own status.
 *
 * One request carries an HTTP message in its body (as message/http and
 * batch APIs do), right after a request whose body went by splice(): a
 * library that lost count of the spliced bytes would take the embedded
 * request line for a new request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "sem.h"

#define BODY (32 * 1024)

static int file;            /* BODY bytes, read by sendfile and splice */
static char body[BODY];

/* Moves n bytes of the file from `off` to the socket with sendfile(). */
static bool by_sendfile(int sock, off_t off, size_t n, bool null_offset, const char *what)
{
	size_t done = 0;
	unsigned calls = 0;

	if (null_offset && lseek(file, off, SEEK_SET) != off)
		fatal("lseek: %s", strerror(errno));
	while (done < n) {
		errno = SEM_SENTINEL;
		ssize_t r = null_offset ? sendfile(sock, file, NULL, n - done)
					: sendfile(sock, file, &off, n - done);

		calls++;
		if (r <= 0 || errno != SEM_SENTINEL)
			return check(false, "%s: sendfile = %zd %s", what, r, ename(errno));
		done += (size_t)r;
	}
	side("%s: sendfile calls %u", what, calls);
	if (null_offset)
		check(lseek(file, 0, SEEK_CUR) == off + (off_t)n, "%s: the file position moved by %zu",
		      what, n);
	return check(done == n, "%s: sendfile moved %zu bytes", what, n);
}

/* Moves n bytes of the file from `off` to the socket through a pipe with splice(). */
static bool by_splice(int sock, off_t off, size_t n, const char *what)
{
	int pp[2];
	size_t done = 0;

	if (pipe(pp))
		fatal("pipe: %s", strerror(errno));
	while (done < n) {
		size_t want = n - done < 16384 ? n - done : 16384;
		ssize_t in = splice(file, &off, pp[1], NULL, want, 0), out = 0;

		if (in <= 0)
			return check(false, "%s: splice(file, pipe) = %zd %s", what, in, ename(errno));
		while (out < in) {
			errno = SEM_SENTINEL;
			ssize_t r = splice(pp[0], NULL, sock, NULL, (size_t)(in - out), 0);

			if (r <= 0 || errno != SEM_SENTINEL)
				return check(false, "%s: splice(pipe, socket) = %zd %s", what, r,
					     ename(errno));
			out += r;
		}
		done += (size_t)in;
	}
	close(pp[0]);
	close(pp[1]);
	return check(done == n, "%s: splice moved %zu bytes", what, n);
}

static size_t head_of(char *out, size_t cap, int status, size_t n)
{
	return (size_t)snprintf(out, cap, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status, n);
}

/* The server side: the responses' bodies by sendfile, splice, write. */
static void server(void)
{
	static const char *const paths[] = { "/sf/sendfile", "/sf/sendfile-null", "/sf/splice",
					     "/sf/plain" };
	int lport, l = app_listen(&lport), peer = peer_dial(lport), c = accept(l, NULL, NULL);
	char req[256], got[256], head[128];
	static char want[BODY + 128], in[BODY + 128];

	if (c < 0)
		fatal("accept: %s", strerror(errno));
	say("-- server");
	for (int i = 0; i < 4; i++) {
		int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: sem.test\r\n\r\n", paths[i]);
		size_t off = (size_t)i * 1000, len = BODY - off, h;

		want_span("server", "GET", paths[i], 200 + i, false);
		peer_send(peer, req, (size_t)n);
		if (app_read_exact(c, got, (size_t)n))
			check(!memcmp(got, req, (size_t)n), "%s: the server read the request", paths[i]);
		h = head_of(head, sizeof head, 200 + i, len);
		app_send_all(c, head, h, WC_WRITE, 0, NULL);
		if (i == 0 || i == 1)
			by_sendfile(c, (off_t)off, len, i == 1, paths[i]);
		else if (i == 2)
			by_splice(c, (off_t)off, len, paths[i]);
		else
			app_send_all(c, body + off, len, WC_WRITE, 0, NULL);
		memcpy(want, head, h);
		memcpy(want + h, body + off, len);
		check(peer_recv_exact(peer, in, h + len) && !memcmp(in, want, h + len),
		      "%s: the peer received the %zu-byte response as sent", paths[i], h + len);
	}
	check(peer_idle(peer), "the peer received nothing more");
	close(c);
	close(l);
	raw_close(peer);
}

/* A request head by write(), its body by `how` (0 write, 1 sendfile, 2 splice). */
static void upload(int fd, struct peer *p, const char *path, size_t n, int how, int status,
		   enum inj inj)
{
	struct bytes req = { 0 };
	char head[256], resp[128], got[128];
	int h = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: sem.test\r\n"
			 "Content-Length: %zu\r\n\r\n", path, n);
	size_t rlen;

	want_span("client", "POST", path, status, inj != INJ_YES);
	bytes_add(&req, head, (size_t)h);
	bytes_add(&req, body, n);
	app_send_all(fd, head, (size_t)h, WC_WRITE, 0, NULL);
	if (how == 1)
		by_sendfile(fd, 0, n, false, path);
	else if (how == 2)
		by_splice(fd, 0, n, path);
	else
		app_send_all(fd, body, n, WC_WRITE, 0, NULL);
	peer_expect(p, req.p, req.len, inj, path);
	rlen = http_response(resp, sizeof resp, status, 11, 1);
	peer_send(p->fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "%s: the response, %zu bytes", path, rlen);
	bytes_free(&req);
}

static void client(void)
{
	int port, l = peer_listen(&port, 0), fd = app_dial(port, 0);
	struct peer p = { .fd = peer_accept(l) };
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	say("-- client");
	upload(fd, &p, "/sf/up-sendfile", BODY, 1, 200, INJ_YES);
	upload(fd, &p, "/sf/up-splice", BODY, 2, 201, INJ_YES);
	upload(fd, &p, "/sf/up-write", 100, 0, 202, INJ_YES);
	check(peer_idle(p.fd), "the peer received nothing more");
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);

	/* A spliced body of 64 bytes, then a request whose body holds an HTTP message. */
	fd = app_dial(port, 0);
	p = (struct peer){ .fd = peer_accept(l) };
	upload(fd, &p, "/sf/splice-small", 64, 2, 200, INJ_YES);
	static const char inner[] = "GET /inner HTTP/1.1\r\nHost: inner.test\r\n\r\n";
	char head[128];
	int h = snprintf(head, sizeof head, "POST /sf/batch HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
			 (size_t)(64 - 47) + sizeof inner - 1);

	if (h != 47)
		fatal("the batch head must be 47 bytes, not %d", h);
	bytes_add(&req, head, (size_t)h);
	bytes_add(&req, "--batch-boundary\n", 64 - 47);  /* the message starts at byte 64 */
	bytes_add(&req, inner, sizeof inner - 1);
	want_span("client", "POST", "/sf/batch", 200, false);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	/* Its own head may go without a line; its body must arrive untouched. */
	peer_expect(&p, req.p, req.len, INJ_ANY, "the request carrying an HTTP message");
	rlen = http_response(resp, sizeof resp, 200, 3, 2);
	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);

	/* A whole request from a file by sendfile: the library never sees its bytes. */
	char whole[256];
	int wn = snprintf(whole, sizeof whole, "GET /sf/whole HTTP/1.1\r\nHost: sem.test\r\n\r\n");
	int wf = open("whole.req", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (wf < 0 || write(wf, whole, (size_t)wn) != wn)
		fatal("whole.req: %s", strerror(errno));
	fd = app_dial(port, 0);
	p = (struct peer){ .fd = peer_accept(l) };
	off_t off = 0;

	errno = SEM_SENTINEL;
	ssize_t r = sendfile(fd, wf, &off, (size_t)wn);

	check(r == wn && errno == SEM_SENTINEL, "sendfile(the whole request) = %zd", r);
	want_span("client", "GET", "/sf/whole", 200, true);
	peer_expect(&p, whole, (size_t)wn, INJ_ANY, "the request sent from a file");
	rlen = http_response(resp, sizeof resp, 200, 4, 3);
	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	close(fd);
	close(wf);
	unlink("whole.req");
	raw_close(p.fd);
	bytes_free(&p.in);
	raw_close(l);
}

int main(void)
{
	sem_start();
	for (size_t i = 0; i < BODY; i++)
		body[i] = (char)((i * 2654435761u) >> 24);
	file = open("body.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0 || write(file, body, BODY) != BODY)
		fatal("body.bin: %s", strerror(errno));
	server();
	client();
	close(file);
	unlink("body.bin");
	return sem_end();
}
