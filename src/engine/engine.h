/*
 * engine — the public API façade (include/cairn.h): it owns a knowledge base handle and wires
 * store (catalog + segments), lex (analysis), ingest (readers + chunker), filter and bm25.
 *
 * Concurrency: one mutex (kb->mu) serialises every use of the SQLite connection and the
 * writer state; the index walk of a search runs outside it on a refcounted snapshot of the
 * open segments, so searches proceed in parallel and never see a half-published commit.
 * cairn_ingest_paths releases the mutex between files, so a search on the same handle
 * waits for at most one file: it still reads only committed segments (the generation does
 * not move inside the open write transaction), and a hit whose catalog row the transaction
 * already deleted keeps the index's view.
 *
 * Write path: the first write (ingest, add_record, delete) opens a store transaction and a
 * bm25 builder whose segment row is registered up front, so every chunk row is inserted
 * with its final (segment, docnum) and a deletion — even of a chunk not yet flushed — is
 * one uniform row in `deleted`. cairn_kb_commit writes the segment file and commits.
 */
#ifndef CAIRN_ENGINE_H
#define CAIRN_ENGINE_H

#include <pthread.h>

#include "base/base.h"
#include "bm25/bm25.h"
#include "filter/filter.h"
#include "ingest/ingest.h"
#include "lex/lex.h"
#include "store/store.h"
#include "vec/vec.h"

/* One open segment, shared by the snapshots that include it. */
typedef struct kb_seg {
	int refs;
	int64_t id;
	cn_bm25_seg *seg;
	cn_vec_seg *vseg;        /* its vector sidecar; NULL when the chunks have no vectors */
} kb_seg;

typedef struct kb_snapshot {
	int refs;
	int64_t generation;
	size_t n;
	kb_seg **segs;
	uint8_t **deleted;       /* bitmap per segment, NULL when nothing is deleted */
	cn_bm25_view *views;
	int64_t total_chunks;
	/* The segments with vectors, as cn_vec_search wants them; vseg_of[i] is the index in
	 * segs/views of vviews[i] (vector number == bm25 docnum, so deletions are shared). */
	cn_vec_view *vviews;
	uint32_t *vseg_of;
	size_t nv;
} kb_snapshot;

/* Near-duplicate lookup: SimHash split in four 16-bit bands; two hashes within Hamming
 * distance 3 share at least one band (pigeonhole), so candidates come from 4 bucket walks
 * (see DUP_MAX_DISTANCE in ingest.c for what is accepted). */
typedef struct kb_dupindex {
	bool loaded;
	uint64_t *hash;
	int64_t *chunk;          /* -1 = removed */
	int64_t *doc;
	int32_t *next;           /* 4 chains per entry: next[4*i + band] */
	size_t n, cap;
	int32_t *heads;          /* 4 × 65536 */
} kb_dupindex;

typedef struct kb_job kb_job;

typedef struct kb_writer {
	bool active;             /* a store transaction is open */
	/* the ingest pipeline (pipeline.c) */
	int thread_state;        /* 0 not started, 1 worker running, -1 inline */
	pthread_t thread;
	pthread_mutex_t qmu;
	pthread_cond_t qcond, dcond;
	bool stop;
	kb_job *head, *tail, *next_todo;
	size_t queued_jobs, queued_bytes;
	cn_analyzer *worker_analyzer;
	cn_strmap in_flight;     /* doc ids submitted and not yet committed */
	cn_bm25_builder *builder;
	cn_vec_builder *vbuilder; /* with an embedding model: the same chunks' vectors */
	int64_t seg_id;          /* registered segment for the builder, 0 = none yet */
	char seg_path[4096];
	uint32_t next_docnum;
	kb_dupindex dups;
} kb_writer;

struct cairn_kb {
	cn_store *store;
	pthread_mutex_t mu;
	cn_err err;
	char errmsg[CN_ERRMSG_MAX];
	char *analyzer_sig;
	cn_analyzer *analyzer;   /* guarded by mu */
	float k1, b;
	bool read_only;
	kb_snapshot *snap;       /* guarded by mu; readers take a reference */
	/* The embedding model (meta embed_model / embed_fingerprint), opened on first use.
	 * Calls on enc are serialised inside it, so ingest's worker and searches may share it. */
	struct {
		char *path;          /* NULL: this knowledge base has no embedding model */
		char *fingerprint;
		uint32_t dim;
		cairn_encoder *enc;
		cairn_tokenizer *tok; /* the model's tokenizer: chunk sizes in its tokens */
		int max_tokens;       /* the model's context */
		bool ingest;         /* the open write transaction embeds its chunks */
	} embed;
	/* A reranker kept open between searches (by path). */
	char *rerank_path;
	cairn_encoder *rerank;
	/* The audit trail (audit.c): its own SQLite connection, opened on first use. */
	struct {
		pthread_mutex_t mu;
		sqlite3 *db;
	} audit;
	uint64_t snap_checked_ns;/* when snap was last confirmed current (0 = check now) */
	kb_writer w;
};

/* The knowledge base's ACL mode is closed (meta acl_mode; principal.c). Caller holds mu. */
bool kb_acl_closed_locked(cairn_kb *kb);

/* Appends to the audit trail regardless of the enabled setting (audit.c). */
cairn_status kb_audit_append(cairn_kb *kb, const cairn_audit_entry *e, cn_err *err);
/* Closes the audit connection and destroys its mutex (cairn_kb_close). */
void kb_audit_close(cairn_kb *kb);

/* Sets kb's error message from err and returns err->code. */
cairn_status kb_fail(cairn_kb *kb, cn_err *err);

/* Snapshot of the committed segments (reloaded when the generation moved). Caller holds
 * kb->mu; release with kb_snapshot_release (also under kb->mu). */
cairn_status kb_snapshot_get(cairn_kb *kb, kb_snapshot **out, cn_err *err);
void kb_snapshot_release(kb_snapshot *snap);

/* Writer side (caller holds kb->mu). */
cairn_status kb_write_begin(cairn_kb *kb, cn_err *err);
cairn_status kb_write_commit(cairn_kb *kb, cn_err *err);
void kb_write_rollback(cairn_kb *kb);
void kb_writer_free(kb_writer *w);

typedef struct kb_docinfo {
	const char *doc_id;
	const char *source;
	const char *container;   /* NULL for files */
	const char *title;
	const char *format;
	int64_t mtime;
	int64_t size;
	const char *content_hash;
	const char *meta_hash;
	const char *const *tags; size_t n_tags;   /* "key=value" */
	const char *const *groups; size_t n_groups;
} kb_docinfo;

/* One document on its way into the index: filled by the caller (stage 0), prepared by the
 * worker (stage 1: parsed, chunked, analysed), committed by the caller (stage 2). */
struct kb_job {
	kb_job *next;
	bool prepared;
	cn_arena arena;          /* the strings of info */
	kb_docinfo info;
	bool title_from_doc;     /* files: the title is the parsed document's (H1, <title>, …) */
	bool existed;            /* replaces a stored version */
	bool is_file;            /* a file (events per file) rather than a record */
	cn_format fmt;
	const char *lang;
	char *data;              /* source text */
	size_t len;
	bool own_data;           /* data is freed with the job */
	cn_chunk_params cp;
	const cairn_ingest_params *params; /* events go to params->on_event */
	cairn_ingest_stats *stats;         /* may be NULL */
	/* stage 1 results */
	cn_doc doc;
	cn_chunks chunks;
	cn_tokens *toks;         /* per chunk: title + heading + body terms */
	uint64_t *simhash;       /* per chunk */
	size_t *nbody;           /* per chunk: body terms (fingerprint strength) */
	float *vecs;             /* with an embedding model: chunks.n × dim, row per chunk */
	cairn_status prep_st;
	cn_err prep_err;
	cairn_encoder *enc;      /* embed the chunks with this model (NULL: no vectors) */
	uint32_t dim;
	/* PII redaction of chunk texts (kb_job_set_redact); a copy, since jobs outlive calls */
	bool redact;
	int redact_mode;
	char *redact_types;      /* in arena; NULL = all */
	double redact_min_score;
	uint8_t redact_key[32];  /* wiped with the job */
	char *redact_vault;      /* in arena */
	/* prompt-injection scan of the chunks (ingest_params.injection_*) */
	bool inj_scan;
	int inj_policy;
	int64_t inj_quarantined; /* chunks left out by the scan */
};

kb_job *kb_job_new(void);
/* Copies p's redaction policy into j (pipeline.c). */
cairn_status kb_job_set_redact(cairn_kb *kb, kb_job *j, const cairn_ingest_params *p, cn_err *err);
/* The policy as a line for the document's meta hash ("" when off). */
void kb_redact_signature(const cairn_ingest_params *p, char *out, size_t size);
void kb_job_free(kb_job *j);
/* Queues j (taking ownership) and commits whatever the worker has finished. */
cairn_status kb_pipeline_submit(cairn_kb *kb, kb_job *j, cn_err *err);
/* Commits finished jobs in order; with all, waits for and commits every queued job. */
cairn_status kb_pipeline_drain(cairn_kb *kb, bool all, cn_err *err);
/* Drops queued jobs (rollback). */
void kb_pipeline_discard(cairn_kb *kb);
void kb_pipeline_stop(kb_writer *w);
bool kb_pipeline_in_flight(const cairn_kb *kb, const char *doc_id);
/* Stage 2 of one job (ingest.c): catalog rows, duplicates, builder; events and stats. */
cairn_status kb_commit_job(cairn_kb *kb, kb_job *j, cn_err *err);
/* Removes a document by doc_id; *found says whether it existed. */
cairn_status kb_delete_doc(cairn_kb *kb, const char *doc_id, bool *found, cn_err *err);
/* Looks a document up: *exists, and its stored content and meta hashes (caller frees). */
cairn_status kb_doc_hashes(cairn_kb *kb, const char *doc_id, bool *exists, char **content_hash,
                           char **meta_hash, cn_err *err);

/* 128-bit content hash as 32 hex digits. */
void kb_content_hash(const void *data, size_t len, char out[33]);

/* ---- vectors (vectors.c) ---------------------------------------------------------------- */

/* What a chunk is embedded as: its heading path (or the title when there is none) and its
 * text, so a chunk deep in a document keeps the context of its section. Into b. */
void kb_embed_text(const char *title, const char *heading, const char *text, size_t len, cn_buf *b);
/* Opens kb->embed.enc if needed (caller holds kb->mu). */
cairn_status kb_embedder(cairn_kb *kb, cn_err *err);
/* Makes path the knowledge base's embedding model: records it in meta on first use;
 * another model than the recorded one is refused unless reembed (then cairn_kb_reembed's
 * work is the caller's). Caller holds kb->mu and an open write transaction. */
cairn_status kb_embed_configure(cairn_kb *kb, const char *path, bool reembed, cn_err *err);
/* Writes vb as segment seg_id's vector sidecar and lists it in the catalog (in the writer's
 * transaction). */
cairn_status kb_write_vectors(cairn_kb *kb, cn_vec_builder *vb, int64_t seg_id, cn_err *err);
/* Loads the recorded model settings at open. */
cairn_status kb_embed_load(cairn_kb *kb, cn_err *err);
/* Embeds a job's chunks into j->vecs with j->enc (pipeline stage 1). */
cairn_status kb_embed_job(kb_job *j, cn_err *err);

/* ---- dense and hybrid retrieval (hybrid.c) --------------------------------------------- */

/* Top k chunks by the embedding model's similarity to query (filter inside the walk). */
cairn_status kb_dense_search(cairn_kb *kb, kb_snapshot *snap, const char *query, const cn_filter *filter, uint32_t k,
                             int ef_search, cn_bm25_hit *out, size_t *n_out, cn_err *err);
/* Fuses two ranked lists into out (at most cap): reciprocal-rank fusion, or with weighted
 * min-max normalised scores (b_weight on the second list). */
cairn_status kb_fuse(const cn_bm25_hit *a, size_t na, const cn_bm25_hit *b, size_t nb, bool weighted, int rrf_k,
                     double b_weight, cn_bm25_hit *out, size_t cap, size_t *n_out, cn_err *err);
/* Reorders hits[0..top) by a cross-encoder's score (the score replaces the hit's). */
cairn_status kb_rerank(cairn_kb *kb, kb_snapshot *snap, const char *query, const char *model, size_t top,
                       cn_bm25_hit *hits, size_t n, cn_err *err);
/* Drops hits whose chunk is a near-duplicate of a higher one. */
cairn_status kb_dedupe(cairn_kb *kb, kb_snapshot *snap, cn_bm25_hit *hits, size_t *n, cn_err *err);
/* Maximal marginal relevance over the chunks' vectors: the first k of hits re-picked. */
cairn_status kb_mmr(const kb_snapshot *snap, double lambda, cn_bm25_hit *hits, size_t n, size_t k, cn_err *err);

/* RM3 query expansion (rm3.c). The caller holds kb->mu (the analyzer is not thread-safe). */
typedef struct kb_rm3_params {
	int fb_docs, fb_terms;
	float orig_weight;
} kb_rm3_params;
/* From the first-pass hits (best first), the expanded weighted query: the original terms
 * and up to fb_terms feedback terms, texts in arena. */
cairn_status kb_rm3_expand(cairn_kb *kb, const kb_snapshot *snap, const cn_bm25_qterm *q, size_t nq,
                           const cn_bm25_hit *hits, size_t n_hits, const kb_rm3_params *p, cn_arena *arena,
                           cn_bm25_qterm **out, size_t *n_out, cn_err *err);

/* The terms a chunk is indexed under: its document's title (unless the heading path starts
 * with it), the heading path, then the body; *body_from gets the index of the body's first
 * term. Used at ingest and again by query expansion (rm3.c), which must see the same terms. */
cairn_status kb_analyze_chunk(cn_analyzer *a, const char *title, const char *heading, const char *text, size_t len,
                              cn_tokens *t, size_t *body_from);

#endif
