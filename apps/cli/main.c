/*
 * cairn — the command-line program. It sees only include/cairn.h.
 *
 * Exit status: 0 success; 1 an error (the message on stderr names the input and the
 * problem); 2 a usage error; 3 ingest where every file failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn.h"
#include "commands.h"

#define EXIT_USAGE 2
#define EXIT_ALL_FAILED 3

const char *cli_prog = "cairn";

void cli_die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nRun `%s help` for usage.\n", cli_prog);
	va_end(ap);
	exit(EXIT_USAGE);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "cairn %s — grounded answers over your documents\n"
	        "\n"
	        "usage: cairn [--kb DIR] COMMAND [options]\n"
	        "  --kb DIR defaults to $CAIRN_KB, else ./cairn.kb\n"
	        "\n"
	        "commands:\n"
	        "  ingest PATH...        add files and directories (recursive)\n"
	        "      --exclude GLOB  --tag KEY=VALUE  --acl GROUP   (each repeatable)\n"
	        "      --prune  --whole  --chunk-tokens N  --chunk-min N  --chunk-max N  --overlap PCT\n"
	        "      --max-file-mb N  --commit-every N (files per commit, default 2000; 0 = one commit)\n"
	        "      --language NAME (stemmer of a new KB: porter, english, german, …, none)\n"
	        "      --tokenizer FILE (count chunk tokens with this model's tokenizer)\n"
	        "      --redact mask|hash|token (personal data replaced before indexing)  --redact-types T1,T2\n"
	        "      --key-file FILE | --key-env VAR (hash/token key)  --vault FILE (token; default KB/vault/)\n"
	        "      --injection flag|quarantine|refuse (prompt-injection policy for these documents' chunks)\n"
	        "      --embed-model FILE (give chunks vectors with this GGUF embedding model; recorded)\n"
	        "      --quiet  --json\n"
	        "  search QUERY          -k N  --filter EXPR  --groups G1,G2 | --as PRINCIPAL  --json  --no-snippets\n"
	        "                        --exhaustive\n"
	        "                        --collapse (best chunk per document)  --rm3 (query expansion)\n"
	        "                        --mode bm25|dense|hybrid  --fusion rrf|weighted  --dense-weight PCT\n"
	        "                        --candidates N  --ef N  --rerank-model FILE  --rerank-top N\n"
	        "                        --mmr PCT (diversity; 70 = 0.7 relevance)  --dedupe\n"
	        "  ask QUESTION          an answer with citations from the documents, or an abstention\n"
	        "                        -k N  --filter EXPR  --groups G1,G2 | --as PRINCIPAL  --json  --explain\n"
	        "                        --context-tokens N  --max-sentences N  --min-confidence X  --no-spans\n"
	        "                        --lenient  --mode bm25|dense|hybrid  --rerank-model FILE\n"
	        "                        --endpoint URL (generative, OpenAI-compatible)  --api-key-env NAME\n"
	        "                        --llm-model NAME  --temperature T  --max-tokens N  --timeout-ms N\n"
	        "                        --local-model FILE (generative, a local GGUF model; not with --endpoint)\n"
	        "                        --local-tokenizer FILE  --chat-template NAME  --threads N\n"
	        "                        --no-redact-remote (send personal data to the endpoint as it is)\n"
	        "                        --redact-output (mask personal data in the answer)\n"
	        "                        --verify-model FILE (a cross-encoder also checks generated sentences)\n"
	        "                        --verify-threshold X (its minimum probability, default 0.5)\n"
	        "                        --injection-question flag|refuse|off  (default flag)\n"
	        "                        --injection-documents quarantine|flag|refuse|off  (default quarantine)\n"
	        "  eval retrieval DIR    [--kb DIR] [--run FILE] [--json] [--depth N] [--per-query FILE]\n"
	        "                        [--chunked] [--split NAME] [--rm3] [--mode bm25|dense|hybrid]\n"
	        "                        [--embed-model FILE] [--rerank-model FILE] [--measures LIST]\n"
	        "                        [--report-json|--report-md|--report-html FILE] [--write-qrels FILE]\n"
	        "                        [--baseline FILE [--fail-on-regression] [--tolerance M=X,...]]\n"
	        "  eval trec QRELS RUN   score any TREC run file: [--measures LIST] [--per-query] [--json]\n"
	        "  eval compare A B      two runs (result JSON, or TREC runs with --qrels FILE): differences,\n"
	        "                        randomization test, bootstrap CI, wins/losses [--baseline FILE RUN]\n"
	        "                        [--fail-on-regression] [--tolerance M=X,...] [--permutations N]\n"
	        "                        [--bootstrap N] [--seed N] [--json] [--report-json|-md|-html FILE]\n"
	        "  eval answers DATASET  SQuAD-format JSON or SciFact dir: EM/F1, rationale P/R, abstention\n"
	        "                        [--json] [--max N] [--claims FILE] [--features FILE] [--no-unanswerable]\n"
	        "  eval pii [--data DIR] PII detection P/R per type on presidio-synth-pii [--split all|even|odd] [--json]\n"
	        "  scan FILE|-           PII (and prompt-injection) findings with byte offsets\n"
	        "                        --json  --question (score as a user's question, not a document)\n"
	        "                        --types T1,T2  --min-score S  --fail-on-find\n"
	        "  redact FILE|-         --mode mask|hash|token  --key-file F | --key-env VAR  --vault FILE\n"
	        "                        --types T1,T2  --min-score S  --json (text + where each replacement landed)\n"
	        "  rehydrate FILE|-      token-mode originals back: --as PRINCIPAL (holding rehydrate) | --allow\n"
	        "                        --key-file F | --key-env VAR  [--vault FILE (default KB/vault/pii.vault)]\n"
	        "  eval injection        prompt-injection detection and false-positive rates, tuning/held-out\n"
	        "                        [--data-root DIR (default $CAIRN_SHARED/data)] [--docs DIR] [--json]\n"
	        "                        [--show-misses (tuning half only)]\n"
	        "  stats [--json]        what the knowledge base holds\n"
	        "  check                 verify checksums and catalog/index agreement\n"
	        "  optimize [--max-segments N]   merge segments, drop deleted chunks\n"
	        "  delete DOC_ID...      remove documents\n"
	        "  show DOC_ID           a document's metadata and chunks  [--as PRINCIPAL] [--json | --text]\n"
	        "  serve [--listen ADDR:PORT] [--threads N] [--max-body-mb N] [--rate N/s] [--burst N]\n"
	        "        [--embed-model FILE] [--endpoint URL [--api-key-env NAME] [--llm-model NAME]]\n"
	        "        [--no-auth]   the HTTP API (docs/server.md)\n"
	        "        [--tools FILE [--tools-state FILE]] (tool approvals over HTTP)\n"
	        "  principal add NAME [--groups G1,G2] [--perms admin,rehydrate,audit]   create or replace\n"
	        "                        [--rate N/s] [--burst N]   its own HTTP API rate limit\n"
	        "  principal list|show NAME|remove NAME [--json]   principals and their groups\n"
	        "  principal key NAME    a new API key (printed once)   principal revoke KEY_ID\n"
	        "  acl open|closed|status   closed: documents without groups are hidden from non-admins\n"
	        "  audit enable [--retention-days N] | disable   the hash-chained audit trail (KB/audit.db)\n"
	        "  audit verify [--expect \"SEQ HASH\"] [--json] | show [--after SEQ] [--limit N] [--json] | head\n"
	        "  reembed [--embed-model FILE]   embed every chunk again (after changing the model)\n"
	        "  tokenize --model FILE [TEXT...]   tokens of TEXT (or stdin) as the model splits it\n"
	        "      --ids | --count | --json   --no-special (no BOS/EOS)  --parse-special  --pre NAME\n"
	        "      --decode (stdin/TEXT holds ids; prints the text)\n"
	        "  model info FILE [--json]   metadata and tensor table of a GGUF or llama2.c file\n"
	        "  convert --llama2c MODEL.bin --tokenizer TOKENIZER.bin -o OUT.gguf [--type f32|f16|q8_0]\n"
	        "  chat                  a grounded conversation over the KB: one question a line on stdin, each\n"
	        "                        answered like ask; follow-ups rewritten into standalone queries; /reset\n"
	        "      ask's options (-k --filter --groups --as --endpoint …)  --json  --explain\n"
	        "      --budget-tokens N (history kept, default 1024)  --verbatim-turns N  --no-rewrite\n"
	        "  chat --model FILE     a conversation with a local model on stdin (one user turn a line)\n"
	        "      [--tokenizer FILE] [--system TEXT] [--chat-template NAME] [-n N] [--threads N]\n"
	        "      [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]\n"
	        "      [--ctx N] [--show-prompt (each formatted prompt to stderr)]\n"
	        "  embed --model FILE    one embedding per stdin line: {\"index\":i,\"embedding\":[...]}\n"
	        "      --query (query side: its prefix)  --prefix TEXT  --format jsonl|f32  --no-normalize\n"
	        "      --threads N (0 = all CPUs)  --batch N (texts per batch, default 32)\n"
	        "  rerank --model FILE QUERY   score each stdin line (a passage) against QUERY:\n"
	        "      \"score<TAB>passage\" in input order;  --sort (best first)  --json  --threads N  --batch N\n"
	        "  generate --model FILE [PROMPT]   continue PROMPT (or stdin) with a local decoder, streamed\n"
	        "      -n N  --temp T  --top-k K  --top-p P  --min-p P  --repeat-penalty R  --repeat-last-n N\n"
	        "      --presence-penalty X  --frequency-penalty X  --seed S  --json-schema FILE  --stop STR...\n"
	        "      --tokenizer FILE  --threads N  --ctx N  --ignore-eos  --verbose (timing on stderr)\n"
	        "  tools list|validate [--tools FILE (default KB/tools.json)] [--json]   declared tools (docs/tools.md)\n"
	        "      validate --schema JSON --instance JSON   check a value against a JSON Schema (2020-12)\n"
	        "  tools call TOOL ARGS_JSON [--as PRINCIPAL] [--key KEY] [--dry-run] [--json]   propose one call\n"
	        "  tools run \"REQUEST\" --endpoint URL [--llm-model M] | --local-model FILE   a model proposes calls\n"
	        "      [--as PRINCIPAL] [--dry-run] [--trace FILE] [--max-turns N] [--max-tier TIER] [--json]\n"
	        "  approvals list [--all] | approve ID | deny ID   [--as PRINCIPAL (holding admin)] [--tools FILE]\n"
	        "  replay TRACE [--tools FILE] [--json]   re-run a traced session; exit 3 unless every decision repeats\n"
	        "  version | help\n"
	        "\n"
	        "Documentation: docs/README.md\n",
	        cairn_version());
}

/* ---- small argument helpers ---- */

typedef struct strlist {
	const char **v;
	size_t n, cap;
} strlist;

static void strlist_push(strlist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v) {
			fprintf(stderr, "%s: out of memory\n", cli_prog);
			exit(1);
		}
	}
	l->v[l->n++] = s;
}

long cli_parse_long(const char *opt, const char *v, long lo, long hi)
{
	if (!v)
		cli_die_usage("%s needs a value", opt);
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi)
		cli_die_usage("%s: \"%s\" is not a number in %ld..%ld", opt, v, lo, hi);
	return x;
}

const char *cli_need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		cli_die_usage("%s needs a value", argv[*i]);
	return argv[++*i];
}

static cairn_kb *open_kb_lang(const char *dir, bool create, bool read_only, const char *language)
{
	cairn_kb_params p = cairn_kb_default_params();
	p.create = create;
	p.read_only = read_only;
	if (language)
		p.language = language;
	cairn_kb *kb = NULL;
	char err[1024];
	if (cairn_kb_open(dir, &p, &kb, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		exit(1);
	}
	cairn_kb_stats st;
	if (language && cairn_kb_stats_get(kb, &st) == CAIRN_OK && strcmp(st.language, language) != 0) {
		fprintf(stderr, "%s: %s was created with language \"%s\"; the language of a knowledge base is fixed "
		        "(ingest into a new --kb to use \"%s\")\n", cli_prog, dir, st.language, language);
		exit(1);
	}
	return kb;
}

static cairn_kb *open_kb(const char *dir, bool create, bool read_only)
{
	return open_kb_lang(dir, create, read_only, NULL);
}

cairn_kb *cli_open_kb(const char *dir, bool create, bool read_only)
{
	return open_kb_lang(dir, create, read_only, NULL);
}

/* Output is always valid JSON: bytes that are not valid UTF-8 become U+FFFD. */
size_t cli_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	/* overlongs and surrogates */
	if (c == 0xe0 && p[1] < 0xa0)
		return 0;
	if (c == 0xed && p[1] >= 0xa0)
		return 0;
	if (c == 0xf0 && p[1] < 0x90)
		return 0;
	if (c == 0xf4 && p[1] >= 0x90)
		return 0;
	return len;
}

void cli_print_json_stringn(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f), fputc(c, f), i++;
		} else if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c), i++;
		} else if (c < 0x80) {
			fputc(c, f), i++;
		} else {
			size_t l = cli_utf8_len(p + i, n - i);
			if (l) {
				fwrite(p + i, 1, l, f);
				i += l;
			} else {
				fputs("\\ufffd", f);
				i++;
			}
		}
	}
	fputc('"', f);
}

void cli_print_json_string(FILE *f, const char *s)
{
	cli_print_json_stringn(f, s, strlen(s));
}

/* ---- ingest ---- */

typedef struct ingest_ui {
	bool tty, quiet, json;
	double t0;
	int64_t failed, reported;
	int last_width;
} ingest_ui;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_bar(ingest_ui *ui)
{
	if (ui->tty && ui->last_width) {
		fprintf(stderr, "\r%*s\r", ui->last_width, "");
		ui->last_width = 0;
	}
}

enum { SKIPS_SHOWN = 20 };

static void on_event(cairn_ingest_event ev, const char *path, const char *msg, void *ud)
{
	ingest_ui *ui = ud;
	if (ev == CAIRN_INGEST_SKIPPED) {
		/* The first ones name the problem; a file of a thousand bad lines should not bury it. */
		if (++ui->failed <= SKIPS_SHOWN) {
			clear_bar(ui);
			fprintf(stderr, "%s: skipped %s\n", cli_prog, msg ? msg : path);
		}
	}
}

static int on_progress(const cairn_ingest_progress *p, void *ud)
{
	ingest_ui *ui = ud;
	if (!ui->tty || ui->quiet)
		return 0;
	double el = now_s() - ui->t0;
	double mbps = el > 0 ? (double)p->bytes_done / 1e6 / el : 0;
	double frac = p->bytes_total > 0 ? (double)p->bytes_done / (double)p->bytes_total : 0;
	if (p->files_total > 0 && p->bytes_total == 0)
		frac = (double)p->files_done / (double)p->files_total;
	double eta = frac > 0.001 ? el * (1 - frac) / frac : 0;
	int width = 30, filled = (int)(frac * width);
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = '\0';
	ui->last_width = fprintf(stderr, "\r[%s] %lld/%lld files  %.1f MB/s  ETA %.0fs ", bar, (long long)p->files_done,
	                         (long long)p->files_total, mbps, eta);
	return 0;
}

static int cmd_ingest(const char *kbdir, int argc, char **argv)
{
	cairn_ingest_params p = cairn_ingest_default_params();
	strlist paths = {0}, tags = {0}, acl = {0}, excl = {0};
	ingest_ui ui = {.tty = isatty(2) != 0};
	const char *language = NULL, *tokenizer_path = NULL, *key_file = NULL, *key_env = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--exclude"))
			strlist_push(&excl, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--tag")) {
			const char *t = cli_need(argc, argv, &i);
			const char *eq = strchr(t, '=');
			if (!eq || eq == t)
				cli_die_usage("--tag wants KEY=VALUE, got \"%s\"", t);
			strlist_push(&tags, t);
		} else if (!strcmp(a, "--acl"))
			strlist_push(&acl, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--prune"))
			p.prune = 1;
		else if (!strcmp(a, "--whole"))
			p.whole_documents = 1;
		else if (!strcmp(a, "--chunk-tokens"))
			p.chunk_target_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 100000);
		else if (!strcmp(a, "--chunk-min"))
			p.chunk_min_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000);
		else if (!strcmp(a, "--chunk-max"))
			p.chunk_max_tokens = (int)cli_parse_long(a, cli_need(argc, argv, &i), 16, 100000);
		else if (!strcmp(a, "--overlap"))
			p.chunk_overlap_pct = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 50);
		else if (!strcmp(a, "--max-file-mb"))
			p.max_file_bytes = cli_parse_long(a, cli_need(argc, argv, &i), 1, 1 << 20) << 20;
		else if (!strcmp(a, "--commit-every"))
			p.commit_every_files = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 100000000);
		else if (!strcmp(a, "--language"))
			language = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--tokenizer"))
			tokenizer_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--embed-model"))
			p.embed_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--redact")) {
			const char *m = cli_need(argc, argv, &i);
			p.redact = 1;
			p.redact_mode = !strcmp(m, "mask") ? CAIRN_REDACT_MASK : !strcmp(m, "hash") ? CAIRN_REDACT_HASH
			              : !strcmp(m, "token") ? CAIRN_REDACT_TOKEN
			                                    : (cli_die_usage("--redact is mask, hash or token, not \"%s\"", m), 0);
		} else if (!strcmp(a, "--redact-types"))
			p.redact_types = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--key-file"))
			key_file = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--key-env"))
			key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--vault"))
			p.redact_vault = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--injection")) {
			const char *m = cli_need(argc, argv, &i);
			p.injection_scan = 1;
			p.injection_policy = !strcmp(m, "flag") ? CAIRN_INJECTION_POLICY_FLAG
			                   : !strcmp(m, "quarantine") ? CAIRN_INJECTION_POLICY_QUARANTINE
			                   : !strcmp(m, "refuse") ? CAIRN_INJECTION_POLICY_REFUSE
			                   : (cli_die_usage("--injection is flag, quarantine or refuse, not \"%s\"", m), 0);
		}
		else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
			ui.quiet = true;
		else if (!strcmp(a, "--json"))
			ui.json = true;
		else if (a[0] == '-' && a[1])
			cli_die_usage("ingest: unknown option %s", a);
		else
			strlist_push(&paths, a);
	}
	if (!paths.n)
		cli_die_usage("ingest needs at least one PATH");
	if ((key_file || key_env || p.redact_vault || p.redact_types) && !p.redact)
		cli_die_usage("ingest: --key-file, --key-env, --vault and --redact-types go with --redact MODE");
	if (key_file && key_env)
		cli_die_usage("ingest: --key-file and --key-env exclude each other");
	uint8_t key[CAIRN_KEY_BYTES];
	if (p.redact && p.redact_mode != CAIRN_REDACT_MASK) {
		char kerr[512];
		if (!key_file && !key_env)
			cli_die_usage("ingest: --redact %s needs --key-file FILE or --key-env VAR",
			              p.redact_mode == CAIRN_REDACT_HASH ? "hash" : "token");
		if (cairn_key_load(key_file, key_env, key, kerr, sizeof kerr) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, kerr);
			return 1;
		}
		p.redact_key = key;
	}
	p.tags = tags.v;
	p.n_tags = tags.n;
	p.acl = acl.v;
	p.n_acl = acl.n;
	p.exclude = excl.v;
	p.n_exclude = excl.n;
	p.on_event = on_event;
	p.on_progress = on_progress;
	p.user_data = &ui;
	cairn_tokenizer *tok = NULL;
	if (tokenizer_path) {
		char terr[1024];
		if (cairn_tokenizer_open(tokenizer_path, NULL, &tok, terr, sizeof terr) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, terr);
			free(paths.v);
			free(tags.v);
			free(acl.v);
			free(excl.v);
			return 1;
		}
		p.tokenizer = tok;
	}
	ui.t0 = now_s();
	cairn_kb *kb = open_kb_lang(kbdir, true, false, language);
	cairn_ingest_stats s;
	cairn_status st = cairn_ingest_paths(kb, paths.v, paths.n, &p, &s);
	clear_bar(&ui);
	if (ui.failed > SKIPS_SHOWN)
		fprintf(stderr, "%s: ... and %lld more skipped (the first %d are shown above)\n", cli_prog,
		        (long long)(ui.failed - SKIPS_SHOWN), SKIPS_SHOWN);
	int rc = 0;
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: ingest failed: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else if (s.skipped > 0 && s.added + s.updated + s.unchanged == 0) {
		rc = EXIT_ALL_FAILED;
	}
	if (ui.json) {
		printf("{\"files\":%lld,\"added\":%lld,\"updated\":%lld,\"unchanged\":%lld,\"removed\":%lld,"
		       "\"skipped\":%lld,\"excluded\":%lld,\"chunks\":%lld,\"near_duplicates\":%lld,\"bytes\":%lld,"
		       "\"seconds\":%.3f,\"ok\":%s}\n",
		       (long long)s.files_seen, (long long)s.added, (long long)s.updated, (long long)s.unchanged,
		       (long long)s.removed, (long long)s.skipped, (long long)s.excluded, (long long)s.chunks_added,
		       (long long)s.near_duplicates, (long long)s.bytes_read, s.seconds, st == CAIRN_OK ? "true" : "false");
	} else if (!ui.quiet || rc) {
		printf("ingested %lld files in %.2fs: %lld added, %lld updated, %lld unchanged, %lld removed, "
		       "%lld skipped; %lld chunks (%lld near-duplicate), %.1f MB\n",
		       (long long)s.files_seen, s.seconds, (long long)s.added, (long long)s.updated, (long long)s.unchanged,
		       (long long)s.removed, (long long)s.skipped, (long long)s.chunks_added, (long long)s.near_duplicates,
		       (double)s.bytes_read / 1e6);
	}
	cairn_kb_close(kb);
	cairn_key_wipe(key);
	cairn_tokenizer_close(tok);
	free(paths.v);
	free(tags.v);
	free(acl.v);
	free(excl.v);
	return rc;
}

/* ---- search ---- */

static int cmd_search(const char *kbdir, int argc, char **argv)
{
	cairn_search_params p = cairn_search_default_params();
	bool json = false;
	const char *query = NULL;
	strlist groups = {0};
	char *groups_buf = NULL;
	bool groups_given = false;
	const char *as = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-k") || !strcmp(a, "--k"))
			p.k = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000);
		else if (!strcmp(a, "--as"))
			as = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--filter"))
			p.filter = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--groups")) {
			free(groups_buf);
			groups_buf = strdup(cli_need(argc, argv, &i));
			groups_given = true;
			groups.n = 0;
			for (char *tok = strtok(groups_buf, ","); tok; tok = strtok(NULL, ","))
				if (*tok)
					strlist_push(&groups, tok);
		} else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--no-snippets"))
			p.snippets = 0;
		else if (!strcmp(a, "--exhaustive"))
			p.exhaustive = 1;
		else if (!strcmp(a, "--collapse"))
			p.collapse_documents = 1;
		else if (!strcmp(a, "--rm3"))
			p.rm3 = 1;
		else if (!strcmp(a, "--mode")) {
			const char *m = cli_need(argc, argv, &i);
			if (!strcmp(m, "bm25"))
				p.mode = CAIRN_SEARCH_BM25;
			else if (!strcmp(m, "dense"))
				p.mode = CAIRN_SEARCH_DENSE;
			else if (!strcmp(m, "hybrid"))
				p.mode = CAIRN_SEARCH_HYBRID;
			else
				cli_die_usage("--mode is bm25, dense or hybrid, not \"%s\"", m);
		} else if (!strcmp(a, "--fusion")) {
			const char *f = cli_need(argc, argv, &i);
			if (!strcmp(f, "rrf"))
				p.fusion = CAIRN_FUSION_RRF;
			else if (!strcmp(f, "weighted"))
				p.fusion = CAIRN_FUSION_WEIGHTED;
			else
				cli_die_usage("--fusion is rrf or weighted, not \"%s\"", f);
		} else if (!strcmp(a, "--dense-weight"))
			p.dense_weight = cli_parse_long(a, cli_need(argc, argv, &i), 0, 100) / 100.0;
		else if (!strcmp(a, "--candidates"))
			p.candidates = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000);
		else if (!strcmp(a, "--ef"))
			p.ef_search = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 100000);
		else if (!strcmp(a, "--rerank-model"))
			p.rerank_model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--rerank-top"))
			p.rerank_top = (int)cli_parse_long(a, cli_need(argc, argv, &i), 1, 10000);
		else if (!strcmp(a, "--mmr"))
			p.mmr_lambda = cli_parse_long(a, cli_need(argc, argv, &i), 1, 99) / 100.0;
		else if (!strcmp(a, "--dedupe"))
			p.dedupe = 1;
		else if (a[0] == '-' && a[1])
			cli_die_usage("search: unknown option %s", a);
		else if (query)
			cli_die_usage("search takes one QUERY (quote it): extra \"%s\"", a);
		else
			query = a;
	}
	if (!query)
		cli_die_usage("search needs a QUERY");
	if (as && groups_given)
		cli_die_usage("search: --as and --groups exclude each other (--as takes the principal's groups)");
	static const char *no_groups[1];
	if (groups_given) {
		p.groups = groups.n ? groups.v : no_groups;
		p.n_groups = groups.n;
	}
	if (!json && isatty(1)) {
		p.highlight_open = "\033[1m";
		p.highlight_close = "\033[0m";
	}
	cairn_kb *kb = open_kb(kbdir, false, true);
	cairn_principal *who = NULL;
	if (as) {
		who = cli_as_principal(kb, as, &p.groups, &p.n_groups);
		p.principal = as;
	}
	cairn_results *r = NULL;
	int rc = 0;
	if (cairn_search(kb, query, &p, &r) != CAIRN_OK) {
		fprintf(stderr, "%s: search: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else if (json) {
		char *s = cairn_results_to_json(r);
		if (!s) {
			fprintf(stderr, "%s: out of memory\n", cli_prog);
			rc = 1;
		} else {
			puts(s);
			cairn_free(s);
		}
	} else {
		size_t n = cairn_results_count(r);
		if (n == 0)
			printf("no results for \"%s\"\n", query);
		for (size_t i = 0; i < n; i++) {
			const cairn_hit *h = cairn_results_get(r, i);
			/* The heading path usually starts with the title: show it once. */
			const char *title = *h->title ? h->title : h->doc_id;
			const char *heading = h->heading;
			size_t tl = strlen(h->title);
			if (tl && strncmp(heading, h->title, tl) == 0)
				heading = !strncmp(heading + tl, " > ", 3) ? heading + tl + 3 : heading + tl;
			printf("%zu. %s", i + 1, title);
			if (*heading)
				printf(" › %s", heading);
			printf("\n   %s  (score %.3f)\n", h->source && *h->source ? h->source : h->doc_id, h->score);
			if (*h->snippet)
				printf("   %s\n", h->snippet);
			printf("\n");
		}
	}
	cairn_results_free(r);
	cairn_principal_free(who);
	cairn_kb_close(kb);
	free(groups.v);
	free(groups_buf);
	return rc;
}

/* ---- eval ---- */

static int cmd_eval(const char *kbdir_given, int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "answers"))
		return cli_cmd_eval_answers(kbdir_given, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "pii"))
		return cli_cmd_eval_pii(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "injection"))
		return cli_cmd_eval_injection(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "safety"))
		return cli_cmd_eval_safety(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "retrieval"))
		return cli_cmd_eval_retrieval(kbdir_given, argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "trec"))
		return cli_cmd_eval_trec(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "compare"))
		return cli_cmd_eval_compare(argc, argv);
	cli_die_usage("eval: `eval retrieval DATASET_DIR`, `eval trec QRELS RUN`, `eval compare RUN_A RUN_B`, "
	              "`eval answers DATASET`, `eval safety`, `eval pii` or `eval injection`");
}

/* ---- stats, check, optimize, delete ---- */

static int cmd_stats(const char *kbdir, int argc, char **argv)
{
	bool json = argc > 0 && !strcmp(argv[0], "--json");
	if (argc > (json ? 1 : 0))
		cli_die_usage("stats takes only --json");
	cairn_kb *kb = open_kb(kbdir, false, true);
	cairn_kb_stats s;
	int rc = 0;
	if (cairn_kb_stats_get(kb, &s) != CAIRN_OK) {
		fprintf(stderr, "%s: stats: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else if (json) {
		printf("{\"documents\":%lld,\"chunks\":%lld,\"segments\":%lld,\"terms\":%lld,\"index_bytes\":%lld,"
		       "\"catalog_bytes\":%lld,\"near_duplicate_chunks\":%lld,\"vector_chunks\":%lld,\"generation\":%lld,"
		       "\"language\":",
		       (long long)s.documents, (long long)s.chunks, (long long)s.segments, (long long)s.terms,
		       (long long)s.index_bytes, (long long)s.catalog_bytes, (long long)s.near_duplicate_chunks,
		       (long long)s.vector_chunks, (long long)s.generation);
		cli_print_json_string(stdout, s.language);
		printf(",\"embed_model\":");
		cli_print_json_string(stdout, s.embed_model);
		printf("}\n");
	} else {
		printf("knowledge base   %s\n", kbdir);
		printf("documents        %lld\n", (long long)s.documents);
		printf("chunks           %lld (%lld near-duplicate)\n", (long long)s.chunks,
		       (long long)s.near_duplicate_chunks);
		printf("segments         %lld\n", (long long)s.segments);
		if (*s.embed_model)
			printf("vectors          %lld chunks, model %s\n", (long long)s.vector_chunks, s.embed_model);
		printf("terms            %lld\n", (long long)s.terms);
		printf("index            %.2f MB\n", (double)s.index_bytes / 1e6);
		printf("catalog          %.2f MB\n", (double)s.catalog_bytes / 1e6);
		printf("language         %s\n", s.language);
		printf("generation       %lld\n", (long long)s.generation);
	}
	cairn_kb_close(kb);
	return rc;
}

static int cmd_check(const char *kbdir, int argc, char **argv)
{
	(void)argv;
	if (argc)
		cli_die_usage("check takes no arguments");
	cairn_kb *kb = open_kb(kbdir, false, true);
	int rc = 0;
	if (cairn_kb_check(kb) != CAIRN_OK) {
		fprintf(stderr, "%s: check failed: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else {
		printf("ok: %s is consistent\n", kbdir);
	}
	cairn_kb_close(kb);
	return rc;
}

static int cmd_optimize(const char *kbdir, int argc, char **argv)
{
	int max = 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--max-segments"))
			max = (int)cli_parse_long(argv[i], cli_need(argc, argv, &i), 1, 1000);
		else
			cli_die_usage("optimize: unknown argument %s", argv[i]);
	}
	cairn_kb *kb = open_kb(kbdir, false, false);
	int rc = 0;
	cairn_kb_stats s;
	if (cairn_kb_optimize(kb, max) != CAIRN_OK) {
		fprintf(stderr, "%s: optimize: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else if (cairn_kb_stats_get(kb, &s) == CAIRN_OK) {
		printf("optimized: %lld segment(s), %lld chunks, %.2f MB index\n", (long long)s.segments,
		       (long long)s.chunks, (double)s.index_bytes / 1e6);
	}
	cairn_kb_close(kb);
	return rc;
}

static int cmd_reembed(const char *kbdir, int argc, char **argv)
{
	const char *model = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--embed-model"))
			model = cli_need(argc, argv, &i);
		else
			cli_die_usage("reembed: unknown argument %s", argv[i]);
	}
	cairn_kb *kb = open_kb_lang(kbdir, false, false, NULL);
	int rc = 0;
	if (cairn_kb_reembed(kb, model) != CAIRN_OK) {
		fprintf(stderr, "%s: reembed failed: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	}
	cairn_kb_close(kb);
	return rc;
}

static int cmd_delete(const char *kbdir, int argc, char **argv)
{
	if (!argc)
		cli_die_usage("delete needs at least one DOC_ID");
	cairn_kb *kb = open_kb(kbdir, false, false);
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		if (cairn_kb_delete_document(kb, argv[i]) != CAIRN_OK) {
			fprintf(stderr, "%s: delete: %s\n", cli_prog, cairn_kb_errmsg(kb));
			rc = 1;
		}
	}
	if (cairn_kb_commit(kb) != CAIRN_OK) {
		fprintf(stderr, "%s: delete: %s\n", cli_prog, cairn_kb_errmsg(kb));
		rc = 1;
	} else if (rc == 0) {
		printf("deleted %d document(s)\n", argc);
	}
	cairn_kb_close(kb);
	return rc;
}

static void log_to_stderr(cairn_log_level level, const char *msg, void *ud)
{
	(void)ud;
	if (level >= CAIRN_LOG_WARN)
		fprintf(stderr, "%s: %s\n", cli_prog, msg);
}

int main(int argc, char **argv)
{
	const char *kbdir = getenv("CAIRN_KB");
	bool kb_given = false;
	if (!kbdir || !*kbdir)
		kbdir = "cairn.kb";
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--kb")) {
			kbdir = cli_need(argc, argv, &i);
			kb_given = true;
		} else if (!strncmp(argv[i], "--kb=", 5)) {
			kbdir = argv[i] + 5;
			kb_given = true;
		} else
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cairn_set_log(log_to_stderr, NULL);
	const char *cmd = argv[i];
	int sub_argc = argc - i - 1;
	char **sub_argv = argv + i + 1;
	if (!strcmp(cmd, "ingest"))
		return cmd_ingest(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "search"))
		return cmd_search(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "ask"))
		return cli_cmd_ask(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "eval"))
		return cmd_eval(kb_given ? kbdir : NULL, sub_argc, sub_argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "check"))
		return cmd_check(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "optimize"))
		return cmd_optimize(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "reembed"))
		return cmd_reembed(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "delete"))
		return cmd_delete(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "serve"))
		return cli_cmd_serve(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "principal"))
		return cli_cmd_principal(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "acl"))
		return cli_cmd_acl(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "audit"))
		return cli_cmd_audit(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "show"))
		return cli_cmd_show(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "tokenize"))
		return cli_cmd_tokenize(argc - i, argv + i);
	if (!strcmp(cmd, "model"))
		return cli_cmd_model(argc - i, argv + i);
	if (!strcmp(cmd, "embed"))
		return cli_cmd_embed(argc - i, argv + i);
	if (!strcmp(cmd, "rerank"))
		return cli_cmd_rerank(argc - i, argv + i);
	if (!strcmp(cmd, "convert"))
		return cli_cmd_convert(argc - i, argv + i);
	if (!strcmp(cmd, "chat"))
		return cli_cmd_chat(kbdir, argc - i, argv + i);
	if (!strcmp(cmd, "scan"))
		return cli_cmd_scan(sub_argc, sub_argv);
	if (!strcmp(cmd, "redact"))
		return cli_cmd_redact(sub_argc, sub_argv);
	if (!strcmp(cmd, "rehydrate"))
		return cli_cmd_rehydrate(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "generate"))
		return cli_cmd_generate(argc - i, argv + i);
	if (!strcmp(cmd, "tools"))
		return cli_cmd_tools(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "approvals"))
		return cli_cmd_approvals(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "replay"))
		return cli_cmd_replay(kbdir, sub_argc, sub_argv);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("cairn %s\n", cairn_version());
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	cli_die_usage("unknown command \"%s\"", cmd);
	return EXIT_USAGE;
}
