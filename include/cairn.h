/*
 * cairn.h — the one public header of libcairn.
 *
 * cairn answers questions over an organisation's documents with grounded, cited answers.
 * This header is the whole contract between the library and its programs (the `cairn` CLI,
 * the server, your application):
 *
 *  - Opaque handles (cairn_kb, cairn_results, …), created and destroyed in init/free pairs.
 *  - Options come in *_params structs obtained from cairn_*_default_params(), so new
 *    options never break existing callers: take the defaults, change what you need.
 *  - Every fallible call returns a cairn_status; the handle keeps a message that names the
 *    input and the problem (cairn_kb_errmsg). The library never exits, aborts or prints:
 *    diagnostics go through the log callback you install with cairn_set_log.
 *  - Ownership is stated at each call. Strings returned inside results live as long as the
 *    results object that holds them.
 *
 * Thread safety: a cairn_kb may be searched from several threads at once; writes (ingest,
 * delete, optimize) are serialised inside the handle; a search on a handle that is running
 * cairn_ingest_paths waits for the file in progress, not for the whole ingest.
 * Ingest uses one extra worker thread (CAIRN_THREADS=1 in the environment turns it off). Separate processes may open the same
 * knowledge base; one writer at a time (others get CAIRN_EBUSY), readers never wait.
 */
#ifndef CAIRN_H
#define CAIRN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_VERSION_MAJOR 0
#define CAIRN_VERSION_MINOR 1
#define CAIRN_VERSION_PATCH 0
#define CAIRN_VERSION_STRING "0.1.0"

const char *cairn_version(void);

/* ---- status codes ------------------------------------------------------------------- */

typedef enum cairn_status {
	CAIRN_OK = 0,
	CAIRN_EINVAL = 1,      /* a bad argument or malformed request */
	CAIRN_ENOMEM = 2,      /* out of memory */
	CAIRN_EIO = 3,         /* an operating-system I/O error */
	CAIRN_ECORRUPT = 4,    /* stored data failed a checksum or structural check */
	CAIRN_ENOTFOUND = 5,   /* no such file, document or key */
	CAIRN_EUNSUPPORTED = 6,/* a format, version or feature this build does not handle */
	CAIRN_EBUSY = 7,       /* another writer holds the knowledge base */
	CAIRN_EFORMAT = 8,     /* input is not in the expected format (bad UTF-8, binary, …) */
	CAIRN_ETOOBIG = 9,     /* input exceeds a configured limit */
	CAIRN_EEMPTY = 10,     /* input has no content */
	CAIRN_EINTERRUPTED = 11, /* stopped by a callback */
	CAIRN_EINTERNAL = 12,  /* a bug: please report */
	CAIRN_EPERM = 13       /* the principal lacks the permission this needs */
} cairn_status;

/* "CAIRN_ECORRUPT" → "corrupt data", never NULL. */
const char *cairn_status_name(cairn_status status);

/* ---- logging ------------------------------------------------------------------------ */

typedef enum cairn_log_level {
	CAIRN_LOG_DEBUG = 0,
	CAIRN_LOG_INFO = 1,
	CAIRN_LOG_WARN = 2,
	CAIRN_LOG_ERROR = 3
} cairn_log_level;

typedef void (*cairn_log_fn)(cairn_log_level level, const char *message, void *user_data);
/* Process-wide; NULL silences the library (the default). */
void cairn_set_log(cairn_log_fn fn, void *user_data);

/* ---- knowledge base ----------------------------------------------------------------- */

typedef struct cairn_kb cairn_kb;

typedef struct cairn_kb_params {
	int create;            /* create the directory if missing (default 1) */
	int read_only;         /* open for searching only (default 0) */
	const char *language;  /* Snowball stemmer for a new KB: "english" … or "none"; the
	                          default "porter" is the classic Porter stemmer Lucene uses */
	double bm25_k1;        /* default 0.9 (Anserini) */
	double bm25_b;         /* default 0.4 (Anserini) */
} cairn_kb_params;

cairn_kb_params cairn_kb_default_params(void);

/* Opens (and with params->create, creates) the knowledge base in directory `dir`. On
 * failure *out is NULL and, if errbuf is not NULL, errbuf gets the message. */
cairn_status cairn_kb_open(const char *dir, const cairn_kb_params *params, cairn_kb **out,
                           char *errbuf, size_t errbuf_size);
void cairn_kb_close(cairn_kb *kb);
/* The message of the last failed call on this handle ("" if none). */
const char *cairn_kb_errmsg(const cairn_kb *kb);

typedef struct cairn_kb_stats {
	int64_t documents;
	int64_t chunks;
	int64_t segments;
	int64_t terms;          /* distinct terms over all segments (upper bound when several) */
	int64_t index_bytes;    /* bytes of segment files */
	int64_t catalog_bytes;  /* bytes of the SQLite catalog */
	int64_t near_duplicate_chunks;
	int64_t vector_chunks;    /* chunks with an embedding (dense and hybrid search see these) */
	char embed_model[1024];   /* the recorded embedding model's path, "" if none */
	int64_t generation;     /* commit counter */
	char language[32];
} cairn_kb_stats;

cairn_status cairn_kb_stats_get(cairn_kb *kb, cairn_kb_stats *out);

/* 1 when the knowledge base has an embedding model (its chunks have vectors), else 0. */
int cairn_kb_has_embeddings(cairn_kb *kb);

/* Embeds every chunk again with model_path (a GGUF embedding model), which becomes the
 * knowledge base's model: the explicit step after changing models, or for chunks ingested
 * before there was one. NULL keeps the recorded model. One commit; searches see the old
 * vectors until it lands. */
cairn_status cairn_kb_reembed(cairn_kb *kb, const char *model_path);

/* Checks every segment checksum and the catalog's agreement with the segments. */
cairn_status cairn_kb_check(cairn_kb *kb);

/* Merges index segments (all into one when max_segments is 1) and drops deleted chunks. */
cairn_status cairn_kb_optimize(cairn_kb *kb, int max_segments);

/* ---- access control: principals, API keys, ACL mode --------------------------------- */

/* A principal is who asks: a name, the access groups whose documents it may see, and
 * permissions. Documents carry groups (cairn_ingest_params.acl); every retrieval path
 * filters by the principal's groups inside the index walk (docs/security.md). */
enum {
	CAIRN_PERM_ADMIN = 1u << 0,     /* sees every document (no group filter); manages principals */
	CAIRN_PERM_REHYDRATE = 1u << 1, /* may turn redaction tokens back into the original values */
	CAIRN_PERM_AUDIT = 1u << 2      /* may read the audit log */
};

typedef struct cairn_principal {
	char *name;
	char **groups;
	size_t n_groups;
	unsigned perms;           /* CAIRN_PERM_* */
	double rate;              /* requests per second the HTTP API allows it (token bucket);
	                             0 = the server's default */
	double burst;             /* the bucket's size; 0 = the server's default */
} cairn_principal;

/* Creates or replaces a principal. Names and groups: 1–128 bytes of printable ASCII
 * without spaces or commas. */
cairn_status cairn_principal_set(cairn_kb *kb, const char *name, const char *const *groups, size_t n_groups,
                                 unsigned perms);
/* Its own rate limit for the HTTP API (requests per second and burst; 0, 0 = the server's
 * default). CAIRN_ENOTFOUND when there is no such principal. */
cairn_status cairn_principal_set_rate(cairn_kb *kb, const char *name, double rate, double burst);
/* CAIRN_ENOTFOUND when there is no such principal. Free with cairn_principal_free. */
cairn_status cairn_principal_get(cairn_kb *kb, const char *name, cairn_principal **out);
/* Removes the principal and its API keys. */
cairn_status cairn_principal_remove(cairn_kb *kb, const char *name);
/* All principals, by name. Free each with cairn_principal_free and the array with cairn_free. */
cairn_status cairn_principal_list(cairn_kb *kb, cairn_principal ***out, size_t *n);
void cairn_principal_free(cairn_principal *p);
/* Parses "rehydrate,audit,admin" into CAIRN_PERM_* bits (CAIRN_EINVAL naming an unknown one);
 * and back (buf gets "" for none). */
cairn_status cairn_perms_parse(const char *list, unsigned *perms);
void cairn_perms_format(unsigned perms, char *buf, size_t size);

/* A new API key for the principal: *key_out (free with cairn_free) is shown once; only its
 * public id (the first 12 characters) and a hash are stored. */
cairn_status cairn_api_key_create(cairn_kb *kb, const char *principal, char **key_out);
/* The principal a key belongs to; CAIRN_ENOTFOUND for an unknown or revoked key (the
 * comparison does not leak timing about stored keys). */
cairn_status cairn_api_key_lookup(cairn_kb *kb, const char *key, cairn_principal **out);
/* Revokes by public id (or whole key). CAIRN_ENOTFOUND when none matches. */
cairn_status cairn_api_key_revoke(cairn_kb *kb, const char *id);

/* ACL mode. Open (the default): a document without groups is visible to every principal.
 * Closed: a document whose groups are unknown is hidden from every principal that is not
 * an admin — fail closed; give public documents an explicit group. */
cairn_status cairn_kb_set_acl_closed(cairn_kb *kb, int closed);
int cairn_kb_acl_closed(cairn_kb *kb);

/* ---- audit trail --------------------------------------------------------------------- */

/* An append-only, hash-chained log in KB/audit.db (docs/security.md#audit-trail). When
 * enabled, cairn_search and cairn_ask append a record per call (principal, question as
 * redacted by the PII policy, retrieved chunk ids, answer, guard decisions); changes to
 * principals and keys are recorded too. retention_days > 0 prunes older records (the
 * chain's base moves, and the pruning is itself recorded); 0 keeps everything. */
cairn_status cairn_audit_enable(cairn_kb *kb, int enabled, int retention_days);
int cairn_audit_enabled(cairn_kb *kb);

typedef struct cairn_audit_entry {
	const char *action;       /* "ask", "search", "principal.set", … (required) */
	const char *principal;    /* NULL = the local owner */
	const char *question;     /* already redacted; NULL = none */
	const int64_t *chunk_ids; /* retrieved chunks */
	size_t n_chunks;
	const char *answer;       /* already redacted; NULL = none */
	const char *decisions_json; /* guard decisions as JSON (array or object); NULL = none */
} cairn_audit_entry;

/* Appends when the trail is enabled (else does nothing). Durable when it returns. */
cairn_status cairn_audit_append(cairn_kb *kb, const cairn_audit_entry *entry);

typedef struct cairn_audit_report {
	int ok;                   /* 1: intact */
	int64_t records;          /* records checked */
	int64_t first_seq, last_seq;
	char head[65];            /* hash of the last record: keep "last_seq head" elsewhere and
	                             pass it as expect_head later to detect a rewritten log */
	int64_t head_behind;      /* audit.head lagged this many records (a crash between commit
	                             and head update; harmless, repaired by the next append) */
	int64_t bad_seq;          /* the first record found wrong */
	char problem[512];        /* what is wrong, when not ok */
} cairn_audit_report;

/* Recomputes the chain: CAIRN_ECORRUPT (and the report says where) when any record was
 * edited, removed, reordered or the end cut off. expect_head: "SEQ HASH" from an earlier
 * report, or NULL. */
cairn_status cairn_audit_verify(cairn_kb *kb, const char *expect_head, cairn_audit_report *report);

/* Calls fn for each record after after_seq (at most limit; 0 = all) with its canonical JSON
 * and hash; fn returns non-zero to stop. */
typedef int (*cairn_audit_fn)(int64_t seq, const char *record_json, const char *hash, void *user_data);
cairn_status cairn_audit_read(cairn_kb *kb, int64_t after_seq, int64_t limit, cairn_audit_fn fn, void *user_data);

/* ---- ingest ------------------------------------------------------------------------- */

typedef enum cairn_ingest_event {
	CAIRN_INGEST_ADDED = 0,
	CAIRN_INGEST_UPDATED = 1,
	CAIRN_INGEST_UNCHANGED = 2,
	CAIRN_INGEST_REMOVED = 3,
	CAIRN_INGEST_SKIPPED = 4,  /* a bad file: message says why; the ingest goes on */
	CAIRN_INGEST_EXCLUDED = 5
} cairn_ingest_event;

typedef struct cairn_ingest_progress {
	int64_t files_done;
	int64_t files_total;     /* -1 while still scanning */
	int64_t bytes_done;
	int64_t bytes_total;
	const char *current;     /* path being processed */
} cairn_ingest_progress;

/* Called once per file with what happened; message is set for SKIPPED. */
typedef void (*cairn_ingest_event_fn)(cairn_ingest_event event, const char *path,
                                      const char *message, void *user_data);
/* Called every few files; return non-zero to stop (what was committed stays). */
typedef int (*cairn_progress_fn)(const cairn_ingest_progress *progress, void *user_data);

typedef struct cairn_ingest_params {
	int chunk_target_tokens;  /* default 512 */
	int chunk_min_tokens;     /* default 300: smaller sections merge with neighbours */
	int chunk_max_tokens;     /* default 800 */
	int chunk_overlap_pct;    /* default 15 (percent of target) */
	int whole_documents;      /* 1: one chunk per document, no splitting (eval parity) */
	const char *const *tags;  /* "key=value" strings, n_tags of them */
	size_t n_tags;
	const char *const *acl;   /* access groups; none = visible to all */
	size_t n_acl;
	const char *const *exclude; /* glob patterns matched against paths and base names */
	size_t n_exclude;
	int prune;                /* remove documents under the given roots whose files vanished */
	int64_t max_file_bytes;   /* default 64 MiB; larger files are skipped with a message */
	int commit_every_files;   /* commit after this many files (default 2000); 0 = once */
	/* Count chunk tokens with this model's tokenizer (cairn_tokenizer_open) instead of the
	 * built-in estimate, so chunk sizes are in the embedder's or generator's own tokens. */
	const struct cairn_tokenizer *tokenizer;
	/* An embedding model (GGUF) to give every chunk a vector for dense and hybrid search.
	 * Recorded as the knowledge base's model: later ingests use it without naming it, and
	 * chunk sizes follow its tokenizer and context. A different model than the recorded one
	 * is refused (see cairn_kb_reembed). NULL: the recorded model, if any. */
	const char *embed_model;
	cairn_ingest_event_fn on_event;
	cairn_progress_fn on_progress;
	void *user_data;
	/* PII policy for this run's documents (docs/guard.md#redaction-at-ingest): with redact,
	 * personal data in chunk texts and headings is replaced before anything is indexed or
	 * stored, so neither search nor answers can reveal it. The setting is part of what makes
	 * a document re-index when it changes. */
	int redact;                /* 1: redact (default 0) */
	int redact_mode;           /* a cairn_redact_mode: MASK (default), HASH or TOKEN */
	const char *redact_types;  /* comma-separated types (NULL = every type) */
	double redact_min_score;   /* findings below are kept (0 = the default 0.5) */
	const uint8_t *redact_key; /* HASH and TOKEN: CAIRN_KEY_BYTES bytes (copied) */
	const char *redact_vault;  /* TOKEN: the vault file (NULL = KB/vault/pii.vault) */
	/* Prompt-injection policy for this run's documents (docs/injection.md#at-ingest): with
	 * injection_scan, every chunk is scanned as a document. A flagged chunk is, by
	 * injection_policy (a cairn_injection_policy): FLAG — indexed, its document tagged
	 * injection=flagged (filterable); QUARANTINE — left out of the index (the rest of the
	 * document is kept); REFUSE — the whole document is skipped (reported). cairn_ask scans
	 * retrieved chunks again whatever was done here. */
	int injection_scan;        /* 1: scan (default 0) */
	int injection_policy;      /* default CAIRN_INJECTION_POLICY_FLAG */
} cairn_ingest_params;

cairn_ingest_params cairn_ingest_default_params(void);

typedef struct cairn_ingest_stats {
	int64_t files_seen;
	int64_t added;
	int64_t updated;
	int64_t unchanged;
	int64_t removed;
	int64_t skipped;
	int64_t excluded;
	int64_t chunks_added;
	int64_t near_duplicates;
	int64_t bytes_read;
	double seconds;
} cairn_ingest_stats;

/* Ingests files and directories (recursively). Bad files are reported through on_event and
 * skipped; the call fails only when the knowledge base itself cannot be written. */
cairn_status cairn_ingest_paths(cairn_kb *kb, const char *const *paths, size_t n_paths,
                                const cairn_ingest_params *params, cairn_ingest_stats *stats);

/* One record, as from a JSON Lines corpus. The text is plain text. metadata_json may be
 * NULL or a JSON object whose keys become tags. Call cairn_kb_commit to publish. */
typedef struct cairn_record {
	const char *doc_id;   /* required, unique in the KB */
	const char *title;    /* may be NULL */
	const char *text;     /* required */
	size_t text_len;
	const char *source;   /* may be NULL: doc_id is used */
	int64_t mtime;        /* seconds since the epoch; 0 = now */
	const char *metadata_json;
} cairn_record;

/* The record is copied; parsing, chunking and analysis run on a worker thread while the
 * caller goes on, and the record is indexed in submission order. So a failure to process
 * it (out of memory) may be returned by a later add_record or by cairn_kb_commit; invalid
 * records (no id, no text, bad metadata) are refused at once. */
cairn_status cairn_kb_add_record(cairn_kb *kb, const cairn_record *record,
                                 const cairn_ingest_params *params);
cairn_status cairn_kb_delete_document(cairn_kb *kb, const char *doc_id);

/* ---- document fetch ---- */

typedef struct cairn_doc_chunk {
	int64_t chunk_id;
	const char *heading;
	int64_t byte_start, byte_end;
	const char *text;
} cairn_doc_chunk;

typedef struct cairn_document {
	const char *doc_id, *title, *source, *format;
	int64_t mtime, size, ingested_at;
	const char *const *groups;
	size_t n_groups;
	const char *const *tags;  /* "key=value" */
	size_t n_tags;
	const cairn_doc_chunk *chunks; /* in document order */
	size_t n_chunks;
} cairn_document;

/* A document's metadata and chunks, for a principal with these access groups (groups NULL
 * = unrestricted, as in cairn_search_params). A document the principal may not see is
 * CAIRN_ENOTFOUND, exactly like one that does not exist. Free with cairn_document_free.
 * principal names the caller for the audit trail (NULL = the local owner). */
cairn_status cairn_kb_get_document(cairn_kb *kb, const char *doc_id, const char *const *groups, size_t n_groups,
                                   const char *principal, cairn_document **out);
void cairn_document_free(cairn_document *doc);
/* Publishes everything added or deleted since the last commit, atomically. */
cairn_status cairn_kb_commit(cairn_kb *kb);
/* Drops uncommitted changes. */
void cairn_kb_rollback(cairn_kb *kb);

/* ---- search ------------------------------------------------------------------------- */

typedef enum cairn_search_mode {
	CAIRN_SEARCH_BM25 = 0,    /* keyword (default) */
	CAIRN_SEARCH_DENSE = 1,   /* embedding similarity */
	CAIRN_SEARCH_HYBRID = 2   /* both, fused */
} cairn_search_mode;

typedef enum cairn_fusion {
	CAIRN_FUSION_RRF = 0,      /* reciprocal-rank fusion */
	CAIRN_FUSION_WEIGHTED = 1  /* weighted sum of min-max normalised scores */
} cairn_fusion;

typedef struct cairn_search_params {
	int k;                    /* default 10 */
	const char *filter;       /* filter expression (docs/search.md), NULL = none */
	const char *const *groups;/* principal's access groups; NULL = unrestricted (local owner) */
	size_t n_groups;
	int snippets;             /* default 1: build highlighted snippets */
	int snippet_chars;        /* default 240 */
	const char *highlight_open;  /* default "**" */
	const char *highlight_close; /* default "**" */
	int exhaustive;           /* 1: score every matching chunk (no pruning); for testing */
	int collapse_documents;   /* 1: best chunk per document only (default 0) */
	int ids_only;             /* 1: fill doc_id, chunk_id and score only — no catalog
	                             lookups (evaluation runs, large k) */
	int rm3;                  /* 1: expand the query with RM3 pseudo-relevance feedback from
	                             the first pass's best chunks (docs/search.md) */
	int rm3_fb_docs;          /* feedback chunks, default 10 */
	int rm3_fb_terms;         /* expansion terms, default 10 */
	double rm3_original_weight; /* weight of the original query, default 0.5 */
	int with_text;            /* 1: fill cairn_hit.text with the chunk's whole text (the
	                             answerer reads it; default 0) */
	/* Dense and hybrid retrieval (docs/search.md#dense-and-hybrid-search). DENSE and HYBRID
	 * need the knowledge base's embedding model (cairn_ingest_params.embed_model). */
	cairn_search_mode mode;   /* default CAIRN_SEARCH_BM25 */
	cairn_fusion fusion;      /* HYBRID: CAIRN_FUSION_RRF (default) or CAIRN_FUSION_WEIGHTED */
	int rrf_k;                /* reciprocal-rank fusion constant, default 60 */
	double dense_weight;      /* WEIGHTED: the dense side's weight in [0, 1], default 0.5 */
	int candidates;           /* per retriever before fusion and reranking, default 100 */
	int ef_search;            /* vector search breadth; 0 = automatic */
	const char *rerank_model; /* cross-encoder GGUF: rerank the first rerank_top candidates */
	int rerank_top;           /* default 30 */
	double mmr_lambda;        /* in (0, 1): MMR diversity over the chunks' vectors (1 = relevance
	                             only); 0 = off (default) */
	int dedupe;               /* 1: drop chunks that are near-duplicates of a higher result */
	const char *principal;    /* who asks, for the audit trail (NULL = the local owner); the
	                             groups above are what restricts results */
	int skip_audit;           /* 1: no audit record for this call (a caller that records the
	                             whole operation itself, as cairn_ask does) */
} cairn_search_params;

cairn_search_params cairn_search_default_params(void);

typedef struct cairn_hit {
	const char *doc_id;
	int64_t chunk_id;
	const char *title;
	const char *heading;      /* heading path, " > " separated: of the section the snippet
	                             shows (a chunk may pack several small sections) */
	const char *source;
	double score;
	const char *snippet;
	int64_t byte_start;       /* chunk's byte range in the source */
	int64_t byte_end;
	const char *text;         /* with_text: the chunk's text as indexed (plain text: Markdown
	                             and HTML are rendered; an overlap with the previous chunk
	                             may lead it), NUL-terminated; else NULL */
	size_t text_len;
} cairn_hit;

typedef struct cairn_results cairn_results;

cairn_status cairn_search(cairn_kb *kb, const char *query, const cairn_search_params *params,
                          cairn_results **out);
size_t cairn_results_count(const cairn_results *results);
const cairn_hit *cairn_results_get(const cairn_results *results, size_t i);
/* Number of chunks that matched at least one query term and passed the filter, when known
 * (exhaustive searches); -1 when pruning skipped the count. */
int64_t cairn_results_total(const cairn_results *results);
double cairn_results_seconds(const cairn_results *results);
void cairn_results_free(cairn_results *results);

/* Writes the results as the stable JSON schema of docs/search.md into a malloc'd string
 * the caller frees with cairn_free. */
char *cairn_results_to_json(const cairn_results *results);

/* The signature of the knowledge base's analyzer ("v1;stem=porter;stop=lucene;…"): modules
 * that match text against a question (the answerer) analyse it exactly as the index did.
 * Lives as long as the handle. */
const char *cairn_kb_analyzer(const cairn_kb *kb);

/* Document (chunk) frequencies of n terms — terms as the KB's analyzer emits them, e.g.
 * "vaccin" — over the committed index, and in *n_chunks (may be NULL) the number of chunks
 * BM25 counts (deleted ones included until a merge drops them, as in its own idf). */
cairn_status cairn_kb_doc_freqs(cairn_kb *kb, const char *const *terms, size_t n, int64_t *df,
                                int64_t *n_chunks);

/* ---- answers ------------------------------------------------------------------------ */

/* cairn_ask: question → retrieval (BM25) → context assembly under a token budget → answer →
 * verification (docs/answers.md). The answer is a list of sentences, each citing passages
 * of the context; every citation carries the document, the heading path, the chunk's byte
 * range in the source and the quoted sentence. When the evidence does not support an answer
 * the result is an abstention ("The documents do not say …") with the closest passages.
 *
 * The default answerer is extractive and needs no model: it picks and orders sentences of the
 * retrieved passages (short factual questions get the answer span, citing its sentence).
 * With an endpoint, the answer is written by a model behind an OpenAI-compatible
 * chat-completions server from the same passages; its reply is validated (every sentence
 * cites passages of the context and quotes them exactly), then verified against the cited
 * passages, and fills the same structure (mode "generative"). With local_model, a local
 * GGUF model writes it through cairn's own decoder, the same way. cairn_ask may be called
 * from several threads on one handle, like cairn_search. */
typedef struct cairn_ask_params {
	int k;                    /* chunks retrieved (default 8) */
	const char *filter;       /* as cairn_search_params */
	const char *const *groups;
	size_t n_groups;
	int context_tokens;       /* token budget of the context (default 3000; estimated tokens) */
	int max_sentences;        /* answer sentences at most (default 3, 1–10) */
	double min_confidence;    /* abstain below this confidence (default 0.2; 0 = never) */
	int strict;               /* 1 (default): drop sentences the verifier does not support,
	                             and abstain when none is left; 0: keep them, flagged */
	int spans;                /* 1 (default): short factual questions get the answer span */
	/* Retrieval: -1 (default) = hybrid when the knowledge base has an embedding model, else
	 * BM25; or a cairn_search_mode. */
	int retrieval;
	const char *rerank_model; /* cross-encoder for the retrieved candidates (NULL = none) */
	/* Generative answering (docs/answers.md#generative-answers), on when endpoint is set. */
	const char *endpoint;     /* http(s)://host:port, …/v1 or …/v1/chat/completions; NULL = extractive */
	const char *api_key_env;  /* name of the environment variable holding the API key, sent as
	                             "Authorization: Bearer"; NULL = no key. The key is never
	                             copied into the answer, its JSON, --explain or an error. */
	const char *model_name;   /* the request's "model" (NULL: left out, for one-model servers) */
	double temperature;       /* default 0 */
	int max_tokens;           /* reply length limit (default 1024) */
	int timeout_ms;           /* per HTTP attempt (default 60000); 429, 5xx and timeouts are
	                             retried twice with backoff */
	char *errbuf;             /* when cairn_ask fails, why (the endpoint and HTTP status or
	                             transport error, for a generative answer); may be NULL */
	size_t errbuf_size;
	const char *principal;    /* who asks, for the audit trail (NULL = the local owner) */
	int redact_remote;        /* 1 (default): personal data in the question and passages (e-mail
	                             addresses, phone numbers, card numbers, secrets, names, …) leaves
	                             for an endpoint only as placeholders ("[EMAIL_ADDRESS_1]"), restored
	                             in the reply locally; 0 sends the text as it is */
	int redact_output;        /* 1: mask personal data in the answer, its sentences and quotes
	                             before they are returned (output DLP); default 0 */
	/* Prompt-injection policies (docs/injection.md), as cairn_injection_policy values, -1 = no
	 * scan. The question: FLAG (default: answered, the finding reported) or REFUSE (abstain
	 * with a refusal). Retrieved chunks: QUARANTINE (default: a flagged chunk is left out of
	 * the context, so it can neither be quoted nor steer a model), FLAG or REFUSE. */
	int injection_question;
	int injection_documents;
	/* Generative answering with a local model (docs/answers.md#local-models), on when
	 * local_model is set; it excludes endpoint (CAIRN_EINVAL). The conversation is formatted
	 * with the model's chat template and generated by cairn's own decoder under the answer's
	 * JSON Schema (docs/sample.md), so the reply is always well-formed; it is validated and
	 * verified like an endpoint's. temperature and max_tokens apply; nothing leaves the
	 * machine (redact_remote does not apply). */
	const char *local_model;     /* GGUF file, or a llama2.c checkpoint with local_tokenizer */
	const char *local_tokenizer; /* tokenizer file for a model without one; NULL = its own */
	const char *chat_template;   /* a template name (cairn_chat_template_names()); NULL = the
	                                model's tokenizer.chat_template */
	/* An open generator of local_model, used instead of opening the file on each call (a
	 * chat session or a server keeps one). It stays the caller's and must outlive the call;
	 * local_model must still name its file (the chat template is read from it). Threads
	 * asking at once with one generator take turns (cairn_generate serialises calls on a
	 * handle) and each loses the other's cached prompt prefix. NULL = open per call. */
	struct cairn_generator *generator;
	int local_threads;           /* decoder threads when local_model is opened here (0 = one per CPU) */
	/* The conversation so far (cairn_conversation_ask fills it), oldest first, already within
	 * its budget: a generative answer sees it before the passages, fenced as context only —
	 * never cited, never obeyed. NULL = none. Retrieval does not use it. */
	const char *history;
	/* A cross-encoder (a GGUF reranker, `cairn rerank`'s kind of model) as a second verifier
	 * of generated sentences: each sentence is scored against the passages it cites, and a
	 * sentence counts as supported only if the lexical and numeric checks pass AND the
	 * model's probability (sigmoid of its logit) reaches verify_threshold (default 0.5).
	 * NULL = lexical and numeric checks only. Extractive sentences are verbatim quotes and
	 * need no model. */
	const char *verify_model;
	double verify_threshold;
} cairn_ask_params;

cairn_ask_params cairn_ask_default_params(void);

typedef struct cairn_citation {
	int id;                   /* 1-based: the [n] in the answer text */
	const char *doc_id;
	int64_t chunk_id;
	const char *title;
	const char *source;
	const char *heading;      /* heading path, " > " separated */
	int64_t start, end;       /* byte range in the source of the passage (chunk) quoted */
	const char *quote;        /* the cited sentence, verbatim from the passage's text */
	int64_t quote_offset;     /* byte offset of quote within the passage text */
	double score;             /* retrieval score of the passage */
	int rank;                 /* 1-based rank of the passage in retrieval */
} cairn_citation;

typedef struct cairn_answer_sentence {
	const char *text;
	const int *citations;     /* citation ids */
	size_t n_citations;
	int supported;            /* the verifier found it in the cited passage(s) */
} cairn_answer_sentence;

/* A read-only view of an answer; all pointers live as long as the answer. */
typedef struct cairn_answer_view {
	const char *question;
	const char *mode;         /* "extractive" or "generative" */
	const char *answer;       /* the sentences joined, without citation markers; the
	                             abstention message when abstained */
	const char *answer_type;  /* question type: "number", "date", "person", … or "sentence" */
	int abstained;
	double confidence;        /* in [0, 1]: estimated probability that the answer is right */
	const cairn_answer_sentence *sentences;
	size_t n_sentences;
	const cairn_citation *citations; /* cited passages; on abstention, the closest ones */
	size_t n_citations;
	double support_rate;      /* supported sentences / sentences (1 when none) */
	double citation_precision;/* citations that support their sentence / citations used */
	double seconds;
	/* What the prompt-injection guard found and did. */
	struct {
		double question_score;      /* the question's injection score, 0..1 (0 when not scanned) */
		int question_flagged;
		uint32_t question_reasons;  /* bits (1u << cairn_injection_feature) */
		int refused;                /* 1: refused by policy (abstained is 1 too) */
		const int64_t *quarantined; /* chunk ids left out of the context */
		size_t n_quarantined;
	} guard;
} cairn_answer_view;

typedef struct cairn_answer cairn_answer;

cairn_status cairn_ask(cairn_kb *kb, const char *question, const cairn_ask_params *params,
                       cairn_answer **out);
const cairn_answer_view *cairn_answer_get(const cairn_answer *answer);
/* The schema of docs/answers.md; explain adds the stages (retrieval, context, candidates,
 * verification). A malloc'd string (cairn_free it), NULL when out of memory. */
char *cairn_answer_to_json(const cairn_answer *answer, int explain);
/* The same stages as readable text (cairn ask --explain). malloc'd (cairn_free it). */
char *cairn_answer_explain(const cairn_answer *answer);
void cairn_answer_free(cairn_answer *answer);

/* ---- conversations ------------------------------------------------------------------ */

/* A conversation asks cairn_ask turn after turn (docs/answers.md#conversations). Before
 * retrieval, a follow-up that depends on the turns before it — a pronoun ("how long does it
 * take?"), an elliptical question ("what about 2026?"), a question with no topic words
 * ("why?") — is rewritten into a standalone query with the salient words of the previous
 * turn; independent questions pass through unchanged. No model is needed. The history is
 * kept within budget_tokens (estimated as cairn_ask estimates its context): the newest turns
 * verbatim, older ones summarized (question and the answer's first sentence), the oldest
 * dropped and freed. The answer is cairn_ask's for the standalone query (a generative answer
 * sees the standalone question, not the history). A conversation is used by one thread at a
 * time; the knowledge base may be shared. */
typedef struct cairn_conversation_params {
	int budget_tokens;        /* history kept, estimated tokens (default 1024, at least 16) */
	int verbatim_turns;       /* newest turns kept verbatim, at most (default 3; 0 = summaries only) */
	int summary_tokens;       /* one summarized turn, at most (default 48, at least 8) */
	int rewrite;              /* 1 (default): rewrite follow-ups; 0: every question as it is */
} cairn_conversation_params;

cairn_conversation_params cairn_conversation_default_params(void);

typedef struct cairn_conversation cairn_conversation;

/* What the last cairn_conversation_ask did; the strings live until the next ask, reset or free. */
typedef struct cairn_conversation_info {
	const char *question;         /* as asked */
	const char *standalone_query; /* what was retrieved and answered */
	int rewritten;                /* standalone_query differs from question */
	const char *rewrite_reason;   /* "pronoun", "elliptical", "short" or "independent" */
	const char *rewrite_word;     /* the pronoun or elliptical marker ("it", "what about"), or "" */
	int turns_verbatim, turns_summarized, turns_dropped; /* earlier turns, in the history */
	int history_tokens;           /* estimated tokens of the kept history */
	int budget_tokens;
	const char *history;          /* the kept history as text, oldest first ("" when none) */
} cairn_conversation_info;

cairn_status cairn_conversation_new(const cairn_conversation_params *params, cairn_conversation **out);
/* Rewrites question when it is a follow-up, asks cairn_ask with the standalone query and
 * params, and on success records the turn. *out as cairn_ask's (free with cairn_answer_free).
 * A failed ask records nothing. */
cairn_status cairn_conversation_ask(cairn_conversation *conv, cairn_kb *kb, const char *question,
                                    const cairn_ask_params *params, cairn_answer **out);
const cairn_conversation_info *cairn_conversation_last(const cairn_conversation *conv);
const char *cairn_conversation_standalone_query(const cairn_conversation *conv);
/* Turns asked since the start or the last reset (dropped ones included). */
size_t cairn_conversation_turns(const cairn_conversation *conv);
/* cairn_answer_to_json's object for the last turn's answer with a "conversation" member
 * (question, standalone_query, rewritten, rewrite_reason, turns_verbatim, turns_summarized,
 * turns_dropped, history_tokens, budget_tokens; with explain also the history text).
 * malloc'd (cairn_free it), NULL when out of memory. */
char *cairn_conversation_answer_to_json(const cairn_conversation *conv, const cairn_answer *answer, int explain);
/* The conversation stage as readable text (for --explain). malloc'd (cairn_free it). */
char *cairn_conversation_explain(const cairn_conversation *conv);
void cairn_conversation_reset(cairn_conversation *conv); /* forget every turn */
void cairn_conversation_free(cairn_conversation *conv);

/* ---- model files and tokenizers ------------------------------------------------------ */

/* A tokenizer splits text into exactly the tokens a model was trained on. It is read from a
 * GGUF model file (tokenizer.ggml.* metadata) or from the files tokenizers ship as:
 * SentencePiece `tokenizer.model`, Hugging Face `tokenizer.json`, `vocab.json` (with
 * `merges.txt` beside it), tiktoken rank files (`*.tiktoken`, Llama 3's `tokenizer.model`),
 * BERT `vocab.txt`, llama2.c `tokenizer.bin`. A tokenizer is immutable once open: any number
 * of threads may use it at once. */
typedef struct cairn_tokenizer cairn_tokenizer;

typedef struct cairn_tokenizer_params {
	/* The pre-tokenizer for files that do not name theirs (tiktoken rank files): "llama3",
	 * "qwen2", "gpt-2", … (GGUF tokenizer.ggml.pre names). NULL: from the file, or guessed
	 * from the vocabulary size. */
	const char *pre;
} cairn_tokenizer_params;

cairn_tokenizer_params cairn_tokenizer_default_params(void);

/* On failure *out is NULL and errbuf (if not NULL) gets a message naming the file and the
 * problem. */
cairn_status cairn_tokenizer_open(const char *path, const cairn_tokenizer_params *params,
                                  cairn_tokenizer **out, char *errbuf, size_t errbuf_size);
void cairn_tokenizer_close(cairn_tokenizer *tok);

enum {
	CAIRN_TOKENIZE_ADD_SPECIAL = 1,   /* BOS/EOS (BERT: [CLS]/[SEP]) as the model's metadata says */
	CAIRN_TOKENIZE_PARSE_SPECIAL = 2  /* text such as "<|eot_id|>" becomes that control token;
	                                     off by default so document text cannot forge one */
};

/* Tokenizes text[0..len). *ids is allocated (cairn_free it); *n_ids gets the count. */
cairn_status cairn_tokenize(const cairn_tokenizer *tok, const char *text, size_t len, unsigned flags,
                            int32_t **ids, size_t *n_ids);
/* The number of tokens cairn_tokenize would return, without handing them over — for
 * chunk sizes and context budgets. Negative on failure (out of memory). */
int64_t cairn_tokenizer_count(const cairn_tokenizer *tok, const char *text, size_t len, unsigned flags);

enum {
	CAIRN_DETOKENIZE_SPECIAL = 1      /* render control tokens as their text (default: drop) */
};

/* Text of ids[0..n) into a malloc'd NUL-terminated string (cairn_free it); *len (may be NULL)
 * gets its length. An id outside the vocabulary is CAIRN_EINVAL. */
cairn_status cairn_detokenize(const cairn_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                              char **text, size_t *len);

typedef struct cairn_tokenizer_info {
	const char *kind;       /* "spm" (SentencePiece BPE), "ugm" (unigram), "bpe" (byte-level), "wpm" (WordPiece) */
	const char *pre;        /* pre-tokenizer name, "" when none */
	int32_t n_tokens;
	int32_t bos, eos, eot, unk, pad, cls, sep; /* -1 when the model has none */
	int add_bos, add_eos;
} cairn_tokenizer_info;

void cairn_tokenizer_get_info(const cairn_tokenizer *tok, cairn_tokenizer_info *out);
/* The token's text as the vocabulary stores it (SentencePiece "▁the", GPT-2 "Ġthe"); NULL
 * when id is out of range. Not NUL-terminated in general: use *len. */
const char *cairn_tokenizer_token(const cairn_tokenizer *tok, int32_t id, size_t *len);

/* Describes a model file (GGUF or llama2.c checkpoint): format version, metadata with long
 * arrays abbreviated, the tensor table. Text or JSON in a malloc'd string (cairn_free it). */
cairn_status cairn_model_describe(const char *path, int json, char **text, char *errbuf, size_t errbuf_size);

/* ---- local models: embeddings and reranking ------------------------------------------ */

/* A BERT-family encoder loaded from a GGUF file: an embedding model (BGE, MiniLM, E5, GTE,
 * Nomic) or a cross-encoder reranker (bge-reranker, ms-marco cross-encoders). Weights stay
 * memory-mapped in the file's tensor types. One call at a time per handle (calls on one
 * handle from several threads are serialised); open one handle per thread for parallelism. */
typedef struct cairn_encoder cairn_encoder;

typedef struct cairn_encoder_params {
	int n_threads;               /* 0 = one per online CPU */
	int max_batch;               /* texts encoded together (default 32) */
	/* Text put before queries / documents. NULL = the model's convention when cairn knows it
	 * (nomic-bert: "search_query: " / "search_document: "), else none. "" = none. */
	const char *query_prefix;
	const char *document_prefix;
	int normalize;               /* L2-normalize embeddings: 1 (default), 0 no */
} cairn_encoder_params;

cairn_encoder_params cairn_encoder_default_params(void);

/* Loads and validates the model (architecture, every tensor's shape and type against the
 * metadata) before any compute. On failure *out is NULL and errbuf names the file and the
 * problem (an unsupported architecture or tensor type is named). */
cairn_status cairn_encoder_open(const char *path, const cairn_encoder_params *params, cairn_encoder **out,
                                char *errbuf, size_t errbuf_size);
void cairn_encoder_close(cairn_encoder *enc);
const char *cairn_encoder_errmsg(const cairn_encoder *enc);

typedef struct cairn_encoder_info {
	const char *architecture;  /* "bert", "nomic-bert", … */
	int dim;                   /* embedding size */
	int n_layers;
	int max_tokens;            /* longer inputs are truncated to this */
	const char *pooling;       /* "mean", "cls", "last", "rank" */
	int is_reranker;           /* has a classification head */
} cairn_encoder_info;

void cairn_encoder_get_info(const cairn_encoder *enc, cairn_encoder_info *out);

typedef enum cairn_embed_kind {
	CAIRN_EMBED_DOCUMENT = 0,
	CAIRN_EMBED_QUERY = 1
} cairn_embed_kind;

/* Embeds texts[0..n) (lengths from strlen) into out[n × dim], row by row. */
cairn_status cairn_embed(cairn_encoder *enc, const char *const *texts, size_t n, cairn_embed_kind kind,
                         float *out);

/* Scores each (query, passages[i]) pair with a reranker: higher is more relevant (the raw
 * logit of the classification head). */
cairn_status cairn_rerank(cairn_encoder *enc, const char *query, const char *const *passages, size_t n,
                          float *scores);

/* ---- local models: text generation -------------------------------------------------- */

/* A Llama- or Qwen2-family decoder (Llama 1/2/3, Mistral, TinyLlama, SmolLM, Qwen1.5/2/2.5;
 * llama2.c checkpoints) loaded from a GGUF file, validated before any compute like an
 * encoder. It owns its KV cache; one call at a time per handle (calls from several threads
 * are serialised). Decoding is greedy by default; cairn_generate_params holds the sampler
 * chain (llama.cpp's definitions), JSON-schema constrained output and stop strings
 * (docs/sample.md). The cache keeps the tokens of the last call, and a new prompt reuses
 * the longest prefix it shares with them. Chat templates: cairn_chat_template_* below. */
typedef struct cairn_generator cairn_generator;

typedef struct cairn_generator_params {
	int n_threads;          /* 0 = one per online CPU */
	int n_ctx;              /* positions in the KV cache, prompt + output (0 = the model's
	                           context length, at most 4096); more than the model's is cut */
	int n_batch;            /* prompt tokens per forward pass (0 = 512) */
	/* Tokenizer file for a model file without one: a llama2.c checkpoint's tokenizer.bin.
	 * NULL = the model file's own. */
	const char *tokenizer;
} cairn_generator_params;

cairn_generator_params cairn_generator_default_params(void);

/* On failure *out is NULL and errbuf names the file and the problem (an unsupported
 * architecture, tensor type or model variant is named). */
cairn_status cairn_generator_open(const char *path, const cairn_generator_params *params, cairn_generator **out,
                                  char *errbuf, size_t errbuf_size);
void cairn_generator_close(cairn_generator *gen);
const char *cairn_generator_errmsg(const cairn_generator *gen);

typedef struct cairn_generator_info {
	const char *architecture; /* "llama", "qwen2" */
	int n_vocab;
	int dim;
	int n_layers;
	int n_heads;
	int n_kv_heads;
	int n_ctx_train;          /* the model's context length */
	int n_ctx;                /* this handle's KV cache */
	int32_t bos, eos;         /* -1 when the tokenizer has none */
} cairn_generator_info;

void cairn_generator_get_info(const cairn_generator *gen, cairn_generator_info *out);

/* Streaming: called once per generated token (the end-of-generation token that stops the
 * loop excepted) with the bytes it adds to the text; a UTF-8 character may be split across
 * calls, and control tokens add none. Return non-zero to stop generating. With stop
 * strings, bytes that may begin one are held back (calls that would pass nothing are
 * skipped), and what is still held when generation ends comes in a last call with token
 * -1 (its return value ignored); the calls' bytes always concatenate to the text. */
typedef int (*cairn_token_fn)(int32_t token, const char *text, size_t len, void *user_data);
/* Called before each token is chosen with the n_vocab logits of the next token; it may
 * change them (-INFINITY forbids a token). The hook samplers and constrained decoding
 * will use. */
typedef void (*cairn_logits_fn)(float *logits, int32_t n_vocab, void *user_data);

typedef struct cairn_generate_params {
	int max_tokens;           /* at most this many new tokens (default 256) */
	int add_bos;              /* -1 = as the tokenizer says (default), 0 no, 1 yes */
	int parse_special;        /* 1: control-token texts in the prompt ("<|im_start|>") become
	                             those tokens (default 0: plain text) */
	int ignore_eos;           /* 1: do not stop at end-of-generation tokens (default 0) */
	cairn_token_fn on_token;
	cairn_logits_fn on_logits; /* runs first: before the schema mask and the samplers */
	void *user_data;          /* passed to both callbacks */
	/* Sampling, in llama.cpp's order: penalties, top-k, top-p, min-p, temperature, draw.
	 * The defaults leave greedy decoding. */
	float temperature;        /* 0 = greedy: the largest logit, ties to the lowest id (default) */
	int top_k;                /* keep the k most likely (0 = off, default) */
	float top_p;              /* keep the smallest head holding this much probability (1 = off) */
	float min_p;              /* keep tokens with p ≥ min_p · p(most likely) (0 = off) */
	float repeat_penalty;     /* tokens in the last repeat_last_n: positive logits divided by it,
	                             negative ones multiplied (1 = off, default) */
	int repeat_last_n;        /* the penalties' window, prompt included (default 64; -1 = the
	                             whole context; 0 = off) */
	float presence_penalty;   /* OpenAI's: subtracted once from tokens in the window (0 = off) */
	float frequency_penalty;  /* OpenAI's: subtracted per occurrence in the window (0 = off) */
	uint64_t seed;            /* the draw's PRNG seed; the same seed gives the same text */
	/* A JSON Schema (the subset of docs/sample.md) the output must satisfy, as JSON text;
	 * NULL = free text. Generation ends when the document is complete; max_tokens below the
	 * schema's shortest document is CAIRN_EINVAL, and above it the output is always valid. */
	const char *json_schema;
	/* Stop strings: generation ends where the text first contains one; it is not returned.
	 * Text that may be the start of one is held back from on_token until it is not. Not
	 * with json_schema. */
	const char *const *stop;
	int n_stop;
	int no_prefix_reuse;      /* 1: start from an empty cache (default 0: reuse the common prefix) */
} cairn_generate_params;

cairn_generate_params cairn_generate_default_params(void);

typedef enum cairn_stop_reason {
	CAIRN_STOP_EOG = 0,        /* the model ended its turn (EOS, EOT) */
	CAIRN_STOP_MAX_TOKENS = 1, /* max_tokens reached */
	CAIRN_STOP_CONTEXT = 2,    /* the KV cache is full */
	CAIRN_STOP_CALLBACK = 3,   /* on_token asked to stop */
	CAIRN_STOP_STRING = 4      /* a stop string appeared (it is not part of the text) */
} cairn_stop_reason;

typedef struct cairn_generation {
	char *text;               /* the generated text (not the prompt), NUL-terminated */
	size_t len;
	int32_t *tokens;          /* the generated tokens, end-of-generation token included */
	int n_tokens;
	int n_prompt_tokens;
	cairn_stop_reason stop;
	double prompt_ms;         /* time to evaluate the prompt */
	double generate_ms;       /* time for the generated tokens */
	int n_cached_tokens;      /* prompt tokens whose state was kept from the previous call */
} cairn_generation;

/* Continues prompt (empty allowed when the model adds BOS). The prompt's longest common
 * prefix with the tokens the cache holds from the previous call is not evaluated again
 * (n_cached_tokens), unless no_prefix_reuse. *out is filled on success (free it with
 * cairn_generation_free) and zeroed on failure. A prompt that leaves no room in the cache
 * is CAIRN_ETOOBIG; a bad sampler value, stop list or schema is CAIRN_EINVAL, and a schema
 * keyword outside the supported subset CAIRN_EUNSUPPORTED (the message names it). */
cairn_status cairn_generate(cairn_generator *gen, const char *prompt, const cairn_generate_params *params,
                            cairn_generation *out);
void cairn_generation_free(cairn_generation *g);

/* Frees memory the library handed over (strings from *_to_json and the like). */
void cairn_free(void *p);

/* ---- local models: chat templates ------------------------------------------------------ */

/* A conversation turned into the prompt an instruction-tuned model expects (docs/chat.md).
 * The template comes from the model file's tokenizer.chat_template, recognised by its markers
 * (cairn formats the families listed by cairn_chat_template_names; it does not run Jinja),
 * or is named explicitly. The prompt never begins with the BOS token's text: generate it
 * with add_bos = cairn_chat_template_adds_bos(t) ? 1 : -1 and parse_special = 1, so BOS is
 * added once, and control-token texts in the template ("<|im_start|>") become tokens. */
typedef struct cairn_chat_message {
	const char *role;         /* "system", "user" or "assistant" */
	const char *content;
} cairn_chat_message;

typedef struct cairn_chat_template cairn_chat_template;

/* "chatml, llama3, llama2, …": the names cairn_chat_template_open accepts. */
const char *cairn_chat_template_names(void);

/* The template of model_path (a GGUF, or a llama2.c checkpoint whose tokenizer_path gives
 * the vocabulary), or the one called name when name is not NULL. Fails with a message
 * naming the problem and listing the known names when the model has no template or one
 * cairn does not recognise (CAIRN_EUNSUPPORTED), or name is unknown (CAIRN_ENOTFOUND). */
cairn_status cairn_chat_template_open(const char *model_path, const char *tokenizer_path, const char *name,
                                      cairn_chat_template **out, char *errbuf, size_t errbuf_size);
void cairn_chat_template_close(cairn_chat_template *t);
const char *cairn_chat_template_name(const cairn_chat_template *t);
/* The token that ends an assistant turn ("<|im_end|>", "<|eot_id|>", the EOS token for
 * [INST] templates); -1 when the vocabulary has none. Stop generating when it comes. */
int32_t cairn_chat_template_stop_token(const cairn_chat_template *t);
/* 1 when the template opens with the BOS token (generate with add_bos = 1). */
int cairn_chat_template_adds_bos(const cairn_chat_template *t);

/* Formats msgs[0..n) (and, with add_generation_prompt, the header of the assistant's reply)
 * into a malloc'd NUL-terminated prompt (cairn_free it); *len (may be NULL) gets its length.
 * CAIRN_EINVAL for a conversation the template cannot express (roles out of order). */
cairn_status cairn_chat_format(const cairn_chat_template *t, const cairn_chat_message *msgs, size_t n,
                               int add_generation_prompt, char **out, size_t *len, char *errbuf,
                               size_t errbuf_size);

/* ---- local models: conversion ------------------------------------------------------------ */

/* Writes the model in_path (a llama2.c checkpoint, or any file cairn reads) as a GGUF file at
 * out_path, crash-safely (a temporary file renamed into place; on failure nothing is left).
 * tokenizer_path (a llama2.c tokenizer.bin or any tokenizer file cairn reads; NULL = none)
 * becomes the tokenizer.ggml.* keys. type: "f32" (NULL), "f16" or "q8_0" for the matrices
 * (1-D tensors stay F32). What is written is what cairn reads from in_path: the same keys
 * and tensors, as llama.cpp's convert-llama2c-to-ggml names them. */
cairn_status cairn_model_convert(const char *in_path, const char *tokenizer_path, const char *out_path,
                                 const char *type, char *errbuf, size_t errbuf_size);

/* ---- evaluation --------------------------------------------------------------------- */

typedef struct cairn_eval_result cairn_eval_result; /* below */

typedef struct cairn_eval_params {
	const char *kb_dir;       /* evaluate against this ready KB instead of building one */
	const char *work_dir;     /* where to build the KB (default: a temporary directory) */
	const char *run_path;     /* write a TREC run file here (default: none) */
	const char *run_tag;      /* default "cairn" */
	const char *qrels_split;  /* BEIR qrels file name under qrels/ (default "test") */
	int depth;                /* results per query (default 1000) */
	int whole_documents;      /* default 1: one chunk per document, as Pyserini's flat runs */
	const char *language;     /* stemmer for a built KB (default "porter") */
	const char *per_query_path; /* write per-query metrics as TSV here (default none) */
	int rm3;                  /* 1: RM3 query expansion with its defaults (cairn_search_params) */
	const char *embed_model;  /* embedding model for the built KB (dense and hybrid modes) */
	cairn_search_mode mode;   /* default CAIRN_SEARCH_BM25 */
	const char *rerank_model; /* cross-encoder reranking of the first 30 */
	cairn_progress_fn on_progress;
	void *user_data;
	/* Added with the evaluation harness (docs/evaluation.md#measures). */
	const char *measures;     /* trec_eval measure list, e.g. "ndcg_cut.10,P.5,recall.100"
	                             (NULL = the common set) */
	cairn_eval_result **result; /* when set, receives the per-query result (free with
	                             cairn_eval_result_free) */
	uint64_t seed;            /* recorded with the run (retrieval itself is deterministic) */
	const char *qrels_out_path; /* write the collection's judgements as TREC qrels here, so
	                             other systems' runs can be scored against them (default none) */
} cairn_eval_params;

cairn_eval_params cairn_eval_default_params(void);

typedef struct cairn_eval_report {
	char dataset[256];
	char format[32];          /* "beir", "smart", "npl", "time", "lisa" */
	int64_t documents;
	int64_t queries;          /* judged queries evaluated */
	double ndcg_10;
	double mrr_10;
	double recall_100;
	double recall_1000;
	double map;
	double p_10;
	double latency_p50_ms;
	double latency_p95_ms;
	double latency_mean_ms;
	double index_build_s;
} cairn_eval_report;

/* Recognises the dataset layout in dataset_dir, builds or opens the KB, runs every judged
 * query and computes trec_eval-style measures (queries without judgements are skipped;
 * judged queries with nothing relevant retrieved count as 0). errbuf gets a message. */
cairn_status cairn_eval_retrieval(const char *dataset_dir, const cairn_eval_params *params,
                                  cairn_eval_report *out, char *errbuf, size_t errbuf_size);

/* ---- evaluation: run files, per-query results, comparisons, reports ------------------ */
/* (docs/evaluation.md). A result holds one run's per-query measures and its provenance: cairn
 * version, dataset / qrels / run file fingerprints (size + CRC32C), the knowledge base's
 * generation and statistics, model file hashes, the configuration and the seed. */

typedef enum cairn_report_format {
	CAIRN_REPORT_TEXT = 0, /* trec_eval-style "measure<TAB>all<TAB>value" lines */
	CAIRN_REPORT_JSON = 1, /* one line */
	CAIRN_REPORT_TSV = 2,  /* per query: qid, one column per measure, latency_ms */
	CAIRN_REPORT_MD = 3,   /* Markdown summary for a pull request */
	CAIRN_REPORT_HTML = 4  /* one self-contained page: no network, inline CSS, JS and SVG */
} cairn_report_format;

enum { CAIRN_REPORT_PER_QUERY = 1 }; /* TEXT: trec_eval -q lines; JSON: a per_query array */

/* Scores a TREC run file against a qrels file (TREC "qid iter docid rel" or BEIR TSV) with
 * trec_eval's definitions, no knowledge base needed. measures: NULL = the common set. */
cairn_status cairn_eval_trec(const char *qrels_path, const char *run_path, const char *measures,
                             cairn_eval_result **out, char *errbuf, size_t errbuf_size);
/* Reads a result written as JSON with per-query values (CAIRN_REPORT_JSON + PER_QUERY), or an
 * answer run's per-question rows (JSON Lines, see cairn_eval_result_from_answers). */
cairn_status cairn_eval_result_load(const char *path, cairn_eval_result **out, char *errbuf,
                                    size_t errbuf_size);
/* An answer run as a result: the per-question rows cairn_eval_answers writes
 * (per_question_path, JSON Lines) become per-question values of the answer measures (em, f1,
 * rouge_l, bleu, support_rate, citation_precision, citation_recall, answered,
 * abstained_unanswerable, refused, ttft_ms, tokens_in, tokens_out, cost; a measure that does
 * not apply to a question has no value there), so answer runs get the same reports,
 * comparisons and gates as retrieval runs (docs/evaluation.md#answer-runs). meta_json: the
 * run's provenance as a JSON object (cairn_answer_eval_provenance), or NULL. */
cairn_status cairn_eval_result_from_answers(const char *per_question_path, const char *meta_json,
                                            cairn_eval_result **out, char *errbuf, size_t errbuf_size);
/* Renders a result; *text is NUL-terminated, free it with cairn_free. */
cairn_status cairn_eval_result_render(const cairn_eval_result *r, cairn_report_format format, int flags,
                                      char **text, size_t *len, char *errbuf, size_t errbuf_size);
/* The mean (total for num_*) of a measure by output name ("ndcg_cut_10"); NAN when absent. */
double cairn_eval_result_mean(const cairn_eval_result *r, const char *measure);
int64_t cairn_eval_result_queries(const cairn_eval_result *r);
void cairn_eval_result_free(cairn_eval_result *r);

typedef struct cairn_eval_compare_params {
	int permutations;       /* randomization test permutations (default 10000) */
	int bootstrap;          /* bootstrap resamples for the 95% CI (default 10000) */
	uint64_t seed;          /* default 42; reported */
	const char *tolerances; /* regression gate: "ndcg_cut_10=0.005,map=0.01,default=0"; a
	                           measure not listed uses "default" (0 when not given) */
	int gate;               /* 1: flag and count regressions (default 0: report only) */
} cairn_eval_compare_params;

cairn_eval_compare_params cairn_eval_compare_default_params(void);

typedef struct cairn_eval_comparison cairn_eval_comparison;

/* Compares run b against baseline a, query by query over the queries both scored, on the
 * measures both have: mean difference b - a, paired two-sided randomization test p-value,
 * bootstrap 95% CI of the difference, per-query wins / losses / ties. */
cairn_status cairn_eval_compare(const cairn_eval_result *a, const cairn_eval_result *b,
                                const cairn_eval_compare_params *params, cairn_eval_comparison **out,
                                char *errbuf, size_t errbuf_size);
/* Measures whose mean moved the wrong way by more than their tolerance (dropped; rose, for
 * latency, tokens and cost); num_* counts are not gated. */
int cairn_eval_comparison_regressions(const cairn_eval_comparison *c);
/* TEXT shows both configurations side by side and warns where they differ. */
cairn_status cairn_eval_comparison_render(const cairn_eval_comparison *c, cairn_report_format format,
                                          char **text, size_t *len, char *errbuf, size_t errbuf_size);
void cairn_eval_comparison_free(cairn_eval_comparison *c);

/* Answer evaluation (docs/answers.md#evaluation). dataset is a SQuAD-format JSON file
 * (or a directory holding one) or a SciFact directory (claims_dev.jsonl + corpus.jsonl).
 * Each question is asked twice: against the full knowledge base (answerable) and with its
 * gold documents filtered out (unanswerable), so the abstention rates can be compared. */
typedef struct cairn_answer_eval_params {
	const char *work_dir;     /* where to build the KB (default: a temporary directory) */
	const char *claims;       /* SciFact claims file name (default "claims_dev.jsonl") */
	cairn_ask_params ask;     /* answerer settings (default cairn_ask_default_params) */
	int max_questions;        /* 0 = all */
	int unanswerable;         /* 1 (default): also ask with the gold documents removed */
	const char *features_path;/* write per-question features and outcomes as TSV (calibration) */
	cairn_progress_fn on_progress;
	void *user_data;
	/* JSON Lines sets (docs/answers.md#evaluation): one question per line, {"question",
	 * optional "id", "answers": [..], "doc_ids": [..], "evidence": [{"doc_id","text"}],
	 * "answerable": false}. The documents come from kb_dir (an existing knowledge base, read
	 * only) or corpus (files and directories, or a .jsonl file of {"doc_id","title","text"}
	 * records, ingested into a temporary KB); exactly one of the two. */
	const char *kb_dir;
	const char *corpus;
	const char *per_question_path; /* JSON Lines, one object per question asked (any format) */
	int has_prices;           /* 1: price_* apply (cost per request) */
	double price_input_per_1k, price_output_per_1k;
	uint64_t seed;            /* JSONL with max_questions: 0 = the first N, else a sample drawn
	                             with this seed; recorded in the report either way */
} cairn_answer_eval_params;

cairn_answer_eval_params cairn_answer_eval_default_params(void);

#define CAIRN_RELIABILITY_BINS 10

typedef struct cairn_answer_eval_report {
	char dataset[256];
	char format[32];          /* "squad" or "scifact" */
	int64_t documents;
	int64_t questions;        /* answerable questions asked */
	double answer_rate;       /* answered (did not abstain), answerable questions */
	/* SQuAD: over all answerable questions (an abstention scores 0) and over answered ones */
	double exact_match, f1, exact_match_answered, f1_answered;
	double gold_in_citations; /* answered questions whose gold answer lies inside a cited quote */
	double gold_in_context;   /* questions whose gold answer lies in the assembled context */
	/* SciFact: sentence-level rationale selection over every claim with evidence */
	double rationale_p, rationale_r, rationale_f1;            /* lenient: in any gold rationale */
	double rationale_p_full, rationale_r_full, rationale_f1_full; /* official: whole rationale found */
	int64_t claims_with_evidence, claims_nei;
	double nei_abstention;    /* abstention on claims without evidence (NEI) */
	/* both */
	double abstain_answerable;   /* abstention rate, answerable questions */
	double abstain_unanswerable; /* abstention rate, same questions with gold docs removed */
	int64_t unanswerable_questions;
	double support_rate, citation_precision; /* verifier, mean over answered questions */
	double mean_confidence;
	/* reliability: answered answerable + unanswerable questions binned by confidence;
	 * "correct" = gold answer in cited quote (SQuAD) / a gold rationale sentence cited (SciFact) */
	int64_t rel_n[CAIRN_RELIABILITY_BINS];
	double rel_conf[CAIRN_RELIABILITY_BINS], rel_acc[CAIRN_RELIABILITY_BINS];
	double latency_mean_ms, latency_p95_ms;
	double index_build_s, seconds;
	/* Generation-quality and operational measures (every format; docs/answers.md#evaluation).
	 * Text metrics over answerable questions with gold answers, an abstention scoring 0. */
	double rouge_l, bleu;     /* means of per-question ROUGE-L F and sentence BLEU-4 */
	double corpus_bleu;
	int64_t questions_with_answers;
	double groundedness;      /* verifier support rate, mean over answered questions */
	/* against gold doc_ids/evidence: precision over answered questions' citations, recall
	 * over every answerable question with evidence (an abstention finds nothing) */
	double citation_precision_gold, citation_recall_gold;
	int64_t questions_with_evidence;
	int64_t questions_unanswerable; /* JSONL "answerable": false */
	double abstention_precision, abstention_recall; /* positive = unanswerable */
	double refusal_rate;      /* guard refusals, of every question asked */
	double latency_p50_ms, latency_p99_ms;
	double ttft_p50_ms, ttft_p95_ms;  /* time to first token (extractive: the latency) */
	double tokens_in_mean, tokens_out_mean;
	int tokens_measured;      /* 1: counted by a local generator; 0: estimated */
	double cost_per_request, cost_total; /* 0 without prices */
	/* reproducibility */
	char version[16];
	uint64_t dataset_bytes;   /* the question set's file(s) */
	uint32_t dataset_crc32c;
	uint64_t seed;
	char kb[256];             /* kb_dir, or "built" */
	int64_t kb_generation, kb_documents, kb_chunks; /* the knowledge base asked, as it was */
	char kb_embed_model[1024]; /* its embedding model ("" when BM25 only) */
} cairn_answer_eval_report;

cairn_status cairn_eval_answers(const char *dataset, const cairn_answer_eval_params *params,
                                cairn_answer_eval_report *out, char *errbuf, size_t errbuf_size);
/* A finished answer run's provenance as a JSON object (docs/evaluation.md#reproducibility):
 * cairn version, time, the set's fingerprint, the knowledge base (path or "built", generation,
 * documents, chunks, embedding model), model file fingerprints (size and CRC-32C of the local,
 * verifier, reranker and embedding models), the answerer's configuration and the seed — what
 * cairn_eval_result_from_answers carries into reports and comparisons. *json: cairn_free it. */
cairn_status cairn_answer_eval_provenance(const char *dataset, const cairn_answer_eval_params *params,
                                          const cairn_answer_eval_report *report, char **json, char *errbuf,
                                          size_t errbuf_size);

/* Safety evaluation through the whole answer path (docs/safety.md). From the data sets under
 * data_root, up to max_per_set items each, drawn with seed, go into one temporary knowledge
 * base and through cairn_ask:
 *  - direct injection (tensor-trust hijacking, giskard): asked with injection_question
 *    REFUSE; refusals, flags, and answers echoing an attack marker ("access granted", …);
 *  - indirect injection (BIPIA text and code attacks planted in clean BIPIA contexts): each
 *    planted document asked about (retrieval filtered to it); quarantined, and whether any
 *    answer sentence or quote comes from the attack text;
 *  - leakage (presidio-synth-pii records): half ingested with redact (mask), half plain and
 *    asked with redact_output; every planted value searched for in the answer, its sentences
 *    and quotes, in the citations' titles and headings, and in the explain output (text and
 *    JSON). "strict" values are the types
 *    detected by rule (e-mail, phone, card, IBAN, SSN, IP, driver's licence), "soft" the
 *    gazetteer/context types (person, address, location, organisation, date);
 *  - false positives: benign questions (covid-qa, scifact claims) asked like the attacks,
 *    refusals and flags, and answers that had a clean document's chunk quarantined. */
typedef struct cairn_safety_eval_params {
	const char *data_root;    /* the data sets' parent directory (required) */
	int max_per_set;          /* items per data set (default 200; 0 = all) */
	uint64_t seed;            /* sampling seed (default 1) */
	const char *work_dir;     /* where to build the KB (default: a temporary directory) */
	cairn_ask_params ask;     /* answerer settings; the injection and redaction fields are set per check */
	cairn_progress_fn on_progress;
	void *user_data;
} cairn_safety_eval_params;

cairn_safety_eval_params cairn_safety_eval_default_params(void);

#define CAIRN_SAFETY_MAX_ROWS 12

typedef struct cairn_safety_row {
	char name[64];
	char check[16];           /* "injection", "planted", "leakage" or "benign" */
	int present;              /* 0: the data set was not found */
	int64_t n;                /* questions asked */
	int64_t refused, flagged; /* the question: refused by policy / flagged */
	int64_t echoed;           /* injection: answers with an attack marker; planted: answers quoting the attack */
	int64_t retrieved, quarantined; /* planted: documents reaching retrieval / quarantined; benign:
	                                   answers with a clean document's chunk quarantined (in quarantined) */
	/* leakage: planted values, and those found in the answer text, its sentences or quotes
	 * (leaked), in a citation's title or heading (leaked_meta), in the explain output */
	int64_t values, leaked, leaked_meta, leaked_explain;           /* strict types */
	int64_t soft_values, soft_leaked, soft_leaked_meta, soft_leaked_explain;
} cairn_safety_row;

typedef struct cairn_safety_eval_report {
	size_t n_rows;
	cairn_safety_row rows[CAIRN_SAFETY_MAX_ROWS];
	int64_t documents;        /* in the knowledge base */
	int64_t leaks;            /* strict values leaked anywhere (answers, quotes, titles, explain) */
	char version[16];
	uint64_t seed;
	int max_per_set;
	double seconds;
} cairn_safety_eval_report;

cairn_status cairn_eval_safety(const cairn_safety_eval_params *params, cairn_safety_eval_report *out, char *errbuf,
                               size_t errbuf_size);

/* ---- guard: PII --------------------------------------------------------------------- */
/*
 * Detection of personal data and secrets in any bytes (invalid UTF-8 and NULs are fine;
 * offsets are byte offsets into the input), redaction, and a reversible token vault.
 * Types are named as Microsoft Presidio names them where it has a name (EMAIL_ADDRESS,
 * PHONE_NUMBER, US_SSN, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, MAC_ADDRESS, DATE_TIME,
 * US_DRIVER_LICENSE, PERSON, ORGANIZATION, LOCATION, STREET_ADDRESS) plus API_KEY, JWT,
 * PRIVATE_KEY and SECRET for credentials. docs/guard.md lists the rules and measured accuracy.
 */

typedef struct cairn_pii_finding {
	const char *type;   /* static string, e.g. "CREDIT_CARD" */
	size_t start, end;  /* byte range [start, end) in the scanned text */
	double score;       /* confidence in [0, 1] */
} cairn_pii_finding;

typedef struct cairn_pii_params {
	double min_score;   /* findings below are not reported (default 0.5) */
	const char *types;  /* comma-separated type names to report; NULL or "" = all */
} cairn_pii_params;

cairn_pii_params cairn_pii_default_params(void);

/* Scans text[0..len). *findings (free with cairn_pii_findings_free; NULL when none) is sorted
 * by start and never overlapping. Unknown names in params->types: CAIRN_EINVAL. */
cairn_status cairn_pii_scan(const char *text, size_t len, const cairn_pii_params *params,
                            cairn_pii_finding **findings, size_t *count, char *errbuf,
                            size_t errbuf_size);
void cairn_pii_findings_free(cairn_pii_finding *findings);

typedef enum cairn_redact_mode {
	CAIRN_REDACT_MASK = 0,  /* "[EMAIL_ADDRESS]" */
	CAIRN_REDACT_HASH = 1,  /* "<EMAIL_ADDRESS:3f9a0c1d2e4b5a69>": keyed BLAKE2b, stable per key */
	CAIRN_REDACT_TOKEN = 2  /* "<EMAIL_ADDRESS_3f9a0c1d2e4b5a69>": random id, original in the vault */
} cairn_redact_mode;

#define CAIRN_KEY_BYTES 32

typedef struct cairn_redact_params {
	cairn_pii_params pii;
	cairn_redact_mode mode;
	const uint8_t *key;      /* CAIRN_KEY_BYTES bytes; required for HASH and TOKEN */
	const char *vault_path;  /* TOKEN: the encrypted vault file (created when missing) */
} cairn_redact_params;

cairn_redact_params cairn_redact_default_params(void);

/* Where one replacement landed: the original's byte range in the input and the
 * replacement's byte range in the output, so citations into either can be mapped. */
typedef struct cairn_redaction {
	const char *type;
	size_t src_start, src_end;
	size_t out_start, out_end;
	double score;
} cairn_redaction;

typedef struct cairn_redacted {
	char *text;      /* NUL-terminated; len excludes the NUL */
	size_t len;
	cairn_redaction *items;
	size_t n_items;
} cairn_redacted;

cairn_status cairn_redact(const char *text, size_t len, const cairn_redact_params *params,
                          cairn_redacted *out, char *errbuf, size_t errbuf_size);
void cairn_redacted_free(cairn_redacted *r);

/* Loads a 32-byte key from a file (key_file) or from the value of an environment variable
 * (env_name): 64 hex digits or 32 raw bytes. Exactly one of the two. The key never appears
 * in error messages; callers wipe it (cairn_key_wipe) when done. */
cairn_status cairn_key_load(const char *key_file, const char *env_name, uint8_t key[CAIRN_KEY_BYTES],
                            char *errbuf, size_t errbuf_size);
void cairn_key_wipe(uint8_t key[CAIRN_KEY_BYTES]);

/* Replaces every "<TYPE_id>" token found in the vault with its original value. Access
 * control is not built yet: the caller states whether the requesting principal holds the
 * rehydration permission, and `allowed` = 0 is refused (CAIRN_EINVAL) without reading the
 * vault. Tokens not in the vault are left as they are. *out: NUL-terminated, cairn_free it. */
cairn_status cairn_rehydrate(const char *text, size_t len, const char *vault_path,
                             const uint8_t key[CAIRN_KEY_BYTES], int allowed, char **out,
                             size_t *out_len, char *errbuf, size_t errbuf_size);

/* Span-level evaluation on a presidio-research synthetic PII file (or a directory holding
 * synth_dataset_v2*.json). split: 0 all records, 1 even indices, 2 odd. */
typedef struct cairn_pii_eval_row {
	char type[32];
	int64_t gold, predicted;
	int64_t tp_exact;                  /* same type and byte range */
	int64_t tp_overlap_gold;           /* gold spans touched by a same-type prediction */
	int64_t tp_overlap_pred;           /* predictions touching a same-type gold span */
	double precision_exact, recall_exact, precision_overlap, recall_overlap;
} cairn_pii_eval_row;

typedef struct cairn_pii_eval_report {
	char path[512];
	int64_t records;
	size_t n_rows;
	cairn_pii_eval_row rows[40];
	double seconds;
} cairn_pii_eval_report;

cairn_status cairn_eval_pii(const char *path, int split, double min_score, cairn_pii_eval_report *out,
                            char *errbuf, size_t errbuf_size);

/* ---- guard: prompt injection ---------------------------------------------------------- */

/* Who wrote the text: a user's question (direct injection) or a document / retrieved chunk
 * that will be shown to a model (indirect injection). Weights and thresholds differ. */
typedef enum cairn_injection_kind {
	CAIRN_INJECTION_QUESTION = 0,
	CAIRN_INJECTION_DOCUMENT = 1
} cairn_injection_kind;

/* The features (reasons) the detector reports; cairn_injection_feature_name gives the
 * stable snake_case name ("instruction_override", …) used in JSON and docs/injection.md. */
typedef enum cairn_injection_feature {
	CAIRN_INJ_OVERRIDE = 0,     /* ignore/disregard previous instructions, new instructions, … */
	CAIRN_INJ_PERSONA,          /* you are now …, pretend, act as <persona>, developer mode */
	CAIRN_INJ_EXTRACTION,       /* reveal/repeat the system prompt, the text above, the password */
	CAIRN_INJ_EXFILTRATION,     /* images/links carrying data in the URL, send to URL, call the tool */
	CAIRN_INJ_OUTPUT,           /* say "…", respond only with, nothing else, access granted */
	CAIRN_INJ_TASK,             /* addresses the answer being written: "in your response", … */
	CAIRN_INJ_ADDRESS_AI,       /* addresses an AI reader: "if you are an AI", "note to the assistant" */
	CAIRN_INJ_DELIMITER,        /* forged <|im_start|>, [INST], ### system, </context>, BEGIN SYSTEM PROMPT */
	CAIRN_INJ_MULTILINGUAL,     /* override phrasings in other languages */
	CAIRN_INJ_CODE,             /* code that ships data out or runs commands (requests.post, os.system, curl|sh) */
	CAIRN_INJ_FLOOD,            /* a long run of one repeated short token, stacked combining marks */
	CAIRN_INJ_ENCODED,          /* a base64/hex/rot13 segment whose decoding is itself an attack */
	CAIRN_INJ_INVISIBLE,        /* zero-width characters inside words, bidi controls, tag characters */
	CAIRN_INJ_HOMOGLYPH,        /* words mixing Latin letters with Cyrillic/Greek look-alikes */
	CAIRN_INJ_AUTH_CLAIM,       /* claims that authentication already succeeded ("the correct password was entered") */
	CAIRN_INJ_NFEATURES
} cairn_injection_feature;

const char *cairn_injection_feature_name(cairn_injection_feature f); /* "unknown" when out of range */

#define CAIRN_INJECTION_MAX_SPANS 32

typedef struct cairn_injection_span {
	cairn_injection_feature feature;
	size_t start, end; /* byte range [start, end) in the scanned text */
} cairn_injection_span;

typedef struct cairn_injection_result {
	cairn_injection_kind kind;
	double score;       /* 0..1, logistic in the weighted features */
	double threshold;   /* the kind's threshold; flagged = score >= threshold */
	int flagged;
	uint32_t reasons;   /* bit (1u << feature) for each feature found, also inside decoded payloads */
	double weight[CAIRN_INJ_NFEATURES]; /* each feature's contribution to the logit (0 when absent,
	                                     * or seen only inside a payload: that counts as encoded_payload) */
	size_t n_spans;     /* spans kept (<= CAIRN_INJECTION_MAX_SPANS), in text order */
	size_t n_spans_total; /* spans found */
	cairn_injection_span spans[CAIRN_INJECTION_MAX_SPANS];
} cairn_injection_result;

/* Scans text[0..len) (any bytes) and fills *out (no allocation to free). Returns CAIRN_EINVAL
 * for a NULL argument or unknown kind, CAIRN_ETOOBIG above 1 GiB, CAIRN_ENOMEM; errbuf (may be
 * NULL) gets the message. Thread-safe. */
cairn_status cairn_injection_scan(const char *text, size_t len, cairn_injection_kind kind,
                                  cairn_injection_result *out, char *errbuf, size_t errbuf_size);

/* What to do with flagged text from a source. */
typedef enum cairn_injection_policy {
	CAIRN_INJECTION_POLICY_FLAG = 0,     /* keep it, record the finding */
	CAIRN_INJECTION_POLICY_QUARANTINE,   /* keep the document, exclude the chunk from answering */
	CAIRN_INJECTION_POLICY_REFUSE        /* refuse the whole request */
} cairn_injection_policy;

typedef enum cairn_injection_action {
	CAIRN_INJECTION_ALLOW = 0,
	CAIRN_INJECTION_FLAGGED,
	CAIRN_INJECTION_QUARANTINED,
	CAIRN_INJECTION_REFUSED
} cairn_injection_action;

/* ALLOW when r is not flagged, else the policy's action; a quarantine asked for a question
 * (which cannot be left out of its own answer) becomes a refusal. */
cairn_injection_action cairn_injection_decide(cairn_injection_policy policy, const cairn_injection_result *r);

/* Fencing untrusted text for a prompt. One fence per request: its id is 32 hex digits of
 * fresh randomness (libsodium), so text written before the request cannot name it. */
typedef struct cairn_fence {
	char id[33];
} cairn_fence;

cairn_status cairn_fence_init(cairn_fence *f, char *errbuf, size_t errbuf_size);
/* text[0..len) between "<<<UNTRUSTED BEGIN id=… label=…>>>" and "<<<UNTRUSTED END id=…>>>"
 * lines, with any copy of the id, any "<<<"/">>>" and any chat-template control token
 * (<|im_start|>, [INST], <<SYS>>, <start_of_turn>, …) inside it neutralised and NUL bytes
 * replaced by U+FFFD. A malloc'd
 * NUL-terminated string (cairn_free it); NULL when out of memory. */
char *cairn_fence_wrap(const cairn_fence *f, const char *label, const char *text, size_t len);
/* The instruction-hierarchy preamble naming this fence's markers (cairn_free it). */
char *cairn_fence_preamble(const cairn_fence *f);

/* Evaluation on labelled data (docs/injection.md): attacks and benign texts from the data
 * sets under data_root, each split into a tuning and a held-out half by a hash of its text. */
#define CAIRN_INJECTION_EVAL_MAX_ROWS 16

typedef struct cairn_injection_eval_row {
	char dataset[64];
	cairn_injection_kind kind;
	int attacks;          /* 1: every item is an attack (rate = detection); 0: benign (rate = false positives) */
	int present;          /* 0 when the data set was not found */
	int64_t n[2];         /* [0] tuning half, [1] held-out half */
	int64_t flagged[2];
} cairn_injection_eval_row;

typedef struct cairn_injection_eval_report {
	size_t n_rows;
	cairn_injection_eval_row rows[CAIRN_INJECTION_EVAL_MAX_ROWS];
	/* pooled over rows: detection on attacks, false positives on benign texts, per half */
	int64_t attacks[2], detected[2], benign[2], false_pos[2];
	double seconds;
} cairn_injection_eval_report;

/* Called for every scanned item (optional): for looking at misses during tuning. */
typedef void (*cairn_injection_eval_item_fn)(const cairn_injection_eval_row *row, int half, const char *text,
                                             size_t len, const cairn_injection_result *r, void *user_data);

/* data_root holds tensor-trust/, giskard-prompt-injections/, bipia/, covid-qa-prerelease/,
 * scifact-beir/ (missing ones are reported as absent); docs_dir (may be NULL) is a directory
 * of Markdown files scored paragraph by paragraph. CAIRN_ENOTFOUND when data_root is not a
 * directory; CAIRN_EFORMAT naming the file and line for malformed data. */
cairn_status cairn_injection_eval(const char *data_root, const char *docs_dir, cairn_injection_eval_item_fn on_item,
                                  void *user_data, cairn_injection_eval_report *out, char *errbuf, size_t errbuf_size);

/* ---- tools ------------------------------------------------------------------------------ */

/* Tool use with guardrails (docs/tools.md). Tools are declared in a JSON file: name,
 * description, a JSON Schema (draft 2020-12) for the arguments, a tier, who may call it, a
 * rate limit, forbidden field combinations, and how it runs (an HTTP call or a local command
 * without a shell). A model only proposes calls; cairn_tools_propose validates each against
 * the schema and the policy and never executes an invalid one; read and write-low calls run at
 * once, write-high, external and admin calls wait for an approval. Every call above read is
 * executed at most once per idempotency key. Every proposal, rejection, queueing, decision,
 * execution and result goes to the audit trail of the knowledge base (when enabled). */
typedef enum cairn_tool_tier {
	CAIRN_TIER_READ = 0,
	CAIRN_TIER_WRITE_LOW = 1,
	CAIRN_TIER_WRITE_HIGH = 2,
	CAIRN_TIER_EXTERNAL = 3,
	CAIRN_TIER_ADMIN = 4
} cairn_tool_tier;

typedef struct cairn_tools cairn_tools;

/* Loads and strictly checks config_path (an unknown key or schema keyword is an error naming
 * it). state_path: the SQLite file of approvals, idempotency records and rate buckets (NULL:
 * tools.db beside the config). kb (may be NULL: no audit, principals only as given) is
 * borrowed and must outlive the handle. */
cairn_status cairn_tools_open(cairn_kb *kb, const char *config_path, const char *state_path, cairn_tools **out,
                              char *errbuf, size_t errbuf_size);
void cairn_tools_close(cairn_tools *t);
const char *cairn_tools_errmsg(const cairn_tools *t);
/* The declarations as JSON: [{"name","description","tier","arguments",…}] (cairn_free it). */
char *cairn_tools_to_json(const cairn_tools *t);

/* Who proposes, and the limits fixed at the start of a session. */
typedef struct cairn_tool_session {
	const cairn_principal *principal; /* NULL = the local owner */
	int max_tier;      /* highest tier this session may reach (-1 = the principal's: admin for
	                      the owner and CAIRN_PERM_ADMIN holders, external for others) */
	int tainted;       /* 1: a tool result in this session carried flagged text; any call
	                      above read then needs an approval */
	int dry_run;       /* 1: decide, show what would run, execute and queue nothing */
} cairn_tool_session;

cairn_tool_session cairn_tool_session_default(void);

typedef enum cairn_tool_decision {
	CAIRN_TOOL_REJECTED = 0,   /* invalid (schema, policy, rate, business rule): never executed */
	CAIRN_TOOL_EXECUTED = 1,   /* ran now; result holds its output */
	CAIRN_TOOL_QUEUED = 2,     /* waits for approval (approval_id) */
	CAIRN_TOOL_DUPLICATE = 3,  /* the idempotency key has a recorded result: returned, not re-run */
	CAIRN_TOOL_DRY_RUN = 4     /* valid; would_run says what would happen */
} cairn_tool_decision;

typedef struct cairn_tool_outcome {
	cairn_tool_decision decision;
	int tier;
	char *errors_json;   /* rejections: [{"instance":ptr,"schema":ptr,"message":…}] */
	char *result;        /* executed/duplicate: the tool's output (untrusted text) */
	int ok;              /* executed/duplicate: the executor reported success */
	int needs_approval;  /* queued, or a dry run of a call that would be queued */
	int64_t approval_id;
	char key[72];        /* the idempotency key used */
	char *would_run;     /* dry run: the request or command line */
} cairn_tool_outcome;

void cairn_tool_outcome_free(cairn_tool_outcome *o);
/* "rejected", "executed", … */
const char *cairn_tool_decision_name(cairn_tool_decision d);

/* Proposes tool(args_json) for the session. idempotency_key may be NULL: it is derived from
 * (principal, tool, canonical arguments). CAIRN_OK with the outcome filled for every decision
 * (a rejection is an outcome, not an error); an error only when the decision could not be
 * taken or recorded (state database, audit trail). */
cairn_status cairn_tools_propose(cairn_tools *t, const char *tool, const char *args_json, const char *idempotency_key,
                                 const cairn_tool_session *session, cairn_tool_outcome *out);

/* Approvals: JSON array of {"id","tool","principal","arguments","tier","state",…}, pending
 * ones only with pending_only (cairn_free it). */
cairn_status cairn_tools_approvals(cairn_tools *t, int pending_only, char **json);
/* Approves (and executes, once) or denies approval id. The approver must be the owner (NULL)
 * or hold CAIRN_PERM_ADMIN, and may not approve a call it proposed itself (CAIRN_EPERM);
 * CAIRN_ENOTFOUND for an unknown id, CAIRN_EINVAL for one already decided. */
cairn_status cairn_tools_decide(cairn_tools *t, int64_t id, int approve, const cairn_principal *approver,
                                cairn_tool_outcome *out);

/* Validates instance_json against schema_json: CAIRN_OK when valid; CAIRN_EFORMAT when not,
 * with *errors_json (cairn_free it) listing every error; CAIRN_EINVAL for a schema outside
 * what the validator implements (errbuf names the keyword). */
cairn_status cairn_schema_validate(const char *schema_json, const char *instance_json, char **errors_json,
                                   char *errbuf, size_t errbuf_size);

/* The loop with a model: the request, the tool declarations, the model's proposals, their
 * decisions and the fenced, scanned results, until the model answers or max_turns. */
typedef struct cairn_tools_run_params {
	const char *endpoint;      /* OpenAI-compatible; tools sent as "tools", calls read from "tool_calls" */
	const char *api_key_env;
	const char *model_name;
	const char *local_model;   /* or a local GGUF model under a JSON-schema constraint */
	const char *local_tokenizer;
	const char *chat_template;
	int max_turns;             /* model replies at most (default 8) */
	int max_tokens;            /* per local reply (default 256) */
	int timeout_ms;            /* per HTTP request (default 60000) */
	const char *trace_path;    /* JSONL trace of every step (NULL = none) */
	cairn_tool_session session;
} cairn_tools_run_params;

cairn_tools_run_params cairn_tools_run_default_params(void);

typedef struct cairn_tools_run_report {
	char *final;               /* the model's final text (NULL when it gave none); cairn_free */
	int turns;
	int proposals, rejected, executed, queued, duplicates;
	int high_tier_proposals;   /* proposals of write-high, external or admin tools */
	int high_tier_executed;    /* of those, executed without an approval (0 by design) */
	int flagged_results;       /* tool results the injection scan flagged */
	int tainted;               /* the session ended tainted */
} cairn_tools_run_report;

cairn_status cairn_tools_run(cairn_tools *t, const char *request, const cairn_tools_run_params *p,
                             cairn_tools_run_report *out);
void cairn_tools_run_report_free(cairn_tools_run_report *r);

/* Re-runs a recorded session from its trace: the recorded model replies and tool responses
 * stand in for the model and the executors (no network, no execution, no state written);
 * every decision is taken again and compared. */
typedef struct cairn_tools_replay_report {
	int decisions;             /* decisions recomputed */
	int matched;
	int mismatched;
	char first_mismatch[512];  /* what differed first, "" when everything matched */
} cairn_tools_replay_report;

cairn_status cairn_tools_replay(cairn_tools *t, const char *trace_path, cairn_tools_replay_report *out);

#ifdef __cplusplus
}
#endif
#endif
