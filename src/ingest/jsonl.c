/*
 * JSON Lines reader for BEIR-style corpora: {"_id": …, "title": …, "text": …, …} per line.
 *
 * The reader walks the caller's buffer line by line (memchr), so a bad line costs only that
 * line: it is reported as "path:LINE: reason" and the cursor is already past it, letting the
 * caller log and continue. Each line is UTF-8-checked before jansson sees it (jansson's own
 * message would not say where). The record's strings point into the jansson tree of the
 * current line, kept until the next call; metadata is re-encoded as a flat JSON object of
 * strings (the keys other than _id/title/text, and the keys of a nested "metadata" object).
 */
#include "ingest/ingest_int.h"

#include <jansson.h>
#include <string.h>

struct cn_jsonl_reader {
	char *path;
	const char *data;
	size_t len, pos;
	uint64_t line;
	json_t *root;
	cn_buf meta, id;
};

cairn_status cn_jsonl_open(const char *path, const char *data, size_t len, cn_jsonl_reader **out,
			   cn_err *err)
{
	*out = NULL;
	if (!path)
		path = "(input)";
	if (!data && len)
		return cn_err_set(err, CAIRN_EINVAL, "%s: no data", path);
	cn_jsonl_reader *r = cn_calloc(1, sizeof *r);
	if (!r)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	r->path = cn_strdup(path);
	if (!r->path) {
		cn_free(r);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	r->data = data ? data : "";
	r->len = len;
	r->pos = cn_ing_bom(r->data, len);
	cn_buf_init(&r->meta);
	cn_buf_init(&r->id);
	*out = r;
	return CAIRN_OK;
}

void cn_jsonl_close(cn_jsonl_reader *r)
{
	if (!r)
		return;
	if (r->root)
		json_decref(r->root);
	cn_buf_free(&r->meta);
	cn_buf_free(&r->id);
	cn_free(r->path);
	cn_free(r);
}

/* Appends v as a string value ("true", decimal numbers, compact JSON for containers). */
static void put_scalar(cn_buf *b, json_t *v)
{
	char tmp[64];
	switch (json_typeof(v)) {
	case JSON_STRING: cn_buf_put_json_str(b, json_string_value(v), json_string_length(v)); return;
	case JSON_INTEGER:
		snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v)); break;
	case JSON_TRUE: snprintf(tmp, sizeof tmp, "true"); break;
	case JSON_FALSE: snprintf(tmp, sizeof tmp, "false"); break;
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s) {
			b->failed = true;
			return;
		}
		cn_buf_put_json_str(b, s, strlen(s));
		json_malloc_t m;
		json_free_t f;
		json_get_alloc_funcs(&m, &f);
		f(s);
		return;
	}
	}
	cn_buf_put_json_str(b, tmp, strlen(tmp));
}

static bool reserved(const char *k)
{
	return !strcmp(k, "_id") || !strcmp(k, "title") || !strcmp(k, "text");
}

static void put_member(cn_buf *b, bool *first, const char *k, json_t *v)
{
	if (json_is_null(v))
		return;
	if (!*first)
		cn_buf_putc(b, ',');
	*first = false;
	cn_buf_put_json_str(b, k, strlen(k));
	cn_buf_putc(b, ':');
	put_scalar(b, v);
}

static cairn_status build_meta(cn_jsonl_reader *r, json_t *root)
{
	cn_buf_reset(&r->meta);
	cn_buf_putc(&r->meta, '{');
	bool first = true;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		if (reserved(k) || (!strcmp(k, "metadata") && json_is_object(v)))
			continue;
		put_member(&r->meta, &first, k, v);
	}
	json_t *m = json_object_get(root, "metadata");
	if (json_is_object(m)) {
		json_object_foreach(m, k, v) {
			if (!reserved(k) && strcmp(k, "metadata") && json_object_get(root, k))
				continue; /* the top-level key wins */
			put_member(&r->meta, &first, k, v);
		}
	}
	cn_buf_putc(&r->meta, '}');
	return r->meta.failed ? CAIRN_ENOMEM : CAIRN_OK;
}

cairn_status cn_jsonl_next(cn_jsonl_reader *r, cn_jsonl_record *rec, cn_err *err)
{
	if (r->root) {
		json_decref(r->root);
		r->root = NULL;
	}
	for (;;) {
		if (r->pos >= r->len)
			return CAIRN_ENOTFOUND;
		const char *s = r->data + r->pos;
		const char *nl = memchr(s, '\n', r->len - r->pos);
		size_t start = r->pos, end = nl ? (size_t)(nl - r->data) : r->len;
		r->pos = nl ? end + 1 : r->len;
		r->line++;
		size_t e = end;
		while (e > start && cn_ing_isspace((unsigned char)r->data[e - 1]))
			e--;
		size_t b = start;
		while (b < e && cn_ing_isspace((unsigned char)r->data[b]))
			b++;
		if (b == e)
			continue; /* blank line */
		size_t bad;
		if (!cn_ing_utf8_valid(r->data + b, e - b, &bad, NULL))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: invalid UTF-8 at byte %zu of the line",
					  r->path, (unsigned long long)r->line, bad + (b - start));
		json_error_t je;
		json_t *root = json_loadb(r->data + b, e - b, 0, &je);
		if (!root) {
			if (!strcmp(je.text, "out of memory"))
				return cn_err_set(err, CAIRN_ENOMEM, "%s:%llu: out of memory", r->path,
						  (unsigned long long)r->line);
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: bad JSON at column %d: %s", r->path,
					  (unsigned long long)r->line, je.column, je.text);
		}
		r->root = root;
		if (!json_is_object(root))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: not a JSON object", r->path,
					  (unsigned long long)r->line);
		json_t *id = json_object_get(root, "_id");
		json_t *text = json_object_get(root, "text");
		json_t *title = json_object_get(root, "title");
		if (!id)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: missing \"_id\"", r->path,
					  (unsigned long long)r->line);
		cn_buf_reset(&r->id);
		if (json_is_string(id)) {
			cn_buf_append(&r->id, json_string_value(id), json_string_length(id));
		} else if (json_is_integer(id)) {
			cn_buf_printf(&r->id, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		} else if (json_is_real(id)) {
			cn_buf_printf(&r->id, "%.17g", json_real_value(id));
		} else {
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: \"_id\" is not a string or number",
					  r->path, (unsigned long long)r->line);
		}
		if (r->id.failed)
			return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", r->path);
		if (!r->id.len || memchr(r->id.data, '\0', r->id.len))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: empty or invalid \"_id\"", r->path,
					  (unsigned long long)r->line);
		if (!text)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: missing \"text\"", r->path,
					  (unsigned long long)r->line);
		if (!json_is_string(text))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: \"text\" is not a string", r->path,
					  (unsigned long long)r->line);
		if (title && !json_is_string(title) && !json_is_null(title))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%llu: \"title\" is not a string", r->path,
					  (unsigned long long)r->line);
		if (build_meta(r, root))
			return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", r->path);
		memset(rec, 0, sizeof *rec);
		rec->id = r->id.data;
		rec->title = json_is_string(title) ? json_string_value(title) : "";
		rec->text = json_string_value(text);
		rec->text_len = json_string_length(text);
		rec->metadata_json = r->meta.data;
		rec->line = r->line;
		rec->src_start = start;
		rec->src_end = end;
		return CAIRN_OK;
	}
}
