/*
 * load.c — opening an encoder GGUF: hyper-parameters, tokenizer, and every tensor checked
 * against them before any compute.
 *
 * Why so strict: a model file is untrusted input, and a wrong shape that slipped through
 * would make the forward pass read past a tensor (the reader only guarantees each tensor's
 * bytes lie inside the file, not that they are the size the architecture needs). So every
 * tensor the forward pass touches is looked up here, its shape compared with the one the
 * metadata implies and its type with what the kernels run; the first mismatch fails the
 * open with the tensor's name, the expected and the actual shape (in ggml's order, ne[0]
 * first: [n_embd, n_vocab] for the token table). Tensors the forward pass does not use are
 * ignored, so files with extra heads (a BERT pooler on an embedding model) still load.
 * The checks themselves are check.c's, shared with the decoder's loader.
 */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

typedef struct ld {
	cn_encoder_model *m;
	cn_mload c; /* check.c's view of the file being loaded */
	const char *path;
	cn_err *err;
} ld;

const char *cn_pooling_name(cn_pooling p)
{
	switch (p) {
	case CN_POOL_MEAN: return "mean";
	case CN_POOL_CLS: return "cls";
	case CN_POOL_LAST: return "last";
	case CN_POOL_RANK: return "rank";
	default: return "none";
	}
}

/* The shared checks of check.c, with this loader's state. */
static const cn_gguf_tensor *find(ld *L, const char *name, bool required, cairn_status *rc)
{
	return cn_ml_find(&L->c, name, required, rc);
}

static cairn_status get_vec(ld *L, const char *name, int64_t n, bool required, const float **out, const char *what)
{
	return cn_ml_get_vec(&L->c, name, n, required, out, what);
}

static cairn_status get_mat(ld *L, const char *name, int64_t cols, int64_t rows, bool required, cn_weight *w,
                            bool *present, const char *what)
{
	return cn_ml_get_mat(&L->c, name, cols, rows, required, w, present, what);
}

static cairn_status get_table(ld *L, const char *name, int64_t cols, int64_t rows, int64_t min_rows, bool required,
                              cn_table *tab, const char *what)
{
	return cn_ml_get_table(&L->c, name, cols, rows, min_rows, required, tab, what);
}

/* ---- hyper-parameters ------------------------------------------------------------------ */

static cairn_status key_i64(ld *L, const char *key, bool required, int64_t lo, int64_t hi, int64_t *out)
{
	L->c.arch = L->m->hp.arch_name;
	return cn_ml_key_i64(&L->c, key, required, lo, hi, out);
}

static cairn_status key_f32(ld *L, const char *key, float lo, float hi, float *out)
{
	L->c.arch = L->m->hp.arch_name;
	return cn_ml_key_f32(&L->c, key, lo, hi, out);
}

static cairn_status read_hparams(ld *L)
{
	cn_encoder_hparams *hp = &L->m->hp;
	cn_gguf_str arch;
	cairn_status rc = cn_gguf_get_str(L->m->gguf, "general.architecture", &arch, L->err);
	if (rc == CAIRN_ENOTFOUND)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: general.architecture is missing", L->path);
	if (rc != CAIRN_OK)
		return rc;
	if (arch.len == 4 && !memcmp(arch.ptr, "bert", 4)) {
		hp->arch = CN_ENC_BERT;
		hp->arch_name = "bert";
	} else if (arch.len == 10 && !memcmp(arch.ptr, "nomic-bert", 10)) {
		hp->arch = CN_ENC_NOMIC_BERT;
		hp->arch_name = "nomic-bert";
	} else {
		int shown = arch.len > 64 ? 64 : (int)arch.len;
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: architecture \"%.*s\" is not an encoder cairn runs (supported: bert, nomic-bert)",
		                  L->path, shown, arch.ptr);
	}
	hp->eps = 1e-12f;
	hp->rope_base = 10000.0f;
	int64_t pooling = -1, head_kv = -1;
	if ((rc = key_i64(L, "embedding_length", true, 1, 1 << 16, &hp->n_embd)) ||
	    (rc = key_i64(L, "block_count", true, 1, 512, &hp->n_layer)) ||
	    (rc = key_i64(L, "feed_forward_length", true, 1, 1 << 18, &hp->n_ff)) ||
	    (rc = key_i64(L, "attention.head_count", true, 1, 1 << 12, &hp->n_head)) ||
	    (rc = key_i64(L, "attention.head_count_kv", false, 1, 1 << 12, &head_kv)) ||
	    (rc = key_i64(L, "context_length", true, 8, 1 << 20, &hp->n_ctx)) ||
	    (rc = key_i64(L, "pooling_type", false, 0, INT32_MAX, &pooling)) ||
	    (rc = key_f32(L, "attention.layer_norm_epsilon", 0.0f, 1.0f, &hp->eps)))
		return rc;
	if (hp->n_embd % hp->n_head)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: %s.attention.head_count = %lld does not divide %s.embedding_length = %lld",
		                  L->path, hp->arch_name, (long long)hp->n_head, hp->arch_name, (long long)hp->n_embd);
	if (head_kv >= 0 && head_kv != hp->n_head)
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: %s.attention.head_count_kv = %lld differs from head_count = %lld (grouped-query attention "
		                  "is not part of a BERT encoder)",
		                  L->path, hp->arch_name, (long long)head_kv, (long long)hp->n_head);
	hp->head_dim = hp->n_embd / hp->n_head;
	char key[160];
	snprintf(key, sizeof(key), "%s.attention.causal", hp->arch_name);
	bool causal = false;
	rc = cn_gguf_get_bool(L->m->gguf, key, &causal, L->err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	if (causal)
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED, "%s: %s = true: causal attention is not an encoder", L->path, key);
	switch (pooling) {
	case -1:
	case CN_POOL_NONE: /* one vector per text is the contract: a file without pooling gets mean */
	case CN_POOL_MEAN: hp->pooling = CN_POOL_MEAN; break;
	case CN_POOL_CLS: hp->pooling = CN_POOL_CLS; break;
	case CN_POOL_LAST: hp->pooling = CN_POOL_LAST; break;
	case CN_POOL_RANK: hp->pooling = CN_POOL_RANK; break;
	default:
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED, "%s: %s.pooling_type = %lld is not a pooling cairn knows (0..4)",
		                  L->path, hp->arch_name, (long long)pooling);
	}
	if (hp->arch == CN_ENC_NOMIC_BERT) {
		hp->n_rot = hp->head_dim;
		if ((rc = key_f32(L, "rope.freq_base", 1.0f, 1e9f, &hp->rope_base)) ||
		    (rc = key_i64(L, "rope.dimension_count", false, 2, hp->head_dim, &hp->n_rot)))
			return rc;
		if (hp->n_rot % 2)
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: nomic-bert.rope.dimension_count = %lld is odd", L->path,
			                  (long long)hp->n_rot);
	}
	return CAIRN_OK;
}

/* ---- tokenizer --------------------------------------------------------------------------- */

static cairn_status setup_vocab(ld *L)
{
	cn_encoder_model *m = L->m;
	cairn_status rc = cn_vocab_from_gguf(m->gguf, &m->vocab, L->err);
	if (rc != CAIRN_OK)
		return rc;
	cn_vocab_info vi;
	cn_vocab_get_info(m->vocab, &vi);
	m->hp.n_vocab = vi.n_tokens;
	if (vi.kind == CN_VOCAB_WPM) {
		m->tok_first = vi.cls >= 0 ? vi.cls : vi.bos;
		m->tok_last = vi.sep >= 0 ? vi.sep : vi.eos;
		if (m->tok_first < 0 || m->tok_last < 0)
			return cn_err_set(L->err, CAIRN_EFORMAT,
			                  "%s: the WordPiece vocabulary names no [CLS]/[SEP] token "
			                  "(tokenizer.ggml.cls_token_id, seperator_token_id)",
			                  L->path);
		m->tok_pair_sep = m->tok_last;
	} else {
		/* RoBERTa / XLM-RoBERTa converted as bert: every input is framed <s> … </s> (pairs
		 * <s> A </s></s> B </s>) whatever the file's add_bos/add_eos flags say, which the
		 * converters do not always write */
		m->tok_first = vi.bos;
		m->tok_last = vi.eos;
		m->tok_pair_sep = vi.eos;
		m->pair_double_sep = vi.eos >= 0;
	}
	return CAIRN_OK;
}

/* ---- tensors ----------------------------------------------------------------------------- */

static cairn_status load_layer(ld *L, int il)
{
	cn_encoder_model *m = L->m;
	const cn_encoder_hparams *hp = &m->hp;
	cn_enc_layer *ly = &m->layers[il];
	int64_t n = hp->n_embd, ff = hp->n_ff;
	bool bert = hp->arch == CN_ENC_BERT;
	char name[128];
	cairn_status rc;
#define NM(suffix) (snprintf(name, sizeof(name), "blk.%d.%s", il, suffix), name)
	if (bert) {
		if ((rc = get_mat(L, NM("attn_q.weight"), n, n, true, &ly->wq, NULL, "n_embd × n_embd")) ||
		    (rc = get_vec(L, NM("attn_q.bias"), n, true, &ly->bq, "n_embd")) ||
		    (rc = get_mat(L, NM("attn_k.weight"), n, n, true, &ly->wk, NULL, "n_embd × n_embd")) ||
		    (rc = get_vec(L, NM("attn_k.bias"), n, true, &ly->bk, "n_embd")) ||
		    (rc = get_mat(L, NM("attn_v.weight"), n, n, true, &ly->wv, NULL, "n_embd × n_embd")) ||
		    (rc = get_vec(L, NM("attn_v.bias"), n, true, &ly->bv, "n_embd")))
			return rc;
	} else {
		ly->fused = true;
		if ((rc = get_mat(L, NM("attn_qkv.weight"), n, 3 * n, true, &ly->wqkv, NULL, "n_embd × 3 n_embd")) ||
		    (rc = get_vec(L, NM("attn_qkv.bias"), 3 * n, false, &ly->bqkv, "3 n_embd")))
			return rc;
	}
	if ((rc = get_mat(L, NM("attn_output.weight"), n, n, true, &ly->wo, NULL, "n_embd × n_embd")) ||
	    (rc = get_vec(L, NM("attn_output.bias"), n, bert, &ly->bo, "n_embd")) ||
	    (rc = get_vec(L, NM("attn_output_norm.weight"), n, true, &ly->attn_norm_w, "n_embd")) ||
	    (rc = get_vec(L, NM("attn_output_norm.bias"), n, bert, &ly->attn_norm_b, "n_embd")) ||
	    (rc = get_mat(L, NM("ffn_up.weight"), n, ff, true, &ly->up, NULL, "n_embd × n_ff")) ||
	    (rc = get_vec(L, NM("ffn_up.bias"), ff, bert, &ly->b_up, "n_ff")) ||
	    (rc = get_mat(L, NM("ffn_down.weight"), ff, n, true, &ly->down, NULL, "n_ff × n_embd")) ||
	    (rc = get_vec(L, NM("ffn_down.bias"), n, bert, &ly->b_down, "n_embd")) ||
	    (rc = get_vec(L, NM("layer_output_norm.weight"), n, true, &ly->out_norm_w, "n_embd")) ||
	    (rc = get_vec(L, NM("layer_output_norm.bias"), n, bert, &ly->out_norm_b, "n_embd")))
		return rc;
	if (!bert) {
		ly->gated = true;
		if ((rc = get_mat(L, NM("ffn_gate.weight"), n, ff, true, &ly->gate, NULL, "n_embd × n_ff")) ||
		    (rc = get_vec(L, NM("ffn_gate.bias"), ff, false, &ly->b_gate, "n_ff")))
			return rc;
	}
#undef NM
	return CAIRN_OK;
}

static cairn_status load_tensors(ld *L)
{
	cn_encoder_model *m = L->m;
	cn_encoder_hparams *hp = &m->hp;
	int64_t n = hp->n_embd;
	bool bert = hp->arch == CN_ENC_BERT;
	cairn_status rc;
	char what[96];
	snprintf(what, sizeof(what), "n_embd × the tokenizer's %lld tokens", (long long)hp->n_vocab);
	if ((rc = get_table(L, "token_embd.weight", n, hp->n_vocab, 0, true, &m->tok_embd, what)))
		return rc;
	snprintf(what, sizeof(what), "n_embd × at least %s.context_length = %lld", hp->arch_name, (long long)hp->n_ctx);
	if (bert && (rc = get_table(L, "position_embd.weight", n, -1, hp->n_ctx, true, &m->pos_embd, what)))
		return rc;
	if ((rc = get_table(L, "token_types.weight", n, -1, 1, false, &m->type_embd, "n_embd × token types")))
		return rc;
	if (m->type_embd.data && m->type_embd.rows > 64)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor 'token_types.weight' has %lld rows; a BERT has 1 or 2",
		                  L->path, (long long)m->type_embd.rows);
	hp->n_types = m->type_embd.data ? m->type_embd.rows : 0;
	if ((rc = get_vec(L, "token_embd_norm.weight", n, true, &m->embd_norm_w, "n_embd")) ||
	    (rc = get_vec(L, "token_embd_norm.bias", n, bert, &m->embd_norm_b, "n_embd")))
		return rc;
	m->layers = cn_calloc((size_t)hp->n_layer, sizeof(*m->layers));
	if (!m->layers)
		return cn_err_set(L->err, CAIRN_ENOMEM, "%s: out of memory", L->path);
	for (int il = 0; il < hp->n_layer; il++)
		if ((rc = load_layer(L, il)) != CAIRN_OK)
			return rc;
	if (hp->pooling == CN_POOL_RANK) {
		/* the classifier first: its row count sizes nothing else, and it is what a reranker needs */
		const cn_gguf_tensor *t = find(L, "cls.output.weight", false, &rc);
		if (!t)
			return cn_err_set(L->err, CAIRN_EFORMAT,
			                  "%s: %s.pooling_type = 4 (rank) but tensor 'cls.output.weight' (the classifier) is missing",
			                  L->path, hp->arch_name);
		if (t->ne[1] < 1 || t->ne[1] > 1024)
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor 'cls.output.weight' has %lld rows (labels)", L->path,
			                  (long long)t->ne[1]);
		hp->n_cls_out = t->ne[1];
		if ((rc = get_mat(L, "cls.output.weight", n, hp->n_cls_out, true, &m->cls_out, &m->has_cls_out,
		                  "n_embd × labels")) ||
		    (rc = get_vec(L, "cls.output.bias", hp->n_cls_out, false, &m->cls_out_b, "labels")) ||
		    (rc = get_mat(L, "cls.weight", n, n, false, &m->cls, &m->has_cls, "n_embd × n_embd (pooler)")))
			return rc;
		if (m->has_cls && (rc = get_vec(L, "cls.bias", n, false, &m->cls_b, "n_embd")))
			return rc;
	}
	return CAIRN_OK;
}

cairn_status cn_encoder_load(const char *path, cn_encoder_model **out, cn_err *err)
{
	*out = NULL;
	cn_encoder_model *m = cn_calloc(1, sizeof(*m));
	if (!m)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	m->tok_first = m->tok_last = m->tok_pair_sep = -1;
	ld L = {.m = m, .path = path, .err = err};
	cairn_status rc = cn_gguf_open(path, &m->gguf, err);
	L.c = (cn_mload){.g = m->gguf, .path = path, .arch = "", .vecs = &m->vecs, .err = err};
	if (rc == CAIRN_OK && cn_gguf_format(m->gguf) != CN_MODEL_GGUF)
		rc = cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: a llama2.c checkpoint is not an encoder", path);
	if (rc == CAIRN_OK)
		rc = read_hparams(&L);
	L.c.arch = m->hp.arch_name ? m->hp.arch_name : "";
	if (rc == CAIRN_OK)
		rc = setup_vocab(&L);
	if (rc == CAIRN_OK)
		rc = load_tensors(&L);
	if (rc != CAIRN_OK) {
		cn_encoder_free(m);
		return rc;
	}
	*out = m;
	return CAIRN_OK;
}

void cn_encoder_free(cn_encoder_model *m)
{
	if (!m)
		return;
	cn_vecset_free(&m->vecs);
	cn_free(m->layers);
	cn_vocab_free(m->vocab);
	cn_gguf_close(m->gguf);
	cn_free(m);
}

const cn_encoder_hparams *cn_encoder_hparams_get(const cn_encoder_model *m) { return &m->hp; }

const cn_vocab *cn_encoder_vocab(const cn_encoder_model *m) { return m->vocab; }
