/* kern: the CPU kernels against independent expectations.
 *  - half/bfloat16 conversions: every half round-trips; rounding cases spelt out by hand;
 *    numpy's conversions agree bit for bit (through the F16/BF16 "quantizers").
 *  - every supported type: C dequantization (reference and AVX2) equals the numpy
 *    implementation of tests/reference/ggml_quants.py bit for bit, on random blocks and on
 *    quantized random data; the C quantizers of the simple types equal numpy's (= ggml's
 *    reference quantizers) byte for byte; K-quant blocks from numpy dequantize identically
 *    in C; quantization error of every type is within a per-type bound.
 *  - vec_dot, sgemm, matmul (each type, many shapes: M = 1, odd sizes, tails, ld > cols,
 *    bias or not, alpha/beta) fast path vs reference path vs a double-precision naive
 *    product, within K·2⁻²³-style bounds (M = 1 on 8-bit activations: within the bound
 *    their quantization error implies); own GEMM vs OpenBLAS.
 *  - the 8-bit activation path (qdot.c): both quantizers give the same bytes, each value
 *    within d/2; integer dot products exactly equal to the scalar integer reference and to
 *    a double-precision dequantized product on inputs where every float sum is exact;
 *    within the quantization-error bound on Gaussian data; M = 1 matmuls bit-identical to
 *    the per-row dot for 1-3 threads and odd row counts. cn_attend1 vs double precision.
 *  - results are bit-identical with 1 and 2 threads (own GEMM and OpenBLAS path).
 *  - row operations vs double-precision libm (tolerances as stated in ops.c) and vs PyTorch
 *    (tests/reference/kern_torch.py, skipped without torch).
 *  - the pool: ranges cover [0, n) exactly once, contiguous, ≥ grain, n = 0, n < threads,
 *    thousands of tiny jobs.
 * Python runs through popen(/usr/bin/python3); those tests skip when numpy is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kern/kern_int.h" /* cn_pool_scratch */
#include "testutil.h"

static const cn_ggml_type all_types[] = {CN_GGML_F32,  CN_GGML_F16,  CN_GGML_BF16, CN_GGML_Q8_0,
                                         CN_GGML_Q4_0, CN_GGML_Q4_1, CN_GGML_Q5_0, CN_GGML_Q5_1,
                                         CN_GGML_Q4_K, CN_GGML_Q5_K, CN_GGML_Q6_K};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}
static float frand(void) { return (float)((rnd32() & 0xFFFFFF) / 16777216.0 * 2.0 - 1.0); }
static float grand(void) /* roughly normal */
{
	return (frand() + frand() + frand() + frand()) * 0.866f;
}

static size_t row_bytes(cn_ggml_type t, int64_t n)
{
	uint64_t b = 0;
	assert_true(cn_ggml_row_bytes(t, (uint64_t)n, &b));
	return (size_t)b;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* Random bytes with every fp16 scale field set to a sane finite value. */
static void random_blocks(cn_ggml_type t, uint8_t *p, int64_t n_elems)
{
	const cn_ggml_type_info *ti = cn_ggml_type_get(t);
	size_t nb = (size_t)(n_elems / ti->block_size), bs = ti->type_size;
	if (t == CN_GGML_F32) {
		for (int64_t i = 0; i < n_elems; i++) {
			float f = grand();
			memcpy(p + 4 * i, &f, 4);
		}
		return;
	}
	if (t == CN_GGML_F16 || t == CN_GGML_BF16) {
		for (int64_t i = 0; i < n_elems; i++)
			put16(p + 2 * i, t == CN_GGML_F16 ? cn_f32_to_f16(grand() * 10) : cn_f32_to_bf16(grand() * 10));
		return;
	}
	for (size_t i = 0; i < nb * bs; i++)
		p[i] = (uint8_t)rnd32();
	for (size_t b = 0; b < nb; b++) {
		uint8_t *q = p + b * bs;
		uint16_t d = cn_f32_to_f16(0.001f + 0.05f * fabsf(frand())), m = cn_f32_to_f16(0.3f * frand());
		switch (t) {
		case CN_GGML_Q4_1: case CN_GGML_Q5_1: put16(q, d); put16(q + 2, m); break;
		case CN_GGML_Q4_K: case CN_GGML_Q5_K: put16(q, d); put16(q + 2, cn_f32_to_f16(fabsf(frand()) * 0.01f)); break;
		case CN_GGML_Q6_K: put16(q + 208, d); break;
		default: put16(q, d); break;
		}
	}
}

/* ---- python ---------------------------------------------------------------------------------- */

typedef struct pyjob {
	char op[16];
	cn_ggml_type t;
	int64_t rows, cols;
	void *in;
	size_t in_len;
	void *out; /* malloc'd result */
	size_t out_len;
} pyjob;

static bool have_numpy(void)
{
	static int have = -1;
	if (have < 0)
		have = system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
	return have == 1;
}

static bool write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

static void *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *p = malloc(len > 0 ? (size_t)len : 1);
	*n = fread(p, 1, (size_t)len, f);
	fclose(f);
	return p;
}

/* Runs all jobs in one python process (one numpy import). */
static void run_python(pyjob *jobs, int n)
{
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "kern"), 0);
	char path[512], list[512];
	snprintf(list, sizeof list, "%s/jobs.txt", dir);
	FILE *jf = fopen(list, "w");
	assert_non_null(jf);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/in%d", dir, i);
		assert_true(write_file(path, jobs[i].in, jobs[i].in_len));
		fprintf(jf, "%s %s %lld %lld %s/in%d %s/out%d\n", jobs[i].op, cn_ggml_type_name(jobs[i].t),
		        (long long)jobs[i].rows, (long long)jobs[i].cols, dir, i, dir, i);
	}
	fclose(jf);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/ggml_quants.py batch %s", list);
	int rc = system(cmd);
	assert_int_equal(rc, 0);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/out%d", dir, i);
		jobs[i].out = read_file(path, &jobs[i].out_len);
		assert_non_null(jobs[i].out);
	}
	cn_test_rmtree(dir);
}

static void assert_floats_identical(const float *a, const float *b, int64_t n, const char *what)
{
	for (int64_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], 4) != 0)
			fail_msg("%s: element %lld differs: %.9g vs %.9g", what, (long long)i, (double)a[i], (double)b[i]);
}

/* ---- conversions ----------------------------------------------------------------------------- */

static void test_convert(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = cn_f16_to_f32((uint16_t)h);
		if (isnan(f)) {
			assert_true(isnan(cn_f16_to_f32(cn_f32_to_f16(f))));
			continue;
		}
		assert_int_equal(cn_f32_to_f16(f), h);
		assert_int_equal(cn_f32_to_bf16(cn_bf16_to_f32((uint16_t)h)), isnan(cn_bf16_to_f32((uint16_t)h)) ? (h | 0x40) : h);
	}
	struct { float f; uint16_t h; } cases[] = {
		{1.0f, 0x3C00}, {-2.0f, 0xC000}, {65504.0f, 0x7BFF}, {65519.99f, 0x7BFF}, {65520.0f, 0x7C00},
		{1e10f, 0x7C00}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x1.8p-25f, 0x0001}, {0x1p-14f, 0x0400},
		{1.0f + 0x1p-11f, 0x3C00} /* tie → even */, {1.0f + 0x3p-11f, 0x3C02}, {-0.0f, 0x8000},
		{INFINITY, 0x7C00}, {0x1.ffcp-15f, 0x0400} /* subnormal rounding up into the normals */,
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++)
		assert_int_equal(cn_f32_to_f16(cases[i].f), cases[i].h);
	assert_true(isnan(cn_f16_to_f32(cn_f32_to_f16(NAN))));
	assert_int_equal(cn_f32_to_bf16(1.0f), 0x3F80);
	assert_int_equal(cn_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);   /* tie → even */
	assert_int_equal(cn_f32_to_bf16(1.0f + 0x3p-8f), 0x3F82);   /* tie → even (up) */
	assert_int_equal(cn_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3F81); /* above the tie */
	assert_true(isnan(cn_bf16_to_f32(cn_f32_to_bf16(NAN))));
	assert_true(cn_kern_supports(CN_GGML_Q6_K) && !cn_kern_supports(CN_GGML_Q2_K) && !cn_kern_supports(CN_GGML_IQ4_NL) &&
	            !cn_kern_supports(999));
}

/* ---- dequantization and quantization vs numpy -------------------------------------------------- */

static void dequant_both(cn_ggml_type t, const void *data, float *ref, float *fast, int64_t rows, int64_t cols)
{
	size_t rb = row_bytes(t, cols);
	cn_kern_set_mode(CN_KERN_REF);
	for (int64_t r = 0; r < rows; r++)
		cn_dequantize_row(t, (const uint8_t *)data + r * rb, ref + r * cols, cols);
	cn_kern_set_mode(CN_KERN_AUTO);
	for (int64_t r = 0; r < rows; r++)
		cn_dequantize_row(t, (const uint8_t *)data + r * rb, fast + r * cols, cols);
}

static void test_dequant_vs_python(void **state)
{
	(void)state;
	if (!have_numpy())
		skip();
	const int64_t rows = 6, cols = 1024;
	pyjob jobs[2 * N_TYPES];
	uint8_t *blocks[N_TYPES];
	float *x = malloc(sizeof(float) * rows * cols);
	for (int64_t i = 0; i < rows * cols; i++)
		x[i] = grand() * (i % 97 == 0 ? 8.0f : 1.0f); /* some outliers per block */
	x[5] = 0; /* and an all-zero block of 32 / run of zeros */
	memset(x + 64, 0, 32 * sizeof(float));
	uint8_t *quant[N_TYPES];
	for (size_t i = 0; i < N_TYPES; i++) {
		cn_ggml_type t = all_types[i];
		size_t rb = row_bytes(t, cols);
		blocks[i] = malloc(rb * rows);
		random_blocks(t, blocks[i], rows * cols);
		jobs[i] = (pyjob){.t = t, .rows = rows, .cols = cols, .in = blocks[i], .in_len = rb * rows};
		strcpy(jobs[i].op, "dequantize");
		quant[i] = malloc(rb * rows);
		for (int64_t r = 0; r < rows; r++)
			cn_quantize_row(t, x + r * cols, quant[i] + r * rb, cols);
		jobs[N_TYPES + i] = (pyjob){.t = t, .rows = rows, .cols = cols, .in = quant[i], .in_len = rb * rows};
		strcpy(jobs[N_TYPES + i].op, "dequantize");
	}
	run_python(jobs, 2 * N_TYPES);
	float *ref = malloc(sizeof(float) * rows * cols), *fast = malloc(sizeof(float) * rows * cols);
	for (size_t j = 0; j < 2 * N_TYPES; j++) {
		cn_ggml_type t = jobs[j].t;
		char what[64];
		snprintf(what, sizeof what, "%s %s", cn_ggml_type_name(t), j < N_TYPES ? "random blocks" : "quantized data");
		assert_int_equal(jobs[j].out_len, sizeof(float) * rows * cols);
		dequant_both(t, jobs[j].in, ref, fast, rows, cols);
		assert_floats_identical(ref, jobs[j].out, rows * cols, what);
		assert_floats_identical(fast, jobs[j].out, rows * cols, what);
		free(jobs[j].out);
	}
	for (size_t i = 0; i < N_TYPES; i++) {
		free(blocks[i]);
		free(quant[i]);
	}
	free(ref);
	free(fast);
	free(x);
}

/* Per-type bound on RMS quantization error relative to the data's RMS (≈ N(0,1) data). */
static double quant_err_bound(cn_ggml_type t)
{
	switch (t) {
	case CN_GGML_F32: return 0;
	case CN_GGML_F16: return 1e-3;
	case CN_GGML_BF16: return 4e-3;
	case CN_GGML_Q8_0: return 0.01;
	case CN_GGML_Q6_K: return 0.03;
	case CN_GGML_Q5_0: case CN_GGML_Q5_1: case CN_GGML_Q5_K: return 0.06;
	default: return 0.12; /* 4-bit */
	}
}

static double rel_rms(const float *a, const float *b, int64_t n)
{
	double e = 0, s = 0;
	for (int64_t i = 0; i < n; i++) {
		e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		s += (double)b[i] * b[i];
	}
	return sqrt(e / (s > 0 ? s : 1));
}

static void test_quant_vs_python(void **state)
{
	(void)state;
	if (!have_numpy())
		skip();
	const int64_t rows = 8, cols = 512;
	float *x = malloc(sizeof(float) * rows * cols);
	for (int64_t i = 0; i < rows * cols; i++)
		x[i] = grand();
	for (int64_t i = 0; i < 32; i++) /* a constant block, a zero block, a block with one value */
		x[i] = 0.5f, x[64 + i] = 0.0f, x[128 + i] = i == 7 ? -3.0f : 0.0f;
	pyjob jobs[N_TYPES];
	for (size_t i = 0; i < N_TYPES; i++) {
		jobs[i] = (pyjob){.t = all_types[i], .rows = rows, .cols = cols, .in = x, .in_len = sizeof(float) * rows * cols};
		strcpy(jobs[i].op, "quantize");
	}
	run_python(jobs, N_TYPES);
	float *deq = malloc(sizeof(float) * rows * cols), *deq2 = malloc(sizeof(float) * rows * cols);
	pyjob back[N_TYPES];
	for (size_t i = 0; i < N_TYPES; i++) {
		cn_ggml_type t = all_types[i];
		size_t rb = row_bytes(t, cols);
		assert_int_equal(jobs[i].out_len, rb * rows);
		uint8_t *mine = malloc(rb * rows);
		for (int64_t r = 0; r < rows; r++)
			cn_quantize_row(t, x + r * cols, mine + r * rb, cols);
		bool simple = t != CN_GGML_Q4_K && t != CN_GGML_Q5_K && t != CN_GGML_Q6_K;
		if (simple && memcmp(mine, jobs[i].out, rb * rows) != 0) {
			size_t k = 0;
			while (mine[k] == ((uint8_t *)jobs[i].out)[k])
				k++;
			fail_msg("%s: C and numpy quantizers differ at byte %zu", cn_ggml_type_name(t), k);
		}
		/* both quantizers' blocks dequantize to within the type's error bound */
		dequant_both(t, mine, deq, deq2, rows, cols);
		double e1 = rel_rms(deq, x, rows * cols);
		dequant_both(t, jobs[i].out, deq, deq2, rows, cols);
		double e2 = rel_rms(deq, x, rows * cols);
		if (e1 > quant_err_bound(t) || e2 > quant_err_bound(t))
			fail_msg("%s: relative RMS error C %.4g, numpy %.4g (bound %.3g)", cn_ggml_type_name(t), e1, e2,
			         quant_err_bound(t));
		back[i] = (pyjob){.t = t, .rows = rows, .cols = cols, .in = jobs[i].out, .in_len = jobs[i].out_len};
		strcpy(back[i].op, "dequantize");
		free(mine);
	}
	/* numpy's K-quant blocks: numpy's dequantization equals C's */
	run_python(back, N_TYPES);
	for (size_t i = 0; i < N_TYPES; i++) {
		dequant_both(all_types[i], jobs[i].out, deq, deq2, rows, cols);
		assert_floats_identical(deq, back[i].out, rows * cols, cn_ggml_type_name(all_types[i]));
		assert_floats_identical(deq2, back[i].out, rows * cols, cn_ggml_type_name(all_types[i]));
		free(back[i].out);
		free(jobs[i].out);
	}
	free(deq);
	free(deq2);
	free(x);
}

/* ---- vec_dot ----------------------------------------------------------------------------------- */

/* |got − exact| ≤ tol · Σ|w·x| with exact in double from the reference dequantization. */
static void check_close(double got, double exact, double absum, double tol, const char *what)
{
	if (fabs(got - exact) > tol * absum + 1e-30)
		fail_msg("%s: %.9g vs exact %.9g (diff %.3g, allowed %.3g)", what, got, exact, fabs(got - exact), tol * absum);
}

static void test_vec_dot(void **state)
{
	(void)state;
	static const int64_t lens[] = {256, 512, 1536, 4096};
	for (size_t ti = 0; ti < N_TYPES; ti++) {
		cn_ggml_type t = all_types[ti];
		for (size_t li = 0; li < CN_ARRAY_LEN(lens); li++) {
			int64_t n = lens[li];
			if (t == CN_GGML_F32 || t == CN_GGML_F16 || t == CN_GGML_BF16)
				n += li; /* plain types: odd lengths too */
			float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *dq = malloc(sizeof(float) * n);
			uint8_t *q = malloc(row_bytes(t, n));
			for (int64_t i = 0; i < n; i++)
				w[i] = grand(), x[i] = grand();
			cn_quantize_row(t, w, q, n);
			cn_kern_set_mode(CN_KERN_REF);
			cn_dequantize_row(t, q, dq, n);
			double exact = 0, absum = 0;
			for (int64_t i = 0; i < n; i++)
				exact += (double)dq[i] * x[i], absum += fabs((double)dq[i] * x[i]);
			float ref = cn_vec_dot(t, q, x, n);
			cn_kern_set_mode(CN_KERN_AUTO);
			float fast = cn_vec_dot(t, q, x, n);
			char what[64];
			snprintf(what, sizeof what, "vec_dot %s n=%lld", cn_ggml_type_name(t), (long long)n);
			check_close(ref, exact, absum, 1e-6, what);
			check_close(fast, exact, absum, 4e-6, what); /* float accumulation, blocks of ≤ 32 */
			free(w), free(x), free(dq), free(q);
		}
	}
}

/* ---- sgemm and matmul -------------------------------------------------------------------------- */

typedef struct shape { int64_t M, N, K; } shape;

/* C_exact = alpha·A·op(B) + beta·C0 in double; checks C within (K·2⁻²² + 1e-6)·(Σ|a·b|·|alpha| + |beta·c0|). */
static void check_gemm(const float *C, const float *C0, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, int64_t ldc,
                       const char *what)
{
	double tol = K * 0x1p-22 + 1e-6;
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++) {
			double s = 0, a = 0;
			for (int64_t k = 0; k < K; k++) {
				double p = (double)A[i * lda + k] * (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
				s += p, a += fabs(p);
			}
			double c0 = beta != 0.0f ? (double)beta * C0[i * ldc + j] : 0.0;
			double want = alpha * s + c0, got = C[i * ldc + j];
			if (fabs(got - want) > tol * (fabs(alpha) * a + fabs(c0)) + 1e-30)
				fail_msg("%s: C[%lld][%lld] = %.9g, want %.9g", what, (long long)i, (long long)j, got, want);
		}
}

static void test_sgemm(void **state)
{
	(void)state;
	static const shape shapes[] = {{1, 1, 1},    {1, 17, 5},   {5, 3, 8},     {6, 16, 64},  {7, 17, 33},
	                               {13, 40, 100}, {32, 64, 384}, {37, 130, 300}, {64, 70, 520}, {100, 33, 7}};
	cn_pool *pool = NULL;
	assert_int_equal(cn_pool_create(2, &pool, NULL), CAIRN_OK);
	for (size_t si = 0; si < CN_ARRAY_LEN(shapes); si++) {
		int64_t M = shapes[si].M, N = shapes[si].N, K = shapes[si].K;
		for (int tb = 0; tb < 2; tb++) {
			int64_t lda = K + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
			float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * (tb ? N : K) * ldb);
			float *C0 = malloc(sizeof(float) * M * ldc), *C = malloc(sizeof(float) * M * ldc);
			for (int64_t i = 0; i < M * lda; i++)
				A[i] = grand();
			for (int64_t i = 0; i < (tb ? N : K) * ldb; i++)
				B[i] = grand();
			for (int64_t i = 0; i < M * ldc; i++)
				C0[i] = grand();
			struct { cn_kern_mode mode; cn_gemm_impl impl; const char *name; } paths[] = {
				{CN_KERN_REF, CN_GEMM_AUTO, "ref"}, {CN_KERN_AUTO, CN_GEMM_OWN, "own"}, {CN_KERN_AUTO, CN_GEMM_BLAS, "blas"}};
			float ab[][2] = {{1.0f, 0.0f}, {0.5f, 0.25f}, {-2.0f, 1.0f}};
			for (size_t p = 0; p < CN_ARRAY_LEN(paths); p++)
				for (size_t k = 0; k < CN_ARRAY_LEN(ab); k++) {
					cn_kern_set_mode(paths[p].mode);
					cn_gemm_set_impl(paths[p].impl);
					memcpy(C, C0, sizeof(float) * M * ldc);
					if (ab[k][1] == 0.0f) /* beta 0: C must not be read (NaN there must not leak) */
						for (int64_t i = 0; i < M * ldc; i++)
							C[i] = NAN;
					cn_sgemm(p == 1 ? pool : NULL, tb, M, N, K, ab[k][0], A, lda, B, ldb, ab[k][1], C, ldc);
					char what[128];
					snprintf(what, sizeof what, "sgemm %s %lldx%lldx%lld trans_b=%d alpha=%g beta=%g", paths[p].name,
					         (long long)M, (long long)N, (long long)K, tb, (double)ab[k][0], (double)ab[k][1]);
					check_gemm(C, C0, tb, M, N, K, ab[k][0], A, lda, B, ldb, ab[k][1], ldc, what);
					/* the padding between rows is untouched */
					for (int64_t i = 0; i < M; i++)
						for (int64_t j = N; j < ldc; j++)
							if (ab[k][1] != 0.0f)
								assert_memory_equal(&C[i * ldc + j], &C0[i * ldc + j], 4);
				}
			free(A), free(B), free(C0), free(C);
		}
	}
	cn_kern_set_mode(CN_KERN_AUTO);
	cn_gemm_set_impl(CN_GEMM_AUTO);
	cn_pool_free(pool);
}

static void make_weight(cn_ggml_type t, int64_t rows, int64_t cols, cn_weight *w, float **deq)
{
	size_t rb = row_bytes(t, cols);
	uint8_t *q = malloc(rb * rows);
	float *src = malloc(sizeof(float) * cols);
	*deq = malloc(sizeof(float) * rows * cols);
	for (int64_t r = 0; r < rows; r++) {
		for (int64_t i = 0; i < cols; i++)
			src[i] = grand() * 0.2f;
		cn_quantize_row(t, src, q + r * rb, cols);
	}
	cn_kern_mode m = cn_kern_get_mode();
	cn_kern_set_mode(CN_KERN_REF);
	for (int64_t r = 0; r < rows; r++)
		cn_dequantize_row(t, q + r * rb, *deq + r * cols, cols);
	cn_kern_set_mode(m);
	free(src);
	*w = (cn_weight){.type = t, .data = q, .rows = rows, .cols = cols, .row_bytes = rb};
}

/* The bound of the integer path: x is quantized in blocks of bs values to d·q with
 * d = max|x|/127 and |x − d·q| ≤ d/2 (plus the rounding of x·(127/max) in float), so
 * |y_j − Σ_k W[j][k]·x_k| ≤ Σ_k |W[j][k]|·d(k)/2, plus float accumulation over K terms. */
static double q8_err_bound(const float *w, const float *x, int64_t K, int bs, double *absum)
{
	double err = 0, a = 0;
	for (int64_t b = 0; b < K; b += bs) {
		double amax = 0;
		for (int64_t k = b; k < b + bs && k < K; k++)
			amax = fabs(x[k]) > amax ? fabs(x[k]) : amax;
		double d = amax / 127.0;
		for (int64_t k = b; k < b + bs && k < K; k++) {
			err += fabs(w[k]) * (d / 2 * (1 + 1e-5) + amax * 1e-6);
			a += fabs(w[k]) * (fabs(x[k]) + d / 2);
		}
	}
	*absum = a;
	return err + K * 0x1p-22 * a;
}

static void check_q8_matvec(const float *Y, const float *X, const float *Wd, int64_t N, int64_t K, int bs,
                            const char *what)
{
	for (int64_t j = 0; j < N; j++) {
		double exact = 0, absum;
		for (int64_t k = 0; k < K; k++)
			exact += (double)Wd[j * K + k] * X[k];
		double tol = q8_err_bound(Wd + j * K, X, K, bs, &absum);
		if (fabs(Y[j] - exact) > tol + 1e-30)
			fail_msg("%s: y[%lld] = %.9g, want %.9g within the Q8 bound %.3g", what, (long long)j, (double)Y[j], exact,
			         tol);
	}
}

static void test_matmul(void **state)
{
	(void)state;
	static const shape shapes[] = {{1, 1, 256},  {1, 100, 512}, {2, 17, 256}, {5, 64, 256},  {7, 130, 512},
	                               {33, 40, 512}, {64, 65, 256}, {100, 20, 256}, {1, 384, 1536}};
	cn_pool *pool = NULL;
	assert_int_equal(cn_pool_create(2, &pool, NULL), CAIRN_OK);
	for (size_t ti = 0; ti < N_TYPES; ti++) {
		cn_ggml_type t = all_types[ti];
		for (size_t si = 0; si < CN_ARRAY_LEN(shapes); si++) {
			int64_t M = shapes[si].M, N = shapes[si].N, K = shapes[si].K;
			if (t == CN_GGML_F32 && si == 2)
				K = 255; /* F32/F16/BF16 need no block multiple */
			cn_weight w;
			float *Wd;
			make_weight(t, N, K, &w, &Wd);
			int64_t ldx = K + 4, ldy = N + 3;
			float *X = malloc(sizeof(float) * M * ldx), *Y = malloc(sizeof(float) * M * ldy);
			float *bias = malloc(sizeof(float) * N), *zero = calloc((size_t)(M * ldy), sizeof(float));
			for (int64_t i = 0; i < M * ldx; i++)
				X[i] = grand();
			for (int64_t i = 0; i < N; i++)
				bias[i] = grand();
			for (int mode = 0; mode < 3; mode++) /* ref, fast, fast with F32 activations */
				for (int b = 0; b < 2; b++) {
					cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
					cn_kern_set_q8_act(mode != 2);
					for (int64_t i = 0; i < M * ldy; i++)
						Y[i] = NAN;
					cn_matmul(si % 2 ? pool : NULL, X, M, ldx, &w, b ? bias : NULL, Y, ldy);
					for (int64_t i = 0; i < M; i++)
						for (int64_t j = N; j < ldy; j++)
							assert_true(isnan(Y[i * ldy + j])); /* padding untouched */
					char what[128];
					snprintf(what, sizeof what, "matmul %s %s %lldx%lldx%lld bias=%d", cn_ggml_type_name(t),
					         mode == 2 ? "fast-f32act" : mode ? "fast" : "ref", (long long)M, (long long)N, (long long)K,
					         b);
					/* subtract the bias, then compare with X·Wdᵀ (beta = 0) */
					if (b)
						for (int64_t i = 0; i < M; i++)
							for (int64_t j = 0; j < N; j++)
								Y[i * ldy + j] -= bias[j];
					if (mode == 1 && cn_q8_act_type(t) != CN_GGML_F32) /* 8-bit activations, any M */
						for (int64_t i = 0; i < M; i++)
							check_q8_matvec(Y + i * ldy, X + i * ldx, Wd, N, K,
							                cn_q8_act_type(t) == CN_GGML_Q8_K ? 256 : 32, what);
					else
						check_gemm(Y, zero, true, M, N, K, 1.0f, X, ldx, Wd, K, 0.0f, ldy, what);
				}
			free(X), free(Y), free(bias), free(zero), free(Wd), free((void *)w.data);
		}
	}
	cn_kern_set_mode(CN_KERN_AUTO);
	cn_kern_set_q8_act(true);
	cn_pool_free(pool);
}

/* ---- determinism over thread counts ---------------------------------------------------------- */

static void test_thread_determinism(void **state)
{
	(void)state;
	cn_pool *p1 = NULL, *p2 = NULL;
	assert_int_equal(cn_pool_create(1, &p1, NULL), CAIRN_OK);
	assert_int_equal(cn_pool_create(2, &p2, NULL), CAIRN_OK);
	static const shape shapes[] = {{1, 384, 512}, {3, 70, 256}, {40, 384, 512}, {300, 64, 512}, {700, 130, 256}};
	static const cn_ggml_type types[] = {CN_GGML_F32, CN_GGML_Q8_0, CN_GGML_Q4_K, CN_GGML_F16};
	for (int impl = CN_GEMM_OWN; impl <= CN_GEMM_BLAS; impl++) {
		cn_gemm_set_impl((cn_gemm_impl)impl);
		for (size_t si = 0; si < CN_ARRAY_LEN(shapes); si++)
			for (size_t ti = 0; ti < CN_ARRAY_LEN(types); ti++) {
				int64_t M = shapes[si].M, N = shapes[si].N, K = shapes[si].K;
				cn_weight w;
				float *Wd;
				make_weight(types[ti], N, K, &w, &Wd);
				float *X = malloc(sizeof(float) * M * K), *Y1 = malloc(sizeof(float) * M * N),
				      *Y2 = malloc(sizeof(float) * M * N), *Y0 = malloc(sizeof(float) * M * N);
				for (int64_t i = 0; i < M * K; i++)
					X[i] = grand();
				cn_matmul(p1, X, M, K, &w, NULL, Y1, N);
				cn_matmul(p2, X, M, K, &w, NULL, Y2, N);
				cn_matmul(NULL, X, M, K, &w, NULL, Y0, N);
				assert_memory_equal(Y1, Y2, sizeof(float) * M * N);
				assert_memory_equal(Y1, Y0, sizeof(float) * M * N);
				/* cn_sgemm on the dequantized weights, both layouts */
				cn_sgemm(p1, true, M, N, K, 1.0f, X, K, Wd, K, 0.0f, Y1, N);
				cn_sgemm(p2, true, M, N, K, 1.0f, X, K, Wd, K, 0.0f, Y2, N);
				assert_memory_equal(Y1, Y2, sizeof(float) * M * N);
				cn_sgemm(p1, false, M, K, N, 1.0f, Y0, N, Wd, K, 0.0f, X, K);
				memcpy(Y1, X, sizeof(float) * (M * N < M * K ? M * N : M * K));
				cn_sgemm(p2, false, M, K, N, 1.0f, Y0, N, Wd, K, 0.0f, X, K);
				assert_memory_equal(Y1, X, sizeof(float) * (M * N < M * K ? M * N : M * K));
				free(X), free(Y0), free(Y1), free(Y2), free(Wd), free((void *)w.data);
			}
	}
	/* own vs OpenBLAS: same products within rounding */
	int64_t M = 96, N = 200, K = 384;
	float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C1 = malloc(sizeof(float) * M * N),
	      *C2 = malloc(sizeof(float) * M * N);
	for (int64_t i = 0; i < M * K; i++)
		A[i] = grand();
	for (int64_t i = 0; i < N * K; i++)
		B[i] = grand();
	cn_gemm_set_impl(CN_GEMM_OWN);
	cn_sgemm(p2, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
	cn_gemm_set_impl(CN_GEMM_BLAS);
	cn_sgemm(p2, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C2, N);
	for (int64_t i = 0; i < M * N; i++)
		assert_true(fabsf(C1[i] - C2[i]) <= 1e-4f * (1.0f + fabsf(C2[i])));
	free(A), free(B), free(C1), free(C2);
	cn_gemm_set_impl(CN_GEMM_AUTO);
	cn_pool_free(p1);
	cn_pool_free(p2);
}

/* ---- integer dot products with quantized activations (qdot.c) ------------------------------------- */

static const cn_ggml_type q8_types[] = {CN_GGML_Q8_0, CN_GGML_Q4_0, CN_GGML_Q4_K, CN_GGML_Q5_K, CN_GGML_Q6_K};

/* Activation quantizer: reference and AVX2 give the same bytes; every value within d/2 of
 * x with d = max|x|/127 over its block; |q| ≤ 127; the 16-element sums are the sums. Rows
 * with an all-zero block, a single spike and wide dynamic range included. */
static void test_q8_quantize(void **state)
{
	(void)state;
	const int64_t n = 1024;
	float *x = malloc(sizeof(float) * n);
	for (int kind = 0; kind < 4; kind++) {
		for (int64_t i = 0; i < n; i++)
			x[i] = kind == 3 ? grand() * powf(10.0f, (float)(i % 7) - 3.0f) : grand() * (kind + 1);
		if (kind == 1)
			memset(x + 256, 0, sizeof(float) * 256); /* a zero block of both sizes */
		if (kind == 2)
			x[300] = 1000.0f;
		for (size_t ti = 0; ti < 2; ti++) {
			cn_ggml_type wt = ti ? CN_GGML_Q4_K : CN_GGML_Q8_0;
			size_t nb = cn_q8_act_bytes(wt, n);
			assert_int_equal(nb, ti ? 4 * sizeof(cn_block_q8k) : 32 * sizeof(cn_block_q8a));
			uint8_t *r = malloc(nb), *f = malloc(nb);
			memset(r, 0xAA, nb);
			memset(f, 0x55, nb);
			cn_kern_set_mode(CN_KERN_REF);
			cn_q8_act_quantize(wt, x, r, n);
			cn_kern_set_mode(CN_KERN_AUTO);
			cn_q8_act_quantize(wt, x, f, n);
			assert_memory_equal(r, f, nb);
			int bs = ti ? 256 : 32;
			for (int64_t b = 0; b < n / bs; b++) {
				float d = ti ? ((cn_block_q8k *)r)[b].d : ((cn_block_q8a *)r)[b].d;
				const int8_t *q = ti ? ((cn_block_q8k *)r)[b].qs : ((cn_block_q8a *)r)[b].qs;
				double amax = 0;
				for (int i = 0; i < bs; i++)
					amax = fmax(amax, fabs(x[b * bs + i]));
				assert_true(fabs(d - amax / 127.0) <= 1e-7 * amax);
				for (int i = 0; i < bs; i++) {
					assert_true(q[i] >= -127 && q[i] <= 127);
					double e = fabs((double)d * q[i] - x[b * bs + i]);
					if (e > d / 2 * (1 + 1e-5) + amax * 1e-6)
						fail_msg("q8 kind %d block %lld [%d]: %.9g -> %d·%.9g", kind, (long long)b, i,
						         (double)x[b * bs + i], q[i], (double)d);
				}
				if (ti)
					for (int g = 0; g < 16; g++) {
						int sum = 0;
						for (int i = 0; i < 16; i++)
							sum += q[16 * g + i];
						assert_int_equal(((cn_block_q8k *)r)[b].bsums[g], sum);
					}
			}
			free(r), free(f);
		}
	}
	free(x);
}

/* Power-of-two scales and small activation values make every product and partial sum an
 * exact float, whatever the order of the additions: then the AVX2 kernel, the scalar
 * integer reference and an independent dequantize-and-multiply in double must all agree
 * exactly, so any slip in the integer arithmetic (nibble order, the sign trick, scale and
 * min unpacking, the bsums term, the Q6_K offset) shows up as a difference. Weight bytes
 * are random (full ranges: −128 in Q8_0, all 6-bit scales/mins; Q6_K scales in [−64, 63]).
 *
 * The premise, per type: with the unit u = 2⁻¹⁰ (the smallest scale product), every lane
 * sum stays below 2²⁴ u. Q8_0/Q4_0: d ≤ 2⁻³, a.d ≤ 2⁻⁵ (4 u per integer step), |w| ≤ 128,
 * |a| ≤ 7, n ≤ 1024: 3.7M u. Q4_K: d = 2⁻³, dmin = 2⁻⁴ (distinct, so swapping them shows),
 * 63·15·3·4 u per element, n ≤ 1024: 11.6M u. Q5_K: 63·31·3·4, n ≤ 512: 12M u. Q6_K: the
 * unsigned product and the offset both count: 2·64·64·1·4 u per element, n = 256: 8.4M u. */
static void test_q8_dot_exact(void **state)
{
	(void)state;
	static const struct { cn_ggml_type t; int64_t max_n; int amax; } cases[] = {
		{CN_GGML_Q8_0, 1024, 7}, {CN_GGML_Q4_0, 1024, 7}, {CN_GGML_Q4_K, 1024, 3},
		{CN_GGML_Q5_K, 512, 3},  {CN_GGML_Q6_K, 256, 1}};
	const int64_t max_n = 1024;
	uint8_t *row = malloc(row_bytes(CN_GGML_Q8_0, max_n) + row_bytes(CN_GGML_Q6_K, max_n));
	void *xq = malloc(cn_q8_act_bytes(CN_GGML_Q4_K, max_n) + cn_q8_act_bytes(CN_GGML_Q8_0, max_n));
	float *wd = malloc(sizeof(float) * max_n), *xd = malloc(sizeof(float) * max_n);
	for (size_t ci = 0; ci < CN_ARRAY_LEN(cases); ci++) {
		cn_ggml_type t = cases[ci].t;
		const cn_ggml_type_info *info = cn_ggml_type_get(t);
		bool k = cn_q8_act_type(t) == CN_GGML_Q8_K;
		for (int64_t n = 256; n <= cases[ci].max_n; n += 256)
			for (int rep = 0; rep < 30; rep++) {
				int64_t nb = n / info->block_size;
				int amax = cases[ci].amax;
				for (size_t i = 0; i < row_bytes(t, n); i++)
					row[i] = (uint8_t)rnd32();
				for (int64_t b = 0; b < nb; b++) {
					uint8_t *q = row + b * info->type_size;
					if (t == CN_GGML_Q6_K) {
						put16(q + 208, cn_f32_to_f16(0.125f));
						for (int g = 0; g < 16; g++)
							q[192 + g] = (uint8_t)(int8_t)((int)(rnd32() % 128) - 64);
					} else if (k) {
						put16(q, cn_f32_to_f16(0.125f));
						put16(q + 2, cn_f32_to_f16(0.0625f));
					} else {
						put16(q, cn_f32_to_f16(rnd32() % 2 ? 0.125f : 0.0625f));
					}
				}
				if (k) {
					cn_block_q8k *a = xq;
					for (int64_t b = 0; b < n / 256; b++) {
						a[b].d = rnd32() % 2 ? 0x1p-5f : 0x1p-6f;
						for (int g = 0; g < 16; g++) {
							int sum = 0;
							for (int i = 16 * g; i < 16 * g + 16; i++)
								sum += a[b].qs[i] = (int8_t)((int)(rnd32() % (2 * amax + 1)) - amax);
							a[b].bsums[g] = (int16_t)sum;
						}
						for (int i = 0; i < 256; i++)
							xd[b * 256 + i] = a[b].d * a[b].qs[i];
					}
				} else {
					cn_block_q8a *a = xq;
					for (int64_t b = 0; b < n / 32; b++) {
						a[b].d = rnd32() % 2 ? 0x1p-5f : 0x1p-6f;
						for (int i = 0; i < 32; i++) {
							a[b].qs[i] = (int8_t)((int)(rnd32() % (2 * amax + 1)) - amax);
							xd[b * 32 + i] = a[b].d * a[b].qs[i];
						}
					}
				}
				cn_kern_set_mode(CN_KERN_REF);
				cn_dequantize_row(t, row, wd, n);
				double exact = 0;
				for (int64_t i = 0; i < n; i++)
					exact += (double)wd[i] * xd[i];
				float ref = cn_vec_dot_q8(t, row, xq, n);
				cn_kern_set_mode(CN_KERN_AUTO);
				float fast = cn_vec_dot_q8(t, row, xq, n);
				if (ref != (float)exact || fast != ref)
					fail_msg("q8 dot %s n=%lld rep %d: ref %.9g fast %.9g exact %.9g", cn_ggml_type_name(t),
					         (long long)n, rep, (double)ref, (double)fast, exact);
			}
	}
	free(row), free(xq), free(wd), free(xd);
}

/* Quantized weights from Gaussian data times a quantized Gaussian activation: the integer
 * path is within the bound that the activation's quantization error implies (check_q8_matvec)
 * of the exact product of the dequantized weights with the unquantized x, for both paths. */
static void test_q8_dot_vs_float(void **state)
{
	(void)state;
	static const int64_t lens[] = {256, 1024, 4864};
	for (size_t ti = 0; ti < CN_ARRAY_LEN(q8_types); ti++) {
		cn_ggml_type t = q8_types[ti];
		int bs = cn_q8_act_type(t) == CN_GGML_Q8_K ? 256 : 32;
		for (size_t li = 0; li < CN_ARRAY_LEN(lens); li++) {
			int64_t n = lens[li];
			float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *dq = malloc(sizeof(float) * n);
			uint8_t *q = malloc(row_bytes(t, n)), *xq = malloc(cn_q8_act_bytes(t, n));
			for (int64_t i = 0; i < n; i++)
				w[i] = grand(), x[i] = grand() * (i % 97 == 0 ? 20.0f : 1.0f); /* some outliers */
			cn_quantize_row(t, w, q, n);
			cn_kern_set_mode(CN_KERN_REF);
			cn_dequantize_row(t, q, dq, n);
			for (int mode = 0; mode < 2; mode++) {
				cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
				cn_q8_act_quantize(t, x, xq, n);
				float y = cn_vec_dot_q8(t, q, xq, n);
				char what[64];
				snprintf(what, sizeof what, "q8 dot %s n=%lld %s", cn_ggml_type_name(t), (long long)n,
				         mode ? "fast" : "ref");
				check_q8_matvec(&y, x, dq, 1, n, bs, what);
			}
			cn_kern_set_mode(CN_KERN_AUTO);
			free(w), free(x), free(dq), free(q), free(xq);
		}
	}
}

/* cn_matmul with M = 1 on the integer path: every output equals cn_vec_dot_q8 of its row
 * with the quantized x (bit for bit, plus the bias), for 1, 2 and 3 threads and no pool,
 * across odd row counts (ranges that do not divide evenly, rows fewer than threads). */
static void test_q8_matvec_threads(void **state)
{
	(void)state;
	cn_pool *pools[4] = {NULL};
	for (int p = 1; p < 4; p++)
		assert_int_equal(cn_pool_create(p, &pools[p], NULL), CAIRN_OK);
	static const int64_t rows[] = {1, 2, 7, 33, 130, 1001};
	for (size_t ti = 0; ti < CN_ARRAY_LEN(q8_types); ti++)
		for (size_t ri = 0; ri < CN_ARRAY_LEN(rows); ri++) {
			cn_ggml_type t = q8_types[ti];
			int64_t N = rows[ri], K = ri % 2 ? 512 : 768;
			cn_weight w;
			float *Wd;
			make_weight(t, N, K, &w, &Wd);
			float *x = malloc(sizeof(float) * K), *bias = malloc(sizeof(float) * N), *want = malloc(sizeof(float) * N),
			      *y = malloc(sizeof(float) * (N + 1));
			uint8_t *xq = malloc(cn_q8_act_bytes(t, K));
			for (int64_t i = 0; i < K; i++)
				x[i] = grand();
			for (int64_t i = 0; i < N; i++)
				bias[i] = grand();
			cn_q8_act_quantize(t, x, xq, K);
			for (int64_t j = 0; j < N; j++)
				want[j] = cn_vec_dot_q8(t, (const uint8_t *)w.data + j * w.row_bytes, xq, K) + bias[j];
			for (int p = 0; p < 4; p++) {
				y[N] = 12345.0f;
				cn_matmul(pools[p], x, 1, K, &w, bias, y, N);
				assert_memory_equal(y, want, sizeof(float) * N);
				assert_true(y[N] == 12345.0f);
			}
			free(x), free(bias), free(want), free(y), free(xq), free(Wd), free((void *)w.data);
		}
	for (int p = 1; p < 4; p++)
		cn_pool_free(pools[p]);
}

/* cn_matmul_group equals one cn_matmul per matrix, bit for bit: Q/K/V-like groups (biases,
 * 3 row counts, strided outputs), a group of mixed activation formats (Q8_0 with Q4_K: the
 * per-matrix fallback) and M = 2; no pool, 1 and 2 threads. */
static void test_matmul_group(void **state)
{
	(void)state;
	cn_pool *pools[3] = {NULL};
	for (int p = 1; p < 3; p++)
		assert_int_equal(cn_pool_create(p, &pools[p], NULL), CAIRN_OK);
	static const struct { cn_ggml_type t[3]; int64_t rows[3]; int64_t M; } cases[] = {
		{{CN_GGML_Q8_0, CN_GGML_Q8_0, CN_GGML_Q8_0}, {96, 17, 17}, 1},
		{{CN_GGML_Q4_K, CN_GGML_Q6_K, CN_GGML_Q4_K}, {130, 3, 64}, 1},
		{{CN_GGML_Q8_0, CN_GGML_Q4_K, CN_GGML_F16}, {40, 41, 42}, 1},
		{{CN_GGML_Q4_K, CN_GGML_Q4_K, CN_GGML_Q4_K}, {40, 8, 8}, 2}};
	const int64_t K = 512;
	for (size_t ci = 0; ci < CN_ARRAY_LEN(cases); ci++) {
		cn_weight w[3];
		const cn_weight *wp[3];
		float *wd[3], *bias[3], *ya[3], *yb[3];
		int64_t ld[3], M = cases[ci].M;
		float *X = malloc(sizeof(float) * M * K);
		for (int64_t i = 0; i < M * K; i++)
			X[i] = grand();
		for (int i = 0; i < 3; i++) {
			make_weight(cases[ci].t[i], cases[ci].rows[i], K, &w[i], &wd[i]);
			wp[i] = &w[i];
			ld[i] = cases[ci].rows[i] + i; /* strided rows when M > 1 */
			bias[i] = i == 1 ? NULL : malloc(sizeof(float) * cases[ci].rows[i]);
			for (int64_t r = 0; bias[i] && r < cases[ci].rows[i]; r++)
				bias[i][r] = grand();
			ya[i] = calloc((size_t)(M * ld[i]), sizeof(float));
			yb[i] = calloc((size_t)(M * ld[i]), sizeof(float));
		}
		for (int p = 0; p < 3; p++) {
			for (int i = 0; i < 3; i++)
				cn_matmul(pools[p], X, M, K, &w[i], bias[i], ya[i], ld[i]);
			cn_matmul_group(pools[p], X, M, K, 3, wp, (const float *const *)bias, yb, ld);
			for (int i = 0; i < 3; i++)
				assert_memory_equal(ya[i], yb[i], sizeof(float) * M * ld[i]);
		}
		for (int i = 0; i < 3; i++)
			free(wd[i]), free(bias[i]), free(ya[i]), free(yb[i]), free((void *)w[i].data);
		free(X);
	}
	for (int p = 1; p < 3; p++)
		cn_pool_free(pools[p]);
}

/* cn_attend1 (one query row) against the double-precision softmax(q·Kᵀ·scale)·V, both
 * paths, with strided K/V rows and L = 1. */
static void test_attend1(void **state)
{
	(void)state;
	static const int64_t Ls[] = {1, 2, 17, 300};
	const int64_t hd = 64, ld = 3 * 64 + 8;
	for (size_t li = 0; li < CN_ARRAY_LEN(Ls); li++) {
		int64_t L = Ls[li];
		float *q = malloc(sizeof(float) * hd), *K = malloc(sizeof(float) * L * ld), *V = malloc(sizeof(float) * L * ld);
		float *s = malloc(sizeof(float) * L), *o = malloc(sizeof(float) * hd);
		double *p = malloc(sizeof(double) * L);
		for (int64_t i = 0; i < hd; i++)
			q[i] = grand();
		for (int64_t i = 0; i < L * ld; i++)
			K[i] = grand(), V[i] = grand();
		double mx = -INFINITY, sum = 0;
		for (int64_t j = 0; j < L; j++) {
			double d = 0;
			for (int64_t i = 0; i < hd; i++)
				d += (double)q[i] * K[j * ld + i];
			p[j] = d * 0.125;
			mx = fmax(mx, p[j]);
		}
		for (int64_t j = 0; j < L; j++)
			sum += p[j] = exp(p[j] - mx);
		for (int mode = 0; mode < 2; mode++) {
			cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
			cn_attend1(q, K, V, ld, L, hd, 0.125f, s, o);
			for (int64_t i = 0; i < hd; i++) {
				double want = 0, a = 0;
				for (int64_t j = 0; j < L; j++)
					want += p[j] / sum * V[j * ld + i], a += p[j] / sum * fabs(V[j * ld + i]);
				if (fabs(o[i] - want) > 1e-5 * a + 1e-6)
					fail_msg("attend1 L=%lld mode %d: o[%lld] = %.9g, want %.9g", (long long)L, mode, (long long)i,
					         (double)o[i], want);
			}
		}
		free(q), free(K), free(V), free(s), free(o), free(p);
	}
	cn_kern_set_mode(CN_KERN_AUTO);
}

/* ---- row operations -------------------------------------------------------------------------- */

typedef void (*op_fn)(float *x, int64_t n);

static double gelu_d(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
/* x·(1 + tanh u)/2 written as x/(1 + e^(−2u)), which keeps its relative accuracy for x ≪ 0 */
static double gelu_tanh_d(double x) { return x / (1.0 + exp(-2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }
static double silu_d(double x) { return x / (1.0 + exp(-x)); }

/* rel is scaled by (1 + x²/8): rounding x (or x/√2) to float moves erfc/exp(−x) by a relative
 * 2·|x|·2⁻²⁴·|x|, which grows with x² in the far tails (gelu(−10) ≈ −8e-23). */
static void check_map(op_fn fn, double (*want)(double), double rel, double abs_tol, const char *name)
{
	const int64_t n = 4003;
	float *x = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n), *f = malloc(sizeof(float) * n);
	for (int64_t i = 0; i < n; i++)
		x[i] = i < 4000 ? -10.0f + 20.0f * (float)i / 4000.0f : frand() * 3;
	x[0] = 0.0f;
	memcpy(r, x, sizeof(float) * n);
	memcpy(f, x, sizeof(float) * n);
	cn_kern_set_mode(CN_KERN_REF);
	fn(r, n);
	cn_kern_set_mode(CN_KERN_AUTO);
	fn(f, n);
	for (int64_t i = 0; i < n; i++) {
		double w = want(x[i]), tol = rel * (1.0 + (double)x[i] * x[i] / 8) * fabs(w) + abs_tol;
		if (fabs(r[i] - w) > tol || fabs(f[i] - w) > tol)
			fail_msg("%s(%.9g): ref %.9g fast %.9g want %.9g", name, (double)x[i], (double)r[i], (double)f[i], w);
	}
	free(x), free(r), free(f);
}

static void test_activations(void **state)
{
	(void)state;
	check_map(cn_gelu, gelu_d, 2e-6, 1e-30, "gelu");
	/* the reference uses ggml's 0.5·x·(1 + tanhf(u)), which cancels in float for x < −3 (absolute
	 * error up to ~1e-7 near x = −5.5, exactly 0 below); the fast path's exp form does not */
	check_map(cn_gelu_tanh, gelu_tanh_d, 2e-6, 1e-7, "gelu_tanh");
	check_map(cn_silu, silu_d, 2e-6, 1e-30, "silu");
}

static void test_norms_softmax(void **state)
{
	(void)state;
	static const int64_t lens[] = {1, 7, 8, 33, 384, 1000};
	for (size_t li = 0; li < CN_ARRAY_LEN(lens); li++) {
		int64_t n = lens[li];
		float *x = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
		float *r = malloc(sizeof(float) * n), *f = malloc(sizeof(float) * n);
		double *d = malloc(sizeof(double) * n);
		for (int64_t i = 0; i < n; i++)
			x[i] = grand() * 3 + 1, w[i] = grand(), b[i] = grand();
		for (int op = 0; op < 6; op++) {
			/* double-precision expectation */
			double s = 0, ss = 0, mx = -INFINITY;
			for (int64_t i = 0; i < n; i++)
				s += x[i], ss += (double)x[i] * x[i], mx = fmax(mx, x[i]);
			double mean = s / n, var = 0;
			for (int64_t i = 0; i < n; i++)
				var += (x[i] - mean) * (x[i] - mean);
			var /= n;
			double es = 0;
			for (int64_t i = 0; i < n; i++)
				es += exp(x[i] - mx);
			for (int64_t i = 0; i < n; i++) {
				switch (op) {
				case 0: d[i] = (x[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i]; break;
				case 1: d[i] = (x[i] - mean) / sqrt(var + 1e-5); break;
				case 2: d[i] = x[i] / sqrt(ss / n + 1e-6) * w[i]; break;
				case 3: d[i] = x[i] / sqrt(ss / n + 1e-6); break;
				case 4: d[i] = exp(x[i] - mx) / es; break;
				case 5: d[i] = ss > 0 ? x[i] / sqrt(ss) : x[i]; break;
				}
			}
			for (int mode = 0; mode < 2; mode++) {
				float *y = mode ? f : r;
				memcpy(y, x, sizeof(float) * n);
				cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
				switch (op) {
				case 0: cn_layernorm(y, n, w, b, 1e-5f); break;
				case 1: cn_layernorm(y, n, NULL, NULL, 1e-5f); break;
				case 2: cn_rmsnorm(y, n, w, 1e-6f); break;
				case 3: cn_rmsnorm(y, n, NULL, 1e-6f); break;
				case 4: cn_softmax(y, n); break;
				case 5: cn_l2_normalize(y, n); break;
				}
			}
			/* layernorm of one element is 0·w + b: absolute tolerance relative to the scale */
			double scale = 0;
			for (int64_t i = 0; i < n; i++)
				scale = fmax(scale, fabs(d[i]));
			for (int64_t i = 0; i < n; i++)
				if (fabs(r[i] - d[i]) > 2e-6 * fabs(d[i]) + 1e-6 * scale ||
				    fabs(f[i] - d[i]) > 2e-6 * fabs(d[i]) + 1e-6 * scale)
					fail_msg("op %d n=%lld [%lld]: ref %.9g fast %.9g want %.9g", op, (long long)n, (long long)i,
					         (double)r[i], (double)f[i], d[i]);
		}
		free(x), free(w), free(b), free(r), free(f), free(d);
	}
	/* softmax of a huge spread: no overflow, exact zeros far below the max */
	float y[3] = {1000.0f, 0.0f, -1000.0f};
	cn_softmax(y, 3);
	assert_true(y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.0f);
	float z[4] = {0};
	cn_l2_normalize(z, 4);
	assert_true(z[0] == 0.0f);
	cn_kern_set_mode(CN_KERN_AUTO);
}

static void test_rope(void **state)
{
	(void)state;
	const int64_t heads = 3, hd = 64;
	static const int64_t rots[] = {64, 32};
	for (int neox = 0; neox < 2; neox++)
		for (size_t ri = 0; ri < 2; ri++)
			for (int64_t pos = 0; pos < 600; pos += 97) {
				int64_t n_rot = rots[ri];
				float x[3 * 64], r[3 * 64], f[3 * 64];
				for (int i = 0; i < heads * hd; i++)
					x[i] = grand();
				memcpy(r, x, sizeof x);
				memcpy(f, x, sizeof x);
				cn_kern_set_mode(CN_KERN_REF);
				cn_rope(r, heads, hd, n_rot, pos, 10000.0f, neox);
				cn_kern_set_mode(CN_KERN_AUTO);
				cn_rope(f, heads, hd, n_rot, pos, 10000.0f, neox);
				assert_memory_equal(r, f, sizeof r);
				for (int64_t h = 0; h < heads; h++)
					for (int64_t i = 0; i < hd; i++) {
						double want;
						const float *v = x + h * hd;
						if (i >= n_rot)
							want = v[i];
						else {
							int64_t pi = neox ? i % (n_rot / 2) : i / 2;
							int64_t a = neox ? pi : 2 * pi, b = neox ? pi + n_rot / 2 : 2 * pi + 1;
							double th = pos * pow(10000.0, -2.0 * pi / n_rot);
							want = i == a ? v[a] * cos(th) - v[b] * sin(th) : v[a] * sin(th) + v[b] * cos(th);
						}
						/* angles are computed in float (as HF does): error grows with pos */
						if (fabs(f[h * hd + i] - want) > 1e-6 + 2e-7 * (double)pos)
							fail_msg("rope neox=%d n_rot=%lld pos=%lld [%lld][%lld]: %.9g want %.9g", neox,
							         (long long)n_rot, (long long)pos, (long long)h, (long long)i,
							         (double)f[h * hd + i], want);
					}
			}
}

static void test_vec_ops(void **state)
{
	(void)state;
	const int64_t n = 1003;
	float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n),
	      *f = malloc(sizeof(float) * n);
	for (int64_t i = 0; i < n; i++)
		a[i] = grand(), b[i] = grand();
	for (int op = 0; op < 3; op++) {
		memcpy(r, a, sizeof(float) * n);
		memcpy(f, a, sizeof(float) * n);
		for (int mode = 0; mode < 2; mode++) {
			cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
			float *y = mode ? f : r;
			if (op == 0)
				cn_vec_add(y, b, n);
			else if (op == 1)
				cn_vec_mul(y, b, n);
			else
				cn_vec_scale(y, 0.37f, n);
		}
		for (int64_t i = 0; i < n; i++) { /* exact: one rounding each */
			float want = op == 0 ? a[i] + b[i] : op == 1 ? a[i] * b[i] : a[i] * 0.37f;
			assert_memory_equal(&r[i], &want, 4);
			assert_memory_equal(&f[i], &want, 4);
		}
	}
	double exact = 0, absum = 0;
	for (int64_t i = 0; i < n; i++)
		exact += (double)a[i] * b[i], absum += fabs((double)a[i] * b[i]);
	cn_kern_set_mode(CN_KERN_REF);
	check_close(cn_dot_f32(a, b, n), exact, absum, n * 0x1p-23, "dot ref");
	cn_kern_set_mode(CN_KERN_AUTO);
	check_close(cn_dot_f32(a, b, n), exact, absum, 1e-6, "dot fast");
	free(a), free(b), free(r), free(f);
}

static void test_vs_torch(void **state)
{
	(void)state;
	const int64_t n = 2048;
	float *x = malloc(sizeof(float) * n);
	for (int64_t i = 0; i < n; i++)
		x[i] = i < 1024 ? -8.0f + 16.0f * (float)i / 1024.0f : grand() * 2;
	char dir[256], in[300], out[300], cmd[800];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "kern-torch"), 0);
	snprintf(in, sizeof in, "%s/in", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	assert_true(write_file(in, x, sizeof(float) * n));
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/kern_torch.py %s %s %lld", in, out, (long long)n);
	int rc = system(cmd);
	if (rc != 0) { /* exit status 3: no torch here */
		free(x);
		cn_test_rmtree(dir);
		if (WIFEXITED(rc) && WEXITSTATUS(rc) == 3)
			skip();
		fail_msg("kern_torch.py failed (%d)", rc);
	}
	size_t len = 0;
	float *t = read_file(out, &len);
	assert_int_equal(len, sizeof(float) * 5 * n);
	float *y = malloc(sizeof(float) * n);
	for (int mode = 0; mode < 2; mode++) {
		cn_kern_set_mode(mode ? CN_KERN_AUTO : CN_KERN_REF);
		for (int op = 0; op < 5; op++) {
			memcpy(y, x, sizeof(float) * n);
			switch (op) {
			case 0: cn_gelu(y, n); break;
			case 1: cn_gelu_tanh(y, n); break;
			case 2: cn_silu(y, n); break;
			case 3: cn_softmax(y, n); break;
			case 4: cn_layernorm(y, n, NULL, NULL, 1e-12f); break;
			}
			/* torch computes gelu as x·(1 + erf)/2, so near 0 it carries ~|x|·6e-8 absolute error */
			for (int64_t i = 0; i < n; i++) {
				float w = t[op * n + i];
				/* layer norm: (x − mean) cancels; torch and we sum in different orders → absolute 1e-5 */
				float tol = op == 4 ? 1e-5f : 4e-6f * fabsf(w) + 2e-7f * (op < 3 ? fabsf(x[i]) : 0.0f) + 1e-12f;
				if (fabsf(y[i] - w) > tol)
					fail_msg("torch op %d mode %d x=%.9g: %.9g vs torch %.9g", op, mode, (double)x[i], (double)y[i],
					         (double)w);
			}
		}
	}
	cn_kern_set_mode(CN_KERN_AUTO);
	free(t), free(y), free(x);
	cn_test_rmtree(dir);
}

/* ---- pool -------------------------------------------------------------------------------------- */

typedef struct pool_probe {
	_Atomic int *hits;
	int64_t grain, n;
	int n_threads;
	_Atomic int calls;
	_Atomic int bad;
} pool_probe;

static void probe_fn(void *ctx, int64_t begin, int64_t end, int thread)
{
	pool_probe *p = ctx;
	atomic_fetch_add(&p->calls, 1);
	if (begin >= end || begin < 0 || end > p->n || thread < 0 || thread >= p->n_threads ||
	    (end - begin < p->grain && end != p->n))
		atomic_fetch_add(&p->bad, 1);
	for (int64_t i = begin; i < end; i++)
		atomic_fetch_add(&p->hits[i], 1);
}

static void test_pool(void **state)
{
	(void)state;
	cn_pool *pools[3] = {NULL, NULL, NULL};
	assert_int_equal(cn_pool_create(1, &pools[1], NULL), CAIRN_OK);
	assert_int_equal(cn_pool_create(3, &pools[2], NULL), CAIRN_OK);
	assert_int_equal(cn_pool_threads(NULL), 1);
	assert_int_equal(cn_pool_threads(pools[1]), 1);
	assert_int_equal(cn_pool_threads(pools[2]), 3);
	cn_pool *autop = NULL;
	assert_int_equal(cn_pool_create(0, &autop, NULL), CAIRN_OK);
	assert_true(cn_pool_threads(autop) >= 1);
	cn_pool_free(autop);
	static const int64_t ns[] = {0, 1, 2, 3, 5, 17, 1000, 100003};
	static const int64_t grains[] = {1, 2, 7, 64, 200000};
	for (int pi = 0; pi < 3; pi++)
		for (size_t ni = 0; ni < CN_ARRAY_LEN(ns); ni++)
			for (size_t gi = 0; gi < CN_ARRAY_LEN(grains); gi++) {
				int64_t n = ns[ni];
				pool_probe p = {.grain = grains[gi], .n = n, .n_threads = cn_pool_threads(pools[pi])};
				p.hits = calloc((size_t)(n + 1), sizeof(*p.hits));
				cn_pool_for(pools[pi], n, grains[gi], probe_fn, &p);
				assert_int_equal(atomic_load(&p.bad), 0);
				for (int64_t i = 0; i < n; i++)
					assert_int_equal(atomic_load(&p.hits[i]), 1);
				if (n == 0)
					assert_int_equal(atomic_load(&p.calls), 0);
				assert_true(atomic_load(&p.calls) <= p.n_threads);
				free(p.hits);
			}
	/* many tiny jobs back to back (the spin/sleep hand-over) */
	_Atomic int hits[4] = {0};
	for (int i = 0; i < 5000; i++) {
		pool_probe p = {.grain = 1, .n = 4, .n_threads = 3, .hits = hits};
		cn_pool_for(pools[2], 4, 1, probe_fn, &p);
		assert_int_equal(atomic_load(&p.bad), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(atomic_load(&hits[i]), 5000);
	/* scratch: aligned, kept, per thread */
	void *s0 = cn_pool_scratch(pools[2], 0, 1000), *s1 = cn_pool_scratch(pools[2], 1, 1000);
	assert_non_null(s0);
	assert_true(((uintptr_t)s0 & 63) == 0 && s0 != s1);
	assert_ptr_equal(cn_pool_scratch(pools[2], 0, 500), s0);
	assert_null(cn_pool_scratch(pools[2], 3, 10));
	assert_null(cn_pool_scratch(NULL, 0, 10));
	cn_pool_free(pools[1]);
	cn_pool_free(pools[2]);
	cn_pool_free(NULL);
}

static void test_weight_from_tensor(void **state)
{
	(void)state;
	static uint8_t buf[144 * 4];
	cn_gguf_tensor t = {.name = {"w", 1}, .n_dims = 2, .ne = {512, 2, 1, 1}, .type = CN_GGML_Q4_K,
	                    .nbytes = sizeof buf, .data = buf};
	cn_weight w;
	cn_err err;
	cn_err_clear(&err);
	assert_true(cn_weight_from_tensor(&t, &w, &err));
	assert_int_equal(w.rows, 2);
	assert_int_equal(w.cols, 512);
	assert_int_equal(w.row_bytes, 288);
	t.nbytes = 100;
	assert_false(cn_weight_from_tensor(&t, &w, &err));
	assert_non_null(strstr(err.msg, "'w'"));
	t.nbytes = sizeof buf;
	t.type = CN_GGML_Q2_K;
	cn_err_clear(&err);
	assert_false(cn_weight_from_tensor(&t, &w, &err));
	assert_non_null(strstr(err.msg, "Q2_K"));
	t.type = CN_GGML_Q4_K;
	t.n_dims = 3;
	t.ne[2] = 2;
	cn_err_clear(&err);
	assert_false(cn_weight_from_tensor(&t, &w, &err));
	t.n_dims = 2;
	t.ne[2] = 1;
	t.ne[0] = 100; /* not a multiple of 256 */
	cn_err_clear(&err);
	assert_false(cn_weight_from_tensor(&t, &w, &err));
}

static void test_describe(void **state)
{
	(void)state;
	const cn_cpu_features *f = cn_cpu_get();
	cn_kern_set_mode(CN_KERN_REF);
	assert_string_equal(cn_kern_describe(), "reference");
	cn_kern_set_mode(CN_KERN_AUTO);
	if (f->avx2 && f->fma && f->f16c)
		assert_string_equal(cn_kern_describe(), "avx2+fma+f16c");
}

static struct timespec t_start;
static int t_setup(void **state)
{
	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	return 0;
}
static int t_teardown(void **state)
{
	(void)state;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (getenv("CN_TEST_TIMING"))
		fprintf(stderr, "  (%.3f s)\n", (double)(t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) * 1e-9);
	return 0;
}
#undef cmocka_unit_test
#define cmocka_unit_test(f) cmocka_unit_test_setup_teardown(f, t_setup, t_teardown)

int main(void)
{
	/* CAIRN_KERNELS=ref forces the reference path: the tests set the mode themselves */
	cn_kern_set_mode(CN_KERN_AUTO);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convert),          cmocka_unit_test(test_dequant_vs_python),
		cmocka_unit_test(test_quant_vs_python),  cmocka_unit_test(test_vec_dot),
		cmocka_unit_test(test_sgemm),            cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_thread_determinism), cmocka_unit_test(test_activations),
		cmocka_unit_test(test_norms_softmax),    cmocka_unit_test(test_rope),
		cmocka_unit_test(test_vec_ops),          cmocka_unit_test(test_vs_torch),
		cmocka_unit_test(test_pool),             cmocka_unit_test(test_weight_from_tensor),
		cmocka_unit_test(test_describe),         cmocka_unit_test(test_q8_quantize),
		cmocka_unit_test(test_q8_dot_exact),     cmocka_unit_test(test_q8_dot_vs_float),
		cmocka_unit_test(test_q8_matvec_threads), cmocka_unit_test(test_matmul_group),
		cmocka_unit_test(test_attend1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
