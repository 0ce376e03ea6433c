/* http_json (apps/server): the server's request parsing without sockets. UTF-8 validity,
 * percent-decoding and base64 are compared with Python's own (bytes.decode, urllib.parse
 * unquote_to_bytes, base64.b64encode) over random inputs; request shapes, id validation,
 * error codes and the token bucket are checked against hand-derived expectations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../apps/server/http_json.c"
#include "testutil.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* bytes biased towards UTF-8 lead/continuation bytes, '%' escapes and ASCII */
static size_t random_bytes(unsigned char *b, size_t cap)
{
	static const unsigned char pool[] = {'a', 'Z', '0', '%', '2', 'F', 'f', '+', '/', '.', 0x80, 0xBF, 0xC2,
	                                     0xC0, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F};
	size_t n = rnd() % cap;
	for (size_t i = 0; i < n; i++)
		b[i] = rnd() % 3 ? pool[rnd() % sizeof pool] : (unsigned char)rnd();
	return n;
}

static void test_against_python(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	char dir[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "httpjson"), 0);
	char in[512], script[512];
	snprintf(in, sizeof in, "%s/in.hex", dir);
	snprintf(script, sizeof script, "%s/ref.py", dir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fputs("import sys, base64, urllib.parse\n"
	      "for line in open(sys.argv[1]):\n"
	      "    b = bytes.fromhex(line.strip())\n"
	      "    try:\n"
	      "        b.decode('utf-8'); ok = 1\n"
	      "    except UnicodeDecodeError:\n"
	      "        ok = 0\n"
	      "    print(ok, base64.b64encode(b).decode(), urllib.parse.unquote_to_bytes(b).hex())\n",
	      f);
	fclose(f);
	enum { N = 3000 };
	static unsigned char bufs[N][48];
	static size_t lens[N];
	f = fopen(in, "w");
	assert_non_null(f);
	for (int i = 0; i < N; i++) {
		lens[i] = random_bytes(bufs[i], sizeof bufs[i]);
		for (size_t k = 0; k < lens[i]; k++)
			fprintf(f, "%02x", bufs[i][k]);
		fputc('\n', f);
	}
	fclose(f);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, in);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[4096];
	int n = 0, decoded_checked = 0;
	while (fgets(line, sizeof line, p) && n < N) {
		/* "OK B64 HEX\n", where B64 and HEX may be empty */
		char b64[200] = "", hex[200] = "";
		line[strcspn(line, "\n")] = 0;
		assert_true(line[0] == '0' || line[0] == '1');
		int ok = line[0] == '1';
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		assert_non_null(sp2);
		*sp2 = 0;
		snprintf(b64, sizeof b64, "%s", sp1 + 1);
		snprintf(hex, sizeof hex, "%s", sp2 + 1);
		const char *s = (const char *)bufs[n];
		assert_int_equal(srv_utf8_valid(s, lens[n]), ok);
		char *mine = srv_base64(bufs[n], lens[n]);
		assert_string_equal(mine, b64);
		free(mine);
		/* Python leaves malformed escapes as they are; ours refuses them. Where ours
		 * accepts, the bytes must agree. */
		char out[64];
		size_t ol = 0;
		if (srv_percent_decode(s, lens[n], false, out, sizeof out, &ol)) {
			char h[200];
			for (size_t k = 0; k < ol; k++)
				snprintf(h + 2 * k, 3, "%02x", (unsigned char)out[k]);
			h[2 * ol] = 0;
			assert_string_equal(h, hex);
			decoded_checked++;
		}
		n++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(n, N);
	assert_true(decoded_checked > N / 10);
	cn_test_rmtree(dir);
}

static json_t *obj(const char *s)
{
	json_t *o = NULL;
	srv_reqerr e;
	assert_true(srv_json_object(s, strlen(s), &o, &e));
	return o;
}

static void expect_refused(const char *body, int status, const char *code)
{
	json_t *o = NULL;
	srv_reqerr e = {0};
	assert_false(srv_json_object(body, strlen(body), &o, &e));
	assert_null(o);
	assert_int_equal(e.status, status);
	assert_string_equal(e.code, code);
	assert_true(e.msg[0] != 0);
}

static void test_bodies(void **state)
{
	(void)state;
	expect_refused("", 400, SRV_E_INVALID_JSON);
	expect_refused("{\"query\": \"chunk", 400, SRV_E_INVALID_JSON);
	expect_refused("{\"q\": \"caf\xe9\"}", 400, SRV_E_INVALID_JSON);
	expect_refused("{\"q\": \"\xed\xa0\x80\"}", 400, SRV_E_INVALID_JSON); /* a UTF-16 surrogate */
	expect_refused("{\"q\": \"\xc0\xaf\"}", 400, SRV_E_INVALID_JSON);     /* overlong '/' */
	expect_refused("[1,2]", 400, SRV_E_INVALID_JSON);
	expect_refused("{\"a\":1,\"a\":2}", 400, SRV_E_INVALID_JSON);
	expect_refused("{\"query\":\"a\\u0000b\"}", 400, SRV_E_INVALID_JSON); /* jansson refuses \u0000 */
	json_t *o = NULL;
	srv_reqerr e;
	assert_false(srv_json_object("{}\0x", 4, &o, &e));

	srv_search_req s;
	o = obj("{\"query\":\"deploy freeze\",\"k\":7,\"mode\":\"hybrid\",\"filter\":\"team=eng\",\"collapse\":true}");
	assert_true(srv_parse_search(o, &s, &e));
	assert_string_equal(s.query, "deploy freeze");
	assert_int_equal(s.k, 7);
	assert_int_equal(s.mode, CAIRN_SEARCH_HYBRID);
	assert_string_equal(s.filter, "team=eng");
	assert_true(s.collapse && s.snippets && !s.rm3);
	json_decref(o);
	const char *bad[] = {"{\"k\":3}", "{\"query\":\"  \"}", "{\"query\":5}", "{\"query\":\"a\",\"k\":1001}",
	                     "{\"query\":\"a\",\"k\":2.5}", "{\"query\":\"a\",\"mode\":\"fuzzy\"}",
	                     "{\"query\":\"a\",\"rm3\":1}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o = obj(bad[i]);
		e.status = 0;
		assert_false(srv_parse_search(o, &s, &e));
		assert_int_equal(e.status, 400);
		assert_string_equal(e.code, SRV_E_INVALID_REQUEST);
		json_decref(o);
	}

	srv_answer_req a;
	o = obj("{\"question\":\"why\",\"stream\":true,\"min_confidence\":0.5,\"max_sentences\":2}");
	assert_true(srv_parse_answer(o, &a, &e));
	assert_true(a.stream && !a.explain);
	assert_true(a.min_confidence == 0.5 && a.max_sentences == 2 && a.k == 8 && a.retrieval == -1);
	json_decref(o);
	o = obj("{\"question\":\"why\",\"min_confidence\":1.5}");
	assert_false(srv_parse_answer(o, &a, &e));
	json_decref(o);
}

static void test_chat_embed_doc(void **state)
{
	(void)state;
	srv_reqerr e;
	srv_chat_req c;
	json_t *o = obj("{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"first\"},"
	                "{\"role\":\"assistant\",\"content\":\"reply\"},"
	                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"},"
	                "{\"type\":\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"part\"}]}]}");
	assert_true(srv_parse_chat(o, &c, &e));
	assert_string_equal(c.question, "second\npart");
	assert_int_equal(c.prompt_chars, strlen("first") + strlen("reply") + strlen("second\npart"));
	free(c.buf);
	json_decref(o);
	const char *bad[] = {"{\"messages\":[]}", "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
	                     "{\"messages\":[{\"content\":\"x\"}]}", "{\"messages\":[{\"role\":\"user\",\"content\":7}]}",
	                     "{\"messages\":[{\"role\":\"user\",\"content\":\" \"}]}", "{\"messages\":\"hi\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o = obj(bad[i]);
		assert_false(srv_parse_chat(o, &c, &e));
		assert_null(c.buf);
		json_decref(o);
	}

	srv_embed_req m;
	o = obj("{\"input\":[\"a\",\"b\",\"c\"],\"encoding_format\":\"base64\"}");
	assert_true(srv_parse_embed(o, &m, &e));
	assert_int_equal(m.n, 3);
	assert_true(m.base64);
	assert_string_equal(m.inputs[2], "c");
	json_decref(o);
	o = obj("{\"input\":[[1,2,3]]}");
	assert_false(srv_parse_embed(o, &m, &e));
	json_decref(o);
	o = obj("{\"input\":\"x\",\"encoding_format\":\"int8\"}");
	assert_false(srv_parse_embed(o, &m, &e));
	json_decref(o);

	srv_doc_req d;
	o = obj("{\"doc_id\":\"hr/a.txt\",\"text\":\"hello\",\"groups\":[\"hr\",\"eng\"],\"metadata\":{\"y\":1}}");
	assert_true(srv_parse_doc(o, &d, &e));
	assert_int_equal(d.n_acl, 2);
	assert_string_equal(d.acl[1], "eng");
	assert_string_equal(d.metadata, "{\"y\":1}");
	free(d.metadata);
	json_decref(o);
	const char *bad_doc[] = {"{\"doc_id\":\"../x\",\"text\":\"t\"}", "{\"doc_id\":\"a\"}",
	                         "{\"doc_id\":\"a\",\"text\":\"t\",\"groups\":[\"has space\"]}",
	                         "{\"doc_id\":\"a\",\"text\":\"t\",\"groups\":\"hr\"}",
	                         "{\"doc_id\":\"a\",\"text\":\"t\",\"metadata\":[1]}", "{\"doc_id\":\"a%2Fb\",\"text\":\"t\"}"};
	for (size_t i = 0; i < sizeof bad_doc / sizeof *bad_doc; i++) {
		o = obj(bad_doc[i]);
		assert_false(srv_parse_doc(o, &d, &e));
		assert_int_equal(e.status, 400);
		json_decref(o);
	}
}

static void test_ids(void **state)
{
	(void)state;
	char id[SRV_MAX_ID + 1];
	srv_reqerr e;
	const char *good[][2] = {{"docs%2Fsearch.md", "docs/search.md"}, {"a.b", "a.b"}, {"..a", "..a"},
	                         {"x%20y", "x y"}, {"caf%C3%A9", "caf\xc3\xa9"}, {"a/.../b", "a/.../b"}};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		assert_true(srv_decode_id(good[i][0], strlen(good[i][0]), id, sizeof id, &e));
		assert_string_equal(id, good[i][1]);
	}
	const char *bad[] = {"..%2F..%2Fetc%2Fpasswd", "../etc", "..", ".", "a/./b", "a/..", "%2e%2e", "a%00b",
	                     "a%0Ab", "a%5Cb", "%ff", "%zz", "%4", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.status = 0;
		assert_false(srv_decode_id(bad[i], strlen(bad[i]), id, sizeof id, &e));
		assert_int_equal(e.status, 400);
	}
	char longid[SRV_MAX_ID + 2];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	assert_false(srv_decode_id(longid, strlen(longid), id, sizeof id, &e));

	int64_t v;
	assert_true(srv_parse_int("42", 0, 100, &v) && v == 42);
	assert_true(srv_parse_int("-3", -5, 5, &v) && v == -3);
	assert_false(srv_parse_int("101", 0, 100, &v));
	assert_false(srv_parse_int("4x", 0, 100, &v));
	assert_false(srv_parse_int("", 0, 100, &v));
	assert_false(srv_parse_int("-", -5, 100, &v));
	assert_false(srv_parse_int("99999999999999999999", 0, INT64_MAX, &v));
}

static void test_bucket(void **state)
{
	(void)state;
	/* 2 tokens/s, burst 3: three at once, the fourth waits 0.5 s (Retry-After rounds up to 1);
	 * after 1 s two more */
	srv_bucket b = {0};
	int retry = 0;
	for (int i = 0; i < 3; i++)
		assert_true(srv_bucket_take(&b, 100.0, 2, 3, &retry));
	assert_false(srv_bucket_take(&b, 100.0, 2, 3, &retry));
	assert_int_equal(retry, 1);
	assert_true(srv_bucket_take(&b, 101.0, 2, 3, &retry));
	assert_true(srv_bucket_take(&b, 101.0, 2, 3, &retry));
	assert_false(srv_bucket_take(&b, 101.0, 2, 3, &retry));
	/* a long pause refills only to the burst */
	for (int i = 0; i < 3; i++)
		assert_true(srv_bucket_take(&b, 500.0, 2, 3, &retry));
	assert_false(srv_bucket_take(&b, 500.0, 2, 3, &retry));
	/* a slow rate: 0.1/s → 10 s to the next token */
	srv_bucket s = {0};
	assert_true(srv_bucket_take(&s, 5.0, 0.1, 1, &retry));
	assert_false(srv_bucket_take(&s, 5.0, 0.1, 1, &retry));
	assert_int_equal(retry, 10);

	char *j = srv_error_json("not_found", "no such \"doc\"");
	assert_string_equal(j, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such \\\"doc\\\"\"}}");
	free(j);
	assert_int_equal(srv_estimate_tokens(0), 0);
	assert_int_equal(srv_estimate_tokens(9), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_python), cmocka_unit_test(test_bodies), cmocka_unit_test(test_chat_embed_doc),
		cmocka_unit_test(test_ids), cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
