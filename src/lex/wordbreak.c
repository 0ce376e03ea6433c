/*
 * Word segmentation after UAX#29, the way Lucene's StandardTokenizer (JFlex grammar,
 * Lucene 9) applies it, so our terms match Anserini's.
 *
 * A word is a longest match of
 *     ExtendNumLet* core ( (ExtendNumLet+)? core )* ExtendNumLet*
 * where cores are letters and digits, adjacent letters/digits join (WB5, WB8-10), a
 * MidLetter (':' '·') or MidNumLet ('.' '\'' '’') between two letters joins them (WB6/7:
 * "don't", "U.S.A"), a MidNum (',' ';') or MidNumLet between two digits joins them
 * (WB11/12: "3.14", "1,000"), and Extend/Format characters (combining marks, ZWJ, soft
 * hyphen) attach to whatever precedes them (WB4). Anything else separates, and segments
 * without a letter or digit (punctuation, symbols, emoji, lone underscores) are dropped.
 * As in Lucene, a word longer than the maximum length is cut: the piece is the longest
 * match that fits, and scanning resumes right after it.
 *
 * Deliberate departures from StandardTokenizer, all in scripts without spaces: Han,
 * Hiragana, Katakana and Hangul characters (and Thai/Lao/Myanmar/Khmer) form runs that the
 * analyzer turns into bigrams, as Lucene's CJKAnalyzer does; Hangul therefore does not join
 * Latin letters; Hebrew's WB7a-c quote rules are not implemented.
 *
 * Classes: ASCII comes from a 128-entry table; the BMP from a 64 KiB table computed once
 * from utf8proc's general categories plus explicit Word_Break lists; higher planes are
 * classified on the fly.
 */
#include "lex/lexint.h"
#include "text/text.h"

#include <pthread.h>
#include <utf8proc.h>

#define L CN_WB_LETTER
#define D CN_WB_NUMERIC
static const uint8_t k_ascii[128] = {
	['0'] = D, D, D, D, D, D, D, D, D, D,
	['A'] = L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	['a'] = L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	['.'] = CN_WB_MIDNUMLET, ['\''] = CN_WB_MIDNUMLET, [':'] = CN_WB_MIDLETTER,
	[','] = CN_WB_MIDNUM, [';'] = CN_WB_MIDNUM, ['_'] = CN_WB_EXTNUMLET,
};
#undef L
#undef D

static bool in_cjk(int32_t c)
{
	return (c >= 0x1100 && c <= 0x11FF) ||                 /* Hangul Jamo */
	       (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) ||
	       (c >= 0x3031 && c <= 0x3035) || (c >= 0x3038 && c <= 0x303B) ||
	       (c >= 0x3041 && c <= 0x30FF) ||                 /* Hiragana, Katakana */
	       (c >= 0x3131 && c <= 0x318E) ||                 /* Hangul compatibility jamo */
	       (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x32D0 && c <= 0x32FE) ||
	       (c >= 0x3300 && c <= 0x3357) ||
	       (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
	       (c >= 0xA960 && c <= 0xA97F) || (c >= 0xAC00 && c <= 0xD7FF) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF66 && c <= 0xFFDC) ||
	       (c >= 0x1B000 && c <= 0x1B16F) ||               /* kana supplement/extended */
	       (c >= 0x20000 && c <= 0x3134F);                 /* CJK extensions B… */
}

static bool in_sea(int32_t c)
{
	return (c >= 0x0E00 && c <= 0x0EFF) || /* Thai, Lao */
	       (c >= 0x1000 && c <= 0x109F) || /* Myanmar */
	       (c >= 0x1780 && c <= 0x17FF) || /* Khmer */
	       (c >= 0x19E0 && c <= 0x19FF) || (c >= 0xAA60 && c <= 0xAA7F);
}

static uint8_t compute_class(int32_t c)
{
	if (c < 0x80)
		return k_ascii[c];
	switch (c) {
	case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2027: case 0xFE13: case 0xFE55:
	case 0xFF1A:
		return CN_WB_MIDLETTER;
	case 0x2018: case 0x2019: case 0x2024: case 0xFE52: case 0xFF07: case 0xFF0E:
		return CN_WB_MIDNUMLET;
	case 0x37E: case 0x589: case 0x60C: case 0x60D: case 0x66C: case 0x7F8: case 0x2044:
	case 0xFE10: case 0xFE14: case 0xFE50: case 0xFE54: case 0xFF0C: case 0xFF1B:
		return CN_WB_MIDNUM;
	case 0x202F: case 0x203F: case 0x2040: case 0x2054: case 0xFE33: case 0xFE34:
	case 0xFE4D: case 0xFE4E: case 0xFE4F: case 0xFF3F:
		return CN_WB_EXTNUMLET;
	case 0x200B:
		return CN_WB_OTHER;
	case 0x200C: case 0x200D:
		return CN_WB_EXTEND;
	default:
		break;
	}
	if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return CN_WB_OTHER;
	utf8proc_category_t cat = utf8proc_category(c);
	switch (cat) {
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_CF:
		return CN_WB_EXTEND;
	default:
		break;
	}
	bool letter = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
	              cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LM ||
	              cat == UTF8PROC_CATEGORY_LO || cat == UTF8PROC_CATEGORY_NL;
	if (in_cjk(c))
		return letter ? CN_WB_CJK : CN_WB_OTHER;
	if (cat == UTF8PROC_CATEGORY_ND)
		return CN_WB_NUMERIC;
	if (in_sea(c))
		return letter ? CN_WB_SEA : CN_WB_OTHER;
	return letter ? CN_WB_LETTER : CN_WB_OTHER;
}

static uint8_t g_bmp[0x10000];
static pthread_once_t g_bmp_once = PTHREAD_ONCE_INIT;

static void build_bmp(void)
{
	for (int32_t c = 0; c < 0x10000; c++)
		g_bmp[c] = compute_class(c);
}

uint8_t cn_wb_class(int32_t cp)
{
	if (cp < 0)
		return CN_WB_OTHER;
	if (cp < 0x80)
		return k_ascii[cp];
	if (cp < 0x10000) {
		pthread_once(&g_bmp_once, build_bmp);
		return g_bmp[cp];
	}
	return compute_class(cp);
}

/* Class of the character at s[i] (i < n); *len gets its byte length. */
static inline uint8_t cls_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
	uint8_t b = s[i];
	if (b < 0x80) {
		*len = 1;
		return k_ascii[b];
	}
	int32_t cp;
	*len = cn_utf8_decode((const char *)s + i, n - i, &cp);
	return cn_wb_class(cp);
}

/* End of the character at [i, i+l) plus the Extend/Format characters after it, never
 * going past cap. */
static inline size_t unit_end(const uint8_t *s, size_t n, size_t i, size_t l, size_t cap)
{
	size_t e = i + l;
	while (e < n && s[e] >= 0x80) {
		size_t el;
		if (cls_at(s, n, e, &el) != CN_WB_EXTEND || e + el > cap)
			break;
		e += el;
	}
	return e;
}

size_t cn_seg_unit_end(const uint8_t *s, size_t n, size_t i)
{
	size_t l;
	(void)cls_at(s, n, i, &l);
	return unit_end(s, n, i, l, i + CN_LEX_MAX_UNIT);
}

static inline bool is_core(uint8_t c) { return c == CN_WB_LETTER || c == CN_WB_NUMERIC; }

bool cn_seg_next(const uint8_t *s, size_t n, size_t *pos, cn_seg *out)
{
	size_t i = *pos;
	while (i < n) {
		size_t l;
		uint8_t c = cls_at(s, n, i, &l);
		if (c == CN_WB_CJK || c == CN_WB_SEA) {
			size_t end = i, units = 0;
			uint8_t rc = c;
			while (end < n) {
				if (cls_at(s, n, end, &l) != rc)
					break;
				end = unit_end(s, n, end, l, end + CN_LEX_MAX_UNIT);
				units++;
			}
			*out = (cn_seg){i, end, CN_SEG_RUN, false, units};
			*pos = end;
			return true;
		}
		if (!is_core(c) && c != CN_WB_EXTNUMLET) {
			i += l;
			while (i < n && s[i] < 0x80 && k_ascii[s[i]] != CN_WB_LETTER &&
			       k_ascii[s[i]] != CN_WB_NUMERIC && s[i] != '_')
				i++; /* fast path: ASCII separators */
			continue;
		}
		size_t start = i, q = i;
		while (c == CN_WB_EXTNUMLET) {
			q = unit_end(s, n, q, l, n);
			if (q >= n)
				break;
			c = cls_at(s, n, q, &l);
		}
		if (q >= n || !is_core(c)) {
			i = q; /* underscores with no word: dropped */
			continue;
		}
		if (q + l > start + CN_LEX_MAX_TOKEN)
			start = q; /* too many leading underscores: the piece starts at the core */
		size_t cap = start + CN_LEX_MAX_TOKEN;
		bool ascii = s[q] < 0x80;
		for (size_t k = start; k < q; k++)
			ascii &= s[k] < 0x80;
		uint8_t last = c;
		size_t end = unit_end(s, n, q, l, cap);
		ascii &= end == q + l;
		while (end < n) {
			/* fast path: a run of ASCII letters/digits */
			size_t lim = cap < n ? cap : n, e0 = end;
			while (end < lim && s[end] < 0x80 && is_core(k_ascii[s[end]]))
				end++;
			if (end > e0) {
				last = k_ascii[s[end - 1]];
				if (end < n && s[end] >= 0x80) { /* marks after the run attach to it */
					size_t e2 = unit_end(s, n, end - 1, 1, cap);
					ascii &= e2 == end;
					end = e2;
				}
			}
			if (end >= n)
				break;
			size_t el;
			c = cls_at(s, n, end, &el);
			if (is_core(c) || c == CN_WB_EXTNUMLET) {
				if (end + el > cap)
					break;
				ascii &= s[end] < 0x80;
				size_t e2 = unit_end(s, n, end, el, cap);
				ascii &= e2 == end + el;
				end = e2;
				last = c;
				continue;
			}
			if (c != CN_WB_MIDLETTER && c != CN_WB_MIDNUM && c != CN_WB_MIDNUMLET)
				break;
			if (!is_core(last) || (c == CN_WB_MIDLETTER && last != CN_WB_LETTER) ||
			    (c == CN_WB_MIDNUM && last != CN_WB_NUMERIC) || end + el > cap)
				break;
			size_t m = unit_end(s, n, end, el, cap);
			if (m >= n)
				break;
			size_t l2;
			if (cls_at(s, n, m, &l2) != last || m + l2 > cap)
				break;
			size_t e2 = unit_end(s, n, m, l2, cap);
			ascii &= s[end] < 0x80 && s[m] < 0x80 && m == end + el && e2 == m + l2;
			end = e2;
		}
		*out = (cn_seg){start, end, CN_SEG_WORD, ascii, 0};
		*pos = end;
		return true;
	}
	*pos = n;
	return false;
}
