/*
 * ingest utilities: UTF-8 checks, HTML entities, the doc container, the block builder and the
 * cn_parse dispatcher.
 *
 * The UTF-8 code here is deliberately local (the text module is written concurrently); it is
 * strict (RFC 3629) and has an 8-bytes-at-a-time ASCII fast path because every ingested byte
 * passes through it. The block builder keeps the readers honest: it trims text, drops empty
 * blocks and clamps src ranges into [0, len], non-decreasing.
 */
#include "ingest/ingest_int.h"

#include <string.h>

/* ---- UTF-8 -------------------------------------------------------------------------- */

/* Length of the valid sequence at p (avail bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0;
	if (c < 0xE0) {
		if (avail < 2 || (p[1] & 0xC0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xF0) {
		if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && p[1] > 0x9F)
			return 0; /* surrogate */
		return 3;
	}
	if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
		return 0;
	if (c == 0xF0 && p[1] < 0x90)
		return 0; /* overlong */
	if (c == 0xF4 && p[1] > 0x8F)
		return 0; /* > U+10FFFF */
	return 4;
}

bool cn_ing_utf8_valid(const char *s, size_t n, size_t *bad, bool *nul)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	bool z = false;
	while (i < n) {
		if (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				/* has-zero-byte trick: any NUL among the 8 ASCII bytes */
				if ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)
					z = true;
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			if (!p[i])
				z = true;
			i++;
			continue;
		}
		size_t k = utf8_seq(p + i, n - i);
		if (!k) {
			if (bad)
				*bad = i;
			if (nul)
				*nul = z;
			return false;
		}
		i += k;
	}
	if (nul)
		*nul = z;
	return true;
}

size_t cn_ing_utf8_next(const char *s, size_t n, size_t i, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s + i;
	size_t k = utf8_seq(p, n - i);
	switch (k) {
	case 1: *cp = p[0]; return 1;
	case 2: *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F); return 2;
	case 3:
		*cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
		return 3;
	case 4:
		*cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
		      ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
		return 4;
	default: *cp = 0xFFFD; return 1;
	}
}

size_t cn_ing_utf8_put(uint32_t cp, char out[4])
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t cn_ing_bom(const char *data, size_t len)
{
	return len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
			       (unsigned char)data[2] == 0xBF
		       ? 3
		       : 0;
}

/* ---- entities ----------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
	{"apos", '\''},    {"nbsp", 0xA0},     {"copy", 0xA9},     {"reg", 0xAE},
	{"trade", 0x2122}, {"mdash", 0x2014},  {"ndash", 0x2013},  {"hellip", 0x2026},
	{"lsquo", 0x2018}, {"rsquo", 0x2019},  {"ldquo", 0x201C},  {"rdquo", 0x201D},
	{"laquo", 0xAB},   {"raquo", 0xBB},    {"euro", 0x20AC},   {"pound", 0xA3},
	{"yen", 0xA5},     {"cent", 0xA2},     {"sect", 0xA7},     {"deg", 0xB0},
	{"plusmn", 0xB1},  {"times", 0xD7},    {"divide", 0xF7},   {"middot", 0xB7},
	{"bull", 0x2022},  {"para", 0xB6},     {"shy", 0xAD},      {"eacute", 0xE9},
	{"egrave", 0xE8},  {"aacute", 0xE1},   {"agrave", 0xE0},   {"uuml", 0xFC},
	{"ouml", 0xF6},    {"auml", 0xE4},     {"szlig", 0xDF},    {"ccedil", 0xE7},
	{"ntilde", 0xF1},  {"larr", 0x2190},   {"rarr", 0x2192},   {"le", 0x2264},
	{"ge", 0x2265},    {"ne", 0x2260},     {"micro", 0xB5},    {"zwj", 0x200D},
	{"zwnj", 0x200C},  {"ensp", 0x2002},   {"emsp", 0x2003},   {"thinsp", 0x2009},
};

size_t cn_ing_entity(const char *s, size_t n, char out[8], size_t *outlen)
{
	if (n < 3 || s[0] != '&')
		return 0;
	size_t i = 1, lim = CN_MIN(n, (size_t)34);
	while (i < lim && s[i] != ';')
		i++;
	if (i >= lim || i == 1)
		return 0;
	const char *name = s + 1;
	size_t nl = i - 1;
	uint32_t cp = 0;
	if (name[0] == '#') {
		size_t j = 1;
		int base = 10;
		if (j < nl && (name[j] == 'x' || name[j] == 'X')) {
			base = 16;
			j++;
		}
		if (j >= nl)
			return 0;
		for (; j < nl; j++) {
			int c = (unsigned char)name[j], v;
			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (base == 16 && c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else if (base == 16 && c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else
				return 0;
			cp = cp * (uint32_t)base + (uint32_t)v;
			if (cp > 0x10FFFF)
				return 0;
		}
		if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
			cp = 0xFFFD;
	} else {
		size_t k;
		for (k = 0; k < CN_ARRAY_LEN(entities); k++)
			if (strlen(entities[k].name) == nl && !memcmp(entities[k].name, name, nl))
				break;
		if (k == CN_ARRAY_LEN(entities))
			return 0;
		cp = entities[k].cp;
	}
	*outlen = cn_ing_utf8_put(cp, out);
	return i + 1;
}

/* ---- doc ---------------------------------------------------------------------------- */

void cn_doc_init(cn_doc *d)
{
	memset(d, 0, sizeof *d);
	cn_arena_init(&d->arena, 64 * 1024);
}

void cn_doc_free(cn_doc *d)
{
	cn_free(d->blocks);
	cn_arena_free(&d->arena);
	memset(d, 0, sizeof *d);
	cn_arena_init(&d->arena, 64 * 1024);
}

cairn_status cn_doc_add_block(cn_doc *d, cn_block_kind kind, int level, const char *text,
			      size_t len, uint64_t src_start, uint64_t src_end)
{
	if (CN_GROW(d->blocks, d->cap_blocks, d->n_blocks + 1))
		return CAIRN_ENOMEM;
	char *t = cn_arena_strndup(&d->arena, text, len);
	if (!t)
		return CAIRN_ENOMEM;
	cn_block *b = &d->blocks[d->n_blocks++];
	b->kind = kind;
	b->level = kind == CN_BLOCK_HEADING ? level : 0;
	b->text = t;
	b->len = len;
	b->src_start = src_start;
	b->src_end = src_end;
	return CAIRN_OK;
}

cairn_status cn_doc_set_title(cn_doc *d, const char *s, size_t n)
{
	char *t = cn_arena_alloc(&d->arena, CN_MIN(n, (size_t)300) + 1);
	if (!t)
		return CAIRN_ENOMEM;
	size_t o = 0;
	bool sp = false;
	for (size_t i = 0; i < n && o < 300; i++) {
		unsigned char c = (unsigned char)s[i];
		if (cn_ing_isspace(c)) {
			sp = o > 0;
			continue;
		}
		if (sp) {
			t[o++] = ' ';
			sp = false;
			if (o >= 300)
				break;
		}
		t[o++] = (char)c;
	}
	/* never end inside a UTF-8 sequence */
	if (o == 300) {
		size_t k = o;
		while (k > 0 && ((unsigned char)t[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0 && (unsigned char)t[k - 1] >= 0xC0)
			o = k - 1;
	}
	t[o] = '\0';
	d->title = o ? t : NULL;
	return CAIRN_OK;
}

/* ---- block builder ------------------------------------------------------------------ */

void cn_bb_init(cn_bb *b, cn_doc *doc, uint64_t src_len)
{
	memset(b, 0, sizeof *b);
	b->doc = doc;
	b->src_len = src_len;
	cn_buf_init(&b->buf);
}

void cn_bb_free(cn_bb *b) { cn_buf_free(&b->buf); }

void cn_bb_open(cn_bb *b, cn_block_kind kind, int level)
{
	if (b->open)
		cn_bb_flush(b);
	b->open = true;
	b->kind = kind;
	b->level = level;
	b->space = false;
	b->has_src = false;
	cn_buf_reset(&b->buf);
}

void cn_bb_flush(cn_bb *b)
{
	if (!b->open)
		return;
	b->open = false;
	if (b->buf.failed && !b->rc)
		b->rc = CAIRN_ENOMEM;
	if (b->rc) {
		cn_buf_reset(&b->buf);
		return;
	}
	const char *s = b->buf.data ? b->buf.data : "";
	size_t n = b->buf.len, i = 0;
	if (b->kind == CN_BLOCK_CODE) {
		/* keep indentation: drop leading blank lines only */
		size_t ls = 0;
		for (size_t k = 0; k < n; k++) {
			if (s[k] == '\n')
				ls = k + 1;
			else if (!cn_ing_isspace((unsigned char)s[k]))
				break;
		}
		i = ls;
	} else {
		while (i < n && cn_ing_isspace((unsigned char)s[i]))
			i++;
	}
	while (n > i && cn_ing_isspace((unsigned char)s[n - 1]))
		n--;
	if (n > i) {
		uint64_t st = b->has_src ? b->start : b->prev_end;
		uint64_t en = b->has_src ? b->end : b->prev_end;
		st = CN_MIN(CN_MAX(st, b->prev_start), b->src_len);
		en = CN_MIN(CN_MAX(CN_MAX(en, st), b->prev_end), b->src_len);
		if (cn_doc_add_block(b->doc, b->kind, b->level, s + i, n - i, st, en))
			b->rc = CAIRN_ENOMEM;
		b->prev_start = st;
		b->prev_end = en;
	}
	cn_buf_reset(&b->buf);
}

void cn_bb_put(cn_bb *b, const char *s, size_t n)
{
	if (!n)
		return;
	if (b->space) {
		b->space = false;
		if (!cn_ing_isspace((unsigned char)s[0]) && b->buf.len && b->buf.data[b->buf.len - 1] != '\n' && b->buf.data[b->buf.len - 1] != ' ')
			cn_buf_putc(&b->buf, ' ');
	}
	cn_buf_append(&b->buf, s, n);
}

void cn_bb_put_collapsed(cn_bb *b, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && !cn_ing_isspace((unsigned char)s[j]))
			j++;
		if (j > i)
			cn_bb_put(b, s + i, j - i);
		if (j < n) {
			b->space = true;
			while (j < n && cn_ing_isspace((unsigned char)s[j]))
				j++;
		}
		i = j;
	}
}

void cn_bb_space(cn_bb *b) { b->space = true; }

void cn_bb_newline(cn_bb *b)
{
	b->space = false;
	if (b->buf.len && b->buf.data[b->buf.len - 1] != '\n')
		cn_buf_putc(&b->buf, '\n');
}

void cn_bb_src(cn_bb *b, uint64_t start, uint64_t end)
{
	if (!b->open)
		return;
	if (!b->has_src) {
		b->has_src = true;
		b->start = start;
		b->end = end;
	} else if (end > b->end) {
		b->end = end;
	}
}

/* ---- dispatch ----------------------------------------------------------------------- */

cairn_status cn_parse(cn_format fmt, const char *lang, const char *path, const char *data,
		      size_t len, cn_doc *out, cn_err *err)
{
	if (!path)
		path = "(input)";
	if (!data && len)
		return cn_err_set(err, CAIRN_EINVAL, "%s: no data", path);
	if (len > (size_t)UINT32_MAX - 1)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: document larger than 4 GiB", path);
	if (!data)
		data = "";
	size_t bad;
	bool nul = false;
	bool ok = cn_ing_utf8_valid(data, len, &bad, &nul);
	if (nul) /* block texts are C strings too */
		return cn_err_set(err, CAIRN_EFORMAT, "%s: binary file", path);
	if (!ok)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
	size_t off = cn_ing_bom(data, len);
	out->format = fmt;
	out->lang = NULL;
	cairn_status rc;
	switch (fmt) {
	case CN_FMT_MARKDOWN: rc = cn_parse_markdown(path, data, len, off, out, err); break;
	case CN_FMT_HTML: rc = cn_parse_html(path, data, len, off, out, err); break;
	case CN_FMT_TEXT: rc = cn_parse_text(path, data, len, off, out, err); break;
	case CN_FMT_CODE:
		out->lang = lang;
		rc = cn_parse_code(path, data, len, off, out, err);
		break;
	default:
		return cn_err_set(err, CAIRN_EINVAL, "%s: cannot parse format '%s' into blocks", path,
				  cn_format_name(fmt));
	}
	if (rc == CAIRN_ENOMEM)
		cn_err_set(err, rc, "%s: out of memory while parsing", path);
	return rc;
}
