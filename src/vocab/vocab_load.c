/*
 * vocab_load.c — which file is this, and the two formats every algorithm shares.
 *
 *  - cn_vocab_load tells the formats apart by magic first and name second (a Llama 3
 *    `tokenizer.model` is tiktoken text, a Llama 2 one is a protobuf), and hands the mapped
 *    bytes to the loader of that format. A file that is none of them gets a message that
 *    says what was expected.
 *  - GGUF's tokenizer.ggml.* keys are the neutral form (cn_vocab_spec mirrors them), so the
 *    GGUF loader is mostly type checks. Defaults for absent keys follow llama.cpp, since
 *    that is what the GGUF writers assume.
 *  - Hugging Face tokenizer.json: the parts every model type shares — added tokens with
 *    their special/lstrip/rstrip flags, the post-processor template that says which tokens
 *    frame a sequence, the normalizer's lowercase flag — are read here; the model section
 *    goes to the algorithm's own loader.
 */
#include "vocab/vocab_int.h"

#include <ctype.h>
#include <string.h>

#define VOCAB_FILE_MAX ((size_t)1 << 30)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- GGUF ------------------------------------------------------------------------------- */

static cairn_status gguf_id(const cn_gguf *g, const char *key, int32_t *id, cn_err *err)
{
	uint32_t v;
	cairn_status rc = cn_gguf_get_u32(g, key, &v, err);
	if (rc == CAIRN_ENOTFOUND)
		return CAIRN_OK;
	if (rc != CAIRN_OK)
		return rc;
	*id = v > INT32_MAX ? -1 : (int32_t)v;
	return CAIRN_OK;
}

static cairn_status gguf_flag(const cn_gguf *g, const char *key, int *flag, cn_err *err)
{
	bool b;
	cairn_status rc = cn_gguf_get_bool(g, key, &b, err);
	if (rc == CAIRN_ENOTFOUND)
		return CAIRN_OK;
	if (rc != CAIRN_OK)
		return rc;
	*flag = b;
	return CAIRN_OK;
}

static bool str_is(cn_gguf_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Models name their end-of-turn token in the chat template, not always in the metadata;
 * llama.cpp recognises these texts, and so do we when the key is absent. */
static int32_t find_eot(const cn_vocab_spec *s)
{
	static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	                                    "<EOT>", "<|end_of_turn|>", "<｜end▁of▁sentence｜>"};
	for (size_t k = 0; k < CN_ARRAY_LEN(names); k++)
		for (uint32_t i = 0; i < s->n_tokens; i++)
			if (str_is(s->tokens[i], names[k]) && (int32_t)i != s->eos)
				return (int32_t)i;
	return -1;
}

cairn_status cn_vocab_from_gguf(const cn_gguf *g, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	const char *name = cn_gguf_path(g);
	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = name;

	cn_gguf_str model;
	cairn_status rc = cn_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
	if (rc == CAIRN_ENOTFOUND)
		return cn_err_set(err, CAIRN_ENOTFOUND, "%s: no tokenizer in this model file (tokenizer.ggml.model is missing)", name);
	if (rc != CAIRN_OK)
		return rc;
	if (str_is(model, "llama"))
		s.kind = CN_VOCAB_SPM;
	else if (str_is(model, "gpt2"))
		s.kind = CN_VOCAB_BPE;
	else if (str_is(model, "bert"))
		s.kind = CN_VOCAB_WPM;
	else if (str_is(model, "t5"))
		s.kind = CN_VOCAB_UGM;
	else if (str_is(model, "no_vocab") || str_is(model, "none"))
		return cn_err_set(err, CAIRN_ENOTFOUND, "%s: the model file carries no vocabulary (tokenizer.ggml.model = \"%.*s\")",
		                  name, (int)model.len, model.ptr);
	else
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: tokenizer.ggml.model \"%.*s\" is not supported (cairn reads llama, gpt2, bert and t5)",
		                  name, (int)CN_MIN(model.len, 64), model.ptr);

	char pre[64] = "";
	cn_gguf_str pre_s;
	rc = cn_gguf_get_str(g, "tokenizer.ggml.pre", &pre_s, err);
	if (rc == CAIRN_OK) {
		if (pre_s.len >= sizeof(pre))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.pre is %llu bytes long", name,
			                  (unsigned long long)pre_s.len);
		memcpy(pre, pre_s.ptr, pre_s.len);
		pre[pre_s.len] = '\0';
	} else if (rc != CAIRN_ENOTFOUND) {
		return rc;
	}
	s.pre = pre[0] ? pre : NULL;

	const cn_gguf_array *tokens = NULL, *scores = NULL, *types = NULL, *merges = NULL, *charsmap = NULL;
	rc = cn_gguf_get_arr(g, "tokenizer.ggml.tokens", CN_GGUF_STRING, &tokens, err);
	if (rc == CAIRN_ENOTFOUND)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.tokens is missing", name);
	if (rc != CAIRN_OK)
		return rc;
	if (tokens->n == 0 || tokens->n > (1u << 24))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.tokens has %llu entries", name,
		                  (unsigned long long)tokens->n);
	s.n_tokens = (uint32_t)tokens->n;
	s.tokens = tokens->data;

	rc = cn_gguf_get_arr(g, "tokenizer.ggml.scores", CN_GGUF_VTYPE_COUNT, &scores, err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	rc = cn_gguf_get_arr(g, "tokenizer.ggml.token_type", CN_GGUF_VTYPE_COUNT, &types, err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	rc = cn_gguf_get_arr(g, "tokenizer.ggml.merges", CN_GGUF_STRING, &merges, err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	rc = cn_gguf_get_arr(g, "tokenizer.ggml.precompiled_charsmap", CN_GGUF_VTYPE_COUNT, &charsmap, err);
	if (rc != CAIRN_OK && rc != CAIRN_ENOTFOUND)
		return rc;
	if (scores && (scores->n != tokens->n || (scores->type != CN_GGUF_F32 && scores->type != CN_GGUF_F64)))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.scores has %llu %s values for %llu tokens", name,
		                  (unsigned long long)scores->n, cn_gguf_vtype_name(scores->type), (unsigned long long)tokens->n);
	if (types && (types->n != tokens->n || types->type == CN_GGUF_F32 || types->type == CN_GGUF_F64 ||
	              types->type == CN_GGUF_STRING || types->type == CN_GGUF_ARRAY || types->type == CN_GGUF_BOOL))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.token_type has %llu %s values for %llu tokens", name,
		                  (unsigned long long)types->n, cn_gguf_vtype_name(types->type), (unsigned long long)tokens->n);
	if (charsmap && charsmap->type != CN_GGUF_U8 && charsmap->type != CN_GGUF_I8)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.precompiled_charsmap is an array of %s, not bytes", name,
		                  cn_gguf_vtype_name(charsmap->type));
	if (merges) {
		if (merges->n > (1u << 24))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: tokenizer.ggml.merges has %llu entries", name,
			                  (unsigned long long)merges->n);
		s.n_merges = (uint32_t)merges->n;
		s.merges = merges->data;
	}
	if (charsmap) {
		s.charsmap = charsmap->data;
		s.charsmap_len = (size_t)charsmap->n;
	}

	/* llama.cpp's defaults for files that predate the keys. */
	if (s.kind == CN_VOCAB_SPM) {
		s.bos = 1, s.eos = 2, s.unk = 0;
	} else if (s.kind == CN_VOCAB_WPM) {
		s.unk = 100, s.sep = 102, s.pad = 0, s.cls = 101, s.mask = 103;
		s.lowercase = true;
	} else if (s.kind == CN_VOCAB_UGM) {
		s.bos = -1, s.eos = 1, s.unk = 2, s.pad = 0;
	}
	struct {
		const char *key;
		int32_t *id;
	} ids[] = {
		{"tokenizer.ggml.bos_token_id", &s.bos},        {"tokenizer.ggml.eos_token_id", &s.eos},
		{"tokenizer.ggml.eot_token_id", &s.eot},        {"tokenizer.ggml.eom_token_id", &s.eom},
		{"tokenizer.ggml.unknown_token_id", &s.unk},    {"tokenizer.ggml.seperator_token_id", &s.sep},
		{"tokenizer.ggml.padding_token_id", &s.pad},    {"tokenizer.ggml.cls_token_id", &s.cls},
		{"tokenizer.ggml.mask_token_id", &s.mask},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(ids); i++)
		if ((rc = gguf_id(g, ids[i].key, ids[i].id, err)) != CAIRN_OK)
			return rc;
	if ((rc = gguf_flag(g, "tokenizer.ggml.add_bos_token", &s.add_bos, err)) != CAIRN_OK ||
	    (rc = gguf_flag(g, "tokenizer.ggml.add_eos_token", &s.add_eos, err)) != CAIRN_OK ||
	    (rc = gguf_flag(g, "tokenizer.ggml.add_space_prefix", &s.add_space_prefix, err)) != CAIRN_OK ||
	    (rc = gguf_flag(g, "tokenizer.ggml.remove_extra_whitespaces", &s.remove_extra_whitespaces, err)) != CAIRN_OK)
		return rc;
	if (s.eot < 0)
		s.eot = find_eot(&s);

	float *fscores = NULL;
	uint32_t *attrs = NULL;
	if (scores) {
		fscores = cn_malloc(sizeof(float) * s.n_tokens);
		if (!fscores)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		for (uint32_t i = 0; i < s.n_tokens; i++)
			fscores[i] = (float)cn_gguf_arr_f64(scores, i);
		s.scores = fscores;
	}
	if (types) {
		attrs = cn_malloc(sizeof(uint32_t) * s.n_tokens);
		if (!attrs) {
			cn_free(fscores);
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
		bool is_unsigned = types->type == CN_GGUF_U8 || types->type == CN_GGUF_U16 || types->type == CN_GGUF_U32 ||
		                   types->type == CN_GGUF_U64;
		for (uint32_t i = 0; i < s.n_tokens; i++) {
			int64_t t = is_unsigned ? (int64_t)CN_MIN(cn_gguf_arr_u64(types, i), 1000) : cn_gguf_arr_i64(types, i);
			attrs[i] = cn_vocab_attr_from_gguf_type(t);
			if (attrs[i] & CN_TOKEN_BYTE)
				s.byte_fallback = true;
		}
		s.attrs = attrs;
	}
	rc = cn_vocab_build(&s, out, err);
	cn_free(fscores);
	cn_free(attrs);
	return rc;
}

/* ---- tokenizer.json --------------------------------------------------------------------- */

static bool json_flag(json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int32_t added_id_by_content(const cn_tokjson *tj, const char *content)
{
	for (size_t i = 0; i < tj->n_added; i++)
		if (strlen(content) == tj->added[i].len && memcmp(tj->added[i].content, content, tj->added[i].len) == 0)
			return (int32_t)tj->added[i].id;
	return -1;
}

/* TemplateProcessing's "single" template: which special token comes before $A and which
 * after. Bert/Roberta processors name cls and sep directly. */
static void read_post_processor(cn_tokjson *tj, json_t *pp, int depth)
{
	if (!json_is_object(pp) || depth > 4)
		return;
	const char *type = json_string_value(json_object_get(pp, "type"));
	if (!type)
		return;
	if (strcmp(type, "Sequence") == 0) {
		json_t *procs = json_object_get(pp, "processors");
		size_t i;
		json_t *p;
		json_array_foreach(procs, i, p) read_post_processor(tj, p, depth + 1);
		return;
	}
	if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
		json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
		if (json_is_array(cls) && json_is_integer(json_array_get(cls, 1)))
			tj->prefix_id = (int32_t)json_integer_value(json_array_get(cls, 1));
		if (json_is_array(sep) && json_is_integer(json_array_get(sep, 1)))
			tj->suffix_id = (int32_t)json_integer_value(json_array_get(sep, 1));
		return;
	}
	if (strcmp(type, "TemplateProcessing") != 0)
		return;
	json_t *single = json_object_get(pp, "single"), *specials = json_object_get(pp, "special_tokens");
	bool seen_seq = false;
	size_t i;
	json_t *item;
	json_array_foreach(single, i, item) {
		if (json_object_get(item, "Sequence")) {
			seen_seq = true;
			continue;
		}
		json_t *st = json_object_get(item, "SpecialToken");
		const char *id = json_string_value(json_object_get(st, "id"));
		if (!id)
			continue;
		int32_t tid = -1;
		json_t *def = json_object_get(specials, id);
		json_t *tids = json_object_get(def, "ids");
		if (json_is_array(tids) && json_array_size(tids) == 1 && json_is_integer(json_array_get(tids, 0)))
			tid = (int32_t)json_integer_value(json_array_get(tids, 0));
		else
			tid = added_id_by_content(tj, id);
		if (tid < 0)
			continue;
		if (!seen_seq && tj->prefix_id < 0)
			tj->prefix_id = tid;
		else if (seen_seq)
			tj->suffix_id = tid;
	}
}

static void read_normalizer(cn_tokjson *tj, json_t *n, int depth)
{
	if (!json_is_object(n) || depth > 4)
		return;
	const char *type = json_string_value(json_object_get(n, "type"));
	if (!type)
		return;
	if (strcmp(type, "Sequence") == 0) {
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(n, "normalizers"), i, p) read_normalizer(tj, p, depth + 1);
	} else if (strcmp(type, "BertNormalizer") == 0) {
		tj->lowercase = json_flag(n, "lowercase", true);
		json_t *sa = json_object_get(n, "strip_accents");
		tj->strip_accents = json_is_boolean(sa) ? json_is_true(sa) : tj->lowercase;
	} else if (strcmp(type, "Lowercase") == 0) {
		tj->lowercase = true;
	} else if (strcmp(type, "StripAccents") == 0) {
		tj->strip_accents = true;
	}
}

static cairn_status load_tokenizer_json(const char *path, const uint8_t *data, size_t len, const char *pre,
                                        json_t *root, cn_vocab **out, cn_err *err)
{
	(void)data, (void)len;
	cn_tokjson tj;
	memset(&tj, 0, sizeof(tj));
	tj.path = path;
	tj.root = root;
	tj.model = json_object_get(root, "model");
	tj.prefix_id = tj.suffix_id = -1;
	if (!json_is_object(tj.model))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: not a tokenizer.json (no \"model\" object)", path);

	json_t *added = json_object_get(root, "added_tokens");
	if (added && !json_is_array(added))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: \"added_tokens\" is not an array", path);
	size_t n_added = json_array_size(added);
	if (n_added) {
		tj.added = cn_calloc(n_added, sizeof(*tj.added));
		if (!tj.added)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_added; i++) {
		json_t *a = json_array_get(added, i);
		json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
		if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
		    json_integer_value(id) >= (1 << 24)) {
			cn_free(tj.added);
			return cn_err_set(err, CAIRN_EFORMAT, "%s: added_tokens[%zu] needs an \"id\" in [0, 2^24) and a \"content\" string",
			                  path, i);
		}
		tj.added[tj.n_added++] = (cn_tokjson_added){
			.id = json_integer_value(id),
			.content = json_string_value(content),
			.len = json_string_length(content),
			.special = json_flag(a, "special", false),
			.lstrip = json_flag(a, "lstrip", false),
			.rstrip = json_flag(a, "rstrip", false),
		};
	}
	read_post_processor(&tj, json_object_get(root, "post_processor"), 0);
	read_normalizer(&tj, json_object_get(root, "normalizer"), 0);

	const char *type = json_string_value(json_object_get(tj.model, "type"));
	if (!type) /* older files omit it; the shape tells */
		type = json_object_get(tj.model, "merges") ? "BPE" : json_is_array(json_object_get(tj.model, "vocab")) ? "Unigram"
		                                                                                                        : "WordPiece";
	cairn_status rc;
	if (strcmp(type, "BPE") == 0)
		rc = cn_tokjson_bpe(&tj, pre, out, err);
	else if (strcmp(type, "WordPiece") == 0)
		rc = cn_tokjson_wordpiece(&tj, out, err);
	else if (strcmp(type, "Unigram") == 0)
		rc = cn_tokjson_unigram(&tj, out, err);
	else
		rc = cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: tokenizer model type \"%.40s\" is not supported (BPE, WordPiece, Unigram are)",
		                path, type);
	cn_free(tj.added);
	return rc;
}

cairn_status cn_tokjson_merge_added(const cn_tokjson *tj, cn_arena *arena, cn_gguf_str **tokens, uint32_t **attrs,
                                    float **scores, uint32_t *n_tokens, cn_err *err)
{
	uint32_t n = *n_tokens;
	for (size_t i = 0; i < tj->n_added; i++)
		if (tj->added[i].id >= n)
			n = (uint32_t)tj->added[i].id + 1;
	if (n > *n_tokens) {
		cn_gguf_str *t = cn_realloc(*tokens, sizeof(**tokens) * n);
		if (!t)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		*tokens = t;
		uint32_t *a = cn_realloc(*attrs, sizeof(**attrs) * n);
		if (!a)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		*attrs = a;
		if (scores) {
			float *s = cn_realloc(*scores, sizeof(**scores) * n);
			if (!s)
				return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			*scores = s;
		}
		for (uint32_t id = *n_tokens; id < n; id++) {
			char tmp[32];
			int k = snprintf(tmp, sizeof(tmp), "[PAD%u]", id);
			char *copy = cn_arena_strndup(arena, tmp, (size_t)k);
			if (!copy)
				return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			(*tokens)[id] = (cn_gguf_str){copy, (uint64_t)k};
			(*attrs)[id] = CN_TOKEN_UNUSED;
			if (scores)
				(*scores)[id] = 0.0f;
		}
		*n_tokens = n;
	}
	for (size_t i = 0; i < tj->n_added; i++) {
		const cn_tokjson_added *a = &tj->added[i];
		uint32_t id = (uint32_t)a->id;
		(*tokens)[id] = (cn_gguf_str){a->content, a->len};
		uint32_t attr = a->special ? CN_TOKEN_CONTROL : CN_TOKEN_USER_DEFINED;
		if (a->lstrip)
			attr |= CN_TOKEN_LSTRIP;
		if (a->rstrip)
			attr |= CN_TOKEN_RSTRIP;
		(*attrs)[id] = attr;
	}
	return CAIRN_OK;
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* tiktoken: "base64 SPACE rank" lines. */
static bool looks_like_tiktoken(const uint8_t *d, size_t n)
{
	size_t i = 0;
	while (i < n && i < 256 && (isalnum(d[i]) || d[i] == '+' || d[i] == '/' || d[i] == '='))
		i++;
	if (i == 0 || i >= n || d[i] != ' ')
		return false;
	size_t j = i + 1;
	while (j < n && d[j] >= '0' && d[j] <= '9')
		j++;
	return j > i + 1 && (j == n || d[j] == '\n' || d[j] == '\r');
}

/* llama2.c checkpoint header: 7 positive int32 whose sizes add up to the file. */
static bool looks_like_llama2c_checkpoint(const uint8_t *d, size_t n)
{
	if (n < 28)
		return false;
	int32_t h[7];
	memcpy(h, d, sizeof(h));
	for (int i = 0; i < 7; i++)
		if ((i != 5 && h[i] <= 0) || h[i] == 0 || h[i] > (1 << 24) || h[i] < -(1 << 24))
			return false;
	return h[0] % (h[3] ? h[3] : 1) == 0 && n > (size_t)h[0] * 4 * (size_t)(h[5] < 0 ? -h[5] : h[5]);
}

cairn_status cn_vocab_load(const char *path, const char *pre, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	cn_map m;
	cairn_status rc = cn_map_open(path, &m, err);
	if (rc != CAIRN_OK)
		return rc;
	const uint8_t *d = m.data;
	size_t n = m.len;
	const char *base = base_name(path);
	if (n == 0) {
		rc = cn_err_set(err, CAIRN_EEMPTY, "%s: empty file", path);
	} else if (n > VOCAB_FILE_MAX) {
		rc = cn_err_set(err, CAIRN_ETOOBIG, "%s: %zu bytes is more than a vocabulary file may have", path, n);
	} else if (n >= 4 && memcmp(d, "GGUF", 4) == 0) {
		cn_gguf *g = NULL;
		rc = cn_gguf_open_mem(d, n, path, &g, err);
		if (rc == CAIRN_OK) {
			rc = cn_vocab_from_gguf(g, out, err);
			cn_gguf_close(g);
		}
	} else if (ends_with(base, ".json")) {
		json_error_t jerr;
		json_t *root = json_loadb((const char *)d, n, 0, &jerr);
		if (!root) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
		} else {
			/* GPT-2's vocab.json maps the token "model" to an id; a tokenizer.json's
			 * "model" is an object. */
			json_t *model = json_object_get(root, "model");
			if (model && !json_is_integer(model))
				rc = load_tokenizer_json(path, d, n, pre, root, out, err);
			else
				rc = cn_vocab_load_vocab_json(path, d, n, pre, out, err);
			json_decref(root);
		}
	} else if (ends_with(base, ".tiktoken") || looks_like_tiktoken(d, n)) {
		rc = cn_vocab_load_tiktoken(path, d, n, pre, out, err);
	} else if (ends_with(base, ".txt")) {
		if (strstr(base, "merges"))
			rc = cn_err_set(err, CAIRN_EINVAL, "%s: pass the vocab.json beside it; merges.txt is read from there", path);
		else
			rc = cn_vocab_load_vocab_txt(path, d, n, out, err);
	} else if (n >= 2 && d[0] == 0x0a) {
		rc = cn_vocab_load_spm_model(path, d, n, out, err);
	} else if (ends_with(base, ".bin")) {
		if (looks_like_llama2c_checkpoint(d, n))
			rc = cn_err_set(err, CAIRN_ENOTFOUND,
			                "%s: a llama2.c checkpoint holds no vocabulary; pass its tokenizer.bin (for example tok512.bin)", path);
		else
			rc = cn_vocab_load_llama2c(path, d, n, out, err);
	} else {
		rc = cn_err_set(err, CAIRN_EFORMAT,
		                "%s: not a tokenizer file cairn knows (GGUF, SentencePiece tokenizer.model, tokenizer.json, "
		                "vocab.json + merges.txt, *.tiktoken, vocab.txt, llama2.c tokenizer.bin)",
		                path);
	}
	cn_map_close(&m);
	return rc;
}
