/* answer: SQuAD scoring against the official script's logic (tests/reference/squad_eval.py),
 * question types and answer spans on handwritten cases, the verifier (a fabricated number
 * is caught), and cairn_ask end to end on small knowledge bases: short answers with
 * citations that resolve to the passage text and the source file's bytes, abstention when
 * the documents lack the answer, the JSON schema, several threads at once, and
 * cairn_eval_answers on tiny SQuAD and SciFact sets whose scores are worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer/answer.h"
#include "testutil.h"

/* ---- SQuAD normalisation, EM, F1 vs the official logic ---- */

static const char *const pool[] = {
	"the", "The", "THE", "a", "A", "an", "An", "theory", "another", "anthem", "30,847", "nucleotides", "31",
	"kb", "5.2", "days", "(95%", "CI:", "4.1-7.0)", "U.S.A.", "don't", "e.g.,", "Ünïcode", "İstanbul", "café",
	"—", "’s", "\xc2\xa0", "\t", "\n", "  ", "a-b", "the.", "[the]", "ﬁnal", "ΣΑΣ", "x_y", "_a_", "a²", "2³",
	"e\xcc\x81", "a\xcc\x81", "RNA", "single-stranded,", "\"quoted\"", "¿qué?", "COVID-19", "an.", "!", "",
};

static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static char *random_text(void)
{
	size_t n = next_rand() % 7;
	char buf[512] = "";
	for (size_t i = 0; i < n; i++) {
		const char *w = pool[next_rand() % CN_ARRAY_LEN(pool)];
		if (strlen(buf) + strlen(w) + 2 >= sizeof buf)
			break;
		if (i && next_rand() % 4)
			strcat(buf, " ");
		strcat(buf, w);
	}
	return strdup(buf);
}

static void test_squad_matches_official(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("skipping: /usr/bin/python3 is not installed\n");
		skip();
	}
	enum { N = 600 };
	char *pred[N], *gold[N];
	json_t *arr = json_array();
	for (int i = 0; i < N; i++) {
		pred[i] = random_text();
		gold[i] = i % 5 == 0 ? strdup(pred[i]) : random_text();
		if (i % 7 == 0) { /* a prediction sharing some of the gold's words */
			free(gold[i]);
			size_t l = strlen(pred[i]);
			gold[i] = malloc(l + 16);
			snprintf(gold[i], l + 16, "the %s kb", pred[i]);
		}
		json_array_append_new(arr, json_pack("[ss]", pred[i], gold[i]));
	}
	char dir[256], path[300], cmd[600];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "squad"), 0);
	snprintf(path, sizeof path, "%s/pairs.json", dir);
	assert_int_equal(json_dump_file(arr, path, 0), 0);
	json_decref(arr);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/squad_eval.py %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	json_error_t je;
	json_t *res = json_loadf(p, 0, &je);
	assert_int_equal(pclose(p), 0);
	assert_non_null(res);
	assert_int_equal(json_array_size(res), N);
	int nonzero_f1 = 0, em1 = 0;
	for (int i = 0; i < N; i++) {
		json_t *r = json_array_get(res, i);
		cn_buf b;
		cn_buf_init(&b);
		cn_squad_normalize(&b, pred[i], strlen(pred[i]));
		cn_buf_putc(&b, '\0');
		const char *want = json_string_value(json_array_get(r, 0));
		if (strcmp(b.data, want) != 0)
			fail_msg("pair %d: normalize(\"%s\") = \"%s\", official \"%s\"", i, pred[i], b.data, want);
		cn_buf_free(&b);
		double em = cn_squad_exact(pred[i], gold[i]), f1 = cn_squad_f1(pred[i], gold[i]);
		assert_float_equal(em, json_number_value(json_array_get(r, 1)), 1e-12);
		if (f1 - json_number_value(json_array_get(r, 2)) > 1e-12 || json_number_value(json_array_get(r, 2)) - f1 > 1e-12)
			fail_msg("pair %d: f1(\"%s\", \"%s\") = %g, official %g", i, pred[i], gold[i], f1,
			         json_number_value(json_array_get(r, 2)));
		nonzero_f1 += f1 > 0 && f1 < 1;
		em1 += em == 1;
		free(pred[i]);
		free(gold[i]);
	}
	/* the generated pairs exercise partial overlaps and exact matches, not only zeros */
	assert_true(nonzero_f1 > 50);
	assert_true(em1 > 50);
	json_decref(res);
	cn_test_rmtree(dir);
}

static void test_squad_hand_cases(void **state)
{
	(void)state;
	assert_float_equal(cn_squad_exact("The 31 kb.", "31 KB"), 1.0, 0);
	assert_float_equal(cn_squad_exact("a theory", "theory"), 1.0, 0);
	assert_float_equal(cn_squad_exact("another", "other"), 0.0, 0); /* "an" only as a word */
	/* pred "30,847 nucleotides in total" vs gold "30,847 nucleotides": P 2/4, R 1 → 2/3 */
	assert_float_equal(cn_squad_f1("30,847 nucleotides in total", "30,847 nucleotides"), 2.0 / 3.0, 1e-12);
	assert_float_equal(cn_squad_f1("", ""), 0.0, 0); /* the script's num_same == 0 rule */
	assert_float_equal(cn_squad_f1("the", "a"), 0.0, 0);
}

/* ---- question types and spans ---- */

static void test_question_types(void **state)
{
	(void)state;
	static const struct {
		const char *q;
		cn_qtype t;
	} cases[] = {
		{"How many nucleotides does bovine coronavirus contain?", CN_QT_NUMBER},
		{"How much does the vaccine cost?", CN_QT_QUANTITY},
		{"How long does parental leave last?", CN_QT_DURATION},
		{"What was the mean incubation period?", CN_QT_DURATION},
		{"What is the size of bovine coronavirus?", CN_QT_QUANTITY},
		{"What percentage of patients recovered?", CN_QT_PERCENT},
		{"What proportion of cases were severe?", CN_QT_PERCENT},
		{"When was the first case reported?", CN_QT_DATE},
		{"In what year was the virus discovered?", CN_QT_DATE},
		{"Who discovered penicillin?", CN_QT_PERSON},
		{"Where was the sample collected?", CN_QT_PLACE},
		{"What is a coronavirus?", CN_QT_DEFINITION},
		{"What's the number of deaths?", CN_QT_NUMBER},
		{"Why were they hospitalised?", CN_QT_SENTENCE},
		{"How does hepcidin affect macrophages?", CN_QT_SENTENCE},
		{"Acupuncture is effective for depression.", CN_QT_SENTENCE},
		{"", CN_QT_SENTENCE},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		cn_qtype t = cn_question_type(cases[i].q, strlen(cases[i].q));
		if (t != cases[i].t)
			fail_msg("\"%s\": %s, expected %s", cases[i].q, cn_qtype_name(t), cn_qtype_name(cases[i].t));
	}
	assert_true(cn_question_word("how", 3));
	assert_false(cn_question_word("virus", 5));
}

/* Marks the bytes of each word of `protect` (space-separated) in s. */
static void mark(const char *s, const char *protect, uint8_t *out)
{
	memset(out, 0, strlen(s) + 1);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", protect);
	for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
		for (const char *p = strstr(s, w); p; p = strstr(p + 1, w))
			memset(out + (p - s), 1, strlen(w));
	}
}

static void test_spans(void **state)
{
	(void)state;
	static const struct {
		cn_qtype t;
		const char *s, *protect, *want; /* want NULL: no candidate */
	} cases[] = {
		{CN_QT_NUMBER, "The complete genome of this strain contains 30,847 nucleotides.", "genome strain nucleotides",
		 "30,847 nucleotides"},
		{CN_QT_QUANTITY, "The BCoV genome is a single-stranded RNA of 31 kb in length.", "BCoV genome", "31 kb"},
		{CN_QT_DURATION, "Of the 45 patients, the mean incubation period was 5.2 days (95% CI: 4.1-7.0).",
		 "incubation period", "5.2 days"},
		{CN_QT_PERCENT, "In 2019, about 95% of the 200 vaccinated children developed antibodies.",
		 "children antibodies", "about 95%"},
		{CN_QT_DATE, "The first cluster was reported in Wuhan on 31 December 2019 by the health commission.",
		 "cluster reported", "31 December 2019"},
		{CN_QT_DATE, "The sample was collected from a calf in Normandy in 2014.", "sample collected", "2014"},
		{CN_QT_PERSON, "Penicillin was discovered by Alexander Fleming in London.", "Penicillin discovered",
		 "Alexander Fleming"},
		{CN_QT_PLACE, "The sample was collected from a calf in Normandy in 2014.", "sample collected", "Normandy"},
		{CN_QT_DEFINITION, "A coronavirus is an enveloped RNA virus with a crown of spikes; it infects mammals.",
		 "coronavirus", "an enveloped RNA virus with a crown of spikes"},
		{CN_QT_NUMBER, "COVID-19 and H1N1 are diseases.", "diseases", NULL},
		{CN_QT_PERSON, "Patients were treated in hospital.", "treated", NULL},
		/* the question's own name, behind an article, is not its answer; "in Paris" is a place */
		{CN_QT_PERSON, "The Eiffel Tower stands in Paris.", "Eiffel Tower", NULL},
		{CN_QT_PERSON, "The Eiffel Tower was designed by Gustave Eiffel.", "Eiffel Tower designed", "Gustave Eiffel"},
		{CN_QT_PERSON, "Egan Bernal officially won the race on Sunday.", "won race", "Egan Bernal"},
		{CN_QT_PERSON, "The race ended on Sunday in March.", "race ended", NULL},
	};
	uint8_t prot[256];
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		const char *s = cases[i].s;
		mark(s, cases[i].protect, prot);
		cn_anspan sp[16];
		size_t k = cn_find_spans(s, strlen(s), cases[i].t, prot, sp, 16);
		if (!cases[i].want) {
			if (k)
				fail_msg("case %zu: unexpected span \"%.*s\"", i, (int)(sp[0].end - sp[0].start), s + sp[0].start);
			continue;
		}
		bool found = false;
		for (size_t j = 0; j < k; j++) {
			size_t n = sp[j].end - sp[j].start;
			assert_true(sp[j].end <= strlen(s) && sp[j].start < sp[j].end);
			found |= n == strlen(cases[i].want) && !memcmp(s + sp[j].start, cases[i].want, n);
		}
		if (!found)
			fail_msg("case %zu (%s): \"%s\" not among %zu candidates (first \"%.*s\")", i, cn_qtype_name(cases[i].t),
			         cases[i].want, k, k ? (int)(sp[0].end - sp[0].start) : 0, k ? s + sp[0].start : "");
	}
	/* the question's own number is not an answer */
	const char *s = "Stage 3 patients received 12 doses.";
	mark(s, "Stage 3", prot);
	cn_anspan sp[4];
	size_t k = cn_find_spans(s, strlen(s), CN_QT_NUMBER, prot, sp, 4);
	assert_int_equal(k, 1);
	assert_memory_equal(s + sp[0].start, "12 doses", 8);
}

/* ---- verifier ---- */

static void test_verifier(void **state)
{
	(void)state;
	const char *passage = "The genome of the French strain contains 30,847 nucleotides.\nIt was sampled in 2014.";
	cn_verdict v;
	cn_verify_text("30,847 nucleotides", 18, passage, strlen(passage), &v);
	assert_true(v.found && v.numbers_ok && v.supported);
	/* a fabricated figure in otherwise faithful words */
	const char *fake = "The genome of the French strain contains 31,847 nucleotides.";
	cn_verify_text(fake, strlen(fake), passage, strlen(passage), &v);
	assert_false(v.found);
	assert_true(v.lexical >= 0.8);
	assert_false(v.numbers_ok);
	assert_false(v.supported);
	/* a paraphrase with the passage's words and numbers (whitespace differs) */
	const char *para = "the French strain genome contains 30847 nucleotides";
	cn_verify_text(para, strlen(para), passage, strlen(passage), &v);
	assert_false(v.found);
	assert_true(v.numbers_ok && v.supported);
	/* a sentence the passage does not hold */
	const char *other = "Vaccines were distributed in Brazil.";
	cn_verify_text(other, strlen(other), passage, strlen(passage), &v);
	assert_false(v.supported);
	/* whitespace-insensitive "found" across the line break */
	const char *ws = "nucleotides. It   was sampled";
	cn_verify_text(ws, strlen(ws), passage, strlen(passage), &v);
	assert_true(v.found && v.supported);
}

/* ---- cairn_ask end to end ---- */

static const char *const docs[][3] = {
	{"bcov", "Bovine coronavirus genome",
	 "Bovine coronavirus belongs to the Nidovirales order. The complete genome of the French BCoV strain contains "
	 "30,847 nucleotides. The sample was collected from a calf in Normandy in 2014. Its orf1ab gene is located at "
	 "the 5' side of the genome."},
	{"leave", "Parental leave policy",
	 "Employees become eligible for parental leave after six months of service. Parental leave lasts 16 weeks and "
	 "is paid at full salary. Requests go to the HR team at least 30 days in advance."},
	{"stars", "Stellar evolution",
	 "A red giant is a star in a late phase of stellar evolution. Stars fuse hydrogen into helium in their cores. "
	 "The Sun will become a red giant in about five billion years."},
};

static cairn_kb *make_kb(char *dir, size_t cap, bool with_answerable)
{
	assert_int_equal(cn_test_mkdtemp(dir, cap, "ask"), 0);
	cairn_kb *kb = NULL;
	char err[512];
	assert_int_equal(cairn_kb_open(dir, NULL, &kb, err, sizeof err), CAIRN_OK);
	cairn_ingest_params ip = cairn_ingest_default_params();
	for (size_t i = with_answerable ? 0 : 2; i < CN_ARRAY_LEN(docs); i++) {
		cairn_record r = {.doc_id = docs[i][0], .title = docs[i][1], .text = docs[i][2], .text_len = strlen(docs[i][2])};
		assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
	}
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	return kb;
}

/* Checks the answer's citations against the chunk texts search returns. */
static void check_citations(cairn_kb *kb, const cairn_answer_view *v)
{
	for (size_t i = 0; i < v->n_sentences; i++)
		for (size_t j = 0; j < v->sentences[i].n_citations; j++) {
			int id = v->sentences[i].citations[j];
			assert_true(id >= 1 && (size_t)id <= v->n_citations);
			assert_int_equal(v->citations[id - 1].id, id);
		}
	for (size_t i = 0; i < v->n_citations; i++) {
		const cairn_citation *c = &v->citations[i];
		cairn_search_params sp = cairn_search_default_params();
		sp.with_text = 1;
		sp.k = 50;
		char filter[128];
		snprintf(filter, sizeof filter, "doc=\"%s\"", c->doc_id);
		sp.filter = filter;
		cairn_results *r = NULL;
		assert_int_equal(cairn_search(kb, c->quote, &sp, &r), CAIRN_OK);
		bool seen = false;
		for (size_t k = 0; k < cairn_results_count(r); k++) {
			const cairn_hit *h = cairn_results_get(r, k);
			if (h->chunk_id != c->chunk_id)
				continue;
			seen = true;
			size_t ql = strlen(c->quote);
			assert_true(c->quote_offset >= 0 && (size_t)c->quote_offset + ql <= h->text_len);
			assert_memory_equal(h->text + c->quote_offset, c->quote, ql);
			assert_int_equal(c->start, h->byte_start);
			assert_int_equal(c->end, h->byte_end);
		}
		assert_true(seen);
		cairn_results_free(r);
	}
}

static void ask_expect(cairn_kb *kb, const char *q, const char *want, const char *doc)
{
	cairn_answer *a = NULL;
	assert_int_equal(cairn_ask(kb, q, NULL, &a), CAIRN_OK);
	const cairn_answer_view *v = cairn_answer_get(a);
	if (v->abstained || strcmp(v->answer, want) != 0)
		fail_msg("\"%s\": answered \"%s\" (abstained %d, confidence %.2f), expected \"%s\"", q, v->answer,
		         v->abstained, v->confidence, want);
	assert_int_equal(v->n_sentences, 1);
	assert_int_equal(v->n_citations, 1);
	assert_string_equal(v->citations[0].doc_id, doc);
	assert_non_null(strstr(v->citations[0].quote, want));
	assert_true(v->sentences[0].supported);
	assert_float_equal(v->support_rate, 1.0, 0);
	assert_float_equal(v->citation_precision, 1.0, 0);
	assert_true(v->confidence > 0 && v->confidence <= 1);
	check_citations(kb, v);
	cairn_answer_free(a);
}

static void test_ask_short_answers(void **state)
{
	(void)state;
	char dir[256];
	cairn_kb *kb = make_kb(dir, sizeof dir, true);
	ask_expect(kb, "How many nucleotides does the BCoV genome contain?", "30,847 nucleotides", "bcov");
	ask_expect(kb, "When was the BCoV sample collected?", "2014", "bcov");
	ask_expect(kb, "Where was the BCoV sample collected?", "Normandy", "bcov");
	ask_expect(kb, "How long does parental leave last?", "16 weeks", "leave");
	/* a sentence answer, ordered and cited */
	cairn_answer *a = NULL;
	assert_int_equal(cairn_ask(kb, "Why do stars fuse hydrogen", NULL, &a), CAIRN_OK);
	const cairn_answer_view *v = cairn_answer_get(a);
	assert_false(v->abstained);
	assert_string_equal(v->answer_type, "sentence");
	assert_true(v->n_sentences >= 1);
	assert_string_equal(v->citations[0].doc_id, "stars");
	assert_string_equal(v->sentences[0].text, "Stars fuse hydrogen into helium in their cores.");
	check_citations(kb, v);
	cairn_answer_free(a);
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

static void test_ask_abstains(void **state)
{
	(void)state;
	char dir[256];
	cairn_kb *kb = make_kb(dir, sizeof dir, false); /* only the astronomy document */
	const char *qs[] = {
		"How many nucleotides does the BCoV genome contain?",
		"How long does parental leave last?",
		"What is the boiling point of mercury?",
		"how what why",  /* no searchable words at all */
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(qs); i++) {
		cairn_answer *a = NULL;
		assert_int_equal(cairn_ask(kb, qs[i], NULL, &a), CAIRN_OK);
		const cairn_answer_view *v = cairn_answer_get(a);
		if (!v->abstained)
			fail_msg("\"%s\" answered \"%s\" (confidence %.2f) from a KB without the answer", qs[i], v->answer,
			         v->confidence);
		assert_int_equal(strncmp(v->answer, "The documents do not say", 24), 0);
		assert_int_equal(v->n_sentences, 0);
		assert_true(v->confidence < cairn_ask_default_params().min_confidence);
		char *j = cairn_answer_to_json(a, 1);
		json_error_t je;
		json_t *o = json_loads(j, 0, &je);
		assert_non_null(o);
		assert_true(json_is_true(json_object_get(o, "abstained")));
		assert_int_equal(json_array_size(json_object_get(o, "sentences")), 0);
		assert_true(json_is_string(json_object_get(json_object_get(o, "explain"), "abstain_reason")));
		json_decref(o);
		cairn_free(j);
		cairn_answer_free(a);
	}
	/* the same questions against the full KB are answered */
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
	kb = make_kb(dir, sizeof dir, true);
	for (size_t i = 0; i < 2; i++) {
		cairn_answer *a = NULL;
		assert_int_equal(cairn_ask(kb, qs[i], NULL, &a), CAIRN_OK);
		assert_false(cairn_answer_get(a)->abstained);
		cairn_answer_free(a);
	}
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

static void test_ask_json_schema(void **state)
{
	(void)state;
	char dir[256];
	cairn_kb *kb = make_kb(dir, sizeof dir, true);
	cairn_answer *a = NULL;
	cairn_ask_params p = cairn_ask_default_params();
	p.min_confidence = 0;
	assert_int_equal(cairn_ask(kb, "What is parental leave paid at?", &p, &a), CAIRN_OK);
	for (int explain = 0; explain < 2; explain++) {
		char *j = cairn_answer_to_json(a, explain);
		assert_non_null(j);
		json_error_t je;
		json_t *o = json_loads(j, 0, &je);
		if (!o)
			fail_msg("not JSON (%s): %s", je.text, j);
		assert_true(json_is_string(json_object_get(o, "question")));
		assert_string_equal(json_string_value(json_object_get(o, "mode")), "extractive");
		assert_true(json_is_string(json_object_get(o, "answer")));
		assert_true(json_is_string(json_object_get(o, "answer_type")));
		assert_true(json_is_boolean(json_object_get(o, "abstained")));
		double conf = json_number_value(json_object_get(o, "confidence"));
		assert_true(json_is_number(json_object_get(o, "confidence")) && conf >= 0 && conf <= 1);
		json_t *cites = json_object_get(o, "citations"), *sents = json_object_get(o, "sentences");
		assert_true(json_is_array(cites) && json_is_array(sents) && json_array_size(sents) >= 1);
		size_t i;
		json_t *c;
		json_array_foreach(cites, i, c) {
			assert_int_equal(json_integer_value(json_object_get(c, "id")), (json_int_t)i + 1);
			const char *keys[] = {"doc_id", "title", "source", "heading", "quote"};
			for (size_t k = 0; k < 5; k++)
				assert_true(json_is_string(json_object_get(c, keys[k])));
			const char *ikeys[] = {"chunk_id", "start", "end", "quote_offset", "rank"};
			for (size_t k = 0; k < 5; k++)
				assert_true(json_is_integer(json_object_get(c, ikeys[k])));
			assert_true(json_integer_value(json_object_get(c, "start")) <= json_integer_value(json_object_get(c, "end")));
		}
		json_t *s;
		json_array_foreach(sents, i, s) {
			assert_true(json_is_string(json_object_get(s, "text")));
			assert_true(json_is_boolean(json_object_get(s, "supported")));
			json_t *ids = json_object_get(s, "citations");
			assert_true(json_is_array(ids) && json_array_size(ids) >= 1);
			size_t k;
			json_t *id;
			json_array_foreach(ids, k, id) {
				json_int_t n = json_integer_value(id);
				assert_true(n >= 1 && (size_t)n <= json_array_size(cites)); /* ids resolve */
			}
		}
		json_t *ver = json_object_get(o, "verification");
		assert_true(json_is_number(json_object_get(ver, "support_rate")));
		assert_true(json_is_number(json_object_get(ver, "citation_precision")));
		json_t *ex = json_object_get(o, "explain");
		if (!explain) {
			assert_null(ex);
		} else {
			assert_true(json_is_array(json_object_get(ex, "retrieved")));
			assert_true(json_array_size(json_object_get(ex, "retrieved")) >= 1);
			assert_true(json_is_array(json_object_get(ex, "candidates")));
			assert_true(json_is_array(json_object_get(ex, "terms")));
			assert_true(json_is_array(json_object_get(ex, "verifier")));
			assert_int_equal(json_array_size(json_object_get(ex, "verifier")), json_array_size(sents));
			assert_true(json_is_string(json_object_get(ex, "raw_answer")));
		}
		json_decref(o);
		cairn_free(j);
	}
	check_citations(kb, cairn_answer_get(a));
	cairn_answer_free(a);
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

/* Citations of an ingested file: the byte range lies inside the file and holds the quote. */
static void test_ask_file_offsets(void **state)
{
	(void)state;
	char dir[256], path[300], kbdir[300];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "askfile"), 0);
	snprintf(path, sizeof path, "%s/policy.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Travel policy\n\nAll travel must be approved by a manager before booking.\n\n"
	      "Economy class is used for flights shorter than 6 hours. Business class may be booked for flights of "
	      "6 hours or more.\n\nHotel costs are reimbursed up to 180 euros per night in capital cities.\n", f);
	fclose(f);
	snprintf(kbdir, sizeof kbdir, "%s/kb", dir);
	cairn_kb *kb = NULL;
	char err[512];
	assert_int_equal(cairn_kb_open(kbdir, NULL, &kb, err, sizeof err), CAIRN_OK);
	const char *paths[] = {path};
	cairn_ingest_stats st;
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, NULL, &st), CAIRN_OK);
	cairn_answer *a = NULL;
	assert_int_equal(cairn_ask(kb, "How much are hotel costs reimbursed per night?", NULL, &a), CAIRN_OK);
	const cairn_answer_view *v = cairn_answer_get(a);
	assert_false(v->abstained);
	assert_string_equal(v->answer, "180 euros per night");
	char *data = NULL;
	size_t len = 0;
	cn_err e;
	assert_int_equal(cn_file_read(path, 1 << 20, &data, &len, &e), CAIRN_OK);
	for (size_t i = 0; i < v->n_citations; i++) {
		const cairn_citation *c = &v->citations[i];
		assert_string_equal(c->source, path);
		assert_true(c->start >= 0 && c->start < c->end && (size_t)c->end <= len);
		assert_non_null(memmem(data + c->start, (size_t)(c->end - c->start), c->quote, strlen(c->quote)));
	}
	cn_free(data);
	cairn_answer_free(a);
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

typedef struct thread_arg {
	cairn_kb *kb;
	int ok;
} thread_arg;

static void *ask_thread(void *p)
{
	thread_arg *t = p;
	t->ok = 1;
	for (int i = 0; i < 25; i++) {
		cairn_answer *a = NULL;
		const char *q = i % 2 ? "How long does parental leave last?" : "How many nucleotides does the BCoV genome contain?";
		if (cairn_ask(t->kb, q, NULL, &a) != CAIRN_OK) {
			t->ok = 0;
			break;
		}
		const char *want = i % 2 ? "16 weeks" : "30,847 nucleotides";
		if (strcmp(cairn_answer_get(a)->answer, want) != 0)
			t->ok = 0;
		cairn_answer_free(a);
	}
	return NULL;
}

static void test_ask_threads(void **state)
{
	(void)state;
	char dir[256];
	cairn_kb *kb = make_kb(dir, sizeof dir, true);
	pthread_t th[3];
	thread_arg args[3];
	for (int i = 0; i < 3; i++) {
		args[i] = (thread_arg){kb, 0};
		assert_int_equal(pthread_create(&th[i], NULL, ask_thread, &args[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_true(args[i].ok);
	}
	cairn_kb_close(kb);
	cn_test_rmtree(dir);
}

/* ---- cairn_eval_answers on tiny data sets ---- */

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void test_eval_squad_tiny(void **state)
{
	(void)state;
	char dir[256], path[300];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "evsq"), 0);
	snprintf(path, sizeof path, "%s/tiny.json", dir);
	json_t *data = json_array();
	for (size_t i = 0; i < CN_ARRAY_LEN(docs); i++) {
		json_t *qas = json_array();
		if (i == 0)
			json_array_append_new(qas, json_pack("{s:s,s:s,s:[{s:s,s:i}]}", "id", "q1", "question",
			                                     "How many nucleotides does the BCoV genome contain?", "answers",
			                                     "text", "30,847 nucleotides", "answer_start", 0));
		if (i == 1)
			json_array_append_new(qas, json_pack("{s:s,s:s,s:[{s:s,s:i},{s:s,s:i}]}", "id", "q2", "question",
			                                     "How long does parental leave last?", "answers", "text",
			                                     "16 weeks and is paid", "answer_start", 0, "text", "the 16 weeks",
			                                     "answer_start", 0));
		json_array_append_new(data, json_pack("{s:[{s:s,s:s,s:o}]}", "paragraphs", "context", docs[i][2],
		                                      "document_id", docs[i][0], "qas", qas));
	}
	json_t *root = json_pack("{s:o}", "data", data);
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
	cairn_answer_eval_params p = cairn_answer_eval_default_params();
	cairn_answer_eval_report r;
	char err[512];
	if (cairn_eval_answers(dir, &p, &r, err, sizeof err) != CAIRN_OK)
		fail_msg("%s", err);
	assert_string_equal(r.format, "squad");
	assert_int_equal(r.documents, 3);
	assert_int_equal(r.questions, 2);
	/* q1 "30,847 nucleotides": EM 1, F1 1; q2 "16 weeks" vs "the 16 weeks": EM 1 (articles go) */
	assert_float_equal(r.exact_match, 1.0, 1e-12);
	assert_float_equal(r.f1, 1.0, 1e-12);
	assert_float_equal(r.gold_in_citations, 1.0, 1e-12);
	assert_float_equal(r.gold_in_context, 1.0, 1e-12);
	assert_float_equal(r.abstain_answerable, 0.0, 0);
	assert_int_equal(r.unanswerable_questions, 2);
	assert_float_equal(r.abstain_unanswerable, 1.0, 1e-12); /* gold removed: nothing left to say */
	int64_t n = 0;
	for (int b = 0; b < CAIRN_RELIABILITY_BINS; b++)
		n += r.rel_n[b];
	assert_int_equal(n, 4);
	/* a bad file is a clear error */
	write_file(path, "{\"data\": 3}");
	assert_int_equal(cairn_eval_answers(path, &p, &r, err, sizeof err), CAIRN_EFORMAT);
	assert_non_null(strstr(err, "tiny.json"));
	cn_test_rmtree(dir);
}

static void test_eval_scifact_tiny(void **state)
{
	(void)state;
	char dir[256], path[300];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "evsf"), 0);
	snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
	write_file(path,
	           "{\"doc_id\": 11, \"title\": \"ALDH1 in breast cancer\", \"abstract\": [\"We studied tumours.\", "
	           "\"ALDH1 expression is associated with poor prognosis in breast cancer.\", \"Samples came from 300 "
	           "women.\"], \"structured\": false}\n"
	           "{\"doc_id\": 12, \"title\": \"Stellar evolution\", \"abstract\": [\"Stars fuse hydrogen into helium "
	           "in their cores.\", \"A red giant is a late phase.\"], \"structured\": false}\n");
	snprintf(path, sizeof path, "%s/claims_dev.jsonl", dir);
	/* claim 1: gold rationale {1} of doc 11; claim 2: gold rationale {0, 1} of doc 12 (needs both
	 * for the official measure); claim 3: NEI */
	write_file(path,
	           "{\"id\": 1, \"claim\": \"ALDH1 expression is associated with poor breast cancer prognosis.\", "
	           "\"evidence\": {\"11\": [{\"sentences\": [1], \"label\": \"SUPPORT\"}]}, \"cited_doc_ids\": [11]}\n"
	           "{\"id\": 2, \"claim\": \"Stars fuse hydrogen into helium.\", \"evidence\": {\"12\": [{\"sentences\": "
	           "[0, 1], \"label\": \"SUPPORT\"}]}, \"cited_doc_ids\": [12]}\n"
	           "{\"id\": 3, \"claim\": \"A red giant phase explains dark matter halos.\", \"evidence\": {}, "
	           "\"cited_doc_ids\": [12]}\n");
	cairn_answer_eval_params p = cairn_answer_eval_default_params();
	p.ask.min_confidence = 0; /* every claim answered: the counts below are exact */
	cairn_answer_eval_report r;
	char err[512];
	if (cairn_eval_answers(dir, &p, &r, err, sizeof err) != CAIRN_OK)
		fail_msg("%s", err);
	assert_string_equal(r.format, "scifact");
	assert_int_equal(r.claims_with_evidence, 2);
	assert_int_equal(r.claims_nei, 1);
	/* Predictions (one sentence per claim, the best match): claim 1 → doc 11 s1 (correct
	 * both ways); claim 2 → doc 12 s0 (in the gold set, but s1 is missing: lenient only);
	 * claim 3 (NEI) → one sentence, wrong. retrieved 3, relevant 1 + 2 = 3.
	 * lenient: correct 2 → P 2/3, R 2/3; official: correct 1 → P 1/3, R 1/3. */
	assert_float_equal(r.rationale_p, 2.0 / 3, 1e-12);
	assert_float_equal(r.rationale_r, 2.0 / 3, 1e-12);
	assert_float_equal(r.rationale_p_full, 1.0 / 3, 1e-12);
	assert_float_equal(r.rationale_r_full, 1.0 / 3, 1e-12);
	assert_float_equal(r.nei_abstention, 0.0, 0);
	cn_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_squad_matches_official),
		cmocka_unit_test(test_squad_hand_cases),
		cmocka_unit_test(test_question_types),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_verifier),
		cmocka_unit_test(test_ask_short_answers),
		cmocka_unit_test(test_ask_abstains),
		cmocka_unit_test(test_ask_json_schema),
		cmocka_unit_test(test_ask_file_offsets),
		cmocka_unit_test(test_ask_threads),
		cmocka_unit_test(test_eval_squad_tiny),
		cmocka_unit_test(test_eval_scifact_tiny),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
