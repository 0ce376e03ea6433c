/*
 * vec_build.c — the in-memory builder, HNSW construction and the segment writer.
 *
 * Design.
 *  - The builder only collects (chunk id, vector, labels, mtime); the graph is built in one
 *    go when the segment is written (or searched in memory). Building late means the level of
 *    every node is known up front (drawn from splitmix64(seed + node number), so it does not
 *    depend on insertion order or threads), so the upper-level link blocks are laid out
 *    contiguously, exactly as they are written, and the in-memory index is byte-for-byte the
 *    one on disk.
 *  - Construction follows hnswlib (the reference implementation the benchmark compares
 *    with): greedy descent through the upper levels, a beam search of efConstruction on each
 *    level from the node's top level down, neighbour selection by the paper's heuristic
 *    (a candidate is kept only if it is closer to the new node than to every neighbour
 *    already kept; M neighbours on every level), bidirectional links, and an overfull
 *    neighbour list (M upper, 2·M on level 0) shrunk with the same heuristic. Distances are
 *    always exact floats, also for INT8 segments: the graph quality does not depend on the
 *    quantiser.
 *  - Threads: with threads > 1, nodes are handed out by an atomic counter and link lists are
 *    guarded by striped mutexes (a reader copies a list under its lock); a node that raises
 *    the top level holds the global lock for its whole insertion, as in hnswlib. The result
 *    is then as good but not reproducible (insertion interleaving varies); one thread (the
 *    default) gives a byte-identical segment for the same input.
 *  - Labels are stored as bm25 stores them: a sorted dictionary and per-vector sorted ids.
 */
#include "vec/vec_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cn_vec_builder {
	cn_vec_params p;
	uint32_t n;
	float *vecs;
	size_t vcap;
	uint64_t *ids;
	int64_t *mtimes;
	uint32_t *dl_offs; /* n + 1, into dl_ids (builder label ids) */
	size_t icap, mcap, ocap;
	uint32_t *dl_ids;
	size_t ndl, dlcap;
	cn_strmap labels;
	/* built */
	bool built;
	int8_t *codes;
	float *qparams;
	uint8_t *levels;
	uint32_t *ustart, *l0, *upper;
	uint32_t *laboffs, *dloffs, *dlids;
	char *lblob;
	cn_vec_seg seg;
};

cn_vec_params cn_vec_default_params(uint32_t dim)
{
	return (cn_vec_params){.dim = dim,
	                       .metric = CN_VEC_COSINE,
	                       .storage = CN_VEC_F32,
	                       .M = 16,
	                       .ef_construction = 200,
	                       .threads = 1,
	                       .seed = 0x636169726e766563ull};
}

static cairn_status check_params(const cn_vec_params *p, cn_err *err)
{
	if (p->dim == 0 || p->dim > CN_VEC_MAX_DIM)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: dimension %u outside 1..%u", p->dim, CN_VEC_MAX_DIM);
	if (p->metric < CN_VEC_COSINE || p->metric > CN_VEC_L2)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: unknown metric %d", (int)p->metric);
	if (p->storage != CN_VEC_F32 && p->storage != CN_VEC_INT8)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: unknown storage %d", (int)p->storage);
	if (p->M < 2 || p->M > CN_VEC_MAX_M)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: M %u outside 2..%u", p->M, CN_VEC_MAX_M);
	if (p->ef_construction == 0 || p->ef_construction > 65536)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: efConstruction %u outside 1..65536", p->ef_construction);
	return CAIRN_OK;
}

cairn_status cn_vec_builder_new(const cn_vec_params *p, cn_vec_builder **out, cn_err *err)
{
	*out = NULL;
	cairn_status st = check_params(p, err);
	if (st)
		return st;
	cn_vec_builder *b = cn_calloc(1, sizeof *b);
	if (!b)
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
	b->p = *p;
	if (b->p.threads == 0)
		b->p.threads = 1;
	cn_strmap_init(&b->labels);
	b->dl_offs = cn_malloc(sizeof *b->dl_offs);
	if (!b->dl_offs) {
		cn_free(b);
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
	}
	b->ocap = 1;
	b->dl_offs[0] = 0;
	*out = b;
	return CAIRN_OK;
}

static void free_built(cn_vec_builder *b)
{
	cn_free(b->codes);
	cn_free(b->qparams);
	cn_free(b->levels);
	cn_free(b->ustart);
	cn_free(b->l0);
	cn_free(b->upper);
	cn_free(b->laboffs);
	cn_free(b->dloffs);
	cn_free(b->dlids);
	cn_free(b->lblob);
	b->codes = NULL;
	b->qparams = NULL;
	b->levels = NULL;
	b->ustart = b->l0 = b->upper = b->laboffs = b->dloffs = b->dlids = NULL;
	b->lblob = NULL;
	b->built = false;
}

void cn_vec_builder_free(cn_vec_builder *b)
{
	if (!b)
		return;
	free_built(b);
	cn_free(b->vecs);
	cn_free(b->ids);
	cn_free(b->mtimes);
	cn_free(b->dl_offs);
	cn_free(b->dl_ids);
	cn_strmap_free(&b->labels);
	cn_free(b);
}

uint32_t cn_vec_builder_count(const cn_vec_builder *b) { return b->n; }

size_t cn_vec_builder_memory(const cn_vec_builder *b)
{
	return sizeof *b + b->vcap * 4 + b->icap * 16 + b->ocap * 4 + b->dlcap * 4 + b->labels.arena.total +
	       b->labels.nslots * 16 + b->labels.kcap * 12;
}

cairn_status cn_vec_builder_add(cn_vec_builder *b, const cn_vec_item *it, cn_err *err)
{
	return cn_vec_builder_add_raw(b, it, NULL, false, err);
}

cairn_status cn_vec_builder_add_raw(cn_vec_builder *b, const cn_vec_item *it, const uint32_t *label_lens,
                                    bool normalized, cn_err *err)
{
	if (b->built)
		return cn_err_set(err, CAIRN_EINVAL, "vector index: add after the index was built");
	uint32_t dim = b->p.dim;
	if (b->n >= INT32_MAX - 1)
		return cn_err_set(err, CAIRN_ETOOBIG, "vector index: too many vectors");
	double nn = 0;
	for (uint32_t i = 0; i < dim; i++) {
		if (!isfinite(it->vec[i]))
			return cn_err_set(err, CAIRN_EINVAL, "vector index: chunk %llu: component %u is not finite",
			                  (unsigned long long)it->chunk_id, i);
		nn += (double)it->vec[i] * it->vec[i];
	}
	if (!isfinite(nn))
		return cn_err_set(err, CAIRN_EINVAL, "vector index: chunk %llu: vector norm overflows",
		                  (unsigned long long)it->chunk_id);
	size_t nl = it->n_labels;
	if (b->ndl + nl > UINT32_MAX)
		return cn_err_set(err, CAIRN_ETOOBIG, "vector index: too many labels");
	if (CN_GROW(b->vecs, b->vcap, ((size_t)b->n + 1) * dim) || CN_GROW(b->ids, b->icap, (size_t)b->n + 1) ||
	    CN_GROW(b->dl_offs, b->ocap, (size_t)b->n + 2) || (nl && CN_GROW(b->dl_ids, b->dlcap, b->ndl + nl)))
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
	if (CN_GROW(b->mtimes, b->mcap, (size_t)b->n + 1))
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
	size_t ndl = b->ndl;
	for (size_t i = 0; i < nl; i++) {
		const char *l = it->labels[i] ? it->labels[i] : "";
		uint32_t id;
		if (cn_strmap_put(&b->labels, l, label_lens ? label_lens[i] : strlen(l), &id, NULL))
			return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
		b->dl_ids[ndl++] = id;
	}
	float *v = b->vecs + (size_t)b->n * dim;
	if (b->p.metric == CN_VEC_COSINE && nn > 0 && !normalized) {
		double inv = 1.0 / sqrt(nn);
		for (uint32_t i = 0; i < dim; i++)
			v[i] = (float)(it->vec[i] * inv);
	} else {
		memcpy(v, it->vec, (size_t)dim * sizeof *v);
	}
	b->ids[b->n] = it->chunk_id;
	b->mtimes[b->n] = it->mtime;
	b->ndl = ndl;
	b->n++;
	b->dl_offs[b->n] = (uint32_t)ndl;
	return CAIRN_OK;
}

/* ---- HNSW construction ---- */

#define NSTRIPES 4096u

typedef struct hnsw_build {
	const float *vecs;
	uint32_t n, dim, metric, M, M0, efc;
	const uint8_t *levels;
	const uint32_t *ustart;
	uint32_t *l0, *upper;
	const cn_vec_kernels *k;
	bool mt;
	pthread_mutex_t glock;
	pthread_mutex_t *stripes;
	uint32_t entry, maxlevel;
	uint32_t next; /* next node to insert (atomic) */
	int failed;    /* atomic: out of memory in a worker */
} hnsw_build;

typedef struct hnsw_tls {
	uint16_t *tags;
	uint16_t epoch;
	vec_heap top, cand;
	vec_pair *w;     /* candidates, ascending */
	vec_pair *sel;   /* selected */
	uint32_t *nbuf;  /* copy of a link list */
	size_t wcap;
} hnsw_tls;

static inline uint32_t *links_mut(hnsw_build *h, uint32_t v, uint32_t level)
{
	if (level == 0)
		return h->l0 + (size_t)v * (1 + h->M0);
	return h->upper + ((size_t)h->ustart[v] + level - 1) * (1 + h->M);
}

static inline float hdist(const hnsw_build *h, uint32_t a, uint32_t b)
{
	return vec_dist_f32(h->k, h->metric, h->vecs + (size_t)a * h->dim, h->vecs + (size_t)b * h->dim, h->dim);
}

static inline void lock_node(hnsw_build *h, uint32_t v)
{
	if (h->mt)
		pthread_mutex_lock(&h->stripes[v % NSTRIPES]);
}
static inline void unlock_node(hnsw_build *h, uint32_t v)
{
	if (h->mt)
		pthread_mutex_unlock(&h->stripes[v % NSTRIPES]);
}

/* Copies v's links at level into t->nbuf; returns the count. */
static uint32_t copy_links(hnsw_build *h, hnsw_tls *t, uint32_t v, uint32_t level)
{
	lock_node(h, v);
	const uint32_t *l = links_mut(h, v, level);
	uint32_t c = l[0];
	memcpy(t->nbuf, l + 1, (size_t)c * 4);
	unlock_node(h, v);
	return c;
}

static void new_epoch(hnsw_build *h, hnsw_tls *t)
{
	if (++t->epoch == 0) {
		memset(t->tags, 0, (size_t)h->n * sizeof *t->tags);
		t->epoch = 1;
	}
}

/* Beam search of width ef on one level from ep; t->top gets the best (max-heap, ≤ ef). */
static bool search_layer(hnsw_build *h, hnsw_tls *t, uint32_t q, uint32_t ep, float ep_d, uint32_t ef,
                         uint32_t level)
{
	new_epoch(h, t);
	t->top.n = t->cand.n = 0;
	t->tags[ep] = t->epoch;
	t->tags[q] = t->epoch;
	if (!vec_heap_push(&t->top, ep_d, ep) || !vec_heap_push(&t->cand, -ep_d, ep))
		return false;
	float bound = ep_d;
	const float *qv = h->vecs + (size_t)q * h->dim;
	while (t->cand.n) {
		vec_pair c = vec_heap_pop(&t->cand);
		if (-c.d > bound && t->top.n >= ef)
			break;
		uint32_t cnt = copy_links(h, t, c.id, level);
		for (uint32_t j = 0; j < cnt; j++)
			if (t->tags[t->nbuf[j]] != t->epoch)
				__builtin_prefetch(h->vecs + (size_t)t->nbuf[j] * h->dim);
		for (uint32_t j = 0; j < cnt; j++) {
			uint32_t nb = t->nbuf[j];
			if (t->tags[nb] == t->epoch)
				continue;
			t->tags[nb] = t->epoch;
			float d = vec_dist_f32(h->k, h->metric, qv, h->vecs + (size_t)nb * h->dim, h->dim);
			if (t->top.n < ef || d < bound) {
				if (!vec_heap_push(&t->cand, -d, nb) || !vec_heap_push(&t->top, d, nb))
					return false;
				if (t->top.n > ef)
					vec_heap_pop(&t->top);
				bound = t->top.a[0].d;
			}
		}
	}
	return true;
}

/* The heuristic: w ascending by distance to the base node; keeps a candidate only when it is
 * closer to the base than to every candidate kept before it. */
static uint32_t select_heuristic(hnsw_build *h, const vec_pair *w, size_t nw, uint32_t m, vec_pair *sel)
{
	uint32_t ns = 0;
	for (size_t i = 0; i < nw && ns < m; i++) {
		bool good = true;
		for (uint32_t j = 0; j < ns; j++)
			if (hdist(h, w[i].id, sel[j].id) < w[i].d) {
				good = false;
				break;
			}
		if (good)
			sel[ns++] = w[i];
	}
	return ns;
}

/* Links q at level to the heuristic's choice among t->top; returns the closest candidate. */
static vec_pair connect(hnsw_build *h, hnsw_tls *t, uint32_t q, uint32_t level)
{
	size_t nw = 0;
	while (t->top.n) {
		vec_pair p = vec_heap_pop(&t->top);
		if (p.id != q)
			t->w[nw++] = p;
	}
	/* popped descending: reverse into ascending */
	for (size_t i = 0; i < nw / 2; i++) {
		vec_pair x = t->w[i];
		t->w[i] = t->w[nw - 1 - i];
		t->w[nw - 1 - i] = x;
	}
	vec_pair best = t->w[0];
	uint32_t ns = select_heuristic(h, t->w, nw, h->M, t->sel);
	uint32_t mmax = level ? h->M : h->M0;
	lock_node(h, q);
	uint32_t *lq = links_mut(h, q, level);
	lq[0] = ns;
	for (uint32_t i = 0; i < ns; i++)
		lq[1 + i] = t->sel[i].id;
	unlock_node(h, q);
	/* t->sel is reused below as the shrink output: copy the chosen ids first */
	uint32_t chosen[CN_VEC_MAX_M];
	for (uint32_t i = 0; i < ns; i++)
		chosen[i] = t->sel[i].id;
	for (uint32_t i = 0; i < ns; i++) {
		uint32_t s = chosen[i];
		lock_node(h, s);
		uint32_t *ls = links_mut(h, s, level);
		uint32_t c = ls[0];
		bool present = false;
		for (uint32_t j = 0; j < c; j++)
			present |= ls[1 + j] == q;
		if (!present) {
			if (c < mmax) {
				ls[1 + c] = q;
				ls[0] = c + 1;
			} else {
				vec_pair *cand = t->w; /* t->w is free again: best was copied */
				cand[0] = (vec_pair){hdist(h, s, q), q};
				for (uint32_t j = 0; j < c; j++)
					cand[1 + j] = (vec_pair){hdist(h, s, ls[1 + j]), ls[1 + j]};
				qsort(cand, (size_t)c + 1, sizeof *cand, cn_vec_cmp_pair);
				uint32_t nk = select_heuristic(h, cand, (size_t)c + 1, mmax, t->sel);
				ls[0] = nk;
				for (uint32_t j = 0; j < nk; j++)
					ls[1 + j] = t->sel[j].id;
			}
		}
		unlock_node(h, s);
	}
	return best;
}

static bool insert(hnsw_build *h, hnsw_tls *t, uint32_t q)
{
	uint32_t level = h->levels[q];
	if (h->mt)
		pthread_mutex_lock(&h->glock);
	uint32_t top = h->maxlevel, ep = h->entry;
	bool hold = level > top;
	if (h->mt && !hold)
		pthread_mutex_unlock(&h->glock);
	bool ok = true;
	if (ep == VEC_NONE) {
		h->entry = q;
		h->maxlevel = level;
		goto done;
	}
	float d = hdist(h, q, ep);
	for (uint32_t l = top; l > level; l--) {
		bool changed = true;
		while (changed) {
			changed = false;
			uint32_t cnt = copy_links(h, t, ep, l);
			for (uint32_t j = 0; j < cnt; j++) {
				float dn = hdist(h, q, t->nbuf[j]);
				if (dn < d) {
					d = dn;
					ep = t->nbuf[j];
					changed = true;
				}
			}
		}
	}
	for (uint32_t l = CN_MIN(level, top);; l--) {
		if (!search_layer(h, t, q, ep, d, h->efc, l)) {
			ok = false;
			goto done;
		}
		vec_pair b = connect(h, t, q, l);
		ep = b.id;
		d = b.d;
		if (l == 0)
			break;
	}
	if (hold) {
		h->entry = q;
		h->maxlevel = level;
	}
done:
	if (h->mt && hold)
		pthread_mutex_unlock(&h->glock);
	return ok;
}

static bool tls_init(hnsw_build *h, hnsw_tls *t)
{
	memset(t, 0, sizeof *t);
	t->tags = cn_calloc(h->n ? h->n : 1, sizeof *t->tags);
	t->wcap = CN_MAX((size_t)h->efc, (size_t)h->M0) + 2;
	t->w = cn_malloc(t->wcap * sizeof *t->w);
	t->sel = cn_malloc(t->wcap * sizeof *t->sel);
	t->nbuf = cn_malloc(((size_t)h->M0 + 1) * sizeof *t->nbuf);
	return t->tags && t->w && t->sel && t->nbuf;
}

static void tls_free(hnsw_tls *t)
{
	cn_free(t->tags);
	cn_free(t->w);
	cn_free(t->sel);
	cn_free(t->nbuf);
	vec_heap_free(&t->top);
	vec_heap_free(&t->cand);
}

static void *worker(void *arg)
{
	hnsw_build *h = arg;
	hnsw_tls t;
	if (!tls_init(h, &t)) {
		__atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
		tls_free(&t);
		return NULL;
	}
	for (;;) {
		if (__atomic_load_n(&h->failed, __ATOMIC_RELAXED))
			break;
		uint32_t q = __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED);
		if (q >= h->n)
			break;
		if (!insert(h, &t, q)) {
			__atomic_store_n(&h->failed, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	tls_free(&t);
	return NULL;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static cairn_status build_graph(cn_vec_builder *b, uint32_t *entry, uint32_t *maxlevel, cn_err *err)
{
	hnsw_build h = {.vecs = b->vecs,
	                .n = b->n,
	                .dim = b->p.dim,
	                .metric = b->p.metric,
	                .M = b->p.M,
	                .M0 = 2 * b->p.M,
	                .efc = CN_MAX(b->p.ef_construction, b->p.M),
	                .levels = b->levels,
	                .ustart = b->ustart,
	                .l0 = b->l0,
	                .upper = b->upper,
	                .k = cn_vec_kern(),
	                .entry = VEC_NONE,
	                .maxlevel = 0};
	*entry = VEC_NONE;
	*maxlevel = 0;
	if (b->n == 0)
		return CAIRN_OK;
	uint32_t nthreads = CN_MIN(b->p.threads, 64u);
	if (b->n < 1000)
		nthreads = 1;
	hnsw_tls t;
	if (!tls_init(&h, &t)) {
		tls_free(&t);
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory building the graph");
	}
	insert(&h, &t, 0); /* the first node only sets the entry point */
	h.next = 1;
	bool ok = true;
	if (nthreads > 1) {
		h.mt = true;
		h.stripes = cn_malloc(NSTRIPES * sizeof *h.stripes);
		pthread_t tid[64];
		uint32_t started = 0;
		if (h.stripes) {
			pthread_mutex_init(&h.glock, NULL);
			for (uint32_t i = 0; i < NSTRIPES; i++)
				pthread_mutex_init(&h.stripes[i], NULL);
			for (uint32_t i = 1; i < nthreads; i++)
				if (pthread_create(&tid[started], NULL, worker, &h) == 0)
					started++;
			worker(&h); /* this thread works too */
			for (uint32_t i = 0; i < started; i++)
				pthread_join(tid[i], NULL);
			for (uint32_t i = 0; i < NSTRIPES; i++)
				pthread_mutex_destroy(&h.stripes[i]);
			pthread_mutex_destroy(&h.glock);
			cn_free(h.stripes);
			ok = !h.failed;
		} else {
			ok = false;
		}
	} else {
		for (uint32_t q = 1; q < b->n && ok; q++)
			ok = insert(&h, &t, q);
	}
	tls_free(&t);
	if (!ok)
		return cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory building the graph");
	*entry = h.entry;
	*maxlevel = h.maxlevel;
	return CAIRN_OK;
}

static int cmp_label_ids(const void *a, const void *b, void *ctx)
{
	const cn_strmap *m = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t lx = cn_strmap_klen(m, x), ly = cn_strmap_klen(m, y);
	int c = memcmp(cn_strmap_key(m, x), cn_strmap_key(m, y), CN_MIN(lx, ly));
	return c ? c : (lx > ly) - (lx < ly);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Sorted dictionary and per-vector sorted, deduplicated ids. */
static cairn_status build_labels(cn_vec_builder *b, cn_err *err)
{
	size_t nl = cn_strmap_count(&b->labels);
	uint32_t *order = cn_malloc((nl ? nl : 1) * sizeof *order), *rank = cn_malloc((nl ? nl : 1) * sizeof *rank);
	b->laboffs = cn_malloc((nl + 1) * sizeof *b->laboffs);
	b->dloffs = cn_malloc(((size_t)b->n + 1) * sizeof *b->dloffs);
	b->dlids = cn_malloc((b->ndl ? b->ndl : 1) * sizeof *b->dlids);
	size_t total = 0;
	for (size_t i = 0; i < nl; i++)
		total += cn_strmap_klen(&b->labels, (uint32_t)i);
	b->lblob = cn_malloc(total ? total : 1);
	cairn_status st = CAIRN_OK;
	if (!order || !rank || !b->laboffs || !b->dloffs || !b->dlids || !b->lblob) {
		st = cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
		goto out;
	}
	if (total > UINT32_MAX) {
		st = cn_err_set(err, CAIRN_ETOOBIG, "vector index: label dictionary too large");
		goto out;
	}
	for (size_t i = 0; i < nl; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, nl, sizeof *order, cmp_label_ids, &b->labels);
	size_t pos = 0;
	b->laboffs[0] = 0;
	for (size_t i = 0; i < nl; i++) {
		rank[order[i]] = (uint32_t)i;
		uint32_t l = cn_strmap_klen(&b->labels, order[i]);
		memcpy(b->lblob + pos, cn_strmap_key(&b->labels, order[i]), l);
		pos += l;
		b->laboffs[i + 1] = (uint32_t)pos;
	}
	uint32_t nout = 0;
	b->dloffs[0] = 0;
	for (uint32_t d = 0; d < b->n; d++) {
		uint32_t s0 = nout;
		for (uint32_t j = b->dl_offs[d]; j < b->dl_offs[d + 1]; j++)
			b->dlids[nout++] = rank[b->dl_ids[j]];
		if (nout - s0 > 1)
			qsort(b->dlids + s0, nout - s0, sizeof *b->dlids, cmp_u32);
		uint32_t k = s0;
		for (uint32_t j = s0; j < nout; j++)
			if (j == s0 || b->dlids[j] != b->dlids[k - 1])
				b->dlids[k++] = b->dlids[j];
		nout = k;
		b->dloffs[d + 1] = nout;
	}
	b->seg.ix.nlabels = (uint32_t)nl;
	b->seg.ix.n_doclabels = nout;
out:
	cn_free(order);
	cn_free(rank);
	return st;
}

static cairn_status build(cn_vec_builder *b, cn_err *err)
{
	uint32_t n = b->n, dim = b->p.dim, M = b->p.M, M0 = 2 * M;
	cairn_status st;
	memset(&b->seg, 0, sizeof b->seg);
	b->seg.path = "(in-memory vector index)";
	b->levels = cn_malloc(n ? n : 1);
	b->ustart = cn_malloc((n ? n : 1) * sizeof *b->ustart);
	b->l0 = cn_calloc(((size_t)n ? n : 1) * (1 + M0), sizeof *b->l0);
	if (!b->levels || !b->ustart || !b->l0)
		goto oom;
	double ml = 1.0 / log((double)M);
	uint64_t nub = 0;
	for (uint32_t i = 0; i < n; i++) {
		double u = (double)(splitmix64(b->p.seed + i) >> 11) * (1.0 / 9007199254740992.0);
		double lv = -log(u > 0 ? u : 1e-300) * ml;
		uint32_t l = lv >= VEC_MAX_LEVEL ? VEC_MAX_LEVEL : (uint32_t)lv;
		b->levels[i] = (uint8_t)l;
		b->ustart[i] = (uint32_t)nub;
		nub += l;
	}
	if (nub > UINT32_MAX)
		goto oom;
	b->upper = cn_calloc(nub ? nub * (1 + M) : 1, sizeof *b->upper);
	if (!b->upper)
		goto oom;
	if (b->p.storage == CN_VEC_INT8) {
		b->codes = cn_malloc(((size_t)n ? n : 1) * dim);
		b->qparams = cn_malloc(((size_t)n ? n : 1) * 2 * sizeof *b->qparams);
		if (!b->codes || !b->qparams)
			goto oom;
		for (uint32_t i = 0; i < n; i++) {
			const float *v = b->vecs + (size_t)i * dim;
			b->qparams[2 * i] = cn_vec_quantize(v, dim, b->codes + (size_t)i * dim);
			double s = 0;
			for (uint32_t j = 0; j < dim; j++)
				s += (double)v[j] * v[j];
			b->qparams[2 * i + 1] = (float)s;
		}
	}
	if ((st = build_labels(b, err)))
		goto fail;
	uint32_t entry, maxlevel;
	if ((st = build_graph(b, &entry, &maxlevel, err)))
		goto fail;
	vec_index *ix = &b->seg.ix;
	ix->n = n;
	ix->dim = dim;
	ix->metric = b->p.metric;
	ix->storage = b->p.storage;
	ix->M = M;
	ix->M0 = M0;
	ix->efc = b->p.ef_construction;
	ix->maxlevel = maxlevel;
	ix->entry = entry;
	ix->seed = b->p.seed;
	ix->nublocks = nub;
	ix->vecs = b->vecs;
	ix->codes = b->codes;
	ix->qparams = b->qparams;
	ix->levels = b->levels;
	ix->ustart = b->ustart;
	ix->l0 = b->l0;
	ix->upper = b->upper;
	ix->ids = b->ids;
	ix->mtimes = b->mtimes;
	ix->laboffs = b->laboffs;
	ix->labels = b->lblob;
	ix->dloffs = b->dloffs;
	ix->dlids = b->dlids;
	b->built = true;
	return CAIRN_OK;
oom:
	st = cn_err_set(err, CAIRN_ENOMEM, "vector index: out of memory");
fail:
	free_built(b);
	return st;
}

cairn_status cn_vec_builder_index(cn_vec_builder *b, const cn_vec_seg **out, cn_err *err)
{
	*out = NULL;
	if (!b->built) {
		cairn_status st = build(b, err);
		if (st)
			return st;
	}
	*out = &b->seg;
	return CAIRN_OK;
}

cairn_status cn_vec_builder_write(cn_vec_builder *b, const char *path, uint64_t *bytes, cn_err *err)
{
	const cn_vec_seg *s;
	cairn_status st = cn_vec_builder_index(b, &s, err);
	if (st)
		return st;
	return cn_vec_write_index(&s->ix, path, bytes, err);
}

/* ---- writing ---- */

cairn_status cn_vec_write_index(const vec_index *ix, const char *path, uint64_t *bytes, cn_err *err)
{
	uint8_t meta[VEC_META_SIZE];
	memset(meta, 0, sizeof meta);
	cn_store_u32le(meta + 0, ix->n);
	cn_store_u32le(meta + 4, ix->dim);
	cn_store_u32le(meta + 8, ix->metric);
	cn_store_u32le(meta + 12, ix->storage);
	cn_store_u32le(meta + 16, ix->M);
	cn_store_u32le(meta + 20, ix->M0);
	cn_store_u32le(meta + 24, ix->efc);
	cn_store_u32le(meta + 28, ix->maxlevel);
	cn_store_u32le(meta + 32, ix->entry);
	cn_store_u32le(meta + 36, ix->nlabels);
	cn_store_u64le(meta + 40, ix->nublocks);
	cn_store_u64le(meta + 48, ix->n_doclabels);
	cn_store_u64le(meta + 56, ix->seed);
	size_t n = ix->n, dim = ix->dim;
	cn_segw *w;
	cairn_status st = cn_segw_open(path, CN_SEG_KIND_VEC, VEC_KIND_VERSION, &w, err);
	if (st)
		return st;
	bool i8 = ix->storage == CN_VEC_INT8;
	if ((st = cn_segw_section(w, VSEC_META, meta, sizeof meta, err)) ||
	    (st = cn_segw_section(w, VSEC_IDS, ix->ids, n * 8, err)) ||
	    (st = cn_segw_section(w, VSEC_MTIMES, ix->mtimes, n * 8, err)) ||
	    (st = cn_segw_section(w, VSEC_VECS, ix->vecs, n * dim * 4, err)) ||
	    (i8 && (st = cn_segw_section(w, VSEC_CODES, ix->codes, n * dim, err))) ||
	    (i8 && (st = cn_segw_section(w, VSEC_QPARAMS, ix->qparams, n * 8, err))) ||
	    (st = cn_segw_section(w, VSEC_LEVELS, ix->levels, n, err)) ||
	    (st = cn_segw_section(w, VSEC_USTART, ix->ustart, n * 4, err)) ||
	    (st = cn_segw_section(w, VSEC_L0, ix->l0, n * (1 + (size_t)ix->M0) * 4, err)) ||
	    (st = cn_segw_section(w, VSEC_UPPER, ix->upper, ix->nublocks * (1 + (size_t)ix->M) * 4, err)) ||
	    (st = cn_segw_section(w, VSEC_LABELOFFS, ix->laboffs, ((size_t)ix->nlabels + 1) * 4, err)) ||
	    (st = cn_segw_section(w, VSEC_LABELS, ix->labels, ix->laboffs[ix->nlabels], err)) ||
	    (st = cn_segw_section(w, VSEC_DOCLABOFFS, ix->dloffs, (n + 1) * 4, err)) ||
	    (st = cn_segw_section(w, VSEC_DOCLABIDS, ix->dlids, ix->n_doclabels * 4, err))) {
		cn_segw_abort(w);
		return st;
	}
	return cn_segw_finish(w, bytes, err);
}
