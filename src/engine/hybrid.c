/*
 * hybrid.c — dense retrieval, fusion with BM25, cross-encoder reranking and diversity.
 *
 * Candidates from both retrievers are cn_bm25_hit values (snapshot segment index, docnum,
 * score): a vector's number in its sidecar is the chunk's docnum, so the two lists refer to
 * chunks the same way and fuse without a catalog lookup.
 *
 *  - Dense: the query is embedded with the knowledge base's model (its query prefix) and
 *    searched over the segments that have vectors; the filter and deletions apply inside
 *    the vector search (vec.h), never after it.
 *  - Fusion: reciprocal-rank fusion, Σ 1/(rrf_k + rank) with rank from 1 (Cormack et al.
 *    2009; k = 60), needs no score calibration and is the default; the weighted mode
 *    min-max normalises each list's scores to [0, 1] over its candidates and adds
 *    w·dense + (1 − w)·bm25, for users who have tuned w on their own data.
 *  - Reranking: the top N candidates are scored by a cross-encoder on (query, heading path
 *    + chunk text) and reordered by that score; the rest keep their order below them.
 *  - Diversity: near-duplicate suppression drops a chunk whose SimHash is within 3 bits of
 *    a chunk already listed; MMR (Carbonell & Goldstein 1998) re-picks the list greedily by
 *    λ·relevance − (1 − λ)·max cosine to what is already picked, on the chunks' vectors.
 */
#include "engine/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cairn_status kb_dense_search(cairn_kb *kb, kb_snapshot *snap, const char *query, const cn_filter *filter, uint32_t k,
                             int ef_search, cn_bm25_hit *out, size_t *n_out, cn_err *err)
{
	*n_out = 0;
	pthread_mutex_lock(&kb->mu);
	cairn_status st = kb_embedder(kb, err);
	cairn_encoder *enc = kb->embed.enc;
	uint32_t dim = kb->embed.dim;
	pthread_mutex_unlock(&kb->mu);
	if (st)
		return st;
	if (!snap->nv)
		return CAIRN_OK; /* no segment has vectors yet */
	if (cn_vec_seg_dim(snap->vviews[0].seg) != dim)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: vectors have %u dimensions, the model %u",
		                  cn_store_dir(kb->store), cn_vec_seg_dim(snap->vviews[0].seg), dim);
	float *qv = cn_malloc(dim * sizeof *qv);
	cn_vec_hit *vh = cn_malloc(k * sizeof *vh);
	if (!qv || !vh) {
		cn_free(qv);
		cn_free(vh);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	const char *texts[1] = {query};
	st = cairn_embed(enc, texts, 1, CAIRN_EMBED_QUERY, qv);
	if (st)
		cn_err_set(err, st, "embedding the query: %s", cairn_encoder_errmsg(enc));
	size_t nh = 0;
	if (!st) {
		cn_vec_query vq = {.k = k, .ef_search = ef_search > 0 ? (uint32_t)ef_search : 0, .filter = filter};
		st = cn_vec_search(snap->vviews, snap->nv, qv, &vq, vh, &nh, err);
	}
	for (size_t i = 0; !st && i < nh; i++)
		out[i] = (cn_bm25_hit){vh[i].score, snap->vseg_of[vh[i].seg], vh[i].idx};
	if (!st)
		*n_out = nh;
	cn_free(qv);
	cn_free(vh);
	return st;
}

/* ---- fusion ---------------------------------------------------------------------------- */

typedef struct fused {
	uint64_t key; /* seg << 32 | docnum */
	float score;
} fused;

static int fused_cmp(const void *a, const void *b)
{
	const fused *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static void minmax(const cn_bm25_hit *h, size_t n, float *lo, float *hi)
{
	*lo = n ? h[n - 1].score : 0;
	*hi = n ? h[0].score : 1;
	for (size_t i = 0; i < n; i++) {
		if (h[i].score < *lo)
			*lo = h[i].score;
		if (h[i].score > *hi)
			*hi = h[i].score;
	}
}

static int key_cmp(const void *a, const void *b)
{
	const fused *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

cairn_status kb_fuse(const cn_bm25_hit *a, size_t na, const cn_bm25_hit *b, size_t nb, bool weighted, int rrf_k,
                     double b_weight, cn_bm25_hit *out, size_t cap, size_t *n_out, cn_err *err)
{
	fused *f = cn_malloc((na + nb + 1) * sizeof *f);
	if (!f)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	/* every contribution as (chunk key, amount); sorting by key brings a chunk's two
	 * contributions together, so fusing any number of candidates is O(n log n) */
	size_t n = 0;
	float alo, ahi, blo, bhi;
	minmax(a, na, &alo, &ahi);
	minmax(b, nb, &blo, &bhi);
	for (int side = 0; side < 2; side++) {
		const cn_bm25_hit *h = side ? b : a;
		size_t nh = side ? nb : na;
		float lo = side ? blo : alo, hi = side ? bhi : ahi;
		double w = side ? b_weight : 1.0 - b_weight;
		for (size_t i = 0; i < nh; i++) {
			float contrib = weighted ? (float)(w * (hi > lo ? (h[i].score - lo) / (hi - lo) : 1.0))
			                         : (float)(1.0 / (rrf_k + (double)(i + 1)));
			f[n++] = (fused){(uint64_t)h[i].seg << 32 | h[i].docnum, contrib};
		}
	}
	qsort(f, n, sizeof *f, key_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && f[m - 1].key == f[i].key)
			f[m - 1].score += f[i].score;
		else
			f[m++] = f[i];
	}
	qsort(f, m, sizeof *f, fused_cmp);
	if (m > cap)
		m = cap;
	for (size_t i = 0; i < m; i++)
		out[i] = (cn_bm25_hit){f[i].score, (uint32_t)(f[i].key >> 32), (uint32_t)f[i].key};
	*n_out = m;
	cn_free(f);
	return CAIRN_OK;
}

/* ---- reranking ------------------------------------------------------------------------- */

static cairn_status reranker(cairn_kb *kb, const char *path, cairn_encoder **out, cn_err *err)
{
	if (kb->rerank && kb->rerank_path && strcmp(kb->rerank_path, path) == 0) {
		*out = kb->rerank;
		return CAIRN_OK;
	}
	char msg[CN_ERRMSG_MAX];
	cairn_encoder_params p = cairn_encoder_default_params();
	cairn_encoder *enc = NULL;
	cairn_status st = cairn_encoder_open(path, &p, &enc, msg, sizeof msg);
	if (st)
		return cn_err_set(err, st, "%s", msg);
	cairn_encoder_info info;
	cairn_encoder_get_info(enc, &info);
	if (!info.is_reranker) {
		cairn_encoder_close(enc);
		return cn_err_set(err, CAIRN_EINVAL,
		                  "%s: not a reranker (no classification head); pass a cross-encoder such as bge-reranker", path);
	}
	char *copy = cn_strdup(path);
	if (!copy) {
		cairn_encoder_close(enc);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	cairn_encoder_close(kb->rerank);
	cn_free(kb->rerank_path);
	kb->rerank = enc;
	kb->rerank_path = copy;
	*out = enc;
	return CAIRN_OK;
}

typedef struct scored {
	cn_bm25_hit h;
	float s;
	size_t pos;
} scored;

static int scored_cmp(const void *a, const void *b)
{
	const scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s > y->s ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

cairn_status kb_rerank(cairn_kb *kb, kb_snapshot *snap, const char *query, const char *model, size_t top,
                       cn_bm25_hit *hits, size_t n, cn_err *err)
{
	if (top > n)
		top = n;
	if (!top)
		return CAIRN_OK;
	char **texts = cn_calloc(top, sizeof *texts);
	float *scores = cn_malloc(top * sizeof *scores);
	scored *sc = cn_malloc(top * sizeof *sc);
	cn_buf b;
	cn_buf_init(&b);
	cairn_status st = texts && scores && sc ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cairn_encoder *enc = NULL;
	pthread_mutex_lock(&kb->mu);
	if (!st)
		st = reranker(kb, model, &enc, err);
	sqlite3_stmt *row = NULL;
	if (!st)
		st = cn_store_prepare(kb->store,
		                      "SELECT d.title, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id = ?1",
		                      &row, err);
	for (size_t i = 0; !st && i < top; i++) {
		sqlite3_reset(row);
		sqlite3_bind_int64(row, 1, (sqlite3_int64)cn_bm25_seg_chunk_id(snap->views[hits[i].seg].seg, hits[i].docnum));
		int rc = sqlite3_step(row);
		if (rc == SQLITE_ROW)
			kb_embed_text((const char *)sqlite3_column_text(row, 0), (const char *)sqlite3_column_text(row, 1),
			              (const char *)sqlite3_column_text(row, 2), (size_t)sqlite3_column_bytes(row, 2), &b);
		else if (rc == SQLITE_DONE)
			cn_buf_reset(&b); /* deleted since the snapshot: scores as an empty passage */
		else
			st = cn_store_sqlerr(kb->store, err, "reading chunks to rerank");
		if (!st && !(texts[i] = cn_strndup(b.data ? b.data : "", b.len)))
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	if (row)
		sqlite3_reset(row);
	pthread_mutex_unlock(&kb->mu);
	if (!st) {
		st = cairn_rerank(enc, query, (const char *const *)texts, top, scores);
		if (st)
			cn_err_set(err, st, "reranking: %s", cairn_encoder_errmsg(enc));
	}
	if (!st) {
		for (size_t i = 0; i < top; i++)
			sc[i] = (scored){hits[i], scores[i], i};
		qsort(sc, top, sizeof *sc, scored_cmp);
		for (size_t i = 0; i < top; i++) {
			hits[i] = sc[i].h;
			hits[i].score = sc[i].s;
		}
	}
	for (size_t i = 0; texts && i < top; i++)
		cn_free(texts[i]);
	cn_free(texts);
	cn_free(scores);
	cn_free(sc);
	cn_buf_free(&b);
	return st;
}

/* ---- diversity ------------------------------------------------------------------------- */

cairn_status kb_dedupe(cairn_kb *kb, kb_snapshot *snap, cn_bm25_hit *hits, size_t *n, cn_err *err)
{
	uint64_t *kept = cn_malloc((*n + 1) * sizeof *kept);
	if (!kept)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	size_t nk = 0, out = 0;
	pthread_mutex_lock(&kb->mu);
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(kb->store, "SELECT simhash FROM chunks WHERE id = ?1", &q, err);
	for (size_t i = 0; !st && i < *n; i++) {
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, (sqlite3_int64)cn_bm25_seg_chunk_id(snap->views[hits[i].seg].seg, hits[i].docnum));
		uint64_t h = sqlite3_step(q) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
		bool dup = false;
		/* 0 = too short to fingerprint (never a duplicate); ≤ 3 bits = the ingest's rule */
		for (size_t j = 0; h && j < nk && !dup; j++)
			dup = __builtin_popcountll(h ^ kept[j]) <= 3;
		if (dup)
			continue;
		if (h)
			kept[nk++] = h;
		hits[out++] = hits[i];
	}
	if (!st)
		sqlite3_reset(q);
	pthread_mutex_unlock(&kb->mu);
	if (!st)
		*n = out;
	cn_free(kept);
	return st;
}

static const float *vector_of(const kb_snapshot *snap, const cn_bm25_hit *h)
{
	const cn_vec_seg *vs = snap->segs[h->seg]->vseg;
	return vs ? cn_vec_seg_vector(vs, h->docnum) : NULL;
}

static float cosine(const float *a, const float *b, uint32_t dim)
{
	double ab = 0, aa = 0, bb = 0;
	for (uint32_t i = 0; i < dim; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0;
}

cairn_status kb_mmr(const kb_snapshot *snap, double lambda, cn_bm25_hit *hits, size_t n, size_t k, cn_err *err)
{
	if (n < 2 || !snap->nv)
		return CAIRN_OK; /* no vectors: nothing to measure similarity with */
	uint32_t dim = cn_vec_seg_dim(snap->vviews[0].seg);
	cn_bm25_hit *pool = cn_malloc(n * sizeof *pool);
	float *rel = cn_malloc(n * sizeof *rel), *maxsim = cn_malloc(n * sizeof *maxsim);
	bool *taken = cn_calloc(n, sizeof *taken);
	if (!pool || !rel || !maxsim || !taken) {
		cn_free(pool), cn_free(rel), cn_free(maxsim), cn_free(taken);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	memcpy(pool, hits, n * sizeof *pool);
	float lo = pool[0].score, hi = pool[0].score;
	for (size_t i = 0; i < n; i++) {
		lo = pool[i].score < lo ? pool[i].score : lo;
		hi = pool[i].score > hi ? pool[i].score : hi;
	}
	for (size_t i = 0; i < n; i++) {
		rel[i] = hi > lo ? (pool[i].score - lo) / (hi - lo) : 1;
		maxsim[i] = 0;
	}
	size_t m = k < n ? k : n;
	for (size_t r = 0; r < m; r++) {
		size_t best = n;
		double best_v = -1e30;
		for (size_t i = 0; i < n; i++) {
			if (taken[i])
				continue;
			double v = lambda * rel[i] - (1 - lambda) * maxsim[i];
			if (v > best_v) {
				best_v = v;
				best = i;
			}
		}
		taken[best] = true;
		hits[r] = pool[best];
		const float *bv = vector_of(snap, &pool[best]);
		for (size_t i = 0; bv && i < n; i++) {
			const float *iv = taken[i] ? NULL : vector_of(snap, &pool[i]);
			float s = iv ? cosine(bv, iv, dim) : 0;
			if (s > maxsim[i])
				maxsim[i] = s;
		}
	}
	/* the rest, in their original order */
	size_t r = m;
	for (size_t i = 0; i < n && r < n; i++)
		if (!taken[i])
			hits[r++] = pool[i];
	cn_free(pool);
	cn_free(rel);
	cn_free(maxsim);
	cn_free(taken);
	return CAIRN_OK;
}
