/*
 * The verifier: does the passage a sentence cites support it? Without a model the checks are
 * lexical and numeric, and deliberately conservative:
 *  - found: the sentence occurs in the passage once whitespace runs are collapsed (an
 *    extractive answer must always pass this; a paraphrase will not);
 *  - lexical: the share of the sentence's words (lower-cased letter/digit runs) that occur in
 *    the passage — a paraphrase that reuses the passage's words scores high;
 *  - numbers: every number of the sentence (digits with inner "." or ",", commas dropped so
 *    "30,847" = "30847") occurs as a number in the passage — the check that catches the
 *    fabricated or altered figure, the commonest harmful error of generated answers.
 * Supported = found, or lexical >= 0.8 with every number present. A model-based verifier
 * (entailment) will add to this, not replace it: numbers must still match.
 *
 * Generated sentences (cn_verify_generated) are paraphrases, so they are checked against the
 * whole of the passages they cite rather than one quoted sentence, and their words are
 * compared as the index analyses them (stems, no stopwords) when an analyzer is given:
 * "leaves" matches "leave", and "the"/"is" neither help nor hurt. Words that only attribute
 * ("according to the passage") are left out — they are not claims. The number rule is the
 * same and is the one that matters most: a generated figure must be in a cited passage.
 */
#include "answer/answer.h"
#include "lex/lex.h"
#include "text/text.h"

#include <ctype.h>
#include <string.h>

#define LEXICAL_MIN 0.8

/* Distinct lower-cased words (runs of ASCII letters/digits and any non-ASCII bytes). */
static cairn_status words_of(const char *s, size_t n, cn_strmap *set, size_t *count, bool add)
{
	char w[64];
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c >= 0x80)) {
			i++;
			continue;
		}
		size_t j = i, m = 0;
		while (j < n && (isalnum((unsigned char)s[j]) || (unsigned char)s[j] >= 0x80)) {
			if (m < sizeof w)
				w[m++] = (char)tolower((unsigned char)s[j]);
			j++;
		}
		if (add) {
			uint32_t id;
			bool added;
			if (cn_strmap_put(set, w, m, &id, &added))
				return CAIRN_ENOMEM;
		} else if (count) {
			count[0]++;
			if (cn_strmap_get(set, w, m) != UINT32_MAX)
				count[1]++;
		}
		i = j;
	}
	return CAIRN_OK;
}

/* Numbers: a digit run with inner '.' or ',' followed by a digit; commas dropped, a
 * trailing ".0…" kept as written. Calls fn for each. */
static cairn_status numbers_of(const char *s, size_t n, cn_strmap *set, bool *all_in)
{
	char num[64];
	for (size_t i = 0; i < n;) {
		if (!isdigit((unsigned char)s[i]) || (i > 0 && isalpha((unsigned char)s[i - 1]))) {
			/* digits glued to letters ("COVID-19" is fine, "H1N1" is a name): skip the word */
			if (isdigit((unsigned char)s[i]))
				while (i < n && isalnum((unsigned char)s[i]))
					i++;
			else
				i++;
			continue;
		}
		size_t m = 0, j = i;
		while (j < n) {
			char c = s[j];
			if (isdigit((unsigned char)c)) {
				if (m < sizeof num)
					num[m++] = c;
				j++;
			} else if ((c == '.' || c == ',') && j + 1 < n && isdigit((unsigned char)s[j + 1])) {
				if (c == '.' && m < sizeof num)
					num[m++] = c;
				j++;
			} else {
				break;
			}
		}
		if (all_in) {
			if (cn_strmap_get(set, num, m) == UINT32_MAX)
				*all_in = false;
		} else {
			uint32_t id;
			bool added;
			if (cn_strmap_put(set, num, m, &id, &added))
				return CAIRN_ENOMEM;
		}
		i = j;
	}
	return CAIRN_OK;
}

void cn_verify_text(const char *text, size_t tlen, const char *passage, size_t plen, cn_verdict *out)
{
	memset(out, 0, sizeof *out);
	cn_buf a, b;
	cn_buf_init(&a);
	cn_buf_init(&b);
	cn_ws_collapse(&a, text, tlen);
	cn_ws_collapse(&b, passage, plen);
	if (!a.failed && !b.failed && a.len > 0)
		out->found = b.len >= a.len && memmem(b.data, b.len, a.data, a.len) != NULL;
	cn_buf_free(&a);
	cn_buf_free(&b);

	cn_strmap words, nums;
	cn_strmap_init(&words);
	cn_strmap_init(&nums);
	size_t count[2] = {0, 0};
	bool ok = words_of(passage, plen, &words, NULL, true) == CAIRN_OK &&
	          words_of(text, tlen, &words, count, false) == CAIRN_OK;
	out->lexical = ok && count[0] ? (double)count[1] / (double)count[0] : 0.0;
	bool all_in = true;
	ok = ok && numbers_of(passage, plen, &nums, NULL) == CAIRN_OK && numbers_of(text, tlen, &nums, &all_in) == CAIRN_OK;
	out->numbers_ok = ok && all_in;
	out->supported = out->found || (out->lexical >= LEXICAL_MIN && out->numbers_ok);
	if (!out->numbers_ok)
		out->supported = false; /* even a "found" text cannot cite a passage lacking its numbers */
	cn_strmap_free(&words);
	cn_strmap_free(&nums);
}

/* ---- generated sentences ---- */

/* Words that attribute a claim rather than make one ("according to the passage", "the
 * documents state"): a paraphrase may add them without adding content. Lower-case surface
 * forms. */
static bool attribution_word(const char *w, size_t n)
{
	static const char *const words[] = {
		"according", "passage", "passages", "document", "documents", "source", "sources", "text",
		"states", "stated", "state", "says", "said", "mentions", "mentioned", "notes", "noted",
		"describes", "described", "explains", "explained", "indicates", "indicated",
	};
	for (size_t i = 0; i < CN_ARRAY_LEN(words); i++)
		if (strlen(words[i]) == n && !memcmp(words[i], w, n))
			return true;
	return false;
}

static bool attribution_at(const char *text, const cn_token *t)
{
	char w[16];
	size_t n = t->end - t->start;
	if (n >= sizeof w)
		return false;
	for (size_t i = 0; i < n; i++)
		w[i] = (char)tolower((unsigned char)text[t->start + i]);
	return attribution_word(w, n);
}

/* Share of the distinct terms of text found among the passages' terms (an analyzer) or
 * lower-cased words (no analyzer). */
static cairn_status term_share(cn_analyzer *an, const char *text, size_t tlen, const char *const *ps, const size_t *pl,
                               size_t np, double *share)
{
	*share = 0;
	cn_strmap have, seen;
	cn_strmap_init(&have);
	cn_strmap_init(&seen);
	cairn_status st = CAIRN_OK;
	size_t total = 0, hit = 0;
	if (!an) {
		for (size_t i = 0; !st && i < np; i++)
			st = words_of(ps[i], pl[i], &have, NULL, true);
		/* distinct words of the text, attribution words aside */
		char w[64];
		for (size_t i = 0; !st && i < tlen;) {
			unsigned char c = (unsigned char)text[i];
			if (!(isalnum(c) || c >= 0x80)) {
				i++;
				continue;
			}
			size_t j = i, m = 0;
			while (j < tlen && (isalnum((unsigned char)text[j]) || (unsigned char)text[j] >= 0x80)) {
				if (m < sizeof w)
					w[m++] = (char)tolower((unsigned char)text[j]);
				j++;
			}
			i = j;
			if (attribution_word(w, m))
				continue;
			uint32_t id;
			bool added;
			if (cn_strmap_put(&seen, w, m, &id, &added)) {
				st = CAIRN_ENOMEM;
				break;
			}
			if (added) {
				total++;
				hit += cn_strmap_get(&have, w, m) != UINT32_MAX;
			}
		}
	} else {
		cn_tokens t;
		cn_tokens_init(&t);
		for (size_t i = 0; !st && i < np; i++) {
			cn_tokens_reset(&t);
			st = cn_analyze(an, ps[i], pl[i], 0, &t);
			for (size_t k = 0; !st && k < t.n; k++) {
				uint32_t id;
				if (cn_strmap_put(&have, cn_token_term(&t, k), t.v[k].term_len, &id, NULL))
					st = CAIRN_ENOMEM;
			}
		}
		cn_tokens_reset(&t);
		if (!st)
			st = cn_analyze(an, text, tlen, 0, &t);
		for (size_t k = 0; !st && k < t.n; k++) {
			if (attribution_at(text, &t.v[k]))
				continue;
			uint32_t id;
			bool added;
			if (cn_strmap_put(&seen, cn_token_term(&t, k), t.v[k].term_len, &id, &added)) {
				st = CAIRN_ENOMEM;
				break;
			}
			if (added) {
				total++;
				hit += cn_strmap_get(&have, cn_token_term(&t, k), t.v[k].term_len) != UINT32_MAX;
			}
		}
		cn_tokens_free(&t);
	}
	if (!st)
		*share = total ? (double)hit / (double)total : 0.0;
	cn_strmap_free(&have);
	cn_strmap_free(&seen);
	return st;
}

cairn_status cn_verify_generated(cn_analyzer *an, const char *text, size_t tlen, const char *const *passages,
                                 const size_t *plens, size_t np, cn_verdict *out)
{
	memset(out, 0, sizeof *out);
	cairn_status st = CAIRN_OK;
	cn_buf a, b;
	cn_buf_init(&a);
	cn_buf_init(&b);
	cn_ws_collapse(&a, text, tlen);
	for (size_t i = 0; i < np && !out->found && !a.failed && a.len; i++) {
		cn_buf_reset(&b);
		cn_ws_collapse(&b, passages[i], plens[i]);
		if (b.failed)
			break;
		out->found = b.len >= a.len && memmem(b.data, b.len, a.data, a.len) != NULL;
	}
	if (a.failed || b.failed)
		st = CAIRN_ENOMEM;
	cn_buf_free(&a);
	cn_buf_free(&b);
	if (!st)
		st = term_share(an, text, tlen, passages, plens, np, &out->lexical);
	cn_strmap nums;
	cn_strmap_init(&nums);
	bool all_in = true;
	for (size_t i = 0; !st && i < np; i++)
		st = numbers_of(passages[i], plens[i], &nums, NULL);
	if (!st)
		st = numbers_of(text, tlen, &nums, &all_in);
	cn_strmap_free(&nums);
	out->numbers_ok = !st && all_in;
	out->supported = np > 0 && out->numbers_ok && (out->found || out->lexical >= LEXICAL_MIN);
	return st;
}
