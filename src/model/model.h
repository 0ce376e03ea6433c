/*
 * model — transformer models from GGUF: BERT-family encoders (sentence embeddings,
 * cross-encoder reranking) and Llama/Qwen2-family decoders (text generation).
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

/* ---- decoder: Llama / Qwen2-family causal language models -------------------------------
 *
 * Design:
 *  - Load = validate, as for the encoder: every tensor the forward pass reads is checked
 *    against the metadata at open (check.c), and anything cairn does not compute faithfully
 *    (MoE experts, rope scaling other than linear, partial rotary, biases where the
 *    architecture has none) is refused by name rather than silently mis-run.
 *  - Architectures: "llama" (Llama 1/2/3, Mistral, TinyLlama, SmolLM, llama2.c checkpoints
 *    through the gguf view; optional Q/K/V/O biases; rope_freqs for Llama 3.1-style scaling)
 *    and "qwen2" (Qwen1.5/2/2.5: Q/K/V biases). RoPE pairs dims (2i, 2i+1) for llama —
 *    llama.cpp's converter permutes Hugging Face's Q/K rows into that order — and
 *    (i, i + d/2) for qwen2, whose converter does not (llama.cpp: llama_model_rope_type).
 *  - A context owns the KV cache (F32, [layer][position][kv_dim]) sized for the number of
 *    positions the caller asks for, and the scratch for one batch of n_batch tokens. Every
 *    token appended to the cache is remembered, so a caller can keep a prefix
 *    (cn_decoder_truncate) and continue from it.
 *  - cn_decoder_eval takes any number of tokens: a prompt runs as matrix–matrix products
 *    over n_batch tokens at a time (causal attention inside the batch and against the
 *    cache), generation as one token (M = 1, the fused dequantize-dot kernels). Logits are
 *    returned for the last token or for every token, and nothing decides the next token
 *    here: samplers and constrained decoding work on the logits (generate.c).
 */

typedef enum cn_dec_arch {
	CN_DEC_LLAMA = 0,
	CN_DEC_QWEN2 = 1
} cn_dec_arch;

typedef struct cn_decoder_hparams {
	cn_dec_arch arch;
	const char *arch_name;  /* "llama", "qwen2" */
	int64_t n_vocab;
	int64_t n_embd;
	int64_t n_layer;
	int64_t n_head;
	int64_t n_head_kv;      /* grouped-query attention: n_head / n_head_kv query heads per K/V head */
	int64_t head_dim;
	int64_t n_ff;
	int64_t n_ctx_train;    /* <arch>.context_length */
	float eps;              /* RMSNorm epsilon */
	float rope_base;        /* rope.freq_base (10000 when absent) */
	float rope_scale;       /* linear rope scaling factor: positions are divided by it (1 = none) */
	bool rope_neox;         /* pairs (i, i + d/2) (qwen2) instead of (2i, 2i + 1) (llama) */
	bool has_rope_freqs;    /* rope_freqs.weight divides each frequency (Llama 3.1 scaling) */
	bool tied_output;       /* no output.weight: the logits use token_embd */
	bool has_attn_bias;     /* Q/K/V biases (qwen2 always) */
} cn_decoder_hparams;

typedef struct cn_decoder_model cn_decoder_model;

/* Opens and validates path (a GGUF, or a llama2.c checkpoint through the gguf view). The
 * tokenizer comes from the model file, or from tokenizer_path when not NULL (a llama2.c
 * checkpoint has none of its own: pass its tokenizer.bin); its token count must equal the
 * rows of token_embd. On failure *out is NULL and err names the file and the problem:
 * CAIRN_EUNSUPPORTED for an architecture, tensor type or option cairn does not run,
 * CAIRN_EFORMAT for tensors or metadata that contradict each other. */
cairn_status cn_decoder_open(const char *path, const char *tokenizer_path, cn_decoder_model **out, cn_err *err);
/* The same over a file already open (cn_gguf_open_mem for fuzzing and tests): takes
 * ownership of g, which is closed on failure and by cn_decoder_close on success. */
cairn_status cn_decoder_open_gguf(cn_gguf *g, const char *tokenizer_path, cn_decoder_model **out, cn_err *err);
void cn_decoder_close(cn_decoder_model *m);

const cn_decoder_hparams *cn_decoder_hparams_get(const cn_decoder_model *m);
const cn_vocab *cn_decoder_vocab(const cn_decoder_model *m);
/* Bytes of weight data one token's forward pass reads (every matrix once, the output head
 * included, one token_embd row): what bounds generation speed by memory bandwidth. */
double cn_decoder_weight_bytes(const cn_decoder_model *m);

typedef struct cn_decoder_ctx cn_decoder_ctx;

/* A context of n_ctx positions (≤ 0: the model's context length; more than the model's is
 * cut to it) evaluating at most n_batch tokens per forward pass (≤ 0: 512). The pool is
 * borrowed (NULL = the caller's thread only) and must outlive the context; the model too.
 * The KV cache is allocated here, all at once: 2 × n_layer × n_ctx × n_head_kv × head_dim
 * floats. */
cairn_status cn_decoder_ctx_new(const cn_decoder_model *m, cn_pool *pool, int64_t n_ctx, int64_t n_batch,
                                cn_decoder_ctx **out, cn_err *err);
void cn_decoder_ctx_free(cn_decoder_ctx *c);

int64_t cn_decoder_ctx_size(const cn_decoder_ctx *c);  /* positions in the cache */
int64_t cn_decoder_n_past(const cn_decoder_ctx *c);    /* tokens evaluated and kept */
/* The tokens whose K/V the cache holds, in order (cn_decoder_n_past of them). */
const int32_t *cn_decoder_tokens(const cn_decoder_ctx *c);

enum {
	CN_DEC_ALL_LOGITS = 1u << 0 /* logits for every token evaluated, not just the last */
};

/* Evaluates tokens[0..n) at positions n_past .. n_past + n - 1 and keeps their K/V. logits
 * (may be NULL: nothing computed past the last layer's K/V) receives n_vocab floats for the
 * last token, or n × n_vocab (row i for tokens[i]) with CN_DEC_ALL_LOGITS. Ids outside the
 * vocabulary are CAIRN_EINVAL and more tokens than the cache has room for CAIRN_ETOOBIG;
 * both are checked before anything is computed, so the context is unchanged on error. */
cairn_status cn_decoder_eval(cn_decoder_ctx *c, const int32_t *tokens, int64_t n, unsigned flags, float *logits,
                             cn_err *err);

/* Keeps the first n tokens' K/V (n ≤ n_past) and forgets the rest: the next eval continues
 * at position n. CAIRN_EINVAL when n is out of range. */
cairn_status cn_decoder_truncate(cn_decoder_ctx *c, int64_t n, cn_err *err);

#endif
