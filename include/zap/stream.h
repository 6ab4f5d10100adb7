/* An image that is still arriving: zapd restarts a pod while the pages of
 * its image are on the wire (docs/protocol.md, "Restart while the pages
 * arrive").  zapd writes this small file beside the image it receives and
 * updates it as bytes land; `zap restart` and every restorer map it
 * read-only and wait on it (a futex on `gen`) before they read page data
 * that is not there yet, and, before any code of the program runs again,
 * for `state` to say the whole stream was authenticated.
 *
 * Shared by zapd, `zap restart` and the static restorer: <stdint.h> only. */
#ifndef ZAP_STREAM_H
#define ZAP_STREAM_H

#include <stdint.h>

#define ZAP_STREAM_MAGIC 0x4d525453u /* "STRM" */
#define ZAP_STREAM_MAX_FILES 512
#define ZAP_STREAM_NAME 64
#define ZAP_STREAM_WAIT_S 150 /* a restorer gives up on a stream idle that long */

enum zap_stream_state {
	ZAP_STREAM_RECEIVING = 0, /* bytes still coming */
	ZAP_STREAM_COMPLETE = 1,  /* every byte in, and the stream's tag verified */
	ZAP_STREAM_ABORTED = 2,   /* the transfer failed: nothing of it may run */
};

struct zap_stream_file {
	char name[ZAP_STREAM_NAME]; /* the file's name in the image directory */
	uint64_t avail;             /* bytes [0, avail) of it are written */
};

struct zap_stream {
	uint32_t magic;
	uint32_t gen;    /* futex word: bumped, and woken, at every change */
	uint32_t state;  /* enum zap_stream_state */
	uint32_t nfiles;
	int32_t writer;  /* zapd's pid: a reader that finds it gone gives up */
	uint32_t pad;
	struct zap_stream_file file[ZAP_STREAM_MAX_FILES];
};

#endif
