/*
 * Answer metrics (eval_metrics.h). Each follows one published implementation exactly so
 * numbers are comparable with what users compute elsewhere: ROUGE-L as Google's
 * rouge-score package (rougeL, default tokenizer, no stemming), BLEU as NLTK's
 * sentence_bleu/corpus_bleu (including its quirk of counting a hypothesis with no n-grams of
 * some order as one n-gram in the denominator), citation matching on SQuAD-normalised text.
 * The tokenizer works on bytes: Python's lower() only turns two non-ASCII characters into
 * ASCII letters (U+0130 → "i" + a combining mark, U+212A KELVIN SIGN → "k"); those are
 * mapped, every other non-ASCII byte is a separator, as rouge-score's [^a-z0-9] makes it.
 */
#include "answer/eval_metrics.h"
#include "answer/answer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t cn_metric_tokens(const char *s, size_t n, char **low, uint32_t **toks)
{
	*low = NULL;
	*toks = NULL;
	char *l = cn_malloc(n + 1);
	uint32_t *t = cn_malloc((n / 2 + 1) * 2 * sizeof *t);
	if (!l || !t) {
		cn_free(l);
		cn_free(t);
		return SIZE_MAX;
	}
	size_t m = 0, nt = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		char o = ' ';
		size_t step = 1;
		if (c >= 'A' && c <= 'Z')
			o = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			o = (char)c;
		else if (c == 0xC4 && i + 1 < n && (unsigned char)s[i + 1] == 0xB0) {
			o = 'i'; /* U+0130: "i" then U+0307, which separates */
			step = 2;
			l[m++] = o;
			o = ' ';
		} else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x84 && (unsigned char)s[i + 2] == 0xAA) {
			o = 'k';
			step = 3;
		}
		l[m++] = o;
		i += step;
	}
	for (size_t i = 0; i < m;) {
		while (i < m && l[i] == ' ')
			i++;
		size_t b = i;
		while (i < m && l[i] != ' ')
			i++;
		if (i > b) {
			t[2 * nt] = (uint32_t)b;
			t[2 * nt + 1] = (uint32_t)(i - b);
			nt++;
		}
	}
	l[m] = '\0';
	*low = l;
	*toks = t;
	return nt;
}

static bool tok_eq(const char *a, const uint32_t *ta, size_t i, const char *b, const uint32_t *tb, size_t j)
{
	return ta[2 * i + 1] == tb[2 * j + 1] && !memcmp(a + ta[2 * i], b + tb[2 * j], ta[2 * i + 1]);
}

static double rouge_one(const char *pl, const uint32_t *pt, size_t np, const char *ref)
{
	char *rl;
	uint32_t *rt;
	size_t nr = cn_metric_tokens(ref, strlen(ref), &rl, &rt);
	double f = 0;
	if (nr != SIZE_MAX && nr && np) {
		/* one row of the LCS table at a time */
		size_t *prev = cn_calloc(nr + 1, sizeof *prev), *cur = cn_calloc(nr + 1, sizeof *cur);
		if (prev && cur) {
			for (size_t i = 0; i < np; i++) {
				for (size_t j = 0; j < nr; j++)
					cur[j + 1] = tok_eq(pl, pt, i, rl, rt, j) ? prev[j] + 1
					             : prev[j + 1] > cur[j] ? prev[j + 1] : cur[j];
				size_t *sw = prev;
				prev = cur;
				cur = sw;
			}
			double lcs = (double)prev[nr];
			double P = lcs / (double)np, R = lcs / (double)nr;
			f = P + R > 0 ? 2 * P * R / (P + R) : 0;
		}
		cn_free(prev);
		cn_free(cur);
	}
	cn_free(rl);
	cn_free(rt);
	return f;
}

double cn_rouge_l(const char *pred, const char *const *refs, size_t n_refs)
{
	char *pl;
	uint32_t *pt;
	size_t np = cn_metric_tokens(pred, strlen(pred), &pl, &pt);
	double best = 0;
	if (np != SIZE_MAX)
		for (size_t r = 0; r < n_refs; r++) {
			double f = rouge_one(pl, pt, np, refs[r]);
			best = f > best ? f : best;
		}
	cn_free(pl);
	cn_free(pt);
	return best;
}

static bool gram_eq(const char *a, const uint32_t *ta, size_t i, const char *b, const uint32_t *tb, size_t j, int n)
{
	for (int k = 0; k < n; k++)
		if (!tok_eq(a, ta, i + (size_t)k, b, tb, j + (size_t)k))
			return false;
	return true;
}

/* count of the n-gram hyp[i..i+n) among the n-grams of (l, t, nt) */
static int64_t count_in(const char *hl, const uint32_t *ht, size_t i, const char *l, const uint32_t *t, size_t nt,
                        int n)
{
	int64_t c = 0;
	for (size_t j = 0; j + (size_t)n <= nt; j++)
		c += gram_eq(hl, ht, i, l, t, j, n);
	return c;
}

cairn_status cn_bleu_stats_of(const char *hyp, const char *const *refs, size_t n_refs, cn_bleu_stats *out)
{
	memset(out, 0, sizeof *out);
	char *hl;
	uint32_t *ht;
	size_t nh = cn_metric_tokens(hyp, strlen(hyp), &hl, &ht);
	if (nh == SIZE_MAX)
		return CAIRN_ENOMEM;
	char **rl = cn_calloc(n_refs + 1, sizeof *rl);
	uint32_t **rt = cn_calloc(n_refs + 1, sizeof *rt);
	size_t *nr = cn_calloc(n_refs + 1, sizeof *nr);
	cairn_status st = rl && rt && nr ? CAIRN_OK : CAIRN_ENOMEM;
	for (size_t r = 0; !st && r < n_refs; r++)
		if ((nr[r] = cn_metric_tokens(refs[r], strlen(refs[r]), &rl[r], &rt[r])) == SIZE_MAX)
			st = CAIRN_ENOMEM;
	for (int n = 1; !st && n <= 4; n++) {
		int64_t grams = nh >= (size_t)n ? (int64_t)(nh - (size_t)n + 1) : 0;
		int64_t match = 0;
		/* each distinct hypothesis n-gram once: its count clipped by its most in one reference */
		for (size_t i = 0; i + (size_t)n <= nh; i++) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = gram_eq(hl, ht, i, hl, ht, j, n);
			if (seen)
				continue;
			int64_t c = count_in(hl, ht, i, hl, ht, nh, n), mx = 0;
			for (size_t r = 0; r < n_refs; r++) {
				int64_t rc = count_in(hl, ht, i, rl[r], rt[r], nr[r], n);
				mx = rc > mx ? rc : mx;
			}
			match += c < mx ? c : mx;
		}
		out->match[n - 1] = match;
		out->total[n - 1] = grams > 1 ? grams : 1; /* NLTK: max(1, count) */
	}
	if (!st) {
		out->hyp_len = (int64_t)nh;
		int64_t best = -1;
		for (size_t r = 0; r < n_refs; r++) {
			int64_t d = llabs((int64_t)nr[r] - (int64_t)nh);
			if (best < 0 || d < llabs(best - (int64_t)nh) || (d == llabs(best - (int64_t)nh) && (int64_t)nr[r] < best))
				best = (int64_t)nr[r];
		}
		out->ref_len = best < 0 ? 0 : best;
	}
	for (size_t r = 0; rl && rt && r < n_refs; r++) {
		cn_free(rl[r]);
		cn_free(rt[r]);
	}
	cn_free(rl);
	cn_free(rt);
	cn_free(nr);
	cn_free(hl);
	cn_free(ht);
	return st;
}

static double brevity(int64_t r, int64_t c)
{
	if (c > r)
		return 1;
	if (c == 0)
		return 0;
	return exp(1 - (double)r / (double)c);
}

double cn_bleu_sentence(const cn_bleu_stats *s)
{
	if (s->match[0] == 0)
		return 0;
	double lg = 0;
	for (int n = 0; n < 4; n++) {
		double p = s->match[n] ? (double)s->match[n] / (double)s->total[n] : 0.1 / (double)s->total[n];
		lg += 0.25 * log(p);
	}
	return brevity(s->ref_len, s->hyp_len) * exp(lg);
}

double cn_bleu_corpus(const cn_bleu_stats *s)
{
	double lg = 0;
	for (int n = 0; n < 4; n++) {
		if (s->match[n] == 0 || s->total[n] == 0)
			return 0;
		lg += 0.25 * log((double)s->match[n] / (double)s->total[n]);
	}
	return brevity(s->ref_len, s->hyp_len) * exp(lg);
}

void cn_bleu_add(cn_bleu_stats *sum, const cn_bleu_stats *s)
{
	for (int n = 0; n < 4; n++) {
		sum->match[n] += s->match[n];
		sum->total[n] += s->total[n];
	}
	sum->hyp_len += s->hyp_len;
	sum->ref_len += s->ref_len;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double cn_percentile(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof *v, cmp_d);
	size_t r = (size_t)ceil(p / 100.0 * (double)n - 1e-9);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return v[r - 1];
}

static char *normed(const char *s)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_squad_normalize(&b, s, strlen(s));
	cn_buf_putc(&b, '\0');
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

bool cn_doc_id_match(const char *cited, const char *gold)
{
	if (!cited || !gold)
		return false;
	size_t n = strlen(cited), m = strlen(gold);
	if (n == m)
		return !memcmp(cited, gold, n);
	return m > 0 && n > m && cited[n - m - 1] == '/' && !memcmp(cited + n - m, gold, m);
}

static bool item_matches(const cn_cited *c, const cn_gold_item *g, char *const *pass_norm, size_t ci,
                         char *const *gold_norm, size_t gi)
{
	if (g->doc_id && !cn_doc_id_match(c->doc_id, g->doc_id))
		return false;
	if (g->text && gold_norm[gi] && gold_norm[gi][0])
		return pass_norm[ci] && strstr(pass_norm[ci], gold_norm[gi]) != NULL;
	return g->doc_id != NULL;
}

void cn_citation_match(const cn_cited *c, size_t nc, const cn_gold_item *g, size_t ng, size_t *correct, size_t *found)
{
	*correct = *found = 0;
	char **pn = cn_calloc(nc + 1, sizeof *pn), **gn = cn_calloc(ng + 1, sizeof *gn);
	if (pn && gn) {
		for (size_t i = 0; i < nc; i++)
			pn[i] = c[i].passage ? normed(c[i].passage) : NULL;
		for (size_t j = 0; j < ng; j++)
			gn[j] = g[j].text ? normed(g[j].text) : NULL;
		for (size_t i = 0; i < nc; i++) {
			bool ok = false;
			for (size_t j = 0; j < ng && !ok; j++)
				ok = item_matches(&c[i], &g[j], pn, i, gn, j);
			*correct += ok;
		}
		for (size_t j = 0; j < ng; j++) {
			bool ok = false;
			for (size_t i = 0; i < nc && !ok; i++)
				ok = item_matches(&c[i], &g[j], pn, i, gn, j);
			*found += ok;
		}
		for (size_t i = 0; i < nc; i++)
			cn_free(pn[i]);
		for (size_t j = 0; j < ng; j++)
			cn_free(gn[j]);
	}
	cn_free(pn);
	cn_free(gn);
}

void cn_abstention_pr(const int *unanswerable, const int *abstained, size_t n, double *precision, double *recall)
{
	size_t both = 0, abst = 0, unans = 0;
	for (size_t i = 0; i < n; i++) {
		both += unanswerable[i] && abstained[i];
		abst += abstained[i] != 0;
		unans += unanswerable[i] != 0;
	}
	*precision = abst ? (double)both / (double)abst : 0;
	*recall = unans ? (double)both / (double)unans : 0;
}
