/*
 * gguf — model files: GGUF v2/v3 and llama2.c checkpoints, behind one read-only view.
 *
 * Design:
 *  - The file is memory-mapped and parsed once at open into a table of key/values and a
 *    table of tensors. Strings, numeric arrays and tensor data point into the mapping (no
 *    copies), so opening a 4 GB model costs a few page faults plus the metadata walk.
 *  - A model file is untrusted input. Every count, length, offset, type and dimension is
 *    checked against the bytes that remain and against fixed sanity limits *before* it is
 *    used to allocate or index; allocations are bounded by a constant times the file size.
 *    Errors name the file, the byte offset and the problem ("m.gguf: tensor 'blk.0.attn_q.weight'
 *    data [4096, 8192) runs past end of file (6144 bytes)").
 *  - llama2.c checkpoints (`.bin`, legacy version 0) have no metadata of their own: the reader
 *    synthesises the keys a GGUF conversion would carry (general.architecture = "llama",
 *    llama.embedding_length, …) and names the tensors as GGUF does (token_embd.weight,
 *    blk.N.attn_q.weight, …), so code above sees one kind of model file.
 *  - ggml tensor types are described by one table (name, block size, bytes per block) that
 *    the kernels share; a type this build cannot size is rejected at open, naming it.
 */
#ifndef CAIRN_GGUF_H
#define CAIRN_GGUF_H

#include "base/base.h"

/* ---- ggml tensor types ---------------------------------------------------------------- */

/* Values are ggml's (ggml.h enum ggml_type); gaps are types ggml removed. */
typedef enum cn_ggml_type {
	CN_GGML_F32 = 0,
	CN_GGML_F16 = 1,
	CN_GGML_Q4_0 = 2,
	CN_GGML_Q4_1 = 3,
	CN_GGML_Q5_0 = 6,
	CN_GGML_Q5_1 = 7,
	CN_GGML_Q8_0 = 8,
	CN_GGML_Q8_1 = 9,
	CN_GGML_Q2_K = 10,
	CN_GGML_Q3_K = 11,
	CN_GGML_Q4_K = 12,
	CN_GGML_Q5_K = 13,
	CN_GGML_Q6_K = 14,
	CN_GGML_Q8_K = 15,
	CN_GGML_IQ2_XXS = 16,
	CN_GGML_IQ2_XS = 17,
	CN_GGML_IQ3_XXS = 18,
	CN_GGML_IQ1_S = 19,
	CN_GGML_IQ4_NL = 20,
	CN_GGML_IQ3_S = 21,
	CN_GGML_IQ2_S = 22,
	CN_GGML_IQ4_XS = 23,
	CN_GGML_I8 = 24,
	CN_GGML_I16 = 25,
	CN_GGML_I32 = 26,
	CN_GGML_I64 = 27,
	CN_GGML_F64 = 28,
	CN_GGML_IQ1_M = 29,
	CN_GGML_BF16 = 30,
	CN_GGML_TQ1_0 = 34,
	CN_GGML_TQ2_0 = 35,
	CN_GGML_MXFP4 = 39,
	CN_GGML_TYPE_LIMIT = 40 /* one past the largest value the table knows */
} cn_ggml_type;

typedef struct cn_ggml_type_info {
	const char *name;     /* "Q4_K"; NULL for a value ggml does not (or no longer) define */
	uint32_t block_size;  /* elements per block (1 for plain types) */
	uint32_t type_size;   /* bytes per block */
} cn_ggml_type_info;

/* NULL when t is outside the table or names no type. */
const cn_ggml_type_info *cn_ggml_type_get(uint32_t t);
/* "Q4_K"; "unknown" for a value the table does not define. */
const char *cn_ggml_type_name(uint32_t t);
/* Bytes for a row of n elements; false when n is not a multiple of the block size or the
 * size overflows. */
bool cn_ggml_row_bytes(uint32_t t, uint64_t n, uint64_t *bytes);

/* ---- metadata values ------------------------------------------------------------------ */

typedef enum cn_gguf_vtype {
	CN_GGUF_U8 = 0,
	CN_GGUF_I8 = 1,
	CN_GGUF_U16 = 2,
	CN_GGUF_I16 = 3,
	CN_GGUF_U32 = 4,
	CN_GGUF_I32 = 5,
	CN_GGUF_F32 = 6,
	CN_GGUF_BOOL = 7,
	CN_GGUF_STRING = 8,
	CN_GGUF_ARRAY = 9,
	CN_GGUF_U64 = 10,
	CN_GGUF_I64 = 11,
	CN_GGUF_F64 = 12,
	CN_GGUF_VTYPE_COUNT = 13
} cn_gguf_vtype;

const char *cn_gguf_vtype_name(uint32_t t); /* "u32", "string", … ; "?" if unknown */

/* A length-counted string, not NUL-terminated; points into the mapping (or, for synthesised
 * llama2.c metadata, into memory the cn_gguf owns). May contain any bytes. */
typedef struct cn_gguf_str {
	const char *ptr;
	uint64_t len;
} cn_gguf_str;

typedef struct cn_gguf_value cn_gguf_value;

typedef struct cn_gguf_array {
	cn_gguf_vtype type; /* element type */
	uint64_t n;         /* element count */
	/* Numeric and bool elements: the raw little-endian bytes in the file (unaligned; read
	 * them with the cn_gguf_arr_* accessors). STRING: a cn_gguf_str[n]. ARRAY: a
	 * cn_gguf_value[n], each of type CN_GGUF_ARRAY. */
	const void *data;
} cn_gguf_array;

struct cn_gguf_value {
	cn_gguf_vtype type;
	union {
		uint64_t u64;   /* U8, U16, U32, U64 */
		int64_t i64;    /* I8, I16, I32, I64 */
		double f64;     /* F32, F64 */
		bool b;         /* BOOL */
		cn_gguf_str str;
		cn_gguf_array arr;
	} v;
};

typedef struct cn_gguf_kv {
	cn_gguf_str key;
	cn_gguf_value value;
} cn_gguf_kv;

/* Element i of a numeric/bool array as the widest type of its kind; i must be < arr->n and
 * the element type must match the kind (integer for _u64/_i64, F32/F64 for _f64). */
uint64_t cn_gguf_arr_u64(const cn_gguf_array *arr, uint64_t i);
int64_t cn_gguf_arr_i64(const cn_gguf_array *arr, uint64_t i);
double cn_gguf_arr_f64(const cn_gguf_array *arr, uint64_t i);

/* ---- tensors -------------------------------------------------------------------------- */

#define CN_GGUF_MAX_DIMS 4

typedef struct cn_gguf_tensor {
	cn_gguf_str name;
	uint32_t n_dims;              /* 1..4 */
	int64_t ne[CN_GGUF_MAX_DIMS]; /* elements per dimension, ne[0] innermost; unused = 1 */
	cn_ggml_type type;
	uint64_t offset;              /* from the start of the file (not of the data section) */
	uint64_t nbytes;
	const void *data;             /* inside the mapping, aligned as the file says (relative to
	                                 the buffer's start for cn_gguf_open_mem) */
} cn_gguf_tensor;

/* ---- the file ------------------------------------------------------------------------- */

typedef enum cn_model_format {
	CN_MODEL_GGUF = 0,
	CN_MODEL_LLAMA2C = 1 /* llama2.c legacy checkpoint */
} cn_model_format;

typedef struct cn_gguf cn_gguf;

/* Opens and validates a GGUF file or a llama2.c checkpoint (told apart by the magic). On
 * failure *out is NULL and err names the file and the problem. */
cairn_status cn_gguf_open(const char *path, cn_gguf **out, cn_err *err);
/* As cn_gguf_open, with the file read into memory advised for huge pages (cn_map_load)
 * instead of mapped: for weights streamed once per generated token. */
cairn_status cn_gguf_load(const char *path, cn_gguf **out, cn_err *err);
/* The same over bytes in memory, which the caller keeps alive and unchanged until close;
 * name is used in messages. For fuzzing and tests. */
cairn_status cn_gguf_open_mem(const void *data, size_t len, const char *name, cn_gguf **out,
                              cn_err *err);
void cn_gguf_close(cn_gguf *g);

cn_model_format cn_gguf_format(const cn_gguf *g);
uint32_t cn_gguf_version(const cn_gguf *g);   /* 2 or 3; 0 for llama2.c */
uint32_t cn_gguf_alignment(const cn_gguf *g); /* general.alignment or 32; 4 for llama2.c */
const char *cn_gguf_path(const cn_gguf *g);   /* the name given at open */
uint64_t cn_gguf_size(const cn_gguf *g);      /* file size in bytes */

size_t cn_gguf_kv_count(const cn_gguf *g);
const cn_gguf_kv *cn_gguf_kv_at(const cn_gguf *g, size_t i);
/* NULL when absent. Keys are unique (duplicates are rejected at open). */
const cn_gguf_kv *cn_gguf_find(const cn_gguf *g, const char *key);

/* Typed getters: CAIRN_ENOTFOUND when the key is absent (err untouched, so callers can fall
 * back to a default), CAIRN_EFORMAT with a message when it has the wrong type or its value
 * does not fit. Integer getters accept any integer type whose value fits. */
cairn_status cn_gguf_get_u32(const cn_gguf *g, const char *key, uint32_t *out, cn_err *err);
cairn_status cn_gguf_get_i64(const cn_gguf *g, const char *key, int64_t *out, cn_err *err);
cairn_status cn_gguf_get_f32(const cn_gguf *g, const char *key, float *out, cn_err *err);
cairn_status cn_gguf_get_bool(const cn_gguf *g, const char *key, bool *out, cn_err *err);
cairn_status cn_gguf_get_str(const cn_gguf *g, const char *key, cn_gguf_str *out, cn_err *err);
/* An array whose elements have type elem (CN_GGUF_VTYPE_COUNT accepts any). */
cairn_status cn_gguf_get_arr(const cn_gguf *g, const char *key, cn_gguf_vtype elem,
                             const cn_gguf_array **out, cn_err *err);

size_t cn_gguf_tensor_count(const cn_gguf *g);
const cn_gguf_tensor *cn_gguf_tensor_at(const cn_gguf *g, size_t i);
const cn_gguf_tensor *cn_gguf_tensor_find(const cn_gguf *g, const char *name); /* NULL if absent */

/* Writes a human-readable summary (version, key/values with arrays abbreviated, tensor
 * table) — what `cairn model info` prints. */
void cn_gguf_describe(const cn_gguf *g, cn_buf *out, bool json);

/* ---- writing (gguf_write.c) ----------------------------------------------------------- */

/* Collects key/values and tensors, then writes a GGUF v3 file crash-safely (temporary file,
 * fsync, rename, directory fsync; on failure no file is left behind and an existing one is
 * untouched). Keys, values (strings, arrays) and tensor data are borrowed: they must stay
 * valid until cn_gguf_writer_write returns. general.alignment (u32, default 32) is written
 * first unless the caller adds it; tensor data is padded to it. Numeric array elements are
 * the raw little-endian bytes, as cn_gguf_array holds them. */
typedef struct cn_gguf_writer cn_gguf_writer;

cairn_status cn_gguf_writer_new(cn_gguf_writer **out, cn_err *err);
void cn_gguf_writer_free(cn_gguf_writer *w);
cairn_status cn_gguf_writer_add_kv(cn_gguf_writer *w, const char *key, const cn_gguf_value *value, cn_err *err);
/* nbytes must be exactly what ne[0..n_dims) take in type (CAIRN_EINVAL otherwise). */
cairn_status cn_gguf_writer_add_tensor(cn_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                                       cn_ggml_type type, const void *data, uint64_t nbytes, cn_err *err);
cairn_status cn_gguf_writer_write(cn_gguf_writer *w, const char *path, cn_err *err);

#endif
