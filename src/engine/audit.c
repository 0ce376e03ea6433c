/*
 * audit — an append-only, hash-chained record of who asked what, what was retrieved, what
 * was answered and what the guards decided (docs/security.md#audit-trail).
 *
 * Design:
 *  - Its own SQLite file, KB/audit.db, not the catalog: appends come from searches and
 *    questions, which must not queue behind an ingest holding the catalog's writer LOCK,
 *    and an audit write must never be rolled back with someone else's transaction. WAL,
 *    synchronous=FULL, BEGIN IMMEDIATE per append: concurrent processes serialise on the
 *    file lock and each record is durable before the answer is returned.
 *  - Each row keeps the record exactly as hashed: canonical JSON (sorted keys, compact)
 *    whose "seq" field repeats the row number, the previous record's hash, and
 *    hash = SHA-256(prev_hash_hex "\n" record_json). Editing a record breaks its hash;
 *    deleting or reordering breaks the next record's prev (or the seq sequence).
 *  - A chain alone cannot see its own tail cut off, so after each append the head (seq and
 *    hash) is also written to KB/audit.head by atomic replace; verify compares. A crash
 *    between the commit and the head write leaves the file one step behind — verify
 *    accepts a head that is an earlier record of an intact chain and says so. Against
 *    someone who can rewrite both files, keep `cairn audit head` output elsewhere and pass
 *    it to verify (expect_head).
 *  - Retention: records older than the configured days are pruned in one transaction that
 *    moves the chain's base (base_seq, base_hash in the audit meta table) to the last pruned
 *    record, and appends an "audit.prune" record saying what went. Verify starts at base.
 *  - Personal data never reaches the log: questions and answers are masked here (guard's
 *    detectors, AUDIT_REDACT_TYPES, "[EMAIL_ADDRESS]" style) on top of whatever policy the
 *    caller applied, and a text that cannot be masked is not written at all. Record
 *    contents are never logged.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static const char *const AUDIT_SCHEMA[] = {
	"PRAGMA journal_mode=WAL",
	"PRAGMA synchronous=FULL",
	"CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, record TEXT NOT NULL,"
	" prev TEXT NOT NULL, hash TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	NULL,
};

static cairn_status adb_err(sqlite3 *db, cn_err *err, const char *dir, const char *what)
{
	int code = sqlite3_errcode(db);
	cairn_status st = code == SQLITE_BUSY || code == SQLITE_LOCKED ? CAIRN_EBUSY
	                  : code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? CAIRN_ECORRUPT
	                                                                     : CAIRN_EIO;
	return cn_err_set(err, st, "%s/audit.db: %s: %s", dir, what, sqlite3_errmsg(db));
}

/* Opens KB/audit.db on first use (audit_mu held). */
static cairn_status adb_open(cairn_kb *kb, bool create, cn_err *err)
{
	if (kb->audit.db)
		return CAIRN_OK;
	const char *dir = cn_store_dir(kb->store);
	char path[4096];
	snprintf(path, sizeof path, "%s/audit.db", dir);
	if (!create && !cn_path_exists(path))
		return cn_err_set(err, CAIRN_ENOTFOUND, "%s: no audit log (enable it with `cairn audit enable`)", dir);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		cairn_status st = cn_err_set(err, CAIRN_EIO, "%s: cannot open: %s", path,
		                             db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return st;
	}
	sqlite3_busy_timeout(db, 10000);
	for (int i = 0; AUDIT_SCHEMA[i]; i++) {
		if (sqlite3_exec(db, AUDIT_SCHEMA[i], NULL, NULL, NULL) != SQLITE_OK) {
			cairn_status st = adb_err(db, err, dir, "schema");
			sqlite3_close(db);
			return st;
		}
	}
	kb->audit.db = db;
	return CAIRN_OK;
}

void kb_audit_close(cairn_kb *kb)
{
	if (kb->audit.db)
		sqlite3_close(kb->audit.db);
	kb->audit.db = NULL;
	pthread_mutex_destroy(&kb->audit.mu);
}

static void sha256_hex(const char *prev, const char *record, char out[65])
{
	crypto_hash_sha256_state s;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, (const unsigned char *)prev, strlen(prev));
	crypto_hash_sha256_update(&s, (const unsigned char *)"\n", 1);
	crypto_hash_sha256_update(&s, (const unsigned char *)record, strlen(record));
	crypto_hash_sha256_final(&s, h);
	sodium_bin2hex(out, 65, h, sizeof h);
}

static cairn_status meta_get(sqlite3 *db, const char *key, char *out, size_t size)
{
	sqlite3_stmt *q = NULL;
	out[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT value FROM audit_meta WHERE key = ?1", -1, &q, NULL) != SQLITE_OK)
		return CAIRN_EIO;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CAIRN_OK : CAIRN_EIO;
}

static cairn_status meta_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit_meta(key, value) VALUES(?1, ?2)", -1, &q, NULL) !=
	    SQLITE_OK)
		return CAIRN_EIO;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CAIRN_OK : CAIRN_EIO;
}

/* The last record's seq and hash, or the base when the log is empty. */
static cairn_status chain_tail(sqlite3 *db, int64_t *seq, char hash[65])
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &q, NULL) != SQLITE_OK)
		return CAIRN_EIO;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		snprintf(hash, 65, "%s", (const char *)sqlite3_column_text(q, 1));
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		return CAIRN_OK;
	if (rc != SQLITE_DONE)
		return CAIRN_EIO;
	char v[80];
	if (meta_get(db, "base_seq", v, sizeof v))
		return CAIRN_EIO;
	*seq = v[0] ? strtoll(v, NULL, 10) : 0;
	if (meta_get(db, "base_hash", v, sizeof v))
		return CAIRN_EIO;
	snprintf(hash, 65, "%.64s", v[0] ? v : ZERO_HASH);
	return CAIRN_OK;
}

static cairn_status write_head(cairn_kb *kb, int64_t seq, const char *hash, cn_err *err)
{
	char path[4096], line[128];
	snprintf(path, sizeof path, "%s/audit.head", cn_store_dir(kb->store));
	int n = snprintf(line, sizeof line, "%lld %s\n", (long long)seq, hash);
	return cn_file_write_atomic(path, line, (size_t)n, err);
}

static void iso_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Inserts one record built from obj (which gets "seq" and "ts"); audit.mu held, inside an
 * open transaction. */
static cairn_status insert_record(cairn_kb *kb, json_t *obj, int64_t now, int64_t *seq_io, char hash_io[65],
                                  cn_err *err)
{
	const char *dir = cn_store_dir(kb->store);
	int64_t seq = *seq_io + 1;
	char ts[32];
	iso_time(now, ts);
	json_object_set_new(obj, "seq", json_integer(seq));
	json_object_set_new(obj, "ts", json_string(ts));
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!text)
		return cn_err_set(err, CAIRN_ENOMEM, "audit: out of memory");
	char hash[65];
	sha256_hex(hash_io, text, hash);
	sqlite3_stmt *q = NULL;
	cairn_status st = CAIRN_OK;
	if (sqlite3_prepare_v2(kb->audit.db, "INSERT INTO audit(seq, ts, record, prev, hash) VALUES(?1,?2,?3,?4,?5)",
	                       -1, &q, NULL) != SQLITE_OK)
		st = adb_err(kb->audit.db, err, dir, "prepare append");
	if (!st) {
		sqlite3_bind_int64(q, 1, seq);
		sqlite3_bind_int64(q, 2, now);
		sqlite3_bind_text(q, 3, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, hash_io, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			st = adb_err(kb->audit.db, err, dir, "append");
	}
	sqlite3_finalize(q);
	free(text);
	if (!st) {
		*seq_io = seq;
		memcpy(hash_io, hash, 65);
	}
	return st;
}

/* Drops records older than the retention (audit.mu held, inside the transaction), moving
 * the base and chaining an "audit.prune" record. */
static cairn_status prune(cairn_kb *kb, int64_t now, int64_t *seq, char hash[65], cn_err *err)
{
	char v[80];
	if (meta_get(kb->audit.db, "retention_days", v, sizeof v))
		return adb_err(kb->audit.db, err, cn_store_dir(kb->store), "read retention");
	int64_t days = v[0] ? strtoll(v, NULL, 10) : 0;
	if (days <= 0)
		return CAIRN_OK;
	int64_t cutoff = now - days * 86400;
	sqlite3_stmt *q = NULL;
	int64_t last = 0, count = 0;
	char last_hash[65] = "";
	if (sqlite3_prepare_v2(kb->audit.db, "SELECT seq, hash FROM audit WHERE seq = (SELECT MAX(seq) FROM audit "
	                       "WHERE ts < ?1)", -1, &q, NULL) != SQLITE_OK)
		return adb_err(kb->audit.db, err, cn_store_dir(kb->store), "prune");
	sqlite3_bind_int64(q, 1, cutoff);
	if (sqlite3_step(q) == SQLITE_ROW) {
		last = sqlite3_column_int64(q, 0);
		snprintf(last_hash, sizeof last_hash, "%s", (const char *)sqlite3_column_text(q, 1));
	}
	sqlite3_finalize(q);
	if (!last)
		return CAIRN_OK;
	if (sqlite3_prepare_v2(kb->audit.db, "DELETE FROM audit WHERE seq <= ?1", -1, &q, NULL) != SQLITE_OK)
		return adb_err(kb->audit.db, err, cn_store_dir(kb->store), "prune");
	sqlite3_bind_int64(q, 1, last);
	int rc = sqlite3_step(q);
	count = sqlite3_changes(kb->audit.db);
	sqlite3_finalize(q);
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)last);
	if (rc != SQLITE_DONE || meta_set(kb->audit.db, "base_seq", num) || meta_set(kb->audit.db, "base_hash", last_hash))
		return adb_err(kb->audit.db, err, cn_store_dir(kb->store), "prune");
	json_t *obj = json_object();
	json_object_set_new(obj, "action", json_string("audit.prune"));
	json_object_set_new(obj, "pruned_through", json_integer(last));
	json_object_set_new(obj, "pruned_records", json_integer(count));
	json_object_set_new(obj, "retention_days", json_integer(days));
	cairn_status st = insert_record(kb, obj, now, seq, hash, err);
	json_decref(obj);
	return st;
}

static bool audit_on_locked(cairn_kb *kb)
{
	char *v = NULL;
	cn_err err = {0};
	bool on = !cn_store_meta_get(kb->store, "audit", &v, &err) && v && strcmp(v, "on") == 0;
	cn_free(v);
	return on;
}

int cairn_audit_enabled(cairn_kb *kb)
{
	pthread_mutex_lock(&kb->mu);
	bool on = audit_on_locked(kb);
	pthread_mutex_unlock(&kb->mu);
	return on;
}

cairn_status cairn_audit_enable(cairn_kb *kb, int enabled, int retention_days)
{
	cn_err err = {0};
	if (retention_days < 0)
		return cn_err_set(&err, CAIRN_EINVAL, "audit retention of %d days", retention_days), kb_fail(kb, &err);
	pthread_mutex_lock(&kb->audit.mu);
	cairn_status st = enabled ? adb_open(kb, true, &err) : CAIRN_OK;
	if (!st && enabled) {
		char num[32];
		snprintf(num, sizeof num, "%d", retention_days);
		if (meta_set(kb->audit.db, "retention_days", num))
			st = adb_err(kb->audit.db, &err, cn_store_dir(kb->store), "set retention");
	}
	pthread_mutex_unlock(&kb->audit.mu);
	if (!st) {
		pthread_mutex_lock(&kb->mu);
		if (kb->read_only)
			st = cn_err_set(&err, CAIRN_EINVAL, "%s: knowledge base opened read-only", cn_store_dir(kb->store));
		else if (kb->w.active)
			st = cn_err_set(&err, CAIRN_EBUSY, "%s: commit the open ingest first", cn_store_dir(kb->store));
		else if (!(st = cn_store_begin(kb->store, &err))) {
			st = cn_store_meta_set(kb->store, "audit", enabled ? "on" : "off", &err);
			if (!st)
				st = cn_store_commit(kb->store, &err);
			else
				cn_store_rollback(kb->store);
		}
		pthread_mutex_unlock(&kb->mu);
	}
	if (!st) {
		/* Turning the trail off is itself on the trail (when there is one). */
		cairn_audit_entry e = {.action = enabled ? "audit.enable" : "audit.disable"};
		char path[4096];
		snprintf(path, sizeof path, "%s/audit.db", cn_store_dir(kb->store));
		if (enabled || cn_path_exists(path))
			st = kb_audit_append(kb, &e, &err);
	}
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Identifiers, secrets, names and addresses; dates and places stay (they are what many
 * questions are about, and rarely identify anyone alone). */
#define AUDIT_REDACT_TYPES "EMAIL_ADDRESS,PHONE_NUMBER,US_SSN,CREDIT_CARD,IBAN_CODE,IP_ADDRESS,MAC_ADDRESS," \
	"US_DRIVER_LICENSE,API_KEY,JWT,PRIVATE_KEY,SECRET,PERSON,STREET_ADDRESS"

/* s with personal data masked, as a JSON string (NULL on failure: the caller refuses). */
static json_t *masked(const char *s, cn_err *err)
{
	cairn_redact_params rp = cairn_redact_default_params();
	rp.mode = CAIRN_REDACT_MASK;
	rp.pii.types = AUDIT_REDACT_TYPES;
	cairn_redacted r = {0};
	char msg[256];
	if (cairn_redact(s, strlen(s), &rp, &r, msg, sizeof msg) != CAIRN_OK) {
		cn_err_set(err, CAIRN_ENOMEM, "audit: cannot mask personal data: %s", msg);
		return NULL;
	}
	/* json_string refuses invalid UTF-8: say so rather than lose the record. */
	json_t *j = json_string(r.text);
	cairn_redacted_free(&r);
	return j ? j : json_string("(invalid UTF-8)");
}

cairn_status kb_audit_append(cairn_kb *kb, const cairn_audit_entry *e, cn_err *err)
{
	if (!e->action || !*e->action)
		return cn_err_set(err, CAIRN_EINVAL, "audit record without an action");
	json_t *obj = json_object();
	json_object_set_new(obj, "action", json_string(e->action));
	json_object_set_new(obj, "principal", str_or_null(e->principal));
	json_t *q = e->question ? masked(e->question, err) : NULL;
	json_t *ans = e->answer ? masked(e->answer, err) : NULL;
	if ((e->question && !q) || (e->answer && !ans)) {
		json_decref(q);
		json_decref(ans);
		json_decref(obj);
		return err->code ? err->code : cn_err_set(err, CAIRN_ENOMEM, "audit: out of memory");
	}
	if (q)
		json_object_set_new(obj, "question", q);
	if (e->n_chunks) {
		json_t *a = json_array();
		for (size_t i = 0; i < e->n_chunks; i++)
			json_array_append_new(a, json_integer(e->chunk_ids[i]));
		json_object_set_new(obj, "chunks", a);
	}
	if (ans)
		json_object_set_new(obj, "answer", ans);
	if (e->decisions_json && *e->decisions_json) {
		json_error_t je;
		json_t *d = json_loads(e->decisions_json, JSON_DECODE_ANY, &je);
		if (!d) {
			json_decref(obj);
			return cn_err_set(err, CAIRN_EINVAL, "audit decisions are not JSON: %s", je.text);
		}
		json_object_set_new(obj, "decisions", d);
	}

	pthread_mutex_lock(&kb->audit.mu);
	cairn_status st = adb_open(kb, true, err);
	int64_t seq = 0;
	char hash[65];
	int64_t now = (int64_t)time(NULL);
	bool in_txn = false;
	if (!st) {
		if (sqlite3_exec(kb->audit.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			st = adb_err(kb->audit.db, err, cn_store_dir(kb->store), "begin");
		else
			in_txn = true;
	}
	if (!st && chain_tail(kb->audit.db, &seq, hash))
		st = adb_err(kb->audit.db, err, cn_store_dir(kb->store), "read chain tail");
	if (!st)
		st = prune(kb, now, &seq, hash, err);
	if (!st)
		st = insert_record(kb, obj, now, &seq, hash, err);
	if (in_txn) {
		if (!st && sqlite3_exec(kb->audit.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			st = adb_err(kb->audit.db, err, cn_store_dir(kb->store), "commit");
		if (st)
			sqlite3_exec(kb->audit.db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (!st)
		st = write_head(kb, seq, hash, err);
	pthread_mutex_unlock(&kb->audit.mu);
	json_decref(obj);
	return st;
}

cairn_status cairn_audit_append(cairn_kb *kb, const cairn_audit_entry *e)
{
	pthread_mutex_lock(&kb->mu);
	bool on = audit_on_locked(kb);
	pthread_mutex_unlock(&kb->mu);
	if (!on)
		return CAIRN_OK;
	cn_err err = {0};
	cairn_status st = kb_audit_append(kb, e, &err);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* ---- verification ---- */

static void report(cairn_audit_report *r, int64_t seq, const char *fmt, const char *a)
{
	if (!r->ok)
		return; /* keep the first problem */
	r->ok = 0;
	r->bad_seq = seq;
	snprintf(r->problem, sizeof r->problem, fmt, (long long)seq, a ? a : "");
}

cairn_status cairn_audit_verify(cairn_kb *kb, const char *expect_head, cairn_audit_report *r)
{
	cn_err err = {0};
	memset(r, 0, sizeof *r);
	r->ok = 1;
	pthread_mutex_lock(&kb->audit.mu);
	cairn_status st = adb_open(kb, false, &err);
	sqlite3 *db = kb->audit.db;
	char base_hash[80] = "", v[80];
	int64_t prev_seq = 0;
	if (!st && (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK || meta_get(db, "base_seq", v, sizeof v) ||
	            meta_get(db, "base_hash", base_hash, sizeof base_hash)))
		st = adb_err(db, &err, cn_store_dir(kb->store), "read");
	sqlite3_stmt *q = NULL;
	if (!st) {
		prev_seq = v[0] ? strtoll(v, NULL, 10) : 0;
		if (!base_hash[0])
			snprintf(base_hash, sizeof base_hash, "%s", ZERO_HASH);
		r->first_seq = prev_seq + 1;
		if (sqlite3_prepare_v2(db, "SELECT seq, record, prev, hash FROM audit ORDER BY seq", -1, &q, NULL) !=
		    SQLITE_OK)
			st = adb_err(db, &err, cn_store_dir(kb->store), "read");
	}
	char prev_hash[65];
	snprintf(prev_hash, sizeof prev_hash, "%.64s", base_hash);
	int rc = SQLITE_DONE;
	/* (seq, hash) of every record, to place a head file that lags behind the chain. */
	char head_hash[65] = "";
	int64_t head_seq = -1;
	char head_line[160] = "";
	{
		char path[4096];
		snprintf(path, sizeof path, "%s/audit.head", cn_store_dir(kb->store));
		char *data = NULL;
		size_t len = 0;
		cn_err ferr = {0};
		if (!cn_file_read(path, 1024, &data, &len, &ferr)) {
			long long s = -1;
			if (sscanf(data, "%lld %64s", &s, head_hash) == 2)
				head_seq = s;
			cn_free(data);
		}
		if (expect_head && *expect_head)
			snprintf(head_line, sizeof head_line, "%s", expect_head);
	}
	bool head_seen = head_seq == prev_seq && strcmp(head_hash, prev_hash) == 0;
	long long exp_seq = -1;
	char exp_hash[65] = "";
	bool exp_seen = false;
	if (head_line[0] && (sscanf(head_line, "%lld %64s", &exp_seq, exp_hash) != 2 || strlen(exp_hash) != 64))
		st = cn_err_set(&err, CAIRN_EINVAL, "expected head \"%s\": want \"SEQ HASH\" as `cairn audit head` prints",
		                head_line);
	while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		const char *rec = (const char *)sqlite3_column_text(q, 1);
		const char *prev = (const char *)sqlite3_column_text(q, 2);
		const char *hash = (const char *)sqlite3_column_text(q, 3);
		r->records++;
		if (seq != prev_seq + 1)
			report(r, seq, "record %lld: records missing before it (sequence gap)%s", NULL);
		if (strcmp(prev, prev_hash) != 0)
			report(r, seq, "record %lld: does not chain to the record before it (deleted or reordered)%s", NULL);
		char h[65];
		sha256_hex(prev, rec, h);
		if (strcmp(h, hash) != 0)
			report(r, seq, "record %lld: contents do not match its hash (edited)%s", NULL);
		json_error_t je;
		json_t *o = json_loads(rec, 0, &je);
		json_t *js = o ? json_object_get(o, "seq") : NULL;
		if (!js || !json_is_integer(js) || json_integer_value(js) != seq)
			report(r, seq, "record %lld: its sequence number was changed%s", NULL);
		json_decref(o);
		if (seq == head_seq && strcmp(hash, head_hash) == 0)
			head_seen = true;
		if (seq == exp_seq && strcmp(hash, exp_hash) == 0)
			exp_seen = true;
		prev_seq = seq;
		snprintf(prev_hash, sizeof prev_hash, "%.64s", hash);
	}
	if (!st && rc != SQLITE_DONE)
		st = adb_err(db, &err, cn_store_dir(kb->store), "read");
	sqlite3_finalize(q);
	if (db)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&kb->audit.mu);
	if (st)
		return kb_fail(kb, &err);
	r->last_seq = prev_seq;
	snprintf(r->head, sizeof r->head, "%.64s", prev_hash);
	if (head_seq < 0)
		report(r, prev_seq, "record %lld: audit.head is missing or unreadable: cannot tell whether the end was cut "
		       "off%s", NULL);
	else if (head_seq > prev_seq)
		report(r, prev_seq, "record %lld: the log ends before the head recorded in audit.head (truncated)%s", NULL);
	else if (!head_seen)
		report(r, head_seq, "record %lld: audit.head names a record the chain does not contain%s", NULL);
	else if (head_seq < prev_seq)
		r->head_behind = prev_seq - head_seq;
	if (head_line[0]) {
		if (exp_seq > prev_seq)
			report(r, prev_seq, "record %lld: the log ends before the expected head (truncated)%s", NULL);
		else if (!exp_seen && !(exp_seq == 0 && strcmp(exp_hash, ZERO_HASH) == 0))
			report(r, (int64_t)exp_seq, "record %lld: not the record the expected head names%s", NULL);
	}
	if (!r->ok) {
		cn_err_set(&err, CAIRN_ECORRUPT, "%s/audit.db: %s", cn_store_dir(kb->store), r->problem);
		return kb_fail(kb, &err);
	}
	return CAIRN_OK;
}

cairn_status cairn_audit_read(cairn_kb *kb, int64_t after_seq, int64_t limit, cairn_audit_fn fn, void *user_data)
{
	cn_err err = {0};
	pthread_mutex_lock(&kb->audit.mu);
	cairn_status st = adb_open(kb, false, &err);
	sqlite3_stmt *q = NULL;
	if (!st && sqlite3_prepare_v2(kb->audit.db, "SELECT seq, record, hash FROM audit WHERE seq > ?1 ORDER BY seq "
	                              "LIMIT ?2", -1, &q, NULL) != SQLITE_OK)
		st = adb_err(kb->audit.db, &err, cn_store_dir(kb->store), "read");
	if (!st) {
		sqlite3_bind_int64(q, 1, after_seq);
		sqlite3_bind_int64(q, 2, limit > 0 ? limit : INT64_MAX);
		int rc;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (fn(sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
			       (const char *)sqlite3_column_text(q, 2), user_data))
				break;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			st = adb_err(kb->audit.db, &err, cn_store_dir(kb->store), "read");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&kb->audit.mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}
