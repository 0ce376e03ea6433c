/* cairn_search: analyse the query exactly as the index was analysed, walk the bm25
 * segments of a committed snapshot with filters inside the walk, then resolve the top hits
 * to catalog rows and build highlighted snippets. Only query analysis and hit resolution
 * hold the handle's mutex; the index walk runs on the refcounted snapshot without it. */
#include "engine/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cairn_search_params cairn_search_default_params(void)
{
	cairn_search_params p = {
		.k = 10,
		.snippets = 1,
		.snippet_chars = 240,
		.highlight_open = "**",
		.highlight_close = "**",
		.rrf_k = 60,
		.dense_weight = 0.5,
		.candidates = 100,
		.rerank_top = 30,
		.rm3_fb_docs = 10,
		.rm3_fb_terms = 10,
		.rm3_original_weight = 0.5,
	};
	return p;
}

struct cairn_results {
	cairn_hit *hits;
	size_t n;
	int64_t total;
	double seconds;
	char *query;
	cn_arena arena;
};

size_t cairn_results_count(const cairn_results *r) { return r ? r->n : 0; }
const cairn_hit *cairn_results_get(const cairn_results *r, size_t i) { return r && i < r->n ? &r->hits[i] : NULL; }
int64_t cairn_results_total(const cairn_results *r) { return r ? r->total : -1; }
double cairn_results_seconds(const cairn_results *r) { return r ? r->seconds : 0; }

void cairn_results_free(cairn_results *r)
{
	if (!r)
		return;
	cn_arena_free(&r->arena);
	cn_free(r->hits);
	cn_free(r->query);
	cn_free(r);
}

#define MAX_QUERY_BYTES (64 * 1024)
#define MAX_K 100000

typedef struct qterms {
	cn_strmap map;
	cn_bm25_qterm *v;
	size_t n, cap;
} qterms;

/* Fills q (initialised by the caller with cn_strmap_init and zeroes). */
static cairn_status build_qterms(const cn_tokens *t, qterms *q)
{
	for (size_t i = 0; i < t->n; i++) {
		uint32_t id;
		bool added;
		const char *term = cn_token_term(t, i);
		if (cn_strmap_put(&q->map, term, t->v[i].term_len, &id, &added))
			return CAIRN_ENOMEM;
		if (added) {
			if (CN_GROW(q->v, q->cap, q->n + 1))
				return CAIRN_ENOMEM;
			q->v[q->n].term = cn_strmap_key(&q->map, id);
			q->v[q->n].len = t->v[i].term_len;
			q->v[q->n].weight = 0;
			q->n++;
		}
		q->v[id].weight += 1.0f; /* Anserini's bag-of-words query: repeated terms weigh more */
	}
	return CAIRN_OK;
}

static void qterms_free(qterms *q)
{
	cn_strmap_free(&q->map);
	cn_free(q->v);
}

/* Highlighted, whitespace-collapsed window of a chunk around its densest match. */
#define SNIPPET_MAX_HITS 64

/* Byte offsets (in text) of the query terms the snippet shows. */
typedef struct snippet_hits {
	size_t at[SNIPPET_MAX_HITS];
	size_t n;
} snippet_hits;

static char *make_snippet(cairn_kb *kb, const char *text, size_t len, const qterms *q, const cairn_search_params *p,
                          cn_arena *a, snippet_hits *shown)
{
	cn_tokens t;
	cn_tokens_init(&t);
	size_t want = p->snippet_chars > 20 ? (size_t)p->snippet_chars : 240;
	const char *hopen = p->highlight_open ? p->highlight_open : "**";
	const char *hclose = p->highlight_close ? p->highlight_close : "**";
	size_t best_start = 0;
	size_t scan = len > (1u << 20) ? (1u << 20) : len; /* chunks are small; bound the work anyway */
	bool *hit = NULL;
	if (cn_analyze(kb->analyzer, text, scan, 0, &t) == CAIRN_OK && t.n) {
		hit = cn_calloc(t.n, sizeof *hit);
		if (hit) {
			for (size_t i = 0; i < t.n; i++)
				hit[i] = cn_strmap_get(&q->map, cn_token_term(&t, i), t.v[i].term_len) != UINT32_MAX;
			/* Best window: most distinct query terms, then most matches. */
			double best = -1;
			for (size_t i = 0; i < t.n; i++) {
				if (!hit[i])
					continue;
				size_t ws = t.v[i].start > want / 6 ? t.v[i].start - want / 6 : 0;
				size_t we = ws + want;
				uint64_t seen = 0;
				double score = 0;
				for (size_t j = i; j < t.n && t.v[j].end <= we; j++) {
					if (!hit[j])
						continue;
					uint32_t id = cn_strmap_get(&q->map, cn_token_term(&t, j), t.v[j].term_len);
					uint64_t bit = 1ull << (id & 63);
					score += (seen & bit) ? 0.1 : 1.0;
					seen |= bit;
				}
				if (score > best) {
					best = score;
					best_start = ws;
				}
			}
		}
	}
	/* Snap the window start to a word boundary. */
	while (best_start > 0 && best_start < len && text[best_start - 1] != ' ' && text[best_start - 1] != '\n')
		best_start--;
	size_t end = best_start + want < len ? best_start + want : len;
	shown->n = 0;
	for (size_t i = 0; hit && i < t.n && shown->n < SNIPPET_MAX_HITS; i++)
		if (hit[i] && t.v[i].start >= best_start && t.v[i].end <= end)
			shown->at[shown->n++] = t.v[i].start;
	while (end < len && end > best_start && (text[end] & 0xC0) == 0x80)
		end++; /* never cut inside a UTF-8 sequence */
	cn_buf b;
	cn_buf_init(&b);
	if (best_start > 0)
		cn_buf_puts(&b, "… ");
	size_t ti = 0;
	bool space = false;
	for (size_t i = best_start; i < end;) {
		while (hit && ti < t.n && t.v[ti].start < i)
			ti++;
		if (hit && ti < t.n && t.v[ti].start == i && hit[ti] && t.v[ti].end <= end) {
			if (space)
				cn_buf_putc(&b, ' ');
			space = false;
			cn_buf_puts(&b, hopen);
			cn_buf_append(&b, text + i, t.v[ti].end - i);
			cn_buf_puts(&b, hclose);
			i = t.v[ti].end;
			continue;
		}
		char c = text[i];
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			space = b.len > 0;
			i++;
			continue;
		}
		if (space)
			cn_buf_putc(&b, ' ');
		space = false;
		cn_buf_putc(&b, c);
		i++;
	}
	if (end < len)
		cn_buf_puts(&b, " …");
	char *out = b.failed ? NULL : cn_arena_strndup(a, b.data ? b.data : "", b.len);
	cn_buf_free(&b);
	cn_free(hit);
	cn_tokens_free(&t);
	return out;
}

/* The heading of the section the snippet mostly shows: of the chunk's sections
 * ("OFFSET\tPATH\n" lines, in order; the chunk's own heading covers bytes before the first),
 * the one holding the most shown query terms, the earliest on a tie. NULL = the chunk's own
 * heading. */
static const char *section_heading(cn_arena *a, const char *sections, const snippet_hits *shown)
{
	if (!shown->n)
		return NULL;
	size_t best_count = 0, count = 0, start = 0;
	const char *best = NULL, *best_end = NULL, *cur = NULL, *cur_end = NULL;
	/* counts hits in [start, next section start) for the section (cur) that begins at start */
	for (const char *p = sections;; ) {
		size_t next = SIZE_MAX;
		const char *np = NULL, *nend = NULL;
		if (p && *p) {
			char *tab;
			unsigned long long off = strtoull(p, &tab, 10);
			const char *eol = strchr(p, '\n');
			if (*tab == '\t' && eol) {
				next = (size_t)off;
				np = tab + 1;
				nend = eol;
				p = eol + 1;
			} else {
				p = NULL; /* malformed: the rest counts for the current section */
			}
		}
		count = 0;
		for (size_t i = 0; i < shown->n; i++)
			count += shown->at[i] >= start && shown->at[i] < next;
		if (count > best_count) {
			best_count = count;
			best = cur;
			best_end = cur_end;
		}
		if (next == SIZE_MAX)
			break;
		start = next;
		cur = np;
		cur_end = nend;
	}
	return best ? cn_arena_strndup(a, best, (size_t)(best_end - best)) : NULL;
}

static const char *arena_col(cn_arena *a, sqlite3_stmt *q, int col)
{
	const char *s = (const char *)sqlite3_column_text(q, col);
	int n = sqlite3_column_bytes(q, col);
	return cn_arena_strndup(a, s ? s : "", s ? (size_t)n : 0);
}

/* One "search" record when the trail is on; a failure to record fails the search (an
 * audited knowledge base does not answer off the record). */
static cairn_status audit_search(cairn_kb *kb, const char *query, const cairn_search_params *params,
                                 const cairn_results *res)
{
	int64_t *ids = res->n ? cn_malloc(res->n * sizeof *ids) : NULL;
	if (res->n && !ids) {
		cn_err err;
		cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		return kb_fail(kb, &err);
	}
	for (size_t i = 0; i < res->n; i++)
		ids[i] = res->hits[i].chunk_id;
	cairn_audit_entry e = {
		.action = "search",
		.principal = params->principal,
		.question = query,
		.chunk_ids = ids,
		.n_chunks = res->n,
	};
	cairn_status st = cairn_audit_append(kb, &e);
	cn_free(ids);
	return st;
}

cairn_status cairn_search(cairn_kb *kb, const char *query, const cairn_search_params *params, cairn_results **out)
{
	cn_err err;
	cn_err_clear(&err);
	*out = NULL;
	uint64_t t0 = cn_now_ns();
	cairn_search_params defaults = cairn_search_default_params();
	if (!params)
		params = &defaults;
	if (!query)
		query = "";
	size_t qlen = strlen(query);
	if (qlen > MAX_QUERY_BYTES) {
		cn_err_set(&err, CAIRN_ETOOBIG, "query is %zu bytes, over the limit of %d", qlen, MAX_QUERY_BYTES);
		return kb_fail(kb, &err);
	}
	if (params->k < 0 || params->k > MAX_K) {
		cn_err_set(&err, CAIRN_EINVAL, "k = %d is out of range (1–%d)", params->k, MAX_K);
		return kb_fail(kb, &err);
	}
	uint32_t k = params->k ? (uint32_t)params->k : 10;
	cairn_results *res = cn_calloc(1, sizeof *res);
	if (!res) {
		cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		return kb_fail(kb, &err);
	}
	cn_arena_init(&res->arena, 16 * 1024);
	res->total = -1;
	res->query = cn_strdup(query);
	cn_filter *filter = NULL;
	cairn_status st = cn_filter_compile(params->filter, params->groups, params->n_groups, &filter, &err);
	if (!st && params->groups == NULL && params->n_groups > 0)
		st = cn_err_set(&err, CAIRN_EINVAL, "n_groups set without groups");

	cn_tokens toks;
	cn_tokens_init(&toks);
	qterms q = {0};
	cn_strmap_init(&q.map);
	kb_snapshot *snap = NULL;
	pthread_mutex_lock(&kb->mu);
	if (!st && params->groups)
		cn_filter_set_closed(filter, kb_acl_closed_locked(kb));
	if (!st)
		st = kb_snapshot_get(kb, &snap, &err);
	if (!st) {
		st = cn_analyze(kb->analyzer, query, qlen, 0, &toks);
		if (st)
			cn_err_set(&err, st, "query analysis failed");
	}
	pthread_mutex_unlock(&kb->mu);
	if (!st) {
		if (build_qterms(&toks, &q))
			st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	}
	/* A collapse needs more candidates than k: fetch more and keep the first per doc. */
	uint32_t fetch = params->collapse_documents ? k * 4 + 16 : k;
	bool rerank = params->rerank_model && *params->rerank_model;
	bool mmr = params->mmr_lambda > 0 && params->mmr_lambda < 1;
	cairn_search_mode mode = params->mode;
	if (!st && (mode < CAIRN_SEARCH_BM25 || mode > CAIRN_SEARCH_HYBRID || params->fusion < CAIRN_FUSION_RRF ||
	            params->fusion > CAIRN_FUSION_WEIGHTED || params->candidates < 1 || params->candidates > MAX_K ||
	            params->rrf_k < 1 || !(params->dense_weight >= 0 && params->dense_weight <= 1) ||
	            params->mmr_lambda < 0 || params->mmr_lambda > 1))
		st = cn_err_set(&err, CAIRN_EINVAL,
		                "search: mode, fusion, candidates (1–%d), rrf_k (≥ 1), dense_weight and mmr_lambda ([0, 1]) "
		                "must be in range",
		                MAX_K);
	/* Fusion, reranking and diversity choose among more candidates than they return. */
	uint32_t stage = fetch;
	if (mode != CAIRN_SEARCH_BM25 || rerank || mmr || params->dedupe) {
		stage = CN_MAX(stage, (uint32_t)params->candidates);
		if (rerank && params->rerank_top > 0)
			stage = CN_MAX(stage, (uint32_t)params->rerank_top);
		if (params->dedupe || mmr)
			stage = CN_MAX(stage, fetch * 3);
		stage = CN_MIN(stage, (uint32_t)MAX_K);
	}
	cn_bm25_hit *hits = NULL;
	size_t n_hits = 0;
	if (!st) {
		hits = cn_malloc(2 * (size_t)stage * sizeof *hits);
		if (!hits)
			st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	}
	if (!st && mode != CAIRN_SEARCH_DENSE && snap->n && q.n) {
		cn_bm25_params bp = {
			.k1 = kb->k1,
			.b = kb->b,
			.k = stage,
			.exhaustive = params->exhaustive != 0,
			.filter = filter,
		};
		if (!st && params->rm3) {
			/* First pass for feedback, then the expanded query over the whole index. */
			kb_rm3_params rp = {params->rm3_fb_docs, params->rm3_fb_terms, (float)params->rm3_original_weight};
			if (rp.fb_docs < 1 || rp.fb_docs > 1000 || rp.fb_terms < 1 || rp.fb_terms > 1000 ||
			    !(rp.orig_weight >= 0 && rp.orig_weight <= 1))
				st = cn_err_set(&err, CAIRN_EINVAL,
				                "RM3 needs 1–1000 feedback chunks and terms and an original weight in [0, 1]");
			cn_bm25_hit *fb = NULL;
			size_t n_fb = 0;
			cn_bm25_params fp = bp;
			fp.k = (uint32_t)rp.fb_docs;
			if (!st && !(fb = cn_malloc(fp.k * sizeof *fb)))
				st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
			if (!st)
				st = cn_bm25_search(snap->views, snap->n, q.v, q.n, &fp, fb, &n_fb, NULL, &err);
			cn_bm25_qterm *xq = NULL;
			size_t nxq = 0;
			if (!st && n_fb) {
				pthread_mutex_lock(&kb->mu);
				st = kb_rm3_expand(kb, snap, q.v, q.n, fb, n_fb, &rp, &res->arena, &xq, &nxq, &err);
				pthread_mutex_unlock(&kb->mu);
			}
			cn_free(fb);
			if (!st && nxq)
				st = cn_bm25_search(snap->views, snap->n, xq, nxq, &bp, hits, &n_hits, &res->total, &err);
		} else if (!st) {
			st = cn_bm25_search(snap->views, snap->n, q.v, q.n, &bp, hits, &n_hits, &res->total, &err);
		}
	}
	if (!st && mode != CAIRN_SEARCH_BM25) {
		cn_bm25_hit *dense = hits + stage;
		size_t n_dense = 0;
		st = kb_dense_search(kb, snap, query, filter, stage, params->ef_search, dense, &n_dense, &err);
		if (!st && mode == CAIRN_SEARCH_DENSE) {
			memmove(hits, dense, n_dense * sizeof *hits);
			n_hits = n_dense;
			res->total = -1;
		} else if (!st) {
			cn_bm25_hit *fused = cn_malloc((n_hits + n_dense + 1) * sizeof *fused);
			size_t n_fused = 0;
			st = fused ? kb_fuse(hits, n_hits, dense, n_dense, params->fusion == CAIRN_FUSION_WEIGHTED,
			                     params->rrf_k, params->dense_weight, fused, stage, &n_fused, &err)
			           : cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
			if (!st) {
				memcpy(hits, fused, n_fused * sizeof *hits);
				n_hits = n_fused;
				res->total = -1;
			}
			cn_free(fused);
		}
	}
	if (!st && rerank && n_hits)
		st = kb_rerank(kb, snap, query, params->rerank_model, params->rerank_top > 0 ? (size_t)params->rerank_top : 30,
		               hits, n_hits, &err);
	if (!st && params->dedupe && n_hits)
		st = kb_dedupe(kb, snap, hits, &n_hits, &err);
	if (!st && mmr && n_hits)
		st = kb_mmr(snap, params->mmr_lambda, hits, n_hits, fetch, &err);
	if (!st && n_hits) {
		res->hits = cn_calloc(n_hits, sizeof *res->hits);
		if (!res->hits)
			st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&kb->mu);
	sqlite3_stmt *row = NULL;
	if (!st && n_hits && !params->ids_only)
		st = cn_store_prepare(kb->store,
		                      "SELECT c.heading, c.text, c.byte_start, c.byte_end, d.title, d.source, c.sections"
		                      " FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id = ?1",
		                      &row, &err);
	cn_strmap seen_docs;
	cn_strmap_init(&seen_docs);
	for (size_t i = 0; !st && i < n_hits && res->n < k; i++) {
		cn_bm25_view *v = &snap->views[hits[i].seg];
		uint32_t klen = 0;
		const char *key = cn_bm25_seg_doc_key(v->seg, hits[i].docnum, &klen);
		if (params->collapse_documents) {
			uint32_t id;
			bool added;
			if (cn_strmap_put(&seen_docs, key, klen, &id, &added)) {
				st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			if (!added)
				continue;
		}
		cairn_hit *h = &res->hits[res->n];
		h->doc_id = cn_arena_strndup(&res->arena, key, klen);
		h->chunk_id = (int64_t)cn_bm25_seg_chunk_id(v->seg, hits[i].docnum);
		h->score = hits[i].score;
		h->title = h->heading = h->source = h->snippet = "";
		if (row) {
			sqlite3_reset(row);
			sqlite3_bind_int64(row, 1, h->chunk_id);
			int rc = sqlite3_step(row);
			if (rc == SQLITE_ROW) {
				h->heading = arena_col(&res->arena, row, 0);
				h->byte_start = sqlite3_column_int64(row, 2);
				h->byte_end = sqlite3_column_int64(row, 3);
				h->title = arena_col(&res->arena, row, 4);
				h->source = arena_col(&res->arena, row, 5);
				if (params->with_text) {
					h->text = arena_col(&res->arena, row, 1);
					h->text_len = h->text ? (size_t)sqlite3_column_bytes(row, 1) : 0;
					if (!h->text)
						st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
				}
				if (params->snippets) {
					const char *text = (const char *)sqlite3_column_text(row, 1);
					size_t tl = (size_t)sqlite3_column_bytes(row, 1);
					snippet_hits shown = {.n = 0};
					char *sn = text ? make_snippet(kb, text, tl, &q, params, &res->arena, &shown) : NULL;
					h->snippet = sn ? sn : "";
					/* A chunk packing several sections: name the one the snippet shows. */
					const char *secs = (const char *)sqlite3_column_text(row, 6);
					const char *sh = secs ? section_heading(&res->arena, secs, &shown) : NULL;
					if (sh)
						h->heading = sh;
				}
			} else if (rc != SQLITE_DONE) {
				st = cn_store_sqlerr(kb->store, &err, "reading chunk");
			}
			/* SQLITE_DONE: deleted by a commit after our snapshot; keep the index's view. */
			sqlite3_reset(row);
		}
		if (!h->doc_id || !h->heading || !h->title || !h->source)
			st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		res->n++;
	}
	cn_strmap_free(&seen_docs);
	kb_snapshot_release(snap);
	pthread_mutex_unlock(&kb->mu);
	cn_free(hits);
	qterms_free(&q);
	cn_tokens_free(&toks);
	cn_filter_free(filter);
	if (st) {
		cairn_results_free(res);
		return kb_fail(kb, &err);
	}
	res->seconds = (double)(cn_now_ns() - t0) / 1e9;
	if (!params->skip_audit) {
		st = audit_search(kb, query, params, res);
		if (st) {
			cairn_results_free(res);
			return st;
		}
	}
	*out = res;
	return CAIRN_OK;
}

const char *cairn_kb_analyzer(const cairn_kb *kb)
{
	return kb && kb->analyzer_sig ? kb->analyzer_sig : "";
}

cairn_status cairn_kb_doc_freqs(cairn_kb *kb, const char *const *terms, size_t n, int64_t *df, int64_t *n_chunks)
{
	cn_err err;
	cn_err_clear(&err);
	if (n && (!terms || !df)) {
		cn_err_set(&err, CAIRN_EINVAL, "doc_freqs: NULL terms or df");
		return kb_fail(kb, &err);
	}
	kb_snapshot *snap = NULL;
	pthread_mutex_lock(&kb->mu);
	cairn_status st = kb_snapshot_get(kb, &snap, &err);
	pthread_mutex_unlock(&kb->mu);
	if (st)
		return kb_fail(kb, &err);
	/* The walk reads only the refcounted snapshot, as cairn_search's does. */
	for (size_t i = 0; !st && i < n; i++) {
		size_t len = terms[i] ? strlen(terms[i]) : 0;
		uint64_t f = 0;
		if (len && len <= 255)
			st = cn_bm25_doc_freq(snap->views, snap->n, terms[i], (uint32_t)len, &f, &err);
		df[i] = (int64_t)f;
	}
	if (n_chunks) {
		uint64_t N = 0;
		for (size_t i = 0; i < snap->n; i++)
			N += cn_bm25_seg_ndocs(snap->views[i].seg);
		*n_chunks = (int64_t)N;
	}
	pthread_mutex_lock(&kb->mu);
	kb_snapshot_release(snap);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

char *cairn_results_to_json(const cairn_results *r)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "{\"query\":");
	const char *qs = r && r->query ? r->query : "";
	cn_buf_put_json_str(&b, qs, strlen(qs));
	cn_buf_printf(&b, ",\"took_ms\":%.3f,\"results\":[", r ? r->seconds * 1e3 : 0.0);
	for (size_t i = 0; r && i < r->n; i++) {
		const cairn_hit *h = &r->hits[i];
		if (i)
			cn_buf_putc(&b, ',');
		cn_buf_puts(&b, "{\"doc_id\":");
		cn_buf_put_json_str(&b, h->doc_id, strlen(h->doc_id));
		cn_buf_printf(&b, ",\"chunk_id\":%lld,\"title\":", (long long)h->chunk_id);
		cn_buf_put_json_str(&b, h->title, strlen(h->title));
		cn_buf_puts(&b, ",\"heading\":");
		cn_buf_put_json_str(&b, h->heading, strlen(h->heading));
		cn_buf_puts(&b, ",\"source\":");
		cn_buf_put_json_str(&b, h->source, strlen(h->source));
		cn_buf_printf(&b, ",\"score\":%.6g,\"snippet\":", isfinite(h->score) ? h->score : 0.0);
		cn_buf_put_json_str(&b, h->snippet, strlen(h->snippet));
		cn_buf_puts(&b, "}");
	}
	cn_buf_puts(&b, "]}");
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}
