/*
 * describe.c — the summary `cairn model info` prints, as text or JSON.
 *
 * Arrays are abbreviated to their first CN_GGUF_DESCRIBE_HEAD elements (a vocabulary has
 * 150k tokens); the count and element type are always given. The JSON shape (one object):
 *   {"path", "format": "gguf"|"llama2c", "version", "alignment", "size",
 *    "kv": [{"key", "type", "value"}],   value: a scalar, a string, or for arrays
 *                                         {"elem_type", "n", "head": [first values]}
 *    "tensors": [{"name", "type", "ne": [...], "offset", "nbytes"}]}
 * F32 values are printed with 9 significant digits (enough to round-trip a float), F64 with
 * 17; NaN and infinities, which JSON lacks, as the strings "nan", "inf", "-inf". Strings
 * with invalid UTF-8 get U+FFFD per bad byte (cn_buf_put_json_str). tests/reference/
 * gguf_dump.py prints the same shape independently; test_gguf compares the two.
 */
#include "gguf/gguf_int.h"

#include <math.h>
#include <string.h>

#define CN_GGUF_DESCRIBE_HEAD 8

static void put_float(cn_buf *out, double v, bool f32, bool json)
{
	if (isnan(v)) {
		cn_buf_puts(out, json ? "\"nan\"" : "nan");
	} else if (isinf(v)) {
		cn_buf_puts(out, v > 0 ? (json ? "\"inf\"" : "inf") : (json ? "\"-inf\"" : "-inf"));
	} else if (json) {
		cn_buf_printf(out, f32 ? "%.9g" : "%.17g", v);
	} else {
		cn_buf_printf(out, "%g", v);
	}
}

/* Text mode: printable ASCII as is, everything else escaped; long strings cut. */
static void put_text_str(cn_buf *out, cn_gguf_str s, size_t max)
{
	char q[CN_GGUF_QUOTE_SIZE];
	cn_buf_putc(out, '"');
	if (max >= 80 || s.len <= max) {
		cn_buf_puts(out, cn_gguf_quote(q, sizeof q, s.ptr, s.len));
	} else {
		cn_buf_puts(out, cn_gguf_quote(q, sizeof q, s.ptr, s.len < max ? s.len : max));
		cn_buf_puts(out, "...");
	}
	cn_buf_putc(out, '"');
}

static void put_value(cn_buf *out, const cn_gguf_value *v, bool json);

static void put_array_elem(cn_buf *out, const cn_gguf_array *a, uint64_t i, bool json)
{
	switch (a->type) {
	case CN_GGUF_STRING: {
		cn_gguf_str s = ((const cn_gguf_str *)a->data)[i];
		if (json)
			cn_buf_put_json_str(out, s.ptr, (size_t)s.len);
		else
			put_text_str(out, s, 40);
		break;
	}
	case CN_GGUF_ARRAY: put_value(out, &((const cn_gguf_value *)a->data)[i], json); break;
	case CN_GGUF_F32: case CN_GGUF_F64: put_float(out, cn_gguf_arr_f64(a, i), a->type == CN_GGUF_F32, json); break;
	case CN_GGUF_BOOL: cn_buf_puts(out, cn_gguf_arr_u64(a, i) ? "true" : "false"); break;
	case CN_GGUF_U8: case CN_GGUF_U16: case CN_GGUF_U32: case CN_GGUF_U64:
		cn_buf_printf(out, "%llu", (unsigned long long)cn_gguf_arr_u64(a, i));
		break;
	default: cn_buf_printf(out, "%lld", (long long)cn_gguf_arr_i64(a, i)); break;
	}
}

static void put_value(cn_buf *out, const cn_gguf_value *v, bool json)
{
	switch (v->type) {
	case CN_GGUF_U8: case CN_GGUF_U16: case CN_GGUF_U32: case CN_GGUF_U64:
		cn_buf_printf(out, "%llu", (unsigned long long)v->v.u64);
		break;
	case CN_GGUF_I8: case CN_GGUF_I16: case CN_GGUF_I32: case CN_GGUF_I64:
		cn_buf_printf(out, "%lld", (long long)v->v.i64);
		break;
	case CN_GGUF_F32: case CN_GGUF_F64: put_float(out, v->v.f64, v->type == CN_GGUF_F32, json); break;
	case CN_GGUF_BOOL: cn_buf_puts(out, v->v.b ? "true" : "false"); break;
	case CN_GGUF_STRING:
		if (json)
			cn_buf_put_json_str(out, v->v.str.ptr, (size_t)v->v.str.len);
		else
			put_text_str(out, v->v.str, 200);
		break;
	case CN_GGUF_ARRAY: {
		const cn_gguf_array *a = &v->v.arr;
		uint64_t shown = a->n < CN_GGUF_DESCRIBE_HEAD ? a->n : CN_GGUF_DESCRIBE_HEAD;
		if (json)
			cn_buf_printf(out, "{\"elem_type\":\"%s\",\"n\":%llu,\"head\":[", cn_gguf_vtype_name(a->type),
			              (unsigned long long)a->n);
		else
			cn_buf_printf(out, "%s[%llu] [", cn_gguf_vtype_name(a->type), (unsigned long long)a->n);
		for (uint64_t i = 0; i < shown; i++) {
			if (i)
				cn_buf_puts(out, json ? "," : ", ");
			put_array_elem(out, a, i, json);
		}
		if (!json && shown < a->n)
			cn_buf_puts(out, ", ...");
		cn_buf_puts(out, json ? "]}" : "]");
		break;
	}
	default: cn_buf_puts(out, json ? "null" : "?"); break;
	}
}

void cn_gguf_describe(const cn_gguf *g, cn_buf *out, bool json)
{
	const char *fmt = g->format == CN_MODEL_GGUF ? "gguf" : "llama2c";
	if (json) {
		cn_buf_puts(out, "{\"path\":");
		cn_buf_put_json_str(out, g->name, strlen(g->name));
		cn_buf_printf(out, ",\"format\":\"%s\",\"version\":%u,\"alignment\":%u,\"size\":%zu,\"kv\":[", fmt,
		              g->version, g->alignment, g->size);
		for (size_t i = 0; i < g->n_kv; i++) {
			const cn_gguf_kv *kv = &g->kvs[i];
			cn_buf_puts(out, i ? ",{\"key\":" : "{\"key\":");
			cn_buf_put_json_str(out, kv->key.ptr, (size_t)kv->key.len);
			cn_buf_printf(out, ",\"type\":\"%s\",\"value\":", cn_gguf_vtype_name(kv->value.type));
			put_value(out, &kv->value, true);
			cn_buf_putc(out, '}');
		}
		cn_buf_puts(out, "],\"tensors\":[");
		for (size_t i = 0; i < g->n_tensors; i++) {
			const cn_gguf_tensor *t = &g->tensors[i];
			cn_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
			cn_buf_put_json_str(out, t->name.ptr, (size_t)t->name.len);
			cn_buf_printf(out, ",\"type\":\"%s\",\"ne\":[", cn_ggml_type_name(t->type));
			for (uint32_t d = 0; d < t->n_dims; d++)
				cn_buf_printf(out, d ? ",%lld" : "%lld", (long long)t->ne[d]);
			cn_buf_printf(out, "],\"offset\":%llu,\"nbytes\":%llu}", (unsigned long long)t->offset,
			              (unsigned long long)t->nbytes);
		}
		cn_buf_puts(out, "]}\n");
		return;
	}
	if (g->format == CN_MODEL_GGUF)
		cn_buf_printf(out, "%s: GGUF v%u, %zu bytes, alignment %u\n", g->name, g->version, g->size, g->alignment);
	else
		cn_buf_printf(out, "%s: llama2.c checkpoint, %zu bytes\n", g->name, g->size);
	cn_buf_printf(out, "key/values: %zu\n", g->n_kv);
	for (size_t i = 0; i < g->n_kv; i++) {
		const cn_gguf_kv *kv = &g->kvs[i];
		char q[CN_GGUF_QUOTE_SIZE];
		cn_buf_printf(out, "  %s: %s = ", cn_gguf_quote(q, sizeof q, kv->key.ptr, kv->key.len),
		              cn_gguf_vtype_name(kv->value.type));
		put_value(out, &kv->value, false);
		cn_buf_putc(out, '\n');
	}
	uint64_t total = 0;
	for (size_t i = 0; i < g->n_tensors; i++)
		total += g->tensors[i].nbytes;
	cn_buf_printf(out, "tensors: %zu (%llu bytes of data)\n", g->n_tensors, (unsigned long long)total);
	for (size_t i = 0; i < g->n_tensors; i++) {
		const cn_gguf_tensor *t = &g->tensors[i];
		char q[CN_GGUF_QUOTE_SIZE], shape[128];
		int n = 0;
		for (uint32_t d = 0; d < t->n_dims; d++)
			n += snprintf(shape + n, sizeof shape - (size_t)n, d ? " x %lld" : "%lld", (long long)t->ne[d]);
		cn_buf_printf(out, "  %-32s %-8s %-24s offset %llu, %llu bytes\n",
		              cn_gguf_quote(q, sizeof q, t->name.ptr, t->name.len), cn_ggml_type_name(t->type), shape,
		              (unsigned long long)t->offset, (unsigned long long)t->nbytes);
	}
}
