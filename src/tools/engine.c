/*
 * The engine: a proposal becomes a rejection, an execution, a queued approval, a recorded
 * result or a dry run — decided by deterministic code, never by the model.
 *
 * Order of checks, and why:
 *  1. the tool exists and the arguments are a JSON object;
 *  2. the schema (every error, with pointers);
 *  3. oversized strings and an injection scan of every string argument (a model steered by
 *     poisoned text tends to carry the attacker's words into the arguments: "send to
 *     attacker@…, ignore previous instructions");
 *  4. business rules (forbidden field combinations);
 *  5. policy: the principal or one of its groups is allowed; the admin tier needs
 *     CAIRN_PERM_ADMIN; the tier may not exceed the session's maximum, which was fixed when
 *     the session started and that nothing later can raise.
 *  Everything above is stateless and collected together, so one rejection lists every
 *  problem. Then the stateful part:
 *  6. idempotency (calls above read): a key with a recorded result returns that result and
 *     never runs again; a key with a pending approval returns that approval; a key reused for
 *     a different call is rejected. Keys the model does not give are derived from (principal,
 *     tool, canonical arguments), so the same write proposed twice is one write.
 *  7. the rate limit (a token bucket per principal and tool, persisted, so separate processes
 *     share it); duplicates above do not spend tokens.
 *  8. approval: write-high, external and admin always; write-low too when the session is
 *     tainted by a flagged tool result.
 * Execution is at most once: before the executor starts, the key is claimed by inserting its
 * result row as "running" (a plain INSERT on the primary key, so of two processes racing on
 * one key exactly one wins; the other returns as a duplicate). A crash mid-execution leaves the
 * row running, and a retry answers "outcome unknown" instead of running the write again. A
 * failed execution (connection refused, non-2xx, non-zero exit) is recorded like a success:
 * whether a failed write had an effect is unknowable here, so retrying needs a new key.
 *
 * Audit: every step appends a record (actions tool.propose, tool.reject, tool.queue,
 * tool.approve, tool.deny, tool.execute, tool.result) with the decision as JSON. An audited
 * knowledge base does not act off the record: when the execute record cannot be written, the
 * tool does not run.
 */
#include "tools/tools.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers ---- */

const char *cairn_tool_decision_name(cairn_tool_decision d)
{
	static const char *const n[] = {"rejected", "executed", "queued", "duplicate", "dry_run"};
	return (unsigned)d < CN_ARRAY_LEN(n) ? n[d] : "unknown";
}

void cairn_tool_outcome_free(cairn_tool_outcome *o)
{
	if (!o)
		return;
	cn_free(o->errors_json);
	cn_free(o->result);
	cn_free(o->would_run);
	memset(o, 0, sizeof *o);
}

cairn_tool_session cairn_tool_session_default(void)
{
	cairn_tool_session s;
	memset(&s, 0, sizeof s);
	s.max_tier = -1;
	return s;
}

int cn_tools_principal_max_tier(const cairn_principal *p)
{
	if (!p || (p->perms & CAIRN_PERM_ADMIN))
		return CN_TIER_ADMIN;
	return CN_TIER_EXTERNAL;
}

static const char *principal_name(const cairn_principal *p) { return p && p->name ? p->name : "(owner)"; }

static char *canonical(const json_t *v)
{
	char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	char *c = s ? cn_strdup(s) : NULL;
	free(s);
	return c;
}

static void derive_key(const cairn_principal *p, const char *tool, const char *canon, char out[72])
{
	if (sodium_init() < 0) {
		/* BLAKE2b needs no set-up; sodium_init only picks faster code paths */
	}
	crypto_generichash_state st;
	unsigned char h[32];
	const char *who = principal_name(p);
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)"cairn-tool-v1", 14);
	crypto_generichash_update(&st, (const unsigned char *)who, strlen(who) + 1);
	crypto_generichash_update(&st, (const unsigned char *)tool, strlen(tool) + 1);
	crypto_generichash_update(&st, (const unsigned char *)canon, strlen(canon));
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(out, "auto-", 5);
	sodium_bin2hex(out + 5, 72 - 5, h, sizeof h);
}

/* ---- audit ---- */

static cairn_status audit(cairn_tools *t, const char *action, const cairn_principal *p, const char *json, cn_err *err)
{
	if (!t->kb || !cairn_audit_enabled(t->kb))
		return CAIRN_OK;
	cairn_audit_entry e = {.action = action, .principal = p ? p->name : NULL, .decisions_json = json};
	cairn_status st = cairn_audit_append(t->kb, &e);
	if (st)
		return cn_err_set(err, st, "audit trail: %s: %s", action, cairn_kb_errmsg(t->kb));
	return CAIRN_OK;
}

/* {"tool":…,"tier":…,"key":…,"arguments":…} + extra (a JSON fragment starting with ',' or ""). */
static void audit_json(cn_buf *b, const char *tool, int tier, const char *key, const char *canon, const char *extra)
{
	cn_buf_reset(b);
	cn_buf_puts(b, "{\"tool\":");
	cn_buf_put_json_str(b, tool, strlen(tool));
	cn_buf_printf(b, ",\"tier\":\"%s\"", cn_tier_name(tier));
	if (key && *key) {
		cn_buf_puts(b, ",\"key\":");
		cn_buf_put_json_str(b, key, strlen(key));
	}
	cn_buf_puts(b, ",\"arguments\":");
	cn_buf_puts(b, canon && *canon ? canon : "null");
	cn_buf_puts(b, extra ? extra : "");
	cn_buf_putc(b, '}');
}

/* ---- state database ---- */

static cairn_status db_err(cairn_tools *t, const char *what, cn_err *err)
{
	return cn_err_set(err, CAIRN_EIO, "tools state: %s: %s", what, t->db ? sqlite3_errmsg(t->db) : "not open");
}

static cairn_status db_exec(cairn_tools *t, const char *sql, cn_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cairn_status st = cn_err_set(err, CAIRN_EIO, "tools state: %s", msg ? msg : sqlite3_errmsg(t->db));
		sqlite3_free(msg);
		return st;
	}
	return CAIRN_OK;
}

static const char SCHEMA_SQL[] =
	"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS approvals(id INTEGER PRIMARY KEY, created INTEGER, tool TEXT, principal TEXT,"
	" perms INTEGER, groups TEXT, args TEXT, key TEXT, tier TEXT, reason TEXT, state TEXT, decided_by TEXT,"
	" decided_at INTEGER);"
	"CREATE INDEX IF NOT EXISTS approvals_key ON approvals(key);"
	"CREATE TABLE IF NOT EXISTS results(key TEXT PRIMARY KEY, tool TEXT, principal TEXT, args TEXT, state TEXT,"
	" ok INTEGER, status INTEGER, output TEXT, at INTEGER);"
	"CREATE TABLE IF NOT EXISTS buckets(principal TEXT, tool TEXT, tokens REAL, at_ms INTEGER,"
	" PRIMARY KEY(principal, tool));";

static cairn_status db_open(cairn_tools *t, const char *path, cn_err *err)
{
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		cairn_status st = cn_err_set(err, CAIRN_EIO, "%s: %s", path, t->db ? sqlite3_errmsg(t->db) : "cannot open");
		sqlite3_close(t->db);
		t->db = NULL;
		return st;
	}
	sqlite3_busy_timeout(t->db, 10000);
	return db_exec(t, SCHEMA_SQL, err);
}

/* ---- open / close ---- */

static void set_errbuf(char *buf, size_t size, const char *msg)
{
	if (buf && size)
		snprintf(buf, size, "%s", msg);
}

cairn_status cairn_tools_open(cairn_kb *kb, const char *config_path, const char *state_path, cairn_tools **out,
                              char *errbuf, size_t errbuf_size)
{
	*out = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (!config_path) {
		set_errbuf(errbuf, errbuf_size, "tools: no configuration file given");
		return CAIRN_EINVAL;
	}
	cairn_tools *t = cn_calloc(1, sizeof *t);
	if (!t) {
		set_errbuf(errbuf, errbuf_size, "out of memory");
		return CAIRN_ENOMEM;
	}
	t->kb = kb;
	cairn_status st = cn_tools_config_load(config_path, &t->cfg, &err);
	cn_buf p;
	cn_buf_init(&p);
	if (!st) {
		if (state_path) {
			cn_buf_puts(&p, state_path);
		} else {
			const char *slash = strrchr(config_path, '/');
			if (slash)
				cn_buf_append(&p, config_path, (size_t)(slash - config_path + 1));
			cn_buf_puts(&p, "tools.db");
		}
		st = p.failed ? cn_err_set(&err, CAIRN_ENOMEM, "out of memory") : db_open(t, p.data, &err);
	}
	cn_buf_free(&p);
	if (st) {
		set_errbuf(errbuf, errbuf_size, err.msg);
		cairn_tools_close(t);
		return st;
	}
	*out = t;
	return CAIRN_OK;
}

void cairn_tools_close(cairn_tools *t)
{
	if (!t)
		return;
	if (t->db)
		sqlite3_close(t->db);
	cn_tools_config_free(&t->cfg);
	cn_free(t);
}

const char *cairn_tools_errmsg(const cairn_tools *t) { return t ? t->errmsg : "no tools handle"; }

char *cairn_tools_to_json(const cairn_tools *t)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_putc(&b, '[');
	for (size_t i = 0; i < t->cfg.n; i++) {
		const cn_tool *x = &t->cfg.tools[i];
		char *schema = canonical(x->schema);
		cn_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		cn_buf_put_json_str(&b, x->name, strlen(x->name));
		cn_buf_puts(&b, ",\"description\":");
		cn_buf_put_json_str(&b, x->description, strlen(x->description));
		cn_buf_printf(&b, ",\"tier\":\"%s\",\"needs_approval\":%s,\"executor\":\"%s\",\"arguments\":%s",
		              cn_tier_name(x->tier), x->tier >= CN_TIER_WRITE_HIGH ? "true" : "false",
		              x->exec.kind == CN_EXEC_HTTP ? "http" : "command", schema ? schema : "null");
		if (x->rate_per_minute > 0)
			cn_buf_printf(&b, ",\"rate\":{\"per_minute\":%g,\"burst\":%g}", x->rate_per_minute, x->rate_burst);
		cn_buf_putc(&b, '}');
		cn_free(schema);
	}
	cn_buf_putc(&b, ']');
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

/* ---- the stateless checks ---- */

static void ptr_escape(cn_buf *b, const char *k)
{
	for (; *k; k++) {
		if (*k == '~')
			cn_buf_puts(b, "~0");
		else if (*k == '/')
			cn_buf_puts(b, "~1");
		else
			cn_buf_putc(b, *k);
	}
}

/* Every string in v (keys excepted): size cap and injection scan. */
static void scan_strings(const cn_tool *tool, const json_t *v, cn_buf *ptr, cn_schema_errors *errs, int depth)
{
	if (depth > 64)
		return;
	size_t mark = ptr->len;
	if (json_is_string(v)) {
		size_t len = json_string_length(v);
		if (len > tool->max_string) {
			cn_schema_errors_add(errs, ptr->data ? ptr->data : "", "/max_string",
			                     "the string is %zu bytes, more than the tool's limit of %zu", len, tool->max_string);
			return;
		}
		cairn_injection_result r;
		if (cairn_injection_scan(json_string_value(v), len, CAIRN_INJECTION_DOCUMENT, &r, NULL, 0) == CAIRN_OK &&
		    r.flagged) {
			char reasons[256] = "";
			size_t o = 0;
			for (int f = 0; f < CAIRN_INJ_NFEATURES; f++)
				if (r.reasons & (1u << f))
					o += (size_t)snprintf(reasons + o, o < sizeof reasons ? sizeof reasons - o : 0, "%s%s",
					                      o ? "," : "", cairn_injection_feature_name((cairn_injection_feature)f));
			cn_schema_errors_add(errs, ptr->data ? ptr->data : "", "/injection",
			                     "the text looks like a prompt injection (score %.2f: %s)", r.score, reasons);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			cn_buf_printf(ptr, "/%zu", i);
			scan_strings(tool, json_array_get(v, i), ptr, errs, depth + 1);
			ptr->len = mark;
			ptr->data[mark] = '\0';
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			cn_buf_putc(ptr, '/');
			ptr_escape(ptr, k);
			scan_strings(tool, x, ptr, errs, depth + 1);
			ptr->len = mark;
			ptr->data[mark] = '\0';
		}
	}
}

static bool principal_allowed(const cn_tool *tool, const cairn_principal *p)
{
	if (!p)
		return true; /* the local owner */
	if (tool->n_principals + tool->n_groups == 0)
		return true;
	for (size_t i = 0; i < tool->n_principals; i++)
		if (!strcmp(tool->principals[i], "*") || !strcmp(tool->principals[i], p->name))
			return true;
	for (size_t i = 0; i < tool->n_groups; i++)
		for (size_t j = 0; j < p->n_groups; j++)
			if (!strcmp(tool->groups[i], p->groups[j]))
				return true;
	return false;
}

static void check_call(const cn_tool *tool, const json_t *args, const cairn_tool_session *s, int max_tier,
                       cn_schema_errors *errs)
{
	cn_schema_validate(tool->schema, args, errs);
	cn_buf ptr;
	cn_buf_init(&ptr);
	cn_buf_puts(&ptr, "");
	scan_strings(tool, args, &ptr, errs, 0);
	cn_buf_free(&ptr);
	for (size_t i = 0; i < tool->n_forbid; i++) {
		bool all = true;
		size_t n = 0;
		for (char **f = tool->forbid[i]; *f; f++, n++)
			all = all && json_object_get(args, *f) != NULL;
		if (all) {
			char names[300] = "";
			size_t o = 0;
			for (char **f = tool->forbid[i]; *f && o < sizeof names; f++)
				o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", f == tool->forbid[i] ? "" : ", ", *f);
			char sp[32];
			snprintf(sp, sizeof sp, "/forbid/%zu", i);
			cn_schema_errors_add(errs, "", sp, "the fields %s may not be given together", names);
		}
	}
	const cairn_principal *p = s ? s->principal : NULL;
	if (!principal_allowed(tool, p))
		cn_schema_errors_add(errs, "", "/allow", "%s may not call %s", principal_name(p), tool->name);
	if (tool->tier == CN_TIER_ADMIN && p && !(p->perms & CAIRN_PERM_ADMIN))
		cn_schema_errors_add(errs, "", "/tier", "%s is an admin tool and %s lacks the admin permission", tool->name,
		                     principal_name(p));
	if (tool->tier > max_tier)
		cn_schema_errors_add(errs, "", "/tier", "%s is a %s tool, above this session's maximum tier %s", tool->name,
		                     cn_tier_name(tool->tier), cn_tier_name(max_tier));
}

/* ---- the stateful part ---- */

/* Refills and takes one token; *ok = false when the bucket is empty. */
static cairn_status take_token(cairn_tools *t, const cn_tool *tool, const char *who, bool *ok, cn_err *err)
{
	*ok = true;
	if (tool->rate_per_minute <= 0)
		return CAIRN_OK;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* wall clock: buckets are shared between processes */
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	sqlite3_stmt *q = NULL;
	double tokens = tool->rate_burst;
	/* read-modify-write under the write lock: processes sharing the bucket take turns */
	cairn_status st = db_exec(t, "BEGIN IMMEDIATE", err);
	if (st)
		return st;
	if (sqlite3_prepare_v2(t->db, "SELECT tokens, at_ms FROM buckets WHERE principal=?1 AND tool=?2", -1, &q, NULL)) {
		st = db_err(t, "rate", err);
		db_exec(t, "ROLLBACK", NULL);
		return st;
	}
	sqlite3_bind_text(q, 1, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, tool->name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		double prev = sqlite3_column_double(q, 0);
		int64_t at = sqlite3_column_int64(q, 1);
		double elapsed_min = now > at ? (double)(now - at) / 60000.0 : 0;
		tokens = CN_MIN(tool->rate_burst, prev + elapsed_min * tool->rate_per_minute);
	}
	sqlite3_finalize(q);
	if (tokens < 1.0) {
		*ok = false;
		return db_exec(t, "COMMIT", err);
	}
	tokens -= 1.0;
	if (sqlite3_prepare_v2(t->db, "INSERT OR REPLACE INTO buckets(principal, tool, tokens, at_ms) VALUES(?1,?2,?3,?4)",
	                       -1, &q, NULL)) {
		st = db_err(t, "rate", err);
		db_exec(t, "ROLLBACK", NULL);
		return st;
	}
	sqlite3_bind_text(q, 1, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, tool->name, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 3, tokens);
	sqlite3_bind_int64(q, 4, now);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		st = db_err(t, "rate", err);
		db_exec(t, "ROLLBACK", NULL);
		return st;
	}
	return db_exec(t, "COMMIT", err);
}

typedef struct record {
	bool found;
	char *tool, *principal, *args, *state, *output;
	int ok;
} record;

static void record_free(record *r)
{
	cn_free(r->tool);
	cn_free(r->principal);
	cn_free(r->args);
	cn_free(r->state);
	cn_free(r->output);
	memset(r, 0, sizeof *r);
}

static char *col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *s = sqlite3_column_text(q, i);
	return cn_strdup(s ? (const char *)s : "");
}

static cairn_status find_result(cairn_tools *t, const char *key, record *r, cn_err *err)
{
	memset(r, 0, sizeof *r);
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(t->db, "SELECT tool, principal, args, state, ok, output FROM results WHERE key=?1", -1, &q,
	                       NULL))
		return db_err(t, "idempotency", err);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		r->found = true;
		r->tool = col_dup(q, 0);
		r->principal = col_dup(q, 1);
		r->args = col_dup(q, 2);
		r->state = col_dup(q, 3);
		r->ok = sqlite3_column_int(q, 4);
		r->output = col_dup(q, 5);
	}
	sqlite3_finalize(q);
	return CAIRN_OK;
}

static int64_t find_pending(cairn_tools *t, const char *key)
{
	sqlite3_stmt *q = NULL;
	int64_t id = 0;
	if (sqlite3_prepare_v2(t->db, "SELECT id FROM approvals WHERE key=?1 AND state='pending' ORDER BY id LIMIT 1", -1,
	                       &q, NULL))
		return 0;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		id = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return id;
}

static cairn_status set_result(cairn_tools *t, const char *key, const char *tool, const char *who, const char *canon,
                               const char *state, const cn_exec_result *r, cn_err *err)
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(t->db,
	                       "INSERT OR REPLACE INTO results(key, tool, principal, args, state, ok, status, output, at)"
	                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,strftime('%s','now'))",
	                       -1, &q, NULL))
		return db_err(t, "idempotency", err);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, tool, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, canon, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, r ? r->ok : 0);
	sqlite3_bind_int64(q, 7, r ? r->status : 0);
	if (r && r->output)
		sqlite3_bind_text(q, 8, r->output, (int)r->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 8);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CAIRN_OK : db_err(t, "idempotency", err);
}

/* Claims key for one execution: a plain INSERT, so of two processes racing on the same key
 * exactly one gets the row (the other sees a constraint failure and *claimed = false). */
static cairn_status claim_key(cairn_tools *t, const char *key, const char *tool, const char *who, const char *canon,
                              bool *claimed, cn_err *err)
{
	sqlite3_stmt *q = NULL;
	*claimed = false;
	if (sqlite3_prepare_v2(t->db,
	                       "INSERT INTO results(key, tool, principal, args, state, ok, status, output, at)"
	                       " VALUES(?1,?2,?3,?4,'running',0,0,NULL,strftime('%s','now'))",
	                       -1, &q, NULL))
		return db_err(t, "idempotency", err);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, tool, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, who, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, canon, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE) {
		*claimed = true;
		return CAIRN_OK;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? CAIRN_OK : db_err(t, "idempotency", err);
}

static void unclaim_key(cairn_tools *t, const char *key)
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(t->db, "DELETE FROM results WHERE key=?1 AND state='running'", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
}

/* Runs the tool (or takes the replayed response), records the result and audits. A key
 * claimed meanwhile by another process makes this a duplicate. */
static cairn_status execute(cairn_tools *t, const cn_tool *tool, const cairn_principal *p, const char *canon,
                            const char *key, const cn_tool_replay *replay, cairn_tool_outcome *out, cn_err *err)
{
	cn_buf a;
	cn_buf_init(&a);
	cairn_status st = CAIRN_OK;
	const char *who = principal_name(p);
	bool keyed = tool->tier > CN_TIER_READ;
	if (replay) {
		out->result = cn_strdup(replay->response ? replay->response : "");
		out->ok = replay->response_ok;
		out->decision = CAIRN_TOOL_EXECUTED;
		return out->result ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	if (keyed) {
		bool claimed;
		if ((st = claim_key(t, key, tool->name, who, canon, &claimed, err)))
			goto done;
		if (!claimed) {
			record rec;
			if ((st = find_result(t, key, &rec, err)))
				goto done;
			out->decision = CAIRN_TOOL_DUPLICATE;
			out->result = cn_strdup(rec.found && strcmp(rec.state, "running") ? rec.output
			                                                                    : "error: another attempt with this key "
			                                                                      "is running; it is not run again");
			out->ok = rec.found && strcmp(rec.state, "running") ? rec.ok : 0;
			record_free(&rec);
			if (!out->result)
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			goto done;
		}
	}
	audit_json(&a, tool->name, tool->tier, key, canon, "");
	if ((st = audit(t, "tool.execute", p, a.data, err))) {
		if (keyed)
			unclaim_key(t, key); /* not run: a retry may run it */
		goto done;
	}
	cn_exec_result r;
	cn_err xe;
	cn_err_clear(&xe);
	cairn_status xs = cn_exec_run(&tool->exec, canon, &r, &xe);
	if (xs) {
		/* could not run at all: an error result, recorded like any other */
		memset(&r, 0, sizeof r);
		cn_buf m;
		cn_buf_init(&m);
		cn_buf_printf(&m, "error: %s", xe.msg);
		r.len = m.len;
		r.output = cn_buf_take(&m);
		cn_buf_free(&m);
	}
	if (keyed && (st = set_result(t, key, tool->name, who, canon, "done", &r, err))) {
		cn_exec_result_free(&r);
		goto done;
	}
	out->decision = CAIRN_TOOL_EXECUTED;
	out->ok = r.ok;
	out->result = r.output ? r.output : cn_strdup("");
	r.output = NULL;
	char extra[200];
	snprintf(extra, sizeof extra, ",\"ok\":%s,\"status\":%ld,\"truncated\":%s,\"timed_out\":%s,\"bytes\":%zu",
	         out->ok ? "true" : "false", r.status, r.truncated ? "true" : "false", r.timed_out ? "true" : "false",
	         r.len);
	cn_exec_result_free(&r);
	audit_json(&a, tool->name, tool->tier, key, canon, extra);
	st = audit(t, "tool.result", p, a.data, err);
done:
	cn_buf_free(&a);
	return st;
}

cairn_status cn_tools_propose(cairn_tools *t, const char *tool_name, const char *args_json, const char *given_key,
                              const cairn_tool_session *s, const cn_tool_replay *replay, cn_tool_facts *facts,
                              cairn_tool_outcome *out, cn_err *err)
{
	memset(out, 0, sizeof *out);
	cairn_tool_session defs = cairn_tool_session_default();
	if (!s)
		s = &defs;
	const cairn_principal *p = s->principal;
	int max_tier = s->max_tier >= 0 ? CN_MIN(s->max_tier, cn_tools_principal_max_tier(p))
	                                : cn_tools_principal_max_tier(p);
	if (facts)
		memset(facts, 0, sizeof *facts), facts->rate_ok = true;
	cn_schema_errors errs = {0};
	cn_buf a, ebuf;
	cn_buf_init(&a);
	cn_buf_init(&ebuf);
	cairn_status st = CAIRN_OK;
	json_t *args = NULL;
	char *canon = NULL;
	const char *tname = tool_name ? tool_name : "";
	const cn_tool *tool = cn_tools_find(&t->cfg, tname);
	out->tier = tool ? tool->tier : -1;
	json_error_t je;
	if (args_json)
		args = json_loads(args_json, JSON_REJECT_DUPLICATES, &je);
	canon = args ? canonical(args) : NULL;
	if (given_key && (!*given_key || strlen(given_key) > 64))
		cn_schema_errors_add(&errs, "", "/idempotency_key", "an idempotency key is 1-64 bytes");
	else if (given_key)
		snprintf(out->key, sizeof out->key, "%s", given_key);
	else if (canon && tool)
		derive_key(p, tool->name, canon, out->key);

	/* 0. the proposal itself, as received */
	if (!replay) {
		audit_json(&a, tname, tool ? tool->tier : 0, out->key, canon ? canon : NULL, "");
		if ((st = audit(t, "tool.propose", p, a.data, err)))
			goto done;
	}
	if (!tool)
		cn_schema_errors_add(&errs, "", "", "there is no tool called \"%.100s\"", tname);
	if (!args)
		cn_schema_errors_add(&errs, "", "", "the arguments are not JSON: %s", args_json ? je.text : "none given");
	else if (!json_is_object(args))
		cn_schema_errors_add(&errs, "", "/type", "the arguments must be a JSON object");
	if (tool && json_is_object(args))
		check_call(tool, args, s, max_tier, &errs);
	if (errs.oom) {
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	record rec = {0};
	bool rate_ok = true;
	if (errs.n == 0 && tool->tier > CN_TIER_READ) {
		/* idempotency */
		int idem = 0;
		int64_t pending = 0;
		if (replay) {
			idem = replay->idem;
		} else {
			if ((st = find_result(t, out->key, &rec, err)))
				goto done;
			if (rec.found)
				idem = 1;
			else if ((pending = find_pending(t, out->key)))
				idem = 2;
		}
		if (facts)
			facts->idem = idem;
		if (idem == 1 && !replay &&
		    (strcmp(rec.tool, tool->name) || strcmp(rec.principal, principal_name(p)) || strcmp(rec.args, canon))) {
			cn_schema_errors_add(&errs, "", "/idempotency_key",
			                     "the idempotency key was used for a different call (%s by %s)", rec.tool,
			                     rec.principal);
		} else if (idem == 1) {
			out->decision = CAIRN_TOOL_DUPLICATE;
			if (replay) {
				out->result = cn_strdup(replay->response ? replay->response : "");
				out->ok = replay->response_ok;
			} else {
				bool running = !strcmp(rec.state, "running");
				out->result = cn_strdup(running ? "error: an earlier attempt with this key started and did not "
				                                  "finish; its outcome is unknown, so it is not run again"
				                                : rec.output);
				out->ok = running ? 0 : rec.ok;
				audit_json(&a, tool->name, tool->tier, out->key, canon, ",\"duplicate\":true");
				st = audit(t, "tool.result", p, a.data, err);
			}
			record_free(&rec);
			if (!out->result && !st)
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			goto done;
		} else if (idem == 2) {
			out->decision = CAIRN_TOOL_QUEUED;
			out->needs_approval = 1;
			out->approval_id = pending;
			record_free(&rec);
			goto done;
		}
		record_free(&rec);
	}
	if (errs.n == 0) {
		if (replay)
			rate_ok = replay->rate_ok;
		else if (!s->dry_run && (st = take_token(t, tool, principal_name(p), &rate_ok, err)))
			goto done;
		if (facts)
			facts->rate_ok = rate_ok;
		if (!rate_ok)
			cn_schema_errors_add(&errs, "", "/rate", "rate limit: at most %g calls a minute (burst %g) for %s",
			                     tool->rate_per_minute, tool->rate_burst, principal_name(p));
	}
	if (errs.n) {
		out->decision = CAIRN_TOOL_REJECTED;
		cn_schema_errors_json(&errs, &ebuf);
		out->errors_json = cn_buf_take(&ebuf);
		if (!replay) {
			cn_buf extra;
			cn_buf_init(&extra);
			cn_buf_puts(&extra, ",\"errors\":");
			cn_buf_puts(&extra, out->errors_json ? out->errors_json : "[]");
			audit_json(&a, tname, tool ? tool->tier : 0, out->key, canon, extra.data);
			cn_buf_free(&extra);
			st = audit(t, "tool.reject", p, a.data, err);
		}
		goto done;
	}
	out->needs_approval = tool->tier >= CN_TIER_WRITE_HIGH || (s->tainted && tool->tier > CN_TIER_READ);
	if (s->dry_run) {
		out->decision = CAIRN_TOOL_DRY_RUN;
		cn_buf w;
		cn_buf_init(&w);
		cn_exec_describe(&tool->exec, canon, &w);
		out->would_run = w.data ? cn_buf_take(&w) : cn_strdup("");
		cn_buf_free(&w);
		goto done;
	}
	if (out->needs_approval) {
		out->decision = CAIRN_TOOL_QUEUED;
		if (replay)
			goto done;
		const char *reason = tool->tier >= CN_TIER_WRITE_HIGH ? "tier" : "tainted session";
		sqlite3_stmt *q = NULL;
		char groups[2048] = "";
		size_t o = 0;
		for (size_t i = 0; p && i < p->n_groups && o < sizeof groups; i++)
			o += (size_t)snprintf(groups + o, sizeof groups - o, "%s%s", i ? "," : "", p->groups[i]);
		if (sqlite3_prepare_v2(t->db,
		                       "INSERT INTO approvals(created, tool, principal, perms, groups, args, key, tier, reason,"
		                       " state) VALUES(strftime('%s','now'),?1,?2,?3,?4,?5,?6,?7,?8,'pending')",
		                       -1, &q, NULL)) {
			st = db_err(t, "approvals", err);
			goto done;
		}
		sqlite3_bind_text(q, 1, tool->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, principal_name(p), -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, p ? (int64_t)p->perms : -1);
		sqlite3_bind_text(q, 4, groups, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, canon, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, out->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, cn_tier_name(tool->tier), -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 8, reason, -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE) {
			st = db_err(t, "approvals", err);
			goto done;
		}
		out->approval_id = sqlite3_last_insert_rowid(t->db);
		char extra[160];
		snprintf(extra, sizeof extra, ",\"approval_id\":%lld,\"reason\":\"%s\"", (long long)out->approval_id,
		         reason);
		audit_json(&a, tool->name, tool->tier, out->key, canon, extra);
		st = audit(t, "tool.queue", p, a.data, err);
		goto done;
	}
	st = execute(t, tool, p, canon, out->key, replay, out, err);
done:
	cn_schema_errors_free(&errs);
	cn_buf_free(&a);
	cn_buf_free(&ebuf);
	json_decref(args);
	cn_free(canon);
	return st;
}

cairn_status cairn_tools_propose(cairn_tools *t, const char *tool, const char *args_json, const char *idempotency_key,
                                 const cairn_tool_session *session, cairn_tool_outcome *out)
{
	cn_err err;
	cn_err_clear(&err);
	t->errmsg[0] = '\0';
	cairn_status st = cn_tools_propose(t, tool, args_json, idempotency_key, session, NULL, NULL, out, &err);
	if (st)
		snprintf(t->errmsg, sizeof t->errmsg, "%s", err.msg);
	return st;
}

/* ---- approvals ---- */

cairn_status cairn_tools_approvals(cairn_tools *t, int pending_only, char **json)
{
	*json = NULL;
	sqlite3_stmt *q = NULL;
	const char *sql = pending_only ? "SELECT id, created, tool, principal, args, key, tier, reason, state, decided_by,"
	                                 " decided_at FROM approvals WHERE state='pending' ORDER BY id"
	                               : "SELECT id, created, tool, principal, args, key, tier, reason, state, decided_by,"
	                                 " decided_at FROM approvals ORDER BY id";
	if (sqlite3_prepare_v2(t->db, sql, -1, &q, NULL)) {
		snprintf(t->errmsg, sizeof t->errmsg, "tools state: %s", sqlite3_errmsg(t->db));
		return CAIRN_EIO;
	}
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_putc(&b, '[');
	int n = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *names[] = {"tool", "principal", NULL, "key", "tier", "reason", "state", "decided_by"};
		cn_buf_printf(&b, "%s{\"id\":%lld,\"created\":%lld", n++ ? "," : "", (long long)sqlite3_column_int64(q, 0),
		              (long long)sqlite3_column_int64(q, 1));
		for (int i = 2; i < 10; i++) {
			const char *v = (const char *)sqlite3_column_text(q, i);
			if (i == 4) {
				cn_buf_printf(&b, ",\"arguments\":%s", v ? v : "null");
				continue;
			}
			if (!v)
				continue;
			cn_buf_printf(&b, ",\"%s\":", names[i - 2]);
			cn_buf_put_json_str(&b, v, strlen(v));
		}
		if (sqlite3_column_type(q, 10) != SQLITE_NULL)
			cn_buf_printf(&b, ",\"decided_at\":%lld", (long long)sqlite3_column_int64(q, 10));
		cn_buf_putc(&b, '}');
	}
	sqlite3_finalize(q);
	cn_buf_putc(&b, ']');
	if (b.failed) {
		cn_buf_free(&b);
		return CAIRN_ENOMEM;
	}
	*json = cn_buf_take(&b);
	return CAIRN_OK;
}

cairn_status cairn_tools_decide(cairn_tools *t, int64_t id, int approve, const cairn_principal *approver,
                                cairn_tool_outcome *out)
{
	memset(out, 0, sizeof *out);
	t->errmsg[0] = '\0';
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = CAIRN_OK;
	if (approver && !(approver->perms & CAIRN_PERM_ADMIN)) {
		snprintf(t->errmsg, sizeof t->errmsg, "approval %lld: %s lacks the admin permission needed to decide",
		         (long long)id, approver->name);
		return CAIRN_EPERM;
	}
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(t->db, "SELECT tool, principal, perms, groups, args, key, state FROM approvals WHERE id=?1",
	                       -1, &q, NULL)) {
		snprintf(t->errmsg, sizeof t->errmsg, "tools state: %s", sqlite3_errmsg(t->db));
		return CAIRN_EIO;
	}
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		snprintf(t->errmsg, sizeof t->errmsg, "no approval %lld", (long long)id);
		return CAIRN_ENOTFOUND;
	}
	char *tool_name = col_dup(q, 0), *who = col_dup(q, 1), *args = col_dup(q, 4), *key = col_dup(q, 5),
	     *state = col_dup(q, 6);
	int64_t perms = sqlite3_column_int64(q, 2);
	sqlite3_finalize(q);
	cn_buf a;
	cn_buf_init(&a);
	/* The proposer, for the audit records and the executor: the name and permissions as they
	 * were when the call was proposed (groups are not needed past the policy check). */
	cairn_principal proposer = {.name = who, .perms = perms < 0 ? 0 : (unsigned)perms};
	const cairn_principal *pp = perms < 0 ? NULL : &proposer;
	const cn_tool *tool = cn_tools_find(&t->cfg, tool_name);
	if (!tool_name || !who || !args || !key || !state) {
		st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	if (strcmp(state, "pending")) {
		st = cn_err_set(&err, CAIRN_EINVAL, "approval %lld is already %s", (long long)id, state);
		goto done;
	}
	/* four eyes: a principal does not approve its own call (the owner, who runs the CLI
	 * without --as, is the operator and may) */
	if (approve && approver && approver->name && !strcmp(approver->name, who)) {
		st = cn_err_set(&err, CAIRN_EPERM, "approval %lld: %s may not approve its own call", (long long)id, who);
		goto done;
	}
	if (!tool) {
		st = cn_err_set(&err, CAIRN_ENOTFOUND, "approval %lld: the tool %s is no longer configured", (long long)id,
		                tool_name);
		goto done;
	}
	char extra[300];
	snprintf(extra, sizeof extra, ",\"approval_id\":%lld,\"decided_by\":\"%s\",\"proposed_by\":\"%s\"",
	         (long long)id, principal_name(approver), who);
	audit_json(&a, tool->name, tool->tier, key, args, extra);
	if ((st = audit(t, approve ? "tool.approve" : "tool.deny", approver, a.data, &err)))
		goto done;
	if (sqlite3_prepare_v2(t->db,
	                       "UPDATE approvals SET state=?1, decided_by=?2, decided_at=strftime('%s','now') WHERE id=?3"
	                       " AND state='pending'",
	                       -1, &q, NULL)) {
		st = db_err(t, "approvals", &err);
		goto done;
	}
	sqlite3_bind_text(q, 1, approve ? "approved" : "denied", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, principal_name(approver), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, id);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || sqlite3_changes(t->db) != 1) {
		st = rc != SQLITE_DONE ? db_err(t, "approvals", &err)
		                       : cn_err_set(&err, CAIRN_EINVAL, "approval %lld was decided meanwhile", (long long)id);
		goto done;
	}
	snprintf(out->key, sizeof out->key, "%s", key);
	out->tier = tool->tier;
	out->approval_id = id;
	if (!approve) {
		out->decision = CAIRN_TOOL_REJECTED;
		goto done;
	}
	/* Re-validate against the configuration as it is now, then execute once. */
	json_t *av = json_loads(args, 0, NULL);
	bool valid = av && cn_schema_validate(tool->schema, av, NULL);
	json_decref(av);
	if (!valid) {
		st = cn_err_set(&err, CAIRN_EINVAL, "approval %lld: the arguments no longer satisfy %s's schema",
		                (long long)id, tool->name);
		goto done;
	}
	record rec;
	if ((st = find_result(t, key, &rec, &err)))
		goto done;
	if (rec.found) {
		out->decision = CAIRN_TOOL_DUPLICATE;
		out->result = cn_strdup(rec.output);
		out->ok = rec.ok;
		record_free(&rec);
		goto done;
	}
	st = execute(t, tool, pp, args, key, NULL, out, &err);
	if (!st && sqlite3_prepare_v2(t->db, "UPDATE approvals SET state='executed' WHERE id=?1", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_step(q);
		sqlite3_finalize(q);
	}
done:
	if (st)
		snprintf(t->errmsg, sizeof t->errmsg, "%s", err.msg);
	cn_buf_free(&a);
	cn_free(tool_name);
	cn_free(who);
	cn_free(args);
	cn_free(key);
	cn_free(state);
	return st;
}

cairn_status cairn_schema_validate(const char *schema_json, const char *instance_json, char **errors_json,
                                   char *errbuf, size_t errbuf_size)
{
	if (errors_json)
		*errors_json = NULL;
	json_error_t je;
	json_t *s = json_loads(schema_json ? schema_json : "", JSON_DECODE_ANY, &je);
	if (!s) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "schema: %s", je.text);
		return CAIRN_EINVAL;
	}
	cn_err err;
	cn_err_clear(&err);
	if (cn_schema_check(s, "schema", &err)) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "%s", err.msg);
		json_decref(s);
		return CAIRN_EINVAL;
	}
	json_t *x = json_loads(instance_json ? instance_json : "", JSON_DECODE_ANY, &je);
	if (!x) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "instance: %s", je.text);
		json_decref(s);
		return CAIRN_EINVAL;
	}
	cn_schema_errors errs = {0};
	bool ok = cn_schema_validate(s, x, &errs);
	cairn_status st = ok ? CAIRN_OK : errs.oom ? CAIRN_ENOMEM : CAIRN_EFORMAT;
	if (!ok && errors_json) {
		cn_buf b;
		cn_buf_init(&b);
		cn_schema_errors_json(&errs, &b);
		*errors_json = cn_buf_take(&b);
		cn_buf_free(&b);
	}
	cn_schema_errors_free(&errs);
	json_decref(s);
	json_decref(x);
	return st;
}
