/* Errors of the restore side: to `zap restart` through the status fd while
 * there is one, else to stderr.  Raw writes: this also runs after the
 * restorer has given up its libc. */
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <stdarg.h>

int zap_restore_error(struct zap_restore *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = zap_vfmt(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	int fd = r->status_fd >= 0 ? r->status_fd : 2;
	if (fd == 2)
		z_write(2, "zap-restart: ", 13);
	z_write(fd, r->err, n);
	z_write(fd, "\n", 1);
	return -1;
}

char **zap_restorer_argv(struct zap_restorer_cmd *c)
{
	int k = 0;
	c->argv[k++] = (char *)c->path;
	const char *opt[5] = {"--status-fd", "--member", "--shared-base", "--shared-count", "--shm-count"};
	int val[5] = {c->status_fd, c->member, c->shared_base, c->shared_count, c->shm_count};
	for (int i = 0; i < 5; i++) {
		zap_fmt(c->num[i], sizeof(c->num[i]), "%d", val[i]);
		c->argv[k++] = (char *)opt[i];
		c->argv[k++] = c->num[i];
	}
	c->argv[k++] = "--home";
	c->argv[k++] = (char *)c->home;
	c->argv[k++] = "--pod";
	c->argv[k++] = (char *)c->pod;
	c->argv[k++] = "--pod-image";
	c->argv[k++] = (char *)c->pod_image;
	if (c->inherit_stdio)
		c->argv[k++] = "--inherit-stdio";
	if (c->stream_fd >= 0) {
		zap_fmt(c->num[5], sizeof(c->num[5]), "%d", c->stream_fd);
		c->argv[k++] = "--stream-fd";
		c->argv[k++] = c->num[5];
	}
	c->argv[k] = 0;
	return c->argv;
}
