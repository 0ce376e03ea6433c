/* The sample module without a model: the PRNG and every filter of the chain against
 * tests/reference/sample_ref.py (llama.cpp's definitions and the published xoshiro256**,
 * in Python), draw frequencies against the reference probabilities (chi-square), greedy
 * ties and non-finite logits; the JSON-schema matcher on hand-written documents, its byte
 * counts, the errors for unsupported keywords; and random walks through real vocabularies
 * (GPT-2 byte-level BPE, Llama SentencePiece): uniformly random allowed tokens under a
 * budget as small as the schema's minimum, every document checked by python3-jsonschema
 * (tests/reference/validate_json.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sample.h"
#include "testutil.h"

#define PY "/usr/bin/python3"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_BUILD 1
#endif
#endif
#ifndef SAN_BUILD
#define SAN_BUILD 0
#endif

/* ---- the Python reference ------------------------------------------------------------- */

typedef struct refcase {
	char name[32];
	float temp, top_p, min_p, rep, freq, pres;
	int top_k;
	int32_t *hist;
	int n_hist;
	float *logits;
	int n;
	int32_t *ids;
	double *p;
	int n_exp;
} refcase;

static refcase cases[32];
static int n_cases;
static char *ref_text;

static char *run_capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	if (pclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int load_ref(void)
{
	if (ref_text)
		return 0;
	ref_text = run_capture(PY " tests/reference/sample_ref.py");
	if (!ref_text)
		return -1;
	refcase *c = NULL;
	for (char *line = strtok(ref_text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "case ", 5)) {
			c = &cases[n_cases++];
			snprintf(c->name, sizeof c->name, "%s", line + 5);
		} else if (c && !strncmp(line, "params ", 7)) {
			sscanf(line + 7, "%f %d %f %f %f %f %f", &c->temp, &c->top_k, &c->top_p, &c->min_p, &c->rep, &c->freq,
			       &c->pres);
		} else if (c && !strncmp(line, "hist ", 5)) {
			char *p = line + 5;
			c->n_hist = (int)strtol(p, &p, 10);
			c->hist = malloc((size_t)(c->n_hist + 1) * sizeof(int32_t));
			for (int i = 0; i < c->n_hist; i++)
				c->hist[i] = (int32_t)strtol(p, &p, 10);
		} else if (c && !strncmp(line, "logits ", 7)) {
			char *p = line + 7;
			c->n = (int)strtol(p, &p, 10);
			c->logits = malloc((size_t)c->n * sizeof(float));
			for (int i = 0; i < c->n; i++)
				c->logits[i] = strtof(p, &p);
		} else if (c && !strncmp(line, "expect ", 7)) {
			char *p = line + 7;
			c->n_exp = (int)strtol(p, &p, 10);
			c->ids = malloc((size_t)c->n_exp * sizeof(int32_t));
			c->p = malloc((size_t)c->n_exp * sizeof(double));
			for (int i = 0; i < c->n_exp; i++) {
				c->ids[i] = (int32_t)strtol(p, &p, 10);
				p++; /* ':' */
				c->p[i] = strtod(p, &p);
			}
		}
	}
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < n_cases; i++) {
		free(cases[i].hist);
		free(cases[i].logits);
		free(cases[i].ids);
		free(cases[i].p);
	}
	free(ref_text);
	return 0;
}

#define NEED_REF()                                                                          \
	do {                                                                                \
		if (load_ref() != 0) {                                                      \
			print_message("skipped: tests/reference/sample_ref.py did not run\n"); \
			skip();                                                             \
		}                                                                           \
	} while (0)

static const refcase *find_case(const char *name)
{
	for (int i = 0; i < n_cases; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	fail_msg("no reference case %s", name);
	return NULL;
}

static cn_sampler *sampler_for(const refcase *c, uint64_t seed)
{
	cn_sampler_params sp = {c->temp, c->top_k, c->top_p, c->min_p, c->rep, c->n_hist ? 64 : 0, c->pres, c->freq, seed};
	cn_sampler *s = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_sampler_new(&sp, c->n, &s, &err), CAIRN_OK);
	for (int i = 0; i < c->n_hist; i++)
		cn_sampler_accept(s, c->hist[i]);
	return s;
}

/* ---- PRNG ---------------------------------------------------------------------------- */

static void test_rng(void **state)
{
	(void)state;
	NEED_REF();
	int seen = 0;
	char *copy = run_capture(PY " tests/reference/sample_ref.py");
	assert_non_null(copy);
	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		char *p;
		if (!strncmp(line, "rng ", 4)) {
			uint64_t seed = strtoull(line + 4, &p, 10);
			cn_rng r;
			cn_rng_seed(&r, seed);
			for (int i = 0; i < 5; i++)
				assert_true(cn_rng_next(&r) == strtoull(p, &p, 10));
			seen++;
		} else if (!strncmp(line, "uniform ", 8)) {
			uint64_t seed = strtoull(line + 8, &p, 10);
			cn_rng r;
			cn_rng_seed(&r, seed);
			for (int i = 0; i < 3; i++)
				assert_true(cn_rng_uniform(&r) == strtod(p, &p));
			seen++;
		}
	}
	free(copy);
	assert_int_equal(seen, 6);
}

/* ---- the chain against the reference --------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	return ((const cn_cand *)a)->id - ((const cn_cand *)b)->id;
}

static void test_chain_reference(void **state)
{
	(void)state;
	NEED_REF();
	assert_true(n_cases >= 15);
	for (int k = 0; k < n_cases; k++) {
		const refcase *c = &cases[k];
		cn_sampler *s = sampler_for(c, 1);
		float *l = malloc((size_t)c->n * sizeof(float));
		memcpy(l, c->logits, (size_t)c->n * sizeof(float));
		const cn_cands *cc = cn_sampler_apply(s, l);
		cn_cand *got = malloc(cc->n * sizeof(cn_cand));
		memcpy(got, cc->data, cc->n * sizeof(cn_cand));
		qsort(got, cc->n, sizeof(cn_cand), cmp_id);
		if ((int)cc->n != c->n_exp)
			fail_msg("%s: %zu kept, the reference keeps %d", c->name, cc->n, c->n_exp);
		for (int i = 0; i < c->n_exp; i++) {
			if (got[i].id != c->ids[i])
				fail_msg("%s: kept id %d where the reference has %d", c->name, got[i].id, c->ids[i]);
			if (fabs(got[i].p - c->p[i]) > 2e-6 + 1e-5 * c->p[i])
				fail_msg("%s: p(%d) = %.9g, reference %.9g", c->name, got[i].id, (double)got[i].p, c->p[i]);
		}
		print_message("  %-12s %5d logits → %4d kept, as the reference\n", c->name, c->n, c->n_exp);
		free(got);
		free(l);
		cn_sampler_free(s);
	}
}

/* The individual filters by hand (values derived in the comments). */
static void test_filters_by_hand(void **state)
{
	(void)state;
	cn_cand buf[8];
	cn_cands c = {buf, 0, false};
	/* logits 0..4 = [1, 3, 3, 2, -inf]: the -inf never enters */
	float l[5] = {1, 3, 3, 2, -INFINITY};
	assert_int_equal(cn_cands_from_logits(&c, l, 5), 4);
	cn_sample_top_k(&c, 2); /* the two 3s, lower id first */
	assert_int_equal(c.n, 2);
	assert_int_equal(c.data[0].id, 1);
	assert_int_equal(c.data[1].id, 2);
	/* top-p 0.5 of softmax [1,3,3,2]: p = e^{-2}, 1, 1, e^{-1} over 2.5032 → 0.0541, 0.3995,
	 * 0.3995, 0.1470; the first 3 (id 1) holds 0.3995 < 0.5, ids 1+2 0.799 ≥ 0.5 */
	cn_cands_from_logits(&c, l, 5);
	cn_sample_top_p(&c, 0.5f, 1);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.data[0].id, 1);
	assert_int_equal(c.data[1].id, 2);
	/* min-p 0.3: keep p ≥ 0.3 · p_max, i.e. logit ≥ 3 + ln 0.3 = 1.796: ids 1, 2, 3 */
	cn_cands_from_logits(&c, l, 5);
	cn_sample_min_p(&c, 0.3f, 1);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.data[0].id, 1);
	assert_int_equal(c.data[2].id, 3);
	/* temperature 0: the first largest only */
	cn_cands_from_logits(&c, l, 5);
	cn_sample_temp(&c, 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.data[0].id, 1);
	/* temperature 2 halves logits: softmax([0.5, 1.5]) = [0.2689, 0.7311] */
	float l2[2] = {1, 3};
	cn_cands_from_logits(&c, l2, 2);
	cn_sample_temp(&c, 2);
	cn_cands_softmax(&c);
	assert_float_equal(c.data[0].p, 0.268941, 1e-5);
	/* penalties: token 0 (logit 2, twice), token 1 (logit -1, once), repeat 2, freq 0.5,
	 * presence 0.25 → 2/2 - 2·0.5 - 0.25 = -0.25;  -1·2 - 0.5 - 0.25 = -2.75 */
	float l3[3] = {2, -1, 5};
	int32_t hist[3] = {0, 1, 0}, scratch[3];
	cn_sample_penalties(l3, 3, hist, 3, 2.0f, 0.5f, 0.25f, scratch);
	assert_float_equal(l3[0], -0.25, 1e-6);
	assert_float_equal(l3[1], -2.75, 1e-6);
	assert_float_equal(l3[2], 5, 0);
	/* greedy: ties to the lowest id, NaN never wins, all NaN → 0 */
	float g[5] = {NAN, 2, 7, 7, -INFINITY};
	assert_int_equal(cn_sample_greedy(g, 5), 2);
	float gn[2] = {NAN, NAN};
	assert_int_equal(cn_sample_greedy(gn, 2), 0);
	/* +inf logits win outright and share the draw */
	float gi[4] = {1, INFINITY, 50, INFINITY};
	assert_int_equal(cn_cands_from_logits(&c, gi, 4), 2);
	cn_cands_softmax(&c);
	assert_float_equal(c.data[0].p, 0.5, 1e-7);
	/* nothing finite: empty */
	float ninf[2] = {-INFINITY, NAN};
	assert_int_equal(cn_cands_from_logits(&c, ninf, 2), 0);
	cn_rng r;
	cn_rng_seed(&r, 1);
	assert_int_equal(cn_sample_dist(&c, &r), -1);
	/* bad parameters */
	cn_sampler *s = NULL;
	cn_err err;
	cn_err_clear(&err);
	cn_sampler_params bad = {1, 0, 1, 2.0f, 1, 64, 0, 0, 0};
	assert_int_equal(cn_sampler_new(&bad, 10, &s, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "min_p"));
	bad.min_p = 0;
	bad.repeat_penalty = 0;
	assert_int_equal(cn_sampler_new(&bad, 10, &s, &err), CAIRN_EINVAL);
	assert_null(s);
}

/* Critical values of chi-square at p = 0.001 for 1..15 degrees of freedom. */
static const double CHI2_999[16] = {0,     10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322,
                                    26.124, 27.877, 29.588, 31.264, 32.909, 34.528, 36.123, 37.697};

static void test_draw_frequencies(void **state)
{
	(void)state;
	NEED_REF();
	const refcase *c = find_case("chi");
	assert_true(c->n_exp >= 3 && c->n_exp <= 15);
	cn_sampler *s = sampler_for(c, 20240601);
	const int N = 200000;
	long counts[16] = {0};
	float *l = malloc((size_t)c->n * sizeof(float));
	for (int d = 0; d < N; d++) {
		memcpy(l, c->logits, (size_t)c->n * sizeof(float));
		int32_t id = cn_sampler_sample(s, l);
		int k = 0;
		while (k < c->n_exp && c->ids[k] != id)
			k++;
		if (k == c->n_exp)
			fail_msg("drew %d, which top-p removes", id);
		counts[k]++;
	}
	double chi2 = 0;
	for (int k = 0; k < c->n_exp; k++) {
		double e = N * c->p[k];
		chi2 += (counts[k] - e) * (counts[k] - e) / e;
	}
	print_message("  %d draws over %d tokens: chi-square %.2f (df %d, 0.1%% critical %.2f)\n", N, c->n_exp, chi2,
	              c->n_exp - 1, CHI2_999[c->n_exp - 1]);
	assert_true(chi2 < CHI2_999[c->n_exp - 1]);
	free(l);
	cn_sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
	(void)state;
	NEED_REF();
	const refcase *c = find_case("big_min_p");
	int32_t a[200], b[200];
	int diff = 0;
	float *l = malloc((size_t)c->n * sizeof(float));
	for (int round = 0; round < 3; round++) {
		cn_sampler *s = sampler_for(c, round == 2 ? 8 : 7);
		for (int i = 0; i < 200; i++) {
			memcpy(l, c->logits, (size_t)c->n * sizeof(float));
			(round ? b : a)[i] = cn_sampler_sample(s, l);
		}
		cn_sampler_free(s);
		if (round == 1)
			assert_memory_equal(a, b, sizeof a); /* same seed, same draws */
	}
	for (int i = 0; i < 200; i++)
		diff += a[i] != b[i];
	assert_true(diff > 20); /* another seed, other draws */
	free(l);
}

/* ---- the JSON-schema matcher ------------------------------------------------------------- */

static cn_jschema *compile(const char *text)
{
	cn_jschema *s = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_jschema_compile(text, strlen(text), &s, &err) != CAIRN_OK)
		fail_msg("compile %s: %s", text, err.msg);
	return s;
}

/* Feeds doc byte by byte; returns the bytes accepted, and whether it may end there. */
static size_t feed_doc(cn_jmatch *m, const char *doc, bool *can_end)
{
	cn_jmatch_reset(m);
	size_t i = 0;
	for (; doc[i]; i++)
		if (!cn_jmatch_feed(m, (const uint8_t *)doc + i, 1))
			break;
	*can_end = cn_jmatch_can_end(m);
	return i;
}

static void expect_docs(const char *schema, const char *const *good, const char *const *bad)
{
	cn_jschema *s = compile(schema);
	cn_jmatch *m = NULL;
	cn_err err;
	assert_int_equal(cn_jmatch_new(s, &m, &err), CAIRN_OK);
	bool end;
	for (; *good; good++) {
		size_t n = feed_doc(m, *good, &end);
		if (n != strlen(*good) || !end)
			fail_msg("%s: \"%s\" refused at byte %zu (end %d)", schema, *good, n, end);
		assert_int_equal(cn_jmatch_min_bytes(m), 0);
	}
	for (; *bad; bad++) {
		size_t n = feed_doc(m, *bad, &end);
		if (n == strlen(*bad) && end)
			fail_msg("%s: \"%s\" accepted", schema, *bad);
	}
	cn_jmatch_free(m);
	cn_jschema_free(s);
}

static void test_matcher_documents(void **state)
{
	(void)state;
	expect_docs("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},"
	            "\"required\":[\"b\"]}",
	            (const char *[]){"{\"b\":\"\"}", "{\"a\":-12,\"b\":\"x\\n\\u00e9\"}", " {\"a\" : 0 , \"b\":\"é\"}",
	                             "{\"b\":\"\\ud7ff\"}", NULL},
	            (const char *[]){"{}", "{\"a\":1}", "{\"b\":\"x\",\"a\":1}", "{\"a\":01,\"b\":\"\"}",
	                             "{\"b\":\"\\ud800\"}", "{\"b\":\"\x01\"}", "{\"b\":\"\xc3\"}",
	                             "{\"b\":\"\xed\xa0\x80\"}", "{\"b\":\"x\"} ", "{\"b\":\"x\",}", "{\"b\"   :\"\"}",
	                             "{\"c\":1}", "{\"b\":\"\\x\"}", NULL});
	expect_docs("{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":1,\"maxItems\":2}",
	            (const char *[]){"[0]", "[-1.5e+10,2E3]", "[0.25]", "[123456]", NULL},
	            (const char *[]){"[]", "[1,2,3]", "[1.]", "[.5]", "[1e]", "[--1]", "[1,]", "[Infinity]",
	                             "[NaN]", "[1e123]", NULL});
	expect_docs("{\"type\":\"integer\",\"minimum\":-5,\"maximum\":120}",
	            (const char *[]){"-5", "0", "120", "7", "-0", "99", NULL},
	            (const char *[]){"-6", "121", "1000", "1.0", "-", "00", "007", NULL});
	expect_docs("{\"enum\":[1,12,\"a\",\"ab\",true,null]}", (const char *[]){"1", "12", "\"a\"", "\"ab\"", "true", "null", NULL},
	            (const char *[]){"2", "123", "\"abc\"", "false", "\"b\"", "tru", NULL});
	expect_docs("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}",
	            (const char *[]){"\"ab\"", "\"abc\"", "\"€é\"", "\"\\n\\t\"", NULL},
	            (const char *[]){"\"a\"", "\"abcd\"", "\"\"", NULL});
	expect_docs("{\"type\":[\"string\",\"null\",\"integer\"]}", (const char *[]){"null", "\"x\"", "-3", NULL},
	            (const char *[]){"1.5", "true", NULL});
	expect_docs("{\"anyOf\":[{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"boolean\"}}},{\"type\":\"array\","
	            "\"items\":{\"type\":\"null\"},\"maxItems\":1}]}",
	            (const char *[]){"{}", "{\"x\":true}", "[]", "[null]", NULL},
	            (const char *[]){"[null,null]", "{\"y\":1}", "null", NULL});
}

/* The fewest bytes to a valid document, by hand. */
static void test_min_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *schema;
		int64_t n;
	} cases_[] = {
		{"{\"type\":\"object\"}", 2},                                                     /* {} */
		{"{\"type\":\"string\",\"minLength\":4}", 6},                                     /* "aaaa" */
		{"{\"type\":\"integer\",\"minimum\":100}", 3},                                    /* 100 */
		{"{\"type\":\"integer\",\"maximum\":-20}", 3},                                    /* -20 */
		{"{\"enum\":[\"long\",12,true]}", 2},                                             /* 12 */
		{"{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"minItems\":3}", 16},    /* [true,true,true] */
		/* {"a":0,"bb":[]}: the optional "c" skipped */
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"c\":{\"type\":\"null\"},\"bb\":{"
		 "\"type\":\"array\",\"items\":{\"type\":\"null\"}}},\"required\":[\"a\",\"bb\"]}",
		 15},
		{"{\"type\":[\"null\",\"string\"]}", 2}, /* "" */
	};
	for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; i++) {
		cn_jschema *s = compile(cases_[i].schema);
		if (cn_jschema_min_bytes(s) != cases_[i].n)
			fail_msg("%s: min %lld, expected %lld", cases_[i].schema, (long long)cn_jschema_min_bytes(s),
			         (long long)cases_[i].n);
		cn_jschema_free(s);
	}
	/* the count falls byte by byte along a shortest document */
	cn_jschema *s = compile("{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"array\",\"items\":{\"type\":"
	                        "\"integer\",\"minimum\":10},\"minItems\":2}},\"required\":[\"k\"]}");
	const char *doc = "{\"k\":[10,10]}";
	cn_jmatch *m;
	cn_err err;
	assert_int_equal(cn_jmatch_new(s, &m, &err), CAIRN_OK);
	assert_int_equal(cn_jschema_min_bytes(s), (int64_t)strlen(doc));
	for (size_t i = 0; doc[i]; i++) {
		assert_int_equal(cn_jmatch_min_bytes(m), (int64_t)(strlen(doc) - i));
		assert_true(cn_jmatch_feed(m, (const uint8_t *)doc + i, 1));
	}
	assert_true(cn_jmatch_done(m));
	cn_jmatch_free(m);
	cn_jschema_free(s);
}

static void test_schema_errors(void **state)
{
	(void)state;
	static const struct {
		const char *schema;
		cairn_status code;
		const char *msg;
	} cases_[] = {
		{"{\"type\":\"string\",\"pattern\":\"^a\"}", CAIRN_EUNSUPPORTED, "\"pattern\""},
		{"{\"type\":\"string\",\"format\":\"date\"}", CAIRN_EUNSUPPORTED, "\"format\""},
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/x\"}}}", CAIRN_EUNSUPPORTED, "\"$ref\""},
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"x\"}}}", CAIRN_EUNSUPPORTED,
		 "/properties/a"},
		{"{\"type\":\"object\",\"additionalProperties\":true}", CAIRN_EUNSUPPORTED, "additionalProperties"},
		{"{\"type\":\"object\",\"patternProperties\":{}}", CAIRN_EUNSUPPORTED, "patternProperties"},
		{"{\"type\":\"number\",\"minimum\":0}", CAIRN_EUNSUPPORTED, "\"minimum\""},
		{"{\"type\":\"integer\",\"multipleOf\":2}", CAIRN_EUNSUPPORTED, "multipleOf"},
		{"{\"type\":\"array\",\"items\":{\"type\":\"null\"},\"uniqueItems\":true}", CAIRN_EUNSUPPORTED, "uniqueItems"},
		{"{\"type\":\"array\"}", CAIRN_EUNSUPPORTED, "items"},
		{"{\"anyOf\":[{\"type\":\"string\"},{\"enum\":[\"a\"]}]}", CAIRN_EUNSUPPORTED, "same character"},
		{"{\"type\":[\"number\",\"integer\"]}", CAIRN_EUNSUPPORTED, "same character"},
		{"{\"allOf\":[]}", CAIRN_EUNSUPPORTED, "\"allOf\""},
		{"{\"not\":{}}", CAIRN_EUNSUPPORTED, "\"not\""},
		{"{}", CAIRN_EUNSUPPORTED, "any value"},
		{"true", CAIRN_EUNSUPPORTED, "boolean schemas"},
		{"{\"enum\":[{\"a\":1}]}", CAIRN_EUNSUPPORTED, "objects or arrays"},
		{"{\"type\":\"object\",\"required\":[\"x\"]}", CAIRN_EUNSUPPORTED, "\"x\""},
		{"{\"type\":\"string\",\"minLength\":5,\"maxLength\":2}", CAIRN_EINVAL, "minimum is above"},
		{"{\"type\":\"integer\",\"minimum\":5,\"maximum\":2}", CAIRN_EINVAL, "no integer"},
		{"{\"type\":\"string\",\"enum\":[1,2]}", CAIRN_EINVAL, "no value"},
		{"{\"type\":\"strin\"}", CAIRN_EUNSUPPORTED, "strin"},
		{"{\"type\":", CAIRN_EINVAL, "not valid JSON"},
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\"},\"a\":{\"type\":\"null\"}}}", CAIRN_EINVAL,
		 "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; i++) {
		cn_jschema *s = (cn_jschema *)1;
		cn_err err;
		cn_err_clear(&err);
		cairn_status rc = cn_jschema_compile(cases_[i].schema, strlen(cases_[i].schema), &s, &err);
		if (rc != cases_[i].code || !strstr(err.msg, cases_[i].msg))
			fail_msg("%s: status %d, message \"%s\" (expected %d with \"%s\")", cases_[i].schema, rc, err.msg,
			         cases_[i].code, cases_[i].msg);
		assert_null(s);
	}
	/* nesting beyond 32 */
	char deep[2048] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "{\"type\":\"array\",\"items\":");
	strcat(deep, "{\"type\":\"null\"}");
	for (int i = 0; i < 40; i++)
		strcat(deep, "}");
	cn_jschema *s;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_jschema_compile(deep, strlen(deep), &s, &err), CAIRN_ETOOBIG);
	/* annotations are fine */
	s = compile("{\"title\":\"t\",\"description\":\"d\",\"$schema\":\"x\",\"type\":\"null\",\"default\":null}");
	cn_jschema_free(s);
}

/* ---- random walks through real vocabularies ---------------------------------------------- */

static const char *const SCHEMAS[] = {"nested", "scalars", "strings", "answer"};
#define N_SCHEMAS 4

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	b[n] = '\0';
	fclose(f);
	return b;
}

static int validate(const char *schema_path, const char *docs_path)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, PY " tests/reference/validate_json.py %s %s", schema_path, docs_path);
	char *out = run_capture(cmd);
	if (!out) {
		/* show the failures */
		snprintf(cmd, sizeof cmd, PY " tests/reference/validate_json.py %s %s >&2", schema_path, docs_path);
		if (system(cmd)) {
		}
		return -1;
	}
	print_message("    %s", out);
	free(out);
	return 0;
}

/* Every token's bytes, for the brute-force check of masks. */
typedef struct pieces {
	char *blob;
	size_t *off;
	uint32_t n;
} pieces;

static void pieces_build(pieces *p, const cn_vocab *v, uint32_t n)
{
	cn_buf b;
	cn_buf_init(&b);
	p->off = malloc((n + 1) * sizeof(size_t));
	p->n = n;
	cn_err err;
	for (uint32_t i = 0; i < n; i++) {
		p->off[i] = b.len;
		assert_int_equal(cn_vocab_piece(v, (int32_t)i, 0, &b, &err), CAIRN_OK);
	}
	p->off[n] = b.len;
	p->blob = cn_buf_take(&b);
}

/* The mask (sorted walk, shared prefixes, the plain-string shortcut) against trying every
 * token's bytes on their own. */
static void check_mask(cn_jmatch *m, const cn_tokindex *ti, const cn_vocab *v, const pieces *pc, int64_t budget,
                       float *logits)
{
	for (uint32_t i = 0; i < pc->n; i++)
		logits[i] = 0;
	size_t n = cn_jmatch_mask(m, ti, budget, logits, (int32_t)pc->n);
	size_t brute = 0;
	for (uint32_t i = 0; i < pc->n; i++) {
		bool ok;
		size_t len = pc->off[i + 1] - pc->off[i];
		if (cn_vocab_is_eog(v, (int32_t)i)) {
			ok = cn_jmatch_can_end(m);
		} else {
			int64_t after;
			ok = len > 0 && cn_jmatch_try(m, (const uint8_t *)pc->blob + pc->off[i], len, &after) &&
			     after <= budget - 1;
		}
		brute += ok;
		if (ok != (logits[i] == 0))
			fail_msg("token %u (\"%.*s\"): mask %d, brute force %d (budget %lld)", i, (int)len,
			         pc->blob + pc->off[i], logits[i] == 0, ok, (long long)budget);
	}
	assert_int_equal(n, brute);
}

static void walk_vocab(const char *vocab_name, int per_schema)
{
	const char *shared = cn_test_shared_dir();
	char path[1024];
	if (shared)
		snprintf(path, sizeof path, "%s/models/vocab/ggml-vocab-%s.gguf", shared, vocab_name);
	if (!shared || !cn_path_exists(path)) {
		print_message("skipped: ../shared/models/vocab not found (set CAIRN_SHARED)\n");
		skip();
	}
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_load(path, NULL, &v, &err), CAIRN_OK);
	cn_vocab_info vi;
	cn_vocab_get_info(v, &vi);
	cn_tokindex *ti = NULL;
	assert_int_equal(cn_tokindex_build(v, (int32_t)vi.n_tokens, &ti, &err), CAIRN_OK);
	assert_true(cn_tokindex_n_eog(ti) >= 1);
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "sample"), 0);
	float *logits = malloc(vi.n_tokens * sizeof(float));
	int32_t *ok = malloc(vi.n_tokens * sizeof(int32_t));
	cn_buf piece;
	cn_buf_init(&piece);
	cn_rng r;
	cn_rng_seed(&r, 99);
	pieces pc;
	pieces_build(&pc, v, vi.n_tokens);
	long checked = 0;
	for (int si = 0; si < N_SCHEMAS; si++) {
		char sp[512], dp[512];
		snprintf(sp, sizeof sp, "tests/data/schemas/%s.json", SCHEMAS[si]);
		snprintf(dp, sizeof dp, "%s/%s.docs", dir, SCHEMAS[si]);
		char *text = read_file(sp);
		assert_non_null(text);
		cn_jschema *s = compile(text);
		free(text);
		assert_int_equal(cn_jschema_check_vocab(s, ti, &err), CAIRN_OK);
		cn_jmatch *m;
		assert_int_equal(cn_jmatch_new(s, &m, &err), CAIRN_OK);
		int64_t minb = cn_jschema_min_bytes(s);
		FILE *out = fopen(dp, "wb");
		long total_tokens = 0, at_budget = 0;
		for (int d = 0; d < per_schema; d++) {
			/* budgets from the minimum (every token counts) to roomy */
			int64_t budget = minb + (d % 4 == 0 ? 0 : (int64_t)(cn_rng_next(&r) % 200));
			cn_jmatch_reset(m);
			cn_buf doc;
			cn_buf_init(&doc);
			int64_t k = 0;
			for (; k < budget; k++) {
				if (d < (SAN_BUILD ? 1 : 3) && k % 5 == 2) {
					check_mask(m, ti, v, &pc, budget - k, logits);
					checked++;
				}
				for (uint32_t i = 0; i < vi.n_tokens; i++)
					logits[i] = 0;
				size_t n = cn_jmatch_mask(m, ti, budget - k, logits, (int32_t)vi.n_tokens);
				assert_true(n > 0);
				size_t nok = 0;
				for (uint32_t i = 0; i < vi.n_tokens; i++)
					if (logits[i] == 0)
						ok[nok++] = (int32_t)i;
				assert_int_equal(nok, n);
				int32_t id = ok[cn_rng_next(&r) % nok];
				if (cn_vocab_is_eog(v, id)) {
					assert_true(cn_jmatch_can_end(m));
					break;
				}
				cn_buf_reset(&piece);
				assert_int_equal(cn_vocab_piece(v, id, 0, &piece, &err), CAIRN_OK);
				assert_true(cn_jmatch_feed(m, (const uint8_t *)piece.data, piece.len));
				cn_buf_append(&doc, piece.data, piece.len);
			}
			if (k == budget)
				at_budget++;
			assert_true(cn_jmatch_can_end(m)); /* complete whenever it stops */
			total_tokens += k;
			fprintf(out, "%zu\n", doc.len);
			fwrite(doc.data, 1, doc.len, out);
			fputc('\n', out);
			cn_buf_free(&doc);
		}
		fclose(out);
		print_message("  %s / %s: %d random walks (min budget %lld, %ld ended by the budget, %.1f tokens on "
		              "average)\n",
		              vocab_name, SCHEMAS[si], per_schema, (long long)minb, at_budget,
		              (double)total_tokens / per_schema);
		if (validate(sp, dp) != 0)
			fail_msg("%s / %s: python3-jsonschema found invalid documents", vocab_name, SCHEMAS[si]);
		cn_jmatch_free(m);
		cn_jschema_free(s);
	}
	print_message("  %ld masks equal to trying each of the %u tokens alone\n", checked, vi.n_tokens);
	assert_true(checked > 20);
	free(pc.blob);
	free(pc.off);
	cn_buf_free(&piece);
	free(logits);
	free(ok);
	cn_tokindex_free(ti);
	cn_vocab_free(v);
	cn_test_rmtree(dir);
}

static void test_walk_bpe(void **state)
{
	(void)state;
	walk_vocab("gpt-2", SAN_BUILD ? 4 : 25);
}

static void test_walk_spm(void **state)
{
	(void)state;
	walk_vocab("llama-spm", SAN_BUILD ? 4 : 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_chain_reference),
		cmocka_unit_test(test_filters_by_hand),
		cmocka_unit_test(test_draw_frequencies),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_matcher_documents),
		cmocka_unit_test(test_min_bytes),
		cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_walk_bpe),
		cmocka_unit_test(test_walk_spm),
	};
	return cmocka_run_group_tests(tests, NULL, suite_teardown);
}
