/*
 * dot.c — row · vector for every supported weight type (the M = 1 matmul path).
 *
 * Reference: dequantize one block at a time into a small buffer and accumulate in double
 * (simple, and accurate enough to judge the fast path against).
 * AVX2: fused — the quant values of a block are widened to floats in registers and
 * multiplied with x without ever being stored; the block scale is applied once per block
 * (d · Σ q·x, and for the formats with a min, − m · Σ x), which is both fewer multiplies
 * and the same rounding budget as dequantize-then-dot. Accumulation is in float with
 * several independent vector accumulators.
 */
#include "kern/kern_int.h"

#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

float cn_vec_dot_ref(cn_ggml_type t, const void *row, const float *x, int64_t n)
{
	const cn_ggml_type_info *ti = cn_ggml_type_get(t);
	if (!ti || !cn_kern_supports(t))
		return 0.0f;
	double sum = 0.0;
	if (t == CN_GGML_F32) {
		const float *r = row;
		for (int64_t i = 0; i < n; i++)
			sum += (double)r[i] * x[i];
		return (float)sum;
	}
	float buf[CN_QK_K];
	int64_t bs = ti->block_size == 1 ? CN_QK_K : ti->block_size;
	const uint8_t *p = row;
	for (int64_t i = 0; i < n; i += bs) {
		int64_t len = n - i < bs ? n - i : bs;
		size_t bytes = ti->block_size == 1 ? (size_t)len * ti->type_size : ti->type_size;
		cn_dequantize_row_ref(t, p, buf, len);
		for (int64_t j = 0; j < len; j++)
			sum += (double)buf[j] * x[i + j];
		p += bytes;
	}
	return (float)sum;
}

#if CN_KERN_X86
CN_AVX2 static inline float hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* Σ q[i]·x[i] over 32 signed bytes, as an 8-lane vector. */
CN_AVX2 static inline __m256 dot32(__m256i q, const float *x)
{
	__m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
	__m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(x));
	__m256 b = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), _mm256_loadu_ps(x + 8));
	a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(x + 16), a);
	b = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), _mm256_loadu_ps(x + 24), b);
	return _mm256_add_ps(a, b);
}

/* Σ x[i] over 32 floats. */
CN_AVX2 static inline __m256 sum32(const float *x)
{
	return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
	                     _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
}

CN_AVX2 static inline __m256i nib16(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
	return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

CN_AVX2 static inline __m256i bits32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
	__m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), shuf);
	bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
	return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

CN_AVX2 static float dot_f32(const float *a, const float *x, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(x + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(x + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
	float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += a[i] * x[i];
	return s;
}

CN_AVX2 static float dot_f16(const uint16_t *a, const float *x, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))), _mm256_loadu_ps(x + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8))), _mm256_loadu_ps(x + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 16))), _mm256_loadu_ps(x + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 24))), _mm256_loadu_ps(x + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))), _mm256_loadu_ps(x + i), s0);
	float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += cn_f16_to_f32(cn_ld16(a + i)) * x[i];
	return s;
}

CN_AVX2 static inline __m256 bf16x8(const uint16_t *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

CN_AVX2 static float dot_bf16(const uint16_t *a, const float *x, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(bf16x8(a + i), _mm256_loadu_ps(x + i), s0);
		s1 = _mm256_fmadd_ps(bf16x8(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);
		s2 = _mm256_fmadd_ps(bf16x8(a + i + 16), _mm256_loadu_ps(x + i + 16), s2);
		s3 = _mm256_fmadd_ps(bf16x8(a + i + 24), _mm256_loadu_ps(x + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(bf16x8(a + i), _mm256_loadu_ps(x + i), s0);
	float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += cn_bf16_to_f32(cn_ld16(a + i)) * x[i];
	return s;
}

#define F16(h) _cvtsh_ss(h) /* F16C: exact, and inline unlike cn_f16_to_f32 */

CN_AVX2 float cn_vec_dot_avx2(cn_ggml_type t, const void *row, const float *x, int64_t n)
{
	/* two accumulators alternate between blocks to hide FMA latency */
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	switch (t) {
	case CN_GGML_F32: return dot_f32(row, x, n);
	case CN_GGML_F16: return dot_f16(row, x, n);
	case CN_GGML_BF16: return dot_bf16(row, x, n);
	case CN_GGML_Q4_0: {
		const cn_block_q4_0 *b = row;
		const __m256i eight = _mm256_set1_epi8(8);
		for (int64_t i = 0; i < n / 32; i++, x += 32) {
			__m256 p = dot32(_mm256_sub_epi8(nib16(b[i].qs), eight), x);
			if (i & 1)
				acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc1);
			else
				acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc0);
		}
		break;
	}
	case CN_GGML_Q4_1: {
		const cn_block_q4_1 *b = row;
		for (int64_t i = 0; i < n / 32; i++, x += 32) {
			acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), dot32(nib16(b[i].qs), x), acc0);
			acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].m)), sum32(x), acc1);
		}
		break;
	}
	case CN_GGML_Q5_0: {
		const cn_block_q5_0 *b = row;
		const __m256i sixteen = _mm256_set1_epi8(16);
		for (int64_t i = 0; i < n / 32; i++, x += 32) {
			__m256i hb = _mm256_and_si256(bits32(b[i].qh), sixteen);
			__m256 p = dot32(_mm256_sub_epi8(_mm256_or_si256(nib16(b[i].qs), hb), sixteen), x);
			if (i & 1)
				acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc1);
			else
				acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc0);
		}
		break;
	}
	case CN_GGML_Q5_1: {
		const cn_block_q5_1 *b = row;
		const __m256i sixteen = _mm256_set1_epi8(16);
		for (int64_t i = 0; i < n / 32; i++, x += 32) {
			__m256i hb = _mm256_and_si256(bits32(b[i].qh), sixteen);
			acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), dot32(_mm256_or_si256(nib16(b[i].qs), hb), x), acc0);
			acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].m)), sum32(x), acc1);
		}
		break;
	}
	case CN_GGML_Q8_0: {
		const cn_block_q8_0 *b = row;
		for (int64_t i = 0; i < n / 32; i++, x += 32) {
			__m256 p = dot32(_mm256_loadu_si256((const __m256i *)b[i].qs), x);
			if (i & 1)
				acc1 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc1);
			else
				acc0 = _mm256_fmadd_ps(_mm256_set1_ps(F16(b[i].d)), p, acc0);
		}
		break;
	}
	case CN_GGML_Q4_K:
	case CN_GGML_Q5_K: {
		const bool five = t == CN_GGML_Q5_K;
		const uint8_t *p = row;
		const size_t bsz = five ? sizeof(cn_block_q5_K) : sizeof(cn_block_q4_K);
		const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
		for (int64_t i = 0; i < n / 256; i++, p += bsz) {
			const uint8_t *scales = p + 4, *qs = p + (five ? 48 : 16);
			const float d = F16(cn_ld16(p)), dmin = F16(cn_ld16(p + 2));
			__m256i qh = five ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
			for (int j = 0; j < 4; j++, x += 64) {
				__m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
				__m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
				if (five) {
					__m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one);
					__m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one);
					lo = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
					hi = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
				}
				uint8_t sc0, m0, sc1, m1;
				cn_scale_min_k4(2 * j, scales, &sc0, &m0);
				cn_scale_min_k4(2 * j + 1, scales, &sc1, &m1);
				acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * sc0), dot32(lo, x), acc0);
				acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * sc1), dot32(hi, x + 32), acc1);
				acc0 = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * m0), sum32(x), acc0);
				acc1 = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * m1), sum32(x + 32), acc1);
			}
		}
		break;
	}
	case CN_GGML_Q6_K: {
		const cn_block_q6_K *b = row;
		const __m256i m4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
		for (int64_t i = 0; i < n / 256; i++) {
			const float d = F16(b[i].d);
			for (int h = 0; h < 2; h++) {
				const uint8_t *ql = b[i].ql + 64 * h;
				__m256i qh = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
				__m256i a = _mm256_loadu_si256((const __m256i *)ql), c = _mm256_loadu_si256((const __m256i *)(ql + 32));
				__m256i v[4];
				v[0] = _mm256_and_si256(a, m4);
				v[1] = _mm256_and_si256(c, m4);
				v[2] = _mm256_and_si256(_mm256_srli_epi16(a, 4), m4);
				v[3] = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4);
				for (int r = 0; r < 4; r++) {
					__m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * r), three);
					v[r] = _mm256_sub_epi8(_mm256_or_si256(v[r], _mm256_slli_epi16(hb, 4)), off);
					const int8_t *sc = b[i].scales + 8 * h + 2 * r;
					/* the two 16-element halves have their own scales */
					__m128i lo = _mm256_castsi256_si128(v[r]), hi = _mm256_extracti128_si256(v[r], 1);
					__m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(x));
					p0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
					                     _mm256_loadu_ps(x + 8), p0);
					__m256 p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(x + 16));
					p1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))),
					                     _mm256_loadu_ps(x + 24), p1);
					acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[0]), p0, acc0);
					acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[1]), p1, acc1);
					x += 32;
				}
			}
		}
		break;
	}
	default: return cn_vec_dot_ref(t, row, x, n);
	}
	return hsum(_mm256_add_ps(acc0, acc1));
}
#endif

float cn_vec_dot(cn_ggml_type t, const void *row, const float *x, int64_t n)
{
#if CN_KERN_X86
	if (cn_kern_fast())
		return cn_vec_dot_avx2(t, row, x, n);
#endif
	return cn_vec_dot_ref(t, row, x, n);
}
