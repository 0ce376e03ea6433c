/* Chat templates (src/vocab/chat.c, chat_api.c) against the real thing: the verbatim Jinja
 * templates models ship (tests/reference/chat_templates/ and Phi-3's from its GGUF)
 * rendered by jinja2 as Hugging Face does (tests/reference/chat_render.py) for conversations
 * with and without a system message, several turns, whitespace the templates trim, non-ASCII
 * text, generation prompt on and off — cairn's output must be the same bytes, and each
 * template's source must be detected as the right kind. Then names, errors (unknown names and
 * templates, roles out of order) and the public cairn_chat_* calls on model files. */
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
#include "testutil.h"
#include "vocab/chat.h"

#define PY "/usr/bin/python3"

static struct {
	char dir[256];
	char cases[512];
	char phi3[512];
	const char *skip_reason;
} S;

static int suite_setup(void **state)
{
	(void)state;
	char *probe[] = {PY, "-c", "import jinja2", NULL};
	if (access(PY, X_OK) != 0 || cn_test_run(probe) != 0) {
		S.skip_reason = "python3-jinja2 not available (/usr/bin/python3 -c 'import jinja2')";
		return 0;
	}
	if (cn_test_mkdtemp(S.dir, sizeof(S.dir), "chat") != 0)
		return -1;
	snprintf(S.cases, sizeof(S.cases), "%s/cases.txt", S.dir);
	const char *shared = cn_test_shared_dir();
	char arg[600] = "";
	if (shared) {
		snprintf(S.phi3, sizeof(S.phi3), "%s/models/vocab/ggml-vocab-phi-3.gguf", shared);
		if (cn_path_exists(S.phi3))
			snprintf(arg, sizeof(arg), "phi3-mini=%s", S.phi3);
		else
			S.phi3[0] = '\0';
	}
	char *gen[] = {PY, "tests/reference/chat_render.py", S.cases, arg[0] ? "--gguf" : NULL, arg, NULL};
	if (cn_test_run(gen) != 0) {
		fprintf(stderr, "chat_render.py failed\n");
		return -1;
	}
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	if (S.dir[0])
		cn_test_rmtree(S.dir);
	return 0;
}

#define NEED_REF()                                                                                   \
	do {                                                                                             \
		if (S.skip_reason) {                                                                         \
			fprintf(stderr, "skipped: %s\n", S.skip_reason);                                         \
			skip();                                                                                  \
		}                                                                                            \
	} while (0)

/* "-" → "", else hex → bytes (NUL-terminated, malloc'd). */
static char *unhex(const char *h)
{
	if (!strcmp(h, "-"))
		return strdup("");
	size_t n = strlen(h) / 2;
	char *s = malloc(n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		s[i] = (char)v;
	}
	s[n] = '\0';
	return s;
}

#define MAX_FIELDS 40

static int split(char *line, char **f)
{
	int n = 0;
	for (char *tok = strtok(line, " \n"); tok && n < MAX_FIELDS; tok = strtok(NULL, " \n"))
		f[n++] = tok;
	return n;
}

typedef struct tmpl_rec {
	char name[64];
	cn_chat_template t;
	char *bos, *eos;
} tmpl_rec;

/* Every case of the reference: detection of each template, then the bytes of each rendering. */
static void test_against_jinja(void **state)
{
	(void)state;
	NEED_REF();
	FILE *f = fopen(S.cases, "r");
	assert_non_null(f);
	static char line[1 << 20];
	tmpl_rec recs[32];
	int n_recs = 0, n_cases = 0, n_bad = 0;
	cn_err err;
	while (fgets(line, sizeof line, f)) {
		char *fl[MAX_FIELDS];
		int nf = split(line, fl);
		if (nf == 6 && !strcmp(fl[0], "T")) {
			assert_true(n_recs < 32);
			tmpl_rec *r = &recs[n_recs++];
			snprintf(r->name, sizeof r->name, "%s", fl[1]);
			r->bos = unhex(fl[3]);
			r->eos = unhex(fl[4]);
			char *src = unhex(fl[5]);
			cn_err_clear(&err);
			cairn_status st = cn_chat_template_detect(src, strlen(src), &r->t, &err);
			if (st != CAIRN_OK || strcmp(r->t.name, fl[2]) != 0) {
				fprintf(stderr, "%s: detected %s, expected %s (%s)\n", fl[1], st ? "nothing" : r->t.name, fl[2],
				        err.msg);
				n_bad++;
			}
			free(src);
			continue;
		}
		assert_true(nf >= 6 && !strcmp(fl[0], "C"));
		tmpl_rec *r = NULL;
		for (int i = 0; i < n_recs; i++)
			if (!strcmp(recs[i].name, fl[1]))
				r = &recs[i];
		assert_non_null(r);
		int add_gen = atoi(fl[2]), lead = atoi(fl[3]), n = atoi(fl[4]);
		assert_int_equal(nf, 6 + 2 * n);
		cn_chat_msg msgs[8];
		char *own[16];
		for (int i = 0; i < n; i++) {
			own[2 * i] = unhex(fl[5 + 2 * i]);
			own[2 * i + 1] = unhex(fl[6 + 2 * i]);
			msgs[i] = (cn_chat_msg){own[2 * i], own[2 * i + 1]};
		}
		char *want = unhex(fl[5 + 2 * n]);
		cn_buf b;
		cn_buf_init(&b);
		cn_err_clear(&err);
		cairn_status st = cn_chat_apply(&r->t, msgs, (size_t)n, add_gen, r->bos, r->eos, &b, &err);
		const char *got = b.data ? b.data : "";
		n_cases++;
		if (st != CAIRN_OK || strcmp(got, want) != 0 || (lead && !r->t.leading_bos)) {
			fprintf(stderr, "%s (%d messages, add_generation_prompt %d):\n  jinja: \"%s\"\n  cairn: \"%s\" %s\n",
			        r->name, n, add_gen, want, got, st ? err.msg : "");
			n_bad++;
		}
		cn_buf_free(&b);
		free(want);
		for (int i = 0; i < 2 * n; i++)
			free(own[i]);
	}
	fclose(f);
	fprintf(stderr, "chat templates: %d templates, %d renderings compared, %d mismatches\n", n_recs, n_cases, n_bad);
	for (int i = 0; i < n_recs; i++) {
		cn_chat_template_free(&recs[i].t);
		free(recs[i].bos);
		free(recs[i].eos);
	}
	assert_true(n_recs >= 12);
	assert_true(n_cases >= 100);
	assert_int_equal(n_bad, 0);
}

static void test_names_and_errors(void **state)
{
	(void)state;
	cn_chat_template t;
	cn_err err;
	/* every listed name opens, and detection of a bare name gives it back */
	char names[512];
	snprintf(names, sizeof names, "%s", cn_chat_template_names());
	int count = 0;
	for (char *tok = strtok(names, ", "); tok; tok = strtok(NULL, ", ")) {
		cn_err_clear(&err);
		assert_int_equal(cn_chat_template_named(tok, &t, &err), CAIRN_OK);
		assert_string_equal(t.name, tok);
		cn_chat_template_free(&t);
		assert_int_equal(cn_chat_template_detect(tok, strlen(tok), &t, &err), CAIRN_OK);
		assert_string_equal(t.name, tok);
		cn_chat_template_free(&t);
		count++;
	}
	assert_int_equal(count, CN_CHAT_KIND_COUNT);

	cn_err_clear(&err);
	assert_int_equal(cn_chat_template_named("alpaca", &t, &err), CAIRN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "'alpaca' is unknown"));
	assert_non_null(strstr(err.msg, "chatml, llama3"));

	static const char weird[] = "{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}";
	cn_err_clear(&err);
	assert_int_equal(cn_chat_template_detect(weird, sizeof weird - 1, &t, &err), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "not one cairn recognises"));
	assert_non_null(strstr(err.msg, "mistral-v3"));
	cn_err_clear(&err);
	assert_int_equal(cn_chat_template_detect(NULL, 0, &t, &err), CAIRN_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "no chat template"));

	/* roles out of order where the template refuses them; a system message in the middle */
	cn_chat_msg bad[] = {{"user", "a"}, {"user", "b"}};
	cn_buf b;
	cn_buf_init(&b);
	assert_int_equal(cn_chat_template_named("llama2", &t, &err), CAIRN_OK);
	cn_err_clear(&err);
	assert_int_equal(cn_chat_apply(&t, bad, 2, true, NULL, NULL, &b, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "message 2 has role 'user' where 'assistant' was expected"));
	cn_chat_template_free(&t);
	cn_chat_msg mid[] = {{"user", "a"}, {"system", "b"}};
	assert_int_equal(cn_chat_template_named("gemma", &t, &err), CAIRN_OK);
	cn_err_clear(&err);
	assert_int_equal(cn_chat_apply(&t, mid, 2, true, NULL, NULL, &b, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "system message"));
	cn_chat_template_free(&t);
	/* ChatML takes any role, and folds nothing */
	cn_chat_msg tool[] = {{"tool", "42"}};
	assert_int_equal(cn_chat_template_named("chatml", &t, &err), CAIRN_OK);
	cn_buf_reset(&b);
	assert_int_equal(cn_chat_apply(&t, tool, 1, true, NULL, NULL, &b, &err), CAIRN_OK);
	assert_string_equal(b.data, "<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n");
	cn_chat_template_free(&t);
	/* Gemma folds a system message into the first user turn */
	cn_chat_msg sys[] = {{"system", "Be brief."}, {"user", " Hi "}};
	assert_int_equal(cn_chat_template_named("gemma", &t, &err), CAIRN_OK);
	cn_buf_reset(&b);
	assert_int_equal(cn_chat_apply(&t, sys, 2, true, NULL, NULL, &b, &err), CAIRN_OK);
	assert_string_equal(b.data, "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
	assert_true(t.leading_bos);
	assert_string_equal(t.stop, "<end_of_turn>");
	cn_chat_template_free(&t);
	cn_buf_free(&b);
}

/* The public calls on real files: Phi-3's GGUF (a template in its metadata), stories260K's
 * llama2.c checkpoint (none: named, with its tokenizer.bin), and its GGUF (none: the error). */
static void test_public_api(void **state)
{
	(void)state;
	const char *shared = cn_test_shared_dir();
	char bin[512], tok[512], gguf[512];
	if (!shared || !S.phi3[0]) {
		fprintf(stderr, "skipped: ../shared/models not found (set CAIRN_SHARED)\n");
		skip();
	}
	snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", shared);
	snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", shared);
	snprintf(gguf, sizeof gguf, "%s/models/stories260K/stories260K.gguf", shared);
	char eb[512];
	cairn_chat_template *t = NULL;
	assert_int_equal(cairn_chat_template_open(S.phi3, NULL, NULL, &t, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(cairn_chat_template_name(t), "phi3");
	assert_int_equal(cairn_chat_template_stop_token(t), 32007); /* <|end|> in Phi-3's vocabulary */
	assert_int_equal(cairn_chat_template_adds_bos(t), 1);
	cairn_chat_message m[] = {{"user", "Hello"}, {"assistant", "Hi there"}, {"user", "Who are you"}};
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(cairn_chat_format(t, m, 3, 1, &out, &len, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, "<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n"
	                         "<|assistant|>\n");
	assert_int_equal(len, strlen(out));
	cairn_free(out);
	cairn_chat_template_close(t);

	assert_int_equal(cairn_chat_template_open(bin, tok, "llama2", &t, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_chat_template_stop_token(t), 2); /* llama2.c's EOS */
	assert_int_equal(cairn_chat_format(t, m, 3, 1, &out, NULL, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, "[INST] Hello [/INST] Hi there </s><s>[INST] Who are you [/INST]");
	cairn_free(out);
	cairn_chat_template_close(t);

	assert_int_equal(cairn_chat_template_open(gguf, NULL, NULL, &t, eb, sizeof eb), CAIRN_EUNSUPPORTED);
	assert_null(t);
	assert_non_null(strstr(eb, "stories260K.gguf: the model has no chat template"));
	assert_non_null(strstr(eb, "chatml"));
	assert_int_equal(cairn_chat_template_open(gguf, NULL, "nope", &t, eb, sizeof eb), CAIRN_ENOTFOUND);
	assert_non_null(strstr(eb, "'nope' is unknown"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_jinja),
		cmocka_unit_test(test_names_and_errors),
		cmocka_unit_test(test_public_api),
	};
	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
