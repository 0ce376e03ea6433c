/* lex: the analyzer against expectations written from the rules it implements — Lucene's
 * StandardTokenizer (UAX#29 word breaks), EnglishPossessiveFilter, LowerCaseFilter, the
 * 33-word English stop set and the Porter stemmer (outputs worked by hand from Porter 1980) —
 * plus CJK bigrams, Unicode folding, signatures, the stem cache and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lex/lex.h"

static cn_analyzer *make(const char *stem, const char *stop, bool poss, bool cjk)
{
	cn_analyzer_params p = {stem, stop, poss, cjk};
	cn_analyzer *a = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_analyzer_new(&p, &a, &err) != CAIRN_OK)
		fail_msg("cn_analyzer_new: %s", err.msg);
	return a;
}

/* Terms of text joined by single spaces; also checks the structural invariants. */
static char *terms_of(cn_analyzer *a, const char *text, size_t len)
{
	cn_tokens t;
	cn_tokens_init(&t);
	assert_int_equal(cn_analyze(a, text, len, 0, &t), CAIRN_OK);
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "");
	for (size_t i = 0; i < t.n; i++) {
		const cn_token *k = &t.v[i];
		assert_true(k->term_len > 0 && k->term_len <= 255);
		assert_int_equal(strlen(cn_token_term(&t, i)), k->term_len);
		assert_true(k->start < k->end && k->end <= len);
		assert_true(k->pos < t.n_words);
		if (i) {
			assert_true(k->pos > t.v[i - 1].pos);
			assert_true(k->start >= t.v[i - 1].start);
		}
		if (i)
			cn_buf_putc(&b, ' ');
		cn_buf_puts(&b, cn_token_term(&t, i));
	}
	cn_tokens_free(&t);
	return cn_buf_take(&b);
}

static void expect_terms(cn_analyzer *a, const char *text, const char *want)
{
	char *got = terms_of(a, text, strlen(text));
	if (strcmp(got, want) != 0)
		fail_msg("analyze(\"%s\")\n  got  [%s]\n  want [%s]", text, got, want);
	cn_free(got);
}

static void test_defaults_and_signature(void **state)
{
	(void)state;
	cn_analyzer_params d = cn_analyzer_default_params();
	assert_string_equal(d.stemmer, "porter");
	assert_string_equal(d.stopwords, "lucene");
	assert_true(d.possessive && d.cjk_bigrams);
	cn_analyzer *a = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_analyzer_new(&d, &a, &err), CAIRN_OK);
	assert_string_equal(cn_analyzer_signature(a), "v1;stem=porter;stop=lucene;poss=1;cjk=1");
	cn_analyzer_free(a);

	const char *sigs[] = {"v1;stem=porter;stop=lucene;poss=1;cjk=1", "v1;stem=none;stop=none;poss=0;cjk=0",
	                      "v1;stem=german;stop=english;poss=1;cjk=0"};
	for (size_t i = 0; i < CN_ARRAY_LEN(sigs); i++) {
		cn_err_clear(&err);
		assert_int_equal(cn_analyzer_from_signature(sigs[i], &a, &err), CAIRN_OK);
		assert_string_equal(cn_analyzer_signature(a), sigs[i]);
		cn_analyzer_free(a);
	}
	/* Key order does not matter; the canonical form comes back. */
	assert_int_equal(cn_analyzer_from_signature("v1;cjk=1;poss=0;stop=none;stem=english", &a, &err), CAIRN_OK);
	assert_string_equal(cn_analyzer_signature(a), "v1;stem=english;stop=none;poss=0;cjk=1");
	cn_analyzer_free(a);

	const char *bad[] = {
		"", "v2;stem=porter;stop=lucene;poss=1;cjk=1", "stem=porter;stop=lucene;poss=1;cjk=1",
		"v1;stem=porter;stop=lucene;poss=1",                 /* incomplete */
		"v1;stem=porter;stop=lucene;poss=1;cjk=1;shape=x",   /* unknown key */
		"v1;stem=porter;stop=lucene;poss=2;cjk=1",           /* bad value */
		"v1;stem=porter;stem=porter;stop=lucene;poss=1;cjk=1", /* repeated */
		"v1;stem=klingon;stop=lucene;poss=1;cjk=1", "v1;stem=porter;stop=klingon;poss=1;cjk=1",
		"v1;stem;stop=lucene;poss=1;cjk=1",
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_err_clear(&err);
		a = (cn_analyzer *)1;
		assert_int_equal(cn_analyzer_from_signature(bad[i], &a, &err), CAIRN_EUNSUPPORTED);
		assert_null(a);
		assert_true(strlen(err.msg) > 0);
	}
	assert_int_equal(cn_analyzer_from_signature(NULL, &a, &err), CAIRN_EUNSUPPORTED);
	cn_err_clear(&err);
	assert_int_equal(cn_analyzer_from_signature("v9;stem=porter", &a, &err), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "v9"));
	cn_analyzer_params p = {"klingon", "lucene", true, true};
	cn_err_clear(&err);
	assert_int_equal(cn_analyzer_new(&p, &a, &err), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "klingon"));
}

/* UAX#29 as Lucene's StandardTokenizer applies it; no stemming so the tokenizer shows. */
static void test_tokenizer_rules(void **state)
{
	(void)state;
	cn_analyzer *a = make("none", "lucene", true, true);
	/* "A.'s": the dot is not followed by a letter, so U.S.A ends there and "s" is a word. */
	expect_terms(a, "The U.S.A.'s GDP grew 3.5% in 2019-2020.", "u.s.a s gdp grew 3.5 2019 2020");
	expect_terms(a, "don't o'clock rock’n’roll", "don't o'clock rock’n’roll");
	expect_terms(a, "1,000 3.14 1.2.3 10,5;6", "1,000 3.14 1.2.3 10,5;6");
	expect_terms(a, "abc123 covid19 a1b2 19th", "abc123 covid19 a1b2 19th");
	expect_terms(a, "x.1 1.x x,y 1:2 x:y", "x 1 1 x x y 1 2 x:y");
	expect_terms(a, "x1.5 foo_bar __init__ ___ _ x_1", "x1.5 foo_bar __init__ x_1");
	expect_terms(a, "5-HT end. hello... world!!! ??? (paren) [br] {c} \"q\"", "5 ht end hello world paren br c q");
	expect_terms(a, "e-mail user@example.com http://x.org/a?b=c", "e mail user example.com http x.org b c");
	expect_terms(a, "John's JOHN'S John’s Johns' boss's", "john john john johns boss");
	expect_terms(a, "I \xE2\x9D\xA4\xEF\xB8\x8F NY \xF0\x9F\x98\x80 ok \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "i ny ok");
	expect_terms(a, "tab\tnew\nline\r\nnbsp\xC2\xA0sp", "tab new line nbsp sp");
	expect_terms(a, "", "");
	expect_terms(a, " \t.,;:!?-- ", "");
	/* Every Lucene stopword goes; the list is exactly these 33. */
	expect_terms(a, "a an and are as at be but by for if in into is it no not of on or such that the "
	                "their then there these they this to was will with",
	             "");
	expect_terms(a, "I you we he she them those because", "i you we he she them those because");
	cn_analyzer_free(a);
}

static void test_unicode_folding(void **state)
{
	(void)state;
	cn_analyzer *a = make("none", "lucene", true, true);
	expect_terms(a, "Café CAFÉ", "café café");
	expect_terms(a, "cafe\xCC\x81", "café");                 /* combining acute attaches (WB4), NFC */
	expect_terms(a, "\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3 \xEF\xBC\x91\xEF\xBC\x92", "abc 12"); /* ＡＢＣ １２ */
	expect_terms(a, "\xEF\xAC\x81le", "file");               /* ﬁ ligature */
	expect_terms(a, "Straße ΣΊΣΥΦΟΣ", "strasse σίσυφοσ");    /* full case folding */
	expect_terms(a, "co\xC2\xADoperate", "cooperate");       /* soft hyphen joins and is ignored */
	expect_terms(a, "naïve Ünïcödé Москва", "naïve ünïcödé москва");
	expect_terms(a, "ＴＨＥ end", "end");                     /* folded before the stop filter */
	/* Invalid bytes separate words and never fail. */
	expect_terms(a, "ab\xFF" "cd\xC3 ef\xED\xA0\x80gh\xC0\xAFij", "ab cd ef gh ij");
	expect_terms(a, "\x80\x80\x80", "");
	cn_analyzer_free(a);
}

static void test_spans_and_positions(void **state)
{
	(void)state;
	cn_analyzer *a = make("porter", "lucene", true, true);
	const char *text = "The cat's toys, in the house.";
	cn_tokens t;
	cn_tokens_init(&t);
	assert_int_equal(cn_analyze(a, text, strlen(text), 0, &t), CAIRN_OK);
	/* words: The(0) cat's(1) toys(2) in(3) the(4) house(5) */
	assert_int_equal(t.n_words, 6);
	assert_int_equal(t.n, 3);
	const char *want[] = {"cat", "toi", "hous"};
	const uint32_t pos[] = {1, 2, 5}, st[] = {4, 10, 23}, en[] = {9, 14, 28};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(cn_token_term(&t, i), want[i]);
		assert_int_equal(t.v[i].pos, pos[i]);
		assert_int_equal(t.v[i].start, st[i]);
		assert_int_equal(t.v[i].end, en[i]);
	}
	/* A second field appends: offsets shifted by base_offset, positions continue. */
	assert_int_equal(cn_analyze(a, "Big dogs", 8, 100, &t), CAIRN_OK);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.n_words, 8);
	assert_string_equal(cn_token_term(&t, 3), "big");
	assert_int_equal(t.v[3].pos, 6);
	assert_int_equal(t.v[3].start, 100);
	assert_int_equal(t.v[3].end, 103);
	assert_string_equal(cn_token_term(&t, 4), "dog");
	assert_int_equal(t.v[4].pos, 7);
	assert_int_equal(t.v[4].start, 104);
	assert_int_equal(t.v[4].end, 108);
	/* Offsets that would overflow 32 bits are refused and leave the list alone. */
	assert_int_equal(cn_analyze(a, "x y", 3, UINT32_MAX - 1, &t), CAIRN_ETOOBIG);
	assert_int_equal(t.n, 5);
	cn_tokens_reset(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.n_words, 0);
	/* Multi-byte spans are byte offsets. */
	assert_int_equal(cn_analyze(a, "\xC3\xA9t\xC3\xA9 x", 7, 0, &t), CAIRN_OK);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.v[0].start, 0);
	assert_int_equal(t.v[0].end, 5);
	assert_int_equal(t.v[1].start, 6);
	assert_int_equal(t.v[1].end, 7);
	cn_tokens_free(&t);
	cn_analyzer_free(a);
}

static void test_long_tokens(void **state)
{
	(void)state;
	cn_analyzer *a = make("none", "none", true, true);
	char buf[1300];
	/* 600 ASCII letters: pieces of 255, 255, 90, each a word of its own. */
	memset(buf, 'q', 600);
	cn_tokens t;
	cn_tokens_init(&t);
	assert_int_equal(cn_analyze(a, buf, 600, 0, &t), CAIRN_OK);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.n_words, 3);
	assert_int_equal(t.v[0].end - t.v[0].start, 255);
	assert_int_equal(t.v[1].start, 255);
	assert_int_equal(t.v[1].end, 510);
	assert_int_equal(t.v[2].end, 600);
	assert_int_equal(t.v[2].term_len, 90);
	/* 600 two-byte letters: pieces end on character boundaries (254 bytes). */
	cn_tokens_reset(&t);
	for (int i = 0; i < 600; i++)
		memcpy(buf + 2 * i, "\xC3\xA9", 2);
	assert_int_equal(cn_analyze(a, buf, 1200, 0, &t), CAIRN_OK);
	size_t covered = 0;
	for (size_t i = 0; i < t.n; i++) {
		assert_true(t.v[i].term_len <= 255);
		assert_int_equal(t.v[i].start, covered);
		assert_int_equal((t.v[i].end - t.v[i].start) % 2, 0);
		covered = t.v[i].end;
	}
	assert_int_equal(covered, 1200);
	assert_int_equal(t.v[0].end, 254);
	/* A letter followed by 300 combining marks: the marks beyond the limit are dropped. */
	cn_tokens_reset(&t);
	buf[0] = 'x';
	for (int i = 0; i < 300; i++)
		memcpy(buf + 1 + 2 * i, "\xCC\x81", 2);
	memcpy(buf + 601, " y", 2);
	assert_int_equal(cn_analyze(a, buf, 603, 0, &t), CAIRN_OK);
	assert_true(t.n >= 2);
	assert_true(t.v[0].end <= 255);
	assert_string_equal(cn_token_term(&t, t.n - 1), "y");
	cn_tokens_free(&t);
	cn_analyzer_free(a);
	/* Porter on a 255-byte word stays within the limit too. */
	a = make("porter", "lucene", true, true);
	char *s = terms_of(a, buf, 600 > 0 ? 255 : 0);
	assert_true(strlen(s) <= 255);
	cn_free(s);
	cn_analyzer_free(a);
}

static void test_cjk(void **state)
{
	(void)state;
	cn_analyzer *a = make("porter", "lucene", true, true);
	expect_terms(a, "東京都に住む", "東京 京都 都に に住 住む");
	expect_terms(a, "東", "東");
	expect_terms(a, "東 京。", "東 京");
	expect_terms(a, "안녕하세요 세계", "안녕 녕하 하세 세요 세계");
	expect_terms(a, "abc東京def 123日本", "abc 東京 def 123 日本");
	expect_terms(a, "カタカナ", "カタ タカ カナ");
	expect_terms(a, "\xEF\xBD\xB6\xEF\xBE\x80", "カタ");     /* half-width ｶﾀ → NFKC full-width */
	expect_terms(a, "中文，English！", "中文 english");
	/* spans and positions of bigrams */
	cn_tokens t;
	cn_tokens_init(&t);
	const char *s = "x 東京都";
	assert_int_equal(cn_analyze(a, s, strlen(s), 0, &t), CAIRN_OK);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.v[1].pos, 1);
	assert_int_equal(t.v[1].start, 2);
	assert_int_equal(t.v[1].end, 8);
	assert_int_equal(t.v[2].pos, 2);
	assert_int_equal(t.v[2].start, 5);
	assert_int_equal(t.v[2].end, 11);
	assert_int_equal(cn_count_words(s, strlen(s)), 3);
	cn_tokens_reset(&t);
	/* Thai: a run without spaces, bigrammed by character (marks stay on their base) */
	s = "ภาษาไทย";
	assert_int_equal(cn_analyze(a, s, strlen(s), 0, &t), CAIRN_OK);
	assert_true(t.n >= 3);
	assert_int_equal(t.v[0].start, 0);
	assert_int_equal(t.v[t.n - 1].end, strlen(s));
	cn_tokens_free(&t);
	cn_analyzer_free(a);

	a = make("none", "lucene", true, false); /* unigrams when bigrams are off */
	expect_terms(a, "東京都", "東 京 都");
	cn_analyzer_free(a);
}

/* Classic Porter (1980) outputs, worked through the published rules step by step, plus the
 * two rules where Lucene (Porter's reference C code) departs from the paper. */
static void test_porter_table(void **state)
{
	(void)state;
	static const char *const pairs[][2] = {
		{"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"},
		{"cats", "cat"}, {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"},
		{"bled", "bled"}, {"motoring", "motor"}, {"sing", "sing"}, {"conflated", "conflat"},
		{"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"}, {"tanned", "tan"},
		{"falling", "fall"}, {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
		{"filing", "file"}, {"happy", "happi"}, {"sky", "sky"}, {"relational", "relat"},
		{"conditional", "condit"}, {"rational", "ration"}, {"valenci", "valenc"},
		{"hesitanci", "hesit"}, {"digitizer", "digit"}, {"conformabli", "conform"},
		{"radicalli", "radic"}, {"differentli", "differ"}, {"vileli", "vile"},
		{"analogousli", "analog"}, {"vietnamization", "vietnam"}, {"predication", "predic"},
		{"operator", "oper"}, {"feudalism", "feudal"}, {"decisiveness", "decis"},
		{"hopefulness", "hope"}, {"callousness", "callous"}, {"formaliti", "formal"},
		{"sensitiviti", "sensit"}, {"sensibiliti", "sensibl"}, {"triplicate", "triplic"},
		{"formative", "form"}, {"formalize", "formal"}, {"electriciti", "electr"},
		{"electrical", "electr"}, {"hopeful", "hope"}, {"goodness", "good"}, {"revival", "reviv"},
		{"allowance", "allow"}, {"inference", "infer"}, {"airliner", "airlin"},
		{"gyroscopic", "gyroscop"}, {"adjustable", "adjust"}, {"defensible", "defens"},
		{"irritant", "irrit"}, {"replacement", "replac"}, {"adjustment", "adjust"},
		{"dependent", "depend"}, {"adoption", "adopt"}, {"communism", "commun"},
		{"activate", "activ"}, {"angulariti", "angular"}, {"homologous", "homolog"},
		{"effective", "effect"}, {"bowdlerize", "bowdler"}, {"probate", "probat"}, {"rate", "rate"},
		{"cease", "ceas"}, {"controll", "control"}, {"roll", "roll"},
		{"generalization", "gener"}, {"oscillators", "oscil"}, {"databases", "databas"},
		{"running", "run"},
		/* Lucene's PorterStemmer leaves words of <= 2 characters alone */
		{"as", "as"}, {"us", "us"}, {"s", "s"},
		/* Porter's reference implementation, which Lucene ports, departs from the paper in
		 * step 2 (bli → ble, logi → log); worked by hand: ecologi: m(eco) = 1 > 0 → ecolog;
		 * biologi: m(bio) = 0 → unchanged; possibli → possible (m(possi) = 1), step 5
		 * drops the e (m = 2) → possibl; assembli → assemble → assembl. Snowball's
		 * "porter" gives ecologi / possibli / assembli for these. */
		{"ecology", "ecolog"}, {"biology", "biologi"}, {"possibly", "possibl"},
		{"assembly", "assembl"},
	};
	cn_analyzer *a = make("porter", "none", true, true);
	for (size_t i = 0; i < CN_ARRAY_LEN(pairs); i++)
		expect_terms(a, pairs[i][0], pairs[i][1]);
	expect_terms(a, "relational databases running", "relat databas run");
	cn_analyzer_free(a);
	a = make("porter", "lucene", true, true);
	expect_terms(a, "The U.S.A.'s GDP grew 3.5% in 2019-2020.", "u.s.a s gdp grew 3.5 2019 2020");
	expect_terms(a, "Generalizations of the relational databases", "gener relat databas");
	cn_analyzer_free(a);
}

static void test_options(void **state)
{
	(void)state;
	cn_analyzer *a = make("none", "none", false, true);
	expect_terms(a, "The cat's", "the cat's");
	cn_analyzer_free(a);
	a = make("english", "english", true, true);
	expect_terms(a, "because they were running generously", "run generous");
	cn_analyzer_free(a);
	a = make("german", "none", true, true);
	expect_terms(a, "Häuser", "haus");
	cn_analyzer_free(a);
}

static void test_cache_consistency(void **state)
{
	(void)state;
	cn_analyzer *a = make("porter", "lucene", true, true);
	const char *text = "Running runners ran; the RUNNING Runner's run. Café café CAFÉ 東京 東京.";
	char *first = terms_of(a, text, strlen(text));
	char *second = terms_of(a, text, strlen(text));
	assert_string_equal(first, second);
	assert_string_equal(first, "run runner ran run runner run café café café 東京 東京");
	/* A fresh analyzer (cold cache) agrees with the warm one. */
	cn_analyzer *b = make("porter", "lucene", true, true);
	char *third = terms_of(b, text, strlen(text));
	assert_string_equal(first, third);
	cn_free(first);
	cn_free(second);
	cn_free(third);
	cn_analyzer_free(b);
	cn_analyzer_free(a);
}

static void test_count_words(void **state)
{
	(void)state;
	const char *cases[] = {"", "one", "The U.S.A.'s GDP grew 3.5% in 2019-2020.", "东京都 x", "a_b c-d e.f",
	                       "\xFF\xFE", "don't stop"};
	const size_t want[] = {0, 1, 9, 3, 4, 0, 2};
	cn_analyzer *a = make("none", "none", false, true);
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		assert_int_equal(cn_count_words(cases[i], strlen(cases[i])), want[i]);
		cn_tokens t;
		cn_tokens_init(&t);
		assert_int_equal(cn_analyze(a, cases[i], strlen(cases[i]), 0, &t), CAIRN_OK);
		assert_int_equal(t.n_words, want[i]);
		cn_tokens_free(&t);
	}
	cn_analyzer_free(a);
}

/* Every allocation in analyzer creation and analysis fails in turn: the call reports
 * CAIRN_ENOMEM, leaves the token list as it was, and nothing leaks (ASan build). */
static void test_alloc_failures(void **state)
{
	(void)state;
	const char *text = "Mixed text: Café ＡＢＣ running runners 東京都に住む and 3.14 things, again and again.";
	cn_analyzer *ref = make("porter", "lucene", true, true);
	char *want = terms_of(ref, text, strlen(text));
	cn_analyzer_free(ref);
	bool saw_ok = false;
	for (long n = 1; n < 400 && !saw_ok; n++) {
		cn_analyzer *a = NULL;
		cn_err err;
		cn_err_clear(&err);
		cn_alloc_fail_after(n);
		cairn_status st = cn_analyzer_new(NULL, &a, &err);
		if (st != CAIRN_OK) {
			cn_alloc_fail_after(0);
			assert_int_equal(st, CAIRN_ENOMEM);
			assert_null(a);
			continue;
		}
		cn_tokens t;
		cn_tokens_init(&t);
		st = cn_analyze(a, text, strlen(text), 0, &t);
		cn_alloc_fail_after(0);
		if (st == CAIRN_OK) {
			saw_ok = true;
		} else {
			assert_int_equal(st, CAIRN_ENOMEM);
			assert_int_equal(t.n, 0);
			assert_int_equal(t.n_words, 0);
			assert_int_equal(t.terms.len, 0);
		}
		/* The analyzer (and its cache) is still usable and correct afterwards. */
		cn_tokens_free(&t);
		char *got = terms_of(a, text, strlen(text));
		assert_string_equal(got, want);
		cn_free(got);
		cn_analyzer_free(a);
	}
	assert_true(saw_ok);
	cn_free(want);
}

/* Invariants over real text: the first 200 SciFact abstracts. */
static void test_scifact_invariants(void **state)
{
	(void)state;
	const char *path = "../shared/data/scifact-beir/corpus.jsonl";
	char *data;
	size_t len;
	cn_err err;
	cn_err_clear(&err);
	if (!cn_path_exists(path) || cn_file_read(path, 64u << 20, &data, &len, &err) != CAIRN_OK) {
		skip();
		return;
	}
	static const char *const stop[] = {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for",
	                                   "if", "in", "into", "is", "it", "no", "not", "of", "on", "or",
	                                   "such", "that", "the", "their", "then", "there", "these", "they",
	                                   "this", "to", "was", "will", "with"};
	cn_analyzer *a = make("porter", "lucene", true, true);
	cn_tokens t;
	cn_tokens_init(&t);
	size_t docs = 0, total = 0;
	char *line = data;
	while (docs < 200 && line < data + len) {
		char *nl = memchr(line, '\n', (size_t)(data + len - line));
		size_t ll = nl ? (size_t)(nl - line) : (size_t)(data + len - line);
		/* crude: the "text" value runs from its opening quote to the last `", "metadata"` */
		char *k = memmem(line, ll, "\"text\": \"", 9);
		char *e = memmem(line, ll, "\", \"metadata\"", 13);
		if (k && e && e > k + 9) {
			const char *s = k + 9;
			size_t n = (size_t)(e - s);
			cn_tokens_reset(&t);
			assert_int_equal(cn_analyze(a, s, n, 0, &t), CAIRN_OK);
			assert_true(t.n > 0);
			assert_int_equal(cn_count_words(s, n), t.n_words);
			for (size_t i = 0; i < t.n; i++) {
				const cn_token *tk = &t.v[i];
				const char *term = cn_token_term(&t, i);
				assert_true(tk->term_len > 0 && tk->term_len <= 255);
				assert_true(tk->start < tk->end && tk->end <= n);
				if (i)
					assert_true(tk->start >= t.v[i - 1].end && tk->pos > t.v[i - 1].pos);
				/* No stopword survives (judged on the surface word: a stem may coincide
				 * with a stopword, "its" → "it", exactly as in Lucene). */
				char low[256];
				size_t sl = tk->end - tk->start;
				for (size_t c = 0; c < sl && sl < sizeof low; c++)
					low[c] = (char)((s[tk->start + c] >= 'A' && s[tk->start + c] <= 'Z') ? s[tk->start + c] + 32
					                                                                      : s[tk->start + c]);
				low[sl < sizeof low ? sl : 0] = '\0';
				for (size_t w = 0; w < CN_ARRAY_LEN(stop); w++)
					assert_false(strcmp(low, stop[w]) == 0);
				for (size_t c = 0; c < tk->term_len; c++)
					assert_false(term[c] >= 'A' && term[c] <= 'Z');
			}
			total += t.n;
			docs++;
		}
		line += ll + 1;
	}
	assert_int_equal(docs, 200);
	assert_true(total > 200 * 50);
	cn_tokens_free(&t);
	cn_analyzer_free(a);
	cn_free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_signature),
		cmocka_unit_test(test_tokenizer_rules),
		cmocka_unit_test(test_unicode_folding),
		cmocka_unit_test(test_spans_and_positions),
		cmocka_unit_test(test_long_tokens),
		cmocka_unit_test(test_cjk),
		cmocka_unit_test(test_porter_table),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_cache_consistency),
		cmocka_unit_test(test_count_words),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_scifact_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
