/*
 * What only the postgres store promises (placeholder while it is written).
 */
#include "config.h"
#include "../support/pa_test.h"

int main(int argc, char **argv)
{
	static const pa_test_suite suites[] = { PA_TEST_SUITE_END };

	return pa_test_run(argc, argv, suites);
}
