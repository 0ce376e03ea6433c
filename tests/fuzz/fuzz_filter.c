/*
 * fuzz_filter — the filter expression language (src/filter): parse/compile arbitrary text,
 * bind the result to a fixed, sorted label dictionary, and evaluate it on a handful of label
 * lists and times. Also feeds the input to cn_parse_time. Checks: no crash, leak or UB; a
 * failed compile sets an error message and returns no filter; evaluation is deterministic
 * (same answer twice) and an "empty" filter never rejects.
 */
#include "fuzz.h"

#include <string.h>

#include "filter/filter.h"

/* sorted bytewise, as a segment's label dictionary is */
static const char *const labels[] = {
	"doc:a.md",          "doc:b.html",         "format:html",        "format:markdown",
	"group:eng",         "group:ops",          "source:docs/a.md",   "source:docs/b.html",
	"tag:lang=en",       "tag:team=eng",       "tag:team=ops",       "tag:x=",
	"tag:x=*?[",         "tag:year=2024",
};
#define NLABELS (sizeof labels / sizeof labels[0])

static const char *label_at(const void *ctx, uint32_t i, uint32_t *len)
{
	(void)ctx;
	*len = (uint32_t)strlen(labels[i]);
	return labels[i];
}

static void run_one(const char *expr, const char *const *groups, size_t ng)
{
	cn_err err;
	cn_err_clear(&err);
	cn_filter *f = NULL;
	cairn_status st = cn_filter_compile(expr, groups, ng, &f, &err);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(f == NULL, "failed compile returned a filter");
		FUZZ_CHECK(err.code != CAIRN_OK && err.msg[0], "failed compile without a message");
		return;
	}
	FUZZ_CHECK(f != NULL, "compile OK without a filter");
	bool empty = cn_filter_is_empty(f);
	cn_label_source src = {.n_labels = NLABELS, .label = label_at, .ctx = NULL};
	cn_filter_bound *b = NULL;
	cn_err_clear(&err);
	st = cn_filter_bind(f, &src, &b, &err);
	if (st == CAIRN_OK) {
		static const uint32_t l0[] = {0, 3, 4, 6, 9, 13};
		static const uint32_t l1[] = {1, 2, 5, 7, 10, 11};
		static const uint32_t l2[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
		static const uint32_t l3[] = {8, 12};
		static const int64_t times[] = {0, 1704067200 /* 2024-01-01 */, -1, INT64_MAX, INT64_MIN};
		const uint32_t *lists[] = {l0, l1, l2, l3, NULL};
		size_t ns[] = {6, 6, 14, 2, 0};
		for (size_t i = 0; i < 5; i++)
			for (size_t t = 0; t < 5; t++) {
				bool r1 = cn_filter_eval(b, lists[i], ns[i], times[t]);
				bool r2 = cn_filter_eval(b, lists[i], ns[i], times[t]);
				FUZZ_CHECK(r1 == r2, "eval not deterministic");
				if (empty)
					FUZZ_CHECK(r1, "empty filter rejected a document");
			}
		cn_filter_bound_free(b);
	} else {
		FUZZ_CHECK(b == NULL, "failed bind returned a bound filter");
	}
	/* an empty dictionary: every label pattern resolves to nothing */
	cn_label_source none = {.n_labels = 0, .label = label_at, .ctx = NULL};
	b = NULL;
	if (cn_filter_bind(f, &none, &b, &err) == CAIRN_OK) {
		(void)cn_filter_eval(b, NULL, 0, 0);
		cn_filter_bound_free(b);
	}
	cn_filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *expr = malloc(size + 1);
	if (!expr)
		return 0;
	memcpy(expr, data, size);
	expr[size] = 0;
	static const char *const groups[] = {"eng", "ops"};
	run_one(expr, NULL, 0);
	run_one(expr, groups, 2);
	run_one(expr, groups, 0);
	int64_t t;
	(void)cn_parse_time(expr, &t);
	free(expr);
	return 0;
}
