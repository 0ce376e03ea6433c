/*
 * store — the knowledge-base directory and its commit protocol.
 *
 *   KB/
 *     catalog.db      SQLite in WAL mode: documents, tags, access groups, chunks (text and
 *                     byte ranges), near-duplicate fingerprints, the segment manifest and the
 *                     per-segment deletion lists, and `meta` (format version, analyzer
 *                     signature, BM25 parameters, commit generation)
 *     segments/       immutable segment files (segfile.h), named seg-<id>.<kind>
 *     LOCK            advisory lock file: one writer process at a time
 *
 * Commit protocol (why a SIGKILL at any instant leaves the last committed state):
 *   1. the writer takes the LOCK (flock, non-blocking → CAIRN_EBUSY) and opens an SQLite
 *      write transaction (BEGIN IMMEDIATE);
 *   2. document and chunk rows are inserted in that transaction; the new segment file is
 *      written under a temporary name, fsynced and renamed (segfile.h);
 *   3. the segment's manifest row, deletion rows and the bumped `generation` go into the
 *      same transaction, which then commits (synchronous=FULL: durable when COMMIT returns).
 *   A crash before 3 rolls the SQLite transaction back; the renamed file is then an orphan
 *   that no manifest row names, and the next writer deletes it (cn_store_gc) under the LOCK.
 *   Files that a merge replaced are deleted after the commit that drops them from the
 *   manifest; readers that still map them keep working (POSIX unlink semantics), and a
 *   reader that fails to open a listed file re-reads the manifest and retries.
 * Readers never take the LOCK and never wait for writers (WAL snapshot isolation).
 *
 * The schema is documented for users in docs/formats/knowledge-base.md.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <sqlite3.h>

#include "base/base.h"

#define CN_STORE_FORMAT_VERSION 1

typedef struct cn_store cn_store;

cairn_status cn_store_open(const char *dir, bool create, bool read_only, cn_store **out, cn_err *err);
void cn_store_close(cn_store *s);
sqlite3 *cn_store_db(cn_store *s);
const char *cn_store_dir(const cn_store *s);
bool cn_store_read_only(const cn_store *s);
/* True when the catalog was created by this open (meta rows may be written). */
bool cn_store_is_new(const cn_store *s);

/* meta table. get: *value is cn_malloc'd, NULL when absent. */
cairn_status cn_store_meta_get(cn_store *s, const char *key, char **value, cn_err *err);
cairn_status cn_store_meta_set(cn_store *s, const char *key, const char *value, cn_err *err);

/* Write transactions. begin takes the writer LOCK (CAIRN_EBUSY when another process holds
 * it) and BEGIN IMMEDIATE; commit bumps `generation` and COMMITs; rollback undoes. */
cairn_status cn_store_begin(cn_store *s, cn_err *err);
cairn_status cn_store_commit(cn_store *s, cn_err *err);
void cn_store_rollback(cn_store *s);
bool cn_store_in_txn(const cn_store *s);

/* Current committed generation (a cheap read). */
cairn_status cn_store_generation(cn_store *s, int64_t *gen, cn_err *err);

/* Registers a new segment inside the open transaction and gives its id and file path. */
cairn_status cn_store_segment_new(cn_store *s, const char *kind, int64_t *id, char *path, size_t path_size,
                                  cn_err *err);
void cn_store_segment_path(const cn_store *s, int64_t id, const char *kind, char *path, size_t path_size);

/* Deletes segment files that the manifest does not list (needs the writer LOCK: call
 * inside a transaction). */
cairn_status cn_store_gc(cn_store *s, cn_err *err);

/* Runs one SQL statement with no result rows (schema, pragmas). */
cairn_status cn_store_exec(cn_store *s, const char *sql, cn_err *err);
/* Prepares a statement, cached by SQL text for the life of the store. */
cairn_status cn_store_prepare(cn_store *s, const char *sql, sqlite3_stmt **stmt, cn_err *err);
/* Error helper: records the SQLite error message for db with context. */
cairn_status cn_store_sqlerr(cn_store *s, cn_err *err, const char *what);

#endif
