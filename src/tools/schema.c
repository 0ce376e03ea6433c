/*
 * A JSON Schema (draft 2020-12) validator for tool arguments.
 *
 * Why our own rather than the sampler's subset (src/sample/jschema.c): that one compiles a
 * schema into a byte-level matcher for generation and must refuse what it cannot enforce
 * token by token (pattern, allOf, numeric bounds on the fly); here the whole value is at
 * hand, so every assertion keyword can be checked exactly.
 *
 * Two passes, both over jansson values:
 *  - cn_schema_check once per schema: every keyword must be one we implement (an unknown or
 *    unsupported one — "$ref", "if", a typo like "maxLenght" — is a configuration error naming
 *    it and its JSON pointer), every keyword's value well-typed, every pattern compiled by
 *    PCRE2. A schema that passes is one whose every constraint will be enforced: nothing is
 *    silently ignored.
 *  - cn_schema_validate per call: all errors, not the first, each with the instance pointer,
 *    the schema pointer and a message, so a model (or a person) can fix everything at once.
 * Semantics follow the specification where implementations differ: 1.0 is an integer, 1 and
 * 1.0 are equal for enum/const/uniqueItems, lengths count code points, patterns are not
 * anchored, "format" is an assertion (for date, date-time, email, uri, uuid; any other format
 * is refused by the check rather than ignored).
 */
#include "tools/tools.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- errors ---- */

void cn_schema_errors_add(cn_schema_errors *e, const char *instance, const char *schema, const char *fmt, ...)
{
	if (!e)
		return;
	if (e->n >= CN_SCHEMA_MAX_ERRORS) {
		e->truncated = true;
		return;
	}
	if (CN_GROW(e->v, e->cap, e->n + 1)) {
		e->oom = true;
		return;
	}
	cn_buf m;
	cn_buf_init(&m);
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	cn_buf_puts(&m, tmp);
	cn_schema_error *x = &e->v[e->n];
	x->instance = cn_strdup(instance ? instance : "");
	x->schema = cn_strdup(schema ? schema : "");
	x->message = cn_buf_take(&m);
	if (!x->instance || !x->schema || !x->message) {
		cn_free(x->instance);
		cn_free(x->schema);
		cn_free(x->message);
		e->oom = true;
		return;
	}
	e->n++;
}

void cn_schema_errors_free(cn_schema_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		cn_free(e->v[i].instance);
		cn_free(e->v[i].schema);
		cn_free(e->v[i].message);
	}
	cn_free(e->v);
	memset(e, 0, sizeof *e);
}

void cn_schema_errors_json(const cn_schema_errors *e, cn_buf *out)
{
	cn_buf_putc(out, '[');
	for (size_t i = 0; e && i < e->n; i++) {
		if (i)
			cn_buf_putc(out, ',');
		cn_buf_puts(out, "{\"instance\":");
		cn_buf_put_json_str(out, e->v[i].instance, strlen(e->v[i].instance));
		cn_buf_puts(out, ",\"schema\":");
		cn_buf_put_json_str(out, e->v[i].schema, strlen(e->v[i].schema));
		cn_buf_puts(out, ",\"message\":");
		cn_buf_put_json_str(out, e->v[i].message, strlen(e->v[i].message));
		cn_buf_putc(out, '}');
	}
	cn_buf_putc(out, ']');
}

/* ---- JSON pointers ---- */

static void ptr_push(cn_buf *p, const char *tok)
{
	cn_buf_putc(p, '/');
	for (const char *s = tok; *s; s++) {
		if (*s == '~')
			cn_buf_puts(p, "~0");
		else if (*s == '/')
			cn_buf_puts(p, "~1");
		else
			cn_buf_putc(p, *s);
	}
}

static void ptr_push_idx(cn_buf *p, size_t i)
{
	char t[32];
	snprintf(t, sizeof t, "%zu", i);
	ptr_push(p, t);
}

static void ptr_pop(cn_buf *p, size_t len)
{
	p->len = len;
	if (p->data)
		p->data[len] = '\0';
}

static const char *ptr_str(const cn_buf *p) { return p->data ? p->data : ""; }

/* ---- JSON helpers ---- */

static bool is_number(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

static double num(const json_t *v) { return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v); }

static bool is_integral(const json_t *v)
{
	if (json_is_integer(v))
		return true;
	if (!json_is_real(v))
		return false;
	double d = json_real_value(v);
	return isfinite(d) && d == floor(d);
}

bool cn_json_equal(const json_t *a, const json_t *b)
{
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return num(a) == num(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	case JSON_ARRAY: {
		size_t n = json_array_size(a);
		if (n != json_array_size(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!cn_json_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	case JSON_OBJECT: {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)a, k, v) {
			json_t *w = json_object_get(b, k);
			if (!w || !cn_json_equal(v, w))
				return false;
		}
		return true;
	}
	default:
		return true; /* true, false, null: same type = same value */
	}
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return is_integral(v) ? "integer" : "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static bool type_matches(const char *t, const json_t *v)
{
	if (!strcmp(t, "object"))
		return json_is_object(v);
	if (!strcmp(t, "array"))
		return json_is_array(v);
	if (!strcmp(t, "string"))
		return json_is_string(v);
	if (!strcmp(t, "number"))
		return is_number(v);
	if (!strcmp(t, "integer"))
		return is_integral(v);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(t, "null"))
		return json_is_null(v);
	return false;
}

static bool known_type(const char *t)
{
	static const char *const names[] = {"object", "array", "string", "number", "integer", "boolean", "null"};
	for (size_t i = 0; i < CN_ARRAY_LEN(names); i++)
		if (!strcmp(t, names[i]))
			return true;
	return false;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* ---- formats ---- */

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int num_at(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool valid_date(const char *s, size_t len)
{
	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2))
		return false;
	int y = num_at(s, 4), m = num_at(s + 5, 2), d = num_at(s + 8, 2);
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return false;
	int max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* RFC 3339 date-time: full-date "T" partial-time time-offset (T and Z in either case). */
static bool valid_date_time(const char *s, size_t len)
{
	if (len < 20 || !valid_date(s, 10) || (s[10] != 'T' && s[10] != 't'))
		return false;
	const char *t = s + 11;
	size_t n = len - 11;
	if (n < 9 || t[2] != ':' || t[5] != ':' || !digits(t, 2) || !digits(t + 3, 2) || !digits(t + 6, 2))
		return false;
	int hh = num_at(t, 2), mm = num_at(t + 3, 2), ss = num_at(t + 6, 2);
	if (hh > 23 || mm > 59 || ss > 60)
		return false;
	size_t i = 8;
	if (i < n && t[i] == '.') {
		size_t j = ++i;
		while (i < n && isdigit((unsigned char)t[i]))
			i++;
		if (i == j)
			return false;
	}
	if (i < n && (t[i] == 'Z' || t[i] == 'z'))
		return i + 1 == n;
	if (i < n && (t[i] == '+' || t[i] == '-')) {
		const char *o = t + i + 1;
		if (n - i - 1 != 5 || o[2] != ':' || !digits(o, 2) || !digits(o + 3, 2))
			return false;
		return num_at(o, 2) <= 23 && num_at(o + 3, 2) <= 59;
	}
	return false;
}

/* An addr-spec with a dot-atom local part (or a quoted one without controls) and a domain
 * of letter/digit/hyphen labels, or a bracketed address literal. */
static bool valid_email(const char *s, size_t len)
{
	const char *at = NULL;
	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	if (!at || at == s || at == s + len - 1)
		return false;
	size_t ll = (size_t)(at - s), dl = len - ll - 1;
	const char *d = at + 1;
	if (ll > 64)
		return false;
	if (s[0] == '"') {
		if (ll < 2 || s[ll - 1] != '"')
			return false;
		for (size_t i = 1; i + 1 < ll; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return false;
	} else {
		static const char *const special = "!#$%&'*+-/=?^_`{|}~";
		if (s[0] == '.' || s[ll - 1] == '.')
			return false;
		for (size_t i = 0; i < ll; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (s[i + 1] == '.')
					return false;
			} else if (!isalnum(c) && !strchr(special, c) && c < 0x80) {
				return false;
			}
		}
	}
	if (d[0] == '[')
		return d[dl - 1] == ']' && dl > 2;
	size_t lab = 0;
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (lab == 0 || d[i - 1] == '-')
				return false;
			lab = 0;
		} else if (isalnum(c) || c >= 0x80 || (c == '-' && lab > 0)) {
			if (++lab > 63)
				return false;
		} else {
			return false;
		}
	}
	return lab > 0 && d[dl - 1] != '-';
}

/* RFC 3986 absolute URI: scheme ":" hier-part, with no characters outside the URI set
 * (percent-escapes must be two hex digits). */
static bool valid_uri(const char *s, size_t len)
{
	if (len < 2 || !isalpha((unsigned char)s[0]))
		return false;
	size_t i = 1;
	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i >= len || s[i] != ':')
		return false;
	static const char *const allowed = "-._~:/?#[]@!$&'()*+,;=";
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (!isalnum(c) && !strchr(allowed, c)) {
			return false;
		}
	}
	return true;
}

static bool valid_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

bool cn_format_known(const char *f)
{
	return !strcmp(f, "date") || !strcmp(f, "date-time") || !strcmp(f, "email") || !strcmp(f, "uri") ||
	       !strcmp(f, "uuid");
}

bool cn_format_valid(const char *f, const char *s, size_t len)
{
	if (memchr(s, 0, len))
		return false;
	if (!strcmp(f, "date"))
		return valid_date(s, len);
	if (!strcmp(f, "date-time"))
		return valid_date_time(s, len);
	if (!strcmp(f, "email"))
		return valid_email(s, len);
	if (!strcmp(f, "uri"))
		return valid_uri(s, len);
	if (!strcmp(f, "uuid"))
		return valid_uuid(s, len);
	return false;
}

/* ---- patterns ---- */

static pcre2_code *compile_pattern(const char *pat, size_t len, char *why, size_t why_size)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
	if (!re && why) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(why, why_size, "%.200s at offset %zu", (const char *)msg, (size_t)off);
	}
	return re;
}

/* 1 match, 0 no match, -1 could not run (counts as a failure: fail closed). */
static int pattern_match(const char *pat, size_t plen, const char *s, size_t len)
{
	pcre2_code *re = compile_pattern(pat, plen, NULL, 0);
	if (!re)
		return -1;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md) {
		pcre2_code_free(re);
		return -1;
	}
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	if (mc)
		pcre2_set_match_limit(mc, 1000000); /* no catastrophic backtracking on hostile input */
	int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mc);
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* ---- the check ---- */

typedef struct checker {
	cn_err *err;
	const char *where;
	cn_buf ptr;
	int depth;
} checker;

static cairn_status check_schema(checker *c, const json_t *s);

static cairn_status bad(checker *c, const char *fmt, const char *kw)
{
	char m[600];
	snprintf(m, sizeof m, fmt, kw);
	return cn_err_set(c->err, CAIRN_EFORMAT, "%s: schema at \"%s\": %s", c->where, ptr_str(&c->ptr), m);
}

static cairn_status check_nonneg_int(checker *c, const char *kw, const json_t *v)
{
	if (!is_integral(v) || num(v) < 0)
		return bad(c, "\"%s\" must be a non-negative integer", kw);
	return CAIRN_OK;
}

static cairn_status check_sub(checker *c, const char *kw, const json_t *v)
{
	size_t mark = c->ptr.len;
	ptr_push(&c->ptr, kw);
	cairn_status st = check_schema(c, v);
	ptr_pop(&c->ptr, mark);
	return st;
}

static cairn_status check_sub_array(checker *c, const char *kw, const json_t *v)
{
	if (!json_is_array(v) || json_array_size(v) == 0)
		return bad(c, "\"%s\" must be a non-empty array of schemas", kw);
	size_t mark = c->ptr.len;
	ptr_push(&c->ptr, kw);
	for (size_t i = 0; i < json_array_size(v); i++) {
		size_t m2 = c->ptr.len;
		ptr_push_idx(&c->ptr, i);
		cairn_status st = check_schema(c, json_array_get(v, i));
		ptr_pop(&c->ptr, m2);
		if (st)
			return st;
	}
	ptr_pop(&c->ptr, mark);
	return CAIRN_OK;
}

static cairn_status check_sub_map(checker *c, const char *kw, const json_t *v, bool patterns)
{
	if (!json_is_object(v))
		return bad(c, "\"%s\" must be an object of schemas", kw);
	size_t mark = c->ptr.len;
	ptr_push(&c->ptr, kw);
	const char *k;
	json_t *sub;
	json_object_foreach((json_t *)v, k, sub) {
		if (patterns) {
			char why[256];
			pcre2_code *re = compile_pattern(k, strlen(k), why, sizeof why);
			if (!re) {
				char m[500];
				snprintf(m, sizeof m, "pattern \"%.100s\" does not compile: %s", k, why);
				return bad(c, "%s", m);
			}
			pcre2_code_free(re);
		}
		size_t m2 = c->ptr.len;
		ptr_push(&c->ptr, k);
		cairn_status st = check_schema(c, sub);
		ptr_pop(&c->ptr, m2);
		if (st)
			return st;
	}
	ptr_pop(&c->ptr, mark);
	return CAIRN_OK;
}

static cairn_status check_schema(checker *c, const json_t *s)
{
	if (json_is_boolean(s))
		return CAIRN_OK;
	if (!json_is_object(s))
		return bad(c, "a schema must be an object or a boolean%s", "");
	if (++c->depth > 64) {
		c->depth--;
		return bad(c, "nested deeper than 64 levels%s", "");
	}
	const char *kw;
	json_t *v;
	cairn_status st = CAIRN_OK;
	json_object_foreach((json_t *)s, kw, v) {
		if (!strcmp(kw, "$schema")) {
			if (!json_is_string(v) || (strcmp(json_string_value(v), "https://json-schema.org/draft/2020-12/schema") &&
			                           strcmp(json_string_value(v), "https://json-schema.org/draft/2020-12/schema#")))
				st = bad(c, "\"%s\" must be https://json-schema.org/draft/2020-12/schema (the dialect implemented)",
				         kw);
		} else if (!strcmp(kw, "title") || !strcmp(kw, "description") || !strcmp(kw, "$comment") ||
		           !strcmp(kw, "$id")) {
			if (!json_is_string(v))
				st = bad(c, "\"%s\" must be a string", kw);
		} else if (!strcmp(kw, "default") || !strcmp(kw, "examples") || !strcmp(kw, "deprecated") ||
		           !strcmp(kw, "readOnly") || !strcmp(kw, "writeOnly")) {
			/* annotations: any value */
		} else if (!strcmp(kw, "type")) {
			if (json_is_string(v)) {
				if (!known_type(json_string_value(v)))
					st = bad(c, "\"type\" names an unknown type \"%s\"", json_string_value(v));
			} else if (json_is_array(v) && json_array_size(v) > 0) {
				for (size_t i = 0; i < json_array_size(v) && !st; i++) {
					json_t *t = json_array_get(v, i);
					if (!json_is_string(t) || !known_type(json_string_value(t)))
						st = bad(c, "\"%s\" must list known type names", kw);
					for (size_t j = 0; j < i && !st; j++)
						if (cn_json_equal(t, json_array_get(v, j)))
							st = bad(c, "\"%s\" lists a type twice", kw);
				}
			} else {
				st = bad(c, "\"%s\" must be a type name or a non-empty array of them", kw);
			}
		} else if (!strcmp(kw, "enum")) {
			if (!json_is_array(v))
				st = bad(c, "\"%s\" must be an array", kw);
		} else if (!strcmp(kw, "const")) {
			/* any value */
		} else if (!strcmp(kw, "properties")) {
			st = check_sub_map(c, kw, v, false);
		} else if (!strcmp(kw, "patternProperties")) {
			st = check_sub_map(c, kw, v, true);
		} else if (!strcmp(kw, "additionalProperties") || !strcmp(kw, "items") || !strcmp(kw, "not") ||
		           !strcmp(kw, "propertyNames") || !strcmp(kw, "contains")) {
			st = check_sub(c, kw, v);
		} else if (!strcmp(kw, "prefixItems") || !strcmp(kw, "allOf") || !strcmp(kw, "anyOf") ||
		           !strcmp(kw, "oneOf")) {
			st = check_sub_array(c, kw, v);
		} else if (!strcmp(kw, "required")) {
			if (!json_is_array(v))
				st = bad(c, "\"%s\" must be an array of strings", kw);
			for (size_t i = 0; !st && i < json_array_size(v); i++) {
				if (!json_is_string(json_array_get(v, i)))
					st = bad(c, "\"%s\" must be an array of strings", kw);
				for (size_t j = 0; j < i && !st; j++)
					if (cn_json_equal(json_array_get(v, i), json_array_get(v, j)))
						st = bad(c, "\"%s\" lists a name twice", kw);
			}
		} else if (!strcmp(kw, "minLength") || !strcmp(kw, "maxLength") || !strcmp(kw, "minItems") ||
		           !strcmp(kw, "maxItems") || !strcmp(kw, "minProperties") || !strcmp(kw, "maxProperties") ||
		           !strcmp(kw, "minContains") || !strcmp(kw, "maxContains")) {
			st = check_nonneg_int(c, kw, v);
		} else if (!strcmp(kw, "minimum") || !strcmp(kw, "maximum") || !strcmp(kw, "exclusiveMinimum") ||
		           !strcmp(kw, "exclusiveMaximum")) {
			if (!is_number(v))
				st = bad(c, "\"%s\" must be a number", kw);
		} else if (!strcmp(kw, "multipleOf")) {
			if (!is_number(v) || !(num(v) > 0))
				st = bad(c, "\"%s\" must be a number greater than 0", kw);
		} else if (!strcmp(kw, "uniqueItems")) {
			if (!json_is_boolean(v))
				st = bad(c, "\"%s\" must be a boolean", kw);
		} else if (!strcmp(kw, "pattern")) {
			char why[256];
			if (!json_is_string(v)) {
				st = bad(c, "\"%s\" must be a string", kw);
			} else {
				pcre2_code *re = compile_pattern(json_string_value(v), json_string_length(v), why, sizeof why);
				if (!re) {
					char m[400];
					snprintf(m, sizeof m, "\"pattern\" does not compile: %s", why);
					st = bad(c, "%s", m);
				}
				pcre2_code_free(re);
			}
		} else if (!strcmp(kw, "format")) {
			if (!json_is_string(v))
				st = bad(c, "\"%s\" must be a string", kw);
			else if (!cn_format_known(json_string_value(v)))
				st = bad(c, "unsupported format \"%s\" (known: date, date-time, email, uri, uuid)",
				         json_string_value(v));
		} else {
			st = bad(c, "unknown or unsupported keyword \"%s\"", kw);
		}
		if (st)
			break;
	}
	c->depth--;
	return st;
}

cairn_status cn_schema_check(const json_t *schema, const char *where, cn_err *err)
{
	checker c = {.err = err, .where = where ? where : "schema"};
	cn_buf_init(&c.ptr);
	cn_buf_puts(&c.ptr, "");
	cairn_status st = check_schema(&c, schema);
	if (c.ptr.failed && !st)
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_buf_free(&c.ptr);
	return st;
}

/* ---- validation ---- */

typedef struct vstate {
	cn_schema_errors *errs; /* NULL: only the verdict is wanted (inside anyOf, not, …) */
	cn_buf iptr, sptr;
	int depth;
} vstate;

static bool validate(vstate *v, const json_t *s, const json_t *x);

#define FAIL(...)                                                                                   \
	do {                                                                                            \
		ok = false;                                                                                 \
		if (!v->errs)                                                                               \
			goto done;                                                                              \
		size_t m_ = v->sptr.len;                                                                    \
		ptr_push(&v->sptr, kw);                                                                     \
		cn_schema_errors_add(v->errs, ptr_str(&v->iptr), ptr_str(&v->sptr), __VA_ARGS__);           \
		ptr_pop(&v->sptr, m_);                                                                      \
	} while (0)

/* Validates x against sub-schema s at schema path kw[/idx], instance path tok (NULL = same). */
static bool sub_validate(vstate *v, const json_t *s, const json_t *x, const char *kw, long idx, const char *itok,
                         long iidx)
{
	size_t sm = v->sptr.len, im = v->iptr.len;
	if (kw)
		ptr_push(&v->sptr, kw);
	if (idx >= 0)
		ptr_push_idx(&v->sptr, (size_t)idx);
	if (itok)
		ptr_push(&v->iptr, itok);
	if (iidx >= 0)
		ptr_push_idx(&v->iptr, (size_t)iidx);
	bool ok = validate(v, s, x);
	ptr_pop(&v->sptr, sm);
	ptr_pop(&v->iptr, im);
	return ok;
}

/* The verdict alone, without recording errors. */
static bool quiet_validate(vstate *v, const json_t *s, const json_t *x)
{
	cn_schema_errors *saved = v->errs;
	v->errs = NULL;
	bool ok = validate(v, s, x);
	v->errs = saved;
	return ok;
}

static void value_text(const json_t *x, char *out, size_t size)
{
	char *t = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(out, size, "%s", t ? t : "?");
	if (t && strlen(t) >= size && size > 4)
		memcpy(out + size - 4, "...", 4);
	free(t);
}

static bool validate(vstate *v, const json_t *s, const json_t *x)
{
	if (json_is_true(s))
		return true;
	const char *kw = "";
	bool ok = true;
	if (json_is_false(s)) {
		if (v->errs)
			cn_schema_errors_add(v->errs, ptr_str(&v->iptr), ptr_str(&v->sptr), "no value is allowed here");
		return false;
	}
	if (++v->depth > 200) {
		v->depth--;
		if (v->errs)
			cn_schema_errors_add(v->errs, ptr_str(&v->iptr), ptr_str(&v->sptr), "nested too deeply");
		return false;
	}
	json_t *val;
	char vt[120];

	if ((val = json_object_get(s, "type"))) {
		kw = "type";
		bool any = false;
		if (json_is_string(val)) {
			any = type_matches(json_string_value(val), x);
		} else {
			for (size_t i = 0; i < json_array_size(val) && !any; i++)
				any = type_matches(json_string_value(json_array_get(val, i)), x);
		}
		if (!any) {
			value_text(val, vt, sizeof vt);
			FAIL("expected type %s, got %s", vt, type_name(x));
		}
	}
	if ((val = json_object_get(s, "enum"))) {
		kw = "enum";
		bool found = false;
		for (size_t i = 0; i < json_array_size(val) && !found; i++)
			found = cn_json_equal(json_array_get(val, i), x);
		if (!found) {
			value_text(val, vt, sizeof vt);
			FAIL("must be one of %s", vt);
		}
	}
	if ((val = json_object_get(s, "const"))) {
		kw = "const";
		if (!cn_json_equal(val, x)) {
			value_text(val, vt, sizeof vt);
			FAIL("must be %s", vt);
		}
	}
	if (is_number(x)) {
		double d = num(x);
		if ((val = json_object_get(s, "minimum")) && (kw = "minimum", d < num(val)))
			FAIL("must be at least %.17g", num(val));
		if ((val = json_object_get(s, "maximum")) && (kw = "maximum", d > num(val)))
			FAIL("must be at most %.17g", num(val));
		if ((val = json_object_get(s, "exclusiveMinimum")) && (kw = "exclusiveMinimum", d <= num(val)))
			FAIL("must be greater than %.17g", num(val));
		if ((val = json_object_get(s, "exclusiveMaximum")) && (kw = "exclusiveMaximum", d >= num(val)))
			FAIL("must be less than %.17g", num(val));
		if ((val = json_object_get(s, "multipleOf"))) {
			kw = "multipleOf";
			bool mult;
			if (json_is_integer(x) && json_is_integer(val)) {
				mult = json_integer_value(x) % json_integer_value(val) == 0;
			} else {
				double q = d / num(val);
				mult = isfinite(q) && q == floor(q);
			}
			if (!mult)
				FAIL("must be a multiple of %.17g", num(val));
		}
	}
	if (json_is_string(x)) {
		const char *str = json_string_value(x);
		size_t len = json_string_length(x);
		size_t chars = utf8_chars(str, len);
		if ((val = json_object_get(s, "minLength")) && (kw = "minLength", (double)chars < num(val)))
			FAIL("must be at least %.0f characters long (is %zu)", num(val), chars);
		if ((val = json_object_get(s, "maxLength")) && (kw = "maxLength", (double)chars > num(val)))
			FAIL("must be at most %.0f characters long (is %zu)", num(val), chars);
		if ((val = json_object_get(s, "pattern"))) {
			kw = "pattern";
			int m = pattern_match(json_string_value(val), json_string_length(val), str, len);
			if (m != 1)
				FAIL(m < 0 ? "could not be matched against the pattern %.200s (limit reached)"
				           : "does not match the pattern %.200s",
				     json_string_value(val));
		}
		if ((val = json_object_get(s, "format"))) {
			kw = "format";
			if (!cn_format_valid(json_string_value(val), str, len))
				FAIL("is not a valid %s", json_string_value(val));
		}
	}
	if (json_is_array(x)) {
		size_t n = json_array_size(x);
		if ((val = json_object_get(s, "minItems")) && (kw = "minItems", (double)n < num(val)))
			FAIL("must have at least %.0f items (has %zu)", num(val), n);
		if ((val = json_object_get(s, "maxItems")) && (kw = "maxItems", (double)n > num(val)))
			FAIL("must have at most %.0f items (has %zu)", num(val), n);
		if ((val = json_object_get(s, "uniqueItems")) && json_is_true(val)) {
			kw = "uniqueItems";
			bool dup = false;
			for (size_t i = 0; i < n && !dup; i++)
				for (size_t j = 0; j < i && !dup; j++)
					if (cn_json_equal(json_array_get(x, i), json_array_get(x, j))) {
						dup = true;
						FAIL("items %zu and %zu are equal", j, i);
					}
		}
		json_t *prefix = json_object_get(s, "prefixItems");
		size_t np = prefix ? json_array_size(prefix) : 0;
		for (size_t i = 0; i < n && i < np; i++)
			if (!sub_validate(v, json_array_get(prefix, i), json_array_get(x, i), "prefixItems", (long)i, NULL,
			                  (long)i)) {
				ok = false;
				if (!v->errs)
					goto done;
			}
		if ((val = json_object_get(s, "items")))
			for (size_t i = np; i < n; i++)
				if (!sub_validate(v, val, json_array_get(x, i), "items", -1, NULL, (long)i)) {
					ok = false;
					if (!v->errs)
						goto done;
				}
		if ((val = json_object_get(s, "contains"))) {
			kw = "contains";
			size_t hits = 0;
			for (size_t i = 0; i < n; i++)
				hits += quiet_validate(v, val, json_array_get(x, i));
			json_t *mn = json_object_get(s, "minContains"), *mx = json_object_get(s, "maxContains");
			double lo = mn ? num(mn) : 1;
			if ((double)hits < lo)
				FAIL("must contain at least %.0f matching items (has %zu)", lo, hits);
			if (mx && (double)hits > num(mx))
				FAIL("must contain at most %.0f matching items (has %zu)", num(mx), hits);
		}
	}
	if (json_is_object(x)) {
		size_t n = json_object_size(x);
		if ((val = json_object_get(s, "minProperties")) && (kw = "minProperties", (double)n < num(val)))
			FAIL("must have at least %.0f properties", num(val));
		if ((val = json_object_get(s, "maxProperties")) && (kw = "maxProperties", (double)n > num(val)))
			FAIL("must have at most %.0f properties", num(val));
		if ((val = json_object_get(s, "required"))) {
			kw = "required";
			for (size_t i = 0; i < json_array_size(val); i++) {
				const char *name = json_string_value(json_array_get(val, i));
				if (!json_object_get(x, name))
					FAIL("the property \"%.100s\" is required", name);
			}
		}
		json_t *props = json_object_get(s, "properties");
		json_t *pprops = json_object_get(s, "patternProperties");
		json_t *addl = json_object_get(s, "additionalProperties");
		json_t *names = json_object_get(s, "propertyNames");
		const char *k;
		json_t *pv;
		json_object_foreach((json_t *)x, k, pv) {
			bool matched = false;
			json_t *ps = props ? json_object_get(props, k) : NULL;
			if (ps) {
				matched = true;
				size_t sm = v->sptr.len;
				ptr_push(&v->sptr, "properties");
				bool r = sub_validate(v, ps, pv, k, -1, k, -1);
				ptr_pop(&v->sptr, sm);
				if (!r) {
					ok = false;
					if (!v->errs)
						goto done;
				}
			}
			if (pprops) {
				const char *pat;
				json_t *pschema;
				json_object_foreach(pprops, pat, pschema) {
					if (pattern_match(pat, strlen(pat), k, strlen(k)) == 1) {
						matched = true;
						size_t sm = v->sptr.len;
						ptr_push(&v->sptr, "patternProperties");
						bool r = sub_validate(v, pschema, pv, pat, -1, k, -1);
						ptr_pop(&v->sptr, sm);
						if (!r) {
							ok = false;
							if (!v->errs)
								goto done;
						}
					}
				}
			}
			if (!matched && addl) {
				if (json_is_false(addl)) {
					kw = "additionalProperties";
					FAIL("the property \"%.100s\" is not allowed", k);
				} else if (!sub_validate(v, addl, pv, "additionalProperties", -1, k, -1)) {
					ok = false;
					if (!v->errs)
						goto done;
				}
			}
			if (names) {
				json_t *ks = json_string(k);
				bool r = ks && quiet_validate(v, names, ks);
				json_decref(ks);
				if (!r) {
					kw = "propertyNames";
					FAIL("the property name \"%.100s\" is not allowed", k);
				}
			}
		}
	}
	if ((val = json_object_get(s, "allOf"))) {
		for (size_t i = 0; i < json_array_size(val); i++)
			if (!sub_validate(v, json_array_get(val, i), x, "allOf", (long)i, NULL, -1)) {
				ok = false;
				if (!v->errs)
					goto done;
			}
	}
	if ((val = json_object_get(s, "anyOf"))) {
		kw = "anyOf";
		bool any = false;
		for (size_t i = 0; i < json_array_size(val) && !any; i++)
			any = quiet_validate(v, json_array_get(val, i), x);
		if (!any)
			FAIL("matches none of the %zu schemas of anyOf", json_array_size(val));
	}
	if ((val = json_object_get(s, "oneOf"))) {
		kw = "oneOf";
		size_t hits = 0;
		for (size_t i = 0; i < json_array_size(val); i++)
			hits += quiet_validate(v, json_array_get(val, i), x);
		if (hits != 1)
			FAIL("matches %zu of the %zu schemas of oneOf (exactly one is required)", hits, json_array_size(val));
	}
	if ((val = json_object_get(s, "not"))) {
		kw = "not";
		if (quiet_validate(v, val, x))
			FAIL("must not match the schema of \"not\"%s", "");
	}
done:
	v->depth--;
	return ok;
}

bool cn_schema_validate(const json_t *schema, const json_t *instance, cn_schema_errors *errs)
{
	vstate v = {.errs = errs};
	cn_buf_init(&v.iptr);
	cn_buf_init(&v.sptr);
	cn_buf_puts(&v.iptr, "");
	cn_buf_puts(&v.sptr, "");
	bool ok = validate(&v, schema, instance);
	if ((v.iptr.failed || v.sptr.failed) && errs)
		errs->oom = true;
	cn_buf_free(&v.iptr);
	cn_buf_free(&v.sptr);
	return ok && !(errs && errs->oom);
}
