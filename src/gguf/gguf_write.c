/*
 * gguf_write.c — writes GGUF v3 files: key/values of every type (arrays nested), tensors
 * aligned to general.alignment (32 unless the caller set it).
 *
 * The writer only collects pointers (keys, values, tensor data stay the caller's until
 * cn_gguf_writer_write returns), so converting a multi-gigabyte model costs no copy of its
 * weights: the header is built in memory, the tensor data streamed from wherever it lives
 * (usually another file's mapping). The output is crash-safe as the knowledge base's files
 * are: a temporary file in the target's directory, written, fsynced, renamed over the target
 * and the directory fsynced; on any failure the temporary file is removed, so a reader sees
 * the old file or the complete new one and never a partial one.
 */
#include "gguf/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

typedef struct w_tensor {
	const char *name;
	uint32_t n_dims;
	int64_t ne[CN_GGUF_MAX_DIMS];
	cn_ggml_type type;
	const void *data;
	uint64_t nbytes;
	uint64_t offset; /* within the data section */
} w_tensor;

typedef struct w_kv {
	const char *key;
	cn_gguf_value value;
} w_kv;

struct cn_gguf_writer {
	w_kv *kvs;
	size_t n_kv, cap_kv;
	w_tensor *tensors;
	size_t n_tensors, cap_tensors;
	uint32_t alignment;
};

cairn_status cn_gguf_writer_new(cn_gguf_writer **out, cn_err *err)
{
	*out = cn_calloc(1, sizeof(**out));
	if (!*out)
		return cn_err_set(err, CAIRN_ENOMEM, "gguf writer: out of memory");
	(*out)->alignment = 32;
	return CAIRN_OK;
}

void cn_gguf_writer_free(cn_gguf_writer *w)
{
	if (!w)
		return;
	cn_free(w->kvs);
	cn_free(w->tensors);
	cn_free(w);
}

cairn_status cn_gguf_writer_add_kv(cn_gguf_writer *w, const char *key, const cn_gguf_value *value, cn_err *err)
{
	if (!key || !*key || !value || value->type >= CN_GGUF_VTYPE_COUNT)
		return cn_err_set(err, CAIRN_EINVAL, "gguf writer: key/value '%s' is empty or of an unknown type",
		                  key ? key : "");
	for (size_t i = 0; i < w->n_kv; i++)
		if (!strcmp(w->kvs[i].key, key))
			return cn_err_set(err, CAIRN_EINVAL, "gguf writer: key '%s' added twice", key);
	if (!strcmp(key, "general.alignment")) {
		uint64_t a = value->type == CN_GGUF_U32 ? value->v.u64 : 0;
		if (a == 0 || a % 8 != 0 || (a & (a - 1)) != 0 || a > 65536)
			return cn_err_set(err, CAIRN_EINVAL, "gguf writer: general.alignment must be a u32 power of two "
			                                     "multiple of 8");
		w->alignment = (uint32_t)a;
	}
	if (CN_GROW(w->kvs, w->cap_kv, w->n_kv + 1))
		return cn_err_set(err, CAIRN_ENOMEM, "gguf writer: out of memory");
	w->kvs[w->n_kv++] = (w_kv){key, *value};
	return CAIRN_OK;
}

cairn_status cn_gguf_writer_add_tensor(cn_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                                       cn_ggml_type type, const void *data, uint64_t nbytes, cn_err *err)
{
	if (!name || !*name || n_dims < 1 || n_dims > CN_GGUF_MAX_DIMS)
		return cn_err_set(err, CAIRN_EINVAL, "gguf writer: tensor '%s': bad name or %u dimensions",
		                  name ? name : "", n_dims);
	for (size_t i = 0; i < w->n_tensors; i++)
		if (!strcmp(w->tensors[i].name, name))
			return cn_err_set(err, CAIRN_EINVAL, "gguf writer: tensor '%s' added twice", name);
	uint64_t n = 1, row;
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] <= 0 || __builtin_mul_overflow(n, (uint64_t)ne[d], &n))
			return cn_err_set(err, CAIRN_EINVAL, "gguf writer: tensor '%s': dimension %u is %lld", name, d,
			                  (long long)ne[d]);
	}
	if (!cn_ggml_type_get(type) || !cn_ggml_row_bytes(type, (uint64_t)ne[0], &row) ||
	    row * (n / (uint64_t)ne[0]) != nbytes)
		return cn_err_set(err, CAIRN_EINVAL, "gguf writer: tensor '%s': %llu bytes do not hold its shape in type %s",
		                  name, (unsigned long long)nbytes, cn_ggml_type_name(type));
	if (CN_GROW(w->tensors, w->cap_tensors, w->n_tensors + 1))
		return cn_err_set(err, CAIRN_ENOMEM, "gguf writer: out of memory");
	w_tensor *t = &w->tensors[w->n_tensors++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < CN_GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->type = type;
	t->data = data;
	t->nbytes = nbytes;
	return CAIRN_OK;
}

static void put_str(cn_buf *b, const char *s, uint64_t len)
{
	cn_buf_put_u64le(b, len);
	cn_buf_append(b, s, (size_t)len);
}

static size_t scalar_size(cn_gguf_vtype t)
{
	switch (t) {
	case CN_GGUF_U8: case CN_GGUF_I8: case CN_GGUF_BOOL: return 1;
	case CN_GGUF_U16: case CN_GGUF_I16: return 2;
	case CN_GGUF_U32: case CN_GGUF_I32: case CN_GGUF_F32: return 4;
	case CN_GGUF_U64: case CN_GGUF_I64: case CN_GGUF_F64: return 8;
	default: return 0;
	}
}

/* The value's bytes after its type tag; depth bounds nested arrays. */
static cairn_status put_value(cn_buf *b, const char *key, const cn_gguf_value *v, int depth, cn_err *err)
{
	uint8_t raw[8];
	switch (v->type) {
	case CN_GGUF_STRING:
		put_str(b, v->v.str.ptr, v->v.str.len);
		return CAIRN_OK;
	case CN_GGUF_ARRAY: {
		const cn_gguf_array *a = &v->v.arr;
		if (depth > 8 || a->type >= CN_GGUF_VTYPE_COUNT || (a->n && !a->data))
			return cn_err_set(err, CAIRN_EINVAL, "gguf writer: key '%s': bad array", key);
		cn_buf_put_u32le(b, (uint32_t)a->type);
		cn_buf_put_u64le(b, a->n);
		if (a->type == CN_GGUF_STRING) {
			const cn_gguf_str *s = a->data;
			for (uint64_t i = 0; i < a->n; i++)
				put_str(b, s[i].ptr, s[i].len);
		} else if (a->type == CN_GGUF_ARRAY) {
			const cn_gguf_value *e = a->data;
			for (uint64_t i = 0; i < a->n; i++) {
				if (e[i].type != CN_GGUF_ARRAY)
					return cn_err_set(err, CAIRN_EINVAL, "gguf writer: key '%s': nested element is not an array",
					                  key);
				cairn_status rc = put_value(b, key, &e[i], depth + 1, err);
				if (rc)
					return rc;
			}
		} else {
			size_t sz = scalar_size(a->type);
			uint64_t total;
			if (__builtin_mul_overflow(a->n, (uint64_t)sz, &total) || total > SIZE_MAX / 2)
				return cn_err_set(err, CAIRN_EINVAL, "gguf writer: key '%s': array too large", key);
			cn_buf_append(b, a->data, (size_t)total); /* already little-endian, as the reader hands them */
		}
		return CAIRN_OK;
	}
	case CN_GGUF_BOOL:
		raw[0] = v->v.b ? 1 : 0;
		break;
	case CN_GGUF_F32: {
		float f = (float)v->v.f64;
		memcpy(raw, &f, 4);
		break;
	}
	case CN_GGUF_F64:
		memcpy(raw, &v->v.f64, 8);
		break;
	case CN_GGUF_I8: case CN_GGUF_I16: case CN_GGUF_I32: case CN_GGUF_I64:
		memcpy(raw, &v->v.i64, 8);
		break;
	default:
		memcpy(raw, &v->v.u64, 8);
	}
	cn_buf_append(b, raw, scalar_size(v->type)); /* little-endian host: the low bytes first */
	return CAIRN_OK;
}

static cairn_status write_fd(int fd, const void *p, size_t n, const char *path, cn_err *err)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return cn_err_set(err, CAIRN_EIO, "%s: write failed: %s", path, k < 0 ? strerror(errno) : "no progress");
		c += k;
		n -= (size_t)k;
	}
	return CAIRN_OK;
}

cairn_status cn_gguf_writer_write(cn_gguf_writer *w, const char *path, cn_err *err)
{
	cn_buf b;
	cn_buf_init(&b);
	cairn_status rc = CAIRN_OK;
	bool have_align = false;
	for (size_t i = 0; i < w->n_kv; i++)
		have_align |= !strcmp(w->kvs[i].key, "general.alignment");
	cn_buf_append(&b, "GGUF", 4);
	cn_buf_put_u32le(&b, 3);
	cn_buf_put_u64le(&b, w->n_tensors);
	cn_buf_put_u64le(&b, w->n_kv + (have_align ? 0 : 1));
	if (!have_align) {
		put_str(&b, "general.alignment", 17);
		cn_buf_put_u32le(&b, CN_GGUF_U32);
		cn_buf_put_u32le(&b, w->alignment);
	}
	for (size_t i = 0; i < w->n_kv && !rc; i++) {
		put_str(&b, w->kvs[i].key, strlen(w->kvs[i].key));
		cn_buf_put_u32le(&b, (uint32_t)w->kvs[i].value.type);
		rc = put_value(&b, w->kvs[i].key, &w->kvs[i].value, 0, err);
	}
	uint64_t off = 0;
	for (size_t i = 0; i < w->n_tensors && !rc; i++) {
		w_tensor *t = &w->tensors[i];
		t->offset = off;
		put_str(&b, t->name, strlen(t->name));
		cn_buf_put_u32le(&b, t->n_dims);
		for (uint32_t d = 0; d < t->n_dims; d++)
			cn_buf_put_u64le(&b, (uint64_t)t->ne[d]);
		cn_buf_put_u32le(&b, (uint32_t)t->type);
		cn_buf_put_u64le(&b, off);
		off += (t->nbytes + w->alignment - 1) / w->alignment * w->alignment;
	}
	cn_buf_pad(&b, w->alignment);
	if (!rc && b.failed)
		rc = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	if (rc) {
		cn_buf_free(&b);
		return rc;
	}

	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		cn_buf_free(&b);
		return cn_err_set(err, CAIRN_EINVAL, "%s: path too long", path);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		cn_buf_free(&b);
		return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	}
	rc = write_fd(fd, b.data, b.len, tmp, err);
	static const uint8_t zeros[64];
	for (size_t i = 0; i < w->n_tensors && !rc; i++) {
		const w_tensor *t = &w->tensors[i];
		rc = write_fd(fd, t->data, (size_t)t->nbytes, tmp, err);
		size_t pad = (size_t)((w->alignment - t->nbytes % w->alignment) % w->alignment);
		if (!rc && pad)
			rc = write_fd(fd, zeros, pad, tmp, err);
	}
	cn_buf_free(&b);
	if (!rc && fsync(fd) != 0)
		rc = cn_err_set(err, CAIRN_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
	if (close(fd) != 0 && !rc)
		rc = cn_err_set(err, CAIRN_EIO, "%s: close failed: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path) != 0)
		rc = cn_err_set(err, CAIRN_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	return cn_fsync_dir(dir, err);
}
