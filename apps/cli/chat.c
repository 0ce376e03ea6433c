/* chat.c — `cairn chat`, in two modes.
 *
 * Grounded (the default, no --model): a conversation over the knowledge base. Each line of
 * stdin is a turn, answered by cairn_conversation_ask — the follow-up rewritten into a
 * standalone query, the history kept within --budget-tokens — and printed like `cairn ask`
 * (sentences with [n] markers, then the numbered sources), or as one JSON object a line with
 * --json (cairn_answer_to_json's object plus a "conversation" member). "/reset" forgets the
 * history. The human-output helpers are copied from ask.c rather than shared, so the two
 * commands can change their presentation independently.
 *
 * With --model FILE: a conversation with a local model, no documents. User turns are read
 * from stdin one line at a time (so a script can pipe a conversation in; the "> " marker
 * appears only on a terminal), the whole history is formatted with the model's chat template
 * each turn and generated from (cairn_generate keeps the cached prefix the turns share), and
 * the reply is streamed to stdout until the template's end-of-turn token or EOS. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn.h"
#include "commands.h"

typedef struct stream {
	int32_t stop;
} stream;

static int on_token(int32_t token, const char *text, size_t len, void *user_data)
{
	const stream *s = user_data;
	if (token == s->stop)
		return 1; /* the end of the assistant's turn: not part of the reply */
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static char *dup_str(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		exit(1);
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int model_chat(int argc, char **argv)
{
	const char *model = NULL, *tok = NULL, *sys = NULL, *tmpl_name = NULL;
	int show_prompt = 0;
	bool seeded = false;
	cairn_generator_params gp = cairn_generator_default_params();
	cairn_generate_params p = cairn_generate_default_params();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--model") || !strcmp(a, "-m"))
			model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--tokenizer"))
			tok = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--system"))
			sys = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--chat-template"))
			tmpl_name = cli_need(argc, argv, &i);
		else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens"))
			p.max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1 << 20);
		else if (!strcmp(a, "--threads"))
			gp.n_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
		else if (!strcmp(a, "--ctx"))
			gp.n_ctx = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1 << 24);
		else if (!strcmp(a, "--show-prompt") || !strcmp(a, "--verbose"))
			show_prompt = 1;
		else if (cli_sampling_option(argc, argv, &i, &p, &seeded))
			;
		else
			cli_die_usage("chat: unknown option \"%s\"", a);
	}
	if (!seeded)
		p.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	char err[1024];
	cairn_chat_template *t = NULL;
	if (cairn_chat_template_open(model, tok, tmpl_name, &t, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		return 1;
	}
	gp.tokenizer = tok;
	cairn_generator *gen = NULL;
	if (cairn_generator_open(model, &gp, &gen, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		cairn_chat_template_close(t);
		return 1;
	}
	stream st = {cairn_chat_template_stop_token(t)};
	p.parse_special = 1; /* the template's control-token texts become those tokens */
	p.add_bos = cairn_chat_template_adds_bos(t) ? 1 : -1;
	p.on_token = on_token;
	p.user_data = &st;

	size_t n = 0, cap = 16;
	cairn_chat_message *msgs = malloc(cap * sizeof(*msgs));
	if (!msgs) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		return 1;
	}
	if (sys)
		msgs[n++] = (cairn_chat_message){"system", dup_str(sys, strlen(sys))};
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t line_cap = 0;
	int rc = 0;
	for (;;) {
		if (tty) {
			fputs("> ", stderr);
			fflush(stderr);
		}
		ssize_t len = getline(&line, &line_cap, stdin);
		if (len < 0)
			break;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (n + 2 > cap) {
			cairn_chat_message *m2 = realloc(msgs, 2 * cap * sizeof(*msgs));
			if (!m2) {
				fprintf(stderr, "%s: out of memory\n", cli_prog);
				rc = 1;
				break;
			}
			msgs = m2;
			cap *= 2;
		}
		msgs[n++] = (cairn_chat_message){"user", dup_str(line, (size_t)len)};
		char *prompt = NULL;
		if (cairn_chat_format(t, msgs, n, 1, &prompt, NULL, err, sizeof err) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, err);
			rc = 1;
			break;
		}
		if (show_prompt)
			fprintf(stderr, "--- prompt ---\n%s\n--- end ---\n", prompt);
		cairn_generation g;
		cairn_status s = cairn_generate(gen, prompt, &p, &g);
		cairn_free(prompt);
		if (s != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, cairn_generator_errmsg(gen));
			rc = 1;
			break;
		}
		fputc('\n', stdout);
		fflush(stdout);
		if (g.stop == CAIRN_STOP_CONTEXT)
			fprintf(stderr, "%s: the context is full; start a new conversation or raise --ctx\n", cli_prog);
		msgs[n++] = (cairn_chat_message){"assistant", dup_str(g.text, g.len)};
		cairn_generation_free(&g);
	}
	free(line);
	for (size_t i = 0; i < n; i++)
		free((char *)msgs[i].content);
	free(msgs);
	cairn_generator_close(gen);
	cairn_chat_template_close(t);
	return rc;
}

/* ---- grounded chat ---- */

static void print_answer(const cairn_conversation *conv, const cairn_answer *a, bool explain)
{
	const cairn_conversation_info *in = cairn_conversation_last(conv);
	if (in->rewritten)
		printf("(asked as: %s)\n", in->standalone_query);
	cli_print_answer_text(a);
	if (explain) {
		char *c = cairn_conversation_explain(conv);
		char *t = cairn_answer_explain(a);
		if (c || t)
			printf("\nhow this answer was made:\n%s%s", c ? c : "", t ? t : "");
		cairn_free(c);
		cairn_free(t);
	}
}

static int grounded_chat(const char *kbdir, int argc, char **argv)
{
	cli_ask_opts o;
	cli_ask_opts_init(&o);
	cairn_conversation_params cp = cairn_conversation_default_params();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_ask_option(argc, argv, &i, &o))
			continue;
		if (!strcmp(a, "--budget-tokens"))
			cp.budget_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 1000000);
		else if (!strcmp(a, "--verbatim-turns"))
			cp.verbatim_turns = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1000);
		else if (!strcmp(a, "--no-rewrite"))
			cp.rewrite = 0;
		else
			cli_die_usage("chat: unknown option \"%s\" (a grounded chat takes ask's options; --model FILE "
			              "chats with a local model)",
			              a);
	}
	cli_ask_opts_check(&o, "chat");
	cairn_ask_params p = o.p;
	bool json = o.json, explain = o.explain;
	const char *as = o.as;
	cairn_kb_params kp = cairn_kb_default_params();
	kp.create = 0;
	kp.read_only = 1;
	cairn_kb *kb = NULL;
	char err[1024];
	if (cairn_kb_open(kbdir, &kp, &kb, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		cli_ask_opts_free(&o);
		return 1;
	}
	cairn_principal *who = NULL;
	if (as) {
		who = cli_as_principal(kb, as, &p.groups, &p.n_groups);
		p.principal = as;
	}
	cairn_conversation *conv = NULL;
	if (cairn_conversation_new(&cp, &conv) != CAIRN_OK) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		exit(1);
	}
	char ask_err[1024];
	p.errbuf = ask_err;
	p.errbuf_size = sizeof ask_err;
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t line_cap = 0;
	int rc = 0, turns = 0;
	for (;;) {
		if (tty) {
			fputs("> ", stderr);
			fflush(stderr);
		}
		ssize_t len = getline(&line, &line_cap, stdin);
		if (len < 0)
			break;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (!strcmp(line, "/reset")) {
			cairn_conversation_reset(conv);
			fprintf(stderr, "%s: conversation reset\n", cli_prog);
			continue;
		}
		cairn_answer *a = NULL;
		ask_err[0] = '\0';
		cairn_status st = cairn_conversation_ask(conv, kb, line, &p, &a);
		if (st != CAIRN_OK) {
			const char *m = *ask_err ? ask_err : cairn_kb_errmsg(kb);
			fprintf(stderr, "%s: chat: %s\n", cli_prog, *m ? m : cairn_status_name(st));
			rc = 1; /* the conversation goes on: the next turn may succeed */
			continue;
		}
		if (json) {
			char *s = cairn_conversation_answer_to_json(conv, a, explain);
			if (!s) {
				fprintf(stderr, "%s: out of memory\n", cli_prog);
				exit(1);
			}
			puts(s);
			cairn_free(s);
		} else {
			if (turns)
				printf("\n");
			print_answer(conv, a, explain);
		}
		fflush(stdout);
		turns++;
		cairn_answer_free(a);
	}
	free(line);
	cairn_conversation_free(conv);
	cairn_principal_free(who);
	cairn_kb_close(kb);
	cli_ask_opts_free(&o);
	return rc;
}

int cli_cmd_chat(const char *kbdir, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--model") || !strcmp(argv[i], "-m"))
			return model_chat(argc, argv);
	return grounded_chat(kbdir, argc, argv);
}
