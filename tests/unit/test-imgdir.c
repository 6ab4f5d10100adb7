/* ckpt/imgdir.c: an image directory is written under a temporary name and
 * swapped into place, so a reader sees the old image or the new one. */
#include "imgdir.h"
#include "image.h"
#include "sample-image.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int imgdir_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void imgdir_touch(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "cannot create %s", path);
	ck_assert_int_eq(write(fd, "old\n", 4), 4);
	close(fd);
}

/* Entries of dir other than . and .., or -1. */
static int imgdir_count(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The pod file in dir must be the one written with generation gen. */
static void imgdir_check_pod(const char *dir, uint64_t gen)
{
	char path[PATH_MAX], err[512];
	snprintf(path, sizeof(path), "%s/pod.img", dir);
	struct zt_heap heap = {0};
	struct zap_img img;
	int r = zap_img_open(&img, path, zt_heap_alloc, &heap, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_str_eq(img.pod->name, "demo");
	ck_assert_uint_eq(img.pod->generation, gen);
	ck_assert_uint_eq(img.nmembers, ZT_NMEMBERS);
	ck_assert_str_eq(img.members[1].file, "1001.img");
	zap_img_close(&img);
	zt_heap_release(&heap);
}

/* begin + write_pod + commit; returns the temporary name in tmp. */
static void imgdir_checkpoint(const char *final, uint64_t gen, char *tmp, size_t n)
{
	static struct zt_image im;
	zt_image_pod(&im);
	im.pod.generation = gen;
	ck_assert_int_eq(zap_imgdir_begin(final, tmp, n), 0);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s.tmp-%d", final, (int)getpid());
	ck_assert_str_eq(tmp, want);
	ck_assert_int_eq(imgdir_count(tmp), 0);
	ck_assert_int_eq(zap_imgdir_write_pod(tmp, &im.pod, im.members), 0);
	imgdir_check_pod(tmp, gen);
	/* 1: an old image was swapped out to tmp; removing it is the caller's */
	int had = imgdir_exists(final);
	long replaced = zap_imgdir_commit(tmp, final);
	ck_assert_int_eq(replaced, had);
	if (replaced == 1) {
		imgdir_check_pod(tmp, gen - 1);
		ck_assert_int_eq(zap_imgdir_remove(tmp), 0);
	}
}

/* After a checkpoint: final holds the new image alone, the temporary
 * name is gone, and nothing else was left next to them. */
static void imgdir_check_final(const char *final, const char *tmp, uint64_t gen)
{
	imgdir_check_pod(final, gen);
	ck_assert_int_eq(imgdir_count(final), 1);
	ck_assert_msg(!imgdir_exists(tmp), "%s is still there", tmp);
	ck_assert_int_eq(imgdir_count(zt_dir), 1);
}

START_TEST(imgdir_first_image)
{
	char final[PATH_MAX], tmp[PATH_MAX];
	zt_path(final, sizeof(final), "image");
	imgdir_checkpoint(final, 1, tmp, sizeof(tmp));
	imgdir_check_final(final, tmp, 1);
}
END_TEST

/* With an image in place the swap is RENAME_EXCHANGE; the old image ends
 * at the temporary name and is removed from there. */
START_TEST(imgdir_replace_image)
{
	char final[PATH_MAX], tmp[PATH_MAX];
	zt_path(final, sizeof(final), "image");
	imgdir_checkpoint(final, 1, tmp, sizeof(tmp));
	imgdir_touch(final, "old-marker");
	ck_assert_int_eq(imgdir_count(final), 2);
	imgdir_checkpoint(final, 2, tmp, sizeof(tmp));
	imgdir_check_final(final, tmp, 2); /* old-marker went with the old image */
}
END_TEST

/* A temporary directory left by a checkpoint that was killed is cleared. */
START_TEST(imgdir_stale_tmp)
{
	char final[PATH_MAX], tmp[PATH_MAX];
	zt_path(final, sizeof(final), "image");
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", final, (int)getpid());
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	imgdir_touch(tmp, "pod.img");
	imgdir_touch(tmp, "1234.img");
	imgdir_checkpoint(final, 5, tmp, sizeof(tmp));
	imgdir_check_final(final, tmp, 5);
}
END_TEST

/* Committing a temporary directory that is not there fails and leaves the
 * image in place alone. */
START_TEST(imgdir_commit_missing_tmp)
{
	char final[PATH_MAX], tmp[PATH_MAX];
	zt_path(final, sizeof(final), "image");
	imgdir_checkpoint(final, 3, tmp, sizeof(tmp));
	ck_assert_int_eq(zap_imgdir_commit(tmp, final), -ENOENT);
	imgdir_check_pod(final, 3);
}
END_TEST

START_TEST(imgdir_remove)
{
	char dir[PATH_MAX];
	zt_path(dir, sizeof(dir), "flat");
	ck_assert_int_eq(zap_imgdir_remove(dir), 0); /* absent: nothing to do */
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	char name[32];
	for (int i = 0; i < 200; i++) { /* more than one getdents buffer */
		snprintf(name, sizeof(name), "%d-with-a-longer-name.img", i);
		imgdir_touch(dir, name);
	}
	ck_assert_int_eq(zap_imgdir_remove(dir), 0);
	ck_assert(!imgdir_exists(dir));
}
END_TEST

static Suite *imgdir_suite(void)
{
	Suite *s = suite_create("imgdir");
	TCase *tc = zt_tcase(s, "commit", ZT_WITH_DIR);
	tcase_add_test(tc, imgdir_first_image);
	tcase_add_test(tc, imgdir_replace_image);
	tcase_add_test(tc, imgdir_stale_tmp);
	tcase_add_test(tc, imgdir_commit_missing_tmp);
	tcase_add_test(tc, imgdir_remove);
	return s;
}
ZT_SUITE(imgdir_suite);
