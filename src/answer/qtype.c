/*
 * Question types and answer-span candidates, by hand-written rules rather than a model.
 *
 * Why rules: the extractive answerer must run with no model at all, and factoid questions
 * signal the kind of answer in their first words ("how many", "when", "what percentage").
 * The rules below are the classic ones of pre-neural QA systems (answer-type taxonomy plus
 * surface patterns for numbers, dates, names), kept small and general: nothing here is
 * specific to a data set. A question the rules do not recognise is answered in sentences,
 * which is always safe.
 *
 * Spans are found on a simple word split of the sentence (runs of non-space bytes with
 * surrounding punctuation trimmed), which keeps byte offsets exact; every candidate is a
 * byte range of the sentence, so a span quoted in an answer is verbatim evidence.
 */
#include "answer/answer.h"

#include <ctype.h>
#include <string.h>

static const char *const qtype_names[CN_QT_COUNT_] = {
	"sentence", "number", "quantity", "duration", "percent", "date", "person", "place", "definition",
};

const char *cn_qtype_name(cn_qtype t) { return t >= 0 && t < CN_QT_COUNT_ ? qtype_names[t] : "sentence"; }

static bool in_list(const char *w, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, w, n) == 0)
			return true;
	return false;
}

static const char *const question_words[] = {
	"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whats", "what's",
	"does", "do", "did", "can", "could", "would", "should", "may", "might", "has", "have", "had",
	"were", "been", "being", "many", "much", "i", "you", "we", "me", "my", "our", "your",
	"describe", "explain", "tell", "name", "list", "give", "kind", "type", "s", NULL,
};

bool cn_question_word(const char *w, size_t n) { return in_list(w, n, question_words); }

static const char *const how_words[] = {
	"long", "old", "large", "big", "small", "high", "far", "often", "frequently", "fast", "heavy", "tall",
	"wide", "deep", "low", "short", "soon", NULL,
};

bool cn_question_word_after_how(const char *w, size_t n) { return in_list(w, n, how_words); }

/* Lower-case ASCII words of the question (letters, digits, apostrophes), at most max. */
typedef struct qword {
	char w[24];
	size_t n;
} qword;

static size_t question_words_of(const char *q, size_t n, qword *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < max;) {
		unsigned char c = (unsigned char)q[i];
		if (!isalnum(c)) {
			i++;
			continue;
		}
		size_t j = i, m = 0;
		while (j < n && (isalnum((unsigned char)q[j]) || q[j] == '\'')) {
			if (q[j] != '\'' && m < sizeof out[k].w - 1)
				out[k].w[m++] = (char)tolower((unsigned char)q[j]);
			j++;
		}
		out[k].w[m] = '\0';
		out[k].n = m;
		k++;
		i = j;
	}
	return k;
}

static bool is(const qword *w, const char *s) { return strcmp(w->w, s) == 0; }

static const char *const copulas[] = {"is", "are", "was", "were", "s", NULL};
static const char *const measure_number[] = {"number", "count", "numbers", NULL};
static const char *const measure_percent[] = {"percentage", "percent", "proportion", "fraction", "share", NULL};
static const char *const measure_duration[] = {"duration", "period", "interval", "delay", "lifetime", "half-life", NULL};
static const char *const measure_date[] = {"year", "date", "month", "day", "decade", "century", NULL};
static const char *const measures[] = {
	"size", "length", "duration", "period", "rate", "age", "weight", "dose", "dosage", "concentration",
	"temperature", "time", "mortality", "fatality", "cost", "amount", "frequency", "speed", "distance",
	"height", "ratio", "prevalence", "incidence", "range", "median", "mean", "average", "level", "volume",
	"diameter", "titer", "titre", "population", "price", "value", "probability", "risk", "r0", "efficacy",
	"sensitivity", "specificity", "capacity", "width", "depth", "limit", "minimum", "maximum", NULL,
};
static const char *const how_quantity[] = {
	"much", "long", "old", "large", "big", "small", "high", "far", "often", "frequently", "fast",
	"heavy", "tall", "wide", "deep", "low", "short", "soon", NULL,
};

/* Type of a noun phrase that follows "what (is the)": scanned up to its end ("of", "for",
 * "in", …) — "what is the average incubation period of …" is a quantity. */
static cn_qtype measure_type(const qword *w, size_t n)
{
	/* the most specific kind named in the phrase wins: "mean incubation period" is a duration */
	static const cn_qtype order[] = {CN_QT_PERCENT, CN_QT_NUMBER, CN_QT_DURATION, CN_QT_DATE, CN_QT_QUANTITY};
	bool has[CN_QT_COUNT_] = {false};
	for (size_t i = 0; i < n && i < 4; i++) {
		if (is(&w[i], "of") || is(&w[i], "for") || is(&w[i], "in") || is(&w[i], "that") || is(&w[i], "to"))
			break;
		has[CN_QT_PERCENT] |= in_list(w[i].w, w[i].n, measure_percent);
		has[CN_QT_NUMBER] |= in_list(w[i].w, w[i].n, measure_number);
		has[CN_QT_DURATION] |= in_list(w[i].w, w[i].n, measure_duration);
		has[CN_QT_DATE] |= in_list(w[i].w, w[i].n, measure_date);
		has[CN_QT_QUANTITY] |= in_list(w[i].w, w[i].n, measures);
	}
	for (size_t i = 0; i < CN_ARRAY_LEN(order); i++)
		if (has[order[i]])
			return order[i];
	return CN_QT_SENTENCE;
}

cn_qtype cn_question_type(const char *q, size_t n)
{
	qword w[16];
	size_t nw = question_words_of(q, n, w, CN_ARRAY_LEN(w));
	size_t i = 0;
	/* The wh-word may follow a preposition: "In what year …", "At what age …". */
	while (i < nw && i < 3 && !(is(&w[i], "what") || is(&w[i], "which") || is(&w[i], "who") || is(&w[i], "whom") ||
	                            is(&w[i], "when") || is(&w[i], "where") || is(&w[i], "how") || is(&w[i], "whats") ||
	                            is(&w[i], "why") || is(&w[i], "whose")))
		i++;
	if (i >= nw || i >= 3)
		return CN_QT_SENTENCE;
	const qword *h = &w[i];
	const qword *n1 = i + 1 < nw ? &w[i + 1] : NULL;
	size_t rest = nw - i - 1;
	if (is(h, "when"))
		return CN_QT_DATE;
	if (is(h, "where"))
		return CN_QT_PLACE;
	if (is(h, "who") || is(h, "whom"))
		return CN_QT_PERSON;
	if (is(h, "why") || is(h, "whose"))
		return CN_QT_SENTENCE;
	if (is(h, "how")) {
		if (!n1)
			return CN_QT_SENTENCE;
		if (is(n1, "many"))
			return CN_QT_NUMBER;
		if (is(n1, "long") || is(n1, "soon") || is(n1, "often"))
			return CN_QT_DURATION;
		if (in_list(n1->w, n1->n, how_quantity))
			return CN_QT_QUANTITY;
		return CN_QT_SENTENCE;
	}
	/* what / which / what's */
	if (is(h, "whats")) /* "what's X": as "what is X" */
		return rest ? (measure_type(&w[i + 1], rest) != CN_QT_SENTENCE ? measure_type(&w[i + 1], rest)
		                                                                 : CN_QT_DEFINITION)
		            : CN_QT_SENTENCE;
	if (!n1)
		return CN_QT_SENTENCE;
	cn_qtype mt = measure_type(&w[i + 1], rest);
	if (mt != CN_QT_SENTENCE && !in_list(n1->w, n1->n, copulas))
		return mt; /* "what year …", "what percentage of …", "which proportion …" */
	if (in_list(n1->w, n1->n, copulas) && rest >= 2) {
		size_t j = i + 2;
		if (j < nw && (is(&w[j], "the") || is(&w[j], "a") || is(&w[j], "an")))
			j++;
		cn_qtype t = j < nw ? measure_type(&w[j], nw - j) : CN_QT_SENTENCE;
		if (t != CN_QT_SENTENCE)
			return t;
		return is(h, "what") ? CN_QT_DEFINITION : CN_QT_SENTENCE;
	}
	return CN_QT_SENTENCE;
}

/* ---- spans ---- */

typedef struct word {
	uint32_t start, end; /* trimmed of surrounding punctuation */
	uint32_t raw_end;    /* before trimming: punctuation after the word ends a clause */
} word;

static bool trim_char(unsigned char c)
{
	return c == ',' || c == ';' || c == ':' || c == '(' || c == ')' || c == '[' || c == ']' || c == '"' ||
	       c == '\'' || c == '.' || c == '!' || c == '?' || c == '{' || c == '}';
}

static size_t split_words(const char *s, size_t n, word *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < max;) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i >= n)
			break;
		size_t j = i;
		while (j < n && !isspace((unsigned char)s[j]))
			j++;
		size_t a = i, b = j;
		while (a < b && trim_char((unsigned char)s[a]))
			a++;
		while (b > a && trim_char((unsigned char)s[b - 1]) && !(s[b - 1] == '.' && b - a <= 3 && b - a >= 2 &&
		                                                          isupper((unsigned char)s[a])))
			b--;
		/* "%" is part of a number's word; a lone trailing ")" or "," is not */
		if (b > a) {
			out[k].start = (uint32_t)a;
			out[k].end = (uint32_t)b;
			out[k].raw_end = (uint32_t)j;
			k++;
		}
		i = j;
	}
	return k;
}

static bool wis(const char *s, const word *w, const char *lit)
{
	size_t n = w->end - w->start, m = strlen(lit);
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)s[w->start + i]) != lit[i])
			return false;
	return true;
}

static bool wlist(const char *s, const word *w, const char *const *list)
{
	for (; *list; list++)
		if (wis(s, w, *list))
			return true;
	return false;
}

static const char *const spelled[] = {
	"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
	"thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
	"forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion",
	"dozen", "dozens", "hundreds", "thousands", "millions", "half", "twice", NULL,
};
static const char *const months[] = {
	"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
	"november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
	"dec", NULL,
};
static const char *const modifiers[] = {
	"about", "approximately", "around", "nearly", "almost", "over", "under", "roughly", "some", "only",
	"least", "most", "than", "up", "estimated", "ca", "~", NULL,
};
static const char *const joiners[] = {"to", "and", "-", "–", "or", NULL};
static const char *const not_units[] = {
	"and", "or", "of", "in", "to", "the", "a", "an", "was", "were", "is", "are", "with", "for", "from", "by",
	"at", "on", "as", "that", "which", "than", "but", "after", "before", "during", "between", "et", "al",
	"respectively", "vs", "versus", "while", "whereas", "had", "have", "has", "been", "this", "these", NULL,
};
static const char *const year_preps[] = {
	"in", "since", "from", "until", "till", "by", "during", "of", "early", "late", "mid", "before", "after", NULL,
};
static const char *const time_units[] = {
	"second", "seconds", "s", "sec", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "day",
	"days", "d", "week", "weeks", "wk", "month", "months", "mo", "year", "years", "yr", "yrs", "decade", "decades",
	"night", "nights", NULL,
};
static const char *const percent_words[] = {"%", "percent", "per", NULL};

/* A numeric word: starts with a digit (after an optional sign or comparison), and is
 * mostly digits — "30,847", "2.2", "95%", "20kb", "1:1000" — not "COVID-19" or "H1N1". */
static bool numeric_word(const char *s, const word *w)
{
	size_t a = w->start, b = w->end;
	while (a < b && (s[a] == '~' || s[a] == '<' || s[a] == '>' || s[a] == '+' || s[a] == '-' || s[a] == '='))
		a++;
	if (a < b && (unsigned char)s[a] == 0xe2 && b - a >= 3) /* ≈ ≤ ≥ (U+2248, U+2264, U+2265) */
		a += 3;
	if (a >= b || !isdigit((unsigned char)s[a]))
		return false;
	size_t digits = 0, letters = 0;
	for (size_t i = a; i < b; i++) {
		if (isdigit((unsigned char)s[i]))
			digits++;
		else if (isalpha((unsigned char)s[i]))
			letters++;
	}
	return digits >= letters;
}

static bool spelled_word(const char *s, const word *w) { return wlist(s, w, spelled); }

static bool year_word(const char *s, const word *w)
{
	size_t n = w->end - w->start;
	const char *p = s + w->start;
	if (n == 5 && p[4] == 's') /* 1990s */
		n = 4;
	if (n != 4)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	return y >= 1500 && y <= 2099;
}

static bool day_word(const char *s, const word *w)
{
	size_t n = w->end - w->start;
	const char *p = s + w->start;
	size_t d = 0;
	while (d < n && isdigit((unsigned char)p[d]))
		d++;
	if (d == 0 || d > 2)
		return false;
	if (d == n)
		return true;
	return n - d == 2 && (!strncmp(p + d, "st", 2) || !strncmp(p + d, "nd", 2) || !strncmp(p + d, "rd", 2) ||
	                      !strncmp(p + d, "th", 2));
}

static bool cap_word(const char *s, const word *w)
{
	unsigned char c = (unsigned char)s[w->start];
	return isupper(c) || (c >= 0xc3 && c <= 0xc5 && w->end - w->start > 1 &&
	                      (unsigned char)s[w->start + 1] >= 0x80 && (unsigned char)s[w->start + 1] <= 0x9e);
}

static bool all_protected(const uint8_t *protect, uint32_t a, uint32_t b, const char *s)
{
	if (!protect)
		return false;
	bool any = false;
	for (uint32_t i = a; i < b; i++) {
		if (!isalnum((unsigned char)s[i]))
			continue;
		any = true;
		if (!protect[i])
			return false;
	}
	return any;
}

static bool clause_break(const char *s, const word *w)
{
	/* punctuation right after the word (before the next one) ends its phrase */
	for (uint32_t i = w->end; i < w->raw_end; i++)
		if (s[i] == ',' || s[i] == ';' || s[i] == ':' || s[i] == ')' || s[i] == '.')
			return true;
	return false;
}

static void push(cn_anspan *out, size_t max, size_t *k, uint32_t a, uint32_t b, cn_qtype t)
{
	if (*k < max && b > a) {
		out[*k].start = a;
		out[*k].end = b;
		out[*k].type = t;
		(*k)++;
	}
}

#define MAX_WORDS 512

static size_t numbers(const char *s, const word *w, size_t nw, cn_qtype t, const uint8_t *protect, cn_anspan *out,
                      size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < nw; i++) {
		if (!numeric_word(s, &w[i]) && !spelled_word(s, &w[i]))
			continue;
		if (year_word(s, &w[i]) && i > 0 && (wlist(s, &w[i - 1], year_preps) || wlist(s, &w[i - 1], months)))
			continue; /* "in 2014" is a date, not a count */
		size_t a = i, b = i;
		/* a range: "5 to 14", "2–3", "between 10 and 20" */
		while (b + 2 < nw && !clause_break(s, &w[b]) && wlist(s, &w[b + 1], joiners) &&
		       (numeric_word(s, &w[b + 2]) || spelled_word(s, &w[b + 2])))
			b += 2;
		while (b + 1 < nw && !clause_break(s, &w[b]) && spelled_word(s, &w[b + 1]))
			b++; /* "two hundred", "5 million" */
		if (a > 0 && wlist(s, &w[a - 1], modifiers) && !clause_break(s, &w[a - 1]))
			a--;
		if (a > 0 && (wis(s, &w[a], "than") || wis(s, &w[a], "least") || wis(s, &w[a], "most")) &&
		    (wis(s, &w[a - 1], "more") || wis(s, &w[a - 1], "less") || wis(s, &w[a - 1], "at") ||
		     wis(s, &w[a - 1], "fewer")))
			a--;
		if (a > 0 && wis(s, &w[a - 1], "between") && b > i)
			a--;
		cn_qtype got = CN_QT_NUMBER;
		const char *last = s + w[b].start;
		size_t ll = w[b].end - w[b].start;
		if (ll && last[ll - 1] == '%')
			got = CN_QT_PERCENT;
		/* a unit or the counted noun: "31 kb", "14 days", "30,847 nucleotides", "95 percent" */
		if (b + 1 < nw && !clause_break(s, &w[b])) {
			const word *u = &w[b + 1];
			if (wlist(s, u, percent_words)) {
				got = CN_QT_PERCENT;
				b++;
				if (wis(s, &w[b], "per") && b + 1 < nw && wis(s, &w[b + 1], "cent"))
					b++;
			} else if (!wlist(s, u, not_units) && u->end - u->start <= 16 &&
			           (isalpha((unsigned char)s[u->start]) || s[u->start] == '/' ||
			            (unsigned char)s[u->start] >= 0x80)) {
				b++;
				got = CN_QT_QUANTITY;
				/* "5 mg per kg", "cases per 100,000" */
				if (b + 2 < nw && !clause_break(s, &w[b]) && wis(s, &w[b + 1], "per"))
					b += 2;
			}
		}
		if (all_protected(protect, w[i].start, w[i].end, s))
			continue; /* the question's own number ("stage 3") is not its answer */
		cn_qtype ty = got;
		if (t == CN_QT_NUMBER || t == CN_QT_QUANTITY)
			ty = t; /* a count with its noun is still the count asked for */
		if (t == CN_QT_DURATION)
			ty = got == CN_QT_QUANTITY && wlist(s, &w[b], time_units) ? CN_QT_DURATION : CN_QT_QUANTITY;
		if (t == CN_QT_PERCENT && got != CN_QT_PERCENT)
			ty = CN_QT_NUMBER; /* a fallback for a percentage question */
		push(out, max, &k, w[a].start, w[b].end, ty);
		i = b;
	}
	return k;
}

static size_t dates(const char *s, const word *w, size_t nw, const uint8_t *protect, cn_anspan *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < nw; i++) {
		size_t a = i, b = i;
		if (wlist(s, &w[i], months) && (cap_word(s, &w[i]) || i == 0)) {
			if (wis(s, &w[i], "may") || wis(s, &w[i], "march")) {
				/* the verbs: only a month next to a day or a year */
				bool ctx = (i + 1 < nw && (day_word(s, &w[i + 1]) || year_word(s, &w[i + 1]))) ||
				           (i > 0 && day_word(s, &w[i - 1]));
				if (!ctx)
					continue;
			}
			if (i > 0 && day_word(s, &w[i - 1]))
				a = i - 1;
			if (b + 1 < nw && day_word(s, &w[b + 1]))
				b++;
			if (b + 1 < nw && year_word(s, &w[b + 1]))
				b++;
		} else if (year_word(s, &w[i])) {
			if (b + 2 < nw && wlist(s, &w[b + 1], joiners) && year_word(s, &w[b + 2]))
				b += 2;
		} else {
			continue;
		}
		if (a > 0 && (wis(s, &w[a - 1], "early") || wis(s, &w[a - 1], "late") || wis(s, &w[a - 1], "mid")))
			a--;
		if (all_protected(protect, w[a].start, w[b].end, s))
			continue;
		push(out, max, &k, w[a].start, w[b].end, CN_QT_DATE);
		i = b;
	}
	return k;
}

static const char *const name_links[] = {"de", "van", "von", "der", "da", "di", "la", "le", "of", "and", NULL};
static const char *const articles[] = {"the", "a", "an", NULL};
static const char *const weekdays[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                       "sunday", NULL};

/* Capitalised calendar words ("Sunday", "March") are not names. */
static bool calendar_only(const char *s, const word *w, size_t a, size_t b)
{
	for (size_t k = a; k <= b; k++)
		if (!wlist(s, &w[k], weekdays) && !wlist(s, &w[k], months))
			return false;
	return true;
}
/* Prepositions of location: "in Paris" names a place, not a person. */
static const char *const locative_preps[] = {"in", "at", "near", "into", "across", "throughout", NULL};
static const char *const place_preps[] = {"in", "at", "from", "near", "to", "into", "across", "throughout", NULL};

static size_t names(const char *s, const word *w, size_t nw, cn_qtype t, const uint8_t *protect, cn_anspan *out,
                    size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < nw; i++) {
		if (!cap_word(s, &w[i]))
			continue;
		size_t b = i;
		while (b + 1 < nw && !clause_break(s, &w[b])) {
			if (cap_word(s, &w[b + 1])) {
				b++;
			} else if (b + 2 < nw && wlist(s, &w[b + 1], name_links) && cap_word(s, &w[b + 2]) &&
			           !clause_break(s, &w[b + 1])) {
				b += 2;
			} else {
				break;
			}
		}
		/* A lone capitalised first word is just the start of the sentence. */
		if (i == 0 && b == 0) {
			continue;
		}
		/* A name made of the question's own words is not its answer ("Who designed the Eiffel
		 * Tower?" is not answered by "The Eiffel Tower"); a leading article does not count. */
		size_t first = b > i && wlist(s, &w[i], articles) ? i + 1 : i;
		if (all_protected(protect, w[first].start, w[b].end, s) || calendar_only(s, w, first, b)) {
			i = b;
			continue;
		}
		bool prep = i > 0 && wlist(s, &w[i - 1], place_preps);
		if ((t == CN_QT_PLACE && !prep) || (t == CN_QT_PERSON && i > 0 && wlist(s, &w[i - 1], locative_preps))) {
			i = b;
			continue;
		}
		push(out, max, &k, w[i].start, w[b].end, t);
		i = b;
	}
	return k;
}

static const char *const copula_words[] = {
	"is", "are", "was", "were", "means", "include", "includes", "included", "represents", "represent",
	"refers", "defined", "called", "known", "consists", "comprises", "involves", NULL,
};

static const char *const be_forms[] = {"is", "are", "was", "were", NULL};

static size_t definition(const char *s, size_t n, const word *w, size_t nw, const uint8_t *protect,
                         cn_anspan *out, size_t max)
{
	if (!protect)
		return 0;
	bool seen = false;
	for (size_t i = 0; i < nw; i++) {
		if (!seen) {
			for (uint32_t j = w[i].start; j < w[i].end; j++)
				if (protect[j])
					seen = true;
			continue;
		}
		if (!wlist(s, &w[i], copula_words))
			continue;
		size_t a = i + 1;
		/* "is recorded", "was taken": a passive verb, not a definition */
		if (a < nw && w[a].end - w[a].start > 4 && wlist(s, &w[i], be_forms) &&
		    (!strncmp(s + w[a].end - 2, "ed", 2) || !strncmp(s + w[a].end - 2, "en", 2)))
			continue;
		/* "refers to", "defined as", "known as", "consists of" */
		if (a < nw && (wis(s, &w[a], "to") || wis(s, &w[a], "as") || wis(s, &w[a], "of") || wis(s, &w[a], "by")))
			a++;
		if (a >= nw)
			return 0;
		uint32_t start = w[a].start;
		uint32_t end = (uint32_t)n;
		for (uint32_t j = start; j < n; j++)
			if (s[j] == ';' || (s[j] == '(' && j > start + 20)) {
				end = j;
				break;
			}
		while (end > start && (s[end - 1] == '.' || s[end - 1] == ' ' || s[end - 1] == ',' || s[end - 1] == ':'))
			end--;
		size_t words = 0;
		for (size_t j = a; j < nw && w[j].start < end; j++)
			words++;
		if (words < 2)
			return 0;
		size_t k = 0;
		push(out, max, &k, start, end, CN_QT_DEFINITION);
		return k;
	}
	return 0;
}

size_t cn_find_spans(const char *s, size_t n, cn_qtype t, const uint8_t *protect, cn_anspan *out, size_t max)
{
	if (n > UINT32_MAX || max == 0)
		return 0;
	word w[MAX_WORDS];
	size_t nw = split_words(s, n, w, MAX_WORDS);
	switch (t) {
	case CN_QT_NUMBER:
	case CN_QT_QUANTITY:
	case CN_QT_DURATION:
	case CN_QT_PERCENT: {
		size_t k = numbers(s, w, nw, t, protect, out, max);
		if (t == CN_QT_PERCENT) {
			/* true percentages first */
			size_t m = 0;
			for (size_t i = 0; i < k; i++)
				if (out[i].type == CN_QT_PERCENT) {
					cn_anspan x = out[i];
					memmove(out + m + 1, out + m, (i - m) * sizeof *out);
					out[m++] = x;
				}
		}
		return k;
	}
	case CN_QT_DATE:
		return dates(s, w, nw, protect, out, max);
	case CN_QT_PERSON:
	case CN_QT_PLACE:
		return names(s, w, nw, t, protect, out, max);
	case CN_QT_DEFINITION:
		return definition(s, n, w, nw, protect, out, max);
	default:
		return 0;
	}
}
