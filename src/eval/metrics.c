/*
 * metrics.c — trec_eval's measures, one query at a time, then averaged.
 *
 * Each query is reduced to two integer arrays: the grade of every retrieved document in
 * rank order (0 when unjudged or judged non-relevant), and the ideal list (the positive
 * grades of all judged documents, sorted descending). Every measure is then a short loop
 * over those arrays, written to mirror trec_eval 9.x:
 *
 *   P_k         relevant in the top k / k                  (k, not min(k, retrieved))
 *   recall_k    relevant in the top k / num_rel
 *   success_k   1 if any relevant in the top k
 *   mrr_cut_k   1 / rank of the first relevant within the top k, else 0 (BEIR's MRR@k)
 *   recip_rank  1 / rank of the first relevant anywhere
 *   map (AP)    sum over relevant retrieved of precision at its rank / num_rel
 *   Rprec       relevant in the top num_rel / num_rel
 *   ndcg_cut_k  sum_{r<=k} g_r / log2(r + 1)  /  the same over the ideal list
 *
 * A document is relevant when its grade is >= 1 (trec_eval's default relevance level).
 * Before measuring, the run is sorted as trec_eval sorts it: score descending, ties by doc
 * id in descending strcmp order — the rank a system printed is ignored.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

const int cn_eval_cutoffs[CN_EVAL_NCUT] = {1, 3, 5, 10, 20, 100, 1000};

int cn_eval_cut_index(int k)
{
	for (int i = 0; i < CN_EVAL_NCUT; i++)
		if (cn_eval_cutoffs[i] == k)
			return i;
	return -1;
}

/* ---- kernels ---------------------------------------------------------------------------- */

double cn_metric_cut(cn_metric_kind kind, size_t k, const int *grades, size_t n_ret,
                     const int *ideal, size_t num_rel)
{
	if (k == 0 || num_rel == 0)
		return 0.0;
	size_t top = CN_MIN(k, n_ret);
	switch (kind) {
	case CN_M_NDCG: {
		double dcg = 0, idcg = 0;
		for (size_t i = 0; i < top; i++)
			if (grades[i] > 0)
				dcg += grades[i] / log2((double)(i + 2));
		for (size_t i = 0; i < CN_MIN(k, num_rel); i++)
			idcg += ideal[i] / log2((double)(i + 2));
		return idcg > 0 ? dcg / idcg : 0.0;
	}
	case CN_M_MRR:
	case CN_M_SUCCESS:
		for (size_t i = 0; i < top; i++)
			if (grades[i] >= 1)
				return kind == CN_M_MRR ? 1.0 / (double)(i + 1) : 1.0;
		return 0.0;
	case CN_M_RECALL:
	case CN_M_P: {
		size_t rel = 0;
		for (size_t i = 0; i < top; i++)
			rel += grades[i] >= 1;
		return (double)rel / (double)(kind == CN_M_P ? k : num_rel);
	}
	}
	return 0.0;
}

double cn_metric_ap(const int *grades, size_t n_ret, size_t num_rel)
{
	if (num_rel == 0)
		return 0.0;
	double sum = 0;
	size_t rel = 0;
	for (size_t i = 0; i < n_ret; i++)
		if (grades[i] >= 1) {
			rel++;
			sum += (double)rel / (double)(i + 1);
		}
	return sum / (double)num_rel;
}

double cn_metric_rprec(const int *grades, size_t n_ret, size_t num_rel)
{
	if (num_rel == 0)
		return 0.0;
	size_t rel = 0;
	for (size_t i = 0; i < CN_MIN(n_ret, num_rel); i++)
		rel += grades[i] >= 1;
	return (double)rel / (double)num_rel;
}

double cn_metric_recip_rank(const int *grades, size_t n_ret)
{
	for (size_t i = 0; i < n_ret; i++)
		if (grades[i] >= 1)
			return 1.0 / (double)(i + 1);
	return 0.0;
}

/* ---- ordering --------------------------------------------------------------------------- */

static int cmp_trec(const void *a, const void *b)
{
	const cn_ranked *x = a, *y = b;
	if (x->score > y->score)
		return -1;
	if (x->score < y->score)
		return 1;
	return strcmp(y->doc_id, x->doc_id);
}

void cn_eval_trec_sort(cn_ranked *docs, size_t n)
{
	if (n > 1)
		qsort(docs, n, sizeof *docs, cmp_trec);
}

/* ---- one query -------------------------------------------------------------------------- */

static int cmp_judgment_id(const void *a, const void *b)
{
	return strcmp(((const cn_judgment *)a)->doc_id, ((const cn_judgment *)b)->doc_id);
}

static int cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x < y) - (x > y);
}

/* The grades of the ranking (trec_eval order, repeats dropped) and the ideal list. */
typedef struct graded {
	int *grades, *ideal;
	size_t nret, ni, num_rel, rel_ret;
} graded;

static void graded_free(graded *g)
{
	cn_free(g->grades);
	cn_free(g->ideal);
}

static cairn_status grade_query(const cn_qrels_query *judged, cn_ranked *docs, size_t n, int flags,
                                graded *g, cn_err *err)
{
	memset(g, 0, sizeof *g);
	if (!(flags & CN_EVAL_KEEP_ORDER))
		cn_eval_trec_sort(docs, n);
	size_t nj = judged ? judged->n : 0;
	g->num_rel = judged ? judged->num_rel : 0;
	cairn_status rc = CAIRN_OK;
	/* Judgements sorted by id for lookup; grades of the ranking; the ideal list; and the
	 * ids already seen (a repeated doc counts once, at its best rank). */
	cn_judgment *byid = NULL;
	cn_strmap seen;
	cn_strmap_init(&seen);
	if ((nj && !(byid = cn_malloc(nj * sizeof *byid))) ||
	    !(g->grades = cn_malloc((n ? n : 1) * sizeof *g->grades)) ||
	    !(g->ideal = cn_malloc((g->num_rel ? g->num_rel : 1) * sizeof *g->ideal))) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		goto done;
	}
	for (size_t i = 0; i < nj; i++) {
		byid[i] = judged->j[i];
		if (judged->j[i].rel >= 1 && g->ni < g->num_rel)
			g->ideal[g->ni++] = judged->j[i].rel;
	}
	if (nj > 1)
		qsort(byid, nj, sizeof *byid, cmp_judgment_id);
	if (g->ni > 1)
		qsort(g->ideal, g->ni, sizeof *g->ideal, cmp_int_desc);
	for (size_t i = 0; i < n; i++) {
		bool added = true;
		uint32_t id;
		if (cn_strmap_put(&seen, docs[i].doc_id, strlen(docs[i].doc_id), &id, &added) != CAIRN_OK) {
			rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
			goto done;
		}
		if (!added)
			continue;
		cn_judgment key = {docs[i].doc_id, 0};
		const cn_judgment *j = nj ? bsearch(&key, byid, nj, sizeof *byid, cmp_judgment_id) : NULL;
		int gr = j && j->rel > 0 ? j->rel : 0;
		g->grades[g->nret++] = gr;
		g->rel_ret += gr >= 1;
	}
done:
	cn_strmap_free(&seen);
	cn_free(byid);
	if (rc != CAIRN_OK)
		graded_free(g);
	return rc;
}

cairn_status cn_eval_query(const cn_qrels_query *judged, cn_ranked *docs, size_t n, int flags,
                           cn_measures *out, cn_err *err)
{
	memset(out, 0, sizeof *out);
	graded g;
	cairn_status rc = grade_query(judged, docs, n, flags, &g, err);
	if (rc != CAIRN_OK)
		return rc;
	out->num_rel = (double)g.num_rel;
	out->num_ret = (double)g.nret;
	out->num_rel_ret = (double)g.rel_ret;
	out->map = cn_metric_ap(g.grades, g.nret, g.num_rel);
	out->rprec = cn_metric_rprec(g.grades, g.nret, g.num_rel);
	out->recip_rank = cn_metric_recip_rank(g.grades, g.nret);
	for (int c = 0; c < CN_EVAL_NCUT; c++) {
		size_t k = (size_t)cn_eval_cutoffs[c];
		out->ndcg[c] = cn_metric_cut(CN_M_NDCG, k, g.grades, g.nret, g.ideal, g.ni);
		out->mrr[c] = cn_metric_cut(CN_M_MRR, k, g.grades, g.nret, g.ideal, g.ni);
		out->recall[c] = cn_metric_cut(CN_M_RECALL, k, g.grades, g.nret, g.ideal, g.ni);
		out->p[c] = cn_metric_cut(CN_M_P, k, g.grades, g.nret, g.ideal, g.ni);
		out->success[c] = cn_metric_cut(CN_M_SUCCESS, k, g.grades, g.nret, g.ideal, g.ni);
	}
	graded_free(&g);
	return CAIRN_OK;
}

cairn_status cn_eval_query_specs(const cn_qrels_query *judged, cn_ranked *docs, size_t n, int flags,
                                 const cn_mspec *m, size_t nm, double *values, cn_err *err)
{
	graded g;
	cairn_status rc = grade_query(judged, docs, n, flags, &g, err);
	if (rc != CAIRN_OK)
		return rc;
	for (size_t i = 0; i < nm; i++) {
		double v = 0;
		switch (m[i].kind) {
		case CN_MK_NUM_REL: v = (double)g.num_rel; break;
		case CN_MK_NUM_RET: v = (double)g.nret; break;
		case CN_MK_NUM_REL_RET: v = (double)g.rel_ret; break;
		case CN_MK_MAP: v = cn_metric_ap(g.grades, g.nret, g.num_rel); break;
		case CN_MK_RPREC: v = cn_metric_rprec(g.grades, g.nret, g.num_rel); break;
		case CN_MK_RECIP_RANK: v = cn_metric_recip_rank(g.grades, g.nret); break;
		case CN_MK_NDCG: /* no cutoff: the whole ranking against the whole ideal list */
			v = cn_metric_cut(CN_M_NDCG, CN_MAX(g.nret, g.ni), g.grades, g.nret, g.ideal, g.ni);
			break;
		case CN_MK_NDCG_CUT: v = cn_metric_cut(CN_M_NDCG, m[i].k, g.grades, g.nret, g.ideal, g.ni); break;
		case CN_MK_MRR_CUT: v = cn_metric_cut(CN_M_MRR, m[i].k, g.grades, g.nret, g.ideal, g.ni); break;
		case CN_MK_P: v = cn_metric_cut(CN_M_P, m[i].k, g.grades, g.nret, g.ideal, g.ni); break;
		case CN_MK_RECALL: v = cn_metric_cut(CN_M_RECALL, m[i].k, g.grades, g.nret, g.ideal, g.ni); break;
		case CN_MK_SUCCESS: v = cn_metric_cut(CN_M_SUCCESS, m[i].k, g.grades, g.nret, g.ideal, g.ni); break;
		case CN_MK_VALUE: v = NAN; break; /* not a function of a ranking */
		}
		values[i] = v;
	}
	graded_free(&g);
	return CAIRN_OK;
}

/* ---- averaging -------------------------------------------------------------------------- */

/* cn_measures is all doubles: treat it as an array to add and divide field by field. */
#define NFIELDS (sizeof(cn_measures) / sizeof(double))

void cn_eval_summary_init(cn_eval_summary *s)
{
	memset(s, 0, sizeof *s);
}

void cn_eval_summary_add(cn_eval_summary *s, const cn_measures *m)
{
	double *d = (double *)&s->sum;
	const double *x = (const double *)m;
	for (size_t i = 0; i < NFIELDS; i++)
		d[i] += x[i];
	s->queries++;
}

void cn_eval_summary_mean(const cn_eval_summary *s, cn_measures *mean)
{
	*mean = s->sum;
	double *d = (double *)mean;
	/* trec_eval reports num_rel, num_ret, num_rel_ret as totals, the rest as means. */
	size_t first_mean = offsetof(cn_measures, map) / sizeof(double);
	if (s->queries > 0)
		for (size_t i = first_mean; i < NFIELDS; i++)
			d[i] /= (double)s->queries;
}

cairn_status cn_eval_run(const cn_qrels *qrels, cn_run *run, int flags, cn_measures *mean,
                         int64_t *n_queries, cn_err *err)
{
	cn_eval_summary s;
	cn_eval_summary_init(&s);
	size_t nq = cn_qrels_nqueries(qrels);
	for (size_t i = 0; i < nq; i++) {
		const cn_qrels_query *qq = &qrels->queries[i];
		if (qq->num_rel == 0)
			continue;
		uint32_t ri = cn_strmap_get(&run->qids, qq->qid, strlen(qq->qid));
		cn_run_query *rq = ri == UINT32_MAX ? NULL : &run->queries[ri];
		cn_measures m;
		cairn_status rc = cn_eval_query(qq, rq ? rq->docs : NULL, rq ? rq->n : 0, flags, &m, err);
		if (rc != CAIRN_OK)
			return rc;
		cn_eval_summary_add(&s, &m);
	}
	cn_eval_summary_mean(&s, mean);
	if (n_queries)
		*n_queries = s.queries;
	return CAIRN_OK;
}

#define CUTS(p) p "_1", p "_3", p "_5", p "_10", p "_20", p "_100", p "_1000"

size_t cn_measures_list(const cn_measures *m, const char **names, double *values, size_t cap)
{
	static const char *const cut_names[5][CN_EVAL_NCUT] = {
		{CUTS("ndcg_cut")}, {CUTS("mrr_cut")}, {CUTS("recall")}, {CUTS("P")}, {CUTS("success")}};
	static const char *const fixed[6] = {"num_rel", "num_ret", "num_rel_ret", "map", "Rprec",
	                                     "recip_rank"};
	const double fixed_v[6] = {m->num_rel, m->num_ret, m->num_rel_ret, m->map, m->rprec,
	                           m->recip_rank};
	const double *cut_v[5] = {m->ndcg, m->mrr, m->recall, m->p, m->success};
	size_t n = 0;
	for (size_t i = 0; i < 6; i++, n++)
		if (n < cap) {
			names[n] = fixed[i];
			values[n] = fixed_v[i];
		}
	for (size_t k = 0; k < 5; k++)
		for (size_t c = 0; c < CN_EVAL_NCUT; c++, n++)
			if (n < cap) {
				names[n] = cut_names[k][c];
				values[n] = cut_v[k][c];
			}
	return n;
}
