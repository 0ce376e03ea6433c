/* commands.h — what the CLI's source files share: the usage-error helpers of main.c and the
 * commands that live in files of their own. */
#ifndef CAIRN_CLI_COMMANDS_H
#define CAIRN_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "cairn.h"

extern const char *cli_prog;
/* Prints "cairn: <message>" and the help hint, exits with status 2. */
void cli_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The value after option argv[*i] (advancing *i), or a usage error. */
const char *cli_need(int argc, char **argv, int *i);
/* s as a JSON string literal (quotes included); invalid UTF-8 bytes become U+FFFD. */
void cli_print_json_string(FILE *f, const char *s);
/* The same for s[0..n), NUL bytes included (escaped). */
void cli_print_json_stringn(FILE *f, const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at p[0..n) (no overlongs or surrogates), 0 if none. */
size_t cli_utf8_len(const unsigned char *p, size_t n);
/* v as an integer in lo..hi, or a usage error naming opt. */
long cli_parse_long(const char *opt, const char *v, long lo, long hi);

/* Opens the knowledge base or exits 1 with the message (main.c). */
cairn_kb *cli_open_kb(const char *dir, bool create, bool read_only);
/* --as NAME: the principal (free with cairn_principal_free) and the access groups to search
 * with (NULL for an admin); exits 1 when there is no such principal (access.c). */
cairn_principal *cli_as_principal(cairn_kb *kb, const char *name, const char *const **groups, size_t *n_groups);

/* `cairn serve`, the HTTP API (apps/server/serve.c). */
int cli_cmd_serve(const char *kbdir, int argc, char **argv);
int cli_cmd_principal(const char *kbdir, int argc, char **argv); /* access.c */
int cli_cmd_acl(const char *kbdir, int argc, char **argv);       /* access.c */
int cli_cmd_audit(const char *kbdir, int argc, char **argv);     /* access.c */
int cli_cmd_show(const char *kbdir, int argc, char **argv);      /* access.c */
int cli_cmd_tokenize(int argc, char **argv); /* model.c */
int cli_cmd_model(int argc, char **argv);    /* model.c */
int cli_cmd_embed(int argc, char **argv);    /* encoder.c */
int cli_cmd_rerank(int argc, char **argv);   /* encoder.c */
int cli_cmd_convert(int argc, char **argv);  /* convert.c */
int cli_cmd_chat(const char *kbdir, int argc, char **argv); /* chat.c: argv[0] = "chat" */
int cli_cmd_generate(int argc, char **argv); /* generate.c */
/* --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --presence-penalty,
 * --frequency-penalty, --seed: true when argv[*i] was one (its value consumed) (generate.c). */
bool cli_sampling_option(int argc, char **argv, int *i, cairn_generate_params *p, bool *seeded);
int cli_cmd_ask(const char *kbdir, int argc, char **argv);        /* ask.c */

/* The answer options `ask` and the grounded `chat` share (ask.c). */
typedef struct cli_ask_opts {
	cairn_ask_params p;
	bool json, explain, groups_given, timeout_given;
	const char *gen_opt; /* a generative-only option seen (refused without a model) */
	const char *as;
	char *groups_buf;
	const char **groups;
	size_t n_groups;
} cli_ask_opts;
void cli_ask_opts_init(cli_ask_opts *o);
/* true when argv[*i] was one of them (its value consumed, *i advanced) */
bool cli_ask_option(int argc, char **argv, int *i, cli_ask_opts *o);
/* the cross-option checks (usage errors name cmd); puts --groups into o->p */
void cli_ask_opts_check(cli_ask_opts *o, const char *cmd);
void cli_ask_opts_free(cli_ask_opts *o);
/* The answer with [n] markers, the sources, the confidence line. */
void cli_print_answer_text(const cairn_answer *a);
int cli_cmd_eval_answers(const char *kbdir, int argc, char **argv); /* ask.c: argv[0] = "answers" */
int cli_cmd_scan(int argc, char **argv);      /* guard.c */
int cli_cmd_redact(int argc, char **argv);    /* guard.c */
int cli_cmd_rehydrate(const char *kbdir, int argc, char **argv); /* guard.c */
int cli_cmd_eval_pii(int argc, char **argv);  /* guard.c: argv[0] = "pii" */
int cli_cmd_eval_injection(int argc, char **argv); /* inject_eval.c: argv[0] = "injection" */
int cli_cmd_eval_retrieval(const char *kbdir, int argc, char **argv); /* eval_cli.c: argv[0] = "retrieval" */
int cli_cmd_eval_trec(int argc, char **argv);    /* eval_cli.c: argv[0] = "trec" */
int cli_cmd_eval_compare(int argc, char **argv); /* eval_cli.c: argv[0] = "compare" */

/* Reports and the regression gate of `eval answers` (eval_cli.c): the options eval retrieval
 * has (--report-json/-md/-html FILE, --baseline FILE, --fail-on-regression, --tolerance SPEC,
 * --permutations N, --bootstrap N), parsed by cli_eval_outputs_option. */
typedef struct cli_eval_outputs {
	const char *json, *md, *html, *baseline;
	bool fail;
	cairn_eval_compare_params cp;
} cli_eval_outputs;
void cli_eval_outputs_init(cli_eval_outputs *o);
bool cli_eval_outputs_option(int argc, char **argv, int *i, cli_eval_outputs *o);
bool cli_eval_outputs_wanted(const cli_eval_outputs *o);
/* The answer run of per_question_path (with its provenance) as a result: its reports, or
 * with a baseline the comparison (printed to out) and its reports; the exit status (3: a
 * measure regressed beyond its tolerance). */
int cli_eval_answer_outputs(const cli_eval_outputs *o, const char *per_question_path, const char *meta_json, FILE *out);
int cli_cmd_eval_safety(int argc, char **argv); /* eval_safety.c: argv[0] = "safety" */
int cli_cmd_tools(const char *kbdir, int argc, char **argv);     /* tools.c */
int cli_cmd_approvals(const char *kbdir, int argc, char **argv); /* tools.c */
int cli_cmd_replay(const char *kbdir, int argc, char **argv);    /* tools.c */

#endif
