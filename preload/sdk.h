/*
 * The SDK side of the library, initialised lazily: the first span (not the
 * constructor) parses the configuration, so a process that never traces
 * anything pays for nothing and never sees a configuration warning.
 */
#ifndef OP_SDK_H
#define OP_SDK_H

#include <stdbool.h>

/*
 * Copies the OTEL_* and OTELPRELOAD_* variables aside. Called by the
 * constructor: programs such as nginx replace their environment before the
 * first request, long before the configuration is parsed.
 */
void op_sdk_env_snapshot(void);

/* Parses the configuration once (pthread_once); safe from any thread. */
void op_sdk_init(void);

/* True when spans may be created: initialised, not disabled. */
bool op_sdk_enabled(void);

#endif
