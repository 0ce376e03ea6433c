/*
 * guard.c — `cairn scan`, `cairn redact`, `cairn rehydrate` and `cairn eval pii`.
 *
 * Input is a file or "-" (stdin), read whole as bytes (a size limit guards memory): the
 * library scans any bytes, so NULs and invalid UTF-8 are not errors, and every offset
 * printed is a byte offset into exactly what was read. Text and JSON writers here take
 * lengths, never rely on NUL termination, and turn bytes that are not valid UTF-8 into
 * U+FFFD (JSON) or \xNN (text) so output stays well-formed whatever the input.
 *
 * Exit status: 0 done; 1 an error, or findings when --fail-on-find was given; 2 usage.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.h"
#include "commands.h"

#define EXIT_ERR 1
#define EXIT_USAGE 2

static char *read_input(const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s: cannot open\n", cli_prog, path);
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > max) {
			fprintf(stderr, "%s: %s: larger than the limit of %zu bytes (--max-mb)\n", cli_prog, path, max);
			free(buf);
			buf = NULL;
			break;
		}
		if (n < cap) {
			if (ferror(f)) {
				fprintf(stderr, "%s: %s: read error\n", cli_prog, path);
				free(buf);
				buf = NULL;
			}
			break;
		}
		char *nb = realloc(buf, cap * 2 + 1);
		if (!nb) {
			fprintf(stderr, "%s: out of memory\n", cli_prog);
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	if (f != stdin)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static void put_text(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c == '\t') {
			fputs("\\t", f), i++;
		} else if (c == '\\') {
			fputs("\\\\", f), i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02x", c), i++;
		} else if (c < 0x80) {
			fputc(c, f), i++;
		} else {
			size_t l = cli_utf8_len(p + i, n - i);
			if (l) {
				fwrite(p + i, 1, l, f);
				i += l;
			} else {
				fprintf(f, "\\x%02x", c), i++;
			}
		}
	}
}

static double parse_score(const char *opt, const char *v)
{
	char *end;
	double d = strtod(v, &end);
	if (!*v || *end || !(d >= 0 && d <= 1))
		cli_die_usage("%s: expected a number in [0, 1], got \"%s\"", opt, v);
	return d;
}

/* ---- prompt-injection hook ------------------------------------------------------------ */

typedef struct scan_injection_result {
	double score;
	bool flagged;
	const char *reasons[16];
	size_t n_reasons;
} scan_injection_result;

/* The prompt-injection detector (src/guard/inject.c) on the same bytes: a file is scored as a
 * document (indirect injection), or as a user's question with --question. */
static bool scan_injection(const char *text, size_t len, bool question, scan_injection_result *out)
{
	memset(out, 0, sizeof *out);
	cairn_injection_result r;
	char msg[256];
	if (cairn_injection_scan(text, len, question ? CAIRN_INJECTION_QUESTION : CAIRN_INJECTION_DOCUMENT, &r, msg,
	                         sizeof msg) != CAIRN_OK) {
		fprintf(stderr, "%s: scan: %s\n", cli_prog, msg);
		return false;
	}
	out->score = r.score;
	out->flagged = r.flagged != 0;
	for (int f = 0; f < CAIRN_INJ_NFEATURES && out->n_reasons < 16; f++)
		if (r.reasons & (1u << f))
			out->reasons[out->n_reasons++] = cairn_injection_feature_name((cairn_injection_feature)f);
	return true;
}

/* ---- cairn scan --------------------------------------------------------------------- */

int cli_cmd_scan(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, fail_on_find = false, as_question = false;
	cairn_pii_params p = cairn_pii_default_params();
	long max_mb = 256;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--fail-on-find"))
			fail_on_find = true;
		else if (!strcmp(a, "--question"))
			as_question = true;
		else if (!strcmp(a, "--types"))
			p.types = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--min-score"))
			p.min_score = parse_score(a, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--max-mb"))
			max_mb = cli_parse_long(a, cli_need(argc, argv, &i), 1, 4095);
		else if (a[0] == '-' && a[1])
			cli_die_usage("scan: unknown option %s", a);
		else if (path)
			cli_die_usage("scan: one input at a time (FILE or -)");
		else
			path = a;
	}
	if (!path)
		cli_die_usage("scan: `scan FILE|- [--json] [--question] [--types T1,T2] [--min-score S] [--fail-on-find]`");
	size_t len;
	char *text = read_input(path, (size_t)max_mb << 20, &len);
	if (!text)
		return EXIT_ERR;
	cairn_pii_finding *f = NULL;
	size_t nf = 0;
	char errbuf[512];
	cairn_status st = cairn_pii_scan(text, len, &p, &f, &nf, errbuf, sizeof errbuf);
	if (st == CAIRN_EINVAL) {
		free(text);
		cli_die_usage("scan: %s", errbuf);
	}
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path, errbuf);
		free(text);
		return EXIT_ERR;
	}
	scan_injection_result inj;
	if (!scan_injection(text, len, as_question, &inj)) {
		cairn_pii_findings_free(f);
		free(text);
		return EXIT_ERR;
	}
	if (json) {
		fputs("{\"pii\":[", stdout);
		for (size_t i = 0; i < nf; i++) {
			printf("%s{\"type\":\"%s\",\"start\":%zu,\"end\":%zu,\"text\":", i ? "," : "", f[i].type, f[i].start,
			       f[i].end);
			cli_print_json_stringn(stdout, text + f[i].start, f[i].end - f[i].start);
			printf(",\"score\":%.3f}", f[i].score);
		}
		printf("],\"injection\":{\"score\":%.3f,\"flagged\":%s,\"reasons\":[", inj.score,
		       inj.flagged ? "true" : "false");
		for (size_t i = 0; i < inj.n_reasons; i++) {
			if (i)
				fputc(',', stdout);
			cli_print_json_stringn(stdout, inj.reasons[i], strlen(inj.reasons[i]));
		}
		fputs("]}}\n", stdout);
	} else {
		for (size_t i = 0; i < nf; i++) {
			printf("%s\t%zu\t%zu\t%.3f\t", f[i].type, f[i].start, f[i].end, f[i].score);
			put_text(stdout, text + f[i].start, f[i].end - f[i].start);
			fputc('\n', stdout);
		}
		if (inj.flagged) {
			printf("INJECTION\t%.3f\t", inj.score);
			for (size_t i = 0; i < inj.n_reasons; i++)
				printf("%s%s", i ? "," : "", inj.reasons[i]);
			fputc('\n', stdout);
		}
	}
	cairn_pii_findings_free(f);
	free(text);
	return fail_on_find && (nf > 0 || inj.flagged) ? 1 : 0;
}

/* ---- cairn redact / rehydrate ----------------------------------------------------------- */

static bool load_key(const char *key_file, const char *key_env, uint8_t key[CAIRN_KEY_BYTES])
{
	char errbuf[512];
	if (cairn_key_load(key_file, key_env, key, errbuf, sizeof errbuf) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, errbuf);
		return false;
	}
	return true;
}

int cli_cmd_redact(int argc, char **argv)
{
	const char *path = NULL, *key_file = NULL, *key_env = NULL, *mode = "mask";
	bool json = false, fail_on_find = false;
	long max_mb = 256;
	cairn_redact_params p = cairn_redact_default_params();
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--fail-on-find"))
			fail_on_find = true;
		else if (!strcmp(a, "--mode"))
			mode = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--key-file"))
			key_file = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--key-env"))
			key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--vault"))
			p.vault_path = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--types"))
			p.pii.types = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--min-score"))
			p.pii.min_score = parse_score(a, cli_need(argc, argv, &i));
		else if (!strcmp(a, "--max-mb"))
			max_mb = cli_parse_long(a, cli_need(argc, argv, &i), 1, 4095);
		else if (a[0] == '-' && a[1])
			cli_die_usage("redact: unknown option %s", a);
		else if (path)
			cli_die_usage("redact: one input at a time (FILE or -)");
		else
			path = a;
	}
	if (!path)
		cli_die_usage("redact: `redact FILE|- [--mode mask|hash|token] [--key-file F | --key-env VAR] "
		              "[--vault FILE] [--types T1,T2] [--min-score S] [--json]`");
	if (!strcmp(mode, "mask"))
		p.mode = CAIRN_REDACT_MASK;
	else if (!strcmp(mode, "hash"))
		p.mode = CAIRN_REDACT_HASH;
	else if (!strcmp(mode, "token"))
		p.mode = CAIRN_REDACT_TOKEN;
	else
		cli_die_usage("redact: --mode is mask, hash or token, not \"%s\"", mode);
	if (p.mode != CAIRN_REDACT_MASK && !key_file == !key_env)
		cli_die_usage("redact: --mode %s needs exactly one of --key-file FILE or --key-env VAR", mode);
	if (p.mode == CAIRN_REDACT_TOKEN && !p.vault_path)
		cli_die_usage("redact: --mode token needs --vault FILE");
	uint8_t key[CAIRN_KEY_BYTES];
	if (p.mode != CAIRN_REDACT_MASK) {
		if (!load_key(key_file, key_env, key))
			return EXIT_ERR;
		p.key = key;
	}
	size_t len;
	char *text = read_input(path, (size_t)max_mb << 20, &len);
	if (!text) {
		cairn_key_wipe(key);
		return EXIT_ERR;
	}
	cairn_redacted r;
	char errbuf[512];
	cairn_status st = cairn_redact(text, len, &p, &r, errbuf, sizeof errbuf);
	cairn_key_wipe(key);
	free(text);
	if (st == CAIRN_EINVAL && p.pii.types)
		cli_die_usage("redact: %s", errbuf);
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: %s: %s\n", cli_prog, path, errbuf);
		return EXIT_ERR;
	}
	if (json) {
		fputs("{\"text\":", stdout);
		cli_print_json_stringn(stdout, r.text, r.len);
		fputs(",\"redactions\":[", stdout);
		for (size_t i = 0; i < r.n_items; i++)
			printf("%s{\"type\":\"%s\",\"start\":%zu,\"end\":%zu,\"out_start\":%zu,\"out_end\":%zu}", i ? "," : "",
			       r.items[i].type, r.items[i].src_start, r.items[i].src_end, r.items[i].out_start,
			       r.items[i].out_end);
		fputs("]}\n", stdout);
	} else {
		fwrite(r.text, 1, r.len, stdout);
	}
	size_t n = r.n_items;
	cairn_redacted_free(&r);
	return fail_on_find && n ? 1 : 0;
}

int cli_cmd_rehydrate(const char *kbdir, int argc, char **argv)
{
	const char *path = NULL, *key_file = NULL, *key_env = NULL, *vault = NULL, *as = NULL;
	bool allow = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--key-file"))
			key_file = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--key-env"))
			key_env = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--vault"))
			vault = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--allow"))
			allow = true;
		else if (!strcmp(a, "--as"))
			as = cli_need(argc, argv, &i);
		else if (a[0] == '-' && a[1])
			cli_die_usage("rehydrate: unknown option %s", a);
		else if (path)
			cli_die_usage("rehydrate: one input at a time (FILE or -)");
		else
			path = a;
	}
	if (!path || !key_file == !key_env)
		cli_die_usage("rehydrate: `rehydrate FILE|- (--key-file F | --key-env VAR) (--as PRINCIPAL | --allow) "
		              "[--vault FILE]`");
	if (as && allow)
		cli_die_usage("rehydrate: --as and --allow exclude each other");
	/* Who may see the originals: a principal of the knowledge base holding the rehydrate
	 * permission (--as), or the operator who holds the key and says so (--allow). */
	char default_vault[4096];
	if (!vault) {
		snprintf(default_vault, sizeof default_vault, "%s/vault/pii.vault", kbdir);
		vault = default_vault;
	}
	if (as) {
		cairn_kb_params kp = cairn_kb_default_params();
		kp.create = 0;
		kp.read_only = 1;
		cairn_kb *kb = NULL;
		char kerr[1024];
		if (cairn_kb_open(kbdir, &kp, &kb, kerr, sizeof kerr) != CAIRN_OK) {
			fprintf(stderr, "%s: %s\n", cli_prog, kerr);
			return EXIT_ERR;
		}
		cairn_principal *who = NULL;
		cairn_status pst = cairn_principal_get(kb, as, &who);
		bool may = pst == CAIRN_OK && (who->perms & CAIRN_PERM_REHYDRATE);
		cairn_audit_entry e = {.action = may ? "rehydrate" : "rehydrate.denied", .principal = as};
		cairn_status ast = cairn_audit_append(kb, &e);
		if (pst != CAIRN_OK)
			fprintf(stderr, "%s: rehydrate: --as %s: %s\n", cli_prog, as, cairn_kb_errmsg(kb));
		else if (!may)
			fprintf(stderr, "%s: rehydrate: principal %s lacks the rehydrate permission\n", cli_prog, as);
		else if (ast != CAIRN_OK)
			fprintf(stderr, "%s: rehydrate: audit: %s\n", cli_prog, cairn_kb_errmsg(kb));
		cairn_principal_free(who);
		cairn_kb_close(kb);
		if (!may || ast != CAIRN_OK)
			return EXIT_ERR;
	} else if (!allow) {
		fprintf(stderr, "%s: rehydrate: restoring originals needs the rehydrate permission: pass --as PRINCIPAL "
		                "(a principal holding it), or --allow as the key's holder\n",
		        cli_prog);
		return EXIT_ERR;
	}
	uint8_t key[CAIRN_KEY_BYTES];
	if (!load_key(key_file, key_env, key))
		return EXIT_ERR;
	size_t len;
	char *text = read_input(path, (size_t)256 << 20, &len);
	if (!text) {
		cairn_key_wipe(key);
		return EXIT_ERR;
	}
	char *out = NULL, errbuf[512];
	size_t out_len = 0;
	cairn_status st = cairn_rehydrate(text, len, vault, key, 1, &out, &out_len, errbuf, sizeof errbuf);
	cairn_key_wipe(key);
	free(text);
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, errbuf);
		return EXIT_ERR;
	}
	fwrite(out, 1, out_len, stdout);
	cairn_free(out);
	return 0;
}

/* ---- cairn eval pii --------------------------------------------------------------------- */

static void print_report(const cairn_pii_eval_report *r, const char *split, bool json)
{
	if (json) {
		printf("{\"dataset\":");
		cli_print_json_stringn(stdout, r->path, strlen(r->path));
		printf(",\"split\":\"%s\",\"records\":%lld,\"headline\":\"exact\",\"types\":[", split,
		       (long long)r->records);
		for (size_t i = 0; i < r->n_rows; i++) {
			const cairn_pii_eval_row *w = &r->rows[i];
			printf("%s{\"type\":\"%s\",\"gold\":%lld,\"predicted\":%lld,\"precision_exact\":%.4f,"
			       "\"recall_exact\":%.4f,\"precision_overlap\":%.4f,\"recall_overlap\":%.4f}",
			       i ? "," : "", w->type, (long long)w->gold, (long long)w->predicted, w->precision_exact,
			       w->recall_exact, w->precision_overlap, w->recall_overlap);
		}
		printf("],\"seconds\":%.3f}\n", r->seconds);
		return;
	}
	printf("dataset: %s (%s records: %lld)\n", r->path, split, (long long)r->records);
	printf("span-level; exact = same type and byte range (headline), overlap = same type, ranges intersect\n");
	printf("%-20s %6s %6s   %8s %8s   %8s %8s\n", "type", "gold", "pred", "P exact", "R exact", "P overl",
	       "R overl");
	for (size_t i = 0; i < r->n_rows; i++) {
		const cairn_pii_eval_row *w = &r->rows[i];
		if (w->predicted == 0 && w->gold > 0) {
			printf("%-20s %6lld %6lld   %8s %8s   %8s %8s   (no detector)\n", w->type, (long long)w->gold,
			       (long long)w->predicted, "-", "0.000", "-", "0.000");
			continue;
		}
		printf("%-20s %6lld %6lld   %8.3f %8.3f   %8.3f %8.3f\n", w->type, (long long)w->gold,
		       (long long)w->predicted, w->precision_exact, w->recall_exact, w->precision_overlap,
		       w->recall_overlap);
	}
	printf("%.2f s\n", r->seconds);
}

int cli_cmd_eval_pii(int argc, char **argv)
{
	/* argv[0] = "pii" */
	const char *data = NULL, *split = "all";
	bool json = false;
	double min_score = 0.5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data"))
			data = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--split"))
			split = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--min-score"))
			min_score = parse_score(a, cli_need(argc, argv, &i));
		else if (a[0] != '-' && !data)
			data = a;
		else
			cli_die_usage("eval pii: unknown option %s", a);
	}
	int sp = !strcmp(split, "all") ? 0 : !strcmp(split, "even") ? 1 : !strcmp(split, "odd") ? 2 : -1;
	if (sp < 0)
		cli_die_usage("eval pii: --split is all, even or odd");
	char def[1024];
	if (!data) {
		const char *sh = getenv("CAIRN_SHARED");
		snprintf(def, sizeof def, "%s/data/presidio-synth-pii", sh && *sh ? sh : "../shared");
		data = def;
	}
	cairn_pii_eval_report *r = malloc(sizeof *r);
	if (!r) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		return EXIT_ERR;
	}
	char errbuf[512];
	cairn_status st = cairn_eval_pii(data, sp, min_score, r, errbuf, sizeof errbuf);
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: eval pii: %s\n", cli_prog, errbuf);
		free(r);
		return EXIT_ERR;
	}
	print_report(r, split, json);
	free(r);
	return 0;
}
