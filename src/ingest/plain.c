/*
 * Plain-text and source-code readers: line scanners, one pass, no backtracking.
 *
 * Text: paragraphs are runs of non-blank lines, kept verbatim (so split pieces map to exact
 * source bytes). Headings: a line underlined by === (level 1) or --- (level 2), or a short
 * ALL-CAPS line (level 2) opening a paragraph. The first non-blank line is the title; it is
 * also an H1 when it stands alone (a one-line paragraph of at most 100 bytes not ending in
 * sentence punctuation).
 *
 * Code: blocks start at top-level definition boundaries, found by layout rather than grammar
 * so one rule serves every language: a non-blank line at column 0 that follows a blank line,
 * or any line after a column-0 closing line ("}", "};", "end"). Each block gets a label
 * heading (level 2) from its first line that is not a comment or decorator; the file name is
 * a level-1 label. Labels are not body text (see cn_parse).
 */
#include "ingest/ingest_int.h"

#include <string.h>

typedef struct line {
	size_t s, e; /* [s, e) without the newline and trailing whitespace */
	size_t next; /* start of the following line */
} line;

static bool next_line(const char *d, size_t len, size_t p, line *l)
{
	if (p >= len)
		return false;
	const char *nl = memchr(d + p, '\n', len - p);
	size_t e = nl ? (size_t)(nl - d) : len;
	l->s = p;
	l->next = nl ? e + 1 : len;
	while (e > p && cn_ing_isspace((unsigned char)d[e - 1]))
		e--;
	l->e = e;
	return true;
}

static bool is_blank(const char *d, const line *l)
{
	for (size_t i = l->s; i < l->e; i++)
		if (!cn_ing_isspace((unsigned char)d[i]))
			return false;
	return true;
}

/* "====" or "----" (3+, optional surrounding spaces): 1 or 2; else 0. */
static int underline(const char *d, const line *l)
{
	size_t i = l->s;
	while (i < l->e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (i >= l->e || (d[i] != '=' && d[i] != '-'))
		return 0;
	char c = d[i];
	size_t n = 0;
	for (; i < l->e; i++) {
		if (d[i] == c)
			n++;
		else if (d[i] != ' ')
			return 0;
	}
	return n >= 3 ? (c == '=' ? 1 : 2) : 0;
}

static bool all_caps(const char *d, const line *l)
{
	size_t n = l->e - l->s, letters = 0;
	if (n < 3 || n > 80)
		return false;
	for (size_t i = l->s; i < l->e; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c >= 'a' && c <= 'z')
			return false;
		if (c >= 'A' && c <= 'Z')
			letters++;
	}
	char last = d[l->e - 1];
	return letters >= 2 && last != '.' && last != ',' && last != ';';
}

static size_t skip_ws(const char *d, size_t s, size_t e)
{
	while (s < e && cn_ing_isspace((unsigned char)d[s]))
		s++;
	return s;
}

static cairn_status add(cn_doc *doc, cn_block_kind k, int level, const char *d, size_t s, size_t e)
{
	s = skip_ws(d, s, e);
	if (s >= e)
		return CAIRN_OK;
	return cn_doc_add_block(doc, k, level, d + s, e - s, s, e);
}

/* One paragraph [ps, pe) made of lines starting at ps. */
static cairn_status text_para(cn_doc *doc, const char *d, size_t ps, size_t pe, bool first)
{
	line l1, l2;
	next_line(d, pe, ps, &l1);
	bool two = next_line(d, pe, l1.next, &l2);
	int u = two ? underline(d, &l2) : 0;
	if (u && l1.e - l1.s <= 200) {
		cairn_status rc = add(doc, CN_BLOCK_HEADING, u, d, l1.s, l1.e);
		if (rc)
			return rc;
		return l2.next < pe ? add(doc, CN_BLOCK_PARAGRAPH, 0, d, l2.next, pe) : CAIRN_OK;
	}
	if (all_caps(d, &l1) || (first && !two && l1.e - l1.s <= 100 && !(d[l1.e - 1] && strchr(".,;:!?", d[l1.e - 1])))) {
		cairn_status rc = add(doc, CN_BLOCK_HEADING, first && !two ? 1 : 2, d, l1.s, l1.e);
		if (rc || !two)
			return rc;
		return add(doc, CN_BLOCK_PARAGRAPH, 0, d, l1.next, pe);
	}
	return add(doc, CN_BLOCK_PARAGRAPH, 0, d, ps, pe);
}

cairn_status cn_parse_text(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err)
{
	(void)path, (void)err;
	size_t p = off, ps = SIZE_MAX, pe = 0;
	bool first = true;
	line l;
	cairn_status rc = CAIRN_OK;
	while (!rc && next_line(data, len, p, &l)) {
		p = l.next;
		if (is_blank(data, &l)) {
			if (ps != SIZE_MAX) {
				rc = text_para(d, data, ps, pe, first);
				first = false;
				ps = SIZE_MAX;
			}
			continue;
		}
		if (ps == SIZE_MAX) {
			ps = l.s;
			if (first && !d->title) {
				size_t s = skip_ws(data, l.s, l.e);
				rc = cn_doc_set_title(d, data + s, CN_MIN(l.e - s, (size_t)300));
			}
		}
		pe = l.e;
	}
	if (!rc && ps != SIZE_MAX)
		rc = text_para(d, data, ps, pe, first);
	return rc;
}

/* ---- code --------------------------------------------------------------------------- */

static bool is_closer(const char *d, const line *l)
{
	size_t n = l->e - l->s;
	const char *s = d + l->s;
	if (n >= 1 && s[0] == '}')
		return n <= 3; /* "}", "};", "})", "});" */
	return (n == 3 && !memcmp(s, "end", 3)) || (n == 4 && !memcmp(s, "end;", 4));
}

static bool is_comment(const char *d, const line *l)
{
	size_t s = skip_ws(d, l->s, l->e), n = l->e - s;
	const char *p = d + s;
	if (!n)
		return true;
	return p[0] == '#' || p[0] == '@' || p[0] == '*' || p[0] == ';' || p[0] == '%' ||
	       (n >= 2 && (!memcmp(p, "//", 2) || !memcmp(p, "/*", 2) || !memcmp(p, "--", 2))) ||
	       (n >= 3 && (!memcmp(p, "\"\"\"", 3) || !memcmp(p, "'''", 3)));
}

static cairn_status code_block(cn_doc *doc, const char *d, size_t bs, size_t be)
{
	/* label: first non-comment line (or the first line) */
	line l, lab;
	size_t p = bs;
	bool have = false;
	next_line(d, be, bs, &lab);
	while (next_line(d, be, p, &l)) {
		if (!is_comment(d, &l)) {
			lab = l;
			have = true;
			break;
		}
		p = l.next;
	}
	(void)have;
	size_t ls = skip_ws(d, lab.s, lab.e), le = lab.e;
	if (le - ls > 120) {
		le = ls + 120;
		while (le > ls && ((unsigned char)d[le] & 0xC0) == 0x80)
			le--;
	}
	cairn_status rc = CAIRN_OK;
	if (le > ls)
		rc = cn_doc_add_block(doc, CN_BLOCK_HEADING, 2, d + ls, le - ls, bs, bs);
	if (!rc)
		rc = cn_doc_add_block(doc, CN_BLOCK_CODE, 0, d + bs, be - bs, bs, be);
	return rc;
}

cairn_status cn_parse_code(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err)
{
	(void)err;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	cairn_status rc = cn_doc_set_title(d, base, strlen(base));
	if (!rc && d->title)
		rc = cn_doc_add_block(d, CN_BLOCK_HEADING, 1, d->title, strlen(d->title), off, off);
	size_t p = off, bs = SIZE_MAX, be = 0;
	bool prev_blank = false, prev_closer = false;
	line l;
	while (!rc && next_line(data, len, p, &l)) {
		p = l.next;
		if (is_blank(data, &l)) {
			prev_blank = true;
			continue;
		}
		bool col0 = !cn_ing_isspace((unsigned char)data[l.s]);
		bool closer = col0 && is_closer(data, &l);
		if (bs != SIZE_MAX && ((prev_blank && col0 && !closer) || prev_closer)) {
			rc = code_block(d, data, bs, be);
			bs = SIZE_MAX;
		}
		if (bs == SIZE_MAX)
			bs = l.s;
		be = l.e;
		prev_closer = closer;
		prev_blank = false;
	}
	if (!rc && bs != SIZE_MAX)
		rc = code_block(d, data, bs, be);
	return rc;
}
