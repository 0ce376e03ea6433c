/*
 * fuzz_jsonl — the JSON Lines record reader (src/ingest/jsonl.c, our own strict scanner):
 * read every record of the input, continuing after malformed lines as the engine does.
 * Checks: no crash, leak or UB; the reader always makes progress (bounded number of calls);
 * records have non-NULL id/title/text, line numbers strictly increase, byte ranges lie
 * inside the input and do not go backwards, and metadata_json is a JSON object. And a
 * differential check against jansson, an independent JSON parser: every line the scanner
 * accepts, jansson accepts too, with the same "_id" (strings) — or, without one, the value of
 * "doc_id" or "id" — and "text".
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	cn_err err;
	cn_err_clear(&err);
	cn_jsonl_reader *r = NULL;
	const char *d = (const char *)data;
	if (cn_jsonl_open("fuzz.jsonl", d, size, &r, &err) != CAIRN_OK) {
		FUZZ_CHECK(r == NULL, "failed open returned a reader");
		return 0;
	}
	uint64_t last_line = 0, last_end = 0;
	size_t calls = 0;
	for (;;) {
		FUZZ_CHECK(++calls <= size + 2, "reader does not make progress (%zu calls)", calls);
		cn_jsonl_record rec;
		memset(&rec, 0, sizeof rec);
		cn_err_clear(&err);
		cairn_status st = cn_jsonl_next(r, &rec, &err);
		if (st == CAIRN_ENOTFOUND)
			break;
		if (st == CAIRN_EFORMAT) {
			FUZZ_CHECK(err.msg[0], "EFORMAT without a message");
			continue;
		}
		FUZZ_CHECK(st == CAIRN_OK, "unexpected status %d: %s", (int)st, err.msg);
		FUZZ_CHECK(rec.id && rec.title && rec.text && rec.metadata_json, "NULL field in a record");
		FUZZ_CHECK(rec.line > last_line, "line %llu after %llu", (unsigned long long)rec.line,
		           (unsigned long long)last_line);
		FUZZ_CHECK(rec.src_start <= rec.src_end && rec.src_end <= size, "record range %llu..%llu of %zu",
		           (unsigned long long)rec.src_start, (unsigned long long)rec.src_end, size);
		FUZZ_CHECK(rec.src_start >= last_end, "record range goes backwards");
		FUZZ_CHECK(rec.text_len >= strlen(rec.text), "text_len %zu < strlen %zu", rec.text_len,
		           strlen(rec.text));
		(void)strlen(rec.id);
		(void)strlen(rec.title);
		json_error_t je;
		json_t *meta = json_loads(rec.metadata_json, 0, &je);
		FUZZ_CHECK(meta && json_is_object(meta), "metadata_json is not a JSON object: %s", rec.metadata_json);
		json_decref(meta);
		/* the reader trims any ASCII white space (also \f, \v) around a line; JSON allows only
		 * four kinds, so give jansson the trimmed line */
		size_t lb = (size_t)rec.src_start, le = (size_t)rec.src_end;
		while (lb < le && strchr(" \t\r\n\f\v", d[lb]) && d[lb])
			lb++;
		while (le > lb && strchr(" \t\r\n\f\v", d[le - 1]) && d[le - 1])
			le--;
		json_t *line = json_loadb(d + lb, le - lb, 0, &je);
		/* jansson refuses numbers a double cannot hold; RFC 8259 leaves ranges to the reader
		 * and the scanner never converts numbers, so those lines are not compared. */
		if (!line && strstr(je.text, "overflow")) {
			last_line = rec.line;
			last_end = rec.src_end;
			continue;
		}
		FUZZ_CHECK(line && json_is_object(line), "scanner accepted a line jansson rejects: %s", je.text);
		json_t *jt = json_object_get(line, "text"), *jid = json_object_get(line, "_id");
		FUZZ_CHECK(json_is_string(jt) && json_string_length(jt) == rec.text_len &&
		               memcmp(json_string_value(jt), rec.text, rec.text_len) == 0,
		           "text differs from jansson's");
		if (json_is_string(jid))
			FUZZ_CHECK(strcmp(json_string_value(jid), rec.id) == 0, "_id differs from jansson's");
		else if (!jid) { /* the id came from "doc_id" or "id": one of jansson's strings, or a number */
			json_t *a = json_object_get(line, "doc_id"), *b = json_object_get(line, "id");
			/* either key's string (an escaped key spelling is a key of its own to the scanner,
			 * which compares keys as written), or a number's text, which jansson does not keep */
			FUZZ_CHECK((json_is_string(a) && !strcmp(json_string_value(a), rec.id)) ||
			               (json_is_string(b) && !strcmp(json_string_value(b), rec.id)) || json_is_number(a) ||
			               json_is_number(b),
			           "id %s is neither doc_id nor id", rec.id);
		}
		json_decref(line);
		last_line = rec.line;
		last_end = rec.src_end;
	}
	cn_jsonl_close(r);
	return 0;
}
