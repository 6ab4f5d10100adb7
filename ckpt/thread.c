/* Threads.
 *
 * Capture: each thread, parked in the checkpoint handler, records its fs
 * base, its signal mask inside the handler, its alternate signal stack, its
 * robust-futex list, its rseq area and where glibc caches its tid, then
 * saves a resume point with zap_ctx_save().  Its registers at the moment
 * the signal came are already in the kernel's signal frame on its stack.
 *
 * Restore: the restorer clones one thread per record (the main record keeps
 * the restorer's own thread, so the process's pid stays the thread group
 * leader), gives each its kernel state back, sets its fs base last, and
 * jumps to its resume point; zap_ctx_save() then returns 1 in the handler,
 * and when the handler returns, rt_sigreturn restores the full register
 * state (FPU, SSE, AVX-512 included) of the interrupted code. */
#include "thread.h"
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

__asm__(".text\n"
	".globl zap_ctx_save\n"
	".type zap_ctx_save,@function\n"
	"zap_ctx_save:\n"
	"	mov %rbx, 0(%rdi)\n"
	"	mov %rbp, 8(%rdi)\n"
	"	mov %r12, 16(%rdi)\n"
	"	mov %r13, 24(%rdi)\n"
	"	mov %r14, 32(%rdi)\n"
	"	mov %r15, 40(%rdi)\n"
	"	lea 8(%rsp), %rdx\n"
	"	mov %rdx, 48(%rdi)\n"
	"	mov (%rsp), %rdx\n"
	"	mov %rdx, 56(%rdi)\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	".size zap_ctx_save, .-zap_ctx_save\n");

__asm__(".text\n"
	".globl zap_call_on_stack\n"
	".type zap_call_on_stack,@function\n"
	"zap_call_on_stack:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	and $-16, %rdx\n"
	"	mov %rdx, %rsp\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rdi\n"
	"	call *%rax\n"
	"	mov %rbp, %rsp\n"
	"	pop %rbp\n"
	"	ret\n"
	".size zap_call_on_stack, .-zap_call_on_stack\n");

/* ---- capture ---- */

struct zk_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

void zap_thread_capture(struct zap_img_thread *t, const struct zap_thread_layout *lay)
{
	memset(t, 0, sizeof(*t));
	t->tid = (int32_t)z_gettid();
	if (t->tid == (int32_t)z_getpid())
		t->flags |= ZAP_THREAD_MAIN;
	zsys2(SYS_arch_prctl, Z_ARCH_GET_FS, &t->fs_base);
	zsys4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &t->sigmask, 8);
	struct zk_stack ss;
	if (zsys2(SYS_sigaltstack, 0, &ss) == 0 && !(ss.flags & SS_DISABLE)) {
		t->ss_sp = ss.sp;
		t->ss_size = ss.size;
		t->ss_flags = ss.flags & ~SS_ONSTACK;
	} else {
		t->ss_flags = SS_DISABLE;
	}
	uint64_t head = 0, len = 0;
	if (zsys3(SYS_get_robust_list, 0, &head, &len) == 0) {
		t->robust_head = head;
		t->robust_len = len;
	}
	if (lay->rseq_size && t->fs_base) {
		/* glibc registered fs_base + __rseq_offset with 32 bytes; cpu_id
		 * (the second word) is -1 once unregistered, -2 if never */
		int32_t cpu_id = *(volatile int32_t *)(t->fs_base + (uint64_t)lay->rseq_offset + 4);
		if (cpu_id >= 0) {
			t->rseq_addr = t->fs_base + (uint64_t)lay->rseq_offset;
			t->rseq_len = 32;
			t->rseq_sig = Z_RSEQ_SIG;
		}
	}
	if (lay->tid_offset >= 0 && t->fs_base &&
	    *(volatile int32_t *)(t->fs_base + (uint64_t)lay->tid_offset) == t->tid)
		t->tid_addr = t->fs_base + (uint64_t)lay->tid_offset;
}

/* ---- restore ---- */

/* clone(flags, stack, ptid = ctid, ctid, tls = 0) whose child calls fn(arg)
 * on the new stack and then exits; the child never returns here. */
__asm__(".text\n"
	".globl zap_clone_thread\n"
	".type zap_clone_thread,@function\n"
	"zap_clone_thread:\n"
	"	and $-16, %rsi\n"
	"	sub $16, %rsi\n"
	"	mov %rdx, 0(%rsi)\n"  /* fn */
	"	mov %rcx, 8(%rsi)\n"  /* arg */
	"	mov %r8, %rdx\n"      /* parent_tid */
	"	mov %r8, %r10\n"      /* child_tid */
	"	xor %r8d, %r8d\n"     /* tls */
	"	mov $56, %eax\n"      /* SYS_clone */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	call *%rax\n"
	"	mov $60, %eax\n"
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size zap_clone_thread, .-zap_clone_thread\n");

/* Loads ctx and jumps to it with rax = 1; never returns. */
__attribute__((noreturn)) void zap_ctx_jump(const struct zap_img_ctx *ctx);
__asm__(".text\n"
	".globl zap_ctx_jump\n"
	".type zap_ctx_jump,@function\n"
	"zap_ctx_jump:\n"
	"	mov 0(%rdi), %rbx\n"
	"	mov 8(%rdi), %rbp\n"
	"	mov 16(%rdi), %r12\n"
	"	mov 24(%rdi), %r13\n"
	"	mov 32(%rdi), %r14\n"
	"	mov 40(%rdi), %r15\n"
	"	mov 48(%rdi), %rsp\n"
	"	mov $1, %eax\n"
	"	jmp *56(%rdi)\n"
	".size zap_ctx_jump, .-zap_ctx_jump\n");

struct resume_arg {
	const struct zap_img_thread *t;
	struct zap_img_ctx ctx; /* copied here: the image's record lives in restorer memory too */
};

/* The last steps of one thread, all raw system calls and no thread-local
 * storage: from the fs switch on, %fs points at glibc's thread block. */
__attribute__((noreturn)) static void thread_finish(void *p)
{
	struct resume_arg *a = p;
	const struct zap_img_thread *t = a->t;
	int tid = (int)z_gettid();
	if (t->tid_addr) {
		*(volatile int32_t *)t->tid_addr = tid; /* glibc's cached tid */
		zsys1(SYS_set_tid_address, t->tid_addr);
	}
	if (t->robust_len)
		zsys2(SYS_set_robust_list, t->robust_head, t->robust_len);
	if (!(t->ss_flags & SS_DISABLE)) {
		struct zk_stack ss = {.sp = t->ss_sp, .flags = t->ss_flags, .size = t->ss_size};
		zsys2(SYS_sigaltstack, &ss, 0);
	}
	if (t->rseq_len) {
		*(volatile uint64_t *)(t->rseq_addr + 8) = 0; /* no critical section in flight */
		zsys4(SYS_rseq, t->rseq_addr, t->rseq_len, 0, t->rseq_sig);
	}
	for (int sig = 1; sig <= 64; sig++) /* blocked until the handler returns */
		if (t->pending >> (sig - 1) & 1)
			z_tgkill((int)z_getpid(), tid, sig);
	zsys4(SYS_rt_sigprocmask, SIG_SETMASK, &t->sigmask, 0, 8);
	zsys2(SYS_arch_prctl, Z_ARCH_SET_FS, t->fs_base);
	zap_ctx_jump(&a->ctx);
}

#define THREAD_STACK (64 * 1024)

void zap_thread_resume_all(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	/* room for every thread's resume block and stack, in the arena */
	uint64_t per = THREAD_STACK + 4096;
	uint64_t base = ZAP_ARENA_START + 0x8000000000ull;
	long m = z_mmap(base, per * img->nthreads, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m < 0 && m > -4096) {
		zap_restore_error(r, "cannot map thread stacks (%s)", zap_strerror(m));
		z_exit_group(1); /* ZAP_EXIT_FAIL */
	}
	struct resume_arg *main_arg = NULL;
	for (uint32_t i = 0; i < img->nthreads; i++) {
		struct resume_arg *a = (struct resume_arg *)(base + per * i);
		a->t = &img->threads[i];
		a->ctx = img->threads[i].ctx;
		if (img->threads[i].flags & ZAP_THREAD_MAIN) {
			main_arg = a;
			continue;
		}
		unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				      CLONE_SYSVSEM;
		long e = zap_clone_thread(flags, (char *)a + per, (void (*)(void *))thread_finish, a, NULL);
		if (e < 0) {
			zap_restore_error(r, "cannot create thread %d (%s)", img->threads[i].tid, zap_strerror(e));
			z_exit_group(1); /* ZAP_EXIT_FAIL */
		}
	}
	/* `zap restart` learns from the end of its status pipe that we made it */
	if (r->status_fd >= 0)
		z_close(r->status_fd);
	thread_finish(main_arg);
}
