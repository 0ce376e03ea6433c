/*
 * decoder_load.c — opening a Llama/Qwen2-family decoder: hyper-parameters, tokenizer, and
 * every tensor checked against them before any compute (check.c).
 *
 * What is refused, and why: a decoder that runs but computes something other than the
 * model is worse than one that does not open, because its output still looks like text.
 * So beyond shapes and types this loader refuses, by name, the features of neighbouring
 * models that share the "llama" architecture string in GGUF but that cairn does not
 * compute: mixture-of-experts layers (llama.expert_count, ffn_gate_inp), RoPE scaling other
 * than linear (yarn, longrope: they reshape the frequencies), partial rotary embeddings,
 * separate key/value head sizes, Q/K norms and FFN biases. Tensors outside that list that
 * the forward pass does not read are ignored, as llama.cpp ignores them.
 *
 * Shapes in ggml order (ne[0] = inputs): attn_q [n_embd, n_head·hd], attn_k and attn_v
 * [n_embd, n_head_kv·hd], attn_output [n_head·hd, n_embd], ffn_gate and ffn_up [n_embd, n_ff],
 * ffn_down [n_ff, n_embd], token_embd and output [n_embd, n_vocab], where hd = head_dim =
 * attention.key_length or n_embd / n_head.
 */
#include "model/model_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dl {
	cn_decoder_model *m;
	cn_mload c;
	const char *path;
	cn_err *err;
} dl;

/* ---- hyper-parameters ------------------------------------------------------------------ */

static cairn_status read_arch(dl *L)
{
	cn_decoder_hparams *hp = &L->m->hp;
	cn_gguf_str arch;
	cairn_status rc = cn_gguf_get_str(L->m->gguf, "general.architecture", &arch, L->err);
	if (rc == CAIRN_ENOTFOUND)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: general.architecture is missing", L->path);
	if (rc != CAIRN_OK)
		return rc;
	if (arch.len == 5 && !memcmp(arch.ptr, "llama", 5)) {
		hp->arch = CN_DEC_LLAMA;
		hp->arch_name = "llama";
	} else if (arch.len == 5 && !memcmp(arch.ptr, "qwen2", 5)) {
		hp->arch = CN_DEC_QWEN2;
		hp->arch_name = "qwen2";
	} else {
		int shown = arch.len > 64 ? 64 : (int)arch.len;
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: architecture \"%.*s\" is not a decoder cairn runs (supported: llama, qwen2)", L->path,
		                  shown, arch.ptr);
	}
	L->c.arch = hp->arch_name;
	return CAIRN_OK;
}

/* rope.scaling.type / rope.scaling.factor (older files: rope.scale_linear), read as
 * llama.cpp does: the type defaults to linear, a factor of 0 or none means no scaling. */
static cairn_status read_rope_scaling(dl *L)
{
	cn_decoder_hparams *hp = &L->m->hp;
	char key[160];
	float factor = 0.0f;
	cairn_status rc = cn_ml_key_f32(&L->c, "rope.scaling.factor", 0.0f, 1e6f, &factor);
	if (rc == CAIRN_OK && factor == 0.0f)
		rc = cn_ml_key_f32(&L->c, "rope.scale_linear", 0.0f, 1e6f, &factor);
	if (rc != CAIRN_OK)
		return rc;
	snprintf(key, sizeof(key), "%s.rope.scaling.type", hp->arch_name);
	cn_gguf_str type = {"linear", 6};
	rc = cn_gguf_get_str(L->m->gguf, key, &type, L->err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	hp->rope_scale = 1.0f;
	if (type.len == 4 && !memcmp(type.ptr, "none", 4))
		return CAIRN_OK;
	if (!(type.len == 6 && !memcmp(type.ptr, "linear", 6))) {
		int shown = type.len > 32 ? 32 : (int)type.len;
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: %s = \"%.*s\": cairn runs linear RoPE scaling only (yarn and longrope change the "
		                  "frequencies in ways it does not compute)",
		                  L->path, key, shown, type.ptr);
	}
	if (factor > 0.0f) {
		if (factor < 1e-3f)
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: %s.rope.scaling.factor = %g is not a usable factor",
			                  L->path, hp->arch_name, (double)factor);
		hp->rope_scale = factor;
	}
	return CAIRN_OK;
}

static cairn_status read_hparams(dl *L)
{
	cn_decoder_hparams *hp = &L->m->hp;
	cairn_status rc;
	int64_t head_kv = -1, key_len = -1, val_len = -1, n_rot = -1, experts = 0;
	hp->rope_base = 10000.0f;
	if ((rc = cn_ml_key_i64(&L->c, "embedding_length", true, 1, 1 << 16, &hp->n_embd)) ||
	    (rc = cn_ml_key_i64(&L->c, "block_count", true, 1, 512, &hp->n_layer)) ||
	    (rc = cn_ml_key_i64(&L->c, "feed_forward_length", true, 1, 1 << 18, &hp->n_ff)) ||
	    (rc = cn_ml_key_i64(&L->c, "attention.head_count", true, 1, 1 << 12, &hp->n_head)) ||
	    (rc = cn_ml_key_i64(&L->c, "attention.head_count_kv", false, 1, 1 << 12, &head_kv)) ||
	    (rc = cn_ml_key_i64(&L->c, "attention.key_length", false, 1, 1 << 12, &key_len)) ||
	    (rc = cn_ml_key_i64(&L->c, "attention.value_length", false, 1, 1 << 12, &val_len)) ||
	    (rc = cn_ml_key_i64(&L->c, "context_length", true, 1, 1 << 24, &hp->n_ctx_train)) ||
	    (rc = cn_ml_key_i64(&L->c, "rope.dimension_count", false, 1, 1 << 12, &n_rot)) ||
	    (rc = cn_ml_key_i64(&L->c, "expert_count", false, 0, 1 << 16, &experts)) ||
	    (rc = cn_ml_key_f32(&L->c, "rope.freq_base", 1.0f, 1e12f, &hp->rope_base)))
		return rc;
	hp->eps = -1.0f;
	if ((rc = cn_ml_key_f32(&L->c, "attention.layer_norm_rms_epsilon", 0.0f, 1.0f, &hp->eps)))
		return rc;
	if (hp->eps < 0.0f)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: metadata key %s.attention.layer_norm_rms_epsilon is missing",
		                  L->path, hp->arch_name);
	if (experts > 0)
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: %s.expert_count = %lld: mixture-of-experts models are not supported", L->path,
		                  hp->arch_name, (long long)experts);
	hp->n_head_kv = head_kv > 0 ? head_kv : hp->n_head;
	if (hp->n_head % hp->n_head_kv)
		return cn_err_set(L->err, CAIRN_EFORMAT,
		                  "%s: %s.attention.head_count_kv = %lld does not divide attention.head_count = %lld", L->path,
		                  hp->arch_name, (long long)hp->n_head_kv, (long long)hp->n_head);
	if (key_len > 0 && val_len > 0 && key_len != val_len)
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: %s.attention.key_length = %lld differs from value_length = %lld (not supported)", L->path,
		                  hp->arch_name, (long long)key_len, (long long)val_len);
	if (key_len > 0 || val_len > 0) {
		hp->head_dim = key_len > 0 ? key_len : val_len;
	} else {
		if (hp->n_embd % hp->n_head)
			return cn_err_set(L->err, CAIRN_EFORMAT,
			                  "%s: %s.attention.head_count = %lld does not divide embedding_length = %lld", L->path,
			                  hp->arch_name, (long long)hp->n_head, (long long)hp->n_embd);
		hp->head_dim = hp->n_embd / hp->n_head;
	}
	if (hp->head_dim % 2)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: the head size %lld is odd (RoPE rotates pairs)", L->path,
		                  (long long)hp->head_dim);
	if (n_rot > 0 && n_rot != hp->head_dim)
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: %s.rope.dimension_count = %lld differs from the head size %lld (partial rotary "
		                  "embeddings are not part of %s)",
		                  L->path, hp->arch_name, (long long)n_rot, (long long)hp->head_dim, hp->arch_name);
	hp->rope_neox = hp->arch == CN_DEC_QWEN2;
	return read_rope_scaling(L);
}

/* ---- tokenizer --------------------------------------------------------------------------- */

static cairn_status setup_vocab(dl *L, const char *tokenizer_path)
{
	cn_decoder_model *m = L->m;
	cairn_status rc;
	if (tokenizer_path)
		rc = cn_vocab_load(tokenizer_path, NULL, &m->vocab, L->err);
	else if (cn_gguf_format(m->gguf) == CN_MODEL_LLAMA2C)
		return cn_err_set(L->err, CAIRN_EINVAL,
		                  "%s: a llama2.c checkpoint holds no tokenizer; give its tokenizer.bin (for example "
		                  "tok512.bin) as the tokenizer",
		                  L->path);
	else
		rc = cn_vocab_from_gguf(m->gguf, &m->vocab, L->err);
	if (rc != CAIRN_OK)
		return rc;
	cn_vocab_info vi;
	cn_vocab_get_info(m->vocab, &vi);
	m->hp.n_vocab = vi.n_tokens;
	return CAIRN_OK;
}

/* ---- tensors ----------------------------------------------------------------------------- */

/* Tensors of related architectures that would change the result if ignored. */
static cairn_status refuse_foreign(dl *L, int il)
{
	static const char *const foreign[] = {"ffn_gate_inp.weight", "ffn_gate_exps.weight", "attn_q_norm.weight",
	                                      "attn_k_norm.weight",  "attn_qkv.weight",      "ffn_up.bias",
	                                      "ffn_gate.bias",       "ffn_down.bias",        "attn_post_norm.weight",
	                                      "ffn_post_norm.weight"};
	char name[128];
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		snprintf(name, sizeof(name), "blk.%d.%s", il, foreign[i]);
		if (cn_gguf_tensor_find(L->m->gguf, name))
			return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
			                  "%s: tensor '%s' is not part of a %s model as cairn runs it (a variant it does not "
			                  "support)",
			                  L->path, name, L->m->hp.arch_name);
	}
	if (L->m->hp.arch == CN_DEC_QWEN2) {
		snprintf(name, sizeof(name), "blk.%d.attn_output.bias", il);
		if (cn_gguf_tensor_find(L->m->gguf, name))
			return cn_err_set(L->err, CAIRN_EUNSUPPORTED, "%s: tensor '%s' is not part of a qwen2 model", L->path,
			                  name);
	}
	return CAIRN_OK;
}

static cairn_status load_layer(dl *L, int il)
{
	cn_decoder_model *m = L->m;
	cn_decoder_hparams *hp = &m->hp;
	cn_dec_layer *ly = &m->layers[il];
	cn_mload *c = &L->c;
	int64_t E = hp->n_embd, QD = hp->n_head * hp->head_dim, KVD = hp->n_head_kv * hp->head_dim, FF = hp->n_ff;
	bool qwen = hp->arch == CN_DEC_QWEN2;
	char name[128];
	cairn_status rc;
	if ((rc = refuse_foreign(L, il)))
		return rc;
#define NM(suffix) (snprintf(name, sizeof(name), "blk.%d.%s", il, suffix), name)
	if ((rc = cn_ml_get_vec(c, NM("attn_norm.weight"), E, true, &ly->attn_norm, "n_embd")) ||
	    (rc = cn_ml_get_mat(c, NM("attn_q.weight"), E, QD, true, &ly->wq, NULL, "n_embd × n_head·head_dim")) ||
	    (rc = cn_ml_get_mat(c, NM("attn_k.weight"), E, KVD, true, &ly->wk, NULL, "n_embd × n_head_kv·head_dim")) ||
	    (rc = cn_ml_get_mat(c, NM("attn_v.weight"), E, KVD, true, &ly->wv, NULL, "n_embd × n_head_kv·head_dim")) ||
	    (rc = cn_ml_get_mat(c, NM("attn_output.weight"), QD, E, true, &ly->wo, NULL, "n_head·head_dim × n_embd")) ||
	    (rc = cn_ml_get_vec(c, NM("attn_q.bias"), QD, qwen, &ly->bq, "n_head·head_dim")) ||
	    (rc = cn_ml_get_vec(c, NM("attn_k.bias"), KVD, qwen, &ly->bk, "n_head_kv·head_dim")) ||
	    (rc = cn_ml_get_vec(c, NM("attn_v.bias"), KVD, qwen, &ly->bv, "n_head_kv·head_dim")) ||
	    (rc = cn_ml_get_vec(c, NM("ffn_norm.weight"), E, true, &ly->ffn_norm, "n_embd")) ||
	    (rc = cn_ml_get_mat(c, NM("ffn_gate.weight"), E, FF, true, &ly->gate, NULL, "n_embd × n_ff")) ||
	    (rc = cn_ml_get_mat(c, NM("ffn_up.weight"), E, FF, true, &ly->up, NULL, "n_embd × n_ff")) ||
	    (rc = cn_ml_get_mat(c, NM("ffn_down.weight"), FF, E, true, &ly->down, NULL, "n_ff × n_embd")))
		return rc;
	if (!qwen && (rc = cn_ml_get_vec(c, NM("attn_output.bias"), E, false, &ly->bo, "n_embd")))
		return rc;
#undef NM
	/* llama: biases are all or nothing per file, which is what the converters write */
	if (ly->bq || ly->bk || ly->bv)
		hp->has_attn_bias = true;
	return CAIRN_OK;
}

static cairn_status load_tensors(dl *L)
{
	cn_decoder_model *m = L->m;
	cn_decoder_hparams *hp = &m->hp;
	cn_mload *c = &L->c;
	int64_t E = hp->n_embd;
	cairn_status rc;
	char what[96];
	snprintf(what, sizeof(what), "n_embd × the tokenizer's %lld tokens", (long long)hp->n_vocab);
	if ((rc = cn_ml_get_table(c, "token_embd.weight", E, hp->n_vocab, 0, true, &m->tok_embd, what)) ||
	    (rc = cn_ml_get_vec(c, "output_norm.weight", E, true, &m->output_norm, "n_embd")))
		return rc;
	bool has_output = false;
	if ((rc = cn_ml_get_mat(c, "output.weight", E, hp->n_vocab, false, &m->output, &has_output, what)))
		return rc;
	if (!has_output) {
		const cn_gguf_tensor *t = cn_gguf_tensor_find(m->gguf, "token_embd.weight");
		if (!cn_weight_from_tensor(t, &m->output, L->err))
			return L->err->code ? L->err->code : cn_err_set(L->err, CAIRN_EFORMAT, "%s: token_embd.weight", L->path);
		hp->tied_output = true;
	}
	if ((rc = cn_ml_get_vec(c, "rope_freqs.weight", hp->head_dim / 2, false, &m->rope_freqs, "head_dim / 2")))
		return rc;
	if (m->rope_freqs) {
		for (int64_t i = 0; i < hp->head_dim / 2; i++)
			if (!(m->rope_freqs[i] > 0.0f))
				return cn_err_set(L->err, CAIRN_EFORMAT, "%s: rope_freqs.weight[%lld] = %g is not a positive factor",
				                  L->path, (long long)i, (double)m->rope_freqs[i]);
		hp->has_rope_freqs = true;
	}
	m->layers = cn_calloc((size_t)hp->n_layer, sizeof(*m->layers));
	if (!m->layers)
		return cn_err_set(L->err, CAIRN_ENOMEM, "%s: out of memory", L->path);
	for (int il = 0; il < hp->n_layer; il++)
		if ((rc = load_layer(L, il)) != CAIRN_OK)
			return rc;
	return CAIRN_OK;
}

cairn_status cn_decoder_open_gguf(cn_gguf *g, const char *tokenizer_path, cn_decoder_model **out, cn_err *err)
{
	*out = NULL;
	const char *path = cn_gguf_path(g);
	cn_decoder_model *m = cn_calloc(1, sizeof(*m));
	if (!m) {
		cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		cn_gguf_close(g); /* path is g's: the message first */
		return CAIRN_ENOMEM;
	}
	m->gguf = g;
	dl L = {.m = m, .path = path, .err = err};
	L.c = (cn_mload){.g = g, .path = path, .arch = "", .vecs = &m->vecs, .err = err};
	cairn_status rc = read_arch(&L);
	if (rc == CAIRN_OK)
		rc = read_hparams(&L);
	if (rc == CAIRN_OK)
		rc = setup_vocab(&L, tokenizer_path);
	if (rc == CAIRN_OK)
		rc = load_tensors(&L);
	if (rc != CAIRN_OK) {
		cn_decoder_close(m);
		return rc;
	}
	*out = m;
	return CAIRN_OK;
}

/* Read the weights into memory (2 MiB pages where the kernel allows) rather than map them,
 * unless the file is over half the machine's memory or CAIRN_MODEL_MMAP is set: every
 * generated token streams all of them, and from a file mapping's 4 KiB pages the kernels
 * read ~15% slower (docs/results.md#decoder-speed). A mapping stays right for models near
 * the memory size (pages come and go on demand) and for many processes sharing one file. */
static bool load_into_memory(const char *path)
{
	const char *env = getenv("CAIRN_MODEL_MMAP");
	if (env && *env && strcmp(env, "0") != 0)
		return false;
	struct stat st;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (stat(path, &st) != 0 || pages <= 0 || psz <= 0)
		return false;
	return (double)st.st_size <= 0.5 * (double)pages * (double)psz;
}

cairn_status cn_decoder_open(const char *path, const char *tokenizer_path, cn_decoder_model **out, cn_err *err)
{
	*out = NULL;
	cn_gguf *g = NULL;
	cairn_status rc = load_into_memory(path) ? cn_gguf_load(path, &g, err) : cn_gguf_open(path, &g, err);
	return rc == CAIRN_OK ? cn_decoder_open_gguf(g, tokenizer_path, out, err) : rc;
}

void cn_decoder_close(cn_decoder_model *m)
{
	if (!m)
		return;
	cn_vecset_free(&m->vecs);
	cn_free(m->layers);
	cn_vocab_free(m->vocab);
	cn_gguf_close(m->gguf);
	cn_free(m);
}

const cn_decoder_hparams *cn_decoder_hparams_get(const cn_decoder_model *m) { return &m->hp; }

const cn_vocab *cn_decoder_vocab(const cn_decoder_model *m) { return m->vocab; }

static double wbytes(const cn_weight *w) { return (double)w->rows * (double)w->row_bytes; }

double cn_decoder_weight_bytes(const cn_decoder_model *m)
{
	double b = wbytes(&m->output) + (double)m->tok_embd.row_bytes;
	for (int64_t il = 0; il < m->hp.n_layer; il++) {
		const cn_dec_layer *ly = &m->layers[il];
		b += wbytes(&ly->wq) + wbytes(&ly->wk) + wbytes(&ly->wv) + wbytes(&ly->wo) + wbytes(&ly->gate) +
		     wbytes(&ly->up) + wbytes(&ly->down);
	}
	return b;
}
