/* eval: trec_eval measures (hand-computed and against tests/reference/trec_metrics.py),
 * qrels/run files, and the dataset adapters on the shared collections and on bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval.h"
#include "testutil.h"

#define EPS 1e-12


static int cut(int k)
{
	int i = cn_eval_cut_index(k);
	assert_true(i >= 0);
	return i;
}

static cn_qrels_query judged_of(cn_judgment *j, size_t n)
{
	cn_qrels_query q = {"q", j, n, n, 0};
	for (size_t i = 0; i < n; i++)
		q.num_rel += j[i].rel >= 1;
	return q;
}

/* ---- measures by hand ------------------------------------------------------------------- */

static void test_graded_example(void **state)
{
	(void)state;
	/* Judged: d1=3, d2=2, d3=0, d4=1, d5=2 (d5 never retrieved) → 4 relevant.
	 * Run by score: dA (unjudged), d2, d3, d1, d4 → grades 0, 2, 0, 3, 1.
	 *   DCG@5  = 2/log2(3) + 3/log2(5) + 1/log2(6)         = 1.26186 + 1.29203 + 0.38685 = 2.94074
	 *   IDCG@5 = 3/log2(2) + 2/log2(3) + 2/log2(4) + 1/log2(5) = 3 + 1.26186 + 1 + 0.43068 = 5.69254
	 *   nDCG@5 = 2.94074 / 5.69254 = 0.516596…; nDCG@3 = 1.26186 / (3 + 1.26186 + 1) = 0.239812…;
	 *   nDCG@1 = 0.
	 *   AP = (1/2 + 2/4 + 3/5) / 4 = 0.4; R-prec = 2/4 (d2, d1 in the top 4)
	 *   P@5 = 3/5, P@3 = 1/3, P@10 = 3/10; recall@3 = 1/4, recall@5 = 3/4
	 *   RR = 1/2; MRR@1 = 0; success@1 = 0, success@3 = 1. */
	cn_judgment j[] = {{"d1", 3}, {"d2", 2}, {"d3", 0}, {"d4", 1}, {"d5", 2}};
	cn_qrels_query q = judged_of(j, 5);
	cn_ranked run[] = {{"d4", 5}, {"d1", 6}, {"dA", 9}, {"d3", 7}, {"d2", 8}};
	cn_measures m;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_eval_query(&q, run, 5, 0, &m, &err), CAIRN_OK);
	double dcg5 = 2 / log2(3) + 3 / log2(5) + 1 / log2(6);
	double idcg5 = 3 + 2 / log2(3) + 2 / log2(4) + 1 / log2(5);
	assert_double_equal(m.ndcg[cut(5)], dcg5 / idcg5, EPS);
	assert_double_equal(m.ndcg[cut(5)], 0.5165961, 1e-6);
	assert_double_equal(m.ndcg[cut(3)], 0.2398125, 1e-6);
	assert_double_equal(m.ndcg[cut(1)], 0.0, EPS);
	/* beyond the ranking DCG stays, IDCG is over all 4 relevant */
	assert_double_equal(m.ndcg[cut(10)], dcg5 / idcg5, EPS);
	assert_double_equal(m.map, 0.4, EPS);
	assert_double_equal(m.rprec, 0.5, EPS);
	assert_double_equal(m.p[cut(5)], 0.6, EPS);
	assert_double_equal(m.p[cut(3)], 1.0 / 3, EPS);
	assert_double_equal(m.p[cut(10)], 0.3, EPS);
	assert_double_equal(m.recall[cut(3)], 0.25, EPS);
	assert_double_equal(m.recall[cut(5)], 0.75, EPS);
	assert_double_equal(m.recip_rank, 0.5, EPS);
	assert_double_equal(m.mrr[cut(1)], 0.0, EPS);
	assert_double_equal(m.mrr[cut(10)], 0.5, EPS);
	assert_double_equal(m.success[cut(1)], 0.0, EPS);
	assert_double_equal(m.success[cut(3)], 1.0, EPS);
	assert_double_equal(m.num_rel, 4, EPS);
	assert_double_equal(m.num_ret, 5, EPS);
	assert_double_equal(m.num_rel_ret, 3, EPS);
	/* the run was sorted in place into trec_eval's order */
	assert_string_equal(run[0].doc_id, "dA");
	assert_string_equal(run[4].doc_id, "d4");
}

static void test_ties_break_by_docid_descending(void **state)
{
	(void)state;
	cn_judgment j[] = {{"a", 1}};
	cn_qrels_query q = judged_of(j, 1);
	cn_measures m;
	cn_err err;
	cn_err_clear(&err);
	/* Equal scores: trec_eval orders z (higher score), then c, b, a. */
	cn_ranked run[] = {{"a", 1}, {"b", 1}, {"c", 1}, {"z", 2}};
	assert_int_equal(cn_eval_query(&q, run, 4, 0, &m, &err), CAIRN_OK);
	assert_double_equal(m.recip_rank, 0.25, EPS);
	assert_double_equal(m.map, 0.25, EPS);
	assert_string_equal(run[1].doc_id, "c");
	/* Keeping the caller's order puts a first. */
	cn_ranked run2[] = {{"a", 1}, {"b", 1}, {"c", 1}, {"z", 2}};
	assert_int_equal(cn_eval_query(&q, run2, 4, CN_EVAL_KEEP_ORDER, &m, &err), CAIRN_OK);
	assert_double_equal(m.recip_rank, 1.0, EPS);
	/* strcmp, not numeric: "9" > "10", so among ties 9 ranks above 10. */
	cn_judgment j2[] = {{"10", 1}};
	cn_qrels_query q2 = judged_of(j2, 1);
	cn_ranked run3[] = {{"10", 0.5}, {"9", 0.5}};
	assert_int_equal(cn_eval_query(&q2, run3, 2, 0, &m, &err), CAIRN_OK);
	assert_double_equal(m.recip_rank, 0.5, EPS);
	/* A repeated document counts once, at its best rank. */
	cn_judgment j3[] = {{"b", 1}};
	cn_qrels_query q3 = judged_of(j3, 1);
	cn_ranked run4[] = {{"a", 3}, {"a", 2}, {"b", 1}};
	assert_int_equal(cn_eval_query(&q3, run4, 3, 0, &m, &err), CAIRN_OK);
	assert_double_equal(m.recip_rank, 0.5, EPS);
	assert_double_equal(m.num_ret, 2, EPS);
}

static void test_empty_run_and_no_relevant(void **state)
{
	(void)state;
	cn_judgment j[] = {{"a", 2}, {"b", 1}};
	cn_qrels_query q = judged_of(j, 2);
	cn_measures m;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_eval_query(&q, NULL, 0, 0, &m, &err), CAIRN_OK);
	assert_double_equal(m.num_rel, 2, EPS);
	assert_double_equal(m.map + m.rprec + m.recip_rank + m.ndcg[cut(10)] + m.recall[cut(1000)] +
	                        m.p[cut(1)] + m.success[cut(1000)],
	                    0.0, EPS);
	/* Only non-relevant judgements: every measure 0, no division by zero. */
	cn_judgment jn[] = {{"a", 0}, {"b", -1}};
	cn_qrels_query qn = judged_of(jn, 2);
	cn_ranked run[] = {{"a", 1}, {"b", 0.5}};
	assert_int_equal(cn_eval_query(&qn, run, 2, 0, &m, &err), CAIRN_OK);
	assert_double_equal(m.map + m.ndcg[cut(10)] + m.recall[cut(10)] + m.p[cut(1)], 0.0, EPS);

	/* Aggregation: q1 evaluated, q2 (nothing relevant) skipped, q3 (judged, not run) = 0,
	 * q4 (run, not judged) ignored. */
	cn_qrels qr;
	cn_run r;
	cn_qrels_init(&qr);
	cn_run_init(&r);
	assert_int_equal(cn_qrels_add(&qr, "q1", 2, "x", 1, 1, &err), CAIRN_OK);
	assert_int_equal(cn_qrels_add(&qr, "q2", 2, "x", 1, 0, &err), CAIRN_OK);
	assert_int_equal(cn_qrels_add(&qr, "q3", 2, "y", 1, 2, &err), CAIRN_OK);
	assert_int_equal(cn_run_add(&r, "q1", "w", 2.0, &err), CAIRN_OK);
	assert_int_equal(cn_run_add(&r, "q1", "x", 1.0, &err), CAIRN_OK); /* rank 2: AP 0.5 */
	assert_int_equal(cn_run_add(&r, "q2", "x", 1.0, &err), CAIRN_OK);
	assert_int_equal(cn_run_add(&r, "q4", "x", 1.0, &err), CAIRN_OK);
	int64_t nq = 0;
	cn_measures mean;
	assert_int_equal(cn_eval_run(&qr, &r, 0, &mean, &nq, &err), CAIRN_OK);
	assert_int_equal(nq, 2);
	assert_double_equal(mean.map, (0.5 + 0.0) / 2, EPS);
	assert_double_equal(mean.ndcg[cut(10)], (1 / log2(3)) / 2, EPS);
	assert_double_equal(mean.num_rel, 2, EPS); /* a total, like trec_eval */
	assert_int_equal(cn_qrels_judged_queries(&qr), 2);
	cn_qrels_free(&qr);
	cn_run_free(&r);
}

/* ---- against the Python reference ------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static void write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_random_runs_match_python_reference(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("skipping: /usr/bin/python3 is not installed\n");
		skip();
	}
	char dir[] = "/tmp/cairn-test-eval-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char qpath[256], rpath[256];
	snprintf(qpath, sizeof qpath, "%s/qrels.txt", dir);
	snprintf(rpath, sizeof rpath, "%s/run.txt", dir);

	rng_state = 0x9E3779B97F4A7C15ull;
	cn_buf qb, rb;
	cn_buf_init(&qb);
	cn_buf_init(&rb);
	cn_run mem;
	cn_run_init(&mem);
	cn_err err;
	cn_err_clear(&err);
	enum { NQ = 400, POOL = 1500 };
	static cn_ranked docs[POOL];
	static char names[POOL][16];
	for (int i = 0; i < POOL; i++)
		snprintf(names[i], sizeof names[i], "d%d", i);
	for (int qi = 0; qi < NQ; qi++) {
		char qid[16];
		snprintf(qid, sizeof qid, "q%d", qi);
		/* judgements: 0..24 docs from the first 300, grades 0..3; ~10% all non-relevant */
		int nj = (int)rnd(25), allzero = rnd(10) == 0;
		for (int k = 0; k < nj; k++) {
			int g = allzero ? 0 : (int)rnd(4);
			cn_buf_printf(&qb, "%s 0 %s %d\n", qid, names[rnd(300)], g); /* repeats: last wins */
		}
		/* runs: ~8% absent; depth 0..1199; scores on a coarse grid so ties are common */
		if (rnd(12) == 0)
			continue;
		int n = (int)rnd(1200);
		for (int i = 0; i < POOL; i++)
			docs[i] = (cn_ranked){names[i], 0};
		for (int i = 0; i < n; i++) { /* partial Fisher-Yates, biased to the judged range */
			int lo = i, span = (i < 200 ? 300 : POOL) - lo;
			if (span <= 0)
				span = POOL - lo;
			int pick = lo + (int)rnd((uint32_t)span);
			cn_ranked t = docs[i];
			docs[i] = docs[pick];
			docs[pick] = t;
			docs[i].score = (double)rnd(60) / 4.0 - 3.0;
			assert_int_equal(cn_run_add(&mem, qid, docs[i].doc_id, docs[i].score, &err), CAIRN_OK);
		}
		cn_run_format_query(&rb, qid, docs, (size_t)n, "rnd");
	}
	/* a run for a query nobody judged */
	cn_buf_puts(&rb, "zz Q0 d1 1 1.5 rnd\n");
	assert_false(qb.failed || rb.failed);
	write_file(qpath, qb.data, qb.len);
	write_file(rpath, rb.data, rb.len);

	cn_qrels qr;
	cn_run run;
	cn_qrels_init(&qr);
	cn_run_init(&run);
	assert_int_equal(cn_qrels_read(&qr, qpath, CN_QRELS_AUTO, 0, &err), CAIRN_OK);
	assert_int_equal(cn_run_read(&run, rpath, 0, &err), CAIRN_OK);
	cn_measures mean, mean_mem;
	int64_t nq = 0, nq_mem = 0;
	assert_int_equal(cn_eval_run(&qr, &run, 0, &mean, &nq, &err), CAIRN_OK);
	assert_int_equal(cn_eval_run(&qr, &mem, 0, &mean_mem, &nq_mem, &err), CAIRN_OK);
	assert_true(nq > 250);
	/* in memory and through the file: identical (scores survive the round trip) */
	assert_int_equal(nq, nq_mem);
	assert_memory_equal(&mean, &mean_mem, sizeof mean);

	const char *names_c[CN_MEASURES_MAX];
	double vals[CN_MEASURES_MAX];
	size_t nm = cn_measures_list(&mean, names_c, vals, CN_MEASURES_MAX);
	assert_int_equal(nm, CN_MEASURES_MAX);

	char cmd[768];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/trec_metrics.py %s %s", qpath, rpath);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256];
	size_t matched = 0;
	bool saw_nq = false;
	while (fgets(line, sizeof line, p)) {
		char name[64], all[8];
		double v;
		if (sscanf(line, "%63s %7s %lf", name, all, &v) != 3)
			continue;
		if (strcmp(name, "num_q") == 0) {
			assert_int_equal((int64_t)v, nq);
			saw_nq = true;
			continue;
		}
		for (size_t i = 0; i < nm; i++)
			if (strcmp(names_c[i], name) == 0) {
				if (fabs(vals[i] - v) > 1e-9)
					fail_msg("%s: C %.12f, Python %.12f", name, vals[i], v);
				matched++;
			}
	}
	assert_int_equal(pclose(p), 0);
	assert_true(saw_nq);
	assert_int_equal(matched, nm);
	/* the measures are not degenerate: something was found and something missed */
	assert_true(mean.map > 0.01 && mean.map < 0.99);
	assert_true(mean.ndcg[cut(10)] > 0.01 && mean.recall[cut(1000)] < 1.0);

	cn_qrels_free(&qr);
	cn_run_free(&run);
	cn_run_free(&mem);
	cn_buf_free(&qb);
	cn_buf_free(&rb);
	unlink(qpath);
	unlink(rpath);
	rmdir(dir);
}

/* ---- qrels and run files ---------------------------------------------------------------- */

static void test_qrels_formats(void **state)
{
	(void)state;
	cn_err err;
	cn_qrels q;
	/* BEIR with header, auto-detected */
	cn_qrels_init(&q);
	cn_err_clear(&err);
	const char *beir = "query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n1\td2\t2\r\n2\td1\t0\r\n";
	assert_int_equal(cn_qrels_parse(&q, beir, strlen(beir), CN_QRELS_AUTO, 0, "b.tsv", &err),
	                 CAIRN_OK);
	assert_int_equal(cn_qrels_nqueries(&q), 2);
	assert_int_equal(cn_qrels_judged_queries(&q), 1);
	assert_int_equal(cn_qrels_find(&q, "1")->j[1].rel, 2);
	cn_qrels_free(&q);
	/* TREC, duplicate pair: the last grade wins; ids normalised on request */
	cn_qrels_init(&q);
	const char *trec = "01 0 007 1\n1 0 7 0\n1 0 8 1.0\n";
	assert_int_equal(cn_qrels_parse(&q, trec, strlen(trec), CN_QRELS_AUTO, CN_IDS_NORMALIZE, "t", &err),
	                 CAIRN_OK);
	const cn_qrels_query *qq = cn_qrels_find(&q, "1");
	assert_non_null(qq);
	assert_int_equal(qq->n, 2);
	assert_int_equal(qq->num_rel, 1);
	assert_string_equal(qq->j[0].doc_id, "7");
	assert_int_equal(qq->j[0].rel, 0);
	assert_int_equal(q.n_rows, 3);
	assert_int_equal(cn_qrels_judgments(&q), 2);
	cn_qrels_free(&q);
	/* SMART "qid docid 0 0.0" vs TREC "qid 0 docid 1" */
	const char *smart = "1   28\t0\t0.000000\r\n 2 35 0 0\n";
	const char *med = "1 0 13 1\n1 0 14 1\n";
	assert_int_equal(cn_qrels_sniff_4col(smart, strlen(smart)), CN_QRELS_SMART);
	assert_int_equal(cn_qrels_sniff_4col(med, strlen(med)), CN_QRELS_TREC);
	cn_qrels_init(&q);
	assert_int_equal(cn_qrels_parse(&q, smart, strlen(smart), CN_QRELS_SMART, 0, "s", &err), CAIRN_OK);
	assert_string_equal(cn_qrels_find(&q, "1")->j[0].doc_id, "28");
	assert_int_equal(cn_qrels_find(&q, "2")->num_rel, 1);
	cn_qrels_free(&q);
	/* bad grade, wrong column count: EFORMAT with file and line */
	const char *bad[] = {"1 0 d1 1\n1 0 d2 yes\n", "1 0 d1 1\n1 0 d2 1.5\n", "1 0 d1 1\n1 0 d2\n",
	                     "1 0 d1 1\n1 0 d2 1 extra\n"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_qrels_init(&q);
		cn_err_clear(&err);
		assert_int_equal(cn_qrels_parse(&q, bad[i], strlen(bad[i]), CN_QRELS_TREC, 0, "bad.qrels", &err),
		                 CAIRN_EFORMAT);
		assert_non_null(strstr(err.msg, "bad.qrels:2:"));
		cn_qrels_free(&q);
	}
	cn_qrels_init(&q);
	cn_err_clear(&err);
	assert_int_equal(cn_qrels_parse(&q, "just two\n", 9, CN_QRELS_AUTO, 0, "x", &err), CAIRN_EFORMAT);
	cn_qrels_free(&q);
}

static void test_run_files(void **state)
{
	(void)state;
	cn_err err;
	cn_err_clear(&err);
	/* scores that need 17 digits survive formatting */
	cn_ranked d[] = {{"a", 0.1 + 0.2}, {"b", 1.0 / 3}, {"c", -2.5e-300}, {"d", 12.25}};
	cn_buf b;
	cn_buf_init(&b);
	cn_run_format_query(&b, "q7", d, 4, "tag");
	assert_non_null(strstr(b.data, "q7 Q0 d 4 12.25 tag\n"));
	cn_run r;
	cn_run_init(&r);
	assert_int_equal(cn_run_parse(&r, b.data, b.len, 0, "run", &err), CAIRN_OK);
	const cn_run_query *rq = cn_run_find(&r, "q7");
	assert_non_null(rq);
	assert_int_equal(rq->n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(rq->docs[i].doc_id, d[i].doc_id);
		assert_true(rq->docs[i].score == d[i].score);
	}
	cn_run_free(&r);
	cn_buf_free(&b);
	const char *bad[] = {"q Q0 a 1 1.0 t\nq Q0 a 2 0.5 t\n", "q Q0 a 1 1.0 t\nq Q0 b 2 high t\n",
	                     "q Q0 a 1 1.0 t\nq Q0 b 2 0.5\n", "q Q0 a 1 1.0 t\nq Q0 b x 0.5 t\n"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_run_init(&r);
		cn_err_clear(&err);
		assert_int_equal(cn_run_parse(&r, bad[i], strlen(bad[i]), 0, "bad.run", &err), CAIRN_EFORMAT);
		assert_non_null(strstr(err.msg, "bad.run:2:"));
		cn_run_free(&r);
	}
}

/* ---- the shared collections ------------------------------------------------------------- */

typedef struct ds_expect {
	const char *dir, *format;
	size_t docs, queries, judged, judgments;
} ds_expect;

static const cn_doc *doc_by_id(const cn_dataset *ds, const char *id)
{
	uint32_t i = cn_strmap_get(&ds->doc_ids, id, strlen(id));
	return i == UINT32_MAX ? NULL : &ds->docs[i];
}

static const cn_query *query_by_id(const cn_dataset *ds, const char *id)
{
	uint32_t i = cn_strmap_get(&ds->query_ids, id, strlen(id));
	return i == UINT32_MAX ? NULL : &ds->queries[i];
}

static bool judged_rel(const cn_dataset *ds, const char *qid, const char *did)
{
	const cn_qrels_query *q = cn_qrels_find(&ds->qrels, qid);
	for (size_t i = 0; q && i < q->n; i++)
		if (strcmp(q->j[i].doc_id, did) == 0)
			return q->j[i].rel >= 1;
	return false;
}

static bool prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Loads ../shared/data/<name> and checks the counts given in its SOURCE.md. */
static bool load_shared(cn_dataset *ds, const ds_expect *e)
{
	char path[256];
	snprintf(path, sizeof path, "../shared/data/%s", e->dir);
	if (!cn_is_dir(path)) {
		print_message("skipping: %s is not available\n", path);
		return false;
	}
	cn_err err;
	cn_err_clear(&err);
	cn_dataset_init(ds);
	cairn_status rc = cn_dataset_load(ds, path, NULL, &err);
	if (rc != CAIRN_OK)
		fail_msg("%s: %s", path, err.msg);
	assert_string_equal(ds->format, e->format);
	assert_int_equal(ds->n_docs, e->docs);
	assert_int_equal(ds->n_queries, e->queries);
	assert_int_equal(cn_qrels_judged_queries(&ds->qrels), e->judged);
	assert_int_equal(cn_qrels_judgments(&ds->qrels), e->judgments);
	assert_int_equal(ds->qrels.n_rows, e->judgments);
	return true;
}

#define LOAD_OR_SKIP(ds, ...)                                                                    \
	do {                                                                                         \
		static const ds_expect e_ = {__VA_ARGS__};                                               \
		if (!load_shared(ds, &e_))                                                               \
			skip();                                                                              \
	} while (0)

static void test_ds_scifact_beir(void **state)
{
	(void)state;
	cn_dataset ds;
	/* SOURCE.md: 5,183 documents, 1,109 queries, 339 test judgements over 300 queries */
	LOAD_OR_SKIP(&ds, "scifact-beir", "beir", 5183, 1109, 300, 339);
	const cn_doc *d = doc_by_id(&ds, "4983");
	assert_non_null(d);
	assert_true(prefix(d->title, "Microstructural development of human newborn cerebral white matter"));
	assert_true(prefix(d->text, "Alterations of the architecture of cerebral white matter"));
	const cn_query *q = query_by_id(&ds, "0");
	assert_non_null(q);
	assert_string_equal(q->text, "0-dimensional biomaterials lack inductive properties.");
	/* query 2's metadata holds gold evidence (13734012): it must not leak into the text */
	assert_null(strstr(query_by_id(&ds, "2")->text, "13734012"));
	assert_true(judged_rel(&ds, "1", "31715818"));
	cn_dataset_free(&ds);
}

static void test_ds_cisi(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 1,460 documents, 112 queries (76 judged), 3,114 judgements; CRLF files */
	LOAD_OR_SKIP(&ds, "cisi", "smart", 1460, 112, 76, 3114);
	const cn_doc *d = doc_by_id(&ds, "1");
	assert_string_equal(d->title, "18 Editions of the Dewey Decimal Classifications");
	assert_true(prefix(d->text, "The present study is a history of the DEWEY Decimal\nClassification."));
	assert_null(strchr(d->text, '\r'));
	assert_null(strstr(d->text, "Comaromi")); /* .A is not indexed */
	assert_true(prefix(doc_by_id(&ds, "2")->title, "Use Made of Technical Libraries"));
	assert_true(judged_rel(&ds, "1", "28"));
	cn_dataset_free(&ds);
}

static void test_ds_cacm(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 3,204 documents, 64 queries (52 judged), 796 judgements; qrels ids zero-padded */
	LOAD_OR_SKIP(&ds, "cacm", "smart", 3204, 64, 52, 796);
	const cn_doc *d = doc_by_id(&ds, "1");
	assert_string_equal(d->title, "Preliminary Report-International Algebraic Language");
	assert_string_equal(d->text, "");
	/* a document with .K keywords and no .W: the keywords are its text */
	assert_string_equal(doc_by_id(&ds, "1655")->text,
	                    "standard code, code, information interchange, characters, shift out, "
	                    "shift in, escape, data link escape, control functions, standard "
	                    "procedures, code extension, code table, bit pattern");
	assert_true(prefix(doc_by_id(&ds, "1410")->text, "The optimization of time-shared system"));
	assert_true(prefix(query_by_id(&ds, "1")->text, "What articles exist which deal with TSS"));
	assert_null(strstr(query_by_id(&ds, "1")->text, "Richard Alexander")); /* .N dropped */
	assert_true(judged_rel(&ds, "1", "1410")); /* "01 1410 0 0" */
	assert_null(cn_qrels_find(&ds.qrels, "01"));
	cn_dataset_free(&ds);
}

static void test_ds_med(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 1,033 documents, 30 queries, 696 judgements in TREC layout (MED.REL, not .REL.OLD) */
	LOAD_OR_SKIP(&ds, "med", "smart", 1033, 30, 30, 696);
	const cn_doc *d = doc_by_id(&ds, "1");
	assert_string_equal(d->title, "");
	assert_true(prefix(d->text, "correlation between maternal and fetal plasma levels of glucose and free\n"
	                            "fatty acids ."));
	assert_string_equal(query_by_id(&ds, "1")->text,
	                    "the crystalline lens in vertebrates, including humans.");
	assert_true(judged_rel(&ds, "1", "13"));
	assert_false(judged_rel(&ds, "1", "0"));
	cn_dataset_free(&ds);
}

static void test_ds_adi(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 82 documents, 35 queries, 170 judgements */
	LOAD_OR_SKIP(&ds, "adi", "smart", 82, 35, 35, 170);
	assert_string_equal(doc_by_id(&ds, "1")->title,
	                    "the ibm dsd technical information center - a total systems approach "
	                    "combining traditional library features and mechanized computer processing");
	assert_true(judged_rel(&ds, "1", "17"));
	assert_true(judged_rel(&ds, "2", "71"));
	cn_dataset_free(&ds);
}

static void test_ds_npl(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 11,429 documents, 93 queries all judged; 2,083 (query, doc) pairs in rlv-ass */
	LOAD_OR_SKIP(&ds, "npl", "npl", 11429, 93, 93, 2083);
	assert_true(prefix(doc_by_id(&ds, "1")->text, "compact memories have flexible capacities"));
	assert_string_equal(query_by_id(&ds, "1")->text,
	                    "MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES");
	assert_true(judged_rel(&ds, "1", "1239"));
	assert_true(judged_rel(&ds, "1", "10588")); /* the last id of a block spanning lines */
	cn_dataset_free(&ds);
}

static void test_ds_time(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 423 *TEXT records, 83 queries all judged; 324 pairs. Ids are positions in the
	 * original 425-record file (what TIME.REL counts), not the *TEXT numbers. */
	LOAD_OR_SKIP(&ds, "time", "time", 423, 83, 83, 324);
	const cn_doc *d = doc_by_id(&ds, "1"); /* "*TEXT 017 …", the first record */
	assert_non_null(d);
	assert_true(prefix(d->text, "THE ALLIES AFTER NASSAU IN DECEMBER 1960, THE U.S . FIRST\nPROPOSED"));
	assert_true(prefix(query_by_id(&ds, "1")->text, "KENNEDY ADMINISTRATION PRESSURE ON NGO DINH DIEM"));
	/* query 1 (Buddhists in South Viet Nam): 268 is the 268th record, *TEXT 334 */
	assert_true(judged_rel(&ds, "1", "268"));
	assert_true(prefix(doc_by_id(&ds, "268")->text, "SOUTH VIET NAM TRIAL BY FIRE"));
	/* query 4 (the new regime in South Viet Nam): 370 before the gap, 421 after it */
	assert_true(prefix(doc_by_id(&ds, "370")->text, "SOUTH VIET NAM : THE NEW REGIME"));
	assert_true(prefix(doc_by_id(&ds, "421")->text, "SOUTH VIET NAM"));
	assert_true(judged_rel(&ds, "4", "421"));
	/* query 15 (Park Chung Hee elected in South Korea) → 424; query 26 (the U.N.) → 425 */
	assert_true(prefix(doc_by_id(&ds, "424")->text, "SOUTH KOREA FATIGUES TO FLANNELS"));
	assert_true(prefix(doc_by_id(&ds, "425")->text, "UNITED NATIONS POTENT PYGMY"));
	assert_null(doc_by_id(&ds, "371"));
	assert_null(doc_by_id(&ds, "426"));
	/* every judged document exists */
	for (size_t i = 0; i < cn_qrels_nqueries(&ds.qrels); i++)
		for (size_t k = 0; k < ds.qrels.queries[i].n; k++)
			assert_non_null(doc_by_id(&ds, ds.qrels.queries[i].j[k].doc_id));
	cn_dataset_free(&ds);
}

static void test_ds_lisa(void **state)
{
	(void)state;
	cn_dataset ds;
	/* 6,004 records as distributed: 6,003 "Document" headers + 1 headerless fragment;
	 * 1998–2001 appear twice and 1993–1997 not at all → 5,999 distinct documents.
	 * 35 queries, all judged; LISARJ.NUM lists 379 pairs. */
	LOAD_OR_SKIP(&ds, "lisa", "lisa", 5999, 35, 35, 379);
	assert_int_equal(ds.n_duplicates, 4);
	assert_int_equal(ds.n_headerless, 1);
	const cn_doc *d = doc_by_id(&ds, "1");
	assert_string_equal(d->title, "THE INDIAN COUNCIL OF LIBRARY AND INFORMATION SERVICES RESEARCH "
	                              "AND TRAINING: A PROPOSAL FOR CONSIDERATION.");
	assert_true(prefix(d->text, "CRITICALLY EXAMINES THE INDIAN LIBRARY SCENE."));
	assert_true(prefix(doc_by_id(&ds, "4")->title, "MALAWI LIBRARY ASSOCIATION SECOND ANNUAL"));
	assert_true(prefix(doc_by_id(&ds, "4")->text, "LISTS THOSE PRESENT"));
	assert_true(prefix(doc_by_id(&ds, "6004")->title, "THE ORGANIZATION AND USE OF INFORMATION"));
	assert_null(doc_by_id(&ds, "1995"));
	const char *q1 = query_by_id(&ds, "1")->text;
	assert_true(prefix(q1, "I AM INTERESTED IN THE IDENTIFICATION AND EVALUATION OF NOVEL"));
	assert_true(strlen(q1) > 20 && strcmp(q1 + strlen(q1) - 19, "ASSOCIATIVE MEMORY.") == 0);
	assert_null(strchr(q1, '#'));
	assert_true(judged_rel(&ds, "1", "3392"));
	assert_true(judged_rel(&ds, "22", "5699")); /* missing from the damaged LISA.REL */
	cn_dataset_free(&ds);

	/* LISA.REL as distributed is refused, naming where it goes wrong */
	char *data;
	size_t len;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read("../shared/data/lisa/LISA.REL", 1 << 20, &data, &len, &err) == CAIRN_OK) {
		cn_dataset_init(&ds);
		assert_int_equal(cn_lisa_parse(&ds, data, len, 2, "LISA.REL", &err), CAIRN_EFORMAT);
		assert_non_null(strstr(err.msg, "LISA.REL:"));
		cn_dataset_free(&ds);
		cn_free(data);
	}
}

/* ---- malformed input -------------------------------------------------------------------- */

typedef cairn_status (*parse_fn)(cn_dataset *, const char *, size_t, int, const char *, cn_err *);

static cairn_status smart_docs(cn_dataset *ds, const char *d, size_t n, int what, const char *name,
                               cn_err *err)
{
	return cn_smart_parse(ds, d, n, what, name, err);
}

static void expect_bad(parse_fn fn, int what, const char *text, const char *needle)
{
	cn_dataset ds;
	cn_dataset_init(&ds);
	cn_err err;
	cn_err_clear(&err);
	cairn_status rc = fn(&ds, text, strlen(text), what, "f.txt", &err);
	if (rc != CAIRN_EFORMAT || !strstr(err.msg, needle))
		fail_msg("input %s: rc %d, message \"%s\", expected EFORMAT with \"%s\"", text, rc, err.msg,
		         needle);
	cn_dataset_free(&ds);
}

static void expect_ok(parse_fn fn, int what, const char *text, size_t docs, size_t queries)
{
	cn_dataset ds;
	cn_dataset_init(&ds);
	cn_err err;
	cn_err_clear(&err);
	cairn_status rc = fn(&ds, text, strlen(text), what, "f.txt", &err);
	if (rc != CAIRN_OK)
		fail_msg("input %s: %s", text, err.msg);
	assert_int_equal(ds.n_docs, docs);
	assert_int_equal(ds.n_queries, queries);
	cn_dataset_free(&ds);
}

static void test_malformed_inputs(void **state)
{
	(void)state;
	/* SMART */
	expect_ok(smart_docs, 0, ".I 1\r\n.T\r\nA title\r\n.W\r\nsome text\r\n.I 2\n.T Inline\n", 2, 0);
	expect_bad(smart_docs, 0, ".I 1\n.T\nA title\n.W\n", "f.txt:4: file ends inside field .W");
	expect_bad(smart_docs, 0, ".I 1\n.I 2\n.W\ntext\n", "f.txt:1: record .I 1 has no fields");
	expect_bad(smart_docs, 0, ".I 1\n.W\ntext\n.I 9\n", "record .I 9 has no fields");
	expect_bad(smart_docs, 0, "stray\n.I 1\n.W\ntext\n", "f.txt:1:");
	expect_bad(smart_docs, 0, ".I\n.W\ntext\n", "f.txt:1: expected \".I <id>\"");
	expect_bad(smart_docs, 0, ".I 1\njunk before a field\n", "f.txt:2:");
	expect_bad(smart_docs, 1, ".I 1\n.W\nq\n.I 1\n.W\nagain\n", "query 1 appears more than once");
	expect_bad(smart_docs, 1, ".I 1\n.N\nnotes only\n", "query 1 has no text");
	/* NPL */
	expect_ok(cn_npl_parse, 0, "1\nsome text\n   /\n2\nmore\n   /\n", 2, 0);
	expect_bad(cn_npl_parse, 0, "1\nsome text\n   /\n2\nmore\n", "f.txt:4: record 2 is not closed");
	expect_bad(cn_npl_parse, 0, "x1\ntext\n/\n", "f.txt:1: expected a record number");
	expect_bad(cn_npl_parse, 2, "1\n 12 1x3\n /\n", "f.txt:2: document id \"1x3\"");
	/* TIME */
	expect_ok(cn_time_parse, 0, "*TEXT 017 01/04/63 PAGE 020\n\nTEXT\n*TEXT 018\nMORE\n*STOP\n", 2, 0);
	expect_bad(cn_time_parse, 0, "*TEXT 018\nA\n*TEXT 017\nB\n*STOP\n", "f.txt:3: *TEXT numbers must increase");
	expect_bad(cn_time_parse, 0, "*TEXT 017 01/04/63 PAGE 020\n\nTEXT\n", "missing the closing *STOP");
	expect_bad(cn_time_parse, 1, "*FIND x\nQ\n*STOP\n", "f.txt:1: expected \"*FIND <number>\"");
	expect_bad(cn_time_parse, 2, "1 268 2x8\n", "f.txt:1: document id \"2x8\"");
	/* LISA */
	expect_ok(cn_lisa_parse, 0, "Document 1\nTITLE\n\nTEXT\n*****\nDocument 2\nT2\n\nX\n*****\n", 2, 0);
	expect_bad(cn_lisa_parse, 0, "Document 1\nTITLE\n\nTEXT\n*****\nDocument 2\nT2\n",
	           "f.txt:6: record is not closed by a line of asterisks");
	expect_bad(cn_lisa_parse, 0, "Document one\nT\n*****\n", "f.txt:1: expected \"Document <number>\"");
	expect_bad(cn_lisa_parse, 1, "1\nQUERY TEXT #\n2\nNO END\n", "f.txt:3: query 2 is not ended by \"#\"");
	expect_bad(cn_lisa_parse, 2, "Query 1\n2 Relevant Refs:\n5 -1\n", "lists 1 documents but its header");
	expect_bad(cn_lisa_parse, 2, "Query 1\n1 Relevant Refs:\n5\n", "not ended by -1");
	expect_bad(cn_lisa_parse, 3, "1 3 10 11\n", "f.txt:1: the list of query 1 ends early");
	expect_bad(cn_lisa_parse, 3, "1 1 1o\n", "f.txt:1: \"1o\" is not a number");
	/* BEIR */
	cn_dataset ds;
	cn_dataset_init(&ds);
	cn_err err;
	cn_err_clear(&err);
	const char *corpus = "{\"_id\": \"a\", \"title\": null, \"text\": \"x\", \"metadata\": {}}\n"
	                     "{\"_id\": 7, \"text\": \"y\"}\n";
	assert_int_equal(cn_beir_parse(&ds, corpus, strlen(corpus), 0, "c.jsonl", &err), CAIRN_OK);
	assert_int_equal(ds.n_docs, 2);
	assert_string_equal(ds.docs[1].id, "7");
	cn_dataset_free(&ds);
	expect_bad(cn_beir_parse, 0, "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\"\n",
	           "f.txt:2: invalid JSON");
	expect_bad(cn_beir_parse, 0, "{\"_id\": \"a\"}\n", "f.txt:1: \"text\" is missing");
	expect_bad(cn_beir_parse, 0, "{\"_id\": \"a b\", \"text\": \"x\"}\n", "f.txt:1: \"_id\"");
	expect_bad(cn_beir_parse, 1, "[1, 2]\n", "f.txt:1: expected a JSON object");
}

/* A small SMART collection on disk: CRLF, zero-padded qrels, a query nobody judged. */
static void make_smart_dir(char *dir, const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/TINY.ALL", dir);
	const char *all = ".I 1\r\n.T\r\nCats\r\n.W\r\ncats purr\r\n.I 2\r\n.W\r\ndogs bark\r\n";
	write_file(p, all, strlen(all));
	snprintf(p, sizeof p, "%s/TINY.QRY", dir);
	const char *qry = ".I 1\r\n.W\r\npurring\r\n.I 2\r\n.W\r\nbarking\r\n.I 3\r\n.W\r\nmoo\r\n";
	write_file(p, qry, strlen(qry));
	snprintf(p, sizeof p, "%s/TINY.REL", dir);
	write_file(p, rel, strlen(rel));
}

static void cleanup_dir(const char *dir)
{
	const char *names[] = {"TINY.ALL", "TINY.QRY", "TINY.REL"};
	char p[512];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void test_dataset_dirs(void **state)
{
	(void)state;
	char dir[] = "/tmp/cairn-test-ds-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cn_err err;
	cn_dataset ds;
	char fmt[32];
	/* empty directory: unrecognised */
	cn_err_clear(&err);
	assert_int_equal(cn_dataset_detect(dir, fmt, sizeof fmt, &err), CAIRN_EUNSUPPORTED);

	make_smart_dir(dir, "01 1 0 0.000000\r\n2 002 0 0.000000\r\n");
	cn_err_clear(&err);
	assert_int_equal(cn_dataset_detect(dir, fmt, sizeof fmt, &err), CAIRN_OK);
	assert_string_equal(fmt, "smart");
	cn_dataset_init(&ds);
	assert_int_equal(cn_dataset_load(&ds, dir, NULL, &err), CAIRN_OK);
	assert_int_equal(ds.n_docs, 2);
	assert_int_equal(ds.n_queries, 3);
	assert_int_equal(cn_qrels_judged_queries(&ds.qrels), 2);
	assert_true(judged_rel(&ds, "2", "2"));
	assert_string_equal(ds.docs[0].title, "Cats");
	assert_string_equal(ds.docs[0].text, "cats purr");
	cn_dataset_free(&ds);

	/* a judged query missing from the query file */
	make_smart_dir(dir, "1 1 0 0\n9 2 0 0\n");
	cn_dataset_init(&ds);
	cn_err_clear(&err);
	assert_int_equal(cn_dataset_load(&ds, dir, NULL, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "TINY.REL: query 9 has judgements but is not in the query file"));
	cn_dataset_free(&ds);

	/* TREC-layout qrels with a non-numeric grade */
	make_smart_dir(dir, "1 0 1 1\n2 0 2 high\n");
	cn_dataset_init(&ds);
	cn_err_clear(&err);
	assert_int_equal(cn_dataset_load(&ds, dir, NULL, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "TINY.REL:2: relevance \"high\""));
	cn_dataset_free(&ds);
	cleanup_dir(dir);

	cn_dataset_init(&ds);
	cn_err_clear(&err);
	assert_int_equal(cn_dataset_load(&ds, "/nonexistent/cairn-eval", NULL, &err), CAIRN_ENOTFOUND);
	cn_dataset_free(&ds);
}

/* Every allocation failing in turn: the parsers and the evaluator clean up and report. */
static void test_allocation_failures(void **state)
{
	(void)state;
	const char *all = ".I 1\n.T\nTitle one\n.W\nsome text here\n.K\nkw\n.I 2\n.W\nmore\n";
	const char *qrels = "1 0 a 2\n1 0 b 1\n2 0 a 0\n2 0 c 1\n";
	bool ok = false;
	for (long n = 1; !ok && n < 500; n++) {
		cn_dataset ds;
		cn_qrels q;
		cn_err err;
		cn_err_clear(&err);
		cn_dataset_init(&ds);
		cn_qrels_init(&q);
		cn_alloc_fail_after(n);
		cairn_status rc = cn_smart_parse(&ds, all, strlen(all), 0, "a", &err);
		if (rc == CAIRN_OK)
			rc = cn_qrels_parse(&q, qrels, strlen(qrels), CN_QRELS_AUTO, 0, "q", &err);
		cn_measures m;
		cn_ranked run[] = {{"c", 1}, {"a", 2}, {"b", 2}, {"z", 0}};
		if (rc == CAIRN_OK)
			rc = cn_eval_query(cn_qrels_find(&q, "1"), run, 4, 0, &m, &err);
		cn_alloc_fail_after(0);
		if (rc == CAIRN_OK) {
			ok = true;
			assert_int_equal(ds.n_docs, 2);
			assert_double_equal(m.map, 1.0, EPS); /* b, a at ranks 1-2 (tie: b > a) */
		} else {
			assert_int_equal(rc, CAIRN_ENOMEM);
		}
		cn_dataset_free(&ds);
		cn_qrels_free(&q);
	}
	assert_true(ok);
}

static void test_runner_arguments(void **state)
{
	(void)state;
	cairn_eval_params p = cairn_eval_default_params();
	assert_int_equal(p.depth, 1000);
	assert_int_equal(p.whole_documents, 1);
	assert_string_equal(p.run_tag, "cairn");
	assert_string_equal(p.qrels_split, "test");
	assert_null(p.kb_dir);
	cairn_eval_report r;
	char eb[256];
	p.depth = 0;
	assert_int_equal(cairn_eval_retrieval("/tmp", &p, &r, eb, sizeof eb), CAIRN_EINVAL);
	assert_non_null(strstr(eb, "depth"));
	p = cairn_eval_default_params();
	assert_int_equal(cairn_eval_retrieval("/nonexistent/cairn-eval", &p, &r, eb, sizeof eb),
	                 CAIRN_ENOTFOUND);
	assert_non_null(strstr(eb, "/nonexistent/cairn-eval"));
	p.qrels_split = "../../etc/passwd";
	assert_int_equal(cairn_eval_retrieval("/tmp", &p, &r, eb, sizeof eb), CAIRN_EINVAL);
}

/* ---- measure lists, results, comparisons, reports --------------------------------------- */

static void test_measure_lists(void **state)
{
	(void)state;
	cn_mspec m[CN_MSPEC_MAX];
	size_t n = 0;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_mspec_parse("P.5,10, ndcg_cut_10,map,recall.100,P_5,ndcg,success.1", m, CN_MSPEC_MAX,
	                                &n, &err), CAIRN_OK);
	const char *want[] = {"P_5", "P_10", "ndcg_cut_10", "map", "recall_100", "ndcg", "success_1"};
	assert_int_equal(n, 7); /* P_5 twice: kept once */
	for (size_t i = 0; i < n; i++)
		assert_string_equal(m[i].name, want[i]);
	assert_int_equal(m[1].kind, CN_MK_P);
	assert_int_equal(m[1].k, 10);
	/* the default set */
	assert_int_equal(cn_mspec_parse(NULL, m, CN_MSPEC_MAX, &n, &err), CAIRN_OK);
	assert_true(n >= 15);
	assert_string_equal(m[0].name, "map");
	const char *bad[] = {"P", "ndcg_cut.0", "P.100001", "bogus", "5", "map,", "P.x", "map,,P.5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cn_err_clear(&err);
		if (cn_mspec_parse(bad[i], m, CN_MSPEC_MAX, &n, &err) != CAIRN_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_true(strlen(err.msg) > 0);
	}
	cn_mspec one;
	assert_true(cn_mspec_from_name("recall_1000", &one) && one.kind == CN_MK_RECALL && one.k == 1000);
	assert_false(cn_mspec_from_name("map_5", &one));
	assert_false(cn_mspec_from_name("ndcg_cut", &one));
}

static void test_specs_by_hand(void **state)
{
	(void)state;
	/* The graded example above, plus d2 listed again lower down (ignored, as trec_eval would
	 * refuse it) — grades by rank 0, 2, 0, 3, 1; ideal 3, 2, 2, 1; R = 4. */
	cn_judgment j[] = {{"d1", 3}, {"d2", 2}, {"d3", 0}, {"d4", 1}, {"d5", 2}};
	cn_qrels_query q = judged_of(j, 5);
	cn_ranked run[] = {{"d4", 5}, {"d1", 6}, {"dA", 9}, {"d3", 7}, {"d2", 8}, {"d2", 1}};
	cn_mspec m[CN_MSPEC_MAX];
	size_t n = 0;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_mspec_parse("P.2,4,ndcg_cut.2,4,recall.2,4,success.1,2,mrr_cut.1,3,ndcg,map,Rprec,"
	                                "recip_rank,num_rel,num_ret,num_rel_ret", m, CN_MSPEC_MAX, &n, &err), CAIRN_OK);
	double v[CN_MSPEC_MAX];
	assert_int_equal(cn_eval_query_specs(&q, run, 6, 0, m, n, v, &err), CAIRN_OK);
	const double l3 = log2(3.0), l5 = log2(5.0), l6 = log2(6.0);
	const double want[] = {
		1.0 / 2, 2.0 / 4,                                           /* P_2, P_4 */
		(2 / l3) / (3 + 2 / l3),                                    /* ndcg_cut_2 */
		(2 / l3 + 3 / l5) / (3 + 2 / l3 + 2.0 / 2 + 1 / l5),        /* ndcg_cut_4 */
		1.0 / 4, 2.0 / 4,                                           /* recall_2, recall_4 */
		0, 1,                                                       /* success_1, success_2 */
		0, 1.0 / 2,                                                 /* mrr_cut_1, mrr_cut_3 */
		(2 / l3 + 3 / l5 + 1 / l6) / (3 + 2 / l3 + 2.0 / 2 + 1 / l5), /* ndcg */
		(1.0 / 2 + 2.0 / 4 + 3.0 / 5) / 4,                          /* map */
		2.0 / 4, 1.0 / 2,                                           /* Rprec, recip_rank */
		4, 5, 3,                                                    /* num_rel, num_ret, num_rel_ret */
	};
	assert_int_equal(n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < n; i++)
		if (fabs(v[i] - want[i]) > EPS)
			fail_msg("%s = %.15g, expected %.15g", m[i].name, v[i], want[i]);
	/* Nothing judged relevant: every measure 0 (such queries are not averaged). Empty run. */
	cn_judgment z[] = {{"d1", 0}};
	cn_qrels_query qz = judged_of(z, 1);
	assert_int_equal(cn_eval_query_specs(&qz, run, 6, 0, m, n, v, &err), CAIRN_OK);
	for (size_t i = 0; i < n; i++)
		if (m[i].kind != CN_MK_NUM_RET)
			assert_double_equal(v[i], 0.0, 0);
	assert_int_equal(cn_eval_query_specs(&q, NULL, 0, 0, m, n, v, &err), CAIRN_OK);
	for (size_t i = 0; i < n; i++)
		assert_double_equal(v[i], m[i].kind == CN_MK_NUM_REL ? 4.0 : 0.0, 0);
}

static char tmpdir_h[64];

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir_h, name);
	return buf[k];
}

static void put(const char *name, const char *text)
{
	write_file(tpath(name), text, strlen(text));
}

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir_h, sizeof tmpdir_h, "/tmp/cairn-test-evalh-XXXXXX");
	return mkdtemp(tmpdir_h) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir_h);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_trec_files(void **state)
{
	(void)state;
	/* q1: d1=2, d2=1, d3=0; q2 has no relevant document (not averaged); q3 is judged but
	 * absent from the run (scores 0). In the run d3 and d2 tie at 2.0: trec_eval puts d3
	 * first (doc id descending), so q1's grades by rank are 0, 1, 2. */
	put("qrels", "q1 0 d1 2\nq1 0 d2 1\nq1 0 d3 0\nq2 0 x 0\nq3 0 d1 1\n");
	put("run", "q1 Q0 d2 1 2.0 t\nq1 Q0 d3 2 2.0 t\nq1 Q0 d1 3 1.0 t\nq2 Q0 x 1 1 t\n");
	cairn_eval_result *r = NULL;
	char eb[512];
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("run"), "P.1,ndcg_cut.3,map,num_ret", &r, eb, sizeof eb),
	                 CAIRN_OK);
	assert_int_equal(cairn_eval_result_queries(r), 2);
	const double l3 = log2(3.0);
	assert_double_equal(cairn_eval_result_mean(r, "P_1"), 0.0, EPS); /* d3 first, not relevant */
	assert_double_equal(cairn_eval_result_mean(r, "ndcg_cut_3"), ((1 / l3 + 2 / 2.0) / (2 + 1 / l3)) / 2, EPS);
	assert_double_equal(cairn_eval_result_mean(r, "map"), ((1.0 / 2 + 2.0 / 3) / 2) / 2, EPS);
	assert_double_equal(cairn_eval_result_mean(r, "num_ret"), 3, 0); /* a total */
	assert_true(isnan(cairn_eval_result_mean(r, "P_5")));
	/* provenance: both files fingerprinted */
	assert_non_null(strstr(r->meta, "\"crc32c\""));
	assert_non_null(strstr(r->meta, "\"qrels\""));
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_TEXT, CAIRN_REPORT_PER_QUERY, &text, &len, eb, sizeof eb),
	                 CAIRN_OK);
	assert_non_null(strstr(text, "map                   \tq3\t0.0000\n"));
	assert_non_null(strstr(text, "num_q                 \tall\t2\n"));
	cairn_free(text);
	cairn_eval_result_free(r);

	/* An empty run: every judged query scores 0. */
	put("empty", "");
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("empty"), "map,P.1", &r, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_result_queries(r), 2);
	assert_double_equal(cairn_eval_result_mean(r, "map"), 0, 0);
	cairn_eval_result_free(r);
	/* A document twice for one query: refused, as trec_eval does. */
	put("dup", "q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n");
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("dup"), NULL, &r, eb, sizeof eb), CAIRN_EFORMAT);
	assert_null(r);
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("run"), "nonsense", &r, eb, sizeof eb), CAIRN_EINVAL);
	assert_non_null(strstr(eb, "nonsense"));
	assert_int_equal(cairn_eval_trec(tpath("missing"), tpath("run"), NULL, &r, eb, sizeof eb), CAIRN_ENOTFOUND);
}

static void test_specs_match_python_reference(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("skipping: /usr/bin/python3 is not installed\n");
		skip();
	}
	/* Random graded qrels and runs with many tied scores, odd cutoffs; per query and mean. */
	rng_state = 12345;
	cn_buf qb, rb;
	cn_buf_init(&qb);
	cn_buf_init(&rb);
	for (int qi = 0; qi < 150; qi++) {
		int nj = (int)rnd(12);
		for (int k = 0; k < nj; k++)
			cn_buf_printf(&qb, "q%d 0 d%u %d\n", qi, rnd(120), (int)rnd(4));
		if (rnd(10) == 0)
			continue;
		int n = (int)rnd(80);
		bool used[200] = {false};
		for (int i = 0; i < n; i++) {
			unsigned d = rnd(200);
			if (used[d])
				continue;
			used[d] = true;
			cn_buf_printf(&rb, "q%d Q0 d%u %d %g x\n", qi, d, i + 1, (double)rnd(8) / 2);
		}
	}
	write_file(tpath("rq"), qb.data, qb.len);
	write_file(tpath("rr"), rb.data, rb.len);
	cn_buf_free(&qb);
	cn_buf_free(&rb);
	const char *list = "map,Rprec,recip_rank,ndcg,ndcg_cut.2,7,50,P.3,7,recall.2,50,success.2,mrr_cut.4,num_rel_ret";
	cairn_eval_result *r = NULL;
	char eb[512];
	assert_int_equal(cairn_eval_trec(tpath("rq"), tpath("rr"), list, &r, eb, sizeof eb), CAIRN_OK);
	assert_true(r->nq > 100);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/trec_metrics.py -q -m %s %s %s", list,
	         tpath("rq"), tpath("rr"));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256];
	size_t matched = 0;
	while (fgets(line, sizeof line, p)) {
		char name[64], qid[64];
		double v;
		assert_int_equal(sscanf(line, "%63s %63s %lf", name, qid, &v), 3);
		if (!strcmp(name, "num_q")) {
			assert_int_equal((size_t)v, r->nq);
			continue;
		}
		int j = cn_evres_find(r, name);
		if (j < 0)
			fail_msg("python measured %s, C did not", name);
		double c = NAN;
		if (!strcmp(qid, "all"))
			c = r->mean[j];
		else
			for (size_t i = 0; i < r->nq; i++)
				if (!strcmp(r->q[i].qid, qid))
					c = r->v[i * r->nm + (size_t)j];
		if (!(fabs(c - v) <= 1e-9))
			fail_msg("%s %s: C %.12f, Python %.12f", name, qid, c, v);
		matched++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(matched, (r->nq + 1) * r->nm);
	cairn_eval_result_free(r);
}

static void test_result_json_round_trip(void **state)
{
	(void)state;
	put("qrels", "q1 0 d1 2\nq1 0 d2 1\nq3 0 d1 1\nq\"4 0 z 1\n");
	put("run", "q1 Q0 d2 1 2.0 t\nq1 Q0 d3 2 2.0 t\nq1 Q0 d1 3 1.0 t\nq\"4 Q0 z 1 1 t\n");
	cairn_eval_result *r = NULL, *back = NULL;
	char eb[512], *text = NULL;
	size_t len = 0;
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("run"), NULL, &r, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_result_render(r, CAIRN_REPORT_JSON, CAIRN_REPORT_PER_QUERY, &text, &len, eb, sizeof eb),
	                 CAIRN_OK);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_evres_parse(&back, text, len, "mem", &err), CAIRN_OK);
	assert_int_equal(back->nq, r->nq);
	assert_int_equal(back->nm, r->nm);
	for (size_t j = 0; j < r->nm; j++)
		assert_string_equal(back->m[j].name, r->m[j].name);
	assert_memory_equal(back->v, r->v, r->nq * r->nm * sizeof *r->v);
	assert_string_equal(back->q[2].qid, "q\"4");
	assert_int_equal(back->q[0].ntop, 3);
	assert_string_equal(back->q[0].top[0], "d3"); /* trec_eval order: the tie by id descending */
	assert_int_equal(back->q[0].top_grade[2], 2);
	assert_string_equal(back->q[0].rel[0], "d1");
	assert_string_equal(back->meta, r->meta);
	cairn_free(text);
	cairn_eval_result_free(back);
	cairn_eval_result_free(r);
	/* Not trusted: every malformed file is an error naming the problem. */
	const char *bad[][2] = {
		{"[1]", "not a JSON object"},
		{"{\"kind\":\"x\"}", "not a cairn evaluation result"},
		{"{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"map\":0.5}}", "per_query"},
		{"{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"mapp\":0.5},\"per_query\":[]}", "unknown measure"},
		{"{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"map\":0.5},\"per_query\":[{\"qid\":\"1\",\"values\":{}}]}",
		 "no number for map"},
		{"{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"map\":0.5},\"per_query\":[{\"qid\":\"1\",\"values\":"
		 "{\"map\":1},\"top\":[[1,2]]}]}", "[id, grade]"},
		{"{\"kind\":\"cairn-eval-result/1\",\"measures\":{\"map\":0.5},\"per_query\":[{\"qid\":", "mem:"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cn_err_clear(&err);
		assert_int_equal(cn_evres_parse(&back, bad[i][0], strlen(bad[i][0]), "mem", &err), CAIRN_EFORMAT);
		assert_null(back);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i][1]);
	}
}

static void test_randomization_matches_python(void **state)
{
	(void)state;
	const double d[] = {0.1, -0.05, 0.2, 0.0, 0.15, -0.1, 0.3, 0.05, 0.0, 0.12, -0.02, 0.08};
	const size_t n = sizeof d / sizeof d[0];
	const int perms = 20000, boot = 5000;
	const uint64_t seed = 7;
	double p = cn_randomization_p(d, n, perms, seed), lo, hi;
	assert_true(cn_bootstrap_ci(d, n, boot, seed, &lo, &hi));
	assert_true(lo < 0.0725 && 0.0725 < hi); /* the mean lies inside */
	/* Same seed, same permutations, same number (all three compare exactly). */
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("skipping the Python half: /usr/bin/python3 is not installed\n");
		skip();
	}
	cn_buf b;
	cn_buf_init(&b);
	for (size_t i = 0; i < n; i++)
		cn_buf_printf(&b, "%.17g\n", d[i]);
	write_file(tpath("diffs"), b.data, b.len);
	cn_buf_free(&b);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/reference/eval_compare.py --diffs %s %d %d %llu",
	         tpath("diffs"), perms, boot, (unsigned long long)seed);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	double pp, plo, phi, exact;
	assert_int_equal(fscanf(f, "%lf %lf %lf %lf", &pp, &plo, &phi, &exact), 4);
	assert_int_equal(pclose(f), 0);
	assert_double_equal(p, pp, 1e-15);
	assert_double_equal(lo, plo, 1e-15);
	assert_double_equal(hi, phi, 1e-15);
	/* Against the exact test (all 4096 sign patterns): within Monte Carlo error. The
	 * standard error at 20000 permutations is at most 0.0036; 0.015 is four of them. */
	assert_true(exact > 0.01 && exact < 0.2);
	if (fabs(p - exact) > 0.015)
		fail_msg("randomization p %.5f vs exact %.5f", p, exact);
	/* No difference at all: p = 1. */
	const double z[3] = {0, 0, 0};
	assert_double_equal(cn_randomization_p(z, 3, 100, 1), 1.0, 0);
}

static void test_compare_and_gate(void **state)
{
	(void)state;
	/* AP per query — A: q1 1, q2 1/2, q3 1; B: q1 1/2, q2 1, q3 1/3.
	 * map: B - A = (-1/2 + 1/2 - 2/3) / 3 = -2/9; one win, two losses. */
	put("qrels", "q1 0 d1 1\nq2 0 d2 1\nq3 0 d3 1\n");
	put("A", "q1 Q0 d1 1 3 a\nq2 Q0 x 1 3 a\nq2 Q0 d2 2 2 a\nq3 Q0 d3 1 3 a\n");
	put("B", "q1 Q0 x 1 3 b\nq1 Q0 d1 2 2 b\nq2 Q0 d2 1 3 b\nq3 Q0 x 1 3 b\nq3 Q0 y 2 2 b\nq3 Q0 d3 3 1 b\n");
	cairn_eval_result *a = NULL, *b = NULL;
	char eb[512];
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("A"), "map,P.1,success.3,num_ret", &a, eb, sizeof eb),
	                 CAIRN_OK);
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("B"), "map,P.1,success.3", &b, eb, sizeof eb), CAIRN_OK);
	cairn_eval_compare_params cp = cairn_eval_compare_default_params();
	assert_int_equal(cp.permutations, 10000);
	assert_int_equal(cp.seed, 42);
	cairn_eval_comparison *c = NULL;
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(c->nq, 3);
	assert_int_equal(c->nrows, 3); /* num_ret only in A */
	const cn_cmp_row *m = &c->rows[0];
	assert_string_equal(m->name, "map");
	assert_double_equal(m->diff, -2.0 / 9, EPS);
	assert_int_equal(m->wins, 1);
	assert_int_equal(m->losses, 2);
	assert_int_equal(m->ties, 0);
	assert_true(m->lo <= m->diff && m->diff <= m->hi);
	/* success_3: every query finds its document in the top 3 on both sides: all ties, p = 1 */
	assert_int_equal(c->rows[2].ties, 3);
	assert_double_equal(c->rows[2].p, 1.0, 0);
	assert_int_equal(cairn_eval_comparison_regressions(c), 0); /* no gate asked for */
	cairn_eval_comparison_free(c);
	/* The gate: map dropped 0.222 — beyond 0.1, within 0.3. P_1 dropped 1/3 as well. */
	cp.gate = 1;
	cp.tolerances = "map=0.1,default=1";
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_comparison_regressions(c), 1);
	assert_true(c->rows[0].regressed);
	char *text = NULL;
	size_t len = 0;
	const cairn_report_format fmts[] = {CAIRN_REPORT_TEXT, CAIRN_REPORT_JSON, CAIRN_REPORT_MD, CAIRN_REPORT_HTML};
	const char *marks[] = {"REGRESSION", "\"regressed\":true", "regression", "regression"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(cairn_eval_comparison_render(c, fmts[i], &text, &len, eb, sizeof eb), CAIRN_OK);
		assert_int_equal(strlen(text), len);
		if (!strstr(text, marks[i]))
			fail_msg("format %d lacks %s", (int)fmts[i], marks[i]);
		cairn_free(text);
	}
	cairn_eval_comparison_free(c);
	cp.tolerances = "map=0.3,P_1=0.34";
	assert_int_equal(cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_comparison_regressions(c), 0);
	cairn_eval_comparison_free(c);
	const char *bad[] = {"map", "map=-1", "nope=0.1", "num_ret=0.1x", "ndcg_cut_10=0.1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cp.tolerances = bad[i];
		c = NULL;
		if (cairn_eval_compare(a, b, &cp, &c, eb, sizeof eb) != CAIRN_EINVAL)
			fail_msg("tolerance \"%s\" accepted", bad[i]);
		assert_null(c);
	}
	cairn_eval_result_free(a);
	cairn_eval_result_free(b);
}

static void test_html_report_is_self_contained(void **state)
{
	(void)state;
	/* A query id that tries to end the script element and inject markup. */
	put("qrels", "q1 0 d1 1\n</script><b>x 0 d2 1\n");
	put("A", "q1 Q0 d1 1 3 a\n</script><b>x Q0 d9 1 3 a\n");
	put("B", "q1 Q0 d9 1 3 b\n</script><b>x Q0 d2 1 3 b\n");
	cairn_eval_result *a = NULL, *b = NULL;
	char eb[512], *html = NULL;
	size_t len = 0;
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("A"), NULL, &a, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_eval_trec(tpath("qrels"), tpath("B"), NULL, &b, eb, sizeof eb), CAIRN_OK);
	cairn_eval_comparison *c = NULL;
	assert_int_equal(cairn_eval_compare(a, b, NULL, &c, eb, sizeof eb), CAIRN_OK);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			assert_int_equal(cairn_eval_comparison_render(c, CAIRN_REPORT_HTML, &html, &len, eb, sizeof eb), CAIRN_OK);
		else
			assert_int_equal(cairn_eval_result_render(a, CAIRN_REPORT_HTML, 0, &html, &len, eb, sizeof eb), CAIRN_OK);
		assert_non_null(strstr(html, "<svg"));
		assert_non_null(strstr(html, "id='cairn-data'"));
		assert_non_null(strstr(html, "cairn-status"));
		assert_null(strstr(html, "</script><b>")); /* escaped in the data island and the tables */
		assert_null(strstr(html, "src="));         /* nothing loaded from anywhere */
		assert_null(strstr(html, "href="));
		assert_null(strstr(html, "@import"));
		/* exactly two script elements: the data island and the code */
		size_t scripts = 0;
		for (const char *s = html; (s = strstr(s, "</script>")); s++)
			scripts++;
		assert_int_equal(scripts, 2);
		cairn_free(html);
	}
	cairn_eval_comparison_free(c);
	cairn_eval_result_free(a);
	cairn_eval_result_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_graded_example),
		cmocka_unit_test(test_ties_break_by_docid_descending),
		cmocka_unit_test(test_empty_run_and_no_relevant),
		cmocka_unit_test(test_random_runs_match_python_reference),
		cmocka_unit_test(test_qrels_formats),
		cmocka_unit_test(test_run_files),
		cmocka_unit_test(test_ds_scifact_beir),
		cmocka_unit_test(test_ds_cisi),
		cmocka_unit_test(test_ds_cacm),
		cmocka_unit_test(test_ds_med),
		cmocka_unit_test(test_ds_adi),
		cmocka_unit_test(test_ds_npl),
		cmocka_unit_test(test_ds_time),
		cmocka_unit_test(test_ds_lisa),
		cmocka_unit_test(test_malformed_inputs),
		cmocka_unit_test(test_dataset_dirs),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_runner_arguments),
		cmocka_unit_test(test_measure_lists),
		cmocka_unit_test(test_specs_by_hand),
		cmocka_unit_test_setup_teardown(test_trec_files, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_specs_match_python_reference, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_result_json_round_trip, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_randomization_matches_python, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_compare_and_gate, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_html_report_is_self_contained, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
