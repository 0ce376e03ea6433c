/*
 * JSON Lines reader for BEIR-style corpora: {"_id": …, "title": …, "text": …, …} per line.
 *
 * The reader walks the caller's buffer line by line (memchr), so a bad line costs only that
 * line: it is reported as "path:LINE: reason" and the cursor is already past it, letting the
 * caller log and continue. Each line is UTF-8-checked first (so messages can say where).
 * The record's strings live in the reader's buffers until the next call; metadata is
 * re-encoded as a flat JSON object of strings (the keys other than _id/title/text, and the
 * keys of a nested "metadata" object; top-level keys win).
 */
#include "ingest/ingest_int.h"

#include <string.h>

struct cn_jsonl_reader {
	char *path;
	const char *data;
	size_t len, pos;
	uint64_t line;
	bool text_not_string;
	cn_buf meta, id, title, text, scratch;
};

cairn_status cn_jsonl_open(const char *path, const char *data, size_t len, cn_jsonl_reader **out,
			   cn_err *err)
{
	*out = NULL;
	if (!path)
		path = "(input)";
	if (!data && len)
		return cn_err_set(err, CAIRN_EINVAL, "%s: no data", path);
	cn_jsonl_reader *r = cn_calloc(1, sizeof *r);
	if (!r)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	r->path = cn_strdup(path);
	if (!r->path) {
		cn_free(r);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	r->data = data ? data : "";
	r->len = len;
	r->pos = cn_ing_bom(r->data, len);
	cn_buf_init(&r->meta);
	cn_buf_init(&r->id);
	cn_buf_init(&r->title);
	cn_buf_init(&r->text);
	cn_buf_init(&r->scratch);
	*out = r;
	return CAIRN_OK;
}

void cn_jsonl_close(cn_jsonl_reader *r)
{
	if (!r)
		return;
	cn_buf_free(&r->meta);
	cn_buf_free(&r->id);
	cn_buf_free(&r->title);
	cn_buf_free(&r->text);
	cn_buf_free(&r->scratch);
	cn_free(r->path);
	cn_free(r);
}

/* ---- a strict JSON scanner for one record per line ----
 *
 * JSON Lines corpora are the bulk path into a knowledge base (BEIR corpora, exports), and a
 * general DOM parser spent more time building and freeing its tree than the rest of ingest
 * spent indexing. Records are flat, so this scanner decodes the three fields it needs in
 * place, validates everything else against the JSON grammar (RFC 8259) without building
 * anything, and keeps the other members' raw text for the metadata object. */

typedef struct jscan {
	const char *p, *end, *start;
	const char *why; /* reason of the first error */
} jscan;

static bool jfail(jscan *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return false;
}

static void jws(jscan *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool read_hex4(jscan *j, unsigned *v)
{
	if (j->end - j->p < 4)
		return jfail(j, "truncated \\u escape");
	unsigned x = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);
		if (h < 0)
			return jfail(j, "bad \\u escape");
		x = x << 4 | (unsigned)h;
	}
	j->p += 4;
	*v = x;
	return true;
}

/* A string at j->p (the opening quote); decoded into out when out is not NULL. */
static bool jstring(jscan *j, cn_buf *out)
{
	if (j->p >= j->end || *j->p != '"')
		return jfail(j, "expected a string");
	j->p++;
	for (;;) {
		const char *run = j->p;
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
			j->p++;
		if (out && j->p > run)
			cn_buf_append(out, run, (size_t)(j->p - run));
		if (j->p >= j->end)
			return jfail(j, "unterminated string");
		char c = *j->p++;
		if (c == '"')
			return true;
		if (c != '\\')
			return jfail(j, "control character in string");
		if (j->p >= j->end)
			return jfail(j, "unterminated string");
		char e = *j->p++;
		char lit;
		switch (e) {
		case '"': lit = '"'; break;
		case '\\': lit = '\\'; break;
		case '/': lit = '/'; break;
		case 'b': lit = '\b'; break;
		case 'f': lit = '\f'; break;
		case 'n': lit = '\n'; break;
		case 'r': lit = '\r'; break;
		case 't': lit = '\t'; break;
		case 'u': {
			unsigned cp;
			if (!read_hex4(j, &cp))
				return false;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
					return jfail(j, "unpaired surrogate in \\u escape");
				j->p += 2;
				if (!read_hex4(j, &lo))
					return false;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return jfail(j, "unpaired surrogate in \\u escape");
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return jfail(j, "unpaired surrogate in \\u escape");
			}
			if (cp == 0)
				return jfail(j, "\\u0000 (NUL) in string");
			if (out) {
				char u[4];
				size_t n;
				if (cp < 0x80) { u[0] = (char)cp; n = 1; }
				else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
				else if (cp < 0x10000) {
					u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
					u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
				} else {
					u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
					u[2] = (char)(0x80 | (cp >> 6 & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
				}
				cn_buf_append(out, u, n);
			}
			continue;
		}
		default: return jfail(j, "bad escape in string");
		}
		if (out)
			cn_buf_putc(out, lit);
	}
}

static bool jnumber(jscan *j)
{
	const char *p = j->p;
	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || !(*p >= '0' && *p <= '9'))
		return jfail(j, "bad number");
	if (*p == '0')
		p++;
	else
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	if (p < j->end && *p == '.') {
		p++;
		if (p >= j->end || !(*p >= '0' && *p <= '9'))
			return jfail(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || !(*p >= '0' && *p <= '9'))
			return jfail(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	return true;
}

static bool jliteral(jscan *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return jfail(j, "unexpected character");
	j->p += n;
	return true;
}

#define JSON_MAX_DEPTH 128

/* Validates any value; iterative over nesting so depth costs no stack. */
static bool jskip(jscan *j)
{
	char stack[JSON_MAX_DEPTH];
	int depth = 0;
	for (;;) {
		jws(j);
		if (j->p >= j->end)
			return jfail(j, "unexpected end of line");
		char c = *j->p;
		bool ok = true;
		if (c == '{' || c == '[') {
			if (depth == JSON_MAX_DEPTH)
				return jfail(j, "nesting too deep");
			stack[depth++] = c;
			j->p++;
			jws(j);
			if (j->p < j->end && *j->p == (c == '{' ? '}' : ']')) {
				j->p++;
				depth--;
				goto after_value;
			}
			if (c == '{') {
				if (!jstring(j, NULL))
					return false;
				jws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return jfail(j, "expected ':'");
			}
			continue;
		}
		if (c == '"')
			ok = jstring(j, NULL);
		else if (c == '-' || (c >= '0' && c <= '9'))
			ok = jnumber(j);
		else if (c == 't')
			ok = jliteral(j, "true");
		else if (c == 'f')
			ok = jliteral(j, "false");
		else if (c == 'n')
			ok = jliteral(j, "null");
		else
			return jfail(j, "unexpected character");
		if (!ok)
			return false;
	after_value:
		for (;;) {
			if (depth == 0)
				return true;
			jws(j);
			if (j->p >= j->end)
				return jfail(j, "unexpected end of line");
			char open = stack[depth - 1];
			if (*j->p == ',') {
				j->p++;
				if (open == '{') {
					jws(j);
					if (!jstring(j, NULL))
						return false;
					jws(j);
					if (j->p >= j->end || *j->p++ != ':')
						return jfail(j, "expected ':'");
				}
				break; /* next value */
			}
			if (*j->p == (open == '{' ? '}' : ']')) {
				j->p++;
				depth--;
				continue;
			}
			return jfail(j, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
}

static bool reserved(const char *k, size_t n)
{
	return (n == 3 && !memcmp(k, "_id", 3)) || (n == 5 && !memcmp(k, "title", 5)) || (n == 4 && !memcmp(k, "text", 4));
}

typedef struct jmember {
	const char *key; /* raw (escaped) key text between the quotes */
	size_t klen;
	const char *val; /* raw value text */
	size_t vlen;
	char kind;       /* '"' string, 'n' number, 't'/'f' literal, '0' null, '{' or '[' container */
} jmember;

/* The metadata object: a member's value as a JSON string (strings as they are; numbers,
 * booleans and containers as their JSON text). Keys are re-encoded from their decoded form. */
static void put_member(cn_buf *b, bool *first, const jmember *m, cn_buf *scratch)
{
	if (m->kind == '0')
		return;
	if (!*first)
		cn_buf_putc(b, ',');
	*first = false;
	jscan k = {.p = m->key - 1, .end = m->key + m->klen + 1};
	cn_buf_reset(scratch);
	jstring(&k, scratch);
	cn_buf_put_json_str(b, scratch->data ? scratch->data : "", scratch->len);
	cn_buf_putc(b, ':');
	if (m->kind == '"') {
		cn_buf_append(b, m->val, m->vlen); /* already a valid JSON string */
	} else if (m->kind == '{' || m->kind == '[') {
		/* compact JSON text of the container: white space outside strings dropped */
		cn_buf_reset(scratch);
		bool in_str = false;
		for (size_t i = 0; i < m->vlen; i++) {
			char c = m->val[i];
			if (in_str) {
				cn_buf_putc(scratch, c);
				if (c == '\\' && i + 1 < m->vlen)
					cn_buf_putc(scratch, m->val[++i]);
				else if (c == '"')
					in_str = false;
			} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				cn_buf_putc(scratch, c);
				in_str = c == '"';
			}
		}
		cn_buf_put_json_str(b, scratch->data ? scratch->data : "", scratch->len);
	} else {
		cn_buf_put_json_str(b, m->val, m->vlen);
	}
}

static bool same_key(const jmember *a, const jmember *b)
{
	return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

/* An object member's key and the colon after it: "key" ws ':' ws. The key is the raw text
 * between the quotes (escapes undecoded). */
static bool jkey(jscan *j, const char **key, size_t *klen)
{
	jws(j);
	const char *q = j->p;
	if (!jstring(j, NULL))
		return false;
	*key = q + 1;
	*klen = (size_t)(j->p - 1 - *key);
	jws(j);
	if (j->p >= j->end || *j->p++ != ':')
		return jfail(j, "expected ':'");
	jws(j);
	return true;
}

/* The kind of the value starting with c, for the metadata encoding. */
static char value_kind(char c)
{
	return c == '"' ? '"' : c == 'n' ? '0' : c == '{' || c == '[' ? c : c == 't' || c == 'f' ? 't' : 'n';
}

/* After an object member: 1 when ',' (another member follows), 0 at '}', -1 on error. */
static int jafter_member(jscan *j)
{
	jws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		return 1;
	}
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	jfail(j, "expected ',' or '}'");
	return -1;
}

/* Scans one record line. Members are collected so metadata keys can be merged. */
static bool scan_record(cn_jsonl_reader *r, jscan *j, bool *has_id, bool *has_text, bool *title_ok, const char **id_kind)
{
	jmember top[64], meta[64];
	size_t ntop = 0, nmeta = 0, extra_top = 0;
	*has_id = *has_text = false;
	*title_ok = true;
	*id_kind = NULL;
	cn_buf_reset(&r->id);
	cn_buf_reset(&r->title);
	cn_buf_reset(&r->text);
	jws(j);
	if (j->p >= j->end || *j->p != '{')
		return jfail(j, "not a JSON object");
	j->p++;
	jws(j);
	bool empty = j->p < j->end && *j->p == '}';
	if (empty)
		j->p++;
	while (!empty) {
		const char *key;
		size_t klen;
		if (!jkey(j, &key, &klen))
			return false;
		if (j->p >= j->end)
			return jfail(j, "unexpected end of line");
		const char *v0 = j->p;
		char c = *j->p;
		bool is_meta_obj = klen == 8 && !memcmp(key, "metadata", 8) && c == '{';
		if (reserved(key, klen) && c == '"') {
			cn_buf *dst = key[0] == '_' ? &r->id : key[1] == 'i' ? &r->title : &r->text;
			cn_buf_reset(dst);
			if (!jstring(j, dst))
				return false;
			if (key[0] == '_') {
				*has_id = true;
				*id_kind = "string";
			} else if (key[1] == 'e') {
				*has_text = true;
			}
		} else if (reserved(key, klen)) {
			if (!jskip(j))
				return false;
			if (key[0] == '_') {
				*has_id = true;
				*id_kind = (c == '-' || (c >= '0' && c <= '9')) ? "number" : "other";
				cn_buf_reset(&r->id);
				cn_buf_append(&r->id, v0, (size_t)(j->p - v0));
			} else if (key[1] == 'i') {
				*title_ok = c == 'n' && j->p - v0 == 4; /* null */
				cn_buf_reset(&r->title);
			} else {
				*has_text = true;
				r->text_not_string = true;
			}
		} else if (is_meta_obj) {
			/* members of a nested "metadata" object */
			j->p++;
			jws(j);
			bool mempty = j->p < j->end && *j->p == '}';
			if (mempty)
				j->p++;
			while (!mempty) {
				jmember m = {0};
				if (!jkey(j, &m.key, &m.klen))
					return false;
				const char *mv = j->p;
				char mc = mv < j->end ? *mv : 0;
				if (!jskip(j))
					return false;
				m.val = mv;
				m.vlen = (size_t)(j->p - mv);
				m.kind = value_kind(mc);
				if (nmeta < CN_ARRAY_LEN(meta))
					meta[nmeta++] = m;
				int more = jafter_member(j);
				if (more < 0)
					return false;
				if (!more)
					break;
			}
		} else {
			if (!jskip(j))
				return false;
			jmember m = {.key = key, .klen = klen, .val = v0, .vlen = (size_t)(j->p - v0)};
			m.kind = value_kind(c);
			/* a repeated key: the last one wins, as in most JSON readers */
			size_t i = 0;
			while (i < ntop && !same_key(&top[i], &m))
				i++;
			if (i < ntop)
				top[i] = m;
			else if (ntop < CN_ARRAY_LEN(top))
				top[ntop++] = m;
			else
				extra_top++;
		}
		int more = jafter_member(j);
		if (more < 0)
			return false;
		if (!more)
			break;
	}
	jws(j);
	if (j->p != j->end)
		return jfail(j, "text after the JSON object");
	(void)extra_top; /* members past the 64th are validated but not kept as metadata */
	/* No "_id": exports often name it "doc_id" or "id" (the first found, in that order). The
	 * member stays in the metadata too, as the user wrote it. */
	static const char *const alt_ids[] = {"doc_id", "id"};
	for (size_t a = 0; a < 2 && !*has_id; a++)
		for (size_t i = 0; i < ntop && !*has_id; i++) {
			if (top[i].klen != strlen(alt_ids[a]) || memcmp(top[i].key, alt_ids[a], top[i].klen) != 0)
				continue;
			*has_id = true;
			cn_buf_reset(&r->id);
			if (top[i].kind == '"') {
				jscan sub = {.p = top[i].val, .end = top[i].val + top[i].vlen, .start = top[i].val};
				if (!jstring(&sub, &r->id))
					return jfail(j, sub.why);
				*id_kind = "string";
			} else {
				*id_kind = top[i].kind == 'n' ? "number" : "other";
				cn_buf_append(&r->id, top[i].val, top[i].vlen);
			}
		}
	cn_buf_reset(&r->meta);
	cn_buf_putc(&r->meta, '{');
	bool first = true;
	for (size_t i = 0; i < ntop; i++)
		put_member(&r->meta, &first, &top[i], &r->scratch);
	for (size_t i = 0; i < nmeta; i++) {
		bool shadowed = false;
		for (size_t t = 0; t < ntop && !shadowed; t++)
			shadowed = same_key(&top[t], &meta[i]);
		if (!shadowed && !reserved(meta[i].key, meta[i].klen))
			put_member(&r->meta, &first, &meta[i], &r->scratch);
	}
	cn_buf_putc(&r->meta, '}');
	return true;
}

cairn_status cn_jsonl_next(cn_jsonl_reader *r, cn_jsonl_record *rec, cn_err *err)
{
	for (;;) {
		if (r->pos >= r->len)
			return CAIRN_ENOTFOUND;
		const char *s = r->data + r->pos;
		const char *nl = memchr(s, '\n', r->len - r->pos);
		size_t start = r->pos, end = nl ? (size_t)(nl - r->data) : r->len;
		r->pos = nl ? end + 1 : r->len;
		r->line++;
		size_t e = end;
		while (e > start && cn_ing_isspace((unsigned char)r->data[e - 1]))
			e--;
		size_t b = start;
		while (b < e && cn_ing_isspace((unsigned char)r->data[b]))
			b++;
		if (b == e)
			continue; /* blank line */
		size_t bad;
		if (!cn_ing_utf8_valid(r->data + b, e - b, &bad, NULL))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: invalid UTF-8 at byte %zu of the line",
					  r->path, (unsigned long long)r->line, bad + (b - start));
		jscan j = {.p = r->data + b, .end = r->data + e, .start = r->data + b};
		bool has_id, has_text, title_ok;
		const char *id_kind;
		r->text_not_string = false;
		bool ok = scan_record(r, &j, &has_id, &has_text, &title_ok, &id_kind);
		if (r->id.failed || r->title.failed || r->text.failed || r->meta.failed || r->scratch.failed)
			return cn_err_set(err, CAIRN_ENOMEM, "%s:%llu: out of memory", r->path, (unsigned long long)r->line);
		if (!ok) {
			if (!strcmp(j.why, "not a JSON object"))
				return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: not a JSON object", r->path,
						  (unsigned long long)r->line);
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: bad JSON at column %zu: %s", r->path,
					  (unsigned long long)r->line, (size_t)(j.p - j.start) + 1, j.why);
		}
		if (!has_id)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: missing \"_id\" (the document id, as BEIR corpora "
			                  "name it; \"doc_id\" or \"id\" serve too)", r->path, (unsigned long long)r->line);
		if (strcmp(id_kind, "other") == 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: the document id is not a string or number",
					  r->path, (unsigned long long)r->line);
		if (!r->id.len || memchr(r->id.data, '\0', r->id.len))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: empty or invalid document id", r->path,
					  (unsigned long long)r->line);
		if (!has_text)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: missing \"text\"", r->path,
					  (unsigned long long)r->line);
		if (r->text_not_string)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: \"text\" is not a string", r->path,
					  (unsigned long long)r->line);
		if (!title_ok)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: \"title\" is not a string", r->path,
					  (unsigned long long)r->line);
		memset(rec, 0, sizeof *rec);
		rec->id = r->id.data;
		rec->title = r->title.data ? r->title.data : "";
		rec->text = r->text.data ? r->text.data : "";
		rec->text_len = r->text.len;
		rec->metadata_json = r->meta.data;
		rec->line = r->line;
		rec->src_start = start;
		rec->src_end = end;
		return CAIRN_OK;
	}
}
