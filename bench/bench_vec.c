/*
 * bench_vec.c — the C driver of bench/vec.sh: cairn's vector index (src/vec) on the files of
 * bench/gen_vectors.py. Two subcommands, run as separate processes so the search RSS is
 * that of an opened segment alone:
 *
 *   bench_vec build DATA SEG [--storage f32|int8] [--metric cosine|dot|l2] [--M 16] [--efc 200]
 *                   [--threads 1]
 *       adds base.f32 (with labels tag:p50=yes … from labels.u8), builds, writes SEG; prints one
 *       JSON line {build_s, write_s, bytes, search_bytes}.
 *   bench_vec search DATA SEG [--efs 10,16,…] [--k 10] [--reps 1] [--filters] [--mode auto|graph|exact]
 *       opens SEG, runs every query single-threaded for each efSearch (best of --reps passes),
 *       prints one JSON line per efSearch {ef, recall10, qps}; with --filters, for each of the
 *       four filters and each efSearch, AUTO, GRAPH and EXACT modes {filter, mode, recall10,
 *       qps, outside} against gt_fB.i32 (outside counts results the filter rejects: must be 0).
 *       Last line: {rss_mb, search_bytes}.
 *
 * Build with -Isrc against build/libcairn.a (bench/vec.sh does).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vec/vec.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *a, const char *b)
{
	fprintf(stderr, "bench_vec: %s%s%s\n", a, b ? ": " : "", b ? b : "");
	exit(1);
}

static void *read_all(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *p = malloc(n ? (size_t)n : 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		die("cannot read", path);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double v = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atof(line + 6) / 1024.0;
	if (f)
		fclose(f);
	return v;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}
static int flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static const char *const FILTERS[4] = {"p50=yes", "p10=yes", "p1=yes", "p01=yes"};
static const char *const LABELS[4] = {"tag:p50=yes", "tag:p10=yes", "tag:p1=yes", "tag:p01=yes"};

static int do_build(int argc, char **argv)
{
	const char *data = argv[2], *seg = argv[3];
	uint32_t dim = (uint32_t)atoi(opt(argc, argv, "--dim", "384"));
	size_t blen, llen;
	float *base = read_all(data, "base.f32", &blen);
	uint8_t *lab = read_all(data, "labels.u8", &llen);
	size_t n = blen / 4 / dim;
	if (llen != n)
		die("labels.u8 does not match base.f32", NULL);
	cn_vec_params p = cn_vec_default_params(dim);
	const char *st = opt(argc, argv, "--storage", "f32"), *me = opt(argc, argv, "--metric", "cosine");
	p.storage = !strcmp(st, "int8") ? CN_VEC_INT8 : CN_VEC_F32;
	p.metric = !strcmp(me, "dot") ? CN_VEC_DOT : !strcmp(me, "l2") ? CN_VEC_L2 : CN_VEC_COSINE;
	p.M = (uint32_t)atoi(opt(argc, argv, "--M", "16"));
	p.ef_construction = (uint32_t)atoi(opt(argc, argv, "--efc", "200"));
	p.threads = (uint32_t)atoi(opt(argc, argv, "--threads", "1"));
	cn_err err;
	cn_err_clear(&err);
	cn_vec_builder *b;
	if (cn_vec_builder_new(&p, &b, &err))
		die("builder", err.msg);
	double t0 = now();
	for (size_t i = 0; i < n; i++) {
		const char *ls[4];
		size_t nl = 0;
		for (int bit = 0; bit < 4; bit++)
			if (lab[i] >> bit & 1)
				ls[nl++] = LABELS[bit];
		cn_vec_item it = {.chunk_id = i, .vec = base + i * dim, .mtime = 0, .labels = ls, .n_labels = nl};
		if (cn_vec_builder_add(b, &it, &err))
			die("add", err.msg);
	}
	const cn_vec_seg *s;
	double t1 = now();
	if (cn_vec_builder_index(b, &s, &err))
		die("build", err.msg);
	double t2 = now();
	uint64_t bytes;
	if (cn_vec_builder_write(b, seg, &bytes, &err))
		die("write", err.msg);
	double t3 = now();
	printf("{\"engine\": \"cairn\", \"phase\": \"build\", \"storage\": \"%s\", \"threads\": %u, \"n\": %zu, "
	       "\"add_s\": %.3f, \"build_s\": %.3f, \"write_s\": %.3f, \"bytes\": %llu, \"search_bytes\": %llu, "
	       "\"rss_mb\": %.1f, \"kernels\": \"%s\"}\n",
	       st, p.threads, n, t1 - t0, t2 - t1, t3 - t2, (unsigned long long)bytes,
	       (unsigned long long)cn_vec_seg_search_bytes(s), rss_mb(), cn_vec_kernels_best()->name);
	cn_vec_builder_free(b);
	free(base);
	free(lab);
	return 0;
}

static double recall10(const cn_vec_hit *h, size_t nh, const int32_t *gt)
{
	int found = 0, want = 0;
	for (int j = 0; j < 10; j++) {
		if (gt[j] < 0)
			continue;
		want++;
		for (size_t i = 0; i < nh; i++)
			if (h[i].idx == (uint32_t)gt[j]) {
				found++;
				break;
			}
	}
	return want ? (double)found / want : 1.0;
}

/* Runs all queries; returns mean recall@10, fills qps (best of reps) and outside count. */
static double run(const cn_vec_view *v, const float *qs, size_t nq, uint32_t dim, const cn_vec_query *qp,
                  const int32_t *gt, int reps, double *qps, long *outside, int bit, const uint8_t *lab)
{
	cn_vec_hit hits[100];
	double rec = 0, best = 1e30;
	*outside = 0;
	cn_err err;
	for (int r = 0; r < reps; r++) {
		rec = 0;
		double t0 = now();
		for (size_t i = 0; i < nq; i++) {
			size_t nh;
			cn_err_clear(&err);
			if (cn_vec_search(v, 1, qs + i * dim, qp, hits, &nh, &err))
				die("search", err.msg);
			rec += recall10(hits, nh, gt + i * 100);
			if (bit >= 0)
				for (size_t j = 0; j < nh; j++)
					*outside += !(lab[hits[j].idx] >> bit & 1);
		}
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	*qps = nq / best;
	return rec / nq;
}

static int do_search(int argc, char **argv)
{
	const char *data = argv[2], *seg = argv[3];
	cn_err err;
	cn_err_clear(&err);
	cn_vec_seg *s;
	if (cn_vec_seg_open(seg, &s, &err))
		die("open", err.msg);
	uint32_t dim = cn_vec_seg_dim(s);
	size_t qlen, glen, llen;
	float *qs = read_all(data, "query.f32", &qlen);
	int32_t *gt = read_all(data, "gt.i32", &glen);
	uint8_t *lab = read_all(data, "labels.u8", &llen);
	size_t nq = qlen / 4 / dim;
	if (glen != nq * 100 * 4)
		die("gt.i32 does not match query.f32", NULL);
	int reps = atoi(opt(argc, argv, "--reps", "1"));
	char efs[256];
	snprintf(efs, sizeof efs, "%s", opt(argc, argv, "--efs", "10,16,24,32,48,64,96,128,192,256"));
	const char *mo = opt(argc, argv, "--mode", "graph");
	cn_vec_mode mode = !strcmp(mo, "auto") ? CN_VEC_AUTO : !strcmp(mo, "exact") ? CN_VEC_EXACT : CN_VEC_GRAPH;
	uint32_t rescore = (uint32_t)atoi(opt(argc, argv, "--rescore", "0"));
	cn_vec_view v = {.seg = s};
	const char *storage = cn_vec_seg_storage(s) == CN_VEC_INT8 ? "int8" : "f32";
	for (char *tok = strtok(efs, ","); tok; tok = strtok(NULL, ",")) {
		cn_vec_query qp = {.k = 10, .ef_search = (uint32_t)atoi(tok), .mode = mode, .rescore = rescore};
		double qps;
		long outside;
		double rec = run(&v, qs, nq, dim, &qp, gt, reps, &qps, &outside, -1, lab);
		cn_vec_search_stats stt;
		cn_vec_last_stats(&stt);
		printf("{\"engine\": \"cairn\", \"phase\": \"search\", \"storage\": \"%s\", \"ef\": %s, \"recall10\": %.4f, "
		       "\"qps\": %.1f}\n",
		       storage, tok, rec, qps);
		fflush(stdout);
	}
	if (flag(argc, argv, "--filters")) {
		char fefs[256];
		snprintf(fefs, sizeof fefs, "%s", opt(argc, argv, "--filter-efs", "64"));
		for (int bit = 0; bit < 4; bit++) {
			char name[32];
			snprintf(name, sizeof name, "gt_f%d.i32", bit);
			size_t fl;
			int32_t *fgt = read_all(data, name, &fl);
			cn_filter *f;
			if (cn_filter_compile(FILTERS[bit], NULL, 0, &f, &err))
				die("filter", err.msg);
			static const cn_vec_mode modes[3] = {CN_VEC_AUTO, CN_VEC_GRAPH, CN_VEC_EXACT};
			static const char *const mnames[3] = {"auto", "graph", "exact"};
			char buf[256];
			snprintf(buf, sizeof buf, "%s", fefs);
			for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
				for (int m = 0; m < 3; m++) {
					if (m == 2 && tok != buf)
						continue; /* exact does not depend on ef */
					cn_vec_query qp = {.k = 10, .ef_search = (uint32_t)atoi(tok), .filter = f, .mode = modes[m]};
					double qps;
					long outside;
					double rec = run(&v, qs, nq, dim, &qp, fgt, reps, &qps, &outside, bit, lab);
					printf("{\"engine\": \"cairn\", \"phase\": \"filter\", \"storage\": \"%s\", \"filter\": \"%s\", "
					       "\"mode\": \"%s\", \"ef\": %s, \"recall10\": %.4f, \"qps\": %.1f, \"outside\": %ld}\n",
					       storage, FILTERS[bit], mnames[m], tok, rec, qps, outside);
					fflush(stdout);
				}
			cn_filter_free(f);
			free(fgt);
		}
	}
	printf("{\"engine\": \"cairn\", \"phase\": \"memory\", \"storage\": \"%s\", \"rss_mb\": %.1f, \"search_bytes\": %llu, "
	       "\"file_bytes\": %llu}\n",
	       storage, rss_mb(), (unsigned long long)cn_vec_seg_search_bytes(s), (unsigned long long)cn_vec_seg_bytes(s));
	cn_vec_seg_close(s);
	free(qs);
	free(gt);
	free(lab);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		die("usage: bench_vec build|search DATA SEG [options]", NULL);
	if (!strcmp(argv[1], "build"))
		return do_build(argc, argv);
	if (!strcmp(argv[1], "search"))
		return do_search(argc, argv);
	die("unknown subcommand", argv[1]);
	return 1;
}
