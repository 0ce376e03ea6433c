/*
 * check.c — the tensor and metadata checks every model loader runs before compute.
 *
 * Why one file: the encoder and the decoder loaders validate in the same way (a file is
 * untrusted input; the reader only guarantees each tensor's bytes lie inside the file, not
 * that they are the size the architecture needs), and their messages should read the same:
 * the file, the tensor, the expected and the actual shape in ggml's order (ne[0] first:
 * [n_embd, n_vocab] for a token table) and the metadata that implies it. A loader looks up
 * every tensor its forward pass touches through these helpers; the first mismatch fails the
 * open. 1-D vectors (norms, biases) are converted to F32 copies owned by a cn_vecset, which
 * costs kilobytes and lets the forward pass read them without type dispatch.
 */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

void cn_vecset_free(cn_vecset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		cn_free(s->v[i]);
	cn_free(s->v);
	memset(s, 0, sizeof(*s));
}

void cn_ml_shape_str(const cn_gguf_tensor *t, char *buf, size_t size)
{
	size_t n = 0;
	n += (size_t)snprintf(buf + n, size - n, "[");
	for (uint32_t d = 0; d < t->n_dims && n < size; d++)
		n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

const cn_gguf_tensor *cn_ml_find(cn_mload *L, const char *name, bool required, cairn_status *rc)
{
	const cn_gguf_tensor *t = cn_gguf_tensor_find(L->g, name);
	if (!t && required)
		*rc = cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s' is missing (a %s model needs it)", L->path, name,
		                 L->arch);
	return t;
}

cairn_status cn_ml_check_type(cn_mload *L, const char *name, const cn_gguf_tensor *t)
{
	if (!cn_kern_supports(t->type))
		return cn_err_set(L->err, CAIRN_EUNSUPPORTED,
		                  "%s: tensor '%s' has type %s, which cairn's kernels do not run (supported: F32, F16, "
		                  "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
		                  L->path, name, cn_ggml_type_name(t->type));
	return CAIRN_OK;
}

cairn_status cn_ml_check_shape(cn_mload *L, const char *name, const cn_gguf_tensor *t, int nd, int64_t ne0,
                               int64_t ne1, const char *what)
{
	bool ok = t->ne[0] == ne0 && (nd == 1 ? t->ne[1] == 1 : t->ne[1] == ne1);
	for (int d = 2; d < CN_GGUF_MAX_DIMS; d++)
		ok = ok && t->ne[d] == 1;
	if (!ok) {
		char got[96];
		cn_ml_shape_str(t, got, sizeof(got));
		if (nd == 1)
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s' has shape %s, expected [%lld] (%s)", L->path,
			                  name, got, (long long)ne0, what);
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s' has shape %s, expected [%lld, %lld] (%s)", L->path,
		                  name, got, (long long)ne0, (long long)ne1, what);
	}
	return cn_ml_check_type(L, name, t);
}

static cairn_status own_vec(cn_mload *L, const cn_gguf_tensor *t, int64_t n, const float **out)
{
	cn_vecset *s = L->vecs;
	if (CN_GROW(s->v, s->cap, s->n + 1) != CAIRN_OK)
		return cn_err_set(L->err, CAIRN_ENOMEM, "%s: out of memory", L->path);
	float *v = cn_malloc((size_t)n * sizeof(float));
	if (!v)
		return cn_err_set(L->err, CAIRN_ENOMEM, "%s: out of memory", L->path);
	s->v[s->n++] = v;
	cn_dequantize_row(t->type, t->data, v, n);
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%.*s' holds a non-finite value at %lld", L->path,
			                  (int)t->name.len, t->name.ptr, (long long)i);
	*out = v;
	return CAIRN_OK;
}

cairn_status cn_ml_get_vec(cn_mload *L, const char *name, int64_t n, bool required, const float **out,
                           const char *what)
{
	cairn_status rc = CAIRN_OK;
	*out = NULL;
	const cn_gguf_tensor *t = cn_ml_find(L, name, required, &rc);
	if (!t)
		return rc;
	if ((rc = cn_ml_check_shape(L, name, t, 1, n, 1, what)) != CAIRN_OK)
		return rc;
	return own_vec(L, t, n, out);
}

cairn_status cn_ml_get_mat(cn_mload *L, const char *name, int64_t cols, int64_t rows, bool required, cn_weight *w,
                           bool *present, const char *what)
{
	cairn_status rc = CAIRN_OK;
	memset(w, 0, sizeof(*w));
	if (present)
		*present = false;
	const cn_gguf_tensor *t = cn_ml_find(L, name, required, &rc);
	if (!t)
		return rc;
	if ((rc = cn_ml_check_shape(L, name, t, 2, cols, rows, what)) != CAIRN_OK)
		return rc;
	if (!cn_weight_from_tensor(t, w, L->err))
		return L->err->code ? L->err->code
		                    : cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s' is unusable", L->path, name);
	if (present)
		*present = true;
	return CAIRN_OK;
}

cairn_status cn_ml_get_table(cn_mload *L, const char *name, int64_t cols, int64_t rows, int64_t min_rows,
                             bool required, cn_table *tab, const char *what)
{
	cairn_status rc = CAIRN_OK;
	memset(tab, 0, sizeof(*tab));
	const cn_gguf_tensor *t = cn_ml_find(L, name, required, &rc);
	if (!t)
		return rc;
	if (rows >= 0) {
		if ((rc = cn_ml_check_shape(L, name, t, 2, cols, rows, what)) != CAIRN_OK)
			return rc;
	} else {
		bool ok = t->ne[0] == cols && t->ne[1] >= min_rows && t->ne[2] == 1 && t->ne[3] == 1;
		if (!ok) {
			char got[96];
			cn_ml_shape_str(t, got, sizeof(got));
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s' has shape %s, expected [%lld, ≥ %lld] (%s)",
			                  L->path, name, got, (long long)cols, (long long)min_rows, what);
		}
		if ((rc = cn_ml_check_type(L, name, t)) != CAIRN_OK)
			return rc;
	}
	uint64_t rb = 0;
	if (!cn_ggml_row_bytes(t->type, (uint64_t)cols, &rb))
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: tensor '%s': rows of %lld elements do not fit type %s", L->path,
		                  name, (long long)cols, cn_ggml_type_name(t->type));
	tab->type = t->type;
	tab->data = t->data;
	tab->rows = t->ne[1];
	tab->cols = cols;
	tab->row_bytes = rb;
	return CAIRN_OK;
}

cairn_status cn_ml_key_i64(cn_mload *L, const char *key, bool required, int64_t lo, int64_t hi, int64_t *out)
{
	char full[160];
	snprintf(full, sizeof(full), "%s.%s", L->arch, key);
	int64_t v;
	cairn_status rc = cn_gguf_get_i64(L->g, full, &v, L->err);
	if (rc == CAIRN_ENOTFOUND) {
		if (required)
			return cn_err_set(L->err, CAIRN_EFORMAT, "%s: metadata key %s is missing", L->path, full);
		return CAIRN_OK; /* *out keeps its default */
	}
	if (rc != CAIRN_OK)
		return rc;
	if (v < lo || v > hi)
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: %s = %lld is out of range (%lld..%lld)", L->path, full,
		                  (long long)v, (long long)lo, (long long)hi);
	*out = v;
	return CAIRN_OK;
}

cairn_status cn_ml_key_f32(cn_mload *L, const char *key, float lo, float hi, float *out)
{
	char full[160];
	snprintf(full, sizeof(full), "%s.%s", L->arch, key);
	float v;
	cairn_status rc = cn_gguf_get_f32(L->g, full, &v, L->err);
	if (rc == CAIRN_ENOTFOUND)
		return CAIRN_OK;
	if (rc != CAIRN_OK)
		return rc;
	if (!(v >= lo && v <= hi))
		return cn_err_set(L->err, CAIRN_EFORMAT, "%s: %s = %g is out of range (%g..%g)", L->path, full, (double)v,
		                  (double)lo, (double)hi);
	*out = v;
	return CAIRN_OK;
}
