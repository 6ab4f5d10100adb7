/* The unit test runner: runs every suite registered with ZT_SUITE in one
 * SRunner, so Check's own summary ("100%: Checks: N, Failures: 0,
 * Errors: 0") is the last thing printed.  CK_FORK, CK_VERBOSITY,
 * CK_RUN_SUITE and CK_RUN_CASE work as Check documents them. */
#include "unit.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern const zt_suite_fn __start_zt_suites[], __stop_zt_suites[];

static char zt_root[PATH_MAX]; /* this run's directory; all test dirs are under it */
char zt_dir[PATH_MAX];

static void zt_dir_setup(void)
{
	snprintf(zt_dir, sizeof(zt_dir), "%s/t.XXXXXX", zt_root);
	ck_assert_msg(mkdtemp(zt_dir) != NULL, "mkdtemp under %s failed", zt_root);
}

static void zt_dir_teardown(void)
{
	zt_rm_rf(zt_dir);
}

TCase *zt_tcase(Suite *s, const char *name, int flags)
{
	TCase *tc = tcase_create(name);
	if (flags & ZT_WITH_DIR)
		tcase_add_checked_fixture(tc, zt_dir_setup, zt_dir_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

const char *zt_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", zt_dir, name);
	return buf;
}

static int zt_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int zt_rm_rf(const char *path)
{
	return nftw(path, zt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(zt_root, sizeof(zt_root), "%s/zap-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(zt_root)) {
		perror("zap-unit: mkdtemp");
		return 1;
	}
	SRunner *sr = srunner_create(NULL);
	for (const zt_suite_fn *f = __start_zt_suites; f < __stop_zt_suites; f++)
		srunner_add_suite(sr, (*f)());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zt_rm_rf(zt_root);
	return failed ? 1 : 0;
}
