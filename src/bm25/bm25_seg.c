/*
 * bm25 segments — the on-disk inverted index, its validation and its decoding.
 *
 * Design. A segment is immutable and lives in the store's container (segfile.h: 64-byte
 * aligned sections, each with a CRC32C, atomic rename). Everything the query path touches is
 * laid out so that it is used in place from the memory map, without a load step:
 *
 *  - Term dictionary: terms sorted bytewise, front-coded in blocks of 16 (the first term of
 *    a block whole, the rest as <shared prefix, suffix>), with a sparse index of block
 *    offsets (TERMIDX). A lookup binary-searches the block heads (one memcmp each, no
 *    decoding) then scans ≤ 16 entries. The term's ordinal indexes a fixed-size metadata
 *    record (TERMMETA: df, cf, max tf, min norm, postings offset/length, first skip entry),
 *    so the dictionary stays small (typically 40-50% of the raw term bytes) and cache-friendly.
 *
 *  - Postings: per term, blocks of 128 documents. A block is two bytes (bit widths) followed
 *    by the doc gaps (gap-1 from the previous document) and the tf-1 values, each group
 *    bit-packed at its own width ("frame of reference" without exceptions, the scheme of
 *    Lucene ≤ 8's ForUtil). Why not varint: a block decodes with no branches per value and the
 *    width is chosen for the block's largest gap, which for frequent terms (the ones that
 *    dominate query time) is small and uniform; rare terms have one short block where the
 *    format hardly matters. Why not PFor exceptions or Stream-VByte: simpler code and
 *    validation for a few percent of size; the block format is versioned, so it can change.
 *
 *  - Skip data: one 16-byte entry per block (last doc, byte offset inside the term's
 *    postings, max tf, min norm byte). Block-max WAND reads these without decoding the block:
 *    score is increasing in tf and decreasing in length, so qw·idf·maxtf/(maxtf + K(minnorm))
 *    bounds every document of the block under any global statistics.
 *
 *  - Per-document columns: norm byte (Lucene SmallFloat.intToByte4 of the exact length),
 *    exact length (u32), chunk id (u64), mtime (i64), doc key (u32 offsets + blob), and
 *    label ids (u32 offsets + sorted u32 ids) into a sorted label dictionary (offsets + blob).
 *
 * Trust. The container guarantees section boundaries and checksums. Open validates every
 * fixed-size section length, every offset array (monotone, within its blob), every term
 * record (df ≤ ndocs, postings and skip ranges inside their sections) and every label id;
 * what is too costly to check at open (the inside of postings blocks, dictionary blocks) is
 * checked where it is decoded, and cn_bm25_seg_verify walks it all. Any violation is
 * CAIRN_ECORRUPT naming the file.
 *
 * Byte-level layout: docs/formats/bm25-segment.md.
 */
#include "bm25/bm25_int.h"

#include <string.h>

/* ---- SmallFloat (org.apache.lucene.util.SmallFloat, Lucene ≥ 7) ---- */

static uint32_t long_to_int4(uint64_t i)
{
	int nbits = i ? 64 - __builtin_clzll(i) : 0;
	if (nbits < 4)
		return (uint32_t)i; /* subnormal */
	int shift = nbits - 4;
	uint32_t enc = (uint32_t)(i >> shift) & 0x07; /* implicit leading bit dropped */
	enc |= (uint32_t)(shift + 1) << 3;
	return enc;
}

static uint64_t int4_to_long(uint32_t i)
{
	uint64_t bits = i & 0x07;
	int shift = (int)(i >> 3) - 1;
	return shift == -1 ? bits : (bits | 0x08) << shift;
}

/* MAX_INT4 = longToInt4(Integer.MAX_VALUE) = 231, NUM_FREE_VALUES = 255 - 231 = 24. */
#define SF_FREE 24u

uint8_t cn_bm25_int_to_byte4(uint32_t len)
{
	if (len > INT32_MAX)
		len = INT32_MAX; /* Lucene's argument is an int */
	if (len < SF_FREE)
		return (uint8_t)len;
	return (uint8_t)(SF_FREE + long_to_int4(len - SF_FREE));
}

uint32_t cn_bm25_byte4_to_int(uint8_t b)
{
	if (b < SF_FREE)
		return b;
	return (uint32_t)(SF_FREE + int4_to_long((uint32_t)b - SF_FREE));
}

/* ---- opening ---- */

static cairn_status corrupt(const cn_bm25_seg *s, cn_err *err, const char *what)
{
	return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt bm25 segment: %s", s->path, what);
}

static cairn_status get_sec(cn_bm25_seg *s, uint32_t id, const uint8_t **p, size_t *len, cn_err *err)
{
	cn_err e;
	cn_err_clear(&e);
	cairn_status st = cn_segr_section(s->r, id, p, len, &e);
	if (st == CAIRN_ENOTFOUND)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt bm25 segment: section %u missing", s->path, id);
	if (st)
		return cn_err_set(err, st, "%s", e.msg);
	return CAIRN_OK;
}

/* Exact-size section: len must equal count*esz. */
static cairn_status get_arr(cn_bm25_seg *s, uint32_t id, uint64_t count, size_t esz, const uint8_t **p,
                            cn_err *err)
{
	size_t len;
	cairn_status st = get_sec(s, id, p, &len, err);
	if (st)
		return st;
	if (count > SIZE_MAX / esz || len != count * esz)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt bm25 segment: section %u has %zu bytes, expected %llu",
		                  s->path, id, len, (unsigned long long)count * esz);
	return CAIRN_OK;
}

/* An offset array of count+1 u32 entries: starts at 0, never decreases, ends at blob_len. */
static bool offsets_ok(const uint8_t *offs, uint64_t count, uint64_t blob_len)
{
	uint32_t prev = 0;
	if (cn_load_u32le(offs) != 0)
		return false;
	for (uint64_t i = 1; i <= count; i++) {
		uint32_t o = cn_load_u32le(offs + 4 * i);
		if (o < prev)
			return false;
		prev = o;
	}
	return prev == blob_len;
}

void cn_bm25_tmeta_get(const cn_bm25_seg *s, uint64_t term, bm25_tmeta *m)
{
	const uint8_t *p = s->tmeta + term * TERMMETA_SIZE;
	m->df = cn_load_u32le(p);
	m->max_tf = cn_load_u32le(p + 4);
	m->cf = cn_load_u64le(p + 8);
	m->post_off = cn_load_u64le(p + 16);
	m->post_len = cn_load_u64le(p + 24);
	m->skip_start = cn_load_u64le(p + 32);
	m->min_norm = p[40];
}

void cn_bm25_skip_get(const cn_bm25_seg *s, uint64_t idx, bm25_skip *e)
{
	const uint8_t *p = s->skip + idx * SKIP_SIZE;
	e->last_doc = cn_load_u32le(p);
	e->off = cn_load_u32le(p + 4);
	e->max_tf = cn_load_u32le(p + 8);
	e->min_norm = p[12];
}

static cairn_status validate(cn_bm25_seg *s, cn_err *err)
{
	const uint8_t *st8;
	size_t len;
	cairn_status st = get_sec(s, SEC_STATS, &st8, &len, err);
	if (st)
		return st;
	if (len != STATS_SIZE)
		return corrupt(s, err, "stats section has the wrong size");
	s->ndocs = cn_load_u32le(st8);
	s->nlabels = cn_load_u32le(st8 + 4);
	s->nterms = cn_load_u64le(st8 + 8);
	s->total_len = cn_load_u64le(st8 + 16);
	s->n_doclabels = cn_load_u64le(st8 + 24);
	s->nskip = cn_load_u64le(st8 + 32);
	if (cn_load_u32le(st8 + 40) != BM25_BLOCK || cn_load_u32le(st8 + 44) != BM25_DICT_BLOCK)
		return corrupt(s, err, "unexpected block sizes in stats");
	if (s->ndocs > INT32_MAX)
		return corrupt(s, err, "document count out of range");

	s->ndict_blocks = (s->nterms + BM25_DICT_BLOCK - 1) / BM25_DICT_BLOCK;
	if ((st = get_sec(s, SEC_TERMDICT, &s->dict, &s->dict_len, err)) ||
	    (st = get_arr(s, SEC_TERMIDX, s->ndict_blocks, 4, &s->tidx, err)) ||
	    (st = get_arr(s, SEC_TERMMETA, s->nterms, TERMMETA_SIZE, &s->tmeta, err)) ||
	    (st = get_sec(s, SEC_POSTINGS, &s->post, &s->post_len, err)) ||
	    (st = get_arr(s, SEC_SKIP, s->nskip, SKIP_SIZE, &s->skip, err)) ||
	    (st = get_arr(s, SEC_NORMS, s->ndocs, 1, &s->norms, err)) ||
	    (st = get_arr(s, SEC_DOCLEN, s->ndocs, 4, &s->doclen, err)) ||
	    (st = get_arr(s, SEC_CHUNKIDS, s->ndocs, 8, &s->chunkids, err)) ||
	    (st = get_arr(s, SEC_MTIMES, s->ndocs, 8, &s->mtimes, err)) ||
	    (st = get_arr(s, SEC_KEYOFFS, (uint64_t)s->ndocs + 1, 4, &s->keyoffs, err)) ||
	    (st = get_sec(s, SEC_KEYS, &s->keys, &s->keys_len, err)) ||
	    (st = get_arr(s, SEC_LABELOFFS, (uint64_t)s->nlabels + 1, 4, &s->laboffs, err)) ||
	    (st = get_sec(s, SEC_LABELS, &s->labels, &s->labels_len, err)) ||
	    (st = get_arr(s, SEC_DOCLABOFFS, (uint64_t)s->ndocs + 1, 4, &s->dloffs, err)) ||
	    (st = get_arr(s, SEC_DOCLABIDS, s->n_doclabels, 4, &s->dlids, err)))
		return st;

	/* dictionary block index: strictly increasing offsets inside the dictionary */
	for (uint64_t i = 0; i < s->ndict_blocks; i++) {
		uint32_t o = cn_load_u32le(s->tidx + 4 * i);
		if (o >= s->dict_len || (i == 0 && o != 0) || (i > 0 && o <= cn_load_u32le(s->tidx + 4 * (i - 1))))
			return corrupt(s, err, "dictionary block index out of range");
	}
	if (s->nterms == 0 && s->dict_len != 0)
		return corrupt(s, err, "dictionary bytes without terms");

	/* term records: ranges inside their sections, skip ranges contiguous */
	uint64_t next_skip = 0;
	for (uint64_t t = 0; t < s->nterms; t++) {
		bm25_tmeta m;
		cn_bm25_tmeta_get(s, t, &m);
		uint64_t nb = cn_bm25_nblocks(m.df);
		if (m.df == 0 || m.df > s->ndocs || m.max_tf == 0 || m.cf < m.df || m.post_off > s->post_len ||
		    m.post_len > s->post_len - m.post_off || m.post_len > UINT32_MAX || m.skip_start != next_skip ||
		    nb > s->nskip - next_skip)
			return corrupt(s, err, "term metadata out of range");
		next_skip += nb;
	}
	if (next_skip != s->nskip)
		return corrupt(s, err, "skip entry count does not match the terms");

	if (!offsets_ok(s->keyoffs, s->ndocs, s->keys_len))
		return corrupt(s, err, "doc key offsets out of range");
	if (!offsets_ok(s->laboffs, s->nlabels, s->labels_len))
		return corrupt(s, err, "label offsets out of range");
	if (!offsets_ok(s->dloffs, s->ndocs, s->n_doclabels))
		return corrupt(s, err, "document label offsets out of range");
	/* labels strictly sorted (binding binary-searches them) */
	for (uint32_t i = 1; i < s->nlabels; i++) {
		uint32_t a0 = cn_load_u32le(s->laboffs + 4 * (i - 1)), a1 = cn_load_u32le(s->laboffs + 4 * i);
		uint32_t b1 = cn_load_u32le(s->laboffs + 4 * (i + 1));
		size_t la = a1 - a0, lb = b1 - a1;
		int c = memcmp(s->labels + a0, s->labels + a1, CN_MIN(la, lb));
		if (c > 0 || (c == 0 && la >= lb))
			return corrupt(s, err, "label dictionary not sorted");
	}
	/* per-document label ids ascending and inside the dictionary */
	for (uint32_t d = 0; d < s->ndocs; d++) {
		uint32_t a = cn_load_u32le(s->dloffs + 4 * d), b = cn_load_u32le(s->dloffs + 4 * (d + 1));
		for (uint32_t j = a; j < b; j++) {
			uint32_t id = cn_load_u32le(s->dlids + 4 * (size_t)j);
			if (id >= s->nlabels || (j > a && id <= cn_load_u32le(s->dlids + 4 * (size_t)(j - 1))))
				return corrupt(s, err, "document label ids out of range or unsorted");
		}
	}
	return CAIRN_OK;
}

cairn_status cn_bm25_seg_open(const char *path, cn_bm25_seg **out, cn_err *err)
{
	*out = NULL;
	cn_bm25_seg *s = cn_calloc(1, sizeof *s);
	if (!s)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	cairn_status st = cn_segr_open(path, CN_SEG_KIND_BM25, &s->r, err);
	if (st) {
		cn_free(s);
		return st;
	}
	s->path = cn_segr_path(s->r);
	if (cn_segr_kind_version(s->r) != BM25_KIND_VERSION) {
		st = cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: bm25 segment version %u not supported (expected %u)", path,
		                cn_segr_kind_version(s->r), BM25_KIND_VERSION);
	} else {
		st = validate(s, err);
	}
	if (st) {
		cn_bm25_seg_close(s);
		return st;
	}
	*out = s;
	return CAIRN_OK;
}

void cn_bm25_seg_close(cn_bm25_seg *s)
{
	if (!s)
		return;
	cn_segr_close(s->r);
	cn_free(s);
}

uint32_t cn_bm25_seg_ndocs(const cn_bm25_seg *s) { return s->ndocs; }
uint64_t cn_bm25_seg_nterms(const cn_bm25_seg *s) { return s->nterms; }
uint64_t cn_bm25_seg_total_len(const cn_bm25_seg *s) { return s->total_len; }
uint64_t cn_bm25_seg_bytes(const cn_bm25_seg *s) { return cn_segr_bytes(s->r); }
const char *cn_bm25_seg_path(const cn_bm25_seg *s) { return s->path; }

uint64_t cn_bm25_seg_chunk_id(const cn_bm25_seg *s, uint32_t docnum)
{
	return docnum < s->ndocs ? cn_load_u64le(s->chunkids + 8 * (size_t)docnum) : 0;
}

int64_t cn_bm25_seg_mtime(const cn_bm25_seg *s, uint32_t docnum)
{
	return docnum < s->ndocs ? (int64_t)cn_load_u64le(s->mtimes + 8 * (size_t)docnum) : 0;
}

uint32_t cn_bm25_seg_doclen(const cn_bm25_seg *s, uint32_t docnum)
{
	return docnum < s->ndocs ? cn_load_u32le(s->doclen + 4 * (size_t)docnum) : 0;
}

uint8_t cn_bm25_seg_norm(const cn_bm25_seg *s, uint32_t docnum) { return docnum < s->ndocs ? s->norms[docnum] : 0; }

const char *cn_bm25_seg_doc_key(const cn_bm25_seg *s, uint32_t docnum, uint32_t *len)
{
	if (docnum >= s->ndocs) {
		*len = 0;
		return NULL;
	}
	uint32_t a = cn_load_u32le(s->keyoffs + 4 * (size_t)docnum), b = cn_load_u32le(s->keyoffs + 4 * (size_t)docnum + 4);
	*len = b - a;
	return (const char *)s->keys + a;
}

const uint32_t *cn_bm25_seg_doc_labels(const cn_bm25_seg *s, uint32_t docnum, size_t *n)
{
	if (docnum >= s->ndocs) {
		*n = 0;
		return NULL;
	}
	uint32_t a = cn_load_u32le(s->dloffs + 4 * (size_t)docnum), b = cn_load_u32le(s->dloffs + 4 * (size_t)docnum + 4);
	*n = b - a;
	/* sections are 64-byte aligned and the ids are u32 little-endian: usable in place */
	return (const uint32_t *)(const void *)(s->dlids + 4 * (size_t)a);
}

uint32_t cn_bm25_seg_nlabels(const cn_bm25_seg *s) { return s->nlabels; }

const char *cn_bm25_seg_label(const cn_bm25_seg *s, uint32_t id, uint32_t *len)
{
	if (id >= s->nlabels) {
		*len = 0;
		return NULL;
	}
	uint32_t a = cn_load_u32le(s->laboffs + 4 * (size_t)id), b = cn_load_u32le(s->laboffs + 4 * (size_t)id + 4);
	*len = b - a;
	return (const char *)s->labels + a;
}

static const char *label_cb(const void *ctx, uint32_t i, uint32_t *len) { return cn_bm25_seg_label(ctx, i, len); }

void cn_bm25_seg_label_source(const cn_bm25_seg *s, cn_label_source *src)
{
	src->n_labels = s->nlabels;
	src->label = label_cb;
	src->ctx = s;
}

/* ---- term dictionary ---- */

static int cmp_bytes(const void *a, size_t la, const void *b, size_t lb)
{
	int c = memcmp(a, b, CN_MIN(la, lb));
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static size_t block_end(const cn_bm25_seg *s, uint64_t blk)
{
	return blk + 1 < s->ndict_blocks ? cn_load_u32le(s->tidx + 4 * (blk + 1)) : s->dict_len;
}

/* Reads the head term of a dictionary block in place. */
static bool block_head(const cn_bm25_seg *s, uint64_t blk, const uint8_t **t, uint32_t *tlen, size_t *next)
{
	size_t pos = cn_load_u32le(s->tidx + 4 * blk), end = block_end(s, blk);
	uint64_t l;
	size_t n = cn_varint_get(s->dict + pos, s->dict + end, &l);
	if (!n || l > BM25_MAX_TERM || l > end - pos - n)
		return false;
	*t = s->dict + pos + n;
	*tlen = (uint32_t)l;
	*next = pos + n + l;
	return true;
}

/* Decodes the entry after the first at *pos (prefix, suffix) into term (holding the previous). */
static bool dict_entry(const cn_bm25_seg *s, size_t *pos, size_t end, char *term, uint32_t *tlen)
{
	uint64_t pre, suf;
	size_t n1 = cn_varint_get(s->dict + *pos, s->dict + end, &pre);
	if (!n1)
		return false;
	size_t n2 = cn_varint_get(s->dict + *pos + n1, s->dict + end, &suf);
	if (!n2 || pre > *tlen || suf > BM25_MAX_TERM - pre || suf > end - *pos - n1 - n2)
		return false;
	memcpy(term + pre, s->dict + *pos + n1 + n2, suf);
	*tlen = (uint32_t)(pre + suf);
	*pos += n1 + n2 + suf;
	return true;
}

cairn_status cn_bm25_seg_find(const cn_bm25_seg *s, const char *term, uint32_t len, uint64_t *ord, cn_err *err)
{
	*ord = UINT64_MAX;
	if (s->ndict_blocks == 0 || len > BM25_MAX_TERM)
		return CAIRN_OK;
	/* last block whose head <= term */
	uint64_t lo = 0, hi = s->ndict_blocks;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		const uint8_t *h;
		uint32_t hl;
		size_t nx;
		if (!block_head(s, mid, &h, &hl, &nx))
			return corrupt(s, err, "bad dictionary block");
		if (cmp_bytes(h, hl, term, len) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	const uint8_t *h;
	uint32_t hl;
	size_t pos;
	if (!block_head(s, lo, &h, &hl, &pos))
		return corrupt(s, err, "bad dictionary block");
	int c = cmp_bytes(h, hl, term, len);
	if (c == 0) {
		*ord = lo * BM25_DICT_BLOCK;
		return CAIRN_OK;
	}
	if (c > 0)
		return CAIRN_OK;
	char buf[BM25_MAX_TERM + 1];
	memcpy(buf, h, hl);
	uint32_t bl = hl;
	size_t end = block_end(s, lo);
	uint64_t count = CN_MIN((uint64_t)BM25_DICT_BLOCK, s->nterms - lo * BM25_DICT_BLOCK);
	for (uint64_t i = 1; i < count; i++) {
		if (!dict_entry(s, &pos, end, buf, &bl))
			return corrupt(s, err, "bad dictionary entry");
		c = cmp_bytes(buf, bl, term, len);
		if (c == 0) {
			*ord = lo * BM25_DICT_BLOCK + i;
			return CAIRN_OK;
		}
		if (c > 0)
			break;
	}
	return CAIRN_OK;
}

static cairn_status iter_load(bm25_dict_iter *it, cn_err *err)
{
	const cn_bm25_seg *s = it->s;
	if (it->ord >= s->nterms) {
		it->valid = false;
		return CAIRN_OK;
	}
	uint64_t blk = it->ord / BM25_DICT_BLOCK;
	if (it->ord % BM25_DICT_BLOCK == 0) {
		const uint8_t *h;
		if (!block_head(s, blk, &h, &it->len, &it->pos))
			return corrupt(s, err, "bad dictionary block");
		memcpy(it->term, h, it->len);
	} else if (!dict_entry(s, &it->pos, block_end(s, blk), it->term, &it->len)) {
		return corrupt(s, err, "bad dictionary entry");
	}
	it->term[it->len] = 0;
	it->valid = true;
	return CAIRN_OK;
}

cairn_status cn_bm25_dict_first(bm25_dict_iter *it, const cn_bm25_seg *s, cn_err *err)
{
	it->s = s;
	it->ord = 0;
	it->pos = 0;
	it->len = 0;
	return iter_load(it, err);
}

cairn_status cn_bm25_dict_next(bm25_dict_iter *it, cn_err *err)
{
	it->ord++;
	return iter_load(it, err);
}

/* ---- postings blocks ---- */

static inline const uint8_t *unpack(const uint8_t *p, uint32_t n, unsigned bits, uint32_t *out)
{
	if (bits == 0) {
		memset(out, 0, n * sizeof *out);
		return p;
	}
	uint64_t acc = 0;
	unsigned have = 0;
	uint64_t mask = (bits == 32) ? 0xFFFFFFFFull : ((1ull << bits) - 1);
	for (uint32_t i = 0; i < n; i++) {
		while (have < bits) {
			acc |= (uint64_t)*p++ << have;
			have += 8;
		}
		out[i] = (uint32_t)(acc & mask);
		acc >>= bits;
		have -= bits;
	}
	return p;
}

/* The same decoding with one unaligned 8-byte load per value (a value of ≤ 32 bits at any
 * bit offset lies within 40 bits). Only used when 8 bytes past the packed data are still
 * inside the postings section, so it never reads outside the mapping. */
static inline const uint8_t *unpack_fast(const uint8_t *p, uint32_t n, unsigned bits, uint32_t *out)
{
	if (bits == 0) {
		memset(out, 0, n * sizeof *out);
		return p;
	}
	uint64_t mask = (bits == 32) ? 0xFFFFFFFFull : ((1ull << bits) - 1);
	uint64_t pos = 0;
	for (uint32_t i = 0; i < n; i++, pos += bits)
		out[i] = (uint32_t)((cn_load_u64le(p + (pos >> 3)) >> (pos & 7)) & mask);
	return p + (((uint64_t)n * bits + 7) >> 3);
}

cairn_status cn_bm25_block_decode(const cn_bm25_seg *s, const bm25_tmeta *m, uint64_t b, uint32_t *docs,
                                  uint32_t *tfs, uint32_t *n, cn_err *err)
{
	uint64_t nb = cn_bm25_nblocks(m->df);
	uint32_t cnt = b + 1 < nb ? BM25_BLOCK : m->df - (uint32_t)(b * BM25_BLOCK);
	bm25_skip e;
	cn_bm25_skip_get(s, m->skip_start + b, &e);
	if (e.off >= m->post_len || m->post_len - e.off < 2)
		return corrupt(s, err, "postings block offset out of range");
	const uint8_t *p = s->post + m->post_off + e.off;
	unsigned bd = p[0], bt = p[1];
	if (bd > 32 || bt > 32)
		return corrupt(s, err, "bad postings bit width");
	uint64_t need = 2 + ((uint64_t)cnt * bd + 7) / 8 + ((uint64_t)cnt * bt + 7) / 8;
	if (need > m->post_len - e.off)
		return corrupt(s, err, "postings block overruns its term");
	if ((uint64_t)(p - s->post) + need + 8 <= s->post_len) {
		p = unpack_fast(p + 2, cnt, bd, docs);
		unpack_fast(p, cnt, bt, tfs);
	} else {
		p = unpack(p + 2, cnt, bd, docs);
		unpack(p, cnt, bt, tfs);
	}
	uint64_t prev;
	if (b == 0) {
		prev = UINT64_MAX; /* first gap is the doc number itself: doc = prev + 1 + gap */
	} else {
		bm25_skip pe;
		cn_bm25_skip_get(s, m->skip_start + b - 1, &pe);
		prev = pe.last_doc;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		prev = prev + 1 + docs[i];
		docs[i] = (uint32_t)prev;
		tfs[i] += 1;
	}
	if (prev != e.last_doc || prev >= s->ndocs || tfs[0] == 0 /* tf-1 overflowed */)
		return corrupt(s, err, "postings block does not match its skip entry");
	for (uint32_t i = 1; i < cnt; i++)
		if (tfs[i] == 0)
			return corrupt(s, err, "term frequency out of range");
	*n = cnt;
	return CAIRN_OK;
}

/* ---- deep verification ---- */

cairn_status cn_bm25_seg_verify(const cn_bm25_seg *s, cn_err *err)
{
	uint32_t docs[BM25_BLOCK], tfs[BM25_BLOCK];
	bm25_dict_iter *it = cn_malloc(sizeof *it), *prev = cn_malloc(sizeof *prev);
	cairn_status st = CAIRN_OK;
	if (!it || !prev) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", s->path);
		goto out;
	}
	/* every dictionary block must be consumed exactly by its entries */
	st = cn_bm25_dict_first(it, s, err);
	uint64_t nseen = 0;
	while (!st && it->valid) {
		if (nseen > 0 && cmp_bytes(prev->term, prev->len, it->term, it->len) >= 0) {
			st = corrupt(s, err, "dictionary terms not strictly sorted");
			break;
		}
		memcpy(prev->term, it->term, it->len);
		prev->len = it->len;
		uint64_t blk = it->ord / BM25_DICT_BLOCK;
		bool last_in_block = it->ord % BM25_DICT_BLOCK == BM25_DICT_BLOCK - 1 || it->ord + 1 == s->nterms;
		if (last_in_block && it->pos != block_end(s, blk)) {
			st = corrupt(s, err, "dictionary block has trailing bytes");
			break;
		}
		/* postings */
		bm25_tmeta m;
		cn_bm25_tmeta_get(s, it->ord, &m);
		uint64_t nb = cn_bm25_nblocks(m.df), cf = 0;
		uint32_t maxtf = 0;
		uint8_t minnorm = 255;
		uint64_t expect_off = 0;
		for (uint64_t b = 0; b < nb && !st; b++) {
			uint32_t n;
			bm25_skip e;
			cn_bm25_skip_get(s, m.skip_start + b, &e);
			if (e.off != expect_off) {
				st = corrupt(s, err, "postings blocks not contiguous");
				break;
			}
			if ((st = cn_bm25_block_decode(s, &m, b, docs, tfs, &n, err)))
				break;
			const uint8_t *p = s->post + m.post_off + e.off;
			expect_off += 2 + ((uint64_t)n * p[0] + 7) / 8 + ((uint64_t)n * p[1] + 7) / 8;
			uint32_t bmax = 0;
			uint8_t bmin = 255;
			for (uint32_t i = 0; i < n; i++) {
				cf += tfs[i];
				bmax = CN_MAX(bmax, tfs[i]);
				bmin = CN_MIN(bmin, s->norms[docs[i]]);
			}
			if (bmax != e.max_tf || bmin != e.min_norm)
				st = corrupt(s, err, "block-max data does not match the block");
			maxtf = CN_MAX(maxtf, bmax);
			minnorm = CN_MIN(minnorm, bmin);
		}
		if (st)
			break;
		if (expect_off != m.post_len || cf != m.cf || maxtf != m.max_tf || minnorm != m.min_norm) {
			st = corrupt(s, err, "term statistics do not match the postings");
			break;
		}
		nseen++;
		st = cn_bm25_dict_next(it, err);
	}
	if (!st && nseen != s->nterms)
		st = corrupt(s, err, "dictionary term count mismatch");
	/* postings section fully covered, in term order */
	if (!st) {
		uint64_t off = 0;
		for (uint64_t t = 0; t < s->nterms && !st; t++) {
			bm25_tmeta m;
			cn_bm25_tmeta_get(s, t, &m);
			if (m.post_off != off)
				st = corrupt(s, err, "postings not contiguous");
			off += m.post_len;
		}
		if (!st && off != s->post_len)
			st = corrupt(s, err, "postings section has trailing bytes");
	}
	/* document columns */
	if (!st) {
		uint64_t total = 0;
		for (uint32_t d = 0; d < s->ndocs; d++) {
			uint32_t l = cn_load_u32le(s->doclen + 4 * (size_t)d);
			total += l;
			if (s->norms[d] != cn_bm25_int_to_byte4(l)) {
				st = corrupt(s, err, "norm byte does not match the document length");
				break;
			}
		}
		if (!st && total != s->total_len)
			st = corrupt(s, err, "total length does not match the documents");
	}
out:
	cn_free(it);
	cn_free(prev);
	return st;
}

cairn_status cn_bm25_doc_freq(const cn_bm25_view *views, size_t n_views, const char *term, uint32_t len,
                              uint64_t *df, cn_err *err)
{
	*df = 0;
	for (size_t i = 0; i < n_views; i++) {
		uint64_t ord;
		cairn_status st = cn_bm25_seg_find(views[i].seg, term, len, &ord, err);
		if (st != CAIRN_OK)
			return st;
		if (ord == UINT64_MAX)
			continue;
		bm25_tmeta m;
		cn_bm25_tmeta_get(views[i].seg, ord, &m);
		*df += m.df;
	}
	return CAIRN_OK;
}
