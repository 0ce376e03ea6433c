/*
 * vec_int.h — private interface between the files of the vec module.
 *
 *   vec_kern.c    distance kernels (scalar reference, AVX2+FMA chosen at run time), int8 quantiser
 *   vec_build.c   builder, HNSW construction (1..N threads), the segment writer
 *   vec_seg.c     open + validation of a mapped segment, accessors
 *   vec_search.c  graph walk with filters and deletions inside it, exact search, multi-segment top-k
 *   vec_merge.c   merge of live vectors into a new segment
 *
 * Both a builder (after building) and a mapped segment present their data as a vec_index of
 * plain pointers, so one search implementation serves both (and persistence round trips
 * compare like with like).
 */
#ifndef CAIRN_VEC_INT_H
#define CAIRN_VEC_INT_H

#include "vec/vec.h"

#define VEC_KIND_VERSION 1u
#define VEC_META_SIZE 128u
#define VEC_MAX_LEVEL 24u
#define VEC_NONE UINT32_MAX

enum {
	VSEC_META = 1,
	VSEC_IDS = 2,
	VSEC_MTIMES = 3,
	VSEC_VECS = 4,
	VSEC_CODES = 5,
	VSEC_QPARAMS = 6,
	VSEC_LEVELS = 7,
	VSEC_USTART = 8,
	VSEC_L0 = 9,
	VSEC_UPPER = 10,
	VSEC_LABELOFFS = 11,
	VSEC_LABELS = 12,
	VSEC_DOCLABOFFS = 13,
	VSEC_DOCLABIDS = 14,
};

typedef struct vec_index {
	uint32_t n, dim, metric, storage, M, M0, efc, maxlevel, entry, nlabels;
	uint64_t seed, nublocks, n_doclabels;
	const float *vecs;       /* n × dim */
	const int8_t *codes;     /* n × dim (INT8) */
	const float *qparams;    /* n × {scale, |x|²} (INT8) */
	const uint8_t *levels;   /* n */
	const uint32_t *ustart;  /* n: first upper block of the node (its level 1) */
	const uint32_t *l0;      /* n × (1 + M0): count, neighbours */
	const uint32_t *upper;   /* nublocks × (1 + M) */
	const uint64_t *ids;     /* n */
	const int64_t *mtimes;   /* n */
	const uint32_t *laboffs; /* nlabels + 1 */
	const char *labels;
	const uint32_t *dloffs;  /* n + 1 */
	const uint32_t *dlids;   /* n_doclabels */
} vec_index;

struct cn_vec_seg {
	cn_segr *r; /* NULL: backed by a builder */
	const char *path;
	uint64_t bytes;
	vec_index ix;
};

static inline const uint32_t *vec_links(const vec_index *ix, uint32_t v, uint32_t level)
{
	if (level == 0)
		return ix->l0 + (size_t)v * (1 + ix->M0);
	return ix->upper + ((size_t)ix->ustart[v] + level - 1) * (1 + ix->M);
}

/* The kernels in use now (best, or scalar when forced). */
const cn_vec_kernels *cn_vec_kern(void);

/* NaN (a hostile segment's floats, or inf - inf) becomes +inf, so every comparison of
 * distances is a total order and sorting stays well defined. */
static inline float vec_nonan(float d) { return d == d ? d : __builtin_inff(); }

/* Lower is better: -dot (COSINE, DOT) or squared L2. */
static inline float vec_dist_f32(const cn_vec_kernels *k, uint32_t metric, const float *a, const float *b, size_t n)
{
	return vec_nonan(metric == CN_VEC_L2 ? k->l2sq(a, b, n) : -k->dot(a, b, n));
}

/* cn_vec_builder_add with label lengths given (labels need not be NUL-terminated); normalized:
 * the vector comes from a COSINE segment already (kept bit for bit, not normalised again). */
cairn_status cn_vec_builder_add_raw(cn_vec_builder *b, const cn_vec_item *it, const uint32_t *label_lens,
                                    bool normalized, cn_err *err);

/* Writes a vec_index as a segment file. */
cairn_status cn_vec_write_index(const vec_index *ix, const char *path, uint64_t *bytes, cn_err *err);

/* ---- binary max-heap of (distance, id) ---- */

typedef struct vec_pair {
	float d;
	uint32_t id;
} vec_pair;

typedef struct vec_heap {
	vec_pair *a;
	size_t n, cap;
} vec_heap;

static inline bool vec_pair_less(vec_pair x, vec_pair y) { return x.d < y.d || (x.d == y.d && x.id < y.id); }

static inline bool vec_heap_push(vec_heap *h, float d, uint32_t id)
{
	if (h->n == h->cap && CN_GROW(h->a, h->cap, h->n + 1))
		return false;
	size_t i = h->n++;
	vec_pair p = {d, id};
	while (i > 0) {
		size_t par = (i - 1) / 2;
		if (!vec_pair_less(h->a[par], p))
			break;
		h->a[i] = h->a[par];
		i = par;
	}
	h->a[i] = p;
	return true;
}

static inline vec_pair vec_heap_pop(vec_heap *h)
{
	vec_pair top = h->a[0], last = h->a[--h->n];
	size_t i = 0, n = h->n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && vec_pair_less(h->a[c], h->a[c + 1]))
			c++;
		if (!vec_pair_less(last, h->a[c]))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (n)
		h->a[i] = last;
	return top;
}

static inline void vec_heap_free(vec_heap *h)
{
	cn_free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

int cn_vec_cmp_pair(const void *a, const void *b); /* ascending (d, id) */

#endif
