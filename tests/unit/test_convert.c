/* The GGUF writer and the llama2.c converter (src/gguf/gguf_write.c, src/model/convert.c):
 * stories260K.bin + tok512.bin converted and read back with cairn's reader — every key and
 * tensor equal to the llama2.c view (bit for bit in F32), the tokenizer keys equal to the
 * tokenizer file's vocabulary — greedy continuations from the converted file equal to those
 * from the checkpoint (which test_decoder checks against the PyTorch reference), the file
 * parsed by the independent Python reader (tests/reference/gguf_dump.py), F16/Q8_0 variants,
 * and a write to an unwritable place failing cleanly with no file left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn.h"
#include "gguf/gguf.h"
#include "testutil.h"
#include "vocab/vocab.h"

static struct {
	char dir[256], bin[512], tok[512], out[600];
	bool ok;
} S;

static int setup(void **state)
{
	(void)state;
	const char *shared = cn_test_shared_dir();
	if (!shared)
		return 0;
	snprintf(S.bin, sizeof S.bin, "%s/models/stories260K/stories260K.bin", shared);
	snprintf(S.tok, sizeof S.tok, "%s/models/stories260K/tok512.bin", shared);
	if (!cn_path_exists(S.bin) || !cn_path_exists(S.tok))
		return 0;
	if (cn_test_mkdtemp(S.dir, sizeof S.dir, "convert") != 0)
		return -1;
	snprintf(S.out, sizeof S.out, "%s/s.gguf", S.dir);
	S.ok = true;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (S.dir[0])
		cn_test_rmtree(S.dir);
	return 0;
}

#define NEED()                                                                                      \
	do {                                                                                            \
		if (!S.ok) {                                                                                \
			fprintf(stderr, "skipped: ../shared/models/stories260K not found (set CAIRN_SHARED)\n"); \
			skip();                                                                                 \
		}                                                                                           \
	} while (0)

static bool str_eq(cn_gguf_str a, cn_gguf_str b) { return a.len == b.len && !memcmp(a.ptr, b.ptr, a.len); }

static void test_f32_roundtrip(void **state)
{
	(void)state;
	NEED();
	char eb[512];
	assert_int_equal(cairn_model_convert(S.bin, S.tok, S.out, "f32", eb, sizeof eb), CAIRN_OK);
	cn_err err;
	cn_gguf *a = NULL, *b = NULL;
	assert_int_equal(cn_gguf_open(S.bin, &a, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_open(S.out, &b, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_format(b), CN_MODEL_GGUF);
	assert_int_equal(cn_gguf_version(b), 3);
	assert_int_equal(cn_gguf_alignment(b), 32);
	/* every key of the view, same type and value */
	for (size_t i = 0; i < cn_gguf_kv_count(a); i++) {
		const cn_gguf_kv *ka = cn_gguf_kv_at(a, i);
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)ka->key.len, ka->key.ptr);
		const cn_gguf_kv *kb = cn_gguf_find(b, key);
		assert_non_null(kb);
		assert_int_equal(ka->value.type, kb->value.type);
		if (ka->value.type == CN_GGUF_STRING)
			assert_true(str_eq(ka->value.v.str, kb->value.v.str));
		else
			assert_memory_equal(&ka->value.v, &kb->value.v, sizeof(uint64_t));
	}
	/* every tensor: name, order, shape, type, bytes */
	assert_int_equal(cn_gguf_tensor_count(a), cn_gguf_tensor_count(b));
	for (size_t i = 0; i < cn_gguf_tensor_count(a); i++) {
		const cn_gguf_tensor *ta = cn_gguf_tensor_at(a, i), *tb = cn_gguf_tensor_at(b, i);
		assert_true(str_eq(ta->name, tb->name));
		assert_int_equal(ta->n_dims, tb->n_dims);
		assert_memory_equal(ta->ne, tb->ne, sizeof ta->ne);
		assert_int_equal(tb->type, CN_GGML_F32);
		assert_int_equal(ta->nbytes, tb->nbytes);
		assert_memory_equal(ta->data, tb->data, ta->nbytes);
		assert_int_equal(tb->offset % 32, 0);
	}
	/* the tokenizer keys hold tok512.bin's vocabulary */
	cn_vocab *va = NULL, *vb = NULL;
	assert_int_equal(cn_vocab_load(S.tok, NULL, &va, &err), CAIRN_OK);
	assert_int_equal(cn_vocab_from_gguf(b, &vb, &err), CAIRN_OK);
	cn_vocab_info ia, ib;
	cn_vocab_get_info(va, &ia);
	cn_vocab_get_info(vb, &ib);
	assert_int_equal(ia.n_tokens, 512);
	assert_int_equal(ia.n_tokens, ib.n_tokens);
	assert_int_equal(ia.bos, ib.bos);
	assert_int_equal(ia.eos, ib.eos);
	assert_int_equal(ia.add_bos, ib.add_bos);
	for (int32_t id = 0; id < (int32_t)ia.n_tokens; id++) {
		size_t la, lb;
		const char *sa = cn_vocab_token_text(va, id, &la), *sb = cn_vocab_token_text(vb, id, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(sa, sb, la);
		assert_true(cn_vocab_token_score(va, id) == cn_vocab_token_score(vb, id));
		assert_int_equal(cn_vocab_token_attr(va, id), cn_vocab_token_attr(vb, id));
	}
	/* and it tokenizes the same */
	static const char text[] = "Once upon a time, there was a little girl named Lily.";
	cn_tokvec x, y;
	cn_tokvec_init(&x);
	cn_tokvec_init(&y);
	assert_int_equal(cn_vocab_encode(va, text, sizeof text - 1, CN_TOK_ADD_SPECIAL, &x, &err), CAIRN_OK);
	assert_int_equal(cn_vocab_encode(vb, text, sizeof text - 1, CN_TOK_ADD_SPECIAL, &y, &err), CAIRN_OK);
	assert_int_equal(x.n, y.n);
	assert_memory_equal(x.ids, y.ids, x.n * sizeof(int32_t));
	cn_tokvec_free(&x);
	cn_tokvec_free(&y);
	cn_vocab_free(va);
	cn_vocab_free(vb);
	cn_gguf_close(a);
	cn_gguf_close(b);
}

/* Greedy continuations from the converted file equal the checkpoint's, token for token. */
static void test_generation_equal(void **state)
{
	(void)state;
	NEED();
	char eb[512];
	assert_int_equal(cairn_model_convert(S.bin, S.tok, S.out, NULL, eb, sizeof eb), CAIRN_OK);
	cairn_generator_params gp = cairn_generator_default_params();
	gp.n_threads = 1;
	cairn_generator *g1 = NULL, *g2 = NULL;
	gp.tokenizer = S.tok;
	assert_int_equal(cairn_generator_open(S.bin, &gp, &g1, eb, sizeof eb), CAIRN_OK);
	gp.tokenizer = NULL; /* the converted file carries its tokenizer */
	assert_int_equal(cairn_generator_open(S.out, &gp, &g2, eb, sizeof eb), CAIRN_OK);
	static const char *prompts[] = {"Once upon a time", "Lily and Ben went to the park", "The cat", ""};
	cairn_generate_params p = cairn_generate_default_params();
	p.max_tokens = 48;
	int total = 0;
	for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
		cairn_generation r1, r2;
		assert_int_equal(cairn_generate(g1, prompts[i], &p, &r1), CAIRN_OK);
		assert_int_equal(cairn_generate(g2, prompts[i], &p, &r2), CAIRN_OK);
		assert_int_equal(r1.n_prompt_tokens, r2.n_prompt_tokens);
		assert_int_equal(r1.n_tokens, r2.n_tokens);
		assert_true(r1.n_tokens > 0);
		assert_memory_equal(r1.tokens, r2.tokens, (size_t)r1.n_tokens * sizeof(int32_t));
		assert_string_equal(r1.text, r2.text);
		total += r1.n_tokens;
		cairn_generation_free(&r1);
		cairn_generation_free(&r2);
	}
	fprintf(stderr, "converted stories260K: %d greedy tokens over 4 prompts identical\n", total);
	cairn_generator_close(g1);
	cairn_generator_close(g2);
}

static int run_py(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen(out_path, "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* F16 and Q8_0: matrices re-encoded, vectors F32; the independent Python reader parses all. */
static void test_types_and_python_reader(void **state)
{
	(void)state;
	NEED();
	static const char *types[] = {"f32", "f16", "q8_0"};
	static const cn_ggml_type want[] = {CN_GGML_F32, CN_GGML_F16, CN_GGML_Q8_0};
	for (int k = 0; k < 3; k++) {
		char path[700], json[700], eb[512];
		snprintf(path, sizeof path, "%s/s-%s.gguf", S.dir, types[k]);
		snprintf(json, sizeof json, "%s/s-%s.json", S.dir, types[k]);
		assert_int_equal(cairn_model_convert(S.bin, S.tok, path, types[k], eb, sizeof eb), CAIRN_OK);
		cn_gguf *g = NULL;
		cn_err err;
		assert_int_equal(cn_gguf_open(path, &g, &err), CAIRN_OK);
		const cn_gguf_tensor *q = cn_gguf_tensor_find(g, "blk.0.attn_q.weight");
		const cn_gguf_tensor *n = cn_gguf_tensor_find(g, "blk.0.attn_norm.weight");
		assert_int_equal(q->type, want[k]);
		assert_int_equal(n->type, CN_GGML_F32);
		cn_gguf_close(g);
		char *argv[] = {"/usr/bin/python3", "tests/reference/gguf_dump.py", path, NULL};
		if (access(argv[0], X_OK) != 0)
			continue;
		assert_int_equal(run_py(argv, json), 0);
		char *data = NULL;
		size_t len = 0;
		assert_int_equal(cn_file_read(json, 1 << 24, &data, &len, &err), CAIRN_OK);
		assert_non_null(strstr(data, "\"format\": \"gguf\""));
		assert_non_null(strstr(data, "\"name\": \"blk.4.ffn_norm.weight\""));
		assert_non_null(strstr(data, want[k] == CN_GGML_F32 ? "\"type\": \"F32\"" : want[k] == CN_GGML_F16 ? "\"type\": \"F16\"" : "\"type\": \"Q8_0\""));
		cn_free(data);
	}
	/* the quantized files still generate (they run; parity of quantized types is the decoder tests') */
	char path[700], eb[512];
	snprintf(path, sizeof path, "%s/s-q8_0.gguf", S.dir);
	cairn_generator *gen = NULL;
	assert_int_equal(cairn_generator_open(path, NULL, &gen, eb, sizeof eb), CAIRN_OK);
	cairn_generation r;
	cairn_generate_params p = cairn_generate_default_params();
	p.max_tokens = 8;
	assert_int_equal(cairn_generate(gen, "Once upon a time", &p, &r), CAIRN_OK);
	assert_true(r.n_tokens > 0);
	cairn_generation_free(&r);
	cairn_generator_close(gen);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Errors: an unwritable path, a bad type, a writer misuse — and no partial file anywhere. */
static void test_errors(void **state)
{
	(void)state;
	NEED();
	char eb[512], path[700], sub[700];
	snprintf(path, sizeof path, "%s/missing-dir/x.gguf", S.dir);
	assert_int_equal(cairn_model_convert(S.bin, S.tok, path, NULL, eb, sizeof eb), CAIRN_EIO);
	assert_non_null(strstr(eb, "cannot create"));
	snprintf(sub, sizeof sub, "%s/ro", S.dir);
	cn_err err;
	assert_int_equal(cn_mkdir_p(sub, &err), CAIRN_OK);
	/* the target is a directory: everything is written, the rename fails, the temp file goes */
	snprintf(path, sizeof path, "%s/ro", S.dir);
	assert_int_equal(cairn_model_convert(S.bin, S.tok, path, NULL, eb, sizeof eb), CAIRN_EIO);
	assert_non_null(strstr(eb, "cannot rename"));
	int before = count_entries(S.dir);
	snprintf(path, sizeof path, "%s/y.gguf", S.dir);
	assert_int_equal(cairn_model_convert(S.bin, S.tok, path, "q4_k", eb, sizeof eb), CAIRN_EINVAL);
	assert_non_null(strstr(eb, "not one of f32, f16, q8_0"));
	assert_int_equal(cairn_model_convert("/nonexistent.bin", NULL, path, NULL, eb, sizeof eb), CAIRN_ENOTFOUND);
	assert_int_equal(count_entries(S.dir), before);
	assert_false(cn_path_exists(path));
	/* no temp files were left by the failures above */
	DIR *dh = opendir(S.dir);
	struct dirent *e;
	while ((e = readdir(dh)))
		assert_null(strstr(e->d_name, ".tmp."));
	closedir(dh);

	cn_gguf_writer *w = NULL;
	assert_int_equal(cn_gguf_writer_new(&w, &err), CAIRN_OK);
	cn_gguf_value v = {.type = CN_GGUF_U32, .v.u64 = 7};
	assert_int_equal(cn_gguf_writer_add_kv(w, "a.b", &v, &err), CAIRN_OK);
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_writer_add_kv(w, "a.b", &v, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "added twice"));
	float f[3] = {1, 2, 3};
	int64_t ne[1] = {4};
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_writer_add_tensor(w, "t", 1, ne, CN_GGML_F32, f, sizeof f, &err), CAIRN_EINVAL);
	ne[0] = 3;
	assert_int_equal(cn_gguf_writer_add_tensor(w, "t", 1, ne, CN_GGML_F32, f, sizeof f, &err), CAIRN_OK);
	/* nested arrays and every scalar type round-trip through the reader */
	int8_t i8s[2] = {-1, 2};
	cn_gguf_value inner[2] = {{.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_I8, 2, i8s}},
	                          {.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_I8, 1, i8s + 1}}};
	cn_gguf_value nested = {.type = CN_GGUF_ARRAY, .v.arr = {CN_GGUF_ARRAY, 2, inner}};
	assert_int_equal(cn_gguf_writer_add_kv(w, "nested", &nested, &err), CAIRN_OK);
	cn_gguf_value d = {.type = CN_GGUF_F64, .v.f64 = 0.1}, i = {.type = CN_GGUF_I16, .v.i64 = -300},
	              bo = {.type = CN_GGUF_BOOL, .v.b = true}, u = {.type = CN_GGUF_U64, .v.u64 = 1ull << 40};
	assert_int_equal(cn_gguf_writer_add_kv(w, "f64", &d, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_writer_add_kv(w, "i16", &i, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_writer_add_kv(w, "bool", &bo, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_writer_add_kv(w, "u64", &u, &err), CAIRN_OK);
	snprintf(path, sizeof path, "%s/small.gguf", S.dir);
	assert_int_equal(cn_gguf_writer_write(w, path, &err), CAIRN_OK);
	cn_gguf_writer_free(w);
	cn_gguf *g = NULL;
	assert_int_equal(cn_gguf_open(path, &g, &err), CAIRN_OK);
	const cn_gguf_kv *k = cn_gguf_find(g, "nested");
	assert_non_null(k);
	assert_int_equal(k->value.v.arr.n, 2);
	const cn_gguf_value *el = k->value.v.arr.data;
	assert_int_equal(el[0].v.arr.n, 2);
	assert_int_equal(cn_gguf_arr_i64(&el[0].v.arr, 0), -1);
	assert_int_equal(cn_gguf_arr_i64(&el[1].v.arr, 0), 2);
	assert_true(cn_gguf_find(g, "f64")->value.v.f64 == 0.1);
	assert_int_equal(cn_gguf_find(g, "i16")->value.v.i64, -300);
	assert_true(cn_gguf_find(g, "bool")->value.v.b);
	assert_int_equal(cn_gguf_find(g, "u64")->value.v.u64, 1ull << 40);
	assert_int_equal(cn_gguf_find(g, "a.b")->value.v.u64, 7);
	assert_memory_equal(cn_gguf_tensor_find(g, "t")->data, f, sizeof f);
	cn_gguf_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_f32_roundtrip),
		cmocka_unit_test(test_generation_equal),
		cmocka_unit_test(test_types_and_python_reader),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
