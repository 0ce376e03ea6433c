/*
 * kern — the CPU tensor kernels every model runs on.
 *
 * Design:
 *  - Weights stay in the type the GGUF file stores them in (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
 *    Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); activations are F32. Block layouts are ggml's, byte for
 *    byte, so tensors are used straight from the memory-mapped file.
 *  - Every kernel has a plain C reference path and, where it pays, an AVX2/FMA/F16C path. The
 *    fast path is chosen once at run time from CPUID; CN_KERN_REF (or CAIRN_KERNELS=ref in
 *    the environment) forces the reference path everywhere, which is how the tests compare
 *    the two and how a user rules out a kernel bug.
 *  - Matrix products: for Q8_0, Q4_0, Q4_K, Q5_K and Q6_K weights the activation rows are
 *    quantized to 8 bits once per product and multiplied with integer dot products (as
 *    llama.cpp does; cn_kern_set_q8_act): one row (M = 1, generation, memory-bound) with the
 *    row kernels of qdot.c, a batch (M > 1, prompts) with the register-blocked integer GEMM
 *    of qgemm.c — the same quantized rows and integer sums either way. Other types, and all
 *    types with 8-bit activations off, dequantize weight panels to F32 and multiply with an
 *    F32 GEMM — OpenBLAS's sgemm for large products, where measurement shows it wins
 *    (bench/kern.sh), our own blocked AVX2 GEMM otherwise; one row of those types uses
 *    fused dequantize-dot kernels.
 *  - A small thread pool (cn_pool) splits work by rows; the caller's thread takes part.
 *    Results do not depend on the thread count (each output element is computed by one
 *    thread in a fixed order).
 */
#ifndef CAIRN_KERN_H
#define CAIRN_KERN_H

#include "base/base.h"
#include "gguf/gguf.h"

/* ---- CPU features and kernel selection ------------------------------------------------ */

typedef struct cn_cpu_features {
	bool avx2, fma, f16c;
} cn_cpu_features;

const cn_cpu_features *cn_cpu_get(void);

typedef enum cn_kern_mode {
	CN_KERN_AUTO = 0, /* fast paths where the CPU has them (default; CAIRN_KERNELS=ref overrides) */
	CN_KERN_REF = 1   /* plain C everywhere */
} cn_kern_mode;

/* Process-wide; for tests and diagnosis. */
void cn_kern_set_mode(cn_kern_mode mode);
cn_kern_mode cn_kern_get_mode(void);
/* Whether the fast path's products with Q8_0, Q4_0, Q4_K, Q5_K or Q6_K weights quantize
 * the activation rows to 8 bits and use integer dot products (the default: several times
 * less work per weight byte, which is what lets generation run at memory speed, and the
 * integer GEMM of prompts), or multiply the weights with the F32 activations. The 8-bit
 * activations add an error of at most Σ|w|·d/2 per output (d = max|x|/127 over each block of
 * 32 or 256 values). Single-token (M = 1) and batched (M > 1) products then quantize each
 * row the same way and differ only in the order of float additions. Process-wide;
 * CAIRN_KERNELS=f32act in the environment turns it off (F32 activations everywhere, as the
 * exact-parity tests need). */
void cn_kern_set_q8_act(bool on);
bool cn_kern_q8_act(void);
/* "avx2+fma+f16c", "reference", … : what cn_kern_* will use now. */
const char *cn_kern_describe(void);

/* ---- scalar conversions --------------------------------------------------------------- */

float cn_f16_to_f32(uint16_t h);
uint16_t cn_f32_to_f16(float f); /* round to nearest even, as numpy and F16C do */
float cn_bf16_to_f32(uint16_t h);
uint16_t cn_f32_to_bf16(float f); /* round to nearest even, NaN kept a NaN */

/* ---- rows of any supported type ------------------------------------------------------- */

/* Whether the kernels compute with type t (dequantize, dot, matmul). Other types are
 * rejected by name when a model is loaded. */
bool cn_kern_supports(uint32_t t);

/* dst[0..n) = the n elements of a row of type t; n must be a multiple of the type's block size. */
void cn_dequantize_row(cn_ggml_type t, const void *src, float *dst, int64_t n);
/* sum_i row[i] * x[i] over n elements of a row of type t. */
float cn_vec_dot(cn_ggml_type t, const void *row, const float *x, int64_t n);
/* Quantizers (for tests, tools and the Q8 activation paths): n a multiple of the block size. */
void cn_quantize_row(cn_ggml_type t, const float *src, void *dst, int64_t n);

/* ---- thread pool ---------------------------------------------------------------------- */

typedef struct cn_pool cn_pool;

/* n_threads counts the caller's thread: 1 = no extra threads; 0 = one per online CPU. */
cairn_status cn_pool_create(int n_threads, cn_pool **out, cn_err *err);
void cn_pool_free(cn_pool *pool);
int cn_pool_threads(const cn_pool *pool); /* NULL pool → 1 */

/* Calls fn(ctx, begin, end, thread) over disjoint ranges covering [0, n), in parallel, and
 * returns when all are done. Ranges are contiguous and at least `grain` long (except the
 * last). `thread` (0 = the caller, < cn_pool_threads) is the thread running the range, for
 * per-thread scratch; one thread may run several ranges, one after the other. A NULL pool
 * runs everything on the caller's thread. Not reentrant: fn must not call cn_pool_for on
 * the same pool. */
typedef void (*cn_pool_fn)(void *ctx, int64_t begin, int64_t end, int thread);
void cn_pool_for(cn_pool *pool, int64_t n, int64_t grain, cn_pool_fn fn, void *ctx);

/* ---- matrix products ------------------------------------------------------------------ */

/* A weight matrix as GGUF stores it: `rows` rows of `cols` elements of `type`, row-major,
 * rows `row_bytes` apart (ne[0] = cols, ne[1] = rows). */
typedef struct cn_weight {
	cn_ggml_type type;
	const void *data;
	int64_t rows, cols;
	size_t row_bytes;
} cn_weight;

/* Fills a cn_weight from a 2-D tensor; false (with a message naming the tensor) when it is
 * not 2-D or its type is not supported. */
bool cn_weight_from_tensor(const cn_gguf_tensor *t, cn_weight *w, cn_err *err);

/* Y[M×rows] = X[M×cols] · Wᵀ (+ bias[rows] on every row when bias is not NULL). X and Y are
 * row-major with leading dimensions ldx ≥ cols and ldy ≥ rows. */
void cn_matmul(cn_pool *pool, const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias,
               float *Y, int64_t ldy);

/* cn_matmul with F32 activations whatever cn_kern_q8_act says: for models whose results must
 * stay close to a float reference at every batch size (the encoders: embeddings and rerank
 * scores, where 8-bit activations moved Q8_0 rerank scores by ~3% of their range). */
void cn_matmul_f32act(cn_pool *pool, const float *X, int64_t M, int64_t ldx, const cn_weight *W, const float *bias,
                      float *Y, int64_t ldy);

/* n products of the same X with different weights: Y[i] = X · W[i]ᵀ (+ bias[i]), ldy[i] for
 * Y[i] (bias[i] may be NULL). The same as n cn_matmul calls, result for result; when the
 * weights share a row length and an integer-dot activation format (Q, K and V; gate and
 * up), X is quantized once and the rows of all n matrices are split over the threads in
 * one pass (one synchronisation instead of n), for M = 1 and for M > 1 alike. At most 4
 * matrices take the one-pass path. */
void cn_matmul_group(cn_pool *pool, const float *X, int64_t M, int64_t ldx, int n, const cn_weight *const *W,
                     const float *const *bias, float *const *Y, const int64_t *ldy);

/* Plain F32 GEMM: C[M×N] = alpha · A[M×K] · op(B) + beta · C, op(B) = B[K×N] or, with
 * trans_b, B[N×K]ᵀ. Row-major. For attention and anything else without a weight matrix. */
void cn_sgemm(cn_pool *pool, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Which F32 GEMM cn_sgemm and cn_matmul (F32 weights, M > 1) use: by default chosen by
 * the product's size (cn_gemm_choose; thresholds measured by bench/kern.sh); forcing one is
 * for the benchmark and for diagnosis. Process-wide. Ignored in CN_KERN_REF mode. */
typedef enum cn_gemm_impl {
	CN_GEMM_AUTO = 0,
	CN_GEMM_OWN = 1, /* the blocked AVX2/FMA GEMM of gemm.c */
	CN_GEMM_BLAS = 2 /* OpenBLAS cblas_sgemm */
} cn_gemm_impl;
void cn_gemm_set_impl(cn_gemm_impl impl);
/* What an M×N×K product runs on now (OWN or BLAS; the forced one when set). */
cn_gemm_impl cn_gemm_choose(int64_t M, int64_t N, int64_t K);

/* ---- row operations (in place unless stated) ------------------------------------------ */

float cn_dot_f32(const float *a, const float *b, int64_t n);
void cn_vec_add(float *y, const float *x, int64_t n);          /* y += x */
void cn_vec_scale(float *y, float s, int64_t n);               /* y *= s */
void cn_vec_mul(float *y, const float *x, int64_t n);          /* y *= x (element-wise) */
void cn_vec_mad(float *y, float a, const float *x, int64_t n); /* y += a · x */
/* Attention of one query row q[0..hd) over L cached positions (rows of K and V, ld floats
 * apart): s[0..L) = softmax(scale · q·K_jᵀ), out[0..hd) = Σ_j s_j V_j. The M = 1 case of
 * the S = QKᵀ, softmax, S·V sequence, without a GEMM's packing. */
void cn_attend1(const float *q, const float *K, const float *V, int64_t ld, int64_t L, int64_t hd, float scale, float *s,
                float *out);
/* x = (x - mean) / sqrt(var + eps) * w + b; w and b may be NULL (1 and 0). */
void cn_layernorm(float *x, int64_t n, const float *w, const float *b, float eps);
/* x = x / sqrt(mean(x²) + eps) * w; w may be NULL. */
void cn_rmsnorm(float *x, int64_t n, const float *w, float eps);
/* Numerically stable softmax over n values. */
void cn_softmax(float *x, int64_t n);
void cn_gelu(float *x, int64_t n);      /* exact: x · Φ(x) with erf (BERT, PyTorch default) */
void cn_gelu_tanh(float *x, int64_t n); /* tanh approximation (GPT-2, ggml's gelu) */
void cn_silu(float *x, int64_t n);      /* x · sigmoid(x) */
/* Rotary position embedding of one token: x holds n_heads vectors of head_dim floats; the
 * first n_rot dims of each are rotated by pos · theta_base^(-2i/n_rot). neox pairs dims
 * (i, i + n_rot/2) (GPT-NeoX, nomic-bert, Qwen); otherwise (2i, 2i + 1) (Llama). */
void cn_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float theta_base, bool neox);
/* x /= ‖x‖₂ (left unchanged when the norm is 0). */
void cn_l2_normalize(float *x, int64_t n);

#endif
