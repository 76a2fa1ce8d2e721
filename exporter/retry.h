/*
 * When to send a batch again, as the OTLP specification says: which answers
 * are worth another attempt, how long to wait before it (the server's
 * Retry-After, or jittered exponential backoff), in both transports.
 * Pure functions, so the unit tests can pin every rule.
 */
#ifndef OP_EXPORTER_RETRY_H
#define OP_EXPORTER_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The backoff schedule: 1 s, then x1.5 per attempt, at most 5 s, each jittered. */
#define OP_BACKOFF_INITIAL_MS 1000
#define OP_BACKOFF_MAX_MS     5000

/*
 * The wait a Retry-After header value asks for, in milliseconds: either
 * delta-seconds ("120") or an HTTP-date in any of the three forms RFC 9110
 * accepts (IMF-fixdate, RFC 850, asctime), relative to `now_s` (Unix
 * seconds; a date in the past means 0). Returns -1 when the value is
 * neither.
 */
int64_t op_retry_after_ms(const char *v, size_t len, int64_t now_s);

/*
 * The wait before retry number `attempt` (1 for the first retry) when the
 * server named none: OP_BACKOFF_INITIAL_MS x 1.5^(attempt - 1), capped at
 * OP_BACKOFF_MAX_MS, then scaled by a factor in [0.5, 1) drawn from `rnd`,
 * so that many processes restarted together do not retry in step.
 */
int64_t op_backoff_ms(unsigned attempt, uint32_t rnd);

/* OTLP/HTTP: 429, 502, 503 and 504 are retried; every other status is final. */
bool op_http_status_retryable(long status);

/* gRPC status codes (the ones we name). */
enum {
	OP_GRPC_OK = 0,
	OP_GRPC_CANCELLED = 1,
	OP_GRPC_UNKNOWN = 2,
	OP_GRPC_INVALID_ARGUMENT = 3,
	OP_GRPC_DEADLINE_EXCEEDED = 4,
	OP_GRPC_NOT_FOUND = 5,
	OP_GRPC_PERMISSION_DENIED = 7,
	OP_GRPC_RESOURCE_EXHAUSTED = 8,
	OP_GRPC_ABORTED = 10,
	OP_GRPC_OUT_OF_RANGE = 11,
	OP_GRPC_UNIMPLEMENTED = 12,
	OP_GRPC_INTERNAL = 13,
	OP_GRPC_UNAVAILABLE = 14,
	OP_GRPC_DATA_LOSS = 15,
	OP_GRPC_UNAUTHENTICATED = 16,
};

/*
 * OTLP/gRPC: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
 * UNAVAILABLE and DATA_LOSS are retried; RESOURCE_EXHAUSTED only when the
 * server sent RetryInfo (it is recovering and says when to come back).
 */
bool op_grpc_code_retryable(int code, bool has_retry_info);

/* The gRPC code for an HTTP answer that carries no grpc-status (gRPC's HTTP mapping). */
int op_grpc_code_from_http(long status);

#endif
