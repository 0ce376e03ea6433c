/* filter: parser (good and bad input, error positions), time parsing against values computed
 * with Python's calendar.timegm, and evaluation of random expressions against an independent
 * predicate evaluated on label strings with fnmatch(3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"

static uint64_t rng = 12345;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- a label dictionary held by the test ---- */

typedef struct dict {
	const char **v;
	uint32_t n;
} dict;

static const char *dict_label(const void *ctx, uint32_t i, uint32_t *len)
{
	const dict *d = ctx;
	*len = (uint32_t)strlen(d->v[i]);
	return d->v[i];
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static const char *all_labels[] = {
	"doc:d1", "doc:d2", "format:html", "format:markdown", "format:text", "group:eng", "group:hr", "group:sales",
	"source:docs/a.md", "source:docs/b.md", "source:notes/c.txt", "tag:team=eng", "tag:team=engineering",
	"tag:team=ops", "tag:team=sales", "tag:year=2023", "tag:year=2024", "tag:lang=fr", "tag:lang=en",
	"tag:x y=quoted value",
};
#define NL CN_ARRAY_LEN(all_labels)

static void make_dict(dict *d)
{
	d->n = NL;
	d->v = malloc(NL * sizeof *d->v);
	memcpy(d->v, all_labels, sizeof all_labels);
	qsort(d->v, NL, sizeof *d->v, cmp_str);
}

static void bind(const char *expr, const char *const *groups, size_t ng, const dict *d, cn_filter **f,
                 cn_filter_bound **b)
{
	cn_err err;
	cn_err_clear(&err);
	if (cn_filter_compile(expr, groups, ng, f, &err) != CAIRN_OK)
		fail_msg("compile \"%s\": %s", expr ? expr : "(null)", err.msg);
	cn_label_source src = {d->n, dict_label, d};
	assert_int_equal(cn_filter_bind(*f, &src, b, &err), CAIRN_OK);
}

/* ids (sorted) of a doc's label strings */
static size_t ids_of(const dict *d, const char *const *labs, size_t n, uint32_t *ids)
{
	size_t k = 0;
	for (uint32_t i = 0; i < d->n; i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(d->v[i], labs[j]) == 0) {
				ids[k++] = i;
				break;
			}
	return k;
}

static bool eval_str(const char *expr, const char *const *labs, size_t n, int64_t mtime)
{
	dict d;
	make_dict(&d);
	cn_filter *f;
	cn_filter_bound *b;
	bind(expr, NULL, 0, &d, &f, &b);
	uint32_t ids[NL];
	size_t k = ids_of(&d, labs, n, ids);
	bool r = cn_filter_eval(b, ids, k, mtime);
	cn_filter_bound_free(b);
	cn_filter_free(f);
	free(d.v);
	return r;
}

/* ---- tests ---- */

static void test_parse_errors(void **state)
{
	(void)state;
	struct {
		const char *expr, *msg;
	} bad[] = {
		{"team=", "filter: expected a value after \"team=\" at position 5"},
		{"team", "expected an operator (=, !=, <, <=, >, >=) after \"team\" at position 4"},
		{"(team=eng", "expected \")\" at position 9 to close \"(\" at position 0"},
		{"team=eng)", "unmatched \")\" at position 8"},
		{"team=eng OR", "expected a condition at position 11"},
		{"NOT", "expected a condition at position 3"},
		{"AND team=eng", "expected a condition before \"AND\" at position 0"},
		{"team>eng", "operator \">\" applies only to \"modified\", not to \"team\", at position 4"},
		{"modified>yesterday", "bad time \"yesterday\" at position 9"},
		{"modified>=2024-02-30", "bad time \"2024-02-30\""},
		{"source=\"abc", "unterminated string starting at position 7"},
		{"=x", "unexpected \"=\" at position 0"},
		{"team=eng OR OR x=1", "expected a condition before \"OR\" at position 12"},
		{"()", "unexpected \")\" at position 1"},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_err err;
		cn_err_clear(&err);
		cn_filter *f = (cn_filter *)1;
		assert_int_equal(cn_filter_compile(bad[i].expr, NULL, 0, &f, &err), CAIRN_EINVAL);
		assert_null(f);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].expr, err.msg, bad[i].msg);
		assert_int_equal(strncmp(err.msg, "filter: ", 8), 0);
	}
	/* deep nesting is refused, not a stack overflow */
	char deep[2000];
	memset(deep, '(', sizeof deep - 1);
	deep[sizeof deep - 1] = 0;
	cn_err err;
	cn_err_clear(&err);
	cn_filter *f;
	assert_int_equal(cn_filter_compile(deep, NULL, 0, &f, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "nested too deeply"));
}

static void test_empty_and_good(void **state)
{
	(void)state;
	cn_err err;
	cn_err_clear(&err);
	cn_filter *f;
	assert_int_equal(cn_filter_compile(NULL, NULL, 0, &f, &err), CAIRN_OK);
	assert_true(cn_filter_is_empty(f));
	cn_filter_free(f);
	assert_int_equal(cn_filter_compile("   ", NULL, 0, &f, &err), CAIRN_OK);
	assert_true(cn_filter_is_empty(f));
	cn_filter_free(f);
	const char *none[1] = {NULL};
	assert_int_equal(cn_filter_compile("", none, 0, &f, &err), CAIRN_OK);
	assert_false(cn_filter_is_empty(f)); /* a principal with no groups is a restriction */
	cn_filter_free(f);
	assert_int_equal(cn_filter_compile("team=eng", NULL, 0, &f, &err), CAIRN_OK);
	assert_false(cn_filter_is_empty(f));
	cn_filter_free(f);

	const char *doc[] = {"tag:team=eng", "format:markdown", "source:docs/a.md", "tag:x y=quoted value"};
	int64_t t = 1709210096; /* 2024-02-29T12:34:56Z */
	struct {
		const char *e;
		bool want;
	} cases[] = {
		{"team=eng", true},
		{"team = eng", true},
		{"team=ops", false},
		{"team!=ops", true},
		{"team!=eng", false},
		{"year!=2024", true}, /* no year tag at all: != passes */
		{"team=e*", true},
		{"team=eng?", false},
		{"team=en?", true},
		{"team=*ing", false},
		{"format=markdown source=docs/*", true},
		{"format=markdown AND source=notes/*", false},
		{"format=html OR source=\"docs/a.md\"", true},
		{"NOT (format=html OR team=ops)", true},
		{"NOT format=markdown", false},
		{"\"x y\"=x", false}, /* a quoted key is not allowed: '"' ends the key */
		{"modified=2024-02-29", true},
		{"modified>2024-02-28", true},
		{"modified>2024-02-29", false},
		{"modified>=2024-02-29", true},
		{"modified<2024-02-29", false},
		{"modified<=2024-02-29", true},
		{"modified<2024-03-01 modified>=2024-02-29T12:34:56Z", true},
		{"modified>2024-02-29T12:34:56", false},
		{"modified<=1709210096", true},
		{"modified<1709210096", false},
		{"modified!=2024-02-29", false},
		{"team=eng OR team=ops AND format=html", true},  /* AND binds tighter */
		{"(team=eng OR team=ops) AND format=html", false},
		{"group=eng", false},
		{"doc=d1 OR NOT NOT team=eng", true},
		{"AND=x OR team=eng", true}, /* a tag named AND */
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		if (i == 15) {
			cn_err_clear(&err);
			assert_int_equal(cn_filter_compile(cases[i].e, NULL, 0, &f, &err), CAIRN_EINVAL);
			continue;
		}
		bool got = eval_str(cases[i].e, doc, CN_ARRAY_LEN(doc), t);
		if (got != cases[i].want)
			fail_msg("\"%s\": got %d", cases[i].e, got);
	}
	/* quoted values with spaces and escapes */
	const char *doc2[] = {"tag:lang=en"};
	assert_false(eval_str("source=\"a \\\"b\\\" c\"", doc2, 1, 0));
}

static void test_parse_time(void **state)
{
	(void)state;
	struct {
		const char *s;
		int64_t want;
	} good[] = {
		/* expected values from Python: calendar.timegm(time.strptime(s, ...)) */
		{"1970-01-01", 0},
		{"2000-03-01", 951868800},
		{"2024-02-29T12:34:56Z", 1709210096},
		{"2024-02-29T12:34:56", 1709210096},
		{"1969-12-31T23:59:59Z", -1},
		{"2038-01-19T03:14:08", 2147483648},
		{"1900-01-01", -2208988800},
		{"1700000000", 1700000000},
		{"-5", -5},
		{"0", 0},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(good); i++) {
		int64_t v = 12345;
		assert_true(cn_parse_time(good[i].s, &v));
		assert_int_equal(v, good[i].want);
	}
	const char *bad[] = {"", "-", "2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-01-01T24:00:00",
	                     "2024-01-01T12:60:00", "2024-01-01 12:00:00", "2024-1-1", "abc", "12a",
	                     "99999999999999999999", "2024-01-01T12:00:00+01", "2024-01-01Z"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		int64_t v;
		if (cn_parse_time(bad[i], &v))
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

/* ---- random expressions against fnmatch ---- */

typedef struct rexpr {
	char s[4096];
	size_t len;
} rexpr;

typedef struct rdoc {
	const char *labs[NL];
	size_t n;
	int64_t mtime;
} rdoc;

/* Generates an expression into e and returns its truth value for every doc in ds (bitset). */
static const char *keys[] = {"team", "year", "group", "format", "source", "doc", "lang", "modified", "nokey"};
static const char *vals[] = {"eng", "e*", "*s", "2024", "20?3", "html", "docs/*", "*", "en?", "d1", "fr", "zzz",
                             "\"docs/a.md\"", "*.*", "sales"};

static void gen(rexpr *e, int depth, const rdoc *ds, size_t nd, bool *out)
{
	uint64_t r = rnd() % 10;
	if (depth > 3 || r < 5) {
		const char *k = keys[rnd() % CN_ARRAY_LEN(keys)];
		if (strcmp(k, "modified") == 0) {
			static const char *ops[] = {"=", "!=", ">", ">=", "<", "<="};
			int op = (int)(rnd() % 6);
			int day = (int)(rnd() % 6);
			int64_t lo = 1704067200 + (int64_t)day * 86400, hi = lo + 86400; /* 2024-01-0(1+day) */
			e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, "modified%s2024-01-0%d", ops[op], day + 1);
			for (size_t i = 0; i < nd; i++) {
				int64_t m = ds[i].mtime;
				bool in = m >= lo && m < hi;
				bool v[] = {in, !in, m >= hi, m >= lo, m < lo, m < hi};
				out[i] = v[op];
			}
			return;
		}
		const char *v = vals[rnd() % CN_ARRAY_LEN(vals)];
		bool ne = rnd() % 4 == 0;
		e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, "%s%s%s", k, ne ? "!=" : "=", v);
		char pat[128], vv[64];
		snprintf(vv, sizeof vv, "%s", v[0] == '"' ? v + 1 : v);
		if (vv[strlen(vv) - 1] == '"')
			vv[strlen(vv) - 1] = 0;
		bool reserved = strcmp(k, "group") == 0 || strcmp(k, "format") == 0 || strcmp(k, "source") == 0 ||
		                strcmp(k, "doc") == 0;
		if (reserved)
			snprintf(pat, sizeof pat, "%s:%s", k, vv);
		else
			snprintf(pat, sizeof pat, "tag:%s=%s", k, vv);
		for (size_t i = 0; i < nd; i++) {
			bool any = false;
			for (size_t j = 0; j < ds[i].n; j++)
				if (fnmatch(pat, ds[i].labs[j], 0) == 0)
					any = true;
			out[i] = ne ? !any : any;
		}
		return;
	}
	bool *a = malloc(nd), *b = malloc(nd);
	if (r < 6) {
		e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, "NOT ");
		gen(e, depth + 1, ds, nd, a);
		for (size_t i = 0; i < nd; i++)
			out[i] = !a[i];
	} else {
		bool is_or = r < 8;
		e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, "(");
		gen(e, depth + 1, ds, nd, a);
		e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, is_or ? " OR " : rnd() % 2 ? " AND " : " ");
		gen(e, depth + 1, ds, nd, b);
		e->len += (size_t)snprintf(e->s + e->len, sizeof e->s - e->len, ")");
		for (size_t i = 0; i < nd; i++)
			out[i] = is_or ? (a[i] || b[i]) : (a[i] && b[i]);
	}
	free(a);
	free(b);
}

static void test_random_expressions(void **state)
{
	(void)state;
	dict d;
	make_dict(&d);
	enum { ND = 300 };
	rdoc *ds = calloc(ND, sizeof *ds);
	for (size_t i = 0; i < ND; i++) {
		for (size_t j = 0; j < NL; j++)
			if (rnd() % 5 == 0)
				ds[i].labs[ds[i].n++] = all_labels[j];
		ds[i].mtime = 1704067200 - 86400 + (int64_t)(rnd() % (86400 * 8));
	}
	bool want[ND];
	int ntrue = 0, nfalse = 0;
	for (int it = 0; it < 400; it++) {
		rexpr e = {.len = 0};
		e.s[0] = 0;
		gen(&e, 0, ds, ND, want);
		/* sometimes also combine at top level without parentheses */
		cn_filter *f;
		cn_filter_bound *b;
		bind(e.s, NULL, 0, &d, &f, &b);
		for (size_t i = 0; i < ND; i++) {
			uint32_t ids[NL];
			size_t k = ids_of(&d, ds[i].labs, ds[i].n, ids);
			bool got = cn_filter_eval(b, ids, k, ds[i].mtime);
			if (got != want[i])
				fail_msg("\"%s\" doc %zu: got %d want %d", e.s, i, got, want[i]);
			ntrue += got;
			nfalse += !got;
		}
		cn_filter_bound_free(b);
		cn_filter_free(f);
	}
	assert_true(ntrue > 1000 && nfalse > 1000); /* the generator exercises both outcomes */
	free(ds);
	free(d.v);
}

static void test_acl(void **state)
{
	(void)state;
	dict d;
	make_dict(&d);
	const char *pub[] = {"tag:team=eng"};
	const char *eng[] = {"group:eng", "tag:team=eng"};
	const char *hr_sales[] = {"group:hr", "group:sales"};
	struct {
		const char *const *groups;
		size_t ng;
		bool want_pub, want_eng, want_hrs;
	} cases[] = {
		{(const char *[]){"eng"}, 1, true, true, false},
		{(const char *[]){"sales"}, 1, true, false, true},
		{(const char *[]){"hr", "eng"}, 2, true, true, true},
		{(const char *[]){"nosuch"}, 1, true, false, false},
		{(const char *[]){NULL}, 0, true, false, false},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		cn_filter *f;
		cn_filter_bound *b;
		bind(NULL, cases[i].groups, cases[i].ng, &d, &f, &b);
		uint32_t ids[NL];
		size_t k = ids_of(&d, pub, 1, ids);
		assert_int_equal(cn_filter_eval(b, ids, k, 0), cases[i].want_pub);
		k = ids_of(&d, eng, 2, ids);
		assert_int_equal(cn_filter_eval(b, ids, k, 0), cases[i].want_eng);
		k = ids_of(&d, hr_sales, 2, ids);
		assert_int_equal(cn_filter_eval(b, ids, k, 0), cases[i].want_hrs);
		cn_filter_bound_free(b);
		cn_filter_free(f);
	}
	/* ACL is ANDed with the expression */
	cn_filter *f;
	cn_filter_bound *b;
	const char *g[] = {"eng"};
	bind("team=eng", g, 1, &d, &f, &b);
	uint32_t ids[NL];
	size_t k = ids_of(&d, eng, 2, ids);
	assert_true(cn_filter_eval(b, ids, k, 0));
	k = ids_of(&d, hr_sales, 2, ids);
	assert_false(cn_filter_eval(b, ids, k, 0));
	k = ids_of(&d, pub, 1, ids);
	assert_true(cn_filter_eval(b, ids, k, 0));
	cn_filter_bound_free(b);
	cn_filter_free(f);
	/* a segment without any label at all */
	dict empty = {NULL, 0};
	bind("team=eng OR NOT format=*", g, 1, &empty, &f, &b);
	assert_true(cn_filter_eval(b, NULL, 0, 0));
	cn_filter_bound_free(b);
	cn_filter_free(f);
	free(d.v);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	dict d;
	make_dict(&d);
	const char *g[] = {"eng", "hr"};
	for (long n = 1; n < 100; n++) {
		cn_err err;
		cn_err_clear(&err);
		cn_alloc_fail_after(n);
		cn_filter *f = NULL;
		cn_filter_bound *b = NULL;
		cairn_status st = cn_filter_compile("(team=e* OR year!=2024) NOT modified<2024-01-01", g, 2, &f, &err);
		cn_label_source src = {d.n, dict_label, &d};
		if (!st)
			st = cn_filter_bind(f, &src, &b, &err);
		cn_alloc_fail_after(0);
		assert_true(st == CAIRN_OK || st == CAIRN_ENOMEM);
		cn_filter_bound_free(b);
		cn_filter_free(f);
		if (!st)
			break;
	}
	free(d.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_empty_and_good),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_random_expressions),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
