/*
 * model.c — `cairn tokenize` and `cairn model info`: look inside model files from the shell.
 *
 * tokenize reads its text from the arguments or, with none, all of stdin (bytes as they
 * are: a trailing newline is part of the text, as it is for a file). Output is one line per
 * token by default, because that is what a person checking a tokenizer wants to read; --ids
 * and --count are for scripts, --json for programs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.h"
#include "commands.h"

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				return NULL;
			}
			buf[n] = '\0'; /* n < cap: --decode parses the text with strtol */
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		cap *= 2;
	}
	*len = n;
	return buf;
}

/* Token texts may be raw bytes (tiktoken) or split UTF-8 sequences: show every byte that
 * is not printable ASCII or part of valid UTF-8 as \xNN. */
static void put_escaped(FILE *f, const char *s, size_t n, bool json)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || (json && c == '"')) {
			fprintf(f, "\\%c", c);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c == '\t') {
			fputs("\\t", f), i++;
		} else if (c == '\r') {
			fputs("\\r", f), i++;
		} else if (c >= 0x20 && c < 0x7f) {
			fputc(c, f), i++;
		} else {
			size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
			bool ok = len > 0 && i + len <= n;
			for (size_t k = 1; ok && k < len; k++)
				ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
			if (ok) {
				fwrite(s + i, 1, len, f);
				i += len;
			} else {
				fprintf(f, json ? "\\u00%02x" : "\\x%02x", c);
				i++;
			}
		}
	}
}

static cairn_tokenizer *open_tokenizer(const char *model, const char *pre)
{
	cairn_tokenizer_params p = cairn_tokenizer_default_params();
	p.pre = pre;
	cairn_tokenizer *tok = NULL;
	char err[1024];
	if (cairn_tokenizer_open(model, &p, &tok, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		exit(1);
	}
	return tok;
}

static int decode_ids(cairn_tokenizer *tok, const char *text, size_t len, unsigned flags)
{
	size_t cap = 256, n = 0;
	int32_t *ids = malloc(cap * sizeof *ids);
	const char *p = text, *end = text + len;
	while (ids) {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']'))
			p++;
		if (p >= end)
			break;
		char *q;
		errno = 0;
		long v = strtol(p, &q, 10);
		if (q == p || errno || v < 0 || v > INT32_MAX) {
			int shown = (int)(end - p < 20 ? end - p : 20);
			fprintf(stderr, "%s: tokenize --decode: \"%.*s\" is not a token id\n", cli_prog, shown, p);
			free(ids);
			return 1;
		}
		if (n == cap) {
			int32_t *ni = realloc(ids, 2 * cap * sizeof *ids);
			if (!ni)
				break;
			ids = ni, cap *= 2;
		}
		ids[n++] = (int32_t)v;
		p = q;
	}
	if (!ids) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		return 1;
	}
	char *out = NULL;
	size_t out_len = 0;
	cairn_status rc = cairn_detokenize(tok, ids, n, flags, &out, &out_len);
	if (rc != CAIRN_OK) {
		fprintf(stderr, "%s: tokenize --decode: %s (a token id outside the vocabulary?)\n", cli_prog,
		        cairn_status_name(rc));
		free(ids);
		return 1;
	}
	fwrite(out, 1, out_len, stdout);
	cairn_free(out);
	free(ids);
	return 0;
}

int cli_cmd_tokenize(int argc, char **argv)
{
	const char *model = NULL, *pre = NULL;
	bool ids_only = false, count = false, json = false, decode = false;
	unsigned flags = CAIRN_TOKENIZE_ADD_SPECIAL;
	size_t text_cap = 0, text_len = 0;
	char *text = NULL;
	bool have_text = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--model") || !strcmp(a, "-m"))
			model = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--pre"))
			pre = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--ids"))
			ids_only = true;
		else if (!strcmp(a, "--count"))
			count = true;
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--decode"))
			decode = true;
		else if (!strcmp(a, "--no-special"))
			flags &= ~(unsigned)CAIRN_TOKENIZE_ADD_SPECIAL;
		else if (!strcmp(a, "--parse-special"))
			flags |= CAIRN_TOKENIZE_PARSE_SPECIAL;
		else if (a[0] == '-' && a[1] == '-' && a[2])
			cli_die_usage("tokenize: unknown option %s", a);
		else {
			size_t n = strlen(a);
			if (text_len + n + 2 > text_cap) {
				text_cap = (text_len + n + 2) * 2;
				char *nt = realloc(text, text_cap);
				if (!nt) {
					free(text);
					fprintf(stderr, "%s: out of memory\n", cli_prog);
					return 1;
				}
				text = nt;
			}
			if (have_text)
				text[text_len++] = ' ';
			memcpy(text + text_len, a, n);
			text_len += n;
			text[text_len] = '\0';
			have_text = true;
		}
	}
	if (!model)
		cli_die_usage("tokenize needs --model FILE (a GGUF model, tokenizer.model, tokenizer.json, vocab.json, "
		              "*.tiktoken, vocab.txt or tokenizer.bin)");
	if ((ids_only + count + json) > 1)
		cli_die_usage("tokenize: choose one of --ids, --count, --json");
	if (!have_text) {
		free(text);
		text = read_all(stdin, &text_len);
		if (!text) {
			fprintf(stderr, "%s: tokenize: cannot read standard input: %s\n", cli_prog, strerror(errno));
			return 1;
		}
	}
	cairn_tokenizer *tok = open_tokenizer(model, pre);
	int rc = 0;
	if (decode) {
		rc = decode_ids(tok, text, text_len, (flags & CAIRN_TOKENIZE_PARSE_SPECIAL) ? CAIRN_DETOKENIZE_SPECIAL : 0);
		free(text);
		cairn_tokenizer_close(tok);
		return rc;
	}
	if (count) {
		int64_t n = cairn_tokenizer_count(tok, text, text_len, flags);
		if (n < 0) {
			fprintf(stderr, "%s: tokenize: out of memory\n", cli_prog);
			rc = 1;
		} else {
			printf("%lld\n", (long long)n);
		}
		free(text);
		cairn_tokenizer_close(tok);
		return rc;
	}
	int32_t *ids = NULL;
	size_t n = 0;
	cairn_status st = cairn_tokenize(tok, text, text_len, flags, &ids, &n);
	if (st != CAIRN_OK) {
		fprintf(stderr, "%s: tokenize: %s\n", cli_prog, cairn_status_name(st));
		free(text);
		cairn_tokenizer_close(tok);
		return 1;
	}
	if (ids_only) {
		for (size_t i = 0; i < n; i++)
			printf(i ? " %d" : "%d", ids[i]);
		putchar('\n');
	} else if (json) {
		printf("{\"model\":\"");
		put_escaped(stdout, model, strlen(model), true);
		printf("\",\"count\":%zu,\"ids\":[", n);
		for (size_t i = 0; i < n; i++)
			printf(i ? ",%d" : "%d", ids[i]);
		printf("],\"tokens\":[");
		for (size_t i = 0; i < n; i++) {
			size_t len;
			const char *t = cairn_tokenizer_token(tok, ids[i], &len);
			printf(i ? ",\"" : "\"");
			put_escaped(stdout, t, len, true);
			putchar('"');
		}
		printf("]}\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			size_t len;
			const char *t = cairn_tokenizer_token(tok, ids[i], &len);
			printf("%d\t", ids[i]);
			put_escaped(stdout, t, len, false);
			putchar('\n');
		}
	}
	cairn_free(ids);
	free(text);
	cairn_tokenizer_close(tok);
	return 0;
}

int cli_cmd_model(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "info") != 0)
		cli_die_usage("model: the subcommand is `model info FILE [--json]`");
	const char *path = NULL;
	bool json = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			cli_die_usage("model info: unknown option %s", argv[i]);
		else if (path)
			cli_die_usage("model info takes one FILE");
		else
			path = argv[i];
	}
	if (!path)
		cli_die_usage("model info needs a FILE (GGUF or llama2.c checkpoint)");
	char *text = NULL;
	char err[1024];
	if (cairn_model_describe(path, json, &text, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		return 1;
	}
	fputs(text, stdout);
	cairn_free(text);
	return 0;
}
