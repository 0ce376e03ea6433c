/*
 * convert.c — half (IEEE binary16) and bfloat16 conversions.
 *
 * The scalar conversions are exact bit manipulations (subnormals, infinities and NaN
 * included) so they agree with numpy and with the F16C instructions bit for bit; the row
 * conversions use F16C / integer shifts when the fast path is on. F32→F16 rounds to nearest
 * even like numpy's astype(float16) and _cvtss_sh, which is also what ggml uses to write
 * the scales of quantized blocks.
 */
#include "kern/kern_int.h"

#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

static inline uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}
static inline float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float cn_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
	if (exp == 0x1F) /* inf / NaN: keep the payload */
		return u2f(sign | 0x7F800000u | (mant << 13));
	if (exp == 0) {
		if (mant == 0)
			return u2f(sign);
		/* subnormal: mant · 2^-24, exact in float */
		float v = (float)mant * 0x1p-24f;
		return sign ? -v : v;
	}
	return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t cn_f32_to_f16(float f)
{
	uint32_t u = f2u(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t a = u & 0x7FFFFFFFu;
	if (a > 0x7F800000u) /* NaN: quiet, keep the top payload bits */
		return (uint16_t)(sign | 0x7E00 | ((a >> 13) & 0x3FF));
	if (a >= 0x477FF000u) /* ≥ 65520 rounds to infinity */
		return (uint16_t)(sign | 0x7C00);
	if (a < 0x38800000u) { /* below 2^-14: subnormal half (or zero) */
		if (a < 0x33000000u) /* < 2^-25: rounds to zero (2^-25 exactly ties to even 0) */
			return sign;
		uint32_t e = a >> 23, m = (a & 0x7FFFFF) | 0x800000;
		uint32_t shift = 126 - e; /* value = m · 2^(e-150); want units of 2^-24 */
		uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		return (uint16_t)(sign | q);
	}
	/* normal: rebias and round the 13 dropped bits to nearest even */
	uint32_t r = a + 0xFFF + ((a >> 13) & 1);
	return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float cn_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t cn_f32_to_bf16(float f)
{
	uint32_t u = f2u(f);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u)
		return (uint16_t)((u >> 16) | 0x40); /* quiet NaN stays NaN */
	return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

void cn_f16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = cn_f16_to_f32(cn_ld16(src + i));
}

void cn_bf16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = cn_bf16_to_f32(cn_ld16(src + i));
}

#if CN_KERN_X86
CN_AVX2 void cn_f16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n)
{
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
		__m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8)));
		_mm256_storeu_ps(dst + i, a);
		_mm256_storeu_ps(dst + i + 8, b);
	}
	for (; i < n; i++)
		dst[i] = cn_f16_to_f32(cn_ld16(src + i));
}

CN_AVX2 void cn_bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
		_mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
	}
	for (; i < n; i++)
		dst[i] = cn_bf16_to_f32(cn_ld16(src + i));
}
#endif
