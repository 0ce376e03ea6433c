/*
 * cpu.c — CPU feature detection and the process-wide kernel mode.
 *
 * Features come from CPUID and XGETBV once (pthread_once): AVX2 and FMA are only usable
 * when the OS saves the YMM state, so OSXSAVE + XCR0 bits 1-2 are checked too, not just the
 * CPUID bits. The mode starts from CAIRN_KERNELS (=ref forces the reference path) and can be
 * changed at run time by the tests; it is an atomic so threads of a running matmul see a
 * consistent value per call (each kernel reads it once).
 */
#include "kern/kern_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if CN_KERN_X86
#include <cpuid.h>
#endif

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static cn_cpu_features cpu_feat;
static _Atomic int kern_mode = CN_KERN_AUTO;
static _Atomic bool q8_act = true;

static void cpu_init(void)
{
#if CN_KERN_X86
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
		bool ymm_ok = false;
		if (osxsave && avx) {
			uint32_t lo, hi;
			__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
			ymm_ok = (lo & 6) == 6;
		}
		if (ymm_ok) {
			cpu_feat.fma = (c >> 12) & 1;
			cpu_feat.f16c = (c >> 29) & 1;
			if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
				cpu_feat.avx2 = (b >> 5) & 1;
		}
	}
#endif
	const char *env = getenv("CAIRN_KERNELS");
	if (env && strcmp(env, "ref") == 0)
		atomic_store(&kern_mode, CN_KERN_REF);
	if (env && strcmp(env, "f32act") == 0)
		atomic_store(&q8_act, false);
}

void cn_kern_set_q8_act(bool on)
{
	pthread_once(&cpu_once, cpu_init);
	atomic_store(&q8_act, on);
}

bool cn_kern_q8_act(void)
{
	pthread_once(&cpu_once, cpu_init);
	return atomic_load_explicit(&q8_act, memory_order_relaxed);
}

const cn_cpu_features *cn_cpu_get(void)
{
	pthread_once(&cpu_once, cpu_init);
	return &cpu_feat;
}

void cn_kern_set_mode(cn_kern_mode mode)
{
	pthread_once(&cpu_once, cpu_init);
	atomic_store(&kern_mode, (int)mode);
}

cn_kern_mode cn_kern_get_mode(void)
{
	pthread_once(&cpu_once, cpu_init);
	return (cn_kern_mode)atomic_load_explicit(&kern_mode, memory_order_relaxed);
}

bool cn_kern_fast(void)
{
#if CN_KERN_X86
	pthread_once(&cpu_once, cpu_init);
	return atomic_load_explicit(&kern_mode, memory_order_relaxed) == CN_KERN_AUTO && cpu_feat.avx2 &&
	       cpu_feat.fma && cpu_feat.f16c;
#else
	return false;
#endif
}

const char *cn_kern_describe(void)
{
	return cn_kern_fast() ? "avx2+fma+f16c" : "reference";
}

bool cn_kern_supports(uint32_t t)
{
	switch (t) {
	case CN_GGML_F32: case CN_GGML_F16: case CN_GGML_BF16: case CN_GGML_Q8_0: case CN_GGML_Q4_0:
	case CN_GGML_Q4_1: case CN_GGML_Q5_0: case CN_GGML_Q5_1: case CN_GGML_Q4_K: case CN_GGML_Q5_K:
	case CN_GGML_Q6_K:
		return true;
	default:
		return false;
	}
}
