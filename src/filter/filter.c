/*
 * filter — parse once, bind per segment, evaluate per candidate document.
 *
 * Design. A filter is compiled into a small node array (AND/OR/NOT, label conditions, time
 * conditions); label conditions keep the full label pattern they stand for ("tag:team=eng*")
 * and the length of its literal prefix (up to the first glob character). Binding to a
 * segment turns every label condition into a sorted set of that segment's label ids: an
 * exact label by one binary search over the sorted dictionary, a glob by a binary search for
 * its literal prefix and a glob match over that contiguous range only. Evaluation is then
 * pure integer work on the document's sorted label ids (binary search of the smaller list in
 * the larger), short-circuiting AND/OR, with no string comparison in the index walk.
 *
 * Semantics worth stating:
 *  - `k!=v` is `NOT k=v`: a document without any k tag passes.
 *  - Times are intervals: a date stands for its whole UTC day [t, t+86400), a date-time or
 *    epoch value for its second [t, t+1). `modified=D` means inside the interval, `>D` after
 *    it, `>=D` from its start, `<D` before its start, `<=D` up to its end. So
 *    `modified>2024-01-01` excludes all of January 1st, as a reader would expect.
 *  - Access control (groups) is a separate clause, always ANDed: a document passes when it
 *    shares a "group:" label with the principal, or has none at all — unless the filter is
 *    closed (cn_filter_set_closed, a knowledge base in closed ACL mode), where a document
 *    whose groups are unknown is hidden from every restricted principal: fail closed.
 */
#include "filter/filter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { N_AND, N_OR, N_NOT, N_LABEL, N_TIME } ntype;
typedef enum { OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE } op_t;

typedef struct fnode {
	ntype t;
	int a, b;       /* children */
	char *pat;      /* N_LABEL: label pattern */
	uint32_t plen;  /* pattern length */
	uint32_t lit;   /* literal prefix length (== plen when no glob) */
	op_t op;        /* N_TIME */
	int64_t lo, hi; /* N_TIME: [lo, hi) */
} fnode;

struct cn_filter {
	fnode *nodes;
	size_t n, cap;
	int root; /* -1: no expression */
	bool acl;
	bool closed;   /* documents without groups are hidden from restricted principals */
	char **groups; /* "group:<name>" */
	size_t ngroups;
};

typedef struct idset {
	uint32_t *ids;
	size_t n;
} idset;

struct cn_filter_bound {
	const cn_filter *f;
	idset *sets;  /* by node */
	idset groups; /* the principal's group label ids */
	uint32_t glo, ghi; /* range of "group:" labels */
};

/* ---- parsing ---- */

typedef struct parser {
	const char *s;
	size_t pos, len;
	cn_filter *f;
	cn_err *err;
	int depth;
} parser;

static cairn_status perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cairn_status perr(parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cn_err_set(p->err, CAIRN_EINVAL, "filter: %s", msg);
}

static bool is_op_char(char c) { return c == '=' || c == '!' || c == '<' || c == '>'; }
static bool is_key_char(char c)
{
	return c && !isspace((unsigned char)c) && c != '(' && c != ')' && c != '"' && !is_op_char(c);
}

static void skip_ws(parser *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

/* The keyword kw at the current position, as a whole word not followed by an operator. */
static bool at_kw(const parser *p, const char *kw)
{
	size_t n = strlen(kw);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, kw, n) != 0)
		return false;
	size_t q = p->pos + n;
	if (q < p->len && is_key_char(p->s[q]))
		return false; /* a longer word */
	while (q < p->len && isspace((unsigned char)p->s[q]))
		q++;
	return !(q < p->len && is_op_char(p->s[q])); /* "AND=x" is a condition on tag AND */
}

static int new_node(parser *p, ntype t)
{
	if (CN_GROW(p->f->nodes, p->f->cap, p->f->n + 1))
		return -1;
	fnode *nd = &p->f->nodes[p->f->n];
	memset(nd, 0, sizeof *nd);
	nd->t = t;
	nd->a = nd->b = -1;
	return (int)p->f->n++;
}

static cairn_status oom(parser *p) { return cn_err_set(p->err, CAIRN_ENOMEM, "filter: out of memory"); }

static cairn_status parse_or(parser *p, int *out);

static cairn_status parse_cond(parser *p, int *out)
{
	size_t kstart = p->pos;
	while (p->pos < p->len && is_key_char(p->s[p->pos]))
		p->pos++;
	size_t klen = p->pos - kstart;
	if (klen == 0) {
		if (p->pos >= p->len)
			return perr(p, "expected a condition at position %zu", p->pos);
		return perr(p, "unexpected \"%c\" at position %zu", p->s[p->pos], p->pos);
	}
	const char *key = p->s + kstart;
	skip_ws(p);
	op_t op;
	size_t opstart = p->pos;
	const char *c = p->s + p->pos;
	size_t rem = p->len - p->pos;
	if (rem >= 2 && c[0] == '!' && c[1] == '=') {
		op = OP_NE;
		p->pos += 2;
	} else if (rem >= 2 && c[0] == '>' && c[1] == '=') {
		op = OP_GE;
		p->pos += 2;
	} else if (rem >= 2 && c[0] == '<' && c[1] == '=') {
		op = OP_LE;
		p->pos += 2;
	} else if (rem >= 1 && c[0] == '=') {
		op = OP_EQ;
		p->pos++;
	} else if (rem >= 1 && c[0] == '>') {
		op = OP_GT;
		p->pos++;
	} else if (rem >= 1 && c[0] == '<') {
		op = OP_LT;
		p->pos++;
	} else {
		return perr(p, "expected an operator (=, !=, <, <=, >, >=) after \"%.*s\" at position %zu", (int)klen, key,
		            p->pos);
	}
	size_t opend = p->pos;
	skip_ws(p);
	/* value */
	cn_buf val;
	cn_buf_init(&val);
	size_t vpos = p->pos;
	if (p->pos < p->len && p->s[p->pos] == '"') {
		p->pos++;
		bool closed = false;
		while (p->pos < p->len) {
			char ch = p->s[p->pos++];
			if (ch == '"') {
				closed = true;
				break;
			}
			if (ch == '\\' && p->pos < p->len)
				ch = p->s[p->pos++];
			cn_buf_putc(&val, ch);
		}
		if (!closed) {
			cn_buf_free(&val);
			return perr(p, "unterminated string starting at position %zu", vpos);
		}
	} else {
		while (p->pos < p->len && !isspace((unsigned char)p->s[p->pos]) && p->s[p->pos] != '(' &&
		       p->s[p->pos] != ')')
			p->pos++;
		if (p->pos == vpos) {
			cn_buf_free(&val);
			return perr(p, "expected a value after \"%.*s\" at position %zu", (int)(opend - kstart), key, vpos);
		}
		cn_buf_append(&val, p->s + vpos, p->pos - vpos);
	}
	if (val.failed) {
		cn_buf_free(&val);
		return oom(p);
	}
	const char *v = val.data ? val.data : "";
	if (klen == 8 && memcmp(key, "modified", 8) == 0) {
		int64_t t;
		if (!cn_parse_time(v, &t)) {
			cairn_status st = perr(p, "bad time \"%s\" at position %zu (expected YYYY-MM-DD, "
			                          "YYYY-MM-DDTHH:MM:SS[Z] or epoch seconds)", v, vpos);
			cn_buf_free(&val);
			return st;
		}
		bool date_only = strlen(v) == 10 && v[4] == '-';
		int id = new_node(p, N_TIME);
		cn_buf_free(&val);
		if (id < 0)
			return oom(p);
		fnode *nd = &p->f->nodes[id];
		nd->op = op;
		nd->lo = t;
		nd->hi = t + (date_only ? 86400 : 1);
		*out = id;
		return CAIRN_OK;
	}
	if (op != OP_EQ && op != OP_NE) {
		cn_buf_free(&val);
		return perr(p, "operator \"%.*s\" applies only to \"modified\", not to \"%.*s\", at position %zu",
		            (int)(opend - opstart), p->s + opstart, (int)klen, key, opstart);
	}
	cn_buf pat;
	cn_buf_init(&pat);
	if (klen == 5 && memcmp(key, "group", 5) == 0)
		cn_buf_puts(&pat, "group:");
	else if (klen == 6 && memcmp(key, "format", 6) == 0)
		cn_buf_puts(&pat, "format:");
	else if (klen == 6 && memcmp(key, "source", 6) == 0)
		cn_buf_puts(&pat, "source:");
	else if (klen == 3 && memcmp(key, "doc", 3) == 0)
		cn_buf_puts(&pat, "doc:");
	else {
		cn_buf_puts(&pat, "tag:");
		cn_buf_append(&pat, key, klen);
		cn_buf_putc(&pat, '=');
	}
	size_t prefix = pat.len;
	cn_buf_append(&pat, val.data ? val.data : "", val.len);
	size_t vlen = val.len;
	cn_buf_free(&val);
	if (pat.failed || pat.len > UINT32_MAX) {
		cn_buf_free(&pat);
		return oom(p);
	}
	int id = new_node(p, N_LABEL);
	if (id < 0) {
		cn_buf_free(&pat);
		return oom(p);
	}
	fnode *nd = &p->f->nodes[id];
	nd->plen = (uint32_t)pat.len;
	nd->pat = cn_buf_take(&pat);
	if (!nd->pat) {
		nd->pat = cn_strdup("");
		if (!nd->pat)
			return oom(p);
	}
	size_t lit = prefix;
	while (lit < prefix + vlen && nd->pat[lit] != '*' && nd->pat[lit] != '?')
		lit++;
	nd->lit = (uint32_t)lit;
	if (op == OP_NE) {
		int n = new_node(p, N_NOT);
		if (n < 0)
			return oom(p);
		p->f->nodes[n].a = id;
		id = n;
	}
	*out = id;
	return CAIRN_OK;
}

static cairn_status parse_unary(parser *p, int *out)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return perr(p, "expected a condition at position %zu", p->pos);
	if (++p->depth > 200)
		return perr(p, "expression nested too deeply at position %zu", p->pos);
	cairn_status st;
	if (p->s[p->pos] == '(') {
		size_t open = p->pos++;
		if ((st = parse_or(p, out)))
			return st;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ')')
			return perr(p, "expected \")\" at position %zu to close \"(\" at position %zu", p->pos, open);
		p->pos++;
	} else if (at_kw(p, "NOT")) {
		p->pos += 3;
		int c;
		if ((st = parse_unary(p, &c)))
			return st;
		int n = new_node(p, N_NOT);
		if (n < 0)
			return oom(p);
		p->f->nodes[n].a = c;
		*out = n;
	} else if (at_kw(p, "AND") || at_kw(p, "OR")) {
		return perr(p, "expected a condition before \"%s\" at position %zu", p->s[p->pos] == 'A' ? "AND" : "OR",
		            p->pos);
	} else if ((st = parse_cond(p, out))) {
		return st;
	}
	p->depth--;
	return CAIRN_OK;
}

static cairn_status binary(parser *p, ntype t, int *left, int right)
{
	int n = new_node(p, t);
	if (n < 0)
		return oom(p);
	p->f->nodes[n].a = *left;
	p->f->nodes[n].b = right;
	*left = n;
	return CAIRN_OK;
}

static cairn_status parse_and(parser *p, int *out)
{
	cairn_status st = parse_unary(p, out);
	while (!st) {
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] == ')' || at_kw(p, "OR"))
			break;
		if (at_kw(p, "AND"))
			p->pos += 3;
		int r;
		if ((st = parse_unary(p, &r)) || (st = binary(p, N_AND, out, r)))
			break;
	}
	return st;
}

static cairn_status parse_or(parser *p, int *out)
{
	cairn_status st = parse_and(p, out);
	while (!st) {
		skip_ws(p);
		if (!at_kw(p, "OR"))
			break;
		p->pos += 2;
		int r;
		if ((st = parse_and(p, &r)) || (st = binary(p, N_OR, out, r)))
			break;
	}
	return st;
}

void cn_filter_free(cn_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		cn_free(f->nodes[i].pat);
	cn_free(f->nodes);
	for (size_t i = 0; i < f->ngroups; i++)
		cn_free(f->groups[i]);
	cn_free(f->groups);
	cn_free(f);
}

cairn_status cn_filter_compile(const char *expr, const char *const *groups, size_t n_groups, cn_filter **out,
                               cn_err *err)
{
	*out = NULL;
	cn_filter *f = cn_calloc(1, sizeof *f);
	if (!f)
		return cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
	f->root = -1;
	cairn_status st = CAIRN_OK;
	if (expr) {
		parser p = {.s = expr, .pos = 0, .len = strlen(expr), .f = f, .err = err};
		skip_ws(&p);
		if (p.pos < p.len) {
			int root;
			st = parse_or(&p, &root);
			if (!st) {
				skip_ws(&p);
				if (p.pos < p.len)
					st = p.s[p.pos] == ')' ? perr(&p, "unmatched \")\" at position %zu", p.pos)
					                       : perr(&p, "unexpected \"%c\" at position %zu", p.s[p.pos], p.pos);
				else
					f->root = root;
			}
		}
	}
	if (!st && groups) {
		f->acl = true;
		f->groups = cn_calloc(n_groups ? n_groups : 1, sizeof *f->groups);
		if (!f->groups)
			st = cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
		for (size_t i = 0; !st && i < n_groups; i++) {
			const char *g = groups[i] ? groups[i] : "";
			size_t n = strlen(g) + 7;
			if (!(f->groups[i] = cn_malloc(n)))
				st = cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
			else
				snprintf(f->groups[i], n, "group:%s", g);
			f->ngroups = i + 1;
		}
	}
	if (st) {
		cn_filter_free(f);
		return st;
	}
	*out = f;
	return CAIRN_OK;
}

bool cn_filter_is_empty(const cn_filter *f) { return !f || (f->root < 0 && !f->acl); }

void cn_filter_set_closed(cn_filter *f, bool closed)
{
	if (f)
		f->closed = closed;
}

/* ---- binding ---- */

static int cmp_label(const cn_label_source *src, uint32_t i, const char *s, size_t n)
{
	uint32_t l;
	const char *lab = src->label(src->ctx, i, &l);
	int c = memcmp(lab, s, CN_MIN(l, n));
	if (c)
		return c;
	return l < n ? -1 : l > n;
}

/* First label id >= s. */
static uint32_t lower_bound(const cn_label_source *src, const char *s, size_t n)
{
	uint32_t lo = 0, hi = src->n_labels;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cmp_label(src, mid, s, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First label id not starting with prefix, searching from `from`. */
static uint32_t prefix_end(const cn_label_source *src, uint32_t from, const char *pre, size_t n)
{
	uint32_t lo = from, hi = src->n_labels;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t l;
		const char *lab = src->label(src->ctx, mid, &l);
		if (l >= n && memcmp(lab, pre, n) == 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Glob over bytes: '*' any run, '?' one UTF-8 character. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '?') {
			pi++;
			si++;
			while (si < sn && ((unsigned char)s[si] & 0xC0) == 0x80)
				si++;
		} else if (pi < pn && p[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < pn && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static cairn_status resolve(const cn_label_source *src, const char *pat, uint32_t plen, uint32_t lit, idset *out,
                            cn_err *err)
{
	out->ids = NULL;
	out->n = 0;
	uint32_t a = lower_bound(src, pat, lit);
	if (lit == plen) {
		if (a < src->n_labels && cmp_label(src, a, pat, plen) == 0) {
			if (!(out->ids = cn_malloc(sizeof *out->ids)))
				return cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
			out->ids[0] = a;
			out->n = 1;
		}
		return CAIRN_OK;
	}
	uint32_t b = prefix_end(src, a, pat, lit);
	if (b == a)
		return CAIRN_OK;
	if (!(out->ids = cn_malloc((size_t)(b - a) * sizeof *out->ids)))
		return cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
	for (uint32_t i = a; i < b; i++) {
		uint32_t l;
		const char *lab = src->label(src->ctx, i, &l);
		if (glob(pat + lit, plen - lit, lab + lit, l - lit))
			out->ids[out->n++] = i;
	}
	return CAIRN_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void cn_filter_bound_free(cn_filter_bound *b)
{
	if (!b)
		return;
	if (b->sets)
		for (size_t i = 0; i < b->f->n; i++)
			cn_free(b->sets[i].ids);
	cn_free(b->sets);
	cn_free(b->groups.ids);
	cn_free(b);
}

cairn_status cn_filter_bind(const cn_filter *f, const cn_label_source *src, cn_filter_bound **out, cn_err *err)
{
	*out = NULL;
	cn_filter_bound *b = cn_calloc(1, sizeof *b);
	if (!b)
		return cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
	b->f = f;
	b->sets = cn_calloc(f->n ? f->n : 1, sizeof *b->sets);
	cairn_status st = b->sets ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
	for (size_t i = 0; !st && i < f->n; i++)
		if (f->nodes[i].t == N_LABEL)
			st = resolve(src, f->nodes[i].pat, f->nodes[i].plen, f->nodes[i].lit, &b->sets[i], err);
	if (!st && f->acl) {
		b->glo = lower_bound(src, "group:", 6);
		b->ghi = prefix_end(src, b->glo, "group:", 6);
		b->groups.ids = cn_malloc((f->ngroups ? f->ngroups : 1) * sizeof *b->groups.ids);
		if (!b->groups.ids)
			st = cn_err_set(err, CAIRN_ENOMEM, "filter: out of memory");
		for (size_t i = 0; !st && i < f->ngroups; i++) {
			size_t n = strlen(f->groups[i]);
			uint32_t a = lower_bound(src, f->groups[i], n);
			if (a < src->n_labels && cmp_label(src, a, f->groups[i], n) == 0)
				b->groups.ids[b->groups.n++] = a;
		}
		if (!st && b->groups.n > 1)
			qsort(b->groups.ids, b->groups.n, sizeof *b->groups.ids, cmp_u32);
	}
	if (st) {
		cn_filter_bound_free(b);
		return st;
	}
	*out = b;
	return CAIRN_OK;
}

/* ---- evaluation ---- */

static bool bsearch_u32(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else if (v[mid] > x)
			hi = mid;
		else
			return true;
	}
	return false;
}

static bool intersects(const idset *s, const uint32_t *labels, size_t n)
{
	if (s->n == 0 || n == 0)
		return false;
	if (s->n <= n) {
		for (size_t i = 0; i < s->n; i++)
			if (bsearch_u32(labels, n, s->ids[i]))
				return true;
	} else {
		for (size_t i = 0; i < n; i++)
			if (bsearch_u32(s->ids, s->n, labels[i]))
				return true;
	}
	return false;
}

static bool eval_node(const cn_filter_bound *b, int i, const uint32_t *labels, size_t n, int64_t mtime)
{
	const fnode *nd = &b->f->nodes[i];
	switch (nd->t) {
	case N_AND:
		return eval_node(b, nd->a, labels, n, mtime) && eval_node(b, nd->b, labels, n, mtime);
	case N_OR:
		return eval_node(b, nd->a, labels, n, mtime) || eval_node(b, nd->b, labels, n, mtime);
	case N_NOT:
		return !eval_node(b, nd->a, labels, n, mtime);
	case N_LABEL:
		return intersects(&b->sets[i], labels, n);
	case N_TIME:
		switch (nd->op) {
		case OP_EQ: return mtime >= nd->lo && mtime < nd->hi;
		case OP_NE: return !(mtime >= nd->lo && mtime < nd->hi);
		case OP_GT: return mtime >= nd->hi;
		case OP_GE: return mtime >= nd->lo;
		case OP_LT: return mtime < nd->lo;
		case OP_LE: return mtime < nd->hi;
		}
	}
	return false;
}

bool cn_filter_eval(const cn_filter_bound *b, const uint32_t *labels, size_t n_labels, int64_t mtime)
{
	const cn_filter *f = b->f;
	if (f->acl) {
		/* first doc label >= glo */
		size_t lo = 0, hi = n_labels;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (labels[mid] < b->glo)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t e = lo;
		while (e < n_labels && labels[e] < b->ghi)
			e++;
		if (e == lo ? f->closed : !intersects(&b->groups, labels + lo, e - lo))
			return false; /* restricted, and no shared group (or none known, when closed) */
	}
	return f->root < 0 || eval_node(b, f->root, labels, n_labels, mtime);
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

bool cn_parse_time(const char *s, int64_t *epoch_s)
{
	if (!s || !*s)
		return false;
	size_t n = strlen(s);
	if (n >= 10 && s[4] == '-' && s[7] == '-') {
		unsigned y, mo, d, h = 0, mi = 0, sec = 0;
		if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d))
			return false;
		if (n != 10) {
			if (!(n == 19 || (n == 20 && s[19] == 'Z')) || s[10] != 'T' || s[13] != ':' || s[16] != ':')
				return false;
			if (!digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
				return false;
			if (h > 23 || mi > 59 || sec > 59)
				return false;
		}
		static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		if (mo < 1 || mo > 12 || d < 1)
			return false;
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (d > mdays[mo - 1] + (mo == 2 && leap))
			return false;
		*epoch_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
		return true;
	}
	/* epoch seconds, optionally negative */
	size_t i = s[0] == '-';
	if (i == n)
		return false;
	int64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*epoch_s = s[0] == '-' ? -v : v;
	return true;
}
