/*
 * pretok_int.h — private to src/vocab: the pre-tokenizers of byte-level BPE models.
 *
 * A byte-level BPE model first cuts text into pieces with one or more regular expressions
 * (GPT-2's `'s|'t|… ?\p{L}+|…`, Llama 3's, DeepSeek's sequence of five, …) and merges bytes
 * only inside a piece. pretok.c implements each upstream expression by hand as a matcher
 * over code points, so there is no regex engine on the encoding path; a family is the list
 * of expressions a model applies in sequence (each one splits every piece the previous one
 * produced; text between matches is kept as pieces too, as Hugging Face's Split(Isolated)
 * and llama.cpp's unicode_regex_split do). Families are named as llama.cpp's
 * tokenizer.ggml.pre values; the upstream regex strings are kept with each family so
 * tokenizer.json's Split patterns can be mapped onto a family and tests can compare the
 * matchers against a real regex engine.
 */
#ifndef CAIRN_VOCAB_PRETOK_INT_H
#define CAIRN_VOCAB_PRETOK_INT_H

#include "base/base.h"

typedef struct cn_pretok cn_pretok;

/* The family for a tokenizer.ggml.pre name ("gpt-2", "llama-bpe", "qwen2", …; NULL or ""
 * = "default"); NULL when the name is unknown. *ignore_merges (may be NULL) is set when
 * models of that name look up a whole piece in the vocabulary before merging (llama.cpp's
 * ignore_merges: Llama 3, Tekken). */
const cn_pretok *cn_pretok_find(const char *name, bool *ignore_merges);
/* The family whose expression sequence is exactly res[0..n) (upstream spellings, as in a
 * tokenizer.json Split pattern); NULL when none is. */
const cn_pretok *cn_pretok_from_regexes(const char *const *res, size_t n);
/* The canonical name ("gpt-2", "llama3", …). */
const char *cn_pretok_name(const cn_pretok *p);
/* The upstream expressions applied in sequence: how many, and the i-th (NULL past the end). */
size_t cn_pretok_n_regexes(const cn_pretok *p);
const char *cn_pretok_regex(const cn_pretok *p, size_t i);
/* All families, for tests: NULL past the end. */
const cn_pretok *cn_pretok_at(size_t i);

/* Receives one piece (never empty) in text order; a non-OK status stops the split. */
typedef cairn_status (*cn_pretok_emit)(void *ctx, const char *piece, size_t len);

/* Splits text[0..len) into pieces that cover it exactly, in order. Invalid UTF-8 bytes are
 * single characters of no category (as unassigned code points are). */
cairn_status cn_pretok_split(const cn_pretok *p, const char *text, size_t len, cn_pretok_emit emit,
                             void *ctx);
/* As cn_pretok_split with only expression `stage` of the family (tests). */
cairn_status cn_pretok_split_stage(const cn_pretok *p, size_t stage, const char *text, size_t len,
                                   cn_pretok_emit emit, void *ctx);

/* Character classes the matchers use (tests compare them with other Unicode tables). */
enum {
	CN_CP_L = 1u << 0,  /* \p{L} */
	CN_CP_N = 1u << 1,  /* \p{N} */
	CN_CP_WS = 1u << 2, /* \s: Unicode White_Space */
	CN_CP_P = 1u << 3,  /* \p{P} */
	CN_CP_S = 1u << 4,  /* \p{S} */
	CN_CP_M = 1u << 5,  /* \p{M} */
	CN_CP_LU = 1u << 6, /* Lu or Lt */
	CN_CP_LL = 1u << 7  /* Ll */
};
unsigned cn_pretok_cpclass(uint32_t cp);

#endif
