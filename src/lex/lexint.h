/*
 * lex internals — interface to code in wordbreak.c (used by analyzer.c and the tests).
 *
 * The segmenter walks UTF-8 text and returns word segments following the UAX#29 rules as
 * Lucene's StandardTokenizer applies them (see wordbreak.c), plus runs of characters from
 * scripts written without spaces, which the analyzer turns into bigrams.
 */
#ifndef CAIRN_LEXINT_H
#define CAIRN_LEXINT_H

#include "lex/lex.h"

/* Word-break classes (a reduction of the UAX#29 Word_Break property to what the tokenizer
 * distinguishes). */
enum {
	CN_WB_OTHER = 0,   /* separators, punctuation, symbols, emoji, invalid bytes */
	CN_WB_LETTER,      /* ALetter (incl. Hebrew_Letter) */
	CN_WB_NUMERIC,     /* Numeric */
	CN_WB_MIDLETTER,   /* ':' '·' … joins letters only */
	CN_WB_MIDNUM,      /* ',' ';' … joins digits only */
	CN_WB_MIDNUMLET,   /* '.' '\'' '’' … joins letters or digits */
	CN_WB_EXTNUMLET,   /* '_' … joins anything */
	CN_WB_EXTEND,      /* Extend, Format, ZWJ: attach to the previous character (WB4) */
	CN_WB_CJK,         /* Han, Hiragana, Katakana, Hangul */
	CN_WB_SEA,         /* Thai, Lao, Myanmar, Khmer letters */
};

#define CN_LEX_MAX_TOKEN 255 /* bytes, like Lucene's default maxTokenLength (which counts UTF-16 units) */
#define CN_LEX_MAX_UNIT 64   /* bytes of one CJK/SEA character plus its combining marks */

uint8_t cn_wb_class(int32_t cp);

enum { CN_SEG_WORD = 1, CN_SEG_RUN = 2 };

typedef struct cn_seg {
	size_t start, end; /* byte range */
	int kind;          /* CN_SEG_WORD or CN_SEG_RUN (CJK/SEA characters, no spaces) */
	bool ascii;        /* every byte < 0x80 (words only) */
	size_t units;      /* characters in a run (each with its combining marks) */
} cn_seg;

/* Finds the next segment at or after *pos in s[0..n); advances *pos past it. Returns false
 * when the text is exhausted. Words are at most CN_LEX_MAX_TOKEN bytes (longer ones are cut
 * into consecutive pieces, as Lucene does). */
bool cn_seg_next(const uint8_t *s, size_t n, size_t *pos, cn_seg *out);
/* End of the CJK/SEA character starting at i (base character plus bounded marks). */
size_t cn_seg_unit_end(const uint8_t *s, size_t n, size_t i);

/* Lucene's Porter stemmer (porter.c): stems w[0..n) in place, returns the new length.
 * Words of ≤ 2 bytes, and words with anything but ASCII lower-case letters, are unchanged. */
size_t cn_porter_stem(char *w, size_t n);

#endif
