/*
 * Configuration parsing against the OpenTelemetry SDK environment variable
 * specification: defaults, every invalid value falling back to its default
 * with one warning, exporter lists, endpoint path rules, headers, limits.
 */
#include <stdint.h>
#include <string.h>

#include "preload/config.h"
#include "preload/op.h"

#include "cu.h"
#include "fakeenv.h"

static struct op_config cfg;
static int have_cfg;
static const char *warnings;

/* Parses the fake environment into `cfg`; stderr output goes to `warnings`. */
static void parse(void)
{
	if (have_cfg)
		op_config_free(&cfg);
	memset(&cfg, 0xa5, sizeof cfg); /* no field may keep garbage */
	capture_begin();
	op_config_parse(&cfg, fake_getenv);
	warnings = capture_end();
	have_cfg = 1;
}

static void test_defaults(void)
{
	env_reset();
	parse();
	OP_ASSERT_STR(warnings, "");
	CU_ASSERT_FALSE(cfg.sdk_disabled);
	CU_ASSERT_PTR_NULL(cfg.service_name);
	CU_ASSERT_PTR_NULL(cfg.resource_attributes);
	OP_ASSERT_INT(cfg.sampler, OP_SAMPLER_PARENTBASED_ALWAYS_ON);
	CU_ASSERT_DOUBLE_EQUAL(cfg.sampler_ratio, 1.0, 1e-12);
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_OTLP);
	OP_ASSERT_INT(cfg.bsp_schedule_delay_ms, 5000);
	OP_ASSERT_INT(cfg.bsp_export_timeout_ms, 30000);
	OP_ASSERT_INT(cfg.bsp_max_queue_size, 2048);
	OP_ASSERT_INT(cfg.bsp_max_export_batch, 512);
	OP_ASSERT_INT(cfg.attr_count_limit, 128);
	OP_ASSERT_INT(cfg.attr_value_len_limit, UINT32_MAX);
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://localhost:4318/v1/traces");
	OP_ASSERT_INT(cfg.otlp_header_count, 0);
	OP_ASSERT_INT(cfg.otlp_timeout_ms, 10000);
}

/* The spec: an empty value is treated exactly like an unset one. */
static void test_empty_is_unset(void)
{
	static const char *const vars[] = {
		"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER",
		"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT",
		"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TIMEOUT",
		"OTEL_EXPORTER_OTLP_HEADERS",
	};
	size_t i;

	env_reset();
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		env_set(vars[i], "");
	parse();
	OP_ASSERT_STR(warnings, "");
	CU_ASSERT_FALSE(cfg.sdk_disabled);
	CU_ASSERT(cfg.service_name == NULL || cfg.service_name[0] == '\0');
	OP_ASSERT_INT(cfg.sampler, OP_SAMPLER_PARENTBASED_ALWAYS_ON);
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_OTLP);
	OP_ASSERT_INT(cfg.bsp_schedule_delay_ms, 5000);
	OP_ASSERT_INT(cfg.bsp_max_queue_size, 2048);
	OP_ASSERT_INT(cfg.attr_count_limit, 128);
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://localhost:4318/v1/traces");
	OP_ASSERT_INT(cfg.otlp_timeout_ms, 10000);
}

static void test_valid_values(void)
{
	env_reset();
	env_set("OTEL_SDK_DISABLED", "TRUE");
	env_set("OTEL_SERVICE_NAME", "checkout");
	env_set("OTEL_RESOURCE_ATTRIBUTES", "a=1,b=2");
	env_set("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
	env_set("OTEL_TRACES_SAMPLER_ARG", "0.25");
	env_set("OTEL_BSP_SCHEDULE_DELAY", "250");
	env_set("OTEL_BSP_EXPORT_TIMEOUT", "2000");
	env_set("OTEL_BSP_MAX_QUEUE_SIZE", "100");
	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50");
	env_set("OTEL_EXPORTER_OTLP_TIMEOUT", "1500");
	parse();
	OP_ASSERT_STR(warnings, "");
	CU_ASSERT_TRUE(cfg.sdk_disabled);
	OP_ASSERT_STR(cfg.service_name, "checkout");
	OP_ASSERT_STR(cfg.resource_attributes, "a=1,b=2");
	OP_ASSERT_INT(cfg.sampler, OP_SAMPLER_PARENTBASED_TRACEIDRATIO);
	CU_ASSERT_DOUBLE_EQUAL(cfg.sampler_ratio, 0.25, 1e-12);
	OP_ASSERT_INT(cfg.bsp_schedule_delay_ms, 250);
	OP_ASSERT_INT(cfg.bsp_export_timeout_ms, 2000);
	OP_ASSERT_INT(cfg.bsp_max_queue_size, 100);
	OP_ASSERT_INT(cfg.bsp_max_export_batch, 50);
	OP_ASSERT_INT(cfg.otlp_timeout_ms, 1500);
}

static void test_sdk_disabled_values(void)
{
	static const struct { const char *v; bool want; } cases[] = {
		{ "true", true }, { "True", true }, { "false", false },
		{ "FALSE", false },
		/* Only "true" is true (spec); anything else is false. */
		{ "1", false }, { "yes", false },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		env_set("OTEL_SDK_DISABLED", cases[i].v);
		parse();
		OP_ASSERT_INT(cfg.sdk_disabled, cases[i].want);
	}
}

static void test_samplers(void)
{
	static const struct { const char *v; enum op_sampler want; } cases[] = {
		{ "always_on", OP_SAMPLER_ALWAYS_ON },
		{ "always_off", OP_SAMPLER_ALWAYS_OFF },
		{ "traceidratio", OP_SAMPLER_TRACEIDRATIO },
		{ "parentbased_always_on", OP_SAMPLER_PARENTBASED_ALWAYS_ON },
		{ "parentbased_always_off", OP_SAMPLER_PARENTBASED_ALWAYS_OFF },
		{ "parentbased_traceidratio", OP_SAMPLER_PARENTBASED_TRACEIDRATIO },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		env_set("OTEL_TRACES_SAMPLER", cases[i].v);
		parse();
		OP_ASSERT_STR(warnings, "");
		OP_ASSERT_INT(cfg.sampler, cases[i].want);
	}
}

static void test_sampler_arg(void)
{
	static const struct { const char *v; double want; } cases[] = {
		{ "0", 0.0 }, { "1", 1.0 }, { "0.5", 0.5 }, { "1e-1", 0.1 },
		/* Invalid: default 1.0. */
		{ "1.5", 1.0 }, { "-0.1", 1.0 }, { "abc", 1.0 }, { "0.5x", 1.0 },
		{ "nan", 1.0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		env_set("OTEL_TRACES_SAMPLER", "traceidratio");
		env_set("OTEL_TRACES_SAMPLER_ARG", cases[i].v);
		parse();
		CU_ASSERT_DOUBLE_EQUAL(cfg.sampler_ratio, cases[i].want, 1e-12);
		if (cfg.sampler_ratio != cases[i].want)
			fprintf(stderr, "\nOTEL_TRACES_SAMPLER_ARG=%s gave %g\n", cases[i].v,
				cfg.sampler_ratio);
	}
}

/*
 * Every invalid value: the default is used and exactly one warning line
 * names the variable and the value.
 */
static void test_invalid_values_fall_back(void)
{
	static const struct { const char *var, *val; } cases[] = {
		{ "OTEL_TRACES_SAMPLER", "sometimes" },
		{ "OTEL_TRACES_EXPORTER", "zipkin2000" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "abc" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "-5" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "12ms" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", "soon" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", "-1" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "abc" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "0" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "-3" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999999" },
		{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many" },
		{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0" },
		{ "OTEL_ATTRIBUTE_COUNT_LIMIT", "lots" },
		{ "OTEL_ATTRIBUTE_COUNT_LIMIT", "-1" },
		{ "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "long" },
		{ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x1" },
		{ "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1.5" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "ten" },
		{ "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-10" },
		{ "OTEL_TRACES_SAMPLER_ARG", "2" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		if (!strcmp(cases[i].var, "OTEL_TRACES_SAMPLER_ARG"))
			env_set("OTEL_TRACES_SAMPLER", "traceidratio");
		env_set(cases[i].var, cases[i].val);
		parse();
		if (count_lines(warnings) != 1 || !strstr(warnings, cases[i].var) ||
		    !strstr(warnings, cases[i].val) || strncmp(warnings, "otelpreload: ", 13))
			fprintf(stderr, "\n%s=%s warned \"%s\"\n", cases[i].var, cases[i].val,
				warnings);
		OP_ASSERT_INT(count_lines(warnings), 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(warnings, cases[i].var));
		CU_ASSERT_PTR_NOT_NULL(strstr(warnings, cases[i].val));
		CU_ASSERT_EQUAL(strncmp(warnings, "otelpreload: ", 13), 0);

		OP_ASSERT_INT(cfg.sampler, !strcmp(cases[i].var, "OTEL_TRACES_SAMPLER_ARG") ?
			      OP_SAMPLER_TRACEIDRATIO : OP_SAMPLER_PARENTBASED_ALWAYS_ON);
		OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_OTLP);
		OP_ASSERT_INT(cfg.bsp_schedule_delay_ms, 5000);
		OP_ASSERT_INT(cfg.bsp_export_timeout_ms, 30000);
		OP_ASSERT_INT(cfg.bsp_max_queue_size, 2048);
		OP_ASSERT_INT(cfg.bsp_max_export_batch, 512);
		OP_ASSERT_INT(cfg.attr_count_limit, 128);
		OP_ASSERT_INT(cfg.attr_value_len_limit, UINT32_MAX);
		OP_ASSERT_INT(cfg.otlp_timeout_ms, 10000);
		CU_ASSERT_DOUBLE_EQUAL(cfg.sampler_ratio, 1.0, 1e-12);
	}
}

static void test_exporters(void)
{
	static const struct { const char *v; uint32_t want; } cases[] = {
		{ "otlp", OP_EXPORTER_OTLP },
		{ "console", OP_EXPORTER_CONSOLE },
		{ "otlp,console", OP_EXPORTER_OTLP | OP_EXPORTER_CONSOLE },
		{ "console,otlp", OP_EXPORTER_OTLP | OP_EXPORTER_CONSOLE },
		{ " otlp , console ", OP_EXPORTER_OTLP | OP_EXPORTER_CONSOLE },
		{ "console,console", OP_EXPORTER_CONSOLE },
		{ "zipkin", OP_EXPORTER_ZIPKIN },
		{ "otlp,zipkin", OP_EXPORTER_OTLP | OP_EXPORTER_ZIPKIN },
		{ "none", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		env_set("OTEL_TRACES_EXPORTER", cases[i].v);
		parse();
		if (cfg.exporters != cases[i].want)
			fprintf(stderr, "\nOTEL_TRACES_EXPORTER=\"%s\"\n", cases[i].v);
		OP_ASSERT_INT(cfg.exporters, cases[i].want);
		OP_ASSERT_STR(warnings, "");
	}

	/* An unknown name is reported; otlp, named next to it, stays on. */
	env_reset();
	env_set("OTEL_TRACES_EXPORTER", "otlp,bogus");
	parse();
	CU_ASSERT(cfg.exporters & OP_EXPORTER_OTLP);
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "bogus"));
}

static void test_traces_url(void)
{
	static const struct { const char *generic, *specific, *want; } cases[] = {
		{ "http://collector:4318", NULL, "http://collector:4318/v1/traces" },
		{ "http://collector:4318/", NULL, "http://collector:4318/v1/traces" },
		{ "https://c.example:443/prefix", NULL, "https://c.example:443/prefix/v1/traces" },
		{ "https://c.example:443/prefix/", NULL, "https://c.example:443/prefix/v1/traces" },
		{ NULL, "http://collector:4318", "http://collector:4318" },
		{ NULL, "http://collector:4318/custom/path", "http://collector:4318/custom/path" },
		{ NULL, "http://collector:4318/custom/", "http://collector:4318/custom/" },
		{ "http://generic:1", "http://specific:2/x", "http://specific:2/x" },
	};
	size_t i;
	char *url;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		url = op_config_traces_url(cases[i].generic, cases[i].specific);
		OP_ASSERT_STR(url, cases[i].want);
		free(url);
	}
	CU_ASSERT_PTR_NULL(op_config_traces_url(NULL, NULL));
}

static void test_endpoint_variables(void)
{
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/");
	parse();
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://127.0.0.1:9/v1/traces");

	env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:10/t");
	parse();
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://127.0.0.1:10/t");

	env_reset();
	env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:11");
	parse();
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://127.0.0.1:11");
	OP_ASSERT_STR(warnings, "");
}

static const char *header(const char *name)
{
	unsigned i;

	for (i = 0; i < cfg.otlp_header_count; i++)
		if (!strcmp(cfg.otlp_headers[i].name, name))
			return cfg.otlp_headers[i].value;
	return NULL;
}

static void test_headers(void)
{
	char many[33 * 8 + 1];
	int i, n = 0;

	env_reset();
	env_set("OTEL_EXPORTER_OTLP_HEADERS",
		"api-key=secret%20value, x-tenant = a%2Cb%3Dc ,authorization=Basic%20dTpw");
	parse();
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(cfg.otlp_header_count, 3);
	OP_ASSERT_STR(header("api-key"), "secret value");
	OP_ASSERT_STR(header("x-tenant"), "a,b=c");
	OP_ASSERT_STR(header("authorization"), "Basic dTpw");

	/*
	 * The signal-specific variable adds to the generic one and wins for
	 * a name both set (header names compare case-insensitively).
	 */
	env_set("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-only=traces,API-KEY=specific");
	parse();
	OP_ASSERT_INT(cfg.otlp_header_count, 4);
	OP_ASSERT_STR(header("x-only"), "traces");
	OP_ASSERT_STR(header("x-tenant"), "a,b=c");
	CU_ASSERT(header("api-key") != NULL || header("API-KEY") != NULL);
	OP_ASSERT_STR(header("api-key") ? header("api-key") : header("API-KEY"), "specific");

	/* Malformed: discarded whole, reported once. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_HEADERS", "good=1,broken");
	parse();
	OP_ASSERT_INT(cfg.otlp_header_count, 0);
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTEL_EXPORTER_OTLP_HEADERS"));

	env_set("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz");
	parse();
	OP_ASSERT_INT(cfg.otlp_header_count, 0);
	OP_ASSERT_INT(count_lines(warnings), 1);

	/* Exactly the bound is accepted. */
	many[0] = '\0';
	for (i = 0; i < OP_MAX_HEADERS; i++)
		n += snprintf(many + n, sizeof many - (size_t)n, "%sh%02d=v", i ? "," : "", i);
	env_set("OTEL_EXPORTER_OTLP_HEADERS", many);
	parse();
	OP_ASSERT_INT(cfg.otlp_header_count, OP_MAX_HEADERS);
	OP_ASSERT_STR(header("h31"), "v");
	OP_ASSERT_STR(warnings, "");
}

static void test_timeouts(void)
{
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_TIMEOUT", "5000");
	parse();
	OP_ASSERT_INT(cfg.otlp_timeout_ms, 5000);
	env_set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3000");
	parse();
	OP_ASSERT_INT(cfg.otlp_timeout_ms, 3000);
}

static void test_attribute_limits(void)
{
	env_reset();
	env_set("OTEL_ATTRIBUTE_COUNT_LIMIT", "10");
	env_set("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64");
	parse();
	OP_ASSERT_INT(cfg.attr_count_limit, 10);
	OP_ASSERT_INT(cfg.attr_value_len_limit, 64);

	/* OTEL_SPAN_ATTRIBUTE_* override the general ones. */
	env_set("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20");
	env_set("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "32");
	parse();
	OP_ASSERT_INT(cfg.attr_count_limit, 20);
	OP_ASSERT_INT(cfg.attr_value_len_limit, 32);

	env_reset();
	env_set("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "7");
	parse();
	OP_ASSERT_INT(cfg.attr_count_limit, 7);
	OP_ASSERT_INT(cfg.attr_value_len_limit, UINT32_MAX);
	OP_ASSERT_STR(warnings, "");
}

static void test_batch_clamped_to_queue(void)
{
	env_reset();
	env_set("OTEL_BSP_MAX_QUEUE_SIZE", "100");
	parse();
	OP_ASSERT_INT(cfg.bsp_max_queue_size, 100);
	OP_ASSERT_INT(cfg.bsp_max_export_batch, 100);
	/* Only the queue was set: nothing the user wrote is wrong. */
	OP_ASSERT_STR(warnings, "");

	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1000");
	parse();
	OP_ASSERT_INT(cfg.bsp_max_export_batch, 100);
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"));

	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "99");
	parse();
	OP_ASSERT_INT(cfg.bsp_max_export_batch, 99);
}

/* op_kv_list_parse: pairs seen, in order, or -1 for a malformed list. */
struct kv_seen {
	int n;
	char keys[8][64];
	char values[8][64];
};

static int collect(void *arg, const char *key, const char *value)
{
	struct kv_seen *s = arg;

	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
		snprintf(s->values[s->n], sizeof s->values[0], "%s", value);
	}
	s->n++;
	return 0;
}

static void test_kv_list(void)
{
	struct kv_seen s;

	memset(&s, 0, sizeof s);
	OP_ASSERT_INT(op_kv_list_parse("a=1,b=2", collect, &s), 0);
	OP_ASSERT_INT(s.n, 2);
	OP_ASSERT_STR(s.keys[0], "a");
	OP_ASSERT_STR(s.values[0], "1");
	OP_ASSERT_STR(s.keys[1], "b");
	OP_ASSERT_STR(s.values[1], "2");

	memset(&s, 0, sizeof s);
	OP_ASSERT_INT(op_kv_list_parse("  key.one = v 1 ,\tk2=x%2Cy%3D%25 ", collect, &s), 0);
	OP_ASSERT_INT(s.n, 2);
	OP_ASSERT_STR(s.keys[0], "key.one");
	OP_ASSERT_STR(s.values[0], "v 1");
	OP_ASSERT_STR(s.keys[1], "k2");
	OP_ASSERT_STR(s.values[1], "x,y=%");

	memset(&s, 0, sizeof s);
	OP_ASSERT_INT(op_kv_list_parse("name=caf%C3%A9", collect, &s), 0);
	OP_ASSERT_STR(s.values[0], "caf\xc3\xa9");

	memset(&s, 0, sizeof s);
	OP_ASSERT_INT(op_kv_list_parse("", collect, &s), 0);
	OP_ASSERT_INT(s.n, 0);

	/* Malformed lists. */
	OP_ASSERT_INT(op_kv_list_parse("novalue", collect, &s), -1);
	OP_ASSERT_INT(op_kv_list_parse("a=1,novalue", collect, &s), -1);
	OP_ASSERT_INT(op_kv_list_parse("=v", collect, &s), -1);
	OP_ASSERT_INT(op_kv_list_parse("a=%zz", collect, &s), -1);
	OP_ASSERT_INT(op_kv_list_parse("a=%2", collect, &s), -1);
	OP_ASSERT_INT(op_kv_list_parse("a=1,b=%", collect, &s), -1);
}

static void test_protocols(void)
{
	static const struct {
		const char *generic, *specific;
		enum op_otlp_protocol want;
		int warnings;
	} cases[] = {
		{ NULL, NULL, OP_OTLP_HTTP_PROTOBUF, 0 },
		{ "http/protobuf", NULL, OP_OTLP_HTTP_PROTOBUF, 0 },
		{ "http/json", NULL, OP_OTLP_HTTP_JSON, 0 },
		{ "grpc", NULL, OP_OTLP_GRPC, 0 },
		/* The traces-specific variable wins. */
		{ "grpc", "http/json", OP_OTLP_HTTP_JSON, 0 },
		{ "http/json", "grpc", OP_OTLP_GRPC, 0 },
		/* Values are case-sensitive in the specification. */
		{ "GRPC", NULL, OP_OTLP_HTTP_PROTOBUF, 1 },
		{ "http", NULL, OP_OTLP_HTTP_PROTOBUF, 1 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		if (cases[i].generic)
			env_set("OTEL_EXPORTER_OTLP_PROTOCOL", cases[i].generic);
		if (cases[i].specific)
			env_set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", cases[i].specific);
		parse();
		OP_ASSERT_INT(cfg.otlp_protocol, cases[i].want);
		OP_ASSERT_INT(count_lines(warnings), cases[i].warnings);
	}
}

/* gRPC: default port 4317, no /v1/traces, the endpoint's path ignored, scheme-less endpoints. */
static void test_grpc_endpoints(void)
{
	static const struct {
		const char *generic, *specific, *insecure, *want;
	} cases[] = {
		{ NULL, NULL, NULL, "http://localhost:4317" },
		{ "http://collector:4317", NULL, NULL, "http://collector:4317" },
		{ "http://collector:4317/", NULL, NULL, "http://collector:4317" },
		{ "https://c.example/ignored/path", NULL, NULL, "https://c.example" },
		{ NULL, "http://specific:5317", NULL, "http://specific:5317" },
		{ "http://generic:1", "https://specific:2", NULL, "https://specific:2" },
		{ "collector:4317", NULL, NULL, "https://collector:4317" },
		{ "collector:4317", NULL, "true", "http://collector:4317" },
		{ "collector:4317", NULL, "false", "https://collector:4317" },
		/* INSECURE concerns scheme-less endpoints only. */
		{ "https://collector:4317", NULL, "true", "https://collector:4317" },
	};
	char want[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_reset();
		env_set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
		if (cases[i].generic)
			env_set("OTEL_EXPORTER_OTLP_ENDPOINT", cases[i].generic);
		if (cases[i].specific)
			env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", cases[i].specific);
		if (cases[i].insecure)
			env_set("OTEL_EXPORTER_OTLP_INSECURE", cases[i].insecure);
		parse();
		snprintf(want, sizeof want, "%s%s", cases[i].want,
			 "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
		OP_ASSERT_STR(cfg.otlp_traces_url, want);
		OP_ASSERT_STR(warnings, "");
	}
	/* A scheme without a host. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "http:///v1");
	parse();
	OP_ASSERT_STR(cfg.otlp_traces_url,
		      "http://localhost:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export");
	OP_ASSERT_INT(count_lines(warnings), 1);
		/* A scheme-less endpoint is no URL for OTLP/HTTP. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318");
	parse();
	OP_ASSERT_STR(cfg.otlp_traces_url, "http://localhost:4318/v1/traces");
	OP_ASSERT_INT(count_lines(warnings), 1);
}

static void test_compression_and_tls(void)
{
	env_reset();
	parse();
	CU_ASSERT_FALSE(cfg.otlp_gzip);
	CU_ASSERT_FALSE(cfg.otlp_insecure);
	CU_ASSERT_PTR_NULL(cfg.otlp_certificate);
	CU_ASSERT_PTR_NULL(cfg.otlp_client_certificate);
	CU_ASSERT_PTR_NULL(cfg.otlp_client_key);

	env_reset();
	env_set("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
	env_set("OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/null");
	env_set("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/dev/null");
	env_set("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/dev/null");
	parse();
	OP_ASSERT_STR(warnings, "");
	CU_ASSERT_TRUE(cfg.otlp_gzip);
	OP_ASSERT_STR(cfg.otlp_certificate, "/dev/null");
	OP_ASSERT_STR(cfg.otlp_client_certificate, "/dev/null");
	OP_ASSERT_STR(cfg.otlp_client_key, "/dev/null");

	/* The specific variable wins; "none" is valid; others are reported. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
	env_set("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none");
	parse();
	CU_ASSERT_FALSE(cfg.otlp_gzip);
	OP_ASSERT_STR(warnings, "");
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd");
	parse();
	CU_ASSERT_FALSE(cfg.otlp_gzip);
	OP_ASSERT_INT(count_lines(warnings), 1);

	/* A file that cannot be read is a configuration mistake worth one line. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem");
	parse();
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTEL_EXPORTER_OTLP_CERTIFICATE"));
	OP_ASSERT_STR(cfg.otlp_certificate, "/nonexistent/ca.pem");

	/* A client certificate without its key. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/dev/null");
	parse();
	OP_ASSERT_INT(count_lines(warnings), 1);

	env_reset();
	env_set("OTEL_EXPORTER_OTLP_INSECURE", "maybe");
	parse();
	CU_ASSERT_FALSE(cfg.otlp_insecure);
	OP_ASSERT_INT(count_lines(warnings), 1);
}

static void test_zipkin_and_file(void)
{
	env_reset();
	parse();
	OP_ASSERT_STR(cfg.zipkin_url, "http://localhost:9411/api/v2/spans");
	OP_ASSERT_INT(cfg.zipkin_timeout_ms, 10000);
	CU_ASSERT_PTR_NULL(cfg.file_path);

	env_reset();
	env_set("OTEL_TRACES_EXPORTER", "zipkin");
	env_set("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://zipkin:9411/api/v2/spans");
	env_set("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "2500");
	parse();
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_ZIPKIN);
	OP_ASSERT_STR(cfg.zipkin_url, "http://zipkin:9411/api/v2/spans");
	OP_ASSERT_INT(cfg.zipkin_timeout_ms, 2500);

	env_reset();
	env_set("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "zipkin:9411");
	parse();
	OP_ASSERT_STR(cfg.zipkin_url, "http://localhost:9411/api/v2/spans");
	OP_ASSERT_INT(count_lines(warnings), 1);

	/* Alone, the file replaces the default OTLP exporter... */
	env_reset();
	env_set("OTELPRELOAD_FILE", "/tmp/spans.jsonl");
	parse();
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_FILE);
	OP_ASSERT_STR(cfg.file_path, "/tmp/spans.jsonl");
	/* ...and is added to exporters named explicitly, even to none. */
	env_set("OTEL_TRACES_EXPORTER", "otlp");
	parse();
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_FILE | OP_EXPORTER_OTLP);
	env_set("OTEL_TRACES_EXPORTER", "none");
	parse();
	OP_ASSERT_INT(cfg.exporters, OP_EXPORTER_FILE);
}

static CU_TestInfo tests[] = {
	{ "defaults", test_defaults },
	{ "empty values are unset", test_empty_is_unset },
	{ "valid values", test_valid_values },
	{ "OTEL_SDK_DISABLED", test_sdk_disabled_values },
	{ "OTEL_TRACES_SAMPLER", test_samplers },
	{ "OTEL_TRACES_SAMPLER_ARG", test_sampler_arg },
	{ "invalid values fall back with one warning", test_invalid_values_fall_back },
	{ "OTEL_TRACES_EXPORTER", test_exporters },
	{ "traces URL path rules", test_traces_url },
	{ "endpoint variables", test_endpoint_variables },
	{ "OTLP headers", test_headers },
	{ "OTLP timeouts", test_timeouts },
	{ "attribute limits", test_attribute_limits },
	{ "batch size clamped to queue size", test_batch_clamped_to_queue },
	{ "op_kv_list_parse", test_kv_list },
	{ "OTLP protocols", test_protocols },
	{ "OTLP/gRPC endpoints", test_grpc_endpoints },
	{ "OTLP compression and TLS files", test_compression_and_tls },
	{ "Zipkin and file exporters", test_zipkin_and_file },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	int rc = op_cu_run("config", tests);

	if (have_cfg)
		op_config_free(&cfg);
	return rc;
}
