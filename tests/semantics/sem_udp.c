/*
 * UDP is not traced, and must behave exactly as without the library, with
 * payloads that look like HTTP requests: sendto/recvfrom with the sender's
 * address, MSG_PEEK, MSG_TRUNC (the datagram's real length, the msg_flags
 * bit), zero-length datagrams, connected UDP with write/read/send/recv,
 * EAGAIN on MSG_DONTWAIT, ECONNREFUSED reported after an ICMP port
 * unreachable, EMSGSIZE, sendmmsg/recvmmsg with MSG_WAITFORONE, IPv6
 * where the host has it, and a UDP socket given the number a traced TCP
 * connection had a moment before.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sem.h"

static const char http_like[] = "GET /udp HTTP/1.1\r\nHost: sem.test\r\n\r\n";

static int udp(int family, struct sockaddr_storage *addr, socklen_t *len)
{
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memset(addr, 0, sizeof *addr);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof *a;
	}
	if (bind(fd, (struct sockaddr *)addr, *len) || getsockname(fd, (struct sockaddr *)addr, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void ret(const char *what, ssize_t r, int err, const void *buf)
{
	if (r > 0 && buf)
		say("%s = %zd (sum %08x)%s", what, r, sum(buf, (size_t)r),
		    err == SEM_SENTINEL ? "" : " errno changed!");
	else
		sayret(what, r, err == SEM_SENTINEL ? 0 : err);
	if (r >= 0)
		check(err == SEM_SENTINEL, "%s leaves errno alone", what);
}

#define CALL(what, expr, buf) \
	do { \
		errno = SEM_SENTINEL; \
		ssize_t r_ = (expr); \
		ret(what, r_, errno, buf); \
	} while (0)

static void family(int fam, const char *name)
{
	struct sockaddr_storage a1, a2, from;
	socklen_t l1, l2, fl;
	int u1 = udp(fam, &a1, &l1), u2 = udp(fam, &a2, &l2);
	char buf[2048], big[200];
	char what[96];

	if (u1 < 0 || u2 < 0) {
		say("%s: not available", name);
		if (u1 >= 0)
			close(u1);
		if (u2 >= 0)
			close(u2);
		return;
	}
	say("-- %s", name);
	snprintf(what, sizeof what, "%s sendto(HTTP-like datagram)", name);
	CALL(what, sendto(u1, http_like, sizeof http_like - 1, 0, (struct sockaddr *)&a2, l2), NULL);
	fl = sizeof from;
	snprintf(what, sizeof what, "%s recvfrom(MSG_PEEK)", name);
	CALL(what, recvfrom(u2, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &fl), buf);
	check(fl == l1 && !memcmp(&from, &a1, l1), "%s: the sender's address", name);
	snprintf(what, sizeof what, "%s recvfrom()", name);
	CALL(what, recvfrom(u2, buf, sizeof buf, 0, NULL, NULL), buf);
	check(!memcmp(buf, http_like, sizeof http_like - 1), "%s: the datagram as sent", name);

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('A' + i % 26);
	sendto(u1, big, sizeof big, 0, (struct sockaddr *)&a2, l2);
	snprintf(what, sizeof what, "%s recv(10, MSG_TRUNC) of 200", name);
	CALL(what, recv(u2, buf, 10, MSG_TRUNC), NULL);
	sendto(u1, big, sizeof big, 0, (struct sockaddr *)&a2, l2);
	struct iovec v = { buf, 10 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	snprintf(what, sizeof what, "%s recvmsg(10) of 200", name);
	CALL(what, recvmsg(u2, &m, 0), buf);
	say("%s: msg_flags%s", name, m.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : " none");
	snprintf(what, sizeof what, "%s sendto(0 bytes)", name);
	CALL(what, sendto(u1, "", 0, 0, (struct sockaddr *)&a2, l2), NULL);
	snprintf(what, sizeof what, "%s read() of the empty datagram", name);
	CALL(what, read(u2, buf, sizeof buf), NULL);
	snprintf(what, sizeof what, "%s recv(MSG_DONTWAIT) with nothing there", name);
	CALL(what, recv(u2, buf, sizeof buf, MSG_DONTWAIT), NULL);

	/* Connected. */
	check(connect(u1, (struct sockaddr *)&a2, l2) == 0 && connect(u2, (struct sockaddr *)&a1, l1) == 0,
	      "%s: connect both ends", name);
	snprintf(what, sizeof what, "%s write(connected)", name);
	CALL(what, write(u1, http_like, sizeof http_like - 1), NULL);
	snprintf(what, sizeof what, "%s send(connected)", name);
	CALL(what, send(u1, big, 50, 0), NULL);
	struct iovec wv[3] = { { (char *)http_like, 4 }, { (char *)http_like + 4, 0 },
			       { (char *)http_like + 4, 10 } };
	snprintf(what, sizeof what, "%s writev(3 iovecs)", name);
	CALL(what, writev(u1, wv, 3), NULL);
	snprintf(what, sizeof what, "%s read(connected)", name);
	CALL(what, read(u2, buf, sizeof buf), buf);
	snprintf(what, sizeof what, "%s recv(connected)", name);
	CALL(what, recv(u2, buf, sizeof buf, 0), buf);
	struct iovec rv[2] = { { buf, 6 }, { buf + 6, 100 } };

	snprintf(what, sizeof what, "%s readv(2 iovecs)", name);
	CALL(what, readv(u2, rv, 2), buf);
	snprintf(what, sizeof what, "%s sendto(too large)", name);
	char *huge = calloc(1, 70000);

	CALL(what, sendto(u1, huge, 70000, 0, NULL, 0), NULL);
	free(huge);

	/* sendmmsg and recvmmsg. */
	struct iovec sv[3] = { { (char *)http_like, 17 }, { big, 33 }, { big + 33, 1 } };
	struct mmsghdr sm[3];

	memset(sm, 0, sizeof sm);
	for (int i = 0; i < 3; i++)
		sm[i].msg_hdr = (struct msghdr){ .msg_iov = &sv[i], .msg_iovlen = 1 };
	errno = SEM_SENTINEL;
	int k = sendmmsg(u1, sm, 3, 0);

	check(k == 3 && errno == SEM_SENTINEL, "%s sendmmsg(3) = %d, lengths %u %u %u", name, k,
	      sm[0].msg_len, sm[1].msg_len, sm[2].msg_len);
	char rb[3][64];
	struct iovec rvv[3] = { { rb[0], 64 }, { rb[1], 64 }, { rb[2], 64 } };
	struct mmsghdr rm[3];

	memset(rm, 0, sizeof rm);
	for (int i = 0; i < 3; i++)
		rm[i].msg_hdr = (struct msghdr){ .msg_iov = &rvv[i], .msg_iovlen = 1 };
	errno = SEM_SENTINEL;
	k = recvmmsg(u2, rm, 3, MSG_WAITFORONE, NULL);
	check(k == 3 && errno == SEM_SENTINEL && !memcmp(rb[0], http_like, 17) &&
	      !memcmp(rb[1], big, 33) && rb[2][0] == big[33],
	      "%s recvmmsg(3, MSG_WAITFORONE) = %d, lengths %u %u %u, as sent", name, k,
	      rm[0].msg_len, rm[1].msg_len, rm[2].msg_len);
	close(u2);

	/* The peer is gone: its port answers ICMP port unreachable. */
	snprintf(what, sizeof what, "%s send() to a closed port", name);
	CALL(what, send(u1, "x", 1, 0), NULL);
	struct pollfd pf = { .fd = u1, .events = POLLIN };

	poll(&pf, 1, SEM_WAIT_MS);
	snprintf(what, sizeof what, "%s recv() after it", name);
	CALL(what, recv(u1, buf, sizeof buf, MSG_DONTWAIT), NULL);
	close(u1);
}

int main(void)
{
	int l, peer, tcp, u, lport;
	struct sockaddr_storage a;
	socklen_t al;
	char buf[256];

	sem_start();
	family(AF_INET, "udp4");
	family(AF_INET6, "udp6");

	/* A UDP socket over the number of a traced TCP connection just closed. */
	l = peer_listen(&lport, 0);
	tcp = app_dial(lport, 0);
	peer = peer_accept(l);
	app_send_all(tcp, http_like, sizeof http_like - 1, WC_WRITE, 0, NULL);
	/* Closed before any response: the span ends with an error, without a status. */
	want_span("client", "GET", "/udp", 0, false);
	close(tcp);
	u = udp(AF_INET, &a, &al);
	check(u == tcp, "the UDP socket has the closed connection's number");
	raw_close(peer);
	raw_close(l);
	errno = SEM_SENTINEL;
	ssize_t r = sendto(u, http_like, sizeof http_like - 1, 0, (struct sockaddr *)&a, al);

	check(r == (ssize_t)(sizeof http_like - 1) && errno == SEM_SENTINEL, "sendto itself = %zd", r);
	r = recv(u, buf, sizeof buf, 0);
	check(r == (ssize_t)(sizeof http_like - 1) && !memcmp(buf, http_like, (size_t)r),
	      "its datagram comes back as sent, %zd bytes", r);
	close(u);
	return sem_end();
}
