/*
 * fuzz_genreply — a model's reply to the generative answerer (src/answer/generate.c): repair
 * (code fences, surrounding text), strict JSON, the schema, citation ids, quote location with
 * whitespace collapsing. The input is the reply; the passages are fixed (one with irregular
 * whitespace and multi-byte spaces, so quote offsets map back through collapsed runs).
 * Checks: validation never fails except for memory; parsed = false leaves no sentences; every
 * located quote lies inside its passage, cites a passage the sentence cites, and its raw bytes
 * collapse to non-empty text; citations are distinct ids in range; a valid reply has no
 * problems and no error text; the same reply validates the same way twice.
 */
#include "fuzz.h"

#include <string.h>

#include "answer/answer.h"

static const char P1[] = "Employees may take 16 weeks\n\n of paid\tparental leave.\xc2\xa0The leave can begin 4 weeks early.";
static const char P2[] = "Hotel costs: up to 180 euros\xe2\x80\x83per night. {\"json\": \"inside\"} ``` fence";
static const char P3[] = "";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cn_gen_passage ps[3] = {
		{P1, sizeof P1 - 1, "t", NULL, NULL}, {P2, sizeof P2 - 1, NULL, NULL, NULL}, {P3, 0, NULL, NULL, NULL}};
	int max = size ? 1 + data[0] % 4 : 3;
	for (int pass = 0; pass < 2; pass++) {
		cn_arena ar, ar2;
		cn_arena_init(&ar, 1024);
		cn_arena_init(&ar2, 1024);
		cn_gen_output o, o2;
		cairn_status st = cn_gen_validate(&ar, (const char *)data, size, ps, 3, max, &o);
		FUZZ_CHECK(st == CAIRN_OK, "validate failed: %d", st);
		FUZZ_CHECK(o.errors && o.repairs, "no verdict strings");
		if (!o.parsed)
			FUZZ_CHECK(o.n_sentences == 0 && o.errors[0], "unparsed reply with sentences or without a reason");
		if (o.parsed && !o.n_problems)
			FUZZ_CHECK(!o.errors[0], "valid reply with errors: %s", o.errors);
		FUZZ_CHECK(o.n_sentences <= (size_t)max, "%zu sentences > %d", o.n_sentences, max);
		FUZZ_CHECK(!o.abstain || o.n_sentences == 0, "abstention with sentences");
		FUZZ_CHECK(o.confidence >= 0 && o.confidence <= 1, "confidence %g", o.confidence);
		size_t problems = 0;
		for (size_t i = 0; i < o.n_sentences; i++) {
			const cn_gen_sentence *s = &o.sentences[i];
			FUZZ_CHECK(s->text && s->text[0], "empty sentence");
			problems += s->problems != NULL;
			for (size_t j = 0; j < s->n_citations; j++) {
				FUZZ_CHECK(s->citations[j] >= 1 && s->citations[j] <= 3, "citation %d", s->citations[j]);
				for (size_t k = 0; k < j; k++)
					FUZZ_CHECK(s->citations[k] != s->citations[j], "duplicate citation");
			}
			for (size_t j = 0; j < s->n_quotes; j++) {
				const cn_gen_quote *q = &s->quotes[j];
				FUZZ_CHECK(q->passage >= 1 && q->passage <= 3, "quote passage %d", q->passage);
				bool cited = false;
				for (size_t k = 0; k < s->n_citations; k++)
					cited |= s->citations[k] == q->passage;
				FUZZ_CHECK(cited, "quote from an uncited passage");
				const cn_gen_passage *p = &ps[q->passage - 1];
				FUZZ_CHECK(q->start < q->end && q->end <= p->len, "quote [%zu,%zu) outside %zu", q->start, q->end, p->len);
				FUZZ_CHECK(p->text[q->start] != ' ' && p->text[q->end - 1] != ' ', "quote starts or ends in a space");
			}
		}
		FUZZ_CHECK(problems == o.n_problems, "%zu sentences with problems, n_problems %zu", problems, o.n_problems);
		/* deterministic */
		st = cn_gen_validate(&ar2, (const char *)data, size, ps, 3, max, &o2);
		FUZZ_CHECK(st == CAIRN_OK && o2.parsed == o.parsed && o2.n_sentences == o.n_sentences &&
		               o2.n_problems == o.n_problems && !strcmp(o2.errors, o.errors),
		           "second validation differs");
		cn_arena_free(&ar);
		cn_arena_free(&ar2);
		max = 10;
	}
	return 0;
}
