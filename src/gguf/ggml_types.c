/*
 * ggml_types.c — the ggml tensor type table and GGUF metadata value types.
 *
 * Block sizes and bytes per block are ggml's (ggml.c type_traits, the block_* structs and
 * their static_asserts in ggml-common.h); QK_K = 256 for the K-quants and the IQ/TQ types.
 * Derivations, so the numbers can be re-checked against the structs:
 *   Q4_0  32: d(2) + qs(16) = 18          Q4_1  32: d,m(4) + qs(16) = 20
 *   Q5_0  32: d(2) + qh(4) + qs(16) = 22  Q5_1  32: d,m(4) + qh(4) + qs(16) = 24
 *   Q8_0  32: d(2) + qs(32) = 34          Q8_1  32: d,s(4) + qs(32) = 36
 *   Q2_K 256: scales(16) + qs(64) + d,dmin(4) = 84
 *   Q3_K 256: hmask(32) + qs(64) + scales(12) + d(2) = 110
 *   Q4_K 256: d,dmin(4) + scales(12) + qs(128) = 144
 *   Q5_K 256: d,dmin(4) + scales(12) + qh(32) + qs(128) = 176
 *   Q6_K 256: ql(128) + qh(64) + scales(16) + d(2) = 210
 *   Q8_K 256: d(f32 4) + qs(256) + bsums(16 x i16 = 32) = 292
 *   IQ2_XXS 256: d(2) + qs(32 x u16) = 66     IQ2_XS 256: 66 + scales(8) = 74
 *   IQ3_XXS 256: d(2) + qs(96) = 98           IQ1_S 256: d(2) + qs(32) + qh(8 x u16) = 50
 *   IQ4_NL 32: d(2) + qs(16) = 18             IQ3_S 256: d(2) + qs(64) + qh(8) + signs(32) + scales(4) = 110
 *   IQ2_S 256: d(2) + qs(64) + qh(8) + scales(8) = 82
 *   IQ4_XS 256: d(2) + scales_h(2) + scales_l(4) + qs(128) = 136
 *   IQ1_M 256: qs(32) + qh(16) + scales(8) = 56
 *   TQ1_0 256: qs((256 - 4*4)/5 = 48) + qh(4) + d(2) = 54     TQ2_0 256: qs(64) + d(2) = 66
 *   MXFP4 32: e(1) + qs(16) = 17
 * Values ggml removed (4, 5: Q4_2/Q4_3; 31-33: Q4_0_4_4/4_8/8_8; 36-38: IQ4_NL_4_4/4_8/8_8)
 * have no entry: a file using them is rejected, and the message names them.
 */
#include "gguf/gguf_int.h"

#include <string.h>

static const cn_ggml_type_info type_table[CN_GGML_TYPE_LIMIT] = {
	[CN_GGML_F32] = {"F32", 1, 4},
	[CN_GGML_F16] = {"F16", 1, 2},
	[CN_GGML_Q4_0] = {"Q4_0", 32, 18},
	[CN_GGML_Q4_1] = {"Q4_1", 32, 20},
	[CN_GGML_Q5_0] = {"Q5_0", 32, 22},
	[CN_GGML_Q5_1] = {"Q5_1", 32, 24},
	[CN_GGML_Q8_0] = {"Q8_0", 32, 34},
	[CN_GGML_Q8_1] = {"Q8_1", 32, 36},
	[CN_GGML_Q2_K] = {"Q2_K", 256, 84},
	[CN_GGML_Q3_K] = {"Q3_K", 256, 110},
	[CN_GGML_Q4_K] = {"Q4_K", 256, 144},
	[CN_GGML_Q5_K] = {"Q5_K", 256, 176},
	[CN_GGML_Q6_K] = {"Q6_K", 256, 210},
	[CN_GGML_Q8_K] = {"Q8_K", 256, 292},
	[CN_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66},
	[CN_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
	[CN_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98},
	[CN_GGML_IQ1_S] = {"IQ1_S", 256, 50},
	[CN_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},
	[CN_GGML_IQ3_S] = {"IQ3_S", 256, 110},
	[CN_GGML_IQ2_S] = {"IQ2_S", 256, 82},
	[CN_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
	[CN_GGML_I8] = {"I8", 1, 1},
	[CN_GGML_I16] = {"I16", 1, 2},
	[CN_GGML_I32] = {"I32", 1, 4},
	[CN_GGML_I64] = {"I64", 1, 8},
	[CN_GGML_F64] = {"F64", 1, 8},
	[CN_GGML_IQ1_M] = {"IQ1_M", 256, 56},
	[CN_GGML_BF16] = {"BF16", 1, 2},
	[CN_GGML_TQ1_0] = {"TQ1_0", 256, 54},
	[CN_GGML_TQ2_0] = {"TQ2_0", 256, 66},
	[CN_GGML_MXFP4] = {"MXFP4", 32, 17},
};

const cn_ggml_type_info *cn_ggml_type_get(uint32_t t)
{
	if (t >= CN_GGML_TYPE_LIMIT || !type_table[t].name)
		return NULL;
	return &type_table[t];
}

const char *cn_ggml_type_name(uint32_t t)
{
	const cn_ggml_type_info *ti = cn_ggml_type_get(t);
	return ti ? ti->name : "unknown";
}

const char *cn_ggml_removed_type_name(uint32_t t)
{
	switch (t) {
	case 4: return "Q4_2";
	case 5: return "Q4_3";
	case 31: return "Q4_0_4_4";
	case 32: return "Q4_0_4_8";
	case 33: return "Q4_0_8_8";
	case 36: return "IQ4_NL_4_4";
	case 37: return "IQ4_NL_4_8";
	case 38: return "IQ4_NL_8_8";
	default: return NULL;
	}
}

bool cn_ggml_row_bytes(uint32_t t, uint64_t n, uint64_t *bytes)
{
	const cn_ggml_type_info *ti = cn_ggml_type_get(t);
	if (!ti || n % ti->block_size)
		return false;
	uint64_t blocks = n / ti->block_size;
	if (blocks > UINT64_MAX / ti->type_size)
		return false;
	*bytes = blocks * ti->type_size;
	return true;
}

/* ---- metadata value types ------------------------------------------------------------ */

static const char *const vtype_names[CN_GGUF_VTYPE_COUNT] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

const char *cn_gguf_vtype_name(uint32_t t) { return t < CN_GGUF_VTYPE_COUNT ? vtype_names[t] : "?"; }

/* Array accessors: elements are unaligned little-endian bytes in the file. Bytes per element
 * for the numeric kinds; 0 for string/array (callers never pass those). */
static size_t elem_size(cn_gguf_vtype t)
{
	switch (t) {
	case CN_GGUF_U8: case CN_GGUF_I8: case CN_GGUF_BOOL: return 1;
	case CN_GGUF_U16: case CN_GGUF_I16: return 2;
	case CN_GGUF_U32: case CN_GGUF_I32: case CN_GGUF_F32: return 4;
	case CN_GGUF_U64: case CN_GGUF_I64: case CN_GGUF_F64: return 8;
	default: return 0;
	}
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t cn_gguf_arr_u64(const cn_gguf_array *arr, uint64_t i)
{
	size_t es = elem_size(arr->type);
	if (!es || i >= arr->n)
		return 0;
	uint64_t v = load_le((const uint8_t *)arr->data + i * es, es);
	if (arr->type == CN_GGUF_BOOL)
		return v != 0;
	return v;
}

int64_t cn_gguf_arr_i64(const cn_gguf_array *arr, uint64_t i)
{
	size_t es = elem_size(arr->type);
	if (!es || i >= arr->n)
		return 0;
	uint64_t v = load_le((const uint8_t *)arr->data + i * es, es);
	switch (arr->type) {
	case CN_GGUF_I8: return (int8_t)v;
	case CN_GGUF_I16: return (int16_t)v;
	case CN_GGUF_I32: return (int32_t)v;
	case CN_GGUF_BOOL: return v != 0;
	default: return (int64_t)v; /* unsigned kinds and I64: two's complement reinterpretation */
	}
}

double cn_gguf_arr_f64(const cn_gguf_array *arr, uint64_t i)
{
	if (i >= arr->n)
		return 0;
	const uint8_t *p = (const uint8_t *)arr->data;
	if (arr->type == CN_GGUF_F32) {
		float f;
		memcpy(&f, p + i * 4, 4);
		return f;
	}
	if (arr->type == CN_GGUF_F64) {
		double d;
		memcpy(&d, p + i * 8, 8);
		return d;
	}
	return 0;
}
