/*
 * result.c — one run's per-query measures with their provenance, and the ways to write and
 * read them back.
 *
 * A result is what both `eval retrieval` and `eval trec` produce and what `eval compare`
 * consumes, so comparisons work the same whether the runs came from cairn or from another
 * system's run file. Per-query values are kept (not just means) because significance tests
 * and failure analysis need them; the top retrieved and the relevant document ids are kept
 * for the failures section of the HTML report.
 *
 * Provenance travels as a JSON object of text (meta) that this file never interprets beyond
 * passing it through: the runner and cairn_eval_trec decide what goes in, the reports show
 * it. The JSON file format is versioned by its "kind" key; loading validates every field and
 * bounds every count by the file's own size.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eval/eval.h"

#define RESULT_KIND "cairn-eval-result/1"
#define RESULT_MAX_BYTES ((size_t)1 << 30)

void cn_eval_errbuf(char *errbuf, size_t n, const cn_err *err)
{
	if (errbuf && n)
		snprintf(errbuf, n, "%s", err->msg);
}

cairn_status cn_eval_report_take(cn_buf *b, char **text, size_t *len, char *errbuf, size_t errbuf_size)
{
	size_t n = b->len;
	if (b->failed || !(*text = cn_buf_take(b))) {
		cn_buf_free(b);
		cn_err err;
		cn_err_clear(&err);
		cn_err_set(&err, CAIRN_ENOMEM, "eval: out of memory");
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_ENOMEM;
	}
	if (len)
		*len = n;
	return CAIRN_OK;
}

cairn_eval_result *cn_evres_new(const cn_mspec *m, size_t nm, cn_err *err)
{
	if (nm == 0 || nm > CN_MSPEC_MAX) {
		cn_err_set(err, CAIRN_EINVAL, "eval: %zu measures (1..%d)", nm, CN_MSPEC_MAX);
		return NULL;
	}
	cairn_eval_result *r = cn_calloc(1, sizeof *r);
	if (r)
		r->mean = cn_calloc(nm, sizeof *r->mean);
	if (!r || !r->mean) {
		cn_free(r);
		cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		return NULL;
	}
	memcpy(r->m, m, nm * sizeof *m);
	r->nm = nm;
	return r;
}

static void evq_free(cn_evq *q)
{
	for (size_t i = 0; i < q->ntop; i++)
		cn_free(q->top[i]);
	for (size_t i = 0; i < q->nrel; i++)
		cn_free(q->rel[i]);
	cn_free(q->top);
	cn_free(q->top_grade);
	cn_free(q->rel);
	cn_free(q->rel_grade);
	cn_free(q->qid);
	cn_free(q->detail);
}

void cairn_eval_result_free(cairn_eval_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nq; i++)
		evq_free(&r->q[i]);
	cn_free(r->q);
	cn_free(r->v);
	cn_free(r->mean);
	cn_free(r->meta);
	cn_free(r);
}

/* Makes room for one more query; returns it zeroed (its values row too). */
cn_evq *cn_evres_push(cairn_eval_result *r, cn_err *err)
{
	if (r->nq == r->qcap) {
		size_t cap = r->qcap ? r->qcap * 2 : 64;
		cn_evq *q = cn_realloc(r->q, cap * sizeof *q);
		if (!q)
			goto oom;
		r->q = q;
		double *v = cn_realloc(r->v, cap * r->nm * sizeof *v);
		if (!v)
			goto oom;
		r->v = v;
		r->qcap = cap;
	}
	cn_evq *q = &r->q[r->nq];
	memset(q, 0, sizeof *q);
	memset(&r->v[r->nq * r->nm], 0, r->nm * sizeof *r->v);
	q->latency_ms = -1;
	r->nq++;
	return q;
oom:
	cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	return NULL;
}

static int cmp_judg_grade(const void *a, const void *b)
{
	const cn_judgment *x = a, *y = b;
	if (x->rel != y->rel)
		return x->rel > y->rel ? -1 : 1;
	return strcmp(x->doc_id, y->doc_id);
}

cairn_status cn_evres_add(cairn_eval_result *r, const char *qid, const cn_qrels_query *judged,
                          cn_ranked *docs, size_t n, double latency_ms, cn_err *err)
{
	cn_evq *q = cn_evres_push(r, err);
	if (!q)
		return err->code;
	double *row = &r->v[(r->nq - 1) * r->nm];
	cairn_status rc = cn_eval_query_specs(judged, docs, n, 0, r->m, r->nm, row, err);
	if (rc != CAIRN_OK)
		goto fail;
	q->latency_ms = latency_ms;
	if (!(q->qid = cn_strdup(qid)) || !(q->top = cn_calloc(CN_EVAL_TOPN, sizeof *q->top)) ||
	    !(q->top_grade = cn_calloc(CN_EVAL_TOPN, sizeof *q->top_grade)) ||
	    !(q->rel = cn_calloc(CN_EVAL_TOPN, sizeof *q->rel)) ||
	    !(q->rel_grade = cn_calloc(CN_EVAL_TOPN, sizeof *q->rel_grade)))
		goto oom;
	/* The top documents, repeats skipped (docs is in trec_eval order now). */
	for (size_t i = 0; i < n && q->ntop < CN_EVAL_TOPN; i++) {
		bool dup = false;
		for (size_t j = 0; j < q->ntop && !dup; j++)
			dup = !strcmp(q->top[j], docs[i].doc_id);
		if (dup)
			continue;
		int g = 0;
		for (size_t j = 0; judged && j < judged->n; j++)
			if (!strcmp(judged->j[j].doc_id, docs[i].doc_id))
				g = judged->j[j].rel;
		if (!(q->top[q->ntop] = cn_strdup(docs[i].doc_id)))
			goto oom;
		q->top_grade[q->ntop++] = g;
	}
	if (judged && judged->num_rel) {
		cn_judgment *js = cn_malloc(judged->n * sizeof *js);
		if (!js)
			goto oom;
		memcpy(js, judged->j, judged->n * sizeof *js);
		qsort(js, judged->n, sizeof *js, cmp_judg_grade);
		for (size_t i = 0; i < judged->n && q->nrel < CN_EVAL_TOPN && js[i].rel >= 1; i++) {
			if (!(q->rel[q->nrel] = cn_strdup(js[i].doc_id))) {
				cn_free(js);
				goto oom;
			}
			q->rel_grade[q->nrel++] = js[i].rel;
		}
		cn_free(js);
	}
	return CAIRN_OK;
oom:
	rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
fail:
	evq_free(q);
	r->nq--;
	return rc;
}

void cn_evres_finish(cairn_eval_result *r)
{
	for (size_t j = 0; j < r->nm; j++) {
		double s = 0;
		size_t n = 0;
		for (size_t i = 0; i < r->nq; i++)
			if (!isnan(r->v[i * r->nm + j])) { /* an answer measure that does not apply */
				s += r->v[i * r->nm + j];
				n++;
			}
		r->mean[j] = cn_mspec_is_total(&r->m[j]) ? s : n ? s / (double)n : NAN;
	}
}

cairn_status cn_evres_score(cairn_eval_result *r, const cn_qrels *qrels, cn_run *run, cn_err *err)
{
	size_t nq = cn_qrels_nqueries(qrels);
	for (size_t i = 0; i < nq; i++) {
		const cn_qrels_query *qq = &qrels->queries[i];
		if (qq->num_rel == 0)
			continue;
		uint32_t ri = cn_strmap_get(&run->qids, qq->qid, strlen(qq->qid));
		cn_run_query *rq = ri == UINT32_MAX ? NULL : &run->queries[ri];
		cairn_status rc = cn_evres_add(r, qq->qid, qq, rq ? rq->docs : NULL, rq ? rq->n : 0, -1, err);
		if (rc != CAIRN_OK)
			return rc;
	}
	cn_evres_finish(r);
	return CAIRN_OK;
}

size_t cn_evres_count(const cairn_eval_result *r, size_t j)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nq; i++)
		n += !isnan(r->v[i * r->nm + j]);
	return n;
}

int cn_evres_find(const cairn_eval_result *r, const char *name)
{
	for (size_t i = 0; i < r->nm; i++)
		if (!strcmp(r->m[i].name, name))
			return (int)i;
	return -1;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double cn_evres_latency(const cairn_eval_result *r, double p)
{
	double *l = cn_malloc((r->nq ? r->nq : 1) * sizeof *l);
	if (!l)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < r->nq; i++)
		if (r->q[i].latency_ms >= 0)
			l[n++] = r->q[i].latency_ms;
	double v = -1;
	if (n) {
		qsort(l, n, sizeof *l, cmp_dbl);
		if (p < 0) { /* the mean */
			double s = 0;
			for (size_t i = 0; i < n; i++)
				s += l[i];
			v = s / (double)n;
		} else {
			size_t k = (size_t)ceil(p * (double)n);
			v = l[k < 1 ? 0 : k > n ? n - 1 : k - 1];
		}
	}
	cn_free(l);
	return v;
}

double cairn_eval_result_mean(const cairn_eval_result *r, const char *measure)
{
	int i = r && measure ? cn_evres_find(r, measure) : -1;
	return i < 0 ? NAN : r->mean[i];
}

int64_t cairn_eval_result_queries(const cairn_eval_result *r)
{
	return r ? (int64_t)r->nq : 0;
}

/* ---- provenance ---------------------------------------------------------------------- */

cairn_status cn_fingerprint_json(cn_buf *b, const char *path, cn_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cn_err_set(err, CAIRN_EIO, "%s: cannot open: %s", path, strerror(errno));
	static const size_t CH = 1 << 20;
	unsigned char *buf = cn_malloc(CH);
	if (!buf) {
		fclose(f);
		return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	}
	uint32_t crc = 0;
	uint64_t size = 0;
	size_t got;
	while ((got = fread(buf, 1, CH, f)) > 0) {
		crc = cn_crc32c(crc, buf, got);
		size += got;
	}
	bool bad = ferror(f);
	fclose(f);
	cn_free(buf);
	if (bad)
		return cn_err_set(err, CAIRN_EIO, "%s: read failed", path);
	cn_buf_puts(b, "{\"path\":");
	cn_buf_put_json_str(b, path, strlen(path));
	cn_buf_printf(b, ",\"size\":%llu,\"crc32c\":\"%08x\"}", (unsigned long long)size, crc);
	return CAIRN_OK;
}

static void iso_now(char *out, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cairn_status cairn_eval_trec(const char *qrels_path, const char *run_path, const char *measures,
                             cairn_eval_result **out, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!qrels_path || !run_path || !out) {
		cn_err_set(&err, CAIRN_EINVAL, "eval trec: qrels, run and result are required");
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_EINVAL;
	}
	*out = NULL;
	cn_qrels qrels;
	cn_run run;
	cn_buf meta;
	cn_qrels_init(&qrels);
	cn_run_init(&run);
	cn_buf_init(&meta);
	cairn_eval_result *r = NULL;
	cn_mspec m[CN_MSPEC_MAX];
	size_t nm = 0;
	cairn_status rc = cn_mspec_parse(measures, m, CN_MSPEC_MAX, &nm, &err);
	if (rc == CAIRN_OK)
		rc = cn_qrels_read(&qrels, qrels_path, CN_QRELS_AUTO, 0, &err);
	if (rc == CAIRN_OK)
		rc = cn_run_read(&run, run_path, 0, &err);
	if (rc == CAIRN_OK && !(r = cn_evres_new(m, nm, &err)))
		rc = err.code;
	if (rc == CAIRN_OK)
		rc = cn_evres_score(r, &qrels, &run, &err);
	if (rc == CAIRN_OK) {
		char now[32];
		iso_now(now, sizeof now);
		cn_buf_printf(&meta, "{\"kind\":\"trec\",\"cairn_version\":\"%s\",\"created\":\"%s\",\"qrels\":",
		              cairn_version(), now);
		rc = cn_fingerprint_json(&meta, qrels_path, &err);
		if (rc == CAIRN_OK) {
			cn_buf_puts(&meta, ",\"run\":");
			rc = cn_fingerprint_json(&meta, run_path, &err);
		}
		cn_buf_printf(&meta, ",\"run_queries\":%zu,\"config\":{\"measures\":", cn_strmap_count(&run.qids));
		const char *ml = measures && *measures ? measures : CN_MEASURES_DEFAULT;
		cn_buf_put_json_str(&meta, ml, strlen(ml));
		cn_buf_puts(&meta, "}}");
		if (rc == CAIRN_OK && (meta.failed || !(r->meta = cn_buf_take(&meta))))
			rc = cn_err_set(&err, CAIRN_ENOMEM, "eval: out of memory");
	}
	cn_buf_free(&meta);
	cn_run_free(&run);
	cn_qrels_free(&qrels);
	if (rc != CAIRN_OK) {
		cairn_eval_result_free(r);
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return rc;
	}
	*out = r;
	return CAIRN_OK;
}

/* ---- JSON ------------------------------------------------------------------------------ */

void cn_report_num(cn_buf *b, double v)
{
	if (isnan(v))
		cn_buf_puts(b, "-");
	else
		cn_buf_printf(b, "%.4f", v);
}

/* A number for JSON: full precision so a result read back compares equal. */
static void json_num(cn_buf *b, double v)
{
	if (!isfinite(v))
		cn_buf_puts(b, "null");
	else
		cn_buf_printf(b, "%.17g", v);
}

static void json_ids(cn_buf *b, char **ids, const int *grades, size_t n)
{
	cn_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			cn_buf_putc(b, ',');
		cn_buf_putc(b, '[');
		cn_buf_put_json_str(b, ids[i], strlen(ids[i]));
		cn_buf_printf(b, ",%d]", grades[i]);
	}
	cn_buf_putc(b, ']');
}

static void render_json(cn_buf *b, const cairn_eval_result *r, int flags)
{
	cn_buf_puts(b, "{\"kind\":\"" RESULT_KIND "\"");
	if (r->has_report) { /* the keys `eval retrieval --json` always printed */
		const cairn_eval_report *p = &r->report;
		cn_buf_puts(b, ",\"dataset\":");
		cn_buf_put_json_str(b, p->dataset, strlen(p->dataset));
		cn_buf_puts(b, ",\"format\":");
		cn_buf_put_json_str(b, p->format, strlen(p->format));
		cn_buf_printf(b, ",\"documents\":%lld", (long long)p->documents);
		cn_buf_printf(b, ",\"ndcg@10\":%.4f,\"mrr@10\":%.4f,\"recall@100\":%.4f,\"recall@1000\":%.4f,"
		                 "\"map\":%.4f,\"p@10\":%.4f,\"latency_p50_ms\":%.4f,\"latency_p95_ms\":%.4f,"
		                 "\"latency_mean_ms\":%.4f,\"index_build_s\":%.3f",
		              p->ndcg_10, p->mrr_10, p->recall_100, p->recall_1000, p->map, p->p_10,
		              p->latency_p50_ms, p->latency_p95_ms, p->latency_mean_ms, p->index_build_s);
	}
	cn_buf_printf(b, ",\"queries\":%zu,\"meta\":%s,\"measures\":{", r->nq, r->meta ? r->meta : "{}");
	for (size_t j = 0; j < r->nm; j++) {
		if (j)
			cn_buf_putc(b, ',');
		cn_buf_printf(b, "\"%s\":", r->m[j].name);
		json_num(b, r->mean[j]);
	}
	cn_buf_putc(b, '}');
	double p50 = cn_evres_latency(r, 0.5);
	if (p50 >= 0) {
		cn_buf_puts(b, ",\"latency_ms\":{\"p50\":");
		json_num(b, p50);
		cn_buf_puts(b, ",\"p95\":");
		json_num(b, cn_evres_latency(r, 0.95));
		cn_buf_puts(b, ",\"p99\":");
		json_num(b, cn_evres_latency(r, 0.99));
		cn_buf_puts(b, ",\"mean\":");
		json_num(b, cn_evres_latency(r, -1));
		cn_buf_putc(b, '}');
	}
	if (flags & CAIRN_REPORT_PER_QUERY) {
		cn_buf_puts(b, ",\"per_query\":[");
		for (size_t i = 0; i < r->nq; i++) {
			const cn_evq *q = &r->q[i];
			cn_buf_puts(b, i ? ",{\"qid\":" : "{\"qid\":");
			cn_buf_put_json_str(b, q->qid, strlen(q->qid));
			cn_buf_puts(b, ",\"values\":{");
			for (size_t j = 0; j < r->nm; j++) {
				cn_buf_printf(b, j ? ",\"%s\":" : "\"%s\":", r->m[j].name);
				json_num(b, r->v[i * r->nm + j]);
			}
			cn_buf_putc(b, '}');
			if (q->latency_ms >= 0) {
				cn_buf_puts(b, ",\"latency_ms\":");
				json_num(b, q->latency_ms);
			}
			cn_buf_puts(b, ",\"top\":");
			json_ids(b, q->top, q->top_grade, q->ntop);
			cn_buf_puts(b, ",\"relevant\":");
			json_ids(b, q->rel, q->rel_grade, q->nrel);
			if (q->detail) {
				cn_buf_puts(b, ",\"detail\":");
				cn_buf_puts(b, q->detail);
			}
			cn_buf_putc(b, '}');
		}
		cn_buf_putc(b, ']');
	}
	cn_buf_puts(b, "}\n");
}

static cairn_status load_ids(json_t *arr, char ***ids, int **grades, size_t *n, const char *name,
                             const char *qid, cn_err *err)
{
	size_t cnt = json_is_array(arr) ? json_array_size(arr) : 0;
	if (arr && !json_is_array(arr))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: query %s: document list is not an array", name, qid);
	cnt = CN_MIN(cnt, (size_t)CN_EVAL_TOPN);
	*ids = cn_calloc(CN_EVAL_TOPN, sizeof **ids);
	*grades = cn_calloc(CN_EVAL_TOPN, sizeof **grades);
	if (!*ids || !*grades)
		return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	for (size_t i = 0; i < cnt; i++) {
		json_t *e = json_array_get(arr, i);
		json_t *id = json_array_get(e, 0), *g = json_array_get(e, 1);
		if (!json_is_string(id) || !json_is_integer(g))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: query %s: document entry %zu is not [id, grade]",
			                  name, qid, i);
		if (!((*ids)[i] = cn_strdup(json_string_value(id))))
			return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		json_int_t gv = json_integer_value(g);
		(*grades)[i] = gv < -1000000 ? -1000000 : gv > 1000000 ? 1000000 : (int)gv;
		*n = i + 1;
	}
	return CAIRN_OK;
}

/* A detail object as compact JSON text in our allocator. */
cairn_status cn_evres_detail_copy(json_t *det, char **out, cn_err *err)
{
	char *t = json_dumps(det, JSON_COMPACT | JSON_PRESERVE_ORDER);
	*out = t ? cn_strdup(t) : NULL;
	free(t);
	return *out ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
}

static cairn_status parse_json(cairn_eval_result **out, json_t *root, const char *name, cn_err *err)
{
	json_t *kind = json_object_get(root, "kind");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), RESULT_KIND) != 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: not a cairn evaluation result (kind \"%s\" expected)",
		                  name, RESULT_KIND);
	json_t *meas = json_object_get(root, "measures"), *pq = json_object_get(root, "per_query");
	if (!json_is_object(meas) || json_object_size(meas) == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: no \"measures\" object", name);
	if (!json_is_array(pq))
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: no \"per_query\" array (write it with --per-query / --report-json)", name);
	cn_mspec m[CN_MSPEC_MAX];
	size_t nm = 0;
	const char *key;
	json_t *val;
	json_object_foreach(meas, key, val) {
		if (nm == CN_MSPEC_MAX)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: more than %d measures", name, CN_MSPEC_MAX);
		if (!cn_mspec_from_name(key, &m[nm]))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: unknown measure \"%s\"", name, key);
		nm++;
	}
	cairn_eval_result *r = cn_evres_new(m, nm, err);
	if (!r)
		return err->code;
	for (size_t j = 0; j < nm; j++)
		r->answers |= m[j].kind == CN_MK_VALUE;
	cairn_status rc = CAIRN_OK;
	json_t *meta = json_object_get(root, "meta");
	if (json_is_object(meta) && !(r->meta = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		goto fail;
	}
	if (r->meta) { /* json_dumps used malloc: move it to our allocator */
		char *copy = cn_strdup(r->meta);
		free(r->meta);
		r->meta = copy;
		if (!copy) {
			rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
			goto fail;
		}
	}
	size_t i;
	json_t *e;
	json_array_foreach(pq, i, e) {
		json_t *qid = json_object_get(e, "qid"), *vals = json_object_get(e, "values");
		if (!json_is_string(qid) || !json_is_object(vals)) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: per_query entry %zu needs \"qid\" and \"values\"", name, i);
			goto fail;
		}
		cn_evq *q = cn_evres_push(r, err);
		if (!q) {
			rc = err->code;
			goto fail;
		}
		if (!(q->qid = cn_strdup(json_string_value(qid)))) {
			rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
			goto fail;
		}
		for (size_t j = 0; j < nm; j++) {
			json_t *v = json_object_get(vals, m[j].name);
			if (m[j].kind == CN_MK_VALUE && (!v || json_is_null(v))) { /* does not apply */
				r->v[(r->nq - 1) * nm + j] = NAN;
				continue;
			}
			if (!json_is_number(v)) {
				rc = cn_err_set(err, CAIRN_EFORMAT, "%s: query %s has no number for %s", name, q->qid,
				                m[j].name);
				goto fail;
			}
			double x = json_number_value(v);
			if (m[j].kind == CN_MK_VALUE && !(x >= 0 && isfinite(x) && (x <= 1 || (m[j].flags & CN_MF_UNBOUNDED)))) {
				rc = cn_err_set(err, CAIRN_EFORMAT, "%s: query %s: %s is %g, outside its range", name, q->qid,
				                m[j].name, x);
				goto fail;
			}
			r->v[(r->nq - 1) * nm + j] = x;
		}
		json_t *det = json_object_get(e, "detail");
		if (det && !json_is_object(det)) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s: query %s: \"detail\" is not an object", name, q->qid);
			goto fail;
		}
		if (det && (rc = cn_evres_detail_copy(det, &q->detail, err)) != CAIRN_OK)
			goto fail;
		json_t *lat = json_object_get(e, "latency_ms");
		if (json_is_number(lat) && json_number_value(lat) >= 0)
			q->latency_ms = json_number_value(lat);
		if ((rc = load_ids(json_object_get(e, "top"), &q->top, &q->top_grade, &q->ntop, name, q->qid,
		                   err)) != CAIRN_OK ||
		    (rc = load_ids(json_object_get(e, "relevant"), &q->rel, &q->rel_grade, &q->nrel, name,
		                   q->qid, err)) != CAIRN_OK)
			goto fail;
	}
	cn_evres_finish(r);
	*out = r;
	return CAIRN_OK;
fail:
	cairn_eval_result_free(r);
	return rc;
}

cairn_status cn_evres_parse(cairn_eval_result **out, const char *data, size_t len, const char *name,
                            cn_err *err)
{
	*out = NULL;
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_DISABLE_EOF_CHECK, &je);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%d: %s", name, je.line, je.text);
	cairn_status rc = json_is_object(root) ? parse_json(out, root, name, err)
	                                       : cn_err_set(err, CAIRN_EFORMAT, "%s: not a JSON object", name);
	json_decref(root);
	return rc;
}

cairn_status cairn_eval_result_load(const char *path, cairn_eval_result **out, char *errbuf,
                                    size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	char *data = NULL;
	size_t len = 0;
	cairn_status rc = !path || !out ? cn_err_set(&err, CAIRN_EINVAL, "eval: path and result are required")
	                                : cn_file_read(path, RESULT_MAX_BYTES, &data, &len, &err);
	if (rc == CAIRN_OK)
		rc = cn_evres_is_answer_rows(data, len) ? cn_evres_from_answer_rows(out, data, len, path, NULL, &err)
		                                        : cn_evres_parse(out, data, len, path, &err);
	cn_free(data);
	if (rc != CAIRN_OK)
		cn_eval_errbuf(errbuf, errbuf_size, &err);
	return rc;
}

/* ---- text, TSV, Markdown ----------------------------------------------------------------- */

static void render_text(cn_buf *b, const cairn_eval_result *r, int flags)
{
	if (flags & CAIRN_REPORT_PER_QUERY)
		for (size_t i = 0; i < r->nq; i++)
			for (size_t j = 0; j < r->nm; j++) {
				double v = r->v[i * r->nm + j];
				if (isnan(v))
					continue; /* an answer measure that does not apply to this question */
				if (cn_mspec_is_total(&r->m[j]))
					cn_buf_printf(b, "%-22s\t%s\t%.0f\n", r->m[j].name, r->q[i].qid, v);
				else
					cn_buf_printf(b, "%-22s\t%s\t%.4f\n", r->m[j].name, r->q[i].qid, v);
			}
	cn_buf_printf(b, "%-22s\tall\t%zu\n", "num_q", r->nq);
	for (size_t j = 0; j < r->nm; j++) {
		if (cn_mspec_is_total(&r->m[j]))
			cn_buf_printf(b, "%-22s\tall\t%.0f\n", r->m[j].name, r->mean[j]);
		else if (isnan(r->mean[j]))
			cn_buf_printf(b, "%-22s\tall\t-\n", r->m[j].name);
		else
			cn_buf_printf(b, "%-22s\tall\t%.4f\n", r->m[j].name, r->mean[j]);
	}
}

static void render_tsv(cn_buf *b, const cairn_eval_result *r)
{
	cn_buf_puts(b, "qid");
	for (size_t j = 0; j < r->nm; j++)
		cn_buf_printf(b, "\t%s", r->m[j].name);
	cn_buf_puts(b, "\tlatency_ms\n");
	for (size_t i = 0; i < r->nq; i++) {
		cn_buf_puts(b, r->q[i].qid);
		for (size_t j = 0; j < r->nm; j++)
			if (isnan(r->v[i * r->nm + j]))
				cn_buf_puts(b, "\t");
			else
				cn_buf_printf(b, "\t%.6f", r->v[i * r->nm + j]);
		if (r->q[i].latency_ms >= 0)
			cn_buf_printf(b, "\t%.3f\n", r->q[i].latency_ms);
		else
			cn_buf_puts(b, "\t\n");
	}
}

static void render_md(cn_buf *b, const cairn_eval_result *r)
{
	if (r->answers)
		cn_buf_printf(b, "## Answer evaluation\n\n%zu questions asked", r->nq);
	else
		cn_buf_printf(b, "## Retrieval evaluation\n\n%zu judged queries", r->nq);
	if (r->has_report)
		cn_buf_printf(b, " on `%s` (%s, %lld documents)", r->report.dataset, r->report.format,
		              (long long)r->report.documents);
	cn_buf_puts(b, r->answers ? ".\n\n| measure | value | questions |\n|---|---:|---:|\n"
	                          : ".\n\n| measure | value |\n|---|---:|\n");
	for (size_t j = 0; j < r->nm; j++) {
		cn_buf_printf(b, "| %s | ", r->m[j].name);
		if (cn_mspec_is_total(&r->m[j]))
			cn_buf_printf(b, "%.0f", r->mean[j]);
		else
			cn_report_num(b, r->mean[j]);
		if (r->answers)
			cn_buf_printf(b, " | %zu", cn_evres_count(r, j));
		cn_buf_puts(b, " |\n");
	}
	double p50 = cn_evres_latency(r, 0.5);
	if (p50 >= 0)
		cn_buf_printf(b, "\nLatency: p50 %.3f ms, p95 %.3f ms, p99 %.3f ms.\n", p50, cn_evres_latency(r, 0.95),
		              cn_evres_latency(r, 0.99));
	cn_buf_puts(b, "\n<details><summary>Provenance</summary>\n\n```json\n");
	cn_buf_puts(b, r->meta ? r->meta : "{}");
	cn_buf_puts(b, "\n```\n</details>\n");
}

cairn_status cairn_eval_result_render(const cairn_eval_result *r, cairn_report_format format, int flags,
                                      char **text, size_t *len, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!r || !text) {
		cn_err_set(&err, CAIRN_EINVAL, "eval: result and text are required");
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_EINVAL;
	}
	cn_buf b;
	cn_buf_init(&b);
	switch (format) {
	case CAIRN_REPORT_TEXT: render_text(&b, r, flags); break;
	case CAIRN_REPORT_JSON: render_json(&b, r, flags); break;
	case CAIRN_REPORT_TSV: render_tsv(&b, r); break;
	case CAIRN_REPORT_MD: render_md(&b, r); break;
	case CAIRN_REPORT_HTML: cn_report_html(&b, r, NULL); break;
	default:
		cn_buf_free(&b);
		cn_err_set(&err, CAIRN_EINVAL, "eval: unknown report format %d", (int)format);
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_EINVAL;
	}
	return cn_eval_report_take(&b, text, len, errbuf, errbuf_size);
}
