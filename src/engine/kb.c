/* Knowledge-base handle: open/close, snapshots of the committed segments, the writer's
 * transaction lifecycle, deletes, merges, stats and consistency checks. */
#include "engine/engine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cairn_kb_params cairn_kb_default_params(void)
{
	cairn_kb_params p = {
		.create = 1,
		.read_only = 0,
		.language = "porter",
		.bm25_k1 = 0.9,
		.bm25_b = 0.4,
	};
	return p;
}

cairn_status kb_fail(cairn_kb *kb, cn_err *err)
{
	snprintf(kb->errmsg, sizeof kb->errmsg, "%s", err->msg);
	return err->code ? err->code : CAIRN_EINTERNAL;
}

const char *cairn_kb_errmsg(const cairn_kb *kb) { return kb ? kb->errmsg : ""; }

void kb_content_hash(const void *data, size_t len, char out[33])
{
	uint64_t a = cn_hash64(data, len, 0x9E3779B97F4A7C15ull);
	uint64_t b = cn_hash64(data, len, 0xC2B2AE3D27D4EB4Full ^ len);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* The analyzer and BM25 parameters are fixed when the KB is created, and every later open
 * uses the stored ones: queries must be analyzed exactly as the index was. */
static cairn_status load_settings(cairn_kb *kb, const cairn_kb_params *p, cn_err *err)
{
	char *sig = NULL;
	cairn_status st = cn_store_meta_get(kb->store, "analyzer", &sig, err);
	if (st)
		return st;
	if (!sig) {
		if (kb->read_only)
			return cn_err_set(err, CAIRN_ECORRUPT, "%s: catalog has no analyzer setting", cn_store_dir(kb->store));
		cn_analyzer_params ap = cn_analyzer_default_params();
		const char *lang = p->language && *p->language ? p->language : "porter";
		ap.stemmer = lang;
		if (strcmp(lang, "porter") != 0 && strcmp(lang, "english") != 0 && strcmp(lang, "none") != 0)
			ap.stopwords = "none"; /* the stopword list is English; other languages keep every word */
		st = cn_analyzer_new(&ap, &kb->analyzer, err);
		if (st)
			return st;
		st = cn_store_meta_set(kb->store, "analyzer", cn_analyzer_signature(kb->analyzer), err);
		char num[64];
		snprintf(num, sizeof num, "%.6g", p->bm25_k1 > 0 ? p->bm25_k1 : 0.9);
		if (!st)
			st = cn_store_meta_set(kb->store, "bm25_k1", num, err);
		snprintf(num, sizeof num, "%.6g", p->bm25_b >= 0 && p->bm25_b <= 1 ? p->bm25_b : 0.4);
		if (!st)
			st = cn_store_meta_set(kb->store, "bm25_b", num, err);
		if (!st)
			st = cn_store_meta_set(kb->store, "language", lang, err);
		if (st)
			return st;
	} else {
		st = cn_analyzer_from_signature(sig, &kb->analyzer, err);
		cn_free(sig);
		if (st)
			return st;
	}
	kb->analyzer_sig = cn_strdup(cn_analyzer_signature(kb->analyzer));
	char *v = NULL;
	kb->k1 = 0.9f;
	kb->b = 0.4f;
	if (!cn_store_meta_get(kb->store, "bm25_k1", &v, err) && v)
		kb->k1 = strtof(v, NULL);
	cn_free(v);
	v = NULL;
	if (!cn_store_meta_get(kb->store, "bm25_b", &v, err) && v)
		kb->b = strtof(v, NULL);
	cn_free(v);
	if (!(kb->k1 > 0 && kb->k1 < 100) || !(kb->b >= 0 && kb->b <= 1))
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: bad BM25 parameters in catalog", cn_store_dir(kb->store));
	return kb->analyzer_sig ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
}

cairn_status cairn_kb_open(const char *dir, const cairn_kb_params *params, cairn_kb **out, char *errbuf,
                           size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	*out = NULL;
	cairn_kb_params defaults = cairn_kb_default_params();
	if (!params)
		params = &defaults;
	if (!dir || !*dir) {
		cn_err_set(&err, CAIRN_EINVAL, "knowledge base directory is empty");
		goto fail_early;
	}
	cairn_kb *kb = cn_calloc(1, sizeof *kb);
	if (!kb) {
		cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		goto fail_early;
	}
	pthread_mutex_init(&kb->mu, NULL);
	pthread_mutex_init(&kb->audit.mu, NULL);
	kb->read_only = params->read_only != 0;
	cn_strmap_init(&kb->w.in_flight);
	cairn_status st = cn_store_open(dir, params->create != 0, kb->read_only, &kb->store, &err);
	if (!st)
		st = load_settings(kb, params, &err);
	if (!st)
		st = kb_embed_load(kb, &err);
	if (st) {
		cairn_kb_close(kb);
		goto fail_early;
	}
	*out = kb;
	return CAIRN_OK;
fail_early:
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err.msg);
	return err.code;
}

static void seg_release(kb_seg *s)
{
	if (s && --s->refs == 0) {
		cn_bm25_seg_close(s->seg);
		cn_vec_seg_close(s->vseg);
		cn_free(s);
	}
}

void kb_snapshot_release(kb_snapshot *snap)
{
	if (!snap || --snap->refs > 0)
		return;
	for (size_t i = 0; i < snap->n; i++) {
		seg_release(snap->segs[i]);
		cn_free(snap->deleted[i]);
	}
	cn_free(snap->segs);
	cn_free(snap->deleted);
	cn_free(snap->views);
	cn_free(snap->vviews);
	cn_free(snap->vseg_of);
	cn_free(snap);
}

void cairn_kb_close(cairn_kb *kb)
{
	if (!kb)
		return;
	if (kb->w.active)
		kb_write_rollback(kb);
	kb_writer_free(&kb->w);
	kb_snapshot_release(kb->snap);
	cairn_encoder_close(kb->embed.enc);
	cairn_tokenizer_close(kb->embed.tok);
	cn_free(kb->embed.path);
	cn_free(kb->embed.fingerprint);
	cairn_encoder_close(kb->rerank);
	cn_free(kb->rerank_path);
	cn_analyzer_free(kb->analyzer);
	cn_free(kb->analyzer_sig);
	cn_store_close(kb->store);
	kb_audit_close(kb);
	pthread_mutex_destroy(&kb->mu);
	cn_free(kb);
}

/* Loads the committed manifest into a new snapshot, reusing segments already open. */
/* The segment's vector sidecar, when the catalog lists one. A knowledge base from before
 * the vectors table had none (the table is created on the next write). */
static cairn_status open_vectors(cairn_kb *kb, kb_seg *ks, cn_err *err)
{
	sqlite3_stmt *q;
	cn_err e2;
	cn_err_clear(&e2);
	if (cn_store_prepare(kb->store, "SELECT count FROM vectors WHERE segment = ?1", &q, &e2))
		return CAIRN_OK;
	sqlite3_bind_int64(q, 1, ks->id);
	int rc = sqlite3_step(q);
	int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cn_store_sqlerr(kb->store, err, "reading the vector manifest");
	if (count < 0)
		return CAIRN_OK;
	char path[PATH_MAX];
	cn_store_segment_path(kb->store, ks->id, "vec", path, sizeof path);
	cairn_status st = cn_vec_seg_open(path, &ks->vseg, err);
	if (!st && cn_vec_seg_count(ks->vseg) != cn_bm25_seg_ndocs(ks->seg))
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: %u vectors for %u chunks", path, cn_vec_seg_count(ks->vseg),
		                cn_bm25_seg_ndocs(ks->seg));
	if (st) {
		cn_vec_seg_close(ks->vseg);
		ks->vseg = NULL;
	}
	return st;
}

static cairn_status snapshot_vec_views(kb_snapshot *snap, cn_err *err)
{
	size_t nv = 0;
	for (size_t i = 0; i < snap->n; i++)
		nv += snap->segs[i]->vseg != NULL;
	if (!nv)
		return CAIRN_OK;
	snap->vviews = cn_calloc(nv, sizeof *snap->vviews);
	snap->vseg_of = cn_calloc(nv, sizeof *snap->vseg_of);
	if (!snap->vviews || !snap->vseg_of)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < snap->n; i++) {
		if (!snap->segs[i]->vseg)
			continue;
		snap->vviews[snap->nv].seg = snap->segs[i]->vseg;
		snap->vviews[snap->nv].deleted = snap->deleted[i];
		snap->vseg_of[snap->nv] = (uint32_t)i;
		snap->nv++;
	}
	return CAIRN_OK;
}

static cairn_status snapshot_load(cairn_kb *kb, int64_t gen, kb_snapshot **out, cn_err *err)
{
	*out = NULL;
	kb_snapshot *old = kb->snap;
	kb_snapshot *snap = cn_calloc(1, sizeof *snap);
	if (!snap)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	snap->refs = 1;
	snap->generation = gen;
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(
		kb->store, "SELECT id FROM segments WHERE kind = 'bm25' AND committed = 1 ORDER BY id", &q, err);
	size_t cap = 0;
	while (!st) {
		int rc = sqlite3_step(q);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			st = cn_store_sqlerr(kb->store, err, "reading segment manifest");
			break;
		}
		int64_t id = sqlite3_column_int64(q, 0);
		if (snap->n == cap) {
			size_t c1 = cap, c2 = cap, c3 = cap;
			if (CN_GROW(snap->segs, c1, cap + 1) || CN_GROW(snap->deleted, c2, cap + 1) ||
			    CN_GROW(snap->views, c3, cap + 1)) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			cap = c1;
		}
		kb_seg *ks = NULL;
		for (size_t i = 0; old && i < old->n; i++)
			if (old->segs[i]->id == id)
				ks = old->segs[i];
		if (ks) {
			ks->refs++;
		} else {
			ks = cn_calloc(1, sizeof *ks);
			if (!ks) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			ks->refs = 1;
			ks->id = id;
			char path[PATH_MAX];
			cn_store_segment_path(kb->store, id, "bm25", path, sizeof path);
			st = cn_bm25_seg_open(path, &ks->seg, err);
			if (st) {
				cn_free(ks);
				break;
			}
			st = open_vectors(kb, ks, err);
			if (st) {
				seg_release(ks);
				break;
			}
		}
		snap->segs[snap->n] = ks;
		snap->deleted[snap->n] = NULL;
		snap->views[snap->n].seg = ks->seg;
		snap->views[snap->n].deleted = NULL;
		snap->total_chunks += cn_bm25_seg_ndocs(ks->seg);
		snap->n++;
	}
	sqlite3_reset(q);
	if (!st)
		st = cn_store_prepare(kb->store, "SELECT segment, docnum FROM deleted", &q, err);
	while (!st) {
		int rc = sqlite3_step(q);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			st = cn_store_sqlerr(kb->store, err, "reading deletions");
			break;
		}
		int64_t seg = sqlite3_column_int64(q, 0), docnum = sqlite3_column_int64(q, 1);
		for (size_t i = 0; i < snap->n; i++) {
			if (snap->segs[i]->id != seg)
				continue;
			uint32_t nd = cn_bm25_seg_ndocs(snap->segs[i]->seg);
			if (docnum < 0 || docnum >= nd)
				break; /* stale row for a docnum the file never had: ignore, `check` reports it */
			if (!snap->deleted[i]) {
				snap->deleted[i] = cn_calloc((nd + 7) / 8, 1);
				if (!snap->deleted[i]) {
					st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					break;
				}
				snap->views[i].deleted = snap->deleted[i];
			}
			if (!(snap->deleted[i][docnum >> 3] & (1u << (docnum & 7)))) {
				snap->deleted[i][docnum >> 3] |= (uint8_t)(1u << (docnum & 7));
				snap->total_chunks--;
			}
			break;
		}
	}
	sqlite3_reset(q);
	if (!st)
		st = snapshot_vec_views(snap, err);
	if (st) {
		kb_snapshot_release(snap);
		return st;
	}
	*out = snap;
	return CAIRN_OK;
}

#define SNAPSHOT_RECHECK_NS 1000000ull

cairn_status kb_snapshot_get(cairn_kb *kb, kb_snapshot **out, cn_err *err)
{
	/* Fast path: a snapshot checked less than SNAPSHOT_RECHECK_NS ago is used as is; else
	 * one cached single-statement read of the generation (its own read transaction) tells
	 * whether it is still current. So a search sees every commit of another process made
	 * more than a millisecond before it started, and this handle's own commits at once
	 * (they reset the clock), while back-to-back searches skip the catalog entirely. */
	uint64_t now = cn_now_ns();
	if (kb->snap && kb->snap_checked_ns && now - kb->snap_checked_ns < SNAPSHOT_RECHECK_NS) {
		kb->snap->refs++;
		*out = kb->snap;
		return CAIRN_OK;
	}
	int64_t gen;
	cairn_status st = cn_store_generation(kb->store, &gen, err);
	if (st)
		return st;
	if (!kb->snap || kb->snap->generation != gen) {
		/* The generation and the manifest must come from the same commit: read both
		 * inside one read transaction (unless this handle's write transaction is open).
		 * A segment file the manifest lists may already have been merged away and removed
		 * by a writer that committed after our transaction began: then start a new read
		 * transaction, which sees the newer manifest, and try again. */
		bool own_txn = !cn_store_in_txn(kb->store);
		kb_snapshot *snap = NULL;
		for (int attempt = 0;; attempt++) {
			if (own_txn)
				st = cn_store_exec(kb->store, "BEGIN", err);
			if (!st)
				st = cn_store_generation(kb->store, &gen, err);
			if (!st)
				st = snapshot_load(kb, gen, &snap, err);
			if (own_txn)
				sqlite3_exec(cn_store_db(kb->store), "COMMIT", NULL, NULL, NULL);
			if (st != CAIRN_ENOTFOUND || !own_txn || attempt == 8)
				break;
			cn_err_clear(err);
			st = CAIRN_OK;
		}
		if (st)
			return st;
		kb_snapshot_release(kb->snap);
		kb->snap = snap;
	}
	kb->snap_checked_ns = now;
	kb->snap->refs++;
	*out = kb->snap;
	return CAIRN_OK;
}

/* ---- writer ---- */

void kb_writer_free(kb_writer *w)
{
	kb_pipeline_stop(w);
	cn_strmap_free(&w->in_flight);
	cn_bm25_builder_free(w->builder);
	w->builder = NULL;
	cn_vec_builder_free(w->vbuilder);
	w->vbuilder = NULL;
	cn_free(w->dups.hash);
	cn_free(w->dups.chunk);
	cn_free(w->dups.doc);
	cn_free(w->dups.next);
	cn_free(w->dups.heads);
	memset(&w->dups, 0, sizeof w->dups);
}

cairn_status kb_write_begin(cairn_kb *kb, cn_err *err)
{
	if (kb->w.active)
		return CAIRN_OK;
	if (kb->read_only)
		return cn_err_set(err, CAIRN_EINVAL, "%s: knowledge base opened read-only", cn_store_dir(kb->store));
	cairn_status st = cn_store_begin(kb->store, err);
	if (!st)
		st = cn_store_gc(kb->store, err);
	if (st) {
		cn_store_rollback(kb->store);
		return st;
	}
	kb->w.active = true;
	kb->w.seg_id = 0;
	kb->w.next_docnum = 0;
	/* The duplicate index may hold chunks a rolled-back transaction added: reload. */
	kb->w.dups.loaded = false;
	return CAIRN_OK;
}

/* Writes a segment's vector sidecar and lists it (inside the writer's transaction: the
 * file is durable before the catalog commit names it; orphans go with the next gc). */
cairn_status kb_write_vectors(cairn_kb *kb, cn_vec_builder *vb, int64_t seg_id, cn_err *err)
{
	char path[PATH_MAX];
	cn_store_segment_path(kb->store, seg_id, "vec", path, sizeof path);
	uint64_t bytes = 0;
	cairn_status st = cn_vec_builder_write(vb, path, &bytes, err);
	sqlite3_stmt *q;
	if (!st)
		st = cn_store_prepare(kb->store, "INSERT OR REPLACE INTO vectors(segment, count, bytes) VALUES (?1, ?2, ?3)", &q,
		                      err);
	if (!st) {
		sqlite3_bind_int64(q, 1, seg_id);
		sqlite3_bind_int64(q, 2, cn_vec_builder_count(vb));
		sqlite3_bind_int64(q, 3, (int64_t)bytes);
		if (sqlite3_step(q) != SQLITE_DONE)
			st = cn_store_sqlerr(kb->store, err, "recording vectors");
		sqlite3_reset(q);
	}
	return st;
}

/* Flushes the builder into its registered segment file. */
static cairn_status flush_builder(cairn_kb *kb, cn_err *err)
{
	kb_writer *w = &kb->w;
	if (!w->seg_id)
		return CAIRN_OK;
	uint64_t bytes = 0;
	uint32_t ndocs = w->builder ? cn_bm25_builder_ndocs(w->builder) : 0;
	cairn_status st = CAIRN_OK;
	sqlite3_stmt *q;
	if (ndocs == 0) {
		st = cn_store_prepare(kb->store, "DELETE FROM segments WHERE id = ?1", &q, err);
		if (!st) {
			sqlite3_bind_int64(q, 1, w->seg_id);
			if (sqlite3_step(q) != SQLITE_DONE)
				st = cn_store_sqlerr(kb->store, err, "dropping empty segment");
			sqlite3_reset(q);
		}
	} else {
		st = cn_bm25_builder_write(w->builder, w->seg_path, &bytes, err);
		if (!st && w->vbuilder)
			st = kb_write_vectors(kb, w->vbuilder, w->seg_id, err);
		if (!st)
			st = cn_store_prepare(kb->store, "UPDATE segments SET ndocs = ?2, bytes = ?3 WHERE id = ?1", &q, err);
		if (!st) {
			sqlite3_bind_int64(q, 1, w->seg_id);
			sqlite3_bind_int64(q, 2, ndocs);
			sqlite3_bind_int64(q, 3, (int64_t)bytes);
			if (sqlite3_step(q) != SQLITE_DONE)
				st = cn_store_sqlerr(kb->store, err, "recording segment");
			sqlite3_reset(q);
		}
	}
	cn_bm25_builder_free(w->builder);
	w->builder = NULL;
	cn_vec_builder_free(w->vbuilder);
	w->vbuilder = NULL;
	w->seg_id = 0;
	w->next_docnum = 0;
	return st;
}

static cairn_status maybe_merge(cairn_kb *kb, cn_err *err);

cairn_status kb_write_commit(cairn_kb *kb, cn_err *err)
{
	if (!kb->w.active)
		return CAIRN_OK;
	cairn_status st = kb_pipeline_drain(kb, true, err);
	if (!st)
		st = flush_builder(kb, err);
	if (!st)
		st = cn_store_commit(kb->store, err);
	if (st) {
		kb_write_rollback(kb);
		return st;
	}
	kb->w.active = false;
	kb->snap_checked_ns = 0; /* our own commit: the next search must see it */
	return maybe_merge(kb, err);
}

void kb_write_rollback(cairn_kb *kb)
{
	kb_pipeline_discard(kb);
	cn_bm25_builder_free(kb->w.builder);
	kb->w.builder = NULL;
	kb->w.seg_id = 0;
	kb->w.dups.loaded = false;
	if (kb->w.active)
		cn_store_rollback(kb->store);
	kb->w.active = false;
}

cairn_status cairn_kb_commit(cairn_kb *kb)
{
	cn_err err;
	cn_err_clear(&err);
	pthread_mutex_lock(&kb->mu);
	cairn_status st = kb_write_commit(kb, &err);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

void cairn_kb_rollback(cairn_kb *kb)
{
	pthread_mutex_lock(&kb->mu);
	kb_write_rollback(kb);
	pthread_mutex_unlock(&kb->mu);
}

cairn_status cairn_kb_delete_document(cairn_kb *kb, const char *doc_id)
{
	cn_err err;
	cn_err_clear(&err);
	if (!doc_id || !*doc_id)
		return kb_fail(kb, (cn_err[]){{CAIRN_EINVAL, "delete: empty document id"}});
	pthread_mutex_lock(&kb->mu);
	bool found = false;
	cairn_status st = kb_write_begin(kb, &err);
	if (!st)
		st = kb_pipeline_drain(kb, true, &err); /* a queued add of the same document goes first */
	if (!st)
		st = kb_delete_doc(kb, doc_id, &found, &err);
	if (!st && !found)
		st = cn_err_set(&err, CAIRN_ENOTFOUND, "%s: no such document", doc_id);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* ---- merging ---- */

/* Merges the given segments (ids ascending, all committed) into one new segment, in one
 * transaction: chunk rows are re-pointed, deletions and old manifest rows dropped. */
static cairn_status merge_segments(cairn_kb *kb, const int64_t *ids, size_t n, cn_err *err)
{
	kb_snapshot *snap = NULL;
	cairn_status st = kb_write_begin(kb, err);
	if (!st)
		st = kb_snapshot_get(kb, &snap, err);
	if (st) {
		kb_write_rollback(kb);
		return st;
	}
	cn_bm25_view *views = cn_calloc(n, sizeof *views);
	cn_vec_view *vviews = cn_calloc(n, sizeof *vviews);
	size_t nv = 0, nvec = 0;
	if (!views || !vviews)
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; !st && i < n; i++)
		for (size_t j = 0; j < snap->n; j++)
			if (snap->segs[j]->id == ids[i]) {
				views[nv++] = snap->views[j];
				if (snap->segs[j]->vseg)
					vviews[nvec++] = (cn_vec_view){snap->segs[j]->vseg, snap->deleted[j]};
			}
	if (!st && nv != n)
		st = cn_err_set(err, CAIRN_EINTERNAL, "merge: segment vanished from the manifest");
	int64_t new_id = 0;
	char path[PATH_MAX];
	uint64_t bytes = 0;
	uint32_t ndocs = 0;
	if (!st)
		st = cn_store_segment_new(kb->store, "bm25", &new_id, path, sizeof path, err);
	if (!st)
		st = cn_bm25_merge(views, nv, path, &bytes, &ndocs, err);
	/* Vectors survive a merge only when every input has them (numbers must line up with
	 * the merged docnums); otherwise the merged chunks wait for `cairn reembed`. */
	if (!st && nvec == nv && nv) {
		char vpath[PATH_MAX];
		uint64_t vbytes = 0;
		uint32_t vcount = 0;
		cn_store_segment_path(kb->store, new_id, "vec", vpath, sizeof vpath);
		st = cn_vec_merge(vviews, nvec, NULL, vpath, &vbytes, &vcount, err);
		if (!st && vcount != ndocs)
			st = cn_err_set(err, CAIRN_EINTERNAL, "merge: %u vectors for %u chunks", vcount, ndocs);
		sqlite3_stmt *vq;
		if (!st)
			st = cn_store_prepare(kb->store, "INSERT OR REPLACE INTO vectors(segment, count, bytes) VALUES (?1, ?2, ?3)",
			                      &vq, err);
		if (!st) {
			sqlite3_bind_int64(vq, 1, new_id);
			sqlite3_bind_int64(vq, 2, vcount);
			sqlite3_bind_int64(vq, 3, (int64_t)vbytes);
			if (sqlite3_step(vq) != SQLITE_DONE)
				st = cn_store_sqlerr(kb->store, err, "recording merged vectors");
			sqlite3_reset(vq);
		}
	}
	sqlite3_stmt *q;
	if (!st)
		st = cn_store_prepare(kb->store, "UPDATE chunks SET segment = ?1, docnum = ?2 WHERE id = ?3", &q, err);
	uint32_t docnum = 0;
	for (size_t i = 0; !st && i < nv; i++) {
		uint32_t nd = cn_bm25_seg_ndocs(views[i].seg);
		for (uint32_t d = 0; d < nd && !st; d++) {
			if (views[i].deleted && (views[i].deleted[d >> 3] & (1u << (d & 7))))
				continue;
			sqlite3_bind_int64(q, 1, new_id);
			sqlite3_bind_int64(q, 2, docnum++);
			sqlite3_bind_int64(q, 3, (int64_t)cn_bm25_seg_chunk_id(views[i].seg, d));
			if (sqlite3_step(q) != SQLITE_DONE)
				st = cn_store_sqlerr(kb->store, err, "re-pointing merged chunks");
			sqlite3_reset(q);
		}
	}
	if (!st && docnum != ndocs)
		st = cn_err_set(err, CAIRN_EINTERNAL, "merge: %u live documents written, %u expected", ndocs, docnum);
	for (size_t i = 0; !st && i < n; i++) {
		sqlite3_stmt *d1, *d2, *d3;
		st = cn_store_prepare(kb->store, "DELETE FROM deleted WHERE segment = ?1", &d1, err);
		if (!st)
			st = cn_store_prepare(kb->store, "DELETE FROM segments WHERE id = ?1", &d2, err);
		if (!st)
			st = cn_store_prepare(kb->store, "DELETE FROM vectors WHERE segment = ?1", &d3, err);
		if (st)
			break;
		sqlite3_bind_int64(d1, 1, ids[i]);
		sqlite3_bind_int64(d2, 1, ids[i]);
		sqlite3_bind_int64(d3, 1, ids[i]);
		if (sqlite3_step(d1) != SQLITE_DONE || sqlite3_step(d2) != SQLITE_DONE || sqlite3_step(d3) != SQLITE_DONE)
			st = cn_store_sqlerr(kb->store, err, "dropping merged segments");
		sqlite3_reset(d1);
		sqlite3_reset(d2);
		sqlite3_reset(d3);
	}
	if (!st) {
		st = cn_store_prepare(kb->store, "UPDATE segments SET ndocs = ?2, bytes = ?3 WHERE id = ?1", &q, err);
		if (!st) {
			sqlite3_bind_int64(q, 1, new_id);
			sqlite3_bind_int64(q, 2, ndocs);
			sqlite3_bind_int64(q, 3, (int64_t)bytes);
			if (sqlite3_step(q) != SQLITE_DONE)
				st = cn_store_sqlerr(kb->store, err, "recording merged segment");
			sqlite3_reset(q);
		}
	}
	cn_free(views);
	cn_free(vviews);
	kb_snapshot_release(snap);
	if (!st)
		st = cn_store_commit(kb->store, err);
	if (st) {
		kb_write_rollback(kb);
		return st;
	}
	kb->w.active = false;
	kb->snap_checked_ns = 0;
	return CAIRN_OK;
}

/* Tiered policy: segments fall in tiers by live size (factor 8 apart); when a tier holds
 * MERGE_FACTOR segments they merge into one of the next tier. Write amplification stays
 * logarithmic while the segment count (and so query fan-out) stays small. */
#define MERGE_FACTOR 8

static cairn_status maybe_merge(cairn_kb *kb, cn_err *err)
{
	for (int round = 0; round < 8; round++) {
		sqlite3_stmt *q;
		cairn_status st = cn_store_prepare(
			kb->store, "SELECT id, ndocs FROM segments WHERE kind = 'bm25' AND committed = 1 ORDER BY id", &q, err);
		if (st)
			return st;
		int64_t ids[256];
		int tiers[256];
		size_t n = 0;
		while (sqlite3_step(q) == SQLITE_ROW && n < 256) {
			ids[n] = sqlite3_column_int64(q, 0);
			int64_t nd = sqlite3_column_int64(q, 1);
			int tier = 0;
			for (int64_t x = nd / 1000; x > 0; x /= MERGE_FACTOR)
				tier++;
			tiers[n++] = tier;
		}
		sqlite3_reset(q);
		int merge_tier = -1;
		for (size_t i = 0; i < n && merge_tier < 0; i++) {
			size_t same = 0;
			for (size_t j = 0; j < n; j++)
				same += tiers[j] == tiers[i];
			if (same >= MERGE_FACTOR)
				merge_tier = tiers[i];
		}
		if (merge_tier < 0)
			return CAIRN_OK;
		int64_t pick[256];
		size_t np = 0;
		for (size_t i = 0; i < n; i++)
			if (tiers[i] == merge_tier)
				pick[np++] = ids[i];
		st = merge_segments(kb, pick, np, err);
		if (st)
			return st;
	}
	return CAIRN_OK;
}

cairn_status cairn_kb_optimize(cairn_kb *kb, int max_segments)
{
	cn_err err;
	cn_err_clear(&err);
	if (max_segments < 1)
		max_segments = 1;
	pthread_mutex_lock(&kb->mu);
	cairn_status st = kb->w.active ? kb_write_commit(kb, &err) : CAIRN_OK;
	while (!st) {
		sqlite3_stmt *q;
		st = cn_store_prepare(kb->store,
		                      "SELECT id, ndocs, (SELECT count(*) FROM deleted d WHERE d.segment = s.id) "
		                      "FROM segments s WHERE kind = 'bm25' AND committed = 1 ORDER BY ndocs",
		                      &q, &err);
		if (st)
			break;
		int64_t ids[1024];
		size_t n = 0;
		bool any_deleted = false;
		while (sqlite3_step(q) == SQLITE_ROW && n < 1024) {
			ids[n++] = sqlite3_column_int64(q, 0);
			any_deleted |= sqlite3_column_int64(q, 2) > 0;
		}
		sqlite3_reset(q);
		if (n == 0 || ((int)n <= max_segments && !any_deleted))
			break;
		/* Merge the smallest segments so that max_segments remain (all when 1). */
		size_t take = (int)n > max_segments ? n - (size_t)max_segments + 1 : n;
		if (take < 2 && !any_deleted)
			break;
		int64_t pick[1024];
		memcpy(pick, ids, take * sizeof *pick);
		for (size_t i = 1; i < take; i++) /* merge in id (= age) order so doc order is stable */
			for (size_t j = i; j > 0 && pick[j - 1] > pick[j]; j--) {
				int64_t t = pick[j];
				pick[j] = pick[j - 1];
				pick[j - 1] = t;
			}
		st = merge_segments(kb, pick, take, &err);
		if (!st && take == n)
			break;
	}
	if (!st) {
		/* Old files are orphans now; remove them while we hold the writer lock. */
		st = kb_write_begin(kb, &err);
		if (!st)
			st = kb_write_commit(kb, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* ---- stats and checks ---- */

static int64_t count_sql(cairn_kb *kb, const char *sql)
{
	sqlite3_stmt *q;
	cn_err err;
	cn_err_clear(&err);
	if (cn_store_prepare(kb->store, sql, &q, &err))
		return -1;
	int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_reset(q);
	return v;
}

cairn_status cairn_kb_stats_get(cairn_kb *kb, cairn_kb_stats *out)
{
	cn_err err;
	cn_err_clear(&err);
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&kb->mu);
	kb_snapshot *snap = NULL;
	cairn_status st = kb_snapshot_get(kb, &snap, &err);
	if (!st) {
		out->documents = count_sql(kb, "SELECT count(*) FROM documents");
		out->chunks = count_sql(kb, "SELECT count(*) FROM chunks");
		out->near_duplicate_chunks = count_sql(kb, "SELECT count(*) FROM chunks WHERE dup_of IS NOT NULL");
		out->vector_chunks = count_sql(kb, "SELECT count(*) FROM chunks WHERE segment IN (SELECT segment FROM vectors)");
		if (out->vector_chunks < 0)
			out->vector_chunks = 0; /* a knowledge base from before the vectors table */
		snprintf(out->embed_model, sizeof out->embed_model, "%s", kb->embed.path ? kb->embed.path : "");
		out->segments = (int64_t)snap->n;
		out->generation = snap->generation;
		for (size_t i = 0; i < snap->n; i++) {
			out->terms += (int64_t)cn_bm25_seg_nterms(snap->segs[i]->seg);
			out->index_bytes += (int64_t)cn_bm25_seg_bytes(snap->segs[i]->seg);
		}
		char path[PATH_MAX];
		struct stat sb;
		snprintf(path, sizeof path, "%s/catalog.db", cn_store_dir(kb->store));
		if (stat(path, &sb) == 0)
			out->catalog_bytes = sb.st_size;
		snprintf(path, sizeof path, "%s/catalog.db-wal", cn_store_dir(kb->store));
		if (stat(path, &sb) == 0)
			out->catalog_bytes += sb.st_size;
		char *lang = NULL;
		if (!cn_store_meta_get(kb->store, "language", &lang, &err) && lang)
			snprintf(out->language, sizeof out->language, "%s", lang);
		cn_free(lang);
		kb_snapshot_release(snap);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

cairn_status cairn_kb_check(cairn_kb *kb)
{
	cn_err err;
	cn_err_clear(&err);
	pthread_mutex_lock(&kb->mu);
	kb_snapshot *snap = NULL;
	cairn_status st = cn_store_exec(kb->store, "PRAGMA quick_check", &err);
	if (!st)
		st = kb_snapshot_get(kb, &snap, &err);
	int64_t live = 0;
	for (size_t i = 0; !st && snap && i < snap->n; i++) {
		cn_bm25_seg *seg = snap->segs[i]->seg;
		st = cn_bm25_seg_verify(seg, &err);
		uint32_t nd = cn_bm25_seg_ndocs(seg);
		sqlite3_stmt *q;
		if (!st)
			st = cn_store_prepare(kb->store, "SELECT id FROM chunks WHERE segment = ?1 AND docnum = ?2", &q, &err);
		for (uint32_t d = 0; !st && d < nd; d++) {
			if (snap->deleted[i] && (snap->deleted[i][d >> 3] & (1u << (d & 7))))
				continue;
			live++;
			sqlite3_bind_int64(q, 1, snap->segs[i]->id);
			sqlite3_bind_int64(q, 2, d);
			int rc = sqlite3_step(q);
			int64_t cid = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
			sqlite3_reset(q);
			if (cid != (int64_t)cn_bm25_seg_chunk_id(seg, d))
				st = cn_err_set(&err, CAIRN_ECORRUPT,
				                "segment %lld doc %u: chunk id %llu has no matching catalog row",
				                (long long)snap->segs[i]->id, d,
				                (unsigned long long)cn_bm25_seg_chunk_id(seg, d));
		}
	}
	if (!st) {
		int64_t rows = count_sql(kb, "SELECT count(*) FROM chunks");
		if (rows != live)
			st = cn_err_set(&err, CAIRN_ECORRUPT, "catalog has %lld chunks but the index holds %lld live ones",
			                (long long)rows, (long long)live);
	}
	if (!st) {
		int64_t orphans = count_sql(kb, "SELECT count(*) FROM chunks WHERE doc NOT IN (SELECT id FROM documents)");
		if (orphans != 0)
			st = cn_err_set(&err, CAIRN_ECORRUPT, "catalog has %lld chunks without a document", (long long)orphans);
	}
	kb_snapshot_release(snap);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}
