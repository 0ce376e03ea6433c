/*
 * bpe_load.c — the files byte-level BPE vocabularies ship as, read into a cn_vocab_spec:
 * tiktoken rank files, OpenAI/Hugging Face vocab.json + merges.txt, and the "BPE" model of a
 * Hugging Face tokenizer.json (byte-level, or the SentencePiece-style variant Mistral and
 * Llama 2 conversions use, which becomes an SPM spec).
 *
 * Why each choice:
 *  - tiktoken files carry neither the split pattern nor the special tokens; the models that
 *    ship them are recognised by their rank count (128000: Llama 3, 151643: Qwen) and given
 *    the pattern and specials their tokenizer code defines. Any other count needs `pre`.
 *  - tokenizer.json names its split as regex strings; they are compared with the upstream
 *    strings each hand-written pre-tokenizer implements (pretok.c), and an unknown one is a
 *    clear CAIRN_EUNSUPPORTED naming it rather than a silently different split.
 *  - For the SentencePiece-style variant, Hugging Face merges by pair rank; an SPM encoder
 *    merges by token score. Giving each token the negated rank of the first merge that
 *    produces it makes the two orders agree (the converter that wrote these files lists
 *    every split of a piece, ordered by the piece's score).
 *  - Everything is untrusted: ids are bounded (2^24), holes in an id space become unused
 *    placeholder tokens, counts never drive allocation beyond the file's own size.
 */
#include "vocab/vocab_int.h"

#include <string.h>

#include "vocab/pretok_int.h"

#define MAX_ID (1u << 24)
#define MERGES_FILE_MAX ((size_t)256 << 20)

/* ---- helpers ---------------------------------------------------------------------------- */

static int b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes s[0..n) into out (room for 3n/4 bytes); returns the length or -1. */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

/* Fills ids [from, to) of tokens/attrs with "[PAD<id>]" placeholders marked unused. */
static cairn_status fill_holes(cn_arena *arena, cn_gguf_str *tokens, uint32_t *attrs, const uint8_t *have,
                               uint32_t n)
{
	for (uint32_t id = 0; id < n; id++) {
		if (have[id])
			continue;
		char tmp[32];
		int k = snprintf(tmp, sizeof(tmp), "[PAD%u]", id);
		char *copy = cn_arena_strndup(arena, tmp, (size_t)k);
		if (!copy)
			return CAIRN_ENOMEM;
		tokens[id] = (cn_gguf_str){copy, (uint64_t)k};
		attrs[id] = CN_TOKEN_UNUSED;
	}
	return CAIRN_OK;
}

static int32_t find_text(const cn_gguf_str *tokens, uint32_t n, const char *text)
{
	size_t len = strlen(text);
	for (uint32_t i = n; i-- > 0;) /* specials usually sit at the end */
		if (tokens[i].len == len && memcmp(tokens[i].ptr, text, len) == 0)
			return (int32_t)i;
	return -1;
}

/* ---- tiktoken ------------------------------------------------------------------------------ */

static const char *const llama3_named[] = {
	"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
	"<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
	"<|eot_id|>", "<|python_tag|>", "<|image|>",
};

cairn_status cn_vocab_load_tiktoken(const char *path, const uint8_t *data, size_t len, const char *pre,
                                    cn_vocab **out, cn_err *err)
{
	*out = NULL;
	size_t max_lines = 1;
	for (size_t i = 0; i < len; i++)
		max_lines += data[i] == '\n';
	if (max_lines > MAX_ID)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: more than %u lines", path, MAX_ID);
	/* Ranks index the token table directly; the table may be at most max_lines + the
	 * specials long, so a huge rank in a small file cannot drive a huge allocation. */
	uint32_t cap = (uint32_t)max_lines + 512;
	cn_gguf_str *tokens = cn_calloc(cap, sizeof(*tokens));
	uint32_t *attrs = cn_calloc(cap, sizeof(*attrs));
	uint8_t *have = cn_calloc(cap, 1);
	uint8_t *bytes = cn_malloc(len ? len : 1); /* decoded texts: never longer than the file */
	cn_arena arena;
	cn_arena_init(&arena, 1 << 14);
	cairn_status rc = CAIRN_OK;
	if (!tokens || !attrs || !have || !bytes) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	size_t bo = 0, line = 0;
	uint32_t n = 0;
	for (size_t i = 0; i < len;) {
		line++;
		size_t e = i;
		while (e < len && data[e] != '\n')
			e++;
		size_t le = e;
		if (le > i && data[le - 1] == '\r')
			le--;
		if (le == i) { /* blank line */
			i = e + 1;
			continue;
		}
		const uint8_t *sp = memchr(data + i, ' ', le - i);
		if (!sp) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: expected \"base64 rank\"", path, line);
			goto done;
		}
		uint64_t rank = 0;
		const uint8_t *q = sp + 1;
		if (q == data + le) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: missing rank", path, line);
			goto done;
		}
		for (; q < data + le; q++) {
			if (*q < '0' || *q > '9' || rank > MAX_ID) {
				rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: bad rank", path, line);
				goto done;
			}
			rank = rank * 10 + (uint64_t)(*q - '0');
		}
		if (rank >= max_lines) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: rank %llu is beyond the %zu lines of the file", path,
			                line, (unsigned long long)rank, max_lines);
			goto done;
		}
		long bl = b64_decode(data + i, (size_t)(sp - (data + i)), bytes + bo);
		if (bl <= 0) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: bad base64 token", path, line);
			goto done;
		}
		if (have[rank]) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: line %zu: rank %llu appears twice", path, line,
			                (unsigned long long)rank);
			goto done;
		}
		have[rank] = 1;
		tokens[rank] = (cn_gguf_str){(const char *)bytes + bo, (uint64_t)bl};
		attrs[rank] = CN_TOKEN_NORMAL;
		bo += (size_t)bl;
		if (rank + 1 > n)
			n = (uint32_t)rank + 1;
		i = e + 1;
	}
	if (n == 0) {
		rc = cn_err_set(err, CAIRN_EFORMAT, "%s: no tokens", path);
		goto done;
	}
	if ((rc = fill_holes(&arena, tokens, attrs, have, n)) != CAIRN_OK) {
		cn_err_set(err, rc, "out of memory");
		goto done;
	}

	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = path;
	s.kind = CN_VOCAB_BPE;
	s.raw_bytes = true;
	if (!pre) {
		if (n == 128000)
			pre = "llama3";
		else if (n == 151643)
			pre = "qwen2";
		else {
			rc = cn_err_set(err, CAIRN_EINVAL,
			                "%s: a tiktoken file of %u ranks does not say how to split text; pass the "
			                "pre-tokenizer (\"llama3\", \"qwen2\", \"gpt-2\", …)",
			                path, n);
			goto done;
		}
	}
	s.pre = pre;
	bool is_llama3 = n == 128000 && cn_pretok_find(pre, NULL) == cn_pretok_find("llama3", NULL);
	bool is_qwen = n == 151643 && cn_pretok_find(pre, NULL) == cn_pretok_find("qwen2", NULL);
	if (is_llama3) { /* meta-llama/llama-models models/llama3/tokenizer.py */
		for (uint32_t k = 0; k < 256; k++) {
			char tmp[48];
			const char *t = tmp;
			if (k < CN_ARRAY_LEN(llama3_named))
				t = llama3_named[k];
			else
				snprintf(tmp, sizeof(tmp), "<|reserved_special_token_%u|>", k - (uint32_t)CN_ARRAY_LEN(llama3_named) + 2);
			char *copy = cn_arena_strndup(&arena, t, strlen(t));
			if (!copy) {
				rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				goto done;
			}
			tokens[n + k] = (cn_gguf_str){copy, strlen(t)};
			attrs[n + k] = CN_TOKEN_CONTROL;
		}
		s.bos = 128000, s.eos = 128001, s.eom = 128008, s.eot = 128009;
		s.add_bos = 1, s.add_eos = 0;
		n += 256;
	} else if (is_qwen) { /* Qwen tokenization_qwen.py / Qwen2 tokenizer.json */
		static const char *const q[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
		for (uint32_t k = 0; k < 3; k++) {
			tokens[n + k] = (cn_gguf_str){q[k], strlen(q[k])};
			attrs[n + k] = CN_TOKEN_CONTROL;
		}
		s.eos = 151643, s.eot = 151645, s.pad = 151643;
		s.add_bos = 0, s.add_eos = 0;
		n += 3;
	}
	s.n_tokens = n;
	s.tokens = tokens;
	s.attrs = attrs;
	rc = cn_vocab_build(&s, out, err);
done:
	cn_free(tokens);
	cn_free(attrs);
	cn_free(have);
	cn_free(bytes);
	cn_arena_free(&arena);
	return rc;
}

/* ---- vocab.json + merges.txt --------------------------------------------------------------- */

/* Reads a token → id object into a dense table (holes become unused placeholders). */
static cairn_status vocab_object(const char *path, json_t *obj, cn_arena *arena, cn_gguf_str **tokens_out,
                                 uint32_t **attrs_out, uint32_t *n_out, cn_err *err)
{
	size_t count = json_object_size(obj);
	uint32_t n = 0;
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= (json_int_t)MAX_ID)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: token \"%.40s\" needs an id in [0, 2^24)", path, key);
		if ((uint32_t)json_integer_value(val) + 1 > n)
			n = (uint32_t)json_integer_value(val) + 1;
	}
	if (n == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: the vocabulary is empty", path);
	if (n > count + (count >> 1) + 1024) /* sparse ids: a few holes are fine, a desert is not */
		return cn_err_set(err, CAIRN_EFORMAT, "%s: ids up to %u for %zu tokens", path, n - 1, count);
	cn_gguf_str *tokens = cn_calloc(n, sizeof(*tokens));
	uint32_t *attrs = cn_calloc(n, sizeof(*attrs));
	uint8_t *have = cn_calloc(n, 1);
	if (!tokens || !attrs || !have) {
		cn_free(tokens), cn_free(attrs), cn_free(have);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	json_object_foreach(obj, key, val) {
		uint32_t id = (uint32_t)json_integer_value(val);
		if (have[id]) {
			cn_free(tokens), cn_free(attrs), cn_free(have);
			return cn_err_set(err, CAIRN_EFORMAT, "%s: id %u is given to two tokens", path, id);
		}
		have[id] = 1;
		tokens[id] = (cn_gguf_str){key, strlen(key)};
		attrs[id] = CN_TOKEN_NORMAL;
	}
	cairn_status rc = fill_holes(arena, tokens, attrs, have, n);
	cn_free(have);
	if (rc != CAIRN_OK) {
		cn_free(tokens), cn_free(attrs);
		return cn_err_set(err, rc, "out of memory");
	}
	*tokens_out = tokens;
	*attrs_out = attrs;
	*n_out = n;
	return CAIRN_OK;
}

cairn_status cn_vocab_load_vocab_json(const char *path, const uint8_t *data, size_t len, const char *pre,
                                      cn_vocab **out, cn_err *err)
{
	*out = NULL;
	json_error_t jerr;
	json_t *root = json_loadb((const char *)data, len, 0, &jerr);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
	cairn_status rc = CAIRN_OK;
	cn_arena arena;
	cn_arena_init(&arena, 1 << 12);
	cn_gguf_str *tokens = NULL, *merges = NULL;
	uint32_t *attrs = NULL, n = 0;
	char *mtext = NULL;
	char *mpath = NULL;
	if (!json_is_object(root)) {
		rc = cn_err_set(err, CAIRN_EFORMAT, "%s: expected a JSON object of token → id", path);
		goto done;
	}
	if ((rc = vocab_object(path, root, &arena, &tokens, &attrs, &n, err)) != CAIRN_OK)
		goto done;

	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path + 1) : 0;
	mpath = cn_malloc(dl + sizeof("merges.txt"));
	if (!mpath) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(mpath, path, dl);
	memcpy(mpath + dl, "merges.txt", sizeof("merges.txt"));
	size_t mlen;
	if ((rc = cn_file_read(mpath, MERGES_FILE_MAX, &mtext, &mlen, err)) != CAIRN_OK) {
		cn_err_prefix(err, "%s needs merges.txt beside it: ", path);
		goto done;
	}
	size_t max_merges = 1;
	for (size_t i = 0; i < mlen; i++)
		max_merges += mtext[i] == '\n';
	merges = cn_calloc(max_merges, sizeof(*merges));
	if (!merges) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	uint32_t nm = 0;
	for (size_t i = 0, line = 1; i < mlen; line++) {
		size_t e = i;
		while (e < mlen && mtext[e] != '\n')
			e++;
		size_t le = e;
		if (le > i && mtext[le - 1] == '\r')
			le--;
		bool version = line == 1 && le - i >= 8 && memcmp(mtext + i, "#version", 8) == 0;
		if (le > i && !version) {
			if (nm >= MAX_ID) {
				rc = cn_err_set(err, CAIRN_ETOOBIG, "%s: more than %u merges", mpath, MAX_ID);
				goto done;
			}
			merges[nm++] = (cn_gguf_str){mtext + i, le - i};
		}
		i = e + 1;
	}

	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = path;
	s.kind = CN_VOCAB_BPE;
	s.pre = pre ? pre : "gpt-2";
	s.n_tokens = n;
	s.tokens = tokens;
	s.attrs = attrs;
	s.n_merges = nm;
	s.merges = merges;
	int32_t eot = find_text(tokens, n, "<|endoftext|>");
	if (eot >= 0) { /* GPT-2: <|endoftext|> is both bos and eos, and nothing is added */
		attrs[eot] = CN_TOKEN_CONTROL;
		s.bos = s.eos = eot;
	}
	s.add_bos = 0, s.add_eos = 0;
	rc = cn_vocab_build(&s, out, err);
done:
	cn_free(mpath);
	cn_free(mtext);
	cn_free(merges);
	cn_free(tokens);
	cn_free(attrs);
	cn_arena_free(&arena);
	json_decref(root);
	return rc;
}

/* ---- tokenizer.json, model.type "BPE" ------------------------------------------------------ */

#define RE_FALCON_PUNCT "[\\p{P}\\$\\+<=>\\^~\\|`]+"
#define RE_GPT2_FULL "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct pre_walk {
	const char *re[8];
	size_t n;
	bool byte_level;   /* a ByteLevel step was seen */
	bool metaspace;    /* a Metaspace pre-tokenizer (SentencePiece style) */
	bool metaspace_prefix;
	char msg[160];     /* why it is not supported, when it is not */
} pre_walk;

static void walk_push(pre_walk *w, const char *re)
{
	if (w->n < CN_ARRAY_LEN(w->re))
		w->re[w->n++] = re;
	else if (!w->msg[0])
		snprintf(w->msg, sizeof(w->msg), "more than %zu pre-tokenizer steps", CN_ARRAY_LEN(w->re));
}

static void walk_pre(pre_walk *w, json_t *p, int depth)
{
	if (!p || json_is_null(p) || w->msg[0])
		return;
	const char *type = json_string_value(json_object_get(p, "type"));
	if (!type || depth > 4) {
		snprintf(w->msg, sizeof(w->msg), "a pre_tokenizer without a type");
		return;
	}
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(p, "pretokenizers"), i, x) walk_pre(w, x, depth + 1);
	} else if (!strcmp(type, "ByteLevel")) {
		w->byte_level = true;
		json_t *ur = json_object_get(p, "use_regex");
		if (!json_is_boolean(ur) || json_is_true(ur))
			walk_push(w, RE_GPT2_FULL);
		if (json_is_true(json_object_get(p, "add_prefix_space")))
			snprintf(w->msg, sizeof(w->msg), "ByteLevel with add_prefix_space");
	} else if (!strcmp(type, "Split")) {
		json_t *pat = json_object_get(p, "pattern");
		const char *re = json_string_value(json_object_get(pat, "Regex"));
		const char *behavior = json_string_value(json_object_get(p, "behavior"));
		if (!re)
			snprintf(w->msg, sizeof(w->msg), "a Split on a plain string");
		else if (!behavior || strcmp(behavior, "Isolated") || json_is_true(json_object_get(p, "invert")))
			snprintf(w->msg, sizeof(w->msg), "a Split with behavior \"%.40s\"", behavior ? behavior : "?");
		else
			walk_push(w, re);
	} else if (!strcmp(type, "Digits")) {
		walk_push(w, json_is_true(json_object_get(p, "individual_digits")) ? "\\p{N}" : "\\p{N}+");
	} else if (!strcmp(type, "Punctuation")) {
		const char *behavior = json_string_value(json_object_get(p, "behavior"));
		if (behavior && !strcmp(behavior, "Contiguous"))
			walk_push(w, RE_FALCON_PUNCT);
		else
			snprintf(w->msg, sizeof(w->msg), "Punctuation with behavior \"%.40s\"", behavior ? behavior : "Isolated");
	} else if (!strcmp(type, "Metaspace")) {
		w->metaspace = true;
		const char *scheme = json_string_value(json_object_get(p, "prepend_scheme"));
		json_t *aps = json_object_get(p, "add_prefix_space");
		w->metaspace_prefix = scheme ? strcmp(scheme, "never") != 0 : !json_is_false(aps);
	} else {
		snprintf(w->msg, sizeof(w->msg), "pre-tokenizer \"%.40s\"", type);
	}
}

/* Does the normalizer turn spaces into ▁ (and prepend one)? SentencePiece-style files. */
static void walk_norm(json_t *n, bool *replace_space, bool *prepend, int depth)
{
	const char *type = json_string_value(json_object_get(n, "type"));
	if (!type || depth > 4)
		return;
	if (!strcmp(type, "Sequence")) {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(n, "normalizers"), i, x) walk_norm(x, replace_space, prepend, depth + 1);
	} else if (!strcmp(type, "Prepend")) {
		const char *s = json_string_value(json_object_get(n, "prepend"));
		if (s && !strcmp(s, "\xE2\x96\x81"))
			*prepend = true;
	} else if (!strcmp(type, "Replace")) {
		const char *from = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
		const char *to = json_string_value(json_object_get(n, "content"));
		if (from && to && !strcmp(from, " ") && !strcmp(to, "\xE2\x96\x81"))
			*replace_space = true;
	}
}

/* Is re one of the expressions some pre-tokenizer family implements? */
static bool known_regex(const char *re)
{
	for (size_t i = 0; cn_pretok_at(i); i++)
		for (size_t k = 0; k < cn_pretok_n_regexes(cn_pretok_at(i)); k++)
			if (!strcmp(cn_pretok_regex(cn_pretok_at(i), k), re))
				return true;
	const char *one[1] = {re};
	return cn_pretok_from_regexes(one, 1) != NULL; /* llama.cpp spellings */
}

static const char *first_of(const cn_tokjson *tj, const cn_gguf_str *tokens, uint32_t n, const char *const *names,
                            size_t k, int32_t *id)
{
	(void)tj;
	for (size_t i = 0; i < k; i++)
		if ((*id = find_text(tokens, n, names[i])) >= 0)
			return names[i];
	*id = -1;
	return NULL;
}

cairn_status cn_tokjson_bpe(const cn_tokjson *tj, const char *pre, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	const char *path = tj->path;
	json_t *model = tj->model;
	json_t *vocab = json_object_get(model, "vocab");
	json_t *jmerges = json_object_get(model, "merges");
	if (!json_is_object(vocab) || !json_is_array(jmerges))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: a BPE model needs a \"vocab\" object and a \"merges\" array", path);
	json_t *dropout = json_object_get(model, "dropout");
	if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: BPE dropout is not supported (tokenization would be random)", path);
	const char *csp = json_string_value(json_object_get(model, "continuing_subword_prefix"));
	const char *ews = json_string_value(json_object_get(model, "end_of_word_suffix"));
	if ((csp && *csp) || (ews && *ews))
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: BPE with continuing_subword_prefix/end_of_word_suffix is not supported",
		                  path);

	pre_walk w;
	memset(&w, 0, sizeof(w));
	walk_pre(&w, json_object_get(tj->root, "pre_tokenizer"), 0);
	bool replace_space = false, prepend = false;
	walk_norm(json_object_get(tj->root, "normalizer"), &replace_space, &prepend, 0);
	bool byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
	json_t *dec = json_object_get(tj->root, "decoder");
	const char *dec_type = json_string_value(json_object_get(dec, "type"));
	bool spm_style = !w.byte_level && (w.metaspace || replace_space) && !(dec_type && !strcmp(dec_type, "ByteLevel"));
	if (w.msg[0] && !spm_style)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: %s is not supported for byte-level BPE", path, w.msg);
	if (!spm_style && !w.byte_level && !(dec_type && !strcmp(dec_type, "ByteLevel")))
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: a BPE model that is neither byte-level (ByteLevel) nor SentencePiece-style "
		                  "(spaces as \xE2\x96\x81) is not supported",
		                  path);

	cairn_status rc = CAIRN_OK;
	cn_arena arena;
	cn_arena_init(&arena, 1 << 14);
	cn_gguf_str *tokens = NULL, *merges = NULL;
	uint32_t *attrs = NULL, n = 0;
	float *scores = NULL;
	char pre_name[48] = "";
	if ((rc = vocab_object(path, vocab, &arena, &tokens, &attrs, &n, err)) != CAIRN_OK)
		goto done;
	uint32_t n_base = n;
	if (spm_style && !(scores = cn_calloc(n, sizeof(float)))) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = cn_tokjson_merge_added(tj, &arena, &tokens, &attrs, spm_style ? &scores : NULL, &n, err)) != CAIRN_OK)
		goto done;

	size_t nm = json_array_size(jmerges);
	if (nm > MAX_ID) {
		rc = cn_err_set(err, CAIRN_ETOOBIG, "%s: %zu merges", path, nm);
		goto done;
	}
	merges = cn_calloc(nm ? nm : 1, sizeof(*merges));
	if (!merges) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nm; i++) {
		json_t *m = json_array_get(jmerges, i);
		if (json_is_string(m)) {
			merges[i] = (cn_gguf_str){json_string_value(m), json_string_length(m)};
		} else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
		           json_is_string(json_array_get(m, 1))) {
			/* newer files: ["left", "right"] */
			size_t a = json_string_length(json_array_get(m, 0)), b = json_string_length(json_array_get(m, 1));
			char *t = cn_arena_alloc(&arena, a + b + 2);
			if (!t) {
				rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				goto done;
			}
			memcpy(t, json_string_value(json_array_get(m, 0)), a);
			t[a] = ' ';
			memcpy(t + a + 1, json_string_value(json_array_get(m, 1)), b);
			t[a + b + 1] = '\0';
			merges[i] = (cn_gguf_str){t, a + b + 1};
		} else {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", path, i);
			goto done;
		}
	}

	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = path;
	s.tokens = tokens;
	s.attrs = attrs;
	s.n_tokens = n;
	s.n_merges = (uint32_t)nm;
	s.merges = merges;
	const char *unk = json_string_value(json_object_get(model, "unk_token"));
	if (unk)
		s.unk = find_text(tokens, n, unk);
	if (tj->prefix_id >= 0 && (uint32_t)tj->prefix_id < n)
		s.bos = tj->prefix_id, s.add_bos = 1;
	else
		s.add_bos = 0;
	if (tj->suffix_id >= 0 && (uint32_t)tj->suffix_id < n)
		s.eos = tj->suffix_id, s.add_eos = 1;
	else
		s.add_eos = 0;
	static const char *const eos_names[] = {"</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>"};
	static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", "<|startoftext|>"};
	int32_t id;
	if (s.eos < 0 && first_of(tj, tokens, n, eos_names, CN_ARRAY_LEN(eos_names), &id))
		s.eos = id;
	if (s.bos < 0 && first_of(tj, tokens, n, bos_names, CN_ARRAY_LEN(bos_names), &id))
		s.bos = id;

	if (spm_style) {
		/* SentencePiece-style: an SPM spec whose scores order merges as the file does. */
		s.kind = CN_VOCAB_SPM;
		s.byte_fallback = byte_fallback;
		s.add_space_prefix = (prepend || w.metaspace_prefix) ? 1 : 0;
		s.remove_extra_whitespaces = 0;
		s.n_merges = 0;
		s.merges = NULL;
		for (uint32_t i = 0; i < n; i++)
			scores[i] = -(float)nm - 1.0f; /* never produced by a merge: last */
		/* score = -(rank of the first merge producing the token), over the base vocabulary
		 * (added tokens are matched whole, never merged into) */
		cn_strmap map;
		cn_strmap_init(&map);
		int32_t *map_tok = cn_malloc(sizeof(int32_t) * n_base);
		cn_buf cat;
		cn_buf_init(&cat);
		bool oom = !map_tok;
		for (uint32_t t = 0; t < n_base && !oom; t++) {
			uint32_t m;
			bool added;
			if (cn_strmap_put(&map, tokens[t].ptr, (size_t)tokens[t].len, &m, &added) != CAIRN_OK)
				oom = true;
			else if (added)
				map_tok[m] = (int32_t)t;
		}
		for (size_t i = nm; i-- > 0 && !oom;) {
			const cn_gguf_str *m = &merges[i];
			const char *sp = m->len > 1 ? memchr(m->ptr + 1, ' ', (size_t)m->len - 1) : NULL;
			if (!sp)
				continue;
			size_t ll = (size_t)(sp - m->ptr);
			cn_buf_reset(&cat);
			cn_buf_append(&cat, m->ptr, ll);
			cn_buf_append(&cat, sp + 1, (size_t)m->len - ll - 1);
			if (cat.failed) {
				oom = true;
				break;
			}
			uint32_t k = cn_strmap_get(&map, cat.data, cat.len);
			if (k != UINT32_MAX)
				scores[map_tok[k]] = -(float)i;
		}
		for (uint32_t i = 0; i < n; i++)
			if (attrs[i] & (CN_TOKEN_CONTROL | CN_TOKEN_UNKNOWN | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNUSED))
				scores[i] = 0.0f;
		cn_buf_free(&cat);
		cn_free(map_tok);
		cn_strmap_free(&map);
		if (oom) {
			rc = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			goto done;
		}
		if (s.unk >= 0)
			attrs[s.unk] = CN_TOKEN_UNKNOWN;
		for (uint32_t i = 0; i < n_base; i++) { /* byte fallback pieces */
			const cn_gguf_str *t = &tokens[i];
			if (t->len == 6 && !memcmp(t->ptr, "<0x", 3) && t->ptr[5] == '>' && (attrs[i] & CN_TOKEN_NORMAL))
				attrs[i] = CN_TOKEN_BYTE;
		}
		s.scores = scores;
		s.n_tokens = n;
		rc = cn_vocab_build(&s, out, err);
	} else {
		s.kind = CN_VOCAB_BPE;
		if (pre) {
			s.pre = pre;
		} else {
			const cn_pretok *f = cn_pretok_from_regexes(w.re, w.n);
			if (!f) {
				for (size_t i = 0; i < w.n; i++)
					if (!known_regex(w.re[i])) {
						rc = cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: pre-tokenizer regex \"%.200s\" is not supported",
						                path, w.re[i]);
						goto done;
					}
				rc = cn_err_set(err, CAIRN_EUNSUPPORTED,
				                "%s: this sequence of %zu pre-tokenizer regexes (first \"%.120s\") is not supported",
				                path, w.n, w.n ? w.re[0] : "");
				goto done;
			}
			snprintf(pre_name, sizeof(pre_name), "%s", cn_pretok_name(f));
			/* ignore_merges is a property of the model, not of the split: Llama 3 sets it,
			 * DBRX (same split) does not; "dbrx" names the llama3 split without it. */
			if (!strcmp(pre_name, "llama3") && !json_is_true(json_object_get(model, "ignore_merges")))
				snprintf(pre_name, sizeof(pre_name), "dbrx");
			s.pre = pre_name;
		}
		rc = cn_vocab_build(&s, out, err);
	}
done:
	cn_free(tokens);
	cn_free(attrs);
	cn_free(scores);
	cn_free(merges);
	cn_arena_free(&arena);
	return rc;
}
