/* vec: builder → HNSW segment → filtered top-k → merge, checked against brute force computed
 * here independently (doubles, straight from the metric definitions) and, for exact search,
 * against numpy (/usr/bin/python3); fast kernels against the scalar reference; persistence
 * round trips; corrupt segments (truncated, bad neighbour ids, bad counts) rejected with a
 * message. Data: a latent Gaussian mixture (clustered, low intrinsic dimension, as
 * embeddings are). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vec/vec.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN 1
#else
#define SAN 0
#endif

/* ---- helpers ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static double rndf(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(void) { return sqrt(-2 * log(rndf())) * cos(6.283185307179586 * rndf()); }

static char tmpdir[64];
static char *tpath(const char *name)
{
	static char buf[8][256];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static int setup(void **state)
{
	(void)state;
	return cn_test_mkdtemp(tmpdir, sizeof tmpdir, "vec");
}
static int teardown(void **state)
{
	(void)state;
	cn_vec_force_scalar(false);
	return cn_test_rmtree(tmpdir);
}

#define LATENT 8
#define COMPS 12

/* n vectors of dim from a latent mixture; scale_norms gives them varied lengths (DOT, L2). */
static float *gen(size_t n, uint32_t dim, uint64_t seed, bool scale_norms)
{
	static double means[COMPS][LATENT], W[LATENT][256];
	rng_state = 0x9e3779b97f4a7c15ull; /* the mixture itself is fixed; draws depend on seed */
	for (int c = 0; c < COMPS; c++)
		for (int j = 0; j < LATENT; j++)
			means[c][j] = gauss();
	for (int j = 0; j < LATENT; j++)
		for (uint32_t d = 0; d < dim; d++)
			W[j][d] = gauss() / sqrt(LATENT);
	rng_state = seed * 2654435761u + 1;
	float *x = malloc(n * dim * sizeof *x);
	for (size_t i = 0; i < n; i++) {
		int c = (int)(rnd() % COMPS);
		double z[LATENT];
		for (int j = 0; j < LATENT; j++)
			z[j] = means[c][j] + 0.35 * gauss();
		double s = scale_norms ? 0.5 + 1.5 * rndf() : 1.0;
		for (uint32_t d = 0; d < dim; d++) {
			double v = 0.05 * gauss();
			for (int j = 0; j < LATENT; j++)
				v += z[j] * W[j][d];
			x[i * dim + d] = (float)(v * s);
		}
	}
	return x;
}

/* Independent brute force: higher score is better, ties to the lower index. */
static double ref_score(cn_vec_metric m, const float *q, const float *x, uint32_t dim)
{
	double dot = 0, qq = 0, xx = 0, l2 = 0;
	for (uint32_t i = 0; i < dim; i++) {
		dot += (double)q[i] * x[i];
		qq += (double)q[i] * q[i];
		xx += (double)x[i] * x[i];
		l2 += ((double)q[i] - x[i]) * ((double)q[i] - x[i]);
	}
	if (m == CN_VEC_COSINE)
		return qq > 0 && xx > 0 ? dot / sqrt(qq * xx) : 0;
	if (m == CN_VEC_DOT)
		return dot;
	return -l2;
}

/* Top k of the allowed vectors (allowed NULL = all): ids into out, returns the count. */
static size_t ref_topk(cn_vec_metric m, const float *x, size_t n, uint32_t dim, const float *q, const bool *allowed,
                       size_t k, uint32_t *out, double *scores)
{
	size_t cnt = 0;
	double *best = malloc(k * sizeof *best);
	for (size_t i = 0; i < n; i++) {
		if (allowed && !allowed[i])
			continue;
		double s = ref_score(m, q, x + i * dim, dim);
		if (cnt == k && s <= best[k - 1])
			continue;
		size_t j = cnt < k ? cnt++ : k - 1;
		while (j > 0 && best[j - 1] < s) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = s;
		out[j] = (uint32_t)i;
	}
	if (scores)
		memcpy(scores, best, cnt * sizeof *best);
	free(best);
	return cnt;
}

static const char *const LAB[4] = {"tag:p=50", "tag:p=10", "tag:p=1", "tag:p=01"};
static const double PROB[4] = {0.5, 0.1, 0.01, 0.001};

typedef struct dataset {
	float *x;
	size_t n;
	uint32_t dim;
	uint8_t *labmask;
} dataset;

static dataset make_data(size_t n, uint32_t dim, uint64_t seed, bool scale)
{
	dataset d = {.x = gen(n, dim, seed, scale), .n = n, .dim = dim, .labmask = calloc(n, 1)};
	rng_state = seed + 77;
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 4; b++)
			if (rndf() < PROB[b])
				d.labmask[i] |= (uint8_t)(1u << b);
	return d;
}

static void free_data(dataset *d)
{
	free(d->x);
	free(d->labmask);
}

static cn_vec_builder *build(const dataset *d, cn_vec_params p)
{
	cn_vec_builder *b;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vec_builder_new(&p, &b, &err), CAIRN_OK);
	for (size_t i = 0; i < d->n; i++) {
		const char *ls[6];
		size_t nl = 0;
		for (int j = 3; j >= 0; j--) /* reverse order + a duplicate: the builder sorts and dedups */
			if (d->labmask[i] >> j & 1)
				ls[nl++] = LAB[j];
		if (nl)
			ls[nl++] = ls[0];
		ls[nl++] = "format:markdown";
		cn_vec_item it = {.chunk_id = 5000 + i * 3, .vec = d->x + i * d->dim, .mtime = 1700000000 + (int64_t)i,
		                  .labels = ls, .n_labels = nl};
		assert_int_equal(cn_vec_builder_add(b, &it, &err), CAIRN_OK);
	}
	return b;
}

static const cn_vec_seg *index_of(cn_vec_builder *b)
{
	const cn_vec_seg *s;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vec_builder_index(b, &s, &err), CAIRN_OK);
	return s;
}

/* Mean recall@10 of the segment's search against ref_topk over nq queries. */
static double recall(const cn_vec_seg *s, const dataset *d, cn_vec_metric m, const float *qs, size_t nq,
                     const cn_vec_query *qp, const uint8_t *deleted, int filter_bit, size_t *outside)
{
	cn_vec_view v = {.seg = s, .deleted = deleted};
	bool *allowed = malloc(d->n * sizeof *allowed);
	for (size_t i = 0; i < d->n; i++)
		allowed[i] = !(deleted && (deleted[i / 8] >> (i % 8) & 1)) &&
		             (filter_bit < 0 || (d->labmask[i] >> filter_bit & 1));
	double tot = 0;
	size_t out = 0;
	for (size_t qi = 0; qi < nq; qi++) {
		cn_vec_hit hits[10];
		size_t nh;
		cn_err err;
		cn_err_clear(&err);
		assert_int_equal(cn_vec_search(&v, 1, qs + qi * d->dim, qp, hits, &nh, &err), CAIRN_OK);
		uint32_t ref[10];
		size_t nr = ref_topk(m, d->x, d->n, d->dim, qs + qi * d->dim, allowed, 10, ref, NULL);
		assert_int_equal(nh, nr);
		size_t found = 0;
		for (size_t i = 0; i < nh; i++) {
			out += !allowed[hits[i].idx];
			assert_true(i == 0 || hits[i - 1].score >= hits[i].score);
			assert_int_equal(hits[i].chunk_id, 5000 + (uint64_t)hits[i].idx * 3);
			for (size_t j = 0; j < nr; j++)
				found += hits[i].idx == ref[j];
		}
		tot += nr ? (double)found / nr : 1.0;
	}
	free(allowed);
	if (outside)
		*outside = out;
	return tot / nq;
}

/* ---- kernels ---- */

static void test_kernels(void **state)
{
	(void)state;
	const cn_vec_kernels *ref = cn_vec_kernels_scalar(), *fast = cn_vec_kernels_avx2();
	if (!fast)
		skip(); /* no AVX2/FMA on this CPU: nothing to compare */
	assert_ptr_equal(cn_vec_kernels_best(), fast);
	rng_state = 42;
	float a[1100], b[1100];
	int8_t ca[1100], cb[1100];
	for (size_t n = 0; n <= 1100; n += n < 70 ? 1 : 97) {
		for (size_t i = 0; i < n; i++) {
			a[i] = (float)gauss();
			b[i] = (float)gauss();
			ca[i] = (int8_t)((int)(rnd() % 255) - 127);
			cb[i] = (int8_t)((int)(rnd() % 255) - 127);
		}
		double dd = 0, ll = 0, aa = 0, bb = 0;
		for (size_t i = 0; i < n; i++) {
			dd += (double)a[i] * b[i];
			ll += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
			aa += (double)a[i] * a[i];
			bb += (double)b[i] * b[i];
		}
		double tol = 1e-5 * (sqrt(aa * bb) + 1);
		assert_true(fabs(ref->dot(a, b, n) - dd) <= tol);
		assert_true(fabs(fast->dot(a, b, n) - dd) <= tol);
		assert_true(fabs(ref->l2sq(a, b, n) - ll) <= 1e-5 * (ll + 1));
		assert_true(fabs(fast->l2sq(a, b, n) - ll) <= 1e-5 * (ll + 1));
		assert_int_equal(ref->dot_i8(ca, cb, n), fast->dot_i8(ca, cb, n));
		int32_t s = 0;
		for (size_t i = 0; i < n; i++)
			s += ca[i] * cb[i];
		assert_int_equal(fast->dot_i8(ca, cb, n), s);
	}
	/* extremes of the int8 range: no saturation in the pairwise sums */
	memset(ca, 127, sizeof ca);
	memset(cb, 0x81, sizeof cb); /* -127 */
	assert_int_equal(fast->dot_i8(ca, cb, 1100), -127 * 127 * 1100);
	assert_int_equal(fast->dot_i8(cb, cb, 1100), 127 * 127 * 1100);
	/* quantiser: codes within ±127 and the reconstruction within half a step */
	for (size_t i = 0; i < 300; i++)
		a[i] = (float)gauss();
	float sc = cn_vec_quantize(a, 300, ca);
	assert_true(sc > 0);
	for (size_t i = 0; i < 300; i++) {
		assert_true(ca[i] >= -127 && ca[i] <= 127);
		assert_true(fabsf(sc * ca[i] - a[i]) <= sc * 0.5f + 1e-6f);
	}
	memset(a, 0, sizeof a);
	assert_true(cn_vec_quantize(a, 10, ca) == 0 && ca[0] == 0);
}

/* ---- recall of the graph against brute force ---- */

static void test_recall_metrics(void **state)
{
	(void)state;
	size_t n = SAN ? 1500 : 4000, nq = SAN ? 20 : 50;
	uint32_t dim = 48;
	static const cn_vec_metric ms[3] = {CN_VEC_COSINE, CN_VEC_DOT, CN_VEC_L2};
	static const char *const mn[3] = {"cosine", "dot", "l2"};
	for (int mi = 0; mi < 3; mi++) {
		dataset d = make_data(n, dim, 1 + (uint64_t)mi, ms[mi] != CN_VEC_COSINE);
		float *qs = gen(nq, dim, 1000 + (uint64_t)mi, ms[mi] != CN_VEC_COSINE);
		for (int st = 0; st < 2; st++) {
			cn_vec_params p = cn_vec_default_params(dim);
			p.metric = ms[mi];
			p.storage = st ? CN_VEC_INT8 : CN_VEC_F32;
			p.ef_construction = 100;
			cn_vec_builder *b = build(&d, p);
			const cn_vec_seg *s = index_of(b);
			cn_vec_query qp = {.k = 10, .ef_search = 64, .mode = CN_VEC_GRAPH};
			double r = recall(s, &d, ms[mi], qs, nq, &qp, NULL, -1, NULL);
			cn_vec_query qe = {.k = 10, .mode = CN_VEC_EXACT};
			double re = recall(s, &d, ms[mi], qs, nq, &qe, NULL, -1, NULL);
			print_message("recall@10 %s %s: graph ef=64 %.4f, exact %.4f\n", mn[mi], st ? "int8" : "f32", r, re);
			assert_true(r >= 0.95);
			assert_true(re >= 0.999); /* exact search: only float ties could differ */
			cn_vec_builder_free(b);
		}
		free(qs);
		free_data(&d);
	}
}

/* ---- filters and deletions ---- */

static void test_filters(void **state)
{
	(void)state;
	size_t n = SAN ? 4000 : 12000, nq = SAN ? 20 : 40;
	uint32_t dim = 32;
	dataset d = make_data(n, dim, 11, false);
	float *qs = gen(nq, dim, 12, false);
	for (int st = 0; st < 2; st++) {
		cn_vec_params p = cn_vec_default_params(dim);
		p.storage = st ? CN_VEC_INT8 : CN_VEC_F32;
		p.ef_construction = 100;
		cn_vec_builder *b = build(&d, p);
		const cn_vec_seg *s = index_of(b);
		static const char *const exprs[4] = {"p=50", "p=10", "p=1", "p=01"};
		for (int bit = 0; bit < 4; bit++) {
			cn_filter *f;
			cn_err err;
			cn_err_clear(&err);
			assert_int_equal(cn_filter_compile(exprs[bit], NULL, 0, &f, &err), CAIRN_OK);
			size_t out = 0, out_g = 0;
			cn_vec_query qp = {.k = 10, .ef_search = 64, .filter = f, .mode = CN_VEC_AUTO};
			double r = recall(s, &d, CN_VEC_COSINE, qs, nq, &qp, NULL, bit, &out);
			cn_vec_search_stats sst;
			cn_vec_last_stats(&sst);
			/* the graph walk alone, too: never a result outside the filter */
			cn_vec_query qg = qp;
			qg.mode = CN_VEC_GRAPH;
			double rg = recall(s, &d, CN_VEC_COSINE, qs, nq, &qg, NULL, bit, &out_g);
			print_message("filter %-5s %s: auto recall %.4f (%s), graph-only %.4f\n", exprs[bit],
			              st ? "int8" : "f32", r, sst.exact_segments ? "exact" : "graph", rg);
			assert_true(r >= 0.95);
			if (bit <= 1)
				assert_true(rg >= 0.95); /* the walk itself, where AUTO may pick it */
			assert_int_equal(out, 0);
			assert_int_equal(out_g, 0);
			if (bit >= 2)
				assert_int_equal(sst.exact_segments, 1); /* selective: the exact path */
			if (bit == 0)
				assert_int_equal(sst.graph_segments, 1);
			cn_filter_free(f);
		}
		/* deletions: 30% deleted, none returned, recall over the live ones */
		uint8_t *del = calloc((n + 7) / 8, 1);
		rng_state = 99;
		for (size_t i = 0; i < n; i++)
			if (rndf() < 0.3)
				del[i / 8] |= (uint8_t)(1u << (i % 8));
		size_t out = 0;
		cn_vec_query qp = {.k = 10, .ef_search = 64, .mode = CN_VEC_GRAPH};
		double r = recall(s, &d, CN_VEC_COSINE, qs, nq, &qp, del, -1, &out);
		print_message("deletions %s: recall %.4f\n", st ? "int8" : "f32", r);
		assert_true(r >= 0.95);
		assert_int_equal(out, 0);
		/* everything deleted: no results */
		memset(del, 0xff, (n + 7) / 8);
		qp.mode = CN_VEC_AUTO;
		r = recall(s, &d, CN_VEC_COSINE, qs, 3, &qp, del, -1, &out);
		assert_int_equal(out, 0);
		free(del);
		cn_vec_builder_free(b);
	}
	free(qs);
	free_data(&d);
}

/* ---- persistence ---- */

static void same_results(const cn_vec_seg *a, const cn_vec_seg *b, const float *qs, size_t nq, uint32_t dim,
                         const cn_filter *f, cn_vec_mode mode)
{
	for (size_t qi = 0; qi < nq; qi++) {
		cn_vec_hit ha[10], hb[10];
		size_t na, nb;
		cn_err err;
		cn_err_clear(&err);
		cn_vec_view va = {.seg = a}, vb = {.seg = b};
		cn_vec_query qp = {.k = 10, .ef_search = 32, .filter = f, .mode = mode};
		assert_int_equal(cn_vec_search(&va, 1, qs + qi * dim, &qp, ha, &na, &err), CAIRN_OK);
		assert_int_equal(cn_vec_search(&vb, 1, qs + qi * dim, &qp, hb, &nb, &err), CAIRN_OK);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			assert_int_equal(ha[i].idx, hb[i].idx);
			assert_int_equal(ha[i].chunk_id, hb[i].chunk_id);
			assert_memory_equal(&ha[i].score, &hb[i].score, sizeof(float));
		}
	}
}

static void test_persistence(void **state)
{
	(void)state;
	size_t n = 2500, nq = 20;
	uint32_t dim = 40;
	dataset d = make_data(n, dim, 21, true);
	float *qs = gen(nq, dim, 22, true);
	cn_filter *f;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_filter_compile("p=10 OR modified<1700000100", NULL, 0, &f, &err), CAIRN_OK);
	static const cn_vec_metric ms[3] = {CN_VEC_COSINE, CN_VEC_DOT, CN_VEC_L2};
	for (int k = 0; k < 6; k++) {
		cn_vec_params p = cn_vec_default_params(dim);
		p.metric = ms[k % 3];
		p.storage = k >= 3 ? CN_VEC_INT8 : CN_VEC_F32;
		p.ef_construction = 60;
		cn_vec_builder *b = build(&d, p);
		const cn_vec_seg *mem = index_of(b);
		uint64_t bytes;
		char *path = tpath("p.vec");
		assert_int_equal(cn_vec_builder_write(b, path, &bytes, &err), CAIRN_OK);
		cn_vec_seg *s;
		assert_int_equal(cn_vec_seg_open(path, &s, &err), CAIRN_OK);
		assert_int_equal(cn_vec_seg_bytes(s), bytes);
		assert_int_equal(cn_vec_seg_count(s), n);
		assert_int_equal(cn_vec_seg_dim(s), dim);
		assert_int_equal(cn_vec_seg_metric(s), p.metric);
		assert_int_equal(cn_vec_seg_storage(s), p.storage);
		cn_vec_params q = cn_vec_seg_params(s);
		assert_int_equal(q.M, p.M);
		assert_int_equal(q.ef_construction, p.ef_construction);
		assert_true(q.seed == p.seed);
		for (uint32_t i = 0; i < n; i += 97) {
			assert_int_equal(cn_vec_seg_chunk_id(s, i), 5000 + (uint64_t)i * 3);
			assert_int_equal(cn_vec_seg_mtime(s, i), 1700000000 + (int64_t)i);
			assert_memory_equal(cn_vec_seg_vector(s, i), cn_vec_seg_vector(mem, i), dim * sizeof(float));
			size_t nl;
			const uint32_t *ids = cn_vec_seg_labels_of(s, i, &nl);
			/* the labels: the vector's bits + format:markdown, sorted and deduplicated */
			size_t want = 1;
			for (int j = 0; j < 4; j++)
				want += d.labmask[i] >> j & 1;
			assert_int_equal(nl, want);
			for (size_t j = 0; j < nl; j++) {
				uint32_t ll;
				const char *l = cn_vec_seg_label(s, ids[j], &ll);
				bool ok = ll == 15 && !memcmp(l, "format:markdown", 15);
				for (int t = 0; t < 4; t++)
					ok |= (d.labmask[i] >> t & 1) && ll == strlen(LAB[t]) && !memcmp(l, LAB[t], ll);
				assert_true(ok);
				assert_true(j == 0 || ids[j] > ids[j - 1]);
			}
		}
		/* cosine vectors are stored normalised */
		if (p.metric == CN_VEC_COSINE) {
			const float *v = cn_vec_seg_vector(s, 5);
			double nn = 0;
			for (uint32_t j = 0; j < dim; j++)
				nn += (double)v[j] * v[j];
			assert_true(fabs(nn - 1) < 1e-5);
		}
		same_results(mem, s, qs, nq, dim, NULL, CN_VEC_GRAPH);
		same_results(mem, s, qs, nq, dim, f, CN_VEC_AUTO);
		same_results(mem, s, qs, nq, dim, NULL, CN_VEC_EXACT);
		cn_vec_seg_close(s);
		/* one thread: the same input gives the same bytes */
		cn_vec_builder *b2 = build(&d, p);
		char *path2 = tpath("p2.vec");
		assert_int_equal(cn_vec_builder_write(b2, path2, NULL, &err), CAIRN_OK);
		char *d1, *d2;
		size_t l1, l2;
		assert_int_equal(cn_file_read(path, 1u << 26, &d1, &l1, &err), CAIRN_OK);
		assert_int_equal(cn_file_read(path2, 1u << 26, &d2, &l2, &err), CAIRN_OK);
		assert_int_equal(l1, l2);
		assert_memory_equal(d1, d2, l1);
		cn_free(d1);
		cn_free(d2);
		cn_vec_builder_free(b2);
		cn_vec_builder_free(b);
	}
	cn_filter_free(f);
	free(qs);
	free_data(&d);
}

/* ---- two build threads, merge ---- */

static void test_threads_and_merge(void **state)
{
	(void)state;
	size_t n = SAN ? 2000 : 5000, nq = 30;
	uint32_t dim = 32;
	dataset d = make_data(n, dim, 31, false);
	float *qs = gen(nq, dim, 32, false);
	cn_vec_params p = cn_vec_default_params(dim);
	p.ef_construction = 100;
	p.threads = 2;
	cn_vec_builder *b = build(&d, p);
	cn_vec_query qp = {.k = 10, .ef_search = 64, .mode = CN_VEC_GRAPH};
	double r = recall(index_of(b), &d, CN_VEC_COSINE, qs, nq, &qp, NULL, -1, NULL);
	print_message("two build threads: recall %.4f\n", r);
	assert_true(r >= 0.95);
	cn_vec_builder_free(b);

	/* split in two segments, delete some of each, merge, compare with the live set */
	p.threads = 1;
	p.storage = CN_VEC_INT8;
	size_t half = n / 2;
	dataset d1 = d, d2 = d;
	d1.n = half;
	d2.x = d.x + half * dim;
	d2.labmask = d.labmask + half;
	d2.n = n - half;
	cn_vec_builder *b1 = build(&d1, p), *b2 = build(&d2, p);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vec_builder_write(b1, tpath("a.vec"), NULL, &err), CAIRN_OK);
	assert_int_equal(cn_vec_builder_write(b2, tpath("b.vec"), NULL, &err), CAIRN_OK);
	cn_vec_builder_free(b1);
	cn_vec_builder_free(b2);
	cn_vec_seg *s1, *s2;
	assert_int_equal(cn_vec_seg_open(tpath("a.vec"), &s1, &err), CAIRN_OK);
	assert_int_equal(cn_vec_seg_open(tpath("b.vec"), &s2, &err), CAIRN_OK);
	uint8_t *del1 = calloc((half + 7) / 8, 1), *del2 = calloc((n - half + 7) / 8, 1);
	for (size_t i = 0; i < half; i += 3)
		del1[i / 8] |= (uint8_t)(1u << (i % 8));
	for (size_t i = 1; i < n - half; i += 5)
		del2[i / 8] |= (uint8_t)(1u << (i % 8));
	cn_vec_view views[2] = {{s1, del1}, {s2, del2}};
	/* multi-segment search against brute force over the live union */
	size_t nlive = 0;
	bool *live = malloc(n * sizeof *live);
	for (size_t i = 0; i < n; i++) {
		live[i] = i < half ? i % 3 != 0 : (i - half) % 5 != 1;
		nlive += live[i];
	}
	double tot = 0;
	for (size_t qi = 0; qi < nq; qi++) {
		cn_vec_hit hits[10];
		size_t nh;
		assert_int_equal(cn_vec_search(views, 2, qs + qi * dim, &qp, hits, &nh, &err), CAIRN_OK);
		uint32_t ref[10];
		size_t nr = ref_topk(CN_VEC_COSINE, d.x, n, dim, qs + qi * dim, live, 10, ref, NULL);
		assert_int_equal(nh, nr);
		for (size_t i = 0; i < nh; i++) {
			size_t g = hits[i].seg == 0 ? hits[i].idx : half + hits[i].idx;
			assert_true(live[g]);
			for (size_t j = 0; j < nr; j++)
				tot += g == ref[j];
		}
	}
	print_message("two segments with deletions: recall %.4f\n", tot / (10.0 * nq));
	assert_true(tot / (10.0 * nq) >= 0.95);

	uint32_t cnt;
	uint64_t bytes;
	assert_int_equal(cn_vec_merge(views, 2, NULL, tpath("m.vec"), &bytes, &cnt, &err), CAIRN_OK);
	assert_int_equal(cnt, nlive);
	cn_vec_seg *m;
	assert_int_equal(cn_vec_seg_open(tpath("m.vec"), &m, &err), CAIRN_OK);
	assert_int_equal(cn_vec_seg_count(m), nlive);
	assert_int_equal(cn_vec_seg_storage(m), CN_VEC_INT8);
	/* order kept; chunk ids, mtimes, vectors and labels carried */
	uint32_t j = 0, *order = malloc(nlive * sizeof *order); /* merged number → global index */
	for (size_t i = 0; i < n; i++) {
		if (!live[i])
			continue;
		order[j] = (uint32_t)i;
		assert_int_equal(cn_vec_seg_chunk_id(m, j), 5000 + (i < half ? i : i - half) * 3);
		assert_int_equal(cn_vec_seg_mtime(m, j), 1700000000 + (int64_t)(i < half ? i : i - half));
		const cn_vec_seg *src = i < half ? s1 : s2;
		uint32_t si = (uint32_t)(i < half ? i : i - half);
		assert_memory_equal(cn_vec_seg_vector(m, j), cn_vec_seg_vector(src, si), dim * sizeof(float));
		size_t na, nb;
		const uint32_t *la = cn_vec_seg_labels_of(m, j, &na), *lb = cn_vec_seg_labels_of(src, si, &nb);
		assert_int_equal(na, nb);
		for (size_t t = 0; t < na; t++) {
			uint32_t l1, l2;
			const char *x1 = cn_vec_seg_label(m, la[t], &l1), *x2 = cn_vec_seg_label(src, lb[t], &l2);
			assert_int_equal(l1, l2);
			assert_memory_equal(x1, x2, l1);
		}
		j++;
	}
	/* merged search against brute force over the live set */
	cn_vec_view mv = {.seg = m};
	tot = 0;
	for (size_t qi = 0; qi < nq; qi++) {
		cn_vec_hit hits[10];
		size_t nh;
		assert_int_equal(cn_vec_search(&mv, 1, qs + qi * dim, &qp, hits, &nh, &err), CAIRN_OK);
		uint32_t ref[10];
		size_t nr = ref_topk(CN_VEC_COSINE, d.x, n, dim, qs + qi * dim, live, 10, ref, NULL);
		for (size_t i = 0; i < nh; i++)
			for (size_t t = 0; t < nr; t++)
				tot += order[hits[i].idx] == ref[t];
	}
	print_message("merged: recall %.4f\n", tot / (10.0 * nq));
	assert_true(tot / (10.0 * nq) >= 0.95);
	/* dimension mismatch is an argument error */
	cn_vec_params bad = cn_vec_seg_params(m);
	bad.dim = 7;
	cn_err_clear(&err);
	assert_int_equal(cn_vec_merge(views, 2, &bad, tpath("x.vec"), NULL, NULL, &err), CAIRN_EINVAL);
	assert_true(strstr(err.msg, "dimension") != NULL);
	cn_vec_seg_close(m);
	cn_vec_seg_close(s1);
	cn_vec_seg_close(s2);
	free(del1);
	free(del2);
	free(live);
	free(order);
	free(qs);
	free_data(&d);
}

/* ---- exact search against numpy ---- */

static void test_exact_vs_numpy(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0 ||
	    system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
		print_message("skip: /usr/bin/python3 with numpy not found\n");
		skip();
	}
	size_t n = 600, nq = 8;
	uint32_t dim = 24;
	dataset d = make_data(n, dim, 41, true);
	float *qs = gen(nq, dim, 42, true);
	FILE *f = fopen(tpath("x.f32"), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d.x, sizeof(float), n * dim, f), n * dim);
	fclose(f);
	f = fopen(tpath("q.f32"), "wb");
	assert_int_equal(fwrite(qs, sizeof(float), nq * dim, f), nq * dim);
	fclose(f);
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
	         "/usr/bin/python3 -c '\n"
	         "import numpy as np\n"
	         "x = np.fromfile(\"%s\", dtype=np.float32).reshape(-1, %u).astype(np.float64)\n"
	         "q = np.fromfile(\"%s\", dtype=np.float32).reshape(-1, %u).astype(np.float64)\n"
	         "xn = x / np.linalg.norm(x, axis=1, keepdims=True); qn = q / np.linalg.norm(q, axis=1, keepdims=True)\n"
	         "out = open(\"%s\", \"w\")\n"
	         "for name, s in ((\"cosine\", qn @ xn.T), (\"dot\", q @ x.T), (\"l2\", -((q[:, None, :] - x[None, :, :]) ** 2).sum(-1))):\n"
	         "    for i in range(len(q)):\n"
	         "        top = np.argsort(-s[i], kind=\"stable\")[:10]\n"
	         "        out.write(name + \" \" + \" \".join(\"%%d:%%.9g\" %% (j, s[i, j]) for j in top) + \"\\n\")\n"
	         "'",
	         tpath("x.f32"), dim, tpath("q.f32"), dim, tpath("np.txt"));
	assert_int_equal(system(cmd), 0);
	f = fopen(tpath("np.txt"), "r");
	assert_non_null(f);
	static const cn_vec_metric ms[3] = {CN_VEC_COSINE, CN_VEC_DOT, CN_VEC_L2};
	for (int mi = 0; mi < 3; mi++) {
		cn_vec_params p = cn_vec_default_params(dim);
		p.metric = ms[mi];
		p.storage = mi == 1 ? CN_VEC_INT8 : CN_VEC_F32; /* exact search is float for both */
		cn_vec_builder *b = build(&d, p);
		cn_vec_view v = {.seg = index_of(b)};
		for (size_t qi = 0; qi < nq; qi++) {
			char line[4096], name[16];
			assert_non_null(fgets(line, sizeof line, f));
			int off = 0;
			assert_int_equal(sscanf(line, "%15s%n", name, &off), 1);
			cn_vec_hit hits[10];
			size_t nh;
			cn_err err;
			cn_err_clear(&err);
			cn_vec_query qp = {.k = 10, .mode = CN_VEC_EXACT};
			assert_int_equal(cn_vec_search(&v, 1, qs + qi * dim, &qp, hits, &nh, &err), CAIRN_OK);
			assert_int_equal(nh, 10);
			char *pp = line + off;
			for (size_t i = 0; i < 10; i++) {
				unsigned id;
				double sc;
				int used;
				assert_int_equal(sscanf(pp, " %u:%lf%n", &id, &sc, &used), 2);
				pp += used;
				assert_int_equal(hits[i].idx, id);
				assert_true(fabs(hits[i].score - sc) <= 1e-4 * (fabs(sc) + 1));
			}
		}
		cn_vec_builder_free(b);
	}
	fclose(f);
	free(qs);
	free_data(&d);
}

/* ---- corrupt segments ---- */

static uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static void st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of section id in a container image (0 if absent). */
static uint64_t sec_off(const uint8_t *d, uint32_t id, uint64_t *len)
{
	uint32_t n = ld32(d + 20);
	const uint8_t *t = d + ld64(d + 24);
	for (uint32_t i = 0; i < n; i++)
		if (ld32(t + i * 24) == id) {
			*len = ld64(t + i * 24 + 16);
			return ld64(t + i * 24 + 8);
		}
	return 0;
}

static void fix_crcs(uint8_t *d)
{
	uint32_t n = ld32(d + 20);
	uint8_t *t = d + ld64(d + 24);
	for (uint32_t i = 0; i < n; i++)
		st32(t + i * 24 + 4, cn_crc32c(0, d + ld64(t + i * 24 + 8), ld64(t + i * 24 + 16)));
	st32(t + n * 24, cn_crc32c(0, t, (size_t)n * 24));
	st32(d + 60, cn_crc32c(0, d, 60));
}

/* Writes img (len bytes) to a file and opens it; returns the status and the message. */
static cairn_status open_img(const uint8_t *img, size_t len, char *msg)
{
	char *path = tpath("bad.vec");
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, len, f), len);
	fclose(f);
	cn_err err;
	cn_err_clear(&err);
	cn_vec_seg *s = NULL;
	cairn_status st = cn_vec_seg_open(path, &s, &err);
	if (st == CAIRN_OK) {
		/* whatever opened must be searchable */
		float q[16] = {1};
		cn_vec_view v = {.seg = s};
		cn_vec_query qp = {.k = 5, .mode = CN_VEC_GRAPH};
		cn_vec_hit h[5];
		size_t nh;
		cn_vec_search(&v, 1, q, &qp, h, &nh, &err);
		cn_vec_seg_close(s);
	} else {
		assert_null(s);
	}
	snprintf(msg, 1024, "%s", err.msg);
	return st;
}

static void test_corrupt(void **state)
{
	(void)state;
	uint32_t dim = 16;
	dataset d = make_data(300, dim, 51, false);
	cn_vec_params p = cn_vec_default_params(dim);
	p.storage = CN_VEC_INT8;
	p.M = 4;
	p.ef_construction = 20;
	cn_vec_builder *b = build(&d, p);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_vec_builder_write(b, tpath("good.vec"), NULL, &err), CAIRN_OK);
	cn_vec_builder_free(b);
	char *raw;
	size_t len;
	assert_int_equal(cn_file_read(tpath("good.vec"), 1u << 24, &raw, &len, &err), CAIRN_OK);
	uint8_t *img = malloc(len);
	char msg[1024];
	/* the pristine image opens */
	memcpy(img, raw, len);
	assert_int_equal(open_img(img, len, msg), CAIRN_OK);
	/* truncations */
	for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
		assert_int_not_equal(open_img(img, cut, msg), CAIRN_OK);
		assert_true(msg[0] != '\0');
	}
	struct {
		uint32_t sec;
		size_t at;     /* byte inside the section */
		uint32_t val;  /* u32 written there */
		const char *want;
	} cases[] = {
		{9, 4, 300, "bad neighbour id on level 0"},          /* first level-0 neighbour of node 0 = n */
		{9, 4, 0xffffffffu, "bad neighbour id on level 0"},
		{9, 0, 9, "level-0 link count out of range"},         /* count > M0 = 8 */
		{1, 0, 301, "section 2 has"},                         /* vector count no longer matches the sections */
		{1, 0, 0x80000000u, "vector count out of range"},
		{1, 4, 0, "dimension out of range"},
		{1, 8, 7, "unknown metric"},
		{1, 12, 3, "unknown storage"},
		{1, 20, 2, "link counts M/M0 out of range"},          /* M0 < M */
		{1, 32, 300, "entry point out of range"},
		{1, 24, 0, "efConstruction out of range"},            /* a merge would build with it */
		{1, 28, 25, "top level out of range"},
		{1, 40, 1u << 20, "section 10 has"},                  /* upper-level block count */
		{8, 4, 7, "upper-level block starts"},
		{11, 4, 0xfffffu, "label offsets out of range"},
		{13, 8, 1u << 30, "vector label offsets out of range"},
		{14, 0, 1000, "vector label ids out of range"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		memcpy(img, raw, len);
		uint64_t sl, so = sec_off(img, cases[c].sec, &sl);
		assert_true(so != 0 && cases[c].at + 4 <= sl);
		st32(img + so + cases[c].at, cases[c].val);
		fix_crcs(img);
		cairn_status st = open_img(img, len, msg);
		if (st == CAIRN_OK || !strstr(msg, cases[c].want))
			print_message("case %zu: status %d, message '%s', wanted '%s'\n", c, (int)st, msg, cases[c].want);
		assert_int_equal(st, CAIRN_ECORRUPT);
		assert_non_null(strstr(msg, cases[c].want));
		assert_non_null(strstr(msg, "corrupt vector segment"));
	}
	/* an upper-level neighbour that does not reach that level */
	{
		memcpy(img, raw, len);
		uint64_t ls, lo = sec_off(img, 7, &ls), us, uo = sec_off(img, 10, &us);
		assert_true(us >= 4 * 5);
		uint32_t low = 0;
		while (img[lo + low] != 0)
			low++; /* a level-0 node */
		st32(img + uo, 1);
		st32(img + uo + 4, low);
		fix_crcs(img);
		assert_int_equal(open_img(img, len, msg), CAIRN_ECORRUPT);
		assert_non_null(strstr(msg, "bad neighbour id on an upper level"));
	}
	/* unsorted label dictionary (swap the first two label bytes of "format:..." / "tag:...") */
	{
		memcpy(img, raw, len);
		uint64_t ll, lo = sec_off(img, 12, &ll);
		img[lo] = 'z';
		fix_crcs(img);
		assert_int_equal(open_img(img, len, msg), CAIRN_ECORRUPT);
		assert_non_null(strstr(msg, "label dictionary not sorted"));
	}
	/* a flipped byte without fixing the CRCs: the container rejects it */
	memcpy(img, raw, len);
	img[len / 2] ^= 0x40;
	assert_int_equal(open_img(img, len, msg), CAIRN_ECORRUPT);
	/* a bm25 segment is not a vector segment */
	memcpy(img, raw, len);
	st32(img + 12, CN_SEG_KIND_BM25);
	fix_crcs(img);
	assert_int_not_equal(open_img(img, len, msg), CAIRN_OK);
	assert_true(msg[0] != '\0');
	/* format version from the future */
	memcpy(img, raw, len);
	st32(img + 16, 99);
	fix_crcs(img);
	assert_int_equal(open_img(img, len, msg), CAIRN_EUNSUPPORTED);
	free(img);
	cn_free(raw);
	free_data(&d);
}

/* ---- edge cases and argument errors ---- */

static void test_edges(void **state)
{
	(void)state;
	cn_err err;
	cn_err_clear(&err);
	cn_vec_params p = cn_vec_default_params(4);
	cn_vec_builder *b;
	/* empty segment */
	assert_int_equal(cn_vec_builder_new(&p, &b, &err), CAIRN_OK);
	assert_int_equal(cn_vec_builder_write(b, tpath("empty.vec"), NULL, &err), CAIRN_OK);
	cn_vec_builder_free(b);
	cn_vec_seg *s;
	assert_int_equal(cn_vec_seg_open(tpath("empty.vec"), &s, &err), CAIRN_OK);
	assert_int_equal(cn_vec_seg_count(s), 0);
	float q[4] = {1, 2, 3, 4};
	cn_vec_view v = {.seg = s};
	cn_vec_hit h[3];
	size_t nh = 9;
	cn_vec_query qp = {.k = 3};
	assert_int_equal(cn_vec_search(&v, 1, q, &qp, h, &nh, &err), CAIRN_OK);
	assert_int_equal(nh, 0);
	cn_vec_seg_close(s);
	/* one vector, a zero vector under cosine, k larger than the segment */
	assert_int_equal(cn_vec_builder_new(&p, &b, &err), CAIRN_OK);
	float x[3][4] = {{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 2, 0, 0}};
	for (int i = 0; i < 3; i++) {
		cn_vec_item it = {.chunk_id = (uint64_t)i, .vec = x[i]};
		assert_int_equal(cn_vec_builder_add(b, &it, &err), CAIRN_OK);
	}
	float nan4[4] = {0, NAN, 0, 0};
	cn_vec_item bad = {.chunk_id = 9, .vec = nan4};
	assert_int_equal(cn_vec_builder_add(b, &bad, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err.msg, "not finite"));
	cn_err_clear(&err);
	v.seg = index_of(b);
	for (int mode = 0; mode < 3; mode++) {
		qp.mode = (cn_vec_mode)mode;
		assert_int_equal(cn_vec_search(&v, 1, q, &qp, h, &nh, &err), CAIRN_OK);
		assert_int_equal(nh, 3);
		assert_int_equal(h[0].idx, 2); /* cos = 2/sqrt(30) */
		assert_true(fabsf(h[0].score - 2 / sqrtf(30)) < 1e-6f);
		assert_int_equal(h[1].idx, 0);
		assert_int_equal(h[2].idx, 1);
		assert_true(h[2].score == 0);
	}
	/* add after build */
	cn_vec_item it = {.chunk_id = 3, .vec = x[0]};
	assert_int_equal(cn_vec_builder_add(b, &it, &err), CAIRN_EINVAL);
	cn_err_clear(&err);
	/* non-finite query */
	assert_int_equal(cn_vec_search(&v, 1, nan4, &qp, h, &nh, &err), CAIRN_EINVAL);
	cn_vec_builder_free(b);
	/* bad parameters */
	cn_err_clear(&err);
	p.dim = 0;
	assert_int_equal(cn_vec_builder_new(&p, &b, &err), CAIRN_EINVAL);
	assert_null(b);
	p = cn_vec_default_params(8);
	p.M = 1;
	assert_int_equal(cn_vec_builder_new(&p, &b, &err), CAIRN_EINVAL);
	/* scalar kernels give the same graph search results on a small set, within float error */
	dataset d = make_data(800, 16, 61, false);
	p = cn_vec_default_params(16);
	cn_vec_builder *b1 = build(&d, p);
	cn_vec_force_scalar(true);
	cn_vec_builder *b2 = build(&d, p);
	const cn_vec_seg *s2 = index_of(b2);
	cn_vec_force_scalar(false);
	const cn_vec_seg *s1 = index_of(b1);
	float *qs = gen(10, 16, 62, false);
	size_t same = 0;
	for (int i = 0; i < 10; i++) {
		cn_vec_hit h1[10], h2[10];
		size_t n1, n2;
		cn_vec_view v1 = {.seg = s1}, v2 = {.seg = s2};
		cn_vec_query qq = {.k = 10, .mode = CN_VEC_EXACT};
		assert_int_equal(cn_vec_search(&v1, 1, qs + i * 16, &qq, h1, &n1, &err), CAIRN_OK);
		cn_vec_force_scalar(true);
		assert_int_equal(cn_vec_search(&v2, 1, qs + i * 16, &qq, h2, &n2, &err), CAIRN_OK);
		cn_vec_force_scalar(false);
		for (size_t j = 0; j < 10; j++) {
			same += h1[j].idx == h2[j].idx;
			assert_true(fabsf(h1[j].score - h2[j].score) < 1e-5f);
		}
	}
	assert_true(same >= 95);
	free(qs);
	cn_vec_builder_free(b1);
	cn_vec_builder_free(b2);
	free_data(&d);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	dataset d = make_data(200, 8, 71, false);
	cn_vec_params p = cn_vec_default_params(8);
	p.storage = CN_VEC_INT8;
	p.ef_construction = 16;
	float q[8] = {1, 1, 1, 1, 0, 0, 0, 0};
	for (long fail = 1; fail < 400; fail += 7) {
		cn_err err;
		cn_err_clear(&err);
		cn_vec_builder *b = NULL;
		cn_alloc_fail_after(fail);
		cairn_status st = cn_vec_builder_new(&p, &b, &err);
		for (size_t i = 0; i < d.n && !st; i++) {
			const char *ls[1] = {d.labmask[i] & 1 ? LAB[0] : LAB[1]};
			cn_vec_item it = {.chunk_id = i, .vec = d.x + i * 8, .labels = ls, .n_labels = 1};
			st = cn_vec_builder_add(b, &it, &err);
		}
		if (!st)
			st = cn_vec_builder_write(b, tpath("af.vec"), NULL, &err);
		cn_vec_seg *s = NULL;
		if (!st)
			st = cn_vec_seg_open(tpath("af.vec"), &s, &err);
		if (!st) {
			cn_vec_view v = {.seg = s};
			cn_vec_query qp = {.k = 5, .mode = CN_VEC_GRAPH};
			cn_vec_hit h[5];
			size_t nh;
			st = cn_vec_search(&v, 1, q, &qp, h, &nh, &err);
		}
		cn_alloc_fail_after(0);
		if (st)
			assert_true(err.msg[0] != '\0');
		cn_vec_seg_close(s);
		cn_vec_builder_free(b);
	}
	free_data(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels),
		cmocka_unit_test(test_recall_metrics),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_threads_and_merge),
		cmocka_unit_test(test_exact_vs_numpy),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
