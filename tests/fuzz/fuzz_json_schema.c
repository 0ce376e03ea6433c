/*
 * fuzz_json_schema — the JSON-schema compiler and matcher (src/sample/jschema.c). The input
 * is a schema text, a NUL byte, and bytes fed to the matcher one at a time. Checks: no
 * crash, leak or UB; a failed compile has a message; a refused byte leaves the state as it
 * was; may-end and zero bytes-to-go agree; an accepted byte lowers the bytes-to-go by at most
 * one (what the budget guarantee rests on); and from every state reached, a shortest
 * completion exists byte by byte and ends in a complete document.
 */
#include "fuzz.h"

#include <string.h>

#include "sample/sample.h"

/* Follows a shortest completion from the current state: some byte must lower the count,
 * and none may lower it by more than one. */
static void complete(cn_jmatch *m)
{
	int64_t need = cn_jmatch_min_bytes(m);
	for (int steps = 0; need > 0 && steps < 4096; steps++) {
		int pick = -1;
		for (int b = 0; b < 256; b++) {
			uint8_t c = (uint8_t)b;
			int64_t after;
			if (!cn_jmatch_try(m, &c, 1, &after))
				continue;
			FUZZ_CHECK(after >= need - 1, "byte 0x%02x lowers %lld to %lld", b, (long long)need, (long long)after);
			if (after == need - 1 && pick < 0)
				pick = b;
		}
		FUZZ_CHECK(pick >= 0, "no byte continues a document that needs %lld more", (long long)need);
		uint8_t c = (uint8_t)pick;
		FUZZ_CHECK(cn_jmatch_feed(m, &c, 1), "a tried byte was refused");
		need--;
		FUZZ_CHECK(cn_jmatch_min_bytes(m) == need, "the count after a shortest byte");
	}
	FUZZ_CHECK(need == 0 && cn_jmatch_can_end(m), "a shortest completion does not end the document");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	cn_err err;
	cn_err_clear(&err);
	cn_jschema *s = NULL;
	if (cn_jschema_compile((const char *)data, slen, &s, &err) != CAIRN_OK) {
		FUZZ_CHECK(s == NULL && err.msg[0], "failed compile without a message");
		return 0;
	}
	FUZZ_CHECK(cn_jschema_min_bytes(s) >= 1, "a document of %lld bytes", (long long)cn_jschema_min_bytes(s));
	cn_jmatch *m = NULL;
	if (cn_jmatch_new(s, &m, &err) != CAIRN_OK) {
		cn_jschema_free(s);
		return 0;
	}
	FUZZ_CHECK(cn_jmatch_min_bytes(m) == cn_jschema_min_bytes(s), "fresh matcher disagrees with the schema");
	const uint8_t *p = nul ? nul + 1 : data + size, *end = data + size;
	size_t fed = 0;
	for (; p < end && fed < 4096; p++, fed++) {
		int64_t before = cn_jmatch_min_bytes(m);
		bool ok = cn_jmatch_feed(m, p, 1);
		int64_t after = cn_jmatch_min_bytes(m);
		if (!ok)
			FUZZ_CHECK(after == before, "a refused byte changed the state (%lld → %lld)", (long long)before,
			           (long long)after);
		else
			FUZZ_CHECK(after >= before - 1, "byte 0x%02x lowered the count %lld → %lld", *p, (long long)before,
			           (long long)after);
		FUZZ_CHECK(cn_jmatch_can_end(m) == (after == 0), "may-end %d with %lld bytes to go",
		           cn_jmatch_can_end(m), (long long)after);
	}
	complete(m);
	cn_jmatch_free(m);
	cn_jschema_free(s);
	return 0;
}
