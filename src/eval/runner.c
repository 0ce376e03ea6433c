/*
 * runner.c — cairn_eval_retrieval: load a test collection, index it, run every judged
 * query, score the run with trec_eval's measures.
 *
 * The engine is driven only through include/cairn.h (cairn_kb_open, cairn_kb_add_record,
 * cairn_kb_commit, cairn_search), so the numbers are the ones an application would get.
 * Choices that matter for comparability:
 *  - Title and text go in as one record (Anserini's "flat" BEIR setting); a document with
 *    an empty text (CACM articles with a title only) is indexed with its title as text.
 *  - Each query asks for `depth` hits with snippets off. With whole_documents = 0 a
 *    document may come back as several chunks: the best-ranked chunk stands for it and
 *    later ones are dropped before scoring. The ranking is then put in trec_eval's order
 *    (score, then doc id descending) so the written run file scores identically.
 *  - Latency is the wall time of each cairn_search call on a monotonic clock; p50/p95 use
 *    the nearest-rank definition (the ceil(p·n)-th smallest).
 *  - The temporary knowledge base lives under work_dir when given (and is kept there), or
 *    in a fresh /tmp/cairn-eval-XXXXXX that is removed at the end.
 *  - Every run records where its numbers came from (the result's meta): cairn version, the
 *    dataset files' sizes and CRC32C, the knowledge base's generation and statistics, model
 *    file hashes, the configuration and the seed — so two runs can be told apart later and
 *    a surprising number can be re-run exactly.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eval/eval.h"

cairn_eval_params cairn_eval_default_params(void)
{
	cairn_eval_params p;
	memset(&p, 0, sizeof p);
	p.run_tag = "cairn";
	p.qrels_split = "test";
	p.depth = 1000;
	p.whole_documents = 1;
	p.language = "porter";
	return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		cn_log(CAIRN_LOG_WARN, "eval: could not remove %s: %s", dir, strerror(errno));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double nearest_rank(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	size_t r = (size_t)ceil(p * (double)n);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return sorted[r - 1];
}

static cairn_status write_text(const char *path, const cn_buf *b, cn_err *err)
{
	if (b->failed)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	FILE *f = fopen(path, "wb");
	if (!f)
		return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", path, strerror(errno));
	size_t w = b->len ? fwrite(b->data, 1, b->len, f) : 0;
	int bad = w != b->len;
	bad |= fclose(f) != 0;
	if (bad)
		return cn_err_set(err, CAIRN_EIO, "%s: write failed: %s", path, strerror(errno));
	return CAIRN_OK;
}

/* Indexes every document; returns the seconds spent in add + commit. */
static cairn_status build_kb(cairn_kb *kb, const cn_dataset *ds, const cairn_eval_params *p,
                             double *seconds, cn_err *err)
{
	cairn_ingest_params ip = cairn_ingest_default_params();
	ip.whole_documents = p->whole_documents;
	ip.embed_model = p->embed_model;
	uint64_t t0 = cn_now_ns();
	for (size_t i = 0; i < ds->n_docs; i++) {
		const cn_doc *d = &ds->docs[i];
		cairn_record r;
		memset(&r, 0, sizeof r);
		r.doc_id = d->id;
		r.title = d->title[0] ? d->title : NULL;
		r.text = d->text;
		r.text_len = d->text_len;
		if (d->text_len == 0) {
			if (!d->title[0])
				continue; /* nothing to index */
			r.title = NULL;
			r.text = d->title;
			r.text_len = strlen(d->title);
		}
		cairn_status rc = cairn_kb_add_record(kb, &r, &ip);
		if (rc != CAIRN_OK)
			return cn_err_set(err, rc, "eval: adding document %s: %s", d->id, cairn_kb_errmsg(kb));
		if (p->on_progress && (i + 1) % 1000 == 0) {
			cairn_ingest_progress pr = {(int64_t)i + 1, (int64_t)ds->n_docs, 0, 0, "indexing"};
			if (p->on_progress(&pr, p->user_data))
				return cn_err_set(err, CAIRN_EINTERRUPTED, "eval: stopped while indexing");
		}
	}
	cairn_status rc = cairn_kb_commit(kb);
	if (rc != CAIRN_OK)
		return cn_err_set(err, rc, "eval: commit: %s", cairn_kb_errmsg(kb));
	*seconds = (double)(cn_now_ns() - t0) / 1e9;
	return CAIRN_OK;
}

/* Runs one query: hits → unique documents in trec_eval order, with their latency. */
static cairn_status run_query(cairn_kb *kb, const cn_query *q, const cairn_eval_params *p,
                              cn_run *run, double *ms, cn_err *err)
{
	cairn_search_params sp = cairn_search_default_params();
	sp.k = p->depth;
	sp.snippets = 0;
	sp.ids_only = 1;
	sp.skip_audit = 1; /* a measurement, not someone's question */
	sp.rm3 = p->rm3;
	sp.mode = p->mode;
	sp.rerank_model = p->rerank_model;
	if (!p->whole_documents)
		sp.collapse_documents = 1;
	cairn_results *res = NULL;
	uint64_t t0 = cn_now_ns();
	cairn_status rc = cairn_search(kb, q->text, &sp, &res);
	*ms = (double)(cn_now_ns() - t0) / 1e6;
	if (rc == CAIRN_EEMPTY) /* the query analysed to nothing: it retrieves nothing */
		return CAIRN_OK;
	if (rc != CAIRN_OK)
		return cn_err_set(err, rc, "eval: query %s: %s", q->id, cairn_kb_errmsg(kb));
	size_t n = cairn_results_count(res);
	cn_strmap seen;
	cn_strmap_init(&seen);
	for (size_t i = 0; rc == CAIRN_OK && i < n; i++) {
		const cairn_hit *h = cairn_results_get(res, i);
		if (!h || !h->doc_id)
			continue;
		bool added;
		uint32_t id;
		if (cn_strmap_put(&seen, h->doc_id, strlen(h->doc_id), &id, &added) != CAIRN_OK)
			rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		else if (added)
			rc = cn_run_add(run, q->id, h->doc_id, h->score, err);
	}
	cn_strmap_free(&seen);
	cairn_results_free(res);
	return rc;
}

static void basename_of(const char *dir, char *out, size_t cap)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", dir);
	size_t n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	const char *slash = strrchr(tmp, '/');
	const char *base = slash && slash[1] ? slash + 1 : tmp;
	size_t len = CN_MIN(strlen(base), cap - 1);
	memcpy(out, base, len);
	out[len] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir and of its subdirectories (one level), sorted, fingerprinted. */
static cairn_status dataset_files(cn_buf *b, const char *dir, cn_err *err)
{
	enum { MAXF = 256 };
	char *files[MAXF];
	size_t nf = 0;
	cairn_status rc = CAIRN_OK;
	const char *subs[1 + MAXF];
	size_t ns = 0;
	char *subdirs[MAXF];
	size_t nsd = 0;
	subs[ns++] = "";
	for (size_t si = 0; si < ns && rc == CAIRN_OK; si++) {
		char path[4096];
		snprintf(path, sizeof path, "%s%s%s", dir, subs[si][0] ? "/" : "", subs[si]);
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) && nf < MAXF) {
			if (e->d_name[0] == '.')
				continue;
			char rel[4096], full[8192];
			snprintf(rel, sizeof rel, "%s%s%s", subs[si], subs[si][0] ? "/" : "", e->d_name);
			snprintf(full, sizeof full, "%s/%s", dir, rel);
			struct stat st;
			if (stat(full, &st) != 0)
				continue;
			char *copy = cn_strdup(rel);
			if (!copy) {
				rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
				break;
			}
			if (S_ISREG(st.st_mode))
				files[nf++] = copy;
			else if (S_ISDIR(st.st_mode) && si == 0 && nsd < MAXF)
				subs[ns++] = subdirs[nsd++] = copy;
			else
				cn_free(copy);
		}
		closedir(d);
	}
	qsort(files, nf, sizeof *files, cmp_str);
	cn_buf_putc(b, '[');
	for (size_t i = 0; i < nf && rc == CAIRN_OK; i++) {
		char full[8192];
		snprintf(full, sizeof full, "%s/%s", dir, files[i]);
		if (i)
			cn_buf_putc(b, ',');
		rc = cn_fingerprint_json(b, full, err);
	}
	cn_buf_putc(b, ']');
	for (size_t i = 0; i < nf; i++)
		cn_free(files[i]);
	for (size_t i = 0; i < nsd; i++)
		cn_free(subdirs[i]);
	return rc;
}

static void json_kv_str(cn_buf *b, const char *key, const char *v)
{
	cn_buf_printf(b, ",\"%s\":", key);
	if (v)
		cn_buf_put_json_str(b, v, strlen(v));
	else
		cn_buf_puts(b, "null");
}

static const char *mode_name(cairn_search_mode m)
{
	return m == CAIRN_SEARCH_DENSE ? "dense" : m == CAIRN_SEARCH_HYBRID ? "hybrid" : "bm25";
}

/* The result's provenance (see the file comment). */
static cairn_status build_meta(cn_buf *b, const char *dataset_dir, const cn_dataset *ds, cairn_kb *kb,
                               const cairn_eval_params *p, const char *measures, double build_s, cn_err *err)
{
	time_t t = time(NULL);
	struct tm tm;
	char now[32];
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cn_buf_printf(b, "{\"kind\":\"retrieval\",\"cairn_version\":\"%s\",\"created\":\"%s\",\"dataset\":{\"path\":",
	              cairn_version(), now);
	cn_buf_put_json_str(b, dataset_dir, strlen(dataset_dir));
	json_kv_str(b, "format", ds->format);
	json_kv_str(b, "split", p->qrels_split);
	cn_buf_printf(b, ",\"documents\":%zu,\"queries\":%zu,\"judgments\":%zu,\"files\":", ds->n_docs,
	              ds->n_queries, cn_qrels_judgments(&ds->qrels));
	cairn_status rc = dataset_files(b, dataset_dir, err);
	if (rc != CAIRN_OK)
		return rc;
	cn_buf_puts(b, "},\"kb\":{");
	cn_buf_puts(b, "\"path\":");
	if (p->kb_dir)
		cn_buf_put_json_str(b, p->kb_dir, strlen(p->kb_dir));
	else
		cn_buf_puts(b, "\"(built for this run)\"");
	cairn_kb_stats st;
	const char *embed = p->embed_model;
	if (cairn_kb_stats_get(kb, &st) == CAIRN_OK) {
		cn_buf_printf(b, ",\"generation\":%lld,\"documents\":%lld,\"chunks\":%lld,\"segments\":%lld,"
		                 "\"terms\":%lld,\"vector_chunks\":%lld",
		              (long long)st.generation, (long long)st.documents, (long long)st.chunks,
		              (long long)st.segments, (long long)st.terms, (long long)st.vector_chunks);
		json_kv_str(b, "language", st.language);
		json_kv_str(b, "embed_model", st.embed_model[0] ? st.embed_model : NULL);
		if (!embed && st.embed_model[0] && (p->mode != CAIRN_SEARCH_BM25))
			embed = st.embed_model;
	}
	cn_buf_puts(b, "},\"models\":{");
	const char *names[2] = {"embed", "rerank"}, *paths[2] = {embed, p->rerank_model};
	bool first = true;
	for (int i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		cn_buf_printf(b, "%s\"%s\":", first ? "" : ",", names[i]);
		first = false;
		if ((rc = cn_fingerprint_json(b, paths[i], err)) != CAIRN_OK)
			return rc;
	}
	cn_buf_printf(b, "},\"config\":{\"mode\":\"%s\",\"rm3\":%d,\"depth\":%d,\"whole_documents\":%d",
	              mode_name(p->mode), p->rm3, p->depth, p->whole_documents);
	json_kv_str(b, "language", p->kb_dir ? NULL : p->language);
	json_kv_str(b, "rerank_model", p->rerank_model);
	json_kv_str(b, "measures", measures);
	json_kv_str(b, "run_tag", p->run_tag);
	cn_buf_printf(b, "},\"seed\":%llu,\"index_build_s\":%.3f}", (unsigned long long)p->seed, build_s);
	return CAIRN_OK;
}

static cairn_status eval_retrieval(const char *dataset_dir, const cairn_eval_params *p,
                                   cairn_eval_report *out, cn_err *err)
{
	cn_dataset ds;
	cn_run run;
	cn_buf runtxt, pq;
	cn_dataset_init(&ds);
	cn_run_init(&run);
	cn_buf_init(&runtxt);
	cn_buf_init(&pq);
	cairn_kb *kb = NULL;
	char kbdir[4096] = "";
	bool remove_kb = false;
	double *lat = NULL;
	cairn_eval_result *res = NULL;
	cn_buf meta;
	cn_buf_init(&meta);
	cn_mspec specs[CN_MSPEC_MAX];
	size_t nspec = 0;
	const char *measures = p->measures && *p->measures ? p->measures : CN_MEASURES_DEFAULT;
	cairn_status rc = cn_mspec_parse(measures, specs, CN_MSPEC_MAX, &nspec, err);
	if (rc != CAIRN_OK)
		goto done;
	if (!(res = cn_evres_new(specs, nspec, err))) {
		rc = err->code;
		goto done;
	}
	rc = cn_dataset_load(&ds, dataset_dir, p->qrels_split, err);
	if (rc != CAIRN_OK)
		goto done;
	basename_of(dataset_dir, out->dataset, sizeof out->dataset);
	snprintf(out->format, sizeof out->format, "%s", ds.format);
	out->documents = (int64_t)ds.n_docs;

	/* Open or build the knowledge base. */
	char ebuf[CN_ERRMSG_MAX];
	cairn_kb_params kp = cairn_kb_default_params();
	if (p->kb_dir) {
		kp.create = 0;
		kp.read_only = 1;
		rc = cairn_kb_open(p->kb_dir, &kp, &kb, ebuf, sizeof ebuf);
		if (rc != CAIRN_OK) {
			cn_err_set(err, rc, "%s", ebuf);
			goto done;
		}
	} else {
		if (p->work_dir) {
			if ((rc = cn_mkdir_p(p->work_dir, err)) != CAIRN_OK)
				goto done;
			snprintf(kbdir, sizeof kbdir, "%s/cairn-eval-XXXXXX", p->work_dir);
		} else {
			snprintf(kbdir, sizeof kbdir, "/tmp/cairn-eval-XXXXXX");
		}
		if (!mkdtemp(kbdir)) {
			rc = cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", kbdir, strerror(errno));
			kbdir[0] = '\0';
			goto done;
		}
		remove_kb = p->work_dir == NULL;
		kp.create = 1;
		if (p->language)
			kp.language = p->language;
		rc = cairn_kb_open(kbdir, &kp, &kb, ebuf, sizeof ebuf);
		if (rc != CAIRN_OK) {
			cn_err_set(err, rc, "%s", ebuf);
			goto done;
		}
		if ((rc = build_kb(kb, &ds, p, &out->index_build_s, err)) != CAIRN_OK)
			goto done;
	}

	/* Run every judged query, in query-file order. */
	lat = cn_malloc((ds.n_queries ? ds.n_queries : 1) * sizeof *lat);
	if (!lat) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		goto done;
	}
	cn_eval_summary sum;
	cn_eval_summary_init(&sum);
	size_t nl = 0;
	size_t n_judged = 0;
	for (size_t i = 0; i < ds.n_queries; i++) {
		const cn_qrels_query *qq = cn_qrels_find(&ds.qrels, ds.queries[i].id);
		n_judged += qq && qq->num_rel > 0;
	}
	int c10 = cn_eval_cut_index(10), c100 = cn_eval_cut_index(100), c1000 = cn_eval_cut_index(1000);
	for (size_t i = 0; i < ds.n_queries; i++) {
		const cn_query *q = &ds.queries[i];
		const cn_qrels_query *qq = cn_qrels_find(&ds.qrels, q->id);
		if (!qq || qq->num_rel == 0)
			continue;
		double ms = 0;
		if ((rc = run_query(kb, q, p, &run, &ms, err)) != CAIRN_OK)
			goto done;
		lat[nl++] = ms;
		uint32_t ri = cn_strmap_get(&run.qids, q->id, strlen(q->id));
		cn_run_query *rq = ri == UINT32_MAX ? NULL : &run.queries[ri];
		cn_measures m;
		if ((rc = cn_eval_query(qq, rq ? rq->docs : NULL, rq ? rq->n : 0, 0, &m, err)) != CAIRN_OK)
			goto done;
		cn_eval_summary_add(&sum, &m);
		if (p->run_path && rq)
			cn_run_format_query(&runtxt, q->id, rq->docs, rq->n, p->run_tag);
		/* cn_eval_query sorted the ranking already; the result keeps its own copy of ids. */
		if ((rc = cn_evres_add(res, q->id, qq, rq ? rq->docs : NULL, rq ? rq->n : 0, ms, err)) != CAIRN_OK)
			goto done;
		if (p->on_progress && (nl % 10 == 0 || nl == n_judged)) {
			cairn_ingest_progress pr = {(int64_t)nl, (int64_t)n_judged, 0, 0, "searching"};
			if (p->on_progress(&pr, p->user_data)) {
				rc = cn_err_set(err, CAIRN_EINTERRUPTED, "eval: stopped while searching");
				goto done;
			}
		}
	}
	cn_measures mean;
	cn_eval_summary_mean(&sum, &mean);
	out->queries = sum.queries;
	out->ndcg_10 = mean.ndcg[c10];
	out->mrr_10 = mean.mrr[c10];
	out->recall_100 = mean.recall[c100];
	out->recall_1000 = mean.recall[c1000];
	out->map = mean.map;
	out->p_10 = mean.p[c10];
	qsort(lat, nl, sizeof *lat, cmp_double);
	double tot = 0;
	for (size_t i = 0; i < nl; i++)
		tot += lat[i];
	out->latency_p50_ms = nearest_rank(lat, nl, 0.50);
	out->latency_p95_ms = nearest_rank(lat, nl, 0.95);
	out->latency_mean_ms = nl ? tot / (double)nl : 0.0;
	if (p->run_path && (rc = write_text(p->run_path, &runtxt, err)) != CAIRN_OK)
		goto done;
	cn_evres_finish(res);
	res->has_report = true;
	res->report = *out;
	if ((rc = build_meta(&meta, dataset_dir, &ds, kb, p, measures, out->index_build_s, err)) != CAIRN_OK)
		goto done;
	if (meta.failed || !(res->meta = cn_buf_take(&meta))) {
		rc = cn_err_set(err, CAIRN_ENOMEM, "eval: out of memory");
		goto done;
	}
	if (p->qrels_out_path) {
		cn_buf qb;
		cn_buf_init(&qb);
		cn_qrels_write(&qb, &ds.qrels);
		rc = write_text(p->qrels_out_path, &qb, err);
		cn_buf_free(&qb);
		if (rc != CAIRN_OK)
			goto done;
	}
	if (p->per_query_path) {
		/* TSV, or the whole result as JSON when the name ends in .json. */
		size_t n = strlen(p->per_query_path);
		bool json = n >= 5 && !strcmp(p->per_query_path + n - 5, ".json");
		char ebuf2[CN_ERRMSG_MAX], *txt = NULL;
		size_t tl = 0;
		if ((rc = cairn_eval_result_render(res, json ? CAIRN_REPORT_JSON : CAIRN_REPORT_TSV,
		                                   CAIRN_REPORT_PER_QUERY, &txt, &tl, ebuf2, sizeof ebuf2)) != CAIRN_OK) {
			cn_err_set(err, rc, "%s", ebuf2);
			goto done;
		}
		cn_buf_append(&pq, txt, tl);
		cairn_free(txt);
		if ((rc = write_text(p->per_query_path, &pq, err)) != CAIRN_OK)
			goto done;
	}
	if (p->result) {
		*p->result = res;
		res = NULL;
	}
done:
	cairn_eval_result_free(res);
	cn_buf_free(&meta);
	if (kb)
		cairn_kb_close(kb);
	if (remove_kb && kbdir[0])
		remove_tree(kbdir);
	cn_free(lat);
	cn_buf_free(&runtxt);
	cn_buf_free(&pq);
	cn_run_free(&run);
	cn_dataset_free(&ds);
	return rc;
}

cairn_status cairn_eval_retrieval(const char *dataset_dir, const cairn_eval_params *params,
                                  cairn_eval_report *out, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	cairn_eval_params defaults = cairn_eval_default_params();
	const cairn_eval_params *p = params ? params : &defaults;
	cairn_status rc;
	if (!dataset_dir || !out)
		rc = cn_err_set(&err, CAIRN_EINVAL, "eval: dataset directory and report are required");
	else if (p->depth < 1 || p->depth > 100000)
		rc = cn_err_set(&err, CAIRN_EINVAL, "eval: depth %d is out of range (1..100000)", p->depth);
	else if (p->qrels_split && strchr(p->qrels_split, '/'))
		rc = cn_err_set(&err, CAIRN_EINVAL, "eval: qrels split \"%s\" must be a plain name",
		                p->qrels_split);
	else {
		memset(out, 0, sizeof *out);
		if (p->result)
			*p->result = NULL;
		/* Fill in unset strings from the defaults so callers may zero-initialise. */
		cairn_eval_params q = *p;
		if (!q.run_tag)
			q.run_tag = defaults.run_tag;
		if (!q.qrels_split)
			q.qrels_split = defaults.qrels_split;
		rc = eval_retrieval(dataset_dir, &q, out, &err);
	}
	if (rc != CAIRN_OK)
		cn_eval_errbuf(errbuf, errbuf_size, &err);
	return rc;
}
