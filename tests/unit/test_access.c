/*
 * Access control, principals, API keys and the audit trail.
 *
 * The access test is randomized: documents with random groups (some with none), principals
 * with random groups (some admins), and thousands of queries through every retrieval path —
 * BM25, BM25+RM3, dense, hybrid, hybrid+rerank, collapsed, ids-only, cairn_ask with
 * --explain output, document fetch — in both ACL modes. The expectation is computed here
 * independently from the generated groups; every document id and every document's unique
 * marker word that reaches any output must belong to a document the principal may see.
 * Dense paths need the generated embedding model (make_encoder_gguf.py with the bert-bge
 * vocabulary from ../shared); without it they are skipped and BM25 paths still run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn.h"
#include "testutil.h"

#define PY "/usr/bin/python3"
#if defined(__SANITIZE_ADDRESS__)
#define SAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_BUILD 1
#endif
#endif
#ifndef SAN_BUILD
#define SAN_BUILD 0
#endif

#define N_DOCS 160
#define N_GROUPS 6
#define N_PRINC 24

static const char *const WORDS[] = {
	"river", "stone", "budget", "salary", "launch", "rocket", "canteen", "lunch", "policy", "travel",
	"invoice", "server", "cluster", "backup", "holiday", "contract", "vendor", "laptop", "badge", "office",
	"meeting", "report", "quarter", "audit", "pension", "insurance", "parking", "printer", "network", "release",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

typedef struct world {
	char dir[256];
	char emb[512], rr[512];
	bool dense;
	unsigned doc_groups[N_DOCS];  /* bit g = group g; 0 = none */
	unsigned princ_groups[N_PRINC];
	bool princ_admin[N_PRINC];
	char names[N_PRINC][16];
} world;

static world W;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static bool allowed(int princ, int doc, bool closed)
{
	if (W.princ_admin[princ])
		return true;
	if (W.doc_groups[doc] == 0)
		return !closed;
	return (W.doc_groups[doc] & W.princ_groups[princ]) != 0;
}

/* Every "zqNNNNx" marker and "docNNNN" id in text must be visible to princ. Returns the
 * number of distinct documents seen; fails the test on a leak. */
static int check_text(const char *text, int princ, bool closed, const char *what)
{
	int seen = 0;
	for (const char *p = text; (p = strstr(p, "zq")) != NULL; p += 2) {
		int d, end = 0;
		/* a snippet may cut a marker short ("zq0 …"): only whole ones count */
		if (sscanf(p, "zq%4dx%n", &d, &end) == 1 && end == 7 && d >= 0 && d < N_DOCS) {
			if (!allowed(princ, d, closed))
				fail_msg("%s: principal %s sees marker of doc%04d (groups %x, principal's %x, %s) in [%.300s]", what,
				         W.names[princ], d, W.doc_groups[d], W.princ_groups[princ], closed ? "closed" : "open", text);
			seen++;
		}
	}
	for (const char *p = text; (p = strstr(p, "doc")) != NULL; p += 3) {
		int d, end = 0;
		if (sscanf(p, "doc%4d%n", &d, &end) == 1 && end == 7 && d >= 0 && d < N_DOCS && !allowed(princ, d, closed))
			fail_msg("%s: principal %s sees id doc%04d", what, W.names[princ], d);
	}
	return seen;
}

static int setup(void **state)
{
	(void)state;
	if (cn_test_mkdtemp(W.dir, sizeof W.dir, "access") != 0)
		return -1;
	const char *shared = cn_test_shared_dir();
	char vocab[512] = "";
	if (shared)
		snprintf(vocab, sizeof vocab, "%s/models/vocab/ggml-vocab-bert-bge.gguf", shared);
	snprintf(W.emb, sizeof W.emb, "%s/emb.gguf", W.dir);
	snprintf(W.rr, sizeof W.rr, "%s/rr.gguf", W.dir);
	struct stat sb;
	if (*vocab && stat(vocab, &sb) == 0 && access(PY, X_OK) == 0) {
		char cmd[4096];
		const char *small = "--layers 1 --hidden 32 --heads 2 --ff 64 --ctx 128";
		snprintf(cmd, sizeof cmd,
		         PY " tests/reference/make_encoder_gguf.py model '%s' --vocab '%s' --type F32 %s >/dev/null && "
		         PY " tests/reference/make_encoder_gguf.py model '%s' --vocab '%s' --type F32 %s --pooling rank "
		         "--labels 1 >/dev/null",
		         W.emb, vocab, small, W.rr, vocab, small);
		W.dense = system(cmd) == 0;
	}
	if (!W.dense)
		fprintf(stderr, "test_access: no generated embedding model (needs ../shared and numpy): dense paths "
		                "skipped\n");
	for (int d = 0; d < N_DOCS; d++) {
		W.doc_groups[d] = rnd(5) == 0 ? 0 : (1u << rnd(N_GROUPS)) | (rnd(3) == 0 ? 1u << rnd(N_GROUPS) : 0);
	}
	for (int p = 0; p < N_PRINC; p++) {
		snprintf(W.names[p], sizeof W.names[p], "user%02d", p);
		W.princ_admin[p] = p % 11 == 5;
		W.princ_groups[p] = rnd(6) == 0 ? 0 : (1u << rnd(N_GROUPS)) | (rnd(2) == 0 ? 1u << rnd(N_GROUPS) : 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cn_test_rmtree(W.dir);
	return 0;
}

static const char *GROUP_NAMES[N_GROUPS] = {"hr", "eng", "legal", "sales", "ops", "exec"};

static cairn_kb *build_kb(void)
{
	char kbdir[300];
	snprintf(kbdir, sizeof kbdir, "%s/kb", W.dir);
	cairn_kb_params kp = cairn_kb_default_params();
	cairn_kb *kb = NULL;
	char err[512];
	assert_int_equal(cairn_kb_open(kbdir, &kp, &kb, err, sizeof err), CAIRN_OK);
	char text[2048];
	for (int d = 0; d < N_DOCS; d++) {
		cairn_ingest_params ip = cairn_ingest_default_params();
		if (W.dense)
			ip.embed_model = W.emb;
		const char *g[N_GROUPS];
		size_t ng = 0;
		for (int i = 0; i < N_GROUPS; i++)
			if (W.doc_groups[d] & (1u << i))
				g[ng++] = GROUP_NAMES[i];
		ip.acl = ng ? g : NULL;
		ip.n_acl = ng;
		size_t len = (size_t)snprintf(text, sizeof text, "The zq%04dx record of doc%04d.", d, d);
		for (int s = 0; s < 3; s++) {
			len += (size_t)snprintf(text + len, sizeof text - len, " The");
			for (int w = 0; w < 8; w++)
				len += (size_t)snprintf(text + len, sizeof text - len, " %s", WORDS[rnd(N_WORDS)]);
			len += (size_t)snprintf(text + len, sizeof text - len, " is noted for zq%04dx.", d);
		}
		char id[16], title[32];
		snprintf(id, sizeof id, "doc%04d", d);
		snprintf(title, sizeof title, "Title doc%04d", d);
		cairn_record r = {.doc_id = id, .title = title, .text = text, .text_len = len};
		assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
	}
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	for (int p = 0; p < N_PRINC; p++) {
		const char *g[N_GROUPS];
		size_t ng = 0;
		for (int i = 0; i < N_GROUPS; i++)
			if (W.princ_groups[p] & (1u << i))
				g[ng++] = GROUP_NAMES[i];
		assert_int_equal(cairn_principal_set(kb, W.names[p], g, ng, W.princ_admin[p] ? CAIRN_PERM_ADMIN : 0),
		                 CAIRN_OK);
	}
	return kb;
}

/* The principal's search groups as the CLI's --as resolves them. */
static void resolve(cairn_kb *kb, int p, cairn_principal **who, const char *const **groups, size_t *n)
{
	static const char *const none[1];
	assert_int_equal(cairn_principal_get(kb, W.names[p], who), CAIRN_OK);
	if ((*who)->perms & CAIRN_PERM_ADMIN) {
		*groups = NULL;
		*n = 0;
	} else {
		*groups = (*who)->n_groups ? (const char *const *)(*who)->groups : none;
		*n = (*who)->n_groups;
	}
}

static void run_queries(cairn_kb *kb, bool closed, int n_queries)
{
	int leaks_checked = 0, hits_total = 0;
	for (int qi = 0; qi < n_queries; qi++) {
		int p = (int)rnd(N_PRINC);
		cairn_principal *who;
		const char *const *groups;
		size_t ng;
		resolve(kb, p, &who, &groups, &ng);
		char query[128];
		snprintf(query, sizeof query, "%s %s %s", WORDS[rnd(N_WORDS)], WORDS[rnd(N_WORDS)], WORDS[rnd(N_WORDS)]);
		int path = (int)rnd(W.dense ? 9 : 5);
		if (path == 8) {
			/* document fetch: found exactly when allowed */
			int d = (int)rnd(N_DOCS);
			char id[16];
			snprintf(id, sizeof id, "doc%04d", d);
			cairn_document *doc = NULL;
			cairn_status st = cairn_kb_get_document(kb, id, groups, ng, W.names[p], &doc);
			assert_int_equal(st, allowed(p, d, closed) ? CAIRN_OK : CAIRN_ENOTFOUND);
			if (doc) {
				for (size_t i = 0; i < doc->n_chunks; i++)
					check_text(doc->chunks[i].text, p, closed, "fetch");
				cairn_document_free(doc);
			}
		} else if (path == 4 || path == 7) {
			cairn_ask_params ap = cairn_ask_default_params();
			ap.groups = groups;
			ap.n_groups = ng;
			ap.principal = W.names[p];
			ap.min_confidence = 0;
			if (path == 7)
				ap.retrieval = CAIRN_SEARCH_HYBRID;
			cairn_answer *a = NULL;
			assert_int_equal(cairn_ask(kb, query, &ap, &a), CAIRN_OK);
			char *js = cairn_answer_to_json(a, 1);
			assert_non_null(js);
			hits_total += check_text(js, p, closed, "ask --explain");
			cairn_free(js);
			cairn_answer_free(a);
		} else {
			cairn_search_params sp = cairn_search_default_params();
			sp.groups = groups;
			sp.n_groups = ng;
			sp.principal = W.names[p];
			sp.k = 20;
			sp.with_text = 1;
			switch (path) {
			case 0: break;
			case 1: sp.rm3 = 1; break;
			case 2: sp.collapse_documents = 1; break;
			case 3: sp.ids_only = 1; break;
			case 5: sp.mode = CAIRN_SEARCH_DENSE; break;
			case 6:
				sp.mode = CAIRN_SEARCH_HYBRID;
				if (rnd(2)) {
					sp.rerank_model = W.rr;
					sp.rerank_top = 10;
				}
				break;
			}
			cairn_results *r = NULL;
			assert_int_equal(cairn_search(kb, query, &sp, &r), CAIRN_OK);
			for (size_t i = 0; i < cairn_results_count(r); i++) {
				const cairn_hit *h = cairn_results_get(r, i);
				int d = -1;
				assert_int_equal(sscanf(h->doc_id, "doc%4d", &d), 1);
				if (!allowed(p, d, closed))
					fail_msg("search path %d: principal %s got doc%04d", path, W.names[p], d);
				if (h->text)
					check_text(h->text, p, closed, "hit text");
				if (h->snippet)
					check_text(h->snippet, p, closed, "snippet");
				hits_total++;
			}
			char *js = cairn_results_to_json(r);
			assert_non_null(js);
			check_text(js, p, closed, "search json");
			cairn_free(js);
			cairn_results_free(r);
		}
		leaks_checked++;
		cairn_principal_free(who);
	}
	/* the test must have exercised something: results do come back */
	assert_true(hits_total > n_queries);
	fprintf(stderr, "test_access: %d queries (%s mode), %d results checked\n", leaks_checked,
	        closed ? "closed" : "open", hits_total);
}

static void test_randomized_access(void **state)
{
	(void)state;
	cairn_kb *kb = build_kb();
	int n = SAN_BUILD ? 500 : 2000;
	assert_int_equal(cairn_kb_acl_closed(kb), 0);
	run_queries(kb, false, n);
	assert_int_equal(cairn_kb_set_acl_closed(kb, 1), CAIRN_OK);
	assert_int_equal(cairn_kb_acl_closed(kb), 1);
	run_queries(kb, true, n);
	cairn_kb_close(kb);
}

static void test_principals_and_keys(void **state)
{
	(void)state;
	char kbdir[300];
	snprintf(kbdir, sizeof kbdir, "%s/kb-keys", W.dir);
	cairn_kb_params kp = cairn_kb_default_params();
	cairn_kb *kb = NULL;
	assert_int_equal(cairn_kb_open(kbdir, &kp, &kb, NULL, 0), CAIRN_OK);
	const char *g[] = {"hr", "eng"};
	assert_int_equal(cairn_principal_set(kb, "alice", g, 2, CAIRN_PERM_REHYDRATE), CAIRN_OK);
	assert_int_equal(cairn_principal_set(kb, "bad name", g, 1, 0), CAIRN_EINVAL);
	const char *badg[] = {"a,b"};
	assert_int_equal(cairn_principal_set(kb, "bob", badg, 1, 0), CAIRN_EINVAL);
	cairn_principal *p = NULL;
	assert_int_equal(cairn_principal_get(kb, "alice", &p), CAIRN_OK);
	assert_int_equal(p->n_groups, 2);
	assert_string_equal(p->groups[0], "eng"); /* sorted */
	assert_int_equal(p->perms, CAIRN_PERM_REHYDRATE);
	cairn_principal_free(p);
	assert_int_equal(cairn_principal_get(kb, "nobody", &p), CAIRN_ENOTFOUND);
	assert_null(p);

	char *key = NULL, *key2 = NULL;
	assert_int_equal(cairn_api_key_create(kb, "alice", &key), CAIRN_OK);
	assert_int_equal(cairn_api_key_create(kb, "alice", &key2), CAIRN_OK);
	char *nokey = NULL;
	assert_int_equal(cairn_api_key_create(kb, "nobody", &nokey), CAIRN_ENOTFOUND);
	assert_null(nokey);
	assert_string_not_equal(key, key2);
	assert_int_equal(strncmp(key, "ck_", 3), 0);
	assert_int_equal(cairn_api_key_lookup(kb, key, &p), CAIRN_OK);
	assert_string_equal(p->name, "alice");
	cairn_principal_free(p);
	/* a key with one character changed, truncated, or of the wrong shape is unknown */
	char forged[128];
	snprintf(forged, sizeof forged, "%s", key);
	forged[strlen(forged) - 1] ^= 1;
	assert_int_equal(cairn_api_key_lookup(kb, forged, &p), CAIRN_ENOTFOUND);
	forged[strlen(forged) - 1] = '\0';
	assert_int_equal(cairn_api_key_lookup(kb, forged, &p), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_api_key_lookup(kb, "", &p), CAIRN_ENOTFOUND);
	/* revoking by id: that key stops working, the other does not */
	char id[13];
	memcpy(id, key + 3, 12);
	id[12] = '\0';
	assert_int_equal(cairn_api_key_revoke(kb, id), CAIRN_OK);
	assert_int_equal(cairn_api_key_lookup(kb, key, &p), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_api_key_revoke(kb, id), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_api_key_lookup(kb, key2, &p), CAIRN_OK);
	cairn_principal_free(p);
	/* the catalog never holds the key itself */
	char cat[400];
	snprintf(cat, sizeof cat, "%s/catalog.db", kbdir);
	cairn_kb_close(kb);
	FILE *f = fopen(cat, "rb");
	assert_non_null(f);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	for (size_t i = 0; i + 20 < n; i++)
		assert_false(memcmp(buf + i, key2 + 16, 20) == 0);
	assert_int_equal(cairn_kb_open(kbdir, &kp, &kb, NULL, 0), CAIRN_OK);
	/* removing the principal removes its keys */
	assert_int_equal(cairn_principal_remove(kb, "alice"), CAIRN_OK);
	assert_int_equal(cairn_api_key_lookup(kb, key2, &p), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_principal_remove(kb, "alice"), CAIRN_ENOTFOUND);
	unsigned perms;
	assert_int_equal(cairn_perms_parse("audit,admin", &perms), CAIRN_OK);
	assert_int_equal(perms, CAIRN_PERM_AUDIT | CAIRN_PERM_ADMIN);
	assert_int_equal(cairn_perms_parse("audit,root", &perms), CAIRN_EINVAL);
	char pf[64];
	cairn_perms_format(CAIRN_PERM_AUDIT | CAIRN_PERM_REHYDRATE, pf, sizeof pf);
	assert_string_equal(pf, "rehydrate,audit");
	cairn_free(key);
	cairn_free(key2);
	cairn_kb_close(kb);
}

/* ---- audit ---- */

static void sql(const char *db, const char *stmt)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", db, stmt);
	assert_int_equal(system(cmd), 0);
}

static cairn_kb *audited_kb(const char *name, int n_records)
{
	char kbdir[300];
	snprintf(kbdir, sizeof kbdir, "%s/%s", W.dir, name);
	cairn_kb_params kp = cairn_kb_default_params();
	cairn_kb *kb = NULL;
	assert_int_equal(cairn_kb_open(kbdir, &kp, &kb, NULL, 0), CAIRN_OK);
	cairn_record r = {.doc_id = "d1", .text = "the canteen serves lunch at noon", .text_len = 32};
	cairn_ingest_params ip = cairn_ingest_default_params();
	assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	assert_int_equal(cairn_audit_enable(kb, 1, 0), CAIRN_OK);
	for (int i = 1; i < n_records; i++) {
		cairn_search_params sp = cairn_search_default_params();
		sp.principal = i % 2 ? "alice" : "bob";
		cairn_results *res;
		assert_int_equal(cairn_search(kb, i % 3 ? "lunch" : "canteen noon", &sp, &res), CAIRN_OK);
		cairn_results_free(res);
	}
	return kb;
}

typedef struct rec_count {
	int n;
	int with_chunks;
	char last[4096];
} rec_count;

static int count_rec(int64_t seq, const char *json, const char *hash, void *ud)
{
	(void)seq;
	(void)hash;
	rec_count *c = ud;
	c->n++;
	if (strstr(json, "\"chunks\":["))
		c->with_chunks++;
	snprintf(c->last, sizeof c->last, "%s", json);
	return 0;
}

static void test_audit_chain_and_tampering(void **state)
{
	(void)state;
	cairn_kb *kb = audited_kb("kb-audit", 12);
	cairn_audit_report r;
	assert_int_equal(cairn_audit_verify(kb, NULL, &r), CAIRN_OK);
	assert_true(r.ok);
	assert_int_equal(r.records, 12); /* enable + 11 searches */
	assert_int_equal(r.last_seq, 12);
	char head[128];
	snprintf(head, sizeof head, "%lld %s", (long long)r.last_seq, r.head);
	rec_count c = {0};
	assert_int_equal(cairn_audit_read(kb, 0, 0, count_rec, &c), CAIRN_OK);
	assert_int_equal(c.n, 12);
	assert_int_equal(c.with_chunks, 11);
	assert_non_null(strstr(c.last, "\"principal\":\"alice\""));
	assert_non_null(strstr(c.last, "\"action\":\"search\""));
	/* asks are recorded once (not also as their inner search) */
	cairn_ask_params ap = cairn_ask_default_params();
	ap.principal = "carol";
	cairn_answer *a;
	assert_int_equal(cairn_ask(kb, "when is lunch served", &ap, &a), CAIRN_OK);
	cairn_answer_free(a);
	memset(&c, 0, sizeof c);
	assert_int_equal(cairn_audit_read(kb, 12, 0, count_rec, &c), CAIRN_OK);
	assert_int_equal(c.n, 1);
	assert_non_null(strstr(c.last, "\"action\":\"ask\""));
	assert_non_null(strstr(c.last, "\"answer\":"));
	assert_non_null(strstr(c.last, "\"principal\":\"carol\""));
	assert_int_equal(cairn_audit_verify(kb, head, &r), CAIRN_OK); /* an earlier head is still in the chain */
	char kbdir[300], db[400], copy[400], cmd[4096];
	snprintf(kbdir, sizeof kbdir, "%s/kb-audit", W.dir);
	snprintf(db, sizeof db, "%s/audit.db", kbdir);
	cairn_kb_close(kb);

	static const struct {
		const char *name;
		const char *sql;
		const char *expect; /* in the problem text */
	} T[] = {
		{"edit", "UPDATE audit SET record = replace(record, 'alice', 'mallory') WHERE seq = 4", "edited"},
		{"edit-hash", "UPDATE audit SET record = replace(record, 'alice', 'mallory'), hash = 'ab' WHERE seq = 4",
		 "edited"},
		{"delete", "DELETE FROM audit WHERE seq = 6", "gap"},
		{"reorder", "UPDATE audit SET seq = 100 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5; "
		            "UPDATE audit SET seq = 5 WHERE seq = 100", "chain"},
		{"truncate", "DELETE FROM audit WHERE seq >= 10", "truncated"},
		{"renumber", "UPDATE audit SET seq = seq + 1 WHERE seq = 13", "gap"},
	};
	for (size_t t = 0; t < sizeof T / sizeof T[0]; t++) {
		snprintf(copy, sizeof copy, "%s/tamper-%s", W.dir, T[t].name);
		snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, kbdir, copy);
		assert_int_equal(system(cmd), 0);
		char cdb[500];
		snprintf(cdb, sizeof cdb, "%s/audit.db", copy);
		sql(cdb, T[t].sql);
		cairn_kb *k2 = NULL;
		assert_int_equal(cairn_kb_open(copy, &(cairn_kb_params){.create = 0, .read_only = 1}, &k2, NULL, 0),
		                 CAIRN_OK);
		if (cairn_audit_verify(k2, NULL, &r) != CAIRN_ECORRUPT)
			fail_msg("%s: tampering not detected", T[t].name);
		assert_false(r.ok);
		if (!strstr(r.problem, T[t].expect))
			fail_msg("%s: problem \"%s\" lacks \"%s\"", T[t].name, r.problem, T[t].expect);
		cairn_kb_close(k2);
	}
	/* an editor who also recomputes the edited record's hash breaks the next link */
	if (access(PY, X_OK) == 0) {
		snprintf(copy, sizeof copy, "%s/tamper-rehash", W.dir);
		snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, kbdir, copy);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof cmd,
		         PY " -c \"import sqlite3,hashlib,sys; c=sqlite3.connect(sys.argv[1]); "
		         "r,p=c.execute('select record,prev from audit where seq=4').fetchone(); r=r.replace('alice','mallory'); "
		         "c.execute('update audit set record=?,hash=? where seq=4',(r,hashlib.sha256((p+chr(10)+r).encode())"
		         ".hexdigest())); c.commit()\" '%s/audit.db'",
		         copy);
		assert_int_equal(system(cmd), 0);
		cairn_kb *k4 = NULL;
		assert_int_equal(cairn_kb_open(copy, &(cairn_kb_params){.create = 0, .read_only = 1}, &k4, NULL, 0),
		                 CAIRN_OK);
		assert_int_equal(cairn_audit_verify(k4, NULL, &r), CAIRN_ECORRUPT);
		assert_int_equal(r.bad_seq, 5);
		assert_non_null(strstr(r.problem, "chain"));
		cairn_kb_close(k4);
	}
	/* truncating both the log and audit.head is caught by an external head */
	snprintf(copy, sizeof copy, "%s/tamper-both", W.dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, kbdir, copy);
	assert_int_equal(system(cmd), 0);
	char cdb[500], chead[500];
	snprintf(cdb, sizeof cdb, "%s/audit.db", copy);
	snprintf(chead, sizeof chead, "%s/audit.head", copy);
	sql(cdb, "DELETE FROM audit WHERE seq >= 11");
	assert_int_equal(unlink(chead), 0);
	cairn_kb *k3 = NULL;
	assert_int_equal(cairn_kb_open(copy, &(cairn_kb_params){.create = 0, .read_only = 1}, &k3, NULL, 0), CAIRN_OK);
	assert_int_equal(cairn_audit_verify(k3, NULL, &r), CAIRN_ECORRUPT); /* head missing */
	cairn_kb_close(k3);
	(void)db;
}

static void test_audit_retention(void **state)
{
	(void)state;
	cairn_kb *kb = audited_kb("kb-retain", 5);
	char kbdir[300], db[400];
	snprintf(kbdir, sizeof kbdir, "%s/kb-retain", W.dir);
	snprintf(db, sizeof db, "%s/audit.db", kbdir);
	cairn_kb_close(kb);
	/* age the first three records by 40 days, then set a 30-day retention */
	sql(db, "UPDATE audit SET ts = ts - 40*86400 WHERE seq <= 3");
	assert_int_equal(cairn_kb_open(kbdir, &(cairn_kb_params){.create = 0}, &kb, NULL, 0), CAIRN_OK);
	assert_int_equal(cairn_audit_enable(kb, 1, 30), CAIRN_OK); /* its record triggers the pruning */
	cairn_audit_report r;
	assert_int_equal(cairn_audit_verify(kb, NULL, &r), CAIRN_OK);
	assert_int_equal(r.first_seq, 4);
	rec_count c = {0};
	assert_int_equal(cairn_audit_read(kb, 0, 1, count_rec, &c), CAIRN_OK);
	assert_int_equal(c.n, 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(cairn_audit_read(kb, 0, 0, count_rec, &c), CAIRN_OK);
	assert_int_equal(c.n, 2 + 2); /* records 4, 5 kept; prune record; enable record */
	cairn_kb_close(kb);
	/* deleting the oldest surviving record is still a gap */
	sql(db, "DELETE FROM audit WHERE seq = 4");
	assert_int_equal(cairn_kb_open(kbdir, &(cairn_kb_params){.create = 0, .read_only = 1}, &kb, NULL, 0), CAIRN_OK);
	assert_int_equal(cairn_audit_verify(kb, NULL, &r), CAIRN_ECORRUPT);
	cairn_kb_close(kb);
}

/* Personal data in questions never reaches the audit files (the log, its WAL, the head). */
static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	static char buf[4 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(buf + i, needle, m) == 0)
			return true;
	return false;
}

static void test_audit_never_holds_pii(void **state)
{
	(void)state;
	cairn_kb *kb = audited_kb("kb-pii", 2);
	static const char *const secrets[] = {"jane.doe@example.com", "4111 1111 1111 1111", "078-05-1121",
	                                      "+44 20 7946 0958"};
	cairn_search_params sp = cairn_search_default_params();
	cairn_results *res;
	char q[256];
	snprintf(q, sizeof q, "lunch for %s card %s ssn %s phone %s", secrets[0], secrets[1], secrets[2], secrets[3]);
	assert_int_equal(cairn_search(kb, q, &sp, &res), CAIRN_OK);
	cairn_results_free(res);
	cairn_ask_params ap = cairn_ask_default_params();
	cairn_answer *a;
	assert_int_equal(cairn_ask(kb, q, &ap, &a), CAIRN_OK);
	cairn_answer_free(a);
	rec_count c = {0};
	assert_int_equal(cairn_audit_read(kb, 0, 0, count_rec, &c), CAIRN_OK);
	assert_non_null(strstr(c.last, "[EMAIL_ADDRESS]"));
	assert_non_null(strstr(c.last, "[CREDIT_CARD]"));
	cairn_kb_close(kb);
	char path[512];
	static const char *const files[] = {"audit.db", "audit.db-wal", "audit.head"};
	for (size_t f = 0; f < 3; f++) {
		snprintf(path, sizeof path, "%s/kb-pii/%s", W.dir, files[f]);
		for (size_t i = 0; i < 4; i++)
			if (file_contains(path, secrets[i]))
				fail_msg("%s holds \"%s\"", files[f], secrets[i]);
	}
}

static void test_audit_disabled_writes_nothing(void **state)
{
	(void)state;
	char kbdir[300], db[400];
	snprintf(kbdir, sizeof kbdir, "%s/kb-quiet", W.dir);
	snprintf(db, sizeof db, "%s/audit.db", kbdir);
	cairn_kb *kb = NULL;
	cairn_kb_params kp = cairn_kb_default_params();
	assert_int_equal(cairn_kb_open(kbdir, &kp, &kb, NULL, 0), CAIRN_OK);
	cairn_search_params sp = cairn_search_default_params();
	cairn_results *res;
	assert_int_equal(cairn_search(kb, "anything", &sp, &res), CAIRN_OK);
	cairn_results_free(res);
	assert_int_equal(cairn_audit_enabled(kb), 0);
	struct stat sb;
	assert_int_not_equal(stat(db, &sb), 0);
	cairn_audit_report r;
	assert_int_equal(cairn_audit_verify(kb, NULL, &r), CAIRN_ENOTFOUND);
	cairn_kb_close(kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_randomized_access),
		cmocka_unit_test(test_principals_and_keys),
		cmocka_unit_test(test_audit_chain_and_tampering),
		cmocka_unit_test(test_audit_retention),
		cmocka_unit_test(test_audit_never_holds_pii),
		cmocka_unit_test(test_audit_disabled_writes_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
