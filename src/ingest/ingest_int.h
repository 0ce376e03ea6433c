/*
 * ingest internals — shared by the readers and the chunker; not for other modules.
 *
 * The block builder (cn_bb) is the one place where block text is accumulated, trimmed and
 * copied into the doc's arena, and where src ranges are clamped so they stay within the
 * source and non-decreasing whatever a reader reports. Readers are event-driven (md4c
 * callbacks, an iterative libxml2 tree walk, line scanners); none recurses on input
 * structure, so nesting depth cannot exhaust the stack.
 */
#ifndef CAIRN_INGEST_INT_H
#define CAIRN_INGEST_INT_H

#include "ingest/ingest.h"

static inline bool cn_ing_isspace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ---- interface to code in util.c ---------------------------------------------------- */

/* Strict UTF-8 (no overlongs, surrogates or > U+10FFFF). Returns true when valid; else
 * *bad gets the offset of the first bad sequence. *nul (may be NULL) is set when a NUL byte
 * occurs (NUL is valid UTF-8; callers decide). */
bool cn_ing_utf8_valid(const char *s, size_t n, size_t *bad, bool *nul);
/* Decodes one code point at s[i] (i < n); returns its byte length (>= 1). An invalid byte
 * decodes as U+FFFD with length 1. */
size_t cn_ing_utf8_next(const char *s, size_t n, size_t i, uint32_t *cp);
/* Writes the UTF-8 of cp (<= U+10FFFF) to out; returns the length (1–4). */
size_t cn_ing_utf8_put(uint32_t cp, char out[4]);
/* Decodes an HTML entity "&name;" / "&#123;" / "&#x1F;" at s (n bytes available). On success
 * returns the entity's source length and writes *outlen bytes of UTF-8 to out; 0 if s does
 * not start a known entity. */
size_t cn_ing_entity(const char *s, size_t n, char out[8], size_t *outlen);
/* Length of the UTF-8 BOM at data (3) or 0. */
size_t cn_ing_bom(const char *data, size_t len);

/* Adds a block whose text is copied into the doc's arena. */
cairn_status cn_doc_add_block(cn_doc *d, cn_block_kind kind, int level, const char *text,
			      size_t len, uint64_t src_start, uint64_t src_end);
/* Copies s into the doc's arena as the title (whitespace collapsed, at most 300 bytes). */
cairn_status cn_doc_set_title(cn_doc *d, const char *s, size_t n);

/* Block builder. */
typedef struct cn_bb {
	cn_doc *doc;
	cn_buf buf;
	cn_block_kind kind;
	int level;
	bool open;
	bool space; /* a collapsed space is pending */
	bool has_src;
	uint64_t start, end;        /* src of the block being built */
	uint64_t prev_start, prev_end; /* clamps: blocks are non-decreasing */
	uint64_t src_len;           /* source length: the clamp ceiling */
	cairn_status rc;            /* sticky */
} cn_bb;

void cn_bb_init(cn_bb *b, cn_doc *doc, uint64_t src_len);
void cn_bb_free(cn_bb *b);
/* Flushes any open block, then opens one of kind. */
void cn_bb_open(cn_bb *b, cn_block_kind kind, int level);
/* Finishes the open block: trims, drops it if empty, else adds it to the doc. */
void cn_bb_flush(cn_bb *b);
void cn_bb_put(cn_bb *b, const char *s, size_t n);           /* verbatim */
void cn_bb_put_collapsed(cn_bb *b, const char *s, size_t n); /* whitespace runs → one space */
void cn_bb_space(cn_bb *b);   /* a space before the next text (never leading a line) */
void cn_bb_newline(cn_bb *b); /* a line break unless at the start or after one */
void cn_bb_src(cn_bb *b, uint64_t start, uint64_t end);

/* ---- interface to code in simhash.c ----------------------------------------------- */

/* Plain per-bit voting, the reference cn_simhash is tested against. */
uint64_t cn_simhash_ref(const char *text, size_t len);

/* ---- interface to the readers ------------------------------------------------------- */

/* Each reader parses data[off, len) (off skips a BOM or front matter); offsets refer to data. */
cairn_status cn_parse_markdown(const char *path, const char *data, size_t len, size_t off,
			       cn_doc *d, cn_err *err);
cairn_status cn_parse_html(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err);
cairn_status cn_parse_text(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err);
cairn_status cn_parse_code(const char *path, const char *data, size_t len, size_t off,
			   cn_doc *d, cn_err *err);

#endif
