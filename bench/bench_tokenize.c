/*
 * bench_tokenize.c — tokenizer throughput through include/cairn.h only.
 *
 *   bench_tokenize MODEL TEXT_FILE [--pre NAME] [--passes N] [--ids-out FILE]
 *
 * The text is cut into paragraphs at blank lines (the size of what chunking and prompts
 * tokenize) and each paragraph is encoded without BOS/EOS. The best of N passes is reported
 * as one JSON line; --ids-out writes the ids, one paragraph per line, so the run can be
 * compared with a reference tokenizer's (bench_spm.py writes the same format).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODEL TEXT_FILE [--pre NAME] [--passes N] [--ids-out FILE]\n", argv[0]);
		return 2;
	}
	const char *model = argv[1], *path = argv[2], *pre = NULL, *ids_out = NULL;
	int passes = 3;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--pre"))
			pre = argv[i + 1];
		else if (!strcmp(argv[i], "--passes"))
			passes = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ids-out"))
			ids_out = argv[i + 1];
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)size + 1);
	if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: read failed\n", path);
		return 1;
	}
	fclose(f);
	text[size] = '\0';

	/* paragraphs: [start, end) pairs */
	size_t cap = 1024, n = 0;
	size_t *span = malloc(cap * 2 * sizeof *span);
	for (size_t s = 0; s < (size_t)size;) {
		char *e = strstr(text + s, "\n\n");
		size_t end = e ? (size_t)(e - text) : (size_t)size;
		if (end > s) {
			if (n == cap) {
				cap *= 2;
				span = realloc(span, cap * 2 * sizeof *span);
			}
			span[2 * n] = s, span[2 * n + 1] = end, n++;
		}
		s = end + 2;
	}

	cairn_tokenizer_params p = cairn_tokenizer_default_params();
	p.pre = pre;
	cairn_tokenizer *tok;
	char err[1024];
	double t0 = now();
	if (cairn_tokenizer_open(model, &p, &tok, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double load_s = now() - t0;

	double best = 1e30;
	long long tokens = 0;
	FILE *out = ids_out ? fopen(ids_out, "w") : NULL;
	for (int pass = 0; pass < passes; pass++) {
		tokens = 0;
		double t = now();
		for (size_t i = 0; i < n; i++) {
			int32_t *ids;
			size_t k;
			if (cairn_tokenize(tok, text + span[2 * i], span[2 * i + 1] - span[2 * i], 0, &ids, &k) != CAIRN_OK) {
				fprintf(stderr, "tokenize failed\n");
				return 1;
			}
			tokens += (long long)k;
			if (out && pass == 0) {
				for (size_t j = 0; j < k; j++)
					fprintf(out, j ? " %d" : "%d", ids[j]);
				fputc('\n', out);
			}
			cairn_free(ids);
		}
		double dt = now() - t;
		if (dt < best)
			best = dt;
		if (out && pass == 0) {
			fclose(out);
			out = NULL;
		}
	}
	printf("{\"engine\":\"cairn\",\"model\":\"%s\",\"bytes\":%ld,\"paragraphs\":%zu,\"tokens\":%lld,\"load_s\":%.4f,"
	       "\"seconds\":%.4f,\"mb_per_s\":%.2f}\n",
	       model, size, n, tokens, load_s, best, (double)size / 1e6 / best);
	cairn_tokenizer_close(tok);
	free(span);
	free(text);
	return 0;
}
