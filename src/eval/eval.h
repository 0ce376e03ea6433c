/*
 * eval — retrieval evaluation: trec_eval measures, qrels and run files, test-collection
 * adapters, and the runner behind cairn_eval_retrieval.
 *
 * Design:
 *  - Measures follow trec_eval 9.x exactly (the definitions pytrec_eval and BEIR report):
 *    a run is first sorted by score descending with ties broken by doc id in *descending*
 *    strcmp order; a document is relevant when its grade is >= 1; nDCG uses the grade as
 *    gain and log2(rank + 1) as discount, the ideal ranking is every judged relevant
 *    document sorted by grade. Averages run over queries with at least one relevant
 *    judgement; such a query that retrieved nothing scores 0 (trec_eval -c).
 *  - The measure kernels work on a plain array of grades in rank order, so each one is a
 *    few lines that can be checked by hand; tests/reference/trec_metrics.py is an
 *    independent Python implementation the unit tests compare against.
 *  - Datasets of every supported layout load into one in-memory form (cn_dataset):
 *    documents, queries and qrels, all strings in one arena. Parsers never trust their
 *    input: a malformed or truncated file is CAIRN_EFORMAT naming the file and line.
 *  - The runner (runner.c) uses only include/cairn.h to build and search a knowledge base,
 *    so it measures the engine exactly as an application sees it.
 *
 * Interface to code in metrics.c, trec.c, datasets.c.
 */
#ifndef CAIRN_EVAL_H
#define CAIRN_EVAL_H

#include "base/base.h"

/* ---- ids ------------------------------------------------------------------------------ */

/* Flags for the readers. CN_IDS_NORMALIZE strips leading zeros from all-digit ids ("017" →
 * "17", "00" → "0") so that classic collections whose files disagree on padding match. */
enum { CN_IDS_NORMALIZE = 1 };

/* Copies id [s, s+n) into dst (cap bytes), normalised when flags has CN_IDS_NORMALIZE.
 * Returns the length written, or (size_t)-1 when it does not fit. */
size_t cn_eval_id_copy(char *dst, size_t cap, const char *s, size_t n, int flags);

/* ---- qrels (trec.c) ------------------------------------------------------------------- */

typedef struct cn_judgment {
	const char *doc_id;
	int rel; /* grade; <= 0 means judged non-relevant */
} cn_judgment;

typedef struct cn_qrels_query {
	const char *qid;
	cn_judgment *j;
	size_t n, cap;
	size_t num_rel; /* judgements with rel >= 1 */
} cn_qrels_query;

typedef struct cn_qrels {
	cn_strmap qids;           /* qid → index into queries (insertion order) */
	cn_qrels_query *queries;
	size_t queries_cap;
	cn_strmap pairs;          /* "qid\x1fdocid" → pair id; the last grade for a pair wins */
	uint32_t *pair_q, *pair_j;/* pair id → (query index, judgement index) */
	size_t pairs_cap;
	size_t n_rows;            /* judgement rows read, duplicates included */
	cn_arena arena;           /* doc id strings */
} cn_qrels;

typedef enum cn_qrels_format {
	CN_QRELS_AUTO = 0,  /* BEIR when the first line is a "query-id" header or has 3 columns,
	                       TREC when 4 columns */
	CN_QRELS_TREC = 1,  /* qid iter docid rel */
	CN_QRELS_BEIR = 2,  /* query-id<TAB>corpus-id<TAB>score, optional header */
	CN_QRELS_SMART = 3  /* qid docid 0 0.0: every listed pair is relevant (CISI.REL & co) */
} cn_qrels_format;

void cn_qrels_init(cn_qrels *q);
void cn_qrels_free(cn_qrels *q);
cairn_status cn_qrels_add(cn_qrels *q, const char *qid, size_t qlen, const char *doc_id,
                          size_t dlen, int rel, cn_err *err);
/* NULL when qid has no judgements. */
const cn_qrels_query *cn_qrels_find(const cn_qrels *q, const char *qid);
static inline size_t cn_qrels_nqueries(const cn_qrels *q) { return cn_strmap_count(&q->qids); }
size_t cn_qrels_judged_queries(const cn_qrels *q); /* queries with num_rel >= 1 */
size_t cn_qrels_judgments(const cn_qrels *q);      /* distinct (qid, docid) pairs */
/* Parses qrels text; name is used in messages ("qrels.txt:12: ..."). */
cairn_status cn_qrels_parse(cn_qrels *q, const char *data, size_t len, cn_qrels_format fmt,
                            int flags, const char *name, cn_err *err);
cairn_status cn_qrels_read(cn_qrels *q, const char *path, cn_qrels_format fmt, int flags,
                           cn_err *err);
/* For a 4-column file: CN_QRELS_SMART when every row's last two columns are zero
 * (qid docid 0 0.000000), CN_QRELS_TREC otherwise. */
cn_qrels_format cn_qrels_sniff_4col(const char *data, size_t len);

/* Appends every judgement as TREC qrels ("qid 0 docid grade"), queries and judgements in the
 * order they were read; a pair judged twice appears once, with the grade that counts. */
void cn_qrels_write(cn_buf *out, const cn_qrels *q);

/* ---- runs (trec.c) -------------------------------------------------------------------- */

typedef struct cn_ranked {
	const char *doc_id;
	double score;
} cn_ranked;

typedef struct cn_run_query {
	const char *qid;
	cn_ranked *docs;
	size_t n, cap;
} cn_run_query;

typedef struct cn_run {
	cn_strmap qids;
	cn_run_query *queries;
	size_t queries_cap;
	cn_arena arena;
} cn_run;

void cn_run_init(cn_run *r);
void cn_run_free(cn_run *r);
cairn_status cn_run_add(cn_run *r, const char *qid, const char *doc_id, double score, cn_err *err);
const cn_run_query *cn_run_find(const cn_run *r, const char *qid);
/* TREC run: "qid Q0 docid rank score tag" per line (rank and tag are not used: trec_eval
 * orders by score). A doc listed twice for one query is CAIRN_EFORMAT, as in trec_eval. */
cairn_status cn_run_parse(cn_run *r, const char *data, size_t len, int flags, const char *name,
                          cn_err *err);
cairn_status cn_run_read(cn_run *r, const char *path, int flags, cn_err *err);
/* Appends one query's ranking in the given order, ranks 1..n, scores printed so that they
 * read back to the same double (so ties and order survive a round trip). */
void cn_run_format_query(cn_buf *out, const char *qid, const cn_ranked *docs, size_t n,
                         const char *tag);

/* ---- measures (metrics.c) ------------------------------------------------------------- */

#define CN_EVAL_NCUT 7
extern const int cn_eval_cutoffs[CN_EVAL_NCUT]; /* 1, 3, 5, 10, 20, 100, 1000 */
int cn_eval_cut_index(int k);                   /* index of k in cn_eval_cutoffs, or -1 */

typedef struct cn_measures {
	double num_rel, num_ret, num_rel_ret;
	double map, rprec, recip_rank;   /* recip_rank: first relevant anywhere (trec_eval) */
	double ndcg[CN_EVAL_NCUT];       /* trec_eval ndcg_cut_k */
	double mrr[CN_EVAL_NCUT];        /* reciprocal rank of the first relevant within k */
	double recall[CN_EVAL_NCUT];
	double p[CN_EVAL_NCUT];
	double success[CN_EVAL_NCUT];
} cn_measures;

typedef enum cn_metric_kind {
	CN_M_NDCG = 0,
	CN_M_MRR,
	CN_M_RECALL,
	CN_M_P,
	CN_M_SUCCESS
} cn_metric_kind;

/* The kernels. grades: the grade of each retrieved document in rank order (0 for unjudged
 * or non-relevant); ideal: the positive grades of the query's judgements sorted
 * descending (num_rel of them). */
double cn_metric_cut(cn_metric_kind kind, size_t k, const int *grades, size_t n_ret,
                     const int *ideal, size_t num_rel);
double cn_metric_ap(const int *grades, size_t n_ret, size_t num_rel);
double cn_metric_rprec(const int *grades, size_t n_ret, size_t num_rel);
double cn_metric_recip_rank(const int *grades, size_t n_ret);

/* trec_eval's ordering: score descending, ties by doc id descending (strcmp). */
void cn_eval_trec_sort(cn_ranked *docs, size_t n);

enum { CN_EVAL_KEEP_ORDER = 1 }; /* trust the caller's order instead of trec_eval's sort */

/* Evaluates one query. docs may be reordered (sorted) in place unless CN_EVAL_KEEP_ORDER;
 * a doc id repeated further down the list is ignored (trec_eval refuses such runs).
 * judged may be NULL (nothing judged: all zeros). */
cairn_status cn_eval_query(const cn_qrels_query *judged, cn_ranked *docs, size_t n, int flags,
                           cn_measures *out, cn_err *err);

typedef struct cn_eval_summary {
	int64_t queries;
	cn_measures sum;
} cn_eval_summary;

void cn_eval_summary_init(cn_eval_summary *s);
void cn_eval_summary_add(cn_eval_summary *s, const cn_measures *m);
void cn_eval_summary_mean(const cn_eval_summary *s, cn_measures *mean);

/* Evaluates a whole run against qrels: every query with at least one relevant judgement,
 * run or not. run may be reordered. */
cairn_status cn_eval_run(const cn_qrels *qrels, cn_run *run, int flags, cn_measures *mean,
                         int64_t *n_queries, cn_err *err);

/* Lists the measures under trec_eval names ("map", "Rprec", "recip_rank", "P_10",
 * "recall_100", "ndcg_cut_10", "success_5", "mrr_cut_10", "num_rel", "num_ret",
 * "num_rel_ret"). Returns the number of entries (at most cap are written). */
size_t cn_measures_list(const cn_measures *m, const char **names, double *values, size_t cap);
#define CN_MEASURES_MAX (6 + 5 * CN_EVAL_NCUT)

/* ---- measure lists (measures.c) ------------------------------------------------------- */

/* A measure chosen by the user: trec_eval's name with any cutoff ("ndcg_cut.10", "P.5,10",
 * "recall.100", "map"). The kernels above compute each one; the list keeps the caller's
 * order so reports show measures the way they were asked for. */
typedef enum cn_mkind {
	CN_MK_NUM_REL = 0, CN_MK_NUM_RET, CN_MK_NUM_REL_RET, /* totals, not means */
	CN_MK_MAP, CN_MK_RPREC, CN_MK_RECIP_RANK, CN_MK_NDCG, /* ndcg: no cutoff */
	CN_MK_NDCG_CUT, CN_MK_MRR_CUT, CN_MK_P, CN_MK_RECALL, CN_MK_SUCCESS,
	CN_MK_VALUE /* an answer measure: measured per question elsewhere, carried here (em, f1, …) */
} cn_mkind;

/* How a measure reads: CN_MF_LOWER_BETTER (latency, tokens, cost: a rise is a regression);
 * CN_MF_UNBOUNDED (not a rate in [0, 1]: no bar on the 0..1 chart); CN_MF_TIMING (a wall-clock
 * time: it varies from run to run on the same machine, so the regression gate checks it only
 * when --tolerance names it). */
enum { CN_MF_LOWER_BETTER = 1, CN_MF_UNBOUNDED = 2, CN_MF_TIMING = 4 };

typedef struct cn_mspec {
	cn_mkind kind;
	size_t k;       /* cutoff for the _CUT kinds, P, recall, success; 0 otherwise */
	unsigned flags; /* CN_MF_* */
	char name[40];  /* trec_eval's output name: "ndcg_cut_10", "P_5", "map"; or the answer
	                   measure's name ("f1", "support_rate") */
} cn_mspec;

#define CN_MSPEC_MAX 64
#define CN_MSPEC_KMAX 100000
/* The common set reported when none is asked for. */
#define CN_MEASURES_DEFAULT                                                                     \
	"map,Rprec,recip_rank,mrr_cut.10,ndcg_cut.5,10,20,100,P.1,5,10,recall.10,100,1000,"         \
	"success.1,5,10,num_rel,num_ret,num_rel_ret"

/* Parses a comma-separated list (NULL or "" = CN_MEASURES_DEFAULT). A bare number after a
 * cut measure adds another cutoff of it ("P.5,10"); "P_5" is accepted as well as "P.5"; a
 * measure named twice is kept once. */
cairn_status cn_mspec_parse(const char *list, cn_mspec *out, size_t cap, size_t *n, cn_err *err);
/* One output name ("ndcg_cut_10", "map", or an answer measure such as "f1") back to its spec;
 * false when unknown. */
bool cn_mspec_from_name(const char *name, cn_mspec *out);
/* Answer measures, in report order: names[i] for i < n. */
size_t cn_answer_measures(const char *const **names);
static inline bool cn_mspec_is_total(const cn_mspec *m) { return m->kind <= CN_MK_NUM_REL_RET; }

/* Evaluates one query on every measure of m (values[i] for m[i]); docs are sorted in trec_eval
 * order in place unless CN_EVAL_KEEP_ORDER. A repeated doc id counts once, at its first rank. */
cairn_status cn_eval_query_specs(const cn_qrels_query *judged, cn_ranked *docs, size_t n, int flags,
                                 const cn_mspec *m, size_t nm, double *values, cn_err *err);

/* ---- results of a run: per-query values and provenance (result.c) ---------------------- */

#define CN_EVAL_TOPN 10

typedef struct cn_evq {
	char *qid;
	char *detail;       /* answer runs: a JSON object (question, answer, gold, sentences with
	                       verdicts, cited quotes) for the failures section; NULL otherwise */
	double latency_ms;  /* < 0: not measured (a scored run file) */
	char **top;         /* the first CN_EVAL_TOPN documents retrieved, in trec_eval order */
	int *top_grade;
	size_t ntop;
	char **rel;         /* judged relevant documents, by grade descending (CN_EVAL_TOPN) */
	int *rel_grade;
	size_t nrel;
} cn_evq;

struct cairn_eval_result {
	char *meta;             /* JSON object text: version, dataset and model fingerprints, config */
	cn_mspec m[CN_MSPEC_MAX];
	size_t nm;
	cn_evq *q;
	double *v;              /* nq × nm values, row by row */
	size_t nq, qcap;
	double *mean;           /* nm: means, or totals for num_* */
	bool has_report;
	cairn_eval_report report; /* the runner's summary (retrieval runs only) */
	bool answers;             /* an answer run (values per question; NaN = does not apply) */
};

cairn_eval_result *cn_evres_new(const cn_mspec *m, size_t nm, cn_err *err);
/* Appends a query: evaluates docs (reordered in place) against judged and keeps the values,
 * the top documents and the relevant ones. */
cairn_status cn_evres_add(cairn_eval_result *r, const char *qid, const cn_qrels_query *judged,
                          cn_ranked *docs, size_t n, double latency_ms, cn_err *err);
void cn_evres_finish(cairn_eval_result *r); /* computes the means (NaN values left out) */
/* Appends an empty query (its values row zeroed, latency unmeasured). */
cn_evq *cn_evres_push(cairn_eval_result *r, cn_err *err);
/* Scores a run against qrels: every query with a relevant judgement, in qrels order. */
cairn_status cn_evres_score(cairn_eval_result *r, const cn_qrels *qrels, cn_run *run, cn_err *err);
/* Queries with a value (not NaN) for measure j. */
size_t cn_evres_count(const cairn_eval_result *r, size_t j);
/* A per-query detail object as compact JSON text (cn_free). */
struct json_t;
cairn_status cn_evres_detail_copy(struct json_t *det, char **out, cn_err *err);
/* Index of the measure named name, or -1. */
int cn_evres_find(const cairn_eval_result *r, const char *name);
cairn_status cn_evres_parse(cairn_eval_result **out, const char *data, size_t len, const char *name,
                            cn_err *err);
/* A result from the per-question rows of an answer run (JSON Lines, answers.c); meta is the
 * provenance object's text or NULL. */
cairn_status cn_evres_from_answer_rows(cairn_eval_result **out, const char *data, size_t len, const char *name,
                                       const char *meta, cn_err *err);
/* True when data starts with a JSON object that is an answer run's row (it has "id" and
 * "answerable" and no "kind"). */
bool cn_evres_is_answer_rows(const char *data, size_t len);
/* Fingerprint of a file as a JSON object {"path","size","crc32c"} appended to b. */
cairn_status cn_fingerprint_json(cn_buf *b, const char *path, cn_err *err);
/* err's message into the caller's buffer (public entry points' errbuf), when there is one. */
void cn_eval_errbuf(char *errbuf, size_t n, const cn_err *err);
/* A rendered report handed to the caller: *text takes b's bytes (NUL-terminated), *len their
 * count; CAIRN_ENOMEM (message in errbuf) when b ran out of memory. b is empty after. */
cairn_status cn_eval_report_take(cn_buf *b, char **text, size_t *len, char *errbuf, size_t errbuf_size);
/* Latency percentile (nearest rank) over the measured queries; -1 when none. */
double cn_evres_latency(const cairn_eval_result *r, double p);

/* ---- statistics (compare.c) ------------------------------------------------------------ */

/* The generator both tests and tests/reference/eval_compare.py use: splitmix64. */
uint64_t cn_splitmix64(uint64_t *state);
/* Paired two-sided randomization test on the differences d[0..n): the share of sign-flip
 * permutations whose |mean| is >= the observed |mean| (1e-12 slack), counted as
 * (hits + 1) / (perms + 1). Each permutation draws one 64-bit word per 64 queries; query i
 * flips when bit i % 64 of its word is set. */
double cn_randomization_p(const double *d, size_t n, int perms, uint64_t seed);
/* Percentile bootstrap of the mean of d: B resamples, index = (word * n) >> 64; lo/hi are
 * the sorted means at 0-based indexes floor(0.025 B) and ceil(0.975 B) - 1. False: no memory. */
bool cn_bootstrap_ci(const double *d, size_t n, int B, uint64_t seed, double *lo, double *hi);

/* ---- comparisons and reports (compare.c, report.c) ------------------------------------- */

typedef struct cn_cmp_row {
	char name[40];
	unsigned flags;         /* the measure's CN_MF_* */
	size_t ia, ib;          /* measure index in a and in b */
	size_t n;               /* query pairs with a value on both sides (answer measures skip
	                           questions where one does not apply) */
	double mean_a, mean_b, diff, p, lo, hi, tol;
	int wins, losses, ties; /* b better / worse / equal than a, query by query (lower is better
	                           for CN_MF_LOWER_BETTER measures) */
	bool gated, regressed;
} cn_cmp_row;

struct cairn_eval_comparison {
	const cairn_eval_result *a, *b; /* borrowed: the caller keeps them until the free */
	cn_cmp_row rows[CN_MSPEC_MAX];
	size_t nrows;
	size_t *qa, *qb, nq;            /* the queries both scored: index in a, index in b */
	size_t only_a, only_b;          /* queries scored by one run only (left out) */
	cairn_eval_compare_params params;
	int regressions;
};

/* One self-contained HTML page for a result (c NULL) or a comparison (r = c->b). */
void cn_report_html(cn_buf *b, const cairn_eval_result *r, const cairn_eval_comparison *c);
/* Markdown for a comparison. */
void cn_report_md_compare(cn_buf *b, const cairn_eval_comparison *c);
/* "0.6789" or "-" for NaN, in a fixed 4-decimal form every report uses. */
void cn_report_num(cn_buf *b, double v);

/* ---- datasets (datasets.c) ------------------------------------------------------------ */

typedef struct cn_doc {
	const char *id;
	const char *title; /* "" when none */
	const char *text;  /* "" when none */
	size_t text_len;
} cn_doc;

typedef struct cn_query {
	const char *id;
	const char *text;
} cn_query;

typedef struct cn_dataset {
	char format[32]; /* "beir", "smart", "npl", "time", "lisa" */
	cn_doc *docs;
	size_t n_docs, docs_cap;
	cn_query *queries;
	size_t n_queries, queries_cap;
	cn_qrels qrels;
	cn_strmap doc_ids;
	cn_strmap query_ids;
	cn_arena arena;
	size_t n_records;    /* document records read (before dropping duplicates) */
	size_t n_duplicates; /* document records dropped because their id was already seen */
	size_t n_headerless; /* LISA records without a "Document <id>" line (dropped) */
} cn_dataset;

void cn_dataset_init(cn_dataset *ds);
void cn_dataset_free(cn_dataset *ds);
/* Recognises the layout of dir and writes its name ("beir", …) into format. */
cairn_status cn_dataset_detect(const char *dir, char *format, size_t cap, cn_err *err);
/* Loads dir. split names the BEIR qrels file (qrels/<split>.tsv; NULL = "test"). Every
 * judged query must exist in the query file. */
cairn_status cn_dataset_load(cn_dataset *ds, const char *dir, const char *split, cn_err *err);

/* The per-format parsers, on text already in memory (name is used in messages). */
cairn_status cn_dataset_add_doc(cn_dataset *ds, const char *id, size_t id_len, const char *title,
                                size_t title_len, const char *text, size_t text_len, int flags,
                                cn_err *err);
cairn_status cn_dataset_add_query(cn_dataset *ds, const char *id, size_t id_len,
                                  const char *text, size_t text_len, int flags, cn_err *err);
/* SMART records (.I/.T/.W/...). as_queries: text = .T + .W; else title = .T,
 * text = .W + .K. */
cairn_status cn_smart_parse(cn_dataset *ds, const char *data, size_t len, int as_queries,
                            const char *name, cn_err *err);
/* NPL: records ended by a line "/"; first line the id. what: 0 docs, 1 queries, 2 qrels. */
cairn_status cn_npl_parse(cn_dataset *ds, const char *data, size_t len, int what,
                          const char *name, cn_err *err);
/* TIME: *TEXT / *FIND records up to *STOP (what: 0 docs, 1 queries); TIME.REL (2). */
cairn_status cn_time_parse(cn_dataset *ds, const char *data, size_t len, int what,
                           const char *name, cn_err *err);
/* LISA: document files (what 0), LISA.QUE (1), LISA.REL (2), LISARJ.NUM (3). */
cairn_status cn_lisa_parse(cn_dataset *ds, const char *data, size_t len, int what,
                           const char *name, cn_err *err);
/* BEIR JSON Lines (what: 0 corpus, 1 queries). */
cairn_status cn_beir_parse(cn_dataset *ds, const char *data, size_t len, int what,
                           const char *name, cn_err *err);

/* ---- line reading (trec.c) ------------------------------------------------------------ */

/* Iterates lines of [data, data+len): strips "\n" and a trailing "\r". */
typedef struct cn_lines {
	const char *p, *end;
	size_t lineno; /* of the line last returned, 1-based */
} cn_lines;

void cn_lines_init(cn_lines *it, const char *data, size_t len);
bool cn_lines_next(cn_lines *it, const char **line, size_t *n);
/* Whitespace tokenizer over one line: returns false at the end. */
bool cn_next_token(const char **p, const char *end, const char **tok, size_t *n);
/* Strict integer / number parsing of a whole token. */
bool cn_parse_i64(const char *s, size_t n, int64_t *out);
bool cn_parse_double(const char *s, size_t n, double *out);

#endif
