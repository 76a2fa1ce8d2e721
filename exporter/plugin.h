/*
 * The boundary between the preloaded core and the exporter module.
 *
 * libotelpreload.so depends on libc only. Everything that needs libcurl,
 * protobuf-c or zlib lives in libotelpreload-exporter.so, which the batch
 * span processor's worker thread loads with dlopen(RTLD_LOCAL) just before
 * the first export. The module exports one symbol, OP_EXPORTER_ENTRY, that
 * returns the table below. Both sides are built from one tree, so the ABI
 * number only guards against mixing files from different builds.
 */
#ifndef OP_EXPORTER_PLUGIN_H
#define OP_EXPORTER_PLUGIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../preload/config.h"
#include "../preload/resource.h"
#include "../preload/span.h"

#define OP_EXPORTER_ABI 3
#define OP_EXPORTER_ENTRY "otelpreload_exporter_v1"
#define OP_EXPORTER_MODULE "libotelpreload-exporter.so"

enum op_export_result {
	OP_EXPORT_OK = 0,
	OP_EXPORT_FAILED = 1,      /* batch dropped, counted by the caller */
};

/* export_spans() flags. */
enum {
	OP_EXPORT_FINAL = 1u << 0, /* the process is exiting: do not wait for a collector that is down */
};

struct op_exporter_api {
	int abi;

	/*
	 * Builds the exporters named in cfg->exporters. `log_level` is the
	 * core's level. `exiting` turns true when the process starts to exit:
	 * an export waiting to retry a collector that refuses connections then
	 * gives up at once. Returns an opaque context, or NULL when nothing
	 * could be set up (reported once inside).
	 */
	void *(*create)(const struct op_config *cfg, int log_level, const _Atomic bool *exiting);

	/*
	 * Sends `n` spans (n > 0) with their resource. Called from the worker
	 * thread only, never concurrently. Must return by `deadline_mono_ns`
	 * (CLOCK_MONOTONIC). Spans stay owned by the caller. `flags`:
	 * OP_EXPORT_* bits.
	 */
	enum op_export_result (*export_spans)(void *ctx,
					      struct op_span *const *spans, size_t n,
					      const struct op_resource *res,
					      int64_t deadline_mono_ns, unsigned flags);

	void (*destroy)(void *ctx);
};

typedef const struct op_exporter_api *(*op_exporter_entry_fn)(void);

#endif
