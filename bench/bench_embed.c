/*
 * bench_embed — embeddings per second of a cairn encoder over a file of texts (one per line),
 * and the GFLOP/s of the forward passes it ran.
 *
 *   bench_embed MODEL TEXTS [--threads N] [--batch B] [--seconds S] [--gemm own|blas]
 *
 * Calls cairn_embed with B texts at a time (max_batch = B), cycling through the texts until
 * at least S seconds (default 2) have passed and at least 64 texts were embedded; one untimed
 * call warms the caches and the thread pool first. FLOPs are counted by the model's own
 * formula (cn_encoder_flops: the matrix products and attention of the forward pass over the
 * token counts each text really had), so the GFLOP/s figure is the work done, not the work
 * a padded batch would have done. Prints one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn.h"
#include "model/model.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_embed: %s: %s\n", what, detail);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage", "bench_embed MODEL TEXTS [--threads N] [--batch B] [--seconds S]");
	const char *model = argv[1], *texts_path = argv[2];
	int threads = 1, batch = 1;
	double seconds = 2.0;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--batch"))
			batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--gemm")) /* force the kernels' F32 GEMM: own | blas */
			cn_gemm_set_impl(!strcmp(argv[i + 1], "blas") ? CN_GEMM_BLAS : CN_GEMM_OWN);
		else
			die("unknown option", argv[i]);
	}
	/* texts */
	FILE *f = fopen(texts_path, "r");
	if (!f)
		die("cannot open", texts_path);
	char **texts = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			texts = realloc(texts, cap * sizeof(*texts));
		}
		texts[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	if (n == 0)
		die("no texts in", texts_path);

	/* token counts and FLOPs per text, from the model's own tokenizer and formula */
	cn_encoder_model *m = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_encoder_load(model, &m, &err) != CAIRN_OK)
		die("load", err.msg);
	double *flops = malloc(n * sizeof(double));
	int64_t tokens_total = 0;
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	for (size_t i = 0; i < n; i++) {
		tv.n = 0;
		if (cn_encoder_tokenize(m, NULL, texts[i], strlen(texts[i]), &tv, &err) != CAIRN_OK)
			die("tokenize", err.msg);
		int64_t l = (int64_t)tv.n;
		tokens_total += l;
		flops[i] = cn_encoder_flops(m, &l, 1);
	}
	cn_tokvec_free(&tv);
	const cn_encoder_hparams *hp = cn_encoder_hparams_get(m);
	int dim = (int)hp->n_embd;

	cairn_encoder_params p = cairn_encoder_default_params();
	p.n_threads = threads;
	p.max_batch = batch;
	cairn_encoder *enc = NULL;
	char ebuf[1024];
	if (cairn_encoder_open(model, &p, &enc, ebuf, sizeof(ebuf)) != CAIRN_OK)
		die("open", ebuf);
	float *out = malloc((size_t)batch * (size_t)dim * sizeof(float));
	size_t warm = (size_t)batch < n ? (size_t)batch : n;
	if (cairn_embed(enc, (const char *const *)texts, warm, CAIRN_EMBED_DOCUMENT, out) != CAIRN_OK)
		die("embed", cairn_encoder_errmsg(enc));

	size_t done = 0, pos = 0;
	double work = 0, toks = 0;
	double t0 = now(), t;
	do {
		size_t k = (size_t)batch;
		if (pos + k > n)
			k = n - pos;
		if (cairn_embed(enc, (const char *const *)texts + pos, k, CAIRN_EMBED_DOCUMENT, out) != CAIRN_OK)
			die("embed", cairn_encoder_errmsg(enc));
		for (size_t i = pos; i < pos + k; i++)
			work += flops[i];
		done += k;
		pos = (pos + k) % n;
		t = now();
	} while (t - t0 < seconds || done < (n < 64 ? n : 64));
	toks = (double)tokens_total * ((double)done / (double)n); /* average tokens per text × texts */
	double el = t - t0;
	printf("{\"model\":\"%s\",\"threads\":%d,\"batch\":%d,\"texts\":%zu,\"avg_tokens\":%.1f,\"seconds\":%.3f,"
	       "\"emb_per_s\":%.2f,\"tokens_per_s\":%.0f,\"gflops\":%.2f}\n",
	       model, threads, batch, done, (double)tokens_total / (double)n, el, (double)done / el, toks / el,
	       work / el / 1e9);
	cairn_encoder_close(enc);
	cn_encoder_free(m);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(flops);
	free(out);
	return 0;
}
