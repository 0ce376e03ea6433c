/* encoder: cairn's BERT-family encoder (src/model/) against an independent PyTorch forward
 * pass (tests/reference/encoder_ref.py) over the same GGUF files, which
 * tests/reference/make_encoder_gguf.py writes at run time with random weights from a fixed
 * seed and the real bert-bge vocabulary (../shared/models/vocab/ggml-vocab-bert-bge.gguf):
 * hidden 384, 6 layers, 12 heads, ffn 1536, context 512 (a MiniLM / bge-small shape), in
 * every tensor type the kernels run. Each quantized model is compared twice: with the
 * reference computed from its own dequantized weights (the encoder's arithmetic) and with
 * the F32 model's reference (what the quantization costs). Also: nomic-bert (rotary, SwiGLU,
 * prefixes), [CLS] pooling, cross-encoder rerank scores, truncation, batches of unequal
 * lengths equal to one text at a time and independent of the thread count, concurrent calls
 * on one handle, hostile files rejected at open with a message naming the problem, and
 * allocation failures. Sanitizer builds (or CAIRN_TEST_SMALL=1) use a 2-layer, 128-wide
 * model. Skips when ../shared or python3-torch is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/model.h"
#include "testutil.h"

#define PY "/usr/bin/python3"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_BUILD 1
#endif
#endif
#ifndef SAN_BUILD
#define SAN_BUILD 0
#endif

static const char *const ALL_TYPES[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1",
                                        "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"};
#define N_ALL_TYPES (sizeof(ALL_TYPES) / sizeof(ALL_TYPES[0]))
/* Written with 2 layers instead of 6 to keep the test near a minute on two cores: the
 * types whose kernels share code with a 6-layer one (Q4_1/Q5_x with Q4_0, the K types with
 * Q4_K). nomic-bert and [CLS] pooling have 2 layers, the rerankers 3. */
#define SHORT_TYPES "Q4_1,Q5_0,Q5_1,Q5_K,Q6_K"

static bool short_type(const char *t)
{
	char pat[16];
	snprintf(pat, sizeof(pat), ",%s,", t);
	return strstr("," SHORT_TYPES ",", pat) != NULL;
}

typedef struct suite {
	bool ready;
	const char *skip_reason;
	char dir[256];
	bool quants; /* ggml_quants.py present: the quantized types were written */
	bool small;
	int n_types;
	const char *types[N_ALL_TYPES];
} suite;

static suite S;

/* ---- texts -------------------------------------------------------------------------------- */

static char g_long[8192];

/* Realistic inputs of unequal length: a query, the empty string, abstract sentences, non-ASCII
 * text, and one far over 512 tokens (truncation). */
static const char *TEXTS[] = {
	"What is the role of BRCA1 in DNA double-strand break repair?",
	"",
	"Vitamin D supplementation did not reduce the incidence of hip fractures in older adults living in the "
	"community, according to a meta-analysis of 33 randomized trials with 51,145 participants.",
	"Café naïve résumé — Zürich, 東京 and Ελληνικά side by side 🙂",
	g_long,
	"hello",
	"Microglia are the resident macrophages of the central nervous system.",
	"We report that deletion of the transcription factor Nrf2 in mice markedly increased susceptibility to "
	"acetaminophen hepatotoxicity, whereas pharmacological activation of Nrf2 by sulforaphane protected the "
	"liver; the protective effect was abolished in Nrf2-deficient animals, indicating that the response "
	"depends on the antioxidant response element and its downstream targets including NQO1 and HO-1.",
};
#define N_TEXTS (sizeof(TEXTS) / sizeof(TEXTS[0]))

static const char *QUERY = "Does vitamin D reduce the risk of fractures in older people?";
static const char *PASSAGES[] = {
	"Vitamin D supplementation did not reduce the incidence of hip fractures in older adults.",
	"The Eiffel Tower is in Paris.",
	g_long,
	"Calcium and vitamin D together lowered fracture risk in institutionalised elderly women.",
	"",
	"Randomized trial; 2,686 participants; cholecalciferol 100,000 IU every four months for five years.",
};
#define N_PASSAGES (sizeof(PASSAGES) / sizeof(PASSAGES[0]))

static void make_long_text(void)
{
	const char *para = "Chronic inflammation drives tissue remodeling through cytokine signaling, and the balance "
	                   "between pro-inflammatory and resolving mediators determines whether fibrosis develops. ";
	g_long[0] = '\0';
	while (strlen(g_long) + strlen(para) < sizeof(g_long) - 1)
		strcat(g_long, para); /* ~ 1,600 tokens: cut to 512 */
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", S.dir, name);
}

static float *read_f32(const char *name, size_t n)
{
	char p[512];
	path_of(p, sizeof(p), name);
	char *data = NULL;
	size_t len = 0;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read(p, 1 << 28, &data, &len, &err) != CAIRN_OK)
		fail_msg("reference output: %s", err.msg);
	if (len != n * sizeof(float))
		fail_msg("%s: %zu bytes, expected %zu", p, len, n * sizeof(float));
	float *v = cn_malloc(len);
	memcpy(v, data, len);
	cn_free(data);
	return v;
}

static double cosine(const float *a, const float *b, int64_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int64_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i] - b[i]));
	return m;
}

static cairn_encoder *open_model(const char *name, int threads, int max_batch)
{
	char p[512];
	path_of(p, sizeof(p), name);
	cairn_encoder_params prm = cairn_encoder_default_params();
	prm.n_threads = threads;
	if (max_batch)
		prm.max_batch = max_batch;
	cairn_encoder *e = NULL;
	char err[1024];
	if (cairn_encoder_open(p, &prm, &e, err, sizeof(err)) != CAIRN_OK)
		fail_msg("open %s: %s", name, err);
	return e;
}

static float *embed_all(cairn_encoder *e, const char *const *texts, size_t n, cairn_embed_kind kind)
{
	cairn_encoder_info info;
	cairn_encoder_get_info(e, &info);
	float *out = cn_malloc(n * (size_t)info.dim * sizeof(float));
	if (cairn_embed(e, texts, n, kind, out) != CAIRN_OK)
		fail_msg("embed: %s", cairn_encoder_errmsg(e));
	return out;
}

/* Smallest cosine over the rows. */
static double min_cos(const float *a, const float *b, size_t rows, int64_t dim)
{
	double m = 1.0;
	for (size_t r = 0; r < rows; r++)
		m = fmin(m, cosine(a + r * (size_t)dim, b + r * (size_t)dim, dim));
	return m;
}

/* ---- the suite: models and reference outputs ---------------------------------------------- */

static void json_texts(cn_buf *b, const char *const *texts, size_t n)
{
	cn_buf_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			cn_buf_puts(b, ",");
		cn_buf_put_json_str(b, texts[i], strlen(texts[i]));
	}
	cn_buf_puts(b, "]");
}

static void job(cn_buf *b, const char *model, const char *weights, const char *mode, const char *prefix,
                const char *query, const char *const *texts, size_t n, const char *out)
{
	cn_buf_printf(b, "%s{\"model\":\"%s/%s\",\"mode\":\"%s\",\"out\":\"%s/%s\"", b->len > 2 ? ",\n" : "", S.dir,
	              model, mode, S.dir, out);
	if (weights)
		cn_buf_printf(b, ",\"weights\":\"%s/%s\"", S.dir, weights);
	if (prefix) {
		cn_buf_puts(b, ",\"prefix\":");
		cn_buf_put_json_str(b, prefix, strlen(prefix));
	}
	if (query) {
		cn_buf_puts(b, ",\"query\":");
		cn_buf_put_json_str(b, query, strlen(query));
	}
	cn_buf_puts(b, ",\"texts\":");
	json_texts(b, texts, n);
	cn_buf_puts(b, "}");
}

static const char *LONG_QUERY_PASSAGES[2];

static int suite_setup(void **state)
{
	(void)state;
	make_long_text();
	LONG_QUERY_PASSAGES[0] = PASSAGES[0];
	LONG_QUERY_PASSAGES[1] = g_long;
	const char *shared = cn_test_shared_dir();
	static char vocab[1024];
	if (shared)
		snprintf(vocab, sizeof(vocab), "%s/models/vocab/ggml-vocab-bert-bge.gguf", shared);
	if (!shared || !cn_path_exists(vocab)) {
		S.skip_reason = "../shared/models/vocab/ggml-vocab-bert-bge.gguf not found (set CAIRN_SHARED)";
		return 0;
	}
	char *torch_argv[] = {PY, "-c", "import torch, numpy", NULL};
	if (cn_test_run(torch_argv) != 0) {
		S.skip_reason = "python3 with torch and numpy not available (/usr/bin/python3 -c 'import torch')";
		return 0;
	}
	char *q_argv[] = {PY, "-c", "import sys; sys.path.insert(0, 'tests/reference'); import ggml_quants", NULL};
	S.quants = cn_test_run(q_argv) == 0;
	const char *small_env = getenv("CAIRN_TEST_SMALL");
	S.small = SAN_BUILD || (small_env && *small_env && strcmp(small_env, "0") != 0);
	S.n_types = 0;
	for (size_t i = 0; i < N_ALL_TYPES; i++)
		if (S.quants || i < 3)
			S.types[S.n_types++] = ALL_TYPES[i];
	if (cn_test_mkdtemp(S.dir, sizeof(S.dir), "encoder") != 0)
		return -1;
	char types[256] = "";
	for (int i = 0; i < S.n_types; i++)
		snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%s", i ? "," : "", S.types[i]);
	char *gen[] = {PY,      "tests/reference/make_encoder_gguf.py", "suite", S.dir, "--vocab", vocab, "--types", types,
	               "--short", SHORT_TYPES, S.small ? "--small" : NULL, NULL};
	if (cn_test_run(gen) != 0) {
		fprintf(stderr, "make_encoder_gguf.py failed\n");
		return -1;
	}
	/* reference jobs */
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "[\n");
	char name[64], out[64];
	for (int i = 0; i < S.n_types; i++) {
		snprintf(name, sizeof(name), "bert-%s.gguf", S.types[i]);
		snprintf(out, sizeof(out), "ref-bert-%s.bin", S.types[i]);
		job(&b, name, NULL, "embed", NULL, NULL, TEXTS, N_TEXTS, out);
	}
	for (int i = 0; i < S.n_types && !S.small; i++)
		if (short_type(S.types[i])) { /* the F32 model cut to the short types' depth */
			snprintf(name, sizeof(name), "bert-%s.gguf", S.types[i]);
			job(&b, name, "bert-F32.gguf", "embed", NULL, NULL, TEXTS, N_TEXTS, "ref-bert-F32-short.bin");
			break;
		}
	job(&b, "bert-cls-F16.gguf", NULL, "embed", NULL, NULL, TEXTS, N_TEXTS, "ref-bert-cls-F16.bin");
	job(&b, "nomic-F32.gguf", NULL, "embed", "search_query: ", NULL, TEXTS, N_TEXTS, "ref-nomic-F32-q.bin");
	job(&b, "nomic-F32.gguf", NULL, "embed", "search_document: ", NULL, TEXTS, N_TEXTS, "ref-nomic-F32-d.bin");
	job(&b, "nomic-F32.gguf", NULL, "embed", "", NULL, TEXTS, N_TEXTS, "ref-nomic-F32-none.bin");
	job(&b, "rerank-F32.gguf", NULL, "rerank", NULL, QUERY, PASSAGES, N_PASSAGES, "ref-rerank-F32.bin");
	job(&b, "rerank-F32.gguf", NULL, "rerank", NULL, g_long, LONG_QUERY_PASSAGES, 2, "ref-rerank-F32-long.bin");
	job(&b, "tiny-rank-nopool-F16.gguf", NULL, "rerank", NULL, QUERY, PASSAGES, N_PASSAGES, "ref-rerank-nopool.bin");
	if (S.quants) {
		job(&b, "nomic-Q8_0.gguf", NULL, "embed", "search_query: ", NULL, TEXTS, N_TEXTS, "ref-nomic-Q8_0-q.bin");
		job(&b, "rerank-Q8_0.gguf", NULL, "rerank", NULL, QUERY, PASSAGES, N_PASSAGES, "ref-rerank-Q8_0.bin");
	}
	cn_buf_puts(&b, "\n]\n");
	char jobs[512];
	path_of(jobs, sizeof(jobs), "jobs.json");
	cn_err err;
	cn_err_clear(&err);
	cairn_status rc = cn_file_write_atomic(jobs, b.data, b.len, &err);
	cn_buf_free(&b);
	if (rc != CAIRN_OK)
		return -1;
	char *ref[] = {PY, "tests/reference/encoder_ref.py", jobs, NULL};
	if (cn_test_run(ref) != 0) {
		fprintf(stderr, "encoder_ref.py failed\n");
		return -1;
	}
	S.ready = true;
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	if (S.dir[0] && !getenv("CAIRN_TEST_KEEP"))
		cn_test_rmtree(S.dir);
	return 0;
}

#define NEED_SUITE()                                                   \
	do {                                                           \
		if (!S.ready) {                                        \
			print_message("skipped: %s\n", S.skip_reason); \
			skip();                                        \
		}                                                      \
	} while (0)

/* ---- parity ------------------------------------------------------------------------------- */

/* Cosine floor against the F32 model's reference, per type (what quantization may cost). */
static double f32_floor(const char *t)
{
	if (!strcmp(t, "F32"))
		return 0.99999;
	if (!strcmp(t, "F16") || !strcmp(t, "BF16"))
		return 0.9999;
	if (!strcmp(t, "Q8_0"))
		return 0.999;
	return 0.99; /* 4-, 5- and 6-bit */
}

static void test_embed_parity_all_types(void **state)
{
	(void)state;
	NEED_SUITE();
	float *ref32 = NULL, *ref32s = NULL;
	int64_t dim = 0;
	for (int i = 0; i < S.n_types; i++) {
		const char *t = S.types[i];
		char name[64];
		snprintf(name, sizeof(name), "bert-%s.gguf", t);
		cairn_encoder *e = open_model(name, 2, 0);
		cairn_encoder_info info;
		cairn_encoder_get_info(e, &info);
		assert_string_equal(info.architecture, "bert");
		assert_string_equal(info.pooling, "mean");
		assert_int_equal(info.max_tokens, S.small ? 128 : 512);
		assert_false(info.is_reranker);
		dim = info.dim;
		float *c = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT);
		snprintf(name, sizeof(name), "ref-bert-%s.bin", t);
		float *ref = read_f32(name, N_TEXTS * (size_t)dim);
		if (!ref32)
			ref32 = read_f32("ref-bert-F32.bin", N_TEXTS * (size_t)dim);
		bool shallow = short_type(t) && !S.small;
		if (shallow && !ref32s)
			ref32s = read_f32("ref-bert-F32-short.bin", N_TEXTS * (size_t)dim);
		double same = min_cos(c, ref, N_TEXTS, dim), vs32 = min_cos(c, shallow ? ref32s : ref32, N_TEXTS, dim);
		print_message("  %-5s %d layers: min cos vs reference on its own weights %.8f, vs F32 model's reference "
		              "%.8f; max |diff| (own) %.2e\n",
		              t, info.n_layers, same, vs32, max_abs_diff(c, ref, N_TEXTS * (size_t)dim));
		assert_true(same >= 0.99999);
		assert_true(vs32 >= f32_floor(t));
		for (size_t r = 0; r < N_TEXTS; r++) { /* normalized rows */
			double n2 = cosine(c + r * (size_t)dim, c + r * (size_t)dim, dim);
			assert_true(fabs(n2 - 1.0) < 1e-6);
			double norm = sqrt((double)cn_dot_f32(c + r * (size_t)dim, c + r * (size_t)dim, dim));
			assert_true(fabs(norm - 1.0) < 1e-5);
		}
		cn_free(c);
		cn_free(ref);
		cairn_encoder_close(e);
	}
	cn_free(ref32);
	cn_free(ref32s);
}

static void test_cls_pooling(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_encoder *e = open_model("bert-cls-F16.gguf", 2, 0);
	cairn_encoder_info info;
	cairn_encoder_get_info(e, &info);
	assert_string_equal(info.pooling, "cls");
	float *c = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_QUERY); /* bert: no prefix either way */
	float *ref = read_f32("ref-bert-cls-F16.bin", N_TEXTS * (size_t)info.dim);
	double cs = min_cos(c, ref, N_TEXTS, info.dim);
	print_message("  cls pooling (F16): min cos %.8f\n", cs);
	assert_true(cs >= 0.99999);
	cn_free(c);
	cn_free(ref);
	cairn_encoder_close(e);
}

static void test_nomic_bert(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_encoder *e = open_model("nomic-F32.gguf", 2, 0);
	cairn_encoder_info info;
	cairn_encoder_get_info(e, &info);
	assert_string_equal(info.architecture, "nomic-bert");
	int64_t dim = info.dim;
	float *q = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_QUERY);
	float *d = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT);
	float *rq = read_f32("ref-nomic-F32-q.bin", N_TEXTS * (size_t)dim);
	float *rd = read_f32("ref-nomic-F32-d.bin", N_TEXTS * (size_t)dim);
	float *rn = read_f32("ref-nomic-F32-none.bin", N_TEXTS * (size_t)dim);
	double cq = min_cos(q, rq, N_TEXTS, dim), cd = min_cos(d, rd, N_TEXTS, dim);
	print_message("  nomic-bert F32: query (search_query: ) min cos %.8f, document min cos %.8f\n", cq, cd);
	assert_true(cq >= 0.99999);
	assert_true(cd >= 0.99999);
	assert_true(min_cos(q, d, N_TEXTS, dim) < 0.9999); /* the prefixes matter */
	cairn_encoder_close(e);

	/* "" turns the prefix off */
	char p[512];
	path_of(p, sizeof(p), "nomic-F32.gguf");
	cairn_encoder_params prm = cairn_encoder_default_params();
	prm.query_prefix = "";
	char err[256];
	assert_int_equal(cairn_encoder_open(p, &prm, &e, err, sizeof(err)), CAIRN_OK);
	float *n = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_QUERY);
	assert_true(min_cos(n, rn, N_TEXTS, dim) >= 0.99999);
	cairn_encoder_close(e);
	cn_free(n);

	if (S.quants) {
		e = open_model("nomic-Q8_0.gguf", 2, 0);
		float *q8 = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_QUERY);
		float *r8 = read_f32("ref-nomic-Q8_0-q.bin", N_TEXTS * (size_t)dim);
		double own = min_cos(q8, r8, N_TEXTS, dim), vs32 = min_cos(q8, rq, N_TEXTS, dim);
		print_message("  nomic-bert Q8_0: min cos own weights %.8f, vs F32 reference %.8f\n", own, vs32);
		assert_true(own >= 0.99999);
		assert_true(vs32 >= 0.999);
		cn_free(q8);
		cn_free(r8);
		cairn_encoder_close(e);
	}
	cn_free(q);
	cn_free(d);
	cn_free(rq);
	cn_free(rd);
	cn_free(rn);
}

static double max_rel_score_diff(const float *a, const float *ref, size_t n)
{
	double lo = ref[0], hi = ref[0], m = 0;
	for (size_t i = 0; i < n; i++) {
		lo = fmin(lo, ref[i]);
		hi = fmax(hi, ref[i]);
		m = fmax(m, fabs((double)a[i] - ref[i]));
	}
	return m / fmax(hi - lo, 1.0); /* logits: an error of 0.01 matters as much at any spread under 1 */
}

static void test_rerank(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_encoder *e = open_model("rerank-F32.gguf", 2, 0);
	cairn_encoder_info info;
	cairn_encoder_get_info(e, &info);
	assert_true(info.is_reranker);
	assert_string_equal(info.pooling, "rank");
	float sc[N_PASSAGES], one[1];
	assert_int_equal(cairn_rerank(e, QUERY, PASSAGES, N_PASSAGES, sc), CAIRN_OK);
	float *ref = read_f32("ref-rerank-F32.bin", N_PASSAGES);
	double d = max_abs_diff(sc, ref, N_PASSAGES), rel = max_rel_score_diff(sc, ref, N_PASSAGES);
	print_message("  rerank F32: scores %.5f %.5f %.5f %.5f %.5f %.5f; max |diff| %.2e (%.2e of max(score range, 1))\n",
	              sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], d, rel);
	assert_true(rel <= 1e-4);
	/* one pair at a time gives the same scores */
	for (size_t i = 0; i < N_PASSAGES; i++) {
		assert_int_equal(cairn_rerank(e, QUERY, &PASSAGES[i], 1, one), CAIRN_OK);
		assert_true(fabs(one[0] - sc[i]) <= 1e-5 * (1 + fabs(sc[i])));
	}
	/* a query over the context: the query is cut to half the room, the passage keeps the rest */
	float sl[2];
	assert_int_equal(cairn_rerank(e, g_long, LONG_QUERY_PASSAGES, 2, sl), CAIRN_OK);
	float *refl = read_f32("ref-rerank-F32-long.bin", 2);
	print_message("  rerank long query: %.5f %.5f vs reference %.5f %.5f\n", sl[0], sl[1], refl[0], refl[1]);
	assert_true(max_abs_diff(sl, refl, 2) <= 1e-4 * (1 + fabs(refl[0]) + fabs(refl[1])));
	cairn_encoder_close(e);
	/* classifier only, as llama.cpp converts a BertForSequenceClassification (no pooler) */
	e = open_model("tiny-rank-nopool-F16.gguf", 2, 0);
	float snp[N_PASSAGES];
	assert_int_equal(cairn_rerank(e, QUERY, PASSAGES, N_PASSAGES, snp), CAIRN_OK);
	float *refnp = read_f32("ref-rerank-nopool.bin", N_PASSAGES);
	print_message("  rerank without pooler (tiny F16): max |diff| %.2e\n", max_abs_diff(snp, refnp, N_PASSAGES));
	assert_true(max_rel_score_diff(snp, refnp, N_PASSAGES) <= 1e-4);
	cn_free(refnp);
	cairn_encoder_close(e);
	if (S.quants) {
		e = open_model("rerank-Q8_0.gguf", 2, 0);
		float s8[N_PASSAGES];
		assert_int_equal(cairn_rerank(e, QUERY, PASSAGES, N_PASSAGES, s8), CAIRN_OK);
		float *r8 = read_f32("ref-rerank-Q8_0.bin", N_PASSAGES);
		double own = max_rel_score_diff(s8, r8, N_PASSAGES), vs32 = max_rel_score_diff(s8, ref, N_PASSAGES);
		print_message("  rerank Q8_0: max |diff| / max(score range, 1): own weights %.2e, vs F32 reference %.2e\n",
		              own, vs32);
		assert_true(own <= 1e-4);
		assert_true(vs32 <= 0.03);
		cn_free(r8);
		cairn_encoder_close(e);
	}
	cn_free(ref);
	cn_free(refl);
}

/* Batches of unequal lengths equal one text at a time; other batch sizes and thread counts
 * change nothing. */
static void test_batch_equals_single(void **state)
{
	(void)state;
	NEED_SUITE();
	const char *models[] = {"bert-F32.gguf", S.quants ? "bert-Q4_K.gguf" : "bert-F16.gguf", "nomic-F32.gguf"};
	for (size_t mi = 0; mi < 3; mi++) {
		cairn_encoder *e = open_model(models[mi], 2, 0);
		cairn_encoder_info info;
		cairn_encoder_get_info(e, &info);
		size_t dim = (size_t)info.dim;
		float *batch = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT);
		double worst = 0, worst_cos = 1;
		for (size_t i = 0; i < N_TEXTS; i++) {
			float *one = embed_all(e, &TEXTS[i], 1, CAIRN_EMBED_DOCUMENT);
			worst = fmax(worst, max_abs_diff(one, batch + i * dim, dim));
			worst_cos = fmin(worst_cos, cosine(one, batch + i * dim, (int64_t)dim));
			cn_free(one);
		}
		cairn_encoder_close(e);
		cairn_encoder *e1 = open_model(models[mi], 1, 3); /* one thread, batches of 3 */
		float *b3 = embed_all(e1, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT);
		double d3 = max_abs_diff(b3, batch, N_TEXTS * dim);
		print_message("  %s: batch of %zu vs one at a time: max |diff| %.2e (min cos %.9f); 1 thread, batches of 3 "
		              "vs 2 threads, one batch: %.2e\n",
		              models[mi], N_TEXTS, worst, worst_cos, d3);
		assert_true(worst <= 1e-5);
		assert_true(d3 <= 1e-5);
		cn_free(b3);
		cn_free(batch);
		cairn_encoder_close(e1);
	}
}

/* ---- concurrency: calls on one handle are serialised ------------------------------------- */

typedef struct conc {
	cairn_encoder *e;
	float *out;
	cairn_status rc;
} conc;

static void *conc_main(void *arg)
{
	conc *c = arg;
	for (int k = 0; k < 3 && c->rc == CAIRN_OK; k++)
		c->rc = cairn_embed(c->e, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT, c->out);
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_encoder *e = open_model("tiny-F16.gguf", 2, 2);
	cairn_encoder_info info;
	cairn_encoder_get_info(e, &info);
	float *want = embed_all(e, TEXTS, N_TEXTS, CAIRN_EMBED_DOCUMENT);
	conc c[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (conc){e, cn_malloc(N_TEXTS * (size_t)info.dim * sizeof(float)), CAIRN_OK};
		assert_int_equal(pthread_create(&th[i], NULL, conc_main, &c[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].rc, CAIRN_OK);
		assert_true(max_abs_diff(c[i].out, want, N_TEXTS * (size_t)info.dim) == 0);
		cn_free(c[i].out);
	}
	cn_free(want);
	cairn_encoder_close(e);
}

/* ---- tokenization and truncation ---------------------------------------------------------- */

static void test_truncation(void **state)
{
	(void)state;
	NEED_SUITE();
	char p[512];
	path_of(p, sizeof(p), "tiny-F16.gguf");
	cn_encoder_model *m = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_encoder_load(p, &m, &err), CAIRN_OK);
	cn_tokvec t;
	cn_tokvec_init(&t);
	assert_int_equal(cn_encoder_tokenize(m, NULL, g_long, strlen(g_long), &t, &err), CAIRN_OK);
	assert_int_equal(t.n, 64); /* tiny: context 64 */
	assert_int_equal(t.ids[0], 101);
	assert_int_equal(t.ids[63], 102);
	t.n = 0;
	assert_int_equal(cn_encoder_tokenize(m, NULL, "", 0, &t, &err), CAIRN_OK);
	assert_int_equal(t.n, 2);
	t.n = 0;
	/* "hello" is one WordPiece token: [CLS] search _ query : hello [SEP] */
	assert_int_equal(cn_encoder_tokenize(m, "search_query: ", "hello", 5, &t, &err), CAIRN_OK);
	assert_int_equal(t.n, 7);
	t.n = 0;
	size_t n_first = 0;
	/* both long: the query gets half of the 61 tokens of room, the passage the rest */
	assert_int_equal(cn_encoder_tokenize_pair(m, g_long, strlen(g_long), g_long, strlen(g_long), &t, &n_first, &err),
	                 CAIRN_OK);
	assert_int_equal(t.n, 64);
	assert_int_equal(n_first, 1 + 30 + 1);
	assert_int_equal(t.ids[0], 101);
	assert_int_equal(t.ids[31], 102);
	assert_int_equal(t.ids[63], 102);
	t.n = 0;
	/* short query, long passage: the passage is cut */
	assert_int_equal(cn_encoder_tokenize_pair(m, "hello", 5, g_long, strlen(g_long), &t, &n_first, &err), CAIRN_OK);
	assert_int_equal(t.n, 64);
	assert_int_equal(n_first, 3);
	t.n = 0;
	/* long query, short passage: the query takes what the passage leaves */
	assert_int_equal(cn_encoder_tokenize_pair(m, g_long, strlen(g_long), "hello", 5, &t, &n_first, &err), CAIRN_OK);
	assert_int_equal(t.n, 64);
	assert_int_equal(n_first, 62);
	cn_tokvec_free(&t);

	/* FLOP count of the forward pass: 2 layers × (T × per-token + 4 L² E) */
	int64_t lens[2] = {10, 20};
	double E = 64, FF = 256, per_token = 2 * E * 3 * E + 2 * E * E + 2 * E * FF * 2;
	double want = 2 * (30 * per_token + 4 * E * (100 + 400));
	assert_true(fabs(cn_encoder_flops(m, lens, 2) - want) < 1);

	/* ids outside the vocabulary and over-long sequences are refused by the forward pass */
	int32_t bad[2] = {101, 40000};
	cn_enc_seq sq = {bad, 2, 2};
	cn_enc_work w = {0};
	float out[64];
	assert_int_equal(cn_encoder_forward(m, NULL, &w, &sq, 1, true, out, &err), CAIRN_EINVAL);
	cn_enc_work_free(&w);
	cn_encoder_free(m);

	/* a SentencePiece vocabulary (RoBERTa-style framing): <s> text </s>, pairs <s> q </s></s> p </s> */
	char vocab[1024], spm[512];
	snprintf(vocab, sizeof(vocab), "%s/models/vocab/ggml-vocab-llama-spm.gguf", cn_test_shared_dir());
	path_of(spm, sizeof(spm), "tiny-spm.gguf");
	char *gen[] = {PY,       "tests/reference/make_encoder_gguf.py", "model", spm, "--vocab", vocab, "--type", "F16",
	               "--layers", "1", "--hidden", "32", "--heads", "2", "--ff", "64", "--ctx", "16", NULL};
	assert_int_equal(cn_test_run(gen), 0);
	assert_int_equal(cn_encoder_load(spm, &m, &err), CAIRN_OK);
	cn_tokvec_init(&t);
	assert_int_equal(cn_encoder_tokenize(m, NULL, "Hello world", 11, &t, &err), CAIRN_OK);
	assert_int_equal(t.n, 4); /* <s> ▁Hello ▁world </s> */
	assert_int_equal(t.ids[0], 1);
	assert_int_equal(t.ids[1], 15043);
	assert_int_equal(t.ids[3], 2);
	t.n = 0;
	assert_int_equal(cn_encoder_tokenize_pair(m, "Hello", 5, "world", 5, &t, &n_first, &err), CAIRN_OK);
	int32_t want_pair[] = {1, 15043, 2, 2, 3186, 2};
	assert_int_equal(t.n, 6);
	assert_memory_equal(t.ids, want_pair, sizeof(want_pair));
	assert_int_equal(n_first, 3);
	t.n = 0;
	assert_int_equal(cn_encoder_tokenize(m, NULL, g_long, strlen(g_long), &t, &err), CAIRN_OK);
	assert_int_equal(t.n, 16);
	assert_int_equal(t.ids[15], 2);
	cn_tokvec_free(&t);
	cn_encoder_free(m);
}

/* ---- hostile files ------------------------------------------------------------------------ */

static void test_hostile_files(void **state)
{
	(void)state;
	NEED_SUITE();
	static const struct {
		const char *brk;
		cairn_status rc;
		const char *msg1, *msg2;
	} cases[] = {
		{"missing", CAIRN_EFORMAT, "tensor 'blk.1.attn_k.weight' is missing", "bert"},
		{"shape", CAIRN_EFORMAT, "tensor 'blk.0.attn_q.weight' has shape [64, 60], expected [64, 64]", "n_embd"},
		{"meta", CAIRN_EFORMAT, "tensor 'blk.0.ffn_up.weight' has shape [64, 256], expected [64, 128]", "n_ff"},
		{"vocab", CAIRN_EFORMAT, "tensor 'token_embd.weight' has shape [64, 30422], expected [64, 30522]",
		 "tokenizer's 30522 tokens"},
		{"arch", CAIRN_EUNSUPPORTED, "architecture \"llama\" is not an encoder", "bert, nomic-bert"},
		{"iq2", CAIRN_EUNSUPPORTED, "tensor 'blk.0.ffn_down.weight' has type IQ2_XXS", "do not run"},
		{"heads", CAIRN_EFORMAT, "bert.attention.head_count = 5 does not divide bert.embedding_length = 64", ""},
		{"pos", CAIRN_EFORMAT, "tensor 'position_embd.weight' has shape [64, 32], expected [64, ≥ 64]",
		 "context_length"},
		{"nocls", CAIRN_EFORMAT, "rank", "'cls.output.weight' (the classifier) is missing"},
		{"causal", CAIRN_EUNSUPPORTED, "bert.attention.causal = true", "not an encoder"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64], p[512], err[1024] = "";
		snprintf(name, sizeof(name), "hostile-%s.gguf", cases[i].brk);
		path_of(p, sizeof(p), name);
		cairn_encoder *e = (cairn_encoder *)1;
		cairn_status rc = cairn_encoder_open(p, NULL, &e, err, sizeof(err));
		print_message("  %-8s %s: %s\n", cases[i].brk, cairn_status_name(rc), err);
		assert_int_equal(rc, cases[i].rc);
		assert_null(e);
		assert_non_null(strstr(err, name)); /* names the file */
		assert_non_null(strstr(err, cases[i].msg1));
		assert_non_null(strstr(err, cases[i].msg2));
	}
	/* not a file at all */
	char err[1024];
	cairn_encoder *e = NULL;
	assert_int_not_equal(cairn_encoder_open("/nonexistent/model.gguf", NULL, &e, err, sizeof(err)), CAIRN_OK);
	assert_non_null(strstr(err, "/nonexistent/model.gguf"));
	/* a vocabulary-only file: no tensors */
	char vocab[1024];
	snprintf(vocab, sizeof(vocab), "%s/models/vocab/ggml-vocab-bert-bge.gguf", cn_test_shared_dir());
	assert_int_equal(cairn_encoder_open(vocab, NULL, &e, err, sizeof(err)), CAIRN_EFORMAT);
	assert_non_null(strstr(err, "tensor 'token_embd.weight' is missing"));
}

/* ---- API misuse and allocation failures --------------------------------------------------- */

static void test_api_errors(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_encoder *e = open_model("tiny-F16.gguf", 1, 0);
	cairn_encoder *r = open_model("tiny-rank-F16.gguf", 1, 0);
	float out[64 * 2], sc[2];
	const char *two[] = {"a", NULL};
	assert_int_equal(cairn_rerank(e, "q", two, 1, sc), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_encoder_errmsg(e), "use cairn_embed"));
	assert_int_equal(cairn_embed(r, two, 1, CAIRN_EMBED_DOCUMENT, out), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_encoder_errmsg(r), "use cairn_rerank"));
	assert_int_equal(cairn_embed(e, two, 2, CAIRN_EMBED_DOCUMENT, out), CAIRN_EINVAL); /* NULL text */
	assert_int_equal(cairn_embed(e, two, 1, (cairn_embed_kind)7, out), CAIRN_EINVAL);
	assert_int_equal(cairn_rerank(r, NULL, two, 1, sc), CAIRN_EINVAL);
	assert_int_equal(cairn_embed(e, NULL, 0, CAIRN_EMBED_DOCUMENT, NULL), CAIRN_OK); /* nothing to do */
	assert_int_equal(cairn_rerank(r, "q", NULL, 0, NULL), CAIRN_OK);
	assert_int_equal(cairn_embed(e, two, 1, CAIRN_EMBED_DOCUMENT, out), CAIRN_OK); /* still usable */
	cairn_encoder_params p = cairn_encoder_default_params();
	p.n_threads = -1;
	char err[256];
	cairn_encoder *x = NULL;
	assert_int_equal(cairn_encoder_open("whatever.gguf", &p, &x, err, sizeof(err)), CAIRN_EINVAL);
	assert_int_equal(cairn_encoder_open(NULL, NULL, &x, err, sizeof(err)), CAIRN_EINVAL);
	cairn_encoder_close(NULL);
	cairn_encoder_close(e);
	cairn_encoder_close(r);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	NEED_SUITE();
	char p[512];
	path_of(p, sizeof(p), "tiny-rank-F16.gguf");
	const char *pass[] = {"short", g_long, "a passage of medium length for the reranker"};
	float want[3];
	cairn_encoder *e = open_model("tiny-rank-F16.gguf", 1, 2);
	assert_int_equal(cairn_rerank(e, "query", pass, 3, want), CAIRN_OK);
	cairn_encoder_close(e);
	long ok_at = -1;
	for (long k = 1; k < 100000000 && ok_at < 0; k = k < 300 ? k + 1 : k + k / 4) {
		cn_alloc_fail_after(k);
		cairn_encoder *x = NULL;
		char err[256];
		cairn_encoder_params prm = cairn_encoder_default_params();
		prm.n_threads = 1;
		prm.max_batch = 2;
		cairn_status rc = cairn_encoder_open(p, &prm, &x, err, sizeof(err));
		if (rc == CAIRN_OK) {
			float got[3];
			rc = cairn_rerank(x, "query", pass, 3, got);
			if (rc == CAIRN_OK) {
				assert_true(max_abs_diff(got, want, 3) == 0);
				ok_at = k;
			}
			cairn_encoder_close(x);
		} else {
			assert_null(x);
		}
		cn_alloc_fail_after(0);
	}
	print_message("  open + rerank first succeed with the allocation failure at #%ld\n", ok_at);
	assert_true(ok_at > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed_parity_all_types),
		cmocka_unit_test(test_cls_pooling),
		cmocka_unit_test(test_nomic_bert),
		cmocka_unit_test(test_rerank),
		cmocka_unit_test(test_batch_equals_single),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_api_errors),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
