/*
 * model — BERT-family encoders: sentence embeddings and cross-encoder reranking from GGUF.
 *
 * Design:
 *  - Load = validate. cn_encoder_load reads the hyper-parameters, builds the tokenizer and
 *    checks every tensor the forward pass will touch — presence, exact shape implied by the
 *    metadata, a type the kernels support — before anything is computed, so a hostile or
 *    mis-converted file fails at open with a message naming the tensor, the expected and the
 *    actual shape. After a successful load the forward pass has no failure paths other than
 *    running out of memory.
 *  - Weights stay in the memory-mapped file in their GGUF types (cn_weight); only the 1-D
 *    vectors (norms, biases) are converted to F32 copies at load, which costs kilobytes.
 *  - Batches are packed without padding: the tokens of all sequences of a batch are rows of
 *    one [T × n_embd] matrix, so the linear layers (≈ 95% of the FLOPs) run as one GEMM over
 *    exactly the real tokens, and attention runs per (sequence, head) over that sequence's own
 *    rows. No token ever attends to another sequence's tokens, which is what a padding mask
 *    achieves in a padded layout, without computing the padded rows at all.
 *  - Architectures: "bert" (BERT, MiniLM, BGE, E5, GTE: learned positions, post-LN, GELU
 *    with erf) and "nomic-bert" (fused QKV, rotary positions, SwiGLU, no biases). Pooling
 *    (mean / cls / last) and the reranker head (rank: pooler dense + tanh, classifier, first
 *    logit) follow the GGUF's pooling_type, as llama.cpp's build_bert / build_pooling do.
 */
#ifndef CAIRN_MODEL_H
#define CAIRN_MODEL_H

#include "base/base.h"
#include "gguf/gguf.h"
#include "kern/kern.h"
#include "vocab/vocab.h"

typedef enum cn_enc_arch {
	CN_ENC_BERT = 0,
	CN_ENC_NOMIC_BERT = 1
} cn_enc_arch;

/* Values are llama.cpp's (enum llama_pooling_type), as GGUF's <arch>.pooling_type stores them. */
typedef enum cn_pooling {
	CN_POOL_NONE = 0,
	CN_POOL_MEAN = 1,
	CN_POOL_CLS = 2,
	CN_POOL_LAST = 3,
	CN_POOL_RANK = 4
} cn_pooling;

const char *cn_pooling_name(cn_pooling p); /* "mean", "cls", "last", "rank", "none" */

typedef struct cn_encoder_hparams {
	cn_enc_arch arch;
	const char *arch_name;  /* "bert", "nomic-bert" */
	int64_t n_vocab;
	int64_t n_embd;
	int64_t n_layer;
	int64_t n_head;
	int64_t head_dim;
	int64_t n_ff;
	int64_t n_ctx;          /* longest input, in tokens, specials included */
	int64_t n_types;        /* rows of token_types.weight; 0 when absent */
	int64_t n_rot;          /* rotary dims per head (nomic-bert), else 0 */
	float eps;              /* layer-norm epsilon */
	float rope_base;
	cn_pooling pooling;     /* never NONE after load (a file saying none or nothing gets MEAN) */
	int64_t n_cls_out;      /* rows of cls.output.weight (rerankers), else 0 */
} cn_encoder_hparams;

typedef struct cn_encoder_model cn_encoder_model;

/* Opens and validates path (see the design note). On failure *out is NULL and err names the
 * file and the problem: CAIRN_EUNSUPPORTED for an architecture or tensor type cairn does not
 * run, CAIRN_EFORMAT for tensors or metadata that contradict each other. */
cairn_status cn_encoder_load(const char *path, cn_encoder_model **out, cn_err *err);
void cn_encoder_free(cn_encoder_model *m);

const cn_encoder_hparams *cn_encoder_hparams_get(const cn_encoder_model *m);
const cn_vocab *cn_encoder_vocab(const cn_encoder_model *m);

/* ---- tokenization ---------------------------------------------------------------------- */

/* The model's input for one text: [CLS] prefix+text [SEP] (or the tokenizer's BOS/EOS), cut
 * to n_ctx tokens keeping the closing special. Appends the ids to out; prefix may be NULL.
 * CAIRN_EEMPTY only for a model without specials given a text without tokens. */
cairn_status cn_encoder_tokenize(const cn_encoder_model *m, const char *prefix, const char *text, size_t len,
                                 cn_tokvec *out, cn_err *err);
/* A reranker's input: [CLS] query [SEP] passage [SEP], token types 0 for the first segment
 * (through the first [SEP]) and 1 after; *n_first gets that segment's length. Over n_ctx the
 * passage is cut first; the query keeps at least half the room. */
cairn_status cn_encoder_tokenize_pair(const cn_encoder_model *m, const char *query, size_t qlen,
                                      const char *passage, size_t plen, cn_tokvec *out, size_t *n_first,
                                      cn_err *err);

/* ---- forward pass ---------------------------------------------------------------------- */

/* One input sequence: n tokens (1 ≤ n ≤ n_ctx); tokens at index ≥ n_first get token type 1
 * (n_first = n for single texts). */
typedef struct cn_enc_seq {
	const int32_t *ids;
	int64_t n;
	int64_t n_first;
} cn_enc_seq;

/* Scratch memory of the forward pass, grown on demand; one per concurrent caller. */
typedef struct cn_enc_work {
	float *buf;
	size_t cap; /* floats */
} cn_enc_work;

void cn_enc_work_free(cn_enc_work *w);

/* Runs seqs[0..n) as one packed batch. Embedding models write n × n_embd pooled vectors to
 * out (L2-normalized when normalize); rerankers (pooling rank) write n scores. Token ids
 * must be < n_vocab (cn_encoder_tokenize guarantees it; others are CAIRN_EINVAL). */
cairn_status cn_encoder_forward(const cn_encoder_model *m, cn_pool *pool, cn_enc_work *work,
                                const cn_enc_seq *seqs, size_t n, bool normalize, float *out, cn_err *err);

/* Floating-point operations of cn_encoder_forward over sequences of these lengths (the
 * matrix products and attention; element-wise work is not counted). For benchmarks. */
double cn_encoder_flops(const cn_encoder_model *m, const int64_t *lengths, size_t n);

#endif
