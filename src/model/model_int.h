/* model_int.h — the loaded encoder, shared by load.c (validation) and forward.c. Private
 * to src/model/. */
#ifndef CAIRN_MODEL_INT_H
#define CAIRN_MODEL_INT_H

#include "model/model.h"

/* An embedding table (token, position or type rows) in its file type. */
typedef struct cn_enc_table {
	cn_ggml_type type;
	const uint8_t *data;
	int64_t rows, cols;
	size_t row_bytes;
} cn_enc_table;

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
	cn_enc_table tok_embd, pos_embd, type_embd; /* pos/type: data NULL when absent */
	const float *embd_norm_w, *embd_norm_b;
	cn_enc_layer *layers;
	bool has_cls, has_cls_out;
	cn_weight cls, cls_out;
	const float *cls_b, *cls_out_b;
	float **vecs; /* every 1-D vector, converted to F32 at load */
	size_t n_vecs, vecs_cap;
};

#endif
