/* decoder: cairn's Llama/Qwen2 decoder (src/model/decoder*.c, generate.c) against
 *  - stories260K (a real Llama-architecture model, ../shared/models/stories260K), both as
 *    the llama2.c checkpoint through the gguf view (tokenizer tok512.bin) and as the GGUF
 *    llama.cpp's converter wrote: the tokenization, the logits table of positions 0-4 and the
 *    20 greedy ids published in its SOURCE.md, the published greedy text through the public
 *    cairn_generate, and the greedy continuations (64 tokens, 3 prompts) and logits of an
 *    independent PyTorch reference (tests/reference/decoder_ref.py, Hugging Face semantics);
 *  - random-weight GGUFs written at run time by tests/reference/make_decoder_gguf.py: llama
 *    (8 heads / 2 KV heads, the 32000-token llama-spm vocabulary, Q/K permuted as llama.cpp's
 *    converter does) and qwen2 (Q/K/V biases, tied output, NeoX RoPE, a small byte-level BPE
 *    vocabulary) in F32, F16, Q8_0 and Q4_K, plus linear RoPE scaling, Llama 3.1 rope_freqs,
 *    an explicit head size and llama biases: logits over a 64-token prompt and 32
 *    teacher-forced decoding steps against the reference on the same (dequantized) weights,
 *    top-1 agreement, and what quantization costs against the F32 model's reference;
 *  - invariants: batched prompt evaluation equals token-by-token evaluation and other batch
 *    sizes, the thread count changes nothing, truncating the cache and evaluating again
 *    equals a fresh evaluation; hostile files are refused at open with a message naming the
 *    problem; the public API's stop conditions, callbacks and errors; allocation failures.
 * Sanitizer builds (or CAIRN_TEST_SMALL=1) use 2-layer models and fewer types. Skips when
 * ../shared or python3-torch is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kern/kern.h"
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

#define N_PROMPT 64
#define N_GEN 32
#define STORY_GEN 64

static const char *const ALL_TYPES[] = {"F32", "F16", "Q8_0", "Q4_K"};
#define N_ALL_TYPES 4
static const char *const VARIANTS[] = {"llama-linear-F32", "llama-freqs-F32", "llama-headdim-F32", "llama-bias-F32",
                                       "qwen2-small-F32"};
#define N_VARIANTS 5
static const char *const STORY_PROMPTS[] = {"Once upon a time", "The little dog",
                                            "Lily and Ben went to the park. They"};
#define N_STORY 3

/* SOURCE.md: the greedy continuation of "Once upon a time" and the logits table */
static const int32_t STORY_IDS[5] = {1, 403, 407, 261, 378};
static const int32_t STORY_GREEDY[20] = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317,
                                         426, 338, 401, 396, 267, 337, 410, 408, 419, 292};
static const struct {
	int32_t id[5];
	double val[5];
	double first4[4];
} STORY_TABLE[5] = {
	{{403, 385, 410, 317, 407}, {17.0235, 15.4062, 13.1083, 12.7692, 12.4181}, {-6.22291, 8.40434, -6.22374, -6.22254}},
	{{407, 383, 261, 403, 432}, {18.4600, 14.2911, 10.8980, 10.6621, 10.3138}, {-9.58946, 3.84128, -9.59053, -9.58919}},
	{{261, 407, 383, 286, 272}, {17.1370, 11.7102, 11.1694, 10.2111, 9.9222}, {-12.1411, 1.77625, -12.14295, -12.14102}},
	{{378, 276, 328, 323, 376}, {18.8744, 11.0282, 9.8802, 8.7894, 8.1941}, {-6.71425, -6.05303, -6.71504, -6.71449}},
	{{432, 383, 322, 353, 323}, {17.7994, 14.2813, 9.7097, 9.5873, 9.1342}, {-10.13658, -5.32946, -10.13809, -10.13686}},
};
/* The published greedy text (llama2.c doc/stories260K.md), after the prompt. */
static const char *STORY_TEXT =
	", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red "
	"ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily "
	"was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"";

typedef struct suite {
	bool ready;
	const char *skip_reason;
	char dir[256];
	char bin[512], tok[512], gguf[512];
	bool small;
	int n_types;
	const char *types[N_ALL_TYPES];
	cn_tokvec story_prompts[N_STORY];
} suite;

static suite S;

/* ---- helpers ------------------------------------------------------------------------------ */

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", S.dir, name);
}

static char *read_all(const char *name, size_t *len)
{
	char p[512];
	path_of(p, sizeof(p), name);
	char *data = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read(p, (size_t)1 << 30, &data, len, &err) != CAIRN_OK)
		fail_msg("reference output: %s", err.msg);
	return data;
}

/* The prompt of a random model: N_PROMPT ids from a fixed LCG, the same for every type. */
static void random_prompt(int32_t *ids, int64_t n_vocab, uint32_t seed)
{
	uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
	for (int i = 0; i < N_PROMPT; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		ids[i] = (int32_t)((s >> 33) % (uint64_t)n_vocab);
	}
}

static cn_decoder_model *open_dec(const char *path, const char *tok)
{
	cn_decoder_model *m = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_decoder_open(path, tok, &m, &err) != CAIRN_OK)
		fail_msg("open %s: %s", path, err.msg);
	return m;
}

static cn_decoder_model *open_named(const char *name)
{
	char p[512], file[128];
	snprintf(file, sizeof(file), "%s.gguf", name);
	path_of(p, sizeof(p), file);
	return open_dec(p, NULL);
}

static cn_decoder_ctx *new_ctx(const cn_decoder_model *m, cn_pool *pool, int64_t n_ctx, int64_t n_batch)
{
	cn_decoder_ctx *c = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_decoder_ctx_new(m, pool, n_ctx, n_batch, &c, &err) != CAIRN_OK)
		fail_msg("context: %s", err.msg);
	return c;
}

static void eval_ok(cn_decoder_ctx *c, const int32_t *ids, int64_t n, unsigned flags, float *logits)
{
	cn_err err;
	cn_err_clear(&err);
	if (cn_decoder_eval(c, ids, n, flags, logits, &err) != CAIRN_OK)
		fail_msg("eval: %s", err.msg);
}

static int32_t argmax(const float *x, int64_t n)
{
	int32_t b = 0;
	for (int64_t i = 1; i < n; i++)
		if (x[i] > x[b])
			b = (int32_t)i;
	return b;
}

/* Gap between the largest and the second largest value. */
static double top_margin(const float *x, int64_t n)
{
	double a = -INFINITY, b = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		if (x[i] > a) {
			b = a;
			a = x[i];
		} else if (x[i] > b) {
			b = x[i];
		}
	}
	return a - b;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i] - b[i]));
	return m;
}

/* Prompt, then teacher-forced single steps: the logits of every position of prompt + gen[:-1],
 * rows as the reference writes them. */
static float *run_sequence(cn_decoder_ctx *c, const int32_t *prompt, int64_t np, const int32_t *gen, int64_t ng,
                           int64_t V)
{
	float *lg = cn_malloc((size_t)(np + ng - 1) * (size_t)V * sizeof(float));
	eval_ok(c, prompt, np, CN_DEC_ALL_LOGITS, lg);
	for (int64_t k = 0; k + 1 < ng; k++)
		eval_ok(c, &gen[k], 1, 0, lg + (np + k) * V);
	return lg;
}

/* ---- the suite: models and reference outputs ---------------------------------------------- */

static void job(cn_buf *b, const char *model, const int32_t *const *prompts, const int64_t *lens, int n, int n_gen,
                const char *out)
{
	cn_buf_printf(b, "%s{\"model\":\"%s\",\"n_gen\":%d,\"out\":\"%s/%s\",\"prompts\":[", b->len > 2 ? ",\n" : "",
	              model, n_gen, S.dir, out);
	for (int p = 0; p < n; p++) {
		cn_buf_puts(b, p ? ",[" : "[");
		for (int64_t i = 0; i < lens[p]; i++)
			cn_buf_printf(b, "%s%d", i ? "," : "", prompts[p][i]);
		cn_buf_puts(b, "]");
	}
	cn_buf_puts(b, "]}");
}

static int64_t vocab_of(const char *name)
{
	cn_decoder_model *m = open_named(name);
	int64_t v = cn_decoder_hparams_get(m)->n_vocab;
	cn_decoder_close(m);
	return v;
}

static int suite_setup(void **state)
{
	(void)state;
	const char *shared = cn_test_shared_dir();
	static char spm[1024], gpt2[1024];
	if (shared) {
		snprintf(spm, sizeof(spm), "%s/models/vocab/ggml-vocab-llama-spm.gguf", shared);
		snprintf(gpt2, sizeof(gpt2), "%s/models/vocab/ggml-vocab-gpt-2.gguf", shared);
		snprintf(S.bin, sizeof(S.bin), "%s/models/stories260K/stories260K.bin", shared);
		snprintf(S.tok, sizeof(S.tok), "%s/models/stories260K/tok512.bin", shared);
		snprintf(S.gguf, sizeof(S.gguf), "%s/models/stories260K/stories260K.gguf", shared);
	}
	if (!shared || !cn_path_exists(spm) || !cn_path_exists(gpt2) || !cn_path_exists(S.bin) ||
	    !cn_path_exists(S.gguf) || !cn_path_exists(S.tok)) {
		S.skip_reason = "../shared/models (vocab/, stories260K/) not found (set CAIRN_SHARED)";
		return 0;
	}
	char *torch_argv[] = {PY, "-c", "import torch, numpy", NULL};
	if (cn_test_run(torch_argv) != 0) {
		S.skip_reason = "python3 with torch and numpy not available (/usr/bin/python3 -c 'import torch')";
		return 0;
	}
	const char *small_env = getenv("CAIRN_TEST_SMALL");
	S.small = SAN_BUILD || (small_env && *small_env && strcmp(small_env, "0") != 0);
	S.n_types = 0;
	for (int i = 0; i < N_ALL_TYPES; i++)
		if (!S.small || i == 0 || i == 3) /* sanitizers: F32 and Q4_K */
			S.types[S.n_types++] = ALL_TYPES[i];
	if (cn_test_mkdtemp(S.dir, sizeof(S.dir), "decoder") != 0)
		return -1;
	char types[128] = "";
	for (int i = 0; i < S.n_types; i++)
		snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%s", i ? "," : "", S.types[i]);
	char *gen[] = {PY,           "tests/reference/make_decoder_gguf.py",
	               "suite",      S.dir,
	               "--llama-vocab", spm,
	               "--small-vocab", S.gguf,
	               "--bpe-vocab",   gpt2,
	               "--types",       types,
	               S.small ? "--small" : NULL, NULL};
	if (cn_test_run(gen) != 0) {
		fprintf(stderr, "make_decoder_gguf.py failed\n");
		return -1;
	}
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "[\n");
	char name[64], out[96], p[512];
	int32_t prompt[N_PROMPT];
	const int32_t *pp[N_STORY];
	int64_t lens[N_STORY];
	for (int fam = 0; fam < 2; fam++)
		for (int i = 0; i < S.n_types; i++) {
			snprintf(name, sizeof(name), "%s-%s", fam ? "qwen2" : "llama", S.types[i]);
			random_prompt(prompt, vocab_of(name), (uint32_t)fam);
			pp[0] = prompt;
			lens[0] = N_PROMPT;
			snprintf(p, sizeof(p), "%s/%s.gguf", S.dir, name);
			snprintf(out, sizeof(out), "ref-%s.bin", name);
			job(&b, p, pp, lens, 1, N_GEN, out);
		}
	for (int i = 0; i < N_VARIANTS; i++) {
		random_prompt(prompt, vocab_of(VARIANTS[i]), 7);
		pp[0] = prompt;
		lens[0] = N_PROMPT;
		snprintf(p, sizeof(p), "%s/%s.gguf", S.dir, VARIANTS[i]);
		snprintf(out, sizeof(out), "ref-%s.bin", VARIANTS[i]);
		job(&b, p, pp, lens, 1, N_GEN, out);
	}
	/* stories260K: the prompts tokenized by cairn (the tokenization itself is checked
	 * against SOURCE.md and, in test_spm, against SentencePiece) */
	cn_decoder_model *m = open_dec(S.gguf, NULL);
	cn_err err;
	cn_err_clear(&err);
	for (int i = 0; i < N_STORY; i++) {
		cn_tokvec_init(&S.story_prompts[i]);
		if (cn_vocab_encode(cn_decoder_vocab(m), STORY_PROMPTS[i], strlen(STORY_PROMPTS[i]), CN_TOK_ADD_SPECIAL,
		                    &S.story_prompts[i], &err) != CAIRN_OK)
			return -1;
		pp[i] = S.story_prompts[i].ids;
		lens[i] = (int64_t)S.story_prompts[i].n;
	}
	cn_decoder_close(m);
	job(&b, S.bin, pp, lens, N_STORY, STORY_GEN, "ref-stories.bin");
	cn_buf_puts(&b, "\n]\n");
	char jobs[512];
	path_of(jobs, sizeof(jobs), "jobs.json");
	cairn_status rc = cn_file_write_atomic(jobs, b.data, b.len, &err);
	cn_buf_free(&b);
	if (rc != CAIRN_OK)
		return -1;
	char *ref[] = {PY, "tests/reference/decoder_ref.py", jobs, NULL};
	if (cn_test_run(ref) != 0) {
		fprintf(stderr, "decoder_ref.py failed\n");
		return -1;
	}
	S.ready = true;
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_STORY; i++)
		cn_tokvec_free(&S.story_prompts[i]);
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

/* ---- stories260K -------------------------------------------------------------------------- */

static void check_story_model(cn_decoder_model *m, float *out_logits5)
{
	const cn_decoder_hparams *hp = cn_decoder_hparams_get(m);
	assert_string_equal(hp->arch_name, "llama");
	assert_int_equal(hp->n_vocab, 512);
	assert_int_equal(hp->n_head, 8);
	assert_int_equal(hp->n_head_kv, 4);
	assert_false(hp->rope_neox);
	int64_t V = hp->n_vocab;
	cn_tokvec t;
	cn_tokvec_init(&t);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vocab_encode(cn_decoder_vocab(m), "Once upon a time", 16, CN_TOK_ADD_SPECIAL, &t, &err),
	                 CAIRN_OK);
	assert_int_equal(t.n, 5);
	assert_memory_equal(t.ids, STORY_IDS, sizeof(STORY_IDS));
	cn_tokvec_free(&t);

	cn_decoder_ctx *c = new_ctx(m, NULL, 0, 0);
	float *lg = out_logits5;
	eval_ok(c, STORY_IDS, 5, CN_DEC_ALL_LOGITS, lg);
	double worst = 0;
	for (int p = 0; p < 5; p++) {
		const float *row = lg + p * V;
		float tmp[512];
		memcpy(tmp, row, sizeof(tmp));
		for (int k = 0; k < 5; k++) {
			int32_t id = argmax(tmp, V);
			assert_int_equal(id, STORY_TABLE[p].id[k]);
			worst = fmax(worst, fabs(tmp[id] - STORY_TABLE[p].val[k]));
			tmp[id] = -INFINITY;
		}
		for (int k = 0; k < 4; k++)
			worst = fmax(worst, fabs(row[k] - STORY_TABLE[p].first4[k]));
	}
	print_message("  logits at positions 0-4 vs SOURCE.md's table: max |diff| %.2e (top-5 ids equal)\n", worst);
	assert_true(worst <= 1e-3);
	/* greedy, one token at a time */
	int32_t id = argmax(lg + 4 * V, V);
	float step[512];
	for (int k = 0; k < 20; k++) {
		assert_int_equal(id, STORY_GREEDY[k]);
		eval_ok(c, &id, 1, 0, step);
		id = argmax(step, V);
	}
	cn_decoder_ctx_free(c);
}

static void test_stories_source(void **state)
{
	(void)state;
	NEED_SUITE();
	float a[5 * 512], b[5 * 512];
	print_message("  stories260K.bin (llama2.c, through the gguf view) + tok512.bin:\n");
	cn_decoder_model *m = open_dec(S.bin, S.tok);
	check_story_model(m, a);
	cn_decoder_close(m);
	print_message("  stories260K.gguf (llama.cpp's converter):\n");
	m = open_dec(S.gguf, NULL);
	check_story_model(m, b);
	assert_int_equal(cn_decoder_hparams_get(m)->n_ctx_train, 128);
	cn_decoder_close(m);
	assert_memory_equal(a, b, sizeof(a)); /* the same float32 weights: the same bits */
}

static void test_stories_reference(void **state)
{
	(void)state;
	NEED_SUITE();
	size_t len = 0;
	char *ref = read_all("ref-stories.bin", &len);
	const char *files[2][2] = {{S.bin, S.tok}, {S.gguf, NULL}};
	for (int f = 0; f < 2; f++) {
		cn_decoder_model *m = open_dec(files[f][0], files[f][1]);
		int64_t V = cn_decoder_hparams_get(m)->n_vocab;
		size_t off = 0;
		double worst = 0;
		for (int i = 0; i < N_STORY; i++) {
			int64_t np = (int64_t)S.story_prompts[i].n, rows = np + STORY_GEN - 1;
			const int32_t *rgen = (const int32_t *)(ref + off);
			const float *rlog = (const float *)(ref + off + STORY_GEN * 4);
			off += STORY_GEN * 4 + (size_t)rows * (size_t)V * 4;
			assert_true(off <= len);
			/* our own greedy continuation */
			cn_decoder_ctx *c = new_ctx(m, NULL, 0, 0);
			float *lg = cn_malloc((size_t)V * sizeof(float));
			eval_ok(c, S.story_prompts[i].ids, np, 0, lg);
			int32_t mine[STORY_GEN];
			for (int k = 0; k < STORY_GEN; k++) {
				mine[k] = argmax(lg, V);
				if (k + 1 < STORY_GEN)
					eval_ok(c, &mine[k], 1, 0, lg);
			}
			assert_memory_equal(mine, rgen, sizeof(mine));
			cn_decoder_ctx_free(c);
			cn_free(lg);
			/* teacher-forced logits */
			c = new_ctx(m, NULL, 0, 0);
			float *all = run_sequence(c, S.story_prompts[i].ids, np, rgen, STORY_GEN, V);
			worst = fmax(worst, max_abs_diff(all, rlog, (size_t)(rows * V)));
			cn_free(all);
			cn_decoder_ctx_free(c);
		}
		assert_int_equal(off, len);
		print_message("  %s: greedy %d tokens x %d prompts equal the reference's; logits max |diff| %.2e\n",
		              f ? "stories260K.gguf" : "stories260K.bin", STORY_GEN, N_STORY, worst);
		assert_true(worst <= 1e-3);
		cn_decoder_close(m);
	}
	cn_free(ref);
}

/* ---- random models against the reference -------------------------------------------------- */

typedef struct parity {
	double max_diff;  /* over all rows */
	double agree;     /* fraction of rows with the same argmax */
	int rows, ties;   /* rows skipped for a near-tie in the reference */
} parity;

static parity compare_rows(const float *mine, const float *ref, int rows, int64_t V, double tie)
{
	parity r = {0, 0, rows, 0};
	int same = 0, counted = 0;
	for (int i = 0; i < rows; i++) {
		const float *a = mine + (size_t)i * (size_t)V, *b = ref + (size_t)i * (size_t)V;
		r.max_diff = fmax(r.max_diff, max_abs_diff(a, b, (size_t)V));
		if (top_margin(b, V) < tie) {
			r.ties++;
			continue;
		}
		counted++;
		same += argmax(a, V) == argmax(b, V);
	}
	r.agree = counted ? (double)same / counted : 1.0;
	return r;
}

/* The prompt seed each model's reference job used (suite_setup). */
static uint32_t prompt_seed(const char *name)
{
	for (int i = 0; i < N_VARIANTS; i++)
		if (!strcmp(name, VARIANTS[i]))
			return 7;
	return strncmp(name, "qwen2-", 6) == 0 ? 1 : 0;
}

/* Runs `name` on the prompt and the reference's greedy tokens (of ref_name's file); returns
 * our logits (rows × V) and sets *ref_out to the reference file's. */
static float *run_against(const char *name, const char *ref_name, char **ref_out, int64_t *V_out)
{
	cn_decoder_model *m = open_named(name);
	int64_t V = cn_decoder_hparams_get(m)->n_vocab;
	char rn[96];
	snprintf(rn, sizeof(rn), "ref-%s.bin", ref_name);
	size_t len = 0;
	char *ref = read_all(rn, &len);
	int rows = N_PROMPT + N_GEN - 1;
	assert_int_equal(len, N_GEN * 4 + (size_t)rows * (size_t)V * 4);
	int32_t prompt[N_PROMPT];
	random_prompt(prompt, V, prompt_seed(name));
	cn_decoder_ctx *c = new_ctx(m, NULL, 0, 0);
	float *mine = run_sequence(c, prompt, N_PROMPT, (const int32_t *)ref, N_GEN, V);
	cn_decoder_ctx_free(c);
	cn_decoder_close(m);
	*ref_out = ref;
	*V_out = V;
	return mine;
}

/* 8-bit activations (the M = 1 path's default): logits within Q8_DIFF of the largest
 * logit, top-1 agreement where the reference's top-2 gap exceeds Q8_TIE of it. */
#define Q8_DIFF 0.03
#define Q8_TIE 0.02

static void test_random_parity(void **state)
{
	(void)state;
	NEED_SUITE();
	int rows = N_PROMPT + N_GEN - 1;
	for (int fam = 0; fam < 2; fam++) {
		const char *f = fam ? "qwen2" : "llama";
		char *ref32 = NULL;
		for (int i = 0; i < S.n_types; i++) {
			char name[64];
			snprintf(name, sizeof(name), "%s-%s", f, S.types[i]);
			char *ref = NULL;
			int64_t V = 0;
			/* the model's math against the reference on the same weights: F32 activations
			 * in every product, so only rounding separates the two */
			cn_kern_set_q8_act(false);
			float *mine = run_against(name, name, &ref, &V);
			cn_kern_set_q8_act(true);
			parity own = compare_rows(mine, (const float *)(ref + N_GEN * 4), rows, V, 1e-3);
			bool quant = !strcmp(S.types[i], "Q8_0") || !strcmp(S.types[i], "Q4_K");
			if (quant) {
				/* the default path: single tokens on 8-bit activations (cn_kern_set_q8_act),
				 * which adds up to ~1% of a logit's scale: top-1 on the rows whose
				 * reference margin is above Q8_TIE, logits within Q8_DIFF of the scale */
				char *ref2 = NULL;
				float *q8 = run_against(name, name, &ref2, &V);
				const float *rr = (const float *)(ref + N_GEN * 4);
				double scale = 0;
				for (size_t k = 0; k < (size_t)rows * (size_t)V; k++)
					scale = fmax(scale, fabs(rr[k]));
				parity p8 = compare_rows(q8, rr, rows, V, Q8_TIE * scale);
				print_message("  %-10s 8-bit activations: max |diff| %.2e (%.2f%% of the largest logit), top-1 %.3f "
				              "(%d near-ties below %.3f skipped)\n",
				              name, p8.max_diff, 100 * p8.max_diff / scale, p8.agree, p8.ties, Q8_TIE * scale);
				assert_true(p8.max_diff <= Q8_DIFF * scale);
				assert_true(p8.agree == 1.0);
				cn_free(q8);
				cn_free(ref2);
			}
			if (!ref32) {
				size_t len;
				char rn[96];
				snprintf(rn, sizeof(rn), "ref-%s-F32.bin", f);
				ref32 = read_all(rn, &len);
			}
			/* what quantization costs, against the F32 model's reference: only the prompt
			 * rows see identical inputs (the teacher tokens are each model's own greedy
			 * choices, which part once a quantized model diverges) */
			parity vs32 = compare_rows(mine, (const float *)(ref32 + N_GEN * 4), N_PROMPT, V, 1e-3);
			print_message("  %-10s own weights: max |diff| %.2e, top-1 %.3f (%d near-ties skipped); vs the F32 "
			              "model: prompt rows top-1 %.3f, max |diff| %.3f\n",
			              name, own.max_diff, own.agree, own.ties, vs32.agree, vs32.max_diff);
			assert_true(own.max_diff <= 1e-3);
			assert_true(own.agree == 1.0);
			if (!strcmp(S.types[i], "F16") || !strcmp(S.types[i], "Q8_0"))
				assert_true(vs32.agree >= 0.9);
			else if (!strcmp(S.types[i], "Q4_K"))
				assert_true(vs32.agree >= 0.5);
			cn_free(mine);
			cn_free(ref);
		}
		cn_free(ref32);
	}
	for (int i = 0; i < N_VARIANTS; i++) {
		char *ref = NULL;
		int64_t V = 0;
		float *mine = run_against(VARIANTS[i], VARIANTS[i], &ref, &V);
		parity own = compare_rows(mine, (const float *)(ref + N_GEN * 4), rows, V, 1e-3);
		print_message("  %-18s max |diff| %.2e, top-1 %.3f\n", VARIANTS[i], own.max_diff, own.agree);
		assert_true(own.max_diff <= 1e-3);
		assert_true(own.agree == 1.0);
		cn_free(mine);
		cn_free(ref);
	}
}

/* ---- invariants ----------------------------------------------------------------------------- */

static void test_batch_equals_single(void **state)
{
	(void)state;
	NEED_SUITE();
	const char *models[] = {"llama-Q4_K", "qwen2-F32", "llama-headdim-F32"};
	/* single tokens and batches must agree to rounding: F32 activations on both sides (the
	 * 8-bit activations of the M = 1 path are compared with the reference in
	 * test_random_parity) */
	cn_kern_set_q8_act(false);
	cn_pool *pool2 = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_pool_create(2, &pool2, &err), CAIRN_OK);
	for (size_t mi = 0; mi < 3; mi++) {
		cn_decoder_model *m = open_named(models[mi]);
		int64_t V = cn_decoder_hparams_get(m)->n_vocab, n = 80;
		int32_t ids[80];
		random_prompt(ids, V, 11);
		random_prompt(ids + 16, V, 12);
		/* all at once, 2 threads */
		cn_decoder_ctx *c = new_ctx(m, pool2, 0, 0);
		float *all = cn_malloc((size_t)(n * V) * sizeof(float));
		eval_ok(c, ids, n, CN_DEC_ALL_LOGITS, all);
		cn_decoder_ctx_free(c);
		/* one token at a time, 1 thread */
		c = new_ctx(m, NULL, 0, 0);
		float *one = cn_malloc((size_t)(n * V) * sizeof(float));
		for (int64_t i = 0; i < n; i++)
			eval_ok(c, &ids[i], 1, 0, one + i * V);
		cn_decoder_ctx_free(c);
		/* batches of 16 (the attention blocks straddle batches), 1 thread vs 2 */
		float *b16[2];
		for (int t = 0; t < 2; t++) {
			c = new_ctx(m, t ? pool2 : NULL, 0, 16);
			b16[t] = cn_malloc((size_t)(n * V) * sizeof(float));
			eval_ok(c, ids, n, CN_DEC_ALL_LOGITS, b16[t]);
			cn_decoder_ctx_free(c);
		}
		/* the last-token logits of a batched call equal the last row of all logits */
		c = new_ctx(m, pool2, 0, 0);
		float *last = cn_malloc((size_t)V * sizeof(float));
		eval_ok(c, ids, n, 0, last);
		cn_decoder_ctx_free(c);
		double d1 = max_abs_diff(all, one, (size_t)(n * V)), d16 = max_abs_diff(all, b16[0], (size_t)(n * V));
		int same = 0;
		for (int64_t i = 0; i < n; i++)
			same += argmax(all + i * V, V) == argmax(one + i * V, V);
		print_message("  %-17s batch of %lld vs one at a time: max |diff| %.2e, argmax equal %d/%lld; batches of 16: "
		              "%.2e\n",
		              models[mi], (long long)n, d1, same, (long long)n, d16);
		double scale = 1.0; /* the logits' magnitude: rounding differences scale with it */
		for (int64_t i = 0; i < n * V; i++)
			scale = fmax(scale, fabs(all[i]));
		assert_true(d1 <= 1e-5 * scale);
		assert_true(d16 <= 1e-5 * scale);
		assert_int_equal(same, n);
		assert_memory_equal(b16[0], b16[1], (size_t)(n * V) * sizeof(float)); /* thread count */
		/* (the last row alone goes through the M = 1 kernels: equal within rounding) */
		assert_true(max_abs_diff(last, all + (n - 1) * V, (size_t)V) <= 1e-4);
		assert_int_equal(argmax(last, V), argmax(all + (n - 1) * V, V));
		cn_free(all);
		cn_free(one);
		cn_free(b16[0]);
		cn_free(b16[1]);
		cn_free(last);
		cn_decoder_close(m);
	}
	cn_pool_free(pool2);
	cn_kern_set_q8_act(true);
}

static void test_truncate(void **state)
{
	(void)state;
	NEED_SUITE();
	cn_decoder_model *m = open_named("qwen2-F32");
	int64_t V = cn_decoder_hparams_get(m)->n_vocab;
	int32_t a[N_PROMPT], b[N_PROMPT];
	random_prompt(a, V, 21);
	random_prompt(b, V, 22);
	cn_err err;
	cn_err_clear(&err);
	/* A (40) + A' (24), keep 40, then B (20) */
	cn_decoder_ctx *c = new_ctx(m, NULL, 0, 0);
	float *x = cn_malloc((size_t)(20 * V) * sizeof(float)), *y = cn_malloc((size_t)(20 * V) * sizeof(float));
	eval_ok(c, a, 40, 0, x);
	eval_ok(c, b + 40, 24, 0, x);
	assert_int_equal(cn_decoder_n_past(c), 64);
	assert_int_equal(cn_decoder_truncate(c, 65, &err), CAIRN_EINVAL);
	assert_int_equal(cn_decoder_truncate(c, -1, &err), CAIRN_EINVAL);
	assert_int_equal(cn_decoder_truncate(c, 40, &err), CAIRN_OK);
	assert_int_equal(cn_decoder_n_past(c), 40);
	assert_memory_equal(cn_decoder_tokens(c), a, 40 * sizeof(int32_t));
	eval_ok(c, b, 20, CN_DEC_ALL_LOGITS, x);
	assert_memory_equal(cn_decoder_tokens(c) + 40, b, 20 * sizeof(int32_t));
	cn_decoder_ctx_free(c);
	/* fresh: A (40) then B (20) */
	c = new_ctx(m, NULL, 0, 0);
	eval_ok(c, a, 40, 0, NULL);
	eval_ok(c, b, 20, CN_DEC_ALL_LOGITS, y);
	assert_memory_equal(x, y, (size_t)(20 * V) * sizeof(float));
	/* truncate to 0 and start over: the same as a new context */
	assert_int_equal(cn_decoder_truncate(c, 0, &err), CAIRN_OK);
	eval_ok(c, a, 40, 0, NULL);
	eval_ok(c, b, 20, CN_DEC_ALL_LOGITS, x);
	assert_memory_equal(x, y, (size_t)(20 * V) * sizeof(float));
	/* limits: the context holds 256 positions (the model's); bad ids change nothing */
	assert_int_equal(cn_decoder_ctx_size(c), 256);
	int32_t bad[2] = {5, (int32_t)V};
	cn_err_clear(&err);
	assert_int_equal(cn_decoder_eval(c, bad, 2, 0, x, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "outside the vocabulary"));
	assert_int_equal(cn_decoder_n_past(c), 60);
	int32_t *many = cn_calloc(200, sizeof(int32_t));
	cn_err_clear(&err);
	assert_int_equal(cn_decoder_eval(c, many, 197, 0, NULL, &err), CAIRN_ETOOBIG);
	assert_int_equal(cn_decoder_eval(c, many, 196, 0, NULL, &err), CAIRN_OK);
	assert_int_equal(cn_decoder_n_past(c), 256);
	cn_free(many);
	cn_decoder_ctx_free(c);
	/* a context is capped at the model's length; a smaller one is honoured */
	c = new_ctx(m, NULL, 100000, 0);
	assert_int_equal(cn_decoder_ctx_size(c), 256);
	cn_decoder_ctx_free(c);
	c = new_ctx(m, NULL, 32, 0);
	assert_int_equal(cn_decoder_ctx_size(c), 32);
	cn_decoder_ctx_free(c);
	cn_free(x);
	cn_free(y);
	cn_decoder_close(m);
}

/* ---- hostile files -------------------------------------------------------------------------- */

static void test_hostile_files(void **state)
{
	(void)state;
	NEED_SUITE();
	static const struct {
		const char *brk;
		cairn_status rc;
		const char *msg1, *msg2;
	} cases[] = {
		{"missing", CAIRN_EFORMAT, "tensor 'blk.1.attn_k.weight' is missing", "a llama model needs it"},
		{"shape", CAIRN_EFORMAT, "tensor 'blk.0.attn_k.weight' has shape [64, 40], expected [64, 32]", "n_head_kv"},
		{"gqa", CAIRN_EFORMAT, "llama.attention.head_count_kv = 3 does not divide attention.head_count = 4", ""},
		{"arch", CAIRN_EUNSUPPORTED, "architecture \"gpt2\" is not a decoder cairn runs", "llama, qwen2"},
		{"yarn", CAIRN_EUNSUPPORTED, "llama.rope.scaling.type = \"yarn\"", "linear RoPE scaling only"},
		{"moe", CAIRN_EUNSUPPORTED, "llama.expert_count = 8", "mixture-of-experts"},
		{"nrot", CAIRN_EUNSUPPORTED, "llama.rope.dimension_count = 8 differs from the head size 16", "partial rotary"},
		{"nobias", CAIRN_EFORMAT, "tensor 'blk.0.attn_q.bias' is missing", "a qwen2 model needs it"},
		{"vocab", CAIRN_EFORMAT, "tensor 'token_embd.weight' has shape [64, 502], expected [64, 512]",
		 "tokenizer's 512 tokens"},
		{"output", CAIRN_EFORMAT, "tensor 'output.weight' has shape [96, 512], expected [64, 512]", ""},
		{"iq2", CAIRN_EUNSUPPORTED, "tensor 'blk.0.ffn_down.weight' has type IQ2_XXS", "do not run"},
		{"qknorm", CAIRN_EUNSUPPORTED, "tensor 'blk.0.attn_q_norm.weight' is not part of a llama model", ""},
		{"noeps", CAIRN_EFORMAT, "llama.attention.layer_norm_rms_epsilon is missing", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64], p[512], err[1024] = "";
		snprintf(name, sizeof(name), "hostile-%s.gguf", cases[i].brk);
		path_of(p, sizeof(p), name);
		cairn_generator *g = (cairn_generator *)1;
		cairn_status rc = cairn_generator_open(p, NULL, &g, err, sizeof(err));
		print_message("  %-8s %s: %s\n", cases[i].brk, cairn_status_name(rc), err);
		assert_int_equal(rc, cases[i].rc);
		assert_null(g);
		assert_non_null(strstr(err, name)); /* names the file */
		assert_non_null(strstr(err, cases[i].msg1));
		assert_non_null(strstr(err, cases[i].msg2));
	}
	char err[1024];
	cairn_generator *g = NULL;
	/* not a file; a vocabulary without tensors; an encoder; a checkpoint without its tokenizer */
	assert_int_not_equal(cairn_generator_open("/nonexistent/model.gguf", NULL, &g, err, sizeof(err)), CAIRN_OK);
	assert_non_null(strstr(err, "/nonexistent/model.gguf"));
	char vocab[1024];
	snprintf(vocab, sizeof(vocab), "%s/models/vocab/ggml-vocab-llama-spm.gguf", cn_test_shared_dir());
	assert_int_equal(cairn_generator_open(vocab, NULL, &g, err, sizeof(err)), CAIRN_EFORMAT);
	assert_non_null(strstr(err, "is missing"));
	snprintf(vocab, sizeof(vocab), "%s/models/vocab/ggml-vocab-bert-bge.gguf", cn_test_shared_dir());
	assert_int_equal(cairn_generator_open(vocab, NULL, &g, err, sizeof(err)), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err, "architecture \"bert\" is not a decoder"));
	assert_int_equal(cairn_generator_open(S.bin, NULL, &g, err, sizeof(err)), CAIRN_EINVAL);
	assert_non_null(strstr(err, "tokenizer.bin"));
	assert_null(g);
}

/* ---- the public API -------------------------------------------------------------------------- */

typedef struct stream {
	cn_buf text;
	int calls, stop_after;
	int32_t force_at;  /* on_logits: make EOS the choice at this step */
	int32_t eos;
	int steps;
} stream;

static int on_token(int32_t token, const char *text, size_t len, void *ud)
{
	(void)token;
	stream *s = ud;
	cn_buf_append(&s->text, text, len);
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

static void on_logits(float *logits, int32_t n_vocab, void *ud)
{
	stream *s = ud;
	assert_int_equal(n_vocab, 512);
	if (s->steps++ == s->force_at)
		logits[s->eos] = INFINITY;
}

static cairn_generator *open_gen(const char *path, const char *tok, int n_ctx, int threads)
{
	cairn_generator_params p = cairn_generator_default_params();
	p.n_ctx = n_ctx;
	p.n_threads = threads;
	p.tokenizer = tok;
	cairn_generator *g = NULL;
	char err[1024];
	if (cairn_generator_open(path, &p, &g, err, sizeof(err)) != CAIRN_OK)
		fail_msg("open %s: %s", path, err);
	return g;
}

static void test_generate_api(void **state)
{
	(void)state;
	NEED_SUITE();
	for (int f = 0; f < 2; f++) {
		cairn_generator *g = f ? open_gen(S.gguf, NULL, 0, 2) : open_gen(S.bin, S.tok, 0, 1);
		cairn_generator_info info;
		cairn_generator_get_info(g, &info);
		assert_string_equal(info.architecture, "llama");
		assert_int_equal(info.n_vocab, 512);
		assert_int_equal(info.dim, 64);
		assert_int_equal(info.n_layers, 5);
		assert_int_equal(info.n_heads, 8);
		assert_int_equal(info.n_kv_heads, 4);
		assert_int_equal(info.n_ctx_train, f ? 128 : 512);
		assert_int_equal(info.n_ctx, f ? 128 : 512);
		assert_int_equal(info.bos, 1);
		assert_int_equal(info.eos, 2);

		stream s = {.force_at = -1, .eos = 2};
		cn_buf_init(&s.text);
		cairn_generate_params gp = cairn_generate_default_params();
		gp.max_tokens = 100;
		gp.on_token = on_token;
		gp.on_logits = on_logits;
		gp.user_data = &s;
		cairn_generation out;
		assert_int_equal(cairn_generate(g, "Once upon a time", &gp, &out), CAIRN_OK);
		print_message("  %s: \"Once upon a time%.*s…\" (%d prompt tokens, %d generated, %.1f ms + %.1f ms)\n",
		              f ? "gguf" : "bin", 60, out.text, out.n_prompt_tokens, out.n_tokens, out.prompt_ms,
		              out.generate_ms);
		assert_int_equal(out.n_prompt_tokens, 5);
		assert_int_equal(out.n_tokens, 100);
		assert_int_equal(out.stop, CAIRN_STOP_MAX_TOKENS);
		assert_memory_equal(out.tokens, STORY_GREEDY, sizeof(STORY_GREEDY));
		assert_int_equal(strlen(out.text), out.len);
		/* the published text, as far as ours goes (100 tokens end inside it) */
		assert_true(out.len > 200 && out.len < strlen(STORY_TEXT));
		assert_memory_equal(out.text, STORY_TEXT, out.len);
		assert_int_equal(s.calls, 100);
		assert_int_equal(s.text.len, out.len);
		assert_memory_equal(s.text.data, out.text, out.len);
		cairn_generation_free(&out);

		/* the callback stops it; the token it saw is kept */
		s.text.len = 0;
		s.calls = 0;
		s.stop_after = 5;
		assert_int_equal(cairn_generate(g, "Once upon a time", &gp, &out), CAIRN_OK);
		assert_int_equal(out.stop, CAIRN_STOP_CALLBACK);
		assert_int_equal(out.n_tokens, 5);
		assert_memory_equal(out.tokens, STORY_GREEDY, 5 * sizeof(int32_t));
		assert_string_equal(out.text, ", there was a little");
		cairn_generation_free(&out);

		/* on_logits makes EOS the choice at step 3: the loop ends there, EOS not streamed */
		s.text.len = 0;
		s.calls = 0;
		s.stop_after = 0;
		s.steps = 0;
		s.force_at = 3;
		assert_int_equal(cairn_generate(g, "Once upon a time", &gp, &out), CAIRN_OK);
		assert_int_equal(out.stop, CAIRN_STOP_EOG);
		assert_int_equal(out.n_tokens, 4);
		assert_int_equal(out.tokens[3], 2);
		assert_int_equal(s.calls, 3);
		assert_string_equal(out.text, ", there was");
		cairn_generation_free(&out);
		/* ... unless told to ignore it (EOS renders as nothing) */
		s.steps = 0;
		gp.ignore_eos = 1;
		gp.max_tokens = 6;
		assert_int_equal(cairn_generate(g, "Once upon a time", &gp, &out), CAIRN_OK);
		assert_int_equal(out.stop, CAIRN_STOP_MAX_TOKENS);
		assert_int_equal(out.n_tokens, 6);
		cairn_generation_free(&out);
		cn_buf_free(&s.text);

		/* max_tokens 0: only the prompt runs; an empty prompt gets BOS (and a story) */
		gp = cairn_generate_default_params();
		gp.max_tokens = 0;
		assert_int_equal(cairn_generate(g, "Once upon a time", &gp, &out), CAIRN_OK);
		assert_int_equal(out.n_tokens, 0);
		assert_string_equal(out.text, "");
		cairn_generation_free(&out);
		gp.max_tokens = 3;
		assert_int_equal(cairn_generate(g, "", &gp, &out), CAIRN_OK);
		assert_int_equal(out.n_prompt_tokens, 1);
		assert_int_equal(out.n_tokens, 3);
		assert_int_equal(out.tokens[0], 403); /* "Once", SOURCE.md's top logit at position 0 */
		cairn_generation_free(&out);
		gp.add_bos = 0;
		assert_int_equal(cairn_generate(g, "", &gp, &out), CAIRN_EEMPTY);
		assert_non_null(strstr(cairn_generator_errmsg(g), "no tokens"));
		assert_null(out.text);
		/* bad arguments */
		assert_int_equal(cairn_generate(g, NULL, &gp, &out), CAIRN_EINVAL);
		gp.max_tokens = -1;
		assert_int_equal(cairn_generate(g, "x", &gp, &out), CAIRN_EINVAL);
		assert_int_equal(cairn_generate(NULL, "x", NULL, &out), CAIRN_EINVAL);
		cairn_generator_close(g);
	}
	/* a small context: the prompt (5 tokens) plus 4 fill 8 positions (the last one's logits
	 * are never needed), then CONTEXT; a prompt over the context is refused */
	cairn_generator *g = open_gen(S.gguf, NULL, 8, 1);
	cairn_generation out;
	assert_int_equal(cairn_generate(g, "Once upon a time", NULL, &out), CAIRN_OK);
	assert_int_equal(out.stop, CAIRN_STOP_CONTEXT);
	assert_int_equal(out.n_tokens, 4);
	assert_memory_equal(out.tokens, STORY_GREEDY, 4 * sizeof(int32_t));
	cairn_generation_free(&out);
	cairn_generator_close(g);
	g = open_gen(S.gguf, NULL, 4, 1);
	assert_int_equal(cairn_generate(g, "Once upon a time", NULL, &out), CAIRN_ETOOBIG);
	assert_non_null(strstr(cairn_generator_errmsg(g), "the context holds 4"));
	cairn_generator_close(g);
	cairn_generator_params p = cairn_generator_default_params();
	p.n_threads = -1;
	char err[256];
	assert_int_equal(cairn_generator_open(S.gguf, &p, &g, err, sizeof(err)), CAIRN_EINVAL);
	assert_int_equal(cairn_generator_open(NULL, NULL, &g, err, sizeof(err)), CAIRN_EINVAL);
	cairn_generator_close(NULL);
	cairn_generation_free(NULL);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	NEED_SUITE();
	long ok_at = -1;
	for (long k = 1; k < 100000000 && ok_at < 0; k = k < 300 ? k + 1 : k + k / 4) {
		cn_alloc_fail_after(k);
		cairn_generator *g = NULL;
		char err[256];
		cairn_generator_params prm = cairn_generator_default_params();
		prm.n_threads = 1;
		cairn_status rc = cairn_generator_open(S.gguf, &prm, &g, err, sizeof(err));
		if (rc == CAIRN_OK) {
			cairn_generate_params gp = cairn_generate_default_params();
			gp.max_tokens = 10;
			cairn_generation out;
			rc = cairn_generate(g, "Once upon a time", &gp, &out);
			if (rc == CAIRN_OK) {
				assert_int_equal(out.n_tokens, 10);
				assert_memory_equal(out.tokens, STORY_GREEDY, 10 * sizeof(int32_t));
				ok_at = k;
			} else {
				assert_null(out.text);
			}
			cairn_generation_free(&out);
			cairn_generator_close(g);
		} else {
			assert_null(g);
		}
		cn_alloc_fail_after(0);
	}
	print_message("  open + generate first succeed with the allocation failure at #%ld\n", ok_at);
	assert_true(ok_at > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stories_source),
		cmocka_unit_test(test_stories_reference),
		cmocka_unit_test(test_random_parity),
		cmocka_unit_test(test_batch_equals_single),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_generate_api),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
