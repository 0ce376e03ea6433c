/*
 * forward.c — the encoder's forward pass over one packed batch.
 *
 * Layout: the T tokens of all sequences are the rows of row-major [T × n_embd] matrices,
 * sequence after sequence, no padding (see model.h). Each linear layer is one cn_matmul over
 * all T rows, which is where nearly all the time goes and where batching pays: the weights
 * stream through the cache once per batch instead of once per text. Q, K and V share one
 * [T × 3 n_embd] buffer (a fused QKV matrix writes it in one product; BERT's three separate
 * ones write their thirds), so attention reads every head as a strided sub-matrix without
 * copies. Attention is parallel over (sequence, head) pairs, each one thread running two
 * small GEMMs and a softmax in its own scratch; row-wise work (norms, activations) is
 * parallel over rows. Every output element is computed by one thread in a fixed order, so
 * results do not depend on the thread count, nor on which other texts share the batch. The
 * products keep F32 activations (cn_matmul_f32act): the integer path that decoders use for
 * quantized weights moved embeddings and rerank scores too far from their float references.
 *
 * The math is Hugging Face's BertModel (post-LN: x = LN(x + Attn(x)); x = LN(x + FFN(x)),
 * exact erf GELU, scores scaled by 1/sqrt(head_dim)) and, for nomic-bert, rotary positions
 * (NeoX pairing) on Q and K and a SwiGLU FFN, as llama.cpp's build_bert.
 */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

#define ATTN_ROWS 64 /* query rows per attention block: scratch of 64 × L floats per thread */

void cn_enc_work_free(cn_enc_work *w)
{
	if (!w)
		return;
	cn_free(w->buf);
	w->buf = NULL;
	w->cap = 0;
}

typedef struct fwd {
	const cn_encoder_model *m;
	const cn_enc_seq *seqs;
	size_t n_seq;
	const int64_t *off; /* first row of each sequence; off[n_seq] = T */
	float *x, *qkv, *ctx, *tmp, *h, *g, *scratch;
	int64_t scratch_stride;
} fwd;

/* ---- embeddings -------------------------------------------------------------------------- */

static void embed_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	const cn_encoder_model *m = F->m;
	int64_t E = m->hp.n_embd;
	for (int64_t s = begin; s < end; s++) {
		const cn_enc_seq *sq = &F->seqs[s];
		for (int64_t i = 0; i < sq->n; i++) {
			int64_t row = F->off[s] + i;
			float *x = F->x + row * E, *t = F->tmp + row * E;
			const cn_table *te = &m->tok_embd;
			cn_dequantize_row(te->type, te->data + (size_t)sq->ids[i] * te->row_bytes, x, E);
			if (m->type_embd.data) {
				int64_t ty = i >= sq->n_first && m->type_embd.rows > 1 ? 1 : 0;
				cn_dequantize_row(m->type_embd.type, m->type_embd.data + (size_t)ty * m->type_embd.row_bytes, t, E);
				cn_vec_add(x, t, E);
			}
			if (m->pos_embd.data) {
				cn_dequantize_row(m->pos_embd.type, m->pos_embd.data + (size_t)i * m->pos_embd.row_bytes, t, E);
				cn_vec_add(x, t, E);
			}
			cn_layernorm(x, E, m->embd_norm_w, m->embd_norm_b, m->hp.eps);
		}
	}
}

/* ---- attention --------------------------------------------------------------------------- */

static void rope_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	fwd *F = vctx;
	const cn_encoder_hparams *hp = &F->m->hp;
	int64_t E = hp->n_embd;
	for (int64_t s = begin; s < end; s++)
		for (int64_t i = 0; i < F->seqs[s].n; i++) {
			float *q = F->qkv + (F->off[s] + i) * 3 * E;
			cn_rope(q, hp->n_head, hp->head_dim, hp->n_rot, i, hp->rope_base, true);
			cn_rope(q + E, hp->n_head, hp->head_dim, hp->n_rot, i, hp->rope_base, true);
		}
}

static void attend(void *vctx, int64_t begin, int64_t end, int thread)
{
	fwd *F = vctx;
	const cn_encoder_hparams *hp = &F->m->hp;
	int64_t E = hp->n_embd, hd = hp->head_dim, ld = 3 * E;
	float scale = 1.0f / sqrtf((float)hd);
	float *S = F->scratch + (int64_t)thread * F->scratch_stride;
	for (int64_t item = begin; item < end; item++) {
		int64_t s = item / hp->n_head, h = item % hp->n_head;
		int64_t L = F->seqs[s].n;
		const float *Q = F->qkv + F->off[s] * ld + h * hd, *K = Q + E, *V = Q + 2 * E;
		/* per block of query rows: S = scale · Q Kᵀ, softmax per row, O = S V into this
		 * head's columns; blocks bound the scratch to ATTN_ROWS × L whatever the context */
		for (int64_t r0 = 0; r0 < L; r0 += ATTN_ROWS) {
			int64_t rows = L - r0 < ATTN_ROWS ? L - r0 : ATTN_ROWS;
			cn_sgemm(NULL, true, rows, L, hd, scale, Q + r0 * ld, ld, K, ld, 0.0f, S, L);
			for (int64_t r = 0; r < rows; r++)
				cn_softmax(S + r * L, L);
			cn_sgemm(NULL, false, rows, hd, L, 1.0f, S, L, V, ld, 0.0f, F->ctx + (F->off[s] + r0) * E + h * hd, E);
		}
	}
}

/* ---- row-wise steps ---------------------------------------------------------------------- */

typedef struct addnorm {
	float *y;             /* y = LN(y + x) */
	const float *x;
	const float *w, *b;
	int64_t n;
	float eps;
} addnorm;

static void addnorm_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	addnorm *A = vctx;
	for (int64_t r = begin; r < end; r++) {
		float *y = A->y + r * A->n;
		cn_vec_add(y, A->x + r * A->n, A->n);
		cn_layernorm(y, A->n, A->w, A->b, A->eps);
	}
}

typedef struct actv {
	float *h;
	float *g; /* gated: h = h ⊙ silu(g) */
	int64_t n;
} actv;

static void act_rows(void *vctx, int64_t begin, int64_t end, int thread)
{
	(void)thread;
	actv *A = vctx;
	if (A->g) {
		cn_silu(A->g + begin * A->n, (end - begin) * A->n);
		cn_vec_mul(A->h + begin * A->n, A->g + begin * A->n, (end - begin) * A->n);
	} else {
		cn_gelu(A->h + begin * A->n, (end - begin) * A->n);
	}
}

static int64_t row_grain(int64_t rows, int threads)
{
	int64_t g = rows / (4 * (int64_t)threads);
	return g < 1 ? 1 : g;
}

static void layer_forward(fwd *F, cn_pool *pool, const cn_enc_layer *ly, int64_t T)
{
	const cn_encoder_hparams *hp = &F->m->hp;
	int64_t E = hp->n_embd, FF = hp->n_ff;
	int threads = cn_pool_threads(pool);
	if (ly->fused) {
		cn_matmul_f32act(pool, F->x, T, E, &ly->wqkv, ly->bqkv, F->qkv, 3 * E);
	} else {
		cn_matmul_f32act(pool, F->x, T, E, &ly->wq, ly->bq, F->qkv, 3 * E);
		cn_matmul_f32act(pool, F->x, T, E, &ly->wk, ly->bk, F->qkv + E, 3 * E);
		cn_matmul_f32act(pool, F->x, T, E, &ly->wv, ly->bv, F->qkv + 2 * E, 3 * E);
	}
	if (hp->n_rot > 0)
		cn_pool_for(pool, (int64_t)F->n_seq, 1, rope_rows, F);
	cn_pool_for(pool, (int64_t)F->n_seq * hp->n_head, 1, attend, F);
	cn_matmul_f32act(pool, F->ctx, T, E, &ly->wo, ly->bo, F->tmp, E);
	addnorm an = {.y = F->tmp, .x = F->x, .w = ly->attn_norm_w, .b = ly->attn_norm_b, .n = E, .eps = hp->eps};
	cn_pool_for(pool, T, row_grain(T, threads), addnorm_rows, &an);
	float *t = F->x; /* the normalised sum is the new x */
	F->x = F->tmp;
	F->tmp = t;

	cn_matmul_f32act(pool, F->x, T, E, &ly->up, ly->b_up, F->h, FF);
	if (ly->gated)
		cn_matmul_f32act(pool, F->x, T, E, &ly->gate, ly->b_gate, F->g, FF);
	actv av = {.h = F->h, .g = ly->gated ? F->g : NULL, .n = FF};
	cn_pool_for(pool, T, row_grain(T, threads), act_rows, &av);
	cn_matmul_f32act(pool, F->h, T, FF, &ly->down, ly->b_down, F->tmp, E);
	addnorm an2 = {.y = F->tmp, .x = F->x, .w = ly->out_norm_w, .b = ly->out_norm_b, .n = E, .eps = hp->eps};
	cn_pool_for(pool, T, row_grain(T, threads), addnorm_rows, &an2);
	t = F->x;
	F->x = F->tmp;
	F->tmp = t;
}

/* ---- the pass ---------------------------------------------------------------------------- */

cairn_status cn_encoder_forward(const cn_encoder_model *m, cn_pool *pool, cn_enc_work *work,
                                const cn_enc_seq *seqs, size_t n, bool normalize, float *out, cn_err *err)
{
	const cn_encoder_hparams *hp = &m->hp;
	int64_t E = hp->n_embd, FF = hp->n_ff, T = 0, Lmax = 0;
	if (n == 0)
		return CAIRN_OK;
	for (size_t s = 0; s < n; s++) {
		const cn_enc_seq *sq = &seqs[s];
		if (sq->n < 1 || sq->n > hp->n_ctx)
			return cn_err_set(err, CAIRN_EINVAL, "encoder: sequence %zu has %lld tokens (1..%lld)", s,
			                  (long long)sq->n, (long long)hp->n_ctx);
		for (int64_t i = 0; i < sq->n; i++)
			if (sq->ids[i] < 0 || sq->ids[i] >= hp->n_vocab)
				return cn_err_set(err, CAIRN_EINVAL, "encoder: token id %d outside the vocabulary (%lld)",
				                  sq->ids[i], (long long)hp->n_vocab);
		T += sq->n;
		Lmax = sq->n > Lmax ? sq->n : Lmax;
	}
	int threads = cn_pool_threads(pool);
	bool gated = hp->arch == CN_ENC_NOMIC_BERT;
	/* x, tmp, ctx: T×E; qkv: T×3E; h (and g): T×FF; attention scratch per thread; rank head: 2 n×E */
	int64_t srows = Lmax < ATTN_ROWS ? Lmax : ATTN_ROWS;
	size_t need = (size_t)T * (size_t)(6 * E + FF * (gated ? 2 : 1)) + (size_t)threads * (size_t)(srows * Lmax) +
	              2 * n * (size_t)E;
	if (need > work->cap) {
		float *nb = cn_malloc(need * sizeof(float));
		if (!nb)
			return cn_err_set(err, CAIRN_ENOMEM, "encoder: out of memory for a batch of %lld tokens", (long long)T);
		cn_free(work->buf);
		work->buf = nb;
		work->cap = need;
	}
	float *p = work->buf;
	fwd F = {.m = m, .seqs = seqs, .n_seq = n};
	F.x = p, p += T * E;
	F.tmp = p, p += T * E;
	F.ctx = p, p += T * E;
	F.qkv = p, p += T * 3 * E;
	F.h = p, p += T * FF;
	if (gated)
		F.g = p, p += T * FF;
	F.scratch = p, p += (int64_t)threads * srows * Lmax;
	F.scratch_stride = srows * Lmax;
	float *pooled = p;
	p += (int64_t)n * E;
	float *pooled2 = p;
	p += (int64_t)n * E;
	int64_t *offs = cn_malloc((n + 1) * sizeof(int64_t));
	if (!offs)
		return cn_err_set(err, CAIRN_ENOMEM, "encoder: out of memory");
	offs[0] = 0;
	for (size_t s = 0; s < n; s++)
		offs[s + 1] = offs[s] + seqs[s].n;
	F.off = offs;

	cn_pool_for(pool, (int64_t)n, 1, embed_rows, &F);
	for (int64_t il = 0; il < hp->n_layer; il++)
		layer_forward(&F, pool, &m->layers[il], T);

	/* pooling */
	for (size_t s = 0; s < n; s++) {
		const float *rows = F.x + offs[s] * E;
		float *o = pooled + (int64_t)s * E;
		int64_t L = seqs[s].n;
		if (hp->pooling == CN_POOL_MEAN) {
			memset(o, 0, (size_t)E * sizeof(float));
			for (int64_t i = 0; i < L; i++)
				cn_vec_add(o, rows + i * E, E);
			cn_vec_scale(o, 1.0f / (float)L, E);
		} else if (hp->pooling == CN_POOL_LAST) {
			memcpy(o, rows + (L - 1) * E, (size_t)E * sizeof(float));
		} else { /* cls, rank: the first token */
			memcpy(o, rows, (size_t)E * sizeof(float));
		}
	}
	if (hp->pooling == CN_POOL_RANK) {
		const float *in = pooled;
		if (m->has_cls) {
			cn_matmul_f32act(pool, pooled, (int64_t)n, E, &m->cls, m->cls_b, pooled2, E);
			for (int64_t i = 0; i < (int64_t)n * E; i++)
				pooled2[i] = tanhf(pooled2[i]);
			in = pooled2;
		}
		int64_t K = hp->n_cls_out;
		/* logits of all labels land in the first slot(s) of `pooled`, which is free again */
		float *logits = in == pooled ? pooled2 : pooled;
		cn_matmul_f32act(pool, in, (int64_t)n, E, &m->cls_out, m->cls_out_b, logits, K);
		for (size_t s = 0; s < n; s++)
			out[s] = logits[(int64_t)s * K];
	} else {
		for (size_t s = 0; s < n; s++) {
			float *o = out + (int64_t)s * E;
			memcpy(o, pooled + (int64_t)s * E, (size_t)E * sizeof(float));
			if (normalize)
				cn_l2_normalize(o, E);
		}
	}
	cn_free(offs);
	return CAIRN_OK;
}

double cn_encoder_flops(const cn_encoder_model *m, const int64_t *lengths, size_t n)
{
	const cn_encoder_hparams *hp = &m->hp;
	double E = (double)hp->n_embd, FF = (double)hp->n_ff, T = 0, attn = 0;
	for (size_t s = 0; s < n; s++) {
		T += (double)lengths[s];
		attn += 4.0 * (double)lengths[s] * (double)lengths[s] * E; /* QKᵀ and S·V over all heads */
	}
	double per_token = 2.0 * E * 3.0 * E + 2.0 * E * E + 2.0 * E * FF * (hp->arch == CN_ENC_NOMIC_BERT ? 3.0 : 2.0);
	double head = 0;
	if (hp->pooling == CN_POOL_RANK)
		head = (double)n * (2.0 * E * (m->has_cls ? E : 0) + 2.0 * E * (double)hp->n_cls_out);
	return (double)hp->n_layer * (T * per_token + attn) + head;
}
