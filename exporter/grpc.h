/*
 * The small part of gRPC an OTLP/gRPC client needs over libcurl's HTTP/2:
 * message framing and reading google.rpc.Status details for RetryInfo.
 */
#ifndef OP_EXPORTER_GRPC_H
#define OP_EXPORTER_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A length-prefixed message starts with a flag byte and a big-endian length. */
#define OP_GRPC_PREFIX 5

static inline void op_grpc_prefix(uint8_t out[OP_GRPC_PREFIX], bool compressed, uint32_t len)
{
	out[0] = compressed ? 1 : 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/*
 * The message of a length-prefixed response body: sets *msg and *len and
 * returns 0, or -1 when the body is not one complete uncompressed message.
 */
int op_grpc_unframe(const uint8_t *body, size_t blen, const uint8_t **msg, size_t *len);

/*
 * Looks for a google.rpc.RetryInfo in a grpc-status-details-bin value
 * (base64 of a google.rpc.Status, padding optional). Returns true when
 * there is one, with its retry_delay in *delay_ms (-1 when it has none).
 */
bool op_grpc_retry_info(const char *b64, size_t len, int64_t *delay_ms);

#endif
