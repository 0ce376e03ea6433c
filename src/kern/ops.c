/*
 * ops.c — row operations: norms, softmax, activations, rotary embeddings, vector helpers.
 *
 * Reference paths use libm (expf, erfcf, tanhf) and plain loops. The AVX2 paths use two
 * vectorised approximations:
 *  - exp: Cephes-style range reduction x = n·ln2 + r (ln2 split in two) and a degree-6
 *    polynomial, ≤ 2 ulp from expf on [-87.3, 88]; below -87.3 it returns 0 (libm returns
 *    subnormals there), above 88 it saturates at e^88.
 *  - erfc: the Chebyshev-fitted form erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2)
 *    (Numerical Recipes' erfcc, fractional error < 1.2e-7), used for GELU as
 *    x·erfc(−x/√2)/2, which keeps *relative* accuracy for negative x where the usual
 *    x·(1 + erf)/2 cancels.
 * Measured by tests/unit/test_kern.c against double-precision libm: GELU relative error
 * ≤ 2e-6 for |x| ≤ 6 (beyond, values are below 1e-8 in magnitude or equal x to float
 * precision), SiLU/GELU-tanh ≤ 1e-6 relative + 1e-30, softmax ≤ 1e-6 relative.
 * GELU-tanh uses the exact identity (1 + tanh u)/2 = 1/(1 + e^(−2u)).
 * Sums (norms, softmax, dot) use 2-4 × 8 float accumulators in the fast path; the reference
 * path sums norms and softmax in double, dot in float. They differ by rounding only.
 */
#include "kern/kern_int.h"

#include <math.h>
#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

/* ---- reference ------------------------------------------------------------------------------ */

static float dot_ref(const float *a, const float *b, int64_t n)
{
	float s = 0.0f;
	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static void layernorm_ref(float *x, int64_t n, const float *w, const float *b, float eps)
{
	double sum = 0.0;
	for (int64_t i = 0; i < n; i++)
		sum += x[i];
	const float mean = (float)(sum / (double)n);
	double var = 0.0;
	for (int64_t i = 0; i < n; i++)
		var += ((double)x[i] - mean) * ((double)x[i] - mean);
	const float inv = (float)(1.0 / sqrt(var / (double)n + eps));
	for (int64_t i = 0; i < n; i++) {
		float v = (x[i] - mean) * inv;
		if (w)
			v = v * w[i];
		if (b)
			v = v + b[i];
		x[i] = v;
	}
}

static void rmsnorm_ref(float *x, int64_t n, const float *w, float eps)
{
	double ss = 0.0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	const float inv = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (int64_t i = 0; i < n; i++)
		x[i] = w ? (x[i] * inv) * w[i] : x[i] * inv;
}

static void softmax_ref(float *x, int64_t n)
{
	float max = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		if (x[i] > max)
			max = x[i];
	double sum = 0.0;
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	const float inv = (float)(1.0 / sum);
	for (int64_t i = 0; i < n; i++)
		x[i] *= inv;
}

static void gelu_ref(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		x[i] = 0.5f * x[i] * erfcf(-x[i] * (float)M_SQRT1_2);
}

static void gelu_tanh_ref(float *x, int64_t n)
{
	const float k = 0.79788456080286535588f, a = 0.044715f; /* √(2/π), ggml's GELU_COEF_A */
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		x[i] = 0.5f * v * (1.0f + tanhf(k * v * (1.0f + a * v * v)));
	}
}

static void silu_ref(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void l2_ref(float *x, int64_t n)
{
	double ss = 0.0;
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	if (ss > 0.0) {
		const float inv = (float)(1.0 / sqrt(ss));
		for (int64_t i = 0; i < n; i++)
			x[i] *= inv;
	}
}

/* ---- AVX2 --------------------------------------------------------------------------------- */

#if CN_KERN_X86
CN_AVX2 static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

CN_AVX2 static inline float hmax8(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

CN_AVX2 static inline __m256 exp8(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
	__m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
	x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	__m256 res = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
	return _mm256_andnot_ps(under, res);
}

/* erfc(z) for z ≥ 0. */
CN_AVX2 static inline __m256 erfc_pos8(__m256 z)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	__m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, one));
	__m256 p = _mm256_set1_ps(0.17087277f);
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
	p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
	__m256 arg = _mm256_fnmadd_ps(z, z, p);
	return _mm256_mul_ps(t, exp8(arg));
}

CN_AVX2 static inline __m256 gelu8(__m256 x)
{
	/* u = −x/√2; erfc(u) = erfc_pos(|u|) for u ≥ 0, 2 − erfc_pos(|u|) for u < 0 */
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 u = _mm256_mul_ps(x, _mm256_set1_ps(-0.70710678118654752f));
	__m256 e = erfc_pos8(_mm256_andnot_ps(sign, u));
	__m256 neg = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ);
	e = _mm256_blendv_ps(e, _mm256_sub_ps(_mm256_set1_ps(2.0f), e), neg);
	return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), e);
}

CN_AVX2 static inline __m256 gelu_tanh8(__m256 x)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	__m256 x2 = _mm256_mul_ps(x, x);
	__m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.79788456080286535588f), x),
	                         _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x2, one));
	__m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
	return _mm256_div_ps(x, _mm256_add_ps(one, e));
}

CN_AVX2 static inline __m256 silu8(__m256 x)
{
	__m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
	return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

#define MAP8(name, fn8)                                                                                      \
	CN_AVX2 static void name(float *x, int64_t n)                                                            \
	{                                                                                                        \
		int64_t i = 0;                                                                                       \
		for (; i + 8 <= n; i += 8)                                                                           \
			_mm256_storeu_ps(x + i, fn8(_mm256_loadu_ps(x + i)));                                            \
		if (i < n) {                                                                                         \
			float t[8] = {0};                                                                                \
			memcpy(t, x + i, (size_t)(n - i) * sizeof(float));                                              \
			_mm256_storeu_ps(t, fn8(_mm256_loadu_ps(t)));                                                    \
			memcpy(x + i, t, (size_t)(n - i) * sizeof(float));                                               \
		}                                                                                                    \
	}
MAP8(gelu_avx2, gelu8)
MAP8(gelu_tanh_avx2, gelu_tanh8)
MAP8(silu_avx2, silu8)

/* Σ a·b with 4 accumulators. */
CN_AVX2 static float dot_avx2(const float *a, const float *b, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

CN_AVX2 static float sum_avx2(const float *a, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
		s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
	float s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += a[i];
	return s;
}

/* Σ (a − c)² */
CN_AVX2 static float sqdev_avx2(const float *a, float c, int64_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, vc = _mm256_set1_ps(c);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), vc), d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), vc);
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), vc);
		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	float s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += (a[i] - c) * (a[i] - c);
	return s;
}

CN_AVX2 static void layernorm_avx2(float *x, int64_t n, const float *w, const float *b, float eps)
{
	const float mean = sum_avx2(x, n) / (float)n;
	const float inv = 1.0f / sqrtf(sqdev_avx2(x, mean, n) / (float)n + eps);
	const __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
		if (w)
			v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
		if (b)
			v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
		_mm256_storeu_ps(x + i, v);
	}
	for (; i < n; i++) {
		float v = (x[i] - mean) * inv;
		if (w)
			v = v * w[i];
		if (b)
			v = v + b[i];
		x[i] = v;
	}
}

CN_AVX2 static void scale_avx2(float *y, float s, int64_t n)
{
	const __m256 vs = _mm256_set1_ps(s);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vs));
	for (; i < n; i++)
		y[i] *= s;
}

CN_AVX2 static void rmsnorm_avx2(float *x, int64_t n, const float *w, float eps)
{
	const float inv = 1.0f / sqrtf(dot_avx2(x, x, n) / (float)n + eps);
	if (!w) {
		scale_avx2(x, inv, n);
		return;
	}
	const __m256 vi = _mm256_set1_ps(inv);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi), _mm256_loadu_ps(w + i)));
	for (; i < n; i++)
		x[i] = (x[i] * inv) * w[i];
}

CN_AVX2 static void softmax_avx2(float *x, int64_t n)
{
	__m256 vmax = _mm256_set1_ps(-INFINITY);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
	float max = hmax8(vmax);
	for (; i < n; i++)
		if (x[i] > max)
			max = x[i];
	const __m256 vm = _mm256_set1_ps(max);
	__m256 vs = _mm256_setzero_ps();
	for (i = 0; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
		_mm256_storeu_ps(x + i, e);
		vs = _mm256_add_ps(vs, e);
	}
	float sum = hsum8(vs);
	if (i < n) {
		float t[8];
		for (int j = 0; j < 8; j++)
			t[j] = i + j < n ? x[i + j] - max : -INFINITY;
		_mm256_storeu_ps(t, exp8(_mm256_loadu_ps(t)));
		for (int j = 0; i + j < n; j++) {
			x[i + j] = t[j];
			sum += t[j];
		}
	}
	scale_avx2(x, 1.0f / sum, n);
}

CN_AVX2 static void add_avx2(float *y, const float *x, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] += x[i];
}

CN_AVX2 static void mad_avx2(float *y, float a, const float *x, int64_t n)
{
	__m256 va = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] = fmaf(a, x[i], y[i]);
}

/* One query row against L cached rows: scores by dot products, then the output row
 * accumulated position by position (each K and V row is read once, contiguously). */
CN_AVX2 static void attend1_avx2(const float *q, const float *K, const float *V, int64_t ld, int64_t L, int64_t hd,
                                 float scale, float *s, float *out)
{
	for (int64_t j = 0; j < L; j++)
		s[j] = scale * dot_avx2(q, K + j * ld, hd);
	softmax_avx2(s, L);
	for (int64_t i = 0; i < hd; i++)
		out[i] = 0.0f;
	for (int64_t j = 0; j < L; j++)
		mad_avx2(out, s[j], V + j * ld, hd);
}

CN_AVX2 static void mul_avx2(float *y, const float *x, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		y[i] *= x[i];
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------ */

#if CN_KERN_X86
#define FAST cn_kern_fast()
#else
#define FAST false
#endif

float cn_dot_f32(const float *a, const float *b, int64_t n)
{
#if CN_KERN_X86
	if (FAST)
		return dot_avx2(a, b, n);
#endif
	return dot_ref(a, b, n);
}

void cn_vec_add(float *y, const float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		add_avx2(y, x, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i];
}

void cn_vec_mad(float *y, float a, const float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		mad_avx2(y, a, x, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

void cn_attend1(const float *q, const float *K, const float *V, int64_t ld, int64_t L, int64_t hd, float scale, float *s,
                float *out)
{
	if (L <= 0)
		return;
#if CN_KERN_X86
	if (FAST) {
		attend1_avx2(q, K, V, ld, L, hd, scale, s, out);
		return;
	}
#endif
	for (int64_t j = 0; j < L; j++)
		s[j] = scale * dot_ref(q, K + j * ld, hd);
	softmax_ref(s, L);
	for (int64_t i = 0; i < hd; i++)
		out[i] = 0.0f;
	for (int64_t j = 0; j < L; j++)
		for (int64_t i = 0; i < hd; i++)
			out[i] += s[j] * V[j * ld + i];
}

void cn_vec_scale(float *y, float s, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		scale_avx2(y, s, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] *= s;
}

void cn_vec_mul(float *y, const float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		mul_avx2(y, x, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] *= x[i];
}

void cn_layernorm(float *x, int64_t n, const float *w, const float *b, float eps)
{
	if (n <= 0)
		return;
#if CN_KERN_X86
	if (FAST) {
		layernorm_avx2(x, n, w, b, eps);
		return;
	}
#endif
	layernorm_ref(x, n, w, b, eps);
}

void cn_rmsnorm(float *x, int64_t n, const float *w, float eps)
{
	if (n <= 0)
		return;
#if CN_KERN_X86
	if (FAST) {
		rmsnorm_avx2(x, n, w, eps);
		return;
	}
#endif
	rmsnorm_ref(x, n, w, eps);
}

void cn_softmax(float *x, int64_t n)
{
	if (n <= 0)
		return;
#if CN_KERN_X86
	if (FAST) {
		softmax_avx2(x, n);
		return;
	}
#endif
	softmax_ref(x, n);
}

void cn_gelu(float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		gelu_avx2(x, n);
		return;
	}
#endif
	gelu_ref(x, n);
}

void cn_gelu_tanh(float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		gelu_tanh_avx2(x, n);
		return;
	}
#endif
	gelu_tanh_ref(x, n);
}

void cn_silu(float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		silu_avx2(x, n);
		return;
	}
#endif
	silu_ref(x, n);
}

void cn_l2_normalize(float *x, int64_t n)
{
#if CN_KERN_X86
	if (FAST) {
		float ss = dot_avx2(x, x, n);
		if (ss > 0.0f)
			scale_avx2(x, 1.0f / sqrtf(ss), n);
		return;
	}
#endif
	l2_ref(x, n);
}

/* Rotary embedding. The angle of pair i is (float)pos · 1/theta_base^(2i/n_rot), computed in
 * float as Hugging Face's inv_freq is, so models match their reference implementation. The
 * fast path computes each cos/sin once per call for all heads; the reference recomputes them
 * per head. Same floats either way. */
static inline void rope_angle(int64_t i, int64_t n_rot, int64_t pos, float theta_base, float *c, float *s)
{
	const float inv_freq = 1.0f / powf(theta_base, (float)(2 * i) / (float)n_rot);
	const float a = (float)pos * inv_freq;
	*c = cosf(a);
	*s = sinf(a);
}

static inline void rope_pair(float *x, int64_t i0, int64_t i1, float c, float s)
{
	const float x0 = x[i0], x1 = x[i1];
	x[i0] = x0 * c - x1 * s;
	x[i1] = x0 * s + x1 * c;
}

void cn_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float theta_base, bool neox)
{
	if (n_rot > head_dim)
		n_rot = head_dim;
	const int64_t half = n_rot / 2;
	if (half <= 0)
		return;
	if (FAST && half <= 512) {
		float cs[512], sn[512];
		for (int64_t i = 0; i < half; i++)
			rope_angle(i, n_rot, pos, theta_base, &cs[i], &sn[i]);
		for (int64_t h = 0; h < n_heads; h++) {
			float *v = x + h * head_dim;
			for (int64_t i = 0; i < half; i++)
				rope_pair(v, neox ? i : 2 * i, neox ? i + half : 2 * i + 1, cs[i], sn[i]);
		}
		return;
	}
	for (int64_t h = 0; h < n_heads; h++) {
		float *v = x + h * head_dim;
		for (int64_t i = 0; i < half; i++) {
			float c, s;
			rope_angle(i, n_rot, pos, theta_base, &c, &s);
			rope_pair(v, neox ? i : 2 * i, neox ? i + half : 2 * i + 1, c, s);
		}
	}
}
