/*
 * convert.c — cairn_model_convert: any model file cairn reads (above all a llama2.c
 * checkpoint, through the gguf view that already names and shapes its tensors as llama.cpp's
 * converter does) written out as a GGUF file, with a tokenizer file's vocabulary as the
 * tokenizer.ggml.* keys.
 *
 * The converter is "write this view to a file": every key/value and tensor the view exposes
 * is copied, so what cairn runs from the .bin and from the converted .gguf is the same by
 * construction, and the tokenizer keys are those convert-llama2c-to-ggml writes (model
 * "llama", tokens, scores, token_type, the special ids). Matrices may be re-encoded as F16 or
 * Q8_0 (1-D tensors stay F32, as llama.cpp keeps norms; a matrix whose rows are not whole
 * Q8_0 blocks falls back to F16).
 */
#include "cairn.h"
#include "gguf/gguf.h"
#include "kern/kern.h"
#include "vocab/vocab.h"

#include <string.h>

static void copy_err(const cn_err *err, char *errbuf, size_t errbuf_size)
{
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err->msg);
}

/* GGUF token_type for cn_vocab attribute bits (the inverse of cn_vocab_attr_from_gguf_type). */
static int32_t gguf_token_type(uint32_t attr)
{
	if (attr & CN_TOKEN_UNKNOWN)
		return 2;
	if (attr & CN_TOKEN_CONTROL)
		return 3;
	if (attr & CN_TOKEN_USER_DEFINED)
		return 4;
	if (attr & CN_TOKEN_UNUSED)
		return 5;
	if (attr & CN_TOKEN_BYTE)
		return 6;
	return 1;
}

typedef struct conv {
	cn_gguf_writer *w;
	cn_err *err;
	cairn_status rc;
} conv;

static void kv(conv *c, const char *key, cn_gguf_value v)
{
	if (!c->rc)
		c->rc = cn_gguf_writer_add_kv(c->w, key, &v, c->err);
}

static void kv_u32(conv *c, const char *key, int64_t v)
{
	if (v >= 0)
		kv(c, key, (cn_gguf_value){.type = CN_GGUF_U32, .v.u64 = (uint64_t)v});
}

cairn_status cairn_model_convert(const char *in_path, const char *tokenizer_path, const char *out_path,
                                 const char *type, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	cn_ggml_type want = CN_GGML_F32;
	if (!in_path || !out_path) {
		cn_err_set(&err, CAIRN_EINVAL, "convert: input and output paths are required");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	if (type && !strcmp(type, "f16"))
		want = CN_GGML_F16;
	else if (type && !strcmp(type, "q8_0"))
		want = CN_GGML_Q8_0;
	else if (type && strcmp(type, "f32") != 0) {
		cn_err_set(&err, CAIRN_EINVAL, "convert: type '%s' is not one of f32, f16, q8_0", type);
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cn_gguf *g = NULL;
	cn_vocab *v = NULL;
	conv c = {NULL, &err, CAIRN_OK};
	void **bufs = NULL;
	size_t n_bufs = 0, cap_bufs = 0;
	cn_gguf_str *tok_strs = NULL;
	float *scores = NULL;
	int32_t *types = NULL;
	float *row = NULL;
	c.rc = cn_gguf_open(in_path, &g, &err);
	if (!c.rc && tokenizer_path)
		c.rc = cn_vocab_load(tokenizer_path, NULL, &v, &err);
	if (!c.rc)
		c.rc = cn_gguf_writer_new(&c.w, &err);
	/* the view's metadata, except keys the writer sets or the tokenizer replaces */
	for (size_t i = 0; !c.rc && i < cn_gguf_kv_count(g); i++) {
		const cn_gguf_kv *k = cn_gguf_kv_at(g, i);
		/* keys in a GGUF are length-counted; the view's synthesised ones are NUL-terminated
		 * literals, and a GGUF's are followed by their value: copy them to be safe */
		char *key = cn_strndup(k->key.ptr, (size_t)k->key.len);
		if (!key || CN_GROW(bufs, cap_bufs, n_bufs + 1)) {
			cn_free(key);
			c.rc = cn_err_set(&err, CAIRN_ENOMEM, "convert: out of memory");
			break;
		}
		bufs[n_bufs++] = key;
		if (!strcmp(key, "general.alignment") || (v && !strncmp(key, "tokenizer.", 10)))
			continue;
		kv(&c, key, k->value);
	}
	if (!c.rc && v) {
		cn_vocab_info vi;
		cn_vocab_get_info(v, &vi);
		size_t n = vi.n_tokens;
		tok_strs = cn_calloc(n ? n : 1, sizeof(*tok_strs));
		scores = cn_calloc(n ? n : 1, sizeof(*scores));
		types = cn_calloc(n ? n : 1, sizeof(*types));
		if (!tok_strs || !scores || !types)
			c.rc = cn_err_set(&err, CAIRN_ENOMEM, "convert: out of memory");
		for (size_t i = 0; !c.rc && i < n; i++) {
			size_t len = 0;
			tok_strs[i].ptr = cn_vocab_token_text(v, (int32_t)i, &len);
			tok_strs[i].len = len;
			scores[i] = cn_vocab_token_score(v, (int32_t)i);
			types[i] = gguf_token_type(cn_vocab_token_attr(v, (int32_t)i));
		}
		const char *model = vi.kind == CN_VOCAB_SPM ? "llama" : vi.kind == CN_VOCAB_BPE ? "gpt2"
		                  : vi.kind == CN_VOCAB_UGM ? "t5" : "bert";
		kv(&c, "tokenizer.ggml.model", (cn_gguf_value){.type = CN_GGUF_STRING, .v.str = {model, strlen(model)}});
		if (vi.pre && *vi.pre)
			kv(&c, "tokenizer.ggml.pre", (cn_gguf_value){.type = CN_GGUF_STRING, .v.str = {vi.pre, strlen(vi.pre)}});
		kv(&c, "tokenizer.ggml.tokens",
		   (cn_gguf_value){.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_STRING, n, tok_strs}});
		kv(&c, "tokenizer.ggml.scores", (cn_gguf_value){.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_F32, n, scores}});
		kv(&c, "tokenizer.ggml.token_type",
		   (cn_gguf_value){.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_I32, n, types}});
		kv_u32(&c, "tokenizer.ggml.bos_token_id", vi.bos);
		kv_u32(&c, "tokenizer.ggml.eos_token_id", vi.eos);
		kv_u32(&c, "tokenizer.ggml.unknown_token_id", vi.unk);
		kv(&c, "tokenizer.ggml.add_bos_token", (cn_gguf_value){.type = CN_GGUF_BOOL, .v.b = vi.add_bos});
		kv(&c, "tokenizer.ggml.add_eos_token", (cn_gguf_value){.type = CN_GGUF_BOOL, .v.b = vi.add_eos});
	}
	if (!c.rc && want != CN_GGML_F32) {
		uint32_t ft = want == CN_GGML_F16 ? 1 : 7; /* llama_ftype: MOSTLY_F16, MOSTLY_Q8_0 */
		if (!cn_gguf_find(g, "general.file_type"))
			kv_u32(&c, "general.file_type", ft);
	}
	for (size_t i = 0; !c.rc && i < cn_gguf_tensor_count(g); i++) {
		const cn_gguf_tensor *t = cn_gguf_tensor_at(g, i);
		char *name = cn_strndup(t->name.ptr, (size_t)t->name.len);
		if (!name || CN_GROW(bufs, cap_bufs, n_bufs + 1)) {
			cn_free(name);
			c.rc = cn_err_set(&err, CAIRN_ENOMEM, "convert: out of memory");
			break;
		}
		bufs[n_bufs++] = name;
		cn_ggml_type to = want;
		if (t->type != CN_GGML_F32 || t->n_dims < 2)
			to = t->type; /* 1-D stays F32; already-encoded tensors are copied as they are */
		if (to == CN_GGML_Q8_0 && t->ne[0] % 32 != 0)
			to = CN_GGML_F16;
		if (to == t->type) {
			c.rc = cn_gguf_writer_add_tensor(c.w, name, t->n_dims, t->ne, t->type, t->data, t->nbytes, &err);
			continue;
		}
		uint64_t rows = t->nbytes / 4 / (uint64_t)t->ne[0], rb;
		if (!cn_ggml_row_bytes(to, (uint64_t)t->ne[0], &rb)) {
			c.rc = cn_err_set(&err, CAIRN_EINTERNAL, "convert: %s: cannot size a row", name);
			break;
		}
		void *dst = cn_malloc((size_t)(rb * rows));
		float *tmp = cn_realloc(row, (size_t)t->ne[0] * sizeof(float));
		if (tmp)
			row = tmp;
		if (!dst || !tmp || CN_GROW(bufs, cap_bufs, n_bufs + 1)) {
			cn_free(dst);
			c.rc = cn_err_set(&err, CAIRN_ENOMEM, "convert: %s: out of memory", name);
			break;
		}
		bufs[n_bufs++] = dst;
		for (uint64_t r = 0; r < rows; r++) {
			memcpy(row, (const char *)t->data + r * (uint64_t)t->ne[0] * 4, (size_t)t->ne[0] * 4);
			cn_quantize_row(to, row, (char *)dst + r * rb, t->ne[0]);
		}
		c.rc = cn_gguf_writer_add_tensor(c.w, name, t->n_dims, t->ne, to, dst, rb * rows, &err);
	}
	if (!c.rc)
		c.rc = cn_gguf_writer_write(c.w, out_path, &err);
	cn_gguf_writer_free(c.w);
	for (size_t i = 0; i < n_bufs; i++)
		cn_free(bufs[i]);
	cn_free(bufs);
	cn_free(tok_strs);
	cn_free(scores);
	cn_free(types);
	cn_free(row);
	cn_vocab_free(v);
	cn_gguf_close(g);
	if (c.rc)
		copy_err(&err, errbuf, errbuf_size);
	return c.rc;
}
