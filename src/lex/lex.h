/*
 * lex — retrieval analysis: text → index terms.
 *
 * The default analyzer reproduces what Anserini's DefaultEnglishAnalyzer does on Lucene, so
 * BM25 numbers are comparable with published Pyserini/Anserini runs:
 *   UAX#29-style word segmentation (Lucene StandardTokenizer rules: letters, digits, joined by
 *   MidLetter/MidNum punctuation such as "don't", "3.14", "U.S.A"; max 255 bytes per token)
 *   → English possessive removal ("'s") → lower-casing / Unicode case folding (utf8proc, NFKC)
 *   → stopwords (Lucene's 33-word English set by default) → stemming ("porter" is the
 *   Porter stemmer exactly as Lucene's PorterStemFilter applies it, porter.c; any other
 *   name is a libstemmer/Snowball algorithm).
 * Scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai…) are emitted as
 * overlapping character bigrams (a lone character stays a unigram), as Lucene's CJKAnalyzer
 * does, so such text is findable without a dictionary.
 *
 * An analyzer keeps a cache from surface form to final term, because stemming dominates
 * analysis time and natural text repeats words heavily. It is therefore NOT thread-safe:
 * use one analyzer per thread (cn_analyzer_new is cheap).
 *
 * cn_analyzer_signature() names the configuration ("v1;stem=porter;stop=lucene;poss=1;cjk=1");
 * the knowledge base stores it so queries are analyzed exactly as the index was.
 */
#ifndef CAIRN_LEX_H
#define CAIRN_LEX_H

#include "base/base.h"

typedef struct cn_analyzer cn_analyzer;

typedef struct cn_analyzer_params {
	const char *stemmer;   /* "porter" (Lucene's), a libstemmer algorithm ("english", "german", …) or "none" */
	const char *stopwords; /* "lucene" (33 English words), "none", or "english"/other Snowball lists when known */
	bool possessive;       /* strip English "'s" (default true) */
	bool cjk_bigrams;      /* default true */
} cn_analyzer_params;

cn_analyzer_params cn_analyzer_default_params(void); /* porter, lucene, true, true */

cairn_status cn_analyzer_new(const cn_analyzer_params *p, cn_analyzer **out, cn_err *err);
/* Parses a signature produced by cn_analyzer_signature back into an analyzer. */
cairn_status cn_analyzer_from_signature(const char *sig, cn_analyzer **out, cn_err *err);
void cn_analyzer_free(cn_analyzer *a);
const char *cn_analyzer_signature(const cn_analyzer *a);

typedef struct cn_token {
	uint32_t term_off;  /* offset of the NUL-terminated term in cn_tokens.terms */
	uint32_t term_len;
	uint32_t pos;       /* position: counts every word before stopword removal, so a dropped
	                     * stopword leaves a gap (Lucene position increments); continues
	                     * across calls on the same cn_tokens (pos = n_words at the time) */
	uint32_t start;     /* byte span of the surface word in the analyzed text */
	uint32_t end;
} cn_token;

typedef struct cn_tokens {
	cn_token *v;
	size_t n, cap;
	cn_buf terms;       /* term bytes, each NUL-terminated */
	size_t n_words;     /* words seen before stopword removal */
} cn_tokens;

void cn_tokens_init(cn_tokens *t);
void cn_tokens_reset(cn_tokens *t);
void cn_tokens_free(cn_tokens *t);
static inline const char *cn_token_term(const cn_tokens *t, size_t i) { return t->terms.data + t->v[i].term_off; }

/* Appends the terms of text[0..len) to out (out is not reset, so several fields can be
 * analyzed into one list; offsets are relative to each call's text plus base_offset).
 * Invalid UTF-8 bytes are treated as separators, never as an error. Returns CAIRN_ENOMEM, or
 * CAIRN_ETOOBIG when base_offset + len or the term bytes would exceed 32 bits; on failure out
 * is left exactly as it was. Terms are at most 255 bytes. */
cairn_status cn_analyze(cn_analyzer *a, const char *text, size_t len, uint32_t base_offset, cn_tokens *out);

/* Number of word tokens in text (no stemming/stopwords) — a cheap length estimate. Equals the
 * n_words an analysis with CJK bigrams on would add (a run of k > 1 CJK characters counts
 * k - 1 bigrams). */
size_t cn_count_words(const char *text, size_t len);

#endif
