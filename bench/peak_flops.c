/* peak_flops — measured peak F32 FLOP/s of this machine: a register-resident loop of AVX2
 * FMAs (12 independent 8-wide accumulators per thread, enough to cover 2 FMA ports × 4-5
 * cycles latency), run on N threads for ~0.5 s; prints {"threads":N,"gflops":X}.
 *   peak_flops [--threads N] [--seconds S]
 * Built by bench/kern.sh with -mavx2 -mfma; the model benchmark reuses it for "% of peak". */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
	double seconds;
	double flops;
	float sink;
	pthread_barrier_t *bar;
} arg_t;

#define ITERS 1000000L

static void *run(void *p)
{
	arg_t *a = p;
	__m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.001f), a2 = _mm256_set1_ps(1.002f),
	       a3 = _mm256_set1_ps(1.003f), a4 = _mm256_set1_ps(1.004f), a5 = _mm256_set1_ps(1.005f),
	       a6 = _mm256_set1_ps(1.006f), a7 = _mm256_set1_ps(1.007f), a8 = _mm256_set1_ps(1.008f),
	       a9 = _mm256_set1_ps(1.009f), a10 = _mm256_set1_ps(1.010f), a11 = _mm256_set1_ps(1.011f);
	const __m256 m = _mm256_set1_ps(0.99999994f), c = _mm256_set1_ps(1e-7f);
	pthread_barrier_wait(a->bar);
	double t0 = now(), t;
	long rounds = 0;
	do {
		for (long k = 0; k < ITERS; k++) {
			a0 = _mm256_fmadd_ps(a0, m, c);
			a1 = _mm256_fmadd_ps(a1, m, c);
			a2 = _mm256_fmadd_ps(a2, m, c);
			a3 = _mm256_fmadd_ps(a3, m, c);
			a4 = _mm256_fmadd_ps(a4, m, c);
			a5 = _mm256_fmadd_ps(a5, m, c);
			a6 = _mm256_fmadd_ps(a6, m, c);
			a7 = _mm256_fmadd_ps(a7, m, c);
			a8 = _mm256_fmadd_ps(a8, m, c);
			a9 = _mm256_fmadd_ps(a9, m, c);
			a10 = _mm256_fmadd_ps(a10, m, c);
			a11 = _mm256_fmadd_ps(a11, m, c);
			/* keeps the compiler from folding iterations; no memory traffic */
			__asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
			                 "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
		}
		rounds++;
		t = now();
	} while (t - t0 < a->seconds);
	a->flops = (double)rounds * ITERS * 12 * 8 * 2 / (t - t0);
	float s[8];
	__m256 tot = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
	                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	tot = _mm256_add_ps(tot, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
	_mm256_storeu_ps(s, tot);
	a->sink = s[0];
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 1;
	double seconds = 0.5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: peak_flops [--threads N] [--seconds S]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > 1024)
		threads = 1;
	pthread_t th[1024];
	arg_t args[1024];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		args[i] = (arg_t){.seconds = seconds, .bar = &bar};
		pthread_create(&th[i], NULL, run, &args[i]);
	}
	double total = 0, sink = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += args[i].flops;
		sink += args[i].sink;
	}
	printf("{\"threads\":%d,\"gflops\":%.1f}\n", threads, total / 1e9 + (sink == 12345.678 ? 1 : 0));
	return 0;
}
