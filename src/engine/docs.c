/*
 * docs — fetching one document (metadata and chunks) by id, under access control.
 *
 * Design: the access check is the same rule the index walk applies (filter.c), evaluated
 * on the catalog's doc_groups rows — the principal must share a group with the document,
 * or the document has none and the knowledge base's ACL mode is open. A refused document
 * is reported exactly like a missing one (CAIRN_ENOTFOUND, same message), so a principal
 * cannot probe for the existence of documents it may not see. Everything the caller gets
 * lives in one arena owned by the returned handle.
 */
#include <string.h>

#include "engine/engine.h"

typedef struct doc_handle {
	cairn_document doc; /* first: cairn_document_free casts back */
	cn_arena arena;
} doc_handle;

void cairn_document_free(cairn_document *doc)
{
	if (!doc)
		return;
	doc_handle *h = (doc_handle *)doc;
	cn_arena_free(&h->arena);
	cn_free(h);
}

static const char *adup(doc_handle *h, const unsigned char *s)
{
	const char *t = s ? (const char *)s : "";
	return cn_arena_strndup(&h->arena, t, strlen(t));
}

/* Collects one text column of a query into a string array in the arena. */
static cairn_status collect(cairn_kb *kb, doc_handle *h, const char *sql, int64_t doc, const char *const **out,
                            size_t *n, cn_err *err)
{
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(kb->store, sql, &q, err);
	if (st)
		return st;
	sqlite3_bind_int64(q, 1, doc);
	size_t cap = 8, cnt = 0;
	const char **v = cn_arena_alloc(&h->arena, cap * sizeof *v);
	int rc;
	while (v && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (cnt == cap) {
			const char **nv = cn_arena_alloc(&h->arena, 2 * cap * sizeof *nv);
			if (!nv) {
				v = NULL;
				break;
			}
			memcpy(nv, v, cnt * sizeof *v);
			v = nv;
			cap *= 2;
		}
		if (!(v[cnt++] = adup(h, sqlite3_column_text(q, 0))))
			v = NULL;
	}
	sqlite3_reset(q);
	if (!v)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return cn_store_sqlerr(kb->store, err, "read document");
	*out = v;
	*n = cnt;
	return CAIRN_OK;
}

static bool allowed(const cairn_document *d, const char *const *groups, size_t n_groups, bool closed)
{
	if (!groups)
		return true;
	if (d->n_groups == 0)
		return !closed;
	for (size_t i = 0; i < d->n_groups; i++)
		for (size_t j = 0; j < n_groups; j++)
			if (groups[j] && strcmp(d->groups[i], groups[j]) == 0)
				return true;
	return false;
}

cairn_status cairn_kb_get_document(cairn_kb *kb, const char *doc_id, const char *const *groups, size_t n_groups,
                                   const char *principal, cairn_document **out)
{
	cn_err err = {0};
	*out = NULL;
	if (!doc_id)
		return cn_err_set(&err, CAIRN_EINVAL, "document id is NULL"), kb_fail(kb, &err);
	doc_handle *h = cn_calloc(1, sizeof *h);
	if (!h)
		return cn_err_set(&err, CAIRN_ENOMEM, "out of memory"), kb_fail(kb, &err);
	cn_arena_init(&h->arena, 16 * 1024);
	cairn_document *d = &h->doc;
	pthread_mutex_lock(&kb->mu);
	sqlite3_stmt *q;
	int64_t doc = 0;
	cairn_status st = cn_store_prepare(kb->store, "SELECT id, doc_id, title, source, format, mtime, size, "
	                                   "ingested_at FROM documents WHERE doc_id = ?1", &q, &err);
	if (!st) {
		sqlite3_bind_text(q, 1, doc_id, -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			doc = sqlite3_column_int64(q, 0);
			d->doc_id = adup(h, sqlite3_column_text(q, 1));
			d->title = adup(h, sqlite3_column_text(q, 2));
			d->source = adup(h, sqlite3_column_text(q, 3));
			d->format = adup(h, sqlite3_column_text(q, 4));
			d->mtime = sqlite3_column_int64(q, 5);
			d->size = sqlite3_column_int64(q, 6);
			d->ingested_at = sqlite3_column_int64(q, 7);
			if (!d->doc_id || !d->title || !d->source || !d->format)
				st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		} else if (rc != SQLITE_DONE) {
			st = cn_store_sqlerr(kb->store, &err, "read document");
		}
		sqlite3_reset(q);
	}
	if (!st && doc)
		st = collect(kb, h, "SELECT grp FROM doc_groups WHERE doc = ?1 ORDER BY grp", doc, &d->groups, &d->n_groups,
		             &err);
	if (!st && (!doc || !allowed(d, groups, n_groups, kb_acl_closed_locked(kb))))
		st = cn_err_set(&err, CAIRN_ENOTFOUND, "no document \"%s\"", doc_id);
	if (!st)
		st = collect(kb, h, "SELECT key || '=' || value FROM doc_tags WHERE doc = ?1 ORDER BY key, value", doc,
		             &d->tags, &d->n_tags, &err);
	if (!st)
		st = cn_store_prepare(kb->store, "SELECT id, heading, byte_start, byte_end, text FROM chunks "
		                      "WHERE doc = ?1 ORDER BY ord", &q, &err);
	if (!st) {
		sqlite3_bind_int64(q, 1, doc);
		size_t cap = 16, n = 0;
		cairn_doc_chunk *c = cn_arena_alloc(&h->arena, cap * sizeof *c);
		int rc;
		while (c && (rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (n == cap) {
				cairn_doc_chunk *nc = cn_arena_alloc(&h->arena, 2 * cap * sizeof *nc);
				if (!nc) {
					c = NULL;
					break;
				}
				memcpy(nc, c, n * sizeof *c);
				c = nc;
				cap *= 2;
			}
			cairn_doc_chunk *x = &c[n++];
			x->chunk_id = sqlite3_column_int64(q, 0);
			x->heading = adup(h, sqlite3_column_text(q, 1));
			x->byte_start = sqlite3_column_int64(q, 2);
			x->byte_end = sqlite3_column_int64(q, 3);
			x->text = adup(h, sqlite3_column_text(q, 4));
			if (!x->heading || !x->text)
				c = NULL;
		}
		sqlite3_reset(q);
		if (!c)
			st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		else if (rc != SQLITE_DONE)
			st = cn_store_sqlerr(kb->store, &err, "read chunks");
		d->chunks = c;
		d->n_chunks = n;
	}
	pthread_mutex_unlock(&kb->mu);
	if (!st || st == CAIRN_ENOTFOUND) {
		/* Fetches are retrievals too, and a refused or missing one is worth a record. */
		int64_t *ids = !st && d->n_chunks ? cn_malloc(d->n_chunks * sizeof *ids) : NULL;
		for (size_t i = 0; ids && i < d->n_chunks; i++)
			ids[i] = d->chunks[i].chunk_id;
		cairn_audit_entry e = {.action = "document.get", .principal = principal, .question = doc_id,
		                       .chunk_ids = ids, .n_chunks = ids ? d->n_chunks : 0,
		                       .decisions_json = st ? "{\"found\":false}" : "{\"found\":true}"};
		cairn_status ast = cairn_audit_append(kb, &e);
		cn_free(ids);
		if (ast) {
			cairn_document_free(d);
			return ast;
		}
	}
	if (st) {
		cairn_document_free(d);
		return kb_fail(kb, &err);
	}
	*out = d;
	return CAIRN_OK;
}
