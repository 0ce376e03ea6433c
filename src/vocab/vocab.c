/*
 * vocab.c — the vocabulary object every tokenizer algorithm shares.
 *
 * What lives here and why:
 *  - The token table (text, score, attributes) and an exact text → id map, built once from a
 *    cn_vocab_spec whatever file it came from, so the algorithms only add their own indexes.
 *  - The special-token partition. llama.cpp splits the input on every control and
 *    user-defined token before the algorithm sees it; so do we, with one left-to-right scan
 *    that tries the candidates starting with the current byte, longest first (llama.cpp loops
 *    over the specials and rescans the text for each, which costs 256 passes for Llama 3).
 *    The two agree except when the texts of two special tokens overlap in the input.
 *    User-defined tokens are always matched; control and unknown ones only when the caller
 *    asks (CN_TOK_PARSE_SPECIAL), so text that merely looks like "<|eot_id|>" cannot inject
 *    a turn boundary. LSTRIP/RSTRIP tokens eat the ASCII whitespace beside them.
 *  - BOS/EOS (CLS/SEP for WordPiece) and decoding: control and unknown tokens render as
 *    nothing unless asked; the space SentencePiece and WordPiece put before the first word
 *    is removed so that decode(encode(s)) == s for lossless vocabularies.
 */
#include "vocab/vocab_int.h"

#include <string.h>

const char *cn_vocab_kind_name(cn_vocab_kind k)
{
	switch (k) {
	case CN_VOCAB_SPM: return "spm";
	case CN_VOCAB_BPE: return "bpe";
	case CN_VOCAB_WPM: return "wpm";
	case CN_VOCAB_UGM: return "ugm";
	case CN_VOCAB_NONE: break;
	}
	return "none";
}

uint32_t cn_vocab_attr_from_gguf_type(int64_t t)
{
	switch (t) {
	case 1: return CN_TOKEN_NORMAL;
	case 2: return CN_TOKEN_UNKNOWN;
	case 3: return CN_TOKEN_CONTROL;
	case 4: return CN_TOKEN_USER_DEFINED;
	case 5: return CN_TOKEN_UNUSED;
	case 6: return CN_TOKEN_BYTE;
	default: return 0;
	}
}

void cn_vocab_spec_init(cn_vocab_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->bos = s->eos = s->eot = s->eom = s->unk = s->sep = s->pad = s->cls = s->mask = -1;
	s->add_bos = s->add_eos = s->add_space_prefix = -1;
	s->remove_extra_whitespaces = -1;
	s->treat_whitespace_as_suffix = -1;
	s->wpm_strip_accents = s->wpm_clean_text = s->wpm_chinese_chars = -1;
}

void cn_tokvec_init(cn_tokvec *t) { memset(t, 0, sizeof(*t)); }

void cn_tokvec_free(cn_tokvec *t)
{
	cn_free(t->ids);
	memset(t, 0, sizeof(*t));
}

cairn_status cn_tokvec_push(cn_tokvec *t, int32_t id)
{
	if (t->n == t->cap && CN_GROW(t->ids, t->cap, t->n + 1) != CAIRN_OK)
		return CAIRN_ENOMEM;
	t->ids[t->n++] = id;
	return CAIRN_OK;
}

static const cn_vocab_algo *algo_for(cn_vocab_kind k)
{
	switch (k) {
	case CN_VOCAB_SPM: return &cn_spm_algo;
	case CN_VOCAB_UGM: return &cn_ugm_algo;
	case CN_VOCAB_BPE: return &cn_bpe_algo;
	case CN_VOCAB_WPM: return &cn_wpm_algo;
	case CN_VOCAB_NONE: break;
	}
	return NULL;
}

/* "<0x0A>" → 0x0A; -1 when the text is not a byte piece. */
static int byte_piece_value(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	int v = 0;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static bool id_ok(const cn_vocab *v, int32_t id) { return id >= 0 && (uint32_t)id < v->n_tokens; }

/* Special ids outside the table are dropped (with the model's other metadata intact) rather
 * than failing the load: llama.cpp does the same, and real files carry such leftovers. */
static int32_t checked_id(const cn_vocab *v, int32_t id) { return id_ok(v, id) ? id : -1; }

/* The text a special token is matched against in the input: its stored text, except for
 * byte-level BPE whose stored texts are in GPT-2's alphabet (a space is "Ġ"). */
static cairn_status special_surface(cn_vocab *v, int32_t id, const char **text, size_t *len,
                                    cn_buf *scratch)
{
	const cn_vocab_token *t = &v->tokens[id];
	if (v->kind != CN_VOCAB_BPE || (t->attr & (CN_TOKEN_CONTROL | CN_TOKEN_UNKNOWN))) {
		*text = t->text;
		*len = t->len;
		return CAIRN_OK;
	}
	cn_buf_reset(scratch);
	v->ops->piece(v, id, scratch);
	if (scratch->failed)
		return CAIRN_ENOMEM;
	*text = cn_arena_strndup(&v->arena, scratch->data ? scratch->data : "", scratch->len);
	*len = scratch->len;
	return *text ? CAIRN_OK : CAIRN_ENOMEM;
}

typedef struct special_entry {
	int32_t id;
	uint32_t len;
	const char *text;
} special_entry;

static int special_cmp(const void *a, const void *b)
{
	const special_entry *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static cairn_status build_specials(cn_vocab *v, cn_err *err)
{
	size_t n = 0;
	for (uint32_t i = 0; i < v->n_tokens; i++)
		if ((v->tokens[i].attr & (CN_TOKEN_CONTROL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNKNOWN)) && v->tokens[i].len > 0)
			n++;
	if (n == 0)
		return CAIRN_OK;
	special_entry *e = cn_calloc(n, sizeof(*e));
	if (!e)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_buf scratch;
	cn_buf_init(&scratch);
	size_t k = 0;
	cairn_status rc = CAIRN_OK;
	for (uint32_t i = 0; i < v->n_tokens && rc == CAIRN_OK; i++) {
		if (!((v->tokens[i].attr & (CN_TOKEN_CONTROL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNKNOWN)) && v->tokens[i].len > 0))
			continue;
		const char *s;
		size_t len;
		rc = special_surface(v, (int32_t)i, &s, &len, &scratch);
		if (rc == CAIRN_OK && len > 0 && len < UINT32_MAX)
			e[k++] = (special_entry){(int32_t)i, (uint32_t)len, s};
	}
	cn_buf_free(&scratch);
	if (rc != CAIRN_OK) {
		cn_free(e);
		return cn_err_set(err, rc, "out of memory");
	}
	qsort(e, k, sizeof(*e), special_cmp);
	v->specials = cn_calloc(k ? k : 1, sizeof(int32_t));
	v->special_text = cn_calloc(k ? k : 1, sizeof(char *));
	v->special_len = cn_calloc(k ? k : 1, sizeof(uint32_t));
	if (!v->specials || !v->special_text || !v->special_len) {
		cn_free(e);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < k; i++) {
		v->specials[i] = e[i].id;
		v->special_text[i] = e[i].text;
		v->special_len[i] = e[i].len;
		v->special_first_byte[(uint8_t)e[i].text[0]] = 1;
	}
	v->n_specials = (uint32_t)k;
	cn_free(e);
	return CAIRN_OK;
}

void cn_vocab_free(cn_vocab *v)
{
	if (!v)
		return;
	if (v->ops && v->ops->free)
		v->ops->free(v);
	cn_free(v->special_text);
	cn_free(v->special_len);
	cn_free(v->specials);
	cn_free(v->map_to_token);
	cn_strmap_free(&v->text_to_id);
	cn_free(v->tokens);
	cn_arena_free(&v->arena);
	cn_free(v);
}

static uint32_t default_attr(const cn_vocab_spec *s, uint32_t i, const char *text, size_t len)
{
	int32_t id = (int32_t)i;
	if (id == s->unk)
		return CN_TOKEN_UNKNOWN;
	if (id == s->bos || id == s->eos || id == s->eot || id == s->eom || id == s->sep || id == s->pad ||
	    id == s->cls || id == s->mask)
		return CN_TOKEN_CONTROL;
	if ((s->kind == CN_VOCAB_SPM || s->kind == CN_VOCAB_UGM) && byte_piece_value(text, len) >= 0)
		return CN_TOKEN_BYTE;
	return CN_TOKEN_NORMAL;
}

cairn_status cn_vocab_build(const cn_vocab_spec *spec, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	const char *name = spec->name ? spec->name : "vocabulary";
	const cn_vocab_algo *ops = algo_for(spec->kind);
	if (!ops)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: unknown tokenizer kind %d", name, (int)spec->kind);
	if (spec->n_tokens == 0 || !spec->tokens)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: the vocabulary has no tokens", name);
	if (spec->n_tokens > (1u << 24))
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: %u tokens is more than the 16777216 cairn accepts",
		                  name, spec->n_tokens);

	cn_vocab *v = cn_calloc(1, sizeof(*v));
	if (!v)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_arena_init(&v->arena, 1 << 16);
	cn_strmap_init(&v->text_to_id);
	v->kind = spec->kind;
	v->n_tokens = spec->n_tokens;
	v->n_merges = spec->n_merges;
	snprintf(v->pre, sizeof(v->pre), "%s", spec->pre && *spec->pre ? spec->pre : "");
	v->tokens = cn_calloc(spec->n_tokens, sizeof(*v->tokens));
	v->map_to_token = cn_calloc(spec->n_tokens, sizeof(int32_t));
	if (!v->tokens || !v->map_to_token)
		goto oom;

	for (uint32_t i = 0; i < spec->n_tokens; i++) {
		const cn_gguf_str *t = &spec->tokens[i];
		if (t->len >= (1u << 20)) {
			cn_err_set(err, CAIRN_EFORMAT, "%s: token %u is %llu bytes long", name, i, (unsigned long long)t->len);
			cn_vocab_free(v);
			return CAIRN_EFORMAT;
		}
		char *copy = cn_arena_strndup(&v->arena, t->len ? t->ptr : "", (size_t)t->len);
		if (!copy)
			goto oom;
		v->tokens[i].text = copy;
		v->tokens[i].len = (uint32_t)t->len;
		v->tokens[i].score = spec->scores ? spec->scores[i] : 0.0f;
		v->tokens[i].attr = spec->attrs && spec->attrs[i] ? spec->attrs[i] : default_attr(spec, i, copy, (size_t)t->len);
		uint32_t mid;
		bool added;
		if (cn_strmap_put(&v->text_to_id, copy, (size_t)t->len, &mid, &added) != CAIRN_OK)
			goto oom;
		if (added)
			v->map_to_token[mid] = (int32_t)i;
	}

	v->bos = checked_id(v, spec->bos);
	v->eos = checked_id(v, spec->eos);
	v->eot = checked_id(v, spec->eot);
	v->eom = checked_id(v, spec->eom);
	v->unk = checked_id(v, spec->unk);
	v->sep = checked_id(v, spec->sep);
	v->pad = checked_id(v, spec->pad);
	v->cls = checked_id(v, spec->cls);
	v->mask = checked_id(v, spec->mask);
	bool spm_like = spec->kind == CN_VOCAB_SPM || spec->kind == CN_VOCAB_UGM;
	v->add_bos = spec->add_bos >= 0 ? spec->add_bos != 0 : (spm_like || spec->kind == CN_VOCAB_WPM);
	v->add_eos = spec->add_eos >= 0 ? spec->add_eos != 0 : spec->kind == CN_VOCAB_WPM;
	v->add_space_prefix = spec->add_space_prefix >= 0 ? spec->add_space_prefix != 0 : spm_like;
	v->remove_extra_whitespaces = spec->remove_extra_whitespaces > 0;
	v->treat_whitespace_as_suffix = spec->treat_whitespace_as_suffix > 0;
	v->byte_fallback = spec->byte_fallback;
	v->lowercase = spec->lowercase;
	if (v->kind == CN_VOCAB_WPM) {
		/* BERT's template is [CLS] text [SEP]; files that name BOS/EOS instead mean the same. */
		if (v->cls < 0)
			v->cls = v->bos;
		if (v->sep < 0)
			v->sep = v->eos;
	}

	v->ops = ops;
	cairn_status rc = ops->init(v, spec, err);
	if (rc != CAIRN_OK) {
		cn_err_prefix(err, "%s: ", name);
		cn_vocab_free(v);
		return rc;
	}
	rc = build_specials(v, err);
	if (rc != CAIRN_OK) {
		cn_vocab_free(v);
		return rc;
	}
	*out = v;
	return CAIRN_OK;
oom:
	cn_vocab_free(v);
	return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory building the vocabulary", name);
}

/* ---- encoding --------------------------------------------------------------------------- */

static bool is_space_byte(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static cairn_status encode_fragment(const cn_vocab *v, const char *text, size_t len, unsigned fflags,
                                    cn_tokvec *out, cn_err *err)
{
	if (len == 0)
		return CAIRN_OK;
	return v->ops->encode(v, text, len, fflags, out, err);
}

cairn_status cn_vocab_encode(const cn_vocab *v, const char *text, size_t len, unsigned flags,
                             cn_tokvec *out, cn_err *err)
{
	if (!text && len)
		return cn_err_set(err, CAIRN_EINVAL, "tokenize: NULL text");
	bool add = (flags & CN_TOK_ADD_SPECIAL) != 0;
	bool parse = (flags & CN_TOK_PARSE_SPECIAL) != 0;
	int32_t first = v->kind == CN_VOCAB_WPM ? v->cls : v->bos;
	int32_t last = v->kind == CN_VOCAB_WPM ? v->sep : v->eos;
	if (add && v->add_bos && first >= 0 && cn_tokvec_push(out, first) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");

	size_t frag = 0; /* start of the pending plain fragment */
	size_t i = 0;
	unsigned fflags = CN_FRAG_FIRST;
	cairn_status rc = CAIRN_OK;
	if (v->n_specials && len) {
		while (i < len) {
			uint8_t c = (uint8_t)text[i];
			if (!v->special_first_byte[c]) {
				i++;
				continue;
			}
			int32_t hit = -1;
			uint32_t hit_len = 0;
			for (uint32_t k = 0; k < v->n_specials; k++) {
				uint32_t n = v->special_len[k];
				if (n > len - i || (uint8_t)v->special_text[k][0] != c)
					continue;
				uint32_t attr = v->tokens[v->specials[k]].attr;
				if (!parse && (attr & (CN_TOKEN_CONTROL | CN_TOKEN_UNKNOWN)))
					continue;
				if (memcmp(text + i, v->special_text[k], n) == 0) {
					hit = v->specials[k];
					hit_len = n;
					break; /* longest first */
				}
			}
			if (hit < 0) {
				i++;
				continue;
			}
			size_t left_end = i;
			if (v->tokens[hit].attr & CN_TOKEN_LSTRIP)
				while (left_end > frag && is_space_byte((uint8_t)text[left_end - 1]))
					left_end--;
			rc = encode_fragment(v, text + frag, left_end - frag, fflags, out, err);
			if (rc != CAIRN_OK)
				return rc;
			if (cn_tokvec_push(out, hit) != CAIRN_OK)
				return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			i += hit_len;
			if (v->tokens[hit].attr & CN_TOKEN_RSTRIP)
				while (i < len && is_space_byte((uint8_t)text[i]))
					i++;
			frag = i;
			fflags = CN_FRAG_FIRST | CN_FRAG_AFTER_SPECIAL;
		}
	}
	rc = encode_fragment(v, text + frag, len - frag, fflags, out, err);
	if (rc != CAIRN_OK)
		return rc;
	if (add && v->add_eos && last >= 0 && cn_tokvec_push(out, last) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	return CAIRN_OK;
}

int64_t cn_vocab_count(const cn_vocab *v, const char *text, size_t len, unsigned flags)
{
	cn_tokvec heap;
	cn_tokvec_init(&heap);
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_encode(v, text, len, flags, &heap, &err) != CAIRN_OK) {
		cn_tokvec_free(&heap);
		return -1;
	}
	int64_t n = (int64_t)heap.n;
	cn_tokvec_free(&heap);
	return n;
}

/* ---- decoding --------------------------------------------------------------------------- */

static bool strips_first_space(const cn_vocab *v)
{
	return v->kind == CN_VOCAB_WPM || ((v->kind == CN_VOCAB_SPM || v->kind == CN_VOCAB_UGM) && v->add_space_prefix);
}

static void append_piece(const cn_vocab *v, int32_t id, unsigned flags, cn_buf *out)
{
	const cn_vocab_token *t = &v->tokens[id];
	if (t->attr & (CN_TOKEN_CONTROL | CN_TOKEN_UNKNOWN)) {
		if (flags & CN_DETOK_SPECIAL)
			cn_buf_append(out, t->text, t->len);
		return;
	}
	if ((t->attr & CN_TOKEN_USER_DEFINED) && v->kind != CN_VOCAB_BPE) {
		cn_buf_append(out, t->text, t->len);
		return;
	}
	v->ops->piece(v, id, out);
}

cairn_status cn_vocab_piece(const cn_vocab *v, int32_t id, unsigned flags, cn_buf *out, cn_err *err)
{
	if (!id_ok(v, id))
		return cn_err_set(err, CAIRN_EINVAL, "token id %d is outside the vocabulary (0..%u)", id, v->n_tokens - 1);
	append_piece(v, id, flags, out);
	return out->failed ? cn_err_set(err, CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

cairn_status cn_vocab_decode(const cn_vocab *v, const int32_t *ids, size_t n, unsigned flags,
                             cn_buf *out, cn_err *err)
{
	bool strip = strips_first_space(v) && !(flags & CN_DETOK_KEEP_PREFIX);
	size_t start = out->len;
	for (size_t i = 0; i < n; i++) {
		if (!id_ok(v, ids[i]))
			return cn_err_set(err, CAIRN_EINVAL, "token id %d at position %zu is outside the vocabulary (0..%u)",
			                  ids[i], i, v->n_tokens - 1);
		size_t before = out->len;
		append_piece(v, ids[i], flags, out);
		if (strip && out->len > before) {
			/* The space SentencePiece prepends (and WordPiece's word separator) belongs
			 * to the encoding, not to the text — but only at the very start. */
			if (before == start && out->data[before] == ' ') {
				memmove(out->data + before, out->data + before + 1, out->len - before - 1);
				out->len--;
				out->data[out->len] = '\0';
			}
			strip = false;
		}
	}
	return out->failed ? cn_err_set(err, CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

/* ---- introspection ---------------------------------------------------------------------- */

void cn_vocab_get_info(const cn_vocab *v, cn_vocab_info *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = v->kind;
	o->pre = v->pre;
	o->n_tokens = v->n_tokens;
	o->n_merges = v->n_merges;
	o->bos = v->bos, o->eos = v->eos, o->eot = v->eot, o->eom = v->eom, o->unk = v->unk;
	o->sep = v->sep, o->pad = v->pad, o->cls = v->cls, o->mask = v->mask;
	o->add_bos = v->add_bos, o->add_eos = v->add_eos, o->add_space_prefix = v->add_space_prefix;
}

const char *cn_vocab_token_text(const cn_vocab *v, int32_t id, size_t *len)
{
	if (!id_ok(v, id))
		return NULL;
	if (len)
		*len = v->tokens[id].len;
	return v->tokens[id].text;
}

uint32_t cn_vocab_token_attr(const cn_vocab *v, int32_t id) { return id_ok(v, id) ? v->tokens[id].attr : 0; }

float cn_vocab_token_score(const cn_vocab *v, int32_t id) { return id_ok(v, id) ? v->tokens[id].score : 0.0f; }

int32_t cn_vocab_find(const cn_vocab *v, const char *text, size_t len) { return cn_vocab_lookup(v, text, len); }

bool cn_vocab_is_eog(const cn_vocab *v, int32_t id)
{
	return id >= 0 && (id == v->eos || id == v->eot || id == v->eom);
}
