/*
 * decoder.c — the decoder's context (KV cache) and forward pass.
 *
 * Layout: the T tokens of one batch are the rows of row-major [T × n_embd] matrices, as in
 * the encoder, so every linear layer is one cn_matmul over the batch — a prompt streams
 * each weight matrix through the cache once per n_batch tokens, and a generated token
 * (T = 1) takes the fused dequantize-dot path. K and V are written by their matmuls
 * straight into the cache rows of their positions (ldy = kv_dim), so nothing is copied:
 * the cache of layer l holds K as [n_ctx × n_head_kv·hd] rows, then V likewise.
 *
 * Attention runs per query head (parallel over heads), reading the K/V columns of its group
 * (grouped-query attention: head h uses K/V head h / (n_head / n_head_kv)) as strided
 * sub-matrices. Blocks of up to ATTN_ROWS query rows compute S = Q·Kᵀ/√hd over exactly the
 * positions the block's last row may see (p0 + r0 + rows), and each row's softmax covers
 * only its own causal prefix, the rest of the row zeroed — a causal mask without -∞
 * arithmetic. Results do not depend on the thread count: every output element is
 * computed by one thread in a fixed order.
 *
 * RoPE: the angles come from a per-context table of inverse frequencies computed once in
 * double (θ_i = base^(-2i/hd), divided by rope_freqs[i] when the file has them and by the
 * linear scaling factor), rather than cn_rope, because linear scaling divides the position
 * itself, which cn_rope's integer position cannot express. Pairs are (2i, 2i+1) for llama
 * and (i, i + hd/2) for qwen2 (see model.h).
 *
 * The math is Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM: pre-norm RMSNorm
 * residual blocks, x = x + Attn(RMSNorm(x)); x = x + Down(SiLU(Gate(h)) ⊙ Up(h)) with
 * h = RMSNorm(x), a final RMSNorm and the output projection.
 */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

#define ATTN_ROWS 64 /* query rows per attention block: scratch of 64 × n_ctx floats per thread */
#define DEFAULT_BATCH 512

struct cn_decoder_ctx {
	const cn_decoder_model *m;
	cn_pool *pool;
	int64_t n_ctx, n_batch, n_past;
	int32_t *tokens;      /* n_ctx: the tokens whose K/V are cached */
	float *kv;            /* layer l: K at kv + 2l·n_ctx·kvd, V at kv + (2l + 1)·n_ctx·kvd */
	double *inv_freq;     /* head_dim / 2 */
	float *work;          /* one allocation for everything below */
	float *x, *xn, *q, *att, *g, *u, *cs, *sn, *scratch;
	int64_t scratch_stride;
};

/* ---- context ----------------------------------------------------------------------------- */

static bool mul_ok(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }

cairn_status cn_decoder_ctx_new(const cn_decoder_model *m, cn_pool *pool, int64_t n_ctx, int64_t n_batch,
                                cn_decoder_ctx **out, cn_err *err)
{
	*out = NULL;
	const cn_decoder_hparams *hp = &m->hp;
	if (n_ctx <= 0 || n_ctx > hp->n_ctx_train)
		n_ctx = hp->n_ctx_train;
	if (n_batch <= 0)
		n_batch = DEFAULT_BATCH;
	if (n_batch > n_ctx)
		n_batch = n_ctx;
	int64_t E = hp->n_embd, QD = hp->n_head * hp->head_dim, KVD = hp->n_head_kv * hp->head_dim, FF = hp->n_ff;
	int64_t half = hp->head_dim / 2, threads = cn_pool_threads(pool);
	int64_t srows = n_batch < ATTN_ROWS ? n_batch : ATTN_ROWS;
	size_t kv_n, kv_bytes, work_n = 0, t;
	if (!mul_ok((size_t)(2 * hp->n_layer), (size_t)n_ctx, &kv_n) || !mul_ok(kv_n, (size_t)KVD, &kv_n) ||
	    !mul_ok(kv_n, sizeof(float), &kv_bytes))
		return cn_err_set(err, CAIRN_ETOOBIG, "decoder: a KV cache of %lld positions does not fit in memory",
		                  (long long)n_ctx);
	/* x, xn: B×E; q, att: B×QD; g, u: B×FF; cos/sin: B×half; attention scratch per thread */
	size_t per_row = (size_t)(2 * E + 2 * QD + 2 * FF + 2 * half);
	if (!mul_ok(per_row, (size_t)n_batch, &work_n) || !mul_ok((size_t)(srows * n_ctx), (size_t)threads, &t) ||
	    __builtin_add_overflow(work_n, t, &work_n) || !mul_ok(work_n, sizeof(float), &t))
		return cn_err_set(err, CAIRN_ETOOBIG, "decoder: scratch for %lld positions does not fit in memory",
		                  (long long)n_ctx);
	cn_decoder_ctx *c = cn_calloc(1, sizeof(*c));
	if (!c)
		return cn_err_set(err, CAIRN_ENOMEM, "decoder: out of memory");
	c->m = m;
	c->pool = pool;
	c->n_ctx = n_ctx;
	c->n_batch = n_batch;
	c->tokens = cn_malloc((size_t)n_ctx * sizeof(int32_t));
	c->kv = cn_malloc(kv_bytes);
	c->inv_freq = cn_malloc((size_t)half * sizeof(double));
	c->work = cn_malloc(work_n * sizeof(float));
	if (!c->tokens || !c->kv || !c->inv_freq || !c->work) {
		cn_decoder_ctx_free(c);
		return cn_err_set(err, CAIRN_ENOMEM,
		                  "decoder: out of memory for a context of %lld positions (KV cache %.1f MiB)",
		                  (long long)n_ctx, (double)kv_bytes / (1024.0 * 1024.0));
	}
	float *p = c->work;
	c->x = p, p += n_batch * E;
	c->xn = p, p += n_batch * E;
	c->q = p, p += n_batch * QD;
	c->att = p, p += n_batch * QD;
	c->g = p, p += n_batch * FF;
	c->u = p, p += n_batch * FF;
	c->cs = p, p += n_batch * half;
	c->sn = p, p += n_batch * half;
	c->scratch = p;
	c->scratch_stride = srows * n_ctx;
	for (int64_t i = 0; i < half; i++) {
		double f = pow((double)hp->rope_base, -(double)(2 * i) / (double)hp->head_dim);
		if (m->rope_freqs)
			f /= (double)m->rope_freqs[i];
		c->inv_freq[i] = f / (double)hp->rope_scale;
	}
	*out = c;
	return CAIRN_OK;
}

void cn_decoder_ctx_free(cn_decoder_ctx *c)
{
	if (!c)
		return;
	cn_free(c->tokens);
	cn_free(c->kv);
	cn_free(c->inv_freq);
	cn_free(c->work);
	cn_free(c);
}

int64_t cn_decoder_ctx_size(const cn_decoder_ctx *c) { return c->n_ctx; }
int64_t cn_decoder_n_past(const cn_decoder_ctx *c) { return c->n_past; }
const int32_t *cn_decoder_tokens(const cn_decoder_ctx *c) { return c->tokens; }

cairn_status cn_decoder_truncate(cn_decoder_ctx *c, int64_t n, cn_err *err)
{
	if (n < 0 || n > c->n_past)
		return cn_err_set(err, CAIRN_EINVAL, "decoder: cannot keep %lld tokens of %lld", (long long)n,
		                  (long long)c->n_past);
	c->n_past = n; /* the K/V rows past n are simply overwritten by the next eval */
	return CAIRN_OK;
}

/* ---- one batch --------------------------------------------------------------------------- */

typedef struct fwd {
	cn_decoder_ctx *c;
	const int32_t *tok;
	int64_t T, p0;
	int layer;
	/* row operations: x += add (when not NULL); out = RMSNorm(x) · w */
	const float *add, *norm_w;
	float *norm_out;
	int64_t row_first; /* rows [row_first, T) only (the last-token logits) */
} fwd;

static float *k_cache(const cn_decoder_ctx *c, int layer)
{
	const cn_decoder_hparams *hp = &c->m->hp;
	return c->kv + (size_t)(2 * layer) * (size_t)c->n_ctx * (size_t)(hp->n_head_kv * hp->head_dim);
}

static float *v_cache(const cn_decoder_ctx *c, int layer)
{
	const cn_decoder_hparams *hp = &c->m->hp;
	return c->kv + (size_t)(2 * layer + 1) * (size_t)c->n_ctx * (size_t)(hp->n_head_kv * hp->head_dim);
}

static void embed_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	const cn_decoder_model *m = F->c->m;
	const cn_table *te = &m->tok_embd;
	int64_t E = m->hp.n_embd, half = m->hp.head_dim / 2;
	for (int64_t t = begin; t < end; t++) {
		cn_dequantize_row(te->type, te->data + (size_t)F->tok[t] * te->row_bytes, F->c->x + t * E, E);
		double pos = (double)(F->p0 + t);
		for (int64_t i = 0; i < half; i++) {
			double a = pos * F->c->inv_freq[i];
			F->c->cs[t * half + i] = (float)cos(a);
			F->c->sn[t * half + i] = (float)sin(a);
		}
	}
}

static void addnorm_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	int64_t E = F->c->m->hp.n_embd;
	for (int64_t t = F->row_first + begin; t < F->row_first + end; t++) {
		float *x = F->c->x + t * E, *o = F->norm_out + (t - F->row_first) * E;
		if (F->add)
			cn_vec_add(x, F->add + t * E, E);
		memmove(o, x, (size_t)E * sizeof(float));
		cn_rmsnorm(o, E, F->norm_w, F->c->m->hp.eps);
	}
}

static void rope_heads(float *v, int64_t n_heads, int64_t hd, const float *cs, const float *sn, bool neox)
{
	int64_t half = hd / 2;
	for (int64_t h = 0; h < n_heads; h++, v += hd)
		for (int64_t i = 0; i < half; i++) {
			int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
			float x0 = v[i0], x1 = v[i1];
			v[i0] = x0 * cs[i] - x1 * sn[i];
			v[i1] = x0 * sn[i] + x1 * cs[i];
		}
}

static void rope_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	const cn_decoder_hparams *hp = &F->c->m->hp;
	int64_t hd = hp->head_dim, half = hd / 2, QD = hp->n_head * hd, KVD = hp->n_head_kv * hd;
	float *K = k_cache(F->c, F->layer) + F->p0 * KVD;
	for (int64_t t = begin; t < end; t++) {
		const float *cs = F->c->cs + t * half, *sn = F->c->sn + t * half;
		rope_heads(F->c->q + t * QD, hp->n_head, hd, cs, sn, hp->rope_neox);
		rope_heads(K + t * KVD, hp->n_head_kv, hd, cs, sn, hp->rope_neox);
	}
}

static void attend(void *vctx, int64_t begin, int64_t end, int thread)
{
	fwd *F = vctx;
	cn_decoder_ctx *c = F->c;
	const cn_decoder_hparams *hp = &c->m->hp;
	int64_t hd = hp->head_dim, QD = hp->n_head * hd, KVD = hp->n_head_kv * hd, group = hp->n_head / hp->n_head_kv;
	float scale = 1.0f / sqrtf((float)hd);
	float *S = c->scratch + (int64_t)thread * c->scratch_stride;
	for (int64_t h = begin; h < end; h++) {
		const float *Q = c->q + h * hd;
		const float *K = k_cache(c, F->layer) + (h / group) * hd, *V = v_cache(c, F->layer) + (h / group) * hd;
		float *O = c->att + h * hd;
		for (int64_t r0 = 0; r0 < F->T; r0 += ATTN_ROWS) {
			int64_t rows = F->T - r0 < ATTN_ROWS ? F->T - r0 : ATTN_ROWS;
			int64_t L = F->p0 + r0 + rows; /* positions the block's last row sees */
			if (rows == 1) { /* generation: one query, no GEMM packing */
				cn_attend1(Q + r0 * QD, K, V, KVD, L, hd, scale, S, O + r0 * QD);
				continue;
			}
			cn_sgemm(NULL, true, rows, L, hd, scale, Q + r0 * QD, QD, K, KVD, 0.0f, S, L);
			for (int64_t r = 0; r < rows; r++) {
				int64_t seen = F->p0 + r0 + r + 1;
				cn_softmax(S + r * L, seen);
				memset(S + r * L + seen, 0, (size_t)(L - seen) * sizeof(float));
			}
			cn_sgemm(NULL, false, rows, hd, L, 1.0f, S, L, V, KVD, 0.0f, O + r0 * QD, QD);
		}
	}
}

static void swiglu_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	int64_t FF = F->c->m->hp.n_ff;
	cn_silu(F->c->g + begin * FF, (end - begin) * FF);
	cn_vec_mul(F->c->g + begin * FF, F->c->u + begin * FF, (end - begin) * FF);
}

static int64_t row_grain(int64_t rows, int threads)
{
	int64_t g = rows / (4 * (int64_t)threads);
	return g < 1 ? 1 : g;
}

/* Runs tokens tok[0..T) at positions n_past.. through every layer, leaving the final hidden
 * states in c->x and the K/V in the cache; logits as cn_decoder_eval describes. */
static void eval_batch(cn_decoder_ctx *c, const int32_t *tok, int64_t T, bool all, float *logits)
{
	const cn_decoder_model *m = c->m;
	const cn_decoder_hparams *hp = &m->hp;
	cn_pool *pool = c->pool;
	int threads = cn_pool_threads(pool);
	int64_t E = hp->n_embd, QD = hp->n_head * hp->head_dim, KVD = hp->n_head_kv * hp->head_dim, FF = hp->n_ff;
	int64_t grain = row_grain(T, threads);
	fwd F = {.c = c, .tok = tok, .T = T, .p0 = c->n_past};
	cn_pool_for(pool, T, grain, embed_rows, &F);
	F.add = NULL;
	F.norm_w = m->layers[0].attn_norm;
	F.norm_out = c->xn;
	cn_pool_for(pool, T, grain, addnorm_rows, &F);
	for (int il = 0; il < hp->n_layer; il++) {
		const cn_dec_layer *ly = &m->layers[il];
		F.layer = il;
		float *K = k_cache(c, il) + F.p0 * KVD, *V = v_cache(c, il) + F.p0 * KVD;
		const cn_weight *qkv_w[3] = {&ly->wq, &ly->wk, &ly->wv};
		const float *qkv_b[3] = {ly->bq, ly->bk, ly->bv};
		float *qkv_y[3] = {c->q, K, V};
		const int64_t qkv_ld[3] = {QD, KVD, KVD};
		cn_matmul_group(pool, c->xn, T, E, 3, qkv_w, qkv_b, qkv_y, qkv_ld);
		cn_pool_for(pool, T, grain, rope_rows, &F);
		cn_pool_for(pool, hp->n_head, 1, attend, &F);
		cn_matmul(pool, c->att, T, QD, &ly->wo, ly->bo, c->xn, E);
		F.add = c->xn; /* x += attention; xn = RMSNorm(x) · ffn_norm */
		F.norm_w = ly->ffn_norm;
		cn_pool_for(pool, T, grain, addnorm_rows, &F);
		const cn_weight *gu_w[2] = {&ly->gate, &ly->up};
		const float *gu_b[2] = {NULL, NULL};
		float *gu_y[2] = {c->g, c->u};
		const int64_t gu_ld[2] = {FF, FF};
		cn_matmul_group(pool, c->xn, T, E, 2, gu_w, gu_b, gu_y, gu_ld);
		cn_pool_for(pool, T, grain, swiglu_rows, &F);
		cn_matmul(pool, c->g, T, FF, &ly->down, NULL, c->xn, E);
		/* x += FFN; xn = RMSNorm(x) with the next layer's attn_norm, or the output norm */
		F.norm_w = il + 1 < hp->n_layer ? m->layers[il + 1].attn_norm : m->output_norm;
		if (il + 1 == hp->n_layer && !all) {
			/* only the last row's logits are wanted: the residual of every row still
			 * matters for nothing after this, so add and normalise just that one */
			F.row_first = T - 1;
			F.add = c->xn;
			cn_pool_for(pool, 1, 1, addnorm_rows, &F);
		} else {
			cn_pool_for(pool, T, grain, addnorm_rows, &F);
		}
	}
	memcpy(c->tokens + c->n_past, tok, (size_t)T * sizeof(int32_t));
	c->n_past += T;
	if (logits)
		cn_matmul(pool, c->xn, all ? T : 1, E, &m->output, NULL, logits, hp->n_vocab);
}

cairn_status cn_decoder_eval(cn_decoder_ctx *c, const int32_t *tokens, int64_t n, unsigned flags, float *logits,
                             cn_err *err)
{
	const cn_decoder_hparams *hp = &c->m->hp;
	if (n <= 0)
		return n == 0 ? CAIRN_OK : cn_err_set(err, CAIRN_EINVAL, "decoder: %lld tokens", (long long)n);
	if (n > c->n_ctx - c->n_past)
		return cn_err_set(err, CAIRN_ETOOBIG,
		                  "decoder: %lld more tokens do not fit the context (%lld of %lld positions used)",
		                  (long long)n, (long long)c->n_past, (long long)c->n_ctx);
	for (int64_t i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
			return cn_err_set(err, CAIRN_EINVAL, "decoder: token id %d at %lld is outside the vocabulary (%lld)",
			                  tokens[i], (long long)i, (long long)hp->n_vocab);
	bool all = (flags & CN_DEC_ALL_LOGITS) != 0;
	for (int64_t done = 0; done < n;) {
		int64_t T = n - done < c->n_batch ? n - done : c->n_batch;
		bool last = done + T == n;
		float *out = NULL;
		if (logits)
			out = all ? logits + done * hp->n_vocab : last ? logits : NULL;
		eval_batch(c, tokens + done, T, all, out);
		done += T;
	}
	return CAIRN_OK;
}
