/* ingest: readers, chunker, SimHash and JSONL against hand-written expectations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/ingest_int.h"

/* ---- helpers ------------------------------------------------------------------------ */

static const char *const vocab[] = {
	"system", "data", "index", "query", "record", "server", "cluster", "policy", "user",
	"network", "storage", "backup", "review", "process", "team", "report", "budget", "change",
	"release", "version", "the", "a", "of", "to", "and", "in", "for", "with", "on", "is",
	"configuration", "deployment", "monitoring", "latency", "throughput", "availability",
	"incident", "escalation", "ownership", "capacity", "retention", "encryption", "audit",
};

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* n_sent sentences of 8–19 words, each ending with ". " */
static void prose(cn_buf *b, int n_sent)
{
	for (int s = 0; s < n_sent; s++) {
		int nw = 8 + (int)(rnd() % 12);
		for (int w = 0; w < nw; w++) {
			const char *word = vocab[rnd() % CN_ARRAY_LEN(vocab)];
			if (w == 0) {
				cn_buf_putc(b, (char)(word[0] - 32));
				cn_buf_puts(b, word + 1);
			} else {
				cn_buf_putc(b, ' ');
				cn_buf_puts(b, word);
			}
		}
		cn_buf_puts(b, s + 1 < n_sent ? ". " : ".");
	}
}

static size_t first_word(const char *t, size_t n, const char **w)
{
	size_t i = 0;
	while (i < n && !((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9')))
		i++;
	size_t j = i;
	while (j < n && ((t[j] >= 'a' && t[j] <= 'z') || (t[j] >= 'A' && t[j] <= 'Z') || (t[j] >= '0' && t[j] <= '9')))
		j++;
	*w = t + i;
	return j - i;
}

/* Invariants every chunking must hold. */
static void check_chunks(const cn_chunks *c, size_t src_len)
{
	uint64_t ps = 0, pe = 0;
	for (size_t i = 0; i < c->n; i++) {
		const cn_chunk *k = &c->v[i];
		assert_non_null(k->text);
		assert_non_null(k->heading);
		assert_int_equal(strlen(k->text), k->len);
		assert_true(k->len > 0);
		assert_true(k->src_start >= ps);
		assert_true(k->src_end >= pe);
		assert_true(k->src_end >= k->src_start);
		assert_true(k->src_end <= src_len);
		assert_int_equal(k->n_tokens, cn_estimate_tokens(k->text, k->len));
		assert_true(k->simhash == cn_simhash(k->text, k->len));
		ps = k->src_start;
		pe = k->src_end;
	}
}

static void check_blocks(const cn_doc *d, size_t src_len)
{
	uint64_t ps = 0, pe = 0;
	for (size_t i = 0; i < d->n_blocks; i++) {
		const cn_block *b = &d->blocks[i];
		assert_true(b->len > 0);
		assert_int_equal(strlen(b->text), b->len);
		assert_true(b->src_start >= ps && b->src_end >= pe && b->src_end >= b->src_start);
		assert_true(b->src_end <= src_len);
		ps = b->src_start;
		pe = b->src_end;
	}
}

static cairn_status parse_chunk(cn_format f, const char *lang, const char *path, const char *data,
				const cn_chunk_params *p, cn_doc *d, cn_chunks *c)
{
	cn_err err;
	cn_err_clear(&err);
	cn_doc_init(d);
	cn_chunks_init(c);
	cairn_status rc = cn_parse(f, lang, path, data, strlen(data), d, &err);
	if (rc)
		return rc;
	return cn_chunk_doc(d, p, c, &err);
}

static char *read_file(const char *path, size_t *len)
{
	char *data = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_file_read(path, 1u << 30, &data, len, &err))
		return NULL;
	return data;
}

/* ---- detection and content checks --------------------------------------------------- */

static void test_format_from_path(void **state)
{
	(void)state;
	const char *lang;
	assert_int_equal(cn_format_from_path("docs/a.md", &lang), CN_FMT_MARKDOWN);
	assert_null(lang);
	assert_int_equal(cn_format_from_path("x/README.MARKDOWN", NULL), CN_FMT_MARKDOWN);
	assert_int_equal(cn_format_from_path("a.mdx", NULL), CN_FMT_MARKDOWN);
	assert_int_equal(cn_format_from_path("site/index.HTM", NULL), CN_FMT_HTML);
	assert_int_equal(cn_format_from_path("a.xhtml", NULL), CN_FMT_HTML);
	assert_int_equal(cn_format_from_path("notes.txt", NULL), CN_FMT_TEXT);
	assert_int_equal(cn_format_from_path("notes.rst", NULL), CN_FMT_TEXT);
	assert_int_equal(cn_format_from_path("LICENSE", NULL), CN_FMT_TEXT);
	assert_int_equal(cn_format_from_path("corpus.jsonl", NULL), CN_FMT_JSONL);
	assert_int_equal(cn_format_from_path("x.ndjson", NULL), CN_FMT_JSONL);
	assert_int_equal(cn_format_from_path("src/main.c", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "c");
	assert_int_equal(cn_format_from_path("a/b/tool.py", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "python");
	assert_int_equal(cn_format_from_path("app.tsx", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "typescript");
	assert_int_equal(cn_format_from_path("lib.rs", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "rust");
	assert_int_equal(cn_format_from_path("proj/Makefile", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "make");
	assert_int_equal(cn_format_from_path("Dockerfile", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "dockerfile");
	assert_int_equal(cn_format_from_path("CMakeLists.txt", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "cmake");
	assert_int_equal(cn_format_from_path("conf.yml", &lang), CN_FMT_CODE);
	assert_string_equal(lang, "yaml");
	const char *bins[] = {"a.png", "b.JPG", "c.pdf", "d.zip", "e.gz", "f.exe", "g.so", "h.o",
			      "i.a", "j.class", "k.jar", "l.woff2", "m.gif"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bins); i++) {
		assert_int_equal(cn_format_from_path(bins[i], &lang), CN_FMT_UNKNOWN);
		assert_null(lang);
	}
	assert_string_equal(cn_format_name(CN_FMT_TEXT), "text");
	assert_string_equal(cn_format_name(CN_FMT_MARKDOWN), "markdown");
	assert_string_equal(cn_format_name(CN_FMT_HTML), "html");
	assert_string_equal(cn_format_name(CN_FMT_CODE), "code");
	assert_string_equal(cn_format_name(CN_FMT_JSONL), "jsonl");
}

static void test_check_text(void **state)
{
	(void)state;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("e.txt", "", 0, &err), CAIRN_EEMPTY);
	assert_true(!strncmp(err.msg, "e.txt", 5));
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("w.txt", " \n\t\r\n", 5, &err), CAIRN_EEMPTY);
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("bom.txt", "\xEF\xBB\xBF \n", 5, &err), CAIRN_EEMPTY);
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("bom.md", "\xEF\xBB\xBF# hi\n", 8, &err), CAIRN_OK);
	assert_int_equal(cn_check_text("u.md", "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80", 14, &err), CAIRN_OK);
	assert_int_equal(cn_check_text("bin", "ab\0cd", 5, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "bin: binary file");
	cn_err_clear(&err);
	char ctl[100];
	memset(ctl, 'a', sizeof ctl);
	for (int i = 0; i < 20; i++)
		ctl[i * 5] = 0x01;
	assert_int_equal(cn_check_text("ctl", ctl, sizeof ctl, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "ctl: binary file");
	cn_err_clear(&err);
	/* invalid UTF-8 with the exact offset (hand-counted) */
	assert_int_equal(cn_check_text("x.txt", "abc\xFF" "def", 7, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "x.txt: invalid UTF-8 at byte 3");
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("o.txt", "0123456789\xC0\xAF", 12, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "o.txt: invalid UTF-8 at byte 10");
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("s.txt", "hi \xED\xA0\x80", 6, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "s.txt: invalid UTF-8 at byte 3");
	cn_err_clear(&err);
	assert_int_equal(cn_check_text("t.txt", "abcdefghijklmn\xE6\x97", 16, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "t.txt: invalid UTF-8 at byte 14");
	cn_err_clear(&err);
	/* the offset counts the BOM */
	assert_int_equal(cn_check_text("b.txt", "\xEF\xBB\xBFok\x80", 6, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "b.txt: invalid UTF-8 at byte 5");
}

static void test_corrupt_docs(void **state)
{
	(void)state;
	DIR *dir = opendir("tests/corrupt/docs");
	if (!dir)
		skip();
	struct dirent *de;
	int seen = 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "README.md"))
			continue;
		char path[512];
		snprintf(path, sizeof path, "tests/corrupt/docs/%s", de->d_name);
		size_t len;
		char *data = read_file(path, &len);
		assert_non_null(data);
		cn_err err;
		cn_err_clear(&err);
		cairn_status rc = cn_check_text(path, data, len, &err);
		if (!strncmp(de->d_name, "binary_", 7)) {
			assert_int_equal(rc, CAIRN_EFORMAT);
			assert_non_null(strstr(err.msg, "binary file"));
		} else if (!strncmp(de->d_name, "badutf8_", 8)) {
			assert_int_equal(rc, CAIRN_EFORMAT);
			assert_non_null(strstr(err.msg, "invalid UTF-8 at byte"));
		} else if (!strncmp(de->d_name, "empty_", 6)) {
			assert_int_equal(rc, CAIRN_EEMPTY);
		} else {
			assert_int_equal(rc, CAIRN_OK);
		}
		assert_true(!strncmp(err.msg, path, strlen(path)) || rc == CAIRN_OK);
		/* every reader survives every file (parse refuses bad UTF-8 itself) */
		for (cn_format f = CN_FMT_TEXT; f <= CN_FMT_CODE; f++) {
			cn_doc d;
			cn_chunks c;
			cn_doc_init(&d);
			cn_chunks_init(&c);
			cn_err_clear(&err);
			cairn_status pr = cn_parse(f, "c", path, data, len, &d, &err);
			if (!strncmp(de->d_name, "badutf8_", 8) || !strncmp(de->d_name, "binary_nul", 10))
				assert_int_equal(pr, CAIRN_EFORMAT);
			if (!pr) {
				check_blocks(&d, len);
				cn_chunk_params p = cn_chunk_default_params();
				cairn_status cr = cn_chunk_doc(&d, &p, &c, &err);
				assert_true(cr == CAIRN_OK || cr == CAIRN_EEMPTY);
				check_chunks(&c, len);
			}
			cn_chunks_free(&c);
			cn_doc_free(&d);
		}
		cn_free(data);
		seen++;
	}
	closedir(dir);
	assert_true(seen >= 10);
}

/* ---- Markdown ----------------------------------------------------------------------- */

static const char *kind_name(cn_block_kind k)
{
	static const char *n[] = {"HEADING", "PARAGRAPH", "LIST", "TABLE", "CODE", "QUOTE", "OTHER"};
	return n[k];
}

static void test_markdown_golden(void **state)
{
	(void)state;
	size_t len, elen;
	char *data = read_file("tests/golden/ingest/guide.md", &len);
	char *exp = read_file("tests/golden/ingest/guide.blocks", &elen);
	if (!data || !exp) {
		cn_free(data);
		cn_free(exp);
		skip();
	}
	cn_doc d;
	cn_doc_init(&d);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_parse(CN_FMT_MARKDOWN, NULL, "guide.md", data, len, &d, &err), CAIRN_OK);
	assert_string_equal(d.title, "Operations Guide"); /* front matter wins over the H1 */
	check_blocks(&d, len);
	cn_buf got;
	cn_buf_init(&got);
	for (size_t i = 0; i < d.n_blocks; i++) {
		cn_buf_printf(&got, "%s %d|", kind_name(d.blocks[i].kind), d.blocks[i].level);
		for (size_t k = 0; k < d.blocks[i].len; k++) {
			if (d.blocks[i].text[k] == '\n')
				cn_buf_puts(&got, "\\n");
			else
				cn_buf_putc(&got, d.blocks[i].text[k]);
		}
		cn_buf_putc(&got, '\n');
	}
	assert_string_equal(got.data, exp);
	/* front matter is neither text nor heading */
	for (size_t i = 0; i < d.n_blocks; i++)
		assert_null(strstr(d.blocks[i].text, "platform"));
	/* offsets: the source at src_start begins with the block's first word */
	for (size_t i = 0; i < d.n_blocks; i++) {
		const cn_block *b = &d.blocks[i];
		if (b->kind == CN_BLOCK_OTHER)
			continue; /* raw HTML: the range starts at the tag */
		const char *w;
		size_t wl = first_word(b->text, b->len, &w);
		const char *sw;
		size_t swl = first_word(data + b->src_start, len - b->src_start, &sw);
		assert_int_equal(wl, swl);
		assert_memory_equal(w, sw, wl);
		assert_true(sw - (data + b->src_start) <= 2); /* only a list marker may precede */
	}
	assert_true(!strncmp(data + d.blocks[3].src_start, "- item one", 10));
	assert_true(!strncmp(data + d.blocks[6].src_start, "def foo():\n    return 1", 23));
	cn_buf_free(&got);
	cn_doc_free(&d);
	cn_free(data);
	cn_free(exp);
}

static void test_markdown_title_and_paths(void **state)
{
	(void)state;
	const char *md = "Preamble text before any heading.\n\n"
			 "# Alpha\n\nA para.\n\n## Beta\n\nB para.\n\n### Gamma\n\nG para.\n\n"
			 "## Delta\n\nD para.\n\n# Omega\n\nO para.\n";
	cn_doc d;
	cn_chunks c;
	cn_chunk_params p = cn_chunk_default_params();
	p.min_tokens = 0; /* every heading of level 1–2 starts a chunk */
	p.target_tokens = 3;
	p.max_tokens = 50;
	assert_int_equal(parse_chunk(CN_FMT_MARKDOWN, NULL, "t.md", md, &p, &d, &c), CAIRN_OK);
	assert_string_equal(d.title, "Alpha");
	check_chunks(&c, strlen(md));
	const char *want_head[] = {"", "Alpha", "Alpha > Beta", "Alpha > Beta > Gamma", "Alpha > Delta", "Omega"};
	const char *want_start[] = {"Preamble", "Alpha\n\nA para.", "Beta\n\nB para.", "Gamma\n\nG para.",
				    "Delta\n\nD para.", "Omega\n\nO para."};
	assert_int_equal(c.n, 6);
	for (size_t i = 0; i < c.n; i++) {
		assert_string_equal(c.v[i].heading, want_head[i]);
		assert_true(!strncmp(c.v[i].text, want_start[i], strlen(want_start[i])));
		/* heading-first chunks never carry overlap: the source at src_start is the heading */
		const char *w;
		size_t wl = first_word(c.v[i].text, c.v[i].len, &w);
		assert_true(!strncmp(md + c.v[i].src_start, w, wl));
	}
	cn_chunks_free(&c);
	/* defaults: everything is small, so one chunk with the whole text */
	p = cn_chunk_default_params();
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.v[0].heading, "");
	assert_non_null(strstr(c.v[0].text, "O para."));
	cn_chunks_free(&c);
	/* whole=true: one chunk, blocks joined by blank lines */
	p.whole = true;
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_OK);
	assert_int_equal(c.n, 1);
	assert_true(!strncmp(c.v[0].text, "Preamble text before any heading.\n\nAlpha\n\nA para.", 49));
	assert_true(c.v[0].src_start == 0 && c.v[0].src_end == strlen(md) - 1);
	cn_chunks_free(&c);
	cn_doc_free(&d);
}

/* A 3,000-token table and a 2,000-token code block with prose around them. */
static void test_markdown_table_and_code_never_cut(void **state)
{
	(void)state;
	rng_state = 7;
	cn_buf md;
	cn_buf_init(&md);
	cn_buf_puts(&md, "# Data\n\nThe table below lists keys.\n\n| Key | Value |\n|---|---|\n");
	int rows = 0;
	size_t table_tok = cn_estimate_tokens("Key | Value", 11);
	char line[128];
	while (table_tok < 3000) {
		int n = snprintf(line, sizeof line, "k%04d | alpha beta %d gamma", rows, rows * 7);
		table_tok += cn_estimate_tokens(line, (size_t)n);
		cn_buf_printf(&md, "| k%04d | alpha beta %d gamma |\n", rows, rows * 7);
		rows++;
	}
	cn_buf_puts(&md, "\n## Code\n\n");
	prose(&md, 3);
	cn_buf_puts(&md, "\n\n```c\nint big(void)\n{\n");
	int lines = 0;
	size_t code_tok = 0;
	while (code_tok < 2000) {
		int n = snprintf(line, sizeof line, "\tx%d = compute(%d, value); /* step */", lines, lines);
		code_tok += cn_estimate_tokens(line, (size_t)n);
		cn_buf_printf(&md, "%s\n", line);
		lines++;
	}
	cn_buf_puts(&md, "}\n```\n\nClosing words.\n");
	assert_false(md.failed);

	cn_doc d;
	cn_chunks c;
	cn_chunk_params p = cn_chunk_default_params();
	assert_int_equal(parse_chunk(CN_FMT_MARKDOWN, NULL, "big.md", md.data, &p, &d, &c), CAIRN_OK);
	check_chunks(&c, md.len);
	int next_row = 0, next_line = -1, table_chunks = 0, code_chunks = 0;
	for (size_t i = 0; i < c.n; i++) {
		const cn_chunk *k = &c.v[i];
		assert_true(k->n_tokens <= (uint32_t)p.max_tokens);
		if (strstr(k->text, "| alpha beta")) {
			table_chunks++;
			/* the header row is repeated at the top of every table chunk */
			assert_true(!strncmp(k->text, "Key | Value\n", 12));
			assert_null(strstr(k->text, "Closing"));
			/* whole rows only, in order, none lost or repeated */
			const char *s = k->text + 12;
			while (*s) {
				int r, v;
				char tail[16];
				assert_int_equal(sscanf(s, "k%d | alpha beta %d %15[a-z]", &r, &v, tail), 3);
				assert_int_equal(r, next_row);
				assert_int_equal(v, r * 7);
				assert_string_equal(tail, "gamma");
				next_row++;
				s = strchr(s, '\n');
				if (!s)
					break;
				s++;
			}
			assert_true(k->n_tokens >= (uint32_t)p.min_tokens); /* balanced pieces */
		}
		if (strstr(k->text, "compute(")) {
			code_chunks++;
			const char *s = k->text;
			if (next_line < 0) {
				assert_true(!strncmp(s, "int big(void)\n{\n", 16));
				s += 16;
				next_line = 0;
			}
			while (*s && *s != '}') {
				int a, b;
				assert_int_equal(sscanf(s, "\tx%d = compute(%d, value); /* step */", &a, &b), 2);
				assert_int_equal(a, next_line);
				next_line++;
				s = strchr(s, '\n');
				if (!s)
					break;
				s++;
			}
		}
	}
	assert_int_equal(next_row, rows);
	assert_int_equal(next_line, lines);
	assert_true(table_chunks >= 4); /* 3,000 tokens cannot fit in fewer than 4 × 800 */
	assert_true(code_chunks >= 3);
	/* the code pieces map to exact source lines */
	for (size_t i = 0; i < c.n; i++) {
		const char *s = strstr(c.v[i].text, "\tx");
		if (s && strstr(c.v[i].text, "compute(") && c.v[i].text[0] == '\t')
			assert_true(!strncmp(md.data + c.v[i].src_start, c.v[i].text, 40));
	}
	cn_chunks_free(&c);
	cn_doc_free(&d);
	cn_buf_free(&md);
}

static void test_markdown_sizes_and_overlap(void **state)
{
	(void)state;
	rng_state = 42;
	cn_buf md;
	cn_buf_init(&md);
	cn_buf_puts(&md, "# Handbook\n\n");
	for (int s = 1; s <= 3; s++) {
		cn_buf_printf(&md, "## Section %d\n\n", s);
		for (int para = 0; para < 25; para++) {
			prose(&md, 3 + (int)(rnd() % 4));
			cn_buf_puts(&md, "\n\n");
		}
	}
	cn_doc d;
	cn_chunks c;
	cn_chunk_params p = cn_chunk_default_params();
	assert_int_equal(parse_chunk(CN_FMT_MARKDOWN, NULL, "h.md", md.data, &p, &d, &c), CAIRN_OK);
	check_chunks(&c, md.len);
	assert_true(c.n >= 6);
	int overlapped = 0;
	for (size_t i = 0; i < c.n; i++) {
		const cn_chunk *k = &c.v[i];
		assert_true(k->n_tokens <= 800);
		bool last_of_section = i + 1 == c.n || strcmp(c.v[i + 1].heading, k->heading) != 0;
		if (!last_of_section)
			assert_true(k->n_tokens >= 300);
		assert_true(!strncmp(k->heading, "Handbook > Section ", 19) || !strcmp(k->heading, "Handbook"));
		if (i == 0)
			continue;
		const cn_chunk *prev = &c.v[i - 1];
		if (!strncmp(k->text, "Section ", 8)) {
			/* a new section never starts with overlap */
			assert_string_not_equal(k->heading, prev->heading);
			continue;
		}
		/* overlap: the chunk starts with a sentence-aligned suffix of the previous chunk,
		 * then a blank line, then its own first block (which the source at src_start holds) */
		size_t ol = 0;
		for (const char *q = strstr(k->text, "\n\n"); q; q = strstr(q + 1, "\n\n")) {
			size_t cand = (size_t)(q - k->text);
			const char *w;
			size_t wl = first_word(q + 2, k->len - cand - 2, &w);
			if (cand < prev->len && !memcmp(k->text, prev->text + prev->len - cand, cand) &&
			    !strncmp(md.data + k->src_start, w, wl)) {
				ol = cand;
				break;
			}
		}
		assert_true(ol > 0);
		const char *para = k->text + ol;
		assert_true(k->text[ol - 1] == '.');
		char before = prev->text[prev->len - ol - 1];
		assert_true(before == ' ' || before == '\n');
		assert_true(prev->text[prev->len - ol - 2] == '.' || before == '\n');
		size_t ot = cn_estimate_tokens(k->text, ol);
		size_t want = cn_estimate_tokens(prev->text, prev->len) * 15 / 100;
		assert_true(ot <= 2 * want + 1);
		overlapped++;
		assert_true(!strncmp(para, "\n\n", 2));
	}
	assert_true(overlapped >= 3);
	/* coverage: every paragraph of the source is in some chunk */
	for (size_t i = 0; i < d.n_blocks; i++) {
		bool found = false;
		for (size_t j = 0; j < c.n && !found; j++)
			found = strstr(c.v[j].text, d.blocks[i].text) != NULL;
		assert_true(found);
	}
	cn_chunks_free(&c);
	/* no overlap when overlap_pct = 0: own texts tile the blocks exactly */
	p.overlap_pct = 0;
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_OK);
	size_t total = 0, blocks = 0;
	for (size_t i = 0; i < d.n_blocks; i++)
		blocks += d.blocks[i].len;
	for (size_t j = 0; j < c.n; j++)
		total += c.v[j].len;
	assert_int_equal(total, blocks + 2 * (d.n_blocks - c.n));
	cn_chunks_free(&c);
	cn_doc_free(&d);
	cn_buf_free(&md);
}

static void test_long_paragraph_splits(void **state)
{
	(void)state;
	rng_state = 3;
	cn_buf b;
	cn_buf_init(&b);
	prose(&b, 300); /* one paragraph, ~4,000 tokens */
	size_t ptok = cn_estimate_tokens(b.data, b.len);
	assert_true(ptok > 2500);
	cn_doc d;
	cn_chunks c;
	cn_chunk_params p = cn_chunk_default_params();
	assert_int_equal(parse_chunk(CN_FMT_TEXT, NULL, "p.txt", b.data, &p, &d, &c), CAIRN_OK);
	check_chunks(&c, b.len);
	assert_true(c.n >= 5);
	for (size_t i = 0; i < c.n; i++) {
		assert_true(c.v[i].n_tokens <= 800);
		assert_true(c.v[i].text[c.v[i].len - 1] == '.'); /* cut at sentence ends */
		if (i + 1 < c.n)
			assert_true(c.v[i].n_tokens >= 300);
		/* pieces of one paragraph: the overlap is the previous piece's last sentences */
		if (i > 0) {
			const char *sp = strchr(c.v[i].text, ' ');
			assert_non_null(sp);
			assert_non_null(strstr(c.v[i - 1].text, "."));
			size_t k = 0; /* first 30 bytes of the chunk occur in the previous one */
			k = CN_MIN((size_t)30, c.v[i].len);
			char head[31];
			memcpy(head, c.v[i].text, k);
			head[k] = '\0';
			assert_non_null(strstr(c.v[i - 1].text, head));
		}
	}
	/* exact src: the source slice of each chunk is the chunk's own text */
	p.overlap_pct = 0;
	cn_chunks_free(&c);
	cn_chunks_init(&c);
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_OK);
	for (size_t i = 0; i < c.n; i++) {
		assert_int_equal(c.v[i].src_end - c.v[i].src_start, c.v[i].len);
		assert_memory_equal(b.data + c.v[i].src_start, c.v[i].text, c.v[i].len);
	}
	cn_chunks_free(&c);
	cn_doc_free(&d);

	/* one "sentence" of 3,000 words: split at word boundaries */
	cn_buf_reset(&b);
	for (int i = 0; i < 3000; i++)
		cn_buf_printf(&b, "%sword%d", i ? " " : "", i % 10);
	assert_int_equal(parse_chunk(CN_FMT_TEXT, NULL, "w.txt", b.data, &p, &d, &c), CAIRN_OK);
	check_chunks(&c, b.len);
	assert_true(c.n >= 4);
	size_t words = 0;
	for (size_t i = 0; i < c.n; i++) {
		assert_true(c.v[i].n_tokens <= 800);
		assert_true(!strncmp(c.v[i].text, "word", 4));
		for (const char *s = c.v[i].text; s; s = strchr(s + 1, ' '))
			words++;
	}
	assert_int_equal(words, 3000);
	cn_chunks_free(&c);
	cn_doc_free(&d);

	/* 100 KB without any space: cut at UTF-8 boundaries, nothing lost */
	cn_buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		cn_buf_puts(&b, i % 3 ? "ab.c" : "\xC3\xA9");
	assert_int_equal(parse_chunk(CN_FMT_TEXT, NULL, "x.txt", b.data, &p, &d, &c), CAIRN_OK);
	check_chunks(&c, b.len);
	cn_buf joined;
	cn_buf_init(&joined);
	for (size_t i = 0; i < c.n; i++) {
		assert_true(c.v[i].n_tokens <= 800);
		assert_true(((unsigned char)c.v[i].text[0] & 0xC0) != 0x80);
		cn_buf_append(&joined, c.v[i].text, c.v[i].len);
	}
	assert_int_equal(joined.len, b.len);
	assert_memory_equal(joined.data, b.data, b.len);
	cn_buf_free(&joined);
	cn_chunks_free(&c);
	cn_doc_free(&d);
	cn_buf_free(&b);
}

/* ---- HTML --------------------------------------------------------------------------- */

static void test_html(void **state)
{
	(void)state;
	const char *html =
		"<!DOCTYPE html><html><head><title>  Cafe &amp; Menu </title>"
		"<style>body { color: red }</style><script>var secret = 1;</script></head><body>"
		"<nav><a href='/'>Home nav link</a></nav><header>Site header</header>"
		"<h1>Menu &eacute;t&eacute;</h1><p>Fresh <b>bread</b> &lt;daily&gt; &#x263A;</p>"
		"<div>Loose div text<div>nested div</div></div>"
		"<h2>Prices</h2><table><tr><th>Item</th><th>Price</th></tr>"
		"<tr><td>Tea</td><td>2 &euro;</td></tr><tr><td>Cake</td><td>4</td></tr></table>"
		"<ul><li>one</li><li>two<ol><li>inner</li></ol></li></ul>"
		"<pre>  line 1\n    line 2</pre><blockquote><p>Quote here</p></blockquote>"
		"<script>alert('x')</script><footer>Footer text</footer><aside>aside</aside>"
		"<noscript>enable js</noscript></body></html>";
	cn_doc d;
	cn_doc_init(&d);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_parse(CN_FMT_HTML, NULL, "m.html", html, strlen(html), &d, &err), CAIRN_OK);
	assert_string_equal(d.title, "Cafe & Menu");
	check_blocks(&d, strlen(html));
	struct {
		cn_block_kind k;
		int level;
		const char *text;
	} want[] = {
		{CN_BLOCK_HEADING, 1, "Menu \xC3\xA9t\xC3\xA9"},
		{CN_BLOCK_PARAGRAPH, 0, "Fresh bread <daily> \xE2\x98\xBA"},
		{CN_BLOCK_PARAGRAPH, 0, "Loose div text"},
		{CN_BLOCK_PARAGRAPH, 0, "nested div"},
		{CN_BLOCK_HEADING, 2, "Prices"},
		{CN_BLOCK_TABLE, 0, "Item | Price\nTea | 2 \xE2\x82\xAC\nCake | 4"},
		{CN_BLOCK_LIST, 0, "- one\n- two\n  1. inner"},
		{CN_BLOCK_CODE, 0, "  line 1\n    line 2"},
		{CN_BLOCK_QUOTE, 0, "Quote here"},
	};
	assert_int_equal(d.n_blocks, CN_ARRAY_LEN(want));
	for (size_t i = 0; i < d.n_blocks; i++) {
		assert_int_equal(d.blocks[i].kind, want[i].k);
		assert_int_equal(d.blocks[i].level, want[i].level);
		assert_string_equal(d.blocks[i].text, want[i].text);
	}
	/* best-effort offsets found the visible text */
	assert_true(!strncmp(html + d.blocks[2].src_start, "Loose div", 9));
	assert_true(!strncmp(html + d.blocks[4].src_start, "Prices", 6));
	assert_true(!strncmp(html + d.blocks[5].src_start, "Item", 4));
	cn_chunks c;
	cn_chunks_init(&c);
	cn_chunk_params p = cn_chunk_default_params();
	assert_int_equal(cn_chunk_doc(&d, &p, &c, &err), CAIRN_OK);
	check_chunks(&c, strlen(html));
	for (size_t i = 0; i < c.n; i++) {
		assert_null(strstr(c.v[i].text, "secret"));
		assert_null(strstr(c.v[i].text, "color"));
		assert_null(strstr(c.v[i].text, "alert"));
		assert_null(strstr(c.v[i].text, "nav link"));
		assert_null(strstr(c.v[i].text, "Footer"));
		assert_null(strstr(c.v[i].text, "enable js"));
	}
	cn_chunks_free(&c);
	cn_doc_free(&d);

	/* no <title>: the first h1; deep nesting is harmless */
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "<body><h1>Only heading</h1>");
	for (int i = 0; i < 20000; i++)
		cn_buf_puts(&b, "<div><span>");
	cn_buf_puts(&b, "deep text");
	cn_doc_init(&d);
	assert_int_equal(cn_parse(CN_FMT_HTML, NULL, "deep.html", b.data, b.len, &d, &err), CAIRN_OK);
	assert_string_equal(d.title, "Only heading");
	check_blocks(&d, b.len);
	cn_doc_free(&d);
	cn_buf_free(&b);
}

/* ---- text and code ------------------------------------------------------------------ */

static void test_text_reader(void **state)
{
	(void)state;
	const char *t = "Quarterly Report\n\n"
			"This report covers the quarter.\nIt has two lines.\n\n"
			"Results\n=======\nRevenue grew.\n\n"
			"Details\n-------\n\n"
			"RISKS AND ISSUES\nSupply was short.\n\n"
			"   Indented closing paragraph.   \n";
	cn_doc d;
	cn_doc_init(&d);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_parse(CN_FMT_TEXT, NULL, "r.txt", t, strlen(t), &d, &err), CAIRN_OK);
	assert_string_equal(d.title, "Quarterly Report");
	check_blocks(&d, strlen(t));
	struct {
		cn_block_kind k;
		int level;
		const char *text;
	} want[] = {
		{CN_BLOCK_HEADING, 1, "Quarterly Report"},
		{CN_BLOCK_PARAGRAPH, 0, "This report covers the quarter.\nIt has two lines."},
		{CN_BLOCK_HEADING, 1, "Results"},
		{CN_BLOCK_PARAGRAPH, 0, "Revenue grew."},
		{CN_BLOCK_HEADING, 2, "Details"},
		{CN_BLOCK_HEADING, 2, "RISKS AND ISSUES"},
		{CN_BLOCK_PARAGRAPH, 0, "Supply was short."},
		{CN_BLOCK_PARAGRAPH, 0, "Indented closing paragraph."},
	};
	assert_int_equal(d.n_blocks, CN_ARRAY_LEN(want));
	for (size_t i = 0; i < d.n_blocks; i++) {
		assert_int_equal(d.blocks[i].kind, want[i].k);
		assert_int_equal(d.blocks[i].level, want[i].level);
		assert_string_equal(d.blocks[i].text, want[i].text);
		/* text blocks are exact source slices */
		assert_int_equal(d.blocks[i].src_end - d.blocks[i].src_start, d.blocks[i].len);
		assert_memory_equal(t + d.blocks[i].src_start, d.blocks[i].text, d.blocks[i].len);
	}
	cn_chunks c;
	cn_chunks_init(&c);
	cn_chunk_params p = cn_chunk_default_params();
	p.min_tokens = 0;
	p.target_tokens = 8;
	p.max_tokens = 40;
	assert_int_equal(cn_chunk_doc(&d, &p, &c, &err), CAIRN_OK);
	check_chunks(&c, strlen(t));
	assert_string_equal(c.v[c.n - 1].heading, "Results > RISKS AND ISSUES");
	cn_chunks_free(&c);
	cn_doc_free(&d);

	/* a first line ending with a period is the title but not a heading */
	const char *t2 = "This is just a sentence.\n\nAnd another.\n";
	cn_doc_init(&d);
	assert_int_equal(cn_parse(CN_FMT_TEXT, NULL, "s.txt", t2, strlen(t2), &d, &err), CAIRN_OK);
	assert_string_equal(d.title, "This is just a sentence.");
	assert_int_equal(d.n_blocks, 2);
	assert_int_equal(d.blocks[0].kind, CN_BLOCK_PARAGRAPH);
	cn_doc_free(&d);
	/* BOM skipped, offsets still count it */
	const char *t3 = "\xEF\xBB\xBFHello there.\n";
	cn_doc_init(&d);
	assert_int_equal(cn_parse(CN_FMT_TEXT, NULL, "b.txt", t3, strlen(t3), &d, &err), CAIRN_OK);
	assert_int_equal(d.n_blocks, 1);
	assert_string_equal(d.blocks[0].text, "Hello there.");
	assert_int_equal(d.blocks[0].src_start, 3);
	cn_doc_free(&d);
	/* invalid UTF-8 is refused by the parser too */
	cn_doc_init(&d);
	cn_err_clear(&err);
	assert_int_equal(cn_parse(CN_FMT_TEXT, NULL, "bad.txt", "ab\xFE", 3, &d, &err), CAIRN_EFORMAT);
	assert_string_equal(err.msg, "bad.txt: invalid UTF-8 at byte 2");
	cn_doc_free(&d);
}

static void test_code_reader(void **state)
{
	(void)state;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "import os\nimport sys\n\n\n# helper\n@cache\ndef small(x):\n    return x + 1\n\n\n"
			"class Thing:\n    def method(self):\n        pass\n\n    def other(self):\n        pass\n\n\n"
			"def huge(n):\n");
	for (int i = 0; i < 400; i++)
		cn_buf_printf(&b, "    total_%d = accumulate(n, %d) + offset_value\n", i, i);
	cn_buf_puts(&b, "    return total\n");
	const char *lang;
	cn_format f = cn_format_from_path("pkg/tool.py", &lang);
	cn_doc d;
	cn_chunks c;
	cn_chunk_params p = cn_chunk_default_params();
	assert_int_equal(parse_chunk(f, lang, "pkg/tool.py", b.data, &p, &d, &c), CAIRN_OK);
	assert_string_equal(d.lang, "python");
	assert_string_equal(d.title, "tool.py");
	check_blocks(&d, b.len);
	check_chunks(&c, b.len);
	/* labels: file name, then each definition's first non-comment line */
	assert_int_equal(d.blocks[0].kind, CN_BLOCK_HEADING);
	assert_string_equal(d.blocks[0].text, "tool.py");
	int defs = 0;
	for (size_t i = 1; i < d.n_blocks; i++) {
		if (d.blocks[i].kind == CN_BLOCK_HEADING) {
			assert_int_equal(d.blocks[i].level, 2);
			defs++;
		} else {
			assert_int_equal(d.blocks[i].kind, CN_BLOCK_CODE);
			assert_memory_equal(b.data + d.blocks[i].src_start, d.blocks[i].text, d.blocks[i].len);
		}
	}
	assert_int_equal(defs, 4);
	assert_string_equal(d.blocks[3].text, "def small(x):");
	assert_string_equal(d.blocks[4].text, "# helper\n@cache\ndef small(x):\n    return x + 1");
	assert_string_equal(d.blocks[5].text, "class Thing:");
	/* the big function is cut only at line boundaries, no overlap, heading path names it */
	int next = 0;
	for (size_t i = 0; i < c.n; i++) {
		assert_true(c.v[i].n_tokens <= 800);
		assert_null(strstr(c.v[i].text, "tool.py")); /* labels are not body text */
		const char *s = strstr(c.v[i].text, "    total_");
		if (!s)
			continue;
		assert_string_equal(c.v[i].heading, "tool.py > def huge(n):");
		assert_true(s == c.v[i].text || s[-1] == '\n');
		for (; s; s = strstr(s + 1, "    total_")) {
			int k;
			assert_int_equal(sscanf(s, "    total_%d = accumulate(n, %*d) + offset_value", &k), 1);
			assert_int_equal(k, next++);
		}
	}
	assert_int_equal(next, 400);
	assert_string_equal(c.v[0].heading, "tool.py > import os");
	cn_chunks_free(&c);
	cn_doc_free(&d);

	/* C: a closing brace at column 0 ends a block even without a blank line */
	const char *cs = "static int a(void)\n{\n\treturn 1;\n}\nint b(void)\n{\n\n\treturn 2;\n}\n";
	cn_doc_init(&d);
	assert_int_equal(cn_parse(CN_FMT_CODE, "c", "x.c", cs, strlen(cs), &d, NULL), CAIRN_OK);
	assert_int_equal(d.n_blocks, 5);
	assert_string_equal(d.blocks[1].text, "static int a(void)");
	assert_string_equal(d.blocks[2].text, "static int a(void)\n{\n\treturn 1;\n}");
	assert_string_equal(d.blocks[4].text, "int b(void)\n{\n\n\treturn 2;\n}");
	cn_doc_free(&d);
	cn_buf_free(&b);
}

/* ---- token estimate and SimHash ----------------------------------------------------- */

static void test_estimate_tokens(void **state)
{
	(void)state;
	struct {
		const char *s;
		size_t want;
	} cases[] = {
		{"", 0},
		{"   \n\t", 0},
		{"hello world", 2},
		{"Hello, world!", 4},                  /* 2 words + 2 punctuation */
		{"internationalization", 4},           /* 20 chars → ceil(20/6) */
		{"abcdef abcdefg", 3},                 /* 1 + 2 */
		{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 3}, /* 日本語: one per character */
		{"caf\xC3\xA9", 2},                     /* non-ASCII word: ceil(4/3) */
		{"\xF0\x9F\x98\x80 ok", 2},             /* emoji + word */
		{"x=1+2", 5},                           /* x = 1 + 2 */
		{"snake_case_name", 3},                 /* one word of 15 */
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++)
		assert_int_equal(cn_estimate_tokens(cases[i].s, strlen(cases[i].s)), cases[i].want);
	/* additive over whitespace-joined pieces */
	const char *a = "The quick brown fox, jumps.", *b = "Over the lazy dog!";
	char ab[128];
	snprintf(ab, sizeof ab, "%s %s", a, b);
	assert_int_equal(cn_estimate_tokens(ab, strlen(ab)),
			 cn_estimate_tokens(a, strlen(a)) + cn_estimate_tokens(b, strlen(b)));
	/* English prose lands near 1.3 tokens per word */
	rng_state = 11;
	cn_buf t;
	cn_buf_init(&t);
	prose(&t, 200);
	size_t words = 1;
	for (size_t i = 0; i < t.len; i++)
		words += t.data[i] == ' ';
	double ratio = (double)cn_estimate_tokens(t.data, t.len) / (double)words;
	assert_true(ratio > 1.1 && ratio < 1.6);
	cn_buf_free(&t);
}

static void test_simhash(void **state)
{
	(void)state;
	assert_true(cn_simhash("", 0) == 0);
	assert_true(cn_simhash(" ,. ", 4) == 0);
	assert_true(cn_simhash("Hello World again", 17) == cn_simhash("hello,  world AGAIN!", 20));
	assert_true(cn_simhash("one", 3) != 0);
	rng_state = 5;
	cn_buf a, b;
	cn_buf_init(&a);
	cn_buf_init(&b);
	int words = 0;
	while (words < 300) {
		const char *w = vocab[rnd() % CN_ARRAY_LEN(vocab)];
		cn_buf_printf(&a, "%s%s", words ? " " : "", w);
		cn_buf_printf(&b, "%s%s", words ? " " : "", words == 150 ? "zebra" : w);
		words++;
	}
	uint64_t ha = cn_simhash(a.data, a.len), hb = cn_simhash(b.data, b.len);
	assert_true(ha == cn_simhash(a.data, a.len));
	assert_true(cn_hamming64(ha, hb) <= 6);
	assert_true(ha != hb);
	const char *u1 = "The quarterly budget review found that storage costs grew faster than "
			 "expected, mostly because backup retention was doubled after the audit.";
	const char *u2 = "Photosynthesis converts light energy into chemical energy stored in "
			 "glucose, releasing oxygen as a by-product in green plants and algae.";
	const char *u3 = "A recipe for bread: mix flour, water, salt and yeast, knead for ten "
			 "minutes, let the dough rise, then bake at two hundred degrees.";
	uint64_t h1 = cn_simhash(u1, strlen(u1)), h2 = cn_simhash(u2, strlen(u2)), h3 = cn_simhash(u3, strlen(u3));
	assert_true(cn_hamming64(h1, h2) >= 20);
	assert_true(cn_hamming64(h1, h3) >= 20);
	assert_true(cn_hamming64(h2, h3) >= 20);
	assert_true(cn_hamming64(ha, h1) >= 20);
	/* the bit-sliced voting equals the plain reference, across the 255-shingle flushes */
	const char *samples[] = {"", "one", "two words", "three words here", u1, u2, u3, "\xC3\xA9t\xC3\xA9 caf\xC3\xA9 x"};
	for (size_t i = 0; i < CN_ARRAY_LEN(samples); i++)
		assert_true(cn_simhash(samples[i], strlen(samples[i])) == cn_simhash_ref(samples[i], strlen(samples[i])));
	assert_true(cn_simhash(a.data, a.len) == cn_simhash_ref(a.data, a.len));
	for (int i = 0; i < 3000; i++)
		cn_buf_printf(&a, " w%u", rnd() % 50);
	assert_true(cn_simhash(a.data, a.len) == cn_simhash_ref(a.data, a.len));
	cn_buf_free(&a);
	cn_buf_free(&b);
}

/* ---- JSONL -------------------------------------------------------------------------- */

static void test_jsonl(void **state)
{
	(void)state;
	const char *data =
		"\xEF\xBB\xBF{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"Hello\", \"metadata\": {\"url\": \"http://x\", \"year\": 2020}}\n"
		"\n"
		"   \n"
		"{\"_id\": 42, \"text\": \"caf\\u00e9 \\ud83d\\ude00\", \"lang\": \"fr\", \"score\": 1.5, \"ok\": true, \"none\": null}\r\n"
		"{\"_id\": \"bad\", \"text\": \"unterminated}\n"
		"{\"title\": \"no id\", \"text\": \"x\"}\n"
		"{\"_id\": \"d3\"}\n"
		"{\"_id\": [1], \"text\": \"x\"}\n"
		"[1, 2]\n"
		"{\"_id\": \"u\", \"text\": \"bad \xFF byte\"}\n"
		"{\"_id\": \"d4\", \"text\": \"last\", \"tags\": [\"a\", \"b\"], \"metadata\": {\"lang\": \"en\", \"k\": \"v\"}, \"lang\": \"de\"}";
	cn_jsonl_reader *r;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_jsonl_open("c.jsonl", data, strlen(data), &r, &err), CAIRN_OK);
	cn_jsonl_record rec;
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_OK);
	assert_string_equal(rec.id, "d1");
	assert_string_equal(rec.title, "T1");
	assert_string_equal(rec.text, "Hello");
	assert_int_equal(rec.text_len, 5);
	assert_string_equal(rec.metadata_json, "{\"url\":\"http://x\",\"year\":\"2020\"}");
	assert_int_equal(rec.line, 1);
	assert_int_equal(rec.src_start, 3);
	assert_memory_equal(data + rec.src_end - 2, "}}", 2);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_OK);
	assert_string_equal(rec.id, "42");
	assert_string_equal(rec.title, "");
	assert_string_equal(rec.text, "caf\xC3\xA9 \xF0\x9F\x98\x80");
	assert_string_equal(rec.metadata_json, "{\"lang\":\"fr\",\"score\":\"1.5\",\"ok\":\"true\"}");
	assert_int_equal(rec.line, 4);
	const char *bad[] = {"c.jsonl:5: bad JSON", "c.jsonl:6: missing \"_id\"", "c.jsonl:7: missing \"text\"",
			     "c.jsonl:8: the document id is not a string or number", "c.jsonl:9: not a JSON object",
			     "c.jsonl:10: invalid UTF-8 at byte 26 of the line"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
		cn_err_clear(&err);
		assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_EFORMAT);
		if (strncmp(err.msg, bad[i], strlen(bad[i])))
			print_message("got: %s\n", err.msg);
		assert_true(!strncmp(err.msg, bad[i], strlen(bad[i])));
	}
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_OK);
	assert_string_equal(rec.id, "d4");
	assert_int_equal(rec.line, 11);
	assert_int_equal(rec.src_end, strlen(data));
	/* the top-level "lang" wins over metadata's; arrays are kept as JSON text */
	assert_string_equal(rec.metadata_json, "{\"tags\":\"[\\\"a\\\",\\\"b\\\"]\",\"lang\":\"de\",\"k\":\"v\"}");
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_ENOTFOUND);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_ENOTFOUND);
	cn_jsonl_close(r);

	/* Without "_id", "doc_id" then "id" name the document (and stay in the metadata). */
	const char *alt = "{\"doc_id\": \"x1\", \"text\": \"a\"}\n"
	                  "{\"id\": 7, \"text\": \"b\"}\n"
	                  "{\"_id\": \"p\", \"doc_id\": \"q\", \"text\": \"c\"}\n"
	                  "{\"id\": \"z\", \"doc_id\": \"a\\u00e9\", \"text\": \"d\"}\n"
	                  "{\"id\": {\"x\": 1}, \"text\": \"e\"}\n";
	assert_int_equal(cn_jsonl_open("alt.jsonl", alt, strlen(alt), &r, &err), CAIRN_OK);
	const char *want[] = {"x1", "7", "p", "a\xC3\xA9"};
	for (size_t i = 0; i < CN_ARRAY_LEN(want); i++) {
		assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_OK);
		assert_string_equal(rec.id, want[i]);
	}
	cn_err_clear(&err);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_EFORMAT);
	assert_non_null(strstr(err.msg, "alt.jsonl:5: the document id is not a string or number"));
	cn_jsonl_close(r);

	/* a huge line (8 MB of text) */
	size_t n = 8u << 20;
	char *big = cn_malloc(n + 64);
	assert_non_null(big);
	int h = snprintf(big, 64, "{\"_id\":\"big\",\"text\":\"");
	memset(big + h, 'a', n);
	memcpy(big + h + n, "\"}\n", 4);
	assert_int_equal(cn_jsonl_open("big.jsonl", big, strlen(big), &r, &err), CAIRN_OK);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_OK);
	assert_int_equal(rec.text_len, n);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_ENOTFOUND);
	cn_jsonl_close(r);
	cn_free(big);
	/* empty input */
	assert_int_equal(cn_jsonl_open("e.jsonl", "", 0, &r, &err), CAIRN_OK);
	assert_int_equal(cn_jsonl_next(r, &rec, &err), CAIRN_ENOTFOUND);
	cn_jsonl_close(r);
}

static void test_jsonl_scifact(void **state)
{
	(void)state;
	size_t len;
	char *data = read_file("../shared/data/scifact-beir/corpus.jsonl", &len);
	if (!data) {
		print_message("scifact-beir corpus absent: skipped\n");
		skip();
	}
	cn_jsonl_reader *r;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_jsonl_open("corpus.jsonl", data, len, &r, &err), CAIRN_OK);
	cn_jsonl_record rec;
	size_t n = 0;
	cairn_status rc;
	bool saw_first = false;
	while ((rc = cn_jsonl_next(r, &rec, &err)) == CAIRN_OK) {
		n++;
		assert_true(rec.id[0] != '\0');
		assert_true(rec.text_len > 0);
		assert_true(rec.title[0] != '\0');
		assert_string_equal(rec.metadata_json, "{}");
		assert_int_equal(rec.line, n);
		if (!strcmp(rec.id, "4983")) {
			saw_first = true;
			assert_true(!strncmp(rec.title, "Microstructural development of human newborn", 44));
		}
	}
	assert_int_equal(rc, CAIRN_ENOTFOUND);
	assert_int_equal(n, 5183);
	assert_true(saw_first);
	cn_jsonl_close(r);
	cn_free(data);
}

/* ---- robustness --------------------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
	(void)state;
	rng_state = 9;
	cn_buf md;
	cn_buf_init(&md);
	cn_buf_puts(&md, "---\ntitle: T\n---\n# A\n\n");
	for (int i = 0; i < 6; i++) {
		prose(&md, 40);
		cn_buf_puts(&md, "\n\n## Sub\n\n| h1 | h2 |\n|---|---|\n");
		for (int r = 0; r < 60; r++)
			cn_buf_printf(&md, "| cell %d | value number %d here |\n", r, r);
		cn_buf_puts(&md, "\n- a\n- b\n\n```\ncode line\n```\n\n");
	}
	const char *html = "<html><head><title>T</title></head><body><h1>H</h1><p>para &amp; text</p>"
			   "<table><tr><td>a</td><td>b</td></tr></table><ul><li>x</li></ul><pre>c\n d</pre></body></html>";
	const char *code = "import x\n\ndef f():\n    pass\n\nclass C:\n    pass\n";
	struct {
		cn_format f;
		const char *data;
	} docs[] = {{CN_FMT_MARKDOWN, md.data}, {CN_FMT_HTML, html}, {CN_FMT_TEXT, md.data}, {CN_FMT_CODE, code}};
	for (size_t di = 0; di < CN_ARRAY_LEN(docs); di++) {
		cn_chunk_params p = cn_chunk_default_params();
		p.target_tokens = 100;
		p.min_tokens = 50;
		p.max_tokens = 150;
		bool ok = false;
		long k;
		for (k = 1; k < 100000 && !ok; k++) {
			cn_doc d;
			cn_chunks c;
			cn_err err;
			cn_err_clear(&err);
			cn_doc_init(&d);
			cn_chunks_init(&c);
			cn_alloc_fail_after(k);
			cairn_status rc = cn_parse(docs[di].f, "python", "f.py", docs[di].data, strlen(docs[di].data), &d, &err);
			if (!rc)
				rc = cn_chunk_doc(&d, &p, &c, &err);
			cn_alloc_fail_after(0);
			if (rc == CAIRN_OK) {
				ok = true;
				assert_true(c.n > 0);
			} else {
				assert_int_equal(rc, CAIRN_ENOMEM);
				assert_int_equal(err.code, CAIRN_ENOMEM);
			}
			cn_chunks_free(&c);
			cn_doc_free(&d);
		}
		assert_true(ok);
		assert_true(k > 3);
	}
	/* JSONL reader */
	const char *jl = "{\"_id\":\"a\",\"text\":\"t\",\"m\":1}\n{\"_id\":\"b\",\"text\":\"u\",\"metadata\":{\"x\":\"y\"}}\n";
	bool ok = false;
	for (long k = 1; k < 1000 && !ok; k++) {
		cn_jsonl_reader *r = NULL;
		cn_err err;
		cn_err_clear(&err);
		cn_alloc_fail_after(k);
		cairn_status rc = cn_jsonl_open("j", jl, strlen(jl), &r, &err);
		cn_jsonl_record rec;
		int got = 0;
		while (!rc && (rc = cn_jsonl_next(r, &rec, &err)) == CAIRN_OK)
			got++;
		cn_alloc_fail_after(0);
		if (rc == CAIRN_ENOTFOUND) {
			ok = true;
			assert_int_equal(got, 2);
		} else {
			assert_int_equal(rc, CAIRN_ENOMEM);
		}
		cn_jsonl_close(r);
	}
	assert_true(ok);
	cn_buf_free(&md);
}

static void test_pathological_inputs(void **state)
{
	(void)state;
	cn_chunk_params p = cn_chunk_default_params();
	cn_doc d;
	cn_chunks c;
	cn_buf b;
	cn_buf_init(&b);
	/* 200,000 one-word paragraphs */
	for (int i = 0; i < 200000; i++)
		cn_buf_puts(&b, "w\n\n");
	assert_int_equal(parse_chunk(CN_FMT_MARKDOWN, NULL, "many.md", b.data, &p, &d, &c), CAIRN_OK);
	assert_int_equal(d.n_blocks, 200000);
	check_chunks(&c, b.len);
	for (size_t i = 0; i + 1 < c.n; i++)
		assert_true(c.v[i].n_tokens >= 300 && c.v[i].n_tokens <= 800);
	cn_chunks_free(&c);
	cn_doc_free(&d);
	/* 5,000 nested list levels and 5,000 nested quotes */
	cn_buf_reset(&b);
	for (int i = 0; i < 5000; i++) {
		for (int k = 0; k < CN_MIN(i, 200) * 2; k++)
			cn_buf_putc(&b, ' ');
		cn_buf_printf(&b, "- item %d\n", i);
	}
	for (int i = 0; i < 5000; i++)
		cn_buf_putc(&b, '>');
	cn_buf_puts(&b, " deep quote\n");
	assert_int_equal(parse_chunk(CN_FMT_MARKDOWN, NULL, "nest.md", b.data, &p, &d, &c), CAIRN_OK);
	check_blocks(&d, b.len);
	check_chunks(&c, b.len);
	for (size_t i = 0; i < c.n; i++)
		assert_true(c.v[i].n_tokens <= 800);
	cn_chunks_free(&c);
	cn_doc_free(&d);
	/* a 10 MB single line (words, no sentence ends) in every format */
	cn_buf_reset(&b);
	while (b.len < (10u << 20))
		cn_buf_puts(&b, "lorem ipsum dolor sit amet ");
	for (cn_format f = CN_FMT_TEXT; f <= CN_FMT_CODE; f++) {
		assert_int_equal(parse_chunk(f, "c", "line", b.data, &p, &d, &c), CAIRN_OK);
		check_chunks(&c, b.len);
		for (size_t i = 0; i < c.n; i++)
			assert_true(c.v[i].n_tokens <= 800);
		cn_chunks_free(&c);
		cn_doc_free(&d);
	}
	cn_buf_free(&b);
	/* bad params and empty documents */
	cn_doc_init(&d);
	cn_chunks_init(&c);
	cn_err err;
	cn_err_clear(&err);
	p.min_tokens = 900;
	assert_int_equal(cn_chunk_doc(&d, &p, &c, &err), CAIRN_EINVAL);
	p = cn_chunk_default_params();
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_EEMPTY);
	assert_int_equal(cn_parse(CN_FMT_HTML, NULL, "s.html", "<script>x</script>", 18, &d, NULL), CAIRN_OK);
	assert_int_equal(d.n_blocks, 0);
	assert_int_equal(cn_chunk_doc(&d, &p, &c, NULL), CAIRN_EEMPTY);
	assert_int_equal(cn_parse(CN_FMT_JSONL, NULL, "j", "{}", 2, &d, NULL), CAIRN_EINVAL);
	cn_doc_free(&d);
	cn_chunks_free(&c);
}

/* A custom counter (1 token per byte) drives the sizes instead of the estimate. */
static size_t count_bytes(const char *text, size_t len, void *ud)
{
	(*(size_t *)ud)++;
	(void)text;
	return len;
}

static void test_custom_counter(void **state)
{
	(void)state;
	rng_state = 21;
	cn_buf b;
	cn_buf_init(&b);
	for (int i = 0; i < 40; i++) {
		prose(&b, 4);
		cn_buf_puts(&b, "\n\n");
	}
	size_t calls = 0;
	cn_chunk_params p = cn_chunk_default_params();
	p.count_tokens = count_bytes;
	p.count_ud = &calls;
	p.target_tokens = 1000;
	p.min_tokens = 600;
	p.max_tokens = 1500;
	cn_doc d;
	cn_chunks c;
	assert_int_equal(parse_chunk(CN_FMT_TEXT, NULL, "c.txt", b.data, &p, &d, &c), CAIRN_OK);
	assert_true(calls > 0);
	for (size_t i = 0; i < c.n; i++) {
		assert_int_equal(c.v[i].n_tokens, c.v[i].len);
		assert_true(c.v[i].len <= 1500);
	}
	cn_chunks_free(&c);
	cn_doc_free(&d);
	cn_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_from_path),
		cmocka_unit_test(test_check_text),
		cmocka_unit_test(test_corrupt_docs),
		cmocka_unit_test(test_markdown_golden),
		cmocka_unit_test(test_markdown_title_and_paths),
		cmocka_unit_test(test_markdown_table_and_code_never_cut),
		cmocka_unit_test(test_markdown_sizes_and_overlap),
		cmocka_unit_test(test_long_paragraph_splits),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_text_reader),
		cmocka_unit_test(test_code_reader),
		cmocka_unit_test(test_estimate_tokens),
		cmocka_unit_test(test_simhash),
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_jsonl_scifact),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_pathological_inputs),
		cmocka_unit_test(test_custom_counter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
