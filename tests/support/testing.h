/*
 * Test-only span sources, compiled into libotelpreload-testing.so (built
 * with -DOP_TESTING) and never into the shipped libotelpreload.so. They
 * stand in for the HTTP engine until real protocol spans exist, so the
 * integration tests can drive the whole pipeline (sampler, batch span
 * processor, exporter) from real programs.
 */
#ifndef OP_TESTING_H
#define OP_TESTING_H

#include <sys/socket.h>

/*
 * Called by the connect() hook after the real connect(), in a thread that
 * is not inside otelpreload (op_guard == 0). `rc` is the outcome: either
 * the real return code with errno as the call left it, or 0 on success and
 * the call's errno value on failure. For a TCP connection to an IPv4 or
 * IPv6 peer that succeeded or is in progress (EINPROGRESS), records a
 * CLIENT span named "connect" with
 * network.peer.address, network.peer.port and network.transport = "tcp".
 * Never changes errno.
 */
void op_test_on_connect(int fd, const struct sockaddr *addr, socklen_t len, int rc);

/*
 * Exported from the testing library (listed in its version script) for C
 * test programs, which find it with dlsym(RTLD_DEFAULT, ...): starts a
 * root span `name` of `kind` (OTLP numbering, 1 = INTERNAL ... 5 =
 * CONSUMER), sets "test.attr" = "value" and ends it.
 */
void otelpreload_test_span(const char *name, int kind);

#endif
