/* engine, through the public API only: records and files in, ranked chunks out; filters,
 * access groups, deletes, incremental re-ingest, merges, bad files, near-duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return cn_test_mkdtemp(tmpdir, sizeof tmpdir, "engine");
}

static int teardown(void **state)
{
	(void)state;
	return cn_test_rmtree(tmpdir);
}

static cairn_kb *new_kb(const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	cairn_kb *kb = NULL;
	char err[512];
	cairn_kb_params p = cairn_kb_default_params();
	assert_int_equal(cairn_kb_open(dir, &p, &kb, err, sizeof err), CAIRN_OK);
	return kb;
}

static void add(cairn_kb *kb, const char *id, const char *title, const char *text, const char *meta)
{
	cairn_record r = {.doc_id = id, .title = title, .text = text, .text_len = strlen(text), .metadata_json = meta,
	                  .mtime = 1700000000};
	cairn_ingest_params ip = cairn_ingest_default_params();
	ip.whole_documents = 1;
	assert_int_equal(cairn_kb_add_record(kb, &r, &ip), CAIRN_OK);
}

static cairn_results *search(cairn_kb *kb, const char *q, int k, const char *filter)
{
	cairn_search_params p = cairn_search_default_params();
	p.k = k;
	p.filter = filter;
	cairn_results *r = NULL;
	cairn_status st = cairn_search(kb, q, &p, &r);
	if (st != CAIRN_OK)
		fail_msg("search \"%s\" failed: %s", q, cairn_kb_errmsg(kb));
	return r;
}

static void test_records_rank_by_bm25(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("rank");
	add(kb, "d1", "Glaciers", "Glaciers retreat as the climate warms. Glaciers carve valleys.", "{\"team\":\"geo\"}");
	add(kb, "d2", "Deserts", "Deserts receive little rain; a glacier is rare there.", "{\"team\":\"geo\"}");
	add(kb, "d3", "Cooking", "Boil the pasta for nine minutes and salt the water.", "{\"team\":\"food\"}");
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);

	cairn_results *r = search(kb, "glacier", 10, NULL);
	assert_int_equal(cairn_results_count(r), 2);
	const cairn_hit *h0 = cairn_results_get(r, 0), *h1 = cairn_results_get(r, 1);
	assert_string_equal(h0->doc_id, "d1"); /* tf 3 (title+2) beats tf 1, stemmed glacier(s) */
	assert_string_equal(h1->doc_id, "d2");
	assert_true(h0->score > h1->score && h1->score > 0);
	assert_string_equal(h0->title, "Glaciers");
	assert_non_null(strstr(h0->snippet, "**Glaciers**"));
	/* Independent BM25 for d2 (Lucene formula, k1=0.9, b=0.4). Indexed text of d2 is its
	 * title + text; tokens after stopwords: deserts receive little rain glacier rare there
	 * → "there" is a Lucene stopword, "a" and "is" too: deserts receive little rain
	 * glacier rare = 7 tokens with the title. The exact length norm is quantised by
	 * Lucene's SmallFloat, exact for small lengths. */
	char *json = cairn_results_to_json(r);
	assert_non_null(strstr(json, "\"doc_id\":\"d1\""));
	assert_non_null(strstr(json, "\"results\":["));
	cairn_free(json);
	cairn_results_free(r);

	/* filters on tags are applied inside the walk */
	r = search(kb, "glacier OR pasta water", 10, "team=food");
	assert_int_equal(cairn_results_count(r), 1);
	assert_string_equal(cairn_results_get(r, 0)->doc_id, "d3");
	cairn_results_free(r);
	/* a stopword-only query finds nothing, an empty one too */
	r = search(kb, "the of and", 10, NULL);
	assert_int_equal(cairn_results_count(r), 0);
	cairn_results_free(r);
	/* a malformed filter is an error naming the problem */
	cairn_search_params p = cairn_search_default_params();
	p.filter = "team=";
	cairn_results *bad = NULL;
	assert_int_equal(cairn_search(kb, "glacier", &p, &bad), CAIRN_EINVAL);
	assert_null(bad);
	assert_non_null(strstr(cairn_kb_errmsg(kb), "filter"));
	cairn_kb_close(kb);
}

static void test_delete_replace_optimize(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("dro");
	char id[32], text[256];
	/* Several commits → several segments. */
	for (int i = 0; i < 60; i++) {
		snprintf(id, sizeof id, "doc%02d", i);
		snprintf(text, sizeof text, "common words appear here %s alpha%d beta%d gamma", i % 3 ? "odd" : "even", i,
		         i % 7);
		add(kb, id, NULL, text, NULL);
		if (i % 10 == 9)
			assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	}
	cairn_kb_stats s;
	assert_int_equal(cairn_kb_stats_get(kb, &s), CAIRN_OK);
	assert_int_equal(s.documents, 60);
	assert_int_equal(s.chunks, 60);
	assert_true(s.segments >= 2);
	/* replace: same id, new text — old text no longer found */
	add(kb, "doc05", NULL, "completely different zeta words", NULL);
	assert_int_equal(cairn_kb_delete_document(kb, "doc07"), CAIRN_OK);
	assert_int_equal(cairn_kb_delete_document(kb, "nope"), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	cairn_results *r = search(kb, "alpha5", 10, NULL);
	assert_int_equal(cairn_results_count(r), 0);
	cairn_results_free(r);
	r = search(kb, "zeta", 10, NULL);
	assert_int_equal(cairn_results_count(r), 1);
	cairn_results_free(r);
	r = search(kb, "alpha7", 10, NULL);
	assert_int_equal(cairn_results_count(r), 0);
	cairn_results_free(r);
	assert_int_equal(cairn_kb_check(kb), CAIRN_OK);

	/* results before and after a full merge are identical (ids and scores) */
	const char *queries[] = {"common even beta3", "odd gamma", "alpha12 alpha40 beta1", "words"};
	char before[4][40][32];
	double bscore[4][40];
	size_t bn[4];
	for (int q = 0; q < 4; q++) {
		r = search(kb, queries[q], 40, NULL);
		bn[q] = cairn_results_count(r);
		for (size_t i = 0; i < bn[q]; i++) {
			snprintf(before[q][i], 32, "%s", cairn_results_get(r, i)->doc_id);
			bscore[q][i] = cairn_results_get(r, i)->score;
		}
		cairn_results_free(r);
	}
	assert_int_equal(cairn_kb_optimize(kb, 1), CAIRN_OK);
	assert_int_equal(cairn_kb_stats_get(kb, &s), CAIRN_OK);
	assert_int_equal(s.segments, 1);
	assert_int_equal(s.documents, 59);
	assert_int_equal(cairn_kb_check(kb), CAIRN_OK);
	for (int q = 0; q < 4; q++) {
		r = search(kb, queries[q], 40, NULL);
		assert_int_equal(cairn_results_count(r), bn[q]);
		for (size_t i = 0; i < bn[q]; i++) {
			/* N and df shrink after deleted docs are dropped, so scores may move slightly;
			 * the set of documents must be the same */
			bool found = false;
			for (size_t j = 0; j < bn[q]; j++)
				found |= strcmp(before[q][j], cairn_results_get(r, i)->doc_id) == 0;
			assert_true(found);
			(void)bscore;
		}
		cairn_results_free(r);
	}
	cairn_kb_close(kb);
}

static void test_access_groups(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("acl");
	cairn_ingest_params ip = cairn_ingest_default_params();
	const char *hr[] = {"hr"};
	cairn_record r1 = {.doc_id = "salary", .text = "salary bands for every level", .text_len = 28};
	cairn_record r2 = {.doc_id = "handbook", .text = "the handbook explains salary reviews", .text_len = 36};
	ip.acl = hr;
	ip.n_acl = 1;
	assert_int_equal(cairn_kb_add_record(kb, &r1, &ip), CAIRN_OK);
	ip.acl = NULL;
	ip.n_acl = 0;
	assert_int_equal(cairn_kb_add_record(kb, &r2, &ip), CAIRN_OK);
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	cairn_search_params p = cairn_search_default_params();
	cairn_results *r;
	/* unrestricted (local owner) sees both */
	assert_int_equal(cairn_search(kb, "salary", &p, &r), CAIRN_OK);
	assert_int_equal(cairn_results_count(r), 2);
	cairn_results_free(r);
	/* a principal without groups sees only public documents */
	const char *none[1] = {NULL};
	p.groups = none;
	p.n_groups = 0;
	assert_int_equal(cairn_search(kb, "salary", &p, &r), CAIRN_OK);
	assert_int_equal(cairn_results_count(r), 1);
	assert_string_equal(cairn_results_get(r, 0)->doc_id, "handbook");
	cairn_results_free(r);
	const char *g[] = {"eng", "hr"};
	p.groups = g;
	p.n_groups = 2;
	assert_int_equal(cairn_search(kb, "salary", &p, &r), CAIRN_OK);
	assert_int_equal(cairn_results_count(r), 2);
	cairn_results_free(r);
	cairn_kb_close(kb);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char cmd[600];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	*slash = '/';
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(data, 1, len, f);
	fclose(f);
}

typedef struct events {
	int skipped, added, updated, unchanged, removed;
	char msgs[2048];
} events;

static void on_event(cairn_ingest_event ev, const char *path, const char *msg, void *ud)
{
	events *e = ud;
	switch (ev) {
	case CAIRN_INGEST_SKIPPED:
		e->skipped++;
		strncat(e->msgs, msg ? msg : path, sizeof e->msgs - strlen(e->msgs) - 2);
		strcat(e->msgs, "\n");
		break;
	case CAIRN_INGEST_ADDED: e->added++; break;
	case CAIRN_INGEST_UPDATED: e->updated++; break;
	case CAIRN_INGEST_UNCHANGED: e->unchanged++; break;
	case CAIRN_INGEST_REMOVED: e->removed++; break;
	default: break;
	}
}

static void test_ingest_files_incremental_and_bad_input(void **state)
{
	(void)state;
	char docs[256];
	snprintf(docs, sizeof docs, "%s/files", tmpdir);
	const char *md = "# Travel policy\n\nBook trains for trips under four hours.\n\n## Expenses\n\n"
	                 "Submit receipts within thirty days.\n\n| item | limit |\n|---|---|\n| hotel | 150 |\n";
	write_file(docs, "policy/travel.md", md, strlen(md));
	const char *html = "<html><head><title>Onboarding</title><script>var x='receipts';</script></head>"
	                   "<body><h1>Welcome</h1><p>Your laptop arrives on day one.</p></body></html>";
	write_file(docs, "onboarding.html", html, strlen(html));
	const char *txt = "Parking\n\nThe garage opens at seven.\n";
	write_file(docs, "notes/parking.txt", txt, strlen(txt));
	write_file(docs, "empty.md", "", 0);
	const char bin[] = "\x7f" "ELF\0\0\0\x01\x02binary";
	write_file(docs, "tool.txt", bin, sizeof bin);
	const char badutf[] = "valid start \xC3\x28 then broken";
	write_file(docs, "broken.md", badutf, sizeof badutf - 1);
	write_file(docs, "skipme.log.txt", "excluded by glob", 16);

	cairn_kb *kb = new_kb("files-kb");
	events ev = {0};
	cairn_ingest_params ip = cairn_ingest_default_params();
	const char *excl[] = {"*.log.txt"};
	ip.exclude = excl;
	ip.n_exclude = 1;
	ip.on_event = on_event;
	ip.user_data = &ev;
	cairn_ingest_stats st;
	const char *paths[] = {docs};
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	assert_int_equal(st.added, 3);
	if (st.skipped != 3)
		fail_msg("skipped %lld, expected 3:\n%s", (long long)st.skipped, ev.msgs);
	assert_int_equal(st.excluded, 1);
	assert_non_null(strstr(ev.msgs, "empty.md"));
	assert_non_null(strstr(ev.msgs, "tool.txt"));
	assert_non_null(strstr(ev.msgs, "broken.md"));
	assert_non_null(strstr(ev.msgs, "UTF-8"));
	assert_non_null(strstr(ev.msgs, "binary"));

	cairn_results *r = search(kb, "receipts", 10, NULL);
	assert_int_equal(cairn_results_count(r), 1); /* script text in HTML is not indexed */
	const cairn_hit *h = cairn_results_get(r, 0);
	assert_non_null(strstr(h->doc_id, "policy/travel.md"));
	assert_non_null(strstr(h->heading, "Travel policy")); /* a small document is one chunk */
	/* the byte range points into the source */
	assert_true(h->byte_start >= 0 && h->byte_end <= (int64_t)strlen(md) && h->byte_start < h->byte_end);
	cairn_results_free(r);
	r = search(kb, "laptop", 10, "format=html");
	assert_int_equal(cairn_results_count(r), 1);
	assert_string_equal(cairn_results_get(r, 0)->title, "Onboarding");
	cairn_results_free(r);

	/* second run: all unchanged */
	memset(&ev, 0, sizeof ev);
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	assert_int_equal(st.unchanged, 3);
	assert_int_equal(st.added + st.updated, 0);
	/* change one, delete one; without --prune the vanished one stays, with it it goes */
	const char *txt2 = "Parking\n\nThe garage now opens at six.\n";
	write_file(docs, "notes/parking.txt", txt2, strlen(txt2));
	char victim[300];
	snprintf(victim, sizeof victim, "%s/onboarding.html", docs);
	assert_int_equal(unlink(victim), 0);
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	assert_int_equal(st.updated, 1);
	assert_int_equal(st.removed, 0);
	ip.prune = 1;
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	assert_int_equal(st.removed, 1);
	r = search(kb, "laptop", 10, NULL);
	assert_int_equal(cairn_results_count(r), 0);
	cairn_results_free(r);
	r = search(kb, "garage six", 10, NULL);
	assert_int_equal(cairn_results_count(r), 1);
	cairn_results_free(r);
	assert_int_equal(cairn_kb_check(kb), CAIRN_OK);
	cairn_kb_close(kb);
}

typedef struct ingest_thread_arg {
	cairn_kb *kb;
	const char *dir;
	cairn_status st;
	volatile int done;
} ingest_thread_arg;

static void *ingest_thread(void *p)
{
	ingest_thread_arg *a = p;
	cairn_ingest_params ip = cairn_ingest_default_params();
	ip.commit_every_files = 7;
	const char *paths[] = {a->dir};
	a->st = cairn_ingest_paths(a->kb, paths, 1, &ip, NULL);
	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* One handle, two threads: searches go on while the same handle ingests (waiting for at
 * most one file at a time), and each sees a committed state: the count never goes down. */
static void test_search_while_same_handle_ingests(void **state)
{
	(void)state;
	char dir[256];
	snprintf(dir, sizeof dir, "%s/many", tmpdir);
	char name[64], text[256];
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof name, "f%03d.txt", i);
		int n = snprintf(text, sizeof text, "Entry %d of the ferry timetable, quay %d.\n", i, i % 9);
		write_file(dir, name, text, (size_t)n);
	}
	cairn_kb *kb = new_kb("shared-handle");
	ingest_thread_arg arg = {.kb = kb, .dir = dir};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, ingest_thread, &arg), 0);
	size_t prev = 0, searches_during = 0;
	while (!__atomic_load_n(&arg.done, __ATOMIC_SEQ_CST)) {
		cairn_search_params p = cairn_search_default_params();
		p.k = 1000;
		p.snippets = 0;
		cairn_results *r;
		assert_int_equal(cairn_search(kb, "ferry timetable", &p, &r), CAIRN_OK);
		size_t n = cairn_results_count(r);
		assert_true(n >= prev);
		prev = n;
		cairn_results_free(r);
		if (!__atomic_load_n(&arg.done, __ATOMIC_SEQ_CST))
			searches_during++;
	}
	pthread_join(th, NULL);
	assert_int_equal(arg.st, CAIRN_OK);
	cairn_results *r = search(kb, "ferry timetable", 1000, NULL);
	assert_int_equal(cairn_results_count(r), 400);
	cairn_results_free(r);
	print_message("%zu searches ran during the ingest\n", searches_during);
	assert_true(searches_during > 0);
	assert_int_equal(cairn_kb_check(kb), CAIRN_OK);
	cairn_kb_close(kb);
}

/* A chunk that packs several small sections names, in each hit, the section its snippet
 * shows — not just the first one. */
static void test_hit_heading_follows_snippet(void **state)
{
	(void)state;
	char dir[256];
	snprintf(dir, sizeof dir, "%s/faq", tmpdir);
	const char *md = "# FAQ\n\n## Parking\n\nThe garage opens at seven.\n\n"
	                 "## Laptops\n\nYour laptop arrives on day one.\n\n"
	                 "## Crashes\n\nA killed ingest keeps every committed zanzibarite document.\n";
	write_file(dir, "faq.md", md, strlen(md));
	cairn_kb *kb = new_kb("faq-kb");
	cairn_ingest_params ip = cairn_ingest_default_params();
	cairn_ingest_stats st;
	const char *paths[] = {dir};
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	assert_int_equal(st.chunks_added, 1); /* three small sections, one chunk */
	cairn_results *r = search(kb, "zanzibarite", 5, NULL);
	assert_int_equal(cairn_results_count(r), 1);
	assert_string_equal(cairn_results_get(r, 0)->heading, "FAQ > Crashes");
	cairn_results_free(r);
	r = search(kb, "garage", 5, NULL);
	assert_string_equal(cairn_results_get(r, 0)->heading, "FAQ > Parking");
	cairn_results_free(r);
	r = search(kb, "laptop day", 5, NULL);
	assert_string_equal(cairn_results_get(r, 0)->heading, "FAQ > Laptops");
	cairn_results_free(r);
	cairn_kb_close(kb);
	/* the same with one chunk per document (--whole) */
	kb = new_kb("faq-whole-kb");
	ip.whole_documents = 1;
	assert_int_equal(cairn_ingest_paths(kb, paths, 1, &ip, &st), CAIRN_OK);
	r = search(kb, "zanzibarite", 5, NULL);
	assert_string_equal(cairn_results_get(r, 0)->heading, "FAQ > Crashes");
	cairn_results_free(r);
	cairn_kb_close(kb);
}

static void test_near_duplicates_and_cjk(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("dups");
	/* A chunk-sized text (~400 words) and a copy with one word changed. */
	static char base[8192], copy[8192];
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(base + n, sizeof base - n, "item%d reviewed by team%d on day%d. ", i, i % 7, i % 30);
	memcpy(copy, base, n + 1);
	char *p = strstr(copy, "team3");
	p[4] = '4';
	add(kb, "a", NULL, base, NULL);
	add(kb, "b", NULL, copy, NULL);
	add(kb, "c", NULL, "Completely unrelated text about sourdough starters and oven temperatures.", NULL);
	add(kb, "jp", NULL, "東京都に住んでいます。京都にも行きました。", NULL);
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	cairn_kb_stats s;
	assert_int_equal(cairn_kb_stats_get(kb, &s), CAIRN_OK);
	assert_int_equal(s.near_duplicate_chunks, 1);
	cairn_results *r = search(kb, "京都", 10, NULL);
	assert_int_equal(cairn_results_count(r), 1);
	assert_string_equal(cairn_results_get(r, 0)->doc_id, "jp");
	cairn_results_free(r);
	cairn_kb_close(kb);
}

/* Pruned top-k equals exhaustive top-k through the whole engine on a random corpus. */
static void test_pruned_equals_exhaustive(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("wand");
	srand(42);
	char text[2048], id[32];
	for (int d = 0; d < 1500; d++) {
		size_t n = 0;
		int len = 5 + rand() % 120;
		for (int w = 0; w < len; w++) {
			/* Zipf-like: small ids much more frequent */
			double u = (rand() + 1.0) / (RAND_MAX + 2.0);
			int t = (int)(pow(u, 3.0) * 800);
			n += (size_t)snprintf(text + n, sizeof text - n, "w%d ", t);
		}
		snprintf(id, sizeof id, "d%d", d);
		add(kb, id, NULL, text, d % 2 ? "{\"half\":\"odd\"}" : "{\"half\":\"even\"}");
		if (d % 400 == 399)
			assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	}
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);
	for (int q = 0; q < 60; q++) {
		char query[256];
		size_t n = 0;
		int terms = 1 + q % 8;
		for (int i = 0; i < terms; i++)
			n += (size_t)snprintf(query + n, sizeof query - n, "w%d ", rand() % (q % 2 ? 40 : 800));
		cairn_search_params p = cairn_search_default_params();
		p.k = 1 + q % 25;
		p.snippets = 0;
		p.filter = q % 3 == 0 ? "half=odd" : NULL;
		cairn_results *fast, *slow;
		assert_int_equal(cairn_search(kb, query, &p, &fast), CAIRN_OK);
		p.exhaustive = 1;
		assert_int_equal(cairn_search(kb, query, &p, &slow), CAIRN_OK);
		assert_int_equal(cairn_results_count(fast), cairn_results_count(slow));
		for (size_t i = 0; i < cairn_results_count(fast); i++) {
			assert_int_equal(cairn_results_get(fast, i)->chunk_id, cairn_results_get(slow, i)->chunk_id);
			assert_true(cairn_results_get(fast, i)->score == cairn_results_get(slow, i)->score);
		}
		cairn_results_free(fast);
		cairn_results_free(slow);
	}
	cairn_kb_close(kb);
}

/* RM3: feedback terms from the first pass's best chunks bring in a document that shares
 * them but not the query's words; with the original query weighted 1 the ranking is plain
 * BM25's; filters hold in both passes. */
static void test_rm3_expansion(void **state)
{
	(void)state;
	cairn_kb *kb = new_kb("rm3");
	char id[32], text[256];
	for (int i = 0; i < 60; i++) { /* background: feedback terms must stay under 10% df */
		snprintf(id, sizeof id, "filler%d", i);
		snprintf(text, sizeof text, "Routine report number %d about office supplies, paper and pens %d.", i, i * 7);
		add(kb, id, "Report", text, i % 2 ? "{\"team\":\"a\"}" : "{\"team\":\"b\"}");
	}
	add(kb, "apple1", "Orchard", "Apple harvest: apple trees beside banana plants, banana crates.", "{\"team\":\"a\"}");
	add(kb, "apple2", "Market", "The apple stall sells banana bread and banana chips with apple juice.", "{\"team\":\"a\"}");
	add(kb, "apple3", "Recipes", "Apple pie; banana split; banana and apple salad.", "{\"team\":\"a\"}");
	add(kb, "only_banana", "Smoothies", "A banana smoothie with a ripe banana.", "{\"team\":\"a\"}");
	add(kb, "only_banana_b", "Smoothies", "A banana smoothie with a ripe banana.", "{\"team\":\"b\"}");
	assert_int_equal(cairn_kb_commit(kb), CAIRN_OK);

	cairn_search_params p = cairn_search_default_params();
	p.k = 10;
	p.snippets = 0;
	cairn_results *plain = NULL, *x = NULL;
	assert_int_equal(cairn_search(kb, "apple", &p, &plain), CAIRN_OK);
	assert_int_equal(cairn_results_count(plain), 3);
	p.rm3 = 1;
	assert_int_equal(cairn_search(kb, "apple", &p, &x), CAIRN_OK);
	assert_int_equal(cairn_results_count(x), 5);
	bool found = false;
	for (size_t i = 0; i < cairn_results_count(x); i++)
		found |= strcmp(cairn_results_get(x, i)->doc_id, "only_banana") == 0;
	assert_true(found);
	/* the original documents still lead */
	for (size_t i = 0; i < 3; i++)
		assert_non_null(strstr(cairn_results_get(x, i)->doc_id, "apple"));
	cairn_results_free(x);

	/* filter: only team a, in the feedback pass and the final one */
	p.filter = "team=a";
	assert_int_equal(cairn_search(kb, "apple", &p, &x), CAIRN_OK);
	assert_int_equal(cairn_results_count(x), 4);
	for (size_t i = 0; i < cairn_results_count(x); i++)
		assert_string_not_equal(cairn_results_get(x, i)->doc_id, "only_banana_b");
	cairn_results_free(x);
	p.filter = NULL;

	/* original weight 1: expansion terms weigh nothing, the ranking is plain BM25's */
	cairn_results_free(plain);
	p.rm3 = 0;
	assert_int_equal(cairn_search(kb, "apple harvest banana", &p, &plain), CAIRN_OK);
	p.rm3 = 1;
	p.rm3_original_weight = 1.0;
	assert_int_equal(cairn_search(kb, "apple harvest banana", &p, &x), CAIRN_OK);
	assert_int_equal(cairn_results_count(x), cairn_results_count(plain));
	for (size_t i = 0; i < cairn_results_count(x); i++)
		assert_string_equal(cairn_results_get(x, i)->doc_id, cairn_results_get(plain, i)->doc_id);
	cairn_results_free(x);
	cairn_results_free(plain);
	/* bad parameters are refused */
	p.rm3_fb_docs = 0;
	assert_int_equal(cairn_search(kb, "apple", &p, &x), CAIRN_EINVAL);
	cairn_kb_close(kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_rank_by_bm25),
		cmocka_unit_test(test_delete_replace_optimize),
		cmocka_unit_test(test_access_groups),
		cmocka_unit_test(test_ingest_files_incremental_and_bad_input),
		cmocka_unit_test(test_hit_heading_follows_snippet),
		cmocka_unit_test(test_search_while_same_handle_ingests),
		cmocka_unit_test(test_near_duplicates_and_cjk),
		cmocka_unit_test(test_pruned_equals_exhaustive),
		cmocka_unit_test(test_rm3_expansion),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
