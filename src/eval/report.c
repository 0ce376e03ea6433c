/*
 * report.c — the HTML report: one self-contained file (no network: CSS, JS and SVG inline)
 * that can be attached to a pull request or opened from a CI artifact.
 *
 * Charts are SVG drawn here, in C, so they show even where scripts are blocked; only the
 * per-query table (sorting and filtering) needs JavaScript, and its data travels as a JSON
 * island in the page. Every '<' inside that JSON is written as \u003c so no value can end
 * the script element. When the table is built the script writes "rendered" into
 * #cairn-status — tests load the page in headless Chromium and look for that marker.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

static void esc(cn_buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': cn_buf_puts(b, "&lt;"); break;
		case '>': cn_buf_puts(b, "&gt;"); break;
		case '&': cn_buf_puts(b, "&amp;"); break;
		case '"': cn_buf_puts(b, "&quot;"); break;
		default: cn_buf_putc(b, *s);
		}
}

/* A JSON string safe inside <script>. */
static void jstr(cn_buf *b, const char *s)
{
	cn_buf t;
	cn_buf_init(&t);
	cn_buf_put_json_str(&t, s, strlen(s));
	for (size_t i = 0; i < t.len; i++)
		if (t.data[i] == '<')
			cn_buf_puts(b, "\\u003c");
		else
			cn_buf_putc(b, t.data[i]);
	cn_buf_free(&t);
}

static void jnum(cn_buf *b, double v)
{
	if (!isfinite(v))
		cn_buf_puts(b, "null");
	else
		cn_buf_printf(b, "%.6g", v);
}

static const char CSS[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1150px}"
	"h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}"
	"table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}"
	"td:first-child,th:first-child{text-align:left}th{cursor:pointer;background:#f6f6f6;user-select:none}"
	"pre{max-width:1100px;overflow-x:auto}.rel{font-weight:bold;color:#0a7d32}.sig{font-weight:bold}.neg{color:#b3261e}.pos{color:#0a7d32}"
	".meta td{text-align:left;font-family:monospace;font-size:12px}.diff{background:#fff4d6}"
	"#filter{margin:6px 0;padding:4px;width:260px}.mono{font-family:monospace;font-size:12px}"
	".card{border:1px solid #e3e3e3;border-radius:4px;padding:6px 10px;margin:8px 0}.q{font-style:italic}"
	".lbl{display:inline-block;min-width:52px;color:#666;font-size:12px}.sents,.cites{margin:2px 0 2px 18px;padding:0}"
	".ok{color:#0a7d32}.bad{color:#b3261e}.cites{font-size:12px;color:#444}td.txt{text-align:left;min-width:280px}"
	".pair{display:grid;grid-template-columns:1fr 1fr;gap:8px}";

/* Horizontal bars 0..1 for every non-total measure of a (and b when comparing). */
/* Whether measure j (of r, or comparison row j) gets a bar on the 0..1 chart. */
static bool barred(const cairn_eval_result *r, const cairn_eval_comparison *c, size_t j)
{
	if (c)
		return c->rows[j].gated && !(c->rows[j].flags & CN_MF_UNBOUNDED);
	return !cn_mspec_is_total(&r->m[j]) && !(r->m[j].flags & CN_MF_UNBOUNDED) && !isnan(r->mean[j]);
}

/* 95% bootstrap CI of measure j's mean over the queries where it has a value. */
static bool mean_ci(const cairn_eval_result *r, size_t j, double *lo, double *hi)
{
	double *v = cn_malloc((r->nq ? r->nq : 1) * sizeof *v);
	if (!v)
		return false;
	size_t n = 0;
	for (size_t i = 0; i < r->nq; i++)
		if (!isnan(r->v[i * r->nm + j]))
			v[n++] = r->v[i * r->nm + j];
	bool ok = n > 0 && cn_bootstrap_ci(v, n, 2000, 42, lo, hi);
	cn_free(v);
	return ok;
}

static void svg_bars(cn_buf *b, const cairn_eval_result *r, const cairn_eval_comparison *c)
{
	size_t n = 0;
	for (size_t j = 0; j < (c ? c->nrows : r->nm); j++)
		n += barred(r, c, j);
	int rowh = c ? 30 : 20, W = 600, L = r->answers ? 170 : 130, H = (int)n * rowh + 30;
	cn_buf_printf(b, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img'>", W, H);
	for (int t = 0; t <= 4; t++) {
		double x = L + t * (W - L - 60) / 4.0;
		cn_buf_printf(b, "<line x1='%.1f' y1='0' x2='%.1f' y2='%d' stroke='#ddd'/>"
		                 "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%.2f</text>",
		              x, x, H - 18, x, H - 6, t / 4.0);
	}
	int y = 4;
	double scale = W - L - 60;
	for (size_t j = 0; j < (c ? c->nrows : r->nm); j++) {
		if (!barred(r, c, j))
			continue;
		const char *name = c ? c->rows[j].name : r->m[j].name;
		cn_buf_printf(b, "<text x='%d' y='%d' font-size='11' text-anchor='end'>%s</text>", L - 6,
		              y + (c ? 16 : 12), name);
		if (c) {
			const cn_cmp_row *row = &c->rows[j];
			double wa = CN_MAX(0, CN_MIN(1, row->mean_a)) * scale, wb = CN_MAX(0, CN_MIN(1, row->mean_b)) * scale;
			cn_buf_printf(b, "<rect x='%d' y='%d' width='%.1f' height='11' fill='#9db4d8'><title>A %.4f</title></rect>",
			              L, y, wa, row->mean_a);
			cn_buf_printf(b, "<rect x='%d' y='%d' width='%.1f' height='11' fill='#e08a3c'><title>B %.4f</title></rect>",
			              L, y + 12, wb, row->mean_b);
			/* The whisker: B's mean shifted by the CI of the difference. */
			double lo = CN_MAX(0, CN_MIN(1, row->mean_a + row->lo)) * scale + L;
			double hi = CN_MAX(0, CN_MIN(1, row->mean_a + row->hi)) * scale + L;
			cn_buf_printf(b, "<g stroke='#222'><line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/>"
			                 "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/><line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/>"
			                 "<title>95%% CI of B-A: [%+.4f, %+.4f]</title></g>",
			              lo, y + 17, hi, y + 17, lo, y + 13, lo, y + 21, hi, y + 13, hi, y + 21, row->lo, row->hi);
			cn_buf_printf(b, "<text x='%.1f' y='%d' font-size='10'>%+.4f%s</text>", L + CN_MAX(wa, wb) + 8 > W - 55 ? W - 55.0 : L + CN_MAX(wa, wb) + 8,
			              y + 16, row->diff, row->p < 0.05 ? "*" : "");
		} else {
			double w = CN_MAX(0, CN_MIN(1, r->mean[j])) * scale, lo, hi;
			cn_buf_printf(b, "<rect x='%d' y='%d' width='%.1f' height='14' fill='#4b7bc4'/>", L, y, w);
			double tx = L + w + 4;
			if (mean_ci(r, j, &lo, &hi)) {
				double xl = CN_MAX(0, CN_MIN(1, lo)) * scale + L, xh = CN_MAX(0, CN_MIN(1, hi)) * scale + L;
				cn_buf_printf(b, "<g stroke='#222'><line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/>"
				                 "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/><line x1='%.1f' y1='%d' x2='%.1f' y2='%d'/>"
				                 "<title>95%% CI of the mean: [%.4f, %.4f]</title></g>",
				              xl, y + 7, xh, y + 7, xl, y + 3, xl, y + 11, xh, y + 3, xh, y + 11, lo, hi);
				tx = CN_MAX(tx, xh + 4);
			}
			cn_buf_printf(b, "<text x='%.1f' y='%d' font-size='10'>%.4f</text>", CN_MIN(tx, W - 50.0), y + 11,
			              r->mean[j]);
		}
		y += rowh;
	}
	cn_buf_puts(b, "</svg>");
	if (c)
		cn_buf_puts(b, "<p><span style='color:#9db4d8'>&#9632;</span> A &nbsp; <span style='color:#e08a3c'>&#9632;"
		               "</span> B &nbsp; whisker: A + 95% bootstrap CI of B&minus;A; * p &lt; 0.05</p>");
	else
		cn_buf_puts(b, "<p>Whiskers: 95% bootstrap confidence interval of the mean (2000 resamples over the "
		               "queries).</p>");
}

/* Every measure of one result with the queries it applies to and its CI (the bars leave out
 * counts and measures that are not rates: time, tokens, cost). */
static void measure_table(cn_buf *b, const cairn_eval_result *r)
{
	cn_buf_puts(b, "<table><tr><th>measure</th><th>mean</th><th>95% CI</th><th>queries</th></tr>");
	for (size_t j = 0; j < r->nm; j++) {
		double lo, hi;
		cn_buf_printf(b, "<tr><td>%s%s</td><td>", r->m[j].name, r->m[j].flags & CN_MF_LOWER_BETTER ? " &darr;" : "");
		if (cn_mspec_is_total(&r->m[j]))
			cn_buf_printf(b, "%.0f</td><td></td>", r->mean[j]);
		else if (mean_ci(r, j, &lo, &hi)) {
			cn_report_num(b, r->mean[j]);
			cn_buf_printf(b, "</td><td>[%.4f, %.4f]</td>", lo, hi);
		} else {
			cn_report_num(b, r->mean[j]);
			cn_buf_puts(b, "</td><td></td>");
		}
		cn_buf_printf(b, "<td>%zu</td></tr>", cn_evres_count(r, j));
	}
	cn_buf_puts(b, "</table>");
	if (r->answers)
		cn_buf_puts(b, "<p>&darr;: lower is better. A measure counts only the questions it applies to (EM needs "
		               "gold answers, the support rate an answer, <i>answered</i> an answerable question, "
		               "<i>abstained_unanswerable</i> an unanswerable one).</p>");
}

/* Latency histogram of the measured queries of one or two runs (20 bins, shared scale). */
static void svg_latency(cn_buf *b, const cairn_eval_result *r, const cairn_eval_result *a)
{
	const cairn_eval_result *runs[2] = {a, r};
	double mx = 0;
	size_t nmeas = 0;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; runs[k] && i < runs[k]->nq; i++)
			if (runs[k]->q[i].latency_ms >= 0) {
				mx = CN_MAX(mx, runs[k]->q[i].latency_ms);
				nmeas++;
			}
	if (nmeas == 0) {
		cn_buf_puts(b, "<p>No latency was measured (a scored run file).</p>");
		return;
	}
	enum { NB = 20 };
	double hi = mx > 0 ? mx * 1.0001 : 1;
	int cnt[2][NB] = {{0}};
	int top = 1;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; runs[k] && i < runs[k]->nq; i++)
			if (runs[k]->q[i].latency_ms >= 0) {
				int bin = (int)(runs[k]->q[i].latency_ms / hi * NB);
				bin = bin < 0 ? 0 : bin >= NB ? NB - 1 : bin;
				int now = ++cnt[k][bin]; /* not inside CN_MAX: it evaluates twice */
				top = CN_MAX(top, now);
			}
	int W = 560, H = 200, L = 40, B = 30;
	double bw = (W - L - 10) / (double)NB;
	cn_buf_printf(b, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img'>", W, H);
	static const char *const fill[2] = {"#9db4d8", "#e08a3c"};
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < NB; i++) {
			if (!cnt[k][i])
				continue;
			double h = (H - B - 10) * cnt[k][i] / (double)top;
			double x = L + i * bw + (a ? k * bw / 2 : 0);
			cn_buf_printf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'><title>%.3f–%.3f ms: %d</title></rect>",
			              x, H - B - h, a ? bw / 2 - 1 : bw - 1, h, fill[a ? k : 1], i * hi / NB, (i + 1) * hi / NB,
			              cnt[k][i]);
		}
	cn_buf_printf(b, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444'/>", L, H - B, W - 10, H - B);
	for (int t = 0; t <= 4; t++)
		cn_buf_printf(b, "<text x='%.1f' y='%d' font-size='10' text-anchor='%s'>%.2f</text>",
		              L + t * (W - L - 10) / 4.0, H - B + 14, t == 4 ? "end" : "middle", t * hi / 4);
	cn_buf_printf(b, "<text x='%d' y='%d' font-size='10' text-anchor='middle'>latency (ms)</text>"
	                 "<text x='4' y='12' font-size='10'>%d</text><text x='4' y='%d' font-size='10'>queries</text></svg>",
	              W / 2, H - 2, top, H - B);
}

static void meta_table(cn_buf *b, const char *label, const char *meta)
{
	cn_buf_printf(b, "<p><b>%s</b></p><pre class='mono' style='white-space:pre-wrap'>", label);
	esc(b, meta ? meta : "{}");
	cn_buf_puts(b, "</pre>");
}

/* The index of the measure failures are ranked by: nDCG@10 when there, else the first mean. */
static int primary(const cairn_eval_result *r)
{
	if (r->answers) {
		static const char *const pref[] = {"f1", "rouge_l", "citation_recall", "support_rate", "answered"};
		for (size_t i = 0; i < sizeof pref / sizeof pref[0]; i++)
			if (cn_evres_find(r, pref[i]) >= 0)
				return cn_evres_find(r, pref[i]);
	}
	int j = cn_evres_find(r, "ndcg_cut_10");
	for (size_t i = 0; j < 0 && i < r->nm; i++)
		if (!cn_mspec_is_total(&r->m[i]))
			j = (int)i;
	return j;
}

/* The indexes of the (at most) ten lowest values below `below`, NaN left out, ties by
 * position — a selection, since n is at most a few thousand. */
static size_t pick_lowest(const double *v, size_t n, double below, size_t pick[10])
{
	bool *taken = cn_calloc(n ? n : 1, sizeof *taken);
	size_t np = 0;
	for (; taken && np < 10; np++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < n; i++)
			if (!taken[i] && !isnan(v[i]) && v[i] < below && (best == SIZE_MAX || v[i] < v[best]))
				best = i;
		if (best == SIZE_MAX)
			break;
		taken[best] = true;
		pick[np] = best;
	}
	cn_free(taken);
	return np;
}

/* pick_lowest over measure j of r. */
static size_t lowest(const cairn_eval_result *r, int j, size_t pick[10], double below)
{
	double *v = cn_malloc((r->nq ? r->nq : 1) * sizeof *v);
	if (!v)
		return 0;
	for (size_t i = 0; i < r->nq; i++)
		v[i] = r->v[i * r->nm + (size_t)j];
	size_t np = pick_lowest(v, r->nq, below, pick);
	cn_free(v);
	return np;
}

static void failures(cn_buf *b, const cairn_eval_result *r)
{
	int pj = primary(r);
	if (pj < 0 || r->nq == 0)
		return;
	size_t pick[10], np = lowest(r, pj, pick, INFINITY);
	cn_buf_printf(b, "<h2>Failures: the %zu queries with the lowest %s</h2><p>Retrieved documents that are "
	                 "relevant are <span class='rel'>green</span> (grade in brackets).</p>"
	                 "<table><tr><th>qid</th><th>%s</th><th style='text-align:left'>top retrieved</th>"
	                 "<th style='text-align:left'>relevant</th></tr>",
	              np, r->m[pj].name, r->m[pj].name);
	for (size_t k = 0; k < np; k++) {
		const cn_evq *q = &r->q[pick[k]];
		cn_buf_puts(b, "<tr><td>");
		esc(b, q->qid);
		cn_buf_printf(b, "</td><td>%.4f</td><td class='mono' style='text-align:left'>", r->v[pick[k] * r->nm + pj]);
		for (size_t i = 0; i < q->ntop; i++) {
			cn_buf_puts(b, q->top_grade[i] >= 1 ? "<span class='rel'>" : "<span>");
			esc(b, q->top[i]);
			if (q->top_grade[i] >= 1)
				cn_buf_printf(b, " (%d)", q->top_grade[i]);
			cn_buf_puts(b, "</span> ");
		}
		if (!q->ntop)
			cn_buf_puts(b, "<i>nothing retrieved</i>");
		cn_buf_puts(b, "</td><td class='mono' style='text-align:left'>");
		for (size_t i = 0; i < q->nrel; i++) {
			esc(b, q->rel[i]);
			cn_buf_printf(b, " (%d) ", q->rel_grade[i]);
		}
		cn_buf_puts(b, "</td></tr>");
	}
	cn_buf_puts(b, "</table>");
}

/* One answered (or abstained) question from its detail: question, gold answers, the answer
 * with each sentence's verdict and citations, and the cited quotes. */
static void answer_card(cn_buf *b, const cn_evq *q, const char *measure, double v)
{
	json_t *d = q->detail ? json_loads(q->detail, 0, NULL) : NULL;
	cn_buf_puts(b, "<div class='card'><b>");
	esc(b, q->qid);
	cn_buf_puts(b, "</b>");
	if (measure)
		cn_buf_printf(b, " &middot; %s %.4f", measure, v);
	const char *question = json_string_value(json_object_get(d, "question"));
	if (question) {
		cn_buf_puts(b, " &middot; <span class='q'>");
		esc(b, question);
		cn_buf_puts(b, "</span>");
	}
	json_t *gold = json_object_get(d, "gold");
	if (json_array_size(gold)) {
		cn_buf_puts(b, "<div><span class='lbl'>gold</span> ");
		size_t i;
		json_t *g;
		json_array_foreach(gold, i, g) {
			if (!json_is_string(g))
				continue;
			cn_buf_puts(b, i ? " | " : "");
			esc(b, json_string_value(g));
		}
		cn_buf_puts(b, "</div>");
	}
	bool abst = json_is_true(json_object_get(d, "abstained"));
	cn_buf_puts(b, "<div><span class='lbl'>answer</span> ");
	if (json_is_true(json_object_get(d, "refused")))
		cn_buf_puts(b, "<i>refused by the injection guard</i>");
	else if (abst)
		cn_buf_puts(b, "<i>abstained</i>");
	json_t *sents = json_object_get(d, "sentences");
	if (!abst && json_array_size(sents)) {
		cn_buf_puts(b, "<ol class='sents'>");
		size_t i;
		json_t *st;
		json_array_foreach(sents, i, st) {
			bool sup = json_is_true(json_object_get(st, "supported"));
			cn_buf_printf(b, "<li class='%s'>%s ", sup ? "ok" : "bad", sup ? "&#10003;" : "&#10007; unsupported:");
			esc(b, json_is_string(json_object_get(st, "text")) ? json_string_value(json_object_get(st, "text")) : "");
			size_t k;
			json_t *cid;
			json_array_foreach(json_object_get(st, "citations"), k, cid)
				if (json_is_integer(cid))
					cn_buf_printf(b, " [%lld]", (long long)json_integer_value(cid));
			cn_buf_puts(b, "</li>");
		}
		cn_buf_puts(b, "</ol>");
	} else if (!abst) {
		const char *ans = json_string_value(json_object_get(d, "answer"));
		esc(b, ans ? ans : "");
	}
	cn_buf_puts(b, "</div>");
	json_t *cites = json_object_get(d, "citations");
	if (!abst && json_array_size(cites)) {
		cn_buf_puts(b, "<ul class='cites'>");
		size_t i;
		json_t *c;
		json_array_foreach(cites, i, c) {
			json_t *id = json_object_get(c, "id");
			const char *doc = json_string_value(json_object_get(c, "doc_id"));
			const char *title = json_string_value(json_object_get(c, "title"));
			const char *quote = json_string_value(json_object_get(c, "quote"));
			cn_buf_printf(b, "<li>[%lld] <span class='mono'>", json_is_integer(id) ? (long long)json_integer_value(id) : (long long)i + 1);
			esc(b, doc ? doc : "?");
			cn_buf_puts(b, "</span>");
			if (title && *title) {
				cn_buf_puts(b, " <i>");
				esc(b, title);
				cn_buf_puts(b, "</i>");
			}
			if (quote && *quote) {
				cn_buf_puts(b, ": &ldquo;");
				esc(b, quote);
				cn_buf_puts(b, "&rdquo;");
			}
			cn_buf_puts(b, "</li>");
		}
		cn_buf_puts(b, "</ul>");
	}
	cn_buf_puts(b, "</div>");
	json_decref(d);
}

static void answer_failures(cn_buf *b, const cairn_eval_result *r)
{
	size_t pick[10], np;
	int pj = primary(r);
	if (pj >= 0 && (np = lowest(r, pj, pick, 1.0 - 1e-9)) > 0) {
		cn_buf_printf(b, "<h2>Failures: the %zu question%s with the lowest %s</h2><p>What was asked, the gold "
		                 "answers, the answer with the verifier's verdict on each sentence, and the passages it "
		                 "cited.</p>", np, np == 1 ? "" : "s", r->m[pj].name);
		for (size_t k = 0; k < np; k++)
			answer_card(b, &r->q[pick[k]], r->m[pj].name, r->v[pick[k] * r->nm + pj]);
	}
	int uj = cn_evres_find(r, "abstained_unanswerable");
	if (uj >= 0 && (np = lowest(r, uj, pick, 0.5)) > 0) {
		cn_buf_printf(b, "<h2>Answered although unanswerable: %zu question%s</h2><p>The documents do not hold "
		                 "the answer, yet an answer was given.</p>", np, np == 1 ? "" : "s");
		for (size_t k = 0; k < np; k++)
			answer_card(b, &r->q[pick[k]], NULL, 0);
	}
	int sj = cn_evres_find(r, "support_rate");
	if (sj >= 0 && (np = lowest(r, sj, pick, 1.0 - 1e-9)) > 0) {
		cn_buf_printf(b, "<h2>Unsupported sentences: %zu answer%s</h2><p>The verifier did not find every "
		                 "sentence in the passages it cites.</p>", np, np == 1 ? "" : "s");
		for (size_t k = 0; k < np; k++)
			answer_card(b, &r->q[pick[k]], "support_rate", r->v[pick[k] * r->nm + sj]);
	}
}

/* A comparison of answer runs: the questions where B lost most on the primary measure, and
 * where B newly answered an unanswerable question, each with A's and B's answer. */
static void answer_losses(cn_buf *b, const cairn_eval_comparison *c)
{
	static const char *const what[2] = {NULL, "abstained_unanswerable"};
	for (int w = 0; w < 2; w++) {
		int jb = w == 0 ? primary(c->b) : cn_evres_find(c->b, what[w]);
		int ja = jb < 0 ? -1 : cn_evres_find(c->a, c->b->m[jb].name);
		if (ja < 0)
			continue;
		double *d = cn_malloc((c->nq ? c->nq : 1) * sizeof *d);
		if (!d)
			return;
		for (size_t q = 0; q < c->nq; q++)
			d[q] = c->b->v[c->qb[q] * c->b->nm + (size_t)jb] - c->a->v[c->qa[q] * c->a->nm + (size_t)ja];
		size_t pick[10], np = pick_lowest(d, c->nq, -1e-12, pick);
		cn_free(d);
		if (np == 0)
			continue;
		if (w == 0)
			cn_buf_printf(b, "<h2>Losses: the %zu question%s where %s dropped most</h2><p>A's answer on the left, "
			                 "B's on the right.</p>", np, np == 1 ? "" : "s", c->b->m[jb].name);
		else
			cn_buf_printf(b, "<h2>Newly answered although unanswerable: %zu question%s</h2><p>A abstained, B "
			                 "answered (A left, B right).</p>", np, np == 1 ? "" : "s");
		for (size_t k = 0; k < np; k++) {
			size_t qa = c->qa[pick[k]], qb = c->qb[pick[k]];
			cn_buf_puts(b, "<div class='pair'>");
			answer_card(b, &c->a->q[qa], w == 0 ? c->a->m[ja].name : NULL, c->a->v[qa * c->a->nm + (size_t)ja]);
			answer_card(b, &c->b->q[qb], w == 0 ? c->b->m[jb].name : NULL, c->b->v[qb * c->b->nm + (size_t)jb]);
			cn_buf_puts(b, "</div>");
		}
	}
}

static const char JS[] =
	"(function(){var D=JSON.parse(document.getElementById('cairn-data').textContent);"
	"var t=document.getElementById('pq'),f=document.getElementById('filter'),sk=-1,asc=true;"
	"function fmt(v){return v===null?'-':(typeof v==='number'?v.toFixed(4):v);}"
	"function head(){var h='<tr>';D.cols.forEach(function(c,i){h+='<th data-i=\"'+i+'\">'+c+"
	"(i===sk?(asc?' \\u25b2':' \\u25bc'):'')+'</th>';});return h+'</tr>';}"
	"function esc(s){return String(s).replace(/[&<>\"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c];});}"
	"function draw(){var q=f.value.trim().toLowerCase(),rows=D.rows.filter(function(r){"
	"if(!q)return true;if(q==='loss'||q==='win'){var d=r[D.diffcol];return d!==null&&(q==='loss'?d<-1e-12:d>1e-12);}"
	"return r.some(function(v){return typeof v==='string'&&v.toLowerCase().indexOf(q)>=0;});});"
	"if(sk>=0)rows.sort(function(a,b){var x=a[sk],y=b[sk];if(x===y)return 0;if(x===null)return 1;if(y===null)return -1;"
	"return (x<y?-1:1)*(asc?1:-1);});"
	"var h=head();rows.forEach(function(r){h+='<tr>';r.forEach(function(v,i){var c='';"
	"if(i===D.diffcol&&v!==null)c=v>1e-12?' class=\"pos\"':(v<-1e-12?' class=\"neg\"':'');"
	"if(i>0&&typeof v==='string')c=' class=\"txt\"';"
	"h+='<td'+c+'>'+esc(fmt(v))+'</td>';});h+='</tr>';});t.innerHTML=h;"
	"document.getElementById('shown').textContent=rows.length+' of '+D.rows.length+' '+D.unit;}"
	"t.addEventListener('click',function(e){var th=e.target.closest('th');if(!th)return;var i=+th.dataset.i;"
	"if(i===sk)asc=!asc;else{sk=i;asc=true;}draw();});f.addEventListener('input',draw);draw();"
	"document.getElementById('cairn-status').textContent='rendered';})();";

/* The per-query data: for a result, qid + every measure + latency; for a comparison,
 * qid + A, B and B-A of the primary measure and of up to three more. */
/* ",\"question text\"" of an answer run's query, from its detail. */
static void question_cell(cn_buf *b, const cn_evq *q)
{
	json_t *d = q->detail ? json_loads(q->detail, 0, NULL) : NULL;
	const char *qt = json_string_value(json_object_get(d, "question"));
	cn_buf_putc(b, ',');
	jstr(b, qt ? qt : "");
	json_decref(d);
}

static void data_island(cn_buf *b, const cairn_eval_result *r, const cairn_eval_comparison *c)
{
	cn_buf_printf(b, "<script type='application/json' id='cairn-data'>{\"unit\":\"%s\",\"cols\":[\"qid\"%s",
	              r->answers ? "questions" : "queries", r->answers ? ",\"question\"" : "");
	if (c) {
		/* The primary measure first, then the next three. */
		size_t order[4], no = 0;
		int pj = primary(c->b);
		for (size_t i = 0; i < c->nrows; i++)
			if (c->rows[i].gated && pj >= 0 && c->rows[i].ib == (size_t)pj)
				order[no++] = i;
		for (size_t i = 0; i < c->nrows && no < 4; i++)
			if (c->rows[i].gated && !(no && order[0] == i))
				order[no++] = i;
		for (size_t k = 0; k < no; k++) {
			const char *nm = c->rows[order[k]].name;
			cn_buf_printf(b, ",\"%s A\",\"%s B\",\"%s B-A\"", nm, nm, nm);
		}
		cn_buf_printf(b, "],\"diffcol\":%d,\"rows\":[", r->answers ? 4 : 3);
		for (size_t q = 0; q < c->nq; q++) {
			cn_buf_puts(b, q ? ",[" : "[");
			jstr(b, c->a->q[c->qa[q]].qid);
			if (r->answers)
				question_cell(b, &c->b->q[c->qb[q]]);
			for (size_t k = 0; k < no; k++) {
				const cn_cmp_row *row = &c->rows[order[k]];
				double va = c->a->v[c->qa[q] * c->a->nm + row->ia], vb = c->b->v[c->qb[q] * c->b->nm + row->ib];
				cn_buf_putc(b, ',');
				jnum(b, va);
				cn_buf_putc(b, ',');
				jnum(b, vb);
				cn_buf_putc(b, ',');
				jnum(b, vb - va);
			}
			cn_buf_putc(b, ']');
		}
	} else {
		for (size_t j = 0; j < r->nm; j++)
			cn_buf_printf(b, ",\"%s\"", r->m[j].name);
		cn_buf_puts(b, ",\"latency_ms\"],\"diffcol\":-1,\"rows\":[");
		for (size_t q = 0; q < r->nq; q++) {
			cn_buf_puts(b, q ? ",[" : "[");
			jstr(b, r->q[q].qid);
			if (r->answers)
				question_cell(b, &r->q[q]);
			for (size_t j = 0; j < r->nm; j++) {
				cn_buf_putc(b, ',');
				jnum(b, r->v[q * r->nm + j]);
			}
			cn_buf_putc(b, ',');
			jnum(b, r->q[q].latency_ms >= 0 ? r->q[q].latency_ms : NAN);
			cn_buf_putc(b, ']');
		}
	}
	cn_buf_puts(b, "]}</script>");
}

void cn_report_html(cn_buf *b, const cairn_eval_result *r, const cairn_eval_comparison *c)
{
	cn_buf_printf(b, "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>cairn evaluation</title>"
	                 "<style>%s</style></head><body>", CSS);
	if (c) {
		cn_buf_printf(b, "<h1>cairn %s comparison: B vs A</h1><p>%zu %s in common", r->answers ? "answer" : "retrieval",
		              c->nq, r->answers ? "questions" : "queries");
		if (c->only_a || c->only_b)
			cn_buf_printf(b, " (%zu only in A, %zu only in B, left out)", c->only_a, c->only_b);
		cn_buf_printf(b, "; paired randomization test, %d permutations; bootstrap 95%% CI, %d resamples; seed %llu; "
		                 "cairn %s.</p>",
		              c->params.permutations, c->params.bootstrap, (unsigned long long)c->params.seed, cairn_version());
		cn_buf_puts(b, "<h2>Measures</h2>");
		svg_bars(b, r, c);
		cn_buf_puts(b, "<table><tr><th>measure</th><th>A</th><th>B</th><th>B&minus;A</th><th>p</th><th>95% CI</th>"
		               "<th>wins</th><th>losses</th><th>ties</th><th>gate</th></tr>");
		for (size_t i = 0; i < c->nrows; i++) {
			const cn_cmp_row *row = &c->rows[i];
			if (!row->gated && isnan(row->mean_a)) { /* an answer measure no question has on both sides */
				cn_buf_printf(b, "<tr><td>%s</td><td>-</td><td>-</td><td>-</td><td colspan='6'></td></tr>", row->name);
				continue;
			}
			if (!row->gated) {
				cn_buf_printf(b, "<tr><td>%s</td><td>%.0f</td><td>%.0f</td><td>%+.0f</td><td colspan='6'></td></tr>",
				              row->name, row->mean_a, row->mean_b, row->diff);
				continue;
			}
			bool better = row->flags & CN_MF_LOWER_BETTER ? row->diff < 0 : row->diff > 0;
			bool worse = row->flags & CN_MF_LOWER_BETTER ? row->diff > 0 : row->diff < 0;
			cn_buf_printf(b, "<tr><td>%s%s</td><td>%.4f</td><td>%.4f</td><td class='%s%s'>%+.4f</td><td>%.4f</td>"
			                 "<td>[%+.4f, %+.4f]</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td></tr>",
			              row->name, row->flags & CN_MF_LOWER_BETTER ? " &darr;" : "", row->mean_a, row->mean_b,
			              better ? "pos" : worse ? "neg" : "",
			              row->p < 0.05 ? " sig" : "", row->diff, row->p, row->lo, row->hi, row->wins, row->losses,
			              row->ties, !c->params.gate ? "&ndash;" : row->regressed ? "<b class='neg'>regression</b>" : "ok");
		}
		cn_buf_puts(b, "</table>");
	} else {
		cn_buf_printf(b, "<h1>cairn %s evaluation</h1><p>%zu %s", r->answers ? "answer" : "retrieval", r->nq,
		              r->answers ? "questions asked" : "judged queries");
		if (r->has_report) {
			cn_buf_puts(b, " on <b>");
			esc(b, r->report.dataset);
			cn_buf_printf(b, "</b> (%s, %lld documents)", r->report.format, (long long)r->report.documents);
		}
		cn_buf_printf(b, "; cairn %s.</p><h2>Measures</h2>", cairn_version());
		svg_bars(b, r, NULL);
		measure_table(b, r);
	}
	cn_buf_puts(b, "<h2>Latency</h2>");
	svg_latency(b, r, c ? c->a : NULL);
	double p50 = cn_evres_latency(r, 0.5);
	if (p50 >= 0)
		cn_buf_printf(b, "<p>%sp50 %.3f ms, p95 %.3f ms, p99 %.3f ms.</p>", c ? "B: " : "", p50,
		              cn_evres_latency(r, 0.95), cn_evres_latency(r, 0.99));
	cn_buf_puts(b, r->answers ? "<h2>Per question</h2><input id='filter' placeholder='filter by id or question (or: win, loss)'> "
	                          : "<h2>Per query</h2><input id='filter' placeholder='filter by qid (or: win, loss)'> ");
	cn_buf_puts(b, "<span id='shown'></span><div style='max-height:420px;overflow:auto;max-width:1150px'>"
	               "<table id='pq'></table></div>");
	if (r->answers && c)
		answer_losses(b, c);
	else if (r->answers)
		answer_failures(b, r);
	else
		failures(b, r);
	cn_buf_puts(b, "<h2>Provenance</h2>");
	if (c) {
		meta_table(b, "A", c->a->meta);
		meta_table(b, "B", c->b->meta);
	} else {
		meta_table(b, "Run", r->meta);
	}
	data_island(b, r, c);
	cn_buf_printf(b, "<p id='cairn-status' style='color:#999'>static</p><script>%s</script></body></html>\n", JS);
}
