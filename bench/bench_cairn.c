/*
 * bench_cairn.c — cairn's side of the BM25 benchmark, through include/cairn.h only.
 *
 * It does what an application indexing a JSON Lines corpus would do: cairn_kb_open on a
 * fresh directory (default params: Porter stemmer, k1 = 0.9, b = 0.4), one
 * cairn_kb_add_record per document (title + text, whole_documents = 1 so one document is
 * one chunk, as the other engines index it) and one cairn_kb_commit, which writes and
 * fsyncs the segment and commits the catalog. Queries go through cairn_search with
 * ids_only = 1 and snippets = 0, the same "ids and scores" answer the FTS5 and Xapian
 * drivers return; the timed region includes reading the hits and cairn_results_free.
 * With CAIRN_THREADS=1 (the library's switch) the build is single-threaded and the line is
 * labelled "cairn-1t".
 *
 * Usage: bench_cairn CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]
 * With BENCH_REUSE=1 in the environment it searches the KB a previous run left in WORKDIR
 * instead of building one (for profiling queries alone; build_s is then 0), and with
 * BENCH_NO_K1000=1 it skips the k=1000 pass (to profile the k=10 path alone).
 * Prints one JSON line (bench_common.h).
 */
#include "bench_common.h"

#include <cairn.h>

typedef struct cairn_ctx {
	cairn_kb *kb;
	cairn_search_params sp;
} cairn_ctx;

static long cairn_bench_search(void *ctx, const char *query, int k, FILE *rec, const char *qid)
{
	cairn_ctx *c = ctx;
	c->sp.k = k;
	cairn_results *res = NULL;
	cairn_status st = cairn_search(c->kb, query, &c->sp, &res);
	if (st == CAIRN_EEMPTY) /* the query analysed to nothing */
		return 0;
	if (st != CAIRN_OK) {
		fprintf(stderr, "bench_cairn: query %s: %s: %s\n", qid, cairn_status_name(st), cairn_kb_errmsg(c->kb));
		return -1;
	}
	size_t n = cairn_results_count(res);
	volatile double sink = 0;
	for (size_t i = 0; i < n; i++) {
		const cairn_hit *h = cairn_results_get(res, i);
		sink += h->score;
		if (rec)
			fprintf(rec, "%s\t%zu\t%s\n", qid, i + 1, h->doc_id ? h->doc_id : "?");
	}
	(void)sink;
	cairn_results_free(res);
	return (long)n;
}

/* rm -rf of the benchmark's own index directory (one level of files: cairn's layout). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_cairn CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]\n");
		return 2;
	}
	const char *corpus = argv[1], *qpath = argv[2], *work = argv[3], *name = argv[4];
	const char *recpath = argc > 5 ? argv[5] : NULL;
	size_t nq;
	bench_query *queries = bench_load_queries(qpath, &nq);

	char dir[4096];
	mkdir(work, 0755);
	snprintf(dir, sizeof dir, "%s/cairn.kb", work);
	const char *reuse = getenv("BENCH_REUSE");
	int reusing = reuse && reuse[0] == '1';
	if (!reusing)
		remove_tree(dir);

	bench_result res;
	memset(&res, 0, sizeof res);
	/* cairn's ingest runs a two-stage pipeline on two threads; CAIRN_THREADS=1 runs it
	 * inline, the single-core figure comparable with the single-threaded baselines. */
	const char *thr = getenv("CAIRN_THREADS");
	res.engine = thr && !strcmp(thr, "1") ? "cairn-1t" : "cairn";
	res.corpus = name;
	res.queries = nq;

	double t0 = bench_now();
	cairn_kb_params kp = cairn_kb_default_params();
	cairn_kb *kb = NULL;
	char ebuf[512];
	cairn_status st = cairn_kb_open(dir, &kp, &kb, ebuf, sizeof ebuf);
	if (st != CAIRN_OK)
		bench_die(dir, ebuf);
	cairn_ingest_params ip = cairn_ingest_default_params();
	ip.whole_documents = 1;
	bench_reader rd;
	bench_reader_open(&rd, corpus);
	bench_doc d;
	long n = 0;
	while (!reusing && bench_reader_next(&rd, &d)) {
		cairn_record r;
		memset(&r, 0, sizeof r);
		r.doc_id = d.id;
		r.title = d.title[0] ? d.title : NULL;
		r.text = d.text;
		r.text_len = d.text_len;
		if (!d.text_len) { /* title only */
			r.title = NULL;
			r.text = d.title;
			r.text_len = strlen(d.title);
		}
		st = cairn_kb_add_record(kb, &r, &ip);
		if (st != CAIRN_OK) {
			fprintf(stderr, "bench_cairn: adding %s: %s: %s\n", d.id, cairn_status_name(st), cairn_kb_errmsg(kb));
			return 1;
		}
		n++;
	}
	st = reusing ? CAIRN_OK : cairn_kb_commit(kb);
	if (st != CAIRN_OK)
		bench_die("commit", cairn_kb_errmsg(kb));
	double total = bench_now() - t0;
	res.load_s = rd.load_s;
	res.build_s = total - rd.load_s;
	bench_reader_close(&rd);
	res.docs = n;
	res.rss_after_build_mb = bench_peak_rss_mb();
	res.index_bytes = bench_du(dir);

	cairn_ctx c;
	c.kb = kb;
	c.sp = cairn_search_default_params();
	c.sp.ids_only = 1;
	c.sp.snippets = 0;
	bench_time_queries(cairn_bench_search, &c, queries, nq, 10, &res.p50_10, &res.p95_10, &res.mean_10, &res.mean_hits_10);
	const char *no1k = getenv("BENCH_NO_K1000"); /* profiling the k=10 path alone */
	if (!(no1k && no1k[0] == '1'))
		bench_time_queries(cairn_bench_search, &c, queries, nq, 1000, &res.p50_1000, &res.p95_1000, &res.mean_1000,
		                   NULL);
	res.peak_rss_mb = bench_peak_rss_mb();
	bench_record(cairn_bench_search, &c, queries, nq, 10, recpath);
	cairn_kb_close(kb);
	/* Measured after close, when the catalog's WAL is checkpointed: the steady-state size,
	 * comparable with FTS5's checkpointed database file. */
	res.index_bytes = bench_du(dir);
	bench_print(&res);
	for (size_t i = 0; i < nq; i++) {
		free(queries[i].id);
		free(queries[i].text);
	}
	free(queries);
	return 0;
}
