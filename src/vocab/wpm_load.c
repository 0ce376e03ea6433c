/*
 * wpm_load.c — WordPiece vocabularies from BERT's `vocab.txt` and from Hugging Face
 * `tokenizer.json` (model.type "WordPiece"), both rewritten into GGUF's convention.
 *
 * Design:
 *  - Both loaders apply llama.cpp's conversion (convert_hf_to_gguf.py, BertModel): texts in
 *    square brackets stay as they are, a continuing-subword prefix ("##") is removed, every
 *    other token gets a U+2581 prefix. So a vocab.txt, its tokenizer.json and the GGUF made
 *    from them build the same token table, and wpm.c knows one convention.
 *  - vocab.txt carries no metadata; the files a Hugging Face save puts beside it
 *    (tokenizer_config.json, special_tokens_map.json) name the special tokens and say
 *    whether the model is uncased. Absent, BertTokenizer's defaults apply ([UNK] [CLS]
 *    [SEP] [PAD] [MASK], do_lower_case true). Special tokens are CONTROL, like the GGUF
 *    conversion marks them.
 *  - Normalizer settings the spec cannot carry (strip_accents different from lowercase,
 *    no CJK spacing, no text cleaning, a word limit other than 100) are refused with a
 *    message rather than tokenized slightly wrong.
 */
#include <string.h>

#include "vocab/vocab_int.h"

#define WPM_PHANTOM "\xE2\x96\x81"

typedef struct wpm_opts {
	bool lowercase;
	int strip_accents; /* -1 = as lowercase */
	bool chinese;
	bool clean;
	bool basic;        /* do_basic_tokenize */
	int64_t max_chars;
	/* special token texts, NUL-terminated, owned */
	char *unk, *cls, *sep, *pad, *mask;
} wpm_opts;

static void opts_init(wpm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lowercase = true;
	o->strip_accents = -1;
	o->chinese = true;
	o->clean = true;
	o->basic = true;
	o->max_chars = 100;
}

static void opts_free(wpm_opts *o)
{
	cn_free(o->unk);
	cn_free(o->cls);
	cn_free(o->sep);
	cn_free(o->pad);
	cn_free(o->mask);
}

/* The settings wpm.c can follow; anything else is refused (see the file comment). */
static cairn_status opts_check(const wpm_opts *o, const char *name, cn_err *err)
{
	if (!o->basic)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: WordPiece without the basic tokenizer is not supported", name);
	if (o->max_chars < 1 || o->max_chars > 100000)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: max_input_chars_per_word=%lld is out of range (1..100000)",
		                  name, (long long)o->max_chars);
	return CAIRN_OK;
}

/* A special token given as "[UNK]" or as {"content": "[UNK]", ...}. */
static const char *json_token_text(const json_t *j)
{
	if (json_is_string(j))
		return json_string_value(j);
	if (json_is_object(j)) {
		const json_t *c = json_object_get(j, "content");
		if (json_is_string(c))
			return json_string_value(c);
	}
	return NULL;
}

static cairn_status set_text(char **dst, const json_t *j)
{
	const char *s = json_token_text(j);
	if (!s)
		return CAIRN_OK;
	char *d = cn_strdup(s);
	if (!d)
		return CAIRN_ENOMEM;
	cn_free(*dst);
	*dst = d;
	return CAIRN_OK;
}

static cairn_status opts_from_json(wpm_opts *o, const json_t *root)
{
	const json_t *j;
	if (json_is_boolean(j = json_object_get(root, "do_lower_case")))
		o->lowercase = json_is_true(j);
	if (json_is_boolean(j = json_object_get(root, "strip_accents")))
		o->strip_accents = json_is_true(j);
	if (json_is_boolean(j = json_object_get(root, "tokenize_chinese_chars")))
		o->chinese = json_is_true(j);
	if (json_is_boolean(j = json_object_get(root, "do_basic_tokenize")))
		o->basic = json_is_true(j);
	cairn_status st = CAIRN_OK;
	if (!st) st = set_text(&o->unk, json_object_get(root, "unk_token"));
	if (!st) st = set_text(&o->cls, json_object_get(root, "cls_token"));
	if (!st) st = set_text(&o->sep, json_object_get(root, "sep_token"));
	if (!st) st = set_text(&o->pad, json_object_get(root, "pad_token"));
	if (!st) st = set_text(&o->mask, json_object_get(root, "mask_token"));
	return st;
}

/* path with its last component replaced by file, in a cn_malloc'd string. */
static char *sibling_path(const char *path, const char *file)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t flen = strlen(file);
	char *p = cn_malloc(dlen + flen + 1);
	if (!p)
		return NULL;
	memcpy(p, path, dlen);
	memcpy(p + dlen, file, flen + 1);
	return p;
}

/* Reads a companion JSON file when it exists; *root stays NULL when it does not. */
static cairn_status read_companion(const char *path, const char *file, json_t **root, cn_err *err)
{
	*root = NULL;
	char *p = sibling_path(path, file);
	if (!p)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	if (!cn_path_exists(p)) {
		cn_free(p);
		return CAIRN_OK;
	}
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(p, 1u << 22, &data, &len, err);
	if (st) {
		cn_free(p);
		return st;
	}
	json_error_t je;
	*root = json_loadb(data, len, 0, &je);
	cn_free(data);
	if (!*root || !json_is_object(*root)) {
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: not a JSON object (%s, line %d)", p,
		                *root ? "wrong type" : je.text, je.line);
		json_decref(*root);
		*root = NULL;
	}
	cn_free(p);
	return st;
}

/* llama.cpp's rewrite of one Hugging Face WordPiece token into GGUF's convention. */
static cairn_status phantom(cn_arena *arena, const char *t, size_t n, const char *prefix, size_t plen,
                            cn_gguf_str *out)
{
	if (n >= 2 && t[0] == '[' && t[n - 1] == ']') {
		out->ptr = t;
		out->len = n;
		return CAIRN_OK;
	}
	if (plen && n > plen && memcmp(t, prefix, plen) == 0) {
		out->ptr = t + plen;
		out->len = n - plen;
		return CAIRN_OK;
	}
	if (plen && n == plen && memcmp(t, prefix, plen) == 0) {
		/* the bare prefix: no piece can ever match it; keep its text so it is not empty */
		out->ptr = t;
		out->len = n;
		return CAIRN_OK;
	}
	char *s = cn_arena_alloc(arena, n + 4);
	if (!s)
		return CAIRN_ENOMEM;
	memcpy(s, WPM_PHANTOM, 3);
	memcpy(s + 3, t, n);
	s[n + 3] = 0;
	out->ptr = s;
	out->len = n + 3;
	return CAIRN_OK;
}

/* Id of the token whose Hugging Face text is s, or -1 (first occurrence). */
static int32_t find_hf(char *const *hf, const uint32_t *hflen, uint32_t n, const char *s)
{
	if (!s)
		return -1;
	size_t l = strlen(s);
	for (uint32_t i = 0; i < n; i++)
		if (hf[i] && hflen[i] == l && memcmp(hf[i], s, l) == 0)
			return (int32_t)i;
	return -1;
}

static void mark_control(uint32_t *attrs, int32_t id)
{
	if (id >= 0)
		attrs[id] = CN_TOKEN_CONTROL;
}

cairn_status cn_vocab_load_vocab_txt(const char *path, const uint8_t *data, size_t len,
                                     cn_vocab **out, cn_err *err)
{
	*out = NULL;
	if (!len)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: empty vocabulary file", path);
	/* One token per line ("\n" or "\r\n"); id = line number. */
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	if (data[len - 1] != '\n')
		n++;
	if (n > UINT32_MAX - 1)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: too many lines", path);

	wpm_opts o;
	opts_init(&o);
	cn_arena arena;
	cn_arena_init(&arena, 1u << 16);
	cn_gguf_str *toks = cn_calloc(n, sizeof(*toks));
	uint32_t *attrs = cn_calloc(n, sizeof(*attrs));
	char **hf = cn_calloc(n, sizeof(*hf));
	uint32_t *hflen = cn_calloc(n, sizeof(*hflen));
	json_t *cfg = NULL, *map = NULL;
	cairn_status st = CAIRN_OK;
	if (!toks || !attrs || !hf || !hflen) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	/* tokenizer_config.json first, special_tokens_map.json overrides the token names */
	if ((st = read_companion(path, "tokenizer_config.json", &cfg, err)))
		goto done;
	if ((st = read_companion(path, "special_tokens_map.json", &map, err)))
		goto done;
	if ((cfg && (st = opts_from_json(&o, cfg))) || (map && (st = opts_from_json(&o, map)))) {
		st = cn_err_set(err, st, "%s: out of memory", path);
		goto done;
	}
	if ((st = opts_check(&o, path, err)))
		goto done;

	size_t line = 0, start = 0;
	for (size_t i = 0; i <= len && line < n; i++) {
		if (i < len && data[i] != '\n')
			continue;
		size_t e = i;
		if (e > start && data[e - 1] == '\r')
			e--;
		const char *t = (const char *)data + start;
		hf[line] = (char *)t;
		hflen[line] = (uint32_t)CN_MIN(e - start, (size_t)UINT32_MAX);
		if ((st = phantom(&arena, t, e - start, "##", 2, &toks[line]))) {
			st = cn_err_set(err, st, "%s: out of memory", path);
			goto done;
		}
		attrs[line] = CN_TOKEN_NORMAL;
		line++;
		start = i + 1;
	}

	cn_vocab_spec spec;
	cn_vocab_spec_init(&spec);
	spec.name = path;
	spec.kind = CN_VOCAB_WPM;
	spec.n_tokens = (uint32_t)n;
	spec.tokens = toks;
	spec.attrs = attrs;
	spec.lowercase = o.lowercase;
	spec.wpm_strip_accents = o.strip_accents;
	spec.wpm_clean_text = o.clean;
	spec.wpm_chinese_chars = o.chinese;
	spec.wpm_max_chars = (uint32_t)o.max_chars;
	spec.unk = find_hf(hf, hflen, (uint32_t)n, o.unk ? o.unk : "[UNK]");
	spec.cls = find_hf(hf, hflen, (uint32_t)n, o.cls ? o.cls : "[CLS]");
	spec.sep = find_hf(hf, hflen, (uint32_t)n, o.sep ? o.sep : "[SEP]");
	spec.pad = find_hf(hf, hflen, (uint32_t)n, o.pad ? o.pad : "[PAD]");
	spec.mask = find_hf(hf, hflen, (uint32_t)n, o.mask ? o.mask : "[MASK]");
	if (spec.unk < 0) {
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: no unknown token \"%s\" in the vocabulary", path,
		                o.unk ? o.unk : "[UNK]");
		goto done;
	}
	mark_control(attrs, spec.unk);
	mark_control(attrs, spec.cls);
	mark_control(attrs, spec.sep);
	mark_control(attrs, spec.pad);
	mark_control(attrs, spec.mask);
	st = cn_vocab_build(&spec, out, err);
done:
	json_decref(cfg);
	json_decref(map);
	opts_free(&o);
	cn_free(toks);
	cn_free(attrs);
	cn_free(hf);
	cn_free(hflen);
	cn_arena_free(&arena);
	return st;
}

/* ---- tokenizer.json ------------------------------------------------------------------- */

static bool json_flag(const json_t *obj, const char *key, bool dflt)
{
	const json_t *j = json_object_get(obj, key);
	return json_is_boolean(j) ? json_is_true(j) : dflt;
}

cairn_status cn_tokjson_wordpiece(const cn_tokjson *tj, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	const char *path = tj->path;
	const json_t *model = tj->model;
	const json_t *vocab = json_object_get(model, "vocab");
	if (!json_is_object(vocab))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: model.vocab is not an object", path);

	wpm_opts o;
	opts_init(&o);
	const json_t *norm = json_object_get(tj->root, "normalizer");
	const char *ntype = json_string_value(json_object_get(norm, "type"));
	if (!ntype || strcmp(ntype, "BertNormalizer") != 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: WordPiece with normalizer \"%s\" is not supported (only BertNormalizer)",
		                  path, ntype ? ntype : "none");
	o.lowercase = json_flag(norm, "lowercase", true);
	const json_t *sa = json_object_get(norm, "strip_accents");
	if (json_is_boolean(sa))
		o.strip_accents = json_is_true(sa);
	o.chinese = json_flag(norm, "handle_chinese_chars", true);
	o.clean = json_flag(norm, "clean_text", true);
	const json_t *pre = json_object_get(tj->root, "pre_tokenizer");
	const char *ptype = json_string_value(json_object_get(pre, "type"));
	if (!ptype || strcmp(ptype, "BertPreTokenizer") != 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: WordPiece with pre_tokenizer \"%s\" is not supported (only BertPreTokenizer)",
		                  path, ptype ? ptype : "none");
	const json_t *mc = json_object_get(model, "max_input_chars_per_word");
	if (mc && !json_is_null(mc)) {
		if (!json_is_integer(mc))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: model.max_input_chars_per_word is not an integer", path);
		o.max_chars = json_integer_value(mc);
	}
	cairn_status st = opts_check(&o, path, err);
	if (st)
		return st;
	const json_t *uj = json_object_get(model, "unk_token");
	const char *unk = json_is_string(uj) ? json_string_value(uj) : "[UNK]";
	const json_t *pj = json_object_get(model, "continuing_subword_prefix");
	const char *prefix = json_is_string(pj) ? json_string_value(pj) : "##";
	size_t plen = strlen(prefix);
	if (!plen)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: WordPiece with an empty continuing_subword_prefix is not supported", path);

	/* Ids must be dense up to a bounded number of holes (filled with unused tokens). */
	size_t count = json_object_size(vocab);
	int64_t max_id = -1;
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)vocab, key, val) {
		if (!json_is_integer(val) || json_integer_value(val) < 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: model.vocab[\"%.40s\"] is not a token id", path, key);
		int64_t id = json_integer_value(val);
		if (id >= (int64_t)count + 65536 || id >= INT32_MAX)
			return cn_err_set(err, CAIRN_EFORMAT,
			                  "%s: model.vocab[\"%.40s\"] = %lld is far beyond the %zu entries", path,
			                  key, (long long)id, count);
		if (id > max_id)
			max_id = id;
	}
	uint32_t n = (uint32_t)(max_id + 1);
	cn_arena arena;
	cn_arena_init(&arena, 1u << 16);
	cn_gguf_str *toks = cn_calloc(n ? n : 1, sizeof(*toks));
	uint32_t *attrs = cn_calloc(n ? n : 1, sizeof(*attrs));
	int32_t unk_id = -1;
	if (!toks || !attrs) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	json_object_foreach((json_t *)vocab, key, val) {
		uint32_t id = (uint32_t)json_integer_value(val);
		if (toks[id].ptr) {
			st = cn_err_set(err, CAIRN_EFORMAT, "%s: token id %u appears twice in model.vocab", path, id);
			goto done;
		}
		size_t klen = strlen(key);
		if ((st = phantom(&arena, key, klen, prefix, plen, &toks[id]))) {
			st = cn_err_set(err, st, "%s: out of memory", path);
			goto done;
		}
		attrs[id] = CN_TOKEN_NORMAL;
		if (strcmp(key, unk) == 0)
			unk_id = (int32_t)id;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (toks[i].ptr)
			continue;
		char tmp[32];
		int l = snprintf(tmp, sizeof(tmp), "[PAD%u]", i);
		char *s = cn_arena_strndup(&arena, tmp, (size_t)l);
		if (!s) {
			st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
			goto done;
		}
		toks[i].ptr = s;
		toks[i].len = (uint64_t)l;
		attrs[i] = CN_TOKEN_UNUSED;
	}
	if (unk_id < 0) {
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: unk_token \"%s\" is not in model.vocab", path, unk);
		goto done;
	}
	if ((st = cn_tokjson_merge_added(tj, &arena, &toks, &attrs, NULL, &n, err)))
		goto done;

	cn_vocab_spec spec;
	cn_vocab_spec_init(&spec);
	spec.name = path;
	spec.kind = CN_VOCAB_WPM;
	spec.n_tokens = n;
	spec.tokens = toks;
	spec.attrs = attrs;
	spec.lowercase = o.lowercase;
	spec.wpm_strip_accents = o.strip_accents;
	spec.wpm_clean_text = o.clean;
	spec.wpm_chinese_chars = o.chinese;
	spec.wpm_max_chars = (uint32_t)o.max_chars;
	spec.unk = unk_id;
	spec.cls = tj->prefix_id;
	spec.sep = tj->suffix_id;
	if (tj->prefix_id < 0 && tj->suffix_id < 0) { /* no post-processor: nothing is added */
		spec.add_bos = 0;
		spec.add_eos = 0;
	}
	/* pad and mask are not part of tokenization; name them when the usual texts exist */
	for (uint32_t i = 0; i < n; i++) {
		if (toks[i].len == 5 && memcmp(toks[i].ptr, "[PAD]", 5) == 0 && spec.pad < 0)
			spec.pad = (int32_t)i;
		if (toks[i].len == 6 && memcmp(toks[i].ptr, "[MASK]", 6) == 0 && spec.mask < 0)
			spec.mask = (int32_t)i;
	}
	st = cn_vocab_build(&spec, out, err);
done:
	cn_free(toks);
	cn_free(attrs);
	cn_arena_free(&arena);
	return st;
}
