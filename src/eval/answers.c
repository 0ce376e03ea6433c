/*
 * answers.c — an answer run as an evaluation result: the per-question rows `eval answers`
 * writes (JSON Lines) become per-query values of the answer measures, so reports,
 * `eval compare` and the regression gate treat answer runs exactly like retrieval runs.
 *
 * Why read the rows rather than have the answer module build the result: the rows are the
 * run's public record (users keep them, other tools write them), and a result rebuilt from
 * them cannot disagree with what the user can inspect. The eval module stays below the
 * answer module (it knows the row format, not the answerer).
 *
 * A measure that does not apply to a question is NaN, never 0: EM needs gold answers, the
 * support rate an answer that was given, `answered` an answerable question,
 * `abstained_unanswerable` an unanswerable one. Means and paired comparisons skip NaN, so a
 * measure's mean is the same as the summary `eval answers` prints. A measure with no value
 * in the whole run is left out (a set without gold answers has no EM), and so is the cost
 * when every row costs 0 (no price table was given).
 *
 * Query ids: a row's "id"; the SQuAD and SciFact re-asks without the gold documents repeat
 * their question's id with "answerable": false and become "ID#unanswerable" (any other
 * repeat "ID#2", "ID#3", …), so both runs of a comparison pair them the same way.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

#define DETAIL_MAX (64u << 10) /* bytes of one question's detail kept for the report */

bool cn_evres_is_answer_rows(const char *data, size_t len)
{
	/* Only the first line is read: a row is one line of a few KiB, while a result file is
	 * one line of the whole run, which need not be parsed twice. */
	while (len && (*data == ' ' || *data == '\t' || *data == '\r' || *data == '\n'))
		data++, len--;
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;
	if (n > ((size_t)1 << 20))
		return false;
	json_error_t je;
	json_t *o = json_loadb(data, n, 0, &je);
	bool yes = json_is_object(o) && !json_object_get(o, "kind") && json_is_string(json_object_get(o, "id")) &&
	           json_is_boolean(json_object_get(o, "answerable"));
	json_decref(o);
	return yes;
}

/* A number, or NaN when absent or null; false when present with another type. */
static bool opt_num(json_t *row, const char *key, double *v)
{
	json_t *x = json_object_get(row, key);
	*v = NAN;
	if (!x || json_is_null(x))
		return true;
	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return isfinite(*v);
}

/* The question's detail: the row as written, or a trimmed copy when it is too big for a
 * report (the full row stays in the per-question file). */
static cairn_status detail_of(json_t *row, char **out, cn_err *err)
{
	json_t *d = json_deep_copy(row);
	if (!d)
		return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	char *t = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (t && strlen(t) > DETAIL_MAX) {
		free(t);
		json_object_del(d, "sentences");
		json_object_del(d, "citations");
		json_t *a = json_object_get(d, "answer");
		if (json_is_string(a) && json_string_length(a) > 4096)
			json_object_set_new(d, "answer", json_string("(answer longer than 4 KiB: see the per-question file)"));
		json_t *q = json_object_get(d, "question");
		if (json_is_string(q) && json_string_length(q) > 4096)
			json_object_set_new(d, "question", json_string("(question longer than 4 KiB)"));
		json_object_del(d, "gold");
		t = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(d);
	*out = t ? cn_strdup(t) : NULL;
	free(t);
	return *out ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
}

typedef struct row_values {
	double v[32];
	double latency_ms;
} row_values;

/* The values of one row, in cn_answer_measures order. */
static cairn_status row_read(json_t *row, const cn_mspec *m, size_t n, const char *name, size_t line, row_values *out,
                             cn_err *err)
{
	json_t *answerable = json_object_get(row, "answerable"), *abst = json_object_get(row, "abstained");
	json_t *refused = json_object_get(row, "refused");
	if (!json_is_boolean(answerable) || !json_is_boolean(abst))
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: a row needs \"answerable\" and \"abstained\" (true or false)",
		                  name, line);
	if (refused && !json_is_boolean(refused))
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: \"refused\" is not true or false", name, line);
	bool ans = json_is_true(answerable), ab = json_is_true(abst);
	for (size_t i = 0; i < n; i++) {
		double v;
		if (!strcmp(m[i].name, "answered"))
			v = ans ? !ab : NAN;
		else if (!strcmp(m[i].name, "abstained_unanswerable"))
			v = ans ? NAN : ab;
		else if (!strcmp(m[i].name, "refused"))
			v = json_is_true(refused);
		else if (!opt_num(row, m[i].name, &v))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: \"%s\" is not a finite number", name, line, m[i].name);
		else if (!isnan(v) && (v < 0 || (!(m[i].flags & CN_MF_UNBOUNDED) && v > 1)))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: \"%s\" is %g, outside its range", name, line, m[i].name, v);
		out->v[i] = v;
	}
	if (!opt_num(row, "latency_ms", &out->latency_ms) || (!isnan(out->latency_ms) && out->latency_ms < 0))
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: \"latency_ms\" is not a number >= 0", name, line);
	return CAIRN_OK;
}

/* "ID", or "ID#unanswerable" / "ID#k" for a repeat. */
static char *query_id(cn_strmap *seen, const char *id, bool answerable, cn_err *err)
{
	size_t n = strlen(id), cap = n + 32;
	char *qid = cn_malloc(cap);
	if (!qid) {
		cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		return NULL;
	}
	/* Each k names a new id and the map holds at most one per row, so this ends. */
	for (unsigned long k = 1;; k++) {
		if (k == 1)
			memcpy(qid, id, n + 1);
		else if (k == 2 && !answerable)
			snprintf(qid, cap, "%s#unanswerable", id);
		else
			snprintf(qid, cap, "%s#%lu", id, k);
		uint32_t slot;
		bool added = false;
		if (cn_strmap_put(seen, qid, strlen(qid), &slot, &added) != CAIRN_OK) {
			cn_free(qid);
			cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
			return NULL;
		}
		if (added)
			return qid;
	}
}

cairn_status cn_evres_from_answer_rows(cairn_eval_result **out, const char *data, size_t len, const char *name,
                                       const char *meta, cn_err *err)
{
	*out = NULL;
	const char *const *names;
	size_t nm_all = cn_answer_measures(&names);
	cn_mspec m[CN_MSPEC_MAX];
	for (size_t i = 0; i < nm_all; i++)
		if (!cn_mspec_from_name(names[i], &m[i]))
			return cn_err_set(err, CAIRN_EINVAL, "eval: answer measure %s unknown", names[i]);
	cairn_eval_result *r = cn_evres_new(m, nm_all, err);
	if (!r)
		return err->code;
	r->answers = true;
	cn_strmap seen;
	cn_strmap_init(&seen);
	cairn_status rc = CAIRN_OK;
	size_t line = 0;
	for (size_t pos = 0; pos < len && rc == CAIRN_OK;) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len, ll = end - pos;
		const char *s = data + pos;
		pos = end + 1;
		line++;
		size_t k = 0;
		while (k < ll && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == ll)
			continue; /* blank line */
		json_error_t je;
		json_t *row = json_loadb(s, ll, 0, &je);
		if (!json_is_object(row)) {
			rc = row ? cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: not a JSON object", name, line)
			         : cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: %s", name, line, je.text);
			json_decref(row);
			break;
		}
		json_t *id = json_object_get(row, "id");
		row_values rv;
		if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 1024)
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: a row needs an \"id\" (a string of 1 to 1024 bytes)", name,
			                line);
		else
			rc = row_read(row, m, nm_all, name, line, &rv, err);
		cn_evq *q = NULL;
		if (rc == CAIRN_OK && !(q = cn_evres_push(r, err)))
			rc = err->code;
		if (rc == CAIRN_OK &&
		    !(q->qid = query_id(&seen, json_string_value(id), json_is_true(json_object_get(row, "answerable")), err)))
			rc = err->code;
		if (rc == CAIRN_OK)
			rc = detail_of(row, &q->detail, err);
		if (rc == CAIRN_OK) {
			memcpy(&r->v[(r->nq - 1) * r->nm], rv.v, r->nm * sizeof *r->v);
			q->latency_ms = isnan(rv.latency_ms) ? -1 : rv.latency_ms;
		}
		json_decref(row);
	}
	cn_strmap_free(&seen);
	if (rc == CAIRN_OK && r->nq == 0)
		rc = cn_err_set(err, CAIRN_EFORMAT, "%s: no rows", name);
	if (rc == CAIRN_OK && meta && !(r->meta = cn_strdup(meta)))
		rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	if (rc != CAIRN_OK) {
		cairn_eval_result_free(r);
		return rc;
	}
	/* Keep the measures the run has a value for (cost: a non-zero one), in place. */
	size_t keep = 0;
	for (size_t j = 0; j < r->nm; j++) {
		bool any = false;
		for (size_t i = 0; i < r->nq && !any; i++) {
			double v = r->v[i * r->nm + j];
			any = !isnan(v) && (strcmp(r->m[j].name, "cost") != 0 || v != 0);
		}
		if (!any)
			continue;
		for (size_t i = 0; i < r->nq; i++)
			r->v[i * r->nm + keep] = r->v[i * r->nm + j];
		r->m[keep++] = r->m[j];
	}
	/* Compact the rows to the new width (row i starts at i * keep now). */
	for (size_t i = 0; i < r->nq; i++)
		memmove(&r->v[i * keep], &r->v[i * r->nm], keep * sizeof *r->v);
	r->nm = keep;
	cn_evres_finish(r);
	*out = r;
	return CAIRN_OK;
}

cairn_status cairn_eval_result_from_answers(const char *path, const char *meta_json, cairn_eval_result **out,
                                            char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	char *data = NULL;
	size_t len = 0;
	cairn_status rc = CAIRN_OK;
	if (!path || !out)
		rc = cn_err_set(&err, CAIRN_EINVAL, "eval: path and result are required");
	else
		*out = NULL;
	if (rc == CAIRN_OK && meta_json) {
		json_error_t je;
		json_t *mo = json_loads(meta_json, 0, &je);
		if (!json_is_object(mo))
			rc = cn_err_set(&err, CAIRN_EINVAL, "eval: the provenance is not a JSON object");
		json_decref(mo);
	}
	if (rc == CAIRN_OK)
		rc = cn_file_read(path, (size_t)1 << 30, &data, &len, &err);
	if (rc == CAIRN_OK)
		rc = cn_evres_from_answer_rows(out, data, len, path, meta_json, &err);
	cn_free(data);
	if (rc != CAIRN_OK)
		cn_eval_errbuf(errbuf, errbuf_size, &err);
	return rc;
}
