/*
 * kern_int.h — what the kern .c files share and nothing outside kern needs: ggml's block
 * structs, the fast-path switch, the per-type reference and AVX2 entry points, and the
 * pool's per-thread scratch.
 *
 * Dispatch is a cheap check at each call (cn_kern_fast: one pthread_once + one relaxed
 * atomic load) rather than function pointers fixed at first use, because the tests flip
 * cn_kern_set_mode at run time and every kernel must follow at once.
 */
#ifndef CAIRN_KERN_INT_H
#define CAIRN_KERN_INT_H

#include "kern/kern.h"

#if defined(__x86_64__)
#define CN_KERN_X86 1
#define CN_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define CN_KERN_X86 0
#endif

/* True when the AVX2/FMA/F16C paths are to be used now (mode AUTO and the CPU has them). */
bool cn_kern_fast(void);

/* ---- ggml block layouts (ggml-common.h), byte for byte --------------------------------- */

#define CN_QK 32   /* elements per block of the simple types */
#define CN_QK_K 256 /* elements per K-quant super-block */

typedef struct { uint16_t d; uint8_t qs[16]; } cn_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } cn_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } cn_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } cn_block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } cn_block_q8_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } cn_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } cn_block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } cn_block_q6_K;

_Static_assert(sizeof(cn_block_q4_0) == 18, "block_q4_0");
_Static_assert(sizeof(cn_block_q4_1) == 20, "block_q4_1");
_Static_assert(sizeof(cn_block_q5_0) == 22, "block_q5_0");
_Static_assert(sizeof(cn_block_q5_1) == 24, "block_q5_1");
_Static_assert(sizeof(cn_block_q8_0) == 34, "block_q8_0");
_Static_assert(sizeof(cn_block_q4_K) == 144, "block_q4_K");
_Static_assert(sizeof(cn_block_q5_K) == 176, "block_q5_K");
_Static_assert(sizeof(cn_block_q6_K) == 210, "block_q6_K");

/* Activation rows quantized for the integer dot products of qdot.c (ours, never stored: the
 * scale is a float). q8a pairs with Q8_0/Q4_0 weights, q8k (with the sums of each 16 values)
 * with the K-quants. */
typedef struct { float d; int8_t qs[32]; } cn_block_q8a;
typedef struct { int8_t qs[256]; int16_t bsums[16]; float d; float pad_[7]; } cn_block_q8k;

_Static_assert(sizeof(cn_block_q8a) == 36, "block_q8a");
_Static_assert(sizeof(cn_block_q8k) == 320, "block_q8k");

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block. */
static inline void cn_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

/* Half-precision loads that do not assume alignment (blocks are 2-byte aligned at best). */
static inline uint16_t cn_ld16(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, 2);
	return v;
}

/* ---- per-path entry points ------------------------------------------------------------ */

void cn_dequantize_row_ref(cn_ggml_type t, const void *src, float *dst, int64_t n);
float cn_vec_dot_ref(cn_ggml_type t, const void *row, const float *x, int64_t n);
void cn_f16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n);
void cn_bf16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n);
#if CN_KERN_X86
void cn_dequantize_row_avx2(cn_ggml_type t, const void *src, float *dst, int64_t n);
float cn_vec_dot_avx2(cn_ggml_type t, const void *row, const float *x, int64_t n);
void cn_f16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n);
void cn_bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n);
#endif

/* ---- quantized activations (qdot.c) ------------------------------------------------------ */

/* The activation format weight type t has an integer dot product with: CN_GGML_Q8_0 (rows
 * of cn_block_q8a), CN_GGML_Q8_K (cn_block_q8k), or CN_GGML_F32 when it has none. */
cn_ggml_type cn_q8_act_type(cn_ggml_type t);
/* Bytes of the quantized activation of n values for weight type t (0 when none). */
size_t cn_q8_act_bytes(cn_ggml_type t, int64_t n);
/* x[0..n) → dst in the format of cn_q8_act_type(t); n a multiple of the block size. Both
 * paths give identical bytes. */
void cn_q8_act_quantize(cn_ggml_type t, const float *x, void *dst, int64_t n);
void cn_q8_act_quantize_ref(cn_ggml_type t, const float *x, void *dst, int64_t n);
/* row (n values of type t) · the quantized activation xq: integer block products, float
 * scales. _ref is the scalar version of the same integer arithmetic. */
float cn_vec_dot_q8(cn_ggml_type t, const void *row, const void *xq, int64_t n);
float cn_vec_dot_q8_ref(cn_ggml_type t, const void *row, const void *xq, int64_t n);
#if CN_KERN_X86
void cn_q8_act_quantize_avx2(cn_ggml_type t, const float *x, void *dst, int64_t n);
/* The exact integer sums of one K-quant super-block with an 8-bit activation block (the
 * scalar references of qdot.c and qgemm.c): Q4_K/Q5_K Σ sc·Σq·a and Σ m·bsum; Q6_K
 * Σ sc·(Σq·a − 32·bsum). */
void cn_q45k_block_isum(const uint8_t *w, bool five, const cn_block_q8k *a, int32_t *is, int32_t *im);
int32_t cn_q6k_block_isum(const cn_block_q6_K *w, const cn_block_q8k *a);
float cn_vec_dot_q8_avx2(cn_ggml_type t, const void *row, const void *xq, int64_t n);
/* y[r] = row r · xq for r in [r0, r1), rows row_bytes apart from w. */
void cn_matvec_q8_avx2(cn_ggml_type t, const uint8_t *w, size_t row_bytes, int64_t r0, int64_t r1, const void *xq,
                       int64_t n, float *y);
#endif

/* ---- integer GEMM for M > 1 (qgemm.c) --------------------------------------------------- */

/* Whether the n matrices (at most 4) can share one integer GEMM: 8-bit activations on, every
 * type with an integer dot product (cn_q8_act_type), one activation format and row length. */
bool cn_qgemm_ok(int n, const cn_weight *const *W);
/* Y[i] = X · W[i]ᵀ (+ bias[i]) for M ≥ 1 rows: X's rows quantized once as generation
 * quantizes its row, integer block products, register-blocked tiles (the scalar reference
 * outside the fast path). False when !cn_qgemm_ok (Y untouched) or memory ran out (Y may be
 * partly written: the caller computes it another way). */
bool cn_qgemm(cn_pool *pool, const float *X, int64_t M, int64_t ldx, int n, const cn_weight *const *W,
              const float *const *bias, float *const *Y, const int64_t *ldy);
/* The scalar reference of cn_qgemm for one matrix: the same integer sums and float
 * operations, so the same bits. False when memory ran out or the type has no integer dot. */
bool cn_qgemm_ref(const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias, float *Y, int64_t ldy);

/* ---- pool scratch --------------------------------------------------------------------- */

/* A 64-byte-aligned buffer of at least `bytes` owned by (pool, thread), kept between calls
 * and freed with the pool; NULL when pool is NULL or memory runs out. Only the thread that
 * cn_pool_for runs as `thread` may use it, during that call. thread = -1 is a shared slot
 * for the caller of cn_pool_for, to hand data to all threads. */
void *cn_pool_scratch(cn_pool *pool, int thread, size_t bytes);

#endif
