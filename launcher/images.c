/* Opening images in the tools: find the image directory, open its pod file
 * and its process files with the validating reader, and print the reader's
 * message when it refuses. */
#include "image.h"
#include "zap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *zap_image_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

void zap_image_free(struct zap_img *img)
{
	for (int i = 0; i < ZAP_SECT_MAX; i++)
		free(img->data[i]);
	zap_img_close(img);
}

/* Opens path as an image file of the given kind, or says why not. */
static int open_kind(const char *path, uint32_t kind, struct zap_img *img)
{
	char err[1024];
	if (zap_img_open(img, path, zap_image_alloc, NULL, err, sizeof(err)) == 0 && img->hdr.kind == kind)
		return 0;
	if (img->hdr.kind && img->hdr.kind != kind && !strstr(err, path))
		zap_err("%s: holds a %s, not a %s", path, kind == ZAP_IMG_KIND_POD ? "process" : "pod",
			kind == ZAP_IMG_KIND_POD ? "pod" : "process");
	else
		zap_err("%s", err);
	zap_image_free(img);
	return -1;
}

int zap_image_open_pod(const char *image, char *dir, size_t n, struct zap_img *pod)
{
	struct stat st;
	memset(pod, 0, sizeof(*pod));
	pod->fd = -1;
	if (stat(image, &st) < 0) {
		zap_err("%s: %s", image, strerror(errno));
		return -1;
	}
	snprintf(dir, n, "%s", image);
	if (!S_ISDIR(st.st_mode)) { /* IMAGE/pod.img named directly */
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(dir, n, ".");
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/pod.img", dir);
	if (access(path, F_OK) < 0) {
		zap_err("%s is not a zap image: %s is missing", image, path);
		return -1;
	}
	return open_kind(path, ZAP_IMG_KIND_POD, pod);
}

int zap_image_open_member(const char *dir, const struct zap_img_member *m, struct zap_img *proc,
			  char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, m->file);
	return open_kind(path, ZAP_IMG_KIND_PROC, proc);
}

void zap_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}
