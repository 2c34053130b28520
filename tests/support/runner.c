#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "pa_test.h"

int pa_test_verbose;

static int add_suites(const pa_test_suite *suites)
{
	const pa_test_suite *su;
	const pa_test *t;

	for (su = suites; su->name; su++) {
		CU_pSuite s = CU_add_suite(su->name, su->init, su->clean);

		if (!s)
			return -1;
		for (t = su->tests; t->name; t++)
			if (!CU_add_test(s, t->name, t->fn))
				return -1;
	}
	return 0;
}

int pa_test_run(int argc, char **argv, const pa_test_suite *suites)
{
	unsigned int failed;
	CU_ErrorCode run;
	int i;

	pa_test_verbose = getenv("PA_TEST_VERBOSE") != NULL;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") != 0) {
			fprintf(stderr, "usage: %s [-v]\n", argv[0]);
			return 2;
		}
		pa_test_verbose = 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "%s: CUnit registry: %s\n", argv[0], CU_get_error_msg());
		return 2;
	}
	if (add_suites(suites) < 0) {
		fprintf(stderr, "%s: registering tests: %s\n", argv[0], CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	/* A suite whose set-up fails runs none of its tests: that is a failure too. */
	run = CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	         CU_get_number_of_suites_failed() + CU_get_number_of_failure_records();
	CU_cleanup_registry();
	return run != CUE_SUCCESS || failed ? 1 : 0;
}
