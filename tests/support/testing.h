/*
 * A test-only span source, compiled into libotelpreload-testing.so (built
 * with -DOP_TESTING) and never into the shipped libotelpreload.so: it lets
 * the integration tests drive the span pipeline (sampler, batch span
 * processor, exporter) with any number of spans, on demand.
 */
#ifndef OP_TESTING_H
#define OP_TESTING_H

/*
 * Exported from the testing library (listed in its version script) for C
 * test programs, which find it with dlsym(RTLD_DEFAULT, ...): starts a
 * root span `name` of `kind` (OTLP numbering, 1 = INTERNAL ... 5 =
 * CONSUMER), sets "test.attr" = "value" and ends it.
 */
void otelpreload_test_span(const char *name, int kind);

#endif
