#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "op.h"

struct op_config op_cfg;

#define DEFAULT_ENDPOINT "http://localhost:4318"
#define DEFAULT_GRPC_ENDPOINT "http://localhost:4317"
#define TRACES_PATH "v1/traces"
#define GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define DEFAULT_ZIPKIN_URL "http://localhost:9411/api/v2/spans"

/* Longest value echoed in a warning: the rest is elided. */
#define OP_WARN_VALUE_MAX 64

/* Defaults from the OpenTelemetry SDK environment variable specification. */
static const struct op_config defaults = {
	.sampler = OP_SAMPLER_PARENTBASED_ALWAYS_ON,
	.sampler_ratio = 1.0,
	.exporters = OP_EXPORTER_OTLP,
	.bsp_schedule_delay_ms = 5000,
	.bsp_export_timeout_ms = 30000,
	.bsp_max_queue_size = 2048,
	.bsp_max_export_batch = 512,
	.attr_count_limit = 128,
	.attr_value_len_limit = UINT32_MAX,
	.otlp_timeout_ms = 10000,
	.zipkin_timeout_ms = 10000,
	.console_fd = -1,
};

static const char *get_nonempty(op_getenv_fn get, const char *name)
{
	const char *v = get(name);

	return v && *v ? v : NULL;
}

/*
 * A value as a warning shows it: at most OP_WARN_VALUE_MAX bytes, "..."
 * after a longer one, control characters as '?', so that a warning stays
 * one line whatever the value holds (no forged lines on the host's stderr).
 */
static const char *printable_value(const char *v, size_t len, char out[OP_WARN_VALUE_MAX + 4])
{
	size_t n = len > OP_WARN_VALUE_MAX ? OP_WARN_VALUE_MAX : len;

	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	strcpy(out + n, len > OP_WARN_VALUE_MAX ? "..." : "");
	return out;
}

static void invalid(const char *name, const char *value, const char *why, const char *fallback)
{
	char buf[OP_WARN_VALUE_MAX + 4];

	op_warn("%s=%s %s; using %s", name, printable_value(value, strlen(value), buf), why, fallback);
}

/*
 * invalid() for an endpoint URL, which may carry a credential: userinfo
 * (scheme or not) is shown as REDACTED:REDACTED@ and the query and
 * fragment are left out.
 */
static void invalid_url(const char *name, const char *value, const char *why, const char *fallback)
{
	char shown[OP_WARN_VALUE_MAX * 2];
	const char *auth = value, *at = NULL;
	size_t alen;

	while ((*auth >= 'a' && *auth <= 'z') || (*auth >= 'A' && *auth <= 'Z') ||
	       (auth > value && ((*auth >= '0' && *auth <= '9') || (*auth && strchr("+-.", *auth)))))
		auth++;
	auth = auth > value && !strncmp(auth, "://", 3) ? auth + 3 : value;
	alen = strcspn(auth, "/?#");
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	snprintf(shown, sizeof shown, "%.*s%s%.*s", (int)(auth - value), value,
		 at ? "REDACTED:REDACTED@" : "", (int)strcspn(at ? at + 1 : auth, "?#"),
		 at ? at + 1 : auth);
	invalid(name, shown, why, fallback);
}

static bool parse_bool(op_getenv_fn get, const char *name, bool def)
{
	const char *v = get_nonempty(get, name);

	if (!v)
		return def;
	if (!strcasecmp(v, "true"))
		return true;
	if (!strcasecmp(v, "false"))
		return false;
	invalid(name, v, "is not true or false", def ? "true" : "false");
	return def;
}

/*
 * A non-negative decimal integer within [min, max]. Surrounding spaces are
 * tolerated; anything else (signs, units, fractions) is an error.
 */
static int64_t parse_int(op_getenv_fn get, const char *name, int64_t def, int64_t min, int64_t max)
{
	const char *v = get_nonempty(get, name), *p;
	char fallback[24];
	char *end;
	long long n;

	if (!v)
		return def;
	for (p = v; isspace((unsigned char)*p); p++)
		;
	errno = 0;
	n = isdigit((unsigned char)*p) ? strtoll(p, &end, 10) : -1;
	if (n >= 0 && errno == 0) {
		while (isspace((unsigned char)*end))
			end++;
		if (*end == '\0' && n >= min && n <= max)
			return n;
	}
	snprintf(fallback, sizeof fallback, "%lld", (long long)def);
	if (n >= 0 && errno == 0 && *end == '\0')
		invalid(name, v, n < min ? "is too small" : "is too large", fallback);
	else
		invalid(name, v, "is not a number", fallback);
	return def;
}

static void parse_sampler(struct op_config *cfg, op_getenv_fn get)
{
	static const struct {
		const char *name;
		enum op_sampler sampler;
	} names[] = {
		{ "always_on", OP_SAMPLER_ALWAYS_ON },
		{ "always_off", OP_SAMPLER_ALWAYS_OFF },
		{ "traceidratio", OP_SAMPLER_TRACEIDRATIO },
		{ "parentbased_always_on", OP_SAMPLER_PARENTBASED_ALWAYS_ON },
		{ "parentbased_always_off", OP_SAMPLER_PARENTBASED_ALWAYS_OFF },
		{ "parentbased_traceidratio", OP_SAMPLER_PARENTBASED_TRACEIDRATIO },
	};
	const char *v = get_nonempty(get, "OTEL_TRACES_SAMPLER");
	const char *arg;
	char *end;
	double r;
	size_t i;

	if (v) {
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcasecmp(v, names[i].name))
				break;
		if (i < sizeof names / sizeof names[0])
			cfg->sampler = names[i].sampler;
		else
			invalid("OTEL_TRACES_SAMPLER", v, "is not a supported sampler",
				"parentbased_always_on");
	}
	if (cfg->sampler != OP_SAMPLER_TRACEIDRATIO &&
	    cfg->sampler != OP_SAMPLER_PARENTBASED_TRACEIDRATIO)
		return;
	arg = get_nonempty(get, "OTEL_TRACES_SAMPLER_ARG");
	if (!arg)
		return;
	errno = 0;
	r = strtod(arg, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == arg || *end || !(r >= 0.0 && r <= 1.0))
		invalid("OTEL_TRACES_SAMPLER_ARG", arg, "is not a ratio between 0 and 1", "1.0");
	else
		cfg->sampler_ratio = r;
}

/* The index of `v` (case-insensitive) in `names`, or -1 (reported, `names[0]` used). */
static int parse_choice(op_getenv_fn get, const char *name, const char *const *names, size_t n,
			const char *why)
{
	const char *v = get_nonempty(get, name);

	if (!v)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(v, names[i]))
			return (int)i;
	invalid(name, v, why, names[0]);
	return 0;
}

static void parse_code(struct op_config *cfg, op_getenv_fn get)
{
	static const char *const modes[] = {
		[OP_CODE_OFF] = "off", [OP_CODE_FUNCTION] = "function", [OP_CODE_STACK] = "stack",
	};
	static const char *const unwinders[] = {
		[OP_UNWINDER_AUTO] = "auto", [OP_UNWINDER_LIBUNWIND] = "libunwind",
		[OP_UNWINDER_BACKTRACE] = "backtrace", [OP_UNWINDER_LIBGCC] = "libgcc",
	};

	cfg->code_attributes = (enum op_code_mode)parse_choice(get, "OTELPRELOAD_CODE_ATTRIBUTES",
		modes, sizeof modes / sizeof modes[0], "is not off, function or stack");
	cfg->code_unwinder = (enum op_code_unwinder)parse_choice(get, "OTELPRELOAD_CODE_UNWINDER",
		unwinders, sizeof unwinders / sizeof unwinders[0],
		"is not auto, libunwind, backtrace or libgcc");
}

static void parse_exporters(struct op_config *cfg, op_getenv_fn get)
{
	const char *v = get_nonempty(get, "OTEL_TRACES_EXPORTER");
	const char *rest = v, *p;
	uint32_t bits = 0;
	bool none = false, bad = false;
	size_t len;

	if (!v)
		return;
	while ((p = op_list_next(&rest, &len))) {
		if (len == 4 && !strncasecmp(p, "otlp", 4))
			bits |= OP_EXPORTER_OTLP;
		else if (len == 7 && !strncasecmp(p, "console", 7))
			bits |= OP_EXPORTER_CONSOLE;
		else if (len == 6 && !strncasecmp(p, "zipkin", 6))
			bits |= OP_EXPORTER_ZIPKIN;
		else if (len == 4 && !strncasecmp(p, "none", 4))
			none = true;
		else if (len) {
			char buf[OP_WARN_VALUE_MAX + 4];

			op_warn("OTEL_TRACES_EXPORTER: %s is not a supported exporter; ignored",
				printable_value(p, len, buf));
			bad = true;
		}
	}
	if (none && bits) {
		invalid("OTEL_TRACES_EXPORTER", v, "mixes none with exporters", "none");
		bits = 0;
	} else if (!none && !bits && bad) {
		bits = OP_EXPORTER_OTLP;
	}
	cfg->exporters = bits;
}

static const char *const propagator_names[OP_PROP_COUNT] = {
	[OP_PROP_TRACECONTEXT] = "tracecontext",
	[OP_PROP_BAGGAGE] = "baggage",
	[OP_PROP_B3] = "b3",
	[OP_PROP_B3MULTI] = "b3multi",
	[OP_PROP_JAEGER] = "jaeger",
};

static void add_propagator(struct op_config *cfg, enum op_propagator p)
{
	if (cfg->propagator_bits & (1u << p))
		return;
	cfg->propagator_bits |= 1u << p;
	cfg->propagators[cfg->n_propagators++] = (uint8_t)p;
}

static void parse_propagators(struct op_config *cfg, op_getenv_fn get)
{
	const char *v = get_nonempty(get, "OTEL_PROPAGATORS"), *rest = v, *p;
	bool none = false;
	size_t len;

	cfg->n_propagators = 0;
	cfg->propagator_bits = 0;
	if (!v) {
		add_propagator(cfg, OP_PROP_TRACECONTEXT);
		add_propagator(cfg, OP_PROP_BAGGAGE);
		return;
	}
	while ((p = op_list_next(&rest, &len))) {
		unsigned i;

		if (!len)
			continue;
		if (len == 4 && !strncasecmp(p, "none", 4)) {
			none = true;
			continue;
		}
		for (i = 0; i < OP_PROP_COUNT; i++)
			if (strlen(propagator_names[i]) == len && !strncasecmp(p, propagator_names[i], len))
				break;
		if (i < OP_PROP_COUNT) {
			add_propagator(cfg, (enum op_propagator)i);
		} else {
			char buf[OP_WARN_VALUE_MAX + 4];

			op_warn("OTEL_PROPAGATORS: %s is not a supported propagator; ignored",
				printable_value(p, len, buf));
		}
	}
	if (none) {
		if (cfg->n_propagators)
			invalid("OTEL_PROPAGATORS", v, "mixes none with propagators", "none");
		cfg->n_propagators = 0;
		cfg->propagator_bits = 0;
	}
}

static const char *check_header_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return "is not an HTTP header name";
	return NULL;
}

static bool valid_url(const char *u)
{
	return !strncasecmp(u, "http://", 7) ? u[7] != '\0' :
	       !strncasecmp(u, "https://", 8) ? u[8] != '\0' : false;
}

char *op_config_traces_url(const char *generic, const char *specific)
{
	size_t len;
	char *url;

	if (specific)
		return strdup(specific);
	if (!generic)
		return NULL;
	len = strlen(generic);
	url = malloc(len + sizeof "/" TRACES_PATH);
	if (!url)
		return NULL;
	memcpy(url, generic, len);
	if (len == 0 || generic[len - 1] != '/')
		url[len++] = '/';
	memcpy(url + len, TRACES_PATH, sizeof TRACES_PATH);
	return url;
}

/*
 * The traces-specific variable OTEL_EXPORTER_OTLP_TRACES_<what> if set,
 * else the generic OTEL_EXPORTER_OTLP_<what>; *name says which (for
 * messages).
 */
static const char *otlp_var(op_getenv_fn get, const char *what, char *name, size_t size)
{
	const char *v;

	snprintf(name, size, "OTEL_EXPORTER_OTLP_TRACES_%s", what);
	if ((v = get_nonempty(get, name)))
		return v;
	snprintf(name, size, "OTEL_EXPORTER_OTLP_%s", what);
	return get_nonempty(get, name);
}

static void parse_protocol(struct op_config *cfg, op_getenv_fn get)
{
	char name[64];
	const char *v = otlp_var(get, "PROTOCOL", name, sizeof name);

	if (!v)
		return;
	if (!strcmp(v, "http/protobuf"))
		cfg->otlp_protocol = OP_OTLP_HTTP_PROTOBUF;
	else if (!strcmp(v, "http/json"))
		cfg->otlp_protocol = OP_OTLP_HTTP_JSON;
	else if (!strcmp(v, "grpc"))
		cfg->otlp_protocol = OP_OTLP_GRPC;
	else
		invalid(name, v, "is not grpc, http/protobuf or http/json", "http/protobuf");
}

/*
 * A gRPC endpoint: scheme://host[:port] of `endpoint`, any path dropped,
 * with the TraceService/Export path. Without a scheme ("collector:4317",
 * which gRPC users write) the connection is TLS unless ..._INSECURE=true.
 */
static char *grpc_url(const char *endpoint, bool insecure)
{
	const char *scheme = insecure ? "http://" : "https://", *auth = endpoint, *end;
	size_t slen;
	char *url;

	if (!strncasecmp(endpoint, "http://", 7) || !strncasecmp(endpoint, "https://", 8)) {
		scheme = endpoint;
		auth = strstr(endpoint, "://") + 3;
	}
	slen = scheme == endpoint ? (size_t)(auth - endpoint) : strlen(scheme);
	end = auth + strcspn(auth, "/?#");
	if (end == auth)
		return NULL;
	url = malloc(slen + (size_t)(end - auth) + sizeof GRPC_PATH);
	if (!url)
		return NULL;
	memcpy(url, scheme, slen);
	memcpy(url + slen, auth, (size_t)(end - auth));
	memcpy(url + slen + (end - auth), GRPC_PATH, sizeof GRPC_PATH);
	return url;
}

/* A scheme-less host[:port] is a valid gRPC endpoint. */
static bool valid_grpc_endpoint(const char *u)
{
	if (valid_url(u))
		return true;
	if (strstr(u, "://"))
		return false;
	return *u && *u != '/' && *u != ':';
}

static void parse_endpoint(struct op_config *cfg, op_getenv_fn get)
{
	const char *generic = get_nonempty(get, "OTEL_EXPORTER_OTLP_ENDPOINT");
	const char *specific = get_nonempty(get, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	bool grpc = cfg->otlp_protocol == OP_OTLP_GRPC;
	bool (*valid)(const char *) = grpc ? valid_grpc_endpoint : valid_url;
	const char *def = grpc ? DEFAULT_GRPC_ENDPOINT : DEFAULT_ENDPOINT;

	if (specific && !valid(specific)) {
		invalid_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific, "is not an http(s) URL",
			generic ? "OTEL_EXPORTER_OTLP_ENDPOINT" : def);
		specific = NULL;
	}
	if (!specific && generic && !valid(generic)) {
		invalid_url("OTEL_EXPORTER_OTLP_ENDPOINT", generic, "is not an http(s) URL", def);
		generic = NULL;
	}
	if (grpc) {
		const char *e = specific ? specific : generic ? generic : def;

		cfg->otlp_traces_url = grpc_url(e, cfg->otlp_insecure);
		if (!cfg->otlp_traces_url && e != def) {
			/* "http:///path": a scheme and no host. */
			invalid_url(specific ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT",
				e, "has no host", def);
			cfg->otlp_traces_url = grpc_url(def, false);
		}
	} else
		cfg->otlp_traces_url = op_config_traces_url(generic ? generic : def, specific);
}

/* A PEM file the exporter will need: a path that cannot be read is reported now. */
static char *parse_file(op_getenv_fn get, const char *what)
{
	char name[64];
	const char *v = otlp_var(get, what, name, sizeof name);

	if (!v)
		return NULL;
	if (access(v, R_OK)) {
		char buf[OP_WARN_VALUE_MAX + 4];

		op_warn("%s=%s cannot be read (%s); OTLP export will fail", name,
			printable_value(v, strlen(v), buf), strerror(errno));
	}
	return strdup(v);
}

static void parse_headers(struct op_config *cfg, op_getenv_fn get);

static void parse_otlp(struct op_config *cfg, op_getenv_fn get)
{
	char name[64];
	const char *v;
	int64_t limit;

	parse_protocol(cfg, get);
	if ((v = otlp_var(get, "INSECURE", name, sizeof name))) {
		if (!strcasecmp(v, "true"))
			cfg->otlp_insecure = true;
		else if (strcasecmp(v, "false"))
			invalid(name, v, "is not true or false", "false");
	}
	parse_endpoint(cfg, get);
	parse_headers(cfg, get);
	limit = parse_int(get, "OTEL_EXPORTER_OTLP_TIMEOUT", defaults.otlp_timeout_ms, 1, INT32_MAX);
	cfg->otlp_timeout_ms = parse_int(get, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", limit, 1, INT32_MAX);
	if ((v = otlp_var(get, "COMPRESSION", name, sizeof name))) {
		if (!strcasecmp(v, "gzip"))
			cfg->otlp_gzip = true;
		else if (strcasecmp(v, "none"))
			invalid(name, v, "is not gzip or none", "none");
	}
	cfg->otlp_certificate = parse_file(get, "CERTIFICATE");
	cfg->otlp_client_certificate = parse_file(get, "CLIENT_CERTIFICATE");
	cfg->otlp_client_key = parse_file(get, "CLIENT_KEY");
	if (!cfg->otlp_client_certificate != !cfg->otlp_client_key)
		op_warn("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY "
			"go together; only one is set");
}

static void parse_zipkin(struct op_config *cfg, op_getenv_fn get)
{
	const char *v = get_nonempty(get, "OTEL_EXPORTER_ZIPKIN_ENDPOINT");

	if (v && !valid_url(v)) {
		invalid_url("OTEL_EXPORTER_ZIPKIN_ENDPOINT", v, "is not an http(s) URL", DEFAULT_ZIPKIN_URL);
		v = NULL;
	}
	cfg->zipkin_url = strdup(v ? v : DEFAULT_ZIPKIN_URL);
	cfg->zipkin_timeout_ms = parse_int(get, "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
					   defaults.zipkin_timeout_ms, 1, INT32_MAX);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Copies [p, p + len) trimmed and percent-decoded into a new string. */
static char *decode(const char *p, size_t len)
{
	char *out, *o;

	while (len && isspace((unsigned char)*p))
		p++, len--;
	while (len && isspace((unsigned char)p[len - 1]))
		len--;
	out = o = malloc(len + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '%') {
			*o++ = p[i];
			continue;
		}
		if (i + 2 >= len) {
			free(out);
			return NULL;
		}
		int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

int op_kv_list_parse(const char *list,
		     int (*each)(void *arg, const char *key, const char *value),
		     void *arg)
{
	const char *p, *e, *eq;

	for (p = list; *p; p = *e ? e + 1 : e) {
		char *key, *value;
		int rc;

		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		if (!eq) {
			/* An empty member (",," or a trailing comma) is harmless. */
			for (const char *q = p; q < e; q++)
				if (!isspace((unsigned char)*q))
					return -1;
			continue;
		}
		key = decode(p, (size_t)(eq - p));
		value = decode(eq + 1, (size_t)(e - eq - 1));
		rc = key && value && *key ? each(arg, key, value) : -1;
		free(key);
		free(value);
		if (rc)
			return -1;
	}
	return 0;
}

static int add_header(void *arg, const char *key, const char *value)
{
	struct op_config *cfg = arg;
	unsigned i;

	for (const char *k = key; *k; k++)
		if (*k <= ' ' || *k == ':' || *k == 0x7f)
			return -1;
	for (const char *v = value; *v; v++)
		if (*v == '\r' || *v == '\n')
			return -1;
	for (i = 0; i < cfg->otlp_header_count; i++)
		if (!strcasecmp(cfg->otlp_headers[i].name, key))
			break;
	if (i == OP_MAX_HEADERS)
		return -1;
	if (i == cfg->otlp_header_count) {
		cfg->otlp_headers[i].name = strdup(key);
		cfg->otlp_headers[i].value = NULL;
		if (!cfg->otlp_headers[i].name)
			return -1;
		cfg->otlp_header_count++;
	}
	free(cfg->otlp_headers[i].value);
	cfg->otlp_headers[i].value = strdup(value);
	return cfg->otlp_headers[i].value ? 0 : -1;
}

static void clear_headers(struct op_config *cfg, unsigned from)
{
	for (unsigned i = from; i < cfg->otlp_header_count; i++) {
		free(cfg->otlp_headers[i].name);
		free(cfg->otlp_headers[i].value);
		cfg->otlp_headers[i].name = cfg->otlp_headers[i].value = NULL;
	}
	if (from < cfg->otlp_header_count)
		cfg->otlp_header_count = from;
}

/*
 * Generic headers first, then the traces-specific ones, which win for the
 * same name. A malformed list is dropped whole; its values are secrets
 * (API keys), so the warning never shows them.
 */
static void parse_headers(struct op_config *cfg, op_getenv_fn get)
{
	static const char *const names[] = {
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	};

	for (size_t i = 0; i < 2; i++) {
		const char *v = get_nonempty(get, names[i]);
		struct op_config list = { 0 };

		if (!v)
			continue;
		if (op_kv_list_parse(v, add_header, &list) == 0) {
			for (unsigned j = 0; j < list.otlp_header_count; j++)
				add_header(cfg, list.otlp_headers[j].name, list.otlp_headers[j].value);
		} else {
			op_warn("%s is not a valid list of name=value pairs (values not shown); ignored",
				names[i]);
		}
		clear_headers(&list, 0);
	}
}

/*
 * A comma list into a NULL-terminated array, entries trimmed, empty ones
 * skipped. `check` rejects an entry (reported, the others are kept).
 */
static char **parse_list(op_getenv_fn get, const char *name, const char *(*check)(const char *))
{
	const char *v = get_nonempty(get, name), *rest = v, *p;
	size_t n = 0, cap = 0, len;
	char **list = NULL;

	if (!v)
		return NULL;
	while ((p = op_list_next(&rest, &len))) {
		const char *why;
		char *item;

		if (!len || !(item = strndup(p, len)))
			continue;
		if ((why = check(item))) {
			/* The warning is one line: control characters show as '?'. */
			for (char *c = item; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			op_warn("%s: %.*s %s; ignored", name, OP_WARN_VALUE_MAX, item, why);
			free(item);
			continue;
		}
		if (n + 2 > cap) {
			char **grown = realloc(list, (cap = cap ? cap * 2 : 4) * sizeof *list);

			if (!grown) {
				free(item);
				break;
			}
			list = grown;
		}
		list[n++] = item;
		list[n] = NULL;
	}
	return list;
}

static void free_list(char **list)
{
	for (char **p = list; p && *p; p++)
		free(*p);
	free(list);
}

static const char *check_path(const char *s)
{
	return s[0] == '/' ? NULL : "does not start with /";
}

static const char *check_glob(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "has a control character";
	return NULL;
}

/* '*' matches any run of characters, everything else itself. */
static bool glob_match(const char *g, const char *s, size_t len)
{
	const char *star = NULL, *resume = NULL, *end = s + len;

	while (s < end) {
		if (*g == '*') {
			star = ++g;
			resume = s;
		} else if (*g && *g == *s) {
			g++;
			s++;
		} else if (star) {
			g = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

bool op_config_ignored(const struct op_config *cfg, const char *path, size_t plen,
		       const char *ua, size_t ualen)
{
	for (char **p = cfg->ignore_paths; p && *p; p++) {
		size_t l = strlen(*p);

		if (plen >= l && !memcmp(path, *p, l))
			return true;
	}
	for (char **g = cfg->ignore_user_agents; ua && g && *g; g++)
		if (glob_match(*g, ua, ualen))
			return true;
	return false;
}

/*
 * A relative path made absolute against the current directory when the
 * configuration is read (the first span): a daemon that changes directory
 * later, or its forked children, must not scatter spans over several
 * files.
 */
static char *absolute_path(const char *path)
{
	char *cwd, *abs;

	if (path[0] == '/' || !(cwd = getcwd(NULL, 0)))
		return strdup(path);
	if (asprintf(&abs, "%s/%s", cwd, path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

void op_config_parse(struct op_config *cfg, op_getenv_fn get)
{
	const char *v;
	int64_t limit;

	*cfg = defaults;
	cfg->sdk_disabled = parse_bool(get, "OTEL_SDK_DISABLED", false);
	cfg->process_span = parse_bool(get, "OTELPRELOAD_PROCESS_SPAN", false);
	cfg->process_command_line = parse_bool(get, "OTELPRELOAD_PROCESS_COMMAND_LINE", false);
	cfg->ignore_paths = parse_list(get, "OTELPRELOAD_IGNORE_PATHS", check_path);
	cfg->ignore_user_agents = parse_list(get, "OTELPRELOAD_IGNORE_USER_AGENTS", check_glob);
	parse_propagators(cfg, get);
	parse_code(cfg, get);
	if (get("OTELPRELOAD_FORWARD_HEADERS")) {
		cfg->forward_headers = parse_list(get, "OTELPRELOAD_FORWARD_HEADERS", check_header_name);
	} else if ((cfg->forward_headers = calloc(2, sizeof *cfg->forward_headers))) {
		/* What Envoy (Istio) and Pipy (osm-edge) join their hops with. */
		cfg->forward_headers[0] = strdup("x-request-id");
	}
	for (char **h = cfg->forward_headers; h && *h; h++)
		for (char *c = *h; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');

	if ((v = get_nonempty(get, "OTEL_SERVICE_NAME")))
		cfg->service_name = strdup(v);
	if ((v = get("OTEL_RESOURCE_ATTRIBUTES")))
		cfg->resource_attributes = strdup(v);

	parse_sampler(cfg, get);
	parse_exporters(cfg, get);

	cfg->bsp_schedule_delay_ms = parse_int(get, "OTEL_BSP_SCHEDULE_DELAY",
					       defaults.bsp_schedule_delay_ms, 0, INT32_MAX);
	cfg->bsp_export_timeout_ms = parse_int(get, "OTEL_BSP_EXPORT_TIMEOUT",
					       defaults.bsp_export_timeout_ms, 1, INT32_MAX);
	cfg->bsp_max_queue_size = (uint32_t)parse_int(get, "OTEL_BSP_MAX_QUEUE_SIZE",
						      defaults.bsp_max_queue_size, 1, 1 << 24);
	cfg->bsp_max_export_batch = (uint32_t)parse_int(get, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
							defaults.bsp_max_export_batch, 1, 1 << 24);
	if (cfg->bsp_max_export_batch > cfg->bsp_max_queue_size) {
		/*
		 * The specification requires batch <= queue; the queue size wins.
		 * Only a batch size the user chose is worth a warning: the default
		 * one is simply lowered with a small queue.
		 */
		if (get_nonempty(get, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"))
			op_warn("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%u is larger than OTEL_BSP_MAX_QUEUE_SIZE=%u; using %u",
				cfg->bsp_max_export_batch, cfg->bsp_max_queue_size,
				cfg->bsp_max_queue_size);
		cfg->bsp_max_export_batch = cfg->bsp_max_queue_size;
	}

	limit = parse_int(get, "OTEL_ATTRIBUTE_COUNT_LIMIT", defaults.attr_count_limit, 0, INT32_MAX);
	cfg->attr_count_limit = (uint32_t)parse_int(get, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
						    limit, 0, INT32_MAX);
	limit = parse_int(get, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", UINT32_MAX, 0, UINT32_MAX);
	cfg->attr_value_len_limit = (uint32_t)parse_int(get, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
							limit, 0, UINT32_MAX);

	parse_otlp(cfg, get);
	parse_zipkin(cfg, get);
	/*
	 * OTELPRELOAD_FILE adds the file exporter; alone (no
	 * OTEL_TRACES_EXPORTER) it is the only one, so an ad hoc run does not
	 * also try a collector that is not there.
	 */
	if ((v = get_nonempty(get, "OTELPRELOAD_FILE"))) {
		cfg->file_path = absolute_path(v);
		if (!get_nonempty(get, "OTEL_TRACES_EXPORTER"))
			cfg->exporters = 0;
		if (cfg->file_path)
			cfg->exporters |= OP_EXPORTER_FILE;
	}
}

void op_config_free(struct op_config *cfg)
{
	free(cfg->service_name);
	free(cfg->resource_attributes);
	free(cfg->otlp_traces_url);
	clear_headers(cfg, 0);
	free(cfg->otlp_certificate);
	free(cfg->otlp_client_certificate);
	free(cfg->otlp_client_key);
	free(cfg->zipkin_url);
	free(cfg->file_path);
	free_list(cfg->ignore_paths);
	free_list(cfg->ignore_user_agents);
	free_list(cfg->forward_headers);
	*cfg = defaults;
}
