/*
 * vec_merge.c — one new segment from the live vectors of several.
 *
 * Design. The graph is rebuilt rather than stitched: the float vectors are in every segment
 * (normalised already for COSINE: they are copied bit for bit, not normalised again), and an HNSW
 * built over the union is as good as one built from scratch, which stitching old graphs
 * together is not. Labels are carried as strings (each segment has its own dictionary) and
 * land in the new segment's sorted dictionary; labels no live vector carries disappear.
 * Vectors keep their order (view by view, number by number), like bm25's merge, so the
 * engine can map old numbers to new ones by counting.
 */
#include "vec/vec_int.h"

cairn_status cn_vec_merge(const cn_vec_view *views, size_t n_views, const cn_vec_params *p, const char *path,
                          uint64_t *bytes, uint32_t *count, cn_err *err)
{
	if (count)
		*count = 0;
	if (n_views == 0 && !p)
		return cn_err_set(err, CAIRN_EINVAL, "%s: vector merge of no segments needs parameters", path);
	cn_vec_params prm = p ? *p : cn_vec_seg_params(views[0].seg);
	for (size_t v = 0; v < n_views; v++)
		if (views[v].seg->ix.dim != prm.dim || views[v].seg->ix.metric != (uint32_t)prm.metric)
			return cn_err_set(err, CAIRN_EINVAL, "%s: vector merge: segment %zu differs in dimension or metric", path, v);
	cn_vec_builder *b;
	cairn_status st = cn_vec_builder_new(&prm, &b, err);
	if (st)
		return st;
	const char **labs = NULL;
	uint32_t *lens = NULL;
	size_t cap = 0;
	for (size_t v = 0; v < n_views && !st; v++) {
		const cn_vec_seg *s = views[v].seg;
		const vec_index *ix = &s->ix;
		for (uint32_t i = 0; i < ix->n && !st; i++) {
			if (views[v].deleted && (views[v].deleted[i >> 3] >> (i & 7) & 1))
				continue;
			size_t nl;
			const uint32_t *ids = cn_vec_seg_labels_of(s, i, &nl);
			if (nl > cap) {
				size_t c2 = cap;
				if (CN_GROW(labs, cap, nl) || CN_GROW(lens, c2, nl)) {
					st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
					break;
				}
			}
			for (size_t j = 0; j < nl; j++)
				labs[j] = cn_vec_seg_label(s, ids[j], &lens[j]);
			cn_vec_item it = {.chunk_id = ix->ids[i],
			                  .vec = ix->vecs + (size_t)i * ix->dim,
			                  .mtime = ix->mtimes[i],
			                  .labels = labs,
			                  .n_labels = nl};
			st = cn_vec_builder_add_raw(b, &it, lens, ix->metric == CN_VEC_COSINE, err);
		}
	}
	if (!st) {
		st = cn_vec_builder_write(b, path, bytes, err);
		if (!st && count)
			*count = cn_vec_builder_count(b);
	}
	cn_free(labs);
	cn_free(lens);
	cn_vec_builder_free(b);
	return st;
}
