/*
 * gguf.c — opening a model file, and the GGUF v2/v3 reader.
 *
 * GGUF layout (all little-endian; ggml docs/gguf.md):
 *
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x   { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   zero padding up to a multiple of `general.alignment` (u32, default 32)   <- data section
 *   tensor data, each at data_section + offset (offset a multiple of the alignment)
 *
 *   string = u64 length | bytes (no NUL);  array = u32 elem_type | u64 n | n x value
 *
 * Validation order is what keeps hostile files cheap: every count is compared with the
 * bytes that remain *before* anything is allocated for it, using the smallest encoding an
 * element can have (a kv needs >= 13 bytes, a tensor info >= 32, an array element >= its
 * scalar size, a string >= 8, a nested array >= 12). So a kv count of 2^60 fails at once,
 * and every allocation is at most a few times the file size. Numeric arrays are not copied:
 * they point at the file's bytes and are read through the cn_gguf_arr_* accessors.
 *
 * What we accept beyond ggml's own reader: nested arrays (to depth 8) and tensors in any
 * order with gaps between them, as long as they do not overlap. What we reject that ggml
 * might not: empty keys and tensor names, zero dimensions, n_dims 0.
 */
#include "gguf/gguf_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------------------- */

char *cn_gguf_quote(char *buf, size_t size, const char *s, uint64_t len)
{
	size_t o = 0;
	uint64_t shown = len > 80 ? 77 : len;
	for (uint64_t i = 0; i < shown && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'' && c != '"') {
			buf[o++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (shown < len && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o < size ? o : size - 1] = '\0';
	return buf;
}

static cairn_status index_add(cn_gguf *g, cn_strmap *m, cn_gguf_str s, const char *what, uint64_t at,
                              cn_err *err)
{
	uint32_t id;
	bool added;
	if (cn_strmap_put(m, s.ptr, (size_t)s.len, &id, &added))
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory indexing %ss", g->name, what);
	if (!added) {
		char q[CN_GGUF_QUOTE_SIZE];
		return cn_err_set(err, CAIRN_EFORMAT, "%s: duplicate %s '%s' at byte %llu", g->name, what,
		                  cn_gguf_quote(q, sizeof q, s.ptr, s.len), (unsigned long long)at);
	}
	return CAIRN_OK;
}

cairn_status cn_gguf_index_kvs(cn_gguf *g, cn_err *err)
{
	for (size_t i = 0; i < g->n_kv; i++) {
		cairn_status st = index_add(g, &g->kv_index, g->kvs[i].key, "key", 0, err);
		if (st)
			return st;
	}
	return CAIRN_OK;
}

cairn_status cn_gguf_index_tensors(cn_gguf *g, cn_err *err)
{
	for (size_t i = 0; i < g->n_tensors; i++) {
		cairn_status st = index_add(g, &g->tensor_index, g->tensors[i].name, "tensor name", 0, err);
		if (st)
			return st;
	}
	return CAIRN_OK;
}

/* ---- the GGUF reader ------------------------------------------------------------------ */

typedef struct rd {
	cn_gguf *g;
	const uint8_t *p;
	size_t size;
	size_t pos;
	cn_err *err;
} rd;

static size_t remain(const rd *r) { return r->size - r->pos; }

static cairn_status truncated(rd *r, const char *what, uint64_t need)
{
	return cn_err_set(r->err, CAIRN_EFORMAT,
	                  "%s: truncated at byte %zu: %s needs %llu bytes, %zu remain (file is %zu bytes)",
	                  r->g->name, r->pos, what, (unsigned long long)need, remain(r), r->size);
}

static cairn_status rd_u32(rd *r, const char *what, uint32_t *v)
{
	if (remain(r) < 4)
		return truncated(r, what, 4);
	*v = cn_load_u32le(r->p + r->pos);
	r->pos += 4;
	return CAIRN_OK;
}

static cairn_status rd_u64(rd *r, const char *what, uint64_t *v)
{
	if (remain(r) < 8)
		return truncated(r, what, 8);
	*v = cn_load_u64le(r->p + r->pos);
	r->pos += 8;
	return CAIRN_OK;
}

/* A string; max_len 0 = bounded by the file only. */
static cairn_status rd_str(rd *r, const char *what, uint64_t max_len, cn_gguf_str *s)
{
	size_t at = r->pos;
	uint64_t len = 0;
	cairn_status st = rd_u64(r, what, &len);
	if (st)
		return st;
	if (max_len && len > max_len)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: %s at byte %zu has length %llu, over the limit of %llu",
		                  r->g->name, what, at, (unsigned long long)len, (unsigned long long)max_len);
	if (len > remain(r))
		return cn_err_set(r->err, CAIRN_EFORMAT,
		                  "%s: %s at byte %zu has length %llu but only %zu bytes remain in the file",
		                  r->g->name, what, at, (unsigned long long)len, remain(r));
	s->ptr = (const char *)r->p + r->pos;
	s->len = len;
	r->pos += (size_t)len;
	return CAIRN_OK;
}

static size_t scalar_size(uint32_t t)
{
	switch (t) {
	case CN_GGUF_U8: case CN_GGUF_I8: case CN_GGUF_BOOL: return 1;
	case CN_GGUF_U16: case CN_GGUF_I16: return 2;
	case CN_GGUF_U32: case CN_GGUF_I32: case CN_GGUF_F32: return 4;
	case CN_GGUF_U64: case CN_GGUF_I64: case CN_GGUF_F64: return 8;
	default: return 0;
	}
}

static cairn_status bad_vtype(rd *r, const char *what, size_t at, uint32_t t)
{
	return cn_err_set(r->err, CAIRN_EFORMAT, "%s: unknown %s %u at byte %zu (known: 0..12)", r->g->name,
	                  what, t, at);
}

/* Reads one value of type t (already read and checked < CN_GGUF_VTYPE_COUNT). depth = the
 * number of arrays this value sits in. */
static cairn_status rd_value(rd *r, uint32_t t, cn_gguf_value *v, unsigned depth)
{
	v->type = (cn_gguf_vtype)t;
	size_t ss = scalar_size(t);
	if (ss) {
		if (remain(r) < ss)
			return truncated(r, "value", ss);
		const uint8_t *p = r->p + r->pos;
		uint64_t raw = ss == 8 ? cn_load_u64le(p) : ss == 4 ? cn_load_u32le(p)
		             : ss == 2 ? (uint64_t)p[0] | (uint64_t)p[1] << 8 : p[0];
		r->pos += ss;
		switch (t) {
		case CN_GGUF_U8: case CN_GGUF_U16: case CN_GGUF_U32: case CN_GGUF_U64: v->v.u64 = raw; break;
		case CN_GGUF_I8: v->v.i64 = (int8_t)raw; break;
		case CN_GGUF_I16: v->v.i64 = (int16_t)raw; break;
		case CN_GGUF_I32: v->v.i64 = (int32_t)raw; break;
		case CN_GGUF_I64: v->v.i64 = (int64_t)raw; break;
		case CN_GGUF_BOOL: v->v.b = raw != 0; break;
		case CN_GGUF_F32: {
			float f;
			uint32_t u = (uint32_t)raw;
			memcpy(&f, &u, 4);
			v->v.f64 = f;
			break;
		}
		default: { /* F64 */
			double d;
			memcpy(&d, &raw, 8);
			v->v.f64 = d;
			break;
		}
		}
		return CAIRN_OK;
	}
	if (t == CN_GGUF_STRING)
		return rd_str(r, "string value", 0, &v->v.str);

	/* an array */
	size_t at = r->pos;
	if (depth + 1 > CN_GGUF_MAX_ARRAY_DEPTH)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: array at byte %zu is nested deeper than %d levels",
		                  r->g->name, at, CN_GGUF_MAX_ARRAY_DEPTH);
	uint32_t et = 0;
	uint64_t n = 0;
	cairn_status st = rd_u32(r, "array element type", &et);
	if (!st)
		st = rd_u64(r, "array count", &n);
	if (st)
		return st;
	if (et >= CN_GGUF_VTYPE_COUNT)
		return bad_vtype(r, "array element type", at, et);
	cn_gguf_array *a = &v->v.arr;
	a->type = (cn_gguf_vtype)et;
	a->n = n;
	a->data = NULL;
	size_t es = scalar_size(et);
	size_t min = es ? es : et == CN_GGUF_STRING ? 8 : 12;
	if (n > remain(r) / min)
		return cn_err_set(r->err, CAIRN_EFORMAT,
		                  "%s: array at byte %zu claims %llu elements of type %s, more than the %zu bytes "
		                  "that remain can hold",
		                  r->g->name, at, (unsigned long long)n, cn_gguf_vtype_name(et), remain(r));
	if (es) {
		a->data = r->p + r->pos;
		r->pos += (size_t)n * es;
		return CAIRN_OK;
	}
	if (n == 0)
		return CAIRN_OK;
	if (et == CN_GGUF_STRING) {
		cn_gguf_str *s = cn_arena_alloc(&r->g->arena, (size_t)n * sizeof *s);
		if (!s)
			return cn_err_set(r->err, CAIRN_ENOMEM, "%s: out of memory for a %llu-string array", r->g->name,
			                  (unsigned long long)n);
		for (uint64_t i = 0; i < n; i++)
			if ((st = rd_str(r, "string array element", 0, &s[i])))
				return st;
		a->data = s;
		return CAIRN_OK;
	}
	cn_gguf_value *sub = cn_arena_alloc(&r->g->arena, (size_t)n * sizeof *sub);
	if (!sub)
		return cn_err_set(r->err, CAIRN_ENOMEM, "%s: out of memory for a %llu-array array", r->g->name,
		                  (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++)
		if ((st = rd_value(r, CN_GGUF_ARRAY, &sub[i], depth + 1)))
			return st;
	a->data = sub;
	return CAIRN_OK;
}

static cairn_status rd_alignment(cn_gguf *g, cn_err *err)
{
	g->alignment = 32;
	const cn_gguf_kv *kv = cn_gguf_find(g, "general.alignment");
	if (!kv)
		return CAIRN_OK;
	if (kv->value.type != CN_GGUF_U32)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: general.alignment has type %s, expected u32", g->name,
		                  cn_gguf_vtype_name(kv->value.type));
	uint64_t a = kv->value.v.u64;
	if (a == 0 || (a & (a - 1)))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: general.alignment = %llu is not a nonzero power of two",
		                  g->name, (unsigned long long)a);
	g->alignment = (uint32_t)a;
	return CAIRN_OK;
}

static cairn_status rd_tensor_info(rd *r, size_t i, cn_gguf_tensor *t)
{
	cn_gguf *g = r->g;
	size_t at = r->pos;
	char q[CN_GGUF_QUOTE_SIZE];
	cairn_status st = rd_str(r, "tensor name", CN_GGUF_MAX_KEY, &t->name);
	if (st)
		return st;
	if (t->name.len == 0)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: tensor %zu at byte %zu has an empty name", g->name, i, at);
	if ((st = index_add(g, &g->tensor_index, t->name, "tensor name", at, r->err)))
		return st;
	cn_gguf_quote(q, sizeof q, t->name.ptr, t->name.len);
	if ((st = rd_u32(r, "tensor n_dims", &t->n_dims)))
		return st;
	if (t->n_dims < 1 || t->n_dims > CN_GGUF_MAX_DIMS)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: tensor '%s' at byte %zu has n_dims %u, not in 1..%d",
		                  g->name, q, at, t->n_dims, CN_GGUF_MAX_DIMS);
	uint64_t elems = 1;
	for (uint32_t d = 0; d < CN_GGUF_MAX_DIMS; d++) {
		uint64_t ne = 1;
		if (d < t->n_dims && (st = rd_u64(r, "tensor dimension", &ne)))
			return st;
		if (ne == 0)
			return cn_err_set(r->err, CAIRN_EFORMAT, "%s: tensor '%s' at byte %zu has ne[%u] = 0", g->name, q,
			                  at, d);
		if (ne > (uint64_t)INT64_MAX || elems > (uint64_t)INT64_MAX / ne)
			return cn_err_set(r->err, CAIRN_EFORMAT,
			                  "%s: tensor '%s' at byte %zu: element count overflows at ne[%u] = %llu",
			                  g->name, q, at, d, (unsigned long long)ne);
		elems *= ne;
		t->ne[d] = (int64_t)ne;
	}
	uint32_t type = 0;
	if ((st = rd_u32(r, "tensor type", &type)))
		return st;
	const cn_ggml_type_info *ti = cn_ggml_type_get(type);
	if (!ti) {
		const char *removed = cn_ggml_removed_type_name(type);
		if (removed)
			return cn_err_set(r->err, CAIRN_EUNSUPPORTED,
			                  "%s: tensor '%s' (info at byte %zu) has ggml type %u (%s), which ggml removed",
			                  g->name, q, at, type, removed);
		return cn_err_set(r->err, CAIRN_EUNSUPPORTED, "%s: tensor '%s' (info at byte %zu) has unknown ggml type %u",
		                  g->name, q, at, type);
	}
	t->type = (cn_ggml_type)type;
	uint64_t row;
	if (!cn_ggml_row_bytes(type, (uint64_t)t->ne[0], &row))
		return cn_err_set(r->err, CAIRN_EFORMAT,
		                  "%s: tensor '%s' (info at byte %zu): ne[0] = %lld is not a multiple of the block size "
		                  "%u of type %s", g->name, q, at, (long long)t->ne[0], ti->block_size, ti->name);
	uint64_t rows = elems / (uint64_t)t->ne[0];
	if (rows && row > UINT64_MAX / rows)
		return cn_err_set(r->err, CAIRN_EFORMAT, "%s: tensor '%s': byte size overflows", g->name, q);
	t->nbytes = row * rows;
	return rd_u64(r, "tensor offset", &t->offset);
}

static int cmp_by_offset(const void *a, const void *b)
{
	const cn_gguf_tensor *x = *(const cn_gguf_tensor *const *)a, *y = *(const cn_gguf_tensor *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static cairn_status check_overlap(cn_gguf *g, cn_err *err)
{
	if (g->n_tensors < 2)
		return CAIRN_OK;
	const cn_gguf_tensor **order = cn_malloc(g->n_tensors * sizeof *order);
	if (!order)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", g->name);
	for (size_t i = 0; i < g->n_tensors; i++)
		order[i] = &g->tensors[i];
	qsort(order, g->n_tensors, sizeof *order, cmp_by_offset);
	cairn_status st = CAIRN_OK;
	for (size_t i = 0; i + 1 < g->n_tensors && !st; i++) {
		const cn_gguf_tensor *a = order[i], *b = order[i + 1];
		if (a->offset + a->nbytes > b->offset) {
			char qa[CN_GGUF_QUOTE_SIZE], qb[CN_GGUF_QUOTE_SIZE];
			st = cn_err_set(err, CAIRN_EFORMAT, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
			                g->name, cn_gguf_quote(qa, sizeof qa, a->name.ptr, a->name.len),
			                (unsigned long long)a->offset, (unsigned long long)(a->offset + a->nbytes),
			                cn_gguf_quote(qb, sizeof qb, b->name.ptr, b->name.len),
			                (unsigned long long)b->offset, (unsigned long long)(b->offset + b->nbytes));
		}
	}
	cn_free(order);
	return st;
}

static cairn_status parse_gguf(cn_gguf *g, cn_err *err)
{
	rd r = {g, g->data, g->size, 4, err};
	cairn_status st;
	if (g->size < 24)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: truncated GGUF header: %zu bytes, the header needs 24",
		                  g->name, g->size);
	uint32_t version = 0;
	uint64_t n_tensors = 0, n_kv = 0;
	rd_u32(&r, "version", &version);
	if (version != 0 && (version & 0xFFFF) == 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: GGUF version field 0x%08x looks byte-swapped: big-endian GGUF files are not "
		                  "supported", g->name, version);
	if (version == 1)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: GGUF version 1 is not supported (only versions 2 and 3; re-convert the model)",
		                  g->name);
	if (version != 2 && version != 3)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: GGUF version %u is not supported (only 2 and 3)",
		                  g->name, version);
	g->version = version;
	rd_u64(&r, "tensor count", &n_tensors);
	rd_u64(&r, "kv count", &n_kv);
	/* fail fast on lying counts: the smallest kv is 13 bytes, the smallest tensor info 32 */
	if (n_kv > remain(&r) / 13)
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: kv count %llu at byte 16 cannot fit in the %zu bytes after the header", g->name,
		                  (unsigned long long)n_kv, remain(&r));
	if (n_tensors > remain(&r) / 32)
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: tensor count %llu at byte 8 cannot fit in the %zu bytes after the header",
		                  g->name, (unsigned long long)n_tensors, remain(&r));
	if (n_kv) {
		g->kvs = cn_calloc((size_t)n_kv, sizeof *g->kvs);
		if (!g->kvs)
			return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory for %llu keys", g->name,
			                  (unsigned long long)n_kv);
	}
	for (uint64_t i = 0; i < n_kv; i++) {
		cn_gguf_kv *kv = &g->kvs[i];
		size_t at = r.pos;
		if ((st = rd_str(&r, "key", CN_GGUF_MAX_KEY, &kv->key)))
			return st;
		if (kv->key.len == 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: key %llu at byte %zu is empty", g->name,
			                  (unsigned long long)i, at);
		if ((st = index_add(g, &g->kv_index, kv->key, "key", at, err)))
			return st;
		uint32_t t = 0;
		size_t tat = r.pos;
		if ((st = rd_u32(&r, "value type", &t)))
			return st;
		if (t >= CN_GGUF_VTYPE_COUNT) {
			char q[CN_GGUF_QUOTE_SIZE];
			return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' has unknown value type %u at byte %zu",
			                  g->name, cn_gguf_quote(q, sizeof q, kv->key.ptr, kv->key.len), t, tat);
		}
		if ((st = rd_value(&r, t, &kv->value, 0)))
			return st;
		g->n_kv++;
	}
	if ((st = rd_alignment(g, err)))
		return st;

	if (n_tensors > remain(&r) / 32)
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: tensor count %llu cannot fit in the %zu bytes after the key/values (byte %zu)",
		                  g->name, (unsigned long long)n_tensors, remain(&r), r.pos);
	if (n_tensors) {
		g->tensors = cn_calloc((size_t)n_tensors, sizeof *g->tensors);
		if (!g->tensors)
			return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory for %llu tensors", g->name,
			                  (unsigned long long)n_tensors);
	}
	for (uint64_t i = 0; i < n_tensors; i++) {
		if ((st = rd_tensor_info(&r, (size_t)i, &g->tensors[i])))
			return st;
		g->n_tensors++;
	}

	/* data section; with no tensors the file may end before the padding */
	uint64_t start = ((uint64_t)r.pos + g->alignment - 1) / g->alignment * g->alignment;
	for (size_t i = 0; i < g->n_tensors; i++) {
		cn_gguf_tensor *t = &g->tensors[i];
		char q[CN_GGUF_QUOTE_SIZE];
		cn_gguf_quote(q, sizeof q, t->name.ptr, t->name.len);
		if (t->offset % g->alignment)
			return cn_err_set(err, CAIRN_EFORMAT,
			                  "%s: tensor '%s' data offset %llu is not a multiple of the alignment %u", g->name,
			                  q, (unsigned long long)t->offset, g->alignment);
		if (start > g->size || t->offset > g->size - start || t->nbytes > g->size - start - t->offset) {
			unsigned long long a = start + t->offset < start ? UINT64_MAX : start + t->offset;
			unsigned long long b = a + t->nbytes < a ? UINT64_MAX : a + t->nbytes;
			return cn_err_set(err, CAIRN_EFORMAT,
			                  "%s: tensor '%s' data [%llu, %llu) runs past end of file (%zu bytes)", g->name, q,
			                  a, b, g->size);
		}
		t->offset += start;
		t->data = g->data + t->offset;
	}
	return check_overlap(g, err);
}

/* ---- open / close --------------------------------------------------------------------- */

static cairn_status open_bytes(cn_gguf *g, cn_err *err)
{
	if (g->size == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: empty file, not a GGUF or llama2.c model", g->name);
	if (g->size >= 4 && memcmp(g->data, "GGUF", 4) == 0) {
		g->format = CN_MODEL_GGUF;
		return parse_gguf(g, err);
	}
	if (g->size >= 4 && memcmp(g->data, "FUGG", 4) == 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: magic \"FUGG\": a big-endian GGUF file, which is not supported", g->name);
	g->format = CN_MODEL_LLAMA2C;
	return cn_llama2c_parse(g, err);
}

static cairn_status open_common(const char *name, const uint8_t *data, size_t len, cn_map *map, cn_gguf **out,
                                cn_err *err)
{
	*out = NULL;
	cn_gguf *g = cn_calloc(1, sizeof *g);
	char *nm = cn_strdup(name ? name : "(memory)");
	if (!g || !nm) {
		cn_free(g);
		cn_free(nm);
		if (map)
			cn_map_close(map);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", name ? name : "(memory)");
	}
	g->name = nm;
	if (map)
		g->map = *map;
	g->data = data;
	g->size = len;
	cn_strmap_init(&g->kv_index);
	cn_strmap_init(&g->tensor_index);
	/* a model has tens of keys and hundreds of tensor names: small arena blocks, not the
	 * map's 256 KiB default (a longer name gets a block of its own) */
	g->kv_index.arena.block_size = g->tensor_index.arena.block_size = 8192;
	cn_arena_init(&g->arena, 64 * 1024);
	cairn_status st = open_bytes(g, err);
	if (st) {
		cn_gguf_close(g);
		return st;
	}
	*out = g;
	return CAIRN_OK;
}

cairn_status cn_gguf_open(const char *path, cn_gguf **out, cn_err *err)
{
	*out = NULL;
	cn_map m;
	cairn_status st = cn_map_open(path, &m, err);
	if (st)
		return st;
	return open_common(path, m.data, m.len, &m, out, err);
}

cairn_status cn_gguf_load(const char *path, cn_gguf **out, cn_err *err)
{
	*out = NULL;
	cn_map m;
	cairn_status st = cn_map_load(path, &m, err);
	if (st)
		return st;
	return open_common(path, m.data, m.len, &m, out, err);
}

cairn_status cn_gguf_open_mem(const void *data, size_t len, const char *name, cn_gguf **out, cn_err *err)
{
	*out = NULL;
	if (!data && len)
		return cn_err_set(err, CAIRN_EINVAL, "%s: NULL buffer", name ? name : "(memory)");
	return open_common(name, data, len, NULL, out, err);
}

void cn_gguf_close(cn_gguf *g)
{
	if (!g)
		return;
	cn_map_close(&g->map);
	cn_free(g->kvs);
	cn_free(g->tensors);
	cn_strmap_free(&g->kv_index);
	cn_strmap_free(&g->tensor_index);
	cn_arena_free(&g->arena);
	cn_free(g->name);
	cn_free(g);
}

/* ---- accessors ------------------------------------------------------------------------ */

cn_model_format cn_gguf_format(const cn_gguf *g) { return g->format; }
uint32_t cn_gguf_version(const cn_gguf *g) { return g->version; }
uint32_t cn_gguf_alignment(const cn_gguf *g) { return g->alignment; }
const char *cn_gguf_path(const cn_gguf *g) { return g->name; }
uint64_t cn_gguf_size(const cn_gguf *g) { return g->size; }
size_t cn_gguf_kv_count(const cn_gguf *g) { return g->n_kv; }
size_t cn_gguf_tensor_count(const cn_gguf *g) { return g->n_tensors; }

const cn_gguf_kv *cn_gguf_kv_at(const cn_gguf *g, size_t i) { return i < g->n_kv ? &g->kvs[i] : NULL; }

const cn_gguf_tensor *cn_gguf_tensor_at(const cn_gguf *g, size_t i)
{
	return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const cn_gguf_kv *cn_gguf_find(const cn_gguf *g, const char *key)
{
	uint32_t id = cn_strmap_get(&g->kv_index, key, strlen(key));
	return id < g->n_kv ? &g->kvs[id] : NULL;
}

const cn_gguf_tensor *cn_gguf_tensor_find(const cn_gguf *g, const char *name)
{
	uint32_t id = cn_strmap_get(&g->tensor_index, name, strlen(name));
	return id < g->n_tensors ? &g->tensors[id] : NULL;
}

/* ---- typed getters -------------------------------------------------------------------- */

static bool is_int(cn_gguf_vtype t)
{
	return t == CN_GGUF_U8 || t == CN_GGUF_I8 || t == CN_GGUF_U16 || t == CN_GGUF_I16 || t == CN_GGUF_U32 ||
	       t == CN_GGUF_I32 || t == CN_GGUF_U64 || t == CN_GGUF_I64;
}

static bool is_unsigned(cn_gguf_vtype t)
{
	return t == CN_GGUF_U8 || t == CN_GGUF_U16 || t == CN_GGUF_U32 || t == CN_GGUF_U64;
}

static cairn_status wrong_type(const cn_gguf *g, const char *key, cn_gguf_vtype have, const char *want,
                               cn_err *err)
{
	return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' has type %s, expected %s", g->name, key,
	                  cn_gguf_vtype_name(have), want);
}

static cairn_status get_kv(const cn_gguf *g, const char *key, const cn_gguf_kv **kv)
{
	*kv = cn_gguf_find(g, key);
	return *kv ? CAIRN_OK : CAIRN_ENOTFOUND;
}

cairn_status cn_gguf_get_i64(const cn_gguf *g, const char *key, int64_t *out, cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	const cn_gguf_value *v = &kv->value;
	if (!is_int(v->type))
		return wrong_type(g, key, v->type, "an integer", err);
	if (is_unsigned(v->type)) {
		if (v->v.u64 > (uint64_t)INT64_MAX)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' = %llu does not fit in i64", g->name, key,
			                  (unsigned long long)v->v.u64);
		*out = (int64_t)v->v.u64;
	} else {
		*out = v->v.i64;
	}
	return CAIRN_OK;
}

cairn_status cn_gguf_get_u32(const cn_gguf *g, const char *key, uint32_t *out, cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	const cn_gguf_value *v = &kv->value;
	if (!is_int(v->type))
		return wrong_type(g, key, v->type, "an integer", err);
	bool fits = is_unsigned(v->type) ? v->v.u64 <= UINT32_MAX : v->v.i64 >= 0 && v->v.i64 <= (int64_t)UINT32_MAX;
	if (!fits) {
		if (is_unsigned(v->type))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' = %llu does not fit in u32", g->name, key,
			                  (unsigned long long)v->v.u64);
		return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' = %lld does not fit in u32", g->name, key,
		                  (long long)v->v.i64);
	}
	*out = is_unsigned(v->type) ? (uint32_t)v->v.u64 : (uint32_t)v->v.i64;
	return CAIRN_OK;
}

cairn_status cn_gguf_get_f32(const cn_gguf *g, const char *key, float *out, cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	if (kv->value.type != CN_GGUF_F32 && kv->value.type != CN_GGUF_F64)
		return wrong_type(g, key, kv->value.type, "f32 or f64", err);
	*out = (float)kv->value.v.f64;
	return CAIRN_OK;
}

cairn_status cn_gguf_get_bool(const cn_gguf *g, const char *key, bool *out, cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	if (kv->value.type != CN_GGUF_BOOL)
		return wrong_type(g, key, kv->value.type, "bool", err);
	*out = kv->value.v.b;
	return CAIRN_OK;
}

cairn_status cn_gguf_get_str(const cn_gguf *g, const char *key, cn_gguf_str *out, cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	if (kv->value.type != CN_GGUF_STRING)
		return wrong_type(g, key, kv->value.type, "string", err);
	*out = kv->value.v.str;
	return CAIRN_OK;
}

cairn_status cn_gguf_get_arr(const cn_gguf *g, const char *key, cn_gguf_vtype elem, const cn_gguf_array **out,
                             cn_err *err)
{
	const cn_gguf_kv *kv;
	if (get_kv(g, key, &kv))
		return CAIRN_ENOTFOUND;
	if (kv->value.type != CN_GGUF_ARRAY)
		return wrong_type(g, key, kv->value.type, "array", err);
	if (elem != CN_GGUF_VTYPE_COUNT && kv->value.v.arr.type != elem)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: key '%s' is an array of %s, expected an array of %s", g->name,
		                  key, cn_gguf_vtype_name(kv->value.v.arr.type), cn_gguf_vtype_name(elem));
	*out = &kv->value.v.arr;
	return CAIRN_OK;
}
