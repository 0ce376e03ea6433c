/*
 * fuzz_evres — the two readers of evaluation results (src/eval/result.c, answers.c): the
 * result JSON `--report-json` writes and an answer run's per-question JSON Lines. Both are
 * files users pass to `eval compare` and `--baseline`, so both are untrusted.
 * Checks: no crash, leak or UB; a failure has a message and no result; an accepted result
 * has every qid non-NULL, answer values in range or NaN, finite means or NaN; rendering it in
 * every format and comparing it with itself work (no difference, no regression); and a
 * result written as JSON reads back with the same values.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "eval/eval.h"

static void exercise(cairn_eval_result *r)
{
	for (size_t i = 0; i < r->nq; i++) {
		FUZZ_CHECK(r->q[i].qid != NULL, "query %zu has no id", i);
		for (size_t j = 0; j < r->nm; j++) {
			double v = r->v[i * r->nm + j];
			if (r->m[j].kind == CN_MK_VALUE && !isnan(v))
				FUZZ_CHECK(v >= 0 && isfinite(v), "answer value %g out of range", v);
		}
	}
	static const cairn_report_format fmts[] = {CAIRN_REPORT_TEXT, CAIRN_REPORT_JSON, CAIRN_REPORT_TSV,
	                                          CAIRN_REPORT_MD, CAIRN_REPORT_HTML};
	char eb[256];
	for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
		char *text = NULL;
		size_t len = 0;
		cairn_status st = cairn_eval_result_render(r, fmts[f], CAIRN_REPORT_PER_QUERY, &text, &len, eb, sizeof eb);
		FUZZ_CHECK(st == CAIRN_OK, "render %d failed: %s", (int)fmts[f], eb);
		FUZZ_CHECK(strlen(text) == len, "render length");
		if (fmts[f] == CAIRN_REPORT_JSON) {
			cn_err err;
			cn_err_clear(&err);
			cairn_eval_result *back = NULL;
			st = cn_evres_parse(&back, text, len, "again", &err);
			FUZZ_CHECK(st == CAIRN_OK, "written result does not read back: %s", err.msg);
			FUZZ_CHECK(back->nq == r->nq && back->nm == r->nm, "shape changed");
			for (size_t i = 0; i < r->nq * r->nm; i++)
				FUZZ_CHECK(isnan(r->v[i]) ? isnan(back->v[i]) : back->v[i] == r->v[i] || !isfinite(r->v[i]),
				           "value %zu changed", i);
			cairn_eval_result_free(back);
		}
		cairn_free(text);
	}
	cairn_eval_compare_params cp = cairn_eval_compare_default_params();
	cp.permutations = 20;
	cp.bootstrap = 20;
	cp.gate = 1;
	cairn_eval_comparison *c = NULL;
	if (cairn_eval_compare(r, r, &cp, &c, eb, sizeof eb) == CAIRN_OK) {
		for (size_t i = 0; i < c->nrows; i++)
			FUZZ_CHECK(!c->rows[i].gated || fabs(c->rows[i].diff) < 1e-9 || !isfinite(c->rows[i].diff),
			           "a run differs from itself on %s", c->rows[i].name);
		char *text = NULL;
		FUZZ_CHECK(cairn_eval_comparison_render(c, CAIRN_REPORT_HTML, &text, NULL, eb, sizeof eb) == CAIRN_OK,
		           "comparison render");
		cairn_free(text);
		cairn_eval_comparison_free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *d = (const char *)data;
	cn_err err;
	cn_err_clear(&err);
	cairn_eval_result *r = NULL;
	cairn_status st = cn_evres_is_answer_rows(d, size) ? cn_evres_from_answer_rows(&r, d, size, "fuzz", NULL, &err)
	                                                   : cn_evres_parse(&r, d, size, "fuzz", &err);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(r == NULL, "failed read returned a result");
		FUZZ_CHECK(err.msg[0], "failure without a message");
		return 0;
	}
	exercise(r);
	cairn_eval_result_free(r);
	return 0;
}
