#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "op.h"
#include "resource.h"

/* Resource attributes are not subject to the span limits. */
#define NO_LIMIT UINT32_MAX

static int add_attr(void *arg, const char *key, const char *value)
{
	return op_attrs_set_str(arg, key, value, strlen(value));
}

/* Basename of the executable, from /proc (argv[0] can be anything). */
void op_exe_basename(char *out, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	const char *base;

	n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0) {
		snprintf(out, size, "%s", program_invocation_short_name);
		return;
	}
	path[n] = '\0';
	base = strrchr(path, '/');
	snprintf(out, size, "%s", base ? base + 1 : path);
}

void op_resource_build(struct op_resource *res, const struct op_config *cfg,
		       const char *exe_name, const char *host_name, long pid)
{
	char exe[256], host[256], buf[300];
	struct op_attrs parsed;
	int saved = errno;

	op_attrs_init(&res->attrs, NO_LIMIT, NO_LIMIT);
	if (!exe_name) {
		op_exe_basename(exe, sizeof exe);
		exe_name = exe;
	}
	if (!host_name) {
		if (gethostname(host, sizeof host) != 0)
			host[0] = '\0';
		host[sizeof host - 1] = '\0';
		host_name = host;
	}

	/*
	 * OTEL_RESOURCE_ATTRIBUTES is parsed into a scratch list first: the
	 * specification discards a malformed value whole, never in part.
	 */
	op_attrs_init(&parsed, NO_LIMIT, NO_LIMIT);
	if (cfg->resource_attributes &&
	    op_kv_list_parse(cfg->resource_attributes, add_attr, &parsed) != 0) {
		op_warn("OTEL_RESOURCE_ATTRIBUTES is not a valid list of key=value pairs; ignored");
		op_attrs_free(&parsed);
		op_attrs_init(&parsed, NO_LIMIT, NO_LIMIT);
	}

	if (cfg->service_name) {
		op_attrs_set_str(&res->attrs, "service.name", cfg->service_name,
				 strlen(cfg->service_name));
	} else if (!op_attrs_get(&parsed, "service.name")) {
		snprintf(buf, sizeof buf, "unknown_service:%s", exe_name);
		op_attrs_set_str(&res->attrs, "service.name", buf, strlen(buf));
	}
	for (uint32_t i = 0; i < parsed.n; i++) {
		if (cfg->service_name && !strcmp(parsed.v[i].key, "service.name"))
			continue;
		op_attrs_set_str(&res->attrs, parsed.v[i].key, parsed.v[i].v.s,
				 strlen(parsed.v[i].v.s));
	}
	op_attrs_free(&parsed);

	/* Detected attributes do not override what the user set. */
	if (!op_attrs_get(&res->attrs, "process.pid"))
		op_attrs_set_int(&res->attrs, "process.pid", pid);
	if (!op_attrs_get(&res->attrs, "process.executable.name"))
		op_attrs_set_str(&res->attrs, "process.executable.name", exe_name, strlen(exe_name));
	if (*host_name && !op_attrs_get(&res->attrs, "host.name"))
		op_attrs_set_str(&res->attrs, "host.name", host_name, strlen(host_name));
	op_attrs_set_str(&res->attrs, "telemetry.sdk.name", "otelpreload", strlen("otelpreload"));
	/* C is not in the semantic conventions' list of languages; cpp is nearest. */
	op_attrs_set_str(&res->attrs, "telemetry.sdk.language", "cpp", strlen("cpp"));
	op_attrs_set_str(&res->attrs, "telemetry.sdk.version", OP_VERSION, strlen(OP_VERSION));
	errno = saved;
}

void op_resource_free(struct op_resource *res)
{
	op_attrs_free(&res->attrs);
}
