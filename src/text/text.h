/*
 * text — UTF-8 and plain-text helpers shared by lex, ingest, vocab and the answer modules.
 *
 * Everything here works on byte ranges (pointer + length, never NUL-terminated assumptions)
 * and treats input as untrusted: invalid UTF-8 is reported or stepped over one byte at a
 * time, never read past the given length.
 *
 *  - cn_utf8_valid: strict validation (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF),
 *    eight ASCII bytes at a time on the common path.
 *  - cn_utf8_decode / cn_utf8_encode: one code point at a time.
 *  - cn_sentences: rule-based sentence segmentation for snippets and the extractive answerer
 *    (terminators . ! ? and 。！？, abbreviations, initials, decimals, blank-line breaks).
 *  - cn_ws_collapse: whitespace runs → one space, for snippets.
 */
#ifndef CAIRN_TEXT_H
#define CAIRN_TEXT_H

#include "base/base.h"

/* Strict UTF-8 check of s[0..n). On failure *bad_offset (may be NULL) gets the offset of
 * the first byte of the first invalid sequence. */
bool cn_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Decodes one code point from s[0..n) (n >= 1). Returns the bytes consumed (>= 1, 0 only
 * when n == 0); on an invalid or truncated sequence consumes one byte and sets *cp = -1. */
size_t cn_utf8_decode(const char *s, size_t n, int32_t *cp);

/* Encodes cp; returns 1..4, or 0 for a surrogate or a value outside Unicode. */
size_t cn_utf8_encode(int32_t cp, char out[4]);

/* A half-open byte range [start, end) in some text. */
typedef struct cn_span {
	uint32_t start, end;
} cn_span;

/* Splits s[0..n) into sentences, trimmed of surrounding whitespace, writing at most max
 * spans to out (out may be NULL when max is 0). Returns the total number of sentences, so
 * a return value > max means out was too small (like snprintf). Inputs longer than
 * UINT32_MAX bytes are treated as their first UINT32_MAX bytes. */
size_t cn_sentences(const char *s, size_t n, cn_span *out, size_t max);
/* Growable variant: *out is allocated with cn_malloc (caller frees with cn_free; NULL when
 * there are no sentences). */
cairn_status cn_sentences_all(const char *s, size_t n, cn_span **out, size_t *count);

/* Appends s[0..n) to out with every run of whitespace (ASCII and Unicode spaces, line and
 * paragraph separators) collapsed to one ' ' and leading/trailing whitespace dropped.
 * Invalid UTF-8 bytes become U+FFFD so the output is always valid UTF-8. Out-of-memory is
 * recorded in out->failed. */
void cn_ws_collapse(cn_buf *out, const char *s, size_t n);

#endif
