/*
 * generate.c — `cairn generate`: text from a local decoder, streamed to stdout as it comes.
 *
 * Every sampling option maps one to one onto cairn_generate_params, so the CLI is the
 * library's behaviour and nothing more; the defaults are the library's (greedy), except
 * the seed, which is drawn from the clock when sampling without --seed (and printed with
 * --verbose, so a run can be repeated).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn.h"
#include "commands.h"

static void oom(void)
{
	fprintf(stderr, "%s: out of memory\n", cli_prog);
	exit(1);
}

static char *read_all(FILE *f, const char *what)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		oom();
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				oom();
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: cannot read %s\n", cli_prog, what);
		exit(1);
	}
	buf[n] = '\0';
	return buf;
}

static double parse_float(const char *opt, const char *v, double lo, double hi)
{
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi))
		cli_die_usage("%s: \"%s\" is not a number in %g..%g", opt, v, lo, hi);
	return x;
}

/* The sampling options `generate` and `chat` share; true when argv[*i] was one of them. */
bool cli_sampling_option(int argc, char **argv, int *i, cairn_generate_params *p, bool *seeded)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--temp") || !strcmp(a, "--temperature"))
		p->temperature = (float)parse_float(a, cli_need(argc, argv, i), 0, 100);
	else if (!strcmp(a, "--top-k"))
		p->top_k = (int)cli_parse_long(a, cli_need(argc, argv, i), 0, 1 << 30);
	else if (!strcmp(a, "--top-p"))
		p->top_p = (float)parse_float(a, cli_need(argc, argv, i), 0, 1);
	else if (!strcmp(a, "--min-p"))
		p->min_p = (float)parse_float(a, cli_need(argc, argv, i), 0, 1);
	else if (!strcmp(a, "--repeat-penalty"))
		p->repeat_penalty = (float)parse_float(a, cli_need(argc, argv, i), 0.01, 100);
	else if (!strcmp(a, "--repeat-last-n"))
		p->repeat_last_n = (int)cli_parse_long(a, cli_need(argc, argv, i), -1, 1 << 24);
	else if (!strcmp(a, "--presence-penalty"))
		p->presence_penalty = (float)parse_float(a, cli_need(argc, argv, i), -100, 100);
	else if (!strcmp(a, "--frequency-penalty"))
		p->frequency_penalty = (float)parse_float(a, cli_need(argc, argv, i), -100, 100);
	else if (!strcmp(a, "--seed")) {
		const char *v = cli_need(argc, argv, i);
		char *end;
		p->seed = strtoull(v, &end, 10);
		if (end == v || *end || *v == '-')
			cli_die_usage("--seed: \"%s\" is not a non-negative integer", v);
		*seeded = true;
	} else
		return false;
	return true;
}

static int on_token(int32_t token, const char *text, size_t len, void *user_data)
{
	(void)token;
	(void)user_data;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return ferror(stdout) ? 1 : 0;
}

static const char *const STOP_NAMES[] = {"end of generation", "max tokens", "context full", "stopped",
                                         "stop string"};

int cli_cmd_generate(int argc, char **argv)
{
	const char *model = NULL, *schema_file = NULL, *prompt = NULL;
	bool verbose = false, seeded = false;
	cairn_generator_params gp = cairn_generator_default_params();
	cairn_generate_params p = cairn_generate_default_params();
	const char **stops = NULL;
	int n_stop = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--model") || !strcmp(a, "-m"))
			model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--tokenizer"))
			gp.tokenizer = cli_need(argc, argv, &i);
		else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens"))
			p.max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1 << 24);
		else if (cli_sampling_option(argc, argv, &i, &p, &seeded))
			;
		else if (!strcmp(a, "--json-schema"))
			schema_file = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--stop")) {
			const char **ns = realloc(stops, (size_t)(n_stop + 1) * sizeof *stops);
			if (!ns)
				oom();
			stops = ns;
			stops[n_stop++] = cli_need(argc, argv, &i);
		} else if (!strcmp(a, "--threads"))
			gp.n_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
		else if (!strcmp(a, "--ctx"))
			gp.n_ctx = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1 << 24);
		else if (!strcmp(a, "--ignore-eos"))
			p.ignore_eos = 1;
		else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
			verbose = true;
		else if (a[0] == '-' && a[1])
			cli_die_usage("generate: unknown option %s", a);
		else if (prompt)
			cli_die_usage("generate takes one PROMPT (quote it): extra \"%s\"", a);
		else
			prompt = a;
	}
	if (!model)
		cli_die_usage("generate needs --model FILE");
	char *schema = NULL, *stdin_prompt = NULL;
	if (schema_file) {
		FILE *f = fopen(schema_file, "rb");
		if (!f) {
			fprintf(stderr, "%s: cannot open %s\n", cli_prog, schema_file);
			return 1;
		}
		schema = read_all(f, schema_file);
		fclose(f);
		p.json_schema = schema;
	}
	if (!prompt)
		prompt = stdin_prompt = read_all(stdin, "stdin");
	if (!seeded)
		p.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	p.stop = stops;
	p.n_stop = n_stop;
	p.on_token = on_token;
	cairn_generator *g = NULL;
	char err[1024];
	int status = 1;
	if (cairn_generator_open(model, &gp, &g, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		goto done;
	}
	cairn_generation out;
	if (cairn_generate(g, prompt, &p, &out) != CAIRN_OK) {
		fflush(stdout);
		fprintf(stderr, "%s: generate: %s\n", cli_prog, cairn_generator_errmsg(g));
		goto done;
	}
	if (out.len && out.text[out.len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
	if (verbose) {
		double gen_s = out.generate_ms / 1e3;
		fprintf(stderr,
		        "%s: %d prompt tokens (%d reused) in %.1f ms, %d generated in %.1f ms (%.1f tokens/s); stop: %s; "
		        "seed %llu\n",
		        cli_prog, out.n_prompt_tokens, out.n_cached_tokens, out.prompt_ms, out.n_tokens, out.generate_ms,
		        gen_s > 0 ? out.n_tokens / gen_s : 0.0, STOP_NAMES[out.stop], (unsigned long long)p.seed);
	}
	cairn_generation_free(&out);
	status = ferror(stdout) ? 1 : 0;
done:
	cairn_generator_close(g);
	free(schema);
	free(stdin_prompt);
	free(stops);
	return status;
}
