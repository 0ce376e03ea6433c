/*
 * qgemm.c — integer GEMM for batched products (M > 1 rows of activations) with Q8_0, Q4_0,
 * Q4_K, Q5_K and Q6_K weights: prompt processing.
 *
 * Why: the F32 GEMM of gemm.c dequantizes every weight panel and multiplies floats, which
 * capped prompts at a few times the speed of single-token generation, although a prompt
 * re-uses each weight for every one of its rows. Here, as in generation (qdot.c), every
 * activation row is quantized once per product into the 8-bit blocks decode uses
 * (cn_block_q8a / cn_block_q8k, by the same quantizer, in parallel over rows: a row's bytes
 * depend on nothing but the row) and each block product is an integer dot product
 * (_mm256_maddubs_epi16 + _mm256_madd_epi16). Prompt and generation therefore compute the
 * same integer sums per row; only the order of the float additions differs.
 *
 * Register blocking: the micro-kernels take a tile of 4 weight rows × 4 activation rows and
 * walk K one block at a time. Each weight block is loaded — and for the 4-bit and 6-bit
 * types unpacked, with the K-quants' sub-block scales and mins widened — once per tile and
 * used for 4 activation rows; each activation block is used for 4 weight rows. The 4 int32
 * lane vectors of one weight row are folded with unpacks and adds (phadd is several times
 * slower) into one vector of block sums, so a whole tile accumulates in 4 float registers
 * (K-quants: 8 of 4 lanes; Q8_0/Q4_0: 4 of 8 lanes, the two 16-element halves of each block
 * apart, added at the end, which saves a fold per block), one float multiply-add per block
 * (super-block), half and element: acc = fma(d_w·d_a, Σ, acc). Q8_0/Q4_0 scales are
 * converted to float once per work item (weights) and once per product (activations, laid
 * out by tile), not in the inner loop. As in llamafile's tinyBLAS and ggml's repacked GEMMs,
 * but without repacking the weights (they stay as the file has them, so decode reads the
 * same bytes).
 *
 * Speed on AVX2 without VNNI: an int8 product costs maddubs + madd per 32 multiply-adds
 * (+ sign for Q8_0's signed × signed) against one FMA per 8 in F32, so the instruction mix
 * allows at most ~2× the F32 GEMM's rate; measured, the products run ~1.2× faster than the
 * F32 GEMM they replace (docs/results.md, "Integer GEMM for prompts").
 *
 * Cache blocking: a work item is a stretch of ROWS_ITEM weight rows of one matrix; inside
 * it, activation rows are taken in chunks of at most ACT_CHUNK bytes (kept in L2), and for
 * each 4-row weight tile (in L1) every activation tile of the chunk streams past.
 *
 * Exactness: every integer sum is exact (bounds as in qdot.c), and each output element is
 * accumulated on its own, over K blocks in order, with the same float operations whatever
 * tile it falls in. M and N edges run the 4×4 kernel with the last row repeated and keep only
 * the real elements, so the values do not depend on M, on the edges, on which thread ran the
 * item or on the thread count (items are claimed from a counter; the split is over weight
 * rows, never over K). The scalar reference below does the same arithmetic with fmaf and is
 * bit-identical to the AVX2 kernels; the tests check that.
 */
#include "kern/kern_int.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

#define TILE 4
#define ROWS_ITEM 16               /* weight rows per work item (a multiple of TILE) */
#define ACT_CHUNK (256u << 10)     /* bytes of quantized activation rows per chunk (L2) */
#define GROUP_MAX 4

bool cn_qgemm_ok(int n, const cn_weight *const *W)
{
	if (n < 1 || n > GROUP_MAX || !cn_kern_q8_act())
		return false;
	for (int i = 0; i < n; i++)
		if (W[i]->rows <= 0 || W[i]->cols <= 0 || W[i]->cols != W[0]->cols ||
		    cn_q8_act_type(W[i]->type) == CN_GGML_F32 || cn_q8_act_type(W[i]->type) != cn_q8_act_type(W[0]->type))
			return false;
	return true;
}

/* ---- scalar reference: the same integer sums and float operations ------------------------ */

/* Q8_0 and Q4_0: elements 0-15 and 16-31 of each block summed apart, as the AVX2 tile does. */
static float ref_q8_0(const cn_block_q8_0 *w, const cn_block_q8a *a, int64_t nb)
{
	float lo = 0.0f, hi = 0.0f;
	for (int64_t b = 0; b < nb; b++) {
		int32_t il = 0, ih = 0;
		for (int i = 0; i < 16; i++) {
			il += w[b].qs[i] * a[b].qs[i];
			ih += w[b].qs[i + 16] * a[b].qs[i + 16];
		}
		float s = cn_f16_to_f32(w[b].d) * a[b].d;
		lo = fmaf(s, (float)il, lo);
		hi = fmaf(s, (float)ih, hi);
	}
	return lo + hi;
}

static float ref_q4_0(const cn_block_q4_0 *w, const cn_block_q8a *a, int64_t nb)
{
	float lo = 0.0f, hi = 0.0f;
	for (int64_t b = 0; b < nb; b++) {
		int32_t il = 0, ih = 0;
		for (int i = 0; i < 16; i++) {
			il += ((w[b].qs[i] & 0xF) - 8) * a[b].qs[i];
			ih += ((w[b].qs[i] >> 4) - 8) * a[b].qs[i + 16];
		}
		float s = cn_f16_to_f32(w[b].d) * a[b].d;
		lo = fmaf(s, (float)il, lo);
		hi = fmaf(s, (float)ih, hi);
	}
	return lo + hi;
}

static float ref_q45_k(const uint8_t *w, bool five, const cn_block_q8k *a, int64_t nb)
{
	const size_t bsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
	float acc = 0.0f, accm = 0.0f;
	for (int64_t b = 0; b < nb; b++, w += bsz) {
		int32_t is, im;
		cn_q45k_block_isum(w, five, &a[b], &is, &im);
		acc = fmaf(cn_f16_to_f32(cn_ld16(w)) * a[b].d, (float)is, acc);
		accm = fmaf(cn_f16_to_f32(cn_ld16(w + 2)) * a[b].d, (float)im, accm);
	}
	return acc - accm;
}

static float ref_q6_k(const cn_block_q6_K *w, const cn_block_q8k *a, int64_t nb)
{
	float acc = 0.0f;
	for (int64_t b = 0; b < nb; b++)
		acc = fmaf(cn_f16_to_f32(w[b].d) * a[b].d, (float)cn_q6k_block_isum(&w[b], &a[b]), acc);
	return acc;
}

static float ref_dot(cn_ggml_type t, const void *row, const void *xq, int64_t n)
{
	switch (t) {
	case CN_GGML_Q8_0: return ref_q8_0(row, xq, n / CN_QK);
	case CN_GGML_Q4_0: return ref_q4_0(row, xq, n / CN_QK);
	case CN_GGML_Q4_K: return ref_q45_k(row, false, xq, n / CN_QK_K);
	case CN_GGML_Q5_K: return ref_q45_k(row, true, xq, n / CN_QK_K);
	case CN_GGML_Q6_K: return ref_q6_k(row, xq, n / CN_QK_K);
	default: return 0.0f;
	}
}

bool cn_qgemm_ref(const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias, float *Y, int64_t ldy)
{
	if (M <= 0 || W->rows <= 0)
		return true;
	const size_t qb = cn_q8_act_bytes(W->type, W->cols);
	if (qb == 0)
		return false;
	uint8_t *xq = cn_malloc(qb * (size_t)M);
	if (!xq)
		return false;
	for (int64_t m = 0; m < M; m++)
		cn_q8_act_quantize_ref(W->type, X + m * ldx, xq + (size_t)m * qb, W->cols);
	for (int64_t r = 0; r < W->rows; r++) {
		const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
		for (int64_t m = 0; m < M; m++) {
			float d = ref_dot(W->type, row, xq + (size_t)m * qb, W->cols);
			Y[m * ldy + r] = bias ? d + bias[r] : d;
		}
	}
	cn_free(xq);
	return true;
}

/* ---- AVX2 micro-kernels: 4 weight rows × 4 activation rows ------------------------------- */

#if CN_KERN_X86
#define F16(h) _cvtsh_ss(h)

/* Lanes 0-3: the sums of the low 128 bits of s0..s3; lanes 4-7: of their high 128 bits.
 * Unpacks and adds: phadd costs several times as much on the machines measured. */
CN_AVX2 static inline __m256i fold4x8(__m256i s0, __m256i s1, __m256i s2, __m256i s3)
{
	__m256i t0 = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
	__m256i t1 = _mm256_add_epi32(_mm256_unpacklo_epi32(s2, s3), _mm256_unpackhi_epi32(s2, s3));
	return _mm256_add_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
}

/* [Σ s0, Σ s1, Σ s2, Σ s3] of four vectors of 8 int32 (exact: the callers' sums are bounded). */
CN_AVX2 static inline __m128i hsum4x8(__m256i s0, __m256i s1, __m256i s2, __m256i s3)
{
	__m256i f = fold4x8(s0, s1, s2, s3);
	return _mm_add_epi32(_mm256_castsi256_si128(f), _mm256_extracti128_si256(f, 1));
}

/* [Σ m0, Σ m1, Σ m2, Σ m3] of four vectors of 4 int32. */
CN_AVX2 static inline __m128i hsum4x4(__m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
	__m128i t0 = _mm_add_epi32(_mm_unpacklo_epi32(m0, m1), _mm_unpackhi_epi32(m0, m1));
	__m128i t1 = _mm_add_epi32(_mm_unpacklo_epi32(m2, m3), _mm_unpackhi_epi32(m2, m3));
	return _mm_add_epi32(_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1));
}

/* Signed bytes w × signed bytes a (|a| ≤ 127), given |w| as aw: 8 int32 pair sums. */
CN_AVX2 static inline __m256i dot_s8(__m256i aw, __m256i w, __m256i a)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, w)), _mm256_set1_epi16(1));
}

CN_AVX2 static inline __m256i nib32(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
	return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

#define LD(p) _mm256_loadu_si256((const __m256i *)(p))

/* One tile's operands: 4 weight rows and 4 quantized activation rows (edges repeat the last
 * real row). For Q8_0/Q4_0 also the block scales as floats, converted once per work item
 * (ws[i][b], weight row i) and once per product (das[4·b + k], activation row k of the
 * tile), so the inner loop does no half-to-float conversion and no gathering. */
typedef struct tile_args {
	const uint8_t *w[TILE];
	const float *ws[TILE];
	const uint8_t *a[TILE];
	const float *das;
	int64_t nb;
} tile_args;

/* Q8_0 and Q4_0 (q4: the nibbles minus 8 are the signed weights). The sums of elements
 * 0-15 and 16-31 of a block (the two 128-bit halves) are accumulated apart, in the two
 * halves of one 8-lane register per weight row, and added at the end: one fold per block
 * and row instead of a full horizontal sum. Per block, half and element |Σ| < 2¹⁹, exact in
 * float too. */
CN_AVX2 __attribute__((always_inline)) static inline void tile_q8(bool q4, const tile_args *t, float out[TILE][TILE])
{
	const size_t wsz = q4 ? sizeof(cn_block_q4_0) : sizeof(cn_block_q8_0);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
	const cn_block_q8a *a0 = (const void *)t->a[0], *a1 = (const void *)t->a[1], *a2 = (const void *)t->a[2],
	                   *a3 = (const void *)t->a[3];
	const uint8_t *w0 = t->w[0], *w1 = t->w[1], *w2 = t->w[2], *w3 = t->w[3];
	const float *s0 = t->ws[0], *s1 = t->ws[1], *s2 = t->ws[2], *s3 = t->ws[3], *das = t->das;
	const int64_t nb = t->nb;
	for (int64_t b = 0; b < nb; b++) {
		const __m256i x0 = LD(a0[b].qs), x1 = LD(a1[b].qs), x2 = LD(a2[b].qs), x3 = LD(a3[b].qs);
		const __m256 da = _mm256_broadcast_ps((const __m128 *)(const void *)(das + 4 * b));
		const size_t off = (size_t)b * wsz;
#define CN_ROW(wr, ws, acc)                                                                                   \
	do {                                                                                                      \
		const uint8_t *blk = (wr) + off;                                                                      \
		__m256i wv = q4 ? _mm256_sub_epi8(nib32(blk + 2), _mm256_set1_epi8(8)) : LD(blk + 2);                 \
		__m256i aw = _mm256_sign_epi8(wv, wv);                                                                \
		__m256i s = fold4x8(dot_s8(aw, wv, x0), dot_s8(aw, wv, x1), dot_s8(aw, wv, x2), dot_s8(aw, wv, x3)); \
		__m256 sc = _mm256_mul_ps(_mm256_broadcast_ss((ws) + b), da);                                        \
		acc = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(s), acc);                                                \
	} while (0)
		CN_ROW(w0, s0, acc0);
		CN_ROW(w1, s1, acc1);
		CN_ROW(w2, s2, acc2);
		CN_ROW(w3, s3, acc3);
#undef CN_ROW
	}
#define CN_OUT(i, acc) _mm_storeu_ps(out[i], _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)))
	CN_OUT(0, acc0);
	CN_OUT(1, acc1);
	CN_OUT(2, acc2);
	CN_OUT(3, acc3);
#undef CN_OUT
}

CN_AVX2 static void tile_q8_0(const tile_args *t, float out[TILE][TILE]) { tile_q8(false, t, out); }

CN_AVX2 static void tile_q4_0(const tile_args *t, float out[TILE][TILE]) { tile_q8(true, t, out); }

/* The 8 six-bit scales and mins of a Q4_K/Q5_K super-block as 16 bytes sc0-7, m0-7 (as in
 * qdot.c; 16 bytes are read from the 12-byte field, more of the block follows it). */
CN_AVX2 static inline __m128i k4_scales(const uint8_t *q)
{
	__m128i raw = _mm_loadu_si128((const __m128i *)q);
	__m128i lo6 = _mm_and_si128(raw, _mm_set1_epi8(0x3f));
	__m128i cn = _mm_srlv_epi32(_mm_shuffle_epi32(raw, 0xAA), _mm_setr_epi32(0, 4, 0, 0));
	__m128i hi = _mm_or_si128(_mm_and_si128(cn, _mm_set1_epi8(0x0f)),
	                          _mm_and_si128(_mm_srli_epi32(raw, 2), _mm_set1_epi8(0x30)));
	return _mm_unpacklo_epi32(lo6, hi);
}

/* pshufb controls that broadcast 16-bit element j of a 128-bit lane to all 8 of its words */
static const uint8_t k_bcast16[8][32] = {
#define CN_B(j) {2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, \
                 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, \
                 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1}
    CN_B(0), CN_B(1), CN_B(2), CN_B(3), CN_B(4), CN_B(5), CN_B(6), CN_B(7)
#undef CN_B
};

/* Q4_K and Q5_K (five: the fifth bit of sub-block j is bit j of qh[l]). The scales and mins
 * of a weight super-block are widened once and serve the 4 activation rows; the mins meet
 * the pairwise sums of each activation row's 16-element sums (computed once per block and
 * activation row). Per element and super-block |Σ| < 2²³ (scales), < 2²¹ (mins). */
CN_AVX2 __attribute__((always_inline)) static inline void tile_q45_k(bool five, const uint8_t *const w[TILE], const uint8_t *const a[TILE],
                                      int64_t nb, float out[TILE][TILE])
{
	const size_t wsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
	const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
	__m128 acc[TILE], accm[TILE];
	for (int i = 0; i < TILE; i++)
		acc[i] = accm[i] = _mm_setzero_ps();
	const cn_block_q8k *A[TILE];
	for (int j = 0; j < TILE; j++)
		A[j] = (const void *)a[j];
	for (int64_t b = 0; b < nb; b++) {
		const __m128 da = _mm_setr_ps(A[0][b].d, A[1][b].d, A[2][b].d, A[3][b].d);
		__m128i bs8[TILE];
		for (int j = 0; j < TILE; j++) {
			__m256i bs = LD(A[j][b].bsums);
			bs8[j] = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
		}
		const int8_t *q0 = A[0][b].qs, *q1 = A[1][b].qs, *q2 = A[2][b].qs, *q3 = A[3][b].qs;
		for (int i = 0; i < TILE; i++) {
			const uint8_t *blk = w[i] + (size_t)b * wsz;
			const uint8_t *qs = blk + (five ? 48 : 16);
			__m256i sm = _mm256_cvtepu8_epi16(k4_scales(blk + 4)); /* sc0-7 | m0-7 */
			__m128i m16 = _mm256_extracti128_si256(sm, 1);
			__m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00);
			__m256i qh = five ? LD(blk + 16) : _mm256_setzero_si256();
			__m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
#pragma GCC unroll 1
			for (int c = 0; c < 4; c++) {
				__m256i v = LD(qs + 32 * c);
				__m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
				if (five) {
					lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
					hi = _mm256_or_si256(hi,
					                     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
				}
				__m256i sl = _mm256_shuffle_epi8(sc, LD(k_bcast16[2 * c]));
				__m256i sh = _mm256_shuffle_epi8(sc, LD(k_bcast16[2 * c + 1]));
#define CN_ACT(q, s)                                                                                      \
	s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, LD(q + 64 * c)), sl), \
	                                         _mm256_madd_epi16(_mm256_maddubs_epi16(hi, LD(q + 64 * c + 32)), sh)))
				CN_ACT(q0, s0);
				CN_ACT(q1, s1);
				CN_ACT(q2, s2);
				CN_ACT(q3, s3);
#undef CN_ACT
			}
			__m128i is = hsum4x8(s0, s1, s2, s3);
			__m128i im = hsum4x4(_mm_madd_epi16(m16, bs8[0]), _mm_madd_epi16(m16, bs8[1]), _mm_madd_epi16(m16, bs8[2]),
			                     _mm_madd_epi16(m16, bs8[3]));
			acc[i] = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(F16(cn_ld16(blk))), da), _mm_cvtepi32_ps(is), acc[i]);
			accm[i] = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(F16(cn_ld16(blk + 2))), da), _mm_cvtepi32_ps(im), accm[i]);
		}
	}
	for (int i = 0; i < TILE; i++)
		_mm_storeu_ps(out[i], _mm_sub_ps(acc[i], accm[i]));
}

CN_AVX2 static void tile_q4_k(const tile_args *t, float out[TILE][TILE]) { tile_q45_k(false, t->w, t->a, t->nb, out); }

CN_AVX2 static void tile_q5_k(const tile_args *t, float out[TILE][TILE]) { tile_q45_k(true, t->w, t->a, t->nb, out); }

/* Q6_K: the 6-bit values (0..63) go through maddubs unsigned, each 16-element half with its
 * int8 scale; the −32 offset is 32 · Σ_g sc_g · bsum_g per activation row. Per element and
 * super-block |Σ| < 2²⁶. */
CN_AVX2 static void tile_q6_k(const tile_args *t, float out[TILE][TILE])
{
	const uint8_t *const *w = t->w, *const *a = t->a;
	const int64_t nb = t->nb;
	const __m256i m4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
	__m128 acc[TILE];
	for (int i = 0; i < TILE; i++)
		acc[i] = _mm_setzero_ps();
	const cn_block_q8k *A[TILE];
	for (int j = 0; j < TILE; j++)
		A[j] = (const void *)a[j];
	for (int64_t b = 0; b < nb; b++) {
		const __m128 da = _mm_setr_ps(A[0][b].d, A[1][b].d, A[2][b].d, A[3][b].d);
		const int8_t *q0 = A[0][b].qs, *q1 = A[1][b].qs, *q2 = A[2][b].qs, *q3 = A[3][b].qs;
		for (int i = 0; i < TILE; i++) {
			const cn_block_q6_K *blk = (const cn_block_q6_K *)(const void *)w[i] + b;
			const int8_t *scl = blk->scales;
			__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scl));
			__m256i s0 = _mm256_sub_epi32(_mm256_setzero_si256(),
			                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, LD(A[0][b].bsums)), 5));
			__m256i s1 = _mm256_sub_epi32(_mm256_setzero_si256(),
			                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, LD(A[1][b].bsums)), 5));
			__m256i s2 = _mm256_sub_epi32(_mm256_setzero_si256(),
			                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, LD(A[2][b].bsums)), 5));
			__m256i s3 = _mm256_sub_epi32(_mm256_setzero_si256(),
			                              _mm256_slli_epi32(_mm256_madd_epi16(sc16, LD(A[3][b].bsums)), 5));
			for (int h = 0; h < 2; h++) {
				const uint8_t *ql = blk->ql + 64 * h;
				__m256i qh = LD(blk->qh + 32 * h);
				__m256i x0 = LD(ql), x1 = LD(ql + 32);
#pragma GCC unroll 4
				for (int r = 0; r < 4; r++) {
					__m256i v = r == 0 ? _mm256_and_si256(x0, m4)
					            : r == 1 ? _mm256_and_si256(x1, m4)
					            : r == 2 ? _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4)
					                     : _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
					__m256i q = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * r), three), 4));
					const int8_t *s = scl + 8 * h + 2 * r;
					__m256i sv = _mm256_set_m128i(_mm_set1_epi16(s[1]), _mm_set1_epi16(s[0]));
					const int o = 128 * h + 32 * r;
					s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(q, LD(q0 + o)), sv));
					s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(q, LD(q1 + o)), sv));
					s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_maddubs_epi16(q, LD(q2 + o)), sv));
					s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_maddubs_epi16(q, LD(q3 + o)), sv));
				}
			}
			__m128i is = hsum4x8(s0, s1, s2, s3);
			acc[i] = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(F16(blk->d)), da), _mm_cvtepi32_ps(is), acc[i]);
		}
	}
	for (int i = 0; i < TILE; i++)
		_mm_storeu_ps(out[i], acc[i]);
}
#undef LD

typedef void (*tile_fn)(const tile_args *t, float out[TILE][TILE]);

static tile_fn tile_for(cn_ggml_type t)
{
	switch (t) {
	case CN_GGML_Q8_0: return tile_q8_0;
	case CN_GGML_Q4_0: return tile_q4_0;
	case CN_GGML_Q4_K: return tile_q4_k;
	case CN_GGML_Q5_K: return tile_q5_k;
	case CN_GGML_Q6_K: return tile_q6_k;
	default: return NULL;
	}
}

/* ---- the driver ----------------------------------------------------------------------------- */

typedef struct qgemm_job {
	const float *X;
	int64_t M, ldx, K;
	cn_ggml_type atype; /* a weight type of the group: selects the activation format */
	size_t qb;          /* bytes of one quantized activation row */
	int64_t nb;         /* blocks per row */
	bool q8a;           /* activation blocks of 32 (Q8_0, Q4_0): scales go through das and ws */
	uint8_t *xq;
	float *das; /* q8a: das[(t·nb + b)·4 + k] = scale of block b of row 4t + k (edges repeat) */
	int n;
	const cn_weight *const *W;
	const float *const *bias;
	float *const *Y;
	const int64_t *ldy;
	cn_pool *pool;
	int64_t first[GROUP_MAX + 1]; /* matrix i owns items [first[i], first[i+1]) */
	int64_t mchunk;               /* activation rows per L2 chunk (a multiple of TILE) */
	_Atomic int64_t next;
	_Atomic bool oom;
} qgemm_job;

static void quantize_rows(void *ctx, int64_t m0, int64_t m1, int thread)
{
	(void)thread;
	qgemm_job *j = ctx;
	for (int64_t m = m0; m < m1; m++) {
		uint8_t *row = j->xq + (size_t)m * j->qb;
		cn_q8_act_quantize_avx2(j->atype, j->X + m * j->ldx, row, j->K);
		if (!j->q8a)
			continue;
		/* the last row also fills the slots of the rows its tile lacks */
		int k1 = m == j->M - 1 ? TILE : (int)(m % TILE) + 1;
		float *d = j->das + (size_t)(m / TILE) * (size_t)j->nb * TILE;
		for (int64_t b = 0; b < j->nb; b++)
			for (int k = (int)(m % TILE); k < k1; k++)
				d[b * TILE + k] = ((const cn_block_q8a *)(const void *)row)[b].d;
	}
}

/* Weight rows [r0, r1) of matrix g; ws: room for ROWS_ITEM · nb floats (q8a). */
static void qgemm_item(qgemm_job *j, int g, int64_t r0, int64_t r1, float *ws)
{
	const cn_weight *W = j->W[g];
	const tile_fn tile = tile_for(W->type);
	const int64_t nb = j->nb;
	const float *bias = j->bias[g];
	float *Y = j->Y[g];
	const int64_t ldy = j->ldy[g];
	tile_args t = {.nb = nb};
	if (j->q8a) /* the weight scales of the item, once (Q8_0 and Q4_0 blocks start with d) */
		for (int64_t r = r0; r < r1; r++) {
			const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
			size_t bsz = W->type == CN_GGML_Q4_0 ? sizeof(cn_block_q4_0) : sizeof(cn_block_q8_0);
			for (int64_t b = 0; b < nb; b++)
				ws[(r - r0) * nb + b] = cn_f16_to_f32(cn_ld16(row + (size_t)b * bsz));
		}
	for (int64_t mc = 0; mc < j->M; mc += j->mchunk) {
		int64_t me = mc + j->mchunk < j->M ? mc + j->mchunk : j->M;
		for (int64_t r = r0; r < r1; r += TILE) {
			int nr = (int)(r1 - r < TILE ? r1 - r : TILE);
			for (int i = 0; i < TILE; i++) {
				int64_t ri = r + (i < nr ? i : nr - 1);
				t.w[i] = (const uint8_t *)W->data + (size_t)ri * W->row_bytes;
				t.ws[i] = ws + (ri - r0) * nb;
			}
			for (int64_t m = mc; m < me; m += TILE) {
				int na = (int)(me - m < TILE ? me - m : TILE);
				for (int k = 0; k < TILE; k++)
					t.a[k] = j->xq + (size_t)(m + (k < na ? k : na - 1)) * j->qb;
				if (j->q8a)
					t.das = j->das + (size_t)(m / TILE) * (size_t)nb * TILE;
				float out[TILE][TILE];
				tile(&t, out);
				for (int k = 0; k < na; k++) {
					float *y = Y + (m + k) * ldy + r;
					for (int i = 0; i < nr; i++)
						y[i] = bias ? out[i][k] + bias[r + i] : out[i][k];
				}
			}
		}
	}
}

/* Each thread claims items from a shared counter until none are left (a thread the shared
 * machine descheduled does not hold the others back); which thread runs an item does not
 * change its values. */
static void qgemm_run(void *ctx, int64_t t0, int64_t t1, int thread)
{
	(void)t0, (void)t1;
	qgemm_job *j = ctx;
	const size_t wsb = j->q8a ? (size_t)ROWS_ITEM * (size_t)j->nb * sizeof(float) : 0;
	float *ws = NULL, *own = NULL;
	if (wsb) {
		ws = j->pool ? cn_pool_scratch(j->pool, thread, wsb) : NULL;
		if (!ws)
			ws = own = cn_malloc(wsb);
		if (!ws) {
			j->oom = true;
			return;
		}
	}
	for (;;) {
		int64_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (it >= j->first[j->n])
			break;
		int g = 0;
		while (it >= j->first[g + 1])
			g++;
		int64_t r0 = (it - j->first[g]) * ROWS_ITEM, rows = j->W[g]->rows;
		qgemm_item(j, g, r0, r0 + ROWS_ITEM < rows ? r0 + ROWS_ITEM : rows, ws);
	}
	cn_free(own);
}

bool cn_qgemm(cn_pool *pool, const float *X, int64_t M, int64_t ldx, int n, const cn_weight *const *W,
              const float *const *bias, float *const *Y, const int64_t *ldy)
{
	if (M <= 0)
		return true;
	if (!cn_qgemm_ok(n, W))
		return false;
	if (!cn_kern_fast()) {
		for (int i = 0; i < n; i++)
			if (!cn_qgemm_ref(X, M, ldx, W[i], bias[i], Y[i], ldy[i]))
				return false;
		return true;
	}
	qgemm_job j = {.X = X, .M = M, .ldx = ldx, .K = W[0]->cols, .atype = W[0]->type, .n = n, .W = W, .bias = bias,
	               .Y = Y, .ldy = ldy, .pool = pool};
	j.qb = cn_q8_act_bytes(W[0]->type, W[0]->cols);
	j.q8a = cn_q8_act_type(W[0]->type) == CN_GGML_Q8_0;
	j.nb = W[0]->cols / (j.q8a ? CN_QK : CN_QK_K);
	/* the quantized rows, then (q8a) their scales by tile: M rounded up to the tile */
	const int64_t mt = (M + TILE - 1) / TILE * TILE;
	if (j.qb == 0 || (size_t)mt > SIZE_MAX / 2 / (j.qb + (size_t)j.nb * sizeof(float)))
		return false;
	size_t xbytes = (j.qb * (size_t)M + 63) / 64 * 64;
	size_t bytes = xbytes + (j.q8a ? (size_t)mt * (size_t)j.nb * sizeof(float) : 0);
	uint8_t *own = NULL;
	j.xq = pool ? cn_pool_scratch(pool, -1, bytes) : NULL;
	if (!j.xq)
		j.xq = own = cn_malloc(bytes);
	if (!j.xq)
		return false;
	j.das = j.q8a ? (float *)(void *)(j.xq + xbytes) : NULL;
	cn_pool_for(pool, M, 4, quantize_rows, &j);
	j.mchunk = (int64_t)(ACT_CHUNK / j.qb) / TILE * TILE;
	if (j.mchunk < TILE)
		j.mchunk = TILE;
	for (int i = 0; i < n; i++)
		j.first[i + 1] = j.first[i] + (W[i]->rows + ROWS_ITEM - 1) / ROWS_ITEM;
	atomic_init(&j.next, 0);
	atomic_init(&j.oom, false);
	int64_t nt = cn_pool_threads(pool);
	cn_pool_for(pool, j.first[n] < nt ? j.first[n] : nt, 1, qgemm_run, &j);
	cn_free(own);
	return !atomic_load(&j.oom);
}
#else
bool cn_qgemm(cn_pool *pool, const float *X, int64_t M, int64_t ldx, int n, const cn_weight *const *W,
              const float *const *bias, float *const *Y, const int64_t *ldy)
{
	(void)pool;
	if (!cn_qgemm_ok(n, W))
		return false;
	for (int i = 0; i < n; i++)
		if (!cn_qgemm_ref(X, M, ldx, W[i], bias[i], Y[i], ldy[i]))
			return false;
	return true;
}
#endif
