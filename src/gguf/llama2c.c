/*
 * llama2c.c — llama2.c checkpoints presented as if they were GGUF conversions.
 *
 * Two layouts (karpathy/llama2.c export.py, run.c), all float32 little-endian:
 *
 *  legacy (version 0, no magic; what run.c reads):
 *    i32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len   (28 bytes)
 *    token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
 *    wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
 *    w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
 *    freq_cis_real [seq_len, head_size/2], freq_cis_imag [seq_len, head_size/2],
 *    wcls [vocab, dim] only when vocab_size < 0 (the classifier is not shared).
 *
 *  version 1 ("ak42" export): u32 magic 0x616b3432, i32 version = 1, the same 7 i32, u8
 *    shared_classifier, zero padding to 256 bytes; then rms_att [L, dim], rms_ffn [L, dim],
 *    rms_final [dim], token_embedding [vocab, dim], wq, wk, wv, wo, w1, w2, w3 (each [L, …] as
 *    above), and wcls [vocab, dim] when not shared. No freq_cis.
 *  Version 2 (int8 Q8_0-style groups with per-group f32 scales) is rejected: its group layout
 *  is not a ggml type.
 *
 * The legacy layout has no magic, so the header must be plausible (every field positive,
 * heads dividing dim, kv heads dividing heads, an even head size) and the file size must
 * equal exactly what the header implies; that makes a random file very unlikely to pass.
 *
 * The view: tensors named and shaped as llama.cpp's GGUF (ne[0] innermost: a [rows, cols]
 * row-major matrix has ne = {cols, rows}); output.weight points at the embedding when the
 * classifier is shared. freq_cis is not exposed (RoPE is recomputed from the dimensions).
 * Metadata is synthesised: general.architecture, general.name (the file's base name without
 * extension) and the llama.* hyper-parameters a conversion would carry; rms epsilon is 1e-5,
 * llama2.c's constant. The alignment reported is 4 (the floats are 4-byte aligned).
 */
#include "gguf/gguf_int.h"

#include <string.h>

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

typedef struct l2c_cfg {
	int64_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
	bool shared;
} l2c_cfg;

/* Checked a*b and a+b on u64; the flag goes sticky on overflow. */
static uint64_t mul(uint64_t a, uint64_t b, bool *ovf)
{
	uint64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		*ovf = true;
	return r;
}
static uint64_t add(uint64_t a, uint64_t b, bool *ovf)
{
	uint64_t r;
	if (__builtin_add_overflow(a, b, &r))
		*ovf = true;
	return r;
}

typedef struct l2c_build {
	cn_gguf *g;
	uint64_t pos;   /* next float's byte offset */
	bool ovf;
	char *names;    /* arena block holding generated tensor names */
	size_t names_used, names_cap;
} l2c_build;

/* "blk.<layer>.<what>.weight", or "<what>" when layer < 0; names_cap leaves 48 bytes a name. */
static cn_gguf_str name_of(l2c_build *b, int64_t layer, const char *what)
{
	char *dst = b->names + b->names_used;
	size_t room = b->names_cap - b->names_used;
	int n = layer >= 0 ? snprintf(dst, room, "blk.%lld.%s.weight", (long long)layer, what)
	                   : snprintf(dst, room, "%s", what);
	size_t len = n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
	b->names_used += len + 1;
	return (cn_gguf_str){dst, len};
}

/* Adds tensor [rows, cols] (cols innermost) at byte offset off. rows 1 = a vector. */
static void add_tensor(l2c_build *b, cn_gguf_str name, uint64_t off, int64_t cols, int64_t rows)
{
	cn_gguf_tensor *t = &b->g->tensors[b->g->n_tensors++];
	t->name = name;
	t->n_dims = rows > 1 ? 2 : 1;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->type = CN_GGML_F32;
	t->offset = off;
	t->nbytes = (uint64_t)cols * (uint64_t)rows * 4;
	t->data = b->g->data + off;
}

/* Reserves a stack of L tensors [rows, cols]; returns its first byte. */
static uint64_t take(l2c_build *b, uint64_t count, uint64_t rows, uint64_t cols)
{
	uint64_t at = b->pos;
	b->pos = add(b->pos, mul(mul(mul(count, rows, &b->ovf), cols, &b->ovf), 4, &b->ovf), &b->ovf);
	return at;
}

static void add_kv_u32(cn_gguf *g, const char *key, uint64_t v)
{
	cn_gguf_kv *kv = &g->kvs[g->n_kv++];
	kv->key = (cn_gguf_str){key, strlen(key)};
	kv->value.type = CN_GGUF_U32;
	kv->value.v.u64 = v;
}

static void add_kv_str(cn_gguf *g, const char *key, const char *s, size_t len)
{
	cn_gguf_kv *kv = &g->kvs[g->n_kv++];
	kv->key = (cn_gguf_str){key, strlen(key)};
	kv->value.type = CN_GGUF_STRING;
	kv->value.v.str = (cn_gguf_str){s, len};
}

/* Checks the header fields; what names the layout for messages. */
static cairn_status check_cfg(cn_gguf *g, const char *what, const l2c_cfg *c, cn_err *err)
{
	static const char *const names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
	                                    "seq_len"};
	const int64_t vals[] = {c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab, c->seq_len};
	for (size_t i = 0; i < 7; i++)
		if (vals[i] <= 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: header field %s = %lld is not positive", g->name,
			                  what, names[i], (long long)vals[i]);
	if (c->dim % c->n_heads)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: dim %lld is not a multiple of n_heads %lld", g->name,
		                  what, (long long)c->dim, (long long)c->n_heads);
	if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: n_heads %lld is not a multiple of n_kv_heads %lld",
		                  g->name, what, (long long)c->n_heads, (long long)c->n_kv_heads);
	if ((c->dim / c->n_heads) % 2)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: head size %lld is odd", g->name, what,
		                  (long long)(c->dim / c->n_heads));
	return CAIRN_OK;
}

static int32_t load_i32(const uint8_t *p) { return (int32_t)cn_load_u32le(p); }

cairn_status cn_llama2c_parse(cn_gguf *g, cn_err *err)
{
	l2c_cfg c;
	const uint8_t *p = g->data;
	uint32_t version = 0;
	const char *what = "llama2.c checkpoint";
	char legacy_what[160];
	uint64_t header;
	if (g->size >= 8 && cn_load_u32le(p) == L2C_MAGIC) {
		int32_t v = load_i32(p + 4);
		if (v == 2)
			return cn_err_set(err, CAIRN_EUNSUPPORTED,
			                  "%s: llama2.c export version 2 (int8 groups, Q8_0-style) is not supported; "
			                  "export version 1 (float32) or convert to GGUF", g->name);
		if (v != 1)
			return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: llama2.c export version %d is not supported",
			                  g->name, v);
		if (g->size < L2C_V1_HEADER)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: llama2.c version 1 header truncated: %zu of 256 bytes",
			                  g->name, g->size);
		version = 1;
		what = "llama2.c version 1 checkpoint";
		p += 8;
		header = L2C_V1_HEADER;
	} else {
		/* no magic: either a legacy checkpoint or not a model at all; say both */
		char q[CN_GGUF_QUOTE_SIZE];
		snprintf(legacy_what, sizeof legacy_what, "not a GGUF file (magic '%s') nor a llama2.c checkpoint",
		         cn_gguf_quote(q, sizeof q, (const char *)g->data, g->size < 4 ? g->size : 4));
		what = legacy_what;
		if (g->size < 28)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: %zu bytes, too small", g->name, what, g->size);
		header = 28;
	}
	c.dim = load_i32(p);
	c.hidden = load_i32(p + 4);
	c.n_layers = load_i32(p + 8);
	c.n_heads = load_i32(p + 12);
	c.n_kv_heads = load_i32(p + 16);
	c.vocab = load_i32(p + 20);
	c.seq_len = load_i32(p + 24);
	if (version == 1) {
		c.shared = p[28] != 0;
	} else {
		c.shared = c.vocab > 0;
		if (c.vocab < 0)
			c.vocab = -c.vocab; /* int64: no overflow for INT32_MIN */
	}
	cairn_status st = check_cfg(g, what, &c, err);
	if (st)
		return st;
	g->version = 0;
	g->alignment = 4;
	g->format = CN_MODEL_LLAMA2C;

	l2c_build b = {g, header, false, NULL, 0, 0};
	uint64_t L = (uint64_t)c.n_layers, D = (uint64_t)c.dim, H = (uint64_t)c.hidden, V = (uint64_t)c.vocab;
	uint64_t KV = D / (uint64_t)c.n_heads * (uint64_t)c.n_kv_heads, HS = D / (uint64_t)c.n_heads;
	uint64_t emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls;
	if (version == 0) {
		emb = take(&b, 1, V, D);
		rms_att = take(&b, L, 1, D);
		wq = take(&b, L, D, D);
		wk = take(&b, L, KV, D);
		wv = take(&b, L, KV, D);
		wo = take(&b, L, D, D);
		rms_ffn = take(&b, L, 1, D);
		w1 = take(&b, L, H, D);
		w2 = take(&b, L, D, H);
		w3 = take(&b, L, H, D);
		rms_final = take(&b, 1, 1, D);
		(void)take(&b, 2, (uint64_t)c.seq_len, HS / 2); /* freq_cis_real, freq_cis_imag */
	} else {
		rms_att = take(&b, L, 1, D);
		rms_ffn = take(&b, L, 1, D);
		rms_final = take(&b, 1, 1, D);
		emb = take(&b, 1, V, D);
		wq = take(&b, L, D, D);
		wk = take(&b, L, KV, D);
		wv = take(&b, L, KV, D);
		wo = take(&b, L, D, D);
		w1 = take(&b, L, H, D);
		w2 = take(&b, L, D, H);
		w3 = take(&b, L, H, D);
	}
	wcls = c.shared ? emb : take(&b, 1, V, D);
	if (b.ovf)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: %s: the header's sizes overflow", g->name, what);
	if (b.pos != g->size)
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: %s: file is %zu bytes but the header (dim %lld, hidden_dim %lld, n_layers %lld, "
		                  "n_heads %lld, n_kv_heads %lld, vocab_size %lld%s, seq_len %lld) implies %llu",
		                  g->name, what, g->size, (long long)c.dim, (long long)c.hidden, (long long)c.n_layers,
		                  (long long)c.n_heads, (long long)c.n_kv_heads, (long long)c.vocab,
		                  c.shared ? "" : " unshared", (long long)c.seq_len, (unsigned long long)b.pos);

	/* The sizes match the file, so every layer holds >= 8 floats: the tables below are a small
	 * fraction of the file size, and every product below fits (each is a term of the sum just
	 * checked). 11 kvs; 3 + 9 L tensors; names under 48 bytes. */
	uint64_t n_tensors = 3 + 9 * L;
	g->kvs = cn_calloc(11, sizeof *g->kvs);
	g->tensors = cn_calloc((size_t)n_tensors, sizeof *g->tensors);
	b.names_cap = (size_t)n_tensors * 48;
	b.names = cn_arena_alloc(&g->arena, b.names_cap);
	if (!g->kvs || !g->tensors || !b.names)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", g->name);
	add_tensor(&b, name_of(&b, -1, "token_embd.weight"), emb, c.dim, c.vocab);
	add_tensor(&b, name_of(&b, -1, "output_norm.weight"), rms_final, c.dim, 1);
	add_tensor(&b, name_of(&b, -1, "output.weight"), wcls, c.dim, c.vocab);
	/* per block in the converter's order (llama.cpp convert-llama2c-to-ggml) */
	for (int64_t l = 0; l < c.n_layers; l++) {
		uint64_t ul = (uint64_t)l, vec = ul * D * 4;
		add_tensor(&b, name_of(&b, l, "attn_q"), wq + ul * D * D * 4, c.dim, c.dim);
		add_tensor(&b, name_of(&b, l, "attn_k"), wk + ul * KV * D * 4, c.dim, (int64_t)KV);
		add_tensor(&b, name_of(&b, l, "attn_v"), wv + ul * KV * D * 4, c.dim, (int64_t)KV);
		add_tensor(&b, name_of(&b, l, "attn_output"), wo + ul * D * D * 4, c.dim, c.dim);
		add_tensor(&b, name_of(&b, l, "attn_norm"), rms_att + vec, c.dim, 1);
		add_tensor(&b, name_of(&b, l, "ffn_gate"), w1 + ul * H * D * 4, c.dim, c.hidden);
		add_tensor(&b, name_of(&b, l, "ffn_down"), w2 + ul * D * H * 4, c.hidden, c.dim);
		add_tensor(&b, name_of(&b, l, "ffn_up"), w3 + ul * H * D * 4, c.dim, c.hidden);
		add_tensor(&b, name_of(&b, l, "ffn_norm"), rms_ffn + vec, c.dim, 1);
	}

	/* general.name: the base name without its extension */
	const char *base = strrchr(g->name, '/');
	base = base ? base + 1 : g->name;
	const char *dot = strrchr(base, '.');
	size_t blen = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	add_kv_str(g, "general.architecture", "llama", 5);
	add_kv_str(g, "general.name", base, blen);
	add_kv_u32(g, "llama.context_length", (uint64_t)c.seq_len);
	add_kv_u32(g, "llama.embedding_length", D);
	add_kv_u32(g, "llama.feed_forward_length", H);
	add_kv_u32(g, "llama.block_count", L);
	add_kv_u32(g, "llama.attention.head_count", (uint64_t)c.n_heads);
	add_kv_u32(g, "llama.attention.head_count_kv", (uint64_t)c.n_kv_heads);
	add_kv_u32(g, "llama.rope.dimension_count", HS);
	cn_gguf_kv *eps = &g->kvs[g->n_kv++];
	eps->key = (cn_gguf_str){"llama.attention.layer_norm_rms_epsilon", 38};
	eps->value.type = CN_GGUF_F32;
	eps->value.v.f64 = 1e-5f;
	add_kv_u32(g, "llama.vocab_size", V);

	if ((st = cn_gguf_index_kvs(g, err)))
		return st;
	return cn_gguf_index_tensors(g, err);
}
