/* qdot: the AVX2 integer dot products of qdot.c (M = 1 on 8-bit activations) against the
 * scalar integer reference, on rows that reach the formats' limits.
 *  - Random weight bytes (every nibble, 6-bit scale and min, Q6_K's int8 scales from −128
 *    to 127, Q8_0's −128) with realistic fp16 scales, and rows at the extremes (every
 *    quant at its largest, at 0, alternating; every K-quant scale 63 or, for Q6_K, −128),
 *    times activations with |q| = 127 everywhere, alternating signs, random, and zero.
 *  - Both paths compute the same integer sums exactly; they differ only in the order of
 *    the float additions (and the rounding of a whole super-block's int sum to float in
 *    the reference, where the AVX2 path converts smaller per-lane sums). The bound: with
 *    S = Σ over elements of the absolute values of the terms the two paths add (|quant ·
 *    scale · d · a · d_a| plus the offset's |dmin · m · a · d_a|, |32 · d · sc · a · d_a| or
 *    |8 · d · a · d_a|), |fast − ref| ≤ (nb + 16) · 2⁻²¹ · S, nb = blocks per row — a
 *    handful of roundings of relative size 2⁻²⁴ per block product and per addition.
 *  - Rows longer than the kernels' one-pass activation layouts (32768 values: the
 *    segments add up) and M = 1 matmuls bit-identical to the per-row dot for 1 and 2
 *    threads on such rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern_int.h"
#include "testutil.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}
static float frand01(void) { return (float)((rnd32() & 0xFFFFFF) / 16777216.0); }

static const cn_ggml_type types[] = {CN_GGML_Q8_0, CN_GGML_Q4_0, CN_GGML_Q4_K, CN_GGML_Q5_K, CN_GGML_Q6_K};

static size_t row_bytes(cn_ggml_type t, int64_t n)
{
	uint64_t b = 0;
	assert_true(cn_ggml_row_bytes(t, (uint64_t)n, &b));
	return (size_t)b;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* Weight row patterns: 0 random bytes, 1 every byte 0xFF (largest quants, scales 63, Q6_K
 * scales −1 … see below), 2 every byte 0x00, 3 alternating 0xFF / 0x00, 4 random with the
 * K-quant scales at their limits. fp16 scales are then set to finite values. */
static void make_row(cn_ggml_type t, uint8_t *row, int64_t n, int pattern)
{
	const cn_ggml_type_info *ti = cn_ggml_type_get(t);
	size_t nb = (size_t)(n / ti->block_size), bs = ti->type_size;
	for (size_t i = 0; i < nb * bs; i++)
		row[i] = pattern == 1 ? 0xFF : pattern == 2 ? 0x00 : pattern == 3 ? (i & 1 ? 0xFF : 0x00) : (uint8_t)rnd32();
	for (size_t b = 0; b < nb; b++) {
		uint8_t *q = row + b * bs;
		uint16_t d = cn_f32_to_f16(0.0005f + 0.05f * frand01());
		switch (t) {
		case CN_GGML_Q4_K:
		case CN_GGML_Q5_K:
			put16(q, d);
			put16(q + 2, cn_f32_to_f16(0.02f * frand01()));
			if (pattern == 4)
				memset(q + 4, 0xFF, 12); /* all scales and mins 63 */
			break;
		case CN_GGML_Q6_K:
			put16(q + 208, d);
			if (pattern == 1 || pattern == 4)
				memset(q + 192, 0x80, 16); /* scales −128 */
			else if (pattern == 3)
				for (int g = 0; g < 16; g++)
					q[192 + g] = g & 1 ? 0x7F : 0x80; /* 127, −128 */
			break;
		default: put16(q, d); break;
		}
	}
}

/* Activation patterns: 0 random in [−127, 127], 1 all +127, 2 alternating ±127, 3 zero,
 * 4 all −127. Block scales random; bsums consistent. */
static void make_act(cn_ggml_type t, void *xq, int64_t n, int pattern)
{
	bool k = cn_q8_act_type(t) == CN_GGML_Q8_K;
	int bsz = k ? CN_QK_K : CN_QK;
	for (int64_t b = 0; b < n / bsz; b++) {
		int8_t *qs = k ? ((cn_block_q8k *)xq)[b].qs : ((cn_block_q8a *)xq)[b].qs;
		float d = 1e-3f + 0.1f * frand01();
		for (int i = 0; i < bsz; i++)
			qs[i] = (int8_t)(pattern == 0   ? (int)(rnd32() % 255) - 127
			                 : pattern == 1 ? 127
			                 : pattern == 2 ? (i & 1 ? -127 : 127)
			                 : pattern == 3 ? 0
			                                : -127);
		if (k) {
			cn_block_q8k *a = (cn_block_q8k *)xq + b;
			a->d = d;
			memset(a->pad_, 0, sizeof a->pad_);
			for (int g = 0; g < 16; g++) {
				int s = 0;
				for (int i = 16 * g; i < 16 * g + 16; i++)
					s += qs[i];
				a->bsums[g] = (int16_t)s;
			}
		} else {
			((cn_block_q8a *)xq)[b].d = d;
		}
	}
}

/* S of the header: Σ |terms| of the products, from the block fields directly. */
static double abs_terms(cn_ggml_type t, const uint8_t *row, const void *xq, int64_t n)
{
	double S = 0;
	if (t == CN_GGML_Q8_0 || t == CN_GGML_Q4_0) {
		const cn_block_q8a *a = xq;
		for (int64_t b = 0; b < n / CN_QK; b++) {
			double s = 0;
			if (t == CN_GGML_Q8_0) {
				const cn_block_q8_0 *w = (const cn_block_q8_0 *)row + b;
				for (int i = 0; i < 32; i++)
					s += fabs((double)w->qs[i] * a[b].qs[i]);
				S += s * fabs((double)cn_f16_to_f32(w->d) * a[b].d);
			} else {
				const cn_block_q4_0 *w = (const cn_block_q4_0 *)row + b;
				for (int i = 0; i < 16; i++)
					s += ((w->qs[i] & 0xF) + 8.0) * abs(a[b].qs[i]) + ((w->qs[i] >> 4) + 8.0) * abs(a[b].qs[i + 16]);
				S += s * fabs((double)cn_f16_to_f32(w->d) * a[b].d);
			}
		}
		return S;
	}
	const cn_block_q8k *a = xq;
	for (int64_t b = 0; b < n / CN_QK_K; b++) {
		if (t == CN_GGML_Q6_K) {
			const cn_block_q6_K *w = (const cn_block_q6_K *)row + b;
			double s = 0;
			for (int i = 0; i < 256; i++)
				s += (63.0 + 32.0) * abs(w->scales[i / 16]) * abs(a[b].qs[i]);
			S += s * fabs((double)cn_f16_to_f32(w->d) * a[b].d);
		} else {
			const uint8_t *blk = row + (size_t)b * (t == CN_GGML_Q5_K ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K));
			double d = cn_f16_to_f32(cn_ld16(blk)), dmin = cn_f16_to_f32(cn_ld16(blk + 2));
			for (int j = 0; j < 8; j++) {
				uint8_t sc, m;
				cn_scale_min_k4(j, blk + 4, &sc, &m);
				double s = 0;
				for (int i = 32 * j; i < 32 * j + 32; i++)
					s += abs(a[b].qs[i]);
				S += s * a[b].d * (fabs(d) * sc * (t == CN_GGML_Q5_K ? 31 : 15) + fabs(dmin) * m);
			}
		}
	}
	return S;
}

static void test_fast_vs_ref_extremes(void **state)
{
	(void)state;
	static const int64_t lens[] = {256, 1024, 4864, 33024};
	const int64_t max_n = 33024;
	uint8_t *row = malloc(row_bytes(CN_GGML_Q8_0, max_n) + row_bytes(CN_GGML_Q6_K, max_n));
	void *xq = malloc(cn_q8_act_bytes(CN_GGML_Q4_K, max_n) + cn_q8_act_bytes(CN_GGML_Q8_0, max_n));
	double worst = 0;
	int checked = 0;
	for (size_t ti = 0; ti < CN_ARRAY_LEN(types); ti++) {
		cn_ggml_type t = types[ti];
		int64_t bsz = cn_ggml_type_get(t)->block_size;
		for (size_t li = 0; li < CN_ARRAY_LEN(lens); li++) {
			int64_t n = lens[li], nb = n / bsz;
			for (int wp = 0; wp < 5; wp++)
				for (int ap = 0; ap < 5; ap++) {
					make_row(t, row, n, wp);
					make_act(t, xq, n, ap);
					cn_kern_set_mode(CN_KERN_REF);
					float ref = cn_vec_dot_q8(t, row, xq, n);
					cn_kern_set_mode(CN_KERN_AUTO);
					float fast = cn_vec_dot_q8(t, row, xq, n);
					double S = abs_terms(t, row, xq, n), bound = (double)(nb + 16) * 0x1p-21 * S;
					if (!(fabs((double)fast - ref) <= bound) || !isfinite(fast))
						fail_msg("%s n=%lld row pattern %d act pattern %d: fast %.9g ref %.9g |diff| %.3g > bound %.3g",
						         cn_ggml_type_name(t), (long long)n, wp, ap, (double)fast, (double)ref,
						         fabs((double)fast - ref), bound);
					if (S > 0)
						worst = fmax(worst, fabs((double)fast - ref) / S * 0x1p21 / (double)(nb + 16));
					checked++;
				}
		}
	}
	print_message("  %d rows: largest |fast − ref| = %.3g of the bound\n", checked, worst);
	free(row);
	free(xq);
}

/* Rows longer than one activation segment (every type): cn_matmul (M = 1) equals the
 * per-row dot bit for bit, with no pool and with 1 and 2 threads; and the result is within
 * the reference bound (the segments' partial sums are one more float addition each). */
static void test_long_rows_threads(void **state)
{
	(void)state;
	const int64_t K = 33024, N = 37;
	cn_pool *pools[3] = {NULL};
	for (int p = 1; p < 3; p++)
		assert_int_equal(cn_pool_create(p, &pools[p], NULL), CAIRN_OK);
	static const cn_ggml_type lt[] = {CN_GGML_Q4_K, CN_GGML_Q5_K, CN_GGML_Q6_K, CN_GGML_Q8_0, CN_GGML_Q4_0};
	for (size_t ti = 0; ti < CN_ARRAY_LEN(lt); ti++) {
		cn_ggml_type t = lt[ti];
		size_t rb = row_bytes(t, K);
		uint8_t *data = malloc(rb * (size_t)N);
		for (int64_t r = 0; r < N; r++)
			make_row(t, data + (size_t)r * rb, K, r % 5);
		float *x = malloc(sizeof(float) * K), *want = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
		void *xq = malloc(cn_q8_act_bytes(t, K));
		for (int64_t i = 0; i < K; i++)
			x[i] = (frand01() - 0.5f) * (i % 101 == 0 ? 50.0f : 2.0f);
		cn_q8_act_quantize(t, x, xq, K);
		for (int64_t r = 0; r < N; r++)
			want[r] = cn_vec_dot_q8(t, data + (size_t)r * rb, xq, K);
		cn_weight w = {.type = t, .data = data, .rows = N, .cols = K, .row_bytes = rb};
		for (int p = 0; p < 3; p++) {
			memset(y, 0, sizeof(float) * N);
			cn_matmul(pools[p], x, 1, K, &w, NULL, y, N);
			assert_memory_equal(y, want, sizeof(float) * N);
		}
		cn_kern_set_mode(CN_KERN_REF);
		for (int64_t r = 0; r < N; r++) {
			float ref = cn_vec_dot_q8(t, data + (size_t)r * rb, xq, K);
			double S = abs_terms(t, data + (size_t)r * rb, xq, K);
			double bound = (double)(K / cn_ggml_type_get(t)->block_size + 16) * 0x1p-21 * S;
			assert_true(fabs((double)want[r] - ref) <= bound);
		}
		cn_kern_set_mode(CN_KERN_AUTO);
		free(data), free(x), free(want), free(y), free(xq);
	}
	for (int p = 1; p < 3; p++)
		cn_pool_free(pools[p]);
}

int main(void)
{
	if (!cn_kern_fast())
		printf("test_qdot: no AVX2/FMA/F16C here: both paths are the reference\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_vs_ref_extremes),
		cmocka_unit_test(test_long_rows_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
