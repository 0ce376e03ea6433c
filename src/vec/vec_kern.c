/*
 * vec_kern.c — distance kernels, chosen once at run time.
 *
 * Design. Distance computations are nearly all of the time of both building and searching,
 * so the AVX2+FMA versions matter; the library is compiled for baseline x86-64, so they are
 * built with __attribute__((target("avx2,fma"))) and chosen by CPUID (__builtin_cpu_supports),
 * with the scalar loops as the reference the tests compare against (and the path on other
 * CPUs and architectures).
 *
 *  - float dot / squared L2: four independent 8-lane FMA accumulators (32 floats per step),
 *    enough to hide the FMA latency; the tail is scalar.
 *  - int8 dot: codes are in [-127, 127], so |a|·sign(b, a) fits the unsigned×signed byte
 *    multiply (vpmaddubsw) without saturating (2·127² < 2^15), and vpmaddwd with ones widens
 *    the pairs to int32: 32 products per step. Hostile codes of -128 can only give a wrong
 *    value, never a fault.
 */
#include "vec/vec_int.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC_HAVE_X86 1
#endif

static float dot_scalar(const float *a, const float *b, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static float l2sq_scalar(const float *a, const float *b, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++) {
		float d = a[i] - b[i];
		s += d * d;
	}
	return s;
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
	int32_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (int32_t)a[i] * (int32_t)b[i];
	return s;
}

static const cn_vec_kernels k_scalar = {"scalar", dot_scalar, l2sq_scalar, dot_i8_scalar};

#ifdef VEC_HAVE_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++) {
		float d = a[i] - b[i];
		s += d * d;
	}
	return s;
}

__attribute__((target("avx2,fma"))) static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
	__m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
	const __m256i ones = _mm256_set1_epi16(1);
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		__m256i va = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
		__m256i vb = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
		__m256i wa = _mm256_loadu_si256((const __m256i *)(const void *)(a + i + 32));
		__m256i wb = _mm256_loadu_si256((const __m256i *)(const void *)(b + i + 32));
		__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
		__m256i q = _mm256_maddubs_epi16(_mm256_sign_epi8(wa, wa), _mm256_sign_epi8(wb, wa));
		acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p, ones));
		acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(q, ones));
	}
	for (; i + 32 <= n; i += 32) {
		__m256i va = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
		__m256i vb = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
		__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
		acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p, ones));
	}
	acc0 = _mm256_add_epi32(acc0, acc1);
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc0), _mm256_extracti128_si256(acc0, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	int32_t r = _mm_cvtsi128_si32(s);
	for (; i < n; i++)
		r += (int32_t)a[i] * (int32_t)b[i];
	return r;
}

static const cn_vec_kernels k_avx2 = {"avx2+fma", dot_avx2, l2sq_avx2, dot_i8_avx2};
#endif

static int have_avx2 = -1;
static bool force_scalar;

const cn_vec_kernels *cn_vec_kernels_avx2(void)
{
#ifdef VEC_HAVE_X86
	if (have_avx2 < 0) {
		__builtin_cpu_init();
		have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return have_avx2 ? &k_avx2 : NULL;
#else
	return NULL;
#endif
}

const cn_vec_kernels *cn_vec_kernels_scalar(void) { return &k_scalar; }

const cn_vec_kernels *cn_vec_kernels_best(void)
{
	const cn_vec_kernels *k = cn_vec_kernels_avx2();
	return k ? k : &k_scalar;
}

void cn_vec_force_scalar(bool on) { force_scalar = on; }

const cn_vec_kernels *cn_vec_kern(void) { return force_scalar ? &k_scalar : cn_vec_kernels_best(); }

float cn_vec_quantize(const float *x, size_t dim, int8_t *codes)
{
	float m = 0;
	for (size_t i = 0; i < dim; i++)
		m = fmaxf(m, fabsf(x[i]));
	if (!(m > 0) || !isfinite(m)) {
		for (size_t i = 0; i < dim; i++)
			codes[i] = 0;
		return 0;
	}
	float scale = m / 127.0f, inv = 127.0f / m;
	for (size_t i = 0; i < dim; i++) {
		float c = nearbyintf(x[i] * inv);
		codes[i] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
	}
	return scale;
}

int cn_vec_cmp_pair(const void *a, const void *b)
{
	vec_pair x = *(const vec_pair *)a, y = *(const vec_pair *)b;
	return vec_pair_less(x, y) ? -1 : vec_pair_less(y, x) ? 1 : 0;
}
