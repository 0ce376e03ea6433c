/*
 * quants.c — ggml's quantized row formats: dequantization (reference and AVX2) and the
 * reference quantizers.
 *
 * The reference dequantizers follow ggml-quants.c's dequantize_row_* expression for
 * expression (same operand order, no fused multiply-add: the build is ISO C, where GCC does
 * not contract), so they give ggml's floats bit for bit. The AVX2 versions do the same
 * operations lane-wise (multiply, then add/subtract — never FMA) and therefore give the same
 * bits; the tests compare them exactly.
 *
 * Quantizers are ports of ggml's reference quantizers (quantize_row_*_ref): Q8_0, Q4_0,
 * Q4_1, Q5_0, Q5_1 as is, and for Q4_K/Q5_K ggml's make_qkx2_quants search and for Q6_K
 * its make_qx_quants (rmse_type 1) — the same algorithms `llama-quantize` uses without an
 * importance matrix, so files we write quantize as llama.cpp's would.
 */
#include "kern/kern_int.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

#define F16(h) cn_f16_to_f32(h)
#define MINI(a, b) ((a) < (b) ? (a) : (b))
#define MAXI(a, b) ((a) > (b) ? (a) : (b))

/* ---- reference dequantization ----------------------------------------------------------- */

static void deq_q4_0(const cn_block_q4_0 *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d);
		for (int j = 0; j < 16; j++) {
			const int x0 = (x[i].qs[j] & 0x0F) - 8, x1 = (x[i].qs[j] >> 4) - 8;
			y[i * 32 + j] = x0 * d;
			y[i * 32 + j + 16] = x1 * d;
		}
	}
}

static void deq_q4_1(const cn_block_q4_1 *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d), m = F16(x[i].m);
		for (int j = 0; j < 16; j++) {
			const int x0 = x[i].qs[j] & 0x0F, x1 = x[i].qs[j] >> 4;
			y[i * 32 + j] = x0 * d + m;
			y[i * 32 + j + 16] = x1 * d + m;
		}
	}
}

static void deq_q5_0(const cn_block_q5_0 *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d);
		uint32_t qh;
		memcpy(&qh, x[i].qh, 4);
		for (int j = 0; j < 16; j++) {
			const uint8_t xh0 = (uint8_t)(((qh >> j) << 4) & 0x10), xh1 = (uint8_t)((qh >> (j + 12)) & 0x10);
			const int x0 = ((x[i].qs[j] & 0x0F) | xh0) - 16, x1 = ((x[i].qs[j] >> 4) | xh1) - 16;
			y[i * 32 + j] = x0 * d;
			y[i * 32 + j + 16] = x1 * d;
		}
	}
}

static void deq_q5_1(const cn_block_q5_1 *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d), m = F16(x[i].m);
		uint32_t qh;
		memcpy(&qh, x[i].qh, 4);
		for (int j = 0; j < 16; j++) {
			const uint8_t xh0 = (uint8_t)(((qh >> j) << 4) & 0x10), xh1 = (uint8_t)((qh >> (j + 12)) & 0x10);
			const int x0 = (x[i].qs[j] & 0x0F) | xh0, x1 = (x[i].qs[j] >> 4) | xh1;
			y[i * 32 + j] = x0 * d + m;
			y[i * 32 + j + 16] = x1 * d + m;
		}
	}
}

static void deq_q8_0(const cn_block_q8_0 *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d);
		for (int j = 0; j < 32; j++)
			y[i * 32 + j] = x[i].qs[j] * d;
	}
}

static void deq_q4_K(const cn_block_q4_K *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *q = x[i].qs;
		const float d = F16(x[i].d), min = F16(x[i].dmin);
		int is = 0;
		uint8_t sc, m;
		for (int j = 0; j < CN_QK_K; j += 64) {
			cn_scale_min_k4(is + 0, x[i].scales, &sc, &m);
			const float d1 = d * sc, m1 = min * m;
			cn_scale_min_k4(is + 1, x[i].scales, &sc, &m);
			const float d2 = d * sc, m2 = min * m;
			for (int l = 0; l < 32; ++l)
				*y++ = d1 * (q[l] & 0xF) - m1;
			for (int l = 0; l < 32; ++l)
				*y++ = d2 * (q[l] >> 4) - m2;
			q += 32;
			is += 2;
		}
	}
}

static void deq_q5_K(const cn_block_q5_K *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *ql = x[i].qs, *qh = x[i].qh;
		const float d = F16(x[i].d), min = F16(x[i].dmin);
		int is = 0;
		uint8_t sc, m, u1 = 1, u2 = 2;
		for (int j = 0; j < CN_QK_K; j += 64) {
			cn_scale_min_k4(is + 0, x[i].scales, &sc, &m);
			const float d1 = d * sc, m1 = min * m;
			cn_scale_min_k4(is + 1, x[i].scales, &sc, &m);
			const float d2 = d * sc, m2 = min * m;
			for (int l = 0; l < 32; ++l)
				*y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
			for (int l = 0; l < 32; ++l)
				*y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
			ql += 32;
			is += 2;
			u1 = (uint8_t)(u1 << 2);
			u2 = (uint8_t)(u2 << 2);
		}
	}
}

static void deq_q6_K(const cn_block_q6_K *x, float *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		const float d = F16(x[i].d);
		const uint8_t *ql = x[i].ql, *qh = x[i].qh;
		const int8_t *sc = x[i].scales;
		for (int n = 0; n < CN_QK_K; n += 128) {
			for (int l = 0; l < 32; ++l) {
				const int is = l / 16;
				const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l + 0] = d * sc[is + 0] * q1;
				y[l + 32] = d * sc[is + 2] * q2;
				y[l + 64] = d * sc[is + 4] * q3;
				y[l + 96] = d * sc[is + 6] * q4;
			}
			y += 128;
			ql += 64;
			qh += 32;
			sc += 8;
		}
	}
}

void cn_dequantize_row_ref(cn_ggml_type t, const void *src, float *dst, int64_t n)
{
	switch (t) {
	case CN_GGML_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
	case CN_GGML_F16: cn_f16_to_f32_row_ref(src, dst, n); break;
	case CN_GGML_BF16: cn_bf16_to_f32_row_ref(src, dst, n); break;
	case CN_GGML_Q4_0: deq_q4_0(src, dst, n / 32); break;
	case CN_GGML_Q4_1: deq_q4_1(src, dst, n / 32); break;
	case CN_GGML_Q5_0: deq_q5_0(src, dst, n / 32); break;
	case CN_GGML_Q5_1: deq_q5_1(src, dst, n / 32); break;
	case CN_GGML_Q8_0: deq_q8_0(src, dst, n / 32); break;
	case CN_GGML_Q4_K: deq_q4_K(src, dst, n / 256); break;
	case CN_GGML_Q5_K: deq_q5_K(src, dst, n / 256); break;
	case CN_GGML_Q6_K: deq_q6_K(src, dst, n / 256); break;
	default: memset(dst, 0, (size_t)n * sizeof(float)); break; /* unsupported: callers check first */
	}
}

void cn_dequantize_row(cn_ggml_type t, const void *src, float *dst, int64_t n)
{
#if CN_KERN_X86
	if (cn_kern_fast()) {
		cn_dequantize_row_avx2(t, src, dst, n);
		return;
	}
#endif
	cn_dequantize_row_ref(t, src, dst, n);
}

/* ---- AVX2 dequantization ------------------------------------------------------------------ */

#if CN_KERN_X86
#define F16C(h) _cvtsh_ss(h) /* exact, like cn_f16_to_f32, but one instruction */

/* 32 signed bytes → 4 × 8 floats, in order. */
CN_AVX2 static inline void i8x32_to_f32(__m256i q, __m256 out[4])
{
	__m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
	out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
	out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
	out[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
	out[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

/* 16 bytes of nibbles → 32 bytes: low nibbles first (elements 0..15), then high ones. */
CN_AVX2 static inline __m256i nibbles16(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs);
	__m128i m = _mm_set1_epi8(0x0F);
	return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* 32 bytes of nibbles → two vectors of 32: the low nibbles and the high nibbles. */
CN_AVX2 static inline void nibbles32(const uint8_t *qs, __m256i *lo, __m256i *hi)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)qs);
	__m256i m = _mm256_set1_epi8(0x0F);
	*lo = _mm256_and_si256(v, m);
	*hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
}

/* Bit i of the 32-bit word at p → byte i = 0xFF or 0 (ggml's bytes_from_bits_32). */
CN_AVX2 static inline __m256i bits32_to_bytes(const uint8_t *p)
{
	uint32_t x;
	memcpy(&x, p, 4);
	const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
	__m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
	bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
	return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/* The 32 quant values of block b of a 32-element type, as signed bytes; offsets folded in
 * where the format has them (Q4_0 −8, Q5_0 −16). */
CN_AVX2 static inline __m256i q4_0_vals(const cn_block_q4_0 *b)
{
	return _mm256_sub_epi8(nibbles16(b->qs), _mm256_set1_epi8(8));
}
CN_AVX2 static inline __m256i q4_1_vals(const cn_block_q4_1 *b) { return nibbles16(b->qs); }
CN_AVX2 static inline __m256i q5_0_vals(const cn_block_q5_0 *b)
{
	__m256i hb = _mm256_and_si256(bits32_to_bytes(b->qh), _mm256_set1_epi8(0x10));
	return _mm256_sub_epi8(_mm256_or_si256(nibbles16(b->qs), hb), _mm256_set1_epi8(16));
}
CN_AVX2 static inline __m256i q5_1_vals(const cn_block_q5_1 *b)
{
	__m256i hb = _mm256_and_si256(bits32_to_bytes(b->qh), _mm256_set1_epi8(0x10));
	return _mm256_or_si256(nibbles16(b->qs), hb);
}
CN_AVX2 static inline __m256i q8_0_vals(const cn_block_q8_0 *b)
{
	return _mm256_loadu_si256((const __m256i *)b->qs);
}

CN_AVX2 static inline void store_scaled(float *y, const __m256 f[4], __m256 d)
{
	for (int k = 0; k < 4; k++)
		_mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(f[k], d));
}
CN_AVX2 static inline void store_scaled_add(float *y, const __m256 f[4], __m256 d, __m256 m)
{
	for (int k = 0; k < 4; k++)
		_mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(f[k], d), m));
}
CN_AVX2 static inline void store_scaled_sub(float *y, const __m256 f[4], __m256 d, __m256 m)
{
	for (int k = 0; k < 4; k++)
		_mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(f[k], d), m));
}

/* Q5_K: the 5-bit values of sub-blocks 2n (from the low nibbles) and 2n+1 (high nibbles). */
CN_AVX2 static inline void q5_K_vals(const cn_block_q5_K *b, int n, __m256i *v0, __m256i *v1)
{
	__m256i lo, hi;
	nibbles32(b->qs + 32 * n, &lo, &hi);
	__m256i qh = _mm256_loadu_si256((const __m256i *)b->qh);
	__m256i one = _mm256_set1_epi8(1);
	__m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * n), one);
	__m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * n + 1), one);
	*v0 = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
	*v1 = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
}

/* Q6_K: the four runs of 32 signed values (−32..31) of 128-element half h. */
CN_AVX2 static inline void q6_K_vals(const cn_block_q6_K *b, int h, __m256i v[4])
{
	const uint8_t *ql = b->ql + 64 * h, *qhp = b->qh + 32 * h;
	__m256i l0, l1, h0, h1;
	nibbles32(ql, &l0, &h0);
	nibbles32(ql + 32, &l1, &h1);
	__m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
	__m256i three = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
	__m256i b0 = _mm256_and_si256(qh, three);
	__m256i b1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2), three);
	__m256i b2 = _mm256_and_si256(_mm256_srli_epi16(qh, 4), three);
	__m256i b3 = _mm256_and_si256(_mm256_srli_epi16(qh, 6), three);
	v[0] = _mm256_sub_epi8(_mm256_or_si256(l0, _mm256_slli_epi16(b0, 4)), off);
	v[1] = _mm256_sub_epi8(_mm256_or_si256(l1, _mm256_slli_epi16(b1, 4)), off);
	v[2] = _mm256_sub_epi8(_mm256_or_si256(h0, _mm256_slli_epi16(b2, 4)), off);
	v[3] = _mm256_sub_epi8(_mm256_or_si256(h1, _mm256_slli_epi16(b3, 4)), off);
}

CN_AVX2 void cn_dequantize_row_avx2(cn_ggml_type t, const void *src, float *y, int64_t n)
{
	__m256 f[4];
	switch (t) {
	case CN_GGML_F16: cn_f16_to_f32_row_avx2(src, y, n); return;
	case CN_GGML_BF16: cn_bf16_to_f32_row_avx2(src, y, n); return;
	case CN_GGML_Q4_0: {
		const cn_block_q4_0 *x = src;
		for (int64_t i = 0; i < n / 32; i++, y += 32) {
			i8x32_to_f32(q4_0_vals(x + i), f);
			store_scaled(y, f, _mm256_set1_ps(F16C(x[i].d)));
		}
		return;
	}
	case CN_GGML_Q4_1: {
		const cn_block_q4_1 *x = src;
		for (int64_t i = 0; i < n / 32; i++, y += 32) {
			i8x32_to_f32(q4_1_vals(x + i), f);
			store_scaled_add(y, f, _mm256_set1_ps(F16C(x[i].d)), _mm256_set1_ps(F16C(x[i].m)));
		}
		return;
	}
	case CN_GGML_Q5_0: {
		const cn_block_q5_0 *x = src;
		for (int64_t i = 0; i < n / 32; i++, y += 32) {
			i8x32_to_f32(q5_0_vals(x + i), f);
			store_scaled(y, f, _mm256_set1_ps(F16C(x[i].d)));
		}
		return;
	}
	case CN_GGML_Q5_1: {
		const cn_block_q5_1 *x = src;
		for (int64_t i = 0; i < n / 32; i++, y += 32) {
			i8x32_to_f32(q5_1_vals(x + i), f);
			store_scaled_add(y, f, _mm256_set1_ps(F16C(x[i].d)), _mm256_set1_ps(F16C(x[i].m)));
		}
		return;
	}
	case CN_GGML_Q8_0: {
		const cn_block_q8_0 *x = src;
		for (int64_t i = 0; i < n / 32; i++, y += 32) {
			i8x32_to_f32(q8_0_vals(x + i), f);
			store_scaled(y, f, _mm256_set1_ps(F16C(x[i].d)));
		}
		return;
	}
	case CN_GGML_Q4_K: {
		const cn_block_q4_K *x = src;
		for (int64_t i = 0; i < n / 256; i++) {
			const float d = F16C(x[i].d), min = F16C(x[i].dmin);
			for (int j = 0; j < 4; j++) {
				uint8_t sc, m;
				__m256i lo, hi;
				nibbles32(x[i].qs + 32 * j, &lo, &hi);
				cn_scale_min_k4(2 * j, x[i].scales, &sc, &m);
				i8x32_to_f32(lo, f);
				store_scaled_sub(y, f, _mm256_set1_ps(d * sc), _mm256_set1_ps(min * m));
				cn_scale_min_k4(2 * j + 1, x[i].scales, &sc, &m);
				i8x32_to_f32(hi, f);
				store_scaled_sub(y + 32, f, _mm256_set1_ps(d * sc), _mm256_set1_ps(min * m));
				y += 64;
			}
		}
		return;
	}
	case CN_GGML_Q5_K: {
		const cn_block_q5_K *x = src;
		for (int64_t i = 0; i < n / 256; i++) {
			const float d = F16C(x[i].d), min = F16C(x[i].dmin);
			for (int j = 0; j < 4; j++) {
				uint8_t sc, m;
				__m256i v0, v1;
				q5_K_vals(x + i, j, &v0, &v1);
				cn_scale_min_k4(2 * j, x[i].scales, &sc, &m);
				i8x32_to_f32(v0, f);
				store_scaled_sub(y, f, _mm256_set1_ps(d * sc), _mm256_set1_ps(min * m));
				cn_scale_min_k4(2 * j + 1, x[i].scales, &sc, &m);
				i8x32_to_f32(v1, f);
				store_scaled_sub(y + 32, f, _mm256_set1_ps(d * sc), _mm256_set1_ps(min * m));
				y += 64;
			}
		}
		return;
	}
	case CN_GGML_Q6_K: {
		const cn_block_q6_K *x = src;
		for (int64_t i = 0; i < n / 256; i++) {
			const float d = F16C(x[i].d);
			for (int h = 0; h < 2; h++) {
				__m256i v[4];
				q6_K_vals(x + i, h, v);
				for (int r = 0; r < 4; r++, y += 32) {
					i8x32_to_f32(v[r], f);
					/* elements 0..15 use scale 2r, 16..31 scale 2r+1 (ggml: d * sc * q) */
					__m256 s0 = _mm256_set1_ps(d * x[i].scales[8 * h + 2 * r]);
					__m256 s1 = _mm256_set1_ps(d * x[i].scales[8 * h + 2 * r + 1]);
					_mm256_storeu_ps(y, _mm256_mul_ps(s0, f[0]));
					_mm256_storeu_ps(y + 8, _mm256_mul_ps(s0, f[1]));
					_mm256_storeu_ps(y + 16, _mm256_mul_ps(s1, f[2]));
					_mm256_storeu_ps(y + 24, _mm256_mul_ps(s1, f[3]));
				}
			}
		}
		return;
	}
	default: cn_dequantize_row_ref(t, src, y, n); return;
	}
}
#endif

/* ---- reference quantizers (ports of ggml's quantize_row_*_ref) ----------------------------- */

#define GROUP_MAX_EPS 1e-15f

/* Round to nearest, ties to even, by the 1.5·2^23 trick (|fval| ≤ 2^22), as ggml does. */
static inline int nearest_int(float fval)
{
	float val = fval + 12582912.f;
	int i;
	memcpy(&i, &val, sizeof(int));
	return (i & 0x007fffff) - 0x00400000;
}

static void quant_q4_0(const float *x, cn_block_q4_0 *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < 32; j++) {
			const float v = x[i * 32 + j];
			if (amax < fabsf(v)) {
				amax = fabsf(v);
				max = v;
			}
		}
		const float d = max / -8, id = d ? 1.0f / d : 0.0f;
		y[i].d = cn_f32_to_f16(d);
		for (int j = 0; j < 16; ++j) {
			const float x0 = x[i * 32 + j] * id, x1 = x[i * 32 + 16 + j] * id;
			const uint8_t xi0 = (uint8_t)MINI(15, (int8_t)(x0 + 8.5f));
			const uint8_t xi1 = (uint8_t)MINI(15, (int8_t)(x1 + 8.5f));
			y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
		}
	}
}

static void quant_q4_1(const float *x, cn_block_q4_1 *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		float min = FLT_MAX, max = -FLT_MAX;
		for (int j = 0; j < 32; j++) {
			const float v = x[i * 32 + j];
			if (v < min)
				min = v;
			if (v > max)
				max = v;
		}
		const float d = (max - min) / ((1 << 4) - 1), id = d ? 1.0f / d : 0.0f;
		y[i].d = cn_f32_to_f16(d);
		y[i].m = cn_f32_to_f16(min);
		for (int j = 0; j < 16; ++j) {
			const float x0 = (x[i * 32 + j] - min) * id, x1 = (x[i * 32 + 16 + j] - min) * id;
			const uint8_t xi0 = (uint8_t)MINI(15, (int8_t)(x0 + 0.5f));
			const uint8_t xi1 = (uint8_t)MINI(15, (int8_t)(x1 + 0.5f));
			y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
		}
	}
}

static void quant_q5_0(const float *x, cn_block_q5_0 *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < 32; j++) {
			const float v = x[i * 32 + j];
			if (amax < fabsf(v)) {
				amax = fabsf(v);
				max = v;
			}
		}
		const float d = max / -16, id = d ? 1.0f / d : 0.0f;
		y[i].d = cn_f32_to_f16(d);
		uint32_t qh = 0;
		for (int j = 0; j < 16; ++j) {
			const float x0 = x[i * 32 + j] * id, x1 = x[i * 32 + 16 + j] * id;
			const uint8_t xi0 = (uint8_t)MINI(31, (int8_t)(x0 + 16.5f));
			const uint8_t xi1 = (uint8_t)MINI(31, (int8_t)(x1 + 16.5f));
			y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
			qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
			qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
		}
		memcpy(y[i].qh, &qh, 4);
	}
}

static void quant_q5_1(const float *x, cn_block_q5_1 *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		float min = FLT_MAX, max = -FLT_MAX;
		for (int j = 0; j < 32; j++) {
			const float v = x[i * 32 + j];
			if (v < min)
				min = v;
			if (v > max)
				max = v;
		}
		const float d = (max - min) / ((1 << 5) - 1), id = d ? 1.0f / d : 0.0f;
		y[i].d = cn_f32_to_f16(d);
		y[i].m = cn_f32_to_f16(min);
		uint32_t qh = 0;
		for (int j = 0; j < 16; ++j) {
			const float x0 = (x[i * 32 + j] - min) * id, x1 = (x[i * 32 + 16 + j] - min) * id;
			const uint8_t xi0 = (uint8_t)(x0 + 0.5f), xi1 = (uint8_t)(x1 + 0.5f);
			y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
			qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
			qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
		}
		memcpy(y[i].qh, &qh, 4);
	}
}

static void quant_q8_0(const float *x, cn_block_q8_0 *y, int64_t nb)
{
	for (int64_t i = 0; i < nb; i++) {
		float amax = 0.0f;
		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[i * 32 + j]));
		const float d = amax / ((1 << 7) - 1), id = d ? 1.0f / d : 0.0f;
		y[i].d = cn_f32_to_f16(d);
		for (int j = 0; j < 32; ++j)
			y[i].qs[j] = (int8_t)roundf(x[i * 32 + j] * id);
	}
}

static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0], sum_x = sum_w * x[0];
	for (int i = 1; i < n; ++i) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		float w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		*the_min = -min;
		return 0.f;
	}
	float iscale = nmax / (max - min), scale = 1 / iscale, best_mad = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)MAXI(0, MINI(nmax, l));
		float diff = scale * L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		best_mad += weights[i] * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	for (int is = 0; is <= nstep; ++is) {
		iscale = (rmin + rdelta * is + nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * (x[i] - min));
			l = MAXI(0, MINI(nmax, l));
			Laux[i] = (uint8_t)l;
			float w = weights[i];
			sum_l += w * l;
			sum_l2 += w * l * l;
			sum_xl += w * l * x[i];
		}
		float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float mad = 0;
			for (int i = 0; i < n; ++i) {
				float diff = this_scale * Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				mad += weights[i] * diff;
			}
			if (mad < best_mad) {
				for (int i = 0; i < n; ++i)
					L[i] = Laux[i];
				best_mad = mad;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; ++i) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		for (int i = 0; i < n; ++i)
			L[i] = 0;
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; ++i) {
		int l = nearest_int(iscale * x[i]);
		l = MAXI(-nmax, MINI(nmax - 1, l));
		L[i] = (int8_t)(l + nmax);
		float w = rmse_type == 1 ? x[i] * x[i] : 1;
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	float scale = suml2 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; ++is) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; ++i) {
			int l = nearest_int(iscale * x[i]);
			l = MAXI(-nmax, MINI(nmax - 1, l));
			float w = rmse_type == 1 ? x[i] * x[i] : 1;
			sumlx += w * x[i] * l;
			suml2 += w * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; ++i) {
				int l = nearest_int(iscale * x[i]);
				L[i] = (int8_t)(nmax + MAXI(-nmax, MINI(nmax - 1, l)));
			}
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* The shared first half of Q4_K/Q5_K: per 32-element sub-block scales and mins (nmax 15 or
 * 31), packed to 6 bits each; returns through L the final levels. */
static void quant_k_scales(const float *x, int nmax, float rmin, int nstep, uint8_t scales_out[12], uint16_t *dh,
                           uint16_t *dminh, uint8_t L[256])
{
	uint8_t Laux[32];
	float weights[32], mins[8], scales[8];
	float max_scale = 0, max_min = 0;
	for (int j = 0; j < 8; ++j) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; ++l)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; ++l)
			weights[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep,
		                             false);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
	float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
	memset(scales_out, 0, 12);
	for (int j = 0; j < 8; ++j) {
		uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
		ls = MINI(63, ls);
		lm = MINI(63, lm);
		if (j < 4) {
			scales_out[j] = ls;
			scales_out[j + 4] = lm;
		} else {
			scales_out[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
			scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
			scales_out[j - 0] |= (uint8_t)((lm >> 4) << 6);
		}
	}
	*dh = cn_f32_to_f16(max_scale / 63.f);
	*dminh = cn_f32_to_f16(max_min / 63.f);
	uint8_t sc, m;
	for (int j = 0; j < 8; ++j) {
		cn_scale_min_k4(j, scales_out, &sc, &m);
		const float d = F16(*dh) * sc;
		if (!d)
			continue;
		const float dm = F16(*dminh) * m;
		for (int ii = 0; ii < 32; ++ii) {
			int l = nearest_int((x[32 * j + ii] + dm) / d);
			L[32 * j + ii] = (uint8_t)MAXI(0, MINI(nmax, l));
		}
	}
}

static void quant_q4_K(const float *x, cn_block_q4_K *y, int64_t nb)
{
	uint8_t L[256];
	for (int64_t i = 0; i < nb; i++, x += 256) {
		quant_k_scales(x, 15, -1.f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
		uint8_t *q = y[i].qs;
		for (int j = 0; j < 256; j += 64, q += 32)
			for (int l = 0; l < 32; ++l)
				q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
	}
}

static void quant_q5_K(const float *x, cn_block_q5_K *y, int64_t nb)
{
	uint8_t L[256];
	for (int64_t i = 0; i < nb; i++, x += 256) {
		quant_k_scales(x, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
		uint8_t *qh = y[i].qh, *ql = y[i].qs;
		memset(qh, 0, 32);
		uint8_t m1 = 1, m2 = 2;
		for (int n = 0; n < 256; n += 64) {
			for (int j = 0; j < 32; ++j) {
				int l1 = L[n + j];
				if (l1 > 15) {
					l1 -= 16;
					qh[j] |= m1;
				}
				int l2 = L[n + j + 32];
				if (l2 > 15) {
					l2 -= 16;
					qh[j] |= m2;
				}
				ql[j] = (uint8_t)(l1 | (l2 << 4));
			}
			m1 = (uint8_t)(m1 << 2);
			m2 = (uint8_t)(m2 << 2);
			ql += 32;
		}
	}
}

static void quant_q6_K(const float *x, cn_block_q6_K *y, int64_t nb)
{
	int8_t L[256];
	float scales[16];
	for (int64_t i = 0; i < nb; i++, x += 256) {
		float max_scale = 0, max_abs_scale = 0;
		for (int ib = 0; ib < 16; ++ib) {
			const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1);
			scales[ib] = scale;
			const float abs_scale = fabsf(scale);
			if (abs_scale > max_abs_scale) {
				max_abs_scale = abs_scale;
				max_scale = scale;
			}
		}
		if (max_abs_scale < GROUP_MAX_EPS) {
			memset(&y[i], 0, sizeof(y[i]));
			continue;
		}
		float iscale = -128.f / max_scale;
		y[i].d = cn_f32_to_f16(1 / iscale);
		for (int ib = 0; ib < 16; ++ib)
			y[i].scales[ib] = (int8_t)MINI(127, nearest_int(iscale * scales[ib]));
		for (int j = 0; j < 16; ++j) {
			float d = F16(y[i].d) * y[i].scales[j];
			if (!d)
				continue;
			for (int ii = 0; ii < 16; ++ii) {
				int l = nearest_int(x[16 * j + ii] / d);
				l = MAXI(-32, MINI(31, l));
				L[16 * j + ii] = (int8_t)(l + 32);
			}
		}
		uint8_t *ql = y[i].ql, *qh = y[i].qh;
		for (int j = 0; j < 256; j += 128) {
			for (int l = 0; l < 32; ++l) {
				const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
				const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
				ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
				ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
				qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
				                  ((L[j + l + 96] >> 4) << 6));
			}
			ql += 64;
			qh += 32;
		}
	}
}

void cn_quantize_row(cn_ggml_type t, const float *src, void *dst, int64_t n)
{
	switch (t) {
	case CN_GGML_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
	case CN_GGML_F16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = cn_f32_to_f16(src[i]);
			memcpy((uint8_t *)dst + 2 * i, &h, 2);
		}
		break;
	case CN_GGML_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h = cn_f32_to_bf16(src[i]);
			memcpy((uint8_t *)dst + 2 * i, &h, 2);
		}
		break;
	case CN_GGML_Q4_0: quant_q4_0(src, dst, n / 32); break;
	case CN_GGML_Q4_1: quant_q4_1(src, dst, n / 32); break;
	case CN_GGML_Q5_0: quant_q5_0(src, dst, n / 32); break;
	case CN_GGML_Q5_1: quant_q5_1(src, dst, n / 32); break;
	case CN_GGML_Q8_0: quant_q8_0(src, dst, n / 32); break;
	case CN_GGML_Q4_K: quant_q4_K(src, dst, n / 256); break;
	case CN_GGML_Q5_K: quant_q5_K(src, dst, n / 256); break;
	case CN_GGML_Q6_K: quant_q6_K(src, dst, n / 256); break;
	default: break;
	}
}
