/*
 * fuzz_http_json — the server's request parsing (apps/server/http_json.c), with no socket:
 * the input is a request body parsed as JSON and then as each route's request (search,
 * answer, chat, embeddings, documents), and also a raw path id, a query number and a
 * percent-encoded string. Checks: no crash, leak or UB; a refusal always has a 4xx/5xx
 * status, a code and a message; an accepted body was valid UTF-8; an accepted id is valid
 * UTF-8 without control characters, backslashes or "."/".." segments; accepted numbers are
 * in range; base64 has the right length.
 */
#include "fuzz.h"

#include <string.h>

#include "../../apps/server/http_json.c"

static void refused(const srv_reqerr *e)
{
	FUZZ_CHECK(e->status >= 400 && e->status < 600, "refusal status %d", e->status);
	FUZZ_CHECK(e->code && *e->code && e->msg[0], "refusal without a code or message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	srv_reqerr e;
	json_t *o = NULL;
	memset(&e, 0, sizeof e);
	if (srv_json_object(body, size, &o, &e)) {
		FUZZ_CHECK(json_is_object(o) && srv_utf8_valid(body, size) && !memchr(body, 0, size), "accepted a bad body");
		srv_search_req s;
		if (srv_parse_search(o, &s, &e))
			FUZZ_CHECK(s.query && s.k >= 1 && s.k <= 1000, "search k %d", s.k);
		else
			refused(&e);
		srv_answer_req a;
		if (srv_parse_answer(o, &a, &e))
			FUZZ_CHECK(a.question && a.max_sentences >= 1 && a.max_sentences <= 10, "answer");
		else
			refused(&e);
		srv_chat_req c;
		if (srv_parse_chat(o, &c, &e)) {
			FUZZ_CHECK(c.question && strlen(c.question) <= SRV_MAX_QUERY, "chat question");
			free(c.buf);
		} else {
			refused(&e);
			FUZZ_CHECK(c.buf == NULL, "chat buffer left after a refusal");
		}
		srv_embed_req em;
		if (srv_parse_embed(o, &em, &e)) {
			FUZZ_CHECK(em.n >= 1 && em.n <= SRV_MAX_EMBED_INPUTS, "embed n");
			for (size_t i = 0; i < em.n; i++)
				FUZZ_CHECK(em.inputs[i] != NULL, "embed input");
		} else {
			refused(&e);
		}
		srv_doc_req d;
		if (srv_parse_doc(o, &d, &e)) {
			FUZZ_CHECK(d.doc_id && d.text && d.text_len == strlen(d.text), "doc");
			free(d.metadata);
		} else {
			refused(&e);
		}
		json_decref(o);
	} else {
		refused(&e);
		FUZZ_CHECK(o == NULL, "refused body returned an object");
	}

	char id[SRV_MAX_ID + 1];
	if (srv_decode_id(body, size, id, sizeof id, &e)) {
		size_t n = strlen(id);
		FUZZ_CHECK(n >= 1 && n <= SRV_MAX_ID && srv_utf8_valid(id, n), "decoded id");
		FUZZ_CHECK(!strchr(id, '\\') && strcmp(id, "..") && strncmp(id, "../", 3) && !strstr(id, "/../") &&
		               !(n >= 3 && !strcmp(id + n - 3, "/..")),
		           "id with a traversal: %s", id);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)id[i] >= 0x20 && id[i] != 0x7F, "control character in id");
	} else {
		refused(&e);
	}
	char small[64];
	if (size < sizeof small) {
		memcpy(small, body, size);
		small[size] = 0;
		int64_t v;
		if (srv_parse_int(small, -5, 1000, &v))
			FUZZ_CHECK(v >= -5 && v <= 1000, "int out of range");
	}
	char dec[256];
	size_t dl = 0;
	if (srv_percent_decode(body, size, true, dec, sizeof dec, &dl))
		FUZZ_CHECK(dl < sizeof dec && dl <= size, "decoded length");
	char *b64 = srv_base64(data, size);
	if (b64) {
		FUZZ_CHECK(strlen(b64) == (size + 2) / 3 * 4, "base64 length");
		free(b64);
	}
	srv_bucket bk = {0};
	int retry = 0;
	for (size_t i = 0; i < size && i < 64; i++) {
		if (!srv_bucket_take(&bk, 1000.0 + data[i] / 16.0, 2.0, 5.0, &retry))
			FUZZ_CHECK(retry >= 1 && retry <= 3600, "retry-after %d", retry);
		FUZZ_CHECK(bk.tokens <= 5.0, "bucket over burst");
	}
	return 0;
}
