/*
 * Small helpers shared by the CUnit test programs: one suite per program,
 * run verbosely, exit status 1 on any failed assertion.
 */
#ifndef OP_TEST_CU_H
#define OP_TEST_CU_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

/* String equality that reports both values and survives NULL. */
#define OP_ASSERT_STR(got, want) op_cu_str((got), (want), #got, __FILE__, __LINE__)

static inline void op_cu_str(const char *got, const char *want, const char *expr,
			     const char *file, int line)
{
	int ok = (got == NULL && want == NULL) ||
		 (got != NULL && want != NULL && strcmp(got, want) == 0);
	char msg[512];

	if (!ok)
		fprintf(stderr, "\n%s:%d: %s is \"%s\", expected \"%s\"\n", file, line, expr,
			got ? got : "(null)", want ? want : "(null)");
	snprintf(msg, sizeof msg, "%s == \"%s\"", expr, want ? want : "(null)");
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
}

/* Integer equality that reports both values. */
#define OP_ASSERT_INT(got, want) \
	op_cu_int((long long)(got), (long long)(want), #got, __FILE__, __LINE__)

static inline void op_cu_int(long long got, long long want, const char *expr,
			     const char *file, int line)
{
	char msg[512];

	if (got != want)
		fprintf(stderr, "\n%s:%d: %s is %lld, expected %lld\n", file, line, expr,
			got, want);
	snprintf(msg, sizeof msg, "%s == %lld", expr, want);
	CU_assertImplementation(got == want ? CU_TRUE : CU_FALSE, (unsigned)line, msg,
				file, "", CU_FALSE);
}

static inline int op_cu_run(const char *suite, CU_TestInfo *tests)
{
	CU_SuiteInfo suites[] = {
		{ (char *)suite, NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif
