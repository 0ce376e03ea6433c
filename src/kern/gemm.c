/*
 * gemm.c — F32 matrix products: cn_sgemm, and cn_matmul over weights of any supported type.
 *
 * Own GEMM (AVX2/FMA), in the BLIS manner: A is packed once per call (per 8 MB chunk of rows)
 * into strips of MR = 6 rows, shared by all threads and packed in parallel; B is packed per
 * thread in panels of PANEL columns laid out as strips of NR = 16; a 6×16 register-blocked
 * micro-kernel (12 accumulators) runs over K blocks of at most KC_MAX, with MC_STRIPS A
 * strips kept in L2 while one B micro-panel sits in L1. Quantized/F16/BF16 weights are
 * dequantized 16 rows at a time into per-thread scratch and transposed straight into the
 * packed B layout, so the GEMM never sees the quantized format.
 *
 * Determinism: work is split over (column panel × row group) items, never over K. Every C
 * element is summed by the micro-kernel over k in order, in K blocks whose boundaries
 * depend on K alone, with the same write-back arithmetic for full and edge tiles (no FMA in
 * write-back). So results are bit-identical for any thread count.
 *
 * OpenBLAS: above a size threshold measured by bench/kern.sh (see cn_gemm_choose), F32
 * products go to cblas_sgemm instead, run as fixed tiles (TILE_M × TILE_N, independent of
 * the thread count) with OpenBLAS itself single-threaded, one tile per pool thread at a
 * time — again bit-identical for any thread count, and our pool stays the only source of
 * parallelism (no oversubscription when OpenBLAS's own pool would also spin up). This sets
 * OpenBLAS to one thread process-wide (openblas_set_num_threads(1)) the first time it is used.
 * Quantized/F16/BF16 weights always use our GEMM (the dequantized panel is ours to pack).
 *
 * cn_matmul with M > 1 and Q8_0/Q4_0/Q4_K/Q5_K/Q6_K weights goes to the integer GEMM of
 * qgemm.c instead (8-bit activations, as M = 1 does), unless 8-bit activations are off.
 *
 * Reference mode (CN_KERN_REF): a plain triple loop for cn_sgemm, and per-element
 * cn_vec_dot_ref (double accumulation) for cn_matmul; OpenBLAS is not used.
 */
#include "kern/kern_int.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if CN_KERN_X86
#include <immintrin.h>
#endif

#define MR 6
#define NR 16
#define KC_MAX 256
#define PANEL 64                      /* B columns per work item */
#define MC_STRIPS 40                  /* A strips (of MR rows) per L2 block */
#define A_PACK_MAX (8u << 20)         /* bytes of packed A per M chunk (stays in L3 across panels) */
#define TILE_M 256                    /* OpenBLAS tiles */
#define TILE_N 128

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* ---- implementation choice ------------------------------------------------------------- */

static _Atomic int gemm_impl_forced = CN_GEMM_AUTO;

void cn_gemm_set_impl(cn_gemm_impl impl) { atomic_store(&gemm_impl_forced, (int)impl); }

/* The threshold, from bench/kern.sh on the 2-core EPYC (bench/README-kern.md): on the
 * MiniLM shapes our GEMM and single-threaded OpenBLAS are within noise of each other up to
 * M = 2048 rows (ours ahead at M ≤ 512 and at 2048 in most runs), and OpenBLAS was ahead at
 * M = 4096 in 5 of 6 comparisons (up to 1.5× on 4096×384→1536), where our panel loop streams
 * the whole packed A from L3 once per 64 columns. So: OpenBLAS from 3072 rows, for products
 * big enough (N·K ≥ 2^17) that its packing pays. Re-measure on a quiet machine. */
#define BLAS_MIN_M 3072
#define BLAS_MIN_NK (1 << 17)

cn_gemm_impl cn_gemm_choose(int64_t M, int64_t N, int64_t K)
{
	int f = atomic_load_explicit(&gemm_impl_forced, memory_order_relaxed);
	if (f != CN_GEMM_AUTO)
		return (cn_gemm_impl)f;
	return M >= BLAS_MIN_M && N * K >= BLAS_MIN_NK ? CN_GEMM_BLAS : CN_GEMM_OWN;
}

/* ---- reference paths ------------------------------------------------------------------- */

static void sgemm_ref(bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++) {
			float s = 0.0f;
			for (int64_t k = 0; k < K; k++)
				s += A[i * lda + k] * (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
			C[i * ldc + j] = beta == 0.0f ? alpha * s : alpha * s + beta * C[i * ldc + j];
		}
}

/* ---- the job ----------------------------------------------------------------------------- */

typedef struct gemm_job {
	int64_t M, N, K;
	const float *A;
	int64_t lda;
	/* B: F32 (trans or not) or weight rows of any supported type (always "trans") */
	cn_ggml_type btype;
	const void *B;
	int64_t ldb;       /* F32: floats between rows */
	size_t brow_bytes; /* weights: bytes between rows */
	bool trans_b;
	float alpha, beta;
	float *C;
	int64_t ldc;
	const float *bias;
	/* blocking */
	int64_t nkb, kc; /* K blocks: nkb blocks of kc, the last one shorter */
	int64_t n_panels, n_mgroups, strips_per_group;
	/* the current M chunk */
	int64_t m0, mlen, mstrips;
	float *Ap;
	cn_pool *pool;
	_Atomic bool oom;
} gemm_job;

static inline int64_t kb_len(const gemm_job *g, int64_t b) { return b + 1 < g->nkb ? g->kc : g->K - b * g->kc; }

#if CN_KERN_X86
/* ---- packing ------------------------------------------------------------------------------ */

CN_AVX2 static inline void transpose8(__m256 r[8]);

/* Strip s of the current M chunk, for every K block: dst[k*6 + i] = A[r0+i][k0+k]. Full
 * strips go 8 k at a time through an 8×8 transpose (rows 6 and 7 are dummies); each 8-wide
 * store overlaps the next k's slot, which the next store rewrites, so only the last k of a
 * block needs the narrow store. */
CN_AVX2 static void pack_a_strips(void *ctx, int64_t s0, int64_t s1, int thread)
{
	(void)thread;
	gemm_job *g = ctx;
	for (int64_t s = s0; s < s1; s++) {
		int64_t r0 = g->m0 + s * MR, rows = g->m0 + g->mlen - r0 < MR ? g->m0 + g->mlen - r0 : MR;
		for (int64_t b = 0; b < g->nkb; b++) {
			int64_t k0 = b * g->kc, kc = kb_len(g, b), k = 0;
			float *dst = g->Ap + k0 * g->mstrips * MR + s * kc * MR;
			if (rows == MR) {
				for (; k + 8 < kc; k += 8) { /* strictly less: the last k is stored narrow below */
					__m256 r[8];
					for (int i = 0; i < MR; i++)
						r[i] = _mm256_loadu_ps(g->A + (r0 + i) * g->lda + k0 + k);
					r[6] = r[7] = _mm256_setzero_ps();
					transpose8(r);
					for (int t = 0; t < 8; t++)
						_mm256_storeu_ps(dst + (k + t) * MR, r[t]);
				}
			}
			for (; k < kc; k++)
				for (int i = 0; i < MR; i++)
					dst[k * MR + i] = i < rows ? g->A[(r0 + i) * g->lda + k0 + k] : 0.0f;
		}
	}
}

CN_AVX2 static inline void transpose8(__m256 r[8])
{
	__m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
	__m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
	__m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
	__m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
	__m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
	__m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
	__m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
	__m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
	r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
	r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
	r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
	r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
	r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
	r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
	r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
	r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* dst[k*16 + j] = src[j*ld + k] for j < nr (zero beyond), k < kc. */
CN_AVX2 static void pack_b_trans(const float *src, int64_t ld, int nr, int64_t kc, float *dst)
{
	int64_t k = 0;
	if (nr == NR) {
		for (; k + 8 <= kc; k += 8) {
			for (int h = 0; h < 2; h++) {
				__m256 r[8];
				for (int j = 0; j < 8; j++)
					r[j] = _mm256_loadu_ps(src + (8 * h + j) * ld + k);
				transpose8(r);
				for (int t = 0; t < 8; t++)
					_mm256_storeu_ps(dst + (k + t) * NR + 8 * h, r[t]);
			}
		}
	}
	for (; k < kc; k++)
		for (int j = 0; j < NR; j++)
			dst[k * NR + j] = j < nr ? src[j * ld + k] : 0.0f;
}

/* dst[k*16 + j] = src[k*ld + j]. */
CN_AVX2 static void pack_b_plain(const float *src, int64_t ld, int nr, int64_t kc, float *dst)
{
	for (int64_t k = 0; k < kc; k++) {
		if (nr == NR) {
			_mm256_storeu_ps(dst + k * NR, _mm256_loadu_ps(src + k * ld));
			_mm256_storeu_ps(dst + k * NR + 8, _mm256_loadu_ps(src + k * ld + 8));
		} else {
			for (int j = 0; j < NR; j++)
				dst[k * NR + j] = j < nr ? src[k * ld + j] : 0.0f;
		}
	}
}

/* Packs columns [j0, j0+pw) of B for all K blocks: block b at Bp + k0*P16, strip js at
 * js*kc*16 inside it. tmp (16 × K floats) receives dequantized weight rows. */
static void pack_panel(const gemm_job *g, int64_t j0, int64_t pw, float *Bp, float *tmp)
{
	const int64_t p16 = (pw + NR - 1) / NR * NR;
	for (int64_t js = 0; js * NR < pw; js++) {
		int nr = (int)(pw - js * NR < NR ? pw - js * NR : NR);
		const float *src;
		int64_t ld;
		bool trans = true;
		int64_t jj = j0 + js * NR;
		if (g->btype != CN_GGML_F32) {
			for (int r = 0; r < nr; r++)
				cn_dequantize_row_avx2(g->btype, (const uint8_t *)g->B + (size_t)(jj + r) * g->brow_bytes,
				                       tmp + r * g->K, g->K);
			src = tmp;
			ld = g->K;
		} else if (g->trans_b) {
			src = (const float *)g->B + jj * g->ldb;
			ld = g->ldb;
		} else {
			src = (const float *)g->B + jj;
			ld = g->ldb;
			trans = false;
		}
		for (int64_t b = 0; b < g->nkb; b++) {
			int64_t k0 = b * g->kc, kc = kb_len(g, b);
			float *dst = Bp + k0 * p16 + js * kc * NR;
			if (trans)
				pack_b_trans(src + k0, ld, nr, kc, dst);
			else
				pack_b_plain(src + k0 * ld, ld, nr, kc, dst);
		}
	}
}

/* ---- the micro-kernel ---------------------------------------------------------------------- */

/* C[0..mr)×[0..nr) (= or +=) alpha · Σ_k a[k*6+i] b[k*16+j]. first: C = alpha·acc + beta·C
 * (C not read when beta is 0); otherwise C = C + alpha·acc. Full and edge tiles share this
 * arithmetic exactly (mul then add, never fused). */
CN_AVX2 static void kernel_6x16(int64_t kc, const float *a, const float *b, float *C, int64_t ldc, int mr, int nr,
                                float alpha, float beta, bool first)
{
	/* twelve named accumulators: GCC keeps these in registers, an array it spills */
	__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
	       c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define CN_ROW(i, x0, x1)                                                                                    \
	do {                                                                                                     \
		__m256 ai = _mm256_broadcast_ss(a + (i));                                                            \
		x0 = _mm256_fmadd_ps(ai, b0, x0);                                                                    \
		x1 = _mm256_fmadd_ps(ai, b1, x1);                                                                    \
	} while (0)
#pragma GCC unroll 4
	for (int64_t k = 0; k < kc; k++) {
		__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
		CN_ROW(0, c00, c01);
		CN_ROW(1, c10, c11);
		CN_ROW(2, c20, c21);
		CN_ROW(3, c30, c31);
		CN_ROW(4, c40, c41);
		CN_ROW(5, c50, c51);
		a += MR;
		b += NR;
	}
#undef CN_ROW
	__m256 c[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
	const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
	if (mr == MR && nr == NR) {
		for (int i = 0; i < MR; i++)
			for (int h = 0; h < 2; h++) {
				float *p = C + i * ldc + 8 * h;
				__m256 v = alpha == 1.0f ? c[i][h] : _mm256_mul_ps(va, c[i][h]);
				if (!first)
					v = _mm256_add_ps(_mm256_loadu_ps(p), v);
				else if (beta != 0.0f)
					v = _mm256_add_ps(v, _mm256_mul_ps(vb, _mm256_loadu_ps(p)));
				_mm256_storeu_ps(p, v);
			}
		return;
	}
	float t[MR][NR];
	for (int i = 0; i < MR; i++) {
		_mm256_storeu_ps(t[i], c[i][0]);
		_mm256_storeu_ps(t[i] + 8, c[i][1]);
	}
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++) {
			float *p = C + i * ldc + j;
			float v = alpha == 1.0f ? t[i][j] : alpha * t[i][j];
			if (!first)
				v = *p + v;
			else if (beta != 0.0f)
				v = v + beta * *p;
			*p = v;
		}
}

/* One work item: columns of panel `panel`, rows of M-strip group `mg` (of the current chunk). */
static void gemm_items(void *ctx, int64_t i0, int64_t i1, int thread)
{
	gemm_job *g = ctx;
	const int64_t p16max = PANEL;
	size_t need = ((size_t)p16max * (size_t)g->K + (g->btype != CN_GGML_F32 ? (size_t)NR * (size_t)g->K : 0)) *
	              sizeof(float);
	float *Bp = g->pool ? cn_pool_scratch(g->pool, thread, need) : NULL;
	float *own = NULL;
	if (!Bp) {
		own = Bp = cn_malloc(need);
		if (!Bp) {
			g->oom = true;
			return;
		}
	}
	float *tmp = Bp + (size_t)p16max * (size_t)g->K;
	int64_t last = -1; /* consecutive row groups of one panel reuse its packing */
	for (int64_t it = i0; it < i1; it++) {
		int64_t panel = it / g->n_mgroups, mg = it % g->n_mgroups;
		int64_t j0 = panel * PANEL, pw = g->N - j0 < PANEL ? g->N - j0 : PANEL;
		int64_t p16 = (pw + NR - 1) / NR * NR;
		if (panel != last) {
			pack_panel(g, j0, pw, Bp, tmp);
			last = panel;
		}
		int64_t s0 = mg * g->strips_per_group, s1 = s0 + g->strips_per_group;
		if (s1 > g->mstrips)
			s1 = g->mstrips;
		for (int64_t b = 0; b < g->nkb; b++) {
			int64_t k0 = b * g->kc, kc = kb_len(g, b);
			const float *Ab = g->Ap + k0 * g->mstrips * MR;
			const float *Bb = Bp + k0 * p16;
			/* A blocks of MC_STRIPS strips stay in L2 while each 16-column micro-panel of B
			 * (kc × 16) stays in L1 and the strips stream past it */
			for (int64_t sb = s0; sb < s1; sb += MC_STRIPS) {
				int64_t se = sb + MC_STRIPS < s1 ? sb + MC_STRIPS : s1;
				for (int64_t js = 0; js * NR < pw; js++) {
					int nr = (int)(pw - js * NR < NR ? pw - js * NR : NR);
					for (int64_t s = sb; s < se; s++) {
						int64_t r0 = s * MR;
						int mr = (int)(g->mlen - r0 < MR ? g->mlen - r0 : MR);
						float *Ct = g->C + (g->m0 + r0) * g->ldc + j0 + js * NR;
						kernel_6x16(kc, Ab + s * kc * MR, Bb + js * kc * NR, Ct, g->ldc, mr, nr, g->alpha, g->beta,
						            b == 0);
					}
				}
			}
		}
		if (g->bias)
			for (int64_t r = s0 * MR; r < s1 * MR && r < g->mlen; r++) {
				float *y = g->C + (g->m0 + r) * g->ldc + j0;
				for (int64_t j = 0; j < pw; j++)
					y[j] = y[j] + g->bias[j0 + j];
			}
	}
	cn_free(own);
}

/* Runs the own GEMM; false when memory ran out (the caller falls back). */
static bool gemm_own(gemm_job *g)
{
	const int nth = cn_pool_threads(g->pool);
	g->nkb = (g->K + KC_MAX - 1) / KC_MAX;
	g->kc = (g->K + g->nkb - 1) / g->nkb;
	g->n_panels = (g->N + PANEL - 1) / PANEL;
	int64_t chunk = (int64_t)(A_PACK_MAX / sizeof(float) / (size_t)g->K) / MR * MR;
	if (chunk < MR)
		chunk = MR;
	bool ok = true;
	for (int64_t m0 = 0; m0 < g->M && ok; m0 += chunk) {
		g->m0 = m0;
		g->mlen = g->M - m0 < chunk ? g->M - m0 : chunk;
		g->mstrips = (g->mlen + MR - 1) / MR;
		/* Split rows too when there are too few panels to keep every thread busy. Whatever the
		 * split, each element is computed the same way (see the file comment). */
		g->n_mgroups = 1;
		if (g->n_panels < 2 * nth) {
			int64_t want = (2 * nth + g->n_panels - 1) / g->n_panels;
			int64_t maxg = g->mstrips / 4 > 0 ? g->mstrips / 4 : 1; /* at least ~24 rows per group */
			g->n_mgroups = want < maxg ? want : maxg;
		}
		g->strips_per_group = (g->mstrips + g->n_mgroups - 1) / g->n_mgroups;
		g->n_mgroups = (g->mstrips + g->strips_per_group - 1) / g->strips_per_group;
		size_t abytes = (size_t)g->mstrips * MR * (size_t)g->K * sizeof(float);
		float *own = NULL;
		g->Ap = g->pool ? cn_pool_scratch(g->pool, -1, abytes) : NULL;
		if (!g->Ap)
			g->Ap = own = cn_malloc(abytes);
		if (!g->Ap)
			return false;
		cn_pool_for(g->pool, g->mstrips, 8, pack_a_strips, g);
		g->oom = false;
		cn_pool_for(g->pool, g->n_panels * g->n_mgroups, 1, gemm_items, g);
		ok = !g->oom;
		cn_free(own);
	}
	return ok;
}
#endif

/* ---- OpenBLAS tiles ----------------------------------------------------------------------- */

static void blas_tiles(void *ctx, int64_t t0, int64_t t1, int thread)
{
	(void)thread;
	gemm_job *g = ctx;
	int64_t ntn = (g->N + TILE_N - 1) / TILE_N;
	for (int64_t t = t0; t < t1; t++) {
		int64_t i0 = (t / ntn) * TILE_M, j0 = (t % ntn) * TILE_N;
		int64_t mt = g->M - i0 < TILE_M ? g->M - i0 : TILE_M, nt = g->N - j0 < TILE_N ? g->N - j0 : TILE_N;
		const float *B = g->B;
		const float *Bt = g->trans_b ? B + j0 * g->ldb : B + j0;
		float *C = g->C + i0 * g->ldc + j0;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans, (int)mt, (int)nt, (int)g->K,
		            g->alpha, g->A + i0 * g->lda, (int)g->lda, Bt, (int)g->ldb, g->beta, C, (int)g->ldc);
		if (g->bias)
			for (int64_t i = 0; i < mt; i++)
				for (int64_t j = 0; j < nt; j++)
					C[i * g->ldc + j] = C[i * g->ldc + j] + g->bias[j0 + j];
	}
}

static void gemm_blas(gemm_job *g)
{
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
	int64_t tiles = ((g->M + TILE_M - 1) / TILE_M) * ((g->N + TILE_N - 1) / TILE_N);
	cn_pool_for(g->pool, tiles, 1, blas_tiles, g);
}

static bool blas_ok(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc)
{
	const int64_t lim = 0x7fffffff;
	return M < lim && N < lim && K < lim && lda < lim && ldb < lim && ldc < lim;
}

/* ---- public entry points ------------------------------------------------------------------ */

void cn_sgemm(cn_pool *pool, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0) {
		for (int64_t i = 0; i < M; i++)
			for (int64_t j = 0; j < N; j++)
				C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
		return;
	}
	gemm_job g = {.M = M, .N = N, .K = K, .A = A, .lda = lda, .btype = CN_GGML_F32, .B = B, .ldb = ldb,
	              .trans_b = trans_b, .alpha = alpha, .beta = beta, .C = C, .ldc = ldc, .pool = pool};
#if CN_KERN_X86
	if (cn_kern_fast()) {
		if (cn_gemm_choose(M, N, K) == CN_GEMM_BLAS && blas_ok(M, N, K, lda, ldb, ldc)) {
			gemm_blas(&g);
			return;
		}
		if (gemm_own(&g))
			return;
	}
#endif
	sgemm_ref(trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

typedef struct matvec_job {
	const float *X;
	const cn_weight *W;
	const float *bias;
	float *Y;
	bool fast;
} matvec_job;

static void matvec_rows(void *ctx, int64_t r0, int64_t r1, int thread)
{
	(void)thread;
	matvec_job *j = ctx;
	const cn_weight *W = j->W;
	for (int64_t r = r0; r < r1; r++) {
		const void *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
		float d;
#if CN_KERN_X86
		d = j->fast ? cn_vec_dot_avx2(W->type, row, j->X, W->cols) : cn_vec_dot_ref(W->type, row, j->X, W->cols);
#else
		d = cn_vec_dot_ref(W->type, row, j->X, W->cols);
#endif
		j->Y[r] = j->bias ? d + j->bias[r] : d;
	}
}

#if CN_KERN_X86
/* ---- M = 1 on 8-bit activations ------------------------------------------------------------ */

#define GROUP_MAX 4
#define CHUNK_BYTES (64 << 10) /* weight bytes per grab: long enough to stream, short enough to balance */

typedef struct matvec_job8 {
	int n;
	const cn_weight *const *W;
	const float *const *bias;
	float *const *Y;
	int64_t first[GROUP_MAX + 1]; /* matrix i owns rows [first[i], first[i+1]) of the concatenation */
	const void *xq;
	int64_t chunk; /* the shortest claim, in rows */
	int64_t threads;
	_Atomic int64_t next;
} matvec_job8;

static void matvec8_rows(matvec_job8 *j, int64_t r0, int64_t r1)
{
	for (int i = 0; i < j->n; i++) {
		int64_t a = r0 > j->first[i] ? r0 : j->first[i], b = r1 < j->first[i + 1] ? r1 : j->first[i + 1];
		if (a >= b)
			continue;
		const cn_weight *W = j->W[i];
		a -= j->first[i], b -= j->first[i];
		cn_matvec_q8_avx2(W->type, W->data, W->row_bytes, a, b, j->xq, W->cols, j->Y[i]);
		if (j->bias[i])
			for (int64_t r = a; r < b; r++)
				j->Y[i][r] = j->Y[i][r] + j->bias[i][r];
	}
}

/* Each thread takes chunks of rows from a shared counter until none are left: a thread the
 * (shared) machine descheduled does not hold the others back by its fixed share, and each
 * chunk is a contiguous stretch of weights. Chunks are guided: a claim takes 1/(2·threads)
 * of what is left, at least j->chunk rows, so the first ones are long and the last ones
 * short. Long runs matter: every jump to a new stretch of weights restarts the hardware
 * prefetcher, which at 2 threads and fixed 64 KiB chunks (the two threads' stretches
 * interleaved) cost about a fifth of the decode speed (Q8_0 41-43 tok/s vs 50-53 with
 * 256 KiB chunks, interleaved runs); short ones at the end keep the threads finishing
 * together. Which thread computes a row does not change its value. */
static void matvec8_run(void *ctx, int64_t t0, int64_t t1, int thread)
{
	(void)t0, (void)t1, (void)thread;
	matvec_job8 *j = ctx;
	const int64_t total = j->first[j->n];
	for (;;) {
		int64_t r0 = atomic_load_explicit(&j->next, memory_order_relaxed), len;
		do {
			if (r0 >= total)
				return;
			len = (total - r0) / (2 * j->threads) / 16 * 16;
			len = len < j->chunk ? j->chunk : len;
			len = len < total - r0 ? len : total - r0;
		} while (!atomic_compare_exchange_weak_explicit(&j->next, &r0, r0 + len, memory_order_relaxed,
		                                                memory_order_relaxed));
		matvec8_rows(j, r0, r0 + len);
	}
}

/* Y[i] = W[i] · x for n matrices sharing a row length and an activation format: x is
 * quantized once (into the pool's shared scratch, or the stack: no allocation per call),
 * then the rows of all n are computed in one parallel pass. False when memory ran out. */
static bool matvec8(cn_pool *pool, const float *X, int n, const cn_weight *const *W, const float *const *bias,
                    float *const *Y)
{
	_Alignas(64) uint8_t local[16384];
	size_t qb = cn_q8_act_bytes(W[0]->type, W[0]->cols);
	void *xq = pool ? cn_pool_scratch(pool, -1, qb) : NULL, *own = NULL;
	if (!xq && qb <= sizeof local)
		xq = local;
	if (!xq)
		xq = own = cn_malloc(qb);
	if (!xq)
		return false;
	cn_q8_act_quantize_avx2(W[0]->type, X, xq, W[0]->cols);
	matvec_job8 j = {.n = n, .W = W, .bias = bias, .Y = Y, .xq = xq};
	size_t bytes = 0;
	for (int i = 0; i < n; i++) {
		j.first[i + 1] = j.first[i] + W[i]->rows;
		bytes += W[i]->row_bytes * (size_t)W[i]->rows;
	}
	/* rows per chunk: ~CHUNK_BYTES of weights, a multiple of 16 (outputs of different
	 * chunks then fall in different cache lines) */
	int64_t per_row = (int64_t)(bytes / (size_t)j.first[n]) + 1;
	j.chunk = (CHUNK_BYTES / per_row + 15) / 16 * 16;
	atomic_init(&j.next, 0);
	int64_t chunks = (j.first[n] + j.chunk - 1) / j.chunk, nt = cn_pool_threads(pool);
	j.threads = nt;
	cn_pool_for(pool, chunks < nt ? chunks : nt, 1, matvec8_run, &j);
	cn_free(own);
	return true;
}

/* Whether the n matrices can share one matvec8 pass. */
static bool matvec8_ok(int n, const cn_weight *const *W)
{
	if (n < 1 || n > GROUP_MAX || !cn_kern_fast() || !cn_kern_q8_act())
		return false;
	for (int i = 0; i < n; i++)
		if (W[i]->rows <= 0 || W[i]->cols != W[0]->cols || cn_q8_act_type(W[i]->type) == CN_GGML_F32 ||
		    cn_q8_act_type(W[i]->type) != cn_q8_act_type(W[0]->type))
			return false;
	return true;
}
#endif

void cn_matmul_group(cn_pool *pool, const float *X, int64_t M, int64_t ldx, int n, const cn_weight *const *W,
                     const float *const *bias, float *const *Y, const int64_t *ldy)
{
#if CN_KERN_X86
	if (M == 1 && matvec8_ok(n, W) && matvec8(pool, X, n, W, bias, Y))
		return;
#endif
	if (M > 1 && cn_kern_fast() && cn_qgemm(pool, X, M, ldx, n, W, bias, Y, ldy))
		return;
	for (int i = 0; i < n; i++)
		cn_matmul(pool, X, M, ldx, W[i], bias[i], Y[i], ldy[i]);
}

typedef struct matref_job {
	const float *X;
	int64_t M, ldx, ldy;
	const cn_weight *W;
	const float *bias;
	float *Y;
} matref_job;

static void matmul_ref_rows(void *ctx, int64_t r0, int64_t r1, int thread)
{
	(void)thread;
	matref_job *j = ctx;
	for (int64_t r = r0; r < r1; r++) {
		const void *row = (const uint8_t *)j->W->data + (size_t)r * j->W->row_bytes;
		for (int64_t m = 0; m < j->M; m++) {
			float d = cn_vec_dot_ref(j->W->type, row, j->X + m * j->ldx, j->W->cols);
			j->Y[m * j->ldy + r] = j->bias ? d + j->bias[r] : d;
		}
	}
}

/* q8: whether 8-bit activations may be used (cn_kern_q8_act() still has to allow them). */
static void matmul(cn_pool *pool, const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias, float *Y,
                   int64_t ldy, bool q8)
{
	if (M <= 0 || W->rows <= 0)
		return;
	const bool fast = cn_kern_fast();
	if (M == 1) {
#if CN_KERN_X86
		if (q8 && matvec8_ok(1, &W) && matvec8(pool, X, 1, &W, &bias, &Y))
			return;
#endif
		matvec_job j = {X, W, bias, Y, fast};
		int64_t grain = 4096 / (W->cols > 0 ? W->cols : 1);
		cn_pool_for(pool, W->rows, grain < 1 ? 1 : grain, matvec_rows, &j);
		return;
	}
	if (q8 && fast && cn_qgemm(pool, X, M, ldx, 1, &W, &bias, &Y, &ldy))
		return;
#if CN_KERN_X86
	if (fast && W->cols > 0) {
		gemm_job g = {.M = M, .N = W->rows, .K = W->cols, .A = X, .lda = ldx, .btype = W->type, .B = W->data,
		              .ldb = (int64_t)(W->row_bytes / sizeof(float)), .brow_bytes = W->row_bytes, .trans_b = true,
		              .alpha = 1.0f, .beta = 0.0f, .C = Y, .ldc = ldy, .bias = bias, .pool = pool};
		if (W->type == CN_GGML_F32 && W->row_bytes % sizeof(float) == 0 &&
		    cn_gemm_choose(M, W->rows, W->cols) == CN_GEMM_BLAS && blas_ok(M, W->rows, W->cols, ldx, g.ldb, ldy)) {
			gemm_blas(&g);
			return;
		}
		if ((W->type != CN_GGML_F32 || W->row_bytes % sizeof(float) == 0) && gemm_own(&g))
			return;
	}
#endif
	matref_job j = {X, M, ldx, ldy, W, bias, Y};
	cn_pool_for(pool, W->rows, 1, matmul_ref_rows, &j);
}

void cn_matmul(cn_pool *pool, const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias, float *Y,
               int64_t ldy)
{
	matmul(pool, X, M, ldx, W, bias, Y, ldy, true);
}

void cn_matmul_f32act(cn_pool *pool, const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias,
                      float *Y, int64_t ldy)
{
	matmul(pool, X, M, ldx, W, bias, Y, ldy, false);
}

bool cn_weight_from_tensor(const cn_gguf_tensor *t, cn_weight *w, cn_err *err)
{
	memset(w, 0, sizeof(*w));
	if (t->n_dims < 1 || t->n_dims > 2 || (t->n_dims > 2 && (t->ne[2] != 1 || t->ne[3] != 1))) {
		cn_err_set(err, CAIRN_EFORMAT, "tensor '%.*s': expected a 2-D weight matrix, it has %u dimensions",
		           (int)t->name.len, t->name.ptr, t->n_dims);
		return false;
	}
	if (!cn_kern_supports(t->type)) {
		cn_err_set(err, CAIRN_EFORMAT, "tensor '%.*s': type %s is not supported by the CPU kernels",
		           (int)t->name.len, t->name.ptr, cn_ggml_type_name(t->type));
		return false;
	}
	uint64_t rb;
	int64_t cols = t->ne[0], rows = t->n_dims == 2 ? t->ne[1] : 1;
	if (cols <= 0 || rows <= 0 || !cn_ggml_row_bytes(t->type, (uint64_t)cols, &rb) ||
	    (uint64_t)rows > t->nbytes / (rb ? rb : 1) || rb * (uint64_t)rows > t->nbytes) {
		cn_err_set(err, CAIRN_EFORMAT, "tensor '%.*s': %lld x %lld %s does not fit its %llu bytes", (int)t->name.len,
		           t->name.ptr, (long long)rows, (long long)cols, cn_ggml_type_name(t->type),
		           (unsigned long long)t->nbytes);
		return false;
	}
	w->type = t->type;
	w->data = t->data;
	w->rows = rows;
	w->cols = cols;
	w->row_bytes = (size_t)rb;
	return true;
}
