/*
 * sampler.c — the PRNG, the filters and the chain (llama.cpp's definitions; see sample.h).
 *
 * The candidate set is built from the finite logits in id order, so every "first" below
 * (greedy, temperature 0, ties in a sort) resolves to the lowest id without a tie-breaking
 * rule of its own. Filters that need an order (top-k, top-p) select before they sort: a
 * 150k-entry vocabulary is partitioned in O(n) and only the head that survives is sorted.
 */
#include "sample/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ------------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void cn_rng_seed(cn_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t cn_rng_next(cn_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double cn_rng_uniform(cn_rng *r)
{
	return (double)(cn_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- candidates ------------------------------------------------------------------------- */

/* Descending logit, ascending id. */
static inline bool before(const cn_cand *a, const cn_cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb)
{
	const cn_cand *a = pa, *b = pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

void cn_cands_sort(cn_cands *c)
{
	if (!c->sorted && c->n > 1)
		qsort(c->data, c->n, sizeof(cn_cand), cmp_cand);
	c->sorted = true;
}

/* Partitions c so that its first k entries are the k first in sort order (any order among
 * them): quickselect with a median-of-three pivot. */
static void select_head(cn_cand *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n; /* the k-th boundary lies in [lo, hi) */
	while (hi - lo > 16) {
		size_t mid = lo + (hi - lo) / 2;
		cn_cand x = a[lo], y = a[mid], z = a[hi - 1], piv;
		if (before(&x, &y))
			piv = before(&y, &z) ? y : (before(&x, &z) ? z : x);
		else
			piv = before(&x, &z) ? x : (before(&y, &z) ? z : y);
		/* three-way partition: [lo, lt) before piv, [lt, gt) equal, [gt, hi) after */
		size_t lt = lo, i = lo, gt = hi;
		while (i < gt) {
			if (before(&a[i], &piv)) {
				cn_cand t = a[lt];
				a[lt++] = a[i];
				a[i++] = t;
			} else if (before(&piv, &a[i])) {
				cn_cand t = a[--gt];
				a[gt] = a[i];
				a[i] = t;
			} else {
				i++;
			}
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return;
	}
	if (hi - lo > 1)
		qsort(a + lo, hi - lo, sizeof(cn_cand), cmp_cand);
}

/* Sorts the k first entries (in sort order) to the front. */
static void sort_head(cn_cands *c, size_t k)
{
	if (c->sorted)
		return;
	if (k >= c->n) {
		cn_cands_sort(c);
		return;
	}
	select_head(c->data, c->n, k);
	qsort(c->data, k, sizeof(cn_cand), cmp_cand);
}

size_t cn_cands_from_logits(cn_cands *c, const float *logits, int32_t n_vocab)
{
	size_t n = 0;
	bool inf = false;
	for (int32_t i = 0; i < n_vocab; i++)
		if (logits[i] == INFINITY)
			inf = true;
	for (int32_t i = 0; i < n_vocab; i++) {
		float l = logits[i];
		if (inf ? l == INFINITY : isfinite(l))
			c->data[n++] = (cn_cand){i, inf ? 0.0f : l, 0.0f};
	}
	c->n = n;
	c->sorted = false;
	return n;
}

void cn_cands_softmax(cn_cands *c)
{
	if (!c->n)
		return;
	float mx = c->data[0].logit;
	for (size_t i = 1; i < c->n; i++)
		if (c->data[i].logit > mx)
			mx = c->data[i].logit;
	double sum = 0;
	for (size_t i = 0; i < c->n; i++) {
		float e = expf(c->data[i].logit - mx);
		c->data[i].p = e;
		sum += e;
	}
	for (size_t i = 0; i < c->n; i++)
		c->data[i].p = (float)(c->data[i].p / sum);
}

/* ---- filters ---------------------------------------------------------------------------- */

void cn_sample_penalties(float *logits, int32_t n_vocab, const int32_t *last, size_t n_last, float repeat,
                         float freq, float presence, int32_t *scratch)
{
	if (!n_last || (repeat == 1.0f && freq == 0.0f && presence == 0.0f))
		return;
	size_t n = 0;
	for (size_t i = 0; i < n_last; i++)
		if (last[i] >= 0 && last[i] < n_vocab)
			scratch[n++] = last[i];
	/* counts by sorting the window: no per-vocabulary scratch */
	for (size_t i = 1; i < n; i++) { /* insertion sort: windows are short (64 by default) */
		int32_t v = scratch[i];
		size_t j = i;
		while (j > 0 && scratch[j - 1] > v) {
			scratch[j] = scratch[j - 1];
			j--;
		}
		scratch[j] = v;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && scratch[j] == scratch[i])
			j++;
		float *l = &logits[scratch[i]];
		float count = (float)(j - i);
		if (*l <= 0)
			*l *= repeat;
		else
			*l /= repeat;
		*l -= count * freq + presence;
		i = j;
	}
}

void cn_sample_top_k(cn_cands *c, int32_t k)
{
	if (k <= 0 || (size_t)k >= c->n) {
		if (k > 0)
			cn_cands_sort(c);
		return;
	}
	sort_head(c, (size_t)k);
	c->n = (size_t)k;
	c->sorted = true;
}

void cn_sample_top_p(cn_cands *c, float p, size_t min_keep)
{
	if (p >= 1.0f || !c->n)
		return;
	cn_cands_softmax(c);
	/* sort a growing head until it holds p of the mass: a peaked distribution (the usual
	 * case) never sorts more than a few dozen entries */
	size_t head = 64;
	for (;;) {
		if (head > c->n)
			head = c->n;
		sort_head(c, head);
		double cum = 0;
		for (size_t i = 0; i < head; i++) {
			cum += c->data[i].p;
			if (cum >= p && i + 1 >= min_keep) {
				c->n = i + 1;
				c->sorted = true;
				return;
			}
		}
		if (head == c->n) {
			c->sorted = true;
			return; /* rounding: the whole set never reached p */
		}
		head *= 4;
	}
}

void cn_sample_min_p(cn_cands *c, float p, size_t min_keep)
{
	if (p <= 0.0f || !c->n)
		return;
	float mx = c->data[0].logit;
	for (size_t i = 1; i < c->n; i++)
		if (c->data[i].logit > mx)
			mx = c->data[i].logit;
	float min_logit = mx + logf(p);
	size_t kept = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->data[i].logit >= min_logit)
			kept++;
	if (kept >= min_keep) {
		size_t w = 0;
		for (size_t i = 0; i < c->n; i++)
			if (c->data[i].logit >= min_logit)
				c->data[w++] = c->data[i]; /* stable: a sorted set stays sorted */
		c->n = w;
		return;
	}
	/* fewer than min_keep pass: keep the min_keep best */
	sort_head(c, min_keep);
	c->n = min_keep < c->n ? min_keep : c->n;
	c->sorted = true;
}

void cn_sample_temp(cn_cands *c, float t)
{
	if (!c->n)
		return;
	if (t <= 0.0f) {
		size_t best = 0;
		for (size_t i = 1; i < c->n; i++)
			if (before(&c->data[i], &c->data[best]))
				best = i;
		c->data[0] = c->data[best];
		c->n = 1;
		c->sorted = true;
		return;
	}
	for (size_t i = 0; i < c->n; i++)
		c->data[i].logit /= t;
}

int32_t cn_sample_dist(cn_cands *c, cn_rng *r)
{
	if (!c->n)
		return -1;
	cn_cands_softmax(c);
	double u = cn_rng_uniform(r), cum = 0;
	for (size_t i = 0; i < c->n; i++) {
		cum += c->data[i].p;
		if (u < cum)
			return c->data[i].id;
	}
	/* rounding left u above the total: the last candidate with any mass */
	for (size_t i = c->n; i-- > 0;)
		if (c->data[i].p > 0)
			return c->data[i].id;
	return c->data[c->n - 1].id;
}

int32_t cn_sample_greedy(const float *logits, int32_t n_vocab)
{
	int32_t best = -1;
	for (int32_t i = 0; i < n_vocab; i++)
		if (logits[i] == logits[i] && (best < 0 || logits[i] > logits[best]))
			best = i;
	return best < 0 ? 0 : best;
}

/* ---- the chain ------------------------------------------------------------------------- */

struct cn_sampler {
	cn_sampler_params p;
	int32_t n_vocab;
	cn_rng rng;
	cn_cands cands;
	int32_t *hist; /* ring of the last repeat_last_n tokens */
	size_t hist_n, hist_pos;
	int32_t *scratch;
};

cairn_status cn_sampler_new(const cn_sampler_params *p, int32_t n_vocab, cn_sampler **out, cn_err *err)
{
	*out = NULL;
	if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || !(p->repeat_penalty > 0) ||
	    !isfinite(p->repeat_penalty) || !isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty) ||
	    !isfinite(p->temperature) || p->repeat_last_n < 0 || p->repeat_last_n > (1 << 24) ||
	    p->min_p > 1.0f || n_vocab <= 0)
		return cn_err_set(err, CAIRN_EINVAL,
		                  "sampler: temperature %g, top_p %g, min_p %g (0..1), repeat_penalty %g (> 0), "
		                  "repeat_last_n %d, presence_penalty %g, frequency_penalty %g: a value is out of range",
		                  (double)p->temperature, (double)p->top_p, (double)p->min_p, (double)p->repeat_penalty,
		                  (int)p->repeat_last_n, (double)p->presence_penalty, (double)p->frequency_penalty);
	cn_sampler *s = cn_calloc(1, sizeof(*s));
	if (!s)
		return cn_err_set(err, CAIRN_ENOMEM, "sampler: out of memory");
	s->p = *p;
	s->n_vocab = n_vocab;
	cn_rng_seed(&s->rng, p->seed);
	s->cands.data = cn_malloc((size_t)n_vocab * sizeof(cn_cand));
	size_t h = p->repeat_last_n > 0 ? (size_t)p->repeat_last_n : 1;
	s->hist = cn_malloc(h * sizeof(int32_t));
	s->scratch = cn_malloc(h * sizeof(int32_t));
	if (!s->cands.data || !s->hist || !s->scratch) {
		cn_sampler_free(s);
		return cn_err_set(err, CAIRN_ENOMEM, "sampler: out of memory");
	}
	*out = s;
	return CAIRN_OK;
}

void cn_sampler_free(cn_sampler *s)
{
	if (!s)
		return;
	cn_free(s->cands.data);
	cn_free(s->hist);
	cn_free(s->scratch);
	cn_free(s);
}

void cn_sampler_accept(cn_sampler *s, int32_t id)
{
	size_t cap = (size_t)s->p.repeat_last_n;
	if (!cap)
		return;
	s->hist[s->hist_pos] = id;
	s->hist_pos = (s->hist_pos + 1) % cap;
	if (s->hist_n < cap)
		s->hist_n++;
}

const cn_cands *cn_sampler_apply(cn_sampler *s, float *logits)
{
	const cn_sampler_params *p = &s->p;
	cn_cands *c = &s->cands;
	if (s->hist_n)
		cn_sample_penalties(logits, s->n_vocab, s->hist, s->hist_n, p->repeat_penalty, p->frequency_penalty,
		                    p->presence_penalty, s->scratch);
	if (p->temperature <= 0.0f || !cn_cands_from_logits(c, logits, s->n_vocab)) {
		/* greedy, or nothing finite (as greedy decoding did): one certain candidate */
		c->data[0] = (cn_cand){cn_sample_greedy(logits, s->n_vocab), 0.0f, 1.0f};
		c->n = 1;
		c->sorted = true;
		return c;
	}
	cn_sample_top_k(c, p->top_k);
	cn_sample_top_p(c, p->top_p, 1);
	cn_sample_min_p(c, p->min_p, 1);
	cn_sample_temp(c, p->temperature);
	cn_cands_softmax(c);
	return c;
}

int32_t cn_sampler_sample(cn_sampler *s, float *logits)
{
	cn_sampler_apply(s, logits);
	if (s->cands.n == 1)
		return s->cands.data[0].id;
	return cn_sample_dist(&s->cands, &s->rng);
}
