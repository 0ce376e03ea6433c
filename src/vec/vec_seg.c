/*
 * vec_seg.c — opening a vector segment: map, validate everything once, then use in place.
 *
 * Design. The container (segfile.c) has already checked section boundaries and CRCs, so a
 * flipped bit on disk is caught there; what is checked here is the structure a valid CRC
 * does not vouch for (a file written by a buggy or hostile writer): every section has
 * exactly the size the meta record implies, every link count is within its list, every
 * neighbour id is a node, every neighbour on an upper level reaches that level (the walk
 * reads that node's block for the level next), the upper-level block starts are the prefix
 * sums of the levels, the entry point sits on the top level, label offsets are monotone
 * inside their blob, the dictionary is strictly sorted and per-vector label ids are
 * ascending and inside it. After that, the search and merge code index arrays without
 * further checks. The cost is one pass over the links and labels (~13 MB for 100k vectors
 * at M = 16), not over the vectors: a non-finite stored float can only give a meaningless
 * score, never an out-of-bounds access (heap and sort orders stay well defined as
 * comparisons of (score, id) pairs).
 */
#include "vec/vec_int.h"

#include <string.h>

static cairn_status corrupt(const char *path, cn_err *err, const char *what)
{
	return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt vector segment: %s", path, what);
}

static cairn_status get_sec(cn_vec_seg *s, uint32_t id, const uint8_t **p, size_t *len, cn_err *err)
{
	cn_err e;
	cn_err_clear(&e);
	cairn_status st = cn_segr_section(s->r, id, p, len, &e);
	if (st == CAIRN_ENOTFOUND)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt vector segment: section %u missing", s->path, id);
	if (st)
		return cn_err_set(err, st, "%s", e.msg);
	return CAIRN_OK;
}

static cairn_status get_arr(cn_vec_seg *s, uint32_t id, uint64_t count, size_t esz, const void **p, cn_err *err)
{
	const uint8_t *d;
	size_t len;
	cairn_status st = get_sec(s, id, &d, &len, err);
	if (st)
		return st;
	if (count > SIZE_MAX / esz || len != count * esz)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: corrupt vector segment: section %u has %zu bytes, expected %llu",
		                  s->path, id, len, (unsigned long long)(count > SIZE_MAX / esz ? 0 : count * esz));
	*p = d;
	return CAIRN_OK;
}

static bool offsets_ok(const uint32_t *offs, uint64_t count, uint64_t blob_len)
{
	if (offs[0] != 0)
		return false;
	for (uint64_t i = 1; i <= count; i++)
		if (offs[i] < offs[i - 1])
			return false;
	return offs[count] == blob_len;
}

static cairn_status validate(cn_vec_seg *s, cn_err *err)
{
	const char *path = s->path;
	vec_index *ix = &s->ix;
	if (cn_segr_kind_version(s->r) != VEC_KIND_VERSION)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: vector segment format version %u not supported (this build reads %u)",
		                  path, cn_segr_kind_version(s->r), VEC_KIND_VERSION);
	const void *mp;
	cairn_status st = get_arr(s, VSEC_META, 1, VEC_META_SIZE, &mp, err);
	if (st)
		return st;
	const uint8_t *m = mp;
	ix->n = cn_load_u32le(m);
	ix->dim = cn_load_u32le(m + 4);
	ix->metric = cn_load_u32le(m + 8);
	ix->storage = cn_load_u32le(m + 12);
	ix->M = cn_load_u32le(m + 16);
	ix->M0 = cn_load_u32le(m + 20);
	ix->efc = cn_load_u32le(m + 24);
	ix->maxlevel = cn_load_u32le(m + 28);
	ix->entry = cn_load_u32le(m + 32);
	ix->nlabels = cn_load_u32le(m + 36);
	ix->nublocks = cn_load_u64le(m + 40);
	ix->n_doclabels = cn_load_u64le(m + 48);
	ix->seed = cn_load_u64le(m + 56);
	if (ix->n > INT32_MAX)
		return corrupt(path, err, "vector count out of range");
	if (ix->dim == 0 || ix->dim > CN_VEC_MAX_DIM)
		return corrupt(path, err, "dimension out of range");
	if (ix->metric < CN_VEC_COSINE || ix->metric > CN_VEC_L2)
		return corrupt(path, err, "unknown metric");
	if (ix->storage != CN_VEC_F32 && ix->storage != CN_VEC_INT8)
		return corrupt(path, err, "unknown storage type");
	if (ix->M < 2 || ix->M > CN_VEC_MAX_M || ix->M0 < ix->M || ix->M0 > 2 * CN_VEC_MAX_M)
		return corrupt(path, err, "link counts M/M0 out of range");
	if (ix->efc == 0 || ix->efc > 65536) /* a merge builds with it */
		return corrupt(path, err, "efConstruction out of range");
	if (ix->maxlevel > VEC_MAX_LEVEL)
		return corrupt(path, err, "top level out of range");
	if (ix->n == 0 ? ix->entry != VEC_NONE || ix->maxlevel != 0 : ix->entry >= ix->n)
		return corrupt(path, err, "entry point out of range");
	uint64_t n = ix->n, dim = ix->dim;
	const void *p;
	bool i8 = ix->storage == CN_VEC_INT8;
#define ARR(sec, count, esz, field, type)                                      \
	do {                                                                   \
		if ((st = get_arr(s, sec, count, esz, &p, err)))               \
			return st;                                             \
		ix->field = (type)p;                                           \
	} while (0)
	ARR(VSEC_IDS, n, 8, ids, const uint64_t *);
	ARR(VSEC_MTIMES, n, 8, mtimes, const int64_t *);
	ARR(VSEC_VECS, n * dim, 4, vecs, const float *);
	if (i8) {
		ARR(VSEC_CODES, n * dim, 1, codes, const int8_t *);
		ARR(VSEC_QPARAMS, n * 2, 4, qparams, const float *);
	}
	ARR(VSEC_LEVELS, n, 1, levels, const uint8_t *);
	ARR(VSEC_USTART, n, 4, ustart, const uint32_t *);
	ARR(VSEC_L0, n * (1 + (uint64_t)ix->M0), 4, l0, const uint32_t *);
	if (ix->nublocks > UINT32_MAX)
		return corrupt(path, err, "upper-level block count out of range");
	ARR(VSEC_UPPER, ix->nublocks * (1 + (uint64_t)ix->M), 4, upper, const uint32_t *);
	ARR(VSEC_LABELOFFS, (uint64_t)ix->nlabels + 1, 4, laboffs, const uint32_t *);
	const uint8_t *lab;
	size_t lab_len;
	if ((st = get_sec(s, VSEC_LABELS, &lab, &lab_len, err)))
		return st;
	ix->labels = (const char *)lab;
	ARR(VSEC_DOCLABOFFS, n + 1, 4, dloffs, const uint32_t *);
	ARR(VSEC_DOCLABIDS, ix->n_doclabels, 4, dlids, const uint32_t *);
#undef ARR

	/* levels and upper-level block starts */
	uint64_t acc = 0;
	for (uint32_t v = 0; v < ix->n; v++) {
		if (ix->levels[v] > ix->maxlevel)
			return corrupt(path, err, "node level above the top level");
		if (ix->ustart[v] != acc)
			return corrupt(path, err, "upper-level block starts inconsistent with levels");
		acc += ix->levels[v];
	}
	if (acc != ix->nublocks)
		return corrupt(path, err, "upper-level block count inconsistent with levels");
	if (ix->n && ix->levels[ix->entry] != ix->maxlevel)
		return corrupt(path, err, "entry point is not on the top level");
	/* links */
	for (uint32_t v = 0; v < ix->n; v++) {
		const uint32_t *l = ix->l0 + (size_t)v * (1 + ix->M0);
		if (l[0] > ix->M0)
			return corrupt(path, err, "level-0 link count out of range");
		for (uint32_t j = 1; j <= l[0]; j++)
			if (l[j] >= ix->n)
				return corrupt(path, err, "bad neighbour id on level 0");
		for (uint32_t lv = 1; lv <= ix->levels[v]; lv++) {
			const uint32_t *u = vec_links(ix, v, lv);
			if (u[0] > ix->M)
				return corrupt(path, err, "upper-level link count out of range");
			for (uint32_t j = 1; j <= u[0]; j++)
				if (u[j] >= ix->n || ix->levels[u[j]] < lv)
					return corrupt(path, err, "bad neighbour id on an upper level");
		}
	}
	/* labels */
	if (!offsets_ok(ix->laboffs, ix->nlabels, lab_len))
		return corrupt(path, err, "label offsets out of range");
	if (!offsets_ok(ix->dloffs, ix->n, ix->n_doclabels))
		return corrupt(path, err, "vector label offsets out of range");
	for (uint32_t i = 1; i < ix->nlabels; i++) {
		uint32_t a0 = ix->laboffs[i - 1], a1 = ix->laboffs[i], a2 = ix->laboffs[i + 1];
		uint32_t la = a1 - a0, lb = a2 - a1;
		int c = memcmp(lab + a0, lab + a1, CN_MIN(la, lb));
		if (c > 0 || (c == 0 && la >= lb))
			return corrupt(path, err, "label dictionary not sorted");
	}
	for (uint32_t v = 0; v < ix->n; v++)
		for (uint32_t j = ix->dloffs[v]; j < ix->dloffs[v + 1]; j++)
			if (ix->dlids[j] >= ix->nlabels || (j > ix->dloffs[v] && ix->dlids[j] <= ix->dlids[j - 1]))
				return corrupt(path, err, "vector label ids out of range or unsorted");
	return CAIRN_OK;
}

cairn_status cn_vec_seg_open(const char *path, cn_vec_seg **out, cn_err *err)
{
	*out = NULL;
	cn_vec_seg *s = cn_calloc(1, sizeof *s);
	if (!s)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	cairn_status st = cn_segr_open(path, CN_SEG_KIND_VEC, &s->r, err);
	if (st) {
		cn_free(s);
		return st;
	}
	s->path = cn_segr_path(s->r);
	s->bytes = cn_segr_bytes(s->r);
	if ((st = validate(s, err))) {
		cn_segr_close(s->r);
		cn_free(s);
		return st;
	}
	*out = s;
	return CAIRN_OK;
}

void cn_vec_seg_close(cn_vec_seg *s)
{
	if (!s || !s->r)
		return;
	cn_segr_close(s->r);
	cn_free(s);
}

uint32_t cn_vec_seg_count(const cn_vec_seg *s) { return s->ix.n; }
uint32_t cn_vec_seg_dim(const cn_vec_seg *s) { return s->ix.dim; }
cn_vec_metric cn_vec_seg_metric(const cn_vec_seg *s) { return (cn_vec_metric)s->ix.metric; }
cn_vec_storage cn_vec_seg_storage(const cn_vec_seg *s) { return (cn_vec_storage)s->ix.storage; }
uint64_t cn_vec_seg_bytes(const cn_vec_seg *s) { return s->bytes; }

cn_vec_params cn_vec_seg_params(const cn_vec_seg *s)
{
	return (cn_vec_params){.dim = s->ix.dim,
	                       .metric = (cn_vec_metric)s->ix.metric,
	                       .storage = (cn_vec_storage)s->ix.storage,
	                       .M = s->ix.M,
	                       .ef_construction = s->ix.efc,
	                       .threads = 1,
	                       .seed = s->ix.seed};
}

uint64_t cn_vec_seg_search_bytes(const cn_vec_seg *s)
{
	const vec_index *ix = &s->ix;
	uint64_t n = ix->n;
	uint64_t b = n * (1 + (uint64_t)ix->M0) * 4 + ix->nublocks * (1 + (uint64_t)ix->M) * 4 + n * 5;
	if (ix->storage == CN_VEC_INT8)
		b += n * ix->dim + n * 8;
	else
		b += n * ix->dim * 4;
	return b;
}

uint64_t cn_vec_seg_chunk_id(const cn_vec_seg *s, uint32_t i) { return i < s->ix.n ? s->ix.ids[i] : 0; }
int64_t cn_vec_seg_mtime(const cn_vec_seg *s, uint32_t i) { return i < s->ix.n ? s->ix.mtimes[i] : 0; }
const float *cn_vec_seg_vector(const cn_vec_seg *s, uint32_t i)
{
	return i < s->ix.n ? s->ix.vecs + (size_t)i * s->ix.dim : NULL;
}

const uint32_t *cn_vec_seg_labels_of(const cn_vec_seg *s, uint32_t i, size_t *n)
{
	if (i >= s->ix.n) {
		*n = 0;
		return NULL;
	}
	*n = s->ix.dloffs[i + 1] - s->ix.dloffs[i];
	return s->ix.dlids + s->ix.dloffs[i];
}

uint32_t cn_vec_seg_nlabels(const cn_vec_seg *s) { return s->ix.nlabels; }

const char *cn_vec_seg_label(const cn_vec_seg *s, uint32_t id, uint32_t *len)
{
	if (id >= s->ix.nlabels) {
		*len = 0;
		return NULL;
	}
	*len = s->ix.laboffs[id + 1] - s->ix.laboffs[id];
	return s->ix.labels + s->ix.laboffs[id];
}

static const char *label_cb(const void *ctx, uint32_t i, uint32_t *len) { return cn_vec_seg_label(ctx, i, len); }

void cn_vec_seg_label_source(const cn_vec_seg *s, cn_label_source *src)
{
	src->n_labels = s->ix.nlabels;
	src->label = label_cb;
	src->ctx = s;
}
