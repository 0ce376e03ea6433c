/* Test support: temporary directories and child processes (no shell), the shared data directory, llama.cpp tokenizer test vectors. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int cn_test_run(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cn_test_mkdtemp(char *buf, size_t size, const char *tag)
{
	if (snprintf(buf, size, "/tmp/cairn-%s-XXXXXX", tag) >= (int)size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int cn_test_rmtree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cn_test_shared_dir(void)
{
	static char dir[4096];
	const char *env = getenv("CAIRN_SHARED");
	snprintf(dir, sizeof dir, "%s", env && *env ? env : "../shared");
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	size_t got;
	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(b, 2 * cap + 1);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb, cap *= 2;
		}
	}
	fclose(f);
	if (b) {
		b[n] = '\0';
		*len = n;
	}
	return b;
}

int cn_test_vocab_cases(const char *inp_path, const char *out_path, cn_test_vocab_case **cases)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t ilen, olen;
	char *inp = slurp(inp_path, &ilen), *out = slurp(out_path, &olen);
	*cases = NULL;
	int n = 0, cap = 0, ok = inp && out;
	char *ip = inp, *op = out;
	while (ok) {
		char *hit = strstr(ip, sep);
		if (!hit)
			break;
		char *nl = strchr(op, '\n');
		if (!nl) {
			ok = 0;
			break;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			cn_test_vocab_case *nc = realloc(*cases, (size_t)cap * sizeof **cases);
			if (!nc) {
				ok = 0;
				break;
			}
			*cases = nc;
		}
		cn_test_vocab_case *c = &(*cases)[n++];
		memset(c, 0, sizeof *c);
		c->len = (size_t)(hit - ip);
		c->text = malloc(c->len + 1);
		c->ids = malloc(sizeof(int) * (size_t)(nl - op + 1));
		if (!c->text || !c->ids) {
			ok = 0;
			break;
		}
		memcpy(c->text, ip, c->len);
		c->text[c->len] = '\0';
		for (char *p = op; p < nl;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p) {
				p++;
				continue;
			}
			c->ids[c->n_ids++] = (int)v;
			p = end;
		}
		ip = hit + sizeof sep - 1;
		op = nl + 1;
	}
	free(inp);
	free(out);
	if (!ok || n == 0) {
		cn_test_vocab_cases_free(*cases, n);
		*cases = NULL;
		return -1;
	}
	return n;
}

void cn_test_vocab_cases_free(cn_test_vocab_case *cases, int n)
{
	for (int i = 0; cases && i < n; i++) {
		free(cases[i].text);
		free(cases[i].ids);
	}
	free(cases);
}
