/*
 * spm_norm.h — private to the two SentencePiece algorithms (spm.c: BPE, ugm.c: unigram):
 * what they share with each other and with sentencepiece itself.
 *
 *  - The normalizer: precompiled_charsmap (a darts-clone double-array trie plus a blob of
 *    NUL-terminated replacements, as sentencepiece's normalizer.cc stores it), the dummy
 *    prefix, whitespace escaping to U+2581 and remove_extra_whitespaces. One implementation,
 *    so BPE models that carry a charsmap normalize exactly as unigram ones do.
 *  - A byte trie over the pieces the model may produce from text, laid out breadth-first so
 *    a node's children are contiguous (one label array scan per step, no per-node
 *    allocation). The BPE merge loop keeps each symbol's trie node, so testing whether two
 *    neighbours concatenate to a piece walks only the right symbol's bytes.
 *  - The output rule of sentencepiece_processor.cc: an unknown piece becomes its bytes'
 *    <0xXX> pieces under byte fallback; otherwise a run of unknown pieces is one unk token.
 */
#ifndef CAIRN_VOCAB_SPM_NORM_H
#define CAIRN_VOCAB_SPM_NORM_H

#include "vocab/vocab_int.h"

/* ---- piece trie ----------------------------------------------------------------------- */

typedef struct cn_spm_trie_node {
	uint32_t base;  /* index of the first child; children are base .. base+nkids-1 */
	int32_t value;  /* token id of the piece ending here, or -1 */
	uint32_t nkids;
} cn_spm_trie_node;

typedef struct cn_spm_trie {
	cn_spm_trie_node *nodes; /* [n_nodes]; node 0 is the root */
	uint8_t *label;          /* [n_nodes] the byte on the edge into the node (sorted among siblings) */
	uint32_t n_nodes;
	uint32_t root[256];      /* child of the root by byte; 0 = none */
} cn_spm_trie;

/* Builds the trie over every token of v whose attributes intersect attr_mask (first id wins
 * for duplicate texts, as in the core's text_to_id). */
cairn_status cn_spm_trie_build(cn_spm_trie *t, const cn_vocab *v, uint32_t attr_mask, cn_err *err);
void cn_spm_trie_free(cn_spm_trie *t);

/* The child of node by byte c; 0 when there is none (the root is never a child). */
static inline uint32_t cn_spm_trie_next(const cn_spm_trie *t, uint32_t node, uint8_t c)
{
	if (node == 0)
		return t->root[c];
	const cn_spm_trie_node *n = &t->nodes[node];
	const uint8_t *lab = t->label + n->base;
	uint32_t k = n->nkids;
	if (k <= 12) {
		for (uint32_t i = 0; i < k; i++)
			if (lab[i] == c)
				return n->base + i;
		return 0;
	}
	uint32_t lo = 0, hi = k;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (lab[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < k && lab[lo] == c) ? n->base + lo : 0;
}

/* ---- normalizer ----------------------------------------------------------------------- */

typedef struct cn_spm_charsmap {
	uint32_t *units;     /* darts-clone double array (own copy, aligned) */
	size_t n_units;
	const char *strs;    /* replacement strings, NUL-separated (inside units' allocation) */
	size_t strs_len;
} cn_spm_charsmap;

/* Validates and copies a precompiled_charsmap blob. name is for messages. */
cairn_status cn_spm_charsmap_init(cn_spm_charsmap *m, const uint8_t *blob, size_t len,
                                  const char *name, cn_err *err);
void cn_spm_charsmap_free(cn_spm_charsmap *m);

enum {
	CN_SPM_NORM_ADD_WS = 1u << 0,        /* add the dummy U+2581 (prefix, or suffix below) */
	CN_SPM_NORM_SUFFIX = 1u << 1,        /* treat_whitespace_as_suffix */
	CN_SPM_NORM_REMOVE_EXTRA = 1u << 2   /* remove_extra_whitespaces */
};

/* sentencepiece's Normalizer::Normalize on text[0..len) into out (reset first). cm may be NULL
 * (identity). Deviation, on purpose: a byte that does not start a valid UTF-8 sequence is kept
 * as itself (sentencepiece writes U+FFFD), so byte fallback can give it back on decode. */
cairn_status cn_spm_normalize(const cn_spm_charsmap *cm, const char *text, size_t len,
                              unsigned flags, cn_buf *out);

/* Length of the valid UTF-8 character at s[0..n) (n > 0), or 0 when the bytes there are not
 * one (bad lead byte, truncated, overlong, surrogate, above U+10FFFF). */
size_t cn_spm_utf8_valid_len(const uint8_t *s, size_t n);

/* Length of the symbol that starts at s[0..n): the valid character, else one byte. */
static inline size_t cn_spm_char_len(const uint8_t *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t l = cn_spm_utf8_valid_len(s, n);
	return l ? l : 1;
}

/* ---- output --------------------------------------------------------------------------- */

typedef struct cn_spm_out {
	int32_t byte_ids[256]; /* <0xXX> pieces; -1 when the model lacks one */
	bool byte_fallback;
	int32_t unk;
} cn_spm_out;

void cn_spm_out_init(cn_spm_out *o, const cn_vocab *v);

/* Appends piece w[0..n) whose id is id (-1: not a piece) under the unk/byte-fallback rules;
 * *prev_unk carries the "previous piece was unknown" state along one fragment. */
cairn_status cn_spm_emit(const cn_spm_out *o, const char *w, size_t n, int32_t id,
                         bool *prev_unk, cn_tokvec *out);

/* The piece op both algorithms share: U+2581 → space, <0xXX> → the byte, unknown → " ⁇ "
 * (sentencepiece's unk_surface), others → their text. */
void cn_spm_piece_text(const cn_vocab *v, int32_t id, cn_buf *out);

#endif
