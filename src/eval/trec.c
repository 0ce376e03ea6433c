/*
 * trec.c — qrels and run files, the two plain-text formats every IR evaluation speaks.
 *
 *   qrels, TREC:  "qid iter docid rel"            (whitespace separated; iter ignored)
 *   qrels, BEIR:  "query-id\tcorpus-id\tscore"    (optional header line)
 *   qrels, SMART: "qid docid 0 0.000000"          (CISI/CACM/ADI: every pair is relevant)
 *   run:          "qid Q0 docid rank score tag"   (rank and tag informational)
 *
 * Grades are integers, as trec_eval reads them; "1.0" is accepted, "1.5" or "yes" is
 * CAIRN_EFORMAT with the file and line. A (qid, docid) pair judged twice keeps the last
 * grade (pytrec_eval's dict semantics); a run listing a document twice for one query is
 * refused, as trec_eval refuses it. Scores are written with enough digits to read back to
 * the same double, so a run scored later orders (and ties) exactly as it did in memory.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

/* ---- small parsing helpers -------------------------------------------------------------- */

void cn_lines_init(cn_lines *it, const char *data, size_t len)
{
	it->p = data;
	it->end = data + len;
	it->lineno = 0;
}

bool cn_lines_next(cn_lines *it, const char **line, size_t *n)
{
	if (it->p >= it->end)
		return false;
	const char *s = it->p;
	const char *nl = memchr(s, '\n', (size_t)(it->end - s));
	const char *e = nl ? nl : it->end;
	it->p = nl ? nl + 1 : it->end;
	if (e > s && e[-1] == '\r')
		e--;
	*line = s;
	*n = (size_t)(e - s);
	it->lineno++;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool cn_next_token(const char **p, const char *end, const char **tok, size_t *n)
{
	const char *s = *p;
	while (s < end && is_space(*s))
		s++;
	if (s >= end) {
		*p = s;
		return false;
	}
	const char *t = s;
	while (s < end && !is_space(*s))
		s++;
	*tok = t;
	*n = (size_t)(s - t);
	*p = s;
	return true;
}

bool cn_parse_i64(const char *s, size_t n, int64_t *out)
{
	char tmp[32];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *e;
	errno = 0;
	long long v = strtoll(tmp, &e, 10);
	if (errno || e != tmp + n)
		return false;
	*out = v;
	return true;
}

bool cn_parse_double(const char *s, size_t n, double *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *e;
	errno = 0;
	double v = strtod(tmp, &e);
	if (errno == ERANGE && fabs(v) > 1.0) /* overflow; underflow to 0 is harmless */
		return false;
	if (e != tmp + n || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* A grade: an integer, or a number with an integral value ("1.0", "0.000000"). */
static bool parse_grade(const char *s, size_t n, int *out)
{
	int64_t i;
	if (cn_parse_i64(s, n, &i)) {
		if (i < -1000000 || i > 1000000)
			return false;
		*out = (int)i;
		return true;
	}
	double d;
	if (!cn_parse_double(s, n, &d) || d != floor(d) || d < -1e6 || d > 1e6)
		return false;
	*out = (int)d;
	return true;
}

size_t cn_eval_id_copy(char *dst, size_t cap, const char *s, size_t n, int flags)
{
	if ((flags & CN_IDS_NORMALIZE) && n > 1) {
		bool digits = true;
		for (size_t i = 0; i < n; i++)
			if (s[i] < '0' || s[i] > '9') {
				digits = false;
				break;
			}
		if (digits)
			while (n > 1 && s[0] == '0') {
				s++;
				n--;
			}
	}
	if (n + 1 > cap)
		return (size_t)-1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return n;
}

/* Ids longer than this are refused: no collection needs them and it bounds every copy. */
#define ID_MAX 512

static cairn_status copy_id(char *dst, const char *s, size_t n, int flags, const char *name,
                            size_t line, const char *what, cn_err *err)
{
	if (n == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: empty %s", name, line, what);
	if (cn_eval_id_copy(dst, ID_MAX, s, n, flags) == (size_t)-1)
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: %s longer than %d bytes", name, line,
		                  what, ID_MAX - 1);
	return CAIRN_OK;
}

/* ---- qrels ------------------------------------------------------------------------------ */

void cn_qrels_init(cn_qrels *q)
{
	memset(q, 0, sizeof *q);
	cn_strmap_init(&q->qids);
	cn_strmap_init(&q->pairs);
	cn_arena_init(&q->arena, 0);
}

void cn_qrels_free(cn_qrels *q)
{
	size_t nq = cn_strmap_count(&q->qids);
	for (size_t i = 0; i < nq; i++)
		cn_free(q->queries[i].j);
	cn_free(q->queries);
	cn_free(q->pair_q);
	cn_free(q->pair_j);
	cn_strmap_free(&q->qids);
	cn_strmap_free(&q->pairs);
	cn_arena_free(&q->arena);
	memset(q, 0, sizeof *q);
}

cairn_status cn_qrels_add(cn_qrels *q, const char *qid, size_t qlen, const char *doc_id,
                          size_t dlen, int rel, cn_err *err)
{
	if (qlen == 0 || dlen == 0 || qlen > ID_MAX || dlen > ID_MAX)
		return cn_err_set(err, CAIRN_EINVAL, "qrels: empty or over-long id");
	/* Pair key "qid\x1fdocid": the unit separator cannot appear in whitespace-split ids. */
	char key[2 * ID_MAX + 2];
	memcpy(key, qid, qlen);
	key[qlen] = '\x1f';
	memcpy(key + qlen + 1, doc_id, dlen);
	size_t klen = qlen + 1 + dlen;
	q->n_rows++;
	uint32_t pid = cn_strmap_get(&q->pairs, key, klen);
	if (pid != UINT32_MAX) {
		cn_qrels_query *qq = &q->queries[q->pair_q[pid]];
		cn_judgment *j = &qq->j[q->pair_j[pid]];
		qq->num_rel -= j->rel >= 1;
		j->rel = rel;
		qq->num_rel += rel >= 1;
		return CAIRN_OK;
	}
	uint32_t qi;
	bool added;
	/* Room for a new query first, so a failed put never leaves a counted, unset slot. */
	if (CN_GROW(q->queries, q->queries_cap, cn_strmap_count(&q->qids) + 1) != CAIRN_OK ||
	    cn_strmap_put(&q->qids, qid, qlen, &qi, &added) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "qrels: out of memory");
	if (added) {
		memset(&q->queries[qi], 0, sizeof q->queries[qi]);
		q->queries[qi].qid = cn_strmap_key(&q->qids, qi);
	}
	cn_qrels_query *qq = &q->queries[qi];
	char *d = cn_arena_strndup(&q->arena, doc_id, dlen);
	if (!d || CN_GROW(qq->j, qq->cap, qq->n + 1) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "qrels: out of memory");
	size_t npairs = cn_strmap_count(&q->pairs);
	if (npairs + 1 > q->pairs_cap) {
		size_t cap = q->pairs_cap ? q->pairs_cap * 2 : 256;
		uint32_t *a = cn_realloc(q->pair_q, cap * sizeof *a);
		if (!a)
			return cn_err_set(err, CAIRN_ENOMEM, "qrels: out of memory");
		q->pair_q = a;
		uint32_t *b = cn_realloc(q->pair_j, cap * sizeof *b);
		if (!b)
			return cn_err_set(err, CAIRN_ENOMEM, "qrels: out of memory");
		q->pair_j = b;
		q->pairs_cap = cap;
	}
	if (cn_strmap_put(&q->pairs, key, klen, &pid, NULL) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "qrels: out of memory");
	q->pair_q[pid] = qi;
	q->pair_j[pid] = (uint32_t)qq->n;
	qq->j[qq->n].doc_id = d;
	qq->j[qq->n].rel = rel;
	qq->n++;
	qq->num_rel += rel >= 1;
	return CAIRN_OK;
}

const cn_qrels_query *cn_qrels_find(const cn_qrels *q, const char *qid)
{
	uint32_t i = cn_strmap_get(&q->qids, qid, strlen(qid));
	return i == UINT32_MAX ? NULL : &q->queries[i];
}

size_t cn_qrels_judged_queries(const cn_qrels *q)
{
	size_t n = 0, nq = cn_strmap_count(&q->qids);
	for (size_t i = 0; i < nq; i++)
		n += q->queries[i].num_rel > 0;
	return n;
}

size_t cn_qrels_judgments(const cn_qrels *q)
{
	return cn_strmap_count(&q->pairs);
}

static size_t count_tokens(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *t;
	size_t tn, c = 0;
	while (cn_next_token(&p, end, &t, &tn))
		c++;
	return c;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

cn_qrels_format cn_qrels_sniff_4col(const char *data, size_t len)
{
	cn_lines it;
	const char *line;
	size_t n;
	bool any = false;
	cn_lines_init(&it, data, len);
	while (cn_lines_next(&it, &line, &n)) {
		const char *p = line, *end = line + n, *t[4];
		size_t tn[4], k = 0;
		while (k < 4 && cn_next_token(&p, end, &t[k], &tn[k]))
			k++;
		if (k == 0)
			continue;
		double a, b;
		if (k != 4 || !cn_parse_double(t[2], tn[2], &a) || !cn_parse_double(t[3], tn[3], &b) ||
		    a != 0 || b != 0)
			return CN_QRELS_TREC;
		any = true;
	}
	return any ? CN_QRELS_SMART : CN_QRELS_TREC;
}

cairn_status cn_qrels_parse(cn_qrels *q, const char *data, size_t len, cn_qrels_format fmt,
                            int flags, const char *name, cn_err *err)
{
	cn_lines it;
	const char *line;
	size_t n;
	cn_lines_init(&it, data, len);
	bool first = true;
	char qid[ID_MAX], did[ID_MAX];
	while (cn_lines_next(&it, &line, &n)) {
		if (is_blank(line, n))
			continue;
		if (first) {
			first = false;
			bool header = n >= 8 && memcmp(line, "query-id", 8) == 0;
			if (fmt == CN_QRELS_AUTO) {
				size_t cols = count_tokens(line, n);
				if (header || cols == 3)
					fmt = CN_QRELS_BEIR;
				else if (cols == 4)
					fmt = CN_QRELS_TREC;
				else
					return cn_err_set(err, CAIRN_EFORMAT,
					                  "%s:%zu: not a qrels line (expected \"qid iter docid rel\" "
					                  "or \"query-id<TAB>corpus-id<TAB>score\")",
					                  name, it.lineno);
			}
			if (header && fmt == CN_QRELS_BEIR)
				continue;
		}
		const char *p = line, *end = line + n, *t[5];
		size_t tn[5], k = 0;
		while (k < 5 && cn_next_token(&p, end, &t[k], &tn[k]))
			k++;
		size_t want = fmt == CN_QRELS_BEIR ? 3 : 4;
		if (k != want)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: expected %zu columns, found %s%zu",
			                  name, it.lineno, want, k == 5 ? "at least " : "", k);
		const char *qt = t[0], *dt;
		size_t qn = tn[0], dn;
		int rel = 1;
		if (fmt == CN_QRELS_BEIR) {
			dt = t[1], dn = tn[1];
			if (!parse_grade(t[2], tn[2], &rel))
				return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: relevance \"%.*s\" is not an integer",
				                  name, it.lineno, (int)CN_MIN(tn[2], 40), t[2]);
		} else if (fmt == CN_QRELS_TREC) {
			dt = t[2], dn = tn[2];
			if (!parse_grade(t[3], tn[3], &rel))
				return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: relevance \"%.*s\" is not an integer",
				                  name, it.lineno, (int)CN_MIN(tn[3], 40), t[3]);
		} else {
			dt = t[1], dn = tn[1];
		}
		cairn_status rc = copy_id(qid, qt, qn, flags, name, it.lineno, "query id", err);
		if (rc == CAIRN_OK)
			rc = copy_id(did, dt, dn, flags, name, it.lineno, "document id", err);
		if (rc == CAIRN_OK)
			rc = cn_qrels_add(q, qid, strlen(qid), did, strlen(did), rel, err);
		if (rc != CAIRN_OK)
			return rc;
	}
	return CAIRN_OK;
}

cairn_status cn_qrels_read(cn_qrels *q, const char *path, cn_qrels_format fmt, int flags,
                           cn_err *err)
{
	char *data;
	size_t len;
	cairn_status rc = cn_file_read(path, (size_t)1 << 31, &data, &len, err);
	if (rc != CAIRN_OK)
		return rc;
	rc = cn_qrels_parse(q, data, len, fmt, flags, path, err);
	cn_free(data);
	return rc;
}

/* ---- runs ------------------------------------------------------------------------------- */

void cn_run_init(cn_run *r)
{
	memset(r, 0, sizeof *r);
	cn_strmap_init(&r->qids);
	cn_arena_init(&r->arena, 0);
}

void cn_run_free(cn_run *r)
{
	size_t nq = cn_strmap_count(&r->qids);
	for (size_t i = 0; i < nq; i++)
		cn_free(r->queries[i].docs);
	cn_free(r->queries);
	cn_strmap_free(&r->qids);
	cn_arena_free(&r->arena);
	memset(r, 0, sizeof *r);
}

cairn_status cn_run_add(cn_run *r, const char *qid, const char *doc_id, double score, cn_err *err)
{
	uint32_t qi;
	bool added;
	if (CN_GROW(r->queries, r->queries_cap, cn_strmap_count(&r->qids) + 1) != CAIRN_OK ||
	    cn_strmap_put(&r->qids, qid, strlen(qid), &qi, &added) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "run: out of memory");
	if (added) {
		memset(&r->queries[qi], 0, sizeof r->queries[qi]);
		r->queries[qi].qid = cn_strmap_key(&r->qids, qi);
	}
	cn_run_query *rq = &r->queries[qi];
	char *d = cn_arena_strndup(&r->arena, doc_id, strlen(doc_id));
	if (!d || CN_GROW(rq->docs, rq->cap, rq->n + 1) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "run: out of memory");
	rq->docs[rq->n].doc_id = d;
	rq->docs[rq->n].score = score;
	rq->n++;
	return CAIRN_OK;
}

const cn_run_query *cn_run_find(const cn_run *r, const char *qid)
{
	uint32_t i = cn_strmap_get(&r->qids, qid, strlen(qid));
	return i == UINT32_MAX ? NULL : &r->queries[i];
}

cairn_status cn_run_parse(cn_run *r, const char *data, size_t len, int flags, const char *name,
                          cn_err *err)
{
	cn_lines it;
	const char *line;
	size_t n;
	char qid[ID_MAX], did[ID_MAX], key[2 * ID_MAX + 2];
	cn_strmap seen; /* "qid\x1fdocid" of every line, to refuse duplicates */
	cn_strmap_init(&seen);
	cairn_status rc = CAIRN_OK;
	cn_lines_init(&it, data, len);
	while (rc == CAIRN_OK && cn_lines_next(&it, &line, &n)) {
		if (is_blank(line, n))
			continue;
		const char *p = line, *end = line + n, *t[7];
		size_t tn[7], k = 0;
		while (k < 7 && cn_next_token(&p, end, &t[k], &tn[k]))
			k++;
		if (k != 6) {
			rc = cn_err_set(err, CAIRN_EFORMAT,
			                "%s:%zu: expected 6 columns \"qid Q0 docid rank score tag\", found %s%zu",
			                name, it.lineno, k == 7 ? "more than " : "", k == 7 ? (size_t)6 : k);
			break;
		}
		double score;
		int64_t rank;
		if (!cn_parse_i64(t[3], tn[3], &rank)) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: rank \"%.*s\" is not an integer", name,
			                it.lineno, (int)CN_MIN(tn[3], 40), t[3]);
			break;
		}
		if (!cn_parse_double(t[4], tn[4], &score)) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: score \"%.*s\" is not a number", name,
			                it.lineno, (int)CN_MIN(tn[4], 40), t[4]);
			break;
		}
		rc = copy_id(qid, t[0], tn[0], flags, name, it.lineno, "query id", err);
		if (rc == CAIRN_OK)
			rc = copy_id(did, t[2], tn[2], flags, name, it.lineno, "document id", err);
		if (rc != CAIRN_OK)
			break;
		size_t ql = strlen(qid), dl = strlen(did);
		memcpy(key, qid, ql);
		key[ql] = '\x1f';
		memcpy(key + ql + 1, did, dl);
		bool added;
		uint32_t id;
		if (cn_strmap_put(&seen, key, ql + 1 + dl, &id, &added) != CAIRN_OK) {
			rc = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", name);
			break;
		}
		if (!added) {
			rc = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: document %s listed twice for query %s",
			                name, it.lineno, did, qid);
			break;
		}
		rc = cn_run_add(r, qid, did, score, err);
	}
	cn_strmap_free(&seen);
	return rc;
}

cairn_status cn_run_read(cn_run *r, const char *path, int flags, cn_err *err)
{
	char *data;
	size_t len;
	cairn_status rc = cn_file_read(path, (size_t)1 << 32, &data, &len, err);
	if (rc != CAIRN_OK)
		return rc;
	rc = cn_run_parse(r, data, len, flags, path, err);
	cn_free(data);
	return rc;
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double. */
static void format_score(char *dst, size_t cap, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(dst, cap, "%.*g", prec, v);
		if (strtod(dst, NULL) == v)
			return;
	}
}

void cn_run_format_query(cn_buf *out, const char *qid, const cn_ranked *docs, size_t n,
                         const char *tag)
{
	char s[40];
	for (size_t i = 0; i < n; i++) {
		format_score(s, sizeof s, docs[i].score);
		cn_buf_printf(out, "%s Q0 %s %zu %s %s\n", qid, docs[i].doc_id, i + 1, s,
		              tag && *tag ? tag : "cairn");
	}
}

void cn_qrels_write(cn_buf *out, const cn_qrels *q)
{
	size_t nq = cn_qrels_nqueries(q);
	for (size_t i = 0; i < nq; i++)
		for (size_t k = 0; k < q->queries[i].n; k++)
			cn_buf_printf(out, "%s 0 %s %d\n", q->queries[i].qid, q->queries[i].j[k].doc_id,
			              q->queries[i].j[k].rel);
}
