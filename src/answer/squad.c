/*
 * SQuAD v1.1 answer scoring, as the official evaluate-v1.1.py computes it, so numbers are
 * comparable with published extractive-QA results:
 *   normalize = white_space_fix(remove_articles(remove_punc(lower(s))))
 * where lower is Python's str.lower (full Unicode lower-casing: utf8proc's simple mapping
 * plus the one multi-character case, U+0130), remove_punc drops the 32 ASCII characters of
 * string.punctuation, remove_articles is re.sub(r'\b(a|an|the)\b', ' ') with Python's
 * Unicode word characters (letters, numbers, '_'), and white_space_fix splits on Python's
 * str.split() whitespace. EM compares the normalised strings; F1 is the harmonic mean of
 * token precision and recall over the multiset of normalised tokens (0 when nothing is in
 * common, even for two empty strings — as the script does).
 * tests/reference/squad_eval.py is the official logic; the unit test compares them.
 */
#include "answer/answer.h"
#include "text/text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool py_space(int32_t c)
{
	return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

static bool py_word(int32_t c)
{
	if (c == '_')
		return true;
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	utf8proc_category_t cat = utf8proc_category(c);
	return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	       (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

static bool ascii_punct(int32_t c)
{
	return c < 0x80 && c > 0x20 && c != 0x7f && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	                                              (c >= 'A' && c <= 'Z'));
}

static bool cased(int32_t c)
{
	utf8proc_category_t cat = utf8proc_category(c);
	return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

/* Unicode's Case_Ignorable, as far as it matters here: marks, format characters, modifier
 * letters and symbols, and the MidLetter/MidNumLet apostrophes, periods and colons. */
static bool case_ignorable(int32_t c)
{
	if (c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xB7 || c == 0x2018 || c == 0x2019 ||
	    c == 0x2024 || c == 0x2027 || c == 0xFE52 || c == 0xFF07 || c == 0xFF0E || c == 0x387 || c == 0xFE13 ||
	    c == 0xFE55 || c == 0xFF1A)
		return true;
	utf8proc_category_t cat = utf8proc_category(c);
	return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
	       cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK;
}

/* Python's str.lower maps Σ to final ς when a cased letter precedes it and none follows
 * (case-ignorable characters skipped both ways). */
static bool final_sigma(const int32_t *raw, size_t n, size_t i)
{
	size_t j = i;
	bool before = false, after = false;
	while (j > 0) {
		j--;
		if (case_ignorable(raw[j]))
			continue;
		before = cased(raw[j]);
		break;
	}
	for (j = i + 1; j < n; j++) {
		if (case_ignorable(raw[j]))
			continue;
		after = cased(raw[j]);
		break;
	}
	return before && !after;
}

/* Code points after lower + remove_punc (invalid bytes become U+FFFD, as Python's decoder
 * with errors="replace" would give). */
static int32_t *lower_nopunct(const char *s, size_t n, size_t *count)
{
	int32_t *cp = cn_malloc((2 * n + 1) * sizeof *cp);
	int32_t *raw = cn_malloc((n + 1) * sizeof *raw);
	if (!cp || !raw) {
		cn_free(cp);
		cn_free(raw);
		return NULL;
	}
	size_t nr = 0;
	for (size_t i = 0; i < n;) {
		int32_t c;
		size_t used = cn_utf8_decode(s + i, n - i, &c);
		i += used ? used : 1;
		raw[nr++] = c < 0 ? 0xFFFD : c;
	}
	size_t k = 0;
	for (size_t i = 0; i < nr; i++) {
		int32_t c = raw[i];
		if (c == 0x130) { /* İ → i + combining dot above */
			cp[k++] = 'i';
			cp[k++] = 0x307;
			continue;
		}
		c = c == 0x3A3 && final_sigma(raw, nr, i) ? 0x3C2 : utf8proc_tolower(c);
		if (ascii_punct(c))
			continue;
		cp[k++] = c;
	}
	cn_free(raw);
	*count = k;
	return cp;
}

void cn_squad_normalize(cn_buf *out, const char *s, size_t n)
{
	size_t k = 0;
	int32_t *cp = lower_nopunct(s, n, &k);
	if (!cp) {
		out->failed = true;
		return;
	}
	/* remove_articles: a word-character run equal to a/an/the (bounded by non-word
	 * characters) becomes a space. */
	for (size_t i = 0; i < k;) {
		if (!py_word(cp[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < k && py_word(cp[j]))
			j++;
		size_t len = j - i;
		bool art = (len == 1 && cp[i] == 'a') || (len == 2 && cp[i] == 'a' && cp[i + 1] == 'n') ||
		           (len == 3 && cp[i] == 't' && cp[i + 1] == 'h' && cp[i + 2] == 'e');
		if (art)
			for (size_t m = i; m < j; m++)
				cp[m] = ' ';
		i = j;
	}
	/* white_space_fix */
	bool need_space = false, any = false;
	for (size_t i = 0; i < k; i++) {
		if (py_space(cp[i])) {
			need_space = any;
			continue;
		}
		if (need_space)
			cn_buf_putc(out, ' ');
		need_space = false;
		any = true;
		char enc[4];
		size_t el = cn_utf8_encode(cp[i], enc);
		if (!el) { /* a surrogate cannot come from valid UTF-8; keep the output valid */
			el = cn_utf8_encode(0xFFFD, enc);
		}
		cn_buf_append(out, enc, el);
	}
	cn_free(cp);
}

static char *normalized(const char *s)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_squad_normalize(&b, s, strlen(s));
	cn_buf_putc(&b, '\0');
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

double cn_squad_exact(const char *pred, const char *gold)
{
	char *a = normalized(pred), *b = normalized(gold);
	double r = a && b && strcmp(a, b) == 0 ? 1.0 : 0.0;
	cn_free(a);
	cn_free(b);
	return r;
}

/* Splits a normalised string (single spaces) in place into tokens. */
static size_t split_tokens(char *s, char ***out)
{
	size_t n = 0, cap = 0;
	char **v = NULL;
	for (char *p = s; *p;) {
		char *e = strchr(p, ' ');
		if (CN_GROW(v, cap, n + 1)) {
			cn_free(v);
			*out = NULL;
			return (size_t)-1;
		}
		v[n++] = p;
		if (!e)
			break;
		*e = '\0';
		p = e + 1;
	}
	*out = v;
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

double cn_squad_f1(const char *pred, const char *gold)
{
	char *a = normalized(pred), *b = normalized(gold);
	char **ta = NULL, **tb = NULL;
	double f1 = 0;
	size_t na = a ? split_tokens(a, &ta) : (size_t)-1;
	size_t nb = b ? split_tokens(b, &tb) : (size_t)-1;
	if (na != (size_t)-1 && nb != (size_t)-1 && na && nb) {
		/* Multiset intersection by merging the sorted token lists. */
		qsort(ta, na, sizeof *ta, cmp_str);
		qsort(tb, nb, sizeof *tb, cmp_str);
		size_t i = 0, j = 0, same = 0;
		while (i < na && j < nb) {
			int c = strcmp(ta[i], tb[j]);
			if (c == 0) {
				same++;
				i++;
				j++;
			} else if (c < 0) {
				i++;
			} else {
				j++;
			}
		}
		if (same) {
			double p = (double)same / (double)na, r = (double)same / (double)nb;
			f1 = 2 * p * r / (p + r);
		}
	}
	cn_free(ta);
	cn_free(tb);
	cn_free(a);
	cn_free(b);
	return f1;
}
