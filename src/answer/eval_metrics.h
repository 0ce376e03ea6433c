/*
 * Answer-evaluation metrics as pure functions over strings and counts, so each can be tested
 * against hand-worked values and an independent Python reference (tests/reference/
 * answer_metrics.py) without a knowledge base.
 */
#ifndef CAIRN_EVAL_METRICS_H
#define CAIRN_EVAL_METRICS_H

#include "base/base.h"

/* rouge-score's default tokenizer: ASCII lower-casing, every run of characters outside
 * [a-z0-9] is a separator. *toks (cn_free it) holds (start, len) pairs into the lowered
 * copy *low (cn_free it). Returns the token count, or SIZE_MAX when out of memory. */
size_t cn_metric_tokens(const char *s, size_t n, char **low, uint32_t **toks);

/* ROUGE-L F-measure (rouge-score's rougeL, no stemming): LCS over the tokens above,
 * P = lcs/|pred|, R = lcs/|ref|, F = 2PR/(P+R); 0 when either side is empty. Max over refs. */
double cn_rouge_l(const char *pred, const char *const *refs, size_t n_refs);

/* BLEU statistics of one hypothesis against its references (tokens as above): clipped n-gram
 * matches and totals for n = 1..4, the hypothesis length and the closest reference length
 * (ties go to the shorter one), as NLTK computes them. */
typedef struct cn_bleu_stats {
	int64_t match[4], total[4];
	int64_t hyp_len, ref_len;
} cn_bleu_stats;

cairn_status cn_bleu_stats_of(const char *hyp, const char *const *refs, size_t n_refs, cn_bleu_stats *out);
/* Sentence BLEU-4, uniform weights, NLTK's SmoothingFunction().method1 (epsilon 0.1 added to
 * a zero numerator), 0 when no unigram matches. */
double cn_bleu_sentence(const cn_bleu_stats *s);
/* Corpus BLEU-4 over summed statistics, no smoothing (0 when some order has no match). */
double cn_bleu_corpus(const cn_bleu_stats *sum);
void cn_bleu_add(cn_bleu_stats *sum, const cn_bleu_stats *s);

/* Nearest-rank percentile (p in (0,100]) of v[0..n), sorting v in place; 0 when n is 0. */
double cn_percentile(double *v, size_t n, double p);

/* Citation precision and recall against gold evidence. A gold item is a document id, a
 * passage text, or both. A citation is correct when it matches some item: same doc id (when
 * the item names one) and, when the item has text, the cited passage contains it (both
 * SQuAD-normalised). An item is found when some citation matches it. */
typedef struct cn_gold_item {
	const char *doc_id;   /* NULL = any document */
	const char *text;     /* NULL = the document is enough */
} cn_gold_item;

typedef struct cn_cited {
	const char *doc_id;
	const char *passage;  /* the cited chunk's text (or the quote) */
} cn_cited;

/* A gold document id names a cited one when equal, or when the cited id (a file's path as it
 * was ingested) ends with "/" + the gold id: "docs/faq.md" is named by "faq.md". */
bool cn_doc_id_match(const char *cited, const char *gold);
void cn_citation_match(const cn_cited *c, size_t nc, const cn_gold_item *g, size_t ng, size_t *correct,
                       size_t *found);

/* Abstention precision and recall: positives are the unanswerable questions, predictions the
 * abstentions. P = abstained ∧ unanswerable / abstained, R = … / unanswerable; 0 over none. */
void cn_abstention_pr(const int *unanswerable, const int *abstained, size_t n, double *precision, double *recall);

#endif
