/* The knowledge-base directory: catalog schema, writer lock, transactions, manifest and
 * orphan collection. The commit protocol and why it is crash-safe are in store.h. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STMT_CACHE 64

struct cn_store {
	sqlite3 *db;
	char *dir;
	int lock_fd;
	bool read_only;
	bool in_txn;
	bool created;
	struct {
		const char *sql; /* callers pass string literals: compared by pointer, then by text */
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	int ncache;
};

static const char *const SCHEMA[] = {
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS documents("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" doc_id TEXT NOT NULL UNIQUE,"
	" source TEXT NOT NULL,"
	" container TEXT,"          /* for JSON Lines records: the file they came from */
	" title TEXT,"
	" format TEXT NOT NULL,"
	" mtime INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" content_hash TEXT NOT NULL,"
	" meta_hash TEXT NOT NULL," /* tags + groups + chunking settings: a change re-indexes */
	" ingested_at INTEGER NOT NULL,"
	" n_chunks INTEGER NOT NULL)",
	"CREATE INDEX IF NOT EXISTS documents_container ON documents(container)",
	"CREATE TABLE IF NOT EXISTS doc_tags(doc INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS doc_tags_doc ON doc_tags(doc)",
	"CREATE TABLE IF NOT EXISTS doc_groups(doc INTEGER NOT NULL, grp TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS doc_groups_doc ON doc_groups(doc)",
	"CREATE TABLE IF NOT EXISTS chunks("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" doc INTEGER NOT NULL,"
	" ord INTEGER NOT NULL,"
	" heading TEXT NOT NULL,"
	" sections TEXT,"            /* sections starting inside the chunk: "OFFSET\tPATH\n"… */
	" text TEXT NOT NULL,"
	" byte_start INTEGER NOT NULL,"
	" byte_end INTEGER NOT NULL,"
	" n_tokens INTEGER NOT NULL,"
	" simhash INTEGER NOT NULL,"
	" dup_of INTEGER,"          /* an earlier chunk this one nearly duplicates */
	" segment INTEGER,"         /* where its postings live … */
	" docnum INTEGER)",         /* … and its number there */
	"CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc)",
	"CREATE INDEX IF NOT EXISTS chunks_seg ON chunks(segment, docnum)",
	"CREATE TABLE IF NOT EXISTS segments("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL,"
	" ndocs INTEGER NOT NULL DEFAULT 0,"
	" bytes INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" committed INTEGER NOT NULL DEFAULT 0)",
	/* A segment's vector sidecar (seg-N.vec): the same chunks in docnum order, embedded by
	 * the model named in meta embed_fingerprint. Absent row = the chunks have no vectors. */
	"CREATE TABLE IF NOT EXISTS vectors(segment INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS deleted(segment INTEGER NOT NULL, docnum INTEGER NOT NULL,"
	" PRIMARY KEY(segment, docnum)) WITHOUT ROWID",
	/* Access control: principals, their groups and permissions, and API keys (only a keyed
	 * hash of each key is kept; id is the key's public prefix, shown in listings). */
	"CREATE TABLE IF NOT EXISTS principals(name TEXT PRIMARY KEY, perms INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS principal_groups(name TEXT NOT NULL, grp TEXT NOT NULL,"
	" PRIMARY KEY(name, grp)) WITHOUT ROWID",
	"CREATE TABLE IF NOT EXISTS api_keys(id TEXT PRIMARY KEY, principal TEXT NOT NULL,"
	" hash BLOB NOT NULL, created_at INTEGER NOT NULL)",
	"CREATE TABLE IF NOT EXISTS principal_limits(name TEXT PRIMARY KEY, rate REAL NOT NULL,"
	" burst REAL NOT NULL)",
	NULL,
};

cairn_status cn_store_sqlerr(cn_store *s, cn_err *err, const char *what)
{
	int code = sqlite3_errcode(s->db);
	cairn_status st = CAIRN_EIO;
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		st = CAIRN_EBUSY;
	else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		st = CAIRN_ECORRUPT;
	else if (code == SQLITE_NOMEM)
		st = CAIRN_ENOMEM;
	else if (code == SQLITE_CONSTRAINT)
		st = CAIRN_EINVAL;
	return cn_err_set(err, st, "%s/catalog.db: %s: %s", s->dir, what, sqlite3_errmsg(s->db));
}

cairn_status cn_store_exec(cn_store *s, const char *sql, cn_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cairn_status st = cn_store_sqlerr(s, err, sql);
		sqlite3_free(msg);
		return st;
	}
	return CAIRN_OK;
}

cairn_status cn_store_prepare(cn_store *s, const char *sql, sqlite3_stmt **stmt, cn_err *err)
{
	for (int i = 0; i < s->ncache; i++) {
		if (s->cache[i].sql == sql || strcmp(s->cache[i].sql, sql) == 0) {
			sqlite3_reset(s->cache[i].stmt);
			sqlite3_clear_bindings(s->cache[i].stmt);
			*stmt = s->cache[i].stmt;
			return CAIRN_OK;
		}
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return cn_store_sqlerr(s, err, "prepare");
	if (s->ncache < STMT_CACHE) {
		s->cache[s->ncache].sql = sql;
		s->cache[s->ncache].stmt = st;
		s->ncache++;
	} else {
		/* Cache full: should not happen with the fixed statement set; leak-free fallback. */
		sqlite3_finalize(s->cache[STMT_CACHE - 1].stmt);
		s->cache[STMT_CACHE - 1].sql = sql;
		s->cache[STMT_CACHE - 1].stmt = st;
	}
	*stmt = st;
	return CAIRN_OK;
}

static cairn_status check_format(cn_store *s, cn_err *err)
{
	char *v = NULL;
	cairn_status st = cn_store_meta_get(s, "format_version", &v, err);
	if (st)
		return st;
	if (!v) {
		if (s->read_only)
			return cn_err_set(err, CAIRN_ECORRUPT, "%s: catalog has no format version (not a cairn knowledge base?)",
			                  s->dir);
		char num[16];
		snprintf(num, sizeof num, "%d", CN_STORE_FORMAT_VERSION);
		s->created = true;
		st = cn_store_meta_set(s, "format_version", num, err);
		if (!st)
			st = cn_store_meta_set(s, "generation", "0", err);
		return st;
	}
	long ver = strtol(v, NULL, 10);
	cn_free(v);
	if (ver != CN_STORE_FORMAT_VERSION)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "%s: knowledge base format version %ld, this build reads version %d", s->dir, ver,
		                  CN_STORE_FORMAT_VERSION);
	return CAIRN_OK;
}

cairn_status cn_store_open(const char *dir, bool create, bool read_only, cn_store **out, cn_err *err)
{
	*out = NULL;
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/segments", dir) >= (int)sizeof path)
		return cn_err_set(err, CAIRN_EINVAL, "%s: path too long", dir);
	if (!cn_is_dir(dir)) {
		if (!create || read_only)
			return cn_err_set(err, CAIRN_ENOTFOUND, "%s: no knowledge base here (run `cairn ingest` first)", dir);
	}
	if (!read_only) {
		cairn_status st = cn_mkdir_p(path, err);
		if (st)
			return st;
	}
	snprintf(path, sizeof path, "%s/catalog.db", dir);
	if (!cn_path_exists(path) && (read_only || !create))
		return cn_err_set(err, CAIRN_ENOTFOUND, "%s: no catalog.db (not a cairn knowledge base)", dir);

	cn_store *s = cn_calloc(1, sizeof *s);
	if (!s || !(s->dir = cn_strdup(dir))) {
		cn_free(s);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", dir);
	}
	s->lock_fd = -1;
	s->read_only = read_only;
	int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	flags |= SQLITE_OPEN_FULLMUTEX;
	cairn_status st = CAIRN_OK;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	sqlite3_extended_result_codes(s->db, 0);
	if (!read_only) {
		st = cn_store_exec(s, "PRAGMA journal_mode=WAL", err);
		if (!st)
			st = cn_store_exec(s, "PRAGMA synchronous=FULL", err);
		if (st)
			goto fail;
		for (int i = 0; SCHEMA[i] && !st; i++)
			st = cn_store_exec(s, SCHEMA[i], err);
		if (st)
			goto fail;
	} else {
		/* A quick integrity probe: the tables must exist. */
		st = cn_store_exec(s, "SELECT 1 FROM meta LIMIT 1", err);
		if (st)
			goto fail;
	}
	st = check_format(s, err);
	if (st)
		goto fail;
	if (!read_only) {
		snprintf(path, sizeof path, "%s/LOCK", dir);
		s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (s->lock_fd < 0) {
			st = cn_err_set(err, CAIRN_EIO, "%s: cannot open: %s", path, strerror(errno));
			goto fail;
		}
	}
	*out = s;
	return CAIRN_OK;
fail:
	cn_store_close(s);
	return st;
}

void cn_store_close(cn_store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		cn_store_rollback(s);
	for (int i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].stmt);
	if (s->db)
		sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	cn_free(s->dir);
	cn_free(s);
}

sqlite3 *cn_store_db(cn_store *s) { return s->db; }
const char *cn_store_dir(const cn_store *s) { return s->dir; }
bool cn_store_read_only(const cn_store *s) { return s->read_only; }
bool cn_store_is_new(const cn_store *s) { return s->created; }
bool cn_store_in_txn(const cn_store *s) { return s->in_txn; }

cairn_status cn_store_meta_get(cn_store *s, const char *key, char **value, cn_err *err)
{
	*value = NULL;
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(s, "SELECT value FROM meta WHERE key = ?1", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		*value = cn_strdup(v ? v : "");
		sqlite3_reset(q);
		return *value ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	st = rc == SQLITE_DONE ? CAIRN_OK : cn_store_sqlerr(s, err, "reading meta");
	sqlite3_reset(q);
	return st;
}

cairn_status cn_store_meta_set(cn_store *s, const char *key, const char *value, cn_err *err)
{
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	st = sqlite3_step(q) == SQLITE_DONE ? CAIRN_OK : cn_store_sqlerr(s, err, "writing meta");
	sqlite3_reset(q);
	return st;
}

cairn_status cn_store_begin(cn_store *s, cn_err *err)
{
	if (s->read_only)
		return cn_err_set(err, CAIRN_EINVAL, "%s: opened read-only", s->dir);
	if (s->in_txn)
		return CAIRN_OK;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return cn_err_set(err, CAIRN_EBUSY, "%s: another cairn process is writing to this knowledge base",
			                  s->dir);
		return cn_err_set(err, CAIRN_EIO, "%s/LOCK: %s", s->dir, strerror(errno));
	}
	cairn_status st = cn_store_exec(s, "BEGIN IMMEDIATE", err);
	if (st) {
		flock(s->lock_fd, LOCK_UN);
		return st;
	}
	s->in_txn = true;
	return CAIRN_OK;
}

cairn_status cn_store_commit(cn_store *s, cn_err *err)
{
	if (!s->in_txn)
		return CAIRN_OK;
	cairn_status st = cn_store_exec(s, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
	                                err);
	if (!st)
		st = cn_store_exec(s, "UPDATE segments SET committed = 1 WHERE committed = 0", err);
	if (!st)
		st = cn_store_exec(s, "COMMIT", err);
	if (st) {
		cn_store_rollback(s);
		return st;
	}
	s->in_txn = false;
	flock(s->lock_fd, LOCK_UN);
	return CAIRN_OK;
}

void cn_store_rollback(cn_store *s)
{
	if (!s->in_txn)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = false;
	/* Segment files written in the rolled-back transaction are orphans now; the next
	 * writer's cn_store_gc removes them. */
	flock(s->lock_fd, LOCK_UN);
}

cairn_status cn_store_generation(cn_store *s, int64_t *gen, cn_err *err)
{
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(s, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'", &q, err);
	if (st)
		return st;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*gen = sqlite3_column_int64(q, 0);
	else
		st = rc == SQLITE_DONE ? cn_err_set(err, CAIRN_ECORRUPT, "%s: catalog has no generation", s->dir)
		                       : cn_store_sqlerr(s, err, "reading generation");
	sqlite3_reset(q);
	return st;
}

void cn_store_segment_path(const cn_store *s, int64_t id, const char *kind, char *path, size_t path_size)
{
	snprintf(path, path_size, "%s/segments/seg-%06lld.%s", s->dir, (long long)id, kind);
}

cairn_status cn_store_segment_new(cn_store *s, const char *kind, int64_t *id, char *path, size_t path_size,
                                  cn_err *err)
{
	if (!s->in_txn)
		return cn_err_set(err, CAIRN_EINTERNAL, "segment created outside a transaction");
	sqlite3_stmt *q;
	cairn_status st =
		cn_store_prepare(s, "INSERT INTO segments(kind, created_at, committed) VALUES(?1, ?2, 0)", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, cn_wall_time_s());
	if (sqlite3_step(q) != SQLITE_DONE) {
		st = cn_store_sqlerr(s, err, "registering segment");
		sqlite3_reset(q);
		return st;
	}
	sqlite3_reset(q);
	*id = sqlite3_last_insert_rowid(s->db);
	cn_store_segment_path(s, *id, kind, path, path_size);
	return CAIRN_OK;
}

/* Parses "seg-<digits>.<kind>" (and the ".tmp" leftovers of interrupted writes). */
static bool parse_segment_name(const char *name, int64_t *id, bool *tmp)
{
	if (strncmp(name, "seg-", 4) != 0)
		return false;
	char *end;
	long long v = strtoll(name + 4, &end, 10);
	if (end == name + 4 || *end != '.')
		return false;
	*id = v;
	size_t n = strlen(name);
	*tmp = n > 4 && strcmp(name + n - 4, ".tmp") == 0;
	return true;
}

cairn_status cn_store_gc(cn_store *s, cn_err *err)
{
	if (!s->in_txn)
		return cn_err_set(err, CAIRN_EINTERNAL, "gc outside a transaction");
	char dirpath[PATH_MAX];
	snprintf(dirpath, sizeof dirpath, "%s/segments", s->dir);
	DIR *d = opendir(dirpath);
	if (!d)
		return cn_err_set(err, CAIRN_EIO, "%s: cannot list: %s", dirpath, strerror(errno));
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(s, "SELECT 1 FROM segments WHERE id = ?1", &q, err);
	struct dirent *e;
	while (!st && (e = readdir(d)) != NULL) {
		int64_t id;
		bool tmp;
		if (!parse_segment_name(e->d_name, &id, &tmp))
			continue;
		bool listed = false;
		if (!tmp) {
			sqlite3_reset(q);
			sqlite3_bind_int64(q, 1, id);
			listed = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_reset(q);
		}
		if (!listed) {
			char p[PATH_MAX + 300];
			snprintf(p, sizeof p, "%s/%s", dirpath, e->d_name);
			if (unlink(p) == 0)
				cn_log(CAIRN_LOG_INFO, "removed orphan segment file %s", p);
		}
	}
	closedir(d);
	return st;
}
