/* Reading an image that is still arriving (include/zap/stream.h): used by
 * `zap restart` (glibc) and the static restorer (raw system calls only). */
#ifndef ZAP_CKPT_STREAM_H
#define ZAP_CKPT_STREAM_H

#include <stdint.h>

#include "zap/stream.h"

/* Maps the progress file at fd read-only (at addr, or anywhere when 0).
 * Returns the mapping, or a negative errno. */
long zap_stream_map(int fd, uint64_t addr, const struct zap_stream **out);
/* The entry of the image file at path (its last component), or -1: a file
 * the stream does not list is complete. */
int zap_stream_find(const struct zap_stream *s, const char *path);
/* Waits until bytes [0, end) of file idx are written.  0, -ECANCELED when
 * the transfer was aborted, -ETIMEDOUT when nothing moved for
 * ZAP_STREAM_WAIT_S seconds. */
long zap_stream_wait(const struct zap_stream *s, int idx, uint64_t end);
/* Waits until the whole stream is in and authenticated: 0, or as above. */
long zap_stream_wait_complete(const struct zap_stream *s);
const char *zap_stream_strerror(long e);

#endif
