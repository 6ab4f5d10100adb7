/* Backtraces read from an image, for `zap inspect --stacks`. */
#ifndef ZAP_LAUNCHER_STACKS_H
#define ZAP_LAUNCHER_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define ZAP_STACK_MAX 64

struct zap_frame {
	uint64_t ip;
	uint64_t offset;    /* ip - the function's start, when function is known */
	char function[256]; /* "" when no symbol covers ip */
	const char *file;   /* the file mapped at ip (a string of the image), or "" */
};

/* Unwinds thread t of the process image img from where the checkpoint
 * signal interrupted it, reading only the image and the files it maps.
 * Fills up to max frames and returns how many; why is "" when the stack
 * ended normally, else a short reason why it stopped early. */
int zap_stack_unwind(const struct zap_img *img, const struct zap_img_thread *t,
		     struct zap_frame *frames, int max, char *why, size_t whylen);

#endif
