/*
 * bench_common.h — shared harness of the C benchmark drivers (bench_cairn.c, bench_fts5.c).
 *
 * Why a header of static functions: the two drivers are single-file programs compiled by
 * bench/run.sh, and they must measure exactly the same way (same JSON reader, same clock,
 * same percentile rule, same output line) as bench_xapian.py, so the harness is written
 * once. The corpus is streamed line by line: the time spent reading and parsing JSON is
 * accumulated separately ("load_s") so build_s is the engine's own work, and the corpus
 * never sits in memory, so the peak RSS is the engine's.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_die(const char *what, const char *detail)
{
	fprintf(stderr, "bench: %s: %s\n", what, detail ? detail : "");
	exit(1);
}

/* One corpus record. Strings are owned by the reader and live until the next call. */
typedef struct bench_doc {
	const char *id;
	const char *title; /* "" when absent */
	const char *text;
	size_t text_len;
} bench_doc;

typedef struct bench_reader {
	FILE *f;
	char *line;
	size_t cap;
	json_t *cur;
	long lineno;
	double load_s; /* seconds spent in getline + JSON parsing */
} bench_reader;

static void bench_reader_open(bench_reader *r, const char *path)
{
	memset(r, 0, sizeof *r);
	r->f = fopen(path, "rb");
	if (!r->f)
		bench_die(path, strerror(errno));
}

/* Next record with a non-empty text or title; 0 at the end. */
static int bench_reader_next(bench_reader *r, bench_doc *d)
{
	double t0 = bench_now();
	for (;;) {
		if (r->cur) {
			json_decref(r->cur);
			r->cur = NULL;
		}
		ssize_t n = getline(&r->line, &r->cap, r->f);
		if (n < 0) {
			r->load_s += bench_now() - t0;
			return 0;
		}
		r->lineno++;
		if (n <= 1)
			continue;
		json_error_t je;
		r->cur = json_loadb(r->line, (size_t)n, 0, &je);
		if (!r->cur || !json_is_object(r->cur)) {
			fprintf(stderr, "bench: line %ld: %s\n", r->lineno, r->cur ? "not an object" : je.text);
			exit(1);
		}
		json_t *id = json_object_get(r->cur, "_id");
		json_t *ti = json_object_get(r->cur, "title");
		json_t *tx = json_object_get(r->cur, "text");
		d->id = json_is_string(id) ? json_string_value(id) : "";
		d->title = json_is_string(ti) ? json_string_value(ti) : "";
		d->text = json_is_string(tx) ? json_string_value(tx) : "";
		d->text_len = json_is_string(tx) ? json_string_length(tx) : 0;
		if (!d->id[0] || (!d->text_len && !d->title[0]))
			continue;
		r->load_s += bench_now() - t0;
		return 1;
	}
}

static void bench_reader_close(bench_reader *r)
{
	if (r->cur)
		json_decref(r->cur);
	free(r->line);
	fclose(r->f);
}

typedef struct bench_query {
	char *id;
	char *text;
} bench_query;

static bench_query *bench_load_queries(const char *path, size_t *n_out)
{
	bench_reader r;
	bench_reader_open(&r, path);
	size_t n = 0, cap = 0;
	bench_query *q = NULL;
	bench_doc d;
	while (bench_reader_next(&r, &d)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			q = realloc(q, cap * sizeof *q);
			if (!q)
				bench_die("queries", "out of memory");
		}
		q[n].id = strdup(d.id);
		q[n].text = strdup(d.text);
		n++;
	}
	bench_reader_close(&r);
	*n_out = n;
	return q;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of n values (sorts them). */
static double bench_pct(double *v, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof *v, bench_cmp_double);
	size_t r = (size_t)ceil(p * (double)n);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return v[r - 1];
}

static double bench_mean(const double *v, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return n ? s / (double)n : 0.0;
}

static double bench_peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

/* Bytes of regular files under path (a file or a directory tree). */
static int64_t bench_du(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
	int64_t total = 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		total += bench_du(sub);
	}
	closedir(d);
	return total;
}

/* The fields every driver prints, in the JSON line run.sh reads. */
typedef struct bench_result {
	const char *engine;
	const char *corpus;
	long docs;
	size_t queries;
	double build_s; /* engine time: total build wall-clock minus load_s */
	double load_s;
	double p50_10, p95_10, mean_10;
	double p50_1000, p95_1000, mean_1000;
	double mean_hits_10;
	double peak_rss_mb;
	double rss_after_build_mb;
	int64_t index_bytes;
} bench_result;

static void bench_print(const bench_result *r)
{
	printf("{\"engine\": \"%s\", \"corpus\": \"%s\", \"docs\": %ld, \"queries\": %zu, "
	       "\"build_s\": %.4f, \"load_s\": %.4f, \"docs_per_s\": %.1f, "
	       "\"p50_us_k10\": %.1f, \"p95_us_k10\": %.1f, \"mean_us_k10\": %.1f, "
	       "\"p50_us_k1000\": %.1f, \"p95_us_k1000\": %.1f, \"mean_us_k1000\": %.1f, "
	       "\"mean_hits_k10\": %.2f, \"peak_rss_mb\": %.1f, \"rss_after_build_mb\": %.1f, "
	       "\"index_mb\": %.2f}\n",
	       r->engine, r->corpus, r->docs, r->queries, r->build_s, r->load_s,
	       r->build_s > 0 ? (double)r->docs / r->build_s : 0.0, r->p50_10, r->p95_10, r->mean_10,
	       r->p50_1000, r->p95_1000, r->mean_1000, r->mean_hits_10, r->peak_rss_mb,
	       r->rss_after_build_mb, (double)r->index_bytes / (1024.0 * 1024.0));
	fflush(stdout);
}

/* Runs one query; with rec != NULL (an untimed pass) also writes "qid\trank\tdoc_id" lines.
 * Returns the number of hits, or -1 on error (after printing why). */
typedef long (*bench_search_fn)(void *ctx, const char *query, int k, FILE *rec, const char *qid);

#define BENCH_ROUNDS 3 /* timed passes over the query set; every query is timed each pass */
#define BENCH_SLOW_S 10.0 /* a warm-up pass slower than this: one timed pass only */

/* Warm-up pass, then BENCH_ROUNDS timed passes at k (one when the warm-up pass took over
 * BENCH_SLOW_S, so the slowest engine on 1M documents finishes); fills p50/p95/mean in µs. */
static void bench_time_queries(bench_search_fn fn, void *ctx, const bench_query *q, size_t nq, int k,
                               double *p50, double *p95, double *mean, double *mean_hits)
{
	size_t n = nq * BENCH_ROUNDS;
	double *lat = malloc((n ? n : 1) * sizeof *lat);
	if (!lat)
		bench_die("latency", "out of memory");
	double w0 = bench_now();
	for (size_t i = 0; i < nq; i++)
		if (fn(ctx, q[i].text, k, NULL, q[i].id) < 0)
			exit(1);
	int rounds = bench_now() - w0 > BENCH_SLOW_S ? 1 : BENCH_ROUNDS;
	n = nq * (size_t)rounds;
	double hits = 0;
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < nq; i++) {
			double t0 = bench_now();
			long h = fn(ctx, q[i].text, k, NULL, q[i].id);
			lat[(size_t)r * nq + i] = (bench_now() - t0) * 1e6;
			if (h < 0)
				exit(1);
			hits += (double)h;
		}
	}
	*mean = bench_mean(lat, n);
	*p50 = bench_pct(lat, n, 0.50);
	*p95 = bench_pct(lat, n, 0.95);
	if (mean_hits)
		*mean_hits = n ? hits / (double)n : 0.0;
	free(lat);
}

/* The untimed pass that records the top-k of every query for the cross-engine check. */
static void bench_record(bench_search_fn fn, void *ctx, const bench_query *q, size_t nq, int k,
                         const char *path)
{
	if (!path || !path[0])
		return;
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die(path, strerror(errno));
	for (size_t i = 0; i < nq; i++)
		if (fn(ctx, q[i].text, k, f, q[i].id) < 0)
			exit(1);
	fclose(f);
}

#endif
