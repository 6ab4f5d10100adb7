/* The image directory: written under a temporary name next to its final
 * place, then swapped in with one rename, so that a checkpoint killed at
 * any point leaves the previous image whole.  Raw system calls only: this
 * runs in the checkpoint handler. */
#include "imgdir.h"
#include "image.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>

#define Z_RENAME_EXCHANGE 2
#define Z_AT_REMOVEDIR 0x200

static int unlink_one(int dfd, const char *name, void *arg)
{
	(void)arg;
	zsys3(SYS_unlinkat, dfd, name, 0);
	return 0;
}

/* Removes the plain files in dir, then dir itself. */
long zap_imgdir_remove(const char *dir)
{
	long r = zap_dir_each(dir, unlink_one, NULL);
	if (r < 0)
		return r == -2 ? 0 : r;
	return zsys3(SYS_unlinkat, ZAT_FDCWD, dir, Z_AT_REMOVEDIR);
}

/* In a reused spare, the process file becomes "<pid>.img" (the spare may
 * come from a process that had another pid); other files go. */
struct adopt {
	char mine[32];
	int kept;
};

static int adopt_one(int dfd, const char *name, void *arg)
{
	struct adopt *a = arg;
	if (!strcmp(name, "pod.img"))
		return 0;
	if (!a->kept && name[0] >= '0' && name[0] <= '9') {
		a->kept = 1;
		if (strcmp(name, a->mine))
			zsys4(SYS_renameat, dfd, name, dfd, a->mine);
	} else {
		zsys3(SYS_unlinkat, dfd, name, 0);
	}
	return 0;
}

static void adopt_spare(const char *dir, int pid)
{
	struct adopt a = {.kept = 0};
	zap_fmt(a.mine, sizeof(a.mine), "%d.img", pid);
	zap_dir_each(dir, adopt_one, &a);
}

/* The temporary directory, from the spare when there is one (1) or new (0). */
static long begin(const char *final, char *tmp, size_t tmplen)
{
	char spare[1100];
	zap_fmt(tmp, tmplen, "%s.tmp-%d", final, (int)z_getpid());
	zap_fmt(spare, sizeof(spare), "%s.spare", final);
	zap_imgdir_remove(tmp); /* left by a checkpoint that was killed */
	if (zsys4(SYS_renameat, ZAT_FDCWD, spare, ZAT_FDCWD, tmp) == 0)
		return 1;
	return zsys3(SYS_mkdirat, ZAT_FDCWD, tmp, 0700);
}

long zap_imgdir_begin(const char *final, char *tmp, size_t tmplen)
{
	long r = begin(final, tmp, tmplen);
	if (r == 1)
		adopt_spare(tmp, (int)z_getpid());
	return r;
}

long zap_imgdir_begin_pod(const char *final, char *tmp, size_t tmplen)
{
	return begin(final, tmp, tmplen);
}

long zap_imgdir_keep_spare(const char *old, const char *final)
{
	char spare[1100];
	zap_fmt(spare, sizeof(spare), "%s.spare", final);
	return zsys4(SYS_renameat, ZAT_FDCWD, old, ZAT_FDCWD, spare);
}

long zap_imgdir_write_pod(const char *tmp, const struct zap_img_pod *pod,
			  const struct zap_img_member *members)
{
	char path[4096];
	zap_fmt(path, sizeof(path), "%s/pod.img", tmp);
	char buf[sizeof(*pod) + 64 * sizeof(*members)];
	uint32_t n = pod->nmembers;
	if (n == 0 || n > 64)
		return -7; /* E2BIG: a pod file holds at most 64 members for now */
	long fd = z_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fd;
	memcpy(buf, pod, sizeof(*pod));
	memcpy(buf + sizeof(*pod), members, n * sizeof(*members));
	struct zap_imgw w;
	zap_imgw_begin(&w, (int)fd, ZAP_IMG_KIND_POD);
	long e = zap_imgw_section(&w, ZAP_SECT_POD, n, buf, sizeof(*pod) + n * sizeof(*members));
	if (e == 0)
		e = zap_imgw_finish(&w, z_now_ns(0));
	z_close((int)fd);
	return e;
}

long zap_imgdir_commit(const char *tmp, const char *final)
{
	long e = zsys5(SYS_renameat2, ZAT_FDCWD, tmp, ZAT_FDCWD, final, Z_RENAME_EXCHANGE);
	if (e == 0) /* the old image now sits at tmp, for the caller to remove */
		return 1;
	if (e == -2) /* ENOENT: no previous image */
		return zsys4(SYS_renameat, ZAT_FDCWD, tmp, ZAT_FDCWD, final);
	return e;
}
