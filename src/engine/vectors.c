/*
 * vectors.c — the knowledge base's embedding model and the vectors of its chunks.
 *
 * Design:
 *  - One embedding model per knowledge base. Its path and a fingerprint (file size and
 *    CRC32C of the whole file, plus the embedding size) are recorded in the catalog's meta
 *    table the first time it is used. Vectors from two models are not comparable, so a
 *    different file is refused with a message that says how to re-embed, rather than mixed
 *    in silently; moving the same file elsewhere is fine (same fingerprint).
 *  - Every bm25 segment written while a model is set gets a vector sidecar seg-N.vec with
 *    the same chunks in the same order (vector number == docnum), so the deletion bitmaps
 *    and label filters of the bm25 segment apply unchanged. The catalog's `vectors` table
 *    lists which segments have one.
 *  - Chunks are embedded in the ingest pipeline's worker (stage 1, beside parsing and
 *    analysis), in batches, as "heading path (or title)\n\ntext": the encoder truncates to
 *    the model's context, and ingest sizes chunks with the model's own tokenizer so that
 *    truncation does not cut chunk text.
 *  - cairn_kb_reembed merges the index into one segment and embeds all of it again: the
 *    explicit step after changing the model, or for chunks ingested before there was one.
 */
#include "engine/engine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void kb_embed_text(const char *title, const char *heading, const char *text, size_t len, cn_buf *b)
{
	cn_buf_reset(b);
	if (heading && *heading) {
		cn_buf_puts(b, heading);
		cn_buf_puts(b, "\n\n");
	} else if (title && *title) {
		cn_buf_puts(b, title);
		cn_buf_puts(b, "\n\n");
	}
	cn_buf_append(b, text ? text : "", text ? len : 0);
}

/* size:crc32c:dim — cheap to recompute, changes with any byte of the file. */
static cairn_status fingerprint(const char *path, uint32_t dim, char *out, size_t out_size, cn_err *err)
{
	cn_map m;
	cairn_status st = cn_map_open(path, &m, err);
	if (st)
		return st;
	uint32_t crc = cn_crc32c(0, m.data, m.len);
	snprintf(out, out_size, "%zu:%08x:%u", m.len, crc, dim);
	cn_map_close(&m);
	return CAIRN_OK;
}

static cairn_status open_encoder(const char *path, cairn_encoder **enc, cn_err *err)
{
	char msg[CN_ERRMSG_MAX];
	cairn_encoder_params p = cairn_encoder_default_params();
	cairn_status st = cairn_encoder_open(path, &p, enc, msg, sizeof msg);
	if (st)
		return cn_err_set(err, st, "%s", msg);
	return CAIRN_OK;
}

/* The model's own tokenizer, so ingest can size chunks to what the model reads. */
static cairn_status open_tokenizer(cairn_kb *kb, const cairn_encoder_info *info, cn_err *err)
{
	kb->embed.max_tokens = info->max_tokens;
	if (kb->embed.tok)
		return CAIRN_OK;
	char msg[CN_ERRMSG_MAX];
	cairn_status st = cairn_tokenizer_open(kb->embed.path, NULL, &kb->embed.tok, msg, sizeof msg);
	return st ? cn_err_set(err, st, "%s", msg) : CAIRN_OK;
}

cairn_status kb_embed_load(cairn_kb *kb, cn_err *err)
{
	char *path = NULL, *fp = NULL;
	cairn_status st = cn_store_meta_get(kb->store, "embed_model", &path, err);
	if (!st)
		st = cn_store_meta_get(kb->store, "embed_fingerprint", &fp, err);
	if (st || !path || !fp) {
		cn_free(path);
		cn_free(fp);
		return st;
	}
	const char *dim = strrchr(fp, ':');
	kb->embed.path = path;
	kb->embed.fingerprint = fp;
	kb->embed.dim = dim ? (uint32_t)strtoul(dim + 1, NULL, 10) : 0;
	return CAIRN_OK;
}

cairn_status kb_embedder(cairn_kb *kb, cn_err *err)
{
	if (kb->embed.enc)
		return CAIRN_OK;
	if (!kb->embed.path)
		return cn_err_set(err, CAIRN_EINVAL,
		                  "%s: this knowledge base has no embedding model (ingest with --embed-model FILE)",
		                  cn_store_dir(kb->store));
	cairn_status st = open_encoder(kb->embed.path, &kb->embed.enc, err);
	if (st) {
		cn_err_prefix(err, "embedding model of %s: ", cn_store_dir(kb->store));
		return st;
	}
	cairn_encoder_info info;
	cairn_encoder_get_info(kb->embed.enc, &info);
	if (info.is_reranker || (uint32_t)info.dim != kb->embed.dim) {
		cairn_encoder_close(kb->embed.enc);
		kb->embed.enc = NULL;
		return cn_err_set(err, CAIRN_EINVAL, "%s: the embedding model at %s is not the one recorded (%s)",
		                  cn_store_dir(kb->store), kb->embed.path, kb->embed.fingerprint);
	}
	return open_tokenizer(kb, &info, err);
}

cairn_status kb_embed_configure(cairn_kb *kb, const char *path, bool reembed, cn_err *err)
{
	char abspath[PATH_MAX];
	if (!realpath(path, abspath))
		return cn_err_set(err, CAIRN_ENOTFOUND, "%s: embedding model not found", path);
	/* The model already open, unchanged: keep the open encoder. Swapping it would pull it
	 * from under an ingest worker or a search that is using it right now. */
	if (kb->embed.enc && kb->embed.path && kb->embed.fingerprint && strcmp(abspath, kb->embed.path) == 0) {
		char same[96];
		if (!fingerprint(abspath, kb->embed.dim, same, sizeof same, err) && strcmp(same, kb->embed.fingerprint) == 0)
			return CAIRN_OK;
	}
	cairn_encoder *enc = NULL;
	cairn_status st = open_encoder(abspath, &enc, err);
	if (st)
		return st;
	cairn_encoder_info info;
	cairn_encoder_get_info(enc, &info);
	if (info.is_reranker) {
		cairn_encoder_close(enc);
		return cn_err_set(err, CAIRN_EINVAL, "%s: a reranker (it scores pairs) cannot embed; pass an embedding model",
		                  path);
	}
	char fp[96];
	st = fingerprint(abspath, (uint32_t)info.dim, fp, sizeof fp, err);
	if (!st && kb->embed.fingerprint && strcmp(fp, kb->embed.fingerprint) != 0 && !reembed)
		st = cn_err_set(err, CAIRN_EINVAL,
		                "%s: this knowledge base's vectors come from another embedding model (%s, fingerprint %s); "
		                "vectors of two models cannot be mixed: re-embed everything with `cairn reembed --embed-model %s`",
		                path, kb->embed.path, kb->embed.fingerprint, path);
	if (!st)
		st = cn_store_meta_set(kb->store, "embed_model", abspath, err);
	if (!st)
		st = cn_store_meta_set(kb->store, "embed_fingerprint", fp, err);
	if (st) {
		cairn_encoder_close(enc);
		return st;
	}
	cairn_encoder_close(kb->embed.enc);
	cairn_tokenizer_close(kb->embed.tok);
	kb->embed.tok = NULL;
	cn_free(kb->embed.path);
	cn_free(kb->embed.fingerprint);
	kb->embed.enc = enc;
	kb->embed.path = cn_strdup(abspath);
	kb->embed.fingerprint = cn_strdup(fp);
	kb->embed.dim = (uint32_t)info.dim;
	if (!kb->embed.path || !kb->embed.fingerprint)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	return open_tokenizer(kb, &info, err);
}

cairn_status kb_embed_job(kb_job *j, cn_err *err)
{
	size_t n = j->chunks.n, dim = j->dim;
	if (!n)
		return CAIRN_OK;
	j->vecs = cn_malloc(n * dim * sizeof(float));
	const char **texts = cn_calloc(n, sizeof *texts);
	cn_buf b;
	cn_buf_init(&b);
	cairn_status st = j->vecs && texts ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; !st && i < n; i++) {
		const cn_chunk *c = &j->chunks.v[i];
		kb_embed_text(j->info.title, c->heading, c->text, c->len, &b);
		texts[i] = b.failed ? NULL : cn_arena_strndup(&j->arena, b.data ? b.data : "", b.len);
		if (!texts[i])
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	if (!st) {
		st = cairn_embed(j->enc, texts, n, CAIRN_EMBED_DOCUMENT, j->vecs);
		if (st)
			cn_err_set(err, st, "%s: embedding failed: %s", j->info.doc_id, cairn_encoder_errmsg(j->enc));
	}
	cn_buf_free(&b);
	cn_free(texts);
	return st;
}

/* One segment's sidecar from its chunks as stored: labels and mtimes from the bm25 segment,
 * texts from the catalog (a chunk deleted since has no row: it gets the vector of an empty
 * text, never returned because the deletion bitmap hides it). */
static cairn_status embed_segment(cairn_kb *kb, const kb_seg *ks, cn_err *err)
{
	enum { BATCH = 32 };
	uint32_t n = cn_bm25_seg_ndocs(ks->seg), dim = kb->embed.dim;
	cn_vec_params vp = cn_vec_default_params(dim);
	cn_vec_builder *vb = NULL;
	cairn_status st = cn_vec_builder_new(&vp, &vb, err);
	sqlite3_stmt *row = NULL;
	if (!st)
		st = cn_store_prepare(kb->store,
		                      "SELECT d.title, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id = ?1",
		                      &row, err);
	float *vecs = cn_malloc((size_t)BATCH * dim * sizeof *vecs);
	char *texts[BATCH] = {0};
	const char **labels = NULL;
	size_t labels_cap = 0;
	cn_buf b;
	cn_buf_init(&b);
	if (!st && !vecs)
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (uint32_t start = 0; !st && start < n; start += BATCH) {
		uint32_t m = CN_MIN((uint32_t)BATCH, n - start);
		for (uint32_t i = 0; !st && i < m; i++) {
			sqlite3_reset(row);
			sqlite3_bind_int64(row, 1, (sqlite3_int64)cn_bm25_seg_chunk_id(ks->seg, start + i));
			int rc = sqlite3_step(row);
			if (rc == SQLITE_ROW)
				kb_embed_text((const char *)sqlite3_column_text(row, 0), (const char *)sqlite3_column_text(row, 1),
				              (const char *)sqlite3_column_text(row, 2), (size_t)sqlite3_column_bytes(row, 2), &b);
			else if (rc == SQLITE_DONE)
				cn_buf_reset(&b);
			else
				st = cn_store_sqlerr(kb->store, err, "reading chunks to embed");
			cn_free(texts[i]);
			texts[i] = st ? NULL : cn_strndup(b.data ? b.data : "", b.len);
			if (!st && !texts[i])
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
		sqlite3_reset(row);
		if (!st) {
			st = cairn_embed(kb->embed.enc, (const char *const *)texts, m, CAIRN_EMBED_DOCUMENT, vecs);
			if (st)
				cn_err_set(err, st, "embedding: %s", cairn_encoder_errmsg(kb->embed.enc));
		}
		for (uint32_t i = 0; !st && i < m; i++) {
			uint32_t d = start + i;
			size_t nl = 0;
			const uint32_t *ids = cn_bm25_seg_doc_labels(ks->seg, d, &nl);
			if (nl > labels_cap && CN_GROW(labels, labels_cap, nl)) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				break;
			}
			/* label strings are not NUL-terminated in the segment: copy into the buffer */
			cn_buf_reset(&b);
			size_t *offs = nl ? cn_malloc(nl * sizeof *offs) : NULL;
			for (size_t l = 0; l < nl; l++) {
				uint32_t len;
				const char *s = cn_bm25_seg_label(ks->seg, ids[l], &len);
				offs[l] = b.len;
				cn_buf_append(&b, s, len);
				cn_buf_putc(&b, '\0');
			}
			for (size_t l = 0; l < nl; l++)
				labels[l] = b.data + offs[l];
			cn_free(offs);
			cn_vec_item it = {
				.chunk_id = cn_bm25_seg_chunk_id(ks->seg, d),
				.vec = vecs + (size_t)i * dim,
				.mtime = cn_bm25_seg_mtime(ks->seg, d),
				.labels = labels,
				.n_labels = nl,
			};
			if (b.failed)
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			else
				st = cn_vec_builder_add(vb, &it, err);
		}
	}
	if (!st)
		st = kb_write_vectors(kb, vb, ks->id, err);
	for (size_t i = 0; i < BATCH; i++)
		cn_free(texts[i]);
	cn_free(vecs);
	cn_free(labels);
	cn_buf_free(&b);
	cn_vec_builder_free(vb);
	return st;
}

int cairn_kb_has_embeddings(cairn_kb *kb)
{
	pthread_mutex_lock(&kb->mu);
	int has = kb->embed.path != NULL;
	pthread_mutex_unlock(&kb->mu);
	return has;
}

cairn_status cairn_kb_reembed(cairn_kb *kb, const char *model_path)
{
	cn_err err;
	cn_err_clear(&err);
	pthread_mutex_lock(&kb->mu);
	kb_snapshot *snap = NULL;
	cairn_status st = kb_write_begin(kb, &err);
	if (!st && model_path)
		st = kb_embed_configure(kb, model_path, true, &err);
	if (!st)
		st = kb_embedder(kb, &err);
	if (!st)
		st = kb_pipeline_drain(kb, true, &err);
	if (!st)
		st = kb_snapshot_get(kb, &snap, &err);
	for (size_t i = 0; !st && i < snap->n; i++)
		st = embed_segment(kb, snap->segs[i], &err);
	kb_snapshot_release(snap);
	if (!st)
		st = kb_write_commit(kb, &err);
	else
		kb_write_rollback(kb);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}
