#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "config.h"
#include "engine.h"
#include "real.h"
#include "op.h"
#include "sdk.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Written once inside init_once; pthread_once orders it for readers. */
static bool enabled;

static const char *sampler_name(enum op_sampler s)
{
	static const char *const names[] = {
		"always_on", "always_off", "traceidratio", "parentbased_always_on",
		"parentbased_always_off", "parentbased_traceidratio",
	};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* The snapshot: written by the constructor, read-only afterwards. */
static char **snapshot;
static size_t snapshot_len;
static bool snapshot_taken;

void op_sdk_env_snapshot(void)
{
	size_t n = 0, i = 0;

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, "OTEL_", 5) || !strncmp(*e, "OTELPRELOAD_", 12))
			n++;
	snapshot = n ? calloc(n, sizeof *snapshot) : NULL;
	for (char **e = environ; snapshot && e && *e && i < n; e++)
		if (!strncmp(*e, "OTEL_", 5) || !strncmp(*e, "OTELPRELOAD_", 12))
			if ((snapshot[i] = strdup(*e)))
				i++;
	snapshot_len = i;
	snapshot_taken = true;
}

static const char *env(const char *name)
{
	size_t len = strlen(name);

	/* Unit tests and hosts whose constructor order skipped ours: the live environment. */
	if (!snapshot_taken)
		return getenv(name);
	for (size_t i = 0; i < snapshot_len; i++)
		if (!strncmp(snapshot[i], name, len) && snapshot[i][len] == '=')
			return snapshot[i] + len + 1;
	return NULL;
}

/*
 * Programs such as ls close stderr in an atexit handler, before our exit
 * flush writes the console lines. A close-on-exec copy taken with the
 * first span survives that. It goes high in the fd space, so the host's
 * own fds keep the numbers they would get without us (open() returns the
 * lowest free number). A daemon that later closes every fd takes it too;
 * the console exporter then falls back to fd 2.
 */
static int private_stderr(void)
{
	struct rlimit rl;
	long want = 768;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long)rl.rlim_cur * 3 / 4 < want)
		want = (long)rl.rlim_cur * 3 / 4;
	if (want < 3)
		want = 3;
	fd = REAL(fcntl)(2, F_DUPFD_CLOEXEC, (void *)want);
	return fd;
}

static const char *const protocol_names[] = {
	[OP_OTLP_HTTP_PROTOBUF] = "http/protobuf",
	[OP_OTLP_HTTP_JSON] = "http/json",
	[OP_OTLP_GRPC] = "grpc",
};

/*
 * An endpoint as the debug log shows it: userinfo redacted and no query or
 * fragment, since either may hold a credential.
 */
static const char *shown_endpoint(const char *url, char *buf, size_t cap)
{
	if (!url)
		return "-";
	op_http_redact_url(url, buf, cap);
	buf[strcspn(buf, "?#")] = '\0';
	return buf;
}

/* One debug line with what the environment configured (never header values). */
static void log_config(void)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} exps[] = {
		{ OP_EXPORTER_OTLP, "otlp" }, { OP_EXPORTER_CONSOLE, "console" },
		{ OP_EXPORTER_ZIPKIN, "zipkin" }, { OP_EXPORTER_FILE, "file" },
	};
	char names[64] = "", shown[512];
	size_t i;

	for (i = 0; i < sizeof exps / sizeof exps[0]; i++)
		if (op_cfg.exporters & exps[i].bit)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
				 names[0] ? "," : "", exps[i].name);
	op_debug("loaded %s: sampler=%s ratio=%g exporters=%s "
		 "bsp(delay=%lldms timeout=%lldms queue=%u batch=%u) "
		 "attribute limits(count=%u length=%lld)",
		 OP_VERSION, sampler_name(op_cfg.sampler), op_cfg.sampler_ratio,
		 names[0] ? names : "none",
		 (long long)op_cfg.bsp_schedule_delay_ms, (long long)op_cfg.bsp_export_timeout_ms,
		 op_cfg.bsp_max_queue_size, op_cfg.bsp_max_export_batch, op_cfg.attr_count_limit,
		 op_cfg.attr_value_len_limit == UINT32_MAX ? -1LL : (long long)op_cfg.attr_value_len_limit);
	if (op_cfg.exporters & OP_EXPORTER_OTLP)
		op_debug("otlp: protocol=%s endpoint=%s headers=%u timeout=%lldms compression=%s%s%s",
			 protocol_names[op_cfg.otlp_protocol],
			 shown_endpoint(op_cfg.otlp_traces_url, shown, sizeof shown),
			 op_cfg.otlp_header_count, (long long)op_cfg.otlp_timeout_ms,
			 op_cfg.otlp_gzip ? "gzip" : "none",
			 op_cfg.otlp_certificate ? " ca=" : "",
			 op_cfg.otlp_certificate ? op_cfg.otlp_certificate : "");
	if (op_cfg.exporters & OP_EXPORTER_ZIPKIN)
		op_debug("zipkin: endpoint=%s timeout=%lldms",
			 shown_endpoint(op_cfg.zipkin_url, shown, sizeof shown),
			 (long long)op_cfg.zipkin_timeout_ms);
	if (op_cfg.exporters & OP_EXPORTER_FILE)
		op_debug("file: %s", op_cfg.file_path);
}

static void init(void)
{
	/* Parsing numbers sets errno; the caller is a hook inside the application's call. */
	int saved = errno;

	OP_GUARD_ENTER();
	op_config_parse(&op_cfg, env);
	enabled = !op_cfg.sdk_disabled && !op_disabled;
	if (enabled && (op_cfg.exporters & OP_EXPORTER_CONSOLE))
		op_cfg.console_fd = private_stderr();
	if (op_log_level >= OP_LOG_DEBUG)
		log_config();
	OP_GUARD_LEAVE();
	errno = saved;
}

void op_sdk_init(void)
{
	pthread_once(&init_once, init);
}

bool op_sdk_enabled(void)
{
	return enabled && !op_disabled;
}
