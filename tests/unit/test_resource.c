/*
 * The resource: service.name precedence, OTEL_RESOURCE_ATTRIBUTES with
 * percent-decoding (malformed lists discarded whole), process and SDK
 * attributes.
 */
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "preload/config.h"
#include "preload/op.h"
#include "preload/resource.h"

#include "cu.h"
#include "fakeenv.h"

static struct op_config cfg;
static struct op_resource res;
static const char *warnings;

static void build(const char *exe, const char *host, long pid)
{
	memset(&cfg, 0, sizeof cfg);
	capture_begin();
	op_config_parse(&cfg, fake_getenv);
	op_resource_build(&res, &cfg, exe, host, pid);
	warnings = capture_end();
}

static void release(void)
{
	op_resource_free(&res);
	op_config_free(&cfg);
}

static const char *str(const char *key)
{
	const struct op_attr *a = op_attrs_get(&res.attrs, key);

	if (!a)
		return NULL;
	if (a->type != OP_ATTR_STRING) {
		fprintf(stderr, "\n%s is not a string attribute\n", key);
		return "(not a string)";
	}
	return a->v.s;
}

static unsigned occurrences(const char *key)
{
	unsigned i, n = 0;

	for (i = 0; i < res.attrs.n; i++)
		n += !strcmp(res.attrs.v[i].key, key);
	return n;
}

static void test_default_service_name(void)
{
	env_reset();
	build("myexe", "myhost", 4242);
	OP_ASSERT_STR(str("service.name"), "unknown_service:myexe");
	OP_ASSERT_STR(str("process.executable.name"), "myexe");
	OP_ASSERT_STR(str("host.name"), "myhost");
	OP_ASSERT_STR(warnings, "");
	release();
}

static void test_process_pid(void)
{
	const struct op_attr *a;

	env_reset();
	build("myexe", "myhost", 4242);
	a = op_attrs_get(&res.attrs, "process.pid");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	OP_ASSERT_INT(a->type, OP_ATTR_INT);
	OP_ASSERT_INT(a->v.i, 4242);
	release();
}

static void test_sdk_attributes(void)
{
	env_reset();
	build("myexe", "myhost", 1);
	CU_ASSERT_PTR_NOT_NULL(str("telemetry.sdk.name"));
	CU_ASSERT(str("telemetry.sdk.name") && str("telemetry.sdk.name")[0]);
	CU_ASSERT(str("telemetry.sdk.language") && str("telemetry.sdk.language")[0]);
	OP_ASSERT_STR(str("telemetry.sdk.version"), OP_VERSION);
	release();
}

static void test_service_name_precedence(void)
{
	env_reset();
	env_set("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=core");
	build("myexe", "myhost", 1);
	OP_ASSERT_STR(str("service.name"), "from-attrs");
	OP_ASSERT_STR(str("team"), "core");
	OP_ASSERT_INT(occurrences("service.name"), 1);
	release();

	env_set("OTEL_SERVICE_NAME", "from-env");
	build("myexe", "myhost", 1);
	OP_ASSERT_STR(str("service.name"), "from-env");
	OP_ASSERT_STR(str("team"), "core");
	OP_ASSERT_INT(occurrences("service.name"), 1);
	release();

	env_reset();
	env_set("OTEL_SERVICE_NAME", "only-env");
	build("myexe", "myhost", 1);
	OP_ASSERT_STR(str("service.name"), "only-env");
	OP_ASSERT_INT(occurrences("service.name"), 1);
	release();
}

static void test_percent_decoding(void)
{
	env_reset();
	env_set("OTEL_RESOURCE_ATTRIBUTES",
		"deployment.environment=prod%20eu, note = a%2Cb%3Dc ,caf%C3%A9=%E2%9C%93");
	build("myexe", "myhost", 1);
	OP_ASSERT_STR(str("deployment.environment"), "prod eu");
	OP_ASSERT_STR(str("note"), "a,b=c");
	OP_ASSERT_STR(str("caf\xc3\xa9"), "\xe2\x9c\x93");
	OP_ASSERT_STR(warnings, "");
	release();
}

static void test_malformed_discarded_whole(void)
{
	static const char *const bad[] = {
		"service.name=svc,a=1,broken,b=2",
		"service.name=svc,a=%zz",
		"service.name=svc,=nokey",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		env_reset();
		env_set("OTEL_RESOURCE_ATTRIBUTES", bad[i]);
		build("myexe", "myhost", 1);
		OP_ASSERT_STR(str("service.name"), "unknown_service:myexe");
		CU_ASSERT_PTR_NULL(str("a"));
		CU_ASSERT_PTR_NULL(str("b"));
		OP_ASSERT_INT(count_lines(warnings), 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTEL_RESOURCE_ATTRIBUTES"));
		release();
	}
}

/* NULL means "find out": the running program's name and the host's. */
static void test_detected(void)
{
	char exe[PATH_MAX], want[PATH_MAX + 32], host[256];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	CU_ASSERT_FATAL(n > 0);
	exe[n] = '\0';
	snprintf(want, sizeof want, "unknown_service:%s", basename(exe));
	CU_ASSERT_EQUAL_FATAL(gethostname(host, sizeof host), 0);

	env_reset();
	build(NULL, NULL, (long)getpid());
	OP_ASSERT_STR(str("service.name"), want);
	OP_ASSERT_STR(str("process.executable.name"), basename(exe));
	OP_ASSERT_STR(str("host.name"), host);
	release();
}

static CU_TestInfo tests[] = {
	{ "default service.name", test_default_service_name },
	{ "process.pid", test_process_pid },
	{ "telemetry.sdk.*", test_sdk_attributes },
	{ "service.name precedence", test_service_name_precedence },
	{ "percent-decoding", test_percent_decoding },
	{ "malformed list discarded whole", test_malformed_discarded_whole },
	{ "detected executable and host", test_detected },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("resource", tests);
}
