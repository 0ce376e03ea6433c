/*
 * bpe.c — byte-level BPE (GPT-2, Llama 3, Qwen, DeepSeek, Falcon, StarCoder, …).
 *
 * Design:
 *  - Everything runs on raw bytes and token ids. GGUF and vocab.json store tokens in GPT-2's
 *    byte-to-unicode alphabet ("Ġthe"); init decodes each token to its bytes once, so the
 *    encoder never maps characters and piece() is a copy.
 *  - Merges become one open-addressed hash table keyed by the pair of token ids, giving the
 *    rank and the merged id. From a merge list the rank is the line number (the first line
 *    naming a pair wins); for tiktoken files (no merge list, raw_bytes) any two tokens whose
 *    concatenation is a token merge, ranked by that token's id, which is tiktoken's rule:
 *    init enumerates every split of every token into two tokens, so the table holds every
 *    pair the encoder can ever meet.
 *  - A piece from the pre-tokenizer (pretok.c) starts as one symbol per byte; the adjacent
 *    pair of lowest rank merges first, the leftmost on ties — the order of llama.cpp's
 *    priority queue, Hugging Face's heap and tiktoken's scan alike. Pieces are short (a word
 *    and its space), so up to SMALL bytes a flat array rescanned after each merge beats a
 *    heap; longer pieces (a run of digits or letters with no space, base64) use a binary heap
 *    over a linked list, so the cost stays O(n log n) on any input.
 *  - llama.cpp's ignore_merges (Llama 3, and tiktoken's own first step): a piece that is
 *    itself a token is emitted whole.
 *  - Scratch lives in the call, never in the vocabulary, so encoding is thread-safe.
 */
#include "vocab/vocab_int.h"

#include <string.h>

#include "text/text.h"
#include "vocab/pretok_int.h"

#define SMALL 48

typedef struct pair_slot {
	uint64_t key;  /* (left << 32) | right */
	uint32_t rank; /* UINT32_MAX = empty slot */
	int32_t id;    /* merged token */
} pair_slot;

typedef struct bpe_algo {
	const cn_pretok *pre;
	bool ignore_merges;
	int32_t byte_tok[256];
	pair_slot *pairs;
	size_t pair_mask;
	/* raw bytes of each token */
	uint32_t *raw_off;
	uint32_t *raw_len;
	char *raw;
	/* raw bytes → token, when the stored texts are not raw (ignore_merges lookups) */
	cn_strmap raw_map;
	int32_t *raw_map_tok;
	bool has_raw_map;
} bpe_algo;

/* ---- GPT-2's byte ↔ unicode alphabet ----------------------------------------------------- */

static bool byte_is_self(unsigned b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The code point GPT-2 writes byte b as. */
static uint32_t byte_to_cp(unsigned b)
{
	if (byte_is_self(b))
		return b;
	unsigned n = 0;
	for (unsigned c = 0; c < b; c++)
		if (!byte_is_self(c))
			n++;
	return 256 + n;
}

/* The byte code point cp stands for, or -1 when cp is outside the alphabet. */
static int cp_to_byte(uint32_t cp, const uint8_t *inv)
{
	if (cp < 256)
		return byte_is_self(cp) ? (int)cp : -1;
	if (cp < 256 + 68)
		return inv[cp - 256];
	return -1;
}

/* ---- pair table ---------------------------------------------------------------------------- */

static inline uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r; }

static inline size_t pair_hash(uint64_t k)
{
	k ^= k >> 31;
	k *= 0x9E3779B97F4A7C15ull;
	return (size_t)(k ^ (k >> 29));
}

static inline const pair_slot *pair_find(const bpe_algo *a, int32_t l, int32_t r)
{
	if (!a->pairs)
		return NULL;
	uint64_t k = pair_key(l, r);
	for (size_t i = pair_hash(k) & a->pair_mask;; i = (i + 1) & a->pair_mask) {
		const pair_slot *s = &a->pairs[i];
		if (s->rank == UINT32_MAX)
			return NULL;
		if (s->key == k)
			return s;
	}
}

/* Keeps the lowest rank for a pair. */
static void pair_put(bpe_algo *a, int32_t l, int32_t r, uint32_t rank, int32_t id)
{
	uint64_t k = pair_key(l, r);
	for (size_t i = pair_hash(k) & a->pair_mask;; i = (i + 1) & a->pair_mask) {
		pair_slot *s = &a->pairs[i];
		if (s->rank == UINT32_MAX) {
			*s = (pair_slot){k, rank, id};
			return;
		}
		if (s->key == k) {
			if (rank < s->rank)
				*s = (pair_slot){k, rank, id};
			return;
		}
	}
}

static cairn_status pairs_alloc(bpe_algo *a, size_t n)
{
	size_t cap = 64;
	while (cap < n * 2)
		cap *= 2;
	a->pairs = cn_malloc(cap * sizeof(*a->pairs));
	if (!a->pairs)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		a->pairs[i].rank = UINT32_MAX;
	a->pair_mask = cap - 1;
	return CAIRN_OK;
}

/* ---- init ------------------------------------------------------------------------------------ */

static void bpe_free(cn_vocab *v)
{
	bpe_algo *a = v->algo;
	if (!a)
		return;
	cn_free(a->pairs);
	cn_free(a->raw_off);
	cn_free(a->raw_len);
	cn_free(a->raw);
	if (a->has_raw_map)
		cn_strmap_free(&a->raw_map);
	cn_free(a->raw_map_tok);
	cn_free(a);
	v->algo = NULL;
}

static inline const char *raw_of(const bpe_algo *a, int32_t id, size_t *len)
{
	*len = a->raw_len[id];
	return a->raw + a->raw_off[id];
}

/* Token id of raw bytes, or -1. */
static int32_t raw_lookup(const cn_vocab *v, const bpe_algo *a, const char *s, size_t n)
{
	if (!a->has_raw_map)
		return cn_vocab_lookup(v, s, n);
	uint32_t m = cn_strmap_get(&a->raw_map, s, n);
	return m == UINT32_MAX ? -1 : a->raw_map_tok[m];
}

static bool mergeable(const cn_vocab *v, int32_t id)
{
	return id >= 0 && !(v->tokens[id].attr & (CN_TOKEN_CONTROL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNKNOWN));
}

static cairn_status decode_tokens(cn_vocab *v, bpe_algo *a, bool raw_bytes, cn_err *err)
{
	uint8_t inv[68];
	for (unsigned b = 0; b < 256; b++)
		if (!byte_is_self(b))
			inv[byte_to_cp(b) - 256] = (uint8_t)b;
	a->raw_off = cn_malloc(sizeof(uint32_t) * v->n_tokens);
	a->raw_len = cn_malloc(sizeof(uint32_t) * v->n_tokens);
	if (!a->raw_off || !a->raw_len)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_buf b;
	cn_buf_init(&b);
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		const cn_vocab_token *t = &v->tokens[i];
		size_t start = b.len;
		if (raw_bytes || (t->attr & (CN_TOKEN_CONTROL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNKNOWN))) {
			cn_buf_append(&b, t->text, t->len);
		} else {
			/* Characters outside the alphabet (some converters leave them) stay as text,
			 * as llama.cpp's llama_decode_text keeps what it cannot map. */
			for (size_t k = 0; k < t->len;) {
				int32_t cp;
				size_t l = cn_utf8_decode(t->text + k, t->len - k, &cp);
				int byte = cp >= 0 ? cp_to_byte((uint32_t)cp, inv) : -1;
				if (byte >= 0)
					cn_buf_putc(&b, (char)byte);
				else
					cn_buf_append(&b, t->text + k, l);
				k += l;
			}
		}
		if (b.len > UINT32_MAX) {
			cn_buf_free(&b);
			return cn_err_set(err, CAIRN_ETOOBIG, "token texts exceed 4 GiB");
		}
		a->raw_off[i] = (uint32_t)start;
		a->raw_len[i] = (uint32_t)(b.len - start);
	}
	if (b.failed) {
		cn_buf_free(&b);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	a->raw = b.data ? cn_buf_take(&b) : cn_strdup("");
	if (!a->raw)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (!raw_bytes) {
		cn_strmap_init(&a->raw_map);
		a->has_raw_map = true;
		a->raw_map_tok = cn_malloc(sizeof(int32_t) * v->n_tokens);
		if (!a->raw_map_tok)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		for (uint32_t i = 0; i < v->n_tokens; i++) {
			uint32_t m;
			bool added;
			if (cn_strmap_put(&a->raw_map, a->raw + a->raw_off[i], a->raw_len[i], &m, &added) != CAIRN_OK)
				return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			if (added)
				a->raw_map_tok[m] = (int32_t)i;
		}
	}
	return CAIRN_OK;
}

static cairn_status merges_from_list(cn_vocab *v, bpe_algo *a, const cn_vocab_spec *spec, cn_err *err)
{
	if (pairs_alloc(a, spec->n_merges) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_buf cat;
	cn_buf_init(&cat);
	for (uint32_t i = 0; i < spec->n_merges; i++) {
		const cn_gguf_str *m = &spec->merges[i];
		/* "left right": the separator is the first space after the first byte (llama.cpp) */
		const char *sp = m->len > 1 ? memchr(m->ptr + 1, ' ', (size_t)m->len - 1) : NULL;
		if (!sp)
			continue;
		size_t ll = (size_t)(sp - m->ptr), rl = (size_t)m->len - ll - 1;
		int32_t l = cn_vocab_lookup(v, m->ptr, ll), r = cn_vocab_lookup(v, sp + 1, rl);
		if (l < 0 || r < 0)
			continue; /* Hugging Face refuses such files; llama.cpp never meets the pair */
		cn_buf_reset(&cat);
		cn_buf_append(&cat, m->ptr, ll);
		cn_buf_append(&cat, sp + 1, rl);
		if (cat.failed) {
			cn_buf_free(&cat);
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
		int32_t id = cn_vocab_lookup(v, cat.data, cat.len);
		if (id < 0)
			continue;
		pair_put(a, l, r, i, id);
	}
	cn_buf_free(&cat);
	return CAIRN_OK;
}

static cairn_status merges_from_ranks(cn_vocab *v, bpe_algo *a, cn_err *err)
{
	size_t n = 0;
	for (uint32_t i = 0; i < v->n_tokens; i++)
		if (mergeable(v, (int32_t)i) && a->raw_len[i] >= 2)
			n += a->raw_len[i] - 1;
	if (pairs_alloc(a, n) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		if (!mergeable(v, (int32_t)i) || a->raw_len[i] < 2)
			continue;
		size_t len;
		const char *s = raw_of(a, (int32_t)i, &len);
		for (size_t k = 1; k < len; k++) {
			int32_t l = raw_lookup(v, a, s, k);
			if (!mergeable(v, l))
				continue;
			int32_t r = raw_lookup(v, a, s + k, len - k);
			if (mergeable(v, r))
				pair_put(a, l, r, i, (int32_t)i);
		}
	}
	return CAIRN_OK;
}

static cairn_status bpe_init(cn_vocab *v, const cn_vocab_spec *spec, cn_err *err)
{
	bpe_algo *a = cn_calloc(1, sizeof(*a));
	if (!a)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	v->algo = a;
	const char *pre = spec->pre && *spec->pre ? spec->pre : "default";
	a->pre = cn_pretok_find(pre, &a->ignore_merges);
	if (!a->pre) {
		cn_err_set(err, CAIRN_EUNSUPPORTED, "pre-tokenizer \"%.40s\" is not supported", pre);
		bpe_free(v);
		return CAIRN_EUNSUPPORTED;
	}
	snprintf(v->pre, sizeof(v->pre), "%s", pre);
	bool tiktoken = !spec->merges && spec->raw_bytes;
	if (tiktoken)
		a->ignore_merges = true; /* tiktoken looks the whole piece up first */
	if (!spec->merges && !spec->raw_bytes) {
		cn_err_set(err, CAIRN_EFORMAT, "byte-level BPE without merges (tokenizer.ggml.merges is missing)");
		bpe_free(v);
		return CAIRN_EFORMAT;
	}
	cairn_status rc = decode_tokens(v, a, spec->raw_bytes, err);
	if (rc == CAIRN_OK)
		rc = tiktoken ? merges_from_ranks(v, a, err) : merges_from_list(v, a, spec, err);
	if (rc != CAIRN_OK) {
		bpe_free(v);
		return rc;
	}
	for (unsigned b = 0; b < 256; b++) {
		char c = (char)b;
		int32_t id = raw_lookup(v, a, &c, 1);
		a->byte_tok[b] = mergeable(v, id) ? id : -1;
	}
	return CAIRN_OK;
}

/* ---- encoding -------------------------------------------------------------------------------- */

typedef struct heap_ent {
	uint32_t rank;
	uint32_t left; /* symbol index */
	int32_t lid, rid;
} heap_ent;

/* Per-call cache of short pieces: natural text repeats its words, and a direct-mapped slot
 * lookup is far cheaper than re-merging. Lives in the call, so the vocabulary stays
 * read-only. */
#define CACHE_SLOTS 4096
#define CACHE_KEY 22
#define CACHE_IDS 8
typedef struct cache_ent {
	uint8_t len; /* 0 = empty */
	uint8_t n_ids;
	char key[CACHE_KEY];
	int32_t ids[CACHE_IDS];
} cache_ent;

typedef struct enc_ctx {
	cache_ent *cache; /* NULL for short texts */
	const cn_vocab *v;
	const bpe_algo *a;
	cn_tokvec *out;
	cn_err *err;
	/* scratch, grown as needed */
	int32_t *ids;
	uint32_t *ranks;
	int32_t *merged;
	uint32_t *next, *prev;
	heap_ent *heap;
	size_t cap, heap_cap, heap_n;
} enc_ctx;

static cairn_status grow_scratch(enc_ctx *c, size_t n)
{
	if (n <= c->cap)
		return CAIRN_OK;
	size_t cap = c->cap ? c->cap : 64;
	while (cap < n)
		cap *= 2;
	int32_t *ids = cn_realloc(c->ids, cap * sizeof(*ids));
	if (ids)
		c->ids = ids;
	uint32_t *ranks = cn_realloc(c->ranks, cap * sizeof(*ranks));
	if (ranks)
		c->ranks = ranks;
	int32_t *merged = cn_realloc(c->merged, cap * sizeof(*merged));
	if (merged)
		c->merged = merged;
	uint32_t *nx = cn_realloc(c->next, cap * sizeof(*nx));
	if (nx)
		c->next = nx;
	uint32_t *pv = cn_realloc(c->prev, cap * sizeof(*pv));
	if (pv)
		c->prev = pv;
	if (!ids || !ranks || !merged || !nx || !pv)
		return CAIRN_ENOMEM;
	c->cap = cap;
	return CAIRN_OK;
}

static inline void pair_at(const bpe_algo *a, int32_t l, int32_t r, uint32_t *rank, int32_t *merged)
{
	const pair_slot *s = (l >= 0 && r >= 0) ? pair_find(a, l, r) : NULL;
	*rank = s ? s->rank : UINT32_MAX;
	*merged = s ? s->id : -1;
}

static cairn_status emit_ids(enc_ctx *c, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && cn_tokvec_push(c->out, ids[i]) != CAIRN_OK)
			return CAIRN_ENOMEM;
	return CAIRN_OK;
}

/* Flat arrays: find the lowest rank, merge, close the gap, refresh the two neighbours. */
static cairn_status merge_small(enc_ctx *c, const uint8_t *s, size_t n)
{
	const bpe_algo *a = c->a;
	int32_t *ids = c->ids;
	uint32_t *ranks = c->ranks;
	int32_t *merged = c->merged;
	for (size_t i = 0; i < n; i++)
		ids[i] = a->byte_tok[s[i]];
	for (size_t i = 0; i + 1 < n; i++)
		pair_at(a, ids[i], ids[i + 1], &ranks[i], &merged[i]);
	size_t m = n;
	while (m > 1) {
		size_t best = 0;
		uint32_t br = ranks[0];
		for (size_t i = 1; i + 1 < m; i++)
			if (ranks[i] < br)
				br = ranks[i], best = i;
		if (br == UINT32_MAX)
			break;
		ids[best] = merged[best];
		size_t tail = m - best - 2; /* elements after best + 1 */
		memmove(ids + best + 1, ids + best + 2, tail * sizeof(*ids));
		if (tail) {
			memmove(ranks + best + 1, ranks + best + 2, (tail - 1) * sizeof(*ranks));
			memmove(merged + best + 1, merged + best + 2, (tail - 1) * sizeof(*merged));
		}
		m--;
		if (best > 0)
			pair_at(a, ids[best - 1], ids[best], &ranks[best - 1], &merged[best - 1]);
		if (best + 1 < m)
			pair_at(a, ids[best], ids[best + 1], &ranks[best], &merged[best]);
	}
	return emit_ids(c, ids, m);
}

static inline bool heap_less(const heap_ent *x, const heap_ent *y)
{
	return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static cairn_status heap_push(enc_ctx *c, heap_ent e)
{
	if (c->heap_n == c->heap_cap && CN_GROW(c->heap, c->heap_cap, c->heap_n + 1) != CAIRN_OK)
		return CAIRN_ENOMEM;
	size_t i = c->heap_n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&e, &c->heap[p]))
			break;
		c->heap[i] = c->heap[p];
		i = p;
	}
	c->heap[i] = e;
	return CAIRN_OK;
}

static heap_ent heap_pop(enc_ctx *c)
{
	heap_ent top = c->heap[0];
	heap_ent last = c->heap[--c->heap_n];
	size_t i = 0, n = c->heap_n;
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= n)
			break;
		size_t m = (l + 1 < n && heap_less(&c->heap[l + 1], &c->heap[l])) ? l + 1 : l;
		if (!heap_less(&c->heap[m], &last))
			break;
		c->heap[i] = c->heap[m];
		i = m;
	}
	if (n)
		c->heap[i] = last;
	return top;
}

#define NIL UINT32_MAX

static cairn_status heap_try(enc_ctx *c, uint32_t l)
{
	uint32_t r = c->next[l];
	if (l == NIL || r == NIL)
		return CAIRN_OK;
	uint32_t rank;
	int32_t merged;
	pair_at(c->a, c->ids[l], c->ids[r], &rank, &merged);
	if (rank == UINT32_MAX)
		return CAIRN_OK;
	return heap_push(c, (heap_ent){rank, l, c->ids[l], c->ids[r]});
}

/* Linked symbols and a heap of candidate pairs; stale entries are skipped when popped. */
static cairn_status merge_large(enc_ctx *c, const uint8_t *s, size_t n)
{
	const bpe_algo *a = c->a;
	for (size_t i = 0; i < n; i++) {
		c->ids[i] = a->byte_tok[s[i]];
		c->prev[i] = i ? (uint32_t)i - 1 : NIL;
		c->next[i] = i + 1 < n ? (uint32_t)i + 1 : NIL;
	}
	c->heap_n = 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (heap_try(c, (uint32_t)i) != CAIRN_OK)
			return CAIRN_ENOMEM;
	while (c->heap_n) {
		heap_ent e = heap_pop(c);
		uint32_t l = e.left, r = c->next[l];
		/* live: l not merged away (ids[l] >= 0 marks alive), same neighbours, same ids */
		if (c->ids[l] != e.lid || r == NIL || c->ids[r] != e.rid || c->prev[r] != l)
			continue;
		uint32_t rank;
		int32_t merged;
		pair_at(a, e.lid, e.rid, &rank, &merged);
		c->ids[l] = merged;
		c->ids[r] = INT32_MIN; /* dead */
		c->next[l] = c->next[r];
		if (c->next[r] != NIL)
			c->prev[c->next[r]] = l;
		c->prev[r] = NIL;
		if (c->prev[l] != NIL && heap_try(c, c->prev[l]) != CAIRN_OK)
			return CAIRN_ENOMEM;
		if (heap_try(c, l) != CAIRN_OK)
			return CAIRN_ENOMEM;
	}
	for (uint32_t i = 0; i != NIL; i = c->next[i])
		if (c->ids[i] >= 0 && cn_tokvec_push(c->out, c->ids[i]) != CAIRN_OK)
			return CAIRN_ENOMEM;
	return CAIRN_OK;
}

static inline size_t cache_slot(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29)) & (CACHE_SLOTS - 1);
}

static cairn_status encode_uncached(enc_ctx *c, const char *piece, size_t len);

static cairn_status encode_piece(void *ctx, const char *piece, size_t len)
{
	enc_ctx *c = ctx;
	const bpe_algo *a = c->a;
	const uint8_t *s = (const uint8_t *)piece;
	if (len == 1) {
		int32_t id = a->byte_tok[s[0]];
		return id >= 0 ? cn_tokvec_push(c->out, id) : CAIRN_OK;
	}
	if (!c->cache || len > CACHE_KEY)
		return encode_uncached(c, piece, len);
	cache_ent *e = &c->cache[cache_slot(piece, len)];
	if (e->len == len && !memcmp(e->key, piece, len)) {
		for (unsigned i = 0; i < e->n_ids; i++)
			if (cn_tokvec_push(c->out, e->ids[i]) != CAIRN_OK)
				return CAIRN_ENOMEM;
		return CAIRN_OK;
	}
	size_t before = c->out->n;
	cairn_status rc = encode_uncached(c, piece, len);
	size_t n = c->out->n - before;
	if (rc == CAIRN_OK && n <= CACHE_IDS) {
		e->len = (uint8_t)len;
		e->n_ids = (uint8_t)n;
		memcpy(e->key, piece, len);
		memcpy(e->ids, c->out->ids + before, n * sizeof(int32_t));
	}
	return rc;
}

static cairn_status encode_uncached(enc_ctx *c, const char *piece, size_t len)
{
	const bpe_algo *a = c->a;
	const uint8_t *s = (const uint8_t *)piece;
	if (a->ignore_merges) {
		int32_t id = raw_lookup(c->v, a, piece, len);
		if (mergeable(c->v, id))
			return cn_tokvec_push(c->out, id);
	}
	if (len > UINT32_MAX - 1 || grow_scratch(c, len) != CAIRN_OK)
		return CAIRN_ENOMEM;
	return len <= SMALL ? merge_small(c, s, len) : merge_large(c, s, len);
}

static cairn_status bpe_encode(const cn_vocab *v, const char *text, size_t len, unsigned frag_flags,
                               cn_tokvec *out, cn_err *err)
{
	(void)frag_flags;
	const bpe_algo *a = v->algo;
	enc_ctx c = {.v = v, .a = a, .out = out, .err = err};
	if (len >= 4096) /* worth its 224 KiB only for longer texts; without it all still works */
		c.cache = cn_calloc(CACHE_SLOTS, sizeof(cache_ent));
	cairn_status rc = cn_pretok_split(a->pre, text, len, encode_piece, &c);
	cn_free(c.cache);
	cn_free(c.ids);
	cn_free(c.ranks);
	cn_free(c.merged);
	cn_free(c.next);
	cn_free(c.prev);
	cn_free(c.heap);
	if (rc != CAIRN_OK)
		return cn_err_set(err, rc, "out of memory");
	return CAIRN_OK;
}

static void bpe_piece(const cn_vocab *v, int32_t id, cn_buf *out)
{
	const bpe_algo *a = v->algo;
	size_t len;
	const char *s = raw_of(a, id, &len);
	cn_buf_append(out, s, len);
}

const cn_vocab_algo cn_bpe_algo = {
	.name = "bpe",
	.init = bpe_init,
	.free = bpe_free,
	.encode = bpe_encode,
	.piece = bpe_piece,
};
