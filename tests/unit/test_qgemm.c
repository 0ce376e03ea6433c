/*
 * test_qgemm.c — the integer GEMM for M > 1 (src/kern/qgemm.c) that cn_matmul and
 * cn_matmul_group use for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K weights in fast mode with 8-bit
 * activations.
 *
 * What is checked, per weight type, over M in {2, 3, 5, 8, 17, 64} and N / K that are not
 * multiples of the 4×4 tile or of a work item:
 *  - the AVX2 result equals the scalar reference (cn_qgemm_ref) bit for bit: both do the same
 *    exact integer block sums and the same float operations (one fmaf per block — per
 *    16-element half of it for Q8_0/Q4_0 — and element);
 *  - each row equals what the M = 1 path (cn_matmul with that one row: the decode kernels)
 *    gives, within the float summation-order bound: both sum the same exact integer block
 *    products times the same float scales, only in different orders (the decode kernels in 8
 *    lanes, then a horizontal sum), so |Δ| ≤ 2·(nb + 10)·2⁻²⁴·S with nb the number of blocks
 *    and S = Σ_k |w_k|·|a_k| over the integer terms (each weight element's largest magnitude
 *    inside its block's integer sum, times the activation's), which bounds every partial sum
 *    of either order (each path's error is at most (depth)·u·S, depth ≤ nb + 10). Observed:
 *    at most 3% of the bound; the float-product check below, at most 19% of its bound;
 *  - against the double-precision product of the dequantized weights with the float
 *    activations, within what 8-bit activations imply: Σ_k |W_k|·d_k/2 (d = max|x|/127 over
 *    the activation block), plus the float term above;
 *  - 1, 2 and 3 pool threads and no pool give identical bytes, for cn_matmul and
 *    cn_matmul_group;
 *  - bias: Y with bias is fl(Y without bias + bias) exactly; strides ldx > K and ldy > N
 *    (the padding of Y is not written).
 *  - with 8-bit activations off (CAIRN_KERNELS=f32act), M > 1 keeps the F32 path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern_int.h"

static const cn_ggml_type types[] = {CN_GGML_Q8_0, CN_GGML_Q4_K, CN_GGML_Q4_0, CN_GGML_Q5_K, CN_GGML_Q6_K};

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}
static float frand(void) { return (float)((rnd32() & 0xFFFFFF) / 16777216.0 * 2.0 - 1.0); }
static float grand(void) { return (frand() + frand() + frand() + frand()) * 0.866f; }

static bool is_k(cn_ggml_type t) { return cn_q8_act_type(t) == CN_GGML_Q8_K; }

/* A rows × cols weight of type t quantized from random floats, and its dequantization. */
static void make_weight(cn_ggml_type t, int64_t rows, int64_t cols, cn_weight *w, float **deq)
{
	uint64_t rb = 0;
	assert_true(cn_ggml_row_bytes(t, (uint64_t)cols, &rb));
	uint8_t *q = malloc(rb * (size_t)rows);
	float *src = malloc(sizeof(float) * (size_t)cols);
	*deq = malloc(sizeof(float) * (size_t)(rows * cols));
	for (int64_t r = 0; r < rows; r++) {
		for (int64_t i = 0; i < cols; i++)
			src[i] = grand() * 0.2f;
		cn_quantize_row(t, src, q + r * rb, cols);
		cn_dequantize_row(t, q + r * rb, *deq + r * cols, cols);
	}
	free(src);
	*w = (cn_weight){.type = t, .data = q, .rows = rows, .cols = cols, .row_bytes = (size_t)rb};
}

/* The largest magnitude weight element k of row contributes inside its block's integer sum,
 * in units of the activation's quantized value (the activation scale is applied by the
 * caller): |d|·|q| for Q8_0/Q4_0 (q − 8), |d|·sc·qmax + |dmin|·m for Q4_K/Q5_K, |d|·|sc|·(63 + 32)
 * for Q6_K. */
static double elem_mag(cn_ggml_type t, const uint8_t *row, int64_t k)
{
	switch (t) {
	case CN_GGML_Q8_0: {
		const cn_block_q8_0 *b = (const cn_block_q8_0 *)(const void *)row + k / 32;
		return fabs(cn_f16_to_f32(b->d)) * abs(b->qs[k % 32]);
	}
	case CN_GGML_Q4_0: {
		const cn_block_q4_0 *b = (const cn_block_q4_0 *)(const void *)row + k / 32;
		int i = (int)(k % 32), q = i < 16 ? (b->qs[i] & 0xF) - 8 : (b->qs[i - 16] >> 4) - 8;
		return fabs(cn_f16_to_f32(b->d)) * abs(q);
	}
	case CN_GGML_Q4_K:
	case CN_GGML_Q5_K: {
		size_t bsz = t == CN_GGML_Q5_K ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
		const uint8_t *b = row + (size_t)(k / 256) * bsz;
		uint8_t sc, m;
		cn_scale_min_k4((int)(k % 256 / 32), b + 4, &sc, &m);
		return fabs(cn_f16_to_f32(cn_ld16(b))) * sc * (t == CN_GGML_Q5_K ? 31 : 15) +
		       fabs(cn_f16_to_f32(cn_ld16(b + 2))) * m;
	}
	case CN_GGML_Q6_K: {
		const cn_block_q6_K *b = (const cn_block_q6_K *)(const void *)row + k / 256;
		return fabs(cn_f16_to_f32(b->d)) * abs(b->scales[k % 256 / 16]) * 95.0;
	}
	default: return 0;
	}
}

/* S of the file comment for one weight row and one quantized activation row. */
static double int_mag(cn_ggml_type t, const uint8_t *row, const void *xq, int64_t K)
{
	double s = 0;
	for (int64_t k = 0; k < K; k++) {
		double a;
		if (is_k(t)) {
			const cn_block_q8k *b = (const cn_block_q8k *)xq + k / 256;
			a = fabs((double)b->d) * abs(b->qs[k % 256]);
		} else {
			const cn_block_q8a *b = (const cn_block_q8a *)xq + k / 32;
			a = fabs((double)b->d) * abs(b->qs[k % 32]);
		}
		s += elem_mag(t, row, k) * a;
	}
	return s;
}

typedef struct shape {
	int64_t M, N, K;
} shape;

/* the last one has more activation rows than fit one L2 chunk (ACT_CHUNK / row bytes ≈ 50),
 * so the chunk loop and a partial last chunk run too */
static const shape shapes[] = {{2, 7, 512},  {3, 37, 768},  {5, 18, 256},    {8, 33, 1024},
                               {17, 5, 512}, {64, 70, 768}, {2, 1, 256},     {17, 130, 1280},
                               {203, 9, 4096}};

/* AVX2 == scalar reference bit for bit; each row ≈ the M = 1 path within the summation bound;
 * ≈ the double product within the 8-bit activation bound. */
static void test_qgemm_values(void **state)
{
	(void)state;
	if (!cn_kern_fast())
		skip(); /* no AVX2 here: cn_matmul does not take the integer path */
	cn_pool *pool = NULL;
	assert_int_equal(cn_pool_create(2, &pool, NULL), CAIRN_OK);
	cn_kern_set_q8_act(true);
	for (size_t ti = 0; ti < CN_ARRAY_LEN(types); ti++)
		for (size_t si = 0; si < CN_ARRAY_LEN(shapes); si++) {
			cn_ggml_type t = types[ti];
			int64_t M = shapes[si].M, N = shapes[si].N, K = shapes[si].K;
			if (!is_k(t) && si == 2)
				K = 96; /* three 32-blocks */
			int64_t nb = K / (is_k(t) ? 256 : 32);
			cn_weight w;
			float *Wd;
			make_weight(t, N, K, &w, &Wd);
			float *X = malloc(sizeof(float) * (size_t)(M * K)), *Y = malloc(sizeof(float) * (size_t)(M * N)),
			      *Yr = malloc(sizeof(float) * (size_t)(M * N)), *y1 = malloc(sizeof(float) * (size_t)N);
			size_t qb = cn_q8_act_bytes(t, K);
			uint8_t *xq = malloc(qb);
			for (int64_t i = 0; i < M * K; i++)
				X[i] = grand() * (1.0f + (float)(i / K % 3)); /* rows of different scales */
			cn_matmul(pool, X, M, K, &w, NULL, Y, N);
			assert_true(cn_qgemm_ref(X, M, K, &w, NULL, Yr, N));
			for (int64_t i = 0; i < M * N; i++)
				if (memcmp(&Y[i], &Yr[i], 4) != 0)
					fail_msg("qgemm %s %lldx%lldx%lld: [%lld][%lld] fast %.9g, scalar reference %.9g",
					         cn_ggml_type_name(t), (long long)M, (long long)N, (long long)K, (long long)(i / N),
					         (long long)(i % N), (double)Y[i], (double)Yr[i]);
			for (int64_t m = 0; m < M; m++) {
				const float *x = X + m * K;
				cn_matmul(pool, x, 1, K, &w, NULL, y1, N);
				cn_q8_act_quantize_ref(t, x, xq, K);
				for (int64_t j = 0; j < N; j++) {
					const uint8_t *row = (const uint8_t *)w.data + j * w.row_bytes;
					double S = int_mag(t, row, xq, K), fl = 2.0 * (double)(nb + 10) * 0x1p-24 * S;
					double y = Y[m * N + j];
					if (fabs(y - y1[j]) > fl + 1e-30)
						fail_msg("qgemm %s %lldx%lldx%lld row %lld col %lld: %.9g, M = 1 path %.9g (bound %.3g)",
						         cn_ggml_type_name(t), (long long)M, (long long)N, (long long)K, (long long)m,
						         (long long)j, y, (double)y1[j], fl);
					/* against the float product */
					double exact = 0, qerr = 0;
					const int bs = is_k(t) ? 256 : 32;
					for (int64_t b = 0; b < K; b += bs) {
						double amax = 0;
						for (int64_t k = b; k < b + bs; k++)
							amax = fabs(x[k]) > amax ? fabs(x[k]) : amax;
						for (int64_t k = b; k < b + bs; k++) {
							exact += (double)Wd[j * K + k] * x[k];
							/* d/2, plus the rounding of x·(127/max) and of d in float */
							qerr += fabs(Wd[j * K + k]) * (amax / 127.0 / 2 * (1 + 1e-5) + amax * 1e-6);
						}
					}
					if (fabs(y - exact) > qerr + fl + 1e-30)
						fail_msg("qgemm %s %lldx%lldx%lld row %lld col %lld: %.9g, float product %.9g (bound %.3g)",
						         cn_ggml_type_name(t), (long long)M, (long long)N, (long long)K, (long long)m,
						         (long long)j, y, exact, qerr + fl);
				}
			}
			free(X), free(Y), free(Yr), free(y1), free(xq), free(Wd), free((void *)w.data);
		}
	cn_pool_free(pool);
}

/* 1, 2, 3 threads and no pool: the same bytes, for cn_matmul and cn_matmul_group (a Q, K,
 * V-like group sharing one activation format: Q4_K with Q6_K, and Q8_0 with Q4_0). */
static void test_qgemm_threads(void **state)
{
	(void)state;
	cn_pool *pools[4] = {NULL};
	for (int p = 1; p < 4; p++)
		assert_int_equal(cn_pool_create(p, &pools[p], NULL), CAIRN_OK);
	cn_kern_set_q8_act(true);
	static const struct { cn_ggml_type t[3]; int64_t rows[3]; } groups[] = {
		{{CN_GGML_Q4_K, CN_GGML_Q6_K, CN_GGML_Q4_K}, {130, 35, 64}},
		{{CN_GGML_Q8_0, CN_GGML_Q4_0, CN_GGML_Q8_0}, {67, 3, 16}},
		{{CN_GGML_Q5_K, CN_GGML_Q5_K, CN_GGML_Q6_K}, {18, 19, 20}}};
	static const int64_t Ms[] = {2, 5, 17, 64};
	const int64_t K = 512;
	for (size_t gi = 0; gi < CN_ARRAY_LEN(groups); gi++)
		for (size_t mi = 0; mi < CN_ARRAY_LEN(Ms); mi++) {
			int64_t M = Ms[mi];
			cn_weight w[3];
			const cn_weight *wp[3];
			float *wd[3], *bias[3], *ref[3], *y[3];
			int64_t ld[3];
			float *X = malloc(sizeof(float) * (size_t)(M * K));
			for (int64_t i = 0; i < M * K; i++)
				X[i] = grand();
			for (int i = 0; i < 3; i++) {
				int64_t n = groups[gi].rows[i];
				make_weight(groups[gi].t[i], n, K, &w[i], &wd[i]);
				wp[i] = &w[i];
				ld[i] = n + i;
				bias[i] = i == 1 ? NULL : malloc(sizeof(float) * (size_t)n);
				for (int64_t r = 0; bias[i] && r < n; r++)
					bias[i][r] = grand();
				ref[i] = calloc((size_t)(M * ld[i]), sizeof(float));
				y[i] = calloc((size_t)(M * ld[i]), sizeof(float));
				cn_matmul(NULL, X, M, K, &w[i], bias[i], ref[i], ld[i]);
			}
			for (int p = 0; p < 4; p++) {
				for (int i = 0; i < 3; i++) {
					memset(y[i], 0, sizeof(float) * (size_t)(M * ld[i]));
					cn_matmul(pools[p], X, M, K, &w[i], bias[i], y[i], ld[i]);
					assert_memory_equal(y[i], ref[i], sizeof(float) * (size_t)(M * ld[i]));
					memset(y[i], 0, sizeof(float) * (size_t)(M * ld[i]));
				}
				cn_matmul_group(pools[p], X, M, K, 3, wp, (const float *const *)bias, y, ld);
				for (int i = 0; i < 3; i++)
					assert_memory_equal(y[i], ref[i], sizeof(float) * (size_t)(M * ld[i]));
			}
			for (int i = 0; i < 3; i++)
				free(wd[i]), free(bias[i]), free(ref[i]), free(y[i]), free((void *)w[i].data);
			free(X);
		}
	for (int p = 1; p < 4; p++)
		cn_pool_free(pools[p]);
}

/* Bias and strides: ldx > K (the padding of X holds NaN and must not be read), ldy > N (the
 * padding of Y must not be written); with a bias every element is fl(y + bias) of the same
 * product without one. The scalar reference agrees bit for bit with strides too. */
static void test_qgemm_bias_strides(void **state)
{
	(void)state;
	cn_pool *pool = NULL;
	assert_int_equal(cn_pool_create(2, &pool, NULL), CAIRN_OK);
	cn_kern_set_q8_act(true);
	for (size_t ti = 0; ti < CN_ARRAY_LEN(types); ti++) {
		cn_ggml_type t = types[ti];
		const int64_t M = 11, N = 23, K = 512, ldx = K + 37, ldy = N + 5;
		cn_weight w;
		float *Wd;
		make_weight(t, N, K, &w, &Wd);
		float *X = malloc(sizeof(float) * (size_t)(M * ldx)), *bias = malloc(sizeof(float) * (size_t)N);
		float *Y0 = malloc(sizeof(float) * (size_t)(M * ldy)), *Yb = malloc(sizeof(float) * (size_t)(M * ldy)),
		      *Yr = malloc(sizeof(float) * (size_t)(M * ldy));
		for (int64_t i = 0; i < M * ldx; i++)
			X[i] = i % ldx < K ? grand() : NAN;
		for (int64_t j = 0; j < N; j++)
			bias[j] = grand();
		for (int64_t i = 0; i < M * ldy; i++)
			Y0[i] = Yb[i] = Yr[i] = 777.0f;
		cn_matmul(pool, X, M, ldx, &w, NULL, Y0, ldy);
		cn_matmul(pool, X, M, ldx, &w, bias, Yb, ldy);
		assert_true(cn_qgemm_ref(X, M, ldx, &w, bias, Yr, ldy));
		for (int64_t m = 0; m < M; m++) {
			for (int64_t j = 0; j < N; j++) {
				float want = Y0[m * ldy + j] + bias[j];
				assert_false(isnan(Y0[m * ldy + j]));
				assert_memory_equal(&Yb[m * ldy + j], &want, 4);
				assert_memory_equal(&Yr[m * ldy + j], &want, 4);
			}
			for (int64_t j = N; j < ldy; j++)
				assert_true(Y0[m * ldy + j] == 777.0f && Yb[m * ldy + j] == 777.0f && Yr[m * ldy + j] == 777.0f);
		}
		free(X), free(bias), free(Y0), free(Yb), free(Yr), free(Wd), free((void *)w.data);
	}
	cn_pool_free(pool);
}

/* With 8-bit activations off, M > 1 products are the F32 GEMM's: within F32 rounding of the
 * double product (far inside the 8-bit bound), and different from the integer result. */
static void test_qgemm_f32act(void **state)
{
	(void)state;
	const int64_t M = 9, N = 20, K = 512;
	for (size_t ti = 0; ti < CN_ARRAY_LEN(types); ti++) {
		cn_ggml_type t = types[ti];
		cn_weight w;
		float *Wd;
		make_weight(t, N, K, &w, &Wd);
		float *X = malloc(sizeof(float) * (size_t)(M * K)), *Yf = malloc(sizeof(float) * (size_t)(M * N)),
		      *Yq = malloc(sizeof(float) * (size_t)(M * N));
		for (int64_t i = 0; i < M * K; i++)
			X[i] = grand();
		cn_kern_set_q8_act(false);
		cn_matmul(NULL, X, M, K, &w, NULL, Yf, N);
		cn_kern_set_q8_act(true);
		cn_matmul(NULL, X, M, K, &w, NULL, Yq, N);
		int differ = 0;
		for (int64_t m = 0; m < M; m++)
			for (int64_t j = 0; j < N; j++) {
				double exact = 0, mag = 0;
				for (int64_t k = 0; k < K; k++) {
					exact += (double)Wd[j * K + k] * X[m * K + k];
					mag += fabs((double)Wd[j * K + k] * X[m * K + k]);
				}
				assert_true(fabs(Yf[m * N + j] - exact) <= 1e-5 * mag + 1e-30);
				differ += Yf[m * N + j] != Yq[m * N + j];
			}
		if (cn_kern_fast())
			assert_true(differ > M * N / 2);
		free(X), free(Yf), free(Yq), free(Wd), free((void *)w.data);
	}
}

int main(void)
{
	cn_kern_set_mode(CN_KERN_AUTO);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qgemm_values),
		cmocka_unit_test(test_qgemm_threads),
		cmocka_unit_test(test_qgemm_bias_strides),
		cmocka_unit_test(test_qgemm_f32act),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
