/* answer evaluation metrics: hand-worked fixtures (EM/F1 edge cases, ROUGE-L, BLEU, citation
 * and abstention precision/recall, percentiles) and a cross-check of ROUGE-L and BLEU against
 * the independent Python reference tests/reference/answer_metrics.py on fixed strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer/answer.h"
#include "answer/eval_metrics.h"
#include "testutil.h"


static void test_em_f1_edges(void **state)
{
	(void)state;
	/* normalisation: case, punctuation, articles, whitespace */
	assert_double_equal(cn_squad_exact("  The  Eiffel tower!", "eiffel Tower"), 1, 0);
	assert_double_equal(cn_squad_exact("", ""), 1, 0);          /* "" == "" after normalising */
	assert_double_equal(cn_squad_f1("", ""), 0, 0);             /* but F1 has no common token */
	assert_double_equal(cn_squad_f1("a an the", "the"), 0, 0);  /* articles only: nothing left */
	/* repeated tokens count as a multiset: pred "paris paris" vs "paris": P 1/2, R 1 → 2/3 */
	assert_double_equal(cn_squad_f1("Paris Paris", "Paris"), 2.0 / 3, 1e-12);
	/* pred 3 tokens, gold 2, 1 shared: P 1/3 R 1/2 → 0.4 */
	assert_double_equal(cn_squad_f1("in march 2020", "april 2020"), 0.4, 1e-12);
}

static void test_rouge_l_hand(void **state)
{
	(void)state;
	const char *ref[] = {"the cat is on the mat"};
	/* LCS "the cat on the mat" = 5 of 6 and 6 tokens: P = R = F = 5/6 */
	assert_double_equal(cn_rouge_l("The cat sat on the mat.", ref, 1), 5.0 / 6, 1e-12);
	/* pred 2 tokens "mat cat" vs 6: LCS 1 ("cat" or "mat"): P 1/2, R 1/6 → F 0.25 */
	assert_double_equal(cn_rouge_l("mat cat", ref, 1), 0.25, 1e-12);
	assert_double_equal(cn_rouge_l("", ref, 1), 0, 0);
	assert_double_equal(cn_rouge_l("!!!", ref, 1), 0, 0); /* no alphanumeric token */
	/* the best of several references */
	const char *two[] = {"dog", "on the mat"};
	/* vs "on the mat": LCS 3, P 3/6, R 1 → 2/3 */
	assert_double_equal(cn_rouge_l("the cat sat on the mat", two, 2), 2.0 / 3, 1e-12);
	/* rouge-score's tokenizer splits on anything outside [a-z0-9]: "COVID-19" = covid 19 */
	const char *cv[] = {"covid 19"};
	assert_double_equal(cn_rouge_l("COVID-19", cv, 1), 1, 1e-12);
}

static double bleu_of(const char *h, const char *const *r, size_t nr, cn_bleu_stats *s)
{
	assert_int_equal(cn_bleu_stats_of(h, r, nr, s), CAIRN_OK);
	return cn_bleu_sentence(s);
}

static void test_bleu_hand(void **state)
{
	(void)state;
	cn_bleu_stats s;
	const char *ref[] = {"the cat is on the mat"};
	/* matches 5/6, 3/5, 1/4, 0/3 (smoothed 0.1/3); equal lengths, BP 1 */
	double want = exp(0.25 * (log(5.0 / 6) + log(3.0 / 5) + log(1.0 / 4) + log(0.1 / 3)));
	assert_double_equal(bleu_of("the cat sat on the mat", ref, 1, &s), want, 1e-12);
	assert_int_equal(s.match[0], 5);
	assert_int_equal(s.total[3], 3);
	/* clipping: "the the the" vs ref: "the" twice in the ref → 2/3; bigrams "the the" 0/2 ...
	 * hyp 3 tokens < ref 6: BP = exp(1 - 6/3) */
	want = exp(1 - 6.0 / 3) * exp(0.25 * (log(2.0 / 3) + log(0.1 / 2) + log(0.1 / 1) + log(0.1 / 1)));
	assert_double_equal(bleu_of("the the the", ref, 1, &s), want, 1e-12);
	assert_int_equal(s.total[3], 1); /* NLTK's max(1, count) */
	/* no unigram match: 0; empty hypothesis: 0 */
	assert_double_equal(bleu_of("dog", ref, 1, &s), 0, 0);
	assert_double_equal(bleu_of("", ref, 1, &s), 0, 0);
	/* identical: 1 */
	assert_double_equal(bleu_of("The cat is on the mat", ref, 1, &s), 1, 1e-12);
	/* closest reference length, ties to the shorter: hyp 4 tokens, refs 2 and 6 → 2 (BP 1) */
	const char *refs[] = {"a b c d e f", "a b"};
	assert_double_equal(bleu_of("a b c d", refs, 2, &s), 1, 1e-12);
	assert_int_equal(s.ref_len, 2);
	const char *refs3[] = {"a b c d e f", "a b c"};  /* 3 and 6 from 4 → 3 */
	bleu_of("a b c d", refs3, 2, &s);
	assert_int_equal(s.ref_len, 3);
	/* corpus: sums, no smoothing */
	cn_bleu_stats sum, a, b;
	memset(&sum, 0, sizeof sum);
	bleu_of("the cat is on the mat", ref, 1, &a);
	bleu_of("the cat", ref, 1, &b);
	cn_bleu_add(&sum, &a);
	cn_bleu_add(&sum, &b);
	/* 1-grams (6+2)/(6+2), 2-grams (5+1)/(5+1), 3-grams 4/(4+1), 4-grams 3/(3+1); c 8, r 12 */
	want = exp(1 - 12.0 / 8) * exp(0.25 * (log(1) + log(1) + log(4.0 / 5) + log(3.0 / 4)));
	assert_double_equal(cn_bleu_corpus(&sum), want, 1e-12);
	cn_bleu_add(&sum, &s);
	memset(&sum, 0, sizeof sum);
	cn_bleu_add(&sum, &b);
	assert_double_equal(cn_bleu_corpus(&sum), 0, 0); /* no 3-gram match at all */
}

static void test_against_reference(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("skipping: /usr/bin/python3 is not installed\n");
		skip();
	}
	static const char *const cases[][4] = {
		{"The cat sat on the mat.", "the cat is on the mat", NULL},
		{"It is a guide to action which ensures that the military always obeys the commands of the party",
		 "It is a guide to action that ensures that the military will forever heed Party commands",
		 "It is the guiding principle which guarantees the military forces always being under the command of the Party",
		 "It is the practical guide for the army always to heed the directions of the party"},
		{"30,847 nucleotides", "The genome is 30,847 nucleotides long", NULL},
		{"the the the the", "the cat the mat", NULL},
		{"", "something", NULL},
		{"COVID-19 spreads by droplets and aerosols", "SARS-CoV-2 (COVID-19) spreads through respiratory droplets",
		 "droplets and aerosols"},
		{"a b c d e f g h", "a b c d e f g h", NULL},
		{"Stade de France, Saint-Denis", "Saint-Denis", "the Stade de France"},
		{"İstanbul is in Turkey", "istanbul turkey", NULL},
		{"one two three four five", "five four three two one", NULL},
		{"x", "x y z", NULL},
		{"the mat the cat the dog", "the dog the cat the mat the bird", "cat"},
	};
	size_t n = sizeof cases / sizeof cases[0];
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *refs = json_array();
		for (int k = 1; k < 4 && cases[i][k]; k++)
			json_array_append_new(refs, json_string(cases[i][k]));
		json_array_append_new(arr, json_pack("[so]", cases[i][0], refs));
	}
	char dir[256], path[300], cmd[600];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "ansmetric"), 0);
	snprintf(path, sizeof path, "%s/pairs.json", dir);
	assert_int_equal(json_dump_file(arr, path, 0), 0);
	json_decref(arr);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/answer_metrics.py %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	json_error_t je;
	json_t *res = json_loadf(p, 0, &je);
	assert_int_equal(pclose(p), 0);
	assert_non_null(res);
	cn_bleu_stats sum;
	memset(&sum, 0, sizeof sum);
	int partial = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nr = 0;
		while (nr < 3 && cases[i][nr + 1])
			nr++;
		const char *const *refs = &cases[i][1];
		double rl = cn_rouge_l(cases[i][0], refs, nr);
		cn_bleu_stats s;
		assert_int_equal(cn_bleu_stats_of(cases[i][0], refs, nr, &s), CAIRN_OK);
		cn_bleu_add(&sum, &s);
		double want_rl = json_number_value(json_array_get(json_object_get(res, "rouge_l"), i));
		double want_b = json_number_value(json_array_get(json_object_get(res, "bleu"), i));
		if (fabs(rl - want_rl) > 1e-12)
			fail_msg("case %zu: rouge-L %.15g, reference %.15g", i, rl, want_rl);
		if (fabs(cn_bleu_sentence(&s) - want_b) > 1e-12)
			fail_msg("case %zu: BLEU %.15g, reference %.15g", i, cn_bleu_sentence(&s), want_b);
		partial += want_b > 0 && want_b < 1;
	}
	assert_true(partial >= 5);
	assert_double_equal(cn_bleu_corpus(&sum), json_number_value(json_object_get(res, "corpus_bleu")), 1e-12);
	assert_true(cn_bleu_corpus(&sum) > 0);
	json_decref(res);
	cn_test_rmtree(dir);
}

static void test_citation_pr(void **state)
{
	(void)state;
	/* gold: doc A (any passage), doc B with a passage, text only (any document) */
	cn_gold_item g[] = {{"A", NULL}, {"B", "The vaccine was 95% effective"}, {NULL, "trial enrolled 43,548 people"}};
	cn_cited c[] = {
		{"A", "whatever passage of A"},                                  /* correct: item 0 */
		{"B", "In the end, the vaccine was 90% effective."},             /* other text of B: wrong */
		{"B", "Results: the Vaccine was 95 % effective, said the team."}, /* normalised: item 1 */
		{"C", "The trial enrolled 43,548 people in six countries."},     /* correct: item 2 */
		{"D", "unrelated"},                                              /* wrong */
	};
	size_t correct, found;
	cn_citation_match(c, 5, g, 3, &correct, &found);
	assert_int_equal(correct, 3); /* precision 3/5 */
	assert_int_equal(found, 3);   /* recall 3/3 */
	cn_citation_match(c, 1, g, 3, &correct, &found);
	assert_int_equal(correct, 1);
	assert_int_equal(found, 1); /* recall 1/3 */
	/* a file ingested by path is named by its path's tail, at a "/" only */
	assert_true(cn_doc_id_match("corpus/faq.md", "faq.md"));
	assert_true(cn_doc_id_match("faq.md", "faq.md"));
	assert_false(cn_doc_id_match("corpus/xfaq.md", "faq.md"));
	assert_false(cn_doc_id_match("faq.md", "corpus/faq.md"));
	assert_false(cn_doc_id_match(NULL, "faq.md"));
	cn_cited byp[] = {{"kb/A", "text"}};
	cn_citation_match(byp, 1, g, 1, &correct, &found);
	assert_int_equal(correct, 1);
	cn_citation_match(c, 0, g, 3, &correct, &found);
	assert_int_equal(correct, 0);
	assert_int_equal(found, 0);
}

static void test_percentile_and_abstention(void **state)
{
	(void)state;
	double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
	/* nearest rank: p50 of 10 → rank 5 = 5; p95 → rank 10 = 10; p99 → 10; p10 → rank 1 */
	assert_double_equal(cn_percentile(v, 10, 50), 5, 0);
	assert_double_equal(cn_percentile(v, 10, 95), 10, 0);
	assert_double_equal(cn_percentile(v, 10, 99), 10, 0);
	assert_double_equal(cn_percentile(v, 10, 10), 1, 0);
	assert_double_equal(cn_percentile(v, 10, 90), 9, 0);
	double one[] = {7};
	assert_double_equal(cn_percentile(one, 1, 50), 7, 0);
	assert_double_equal(cn_percentile(NULL, 0, 50), 0, 0);
	/* abstention P/R by hand: 4 unanswerable, 3 abstained of them; 2 answerable abstained
	 * → P 3/5, R 3/4 (the eval's cn_abstention_pr) */
	int unans[] = {1, 1, 1, 1, 0, 0, 0, 0};
	int abst[] = {1, 1, 1, 0, 1, 1, 0, 0};
	double P, R;
	cn_abstention_pr(unans, abst, 8, &P, &R);
	assert_double_equal(P, 3.0 / 5, 1e-12);
	assert_double_equal(R, 3.0 / 4, 1e-12);
	cn_abstention_pr(unans + 4, abst + 6, 2, &P, &R); /* nothing abstained, nothing unanswerable */
	assert_double_equal(P, 0, 0);
	assert_double_equal(R, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_em_f1_edges),          cmocka_unit_test(test_rouge_l_hand),
		cmocka_unit_test(test_bleu_hand),            cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_citation_pr),          cmocka_unit_test(test_percentile_and_abstention),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
