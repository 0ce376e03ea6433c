/*
 * The chunker: blocks → units → chunks, in three linear passes.
 *
 *  1. Units. Each block becomes one unit, except a block over max_tokens, which is cut into
 *     pieces near an even share of the block (k = ceil(tokens / target) pieces): tables, code
 *     and lists at line boundaries; other text at sentence boundaries, then words, then (only
 *     for a "word" longer than the budget, e.g. a base64 blob) every ~32 bytes at UTF-8
 *     boundaries. Pieces of a table repeat its header row. Table and code pieces are "forced":
 *     each becomes a chunk of its own.
 *  2. Packing. Units are added to the current chunk while that keeps it nearest target_tokens
 *     and within max_tokens; a heading of level 1–2 closes the chunk once it has min_tokens,
 *     a deeper heading does so when its section would push the chunk past target. Headings
 *     left dangling at the end of a chunk move to the next one.
 *  3. Materialising. The heading stack gives the chunk's heading path; the text is the units
 *     joined (blank lines between blocks); overlap — the last ~overlap_pct% of the previous
 *     chunk's own text, cut at sentence/line boundaries (word boundaries as a last resort) —
 *     is prepended unless the chunk starts a new heading section or either side is table/code.
 *
 * Token counts come from the caller's counter (a model tokenizer) or cn_estimate_tokens. The
 * per-unit counts are summed as if additive, which the estimate is for whitespace-joined text;
 * the final n_tokens is always counted on the finished text. Overlap search looks only at the
 * last ~16 bytes per wanted token of the previous chunk, so every byte is counted a bounded
 * number of times whatever the input.
 */
#include "ingest/ingest_int.h"

#include <string.h>

enum { SEG_LINE, SEG_SENT, SEG_WORD, SEG_CHAR };

#define U_HEADING 1u
#define U_LABEL 2u
#define U_FORCED 4u
#define U_NOOVL 8u
#define U_CONT 16u

typedef struct unit {
	const char *text;
	size_t len;
	const char *prefix; /* repeated table header row, or NULL */
	size_t plen;
	size_t tokens;
	size_t sect_tokens; /* headings: tokens up to the next heading */
	uint64_t src_start, src_end;
	uint32_t section;
	uint8_t level, flags;
	char joiner; /* before this unit: 0 = blank line, '\n', ' ', 'x' = nothing */
} unit;

typedef struct seg {
	size_t off, tokens;
} seg;

typedef struct chunker {
	const cn_doc *doc;
	cn_chunk_params p;
	cn_chunks *out;
	size_t (*count)(const char *, size_t, void *);
	void *ud;
	unit *u;
	size_t nu, cu;
	seg *sg;
	size_t nsg, csg;
	const char *hs[7];
	size_t hl[7];
	size_t hs_pos;
	bool have_prev, prev_noovl;
	const char *prev_own;
	size_t prev_own_len, prev_own_tokens;
	uint32_t prev_section;
	uint64_t last_start, last_end;
	bool code_doc;
	size_t jt; /* tokens of the blank line joining two blocks (0 for the estimate) */
	cn_buf path;
	cn_buf secs; /* sections of the chunk being closed */
} chunker;

static size_t builtin_count(const char *s, size_t n, void *ud)
{
	(void)ud;
	return cn_estimate_tokens(s, n);
}

static size_t ntok(const chunker *ch, const char *s, size_t n)
{
	return n ? ch->count(s, n, ch->ud) : 0;
}

cn_chunk_params cn_chunk_default_params(void)
{
	cn_chunk_params p;
	memset(&p, 0, sizeof p);
	p.target_tokens = 512;
	p.min_tokens = 300;
	p.max_tokens = 800;
	p.overlap_pct = 15;
	return p;
}

void cn_chunks_init(cn_chunks *c)
{
	memset(c, 0, sizeof *c);
	cn_arena_init(&c->arena, 256 * 1024);
}

void cn_chunks_free(cn_chunks *c)
{
	cn_free(c->v);
	cn_arena_free(&c->arena);
	cn_chunks_init(c);
}

/* ---- token estimate ----------------------------------------------------------------- */

static bool is_cjk(uint32_t cp)
{
	return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	       (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0x1100 && cp <= 0x11FF) ||
	       (cp >= 0x20000 && cp <= 0x2FFFF);
}

/* Non-ASCII code points that behave like letters (Latin-1 letters … Cyrillic, Greek, Arabic,
 * Hebrew, Devanagari…); symbols, punctuation blocks, CJK and emoji do not. */
static bool is_wordish(uint32_t cp)
{
	if (cp < 0xC0)
		return false; /* Latin-1 punctuation, NBSP */
	if (cp == 0xD7 || cp == 0xF7)
		return false;
	if (cp >= 0x2000 && cp <= 0x2BFF)
		return false; /* general punctuation, symbols, arrows, math */
	if (cp >= 0x3000 && cp <= 0x303F)
		return false; /* CJK punctuation */
	if (cp >= 0xFF00 && cp <= 0xFFEF)
		return false; /* full-width forms */
	if (cp >= 0x1F000)
		return false; /* emoji and pictographs */
	return !is_cjk(cp);
}

/* Byte classes for the ASCII fast path: 0 space/control, 1 word, 2 punctuation, 3 non-ASCII. */
static const uint8_t tok_class[256] = {
	['!'] = 2, ['"'] = 2, ['#'] = 2, ['$'] = 2, ['%'] = 2, ['&'] = 2, ['\''] = 2, ['('] = 2,
	[')'] = 2, ['*'] = 2, ['+'] = 2, [','] = 2, ['-'] = 2, ['.'] = 2, ['/'] = 2, [':'] = 2,
	[';'] = 2, ['<'] = 2, ['='] = 2, ['>'] = 2, ['?'] = 2, ['@'] = 2, ['['] = 2, ['\\'] = 2,
	[']'] = 2, ['^'] = 2, ['`'] = 2, ['{'] = 2, ['|'] = 2, ['}'] = 2, ['~'] = 2, [127] = 2,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['_'] = 1, [0x80 ... 0xFF] = 3,
};

size_t cn_estimate_tokens(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0, i = 0;
	size_t ascii = 0, wide = 0; /* current word: ASCII chars, non-ASCII code points */
	while (i < len) {
		unsigned cls = tok_class[s[i]];
		if (cls == 1) {
			size_t j = i + 1;
			while (j < len && tok_class[s[j]] == 1)
				j++;
			ascii += j - i;
			i = j;
			continue;
		}
		if (cls != 3) {
			if (ascii || wide) {
				n += (ascii + 5) / 6 + (wide + 2) / 3;
				ascii = wide = 0;
			}
			n += cls == 2; /* punctuation / symbol */
			i++;
			continue;
		}
		uint32_t cp;
		i += cn_ing_utf8_next(text, len, i, &cp);
		if (is_wordish(cp)) {
			wide++;
			continue;
		}
		if (ascii || wide) {
			n += (ascii + 5) / 6 + (wide + 2) / 3;
			ascii = wide = 0;
		}
		if (cp != 0xA0)
			n++; /* CJK character, symbol, emoji */
	}
	if (ascii || wide)
		n += (ascii + 5) / 6 + (wide + 2) / 3;
	return n;
}

/* ---- segmentation ------------------------------------------------------------------- */

static size_t skip_spaces(const char *t, size_t n, size_t j)
{
	while (j < n && cn_ing_isspace((unsigned char)t[j]))
		j++;
	return j;
}

/* End of the segment of the given level that starts at i (trailing whitespace included). */
static size_t seg_end(const char *t, size_t n, size_t i, int level)
{
	const unsigned char *u = (const unsigned char *)t;
	switch (level) {
	case SEG_LINE: {
		const char *nl = memchr(t + i, '\n', n - i);
		return nl ? (size_t)(nl - t) + 1 : n;
	}
	case SEG_SENT:
		for (; i < n; i++) {
			unsigned c = u[i];
			if (c == '\n')
				return skip_spaces(t, n, i + 1);
			if (c == '.' || c == '!' || c == '?') {
				size_t j = i + 1;
				for (;;) {
					if (j < n && (u[j] == ')' || u[j] == ']' || u[j] == '"' || u[j] == '\''))
						j++;
					else if (j + 2 < n && u[j] == 0xE2 && u[j + 1] == 0x80 &&
						 (u[j + 2] == 0x99 || u[j + 2] == 0x9D))
						j += 3;
					else
						break;
				}
				if (j >= n)
					return n;
				if (cn_ing_isspace(u[j]))
					return skip_spaces(t, n, j);
				i = j - 1;
				continue;
			}
			/* 。！？ end a sentence without a following space */
			if (c == 0xE3 && i + 2 < n && u[i + 1] == 0x80 && u[i + 2] == 0x82)
				return skip_spaces(t, n, i + 3);
			if (c == 0xEF && i + 2 < n && u[i + 1] == 0xBC && (u[i + 2] == 0x81 || u[i + 2] == 0x9F))
				return skip_spaces(t, n, i + 3);
		}
		return n;
	case SEG_WORD:
		while (i < n && !cn_ing_isspace(u[i]))
			i++;
		return skip_spaces(t, n, i);
	default: {
		size_t j = CN_MIN(n, i + 32);
		while (j < n && (u[j] & 0xC0) == 0x80)
			j++;
		return j;
	}
	}
}

/* ---- pass 1: units ------------------------------------------------------------------ */

static cairn_status push_unit(chunker *ch, const unit *u)
{
	if (CN_GROW(ch->u, ch->cu, ch->nu + 1))
		return CAIRN_ENOMEM;
	ch->u[ch->nu++] = *u;
	return CAIRN_OK;
}

static uint64_t interp(const cn_block *b, size_t off)
{
	if (!b->len || b->src_end <= b->src_start)
		return b->src_start;
	uint64_t span = b->src_end - b->src_start;
	if (span == b->len)
		return b->src_start + off; /* verbatim text: exact */
	return b->src_start + (uint64_t)((unsigned __int128)off * span / b->len);
}

typedef struct splitter {
	chunker *ch;
	const cn_block *b;
	const char *hdr;
	size_t hlen, ht;
	size_t budget, goal;
	size_t ps, pe, pt;
	bool have, first, lines;
	bool charcut; /* the piece holds segments cut inside a word: its sum is not exact */
	uint8_t flags;
	uint32_t section;
} splitter;

static cairn_status piece_flush(splitter *sp)
{
	if (!sp->have)
		return CAIRN_OK;
	sp->have = false;
	bool cut = sp->charcut;
	sp->charcut = false;
	const char *t = sp->b->text;
	size_t s = sp->ps, e = sp->pe, tokens = sp->pt;
	sp->pt = 0;
	if (sp->lines) {
		size_t k = s;
		while (k < e && cn_ing_isspace((unsigned char)t[k])) {
			k++;
			if (t[k - 1] == '\n')
				s = k;
		}
	} else {
		s = skip_spaces(t, e, s);
	}
	while (e > s && cn_ing_isspace((unsigned char)t[e - 1]))
		e--;
	if (s >= e)
		return CAIRN_OK;
	if (cut)
		tokens = ntok(sp->ch, t + s, e - s);
	unit u;
	memset(&u, 0, sizeof u);
	u.text = t + s;
	u.len = e - s;
	u.tokens = tokens;
	if (sp->hdr && !sp->first) {
		u.prefix = sp->hdr;
		u.plen = sp->hlen;
		u.tokens += sp->ht;
	}
	u.src_start = interp(sp->b, s);
	u.src_end = interp(sp->b, e);
	u.section = sp->section;
	u.flags = sp->flags;
	if (sp->first) {
		u.joiner = 0;
	} else {
		u.flags |= U_CONT;
		u.joiner = s == 0 ? 'x' : t[s - 1] == '\n' ? '\n' : cn_ing_isspace((unsigned char)t[s - 1]) ? ' ' : 'x';
	}
	sp->first = false;
	return push_unit(sp->ch, &u);
}

/* Greedy packing of segments into pieces; a segment over the budget is cut finer. The
 * recursion is bounded by the four segment levels. */
static cairn_status split_range(splitter *sp, size_t s, size_t e, int level)
{
	const char *t = sp->b->text;
	size_t i = s;
	while (i < e) {
		size_t j = seg_end(t, e, i, level);
		if (j <= i)
			j = i + 1;
		size_t tk = ntok(sp->ch, t + i, j - i);
		if (tk > sp->budget && level < SEG_CHAR) {
			cairn_status rc = split_range(sp, i, j, level + 1);
			if (rc)
				return rc;
		} else {
			size_t nt = sp->pt + tk;
			bool over = nt > sp->budget ||
				    (nt > sp->goal && (sp->pt >= sp->goal || nt - sp->goal > sp->goal - sp->pt));
			if (sp->have && over) {
				cairn_status rc = piece_flush(sp);
				if (rc)
					return rc;
			}
			if (!sp->have) {
				sp->have = true;
				sp->ps = i;
				sp->pt = 0;
			}
			sp->pe = j;
			sp->pt += tk;
			sp->charcut |= level == SEG_CHAR;
		}
		i = j;
	}
	return CAIRN_OK;
}

/* lead: tokens of the heading(s) that will share the first piece's chunk. */
static cairn_status split_block(chunker *ch, const cn_block *b, size_t tokens, size_t lead, uint32_t section)
{
	splitter sp;
	memset(&sp, 0, sizeof sp);
	sp.ch = ch;
	sp.b = b;
	sp.first = true;
	sp.section = section;
	size_t max = (size_t)ch->p.max_tokens, target = (size_t)ch->p.target_tokens;
	bool rows = b->kind == CN_BLOCK_TABLE || b->kind == CN_BLOCK_CODE;
	sp.lines = rows || b->kind == CN_BLOCK_LIST;
	sp.flags = rows ? (U_FORCED | U_NOOVL) : 0;
	if (b->kind == CN_BLOCK_TABLE) {
		const char *nl = memchr(b->text, '\n', b->len);
		if (nl) {
			sp.hdr = b->text;
			sp.hlen = (size_t)(nl - b->text);
			sp.ht = ntok(ch, sp.hdr, sp.hlen);
			if (sp.ht * 2 > max) {
				sp.hdr = NULL;
				sp.hlen = sp.ht = 0;
			}
		}
	}
	sp.budget = max - sp.ht - CN_MIN(lead, max - sp.ht - 1);
	size_t k = (tokens + target - 1) / target;
	sp.goal = CN_MIN((tokens + k - 1) / k, sp.budget);
	if (!sp.goal)
		sp.goal = 1;
	cairn_status rc = split_range(&sp, 0, b->len, sp.lines ? SEG_LINE : SEG_SENT);
	if (!rc)
		rc = piece_flush(&sp);
	return rc;
}

static cairn_status build_units(chunker *ch)
{
	const cn_doc *d = ch->doc;
	uint32_t section = 0;
	size_t max = (size_t)ch->p.max_tokens;
	size_t lead = 0; /* tokens of the headings just before: they go in the next block's chunk */
	for (size_t i = 0; i < d->n_blocks; i++) {
		const cn_block *b = &d->blocks[i];
		if (!b->text || !b->len)
			continue;
		unit u;
		memset(&u, 0, sizeof u);
		u.text = b->text;
		u.len = b->len;
		u.src_start = b->src_start;
		u.src_end = CN_MAX(b->src_end, b->src_start);
		/* A "heading" longer than a quarter of the maximum is prose set in a heading (or a
		 * hostile input): it is chunked as a paragraph, so it can be split like one and a
		 * chunk never exceeds max because a heading must stay with the block after it. */
		bool heading = b->kind == CN_BLOCK_HEADING &&
		               (ch->code_doc || ntok(ch, b->text, b->len) <= CN_MAX(max / 4, (size_t)1));
		if (heading) {
			section++;
			u.flags = U_HEADING | (ch->code_doc ? U_LABEL : 0);
			u.level = (uint8_t)CN_MIN(CN_MAX(b->level, 1), 6);
			u.tokens = ch->code_doc ? 0 : ntok(ch, b->text, b->len);
			u.section = section;
			lead += u.tokens + ch->jt;
			cairn_status rc = push_unit(ch, &u);
			if (rc)
				return rc;
			continue;
		}
		size_t t = ntok(ch, b->text, b->len);
		u.section = section;
		size_t l = lead;
		lead = 0;
		if (t + l <= max) {
			u.tokens = t;
			u.flags = b->kind == CN_BLOCK_TABLE || b->kind == CN_BLOCK_CODE ? U_NOOVL : 0;
			cairn_status rc = push_unit(ch, &u);
			if (rc)
				return rc;
		} else {
			cairn_status rc = split_block(ch, b, t, l, section);
			if (rc)
				return rc;
		}
	}
	size_t acc = 0;
	for (size_t i = ch->nu; i-- > 0;) {
		acc += ch->u[i].tokens;
		if (ch->u[i].flags & U_HEADING) {
			ch->u[i].sect_tokens = acc;
			acc = 0;
		}
	}
	return CAIRN_OK;
}

/* ---- pass 3: materialise ------------------------------------------------------------ */

static size_t joiner_len(char j) { return j == 0 ? 2 : j == 'x' ? 0 : 1; }

static char *put_joiner(char *o, char j)
{
	if (j == 0) {
		*o++ = '\n';
		*o++ = '\n';
	} else if (j != 'x') {
		*o++ = j;
	}
	return o;
}

static void apply_heading(chunker *ch, const unit *u)
{
	int L = u->level;
	ch->hs[L] = u->text;
	ch->hl[L] = u->len;
	for (int k = L + 1; k <= 6; k++)
		ch->hs[k] = NULL;
}

/* Appends the path of a heading stack to b, " > " joined, control white space flattened. */
static void append_path(cn_buf *b, const char *const *hs, const size_t *hl)
{
	size_t from = b->len;
	for (int k = 1; k <= 6; k++) {
		if (!hs[k])
			continue;
		if (b->len > from)
			cn_buf_append(b, " > ", 3);
		size_t st = b->len;
		cn_buf_append(b, hs[k], hl[k]);
		if (b->failed)
			return;
		for (size_t i = st; i < b->len; i++)
			if (b->data[i] == '\n' || b->data[i] == '\r' || b->data[i] == '\t')
				b->data[i] = ' ';
	}
}

static char *heading_path(chunker *ch)
{
	cn_buf_reset(&ch->path);
	append_path(&ch->path, ch->hs, ch->hl);
	if (ch->path.failed)
		return NULL;
	return cn_arena_strndup(&ch->out->arena, ch->path.data ? ch->path.data : "", ch->path.len);
}

static cairn_status push_seg(chunker *ch, size_t off, size_t tokens)
{
	if (CN_GROW(ch->sg, ch->csg, ch->nsg + 1))
		return CAIRN_ENOMEM;
	ch->sg[ch->nsg].off = off;
	ch->sg[ch->nsg].tokens = tokens;
	ch->nsg++;
	return CAIRN_OK;
}

/* Walks segments back from the end: the earliest start whose suffix reaches want tokens
 * without passing hi. Returns n when even the last segment is too big. */
static size_t pick_suffix(const chunker *ch, size_t n, size_t want, size_t hi)
{
	size_t sum = 0, start = n;
	for (size_t j = ch->nsg; j-- > 0;) {
		if (sum + ch->sg[j].tokens > hi)
			break;
		sum += ch->sg[j].tokens;
		start = ch->sg[j].off;
		if (sum >= want)
			break;
	}
	return start;
}

/* Start offset of the overlap in the previous chunk's own text (== len: none). */
static cairn_status overlap_start(chunker *ch, size_t cap, size_t *out)
{
	const char *t = ch->prev_own;
	size_t n = ch->prev_own_len;
	*out = n;
	size_t want = ch->prev_own_tokens * (size_t)ch->p.overlap_pct / 100;
	size_t hi = CN_MIN(2 * want, cap);
	if (!want || !hi || !n)
		return CAIRN_OK;
	size_t span = want > SIZE_MAX / 8 ? n : want * 8; /* ≥ 8 bytes per token: ample for text */
	size_t ws = n > span ? n - span : 0, i = ws;
	ch->nsg = 0;
	bool partial = ws > 0;
	while (i < n) {
		size_t j = seg_end(t, n, i, SEG_SENT);
		if (!partial) {
			cairn_status rc = push_seg(ch, i, ntok(ch, t + i, j - i));
			if (rc)
				return rc;
		}
		partial = false;
		i = j;
	}
	size_t start = pick_suffix(ch, n, want, hi);
	if (start == n) {
		/* last resort: words of the last sentence */
		size_t ls = ch->nsg ? ch->sg[ch->nsg - 1].off : ws;
		bool skip_first = !ch->nsg && ws > 0;
		ch->nsg = 0;
		for (i = ls; i < n;) {
			size_t j = seg_end(t, n, i, SEG_WORD);
			if (!skip_first) {
				cairn_status rc = push_seg(ch, i, ntok(ch, t + i, j - i));
				if (rc)
					return rc;
			}
			skip_first = false;
			i = j;
		}
		start = pick_suffix(ch, n, want, hi);
	}
	*out = skip_spaces(t, n, start);
	return CAIRN_OK;
}

static cairn_status emit(chunker *ch, const char *text, size_t len, size_t nt, char *heading,
			 char *sections, uint64_t ss, uint64_t se)
{
	cn_chunks *o = ch->out;
	if (CN_GROW(o->v, o->cap, o->n + 1))
		return CAIRN_ENOMEM;
	ss = CN_MAX(ss, ch->last_start);
	se = CN_MAX(CN_MAX(se, ss), ch->last_end);
	ch->last_start = ss;
	ch->last_end = se;
	cn_chunk *c = &o->v[o->n++];
	c->text = (char *)text;
	c->len = len;
	c->heading = heading;
	c->sections = sections;
	c->src_start = ss;
	c->src_end = se;
	c->n_tokens = nt > UINT32_MAX ? UINT32_MAX : (uint32_t)nt;
	c->simhash = ch->p.skip_simhash ? 0 : cn_simhash(text, len);
	return CAIRN_OK;
}

static cairn_status close_chunk(chunker *ch, size_t a, size_t b)
{
	if (a >= b)
		return CAIRN_OK;
	/* heading path: the headings up to the chunk's first non-heading unit */
	size_t upto = a;
	while (upto + 1 < b && (ch->u[upto].flags & U_HEADING))
		upto++;
	while (ch->hs_pos <= upto) {
		if (ch->u[ch->hs_pos].flags & U_HEADING)
			apply_heading(ch, &ch->u[ch->hs_pos]);
		ch->hs_pos++;
	}
	size_t own = 0, own_tok = 0, f = SIZE_MAX;
	for (size_t k = a; k < b; k++) {
		const unit *u = &ch->u[k];
		if (u->flags & U_LABEL)
			continue;
		if (f != SIZE_MAX) {
			own += joiner_len(u->joiner);
			own_tok += ch->jt;
		} else {
			f = k;
		}
		own += (u->plen ? u->plen + 1 : 0) + u->len;
		own_tok += u->tokens;
	}
	if (f == SIZE_MAX)
		return CAIRN_OK; /* labels only */
	const unit *fu = &ch->u[f];
	size_t ovs = 0, ovl = 0, jl = 0;
	char jch = 0;
	if (ch->have_prev && ch->p.overlap_pct > 0 && !ch->prev_noovl &&
	    !(ch->u[a].flags & U_HEADING) && !(fu->flags & (U_NOOVL | U_HEADING)) &&
	    ch->prev_section == ch->u[a].section) {
		size_t used = own_tok + ch->jt;
		size_t cap = used < (size_t)ch->p.max_tokens ? (size_t)ch->p.max_tokens - used : 0;
		cairn_status rc = overlap_start(ch, cap, &ovs);
		if (rc)
			return rc;
		ovl = ch->prev_own_len - ovs;
		if (ovl) {
			jch = (fu->flags & U_CONT) ? fu->joiner : 0;
			if (jch == 'x')
				jch = ' ';
			jl = joiner_len(jch);
		}
	}
	size_t total = ovl + jl + own;
	char *t = cn_arena_alloc(&ch->out->arena, total + 1);
	if (!t)
		return CAIRN_ENOMEM;
	char *o = t;
	if (ovl) {
		memcpy(o, ch->prev_own + ovs, ovl);
		o = put_joiner(o + ovl, jch);
	}
	char *own_at = o;
	uint64_t ss = fu->src_start, se = fu->src_end;
	/* Sections that start inside this chunk, with their paths from a scratch copy of the
	 * heading stack (the real one advances only as chunks close). */
	const char *ths[7];
	size_t thl[7];
	memcpy(ths, ch->hs, sizeof ths);
	memcpy(thl, ch->hl, sizeof thl);
	cn_buf_reset(&ch->secs);
	for (size_t k = f; k < b; k++) {
		const unit *u = &ch->u[k];
		if (k > upto && (u->flags & U_HEADING)) {
			int L = u->level;
			ths[L] = u->text;
			thl[L] = u->len;
			for (int m = L + 1; m <= 6; m++)
				ths[m] = NULL;
			cn_buf_printf(&ch->secs, "%zu\t", (size_t)(o - t));
			append_path(&ch->secs, ths, thl);
			cn_buf_putc(&ch->secs, '\n');
		}
		if (u->flags & U_LABEL)
			continue;
		if (k != f)
			o = put_joiner(o, u->joiner);
		if (u->plen) {
			memcpy(o, u->prefix, u->plen);
			o += u->plen;
			*o++ = '\n';
		}
		memcpy(o, u->text, u->len);
		o += u->len;
		se = CN_MAX(se, u->src_end);
	}
	*o = '\0';
	if (ch->u[a].flags & U_LABEL)
		ss = CN_MIN(ss, ch->u[a].src_start);
	char *heading = heading_path(ch);
	if (!heading)
		return CAIRN_ENOMEM;
	/* The estimate is additive over whitespace joins, so only a chunk holding a piece cut
	 * inside a word (joiner 'x') or a caller's counter needs a fresh count. */
	bool additive = ch->count == builtin_count;
	for (size_t k = f + 1; k < b && additive; k++)
		additive = ch->u[k].joiner != 'x' || (ch->u[k].flags & U_LABEL);
	size_t nt = additive ? own_tok + (ovl ? ntok(ch, t, ovl) : 0) : ntok(ch, t, total);
	if (ovl && nt > (size_t)ch->p.max_tokens) {
		/* a non-additive counter pushed it over: drop the overlap */
		t = own_at;
		total = own;
		nt = ntok(ch, t, total);
	}
	char *sections = NULL;
	if (ch->secs.failed)
		return CAIRN_ENOMEM;
	if (ch->secs.len && !(sections = cn_arena_strndup(&ch->out->arena, ch->secs.data, ch->secs.len)))
		return CAIRN_ENOMEM;
	cairn_status rc = emit(ch, t, total, nt, heading, sections, ss, se);
	if (rc)
		return rc;
	ch->have_prev = true;
	ch->prev_own = own_at;
	ch->prev_own_len = own;
	ch->prev_own_tokens = own_tok;
	ch->prev_section = ch->u[b - 1].section;
	ch->prev_noovl = (ch->u[b - 1].flags & U_NOOVL) != 0;
	return CAIRN_OK;
}

/* ---- pass 2: packing ---------------------------------------------------------------- */

static cairn_status pack(chunker *ch)
{
	size_t max = (size_t)ch->p.max_tokens, min = (size_t)ch->p.min_tokens,
	       target = (size_t)ch->p.target_tokens;
	size_t a = 0, ct = 0;
	/* room kept for the overlap the current chunk will get (the previous chunk's tail) */
	size_t reserve = 0;
	cairn_status rc = CAIRN_OK;
	for (size_t i = 0; i < ch->nu && !rc; i++) {
		const unit *u = &ch->u[i];
		if (u->flags & U_FORCED) {
			size_t j = i, htok = 0;
			while (j > a && (ch->u[j - 1].flags & U_HEADING))
				htok += ch->u[--j].tokens;
			if (htok + (i - j) * ch->jt + u->tokens > max)
				j = i;
			rc = close_chunk(ch, a, j);
			if (!rc)
				rc = close_chunk(ch, j, i + 1);
			a = i + 1;
			ct = 0;
			reserve = 0;
			continue;
		}
		if (a == i) {
			ct = u->tokens;
			continue;
		}
		size_t nt = ct + ch->jt + u->tokens;
		size_t lim = max - CN_MIN(reserve, max - target);
		bool brk;
		if (u->flags & U_HEADING) {
			if (u->level <= 2)
				brk = ct >= min;
			else
				brk = ct >= min && ct + u->sect_tokens > target;
			if (nt > max)
				brk = true;
		} else if (nt <= target) {
			brk = false;
		} else if (nt > lim) {
			brk = true;
		} else if (ct < min) {
			brk = false;
		} else {
			brk = nt - target > target - ct;
		}
		if (!brk) {
			ct = nt;
			continue;
		}
		size_t j = i, htok = 0;
		while (j > a && (ch->u[j - 1].flags & U_HEADING))
			htok += ch->u[--j].tokens;
		if (j == a) {
			if (nt <= max) { /* only headings so far: keep them with what follows */
				ct = nt;
				continue;
			}
			j = i;
			htok = 0;
		}
		rc = close_chunk(ch, a, j);
		ct = htok + (i - j) * ch->jt + u->tokens;
		a = j;
		reserve = (ch->u[a].flags & (U_HEADING | U_NOOVL)) || ch->prev_noovl
				  ? 0
				  : ch->prev_own_tokens * (size_t)ch->p.overlap_pct / 100 + ch->jt;
	}
	if (!rc && a < ch->nu)
		rc = close_chunk(ch, a, ch->nu);
	return rc;
}

static cairn_status whole(chunker *ch)
{
	const cn_doc *d = ch->doc;
	size_t total = 0, n = 0;
	for (size_t i = 0; i < d->n_blocks; i++) {
		const cn_block *b = &d->blocks[i];
		if (!b->len || (ch->code_doc && b->kind == CN_BLOCK_HEADING))
			continue;
		total += (n++ ? 2 : 0) + b->len;
	}
	if (!n)
		return CAIRN_EEMPTY;
	char *t = cn_arena_alloc(&ch->out->arena, total + 1), *o = t;
	if (!t)
		return CAIRN_ENOMEM;
	uint64_t ss = UINT64_MAX, se = 0;
	bool first = true, content = false;
	/* Sections after the first content block, as close_chunk records them. */
	const char *ths[7] = {0};
	size_t thl[7] = {0};
	cn_buf_reset(&ch->secs);
	for (size_t i = 0; i < d->n_blocks; i++) {
		const cn_block *b = &d->blocks[i];
		if (!b->len)
			continue;
		if (b->kind == CN_BLOCK_HEADING) {
			int L = CN_MIN(CN_MAX(b->level, 1), 6);
			ths[L] = b->text;
			thl[L] = b->len;
			for (int m = L + 1; m <= 6; m++)
				ths[m] = NULL;
			if (content) {
				cn_buf_printf(&ch->secs, "%zu\t", (size_t)(o - t) + (first || ch->code_doc ? 0 : 2));
				append_path(&ch->secs, ths, thl);
				cn_buf_putc(&ch->secs, '\n');
			}
			if (ch->code_doc)
				continue;
		} else {
			content = true;
		}
		if (!first)
			o = put_joiner(o, 0);
		first = false;
		memcpy(o, b->text, b->len);
		o += b->len;
		ss = CN_MIN(ss, b->src_start);
		se = CN_MAX(se, b->src_end);
	}
	*o = '\0';
	/* heading path of the first block */
	for (size_t i = 0; i < d->n_blocks; i++) {
		const cn_block *b = &d->blocks[i];
		if (b->kind != CN_BLOCK_HEADING) {
			if (b->len)
				break;
			continue;
		}
		unit u = {.text = b->text, .len = b->len, .level = (uint8_t)CN_MIN(CN_MAX(b->level, 1), 6)};
		apply_heading(ch, &u);
		if (!ch->code_doc)
			break;
	}
	char *h = heading_path(ch);
	if (!h || ch->secs.failed)
		return CAIRN_ENOMEM;
	char *sections = NULL;
	if (ch->secs.len && !(sections = cn_arena_strndup(&ch->out->arena, ch->secs.data, ch->secs.len)))
		return CAIRN_ENOMEM;
	return emit(ch, t, total, ntok(ch, t, total), h, sections, ss, CN_MAX(se, ss));
}

cairn_status cn_chunk_doc(const cn_doc *doc, const cn_chunk_params *p, cn_chunks *out, cn_err *err)
{
	cn_chunk_params dp = cn_chunk_default_params();
	if (!p)
		p = &dp;
	if (p->target_tokens < 1 || p->min_tokens < 0 || p->min_tokens > p->target_tokens ||
	    p->max_tokens < p->target_tokens || p->overlap_pct < 0 || p->overlap_pct > 90)
		return cn_err_set(err, CAIRN_EINVAL,
				  "chunk params: need 0 <= min (%d) <= target (%d) <= max (%d), target >= 1, "
				  "overlap 0..90 (%d)",
				  p->min_tokens, p->target_tokens, p->max_tokens, p->overlap_pct);
	chunker ch;
	memset(&ch, 0, sizeof ch);
	ch.doc = doc;
	ch.p = *p;
	ch.out = out;
	ch.count = p->count_tokens ? p->count_tokens : builtin_count;
	ch.ud = p->count_tokens ? p->count_ud : NULL;
	ch.code_doc = doc->format == CN_FMT_CODE;
	ch.jt = ntok(&ch, "\n\n", 2);
	cn_buf_init(&ch.path);
	cn_buf_init(&ch.secs);
	size_t before = out->n;
	cairn_status rc;
	if (p->whole) {
		rc = whole(&ch);
	} else {
		rc = build_units(&ch);
		if (!rc)
			rc = pack(&ch);
		if (!rc && out->n == before)
			rc = CAIRN_EEMPTY;
	}
	cn_free(ch.u);
	cn_free(ch.sg);
	cn_buf_free(&ch.path);
	cn_buf_free(&ch.secs);
	if (rc == CAIRN_EEMPTY)
		return cn_err_set(err, rc, "%s: document has no text", doc->title ? doc->title : "(untitled)");
	if (rc == CAIRN_ENOMEM)
		return cn_err_set(err, rc, "chunker: out of memory");
	return rc;
}
