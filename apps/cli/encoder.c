/*
 * encoder.c — `cairn embed` and `cairn rerank`: local encoder models from the shell.
 *
 * Both read stdin one line per input (the natural unit of `grep`, `jq -r` and `cut`), so a
 * line never holds a newline; a trailing "\r" is dropped too. embed streams: lines are
 * embedded in chunks and printed as they come, so a corpus of any size passes through in
 * bounded memory. rerank reads everything first, because --sort needs every score.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.h"
#include "commands.h"

#define EMBED_CHUNK 256 /* lines per cairn_embed call: bounded memory, batches stay full */

static void oom(void)
{
	fprintf(stderr, "%s: out of memory\n", cli_prog);
	exit(1);
}

/* Next line of f without its "\n" / "\r\n", in *buf; false at end of input. */
static bool read_line(FILE *f, char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, f);
	if (n < 0)
		return false;
	while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
		(*buf)[--n] = '\0';
	return true;
}

static cairn_encoder *open_encoder(const char *model, const cairn_encoder_params *p)
{
	cairn_encoder *enc = NULL;
	char err[1024];
	if (cairn_encoder_open(model, p, &enc, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		exit(1);
	}
	return enc;
}

/* ---- embed ----------------------------------------------------------------------------- */

static int flush_embed(cairn_encoder *enc, char **lines, size_t n, cairn_embed_kind kind, int dim, bool f32,
                       size_t base, float *out)
{
	if (cairn_embed(enc, (const char *const *)lines, n, kind, out) != CAIRN_OK) {
		fprintf(stderr, "%s: embed: %s\n", cli_prog, cairn_encoder_errmsg(enc));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const float *v = out + i * (size_t)dim;
		if (f32) {
			fwrite(v, sizeof(float), (size_t)dim, stdout); /* x86-64 and aarch64: little-endian */
		} else {
			printf("{\"index\":%zu,\"embedding\":[", base + i);
			for (int k = 0; k < dim; k++)
				printf(k ? ",%.9g" : "%.9g", (double)v[k]);
			printf("]}\n");
		}
	}
	if (ferror(stdout)) {
		fprintf(stderr, "%s: embed: cannot write the output\n", cli_prog);
		return 1;
	}
	return 0;
}

int cli_cmd_embed(int argc, char **argv)
{
	const char *model = NULL, *prefix = NULL;
	bool query = false, f32 = false;
	cairn_encoder_params p = cairn_encoder_default_params();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--model") || !strcmp(a, "-m"))
			model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--query"))
			query = true;
		else if (!strcmp(a, "--prefix"))
			prefix = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--no-normalize"))
			p.normalize = 0;
		else if (!strcmp(a, "--format")) {
			const char *v = cli_need(argc, argv, &i);
			if (!strcmp(v, "f32"))
				f32 = true;
			else if (strcmp(v, "jsonl") != 0)
				cli_die_usage("embed: --format is jsonl or f32, not \"%s\"", v);
		} else if (!strcmp(a, "--threads"))
			p.n_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
		else if (!strcmp(a, "--batch"))
			p.max_batch = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 4096);
		else
			cli_die_usage("embed: unexpected argument %s (texts come on stdin, one per line)", a);
	}
	if (!model)
		cli_die_usage("embed needs --model FILE");
	if (prefix) {
		if (query)
			p.query_prefix = prefix;
		else
			p.document_prefix = prefix;
	}
	cairn_encoder *enc = open_encoder(model, &p);
	cairn_encoder_info info;
	cairn_encoder_get_info(enc, &info);
	if (info.is_reranker) {
		fprintf(stderr, "%s: %s is a reranker (a classification head, pooling rank): use `cairn rerank`\n", cli_prog,
		        model);
		cairn_encoder_close(enc);
		return 1;
	}
	cairn_embed_kind kind = query ? CAIRN_EMBED_QUERY : CAIRN_EMBED_DOCUMENT;
	char *lines[EMBED_CHUNK];
	float *out = malloc((size_t)EMBED_CHUNK * (size_t)info.dim * sizeof(float));
	if (!out)
		oom();
	size_t n = 0, base = 0;
	int rc = 0;
	char *buf = NULL;
	size_t cap = 0;
	while (rc == 0 && read_line(stdin, &buf, &cap)) {
		if (!(lines[n++] = strdup(buf)))
			oom();
		if (n == EMBED_CHUNK) {
			rc = flush_embed(enc, lines, n, kind, info.dim, f32, base, out);
			for (size_t i = 0; i < n; i++)
				free(lines[i]);
			base += n;
			n = 0;
		}
	}
	if (rc == 0 && n)
		rc = flush_embed(enc, lines, n, kind, info.dim, f32, base, out);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(buf);
	free(out);
	cairn_encoder_close(enc);
	if (rc == 0 && fflush(stdout) != 0) {
		fprintf(stderr, "%s: embed: cannot write the output\n", cli_prog);
		rc = 1;
	}
	return rc;
}

/* ---- rerank ---------------------------------------------------------------------------- */

typedef struct scored {
	size_t index;
	float score;
} scored;

static int by_score_desc(const void *a, const void *b)
{
	const scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int cli_cmd_rerank(int argc, char **argv)
{
	const char *model = NULL, *query = NULL;
	bool json = false, sort = false;
	cairn_encoder_params p = cairn_encoder_default_params();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--model") || !strcmp(a, "-m"))
			model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--sort"))
			sort = true;
		else if (!strcmp(a, "--threads"))
			p.n_threads = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 1024);
		else if (!strcmp(a, "--batch"))
			p.max_batch = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 4096);
		else if (a[0] == '-' && a[1])
			cli_die_usage("rerank: unknown option %s", a);
		else if (query)
			cli_die_usage("rerank takes one QUERY (quote it): extra \"%s\"", a);
		else
			query = a;
	}
	if (!model)
		cli_die_usage("rerank needs --model FILE");
	if (!query)
		cli_die_usage("rerank needs a QUERY (passages come on stdin, one per line)");
	cairn_encoder *enc = open_encoder(model, &p);
	cairn_encoder_info info;
	cairn_encoder_get_info(enc, &info);
	if (!info.is_reranker) {
		fprintf(stderr, "%s: %s is an embedding model (pooling %s, no classification head): use `cairn embed`\n",
		        cli_prog, model, info.pooling);
		cairn_encoder_close(enc);
		return 1;
	}
	char **lines = NULL;
	size_t n = 0, lcap = 0, cap = 0;
	char *buf = NULL;
	while (read_line(stdin, &buf, &cap)) {
		if (n == lcap) {
			lcap = lcap ? 2 * lcap : 64;
			if (!(lines = realloc(lines, lcap * sizeof *lines)))
				oom();
		}
		if (!(lines[n++] = strdup(buf)))
			oom();
	}
	free(buf);
	float *scores = malloc((n ? n : 1) * sizeof(float));
	scored *order = malloc((n ? n : 1) * sizeof(scored));
	if (!scores || !order)
		oom();
	int rc = 0;
	if (cairn_rerank(enc, query, (const char *const *)lines, n, scores) != CAIRN_OK) {
		fprintf(stderr, "%s: rerank: %s\n", cli_prog, cairn_encoder_errmsg(enc));
		rc = 1;
	} else {
		for (size_t i = 0; i < n; i++)
			order[i] = (scored){i, scores[i]};
		if (sort)
			qsort(order, n, sizeof(scored), by_score_desc);
		if (json) {
			printf("{\"query\":");
			cli_print_json_string(stdout, query);
			printf(",\"results\":[");
			for (size_t i = 0; i < n; i++) {
				printf("%s{\"index\":%zu,\"score\":%.9g,\"passage\":", i ? "," : "", order[i].index,
				       (double)order[i].score);
				cli_print_json_string(stdout, lines[order[i].index]);
				printf("}");
			}
			printf("]}\n");
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%.6f\t%s\n", (double)order[i].score, lines[order[i].index]);
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "%s: rerank: cannot write the output\n", cli_prog);
			rc = 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(scores);
	free(order);
	cairn_encoder_close(enc);
	return rc;
}
