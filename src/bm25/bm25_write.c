/*
 * bm25 builder and segment writer.
 *
 * Builder design (why it is fast): a document's terms are mapped to dense term ids with one
 * cn_strmap probe each; a per-term "stamp" array (the last document that saw the term)
 * counts tf without any per-document hash table; the document then appends its distinct
 * (term id, tf) pairs to ONE flat u32 array. No per-term or per-posting allocation happens
 * while indexing: memory grows by amortised doubling of a handful of arrays, and the
 * per-posting cost is 8 bytes. Inversion happens once, at write time, by a counting sort on
 * term id (df is already known per term, so every term's slice is placed exactly), after
 * sorting only the distinct terms bytewise. This is the "term-id sorted pass" of classic
 * single-pass in-memory inversion (Heinz & Zobel), and it keeps the hot loop to a hash probe,
 * two array reads and an append.
 *
 * Segment writer: used by the builder and by merge. Terms arrive sorted with their docs and
 * tfs; each is front-coded into the dictionary, its postings are bit-packed in blocks of 128
 * and streamed straight into the POSTINGS section of the container (the only large section),
 * while the dictionary, metadata and skip data are collected in memory and written at finish.
 * Layout: see bm25_seg.c and docs/formats/bm25-segment.md.
 */
#include "bm25/bm25_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- segment writer ---- */

struct bm25_writer {
	cn_segw *w;
	char *path;
	uint32_t ndocs;
	uint8_t *norms;
	cn_buf dict, tidx, tmeta, skip, block;
	char *prev;
	uint32_t prev_len;
	uint64_t nterms, nskip, post_pos;
	bool in_post;
};

static cairn_status wr_oom(bm25_writer *w, cn_err *err)
{
	return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory writing bm25 segment", w->path);
}

void cn_bm25_writer_abort(bm25_writer *w)
{
	if (!w)
		return;
	if (w->w)
		cn_segw_abort(w->w);
	cn_free(w->path);
	cn_free(w->norms);
	cn_free(w->prev);
	cn_buf_free(&w->dict);
	cn_buf_free(&w->tidx);
	cn_buf_free(&w->tmeta);
	cn_buf_free(&w->skip);
	cn_buf_free(&w->block);
	cn_free(w);
}

cairn_status cn_bm25_writer_open(const char *path, const uint32_t *lens, uint32_t ndocs, bm25_writer **out,
                                 cn_err *err)
{
	*out = NULL;
	if (ndocs > INT32_MAX)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: too many documents for one segment (%u)", path, ndocs);
	bm25_writer *w = cn_calloc(1, sizeof *w);
	if (!w)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	w->ndocs = ndocs;
	w->path = cn_strdup(path);
	w->norms = cn_malloc(ndocs ? ndocs : 1);
	w->prev = cn_malloc(BM25_MAX_TERM + 1);
	cn_buf_init(&w->dict);
	cn_buf_init(&w->tidx);
	cn_buf_init(&w->tmeta);
	cn_buf_init(&w->skip);
	cn_buf_init(&w->block);
	if (!w->path || !w->norms || !w->prev) {
		cn_bm25_writer_abort(w);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	for (uint32_t d = 0; d < ndocs; d++)
		w->norms[d] = cn_bm25_int_to_byte4(lens[d]);
	cairn_status st = cn_segw_open(path, CN_SEG_KIND_BM25, BM25_KIND_VERSION, &w->w, err);
	if (!st)
		st = cn_segw_begin(w->w, SEC_POSTINGS, err);
	if (st) {
		cn_bm25_writer_abort(w);
		return st;
	}
	w->in_post = true;
	*out = w;
	return CAIRN_OK;
}

static unsigned bits_for(uint32_t v) { return v ? 32u - (unsigned)__builtin_clz(v) : 0u; }

static void pack(cn_buf *b, const uint32_t *v, uint32_t n, unsigned bits)
{
	if (!bits)
		return;
	uint64_t acc = 0;
	unsigned have = 0;
	for (uint32_t i = 0; i < n; i++) {
		acc |= (uint64_t)v[i] << have;
		have += bits;
		while (have >= 8) {
			cn_buf_putc(b, (char)(acc & 0xFF));
			acc >>= 8;
			have -= 8;
		}
	}
	if (have)
		cn_buf_putc(b, (char)(acc & 0xFF));
}

cairn_status cn_bm25_writer_term(bm25_writer *w, const char *term, uint32_t len, const uint32_t *docs,
                                 const uint32_t *tfs, uint32_t n, cn_err *err)
{
	if (n == 0)
		return CAIRN_OK;
	if (len > BM25_MAX_TERM)
		return cn_err_set(err, CAIRN_EINVAL, "%s: term of %u bytes is too long", w->path, len);
	/* dictionary: front coding in blocks of BM25_DICT_BLOCK */
	if (w->nterms % BM25_DICT_BLOCK == 0) {
		if (w->dict.len > UINT32_MAX)
			return cn_err_set(err, CAIRN_ETOOBIG, "%s: term dictionary too large", w->path);
		cn_buf_put_u32le(&w->tidx, (uint32_t)w->dict.len);
		cn_buf_put_varint(&w->dict, len);
		cn_buf_append(&w->dict, term, len);
	} else {
		uint32_t pre = 0, lim = CN_MIN(len, w->prev_len);
		while (pre < lim && w->prev[pre] == term[pre])
			pre++;
		cn_buf_put_varint(&w->dict, pre);
		cn_buf_put_varint(&w->dict, len - pre);
		cn_buf_append(&w->dict, term + pre, len - pre);
	}
	memcpy(w->prev, term, len);
	w->prev_len = len;

	/* postings blocks */
	uint32_t gaps[BM25_BLOCK], tf1[BM25_BLOCK];
	uint64_t prev = UINT64_MAX, cf = 0, start = w->post_pos;
	uint32_t tmax = 0;
	uint8_t nmin = 255;
	cn_buf_reset(&w->block);
	for (uint32_t i = 0; i < n; i += BM25_BLOCK) {
		uint32_t cnt = CN_MIN(BM25_BLOCK, n - i), gmax = 0, fmax = 0, bmaxtf = 0;
		uint8_t bmin = 255;
		for (uint32_t j = 0; j < cnt; j++) {
			uint32_t d = docs[i + j];
			if (d >= w->ndocs || (prev != UINT64_MAX && d <= prev) || tfs[i + j] == 0)
				return cn_err_set(err, CAIRN_EINTERNAL, "%s: postings out of order", w->path);
			gaps[j] = (uint32_t)(d - (prev + 1));
			tf1[j] = tfs[i + j] - 1;
			gmax |= gaps[j];
			fmax |= tf1[j];
			bmaxtf = CN_MAX(bmaxtf, tfs[i + j]);
			bmin = CN_MIN(bmin, w->norms[d]);
			cf += tfs[i + j];
			prev = d;
		}
		uint64_t off = w->block.len;
		if (off > UINT32_MAX)
			return cn_err_set(err, CAIRN_ETOOBIG, "%s: postings of one term too large", w->path);
		unsigned bd = bits_for(gmax), bt = bits_for(fmax);
		cn_buf_putc(&w->block, (char)bd);
		cn_buf_putc(&w->block, (char)bt);
		pack(&w->block, gaps, cnt, bd);
		pack(&w->block, tf1, cnt, bt);
		uint8_t e[SKIP_SIZE] = {0};
		cn_store_u32le(e, (uint32_t)prev);
		cn_store_u32le(e + 4, (uint32_t)off);
		cn_store_u32le(e + 8, bmaxtf);
		e[12] = bmin;
		cn_buf_append(&w->skip, e, sizeof e);
		tmax = CN_MAX(tmax, bmaxtf);
		nmin = CN_MIN(nmin, bmin);
	}
	if (w->block.failed || w->block.len > UINT32_MAX)
		return w->block.failed ? wr_oom(w, err)
		                       : cn_err_set(err, CAIRN_ETOOBIG, "%s: postings of one term too large", w->path);
	cairn_status st = cn_segw_append(w->w, w->block.data, w->block.len, err);
	if (st)
		return st;
	w->post_pos += w->block.len;

	uint8_t m[TERMMETA_SIZE] = {0};
	cn_store_u32le(m, n);
	cn_store_u32le(m + 4, tmax);
	cn_store_u64le(m + 8, cf);
	cn_store_u64le(m + 16, start);
	cn_store_u64le(m + 24, w->block.len);
	cn_store_u64le(m + 32, w->nskip);
	m[40] = nmin;
	cn_buf_append(&w->tmeta, m, sizeof m);
	w->nskip += cn_bm25_nblocks(n);
	w->nterms++;
	if (w->dict.failed || w->tidx.failed || w->tmeta.failed || w->skip.failed)
		return wr_oom(w, err);
	return CAIRN_OK;
}

cairn_status cn_bm25_writer_finish(bm25_writer *w, const bm25_doccols *c, uint64_t *bytes, cn_err *err)
{
	cairn_status st = CAIRN_OK;
	uint32_t n = w->ndocs;
	if (c->ndocs != n) {
		st = cn_err_set(err, CAIRN_EINTERNAL, "%s: document count mismatch", w->path);
		goto fail;
	}
	if ((st = cn_segw_end(w->w, err)))
		goto fail;
	w->in_post = false;

	uint64_t total = 0;
	for (uint32_t d = 0; d < n; d++)
		total += c->lens[d];
	uint8_t stats[STATS_SIZE] = {0};
	cn_store_u32le(stats, n);
	cn_store_u32le(stats + 4, c->nlabels);
	cn_store_u64le(stats + 8, w->nterms);
	cn_store_u64le(stats + 16, total);
	cn_store_u64le(stats + 24, c->doclab_offs[n]);
	cn_store_u64le(stats + 32, w->nskip);
	cn_store_u32le(stats + 40, BM25_BLOCK);
	cn_store_u32le(stats + 44, BM25_DICT_BLOCK);

	/* per-document columns are written little-endian explicitly (arrays are host order) */
	cn_buf tmp;
	cn_buf_init(&tmp);
	cn_segw *sw = w->w;
	if ((st = cn_segw_section(sw, SEC_STATS, stats, sizeof stats, err)) ||
	    (st = cn_segw_section(sw, SEC_TERMDICT, w->dict.data, w->dict.len, err)) ||
	    (st = cn_segw_section(sw, SEC_TERMIDX, w->tidx.data, w->tidx.len, err)) ||
	    (st = cn_segw_section(sw, SEC_TERMMETA, w->tmeta.data, w->tmeta.len, err)) ||
	    (st = cn_segw_section(sw, SEC_SKIP, w->skip.data, w->skip.len, err)) ||
	    (st = cn_segw_section(sw, SEC_NORMS, w->norms, n, err)))
		goto fail_tmp;
	/* u32 columns */
	struct {
		uint32_t id;
		const uint32_t *v;
		uint64_t count;
	} u32s[] = {
		{SEC_DOCLEN, c->lens, n},
		{SEC_KEYOFFS, c->key_offs, (uint64_t)n + 1},
		{SEC_LABELOFFS, c->label_offs, (uint64_t)c->nlabels + 1},
		{SEC_DOCLABOFFS, c->doclab_offs, (uint64_t)n + 1},
		{SEC_DOCLABIDS, c->doclab_ids, c->doclab_offs[n]},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(u32s); i++) {
		cn_buf_reset(&tmp);
		for (uint64_t j = 0; j < u32s[i].count; j++)
			cn_buf_put_u32le(&tmp, u32s[i].v[j]);
		if (tmp.failed) {
			st = wr_oom(w, err);
			goto fail_tmp;
		}
		if ((st = cn_segw_section(sw, u32s[i].id, tmp.data, tmp.len, err)))
			goto fail_tmp;
	}
	cn_buf_reset(&tmp);
	for (uint32_t d = 0; d < n; d++)
		cn_buf_put_u64le(&tmp, c->chunk_ids[d]);
	if (tmp.failed) {
		st = wr_oom(w, err);
		goto fail_tmp;
	}
	if ((st = cn_segw_section(sw, SEC_CHUNKIDS, tmp.data, tmp.len, err)))
		goto fail_tmp;
	cn_buf_reset(&tmp);
	for (uint32_t d = 0; d < n; d++)
		cn_buf_put_u64le(&tmp, (uint64_t)c->mtimes[d]);
	if (tmp.failed) {
		st = wr_oom(w, err);
		goto fail_tmp;
	}
	if ((st = cn_segw_section(sw, SEC_MTIMES, tmp.data, tmp.len, err)) ||
	    (st = cn_segw_section(sw, SEC_KEYS, c->keys, c->key_offs[n], err)) ||
	    (st = cn_segw_section(sw, SEC_LABELS, c->labels, c->label_offs[c->nlabels], err)))
		goto fail_tmp;
	cn_buf_free(&tmp);
	w->w = NULL;
	st = cn_segw_finish(sw, bytes, err);
	cn_bm25_writer_abort(w);
	return st;
fail_tmp:
	cn_buf_free(&tmp);
fail:
	cn_bm25_writer_abort(w);
	return st;
}

/* ---- builder ---- */

struct cn_bm25_builder {
	cn_strmap terms;
	uint32_t *stamp, *tfacc, *df; /* by term id */
	size_t tcap;
	uint32_t *cur; /* distinct term ids of the document being added */
	size_t ccap;
	uint32_t *pairs; /* (term id, tf) pairs, document after document */
	size_t npairs, pcap;
	uint64_t *pair_end; /* per doc: end of its pairs (in pairs) */
	uint32_t *lens;
	uint64_t *chunk_ids;
	int64_t *mtimes;
	uint32_t *key_offs; /* ndocs + 1 */
	size_t dcap, kcap;
	cn_buf keys;
	cn_strmap labels;
	uint32_t *dl_offs; /* ndocs + 1, into dl_ids */
	uint32_t *dl_ids;  /* builder label ids (insertion order), unsorted */
	size_t dlcap, ndl, docap;
	uint32_t ndocs;
};

cairn_status cn_bm25_builder_new(cn_bm25_builder **out)
{
	*out = NULL;
	cn_bm25_builder *b = cn_calloc(1, sizeof *b);
	if (!b)
		return CAIRN_ENOMEM;
	cn_strmap_init(&b->terms);
	cn_strmap_init(&b->labels);
	cn_buf_init(&b->keys);
	if (CN_GROW(b->key_offs, b->kcap, 1) || CN_GROW(b->dl_offs, b->docap, 1)) {
		cn_bm25_builder_free(b);
		return CAIRN_ENOMEM;
	}
	b->key_offs[0] = 0;
	b->dl_offs[0] = 0;
	*out = b;
	return CAIRN_OK;
}

void cn_bm25_builder_free(cn_bm25_builder *b)
{
	if (!b)
		return;
	cn_strmap_free(&b->terms);
	cn_strmap_free(&b->labels);
	cn_buf_free(&b->keys);
	cn_free(b->stamp);
	cn_free(b->tfacc);
	cn_free(b->df);
	cn_free(b->cur);
	cn_free(b->pairs);
	cn_free(b->pair_end);
	cn_free(b->lens);
	cn_free(b->chunk_ids);
	cn_free(b->mtimes);
	cn_free(b->key_offs);
	cn_free(b->dl_offs);
	cn_free(b->dl_ids);
	cn_free(b);
}

uint32_t cn_bm25_builder_ndocs(const cn_bm25_builder *b) { return b->ndocs; }

static size_t strmap_memory(const cn_strmap *m)
{
	return m->nslots * sizeof(*m->slots) + m->kcap * sizeof(uint64_t) + m->kcap * (sizeof(char *) + sizeof(uint32_t)) +
	       m->arena.total;
}

size_t cn_bm25_builder_memory(const cn_bm25_builder *b)
{
	return sizeof *b + strmap_memory(&b->terms) + strmap_memory(&b->labels) + b->tcap * 12 + b->ccap * 4 +
	       b->pcap * 4 + b->dcap * (8 + 4 + 8 + 8) + b->kcap * 4 + b->keys.cap + b->docap * 4 + b->dlcap * 4;
}

/* Grows the per-term arrays to hold term id `need - 1`; new stamps are 0 (= no document). */
static cairn_status grow_terms(cn_bm25_builder *b, size_t need)
{
	if (need <= b->tcap)
		return CAIRN_OK;
	size_t cap = b->tcap ? b->tcap : 1024;
	while (cap < need)
		cap *= 2;
	uint32_t *a = cn_realloc(b->stamp, cap * 4);
	if (!a)
		return CAIRN_ENOMEM;
	b->stamp = a;
	if (!(a = cn_realloc(b->tfacc, cap * 4)))
		return CAIRN_ENOMEM;
	b->tfacc = a;
	if (!(a = cn_realloc(b->df, cap * 4)))
		return CAIRN_ENOMEM;
	b->df = a;
	memset(b->stamp + b->tcap, 0, (cap - b->tcap) * 4);
	memset(b->df + b->tcap, 0, (cap - b->tcap) * 4);
	b->tcap = cap;
	return CAIRN_OK;
}

cairn_status cn_bm25_builder_add(cn_bm25_builder *b, const cn_bm25_doc *doc, const cn_tokens *t)
{
	if (b->ndocs >= INT32_MAX)
		return CAIRN_ETOOBIG;
	uint32_t d = b->ndocs, stamp = d + 1;
	size_t ncur = 0, ntok = t ? t->n : 0;
	/* document columns first so a failure below leaves nothing half-added */
	if ((size_t)d + 1 > b->dcap) {
		size_t cap = b->dcap ? b->dcap * 2 : 256;
		uint32_t *ln = cn_realloc(b->lens, cap * sizeof *ln);
		if (!ln)
			return CAIRN_ENOMEM;
		b->lens = ln;
		uint64_t *ci = cn_realloc(b->chunk_ids, cap * sizeof *ci);
		if (!ci)
			return CAIRN_ENOMEM;
		b->chunk_ids = ci;
		int64_t *mt = cn_realloc(b->mtimes, cap * sizeof *mt);
		if (!mt)
			return CAIRN_ENOMEM;
		b->mtimes = mt;
		uint64_t *pe = cn_realloc(b->pair_end, cap * sizeof *pe);
		if (!pe)
			return CAIRN_ENOMEM;
		b->pair_end = pe;
		b->dcap = cap;
	}
	if (CN_GROW(b->key_offs, b->kcap, (size_t)d + 2) || CN_GROW(b->dl_offs, b->docap, (size_t)d + 2))
		return CAIRN_ENOMEM;

	for (size_t i = 0; i < ntok; i++) {
		uint32_t len = t->v[i].term_len;
		if (len > BM25_MAX_TERM)
			continue;
		uint32_t id;
		if (cn_strmap_put(&b->terms, cn_token_term(t, i), len, &id, NULL))
			goto oom;
		if (id >= b->tcap && grow_terms(b, (size_t)id + 1))
			goto oom;
		if (b->stamp[id] != stamp) {
			b->stamp[id] = stamp;
			b->tfacc[id] = 1;
			if (CN_GROW(b->cur, b->ccap, ncur + 1))
				goto oom;
			b->cur[ncur++] = id;
		} else if (b->tfacc[id] < UINT32_MAX) {
			b->tfacc[id]++;
		}
	}
	if (CN_GROW(b->pairs, b->pcap, b->npairs + 2 * ncur))
		goto oom;
	const char *key = doc && doc->doc_key ? doc->doc_key : "";
	size_t klen = strlen(key);
	if (b->keys.len + klen > UINT32_MAX)
		goto toobig;
	size_t nl = doc ? doc->n_labels : 0;
	if (b->ndl + nl > UINT32_MAX)
		goto toobig;
	if (nl && CN_GROW(b->dl_ids, b->dlcap, b->ndl + nl))
		goto oom;
	size_t ndl = b->ndl;
	for (size_t i = 0; i < nl; i++) {
		const char *l = doc->labels[i] ? doc->labels[i] : "";
		uint32_t id;
		if (cn_strmap_put(&b->labels, l, strlen(l), &id, NULL))
			goto oom;
		b->dl_ids[ndl++] = id;
	}
	cn_buf_append(&b->keys, key, klen);
	if (b->keys.failed) {
		b->keys.failed = false;
		goto oom;
	}
	/* commit */
	for (size_t i = 0; i < ncur; i++) {
		uint32_t id = b->cur[i];
		b->pairs[b->npairs++] = id;
		b->pairs[b->npairs++] = b->tfacc[id];
		b->df[id]++;
	}
	b->ndl = ndl;
	b->lens[d] = ntok > UINT32_MAX ? UINT32_MAX : (uint32_t)ntok;
	b->chunk_ids[d] = doc ? doc->chunk_id : 0;
	b->mtimes[d] = doc ? doc->mtime : 0;
	b->pair_end[d] = b->npairs;
	b->key_offs[d + 1] = (uint32_t)b->keys.len;
	b->dl_offs[d + 1] = (uint32_t)b->ndl;
	b->ndocs++;
	return CAIRN_OK;
oom:
	/* forget this document's tf counts: the next document uses a fresh stamp anyway, but a
	 * retry of the same document must not see stale stamps */
	for (size_t i = 0; i < ncur; i++)
		b->stamp[b->cur[i]] = 0;
	b->keys.len = b->key_offs[d];
	return CAIRN_ENOMEM;
toobig:
	for (size_t i = 0; i < ncur; i++)
		b->stamp[b->cur[i]] = 0;
	return CAIRN_ETOOBIG;
}

static int cmp_key_ids(const void *a, const void *b, void *ctx)
{
	const cn_strmap *m = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t lx = cn_strmap_klen(m, x), ly = cn_strmap_klen(m, y);
	int c = memcmp(cn_strmap_key(m, x), cn_strmap_key(m, y), CN_MIN(lx, ly));
	if (c)
		return c;
	return lx < ly ? -1 : lx > ly;
}

int cn_bm25_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t *cn_bm25_sorted_ids(const cn_strmap *m)
{
	size_t n = cn_strmap_count(m);
	uint32_t *ids = cn_malloc((n ? n : 1) * sizeof *ids);
	if (!ids)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ids[i] = (uint32_t)i;
	qsort_r(ids, n, sizeof *ids, cmp_key_ids, (void *)m);
	return ids;
}

cairn_status cn_bm25_builder_write(cn_bm25_builder *b, const char *path, uint64_t *bytes, cn_err *err)
{
	size_t nt = cn_strmap_count(&b->terms), nl = cn_strmap_count(&b->labels), np = b->npairs / 2;
	uint32_t *order = NULL, *start = NULL, *docs = NULL, *tfs = NULL, *lorder = NULL, *lrank = NULL;
	uint32_t *loffs = NULL, *dlids = NULL;
	cn_buf lblob;
	cn_buf_init(&lblob);
	bm25_writer *w = NULL;
	cairn_status st = CAIRN_OK;

	order = cn_bm25_sorted_ids(&b->terms);
	start = cn_malloc((nt + 1) * sizeof *start);
	docs = cn_malloc((np ? np : 1) * sizeof *docs);
	tfs = cn_malloc((np ? np : 1) * sizeof *tfs);
	lorder = cn_bm25_sorted_ids(&b->labels);
	lrank = cn_malloc((nl ? nl : 1) * sizeof *lrank);
	loffs = cn_malloc((nl + 1) * sizeof *loffs);
	dlids = cn_malloc((b->ndl ? b->ndl : 1) * sizeof *dlids);
	if (!order || !start || !docs || !tfs || !lorder || !lrank || !loffs || !dlids) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* counting sort of the (doc, tf) pairs into per-term slices, in doc order */
	uint32_t acc = 0;
	for (size_t i = 0; i < nt; i++) {
		start[i] = acc;
		acc += b->df[i];
	}
	start[nt] = acc;
	{
		uint64_t p = 0;
		for (uint32_t d = 0; d < b->ndocs; d++) {
			for (; p < b->pair_end[d]; p += 2) {
				uint32_t id = b->pairs[p], pos = start[id]++;
				docs[pos] = d;
				tfs[pos] = b->pairs[p + 1];
			}
		}
		/* start[i] now holds the end of slice i; recover the starts */
		for (size_t i = nt; i > 0; i--)
			start[i] = start[i - 1];
		start[0] = 0;
	}
	uint32_t *lens = b->lens;
	uint32_t zero = 0;
	if ((st = cn_bm25_writer_open(path, b->ndocs ? lens : &zero, b->ndocs, &w, err)))
		goto out;
	for (size_t i = 0; i < nt; i++) {
		uint32_t id = order[i];
		if ((st = cn_bm25_writer_term(w, cn_strmap_key(&b->terms, id), cn_strmap_klen(&b->terms, id),
		                              docs + start[id], tfs + start[id], start[id + 1] - start[id], err)))
			goto out;
	}
	/* labels: sorted dictionary, per-document ids remapped, sorted and deduplicated */
	loffs[0] = 0;
	for (size_t i = 0; i < nl; i++) {
		lrank[lorder[i]] = (uint32_t)i;
		cn_buf_append(&lblob, cn_strmap_key(&b->labels, lorder[i]), cn_strmap_klen(&b->labels, lorder[i]));
		if (lblob.len > UINT32_MAX) {
			st = cn_err_set(err, CAIRN_ETOOBIG, "%s: label dictionary too large", path);
			goto out;
		}
		loffs[i + 1] = (uint32_t)lblob.len;
	}
	if (lblob.failed) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* rewrite b's doc-label offsets into a deduplicated copy */
	uint32_t *dloffs = cn_malloc(((size_t)b->ndocs + 1) * sizeof *dloffs);
	if (!dloffs) {
		st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	uint32_t nout = 0;
	dloffs[0] = 0;
	for (uint32_t d = 0; d < b->ndocs; d++) {
		uint32_t a = b->dl_offs[d], e = b->dl_offs[d + 1], s0 = nout;
		for (uint32_t j = a; j < e; j++)
			dlids[nout++] = lrank[b->dl_ids[j]];
		if (nout - s0 > 1)
			qsort(dlids + s0, nout - s0, sizeof *dlids, cn_bm25_cmp_u32);
		uint32_t k = s0;
		for (uint32_t j = s0; j < nout; j++)
			if (j == s0 || dlids[j] != dlids[k - 1])
				dlids[k++] = dlids[j];
		nout = k;
		dloffs[d + 1] = nout;
	}
	bm25_doccols cols = {
		.ndocs = b->ndocs,
		.lens = b->ndocs ? b->lens : &zero,
		.chunk_ids = b->chunk_ids,
		.mtimes = b->mtimes,
		.key_offs = b->key_offs,
		.keys = b->keys.data ? b->keys.data : "",
		.nlabels = (uint32_t)nl,
		.label_offs = loffs,
		.labels = lblob.data ? lblob.data : "",
		.doclab_offs = dloffs,
		.doclab_ids = dlids,
	};
	st = cn_bm25_writer_finish(w, &cols, bytes, err);
	w = NULL;
	cn_free(dloffs);
out:
	cn_bm25_writer_abort(w);
	cn_free(order);
	cn_free(start);
	cn_free(docs);
	cn_free(tfs);
	cn_free(lorder);
	cn_free(lrank);
	cn_free(loffs);
	cn_free(dlids);
	cn_buf_free(&lblob);
	return st;
}
