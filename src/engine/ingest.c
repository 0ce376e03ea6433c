/* The write path: documents → catalog rows + bm25 builder, near-duplicate marking, and the
 * file-system walk of `cairn ingest` with its incremental rules (skip by content hash,
 * replace on change, prune what vanished) and per-file error isolation. */
#include "engine/engine.h"
#include "vocab/vocab.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

cairn_ingest_params cairn_ingest_default_params(void)
{
	cairn_ingest_params p = {
		.chunk_target_tokens = 512,
		.chunk_min_tokens = 300,
		.chunk_max_tokens = 800,
		.chunk_overlap_pct = 15,
		.max_file_bytes = 64ll << 20,
		.commit_every_files = 2000,
	};
	return p;
}

static void emit(const cairn_ingest_params *p, cairn_ingest_event ev, const char *path, const char *msg);

/* ---- near-duplicate index ---- */

/* Candidates come from four 16-bit bands, so every pair within 3 bits is found (pigeonhole)
 * and most within 5 (a 4-bit pair is missed only when each band holds one differing bit,
 * ~10%). Unrelated 64-bit fingerprints differ in ~32 bits; the chance that two fall within
 * 5 is ~1e-12. */
#define DUP_MAX_DISTANCE 5
#define DUP_MIN_WORDS 8

static cairn_status dups_add(kb_dupindex *d, uint64_t hash, int64_t chunk, int64_t doc)
{
	if (!d->heads) {
		d->heads = cn_malloc(4 * 65536 * sizeof *d->heads);
		if (!d->heads)
			return CAIRN_ENOMEM;
		memset(d->heads, 0xFF, 4 * 65536 * sizeof *d->heads);
	}
	if (d->n == d->cap) {
		size_t c1 = d->cap, c2 = d->cap, c3 = d->cap, c4 = d->cap * 4;
		if (CN_GROW(d->hash, c1, d->n + 1) || CN_GROW(d->chunk, c2, d->n + 1) || CN_GROW(d->doc, c3, d->n + 1) ||
		    cn_grow((void **)&d->next, &c4, 4 * (d->n + 1), sizeof *d->next))
			return CAIRN_ENOMEM;
		d->cap = c1 < c2 ? c1 : c2;
		d->cap = d->cap < c3 ? d->cap : c3;
		if (c4 / 4 < d->cap)
			d->cap = c4 / 4;
	}
	if (d->n >= INT32_MAX)
		return CAIRN_ETOOBIG;
	int32_t i = (int32_t)d->n++;
	d->hash[i] = hash;
	d->chunk[i] = chunk;
	d->doc[i] = doc;
	for (int band = 0; band < 4; band++) {
		uint32_t key = (uint32_t)(band * 65536 + ((hash >> (16 * band)) & 0xFFFF));
		d->next[4 * i + band] = d->heads[key];
		d->heads[key] = i;
	}
	return CAIRN_OK;
}

/* Earliest-found chunk of another document within DUP_MAX_DISTANCE, or 0. */
static int64_t dups_find(const kb_dupindex *d, uint64_t hash, int64_t doc)
{
	if (!d->heads)
		return 0;
	for (int band = 0; band < 4; band++) {
		uint32_t key = (uint32_t)(band * 65536 + ((hash >> (16 * band)) & 0xFFFF));
		for (int32_t i = d->heads[key]; i >= 0; i = d->next[4 * i + band])
			if (d->chunk[i] > 0 && d->doc[i] != doc && cn_hamming64(d->hash[i], hash) <= DUP_MAX_DISTANCE)
				return d->chunk[i];
	}
	return 0;
}

static void dups_remove_doc(kb_dupindex *d, uint64_t hash, int64_t chunk)
{
	if (!d->heads)
		return;
	uint32_t key = (uint32_t)((hash & 0xFFFF));
	for (int32_t i = d->heads[key]; i >= 0; i = d->next[4 * i])
		if (d->chunk[i] == chunk)
			d->chunk[i] = -1;
}

static cairn_status dups_load(cairn_kb *kb, cn_err *err)
{
	kb_dupindex *d = &kb->w.dups;
	if (d->loaded)
		return CAIRN_OK;
	d->n = 0;
	if (d->heads)
		memset(d->heads, 0xFF, 4 * 65536 * sizeof *d->heads);
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(kb->store, "SELECT id, simhash, doc FROM chunks WHERE simhash != 0 ORDER BY id",
	                                   &q, err);
	while (!st) {
		int rc = sqlite3_step(q);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			st = cn_store_sqlerr(kb->store, err, "loading chunk fingerprints");
			break;
		}
		if (dups_add(d, (uint64_t)sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 0),
		             sqlite3_column_int64(q, 2)))
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory loading fingerprints");
	}
	sqlite3_reset(q);
	if (!st)
		d->loaded = true;
	return st;
}

/* ---- documents ---- */

static cairn_status step_done(cairn_kb *kb, sqlite3_stmt *q, cn_err *err, const char *what)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? CAIRN_OK : cn_store_sqlerr(kb->store, err, what);
}

cairn_status kb_doc_hashes(cairn_kb *kb, const char *doc_id, bool *exists, char **content_hash, char **meta_hash,
                           cn_err *err)
{
	*exists = false;
	*content_hash = *meta_hash = NULL;
	sqlite3_stmt *q;
	cairn_status st =
		cn_store_prepare(kb->store, "SELECT content_hash, meta_hash FROM documents WHERE doc_id = ?1", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, doc_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*exists = true;
		*content_hash = cn_strdup((const char *)sqlite3_column_text(q, 0));
		*meta_hash = cn_strdup((const char *)sqlite3_column_text(q, 1));
		if (!*content_hash || !*meta_hash)
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	} else if (rc != SQLITE_DONE) {
		st = cn_store_sqlerr(kb->store, err, "looking up document");
	}
	sqlite3_reset(q);
	return st;
}

cairn_status kb_delete_doc(cairn_kb *kb, const char *doc_id, bool *found, cn_err *err)
{
	*found = false;
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(kb->store, "SELECT id FROM documents WHERE doc_id = ?1", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, doc_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CAIRN_OK : cn_store_sqlerr(kb->store, err, "looking up document");
	*found = true;
	/* Tombstone every chunk in its segment, and forget its fingerprints. */
	st = cn_store_prepare(kb->store, "SELECT id, simhash, segment, docnum FROM chunks WHERE doc = ?1", &q, err);
	if (st)
		return st;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_stmt *ins;
	st = cn_store_prepare(kb->store, "INSERT OR IGNORE INTO deleted(segment, docnum) VALUES(?1, ?2)", &ins, err);
	while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (kb->w.dups.loaded)
			dups_remove_doc(&kb->w.dups, (uint64_t)sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 0));
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(q, 2));
		sqlite3_bind_int64(ins, 2, sqlite3_column_int64(q, 3));
		st = step_done(kb, ins, err, "recording deletion");
	}
	if (!st && rc != SQLITE_DONE)
		st = cn_store_sqlerr(kb->store, err, "listing chunks");
	sqlite3_reset(q);
	static const char *const dels[] = {
		"DELETE FROM chunks WHERE doc = ?1",
		"DELETE FROM doc_tags WHERE doc = ?1",
		"DELETE FROM doc_groups WHERE doc = ?1",
		"DELETE FROM documents WHERE id = ?1",
	};
	for (size_t i = 0; !st && i < CN_ARRAY_LEN(dels); i++) {
		st = cn_store_prepare(kb->store, dels[i], &q, err);
		if (!st) {
			sqlite3_bind_int64(q, 1, id);
			st = step_done(kb, q, err, "deleting document");
		}
	}
	return st;
}

/* Jobs embed their chunks when the write transaction does (stage 1 runs on the worker). */
static void kb_job_embed_with(cairn_kb *kb, kb_job *j)
{
	if (kb->embed.ingest) {
		j->enc = kb->embed.enc;
		j->dim = kb->embed.dim;
	}
}

/* With an embedding model (given now or recorded before), this transaction's chunks get
 * vectors. A knowledge base that already holds chunks without vectors must be re-embedded
 * once first: dense search would silently miss them otherwise. */
static cairn_status embed_setup(cairn_kb *kb, const cairn_ingest_params *p, cn_err *err)
{
	cairn_status st = CAIRN_OK;
	char abspath[PATH_MAX];
	/* Already set up with this model (every record of an ingest passes it again). */
	if (p->embed_model && kb->embed.ingest && kb->embed.enc && kb->embed.path &&
	    realpath(p->embed_model, abspath) && strcmp(abspath, kb->embed.path) == 0)
		return CAIRN_OK;
	if (p->embed_model) {
		bool first = kb->embed.path == NULL;
		if (first) {
			sqlite3_stmt *q;
			st = cn_store_prepare(kb->store,
			                      "SELECT count(*) FROM segments s WHERE s.kind = 'bm25' AND s.committed = 1 AND s.ndocs > 0"
			                      " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.segment = s.id)",
			                      &q, err);
			int64_t without = 0;
			if (!st) {
				if (sqlite3_step(q) == SQLITE_ROW)
					without = sqlite3_column_int64(q, 0);
				sqlite3_reset(q);
			}
			if (!st && without > 0)
				return cn_err_set(err, CAIRN_EINVAL,
				                  "%s: the knowledge base already holds chunks without vectors; embed them once with "
				                  "`cairn reembed --embed-model %s`, then ingest",
				                  cn_store_dir(kb->store), p->embed_model);
		}
		if (!st)
			st = kb_embed_configure(kb, p->embed_model, false, err);
	}
	if (!st && kb->embed.path)
		st = kb_embedder(kb, err);
	kb->embed.ingest = !st && kb->embed.path != NULL;
	return st;
}

static cairn_status ensure_builder(cairn_kb *kb, cn_err *err)
{
	kb_writer *w = &kb->w;
	if (w->seg_id)
		return CAIRN_OK;
	cairn_status st = cn_store_segment_new(kb->store, "bm25", &w->seg_id, w->seg_path, sizeof w->seg_path, err);
	if (st)
		return st;
	st = cn_bm25_builder_new(&w->builder);
	if (st) {
		w->seg_id = 0;
		return cn_err_set(err, st, "out of memory creating index builder");
	}
	if (kb->embed.ingest) {
		cn_vec_params vp = cn_vec_default_params(kb->embed.dim);
		st = cn_vec_builder_new(&vp, &w->vbuilder, err);
		if (st) {
			cn_bm25_builder_free(w->builder);
			w->builder = NULL;
			w->seg_id = 0;
			return st;
		}
	}
	w->next_docnum = 0;
	return CAIRN_OK;
}

/* Labels of a document, as the filter language names them (filter.h). */
static cairn_status doc_labels(const kb_docinfo *info, cn_arena *a, const char ***out, size_t *n)
{
	size_t cap = info->n_tags + info->n_groups + 3;
	const char **v = cn_arena_alloc(a, cap * sizeof *v);
	if (!v)
		return CAIRN_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < info->n_tags; i++) {
		size_t len = strlen(info->tags[i]) + 5;
		char *s = cn_arena_alloc(a, len);
		if (!s)
			return CAIRN_ENOMEM;
		snprintf(s, len, "tag:%s", info->tags[i]);
		v[k++] = s;
	}
	for (size_t i = 0; i < info->n_groups; i++) {
		size_t len = strlen(info->groups[i]) + 7;
		char *s = cn_arena_alloc(a, len);
		if (!s)
			return CAIRN_ENOMEM;
		snprintf(s, len, "group:%s", info->groups[i]);
		v[k++] = s;
	}
	const char *pairs[3][2] = {{"format:", info->format}, {"source:", info->source}, {"doc:", info->doc_id}};
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(pairs[i][0]) + strlen(pairs[i][1]) + 1;
		char *s = cn_arena_alloc(a, len);
		if (!s)
			return CAIRN_ENOMEM;
		snprintf(s, len, "%s%s", pairs[i][0], pairs[i][1]);
		v[k++] = s;
	}
	*out = v;
	*n = k;
	return CAIRN_OK;
}

/* Stage 2 of a prepared job: replace the stored document by the new one. */
static cairn_status index_prepared(cairn_kb *kb, const kb_job *j, int64_t *n_chunks, int64_t *n_dups, cn_err *err)
{
	const kb_docinfo *info = &j->info;
	const cn_chunks *chunks = &j->chunks;
	*n_chunks = *n_dups = 0;
	/* "existed" was read from the catalog when the job was submitted, with every earlier
	 * job for the same id committed first (add_record drains those), so a new document
	 * needs no lookup here. */
	cairn_status st = CAIRN_OK;
	if (j->existed) {
		bool found;
		st = kb_delete_doc(kb, info->doc_id, &found, err);
		if (st)
			return st;
	}
	sqlite3_stmt *q;
	st = cn_store_prepare(kb->store,
	                      "INSERT INTO documents(doc_id, source, container, title, format, mtime, size, content_hash,"
	                      " meta_hash, ingested_at, n_chunks) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	                      &q, err);
	if (!st) {
		sqlite3_bind_text(q, 1, info->doc_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, info->source, -1, SQLITE_STATIC);
		if (info->container)
			sqlite3_bind_text(q, 3, info->container, -1, SQLITE_STATIC);
		if (info->title)
			sqlite3_bind_text(q, 4, info->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, info->format, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, info->mtime);
		sqlite3_bind_int64(q, 7, info->size);
		sqlite3_bind_text(q, 8, info->content_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 9, info->meta_hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 10, cn_wall_time_s());
		sqlite3_bind_int64(q, 11, (int64_t)chunks->n);
		st = step_done(kb, q, err, "inserting document");
	}
	int64_t doc_row = sqlite3_last_insert_rowid(cn_store_db(kb->store));
	for (size_t i = 0; !st && i < info->n_tags; i++) {
		const char *eq = strchr(info->tags[i], '=');
		st = cn_store_prepare(kb->store, "INSERT INTO doc_tags(doc, key, value) VALUES(?1, ?2, ?3)", &q, err);
		if (st)
			break;
		sqlite3_bind_int64(q, 1, doc_row);
		sqlite3_bind_text(q, 2, info->tags[i], eq ? (int)(eq - info->tags[i]) : -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, eq ? eq + 1 : "", -1, SQLITE_STATIC);
		st = step_done(kb, q, err, "inserting tag");
	}
	for (size_t i = 0; !st && i < info->n_groups; i++) {
		st = cn_store_prepare(kb->store, "INSERT INTO doc_groups(doc, grp) VALUES(?1, ?2)", &q, err);
		if (st)
			break;
		sqlite3_bind_int64(q, 1, doc_row);
		sqlite3_bind_text(q, 2, info->groups[i], -1, SQLITE_STATIC);
		st = step_done(kb, q, err, "inserting access group");
	}
	cn_arena scratch;
	cn_arena_init(&scratch, 4096);
	const char **labels = NULL;
	size_t n_labels = 0;
	if (!st && doc_labels(info, &scratch, &labels, &n_labels))
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (!st)
		st = dups_load(kb, err);
	if (!st)
		st = cn_store_prepare(kb->store,
		                      "INSERT INTO chunks(doc, ord, heading, text, byte_start, byte_end, n_tokens, simhash,"
		                      " dup_of, segment, docnum, sections) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
		                      &q, err);
	for (size_t i = 0; !st && i < chunks->n; i++) {
		const cn_chunk *c = &chunks->v[i];
		st = ensure_builder(kb, err);
		if (st)
			break;
		const cn_tokens *t = &j->toks[i];
		uint64_t simhash = j->simhash[i];
		/* A fingerprint of a handful of words says nothing: such chunks are never marked. */
		bool fingerprinted = j->nbody[i] >= DUP_MIN_WORDS;
		if (!fingerprinted)
			simhash = 0;
		int64_t dup = fingerprinted ? dups_find(&kb->w.dups, simhash, doc_row) : 0;
		sqlite3_bind_int64(q, 1, doc_row);
		sqlite3_bind_int64(q, 2, (int64_t)i);
		sqlite3_bind_text(q, 3, c->heading ? c->heading : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, c->text, (int)c->len, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, (int64_t)c->src_start);
		sqlite3_bind_int64(q, 6, (int64_t)c->src_end);
		sqlite3_bind_int64(q, 7, c->n_tokens);
		sqlite3_bind_int64(q, 8, (int64_t)simhash);
		if (dup)
			sqlite3_bind_int64(q, 9, dup);
		else
			sqlite3_bind_null(q, 9);
		sqlite3_bind_int64(q, 10, kb->w.seg_id);
		sqlite3_bind_int64(q, 11, kb->w.next_docnum);
		if (c->sections)
			sqlite3_bind_text(q, 12, c->sections, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 12);
		st = step_done(kb, q, err, "inserting chunk");
		if (st)
			break;
		int64_t chunk_id = sqlite3_last_insert_rowid(cn_store_db(kb->store));
		if (dup)
			(*n_dups)++;
		if (fingerprinted && dups_add(&kb->w.dups, simhash, chunk_id, doc_row)) {
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		cn_bm25_doc bd = {
			.chunk_id = (uint64_t)chunk_id,
			.doc_key = info->doc_id,
			.mtime = info->mtime,
			.labels = labels,
			.n_labels = n_labels,
		};
		st = cn_bm25_builder_add(kb->w.builder, &bd, t);
		if (st) {
			cn_err_set(err, st, "%s: indexing failed", info->doc_id);
			break;
		}
		if (kb->w.vbuilder) {
			/* Vector number == docnum: every chunk of this segment gets one, in order. */
			if (!j->vecs || j->dim != kb->embed.dim) {
				st = cn_err_set(err, CAIRN_EINTERNAL, "%s: chunk prepared without its vector", info->doc_id);
				break;
			}
			cn_vec_item vi = {
				.chunk_id = (uint64_t)chunk_id,
				.vec = j->vecs + i * j->dim,
				.mtime = info->mtime,
				.labels = labels,
				.n_labels = n_labels,
			};
			st = cn_vec_builder_add(kb->w.vbuilder, &vi, err);
			if (st)
				break;
		}
		kb->w.next_docnum++;
		(*n_chunks)++;
	}
	cn_arena_free(&scratch);
	return st;
}

cairn_status kb_commit_job(cairn_kb *kb, kb_job *j, cn_err *err)
{
	if (j->prep_st) {
		if (j->is_file && j->prep_st != CAIRN_ENOMEM) {
			if (j->stats)
				j->stats->skipped++;
			emit(j->params, CAIRN_INGEST_SKIPPED, j->info.source, j->prep_err.msg);
			return CAIRN_OK;
		}
		return cn_err_set(err, j->prep_st, "%s", j->prep_err.msg);
	}
	int64_t nc = 0, nd = 0;
	cairn_status st = index_prepared(kb, j, &nc, &nd, err);
	if (st)
		return st;
	if (j->stats) {
		j->stats->chunks_added += nc;
		j->stats->near_duplicates += nd;
		if (j->existed)
			j->stats->updated++;
		else
			j->stats->added++;
	}
	if (j->is_file)
		emit(j->params, j->existed ? CAIRN_INGEST_UPDATED : CAIRN_INGEST_ADDED, j->info.source, NULL);
	return CAIRN_OK;
}

/* Flushes and commits when the builder holds enough; keeps a transaction open after. */
#define BUILDER_FLUSH_BYTES ((size_t)768 << 20)

static cairn_status maybe_flush(cairn_kb *kb, bool force, cn_err *err)
{
	if (!kb->w.active)
		return CAIRN_OK;
	if (!force && !(kb->w.builder && cn_bm25_builder_memory(kb->w.builder) > BUILDER_FLUSH_BYTES))
		return CAIRN_OK;
	cairn_status st = kb_write_commit(kb, err);
	if (!st)
		st = kb_write_begin(kb, err);
	return st;
}

/* Chunk sizes in the tokens of the model that will read the chunks. Counting is per piece
 * the chunker measures, so the total can differ by a token or two at the joins from the
 * count of the whole chunk; the bounds are targets, not contracts, and that is well inside. */
static size_t count_model_tokens(const char *text, size_t len, void *ud)
{
	int64_t n = cn_vocab_count(ud, text, len, 0);
	return n < 0 ? cn_estimate_tokens(text, len) : (size_t)n;
}

static cn_chunk_params chunk_params_from(const cairn_kb *kb, const cairn_ingest_params *p)
{
	cn_chunk_params cp = cn_chunk_default_params();
	const cairn_tokenizer *tok = p->tokenizer ? p->tokenizer : kb->embed.ingest ? kb->embed.tok : NULL;
	if (tok) {
		cp.count_tokens = count_model_tokens;
		cp.count_ud = (void *)cn_tokenizer_vocab(tok);
	}
	if (p->chunk_target_tokens > 0)
		cp.target_tokens = p->chunk_target_tokens;
	if (p->chunk_min_tokens > 0)
		cp.min_tokens = p->chunk_min_tokens;
	if (p->chunk_max_tokens > 0)
		cp.max_tokens = p->chunk_max_tokens;
	if (p->chunk_overlap_pct >= 0 && p->chunk_overlap_pct <= 50)
		cp.overlap_pct = p->chunk_overlap_pct;
	/* An embedding model reads at most its context: keep chunks inside it, with room for
	 * [CLS]/[SEP] and the heading path put before the text (kb_embed_text). */
	if (kb->embed.ingest && kb->embed.max_tokens > 64) {
		int limit = kb->embed.max_tokens - 32;
		if (cp.max_tokens > limit)
			cp.max_tokens = limit;
		if (cp.target_tokens > cp.max_tokens)
			cp.target_tokens = cp.max_tokens;
	}
	if (cp.min_tokens > cp.target_tokens)
		cp.min_tokens = cp.target_tokens;
	if (cp.max_tokens < cp.target_tokens)
		cp.max_tokens = cp.target_tokens;
	cp.whole = p->whole_documents != 0;
	return cp;
}

/* Tags, groups and chunk settings: when they change, the document is re-indexed. */
static void meta_hash_of(const cairn_kb *kb, const cairn_ingest_params *p, const char *extra, char out[33])
{
	cn_buf b;
	cn_buf_init(&b);
	for (size_t i = 0; i < p->n_tags; i++)
		cn_buf_printf(&b, "t:%s\n", p->tags[i]);
	for (size_t i = 0; i < p->n_acl; i++)
		cn_buf_printf(&b, "g:%s\n", p->acl[i]);
	cn_chunk_params cp = chunk_params_from(kb, p);
	cn_buf_printf(&b, "c:%d/%d/%d/%d/%d\n", cp.target_tokens, cp.min_tokens, cp.max_tokens, cp.overlap_pct,
	              cp.whole);
	char rs[600];
	kb_redact_signature(p, rs, sizeof rs);
	cn_buf_puts(&b, rs);
	if (extra)
		cn_buf_puts(&b, extra);
	kb_content_hash(b.data ? b.data : "", b.len, out);
	cn_buf_free(&b);
}

/* ---- records (JSON Lines, API) ---- */

/* Tags from a JSON metadata object: scalar values as strings; nested values skipped. */
static cairn_status tags_from_json(const char *json, cn_arena *a, const char ***tags, size_t *n)
{
	*tags = NULL;
	*n = 0;
	if (!json || !*json)
		return CAIRN_OK;
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		return CAIRN_EFORMAT;
	}
	size_t cap = json_object_size(obj);
	const char **v = cap ? cn_arena_alloc(a, cap * sizeof *v) : NULL;
	const char *key;
	json_t *val;
	cairn_status st = CAIRN_OK;
	json_object_foreach(obj, key, val)
	{
		char num[64];
		const char *s = NULL;
		if (json_is_string(val))
			s = json_string_value(val);
		else if (json_is_integer(val)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
			s = num;
		} else if (json_is_real(val)) {
			snprintf(num, sizeof num, "%g", json_real_value(val));
			s = num;
		} else if (json_is_boolean(val))
			s = json_is_true(val) ? "true" : "false";
		if (!s)
			continue;
		size_t len = strlen(key) + strlen(s) + 2;
		char *t = cn_arena_alloc(a, len);
		if (!t || !v) {
			st = CAIRN_ENOMEM;
			break;
		}
		snprintf(t, len, "%s=%s", key, s);
		v[(*n)++] = t;
	}
	json_decref(obj);
	*tags = v;
	return st;
}

typedef struct record_ctx {
	const cairn_ingest_params *params;
	const char *container;
	const char *source;
	cairn_ingest_stats *stats; /* may be NULL */
} record_ctx;

static char *arena_dup(cn_arena *a, const char *s)
{
	return s ? cn_arena_strndup(a, s, strlen(s)) : NULL;
}

/* Checks the record against the stored version; a changed one is queued for indexing. */
static cairn_status add_record_locked(cairn_kb *kb, const cairn_record *r, const record_ctx *ctx, bool *changed,
                                      cn_err *err)
{
	*changed = false;
	if (!r->doc_id || !*r->doc_id)
		return cn_err_set(err, CAIRN_EINVAL, "record without a document id");
	if (!r->text)
		return cn_err_set(err, CAIRN_EINVAL, "%s: record without text", r->doc_id);
	cairn_status st = kb_write_begin(kb, err);
	if (!st)
		st = embed_setup(kb, ctx->params, err);
	/* The stored hashes must reflect an earlier submission of the same id. */
	if (!st && kb_pipeline_in_flight(kb, r->doc_id))
		st = kb_pipeline_drain(kb, true, err);
	if (st)
		return st;
	kb_job *j = kb_job_new();
	if (!j)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	kb_job_embed_with(kb, j);
	const char **tags = NULL;
	size_t n_tags = 0;
	st = tags_from_json(r->metadata_json, &j->arena, &tags, &n_tags);
	if (st) {
		kb_job_free(j);
		return cn_err_set(err, st, "%s: metadata is not a JSON object", r->doc_id);
	}
	/* Record tags plus the caller's --tag values, and the caller's groups. */
	const cairn_ingest_params *p = ctx->params;
	size_t all_n = n_tags + p->n_tags;
	const char **all = cn_arena_alloc(&j->arena, (all_n + 1) * sizeof *all);
	const char **groups = cn_arena_alloc(&j->arena, (p->n_acl + 1) * sizeof *groups);
	if (!all || !groups) {
		kb_job_free(j);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_tags; i++)
		all[i] = tags[i];
	for (size_t i = 0; i < p->n_tags; i++)
		all[n_tags + i] = arena_dup(&j->arena, p->tags[i]);
	for (size_t i = 0; i < p->n_acl; i++)
		groups[i] = arena_dup(&j->arena, p->acl[i]);

	/* Content hash over title and text, separated so "ab"+"c" differs from "a"+"bc". */
	char chash[33], mhash[33];
	size_t tl = r->title ? strlen(r->title) : 0;
	uint64_t h1 = cn_hash64(r->title ? r->title : "", tl, 0x51ED27);
	uint64_t h2 = cn_hash64(r->text, r->text_len, h1 ^ tl);
	uint64_t h3 = cn_hash64(r->text, r->text_len, ~h1 + r->text_len);
	snprintf(chash, sizeof chash, "%016llx%016llx", (unsigned long long)h2, (unsigned long long)h3);
	meta_hash_of(kb, p, r->metadata_json, mhash);

	bool exists;
	char *old_c, *old_m;
	st = kb_doc_hashes(kb, r->doc_id, &exists, &old_c, &old_m, err);
	bool same = !st && exists && strcmp(old_c, chash) == 0 && strcmp(old_m, mhash) == 0;
	cn_free(old_c);
	cn_free(old_m);
	if (st || same) {
		kb_job_free(j);
		return st;
	}
	j->data = cn_malloc(r->text_len + 1);
	if (j->data) {
		memcpy(j->data, r->text, r->text_len);
		j->data[r->text_len] = '\0';
		j->own_data = true;
	}
	j->len = r->text_len;
	kb_docinfo *info = &j->info;
	info->doc_id = arena_dup(&j->arena, r->doc_id);
	info->source = arena_dup(&j->arena, r->source ? r->source : (ctx->source ? ctx->source : r->doc_id));
	info->container = arena_dup(&j->arena, ctx->container);
	info->title = r->title && *r->title ? arena_dup(&j->arena, r->title) : NULL;
	info->format = "jsonl";
	info->mtime = r->mtime ? r->mtime : cn_wall_time_s();
	info->size = (int64_t)r->text_len;
	info->content_hash = arena_dup(&j->arena, chash);
	info->meta_hash = arena_dup(&j->arena, mhash);
	info->tags = all;
	info->n_tags = all_n;
	info->groups = groups;
	info->n_groups = p->n_acl;
	bool oom = !j->data || !info->doc_id || !info->source || (ctx->container && !info->container) ||
	           (r->title && *r->title && !info->title) || !info->content_hash || !info->meta_hash;
	for (size_t i = 0; i < all_n; i++)
		oom |= !all[i];
	for (size_t i = 0; i < p->n_acl; i++)
		oom |= !groups[i];
	if (oom) {
		kb_job_free(j);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	j->fmt = CN_FMT_TEXT;
	j->cp = chunk_params_from(kb, p);
	cairn_status rst = kb_job_set_redact(kb, j, p, err);
	if (rst) {
		kb_job_free(j);
		return rst;
	}
	j->existed = exists;
	j->stats = ctx->stats;
	*changed = true;
	return kb_pipeline_submit(kb, j, err);
}

cairn_status cairn_kb_add_record(cairn_kb *kb, const cairn_record *record, const cairn_ingest_params *params)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_ingest_params defaults = cairn_ingest_default_params();
	record_ctx ctx = {.params = params ? params : &defaults};
	pthread_mutex_lock(&kb->mu);
	bool changed;
	cairn_status st = add_record_locked(kb, record, &ctx, &changed, &err);
	if (!st)
		st = maybe_flush(kb, false, &err);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* ---- the file-system walk ---- */

typedef struct walk_file {
	char *path;
	int64_t size, mtime;
} walk_file;

typedef struct walk {
	walk_file *v;
	size_t n, cap;
	const cairn_ingest_params *p;
	cairn_ingest_stats *stats;
	dev_t kb_dev; /* the knowledge base's own directory is never ingested */
	ino_t kb_ino;
} walk;

static bool excluded(const cairn_ingest_params *p, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < p->n_exclude; i++)
		if (cn_glob_match(p->exclude[i], path) || cn_glob_match(p->exclude[i], base))
			return true;
	return false;
}

static char *normalize_path(const char *in);

static bool excluded_raw(const cairn_ingest_params *p, const char *path)
{
	char *norm = normalize_path(path);
	bool ex = excluded(p, norm ? norm : path);
	cn_free(norm);
	return ex;
}

static void emit(const cairn_ingest_params *p, cairn_ingest_event ev, const char *path, const char *msg)
{
	if (p->on_event)
		p->on_event(ev, path, msg, p->user_data);
}

/* "./a//b/" → "a/b": one spelling per path, so doc ids are stable across invocations. */
static char *normalize_path(const char *in)
{
	size_t n = strlen(in);
	char *out = cn_malloc(n + 2);
	if (!out)
		return NULL;
	size_t k = 0;
	const char *p = in;
	if (*p == '/')
		out[k++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		const char *seg = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - seg);
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (k && out[k - 1] != '/')
			out[k++] = '/';
		memcpy(out + k, seg, len);
		k += len;
	}
	if (k == 0)
		out[k++] = '.';
	out[k] = '\0';
	return out;
}

static cairn_status walk_add(walk *w, const char *path, const struct stat *sb)
{
	if (w->n == w->cap && CN_GROW(w->v, w->cap, w->n + 1))
		return CAIRN_ENOMEM;
	char *copy = normalize_path(path);
	if (!copy)
		return CAIRN_ENOMEM;
	w->v[w->n].path = copy;
	w->v[w->n].size = sb->st_size;
	w->v[w->n].mtime = sb->st_mtime;
	w->n++;
	return CAIRN_OK;
}

/* Iterative depth-first walk; hidden entries (".git", ".cache", dotfiles) are skipped
 * inside directories, symlinked directories are not followed (no cycles). */
static cairn_status walk_dir(walk *w, const char *root)
{
	char **stack = NULL;
	size_t ns = 0, cs = 0;
	char *r = normalize_path(root); /* "docs/" → "docs": child paths and globs see one spelling */
	if (!r || CN_GROW(stack, cs, 1)) {
		cn_free(r);
		return CAIRN_ENOMEM;
	}
	stack[ns++] = r;
	cairn_status st = CAIRN_OK;
	while (ns && !st) {
		char *dir = stack[--ns];
		DIR *d = opendir(dir);
		if (!d) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s: cannot open directory: %s", dir, strerror(errno));
			emit(w->p, CAIRN_INGEST_SKIPPED, dir, msg);
			w->stats->skipped++;
			cn_free(dir);
			continue;
		}
		/* Order does not matter here: the caller sorts the whole list afterwards. */
		struct dirent **names = NULL;
		size_t nn = 0, cn = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (CN_GROW(names, cn, nn + 1)) {
				st = CAIRN_ENOMEM;
				break;
			}
			size_t sz = offsetof(struct dirent, d_name) + strlen(e->d_name) + 1;
			names[nn] = cn_malloc(sz < sizeof *e ? sizeof *e : sz);
			if (!names[nn]) {
				st = CAIRN_ENOMEM;
				break;
			}
			memcpy(names[nn], e, sz);
			nn++;
		}
		closedir(d);
		for (size_t i = nn; !st && i-- > 0;) {
			char path[PATH_MAX];
			if (snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) >= (int)sizeof path)
				continue;
			struct stat sb;
			if (lstat(path, &sb) != 0)
				continue;
			if (S_ISLNK(sb.st_mode)) {
				if (stat(path, &sb) != 0 || S_ISDIR(sb.st_mode))
					continue;
			}
			if (excluded(w->p, path)) {
				emit(w->p, CAIRN_INGEST_EXCLUDED, path, NULL);
				w->stats->excluded++;
				continue;
			}
			if (S_ISDIR(sb.st_mode) && sb.st_dev == w->kb_dev && sb.st_ino == w->kb_ino)
				continue;
			if (S_ISDIR(sb.st_mode)) {
				char *sub = cn_strdup(path);
				if (!sub || CN_GROW(stack, cs, ns + 1)) {
					cn_free(sub);
					st = CAIRN_ENOMEM;
					break;
				}
				stack[ns++] = sub;
			} else if (S_ISREG(sb.st_mode)) {
				st = walk_add(w, path, &sb);
			}
		}
		for (size_t i = 0; i < nn; i++)
			cn_free(names[i]);
		cn_free(names);
		cn_free(dir);
	}
	while (ns)
		cn_free(stack[--ns]);
	cn_free(stack);
	return st;
}

static int cmp_walk_file(const void *a, const void *b)
{
	return strcmp(((const walk_file *)a)->path, ((const walk_file *)b)->path);
}

typedef struct ingest_run {
	cairn_kb *kb;
	const cairn_ingest_params *p;
	cairn_ingest_stats *stats;
	cn_strmap seen;   /* doc ids present in this run (for --prune) */
	cairn_ingest_progress prog;
} ingest_run;

static void skip_file(ingest_run *r, const char *path, const cn_err *ferr)
{
	r->stats->skipped++;
	emit(r->p, CAIRN_INGEST_SKIPPED, path, ferr->msg);
}

/* Documents found to have vanished, collected during a catalog scan and deleted after it
 * (the scan's statement must be reset before rows are deleted). */
typedef struct gone_list {
	char **ids;
	size_t n, cap;
} gone_list;

static cairn_status gone_push(gone_list *g, const char *id, cn_err *err)
{
	if (CN_GROW(g->ids, g->cap, g->n + 1) || !(g->ids[g->n] = cn_strdup(id)))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	g->n++;
	return CAIRN_OK;
}

/* Deletes and frees the list; st is the status so far (nothing is deleted after an error). */
static cairn_status gone_delete(ingest_run *r, gone_list *g, bool report, cairn_status st, cn_err *err)
{
	for (size_t i = 0; i < g->n; i++) {
		bool found;
		if (!st)
			st = kb_delete_doc(r->kb, g->ids[i], &found, err);
		if (!st && found) {
			r->stats->removed++;
			if (report)
				emit(r->p, CAIRN_INGEST_REMOVED, g->ids[i], NULL);
		}
		cn_free(g->ids[i]);
	}
	cn_free(g->ids);
	memset(g, 0, sizeof *g);
	return st;
}

static cairn_status ingest_jsonl(ingest_run *r, const walk_file *f, const char *data, size_t len, cn_err *err)
{
	cn_jsonl_reader *jr = NULL;
	cn_err ferr;
	cn_err_clear(&ferr);
	if (cn_jsonl_open(f->path, data, len, &jr, &ferr)) {
		skip_file(r, f->path, &ferr);
		return CAIRN_OK;
	}
	record_ctx ctx = {.params = r->p, .container = f->path, .source = f->path, .stats = r->stats};
	int64_t bad = 0, records = 0, changed_records = 0;
	cairn_status st = CAIRN_OK;
	for (;;) {
		cn_jsonl_record rec;
		cn_err_clear(&ferr);
		cairn_status rs = cn_jsonl_next(jr, &rec, &ferr);
		if (rs == CAIRN_ENOTFOUND)
			break;
		if (rs == CAIRN_EFORMAT) {
			bad++;
			emit(r->p, CAIRN_INGEST_SKIPPED, f->path, ferr.msg);
			continue;
		}
		if (rs) {
			st = cn_err_set(err, rs, "%s", ferr.msg);
			break;
		}
		records++;
		bool added;
		uint32_t id;
		if (cn_strmap_put(&r->seen, rec.id, strlen(rec.id), &id, &added)) {
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		cairn_record cr = {
			.doc_id = rec.id,
			.title = rec.title,
			.text = rec.text,
			.text_len = rec.text_len,
			.source = f->path,
			.mtime = f->mtime,
			.metadata_json = rec.metadata_json,
		};
		bool changed;
		st = add_record_locked(r->kb, &cr, &ctx, &changed, err);
		if (st)
			break;
		if (!changed)
			r->stats->unchanged++;
		else
			changed_records++;
		st = maybe_flush(r->kb, false, err);
		if (st)
			break;
	}
	cn_jsonl_close(jr);
	if (!st && records == 0 && bad > 0) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s: no valid JSON Lines record (%lld bad lines)", f->path, (long long)bad);
		emit(r->p, CAIRN_INGEST_SKIPPED, f->path, msg);
		r->stats->skipped++;
	} else if (!st) {
		emit(r->p, changed_records ? CAIRN_INGEST_UPDATED : CAIRN_INGEST_UNCHANGED, f->path, NULL);
	}
	/* Records that vanished from the file are removed: the file is their source of truth. */
	sqlite3_stmt *q;
	if (!st)
		st = cn_store_prepare(r->kb->store, "SELECT doc_id FROM documents WHERE container = ?1", &q, err);
	if (!st) {
		sqlite3_bind_text(q, 1, f->path, -1, SQLITE_STATIC);
		gone_list gone = {0};
		while (!st && sqlite3_step(q) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(q, 0);
			if (cn_strmap_get(&r->seen, id, strlen(id)) == UINT32_MAX)
				st = gone_push(&gone, id, err);
		}
		sqlite3_reset(q);
		st = gone_delete(r, &gone, false, st, err);
	}
	return st;
}

static cairn_status ingest_file(ingest_run *r, const walk_file *f, cn_err *err)
{
	cn_err ferr;
	cn_err_clear(&ferr);
	const char *lang = NULL;
	cn_format fmt = cn_format_from_path(f->path, &lang);
	uint32_t sid;
	if (cn_strmap_put(&r->seen, f->path, strlen(f->path), &sid, NULL))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (fmt == CN_FMT_UNKNOWN) {
		cn_err_set(&ferr, CAIRN_EUNSUPPORTED, "%s: not a supported document type", f->path);
		skip_file(r, f->path, &ferr);
		return CAIRN_OK;
	}
	if (f->size > r->p->max_file_bytes) {
		cn_err_set(&ferr, CAIRN_ETOOBIG, "%s: file is %lld bytes, over the limit of %lld (--max-file-mb)", f->path,
		           (long long)f->size, (long long)r->p->max_file_bytes);
		skip_file(r, f->path, &ferr);
		return CAIRN_OK;
	}
	char *data = NULL;
	size_t len = 0;
	if (cn_file_read(f->path, (size_t)r->p->max_file_bytes, &data, &len, &ferr)) {
		skip_file(r, f->path, &ferr);
		return CAIRN_OK;
	}
	r->stats->bytes_read += (int64_t)len;
	r->prog.bytes_done += (int64_t)len;
	cairn_status st = CAIRN_OK;
	if (cn_check_text(f->path, data, len, &ferr)) {
		skip_file(r, f->path, &ferr);
		goto done;
	}
	if (fmt == CN_FMT_JSONL) {
		st = ingest_jsonl(r, f, data, len, err);
		goto done;
	}
	char chash[33], mhash[33];
	kb_content_hash(data, len, chash);
	meta_hash_of(r->kb, r->p, NULL, mhash);
	bool exists;
	char *old_c, *old_m;
	if (kb_pipeline_in_flight(r->kb, f->path)) /* e.g. a JSON Lines record with this id */
		st = kb_pipeline_drain(r->kb, true, err);
	if (!st)
		st = kb_doc_hashes(r->kb, f->path, &exists, &old_c, &old_m, err);
	if (st)
		goto done;
	bool same = exists && strcmp(old_c, chash) == 0 && strcmp(old_m, mhash) == 0;
	cn_free(old_c);
	cn_free(old_m);
	if (same) {
		r->stats->unchanged++;
		emit(r->p, CAIRN_INGEST_UNCHANGED, f->path, NULL);
		goto done;
	}
	kb_job *j = kb_job_new();
	if (!j) {
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	kb_job_embed_with(r->kb, j);
	j->data = data; /* the job owns the text from here */
	j->own_data = true;
	j->len = len;
	data = NULL;
	j->info.doc_id = j->info.source = arena_dup(&j->arena, f->path);
	j->info.content_hash = arena_dup(&j->arena, chash);
	j->info.meta_hash = arena_dup(&j->arena, mhash);
	if (!j->info.doc_id || !j->info.content_hash || !j->info.meta_hash) {
		kb_job_free(j);
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	j->info.format = cn_format_name(fmt);
	j->info.mtime = f->mtime;
	j->info.size = f->size;
	j->info.tags = r->p->tags; /* the caller's params outlive the ingest, queue included */
	j->info.n_tags = r->p->n_tags;
	j->info.groups = r->p->acl;
	j->info.n_groups = r->p->n_acl;
	j->fmt = fmt;
	j->lang = lang;
	j->cp = chunk_params_from(r->kb, r->p);
	st = kb_job_set_redact(r->kb, j, r->p, err);
	if (st) {
		kb_job_free(j);
		goto done;
	}
	j->existed = exists;
	j->is_file = true;
	j->title_from_doc = true;
	j->params = r->p;
	j->stats = r->stats;
	st = kb_pipeline_submit(r->kb, j, err);
done:
	cn_free(data);
	return st;
}

/* --prune: documents whose source lies under one of the roots but was not seen. */
static cairn_status prune(ingest_run *r, const char *const *roots, size_t n_roots, cn_err *err)
{
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(r->kb->store, "SELECT doc_id, source, container FROM documents", &q, err);
	if (st)
		return st;
	gone_list gone = {0};
	while (!st && sqlite3_step(q) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);
		const char *src = (const char *)sqlite3_column_text(q, 1);
		const char *container = (const char *)sqlite3_column_text(q, 2);
		const char *key = container ? container : id; /* JSON Lines records go with their file */
		if (cn_strmap_get(&r->seen, key, strlen(key)) != UINT32_MAX)
			continue;
		bool under = false;
		for (size_t i = 0; i < n_roots && !under; i++) {
			char *root = normalize_path(roots[i]);
			if (!root) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			size_t rl = strlen(root);
			under = strcmp(src, root) == 0 || strcmp(root, ".") == 0 ||
			        (strncmp(src, root, rl) == 0 && src[rl] == '/');
			cn_free(root);
		}
		if (under)
			st = gone_push(&gone, id, err);
	}
	sqlite3_reset(q);
	return gone_delete(r, &gone, true, st, err);
}

cairn_status cairn_ingest_paths(cairn_kb *kb, const char *const *paths, size_t n_paths,
                                const cairn_ingest_params *params, cairn_ingest_stats *stats)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_ingest_params defaults = cairn_ingest_default_params();
	if (!params)
		params = &defaults;
	cairn_ingest_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	uint64_t t0 = cn_now_ns();
	walk w = {.p = params, .stats = stats};
	struct stat kbst;
	if (stat(cn_store_dir(kb->store), &kbst) == 0) {
		w.kb_dev = kbst.st_dev;
		w.kb_ino = kbst.st_ino;
	}
	cairn_status st = CAIRN_OK;
	for (size_t i = 0; i < n_paths && !st; i++) {
		struct stat sb;
		if (stat(paths[i], &sb) != 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s: %s", paths[i], strerror(errno));
			emit(params, CAIRN_INGEST_SKIPPED, paths[i], msg);
			stats->skipped++;
			continue;
		}
		if (S_ISDIR(sb.st_mode))
			st = walk_dir(&w, paths[i]);
		else if (excluded_raw(params, paths[i])) {
			emit(params, CAIRN_INGEST_EXCLUDED, paths[i], NULL);
			stats->excluded++;
		} else
			st = walk_add(&w, paths[i], &sb);
	}
	if (st)
		cn_err_set(&err, st, "ingest: out of memory listing files");
	if (!st && w.n > 1)
		qsort(w.v, w.n, sizeof *w.v, cmp_walk_file);
	ingest_run run = {.kb = kb, .p = params, .stats = stats};
	cn_strmap_init(&run.seen);
	run.prog.files_total = (int64_t)w.n;
	for (size_t i = 0; i < w.n; i++)
		run.prog.bytes_total += w.v[i].size;
	stats->files_seen = (int64_t)w.n;
	pthread_mutex_lock(&kb->mu);
	if (!st)
		st = kb_write_begin(kb, &err);
	if (!st)
		st = embed_setup(kb, params, &err);
	int since_commit = 0;
	for (size_t i = 0; !st && i < w.n; i++) {
		if (i > 0 && w.v[i].path && strcmp(w.v[i].path, w.v[i - 1].path) == 0)
			continue; /* the same file named twice */
		run.prog.current = w.v[i].path;
		st = ingest_file(&run, &w.v[i], &err);
		run.prog.files_done = (int64_t)i + 1;
		if (st)
			break;
		bool force = params->commit_every_files > 0 && ++since_commit >= params->commit_every_files;
		if (force)
			since_commit = 0;
		st = maybe_flush(kb, force, &err);
		/* Let searches on this handle through between files: they read the committed
		 * snapshot, which a half-done file never changes (see engine.h). */
		pthread_mutex_unlock(&kb->mu);
		sched_yield();
		pthread_mutex_lock(&kb->mu);
		if (!st && params->on_progress && params->on_progress(&run.prog, params->user_data)) {
			st = cn_err_set(&err, CAIRN_EINTERRUPTED, "ingest stopped by the caller after %lld files",
			                (long long)run.prog.files_done);
			break;
		}
	}
	if (!st && params->prune)
		st = prune(&run, paths, n_paths, &err);
	if (!st)
		st = kb_write_commit(kb, &err);
	else if (st == CAIRN_EINTERRUPTED) {
		cn_err keep = err;
		cn_err_clear(&err);
		if (kb_write_commit(kb, &err))
			kb_write_rollback(kb);
		err = keep;
	} else
		kb_write_rollback(kb);
	pthread_mutex_unlock(&kb->mu);
	cn_strmap_free(&run.seen);
	for (size_t i = 0; i < w.n; i++)
		cn_free(w.v[i].path);
	cn_free(w.v);
	stats->seconds = (double)(cn_now_ns() - t0) / 1e9;
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}
