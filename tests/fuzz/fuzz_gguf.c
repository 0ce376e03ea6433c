/*
 * fuzz_gguf — model files (src/gguf): cn_gguf_open_mem over arbitrary bytes (GGUF, llama2.c,
 * anything). Checks: a failed open returns no object, a known status and a message naming
 * the input; on success, every key/value is walked (nested arrays recursively, each element
 * read through the accessors), the typed getters answer for every key, find() returns each
 * key and tensor by its own name, every tensor has 1..4 positive dims, a known type whose
 * size matches nbytes, data inside the buffer (its first and last bytes are read), and
 * describe produces text and JSON that parses (jansson).
 */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "gguf/gguf.h"

static volatile uint64_t sink;

static void walk_value(const cn_gguf_value *v, int depth)
{
	FUZZ_CHECK(depth <= 8, "arrays nested %d deep", depth);
	FUZZ_CHECK((unsigned)v->type < CN_GGUF_VTYPE_COUNT, "value type %d", v->type);
	if (v->type == CN_GGUF_STRING) {
		if (v->v.str.len)
			sink += (uint8_t)v->v.str.ptr[0] + (uint8_t)v->v.str.ptr[v->v.str.len - 1];
		return;
	}
	if (v->type != CN_GGUF_ARRAY)
		return;
	const cn_gguf_array *a = &v->v.arr;
	FUZZ_CHECK((unsigned)a->type < CN_GGUF_VTYPE_COUNT, "element type %d", a->type);
	FUZZ_CHECK(a->n == 0 || a->data != NULL, "array of %llu without data", (unsigned long long)a->n);
	for (uint64_t i = 0; i < a->n; i++) {
		switch (a->type) {
		case CN_GGUF_STRING: {
			cn_gguf_str s = ((const cn_gguf_str *)a->data)[i];
			if (s.len)
				sink += (uint8_t)s.ptr[s.len - 1];
			break;
		}
		case CN_GGUF_ARRAY: walk_value(&((const cn_gguf_value *)a->data)[i], depth + 1); break;
		case CN_GGUF_F32: case CN_GGUF_F64: sink += (uint64_t)(cn_gguf_arr_f64(a, i) != 0); break;
		default: sink += cn_gguf_arr_u64(a, i) + (uint64_t)cn_gguf_arr_i64(a, i); break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cn_gguf *g = (cn_gguf *)1;
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = cn_gguf_open_mem(size ? (const void *)data : "", size, "fuzz.gguf", &g, &err);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(g == NULL, "failed open returned an object");
		FUZZ_CHECK(st == CAIRN_EFORMAT || st == CAIRN_EUNSUPPORTED || st == CAIRN_ENOMEM, "status %d", st);
		FUZZ_CHECK(strncmp(err.msg, "fuzz.gguf: ", 11) == 0 && strlen(err.msg) > 11, "message \"%s\"", err.msg);
		return 0;
	}
	FUZZ_CHECK(cn_gguf_size(g) == size, "size");
	uint32_t al = cn_gguf_alignment(g);
	FUZZ_CHECK(al && !(al & (al - 1)), "alignment %u", al);
	for (size_t i = 0; i < cn_gguf_kv_count(g); i++) {
		const cn_gguf_kv *kv = cn_gguf_kv_at(g, i);
		walk_value(&kv->value, 0);
		char key[256];
		if (kv->key.len < sizeof key && !memchr(kv->key.ptr, 0, kv->key.len)) {
			memcpy(key, kv->key.ptr, kv->key.len);
			key[kv->key.len] = 0;
			FUZZ_CHECK(cn_gguf_find(g, key) == kv, "find(%s) is not kv %zu", key, i);
			uint32_t u;
			int64_t i64;
			float f;
			bool b;
			cn_gguf_str s;
			const cn_gguf_array *a;
			cn_err e;
			cn_err_clear(&e);
			cairn_status r[6] = {
				cn_gguf_get_u32(g, key, &u, &e), cn_gguf_get_i64(g, key, &i64, &e), cn_gguf_get_f32(g, key, &f, &e),
				cn_gguf_get_bool(g, key, &b, &e), cn_gguf_get_str(g, key, &s, &e),
				cn_gguf_get_arr(g, key, CN_GGUF_VTYPE_COUNT, &a, &e),
			};
			for (int k = 0; k < 6; k++)
				FUZZ_CHECK(r[k] == CAIRN_OK || r[k] == CAIRN_EFORMAT, "getter %d: status %d", k, r[k]);
			FUZZ_CHECK((r[4] == CAIRN_OK) == (kv->value.type == CN_GGUF_STRING), "get_str");
			FUZZ_CHECK((r[5] == CAIRN_OK) == (kv->value.type == CN_GGUF_ARRAY), "get_arr");
		}
	}
	for (size_t i = 0; i < cn_gguf_tensor_count(g); i++) {
		const cn_gguf_tensor *t = cn_gguf_tensor_at(g, i);
		FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= CN_GGUF_MAX_DIMS, "n_dims %u", t->n_dims);
		uint64_t n = 1;
		for (int d = 0; d < CN_GGUF_MAX_DIMS; d++) {
			FUZZ_CHECK(t->ne[d] >= 1, "ne[%d] = %lld", d, (long long)t->ne[d]);
			FUZZ_CHECK(d < (int)t->n_dims || t->ne[d] == 1, "unused ne[%d] = %lld", d, (long long)t->ne[d]);
			if (d)
				n *= (uint64_t)t->ne[d];
		}
		uint64_t row;
		FUZZ_CHECK(cn_ggml_row_bytes(t->type, (uint64_t)t->ne[0], &row), "type %d / ne[0]", t->type);
		FUZZ_CHECK(row * n == t->nbytes, "nbytes %llu", (unsigned long long)t->nbytes);
		FUZZ_CHECK(t->nbytes > 0 && t->offset <= size && t->nbytes <= size - t->offset, "data out of bounds");
		FUZZ_CHECK((const uint8_t *)t->data == data + t->offset, "data pointer");
		sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
		char name[256];
		if (t->name.len < sizeof name && !memchr(t->name.ptr, 0, t->name.len)) {
			memcpy(name, t->name.ptr, t->name.len);
			name[t->name.len] = 0;
			FUZZ_CHECK(cn_gguf_tensor_find(g, name) == t, "tensor_find(%s)", name);
		}
	}
	cn_buf out;
	cn_buf_init(&out);
	cn_gguf_describe(g, &out, false);
	cn_buf_reset(&out);
	cn_gguf_describe(g, &out, true);
	json_error_t je;
	json_t *j = json_loadb(out.data, out.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	FUZZ_CHECK(j != NULL, "describe JSON does not parse: %s", je.text);
	FUZZ_CHECK(json_array_size(json_object_get(j, "tensors")) == cn_gguf_tensor_count(g), "tensor count in JSON");
	json_decref(j);
	cn_buf_free(&out);
	cn_gguf_close(g);
	return 0;
}
