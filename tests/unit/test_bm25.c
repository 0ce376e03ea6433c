/* bm25: builder → segment → search/merge, checked against an independent brute-force BM25
 * (doubles, straight from the formula), plus SmallFloat values worked out by hand, corrupt
 * and truncated segments, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm25/bm25.h"
#include "testutil.h"

/* ---- helpers ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static double rndf(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* cn_tokens filled by hand (lex may not be linked in yet). */
static void toks_set(cn_tokens *t, const uint32_t *ids, size_t n, const char *prefix)
{
	t->n = 0;
	cn_buf_reset(&t->terms);
	if (t->cap < n + 1) {
		t->cap = n + 1;
		t->v = cn_realloc(t->v, t->cap * sizeof *t->v);
		assert_non_null(t->v);
	}
	for (size_t i = 0; i < n; i++) {
		char w[32];
		int l = snprintf(w, sizeof w, "%s%u", prefix, ids[i]);
		t->v[i].term_off = (uint32_t)t->terms.len;
		t->v[i].term_len = (uint32_t)l;
		t->v[i].pos = (uint32_t)i;
		cn_buf_append(&t->terms, w, (size_t)l + 1);
	}
	t->n = n;
}
static void toks_free(cn_tokens *t)
{
	cn_free(t->v);
	cn_buf_free(&t->terms);
	memset(t, 0, sizeof *t);
}

static char tmpdir[64];
static char *tpath(const char *name)
{
	static char buf[8][256];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

/* Independent SmallFloat, written from Lucene's definition with plain arithmetic. */
static long ref_byte4_to_int(int b)
{
	if (b < 24)
		return b;
	int i = b - 24, bits = i & 7, shift = (i >> 3) - 1;
	return 24 + (shift < 0 ? bits : ((long)(bits | 8) << shift));
}

/* ---- the corpus ---- */

#define VOCAB 1500
#define NLAB 12

typedef struct rdoc {
	uint32_t *terms;
	size_t n;
	int seg;
	uint32_t docnum;
	bool deleted;
	uint32_t labmask; /* bit i: label i */
	int64_t mtime;
	char key[32];
} rdoc;

static const char *lab_names[NLAB] = {
	"doc:a", "format:html", "format:markdown", "group:eng", "group:hr", "source:docs/a.md",
	"source:docs/b.md", "tag:team=eng", "tag:team=ops", "tag:team=sales", "tag:year=2023", "tag:year=2024",
};

typedef struct corpus {
	rdoc *d;
	size_t n;
	int nseg;
	cn_bm25_seg *seg[8];
	uint8_t *del[8];
	uint32_t segn[8];
} corpus;

static double zipf_cdf[VOCAB];
static uint32_t zipf(void)
{
	double u = rndf();
	size_t lo = 0, hi = VOCAB - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static void build_seg(rdoc *docs, size_t n, const char *path, cn_bm25_seg **out)
{
	cn_bm25_builder *b;
	assert_int_equal(cn_bm25_builder_new(&b), CAIRN_OK);
	cn_tokens t;
	memset(&t, 0, sizeof t);
	cn_buf_init(&t.terms);
	for (size_t i = 0; i < n; i++) {
		const char *labs[NLAB];
		size_t nl = 0;
		for (int j = NLAB - 1; j >= 0; j--) /* reverse order: the builder must sort */
			if (docs[i].labmask >> j & 1)
				labs[nl++] = lab_names[j];
		if (nl)
			labs[nl++] = labs[0]; /* a duplicate, which must disappear */
		cn_bm25_doc d = {.chunk_id = 1000 + (uint64_t)docs[i].docnum * 7 + (uint64_t)docs[i].seg,
		                 .doc_key = docs[i].key,
		                 .mtime = docs[i].mtime,
		                 .labels = labs,
		                 .n_labels = nl};
		toks_set(&t, docs[i].terms, docs[i].n, "t");
		assert_int_equal(cn_bm25_builder_add(b, &d, &t), CAIRN_OK);
	}
	assert_int_equal(cn_bm25_builder_ndocs(b), n);
	assert_true(cn_bm25_builder_memory(b) > 0);
	cn_err err;
	cn_err_clear(&err);
	uint64_t bytes = 0;
	assert_int_equal(cn_bm25_builder_write(b, path, &bytes, &err), CAIRN_OK);
	assert_true(bytes > 0);
	cn_bm25_builder_free(b);
	toks_free(&t);
	assert_int_equal(cn_bm25_seg_open(path, out, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_verify(*out, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_ndocs(*out), n);
}

static void corpus_make(corpus *c, size_t n, int nseg, uint64_t seed)
{
	rng_state = seed;
	double z = 0;
	for (int i = 0; i < VOCAB; i++)
		z += 1.0 / pow(i + 1, 1.07);
	double acc = 0;
	for (int i = 0; i < VOCAB; i++) {
		acc += 1.0 / pow(i + 1, 1.07) / z;
		zipf_cdf[i] = acc;
	}
	zipf_cdf[VOCAB - 1] = 1.0;
	memset(c, 0, sizeof *c);
	c->d = calloc(n, sizeof *c->d);
	c->n = n;
	c->nseg = nseg;
	for (size_t i = 0; i < n; i++) {
		rdoc *d = &c->d[i];
		size_t len = rnd() % 8 == 0 ? 0 + rnd() % 3 : 5 + rnd() % 120;
		if (rnd() % 200 == 0)
			len = 2000 + rnd() % 3000; /* long documents: coarse norm buckets */
		d->terms = malloc((len + 1) * sizeof *d->terms);
		for (size_t j = 0; j < len; j++)
			d->terms[j] = zipf();
		if (len && rnd() % 100 == 0) /* huge tf of one term */
			for (size_t j = 0; j < len; j++)
				d->terms[j] = 7;
		d->n = len;
		d->labmask = (uint32_t)(rnd() & ((1u << NLAB) - 1)) & (uint32_t)rnd();
		d->mtime = 1700000000 + (int64_t)(rnd() % (86400 * 400));
		snprintf(d->key, sizeof d->key, "doc-%zu", i);
	}
	/* contiguous segment split, random sizes */
	size_t start = 0;
	for (int s = 0; s < nseg; s++) {
		size_t end = s == nseg - 1 ? n : start + (n - start) / (size_t)(nseg - s) + rnd() % 50;
		if (end > n)
			end = n;
		for (size_t i = start; i < end; i++) {
			c->d[i].seg = s;
			c->d[i].docnum = (uint32_t)(i - start);
		}
		c->segn[s] = (uint32_t)(end - start);
		char name[32];
		snprintf(name, sizeof name, "seg%d", s);
		build_seg(c->d + start, end - start, tpath(name), &c->seg[s]);
		c->del[s] = calloc(c->segn[s] / 8 + 1, 1);
		for (size_t i = start; i < end; i++)
			if (rnd() % 10 == 0) {
				c->d[i].deleted = true;
				c->del[s][(i - start) >> 3] |= (uint8_t)(1u << ((i - start) & 7));
			}
		start = end;
	}
}

static void corpus_free(corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->d[i].terms);
	free(c->d);
	for (int s = 0; s < c->nseg; s++) {
		cn_bm25_seg_close(c->seg[s]);
		free(c->del[s]);
	}
}

/* ---- brute force ---- */

typedef struct bhit {
	double score;
	int seg;
	uint32_t doc;
	size_t idx;
} bhit;

static int cmp_bhit(const void *a, const void *b)
{
	const bhit *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

typedef bool (*doc_pred)(const rdoc *d, void *ctx);

/* Scores every matching live document passing pred; stats over docs with include(). Returns count. */
static size_t brute(const corpus *c, bool stats_include_deleted, const uint32_t *q, size_t nq, double k1, double b,
                    doc_pred pred, void *ctx, bhit *out)
{
	double N = 0, total = 0;
	double *df = calloc(nq, sizeof *df);
	for (size_t i = 0; i < c->n; i++) {
		const rdoc *d = &c->d[i];
		if (d->deleted && !stats_include_deleted)
			continue;
		N++;
		total += (double)d->n;
		for (size_t j = 0; j < nq; j++)
			for (size_t t = 0; t < d->n; t++)
				if (d->terms[t] == q[j]) {
					df[j]++;
					break;
				}
	}
	double avgdl = N > 0 ? total / N : 1;
	size_t nh = 0;
	for (size_t i = 0; i < c->n; i++) {
		const rdoc *d = &c->d[i];
		if (d->deleted || (pred && !pred(d, ctx)))
			continue;
		int b8 = 0;
		while (b8 < 255 && ref_byte4_to_int(b8 + 1) <= (long)d->n)
			b8++;
		double dl = (double)ref_byte4_to_int(b8);
		double s = 0;
		bool any = false;
		for (size_t j = 0; j < nq; j++) {
			double tf = 0;
			for (size_t t = 0; t < d->n; t++)
				tf += d->terms[t] == q[j];
			if (tf == 0)
				continue;
			any = true;
			double idf = log(1 + (N - df[j] + 0.5) / (df[j] + 0.5));
			s += idf * tf / (tf + k1 * (1 - b + b * dl / avgdl));
		}
		if (any)
			out[nh++] = (bhit){s, d->seg, d->docnum, i};
	}
	free(df);
	qsort(out, nh, sizeof *out, cmp_bhit);
	return nh;
}

static void make_qterms(const uint32_t *q, size_t nq, char (*buf)[16], cn_bm25_qterm *qt)
{
	for (size_t i = 0; i < nq; i++) {
		int l = snprintf(buf[i], 16, "t%u", q[i]);
		qt[i] = (cn_bm25_qterm){buf[i], (uint32_t)l, 1.0f};
	}
}

static void views_of(const corpus *c, cn_bm25_view *v)
{
	for (int s = 0; s < c->nseg; s++)
		v[s] = (cn_bm25_view){c->seg[s], c->del[s]};
}

static bool close_rel(double a, double b) { return fabs(a - b) <= 1e-4 * fmax(fabs(a), fabs(b)) + 1e-9; }

/* Checks hits (length nh) against the brute-force list: the same documents up to ties. */
static void check_against_brute(const cn_bm25_hit *h, size_t nh, const bhit *ref, size_t nref, size_t k,
                                const corpus *c)
{
	assert_int_equal(nh, nref < k ? nref : k);
	for (size_t i = 0; i < nh; i++) {
		/* score of the hit equals the brute score of that very document */
		double bs = -1;
		for (size_t j = 0; j < nref; j++)
			if (ref[j].seg == (int)h[i].seg && ref[j].doc == h[i].docnum) {
				bs = ref[j].score;
				break;
			}
		if (!close_rel(bs, h[i].score))
			fail_msg("hit %zu (seg %u doc %u): score %.9g, brute force %.9g", i, h[i].seg, h[i].docnum,
			         (double)h[i].score, bs);
		/* and rank i holds a document as good as brute-force rank i */
		assert_true(close_rel(ref[i].score, h[i].score));
	}
	(void)c;
}

static void search_both(const cn_bm25_view *v, size_t nv, const cn_bm25_qterm *qt, size_t nq, uint32_t k,
                        const cn_filter *f, cn_bm25_hit *fast, size_t *nf, cn_bm25_hit *slow, size_t *ns,
                        int64_t *matched)
{
	cn_err err;
	cn_err_clear(&err);
	cn_bm25_params p = {.k1 = 0.9f, .b = 0.4f, .k = k, .exhaustive = true, .filter = f};
	assert_int_equal(cn_bm25_search(v, nv, qt, nq, &p, slow, ns, matched, &err), CAIRN_OK);
	/* every pruning strategy returns exactly the exhaustive top-k (ids and scores) */
	static const cn_bm25_strategy strategies[] = {CN_BM25_AUTO, CN_BM25_TAAT, CN_BM25_WAND, CN_BM25_MAXSCORE};
	static const char *const names[] = {"auto", "taat", "wand", "maxscore"};
	for (size_t sgy = 0; sgy < 4; sgy++) {
		p.exhaustive = false;
		p.strategy = strategies[sgy];
		int64_t m = 0;
		assert_int_equal(cn_bm25_search(v, nv, qt, nq, &p, fast, nf, &m, &err), CAIRN_OK);
		assert_int_equal(m, -1);
		if (*nf != *ns)
			fail_msg("%s: %zu hits, exhaustive %zu", names[sgy], *nf, *ns);
		for (size_t i = 0; i < *nf; i++) {
			if (fast[i].seg != slow[i].seg || fast[i].docnum != slow[i].docnum || fast[i].score != slow[i].score)
				fail_msg("rank %zu: %s (%u,%u,%.9g) exhaustive (%u,%u,%.9g)", i, names[sgy], fast[i].seg,
				         fast[i].docnum, (double)fast[i].score, slow[i].seg, slow[i].docnum,
				         (double)slow[i].score);
		}
	}
}

static uint32_t rand_query(uint32_t *q)
{
	uint32_t nq = 1 + (uint32_t)(rnd() % 7);
	for (uint32_t i = 0; i < nq; i++) {
		uint64_t r = rnd() % 10;
		q[i] = r < 3 ? (uint32_t)(rnd() % 20) : r < 9 ? zipf() : VOCAB + 5; /* frequent, zipf, absent */
	}
	return nq;
}

/* ---- tests ---- */

static void test_smallfloat(void **state)
{
	(void)state;
	/* worked by hand from SmallFloat: NUM_FREE_VALUES = 255 - longToInt4(2^31-1) = 255-231 = 24 */
	struct {
		uint32_t len;
		uint8_t byte;
		uint32_t dec;
	} v[] = {
		{0, 0, 0},       {1, 1, 1},       {23, 23, 23},   {24, 24, 24},     {31, 31, 31},
		{32, 32, 32},    {39, 39, 39},    {40, 40, 40},   {41, 40, 40},     {42, 41, 42},
		{100, 57, 96},   {1000, 87, 984}, {2147483647u, 255, 2013265944u}, {UINT32_MAX, 255, 2013265944u},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(v); i++) {
		assert_int_equal(cn_bm25_int_to_byte4(v[i].len), v[i].byte);
		assert_int_equal(cn_bm25_byte4_to_int(v[i].byte), v[i].dec);
	}
	for (int b = 0; b < 256; b++) {
		assert_int_equal(cn_bm25_byte4_to_int((uint8_t)b), ref_byte4_to_int(b));
		assert_int_equal(cn_bm25_int_to_byte4(cn_bm25_byte4_to_int((uint8_t)b)), b);
		if (b > 0)
			assert_true(cn_bm25_byte4_to_int((uint8_t)b) > cn_bm25_byte4_to_int((uint8_t)(b - 1)));
	}
	/* encoding rounds down: every length maps to the largest code not above it */
	for (uint32_t len = 0; len < 200000; len += 1 + len / 50) {
		uint8_t b = cn_bm25_int_to_byte4(len);
		assert_true(cn_bm25_byte4_to_int(b) <= len);
		if (b < 255)
			assert_true(cn_bm25_byte4_to_int((uint8_t)(b + 1)) > len);
	}
}

static void test_wand_equals_exhaustive_equals_brute(void **state)
{
	(void)state;
	corpus c;
	corpus_make(&c, 3000, 3, 42);
	cn_bm25_view v[8];
	views_of(&c, v);
	bhit *ref = malloc(c.n * sizeof *ref);
	cn_bm25_hit *fast = malloc(c.n * sizeof *fast), *slow = malloc(c.n * sizeof *slow);
	uint32_t ks[] = {1, 10, 100, 5000};
	for (int it = 0; it < 300; it++) {
		uint32_t q[8];
		uint32_t nq = rand_query(q);
		char buf[8][16];
		cn_bm25_qterm qt[8];
		make_qterms(q, nq, buf, qt);
		uint32_t k = ks[it % 4];
		size_t nf, ns;
		int64_t matched;
		search_both(v, (size_t)c.nseg, qt, nq, k, NULL, fast, &nf, slow, &ns, &matched);
		size_t nref = brute(&c, true, q, nq, 0.9, 0.4, NULL, NULL, ref);
		assert_int_equal(matched, nref);
		check_against_brute(slow, ns, ref, nref, k, &c);
	}
	free(ref);
	free(fast);
	free(slow);
	corpus_free(&c);
}

static bool pred_team_eng_recent(const rdoc *d, void *ctx)
{
	(void)ctx;
	/* tag:team=eng (bit 7) AND NOT format:html (bit 1) AND modified >= 2024-06-01 (1717200000) */
	return (d->labmask >> 7 & 1) && !(d->labmask >> 1 & 1) && d->mtime >= 1717200000;
}

typedef struct acl_ctx {
	uint32_t allowed; /* label bits of the principal's groups */
} acl_ctx;
static bool pred_acl(const rdoc *d, void *ctx)
{
	const acl_ctx *a = ctx;
	uint32_t groups = d->labmask & ((1u << 3) | (1u << 4));
	return groups == 0 || (groups & a->allowed);
}

static bool pred_selective(const rdoc *d, void *ctx)
{
	(void)ctx;
	/* doc:a (bit 0) and source b (bit 6) and team sales (bit 9): ~1/8 * 1/4ish of docs */
	return (d->labmask & 1) && (d->labmask >> 6 & 1) && (d->labmask >> 9 & 1) && (d->labmask >> 11 & 1);
}

static void run_filtered(corpus *c, const char *expr, const char *const *groups, size_t ng, doc_pred pred,
                         void *ctx, int iters)
{
	cn_err err;
	cn_err_clear(&err);
	cn_filter *f;
	assert_int_equal(cn_filter_compile(expr, groups, ng, &f, &err), CAIRN_OK);
	cn_bm25_view v[8];
	views_of(c, v);
	bhit *ref = malloc(c->n * sizeof *ref);
	cn_bm25_hit *fast = malloc(c->n * sizeof *fast), *slow = malloc(c->n * sizeof *slow);
	for (int it = 0; it < iters; it++) {
		uint32_t q[8];
		uint32_t nq = rand_query(q);
		char buf[8][16];
		cn_bm25_qterm qt[8];
		make_qterms(q, nq, buf, qt);
		uint32_t k = it % 2 ? 10 : 50;
		size_t nf, ns;
		int64_t matched;
		search_both(v, (size_t)c->nseg, qt, nq, k, f, fast, &nf, slow, &ns, &matched);
		size_t nref = brute(c, true, q, nq, 0.9, 0.4, pred, ctx, ref);
		assert_int_equal(matched, nref);
		check_against_brute(fast, nf, ref, nref, k, c);
		for (size_t i = 0; i < nf; i++) /* every hit passes the predicate */
			for (size_t j = 0; j < c->n; j++)
				if (c->d[j].seg == (int)fast[i].seg && c->d[j].docnum == fast[i].docnum)
					assert_true(pred(&c->d[j], ctx));
	}
	free(ref);
	free(fast);
	free(slow);
	cn_filter_free(f);
}

static void test_filtered_search(void **state)
{
	(void)state;
	corpus c;
	corpus_make(&c, 2500, 3, 7);
	run_filtered(&c, "team=eng NOT format=html modified>=2024-06-01", NULL, 0, pred_team_eng_recent, NULL, 80);
	run_filtered(&c, "doc=a source=\"docs/b.md\" team=sal* AND year=2024", NULL, 0, pred_selective, NULL, 80);
	const char *g1[] = {"eng"};
	acl_ctx a1 = {1u << 3};
	run_filtered(&c, NULL, g1, 1, pred_acl, &a1, 60);
	acl_ctx a0 = {0};
	run_filtered(&c, "", g1, 0, pred_acl, &a0, 40); /* no groups: public only */
	corpus_free(&c);
}

static void test_merge_equals_fresh_build(void **state)
{
	(void)state;
	corpus c;
	corpus_make(&c, 2000, 4, 99);
	cn_bm25_view v[8];
	views_of(&c, v);
	cn_err err;
	cn_err_clear(&err);
	uint64_t bytes;
	uint32_t nd;
	assert_int_equal(cn_bm25_merge(v, (size_t)c.nseg, tpath("merged"), &bytes, &nd, &err), CAIRN_OK);
	cn_bm25_seg *m;
	assert_int_equal(cn_bm25_seg_open(tpath("merged"), &m, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_verify(m, &err), CAIRN_OK);
	/* a fresh build of the live documents only */
	rdoc *live = malloc(c.n * sizeof *live);
	size_t nl = 0;
	for (size_t i = 0; i < c.n; i++)
		if (!c.d[i].deleted)
			live[nl++] = c.d[i];
	assert_int_equal(nd, nl);
	assert_int_equal(cn_bm25_seg_ndocs(m), nl);
	cn_bm25_seg *fresh;
	build_seg(live, nl, tpath("fresh"), &fresh);
	assert_int_equal(cn_bm25_seg_nterms(m), cn_bm25_seg_nterms(fresh));
	assert_int_equal(cn_bm25_seg_total_len(m), cn_bm25_seg_total_len(fresh));
	/* documents carried over: key, chunk id, mtime, labels */
	for (uint32_t d = 0; d < nl; d++) {
		uint32_t l1, l2;
		const char *k1 = cn_bm25_seg_doc_key(m, d, &l1);
		assert_int_equal(l1, strlen(live[d].key));
		assert_memory_equal(k1, live[d].key, l1);
		(void)cn_bm25_seg_doc_key(fresh, d, &l2);
		assert_int_equal(cn_bm25_seg_mtime(m, d), live[d].mtime);
		assert_int_equal(cn_bm25_seg_chunk_id(m, d), 1000 + (uint64_t)live[d].docnum * 7 + (uint64_t)live[d].seg);
		size_t n1;
		const uint32_t *ids = cn_bm25_seg_doc_labels(m, d, &n1);
		assert_int_equal(n1, (size_t)__builtin_popcount(live[d].labmask));
		for (size_t j = 0; j < n1; j++) {
			uint32_t ll;
			const char *lab = cn_bm25_seg_label(m, ids[j], &ll);
			int which = -1;
			for (int x = 0; x < NLAB; x++)
				if (strlen(lab_names[x]) == ll && memcmp(lab_names[x], lab, ll) == 0)
					which = x;
			assert_true(which >= 0 && (live[d].labmask >> which & 1));
		}
	}
	cn_bm25_view mv = {m, NULL}, fv = {fresh, NULL};
	cn_bm25_hit *h1 = malloc(c.n * sizeof *h1), *h2 = malloc(c.n * sizeof *h2), *h3 = malloc(c.n * sizeof *h3);
	for (int it = 0; it < 150; it++) {
		uint32_t q[8];
		uint32_t nq = rand_query(q);
		char buf[8][16];
		cn_bm25_qterm qt[8];
		make_qterms(q, nq, buf, qt);
		size_t n1, n2, n3;
		int64_t m1, m2;
		search_both(&mv, 1, qt, nq, 20, NULL, h1, &n1, h3, &n3, &m1);
		search_both(&fv, 1, qt, nq, 20, NULL, h2, &n2, h3, &n3, &m2);
		assert_int_equal(n1, n2);
		assert_int_equal(m1, m2);
		for (size_t i = 0; i < n1; i++) {
			assert_int_equal(h1[i].docnum, h2[i].docnum);
			assert_true(h1[i].score == h2[i].score);
		}
		/* and the merged segment agrees with brute force over the live documents only */
		bhit *ref = malloc(c.n * sizeof *ref);
		size_t nref = brute(&c, false, q, nq, 0.9, 0.4, NULL, NULL, ref);
		assert_int_equal(m1, nref);
		for (size_t i = 0; i < n1; i++)
			assert_true(close_rel(ref[i].score, h1[i].score));
		free(ref);
	}
	free(h1);
	free(h2);
	free(h3);
	free(live);
	cn_bm25_seg_close(m);
	cn_bm25_seg_close(fresh);
	corpus_free(&c);
}

static void test_edge_cases(void **state)
{
	(void)state;
	cn_err err;
	cn_err_clear(&err);
	/* empty segment */
	cn_bm25_builder *b;
	assert_int_equal(cn_bm25_builder_new(&b), CAIRN_OK);
	assert_int_equal(cn_bm25_builder_write(b, tpath("empty"), NULL, &err), CAIRN_OK);
	cn_bm25_builder_free(b);
	cn_bm25_seg *e;
	assert_int_equal(cn_bm25_seg_open(tpath("empty"), &e, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_verify(e, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_ndocs(e), 0);
	assert_int_equal(cn_bm25_seg_nterms(e), 0);
	cn_bm25_qterm qt[3] = {{"x", 1, 1.0f}, {"absent", 6, 1.0f}, {"y", 1, 2.0f}};
	cn_bm25_hit hits[100];
	size_t nh = 99;
	int64_t matched;
	cn_bm25_params p = {.k1 = 0.9f, .b = 0.4f, .k = 10, .exhaustive = true};
	cn_bm25_view ev = {e, NULL};
	assert_int_equal(cn_bm25_search(&ev, 1, qt, 3, &p, hits, &nh, &matched, &err), CAIRN_OK);
	assert_int_equal(nh, 0);
	assert_int_equal(matched, 0);

	/* small hand-checked segment: zero-term doc, huge tf, k larger than the matches */
	assert_int_equal(cn_bm25_builder_new(&b), CAIRN_OK);
	cn_tokens t;
	memset(&t, 0, sizeof t);
	cn_buf_init(&t.terms);
	uint32_t big[70000];
	for (size_t i = 0; i < 70000; i++)
		big[i] = i < 69999 ? 1 : 2; /* tf(t1) = 69999, tf(t2) = 1 */
	uint32_t small[3] = {2, 3, 2};
	toks_set(&t, NULL, 0, "t");
	cn_bm25_doc d0 = {.chunk_id = 5, .doc_key = "empty-doc", .mtime = -3};
	assert_int_equal(cn_bm25_builder_add(b, &d0, &t), CAIRN_OK);
	toks_set(&t, big, 70000, "t");
	cn_bm25_doc d1 = {.chunk_id = 6, .doc_key = "big"};
	assert_int_equal(cn_bm25_builder_add(b, &d1, &t), CAIRN_OK);
	toks_set(&t, small, 3, "t");
	cn_bm25_doc d2 = {.chunk_id = 7, .doc_key = NULL};
	assert_int_equal(cn_bm25_builder_add(b, &d2, &t), CAIRN_OK);
	toks_free(&t);
	assert_int_equal(cn_bm25_builder_write(b, tpath("small"), NULL, &err), CAIRN_OK);
	cn_bm25_builder_free(b);
	cn_bm25_seg *s;
	assert_int_equal(cn_bm25_seg_open(tpath("small"), &s, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_verify(s, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_ndocs(s), 3);
	assert_int_equal(cn_bm25_seg_nterms(s), 3);
	assert_int_equal(cn_bm25_seg_total_len(s), 70003);
	uint32_t kl;
	const char *k = cn_bm25_seg_doc_key(s, 0, &kl);
	assert_int_equal(kl, 9);
	assert_memory_equal(k, "empty-doc", 9);
	(void)cn_bm25_seg_doc_key(s, 2, &kl);
	assert_int_equal(kl, 0);
	assert_null(cn_bm25_seg_doc_key(s, 3, &kl));
	assert_int_equal(cn_bm25_seg_chunk_id(s, 1), 6);
	assert_int_equal(cn_bm25_seg_mtime(s, 0), -3);

	/* query t1 (only in the big doc): idf = ln(1 + (3 - 1 + .5)/(1 + .5)), hand-evaluated in doubles */
	cn_bm25_view sv = {s, NULL};
	cn_bm25_qterm q1 = {"t1", 2, 1.0f};
	p.k = 100;
	for (int ex = 0; ex < 2; ex++) {
		p.exhaustive = ex;
		assert_int_equal(cn_bm25_search(&sv, 1, &q1, 1, &p, hits, &nh, &matched, &err), CAIRN_OK);
		assert_int_equal(nh, 1);
		assert_int_equal(hits[0].docnum, 1);
		double idf = log(1 + 2.5 / 1.5), avgdl = 70003.0 / 3, dl = (double)cn_bm25_byte4_to_int(cn_bm25_int_to_byte4(70000));
		double want = idf * 69999 / (69999 + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl));
		assert_true(close_rel(hits[0].score, want));
		assert_int_equal(matched, ex ? 1 : -1);
	}
	/* t2 in docs 1 and 2: k = 100 > 2 matches; doc 2 (short, tf 2) ranks first */
	cn_bm25_qterm q2[2] = {{"t2", 2, 1.0f}, {"nothere", 7, 3.0f}};
	p.exhaustive = false;
	assert_int_equal(cn_bm25_search(&sv, 1, q2, 2, &p, hits, &nh, &matched, &err), CAIRN_OK);
	assert_int_equal(nh, 2);
	assert_int_equal(hits[0].docnum, 2);
	assert_int_equal(hits[1].docnum, 1);
	/* empty query, k = 0 */
	assert_int_equal(cn_bm25_search(&sv, 1, q2, 0, &p, hits, &nh, &matched, &err), CAIRN_OK);
	assert_int_equal(nh, 0);
	p.k = 0;
	p.exhaustive = true;
	assert_int_equal(cn_bm25_search(&sv, 1, q2, 1, &p, NULL, &nh, &matched, &err), CAIRN_OK);
	assert_int_equal(nh, 0);
	assert_int_equal(matched, 2);
	/* bad parameters */
	p.k = 10;
	p.b = 1.5f;
	assert_int_equal(cn_bm25_search(&sv, 1, q2, 1, &p, hits, &nh, &matched, &err), CAIRN_EINVAL);
	p.b = 0.4f;
	cn_err_clear(&err);
	cn_bm25_qterm neg = {"t2", 2, -1.0f};
	assert_int_equal(cn_bm25_search(&sv, 1, &neg, 1, &p, hits, &nh, &matched, &err), CAIRN_EINVAL);
	/* same segment twice: statistics double, ties broken by lower segment first */
	cn_bm25_view two[2] = {{s, NULL}, {s, NULL}};
	cn_bm25_hit a[4], bb[4];
	size_t na, nb;
	search_both(two, 2, q2, 1, 4, NULL, a, &na, bb, &nb, &matched);
	assert_int_equal(na, 4);
	assert_int_equal(a[0].seg, 0);
	assert_int_equal(a[1].seg, 1);
	assert_int_equal(a[0].docnum, a[1].docnum);
	assert_true(a[0].score == a[1].score);
	/* merge of an empty and a small segment, with everything in the small one deleted */
	uint8_t all = 0x07;
	cn_bm25_view mv[2] = {{e, NULL}, {s, &all}};
	uint32_t nd = 99;
	assert_int_equal(cn_bm25_merge(mv, 2, tpath("m0"), NULL, &nd, &err), CAIRN_OK);
	assert_int_equal(nd, 0);
	cn_bm25_seg *m0;
	assert_int_equal(cn_bm25_seg_open(tpath("m0"), &m0, &err), CAIRN_OK);
	assert_int_equal(cn_bm25_seg_nterms(m0), 0);
	assert_int_equal(cn_bm25_seg_verify(m0, &err), CAIRN_OK);
	cn_bm25_seg_close(m0);
	cn_bm25_seg_close(e);
	cn_bm25_seg_close(s);
}

/* ---- corrupt input ---- */

static void build_small_corpus(const char *path)
{
	rng_state = 5;
	cn_bm25_builder *b;
	assert_int_equal(cn_bm25_builder_new(&b), CAIRN_OK);
	cn_tokens t;
	memset(&t, 0, sizeof t);
	cn_buf_init(&t.terms);
	for (int i = 0; i < 400; i++) {
		uint32_t ids[40];
		size_t n = 1 + rnd() % 40;
		for (size_t j = 0; j < n; j++)
			ids[j] = (uint32_t)(rnd() % 60);
		toks_set(&t, ids, n, "w");
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		const char *labs[2] = {"group:eng", i % 3 ? "tag:a=b" : "tag:c=d"};
		cn_bm25_doc d = {.chunk_id = (uint64_t)i, .doc_key = key, .labels = labs, .n_labels = 2};
		assert_int_equal(cn_bm25_builder_add(b, &d, &t), CAIRN_OK);
	}
	toks_free(&t);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_bm25_builder_write(b, path, NULL, &err), CAIRN_OK);
	cn_bm25_builder_free(b);
}

/* Opens, verifies and searches; every failure must be CAIRN_ECORRUPT naming the file. */
static cairn_status exercise(const char *path)
{
	cn_err err;
	cn_err_clear(&err);
	cn_bm25_seg *s;
	cairn_status st = cn_bm25_seg_open(path, &s, &err);
	if (st) {
		if (st != CAIRN_ECORRUPT)
			fail_msg("open: status %d: %s", st, err.msg);
		assert_non_null(strstr(err.msg, path));
		return st;
	}
	cairn_status vst = cn_bm25_seg_verify(s, &err);
	if (vst) {
		assert_int_equal(vst, CAIRN_ECORRUPT);
		assert_non_null(strstr(err.msg, path));
	}
	cn_bm25_view v = {s, NULL};
	cn_bm25_hit hits[20];
	size_t nh;
	cn_bm25_params p = {.k1 = 1.2f, .b = 0.75f, .k = 20};
	for (int w = 0; w < 60; w++) {
		char term[16];
		snprintf(term, sizeof term, "w%d", w);
		cn_bm25_qterm q[2] = {{term, (uint32_t)strlen(term), 1.0f}, {"w3", 2, 1.0f}};
		for (int ex = 0; ex < 2; ex++) {
			p.exhaustive = ex;
			cn_err_clear(&err);
			cairn_status sst = cn_bm25_search(&v, 1, q, 2, &p, hits, &nh, NULL, &err);
			if (sst) {
				assert_int_equal(sst, CAIRN_ECORRUPT);
				assert_non_null(strstr(err.msg, path));
				vst = vst ? vst : sst;
			}
		}
	}
	for (uint32_t d = 0; d < cn_bm25_seg_ndocs(s); d++) {
		uint32_t l;
		(void)cn_bm25_seg_doc_key(s, d, &l);
	}
	cn_bm25_seg_close(s);
	return vst;
}

static void test_truncated_and_flipped(void **state)
{
	(void)state;
	const char *path = tpath("good"), *bad = tpath("bad");
	build_small_corpus(path);
	assert_int_equal(exercise(path), CAIRN_OK);
	char *data;
	size_t len;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_read(path, 1 << 26, &data, &len, &err), CAIRN_OK);
	for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
		FILE *f = fopen(bad, "wb");
		fwrite(data, 1, cut, f);
		fclose(f);
		assert_int_equal(exercise(bad), CAIRN_ECORRUPT);
	}
	rng_state = 77;
	for (int it = 0; it < 300; it++) {
		char *copy = malloc(len);
		memcpy(copy, data, len);
		int flips = 1 + (int)(rnd() % 3);
		for (int j = 0; j < flips; j++)
			copy[rnd() % len] ^= (char)(1 + rnd() % 255);
		FILE *f = fopen(bad, "wb");
		fwrite(copy, 1, len, f);
		fclose(f);
		(void)exercise(bad); /* OK (a flip in padding) or ECORRUPT, never a crash */
		free(copy);
	}
	cn_free(data);
}

/* Rewrites the segment at src into dst, letting patch() edit one section (valid CRCs). */
typedef void (*patch_fn)(uint8_t *data, size_t *len);
static void rewrite(const char *src, const char *dst, uint32_t sec, patch_fn patch)
{
	cn_err err;
	cn_err_clear(&err);
	cn_segr *r;
	assert_int_equal(cn_segr_open(src, CN_SEG_KIND_BM25, &r, &err), CAIRN_OK);
	cn_segw *w;
	assert_int_equal(cn_segw_open(dst, CN_SEG_KIND_BM25, cn_segr_kind_version(r), &w, &err), CAIRN_OK);
	for (uint32_t id = 1; id <= 16; id++) {
		const uint8_t *d;
		size_t l;
		assert_int_equal(cn_segr_section(r, id, &d, &l, &err), CAIRN_OK);
		uint8_t *copy = malloc(l + 64);
		memcpy(copy, d, l);
		if (id == sec)
			patch(copy, &l);
		if (!(id == sec && l == SIZE_MAX)) /* SIZE_MAX: drop the section */
			assert_int_equal(cn_segw_section(w, id, copy, l, &err), CAIRN_OK);
		free(copy);
	}
	assert_int_equal(cn_segw_finish(w, NULL, &err), CAIRN_OK);
	cn_segr_close(r);
}

static void p_meta_postlen(uint8_t *d, size_t *l) { (void)l; cn_store_u64le(d + 24, 1ull << 40); }
static void p_meta_df(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d, 100000); }
static void p_skip_off(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d + 16 * 0 + 4, 0xFFFFFF); }
static void p_skip_last(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d, cn_load_u32le(d) + 1); }
static void p_post_width(uint8_t *d, size_t *l) { (void)l; d[0] = 40; }
static void p_post_bits(uint8_t *d, size_t *l)
{
	for (size_t i = 2; i < *l && i < 200; i++)
		d[i] ^= 0x5A;
}
static void p_dict(uint8_t *d, size_t *l) { (void)l; d[0] = 0xFF; d[1] = 0xFF; d[2] = 0x7F; }
static void p_tidx(uint8_t *d, size_t *l) { cn_store_u32le(d + *l - 4, 0xFFFFFFF); }
static void p_keyoffs(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d + 8, 0xFFFF); }
static void p_labids(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d, 99); }
static void p_labels_unsorted(uint8_t *d, size_t *l) { (void)l; d[0] = 'z'; }
static void p_short(uint8_t *d, size_t *l) { (void)d; *l -= 1; }
static void p_drop(uint8_t *d, size_t *l) { (void)d; *l = SIZE_MAX; }
static void p_stats_ndocs(uint8_t *d, size_t *l) { (void)l; cn_store_u32le(d, 0x7FFFFFF0); }
static void p_stats_nterms(uint8_t *d, size_t *l) { (void)l; cn_store_u64le(d + 8, UINT64_MAX / 2); }

static void test_crafted_bad_offsets(void **state)
{
	(void)state;
	const char *path = tpath("good2"), *bad = tpath("crafted");
	build_small_corpus(path);
	struct {
		uint32_t sec;
		patch_fn fn;
	} cases[] = {
		{4, p_meta_postlen}, {4, p_meta_df},     {6, p_skip_off},   {6, p_skip_last},     {5, p_post_width},
		{5, p_post_bits},    {2, p_dict},        {3, p_tidx},       {11, p_keyoffs},      {16, p_labids},
		{14, p_labels_unsorted}, {8, p_short},   {9, p_short},      {6, p_short},         {16, p_drop},
		{1, p_stats_ndocs},  {1, p_stats_nterms}, {7, p_short},
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
		rewrite(path, bad, cases[i].sec, cases[i].fn);
		if (exercise(bad) != CAIRN_ECORRUPT)
			fail_msg("case %zu (section %u) not detected", i, cases[i].sec);
	}
}

static void test_alloc_failures(void **state)
{
	(void)state;
	char path[256], mpath[256], bpath[256];
	snprintf(path, sizeof path, "%s", tpath("af"));
	snprintf(mpath, sizeof mpath, "%s", tpath("afm"));
	snprintf(bpath, sizeof bpath, "%s", tpath("afb"));
	build_small_corpus(path);
	cn_err err;
	/* search, merge and open under every single allocation failure */
	for (long n = 1; n < 200; n++) {
		cn_err_clear(&err);
		cn_alloc_fail_after(n);
		cn_bm25_seg *s;
		cairn_status st = cn_bm25_seg_open(path, &s, &err);
		if (st) {
			cn_alloc_fail_after(0);
			assert_int_equal(st, CAIRN_ENOMEM);
			continue;
		}
		cn_filter *f = NULL;
		st = cn_filter_compile("a=b OR c=d*", NULL, 0, &f, &err);
		cn_bm25_view v = {s, NULL};
		cn_bm25_qterm q[2] = {{"w1", 2, 1.0f}, {"w2", 2, 1.0f}};
		cn_bm25_params p = {.k1 = 1.2f, .b = 0.75f, .k = 5, .filter = f};
		cn_bm25_hit hits[5];
		size_t nh;
		if (!st)
			st = cn_bm25_search(&v, 1, q, 2, &p, hits, &nh, NULL, &err);
		if (!st)
			st = cn_bm25_merge(&v, 1, mpath, NULL, NULL, &err);
		cn_alloc_fail_after(0);
		assert_true(st == CAIRN_OK || st == CAIRN_ENOMEM);
		cn_filter_free(f);
		cn_bm25_seg_close(s);
		if (!st)
			break;
	}
	/* builder add/write under allocation failure */
	for (long n = 1; n < 400; n++) {
		cn_bm25_builder *b = NULL;
		cn_alloc_fail_after(n);
		cairn_status st = cn_bm25_builder_new(&b);
		cn_tokens t;
		memset(&t, 0, sizeof t);
		cn_buf_init(&t.terms);
		for (int i = 0; i < 50 && !st; i++) {
			uint32_t ids[5] = {(uint32_t)i, 1, 2, (uint32_t)i * 3, 1};
			cn_alloc_fail_after(0);
			toks_set(&t, ids, 5, "x");
			cn_alloc_fail_after(n > 60 ? n - 60 : 1000000);
			const char *labs[1] = {"tag:x=y"};
			cn_bm25_doc d = {.chunk_id = 1, .doc_key = "k", .labels = labs, .n_labels = 1};
			st = cn_bm25_builder_add(b, &d, &t);
		}
		cn_err_clear(&err);
		if (!st)
			st = cn_bm25_builder_write(b, bpath, NULL, &err);
		cn_alloc_fail_after(0);
		assert_true(st == CAIRN_OK || st == CAIRN_ENOMEM);
		cn_bm25_builder_free(b);
		toks_free(&t);
	}
}

static int setup(void **state)
{
	(void)state;
	return cn_test_mkdtemp(tmpdir, sizeof tmpdir, "bm25");
}

static int teardown(void **state)
{
	(void)state;
	return cn_test_rmtree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smallfloat),
		cmocka_unit_test(test_wand_equals_exhaustive_equals_brute),
		cmocka_unit_test(test_filtered_search),
		cmocka_unit_test(test_merge_equals_fresh_build),
		cmocka_unit_test(test_edge_cases),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_crafted_bad_offsets),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
