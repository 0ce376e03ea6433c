/*
 * conversation.h — the pieces of cairn_conversation (conversation.c) that are pure functions
 * on text, exposed so that tests can check them on hand-written dialogues: is a follow-up
 * dependent on the turns before it, the standalone query made from it, and which turns of
 * the history fit a token budget (verbatim, summarized, dropped).
 */
#ifndef CAIRN_ANSWER_CONVERSATION_H
#define CAIRN_ANSWER_CONVERSATION_H

#include "base/base.h"

/* Why a question was judged dependent on the conversation. */
typedef enum cn_conv_dep {
	CN_CONV_INDEPENDENT = 0,
	CN_CONV_PRONOUN,    /* it, its, they, them, this, that, these, those, he, she, there, … */
	CN_CONV_ELLIPTICAL, /* "what about X?", "how about X?", "and X?" */
	CN_CONV_SHORT,      /* "why?", "how long?": no topic words, or two words at most */
} cn_conv_dep;

const char *cn_conv_dep_name(cn_conv_dep d);

/* Whether q[0..n) needs the conversation to be understood. *word (may be NULL) receives the
 * lower-cased pronoun or elliptical marker that decided it ("" otherwise; 24 bytes). */
cn_conv_dep cn_conv_dependent(const char *q, size_t n, char word[24]);

/* The standalone query for question q asked after a turn whose question was prev_question
 * and whose standalone query was prev_standalone (either may be NULL: no previous turn).
 * Independent questions are appended to out unchanged; dependent ones get the salient
 * content words of the previous turn (its question's words first, then the rest of its
 * standalone query; stopwords, question words and words q already has left out, at most
 * CN_CONV_MAX_TERMS): in place of the first pronoun, after the elliptical "what about" (with
 * the previous question's frame, or the previous question with its number replaced when
 * the follow-up only changes a number: "… for 2025?" → "what about 2026?"), or appended.
 * Returns the reason (CN_CONV_INDEPENDENT when out got q as it is). */
#define CN_CONV_MAX_TERMS 8
cn_conv_dep cn_conv_rewrite(const char *q, const char *prev_question, const char *prev_standalone, cn_buf *out);

/* Estimated tokens of text, as cairn_ask estimates its context (words × 4/3). */
int cn_conv_tokens(const char *s, size_t n);

/* One finished turn. */
typedef struct cn_conv_turn {
	char *question;   /* as asked */
	char *standalone; /* as retrieved and answered */
	char *answer;     /* the answer text (or the abstention message) */
} cn_conv_turn;

typedef struct cn_conv_kept {
	int verbatim, summarized, dropped;
	int tokens;       /* estimated tokens of the history text */
	size_t first;     /* index of the oldest turn kept (n when none) */
} cn_conv_kept;

/* The history of turns[0..n) (oldest first) within budget tokens: the newest turns verbatim
 * ("User: …\nAssistant: …"), at most max_verbatim of them and while they fit; older turns
 * summarized ("Earlier, user asked: … — answer: <first sentence>", cut to summary_tokens);
 * the oldest dropped once even their summaries would not fit. A turn too long to be kept
 * verbatim is summarized even when it is the newest. The text (oldest first) is appended to
 * out (may be NULL). */
void cn_conv_history(const cn_conv_turn *turns, size_t n, int budget, int max_verbatim, int summary_tokens,
                     cn_buf *out, cn_conv_kept *kept);

#endif
