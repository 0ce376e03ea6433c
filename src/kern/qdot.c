/*
 * qdot.c — integer dot products of quantized weight rows with a quantized activation row
 * (the M = 1 matmul of generation).
 *
 * Why: one generated token reads every weight once, so its speed is set by how fast the
 * weights stream from memory. Widening each weight byte to a float and multiplying with F32
 * activations costs several instructions per element and made decoding compute-bound at a
 * third of the bandwidth. Instead the activation row is quantized once per matmul (to 8-bit
 * blocks, as llama.cpp does), and each block product is an integer dot product: 32 byte
 * pairs in two instructions (_mm256_maddubs_epi16 multiplies unsigned by signed bytes into
 * 16-bit pair sums, _mm256_madd_epi16 widens to 32 bits), with one float multiply-add per
 * block for the scales.
 *
 * Activation formats (ours, not stored anywhere, so the scale is a float rather than ggml's
 * half): cn_block_q8a (32 values) pairs with Q8_0 and Q4_0 weights, cn_block_q8k (256 values
 * and the sums of each 16) with Q4_K, Q5_K and Q6_K. Both use d = max|x| / 127 and
 * q = round-to-nearest-even(x · 127 / max|x|), so |q| ≤ 127 and each value is off by at most
 * d/2 — the error bound the tests use. Rounding is rint in the reference and the same
 * round-to-nearest in AVX2, so both quantizers give identical bytes.
 *
 * Signed × signed bytes (Q8_0): maddubs wants its first operand unsigned, so it gets |w|
 * and the activation takes w's sign (_mm256_sign_epi8); |q| ≤ 127 keeps that exact and the
 * pair sums within int16. Q4_0's nibbles go in unsigned, its −8 through the activation's
 * block sums. K-quants: the weight nibbles are already unsigned;
 * their 6-bit sub-block scales multiply the 16-bit pair sums in madd, and the mins (Q4_K,
 * Q5_K) or the −32 offset (Q6_K) come from the activation's 16-element sums, so the offset is
 * never applied per element. Every integer sum is exact (bounds noted at each kernel), so the
 * scalar reference below (same integer arithmetic, one float multiply-add per block) differs
 * from the AVX2 path only in the order of the float additions.
 *
 * The matvec entry (cn_matvec_q8_avx2) lays out per call what every row would otherwise
 * redo: for Q4_K/Q5_K the activation in the order of the weights' nibble pairs (so two
 * sub-blocks share a multiply by their scales) with its sub-block sums, for Q8_0 its block
 * scales as a float array (Q4_0: and 8 · its block sums, for the −8 of every weight).
 * Single dot products go through it too, so a row's value is the
 * same whichever entry computed it. Two things that did not help, measured: computing 2-4
 * rows per call to share the activation's loads (from memory it was 2-3x slower: the
 * interleaved row streams defeat the hardware prefetcher), and software prefetch 0.5-16 KiB
 * ahead (no gain from cache or memory at any distance, T0 or T1).
 */
#include "kern/kern_int.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

cn_ggml_type cn_q8_act_type(cn_ggml_type t)
{
	switch (t) {
	case CN_GGML_Q8_0:
	case CN_GGML_Q4_0: return CN_GGML_Q8_0;
	case CN_GGML_Q4_K:
	case CN_GGML_Q5_K:
	case CN_GGML_Q6_K: return CN_GGML_Q8_K;
	default: return CN_GGML_F32;
	}
}

size_t cn_q8_act_bytes(cn_ggml_type t, int64_t n)
{
	switch (cn_q8_act_type(t)) {
	case CN_GGML_Q8_0: return (size_t)(n / CN_QK) * sizeof(cn_block_q8a);
	case CN_GGML_Q8_K: return (size_t)(n / CN_QK_K) * sizeof(cn_block_q8k);
	default: return 0;
	}
}

/* ---- quantizing the activation ------------------------------------------------------------ */

/* q = rint(x · id) clamped to ±127 (the clamp only matters for non-finite input). */
static inline int8_t q8_round(float x, float id)
{
	float v = rintf(x * id);
	v = v > 127.0f ? 127.0f : v;
	v = v < -127.0f ? -127.0f : v;
	return (int8_t)(v == v ? v : 0.0f);
}

static float q8_scale(const float *x, int n, float *id)
{
	float amax = 0.0f;
	for (int i = 0; i < n; i++) {
		float a = fabsf(x[i]);
		amax = a > amax ? a : amax;
	}
	*id = amax > 0.0f ? 127.0f / amax : 0.0f;
	return amax / 127.0f;
}

void cn_q8_act_quantize_ref(cn_ggml_type t, const float *x, void *dst, int64_t n)
{
	if (cn_q8_act_type(t) == CN_GGML_Q8_0) {
		cn_block_q8a *y = dst;
		for (int64_t b = 0; b < n / CN_QK; b++, x += CN_QK) {
			float id;
			y[b].d = q8_scale(x, CN_QK, &id);
			for (int i = 0; i < CN_QK; i++)
				y[b].qs[i] = q8_round(x[i], id);
		}
	} else if (cn_q8_act_type(t) == CN_GGML_Q8_K) {
		cn_block_q8k *y = dst;
		for (int64_t b = 0; b < n / CN_QK_K; b++, x += CN_QK_K) {
			memset(y[b].pad_, 0, sizeof(y[b].pad_));
			float id;
			y[b].d = q8_scale(x, CN_QK_K, &id);
			for (int g = 0; g < 16; g++) {
				int s = 0;
				for (int i = 16 * g; i < 16 * g + 16; i++)
					s += y[b].qs[i] = q8_round(x[i], id);
				y[b].bsums[g] = (int16_t)s;
			}
		}
	}
}

/* ---- scalar integer reference ------------------------------------------------------------- */

static float dot_q8_0_ref(const cn_block_q8_0 *w, const cn_block_q8a *a, int64_t nb)
{
	float s = 0.0f;
	for (int64_t b = 0; b < nb; b++) {
		int32_t is = 0;
		for (int i = 0; i < 32; i++)
			is += w[b].qs[i] * a[b].qs[i];
		s += cn_f16_to_f32(w[b].d) * a[b].d * (float)is;
	}
	return s;
}

static float dot_q4_0_ref(const cn_block_q4_0 *w, const cn_block_q8a *a, int64_t nb)
{
	float s = 0.0f;
	for (int64_t b = 0; b < nb; b++) {
		int32_t is = 0;
		for (int i = 0; i < 16; i++)
			is += ((w[b].qs[i] & 0xF) - 8) * a[b].qs[i] + ((w[b].qs[i] >> 4) - 8) * a[b].qs[i + 16];
		s += cn_f16_to_f32(w[b].d) * a[b].d * (float)is;
	}
	return s;
}

/* Q4_K and Q5_K: Σ_j sc_j Σ q·a over sub-block j, times d; minus dmin · Σ_j m_j · (sum of a
 * over sub-block j). The integer sums of one super-block (shared with qgemm.c's reference). */
void cn_q45k_block_isum(const uint8_t *w, bool five, const cn_block_q8k *a, int32_t *is_out, int32_t *im_out)
{
	const uint8_t *scales = w + 4, *qh = w + 16, *qs = w + (five ? 48 : 16);
	int32_t is = 0, im = 0;
	for (int j = 0; j < 8; j++) {
		uint8_t sc, m;
		cn_scale_min_k4(j, scales, &sc, &m);
		int32_t sub = 0;
		for (int l = 0; l < 32; l++) {
			int q = (j & 1) ? qs[32 * (j / 2) + l] >> 4 : qs[32 * (j / 2) + l] & 0xF;
			if (five)
				q |= ((qh[l] >> j) & 1) << 4;
			sub += q * a->qs[32 * j + l];
		}
		is += sc * sub;
		im += m * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
	}
	*is_out = is;
	*im_out = im;
}

static float dot_q45_k_ref(const uint8_t *w, bool five, const cn_block_q8k *a, int64_t nb)
{
	const size_t bsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
	float s = 0.0f;
	for (int64_t b = 0; b < nb; b++, w += bsz) {
		int32_t is, im;
		cn_q45k_block_isum(w, five, &a[b], &is, &im);
		s += cn_f16_to_f32(cn_ld16(w)) * a[b].d * (float)is - cn_f16_to_f32(cn_ld16(w + 2)) * a[b].d * (float)im;
	}
	return s;
}

/* Q6_K: Σ_g sc_g Σ (q − 32)·a over 16-element group g = Σ_g sc_g (Σ q·a − 32 · bsum_g): the
 * integer sum of one super-block (shared with qgemm.c's reference). */
int32_t cn_q6k_block_isum(const cn_block_q6_K *w, const cn_block_q8k *a)
{
	int32_t is = 0;
	for (int h = 0; h < 2; h++) {
		const uint8_t *ql = w->ql + 64 * h, *qh = w->qh + 32 * h;
		for (int r = 0; r < 4; r++)
			for (int half = 0; half < 2; half++) {
				int g = 8 * h + 2 * r + half;
				int32_t sub = 0;
				for (int l = 16 * half; l < 16 * half + 16; l++) {
					int lo = (r & 1) ? ql[l + 32] : ql[l];
					lo = r < 2 ? lo & 0xF : lo >> 4;
					int q = lo | (((qh[l] >> (2 * r)) & 3) << 4);
					sub += q * a->qs[128 * h + 32 * r + l];
				}
				is += w->scales[g] * (sub - 32 * a->bsums[g]);
			}
	}
	return is;
}

static float dot_q6_k_ref(const cn_block_q6_K *w, const cn_block_q8k *a, int64_t nb)
{
	float s = 0.0f;
	for (int64_t b = 0; b < nb; b++)
		s += cn_f16_to_f32(w[b].d) * a[b].d * (float)cn_q6k_block_isum(&w[b], &a[b]);
	return s;
}

float cn_vec_dot_q8_ref(cn_ggml_type t, const void *row, const void *xq, int64_t n)
{
	switch (t) {
	case CN_GGML_Q8_0: return dot_q8_0_ref(row, xq, n / CN_QK);
	case CN_GGML_Q4_0: return dot_q4_0_ref(row, xq, n / CN_QK);
	case CN_GGML_Q4_K: return dot_q45_k_ref(row, false, xq, n / CN_QK_K);
	case CN_GGML_Q5_K: return dot_q45_k_ref(row, true, xq, n / CN_QK_K);
	case CN_GGML_Q6_K: return dot_q6_k_ref(row, xq, n / CN_QK_K);
	default: return 0.0f;
	}
}

/* ---- AVX2 ----------------------------------------------------------------------------------- */

#if CN_KERN_X86
#define F16(h) _cvtsh_ss(h)

CN_AVX2 static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* 8 int32 lanes of pair sums of w·a for 32 signed bytes each (|a| ≤ 127): |w|·sign(a, w),
 * each 16-bit pair sum ≤ 2·128·127 < 2¹⁵. */
CN_AVX2 static inline __m256i dot_i8(__m256i w, __m256i a)
{
	__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
	return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* 32 floats → 32 int8 at rint(x · id), in order. */
CN_AVX2 static inline __m256i q8_32(const float *x, __m256 id)
{
	const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
	__m256i v[4];
	for (int k = 0; k < 4; k++) {
		__m256 f = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id),
		                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		v[k] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(f, lim), nlim));
	}
	/* packs interleaves the 128-bit lanes: 0 1 2 3 → (0a 1a 2a 3a | 0b 1b 2b 3b) as dwords */
	__m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
	return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

CN_AVX2 static float amax_avx2(const float *x, int n)
{
	const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 m = _mm256_setzero_ps();
	for (int i = 0; i < n; i += 8)
		m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + i), absm));
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

CN_AVX2 void cn_q8_act_quantize_avx2(cn_ggml_type t, const float *x, void *dst, int64_t n)
{
	if (cn_q8_act_type(t) == CN_GGML_Q8_0) {
		cn_block_q8a *y = dst;
		for (int64_t b = 0; b < n / CN_QK; b++, x += CN_QK) {
			float amax = amax_avx2(x, CN_QK);
			y[b].d = amax / 127.0f;
			_mm256_storeu_si256((__m256i *)y[b].qs, q8_32(x, _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f)));
		}
	} else if (cn_q8_act_type(t) == CN_GGML_Q8_K) {
		cn_block_q8k *y = dst;
		for (int64_t b = 0; b < n / CN_QK_K; b++, x += CN_QK_K) {
			float amax = amax_avx2(x, CN_QK_K);
			memset(y[b].pad_, 0, sizeof(y[b].pad_));
			y[b].d = amax / 127.0f;
			__m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
			for (int k = 0; k < 8; k++) {
				__m256i q = q8_32(x + 32 * k, id);
				_mm256_storeu_si256((__m256i *)(y[b].qs + 32 * k), q);
				/* the two 16-element sums: widen to int16, pair-sum to int32, fold */
				__m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
				/* s: 8 dwords, 0-3 from elements 0-15, 4-7 from 16-31 */
				__m128i lo = _mm256_castsi256_si128(s), hi = _mm256_extracti128_si256(s, 1);
				__m128i h = _mm_hadd_epi32(lo, hi); /* l0+l1 l2+l3 h0+h1 h2+h3 */
				h = _mm_hadd_epi32(h, h);           /* sum(lo) sum(hi) … */
				y[b].bsums[2 * k] = (int16_t)_mm_cvtsi128_si32(h);
				y[b].bsums[2 * k + 1] = (int16_t)_mm_extract_epi32(h, 1);
			}
		}
	}
}

/* Q8_0 × q8a: per block one maddubs + madd, then d_w·d_a times the 8 lane sums. The
 * scales were half the vector work (per block: move the half to a vector register,
 * convert, multiply, broadcast); now eight blocks' halves are gathered with scalar loads
 * and shifts (the integer units are idle here), converted and multiplied by the
 * activation's scales (da: one float per block, laid out by the caller) in one go, and
 * each block's product is broadcast with one in-lane permute. Same float operations per
 * block as one at a time, so the result does not change. */
CN_AVX2 static inline float dot_q8_0_avx2(const cn_block_q8_0 *w, const cn_block_q8a *a, const float *da, int64_t nb)
{
	__m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
	int64_t b = 0;
	for (; b + 8 <= nb; b += 8) {
		const uint8_t *p = (const uint8_t *)(w + b);
		uint64_t lo = 0, hi = 0;
		for (int k = 0; k < 4; k++) {
			lo |= (uint64_t)cn_ld16(p + k * sizeof(cn_block_q8_0)) << (16 * k);
			hi |= (uint64_t)cn_ld16(p + (k + 4) * sizeof(cn_block_q8_0)) << (16 * k);
		}
		__m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo)), _mm256_loadu_ps(da + b));
		__m256 sc03 = _mm256_permute2f128_ps(sc, sc, 0x00), sc47 = _mm256_permute2f128_ps(sc, sc, 0x11);
#define CN_Q8_PAIR(k, s, imm0, imm1)                                                                                 \
	do {                                                                                                             \
		__m256i p0 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b + k].qs),                                      \
		                    _mm256_loadu_si256((const __m256i *)a[b + k].qs));                                     \
		__m256i p1 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b + k + 1].qs),                                  \
		                    _mm256_loadu_si256((const __m256i *)a[b + k + 1].qs));                                 \
		acc0 = _mm256_fmadd_ps(_mm256_permute_ps(s, imm0), _mm256_cvtepi32_ps(p0), acc0);                          \
		acc1 = _mm256_fmadd_ps(_mm256_permute_ps(s, imm1), _mm256_cvtepi32_ps(p1), acc1);                          \
	} while (0)
		CN_Q8_PAIR(0, sc03, 0x00, 0x55);
		CN_Q8_PAIR(2, sc03, 0xAA, 0xFF);
		CN_Q8_PAIR(4, sc47, 0x00, 0x55);
		CN_Q8_PAIR(6, sc47, 0xAA, 0xFF);
#undef CN_Q8_PAIR
	}
	for (; b + 2 <= nb; b += 2) {
		__m256i p0 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b].qs), _mm256_loadu_si256((const __m256i *)a[b].qs));
		__m256i p1 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b + 1].qs),
		                    _mm256_loadu_si256((const __m256i *)a[b + 1].qs));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(w[b].d) * da[b]), _mm256_cvtepi32_ps(p0), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(w[b + 1].d) * da[b + 1]), _mm256_cvtepi32_ps(p1), acc1);
	}
	for (; b < nb; b++) {
		__m256i p0 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b].qs), _mm256_loadu_si256((const __m256i *)a[b].qs));
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(w[b].d) * da[b]), _mm256_cvtepi32_ps(p0), acc0);
	}
	return hsum8(_mm256_add_ps(acc0, acc1));
}

CN_AVX2 static inline __m256i nib32(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
	return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* Q4_0 × q8a, the Q8_0 kernel's scale handling and no sign trick: the nibbles go through
 * maddubs unsigned (0..15), and the −8 becomes 8 · Σa per block, which the caller lays out
 * times the activation's scale (ca[b] = 8 · Σa_b · d_a, exact in the integer part) and
 * which meets the weights' scales once per eight blocks in a separate accumulator. */
CN_AVX2 static inline float dot_q4_0_avx2(const cn_block_q4_0 *w, const cn_block_q8a *a, const float *da, const float *ca,
                                          int64_t nb)
{
	const __m256i one = _mm256_set1_epi16(1);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, accc = acc0;
	float tailc = 0.0f;
	int64_t b = 0;
	for (; b + 8 <= nb; b += 8) {
		const uint8_t *p = (const uint8_t *)(w + b);
		uint64_t lo = 0, hi = 0;
		for (int k = 0; k < 4; k++) {
			lo |= (uint64_t)cn_ld16(p + k * sizeof(cn_block_q4_0)) << (16 * k);
			hi |= (uint64_t)cn_ld16(p + (k + 4) * sizeof(cn_block_q4_0)) << (16 * k);
		}
		__m256 dw = _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
		accc = _mm256_fmadd_ps(dw, _mm256_loadu_ps(ca + b), accc);
		__m256 sc = _mm256_mul_ps(dw, _mm256_loadu_ps(da + b));
		__m256 sc03 = _mm256_permute2f128_ps(sc, sc, 0x00), sc47 = _mm256_permute2f128_ps(sc, sc, 0x11);
#define CN_Q4_PAIR(k, s, imm0, imm1)                                                                                 \
	do {                                                                                                             \
		__m256i p0 = _mm256_madd_epi16(                                                                          \
		    _mm256_maddubs_epi16(nib32(w[b + k].qs), _mm256_loadu_si256((const __m256i *)a[b + k].qs)), one);     \
		__m256i p1 = _mm256_madd_epi16(                                                                          \
		    _mm256_maddubs_epi16(nib32(w[b + k + 1].qs), _mm256_loadu_si256((const __m256i *)a[b + k + 1].qs)), one); \
		acc0 = _mm256_fmadd_ps(_mm256_permute_ps(s, imm0), _mm256_cvtepi32_ps(p0), acc0);                          \
		acc1 = _mm256_fmadd_ps(_mm256_permute_ps(s, imm1), _mm256_cvtepi32_ps(p1), acc1);                          \
	} while (0)
		CN_Q4_PAIR(0, sc03, 0x00, 0x55);
		CN_Q4_PAIR(2, sc03, 0xAA, 0xFF);
		CN_Q4_PAIR(4, sc47, 0x00, 0x55);
		CN_Q4_PAIR(6, sc47, 0xAA, 0xFF);
#undef CN_Q4_PAIR
	}
	for (; b < nb; b++) {
		__m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(nib32(w[b].qs), _mm256_loadu_si256((const __m256i *)a[b].qs)),
		                               one);
		acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(w[b].d) * da[b]), _mm256_cvtepi32_ps(p0), acc0);
		tailc += F16(w[b].d) * ca[b];
	}
	return hsum8(_mm256_sub_ps(_mm256_add_ps(acc0, acc1), accc)) - tailc;
}

/* The 8 six-bit scales and mins of a Q4_K/Q5_K super-block as 16 bytes sc0-7, m0-7, from
 * the 12-byte field at q. With a, b, c its three 32-bit words: sc0-3 = a & 63, m0-3 = b & 63,
 * sc4-7 = (c & 15) | (a >> 6) << 4, m4-7 = (c >> 4 & 15) | (b >> 6) << 4, per byte. Done
 * with 64-bit integer shifts and masks: the vector units are the bottleneck of the
 * Q4_K/Q5_K loops and the integer ones idle, so this costs three vector operations (two
 * moves and an unpack) where the all-vector version took nine (Q4_K 19.3 → 19.9 GB/s). */
CN_AVX2 static inline __m128i k4_scales_i(const uint8_t *q)
{
	uint64_t x, u2;
	uint32_t t;
	memcpy(&x, q, 8); /* a | b << 32 */
	memcpy(&t, q + 8, 4);
	u2 = ((uint64_t)(t >> 4) << 32 | t) & 0x0f0f0f0f0f0f0f0fULL;           /* c & 15 | (c >> 4 & 15) << 32 */
	uint64_t lo6 = x & 0x3f3f3f3f3f3f3f3fULL;                               /* sc0-3 | m0-3 */
	uint64_t hi = u2 | ((x >> 6) & 0x0303030303030303ULL) << 4;            /* sc4-7 | m4-7 */
	uint64_t sc = (lo6 & 0xffffffffULL) | hi << 32, mn = lo6 >> 32 | (hi & 0xffffffff00000000ULL);
	return _mm_set_epi64x((long long)mn, (long long)sc);
}

/* pshufb controls that broadcast 16-bit element 2r of a 128-bit lane to the low lane's 8
 * words and element 2r + 1 to the high lane's: the scales of the two sub-blocks in a
 * vector of the permuted Q4_K/Q5_K loop, and of the two 16-element halves of a Q6_K
 * 32-element chunk */
static const uint8_t k_bcast16_pair[4][32] = {
#define CN_P(j) {4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, \
                 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3,     \
                 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3}
    CN_P(0), CN_P(1), CN_P(2), CN_P(3)
#undef CN_P
};

/* Q4_K's activation order. Byte l of a Q4_K super-block's 32-byte group j holds element
 * 64j + l in its low nibble and 64j + 32 + l in its high one: two sub-blocks with two
 * scales. Loading 16 bytes into both lanes and shifting the high lane right by 4 gives one
 * vector whose low lane is 16 elements of sub-block 2j and whose high lane is the 16
 * elements of sub-block 2j + 1 that share their bytes; the two 16-byte halves of group j
 * give two such vectors with the same lane → sub-block map, so their maddubs results can
 * be added in 16 bits before the one madd with the pair of scales: per 64 weights three
 * multiplies and one scale shuffle instead of four and two (maddubs, madd and pshufb
 * share two ports here, and they were the bottleneck). For that the activation is
 * permuted once per call to match: out[64j + 32h + 0..15] = a[64j + 16h + 0..15],
 * out[64j + 32h + 16..31] = a[64j + 32 + 16h + 0..15] (h = 0, 1); the sums of its 32-value
 * sub-blocks (for the mins) follow each super-block, computed once per call rather than
 * once per row. Measured from cache on one core (2.8 GHz Zen 4, 1024-value rows): Q4_K
 * 17.5 → 19.2 GB/s, Q5_K 15.7 → 17.6 GB/s. */
#define AP_BLOCK (CN_QK_K + 16) /* bytes per super-block: the permuted values, 8 int16 sub-block sums */

CN_AVX2 static void q4k_act_permute(const cn_block_q8k *a, int8_t *out, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, out += AP_BLOCK) {
		const int8_t *q = a[b].qs;
		for (int j = 0; j < 4; j++)
			for (int h = 0; h < 2; h++) {
				__m256i v = _mm256_loadu2_m128i((const __m128i *)(q + 64 * j + 32 + 16 * h),
				                                (const __m128i *)(q + 64 * j + 16 * h));
				_mm256_storeu_si256((__m256i *)(out + 64 * j + 32 * h), v);
			}
		/* the sums of each 32 values (sub-block), for the mins */
		__m256i bs = _mm256_loadu_si256((const __m256i *)a[b].bsums);
		_mm_storeu_si128((__m128i *)(out + CN_QK_K),
		                 _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
	}
}

/* Q4_K or Q5_K × q8k, the hot loop of their generation; ap is the activation in the order
 * above, each super-block followed by its 8 sub-block sums (cn_block_q8k supplies the
 * scale). The scales and mins are widened to 16 bits once per super-block; each group's pair
 * of scales is broadcast with one pshufb; the mins meet the sub-block sums in one 128-bit
 * madd. Always inlined with `five` a constant, so each type gets its own loop.
 * Q5_K's fifth bits: bit j of qh[l] belongs to element 32j + l, so for the vector of group j,
 * half h (low lane: elements 64j + 16h + i of sub-block 2j, high lane: 64j + 32 + 16h + i of
 * 2j + 1) they are bits 2j and 2j + 1 of qh[16h + i]: qh's half h in both lanes, each lane
 * shifted so its bit lands on bit 4 (left for j < 2, right after; the shift stays inside
 * each byte for the bit that is kept), masked and or'ed in.
 * Per lane the int32 sum over a super-block is at most 4 · (2 · 2·15·127) · 63 < 2²² (Q4_K),
 * 4 · (2 · 2·31·127) · 63 < 2²³ (Q5_K). */
_Static_assert(offsetof(cn_block_q4_K, scales) == 4 && offsetof(cn_block_q5_K, scales) == 4 &&
                   offsetof(cn_block_q4_K, qs) == 16 && offsetof(cn_block_q5_K, qh) == 16 &&
                   offsetof(cn_block_q5_K, qs) == 48,
               "dot_q45_k_avx2 reads the blocks by these offsets");

CN_AVX2 static __attribute__((always_inline)) inline float dot_q45_k_avx2(const uint8_t *w, bool five,
                                                                          const cn_block_q8k *a, const int8_t *ap,
                                                                          int64_t nb)
{
	const size_t bsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
	const __m256i m4 = _mm256_set1_epi8(0x0F), b4 = _mm256_set1_epi8(0x10), sh = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
	__m256 acc = _mm256_setzero_ps();
	__m128 accm = _mm_setzero_ps();
	for (int64_t b = 0; b < nb; b++, ap += AP_BLOCK, w += bsz) {
		/* the layout both share: d, dmin (fp16), 12 bytes of scales; Q5_K's qh, then qs */
		__m256i sm = _mm256_cvtepu8_epi16(k4_scales_i(w + 4)); /* sc0-7 | m0-7 */
		__m128i summ = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), _mm_loadu_si128((const __m128i *)(ap + CN_QK_K)));
		__m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00); /* sc0-7 in both lanes */
		const uint8_t *qs = w + (five ? 48 : 16);
		__m256i qh0 = _mm256_setzero_si256(), qh1 = qh0;
		if (five) {
			qh0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(w + 16)));
			qh1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(w + 32)));
		}
		__m256i s0 = _mm256_setzero_si256(), s1 = s0;
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			__m256i v0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(qs + 32 * j)));
			__m256i v1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(qs + 32 * j + 16)));
			__m256i q0 = _mm256_and_si256(_mm256_srlv_epi32(v0, sh), m4);
			__m256i q1 = _mm256_and_si256(_mm256_srlv_epi32(v1, sh), m4);
			if (five) {
				__m256i h0, h1;
				if (j < 2) { /* bits 2j, 2j + 1 up to bit 4: left by 4 − 2j, 3 − 2j */
					const __m256i c = _mm256_setr_epi32(4 - 2 * j, 4 - 2 * j, 4 - 2 * j, 4 - 2 * j, 3 - 2 * j,
					                                    3 - 2 * j, 3 - 2 * j, 3 - 2 * j);
					h0 = _mm256_sllv_epi32(qh0, c), h1 = _mm256_sllv_epi32(qh1, c);
				} else { /* right by 2j − 4, 2j − 3 */
					const __m256i c = _mm256_setr_epi32(2 * j - 4, 2 * j - 4, 2 * j - 4, 2 * j - 4, 2 * j - 3,
					                                    2 * j - 3, 2 * j - 3, 2 * j - 3);
					h0 = _mm256_srlv_epi32(qh0, c), h1 = _mm256_srlv_epi32(qh1, c);
				}
				q0 = _mm256_or_si256(q0, _mm256_and_si256(h0, b4));
				q1 = _mm256_or_si256(q1, _mm256_and_si256(h1, b4));
			}
			__m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)(ap + 64 * j))),
			                             _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(ap + 64 * j + 32))));
			p = _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, _mm256_loadu_si256((const __m256i *)k_bcast16_pair[j])));
			if (j & 1)
				s1 = _mm256_add_epi32(s1, p);
			else
				s0 = _mm256_add_epi32(s0, p);
		}
		/* d and dmin converted together, times the activation's scale */
		uint32_t dd;
		memcpy(&dd, w, 4);
		__m128 sd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)dd)), _mm_set1_ps(a[b].d));
		acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(sd), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
		accm = _mm_fmadd_ps(_mm_shuffle_ps(sd, sd, 0x55), _mm_cvtepi32_ps(summ), accm);
	}
	__m128 s = _mm_sub_ps(_mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)), accm);
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* Q6_K × q8k. The 6-bit values (0..63, unsigned) go through maddubs as they are, each
 * 16-element half with its own int8 scale; the −32 offset is 32 · Σ_g sc_g · bsum_g, one
 * madd per super-block. The 16 scales are widened to 16 bits once per super-block (they
 * also serve the offset), each half of the super-block's in both 128-bit lanes, and each
 * 32-element chunk's pair of scales is one pshufb from them (a scalar load, move and
 * broadcast per scale made this kernel the slowest of the five). Per lane:
 * 8 · 2 · 2·63·127 · 128 + 32 · 2 · 128 · 2032 < 2²⁶. */
CN_AVX2 static float dot_q6_k_avx2(const cn_block_q6_K *w, const cn_block_q8k *a, int64_t nb)
{
	const __m256i m4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
	__m256 acc = _mm256_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].scales));
		__m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)a[b].bsums));
		__m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
		const int8_t *aq = a[b].qs;
		/* scales 8h .. 8h + 7 in both lanes, h = 0, 1 */
		const __m256i sch2[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00), _mm256_permute2x128_si256(sc16, sc16, 0x11)};
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++) {
			__m256i sch = sch2[h];
			const uint8_t *ql = w[b].ql + 64 * h;
			__m256i qh = _mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h));
			__m256i x0 = _mm256_loadu_si256((const __m256i *)ql), x1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
			__m256i v[4];
			v[0] = _mm256_and_si256(x0, m4);
			v[1] = _mm256_and_si256(x1, m4);
			v[2] = _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4);
			v[3] = _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
#pragma GCC unroll 4
			for (int r = 0; r < 4; r++, aq += 32) {
				__m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * r), three);
				__m256i q = _mm256_or_si256(v[r], _mm256_slli_epi16(hb, 4));
				__m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)aq));
				__m256i sv = _mm256_shuffle_epi8(sch, _mm256_loadu_si256((const __m256i *)k_bcast16_pair[r]));
				sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sv));
			}
		}
		acc = _mm256_fmadd_ps(_mm256_set1_ps(F16(w[b].d) * a[b].d), _mm256_cvtepi32_ps(sumi), acc);
	}
	return hsum8(acc);
}

CN_AVX2 float cn_vec_dot_q8_avx2(cn_ggml_type t, const void *row, const void *xq, int64_t n)
{
	switch (t) {
	case CN_GGML_Q4_0:
	case CN_GGML_Q8_0:
	case CN_GGML_Q4_K:
	case CN_GGML_Q5_K: { /* through the matvec, which lays out the activation */
		float y;
		cn_matvec_q8_avx2(t, row, 0, 0, 1, xq, n, &y);
		return y;
	}
	case CN_GGML_Q6_K: return dot_q6_k_avx2(row, xq, n / CN_QK_K);
	default: return 0.0f;
	}
}

#define Q8_SEG 1024 /* Q8_0 blocks whose activation scales are laid out at a time: 4 KiB */
#define Q4K_SEG 128 /* super-blocks of permuted activation on the stack: 34 KiB */

/* Q4_K or Q5_K rows [r0, r1) (w at row r0): the activation permuted Q4K_SEG super-blocks
 * at a time (one pass for rows of up to 32768 values; longer rows add up their segments).
 * Inlined once per type, so neither loop tests the type. */
CN_AVX2 static __attribute__((always_inline)) inline void k45_rows(bool five, const uint8_t *w, size_t row_bytes,
                                                                   int64_t r0, int64_t r1, const void *xq, int64_t n,
                                                                   float *y)
{
	_Alignas(32) int8_t ap[Q4K_SEG * AP_BLOCK];
	const cn_block_q8k *a = xq;
	int64_t nb = n / CN_QK_K;
	for (int64_t s0 = 0; s0 < nb; s0 += Q4K_SEG) {
		int64_t len = nb - s0 < Q4K_SEG ? nb - s0 : Q4K_SEG;
		q4k_act_permute(a + s0, ap, len);
		const uint8_t *wr = w;
		for (int64_t r = r0; r < r1; r++, wr += row_bytes) {
			size_t bsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
			float d = dot_q45_k_avx2(wr + (size_t)s0 * bsz, five, a + s0, ap, len);
			y[r] = s0 ? y[r] + d : d;
		}
	}
}

/* Rows [r0, r1) of a matrix: the type switch once per range, the per-type kernels inlined. */
CN_AVX2 void cn_matvec_q8_avx2(cn_ggml_type t, const uint8_t *w, size_t row_bytes, int64_t r0, int64_t r1,
                                const void *xq, int64_t n, float *y)
{
	w += (size_t)r0 * row_bytes;
	switch (t) {
	case CN_GGML_Q8_0: {
		/* the activation's block scales as an array, Q8_SEG blocks at a time (one pass
		 * for rows of up to 32768 values; longer rows add up their segments) */
		float da[Q8_SEG];
		const cn_block_q8a *a = xq;
		int64_t nb = n / CN_QK;
		for (int64_t s0 = 0; s0 < nb; s0 += Q8_SEG) {
			int64_t len = nb - s0 < Q8_SEG ? nb - s0 : Q8_SEG;
			for (int64_t b = 0; b < len; b++)
				da[b] = a[s0 + b].d;
			const uint8_t *wr = w;
			for (int64_t r = r0; r < r1; r++, wr += row_bytes) {
				float d = dot_q8_0_avx2((const cn_block_q8_0 *)wr + s0, a + s0, da, len);
				y[r] = s0 ? y[r] + d : d;
			}
		}
		break;
	}
	case CN_GGML_Q4_0: {
		/* the activation's block scales, and 8 · its block sums times them (the −8 of
		 * every weight), Q8_SEG blocks at a time */
		float da[Q8_SEG], ca[Q8_SEG];
		const cn_block_q8a *a = xq;
		int64_t nb = n / CN_QK;
		for (int64_t s0 = 0; s0 < nb; s0 += Q8_SEG) {
			int64_t len = nb - s0 < Q8_SEG ? nb - s0 : Q8_SEG;
			for (int64_t b = 0; b < len; b++) {
				int sum = 0;
				for (int i = 0; i < CN_QK; i++)
					sum += a[s0 + b].qs[i];
				da[b] = a[s0 + b].d;
				ca[b] = (float)(8 * sum) * da[b];
			}
			const uint8_t *wr = w;
			for (int64_t r = r0; r < r1; r++, wr += row_bytes) {
				float d = dot_q4_0_avx2((const cn_block_q4_0 *)wr + s0, a + s0, da, ca, len);
				y[r] = s0 ? y[r] + d : d;
			}
		}
		break;
	}
	case CN_GGML_Q4_K: k45_rows(false, w, row_bytes, r0, r1, xq, n, y); break;
	case CN_GGML_Q5_K: k45_rows(true, w, row_bytes, r0, r1, xq, n, y); break;
	case CN_GGML_Q6_K:
		for (int64_t r = r0; r < r1; r++, w += row_bytes)
			y[r] = dot_q6_k_avx2((const void *)w, xq, n / CN_QK_K);
		break;
	default: break;
	}
}
#endif

void cn_q8_act_quantize(cn_ggml_type t, const float *x, void *dst, int64_t n)
{
#if CN_KERN_X86
	if (cn_kern_fast()) {
		cn_q8_act_quantize_avx2(t, x, dst, n);
		return;
	}
#endif
	cn_q8_act_quantize_ref(t, x, dst, n);
}

float cn_vec_dot_q8(cn_ggml_type t, const void *row, const void *xq, int64_t n)
{
#if CN_KERN_X86
	if (cn_kern_fast())
		return cn_vec_dot_q8_avx2(t, row, xq, n);
#endif
	return cn_vec_dot_q8_ref(t, row, xq, n);
}
