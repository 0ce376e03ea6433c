/*
 * HTML reader: libxml2's forgiving HTML parser builds a tree; an iterative walk (no recursion,
 * so nesting depth is harmless) turns it into flat blocks.
 *
 * Kept: h1–h6 (headings), p, ul/ol/dl (one LIST block per outermost list, items "- …" one per
 * line), table (rows "a | b", one per line), pre (CODE, verbatim), blockquote, and loose text
 * inside div/section/article/body (paragraphs split at block-level element boundaries).
 * Dropped: head (but <title> becomes the title), script, style, nav, header, footer, aside,
 * noscript, template, svg, canvas, iframe, object, select, comments.
 *
 * Source offsets are best effort: libxml2 keeps no byte positions, so each text node's first
 * word is searched forward in the source from the last match (within a 1 MiB window, so the
 * walk stays linear); blocks whose text cannot be found (entities, generated text) inherit the
 * previous position. Ranges are clamped non-decreasing by the block builder.
 */
#include "ingest/ingest_int.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>

#define MAX_LISTS 32
#define SEARCH_WINDOW (1u << 20)

typedef struct html_state {
	const char *data;
	size_t len;
	size_t pos; /* source search position */
	cn_bb bb;
	int list_depth, quote_depth, table_depth, pre_depth;
	cn_block_kind cont;
	int cell;
	struct {
		bool ordered;
		unsigned next;
	} lists[MAX_LISTS];
	const char *title;
	size_t title_len;
	char *title_alloc; /* from libxml2 */
} html_state;

static bool in_cont(const html_state *s) { return s->list_depth + s->quote_depth > 0; }

static bool name_in(const char *n, const char *const *set, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (!strcmp(n, set[i]))
			return true;
	return false;
}

static const char *const skipped[] = {"script", "style", "nav", "header", "footer", "aside",
				      "noscript", "template", "svg", "canvas", "iframe", "object",
				      "select", "head", "math"};
static const char *const boundary[] = {"div", "section", "article", "main", "body", "html",
				       "center", "address", "figure", "figcaption", "details",
				       "summary", "fieldset", "legend", "caption", "form", "hr",
				       "dialog", "hgroup", "search"};

static int heading_level(const char *n)
{
	if (n[0] == 'h' && n[1] >= '1' && n[1] <= '6' && !n[2])
		return n[1] - '0';
	return 0;
}

static void reopen(html_state *s)
{
	if (in_cont(s))
		cn_bb_open(&s->bb, s->cont, 0);
}

static void find_title(html_state *s, xmlNode *head)
{
	for (xmlNode *c = head->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "title") && !s->title_alloc) {
			s->title_alloc = (char *)xmlNodeGetContent(c);
			if (s->title_alloc) {
				s->title = s->title_alloc;
				s->title_len = strlen(s->title_alloc);
			}
		}
}

static void text_node(html_state *s, const char *t)
{
	size_t n = strlen(t), i = 0;
	while (i < n && cn_ing_isspace((unsigned char)t[i]))
		i++;
	if (i == n) {
		if (s->bb.open && !s->pre_depth)
			cn_bb_space(&s->bb);
		else if (s->bb.open)
			cn_bb_put(&s->bb, t, n);
		return;
	}
	if (!s->bb.open)
		cn_bb_open(&s->bb, CN_BLOCK_PARAGRAPH, 0);
	/* locate the first word in the source */
	size_t w = i;
	while (w < n && w - i < 32 && !cn_ing_isspace((unsigned char)t[w]))
		w++;
	while (w > i && w < n && ((unsigned char)t[w] & 0xC0) == 0x80)
		w--; /* do not cut a UTF-8 sequence */
	if (w > i && s->pos < s->len) {
		size_t lim = CN_MIN(s->len, s->pos + SEARCH_WINDOW);
		const char *f = memmem(s->data + s->pos, lim - s->pos, t + i, w - i);
		if (f) {
			size_t at = (size_t)(f - s->data);
			size_t end = CN_MIN(s->len, at + (n - i));
			cn_bb_src(&s->bb, at, end);
			s->pos = end;
		}
	}
	if (s->pre_depth)
		cn_bb_put(&s->bb, t, n);
	else
		cn_bb_put_collapsed(&s->bb, t, n);
}

/* Returns whether to descend into the element. */
static bool enter(html_state *s, xmlNode *nd)
{
	if (nd->type == XML_TEXT_NODE || nd->type == XML_CDATA_SECTION_NODE) {
		if (nd->content)
			text_node(s, (const char *)nd->content);
		return false;
	}
	if (nd->type != XML_ELEMENT_NODE)
		return false;
	const char *n = (const char *)nd->name;
	if (!n)
		return false;
	if (!strcmp(n, "head"))
		find_title(s, nd);
	if (name_in(n, skipped, CN_ARRAY_LEN(skipped)))
		return false;
	int hl = heading_level(n);
	if (s->pre_depth) {
		if (!strcmp(n, "br"))
			cn_bb_put(&s->bb, "\n", 1);
		if (!strcmp(n, "pre"))
			s->pre_depth++;
		return true;
	}
	if (!strcmp(n, "pre")) {
		cn_bb_open(&s->bb, CN_BLOCK_CODE, 0);
		s->pre_depth++;
	} else if (!strcmp(n, "table")) {
		if (!s->table_depth++)
			cn_bb_open(&s->bb, CN_BLOCK_TABLE, 0);
	} else if (s->table_depth) {
		if (!strcmp(n, "tr")) {
			cn_bb_newline(&s->bb);
			s->cell = 0;
		} else if (!strcmp(n, "td") || !strcmp(n, "th")) {
			if (s->cell++ > 0)
				cn_bb_put(&s->bb, " | ", 3);
		} else {
			cn_bb_space(&s->bb);
		}
	} else if (hl) {
		if (in_cont(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_open(&s->bb, CN_BLOCK_HEADING, hl);
	} else if (!strcmp(n, "p")) {
		if (in_cont(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_open(&s->bb, CN_BLOCK_PARAGRAPH, 0);
	} else if (!strcmp(n, "ul") || !strcmp(n, "ol") || !strcmp(n, "dl") || !strcmp(n, "menu")) {
		if (!in_cont(s)) {
			cn_bb_open(&s->bb, CN_BLOCK_LIST, 0);
			s->cont = CN_BLOCK_LIST;
		}
		if (s->list_depth < MAX_LISTS) {
			s->lists[s->list_depth].ordered = n[0] == 'o';
			s->lists[s->list_depth].next = 1;
		}
		s->list_depth++;
	} else if (!strcmp(n, "li") || !strcmp(n, "dt") || !strcmp(n, "dd")) {
		if (!s->bb.open)
			cn_bb_open(&s->bb, CN_BLOCK_LIST, 0);
		cn_bb_newline(&s->bb);
		int d = CN_MIN(s->list_depth, MAX_LISTS) - 1;
		static const char spaces[] = "                ";
		cn_bb_put(&s->bb, spaces, (size_t)CN_MAX(0, CN_MIN(2 * d, 16)));
		if (!strcmp(n, "li")) {
			char m[16];
			int k;
			if (d >= 0 && s->lists[d].ordered)
				k = snprintf(m, sizeof m, "%u. ", s->lists[d].next++);
			else
				k = snprintf(m, sizeof m, "- ");
			cn_bb_put(&s->bb, m, (size_t)k);
		}
	} else if (!strcmp(n, "blockquote")) {
		if (!in_cont(s)) {
			cn_bb_open(&s->bb, CN_BLOCK_QUOTE, 0);
			s->cont = CN_BLOCK_QUOTE;
		} else {
			cn_bb_newline(&s->bb);
		}
		s->quote_depth++;
	} else if (!strcmp(n, "br")) {
		cn_bb_newline(&s->bb);
	} else if (name_in(n, boundary, CN_ARRAY_LEN(boundary))) {
		if (in_cont(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_flush(&s->bb);
	}
	return true;
}

static void leave(html_state *s, xmlNode *nd)
{
	if (nd->type != XML_ELEMENT_NODE || !nd->name)
		return;
	const char *n = (const char *)nd->name;
	if (!strcmp(n, "pre")) {
		if (s->pre_depth && !--s->pre_depth) {
			cn_bb_flush(&s->bb);
			if (s->table_depth)
				cn_bb_open(&s->bb, CN_BLOCK_TABLE, 0);
			else
				reopen(s);
		}
		return;
	}
	if (s->pre_depth)
		return;
	if (!strcmp(n, "table")) {
		if (s->table_depth && !--s->table_depth) {
			cn_bb_flush(&s->bb);
			reopen(s);
		}
		return;
	}
	if (s->table_depth) {
		if (!strcmp(n, "td") || !strcmp(n, "th"))
			cn_bb_space(&s->bb);
		return;
	}
	int hl = heading_level(n);
	if (hl || !strcmp(n, "p")) {
		if (in_cont(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_flush(&s->bb);
	} else if (!strcmp(n, "ul") || !strcmp(n, "ol") || !strcmp(n, "dl") || !strcmp(n, "menu")) {
		if (s->list_depth)
			s->list_depth--;
		if (!in_cont(s))
			cn_bb_flush(&s->bb);
	} else if (!strcmp(n, "blockquote")) {
		if (s->quote_depth)
			s->quote_depth--;
		if (!in_cont(s))
			cn_bb_flush(&s->bb);
	} else if (name_in(n, boundary, CN_ARRAY_LEN(boundary))) {
		if (in_cont(s))
			cn_bb_newline(&s->bb);
		else
			cn_bb_flush(&s->bb);
	}
}

cairn_status cn_parse_html(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err)
{
	if (len - off > (size_t)INT_MAX)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: HTML document larger than 2 GiB", path);
	size_t k = off;
	while (k < len && cn_ing_isspace((unsigned char)data[k]))
		k++;
	if (k == len)
		return CAIRN_OK; /* nothing to parse; libxml2 refuses empty input */
	htmlDocPtr doc = htmlReadMemory(data + off, (int)(len - off), path, "UTF-8",
					HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
						HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
	if (!doc)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: could not parse HTML", path);
	html_state s;
	memset(&s, 0, sizeof s);
	s.data = data;
	s.len = len;
	s.pos = off;
	cn_bb_init(&s.bb, d, len);
	xmlNode *nd = doc->children;
	while (nd && !s.bb.rc && !s.bb.buf.failed) {
		bool desc = enter(&s, nd);
		if (desc && nd->children) {
			nd = nd->children;
			continue;
		}
		if (desc)
			leave(&s, nd);
		while (nd && !nd->next) {
			nd = nd->parent;
			if (!nd || nd == (xmlNode *)doc) {
				nd = NULL;
				break;
			}
			leave(&s, nd);
		}
		if (nd)
			nd = nd->next;
	}
	cn_bb_flush(&s.bb);
	cairn_status rc = s.bb.rc ? s.bb.rc : s.bb.buf.failed ? CAIRN_ENOMEM : CAIRN_OK;
	cn_bb_free(&s.bb);
	if (!rc && s.title) {
		rc = cn_doc_set_title(d, s.title, s.title_len);
		if (!rc && !d->title)
			s.title = NULL;
	}
	if (!rc && !d->title)
		for (size_t i = 0; i < d->n_blocks; i++)
			if (d->blocks[i].kind == CN_BLOCK_HEADING && d->blocks[i].level == 1) {
				d->title = d->blocks[i].text;
				break;
			}
	if (s.title_alloc)
		xmlFree(s.title_alloc);
	xmlFreeDoc(doc);
	return rc;
}
