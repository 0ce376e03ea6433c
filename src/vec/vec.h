/*
 * vec — the vector index: in-memory builder → immutable segment → filtered top-k → merge.
 *
 * The engine keeps one vector segment beside each bm25 segment, holding the same chunks
 * (same chunk ids, labels and mtimes), so deletions are the same kind of bitmap (over this
 * segment's vector numbers) and a filter is bound to this segment's own label dictionary,
 * exactly as for bm25 (filter.h).
 *
 * Index: HNSW (Malkov & Yashunin 2016/2018) with the neighbour-selection heuristic of the
 * paper's Algorithm 4 as hnswlib implements it (no extended candidates, no kept pruned
 * connections), levels drawn from a seeded hash of the vector number (builds are
 * deterministic with one thread), plus exact flat search over the same data.
 *
 * Scores: higher is better. COSINE: dot product of the normalised vectors (vectors are
 * normalised when added, the query when searched); DOT: the raw dot product; L2: minus the
 * squared Euclidean distance.
 *
 * Storage: F32 keeps only the float vectors; INT8 adds one signed byte per dimension with a
 * per-vector scale (x ≈ scale·code, codes in [-127, 127]) that the graph walk uses, and
 * rescores the walk's best candidates exactly with the float vectors (still in the file,
 * touched only for those candidates). Why per-vector, not per-dimension: an embedding's
 * dimensions have similar ranges after normalisation, so per-dimension ranges buy little,
 * while a per-vector scale needs no training statistics (a segment of three vectors and a
 * merge of many quantise the same way) and makes every metric one int8·int8 dot product
 * (L2 via the stored exact squared norm: |q-x|² = |q|² + |x|² - 2 q·x).
 * Byte layout: docs/formats/vec-segment.md.
 */
#ifndef CAIRN_VEC_H
#define CAIRN_VEC_H

#include "base/base.h"
#include "filter/filter.h"
#include "store/segfile.h"

typedef enum cn_vec_metric { CN_VEC_COSINE = 1, CN_VEC_DOT = 2, CN_VEC_L2 = 3 } cn_vec_metric;
typedef enum cn_vec_storage { CN_VEC_F32 = 1, CN_VEC_INT8 = 2 } cn_vec_storage;

#define CN_VEC_MAX_DIM 16384u
#define CN_VEC_MAX_M 256u

typedef struct cn_vec_params {
	uint32_t dim;
	cn_vec_metric metric;
	cn_vec_storage storage;
	uint32_t M;               /* links per node on upper levels; 2·M on level 0 (default 16) */
	uint32_t ef_construction; /* candidate list size while building (default 200) */
	uint32_t threads;         /* build threads (default 1 = deterministic; 2+ = faster, not reproducible) */
	uint64_t seed;            /* level generation */
} cn_vec_params;

/* Defaults for dim: cosine, F32, M 16, efConstruction 200, one thread, a fixed seed. */
cn_vec_params cn_vec_default_params(uint32_t dim);

/* ---- building ---- */

typedef struct cn_vec_builder cn_vec_builder;

typedef struct cn_vec_item {
	uint64_t chunk_id;
	const float *vec;          /* params.dim floats, all finite */
	int64_t mtime;
	const char *const *labels; /* filter labels, any order, duplicates allowed */
	size_t n_labels;
} cn_vec_item;

cairn_status cn_vec_builder_new(const cn_vec_params *p, cn_vec_builder **out, cn_err *err);
void cn_vec_builder_free(cn_vec_builder *b);
/* CAIRN_EINVAL for a non-finite component or an add after the index was built. */
cairn_status cn_vec_builder_add(cn_vec_builder *b, const cn_vec_item *item, cn_err *err);
uint32_t cn_vec_builder_count(const cn_vec_builder *b);
size_t cn_vec_builder_memory(const cn_vec_builder *b); /* bytes held, to decide when to flush */

typedef struct cn_vec_seg cn_vec_seg;

/* Builds the graph (once; later calls return the same index) and hands out a searchable
 * segment backed by the builder's memory, valid until the builder is freed. */
cairn_status cn_vec_builder_index(cn_vec_builder *b, const cn_vec_seg **out, cn_err *err);
/* Builds if needed and writes the segment file (segfile.h, CN_SEG_KIND_VEC) at path. */
cairn_status cn_vec_builder_write(cn_vec_builder *b, const char *path, uint64_t *bytes, cn_err *err);

/* ---- reading ---- */

/* Maps the file and validates every internal count, offset and neighbour id; a segment
 * that opens is safe to search and merge. CAIRN_ECORRUPT / CAIRN_EUNSUPPORTED otherwise. */
cairn_status cn_vec_seg_open(const char *path, cn_vec_seg **out, cn_err *err);
void cn_vec_seg_close(cn_vec_seg *s); /* not for the builder's segment */

uint32_t cn_vec_seg_count(const cn_vec_seg *s);
uint32_t cn_vec_seg_dim(const cn_vec_seg *s);
cn_vec_metric cn_vec_seg_metric(const cn_vec_seg *s);
cn_vec_storage cn_vec_seg_storage(const cn_vec_seg *s);
cn_vec_params cn_vec_seg_params(const cn_vec_seg *s); /* as built (threads = 1) */
uint64_t cn_vec_seg_bytes(const cn_vec_seg *s);       /* file size (0 for the builder's) */
/* Bytes of the structure a graph search keeps touching: links, levels, and the int8 codes
 * with their scales (INT8) or the float vectors (F32). For INT8 the float vectors stay in the
 * map and are read only for the candidates rescored. Chunk ids, mtimes and labels are not
 * counted (read for returned or filtered vectors only). */
uint64_t cn_vec_seg_search_bytes(const cn_vec_seg *s);
uint64_t cn_vec_seg_chunk_id(const cn_vec_seg *s, uint32_t i);
int64_t cn_vec_seg_mtime(const cn_vec_seg *s, uint32_t i);
/* The stored vector (normalised for COSINE), pointing into the map. */
const float *cn_vec_seg_vector(const cn_vec_seg *s, uint32_t i);
const uint32_t *cn_vec_seg_labels_of(const cn_vec_seg *s, uint32_t i, size_t *n);
uint32_t cn_vec_seg_nlabels(const cn_vec_seg *s);
const char *cn_vec_seg_label(const cn_vec_seg *s, uint32_t id, uint32_t *len);
void cn_vec_seg_label_source(const cn_vec_seg *s, cn_label_source *src);

/* ---- searching ---- */

typedef struct cn_vec_view {
	const cn_vec_seg *seg;
	const uint8_t *deleted; /* bitmap over vector numbers (bit set = deleted), NULL = none */
} cn_vec_view;

typedef enum cn_vec_mode {
	CN_VEC_AUTO = 0, /* graph, or exact when the filter/deletions leave few vectors */
	CN_VEC_GRAPH,    /* always the graph walk */
	CN_VEC_EXACT     /* brute force over every allowed vector (the reference) */
} cn_vec_mode;

typedef struct cn_vec_query {
	uint32_t k;
	uint32_t ef_search;        /* 0 = max(k, 64); raised to k when smaller */
	const cn_filter *filter;   /* NULL = none */
	cn_vec_mode mode;
	/* AUTO goes exact when the estimated allowed fraction is below this (0 = default, see
	 * CN_VEC_EXACT_FRACTION) or the estimated allowed count is below CN_VEC_EXACT_COUNT. */
	float exact_below;
	uint32_t rescore;          /* INT8: candidates rescored exactly (0 = ef_search) */
} cn_vec_query;

#define CN_VEC_EXACT_FRACTION 0.02f
#define CN_VEC_EXACT_COUNT 2000u

typedef struct cn_vec_hit {
	float score;
	uint32_t seg; /* index into the views array */
	uint32_t idx; /* vector number inside the segment */
	uint64_t chunk_id;
} cn_vec_hit;

/* Top-k over several segments, best first (ties: lower segment, then lower number).
 * q has the segments' dimension (all views must agree in dim and metric). hits holds q->k
 * entries; *n_hits gets how many were found. Never returns a deleted vector or one the filter
 * rejects. */
cairn_status cn_vec_search(const cn_vec_view *views, size_t n_views, const float *q, const cn_vec_query *qp,
                           cn_vec_hit *hits, size_t *n_hits, cn_err *err);

/* Statistics of the last search on this thread (for tests and the bench). */
typedef struct cn_vec_search_stats {
	uint32_t exact_segments, graph_segments;
	uint64_t distances; /* distance computations */
} cn_vec_search_stats;
void cn_vec_last_stats(cn_vec_search_stats *st);

/* ---- merging ---- */

/* Writes one segment holding the live vectors of the views, in order, with their labels and
 * mtimes; the graph is rebuilt from the stored float vectors. p NULL = the first view's
 * parameters (dim and metric must agree across views). *count (may be NULL) gets the number
 * of vectors written. */
cairn_status cn_vec_merge(const cn_vec_view *views, size_t n_views, const cn_vec_params *p, const char *path,
                          uint64_t *bytes, uint32_t *count, cn_err *err);

/* ---- kernels (exposed for tests and the bench) ---- */

typedef struct cn_vec_kernels {
	const char *name;
	float (*dot)(const float *a, const float *b, size_t n);
	float (*l2sq)(const float *a, const float *b, size_t n);
	int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
} cn_vec_kernels;

/* The kernels in use (AVX2+FMA when the CPU has them, else scalar). */
const cn_vec_kernels *cn_vec_kernels_best(void);
const cn_vec_kernels *cn_vec_kernels_scalar(void);
/* NULL when the CPU lacks AVX2/FMA. */
const cn_vec_kernels *cn_vec_kernels_avx2(void);
/* Test hook: force the scalar kernels (true) or go back to the best (false). */
void cn_vec_force_scalar(bool on);
/* Per-vector symmetric int8 quantisation: codes[i] = round(x[i]/scale) in [-127,127];
 * returns scale (0 for a zero vector). */
float cn_vec_quantize(const float *x, size_t dim, int8_t *codes);

#endif
