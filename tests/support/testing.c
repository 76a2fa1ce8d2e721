/*
 * The test-only span sources declared in testing.h. Linked into
 * libotelpreload-testing.so only (tests/CMakeLists.txt); the shipped
 * library has no way to create a span on request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../../preload/op.h"
#include "../../preload/sdk.h"
#include "../../preload/span.h"
#include "testing.h"

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" plus NUL. */
#define PEER_ADDR_MAX INET6_ADDRSTRLEN

static int peer_of(const struct sockaddr *addr, socklen_t len,
		   char out[PEER_ADDR_MAX], int *port)
{
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;

		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, out, PEER_ADDR_MAX) ? 0 : -1;
	}
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, out, PEER_ADDR_MAX) ? 0 : -1;
	}
	return -1;
}

void op_test_on_connect(int fd, const struct sockaddr *addr, socklen_t len, int rc)
{
	/* The hook hands us the application's errno: it must survive us. */
	int saved = errno;
	char peer[PEER_ADDR_MAX];
	int port, type = 0;
	socklen_t tlen = sizeof type;
	struct op_span *s;

	/*
	 * Both ways of reporting the outcome are accepted: the real return
	 * code with errno intact (0, or -1 and EINPROGRESS), or 0 / the
	 * failed call's errno value passed in `rc` (EINPROGRESS is positive,
	 * a real return code never is).
	 */
	if (!addr || !(rc == 0 || rc == EINPROGRESS || (rc == -1 && saved == EINPROGRESS)))
		goto out;
	OP_GUARD_ENTER();
	if (peer_of(addr, len, peer, &port) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
	    type == SOCK_STREAM) {
		op_sdk_init();
		if (op_sdk_enabled()) {
			s = op_span_start("connect", OP_SPAN_KIND_CLIENT, NULL);
			op_span_set_str(s, "network.peer.address", peer);
			op_span_set_int(s, "network.peer.port", port);
			op_span_set_str(s, "network.transport", "tcp");
			op_span_end(s);
		}
	}
	OP_GUARD_LEAVE();
out:
	errno = saved;
}

OP_EXPORT void otelpreload_test_span(const char *name, int kind)
{
	int saved = errno;
	struct op_span *s;

	OP_GUARD_ENTER();
	op_sdk_init();
	if (op_sdk_enabled()) {
		s = op_span_start(name, (enum op_span_kind)kind, NULL);
		op_span_set_str(s, "test.attr", "value");
		op_span_end(s);
	}
	OP_GUARD_LEAVE();
	errno = saved;
}
