/*
 * pii_ner.c — people, organisations, places and street addresses without a neural model.
 *
 * The text is cut into tokens (words by Unicode letter category, numbers, single
 * punctuation bytes) with flags for capitalisation and line/sentence starts. Then:
 *  - runs of capitalised words on one line (with particles like "van", "de", initials "J.")
 *    are classified: an organisation when the run ends in a company/institution word
 *    ("Inc", "GmbH", "University") or follows employment context ("works for"); a place
 *    when the run is a known country/city or follows movement context ("lives in", "flew
 *    to"); a person when a given name or surname from the gazetteer is in it, a title
 *    precedes it (Mr., Dr.), or person context surrounds it ("my name is", "says", "Name:");
 *  - street addresses: a house number followed by words ending in a street word
 *    ("Street", "Rue", "Kiannonkatu") or a street word followed by a number, optionally with
 *    "Apt./Suite/Unit N"; and whatever follows "address:" / "lives at" on its line.
 * Scores are deliberately moderate: these heuristics are right often, not always, and a
 * validated identifier overlapping one of them wins the overlap resolution.
 */
#include <string.h>
#include <utf8proc.h>

#include "guard/guard.h"
#include "text/text.h"

typedef struct tok {
	uint32_t a, b;
	uint8_t kind;      /* 'w' word, 'n' number, 'p' punctuation */
	bool cap;          /* first letter upper case */
	bool allcap;       /* every letter upper case (and ≥ 2 letters) */
	bool line_start;   /* first token on its line */
	bool sent_start;   /* first token of a sentence (after . ! ? or a line start) */
	bool space_before; /* separated from the previous token by spaces only (no newline) */
} tok;

typedef struct tokv {
	tok *v;
	size_t n, cap;
} tokv;

static bool is_letter_cat(utf8proc_category_t c)
{
	return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
	       c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_MN ||
	       c == UTF8PROC_CATEGORY_MC;
}

static cairn_status tokenize(const char *s, size_t n, tokv *tv)
{
	size_t i = 0;
	bool nl = true, sent = true, sp = false;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r') {
			nl = sent = true;
			sp = false;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			sp = true;
			i++;
			continue;
		}
		tok t = {.a = (uint32_t)i, .line_start = nl, .sent_start = sent, .space_before = sp && !nl};
		int32_t cp;
		size_t k;
		utf8proc_category_t cat;
		if (c < 0x80) { /* ASCII without a table lookup: most text is */
			k = 1;
			cat = (c >= 'A' && c <= 'Z') ? UTF8PROC_CATEGORY_LU
			      : (c >= 'a' && c <= 'z') ? UTF8PROC_CATEGORY_LL
			                               : UTF8PROC_CATEGORY_PO;
		} else {
			k = cn_utf8_decode(s + i, n - i, &cp);
			cat = cp >= 0 ? utf8proc_category(cp) : UTF8PROC_CATEGORY_CN;
		}
		if (c >= '0' && c <= '9') {
			size_t j = i;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			t.kind = 'n';
			i = j;
		} else if (is_letter_cat(cat)) {
			size_t j = i;
			int letters = 0, uppers = 0;
			t.cap = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
			for (;;) {
				if (j < n && (unsigned char)s[j] < 0x80) {
					char a = s[j];
					if (a >= 'a' && a <= 'z') {
						letters++;
						j++;
						continue;
					}
					if (a >= 'A' && a <= 'Z') {
						letters++;
						uppers++;
						j++;
						continue;
					}
				}
				int32_t q;
				size_t m = cn_utf8_decode(s + j, n - j, &q);
				if (m == 0)
					break;
				utf8proc_category_t qc = q >= 0 ? utf8proc_category(q) : UTF8PROC_CATEGORY_CN;
				if (is_letter_cat(qc)) {
					letters++;
					uppers += qc == UTF8PROC_CATEGORY_LU;
					j += m;
					continue;
				}
				/* inner apostrophe or hyphen joins: O'Brien, Jean-Luc */
				if ((s[j] == '\'' || s[j] == '-') && j + 1 < n) {
					int32_t r;
					size_t m2 = cn_utf8_decode(s + j + 1, n - j - 1, &r);
					if (m2 && r >= 0 && is_letter_cat(utf8proc_category(r))) {
						j += 1;
						continue;
					}
				}
				break;
			}
			t.allcap = letters >= 2 && uppers == letters;
			t.kind = 'w';
			i = j;
		} else {
			t.kind = 'p';
			i += k ? k : 1;
		}
		t.b = (uint32_t)i;
		if (CN_GROW(tv->v, tv->cap, tv->n + 1) != CAIRN_OK)
			return CAIRN_ENOMEM;
		tv->v[tv->n++] = t;
		sent = t.kind == 'p' && (c == '.' || c == '!' || c == '?' || c == ':' || c == '"');
		nl = false;
		sp = false;
	}
	return CAIRN_OK;
}

static bool tok_is(const char *s, const tok *t, const char *w)
{
	size_t l = strlen(w);
	return t->b - t->a == l && !strncasecmp(s + t->a, w, l);
}

static bool tok_in(const char *s, const tok *t, const char *const *ws)
{
	for (; *ws; ws++)
		if (tok_is(s, t, *ws))
			return true;
	return false;
}

static const char *const titles[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mister",
                                     "lady", "lord", "rev", "dame", NULL};
static const char *const particles[] = {"van", "von", "de", "der", "den", "da", "di", "del", "della", "la",
                                        "le", "du", "dos", "das", "bin", "ibn", "al", "el", "y", "ten", "ter", NULL};
static const char *const person_before[] = {"name is", "name:", "named", "called", "calls me", "call me",
                                            "i am", "i'm", "im", "this is", "says", "said", "dear", "hi", "hello",
                                            "thanks", "thank you", "by", "with", "from", "met", "meet", "ask",
                                            "asked", "told", "contact", "maiden name", "signed", "regards",
                                            "sincerely", "patient", "mr", "mrs", "ms", "dr", NULL};
static const char *const the_words[] = {"the", NULL};
static const char *const person_strong[] = {"name is", "name:", "name was", "named", "called", "calls me",
                                            "last name?", "first name?", "surname", "dear", "mr.", "mrs.",
                                            "ms.", "dr.", "user:", "maiden name is", NULL};
static const char *const person_after[] = {"lives", "says", "said", "told", "wrote", "was born", "is a",
                                           "works", "who", "his", "her", NULL};
static const char *const org_before[] = {"work for", "works for", "worked for", "working for", "work at",
                                         "works at", "worked at", "employed by", "employer", "company",
                                         "joined", "firm", "client", "vendor", "became", "acquired",
                                         "acquired by", "founded", "partnered with", "subsidiary of",
                                         "customer of", "year at", "support", NULL};
static const char *const org_after[] = {"office", "offices", "invested", "is the", "headquarters", "employees",
                                        "announced", "stock", "shares", "ceo", NULL};
static const char *const place_before[] = {"lives in", "live in", "living in", "lived in", "moved to",
                                           "moved from", "moved here from", "flew to", "travelled to",
                                           "traveled to", "returned to", "born in", "based in",
                                           "located in", "city of", "town of", "village of", "visit", "visited",
                                           "near", "grew up in", "raised in", "am in", "stay in", "staying in",
                                           "trip to", "arrived in", "arrived at", "headquartered in", NULL};
static const char *const address_lead[] = {"address:", "address is", "lives at", "live at", "located at",
                                           "office is at", "offices are at", "his address", "her address",
                                           "my address", "address", "ship to", "deliver to", NULL};
static const char *const unit_words[] = {"apt", "apartment", "suite", "ste", "unit", "flat", "floor", "room",
                                         "box", NULL};

/* Does one of words end right before byte a (only spaces/colon between)? */
static bool phrase_before(const char *s, size_t a, const char *const *words)
{
	size_t e = a;
	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e == 0)
		return false;
	char last = (char)(s[e - 1] | 0x20);
	for (const char *const *w = words; *w; w++) {
		size_t l = strlen(*w);
		if (((*w)[l - 1] | 0x20) != last)
			continue;
		if (e >= l && !strncasecmp(s + e - l, *w, l) &&
		    (e == l || !(((s[e - l - 1] | 0x20) >= 'a' && (s[e - l - 1] | 0x20) <= 'z') ||
		                 (s[e - l - 1] >= '0' && s[e - l - 1] <= '9') || s[e - l - 1] == '_')))
			return true;
	}
	return false;
}

static bool phrase_after(const char *s, size_t n, size_t b, const char *const *words)
{
	size_t i = b;
	while (i < n && (s[i] == ' ' || s[i] == ','))
		i++;
	for (const char *const *w = words; *w; w++) {
		size_t l = strlen(*w);
		if (i + l <= n && !strncasecmp(s + i, *w, l) &&
		    (i + l == n || !((s[i + l] | 0x20) >= 'a' && (s[i + l] | 0x20) <= 'z')))
			return true;
	}
	return false;
}

static bool place_phrase(const char *s, const tok *t, size_t i, size_t j)
{
	/* multiword places are listed with spaces: "new zealand" */
	char buf[64];
	size_t k = 0;
	for (size_t m = i; m < j; m++) {
		size_t l = t[m].b - t[m].a;
		if (k + l + 1 >= sizeof buf)
			return false;
		if (m > i)
			buf[k++] = ' ';
		memcpy(buf + k, s + t[m].a, l);
		k += l;
	}
	return cn_lex_place(buf, k);
}

/* ---- capitalised runs ------------------------------------------------------------------ */

static cairn_status classify_run(const char *s, size_t n, const tok *t, size_t ntok, size_t i, size_t j,
                                 cn_pii_vec *v)
{
	bool title = false;
	/* a title anywhere in the run starts the name after it: "Yesterday Dr. Amelia Okafor" */
	for (size_t m = j; m-- > i;)
		if (tok_in(s, &t[m], titles) && m + 1 < j) {
			title = true;
			i = m + 1;
			if (i < j && t[i].kind == 'p')
				i++;
			break;
		}
	/* a known place, before function words are stripped: "South Africa", "New Zealand" */
	for (size_t k = j; k > i; k--) {
		if (t[k - 1].kind != 'w')
			continue;
		size_t i0 = i;
		while (i0 < k && tok_is(s, &t[i0], "the"))
			i0++;
		if (i0 < k && k - i0 >= 2 && place_phrase(s, t, i0, k))
			return cn_pii_push(v, CN_PII_LOCATION, t[i0].a, t[k - 1].b, 0.7f);
	}
	/* sentence-initial function words: "The", "When" */
	bool the = phrase_before(s, t[i].a, the_words);
	while (i < j && t[i].kind == 'w' && cn_lex_common_word(s + t[i].a, t[i].b - t[i].a) &&
	       !cn_lex_given_name(s + t[i].a, t[i].b - t[i].a)) {
		the = the || tok_is(s, &t[i], "the");
		i++;
	}
	while (j > i && (t[j - 1].kind == 'p' || tok_in(s, &t[j - 1], particles)))
		j--;
	if (i >= j)
		return CAIRN_OK;
	size_t a = t[i].a, b = t[j - 1].b;
	/* possessive: "Yefremova's" names Yefremova */
	if (b - a > 3 && s[b - 1] == 's' && s[b - 2] == '\'')
		b -= 2;
	size_t nw = 0, given = 0, sur = 0, common = 0, place = 0, orgw = 0, namelike = 0;
	for (size_t m = i; m < j; m++) {
		if (t[m].kind != 'w')
			continue;
		const char *w = s + t[m].a;
		size_t l = t[m].b - t[m].a;
		nw++;
		given += cn_lex_given_name(w, l);
		sur += cn_lex_surname(w, l);
		common += l > 1 && cn_lex_common_word(w, l) && !cn_lex_given_name(w, l) && !cn_lex_surname(w, l);
		/* "Smith", "O'Brien", "McDonald": an upper-case first letter and lower case after it */
		namelike += t[m].cap && !t[m].allcap && l >= 2;
		place += cn_lex_place(w, l);
		orgw += cn_lex_org_suffix(w, l) != 0;
	}
	if (nw == 0)
		return CAIRN_OK;
	/* organisation: ends in a company word, keep the abbreviation's period */
	const tok *last = &t[j - 1];
	if (nw >= 2 && cn_lex_org_suffix(s + last->a, last->b - last->a) && !title) {
		if (last->b < n && s[last->b] == '.' && last->b - last->a <= 4)
			b = last->b + 1;
		return cn_pii_push(v, CN_PII_ORG, a, b, 0.75f);
	}
	if (place_phrase(s, t, i, j) || (nw == 1 && place)) {
		return cn_pii_push(v, CN_PII_LOCATION, a, b, 0.7f);
	}
	/* a number right before or after on the line makes it a street name: "Victor Hugo u. 49",
	 * "233 Erzsébet tér 19.", "Joaquin Suarez 2906" */
	bool num_before = i > 0 && t[i - 1].kind == 'n' && !t[i].line_start;
	bool num_after = j < ntok && !t[j].line_start &&
	                 (t[j].kind == 'n' || (j + 1 < ntok && t[j].kind == 'w' && t[j].b - t[j].a <= 3 &&
	                                       !t[j + 1].line_start && t[j + 1].kind == 'p' && s[t[j + 1].a] == '.' &&
	                                       j + 2 < ntok && t[j + 2].kind == 'n'));
	bool p_ctx = phrase_before(s, a, person_before) || phrase_after(s, n, b, person_after);
	bool o_ctx = phrase_before(s, a, org_before) || phrase_after(s, n, b, org_after);
	bool l_ctx = phrase_before(s, a, place_before);
	float ps;
	if (title)
		ps = 0.85f;
	else if (nw >= 2 && given && (sur || nw <= 3))
		ps = given + sur >= 2 ? 0.85f : 0.7f;
	else if (nw >= 2 && sur)
		ps = 0.6f;
	else if (nw == 1 && given)
		ps = 0.55f;
	else if (nw == 1 && sur)
		ps = 0.45f;
	else if (nw >= 2 && nw <= 4 && namelike >= 2 && !common && !place && !orgw)
		ps = 0.5f; /* two or three name-shaped words in a row */
	else
		ps = nw >= 2 && nw <= 3 ? 0.4f : 0.2f;
	if (p_ctx)
		ps += 0.25f;
	if (phrase_before(s, a, person_strong))
		ps += 0.2f;
	/* a line holding only the name: letter heads, signatures, address blocks */
	bool line_alone = t[i].line_start && (j >= ntok || t[j].line_start) && nw >= 2 && nw <= 4;
	if (line_alone && !common && !orgw && !place)
		ps += 0.1f;
	if (common)
		ps -= 0.3f * (float)common;
	if (t[i].sent_start && nw == 1 && !given && !title)
		ps -= 0.15f;
	if (orgw)
		ps -= 0.3f;
	if (the && !title) /* "the White Stripes", "The Garmin Orchestra" */
		ps -= 0.25f;
	if ((num_before || num_after) && !title && !p_ctx)
		ps -= 0.3f;
	if (l_ctx && !given && !title)
		return cn_pii_push(v, CN_PII_LOCATION, a, b, 0.6f);
	/* towns in postal addresses are often written in capitals on a line of their own or
	 * after a comma: "OULU", ", SEINÄJOKI" */
	bool allcaps = true;
	for (size_t m = i; m < j; m++)
		allcaps = allcaps && (t[m].kind != 'w' || t[m].allcap);
	bool after_comma = i > 1 && t[i - 1].kind == 'p' && s[t[i - 1].a] == ',' && t[i - 2].kind == 'n';
	bool line_only = t[i].line_start && (j >= ntok || t[j].line_start);
	/* ... but only inside an address block (a line with a number just above), not acronyms */
	bool below_number = false;
	if (line_only && i > 0) {
		size_t m = i;
		while (m > 0 && !t[m - 1].line_start)
			m--;
		for (size_t q = m ? m - 1 : 0; q < i && !below_number; q++)
			below_number = t[q].kind == 'n';
		/* the previous line is t[m-1]'s line: scan back to its start */
		size_t q = m ? m - 1 : 0;
		while (q > 0 && !t[q].line_start && !below_number)
			below_number = t[--q].kind == 'n';
	}
	if (allcaps && nw <= 3 && !common && ((line_only && below_number) || after_comma) && b - a >= 4)
		return cn_pii_push(v, CN_PII_LOCATION, a, b, 0.55f);
	if (allcaps && !title && !p_ctx) /* "LISA", "JSON": acronyms far more often than names */
		ps -= 0.3f;
	if (o_ctx && !given && !sur && !title && !common && b - a >= 2)
		return cn_pii_push(v, CN_PII_ORG, a, b, phrase_before(s, a, org_before + 0) ? 0.6f : 0.5f);
	if (ps >= 0.3f)
		return cn_pii_push(v, CN_PII_PERSON, a, b, ps);
	return CAIRN_OK;
}

static cairn_status runs(const char *s, size_t n, const tokv *tv, cn_pii_vec *v)
{
	const tok *t = tv->v;
	size_t i = 0;
	while (i < tv->n) {
		if (t[i].kind != 'w' || !t[i].cap) {
			i++;
			continue;
		}
		size_t j = i + 1;
		size_t words = 1;
		while (j < tv->n && words < 6) {
			const tok *q = &t[j];
			if (q->line_start)
				break;
			if (q->kind == 'w' && q->space_before && (q->cap || tok_in(s, q, particles))) {
				words++;
				j++;
				continue;
			}
			/* initial: "J." or title period "Mr." inside the run */
			if (q->kind == 'p' && s[q->a] == '.' && !q->space_before && t[j - 1].kind == 'w' &&
			    (t[j - 1].b - t[j - 1].a <= 2 || tok_in(s, &t[j - 1], titles)) && j + 1 < tv->n &&
			    t[j + 1].kind == 'w' && t[j + 1].cap && !t[j + 1].line_start) {
				j++;
				continue;
			}
			break;
		}
		cairn_status st = classify_run(s, n, t, tv->n, i, j, v);
		if (st != CAIRN_OK)
			return st;
		i = j;
	}
	return CAIRN_OK;
}

/* Partnerships named after their partners: "Clark, Romero and Hall", "Baker & McKenzie",
 * "Skadden, Arps, Slate, Meagher & Flom". Two or more capitalised names joined by commas and
 * a final "and"/"&". */
static cairn_status firms(const char *s, const tokv *tv, cn_pii_vec *v)
{
	const tok *t = tv->v;
	for (size_t i = 0; i + 2 < tv->n; i++) {
		if (t[i].kind != 'w' || !t[i].cap || t[i].allcap || cn_lex_common_word(s + t[i].a, t[i].b - t[i].a))
			continue;
		if (i > 0 && t[i - 1].kind == 'p' && (s[t[i - 1].a] == ',' || s[t[i - 1].a] == ':'))
			continue; /* not the first name, or an enumeration after a colon */
		size_t j = i + 1, names = 1;
		bool joined = false;
		while (j + 1 < tv->n && !t[j].line_start && names < 6) {
			bool comma = t[j].kind == 'p' && s[t[j].a] == ',';
			bool conj = tok_is(s, &t[j], "and") || (t[j].kind == 'p' && s[t[j].a] == '&');
			if (!comma && !conj)
				break;
			size_t k = j + 1;
			if (comma && k < tv->n && (tok_is(s, &t[k], "and") || (t[k].kind == 'p' && s[t[k].a] == '&'))) {
				conj = true;
				k++;
			}
			if (k >= tv->n || t[k].line_start || t[k].kind != 'w' || !t[k].cap ||
			    cn_lex_common_word(s + t[k].a, t[k].b - t[k].a))
				break;
			names++;
			j = k + 1;
			if (conj) {
				joined = true;
				break;
			}
		}
		/* a list with a given name in it lists people ("Anna, Derek and Andrew") */
		bool given = false;
		for (size_t k = i; k < j && !given; k++)
			given = t[k].kind == 'w' && cn_lex_given_name(s + t[k].a, t[k].b - t[k].a);
		if (joined && names >= 3 && names <= 4 && !given) {
			if (cn_pii_push(v, CN_PII_ORG, t[i].a, t[j - 1].b, 0.65f))
				return CAIRN_ENOMEM;
			i = j - 1;
		}
	}
	return CAIRN_OK;
}

/* ---- street addresses ------------------------------------------------------------------ */

static size_t extend_unit(const char *s, const tokv *tv, size_t j, size_t *b)
{
	/* optional ", Apt. 864" / "Suite 282" / "#12" after the street */
	const tok *t = tv->v;
	size_t k = j;
	if (k < tv->n && t[k].kind == 'p' && s[t[k].a] == ',' && !t[k].line_start)
		k++;
	if (k < tv->n && !t[k].line_start && tok_in(s, &t[k], unit_words)) {
		k++;
		if (k < tv->n && t[k].kind == 'p' && (s[t[k].a] == '.' || s[t[k].a] == '#'))
			k++;
		if (k < tv->n && t[k].kind == 'n' && !t[k].line_start) {
			*b = t[k].b;
			return k + 1;
		}
	}
	return j;
}

static cairn_status addresses(const char *s, size_t n, const tokv *tv, cn_pii_vec *v)
{
	const tok *t = tv->v;
	for (size_t i = 0; i < tv->n; i++) {
		/* 1. number + up to 5 words ending in (or starting with) a street word [+ number] */
		if (t[i].kind == 'n' && t[i].b - t[i].a <= 6) {
			size_t j = i + 1, words = 0, street_at = 0;
			while (j < tv->n && words < 6 && !t[j].line_start) {
				if (t[j].kind == 'w') {
					words++;
					int ss = cn_lex_street_suffix(s + t[j].a, t[j].b - t[j].a);
					if (ss && t[j].cap && (words == 1 ? ss == 2 || t[j].b - t[j].a > 4 : t[i + 1].cap))
						street_at = j + 1;
					j++;
				} else if (t[j].kind == 'p' && s[t[j].a] == '.' && j > i + 1 && t[j - 1].kind == 'w' &&
				           t[j - 1].b - t[j - 1].a <= 4) {
					if (street_at == j) /* "St." keeps its period, "Street." does not */
						street_at = j + 1;
					j++;
				} else {
					break;
				}
			}
			if (street_at) {
				size_t b = t[street_at - 1].b, e = street_at;
				if (e < tv->n && t[e].kind == 'n' && !t[e].line_start && t[e].b - t[e].a <= 5) {
					b = t[e].b;
					e++;
				}
				extend_unit(s, tv, e, &b);
				if (cn_pii_push(v, CN_PII_ADDRESS, t[i].a, b, 0.7f))
					return CAIRN_ENOMEM;
				continue;
			}
		}
		/* 2. street word first (Rue, Via, Calle) or one-word street (Kiannonkatu) + number */
		if (t[i].kind == 'w' && t[i].cap) {
			int ss = cn_lex_street_suffix(s + t[i].a, t[i].b - t[i].a);
			bool lead = ss == 2 || tok_is(s, &t[i], "rue") || tok_is(s, &t[i], "via") ||
			            tok_is(s, &t[i], "calle") || tok_is(s, &t[i], "rua") ||
			            tok_is(s, &t[i], "avenida") || tok_is(s, &t[i], "viale") ||
			            tok_is(s, &t[i], "vicolo") || tok_is(s, &t[i], "piazza") || tok_is(s, &t[i], "ul");
			if (!lead)
				continue;
			size_t j = i + 1, words = 0;
			while (j < tv->n && words < 5 && !t[j].line_start && (t[j].kind == 'w' || (t[j].kind == 'p' && s[t[j].a] == '.'))) {
				words += t[j].kind == 'w';
				j++;
			}
			if (j < tv->n && t[j].kind == 'n' && !t[j].line_start && t[j].b - t[j].a <= 5) {
				size_t a = t[i].a, b = t[j].b;
				/* a house number just before belongs to it */
				if (i > 0 && t[i - 1].kind == 'n' && !t[i].line_start && t[i - 1].b - t[i - 1].a <= 6)
					a = t[i - 1].a;
				extend_unit(s, tv, j + 1, &b);
				if (cn_pii_push(v, CN_PII_ADDRESS, a, b, 0.65f))
					return CAIRN_ENOMEM;
			}
		}
	}
	/* 3. after an address lead-in: the rest of the line (up to a sentence end) */
	for (size_t i = 0; i < tv->n; i++) {
		if (!(t[i].kind == 'n' || (t[i].kind == 'w' && t[i].cap)))
			continue;
		if (!phrase_before(s, t[i].a, address_lead))
			continue;
		size_t j = i, b = t[i].b;
		while (j < tv->n && !(j > i && t[j].line_start) && t[j].b - t[i].a <= 160) {
			if (t[j].kind == 'p' && strchr("|`<>\"{}[]", s[t[j].a]))
				break; /* markup, not an address */
			if (t[j].kind == 'p' && (s[t[j].a] == '.' || s[t[j].a] == '!' || s[t[j].a] == '?') &&
			    (j + 1 >= tv->n || t[j + 1].line_start || t[j + 1].space_before) &&
			    !(j > 0 && t[j - 1].b - t[j - 1].a <= 3))
				break;
			b = t[j].b;
			j++;
		}
		bool digit = false;
		for (size_t m = i; m < j; m++)
			digit = digit || t[m].kind == 'n';
		if (digit && cn_pii_push(v, CN_PII_ADDRESS, t[i].a, b, 0.6f))
			return CAIRN_ENOMEM;
	}
	return CAIRN_OK;
}

cairn_status cn_pii_ner(const char *s, size_t n, uint32_t type_mask, cn_pii_vec *v)
{
	uint32_t want = (1u << CN_PII_PERSON) | (1u << CN_PII_ORG) | (1u << CN_PII_LOCATION) |
	                (1u << CN_PII_ADDRESS);
	if (type_mask && !(type_mask & want))
		return CAIRN_OK;
	tokv tv = {0};
	cairn_status st = tokenize(s, n, &tv);
	if (st == CAIRN_OK)
		st = runs(s, n, &tv, v);
	if (st == CAIRN_OK)
		st = firms(s, &tv, v);
	if (st == CAIRN_OK)
		st = addresses(s, n, &tv, v);
	cn_free(tv.v);
	return st;
}
