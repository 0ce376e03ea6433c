/*
 * cairn_conversation: multi-turn grounded answers on top of cairn_ask.
 *
 * Why a rewrite before retrieval: a follow-up ("how long does it take?", "what about 2026?")
 * carries too few of its topic's words for BM25 to find the right passages; retrieval sees
 * one string, so the follow-up is turned into a standalone query first. The default rewriter
 * needs no model: it is a small set of rules (pronouns and demonstratives, elliptical "what
 * about X", questions with no topic words) and borrows the previous turn's salient words —
 * the previous question's own words first (the focus of what was just discussed), then the
 * rest of its standalone query (which already carries older context when that turn was a
 * follow-up itself, so the most recent turn weighs most and older ones fade as the term cap
 * is reached). Independent questions pass through unchanged, so a topic switch is not
 * polluted by the old topic.
 *
 * Why a budget: a conversation grows without bound but whatever reads its history (a model's
 * prompt, the rewriter) has a fixed window. The newest turns are kept verbatim, older ones as
 * extractive summaries (question + the answer's first sentence, cut), the oldest dropped —
 * and, since the window only moves forward, dropped turns are freed, so memory is bounded too.
 * Tokens are estimated as cairn_ask estimates its context (words × 4/3).
 *
 * The module uses cairn_ask through the public API only; the conversation section of the
 * JSON is spliced into cairn_answer_to_json's object.
 */
#include "answer/conversation.h"
#include "lex/lex.h"
#include "text/text.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 128
#define MAX_QUESTION_BYTES 4096
#define WORD_KEY 24

/* ---- words ---- */

typedef struct cword {
	size_t start, end;  /* bytes in the text */
	char low[WORD_KEY]; /* lower-cased ASCII, apostrophes dropped ("" when too long) */
	size_t n;
} cword;

/* Bytes at s[i] that separate words: ASCII non-alphanumerics, and the non-ASCII punctuation
 * and spaces people type (no-break space, curly quotes, dashes, ellipsis, CJK punctuation,
 * full-width forms' punctuation). Returns their length, 0 for a word byte. */
static size_t sep_len(const char *s, size_t n, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80)
		return isalnum(c) ? 0 : 1;
	int32_t cp;
	size_t l = cn_utf8_decode(s + i, n - i, &cp);
	if (!l)
		return 1;
	if ((cp >= 0xA0 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
	    (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF01 && cp <= 0xFF0F) || cp == 0xFF1F || cp == 0xFEFF)
		return l;
	return 0;
}

/* Words: runs of letters, digits and other non-punctuation code points, with inner
 * apostrophes and hyphens, and inner '.' or ',' between digits ("4.2", "1,000"). */
static size_t words_of(const char *s, size_t n, cword *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < max;) {
		size_t sl = sep_len(s, n, i);
		if (sl) {
			i += sl;
			continue;
		}
		size_t j = i;
		while (j < n) {
			if (!sep_len(s, n, j)) {
				j++;
				continue;
			}
			unsigned char c = (unsigned char)s[j];
			bool inner = j + 1 < n && j > i && !sep_len(s, n, j + 1);
			if (inner && (c == '\'' || c == '-'))
				j++;
			else if (inner && (c == '.' || c == ',') && isdigit((unsigned char)s[j - 1]) &&
			         isdigit((unsigned char)s[j + 1]))
				j++;
			else
				break;
		}
		cword *w = &out[k++];
		w->start = i;
		w->end = j;
		w->n = 0;
		if (j - i < WORD_KEY) {
			for (size_t m = i; m < j; m++)
				if (s[m] != '\'')
					w->low[w->n++] = (char)tolower((unsigned char)s[m]);
		}
		w->low[w->n] = '\0';
		i = j;
	}
	return k;
}

static bool in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(*list, w))
			return true;
	return false;
}

static const char *const pronouns[] = {
	"it", "its", "itself", "they", "them", "their", "theirs", "themselves", "this", "that", "these", "those",
	"he", "she", "him", "his", "her", "hers", "there", NULL,
};

/* Words that carry no topic: function words, question words and pronouns. */
static const char *const stopwords[] = {
	"a", "an", "the", "and", "or", "but", "nor", "if", "then", "than", "so", "as", "of", "to", "in", "into",
	"on", "onto", "at", "by", "for", "from", "with", "without", "about", "over", "under", "up", "down", "out",
	"off", "through", "between", "after", "before", "during", "per", "via", "is", "are", "was", "be", "am",
	"isnt", "arent", "wasnt", "werent", "doesnt", "dont", "didnt", "cant", "cannot", "wont", "will", "shall",
	"must", "not", "no", "yes", "any", "some", "all", "each", "every", "such", "same", "other", "else", "also",
	"too", "only", "just", "very", "more", "most", "less", "least", "again", "still", "ok", "okay", "please",
	"thanks", "thank", "get", "gets", "got", "us", "i", "im", "ive", "id", "one", "ones", "whats", "hows",
	"whos", "wheres", "whens", "whys", "thats", "theres", "its", "theyre", "hes", "shes", "like", "now", NULL,
};

static const char *const question_words[] = {
	"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "does", "do", "did", "can", "could",
	"would", "should", "may", "might", "has", "have", "had", "were", "been", "being", "many", "much", "you",
	"we", "me", "my", "our", "your", "describe", "explain", "tell", "name", "list", "give", "s", NULL,
};

static const char *const be_words[] = {"is", "are", "was", "were", "be", "been", "isnt", "arent", NULL};

/* "how long", "how old": the kind of answer, not the topic */
static const char *const how_words[] = {
	"long", "old", "large", "big", "small", "high", "far", "often", "fast", "soon", "early", "late", NULL,
};

static bool is_pronoun(const cword *w) { return in_list(w->low, pronouns); }

static bool is_number(const cword *w) { return w->n && isdigit((unsigned char)w->low[0]); }

/* A word that names part of the topic. ws[i] in context (for "how long"). */
static bool content_word(const cword *ws, size_t i)
{
	const cword *w = &ws[i];
	if (!w->n)
		return w->end > w->start; /* too long to classify: a long word is a topic word */
	if (w->n == 1 && !isdigit((unsigned char)w->low[0]))
		return false;
	if (in_list(w->low, stopwords) || in_list(w->low, question_words) || is_pronoun(w))
		return false;
	if (i > 0 && !strcmp(ws[i - 1].low, "how") && in_list(w->low, how_words))
		return false;
	return true;
}

/* A word's key for "the question already has it": lower-case, a plural or third-person -s
 * dropped ("requests" = "request", "approves" = "approve"). */
static size_t word_key(const cword *w, const char *s, char *key)
{
	size_t n = w->n;
	if (!n) { /* long word: its bytes, lower-cased, up to the key size */
		n = w->end - w->start < WORD_KEY - 1 ? w->end - w->start : WORD_KEY - 1;
		for (size_t i = 0; i < n; i++)
			key[i] = (char)tolower((unsigned char)s[w->start + i]);
	} else
		memcpy(key, w->low, n);
	if (n > 3 && key[n - 1] == 's' && key[n - 2] != 's')
		n--;
	key[n] = '\0';
	return n;
}

/* ---- dependence ---- */

const char *cn_conv_dep_name(cn_conv_dep d)
{
	switch (d) {
	case CN_CONV_PRONOUN:
		return "pronoun";
	case CN_CONV_ELLIPTICAL:
		return "elliptical";
	case CN_CONV_SHORT:
		return "short";
	default:
		return "independent";
	}
}

/* Elliptical openings: the number of words they take (0: none). */
static size_t elliptical_marker(const cword *ws, size_t nw)
{
	if (nw >= 2 && (!strcmp(ws[0].low, "what") || !strcmp(ws[0].low, "how")) && !strcmp(ws[1].low, "about"))
		return 2;
	if (nw >= 2 && !strcmp(ws[0].low, "what") && !strcmp(ws[1].low, "of"))
		return 2;
	if (nw >= 2 && !strcmp(ws[0].low, "same") && !strcmp(ws[1].low, "for"))
		return 2;
	if (nw >= 2 && (!strcmp(ws[0].low, "and") || !strcmp(ws[0].low, "also")))
		return 1;
	return 0;
}

/* The decision, and the index of the word that made it (the pronoun; nw otherwise). */
static cn_conv_dep classify(const cword *ws, size_t nw, size_t *at, size_t *marker)
{
	*at = nw;
	*marker = 0;
	if (!nw)
		return CN_CONV_INDEPENDENT;
	size_t m = elliptical_marker(ws, nw);
	if (m) {
		*marker = m;
		*at = 0;
		return CN_CONV_ELLIPTICAL;
	}
	bool existential = false;
	for (size_t i = 0; i < nw; i++) {
		if (!is_pronoun(&ws[i]))
			continue;
		/* "the policy that covers travel": a relative "that" after a noun refers to it, not
		 * to the conversation */
		if (!strcmp(ws[i].low, "that") && i > 0 && content_word(ws, i - 1))
			continue;
		/* "is there a dress code?", "there are two offices": existential, not a place */
		if (!strcmp(ws[i].low, "there") &&
		    ((i > 0 && in_list(ws[i - 1].low, be_words)) || (i + 1 < nw && in_list(ws[i + 1].low, be_words)))) {
			existential = true;
			continue;
		}
		*at = i;
		return CN_CONV_PRONOUN;
	}
	size_t content = 0;
	for (size_t i = 0; i < nw; i++)
		content += content_word(ws, i);
	/* "are there exceptions?": one topic word asks about the topic at hand */
	if (!content || nw <= 2 || (existential && content <= 1))
		return CN_CONV_SHORT;
	return CN_CONV_INDEPENDENT;
}

cn_conv_dep cn_conv_dependent(const char *q, size_t n, char word[24])
{
	cword ws[MAX_WORDS];
	size_t nw = words_of(q, n, ws, MAX_WORDS), at, marker;
	cn_conv_dep d = classify(ws, nw, &at, &marker);
	if (word) {
		word[0] = '\0';
		if (d == CN_CONV_PRONOUN)
			snprintf(word, 24, "%s", ws[at].low);
		else if (d == CN_CONV_ELLIPTICAL)
		{
			/* the marker words are short ("what about"): both fit */
			size_t a = strlen(ws[0].low), b = marker > 1 ? strlen(ws[1].low) : 0;
			if (a + 1 + b < 24) {
				memcpy(word, ws[0].low, a);
				if (b) {
					word[a++] = ' ';
					memcpy(word + a, ws[1].low, b);
				}
				word[a + b] = '\0';
			}
		}
	}
	return d;
}

/* ---- rewriting ---- */

typedef struct term {
	const char *s; /* surface form in its source text */
	size_t n;
	bool number;
	char key[WORD_KEY];
} term;

/* Adds the content words of text to terms (up to the cap), skipping those q or terms have. */
static void add_terms(const char *text, const char *q, const cword *qw, size_t nqw, term *terms, size_t *nt)
{
	if (!text)
		return;
	cword ws[MAX_WORDS];
	size_t nw = words_of(text, strlen(text), ws, MAX_WORDS);
	for (size_t i = 0; i < nw && *nt < CN_CONV_MAX_TERMS; i++) {
		if (!content_word(ws, i))
			continue;
		char key[WORD_KEY], qk[WORD_KEY];
		word_key(&ws[i], text, key);
		bool dup = false;
		for (size_t j = 0; j < nqw && !dup; j++) {
			word_key(&qw[j], q, qk);
			dup = !strcmp(qk, key);
		}
		for (size_t j = 0; j < *nt && !dup; j++)
			dup = !strcmp(terms[j].key, key);
		if (dup)
			continue;
		term *t = &terms[(*nt)++];
		t->s = text + ws[i].start;
		t->n = ws[i].end - ws[i].start;
		t->number = is_number(&ws[i]);
		memcpy(t->key, key, sizeof key);
	}
}

static void put_terms(cn_buf *out, const term *terms, size_t nt, bool skip_numbers)
{
	bool first = true;
	for (size_t i = 0; i < nt; i++) {
		if (skip_numbers && terms[i].number)
			continue;
		if (!first)
			cn_buf_putc(out, ' ');
		cn_buf_append(out, terms[i].s, terms[i].n);
		first = false;
	}
}

/* q without surrounding spaces and trailing ?!. */
static void trim_question(const char *q, size_t *b, size_t *e)
{
	size_t i = 0, n = strlen(q);
	while (i < n && isspace((unsigned char)q[i]))
		i++;
	while (n > i && (isspace((unsigned char)q[n - 1]) || q[n - 1] == '?' || q[n - 1] == '!' || q[n - 1] == '.'))
		n--;
	*b = i;
	*e = n;
}

/* "… for 2025?" + "what about 2026?": the previous standalone query with its last number
 * replaced. True when done. */
static bool replace_number(const char *prev, const char *q, const cword *qw, size_t nqw, size_t marker, cn_buf *out)
{
	if (!prev || nqw != marker + 1 || !is_number(&qw[marker]))
		return false;
	cword pw[MAX_WORDS];
	size_t npw = words_of(prev, strlen(prev), pw, MAX_WORDS);
	size_t last = npw;
	for (size_t i = 0; i < npw; i++)
		if (is_number(&pw[i]))
			last = i;
	if (last == npw)
		return false;
	cn_buf_append(out, prev, pw[last].start);
	cn_buf_append(out, q + qw[marker].start, qw[marker].end - qw[marker].start);
	cn_buf_puts(out, prev + pw[last].end);
	return true;
}

cn_conv_dep cn_conv_rewrite(const char *q, const char *prev_question, const char *prev_standalone, cn_buf *out)
{
	if (!q)
		q = "";
	size_t qn = strlen(q);
	if (!prev_question && !prev_standalone) {
		cn_buf_append(out, q, qn);
		return CN_CONV_INDEPENDENT;
	}
	cword qw[MAX_WORDS];
	size_t nqw = words_of(q, qn, qw, MAX_WORDS), at, marker;
	cn_conv_dep d = classify(qw, nqw, &at, &marker);
	if (d == CN_CONV_INDEPENDENT) {
		cn_buf_append(out, q, qn);
		return d;
	}
	term terms[CN_CONV_MAX_TERMS];
	size_t nt = 0;
	add_terms(prev_question, q, qw, nqw, terms, &nt);
	add_terms(prev_standalone, q, qw, nqw, terms, &nt);
	size_t b, e;
	trim_question(q, &b, &e);
	bool q_has_number = false;
	for (size_t i = 0; i < nqw; i++)
		q_has_number |= is_number(&qw[i]);
	size_t kept = 0; /* terms left after dropping numbers the question replaces */
	for (size_t i = 0; i < nt; i++)
		kept += !(q_has_number && terms[i].number);
	if (d == CN_CONV_ELLIPTICAL) {
		const char *prev = prev_standalone ? prev_standalone : prev_question;
		if (replace_number(prev, q, qw, nqw, marker, out))
			return d;
		if (!kept) {
			cn_buf_append(out, q, qn);
			return CN_CONV_INDEPENDENT;
		}
		/* the previous question's frame ("How many", "What is the") keeps its answer type */
		cword pw[MAX_WORDS];
		size_t npw = words_of(prev, strlen(prev), pw, MAX_WORDS), f = 0;
		while (f < npw && !content_word(pw, f))
			f++;
		size_t frame_end = f < npw ? pw[f].start : 0;
		while (frame_end > 0 && isspace((unsigned char)prev[frame_end - 1]))
			frame_end--;
		size_t x = marker < nqw ? qw[marker].start : e;
		if (frame_end) {
			cn_buf_append(out, prev, frame_end);
			cn_buf_putc(out, ' ');
		}
		if (x < e) {
			cn_buf_append(out, q + x, e - x);
			cn_buf_putc(out, ' ');
		}
		put_terms(out, terms, nt, q_has_number);
		cn_buf_putc(out, '?');
		return d;
	}
	if (!nt) {
		cn_buf_append(out, q, qn);
		return CN_CONV_INDEPENDENT;
	}
	if (d == CN_CONV_PRONOUN) {
		cn_buf_append(out, q + b, qw[at].start - b);
		put_terms(out, terms, nt, false);
		if (qw[at].end < e)
			cn_buf_append(out, q + qw[at].end, e - qw[at].end);
		cn_buf_putc(out, '?');
		return d;
	}
	cn_buf_append(out, q + b, e - b);
	cn_buf_putc(out, ' ');
	put_terms(out, terms, nt, false);
	cn_buf_putc(out, '?');
	return d;
}

/* ---- history within a budget ---- */

int cn_conv_tokens(const char *s, size_t n)
{
	size_t w = cn_count_words(s, n);
	size_t t = (w * 4 + 2) / 3;
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

static void verbatim_text(const cn_conv_turn *t, cn_buf *b)
{
	cn_buf_printf(b, "User: %s\nAssistant: %s\n", t->question ? t->question : "", t->answer ? t->answer : "");
}

/* "Earlier, the user asked: Q — answer: <first sentence>", cut to max_tokens estimated tokens
 * at a word boundary. */
static void summary_text(const cn_conv_turn *t, int max_tokens, cn_buf *b)
{
	size_t start = b->len;
	const char *a = t->answer ? t->answer : "";
	cn_span s;
	size_t ns = cn_sentences(a, strlen(a), &s, 1);
	cn_buf_printf(b, "Earlier, the user asked: %s — answer: ", t->question ? t->question : "");
	if (ns)
		cn_buf_append(b, a + s.start, s.end - s.start);
	if (b->failed)
		return;
	size_t max_words = (size_t)(max_tokens > 0 ? max_tokens : 1) * 3 / 4;
	if (!max_words)
		max_words = 1;
	/* cut after max_words words */
	size_t words = 0, i = start, n = b->len;
	while (i < n) {
		while (i < n && isspace((unsigned char)b->data[i]))
			i++;
		if (i >= n)
			break;
		if (words == max_words) {
			while (i > start && isspace((unsigned char)b->data[i - 1]))
				i--;
			b->len = i;
			b->data[i] = '\0';
			cn_buf_puts(b, " …");
			break;
		}
		while (i < n && !isspace((unsigned char)b->data[i]))
			i++;
		words++;
	}
	cn_buf_putc(b, '\n');
}

void cn_conv_history(const cn_conv_turn *turns, size_t n, int budget, int max_verbatim, int summary_tokens,
                     cn_buf *out, cn_conv_kept *kept)
{
	memset(kept, 0, sizeof *kept);
	kept->first = n;
	cn_buf tmp;
	cn_buf_init(&tmp);
	long used = 0;
	size_t v0 = n, s0 = n; /* turns [v0, n) verbatim, [s0, v0) summarized, [0, s0) dropped */
	bool verbatim = max_verbatim > 0;
	for (size_t k = n; k-- > 0;) {
		if (verbatim) {
			cn_buf_reset(&tmp);
			verbatim_text(&turns[k], &tmp);
			int c = cn_conv_tokens(tmp.data ? tmp.data : "", tmp.len);
			if (used + c <= budget) {
				used += c;
				v0 = s0 = k;
				if ((int)(n - v0) >= max_verbatim)
					verbatim = false;
				continue;
			}
			verbatim = false;
		}
		cn_buf_reset(&tmp);
		summary_text(&turns[k], summary_tokens, &tmp);
		int c = cn_conv_tokens(tmp.data ? tmp.data : "", tmp.len);
		if (used + c > budget)
			break;
		used += c;
		s0 = k;
	}
	cn_buf_free(&tmp);
	kept->verbatim = (int)(n - v0);
	kept->summarized = (int)(v0 - s0);
	kept->dropped = (int)s0;
	kept->first = s0;
	/* the count is the whole text's estimate (at most the sum of the parts' estimates, since
	 * each part's rounding is upwards) */
	cn_buf text;
	cn_buf_init(&text);
	for (size_t k = s0; k < v0; k++)
		summary_text(&turns[k], summary_tokens, &text);
	for (size_t k = v0; k < n; k++)
		verbatim_text(&turns[k], &text);
	kept->tokens = text.len ? cn_conv_tokens(text.data, text.len) : 0;
	if (out && text.len)
		cn_buf_append(out, text.data, text.len);
	if (out && text.failed)
		out->failed = true;
	cn_buf_free(&text);
}

/* ---- the conversation object ---- */

struct cairn_conversation {
	cairn_conversation_params p;
	cn_conv_turn *turns;
	size_t n, cap;
	int freed;                  /* turns dropped and freed so far */
	cairn_conversation_info info;
	char *question, *standalone, *history; /* the last turn's, behind info */
	char word[24];
};

cairn_conversation_params cairn_conversation_default_params(void)
{
	cairn_conversation_params p = {
		.budget_tokens = 1024,
		.verbatim_turns = 3,
		.summary_tokens = 48,
		.rewrite = 1,
	};
	return p;
}

static void turn_free(cn_conv_turn *t)
{
	cn_free(t->question);
	cn_free(t->standalone);
	cn_free(t->answer);
}

static void clear_last(cairn_conversation *c)
{
	cn_free(c->question);
	cn_free(c->standalone);
	cn_free(c->history);
	c->question = c->standalone = c->history = NULL;
	c->word[0] = '\0';
	memset(&c->info, 0, sizeof c->info);
	c->info.question = c->info.standalone_query = c->info.history = "";
	c->info.rewrite_reason = "independent";
	c->info.rewrite_word = c->word;
	c->info.budget_tokens = c->p.budget_tokens;
}

cairn_status cairn_conversation_new(const cairn_conversation_params *params, cairn_conversation **out)
{
	*out = NULL;
	cairn_conversation *c = cn_calloc(1, sizeof *c);
	if (!c)
		return CAIRN_ENOMEM;
	c->p = params ? *params : cairn_conversation_default_params();
	if (c->p.budget_tokens <= 0)
		c->p.budget_tokens = 1024;
	if (c->p.budget_tokens < 16)
		c->p.budget_tokens = 16;
	if (c->p.verbatim_turns < 0)
		c->p.verbatim_turns = 0;
	if (c->p.summary_tokens <= 0)
		c->p.summary_tokens = 48;
	if (c->p.summary_tokens < 8)
		c->p.summary_tokens = 8;
	clear_last(c);
	*out = c;
	return CAIRN_OK;
}

void cairn_conversation_reset(cairn_conversation *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		turn_free(&c->turns[i]);
	c->n = 0;
	c->freed = 0;
	clear_last(c);
}

void cairn_conversation_free(cairn_conversation *c)
{
	if (!c)
		return;
	cairn_conversation_reset(c);
	cn_free(c->turns);
	cn_free(c);
}

size_t cairn_conversation_turns(const cairn_conversation *c) { return c ? c->n + (size_t)c->freed : 0; }

const cairn_conversation_info *cairn_conversation_last(const cairn_conversation *c) { return c ? &c->info : NULL; }

const char *cairn_conversation_standalone_query(const cairn_conversation *c)
{
	return c ? c->info.standalone_query : "";
}

/* Drops turns [0, k): they left the budget's window for good. */
static void forget(cairn_conversation *c, size_t k)
{
	for (size_t i = 0; i < k; i++)
		turn_free(&c->turns[i]);
	memmove(c->turns, c->turns + k, (c->n - k) * sizeof *c->turns);
	c->n -= k;
	c->freed += (int)k;
}

cairn_status cairn_conversation_ask(cairn_conversation *c, cairn_kb *kb, const char *question,
                                    const cairn_ask_params *params, cairn_answer **out)
{
	*out = NULL;
	if (!c || !kb)
		return CAIRN_EINVAL;
	if (!question)
		question = "";
	size_t qlen = strnlen(question, MAX_QUESTION_BYTES + 1);
	if (qlen > MAX_QUESTION_BYTES) {
		qlen = MAX_QUESTION_BYTES;
		while (qlen > 0 && ((unsigned char)question[qlen] & 0xC0) == 0x80)
			qlen--;
	}
	clear_last(c);
	cn_conv_kept kept;
	cn_buf hist, sq;
	cn_buf_init(&hist);
	cn_buf_init(&sq);
	cn_conv_history(c->turns, c->n, c->p.budget_tokens, c->p.verbatim_turns, c->p.summary_tokens, &hist, &kept);
	c->question = cn_strndup(question, qlen);
	/* the previous turn, when the budget still holds it, is what a follow-up refers to */
	const cn_conv_turn *prev = kept.first < c->n ? &c->turns[c->n - 1] : NULL;
	cn_conv_dep d = CN_CONV_INDEPENDENT;
	if (c->question) {
		if (c->p.rewrite && prev)
			d = cn_conv_rewrite(c->question, prev->question, prev->standalone, &sq);
		else
			cn_buf_puts(&sq, c->question);
	}
	if (d != CN_CONV_INDEPENDENT)
		cn_conv_dependent(c->question, qlen, c->word);
	c->history = cn_buf_take(&hist);
	c->standalone = cn_buf_take(&sq);
	cn_buf_free(&hist);
	cn_buf_free(&sq);
	if (!c->question || !c->history || !c->standalone) {
		clear_last(c);
		return CAIRN_ENOMEM;
	}
	c->info.question = c->question;
	c->info.standalone_query = c->standalone;
	c->info.rewritten = strcmp(c->question, c->standalone) != 0;
	c->info.rewrite_reason = cn_conv_dep_name(c->info.rewritten ? d : CN_CONV_INDEPENDENT);
	if (!c->info.rewritten)
		c->word[0] = '\0';
	c->info.turns_verbatim = kept.verbatim;
	c->info.turns_summarized = kept.summarized;
	c->info.turns_dropped = kept.dropped + c->freed;
	c->info.history_tokens = kept.tokens;
	c->info.history = c->history;

	cairn_answer *a = NULL;
	cairn_ask_params ap = params ? *params : cairn_ask_default_params();
	if (!ap.history && *c->history)
		ap.history = c->history; /* a generative answer sees the conversation, fenced */
	cairn_status st = cairn_ask(kb, c->standalone, &ap, &a);
	if (st)
		return st;
	const cairn_answer_view *v = cairn_answer_get(a);
	cn_conv_turn t = {cn_strdup(c->question), cn_strdup(c->standalone), cn_strdup(v->answer ? v->answer : "")};
	if (!t.question || !t.standalone || !t.answer || CN_GROW(c->turns, c->cap, c->n + 1)) {
		turn_free(&t);
		cairn_answer_free(a);
		return CAIRN_ENOMEM;
	}
	c->turns[c->n++] = t;
	forget(c, kept.first < c->n ? kept.first : 0);
	*out = a;
	return CAIRN_OK;
}

/* ---- JSON and explain ---- */

static void jstr(cn_buf *b, const char *s) { cn_buf_put_json_str(b, s ? s : "", s ? strlen(s) : 0); }

char *cairn_conversation_answer_to_json(const cairn_conversation *c, const cairn_answer *a, int explain)
{
	char *j = cairn_answer_to_json(a, explain);
	if (!j || !c)
		return j;
	size_t n = strlen(j);
	while (n > 0 && j[n - 1] != '}')
		n--;
	if (!n) {
		cairn_free(j);
		return NULL;
	}
	const cairn_conversation_info *in = &c->info;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_append(&b, j, n - 1);
	cairn_free(j);
	cn_buf_puts(&b, ",\"conversation\":{\"question\":");
	jstr(&b, in->question);
	cn_buf_puts(&b, ",\"standalone_query\":");
	jstr(&b, in->standalone_query);
	cn_buf_printf(&b, ",\"rewritten\":%s,\"rewrite_reason\":", in->rewritten ? "true" : "false");
	jstr(&b, in->rewrite_reason);
	cn_buf_printf(&b,
	              ",\"turns_verbatim\":%d,\"turns_summarized\":%d,\"turns_dropped\":%d,\"history_tokens\":%d,"
	              "\"budget_tokens\":%d",
	              in->turns_verbatim, in->turns_summarized, in->turns_dropped, in->history_tokens, in->budget_tokens);
	if (explain) {
		cn_buf_puts(&b, ",\"history\":");
		jstr(&b, in->history);
	}
	cn_buf_puts(&b, "}}");
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

char *cairn_conversation_explain(const cairn_conversation *c)
{
	if (!c)
		return NULL;
	const cairn_conversation_info *in = &c->info;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "0. conversation\n   question          ");
	cn_buf_puts(&b, in->question);
	cn_buf_puts(&b, "\n   standalone query  ");
	cn_buf_puts(&b, in->standalone_query);
	if (in->rewritten)
		cn_buf_printf(&b, "\n   rewritten         %s%s%s%s", in->rewrite_reason, *in->rewrite_word ? " \"" : "",
		              in->rewrite_word, *in->rewrite_word ? "\"" : "");
	else
		cn_buf_puts(&b, "\n   rewritten         no (independent question, or no earlier turn)");
	cn_buf_printf(&b, "\n   history           %d verbatim, %d summarized, %d dropped (%d of %d tokens)\n",
	              in->turns_verbatim, in->turns_summarized, in->turns_dropped, in->history_tokens, in->budget_tokens);
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}
