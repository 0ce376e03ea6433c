/*
 * http_json.c — everything the server reads from a request body, path or query string, with
 * no socket in sight, so the fuzz target and the tests drive it directly.
 *
 * The rule is that every value from the client is checked here for type, range and size
 * before a handler uses it, and a refusal carries the HTTP status and the stable error code
 * (docs/server.md#errors). Strings stay borrowed from the parsed JSON, whose lifetime the
 * handler owns. UTF-8 is validated before jansson sees the bytes, so the 400 names the
 * problem rather than a parser position.
 */
#include "http_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(srv_reqerr *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool refuse(srv_reqerr *e, int status, const char *code, const char *fmt, ...)
{
	e->status = status;
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return false;
}

bool srv_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned min, cp;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2, min = 0x80, cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3, min = 0x800, cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

bool srv_json_object(const char *body, size_t len, json_t **out, srv_reqerr *e)
{
	*out = NULL;
	if (len == 0)
		return refuse(e, 400, SRV_E_INVALID_JSON, "the request needs a JSON body");
	if (memchr(body, 0, len))
		return refuse(e, 400, SRV_E_INVALID_JSON, "the body contains a NUL byte");
	if (!srv_utf8_valid(body, len))
		return refuse(e, 400, SRV_E_INVALID_JSON, "the body is not valid UTF-8");
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return refuse(e, 400, SRV_E_INVALID_JSON, "malformed JSON at line %d column %d: %.120s", je.line,
		            je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return refuse(e, 400, SRV_E_INVALID_JSON, "the body must be a JSON object");
	}
	*out = j;
	return true;
}

/* Optional string member: absent or null leaves *v; else it must be a string of at most max
 * bytes without NULs (jansson allows \u0000). */
static bool get_str(json_t *o, const char *key, const char **v, size_t max, srv_reqerr *e)
{
	json_t *x = json_object_get(o, key);
	if (!x || json_is_null(x))
		return true;
	if (!json_is_string(x))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" must be a string", key);
	size_t n = json_string_length(x);
	if (n > max)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" is longer than %zu bytes", key, max);
	const char *s = json_string_value(x);
	if (strlen(s) != n)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" contains a NUL character", key);
	*v = s;
	return true;
}

static bool get_int(json_t *o, const char *key, int *v, int lo, int hi, srv_reqerr *e)
{
	json_t *x = json_object_get(o, key);
	if (!x || json_is_null(x))
		return true;
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" must be an integer in %d..%d", key, lo, hi);
	*v = (int)json_integer_value(x);
	return true;
}

static bool get_bool(json_t *o, const char *key, bool *v, srv_reqerr *e)
{
	json_t *x = json_object_get(o, key);
	if (!x || json_is_null(x))
		return true;
	if (!json_is_boolean(x))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" must be true or false", key);
	*v = json_is_true(x);
	return true;
}

static bool get_mode(json_t *o, const char *key, int *mode, srv_reqerr *e)
{
	const char *m = NULL;
	if (!get_str(o, key, &m, 16, e))
		return false;
	if (!m)
		return true;
	if (!strcmp(m, "bm25"))
		*mode = CAIRN_SEARCH_BM25;
	else if (!strcmp(m, "dense"))
		*mode = CAIRN_SEARCH_DENSE;
	else if (!strcmp(m, "hybrid"))
		*mode = CAIRN_SEARCH_HYBRID;
	else
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" is bm25, dense or hybrid", key);
	return true;
}

static bool need_text(const char *key, const char *s, srv_reqerr *e)
{
	if (!s)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" is required", key);
	for (const char *p = s; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return true;
	return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"%s\" is empty", key);
}

bool srv_parse_search(json_t *o, srv_search_req *r, srv_reqerr *e)
{
	memset(r, 0, sizeof *r);
	r->k = 10;
	r->snippets = true;
	int mode = CAIRN_SEARCH_BM25;
	if (!get_str(o, "query", &r->query, SRV_MAX_QUERY, e) || !need_text("query", r->query, e) ||
	    !get_int(o, "k", &r->k, 1, 1000, e) || !get_str(o, "filter", &r->filter, 4096, e) ||
	    !get_mode(o, "mode", &mode, e) || !get_bool(o, "collapse", &r->collapse, e) ||
	    !get_bool(o, "rm3", &r->rm3, e) || !get_bool(o, "dedupe", &r->dedupe, e) ||
	    !get_bool(o, "snippets", &r->snippets, e) || !get_bool(o, "rerank", &r->rerank, e))
		return false;
	r->mode = (cairn_search_mode)mode;
	return true;
}

bool srv_parse_answer(json_t *o, srv_answer_req *r, srv_reqerr *e)
{
	memset(r, 0, sizeof *r);
	r->k = 8;
	r->max_sentences = 3;
	r->min_confidence = -1;
	r->retrieval = -1;
	if (!get_str(o, "question", &r->question, SRV_MAX_QUERY, e) || !need_text("question", r->question, e) ||
	    !get_int(o, "k", &r->k, 1, 100, e) || !get_str(o, "filter", &r->filter, 4096, e) ||
	    !get_int(o, "max_sentences", &r->max_sentences, 1, 10, e) || !get_mode(o, "mode", &r->retrieval, e) ||
	    !get_bool(o, "explain", &r->explain, e) || !get_bool(o, "stream", &r->stream, e) ||
	    !get_bool(o, "lenient", &r->lenient, e))
		return false;
	json_t *mc = json_object_get(o, "min_confidence");
	if (mc && !json_is_null(mc)) {
		if (!json_is_number(mc) || json_number_value(mc) < 0 || json_number_value(mc) > 1)
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"min_confidence\" must be a number in 0..1");
		r->min_confidence = json_number_value(mc);
	}
	return true;
}

/* The text of a message's content: a string, or OpenAI's array of parts whose "text" parts
 * are joined with newlines (into *buf). */
static bool content_text(json_t *c, const char **text, char **buf, size_t *chars, srv_reqerr *e)
{
	*text = NULL;
	if (json_is_string(c)) {
		*text = json_string_value(c);
		if (strlen(*text) != json_string_length(c))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "message content contains a NUL character");
		*chars += json_string_length(c);
		return true;
	}
	if (json_is_null(c))
		return true;
	if (!json_is_array(c))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "message content must be a string or an array of parts");
	size_t total = 0, i;
	json_t *part;
	json_array_foreach(c, i, part) {
		json_t *t = json_object_get(part, "text");
		if (!json_is_object(part) || !json_is_string(json_object_get(part, "type")))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "content part %zu must be an object with a \"type\"", i);
		if (t && json_is_string(t))
			total += json_string_length(t) + 1;
	}
	char *b = malloc(total + 1);
	if (!b)
		return refuse(e, 500, SRV_E_INTERNAL, "out of memory");
	size_t n = 0;
	json_array_foreach(c, i, part) {
		json_t *t = json_object_get(part, "text");
		if (t && json_is_string(t)) {
			size_t l = json_string_length(t);
			if (n)
				b[n++] = '\n';
			memcpy(b + n, json_string_value(t), l);
			n += l;
		}
	}
	b[n] = 0;
	if (strlen(b) != n) {
		free(b);
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "message content contains a NUL character");
	}
	*chars += n;
	free(*buf);
	*buf = b;
	*text = b;
	return true;
}

bool srv_parse_chat(json_t *o, srv_chat_req *r, srv_reqerr *e)
{
	memset(r, 0, sizeof *r);
	if (!get_bool(o, "stream", &r->stream, e) || !get_str(o, "model", &r->model, 256, e))
		return false;
	json_t *msgs = json_object_get(o, "messages");
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"messages\" must be a non-empty array");
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m) {
		if (!json_is_object(m))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "message %zu must be an object", i);
		json_t *role = json_object_get(m, "role");
		if (!json_is_string(role))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "message %zu needs a \"role\"", i);
		const char *text = NULL;
		char *tmp = NULL;
		if (!content_text(json_object_get(m, "content"), &text, &tmp, &r->prompt_chars, e)) {
			free(tmp);
			goto bad;
		}
		if (!strcmp(json_string_value(role), "user")) {
			free(r->buf);
			r->buf = tmp;
			r->question = text;
		} else {
			free(tmp);
		}
	}
	if (!r->question || !need_text("content of the last user message", r->question, e))
		goto bad_msg;
	if (strlen(r->question) > SRV_MAX_QUERY) {
		refuse(e, 400, SRV_E_INVALID_REQUEST, "the question is longer than %d bytes", SRV_MAX_QUERY);
		goto bad;
	}
	return true;
bad_msg:
	if (!r->question)
		refuse(e, 400, SRV_E_INVALID_REQUEST, "\"messages\" has no user message");
bad:
	free(r->buf);
	r->buf = NULL;
	r->question = NULL;
	return false;
}

bool srv_parse_embed(json_t *o, srv_embed_req *r, srv_reqerr *e)
{
	memset(r, 0, sizeof *r);
	const char *fmt = NULL;
	if (!get_str(o, "encoding_format", &fmt, 16, e) || !get_str(o, "model", &r->model, 256, e))
		return false;
	if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64"))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"encoding_format\" is float or base64");
	r->base64 = fmt && !strcmp(fmt, "base64");
	json_t *in = json_object_get(o, "input");
	if (json_is_string(in)) {
		if (strlen(json_string_value(in)) != json_string_length(in))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"input\" contains a NUL character");
		r->inputs[0] = json_string_value(in);
		r->n = 1;
		return true;
	}
	if (!json_is_array(in) || json_array_size(in) == 0)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"input\" must be a string or a non-empty array of strings");
	if (json_array_size(in) > SRV_MAX_EMBED_INPUTS)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"input\" has more than %d strings", SRV_MAX_EMBED_INPUTS);
	size_t i;
	json_t *x;
	json_array_foreach(in, i, x) {
		if (!json_is_string(x))
			return refuse(e, 400, SRV_E_INVALID_REQUEST,
			            "\"input\" item %zu is not a string (token arrays are not supported)", i);
		if (strlen(json_string_value(x)) != json_string_length(x))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"input\" item %zu contains a NUL character", i);
		r->inputs[r->n++] = json_string_value(x);
	}
	return true;
}

bool srv_parse_doc(json_t *o, srv_doc_req *r, srv_reqerr *e)
{
	memset(r, 0, sizeof *r);
	if (!get_str(o, "doc_id", &r->doc_id, SRV_MAX_ID, e) || !need_text("doc_id", r->doc_id, e) ||
	    !get_str(o, "title", &r->title, 4096, e) || !get_str(o, "text", &r->text, (size_t)1 << 30, e) ||
	    !need_text("text", r->text, e))
		return false;
	char tmp[SRV_MAX_ID + 1];
	if (!srv_decode_id(r->doc_id, strlen(r->doc_id), tmp, sizeof tmp, e))
		return false;
	if (strcmp(tmp, r->doc_id) != 0 && strchr(r->doc_id, '%'))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"doc_id\" must not contain '%%' escapes");
	r->text_len = strlen(r->text);
	json_t *acl = json_object_get(o, "groups");
	if (acl && !json_is_null(acl)) {
		if (!json_is_array(acl) || json_array_size(acl) > 64)
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"groups\" must be an array of at most 64 strings");
		size_t i;
		json_t *g;
		json_array_foreach(acl, i, g) {
			const char *s = json_is_string(g) ? json_string_value(g) : NULL;
			size_t l = s ? strlen(s) : 0;
			if (!s || l == 0 || l > 128 || l != json_string_length(g))
				return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"groups\" item %zu must be a group name", i);
			for (size_t k = 0; k < l; k++)
				if (s[k] <= ' ' || s[k] > '~' || s[k] == ',')
					return refuse(e, 400, SRV_E_INVALID_REQUEST,
					            "\"groups\" item %zu: names are printable ASCII without spaces or commas", i);
			r->acl_buf[r->n_acl++] = s;
		}
		r->acl = r->acl_buf;
	}
	json_t *md = json_object_get(o, "metadata");
	if (md && !json_is_null(md)) {
		if (!json_is_object(md))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "\"metadata\" must be an object");
		r->metadata = json_dumps(md, JSON_COMPACT);
		if (!r->metadata)
			return refuse(e, 500, SRV_E_INTERNAL, "out of memory");
	}
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool srv_percent_decode(const char *raw, size_t n, bool plus_space, char *out, size_t cap, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)raw[i];
		if (c == '%') {
			if (n - i < 3)
				return false;
			int h = hexval(raw[i + 1]), l = hexval(raw[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return false;
	out[o] = 0;
	if (out_len)
		*out_len = o;
	return true;
}

bool srv_decode_id(const char *raw, size_t n, char *out, size_t cap, srv_reqerr *e)
{
	size_t len = 0;
	if (cap > SRV_MAX_ID + 1)
		cap = SRV_MAX_ID + 1;
	if (!srv_percent_decode(raw, n, false, out, cap, &len))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "the document id is malformed or longer than %d bytes",
		            SRV_MAX_ID);
	if (len == 0)
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "the document id is empty");
	if (memchr(out, 0, len) || !srv_utf8_valid(out, len))
		return refuse(e, 400, SRV_E_INVALID_REQUEST, "the document id is not valid UTF-8 text");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c == 0x7F || c == '\\')
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "the document id contains a control character or backslash");
	}
	/* no "." or ".." segment: ids are keys, never paths, but nothing that looks like a
	 * traversal gets as far as a lookup (or a log line) */
	const char *seg = out;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return refuse(e, 400, SRV_E_INVALID_REQUEST, "the document id contains a \".\" or \"..\" segment");
		if (!slash)
			break;
		seg = slash + 1;
	}
	return true;
}

bool srv_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	if (!s || !*s || strlen(s) > 19)
		return false;
	int64_t v = 0;
	bool neg = false;
	const char *p = s;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (neg)
		v = -v;
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool srv_bucket_take(srv_bucket *b, double now, double rate, double burst, int *retry_after)
{
	if (b->last == 0 && b->tokens == 0) {
		b->tokens = burst;
		b->last = now;
	}
	if (now > b->last) {
		b->tokens += (now - b->last) * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last = now;
	}
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	double wait = rate > 0 ? (1 - b->tokens) / rate : 3600;
	int w = (int)wait;
	if (w < wait)
		w++;
	*retry_after = w < 1 ? 1 : w > 3600 ? 3600 : w;
	return false;
}

char *srv_base64(const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc((n + 2) / 3 * 4 + 1);
	if (!s)
		return NULL;
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		s[o++] = tab[v >> 18];
		s[o++] = tab[(v >> 12) & 63];
		s[o++] = tab[(v >> 6) & 63];
		s[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		s[o++] = tab[v >> 18];
		s[o++] = tab[(v >> 12) & 63];
		s[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		s[o++] = '=';
	}
	s[o] = 0;
	return s;
}

int64_t srv_estimate_tokens(size_t bytes)
{
	return bytes ? (int64_t)((bytes + 3) / 4) : 0;
}

char *srv_error_json(const char *code, const char *msg)
{
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}
