/* bench_kern — GEMM and matvec throughput of the kern module (bench/kern.sh runs it).
 *
 *   bench_kern gemm  [--threads 1,2] [--ms 150]     GFLOP/s per shape and implementation
 *   bench_kern matvec [--threads 1,2] [--ms 150]    M = 1 weight GB/s per type
 *
 * Every number is the best of several timed repetitions (each at least --ms/3 ms, after a
 * warm-up call), one JSON line per measurement on stdout. The caller computes % of peak. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern.h"

void openblas_set_num_threads(int num_threads);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float frand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((float)((*s >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f) * 2.0f;
}

typedef void (*bench_fn)(void *ctx);

/* Seconds per call: warm-up, then 3 reps of ≥ ms/3 ms each, best rep. */
static double time_it(bench_fn fn, void *ctx, double ms)
{
	fn(ctx);
	double best = 1e30;
	for (int rep = 0; rep < 3; rep++) {
		int calls = 0;
		double t0 = now(), t;
		do {
			fn(ctx);
			calls++;
			t = now();
		} while ((t - t0) * 1e3 < ms / 3);
		double per = (t - t0) / calls;
		if (per < best)
			best = per;
	}
	return best;
}

typedef struct {
	cn_pool *pool;
	int64_t M, N, K;
	float *X, *Y;
	const float *Wf;
	cn_weight w;
	int threads;
} ctx_t;

static void run_sgemm(void *p)
{
	ctx_t *c = p;
	cn_sgemm(c->pool, true, c->M, c->N, c->K, 1.0f, c->X, c->K, c->Wf, c->K, 0.0f, c->Y, c->N);
}
static void run_blas(void *p)
{
	ctx_t *c = p;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->M, (int)c->N, (int)c->K, 1.0f, c->X, (int)c->K, c->Wf,
	            (int)c->K, 0.0f, c->Y, (int)c->N);
}
static void run_matmul(void *p)
{
	ctx_t *c = p;
	cn_matmul(c->pool, c->X, c->M, c->K, &c->w, NULL, c->Y, c->N);
}

static int parse_threads(const char *s, int *out)
{
	int n = 0;
	while (*s && n < 8) {
		out[n++] = atoi(s);
		const char *c = strchr(s, ',');
		if (!c)
			break;
		s = c + 1;
	}
	return n;
}

static const cn_ggml_type wtypes[] = {CN_GGML_F32, CN_GGML_F16, CN_GGML_Q8_0, CN_GGML_Q4_0, CN_GGML_Q4_K};
static const cn_ggml_type vtypes[] = {CN_GGML_F32, CN_GGML_F16, CN_GGML_BF16, CN_GGML_Q8_0, CN_GGML_Q4_0,
                                      CN_GGML_Q4_1, CN_GGML_Q5_0, CN_GGML_Q5_1, CN_GGML_Q4_K, CN_GGML_Q5_K,
                                      CN_GGML_Q6_K};

/* NULL when K is not a multiple of the type's block (Q4_K/Q5_K/Q6_K need 256: a 384-wide
 * MiniLM layer cannot be stored so, llama.cpp falls back to another type for it). */
static void *make_weight(cn_ggml_type t, const float *W, int64_t N, int64_t K, cn_weight *w)
{
	uint64_t rb;
	if (!cn_ggml_row_bytes(t, (uint64_t)K, &rb))
		return NULL;
	uint8_t *q = malloc(rb * (size_t)N);
	for (int64_t r = 0; r < N; r++)
		cn_quantize_row(t, W + r * K, q + r * rb, K);
	*w = (cn_weight){.type = t, .data = q, .rows = N, .cols = K, .row_bytes = rb};
	return q;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "gemm";
	int threads[8] = {1, 2}, nt = 2;
	double ms = 150;
	const char *only = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nt = parse_threads(argv[++i], threads);
		else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			ms = atof(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
	}
	uint64_t seed = 42;
	if (!strcmp(mode, "gemm")) {
		static const int64_t Ms[] = {32, 128, 512, 2048, 4096};
		static const int64_t KN[][2] = {{384, 384}, {384, 1536}, {1536, 384}};
		for (size_t s = 0; s < sizeof KN / sizeof KN[0]; s++) {
			int64_t K = KN[s][0], N = KN[s][1];
			float *W = malloc(sizeof(float) * N * K);
			for (int64_t i = 0; i < N * K; i++)
				W[i] = frand(&seed) * 0.1f;
			cn_weight ws[5];
			void *wdata[5];
			for (int t = 0; t < 5; t++)
				wdata[t] = make_weight(wtypes[t], W, N, K, &ws[t]);
			for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
				int64_t M = Ms[mi];
				float *X = malloc(sizeof(float) * M * K), *Y = malloc(sizeof(float) * M * N);
				for (int64_t i = 0; i < M * K; i++)
					X[i] = frand(&seed);
				double flop = 2.0 * M * N * K;
				for (int ti = 0; ti < nt; ti++) {
					cn_pool *pool = NULL;
					cn_pool_create(threads[ti], &pool, NULL);
					ctx_t c = {.pool = pool, .M = M, .N = N, .K = K, .X = X, .Y = Y, .Wf = W, .threads = threads[ti]};
					const char *chosen = cn_gemm_choose(M, N, K) == CN_GEMM_BLAS ? "openblas" : "own";
					struct { const char *name; bench_fn fn; int impl; int wt; } runs[] = {
						{"own_sgemm", run_sgemm, CN_GEMM_OWN, -1},
						{"openblas", run_blas, -1, -1},
						{"blas_tiles", run_sgemm, CN_GEMM_BLAS, -1},
						{"cn_sgemm", run_sgemm, CN_GEMM_AUTO, -1},
						{"matmul_F32", run_matmul, CN_GEMM_AUTO, 0},
						{"matmul_F16", run_matmul, CN_GEMM_AUTO, 1},
						{"matmul_Q8_0", run_matmul, CN_GEMM_AUTO, 2},
						{"matmul_Q4_0", run_matmul, CN_GEMM_AUTO, 3},
						{"matmul_Q4_K", run_matmul, CN_GEMM_AUTO, 4},
					};
					for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
						if (only && !strstr(runs[r].name, only))
							continue;
						if (runs[r].impl >= 0)
							cn_gemm_set_impl((cn_gemm_impl)runs[r].impl);
						else
							openblas_set_num_threads(threads[ti]);
						if (runs[r].wt >= 0) {
							if (!wdata[runs[r].wt])
								continue;
							c.w = ws[runs[r].wt];
						}
						double sec = time_it(runs[r].fn, &c, ms);
						cn_gemm_set_impl(CN_GEMM_AUTO);
						printf("{\"bench\":\"gemm\",\"impl\":\"%s\",\"M\":%lld,\"K\":%lld,\"N\":%lld,\"threads\":%d,"
						       "\"gflops\":%.2f,\"ms\":%.4f,\"auto_path\":\"%s\"}\n",
						       runs[r].name, (long long)M, (long long)K, (long long)N, threads[ti], flop / sec / 1e9,
						       sec * 1e3, chosen);
						fflush(stdout);
					}
					cn_pool_free(pool);
				}
				free(X);
				free(Y);
			}
			for (int t = 0; t < 5; t++)
				free(wdata[t]);
			free(W);
		}
	} else {
		/* M = 1: a 4096 × 4096 weight (larger than the L2 caches, F32 = 64 MB) and the MiniLM
		 * 1536 × 384 one (cache-resident). */
		static const int64_t shapes[][2] = {{4096, 4096}, {1536, 384}};
		for (size_t s = 0; s < 2; s++) {
			int64_t N = shapes[s][0], K = shapes[s][1];
			float *W = malloc(sizeof(float) * N * K), *X = malloc(sizeof(float) * K), *Y = malloc(sizeof(float) * N);
			for (int64_t i = 0; i < N * K; i++)
				W[i] = frand(&seed) * 0.1f;
			for (int64_t i = 0; i < K; i++)
				X[i] = frand(&seed);
			for (size_t t = 0; t < sizeof vtypes / sizeof vtypes[0]; t++) {
				cn_weight w;
				void *data = make_weight(vtypes[t], W, N, K, &w);
				if (!data)
					continue;
				for (int ti = 0; ti < nt; ti++) {
					cn_pool *pool = NULL;
					cn_pool_create(threads[ti], &pool, NULL);
					ctx_t c = {.pool = pool, .M = 1, .N = N, .K = K, .X = X, .Y = Y, .w = w};
					double sec = time_it(run_matmul, &c, ms);
					double bytes = (double)w.row_bytes * N;
					printf("{\"bench\":\"matvec\",\"type\":\"%s\",\"N\":%lld,\"K\":%lld,\"threads\":%d,\"gbps\":%.2f,"
					       "\"gflops\":%.2f,\"us\":%.2f}\n",
					       cn_ggml_type_name(vtypes[t]), (long long)N, (long long)K, threads[ti], bytes / sec / 1e9,
					       2.0 * N * K / sec / 1e9, sec * 1e6);
					fflush(stdout);
					cn_pool_free(pool);
				}
				free(data);
			}
			free(W);
			free(X);
			free(Y);
		}
	}
	return 0;
}
