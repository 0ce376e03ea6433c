/*
 * bm25 search — exact top-k over a snapshot of segments with block-max WAND.
 *
 * Global statistics (N, df, total length) are summed over all views first, so every segment
 * scores with the same idf and avgdl and a document's score does not depend on which segment
 * holds it. The per-norm-byte denominator K[norm] = k1·(1 - b + b·len/avgdl) is tabulated
 * once per query (256 entries), so scoring a posting is one load, one add, one multiply and
 * one divide.
 *
 * Exactness. Both paths compute a document's score with the same function: contributions
 * w·tf/(tf + K) in float, summed in query-term order (absent terms add 0). So the fast and
 * the exhaustive paths give bit-identical scores, and tests compare them exactly. Upper
 * bounds use the same formula at (max tf, min norm) inflated by 1e-4 relative, so float
 * rounding can never make a bound smaller than a real score; a document enters the top-k
 * only when its score beats the k-th strictly (documents arrive in (segment, doc) order, so
 * an equal score always loses the tie), and a bound ≤ the k-th score prunes safely.
 *
 * Block-max WAND (Ding & Suel 2011). Cursors are kept sorted by current document. The pivot
 * is the first cursor where the running sum of whole-term bounds exceeds θ (the k-th score).
 * The cursors up to the pivot are moved "shallowly" (skip entries only, no decoding) to the
 * pivot document's block and their block bounds summed; if that cannot beat θ every document
 * up to the smallest block end (or the next cursor's document) is skipped without decoding.
 * Deleted documents and the bound filter are checked during the walk, so a document that
 * fails the filter never occupies a heap slot and selective filters still return k results.
 */
#include "bm25/bm25_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DOC_END UINT32_MAX
#define BOUND_SLACK 1.0001f

typedef struct cursor {
	const cn_bm25_seg *s;
	bm25_tmeta m;
	uint32_t qi;
	float w, ub;
	uint64_t nblocks, blk, sblk; /* decoded block, shallow (skip) block */
	uint32_t n, pos, doc;
	uint32_t last_doc; /* last doc of the term */
	uint32_t docs[BM25_BLOCK], tfs[BM25_BLOCK];
} cursor;

typedef struct query {
	const float *K; /* 256 denominators by norm byte */
	cn_bm25_hit *heap;
	size_t k, nheap;
	float *contrib; /* by query term */
	size_t nq;
	cn_err *err;
} query;

static inline float term_score(float w, uint32_t tf, float K)
{
	float f = (float)tf;
	return w * f / (f + K);
}

/* a is worse than b: lower score, or equal score and later (segment, doc). */
static inline bool worse(const cn_bm25_hit *a, const cn_bm25_hit *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	if (a->seg != b->seg)
		return a->seg > b->seg;
	return a->docnum > b->docnum;
}

static void heap_down(cn_bm25_hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && worse(&h[l], &h[m]))
			m = l;
		if (r < n && worse(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		cn_bm25_hit t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_push(query *q, float score, uint32_t seg, uint32_t doc)
{
	cn_bm25_hit h = {score, seg, doc};
	if (q->nheap < q->k) {
		size_t i = q->nheap++;
		q->heap[i] = h;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (!worse(&q->heap[i], &q->heap[p]))
				break;
			cn_bm25_hit t = q->heap[i];
			q->heap[i] = q->heap[p];
			q->heap[p] = t;
			i = p;
		}
	} else if (worse(&q->heap[0], &h)) {
		q->heap[0] = h;
		heap_down(q->heap, q->nheap, 0);
	}
}

static inline float theta(const query *q) { return q->nheap < q->k ? -INFINITY : q->heap[0].score; }

static inline uint32_t skip_last(const cursor *c, uint64_t b)
{
	return cn_load_u32le(c->s->skip + (c->m.skip_start + b) * SKIP_SIZE);
}

static cairn_status load_block(cursor *c, uint64_t b, cn_err *err)
{
	cairn_status st = cn_bm25_block_decode(c->s, &c->m, b, c->docs, c->tfs, &c->n, err);
	if (st)
		return st;
	c->blk = b;
	c->pos = 0;
	return CAIRN_OK;
}

/* Moves c to its first document >= target (DOC_END when none). */
static cairn_status advance(cursor *c, uint32_t target, cn_err *err)
{
	if (target > c->last_doc || target == DOC_END) {
		c->doc = DOC_END;
		return CAIRN_OK;
	}
	uint64_t b = c->blk > c->sblk ? c->blk : c->sblk;
	while (skip_last(c, b) < target)
		b++; /* terminates: the last block ends at last_doc >= target */
	c->sblk = b;
	if (b != c->blk) {
		cairn_status st = load_block(c, b, err);
		if (st)
			return st;
	}
	while (c->docs[c->pos] < target)
		c->pos++; /* terminates: decode checked docs[n-1] == skip last doc >= target */
	c->doc = c->docs[c->pos];
	return CAIRN_OK;
}

static inline cairn_status next(cursor *c, cn_err *err)
{
	if (c->pos + 1 < c->n && c->blk == c->sblk) {
		c->doc = c->docs[++c->pos];
		return CAIRN_OK;
	}
	return advance(c, c->doc + 1, err);
}

/* Shallow move: c->sblk to the first block whose last doc >= d; returns that block's bound
 * (0 and *end = DOC_END when the term ends before d). */
static inline float shallow(cursor *c, uint32_t d, const float *K, uint32_t *end)
{
	if (d > c->last_doc) {
		*end = DOC_END;
		return 0.0f;
	}
	uint64_t b = c->sblk;
	while (skip_last(c, b) < d)
		b++;
	c->sblk = b;
	bm25_skip e;
	cn_bm25_skip_get(c->s, c->m.skip_start + b, &e);
	*end = e.last_doc;
	return term_score(c->w, e.max_tf, K[e.min_norm]) * BOUND_SLACK;
}

static inline bool is_deleted(const uint8_t *del, uint32_t d) { return del && (del[d >> 3] >> (d & 7)) & 1; }

static inline bool passes(const cn_bm25_seg *s, const cn_filter_bound *fb, uint32_t d)
{
	if (!fb)
		return true;
	size_t n;
	const uint32_t *ids = cn_bm25_seg_doc_labels(s, d, &n);
	return cn_filter_eval(fb, ids, n, cn_bm25_seg_mtime(s, d));
}

/* Scores document d from the cursors c[0..n) that are on it, summing in query-term order. */
static inline float score_doc(query *q, cursor **c, size_t n, uint32_t d)
{
	float K = q->K[c[0]->s->norms[d]];
	for (size_t i = 0; i < n; i++)
		q->contrib[c[i]->qi] = term_score(c[i]->w, c[i]->tfs[c[i]->pos], K);
	float s = 0.0f;
	for (size_t i = 0; i < q->nq; i++)
		s += q->contrib[i];
	for (size_t i = 0; i < n; i++)
		q->contrib[c[i]->qi] = 0.0f;
	return s;
}

static void sort_cursors(cursor **c, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		cursor *x = c[i];
		size_t j = i;
		while (j > 0 && c[j - 1]->doc > x->doc) {
			c[j] = c[j - 1];
			j--;
		}
		c[j] = x;
	}
}

static size_t drop_finished(cursor **c, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i]->doc != DOC_END)
			c[k++] = c[i];
	return k;
}

/* Reference path: every document that matches any term. */
static cairn_status walk_exhaustive(query *q, uint32_t seg, const cn_bm25_view *v, const cn_filter_bound *fb,
                                    cursor **c, size_t n, cursor **on, int64_t *matched)
{
	cairn_status st;
	while ((n = drop_finished(c, n)) > 0) {
		uint32_t d = DOC_END;
		for (size_t i = 0; i < n; i++)
			d = CN_MIN(d, c[i]->doc);
		size_t non = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i]->doc == d)
				on[non++] = c[i];
		if (!is_deleted(v->deleted, d) && passes(v->seg, fb, d)) {
			(*matched)++;
			float s = score_doc(q, on, non, d);
			if (q->k)
				heap_push(q, s, seg, d);
		}
		for (size_t i = 0; i < non; i++)
			if ((st = next(on[i], q->err)))
				return st;
	}
	return CAIRN_OK;
}

static cairn_status walk_bmw(query *q, uint32_t seg, const cn_bm25_view *v, const cn_filter_bound *fb, cursor **c,
                             size_t n)
{
	cairn_status st;
	n = drop_finished(c, n);
	sort_cursors(c, n);
	while (n > 0) {
		float th = theta(q);
		float acc = 0.0f;
		size_t p = n;
		for (size_t i = 0; i < n; i++) {
			acc += c[i]->ub;
			if (acc > th) {
				p = i;
				break;
			}
		}
		if (p == n)
			break; /* even all terms together cannot beat θ */
		uint32_t d = c[p]->doc;
		while (p + 1 < n && c[p + 1]->doc == d)
			p++;
		/* block-max check over cursors 0..p */
		float bacc = 0.0f;
		uint32_t nd = p + 1 < n ? c[p + 1]->doc : DOC_END;
		for (size_t i = 0; i <= p; i++) {
			uint32_t end;
			bacc += shallow(c[i], d, q->K, &end);
			if (end != DOC_END && end + 1 < nd)
				nd = end + 1; /* (a term that ended before d adds 0 and limits nothing) */
		}
		if (!(bacc > th)) {
			/* nothing in [d, nd) can beat θ; everything before d was excluded by the pivot */
			for (size_t i = 0; i <= p; i++)
				if ((st = advance(c[i], nd, q->err)))
					return st;
		} else if (c[0]->doc == d) {
			if (!is_deleted(v->deleted, d)) {
				float s = score_doc(q, c, p + 1, d);
				if ((q->nheap < q->k || s > th) && passes(v->seg, fb, d))
					heap_push(q, s, seg, d);
			}
			for (size_t i = 0; i <= p; i++)
				if ((st = next(c[i], q->err)))
					return st;
		} else {
			for (size_t i = 0; i < p && c[i]->doc < d; i++)
				if ((st = advance(c[i], d, q->err)))
					return st;
		}
		n = drop_finished(c, n);
		sort_cursors(c, n);
	}
	return CAIRN_OK;
}

/* Term-at-a-time into a dense accumulator: for a segment where the query's postings are few
 * (small knowledge bases, rare terms), decoding every posting once and adding it to its
 * document's slot costs a few nanoseconds per posting, while a WAND step costs tens — so
 * below TAAT_MAX_POSTINGS this is the faster exact path. Scores are identical to the other
 * paths: each document's contributions are added in query-term order (cursors are in
 * query-term order here), and an absent term adds nothing, as +0.0f changes no sum. The
 * heap's total order (score, then earlier (segment, doc)) makes the result independent of
 * the order documents are offered in. The accumulator is cleared per query, so this path is
 * kept to segments of at most TAAT_MAX_DOCS documents (measured with callgrind on SciFact,
 * 5k docs: TAAT 8% fewer instructions than MaxScore; on 100k synthetic docs MaxScore wins
 * even for small postings, the clearing dominating). */
#define TAAT_MAX_POSTINGS 200000u
#define TAAT_MAX_DOCS (1u << 16)

static cairn_status walk_taat(query *q, uint32_t seg, const cn_bm25_view *v, const cn_filter_bound *fb, cursor **c,
                              size_t n, uint64_t postings)
{
	const cn_bm25_seg *s = v->seg;
	float *acc = cn_calloc(s->ndocs, sizeof *acc);
	uint8_t *seen = cn_calloc((s->ndocs + 7) / 8, 1);
	uint32_t *touched = cn_malloc((size_t)(postings < s->ndocs ? postings : s->ndocs) * sizeof *touched + 1);
	cairn_status st = CAIRN_OK;
	if (!acc || !seen || !touched) {
		st = cn_err_set(q->err, CAIRN_ENOMEM, "bm25 search: out of memory");
		goto out;
	}
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		cursor *cu = c[i];
		for (uint64_t b = 0; b < cu->nblocks; b++) {
			if (b != cu->blk && (st = load_block(cu, b, q->err)))
				goto out;
			for (uint32_t j = 0; j < cu->n; j++) {
				uint32_t d = cu->docs[j];
				acc[d] += term_score(cu->w, cu->tfs[j], q->K[s->norms[d]]);
				if (!(seen[d >> 3] & (1u << (d & 7)))) {
					seen[d >> 3] |= (uint8_t)(1u << (d & 7));
					touched[nt++] = d;
				}
			}
		}
	}
	for (size_t i = 0; i < nt; i++) {
		uint32_t d = touched[i];
		if (is_deleted(v->deleted, d))
			continue;
		float sc = acc[d];
		if (q->nheap == q->k) {
			const cn_bm25_hit *top = &q->heap[0];
			if (sc < top->score || (sc == top->score && (seg > top->seg || (seg == top->seg && d > top->docnum))))
				continue;
		}
		if (passes(s, fb, d))
			heap_push(q, sc, seg, d);
	}
out:
	cn_free(acc);
	cn_free(seen);
	cn_free(touched);
	return st;
}

/* MaxScore (Turtle & Flood 1995), document at a time. Terms are ordered by their upper
 * bound; the longest prefix of low-bound terms whose bounds together cannot beat θ is
 * "non-essential": a document is only a candidate if an essential term contains it, so the
 * long postings of common terms are never walked, only probed for candidates — and the probe
 * stops as soon as the remaining bounds cannot lift the candidate above θ. Contributions go
 * into contrib[] by query term and are summed in query-term order, so scores are identical
 * to the other paths; documents are visited in increasing order, so "≤ θ" prunes safely
 * (an equal score from a later document loses the tie). */
static int cmp_ub(const void *a, const void *b)
{
	const cursor *x = *(cursor *const *)a, *y = *(cursor *const *)b;
	return x->ub < y->ub ? -1 : x->ub > y->ub ? 1 : (int)x->qi - (int)y->qi;
}

static cairn_status walk_maxscore(query *q, uint32_t seg, const cn_bm25_view *v, const cn_filter_bound *fb,
                                  cursor **c, size_t n)
{
	cairn_status st;
	const cn_bm25_seg *s = v->seg;
	qsort(c, n, sizeof *c, cmp_ub);
	float prefix[1024]; /* prefix[i] = Σ ub of c[0..i] */
	float run = 0.0f;
	for (size_t i = 0; i < n; i++)
		prefix[i] = run += c[i]->ub;
	size_t ess = 0; /* c[0..ess) non-essential */
	float th = theta(q);
	while (ess < n && !(prefix[ess] > th))
		ess++;
	for (;;) {
		uint32_t d = DOC_END;
		for (size_t i = ess; i < n; i++)
			if (c[i]->doc < d)
				d = c[i]->doc;
		if (d == DOC_END)
			break;
		float K = q->K[s->norms[d]];
		float partial = 0.0f;
		bool any = false;
		for (size_t i = ess; i < n; i++) {
			if (c[i]->doc != d)
				continue;
			float t = term_score(c[i]->w, c[i]->tfs[c[i]->pos], K);
			q->contrib[c[i]->qi] = t;
			partial += t;
			any = true;
		}
		bool alive = any && !is_deleted(v->deleted, d);
		/* probe non-essential terms, highest bound first, while they can still matter */
		for (size_t i = ess; alive && i-- > 0;) {
			if (!(partial * BOUND_SLACK + prefix[i] > th)) {
				alive = false;
				break;
			}
			if (c[i]->doc < d && (st = advance(c[i], d, q->err)))
				return st;
			if (c[i]->doc == d) {
				float t = term_score(c[i]->w, c[i]->tfs[c[i]->pos], K);
				q->contrib[c[i]->qi] = t;
				partial += t;
			}
		}
		if (alive) {
			float sc = 0.0f;
			for (size_t i = 0; i < q->nq; i++)
				sc += q->contrib[i];
			if ((q->nheap < q->k || sc > th) && passes(s, fb, d)) {
				heap_push(q, sc, seg, d);
				float nth = theta(q);
				if (nth > th) {
					th = nth;
					while (ess < n && !(prefix[ess] > th))
						ess++;
				}
			}
		}
		for (size_t i = 0; i < q->nq; i++)
			q->contrib[i] = 0.0f;
		for (size_t i = ess; i < n; i++)
			if (c[i]->doc == d && (st = next(c[i], q->err)))
				return st;
		if (ess == n)
			break; /* no term is essential: nothing left can beat θ */
	}
	return CAIRN_OK;
}

/* CAIRN_BM25_STRATEGY=taat|wand|maxscore overrides the automatic choice: a diagnostic for
 * benchmarks (bench/README.md), never needed for correctness. */
static cn_bm25_strategy forced_strategy(void)
{
	const char *e = getenv("CAIRN_BM25_STRATEGY");
	if (!e)
		return CN_BM25_AUTO;
	return !strcmp(e, "taat") ? CN_BM25_TAAT : !strcmp(e, "wand") ? CN_BM25_WAND
	                                         : !strcmp(e, "maxscore") ? CN_BM25_MAXSCORE : CN_BM25_AUTO;
}

static int cmp_hits(const void *a, const void *b)
{
	const cn_bm25_hit *x = a, *y = b;
	if (worse(x, y))
		return 1;
	if (worse(y, x))
		return -1;
	return 0;
}

cairn_status cn_bm25_search(const cn_bm25_view *views, size_t n_views, const cn_bm25_qterm *qt, size_t nq,
                            const cn_bm25_params *params, cn_bm25_hit *hits, size_t *n_hits, int64_t *matched,
                            cn_err *err)
{
	*n_hits = 0;
	if (matched)
		*matched = params && params->exhaustive ? 0 : -1;
	if (!params || (n_views && !views) || (nq && !qt) || (params->k && !hits))
		return cn_err_set(err, CAIRN_EINVAL, "bm25 search: missing argument");
	if (!(params->k1 >= 0.0f) || !isfinite(params->k1) || !(params->b >= 0.0f && params->b <= 1.0f))
		return cn_err_set(err, CAIRN_EINVAL, "bm25 search: k1 must be >= 0 and b within [0, 1] (got k1=%g b=%g)",
		                  (double)params->k1, (double)params->b);
	if (nq > 1024)
		return cn_err_set(err, CAIRN_EINVAL, "bm25 search: too many query terms (%zu, at most 1024)", nq);
	for (size_t i = 0; i < nq; i++)
		if (!(qt[i].weight >= 0.0f) || !isfinite(qt[i].weight) || (qt[i].len && !qt[i].term))
			return cn_err_set(err, CAIRN_EINVAL, "bm25 search: query term %zu has a bad weight or text", i);
	if (nq == 0 || n_views == 0)
		return CAIRN_OK;

	cairn_status st = CAIRN_OK;
	uint64_t *ords = cn_malloc(n_views * nq * sizeof *ords);
	float *contrib = cn_calloc(nq, sizeof *contrib);
	cursor *cur = cn_malloc(nq * sizeof *cur);
	cursor **cp = cn_malloc(2 * nq * sizeof *cp);
	cn_filter_bound *fb = NULL;
	int64_t nmatched = 0;
	if (!ords || !contrib || !cur || !cp) {
		st = cn_err_set(err, CAIRN_ENOMEM, "bm25 search: out of memory");
		goto out;
	}
	/* global statistics */
	uint64_t N = 0, total = 0;
	for (size_t v = 0; v < n_views; v++) {
		N += views[v].seg->ndocs;
		total += views[v].seg->total_len;
	}
	float idf_w[1024];
	for (size_t i = 0; i < nq; i++) {
		uint64_t df = 0;
		for (size_t v = 0; v < n_views; v++) {
			uint64_t o;
			if ((st = cn_bm25_seg_find(views[v].seg, qt[i].term ? qt[i].term : "", qt[i].len, &o, err)))
				goto out;
			ords[v * nq + i] = o;
			if (o != UINT64_MAX)
				df += cn_load_u32le(views[v].seg->tmeta + o * TERMMETA_SIZE);
		}
		float idf = (float)log(1.0 + ((double)N - (double)df + 0.5) / ((double)df + 0.5));
		idf_w[i] = qt[i].weight * idf;
	}
	float avgdl = N ? (float)((double)total / (double)N) : 1.0f;
	if (!(avgdl > 0.0f))
		avgdl = 1.0f;
	float K[256];
	for (int i = 0; i < 256; i++)
		K[i] = params->k1 * ((1.0f - params->b) + params->b * (float)cn_bm25_byte4_to_int((uint8_t)i) / avgdl);

	query q = {.K = K, .heap = hits, .k = params->k, .contrib = contrib, .nq = nq, .err = err};
	bool use_filter = params->filter && !cn_filter_is_empty(params->filter);
	for (size_t v = 0; v < n_views; v++) {
		const cn_bm25_seg *s = views[v].seg;
		size_t n = 0;
		for (size_t i = 0; i < nq; i++) {
			uint64_t o = ords[v * nq + i];
			if (o == UINT64_MAX)
				continue;
			cursor *c = &cur[n];
			c->s = s;
			cn_bm25_tmeta_get(s, o, &c->m);
			c->qi = (uint32_t)i;
			c->w = idf_w[i];
			c->ub = term_score(c->w, c->m.max_tf, K[c->m.min_norm]) * BOUND_SLACK;
			c->nblocks = cn_bm25_nblocks(c->m.df);
			c->last_doc = skip_last(c, c->nblocks - 1);
			c->sblk = 0;
			if ((st = load_block(c, 0, err)))
				goto out;
			c->doc = c->docs[0];
			cp[n++] = c;
		}
		if (n == 0 || (q.k == 0 && !params->exhaustive))
			continue;
		uint64_t postings = 0;
		for (size_t i = 0; i < n; i++)
			postings += cp[i]->m.df;
		if (use_filter) {
			cn_label_source src;
			cn_bm25_seg_label_source(s, &src);
			if ((st = cn_filter_bind(params->filter, &src, &fb, err)))
				goto out;
		}
		cn_bm25_strategy how = params->strategy != CN_BM25_AUTO ? params->strategy : forced_strategy();
		if (how == CN_BM25_AUTO)
			how = postings <= TAAT_MAX_POSTINGS && s->ndocs <= TAAT_MAX_DOCS ? CN_BM25_TAAT
			      : n == 1                                                  ? CN_BM25_WAND
			                                                                : CN_BM25_MAXSCORE;
		if (params->exhaustive)
			st = walk_exhaustive(&q, (uint32_t)v, &views[v], fb, cp, n, cp + nq, &nmatched);
		else if (how == CN_BM25_TAAT && s->ndocs <= TAAT_MAX_DOCS)
			st = walk_taat(&q, (uint32_t)v, &views[v], fb, cp, n, postings);
		else if (how == CN_BM25_MAXSCORE)
			st = walk_maxscore(&q, (uint32_t)v, &views[v], fb, cp, n);
		else
			st = walk_bmw(&q, (uint32_t)v, &views[v], fb, cp, n);
		cn_filter_bound_free(fb);
		fb = NULL;
		if (st)
			goto out;
	}
	if (q.nheap)
		qsort(hits, q.nheap, sizeof *hits, cmp_hits);
	*n_hits = q.nheap;
	if (matched)
		*matched = params->exhaustive ? nmatched : -1;
out:
	if (st && matched)
		*matched = params->exhaustive ? 0 : -1;
	cn_free(ords);
	cn_free(contrib);
	cn_free(cur);
	cn_free(cp);
	return st;
}
