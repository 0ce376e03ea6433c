/*
 * bench_fts5.c — the SQLite FTS5 baseline of the BM25 benchmark.
 *
 * The table is the one an application would write for keyword search over title and text:
 * fts5(title, text, tokenize='porter unicode61'), filled in one transaction through one
 * prepared statement, the database in WAL mode with synchronous=NORMAL. The build time
 * ends after COMMIT and a TRUNCATE checkpoint, so the index is in the main database file
 * and synced, as cairn's segments are synced at commit. Queries are an OR of the query's
 * words, each double-quoted (so words such as OR/NOT stay words), ranked by bm25() —
 * FTS5's fixed k1 = 1.2, b = 0.75. Building the MATCH string is inside the timed region:
 * it is part of answering a query string, as cairn_search's own analysis is.
 *
 * Usage: bench_fts5 CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]
 * Prints one JSON line (bench_common.h).
 */
#include "bench_common.h"

#include <sqlite3.h>

typedef struct fts_ctx {
	sqlite3 *db;
	sqlite3_stmt *q;
	char *match;
	size_t match_cap;
} fts_ctx;

static void fts_check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		bench_die(what, sqlite3_errmsg(db));
}

static void fts_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		bench_die(sql, msg);
}

/* '"w1" OR "w2" …' from the query's words: runs of ASCII letters/digits or non-ASCII bytes
 * (unicode61's separators are ASCII punctuation and spaces). Words hold no quote, so no
 * escaping is needed; an empty result means the query has no words. */
static const char *fts_match_string(fts_ctx *c, const char *q)
{
	size_t need = strlen(q) * 6 + 16;
	if (need > c->match_cap) {
		c->match = realloc(c->match, need);
		if (!c->match)
			bench_die("match", "out of memory");
		c->match_cap = need;
	}
	char *o = c->match;
	int first = 1;
	const unsigned char *p = (const unsigned char *)q;
	while (*p) {
		while (*p && *p < 0x80 && !((*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
			p++;
		if (!*p)
			break;
		if (!first) {
			memcpy(o, " OR ", 4);
			o += 4;
		}
		first = 0;
		*o++ = '"';
		while (*p && (*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
			*o++ = (char)*p++;
		*o++ = '"';
	}
	*o = '\0';
	return c->match;
}

static long fts_search(void *ctx, const char *query, int k, FILE *rec, const char *qid)
{
	fts_ctx *c = ctx;
	const char *m = fts_match_string(c, query);
	if (!m[0])
		return 0;
	sqlite3_reset(c->q);
	sqlite3_bind_text(c->q, 1, m, -1, SQLITE_STATIC);
	sqlite3_bind_int(c->q, 2, k);
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(c->q)) == SQLITE_ROW) {
		sqlite3_int64 rowid = sqlite3_column_int64(c->q, 0);
		volatile double score = sqlite3_column_double(c->q, 1);
		(void)score;
		if (rec)
			fprintf(rec, "%s\t%ld\t#%lld\n", qid, n + 1, (long long)rowid);
		n++;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "bench_fts5: query %s (%s): %s\n", qid, m, sqlite3_errmsg(c->db));
		return -1;
	}
	return n;
}

/* Rewrites "#rowid" in the recorded file into corpus ids (rowid = record ordinal). */
static void fts_map_ids(const char *corpus, const char *path, long ndocs)
{
	char **ids = calloc((size_t)ndocs + 1, sizeof *ids);
	if (!ids)
		bench_die("ids", "out of memory");
	bench_reader r;
	bench_reader_open(&r, corpus);
	bench_doc d;
	long i = 0;
	while (i < ndocs && bench_reader_next(&r, &d))
		ids[++i] = strdup(d.id);
	bench_reader_close(&r);
	FILE *in = fopen(path, "r");
	if (!in)
		bench_die(path, strerror(errno));
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *out = fopen(tmp, "w");
	if (!out)
		bench_die(tmp, strerror(errno));
	char qid[1024];
	long rank;
	long long rowid;
	while (fscanf(in, "%1023s\t%ld\t#%lld\n", qid, &rank, &rowid) == 3)
		fprintf(out, "%s\t%ld\t%s\n", qid, rank, rowid >= 1 && rowid <= ndocs ? ids[rowid] : "?");
	fclose(in);
	fclose(out);
	rename(tmp, path);
	for (long j = 0; j <= ndocs; j++)
		free(ids[j]);
	free(ids);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_fts5 CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]\n");
		return 2;
	}
	const char *corpus = argv[1], *qpath = argv[2], *work = argv[3], *name = argv[4];
	const char *recpath = argc > 5 ? argv[5] : NULL;
	size_t nq;
	bench_query *queries = bench_load_queries(qpath, &nq);

	char dbpath[4096], side[4200];
	mkdir(work, 0755);
	snprintf(dbpath, sizeof dbpath, "%s/fts5.db", work);
	unlink(dbpath);
	snprintf(side, sizeof side, "%s-wal", dbpath);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", dbpath);
	unlink(side);

	bench_result res;
	memset(&res, 0, sizeof res);
	res.engine = "fts5";
	res.corpus = name;
	res.queries = nq;

	double t0 = bench_now();
	sqlite3 *db;
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		bench_die(dbpath, sqlite3_errmsg(db));
	fts_exec(db, "PRAGMA journal_mode=WAL");
	fts_exec(db, "PRAGMA synchronous=NORMAL");
	fts_exec(db, "CREATE VIRTUAL TABLE docs USING fts5(title, text, tokenize='porter unicode61')");
	fts_exec(db, "BEGIN");
	sqlite3_stmt *ins;
	fts_check(db, sqlite3_prepare_v2(db, "INSERT INTO docs(rowid, title, text) VALUES(?1, ?2, ?3)", -1, &ins, NULL),
	          "prepare insert");
	bench_reader rd;
	bench_reader_open(&rd, corpus);
	bench_doc d;
	long n = 0;
	while (bench_reader_next(&rd, &d)) {
		n++;
		sqlite3_bind_int64(ins, 1, n);
		sqlite3_bind_text(ins, 2, d.title, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, d.text, (int)d.text_len, SQLITE_STATIC);
		fts_check(db, sqlite3_step(ins), "insert");
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	fts_exec(db, "COMMIT");
	fts_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	double total = bench_now() - t0;
	res.load_s = rd.load_s;
	res.build_s = total - rd.load_s;
	bench_reader_close(&rd);
	res.docs = n;
	res.rss_after_build_mb = bench_peak_rss_mb();
	res.index_bytes = bench_du(dbpath);
	snprintf(side, sizeof side, "%s-wal", dbpath);
	res.index_bytes += bench_du(side);

	fts_ctx c;
	memset(&c, 0, sizeof c);
	c.db = db;
	fts_check(db, sqlite3_prepare_v2(db,
	                                 "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?1 "
	                                 "ORDER BY bm25(docs) LIMIT ?2",
	                                 -1, &c.q, NULL),
	          "prepare query");
	bench_time_queries(fts_search, &c, queries, nq, 10, &res.p50_10, &res.p95_10, &res.mean_10, &res.mean_hits_10);
	bench_time_queries(fts_search, &c, queries, nq, 1000, &res.p50_1000, &res.p95_1000, &res.mean_1000, NULL);
	res.peak_rss_mb = bench_peak_rss_mb();
	bench_record(fts_search, &c, queries, nq, 10, recpath);
	sqlite3_finalize(c.q);
	sqlite3_close(db);
	free(c.match);
	if (recpath)
		fts_map_ids(corpus, recpath, n);
	bench_print(&res);
	for (size_t i = 0; i < nq; i++) {
		free(queries[i].id);
		free(queries[i].text);
	}
	free(queries);
	return 0;
}
