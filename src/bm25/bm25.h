/*
 * bm25 — the inverted index: in-memory builder → immutable segment → top-k search → merge.
 *
 * A segment indexes "documents" that are, to the engine, chunks; each has a segment-local
 * number 0..n-1 (in insertion order), a 64-bit chunk id (the catalog's row id), a stored
 * doc key (the external document id, so result lists resolve without a catalog lookup),
 * a modification time and filter labels (see filter.h).
 *
 * Scoring is Lucene's BM25 (BM25Similarity, Lucene ≥ 8):
 *   idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
 *   score    = Σ_t qw_t · idf(t) · tf / (tf + k1 · (1 - b + b · dl / avgdl))
 * where dl is the document length as Lucene stores it: the token count after stopword
 * removal, quantised to one byte with SmallFloat.intToByte4 and decoded back (so scores
 * match Lucene's, not just its ranking), avgdl = Σ exact lengths / N, and N, df and the
 * length sum are taken over all segments of the snapshot (deleted documents included until
 * a merge drops them, as Lucene does). qw_t is the count of t in the query.
 *
 * Top-k uses block-max WAND: postings are stored in blocks of 128 documents with the block's
 * last doc number and the maximum possible score contribution data (max tf and min norm)
 * so whole blocks are skipped when they cannot reach the current k-th score.
 */
#ifndef CAIRN_BM25_H
#define CAIRN_BM25_H

#include "base/base.h"
#include "filter/filter.h"
#include "lex/lex.h"
#include "store/segfile.h"

/* ---- building ---- */

typedef struct cn_bm25_builder cn_bm25_builder;

typedef struct cn_bm25_doc {
	uint64_t chunk_id;
	const char *doc_key;          /* NUL-terminated external document id */
	int64_t mtime;
	const char *const *labels;    /* filter labels, any order, duplicates allowed */
	size_t n_labels;
} cn_bm25_doc;

cairn_status cn_bm25_builder_new(cn_bm25_builder **out);
void cn_bm25_builder_free(cn_bm25_builder *b);
/* Adds one document with its analyzed terms (only term text is used; positions are not
 * indexed in format version 1). */
cairn_status cn_bm25_builder_add(cn_bm25_builder *b, const cn_bm25_doc *doc, const cn_tokens *terms);
uint32_t cn_bm25_builder_ndocs(const cn_bm25_builder *b);
size_t cn_bm25_builder_memory(const cn_bm25_builder *b); /* bytes held, to decide when to flush */
/* Serialises everything added into a segment file (see segfile.h) at path. */
cairn_status cn_bm25_builder_write(cn_bm25_builder *b, const char *path, uint64_t *bytes, cn_err *err);

/* ---- reading ---- */

typedef struct cn_bm25_seg cn_bm25_seg;

cairn_status cn_bm25_seg_open(const char *path, cn_bm25_seg **out, cn_err *err);
void cn_bm25_seg_close(cn_bm25_seg *s);
uint32_t cn_bm25_seg_ndocs(const cn_bm25_seg *s);
uint64_t cn_bm25_seg_nterms(const cn_bm25_seg *s);
uint64_t cn_bm25_seg_total_len(const cn_bm25_seg *s);
uint64_t cn_bm25_seg_bytes(const cn_bm25_seg *s);
uint64_t cn_bm25_seg_chunk_id(const cn_bm25_seg *s, uint32_t docnum);
const char *cn_bm25_seg_doc_key(const cn_bm25_seg *s, uint32_t docnum, uint32_t *len);
/* Verifies every internal offset (deep check for `cairn check`); open already checks CRCs. */
cairn_status cn_bm25_seg_verify(const cn_bm25_seg *s, cn_err *err);

/* ---- searching ---- */

typedef struct cn_bm25_qterm {
	const char *term;
	uint32_t len;
	float weight;   /* query-side weight: the term's count in the query */
} cn_bm25_qterm;

typedef struct cn_bm25_view {
	cn_bm25_seg *seg;
	const uint8_t *deleted; /* bitmap over doc numbers (bit set = deleted), NULL = none */
} cn_bm25_view;

/* Top-k strategies; all exact, all give bit-identical scores (tests compare them). */
typedef enum cn_bm25_strategy {
	CN_BM25_AUTO = 0,    /* chosen per segment from the query's posting count and length */
	CN_BM25_TAAT,        /* term-at-a-time into a dense accumulator: small postings */
	CN_BM25_WAND,        /* block-max WAND: short queries over long postings */
	CN_BM25_MAXSCORE     /* MaxScore: long queries over long postings */
} cn_bm25_strategy;

typedef struct cn_bm25_params {
	float k1, b;
	uint32_t k;          /* results wanted */
	bool exhaustive;     /* score every candidate (reference path for tests) */
	const cn_filter *filter; /* NULL = none */
	cn_bm25_strategy strategy;
} cn_bm25_params;

typedef struct cn_bm25_hit {
	float score;
	uint32_t seg;        /* index into the views array */
	uint32_t docnum;
} cn_bm25_hit;

/* Top-k over a snapshot. hits must hold params->k entries; *n_hits gets how many were
 * found, best first (ties: lower segment index, then lower doc number first). *matched
 * (may be NULL) gets the number of matching documents when exhaustive, else -1. */
cairn_status cn_bm25_search(const cn_bm25_view *views, size_t n_views, const cn_bm25_qterm *q, size_t nq,
                            const cn_bm25_params *params, cn_bm25_hit *hits, size_t *n_hits,
                            int64_t *matched, cn_err *err);

/* Writes one segment holding the live documents of the given views, in order. */
cairn_status cn_bm25_merge(const cn_bm25_view *views, size_t n_views, const char *path, uint64_t *bytes,
                           uint32_t *ndocs, cn_err *err);

/* ---- additions (bm25 module, beyond the original contract) ---- */

/* Lucene SmallFloat.intToByte4 / byte4ToInt: the one-byte length norm (lengths above
 * INT32_MAX are clamped, as Lucene's int argument would be). */
uint8_t cn_bm25_int_to_byte4(uint32_t len);
uint32_t cn_bm25_byte4_to_int(uint8_t b);

const char *cn_bm25_seg_path(const cn_bm25_seg *s);
int64_t cn_bm25_seg_mtime(const cn_bm25_seg *s, uint32_t docnum);
/* The document's label ids (ascending), pointing into the map; *n gets the count. */
const uint32_t *cn_bm25_seg_doc_labels(const cn_bm25_seg *s, uint32_t docnum, size_t *n);
uint32_t cn_bm25_seg_nlabels(const cn_bm25_seg *s);
const char *cn_bm25_seg_label(const cn_bm25_seg *s, uint32_t id, uint32_t *len);
/* Documents containing term, summed over the views; deleted documents still count until a
 * merge drops them, as in Lucene's docFreq. */
cairn_status cn_bm25_doc_freq(const cn_bm25_view *views, size_t n_views, const char *term, uint32_t len,
                              uint64_t *df, cn_err *err);
/* Fills src so a filter can be bound to this segment (valid while s is open). */
void cn_bm25_seg_label_source(const cn_bm25_seg *s, cn_label_source *src);

#endif
