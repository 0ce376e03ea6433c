/*
 * tools — tool use with guardrails: the model only proposes an action; this module decides.
 *
 * Pieces, bottom up:
 *  - schema.c: a JSON Schema (draft 2020-12) validator over jansson values. The schema is
 *    checked strictly once (cn_schema_check: every keyword known, every value well-typed,
 *    patterns compiled), so a typo in a tool's schema is a configuration error rather than a
 *    silently ignored constraint; validation reports every error with JSON pointers into the
 *    instance and the schema.
 *  - config.c: the tools file (tools.json): declarations, tiers, who may call, rate limits,
 *    forbidden field combinations, executors; strict (unknown keys are errors).
 *  - exec.c: the two executors — an HTTP POST/GET of the arguments (libcurl, no redirects,
 *    timeout, response cap) and a local command (posix_spawn, argv only, no shell, timeout
 *    then SIGKILL, environment allowlist, output cap).
 *  - engine.c: propose → validate → reject | run | queue; the SQLite state (approvals,
 *    idempotency records, rate buckets) and the audit records.
 *  - loop.c: the conversation with a model (OpenAI tool_calls, or a local model under a JSON
 *    schema), the trace file and its replay.
 * Depends on base, text and remote, and on the public API (principals, audit, injection scan,
 * fences, generation).
 */
#ifndef CAIRN_TOOLS_H
#define CAIRN_TOOLS_H

#include <jansson.h>

#include "base/base.h"

/* ---- schema ---- */

typedef struct cn_schema_error {
	char *instance; /* JSON pointer into the instance ("" = the whole value) */
	char *schema;   /* JSON pointer to the failing keyword in the schema */
	char *message;
} cn_schema_error;

typedef struct cn_schema_errors {
	cn_schema_error *v;
	size_t n, cap;
	bool truncated; /* more than CN_SCHEMA_MAX_ERRORS */
	bool oom;
} cn_schema_errors;

#define CN_SCHEMA_MAX_ERRORS 100

/* Checks that schema is a schema this validator understands completely: every keyword
 * known, every value of the right type. where names the schema in messages; the message
 * names the offending keyword and its JSON pointer. */
cairn_status cn_schema_check(const json_t *schema, const char *where, cn_err *err);
/* true when instance is valid; otherwise errs (may be NULL) gets every error found. Assumes
 * cn_schema_check passed. */
bool cn_schema_validate(const json_t *schema, const json_t *instance, cn_schema_errors *errs);
void cn_schema_errors_free(cn_schema_errors *e);
/* Appends errors as a JSON array [{"instance":…,"schema":…,"message":…}]. */
void cn_schema_errors_json(const cn_schema_errors *e, cn_buf *out);
/* Adds an error (policy errors share the list). */
void cn_schema_errors_add(cn_schema_errors *e, const char *instance, const char *schema, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* JSON equality as JSON Schema defines it (1 == 1.0; objects unordered). */
bool cn_json_equal(const json_t *a, const json_t *b);
/* The string format checks, exposed for tests. */
bool cn_format_valid(const char *format, const char *s, size_t len);
bool cn_format_known(const char *format);

/* ---- config ---- */

typedef enum cn_tier {
	CN_TIER_READ = 0,
	CN_TIER_WRITE_LOW,
	CN_TIER_WRITE_HIGH,
	CN_TIER_EXTERNAL,
	CN_TIER_ADMIN,
	CN_TIER_COUNT
} cn_tier;

const char *cn_tier_name(int tier);
int cn_tier_parse(const char *s); /* -1 when unknown */

typedef enum cn_exec_kind { CN_EXEC_HTTP = 0, CN_EXEC_COMMAND = 1 } cn_exec_kind;

typedef struct cn_executor {
	cn_exec_kind kind;
	/* http */
	char *url;
	bool get;                 /* GET with the top-level scalar arguments as the query */
	/* command */
	char **argv;              /* argv[0] is an absolute path */
	size_t argc;
	bool args_stdin;          /* the arguments' JSON on stdin (else appended as one argv entry) */
	char **env;               /* allowlisted variable names, copied from cairn's environment */
	size_t n_env;
	/* both */
	long timeout_ms;          /* default 10000 */
	size_t max_output;        /* default 1 MiB */
} cn_executor;

typedef struct cn_tool {
	char *name;
	char *description;
	json_t *schema;           /* "arguments" */
	int tier;                 /* cn_tier */
	char **principals;        /* allowed names ("*" = any); NULL/0 with groups = groups only */
	size_t n_principals;
	char **groups;
	size_t n_groups;
	double rate_per_minute;   /* 0 = no limit */
	double rate_burst;        /* bucket size (default = max(1, rate_per_minute)) */
	char ***forbid;           /* forbid[i] = NULL-terminated field names that may not appear together */
	size_t n_forbid;
	size_t max_string;        /* any string argument longer is rejected (default 4096) */
	cn_executor exec;
} cn_tool;

typedef struct cn_tools_config {
	cn_tool *tools;
	size_t n;
	char *path;
} cn_tools_config;

cairn_status cn_tools_config_load(const char *path, cn_tools_config *out, cn_err *err);
cairn_status cn_tools_config_parse(const char *text, size_t len, const char *where, cn_tools_config *out, cn_err *err);
void cn_tools_config_free(cn_tools_config *c);
const cn_tool *cn_tools_find(const cn_tools_config *c, const char *name);

/* ---- executors ---- */

typedef struct cn_exec_result {
	bool ok;                  /* 2xx / exit status 0 */
	char *output;             /* response body / stdout (NUL-terminated), possibly truncated */
	size_t len;
	bool truncated;
	long status;              /* HTTP status or exit status (-signal when killed) */
	bool timed_out;
} cn_exec_result;

/* Runs the executor with the arguments' canonical JSON. A failure to run at all (no such
 * program, connection refused) is an error; a non-2xx answer or non-zero exit is a result
 * with ok = false. */
cairn_status cn_exec_run(const cn_executor *x, const char *args_json, cn_exec_result *out, cn_err *err);
void cn_exec_result_free(cn_exec_result *r);
/* What would run, for --dry-run ("POST http://… {…}", "/bin/x a b '{…}'"). */
void cn_exec_describe(const cn_executor *x, const char *args_json, cn_buf *out);
/* A POST of body (JSON) to url, with the timeout and a response cap; shared by the model
 * loop. status gets the HTTP status. */
cairn_status cn_http_post_json(const char *url, const char *body, const char *bearer, long timeout_ms,
                               size_t max_bytes, long *status, cn_buf *resp, cn_err *err);

/* ---- engine (engine.c), shared with the loop ---- */

#include <sqlite3.h>

struct cairn_tools {
	cairn_kb *kb;             /* borrowed; NULL = no audit */
	cn_tools_config cfg;
	sqlite3 *db;              /* NULL in replay-only use */
	char errmsg[CN_ERRMSG_MAX];
};

/* Replay: the state-dependent facts of a recorded decision stand in for the state database,
 * and the recorded response for the executor. */
typedef struct cn_tool_replay {
	bool rate_ok;
	int idem;                 /* 0 no record, 1 a recorded result, 2 a pending approval */
	const char *response;     /* the recorded tool output (executed / duplicate) */
	bool response_ok;
} cn_tool_replay;

/* What the state database said during a live decision (written to the trace). */
typedef struct cn_tool_facts {
	bool rate_ok;
	int idem;
} cn_tool_facts;

cairn_status cn_tools_propose(cairn_tools *t, const char *tool, const char *args_json, const char *key,
                              const cairn_tool_session *s, const cn_tool_replay *replay, cn_tool_facts *facts,
                              cairn_tool_outcome *out, cn_err *err);
/* The highest tier a session of this principal may reach. */
int cn_tools_principal_max_tier(const cairn_principal *p);

#endif
