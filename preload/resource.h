/*
 * The resource: who produced the spans. Built once per process (again in a
 * forked child, whose process.pid differs) by the worker thread, read-only
 * afterwards.
 */
#ifndef OP_RESOURCE_H
#define OP_RESOURCE_H

#include "config.h"
#include "span.h"

struct op_resource {
	struct op_attrs attrs;
};

/*
 * Fills `res` from `cfg` and the process: service.name (OTEL_SERVICE_NAME,
 * else OTEL_RESOURCE_ATTRIBUTES, else unknown_service:<executable name>),
 * the attributes of OTEL_RESOURCE_ATTRIBUTES (a malformed list is discarded
 * whole), process.pid, process.executable.name, host.name and
 * telemetry.sdk.*. `exe_name` and `host_name` are passed in so tests can
 * fix them; NULL means "find out".
 */
void op_resource_build(struct op_resource *res, const struct op_config *cfg,
		       const char *exe_name, const char *host_name, long pid);
void op_resource_free(struct op_resource *res);

/* The basename of this process's executable (/proc/self/exe; else the short invocation name). */
void op_exe_basename(char *out, size_t size);

#endif
