/* model_int.h — private to src/model/: the loaded encoder (load.c validates, forward.c
 * runs), the loaded decoder (decoder_load.c, decoder.c), and the validation helpers both
 * loaders share (check.c). */
#ifndef CAIRN_MODEL_INT_H
#define CAIRN_MODEL_INT_H

#include "model/model.h"

/* An embedding table (token, position or type rows) in its file type. */
typedef struct cn_table {
	cn_ggml_type type;
	const uint8_t *data;
	int64_t rows, cols;
	size_t row_bytes;
} cn_table;

/* ---- interface to check.c: validation shared by the loaders --------------------------- */

/* The F32 copies of a model's 1-D vectors (norms, biases); freed with the model. */
typedef struct cn_vecset {
	float **v;
	size_t n, cap;
} cn_vecset;

void cn_vecset_free(cn_vecset *s);

/* One loader's state: the file, its architecture name (metadata key prefix, and named in
 * messages), where converted vectors go, and the error. */
typedef struct cn_mload {
	const cn_gguf *g;
	const char *path;
	const char *arch;
	cn_vecset *vecs;
	cn_err *err;
} cn_mload;

void cn_ml_shape_str(const cn_gguf_tensor *t, char *buf, size_t size);
/* The tensor, or NULL: when required, a missing one sets *rc to an error naming what needs it. */
const cn_gguf_tensor *cn_ml_find(cn_mload *L, const char *name, bool required, cairn_status *rc);
cairn_status cn_ml_check_type(cn_mload *L, const char *name, const cn_gguf_tensor *t);
/* Exactly [ne0] (nd 1) or [ne0, ne1] (trailing dimensions of 1 allowed) and a type the
 * kernels run; what = the metadata behind the expectation, for the message. */
cairn_status cn_ml_check_shape(cn_mload *L, const char *name, const cn_gguf_tensor *t, int nd, int64_t ne0,
                               int64_t ne1, const char *what);
/* A 1-D vector of n floats converted to F32 (non-finite values refused); *out NULL when
 * absent and not required. */
cairn_status cn_ml_get_vec(cn_mload *L, const char *name, int64_t n, bool required, const float **out,
                           const char *what);
/* A weight matrix y = W x with `cols` inputs and `rows` outputs: GGUF shape [cols, rows]. */
cairn_status cn_ml_get_mat(cn_mload *L, const char *name, int64_t cols, int64_t rows, bool required, cn_weight *w,
                           bool *present, const char *what);
/* An embedding table of `cols`-wide rows: exactly `rows` rows, or at least min_rows when rows < 0. */
cairn_status cn_ml_get_table(cn_mload *L, const char *name, int64_t cols, int64_t rows, int64_t min_rows,
                             bool required, cn_table *tab, const char *what);
/* <arch>.<key> as an integer in [lo, hi]; absent: an error when required, else *out unchanged. */
cairn_status cn_ml_key_i64(cn_mload *L, const char *key, bool required, int64_t lo, int64_t hi, int64_t *out);
/* <arch>.<key> as a float in [lo, hi]; absent: *out unchanged. */
cairn_status cn_ml_key_f32(cn_mload *L, const char *key, float lo, float hi, float *out);

typedef struct cn_enc_layer {
	bool fused;                    /* nomic-bert: one [n_embd, 3 n_embd] QKV matrix */
	cn_weight wq, wk, wv, wqkv, wo; /* wq/wk/wv unused when fused, wqkv unused otherwise */
	const float *bq, *bk, *bv, *bqkv, *bo; /* NULL when the file has none */
	const float *attn_norm_w, *attn_norm_b;
	bool gated;                    /* SwiGLU: silu(gate · x) ⊙ (up · x) */
	cn_weight up, gate, down;
	const float *b_up, *b_gate, *b_down;
	const float *out_norm_w, *out_norm_b;
} cn_enc_layer;

struct cn_encoder_model {
	cn_gguf *gguf;
	cn_vocab *vocab;
	cn_encoder_hparams hp;
	int32_t tok_first, tok_last; /* specials around a text ([CLS]/[SEP] or BOS/EOS); -1 none */
	int32_t tok_pair_sep;        /* between query and passage; -1 none */
	bool pair_double_sep;        /* RoBERTa style: </s></s> between the segments */
	cn_table tok_embd, pos_embd, type_embd; /* pos/type: data NULL when absent */
	const float *embd_norm_w, *embd_norm_b;
	cn_enc_layer *layers;
	bool has_cls, has_cls_out;
	cn_weight cls, cls_out;
	const float *cls_b, *cls_out_b;
	cn_vecset vecs; /* every 1-D vector, converted to F32 at load */
};

/* ---- the loaded decoder (decoder_load.c validates, decoder.c runs) -------------------- */

typedef struct cn_dec_layer {
	const float *attn_norm, *ffn_norm;
	cn_weight wq, wk, wv, wo;
	const float *bq, *bk, *bv, *bo; /* NULL when the file has none */
	cn_weight gate, up, down;
} cn_dec_layer;

struct cn_decoder_model {
	cn_gguf *gguf;
	cn_vocab *vocab;
	cn_decoder_hparams hp;
	cn_table tok_embd;
	cn_weight output;          /* token_embd's rows when the output is tied */
	const float *output_norm;
	const float *rope_freqs;   /* head_dim / 2 frequency divisors, or NULL */
	cn_dec_layer *layers;
	cn_vecset vecs;
};

#endif
