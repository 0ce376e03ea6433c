/*
 * pii_eval.c — span-level precision and recall of the PII detector on presidio-research's
 * synthetic dataset (a JSON array of {full_text, spans:[{entity_type, start_position,
 * end_position}]}).
 *
 * Two matchings, reported side by side: exact (same type, same byte range after trimming
 * whitespace from the gold span) and overlap (same type, ranges intersect; precision counts
 * predictions touching a gold span, recall counts gold spans touched by a prediction).
 * The dataset's offsets are Python string indices, i.e. code points; they are converted to
 * byte offsets through a per-record index so the detector's byte spans compare directly.
 * The dataset calls places GPE; the detector calls them LOCATION (Presidio's name): the
 * gold label is renamed before matching.
 */
#include <jansson.h>
#include <string.h>

#include "guard/guard.h"

static cn_pii_eval_row *row_for(cn_pii_eval *ev, const char *type)
{
	for (size_t i = 0; i < ev->nrows; i++)
		if (!strcmp(ev->rows[i].type, type))
			return &ev->rows[i];
	if (ev->nrows >= CN_ARRAY_LEN(ev->rows))
		return NULL;
	cn_pii_eval_row *r = &ev->rows[ev->nrows++];
	memset(r, 0, sizeof *r);
	snprintf(r->type, sizeof r->type, "%s", type);
	return r;
}

typedef struct gspan {
	char type[32];
	size_t a, b;
} gspan;

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static void note(cn_buf *log, const char *what, const char *type, const char *t, size_t n, size_t a, size_t b)
{
	if (!log)
		return;
	size_t lo = a > 30 ? a - 30 : 0, hi = b + 20 < n ? b + 20 : n;
	cn_buf_printf(log, "%s %s ", what, type);
	cn_buf_put_json_str(log, t + a, b - a);
	cn_buf_puts(log, "  in ");
	cn_buf_put_json_str(log, t + lo, hi - lo);
	cn_buf_putc(log, '\n');
}

static cairn_status eval_record(const char *t, size_t n, json_t *spans, float min_score, cn_pii_eval *ev,
                                cn_buf *log, cn_err *err)
{
	/* code point index → byte offset */
	size_t ncp = 0;
	for (size_t i = 0; i < n; i++)
		ncp += ((unsigned char)t[i] & 0xC0) != 0x80;
	size_t *cp2b = cn_malloc((ncp + 1) * sizeof *cp2b);
	if (!cp2b)
		return cn_err_set(err, CAIRN_ENOMEM, "eval pii: out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)t[i] & 0xC0) != 0x80)
			cp2b[k++] = i;
	cp2b[ncp] = n;

	size_t ng = json_array_size(spans);
	gspan *g = cn_calloc(ng ? ng : 1, sizeof *g);
	if (!g) {
		cn_free(cp2b);
		return cn_err_set(err, CAIRN_ENOMEM, "eval pii: out of memory");
	}
	size_t gn = 0;
	for (size_t i = 0; i < ng; i++) {
		json_t *sp = json_array_get(spans, i);
		const char *ty = json_string_value(json_object_get(sp, "entity_type"));
		json_t *js = json_object_get(sp, "start_position"), *je = json_object_get(sp, "end_position");
		if (!ty || !json_is_integer(js) || !json_is_integer(je))
			continue;
		json_int_t s0 = json_integer_value(js), e0 = json_integer_value(je);
		if (s0 < 0 || e0 <= s0 || (size_t)e0 > ncp)
			continue;
		size_t a = cp2b[s0], b = cp2b[e0];
		while (a < b && is_space(t[a]))
			a++;
		while (b > a && is_space(t[b - 1]))
			b--;
		if (a == b)
			continue;
		snprintf(g[gn].type, sizeof g[gn].type, "%s", !strcmp(ty, "GPE") ? "LOCATION" : ty);
		g[gn].a = a;
		g[gn].b = b;
		gn++;
	}
	cn_free(cp2b);

	cn_pii_opts o = cn_pii_default_opts();
	o.min_score = min_score;
	cn_pii_finding *f = NULL;
	size_t nf = 0;
	cairn_status st = cn_pii_scan(t, n, &o, &f, &nf, err);
	if (st != CAIRN_OK) {
		cn_free(g);
		return st;
	}
	for (size_t i = 0; i < gn; i++) {
		cn_pii_eval_row *r = row_for(ev, g[i].type);
		if (!r)
			continue;
		r->gold++;
		bool ex = false, ov = false;
		for (size_t j = 0; j < nf; j++) {
			if (strcmp(cn_pii_type_name(f[j].type), g[i].type))
				continue;
			ex = ex || (f[j].start == g[i].a && f[j].end == g[i].b);
			ov = ov || (f[j].start < g[i].b && g[i].a < f[j].end);
		}
		r->tp_exact += ex;
		r->tp_overlap_gold += ov;
		if (!ex)
			note(log, ov ? "PART" : "MISS", g[i].type, t, n, g[i].a, g[i].b);
	}
	for (size_t j = 0; j < nf; j++) {
		const char *ty = cn_pii_type_name(f[j].type);
		cn_pii_eval_row *r = row_for(ev, ty);
		if (!r)
			continue;
		r->predicted++;
		bool ov = false;
		for (size_t i = 0; i < gn; i++)
			ov = ov || (!strcmp(ty, g[i].type) && f[j].start < g[i].b && g[i].a < f[j].end);
		r->tp_overlap_pred += ov;
		if (!ov)
			note(log, "FALSE", ty, t, n, f[j].start, f[j].end);
	}
	cn_free(f);
	cn_free(g);
	return CAIRN_OK;
}

static int row_cmp(const void *x, const void *y)
{
	const cn_pii_eval_row *p = x, *q = y;
	if (p->gold != q->gold)
		return p->gold > q->gold ? -1 : 1;
	return strcmp(p->type, q->type);
}

cairn_status cn_pii_eval_file_log(const char *path, int split, float min_score, cn_pii_eval *out, cn_buf *log,
                                  cn_err *err)
{
	memset(out, 0, sizeof *out);
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, (size_t)1 << 30, &data, &len, err);
	if (st != CAIRN_OK)
		return st;
	json_error_t je;
	json_t *root = json_loadb(data, len, 0, &je);
	cn_free(data);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
	if (!json_is_array(root)) {
		json_decref(root);
		return cn_err_set(err, CAIRN_EFORMAT, "%s: expected a JSON array of records", path);
	}
	size_t nrec = json_array_size(root);
	for (size_t i = 0; i < nrec && st == CAIRN_OK; i++) {
		if ((split == 1 && i % 2) || (split == 2 && !(i % 2)))
			continue;
		json_t *rec = json_array_get(root, i);
		json_t *ft = json_object_get(rec, "full_text");
		json_t *spans = json_object_get(rec, "spans");
		if (!json_is_string(ft) || !json_is_array(spans)) {
			st = cn_err_set(err, CAIRN_EFORMAT, "%s: record %zu lacks full_text or spans", path, i);
			break;
		}
		st = eval_record(json_string_value(ft), json_string_length(ft), spans, min_score, out, log, err);
		out->records++;
	}
	json_decref(root);
	if (st == CAIRN_OK && out->records == 0)
		st = cn_err_set(err, CAIRN_EEMPTY, "%s: no records", path);
	qsort(out->rows, out->nrows, sizeof out->rows[0], row_cmp);
	return st;
}

cairn_status cn_pii_eval_file(const char *path, int split, float min_score, cn_pii_eval *out, cn_err *err)
{
	return cn_pii_eval_file_log(path, split, min_score, out, NULL, err);
}

/* A directory is searched for the dataset file (synth_dataset_v2.json or a part of it). */
static cairn_status find_dataset(const char *path, char *out, size_t cap, cn_err *err)
{
	if (!cn_is_dir(path)) {
		snprintf(out, cap, "%s", path);
		return CAIRN_OK;
	}
	static const char *const names[] = {"synth_dataset_v2.json", "synth_dataset_v2.part-a.json",
	                                    "synth_dataset_v2.part-b.json"};
	for (size_t i = 0; i < CN_ARRAY_LEN(names); i++) {
		snprintf(out, cap, "%s/%s", path, names[i]);
		if (cn_path_exists(out))
			return CAIRN_OK;
	}
	return cn_err_set(err, CAIRN_ENOTFOUND, "%s: no synth_dataset_v2*.json in this directory", path);
}

cairn_status cairn_eval_pii(const char *path, int split, double min_score, cairn_pii_eval_report *out,
                            char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	memset(out, 0, sizeof *out);
	uint64_t t0 = cn_now_ns();
	cn_pii_eval ev;
	cairn_status st = CAIRN_OK;
	if (split < 0 || split > 2 || !(min_score >= 0 && min_score <= 1))
		st = cn_err_set(&err, CAIRN_EINVAL, "eval pii: split must be 0-2 and min_score in [0,1]");
	if (st == CAIRN_OK)
		st = find_dataset(path, out->path, sizeof out->path, &err);
	if (st == CAIRN_OK)
		st = cn_pii_eval_file(out->path, split, (float)min_score, &ev, &err);
	if (st == CAIRN_OK) {
		out->records = ev.records;
		out->n_rows = CN_MIN(ev.nrows, CN_ARRAY_LEN(out->rows));
		for (size_t i = 0; i < out->n_rows; i++) {
			const cn_pii_eval_row *r = &ev.rows[i];
			cairn_pii_eval_row *o = &out->rows[i];
			memcpy(o->type, r->type, sizeof o->type);
			o->gold = r->gold;
			o->predicted = r->predicted;
			o->tp_exact = r->tp_exact;
			o->tp_overlap_gold = r->tp_overlap_gold;
			o->tp_overlap_pred = r->tp_overlap_pred;
			o->precision_exact = r->predicted ? (double)r->tp_exact / (double)r->predicted : 0;
			o->recall_exact = r->gold ? (double)r->tp_exact / (double)r->gold : 0;
			o->precision_overlap = r->predicted ? (double)r->tp_overlap_pred / (double)r->predicted : 0;
			o->recall_overlap = r->gold ? (double)r->tp_overlap_gold / (double)r->gold : 0;
		}
	}
	out->seconds = (double)(cn_now_ns() - t0) / 1e9;
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", st ? err.msg : "");
	return st;
}
