/*
 * Markdown reader: md4c (CommonMark + GFM tables, strikethrough, autolinks, task lists)
 * events → flat blocks.
 *
 * md4c is a SAX-style parser: blocks nest (quote > list > item > paragraph) but our blocks
 * are flat, so the outermost list or quote is one block that gathers everything inside it
 * (items one per line with their marker, nested items indented two spaces per level).
 * A code block or table inside a container interrupts it: the container's text so far becomes
 * a block, the code/table becomes its own block (so the chunker can keep it whole) and the
 * container resumes as a new block of the same kind.
 *
 * Source offsets: md4c hands text callbacks pointers into the input, so a block's range is
 * [first text byte, last text byte) — for a heading that is its text after "## ", for a list
 * the first item's marker (we step back to it), for a fenced code block its first code line.
 *
 * Code blocks keep their text verbatim; the fence and its info string are dropped. Raw HTML
 * blocks are stripped of tags (script/style content dropped) and entities decoded. YAML front
 * matter ("---" … "---" at the very start) is not indexed; its "title:" becomes the title.
 */
#include "ingest/ingest_int.h"

#include <md4c.h>
#include <string.h>
#include <strings.h>

#define MAX_LISTS 32

typedef struct md_state {
	const char *data;
	size_t len;
	cn_bb bb;
	int list_depth, quote_depth;
	cn_block_kind cont; /* kind of the open outermost container */
	bool in_code, in_html, in_table, li_fresh;
	int cell;
	struct {
		bool ordered;
		unsigned next;
		char mark;
	} lists[MAX_LISTS];
	/* raw-HTML stripping state (spans callbacks) */
	bool tag, skip;
	char tagname[16];
	size_t tagn;
} md_state;

static bool in_container(const md_state *s) { return s->list_depth + s->quote_depth > 0; }

static int failed(md_state *s) { return s->bb.rc || s->bb.buf.failed; }

static void reopen_container(md_state *s)
{
	if (in_container(s))
		cn_bb_open(&s->bb, s->cont, 0);
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	md_state *s = ud;
	switch (type) {
	case MD_BLOCK_QUOTE:
		if (!in_container(s)) {
			cn_bb_open(&s->bb, CN_BLOCK_QUOTE, 0);
			s->cont = CN_BLOCK_QUOTE;
		} else {
			cn_bb_newline(&s->bb);
		}
		s->quote_depth++;
		break;
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		if (!in_container(s)) {
			cn_bb_open(&s->bb, CN_BLOCK_LIST, 0);
			s->cont = CN_BLOCK_LIST;
		}
		if (s->list_depth < MAX_LISTS) {
			int d = s->list_depth;
			s->lists[d].ordered = type == MD_BLOCK_OL;
			if (type == MD_BLOCK_OL) {
				MD_BLOCK_OL_DETAIL *od = detail;
				s->lists[d].next = od->start;
				s->lists[d].mark = od->mark_delimiter;
			} else {
				MD_BLOCK_UL_DETAIL *ud2 = detail;
				s->lists[d].mark = ud2->mark;
			}
		}
		s->list_depth++;
		break;
	case MD_BLOCK_LI: {
		cn_bb_newline(&s->bb);
		int d = CN_MIN(s->list_depth, MAX_LISTS) - 1;
		static const char spaces[] = "                ";
		cn_bb_put(&s->bb, spaces, (size_t)CN_MIN(2 * d, 16));
		char m[16];
		int n;
		if (d >= 0 && s->lists[d].ordered)
			n = snprintf(m, sizeof m, "%u%c ", s->lists[d].next++, s->lists[d].mark);
		else
			n = snprintf(m, sizeof m, "%c ", d >= 0 ? s->lists[d].mark : '-');
		cn_bb_put(&s->bb, m, (size_t)n);
		s->li_fresh = true;
		break;
	}
	case MD_BLOCK_HR: break;
	case MD_BLOCK_H:
		if (in_container(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_open(&s->bb, CN_BLOCK_HEADING, (int)((MD_BLOCK_H_DETAIL *)detail)->level);
		break;
	case MD_BLOCK_CODE:
		cn_bb_open(&s->bb, CN_BLOCK_CODE, 0);
		s->in_code = true;
		break;
	case MD_BLOCK_HTML:
		if (in_container(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_open(&s->bb, CN_BLOCK_OTHER, 0);
		s->in_html = true;
		s->tag = s->skip = false;
		break;
	case MD_BLOCK_P:
		if (in_container(s)) {
			if (!s->li_fresh)
				cn_bb_newline(&s->bb);
		} else {
			cn_bb_open(&s->bb, CN_BLOCK_PARAGRAPH, 0);
		}
		break;
	case MD_BLOCK_TABLE:
		cn_bb_open(&s->bb, CN_BLOCK_TABLE, 0);
		s->in_table = true;
		break;
	case MD_BLOCK_TR:
		cn_bb_newline(&s->bb);
		s->cell = 0;
		break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD:
		if (s->cell++ > 0)
			cn_bb_put(&s->bb, " | ", 3);
		break;
	default: break;
	}
	return failed(s);
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	md_state *s = ud;
	(void)detail;
	switch (type) {
	case MD_BLOCK_QUOTE:
		s->quote_depth--;
		if (!in_container(s))
			cn_bb_flush(&s->bb);
		break;
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		s->list_depth--;
		if (!in_container(s))
			cn_bb_flush(&s->bb);
		break;
	case MD_BLOCK_H:
		if (in_container(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_flush(&s->bb);
		break;
	case MD_BLOCK_CODE:
		cn_bb_flush(&s->bb);
		s->in_code = false;
		reopen_container(s);
		break;
	case MD_BLOCK_HTML:
		s->in_html = false;
		if (!in_container(s))
			cn_bb_flush(&s->bb);
		break;
	case MD_BLOCK_P:
		if (!in_container(s))
			cn_bb_flush(&s->bb);
		break;
	case MD_BLOCK_TABLE:
		cn_bb_flush(&s->bb);
		s->in_table = false;
		reopen_container(s);
		break;
	default: break;
	}
	return failed(s);
}

static int enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
	(void)type, (void)detail, (void)ud;
	return 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
	(void)type, (void)detail, (void)ud;
	return 0;
}

/* Appends text with entities decoded, whitespace collapsed. */
static void put_decoded(md_state *s, const char *t, size_t n)
{
	size_t i = 0, run = 0;
	while (i < n) {
		if (t[i] == '&') {
			char u[8];
			size_t ul, el = cn_ing_entity(t + i, n - i, u, &ul);
			if (el) {
				cn_bb_put_collapsed(&s->bb, t + run, i - run);
				cn_bb_put(&s->bb, u, ul);
				i += el;
				run = i;
				continue;
			}
		}
		i++;
	}
	cn_bb_put_collapsed(&s->bb, t + run, n - run);
}

/* Raw HTML: drop tags (and script/style bodies), keep text. */
static void put_html(md_state *s, const char *t, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s->tag) {
			const char *gt = memchr(t + i, '>', n - i);
			size_t end = gt ? (size_t)(gt - t) : n;
			for (size_t k = i; k < end && s->tagn < sizeof s->tagname - 1; k++) {
				char c = t[k];
				if (cn_ing_isspace((unsigned char)c) || (c == '/' && s->tagn > 0))
					break;
				s->tagname[s->tagn++] = c;
			}
			if (!gt) {
				s->tagn = sizeof s->tagname - 1; /* name cannot continue across lines */
				return;
			}
			s->tagname[CN_MIN(s->tagn, sizeof s->tagname - 1)] = '\0';
			if (!strcasecmp(s->tagname, "script") || !strcasecmp(s->tagname, "style"))
				s->skip = true;
			else if (!strcasecmp(s->tagname, "/script") || !strcasecmp(s->tagname, "/style"))
				s->skip = false;
			s->tag = false;
			cn_bb_space(&s->bb);
			i = end + 1;
			continue;
		}
		const char *lt = memchr(t + i, '<', n - i);
		size_t end = lt ? (size_t)(lt - t) : n;
		if (!s->skip)
			put_decoded(s, t + i, end - i);
		if (!lt)
			return;
		s->tag = true;
		s->tagn = 0;
		i = end + 1;
	}
}

static int text_cb(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
	md_state *s = ud;
	if (!s->bb.open)
		return 0;
	if (text >= s->data && text + size <= s->data + s->len && size) {
		uint64_t st = (uint64_t)(text - s->data);
		if (s->bb.kind == CN_BLOCK_LIST && !s->bb.has_src) {
			/* step back to the item marker at the start of the line */
			uint64_t lim = st > 128 ? st - 128 : 0, p = st;
			lim = CN_MAX(lim, s->bb.prev_end);
			while (p > lim && s->data[p - 1] != '\n')
				p--;
			while (p < st && (s->data[p] == ' ' || s->data[p] == '\t' || s->data[p] == '>'))
				p++;
			st = p;
		}
		cn_bb_src(&s->bb, st, (uint64_t)(text + size - s->data));
	}
	if (type != MD_TEXT_BR && type != MD_TEXT_SOFTBR)
		s->li_fresh = false;
	switch (type) {
	case MD_TEXT_NORMAL:
	case MD_TEXT_LATEXMATH: cn_bb_put_collapsed(&s->bb, text, size); break;
	case MD_TEXT_CODE:
		if (s->in_code)
			cn_bb_put(&s->bb, text, size);
		else
			cn_bb_put_collapsed(&s->bb, text, size);
		break;
	case MD_TEXT_SOFTBR: cn_bb_space(&s->bb); break;
	case MD_TEXT_BR:
		if (s->in_table || s->bb.kind == CN_BLOCK_HEADING)
			cn_bb_space(&s->bb);
		else
			cn_bb_newline(&s->bb);
		break;
	case MD_TEXT_ENTITY: put_decoded(s, text, size); break;
	case MD_TEXT_NULLCHAR: cn_bb_put(&s->bb, "\xEF\xBF\xBD", 3); break;
	case MD_TEXT_HTML:
		if (s->in_html)
			put_html(s, text, size);
		break;
	default: break;
	}
	return failed(s);
}

/* YAML front matter at off: returns the offset after it (off if none) and sets *title. */
static size_t front_matter(const char *data, size_t len, size_t off, const char **title,
			   size_t *tlen)
{
	*title = NULL;
	*tlen = 0;
	size_t p = off;
	if (len - p < 4 || memcmp(data + p, "---", 3))
		return off;
	p += 3;
	while (p < len && (data[p] == ' ' || data[p] == '\t'))
		p++;
	if (p < len && data[p] == '\r')
		p++;
	if (p >= len || data[p] != '\n')
		return off;
	p++;
	while (p < len) {
		const char *nl = memchr(data + p, '\n', len - p);
		size_t e = nl ? (size_t)(nl - data) : len, le = e;
		while (le > p && cn_ing_isspace((unsigned char)data[le - 1]))
			le--;
		if ((le - p == 3 && (!memcmp(data + p, "---", 3) || !memcmp(data + p, "...", 3))))
			return nl ? e + 1 : len;
		if (le - p > 6 && !strncasecmp(data + p, "title:", 6) && !*title) {
			size_t v = p + 6;
			while (v < le && (data[v] == ' ' || data[v] == '\t'))
				v++;
			size_t ve = le;
			if (ve - v >= 2 && (data[v] == '"' || data[v] == '\'') && data[ve - 1] == data[v]) {
				v++;
				ve--;
			}
			*title = data + v;
			*tlen = ve - v;
		}
		p = nl ? e + 1 : len;
	}
	*title = NULL; /* no closing line: not front matter */
	*tlen = 0;
	return off;
}

cairn_status cn_parse_markdown(const char *path, const char *data, size_t len, size_t off,
			       cn_doc *d, cn_err *err)
{
	const char *ft;
	size_t ftl;
	size_t start = front_matter(data, len, off, &ft, &ftl);
	md_state s;
	memset(&s, 0, sizeof s);
	s.data = data;
	s.len = len;
	cn_bb_init(&s.bb, d, len);
	s.bb.prev_start = s.bb.prev_end = start;
	MD_PARSER p;
	memset(&p, 0, sizeof p);
	p.flags = MD_DIALECT_GITHUB;
	p.enter_block = enter_block;
	p.leave_block = leave_block;
	p.enter_span = enter_span;
	p.leave_span = leave_span;
	p.text = text_cb;
	int r = md_parse(data + start, (MD_SIZE)(len - start), &p, &s);
	cn_bb_flush(&s.bb);
	cairn_status rc = s.bb.rc;
	cn_bb_free(&s.bb);
	if (rc)
		return rc;
	if (r == -1)
		return CAIRN_ENOMEM; /* md4c's only runtime failure */
	if (r)
		return cn_err_set(err, CAIRN_EINTERNAL, "%s: markdown parser stopped (%d)", path, r);
	if (ft && ftl)
		return cn_doc_set_title(d, ft, ftl);
	const cn_block *first = NULL;
	for (size_t i = 0; i < d->n_blocks; i++)
		if (d->blocks[i].kind == CN_BLOCK_HEADING) {
			if (d->blocks[i].level == 1) {
				first = &d->blocks[i];
				break;
			}
			if (!first)
				first = &d->blocks[i];
		}
	if (first)
		d->title = first->text;
	return CAIRN_OK;
}
