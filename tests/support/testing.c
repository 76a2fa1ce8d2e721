/*
 * The test-only span sources declared in testing.h. Linked into
 * libotelpreload-testing.so only (tests/CMakeLists.txt); the shipped
 * library has no way to create a span on request.
 */
#include <errno.h>

#include "../../preload/op.h"
#include "../../preload/sdk.h"
#include "../../preload/span.h"
#include "testing.h"

OP_EXPORT void otelpreload_test_span(const char *name, int kind)
{
	int saved = errno;
	struct op_span *s;

	OP_GUARD_ENTER();
	op_sdk_init();
	if (op_sdk_enabled()) {
		s = op_span_start(name, (enum op_span_kind)kind, NULL);
		op_span_set_str(s, "test.attr", "value");
		op_span_end(s);
	}
	OP_GUARD_LEAVE();
	errno = saved;
}
