/*
 * The HTTP sender behind the network exporters: OTLP over HTTP (protobuf
 * or JSON), OTLP over gRPC (HTTP/2 with gRPC framing), and Zipkin. One
 * libcurl share keeps the connection between exports; retries follow the
 * OTLP specification; everything is bounded by a deadline.
 */
#ifndef OP_EXPORTER_SENDER_H
#define OP_EXPORTER_SENDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../preload/config.h"

/* What an answer's body holds, for reporting partial successes. */
enum op_answer {
	OP_ANSWER_NONE,        /* not looked at (Zipkin) */
	OP_ANSWER_OTLP_PROTO,  /* ExportTraceServiceResponse, binary */
	OP_ANSWER_OTLP_JSON,   /* ExportTraceServiceResponse, JSON */
};

struct op_sender_opts {
	const char *what;              /* "OTLP", "Zipkin": names the exporter in messages */
	const char *url;               /* http:// or https:// */
	const char *content_type;      /* ignored with grpc */
	const struct op_header *headers; /* the user's, sent as given; values never logged */
	unsigned n_headers;
	int64_t timeout_ms;            /* one export, all attempts included */
	bool grpc;                     /* HTTP/2, gRPC framing and status */
	bool gzip;                     /* compress the body */
	const char *ca_file;           /* PEM bundle to verify the server, NULL: system's */
	const char *cert_file;         /* client certificate (PEM), NULL: none */
	const char *key_file;          /* its key */
	enum op_answer answer;
	const _Atomic bool *exiting;   /* the core's flag (plugin.h), NULL: never */
};

struct op_sender;

/* Returns NULL after one op_warn() when the options or libcurl cannot work. */
struct op_sender *op_sender_create(const struct op_sender_opts *o);

/* Bits for op_sender_send(). */
enum {
	/*
	 * The process is exiting: a collector that refuses connections is not
	 * tried again, the host should not wait for it. (The `exiting` flag
	 * turning true during an export has the same effect, also on a wait
	 * between attempts.)
	 */
	OP_SEND_FINAL = 1u << 0,
};

/*
 * Sends one encoded batch of `n_spans` spans, retrying what the OTLP
 * specification says is retryable (HTTP 429, 502, 503, 504, the gRPC codes,
 * failed connections) with jittered exponential backoff or the server's
 * Retry-After, never past the sender's timeout or `deadline_mono_ns`
 * (CLOCK_MONOTONIC). Returns 0 when the server took the batch, -1 when it
 * was lost (reported at debug level). One caller at a time.
 */
int op_sender_send(struct op_sender *s, const uint8_t *body, size_t len, size_t n_spans,
		   int64_t deadline_mono_ns, unsigned flags);

void op_sender_destroy(struct op_sender *s);

#endif
