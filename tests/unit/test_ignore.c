/*
 * Requests that create no span: OTELPRELOAD_IGNORE_PATHS (path prefixes)
 * and OTELPRELOAD_IGNORE_USER_AGENTS (globs) as op_config_parse() reads
 * them, and op_config_ignored() applying them.
 */
#include <string.h>

#include "preload/config.h"

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
	memset(&cfg, 0xa5, sizeof cfg);
	capture_begin();
	op_config_parse(&cfg, fake_getenv);
	warnings = capture_end();
	have_cfg = 1;
}

static void parse_with(const char *paths, const char *agents)
{
	env_reset();
	if (paths)
		env_set("OTELPRELOAD_IGNORE_PATHS", paths);
	if (agents)
		env_set("OTELPRELOAD_IGNORE_USER_AGENTS", agents);
	parse();
}

static bool path_ignored(const char *path)
{
	return op_config_ignored(&cfg, path, strlen(path), NULL, 0);
}

static bool ua_ignored(const char *ua)
{
	return op_config_ignored(&cfg, "/", 1, ua, ua ? strlen(ua) : 0);
}

static int list_len(char **list)
{
	int n = 0;

	while (list && list[n])
		n++;
	return n;
}

static void test_unset(void)
{
	parse_with(NULL, NULL);
	OP_ASSERT_STR(warnings, "");
	CU_ASSERT_PTR_NULL(cfg.ignore_paths);
	CU_ASSERT_PTR_NULL(cfg.ignore_user_agents);
	CU_ASSERT_FALSE(path_ignored("/"));
	CU_ASSERT_FALSE(path_ignored("/health"));
	CU_ASSERT_FALSE(ua_ignored("kube-probe/1.29"));
	CU_ASSERT_FALSE(ua_ignored(NULL));

	/* Empty is unset; so is a list of nothing but separators. */
	parse_with("", "");
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 0);
	OP_ASSERT_INT(list_len(cfg.ignore_user_agents), 0);
	parse_with(" , ,, ", " ,");
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 0);
	OP_ASSERT_INT(list_len(cfg.ignore_user_agents), 0);
	CU_ASSERT_FALSE(path_ignored("/"));
	CU_ASSERT_FALSE(ua_ignored(""));
}

static void test_path_prefixes(void)
{
	parse_with("/health", NULL);
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 1);
	OP_ASSERT_STR(cfg.ignore_paths[0], "/health");
	CU_ASSERT_TRUE(path_ignored("/health"));
	CU_ASSERT_TRUE(path_ignored("/health/live"));
	CU_ASSERT_TRUE(path_ignored("/healthz"));
	CU_ASSERT_FALSE(path_ignored("/heal"));
	CU_ASSERT_FALSE(path_ignored("/"));
	CU_ASSERT_FALSE(path_ignored(""));
	CU_ASSERT_FALSE(path_ignored("/api/health"));
	CU_ASSERT_FALSE(path_ignored("/Health"));
	CU_ASSERT_FALSE(path_ignored("health"));

	/* `plen` bounds the path: the bytes after it are not part of it. */
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/health", 4, NULL, 0));
	CU_ASSERT_TRUE(op_config_ignored(&cfg, "/healthXYZ", 7, NULL, 0));

	/* The path rule does not depend on the user agent. */
	CU_ASSERT_TRUE(op_config_ignored(&cfg, "/health", 7, "curl/8", 6));
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/x", 2, "curl/8", 6));

	parse_with("/", NULL);
	CU_ASSERT_TRUE(path_ignored("/"));
	CU_ASSERT_TRUE(path_ignored("/anything"));
	CU_ASSERT_FALSE(path_ignored(""));
}

static void test_path_list(void)
{
	parse_with("  /health , /metrics,/ready\t,, /a b ", NULL);
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 4);
	OP_ASSERT_STR(cfg.ignore_paths[0], "/health");
	OP_ASSERT_STR(cfg.ignore_paths[1], "/metrics");
	OP_ASSERT_STR(cfg.ignore_paths[2], "/ready");
	OP_ASSERT_STR(cfg.ignore_paths[3], "/a b");
	CU_ASSERT_TRUE(path_ignored("/health"));
	CU_ASSERT_TRUE(path_ignored("/metrics"));
	CU_ASSERT_TRUE(path_ignored("/ready/x"));
	CU_ASSERT_TRUE(path_ignored("/a b/c"));
	CU_ASSERT_FALSE(path_ignored("/a"));
	CU_ASSERT_FALSE(path_ignored("/api"));
	CU_ASSERT_FALSE(path_ignored(" /health"));
}

/* An entry not starting with '/' is reported once and skipped; the others stay. */
static void test_path_not_absolute(void)
{
	const char *second;

	parse_with("/health,health, /ok", NULL);
	if (count_lines(warnings) != 1)
		fprintf(stderr, "\nwarned \"%s\"\n", warnings);
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_EQUAL(strncmp(warnings, "otelpreload: ", 13), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTELPRELOAD_IGNORE_PATHS"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "health"));
	CU_ASSERT_PTR_NULL(strstr(warnings, "/health"));
	CU_ASSERT_PTR_NULL(strstr(warnings, "/ok"));
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 2);
	OP_ASSERT_STR(cfg.ignore_paths[0], "/health");
	OP_ASSERT_STR(cfg.ignore_paths[1], "/ok");
	CU_ASSERT_TRUE(path_ignored("/ok"));
	CU_ASSERT_FALSE(path_ignored("health"));

	/* One line per bad entry, each naming its entry. */
	parse_with("metrics/x, *, /ready", NULL);
	OP_ASSERT_INT(count_lines(warnings), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "metrics/x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "*"));
	second = strchr(warnings, '\n');
	CU_ASSERT_PTR_NOT_NULL(second ? strstr(second + 1, "OTELPRELOAD_IGNORE_PATHS") : NULL);
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 1);
	OP_ASSERT_STR(cfg.ignore_paths[0], "/ready");

	/* Nothing valid: nothing ignored. */
	parse_with("health", NULL);
	OP_ASSERT_INT(count_lines(warnings), 1);
	OP_ASSERT_INT(list_len(cfg.ignore_paths), 0);
	CU_ASSERT_FALSE(path_ignored("/health"));
	CU_ASSERT_FALSE(path_ignored("health"));
}

static void test_user_agent_globs(void)
{
	parse_with(NULL, "kube-probe/*");
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_user_agents), 1);
	OP_ASSERT_STR(cfg.ignore_user_agents[0], "kube-probe/*");
	CU_ASSERT_TRUE(ua_ignored("kube-probe/1.29"));
	CU_ASSERT_TRUE(ua_ignored("kube-probe/"));
	CU_ASSERT_FALSE(ua_ignored("Kube-probe/1"));
	CU_ASSERT_FALSE(ua_ignored("curl/8"));
	CU_ASSERT_FALSE(ua_ignored("kube-probe"));
	CU_ASSERT_FALSE(ua_ignored("my-kube-probe/1"));
	CU_ASSERT_FALSE(ua_ignored(""));
	/* No user agent header: only the paths can match. */
	CU_ASSERT_FALSE(ua_ignored(NULL));
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/", 1, NULL, 5));
	/* `ualen` bounds the user agent. */
	CU_ASSERT_TRUE(op_config_ignored(&cfg, "/", 1, "kube-probe/1.29", 11));
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/", 1, "kube-probe/1.29", 10));

	/* '*' at the start. */
	parse_with(NULL, "*-HealthChecker/2.0");
	CU_ASSERT_TRUE(ua_ignored("ELB-HealthChecker/2.0"));
	CU_ASSERT_TRUE(ua_ignored("-HealthChecker/2.0"));
	CU_ASSERT_TRUE(ua_ignored("a-b-HealthChecker/2.0"));
	CU_ASSERT_FALSE(ua_ignored("ELB-HealthChecker/2.01"));
	CU_ASSERT_FALSE(ua_ignored("HealthChecker/2.0"));

	/* '*' in the middle, with backtracking. */
	parse_with(NULL, "Go*client/1.1");
	CU_ASSERT_TRUE(ua_ignored("Go-http-client/1.1"));
	CU_ASSERT_TRUE(ua_ignored("Goclient/1.1"));
	CU_ASSERT_TRUE(ua_ignored("Go-client/1.1-client/1.1"));
	CU_ASSERT_FALSE(ua_ignored("Go-http-client/1.1x"));
	CU_ASSERT_FALSE(ua_ignored("Go-http-client/2.0"));
	CU_ASSERT_FALSE(ua_ignored("xGo-http-client/1.1"));

	/* '*' at the end matches the empty run too. */
	parse_with(NULL, "curl*");
	CU_ASSERT_TRUE(ua_ignored("curl"));
	CU_ASSERT_TRUE(ua_ignored("curl/8.5.0"));
	CU_ASSERT_FALSE(ua_ignored("cur"));
	CU_ASSERT_FALSE(ua_ignored("libcurl/8"));

	/* Several stars. */
	parse_with(NULL, "*probe*");
	CU_ASSERT_TRUE(ua_ignored("kube-probe/1.29"));
	CU_ASSERT_TRUE(ua_ignored("probe"));
	CU_ASSERT_FALSE(ua_ignored("prob"));
	parse_with(NULL, "a*b*c");
	CU_ASSERT_TRUE(ua_ignored("abc"));
	CU_ASSERT_TRUE(ua_ignored("axxbyyc"));
	CU_ASSERT_TRUE(ua_ignored("abcbc"));
	CU_ASSERT_FALSE(ua_ignored("acb"));
	CU_ASSERT_FALSE(ua_ignored("abcx"));

	/* No star: the whole user agent, exactly. */
	parse_with(NULL, "ELB-HealthChecker/2.0");
	CU_ASSERT_TRUE(ua_ignored("ELB-HealthChecker/2.0"));
	CU_ASSERT_FALSE(ua_ignored("ELB-HealthChecker/2"));
	CU_ASSERT_FALSE(ua_ignored("ELB-HealthChecker/2.0 extra"));

	/* A lone star: every request that has a user agent. */
	parse_with(NULL, "*");
	CU_ASSERT_TRUE(ua_ignored("anything at all"));
	CU_ASSERT_TRUE(ua_ignored(""));
	CU_ASSERT_FALSE(ua_ignored(NULL));
}

static void test_user_agent_list(void)
{
	parse_with("/metrics", " kube-probe/* , ELB-HealthChecker/*,,GoogleHC/1.0 ");
	OP_ASSERT_STR(warnings, "");
	OP_ASSERT_INT(list_len(cfg.ignore_user_agents), 3);
	OP_ASSERT_STR(cfg.ignore_user_agents[0], "kube-probe/*");
	OP_ASSERT_STR(cfg.ignore_user_agents[1], "ELB-HealthChecker/*");
	OP_ASSERT_STR(cfg.ignore_user_agents[2], "GoogleHC/1.0");
	CU_ASSERT_TRUE(ua_ignored("kube-probe/1.29"));
	CU_ASSERT_TRUE(ua_ignored("ELB-HealthChecker/2.0"));
	CU_ASSERT_TRUE(ua_ignored("GoogleHC/1.0"));
	CU_ASSERT_FALSE(ua_ignored("Mozilla/5.0"));
	/* Either list is enough. */
	CU_ASSERT_TRUE(op_config_ignored(&cfg, "/metrics", 8, "Mozilla/5.0", 11));
	CU_ASSERT_TRUE(op_config_ignored(&cfg, "/orders", 7, "kube-probe/1.29", 15));
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/orders", 7, "Mozilla/5.0", 11));
	CU_ASSERT_FALSE(op_config_ignored(&cfg, "/orders", 7, NULL, 0));

	/* A control character cannot be in a header: reported, skipped. */
	parse_with(NULL, "bad\x01" "agent,curl/*");
	OP_ASSERT_INT(count_lines(warnings), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "OTELPRELOAD_IGNORE_USER_AGENTS"));
	OP_ASSERT_INT(list_len(cfg.ignore_user_agents), 1);
	OP_ASSERT_STR(cfg.ignore_user_agents[0], "curl/*");
}

static CU_TestInfo tests[] = {
	{ "unset and empty", test_unset },
	{ "path prefixes", test_path_prefixes },
	{ "path list with spaces", test_path_list },
	{ "paths not starting with /", test_path_not_absolute },
	{ "user agent globs", test_user_agent_globs },
	{ "user agent list", test_user_agent_list },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	int rc = op_cu_run("ignore", tests);

	if (have_cfg)
		op_config_free(&cfg);
	return rc;
}
