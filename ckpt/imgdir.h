#ifndef ZAP_CKPT_IMGDIR_H
#define ZAP_CKPT_IMGDIR_H

#include <stddef.h>

#include "zap/image.h"

/* Makes "<final>.tmp-<pid>" (cleaning a stale one) and names it in tmp.
 * When "<final>.spare" exists (the image before the last one, kept by
 * zap_imgdir_keep_spare) it becomes tmp, and returns 1: writing over its
 * file's pages is several times faster than allocating new ones
 * (docs/design-notes.md, "the spare image").  0 for a new directory. */
long zap_imgdir_begin(const char *final, char *tmp, size_t tmplen);
/* The same for a pod, whose members write their own files: a spare keeps
 * all its files, for the coordinator to hand out (launcher/pod-ckpt.c). */
long zap_imgdir_begin_pod(const char *final, char *tmp, size_t tmplen);
/* Keeps a replaced image (at old) as "<final>.spare" for the next one. */
long zap_imgdir_keep_spare(const char *old, const char *final);
/* Writes tmp/pod.img. */
long zap_imgdir_write_pod(const char *tmp, const struct zap_img_pod *pod,
			  const struct zap_img_member *members);
/* Swaps tmp into final's place atomically.  Returns 1 when an old image was
 * replaced: it is then at tmp, and removing it (slow for a big image) is
 * the caller's, best done once the program runs again; 0 when there was
 * none; -errno on failure. */
long zap_imgdir_commit(const char *tmp, const char *final);
/* Removes a flat directory of files. */
long zap_imgdir_remove(const char *dir);

#endif
