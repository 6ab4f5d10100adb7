/* Threads: where each one stopped, and its per-thread kernel state. */
#ifndef ZAP_CKPT_THREAD_H
#define ZAP_CKPT_THREAD_H

#include <stdint.h>

#include "zap/image.h"

/* Like setjmp: saves callee-saved registers, rsp and the return address;
 * returns 0 now and 1 when the restorer resumes the thread here. */
int zap_ctx_save(struct zap_img_ctx *ctx) __attribute__((returns_twice));

/* glibc layout facts, found at load time by the preload. */
struct zap_thread_layout {
	long tid_offset;       /* struct pthread's tid, from the thread pointer; -1 unknown */
	long rseq_offset;      /* __rseq_offset */
	uint32_t rseq_size;    /* __rseq_size; 0 = glibc does not register rseq */
};

/* Fills t with the calling thread's state (not ctx, which the caller saves
 * at the point it wants to come back to). */
void zap_thread_capture(struct zap_img_thread *t, const struct zap_thread_layout *lay);

/* Starts a thread of this process that runs fn(arg) on stack_top, with no
 * thread-local storage of its own (it must make raw system calls only) and
 * every signal blocked if the caller's are; it exits when fn returns.  With
 * ctid, the kernel stores its tid there and clears it (and wakes a futex
 * waiter) when it exits.  Returns the tid or -errno. */
long zap_clone_thread(unsigned long flags, void *stack_top, void (*fn)(void *), void *arg,
		      int *ctid);

/* Calls fn(arg) on another stack and returns its result: the checkpoint
 * leader writes the image on a stack of its own, whatever the size of the
 * thread's, and the restorer leaves its first stack before unmapping it. */
long zap_call_on_stack(long (*fn)(void *), void *arg, void *stack_top);

#endif
