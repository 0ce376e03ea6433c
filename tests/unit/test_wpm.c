/* wpm: the WordPiece tokenizer (BERT) against llama.cpp's ggml-vocab-bert-bge test vectors
 * (made upstream with Hugging Face tokenizers) from vocab.txt, tokenizer.json and the GGUF,
 * and differentially against an independent Python implementation on Python's own Unicode
 * database (tests/reference/bert_tokenize.py) over thousands of generated strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utf8proc.h>

#include "testutil.h"
#include "text/text.h"
#include "vocab/vocab_int.h"

#define PY "/usr/bin/python3"
#define REF_SCRIPT "tests/reference/bert_tokenize.py"

static char g_shared[1024];

/* ../shared (or $CAIRN_SHARED) with the BERT files, or NULL. */
static const char *shared_dir(void)
{
	const char *env = getenv("CAIRN_SHARED");
	snprintf(g_shared, sizeof(g_shared), "%s", env && *env ? env : "../shared");
	char p[1200];
	snprintf(p, sizeof(p), "%s/models/bert-wordpiece-tokenizer/vocab.txt", g_shared);
	return cn_path_exists(p) ? g_shared : NULL;
}

#define NEED_SHARED(dir)                                                                        \
	const char *dir = shared_dir();                                                         \
	if (!dir) {                                                                             \
		print_message("skipped: %s/models/bert-wordpiece-tokenizer not found (set CAIRN_SHARED)\n", \
		              g_shared);                                                        \
		skip();                                                                         \
	}

static cn_vocab *load(const char *path)
{
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_load(path, NULL, &v, &err) != CAIRN_OK)
		fail_msg("load %s: %s", path, err.msg);
	return v;
}

static cn_tokvec enc(const cn_vocab *v, const char *s, size_t n, unsigned flags)
{
	cn_tokvec t;
	cn_tokvec_init(&t);
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_encode(v, s, n, flags, &t, &err) != CAIRN_OK)
		fail_msg("encode: %s", err.msg);
	return t;
}

static bool ids_equal_str(const cn_tokvec *t, const char *spec)
{
	size_t i = 0;
	const char *p = spec;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		char *end;
		long x = strtol(p, &end, 10);
		if (end == p || i >= t->n || t->ids[i] != x)
			return false;
		i++;
		p = end;
	}
	return i == t->n;
}

static char *slurp(const char *path, size_t *len)
{
	char *d = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read(path, 1u << 28, &d, len, &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	return d;
}

/* llama.cpp test-tokenizer-0: cases split on "\n__ggml_vocab_test__\n", one .out line each
 * (no special tokens). Returns the number of cases that matched; *total gets the count. */
static int run_bge_vectors(const cn_vocab *v, const char *dir, int *total)
{
	char ip[1200], op[1200];
	snprintf(ip, sizeof(ip), "%s/models/vocab/ggml-vocab-bert-bge.gguf.inp", dir);
	snprintf(op, sizeof(op), "%s/models/vocab/ggml-vocab-bert-bge.gguf.out", dir);
	size_t li, lo;
	char *inp = slurp(ip, &li), *out = slurp(op, &lo);
	static const char sep[] = "\n__ggml_vocab_test__\n";
	char *a = inp, *o = out;
	int ok = 0, n = 0;
	/* the pieces between separators, then the remainder after the last one (empty, as the
	 * .out's last line after its final newline): Python's split, as the upstream generator */
	for (;;) {
		char *hit = strstr(a, sep);
		char *nl = strchr(o, '\n');
		size_t tl = hit ? (size_t)(hit - a) : strlen(a);
		size_t ol = nl ? (size_t)(nl - o) : strlen(o);
		char *line = cn_strndup(o, ol);
		cn_tokvec t = enc(v, a, tl, 0);
		n++;
		if (ids_equal_str(&t, line))
			ok++;
		else {
			cn_buf b;
			cn_buf_init(&b);
			for (size_t i = 0; i < t.n; i++)
				cn_buf_printf(&b, " %d", t.ids[i]);
			print_message("case %d %.*s\n  want:%s\n  got: %s\n", n, (int)CN_MIN(tl, 60), a, line,
			              b.data ? b.data : "");
			cn_buf_free(&b);
		}
		cn_free(line);
		cn_tokvec_free(&t);
		if (!hit || !nl)
			break;
		a = hit + sizeof(sep) - 1;
		o = nl + 1;
	}
	cn_free(inp);
	cn_free(out);
	*total = n;
	return ok;
}

static void check_bge_file(const char *rel)
{
	NEED_SHARED(dir);
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	cn_vocab *v = load(p);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_int_equal(info.kind, CN_VOCAB_WPM);
	assert_int_equal(info.n_tokens, 30522);
	assert_int_equal(info.unk, 100);
	assert_int_equal(info.cls, 101);
	assert_int_equal(info.sep, 102);
	int total = 0, ok = run_bge_vectors(v, dir, &total);
	print_message("%s: %d/%d llama.cpp bert-bge cases\n", rel, ok, total);
	assert_int_equal(total, 47);
	assert_int_equal(ok, total);

	/* [CLS] … [SEP] with CN_TOK_ADD_SPECIAL */
	cn_tokvec t = enc(v, "Hello world!", 12, CN_TOK_ADD_SPECIAL);
	assert_true(ids_equal_str(&t, "101 7592 2088 999 102"));
	cn_tokvec_free(&t);
	cn_vocab_free(v);
}

static void test_bge_vocab_txt(void **state)
{
	(void)state;
	check_bge_file("models/bert-wordpiece-tokenizer/vocab.txt");
}

static void test_bge_tokenizer_json(void **state)
{
	(void)state;
	check_bge_file("models/bert-wordpiece-tokenizer/tokenizer.json");
}

/* The three files build the same token table (texts and attributes). */
static void same_table(const cn_vocab *a, const cn_vocab *b)
{
	assert_int_equal(a->n_tokens, b->n_tokens);
	for (uint32_t i = 0; i < a->n_tokens; i++) {
		if (a->tokens[i].len != b->tokens[i].len ||
		    memcmp(a->tokens[i].text, b->tokens[i].text, a->tokens[i].len) != 0)
			fail_msg("token %u: \"%s\" vs \"%s\"", i, a->tokens[i].text, b->tokens[i].text);
		if (a->tokens[i].attr != b->tokens[i].attr)
			fail_msg("token %u \"%s\": attr %#x vs %#x", i, a->tokens[i].text, a->tokens[i].attr,
			         b->tokens[i].attr);
	}
}

static void test_bge_gguf_and_tables(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	char p[1200];
	snprintf(p, sizeof(p), "%s/models/bert-wordpiece-tokenizer/vocab.txt", dir);
	cn_vocab *txt = load(p);
	snprintf(p, sizeof(p), "%s/models/bert-wordpiece-tokenizer/tokenizer.json", dir);
	cn_vocab *js = load(p);
	same_table(txt, js);
	assert_int_equal(txt->tokens[999].len, 4); /* "!" → "▁!" */
	assert_memory_equal(txt->tokens[999].text, "\xE2\x96\x81!", 4);

	snprintf(p, sizeof(p), "%s/models/vocab/ggml-vocab-bert-bge.gguf", dir);
	cn_vocab *g = NULL;
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = cn_vocab_load(p, NULL, &g, &err);
	if (st == CAIRN_EUNSUPPORTED) { /* this worktree's GGUF reader is a stub */
		cn_vocab_free(txt);
		cn_vocab_free(js);
		print_message("skipped: GGUF reader not available here (%s)\n", err.msg);
		skip();
	}
	if (st != CAIRN_OK)
		fail_msg("%s", err.msg);
	same_table(txt, g);
	int total = 0, ok = run_bge_vectors(g, dir, &total);
	print_message("ggml-vocab-bert-bge.gguf: %d/%d llama.cpp cases\n", ok, total);
	assert_int_equal(ok, total);
	cn_vocab_free(g);
	cn_vocab_free(txt);
	cn_vocab_free(js);
}

/* ---- hand-checked behaviour on a small vocabulary ---------------------------------------- */

static const char small_vocab[] =
	"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\nworld\n,\n!\n.\na\n##a\naa\n"
	"cafe\ncafé\nx\n##y\n\xE4\xB8\xAD\ni\ne\n\xE2\x96\x81\n##\xE2\x96\x81\nstra\n##sse\nstraße\n##\n";

static cn_vocab *small(const char *dir, const char *cfg, const char *body)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/vocab.txt", dir);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(p, body, strlen(body), &err), CAIRN_OK);
	char c[512];
	snprintf(c, sizeof(c), "%s/tokenizer_config.json", dir);
	if (cfg)
		assert_int_equal(cn_file_write_atomic(c, cfg, strlen(cfg), &err), CAIRN_OK);
	else
		unlink(c);
	return load(p);
}

static void expect(const cn_vocab *v, const char *s, size_t n, const char *want)
{
	cn_tokvec t = enc(v, s, n, 0);
	if (!ids_equal_str(&t, want)) {
		cn_buf b;
		cn_buf_init(&b);
		for (size_t i = 0; i < t.n; i++)
			cn_buf_printf(&b, " %d", t.ids[i]);
		fail_msg("encode(\"%.*s\"): want [%s] got [%s]", (int)n, s, want, b.data ? b.data : "");
	}
	cn_tokvec_free(&t);
}
#define EXPECT(v, lit, want) expect(v, lit, sizeof(lit) - 1, want)

static void test_small_vocab_rules(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof(dir), "wpm"), 0);
	cn_vocab *v = small(dir, NULL, small_vocab);
	EXPECT(v, "", "");
	EXPECT(v, " \t\r\n\x01\x7f", "");
	EXPECT(v, "unaffable", "5 6 7");
	EXPECT(v, "UnAffABLE hello", "5 6 7 8");
	EXPECT(v, "hello,world!", "8 10 9 11");
	EXPECT(v, "unaffablex", "1");           /* no piece for "x" after the word start: all [UNK] */
	EXPECT(v, "xy xyz", "18 19 1");
	EXPECT(v, "Caf\xC3\xA9", "16");         /* accent stripped: cafe, not café */
	EXPECT(v, "CAFE\xCC\x81", "16");        /* decomposed input, too */
	EXPECT(v, "\xC4\xB0", "21");            /* İ → i */
	EXPECT(v, "a\xE4\xB8\xAD" "a", "13 20 13"); /* CJK is a word of its own */
	EXPECT(v, "a\xC2\xA0" "a\xE3\x80\x80" "a", "13 13 13"); /* NBSP, ideographic space */
	EXPECT(v, "a\xE2\x80\x8B" "a", "15");   /* ZWSP (Cf) dropped: "aa" */
	EXPECT(v, "a\x0b" "a", "15");           /* \v is a control: dropped, not a space */
	EXPECT(v, "a\xE2\x80\xA8" "a", "13 13"); /* U+2028 is White_Space */
	EXPECT(v, "a\xE2\x80\x94" "a", "13 1 13"); /* em dash: punctuation */
	EXPECT(v, "a\xff" "a", "15");           /* invalid byte reads as U+FFFD: dropped */
	EXPECT(v, "\xE2\x96\x81\xE2\x96\x81", "23 24"); /* literal U+2581: "▁" then "##▁" */
	EXPECT(v, "stra\xC3\x9F" "e", "27");    /* ß has no decomposition: straße */

	/* 100 characters is a word ("aa" then 98 "##a"), 101 is [UNK]; counted after
	 * normalization */
	char want[400] = "15";
	for (int i = 0; i < 98; i++)
		strcat(want, " 14");
	char w[400];
	memset(w, 'a', 101);
	expect(v, w, 100, want);
	expect(v, w, 101, "1");
	for (int i = 0; i < 100; i++)
		memcpy(w + 2 * i, "\xC3\xA1", 2); /* á: 2 chars in NFD, 1 after stripping */
	expect(v, w, 200, want);
	memcpy(w + 200, "\xC3\xA1", 2);
	expect(v, w, 202, "1");

	/* decode: word-initial pieces get a space, the first one loses it */
	cn_tokvec t = enc(v, "Hello, unaffable world", 22, CN_TOK_ADD_SPECIAL);
	assert_true(ids_equal_str(&t, "2 8 10 5 6 7 9 3"));
	cn_buf b;
	cn_buf_init(&b);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_decode(v, t.ids, t.n, 0, &b, &err), CAIRN_OK);
	assert_string_equal(b.data, "hello , unaffable world");
	cn_buf_free(&b);
	cn_tokvec_free(&t);
	cn_vocab_free(v);

	/* cased: no lowercasing, no accent stripping */
	v = small(dir, "{\"do_lower_case\": false}", small_vocab);
	EXPECT(v, "Hello hello", "1 8");
	EXPECT(v, "caf\xC3\xA9 cafe\xCC\x81", "17 1"); /* precomposed matches, decomposed does not */
	EXPECT(v, "\xC4\xB0", "1");
	cn_vocab_free(v);

	/* special token names from special_tokens_map.json */
	char p[512];
	snprintf(p, sizeof(p), "%s/special_tokens_map.json", dir);
	const char *map = "{\"unk_token\": {\"content\": \"<unk>\"}, \"cls_token\": \"<s>\"}";
	assert_int_equal(cn_file_write_atomic(p, map, strlen(map), &err), CAIRN_OK);
	v = small(dir, NULL, "<unk>\n<s>\n[SEP]\nhi\n");
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_int_equal(info.unk, 0);
	assert_int_equal(info.cls, 1);
	assert_int_equal(info.sep, 2);
	assert_true(v->tokens[0].attr & CN_TOKEN_CONTROL);
	assert_true(v->tokens[3].attr & CN_TOKEN_NORMAL);
	EXPECT(v, "hi ho", "3 0");
	cn_vocab_free(v);
	unlink(p);
	cn_test_rmtree(dir);
}

static void expect_fail(const char *dir, const char *file, const char *body, cairn_status want,
                        const char *needle)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(p, body, strlen(body), &err), CAIRN_OK);
	cn_vocab *v = NULL;
	cairn_status st = cn_vocab_load(p, NULL, &v, &err);
	if (st != want || !strstr(err.msg, needle))
		fail_msg("%s: want status %d with \"%s\", got %d: %s", body, want, needle, st, err.msg);
	assert_null(v);
	unlink(p);
}

static void test_load_errors(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof(dir), "wpm"), 0);
	expect_fail(dir, "vocab.txt", "a\nb\n", CAIRN_EFORMAT, "no unknown token");
	const char *tj_head = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}";
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s}, \"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}", tj_head);
	expect_fail(dir, "tokenizer.json", buf, CAIRN_EUNSUPPORTED, "normalizer \"NFC\"");
	snprintf(buf, sizeof(buf), "%s}, \"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", tj_head);
	expect_fail(dir, "tokenizer.json", buf, CAIRN_EUNSUPPORTED, "pre_tokenizer \"Whitespace\"");
	snprintf(buf, sizeof(buf), "%s, \"max_input_chars_per_word\": 0}, \"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}", tj_head);
	expect_fail(dir, "tokenizer.json", buf, CAIRN_EFORMAT, "max_input_chars_per_word=0");
	/* switches that load: a shorter word limit, and no text cleaning (a control character
	 * then stays inside its word) */
	{
		static const char *tj = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1, \"##a\": 2},"
		                        " \"max_input_chars_per_word\": 3}, \"normalizer\": {\"type\": \"BertNormalizer\","
		                        " \"clean_text\": %s}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
		char p[512], body[512];
		snprintf(p, sizeof p, "%s/tokenizer.json", dir);
		for (int clean = 0; clean < 2; clean++) {
			snprintf(body, sizeof body, tj, clean ? "true" : "false");
			cn_err e;
			cn_err_clear(&e);
			assert_int_equal(cn_file_write_atomic(p, body, strlen(body), &e), CAIRN_OK);
			cn_vocab *v = load(p);
			cn_tokvec t = enc(v, "aaa aaaa", 8, 0);
			assert_int_equal(t.n, 4); /* a ##a ##a, then a 4-letter word over the limit: [UNK] */
			assert_int_equal(t.ids[0], 1);
			assert_int_equal(t.ids[2], 2);
			assert_int_equal(t.ids[3], 0);
			cn_tokvec_free(&t);
			t = enc(v, "a\x01" "a", 3, 0);
			assert_int_equal(t.n, clean ? 2u : 1u); /* cleaned: "aa"; kept: one unknown word */
			assert_int_equal(t.ids[0], clean ? 1 : 0);
			cn_tokvec_free(&t);
			cn_vocab_free(v);
		}
	}
	expect_fail(dir, "tokenizer.json",
	            "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 99999999}}, \"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
	            CAIRN_EFORMAT, "far beyond");
	expect_fail(dir, "tokenizer.json",
	            "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 0}}, \"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
	            CAIRN_EFORMAT, "appears twice");
	expect_fail(dir, "tokenizer.json",
	            "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"<unk>\", \"vocab\": {\"[UNK]\": 0}}, \"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
	            CAIRN_EFORMAT, "unk_token \"<unk>\"");
	/* a good one with a hole and an added token past the end */
	const char *good = "{\"added_tokens\": [{\"id\": 4, \"content\": \"[CLS]\", \"special\": true}],"
	                   "\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1, \"##b\": 3}},"
	                   "\"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
	char p[512];
	snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(p, good, strlen(good), &err), CAIRN_OK);
	cn_vocab *v = load(p);
	assert_int_equal(v->n_tokens, 5);
	assert_true(v->tokens[2].attr & CN_TOKEN_UNUSED);
	assert_true(v->tokens[4].attr & CN_TOKEN_CONTROL);
	EXPECT(v, "AB a", "1 3 1");
	cn_vocab_free(v);
	cn_test_rmtree(dir);
}

/* Every allocation of load + encode failing in turn: an error, never a crash or a leak. */
static void test_alloc_failures(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof(dir), "wpm"), 0);
	char p[512];
	snprintf(p, sizeof(p), "%s/vocab.txt", dir);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(p, small_vocab, strlen(small_vocab), &err), CAIRN_OK);
	char longw[700];
	memset(longw, 'a', sizeof(longw));
	for (int i = 0; i < 20; i++) /* a long run of surviving marks to reorder */
		memcpy(longw + 300 + 8 * i, "\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5", 8);
	bool done = false;
	for (long k = 1; k < 2000 && !done; k++) {
		cn_vocab *v = NULL;
		cn_err_clear(&err);
		cn_alloc_fail_after(k);
		cairn_status st = cn_vocab_load(p, NULL, &v, &err);
		if (st == CAIRN_OK) {
			cn_tokvec t;
			cn_tokvec_init(&t);
			st = cn_vocab_encode(v, longw, sizeof(longw), CN_TOK_ADD_SPECIAL, &t, &err);
			if (st == CAIRN_OK)
				st = cn_vocab_encode(v, "unaffable, hello", 16, 0, &t, &err);
			done = st == CAIRN_OK;
			cn_tokvec_free(&t);
			cn_vocab_free(v);
		}
		cn_alloc_fail_after(0);
		if (st != CAIRN_OK)
			assert_true(err.msg[0] != 0);
	}
	assert_true(done);
	cn_test_rmtree(dir);
}

/* ---- differential check against tests/reference/bert_tokenize.py ------------------------ */

static uint64_t g_rng;
static uint64_t rnd(void)
{
	uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static uint32_t rn(uint32_t n) { return (uint32_t)(rnd() % n); }

static uint8_t *g_excluded; /* bitset: code points where Python's and utf8proc's data differ */
static bool excluded(uint32_t c) { return g_excluded[c >> 3] & (1u << (c & 7)); }

static uint32_t fnv_nfd(uint32_t cp, int *len)
{
	utf8proc_int32_t d[8];
	int b = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 8, UTF8PROC_DECOMPOSE, &b);
	uint32_t h = 0x811C9DC5u;
	for (utf8proc_ssize_t i = 0; i < n; i++) {
		h ^= (uint32_t)d[i];
		h *= 0x01000193u;
	}
	*len = (int)n;
	return h;
}

/* Compares Python's Unicode data (dumped by the reference) with utf8proc's for every code
 * point: category, canonical class, lowercase, NFD. Fills g_excluded; returns the count. */
static size_t find_unicode_differences(const char *tmp)
{
	char props[512];
	snprintf(props, sizeof(props), "%s/props.bin", tmp);
	char *argv[] = {PY, REF_SCRIPT, "props", props, NULL};
	assert_int_equal(cn_test_run(argv), 0);
	size_t len;
	char *d = slurp(props, &len);
	assert_int_equal(len, (size_t)0x110000 * 12);
	g_excluded = cn_calloc(0x110000 / 8, 1);
	size_t n = 0, by_cat = 0;
	uint32_t first = 0, last = 0;
	cn_buf ranges;
	cn_buf_init(&ranges);
	int shown = 0;
	for (uint32_t cp = 0; cp < 0x110000; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		const uint8_t *r = (const uint8_t *)d + (size_t)cp * 12;
		const char *cat = utf8proc_category_string((utf8proc_int32_t)cp);
		unsigned ccc = (unsigned)utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
		uint32_t lower = cp == 0x130 ? 0xFFFFFFFFu : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
		int nlen;
		uint32_t h = fnv_nfd(cp, &nlen);
		bool diff_cat = memcmp(r, cat, 2) != 0;
		bool diff = diff_cat || r[2] != ccc || r[3] != nlen || cn_load_u32le(r + 4) != lower ||
		            cn_load_u32le(r + 8) != h;
		if (!diff)
			continue;
		g_excluded[cp >> 3] |= (uint8_t)(1u << (cp & 7));
		n++;
		by_cat += diff_cat;
		if (n > 1 && cp == last + 1) {
			last = cp;
			continue;
		}
		if (n > 1 && shown < 40) {
			cn_buf_printf(&ranges, first == last ? " %04X" : " %04X-%04X", first, last);
			shown++;
		}
		first = last = cp;
	}
	if (n && shown < 40)
		cn_buf_printf(&ranges, first == last ? " %04X" : " %04X-%04X", first, last);
	print_message("Unicode data: Python %s vs utf8proc %s (Unicode %s): %zu code points differ "
	              "(%zu in category), kept out of the generator:%s%s\n",
	              "unicodedata", utf8proc_version(), utf8proc_unicode_version(), n, by_cat,
	              ranges.data ? ranges.data : "", shown >= 40 ? " …" : "");
	cn_buf_free(&ranges);
	cn_free(d);
	return n;
}

typedef struct range {
	uint32_t lo, hi;
} range;

static const range r_latin[] = {{0xC0, 0x24F}, {0x1E00, 0x1EFF}, {0x370, 0x3FF}, {0x1F00, 0x1FFF},
                                {0x400, 0x4FF}, {0x530, 0x58F}, {0x5D0, 0x5EA}, {0x620, 0x64A},
                                {0x900, 0x97F}, {0xE00, 0xE5B}, {0x10A0, 0x10FF}, {0x1E9E, 0x1E9E},
                                {0x212A, 0x212B}, {0x2126, 0x2126}, {0x130, 0x131}, {0x1C4, 0x1CC}};
static const range r_marks[] = {{0x300, 0x36F}, {0x483, 0x489}, {0x591, 0x5BD}, {0x64B, 0x65F},
                                {0x1AB0, 0x1ACE}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20F0}, {0xFE20, 0xFE2F},
                                {0x1D165, 0x1D172}, {0x1D15E, 0x1D164}, {0x302A, 0x302F}, {0x1715, 0x1715},
                                {0x1B44, 0x1B44}, {0xA9C0, 0xA9C0}, {0x16FF0, 0x16FF1}, {0x93C, 0x94D}};
static const range r_cjk[] = {{0x4E00, 0x9FFF}, {0x3400, 0x4DBF}, {0xF900, 0xFAFF}, {0x20000, 0x2A6DF},
                              {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F}, {0x2B820, 0x2B93F},
                              {0x2CEA0, 0x2CEBF}, {0x2F800, 0x2FA1F}, {0x3040, 0x30FF}, {0xAC00, 0xD7A3},
                              {0x1100, 0x11FF}, {0x2E80, 0x2FDF}, {0x31C0, 0x31EF}};
static const range r_punct[] = {{0x2010, 0x2027}, {0x2030, 0x205E}, {0x3000, 0x303F}, {0xFF01, 0xFF0F},
                                {0xFF1A, 0xFF20}, {0xA1, 0xBF}, {0x37E, 0x37E}, {0x387, 0x387},
                                {0x55A, 0x55F}, {0x589, 0x58A}, {0x60C, 0x60D}, {0x61F, 0x61F},
                                {0x964, 0x965}, {0x2E00, 0x2E5D}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6B}};
static const range r_space[] = {{0x20, 0x20}, {0x9, 0xD}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680},
                                {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                {0x3000, 0x3000}, {0x180E, 0x180E}, {0x1C, 0x1F}};
static const range r_ctrl[] = {{0x0, 0x1F}, {0x7F, 0x9F}, {0x200B, 0x200F}, {0x202A, 0x202E},
                               {0x2060, 0x2064}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFD}, {0xE0001, 0xE0001},
                               {0xE0020, 0xE007F}, {0xE000, 0xE00F}, {0xAD, 0xAD}, {0x600, 0x605},
                               {0x110000 - 2, 0x110000 - 1}, {0x50000, 0x5000F}};
static const range r_sym[] = {{0x1F300, 0x1F6FF}, {0x1F900, 0x1F9FF}, {0x2600, 0x27BF}, {0x20A0, 0x20C0},
                              {0x2100, 0x214F}, {0x2190, 0x21FF}, {0x2200, 0x22FF}, {0xFE0F, 0xFE0F},
                              {0x200D, 0x200D}, {0x1F1E6, 0x1F1FF}, {0x2581, 0x2581}, {0xFF21, 0xFF5A},
                              {0x2460, 0x24FF}, {0x1D400, 0x1D7FF}};

static uint32_t pick(const range *r, size_t n)
{
	for (;;) {
		const range *x = &r[rn((uint32_t)n)];
		uint32_t c = x->lo + rn(x->hi - x->lo + 1);
		if (!(c >= 0xD800 && c <= 0xDFFF) && !excluded(c))
			return c;
	}
}

static void put_cp(cn_buf *b, uint32_t c)
{
	char u[4];
	size_t l = cn_utf8_encode((int32_t)c, u);
	cn_buf_append(b, u, l);
}

static const char *const words[] = {
	"the", "Hello", "WORLD", "tokenization", "unaffable", "Führer", "naïve", "café", "résumé", "Straße",
	"İstanbul", "ΟΔΥΣΣΕΥΣ", "Москва", "don't", "e-mail", "U.S.A.", "3.14159", "1,000,000", "C++",
	"co-operate", "Ǆungla", "ǅ", "ﬁnance", "Ⅻ", "２０２４", "ＡＢＣ", "x²", "½", "naïvety", "Ωmega"};

static void gen_string(cn_buf *b, char **vocab_lines, size_t n_vocab)
{
	int segs = 1 + (int)rn(24);
	for (int s = 0; s < segs; s++) {
		uint32_t k = rn(100);
		if (k < 18) {
			cn_buf_puts(b, words[rn(CN_ARRAY_LEN(words))]);
		} else if (k < 34) { /* one to three real pieces, so words split into subwords */
			int np = 1 + (int)rn(3);
			for (int i = 0; i < np; i++) {
				const char *t = vocab_lines[1000 + rn((uint32_t)(n_vocab - 1000))];
				if (!strncmp(t, "##", 2))
					t += 2;
				cn_buf_puts(b, t);
			}
		} else if (k < 44) {
			cn_buf_putc(b, (char)(33 + rn(94)));
		} else if (k < 54) {
			put_cp(b, pick(r_space, CN_ARRAY_LEN(r_space)));
		} else if (k < 60) {
			put_cp(b, pick(r_ctrl, CN_ARRAY_LEN(r_ctrl)));
		} else if (k < 70) {
			put_cp(b, pick(r_latin, CN_ARRAY_LEN(r_latin)));
		} else if (k < 76) {
			put_cp(b, pick(r_marks, CN_ARRAY_LEN(r_marks)));
		} else if (k < 83) {
			put_cp(b, pick(r_cjk, CN_ARRAY_LEN(r_cjk)));
		} else if (k < 88) {
			put_cp(b, pick(r_punct, CN_ARRAY_LEN(r_punct)));
		} else if (k < 93) {
			put_cp(b, pick(r_sym, CN_ARRAY_LEN(r_sym)));
		} else if (k < 95) { /* long words around the 100-character limit */
			uint32_t n = 90 + rn(20);
			bool acc = rn(2);
			for (uint32_t i = 0; i < n; i++)
				put_cp(b, acc && i % 7 == 3 ? 0xE9 : (uint32_t)('a' + rn(3)));
			if (rn(4) == 0)
				put_cp(b, 0x301);
		} else {
			static const range any[] = {{0x80, 0x10FFFF}};
			put_cp(b, pick(any, 1));
		}
		if (rn(3) == 0)
			cn_buf_putc(b, ' ');
	}
}

/* pyflags: the reference's normalizer switches, "LOWER,STRIP,CLEAN,CHINESE,MAXCHARS". */
static void differential(const char *tmp, const char *vocab_path, char **lines, size_t n_lines, bool lower,
                         const char *pyflags, int n_strings)
{
	cn_vocab *v = load(vocab_path);
	assert_int_equal(v->lowercase, lower);
	char in[512], out[512];
	snprintf(in, sizeof(in), "%s/in.jsonl", tmp);
	snprintf(out, sizeof(out), "%s/out.txt", tmp);
	char **strs = cn_calloc((size_t)n_strings, sizeof(char *));
	size_t *lens = cn_calloc((size_t)n_strings, sizeof(size_t));
	cn_buf js, s;
	cn_buf_init(&js);
	cn_buf_init(&s);
	for (int i = 0; i < n_strings; i++) {
		cn_buf_reset(&s);
		cn_buf_puts(&s, "");
		gen_string(&s, lines, n_lines);
		lens[i] = s.len;
		strs[i] = cn_strndup(s.data, s.len);
		cn_buf_put_json_str(&js, s.data, s.len);
		cn_buf_putc(&js, '\n');
	}
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(in, js.data, js.len, &err), CAIRN_OK);
	char *argv[] = {PY, REF_SCRIPT, "tokenize", (char *)vocab_path, in, out, (char *)pyflags, NULL};
	assert_int_equal(cn_test_run(argv), 0);
	size_t olen;
	char *o = slurp(out, &olen);
	char *line = o;
	int agree = 0, shown = 0;
	size_t n_tok = 0, n_unk = 0;
	for (int i = 0; i < n_strings; i++) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = 0;
		cn_tokvec t = enc(v, strs[i], lens[i], 0);
		n_tok += t.n;
		for (size_t j = 0; j < t.n; j++)
			n_unk += t.ids[j] == v->unk;
		if (ids_equal_str(&t, line))
			agree++;
		else if (shown++ < 5) {
			cn_buf b;
			cn_buf_init(&b);
			cn_buf_put_json_str(&b, strs[i], lens[i]);
			cn_buf_puts(&b, "\n  python:");
			cn_buf_puts(&b, line);
			cn_buf_puts(&b, "\n  cairn: ");
			for (size_t j = 0; j < t.n; j++)
				cn_buf_printf(&b, " %d", t.ids[j]);
			print_message("mismatch (%s): %s\n", pyflags, b.data);
			cn_buf_free(&b);
		}
		cn_tokvec_free(&t);
		line = nl + 1;
	}
	print_message("differential %s (lower,strip,clean,chinese,maxchars = %s): %d/%d strings agree (%zu bytes, "
	              "%zu tokens, %zu [UNK])\n",
	              lower ? "uncased" : "cased", pyflags, agree, n_strings, js.len, n_tok, n_unk);
	assert_int_equal(agree, n_strings);
	for (int i = 0; i < n_strings; i++)
		cn_free(strs[i]);
	cn_free(strs);
	cn_free(lens);
	cn_free(o);
	cn_buf_free(&js);
	cn_buf_free(&s);
	cn_vocab_free(v);
}

static void test_differential_python(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	if (access(PY, X_OK) != 0 || access(REF_SCRIPT, R_OK) != 0) {
		print_message("skipped: needs %s and %s (run from the repository root)\n", PY, REF_SCRIPT);
		skip();
	}
	char tmp[256];
	assert_int_equal(cn_test_mkdtemp(tmp, sizeof(tmp), "wpmdiff"), 0);
	find_unicode_differences(tmp);

	char vp[1200];
	snprintf(vp, sizeof(vp), "%s/models/bert-wordpiece-tokenizer/vocab.txt", dir);
	size_t vlen;
	char *vdata = slurp(vp, &vlen);
	size_t n_lines = 0;
	char **lines = cn_calloc(40000, sizeof(char *));
	for (char *p = vdata; *p && n_lines < 40000;) {
		char *nl = strchr(p, '\n');
		lines[n_lines++] = p;
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	g_rng = 20240611;
	differential(tmp, vp, lines, n_lines, true, "1,1,1,1,100", 6000);

	/* the same vocabulary read as a cased model */
	char cp[512], cfgp[512];
	snprintf(cp, sizeof(cp), "%s/vocab.txt", tmp);
	snprintf(cfgp, sizeof(cfgp), "%s/tokenizer_config.json", tmp);
	cn_err err;
	cn_err_clear(&err);
	char *raw = slurp(vp, &vlen);
	assert_int_equal(cn_file_write_atomic(cp, raw, vlen, &err), CAIRN_OK);
	cn_free(raw);
	const char *cfg = "{\"do_lower_case\": false}";
	assert_int_equal(cn_file_write_atomic(cfgp, cfg, strlen(cfg), &err), CAIRN_OK);
	differential(tmp, cp, lines, n_lines, false, "0,0,1,1,100", 3000);
	/* the rest of BERT's normalizer switches, as tokenizer_config.json sets them */
	static const struct {
		const char *cfg, *flags;
		bool lower;
	} variants[] = {
		{"{\"do_lower_case\": true, \"strip_accents\": false}", "1,0,1,1,100", true},
		{"{\"do_lower_case\": false, \"strip_accents\": true}", "0,1,1,1,100", false},
		{"{\"do_lower_case\": true, \"tokenize_chinese_chars\": false}", "1,1,1,0,100", true},
	};
	for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
		assert_int_equal(cn_file_write_atomic(cfgp, variants[k].cfg, strlen(variants[k].cfg), &err), CAIRN_OK);
		differential(tmp, cp, lines, n_lines, variants[k].lower, variants[k].flags, 1000);
	}

	cn_free(lines);
	cn_free(vdata);
	cn_free(g_excluded);
	g_excluded = NULL;
	cn_test_rmtree(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_vocab_rules),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_bge_vocab_txt),
		cmocka_unit_test(test_bge_tokenizer_json),
		cmocka_unit_test(test_bge_gguf_and_tables),
		cmocka_unit_test(test_differential_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
