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
