/*
 * Rule-based sentence segmentation.
 *
 * Snippets and the extractive answerer need sentences, not linguistics, so this is a small
 * deterministic rule set rather than a trained model (Punkt) or a dictionary:
 *  - a blank line (newline, optional spaces/tabs/CR, newline) always ends a sentence;
 *    a single newline does not (hard-wrapped paragraphs);
 *  - CJK terminators 。！？ end a sentence wherever they occur;
 *  - a run of . ! ? (plus closing quotes/brackets) ends a sentence only when followed by
 *    whitespace or the end of text, so "3.14", "U.S.A" and "example.com" never split;
 *  - after a lone '.', the sentence continues when the next word starts with a lowercase
 *    letter, a digit or , ; : (abbreviations mid-sentence: "e.g. the", "Fig. 3", "U.S. and"),
 *    or when the word before the dot is a single capital letter (initials: "J. Smith"), a title
 *    ("Dr.", "Mr.", "Prof.") or an abbreviation that never ends a sentence ("e.g.", "i.e.",
 *    "cf.", "vs.", "Fig.", "et al." is NOT one of these: it often does end one).
 * Spans are trimmed of surrounding whitespace; empty sentences are not reported.
 */
#include "text/text.h"

#include <string.h>
#include <strings.h>

static bool is_ws(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Closing punctuation that belongs to the sentence it follows. Returns its byte length at
 * s[i] or 0. */
static size_t closer_len(const uint8_t *s, size_t n, size_t i)
{
	uint8_t c = s[i];
	if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}')
		return 1;
	if (i + 2 < n && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0x9D || s[i + 2] == 0x99))
		return 3; /* ” ’ */
	if (i + 1 < n && c == 0xC2 && s[i + 1] == 0xBB)
		return 2; /* » */
	if (i + 2 < n && c == 0xE3 && s[i + 1] == 0x80 && (s[i + 2] == 0x8D || s[i + 2] == 0x8F))
		return 3; /* 」 』 */
	if (i + 2 < n && c == 0xEF && s[i + 1] == 0xBC && s[i + 2] == 0x89)
		return 3; /* ） */
	return 0;
}

/* 。 ！ ？ */
static size_t cjk_term_len(const uint8_t *s, size_t n, size_t i)
{
	if (i + 3 > n)
		return 0;
	if (s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x82)
		return 3;
	if (s[i] == 0xEF && s[i + 1] == 0xBC && (s[i + 2] == 0x81 || s[i + 2] == 0x9F))
		return 3;
	return 0;
}

static const char *const k_no_break[] = {
	"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "rev", "hon", "gen", "col", "capt",
	"lt", "sgt", "mt", "e.g", "i.e", "cf", "vs", "viz", "approx", "ca", "fig", "figs", "eq",
	"eqs", "ref", "refs", "vol", "pp", "resp",
};

/* Is the word ending just before the dot at s[dot] one after which a sentence goes on? */
static bool dot_continues(const uint8_t *s, size_t dot)
{
	size_t b = dot;
	while (b > 0 && !is_ws(s[b - 1]))
		b--;
	while (b < dot && (s[b] == '(' || s[b] == '"' || s[b] == '\'' || s[b] == '['))
		b++;
	size_t wl = dot - b;
	if (wl == 1 && s[b] >= 'A' && s[b] <= 'Z')
		return true; /* an initial */
	if (wl == 0 || wl > 8)
		return false;
	for (size_t k = 0; k < CN_ARRAY_LEN(k_no_break); k++)
		if (strlen(k_no_break[k]) == wl && strncasecmp(k_no_break[k], (const char *)s + b, wl) == 0)
			return true;
	return false;
}

typedef struct emitter {
	cn_span *out;
	size_t max, count;
	const uint8_t *s;
} emitter;

static void emit(emitter *em, size_t a, size_t b)
{
	while (a < b && is_ws(em->s[a]))
		a++;
	while (b > a && is_ws(em->s[b - 1]))
		b--;
	if (a >= b)
		return;
	if (em->count < em->max) {
		em->out[em->count].start = (uint32_t)a;
		em->out[em->count].end = (uint32_t)b;
	}
	em->count++;
}

size_t cn_sentences(const char *text, size_t n, cn_span *out, size_t max)
{
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	const uint8_t *s = (const uint8_t *)text;
	emitter em = {out, out ? max : 0, 0, s};
	size_t start = 0, i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == '\n') {
			size_t j = i + 1;
			while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
				j++;
			if (j < n && s[j] == '\n') {
				emit(&em, start, i);
				start = i = j + 1;
				continue;
			}
			i++;
			continue;
		}
		size_t tl = c >= 0x80 ? cjk_term_len(s, n, i) : 0;
		if (tl) {
			size_t j = i + tl;
			for (size_t l; j < n && ((l = cjk_term_len(s, n, j)) || (l = closer_len(s, n, j)));)
				j += l;
			emit(&em, start, j);
			start = i = j;
			continue;
		}
		if (c != '.' && c != '!' && c != '?') {
			i++;
			continue;
		}
		size_t j = i;
		bool strong = false;
		while (j < n && (s[j] == '.' || s[j] == '!' || s[j] == '?')) {
			strong |= s[j] != '.';
			j++;
		}
		size_t dots = j - i;
		for (size_t l; j < n && (l = closer_len(s, n, j));)
			j += l;
		if (j < n && !is_ws(s[j])) {
			i = j; /* "3.14", "U.S.A", "a.b": no break */
			continue;
		}
		if (!strong) {
			size_t k = j;
			while (k < n && is_ws(s[k]))
				k++;
			if (k < n) {
				uint8_t d = s[k];
				bool cont = (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9') || d == ',' ||
				            d == ';' || d == ':';
				if (!cont && dots == 1 && dot_continues(s, i))
					cont = true;
				if (cont) {
					i = j;
					continue;
				}
			}
		}
		emit(&em, start, j);
		start = i = j;
	}
	emit(&em, start, n);
	return em.count;
}

cairn_status cn_sentences_all(const char *s, size_t n, cn_span **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	size_t total = cn_sentences(s, n, NULL, 0);
	if (!total)
		return CAIRN_OK;
	size_t bytes;
	if (cn_mul_overflows(total, sizeof(cn_span), &bytes))
		return CAIRN_ENOMEM;
	cn_span *v = cn_malloc(bytes);
	if (!v)
		return CAIRN_ENOMEM;
	*count = cn_sentences(s, n, v, total);
	*out = v;
	return CAIRN_OK;
}
