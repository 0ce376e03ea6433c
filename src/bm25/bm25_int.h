/*
 * bm25_int.h — private interface between the files of the bm25 module. The byte layout of a
 * segment is described at the top of bm25_seg.c and in docs/formats/bm25-segment.md.
 *
 *   bm25_seg.c     format constants, SmallFloat norms, open/validate/verify, block decoding
 *   bm25_write.c   builder (in-memory inversion) and the segment writer shared with merge
 *   bm25_search.c  global statistics, block-max WAND and the exhaustive reference path
 *   bm25_merge.c   k-way merge of term dictionaries into one new segment
 */
#ifndef CAIRN_BM25_INT_H
#define CAIRN_BM25_INT_H

#include "bm25/bm25.h"

#define BM25_KIND_VERSION 1u
#define BM25_BLOCK 128u      /* documents per postings block */
#define BM25_DICT_BLOCK 16u  /* terms per front-coded dictionary block */
#define BM25_MAX_TERM 65535u /* longest term accepted by the writer */

/* Section ids inside the segment container. */
enum {
	SEC_STATS = 1,
	SEC_TERMDICT = 2,
	SEC_TERMIDX = 3,
	SEC_TERMMETA = 4,
	SEC_POSTINGS = 5,
	SEC_SKIP = 6,
	SEC_NORMS = 7,
	SEC_DOCLEN = 8,
	SEC_CHUNKIDS = 9,
	SEC_MTIMES = 10,
	SEC_KEYOFFS = 11,
	SEC_KEYS = 12,
	SEC_LABELOFFS = 13,
	SEC_LABELS = 14,
	SEC_DOCLABOFFS = 15,
	SEC_DOCLABIDS = 16,
};

#define STATS_SIZE 64u
#define TERMMETA_SIZE 48u
#define SKIP_SIZE 16u

/* One term's metadata record, decoded. */
typedef struct bm25_tmeta {
	uint32_t df, max_tf;
	uint64_t cf, post_off, post_len, skip_start;
	uint8_t min_norm;
} bm25_tmeta;

/* One skip entry, decoded. */
typedef struct bm25_skip {
	uint32_t last_doc, off, max_tf;
	uint8_t min_norm;
} bm25_skip;

struct cn_bm25_seg {
	cn_segr *r;
	const char *path;
	uint32_t ndocs, nlabels;
	uint64_t nterms, total_len, n_doclabels, nskip;
	const uint8_t *dict, *tidx, *tmeta, *post, *skip, *norms, *doclen, *chunkids, *mtimes;
	const uint8_t *keyoffs, *keys, *laboffs, *labels, *dloffs, *dlids;
	size_t dict_len, post_len, keys_len, labels_len;
	uint64_t ndict_blocks;
};

void cn_bm25_tmeta_get(const cn_bm25_seg *s, uint64_t term, bm25_tmeta *m);
void cn_bm25_skip_get(const cn_bm25_seg *s, uint64_t idx, bm25_skip *e);
/* Term ordinal of term, or UINT64_MAX when absent. CAIRN_ECORRUPT on a bad dictionary block. */
cairn_status cn_bm25_seg_find(const cn_bm25_seg *s, const char *term, uint32_t len, uint64_t *ord, cn_err *err);

/* Sequential dictionary iterator (merge and verify). */
typedef struct bm25_dict_iter {
	const cn_bm25_seg *s;
	uint64_t ord;           /* ordinal of the current term */
	size_t pos;             /* read position inside the dictionary section */
	char term[BM25_MAX_TERM + 1];
	uint32_t len;
	bool valid;
} bm25_dict_iter;
cairn_status cn_bm25_dict_first(bm25_dict_iter *it, const cn_bm25_seg *s, cn_err *err);
cairn_status cn_bm25_dict_next(bm25_dict_iter *it, cn_err *err);

/* Ids 0..count-1 of a strmap sorted bytewise by key (cn_malloc'd; NULL on OOM). */
uint32_t *cn_bm25_sorted_ids(const cn_strmap *m);
int cn_bm25_cmp_u32(const void *a, const void *b);

/* Decodes block b (0-based within the term) of term meta m into docs/tfs (BM25_BLOCK each);
 * *n gets the document count. Checks bounds and the skip entry's last doc. */
cairn_status cn_bm25_block_decode(const cn_bm25_seg *s, const bm25_tmeta *m, uint64_t b, uint32_t *docs,
                                  uint32_t *tfs, uint32_t *n, cn_err *err);
static inline uint64_t cn_bm25_nblocks(uint32_t df) { return ((uint64_t)df + BM25_BLOCK - 1) / BM25_BLOCK; }

uint32_t cn_bm25_seg_doclen(const cn_bm25_seg *s, uint32_t docnum);
uint8_t cn_bm25_seg_norm(const cn_bm25_seg *s, uint32_t docnum);

/* ---- the segment writer, shared by builder and merge ---- */

typedef struct bm25_writer bm25_writer;
/* Per-document columns, all with ndocs entries (keys/labels as offset arrays + blobs; label
 * ids per document sorted ascending and referring to the sorted label dictionary). */
typedef struct bm25_doccols {
	uint32_t ndocs;
	const uint32_t *lens;
	const uint64_t *chunk_ids;
	const int64_t *mtimes;
	const uint32_t *key_offs; /* ndocs + 1 */
	const char *keys;
	uint32_t nlabels;
	const uint32_t *label_offs; /* nlabels + 1 */
	const char *labels;
	const uint32_t *doclab_offs; /* ndocs + 1 */
	const uint32_t *doclab_ids;
} bm25_doccols;

cairn_status cn_bm25_writer_open(const char *path, const uint32_t *lens, uint32_t ndocs, bm25_writer **out,
                                 cn_err *err);
/* Terms must come in strictly increasing bytewise order; docs strictly increasing. */
cairn_status cn_bm25_writer_term(bm25_writer *w, const char *term, uint32_t len, const uint32_t *docs,
                                 const uint32_t *tfs, uint32_t n, cn_err *err);
/* Writes the remaining sections and renames into place; frees w either way. */
cairn_status cn_bm25_writer_finish(bm25_writer *w, const bm25_doccols *cols, uint64_t *bytes, cn_err *err);
void cn_bm25_writer_abort(bm25_writer *w);

#endif
