/*
 * Configuration from the standard OTEL_* environment variables (and a few
 * OTELPRELOAD_* ones). Parsed once, on first use by the SDK side, and
 * immutable afterwards, so readers need no lock.
 *
 * Every variable is validated: an invalid value is reported once, naming the
 * variable and the value, and the default is used.
 */
#ifndef OP_CONFIG_H
#define OP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum op_sampler {
	OP_SAMPLER_ALWAYS_ON,
	OP_SAMPLER_ALWAYS_OFF,
	OP_SAMPLER_TRACEIDRATIO,
	OP_SAMPLER_PARENTBASED_ALWAYS_ON,
	OP_SAMPLER_PARENTBASED_ALWAYS_OFF,
	OP_SAMPLER_PARENTBASED_TRACEIDRATIO,
};

/* OTEL_PROPAGATORS formats. */
enum op_propagator {
	OP_PROP_TRACECONTEXT,
	OP_PROP_BAGGAGE,
	OP_PROP_B3,
	OP_PROP_B3MULTI,
	OP_PROP_JAEGER,
	OP_PROP_COUNT,
};

/* Bits of op_config.exporters (OTEL_TRACES_EXPORTER). */
enum {
	OP_EXPORTER_OTLP = 1u << 0,
	OP_EXPORTER_CONSOLE = 1u << 1,
	OP_EXPORTER_ZIPKIN = 1u << 2,
	OP_EXPORTER_FILE = 1u << 3,    /* OTELPRELOAD_FILE, not a name in OTEL_TRACES_EXPORTER */
};

/* OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL. */
enum op_otlp_protocol {
	OP_OTLP_HTTP_PROTOBUF,         /* the default, as the specification says */
	OP_OTLP_HTTP_JSON,
	OP_OTLP_GRPC,
};

/* OTELPRELOAD_CODE_ATTRIBUTES: what CLIENT spans say about their caller (preload/codeattr.h). */
enum op_code_mode {
	OP_CODE_OFF,
	OP_CODE_FUNCTION,       /* code.function.name, code.file.path, code.line.number */
	OP_CODE_STACK,          /* the same and code.stacktrace */
};

/* OTELPRELOAD_CODE_UNWINDER: which unwinder captures the stacks (auto: the first present). */
enum op_code_unwinder {
	OP_UNWINDER_AUTO,
	OP_UNWINDER_LIBUNWIND,
	OP_UNWINDER_BACKTRACE,
	OP_UNWINDER_LIBGCC,
};

/* One header from OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, percent-decoded. */
struct op_header {
	char *name;
	char *value;
};

/* Bound on OTEL_EXPORTER_OTLP_HEADERS entries: more is a configuration error. */
#define OP_MAX_HEADERS 32

struct op_config {
	bool sdk_disabled;             /* OTEL_SDK_DISABLED */

	char *service_name;            /* OTEL_SERVICE_NAME, NULL if unset */
	char *resource_attributes;     /* OTEL_RESOURCE_ATTRIBUTES, raw */

	enum op_sampler sampler;       /* OTEL_TRACES_SAMPLER */
	double sampler_ratio;          /* OTEL_TRACES_SAMPLER_ARG, [0, 1] */

	uint32_t exporters;            /* OTEL_TRACES_EXPORTER bits; 0 = none */

	/* OTEL_BSP_*; milliseconds and counts, defaults from the SDK spec. */
	int64_t bsp_schedule_delay_ms; /* 5000 */
	int64_t bsp_export_timeout_ms; /* 30000 */
	uint32_t bsp_max_queue_size;   /* 2048 */
	uint32_t bsp_max_export_batch; /* 512, never above the queue size */

	/* OTEL_SPAN_ATTRIBUTE_* falling back to OTEL_ATTRIBUTE_*. */
	uint32_t attr_count_limit;     /* 128 */
	uint32_t attr_value_len_limit; /* UINT32_MAX = no limit */

	/* OTLP exporter; each setting has a generic and a traces-specific variable. */
	enum op_otlp_protocol otlp_protocol;
	/*
	 * The full URL, path rules applied. For gRPC: scheme://host:port of
	 * the endpoint (its path is ignored) and the TraceService/Export path.
	 */
	char *otlp_traces_url;
	struct op_header otlp_headers[OP_MAX_HEADERS];
	unsigned otlp_header_count;
	int64_t otlp_timeout_ms;       /* OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT, 10000 */
	bool otlp_gzip;                /* ..._COMPRESSION=gzip */
	bool otlp_insecure;            /* ..._INSECURE: a scheme-less gRPC endpoint is http:// */
	char *otlp_certificate;        /* ..._CERTIFICATE: CA bundle (PEM) to verify the collector */
	char *otlp_client_certificate; /* ..._CLIENT_CERTIFICATE: our certificate (PEM), mTLS */
	char *otlp_client_key;         /* ..._CLIENT_KEY: its private key (PEM) */

	/* Zipkin exporter (OTEL_EXPORTER_ZIPKIN_*). */
	char *zipkin_url;              /* default http://localhost:9411/api/v2/spans */
	int64_t zipkin_timeout_ms;     /* 10000 */

	/* File exporter: OTLP/JSON lines appended to this path (OTELPRELOAD_FILE). */
	char *file_path;

	/* OTELPRELOAD_PROCESS_SPAN: one INTERNAL span for the process's life. */
	bool process_span;
	/*
	 * OTELPRELOAD_PROCESS_COMMAND_LINE: the process span records
	 * process.command_line. Off by default: arguments can hold secrets.
	 */
	bool process_command_line;

	/*
	 * Requests that create no span: OTELPRELOAD_IGNORE_PATHS (path
	 * prefixes) and OTELPRELOAD_IGNORE_USER_AGENTS (globs, '*' matches any
	 * run of characters). NULL-terminated arrays, NULL when unset.
	 */
	char **ignore_paths;
	char **ignore_user_agents;

	/*
	 * OTEL_PROPAGATORS: the formats in the order given (extraction: a later
	 * one wins, as in OpenTelemetry's composite propagator), and as bits.
	 */
	uint8_t propagators[OP_PROP_COUNT];
	unsigned n_propagators;
	uint32_t propagator_bits;

	enum op_code_mode code_attributes;      /* OTELPRELOAD_CODE_ATTRIBUTES, off */
	enum op_code_unwinder code_unwinder;    /* OTELPRELOAD_CODE_UNWINDER, auto */

	/* OTELPRELOAD_FORWARD_HEADERS, lower-case; NULL-terminated, NULL when none. */
	char **forward_headers;

	/*
	 * Not from the environment: the library's private copy of stderr for
	 * the console exporter (see op_sdk_init), or -1 to use fd 2.
	 */
	int console_fd;
};

/*
 * Source of variables: getenv() in the library, a table in unit tests.
 * Returns NULL for an unset variable.
 */
typedef const char *(*op_getenv_fn)(const char *name);

/*
 * Parses every variable through `get` into `cfg`, reporting invalid values
 * with op_warn(). Never fails: whatever is wrong falls back to the default.
 * Strings in `cfg` are heap copies released by op_config_free().
 */
void op_config_parse(struct op_config *cfg, op_getenv_fn get);
void op_config_free(struct op_config *cfg);

/*
 * Builds the traces URL from the two endpoint variables: a signal-specific
 * endpoint is used as is; a generic one gets "v1/traces" appended after a
 * '/' (added when missing). Returns a heap string, or NULL if `generic` and
 * `specific` are both NULL (the caller then uses the default).
 */
char *op_config_traces_url(const char *generic, const char *specific);

/*
 * Parses the W3C-Baggage-like "k1=v1,k2=v2" lists used by
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS: surrounding
 * spaces trimmed, keys and values percent-decoded. Calls `each` per pair.
 * Returns 0, or -1 when the list is malformed (then `each` may have been
 * called for the pairs before the fault; callers discard the whole list).
 */
int op_kv_list_parse(const char *list,
		     int (*each)(void *arg, const char *key, const char *value),
		     void *arg);

/*
 * True when a request for `path` (the target's path, without the query)
 * with user agent `ua` (may be NULL) must not be traced.
 */
bool op_config_ignored(const struct op_config *cfg, const char *path, size_t plen,
		       const char *ua, size_t ualen);

/* The configuration in force; valid after op_sdk_init(). */
extern struct op_config op_cfg;

#endif
