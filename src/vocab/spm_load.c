/*
 * spm_load.c — SentencePiece vocabularies from the three files that carry them: the
 * `tokenizer.model` protobuf (ModelProto), llama2.c's `tokenizer.bin`, and Hugging Face
 * tokenizer.json with a Unigram model.
 *
 * ModelProto is read by a small protobuf wire-format walker rather than a protobuf library:
 * only a dozen fields matter (pieces {piece, score, type}; trainer_spec {model_type,
 * byte_fallback, treat_whitespace_as_suffix, unk/bos/eos/pad ids}; normalizer_spec
 * {precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces}),
 * and a hand walker lets every length be checked against the bytes that remain before it is
 * used. Fields we do not need are skipped by wire type; a known field with the wrong wire
 * type, a truncated varint or a length past the end is an error naming the byte offset.
 * proto2 defaults apply to absent fields (add_dummy_prefix and remove_extra_whitespaces
 * default to true, model_type to UNIGRAM).
 *
 * Memory is bounded by the file: the piece arrays grow with pieces actually present, and
 * piece texts and the charsmap point into the caller's mapping (cn_vocab_build copies).
 */
#include "vocab/vocab_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- protobuf wire format ------------------------------------------------------------- */

typedef struct pb {
	const uint8_t *base; /* start of the file, for offsets in messages */
	const uint8_t *p, *end;
	const char *path;
	cn_err *err;
} pb;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static cairn_status pb_fail(pb *r, const char *what)
{
	return cn_err_set(r->err, CAIRN_EFORMAT, "%s: byte %zu: %s (not a SentencePiece model?)", r->path,
	                  (size_t)(r->p - r->base), what);
}

static cairn_status pb_varint(pb *r, uint64_t *v)
{
	size_t n = cn_varint_get(r->p, r->end, v);
	if (n == 0)
		return pb_fail(r, "truncated or over-long varint");
	r->p += n;
	return CAIRN_OK;
}

/* Reads a field key; *field = 0 at the end of the message. */
static cairn_status pb_key(pb *r, uint32_t *field, uint32_t *wt)
{
	if (r->p >= r->end) {
		*field = 0;
		return CAIRN_OK;
	}
	uint64_t k;
	cairn_status st = pb_varint(r, &k);
	if (st != CAIRN_OK)
		return st;
	*wt = (uint32_t)(k & 7);
	if ((k >> 3) == 0 || (k >> 3) > 0x1FFFFFFF)
		return pb_fail(r, "invalid field number 0");
	*field = (uint32_t)(k >> 3);
	return CAIRN_OK;
}

static cairn_status pb_len(pb *r, const uint8_t **data, size_t *len)
{
	uint64_t n;
	cairn_status st = pb_varint(r, &n);
	if (st != CAIRN_OK)
		return st;
	if (n > (uint64_t)(r->end - r->p))
		return pb_fail(r, "length-delimited field runs past the end of its message");
	*data = r->p;
	*len = (size_t)n;
	r->p += n;
	return CAIRN_OK;
}

static cairn_status pb_skip(pb *r, uint32_t wt)
{
	uint64_t v;
	const uint8_t *d;
	size_t n;
	switch (wt) {
	case WT_VARINT: return pb_varint(r, &v);
	case WT_LEN: return pb_len(r, &d, &n);
	case WT_I64:
		if (r->end - r->p < 8)
			return pb_fail(r, "truncated 64-bit field");
		r->p += 8;
		return CAIRN_OK;
	case WT_I32:
		if (r->end - r->p < 4)
			return pb_fail(r, "truncated 32-bit field");
		r->p += 4;
		return CAIRN_OK;
	default: return pb_fail(r, "unsupported wire type (groups or invalid)");
	}
}

static cairn_status pb_expect(pb *r, uint32_t wt, uint32_t want, const char *field)
{
	if (wt == want)
		return CAIRN_OK;
	char msg[128];
	snprintf(msg, sizeof msg, "field %s has wire type %u, expected %u", field, wt, want);
	return pb_fail(r, msg);
}

static cairn_status pb_int(pb *r, uint32_t wt, const char *field, int64_t *out)
{
	cairn_status st = pb_expect(r, wt, WT_VARINT, field);
	uint64_t v = 0;
	if (st == CAIRN_OK)
		st = pb_varint(r, &v);
	*out = (int64_t)v; /* int32 fields: negative values are 10-byte two's complement */
	return st;
}

/* A sub-message reader over data[0..len). */
static pb pb_sub(const pb *r, const uint8_t *data, size_t len)
{
	return (pb){.base = r->base, .p = data, .end = data + len, .path = r->path, .err = r->err};
}

/* ---- ModelProto ----------------------------------------------------------------------- */

enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_USER_DEFINED = 4, SP_UNUSED = 5, SP_BYTE = 6 };
enum { MT_UNIGRAM = 1, MT_BPE = 2, MT_WORD = 3, MT_CHAR = 4 };

typedef struct spm_model {
	cn_gguf_str *tokens;
	float *scores;
	uint32_t *attrs;
	size_t n, cap;
	int64_t model_type;
	bool byte_fallback, suffix;
	int64_t unk_id, bos_id, eos_id, pad_id;
	bool add_dummy_prefix, remove_extra, escape_ws;
	const uint8_t *charsmap;
	size_t charsmap_len;
} spm_model;

static cairn_status parse_piece(pb *r, spm_model *m)
{
	const uint8_t *text = NULL;
	size_t len = 0;
	float score = 0.0f;
	int64_t type = SP_NORMAL;
	uint32_t f, wt;
	cairn_status st;
	while ((st = pb_key(r, &f, &wt)) == CAIRN_OK && f) {
		if (f == 1) {
			if ((st = pb_expect(r, wt, WT_LEN, "pieces.piece")) != CAIRN_OK ||
			    (st = pb_len(r, &text, &len)) != CAIRN_OK)
				return st;
		} else if (f == 2) {
			if ((st = pb_expect(r, wt, WT_I32, "pieces.score")) != CAIRN_OK)
				return st;
			if (r->end - r->p < 4)
				return pb_fail(r, "truncated piece score");
			uint32_t bits = cn_load_u32le(r->p);
			memcpy(&score, &bits, 4);
			r->p += 4;
		} else if (f == 3) {
			if ((st = pb_int(r, wt, "pieces.type", &type)) != CAIRN_OK)
				return st;
		} else if ((st = pb_skip(r, wt)) != CAIRN_OK) {
			return st;
		}
	}
	if (st != CAIRN_OK)
		return st;
	size_t idx = m->n;
	if (!text || len == 0)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: piece %zu has no text", r->path, idx);
	if (len >= (1u << 20))
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: piece %zu is %zu bytes long", r->path, idx, len);
	if (isnan(score))
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: piece %zu has a NaN score", r->path, idx);
	uint32_t attr;
	switch (type) {
	case SP_NORMAL: attr = CN_TOKEN_NORMAL; break;
	case SP_UNKNOWN: attr = CN_TOKEN_UNKNOWN; break;
	case SP_CONTROL: attr = CN_TOKEN_CONTROL; break;
	case SP_USER_DEFINED: attr = CN_TOKEN_USER_DEFINED; break;
	case SP_UNUSED: attr = CN_TOKEN_UNUSED; break;
	case SP_BYTE: attr = CN_TOKEN_BYTE; break;
	default:
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: piece %zu has unknown type %lld", r->path, idx,
		                  (long long)type);
	}
	if (m->n >= (1u << 24))
		return cn_err_set(r->err, CAIRN_ETOOBIG, "%s: more than 16777216 pieces", r->path);
	if (m->n == m->cap) {
		size_t c1 = m->cap, c2 = m->cap, c3 = m->cap;
		if (CN_GROW(m->tokens, c1, m->n + 1) != CAIRN_OK || CN_GROW(m->scores, c2, m->n + 1) != CAIRN_OK ||
		    CN_GROW(m->attrs, c3, m->n + 1) != CAIRN_OK)
			return cn_err_set(r->err, CAIRN_ENOMEM, "%s: out of memory", r->path);
		m->cap = CN_MIN(c1, CN_MIN(c2, c3));
	}
	m->tokens[m->n] = (cn_gguf_str){(const char *)text, len};
	m->scores[m->n] = score;
	m->attrs[m->n] = attr;
	m->n++;
	return CAIRN_OK;
}

static cairn_status parse_trainer(pb *r, spm_model *m)
{
	uint32_t f, wt;
	cairn_status st;
	int64_t v;
	while ((st = pb_key(r, &f, &wt)) == CAIRN_OK && f) {
		const char *name = NULL;
		int64_t *dst = NULL;
		bool *flag = NULL;
		switch (f) {
		case 3: name = "trainer_spec.model_type", dst = &m->model_type; break;
		case 24: name = "trainer_spec.treat_whitespace_as_suffix", flag = &m->suffix; break;
		case 35: name = "trainer_spec.byte_fallback", flag = &m->byte_fallback; break;
		case 40: name = "trainer_spec.unk_id", dst = &m->unk_id; break;
		case 41: name = "trainer_spec.bos_id", dst = &m->bos_id; break;
		case 42: name = "trainer_spec.eos_id", dst = &m->eos_id; break;
		case 43: name = "trainer_spec.pad_id", dst = &m->pad_id; break;
		default: break;
		}
		if (!name) {
			if ((st = pb_skip(r, wt)) != CAIRN_OK)
				return st;
			continue;
		}
		if ((st = pb_int(r, wt, name, &v)) != CAIRN_OK)
			return st;
		if (dst)
			*dst = f >= 40 ? (int64_t)(int32_t)v : v;
		else
			*flag = v != 0;
	}
	return st;
}

static cairn_status parse_normalizer(pb *r, spm_model *m)
{
	uint32_t f, wt;
	cairn_status st;
	int64_t v;
	while ((st = pb_key(r, &f, &wt)) == CAIRN_OK && f) {
		bool *flag = NULL;
		const char *name = NULL;
		switch (f) {
		case 2:
			if ((st = pb_expect(r, wt, WT_LEN, "normalizer_spec.precompiled_charsmap")) != CAIRN_OK ||
			    (st = pb_len(r, &m->charsmap, &m->charsmap_len)) != CAIRN_OK)
				return st;
			continue;
		case 3: name = "normalizer_spec.add_dummy_prefix", flag = &m->add_dummy_prefix; break;
		case 4: name = "normalizer_spec.remove_extra_whitespaces", flag = &m->remove_extra; break;
		case 5: name = "normalizer_spec.escape_whitespaces", flag = &m->escape_ws; break;
		default: break;
		}
		if (!flag) {
			if ((st = pb_skip(r, wt)) != CAIRN_OK)
				return st;
			continue;
		}
		if ((st = pb_int(r, wt, name, &v)) != CAIRN_OK)
			return st;
		*flag = v != 0;
	}
	return st;
}

static int32_t special_id(const spm_model *m, int64_t id)
{
	if (id < 0 || (uint64_t)id >= m->n)
		return -1;
	/* sentencepiece only honours bos/eos/pad ids whose piece is a control (or user) symbol */
	return (m->attrs[id] & (CN_TOKEN_CONTROL | CN_TOKEN_USER_DEFINED)) ? (int32_t)id : -1;
}

cairn_status cn_vocab_load_spm_model(const char *path, const uint8_t *data, size_t len,
                                     cn_vocab **out, cn_err *err)
{
	*out = NULL;
	spm_model m = {.model_type = MT_UNIGRAM, .unk_id = 0, .bos_id = 1, .eos_id = 2, .pad_id = -1,
	               .add_dummy_prefix = true, .remove_extra = true, .escape_ws = true};
	pb r = {.base = data, .p = data, .end = data + len, .path = path, .err = err};
	uint32_t f, wt;
	cairn_status st;
	while ((st = pb_key(&r, &f, &wt)) == CAIRN_OK && f) {
		if (f >= 1 && f <= 3) {
			static const char *const names[] = {"", "pieces", "trainer_spec", "normalizer_spec"};
			const uint8_t *d;
			size_t n;
			if ((st = pb_expect(&r, wt, WT_LEN, names[f])) != CAIRN_OK || (st = pb_len(&r, &d, &n)) != CAIRN_OK)
				break;
			pb sub = pb_sub(&r, d, n);
			st = f == 1 ? parse_piece(&sub, &m) : f == 2 ? parse_trainer(&sub, &m) : parse_normalizer(&sub, &m);
			if (st != CAIRN_OK)
				break;
		} else if ((st = pb_skip(&r, wt)) != CAIRN_OK) {
			break;
		}
	}
	if (st == CAIRN_OK && m.n == 0)
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: the model has no pieces", path);
	cn_vocab_kind kind = CN_VOCAB_NONE;
	if (st == CAIRN_OK) {
		if (m.model_type == MT_UNIGRAM)
			kind = CN_VOCAB_UGM;
		else if (m.model_type == MT_BPE)
			kind = CN_VOCAB_SPM;
		else
			st = cn_err_set(err, CAIRN_EUNSUPPORTED,
			                "%s: SentencePiece model_type %lld is not supported (unigram and BPE are; "
			                "WORD and CHAR are not)", path, (long long)m.model_type);
	}
	if (st == CAIRN_OK && !m.escape_ws)
		st = cn_err_set(err, CAIRN_EUNSUPPORTED,
		                "%s: normalizer_spec.escape_whitespaces = false is not supported", path);
	int32_t unk = -1;
	for (size_t i = 0; st == CAIRN_OK && i < m.n; i++)
		if (m.attrs[i] & CN_TOKEN_UNKNOWN) {
			if (unk >= 0) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s: pieces %d and %zu are both of type UNKNOWN",
				                path, unk, i);
				break;
			}
			unk = (int32_t)i;
		}
	if (st == CAIRN_OK && unk < 0)
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: no piece of type UNKNOWN (the model needs an unk piece)", path);
	if (st == CAIRN_OK) {
		cn_vocab_spec s;
		cn_vocab_spec_init(&s);
		s.name = path;
		s.kind = kind;
		s.n_tokens = (uint32_t)m.n;
		s.tokens = m.tokens;
		s.scores = m.scores;
		s.attrs = m.attrs;
		s.unk = unk;
		s.bos = special_id(&m, m.bos_id);
		s.eos = special_id(&m, m.eos_id);
		s.pad = special_id(&m, m.pad_id);
		s.add_space_prefix = m.add_dummy_prefix;
		s.remove_extra_whitespaces = m.remove_extra;
		s.treat_whitespace_as_suffix = m.suffix;
		s.byte_fallback = m.byte_fallback;
		s.charsmap = m.charsmap_len ? m.charsmap : NULL;
		s.charsmap_len = m.charsmap_len;
		st = cn_vocab_build(&s, out, err);
	}
	cn_free(m.tokens);
	cn_free(m.scores);
	cn_free(m.attrs);
	return st;
}

/* ---- llama2.c tokenizer.bin ----------------------------------------------------------- */

static bool is_byte_piece(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return false;
	for (int i = 3; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

cairn_status cn_vocab_load_llama2c(const char *path, const uint8_t *data, size_t len,
                                   cn_vocab **out, cn_err *err)
{
	*out = NULL;
	if (len < 4)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: too short for a llama2.c tokenizer (%zu bytes)", path, len);
	int32_t max_len = (int32_t)cn_load_u32le(data);
	if (max_len <= 0 || max_len > (1 << 16))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: max_token_length %d is not plausible for a llama2.c tokenizer",
		                  path, max_len);
	/* pass 1: count and validate; each token is at least 8 bytes, so n ≤ len / 8 */
	size_t n = 0, bytes = 0;
	for (size_t off = 4; off < len; n++) {
		if (len - off < 8)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: byte %zu: token %zu is truncated", path, off, n);
		int32_t l = (int32_t)cn_load_u32le(data + off + 4);
		if (l < 0 || l > max_len || (size_t)l > len - off - 8)
			return cn_err_set(err, CAIRN_EFORMAT,
			                  "%s: byte %zu: token %zu has length %d (max_token_length %d, %zu bytes left)",
			                  path, off, n, l, max_len, len - off - 8);
		off += 8 + (size_t)l;
		bytes += (size_t)l;
	}
	if (n == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: the tokenizer has no tokens", path);
	if (n > (1u << 24))
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: %zu tokens", path, n);
	cn_gguf_str *toks = cn_malloc(n * sizeof *toks);
	float *scores = cn_malloc(n * sizeof *scores);
	uint32_t *attrs = cn_malloc(n * sizeof *attrs);
	/* texts with ' ' → U+2581 (3 bytes), NUL-separated */
	char *texts = cn_malloc(bytes * 3 + n);
	if (!toks || !scores || !attrs || !texts) {
		cn_free(toks), cn_free(scores), cn_free(attrs), cn_free(texts);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	bool byte_fallback = false;
	char *w = texts;
	size_t off = 4;
	for (size_t i = 0; i < n; i++) {
		uint32_t sb = cn_load_u32le(data + off);
		memcpy(&scores[i], &sb, 4);
		if (isnan(scores[i]))
			scores[i] = -INFINITY;
		size_t l = cn_load_u32le(data + off + 4);
		const uint8_t *src = data + off + 8;
		char *start = w;
		for (size_t k = 0; k < l; k++) {
			if (src[k] == ' ') {
				memcpy(w, "\xE2\x96\x81", 3);
				w += 3;
			} else {
				*w++ = (char)src[k];
			}
		}
		toks[i] = (cn_gguf_str){start, (uint64_t)(w - start)};
		*w++ = '\0';
		/* llama2.c's export wrote the specials as "<unk>", "\n<s>\n", "\n</s>\n" */
		if (i == 0)
			attrs[i] = CN_TOKEN_UNKNOWN;
		else if (i <= 2)
			attrs[i] = CN_TOKEN_CONTROL;
		else if (is_byte_piece(start, (size_t)(toks[i].len)))
			attrs[i] = CN_TOKEN_BYTE, byte_fallback = true;
		else
			attrs[i] = CN_TOKEN_NORMAL;
		off += 8 + l;
	}
	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = path;
	s.kind = CN_VOCAB_SPM;
	s.n_tokens = (uint32_t)n;
	s.tokens = toks;
	s.scores = scores;
	s.attrs = attrs;
	s.unk = 0;
	s.bos = n > 1 ? 1 : -1;
	s.eos = n > 2 ? 2 : -1;
	s.byte_fallback = byte_fallback;
	s.add_space_prefix = 1;
	s.remove_extra_whitespaces = 0;
	cairn_status st = cn_vocab_build(&s, out, err);
	cn_free(toks), cn_free(scores), cn_free(attrs), cn_free(texts);
	return st;
}

/* ---- tokenizer.json Unigram ----------------------------------------------------------- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes base64 into a cn_malloc'd buffer; false on a bad character. */
static bool b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = cn_malloc(n / 4 * 3 + 3);
	if (!buf)
		return false;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			cn_free(buf);
			return false;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	*out = buf;
	*out_len = o;
	return true;
}

typedef struct hf_norm {
	const char *charsmap_b64;
	size_t charsmap_b64_len;
	bool collapse_spaces; /* Replace(" {2,}", " "), as T5-style converters write */
	bool prepend;         /* Prepend("▁") (newer converters put the prefix here) */
	bool unsupported;
	const char *unsupported_type;
} hf_norm;

static void read_hf_normalizer(json_t *n, hf_norm *h, int depth)
{
	if (!json_is_object(n) || depth > 4)
		return;
	const char *type = json_string_value(json_object_get(n, "type"));
	if (!type)
		return;
	if (strcmp(type, "Sequence") == 0) {
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(n, "normalizers"), i, p) read_hf_normalizer(p, h, depth + 1);
	} else if (strcmp(type, "Precompiled") == 0) {
		json_t *cm = json_object_get(n, "precompiled_charsmap");
		if (json_is_string(cm)) {
			h->charsmap_b64 = json_string_value(cm);
			h->charsmap_b64_len = json_string_length(cm);
		}
	} else if (strcmp(type, "Replace") == 0) {
		json_t *pat = json_object_get(n, "pattern");
		const char *re = json_string_value(json_object_get(pat, "Regex"));
		const char *str = json_string_value(json_object_get(pat, "String"));
		const char *content = json_string_value(json_object_get(n, "content"));
		if (re && content && strcmp(re, " {2,}") == 0 && strcmp(content, " ") == 0)
			h->collapse_spaces = true;
		else if (str && content && strcmp(str, " ") == 0 && strcmp(content, "\xE2\x96\x81") == 0)
			; /* space escaping: the algorithm does it */
		else if (!h->unsupported)
			h->unsupported = true, h->unsupported_type = "Replace";
	} else if (strcmp(type, "Prepend") == 0) {
		const char *p = json_string_value(json_object_get(n, "prepend"));
		if (p && strcmp(p, "\xE2\x96\x81") == 0)
			h->prepend = true;
	} else if (strcmp(type, "NFKC") == 0 || strcmp(type, "NFC") == 0 || strcmp(type, "NFD") == 0 ||
	           strcmp(type, "NFKD") == 0 || strcmp(type, "Lowercase") == 0 || strcmp(type, "StripAccents") == 0 ||
	           strcmp(type, "BertNormalizer") == 0) {
		if (!h->unsupported)
			h->unsupported = true, h->unsupported_type = type;
	}
}

/* Metaspace pre-tokenizer: whether a ▁ goes before the text (add_prefix_space, or
 * prepend_scheme "always"/"first"). -1 when there is none. */
static int read_metaspace(json_t *p, int depth)
{
	if (!json_is_object(p) || depth > 4)
		return -1;
	const char *type = json_string_value(json_object_get(p, "type"));
	if (!type)
		return -1;
	if (strcmp(type, "Sequence") == 0) {
		size_t i;
		json_t *q;
		json_array_foreach(json_object_get(p, "pretokenizers"), i, q) {
			int r = read_metaspace(q, depth + 1);
			if (r >= 0)
				return r;
		}
		return -1;
	}
	if (strcmp(type, "Metaspace") != 0)
		return -1;
	const char *scheme = json_string_value(json_object_get(p, "prepend_scheme"));
	if (scheme)
		return strcmp(scheme, "never") != 0;
	json_t *aps = json_object_get(p, "add_prefix_space");
	return json_is_boolean(aps) ? json_is_true(aps) : 1;
}

cairn_status cn_tokjson_unigram(const cn_tokjson *tj, cn_vocab **out, cn_err *err)
{
	*out = NULL;
	const char *path = tj->path;
	json_t *vocab = json_object_get(tj->model, "vocab");
	if (!json_is_array(vocab) || json_array_size(vocab) == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: Unigram model.vocab is not a non-empty array", path);
	size_t n = json_array_size(vocab);
	if (n > (1u << 24))
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: %zu vocabulary entries", path, n);
	json_t *unk_j = json_object_get(tj->model, "unk_id");
	int64_t unk = json_is_integer(unk_j) ? json_integer_value(unk_j) : -1;
	bool byte_fallback = json_is_true(json_object_get(tj->model, "byte_fallback"));

	hf_norm h = {0};
	read_hf_normalizer(json_object_get(tj->root, "normalizer"), &h, 0);
	if (h.unsupported)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: Unigram with a %s normalizer is not supported", path,
		                  h.unsupported_type);
	int meta = read_metaspace(json_object_get(tj->root, "pre_tokenizer"), 0);

	uint32_t nt = (uint32_t)n;
	cn_gguf_str *toks = cn_malloc(n * sizeof *toks);
	float *scores = cn_malloc(n * sizeof *scores);
	uint32_t *attrs = cn_malloc(n * sizeof *attrs);
	uint8_t *cm = NULL;
	size_t cm_len = 0;
	cn_arena arena;
	cn_arena_init(&arena, 4096);
	cairn_status st = CAIRN_OK;
	if (!toks || !scores || !attrs)
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
		json_t *e = json_array_get(vocab, i);
		json_t *p = json_array_get(e, 0), *sc = json_array_get(e, 1);
		if (!json_is_array(e) || !json_is_string(p) || !json_is_number(sc) || json_string_length(p) == 0) {
			st = cn_err_set(err, CAIRN_EFORMAT, "%s: model.vocab[%zu] is not [\"piece\", score]", path, i);
			break;
		}
		toks[i] = (cn_gguf_str){json_string_value(p), json_string_length(p)};
		scores[i] = (float)json_number_value(sc);
		if ((int64_t)i == unk)
			attrs[i] = CN_TOKEN_UNKNOWN;
		else if (byte_fallback && is_byte_piece(toks[i].ptr, (size_t)toks[i].len))
			attrs[i] = CN_TOKEN_BYTE;
		else
			attrs[i] = CN_TOKEN_NORMAL;
	}
	if (st == CAIRN_OK && h.charsmap_b64 && !b64_decode(h.charsmap_b64, h.charsmap_b64_len, &cm, &cm_len))
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: precompiled_charsmap is not base64", path);
	if (st == CAIRN_OK)
		st = cn_tokjson_merge_added(tj, &arena, &toks, &attrs, &scores, &nt, err);
	if (st == CAIRN_OK) {
		cn_vocab_spec s;
		cn_vocab_spec_init(&s);
		s.name = path;
		s.kind = CN_VOCAB_UGM;
		s.n_tokens = nt;
		s.tokens = toks;
		s.scores = scores;
		s.attrs = attrs;
		s.unk = unk >= 0 && unk < (int64_t)nt ? (int32_t)unk : -1;
		s.byte_fallback = byte_fallback;
		s.add_space_prefix = meta >= 0 ? meta : h.prepend;
		s.remove_extra_whitespaces = h.collapse_spaces;
		s.charsmap = cm;
		s.charsmap_len = cm_len;
		if (tj->prefix_id >= 0)
			s.bos = tj->prefix_id, s.add_bos = 1;
		else
			s.add_bos = 0;
		if (tj->suffix_id >= 0)
			s.eos = tj->suffix_id, s.add_eos = 1;
		else
			s.add_eos = 0;
		st = cn_vocab_build(&s, out, err);
	}
	cn_free(toks), cn_free(scores), cn_free(attrs), cn_free(cm);
	cn_arena_free(&arena);
	return st;
}
