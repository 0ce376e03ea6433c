/* gguf: the ggml type table against the block structs of ggml-common.h; a round trip through
 * GGUF files built here by a small writer (v2 and v3, every value type, nested arrays, several
 * tensor types, non-default alignment); typed getters; every prefix of a valid file and every
 * allocation failure; the corrupt files of tests/corrupt/gguf/ against their EXPECT manifest;
 * llama2.c checkpoints (synthetic, and stories260K.bin compared tensor by tensor, byte for byte,
 * with the converter's stories260K.gguf); the vocab GGUFs of ../shared/models/vocab against
 * their SOURCE.md table and against an independent Python reader (tests/reference/gguf_dump.py)
 * through the describe JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static const char *shared_dir(void)
{
	const char *s = getenv("CAIRN_SHARED");
	return s && *s ? s : "../shared";
}

static bool str_eq(cn_gguf_str s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

/* ---- the type table ------------------------------------------------------------------------ */

static void test_type_table(void **state)
{
	(void)state;
	/* from the block_* structs in ggml-common.h (sizes spelt out as the structs' fields) */
	static const struct { uint32_t t; const char *name; uint32_t bs, ts; } want[] = {
		{0, "F32", 1, 4}, {1, "F16", 1, 2}, {2, "Q4_0", 32, 2 + 16}, {3, "Q4_1", 32, 2 + 2 + 16},
		{6, "Q5_0", 32, 2 + 4 + 16}, {7, "Q5_1", 32, 2 + 2 + 4 + 16}, {8, "Q8_0", 32, 2 + 32},
		{9, "Q8_1", 32, 2 + 2 + 32}, {10, "Q2_K", 256, 256 / 16 + 256 / 4 + 2 + 2},
		{11, "Q3_K", 256, 256 / 8 + 256 / 4 + 12 + 2}, {12, "Q4_K", 256, 2 + 2 + 12 + 256 / 2},
		{13, "Q5_K", 256, 2 + 2 + 12 + 256 / 8 + 256 / 2}, {14, "Q6_K", 256, 256 / 2 + 256 / 4 + 256 / 16 + 2},
		{15, "Q8_K", 256, 4 + 256 + 256 / 16 * 2}, {16, "IQ2_XXS", 256, 2 + 256 / 8 * 2},
		{17, "IQ2_XS", 256, 2 + 256 / 8 * 2 + 256 / 32}, {18, "IQ3_XXS", 256, 2 + 3 * 256 / 8},
		{19, "IQ1_S", 256, 2 + 256 / 8 + 256 / 32 * 2}, {20, "IQ4_NL", 32, 2 + 16},
		{21, "IQ3_S", 256, 2 + 256 / 4 + 256 / 32 + 256 / 8 + 256 / 64}, {22, "IQ2_S", 256, 2 + 256 / 4 + 256 / 16},
		{23, "IQ4_XS", 256, 2 + 2 + 256 / 64 + 256 / 2}, {24, "I8", 1, 1}, {25, "I16", 1, 2}, {26, "I32", 1, 4},
		{27, "I64", 1, 8}, {28, "F64", 1, 8}, {29, "IQ1_M", 256, 256 / 8 + 256 / 16 + 256 / 32},
		{30, "BF16", 1, 2}, {34, "TQ1_0", 256, (256 - 4 * 256 / 64) / 5 + 256 / 64 + 2},
		{35, "TQ2_0", 256, 256 / 4 + 2}, {39, "MXFP4", 32, 1 + 16},
	};
	bool seen[64] = {false};
	for (size_t i = 0; i < CN_ARRAY_LEN(want); i++) {
		const cn_ggml_type_info *ti = cn_ggml_type_get(want[i].t);
		assert_non_null(ti);
		assert_string_equal(ti->name, want[i].name);
		assert_string_equal(cn_ggml_type_name(want[i].t), want[i].name);
		assert_int_equal(ti->block_size, want[i].bs);
		assert_int_equal(ti->type_size, want[i].ts);
		seen[want[i].t] = true;
	}
	for (uint32_t t = 0; t < 64; t++)
		if (!seen[t]) {
			assert_null(cn_ggml_type_get(t));
			assert_string_equal(cn_ggml_type_name(t), "unknown");
		}
	assert_null(cn_ggml_type_get(UINT32_MAX));
	uint64_t b;
	assert_true(cn_ggml_row_bytes(CN_GGML_Q4_K, 512, &b));
	assert_int_equal(b, 288);
	assert_false(cn_ggml_row_bytes(CN_GGML_Q4_K, 500, &b));
	assert_false(cn_ggml_row_bytes(4, 32, &b));
	assert_false(cn_ggml_row_bytes(CN_GGML_F64, UINT64_MAX / 4, &b)); /* 8 * n overflows */
	assert_true(cn_ggml_row_bytes(CN_GGML_MXFP4, 64, &b));
	assert_int_equal(b, 34);
	assert_string_equal(cn_gguf_vtype_name(CN_GGUF_STRING), "string");
	assert_string_equal(cn_gguf_vtype_name(13), "?");
}

/* ---- a test-only GGUF writer ---------------------------------------------------------------- */

static void w_str(cn_buf *b, const char *s)
{
	cn_buf_put_u64le(b, strlen(s));
	cn_buf_append(b, s, strlen(s));
}
static void w_key(cn_buf *b, const char *k, uint32_t t)
{
	w_str(b, k);
	cn_buf_put_u32le(b, t);
}
static void w_u16(cn_buf *b, uint16_t v) { cn_buf_append(b, &v, 2); }
static void w_f32(cn_buf *b, float v) { cn_buf_append(b, &v, 4); }
static void w_f64(cn_buf *b, double v) { cn_buf_append(b, &v, 8); }
static void w_arr(cn_buf *b, uint32_t et, uint64_t n)
{
	cn_buf_put_u32le(b, et);
	cn_buf_put_u64le(b, n);
}

typedef struct tspec {
	const char *name;
	uint32_t n_dims;
	int64_t ne[4];
	uint32_t type;
	uint64_t nbytes; /* expected, computed by hand */
} tspec;

static const tspec sample_tensors[] = {
	{"f32", 2, {4, 3, 1, 1}, CN_GGML_F32, 48},
	{"blk.0.q8", 2, {64, 2, 1, 1}, CN_GGML_Q8_0, 2 * 2 * 34},
	{"q4k", 1, {256, 1, 1, 1}, CN_GGML_Q4_K, 144},
	{"bf16", 4, {2, 2, 2, 2}, CN_GGML_BF16, 32},
	{"i32", 1, {5, 1, 1, 1}, CN_GGML_I32, 20},
	{"iq2xxs", 3, {256, 1, 3, 1}, CN_GGML_IQ2_XXS, 3 * 66},
};
#define N_SAMPLE CN_ARRAY_LEN(sample_tensors)

static uint8_t pattern(size_t tensor, uint64_t i) { return (uint8_t)(tensor * 31 + i * 7 + 1); }

/* A GGUF with one key of every scalar type, arrays of each kind, nested arrays, and the
 * sample tensors packed at `align` (written as general.alignment unless 32). */
static void build_sample(cn_buf *b, uint32_t version, uint32_t align, uint64_t *data_start)
{
	cn_buf_init(b);
	bool put_align = align != 32;
	cn_buf_append(b, "GGUF", 4);
	cn_buf_put_u32le(b, version);
	cn_buf_put_u64le(b, N_SAMPLE);
	cn_buf_put_u64le(b, 23 + put_align);
	w_key(b, "general.architecture", CN_GGUF_STRING), w_str(b, "test");
	if (put_align)
		w_key(b, "general.alignment", CN_GGUF_U32), cn_buf_put_u32le(b, align);
	w_key(b, "v.u8", CN_GGUF_U8), cn_buf_putc(b, (char)250);
	w_key(b, "v.i8", CN_GGUF_I8), cn_buf_putc(b, (char)-7);
	w_key(b, "v.u16", CN_GGUF_U16), w_u16(b, 65000);
	w_key(b, "v.i16", CN_GGUF_I16), w_u16(b, (uint16_t)-300);
	w_key(b, "v.u32", CN_GGUF_U32), cn_buf_put_u32le(b, 4000000000u);
	w_key(b, "v.i32", CN_GGUF_I32), cn_buf_put_u32le(b, (uint32_t)-123456);
	w_key(b, "v.f32", CN_GGUF_F32), w_f32(b, 0.1f);
	w_key(b, "v.bool", CN_GGUF_BOOL), cn_buf_putc(b, 1);
	w_key(b, "v.bool0", CN_GGUF_BOOL), cn_buf_putc(b, 0);
	w_key(b, "v.str", CN_GGUF_STRING), w_str(b, "h\xc3\xa9llo \xff");
	w_key(b, "v.u64", CN_GGUF_U64), cn_buf_put_u64le(b, 0xFFFFFFFFFFFFFFFFull);
	w_key(b, "v.i64", CN_GGUF_I64), cn_buf_put_u64le(b, (uint64_t)INT64_MIN);
	w_key(b, "v.f64", CN_GGUF_F64), w_f64(b, -1e300);
	w_key(b, "v.small_u64", CN_GGUF_U64), cn_buf_put_u64le(b, 17);
	w_key(b, "a.i16", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_I16, 3), w_u16(b, 1), w_u16(b, (uint16_t)-2), w_u16(b, 300);
	w_key(b, "a.f32", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_F32, 2), w_f32(b, 1.5f), w_f32(b, -0.25f);
	w_key(b, "a.f64", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_F64, 1), w_f64(b, 3.125);
	w_key(b, "a.u64", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_U64, 2), cn_buf_put_u64le(b, 1), cn_buf_put_u64le(b, 1ull << 40);
	w_key(b, "a.bool", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_BOOL, 3), cn_buf_putc(b, 1), cn_buf_putc(b, 0), cn_buf_putc(b, 1);
	w_key(b, "a.str", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_STRING, 3), w_str(b, "a"), w_str(b, ""), w_str(b, "xyz");
	w_key(b, "a.empty", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_I8, 0);
	/* [[u16: 7, 8], [string: "p"], [[i8: -1]], []] */
	w_key(b, "a.nested", CN_GGUF_ARRAY), w_arr(b, CN_GGUF_ARRAY, 4);
	w_arr(b, CN_GGUF_U16, 2), w_u16(b, 7), w_u16(b, 8);
	w_arr(b, CN_GGUF_STRING, 1), w_str(b, "p");
	w_arr(b, CN_GGUF_ARRAY, 1), w_arr(b, CN_GGUF_I8, 1), cn_buf_putc(b, (char)-1);
	w_arr(b, CN_GGUF_U32, 0);
	uint64_t off = 0;
	for (size_t i = 0; i < N_SAMPLE; i++) {
		const tspec *t = &sample_tensors[i];
		w_str(b, t->name);
		cn_buf_put_u32le(b, t->n_dims);
		for (uint32_t d = 0; d < t->n_dims; d++)
			cn_buf_put_u64le(b, (uint64_t)t->ne[d]);
		cn_buf_put_u32le(b, t->type);
		cn_buf_put_u64le(b, off);
		off = (off + t->nbytes + align - 1) / align * align;
	}
	cn_buf_pad(b, align);
	*data_start = b->len;
	for (size_t i = 0; i < N_SAMPLE; i++) {
		const tspec *t = &sample_tensors[i];
		for (uint64_t j = 0; j < t->nbytes; j++)
			cn_buf_putc(b, (char)pattern(i, j));
		cn_buf_pad(b, align);
	}
}

static const cn_gguf_kv *kv_ok(const cn_gguf *g, const char *key, cn_gguf_vtype t)
{
	const cn_gguf_kv *kv = cn_gguf_find(g, key);
	if (!kv)
		fail_msg("key %s missing", key);
	assert_int_equal(kv->value.type, t);
	return kv;
}

static void check_sample(const cn_gguf *g, const cn_buf *b, uint32_t version, uint32_t align, uint64_t data_start)
{
	assert_int_equal(cn_gguf_format(g), CN_MODEL_GGUF);
	assert_int_equal(cn_gguf_version(g), version);
	assert_int_equal(cn_gguf_alignment(g), align);
	assert_int_equal(cn_gguf_size(g), b->len);
	assert_int_equal(cn_gguf_kv_count(g), 23 + (align != 32));
	assert_true(str_eq(cn_gguf_kv_at(g, 0)->key, "general.architecture"));
	assert_null(cn_gguf_kv_at(g, 1000));
	assert_null(cn_gguf_find(g, "v.u"));
	assert_int_equal(kv_ok(g, "v.u8", CN_GGUF_U8)->value.v.u64, 250);
	assert_int_equal(kv_ok(g, "v.i8", CN_GGUF_I8)->value.v.i64, -7);
	assert_int_equal(kv_ok(g, "v.u16", CN_GGUF_U16)->value.v.u64, 65000);
	assert_int_equal(kv_ok(g, "v.i16", CN_GGUF_I16)->value.v.i64, -300);
	assert_int_equal(kv_ok(g, "v.u32", CN_GGUF_U32)->value.v.u64, 4000000000u);
	assert_int_equal(kv_ok(g, "v.i32", CN_GGUF_I32)->value.v.i64, -123456);
	assert_true(kv_ok(g, "v.f32", CN_GGUF_F32)->value.v.f64 == (double)0.1f);
	assert_true(kv_ok(g, "v.bool", CN_GGUF_BOOL)->value.v.b);
	assert_false(kv_ok(g, "v.bool0", CN_GGUF_BOOL)->value.v.b);
	assert_true(str_eq(kv_ok(g, "v.str", CN_GGUF_STRING)->value.v.str, "h\xc3\xa9llo \xff"));
	assert_true(kv_ok(g, "v.u64", CN_GGUF_U64)->value.v.u64 == UINT64_MAX);
	assert_true(kv_ok(g, "v.i64", CN_GGUF_I64)->value.v.i64 == INT64_MIN);
	assert_true(kv_ok(g, "v.f64", CN_GGUF_F64)->value.v.f64 == -1e300);

	const cn_gguf_array *a = &kv_ok(g, "a.i16", CN_GGUF_ARRAY)->value.v.arr;
	assert_int_equal(a->type, CN_GGUF_I16);
	assert_int_equal(a->n, 3);
	assert_int_equal(cn_gguf_arr_i64(a, 0), 1);
	assert_int_equal(cn_gguf_arr_i64(a, 1), -2);
	assert_int_equal(cn_gguf_arr_i64(a, 2), 300);
	a = &kv_ok(g, "a.f32", CN_GGUF_ARRAY)->value.v.arr;
	assert_true(cn_gguf_arr_f64(a, 0) == 1.5 && cn_gguf_arr_f64(a, 1) == -0.25);
	a = &kv_ok(g, "a.f64", CN_GGUF_ARRAY)->value.v.arr;
	assert_true(cn_gguf_arr_f64(a, 0) == 3.125);
	a = &kv_ok(g, "a.u64", CN_GGUF_ARRAY)->value.v.arr;
	assert_true(cn_gguf_arr_u64(a, 0) == 1 && cn_gguf_arr_u64(a, 1) == 1ull << 40);
	a = &kv_ok(g, "a.bool", CN_GGUF_ARRAY)->value.v.arr;
	assert_true(cn_gguf_arr_u64(a, 0) == 1 && cn_gguf_arr_u64(a, 1) == 0 && cn_gguf_arr_u64(a, 2) == 1);
	a = &kv_ok(g, "a.str", CN_GGUF_ARRAY)->value.v.arr;
	assert_int_equal(a->type, CN_GGUF_STRING);
	const cn_gguf_str *ss = a->data;
	assert_true(str_eq(ss[0], "a") && str_eq(ss[1], "") && str_eq(ss[2], "xyz"));
	a = &kv_ok(g, "a.empty", CN_GGUF_ARRAY)->value.v.arr;
	assert_int_equal(a->n, 0);
	assert_int_equal(a->type, CN_GGUF_I8);
	a = &kv_ok(g, "a.nested", CN_GGUF_ARRAY)->value.v.arr;
	assert_int_equal(a->type, CN_GGUF_ARRAY);
	assert_int_equal(a->n, 4);
	const cn_gguf_value *sub = a->data;
	assert_int_equal(sub[0].type, CN_GGUF_ARRAY);
	assert_int_equal(sub[0].v.arr.type, CN_GGUF_U16);
	assert_int_equal(cn_gguf_arr_u64(&sub[0].v.arr, 1), 8);
	assert_true(str_eq(((const cn_gguf_str *)sub[1].v.arr.data)[0], "p"));
	const cn_gguf_value *deep = sub[2].v.arr.data;
	assert_int_equal(deep[0].v.arr.type, CN_GGUF_I8);
	assert_int_equal(cn_gguf_arr_i64(&deep[0].v.arr, 0), -1);
	assert_int_equal(sub[3].v.arr.n, 0);

	assert_int_equal(cn_gguf_tensor_count(g), N_SAMPLE);
	uint64_t off = 0;
	for (size_t i = 0; i < N_SAMPLE; i++) {
		const tspec *s = &sample_tensors[i];
		const cn_gguf_tensor *t = cn_gguf_tensor_at(g, i);
		assert_ptr_equal(cn_gguf_tensor_find(g, s->name), t);
		assert_true(str_eq(t->name, s->name));
		assert_int_equal(t->n_dims, s->n_dims);
		for (int d = 0; d < 4; d++)
			assert_int_equal(t->ne[d], s->ne[d]);
		assert_int_equal(t->type, s->type);
		assert_int_equal(t->nbytes, s->nbytes);
		assert_int_equal(t->offset, data_start + off);
		assert_ptr_equal(t->data, (const uint8_t *)b->data + t->offset);
		for (uint64_t j = 0; j < s->nbytes; j++)
			assert_int_equal(((const uint8_t *)t->data)[j], pattern(i, j));
		off = (off + s->nbytes + align - 1) / align * align;
	}
	assert_null(cn_gguf_tensor_at(g, N_SAMPLE));
	assert_null(cn_gguf_tensor_find(g, "nope"));
}

static void test_round_trip(void **state)
{
	(void)state;
	static const struct { uint32_t version, align; } cases[] = {{3, 32}, {2, 32}, {3, 64}, {2, 1}, {3, 4096}, {3, 8}};
	for (size_t c = 0; c < CN_ARRAY_LEN(cases); c++) {
		cn_buf b;
		uint64_t start;
		build_sample(&b, cases[c].version, cases[c].align, &start);
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		if (cn_gguf_open_mem(b.data, b.len, "sample.gguf", &g, &err) != CAIRN_OK)
			fail_msg("v%u align %u: %s", cases[c].version, cases[c].align, err.msg);
		check_sample(g, &b, cases[c].version, cases[c].align, start);
		assert_string_equal(cn_gguf_path(g), "sample.gguf");
		cn_gguf_close(g);
		cn_buf_free(&b);
	}
}

/* Through a real file: the mapped path. */
static void test_open_path(void **state)
{
	(void)state;
	cn_buf b;
	uint64_t start;
	build_sample(&b, 3, 32, &start);
	char path[] = "/tmp/cairn-gguf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "wb");
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	cn_gguf *g = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_open(path, &g, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_tensor_count(g), N_SAMPLE);
	const cn_gguf_tensor *t = cn_gguf_tensor_find(g, "q4k");
	assert_int_equal(memcmp(t->data, b.data + t->offset, t->nbytes), 0);
	assert_int_equal((uintptr_t)t->data % 32, 0); /* the mapping is page-aligned */
	cn_gguf_close(g);
	remove(path);
	cn_buf_free(&b);
	assert_int_equal(cn_gguf_open("/nonexistent/x.gguf", &g, &err), CAIRN_ENOTFOUND);
	assert_null(g);
	assert_non_null(strstr(err.msg, "/nonexistent/x.gguf"));
}

static void test_getters(void **state)
{
	(void)state;
	cn_buf b;
	uint64_t start;
	build_sample(&b, 3, 32, &start);
	cn_gguf *g = NULL;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_open_mem(b.data, b.len, "s.gguf", &g, &err), CAIRN_OK);
	uint32_t u;
	int64_t i;
	float f;
	bool bo;
	cn_gguf_str s;
	const cn_gguf_array *a;
	assert_int_equal(cn_gguf_get_u32(g, "v.u8", &u, &err), CAIRN_OK);
	assert_int_equal(u, 250);
	assert_int_equal(cn_gguf_get_u32(g, "v.u32", &u, &err), CAIRN_OK);
	assert_int_equal(u, 4000000000u);
	assert_int_equal(cn_gguf_get_u32(g, "v.small_u64", &u, &err), CAIRN_OK);
	assert_int_equal(u, 17);
	/* absent: ENOTFOUND and err untouched */
	assert_int_equal(cn_gguf_get_u32(g, "no.such", &u, &err), CAIRN_ENOTFOUND);
	assert_int_equal(cn_gguf_get_str(g, "no.such", &s, &err), CAIRN_ENOTFOUND);
	assert_int_equal(err.code, CAIRN_OK);
	/* does not fit / wrong type */
	assert_int_equal(cn_gguf_get_u32(g, "v.i8", &u, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "v.i8"));
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_u32(g, "v.u64", &u, &err), CAIRN_EFORMAT);
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_u32(g, "v.str", &u, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "has type string"));
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_i64(g, "v.i64", &i, &err), CAIRN_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(cn_gguf_get_i64(g, "v.u32", &i, &err), CAIRN_OK);
	assert_int_equal(i, 4000000000ll);
	assert_int_equal(cn_gguf_get_i64(g, "v.u64", &i, &err), CAIRN_EFORMAT);
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_f32(g, "v.f32", &f, &err), CAIRN_OK);
	assert_true(f == 0.1f);
	assert_int_equal(cn_gguf_get_f32(g, "v.u8", &f, &err), CAIRN_EFORMAT);
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_bool(g, "v.bool", &bo, &err), CAIRN_OK);
	assert_true(bo);
	assert_int_equal(cn_gguf_get_bool(g, "v.u8", &bo, &err), CAIRN_EFORMAT);
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_str(g, "general.architecture", &s, &err), CAIRN_OK);
	assert_true(str_eq(s, "test"));
	assert_int_equal(cn_gguf_get_arr(g, "a.str", CN_GGUF_STRING, &a, &err), CAIRN_OK);
	assert_int_equal(a->n, 3);
	assert_int_equal(cn_gguf_get_arr(g, "a.str", CN_GGUF_VTYPE_COUNT, &a, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_get_arr(g, "a.str", CN_GGUF_I32, &a, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "array of string"));
	cn_err_clear(&err);
	assert_int_equal(cn_gguf_get_arr(g, "v.u8", CN_GGUF_VTYPE_COUNT, &a, &err), CAIRN_EFORMAT);
	cn_gguf_close(g);
	cn_buf_free(&b);
}

/* Every proper prefix of a valid file fails cleanly (EFORMAT, a message, no object). */
static void test_truncations(void **state)
{
	(void)state;
	cn_buf b;
	uint64_t start;
	build_sample(&b, 3, 32, &start);
	uint64_t data_end = 0;
	{
		cn_gguf *g;
		cn_err err;
		assert_int_equal(cn_gguf_open_mem(b.data, b.len, "full.gguf", &g, &err), CAIRN_OK);
		const cn_gguf_tensor *last = cn_gguf_tensor_at(g, N_SAMPLE - 1);
		data_end = last->offset + last->nbytes;
		cn_gguf_close(g);
	}
	assert_true(data_end < b.len);
	for (size_t n = 0; n < b.len; n++) {
		/* a heap copy of exactly n bytes, so ASan sees any read past the end */
		char *copy = malloc(n ? n : 1);
		memcpy(copy, b.data, n);
		cn_gguf *g = (cn_gguf *)1;
		cn_err err;
		cn_err_clear(&err);
		cairn_status st = cn_gguf_open_mem(copy, n, "cut.gguf", &g, &err);
		if (st == CAIRN_OK && n >= data_end) { /* only the last tensor's padding is missing */
			cn_gguf_close(g);
			free(copy);
			continue;
		}
		if (st != CAIRN_EFORMAT)
			fail_msg("prefix %zu: status %d (%s)", n, st, err.msg);
		assert_null(g);
		assert_non_null(strstr(err.msg, "cut.gguf: "));
		free(copy);
	}
	cn_buf_free(&b);
}

/* Each allocation failing in turn: ENOMEM or success, never a leak or crash. */
static void test_alloc_failures(void **state)
{
	(void)state;
	cn_buf b;
	uint64_t start;
	build_sample(&b, 3, 64, &start);
	int ok_at = -1;
	for (int n = 1; n < 200 && ok_at < 0; n++) {
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		cn_alloc_fail_after(n);
		cairn_status st = cn_gguf_open_mem(b.data, b.len, "oom.gguf", &g, &err);
		cn_alloc_fail_after(0);
		if (st == CAIRN_OK) {
			check_sample(g, &b, 3, 64, start);
			cn_gguf_close(g);
			ok_at = n;
		} else {
			assert_int_equal(st, CAIRN_ENOMEM);
			assert_null(g);
		}
	}
	assert_true(ok_at > 1);
	cn_buf_free(&b);
}

/* ---- corrupt files ---------------------------------------------------------------------------- */

static cairn_status status_from_name(const char *s)
{
	static const struct { const char *n; cairn_status st; } m[] = {
		{"CAIRN_EFORMAT", CAIRN_EFORMAT}, {"CAIRN_EUNSUPPORTED", CAIRN_EUNSUPPORTED},
		{"CAIRN_ECORRUPT", CAIRN_ECORRUPT}, {"CAIRN_ETOOBIG", CAIRN_ETOOBIG},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(m); i++)
		if (strcmp(s, m[i].n) == 0)
			return m[i].st;
	fail_msg("EXPECT: unknown status %s", s);
	return CAIRN_OK;
}

static void test_corrupt_files(void **state)
{
	(void)state;
	const char *dir = "tests/corrupt/gguf";
	char *manifest;
	size_t len;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read("tests/corrupt/gguf/EXPECT", 1 << 20, &manifest, &len, &err) != CAIRN_OK)
		fail_msg("%s", err.msg);
	char files[128][64];
	size_t n_files = 0;
	for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || !line[0])
			continue;
		char *t1 = strchr(line, '\t');
		assert_non_null(t1);
		char *t2 = strchr(t1 + 1, '\t');
		assert_non_null(t2);
		*t1 = *t2 = '\0';
		const char *file = line, *status = t1 + 1, *frag = t2 + 1;
		assert_true(n_files < 128 && strlen(file) < 64);
		strcpy(files[n_files++], file);
		char path[256];
		snprintf(path, sizeof path, "%s/%s", dir, file);
		cn_gguf *g = (cn_gguf *)1;
		cn_err_clear(&err);
		cairn_status st = cn_gguf_open(path, &g, &err);
		if (st != status_from_name(status) || !strstr(err.msg, frag) || !strstr(err.msg, path))
			fail_msg("%s: got status %d, message \"%s\"; expected %s and \"%s\"", file, st, err.msg, status, frag);
		assert_null(g);
		/* the same bytes through the in-memory entry point give the same answer */
		char *data;
		size_t dlen;
		assert_int_equal(cn_file_read(path, 1 << 20, &data, &dlen, &err), CAIRN_OK);
		cn_err e2;
		cn_err_clear(&e2);
		assert_int_equal(cn_gguf_open_mem(dlen ? data : "", dlen, path, &g, &e2), st);
		assert_string_equal(e2.msg, err.msg);
		cn_free(data);
	}
	cn_free(manifest);
	assert_true(n_files >= 40);
	/* every file in the folder has an expectation */
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "make.py") || !strcmp(e->d_name, "README.md") ||
		    !strcmp(e->d_name, "EXPECT"))
			continue;
		bool found = false;
		for (size_t i = 0; i < n_files && !found; i++)
			found = strcmp(files[i], e->d_name) == 0;
		if (!found)
			fail_msg("tests/corrupt/gguf/%s has no line in EXPECT", e->d_name);
	}
	closedir(d);
}

/* ---- llama2.c --------------------------------------------------------------------------------- */

/* A legacy (version 0) or version 1 checkpoint; float i of the weights is i. */
static void build_l2c(cn_buf *b, int version, int32_t dim, int32_t hidden, int32_t L, int32_t heads, int32_t kvh,
                      int32_t vocab, int32_t seq, bool shared)
{
	cn_buf_init(b);
	int32_t hdr[7] = {dim, hidden, L, heads, kvh, vocab, seq};
	int64_t V = vocab < 0 ? -vocab : vocab, kv_dim = dim / heads * kvh, hs = dim / heads;
	int64_t n = V * dim + L * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim;
	if (version == 1) {
		cn_buf_put_u32le(b, 0x616b3432);
		cn_buf_put_u32le(b, 1);
		cn_buf_append(b, hdr, sizeof hdr);
		cn_buf_putc(b, shared);
		cn_buf_pad(b, 256);
		if (!shared)
			n += V * dim;
	} else {
		cn_buf_append(b, hdr, sizeof hdr);
		n += seq * hs;
		if (vocab < 0)
			n += V * dim;
	}
	for (int64_t i = 0; i < n; i++)
		w_f32(b, (float)i);
}

static float f_at(const cn_gguf_tensor *t, int64_t i)
{
	float f;
	memcpy(&f, (const uint8_t *)t->data + i * 4, 4);
	return f;
}

typedef struct l2c_want { const char *name; int64_t ne0, ne1; int64_t first; } l2c_want;

static void check_l2c(const cn_gguf *g, const l2c_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const cn_gguf_tensor *t = cn_gguf_tensor_find(g, w[i].name);
		if (!t)
			fail_msg("missing %s", w[i].name);
		assert_int_equal(t->type, CN_GGML_F32);
		assert_int_equal(t->ne[0], w[i].ne0);
		assert_int_equal(t->ne[1], w[i].ne1);
		assert_int_equal(t->n_dims, w[i].ne1 > 1 ? 2 : 1);
		assert_int_equal(t->nbytes, w[i].ne0 * w[i].ne1 * 4);
		if (f_at(t, 0) != (float)w[i].first)
			fail_msg("%s starts with float %g, expected %lld", w[i].name, f_at(t, 0), (long long)w[i].first);
		assert_true(f_at(t, w[i].ne0 * w[i].ne1 - 1) == (float)(w[i].first + w[i].ne0 * w[i].ne1 - 1));
	}
}

static void test_llama2c_synthetic(void **state)
{
	(void)state;
	/* dim 8, hidden 12, 2 layers, 4 heads, 2 kv heads (kv_dim 4), vocab 5, seq 3 */
	const int64_t D = 8, H = 12, KV = 4, V = 5;
	for (int unshared = 0; unshared < 2; unshared++) {
		cn_buf b;
		build_l2c(&b, 0, 8, 12, 2, 4, 2, unshared ? -5 : 5, 3, !unshared);
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		if (cn_gguf_open_mem(b.data, b.len, "dir/tiny.model.bin", &g, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(cn_gguf_format(g), CN_MODEL_LLAMA2C);
		assert_int_equal(cn_gguf_version(g), 0);
		assert_int_equal(cn_gguf_tensor_count(g), 3 + 9 * 2);
		/* float offsets in llama2.c's order */
		int64_t emb = 0, att = emb + V * D, wq = att + 2 * D, wk = wq + 2 * D * D, wv = wk + 2 * KV * D,
		        wo = wv + 2 * KV * D, ffn = wo + 2 * D * D, w1 = ffn + 2 * D, w2 = w1 + 2 * H * D,
		        w3 = w2 + 2 * D * H, fin = w3 + 2 * H * D, cls = fin + D + 2 * 3 * (D / 4 / 2);
		const l2c_want w[] = {
			{"token_embd.weight", D, V, emb}, {"output_norm.weight", D, 1, fin},
			{"output.weight", D, V, unshared ? cls : emb},
			{"blk.0.attn_norm.weight", D, 1, att}, {"blk.1.attn_norm.weight", D, 1, att + D},
			{"blk.0.attn_q.weight", D, D, wq}, {"blk.1.attn_q.weight", D, D, wq + D * D},
			{"blk.0.attn_k.weight", D, KV, wk}, {"blk.1.attn_k.weight", D, KV, wk + KV * D},
			{"blk.0.attn_v.weight", D, KV, wv}, {"blk.1.attn_v.weight", D, KV, wv + KV * D},
			{"blk.0.attn_output.weight", D, D, wo}, {"blk.1.attn_output.weight", D, D, wo + D * D},
			{"blk.0.ffn_norm.weight", D, 1, ffn}, {"blk.1.ffn_norm.weight", D, 1, ffn + D},
			{"blk.0.ffn_gate.weight", D, H, w1}, {"blk.1.ffn_gate.weight", D, H, w1 + H * D},
			{"blk.0.ffn_down.weight", H, D, w2}, {"blk.1.ffn_down.weight", H, D, w2 + D * H},
			{"blk.0.ffn_up.weight", D, H, w3}, {"blk.1.ffn_up.weight", D, H, w3 + H * D},
		};
		check_l2c(g, w, CN_ARRAY_LEN(w));
		if (!unshared)
			assert_ptr_equal(cn_gguf_tensor_find(g, "output.weight")->data,
			                 cn_gguf_tensor_find(g, "token_embd.weight")->data);
		cn_gguf_str s;
		assert_int_equal(cn_gguf_get_str(g, "general.architecture", &s, &err), CAIRN_OK);
		assert_true(str_eq(s, "llama"));
		assert_int_equal(cn_gguf_get_str(g, "general.name", &s, &err), CAIRN_OK);
		assert_true(str_eq(s, "tiny.model"));
		static const struct { const char *k; uint32_t v; } u[] = {
			{"llama.context_length", 3}, {"llama.embedding_length", 8}, {"llama.feed_forward_length", 12},
			{"llama.block_count", 2}, {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
			{"llama.rope.dimension_count", 2}, {"llama.vocab_size", 5},
		};
		for (size_t i = 0; i < CN_ARRAY_LEN(u); i++) {
			uint32_t v = 0;
			assert_int_equal(cn_gguf_get_u32(g, u[i].k, &v, &err), CAIRN_OK);
			assert_int_equal(v, u[i].v);
		}
		float eps;
		assert_int_equal(kv_ok(g, "llama.attention.layer_norm_rms_epsilon", CN_GGUF_F32)->value.type, CN_GGUF_F32);
		assert_int_equal(cn_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps, &err), CAIRN_OK);
		assert_true(eps == 1e-5f);
		cn_buf out;
		cn_buf_init(&out);
		cn_gguf_describe(g, &out, false);
		assert_non_null(strstr(out.data, "llama2.c checkpoint"));
		assert_non_null(strstr(out.data, "blk.1.ffn_up.weight"));
		cn_buf_free(&out);
		cn_gguf_close(g);

		/* one byte more or less is rejected */
		assert_int_equal(cn_gguf_open_mem(b.data, b.len - 1, "short.bin", &g, &err), CAIRN_EFORMAT);
		assert_non_null(strstr(err.msg, "implies"));
		cn_buf_free(&b);
	}

	/* version 1: norms first, no freq_cis */
	for (int shared = 0; shared < 2; shared++) {
		cn_buf b;
		build_l2c(&b, 1, 8, 12, 2, 4, 2, 5, 3, shared);
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		if (cn_gguf_open_mem(b.data, b.len, "v1.bin", &g, &err))
			fail_msg("%s", err.msg);
		int64_t att = 0, ffn = 2 * D, fin = 4 * D, emb = 5 * D, wq = emb + V * D, wk = wq + 2 * D * D,
		        wv = wk + 2 * KV * D, wo = wv + 2 * KV * D, w1 = wo + 2 * D * D, w2 = w1 + 2 * H * D,
		        w3 = w2 + 2 * D * H, cls = w3 + 2 * H * D;
		const l2c_want w[] = {
			{"token_embd.weight", D, V, emb}, {"output_norm.weight", D, 1, fin},
			{"output.weight", D, V, shared ? emb : cls}, {"blk.1.attn_norm.weight", D, 1, att + D},
			{"blk.1.ffn_norm.weight", D, 1, ffn + D}, {"blk.1.attn_q.weight", D, D, wq + D * D},
			{"blk.1.attn_k.weight", D, KV, wk + KV * D}, {"blk.0.attn_v.weight", D, KV, wv},
			{"blk.1.attn_output.weight", D, D, wo + D * D}, {"blk.1.ffn_gate.weight", D, H, w1 + H * D},
			{"blk.1.ffn_down.weight", H, D, w2 + D * H}, {"blk.1.ffn_up.weight", D, H, w3 + H * D},
		};
		/* v1 floats start after the 256-byte header: shift by the 256/4 floats it occupies */
		for (size_t i = 0; i < CN_ARRAY_LEN(w); i++) {
			const cn_gguf_tensor *t = cn_gguf_tensor_find(g, w[i].name);
			assert_non_null(t);
			assert_int_equal(t->offset, 256 + (uint64_t)w[i].first * 4);
		}
		check_l2c(g, w, CN_ARRAY_LEN(w));
		cn_gguf_close(g);
		cn_buf_free(&b);
	}
}

/* stories260K.bin (llama2.c legacy) against stories260K.gguf (llama.cpp's converter). */
static void test_stories260k(void **state)
{
	(void)state;
	char bin[512], gg[512];
	snprintf(bin, sizeof bin, "%s/models/stories260K/stories260K.bin", shared_dir());
	snprintf(gg, sizeof gg, "%s/models/stories260K/stories260K.gguf", shared_dir());
	FILE *probe = fopen(bin, "rb");
	if (!probe) {
		fprintf(stderr, "skip: %s not found (set CAIRN_SHARED)\n", bin);
		skip();
	}
	fclose(probe);
	cn_gguf *a = NULL, *b = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_gguf_open(bin, &a, &err) || cn_gguf_open(gg, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(cn_gguf_format(a), CN_MODEL_LLAMA2C);
	assert_int_equal(cn_gguf_size(a), 1056540); /* = 28 + 4 * 264128, exactly what the header implies */
	assert_int_equal(cn_gguf_format(b), CN_MODEL_GGUF);
	assert_int_equal(cn_gguf_version(b), 3);
	assert_int_equal(cn_gguf_tensor_count(a), 48);
	assert_int_equal(cn_gguf_tensor_count(b), 48);
	size_t compared = 0;
	for (size_t i = 0; i < cn_gguf_tensor_count(a); i++) {
		const cn_gguf_tensor *ta = cn_gguf_tensor_at(a, i);
		const cn_gguf_tensor *same = cn_gguf_tensor_at(b, i); /* same order as the converter's */
		assert_true(same->name.len == ta->name.len && memcmp(same->name.ptr, ta->name.ptr, ta->name.len) == 0);
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)ta->name.len, ta->name.ptr);
		const cn_gguf_tensor *tb = cn_gguf_tensor_find(b, name);
		if (!tb)
			fail_msg("%s: not in the GGUF", name);
		assert_int_equal(ta->type, tb->type);
		assert_int_equal(ta->n_dims, tb->n_dims);
		for (int d = 0; d < 4; d++)
			if (ta->ne[d] != tb->ne[d])
				fail_msg("%s: ne[%d] %lld vs %lld", name, d, (long long)ta->ne[d], (long long)tb->ne[d]);
		assert_int_equal(ta->nbytes, tb->nbytes);
		if (memcmp(ta->data, tb->data, ta->nbytes) != 0)
			fail_msg("%s: data differs", name);
		compared++;
	}
	assert_int_equal(compared, 48);
	/* the hyper-parameters agree (context_length: the converter wrote its default 128) */
	static const char *const keys[] = {
		"llama.embedding_length", "llama.feed_forward_length", "llama.block_count", "llama.attention.head_count",
		"llama.attention.head_count_kv", "llama.rope.dimension_count",
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(keys); i++) {
		uint32_t va = 0, vb = 1;
		assert_int_equal(cn_gguf_get_u32(a, keys[i], &va, &err), CAIRN_OK);
		assert_int_equal(cn_gguf_get_u32(b, keys[i], &vb, &err), CAIRN_OK);
		assert_int_equal(va, vb);
	}
	uint32_t ctx;
	assert_int_equal(cn_gguf_get_u32(a, "llama.context_length", &ctx, &err), CAIRN_OK);
	assert_int_equal(ctx, 512);
	float ea, eb;
	assert_int_equal(cn_gguf_get_f32(a, "llama.attention.layer_norm_rms_epsilon", &ea, &err), CAIRN_OK);
	assert_int_equal(cn_gguf_get_f32(b, "llama.attention.layer_norm_rms_epsilon", &eb, &err), CAIRN_OK);
	assert_true(ea == eb);
	cn_gguf_str s;
	assert_int_equal(cn_gguf_get_str(a, "general.name", &s, &err), CAIRN_OK);
	assert_true(str_eq(s, "stories260K"));
	const cn_gguf_array *tok;
	assert_int_equal(cn_gguf_get_arr(b, "tokenizer.ggml.tokens", CN_GGUF_STRING, &tok, &err), CAIRN_OK);
	assert_int_equal(tok->n, 512);
	cn_gguf_close(a);
	cn_gguf_close(b);
}

/* ---- describe JSON against the Python reader ---------------------------------------------- */

static bool json_same(const json_t *x, const json_t *y, char *path, size_t cap)
{
	if (json_is_number(x) && json_is_number(y)) {
		double a = json_number_value(x), b = json_number_value(y);
		return a == b || fabs(a - b) <= 1e-7 * fmax(fabs(a), fabs(b));
	}
	if (json_typeof(x) != json_typeof(y))
		return false;
	if (json_is_array(x)) {
		if (json_array_size(x) != json_array_size(y))
			return false;
		for (size_t i = 0; i < json_array_size(x); i++) {
			size_t l = strlen(path);
			snprintf(path + l, cap - l, "[%zu]", i);
			if (!json_same(json_array_get(x, i), json_array_get(y, i), path, cap))
				return false;
			path[l] = '\0';
		}
		return true;
	}
	if (json_is_object(x)) {
		if (json_object_size(x) != json_object_size(y))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)x, k, v) {
			size_t l = strlen(path);
			snprintf(path + l, cap - l, ".%s", k);
			const json_t *w = json_object_get(y, k);
			if (!w || !json_same(v, w, path, cap))
				return false;
			path[l] = '\0';
		}
		return true;
	}
	return json_equal((json_t *)x, (json_t *)y);
}

/* Runs the Python reader on path and compares with our describe JSON (minus "path"). */
static void compare_with_python(const cn_gguf *g, const char *path)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/gguf_dump.py '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	cn_buf py;
	cn_buf_init(&py);
	char chunk[65536];
	size_t r;
	while ((r = fread(chunk, 1, sizeof chunk, p)) > 0)
		cn_buf_append(&py, chunk, r);
	assert_int_equal(pclose(p), 0);
	cn_buf ours;
	cn_buf_init(&ours);
	cn_gguf_describe(g, &ours, true);
	json_error_t je;
	json_t *a = json_loadb(ours.data, ours.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!a)
		fail_msg("%s: describe JSON does not parse: %s (line %d)", path, je.text, je.line);
	json_t *b = json_loadb(py.data, py.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!b)
		fail_msg("%s: python output does not parse: %s", path, je.text);
	assert_string_equal(json_string_value(json_object_get(a, "path")), path);
	json_object_del(a, "path");
	char where[512] = "";
	if (!json_same(a, b, where, sizeof where))
		fail_msg("%s: describe JSON and gguf_dump.py differ at %s", path, where[0] ? where : "(top)");
	json_decref(a);
	json_decref(b);
	cn_buf_free(&ours);
	cn_buf_free(&py);
}

static void test_vocab_ggufs(void **state)
{
	(void)state;
	static const struct { const char *file, *model, *pre; uint64_t n_vocab; } want[] = {
		{"ggml-vocab-baichuan.gguf", "llama", NULL, 64000}, {"ggml-vocab-bert-bge.gguf", "bert", "bert-bge", 30522},
		{"ggml-vocab-deepseek-coder.gguf", "gpt2", "deepseek-coder", 32256},
		{"ggml-vocab-deepseek-llm.gguf", "gpt2", "deepseek-llm", 102400},
		{"ggml-vocab-falcon.gguf", "gpt2", "falcon", 65024}, {"ggml-vocab-gpt-2.gguf", "gpt2", "gpt-2", 50257},
		{"ggml-vocab-gpt-neox.gguf", "gpt2", NULL, 50432}, {"ggml-vocab-llama-spm.gguf", "llama", "default", 32000},
		{"ggml-vocab-mpt.gguf", "gpt2", "mpt", 50432}, {"ggml-vocab-phi-3.gguf", "llama", "default", 32064},
		{"ggml-vocab-refact.gguf", "gpt2", "refact", 49216}, {"ggml-vocab-starcoder.gguf", "gpt2", "starcoder", 49152},
	};
	char dir[512];
	snprintf(dir, sizeof dir, "%s/models/vocab", shared_dir());
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "skip: %s not found (set CAIRN_SHARED)\n", dir);
		skip();
	}
	size_t opened = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		if (cn_gguf_open(path, &g, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(cn_gguf_version(g), 3);
		assert_int_equal(cn_gguf_tensor_count(g), 0);
		bool known = false;
		for (size_t i = 0; i < CN_ARRAY_LEN(want); i++) {
			if (strcmp(want[i].file, e->d_name) != 0)
				continue;
			known = true;
			cn_gguf_str s;
			assert_int_equal(cn_gguf_get_str(g, "tokenizer.ggml.model", &s, &err), CAIRN_OK);
			assert_true(str_eq(s, want[i].model));
			cairn_status st = cn_gguf_get_str(g, "tokenizer.ggml.pre", &s, &err);
			if (want[i].pre) {
				assert_int_equal(st, CAIRN_OK);
				assert_true(str_eq(s, want[i].pre));
			} else {
				assert_int_equal(st, CAIRN_ENOTFOUND);
			}
			const cn_gguf_array *a;
			assert_int_equal(cn_gguf_get_arr(g, "tokenizer.ggml.tokens", CN_GGUF_STRING, &a, &err), CAIRN_OK);
			assert_int_equal(a->n, want[i].n_vocab);
			if (cn_gguf_get_arr(g, "tokenizer.ggml.token_type", CN_GGUF_I32, &a, &err) == CAIRN_OK)
				assert_int_equal(a->n, want[i].n_vocab);
		}
		if (!known)
			fail_msg("%s: not in the SOURCE.md table this test knows", e->d_name);
		compare_with_python(g, path);
		cn_gguf_close(g);
		opened++;
	}
	closedir(d);
	assert_int_equal(opened, CN_ARRAY_LEN(want));
	/* and the converter's model file */
	char path[1024];
	snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", shared_dir());
	cn_gguf *g = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_gguf_open(path, &g, &err))
		fail_msg("%s", err.msg);
	compare_with_python(g, path);
	cn_gguf_close(g);
}

/* Our own sample files through the Python reader too (every value type, nested arrays). */
static void test_sample_vs_python(void **state)
{
	(void)state;
	for (int v = 2; v <= 3; v++) {
		cn_buf b;
		uint64_t start;
		build_sample(&b, (uint32_t)v, v == 2 ? 64 : 32, &start);
		char path[] = "/tmp/cairn-gguf-py-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		FILE *f = fdopen(fd, "wb");
		assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
		fclose(f);
		cn_gguf *g = NULL;
		cn_err err;
		cn_err_clear(&err);
		assert_int_equal(cn_gguf_open(path, &g, &err), CAIRN_OK);
		compare_with_python(g, path);
		cn_buf text;
		cn_buf_init(&text);
		cn_gguf_describe(g, &text, false);
		assert_non_null(strstr(text.data, "GGUF v"));
		assert_non_null(strstr(text.data, "a.nested: array = array[4]"));
		assert_non_null(strstr(text.data, "IQ2_XXS"));
		cn_buf_free(&text);
		cn_gguf_close(g);
		remove(path);
		cn_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_table),      cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_open_path),       cmocka_unit_test(test_getters),
		cmocka_unit_test(test_truncations),     cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_corrupt_files),   cmocka_unit_test(test_llama2c_synthetic),
		cmocka_unit_test(test_stories260k),     cmocka_unit_test(test_vocab_ggufs),
		cmocka_unit_test(test_sample_vs_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
