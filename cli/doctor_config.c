/*
 * otelpreload doctor: the configuration the target would run with, read
 * by the library's own parser (preload/config.c, linked from op_sdk) so
 * that a value the library would reject is reported in its own words,
 * and a TCP connection to the OTLP endpoint it would export to.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "doctor_checks.h"
#include "../preload/op.h"

/* The reachability probe: one budget for every address of the endpoint. */
#define CONNECT_TIMEOUT_MS 1000

const char *op_doc_sampler_name(enum op_sampler s)
{
	static const char *const names[] = {
		[OP_SAMPLER_ALWAYS_ON] = "always_on",
		[OP_SAMPLER_ALWAYS_OFF] = "always_off",
		[OP_SAMPLER_TRACEIDRATIO] = "traceidratio",
		[OP_SAMPLER_PARENTBASED_ALWAYS_ON] = "parentbased_always_on",
		[OP_SAMPLER_PARENTBASED_ALWAYS_OFF] = "parentbased_always_off",
		[OP_SAMPLER_PARENTBASED_TRACEIDRATIO] = "parentbased_traceidratio",
	};

	return names[s];
}

const char *const op_doc_protocol_names[] = {
	[OP_OTLP_HTTP_PROTOBUF] = "http/protobuf",
	[OP_OTLP_HTTP_JSON] = "http/json",
	[OP_OTLP_GRPC] = "grpc",
};

/* An endpoint as the library's debug log shows it: no userinfo, query or fragment. */
static void shown_url(const char *url, char *out, size_t cap)
{
	const char *auth = strstr(url, "://"), *at = NULL, *end;

	auth = auth ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	snprintf(out, cap, "%.*s%s%.*s", (int)(auth - url), url, at ? "REDACTED:REDACTED@" : "",
		 (int)strcspn(at ? at + 1 : auth, "?#"), at ? at + 1 : auth);
}

/* service.name from OTEL_RESOURCE_ATTRIBUTES, read with the library's list parser. */
static int find_service(void *arg, const char *key, const char *value)
{
	if (!strcmp(key, "service.name"))
		snprintf(arg, SERVICE_MAX, "%s", value);
	return 0;
}

/*
 * Runs the library's parser over the target's environment with fd 2
 * pointed at a temporary file, so that its warnings (written straight to
 * fd 2 by op_log) become findings.
 */
void op_doc_check_config(struct doctor *d)
{
	const char *lvl = op_doc_getenv("OTEL_LOG_LEVEL"), *ra, *lib;
	int target_level, saved = -1;
	FILE *tmp;
	char line[600], exporters[64] = "", from_ra[SERVICE_MAX] = "", ratio[40] = "";
	bool warned = false;

	fflush(stderr);
	tmp = tmpfile();
	if (tmp) {
		saved = dup(2);
		if (saved < 0 || dup2(fileno(tmp), 2) < 0) {
			if (saved >= 0)
				close(saved);
			saved = -1;
		}
	}
	/* op_log_init reads OTEL_LOG_LEVEL with getenv: give it the target's. */
	if (lvl)
		setenv("OTEL_LOG_LEVEL", lvl, 1);
	else
		unsetenv("OTEL_LOG_LEVEL");
	op_log_init();
	target_level = op_log_level;
	op_log_level = OP_LOG_WARN;
	op_config_parse(&d->cfg, op_doc_getenv);
	d->cfg_ok = true;
	/* Checked when the library builds its resource (resource.c), in these words. */
	ra = op_doc_getenv("OTEL_RESOURCE_ATTRIBUTES");
	if (ra && op_kv_list_parse(ra, find_service, from_ra) != 0) {
		op_warn("OTEL_RESOURCE_ATTRIBUTES is not a valid list of key=value pairs; ignored");
		from_ra[0] = '\0';
	}
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
		rewind(tmp);
		while (fgets(line, sizeof line, tmp)) {
			const char *msg = starts_with(line, "otelpreload: ") ? line + 13 : line;

			line[strcspn(line, "\n")] = '\0';
			op_doc_add(d, "config", V_WARNING, NULL, "%s%s", msg,
			           target_level < OP_LOG_WARN ?
			           " (not printed by the library: OTEL_LOG_LEVEL hides it)" : "");
			warned = true;
		}
	}
	if (tmp)
		fclose(tmp);

	/* The precedence of preload/resource.c: OTEL_SERVICE_NAME, the attribute, the default. */
	if (d->cfg.service_name)
		snprintf(d->service, sizeof d->service, "%s", d->cfg.service_name);
	else if (from_ra[0])
		snprintf(d->service, sizeof d->service, "%s", from_ra);
	else {
		/* The library names it after /proc/self/exe: the interpreter of a script. */
		char exe[PATH_MAX];

		snprintf(exe, sizeof exe, "%s", d->pid ? d->exe_shown : d->exe);
		if (strlen(exe) > 10 && !strcmp(exe + strlen(exe) - 10, " (deleted)"))
			exe[strlen(exe) - 10] = '\0';
		snprintf(d->service, sizeof d->service, "unknown_service:%s",
			 exe[0] ? base_name(exe) : "<executable>");
	}
	for (uint32_t bit = 1; bit <= OP_EXPORTER_FILE; bit <<= 1) {
		static const char *const names[] = { "otlp", "console", "zipkin", "file" };
		size_t len = strlen(exporters);

		if (d->cfg.exporters & bit)
			snprintf(exporters + len, sizeof exporters - len, "%s%s", len ? "," : "",
				 names[__builtin_ctz(bit)]);
	}
	shown_url(d->cfg.otlp_traces_url ? d->cfg.otlp_traces_url : "", d->endpoint_shown,
		  sizeof d->endpoint_shown);

	if (d->cfg.sdk_disabled) {
		op_doc_add(d, "config", V_CANNOT, "unset OTEL_SDK_DISABLED",
		           "OTEL_SDK_DISABLED=true: the library does nothing");
		return;
	}
	if (!d->cfg.exporters) {
		op_doc_add(d, "config", V_WARNING,
		           "set OTEL_TRACES_EXPORTER to otlp, zipkin or console",
		           "OTEL_TRACES_EXPORTER=none: spans are made but go nowhere");
		return;
	}
	if (d->cfg.sampler == OP_SAMPLER_TRACEIDRATIO ||
	    d->cfg.sampler == OP_SAMPLER_PARENTBASED_TRACEIDRATIO)
		snprintf(ratio, sizeof ratio, " (ratio %g)", d->cfg.sampler_ratio);
	op_doc_add(d, "config", warned ? V_WARNING : V_OK, NULL,
	           "exporter %s%s%s%s%s, sampler %s%s, service.name %s", exporters,
	           d->cfg.exporters & OP_EXPORTER_OTLP ? ", protocol " : "",
	           d->cfg.exporters & OP_EXPORTER_OTLP ?
	           op_doc_protocol_names[d->cfg.otlp_protocol] : "",
	           d->cfg.exporters & OP_EXPORTER_OTLP ? ", endpoint " : "",
	           d->cfg.exporters & OP_EXPORTER_OTLP ? d->endpoint_shown : "",
	           op_doc_sampler_name(d->cfg.sampler), ratio, d->service);

	/* The library loads its exporters from its own directory (exporter/plugin.c). */
	lib = d->loaded[0] ? d->loaded : d->lib;
	if (lib && strrchr(lib, '/')) {
		char ex[PATH_MAX];

		snprintf(ex, sizeof ex, "%.*s/%s", (int)(strrchr(lib, '/') - lib), lib,
			 EXPORTER_NAME);
		if (!is_regular(ex))
			op_doc_add(d, "exporter", V_WARNING, "install it beside the library",
			           "%s is missing: the library loads its exporters from there, so "
			           "spans are made but never leave the process", ex);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 connected, else an errno value (ETIMEDOUT when the budget ran out). */
static int try_connect(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int err = 0;
	socklen_t elen = sizeof err;

	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return err;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0) {
			err = ETIMEDOUT;
			break;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = errno;
		else if (r == 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			err = errno;
		break;
	}
	close(fd);
	return err;
}

/* A TCP connection to the OTLP endpoint's host and port, within CONNECT_TIMEOUT_MS. */
void op_doc_check_endpoint(struct doctor *d)
{
	const char *url = d->cfg.otlp_traces_url, *auth, *end, *at, *hs, *he, *ps;
	const char *remedy = "start the collector, or point OTEL_EXPORTER_OTLP_ENDPOINT at a "
	                     "running one";
	char host[256], port[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	bool tls;
	int rc, err = 0, tries = 0;
	int64_t deadline;

	if (!d->cfg_ok || d->cfg.sdk_disabled || !(d->cfg.exporters & OP_EXPORTER_OTLP) || !url)
		return;
	tls = !strncasecmp(url, "https://", 8);
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	hs = at ? at + 1 : auth;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he) {
			op_doc_add(d, "endpoint", V_WARNING, NULL, "%s: cannot read its host",
			           d->endpoint_shown);
			return;
		}
		ps = he + 1;
		hs++;
	} else {
		he = memchr(hs, ':', (size_t)(end - hs));
		if (!he)
			he = end;
		ps = he;
	}
	if ((size_t)(he - hs) >= sizeof host || he == hs) {
		op_doc_add(d, "endpoint", V_WARNING, NULL, "%s: cannot read its host",
		           d->endpoint_shown);
		return;
	}
	snprintf(host, sizeof host, "%.*s", (int)(he - hs), hs);
	if (ps < end && *ps == ':' && end - ps > 1 && end - ps <= 6)
		snprintf(port, sizeof port, "%.*s", (int)(end - ps - 1), ps + 1);
	else
		snprintf(port, sizeof port, "%s", tls ? "443" : "80");

	deadline = now_ms() + CONNECT_TIMEOUT_MS;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		op_doc_add(d, "endpoint", V_WARNING,
		           "check the host name in OTEL_EXPORTER_OTLP_ENDPOINT",
		           "cannot resolve %s: %s (DNS failure); spans will not be exported", host,
		           rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return;
	}
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int e = try_connect(ai, deadline);

		tries++;
		if (e == 0) {
			op_doc_add(d, "endpoint", V_OK, NULL,
			           "%s:%s accepts TCP connections%s (the OTLP service itself is "
			           "not checked)", host, port, tls ? "; TLS not checked" : "");
			freeaddrinfo(res);
			return;
		}
		/* The most telling error: a refusal beats a timeout beats the rest. */
		if (!err || e == ECONNREFUSED || (e == ETIMEDOUT && err != ECONNREFUSED))
			err = e;
		if (now_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (err == ECONNREFUSED)
		op_doc_add(d, "endpoint", V_WARNING, remedy,
		           "%s:%s refused the connection (nothing listens there): spans will be "
		           "dropped", host, port);
	else if (err == ETIMEDOUT)
		op_doc_add(d, "endpoint", V_WARNING, remedy,
		           "%s:%s did not answer within %d ms (timeout): spans will be dropped",
		           host, port, CONNECT_TIMEOUT_MS);
	else
		op_doc_add(d, "endpoint", V_WARNING, remedy,
		           "cannot connect to %s:%s: %s (%d address%s tried)", host, port,
		           strerror(err), tries, tries == 1 ? "" : "es");
}
