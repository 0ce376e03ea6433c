/*
 * vec_search.c — top-k over vector segments: the HNSW walk with filters and deletions applied
 * inside it, exact search, and the choice between them.
 *
 * Design.
 *  - Filters and deletions never cut the graph: a rejected node is still visited and its
 *    links followed, it is only kept out of the result list (hnswlib's filtered search). The
 *    walk's stopping rule compares against the ef-th best *allowed* node, so it keeps going
 *    until it has ef allowed results or runs out of candidates, and no rejected node can be
 *    returned whatever the graph looks like.
 *  - A selective filter makes that walk visit about ef/fraction nodes; below some allowed
 *    fraction it is cheaper, and exact, to scan the allowed vectors directly. AUTO estimates
 *    the fraction from a fixed stride sample of 256 nodes (deterministic, no RNG) and scans
 *    when it is below exact_below (default CN_VEC_EXACT_FRACTION, chosen by measurement in
 *    bench/vec.sh: the walk's recall and speed fall together below a few percent) or when the
 *    estimated allowed count is under CN_VEC_EXACT_COUNT (a scan of that many vectors costs
 *    about what one graph walk does, and small segments are always exact this way).
 *  - INT8: the walk uses int8·int8 dot products with the query quantised the same way, then
 *    the final candidate list (ef, or qp->rescore) is rescored with the float vectors and the
 *    top k taken from the exact scores. Only those candidates' float vectors are touched.
 *  - Several segments: each gives its own top k; the lists are merged by score (ties: lower
 *    segment, then lower vector number), as bm25 orders ties.
 */
#include "vec/vec_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local cn_vec_search_stats last_stats;

void cn_vec_last_stats(cn_vec_search_stats *st) { *st = last_stats; }

typedef struct vsearch {
	const vec_index *ix;
	const cn_vec_kernels *k;
	const float *q;
	const int8_t *qcodes;
	float qscale, qnorm2;
	const uint8_t *deleted;
	const cn_filter_bound *fb;
	uint64_t *visited;
	vec_heap top, cand;
	uint64_t ndist;
} vsearch;

static inline bool allowed(const vsearch *s, uint32_t v)
{
	if (s->deleted && (s->deleted[v >> 3] >> (v & 7) & 1))
		return false;
	if (s->fb) {
		const vec_index *ix = s->ix;
		uint32_t a = ix->dloffs[v], b = ix->dloffs[v + 1];
		return cn_filter_eval(s->fb, ix->dlids + a, b - a, ix->mtimes[v]);
	}
	return true;
}

static inline float exact_dist(vsearch *s, uint32_t v)
{
	s->ndist++;
	const vec_index *ix = s->ix;
	return vec_dist_f32(s->k, ix->metric, s->q, ix->vecs + (size_t)v * ix->dim, ix->dim);
}

/* The walk's distance: int8 approximation for INT8 segments, exact otherwise. */
static inline float walk_dist(vsearch *s, uint32_t v)
{
	const vec_index *ix = s->ix;
	if (!s->qcodes)
		return exact_dist(s, v);
	s->ndist++;
	float dot = s->qscale * ix->qparams[2 * (size_t)v] *
	            (float)s->k->dot_i8(s->qcodes, ix->codes + (size_t)v * ix->dim, ix->dim);
	return vec_nonan(ix->metric == CN_VEC_L2 ? s->qnorm2 + ix->qparams[2 * (size_t)v + 1] - 2 * dot : -dot);
}

static inline void prefetch_node(const vsearch *s, uint32_t v)
{
	const vec_index *ix = s->ix;
	if (s->qcodes) {
		const int8_t *c = ix->codes + (size_t)v * ix->dim;
		for (uint32_t o = 0; o < ix->dim; o += 128)
			__builtin_prefetch(c + o);
	} else {
		const float *f = ix->vecs + (size_t)v * ix->dim;
		for (uint32_t o = 0; o < ix->dim; o += 64)
			__builtin_prefetch(f + o);
	}
}

/* Walk; on return out[0..*nout) holds the allowed candidates, ascending by exact distance. */
static bool graph_search(vsearch *s, uint32_t ef, uint32_t rescore, vec_pair **out, size_t *nout)
{
	const vec_index *ix = s->ix;
	uint32_t ep = ix->entry;
	float d = walk_dist(s, ep);
	for (uint32_t l = ix->maxlevel; l > 0; l--) {
		bool changed = true;
		while (changed) {
			changed = false;
			const uint32_t *ln = vec_links(ix, ep, l);
			for (uint32_t j = 1; j <= ln[0]; j++) {
				float dn = walk_dist(s, ln[j]);
				if (dn < d) {
					d = dn;
					ep = ln[j];
					changed = true;
				}
			}
		}
	}
	s->top.n = s->cand.n = 0;
	s->visited[ep >> 6] |= 1ull << (ep & 63);
	float bound = INFINITY;
	if (allowed(s, ep)) {
		if (!vec_heap_push(&s->top, d, ep))
			return false;
		bound = d;
	}
	if (!vec_heap_push(&s->cand, -d, ep))
		return false;
	while (s->cand.n) {
		vec_pair c = vec_heap_pop(&s->cand);
		if (-c.d > bound && s->top.n >= ef)
			break;
		const uint32_t *ln = ix->l0 + (size_t)c.id * (1 + ix->M0);
		uint32_t cnt = ln[0];
		for (uint32_t j = 1; j <= cnt; j++)
			if (!(s->visited[ln[j] >> 6] >> (ln[j] & 63) & 1))
				prefetch_node(s, ln[j]);
		for (uint32_t j = 1; j <= cnt; j++) {
			uint32_t nb = ln[j];
			uint64_t bit = 1ull << (nb & 63);
			if (s->visited[nb >> 6] & bit)
				continue;
			s->visited[nb >> 6] |= bit;
			float dn = walk_dist(s, nb);
			if (s->top.n < ef || dn < bound) {
				if (!vec_heap_push(&s->cand, -dn, nb))
					return false;
				if (allowed(s, nb)) {
					if (!vec_heap_push(&s->top, dn, nb))
						return false;
					if (s->top.n > ef)
						vec_heap_pop(&s->top);
				}
				if (s->top.n)
					bound = s->top.a[0].d;
			}
		}
	}
	/* the result list, ascending */
	size_t n = s->top.n;
	vec_pair *r = cn_malloc((n ? n : 1) * sizeof *r);
	if (!r)
		return false;
	for (size_t i = n; i > 0; i--)
		r[i - 1] = vec_heap_pop(&s->top);
	if (s->qcodes) {
		if (rescore && rescore < n)
			n = rescore;
		for (size_t i = 0; i < n; i++)
			r[i].d = exact_dist(s, r[i].id);
		qsort(r, n, sizeof *r, cn_vec_cmp_pair);
	}
	*out = r;
	*nout = n;
	return true;
}

/* Exact top k over the allowed vectors. */
static bool exact_search(vsearch *s, uint32_t k, vec_pair **out, size_t *nout)
{
	const vec_index *ix = s->ix;
	s->top.n = 0;
	for (uint32_t v = 0; v < ix->n; v++) {
		if (!allowed(s, v))
			continue;
		float d = exact_dist(s, v);
		if (s->top.n < k || vec_pair_less((vec_pair){d, v}, s->top.a[0])) {
			if (!vec_heap_push(&s->top, d, v))
				return false;
			if (s->top.n > k)
				vec_heap_pop(&s->top);
		}
	}
	size_t n = s->top.n;
	vec_pair *r = cn_malloc((n ? n : 1) * sizeof *r);
	if (!r)
		return false;
	for (size_t i = n; i > 0; i--)
		r[i - 1] = vec_heap_pop(&s->top);
	*out = r;
	*nout = n;
	return true;
}

#define SAMPLE 256u

/* Fraction of allowed vectors: exact for small segments, else a fixed stride sample. */
static double allowed_fraction(const vsearch *s)
{
	uint32_t n = s->ix->n;
	if (!s->fb && !s->deleted)
		return 1.0;
	uint32_t m = CN_MIN(n, SAMPLE), pass = 0;
	for (uint32_t i = 0; i < m; i++) {
		uint32_t v = m == n ? i : (uint32_t)(((uint64_t)i * n + n / (2 * m)) / m);
		pass += allowed(s, v);
	}
	return m ? (double)pass / m : 0.0;
}

static int cmp_hits(const void *a, const void *b)
{
	const cn_vec_hit *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

cairn_status cn_vec_search(const cn_vec_view *views, size_t n_views, const float *q, const cn_vec_query *qp,
                           cn_vec_hit *hits, size_t *n_hits, cn_err *err)
{
	*n_hits = 0;
	memset(&last_stats, 0, sizeof last_stats);
	if (n_views == 0 || qp->k == 0)
		return CAIRN_OK;
	uint32_t dim = views[0].seg->ix.dim, metric = views[0].seg->ix.metric;
	for (size_t v = 1; v < n_views; v++)
		if (views[v].seg->ix.dim != dim || views[v].seg->ix.metric != metric)
			return cn_err_set(err, CAIRN_EINVAL, "vector search: segments differ in dimension or metric");
	for (uint32_t i = 0; i < dim; i++)
		if (!isfinite(q[i]))
			return cn_err_set(err, CAIRN_EINVAL, "vector search: query component %u is not finite", i);
	uint32_t k = qp->k;
	uint32_t ef = qp->ef_search ? qp->ef_search : CN_MAX(k, 64u);
	if (ef < k)
		ef = k;
	double exact_below = qp->exact_below > 0 ? qp->exact_below : CN_VEC_EXACT_FRACTION;
	bool use_filter = qp->filter && !cn_filter_is_empty(qp->filter);

	cairn_status st = CAIRN_OK;
	float *qn = cn_malloc((size_t)dim * sizeof *qn);
	int8_t *qc = cn_malloc(dim);
	cn_vec_hit *all = cn_malloc(n_views * (size_t)k * sizeof *all);
	vsearch s = {.k = cn_vec_kern(), .q = qn};
	size_t nall = 0;
	if (!qn || !qc || !all) {
		st = cn_err_set(err, CAIRN_ENOMEM, "vector search: out of memory");
		goto out;
	}
	double nn = 0;
	for (uint32_t i = 0; i < dim; i++)
		nn += (double)q[i] * q[i];
	double inv = metric == CN_VEC_COSINE && nn > 0 ? 1.0 / sqrt(nn) : 1.0;
	for (uint32_t i = 0; i < dim; i++)
		qn[i] = (float)(q[i] * inv);
	float qscale = cn_vec_quantize(qn, dim, qc);
	float qnorm2 = (float)(nn * inv * inv);

	for (size_t v = 0; v < n_views; v++) {
		const vec_index *ix = &views[v].seg->ix;
		if (ix->n == 0)
			continue;
		s.ix = ix;
		s.deleted = views[v].deleted;
		s.qcodes = ix->storage == CN_VEC_INT8 ? qc : NULL;
		s.qscale = qscale;
		s.qnorm2 = qnorm2;
		cn_filter_bound *fb = NULL;
		if (use_filter) {
			cn_label_source src;
			cn_vec_seg_label_source(views[v].seg, &src);
			if ((st = cn_filter_bind(qp->filter, &src, &fb, err)))
				goto out;
		}
		s.fb = fb;
		bool exact = qp->mode == CN_VEC_EXACT;
		if (qp->mode == CN_VEC_AUTO) {
			double frac = allowed_fraction(&s);
			exact = frac < exact_below || frac * ix->n < CN_VEC_EXACT_COUNT;
		}
		vec_pair *r = NULL;
		size_t nr = 0;
		bool ok;
		if (exact) {
			ok = exact_search(&s, k, &r, &nr);
			last_stats.exact_segments++;
		} else {
			s.visited = cn_calloc(((size_t)ix->n + 63) / 64, sizeof *s.visited);
			ok = s.visited && graph_search(&s, ef, qp->rescore ? CN_MAX(qp->rescore, k) : 0, &r, &nr);
			cn_free(s.visited);
			s.visited = NULL;
			last_stats.graph_segments++;
		}
		cn_filter_bound_free(fb);
		if (!ok) {
			cn_free(r);
			st = cn_err_set(err, CAIRN_ENOMEM, "vector search: out of memory");
			goto out;
		}
		for (size_t i = 0; i < nr && i < k; i++)
			all[nall++] = (cn_vec_hit){.score = -r[i].d, .seg = (uint32_t)v, .idx = r[i].id, .chunk_id = ix->ids[r[i].id]};
		cn_free(r);
	}
	qsort(all, nall, sizeof *all, cmp_hits);
	*n_hits = CN_MIN(nall, (size_t)k);
	memcpy(hits, all, *n_hits * sizeof *hits);
out:
	last_stats.distances = s.ndist;
	vec_heap_free(&s.top);
	vec_heap_free(&s.cand);
	cn_free(qn);
	cn_free(qc);
	cn_free(all);
	return st;
}
