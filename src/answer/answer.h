/*
 * answer — grounded answers: the extractive answerer behind cairn_ask, its verifier, and the
 * answer evaluation (cairn_eval_answers).
 *
 * The module sees the engine only through include/cairn.h (cairn_search with chunk texts,
 * cairn_kb_doc_freqs for idf, cairn_kb_analyzer to analyse text exactly as the index does),
 * plus base, text (sentence segmentation) and lex (the analyzer). Files:
 *  - qtype.c: question types and answer-span candidates (numbers with units, dates,
 *    percentages, capitalised names, "X is Y" clauses) — pure functions on text.
 *  - verify.c: the verifier: is a sentence found in (or lexically and numerically aligned
 *    with) the passage it cites.
 *  - ask.c: cairn_ask — retrieval, context, sentence scoring, selection, confidence,
 *    abstention; the answer object and its JSON.
 *  - squad.c: SQuAD v1.1 answer normalisation, exact match and token F1.
 *  - eval_answers.c: cairn_eval_answers over SQuAD-format and SciFact data.
 */
#ifndef CAIRN_ANSWER_H
#define CAIRN_ANSWER_H

#include "base/base.h"

/* ---- question types and spans (qtype.c) ---- */

typedef enum cn_qtype {
	CN_QT_SENTENCE = 0, /* no short answer expected: sentences */
	CN_QT_NUMBER,       /* how many …: a count, with the counted noun when it follows */
	CN_QT_QUANTITY,     /* how much/large, what is the size/rate…: number with unit */
	CN_QT_DURATION,     /* how long, what is the (incubation) period/duration: number + time unit */
	CN_QT_PERCENT,      /* what percentage/proportion */
	CN_QT_DATE,         /* when, what year */
	CN_QT_PERSON,       /* who */
	CN_QT_PLACE,        /* where */
	CN_QT_DEFINITION,   /* what is X: the clause after "X is" */
	CN_QT_COUNT_
} cn_qtype;

const char *cn_qtype_name(cn_qtype t);

/* The question's type from its wording (English). */
cn_qtype cn_question_type(const char *q, size_t n);

/* True for words that shape a question but carry no topic ("what", "how", "does", "many",
 * …): left out of the terms sentences are matched on. w is lowercase ASCII. */
bool cn_question_word(const char *w, size_t n);
/* Words that, right after "how", ask for a quantity ("how long", "how old"): the question's
 * type, not its topic. */
bool cn_question_word_after_how(const char *w, size_t n);

/* A candidate span [start, end) in a sentence, of a type. */
typedef struct cn_anspan {
	uint32_t start, end;
	cn_qtype type;
} cn_anspan;

/* Finds candidate answer spans of type t in s[0..n) (at most max; returns how many were
 * written). protect[i] (may be NULL) marks bytes covered by question terms: a candidate
 * may not lie inside them. For CN_QT_DEFINITION the candidate is the clause after the
 * first copula ("is", "are", "refers to", …) that follows a protected byte. */
size_t cn_find_spans(const char *s, size_t n, cn_qtype t, const uint8_t *protect, cn_anspan *out, size_t max);

/* ---- verification (verify.c) ---- */

typedef struct cn_verdict {
	bool found;        /* the text occurs in the passage (whitespace-insensitive) */
	double lexical;    /* fraction of the text's word tokens present in the passage */
	bool numbers_ok;   /* every number in the text occurs in the passage */
	bool supported;    /* found, or lexical >= 0.8 with numbers_ok */
} cn_verdict;

void cn_verify_text(const char *text, size_t tlen, const char *passage, size_t plen, cn_verdict *out);

/* ---- internal views of an answer (ask.c), for the evaluation ---- */

#define CN_ANS_NFEAT 6
/* The confidence features: coverage, context coverage, chunk coverage, margin, span,
 * missing idf (see ask.c). */
void cn_answer_features(const cairn_answer *a, double *f);
size_t cn_answer_context_count(const cairn_answer *a);
/* The i-th retrieved chunk's text as far as it entered the context (NULL when it did not). */
const char *cn_answer_context_text(const cairn_answer *a, size_t i, size_t *len, const char **doc_id);

/* ---- SQuAD v1.1 metrics (squad.c) ---- */

/* The official normalize_answer: lower-case, drop ASCII punctuation, drop the words
 * a/an/the, collapse whitespace. Appends to out. */
void cn_squad_normalize(cn_buf *out, const char *s, size_t n);
double cn_squad_exact(const char *pred, const char *gold);
double cn_squad_f1(const char *pred, const char *gold);

#endif
