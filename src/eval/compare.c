/*
 * compare.c — two runs, query by query: mean difference, paired randomization test,
 * bootstrap confidence interval, wins and losses, and the regression gate.
 *
 * Why these tests: the paired randomization (sign-flip) test is what IR papers use for
 * comparing systems on the same topics (Smucker, Allan & Carterette 2007); it assumes
 * nothing about the distribution of per-query differences. The percentile bootstrap gives
 * an interval people can read ("nDCG@10 +0.012, 95% CI [0.003, 0.021]").
 *
 * Both use splitmix64 from a fixed seed, restarted for every measure, so a p-value does not
 * depend on which other measures were asked for and tests/reference/eval_compare.py can
 * reproduce every number exactly from the same seed.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

uint64_t cn_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double cn_randomization_p(const double *d, size_t n, int perms, uint64_t seed)
{
	if (n == 0 || perms < 1)
		return 1.0;
	double obs = 0;
	for (size_t i = 0; i < n; i++)
		obs += d[i];
	obs = fabs(obs / (double)n);
	uint64_t st = seed;
	long hits = 0;
	for (int p = 0; p < perms; p++) {
		double s = 0;
		uint64_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (i % 64 == 0)
				w = cn_splitmix64(&st);
			s += (w >> (i % 64)) & 1 ? -d[i] : d[i];
		}
		if (fabs(s / (double)n) >= obs - 1e-12)
			hits++;
	}
	return (double)(hits + 1) / (double)(perms + 1);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

bool cn_bootstrap_ci(const double *d, size_t n, int B, uint64_t seed, double *lo, double *hi)
{
	*lo = *hi = 0;
	if (n == 0 || B < 1)
		return true;
	double *means = cn_malloc((size_t)B * sizeof *means);
	if (!means)
		return false;
	uint64_t st = seed;
	for (int b = 0; b < B; b++) {
		double s = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t w = cn_splitmix64(&st);
			s += d[(size_t)(((unsigned __int128)w * n) >> 64)];
		}
		means[b] = s / (double)n;
	}
	qsort(means, (size_t)B, sizeof *means, cmp_dbl);
	size_t il = (size_t)floor(0.025 * B), ih = (size_t)ceil(0.975 * B);
	*lo = means[il];
	*hi = means[ih ? ih - 1 : 0];
	cn_free(means);
	return true;
}

cairn_eval_compare_params cairn_eval_compare_default_params(void)
{
	cairn_eval_compare_params p;
	memset(&p, 0, sizeof p);
	p.permutations = 10000;
	p.bootstrap = 10000;
	p.seed = 42;
	return p;
}


/* "name=value,..." → the tolerance of each row; "default" sets the rest. */
static cairn_status apply_tolerances(cairn_eval_comparison *c, const char *spec, cn_err *err)
{
	double def = 0;
	for (size_t i = 0; i < c->nrows; i++)
		c->rows[i].tol = NAN;
	const char *p = spec ? spec : "";
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		double v;
		if (!eq || eq == p || !cn_parse_double(eq + 1, len - (size_t)(eq + 1 - p), &v) || !(v >= 0))
			return cn_err_set(err, CAIRN_EINVAL,
			                  "tolerance: \"%.*s\" is not measure=value with a value >= 0", (int)CN_MIN(len, 80), p);
		char name[48];
		size_t nl = (size_t)(eq - p);
		if (nl >= sizeof name)
			return cn_err_set(err, CAIRN_EINVAL, "tolerance: measure name too long");
		memcpy(name, p, nl);
		name[nl] = '\0';
		if (!strcmp(name, "default"))
			def = v;
		else {
			cn_mspec m;
			if (!cn_mspec_from_name(name, &m))
				return cn_err_set(err, CAIRN_EINVAL, "tolerance: unknown measure \"%s\"", name);
			bool found = false;
			for (size_t i = 0; i < c->nrows; i++)
				if (!strcmp(c->rows[i].name, m.name)) {
					c->rows[i].tol = v;
					found = true;
				}
			if (!found)
				return cn_err_set(err, CAIRN_EINVAL, "tolerance: %s is not measured by both runs", m.name);
		}
		if (!e)
			break;
		p = e + 1;
	}
	for (size_t i = 0; i < c->nrows; i++)
		if (isnan(c->rows[i].tol)) /* timings only when named: their noise is not a regression */
			c->rows[i].tol = c->rows[i].flags & CN_MF_TIMING ? INFINITY : def;
	return CAIRN_OK;
}

void cairn_eval_comparison_free(cairn_eval_comparison *c)
{
	if (!c)
		return;
	cn_free(c->qa);
	cn_free(c->qb);
	cn_free(c);
}

static cairn_status compare(const cairn_eval_result *a, const cairn_eval_result *b, cairn_eval_comparison *c,
                            cn_err *err)
{
	/* Pair the queries by id. */
	cn_strmap ids;
	cn_strmap_init(&ids);
	size_t cap = a->nq ? a->nq : 1;
	c->qa = cn_malloc(cap * sizeof *c->qa);
	c->qb = cn_malloc(cap * sizeof *c->qb);
	if (!c->qa || !c->qb)
		goto oom;
	for (size_t i = 0; i < a->nq; i++) {
		uint32_t id;
		bool added;
		if (cn_strmap_put(&ids, a->q[i].qid, strlen(a->q[i].qid), &id, &added) != CAIRN_OK)
			goto oom;
	}
	bool *used = cn_calloc(cap, sizeof *used);
	if (!used)
		goto oom;
	for (size_t i = 0; i < b->nq; i++) {
		uint32_t id = cn_strmap_get(&ids, b->q[i].qid, strlen(b->q[i].qid));
		if (id == UINT32_MAX || used[id]) {
			c->only_b++;
			continue;
		}
		used[id] = true;
		/* ids were added in a's order, one per query, so id is a's index unless a repeats a
		 * qid; find the first unused a entry with that id. */
		size_t ia = id;
		if (ia >= a->nq || strcmp(a->q[ia].qid, b->q[i].qid) != 0)
			for (ia = 0; ia < a->nq && strcmp(a->q[ia].qid, b->q[i].qid); ia++)
				;
		c->qa[c->nq] = ia;
		c->qb[c->nq++] = i;
	}
	c->only_a = a->nq - c->nq;
	cn_free(used);
	cn_strmap_free(&ids);
	if (c->nq == 0)
		return cn_err_set(err, CAIRN_EINVAL, "compare: the two runs have no query in common");

	double *d = cn_malloc(c->nq * sizeof *d);
	if (!d)
		return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
	for (size_t ja = 0; ja < a->nm; ja++) {
		int jb = cn_evres_find(b, a->m[ja].name);
		if (jb < 0)
			continue;
		cn_cmp_row *row = &c->rows[c->nrows++];
		memset(row, 0, sizeof *row);
		snprintf(row->name, sizeof row->name, "%s", a->m[ja].name);
		row->flags = a->m[ja].flags;
		row->ia = ja;
		row->ib = (size_t)jb;
		bool total = cn_mspec_is_total(&a->m[ja]);
		/* Better = higher, or lower for latency, tokens and cost: wins and losses count b's
		 * improvements and regressions either way, while diff stays b - a. */
		double sign = row->flags & CN_MF_LOWER_BETTER ? -1.0 : 1.0;
		double sa = 0, sb = 0;
		size_t n = 0;
		for (size_t i = 0; i < c->nq; i++) {
			double va = a->v[c->qa[i] * a->nm + ja], vb = b->v[c->qb[i] * b->nm + (size_t)jb];
			if (isnan(va) || isnan(vb))
				continue; /* an answer measure that does not apply on one side */
			sa += va;
			sb += vb;
			d[n] = vb - va;
			if (sign * d[n] > 1e-12)
				row->wins++;
			else if (sign * d[n] < -1e-12)
				row->losses++;
			else
				row->ties++;
			n++;
		}
		row->n = n;
		row->mean_a = total ? sa : n ? sa / (double)n : NAN;
		row->mean_b = total ? sb : n ? sb / (double)n : NAN;
		row->diff = row->mean_b - row->mean_a;
		if (total || n == 0) {
			row->p = row->lo = row->hi = NAN;
			continue;
		}
		row->diff = (sb - sa) / (double)n;
		row->p = cn_randomization_p(d, n, c->params.permutations, c->params.seed);
		if (!cn_bootstrap_ci(d, n, c->params.bootstrap, c->params.seed, &row->lo, &row->hi)) {
			cn_free(d);
			return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		}
		row->gated = true;
	}
	cn_free(d);
	if (c->nrows == 0)
		return cn_err_set(err, CAIRN_EINVAL, "compare: the two runs have no measure in common");
	cairn_status rc = apply_tolerances(c, c->params.tolerances, err);
	if (rc != CAIRN_OK)
		return rc;
	for (size_t i = 0; i < c->nrows; i++) {
		cn_cmp_row *row = &c->rows[i];
		double worse = row->flags & CN_MF_LOWER_BETTER ? row->diff : -row->diff;
		row->regressed = c->params.gate && row->gated && worse > row->tol + 1e-12;
		c->regressions += row->regressed;
	}
	return CAIRN_OK;
oom:
	cn_strmap_free(&ids);
	return cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
}

cairn_status cairn_eval_compare(const cairn_eval_result *a, const cairn_eval_result *b,
                                const cairn_eval_compare_params *params, cairn_eval_comparison **out,
                                char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	cairn_eval_compare_params def = cairn_eval_compare_default_params();
	const cairn_eval_compare_params *p = params ? params : &def;
	cairn_status rc = CAIRN_OK;
	cairn_eval_comparison *c = NULL;
	if (!a || !b || !out)
		rc = cn_err_set(&err, CAIRN_EINVAL, "compare: two results are required");
	else if (p->permutations < 1 || p->permutations > 10000000 || p->bootstrap < 1 || p->bootstrap > 10000000)
		rc = cn_err_set(&err, CAIRN_EINVAL, "compare: permutations and bootstrap must be 1..10000000");
	else if (!(c = cn_calloc(1, sizeof *c)))
		rc = cn_err_set(&err, CAIRN_ENOMEM, "eval: out of memory");
	if (rc == CAIRN_OK) {
		c->a = a;
		c->b = b;
		c->params = *p;
		rc = compare(a, b, c, &err);
	}
	if (rc != CAIRN_OK) {
		cairn_eval_comparison_free(c);
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return rc;
	}
	*out = c;
	return CAIRN_OK;
}

int cairn_eval_comparison_regressions(const cairn_eval_comparison *c)
{
	return c ? c->regressions : 0;
}

/* ---- rendering ----------------------------------------------------------------------- */

/* Flattens a meta object to "key.sub = value" lines, so two can be put side by side. */
static void flatten(json_t *v, const char *prefix, json_t *out)
{
	if (json_is_array(v) && json_array_size(v) > 0) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			char key[256];
			snprintf(key, sizeof key, "%s[%zu]", prefix, i);
			flatten(x, key, out);
		}
		return;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			char key[256];
			snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten(x, key, out);
		}
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
	if (s) {
		json_object_set_new(out, prefix, json_string(s));
		free(s);
	}
}

static json_t *flat_meta(const cairn_eval_result *r)
{
	json_t *out = json_object();
	json_t *m = r->meta ? json_loads(r->meta, 0, NULL) : NULL;
	if (out && m)
		flatten(m, "", out);
	json_decref(m);
	return out;
}

/* Provenance keys that differ between runs for reasons other than configuration. */
static bool incidental(const char *k)
{
	return !strcmp(k, "created") || strstr(k, "index_build") || !strncmp(k, "run.", 4);
}

static void render_configs(cn_buf *b, const cairn_eval_comparison *c)
{
	json_t *fa = flat_meta(c->a), *fb = flat_meta(c->b);
	if (!fa || !fb) {
		json_decref(fa);
		json_decref(fb);
		return;
	}
	json_t *keys = json_object();
	const char *k;
	json_t *x;
	json_object_foreach(fa, k, x) json_object_set(keys, k, json_true());
	json_object_foreach(fb, k, x) json_object_set(keys, k, json_true());
	cn_buf_puts(b, "\nprovenance                          A | B\n");
	int differ = 0, hidden = 0;
	json_object_foreach(keys, k, x) {
		const char *va = json_string_value(json_object_get(fa, k));
		const char *vb = json_string_value(json_object_get(fb, k));
		bool same = va && vb && !strcmp(va, vb);
		/* The configuration always; the rest (file fingerprints, statistics) where it differs. */
		bool always = !strncmp(k, "config.", 7) || !strcmp(k, "seed") || !strcmp(k, "cairn_version") ||
		              !strncmp(k, "models.", 7) || !strcmp(k, "kb.generation");
		if (same && !always) {
			hidden++;
			continue;
		}
		cn_buf_printf(b, "%s %-32s %s | %s\n", same ? " " : "*", k, va ? va : "-", vb ? vb : "-");
		if (!same && !incidental(k) && !strstr(k, "crc32c") && !strstr(k, "path") && !strstr(k, "size"))
			differ++;
	}
	if (hidden)
		cn_buf_printf(b, "  (%d more entries equal: dataset fingerprints, knowledge base statistics)\n", hidden);
	if (differ)
		cn_buf_printf(b, "warning: the configurations differ in %d setting%s (marked *): the difference "
		                 "measures all of them together\n", differ, differ == 1 ? "" : "s");
	json_decref(keys);
	json_decref(fa);
	json_decref(fb);
}

static void render_text(cn_buf *b, const cairn_eval_comparison *c)
{
	bool ans = c->a->answers || c->b->answers;
	cn_buf_printf(b, "%s %zu in common", ans ? "questions" : "queries", c->nq);
	if (c->only_a || c->only_b)
		cn_buf_printf(b, " (%zu only in A, %zu only in B: left out)", c->only_a, c->only_b);
	cn_buf_printf(b, "; randomization test %d permutations, bootstrap %d resamples, seed %llu\n\n",
	              c->params.permutations, c->params.bootstrap, (unsigned long long)c->params.seed);
	int w = ans ? 22 : 16; /* answer measures have longer names */
	cn_buf_printf(b, "%-*s %9s %9s %9s %8s %21s %5s %5s %5s%s\n", w, "measure", "A", "B", "B-A", "p",
	              "95% CI", "win", "loss", "tie", ans ? "     n" : "");
	for (size_t i = 0; i < c->nrows; i++) {
		const cn_cmp_row *r = &c->rows[i];
		if (!r->gated && r->n && cn_mspec_is_total(&c->a->m[r->ia])) {
			cn_buf_printf(b, "%-*s %9.0f %9.0f %+9.0f\n", w, r->name, r->mean_a, r->mean_b, r->diff);
			continue;
		}
		if (!r->gated) {
			cn_buf_printf(b, "%-*s %9s %9s %9s   (no question has a value in both runs)\n", w, r->name, "-", "-",
			              "-");
			continue;
		}
		cn_buf_printf(b, "%-*s %9.4f %9.4f %+9.4f %8.4f [%+8.4f, %+8.4f] %5d %5d %5d", w, r->name, r->mean_a,
		              r->mean_b, r->diff, r->p, r->lo, r->hi, r->wins, r->losses, r->ties);
		if (ans)
			cn_buf_printf(b, " %5zu", r->n);
		cn_buf_printf(b, "%s%s\n", r->p < 0.05 ? " *" : "", r->regressed ? "  REGRESSION" : "");
	}
	cn_buf_printf(b, "(* p < 0.05%s)\n",
	              ans ? "; win/loss: B better/worse — lower is better for refused, ttft_ms, tokens and cost; "
	                    "n: questions where the measure applies in both runs" : "");
	if (c->params.gate) {
		cn_buf_puts(b, "gate: tolerance per measure:");
		for (size_t i = 0; i < c->nrows; i++)
			if (c->rows[i].gated)
				cn_buf_printf(b, " %s=%g", c->rows[i].name, c->rows[i].tol);
		cn_buf_putc(b, '\n');
	}
	render_configs(b, c);
	if (c->regressions)
		cn_buf_printf(b, "\n%d measure%s dropped by more than the tolerance\n", c->regressions,
		              c->regressions == 1 ? "" : "s");
}

static void json_num(cn_buf *b, double v)
{
	if (!isfinite(v))
		cn_buf_puts(b, "null");
	else
		cn_buf_printf(b, "%.17g", v);
}

static void render_json(cn_buf *b, const cairn_eval_comparison *c)
{
	cn_buf_printf(b, "{\"kind\":\"cairn-eval-compare/1\",\"cairn_version\":\"%s\",\"queries\":%zu,"
	                 "\"only_a\":%zu,\"only_b\":%zu,\"permutations\":%d,\"bootstrap\":%d,\"seed\":%llu,"
	                 "\"regressions\":%d,\"a\":%s,\"b\":%s,\"measures\":{",
	              cairn_version(), c->nq, c->only_a, c->only_b, c->params.permutations, c->params.bootstrap,
	              (unsigned long long)c->params.seed, c->regressions, c->a->meta ? c->a->meta : "{}",
	              c->b->meta ? c->b->meta : "{}");
	for (size_t i = 0; i < c->nrows; i++) {
		const cn_cmp_row *r = &c->rows[i];
		cn_buf_printf(b, "%s\"%s\":{\"a\":", i ? "," : "", r->name);
		json_num(b, r->mean_a);
		cn_buf_puts(b, ",\"b\":");
		json_num(b, r->mean_b);
		cn_buf_puts(b, ",\"diff\":");
		json_num(b, r->diff);
		cn_buf_puts(b, ",\"p\":");
		json_num(b, r->p);
		cn_buf_puts(b, ",\"ci95\":[");
		json_num(b, r->lo);
		cn_buf_putc(b, ',');
		json_num(b, r->hi);
		cn_buf_printf(b, "],\"wins\":%d,\"losses\":%d,\"ties\":%d,\"n\":%zu,\"lower_is_better\":%s,\"tolerance\":",
		              r->wins, r->losses, r->ties, r->n, r->flags & CN_MF_LOWER_BETTER ? "true" : "false");
		json_num(b, r->gated ? r->tol : NAN);
		cn_buf_printf(b, ",\"regressed\":%s}", r->regressed ? "true" : "false");
	}
	cn_buf_puts(b, "}}\n");
}

void cn_report_md_compare(cn_buf *b, const cairn_eval_comparison *c)
{
	bool ans = c->a->answers || c->b->answers;
	cn_buf_printf(b, "## %s comparison: B vs A\n\n%zu %s in common; paired randomization test "
	                 "(%d permutations), bootstrap 95%% CI (%d resamples), seed %llu.\n\n",
	              ans ? "Answer" : "Retrieval", c->nq, ans ? "questions" : "queries", c->params.permutations,
	              c->params.bootstrap, (unsigned long long)c->params.seed);
	cn_buf_printf(b, "| measure | A | B | B − A | p | 95%% CI | wins / losses / ties |%s\n"
	                 "|---|---:|---:|---:|---:|---|---|%s\n",
	              ans ? " n |" : "", ans ? "---:|" : "");
	for (size_t i = 0; i < c->nrows; i++) {
		const cn_cmp_row *r = &c->rows[i];
		if (!r->gated)
			continue;
		cn_buf_printf(b, "| %s%s | %.4f | %.4f | %s%+.4f%s | %.4f | [%+.4f, %+.4f] | %d / %d / %d%s |", r->name,
		              r->flags & CN_MF_LOWER_BETTER ? " ↓" : "", r->mean_a, r->mean_b, r->p < 0.05 ? "**" : "",
		              r->diff, r->p < 0.05 ? "**" : "", r->p, r->lo, r->hi, r->wins, r->losses, r->ties,
		              r->regressed ? " ⚠ regression" : "");
		if (ans)
			cn_buf_printf(b, " %zu |", r->n);
		cn_buf_putc(b, '\n');
	}
	if (c->regressions)
		cn_buf_printf(b, "\n**%d measure(s) dropped by more than the tolerance.**\n", c->regressions);
	cn_buf_printf(b, "\nBold: p < 0.05.%s\n\n<details><summary>Provenance</summary>\n\nA:\n```json\n",
	              ans ? " ↓: lower is better (wins count B's decreases). n: questions where the measure applies "
	                    "in both runs." : "");
	cn_buf_puts(b, c->a->meta ? c->a->meta : "{}");
	cn_buf_puts(b, "\n```\nB:\n```json\n");
	cn_buf_puts(b, c->b->meta ? c->b->meta : "{}");
	cn_buf_puts(b, "\n```\n</details>\n");
}

cairn_status cairn_eval_comparison_render(const cairn_eval_comparison *c, cairn_report_format format,
                                          char **text, size_t *len, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!c || !text) {
		cn_err_set(&err, CAIRN_EINVAL, "compare: comparison and text are required");
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_EINVAL;
	}
	cn_buf b;
	cn_buf_init(&b);
	switch (format) {
	case CAIRN_REPORT_TEXT: render_text(&b, c); break;
	case CAIRN_REPORT_JSON: render_json(&b, c); break;
	case CAIRN_REPORT_MD: cn_report_md_compare(&b, c); break;
	case CAIRN_REPORT_HTML: cn_report_html(&b, c->b, c); break;
	default:
		cn_buf_free(&b);
		cn_err_set(&err, CAIRN_EINVAL, "compare: report format %d is not available", (int)format);
		cn_eval_errbuf(errbuf, errbuf_size, &err);
		return CAIRN_EINVAL;
	}
	return cn_eval_report_take(&b, text, len, errbuf, errbuf_size);
}
