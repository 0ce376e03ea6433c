/* answer/local_gen.c, the local transport of the generative answerer:
 *  - the schema it constrains decoding with is the answer's shape, within the sampler's
 *    subset (no bounds on numbers), tightened to the prompt's passages and sentence limit;
 *  - with the real stories260K model (llama2.c checkpoint + tok512: a story generator that
 *    knows nothing of JSON) under the chatml and llama2 templates, every reply — greedy and
 *    sampled at temperature 1 over several seeds — is a JSON document that an independent
 *    check (jansson and the schema's rules written out here) accepts, and that the answer
 *    validator parses; the formatted prompt is the template's;
 *  - a generator lent by the caller stays open and reuses the cached prompt prefix;
 *  - errors name the file and the problem (missing file, no template, unknown name);
 *  - cairn_ask refuses an endpoint together with a local model, naming both.
 * Tests needing ../shared skip when it is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "testutil.h"

static char BIN[1024], TOK[1024], GGUF[1024];

static bool have_models(void)
{
	const char *shared = cn_test_shared_dir();
	if (!shared)
		return false;
	snprintf(BIN, sizeof BIN, "%s/models/stories260K/stories260K.bin", shared);
	snprintf(TOK, sizeof TOK, "%s/models/stories260K/tok512.bin", shared);
	snprintf(GGUF, sizeof GGUF, "%s/models/stories260K/stories260K.gguf", shared);
	return cn_path_exists(BIN) && cn_path_exists(TOK) && cn_path_exists(GGUF);
}

#define NEED_MODELS()                                                                              \
	do {                                                                                           \
		if (!have_models()) {                                                                      \
			print_message("skipping: ../shared/models/stories260K not found (set CAIRN_SHARED)\n"); \
			skip();                                                                                \
		}                                                                                          \
	} while (0)

static void test_schema_shape(void **state)
{
	(void)state;
	cn_buf b;
	cn_buf_init(&b);
	assert_int_equal(cn_local_schema(3, 2, &b), CAIRN_OK);
	json_error_t je;
	json_t *s = json_loadb(b.data, b.len, 0, &je);
	assert_non_null(s);
	json_t *props = json_object_get(s, "properties");
	/* the same properties, required, in the same order as the remote schema */
	json_t *remote = json_loads(cn_gen_schema(), 0, &je);
	assert_non_null(remote);
	assert_true(json_equal(json_object_get(s, "required"), json_object_get(remote, "required")));
	const char *order[] = {"answer_sentences", "abstain", "confidence"};
	size_t k = 0;
	const char *key;
	json_t *val;
	json_object_foreach(props, key, val) assert_string_equal(key, order[k++]);
	assert_int_equal(k, 3);
	json_t *as = json_object_get(props, "answer_sentences");
	assert_int_equal(json_integer_value(json_object_get(as, "minItems")), 1);
	assert_int_equal(json_integer_value(json_object_get(as, "maxItems")), 2);
	json_t *it = json_object_get(as, "items");
	json_t *cit = json_object_get(json_object_get(it, "properties"), "citations");
	assert_int_equal(json_integer_value(json_object_get(cit, "minItems")), 1);
	json_t *ci = json_object_get(cit, "items");
	assert_string_equal(json_string_value(json_object_get(ci, "type")), "integer");
	assert_int_equal(json_integer_value(json_object_get(ci, "minimum")), 1);
	assert_int_equal(json_integer_value(json_object_get(ci, "maximum")), 3);
	json_t *conf = json_object_get(props, "confidence");
	/* bounds on a number are outside the sampler's subset: an enum in [0, 1] instead */
	assert_null(json_object_get(conf, "minimum"));
	assert_null(json_object_get(conf, "maximum"));
	json_t *en = json_object_get(conf, "enum");
	assert_true(json_array_size(en) >= 5);
	size_t i;
	json_array_foreach(en, i, val)
	{
		assert_true(json_is_number(val));
		assert_true(json_number_value(val) >= 0 && json_number_value(val) <= 1);
		/* the canonical text the sampler matches is short and exact */
		char *t = json_dumps(val, JSON_ENCODE_ANY);
		assert_true(strlen(t) <= 5);
		free(t);
	}
	json_decref(remote);
	json_decref(s);
	cn_buf_free(&b);
}

/* The reply against the schema's rules, written out independently of the validator. */
static void check_reply(const char *raw, int np, int max_sentences)
{
	json_error_t je;
	json_t *r = json_loads(raw, 0, &je);
	if (!r)
		fail_msg("not JSON (%s): %s", je.text, raw);
	assert_true(json_is_object(r));
	assert_int_equal(json_object_size(r), 3);
	json_t *as = json_object_get(r, "answer_sentences"), *ab = json_object_get(r, "abstain"),
	       *cf = json_object_get(r, "confidence");
	assert_true(json_is_array(as) && json_is_boolean(ab) && json_is_number(cf));
	assert_true(json_number_value(cf) >= 0 && json_number_value(cf) <= 1);
	assert_true(json_array_size(as) >= 1 && json_array_size(as) <= (size_t)max_sentences);
	size_t i, j;
	json_t *s, *x;
	json_array_foreach(as, i, s)
	{
		assert_int_equal(json_object_size(s), 3);
		assert_true(json_is_string(json_object_get(s, "text")));
		assert_true(json_string_length(json_object_get(s, "text")) >= 1);
		json_t *c = json_object_get(s, "citations"), *q = json_object_get(s, "quotes");
		assert_true(json_is_array(c) && json_array_size(c) >= 1);
		assert_true(json_is_array(q) && json_array_size(q) >= 1);
		json_array_foreach(c, j, x) assert_true(json_is_integer(x) && json_integer_value(x) >= 1 &&
		                                         json_integer_value(x) <= np);
		json_array_foreach(q, j, x) assert_true(json_is_string(x));
	}
	json_decref(r);
}

static const char PASSAGE1[] = "Tom has three red apples and a small dog.";
static const char PASSAGE2[] = "The dog likes to run in the park every day.";

static void run_template(const char *tmpl, const char *prompt_marker)
{
	cn_gen_passage ps[2] = {{PASSAGE1, sizeof PASSAGE1 - 1, NULL, NULL, NULL},
	                        {PASSAGE2, sizeof PASSAGE2 - 1, NULL, NULL, NULL}};
	cn_chat_msg msgs[2] = {{"system", "Answer from the passages. Reply with JSON."},
	                       {"user", "Passage 1: Tom has three red apples and a small dog.\nPassage 2: The dog likes to "
	                                "run in the park every day.\nQuestion: how many apples does Tom have?"}};
	for (int run = 0; run < 5; run++) {
		cn_local_params p = cn_local_default_params();
		p.model = BIN;
		p.tokenizer = TOK;
		p.chat_template = tmpl;
		p.n_threads = 1;
		p.max_tokens = 200;
		p.n_passages = 2;
		p.max_sentences = 2;
		p.temperature = run ? 1.0 : 0.0;
		p.seed = (uint64_t)run * 7919u + 1;
		cn_local l;
		cn_err err;
		cn_err_clear(&err);
		if (cn_local_open(&l, &p, &err))
			fail_msg("%s", err.msg);
		assert_string_equal(cn_local_template_name(&l), tmpl);
		char *content = NULL;
		if (cn_local_send(&l, msgs, 2, &content, &err))
			fail_msg("%s", err.msg);
		assert_non_null(content);
		check_reply(content, 2, 2);
		cn_arena ar;
		cn_arena_init(&ar, 4096);
		cn_gen_output o;
		assert_int_equal(cn_gen_validate(&ar, content, strlen(content), ps, 2, 2, &o), CAIRN_OK);
		if (!o.parsed)
			fail_msg("%s (run %d): the validator did not parse %s: %s", tmpl, run, content, o.errors);
		cn_arena_free(&ar);
		/* what the transport saw */
		assert_non_null(l.last.prompt);
		assert_non_null(strstr(l.last.prompt, prompt_marker));
		assert_non_null(strstr(l.last.prompt, "how many apples does Tom have?"));
		assert_true(l.last.n_prompt_tokens > 20 && l.last.n_tokens > 0 && l.last.n_tokens <= 200);
		assert_non_null(l.last.stop);
		cn_free(content);
		cn_local_close(&l);
	}
}

static void test_stories_replies_parse_chatml(void **state)
{
	(void)state;
	NEED_MODELS();
	run_template("chatml", "<|im_start|>user\n");
}

static void test_stories_replies_parse_llama2(void **state)
{
	(void)state;
	NEED_MODELS();
	run_template("llama2", "[INST]");
}

static void test_lent_generator(void **state)
{
	(void)state;
	NEED_MODELS();
	cairn_generator_params gp = cairn_generator_default_params();
	gp.n_threads = 1;
	gp.tokenizer = TOK;
	cairn_generator *gen = NULL;
	char eb[512];
	assert_int_equal(cairn_generator_open(BIN, &gp, &gen, eb, sizeof eb), CAIRN_OK);
	cn_chat_msg msgs[2] = {{"system", "Reply with JSON."}, {"user", "Passage 1: The sun is hot.\nQuestion: is the sun hot?"}};
	int prompt_tokens = 0;
	for (int call = 0; call < 2; call++) {
		cn_local_params p = cn_local_default_params();
		p.model = BIN;
		p.tokenizer = TOK;
		p.chat_template = "chatml";
		p.generator = gen;
		p.max_tokens = 120;
		cn_local l;
		cn_err err;
		cn_err_clear(&err);
		if (cn_local_open(&l, &p, &err))
			fail_msg("%s", err.msg);
		assert_ptr_equal(l.gen, gen);
		char *content = NULL;
		if (cn_local_send(&l, msgs, 2, &content, &err))
			fail_msg("%s", err.msg);
		check_reply(content, 1, 3);
		if (call == 0)
			prompt_tokens = l.last.n_prompt_tokens;
		else /* the same conversation again: its prompt comes from the cache */
			assert_true(l.last.n_cached_tokens >= prompt_tokens - 1);
		cn_free(content);
		cn_local_close(&l);
	}
	/* still the caller's, still open */
	cairn_generator_info info;
	cairn_generator_get_info(gen, &info);
	assert_int_equal(info.n_vocab, 512);
	cairn_generator_close(gen);
}

static void test_errors(void **state)
{
	(void)state;
	NEED_MODELS();
	cn_local l;
	cn_err err;
	cn_local_params p = cn_local_default_params();
	p.model = "/nonexistent/model.gguf";
	p.chat_template = "chatml";
	cn_err_clear(&err);
	assert_int_not_equal(cn_local_open(&l, &p, &err), CAIRN_OK);
	assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
	/* no template in the file, none named */
	p.model = GGUF;
	p.chat_template = NULL;
	cn_err_clear(&err);
	assert_int_equal(cn_local_open(&l, &p, &err), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "chat template"));
	assert_non_null(strstr(err.msg, "chatml"));
	p.chat_template = "no-such-template";
	cn_err_clear(&err);
	assert_int_not_equal(cn_local_open(&l, &p, &err), CAIRN_OK);
	assert_non_null(strstr(err.msg, "no-such-template"));
	/* a reply budget under the schema's shortest document */
	p.chat_template = "chatml";
	p.max_tokens = 10; /* stories260K.gguf's context is 128 positions: the budget is the limit */
	cn_err_clear(&err);
	assert_int_equal(cn_local_open(&l, &p, &err), CAIRN_OK);
	cn_chat_msg msgs[1] = {{"user", "hi"}};
	char *content = NULL;
	assert_int_equal(cn_local_send(&l, msgs, 1, &content, &err), CAIRN_EINVAL);
	assert_null(content);
	assert_non_null(strstr(err.msg, "stories260K.gguf"));
	assert_non_null(strstr(err.msg, "shortest document"));
	cn_local_close(&l);
}

static void test_ask_settings(void **state)
{
	(void)state;
	char dir[512];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "asklocal"), 0);
	cairn_kb *kb = NULL;
	char err[512];
	assert_int_equal(cairn_kb_open(dir, NULL, &kb, err, sizeof err), CAIRN_OK);
	cairn_ingest_params ip = cairn_ingest_default_params();
	cairn_record r = {.doc_id = "d", .title = "Leave", .text = PASSAGE1, .text_len = strlen(PASSAGE1)};
	assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	char eb[512] = "";
	cairn_ask_params p = cairn_ask_default_params();
	p.errbuf = eb;
	p.errbuf_size = sizeof eb;
	p.endpoint = "http://127.0.0.1:9";
	p.local_model = "/some/model.gguf";
	cairn_answer *a = NULL;
	assert_int_equal(cairn_ask(kb, "how many apples", &p, &a), CAIRN_EINVAL);
	assert_null(a);
	assert_non_null(strstr(eb, "endpoint"));
	assert_non_null(strstr(eb, "local_model"));
	/* a lent generator without the file it came from */
	p.endpoint = NULL;
	p.local_model = NULL;
	p.generator = (cairn_generator *)(void *)&p; /* never used: refused first */
	eb[0] = '\0';
	assert_int_equal(cairn_ask(kb, "how many apples", &p, &a), CAIRN_EINVAL);
	assert_non_null(strstr(eb, "local_model"));
	cairn_kb_close(kb);
	assert_int_equal(cn_test_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_shape),
		cmocka_unit_test(test_stories_replies_parse_chatml),
		cmocka_unit_test(test_stories_replies_parse_llama2),
		cmocka_unit_test(test_lent_generator),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ask_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
