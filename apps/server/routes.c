/*
 * routes.c — the handlers of `cairn serve`: cairn's own API (search, answer, documents,
 * audit), the OpenAI-compatible routes (chat completions, embeddings, models) and /metrics.
 *
 * Every handler receives an authenticated request (serve.c) and passes the principal's
 * groups into the library call, so the access filter is applied inside the index walk as for
 * the CLI's --as: a principal never sees, quotes or is told about another group's document
 * (a refused document is 404 exactly like a missing one). The principal's name goes into the
 * audit trail. Answers are computed whole (cairn_ask has no partial results) and streamed as
 * Server-Sent Events one sentence at a time, so clients built for streaming work unchanged.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server.h"

/* A library string (cairn_free) as a libc one (free), for MHD_RESPMEM_MUST_FREE. */
static char *own(char *lib)
{
	if (!lib)
		return NULL;
	char *s = strdup(lib);
	cairn_free(lib);
	return s;
}

/* A library status as an HTTP error with msg: one mapping for every route. */
static enum MHD_Result status_error(struct MHD_Connection *c, srv_req *r, cairn_status st, const char *msg)
{
	switch (st) {
	case CAIRN_EINVAL:
	case CAIRN_EFORMAT:
	case CAIRN_EEMPTY:
	case CAIRN_EUNSUPPORTED:
		return srv_send_error(c, r, 400, SRV_E_INVALID_REQUEST, msg);
	case CAIRN_ENOTFOUND:
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, msg);
	case CAIRN_ETOOBIG:
		return srv_send_error(c, r, 413, SRV_E_TOO_LARGE, msg);
	case CAIRN_EPERM:
		return srv_send_error(c, r, 403, SRV_E_FORBIDDEN, msg);
	case CAIRN_EBUSY:
		return srv_send_error(c, r, 503, SRV_E_UNAVAILABLE, msg);
	default:
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, msg);
	}
}

static enum MHD_Result lib_error(srv *s, struct MHD_Connection *c, srv_req *r, cairn_status st, const char *what)
{
	char msg[600];
	char em[512];
	snprintf(em, sizeof em, "%s", cairn_kb_errmsg(s->kb));
	snprintf(msg, sizeof msg, "%s: %s", what, *em ? em : cairn_status_name(st));
	return status_error(c, r, st, msg);
}

static enum MHD_Result forbidden(srv *s, struct MHD_Connection *c, srv_req *r, const char *msg)
{
	atomic_fetch_add(&s->auth_403, 1);
	return srv_send_error(c, r, 403, SRV_E_FORBIDDEN, msg);
}

/* ---- POST /v1/search ---- */

enum MHD_Result srv_route_search(srv *s, struct MHD_Connection *c, srv_req *r)
{
	json_t *o;
	srv_reqerr e;
	srv_search_req q;
	if (!srv_json_object(r->body, r->len, &o, &e))
		return srv_send_reqerr(c, r, &e);
	if (!srv_parse_search(o, &q, &e)) {
		json_decref(o);
		return srv_send_reqerr(c, r, &e);
	}
	if (q.rerank) {
		json_decref(o);
		return srv_send_error(c, r, 400, SRV_E_UNSUPPORTED, "this server has no reranking model");
	}
	cairn_search_params p = cairn_search_default_params();
	p.k = q.k;
	p.filter = q.filter;
	p.mode = q.mode;
	p.collapse_documents = q.collapse;
	p.rm3 = q.rm3;
	p.dedupe = q.dedupe;
	p.snippets = q.snippets;
	p.groups = r->groups;
	p.n_groups = r->n_groups;
	p.principal = r->principal;
	cairn_results *res = NULL;
	double t0 = srv_now();
	cairn_status st = cairn_search(s->kb, q.query, &p, &res);
	srv_hist_add(&s->search_time, srv_now() - t0);
	json_decref(o);
	if (st != CAIRN_OK)
		return lib_error(s, c, r, st, "search");
	char *js = own(cairn_results_to_json(res));
	cairn_results_free(res);
	return srv_send_json(c, r, 200, js);
}

/* ---- answers, shared by /v1/answer and /v1/chat/completions ---- */

static cairn_status ask(srv *s, srv_req *r, const char *question, const srv_answer_req *q, cairn_answer **out,
                        char *errbuf, size_t errsize)
{
	cairn_ask_params p = cairn_ask_default_params();
	if (q) {
		p.k = q->k;
		p.filter = q->filter;
		p.max_sentences = q->max_sentences;
		if (q->min_confidence >= 0)
			p.min_confidence = q->min_confidence;
		p.retrieval = q->retrieval;
		p.strict = !q->lenient;
	}
	p.endpoint = s->endpoint;
	p.api_key_env = s->api_key_env;
	p.model_name = s->llm_model;
	p.groups = r->groups;
	p.n_groups = r->n_groups;
	p.principal = r->principal;
	p.errbuf = errbuf;
	p.errbuf_size = errsize;
	errbuf[0] = 0;
	double t0 = srv_now();
	cairn_status st = cairn_ask(s->kb, question, &p, out);
	srv_hist_add(&s->answer_time, srv_now() - t0);
	if (st == CAIRN_OK) {
		const cairn_answer_view *v = cairn_answer_get(*out);
		if (v->guard.question_flagged)
			atomic_fetch_add(&s->guard_flagged, 1);
		if (v->guard.refused)
			atomic_fetch_add(&s->guard_refused, 1);
		atomic_fetch_add(&s->guard_quarantined, v->guard.n_quarantined);
	}
	return st;
}

/* A failed cairn_ask. The model endpoint's failures (their messages name the endpoint: an
 * HTTP error, a timeout, a missing key) are 502 — the upstream, not the request, is at
 * fault; the rest are mapped as for any library call, with the answerer's message. */
static enum MHD_Result ask_error(srv *s, struct MHD_Connection *c, srv_req *r, cairn_status st, const char *errbuf)
{
	char msg[600];
	snprintf(msg, sizeof msg, "answer: %s", errbuf[0] ? errbuf : cairn_status_name(st));
	if (s->endpoint && !strncmp(errbuf, "endpoint ", 9) && st != CAIRN_ENOMEM)
		return srv_send_error(c, r, 502, SRV_E_UPSTREAM, msg);
	/* a "not found" inside answering is the server's problem, not a missing resource */
	return status_error(c, r, st == CAIRN_ENOTFOUND ? CAIRN_EINTERNAL : st, msg);
}

static json_t *citation_json(const cairn_citation *ct)
{
	return json_pack("{s:i,s:s,s:I,s:s?,s:s?,s:s?,s:I,s:I,s:s?,s:f,s:i}", "id", ct->id, "doc_id", ct->doc_id,
	                 "chunk_id", (json_int_t)ct->chunk_id, "title", ct->title, "source", ct->source, "heading",
	                 ct->heading, "start", (json_int_t)ct->start, "end", (json_int_t)ct->end, "quote",
	                 ct->quote, "score", ct->score, "rank", ct->rank);
}

static json_t *citations_json(const cairn_answer_view *v, const int *ids, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < (ids ? n : v->n_citations); i++) {
		const cairn_citation *ct = NULL;
		if (!ids)
			ct = &v->citations[i];
		else
			for (size_t j = 0; j < v->n_citations; j++)
				if (v->citations[j].id == ids[i])
					ct = &v->citations[j];
		json_t *x = ct ? citation_json(ct) : NULL;
		if (x)
			json_array_append_new(a, x);
	}
	return a;
}

/* Appends "event: NAME\ndata: JSON\n\n" (JSON compact, so one data line). */
static bool sse_append(char **buf, size_t *len, size_t *cap, const char *event, json_t *data)
{
	char *js = json_dumps(data, JSON_COMPACT);
	if (!js)
		return false;
	size_t need = strlen(js) + (event ? strlen(event) + 8 : 0) + 10;
	if (*len + need + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < *len + need + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb) {
			free(js);
			return false;
		}
		*buf = nb;
		*cap = nc;
	}
	int w = event ? snprintf(*buf + *len, *cap - *len, "event: %s\ndata: %s\n\n", event, js)
	              : snprintf(*buf + *len, *cap - *len, "data: %s\n\n", js);
	free(js);
	if (w < 0)
		return false;
	*len += (size_t)w;
	return true;
}

static bool sse_raw(char **buf, size_t *len, size_t *cap, const char *text)
{
	size_t n = strlen(text);
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return false;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, text, n + 1);
	*len += n;
	return true;
}

enum MHD_Result srv_route_answer(srv *s, struct MHD_Connection *c, srv_req *r)
{
	json_t *o;
	srv_reqerr e;
	srv_answer_req q;
	if (!srv_json_object(r->body, r->len, &o, &e))
		return srv_send_reqerr(c, r, &e);
	if (!srv_parse_answer(o, &q, &e)) {
		json_decref(o);
		return srv_send_reqerr(c, r, &e);
	}
	cairn_answer *ans = NULL;
	char errbuf[512];
	cairn_status st = ask(s, r, q.question, &q, &ans, errbuf, sizeof errbuf);
	json_decref(o);
	if (st != CAIRN_OK)
		return ask_error(s, c, r, st, errbuf);
	char *js = cairn_answer_to_json(ans, q.explain);
	if (!q.stream) {
		cairn_answer_free(ans);
		return srv_send_json(c, r, 200, own(js));
	}
	/* one "sentence" event per sentence with its citations, then "done" with the whole answer */
	const cairn_answer_view *v = cairn_answer_get(ans);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok = js != NULL;
	for (size_t i = 0; ok && i < v->n_sentences; i++) {
		const cairn_answer_sentence *sn = &v->sentences[i];
		json_t *ev = json_pack("{s:I,s:s,s:b,s:o}", "index", (json_int_t)i, "text", sn->text, "supported",
		                       sn->supported, "citations", citations_json(v, sn->citations, sn->n_citations));
		ok = ev && sse_append(&buf, &len, &cap, "sentence", ev);
		json_decref(ev);
	}
	if (ok && v->abstained) {
		json_t *ev = json_pack("{s:s,s:o}", "text", v->answer, "citations", citations_json(v, NULL, 0));
		ok = ev && sse_append(&buf, &len, &cap, "abstained", ev);
		json_decref(ev);
	}
	json_t *whole = ok ? json_loads(js, 0, NULL) : NULL;
	ok = whole && sse_append(&buf, &len, &cap, "done", whole);
	json_decref(whole);
	cairn_free(js);
	cairn_answer_free(ans);
	if (!ok) {
		free(buf);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	return srv_send_sse(c, r, buf, len);
}

/* ---- documents ---- */

static json_t *strv(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

enum MHD_Result srv_route_doc_get(srv *s, struct MHD_Connection *c, srv_req *r, const char *id)
{
	cairn_document *d = NULL;
	cairn_status st = cairn_kb_get_document(s->kb, id, r->groups, r->n_groups, r->principal, &d);
	if (st == CAIRN_ENOTFOUND)
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no such document");
	if (st != CAIRN_OK)
		return lib_error(s, c, r, st, "document");
	json_t *chunks = json_array();
	for (size_t i = 0; chunks && i < d->n_chunks; i++) {
		const cairn_doc_chunk *k = &d->chunks[i];
		json_array_append_new(chunks, json_pack("{s:I,s:s?,s:I,s:I,s:s?}", "chunk_id", (json_int_t)k->chunk_id,
		                                        "heading", k->heading, "byte_start", (json_int_t)k->byte_start,
		                                        "byte_end", (json_int_t)k->byte_end, "text", k->text));
	}
	json_t *j = json_pack("{s:s,s:s?,s:s?,s:s?,s:I,s:I,s:I,s:o,s:o,s:o}", "doc_id", d->doc_id, "title", d->title,
	                      "source", d->source, "format", d->format, "mtime", (json_int_t)d->mtime, "size",
	                      (json_int_t)d->size, "ingested_at", (json_int_t)d->ingested_at, "groups",
	                      strv(d->groups, d->n_groups), "tags", strv(d->tags, d->n_tags), "chunks", chunks);
	cairn_document_free(d);
	char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return srv_send_json(c, r, 200, out);
}

enum MHD_Result srv_route_doc_delete(srv *s, struct MHD_Connection *c, srv_req *r, const char *id)
{
	if (!(r->perms & CAIRN_PERM_ADMIN))
		return forbidden(s, c, r, "deleting documents needs the admin permission");
	pthread_mutex_lock(&s->write_mu);
	cairn_status st = cairn_kb_delete_document(s->kb, id);
	if (st == CAIRN_OK)
		st = cairn_kb_commit(s->kb);
	else
		cairn_kb_rollback(s->kb);
	enum MHD_Result ret;
	if (st == CAIRN_ENOTFOUND)
		ret = srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no such document");
	else if (st != CAIRN_OK)
		ret = lib_error(s, c, r, st, "delete");
	else {
		json_t *j = json_pack("{s:s,s:b}", "doc_id", id, "deleted", 1);
		char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		ret = srv_send_json(c, r, 200, out);
	}
	pthread_mutex_unlock(&s->write_mu);
	return ret;
}

/* multipart/form-data: the fields doc_id, title, groups (comma list), metadata (a JSON object)
 * and file (UTF-8 text; its name is the default doc_id), gathered into the JSON of the JSON
 * form so that one parser validates both. */
typedef struct mp_acc {
	struct {
		char *p;
		size_t n, cap;
	} f[5]; /* doc_id, title, groups, metadata, file */
	char filename[256];
	size_t limit;
	bool too_big;
} mp_acc;

static const char *const mp_fields[5] = {"doc_id", "title", "groups", "metadata", "file"};

static enum MHD_Result mp_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size)
{
	(void)kind, (void)content_type, (void)transfer_encoding, (void)off;
	mp_acc *a = cls;
	int i = 0;
	while (i < 5 && strcmp(key, mp_fields[i]) != 0)
		i++;
	if (i == 5)
		return MHD_YES; /* other fields are ignored */
	if (i == 4 && filename && !a->filename[0])
		snprintf(a->filename, sizeof a->filename, "%s", filename);
	if (size > a->limit - a->f[i].n) {
		a->too_big = true;
		return MHD_NO;
	}
	if (a->f[i].n + size + 1 > a->f[i].cap) {
		size_t nc = a->f[i].cap ? a->f[i].cap * 2 : 1024;
		while (nc < a->f[i].n + size + 1)
			nc *= 2;
		char *np = realloc(a->f[i].p, nc);
		if (!np) {
			a->too_big = true;
			return MHD_NO;
		}
		a->f[i].p = np;
		a->f[i].cap = nc;
	}
	memcpy(a->f[i].p + a->f[i].n, data, size);
	a->f[i].n += size;
	a->f[i].p[a->f[i].n] = 0;
	return MHD_YES;
}

/* The multipart body as the JSON object srv_parse_doc reads; NULL with *e set. */
static json_t *multipart_doc(srv *s, struct MHD_Connection *c, srv_req *r, srv_reqerr *e)
{
	mp_acc a;
	memset(&a, 0, sizeof a);
	a.limit = s->max_body;
	json_t *o = NULL;
	struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 64 * 1024, mp_iter, &a);
	if (!pp) {
		e->status = 400, e->code = SRV_E_INVALID_REQUEST;
		snprintf(e->msg, sizeof e->msg, "malformed multipart/form-data (no boundary?)");
		goto out;
	}
	enum MHD_Result pr = MHD_post_process(pp, r->body ? r->body : "", r->len);
	MHD_destroy_post_processor(pp);
	if (pr != MHD_YES || a.too_big) {
		e->status = a.too_big ? 413 : 400, e->code = a.too_big ? SRV_E_TOO_LARGE : SRV_E_INVALID_REQUEST;
		snprintf(e->msg, sizeof e->msg, "%s", a.too_big ? "a field is too large" : "malformed multipart/form-data");
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (a.f[i].n && (memchr(a.f[i].p, 0, a.f[i].n) || !srv_utf8_valid(a.f[i].p, a.f[i].n))) {
			e->status = 400, e->code = SRV_E_INVALID_REQUEST;
			snprintf(e->msg, sizeof e->msg, "\"%s\" is not UTF-8 text (files are ingested as plain text)",
			         mp_fields[i]);
			goto out;
		}
	if (!a.f[4].n) {
		e->status = 400, e->code = SRV_E_INVALID_REQUEST;
		snprintf(e->msg, sizeof e->msg, "the upload needs a \"file\" part");
		goto out;
	}
	o = json_object();
	const char *id = a.f[0].n ? a.f[0].p : a.filename[0] && srv_utf8_valid(a.filename, strlen(a.filename)) ? a.filename : NULL;
	if (id)
		json_object_set_new(o, "doc_id", json_string(id));
	if (a.f[1].n)
		json_object_set_new(o, "title", json_stringn(a.f[1].p, a.f[1].n));
	json_object_set_new(o, "text", json_stringn(a.f[4].p, a.f[4].n));
	if (a.f[2].n) {
		json_t *g = json_array();
		for (char *tok = strtok(a.f[2].p, ","); tok; tok = strtok(NULL, ","))
			if (*tok)
				json_array_append_new(g, json_string(tok));
		json_object_set_new(o, "groups", g);
	}
	if (a.f[3].n) {
		json_t *md = json_loadb(a.f[3].p, a.f[3].n, JSON_REJECT_DUPLICATES, NULL);
		if (!md) {
			json_decref(o);
			o = NULL;
			e->status = 400, e->code = SRV_E_INVALID_JSON;
			snprintf(e->msg, sizeof e->msg, "\"metadata\" is not a JSON object");
			goto out;
		}
		json_object_set_new(o, "metadata", md);
	}
out:
	for (int i = 0; i < 5; i++)
		free(a.f[i].p);
	return o;
}

enum MHD_Result srv_route_doc_post(srv *s, struct MHD_Connection *c, srv_req *r)
{
	if (!(r->perms & CAIRN_PERM_ADMIN))
		return forbidden(s, c, r, "adding documents needs the admin permission");
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	bool multipart = ctype && !strncasecmp(ctype, "multipart/form-data", 19);
	if (ctype && !multipart && strncasecmp(ctype, "application/json", 16) != 0)
		return srv_send_error(c, r, 415, SRV_E_UNSUPPORTED,
		                      "documents are sent as application/json or multipart/form-data");
	json_t *o;
	srv_reqerr e;
	srv_doc_req q;
	if (multipart) {
		if (!(o = multipart_doc(s, c, r, &e)))
			return srv_send_reqerr(c, r, &e);
	} else if (!srv_json_object(r->body, r->len, &o, &e)) {
		return srv_send_reqerr(c, r, &e);
	}
	if (!srv_parse_doc(o, &q, &e)) {
		json_decref(o);
		return srv_send_reqerr(c, r, &e);
	}
	cairn_record rec = {.doc_id = q.doc_id, .title = q.title, .text = q.text, .text_len = q.text_len,
	                    .metadata_json = q.metadata};
	cairn_ingest_params ip = cairn_ingest_default_params();
	ip.acl = q.acl;
	ip.n_acl = q.n_acl;
	pthread_mutex_lock(&s->write_mu);
	cairn_status st = cairn_kb_add_record(s->kb, &rec, &ip);
	if (st == CAIRN_OK)
		st = cairn_kb_commit(s->kb);
	else
		cairn_kb_rollback(s->kb);
	enum MHD_Result ret;
	if (st != CAIRN_OK) {
		ret = lib_error(s, c, r, st, "ingest");
	} else {
		cairn_kb_stats kst;
		json_int_t gen = cairn_kb_stats_get(s->kb, &kst) == CAIRN_OK ? (json_int_t)kst.generation : -1;
		json_t *j = json_pack("{s:s,s:I}", "doc_id", q.doc_id, "generation", gen);
		char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		ret = srv_send_json(c, r, 201, out);
	}
	pthread_mutex_unlock(&s->write_mu);
	free(q.metadata);
	json_decref(o);
	return ret;
}

/* ---- GET /v1/audit?after=SEQ&limit=N ---- */

typedef struct audit_acc {
	json_t *records;
	int64_t last;
	bool bad;
} audit_acc;

static int audit_cb(int64_t seq, const char *record_json, const char *hash, void *ud)
{
	audit_acc *a = ud;
	json_t *rec = json_loads(record_json, 0, NULL);
	json_t *x = json_pack("{s:I,s:s,s:o}", "seq", (json_int_t)seq, "hash", hash, "record",
	                      rec ? rec : json_string(record_json));
	if (!x || json_array_append_new(a->records, x) != 0) {
		a->bad = true;
		return 1;
	}
	a->last = seq;
	return 0;
}

static bool query_int(struct MHD_Connection *c, const char *key, int64_t lo, int64_t hi, int64_t *v, srv_reqerr *e)
{
	const char *raw = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
	if (!raw)
		return true;
	char buf[32];
	if (!srv_percent_decode(raw, strlen(raw), true, buf, sizeof buf, NULL) || !srv_parse_int(buf, lo, hi, v)) {
		e->status = 400;
		e->code = SRV_E_INVALID_REQUEST;
		snprintf(e->msg, sizeof e->msg, "query parameter \"%s\" must be an integer in %lld..%lld", key,
		         (long long)lo, (long long)hi);
		return false;
	}
	return true;
}

enum MHD_Result srv_route_audit(srv *s, struct MHD_Connection *c, srv_req *r)
{
	if (!(r->perms & CAIRN_PERM_AUDIT))
		return forbidden(s, c, r, "reading the audit trail needs the audit permission");
	int64_t after = 0, limit = 100;
	srv_reqerr e;
	if (!query_int(c, "after", 0, INT64_MAX / 2, &after, &e) || !query_int(c, "limit", 1, 1000, &limit, &e))
		return srv_send_reqerr(c, r, &e);
	audit_acc a = {.records = json_array(), .last = after};
	if (!a.records)
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	cairn_status st = cairn_audit_read(s->kb, after, limit, audit_cb, &a);
	if (st != CAIRN_OK || a.bad) {
		json_decref(a.records);
		return st != CAIRN_OK ? lib_error(s, c, r, st, "audit") : srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	json_t *j = json_pack("{s:o,s:I,s:b}", "records", a.records, "next_after", (json_int_t)a.last, "enabled",
	                      cairn_audit_enabled(s->kb));
	char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return srv_send_json(c, r, 200, out);
}

/* ---- OpenAI-compatible routes ---- */

static void completion_id(char *buf, size_t n)
{
	static _Atomic uint64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, n, "chatcmpl-cairn%llx%llx", (unsigned long long)ts.tv_sec,
	         (unsigned long long)atomic_fetch_add(&counter, 1));
}

/* The answer text with [n] markers after each sentence (the abstention message as it is). */
static char *answer_with_markers(const cairn_answer_view *v)
{
	if (v->abstained || v->n_sentences == 0)
		return strdup(v->answer ? v->answer : "");
	size_t cap = 64;
	for (size_t i = 0; i < v->n_sentences; i++)
		cap += strlen(v->sentences[i].text) + 2 + v->sentences[i].n_citations * 14;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < v->n_sentences; i++) {
		const cairn_answer_sentence *sn = &v->sentences[i];
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", sn->text);
		for (size_t k = 0; k < sn->n_citations; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s[%d]", k ? "" : " ", sn->citations[k]);
	}
	return out;
}

static json_t *chunk_json(const char *id, long long created, json_t *delta, const char *finish)
{
	return json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o}]}", "id", id, "object", "chat.completion.chunk",
	                 "created", (json_int_t)created, "model", "cairn", "choices", "index", 0, "delta", delta,
	                 "finish_reason", finish ? json_string(finish) : json_null());
}

enum MHD_Result srv_route_chat(srv *s, struct MHD_Connection *c, srv_req *r)
{
	json_t *o;
	srv_reqerr e;
	srv_chat_req q;
	if (!srv_json_object(r->body, r->len, &o, &e))
		return srv_send_reqerr(c, r, &e);
	if (!srv_parse_chat(o, &q, &e)) {
		json_decref(o);
		return srv_send_reqerr(c, r, &e);
	}
	cairn_answer *ans = NULL;
	char errbuf[512];
	cairn_status st = ask(s, r, q.question, NULL, &ans, errbuf, sizeof errbuf);
	size_t prompt_chars = q.prompt_chars;
	bool stream = q.stream;
	free(q.buf);
	json_decref(o);
	if (st != CAIRN_OK)
		return ask_error(s, c, r, st, errbuf);
	const cairn_answer_view *v = cairn_answer_get(ans);
	char *content = answer_with_markers(v);
	char id[64];
	completion_id(id, sizeof id);
	long long created = (long long)time(NULL);
	json_int_t pt = srv_estimate_tokens(prompt_chars), ctok = srv_estimate_tokens(content ? strlen(content) : 0);
	if (!content) {
		cairn_answer_free(ans);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	if (!stream) {
		json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:{s:I,s:I,s:I},s:o,s:f,s:b}", "id", id,
		                      "object", "chat.completion", "created", (json_int_t)created, "model", "cairn",
		                      "choices", "index", 0, "message", "role", "assistant", "content", content,
		                      "finish_reason", "stop", "usage", "prompt_tokens", pt, "completion_tokens", ctok,
		                      "total_tokens", pt + ctok, "citations", citations_json(v, NULL, 0), "confidence",
		                      v->confidence, "abstained", v->abstained);
		free(content);
		cairn_answer_free(ans);
		char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		return srv_send_json(c, r, 200, out);
	}
	/* OpenAI's chunk sequence: the role, the content piece by piece (a sentence with its
	 * markers each), an empty delta with finish_reason, then [DONE]. */
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *ch = chunk_json(id, created, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
	bool ok = ch && sse_append(&buf, &len, &cap, NULL, ch);
	json_decref(ch);
	/* split content at the sentence boundaries answer_with_markers used */
	if (v->abstained || v->n_sentences == 0) {
		ch = chunk_json(id, created, json_pack("{s:s}", "content", content), NULL);
		ok = ok && ch && sse_append(&buf, &len, &cap, NULL, ch);
		json_decref(ch);
	} else {
		for (size_t i = 0; ok && i < v->n_sentences; i++) {
			const cairn_answer_sentence *sn = &v->sentences[i];
			size_t pcap = strlen(sn->text) + 2 + sn->n_citations * 14;
			char *piece = malloc(pcap);
			if (!piece) {
				ok = false;
				break;
			}
			size_t n = (size_t)snprintf(piece, pcap, "%s%s", i ? " " : "", sn->text);
			for (size_t k = 0; k < sn->n_citations; k++)
				n += (size_t)snprintf(piece + n, pcap - n, "%s[%d]", k ? "" : " ", sn->citations[k]);
			ch = chunk_json(id, created, json_pack("{s:s}", "content", piece), NULL);
			free(piece);
			ok = ch && sse_append(&buf, &len, &cap, NULL, ch);
			json_decref(ch);
		}
	}
	ch = chunk_json(id, created, json_object(), "stop");
	if (ch) {
		json_object_set_new(ch, "citations", citations_json(v, NULL, 0));
		json_object_set_new(ch, "usage", json_pack("{s:I,s:I,s:I}", "prompt_tokens", pt, "completion_tokens", ctok,
		                                           "total_tokens", pt + ctok));
	}
	ok = ok && ch && sse_append(&buf, &len, &cap, NULL, ch);
	json_decref(ch);
	ok = ok && sse_raw(&buf, &len, &cap, "data: [DONE]\n\n");
	free(content);
	cairn_answer_free(ans);
	if (!ok) {
		free(buf);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	return srv_send_sse(c, r, buf, len);
}

enum MHD_Result srv_route_embed(srv *s, struct MHD_Connection *c, srv_req *r)
{
	if (!s->enc)
		return srv_send_error(c, r, 400, SRV_E_UNSUPPORTED,
		                      "no embedding model: the knowledge base has none and --embed-model was not given");
	json_t *o;
	srv_reqerr e;
	srv_embed_req q;
	if (!srv_json_object(r->body, r->len, &o, &e))
		return srv_send_reqerr(c, r, &e);
	if (!srv_parse_embed(o, &q, &e)) {
		json_decref(o);
		return srv_send_reqerr(c, r, &e);
	}
	cairn_encoder_info info;
	cairn_encoder_get_info(s->enc, &info);
	if (info.is_reranker || info.dim <= 0) {
		json_decref(o);
		return srv_send_error(c, r, 400, SRV_E_UNSUPPORTED, "the server's model is not an embedding model");
	}
	float *vec = malloc(q.n * (size_t)info.dim * sizeof *vec);
	if (!vec) {
		json_decref(o);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	size_t chars = 0;
	for (size_t i = 0; i < q.n; i++)
		chars += strlen(q.inputs[i]);
	double t0 = srv_now();
	cairn_status st = cairn_embed(s->enc, q.inputs, q.n, CAIRN_EMBED_DOCUMENT, vec);
	srv_hist_add(&s->embed_time, srv_now() - t0);
	if (st != CAIRN_OK) {
		free(vec);
		json_decref(o);
		char msg[300];
		snprintf(msg, sizeof msg, "embedding: %s", cairn_encoder_errmsg(s->enc));
		return srv_send_error(c, r, st == CAIRN_ENOMEM ? 500 : 400,
		                      st == CAIRN_ENOMEM ? SRV_E_INTERNAL : SRV_E_INVALID_REQUEST, msg);
	}
	json_t *data = json_array();
	for (size_t i = 0; data && i < q.n; i++) {
		json_t *emb;
		const float *row = vec + i * (size_t)info.dim;
		if (q.base64) {
			/* little-endian float32, as OpenAI sends it (this host is little-endian x86/arm) */
			char *b = srv_base64((const unsigned char *)row, (size_t)info.dim * sizeof(float));
			emb = b ? json_string(b) : NULL;
			free(b);
		} else {
			emb = json_array();
			for (int k = 0; emb && k < info.dim; k++)
				json_array_append_new(emb, json_real(isfinite(row[k]) ? row[k] : 0.0));
		}
		json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object", "embedding", "index", (json_int_t)i,
		                                      "embedding", emb));
	}
	free(vec);
	json_int_t pt = srv_estimate_tokens(chars);
	json_t *j = json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data", data, "model", s->embed_name,
	                      "usage", "prompt_tokens", pt, "total_tokens", pt);
	json_decref(o);
	char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return srv_send_json(c, r, 200, out);
}

enum MHD_Result srv_route_models(srv *s, struct MHD_Connection *c, srv_req *r)
{
	json_t *data = json_array();
	json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", "cairn", "object", "model", "created", 0,
	                                      "owned_by", "cairn"));
	if (s->enc)
		json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", s->embed_name, "object", "model",
		                                      "created", 0, "owned_by", "cairn"));
	json_t *j = json_pack("{s:s,s:o}", "object", "list", "data", data);
	char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return srv_send_json(c, r, 200, out);
}

/* ---- GET /metrics (Prometheus text format 0.0.4) ---- */

typedef struct mbuf {
	char *p;
	size_t n, cap;
	bool bad;
} mbuf;

static void mprintf(mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mprintf(mbuf *m, const char *fmt, ...)
{
	if (m->bad)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(m->p + m->n, m->cap - m->n, fmt, ap);
		va_end(ap);
		if (w < 0) {
			m->bad = true;
			return;
		}
		if ((size_t)w < m->cap - m->n) {
			m->n += (size_t)w;
			return;
		}
		size_t nc = m->cap * 2 + (size_t)w;
		char *np = realloc(m->p, nc);
		if (!np) {
			m->bad = true;
			return;
		}
		m->p = np;
		m->cap = nc;
	}
}

static void hist(mbuf *m, const char *name, const char *labels, srv_hist *h)
{
	uint64_t cum = 0;
	for (int i = 0; i < SRV_N_BUCKETS; i++) {
		cum += atomic_load(&h->count[i]);
		mprintf(m, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", srv_buckets[i],
		        (unsigned long long)cum);
	}
	uint64_t n = atomic_load(&h->n);
	mprintf(m, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "", (unsigned long long)n);
	mprintf(m, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
	        (double)atomic_load(&h->sum_us) / 1e6);
	mprintf(m, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", (unsigned long long)n);
}

enum MHD_Result srv_route_metrics(srv *s, struct MHD_Connection *c, srv_req *r)
{
	mbuf m = {.p = malloc(16384), .cap = 16384};
	if (!m.p)
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	m.p[0] = 0;
	mprintf(&m, "# HELP cairn_http_requests_total HTTP requests by route and status.\n"
	            "# TYPE cairn_http_requests_total counter\n");
	for (int rt = 0; rt < SRV_N_ROUTES; rt++)
		for (int st = 100; st < 600; st++) {
			uint64_t n = atomic_load(&s->requests[rt][st]);
			if (n)
				mprintf(&m, "cairn_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", srv_route_names[rt],
				        st, (unsigned long long)n);
		}
	mprintf(&m, "# HELP cairn_http_request_duration_seconds Time from the request's headers to the end of its "
	            "response.\n# TYPE cairn_http_request_duration_seconds histogram\n");
	for (int rt = 0; rt < SRV_N_ROUTES; rt++) {
		if (!atomic_load(&s->latency[rt].n))
			continue;
		char lab[80];
		snprintf(lab, sizeof lab, "route=\"%s\"", srv_route_names[rt]);
		hist(&m, "cairn_http_request_duration_seconds", lab, &s->latency[rt]);
	}
	mprintf(&m, "# HELP cairn_search_duration_seconds Time in cairn_search.\n"
	            "# TYPE cairn_search_duration_seconds histogram\n");
	hist(&m, "cairn_search_duration_seconds", "", &s->search_time);
	mprintf(&m, "# HELP cairn_answer_duration_seconds Time in cairn_ask (retrieval and answering).\n"
	            "# TYPE cairn_answer_duration_seconds histogram\n");
	hist(&m, "cairn_answer_duration_seconds", "", &s->answer_time);
	mprintf(&m, "# HELP cairn_embed_duration_seconds Time in cairn_embed.\n"
	            "# TYPE cairn_embed_duration_seconds histogram\n");
	hist(&m, "cairn_embed_duration_seconds", "", &s->embed_time);
	mprintf(&m,
	        "# HELP cairn_auth_decisions_total Authentication, permission and rate-limit decisions.\n"
	        "# TYPE cairn_auth_decisions_total counter\n"
	        "cairn_auth_decisions_total{decision=\"allowed\"} %llu\n"
	        "cairn_auth_decisions_total{decision=\"unauthorized\"} %llu\n"
	        "cairn_auth_decisions_total{decision=\"forbidden\"} %llu\n"
	        "cairn_auth_decisions_total{decision=\"rate_limited\"} %llu\n",
	        (unsigned long long)atomic_load(&s->auth_ok), (unsigned long long)atomic_load(&s->auth_401),
	        (unsigned long long)atomic_load(&s->auth_403), (unsigned long long)atomic_load(&s->auth_429));
	mprintf(&m,
	        "# HELP cairn_guard_decisions_total Prompt-injection guard decisions in answers.\n"
	        "# TYPE cairn_guard_decisions_total counter\n"
	        "cairn_guard_decisions_total{decision=\"question_flagged\"} %llu\n"
	        "cairn_guard_decisions_total{decision=\"refused\"} %llu\n"
	        "cairn_guard_decisions_total{decision=\"chunk_quarantined\"} %llu\n",
	        (unsigned long long)atomic_load(&s->guard_flagged), (unsigned long long)atomic_load(&s->guard_refused),
	        (unsigned long long)atomic_load(&s->guard_quarantined));
	mprintf(&m, "# HELP cairn_http_response_bytes_total Response body bytes sent.\n"
	            "# TYPE cairn_http_response_bytes_total counter\ncairn_http_response_bytes_total %llu\n",
	        (unsigned long long)atomic_load(&s->bytes_out));
	mprintf(&m, "# HELP cairn_http_requests_in_flight Requests being served.\n"
	            "# TYPE cairn_http_requests_in_flight gauge\ncairn_http_requests_in_flight %d\n",
	        atomic_load(&s->inflight));
	cairn_kb_stats st;
	if (cairn_kb_stats_get(s->kb, &st) == CAIRN_OK) {
		mprintf(&m,
		        "# HELP cairn_index_documents Documents in the knowledge base.\n# TYPE cairn_index_documents gauge\n"
		        "cairn_index_documents %lld\n"
		        "# HELP cairn_index_chunks Chunks in the knowledge base.\n# TYPE cairn_index_chunks gauge\n"
		        "cairn_index_chunks %lld\n"
		        "# HELP cairn_index_vector_chunks Chunks with an embedding.\n# TYPE cairn_index_vector_chunks gauge\n"
		        "cairn_index_vector_chunks %lld\n"
		        "# HELP cairn_index_segments Index segments.\n# TYPE cairn_index_segments gauge\n"
		        "cairn_index_segments %lld\n"
		        "# HELP cairn_index_bytes Bytes of segment files.\n# TYPE cairn_index_bytes gauge\n"
		        "cairn_index_bytes %lld\n"
		        "# HELP cairn_catalog_bytes Bytes of the SQLite catalog.\n# TYPE cairn_catalog_bytes gauge\n"
		        "cairn_catalog_bytes %lld\n"
		        "# HELP cairn_index_generation Commit counter.\n# TYPE cairn_index_generation gauge\n"
		        "cairn_index_generation %lld\n",
		        (long long)st.documents, (long long)st.chunks, (long long)st.vector_chunks, (long long)st.segments,
		        (long long)st.index_bytes, (long long)st.catalog_bytes, (long long)st.generation);
	}
	if (m.bad) {
		free(m.p);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	size_t n = m.n;
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, m.p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(m.p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	r->status = 200;
	r->bytes = n;
	enum MHD_Result ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- tool approvals (cairn serve --tools FILE) ---- */

/* Approvals are an admin's decision, as with `cairn approvals`: the library refuses a
 * non-admin approver and a principal approving its own call; this route adds the HTTP side. */
enum MHD_Result srv_route_approvals(srv *s, struct MHD_Connection *c, srv_req *r)
{
	if (!s->tools)
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no tools configured (cairn serve --tools FILE)");
	if (!(r->perms & CAIRN_PERM_ADMIN))
		return forbidden(s, c, r, "listing tool approvals needs the admin permission");
	const char *all = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "all");
	char *j = NULL;
	pthread_mutex_lock(&s->tools_mu);
	cairn_status st = cairn_tools_approvals(s->tools, !(all && !strcmp(all, "1")), &j);
	pthread_mutex_unlock(&s->tools_mu);
	if (st != CAIRN_OK) {
		cairn_free(j);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "the approvals could not be read");
	}
	size_t n = strlen(j) + 32;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "{\"approvals\":%s}", j);
	cairn_free(j);
	return srv_send_json(c, r, 200, out);
}

enum MHD_Result srv_route_approval_decide(srv *s, struct MHD_Connection *c, srv_req *r, const char *rest)
{
	if (!s->tools)
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no tools configured (cairn serve --tools FILE)");
	if (!(r->perms & CAIRN_PERM_ADMIN))
		return forbidden(s, c, r, "deciding tool approvals needs the admin permission");
	/* rest = "ID/approve" or "ID/deny" */
	char *end = NULL;
	long long id = strtoll(rest, &end, 10);
	bool approve = end && !strcmp(end, "/approve"), deny = end && !strcmp(end, "/deny");
	if (end == rest || id < 1 || (!approve && !deny))
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no such route: POST /v1/approvals/ID/approve or /deny");
	cairn_tool_outcome o;
	memset(&o, 0, sizeof o);
	pthread_mutex_lock(&s->tools_mu);
	cairn_status st = cairn_tools_decide(s->tools, (int64_t)id, approve, s->no_auth ? NULL : r->who, &o);
	char msg[512];
	snprintf(msg, sizeof msg, "%s", st ? cairn_tools_errmsg(s->tools) : "");
	pthread_mutex_unlock(&s->tools_mu);
	if (st != CAIRN_OK) {
		cairn_tool_outcome_free(&o);
		if (st == CAIRN_ENOTFOUND)
			return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, msg);
		if (st == CAIRN_EPERM)
			return forbidden(s, c, r, msg);
		if (st == CAIRN_EINVAL)
			return srv_send_error(c, r, 409, SRV_E_CONFLICT, msg);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, msg);
	}
	json_t *j = json_object();
	json_object_set_new(j, "id", json_integer(id));
	json_object_set_new(j, "decision", json_string(approve ? cairn_tool_decision_name(o.decision) : "denied"));
	if (approve) {
		json_object_set_new(j, "ok", json_boolean(o.ok));
		if (o.result)
			json_object_set_new(j, "result", json_string(o.result));
	}
	cairn_tool_outcome_free(&o);
	char *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return srv_send_json(c, r, 200, out);
}
