/* conversation: follow-up detection (dependent vs independent questions, written by hand),
 * the standalone queries made for hand-written dialogues (the topic words kept, nothing the
 * question already says repeated, independent questions untouched), the history budget
 * (verbatim / summarized / dropped counts worked out by hand for a long conversation), and
 * cairn_conversation_ask on a small knowledge base: the follow-up's citation comes from the
 * right document only because of the rewrite, the JSON carries the conversation section,
 * and reset forgets the history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/conversation.h"
#include "testutil.h"

/* ---- dependence ---- */

static void test_dependent(void **state)
{
	(void)state;
	static const struct {
		const char *q;
		cn_conv_dep want;
		const char *word;
	} cases[] = {
		{"How long does it take?", CN_CONV_PRONOUN, "it"},
		{"What are its limits?", CN_CONV_PRONOUN, "its"},
		{"Who signs them?", CN_CONV_PRONOUN, "them"},
		{"Does this apply to contractors?", CN_CONV_PRONOUN, "this"},
		{"Is that true for interns?", CN_CONV_PRONOUN, "that"},
		{"Are these paid?", CN_CONV_PRONOUN, "these"},
		{"When did he join?", CN_CONV_PRONOUN, "he"},
		{"How do I get there?", CN_CONV_PRONOUN, "there"},
		{"What about 2026?", CN_CONV_ELLIPTICAL, "what about"},
		{"How about contractors?", CN_CONV_ELLIPTICAL, "how about"},
		{"And the interns?", CN_CONV_ELLIPTICAL, "and"},
		{"Why?", CN_CONV_SHORT, ""},
		{"How long?", CN_CONV_SHORT, ""},
		{"Since when?", CN_CONV_SHORT, ""},
		{"Who decides?", CN_CONV_SHORT, ""},
		{"What is the salary budget for 2025?", CN_CONV_INDEPENDENT, ""},
		{"Who approves leave requests?", CN_CONV_INDEPENDENT, ""},
		{"How many vacation days do new employees get?", CN_CONV_INDEPENDENT, ""},
		/* a relative "that" after a noun is not a reference to the conversation */
		{"Which policy covers travel that crosses borders?", CN_CONV_INDEPENDENT, ""},
		{"What is Kubernetes?", CN_CONV_INDEPENDENT, ""},
		/* existential "there" */
		{"Is there a dress code for visitors?", CN_CONV_INDEPENDENT, ""},
		{"Are there exceptions?", CN_CONV_SHORT, ""}, /* still a follow-up: no topic of its own */
		/* curly apostrophes and dashes separate words; "what’s" is a question word */
		{"What\xe2\x80\x99s the deadline \xe2\x80\x94 for the yearly review?", CN_CONV_INDEPENDENT, ""},
		{"And \xe2\x80\x9cthe interns\xe2\x80\x9d?", CN_CONV_ELLIPTICAL, "and"},
		{"", CN_CONV_INDEPENDENT, ""},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		char word[24];
		cn_conv_dep d = cn_conv_dependent(cases[i].q, strlen(cases[i].q), word);
		if (d != cases[i].want || strcmp(word, cases[i].word))
			fail_msg("\"%s\": %s \"%s\", expected %s \"%s\"", cases[i].q, cn_conv_dep_name(d), word,
			         cn_conv_dep_name(cases[i].want), cases[i].word);
	}
}

/* ---- rewriting ---- */

static char *rewrite(const char *q, const char *pq, const char *ps, cn_conv_dep *d)
{
	cn_buf b;
	cn_buf_init(&b);
	*d = cn_conv_rewrite(q, pq, ps, &b);
	assert_false(b.failed);
	char *s = cn_buf_take(&b);
	cn_buf_free(&b);
	return s;
}

/* count of occurrences of word (case-insensitive, whole word) in s */
static int count_word(const char *s, const char *w)
{
	int c = 0;
	size_t n = strlen(w);
	for (const char *p = s; (p = strcasestr(p, w)); p += n) {
		bool left = p == s || !isalnum((unsigned char)p[-1]);
		bool right = !isalnum((unsigned char)p[n]);
		c += left && right;
	}
	return c;
}

static void test_rewrite(void **state)
{
	(void)state;
	cn_conv_dep d;
	/* no earlier turn: unchanged whatever it says */
	char *s = rewrite("How long does it take?", NULL, NULL, &d);
	assert_string_equal(s, "How long does it take?");
	assert_int_equal(d, CN_CONV_INDEPENDENT);
	cn_free(s);

	/* a changed year: the previous question with the year replaced */
	s = rewrite("What about 2026?", "What is the salary budget for 2025?", "What is the salary budget for 2025?", &d);
	assert_int_equal(d, CN_CONV_ELLIPTICAL);
	assert_string_equal(s, "What is the salary budget for 2026?");
	cn_free(s);

	/* a pronoun: replaced by the previous turn's topic words */
	s = rewrite("how long does it take?", "Who approves leave requests?", "Who approves leave requests?", &d);
	assert_int_equal(d, CN_CONV_PRONOUN);
	assert_string_equal(s, "how long does approves leave requests take?");
	assert_int_equal(count_word(s, "it"), 0);
	cn_free(s);

	/* words the question already has are not repeated ("requests" = "request") */
	s = rewrite("Can a request be refused if it is late?", "Who approves leave requests?",
	            "Who approves leave requests?", &d);
	assert_int_equal(d, CN_CONV_PRONOUN);
	assert_int_equal(count_word(s, "request"), 1);
	assert_int_equal(count_word(s, "requests"), 0);
	assert_int_equal(count_word(s, "leave"), 1);
	assert_int_equal(count_word(s, "approves"), 1);
	cn_free(s);

	/* elliptical with a noun: the previous frame ("How many"), the new noun, the old topic */
	s = rewrite("What about contractors?", "How many vacation days do employees get?",
	            "How many vacation days do employees get?", &d);
	assert_int_equal(d, CN_CONV_ELLIPTICAL);
	assert_string_equal(s, "How many contractors vacation days employees?");
	cn_free(s);

	/* a bare "why?": the topic appended */
	s = rewrite("Why?", "Is the Berlin office closing?", "Is the Berlin office closing?", &d);
	assert_int_equal(d, CN_CONV_SHORT);
	assert_string_equal(s, "Why Berlin office closing?");
	cn_free(s);

	/* chains: the third turn borrows from the second's standalone query, which carries the
	 * first's words; the most recent question's words come first */
	s = rewrite("Who signs it?", "What about 2026?", "What is the salary budget for 2026?", &d);
	assert_int_equal(d, CN_CONV_PRONOUN);
	assert_string_equal(s, "Who signs 2026 salary budget?");
	cn_free(s);

	/* an independent question after another: unchanged, no old words leak in */
	s = rewrite("What is the parental leave policy?", "What is the salary budget for 2025?",
	            "What is the salary budget for 2025?", &d);
	assert_int_equal(d, CN_CONV_INDEPENDENT);
	assert_string_equal(s, "What is the parental leave policy?");
	cn_free(s);

	/* nothing to borrow (the previous turn had no topic words): unchanged */
	s = rewrite("Why?", "How?", "How?", &d);
	assert_int_equal(d, CN_CONV_INDEPENDENT);
	assert_string_equal(s, "Why?");
	cn_free(s);

	/* at most CN_CONV_MAX_TERMS borrowed words, whatever the previous query's length */
	s = rewrite("And why?", "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu",
	            "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", &d);
	assert_int_equal(count_word(s, "theta"), 1);
	assert_int_equal(count_word(s, "iota"), 0);
	cn_free(s);
}

/* ---- the budget ---- */

static void test_budget(void **state)
{
	(void)state;
	enum { N = 12 };
	cn_conv_turn t[N];
	char q[N][64], a[N][256];
	for (int i = 0; i < N; i++) {
		/* question: 6 words; answer: two sentences, 10 + 10 words */
		snprintf(q[i], sizeof q[i], "question %d about the topic here", i);
		snprintf(a[i], sizeof a[i],
		         "Answer %d first sentence has exactly ten words in it. Then the second sentence adds ten more "
		         "words here.",
		         i);
		t[i] = (cn_conv_turn){q[i], q[i], a[i]};
	}
	/* verbatim turn: "User:" 1 + 6 words + "Assistant:" 1 + 19 words (cn_count_words) = 27
	 * words → 36 tokens; summary: "Earlier, the user asked:" 4 + 6 + "answer:" 1 + 10 = 21 words
	 * ("—" is no word) → 28 tokens */
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_reset(&b);
	cn_conv_kept k;
	/* 3 × 36 = 108 verbatim, then the 9 older turns' summaries, 9 × 28 = 252: all fit */
	cn_conv_history(t, N, 400, 3, 48, &b, &k);
	assert_int_equal(k.verbatim, 3);
	assert_int_equal(k.summarized, 9);
	assert_int_equal(k.dropped, 0);
	assert_int_equal(k.tokens, 108 + 9 * 28);
	assert_int_equal(cn_conv_tokens(b.data, b.len), k.tokens);
	/* budget 200: 108 + 3 × 28 = 192 (a fourth summary would make 220) → 3 verbatim, 3
	 * summarized, 6 dropped */
	cn_buf_reset(&b);
	cn_conv_history(t, N, 200, 3, 48, &b, &k);
	assert_int_equal(k.verbatim, 3);
	assert_int_equal(k.summarized, 3);
	assert_int_equal(k.dropped, 6);
	assert_int_equal(k.first, 6);
	assert_int_equal(k.tokens, 192);
	/* the text: oldest kept first; summaries hold the first sentence only, verbatim the whole */
	assert_non_null(strstr(b.data, "Earlier, the user asked: question 6 about"));
	assert_null(strstr(b.data, "question 5 "));
	assert_null(strstr(b.data, "Answer 6 first sentence has exactly ten words in it. Then"));
	assert_non_null(strstr(b.data, "User: question 11 about the topic here\nAssistant: Answer 11 first"));
	assert_true(strstr(b.data, "question 8 ") < strstr(b.data, "question 9 "));
	/* budget 80: 2 verbatim (72), no room for a summary (72 + 28 > 80) → 10 dropped */
	cn_conv_history(t, N, 80, 3, 48, NULL, &k);
	assert_int_equal(k.verbatim, 2);
	assert_int_equal(k.summarized, 0);
	assert_int_equal(k.dropped, 10);
	/* budget 30: not even the newest verbatim (36); its summary fits (28) */
	cn_conv_history(t, N, 30, 3, 48, NULL, &k);
	assert_int_equal(k.verbatim, 0);
	assert_int_equal(k.summarized, 1);
	assert_int_equal(k.dropped, 11);
	/* summaries cut to summary_tokens: 16 tokens = 12 space-separated words, then " …" */
	cn_buf_reset(&b);
	cn_conv_history(t, N, 1000, 0, 16, &b, &k);
	assert_int_equal(k.verbatim, 0);
	assert_int_equal(k.summarized, N);
	assert_non_null(strstr(b.data, "Earlier, the user asked: question 0 about the topic here — answer: …\n"));
	/* no turns */
	cn_conv_history(t, 0, 100, 3, 48, NULL, &k);
	assert_int_equal(k.verbatim + k.summarized + k.dropped, 0);
	cn_buf_free(&b);
}

/* ---- cairn_conversation_ask end to end ---- */

static const char *const docs[][3] = {
	{"leave", "Leave policy",
	 "Leave requests are approved by the line manager. A leave request is answered within five working days. "
	 "Unused leave expires at the end of March."},
	{"laptops", "Laptops",
	 "How long does it take to get a laptop? Laptops take two weeks to arrive. Repairs take three days. It can "
	 "take longer in December."},
	{"budget", "Budget",
	 "The salary budget for 2025 is 4.2 million euros. The salary budget for 2026 is 4.6 million euros. The "
	 "travel budget is fixed by the board."},
};

static void test_conversation_ask(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "conv"), 0);
	cairn_kb *kb = NULL;
	char err[512];
	assert_int_equal(cairn_kb_open(dir, NULL, &kb, err, sizeof err), CAIRN_OK);
	cairn_ingest_params ip = cairn_ingest_default_params();
	for (size_t i = 0; i < CN_ARRAY_LEN(docs); i++) {
		cairn_record r = {.doc_id = docs[i][0], .title = docs[i][1], .text = docs[i][2], .text_len = strlen(docs[i][2])};
		assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
	}
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);

	cairn_ask_params p = cairn_ask_default_params();
	p.min_confidence = 0;
	cairn_conversation *c = NULL;
	assert_int_equal(cairn_conversation_new(NULL, &c), CAIRN_OK);
	cairn_answer *a = NULL;
	assert_int_equal(cairn_conversation_ask(c, kb, "Who approves leave requests?", &p, &a), CAIRN_OK);
	const cairn_answer_view *v = cairn_answer_get(a);
	assert_false(cairn_conversation_last(c)->rewritten);
	assert_true(v->n_citations >= 1);
	assert_string_equal(v->citations[0].doc_id, "leave");
	cairn_answer_free(a);

	/* the bare follow-up retrieves the laptop page… */
	assert_int_equal(cairn_ask(kb, "How long does it take?", &p, &a), CAIRN_OK);
	v = cairn_answer_get(a);
	assert_true(v->n_citations >= 1);
	assert_string_equal(v->citations[0].doc_id, "laptops");
	cairn_answer_free(a);
	/* …the conversation's rewrite finds the leave policy's answer */
	assert_int_equal(cairn_conversation_ask(c, kb, "How long does it take?", &p, &a), CAIRN_OK);
	const cairn_conversation_info *in = cairn_conversation_last(c);
	assert_true(in->rewritten);
	assert_string_equal(in->rewrite_reason, "pronoun");
	assert_string_equal(in->rewrite_word, "it");
	assert_string_equal(cairn_conversation_standalone_query(c), "How long does approves leave requests take?");
	assert_int_equal(in->turns_verbatim, 1);
	v = cairn_answer_get(a);
	if (v->abstained || !strstr(v->answer, "five working"))
		fail_msg("answer: %s", v->answer);
	for (size_t i = 0; i < v->n_sentences; i++)
		for (size_t j = 0; j < v->sentences[i].n_citations; j++)
			assert_string_equal(v->citations[v->sentences[i].citations[j] - 1].doc_id, "leave");
	assert_non_null(strstr(v->citations[v->sentences[0].citations[0] - 1].quote, "five working days"));
	char *j = cairn_conversation_answer_to_json(c, a, 1);
	assert_non_null(j);
	json_error_t je;
	json_t *root = json_loads(j, 0, &je);
	assert_non_null(root);
	json_t *conv = json_object_get(root, "conversation");
	assert_non_null(conv);
	assert_string_equal(json_string_value(json_object_get(conv, "standalone_query")),
	                    "How long does approves leave requests take?");
	assert_string_equal(json_string_value(json_object_get(conv, "question")), "How long does it take?");
	assert_true(json_is_true(json_object_get(conv, "rewritten")));
	assert_int_equal(json_integer_value(json_object_get(conv, "turns_verbatim")), 1);
	assert_int_equal(json_integer_value(json_object_get(conv, "turns_summarized")), 0);
	assert_int_equal(json_integer_value(json_object_get(conv, "turns_dropped")), 0);
	assert_non_null(strstr(json_string_value(json_object_get(conv, "history")), "User: Who approves leave requests?"));
	assert_non_null(json_object_get(root, "citations"));
	json_decref(root);
	cairn_free(j);
	char *ex = cairn_conversation_explain(c);
	assert_non_null(strstr(ex, "pronoun \"it\""));
	cairn_free(ex);
	cairn_answer_free(a);

	/* a topic switch, then the year follow-up */
	assert_int_equal(cairn_conversation_ask(c, kb, "What is the salary budget for 2025?", &p, &a), CAIRN_OK);
	assert_false(cairn_conversation_last(c)->rewritten);
	assert_non_null(strstr(cairn_answer_get(a)->answer, "4.2"));
	cairn_answer_free(a);
	assert_int_equal(cairn_conversation_ask(c, kb, "What about 2026?", &p, &a), CAIRN_OK);
	assert_string_equal(cairn_conversation_standalone_query(c), "What is the salary budget for 2026?");
	assert_non_null(strstr(cairn_answer_get(a)->answer, "4.6"));
	assert_int_equal(cairn_conversation_last(c)->turns_verbatim, 3);
	assert_int_equal(cairn_conversation_turns(c), 4);
	cairn_answer_free(a);

	/* reset: the follow-up has nothing to refer to and is asked as it is */
	cairn_conversation_reset(c);
	assert_int_equal(cairn_conversation_turns(c), 0);
	assert_int_equal(cairn_conversation_ask(c, kb, "How long does it take?", &p, &a), CAIRN_OK);
	assert_false(cairn_conversation_last(c)->rewritten);
	assert_string_equal(cairn_conversation_standalone_query(c), "How long does it take?");
	cairn_answer_free(a);
	cairn_conversation_free(c);

	/* a tight budget: old turns are dropped and freed, the count still reported */
	cairn_conversation_params cp = cairn_conversation_default_params();
	cp.budget_tokens = 40;
	cp.verbatim_turns = 1;
	assert_int_equal(cairn_conversation_new(&cp, &c), CAIRN_OK);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(cairn_conversation_ask(c, kb, "Who approves leave requests?", &p, &a), CAIRN_OK);
		in = cairn_conversation_last(c);
		assert_true(in->history_tokens <= 40);
		assert_int_equal(in->turns_verbatim + in->turns_summarized + in->turns_dropped, i);
		cairn_answer_free(a);
	}
	assert_true(cairn_conversation_last(c)->turns_dropped >= 3);
	cairn_conversation_free(c);
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependent),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_conversation_ask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
