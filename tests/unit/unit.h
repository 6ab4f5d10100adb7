/* Shared by the unit tests: suite registration and a scratch directory.
 *
 * Each test-<module>.c builds its Suite in a function and names it with
 * ZT_SUITE(fn).  That puts a pointer to it in the "zt_suites" ELF section,
 * which test-main.c walks between the linker's __start_/__stop_ symbols,
 * so adding a test file needs no edit anywhere else. */
#ifndef ZT_UNIT_H
#define ZT_UNIT_H

#include <check.h>
#include <stddef.h>

typedef Suite *(*zt_suite_fn)(void);

/* "used" keeps the entry when nothing refers to it by name; the section
 * name is a C identifier so that the linker defines __start_zt_suites. */
#define ZT_SUITE(fn)                                                                               \
	static const zt_suite_fn zt_suite_entry_##fn                                               \
		__attribute__((used, section("zt_suites"), aligned(sizeof(void *)))) = fn

/* A test case added to s; with ZT_WITH_DIR each of its tests gets a fresh
 * directory zt_dir, made under the run's own directory (which test-main.c
 * removes at the end, whatever the tests did). */
#define ZT_WITH_DIR 1
TCase *zt_tcase(Suite *s, const char *name, int flags);
extern char zt_dir[];
/* "<zt_dir>/<name>" in buf. */
const char *zt_path(char *buf, size_t n, const char *name);
/* Removes path and everything under it; 0 or -1. */
int zt_rm_rf(const char *path);

#endif
