/*
 * bm25 merge — many segments (minus their deleted documents) into one.
 *
 * Documents keep their view order and are renumbered densely; a remap table per view sends
 * each old doc number to its new one (or to "dropped"). Because views are concatenated in
 * order, a term's postings from view 0, then view 1, … remain sorted after remapping, so a
 * merge is a k-way merge of the sorted term dictionaries with one decode pass over each
 * posting list and no re-sorting. Terms whose every posting was deleted disappear; so do
 * labels no live document carries. Lengths are carried exactly, so norms and statistics of
 * the merged segment equal those of a fresh build of the same live documents.
 */
#include "bm25/bm25_int.h"

#include <stdlib.h>
#include <string.h>


static bool deleted(const cn_bm25_view *v, uint32_t d) { return v->deleted && (v->deleted[d >> 3] >> (d & 7)) & 1; }

static int cmp_term(const bm25_dict_iter *a, const bm25_dict_iter *b)
{
	int c = memcmp(a->term, b->term, CN_MIN(a->len, b->len));
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

cairn_status cn_bm25_merge(const cn_bm25_view *views, size_t n_views, const char *path, uint64_t *bytes,
                           uint32_t *ndocs, cn_err *err)
{
	cairn_status st = CAIRN_OK;
	uint64_t total = 0;
	for (size_t v = 0; v < n_views; v++)
		total += views[v].seg->ndocs;
	if (total > INT32_MAX)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: merge of %llu documents is too large", path,
		                  (unsigned long long)total);
	size_t tn = (size_t)total;
	uint32_t **remap = cn_calloc(n_views ? n_views : 1, sizeof *remap);
	bm25_dict_iter **its = cn_calloc(n_views ? n_views : 1, sizeof *its);
	uint32_t *lens = cn_malloc((tn ? tn : 1) * sizeof *lens);
	uint64_t *cids = cn_malloc((tn ? tn : 1) * sizeof *cids);
	int64_t *mts = cn_malloc((tn ? tn : 1) * sizeof *mts);
	uint32_t *koffs = cn_malloc((tn + 1) * sizeof *koffs);
	uint32_t *dloffs = cn_malloc((tn + 1) * sizeof *dloffs);
	uint32_t *dlids = NULL, *lorder = NULL, *lrank = NULL, *loffs = NULL, *docs = NULL, *tfs = NULL;
	size_t dlcap = 0, pcap = 0, tcap = 0;
	cn_buf keys, lblob;
	cn_buf_init(&keys);
	cn_buf_init(&lblob);
	cn_strmap labels;
	cn_strmap_init(&labels);
	bm25_writer *w = NULL;
	if (!remap || !its || !lens || !cids || !mts || !koffs || !dloffs)
		goto oom;

	/* documents: live ones, in view order; labels collected into a new dictionary */
	uint32_t nd = 0;
	size_t ndl = 0;
	koffs[0] = dloffs[0] = 0;
	for (size_t v = 0; v < n_views; v++) {
		const cn_bm25_seg *s = views[v].seg;
		if (!(remap[v] = cn_malloc((s->ndocs ? s->ndocs : 1) * sizeof **remap)))
			goto oom;
		for (uint32_t d = 0; d < s->ndocs; d++) {
			if (deleted(&views[v], d)) {
				remap[v][d] = UINT32_MAX;
				continue;
			}
			remap[v][d] = nd;
			lens[nd] = cn_bm25_seg_doclen(s, d);
			cids[nd] = cn_bm25_seg_chunk_id(s, d);
			mts[nd] = cn_bm25_seg_mtime(s, d);
			uint32_t kl;
			const char *k = cn_bm25_seg_doc_key(s, d, &kl);
			cn_buf_append(&keys, k, kl);
			if (keys.len > UINT32_MAX) {
				st = cn_err_set(err, CAIRN_ETOOBIG, "%s: doc keys too large", path);
				goto out;
			}
			koffs[nd + 1] = (uint32_t)keys.len;
			size_t nl;
			const uint32_t *ids = cn_bm25_seg_doc_labels(s, d, &nl);
			if (CN_GROW(dlids, dlcap, ndl + nl))
				goto oom;
			for (size_t j = 0; j < nl; j++) {
				uint32_t ll, id;
				const char *l = cn_bm25_seg_label(s, ids[j], &ll);
				if (cn_strmap_put(&labels, l, ll, &id, NULL))
					goto oom;
				dlids[ndl++] = id;
			}
			if (ndl > UINT32_MAX) {
				st = cn_err_set(err, CAIRN_ETOOBIG, "%s: too many labels", path);
				goto out;
			}
			dloffs[nd + 1] = (uint32_t)ndl;
			nd++;
		}
	}
	if (keys.failed)
		goto oom;
	size_t nl = cn_strmap_count(&labels);
	lorder = cn_bm25_sorted_ids(&labels);
	lrank = cn_malloc((nl ? nl : 1) * sizeof *lrank);
	loffs = cn_malloc((nl + 1) * sizeof *loffs);
	if (!lorder || !lrank || !loffs)
		goto oom;
	loffs[0] = 0;
	for (size_t i = 0; i < nl; i++) {
		lrank[lorder[i]] = (uint32_t)i;
		cn_buf_append(&lblob, cn_strmap_key(&labels, lorder[i]), cn_strmap_klen(&labels, lorder[i]));
		if (lblob.len > UINT32_MAX) {
			st = cn_err_set(err, CAIRN_ETOOBIG, "%s: label dictionary too large", path);
			goto out;
		}
		loffs[i + 1] = (uint32_t)lblob.len;
	}
	if (lblob.failed)
		goto oom;
	for (uint32_t d = 0; d < nd; d++) {
		for (uint32_t j = dloffs[d]; j < dloffs[d + 1]; j++)
			dlids[j] = lrank[dlids[j]];
		if (dloffs[d + 1] - dloffs[d] > 1)
			qsort(dlids + dloffs[d], dloffs[d + 1] - dloffs[d], sizeof *dlids, cn_bm25_cmp_u32);
	}

	/* terms: k-way merge of the dictionaries */
	if ((st = cn_bm25_writer_open(path, lens, nd, &w, err)))
		goto out;
	for (size_t v = 0; v < n_views; v++) {
		if (!(its[v] = cn_malloc(sizeof **its)))
			goto oom;
		if ((st = cn_bm25_dict_first(its[v], views[v].seg, err)))
			goto out;
	}
	uint32_t bd[BM25_BLOCK], bt[BM25_BLOCK];
	for (;;) {
		bm25_dict_iter *min = NULL;
		for (size_t v = 0; v < n_views; v++)
			if (its[v]->valid && (!min || cmp_term(its[v], min) < 0))
				min = its[v];
		if (!min)
			break;
		size_t np = 0;
		const char *term;
		uint32_t tlen = min->len;
		for (size_t v = 0; v < n_views; v++) {
			bm25_dict_iter *it = its[v];
			if (!it->valid || (it != min && cmp_term(it, min) != 0))
				continue;
			const cn_bm25_seg *s = views[v].seg;
			bm25_tmeta m;
			cn_bm25_tmeta_get(s, it->ord, &m);
			if (CN_GROW(docs, pcap, np + m.df))
				goto oom;
			if (tcap < pcap) {
				uint32_t *t2 = cn_realloc(tfs, pcap * sizeof *tfs);
				if (!t2)
					goto oom;
				tfs = t2;
				tcap = pcap;
			}
			uint64_t nb = cn_bm25_nblocks(m.df);
			for (uint64_t b = 0; b < nb; b++) {
				uint32_t n;
				if ((st = cn_bm25_block_decode(s, &m, b, bd, bt, &n, err)))
					goto out;
				for (uint32_t i = 0; i < n; i++) {
					uint32_t nd2 = remap[v][bd[i]];
					if (nd2 == UINT32_MAX)
						continue;
					docs[np] = nd2;
					tfs[np++] = bt[i];
				}
			}
		}
		/* write with min's term text, then advance every iterator that was on it */
		term = min->term;
		if (np && (st = cn_bm25_writer_term(w, term, tlen, docs, tfs, (uint32_t)np, err)))
			goto out;
		for (size_t v = 0; v < n_views; v++) {
			bm25_dict_iter *it = its[v];
			if (it != min && it->valid && cmp_term(it, min) == 0 && (st = cn_bm25_dict_next(it, err)))
				goto out;
		}
		if ((st = cn_bm25_dict_next(min, err)))
			goto out;
	}
	uint32_t zero = 0;
	bm25_doccols cols = {
		.ndocs = nd,
		.lens = lens,
		.chunk_ids = cids,
		.mtimes = mts,
		.key_offs = koffs,
		.keys = keys.data ? keys.data : "",
		.nlabels = (uint32_t)nl,
		.label_offs = loffs,
		.labels = lblob.data ? lblob.data : "",
		.doclab_offs = dloffs,
		.doclab_ids = dlids ? dlids : &zero,
	};
	st = cn_bm25_writer_finish(w, &cols, bytes, err);
	w = NULL;
	if (!st && ndocs)
		*ndocs = nd;
	goto out;
oom:
	st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory merging bm25 segments", path);
out:
	cn_bm25_writer_abort(w);
	for (size_t v = 0; v < n_views; v++) {
		if (remap)
			cn_free(remap[v]);
		if (its)
			cn_free(its[v]);
	}
	cn_free(remap);
	cn_free(its);
	cn_free(lens);
	cn_free(cids);
	cn_free(mts);
	cn_free(koffs);
	cn_free(dloffs);
	cn_free(dlids);
	cn_free(lorder);
	cn_free(lrank);
	cn_free(loffs);
	cn_free(docs);
	cn_free(tfs);
	cn_buf_free(&keys);
	cn_buf_free(&lblob);
	cn_strmap_free(&labels);
	return st;
}
