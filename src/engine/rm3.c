/*
 * rm3.c — RM3 pseudo-relevance feedback: expand a keyword query with the terms that mark
 * its best first-pass results.
 *
 * This follows Anserini's RM3 (Rm3Reranker with its defaults: 10 feedback documents, 10
 * expansion terms, original query weight 0.5), because its BM25+RM3 runs are the published
 * reference this engine's BM25 already matches:
 *  - each feedback chunk's terms are the terms it was indexed under (kb_analyze_chunk, so
 *    expansion sees exactly what the index holds), counted by frequency; terms shorter than
 *    2 or longer than 20 bytes, with bytes outside [a-z0-9], or in more than 10% of the
 *    documents (a stopword list that adapts to the collection) are dropped; each document's
 *    vector keeps its fb_terms most frequent terms;
 *  - the relevance model weighs a term by Σ_d tf(t,d)/|d| · score(d) over the feedback
 *    documents, keeps the fb_terms heaviest and scales them to sum 1;
 *  - the final query interpolates the original (its term counts scaled to sum 1) and the
 *    relevance model: w = α·q + (1 − α)·rm, and is run again over the whole index as a
 *    weighted BM25 query (a term's weight multiplies its BM25 contribution, as Lucene's
 *    BoostQuery does).
 * Ties in the top-n selections go to the byte-wise smaller term, so runs are reproducible.
 */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

typedef struct fb_term {
	const char *t; /* interned in the vocabulary map's arena (stable) */
	uint32_t len;
	uint32_t id;   /* in the vocabulary map */
	float w;
} fb_term;

static int fb_cmp(const void *a, const void *b)
{
	const fb_term *x = a, *y = b;
	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	int c = memcmp(x->t, y->t, CN_MIN(x->len, y->len));
	return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static bool feedback_shape(const char *t, uint32_t len)
{
	if (len < 2 || len > 20)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9')))
			return false;
	return true;
}

cairn_status kb_rm3_expand(cairn_kb *kb, const kb_snapshot *snap, const cn_bm25_qterm *q, size_t nq,
                           const cn_bm25_hit *hits, size_t n_hits, const kb_rm3_params *p, cn_arena *arena,
                           cn_bm25_qterm **out, size_t *n_out, cn_err *err)
{
	*out = NULL;
	*n_out = 0;
	size_t n_fb = CN_MIN(n_hits, (size_t)p->fb_docs);
	uint64_t n_docs = 0;
	for (size_t i = 0; i < snap->n; i++)
		n_docs += cn_bm25_seg_ndocs(snap->views[i].seg);

	cn_strmap vocab; /* every term seen: id → position in rm[] */
	cn_strmap_init(&vocab);
	float *rm = NULL; /* relevance-model weight per vocabulary id */
	size_t rm_cap = 0;
	fb_term *doc = NULL; /* one feedback document's vector */
	size_t doc_cap = 0;
	int32_t *slot = NULL; /* vocabulary id → index in doc[], -1 */
	size_t slot_cap = 0;
	cn_tokens toks;
	cn_tokens_init(&toks);
	sqlite3_stmt *row = NULL;
	cairn_status st = cn_store_prepare(kb->store,
	                                   "SELECT d.title, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.doc"
	                                   " WHERE c.id = ?1",
	                                   &row, err);
	for (size_t h = 0; !st && h < n_fb; h++) {
		const cn_bm25_view *v = &snap->views[hits[h].seg];
		sqlite3_reset(row);
		sqlite3_bind_int64(row, 1, (sqlite3_int64)cn_bm25_seg_chunk_id(v->seg, hits[h].docnum));
		int rc = sqlite3_step(row);
		if (rc == SQLITE_DONE)
			continue; /* deleted after our snapshot */
		if (rc != SQLITE_ROW) {
			st = cn_store_sqlerr(kb->store, err, "reading a feedback chunk");
			break;
		}
		const char *title = (const char *)sqlite3_column_text(row, 0);
		const char *heading = (const char *)sqlite3_column_text(row, 1);
		const char *text = (const char *)sqlite3_column_text(row, 2);
		size_t tl = (size_t)sqlite3_column_bytes(row, 2);
		cn_tokens_reset(&toks);
		size_t body_from;
		st = kb_analyze_chunk(kb->analyzer, title, heading, text ? text : "", text ? tl : 0, &toks, &body_from);
		if (st) {
			cn_err_set(err, st, "query expansion: analysis failed");
			break;
		}
		/* term frequencies of this chunk, kept to the feedback shape */
		size_t nd = 0;
		for (size_t i = 0; !st && i < toks.n; i++) {
			const char *t = cn_token_term(&toks, i);
			uint32_t len = toks.v[i].term_len;
			if (!feedback_shape(t, len))
				continue;
			uint32_t id;
			bool added;
			if (cn_strmap_put(&vocab, t, len, &id, &added) ||
			    CN_GROW(slot, slot_cap, (size_t)id + 1) || CN_GROW(rm, rm_cap, (size_t)id + 1)) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			if (added) {
				slot[id] = -1;
				rm[id] = 0;
			}
			if (slot[id] < 0) {
				if (CN_GROW(doc, doc_cap, nd + 1)) {
					st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					break;
				}
				slot[id] = (int32_t)nd;
				doc[nd++] = (fb_term){cn_strmap_key(&vocab, id), len, id, 0};
			}
			doc[slot[id]].w += 1;
		}
		/* drop collection-wide common terms, then keep the most frequent */
		size_t kept = 0;
		for (size_t i = 0; !st && i < nd; i++) {
			slot[doc[i].id] = -1;
			uint64_t df;
			st = cn_bm25_doc_freq(snap->views, snap->n, doc[i].t, doc[i].len, &df, err);
			if (!st && n_docs && (float)df / (float)n_docs <= 0.1f)
				doc[kept++] = doc[i];
		}
		if (st)
			break;
		qsort(doc, kept, sizeof *doc, fb_cmp);
		if (kept > (size_t)p->fb_terms)
			kept = (size_t)p->fb_terms;
		float norm = 0;
		for (size_t i = 0; i < kept; i++)
			norm += doc[i].w;
		if (norm <= 0.001f)
			continue;
		for (size_t i = 0; i < kept; i++)
			rm[doc[i].id] += doc[i].w / norm * hits[h].score;
	}
	if (row)
		sqlite3_reset(row); /* cached by the store: reset, never finalized */

	/* the relevance model: the heaviest fb_terms, scaled to sum 1 */
	size_t nv = cn_strmap_count(&vocab), n_rm = 0;
	fb_term *model = NULL;
	if (!st && nv) {
		model = cn_malloc(nv * sizeof *model);
		if (!model)
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		for (size_t i = 0; !st && i < nv; i++)
			if (rm[i] > 0)
				model[n_rm++] = (fb_term){cn_strmap_key(&vocab, (uint32_t)i), cn_strmap_klen(&vocab, (uint32_t)i),
				                          (uint32_t)i, rm[i]};
		if (!st) {
			qsort(model, n_rm, sizeof *model, fb_cmp);
			if (n_rm > (size_t)p->fb_terms)
				n_rm = (size_t)p->fb_terms;
		}
	}
	float rm_sum = 0, q_sum = 0;
	for (size_t i = 0; i < n_rm; i++)
		rm_sum += model[i].w;
	for (size_t i = 0; i < nq; i++)
		q_sum += q[i].weight;

	/* interpolate with the original query */
	cn_bm25_qterm *res = NULL;
	size_t nres = 0;
	if (!st) {
		res = cn_arena_alloc(arena, (nq + n_rm + 1) * sizeof *res);
		if (!res)
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	float alpha = p->orig_weight;
	for (size_t i = 0; !st && i < nq; i++) {
		res[nres] = q[i];
		res[nres].weight = q_sum > 0 ? alpha * q[i].weight / q_sum : 0;
		nres++;
	}
	for (size_t i = 0; !st && i < n_rm && rm_sum > 0; i++) {
		const char *t = model[i].t;
		uint32_t len = model[i].len;
		float w = (1 - alpha) * model[i].w / rm_sum;
		size_t j = 0;
		while (j < nq && !(res[j].len == len && memcmp(res[j].term, t, len) == 0))
			j++;
		if (j < nq) {
			res[j].weight += w;
			continue;
		}
		char *copy = cn_arena_strndup(arena, t, len);
		if (!copy) {
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		res[nres++] = (cn_bm25_qterm){copy, len, w};
	}
	cn_free(model);
	cn_free(doc);
	cn_free(slot);
	cn_free(rm);
	cn_tokens_free(&toks);
	cn_strmap_free(&vocab);
	if (!st) {
		*out = res;
		*n_out = nres;
	}
	return st;
}
