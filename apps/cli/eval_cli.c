/* eval_cli.c — `cairn eval retrieval`, `eval trec` and `eval compare`, and the reports and gate
 * of `eval answers`: argument parsing and output files. Everything measured or rendered comes from the library (cairn_eval_*), so
 * the CLI and an embedding application get the same numbers and reports. Exit status: 0 ok,
 * 1 error, 2 usage, 3 a measure regressed beyond its tolerance (--fail-on-regression). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

enum { EXIT_REGRESSION = 3 };

/* A progress bar on stderr, only when it is a terminal. */
static int progress_bar(const cairn_ingest_progress *p, void *ud)
{
	(void)ud;
	if (!isatty(2) || p->files_total <= 0)
		return 0;
	int w = 30, fill = (int)(w * p->files_done / p->files_total);
	char bar[64];
	for (int i = 0; i < w; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[w] = '\0';
	fprintf(stderr, "\r%-9s [%s] %lld/%lld ", p->current ? p->current : "", bar, (long long)p->files_done,
	        (long long)p->files_total);
	return 0;
}

static void progress_clear(void)
{
	if (isatty(2))
		fprintf(stderr, "\r%70s\r", "");
}

static int write_out(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path, strerror(errno));
		return 1;
	}
	bool bad = fwrite(text, 1, len, f) != len;
	bad |= fclose(f) != 0;
	if (bad) {
		fprintf(stderr, "%s: %s: write failed\n", cli_prog, path);
		return 1;
	}
	return 0;
}

typedef struct reports {
	const char *json, *md, *html;
} reports;

static bool report_option(int argc, char **argv, int *i, reports *r)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--report-json"))
		r->json = cli_need(argc, argv, i);
	else if (!strcmp(a, "--report-md"))
		r->md = cli_need(argc, argv, i);
	else if (!strcmp(a, "--report-html"))
		r->html = cli_need(argc, argv, i);
	else
		return false;
	return true;
}

/* Writes the requested report files of a result (c NULL) or a comparison. */
static int write_reports(const reports *rp, const cairn_eval_result *r, const cairn_eval_comparison *c)
{
	const char *paths[3] = {rp->json, rp->md, rp->html};
	const cairn_report_format fmts[3] = {CAIRN_REPORT_JSON, CAIRN_REPORT_MD, CAIRN_REPORT_HTML};
	for (int i = 0; i < 3; i++) {
		if (!paths[i])
			continue;
		char err[1024], *text = NULL;
		size_t len = 0;
		cairn_status rc = c ? cairn_eval_comparison_render(c, fmts[i], &text, &len, err, sizeof err)
		                    : cairn_eval_result_render(r, fmts[i], CAIRN_REPORT_PER_QUERY, &text, &len, err, sizeof err);
		if (rc != CAIRN_OK) {
			fprintf(stderr, "%s: eval: %s\n", cli_prog, err);
			return 1;
		}
		int bad = write_out(paths[i], text, len);
		cairn_free(text);
		if (bad)
			return 1;
	}
	return 0;
}

static int print_result(const cairn_eval_result *r, cairn_report_format f, int flags)
{
	char err[1024], *text = NULL;
	size_t len = 0;
	if (cairn_eval_result_render(r, f, flags, &text, &len, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval: %s\n", cli_prog, err);
		return 1;
	}
	fwrite(text, 1, len, stdout);
	cairn_free(text);
	return 0;
}

/* A result from a JSON result file, or by scoring a TREC run file against qrels. */
static cairn_eval_result *load_run(const char *path, const char *qrels, const char *measures)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: eval: %s: %s\n", cli_prog, path, strerror(errno));
		return NULL;
	}
	int c;
	while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
		;
	fclose(f);
	char err[1024];
	cairn_eval_result *r = NULL;
	cairn_status rc;
	if (c == '{')
		rc = cairn_eval_result_load(path, &r, err, sizeof err);
	else if (!qrels) {
		fprintf(stderr, "%s: eval compare: %s is a TREC run: give the judgements with --qrels FILE\n", cli_prog,
		        path);
		return NULL;
	} else
		rc = cairn_eval_trec(qrels, path, measures, &r, err, sizeof err);
	if (rc != CAIRN_OK) {
		fprintf(stderr, "%s: eval: %s\n", cli_prog, err);
		return NULL;
	}
	return r;
}

typedef struct gate {
	const char *baseline, *tolerances;
	bool fail;
	cairn_eval_compare_params cp;
	bool json;
} gate;

static bool gate_option(int argc, char **argv, int *i, gate *g)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--baseline"))
		g->baseline = cli_need(argc, argv, i);
	else if (!strcmp(a, "--fail-on-regression")) {
		g->fail = true;
		g->cp.gate = 1;
	}
	else if (!strcmp(a, "--tolerance")) {
		g->cp.tolerances = cli_need(argc, argv, i);
		g->cp.gate = 1;
	}
	else if (!strcmp(a, "--permutations"))
		g->cp.permutations = (int)cli_parse_long(a, cli_need(argc, argv, i), 1, 10000000);
	else if (!strcmp(a, "--bootstrap"))
		g->cp.bootstrap = (int)cli_parse_long(a, cli_need(argc, argv, i), 1, 10000000);
	else if (!strcmp(a, "--seed"))
		g->cp.seed = (uint64_t)cli_parse_long(a, cli_need(argc, argv, i), 0, 0x7fffffffffffffffL);
	else
		return false;
	return true;
}

/* Compares b against a, prints the comparison, writes reports; the exit status. */
static int run_compare(const cairn_eval_result *a, const cairn_eval_result *b, const gate *g, const reports *rp,
                       FILE *out)
{
	char err[1024], *text = NULL;
	size_t len = 0;
	cairn_eval_comparison *c = NULL;
	if (cairn_eval_compare(a, b, &g->cp, &c, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval compare: %s\n", cli_prog, err);
		return 1;
	}
	int rc = 0;
	if (cairn_eval_comparison_render(c, g->json ? CAIRN_REPORT_JSON : CAIRN_REPORT_TEXT, &text, &len, err,
	                                 sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval compare: %s\n", cli_prog, err);
		rc = 1;
	} else {
		fwrite(text, 1, len, out);
		cairn_free(text);
		rc = write_reports(rp, NULL, c);
	}
	if (rc == 0 && g->fail && cairn_eval_comparison_regressions(c) > 0) {
		fprintf(stderr, "%s: eval: %d measure(s) regressed beyond tolerance\n", cli_prog,
		        cairn_eval_comparison_regressions(c));
		rc = EXIT_REGRESSION;
	}
	cairn_eval_comparison_free(c);
	return rc;
}

int cli_cmd_eval_retrieval(const char *kbdir_given, int argc, char **argv)
{
	cairn_eval_params p = cairn_eval_default_params();
	bool json = false;
	const char *dir = NULL;
	reports rp = {0};
	gate g = {.cp = cairn_eval_compare_default_params()};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (report_option(argc, argv, &i, &rp) || gate_option(argc, argv, &i, &g))
			continue;
		if (!strcmp(a, "--kb"))
			p.kb_dir = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--run"))
			p.run_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--depth"))
			p.depth = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000);
		else if (!strcmp(a, "--per-query"))
			p.per_query_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--measures"))
			p.measures = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--write-qrels"))
			p.qrels_out_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--chunked"))
			p.whole_documents = 0;
		else if (!strcmp(a, "--rm3"))
			p.rm3 = 1;
		else if (!strcmp(a, "--embed-model"))
			p.embed_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--rerank-model"))
			p.rerank_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--mode")) {
			const char *m = cli_need(argc, argv, &i);
			p.mode = !strcmp(m, "dense") ? CAIRN_SEARCH_DENSE : !strcmp(m, "hybrid") ? CAIRN_SEARCH_HYBRID
			       : !strcmp(m, "bm25")  ? CAIRN_SEARCH_BM25
			                             : (cli_die_usage("--mode is bm25, dense or hybrid, not \"%s\"", m), 0);
		} else if (!strcmp(a, "--split"))
			p.qrels_split = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--work-dir"))
			p.work_dir = cli_need(argc, argv, &i);
		else if (a[0] == '-' && a[1])
			cli_die_usage("eval retrieval: unknown option %s", a);
		else if (dir)
			cli_die_usage("eval retrieval takes one DATASET_DIR");
		else
			dir = a;
	}
	if (!dir)
		cli_die_usage("eval retrieval needs a DATASET_DIR");
	if (g.fail && !g.baseline)
		cli_die_usage("eval retrieval: --fail-on-regression needs --baseline FILE");
	if (!p.kb_dir && kbdir_given)
		p.kb_dir = kbdir_given;
	p.on_progress = progress_bar;
	p.seed = g.cp.seed;
	cairn_eval_result *res = NULL;
	p.result = &res;
	cairn_eval_report r;
	char err[1024];
	cairn_eval_result *base = NULL;
	if (g.baseline && !(base = load_run(g.baseline, NULL, NULL)))
		return 1;
	if (cairn_eval_retrieval(dir, &p, &r, err, sizeof err) != CAIRN_OK) {
		if (isatty(2))
			fprintf(stderr, "\n");
		fprintf(stderr, "%s: eval: %s\n", cli_prog, err);
		cairn_eval_result_free(base);
		return 1;
	}
	progress_clear();
	int rc = 0;
	if (json) {
		rc = print_result(res, CAIRN_REPORT_JSON, 0);
	} else {
		printf("dataset      %s (%s)\n", r.dataset, r.format);
		printf("documents    %lld\n", (long long)r.documents);
		printf("queries      %lld judged\n", (long long)r.queries);
		printf("nDCG@10      %.4f\n", r.ndcg_10);
		printf("MRR@10       %.4f\n", r.mrr_10);
		printf("Recall@100   %.4f\n", r.recall_100);
		printf("Recall@1000  %.4f\n", r.recall_1000);
		printf("MAP          %.4f\n", r.map);
		printf("P@10         %.4f\n", r.p_10);
		printf("latency      p50 %.3f ms, p95 %.3f ms, mean %.3f ms (in-process, depth %d)\n", r.latency_p50_ms,
		       r.latency_p95_ms, r.latency_mean_ms, p.depth);
		printf("index build  %.2f s\n", r.index_build_s);
		if (p.measures) {
			printf("\n");
			rc = print_result(res, CAIRN_REPORT_TEXT, 0);
		}
	}
	if (rc == 0 && base) {
		/* The comparison replaces the result's own reports: they show both runs. */
		if (!json)
			printf("\ncompared with the baseline %s:\n", g.baseline);
		rc = run_compare(base, res, &g, &rp, json ? stderr : stdout);
	} else if (rc == 0) {
		rc = write_reports(&rp, res, NULL);
	}
	cairn_eval_result_free(res);
	cairn_eval_result_free(base);
	return rc;
}

int cli_cmd_eval_trec(int argc, char **argv)
{
	const char *files[2] = {NULL, NULL}, *measures = NULL;
	int nf = 0, flags = 0;
	bool json = false;
	reports rp = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (report_option(argc, argv, &i, &rp))
			continue;
		if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--per-query") || !strcmp(a, "-q"))
			flags |= CAIRN_REPORT_PER_QUERY;
		else if (!strcmp(a, "--measures") || !strcmp(a, "-m"))
			measures = cli_need(argc, argv, &i);
		else if (a[0] == '-' && a[1])
			cli_die_usage("eval trec: unknown option %s", a);
		else if (nf == 2)
			cli_die_usage("eval trec takes QRELS and RUN");
		else
			files[nf++] = a;
	}
	if (nf != 2)
		cli_die_usage("eval trec needs QRELS and RUN");
	cairn_eval_result *r = NULL;
	char err[1024];
	if (cairn_eval_trec(files[0], files[1], measures, &r, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval trec: %s\n", cli_prog, err);
		return 1;
	}
	int rc = print_result(r, json ? CAIRN_REPORT_JSON : CAIRN_REPORT_TEXT, flags);
	if (rc == 0)
		rc = write_reports(&rp, r, NULL);
	cairn_eval_result_free(r);
	return rc;
}

int cli_cmd_eval_compare(int argc, char **argv)
{
	const char *files[2] = {NULL, NULL}, *qrels = NULL, *measures = NULL;
	int nf = 0;
	reports rp = {0};
	gate g = {.cp = cairn_eval_compare_default_params()};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (report_option(argc, argv, &i, &rp) || gate_option(argc, argv, &i, &g))
			continue;
		if (!strcmp(a, "--json"))
			g.json = true;
		else if (!strcmp(a, "--qrels"))
			qrels = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--measures"))
			measures = cli_need(argc, argv, &i);
		else if (a[0] == '-' && a[1])
			cli_die_usage("eval compare: unknown option %s", a);
		else if (nf == 2)
			cli_die_usage("eval compare takes RUN_A RUN_B (or --baseline FILE RUN)");
		else
			files[nf++] = a;
	}
	if (g.baseline) {
		if (nf != 1)
			cli_die_usage("eval compare --baseline FILE takes one RUN");
		files[1] = files[0];
		files[0] = g.baseline;
	} else if (nf != 2) {
		cli_die_usage("eval compare needs RUN_A RUN_B");
	}
	cairn_eval_result *a = load_run(files[0], qrels, measures);
	cairn_eval_result *b = a ? load_run(files[1], qrels, measures) : NULL;
	int rc = a && b ? run_compare(a, b, &g, &rp, stdout) : 1;
	cairn_eval_result_free(a);
	cairn_eval_result_free(b);
	return rc;
}

void cli_eval_outputs_init(cli_eval_outputs *o)
{
	memset(o, 0, sizeof *o);
	o->cp = cairn_eval_compare_default_params();
}

bool cli_eval_outputs_option(int argc, char **argv, int *i, cli_eval_outputs *o)
{
	const char *a = argv[*i];
	/* --seed is eval answers' own (the sample); the comparison keeps its default seed. */
	if (!strcmp(a, "--seed"))
		return false;
	reports rp = {o->json, o->md, o->html};
	gate g = {.baseline = o->baseline, .fail = o->fail, .cp = o->cp};
	if (!report_option(argc, argv, i, &rp) && !gate_option(argc, argv, i, &g))
		return false;
	o->json = rp.json;
	o->md = rp.md;
	o->html = rp.html;
	o->baseline = g.baseline;
	o->fail = g.fail;
	o->cp = g.cp;
	return true;
}

bool cli_eval_outputs_wanted(const cli_eval_outputs *o)
{
	return o->json || o->md || o->html || o->baseline;
}

int cli_eval_answer_outputs(const cli_eval_outputs *o, const char *per_question_path, const char *meta_json, FILE *out)
{
	char err[1024];
	cairn_eval_result *res = NULL, *base = NULL;
	if (cairn_eval_result_from_answers(per_question_path, meta_json, &res, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval answers: %s\n", cli_prog, err);
		return 1;
	}
	reports rp = {o->json, o->md, o->html};
	int rc;
	if (o->baseline) {
		if (!(base = load_run(o->baseline, NULL, NULL))) {
			cairn_eval_result_free(res);
			return 1;
		}
		gate g = {.baseline = o->baseline, .fail = o->fail, .cp = o->cp, .json = false};
		fprintf(out, "\ncompared with the baseline %s:\n", o->baseline);
		rc = run_compare(base, res, &g, &rp, out); /* its reports show both runs */
	} else {
		rc = write_reports(&rp, res, NULL);
	}
	cairn_eval_result_free(res);
	cairn_eval_result_free(base);
	return rc;
}
