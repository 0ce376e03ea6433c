/*
 * fuzz_analyzer — retrieval analysis (src/lex) on arbitrary bytes with the default analyzer
 * (porter, lucene stopwords, possessives, CJK bigrams) and with a no-stem/no-stop one.
 * Checks: status OK; spans inside [base, base + len), start < end, starts strictly increasing
 * within one call (every token comes from a different word or bigram), positions
 * non-decreasing; terms non-empty, NUL-terminated, term_len == strlen and <= 255 bytes;
 * n_words grows by exactly cn_count_words(text); a second call with a base offset appends
 * the same terms shifted by that offset (the stem cache must not change results).
 */
#include "fuzz.h"

#include <string.h>

#include "lex/lex.h"

static cn_analyzer *def, *plain;

static void init(void)
{
	if (def)
		return;
	cn_err err;
	cn_err_clear(&err);
	cn_analyzer_params p = cn_analyzer_default_params();
	if (cn_analyzer_new(&p, &def, &err) != CAIRN_OK) {
		fprintf(stderr, "analyzer: %s\n", err.msg);
		abort();
	}
	p.stemmer = "none";
	p.stopwords = "none";
	p.possessive = false;
	if (cn_analyzer_new(&p, &plain, &err) != CAIRN_OK) {
		fprintf(stderr, "analyzer: %s\n", err.msg);
		abort();
	}
}

static void check(cn_analyzer *a, const char *text, size_t size)
{
	cn_tokens t;
	cn_tokens_init(&t);
	const uint32_t base = 1000;
	cairn_status st = cn_analyze(a, text, size, 0, &t);
	FUZZ_CHECK(st == CAIRN_OK, "cn_analyze status %d", (int)st);
	size_t words = cn_count_words(text, size);
	FUZZ_CHECK(t.n_words == words, "n_words %zu, cn_count_words %zu", t.n_words, words);
	size_t n1 = t.n;
	for (size_t i = 0; i < n1; i++) {
		const cn_token *k = &t.v[i];
		const char *term = cn_token_term(&t, i);
		FUZZ_CHECK(k->term_len >= 1 && k->term_len <= 255, "token %zu: term length %u", i, k->term_len);
		FUZZ_CHECK(strlen(term) == k->term_len, "token %zu: strlen %zu != %u", i, strlen(term), k->term_len);
		FUZZ_CHECK(k->start < k->end && k->end <= size, "token %zu: span %u..%u of %zu", i, k->start, k->end,
		           size);
		FUZZ_CHECK(k->pos < words, "token %zu: pos %u of %zu words", i, k->pos, words);
		if (i > 0) {
			FUZZ_CHECK(k->start > t.v[i - 1].start, "token %zu: start %u after %u", i, k->start,
			           t.v[i - 1].start);
			FUZZ_CHECK(k->pos >= t.v[i - 1].pos, "token %zu: pos %u after %u", i, k->pos, t.v[i - 1].pos);
		}
	}
	/* again, appended with a base offset: same terms, shifted spans, positions after the first */
	st = cn_analyze(a, text, size, base, &t);
	FUZZ_CHECK(st == CAIRN_OK, "second cn_analyze status %d", (int)st);
	FUZZ_CHECK(t.n == 2 * n1, "second call gave %zu tokens, first %zu", t.n - n1, n1);
	FUZZ_CHECK(t.n_words == 2 * words, "n_words %zu after two calls of %zu", t.n_words, words);
	for (size_t i = 0; i < n1; i++) {
		const cn_token *x = &t.v[i], *y = &t.v[n1 + i];
		FUZZ_CHECK(strcmp(cn_token_term(&t, i), cn_token_term(&t, n1 + i)) == 0, "token %zu: \"%s\" then \"%s\"",
		           i, cn_token_term(&t, i), cn_token_term(&t, n1 + i));
		FUZZ_CHECK(y->start == x->start + base && y->end == x->end + base, "token %zu: offset span", i);
		FUZZ_CHECK(y->pos == x->pos + words, "token %zu: pos %u, expected %zu", i, y->pos, x->pos + words);
	}
	cn_tokens_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	init();
	check(def, (const char *)data, size);
	check(plain, (const char *)data, size);
	return 0;
}
