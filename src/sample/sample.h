/*
 * sample — choosing the next token: the sampler chain and JSON-schema constrained decoding.
 *
 * Design:
 *  - The sampler chain has llama.cpp's order and definitions (common/sampling.cpp), because
 *    users tune temperature/top-p by what llama.cpp does with them: penalties (repetition
 *    over the last N tokens, frequency, presence) on the raw logits, then top-k, top-p,
 *    min-p, temperature, and a draw from the softmax. Temperature ≤ 0 is greedy: the
 *    argmax after penalties, ties to the lowest id (the chain's filters cannot change it).
 *  - Candidates are the finite logits only (masked tokens never enter), and nothing sorts a
 *    150k vocabulary per token: top-k is a selection (quickselect) plus a sort of k; top-p
 *    sorts a growing head of the distribution until it holds p of the mass; min-p and the
 *    draw are linear.
 *  - Our own PRNG (xoshiro256**, seeded through splitmix64) so a seed gives the same text on
 *    every platform and C library.
 *  - Constrained decoding (jschema.c) compiles a JSON Schema subset into a tree of nodes and
 *    matches bytes with a pushdown matcher (a stack of small frames). Token masks come from
 *    walking the vocabulary sorted by byte string (tokindex.c), sharing the matcher work of
 *    common prefixes through an undo log, so tokens that start with a rejected prefix cost
 *    one integer comparison. Every frame knows the fewest bytes that complete it, which is
 *    how the budget guarantee (docs/sample.md) works: a token is allowed only when what it
 *    leaves can still be completed in the tokens left, one byte per token at worst.
 */
#ifndef CAIRN_SAMPLE_H
#define CAIRN_SAMPLE_H

#include "base/base.h"
#include "vocab/vocab.h"

/* ---- PRNG ------------------------------------------------------------------------------ */

typedef struct cn_rng {
	uint64_t s[4];
} cn_rng;

void cn_rng_seed(cn_rng *r, uint64_t seed); /* splitmix64 expands the seed into the state */
uint64_t cn_rng_next(cn_rng *r);            /* xoshiro256** */
double cn_rng_uniform(cn_rng *r);           /* [0, 1), 53 random bits */

/* ---- candidates and filters ------------------------------------------------------------- */

typedef struct cn_cand {
	int32_t id;
	float logit;
	float p; /* probability after cn_cands_softmax */
} cn_cand;

typedef struct cn_cands {
	cn_cand *data;
	size_t n;
	bool sorted; /* by logit, descending (ties: lower id first) */
} cn_cands;

/* Penalties on a full logits array, llama.cpp's llama_sampler_penalties: for each token
 * occurring c > 0 times in last[0..n_last): a positive logit is divided by repeat, a
 * non-positive one multiplied; then logit -= c·freq + presence. */
void cn_sample_penalties(float *logits, int32_t n_vocab, const int32_t *last, size_t n_last, float repeat,
                         float freq, float presence, int32_t *scratch /* n_last entries */);
/* Fills c (capacity n_vocab) with the finite logits; a +∞ logit wins outright (only those are
 * kept, as equals). Returns the count. */
size_t cn_cands_from_logits(cn_cands *c, const float *logits, int32_t n_vocab);
void cn_cands_sort(cn_cands *c);                 /* full sort (descending logit, ascending id) */
void cn_cands_softmax(cn_cands *c);              /* p over the current set; does not sort */
void cn_sample_top_k(cn_cands *c, int32_t k);     /* k ≤ 0: off; keeps the k largest, sorted */
void cn_sample_top_p(cn_cands *c, float p, size_t min_keep); /* p ≥ 1: off */
void cn_sample_min_p(cn_cands *c, float p, size_t min_keep); /* p ≤ 0: off */
void cn_sample_temp(cn_cands *c, float t);        /* t ≤ 0: only the (first) largest stays */
/* Softmax over c and one draw; -1 when c is empty. */
int32_t cn_sample_dist(cn_cands *c, cn_rng *r);
/* The argmax of logits, ties to the lowest id; NaN never wins (id 0 when all are NaN). */
int32_t cn_sample_greedy(const float *logits, int32_t n_vocab);

/* ---- the chain ------------------------------------------------------------------------- */

typedef struct cn_sampler_params {
	float temperature;     /* ≤ 0: greedy */
	int32_t top_k;         /* ≤ 0: off */
	float top_p;           /* ≥ 1: off */
	float min_p;           /* ≤ 0: off */
	float repeat_penalty;  /* 1: off */
	int32_t repeat_last_n; /* tokens of history the penalties look at (0: none) */
	float presence_penalty;
	float frequency_penalty;
	uint64_t seed;
} cn_sampler_params;

typedef struct cn_sampler cn_sampler;

/* CAIRN_EINVAL (message naming the parameter) for NaN or out-of-range values. */
cairn_status cn_sampler_new(const cn_sampler_params *p, int32_t n_vocab, cn_sampler **out, cn_err *err);
void cn_sampler_free(cn_sampler *s);
/* Appends a token to the penalty history (prompt tokens too, as llama.cpp's CLI does). */
void cn_sampler_accept(cn_sampler *s, int32_t id);
/* Applies the chain to logits (changed in place by the penalties) and draws a token. */
int32_t cn_sampler_sample(cn_sampler *s, float *logits);
/* The chain without the draw: the candidates left, with their final probabilities (valid
 * until the next call). Greedy leaves one candidate of probability 1. */
const cn_cands *cn_sampler_apply(cn_sampler *s, float *logits);

/* ---- token byte index --------------------------------------------------------------------- */

/* Every token's bytes in running text (cn_vocab_piece), sorted, with the length of the
 * prefix each shares with the one before; tokens without bytes (control tokens) are left
 * out, end-of-generation ids listed apart. Built once per vocabulary. */
typedef struct cn_tokindex cn_tokindex;

cairn_status cn_tokindex_build(const cn_vocab *v, int32_t n_vocab, cn_tokindex **out, cn_err *err);
void cn_tokindex_free(cn_tokindex *t);
/* A single token whose bytes are exactly the byte b, or -1. */
int32_t cn_tokindex_byte_token(const cn_tokindex *t, uint8_t b);
size_t cn_tokindex_n_eog(const cn_tokindex *t); /* end-of-generation tokens in the vocabulary */

/* ---- JSON schema constraints -------------------------------------------------------------- */

typedef struct cn_jschema cn_jschema;

/* Compiles a JSON Schema (the subset in docs/sample.md). Keywords outside it that would
 * change validity are CAIRN_EUNSUPPORTED naming the keyword and where it is; malformed
 * schemas CAIRN_EINVAL. */
cairn_status cn_jschema_compile(const char *text, size_t len, cn_jschema **out, cn_err *err);
void cn_jschema_free(cn_jschema *s);
/* The fewest bytes of a document valid against the schema: the smallest max_tokens for which
 * constrained generation guarantees a valid document (one byte per token at worst). */
int64_t cn_jschema_min_bytes(const cn_jschema *s);
/* Checks that the vocabulary can spell every shortest completion one byte per token (a
 * single-byte token for each byte those need); CAIRN_EUNSUPPORTED naming the byte if not. */
cairn_status cn_jschema_check_vocab(const cn_jschema *s, const cn_tokindex *t, cn_err *err);

typedef struct cn_jmatch cn_jmatch;

cairn_status cn_jmatch_new(const cn_jschema *s, cn_jmatch **out, cn_err *err);
void cn_jmatch_free(cn_jmatch *m);
void cn_jmatch_reset(cn_jmatch *m);
/* Feeds bytes; false (state unchanged) when they cannot extend a valid document. */
bool cn_jmatch_feed(cn_jmatch *m, const uint8_t *b, size_t n);
/* Whether the bytes would be accepted, and the fewest bytes to go after them (*after may be
 * NULL); the state is left as it was. */
bool cn_jmatch_try(cn_jmatch *m, const uint8_t *b, size_t n, int64_t *after);
/* Fewest bytes that complete the document from here (0 when it may end now). */
int64_t cn_jmatch_min_bytes(const cn_jmatch *m);
bool cn_jmatch_can_end(const cn_jmatch *m); /* the bytes so far are a valid document */
bool cn_jmatch_done(const cn_jmatch *m);    /* ... and nothing may follow */
/* Sets -INFINITY in logits for every token that cannot come next: its bytes are rejected,
 * or what it leaves needs more than budget - 1 further tokens (budget = tokens left, this
 * one included). End-of-generation tokens stay only when the document may end, and are all
 * that stays when it is done. Returns the number of tokens left allowed. */
size_t cn_jmatch_mask(cn_jmatch *m, const cn_tokindex *t, int64_t budget, float *logits, int32_t n_vocab);

#endif
