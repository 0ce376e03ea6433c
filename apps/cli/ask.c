/*
 * `cairn ask QUESTION` and `cairn eval answers DATASET`: the grounded-answer commands. The
 * human output puts the answer first (sentences with [n] markers), then the numbered sources
 * a reader can check — title, heading, file and byte range, the quoted sentence — so that a
 * claim and its evidence are one glance apart. --json is cairn_answer_to_json's schema
 * (docs/answers.md); --explain shows the stages. With --endpoint the answer is generative:
 * a model behind an OpenAI-compatible server writes it, and the library validates and
 * verifies it before anything is printed; this file only passes the settings through (the
 * API key stays in the environment variable it names). --local-model does the same with a
 * GGUF model run by cairn's own decoder.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <jansson.h>

#include "cairn.h"
#include "commands.h"

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

static void print_sources(const cairn_answer_view *v)
{
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

static void print_explain(const cairn_answer *a)
{
	char *t = cairn_answer_explain(a);
	if (t) {
		printf("\nhow this answer was made:\n%s", t);
		cairn_free(t);
	}
}

/* ---- the answer options and output ask and chat share ---- */

void cli_ask_opts_init(cli_ask_opts *o)
{
	memset(o, 0, sizeof *o);
	o->p = cairn_ask_default_params();
}

void cli_ask_opts_free(cli_ask_opts *o)
{
	free(o->groups);
	free(o->groups_buf);
	o->groups = NULL;
	o->groups_buf = NULL;
}

bool cli_ask_option(int argc, char **argv, int *ip, cli_ask_opts *o)
{
	cairn_ask_params *p = &o->p;
	const char *a = argv[*ip];
	int i = *ip;
	if (!strcmp(a, "-k") || !strcmp(a, "--k"))
		p->k = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 1000);
	else if (!strcmp(a, "--as"))
		o->as = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--no-redact-remote"))
		p->redact_remote = 0;
	else if (!strcmp(a, "--verify-model"))
		p->verify_model = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--verify-threshold"))
		p->verify_threshold = parse_frac(a, cli_need(argc, argv, &i));
	else if (!strcmp(a, "--redact-output"))
		p->redact_output = 1;
	else if (!strcmp(a, "--injection-question") || !strcmp(a, "--injection-documents")) {
		const char *v = cli_need(argc, argv, &i);
		bool q = !strcmp(a, "--injection-question");
		int pol = !strcmp(v, "off") ? -1 : !strcmp(v, "flag") ? CAIRN_INJECTION_POLICY_FLAG
		        : !strcmp(v, "refuse") ? CAIRN_INJECTION_POLICY_REFUSE
		        : (!q && !strcmp(v, "quarantine")) ? CAIRN_INJECTION_POLICY_QUARANTINE : -2;
		if (pol == -2)
			cli_die_usage("%s is %s, not \"%s\"", a, q ? "flag, refuse or off" : "quarantine, flag, refuse or off", v);
		*(q ? &p->injection_question : &p->injection_documents) = pol;
	} else if (!strcmp(a, "--filter"))
		p->filter = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--groups")) {
		cli_ask_opts_free(o);
		o->groups_buf = strdup(cli_need(argc, argv, &i));
		o->groups = o->groups_buf ? calloc(strlen(o->groups_buf) / 2 + 2, sizeof *o->groups) : NULL;
		if (!o->groups_buf || !o->groups) {
			fprintf(stderr, "%s: out of memory\n", cli_prog);
			exit(1);
		}
		o->n_groups = 0;
		o->groups_given = true;
		for (char *tok = strtok(o->groups_buf, ","); tok; tok = strtok(NULL, ","))
			if (*tok)
				o->groups[o->n_groups++] = tok;
	} else if (!strcmp(a, "--json"))
		o->json = true;
	else if (!strcmp(a, "--explain"))
		o->explain = true;
	else if (!strcmp(a, "--context-tokens"))
		p->context_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 64, 1000000);
	else if (!strcmp(a, "--max-sentences"))
		p->max_sentences = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 10);
	else if (!strcmp(a, "--min-confidence"))
		p->min_confidence = parse_frac(a, cli_need(argc, argv, &i));
	else if (!strcmp(a, "--no-spans"))
		p->spans = 0;
	else if (!strcmp(a, "--lenient"))
		p->strict = 0;
	else if (!strcmp(a, "--mode")) {
		const char *m = cli_need(argc, argv, &i);
		p->retrieval = !strcmp(m, "bm25") ? CAIRN_SEARCH_BM25 : !strcmp(m, "dense") ? CAIRN_SEARCH_DENSE
		             : !strcmp(m, "hybrid")                 ? CAIRN_SEARCH_HYBRID
		                                                    : (cli_die_usage("--mode is bm25, dense or hybrid"), 0);
	} else if (!strcmp(a, "--rerank-model"))
		p->rerank_model = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--endpoint"))
		p->endpoint = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--api-key-env"))
		p->api_key_env = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--llm-model"))
		p->model_name = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--local-model"))
		p->local_model = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--local-tokenizer"))
		p->local_tokenizer = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--chat-template"))
		p->chat_template = cli_need(argc, argv, &i);
	else if (!strcmp(a, "--threads"))
		p->local_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
	else if (!strcmp(a, "--temperature")) {
		const char *t = cli_need(argc, argv, &i);
		char *end;
		p->temperature = strtod(t, &end);
		if (*end || end == t || !(p->temperature >= 0 && p->temperature <= 2))
			cli_die_usage("--temperature: \"%s\" is not a number in 0..2", t);
		o->gen_opt = a;
	} else if (!strcmp(a, "--max-tokens")) {
		p->max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 131072);
		o->gen_opt = a;
	} else if (!strcmp(a, "--timeout-ms")) {
		p->timeout_ms = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 3600000);
		o->timeout_given = true;
	} else
		return false;
	*ip = i;
	return true;
}

void cli_ask_opts_check(cli_ask_opts *o, const char *cmd)
{
	cairn_ask_params *p = &o->p;
	if (o->timeout_given && !p->endpoint)
		cli_die_usage("%s: --timeout-ms needs --endpoint", cmd);
	if (p->endpoint && p->local_model)
		cli_die_usage("%s: --endpoint and --local-model exclude each other", cmd);
	if (!p->endpoint && !p->local_model && o->gen_opt)
		cli_die_usage("%s: %s needs --endpoint or --local-model", cmd, o->gen_opt);
	if (!p->endpoint && (p->api_key_env || p->model_name))
		cli_die_usage("%s: %s needs --endpoint", cmd, p->api_key_env ? "--api-key-env" : "--llm-model");
	if (!p->local_model && (p->local_tokenizer || p->chat_template || p->local_threads))
		cli_die_usage("%s: %s needs --local-model", cmd,
		              p->local_tokenizer ? "--local-tokenizer" : p->chat_template ? "--chat-template" : "--threads");
	if (o->as && o->groups_given)
		cli_die_usage("%s: --as and --groups exclude each other (--as takes the principal's groups)", cmd);
	static const char *no_groups[1];
	if (o->groups_given) {
		p->groups = o->n_groups ? o->groups : no_groups;
		p->n_groups = o->n_groups;
	}
}

void cli_print_answer_text(const cairn_answer *a)
{
	const cairn_answer_view *v = cairn_answer_get(a);
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
		print_sources(v);
	}
	printf("\nconfidence %.2f", v->confidence);
	if (!strcmp(v->mode, "generative"))
		printf(" · generative");
	if (!v->abstained)
		printf(" · %s answer · verified: %.0f%% of sentences supported, citation precision %.0f%%",
		       v->answer_type, v->support_rate * 100, v->citation_precision * 100);
	printf("\n");
}

int cli_cmd_ask(const char *kbdir, int argc, char **argv)
{
	cli_ask_opts o;
	cli_ask_opts_init(&o);
	const char *question = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (cli_ask_option(argc, argv, &i, &o))
			continue;
		if (a[0] == '-' && a[1])
			cli_die_usage("ask: unknown option %s", a);
		else if (question)
			cli_die_usage("ask takes one QUESTION (quote it): extra \"%s\"", a);
		else
			question = a;
	}
	if (!question)
		cli_die_usage("ask needs a QUESTION");
	cli_ask_opts_check(&o, "ask");
	cairn_ask_params p = o.p;
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
	if (o.as) {
		who = cli_as_principal(kb, o.as, &p.groups, &p.n_groups);
		p.principal = o.as;
	}
	cairn_answer *a = NULL;
	int rc = 0;
	char ask_err[1024] = "";
	p.errbuf = ask_err;
	p.errbuf_size = sizeof ask_err;
	cairn_status st = cairn_ask(kb, question, &p, &a);
	if (st != CAIRN_OK) {
		const char *m = *ask_err ? ask_err : cairn_kb_errmsg(kb);
		fprintf(stderr, "%s: ask: %s\n", cli_prog, *m ? m : cairn_status_name(st));
		rc = 1;
	} else if (o.json) {
		char *s = cairn_answer_to_json(a, o.explain);
		if (!s) {
			fprintf(stderr, "%s: out of memory\n", cli_prog);
			rc = 1;
		} else {
			puts(s);
			cairn_free(s);
		}
	} else {
		cli_print_answer_text(a);
		if (o.explain)
			print_explain(a);
	}
	cairn_answer_free(a);
	cairn_principal_free(who);
	cairn_kb_close(kb);
	cli_ask_opts_free(&o);
	return rc;
}

/* ---- eval answers ---- */

static int eval_answers_progress(const cairn_ingest_progress *p, void *ud)
{
	(void)ud;
	if (isatty(2))
		fprintf(stderr, "\r%lld/%lld questions   ", (long long)p->files_done, (long long)p->files_total);
	return 0;
}

/* --prices FILE: {"input_per_1k": x, "output_per_1k": y}, in any currency. */
static void load_prices(const char *path, cairn_answer_eval_params *p)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	json_t *in = json_object_get(o, "input_per_1k"), *out = json_object_get(o, "output_per_1k");
	if (!json_is_object(o) || !json_is_number(in) || !json_is_number(out) || json_number_value(in) < 0 ||
	    json_number_value(out) < 0) {
		json_decref(o);
		cli_die_usage("--prices %s: expected {\"input_per_1k\": N, \"output_per_1k\": N} (non-negative numbers)%s%s",
		              path, o ? "" : ": ", o ? "" : je.text);
	}
	p->has_prices = 1;
	p->price_input_per_1k = json_number_value(in);
	p->price_output_per_1k = json_number_value(out);
	json_decref(o);
}

/* After the summary: the run's reports, or its comparison with a baseline; the exit status. */
static int eval_answers_outputs(const cli_eval_outputs *outs, const char *dir, const cairn_answer_eval_params *p,
                                const cairn_answer_eval_report *r, bool json, const char *tmp_rows)
{
	int rc = 0;
	if (cli_eval_outputs_wanted(outs)) {
		char *meta = NULL, err[1024];
		fflush(stdout);
		if (cairn_answer_eval_provenance(dir, p, r, &meta, err, sizeof err) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, err);
			rc = 1;
		} else {
			rc = cli_eval_answer_outputs(outs, p->per_question_path, meta, json ? stderr : stdout);
		}
		cairn_free(meta);
	}
	if (tmp_rows[0])
		unlink(tmp_rows);
	return rc;
}

int cli_cmd_eval_answers(const char *kbdir, int argc, char **argv)
{
	cairn_answer_eval_params p = cairn_answer_eval_default_params();
	p.kb_dir = kbdir;
	bool json = false;
	const char *dir = NULL;
	cli_eval_outputs outs;
	cli_eval_outputs_init(&outs);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_eval_outputs_option(argc, argv, &i, &outs))
			continue;
		if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--max"))
			p.max_questions = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000000);
		else if (!strcmp(a, "--claims"))
			p.claims = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--features"))
			p.features_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--no-unanswerable"))
			p.unanswerable = 0;
		else if (!strcmp(a, "--work-dir"))
			p.work_dir = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--kb"))
			p.kb_dir = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--corpus"))
			p.corpus = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--per-question"))
			p.per_question_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--prices"))
			load_prices(cli_need(argc, argv, &i), &p);
		else if (!strcmp(a, "--seed"))
			p.seed = (uint64_t)cli_parse_long(a, cli_need(argc, argv, &i), 0, 0x7fffffffffffffffLL);
		else if (!strcmp(a, "-k") || !strcmp(a, "--k"))
			p.ask.k = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 1000);
		else if (!strcmp(a, "--context-tokens"))
			p.ask.context_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 64, 1000000);
		else if (!strcmp(a, "--max-sentences"))
			p.ask.max_sentences = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 10);
		else if (!strcmp(a, "--min-confidence"))
			p.ask.min_confidence = parse_frac(a, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--no-spans"))
			p.ask.spans = 0;
		else if (!strcmp(a, "--endpoint"))
			p.ask.endpoint = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--model"))
			p.ask.model_name = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--api-key-env"))
			p.ask.api_key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--local-model"))
			p.ask.local_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--max-tokens"))
			p.ask.max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 1000000);
		else if (!strcmp(a, "--threads"))
			p.ask.local_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
		else if (!strcmp(a, "--injection-question")) {
			const char *v = cli_need(argc, argv, &i);
			if (!strcmp(v, "refuse"))
				p.ask.injection_question = CAIRN_INJECTION_POLICY_REFUSE;
			else if (!strcmp(v, "flag"))
				p.ask.injection_question = CAIRN_INJECTION_POLICY_FLAG;
			else if (!strcmp(v, "off"))
				p.ask.injection_question = -1;
			else
				cli_die_usage("--injection-question: flag, refuse or off");
		} else if (a[0] == '-' && a[1])
			cli_die_usage("eval answers: unknown option %s", a);
		else if (dir)
			cli_die_usage("eval answers takes one DATASET");
		else
			dir = a;
	}
	if (!dir)
		cli_die_usage("eval answers needs a DATASET (JSON Lines set with --corpus or --kb, SQuAD-format .json, or a "
		              "SciFact directory)");
	size_t dl = strlen(dir);
	bool jsonl = dl > 6 && !strcmp(dir + dl - 6, ".jsonl");
	if (!jsonl)
		p.kb_dir = NULL; /* the global --kb does not apply to sets that hold their documents */
	else if (p.corpus && p.kb_dir == kbdir)
		p.kb_dir = NULL;  /* --corpus wins over a global --kb */
	if (outs.fail && !outs.baseline)
		cli_die_usage("eval answers: --fail-on-regression needs --baseline FILE");
	p.on_progress = eval_answers_progress;
	/* Reports and comparisons are built from the per-question rows: a temporary file when
	 * the user did not ask to keep them. */
	char tmp_rows[64] = "";
	if (cli_eval_outputs_wanted(&outs) && !p.per_question_path) {
		const char *td = getenv("TMPDIR");
		snprintf(tmp_rows, sizeof tmp_rows, "%s/cairn-rows-XXXXXX", td && strlen(td) < 40 ? td : "/tmp");
		int fd = mkstemp(tmp_rows);
		if (fd < 0) {
			fprintf(stderr, "%s: eval answers: cannot create a temporary file in %s: %s\n", cli_prog,
			        td && strlen(td) < 40 ? td : "/tmp", strerror(errno));
			return 1;
		}
		close(fd);
		p.per_question_path = tmp_rows;
	}
	cairn_answer_eval_report r;
	char err[1024];
	if (cairn_eval_answers(dir, &p, &r, err, sizeof err) != CAIRN_OK) {
		if (isatty(2))
			fprintf(stderr, "\n");
		fprintf(stderr, "%s: eval answers: %s\n", cli_prog, err);
		if (tmp_rows[0])
			unlink(tmp_rows);
		return 1;
	}
	if (isatty(2))
		fprintf(stderr, "\r%40s\r", "");

	bool squad = !strcmp(r.format, "squad"), gen = !strcmp(r.format, "jsonl");
	if (json) {
		printf("{\"dataset\":");
		cli_print_json_string(stdout, r.dataset);
		printf(",\"format\":\"%s\",\"documents\":%lld,\"questions\":%lld,\"answer_rate\":%.4f,", r.format,
		       (long long)r.documents, (long long)r.questions, r.answer_rate);
		if (squad || gen)
			printf("\"exact_match\":%.4f,\"f1\":%.4f,\"rouge_l\":%.4f,\"bleu\":%.4f,\"corpus_bleu\":%.4f,"
			       "\"questions_with_answers\":%lld,",
			       r.exact_match, r.f1, r.rouge_l, r.bleu, r.corpus_bleu, (long long)r.questions_with_answers);
		if (squad)
			printf("\"exact_match_answered\":%.4f,\"f1_answered\":%.4f,\"gold_in_citations\":%.4f,\"gold_in_context\":%.4f,",
			       r.exact_match_answered, r.f1_answered, r.gold_in_citations, r.gold_in_context);
		else if (gen)
			printf("\"citation_precision_gold\":%.4f,\"citation_recall_gold\":%.4f,\"questions_with_evidence\":%lld,",
			       r.citation_precision_gold, r.citation_recall_gold, (long long)r.questions_with_evidence);
		else
			printf("\"claims_with_evidence\":%lld,\"claims_nei\":%lld,\"rationale_official\":{\"precision\":%.4f,"
			       "\"recall\":%.4f,\"f1\":%.4f},\"rationale_lenient\":{\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f},"
			       "\"gold_rationale_cited\":%.4f,\"nei_abstention\":%.4f,",
			       (long long)r.claims_with_evidence, (long long)r.claims_nei, r.rationale_p_full, r.rationale_r_full,
			       r.rationale_f1_full, r.rationale_p, r.rationale_r, r.rationale_f1, r.gold_in_citations,
			       r.nei_abstention);
		printf("\"abstention_precision\":%.4f,\"abstention_recall\":%.4f,", r.abstention_precision, r.abstention_recall);
		printf("\"abstain_answerable\":%.4f,\"abstain_unanswerable\":%.4f,\"unanswerable_questions\":%lld,"
		       "\"support_rate\":%.4f,\"groundedness\":%.4f,\"citation_precision\":%.4f,\"refusal_rate\":%.4f,"
		       "\"mean_confidence\":%.4f,\"reliability\":[",
		       r.abstain_answerable, r.abstain_unanswerable, (long long)r.unanswerable_questions, r.support_rate,
		       r.groundedness, r.citation_precision, r.refusal_rate, r.mean_confidence);
		for (int b = 0; b < CAIRN_RELIABILITY_BINS; b++)
			printf("%s{\"bin\":\"%.1f-%.1f\",\"n\":%lld,\"confidence\":%.4f,\"accuracy\":%.4f}", b ? "," : "",
			       b / 10.0, (b + 1) / 10.0, (long long)r.rel_n[b], r.rel_conf[b], r.rel_acc[b]);
		printf("],\"latency_mean_ms\":%.3f,\"latency_p50_ms\":%.3f,\"latency_p95_ms\":%.3f,\"latency_p99_ms\":%.3f,"
		       "\"ttft_p50_ms\":%.3f,\"ttft_p95_ms\":%.3f,\"tokens_in_mean\":%.1f,\"tokens_out_mean\":%.1f,"
		       "\"tokens\":\"%s\",",
		       r.latency_mean_ms, r.latency_p50_ms, r.latency_p95_ms, r.latency_p99_ms, r.ttft_p50_ms, r.ttft_p95_ms,
		       r.tokens_in_mean, r.tokens_out_mean, r.tokens_measured ? "counted" : "estimated");
		if (p.has_prices)
			printf("\"cost_per_request\":%.8f,\"cost_total\":%.6f,\"prices\":{\"input_per_1k\":%.8g,\"output_per_1k\":%.8g},",
			       r.cost_per_request, r.cost_total, p.price_input_per_1k, p.price_output_per_1k);
		printf("\"index_build_s\":%.3f,\"seconds\":%.3f,\"reproducibility\":{\"cairn_version\":\"%s\",\"dataset_bytes\":%llu,"
		       "\"dataset_crc32c\":\"%08x\",\"seed\":%llu,\"kb\":",
		       r.index_build_s, r.seconds, r.version, (unsigned long long)r.dataset_bytes, r.dataset_crc32c,
		       (unsigned long long)r.seed);
		cli_print_json_string(stdout, r.kb);
		printf(",\"config\":{\"k\":%d,\"context_tokens\":%d,\"max_sentences\":%d,\"min_confidence\":%.4g,\"spans\":%d,"
		       "\"strict\":%d,\"retrieval\":%d,\"mode\":\"%s\",\"unanswerable\":%d,\"max_questions\":%d}}}\n",
		       p.ask.k, p.ask.context_tokens, p.ask.max_sentences, p.ask.min_confidence, p.ask.spans, p.ask.strict,
		       p.ask.retrieval, p.ask.local_model ? "local" : p.ask.endpoint ? "endpoint" : "extractive", p.unanswerable,
		       p.max_questions);
		return eval_answers_outputs(&outs, dir, &p, &r, json, tmp_rows);
	}
	printf("dataset               %s (%s)\n", r.dataset, r.format);
	printf("documents             %lld\n", (long long)r.documents);
	if (squad || gen) {
		printf("questions             %lld answerable", (long long)r.questions);
		if (gen)
			printf(", %lld unanswerable", (long long)r.questions_unanswerable);
		printf("\n");
		printf("answered              %.1f%%\n", r.answer_rate * 100);
		if (squad) {
			printf("exact match           %.4f  (answered only: %.4f)\n", r.exact_match, r.exact_match_answered);
			printf("token F1              %.4f  (answered only: %.4f)\n", r.f1, r.f1_answered);
		} else {
			printf("exact match           %.4f  (%lld questions with answers)\n", r.exact_match,
			       (long long)r.questions_with_answers);
			printf("token F1              %.4f\n", r.f1);
		}
		printf("ROUGE-L               %.4f\n", r.rouge_l);
		printf("BLEU-4                %.4f  (corpus %.4f)\n", r.bleu, r.corpus_bleu);
		if (squad) {
			printf("gold in citations     %.4f  (of answered)\n", r.gold_in_citations);
			printf("gold in context       %.4f  (retrieval ceiling)\n", r.gold_in_context);
		} else {
			printf("citations vs gold     precision %.4f  recall %.4f  (%lld questions with evidence)\n",
			       r.citation_precision_gold, r.citation_recall_gold, (long long)r.questions_with_evidence);
		}
	} else {
		printf("claims                %lld with evidence, %lld NEI\n", (long long)r.claims_with_evidence,
		       (long long)r.claims_nei);
		printf("answered              %.1f%% of claims with evidence\n", r.answer_rate * 100);
		printf("rationale (official)  P %.4f  R %.4f  F1 %.4f\n", r.rationale_p_full, r.rationale_r_full,
		       r.rationale_f1_full);
		printf("rationale (lenient)   P %.4f  R %.4f  F1 %.4f\n", r.rationale_p, r.rationale_r, r.rationale_f1);
		printf("gold rationale cited  %.4f  (of answered)\n", r.gold_in_citations);
		printf("abstain on NEI        %.1f%%\n", r.nei_abstention * 100);
	}
	printf("abstain, answerable   %.1f%%\n", r.abstain_answerable * 100);
	if (gen)
		printf("abstain, unanswerable %.1f%%  (%lld questions marked answerable: false)\n", r.abstain_unanswerable * 100,
		       (long long)r.questions_unanswerable);
	else
		printf("abstain, unanswerable %.1f%%  (%lld questions, gold documents removed)\n", r.abstain_unanswerable * 100,
		       (long long)r.unanswerable_questions);
	printf("abstention            precision %.4f  recall %.4f  (positive = unanswerable)\n", r.abstention_precision,
	       r.abstention_recall);
	printf("refused by the guard  %.1f%%\n", r.refusal_rate * 100);
	printf("verifier              groundedness (support rate) %.4f, citation precision %.4f\n", r.groundedness,
	       r.citation_precision);
	if (!gen) {
		printf("reliability           confidence bin: n, mean confidence, accuracy\n");
		for (int b = 0; b < CAIRN_RELIABILITY_BINS; b++)
			if (r.rel_n[b])
				printf("   %.1f–%.1f  %5lld  %.3f  %.3f\n", b / 10.0, (b + 1) / 10.0, (long long)r.rel_n[b],
				       r.rel_conf[b], r.rel_acc[b]);
	}
	printf("latency               p50 %.2f ms, p95 %.2f ms, p99 %.2f ms (mean %.2f)\n", r.latency_p50_ms,
	       r.latency_p95_ms, r.latency_p99_ms, r.latency_mean_ms);
	printf("time to first token   p50 %.2f ms, p95 %.2f ms\n", r.ttft_p50_ms, r.ttft_p95_ms);
	printf("tokens per request    in %.1f, out %.1f (%s)\n", r.tokens_in_mean, r.tokens_out_mean,
	       r.tokens_measured ? "counted" : "estimated");
	if (p.has_prices)
		printf("cost                  %.6f per request, %.4f in all\n", r.cost_per_request, r.cost_total);
	printf("time                  %.1f s (index %.1f s)\n", r.seconds, r.index_build_s);
	printf("reproducibility       cairn %s, set %llu bytes crc32c %08x, seed %llu, kb %s\n", r.version,
	       (unsigned long long)r.dataset_bytes, r.dataset_crc32c, (unsigned long long)r.seed, r.kb);
	return eval_answers_outputs(&outs, dir, &p, &r, json, tmp_rows);
}
