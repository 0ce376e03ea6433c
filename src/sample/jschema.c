/*
 * jschema.c — JSON Schema subset → byte-level pushdown matcher → token masks.
 *
 * The schema compiles into a flat array of nodes (object, array, string, number, integer,
 * literal set, anyOf). Enums, consts, booleans and null are all "literal sets": their
 * canonical JSON texts, sorted, so the literals still possible after a prefix are one
 * contiguous range and matching is two indices and a position. Object properties are
 * generated in schema order (as llama.cpp's schema-to-grammar does): optional ones may be
 * skipped, required ones may not, and so no key repeats and the key set is checked by
 * construction. anyOf/oneOf branches must begin with different bytes (a string, a number,
 * null …): the first byte picks the branch, so the matcher stays deterministic.
 *
 * The matcher is a stack of 24-byte frames, one per open value, under a root frame. Every
 * frame can say how many bytes at least complete it (`rest`), and a parent's rest already
 * counts the child it is waiting for (a parent moves to its "after the value" state when it
 * pushes the child), so the fewest bytes to finish the document is the sum over the stack.
 * That sum is the termination guarantee: with budget B tokens left, a token is allowed only
 * if its bytes are accepted and the sum after them is ≤ B − 1; since every byte a shortest
 * completion needs is also a single token (cn_jschema_check_vocab), some token is always
 * allowed and the document is complete when the budget runs out. Defaults bound strings,
 * arrays and numbers (docs/sample.md) so that no path is unbounded even without a budget.
 *
 * Token masks walk the vocabulary in sorted byte order. Frame writes go through an undo
 * log, and the log position after each byte of the current token is remembered, so the
 * next token rolls back only to the prefix it shares with this one; a token whose shared
 * prefix already failed is skipped without feeding a byte.
 */
#include "sample/sample_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define MAX_NEST 32        /* schema nesting */
#define MAX_DEPTH (MAX_NEST + 4)
#define MAX_PROPS 64       /* per object: a 64-bit set of keys still possible */
#define MAX_NODES 4096
#define MAX_LITS 4096
#define WS_MAX 2           /* whitespace bytes allowed in one gap between tokens of JSON */
#define DEF_MAX_LEN 2048   /* string length (characters) when the schema gives none */
#define DEF_MAX_ITEMS 1024 /* array length when the schema gives none */
#define NUM_DIGITS 16      /* integer part, fraction; integers: magnitude below 10^16 */
#define EXP_DIGITS 2
#define SAT ((int64_t)1 << 40) /* saturation of byte counts */

enum { K_OBJECT, K_ARRAY, K_STRING, K_NUMBER, K_INTEGER, K_LITERAL, K_ANYOF };

typedef struct jnode {
	uint8_t kind;
	uint8_t first[32];  /* bitset: bytes a value of this node can begin with */
	int64_t minb;       /* fewest bytes of a value */
	uint32_t a, n;      /* object: props[a..a+n); literal: lits[a..a+n); anyOf: branches[a..a+n) */
	uint32_t item;      /* array */
	uint32_t min, max;  /* array items, string characters */
	int64_t lo, hi;     /* integer bounds */
} jnode;

typedef struct jprop {
	uint32_t koff, klen; /* the key as JSON text, quotes included, in blob */
	uint32_t child;
	bool required;
	int64_t tail;        /* rest of the object after this property's value is done */
	int64_t comma;       /* rest after a comma when the next key may be this one or later */
	uint64_t allowed;    /* keys that may come next when this is the first not yet passed */
	bool req_from;       /* a required property at this index or later */
} jprop;

typedef struct jlit {
	uint32_t off, len;
} jlit;

struct cn_jschema {
	jnode *nodes;
	uint32_t n_nodes;
	size_t cap_nodes;
	jprop *props;        /* per object: n + 1 entries (the last: the end of the object) */
	uint32_t n_props;
	size_t cap_props;
	jlit *lits;
	uint32_t n_lits;
	size_t cap_lits;
	uint32_t *branches;
	uint32_t n_br;
	size_t cap_br;
	cn_buf blob;
	uint32_t root;
};

static int64_t sadd(int64_t a, int64_t b)
{
	int64_t s = a + b;
	return s > SAT ? SAT : s;
}

static int64_t smul(int64_t a, int64_t b)
{
	if (a && b > SAT / a)
		return SAT;
	int64_t s = a * b;
	return s > SAT ? SAT : s;
}

static inline void bset(uint8_t *s, uint8_t c)
{
	s[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static inline bool bhas(const uint8_t *s, uint8_t c)
{
	return s[c >> 3] >> (c & 7) & 1;
}

static int ndigits(int64_t v)
{
	int d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static int64_t pow10i(int j)
{
	int64_t p = 1;
	while (j-- > 0)
		p *= 10;
	return p;
}

/* ---- integers with bounds ---------------------------------------------------------------- */

/* The magnitudes a sign allows: [*A, *B]; false when none. */
static bool mag_range(bool neg, int64_t lo, int64_t hi, int64_t *A, int64_t *B)
{
	if (!neg) {
		*A = lo > 0 ? lo : 0;
		*B = hi;
	} else {
		*A = -hi > 1 ? -hi : 1;
		*B = -lo;
	}
	return *A <= *B;
}

/* Fewest further digits after a magnitude prefix m of nd digits (m ≥ 1) that land in the
 * bounds; -1 when no extension does. */
static int int_extra(bool neg, int64_t m, uint32_t nd, int64_t lo, int64_t hi)
{
	int64_t A, B;
	if (!mag_range(neg, lo, hi, &A, &B))
		return -1;
	for (int j = 0; nd + (uint32_t)j <= NUM_DIGITS; j++) {
		int64_t p = pow10i(j), low = m * p, high = low + p - 1;
		if (high >= A && low <= B)
			return j;
	}
	return -1;
}

/* Fewest bytes of an integer with the sign chosen (after '-' when neg and minus_done). */
static int64_t int_start_bytes(bool neg, int64_t lo, int64_t hi)
{
	int64_t A, B;
	if (!mag_range(neg, lo, hi, &A, &B))
		return SAT;
	return ndigits(A);
}

static int64_t int_minb(int64_t lo, int64_t hi)
{
	int64_t a = int_start_bytes(false, lo, hi), b = sadd(1, int_start_bytes(true, lo, hi));
	return a < b ? a : b;
}

/* ---- compiling ---------------------------------------------------------------------------- */

typedef struct comp {
	cn_jschema *s;
	cn_err *err;
	bool multi_type; /* "type": [...]: keywords of the other listed types are fine */
	char path[512];
} comp;

/* Every keyword some type accepts (for type lists). */
static const char *const TYPE_KEYWORDS[] = {"properties", "required", "additionalProperties", "items",
                                            "minItems",   "maxItems", "minLength",            "maxLength",
                                            "minimum",    "maximum",  "exclusiveMinimum",     "exclusiveMaximum"};

static cairn_status cerr(comp *c, cairn_status code, const char *fmt, const char *what)
{
	return cn_err_set(c->err, code, "json_schema: %s%s%s at %s", fmt, what ? what : "", what ? "\"" : "",
	                  c->path[0] ? c->path : "/");
}

static cairn_status new_node(comp *c, uint8_t kind, uint32_t *id)
{
	cn_jschema *s = c->s;
	if (s->n_nodes >= MAX_NODES)
		return cerr(c, CAIRN_ETOOBIG, "more than 4096 schema nodes", NULL);
	if (CN_GROW(s->nodes, s->cap_nodes, s->n_nodes + 1) != CAIRN_OK)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	memset(&s->nodes[s->n_nodes], 0, sizeof(jnode));
	s->nodes[s->n_nodes].kind = kind;
	*id = s->n_nodes++;
	return CAIRN_OK;
}

/* Appends JSON text of a scalar to the blob as a literal. */
static cairn_status add_text(comp *c, const json_t *v, uint32_t *off, uint32_t *len)
{
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!t)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	size_t n = strlen(t);
	if (n > 4096 || c->s->blob.len > (1u << 30)) {
		free(t);
		return cerr(c, CAIRN_ETOOBIG, "a literal or key over 4096 bytes", NULL);
	}
	*off = (uint32_t)c->s->blob.len;
	*len = (uint32_t)n;
	cn_buf_append(&c->s->blob, t, n);
	free(t);
	if (c->s->blob.failed)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	return CAIRN_OK;
}

static const char *const ANNOTATIONS[] = {"title",   "description", "$schema",  "$id",       "$comment",
                                          "default", "examples",    "deprecated", "readOnly", "writeOnly"};

static bool is_annotation(const char *k)
{
	for (size_t i = 0; i < sizeof ANNOTATIONS / sizeof *ANNOTATIONS; i++)
		if (!strcmp(k, ANNOTATIONS[i]))
			return true;
	return false;
}

/* Rejects any keyword of s outside allowed (NULL-terminated) and the annotations. */
static cairn_status check_keywords(comp *c, json_t *s, const char *const *allowed, const char *type)
{
	const char *k;
	json_t *v;
	json_object_foreach(s, k, v)
	{
		if (is_annotation(k))
			continue;
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(k, *a))
				ok = true;
		for (size_t i = 0; c->multi_type && i < sizeof TYPE_KEYWORDS / sizeof *TYPE_KEYWORDS; i++)
			if (!strcmp(k, TYPE_KEYWORDS[i]))
				ok = true;
		if (!ok) {
			char msg[160];
			snprintf(msg, sizeof msg, "unsupported keyword \"%s\"%s%s", k, type ? " for type " : "",
			         type ? type : "");
			return cerr(c, CAIRN_EUNSUPPORTED, msg, NULL);
		}
	}
	return CAIRN_OK;
}

/* A count keyword's value (capped at 2^31 - 1); absent: def. */
static cairn_status get_count(comp *c, json_t *s, const char *key, uint32_t def, uint32_t *out)
{
	json_t *v = json_object_get(s, key);
	*out = def;
	if (!v)
		return CAIRN_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return cerr(c, CAIRN_EINVAL, "this must be a non-negative integer: \"", key);
	json_int_t x = json_integer_value(v);
	*out = (uint32_t)(x > 0x7fffffff ? 0x7fffffff : x);
	return CAIRN_OK;
}

/* min/max keywords with the default cap on the maximum (never below the minimum). */
static cairn_status get_bounds(comp *c, json_t *s, const char *kmin, const char *kmax, uint32_t defmax,
                               uint32_t *mn, uint32_t *mx)
{
	cairn_status rc;
	if ((rc = get_count(c, s, kmin, 0, mn)) != CAIRN_OK || (rc = get_count(c, s, kmax, UINT32_MAX, mx)) != CAIRN_OK)
		return rc;
	if (*mn > *mx)
		return cerr(c, CAIRN_EINVAL, "no value fits: the minimum is above the maximum: \"", kmin);
	uint32_t cap = defmax > *mn ? defmax : *mn;
	if (*mx > cap)
		*mx = cap;
	return CAIRN_OK;
}

static cairn_status compile_node(comp *c, json_t *s, int depth, uint32_t *out);

static void path_push(comp *c, size_t *save, const char *seg)
{
	*save = strlen(c->path);
	snprintf(c->path + *save, sizeof c->path - *save, "/%s", seg);
}

static cairn_status compile_sub(comp *c, json_t *s, int depth, const char *seg, uint32_t *out)
{
	size_t save;
	path_push(c, &save, seg);
	bool multi = c->multi_type;
	c->multi_type = false;
	cairn_status rc = compile_node(c, s, depth + 1, out);
	c->multi_type = multi;
	if (rc == CAIRN_OK)
		c->path[save] = '\0';
	return rc;
}

static int cmp_lit_blob(const cn_jschema *s, const jlit *a, const jlit *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(s->blob.data + a->off, s->blob.data + b->off, n);
	return r ? r : (a->len > b->len) - (a->len < b->len);
}

/* A literal node from scalar values (already filtered). */
static cairn_status literal_node(comp *c, json_t *const *vals, size_t n, uint32_t *out)
{
	cn_jschema *s = c->s;
	if (!n)
		return cerr(c, CAIRN_EINVAL, "no value can satisfy this schema (an empty enum, or none of the type)", NULL);
	if (s->n_lits + n > MAX_LITS)
		return cerr(c, CAIRN_ETOOBIG, "more than 4096 enum values", NULL);
	uint32_t id;
	cairn_status rc = new_node(c, K_LITERAL, &id);
	if (rc != CAIRN_OK)
		return rc;
	if (CN_GROW(s->lits, s->cap_lits, s->n_lits + n) != CAIRN_OK)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	uint32_t a = s->n_lits;
	for (size_t i = 0; i < n; i++) {
		jlit l;
		if ((rc = add_text(c, vals[i], &l.off, &l.len)) != CAIRN_OK)
			return rc;
		/* insertion in sorted order, duplicates dropped */
		uint32_t j = s->n_lits;
		bool dup = false;
		for (uint32_t k = a; k < s->n_lits; k++)
			if (!cmp_lit_blob(s, &s->lits[k], &l))
				dup = true;
		if (dup)
			continue;
		while (j > a && cmp_lit_blob(s, &s->lits[j - 1], &l) > 0) {
			s->lits[j] = s->lits[j - 1];
			j--;
		}
		s->lits[j] = l;
		s->n_lits++;
	}
	jnode *nd = &s->nodes[id];
	nd->a = a;
	nd->n = s->n_lits - a;
	nd->minb = SAT;
	for (uint32_t k = a; k < s->n_lits; k++) {
		if (s->lits[k].len < nd->minb)
			nd->minb = s->lits[k].len;
		bset(nd->first, (uint8_t)s->blob.data[s->lits[k].off]);
	}
	*out = id;
	return CAIRN_OK;
}

static bool scalar_of_type(const json_t *v, const char *type)
{
	if (!type)
		return true;
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(type, "null"))
		return json_is_null(v);
	return false;
}

static cairn_status compile_enum(comp *c, json_t *s, const char *type, uint32_t *out)
{
	json_t *en = json_object_get(s, "enum"), *cst = json_object_get(s, "const");
	if (en && cst)
		return cerr(c, CAIRN_EUNSUPPORTED, "enum together with const", NULL);
	static const char *const allowed[] = {"type", "enum", "const", NULL};
	cairn_status rc = check_keywords(c, s, allowed, NULL);
	if (rc != CAIRN_OK)
		return rc;
	json_t *one[1];
	json_t **vals;
	size_t n;
	if (cst) {
		one[0] = cst;
		vals = one;
		n = 1;
	} else {
		if (!json_is_array(en))
			return cerr(c, CAIRN_EINVAL, "enum must be an array", NULL);
		n = json_array_size(en);
		if (n > MAX_LITS)
			return cerr(c, CAIRN_ETOOBIG, "more than 4096 enum values", NULL);
		vals = cn_malloc((n ? n : 1) * sizeof(json_t *));
		if (!vals)
			return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
		for (size_t i = 0; i < n; i++)
			vals[i] = json_array_get(en, i);
	}
	size_t k = 0;
	for (size_t i = 0; i < n && rc == CAIRN_OK; i++) {
		if (json_is_object(vals[i]) || json_is_array(vals[i]))
			rc = cerr(c, CAIRN_EUNSUPPORTED, "enum or const values that are objects or arrays", NULL);
		else if (scalar_of_type(vals[i], type))
			vals[k++] = vals[i];
	}
	if (rc == CAIRN_OK)
		rc = literal_node(c, vals, k, out);
	if (vals != one)
		cn_free(vals);
	return rc;
}

static cairn_status compile_object(comp *c, json_t *s, int depth, uint32_t *out)
{
	static const char *const allowed[] = {"type", "properties", "required", "additionalProperties", NULL};
	cairn_status rc = check_keywords(c, s, allowed, "object");
	if (rc != CAIRN_OK)
		return rc;
	json_t *ap = json_object_get(s, "additionalProperties");
	if (ap && !json_is_false(ap))
		return cerr(c, CAIRN_EUNSUPPORTED,
		            "additionalProperties other than false (only the listed properties are generated)", NULL);
	json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
	if (props && !json_is_object(props))
		return cerr(c, CAIRN_EINVAL, "properties must be an object", NULL);
	if (req && !json_is_array(req))
		return cerr(c, CAIRN_EINVAL, "required must be an array", NULL);
	size_t n = props ? json_object_size(props) : 0;
	if (n > MAX_PROPS)
		return cerr(c, CAIRN_EUNSUPPORTED, "more than 64 properties in one object", NULL);
	for (size_t i = 0; req && i < json_array_size(req); i++) {
		json_t *r = json_array_get(req, i);
		if (!json_is_string(r))
			return cerr(c, CAIRN_EINVAL, "required must list strings", NULL);
		if (!props || !json_object_get(props, json_string_value(r)))
			return cerr(c, CAIRN_EUNSUPPORTED, "a required key without a schema in properties: \"",
			            json_string_value(r));
	}
	uint32_t id;
	if ((rc = new_node(c, K_OBJECT, &id)) != CAIRN_OK)
		return rc;
	cn_jschema *S = c->s;
	if (CN_GROW(S->props, S->cap_props, S->n_props + n + 1) != CAIRN_OK)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	uint32_t a = S->n_props;
	S->n_props += (uint32_t)n + 1;
	memset(&S->props[a], 0, (n + 1) * sizeof(jprop));
	/* jansson keeps insertion order (2.8+): the schema's order is the generation order */
	size_t i = 0;
	const char *key;
	json_t *sub;
	json_object_foreach(props, key, sub)
	{
		jprop p = {0};
		json_t *ks = json_string(key);
		if (!ks)
			return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
		rc = add_text(c, ks, &p.koff, &p.klen);
		json_decref(ks);
		if (rc != CAIRN_OK)
			return rc;
		char seg[300];
		snprintf(seg, sizeof seg, "properties/%s", key);
		if ((rc = compile_sub(c, sub, depth, seg, &p.child)) != CAIRN_OK)
			return rc;
		for (size_t r = 0; req && r < json_array_size(req); r++)
			if (!strcmp(json_string_value(json_array_get(req, r)), key))
				p.required = true;
		S->props[a + i++] = p;
	}
	/* the rests, from the end (see the design note) */
	jprop *P = &S->props[a];
	P[n].tail = 1;
	P[n].comma = SAT;
	P[n].req_from = false;
	for (size_t k = n; k-- > 0;) {
		int64_t cost = sadd(sadd((int64_t)P[k].klen + 1, S->nodes[P[k].child].minb), P[k + 1].tail);
		P[k].comma = P[k].required || cost < P[k + 1].comma ? cost : P[k + 1].comma;
		P[k].req_from = P[k].required || P[k + 1].req_from;
		P[k].tail = P[k].req_from ? sadd(1, P[k].comma) : 1;
		P[k].allowed = (1ull << k) | (P[k].required ? 0 : P[k + 1].allowed);
	}
	/* P[n].tail is used after the last property: the object may only close */
	jnode *nd = &S->nodes[id];
	nd->a = a;
	nd->n = (uint32_t)n;
	nd->minb = sadd(1, n && P[0].req_from ? P[0].comma : 1);
	bset(nd->first, '{');
	*out = id;
	return CAIRN_OK;
}

static cairn_status compile_typed(comp *c, json_t *s, const char *type, int depth, uint32_t *out)
{
	if (json_object_get(s, "enum") || json_object_get(s, "const"))
		return compile_enum(c, s, type, out);
	cairn_status rc;
	uint32_t id;
	if (!strcmp(type, "object"))
		return compile_object(c, s, depth, out);
	if (!strcmp(type, "array")) {
		static const char *const allowed[] = {"type", "items", "minItems", "maxItems", NULL};
		if ((rc = check_keywords(c, s, allowed, "array")) != CAIRN_OK)
			return rc;
		json_t *items = json_object_get(s, "items");
		if (!json_is_object(items))
			return cerr(c, CAIRN_EUNSUPPORTED, "an array without an items schema (an object)", NULL);
		uint32_t mn, mx, item;
		if ((rc = get_bounds(c, s, "minItems", "maxItems", DEF_MAX_ITEMS, &mn, &mx)) != CAIRN_OK)
			return rc;
		if ((rc = compile_sub(c, items, depth, "items", &item)) != CAIRN_OK)
			return rc;
		if ((rc = new_node(c, K_ARRAY, &id)) != CAIRN_OK)
			return rc;
		jnode *nd = &c->s->nodes[id];
		nd->item = item;
		nd->min = mn;
		nd->max = mx;
		int64_t ib = c->s->nodes[item].minb;
		nd->minb = mn ? sadd(2, sadd(smul(mn, ib), mn - 1)) : 2;
		bset(nd->first, '[');
	} else if (!strcmp(type, "string")) {
		static const char *const allowed[] = {"type", "minLength", "maxLength", NULL};
		if ((rc = check_keywords(c, s, allowed, "string")) != CAIRN_OK)
			return rc;
		uint32_t mn, mx;
		if ((rc = get_bounds(c, s, "minLength", "maxLength", DEF_MAX_LEN, &mn, &mx)) != CAIRN_OK)
			return rc;
		if ((rc = new_node(c, K_STRING, &id)) != CAIRN_OK)
			return rc;
		jnode *nd = &c->s->nodes[id];
		nd->min = mn;
		nd->max = mx;
		nd->minb = sadd(2, mn);
		bset(nd->first, '"');
	} else if (!strcmp(type, "number")) {
		static const char *const allowed[] = {"type", NULL};
		if ((rc = check_keywords(c, s, allowed, "number (bounds are supported on integers)")) != CAIRN_OK)
			return rc;
		if ((rc = new_node(c, K_NUMBER, &id)) != CAIRN_OK)
			return rc;
		jnode *nd = &c->s->nodes[id];
		nd->minb = 1;
		bset(nd->first, '-');
		for (int d = '0'; d <= '9'; d++)
			bset(nd->first, (uint8_t)d);
	} else if (!strcmp(type, "integer")) {
		static const char *const allowed[] = {"type",    "minimum",          "maximum",
		                                      "exclusiveMinimum", "exclusiveMaximum", NULL};
		if ((rc = check_keywords(c, s, allowed, "integer")) != CAIRN_OK)
			return rc;
		const int64_t LIM = pow10i(NUM_DIGITS) - 1;
		int64_t lo = -LIM, hi = LIM;
		static const char *const bk[] = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};
		for (int k = 0; k < 4; k++) {
			json_t *v = json_object_get(s, bk[k]);
			if (!v)
				continue;
			if (!json_is_number(v))
				return cerr(c, CAIRN_EINVAL, "a bound that is not a number: \"", bk[k]);
			double x = json_number_value(v);
			if (!isfinite(x))
				return cerr(c, CAIRN_EINVAL, "a bound that is not finite: \"", bk[k]);
			double b = k == 0 ? ceil(x) : k == 1 ? floor(x) + 1 : k == 2 ? floor(x) : ceil(x) - 1;
			if (b < (double)-LIM)
				b = (double)-LIM - (k < 2 ? 0 : 1);
			if (b > (double)LIM)
				b = (double)LIM + (k < 2 ? 1 : 0);
			if (k < 2 && (int64_t)b > lo)
				lo = (int64_t)b;
			if (k >= 2 && (int64_t)b < hi)
				hi = (int64_t)b;
		}
		if (lo > hi)
			return cerr(c, CAIRN_EINVAL, "no integer within the bounds (or beyond ±10^16)", NULL);
		if ((rc = new_node(c, K_INTEGER, &id)) != CAIRN_OK)
			return rc;
		jnode *nd = &c->s->nodes[id];
		nd->lo = lo;
		nd->hi = hi;
		nd->minb = int_minb(lo, hi);
		if (lo < 0)
			bset(nd->first, '-');
		for (int d = '0'; d <= '9'; d++)
			bset(nd->first, (uint8_t)d);
	} else if (!strcmp(type, "boolean") || !strcmp(type, "null")) {
		static const char *const allowed[] = {"type", NULL};
		if ((rc = check_keywords(c, s, allowed, type)) != CAIRN_OK)
			return rc;
		json_t *v[2];
		size_t n = 1;
		if (!strcmp(type, "null")) {
			v[0] = json_null();
		} else {
			v[0] = json_true();
			v[1] = json_false();
			n = 2;
		}
		return literal_node(c, v, n, out);
	} else {
		return cerr(c, CAIRN_EUNSUPPORTED, "unsupported type \"", type);
	}
	*out = id;
	return CAIRN_OK;
}

/* An anyOf node over compiled branches; their first bytes must not overlap. */
static cairn_status anyof_node(comp *c, const uint32_t *br, size_t n, uint32_t *out)
{
	cn_jschema *s = c->s;
	uint32_t id;
	cairn_status rc = new_node(c, K_ANYOF, &id);
	if (rc != CAIRN_OK)
		return rc;
	if (CN_GROW(s->branches, s->cap_br, s->n_br + n) != CAIRN_OK)
		return cn_err_set(c->err, CAIRN_ENOMEM, "json_schema: out of memory");
	jnode *nd = &s->nodes[id];
	nd->a = s->n_br;
	nd->n = (uint32_t)n;
	nd->minb = SAT;
	for (size_t i = 0; i < n; i++) {
		const jnode *b = &s->nodes[br[i]];
		for (int k = 0; k < 32; k++) {
			if (nd->first[k] & b->first[k])
				return cerr(c, CAIRN_EUNSUPPORTED,
				            "anyOf/oneOf (or a type list) whose branches can begin with the same character "
				            "(two objects, two strings, number and integer …)",
				            NULL);
			nd->first[k] |= b->first[k];
		}
		if (b->minb < nd->minb)
			nd->minb = b->minb;
		s->branches[s->n_br++] = br[i];
	}
	*out = id;
	return CAIRN_OK;
}

static cairn_status compile_node(comp *c, json_t *s, int depth, uint32_t *out)
{
	if (depth > MAX_NEST)
		return cerr(c, CAIRN_ETOOBIG, "schemas nested more than 32 deep", NULL);
	if (!json_is_object(s))
		return cerr(c, json_is_boolean(s) ? CAIRN_EUNSUPPORTED : CAIRN_EINVAL,
		            json_is_boolean(s) ? "boolean schemas (true/false)" : "a schema must be an object", NULL);
	cairn_status rc;
	json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf");
	if (any || one) {
		if (any && one)
			return cerr(c, CAIRN_EUNSUPPORTED, "anyOf together with oneOf", NULL);
		static const char *const allowed[] = {"anyOf", "oneOf", NULL};
		if ((rc = check_keywords(c, s, allowed, NULL)) != CAIRN_OK)
			return rc;
		json_t *arr = any ? any : one;
		size_t n = json_array_size(arr);
		if (!json_is_array(arr) || !n || n > 16)
			return cerr(c, CAIRN_EINVAL, "anyOf/oneOf must be an array of 1 to 16 schemas", NULL);
		uint32_t br[16];
		for (size_t i = 0; i < n; i++) {
			char seg[32];
			snprintf(seg, sizeof seg, "%s/%zu", any ? "anyOf" : "oneOf", i);
			if ((rc = compile_sub(c, json_array_get(arr, i), depth, seg, &br[i])) != CAIRN_OK)
				return rc;
		}
		return anyof_node(c, br, n, out);
	}
	json_t *type = json_object_get(s, "type");
	if (!type) {
		if (json_object_get(s, "enum") || json_object_get(s, "const"))
			return compile_enum(c, s, NULL, out);
		static const char *const none[] = {NULL};
		if ((rc = check_keywords(c, s, none, NULL)) != CAIRN_OK)
			return rc;
		return cerr(c, CAIRN_EUNSUPPORTED, "a schema without type, enum, const or anyOf (any value)", NULL);
	}
	if (json_is_string(type))
		return compile_typed(c, s, json_string_value(type), depth, out);
	if (!json_is_array(type) || !json_array_size(type) || json_array_size(type) > 7)
		return cerr(c, CAIRN_EINVAL, "type must be a string or an array of 1 to 7 strings", NULL);
	size_t n = json_array_size(type);
	uint32_t br[7];
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(type, i);
		if (!json_is_string(t))
			return cerr(c, CAIRN_EINVAL, "type must list strings", NULL);
		bool save = c->multi_type;
		c->multi_type = n > 1;
		rc = compile_typed(c, s, json_string_value(t), depth, &br[i]);
		c->multi_type = save;
		if (rc != CAIRN_OK)
			return rc;
	}
	return n == 1 ? (*out = br[0], CAIRN_OK) : anyof_node(c, br, n, out);
}

void cn_jschema_free(cn_jschema *s)
{
	if (!s)
		return;
	cn_free(s->nodes);
	cn_free(s->props);
	cn_free(s->lits);
	cn_free(s->branches);
	cn_buf_free(&s->blob);
	cn_free(s);
}

cairn_status cn_jschema_compile(const char *text, size_t len, cn_jschema **out, cn_err *err)
{
	*out = NULL;
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root)
		return cn_err_set(err, CAIRN_EINVAL, "json_schema: not valid JSON: %s (line %d, column %d)", je.text,
		                  je.line, je.column);
	cn_jschema *s = cn_calloc(1, sizeof(*s));
	if (!s) {
		json_decref(root);
		return cn_err_set(err, CAIRN_ENOMEM, "json_schema: out of memory");
	}
	cn_buf_init(&s->blob);
	comp c = {.s = s, .err = err};
	cairn_status rc = compile_node(&c, root, 0, &s->root);
	json_decref(root);
	if (rc == CAIRN_OK && s->nodes[s->root].minb >= SAT)
		rc = cn_err_set(err, CAIRN_ETOOBIG, "json_schema: the shortest valid document is over 2^40 bytes");
	if (rc != CAIRN_OK) {
		cn_jschema_free(s);
		return rc;
	}
	*out = s;
	return CAIRN_OK;
}

int64_t cn_jschema_min_bytes(const cn_jschema *s)
{
	return s->nodes[s->root].minb;
}

cairn_status cn_jschema_check_vocab(const cn_jschema *s, const cn_tokindex *t, cn_err *err)
{
	/* every byte of keys and literals, the structure, digits and a string character */
	const char *base = "{}[],:\"-0123456789";
	for (const char *p = base; *p; p++)
		if (t->byte_tok[(uint8_t)*p] < 0)
			return cn_err_set(err, CAIRN_EUNSUPPORTED,
			                  "json_schema: the vocabulary has no single-byte token for '%c', which constrained "
			                  "output needs",
			                  *p);
	for (size_t i = 0; i < s->blob.len; i++) {
		uint8_t b = (uint8_t)s->blob.data[i];
		if (t->byte_tok[b] < 0)
			return cn_err_set(err, CAIRN_EUNSUPPORTED,
			                  "json_schema: the vocabulary has no single-byte token for byte 0x%02x, which a key "
			                  "or enum value of the schema needs",
			                  b);
	}
	bool chr = false;
	for (int b = 'a'; b <= 'z'; b++)
		if (t->byte_tok[b] >= 0)
			chr = true;
	if (!chr)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "json_schema: the vocabulary has no single-letter tokens");
	return CAIRN_OK;
}

/* ---- the matcher -------------------------------------------------------------------------- */

enum { R_START, R_END };
enum { O_START, O_OPEN, O_KEY, O_COLON, O_VALUE, O_AFTER, O_COMMA };
enum { A_START, A_OPEN, A_AFTER, A_COMMA };
enum { S_START, S_IN, S_ESC, S_U, S_UTF };
enum { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
enum { I_START, I_MINUS, I_ZERO, I_DIG };

#define ROOT_NODE UINT32_MAX

typedef struct frame {
	uint32_t node;
	uint8_t ph, ws, a, b; /* phase, whitespace in this gap, aux (utf-8 / hex / sign) */
	uint32_t i;           /* object: next property or key position; array: items; string: chars;
	                         number: digits in this part; literal: position */
	uint32_t j;           /* object: the key being read; literal: first in range; integer: digits */
	uint64_t x;           /* object: keys still possible; literal: last in range; integer: magnitude */
} frame;

typedef struct undo {
	int32_t idx; /* frame index, or -1: depth (old depth in f.i) */
	frame f;
} undo;

struct cn_jmatch {
	const cn_jschema *s;
	frame st[MAX_DEPTH];
	int depth;
	undo *log;
	size_t nlog, cap;
	bool oom;
	size_t *marks;
	size_t cap_marks;
	uint8_t *keep;
	int32_t n_keep;
};

static void log_push(cn_jmatch *m, int32_t idx, const frame *f)
{
	if (m->nlog == m->cap && CN_GROW(m->log, m->cap, m->nlog + 1) != CAIRN_OK) {
		m->oom = true;
		return;
	}
	m->log[m->nlog].idx = idx;
	m->log[m->nlog].f = *f;
	m->nlog++;
}

static void wr(cn_jmatch *m, int d, const frame *f)
{
	log_push(m, d, &m->st[d]);
	m->st[d] = *f;
}

static void set_depth(cn_jmatch *m, int d)
{
	frame f = {0};
	f.i = (uint32_t)m->depth;
	log_push(m, -1, &f);
	m->depth = d;
}

static void rollback(cn_jmatch *m, size_t to)
{
	while (m->nlog > to) {
		undo *u = &m->log[--m->nlog];
		if (u->idx < 0)
			m->depth = (int)u->f.i;
		else
			m->st[u->idx] = u->f;
	}
}

void cn_jmatch_reset(cn_jmatch *m)
{
	memset(m->st, 0, sizeof m->st);
	m->st[0].node = ROOT_NODE;
	m->st[0].ph = R_START;
	m->depth = 1;
	m->nlog = 0;
	m->oom = false;
}

cairn_status cn_jmatch_new(const cn_jschema *s, cn_jmatch **out, cn_err *err)
{
	cn_jmatch *m = cn_calloc(1, sizeof(*m));
	*out = NULL;
	if (!m)
		return cn_err_set(err, CAIRN_ENOMEM, "json matcher: out of memory");
	m->s = s;
	if (CN_GROW(m->log, m->cap, 1024) != CAIRN_OK) {
		cn_free(m);
		return cn_err_set(err, CAIRN_ENOMEM, "json matcher: out of memory");
	}
	cn_jmatch_reset(m);
	*out = m;
	return CAIRN_OK;
}

void cn_jmatch_free(cn_jmatch *m)
{
	if (!m)
		return;
	cn_free(m->log);
	cn_free(m->marks);
	cn_free(m->keep);
	cn_free(m);
}

enum { REJ, ACC, PASS, RETRY, POPACC };

static inline bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\n';
}

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Whitespace in a gap: at most WS_MAX bytes. */
static int take_ws(cn_jmatch *m, int d, frame *f)
{
	if (f->ws >= WS_MAX)
		return REJ;
	f->ws++;
	wr(m, d, f);
	return ACC;
}

/* Pushes a frame for a value of node starting with byte c (the caller retries c on it). */
static int push_value(cn_jmatch *m, uint32_t node, uint8_t c)
{
	const cn_jschema *s = m->s;
	while (s->nodes[node].kind == K_ANYOF) {
		const jnode *n = &s->nodes[node];
		uint32_t pick = UINT32_MAX;
		for (uint32_t k = 0; k < n->n; k++)
			if (bhas(s->nodes[s->branches[n->a + k]].first, c))
				pick = s->branches[n->a + k];
		if (pick == UINT32_MAX)
			return REJ;
		node = pick;
	}
	if (!bhas(s->nodes[node].first, c) || m->depth >= MAX_DEPTH)
		return REJ;
	frame f = {0};
	f.node = node;
	if (s->nodes[node].kind == K_LITERAL) {
		f.j = s->nodes[node].a;
		f.x = s->nodes[node].a + s->nodes[node].n - 1;
	}
	int d = m->depth;
	set_depth(m, d + 1);
	wr(m, d, &f);
	return RETRY;
}

static int step_object(cn_jmatch *m, int d, frame f, const jnode *n, uint8_t c)
{
	const cn_jschema *s = m->s;
	const jprop *P = &s->props[n->a];
	switch (f.ph) {
	case O_START:
		if (c != '{')
			return REJ;
		f.ph = O_OPEN;
		wr(m, d, &f);
		return ACC;
	case O_OPEN:
	case O_COMMA:
		if (is_ws(c))
			return take_ws(m, d, &f);
		if (c == '}' && f.ph == O_OPEN && !(n->n && P[0].req_from))
			return POPACC;
		if (c != '"' || f.i >= n->n)
			return REJ;
		f.x = P[f.i].allowed;
		f.ph = O_KEY;
		f.ws = 0;
		f.j = 1; /* position in the key */
		wr(m, d, &f);
		return ACC;
	case O_KEY: {
		uint64_t alive = 0, done = 0;
		for (uint64_t x = f.x; x; x &= x - 1) {
			int k = __builtin_ctzll(x);
			if (P[k].klen > f.j && (uint8_t)s->blob.data[P[k].koff + f.j] == c) {
				alive |= 1ull << k;
				if (P[k].klen == f.j + 1)
					done = 1ull << k;
			}
		}
		if (!alive)
			return REJ;
		f.j++;
		f.x = alive;
		if (done) { /* quoted keys: a finished key is the only one left */
			f.ph = O_COLON;
			f.j = (uint32_t)__builtin_ctzll(done);
		}
		wr(m, d, &f);
		return ACC;
	}
	case O_COLON:
		if (is_ws(c))
			return take_ws(m, d, &f);
		if (c != ':')
			return REJ;
		f.ph = O_VALUE;
		f.ws = 0;
		wr(m, d, &f);
		return ACC;
	case O_VALUE: {
		if (is_ws(c))
			return take_ws(m, d, &f);
		uint32_t child = P[f.j].child;
		f.ph = O_AFTER;
		f.i = f.j + 1;
		f.ws = 0;
		wr(m, d, &f);
		return push_value(m, child, c);
	}
	case O_AFTER:
		if (is_ws(c))
			return take_ws(m, d, &f);
		if (c == ',' && f.i < n->n) {
			f.ph = O_COMMA;
			f.ws = 0;
			wr(m, d, &f);
			return ACC;
		}
		if (c == '}' && !P[f.i].req_from)
			return POPACC;
		return REJ;
	}
	return REJ;
}

static int step_array(cn_jmatch *m, int d, frame f, const jnode *n, uint8_t c)
{
	switch (f.ph) {
	case A_START:
		if (c != '[')
			return REJ;
		f.ph = A_OPEN;
		wr(m, d, &f);
		return ACC;
	case A_OPEN:
	case A_COMMA:
		if (is_ws(c))
			return take_ws(m, d, &f);
		if (c == ']' && f.ph == A_OPEN && n->min == 0)
			return POPACC;
		if (f.i >= n->max)
			return REJ;
		f.ph = A_AFTER;
		f.i++;
		f.ws = 0;
		wr(m, d, &f);
		return push_value(m, n->item, c);
	case A_AFTER:
		if (is_ws(c))
			return take_ws(m, d, &f);
		if (c == ',' && f.i < n->max) {
			f.ph = A_COMMA;
			f.ws = 0;
			wr(m, d, &f);
			return ACC;
		}
		if (c == ']' && f.i >= n->min)
			return POPACC;
		return REJ;
	}
	return REJ;
}

static int hexval(uint8_t c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int step_string(cn_jmatch *m, int d, frame f, const jnode *n, uint8_t c)
{
	static const uint8_t lo[5] = {0x80, 0xa0, 0x80, 0x90, 0x80}, hi[5] = {0xbf, 0xbf, 0x9f, 0xbf, 0x8f};
	switch (f.ph) {
	case S_START:
		if (c != '"')
			return REJ;
		f.ph = S_IN;
		break;
	case S_IN:
		if (c == '"')
			return f.i >= n->min ? POPACC : REJ;
		if (f.i >= n->max || c < 0x20)
			return REJ;
		if (c == '\\') {
			f.ph = S_ESC;
		} else if (c >= 0x80) {
			if (c >= 0xc2 && c <= 0xdf)
				f.a = 1, f.b = 0;
			else if (c == 0xe0)
				f.a = 2, f.b = 1;
			else if (c == 0xed)
				f.a = 2, f.b = 2;
			else if (c >= 0xe1 && c <= 0xef)
				f.a = 2, f.b = 0;
			else if (c == 0xf0)
				f.a = 3, f.b = 3;
			else if (c >= 0xf1 && c <= 0xf3)
				f.a = 3, f.b = 0;
			else if (c == 0xf4)
				f.a = 3, f.b = 4;
			else
				return REJ;
			f.ph = S_UTF;
		}
		f.i++;
		break;
	case S_UTF:
		if (c < lo[f.b] || c > hi[f.b])
			return REJ;
		f.b = 0;
		if (--f.a == 0)
			f.ph = S_IN;
		break;
	case S_ESC:
		if (c == 'u') {
			f.ph = S_U;
			f.a = 0;
			f.b = 0;
		} else if (strchr("\"\\/bfnrt", c) && c) {
			f.ph = S_IN;
		} else {
			return REJ;
		}
		break;
	case S_U: {
		int h = hexval(c);
		if (h < 0)
			return REJ;
		if (f.a == 0 && h == 0xd)
			f.b = 1; /* \uD800–\uDFFF: no lone surrogates; the second digit must be 0–7 */
		else if (f.a == 1 && f.b == 1 && h >= 8)
			return REJ;
		if (++f.a == 4)
			f.ph = S_IN;
		break;
	}
	default:
		return REJ;
	}
	wr(m, d, &f);
	return ACC;
}

static int step_number(cn_jmatch *m, int d, frame f, uint8_t c)
{
	bool dig = is_digit(c);
	switch (f.ph) {
	case N_START:
	case N_MINUS:
		if (c == '-' && f.ph == N_START)
			f.ph = N_MINUS;
		else if (c == '0')
			f.ph = N_ZERO;
		else if (dig)
			f.ph = N_INT, f.i = 1;
		else
			return REJ;
		break;
	case N_ZERO:
	case N_INT:
		if (dig && f.ph == N_INT && f.i < NUM_DIGITS)
			f.i++;
		else if (c == '.')
			f.ph = N_DOT;
		else if (c == 'e' || c == 'E')
			f.ph = N_E;
		else
			return PASS;
		break;
	case N_DOT:
		if (!dig)
			return REJ;
		f.ph = N_FRAC;
		f.i = 1;
		break;
	case N_FRAC:
		if (dig && f.i < NUM_DIGITS)
			f.i++;
		else if (c == 'e' || c == 'E')
			f.ph = N_E;
		else
			return PASS;
		break;
	case N_E:
	case N_ESIGN:
		if ((c == '+' || c == '-') && f.ph == N_E)
			f.ph = N_ESIGN;
		else if (dig)
			f.ph = N_EXP, f.i = 1;
		else
			return REJ;
		break;
	case N_EXP:
		if (dig && f.i < EXP_DIGITS)
			f.i++;
		else
			return PASS;
		break;
	default:
		return REJ;
	}
	wr(m, d, &f);
	return ACC;
}

static int step_integer(cn_jmatch *m, int d, frame f, const jnode *n, uint8_t c)
{
	bool neg = f.a;
	switch (f.ph) {
	case I_START:
	case I_MINUS:
		if (c == '-' && f.ph == I_START) {
			int64_t A, B;
			if (!mag_range(true, n->lo, n->hi, &A, &B) && !(n->lo <= 0 && n->hi >= 0))
				return REJ;
			f.ph = I_MINUS;
			f.a = 1;
		} else if (c == '0') {
			if (!(n->lo <= 0 && n->hi >= 0))
				return REJ;
			f.ph = I_ZERO;
		} else if (is_digit(c)) {
			if (int_extra(neg, c - '0', 1, n->lo, n->hi) < 0)
				return REJ;
			f.ph = I_DIG;
			f.x = (uint64_t)(c - '0');
			f.j = 1;
		} else {
			return REJ;
		}
		break;
	case I_ZERO:
		return PASS;
	case I_DIG:
		if (is_digit(c) && f.j < NUM_DIGITS) {
			int64_t v = (int64_t)f.x * 10 + (c - '0');
			if (int_extra(neg, v, f.j + 1, n->lo, n->hi) >= 0) {
				f.x = (uint64_t)v;
				f.j++;
				break;
			}
		}
		return int_extra(neg, (int64_t)f.x, f.j, n->lo, n->hi) == 0 ? PASS : REJ;
	default:
		return REJ;
	}
	wr(m, d, &f);
	return ACC;
}

static int step_literal(cn_jmatch *m, int d, frame f, uint8_t c)
{
	const cn_jschema *s = m->s;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t k = f.j; k <= (uint32_t)f.x; k++) {
		const jlit *l = &s->lits[k];
		if (l->len > f.i && (uint8_t)s->blob.data[l->off + f.i] == c) {
			if (lo == UINT32_MAX)
				lo = k;
			hi = k;
		}
	}
	if (lo == UINT32_MAX)
		return s->lits[f.j].len == f.i ? PASS : REJ;
	f.i++;
	if (lo == hi && s->lits[lo].len == f.i)
		return POPACC;
	f.j = lo;
	f.x = hi;
	wr(m, d, &f);
	return ACC;
}

static bool feed_byte(cn_jmatch *m, uint8_t c)
{
	const cn_jschema *s = m->s;
	for (int guard = 0; guard < 4 * MAX_DEPTH; guard++) {
		if (m->depth <= 0)
			return false;
		int d = m->depth - 1;
		frame f = m->st[d];
		int r;
		if (f.node == ROOT_NODE) {
			if (f.ph != R_START)
				return false;
			if (is_ws(c)) {
				r = take_ws(m, d, &f);
			} else {
				f.ph = R_END;
				wr(m, d, &f);
				r = push_value(m, s->root, c);
			}
		} else {
			const jnode *n = &s->nodes[f.node];
			switch (n->kind) {
			case K_OBJECT: r = step_object(m, d, f, n, c); break;
			case K_ARRAY: r = step_array(m, d, f, n, c); break;
			case K_STRING: r = step_string(m, d, f, n, c); break;
			case K_NUMBER: r = step_number(m, d, f, c); break;
			case K_INTEGER: r = step_integer(m, d, f, n, c); break;
			case K_LITERAL: r = step_literal(m, d, f, c); break;
			default: r = REJ; break;
			}
		}
		switch (r) {
		case ACC:
			return true;
		case POPACC:
			set_depth(m, d);
			return true;
		case PASS:
			set_depth(m, d);
			continue;
		case RETRY:
			continue;
		default:
			return false;
		}
	}
	return false;
}

/* Fewest bytes that complete frame f (its pending child counted by the child's frame). */
static int64_t rest(const cn_jmatch *m, const frame *f)
{
	const cn_jschema *s = m->s;
	if (f->node == ROOT_NODE)
		return f->ph == R_START ? s->nodes[s->root].minb : 0;
	const jnode *n = &s->nodes[f->node];
	switch (n->kind) {
	case K_OBJECT: {
		const jprop *P = &s->props[n->a];
		switch (f->ph) {
		case O_START: return n->minb;
		case O_OPEN: return n->n && P[0].req_from ? P[0].comma : 1;
		case O_KEY: {
			int64_t best = SAT;
			for (uint64_t x = f->x; x; x &= x - 1) {
				int k = __builtin_ctzll(x);
				int64_t r = sadd(sadd((int64_t)P[k].klen - f->j + 1, s->nodes[P[k].child].minb), P[k + 1].tail);
				if (r < best)
					best = r;
			}
			return best;
		}
		case O_COLON: return sadd(sadd(1, s->nodes[P[f->j].child].minb), P[f->j + 1].tail);
		case O_VALUE: return sadd(s->nodes[P[f->j].child].minb, P[f->j + 1].tail);
		case O_AFTER: return P[f->i].tail;
		case O_COMMA: return P[f->i].comma;
		}
		return SAT;
	}
	case K_ARRAY: {
		int64_t ib = s->nodes[n->item].minb, more;
		switch (f->ph) {
		case A_START: return n->minb;
		case A_OPEN: return sadd(n->minb, -1);
		case A_AFTER:
			more = n->min > f->i ? n->min - f->i : 0;
			return sadd(1, smul(more, sadd(1, ib)));
		case A_COMMA:
			more = n->min > f->i + 1 ? n->min - f->i - 1 : 0;
			return sadd(sadd(ib, 1), smul(more, sadd(1, ib)));
		}
		return SAT;
	}
	case K_STRING: {
		int64_t more = n->min > f->i ? n->min - f->i : 0;
		switch (f->ph) {
		case S_START: return n->minb;
		case S_IN: return more + 1;
		case S_ESC: return more + 2;
		case S_U: return (4 - f->a) + more + 1;
		case S_UTF: return f->a + more + 1;
		}
		return SAT;
	}
	case K_NUMBER:
		return f->ph == N_ZERO || f->ph == N_INT || f->ph == N_FRAC || f->ph == N_EXP ? 0 : 1;
	case K_INTEGER:
		switch (f->ph) {
		case I_START: return n->minb;
		case I_MINUS: {
			int64_t r = int_start_bytes(true, n->lo, n->hi);
			return n->lo <= 0 && n->hi >= 0 && r > 1 ? 1 : r;
		}
		case I_ZERO: return 0;
		case I_DIG: {
			int e = int_extra(f->a, (int64_t)f->x, f->j, n->lo, n->hi);
			return e < 0 ? SAT : e;
		}
		}
		return SAT;
	case K_LITERAL: {
		int64_t best = SAT;
		for (uint32_t k = f->j; k <= (uint32_t)f->x; k++)
			if ((int64_t)s->lits[k].len - f->i < best)
				best = (int64_t)s->lits[k].len - f->i;
		return best;
	}
	}
	return SAT;
}

int64_t cn_jmatch_min_bytes(const cn_jmatch *m)
{
	int64_t t = 0;
	for (int d = 0; d < m->depth; d++)
		t = sadd(t, rest(m, &m->st[d]));
	return t;
}

bool cn_jmatch_done(const cn_jmatch *m)
{
	return m->depth == 1 && m->st[0].ph == R_END;
}

bool cn_jmatch_can_end(const cn_jmatch *m)
{
	if (cn_jmatch_done(m))
		return true;
	if (m->depth != 2 || m->st[0].ph != R_END)
		return false;
	const frame *f = &m->st[1];
	const jnode *n = &m->s->nodes[f->node];
	switch (n->kind) {
	case K_NUMBER: return rest(m, f) == 0;
	case K_INTEGER: return rest(m, f) == 0 && f->ph != I_START && f->ph != I_MINUS;
	case K_LITERAL: return m->s->lits[f->j].len == f->i;
	default: return false;
	}
}

bool cn_jmatch_feed(cn_jmatch *m, const uint8_t *b, size_t n)
{
	m->nlog = 0;
	for (size_t i = 0; i < n; i++)
		if (!feed_byte(m, b[i]) || m->oom) {
			rollback(m, 0);
			m->oom = false;
			return false;
		}
	m->nlog = 0; /* committed */
	return true;
}

bool cn_jmatch_try(cn_jmatch *m, const uint8_t *b, size_t n, int64_t *after)
{
	m->nlog = 0;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++)
		ok = feed_byte(m, b[i]) && !m->oom;
	if (ok && after)
		*after = cn_jmatch_min_bytes(m);
	rollback(m, 0);
	m->oom = false;
	return ok;
}

size_t cn_jmatch_mask(cn_jmatch *m, const cn_tokindex *t, int64_t budget, float *logits, int32_t n_vocab)
{
	if (!m->keep || m->n_keep != n_vocab) {
		cn_free(m->keep);
		m->keep = cn_malloc((size_t)n_vocab);
		m->n_keep = m->keep ? n_vocab : 0;
	}
	if ((size_t)t->max_len + 1 > m->cap_marks) {
		cn_free(m->marks);
		m->marks = cn_malloc(((size_t)t->max_len + 1) * sizeof(size_t));
		m->cap_marks = m->marks ? (size_t)t->max_len + 1 : 0;
	}
	if (!m->keep || !m->marks) {
		for (int32_t i = 0; i < n_vocab; i++)
			logits[i] = -INFINITY;
		return 0;
	}
	memset(m->keep, 0, (size_t)n_vocab);
	size_t allowed = 0;
	if (!cn_jmatch_done(m) && budget > 0) {
		m->nlog = 0;
		m->oom = false;
		m->marks[0] = 0;
		/* Inside a string, plain content tokens (most of a vocabulary) are decided from their
		 * character count alone: accepted while the string has room, and only the string's
		 * own rest changes. */
		const frame top = m->st[m->depth - 1]; /* a copy: the walk below changes the stack */
		const jnode *sn = top.node != ROOT_NODE ? &m->s->nodes[top.node] : NULL;
		bool fast = sn && sn->kind == K_STRING && top.ph == S_IN;
		int64_t base = fast ? cn_jmatch_min_bytes(m) - rest(m, &top) : 0;
		uint32_t cur = 0;           /* bytes of the last walked token fed and accepted */
		uint32_t run = UINT32_MAX;  /* common prefix with the last walked token */
		for (size_t e = 0; e < t->n; e++) {
			const cn_tokent *te = &t->ent[e];
			uint32_t l = te->lcp < run ? te->lcp : run;
			if (fast && te->nchars != CN_TOK_NOT_PLAIN) {
				run = l;
				uint64_t chars = (uint64_t)top.i + te->nchars;
				if (chars <= sn->max && te->id < n_vocab) {
					int64_t after = base + (chars < sn->min ? (int64_t)(sn->min - chars) : 0) + 1;
					if (after <= budget - 1) {
						m->keep[te->id] = 1;
						allowed++;
					}
				}
				continue;
			}
			run = UINT32_MAX;
			if (l > cur)
				continue; /* shares a prefix that failed */
			rollback(m, m->marks[l]);
			cur = l;
			const uint8_t *b = t->bytes + te->off;
			while (cur < te->len && feed_byte(m, b[cur])) {
				cur++;
				m->marks[cur] = m->nlog;
			}
			if (cur == 0 && !fast) { /* the first byte failed: skip every token it begins */
				e = t->first_end[b[0]] - 1;
				continue;
			}
			if (cur == te->len && te->id < n_vocab && cn_jmatch_min_bytes(m) <= budget - 1) {
				m->keep[te->id] = 1;
				allowed++;
			}
		}
		rollback(m, 0);
		if (m->oom) { /* the undo log could not grow: allow nothing rather than guess */
			m->oom = false;
			memset(m->keep, 0, (size_t)n_vocab);
			allowed = 0;
		}
	}
	if (cn_jmatch_can_end(m))
		for (size_t i = 0; i < t->n_eog; i++)
			if (t->eog[i] < n_vocab && !m->keep[t->eog[i]]) {
				m->keep[t->eog[i]] = 1;
				allowed++;
			}
	for (int32_t i = 0; i < n_vocab; i++)
		if (!m->keep[i])
			logits[i] = -INFINITY;
	return allowed;
}
