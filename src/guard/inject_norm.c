/*
 * inject_norm — the normalised view the injection patterns run on, and the decoders for
 * encoded payloads.
 *
 * Attackers hide phrases from naive matchers by changing how they are written, not what they
 * say, so the view undoes the cheap disguises once, up front, and every pattern benefits:
 *  - invisible characters (zero-width, bidi controls, soft hyphens, variation selectors) are
 *    dropped; the suspicious ones (bidi overrides and isolates, Unicode tag characters, and
 *    zero-width characters wedged inside a Latin word) are counted as evidence. Tag
 *    characters U+E0020..E007E are "ASCII smuggling": they are decoded to the ASCII they
 *    shadow, because a model reads them.
 *  - Cyrillic and Greek look-alikes are folded to Latin only inside words that also hold
 *    Latin letters: "іgnоrе" (Cyrillic і, о, е) is an attack, an all-Cyrillic Russian word is
 *    Russian and must stay matchable by the Russian patterns.
 *  - compatibility forms (fullwidth, mathematical alphanumerics, ligatures, circled letters)
 *    fold through utf8proc (NFKD + case fold + mark stripping), so "ｉｇｎｏｒｅ" and "ignóre"
 *    read "ignore"; CJK, kana and Hangul pass through untouched (decomposing them would break
 *    the Chinese/Japanese/Korean patterns).
 *  - leetspeak is undone inside words that mix at least two letters with digits or @/$.
 *  - whitespace runs collapse (to '\n' when they hold a line break, so line-anchored
 *    delimiter patterns still work), quotes and dashes unify.
 * Every view byte remembers the original byte it came from, so spans found in the view are
 * reported in the caller's offsets.
 */
#include "guard/inject.h"

#include <string.h>
#include <utf8proc.h>

#include "text/text.h"

typedef struct cp_item {
	int32_t cp;
	uint32_t off, len;
} cp_item;

/* Cyrillic/Greek/other letters that render like a Latin letter → that letter. */
static const struct {
	int32_t cp;
	char to;
} confusables[] = {
	{0x0391, 'a'}, {0x0392, 'b'}, {0x0395, 'e'}, {0x0396, 'z'}, {0x0397, 'h'}, {0x0399, 'i'}, {0x039A, 'k'},
	{0x039C, 'm'}, {0x039D, 'n'}, {0x039F, 'o'}, {0x03A1, 'p'}, {0x03A4, 't'}, {0x03A5, 'y'}, {0x03A7, 'x'},
	{0x03B1, 'a'}, {0x03B5, 'e'}, {0x03B9, 'i'}, {0x03BA, 'k'}, {0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'},
	{0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'}, {0x03F2, 'c'}, {0x03F3, 'j'},
	{0x0405, 's'}, {0x0406, 'i'}, {0x0407, 'i'}, {0x0408, 'j'}, {0x0410, 'a'}, {0x0412, 'b'}, {0x0415, 'e'},
	{0x041A, 'k'}, {0x041C, 'm'}, {0x041D, 'h'}, {0x041E, 'o'}, {0x0420, 'p'}, {0x0421, 'c'}, {0x0422, 't'},
	{0x0423, 'y'}, {0x0425, 'x'}, {0x0430, 'a'}, {0x0435, 'e'}, {0x043A, 'k'}, {0x043E, 'o'}, {0x0440, 'p'},
	{0x0441, 'c'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x0450, 'e'}, {0x0451, 'e'}, {0x0455, 's'}, {0x0456, 'i'},
	{0x0457, 'i'}, {0x0458, 'j'}, {0x04BB, 'h'}, {0x04C0, 'l'}, {0x04CF, 'l'}, {0x0501, 'd'}, {0x051B, 'q'},
	{0x051D, 'w'}, {0x0261, 'g'}, {0x0131, 'i'}, {0x0269, 'i'}, {0x0251, 'a'}, {0x0585, 'o'}, {0x057D, 'u'},
	{0x13A0, 'd'}, {0x13A1, 'r'}, {0x13A2, 't'}, {0x13AA, 'a'}, {0x13AC, 'e'}, {0x13B3, 'w'}, {0x13BB, 'h'},
	{0x13C0, 'g'}, {0x13C2, 'h'}, {0x13C3, 'z'}, {0x13CF, 'b'}, {0x13D2, 'r'}, {0x13DA, 's'}, {0x13DE, 'l'},
	{0x13DF, 'c'}, {0x13E2, 'p'}, {0x13E6, 'k'}, {0x13F4, 'b'},
};

static int confusable(int32_t cp)
{
	/* a linear scan: the table is short and only non-ASCII letters reach it */
	for (size_t i = 0; i < CN_ARRAY_LEN(confusables); i++)
		if (confusables[i].cp == cp)
			return confusables[i].to;
	return 0;
}

/* 0: visible; 1: invisible, drop silently unless it sits inside a Latin word; 2: invisible
 * and always suspicious (bidi embedding/override/isolate, tag characters). */
static int invisible_class(int32_t cp)
{
	if (cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 || cp == 0x17B4 ||
	    cp == 0x17B5 || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) ||
	    (cp >= 0x206A && cp <= 0x206F) || (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF))
		return 1;
	if (cp == 0xFEFF) /* a BOM: normal at the start, elsewhere judged like a zero-width space */
		return 1;
	if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xE0000 && cp <= 0xE007F))
		return 2;
	return 0;
}

static bool is_ascii_alnum(int32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_space_cp(int32_t cp)
{
	if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v')
		return true;
	if (cp < 0x80)
		return false;
	if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return true;
	return false;
}

static bool is_word_cp(int32_t cp)
{
	if (cp < 0x80)
		return is_ascii_alnum(cp);
	utf8proc_category_t c = utf8proc_category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ND) || c == UTF8PROC_CATEGORY_NL ||
	       c == UTF8PROC_CATEGORY_NO;
}

static bool is_latin_letter_cp(int32_t cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7);
}

static int leet_letter(int32_t c)
{
	switch (c) {
	case '0': return 'o';
	case '1': return 'i';
	case '3': return 'e';
	case '4': return 'a';
	case '5': return 's';
	case '7': return 't';
	case '8': return 'b';
	case '@': return 'a';
	case '$': return 's';
	default: return 0;
	}
}

static void emit(cn_inj_view *v, const char *p, size_t n, uint32_t off, bool *ok)
{
	if (!*ok)
		return;
	if (v->n + n + 1 > v->cap) {
		size_t cap = v->cap ? v->cap : 256;
		while (cap < v->n + n + 1)
			cap *= 2;
		char *s = cn_realloc(v->s, cap);
		if (!s) {
			*ok = false;
			return;
		}
		v->s = s;
		uint32_t *m = cn_realloc(v->map, (cap + 1) * sizeof *m);
		if (!m) {
			*ok = false;
			return;
		}
		v->map = m;
		v->cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		v->s[v->n] = p[i];
		v->map[v->n++] = off;
	}
}

/* One visible code point in the view. */
static void emit_cp(cn_inj_view *v, int32_t cp, uint32_t off, bool *ok)
{
	char b[4];
	if (cp < 0x80) {
		char c = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
		emit(v, &c, 1, off, ok);
		return;
	}
	switch (cp) { /* typographic quotes and dashes */
	case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0x00AB: case 0x00BB: case 0xFF02:
		emit(v, "\"", 1, off, ok);
		return;
	case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x02BC: case 0xFF07:
		emit(v, "'", 1, off, ok);
		return;
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
		emit(v, "-", 1, off, ok);
		return;
	default:
		break;
	}
	bool pass = (cp >= 0x3000 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	            (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x20000 && cp <= 0x3FFFF);
	if (!pass) {
		utf8proc_int32_t d[16];
		int last = 0;
		utf8proc_ssize_t k = utf8proc_decompose_char(cp, d, 16,
		                                             UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
		                                                     UTF8PROC_STRIPMARK | UTF8PROC_STABLE,
		                                             &last);
		if (k > 0 && k <= 16) {
			for (utf8proc_ssize_t i = 0; i < k; i++) {
				if (d[i] < 0x80) {
					char c = (char)((d[i] >= 'A' && d[i] <= 'Z') ? d[i] + 32 : d[i]);
					emit(v, &c, 1, off, ok);
				} else {
					size_t m = cn_utf8_encode(d[i], b);
					if (m)
						emit(v, b, m, off, ok);
				}
			}
			return;
		}
		if (k == 0)
			return; /* a mark stripped away */
	}
	size_t m = cn_utf8_encode(cp, b);
	if (m)
		emit(v, b, m, off, ok);
}

cairn_status cn_inj_view_build(const char *text, size_t len, cn_inj_view *v)
{
	memset(v, 0, sizeof *v);
	v->first_invisible = v->first_homoglyph = v->first_zalgo = UINT32_MAX;
	if (len >= UINT32_MAX)
		return CAIRN_ETOOBIG;
	/* pass 1: code points, invisible characters dropped (tag characters decoded) */
	cp_item *cps = NULL;
	size_t ncp = 0, cap = 0;
	size_t i = 0;
	bool ok = true;
	uint32_t marks = 0; /* combining marks in a row */
	while (i < len) {
		int32_t cp;
		size_t k = cn_utf8_decode(text + i, len - i, &cp);
		if (cp < 0)
			cp = 0xFFFD;
		if (cp >= 0x300) {
			utf8proc_category_t cat = utf8proc_category(cp);
			if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME) {
				if (++marks == 4) {
					if (!v->n_zalgo)
						v->first_zalgo = (uint32_t)i;
					v->n_zalgo++;
				}
			} else {
				marks = 0;
			}
		} else {
			marks = 0;
		}
		int inv = invisible_class(cp);
		if (inv) {
			bool sus = inv == 2;
			if (!sus) { /* inside a Latin word: the previous and next visible characters are ASCII alnum */
				int32_t next = 0;
				size_t j = i + k;
				while (j < len) {
					int32_t c2;
					size_t k2 = cn_utf8_decode(text + j, len - j, &c2);
					if (c2 < 0 || !invisible_class(c2)) {
						next = c2;
						break;
					}
					j += k2;
					if (j - i > 64)
						break;
				}
				int32_t prev = ncp ? cps[ncp - 1].cp : 0;
				sus = (cp != 0xFE00 && !(cp >= 0xFE01 && cp <= 0xFE0F)) && is_ascii_alnum(prev) && is_ascii_alnum(next);
			}
			if (sus) {
				if (!v->n_invisible)
					v->first_invisible = (uint32_t)i;
				v->n_invisible++;
			}
			if (cp >= 0xE0020 && cp <= 0xE007E) { /* tag character: the ASCII it shadows */
				if (ncp == cap && CN_GROW(cps, cap, ncp + 1) != CAIRN_OK) {
					ok = false;
					break;
				}
				cps[ncp++] = (cp_item){cp - 0xE0000, (uint32_t)i, (uint32_t)k};
			}
			i += k;
			continue;
		}
		if (ncp == cap && CN_GROW(cps, cap, ncp + 1) != CAIRN_OK) {
			ok = false;
			break;
		}
		cps[ncp++] = (cp_item){cp, (uint32_t)i, (uint32_t)k};
		i += k;
	}
	/* pass 2: words decide homoglyph folding and leetspeak; everything is emitted */
	size_t w = 0;
	while (ok && w < ncp) {
		int32_t cp = cps[w].cp;
		if (is_space_cp(cp)) {
			bool nl = false;
			size_t e = w;
			while (e < ncp && is_space_cp(cps[e].cp)) {
				if (cps[e].cp == '\n' || cps[e].cp == 0x2028 || cps[e].cp == 0x2029 || cps[e].cp == 0x85)
					nl = true;
				e++;
			}
			emit(v, nl ? "\n" : " ", 1, cps[w].off, &ok);
			w = e;
			continue;
		}
		bool leetish = leet_letter(cp) && !(cp >= '0' && cp <= '9');
		if (!is_word_cp(cp) && !leetish) {
			emit_cp(v, cp, cps[w].off, &ok);
			w++;
			continue;
		}
		/* a word: letters, digits, and @/$ when inside it */
		size_t e = w;
		size_t n_latin = 0, n_conf = 0, n_other_letter = 0, n_leet = 0;
		while (e < ncp) {
			int32_t c = cps[e].cp;
			if (is_word_cp(c)) {
				if (c >= '0' && c <= '9')
					n_leet++;
				else if (is_latin_letter_cp(c))
					n_latin++;
				else if (confusable(c))
					n_conf++;
				else if (c >= 0x80 && utf8proc_category(c) <= UTF8PROC_CATEGORY_LO)
					n_other_letter++;
			} else if ((c == '@' || c == '$') && e + 1 < ncp && is_word_cp(cps[e + 1].cp) && e > w) {
				n_leet++;
			} else {
				break;
			}
			e++;
		}
		if (e == w) { /* a lone @ or $ */
			emit_cp(v, cp, cps[w].off, &ok);
			w++;
			continue;
		}
		bool fold = n_latin > 0 && n_conf > 0;
		if (fold) {
			if (!v->n_homoglyph)
				v->first_homoglyph = cps[w].off;
			v->n_homoglyph++;
		}
		bool leet = n_leet > 0 && n_latin + (fold ? n_conf : 0) >= 2 && n_other_letter == 0;
		bool any_leet = false;
		for (size_t j = w; j < e; j++) {
			int32_t c = cps[j].cp;
			int t;
			if (fold && (t = confusable(c)) != 0) {
				char ch = (char)t;
				emit(v, &ch, 1, cps[j].off, &ok);
			} else if (leet && (t = leet_letter(c)) != 0) {
				/* a digit between or beside letters stands for a letter; a number run does not */
				bool prev_l = j > w && !(cps[j - 1].cp >= '0' && cps[j - 1].cp <= '9');
				bool next_l = j + 1 < e && !(cps[j + 1].cp >= '0' && cps[j + 1].cp <= '9');
				if (prev_l || next_l || c == '@' || c == '$') {
					char ch = (char)t;
					emit(v, &ch, 1, cps[j].off, &ok);
					any_leet = true;
				} else {
					emit_cp(v, c, cps[j].off, &ok);
				}
			} else {
				emit_cp(v, c, cps[j].off, &ok);
			}
		}
		if (any_leet)
			v->n_leet++;
		w = e;
	}
	cn_free(cps);
	if (ok) {
		emit(v, "", 0, (uint32_t)len, &ok);
		if (ok) {
			v->s[v->n] = '\0';
			v->map[v->n] = (uint32_t)len;
		}
	}
	if (!ok) {
		cn_inj_view_free(v);
		return CAIRN_ENOMEM;
	}
	return CAIRN_OK;
}

void cn_inj_view_free(cn_inj_view *v)
{
	cn_free(v->s);
	cn_free(v->map);
	memset(v, 0, sizeof *v);
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

bool cn_inj_base64_decode(const char *s, size_t n, cn_buf *out)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return false;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			cn_buf_putc(out, (char)((acc >> bits) & 0xFF));
		}
	}
	return !out->failed;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool cn_inj_hex_decode(const char *s, size_t n, cn_buf *out)
{
	/* pairs, optionally separated by spaces, "\x" or "0x" prefixes */
	size_t i = 0;
	size_t pairs = 0;
	while (i < n) {
		if (s[i] == ' ' || s[i] == ',' || s[i] == ':') {
			i++;
			continue;
		}
		if (i + 1 < n && (s[i] == '\\' || s[i] == '0') && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
			i += 2;
			continue;
		}
		if (i + 1 >= n)
			return false;
		int a = hex_val((unsigned char)s[i]), b = hex_val((unsigned char)s[i + 1]);
		if (a < 0 || b < 0)
			return false;
		cn_buf_putc(out, (char)(a * 16 + b));
		pairs++;
		i += 2;
	}
	return pairs > 0 && !out->failed;
}
