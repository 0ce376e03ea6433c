/*
 * pretok.c — byte-level BPE pre-tokenizers written out by hand, one matcher per upstream
 * regular expression.
 *
 * Why by hand: the expressions are fixed, small alternations over Unicode categories; a
 * matcher that decodes a code point, looks up its class and walks forward is an order of
 * magnitude faster than a backtracking engine and has no pathological inputs. Each matcher
 * answers "where does the leftmost-first match starting at p end?" exactly as a PCRE-style
 * engine would (greedy quantifiers, backtracking into an optional prefix or out of a
 * lookahead), which tests/unit/test_bpe.c checks against PCRE2 on generated text.
 *
 * Semantics follow the reference tokenizers (Hugging Face tokenizers / tiktoken, which run
 * Oniguruma / fancy-regex): \s is Unicode White_Space (so U+0085 counts), \p{..} are the
 * general categories from utf8proc, (?i:'s) also matches the long s U+017F (it folds to s).
 * llama.cpp's own rewrites ('[sS] for (?i:'s), GPT-2's pattern without its final |\s+) give
 * the same pieces except for that one letter. A family applies its expressions in sequence,
 * each to every piece of the previous one, keeping the text between matches as pieces.
 *
 * Invalid UTF-8 bytes count as one character each, in no category (like an unassigned code
 * point): pieces always cover the input exactly, so byte-level BPE stays lossless.
 */
#include "vocab/pretok_int.h"

#include <string.h>
#include <utf8proc.h>

#include "text/text.h"

#define CP_NONE 0xFFFFFFFFu

static const uint8_t ascii_cls[128] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 8, 8, 8, 16, 8, 8, 8, 8, 8, 8, 16, 8, 8, 8, 8,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 8, 8, 16, 16, 16, 8,
	8, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 8, 8, 8, 16, 8,
	16, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129,
	129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 8, 16, 8, 16, 0,
};

static bool is_white_space(uint32_t cp)
{
	/* Unicode White_Space (PropList.txt): stable since Unicode 6.3. */
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
	return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

unsigned cn_pretok_cpclass(uint32_t cp)
{
	if (cp < 0x80)
		return ascii_cls[cp];
	if (cp > 0x10FFFF)
		return 0;
	unsigned f = is_white_space(cp) ? CN_CP_WS : 0;
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LT:
		return f | CN_CP_L | CN_CP_LU;
	case UTF8PROC_CATEGORY_LL:
		return f | CN_CP_L | CN_CP_LL;
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return f | CN_CP_L;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return f | CN_CP_M;
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return f | CN_CP_N;
	case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO:
		return f | CN_CP_P;
	case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO:
		return f | CN_CP_S;
	default:
		return f;
	}
}

/* One character at p < e: its length, class and code point (CP_NONE for an invalid byte).
 * At p >= e: length 0, class 0, CP_NONE, so lookahead at the end needs no special case. */
static inline size_t dec(const uint8_t *s, size_t p, size_t e, unsigned *fl, uint32_t *cp)
{
	if (p >= e) {
		*fl = 0;
		*cp = CP_NONE;
		return 0;
	}
	uint8_t c = s[p];
	if (c < 0x80) {
		*fl = ascii_cls[c];
		*cp = c;
		return 1;
	}
	int32_t v;
	size_t l = cn_utf8_decode((const char *)s + p, e - p, &v);
	if (v < 0) {
		*fl = 0;
		*cp = CP_NONE;
		return 1;
	}
	*cp = (uint32_t)v;
	*fl = cn_pretok_cpclass((uint32_t)v);
	return l;
}

static inline size_t clen(const uint8_t *s, size_t p, size_t e)
{
	unsigned f;
	uint32_t c;
	return dec(s, p, e, &f, &c);
}

#define OTHER(f) (!((f) & (CN_CP_L | CN_CP_N | CN_CP_WS)))

/* End of the run of characters with any bit of mask, from p. */
static size_t run_mask(const uint8_t *s, size_t p, size_t e, unsigned mask)
{
	for (;;) {
		unsigned f;
		uint32_t c;
		size_t l = dec(s, p, e, &f, &c);
		if (!l || !(f & mask))
			return p;
		p += l;
	}
}

/* [^\s\p{L}\p{N}]* from p. */
static size_t run_other(const uint8_t *s, size_t p, size_t e)
{
	while (p < e) {
		if (s[p] < 0x80) {
			if (!OTHER(ascii_cls[s[p]]))
				return p;
			p++;
			continue;
		}
		unsigned f;
		uint32_t c;
		size_t l = dec(s, p, e, &f, &c);
		if (!OTHER(f))
			return p;
		p += l;
	}
	return p;
}

static size_t run_crlf(const uint8_t *s, size_t p, size_t e)
{
	while (p < e && (s[p] == '\r' || s[p] == '\n'))
		p++;
	return p;
}

typedef bool (*cp_pred)(uint32_t cp, unsigned fl);

static size_t run_pred(const uint8_t *s, size_t p, size_t e, cp_pred pred)
{
	for (;;) {
		unsigned f;
		uint32_t c;
		size_t l = dec(s, p, e, &f, &c);
		if (!l || !pred(c, f))
			return p;
		p += l;
	}
}

static bool in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* ranges sorted by start and disjoint */
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid][0])
			hi = mid;
		else if (cp > r[mid][1])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* 's 't 're 've 'm 'll 'd at p (s[p] == '\''); fold: case-insensitive as (?i:) is. Returns
 * the end of the match or p. */
static size_t contraction(const uint8_t *s, size_t p, size_t e, bool fold)
{
	unsigned f;
	uint32_t c1, c2;
	size_t l1 = dec(s, p + 1, e, &f, &c1);
	if (!l1)
		return p;
	if (fold) {
		if (c1 == 0x17F) /* LATIN SMALL LETTER LONG S folds to s */
			c1 = 's';
		else if (c1 >= 'A' && c1 <= 'Z')
			c1 += 32;
	}
	if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
		return p + 1 + l1;
	size_t l2 = dec(s, p + 1 + l1, e, &f, &c2);
	if (!l2)
		return p;
	if (fold && c2 >= 'A' && c2 <= 'Z')
		c2 += 32;
	if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
		return p + 1 + l1 + l2;
	return p;
}

/* The whitespace tail shared by most patterns, at p where a whitespace character starts:
 * [\s*[\r\n]+ when crlf] | \s+(?!\S) | \s+. */
static size_t ws_tail(const uint8_t *s, size_t p, size_t e, bool crlf)
{
	size_t q = p, last = p, crlf_end = 0, n = 0;
	for (;;) {
		unsigned f;
		uint32_t c;
		size_t l = dec(s, q, e, &f, &c);
		if (!l || !(f & CN_CP_WS))
			break;
		if (c == '\r' || c == '\n')
			crlf_end = q + l;
		last = q;
		q += l;
		n++;
	}
	if (crlf && crlf_end)
		return crlf_end;
	if (q == e)
		return e;
	return n >= 2 ? last : q;
}

/* ---- the matchers: end of the match at p, or p; *next may move the search on ---------- */

typedef size_t (*matcher)(const uint8_t *s, size_t p, size_t e, size_t *next);

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t m_gpt2(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	unsigned f0, f1;
	uint32_t c0, c1;
	size_t l0 = dec(s, p, e, &f0, &c0);
	if (c0 == '\'') {
		size_t r = contraction(s, p, e, false);
		if (r > p)
			return r;
	}
	size_t q = p;
	unsigned f = f0;
	if (c0 == ' ') {
		size_t l1 = dec(s, p + l0, e, &f1, &c1);
		if (!l1 || (f1 & CN_CP_WS))
			return ws_tail(s, p, e, false);
		q = p + l0;
		f = f1;
	} else if (f0 & CN_CP_WS) {
		return ws_tail(s, p, e, false);
	}
	if (f & CN_CP_L)
		return run_mask(s, q, e, CN_CP_L);
	if (f & CN_CP_N)
		return run_mask(s, q, e, CN_CP_N);
	return run_other(s, q, e);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t llama3_like(const uint8_t *s, size_t p, size_t e, unsigned max_digits)
{
	unsigned f0, f1;
	uint32_t c0, c1;
	size_t l0 = dec(s, p, e, &f0, &c0);
	if (c0 == '\'') {
		size_t r = contraction(s, p, e, true);
		if (r > p)
			return r;
	}
	if (f0 & CN_CP_L)
		return run_mask(s, p + l0, e, CN_CP_L);
	size_t l1 = dec(s, p + l0, e, &f1, &c1);
	if (c0 != '\r' && c0 != '\n' && !(f0 & CN_CP_N) && (f1 & CN_CP_L))
		return run_mask(s, p + l0 + l1, e, CN_CP_L);
	if (f0 & CN_CP_N) {
		size_t q = p + l0;
		for (unsigned k = 1; k < max_digits; k++) {
			unsigned f;
			uint32_t c;
			size_t l = dec(s, q, e, &f, &c);
			if (!l || !(f & CN_CP_N))
				break;
			q += l;
		}
		return q;
	}
	if (c0 == ' ' && l1 && OTHER(f1))
		return run_crlf(s, run_other(s, p + l0, e), e);
	if (OTHER(f0))
		return run_crlf(s, run_other(s, p, e), e);
	return ws_tail(s, p, e, true);
}

static size_t m_llama3(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return llama3_like(s, p, e, 3);
}

static size_t m_qwen2(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return llama3_like(s, p, e, 1);
}

/* [\r\n] */
static size_t m_crlf1(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)e;
	(void)next;
	return (s[p] == '\r' || s[p] == '\n') ? p + 1 : p;
}

/* \s?X+ for a class X */
static size_t opt_ws_run(const uint8_t *s, size_t p, size_t e, cp_pred pred)
{
	unsigned f0, f1;
	uint32_t c0, c1;
	size_t l0 = dec(s, p, e, &f0, &c0);
	if (f0 & CN_CP_WS) {
		size_t l1 = dec(s, p + l0, e, &f1, &c1);
		if (l1 && pred(c1, f1))
			return run_pred(s, p + l0, e, pred);
	}
	if (pred(c0, f0))
		return run_pred(s, p, e, pred);
	return p;
}

/* X+ for a class X */
static size_t plain_run(const uint8_t *s, size_t p, size_t e, cp_pred pred)
{
	return run_pred(s, p, e, pred);
}

static const uint32_t ds_latin[][2] = {
	{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
	{0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x376},
	{0x377, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A},
	{0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F},
	{0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
	{0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
	{0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59},
	{0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
	{0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
	{0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107},
	{0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
	{0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
	{0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2183}, {0x2184, 0x2184}, {0x2C00, 0x2C7B},
	{0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF2}, {0x2CF3, 0x2CF3}, {0xA640, 0xA66D},
	{0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
	{0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
	{0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2},
	{0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static bool p_ds_latin(uint32_t c, unsigned f)
{
	(void)f;
	if (c < 0x80)
		return (c | 32) >= 'a' && (c | 32) <= 'z';
	return c != CP_NONE && in_ranges(c, ds_latin, CN_ARRAY_LEN(ds_latin));
}

static bool p_ds_punct(uint32_t c, unsigned f)
{
	(void)f;
	return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0x2018 && c <= 0x201F) ||
	       (c >= 0x3000 && c <= 0x3002) || (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF5E);
}

static bool p_ds_cjk(uint32_t c, unsigned f)
{
	(void)f;
	return (c >= 0x800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
}

static bool p_ds3_cjk(uint32_t c, unsigned f)
{
	(void)f;
	return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF);
}

static bool p_letter(uint32_t c, unsigned f)
{
	(void)c;
	return f & CN_CP_L;
}

static bool p_punct(uint32_t c, unsigned f)
{
	(void)c;
	return f & CN_CP_P;
}

/* [\p{P}\$\+<=>\^~\|`] (falcon) and without the backquote (default) */
static bool p_punct_ascii_sym(uint32_t c, unsigned f)
{
	return (f & CN_CP_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
	       c == '~' || c == '|' || c == '`';
}

static bool p_punct_ascii_sym_nobq(uint32_t c, unsigned f)
{
	return c != '`' && p_punct_ascii_sym(c, f);
}

/* [^(\s|.,!?…。，、।۔،)] (BLOOM) */
static bool p_bloom(uint32_t c, unsigned f)
{
	if (f & CN_CP_WS)
		return false;
	switch (c) {
	case '(': case '|': case '.': case ',': case '!': case '?': case ')':
	case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
		return false;
	default:
		return true;
	}
}

static size_t m_ds_latin(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return opt_ws_run(s, p, e, p_ds_latin);
}

static size_t m_ds_punct(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return opt_ws_run(s, p, e, p_ds_punct);
}

/* \s+$ — $ also matches before a final \n, which a whitespace run already includes. */
static size_t m_ws_end(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	size_t q = run_mask(s, p, e, CN_CP_WS);
	if (q == p)
		return p;
	if (q == e)
		return e;
	*next = q; /* no later start inside this run can reach the end either */
	return p;
}

static size_t m_ds_cjk(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return plain_run(s, p, e, p_ds_cjk);
}

static size_t m_ds3_cjk(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return plain_run(s, p, e, p_ds3_cjk);
}

static size_t m_numbers(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return run_mask(s, p, e, CN_CP_N);
}

static size_t m_number1(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	unsigned f;
	uint32_t c;
	size_t l = dec(s, p, e, &f, &c);
	return (f & CN_CP_N) ? p + l : p;
}

static size_t m_number3(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	size_t q = p;
	for (int k = 0; k < 3; k++) {
		unsigned f;
		uint32_t c;
		size_t l = dec(s, q, e, &f, &c);
		if (!l || !(f & CN_CP_N))
			break;
		q += l;
	}
	return q;
}

static size_t m_ws_letters(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return opt_ws_run(s, p, e, p_letter);
}

static size_t m_ws_punct(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return opt_ws_run(s, p, e, p_punct);
}

static size_t m_falcon_punct(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return plain_run(s, p, e, p_punct_ascii_sym);
}

static size_t m_default_punct(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	return plain_run(s, p, e, p_punct_ascii_sym_nobq);
}

/* [0-9][0-9][0-9] */
static size_t m_3digits(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	if (e - p >= 3 && s[p] >= '0' && s[p] <= '9' && s[p + 1] >= '0' && s[p + 1] <= '9' &&
	    s[p + 2] >= '0' && s[p + 2] <= '9')
		return p + 3;
	return p;
}

/*  ?[^(\s|.,!?…。，、।۔،)]+ */
static size_t m_bloom(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	if (s[p] == ' ') {
		unsigned f;
		uint32_t c;
		size_t l = dec(s, p + 1, e, &f, &c);
		if (l && p_bloom(c, f))
			return run_pred(s, p + 1, e, p_bloom);
		return p;
	}
	return run_pred(s, p, e, p_bloom);
}

/* [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *  ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+   (DeepSeek V3) */
static size_t m_ds3_main(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	unsigned f0, f1;
	uint32_t c0, c1;
	size_t l0 = dec(s, p, e, &f0, &c0);
	dec(s, p + l0, e, &f1, &c1);
	bool ascii_punct = c0 < 0x80 && (ascii_cls[c0] & (CN_CP_P | CN_CP_S));
	bool ascii_letter1 = c1 < 0x80 && (c1 | 32) >= 'a' && (c1 | 32) <= 'z';
	if (ascii_punct && ascii_letter1) {
		size_t q = p + l0;
		while (q < e && (s[q] | 32) >= 'a' && (s[q] | 32) <= 'z')
			q++;
		return q;
	}
	const unsigned lm = CN_CP_L | CN_CP_M;
	if (c0 != '\r' && c0 != '\n' && !(f0 & (CN_CP_L | CN_CP_P | CN_CP_S)) && (f1 & lm))
		return run_mask(s, p + l0, e, lm);
	if (f0 & lm)
		return run_mask(s, p, e, lm);
	const unsigned ps = CN_CP_P | CN_CP_S;
	if (c0 == ' ' && (f1 & ps))
		return run_crlf(s, run_mask(s, p + l0, e, ps), e);
	if (f0 & ps)
		return run_crlf(s, run_mask(s, p, e, ps), e);
	if (f0 & CN_CP_WS)
		return ws_tail(s, p, e, true);
	return p;
}

/* <sentinel:[0-9]+> */
static size_t m_sentinel(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	static const char lit[] = "<sentinel:";
	size_t n = sizeof lit - 1;
	if (e - p < n + 2 || memcmp(s + p, lit, n))
		return p;
	size_t q = p + n;
	while (q < e && s[q] >= '0' && s[q] <= '9')
		q++;
	if (q == p + n || q == e || s[q] != '>')
		return p;
	return q + 1;
}

/* (IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z */
static size_t m_imgimg(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	if (e - p < 8 || memcmp(s + p, "IMGIMG", 6))
		return p;
	size_t q = p + 6;
	while (q < e && q - (p + 6) < 5 && s[q] >= 'A' && s[q] <= 'I')
		q++;
	size_t k = q - (p + 6);
	if (k < 1 || k > 4 || q == e || s[q] != 'Z')
		return p;
	return q + 1;
}

/* ([\t\n]|    |  ) */
static size_t m_tabs_spaces(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	if (s[p] == '\t' || s[p] == '\n')
		return p + 1;
	if (e - p >= 4 && !memcmp(s + p, "    ", 4))
		return p + 4;
	if (e - p >= 2 && s[p] == ' ' && s[p + 1] == ' ')
		return p + 2;
	return p;
}

/* [\p{P}!-/:-@\[-`{-~] */
static size_t m_punct1(const uint8_t *s, size_t p, size_t e, size_t *next)
{
	(void)next;
	unsigned f;
	uint32_t c;
	size_t l = dec(s, p, e, &f, &c);
	if ((f & CN_CP_P) || (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
	    (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E))
		return p + l;
	return p;
}

/* ---- the family table ----------------------------------------------------------------- */

typedef struct pt_stage {
	const char *re;  /* upstream spelling (Hugging Face tokenizer.json / model code) */
	const char *alt; /* llama.cpp's spelling when it differs (NULL otherwise) */
	matcher match;
} pt_stage;

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_GPT2_LCPP "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3_LCPP                                                                             \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"         \
	"\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2_LCPP                                                                              \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"         \
	"\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_DS_LATIN                                                                                \
	"\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-"     \
	"\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1"      \
	"\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD"   \
	"\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D"   \
	"\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-"    \
	"\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"    \
	"\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D"      \
	"\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4"     \
	"\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"    \
	"\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F"        \
	"\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2"          \
	"\U000118A0-\U000118DF\U0001E900-\U0001E943]+"
#define RE_DS_PUNCT "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"
#define RE_DS_CJK "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"
#define RE_DS3_CJK "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+"
#define RE_DS3_MAIN                                                                                \
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|" \
	" ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_BLOOM " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"

#define S_GPT2 {RE_GPT2, RE_GPT2_LCPP, m_gpt2}
#define S_LLAMA3 {RE_LLAMA3, RE_LLAMA3_LCPP, m_llama3}
#define S_QWEN2 {RE_QWEN2, RE_QWEN2_LCPP, m_qwen2}
#define S_CRLF1 {"[\\r\\n]", NULL, m_crlf1}
#define S_DS_LATIN {RE_DS_LATIN, NULL, m_ds_latin}
#define S_DS_PUNCT {RE_DS_PUNCT, NULL, m_ds_punct}
#define S_WS_END {"\\s+$", NULL, m_ws_end}
#define S_DS_CJK {RE_DS_CJK, NULL, m_ds_cjk}
#define S_NUMBERS {"\\p{N}+", NULL, m_numbers}
#define S_NUMBER1 {"\\p{N}", NULL, m_number1}
#define S_NUMBER3 {"\\p{N}{1,3}", NULL, m_number3}
#define S_WS_LETTERS {"\\s?\\p{L}+", NULL, m_ws_letters}
#define S_WS_PUNCT {"\\s?\\p{P}+", NULL, m_ws_punct}
#define S_DS3_CJK {RE_DS3_CJK, NULL, m_ds3_cjk}
#define S_DS3_MAIN {RE_DS3_MAIN, NULL, m_ds3_main}
#define S_FALCON_PUNCT {"[\\p{P}\\$\\+<=>\\^~\\|`]+", NULL, m_falcon_punct}
#define S_DEFAULT_PUNCT {"[\\p{P}\\$\\+<=>\\^~\\|]+", NULL, m_default_punct}
#define S_3DIGITS {"[0-9][0-9][0-9]", NULL, m_3digits}
#define S_BLOOM {RE_BLOOM, NULL, m_bloom}
#define S_SENTINEL {"<sentinel:[0-9]+>", NULL, m_sentinel}
#define S_IMGIMG {"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", NULL, m_imgimg}
#define S_TABS {"([\\t\\n]|    |  )", NULL, m_tabs_spaces}
#define S_PUNCT1 {"[\\p{P}!-/:-@\\[-`{-~]", NULL, m_punct1}

#define MAX_STAGES 6

struct cn_pretok {
	const char *name;
	size_t n;
	pt_stage st[MAX_STAGES];
};

/* Expression lists as llama.cpp's llm_tokenizer_bpe (src/llama-vocab.cpp) has them. */
static const cn_pretok families[] = {
	{"default", 4, {S_DEFAULT_PUNCT, S_GPT2, S_NUMBERS, S_3DIGITS}},
	{"gpt-2", 1, {S_GPT2}},
	{"llama3", 1, {S_LLAMA3}},
	{"qwen2", 1, {S_QWEN2}},
	{"deepseek-llm", 6, {S_CRLF1, S_DS_LATIN, S_DS_PUNCT, S_WS_END, S_DS_CJK, S_NUMBERS}},
	{"deepseek-v3", 3, {S_NUMBER3, S_DS3_CJK, S_DS3_MAIN}},
	{"deepseek-coder", 5, {S_CRLF1, S_WS_LETTERS, S_WS_PUNCT, S_DS_CJK, S_NUMBER1}},
	{"falcon", 3, {S_FALCON_PUNCT, S_GPT2, S_3DIGITS}},
	{"starcoder", 2, {S_NUMBER1, S_GPT2}},
	{"bloom", 1, {S_BLOOM}},
	{"viking", 2, {S_BLOOM, S_NUMBER1}},
	{"chameleon", 6, {S_SENTINEL, S_IMGIMG, S_TABS, S_NUMBER1, S_PUNCT1, S_GPT2}},
};

static const struct {
	const char *name;
	const char *family;
	bool ignore_merges;
} names[] = {
	{"default", "default", false},
	{"llama3", "llama3", true}, {"llama-v3", "llama3", true}, {"llama-bpe", "llama3", true},
	{"falcon3", "llama3", true}, {"dbrx", "llama3", false}, {"smaug-bpe", "llama3", false},
	{"chatglm-bpe", "llama3", false},
	{"deepseek-llm", "deepseek-llm", false},
	{"deepseek-coder", "deepseek-coder", false},
	{"deepseek-v3", "deepseek-v3", false},
	{"falcon", "falcon", false},
	{"gpt-2", "gpt-2", false}, {"gpt2", "gpt-2", false}, {"mpt", "gpt-2", false},
	{"olmo", "gpt-2", false}, {"jais", "gpt-2", false}, {"phi-2", "gpt-2", false},
	{"jina-es", "gpt-2", false}, {"jina-de", "gpt-2", false}, {"gigachat", "gpt-2", false},
	{"jina-v1-en", "gpt-2", false}, {"jina-v2-es", "gpt-2", false},
	{"jina-v2-de", "gpt-2", false}, {"jina-v2-code", "gpt-2", false},
	{"roberta-bpe", "gpt-2", false}, {"trillion", "gpt-2", false},
	{"starcoder", "starcoder", false}, {"refact", "starcoder", false},
	{"command-r", "starcoder", false}, {"smollm", "starcoder", false},
	{"codeshell", "starcoder", false}, {"exaone", "starcoder", false},
	{"minerva-7b", "starcoder", false},
	{"qwen2", "qwen2", false}, {"stablelm2", "qwen2", false}, {"megrez", "qwen2", false},
	{"deepseek-r1-qwen", "qwen2", false},
	{"poro-chat", "bloom", false}, {"bloom", "bloom", false}, {"gpt3-finnish", "bloom", false},
	{"viking", "viking", false},
	{"chameleon", "chameleon", false},
};

static const cn_pretok *family_named(const char *name)
{
	for (size_t i = 0; i < CN_ARRAY_LEN(families); i++)
		if (!strcmp(families[i].name, name))
			return &families[i];
	return NULL;
}

const cn_pretok *cn_pretok_find(const char *name, bool *ignore_merges)
{
	if (ignore_merges)
		*ignore_merges = false;
	if (!name || !*name)
		name = "default";
	for (size_t i = 0; i < CN_ARRAY_LEN(names); i++) {
		if (!strcmp(names[i].name, name)) {
			if (ignore_merges)
				*ignore_merges = names[i].ignore_merges;
			return family_named(names[i].family);
		}
	}
	return NULL;
}

static bool stage_is(const pt_stage *st, const char *re)
{
	return !strcmp(st->re, re) || (st->alt && !strcmp(st->alt, re));
}

const cn_pretok *cn_pretok_from_regexes(const char *const *res, size_t n)
{
	for (size_t i = 0; i < CN_ARRAY_LEN(families); i++) {
		const cn_pretok *f = &families[i];
		if (f->n != n)
			continue;
		size_t k = 0;
		while (k < n && res[k] && stage_is(&f->st[k], res[k]))
			k++;
		if (k == n)
			return f;
	}
	return NULL;
}

const char *cn_pretok_name(const cn_pretok *p) { return p->name; }

size_t cn_pretok_n_regexes(const cn_pretok *p) { return p->n; }

const char *cn_pretok_regex(const cn_pretok *p, size_t i) { return i < p->n ? p->st[i].re : NULL; }

const cn_pretok *cn_pretok_at(size_t i) { return i < CN_ARRAY_LEN(families) ? &families[i] : NULL; }

/* ---- splitting ------------------------------------------------------------------------ */

typedef struct split_ctx {
	const cn_pretok *p;
	const uint8_t *s;
	cn_pretok_emit emit;
	void *ctx;
	size_t last; /* stage index past which pieces are emitted */
} split_ctx;

/* Depth-first: expression k splits [b, e); each piece goes on to expression k+1. No piece
 * list is materialised, so memory does not grow with the text. */
static cairn_status split_rec(const split_ctx *c, size_t k, size_t b, size_t e)
{
	if (k == c->last)
		return c->emit(c->ctx, (const char *)c->s + b, e - b);
	matcher m = c->p->st[k].match;
	size_t p = b, gap = b;
	cairn_status st;
	while (p < e) {
		size_t next = 0;
		size_t m_end = m(c->s, p, e, &next);
		if (m_end > p) {
			if (gap < p && (st = split_rec(c, k + 1, gap, p)) != CAIRN_OK)
				return st;
			if ((st = split_rec(c, k + 1, p, m_end)) != CAIRN_OK)
				return st;
			p = gap = m_end;
		} else {
			size_t adv = p + clen(c->s, p, e);
			p = next > adv ? next : adv;
		}
	}
	if (gap < e)
		return split_rec(c, k + 1, gap, e);
	return CAIRN_OK;
}

cairn_status cn_pretok_split(const cn_pretok *p, const char *text, size_t len, cn_pretok_emit emit,
                             void *ctx)
{
	if (!len)
		return CAIRN_OK;
	split_ctx c = {p, (const uint8_t *)text, emit, ctx, p->n};
	return split_rec(&c, 0, 0, len);
}

cairn_status cn_pretok_split_stage(const cn_pretok *p, size_t stage, const char *text, size_t len,
                                   cn_pretok_emit emit, void *ctx)
{
	if (!len || stage >= p->n)
		return CAIRN_OK;
	/* A one-expression view: the matcher of `stage` followed directly by emission. */
	split_ctx c = {p, (const uint8_t *)text, emit, ctx, stage + 1};
	return split_rec(&c, stage, 0, len);
}
