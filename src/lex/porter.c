/*
 * The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980) exactly as
 * Lucene's PorterStemFilter applies it, which is what Anserini's default analyzer (and so
 * every published Pyserini/Anserini BM25 run) uses.
 *
 * Lucene's PorterStemmer follows Porter's own reference implementation, which departs from
 * the 1980 paper in two rules of step 2: "-bli" → "-ble" (instead of "-abli" → "-able") and
 * "-logi" → "-log" (new). Snowball's "porter" algorithm follows the paper, so libstemmer
 * stems "possibly"/"biology" differently; this file exists so cairn's index terms are the
 * ones Lucene would produce, and because a direct implementation is several times faster
 * than the generic Snowball runtime. Like Lucene, words of one or two letters are left
 * alone, and only ASCII lower-case letters are stemmed (a word holding any other byte is
 * returned unchanged, as Lucene's stemmer does for non-letters in practice: its rules only
 * ever match ASCII suffixes; we keep such words intact rather than half-stem them).
 *
 * The state is the word in b[0..k] (inclusive end, Porter's convention) and j, the end of
 * the stem a rule is testing.
 */
#include "lex/lexint.h"

#include <string.h>

typedef struct pstem {
	char *b;
	int k, j;
} pstem;

/* b[i] is a consonant: not a vowel, and 'y' only after a vowel (or at the start). */
static bool cons(const pstem *z, int i)
{
	switch (z->b[i]) {
	case 'a': case 'e': case 'i': case 'o': case 'u': return false;
	case 'y': return i == 0 ? true : !cons(z, i - 1);
	default: return true;
	}
}

/* m(): the number of VC sequences in b[0..j]. */
static int measure(const pstem *z)
{
	int n = 0, i = 0;
	for (;;) {
		if (i > z->j)
			return n;
		if (!cons(z, i))
			break;
		i++;
	}
	i++;
	for (;;) {
		for (;;) {
			if (i > z->j)
				return n;
			if (cons(z, i))
				break;
			i++;
		}
		i++;
		n++;
		for (;;) {
			if (i > z->j)
				return n;
			if (!cons(z, i))
				break;
			i++;
		}
		i++;
	}
}

static bool vowel_in_stem(const pstem *z)
{
	for (int i = 0; i <= z->j; i++)
		if (!cons(z, i))
			return true;
	return false;
}

static bool double_cons(const pstem *z, int j)
{
	return j >= 1 && z->b[j] == z->b[j - 1] && cons(z, j);
}

/* cvc(i): b[i-2..i] is consonant-vowel-consonant and b[i] is not w, x or y. */
static bool cvc(const pstem *z, int i)
{
	if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2))
		return false;
	char ch = z->b[i];
	return ch != 'w' && ch != 'x' && ch != 'y';
}

/* ends(s): b[0..k] ends with s; sets j to the end of the stem before it. */
static bool ends(pstem *z, const char *s)
{
	int len = (int)strlen(s);
	if (len > z->k + 1 || memcmp(z->b + z->k - len + 1, s, (size_t)len) != 0)
		return false;
	z->j = z->k - len;
	return true;
}

/* setto(s): replace b[j+1..k] by s. */
static void setto(pstem *z, const char *s)
{
	int len = (int)strlen(s);
	memcpy(z->b + z->j + 1, s, (size_t)len);
	z->k = z->j + len;
}

static void r(pstem *z, const char *s)
{
	if (measure(z) > 0)
		setto(z, s);
}

/* Plurals and -ed / -ing. */
static void step1ab(pstem *z)
{
	if (z->b[z->k] == 's') {
		if (ends(z, "sses"))
			z->k -= 2;
		else if (ends(z, "ies"))
			setto(z, "i");
		else if (z->b[z->k - 1] != 's')
			z->k--;
	}
	if (ends(z, "eed")) {
		if (measure(z) > 0)
			z->k--;
	} else if ((ends(z, "ed") || ends(z, "ing")) && vowel_in_stem(z)) {
		z->k = z->j;
		if (ends(z, "at"))
			setto(z, "ate");
		else if (ends(z, "bl"))
			setto(z, "ble");
		else if (ends(z, "iz"))
			setto(z, "ize");
		else if (double_cons(z, z->k)) {
			char ch = z->b[z->k];
			if (ch != 'l' && ch != 's' && ch != 'z')
				z->k--;
		} else if (measure(z) == 1 && cvc(z, z->k)) {
			z->j = z->k; /* setto appends after j */
			setto(z, "e");
		}
	}
}

/* Terminal y → i when there is another vowel in the stem. */
static void step1c(pstem *z)
{
	if (ends(z, "y") && vowel_in_stem(z))
		z->b[z->k] = 'i';
}

/* Double suffixes to single ones, when m() > 0. */
static void step2(pstem *z)
{
	if (z->k < 1)
		return;
	switch (z->b[z->k - 1]) {
	case 'a':
		if (ends(z, "ational")) { r(z, "ate"); break; }
		if (ends(z, "tional")) { r(z, "tion"); break; }
		break;
	case 'c':
		if (ends(z, "enci")) { r(z, "ence"); break; }
		if (ends(z, "anci")) { r(z, "ance"); break; }
		break;
	case 'e':
		if (ends(z, "izer")) { r(z, "ize"); break; }
		break;
	case 'l':
		if (ends(z, "bli")) { r(z, "ble"); break; } /* departure: the paper has abli → able */
		if (ends(z, "alli")) { r(z, "al"); break; }
		if (ends(z, "entli")) { r(z, "ent"); break; }
		if (ends(z, "eli")) { r(z, "e"); break; }
		if (ends(z, "ousli")) { r(z, "ous"); break; }
		break;
	case 'o':
		if (ends(z, "ization")) { r(z, "ize"); break; }
		if (ends(z, "ation")) { r(z, "ate"); break; }
		if (ends(z, "ator")) { r(z, "ate"); break; }
		break;
	case 's':
		if (ends(z, "alism")) { r(z, "al"); break; }
		if (ends(z, "iveness")) { r(z, "ive"); break; }
		if (ends(z, "fulness")) { r(z, "ful"); break; }
		if (ends(z, "ousness")) { r(z, "ous"); break; }
		break;
	case 't':
		if (ends(z, "aliti")) { r(z, "al"); break; }
		if (ends(z, "iviti")) { r(z, "ive"); break; }
		if (ends(z, "biliti")) { r(z, "ble"); break; }
		break;
	case 'g':
		if (ends(z, "logi")) { r(z, "log"); break; } /* departure: not in the paper */
		break;
	default: break;
	}
}

/* -ic-, -full, -ness and the like. */
static void step3(pstem *z)
{
	switch (z->b[z->k]) {
	case 'e':
		if (ends(z, "icate")) { r(z, "ic"); break; }
		if (ends(z, "ative")) { r(z, ""); break; }
		if (ends(z, "alize")) { r(z, "al"); break; }
		break;
	case 'i':
		if (ends(z, "iciti")) { r(z, "ic"); break; }
		break;
	case 'l':
		if (ends(z, "ical")) { r(z, "ic"); break; }
		if (ends(z, "ful")) { r(z, ""); break; }
		break;
	case 's':
		if (ends(z, "ness")) { r(z, ""); break; }
		break;
	default: break;
	}
}

/* -ant, -ence and the like, when m() > 1. */
static void step4(pstem *z)
{
	if (z->k < 1)
		return;
	switch (z->b[z->k - 1]) {
	case 'a':
		if (ends(z, "al")) break;
		return;
	case 'c':
		if (ends(z, "ance")) break;
		if (ends(z, "ence")) break;
		return;
	case 'e':
		if (ends(z, "er")) break;
		return;
	case 'i':
		if (ends(z, "ic")) break;
		return;
	case 'l':
		if (ends(z, "able")) break;
		if (ends(z, "ible")) break;
		return;
	case 'n':
		if (ends(z, "ant")) break;
		if (ends(z, "ement")) break;
		if (ends(z, "ment")) break;
		if (ends(z, "ent")) break;
		return;
	case 'o':
		if (ends(z, "ion") && z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't')) break;
		if (ends(z, "ou")) break;
		return;
	case 's':
		if (ends(z, "ism")) break;
		return;
	case 't':
		if (ends(z, "ate")) break;
		if (ends(z, "iti")) break;
		return;
	case 'u':
		if (ends(z, "ous")) break;
		return;
	case 'v':
		if (ends(z, "ive")) break;
		return;
	case 'z':
		if (ends(z, "ize")) break;
		return;
	default: return;
	}
	if (measure(z) > 1)
		z->k = z->j;
}

/* A final -e, and -ll → -l, when m() > 1. */
static void step5(pstem *z)
{
	z->j = z->k;
	if (z->b[z->k] == 'e') {
		int a = measure(z);
		if (a > 1 || (a == 1 && !cvc(z, z->k - 1)))
			z->k--;
	}
	if (z->b[z->k] == 'l' && double_cons(z, z->k) && measure(z) > 1)
		z->k--;
}

size_t cn_porter_stem(char *w, size_t n)
{
	if (n <= 2)
		return n;
	for (size_t i = 0; i < n; i++)
		if (w[i] < 'a' || w[i] > 'z')
			return n;
	pstem z = {w, (int)n - 1, 0};
	step1ab(&z);
	if (z.k > 0) {
		step1c(&z);
		step2(&z);
		step3(&z);
		step4(&z);
		step5(&z);
	}
	return (size_t)z.k + 1;
}
