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

static double parse_frac(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	if (*end || end == v || !(x >= 0 && x <= 1))
		cli_die_usage("%s: \"%s\" is not a number in 0..1", opt, v);
	return x;
}

/* The heading path usually starts with the title: show it once. */
static const char *heading_after_title(const char *title, const char *heading)
{
	size_t tl = strlen(title);
	if (tl && strncmp(heading, title, tl) == 0)
		return !strncmp(heading + tl, " > ", 3) ? heading + tl + 3 : heading + tl;
	return heading;
}

static void print_answer(const cairn_conversation *conv, const cairn_answer *a, bool explain)
{
	const cairn_conversation_info *in = cairn_conversation_last(conv);
	const cairn_answer_view *v = cairn_answer_get(a);
	if (in->rewritten)
		printf("(asked as: %s)\n", in->standalone_query);
	if (v->abstained) {
		printf("%s\n", v->answer);
	} else {
		for (size_t i = 0; i < v->n_sentences; i++) {
			const cairn_answer_sentence *s = &v->sentences[i];
			printf("%s%s", i ? " " : "", s->text);
			for (size_t j = 0; j < s->n_citations; j++)
				printf(" [%d]", s->citations[j]);
			if (!s->supported)
				printf(" (unverified)");
		}
		printf("\n");
	}
	if (v->n_citations) {
		printf("\n%s\n", v->abstained ? "Closest passages:" : "Sources:");
		for (size_t i = 0; i < v->n_citations; i++) {
			const cairn_citation *c = &v->citations[i];
			const char *title = *c->title ? c->title : c->doc_id;
			const char *heading = heading_after_title(c->title, c->heading);
			printf("[%d] %s", c->id, title);
			if (*heading)
				printf(" — %s", heading);
			printf(" — %s (bytes %lld–%lld)\n", *c->source ? c->source : c->doc_id, (long long)c->start,
			       (long long)c->end);
			printf("    \"%s\"\n", c->quote);
		}
	}
	printf("\nconfidence %.2f", v->confidence);
	if (!strcmp(v->mode, "generative"))
		printf(" · generative");
	if (!v->abstained)
		printf(" · %s answer · verified: %.0f%% of sentences supported, citation precision %.0f%%", v->answer_type,
		       v->support_rate * 100, v->citation_precision * 100);
	printf("\n");
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
	cairn_ask_params p = cairn_ask_default_params();
	cairn_conversation_params cp = cairn_conversation_default_params();
	bool json = false, explain = false, groups_given = false;
	const char *gen_opt = NULL, *as = NULL;
	char *groups_buf = NULL;
	const char **groups = NULL;
	size_t n_groups = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-k") || !strcmp(a, "--k"))
			p.k = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 1000);
		else if (!strcmp(a, "--as"))
			as = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--filter"))
			p.filter = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--groups")) {
			free(groups_buf);
			free(groups);
			groups_buf = strdup(cli_need(argc, argv, &i));
			groups = groups_buf ? calloc(strlen(groups_buf) / 2 + 2, sizeof *groups) : NULL;
			if (!groups_buf || !groups) {
				fprintf(stderr, "%s: out of memory\n", cli_prog);
				exit(1);
			}
			n_groups = 0;
			groups_given = true;
			for (char *tok = strtok(groups_buf, ","); tok; tok = strtok(NULL, ","))
				if (*tok)
					groups[n_groups++] = tok;
		} else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--explain"))
			explain = true;
		else if (!strcmp(a, "--budget-tokens"))
			cp.budget_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 1000000);
		else if (!strcmp(a, "--verbatim-turns"))
			cp.verbatim_turns = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1000);
		else if (!strcmp(a, "--no-rewrite"))
			cp.rewrite = 0;
		else if (!strcmp(a, "--context-tokens"))
			p.context_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 64, 1000000);
		else if (!strcmp(a, "--max-sentences"))
			p.max_sentences = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 10);
		else if (!strcmp(a, "--min-confidence"))
			p.min_confidence = parse_frac(a, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--no-spans"))
			p.spans = 0;
		else if (!strcmp(a, "--lenient"))
			p.strict = 0;
		else if (!strcmp(a, "--no-redact-remote"))
			p.redact_remote = 0;
		else if (!strcmp(a, "--redact-output"))
			p.redact_output = 1;
		else if (!strcmp(a, "--mode")) {
			const char *m = cli_need(argc, argv, &i);
			p.retrieval = !strcmp(m, "bm25") ? CAIRN_SEARCH_BM25 : !strcmp(m, "dense") ? CAIRN_SEARCH_DENSE
			            : !strcmp(m, "hybrid")                 ? CAIRN_SEARCH_HYBRID
			                                                   : (cli_die_usage("--mode is bm25, dense or hybrid"), 0);
		} else if (!strcmp(a, "--rerank-model"))
			p.rerank_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--endpoint"))
			p.endpoint = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--api-key-env"))
			p.api_key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--llm-model"))
			p.model_name = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--temperature")) {
			const char *t = cli_need(argc, argv, &i);
			char *end;
			p.temperature = strtod(t, &end);
			if (*end || end == t || !(p.temperature >= 0 && p.temperature <= 2))
				cli_die_usage("--temperature: \"%s\" is not a number in 0..2", t);
			gen_opt = a;
		} else if (!strcmp(a, "--max-tokens")) {
			p.max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 131072);
			gen_opt = a;
		} else if (!strcmp(a, "--timeout-ms")) {
			p.timeout_ms = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 3600000);
			gen_opt = a;
		} else
			cli_die_usage("chat: unknown option \"%s\" (a grounded chat takes ask's options; --model FILE "
			              "chats with a local model)",
			              a);
	}
	if (!p.endpoint && (gen_opt || p.api_key_env || p.model_name))
		cli_die_usage("chat: %s needs --endpoint",
		              gen_opt ? gen_opt : p.api_key_env ? "--api-key-env" : "--llm-model");
	if (as && groups_given)
		cli_die_usage("chat: --as and --groups exclude each other (--as takes the principal's groups)");
	static const char *no_groups[1];
	if (groups_given) {
		p.groups = n_groups ? groups : no_groups;
		p.n_groups = n_groups;
	}
	cairn_kb_params kp = cairn_kb_default_params();
	kp.create = 0;
	kp.read_only = 1;
	cairn_kb *kb = NULL;
	char err[1024];
	if (cairn_kb_open(kbdir, &kp, &kb, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		free(groups);
		free(groups_buf);
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
	free(groups);
	free(groups_buf);
	return rc;
}

int cli_cmd_chat(const char *kbdir, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--model") || !strcmp(argv[i], "-m"))
			return model_chat(argc, argv);
	return grounded_chat(kbdir, argc, argv);
}
