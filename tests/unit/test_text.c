/* text: UTF-8 validation/decoding/encoding, sentence segmentation and whitespace collapsing,
 * checked against hand-worked expectations (RFC 3629 table 3-7 for the validator). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "text/text.h"

static void test_utf8_valid_table(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
		bool ok;
		size_t bad;
	} cases[] = {
		{"", 0, true, 0},
		{"plain ascii text", 16, true, 0},
		{"caf\xC3\xA9", 5, true, 0},
		{"\xE2\x82\xAC", 3, true, 0},             /* € */
		{"\xF0\x9F\x98\x80", 4, true, 0},         /* 😀 */
		{"\xF4\x8F\xBF\xBF", 4, true, 0},         /* U+10FFFF */
		{"\xED\x9F\xBF", 3, true, 0},             /* U+D7FF, just below the surrogates */
		{"\xEE\x80\x80", 3, true, 0},             /* U+E000, just above */
		{"\xC0\xAF", 2, false, 0},                /* overlong '/' */
		{"\xC1\xBF", 2, false, 0},                /* overlong */
		{"\xE0\x80\xAF", 3, false, 0},            /* overlong 3-byte */
		{"\xE0\x9F\xBF", 3, false, 0},            /* overlong (< U+0800) */
		{"\xF0\x8F\xBF\xBF", 4, false, 0},        /* overlong 4-byte */
		{"ab\xED\xA0\x80", 5, false, 2},          /* surrogate U+D800 */
		{"\xED\xBF\xBF", 3, false, 0},            /* surrogate U+DFFF */
		{"\xF4\x90\x80\x80", 4, false, 0},        /* U+110000 */
		{"\xF5\x80\x80\x80", 4, false, 0},        /* lead byte F5 */
		{"\xFF", 1, false, 0},
		{"abc\x80", 4, false, 3},                 /* stray continuation */
		{"ab\xE2\x82", 4, false, 2},              /* truncated */
		{"\xC3", 1, false, 0},
		{"\xC3\x28", 2, false, 0},                /* bad continuation */
		{"0123456789abcdefg\xC3\xA9xyz\xFE", 23, false, 22}, /* after the 8-byte fast path */
		{"0123456789abcdef\x80", 17, false, 16},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		size_t bad = 999;
		bool ok = cn_utf8_valid(cases[i].s, cases[i].n, &bad);
		if (ok != cases[i].ok)
			fail_msg("case %zu: expected %d", i, cases[i].ok);
		if (!ok)
			assert_int_equal(bad, cases[i].bad);
	}
	assert_false(cn_utf8_valid("\xC0\xAF", 2, NULL)); /* NULL offset allowed */
}

static void test_utf8_decode_encode(void **state)
{
	(void)state;
	int32_t cp;
	assert_int_equal(cn_utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(cn_utf8_decode("\xC3\xA9x", 3, &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(cn_utf8_decode("\xE2\x82\xAC", 3, &cp), 3);
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(cn_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	/* invalid → one byte, -1 */
	assert_int_equal(cn_utf8_decode("\xE2\x82", 2, &cp), 1);
	assert_int_equal(cp, -1);
	assert_int_equal(cn_utf8_decode("\xED\xA0\x80", 3, &cp), 1);
	assert_int_equal(cp, -1);
	assert_int_equal(cn_utf8_decode("\x80", 1, &cp), 1);
	assert_int_equal(cp, -1);
	assert_int_equal(cn_utf8_decode("", 0, &cp), 0);

	char b[4];
	assert_int_equal(cn_utf8_encode('a', b), 1);
	assert_int_equal(b[0], 'a');
	assert_int_equal(cn_utf8_encode(0xE9, b), 2);
	assert_memory_equal(b, "\xC3\xA9", 2);
	assert_int_equal(cn_utf8_encode(0x20AC, b), 3);
	assert_memory_equal(b, "\xE2\x82\xAC", 3);
	assert_int_equal(cn_utf8_encode(0x10FFFF, b), 4);
	assert_memory_equal(b, "\xF4\x8F\xBF\xBF", 4);
	assert_int_equal(cn_utf8_encode(0xD800, b), 0);
	assert_int_equal(cn_utf8_encode(0x110000, b), 0);
	assert_int_equal(cn_utf8_encode(-5, b), 0);

	/* Every scalar value round-trips and validates; every surrogate is refused. */
	for (int32_t c = 0; c <= 0x10FFFF; c += (c < 0x11000 ? 1 : 97)) {
		size_t l = cn_utf8_encode(c, b);
		if (c >= 0xD800 && c <= 0xDFFF) {
			assert_int_equal(l, 0);
			continue;
		}
		assert_true(l >= 1 && l <= 4);
		assert_int_equal(l, c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
		assert_true(cn_utf8_valid(b, l, NULL));
		int32_t d;
		assert_int_equal(cn_utf8_decode(b, l, &d), l);
		assert_int_equal(d, c);
		/* any proper prefix of a multi-byte sequence is invalid */
		if (l > 1)
			assert_false(cn_utf8_valid(b, l - 1, NULL));
	}
}

/* Splits and returns the sentences joined by '|'. */
static char *split(const char *s)
{
	cn_span *v;
	size_t n;
	assert_int_equal(cn_sentences_all(s, strlen(s), &v, &n), CAIRN_OK);
	cn_buf b;
	cn_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		assert_true(v[i].start < v[i].end && v[i].end <= strlen(s));
		if (i)
			assert_true(v[i].start >= v[i - 1].end);
		if (i)
			cn_buf_putc(&b, '|');
		cn_buf_append(&b, s + v[i].start, v[i].end - v[i].start);
	}
	cn_free(v);
	if (!b.data)
		cn_buf_puts(&b, "");
	return cn_buf_take(&b);
}

static void expect_split(const char *in, const char *want)
{
	char *got = split(in);
	if (strcmp(got, want) != 0)
		fail_msg("split(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, got, want);
	cn_free(got);
}

static void test_sentences(void **state)
{
	(void)state;
	expect_split("", "");
	expect_split("   \n\n  ", "");
	expect_split("One sentence", "One sentence");
	expect_split("Hello world. How are you? Fine!", "Hello world.|How are you?|Fine!");
	expect_split("  Leading and trailing.  ", "Leading and trailing.");
	expect_split("Pi is 3.14 today. Next one.", "Pi is 3.14 today.|Next one.");
	expect_split("Dr. Smith met Mr. Jones. They talked.", "Dr. Smith met Mr. Jones.|They talked.");
	expect_split("Use tools, e.g. hammers. Or not.", "Use tools, e.g. hammers.|Or not.");
	expect_split("That is, i.e. This one. Done.", "That is, i.e. This one.|Done.");
	expect_split("He lives in the U.S. and works. Yes.", "He lives in the U.S. and works.|Yes.");
	expect_split("J. R. R. Tolkien wrote it. Fine.", "J. R. R. Tolkien wrote it.|Fine.");
	expect_split("See Fig. 3 for details. Then stop.", "See Fig. 3 for details.|Then stop.");
	expect_split("Wait... what? Really?! Yes.", "Wait... what?|Really?!|Yes.");
	expect_split("He said \"Stop.\" Then left.", "He said \"Stop.\"|Then left.");
	expect_split("(This is quoted.) Next.", "(This is quoted.)|Next.");
	expect_split("Visit example.com today. Ok.", "Visit example.com today.|Ok.");
	expect_split("A heading\n\nA paragraph that\nwraps lines. End", "A heading|A paragraph that\nwraps lines.|End");
	expect_split("no terminator\n  \t\nnext block", "no terminator|next block");
	expect_split("東京に行きました。天気は良かった！本当？はい", "東京に行きました。|天気は良かった！|本当？|はい");
	expect_split("「はい。」と言った。", "「はい。」|と言った。");
	expect_split("Results were good (p < 0.05). Others were not.", "Results were good (p < 0.05).|Others were not.");

	/* The fixed-size variant reports the total and fills only what fits. */
	const char *t = "A b. C d. E f."; /* lowercase single letters are not initials */
	cn_span sp[2];
	assert_int_equal(cn_sentences(t, strlen(t), sp, 2), 3);
	assert_int_equal(sp[0].start, 0);
	assert_int_equal(sp[0].end, 4);
	assert_int_equal(sp[1].start, 5);
	assert_int_equal(sp[1].end, 9);
	assert_int_equal(cn_sentences(t, strlen(t), NULL, 0), 3);
}

static void test_sentences_oom(void **state)
{
	(void)state;
	cn_span *v = (cn_span *)1;
	size_t n = 7;
	cn_alloc_fail_after(1);
	assert_int_equal(cn_sentences_all("One. Two.", 9, &v, &n), CAIRN_ENOMEM);
	cn_alloc_fail_after(0);
	assert_null(v);
	assert_int_equal(n, 0);
}

static void test_ws_collapse(void **state)
{
	(void)state;
	cn_buf b;
	cn_buf_init(&b);
	const char *in = "  a \t\n b\xC2\xA0\xE3\x80\x80" "c\r\n\r\n d  ";
	cn_ws_collapse(&b, in, strlen(in));
	assert_string_equal(b.data, "a b c d");
	cn_buf_reset(&b);
	cn_ws_collapse(&b, "x\xFFy", 3);
	assert_string_equal(b.data, "x\xEF\xBF\xBDy");
	assert_true(cn_utf8_valid(b.data, b.len, NULL));
	cn_buf_reset(&b);
	cn_ws_collapse(&b, " \t ", 3);
	assert_int_equal(b.len, 0);
	cn_buf_reset(&b);
	cn_buf_puts(&b, "[");
	cn_ws_collapse(&b, "caf\xC3\xA9  ok", 9);
	assert_string_equal(b.data, "[caf\xC3\xA9 ok");
	cn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid_table),
		cmocka_unit_test(test_utf8_decode_encode),
		cmocka_unit_test(test_sentences),
		cmocka_unit_test(test_sentences_oom),
		cmocka_unit_test(test_ws_collapse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
