/*
 * tools.c — the CLI of tool use: `cairn tools list|validate|call|run`, `cairn approvals
 * list|approve|deny`, `cairn replay TRACE`.
 *
 * The tools file is --tools FILE or KB/tools.json; its state (approvals, idempotency records,
 * rate buckets) is tools.db beside it unless --state FILE. --as PRINCIPAL proposes (or
 * decides) as that principal; without it the CLI is the knowledge base's owner, as
 * everywhere else. Exit statuses: 0 done, 1 an error, 2 a usage error, 3 a call rejected
 * (`tools call`) or a replay that did not reproduce every decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn.h"
#include "commands.h"

typedef struct tools_opts {
	const char *tools;
	const char *state;
	const char *as;
	bool json;
} tools_opts;

static bool common_option(int argc, char **argv, int *i, tools_opts *o)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--tools"))
		o->tools = cli_need(argc, argv, i);
	else if (!strcmp(a, "--state"))
		o->state = cli_need(argc, argv, i);
	else if (!strcmp(a, "--as"))
		o->as = cli_need(argc, argv, i);
	else if (!strcmp(a, "--json"))
		o->json = true;
	else
		return false;
	return true;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The KB (when it exists or is needed), the principal, the tools handle; exits 1 on failure. */
typedef struct tools_env {
	cairn_kb *kb;
	cairn_principal *who;
	cairn_tools *t;
	char path[4096];
} tools_env;

static void env_open(tools_env *e, const char *kbdir, const tools_opts *o, bool need_kb)
{
	memset(e, 0, sizeof *e);
	if (need_kb || o->as || is_dir(kbdir))
		e->kb = cli_open_kb(kbdir, need_kb, false);
	if (o->as) {
		if (cairn_principal_get(e->kb, o->as, &e->who) != CAIRN_OK) {
			fprintf(stderr, "%s: --as %s: %s\n", cli_prog, o->as, cairn_kb_errmsg(e->kb));
			exit(1);
		}
	}
	if (o->tools)
		snprintf(e->path, sizeof e->path, "%s", o->tools);
	else
		snprintf(e->path, sizeof e->path, "%s/tools.json", kbdir);
	char err[1024] = "";
	if (cairn_tools_open(e->kb, e->path, o->state, &e->t, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		exit(1);
	}
}

static void env_close(tools_env *e)
{
	cairn_tools_close(e->t);
	cairn_principal_free(e->who);
	if (e->kb)
		cairn_kb_close(e->kb);
}

static void print_outcome(const cairn_tool_outcome *o, bool json)
{
	if (json) {
		printf("{\"decision\":\"%s\",\"key\":", cairn_tool_decision_name(o->decision));
		cli_print_json_string(stdout, o->key);
		if (o->errors_json)
			printf(",\"errors\":%s", o->errors_json);
		if (o->decision == CAIRN_TOOL_EXECUTED || o->decision == CAIRN_TOOL_DUPLICATE) {
			printf(",\"ok\":%s,\"result\":", o->ok ? "true" : "false");
			cli_print_json_string(stdout, o->result ? o->result : "");
		}
		if (o->approval_id)
			printf(",\"approval_id\":%lld", (long long)o->approval_id);
		printf(",\"needs_approval\":%s", o->needs_approval ? "true" : "false");
		if (o->would_run) {
			printf(",\"would_run\":");
			cli_print_json_string(stdout, o->would_run);
		}
		printf("}\n");
		return;
	}
	printf("%s", cairn_tool_decision_name(o->decision));
	if (o->approval_id)
		printf(" (approval %lld)", (long long)o->approval_id);
	if (o->decision == CAIRN_TOOL_DRY_RUN)
		printf("%s: %s", o->needs_approval ? " (would need approval)" : "", o->would_run ? o->would_run : "");
	putchar('\n');
	if (o->errors_json)
		printf("errors: %s\n", o->errors_json);
	if (o->result)
		printf("%s%s", o->result, *o->result && o->result[strlen(o->result) - 1] == '\n' ? "" : "\n");
}

static int cmd_list(const char *kbdir, int argc, char **argv)
{
	tools_opts o = {0};
	for (int i = 0; i < argc; i++)
		if (!common_option(argc, argv, &i, &o))
			cli_die_usage("tools list: unknown option %s", argv[i]);
	tools_env e;
	env_open(&e, kbdir, &o, false);
	char *j = cairn_tools_to_json(e.t);
	if (o.json) {
		printf("%s\n", j ? j : "[]");
	} else {
		/* name, tier, description: from the JSON to keep one source of truth */
		char *save = j;
		const char *p = j;
		while (p && (p = strstr(p, "{\"name\":\""))) {
			p += 9;
			const char *q = strchr(p, '"');
			const char *tier = strstr(q, "\"tier\":\"");
			if (!q || !tier)
				break;
			tier += 8;
			const char *te = strchr(tier, '"');
			printf("%-24.*s %.*s\n", (int)(q - p), p, (int)(te - tier), tier);
			p = te;
		}
		j = save;
	}
	cairn_free(j);
	env_close(&e);
	return 0;
}

static int cmd_validate(const char *kbdir, int argc, char **argv)
{
	tools_opts o = {0};
	const char *schema = NULL, *instance = NULL;
	for (int i = 0; i < argc; i++) {
		if (common_option(argc, argv, &i, &o))
			continue;
		if (!strcmp(argv[i], "--schema"))
			schema = cli_need(argc, argv, &i);
		else if (!strcmp(argv[i], "--instance"))
			instance = cli_need(argc, argv, &i);
		else
			cli_die_usage("tools validate: unknown option %s", argv[i]);
	}
	if (schema || instance) {
		if (!schema || !instance)
			cli_die_usage("tools validate: --schema JSON and --instance JSON go together");
		char *errs = NULL, eb[1024] = "";
		cairn_status st = cairn_schema_validate(schema, instance, &errs, eb, sizeof eb);
		if (st == CAIRN_OK)
			printf("valid\n");
		else if (st == CAIRN_EFORMAT)
			printf("invalid: %s\n", errs ? errs : "[]");
		else
			fprintf(stderr, "%s: %s\n", cli_prog, eb);
		cairn_free(errs);
		return st == CAIRN_OK ? 0 : st == CAIRN_EFORMAT ? 3 : 1;
	}
	tools_env e;
	env_open(&e, kbdir, &o, false);
	char *j = cairn_tools_to_json(e.t);
	size_t n = 0;
	for (const char *p = j; p && (p = strstr(p, "{\"name\":")); p++)
		n++;
	printf("%s: ok, %zu tool(s)\n", e.path, n);
	cairn_free(j);
	env_close(&e);
	return 0;
}

static int cmd_call(const char *kbdir, int argc, char **argv)
{
	tools_opts o = {0};
	const char *key = NULL, *tool = NULL, *args = NULL;
	cairn_tool_session s = cairn_tool_session_default();
	for (int i = 0; i < argc; i++) {
		if (common_option(argc, argv, &i, &o))
			continue;
		if (!strcmp(argv[i], "--key"))
			key = cli_need(argc, argv, &i);
		else if (!strcmp(argv[i], "--dry-run"))
			s.dry_run = 1;
		else if (!strcmp(argv[i], "--tainted"))
			s.tainted = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_die_usage("tools call: unknown option %s", argv[i]);
		else if (!tool)
			tool = argv[i];
		else if (!args)
			args = argv[i];
		else
			cli_die_usage("tools call: one TOOL and one ARGS_JSON");
	}
	if (!tool || !args)
		cli_die_usage("tools call needs TOOL and ARGS_JSON");
	tools_env e;
	env_open(&e, kbdir, &o, true);
	s.principal = e.who;
	cairn_tool_outcome out;
	cairn_status st = cairn_tools_propose(e.t, tool, args, key, &s, &out);
	int rc = 0;
	if (st) {
		fprintf(stderr, "%s: %s\n", cli_prog, cairn_tools_errmsg(e.t));
		rc = 1;
	} else {
		print_outcome(&out, o.json);
		rc = out.decision == CAIRN_TOOL_REJECTED ? 3 : 0;
	}
	cairn_tool_outcome_free(&out);
	env_close(&e);
	return rc;
}

static int cmd_run(const char *kbdir, int argc, char **argv)
{
	tools_opts o = {0};
	cairn_tools_run_params p = cairn_tools_run_default_params();
	const char *request = NULL, *max_tier = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (common_option(argc, argv, &i, &o))
			continue;
		if (!strcmp(a, "--endpoint"))
			p.endpoint = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--llm-model"))
			p.model_name = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--api-key-env"))
			p.api_key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--local-model"))
			p.local_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--local-tokenizer"))
			p.local_tokenizer = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--chat-template"))
			p.chat_template = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--trace"))
			p.trace_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--max-turns"))
			p.max_turns = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100);
		else if (!strcmp(a, "--max-tokens"))
			p.max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 8192);
		else if (!strcmp(a, "--timeout-ms"))
			p.timeout_ms = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 3600000);
		else if (!strcmp(a, "--max-tier"))
			max_tier = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--dry-run"))
			p.session.dry_run = 1;
		else if (a[0] == '-' && a[1])
			cli_die_usage("tools run: unknown option %s", a);
		else if (!request)
			request = a;
		else
			cli_die_usage("tools run: one REQUEST (quote it)");
	}
	if (!request)
		cli_die_usage("tools run needs a REQUEST");
	if (!!p.endpoint == !!p.local_model)
		cli_die_usage("tools run needs --endpoint URL or --local-model FILE (one of them)");
	if (max_tier) {
		static const char *const names[] = {"read", "write-low", "write-high", "external", "admin"};
		p.session.max_tier = -2;
		for (int k = 0; k < 5; k++)
			if (!strcmp(max_tier, names[k]))
				p.session.max_tier = k;
		if (p.session.max_tier == -2)
			cli_die_usage("--max-tier: read, write-low, write-high, external or admin");
	}
	tools_env e;
	env_open(&e, kbdir, &o, true);
	p.session.principal = e.who;
	cairn_tools_run_report r;
	cairn_status st = cairn_tools_run(e.t, request, &p, &r);
	int rc = 0;
	if (st) {
		fprintf(stderr, "%s: %s\n", cli_prog, cairn_tools_errmsg(e.t));
		rc = 1;
	}
	if (o.json) {
		printf("{\"final\":");
		cli_print_json_string(stdout, r.final ? r.final : "");
		printf(",\"turns\":%d,\"proposals\":%d,\"rejected\":%d,\"executed\":%d,\"queued\":%d,\"duplicates\":%d,"
		       "\"high_tier_proposals\":%d,\"high_tier_executed\":%d,\"flagged_results\":%d,\"tainted\":%s}\n",
		       r.turns, r.proposals, r.rejected, r.executed, r.queued, r.duplicates, r.high_tier_proposals,
		       r.high_tier_executed, r.flagged_results, r.tainted ? "true" : "false");
	} else {
		if (r.final)
			printf("%s\n", r.final);
		fprintf(stderr, "%d turn(s): %d proposal(s), %d executed, %d queued for approval, %d rejected%s\n", r.turns,
		        r.proposals, r.executed, r.queued, r.rejected, r.tainted ? "; a tool result was flagged" : "");
	}
	cairn_tools_run_report_free(&r);
	env_close(&e);
	return rc;
}

int cli_cmd_tools(const char *kbdir, int argc, char **argv)
{
	if (argc < 1)
		cli_die_usage("tools needs list, validate, call or run");
	const char *sub = argv[0];
	if (!strcmp(sub, "list"))
		return cmd_list(kbdir, argc - 1, argv + 1);
	if (!strcmp(sub, "validate"))
		return cmd_validate(kbdir, argc - 1, argv + 1);
	if (!strcmp(sub, "call"))
		return cmd_call(kbdir, argc - 1, argv + 1);
	if (!strcmp(sub, "run"))
		return cmd_run(kbdir, argc - 1, argv + 1);
	cli_die_usage("tools: unknown subcommand %s (list, validate, call, run)", sub);
}

int cli_cmd_approvals(const char *kbdir, int argc, char **argv)
{
	if (argc < 1)
		cli_die_usage("approvals needs list, approve ID or deny ID");
	const char *sub = argv[0];
	tools_opts o = {0};
	bool all = false;
	const char *id = NULL;
	for (int i = 1; i < argc; i++) {
		if (common_option(argc, argv, &i, &o))
			continue;
		if (!strcmp(argv[i], "--all"))
			all = true;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_die_usage("approvals: unknown option %s", argv[i]);
		else if (!id)
			id = argv[i];
		else
			cli_die_usage("approvals: one ID");
	}
	bool list = !strcmp(sub, "list");
	if (!list && strcmp(sub, "approve") && strcmp(sub, "deny"))
		cli_die_usage("approvals: unknown subcommand %s (list, approve, deny)", sub);
	if (!list && !id)
		cli_die_usage("approvals %s needs an ID", sub);
	tools_env e;
	env_open(&e, kbdir, &o, true);
	int rc = 0;
	if (list) {
		char *j = NULL;
		if (cairn_tools_approvals(e.t, !all, &j) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, cairn_tools_errmsg(e.t));
			rc = 1;
		} else {
			printf("%s\n", j);
		}
		cairn_free(j);
	} else {
		long n = cli_parse_long("ID", id, 1, 0x7fffffffL);
		cairn_tool_outcome out;
		cairn_status st = cairn_tools_decide(e.t, n, !strcmp(sub, "approve"), e.who, &out);
		if (st) {
			fprintf(stderr, "%s: %s\n", cli_prog, cairn_tools_errmsg(e.t));
			rc = 1;
		} else if (!strcmp(sub, "deny")) {
			printf(o.json ? "{\"decision\":\"denied\",\"id\":%ld}\n" : "denied %ld\n", n);
		} else {
			print_outcome(&out, o.json);
		}
		cairn_tool_outcome_free(&out);
	}
	env_close(&e);
	return rc;
}

int cli_cmd_replay(const char *kbdir, int argc, char **argv)
{
	tools_opts o = {0};
	const char *trace = NULL;
	for (int i = 0; i < argc; i++) {
		if (common_option(argc, argv, &i, &o))
			continue;
		if (argv[i][0] == '-' && argv[i][1])
			cli_die_usage("replay: unknown option %s", argv[i]);
		else if (!trace)
			trace = argv[i];
		else
			cli_die_usage("replay: one TRACE");
	}
	if (!trace)
		cli_die_usage("replay needs a TRACE file (tools run --trace FILE)");
	if (o.as)
		cli_die_usage("replay: the principal is the one recorded in the trace (no --as)");
	tools_env e;
	/* no knowledge base: replay neither reads principals (the trace has them) nor audits */
	memset(&e, 0, sizeof e);
	snprintf(e.path, sizeof e.path, "%s", o.tools ? o.tools : "");
	if (!o.tools)
		snprintf(e.path, sizeof e.path, "%s/tools.json", kbdir);
	char err[1024] = "";
	if (cairn_tools_open(NULL, e.path, o.state ? o.state : ":memory:", &e.t, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		return 1;
	}
	cairn_tools_replay_report r;
	cairn_status st = cairn_tools_replay(e.t, trace, &r);
	int rc = 0;
	if (st) {
		fprintf(stderr, "%s: %s\n", cli_prog, cairn_tools_errmsg(e.t));
		rc = 1;
	} else {
		if (o.json) {
			printf("{\"decisions\":%d,\"matched\":%d,\"mismatched\":%d,\"reproduced\":%s,\"first_mismatch\":", r.decisions,
			       r.matched, r.mismatched, r.mismatched ? "false" : "true");
			cli_print_json_string(stdout, r.first_mismatch);
			printf("}\n");
		} else {
			printf("%s: %d decision(s), %d reproduced, %d differ%s%s\n", trace, r.decisions, r.matched, r.mismatched,
			       r.mismatched ? ": " : "", r.first_mismatch);
		}
		rc = r.mismatched ? 3 : 0;
	}
	env_close(&e);
	return rc;
}
