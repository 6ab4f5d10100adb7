/* Four threads share work under a mutex and condition variables, taking
 * turns in a fixed order, while each keeps values in SSE/AVX (and, where
 * the CPU has it, AVX-512) registers across long stretches of work.  If a
 * checkpoint and restart lose a register, a line says so; otherwise the
 * output is the same as an uninterrupted run's.
 *
 *   threads [ROUNDS] [SPIN]   (defaults 40 rounds, 2000000 spins) */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds;
static long spin;
static double shared_sum;
static int have_avx512;

/* Loads ymm8-ymm15 from in, spins n times touching none of them, stores
 * them to out: a signal in between must not change them. */
static void hold_ymm(const uint64_t in[32], uint64_t out[32], long n)
{
	__asm__ volatile("vmovdqu 0(%0), %%ymm8\n vmovdqu 32(%0), %%ymm9\n"
			 "vmovdqu 64(%0), %%ymm10\n vmovdqu 96(%0), %%ymm11\n"
			 "vmovdqu 128(%0), %%ymm12\n vmovdqu 160(%0), %%ymm13\n"
			 "vmovdqu 192(%0), %%ymm14\n vmovdqu 224(%0), %%ymm15\n"
			 "mov %2, %%rcx\n"
			 "1: dec %%rcx\n jnz 1b\n"
			 "vmovdqu %%ymm8, 0(%1)\n vmovdqu %%ymm9, 32(%1)\n"
			 "vmovdqu %%ymm10, 64(%1)\n vmovdqu %%ymm11, 96(%1)\n"
			 "vmovdqu %%ymm12, 128(%1)\n vmovdqu %%ymm13, 160(%1)\n"
			 "vmovdqu %%ymm14, 192(%1)\n vmovdqu %%ymm15, 224(%1)\n"
			 :
			 : "r"(in), "r"(out), "r"(n)
			 : "rcx", "memory", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
			   "xmm15");
}

/* The same for zmm16-zmm19 and the opmask k3, which only AVX-512 has. */
__attribute__((target("avx512f"))) static void hold_zmm(const uint64_t in[32], uint64_t out[32],
							 long n)
{
	__asm__ volatile("vmovdqu64 0(%0), %%zmm16\n vmovdqu64 64(%0), %%zmm17\n"
			 "vmovdqu64 128(%0), %%zmm18\n vmovdqu64 192(%0), %%zmm19\n"
			 "kmovw 0(%0), %%k3\n"
			 "mov %2, %%rcx\n"
			 "1: dec %%rcx\n jnz 1b\n"
			 "vmovdqu64 %%zmm16, 0(%1)\n vmovdqu64 %%zmm17, 64(%1)\n"
			 "vmovdqu64 %%zmm18, 128(%1)\n vmovdqu64 %%zmm19, 192(%1)\n"
			 "kmovw %%k3, %%eax\n mov %%ax, 0(%1)\n"
			 :
			 : "r"(in), "r"(out), "r"(n)
			 : "rcx", "rax", "memory", "xmm16", "xmm17", "xmm18", "xmm19");
}

static void check_registers(int id, int round)
{
	uint64_t in[32], out[32];
	for (int i = 0; i < 32; i++)
		in[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(id * 1000 + round * 32 + i + 1);
	memset(out, 0, sizeof(out));
	hold_ymm(in, out, spin);
	if (memcmp(in, out, sizeof(in)))
		printf("thread %d round %d: YMM REGISTERS LOST\n", id, round);
	if (have_avx512) {
		memset(out, 0, sizeof(out));
		hold_zmm(in, out, spin / 2);
		/* k3 holds only the low 16 bits of in[0] */
		uint64_t want0 = (in[0] & ~0xffffull) | (in[0] & 0xffff);
		if (out[0] != want0 || memcmp(in + 1, out + 1, sizeof(in) - 8))
			printf("thread %d round %d: ZMM REGISTERS LOST\n", id, round);
	}
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	double local = id + 1.0; /* x87/SSE state in flight */
	for (int r = 0; r < rounds; r++) {
		check_registers(id, r);
		for (int k = 0; k < 1000; k++)
			local = sqrt(local * local + k) * 0.999;
		pthread_mutex_lock(&lock);
		while (turn != id)
			pthread_cond_wait(&turn_cv, &lock);
		shared_sum += local;
		printf("round %d thread %d local %.9f sum %.9f\n", r, id, local, shared_sum);
		turn = (turn + 1) % NTHREADS;
		pthread_cond_broadcast(&turn_cv);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	rounds = argc > 1 ? atoi(argv[1]) : 40;
	spin = argc > 2 ? atol(argv[2]) : 2000000;
	have_avx512 = __builtin_cpu_supports("avx512f");
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	printf("done: %.9f\n", shared_sum);
	return 0;
}
