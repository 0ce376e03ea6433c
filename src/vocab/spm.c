/*
 * spm.c — SentencePiece BPE (cn_spm_algo): the algorithm of sentencepiece's bpe_model.cc and
 * llama.cpp's llm_tokenizer_spm, bit for bit.
 *
 * The normalized fragment is split into characters; every adjacent pair whose concatenation
 * is a piece goes into a max-heap keyed by (piece score, then leftmost position); the best
 * pair is merged and its two new neighbour pairs are pushed, until no pair remains. Stale
 * heap entries are recognised the way sentencepiece does (an emptied symbol, or lengths that
 * no longer add up) rather than removed.
 *
 * Cost: each symbol remembers its node in the piece trie, so testing a pair walks only the
 * right symbol's bytes — no string building and no hashing. When no piece can span a word
 * boundary (no piece holds a ▁ after another character — true of every SentencePiece model
 * trained with split_by_whitespace, Llama's and Mistral's included), the text is cut into
 * words and each is merged alone: merges never cross the cut, and the order of merges inside
 * a word is unchanged, so the result is the same, but heaps stay tiny and cache-resident
 * (a 5 MB single-fragment input went from 5.8 s to 0.6 s). Scratch lives on the stack for
 * short words, else in one allocation reused across the call; the vocabulary is never
 * written, so any number of threads can encode at once.
 *
 * Pieces that can be merged are NORMAL, USER_DEFINED and UNUSED ones (sentencepiece's
 * pieces_ map); a merge that ends on an UNUSED piece is split back into the halves that made
 * it (sentencepiece's resegment), so UNUSED and CONTROL pieces never come out of text.
 * (sentencepiece remembers the halves of the last candidate pair that formed the piece; we
 * take the longest left half that is a piece — the same for any vocabulary BPE training
 * produced, where each piece has one merge.)
 */
#include "vocab/spm_norm.h"

#include <string.h>

typedef struct spm_state {
	cn_spm_trie trie;
	cn_spm_charsmap cm;
	bool has_cm;
	bool has_unused;
	/* No mergeable piece holds a ▁ right after another character (split_before_ws), or
	 * right before one (split_after_ws): the text can then be cut into words there and
	 * each word merged on its own, with the same result and small heaps. */
	bool split_before_ws, split_after_ws;
	cn_spm_out out;
} spm_state;

static inline bool is_ws_at(const uint8_t *t, size_t i, size_t n)
{
	return i + 3 <= n && t[i] == 0xE2 && t[i + 1] == 0x96 && t[i + 2] == 0x81;
}

static void spm_free(cn_vocab *v)
{
	spm_state *s = v->algo;
	if (!s)
		return;
	cn_spm_trie_free(&s->trie);
	cn_spm_charsmap_free(&s->cm);
	cn_free(s);
	v->algo = NULL;
}

static cairn_status spm_init(cn_vocab *v, const cn_vocab_spec *spec, cn_err *err)
{
	spm_state *s = cn_calloc(1, sizeof *s);
	if (!s)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", spec->name ? spec->name : "vocab");
	v->algo = s;
	cairn_status st = cn_spm_trie_build(&s->trie, v,
	                                    CN_TOKEN_NORMAL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNUSED, err);
	if (st == CAIRN_OK && spec->charsmap && spec->charsmap_len) {
		st = cn_spm_charsmap_init(&s->cm, spec->charsmap, spec->charsmap_len,
		                          spec->name ? spec->name : "vocab", err);
		s->has_cm = st == CAIRN_OK;
	}
	if (st != CAIRN_OK) {
		spm_free(v);
		return st;
	}
	s->split_before_ws = s->split_after_ws = true;
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		const cn_vocab_token *t = &v->tokens[i];
		if (t->attr & CN_TOKEN_UNUSED)
			s->has_unused = true;
		if (!(t->attr & (CN_TOKEN_NORMAL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNUSED)))
			continue;
		const uint8_t *p = (const uint8_t *)t->text;
		bool prev_ws = false;
		for (uint32_t k = 0; k < t->len;) {
			bool ws = is_ws_at(p, k, t->len);
			if (k > 0 && ws && !prev_ws)
				s->split_before_ws = false;
			if (k > 0 && !ws && prev_ws)
				s->split_after_ws = false;
			prev_ws = ws;
			k += ws ? 3 : 1;
		}
	}
	cn_spm_out_init(&s->out, v);
	return CAIRN_OK;
}

typedef struct sym {
	uint32_t start, len;
	int32_t prev, next;
	uint32_t node; /* trie node of the symbol's bytes; 0 = not a prefix of any piece */
} sym;

typedef struct cand {
	float score;
	uint32_t left, right;
	uint32_t size;
	uint32_t node; /* trie node of the merged piece */
} cand;

/* a ranks above b: higher score, then leftmost (sentencepiece's SymbolPairComparator) */
static inline bool cand_above(const cand *a, const cand *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static inline void heap_push(cand *h, size_t *n, cand c)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!cand_above(&c, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = c;
}

static inline cand heap_pop(cand *h, size_t *n)
{
	cand top = h[0];
	cand last = h[--(*n)];
	size_t i = 0, m = *n;
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= m)
			break;
		size_t r = l + 1, c = (r < m && cand_above(&h[r], &h[l])) ? r : l;
		if (!cand_above(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (m)
		h[i] = last;
	return top;
}

static inline void try_pair(const cn_vocab *v, const spm_state *s, const uint8_t *text,
                            sym *syms, int32_t left, int32_t right, cand *heap, size_t *nheap)
{
	if (left < 0 || right < 0)
		return;
	uint32_t node = syms[left].node;
	if (!node)
		return;
	const uint8_t *p = text + syms[right].start;
	for (uint32_t k = 0; k < syms[right].len && node; k++)
		node = cn_spm_trie_next(&s->trie, node, p[k]);
	if (!node)
		return;
	int32_t id = s->trie.nodes[node].value;
	if (id < 0)
		return;
	heap_push(heap, nheap,
	          (cand){.score = v->tokens[id].score, .left = (uint32_t)left, .right = (uint32_t)right,
	                 .size = syms[left].len + syms[right].len, .node = node});
}

/* Token id of text[0..n) as sentencepiece's PieceToId sees it, -1 for unknown. node is the
 * symbol's trie node (0 for none). */
static inline int32_t piece_id(const cn_vocab *v, const spm_state *s, const char *w, size_t n,
                               uint32_t node)
{
	if (node && s->trie.nodes[node].value >= 0)
		return s->trie.nodes[node].value;
	/* not a mergeable piece: a reserved one (control, unknown, byte) may still carry the text */
	return cn_vocab_lookup(v, w, n);
}

/* sentencepiece's resegment: an UNUSED piece goes out as the two pieces that formed it. The
 * split point is found by trying the longest piece prefix whose remainder is also a piece
 * (the merge that made it joined two pieces). */
static cairn_status emit_reseg(const cn_vocab *v, const spm_state *s, const char *w, size_t n,
                               int32_t id, int depth, bool *prev_unk, cn_tokvec *out)
{
	if (id >= 0 && (v->tokens[id].attr & CN_TOKEN_UNUSED) && depth < 64) {
		/* scan split points from the right so the longest left piece wins */
		for (size_t cut = n - 1; cut > 0; cut--) {
			int32_t l = cn_vocab_lookup(v, w, cut), r = cn_vocab_lookup(v, w + cut, n - cut);
			if (l >= 0 && r >= 0 &&
			    (v->tokens[l].attr & (CN_TOKEN_NORMAL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNUSED)) &&
			    (v->tokens[r].attr & (CN_TOKEN_NORMAL | CN_TOKEN_USER_DEFINED | CN_TOKEN_UNUSED))) {
				cairn_status st = emit_reseg(v, s, w, cut, l, depth + 1, prev_unk, out);
				if (st == CAIRN_OK)
					st = emit_reseg(v, s, w + cut, n - cut, r, depth + 1, prev_unk, out);
				return st;
			}
		}
	}
	return cn_spm_emit(&s->out, w, n, id, prev_unk, out);
}

/* Per-call scratch: symbols and heap for one segment, on the stack until a segment needs
 * more. */
enum { STACK_SYMS = 96 };

typedef struct scratch {
	sym *syms;
	cand *heap;
	size_t cap; /* symbols; the heap holds 3 per symbol */
	void *block;
	sym sym_stack[STACK_SYMS];
	cand heap_stack[3 * STACK_SYMS];
} scratch;

static bool scratch_reserve(scratch *sc, size_t n)
{
	if (n <= sc->cap)
		return true;
	size_t cap = CN_MAX(n, 2 * sc->cap);
	if (cap > (SIZE_MAX / 2) / (sizeof(sym) + 3 * sizeof(cand)))
		return false;
	void *b = cn_malloc(cap * (sizeof(sym) + 3 * sizeof(cand)));
	if (!b)
		return false;
	cn_free(sc->block);
	sc->block = b;
	sc->heap = b; /* cand first: the stricter alignment of the two */
	sc->syms = (sym *)(sc->heap + 3 * cap);
	sc->cap = cap;
	return true;
}

/* BPE over the symbols of t[b..e) (character boundaries), emitting the pieces. */
static cairn_status bpe_segment(const cn_vocab *v, const spm_state *s, const uint8_t *t, size_t b, size_t e,
                                scratch *sc, bool *prev_unk, cn_tokvec *out)
{
	if (!scratch_reserve(sc, e - b))
		return CAIRN_ENOMEM;
	sym *syms = sc->syms;
	cand *heap = sc->heap;
	size_t nsym = 0;
	for (size_t i = b; i < e;) {
		size_t l = cn_spm_char_len(t + i, e - i);
		uint32_t node = 0;
		for (size_t k = 0; k < l; k++)
			if (!(node = cn_spm_trie_next(&s->trie, node, t[i + k])))
				break;
		syms[nsym] = (sym){.start = (uint32_t)i, .len = (uint32_t)l, .prev = (int32_t)nsym - 1,
		                   .next = (int32_t)nsym + 1, .node = node};
		nsym++;
		i += l;
	}
	syms[nsym - 1].next = -1;

	size_t nheap = 0;
	for (size_t i = 1; i < nsym; i++)
		try_pair(v, s, t, syms, (int32_t)i - 1, (int32_t)i, heap, &nheap);
	while (nheap) {
		cand c = heap_pop(heap, &nheap);
		sym *L = &syms[c.left], *R = &syms[c.right];
		if (L->len == 0 || R->len == 0 || L->len + R->len != c.size)
			continue; /* stale: one side was merged away since */
		L->len += R->len;
		L->node = c.node;
		L->next = R->next;
		if (R->next >= 0)
			syms[R->next].prev = (int32_t)c.left;
		R->len = 0;
		try_pair(v, s, t, syms, L->prev, (int32_t)c.left, heap, &nheap);
		try_pair(v, s, t, syms, (int32_t)c.left, L->next, heap, &nheap);
	}

	cairn_status st = CAIRN_OK;
	for (int32_t i = 0; i >= 0 && st == CAIRN_OK; i = syms[i].next) {
		const char *w = (const char *)t + syms[i].start;
		int32_t id = piece_id(v, s, w, syms[i].len, syms[i].node);
		if (s->has_unused)
			st = emit_reseg(v, s, w, syms[i].len, id, 0, prev_unk, out);
		else
			st = cn_spm_emit(&s->out, w, syms[i].len, id, prev_unk, out);
	}
	return st;
}

static cairn_status spm_encode(const cn_vocab *v, const char *text, size_t len, unsigned frag_flags,
                               cn_tokvec *out, cn_err *err)
{
	const spm_state *s = v->algo;
	if (len == 0)
		return CAIRN_OK;
	unsigned nf = 0;
	if (v->add_space_prefix && (frag_flags & CN_FRAG_FIRST))
		nf |= CN_SPM_NORM_ADD_WS;
	if (v->treat_whitespace_as_suffix)
		nf |= CN_SPM_NORM_SUFFIX;
	if (v->remove_extra_whitespaces)
		nf |= CN_SPM_NORM_REMOVE_EXTRA;
	cn_buf nb;
	cn_buf_init(&nb);
	cairn_status st = cn_spm_normalize(s->has_cm ? &s->cm : NULL, text, len, nf, &nb);
	if (st != CAIRN_OK) {
		cn_buf_free(&nb);
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory normalizing %zu bytes", len);
	}
	const uint8_t *t = (const uint8_t *)nb.data;
	size_t n = nb.len;
	if (n >= UINT32_MAX / 2) {
		cn_buf_free(&nb);
		return cn_err_set(err, CAIRN_ETOOBIG, "vocab: fragment of %zu bytes is too long", len);
	}
	scratch sc;
	sc.syms = sc.sym_stack, sc.heap = sc.heap_stack, sc.cap = STACK_SYMS, sc.block = NULL;
	bool prev_unk = false;
	size_t seg = 0;
	if (s->split_before_ws || s->split_after_ws) {
		/* cut where no piece can span: before a ▁ that follows another character (or after
		 * a ▁ that precedes one, for suffix models) */
		bool prev_ws = false;
		for (size_t i = 0; i < n && st == CAIRN_OK;) {
			bool ws = is_ws_at(t, i, n);
			if (i > seg && ((s->split_before_ws && ws && !prev_ws) || (s->split_after_ws && !ws && prev_ws))) {
				st = bpe_segment(v, s, t, seg, i, &sc, &prev_unk, out);
				seg = i;
			}
			prev_ws = ws;
			i += ws ? 3 : cn_spm_char_len(t + i, n - i);
		}
	}
	if (st == CAIRN_OK && seg < n)
		st = bpe_segment(v, s, t, seg, n, &sc, &prev_unk, out);
	cn_free(sc.block);
	cn_buf_free(&nb);
	if (st != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory encoding %zu bytes", len);
	return CAIRN_OK;
}

static void spm_piece(const cn_vocab *v, int32_t id, cn_buf *out)
{
	cn_spm_piece_text(v, id, out);
}

const cn_vocab_algo cn_spm_algo = {
	.name = "spm",
	.init = spm_init,
	.free = spm_free,
	.encode = spm_encode,
	.piece = spm_piece,
};
