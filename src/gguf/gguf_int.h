/*
 * gguf_int.h — what the files of src/gguf share: the cn_gguf object and the hand-offs between
 * the GGUF parser (gguf.c), the llama2.c reader (llama2c.c) and the type tables
 * (ggml_types.c). Not for use outside src/gguf.
 *
 * Ownership: a cn_gguf owns its mapping (when opened from a path), its kv and tensor arrays,
 * the two name indexes, and an arena holding everything else it allocates (string and nested
 * arrays, synthesised llama2.c strings). Everything is released by cn_gguf_close.
 */
#ifndef CAIRN_GGUF_INT_H
#define CAIRN_GGUF_INT_H

#include "gguf/gguf.h"

/* Limits that no real model comes near; they keep hostile files cheap to reject. */
#define CN_GGUF_MAX_KEY (64u * 1024u)       /* bytes in a key or a tensor name */
#define CN_GGUF_MAX_ARRAY_DEPTH 8           /* an array is depth 1, an array of arrays 2, … */

struct cn_gguf {
	char *name;                /* as given at open (for messages) */
	cn_map map;                /* when opened from a path; else {NULL, 0} */
	const uint8_t *data;       /* the bytes (mapping or caller's buffer) */
	size_t size;
	cn_model_format format;
	uint32_t version;
	uint32_t alignment;
	cn_gguf_kv *kvs;
	size_t n_kv;
	cn_gguf_tensor *tensors;
	size_t n_tensors;
	cn_strmap kv_index;        /* key → kv index (ids are insertion order) */
	cn_strmap tensor_index;    /* name → tensor index */
	cn_arena arena;
};

/* The name of a type ggml removed (Q4_2, Q4_0_4_4, …), or NULL. For messages. */
const char *cn_ggml_removed_type_name(uint32_t t);

/* Writes a printable, bounded rendering of s into buf (non-printable bytes as \xNN,
 * truncated with "..." past ~80 bytes), for error messages. Returns buf. */
char *cn_gguf_quote(char *buf, size_t size, const char *s, uint64_t len);
#define CN_GGUF_QUOTE_SIZE 400

/* Adds key/tensor names to the indexes, rejecting duplicates (used by both readers). */
cairn_status cn_gguf_index_kvs(cn_gguf *g, cn_err *err);
cairn_status cn_gguf_index_tensors(cn_gguf *g, cn_err *err);

/* llama2.c: the caller has ruled out GGUF. Fills g (kvs, tensors, version 0, format). */
cairn_status cn_llama2c_parse(cn_gguf *g, cn_err *err);

#endif
