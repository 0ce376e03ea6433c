/* Generation through the public API with the sample module plugged in:
 *  - JSON-schema constrained sampling at temperature 1.0 with real models: stories260K
 *    (SentencePiece with byte fallback, ../shared/models/stories260K) and random-weight
 *    Qwen2 models written by tests/reference/make_decoder_gguf.py with byte-level BPE
 *    vocabularies cut from GPT-2's (3,000 tokens) and GPT-2's whole 50,257. Four schemas
 *    (tests/data/schemas/), budgets from each schema's minimum up; every document is
 *    checked by python3-jsonschema (tests/reference/validate_json.py);
 *  - the errors: a budget below the schema's minimum, unsupported keywords, stop strings
 *    with a schema;
 *  - prompt-prefix reuse: identical output with and without it, and work actually skipped;
 *  - sampling: the defaults are greedy, a seed reproduces its text, stop strings cut the
 *    text and the stream alike.
 * Skips with a message when ../shared or python3 (numpy, jsonschema) is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn.h"
#include "base/base.h"
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

static struct {
	const char *skip_reason;
	char dir[256];
	char bin[1024], tok[1024];
	char bpe[512], bpe_full[512];
	int total, total_valid;
} S;

static int suite_setup(void **state)
{
	(void)state;
	const char *shared = cn_test_shared_dir();
	char gpt2[1024] = "";
	if (shared) {
		snprintf(S.bin, sizeof S.bin, "%s/models/stories260K/stories260K.bin", shared);
		snprintf(S.tok, sizeof S.tok, "%s/models/stories260K/tok512.bin", shared);
		snprintf(gpt2, sizeof gpt2, "%s/models/vocab/ggml-vocab-gpt-2.gguf", shared);
	}
	if (!shared || !cn_path_exists(S.bin) || !cn_path_exists(S.tok) || !cn_path_exists(gpt2)) {
		S.skip_reason = "../shared/models (stories260K/, vocab/) not found (set CAIRN_SHARED)";
		return 0;
	}
	char *check[] = {PY, "-c", "import numpy, jsonschema", NULL};
	if (cn_test_run(check) != 0) {
		S.skip_reason = "python3 with numpy and jsonschema not available";
		return 0;
	}
	if (cn_test_mkdtemp(S.dir, sizeof S.dir, "constrained") != 0)
		return -1;
	snprintf(S.bpe, sizeof S.bpe, "%s/bpe3000.gguf", S.dir);
	snprintf(S.bpe_full, sizeof S.bpe_full, "%s/bpe-gpt2.gguf", S.dir);
	for (int i = 0; i < 2; i++) {
		char *gen[] = {PY,       "tests/reference/make_decoder_gguf.py", "model", i ? S.bpe_full : S.bpe, "--arch",
		               "qwen2",  "--vocab", gpt2, "--bpe-size", i ? "50257" : "3000", "--layers", "1", "--hidden",
		               "64",     "--heads", "4", "--kv-heads", "2", "--ff", "128", "--ctx", "512", "--seed",
		               i ? "5" : "4", NULL};
		if (cn_test_run(gen) != 0) {
			fprintf(stderr, "make_decoder_gguf.py failed\n");
			return -1;
		}
	}
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	if (S.dir[0])
		cn_test_rmtree(S.dir);
	if (S.total)
		fprintf(stderr, "[ SUMMARY  ] %d constrained generations, %d valid (python3-jsonschema)\n", S.total,
		        S.total_valid);
	return 0;
}

#define NEED_SUITE()                                                   \
	do {                                                           \
		if (S.skip_reason) {                                   \
			print_message("skipped: %s\n", S.skip_reason); \
			skip();                                        \
		}                                                      \
	} while (0)

static cairn_generator *open_gen(const char *path, const char *tok, int n_ctx)
{
	cairn_generator_params p = cairn_generator_default_params();
	p.n_ctx = n_ctx;
	p.n_threads = 1;
	p.tokenizer = tok;
	cairn_generator *g = NULL;
	char err[1024];
	if (cairn_generator_open(path, &p, &g, err, sizeof err) != CAIRN_OK)
		fail_msg("open %s: %s", path, err);
	return g;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	b[n] = '\0';
	fclose(f);
	return b;
}

/* The smallest max_tokens the library accepts for a schema: found from its error. */
static int min_budget(cairn_generator *g, const char *schema)
{
	cairn_generate_params p = cairn_generate_default_params();
	p.json_schema = schema;
	p.max_tokens = 1;
	cairn_generation out;
	cairn_status rc = cairn_generate(g, "x", &p, &out);
	if (rc == CAIRN_OK) {
		cairn_generation_free(&out);
		return 1;
	}
	assert_int_equal(rc, CAIRN_EINVAL);
	const char *m = strstr(cairn_generator_errmsg(g), "needs ");
	assert_non_null(m);
	return atoi(m + 6);
}

static const char *const SCHEMAS[] = {"nested", "scalars", "strings", "answer"};
static const char *const PROMPTS[] = {"Once upon a time", "The little dog", "Lily said", "{\"", "Answer in JSON:"};

static void generate_many(const char *label, cairn_generator *g, int per_schema)
{
	for (int si = 0; si < 4; si++) {
		char sp[256], dp[512];
		snprintf(sp, sizeof sp, "tests/data/schemas/%s.json", SCHEMAS[si]);
		snprintf(dp, sizeof dp, "%s/%s-%s.docs", S.dir, label, SCHEMAS[si]);
		char *schema = read_file(sp);
		assert_non_null(schema);
		int minb = min_budget(g, schema);
		FILE *out = fopen(dp, "wb");
		assert_non_null(out);
		int by_eog = 0, by_budget = 0, reused = 0;
		for (int i = 0; i < per_schema; i++) {
			cairn_generate_params p = cairn_generate_default_params();
			p.json_schema = schema;
			p.temperature = 1.0f;
			p.seed = (uint64_t)(1000 * si + i);
			p.max_tokens = minb + (i % 4 == 0 ? 0 : i % 4 == 1 ? 10 : 20 + i % 60);
			if (i % 5 == 4) { /* the rest of the chain on too */
				p.top_k = 40;
				p.top_p = 0.95f;
				p.min_p = 0.02f;
				p.repeat_penalty = 1.1f;
			}
			cairn_generation r;
			if (cairn_generate(g, PROMPTS[i % 5], &p, &r) != CAIRN_OK)
				fail_msg("%s / %s #%d: %s", label, SCHEMAS[si], i, cairn_generator_errmsg(g));
			assert_true(r.n_tokens <= p.max_tokens);
			by_eog += r.stop == CAIRN_STOP_EOG;
			by_budget += r.stop == CAIRN_STOP_MAX_TOKENS;
			reused += r.n_cached_tokens > 0;
			fprintf(out, "%zu\n", r.len);
			fwrite(r.text, 1, r.len, out);
			fputc('\n', out);
			cairn_generation_free(&r);
		}
		fclose(out);
		char cmd[1024];
		snprintf(cmd, sizeof cmd, PY " tests/reference/validate_json.py %s %s", sp, dp);
		FILE *v = popen(cmd, "r");
		char line[4096], last[4096] = "";
		while (fgets(line, sizeof line, v)) {
			if (strncmp(line, "INVALID", 7) == 0)
				fprintf(stderr, "%s", line);
			snprintf(last, sizeof last, "%s", line);
		}
		int rc = pclose(v);
		int valid = atoi(last);
		print_message("  %-9s %-8s %3d generations (min budget %d; %d ended by EOS, %d by the budget; %d reused "
		              "a prefix): %s",
		              label, SCHEMAS[si], per_schema, minb, by_eog, by_budget, reused, last);
		S.total += per_schema;
		S.total_valid += valid;
		assert_int_equal(rc, 0);
		assert_int_equal(valid, per_schema);
		free(schema);
	}
}

static void test_json_spm(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_generator *g = open_gen(S.bin, S.tok, 0);
	generate_many("stories", g, SAN_BUILD ? 10 : 150);
	cairn_generator_close(g);
}

static void test_json_bpe(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_generator *g = open_gen(S.bpe, NULL, 0);
	generate_many("bpe3000", g, SAN_BUILD ? 8 : 100);
	cairn_generator_close(g);
	g = open_gen(S.bpe_full, NULL, 0);
	generate_many("gpt2-50k", g, SAN_BUILD ? 2 : 8);
	cairn_generator_close(g);
}

static void test_errors(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_generator *g = open_gen(S.bin, S.tok, 0);
	cairn_generate_params p = cairn_generate_default_params();
	cairn_generation out;
	/* {"a":[true]} is 12 bytes: 11 tokens are refused, 12 give a valid document */
	p.json_schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},"
	                "\"minItems\":1}},\"required\":[\"a\"]}";
	p.max_tokens = 11;
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EINVAL);
	assert_non_null(strstr(cairn_generator_errmsg(g), "needs 12 tokens"));
	assert_null(out.text);
	p.max_tokens = 12;
	p.temperature = 1;
	for (int seed = 0; seed < 20; seed++) {
		p.seed = (uint64_t)seed;
		assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_OK);
		/* a tight budget: whitespace only where a longer token (" true") pays for it */
		char squeezed[64];
		size_t n = 0;
		for (const char *c = out.text; *c && n < sizeof squeezed - 1; c++)
			if (*c != ' ' && *c != '\n')
				squeezed[n++] = *c;
		squeezed[n] = '\0';
		assert_true(out.n_tokens <= 12);
		assert_true(!strcmp(squeezed, "{\"a\":[true]}") || !strcmp(squeezed, "{\"a\":[false]}") ||
		            !strncmp(squeezed, "{\"a\":[true,", 10) || !strncmp(squeezed, "{\"a\":[false,", 11));
		cairn_generation_free(&out);
	}
	p.json_schema = "{\"type\":\"object\",\"properties\":{\"when\":{\"type\":\"string\",\"format\":\"date-time\"}}}";
	p.max_tokens = 100;
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(cairn_generator_errmsg(g), "\"format\""));
	assert_non_null(strstr(cairn_generator_errmsg(g), "/properties/when"));
	p.json_schema = "{\"type\":\"object\"";
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EINVAL);
	const char *stops[] = {"x"};
	p.json_schema = "{\"type\":\"null\"}";
	p.stop = stops;
	p.n_stop = 1;
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EINVAL);
	p = cairn_generate_default_params();
	p.top_p = -1; /* fine: keeps at least one */
	p.min_p = 3;
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EINVAL);
	p.min_p = 0;
	p.top_k = -2;
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_EINVAL);
	/* null schema: "null" and EOS, then done */
	p = cairn_generate_default_params();
	p.json_schema = "{\"type\":\"null\"}";
	assert_int_equal(cairn_generate(g, "Once", &p, &out), CAIRN_OK);
	assert_string_equal(out.text + strspn(out.text, " \n"), "null"); /* at most 2 spaces before */
	assert_true(strspn(out.text, " \n") <= 2);
	assert_int_equal(out.stop, CAIRN_STOP_EOG);
	cairn_generation_free(&out);
	cairn_generator_close(g);
}

/* ---- prefix reuse ------------------------------------------------------------------------ */

static const char SYSTEM[] = "Lily and Ben went to the park. They played on the swings and saw a big dog. ";

static void test_prefix_reuse(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_generator *a = open_gen(S.bin, S.tok, 0), *b = open_gen(S.bin, S.tok, 0);
	const char *tails[] = {"The dog was", "Ben said", "Lily was happy", "The dog was"};
	char prompt[512];
	int reused_total = 0;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			snprintf(prompt, sizeof prompt, "%s%s", SYSTEM, tails[i]);
			cairn_generate_params p = cairn_generate_default_params();
			p.max_tokens = 40;
			if (round) { /* sampling too: the same seed must give the same draw */
				p.temperature = 0.9f;
				p.seed = 77;
			}
			cairn_generation ra, rb;
			assert_int_equal(cairn_generate(a, prompt, &p, &ra), CAIRN_OK);
			p.no_prefix_reuse = 1;
			assert_int_equal(cairn_generate(b, prompt, &p, &rb), CAIRN_OK);
			assert_int_equal(rb.n_cached_tokens, 0);
			assert_int_equal(ra.n_tokens, rb.n_tokens);
			assert_memory_equal(ra.tokens, rb.tokens, (size_t)ra.n_tokens * sizeof(int32_t));
			assert_string_equal(ra.text, rb.text);
			if (i > 0 || round > 0) /* the shared system prompt, at least */
				assert_true(ra.n_cached_tokens >= 20);
			if (i == 3) /* the same prompt as #0... but the cache holds #2's: only the system part */
				assert_true(ra.n_cached_tokens < ra.n_prompt_tokens);
			reused_total += ra.n_cached_tokens;
			cairn_generation_free(&ra);
			cairn_generation_free(&rb);
		}
	}
	/* the same prompt twice: all but the last token reused */
	cairn_generate_params p = cairn_generate_default_params();
	p.max_tokens = 0;
	cairn_generation r;
	assert_int_equal(cairn_generate(a, SYSTEM, &p, &r), CAIRN_OK);
	cairn_generation_free(&r);
	assert_int_equal(cairn_generate(a, SYSTEM, &p, &r), CAIRN_OK);
	assert_int_equal(r.n_cached_tokens, r.n_prompt_tokens - 1);
	cairn_generation_free(&r);
	/* a continuation of the previous call (prompt + its output) reuses both */
	p.max_tokens = 10;
	assert_int_equal(cairn_generate(a, "Once upon a time", &p, &r), CAIRN_OK);
	char cont[512];
	snprintf(cont, sizeof cont, "Once upon a time%s", r.text);
	int n_prompt = r.n_prompt_tokens;
	cairn_generation_free(&r);
	assert_int_equal(cairn_generate(a, cont, &p, &r), CAIRN_OK);
	print_message("  continuation: %d of %d prompt tokens reused (first prompt %d tokens)\n", r.n_cached_tokens,
	              r.n_prompt_tokens, n_prompt);
	assert_true(r.n_cached_tokens > n_prompt);
	cairn_generation_free(&r);
	print_message("  %d prompt tokens reused over 8 calls, outputs identical to fresh caches\n", reused_total);
	cairn_generator_close(a);
	cairn_generator_close(b);
}

/* ---- sampling through the API ---------------------------------------------------------------- */

typedef struct stream {
	cn_buf text;
	int calls;
} stream;

static int on_token(int32_t token, const char *text, size_t len, void *user_data)
{
	(void)token;
	stream *s = user_data;
	cn_buf_append(&s->text, text, len);
	s->calls++;
	return 0;
}

static void test_sampling_api(void **state)
{
	(void)state;
	NEED_SUITE();
	cairn_generator *g = open_gen(S.bin, S.tok, 0);
	cairn_generate_params p = cairn_generate_default_params();
	p.max_tokens = 60;
	cairn_generation greedy, r, r2;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &greedy), CAIRN_OK);
	/* filters around a temperature of 0 do not change greedy */
	p.top_k = 5;
	p.top_p = 0.5f;
	p.min_p = 0.1f;
	p.seed = 3;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r), CAIRN_OK);
	assert_memory_equal(r.tokens, greedy.tokens, (size_t)greedy.n_tokens * sizeof(int32_t));
	cairn_generation_free(&r);
	/* a seed reproduces; other seeds differ */
	p = cairn_generate_default_params();
	p.max_tokens = 60;
	p.temperature = 1.0f;
	p.seed = 12345;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r), CAIRN_OK);
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r2), CAIRN_OK);
	assert_string_equal(r.text, r2.text);
	cairn_generation_free(&r2);
	int differ = 0;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		p.seed = seed;
		assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r2), CAIRN_OK);
		differ += strcmp(r.text, r2.text) != 0;
		cairn_generation_free(&r2);
	}
	assert_true(differ >= 4);
	cairn_generation_free(&r);
	/* a heavy repetition penalty changes greedy's text (stories repeat "Lily") */
	p = cairn_generate_default_params();
	p.max_tokens = 60;
	p.repeat_penalty = 5.0f;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r), CAIRN_OK);
	assert_true(r.n_tokens != greedy.n_tokens || memcmp(r.tokens, greedy.tokens, (size_t)r.n_tokens * 4) != 0);
	cairn_generation_free(&r);
	/* stop strings: greedy says ", there was a little girl named Lily. She loved ..." */
	assert_non_null(strstr(greedy.text, "named Lily."));
	const char *stops[] = {"zzz", "Lily."};
	stream s = {0};
	cn_buf_init(&s.text);
	p = cairn_generate_default_params();
	p.max_tokens = 60;
	p.stop = stops;
	p.n_stop = 2;
	p.on_token = on_token;
	p.user_data = &s;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r), CAIRN_OK);
	assert_int_equal(r.stop, CAIRN_STOP_STRING);
	size_t cut = (size_t)(strstr(greedy.text, "Lily.") - greedy.text);
	assert_int_equal(r.len, cut);
	assert_memory_equal(r.text, greedy.text, cut);
	assert_int_equal(s.text.len, r.len); /* nothing of the stop string was streamed */
	assert_memory_equal(s.text.data, r.text, r.len);
	cairn_generation_free(&r);
	/* a stop string that never comes: the whole text streams, held-back bytes at the end */
	const char *never[] = {"Lily and the dragon"};
	s.text.len = 0;
	p.stop = never;
	p.n_stop = 1;
	assert_int_equal(cairn_generate(g, "Once upon a time", &p, &r), CAIRN_OK);
	assert_int_equal(r.stop, CAIRN_STOP_MAX_TOKENS);
	assert_string_equal(r.text, greedy.text);
	assert_int_equal(s.text.len, r.len);
	assert_memory_equal(s.text.data, r.text, r.len);
	cairn_generation_free(&r);
	cn_buf_free(&s.text);
	cairn_generation_free(&greedy);
	cairn_generator_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_prefix_reuse),
		cmocka_unit_test(test_sampling_api),
		cmocka_unit_test(test_json_spm),
		cmocka_unit_test(test_json_bpe),
	};
	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
