/* commands.h — what the CLI's source files share: the usage-error helpers of main.c and the
 * commands that live in files of their own. */
#ifndef CAIRN_CLI_COMMANDS_H
#define CAIRN_CLI_COMMANDS_H

#include <stdio.h>

extern const char *cli_prog;
/* Prints "cairn: <message>" and the help hint, exits with status 2. */
void cli_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The value after option argv[*i] (advancing *i), or a usage error. */
const char *cli_need(int argc, char **argv, int *i);
/* s as a JSON string literal (quotes included); invalid UTF-8 bytes become U+FFFD. */
void cli_print_json_string(FILE *f, const char *s);
/* v as an integer in lo..hi, or a usage error naming opt. */
long cli_parse_long(const char *opt, const char *v, long lo, long hi);

int cli_cmd_tokenize(int argc, char **argv); /* model.c */
int cli_cmd_model(int argc, char **argv);    /* model.c */
int cli_cmd_embed(int argc, char **argv);    /* encoder.c */
int cli_cmd_rerank(int argc, char **argv);   /* encoder.c */
int cli_cmd_ask(const char *kbdir, int argc, char **argv);        /* ask.c */
int cli_cmd_eval_answers(const char *kbdir, int argc, char **argv); /* ask.c: argv[0] = "answers" */
int cli_cmd_eval_injection(int argc, char **argv); /* inject_eval.c: argv[0] = "injection" */

#endif
