/*
 * fuzz_datasets — the evaluation readers (src/eval/datasets.c, trec.c) on arbitrary text:
 * the input goes, in memory, to every collection parser (SMART *.ALL as documents and as
 * queries, NPL, TIME and LISA in each of their file roles, BEIR JSON Lines), to the qrels
 * reader in every format with and without id normalisation, and to the TREC run reader; when
 * the input reads both as qrels and as a run, the run is evaluated against the qrels.
 * Checks: no crash, leak or UB; failures are CAIRN_EFORMAT/EINVAL/ETOOBIG with a message
 * (never a silent failure); counts are consistent (duplicates and records); every measure of
 * an evaluation is finite and ratio measures lie in [0, 1].
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "eval/eval.h"

static void check_status(cairn_status st, const cn_err *err, const char *what)
{
	if (st == CAIRN_OK)
		return;
	FUZZ_CHECK(st == CAIRN_EFORMAT || st == CAIRN_EINVAL || st == CAIRN_ETOOBIG || st == CAIRN_ENOTFOUND,
	           "%s: status %d: %s", what, (int)st, err->msg);
	FUZZ_CHECK(err->msg[0], "%s failed without a message", what);
}

static void check_ds(const cn_dataset *ds, const char *what)
{
	FUZZ_CHECK(ds->n_docs + ds->n_duplicates <= ds->n_records || ds->n_records == 0,
	           "%s: %zu docs + %zu duplicates > %zu records", what, ds->n_docs, ds->n_duplicates, ds->n_records);
	for (size_t i = 0; i < ds->n_docs; i++) {
		FUZZ_CHECK(ds->docs[i].id && ds->docs[i].title && ds->docs[i].text, "%s: doc %zu has a NULL field", what, i);
		FUZZ_CHECK(strlen(ds->docs[i].text) <= ds->docs[i].text_len, "%s: doc %zu text_len", what, i);
	}
	for (size_t i = 0; i < ds->n_queries; i++)
		FUZZ_CHECK(ds->queries[i].id && ds->queries[i].text, "%s: query %zu has a NULL field", what, i);
}

typedef cairn_status (*parse_fn)(cn_dataset *, const char *, size_t, int, const char *, cn_err *);

static void run_parser(parse_fn fn, int what, const char *name, const char *d, size_t n)
{
	cn_dataset ds;
	cn_dataset_init(&ds);
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = fn(&ds, d, n, what, name, &err);
	check_status(st, &err, name);
	if (st == CAIRN_OK)
		check_ds(&ds, name);
	cn_dataset_free(&ds);
}

static void check_measures(const cn_measures *m)
{
	const char *names[CN_MEASURES_MAX];
	double v[CN_MEASURES_MAX];
	size_t n = cn_measures_list(m, names, v, CN_MEASURES_MAX);
	for (size_t i = 0; i < n && i < CN_MEASURES_MAX; i++) {
		FUZZ_CHECK(isfinite(v[i]) && v[i] >= 0, "measure %s = %g", names[i], v[i]);
		if (strncmp(names[i], "num_", 4) != 0)
			FUZZ_CHECK(v[i] <= 1.0 + 1e-9, "measure %s = %g > 1", names[i], v[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *d = (const char *)data;
	run_parser(cn_smart_parse, 0, "CISI.ALL", d, size);
	run_parser(cn_smart_parse, 1, "CISI.QRY", d, size);
	for (int w = 0; w < 3; w++)
		run_parser(cn_npl_parse, w, w == 0 ? "doc-text" : w == 1 ? "query-text" : "rlv-ass", d, size);
	for (int w = 0; w < 3; w++)
		run_parser(cn_time_parse, w, w == 0 ? "TIME.ALL" : w == 1 ? "TIME.QUE" : "TIME.REL", d, size);
	for (int w = 0; w < 4; w++)
		run_parser(cn_lisa_parse, w, w == 0 ? "LISA0.001" : w == 1 ? "LISA.QUE" : w == 2 ? "LISA.REL" : "LISARJ.NUM",
		           d, size);
	for (int w = 0; w < 2; w++)
		run_parser(cn_beir_parse, w, w == 0 ? "corpus.jsonl" : "queries.jsonl", d, size);

	(void)cn_qrels_sniff_4col(d, size);
	cn_err err;
	cn_qrels keep;
	cn_qrels_init(&keep);
	bool have_qrels = false;
	for (int fmt = CN_QRELS_AUTO; fmt <= CN_QRELS_SMART; fmt++)
		for (int flags = 0; flags <= CN_IDS_NORMALIZE; flags++) {
			cn_qrels q;
			cn_qrels_init(&q);
			cn_err_clear(&err);
			cairn_status st = cn_qrels_parse(&q, d, size, (cn_qrels_format)fmt, flags, "qrels", &err);
			check_status(st, &err, "qrels");
			if (st == CAIRN_OK) {
				FUZZ_CHECK(cn_qrels_judgments(&q) <= q.n_rows, "%zu judgments from %zu rows",
				           cn_qrels_judgments(&q), q.n_rows);
				FUZZ_CHECK(cn_qrels_judged_queries(&q) <= cn_qrels_nqueries(&q), "judged queries");
			}
			if (st == CAIRN_OK && fmt == CN_QRELS_AUTO && flags == 0) {
				keep = q;
				have_qrels = true;
			} else {
				cn_qrels_free(&q);
			}
		}
	cn_run run;
	cn_run_init(&run);
	cn_err_clear(&err);
	cairn_status st = cn_run_parse(&run, d, size, 0, "run", &err);
	check_status(st, &err, "run");
	if (st == CAIRN_OK && have_qrels) {
		cn_measures mean;
		int64_t nq = 0;
		cn_err_clear(&err);
		st = cn_eval_run(&keep, &run, 0, &mean, &nq, &err);
		FUZZ_CHECK(st == CAIRN_OK || st == CAIRN_ENOMEM, "cn_eval_run status %d: %s", (int)st, err.msg);
		if (st == CAIRN_OK && nq > 0)
			check_measures(&mean);
	}
	cn_run_free(&run);
	if (have_qrels)
		cn_qrels_free(&keep);
	return 0;
}
