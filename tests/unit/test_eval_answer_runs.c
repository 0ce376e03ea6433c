/* Answer runs as evaluation results (src/eval/answers.c): per-question rows → measures with
 * "does not apply" kept apart from 0, comparisons over the questions both runs have a value
 * for, lower-is-better measures and the gate, JSON round trip, reports; hand-worked values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "testutil.h"


/* Run A. q2 is asked twice more without its gold documents (SQuAD-style re-asks): its ids
 * become q2#unanswerable and q2#3. Cost is 0 everywhere (no price table). */
static const char RUN_A[] =
	"{\"id\":\"q1\",\"question\":\"Q one?\",\"answerable\":true,\"abstained\":false,\"refused\":false,"
	"\"answer\":\"x\",\"confidence\":0.9,\"latency_ms\":10,\"ttft_ms\":10,\"tokens_in\":100,\"tokens_out\":10,"
	"\"cost\":0,\"support_rate\":1,\"em\":1,\"f1\":1,\"rouge_l\":1,\"bleu\":0.5,\"citation_precision\":1,"
	"\"citation_recall\":1,\"gold\":[\"x\"],\"sentences\":[{\"text\":\"x is so\",\"supported\":true,"
	"\"citations\":[1]}],\"citations\":[{\"id\":1,\"doc_id\":\"d1\",\"chunk_id\":3,\"title\":\"T\","
	"\"quote\":\"x <b>bold</b>\"}]}\n"
	"{\"id\":\"q2\",\"question\":\"Q two?\",\"answerable\":true,\"abstained\":true,\"refused\":false,\"answer\":\"\","
	"\"latency_ms\":20,\"ttft_ms\":20,\"tokens_in\":100,\"tokens_out\":0,\"cost\":0,\"em\":0,\"f1\":0,"
	"\"rouge_l\":0,\"bleu\":0,\"citation_recall\":0,\"citations\":[]}\n"
	"\n"
	"{\"id\":\"q2\",\"answerable\":false,\"abstained\":true,\"latency_ms\":5,\"ttft_ms\":5,\"tokens_in\":50,"
	"\"tokens_out\":0,\"cost\":0}\n"
	"{\"id\":\"u1\",\"answerable\":false,\"abstained\":false,\"support_rate\":0.5,\"latency_ms\":30,\"ttft_ms\":30,"
	"\"tokens_in\":80,\"tokens_out\":20,\"cost\":0,\"citations\":[{\"id\":1,\"doc_id\":\"d9\",\"chunk_id\":1,"
	"\"title\":\"U\",\"quote\":\"u <b>bold</b>\"}]}\n"
	"{\"id\":\"q2\",\"answerable\":false,\"abstained\":true,\"latency_ms\":5,\"ttft_ms\":5,\"tokens_in\":50,"
	"\"tokens_out\":0,\"cost\":0}\n";

static const char RUN_B[] =
	"{\"id\":\"q1\",\"answerable\":true,\"abstained\":false,\"em\":0,\"f1\":0.5,\"rouge_l\":0.5,\"bleu\":0.25,"
	"\"support_rate\":1,\"citation_precision\":1,\"citation_recall\":1,\"latency_ms\":5,\"ttft_ms\":5,"
	"\"tokens_in\":90,\"tokens_out\":30}\n"
	"{\"id\":\"q2\",\"answerable\":true,\"abstained\":false,\"em\":1,\"f1\":1,\"rouge_l\":1,\"bleu\":1,"
	"\"support_rate\":1,\"citation_precision\":0.5,\"citation_recall\":1,\"latency_ms\":100,\"ttft_ms\":100,"
	"\"tokens_in\":100,\"tokens_out\":10}\n"
	"{\"id\":\"q2\",\"answerable\":false,\"abstained\":true,\"latency_ms\":5,\"ttft_ms\":5,\"tokens_in\":50,"
	"\"tokens_out\":0}\n"
	"{\"id\":\"u1\",\"answerable\":false,\"abstained\":true,\"latency_ms\":30,\"ttft_ms\":30,\"tokens_in\":80,"
	"\"tokens_out\":0}\n"
	"{\"id\":\"q2\",\"answerable\":false,\"abstained\":true,\"latency_ms\":5,\"ttft_ms\":5,\"tokens_in\":50,"
	"\"tokens_out\":0}\n";

static cairn_eval_result *load(const char *text)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_eval_result *r = NULL;
	if (cn_evres_from_answer_rows(&r, text, strlen(text), "mem", "{\"kind\":\"answers\"}", &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	return r;
}

static double mean(const cairn_eval_result *r, const char *name)
{
	int j = cn_evres_find(r, name);
	if (j < 0)
		fail_msg("no measure %s", name);
	return r->mean[j];
}

static void test_rows_to_measures(void **state)
{
	(void)state;
	assert_true(cn_evres_is_answer_rows(RUN_A, strlen(RUN_A)));
	assert_false(cn_evres_is_answer_rows("{\"kind\":\"cairn-eval-result/1\"}", 31));
	const char *lead = "\n \n{\"id\":\"a\",\"answerable\":true}\nnot json";
	assert_true(cn_evres_is_answer_rows(lead, strlen(lead)));
	cairn_eval_result *r = load(RUN_A);
	assert_true(r->answers);
	assert_int_equal(r->nq, 5);
	assert_string_equal(r->q[0].qid, "q1");
	assert_string_equal(r->q[1].qid, "q2");
	assert_string_equal(r->q[2].qid, "q2#unanswerable");
	assert_string_equal(r->q[3].qid, "u1");
	assert_string_equal(r->q[4].qid, "q2#3");
	assert_int_equal(r->nm, 13); /* every answer measure but cost (0 everywhere) */
	assert_int_equal(cn_evres_find(r, "cost"), -1);
	/* means over the questions each measure applies to */
	assert_double_equal(mean(r, "em"), 0.5, 1e-12);
	assert_double_equal(mean(r, "f1"), 0.5, 1e-12);
	assert_double_equal(mean(r, "bleu"), 0.25, 1e-12);
	assert_double_equal(mean(r, "support_rate"), 0.75, 1e-12); /* q1 1, u1 0.5 */
	assert_double_equal(mean(r, "citation_precision"), 1, 1e-12);
	assert_double_equal(mean(r, "citation_recall"), 0.5, 1e-12);
	assert_double_equal(mean(r, "answered"), 0.5, 1e-12);                 /* q1 yes, q2 no */
	assert_double_equal(mean(r, "abstained_unanswerable"), 2.0 / 3, 1e-12); /* 2 of 3 */
	assert_double_equal(mean(r, "refused"), 0, 0);
	assert_double_equal(mean(r, "ttft_ms"), 14, 1e-12);
	assert_double_equal(mean(r, "tokens_in"), 76, 1e-12);
	assert_double_equal(mean(r, "tokens_out"), 6, 1e-12);
	assert_int_equal(cn_evres_count(r, (size_t)cn_evres_find(r, "em")), 2);
	assert_int_equal(cn_evres_count(r, (size_t)cn_evres_find(r, "abstained_unanswerable")), 3);
	assert_true(isnan(r->v[3 * r->nm + (size_t)cn_evres_find(r, "em")])); /* u1: no gold */
	assert_double_equal(cn_evres_latency(r, 0.5), 10, 0);           /* 5 5 10 20 30: rank 3 */
	assert_double_equal(cairn_eval_result_mean(r, "f1"), 0.5, 1e-12);
	assert_non_null(strstr(r->q[0].detail, "\"question\":\"Q one?\""));
	assert_non_null(strstr(r->q[0].detail, "\"supported\":true"));

	/* JSON and back: the same values, NaN where a measure does not apply, the details. */
	char eb[256], *text = NULL;
	size_t len = 0;
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_JSON, CAIRN_REPORT_PER_QUERY, &text, &len, eb, sizeof eb),
	                 CAIRN_OK);
	cn_err err;
	cn_err_clear(&err);
	cairn_eval_result *back = NULL;
	assert_int_equal(cn_evres_parse(&back, text, len, "mem", &err), CAIRN_OK);
	cairn_free(text);
	assert_true(back->answers);
	assert_int_equal(back->nq, r->nq);
	assert_int_equal(back->nm, r->nm);
	for (size_t i = 0; i < r->nq * r->nm; i++)
		if (isnan(r->v[i]) ? !isnan(back->v[i]) : back->v[i] != r->v[i])
			fail_msg("value %zu: %g back as %g", i, r->v[i], back->v[i]);
	for (size_t i = 0; i < r->nq; i++) {
		assert_string_equal(back->q[i].qid, r->q[i].qid);
		assert_string_equal(back->q[i].detail, r->q[i].detail);
		assert_double_equal(back->q[i].latency_ms, r->q[i].latency_ms, 0);
	}
	for (size_t j = 0; j < r->nm; j++)
		assert_int_equal(back->m[j].flags, r->m[j].flags);
	cairn_eval_result_free(back);

	/* Markdown and HTML: the answer wording, counts per measure, escaped quotes. */
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_MD, 0, &text, &len, eb, sizeof eb), CAIRN_OK);
	assert_non_null(strstr(text, "## Answer evaluation"));
	assert_non_null(strstr(text, "| em | 0.5000 | 2 |"));
	assert_non_null(strstr(text, "| abstained_unanswerable | 0.6667 | 3 |"));
	cairn_free(text);
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_HTML, 0, &text, &len, eb, sizeof eb), CAIRN_OK);
	assert_non_null(strstr(text, "cairn answer evaluation"));
	assert_non_null(strstr(text, "Failures: the 1 question with the lowest f1"));
	assert_non_null(strstr(text, "Answered although unanswerable: 1 question"));
	assert_non_null(strstr(text, "Unsupported sentences: 1 answer"));
	assert_non_null(strstr(text, "u &lt;b&gt;bold&lt;/b&gt;"));
	assert_non_null(strstr(text, "Q two?"));
	assert_null(strstr(text, "<b>bold"));
	cairn_free(text);
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_TEXT, CAIRN_REPORT_PER_QUERY, &text, &len, eb, sizeof eb),
	                 CAIRN_OK);
	assert_null(strstr(text, "\tnan"));
	assert_null(strstr(text, "\t-nan"));
	cairn_free(text);
	cairn_eval_result_free(r);
}

static const cn_cmp_row *row_of(const cairn_eval_comparison *c, const char *name)
{
	for (size_t i = 0; i < c->nrows; i++)
		if (!strcmp(c->rows[i].name, name))
			return &c->rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_compare_answer_runs(void **state)
{
	(void)state;
	cairn_eval_result *a = load(RUN_A), *b = load(RUN_B);
	cairn_eval_compare_params cp = cairn_eval_compare_default_params();
	cairn_eval_comparison *c = NULL;
	char eb[256];
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(c->nq, 5);
	const cn_cmp_row *r = row_of(c, "em"); /* q1 1 → 0, q2 0 → 1 */
	assert_int_equal(r->n, 2);
	assert_double_equal(r->diff, 0, 1e-12);
	assert_int_equal(r->wins, 1);
	assert_int_equal(r->losses, 1);
	r = row_of(c, "f1");
	assert_double_equal(r->diff, 0.25, 1e-12);
	r = row_of(c, "support_rate"); /* A: q1 u1; B: q1 q2 → only q1 in both */
	assert_int_equal(r->n, 1);
	assert_double_equal(r->mean_a, 1, 0);
	assert_double_equal(r->mean_b, 1, 0);
	r = row_of(c, "answered");
	assert_double_equal(r->diff, 0.5, 1e-12);
	assert_int_equal(r->wins, 1);
	r = row_of(c, "abstained_unanswerable");
	assert_int_equal(r->n, 3);
	assert_double_equal(r->diff, 1.0 / 3, 1e-12);
	assert_int_equal(r->wins, 1);
	assert_int_equal(r->ties, 2);
	r = row_of(c, "ttft_ms"); /* lower is better: q1 10 → 5 wins, q2 20 → 100 loses */
	assert_double_equal(r->diff, 15, 1e-12);
	assert_int_equal(r->wins, 1);
	assert_int_equal(r->losses, 1);
	assert_int_equal(r->ties, 3);
	r = row_of(c, "tokens_out"); /* +20, +10, 0, -20, 0 */
	assert_double_equal(r->diff, 2, 1e-12);
	assert_int_equal(r->wins, 1);
	assert_int_equal(r->losses, 2);
	cairn_eval_comparison_free(c);

	/* The gate: a rise of a lower-is-better measure regresses, a fall does not; timings
	 * only when named. */
	cp.gate = 1;
	cp.tolerances = "default=0";
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_comparison_regressions(c), 1);
	assert_true(row_of(c, "tokens_out")->regressed);
	assert_false(row_of(c, "tokens_in")->regressed);
	assert_false(row_of(c, "ttft_ms")->regressed);
	assert_false(row_of(c, "em")->regressed);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(cairn_eval_comparison_render(c, CAIRN_REPORT_TEXT, &text, &len, eb, sizeof eb), CAIRN_OK);
	assert_non_null(strstr(text, "questions 5 in common"));
	assert_non_null(strstr(text, "REGRESSION"));
	cairn_free(text);
	assert_int_equal(cairn_eval_comparison_render(c, CAIRN_REPORT_MD, &text, &len, eb, sizeof eb), CAIRN_OK);
	assert_non_null(strstr(text, "## Answer comparison"));
	assert_non_null(strstr(text, "| tokens_out ↓ |"));
	cairn_free(text);
	assert_int_equal(cairn_eval_comparison_render(c, CAIRN_REPORT_HTML, &text, &len, eb, sizeof eb), CAIRN_OK);
	assert_non_null(strstr(text, "cairn answer comparison"));
	assert_non_null(strstr(text, "Losses: the 1 question where f1 dropped most")); /* q1 */
	cairn_free(text);
	cairn_eval_comparison_free(c);
	cp.tolerances = "default=0,ttft_ms=10";
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_comparison_regressions(c), 2);
	cairn_eval_comparison_free(c);
	cp.tolerances = "default=0,tokens_out=2.5";
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_comparison_regressions(c), 0);
	cairn_eval_comparison_free(c);
	cairn_eval_result_free(a);
	cairn_eval_result_free(b);

	/* A measure both runs have, but never on the same question: no pair, no test, no gate. */
	a = load("{\"id\":\"x\",\"answerable\":true,\"abstained\":false,\"em\":1}\n"
	         "{\"id\":\"y\",\"answerable\":true,\"abstained\":false}\n");
	b = load("{\"id\":\"x\",\"answerable\":true,\"abstained\":false}\n"
	         "{\"id\":\"y\",\"answerable\":true,\"abstained\":false,\"em\":0}\n");
	cp = cairn_eval_compare_default_params();
	cp.gate = 1;
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	r = row_of(c, "em");
	assert_int_equal(r->n, 0);
	assert_false(r->gated);
	assert_false(r->regressed);
	assert_true(isnan(r->mean_a) && isnan(r->p));
	const cairn_report_format fmts[] = {CAIRN_REPORT_TEXT, CAIRN_REPORT_JSON, CAIRN_REPORT_MD, CAIRN_REPORT_HTML};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(cairn_eval_comparison_render(c, fmts[i], &text, &len, eb, sizeof eb), CAIRN_OK);
		/* a printed NaN ("provenance" has the letters too) */
		static const char *const nans[] = {" nan", "-nan", ">nan", "(nan", ":nan", "[nan", "NaN"};
		for (size_t k = 0; k < sizeof nans / sizeof nans[0]; k++)
			if (strstr(text, nans[k]))
				fail_msg("format %d prints a NaN: %.40s", (int)fmts[i], strstr(text, nans[k]));
		cairn_free(text);
	}
	cairn_eval_comparison_free(c);
	cairn_eval_result_free(a);
	cairn_eval_result_free(b);
}

static void test_bad_rows(void **state)
{
	(void)state;
	const char *bad[][2] = {
		{"not json\n", "mem:1:"},
		{"{\"id\":\"a\",\"answerable\":true}\n", "\"abstained\""},
		{"{\"answerable\":true,\"abstained\":false}\n", "\"id\""},
		{"{\"id\":\"\",\"answerable\":true,\"abstained\":false}\n", "\"id\""},
		{"{\"id\":\"a\",\"answerable\":1,\"abstained\":false}\n", "\"answerable\""},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false,\"f1\":1.5}\n", "outside its range"},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false,\"tokens_in\":-1}\n", "outside its range"},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false,\"f1\":\"x\"}\n", "not a finite number"},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false,\"refused\":\"no\"}\n", "\"refused\""},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false,\"latency_ms\":-3}\n", "latency_ms"},
		{"{\"id\":\"a\",\"answerable\":true,\"abstained\":false}\n[1]\n", "mem:2:"},
		{"\n  \n", "no rows"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cn_err err;
		cn_err_clear(&err);
		cairn_eval_result *r = NULL;
		assert_int_equal(cn_evres_from_answer_rows(&r, bad[i][0], strlen(bad[i][0]), "mem", NULL, &err), CAIRN_EFORMAT);
		assert_null(r);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i][1]);
	}
	/* Answer measures are not retrieval measures. */
	cn_mspec m[4];
	size_t n = 0;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_mspec_parse("map,f1", m, 4, &n, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "retrieval measure \"f1\""));
	/* A result file's null is only "does not apply" for answer measures. */
	const char *nul = "{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"map\":0.5},\"per_query\":[{\"qid\":\"1\","
	                  "\"values\":{\"map\":null}}]}";
	cairn_eval_result *r = NULL;
	assert_int_equal(cn_evres_parse(&r, nul, strlen(nul), "mem", &err), CAIRN_EFORMAT);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_to_measures),
		cmocka_unit_test(test_compare_answer_runs),
		cmocka_unit_test(test_bad_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
