/*
 * fuzz_jsonl — the JSON Lines record reader (src/ingest/jsonl.c, jansson underneath): read
 * every record of the input, continuing after malformed lines as the engine does. Checks:
 * no crash, leak or UB; the reader always makes progress (bounded number of calls); records
 * have non-NULL id/title/text, line numbers strictly increase, byte ranges lie inside the
 * input and do not go backwards, and metadata_json is a JSON object.
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
		last_line = rec.line;
		last_end = rec.src_end;
	}
	cn_jsonl_close(r);
	return 0;
}
