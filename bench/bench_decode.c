/*
 * bench_decode — prompt and generation speed of a cairn decoder, and generation speed as a
 * fraction of what this machine's memory bandwidth allows.
 *
 *   bench_decode MODEL [--threads N] [--prompt P] [--gen G] [--bw-mib M]
 *
 * Generation of one token reads every weight matrix once (the KV cache of a short context
 * is small beside them), so tokens/s can be at most bandwidth / weight bytes per token. The
 * bandwidth is measured here, with the same thread count: the best of 5 streaming reads
 * (a sum over 64-bit words) of an M MiB buffer (default 1024), far larger than the caches,
 * once in 4 KiB pages and once in memory advised for 2 MiB pages (where cairn reads a
 * decoder's weights unless CAIRN_MODEL_MMAP is set); the bound uses the faster of the two.
 * The weight bytes come from the model (cn_decoder_weight_bytes: every matrix, the output
 * head, one embedding row).
 *
 * The bandwidth is measured before and after the generation runs and the better one is
 * kept (the machine is shared: the bound should be what it can do, not what it did while
 * someone else was busy).
 *
 * The run: cairn_generate with a prompt of about P tokens (default 128) and G new tokens
 * (default 64, end-of-text ignored), after an untimed warm-up; best of R runs (--reps,
 * default 3), the worst one reported too. Prompt tokens/s = prompt tokens / prompt time;
 * decode tokens/s = (G - 1) / generation time (the first new token comes from the prompt's
 * logits). The load average before and after goes into the output. Prints one JSON line.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	fprintf(stderr, "bench_decode: %s: %s\n", what, detail);
	exit(1);
}

typedef struct bw_job {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
} bw_job;

static void *bw_read(void *arg)
{
	bw_job *j = arg;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = 0; i + 4 <= j->n; i += 4) {
		s0 += j->p[i];
		s1 += j->p[i + 1];
		s2 += j->p[i + 2];
		s3 += j->p[i + 3];
	}
	j->sum = s0 + s1 + s2 + s3;
	return NULL;
}

/* GB/s of reading `bytes` with `threads` threads, best of 5, from ordinary (4 KiB-page)
 * memory or from memory advised for 2 MiB pages — the kind cairn reads a decoder's weights
 * into; the bound takes the better of the two, so it is what the machine can do. */
static double bandwidth(size_t bytes, int threads, bool huge)
{
	size_t cap = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	uint64_t *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("bandwidth", "out of memory");
	if (huge)
		madvise(buf, cap, MADV_HUGEPAGE);
	else
		madvise(buf, cap, MADV_NOHUGEPAGE);
	memset(buf, 1, bytes);
	size_t words = bytes / 8, per = words / (size_t)threads;
	double best = 0;
	uint64_t sink = 0;
	for (int rep = 0; rep < 5; rep++) {
		pthread_t th[64];
		bw_job jobs[64];
		double t0 = now();
		for (int t = 0; t < threads; t++) {
			jobs[t] = (bw_job){buf + (size_t)t * per, per, 0};
			if (t)
				pthread_create(&th[t], NULL, bw_read, &jobs[t]);
		}
		bw_read(&jobs[0]);
		for (int t = 1; t < threads; t++)
			pthread_join(th[t], NULL);
		double dt = now() - t0;
		for (int t = 0; t < threads; t++)
			sink += jobs[t].sum;
		double gbs = (double)(per * (size_t)threads * 8) / dt / 1e9;
		best = gbs > best ? gbs : best;
	}
	munmap(buf, cap);
	if (sink == 42)
		fprintf(stderr, " ");
	return best;
}

/* The 1-, 5- and 15-minute load averages, as /proc/loadavg has them ("?" elsewhere). */
static void loadavg(char *buf, size_t cap)
{
	snprintf(buf, cap, "?");
	FILE *f = fopen("/proc/loadavg", "r");
	if (!f)
		return;
	double a, b, c;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, cap, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage", "bench_decode MODEL [--threads N] [--prompt P] [--gen G] [--reps R] [--bw-mib M]");
	const char *model = argv[1];
	int threads = 1, n_prompt = 128, n_gen = 64, bw_mib = 1024, reps = 3;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--prompt"))
			n_prompt = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--gen"))
			n_gen = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--bw-mib"))
			bw_mib = atoi(argv[i + 1]);
		else
			die("unknown option", argv[i]);
	}
	if (threads < 1 || threads > 64 || n_prompt < 1 || n_gen < 2 || reps < 1 || bw_mib < 1)
		die("options", "threads 1..64, prompt >= 1, gen >= 2, reps >= 1");
	char load0[64];
	loadavg(load0, sizeof load0);
	double bw0_4k = bandwidth((size_t)bw_mib << 20, threads, false);
	double bw0_2m = bandwidth((size_t)bw_mib << 20, threads, true);

	/* weight bytes per token, from the validated model */
	cn_err err;
	cn_err_clear(&err);
	cn_decoder_model *dm = NULL;
	if (cn_decoder_open(model, NULL, &dm, &err) != CAIRN_OK)
		die(model, err.msg);
	double wbytes = cn_decoder_weight_bytes(dm);
	cn_decoder_close(dm);

	char errbuf[1024];
	cairn_tokenizer *tok = NULL;
	if (cairn_tokenizer_open(model, NULL, &tok, errbuf, sizeof(errbuf)) != CAIRN_OK)
		die(model, errbuf);
	/* a prompt of about n_prompt tokens: a sentence repeated */
	const char *sentence = " The committee reviewed the quarterly report and approved the budget for the new library.";
	size_t cap = 64, len = 0;
	char *prompt = malloc(cap);
	prompt[0] = '\0';
	while (cairn_tokenizer_count(tok, prompt, len, 0) < n_prompt) {
		size_t sl = strlen(sentence);
		while (len + sl + 1 > cap)
			prompt = realloc(prompt, cap *= 2);
		memcpy(prompt + len, sentence, sl + 1);
		len += sl;
	}
	cairn_tokenizer_close(tok);

	cairn_generator_params gp = cairn_generator_default_params();
	gp.n_threads = threads;
	gp.n_ctx = n_prompt + n_gen + 64;
	cairn_generator *g = NULL;
	if (cairn_generator_open(model, &gp, &g, errbuf, sizeof(errbuf)) != CAIRN_OK)
		die(model, errbuf);
	cairn_generate_params p = cairn_generate_default_params();
	p.no_prefix_reuse = 1; /* every repetition evaluates the whole prompt */
	p.ignore_eos = 1;
	p.max_tokens = 4;
	cairn_generation out;
	if (cairn_generate(g, "Warm up.", &p, &out) != CAIRN_OK) /* untimed */
		die("generate", cairn_generator_errmsg(g));
	cairn_generation_free(&out);
	p.max_tokens = n_gen;
	double best_prompt = 0, best_decode = 0, worst_prompt = 1e30, worst_decode = 1e30;
	int prompt_tokens = 0;
	for (int rep = 0; rep < reps; rep++) {
		if (cairn_generate(g, prompt, &p, &out) != CAIRN_OK)
			die("generate", cairn_generator_errmsg(g));
		double pt = out.n_prompt_tokens / (out.prompt_ms / 1e3), dt = (out.n_tokens - 1) / (out.generate_ms / 1e3);
		prompt_tokens = out.n_prompt_tokens;
		best_prompt = pt > best_prompt ? pt : best_prompt;
		best_decode = dt > best_decode ? dt : best_decode;
		worst_prompt = pt < worst_prompt ? pt : worst_prompt;
		worst_decode = dt < worst_decode ? dt : worst_decode;
		cairn_generation_free(&out);
	}
	cairn_generator_info info;
	cairn_generator_get_info(g, &info);
	cairn_generator_close(g);
	free(prompt);

	double bw1_4k = bandwidth((size_t)bw_mib << 20, threads, false);
	double bw1_2m = bandwidth((size_t)bw_mib << 20, threads, true);
	double bw_4k = bw0_4k > bw1_4k ? bw0_4k : bw1_4k, bw_2m = bw0_2m > bw1_2m ? bw0_2m : bw1_2m;
	double bw0 = bw0_4k > bw0_2m ? bw0_4k : bw0_2m, bw1 = bw1_4k > bw1_2m ? bw1_4k : bw1_2m;
	double bw = bw0 > bw1 ? bw0 : bw1;
	char load1[64];
	loadavg(load1, sizeof load1);
	double bound = bw * 1e9 / wbytes;
	printf("{\"model\":\"%s\",\"arch\":\"%s\",\"threads\":%d,\"prompt_tokens\":%d,\"prompt_tok_s\":%.1f,"
	       "\"prompt_tok_s_worst\":%.1f,\"gen_tokens\":%d,\"decode_tok_s\":%.2f,\"decode_tok_s_worst\":%.2f,"
	       "\"reps\":%d,\"weight_mb_per_token\":%.1f,\"bandwidth_gbs\":%.2f,\"bandwidth_gbs_before_after\":[%.2f,%.2f],"
	       "\"bandwidth_gbs_4k_pages\":%.2f,\"bandwidth_gbs_2m_pages\":%.2f,"
	       "\"bound_tok_s\":%.2f,\"fraction_of_bound\":%.3f,\"load_before\":\"%s\",\"load_after\":\"%s\"}\n",
	       model, info.architecture, threads, prompt_tokens, best_prompt, worst_prompt, n_gen, best_decode,
	       worst_decode, reps, wbytes / 1e6, bw, bw0, bw1, bw_4k, bw_2m, bound, best_decode / bound, load0, load1);
	return 0;
}
