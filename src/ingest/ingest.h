/*
 * ingest — document readers, the structure-aware chunker and near-duplicate fingerprints.
 *
 * Data flow: bytes → cn_check_text (binary / UTF-8 / empty) → cn_parse (a reader per format
 * turns the source into a flat list of blocks: heading, paragraph, list, table, code, quote)
 * → cn_chunk_doc (packs blocks into chunks near a token target, never cutting a table or a
 * code block except at row/line boundaries) → one SimHash per chunk for near-duplicate
 * detection. JSON Lines corpora (BEIR) have their own record reader; the engine parses each
 * record's text as CN_FMT_TEXT.
 *
 * Ownership: a cn_doc owns every string it points at (its arena); cn_chunks likewise. The
 * JSONL reader borrows the caller's bytes; a record is valid until the next call.
 *
 * Blocks are flat (never nested) and in source order; their src ranges are within [0, len]
 * and non-decreasing. Exact for text and code, exact at block starts for Markdown, best
 * effort for HTML (see docs/formats/chunking.md).
 */
#ifndef CAIRN_INGEST_H
#define CAIRN_INGEST_H

#include "base/base.h"

/* ---- formats ------------------------------------------------------------------------ */

typedef enum cn_format {
	CN_FMT_UNKNOWN = 0,
	CN_FMT_TEXT,
	CN_FMT_MARKDOWN,
	CN_FMT_HTML,
	CN_FMT_CODE,
	CN_FMT_JSONL
} cn_format;

/* "text", "markdown", "html", "code", "jsonl"; "unknown" otherwise. */
const char *cn_format_name(cn_format f);

/* By extension (case-insensitive) or well-known file name (Makefile, Dockerfile,
 * CMakeLists.txt…). Files without an extension and files with an unrecognised one are TEXT
 * (cn_check_text rejects binaries by content); known binary extensions give UNKNOWN.
 * *lang (if lang != NULL) gets the language name for CODE ("c", "python", …), else NULL. */
cn_format cn_format_from_path(const char *path, const char **lang);

/* Content check before parsing: CAIRN_EEMPTY for empty or whitespace-only input,
 * CAIRN_EFORMAT "PATH: binary file" for NUL bytes anywhere or a high share (> 10%) of control
 * bytes in the first 8 KiB, CAIRN_EFORMAT "PATH: invalid UTF-8 at byte N" (N counted from the
 * start of data, BOM included). A UTF-8 BOM is allowed. */
cairn_status cn_check_text(const char *path, const char *data, size_t len, cn_err *err);

/* ---- documents ---------------------------------------------------------------------- */

typedef enum cn_block_kind {
	CN_BLOCK_HEADING,
	CN_BLOCK_PARAGRAPH,
	CN_BLOCK_LIST,
	CN_BLOCK_TABLE,
	CN_BLOCK_CODE,
	CN_BLOCK_QUOTE,
	CN_BLOCK_OTHER
} cn_block_kind;

typedef struct cn_block {
	cn_block_kind kind;
	int level;        /* heading level 1–6 for HEADING, 0 otherwise */
	const char *text; /* plain text, NUL-terminated, owned by the doc's arena */
	size_t len;
	uint64_t src_start, src_end; /* byte range in the source this block came from */
} cn_block;

typedef struct cn_doc {
	cn_format format;
	const char *lang;  /* static string for CODE, else NULL */
	const char *title; /* may be NULL */
	cn_block *blocks;
	size_t n_blocks, cap_blocks;
	cn_arena arena;
} cn_doc;

void cn_doc_init(cn_doc *d);
void cn_doc_free(cn_doc *d);

/* Parses source bytes into blocks (appended to out, which must be initialised). A leading
 * BOM is skipped; offsets stay relative to data. Invalid UTF-8 or a NUL byte → CAIRN_EFORMAT;
 * input over
 * 4 GiB → CAIRN_ETOOBIG; CN_FMT_JSONL/UNKNOWN → CAIRN_EINVAL (use cn_jsonl_open). For CODE
 * documents the HEADING blocks are labels (file name, definition line): their text is not
 * part of the document body and the chunker uses them only for heading paths. On error out
 * may hold partial content; cn_doc_free releases it. */
cairn_status cn_parse(cn_format fmt, const char *lang, const char *path, const char *data,
		      size_t len, cn_doc *out, cn_err *err);

/* ---- chunks ------------------------------------------------------------------------- */

typedef struct cn_chunk_params {
	int target_tokens, min_tokens, max_tokens, overlap_pct; /* 512, 300, 800, 15 */
	bool whole; /* one chunk holding the whole document text */
	bool skip_simhash; /* the caller fingerprints chunks itself (cn_simhash_words); simhash left 0 */
	/* NULL = cn_estimate_tokens */
	size_t (*count_tokens)(const char *text, size_t len, void *ud);
	void *count_ud;
} cn_chunk_params;

cn_chunk_params cn_chunk_default_params(void);

typedef struct cn_chunk {
	char *text; /* NUL-terminated: overlap (if any), then own blocks joined by blank lines */
	size_t len;
	char *heading; /* heading path of the first block, " > " joined, "" if none */
	/* Headings that begin inside the chunk (a chunk may pack several small sections): one
	 * line "OFFSET\tHEADING PATH\n" each, OFFSET the byte in text where that section
	 * starts; NULL when the whole chunk is under `heading`. */
	char *sections;
	uint64_t src_start, src_end; /* source bytes covered by this chunk's own blocks */
	uint32_t n_tokens;           /* count_tokens(text) */
	uint64_t simhash;            /* cn_simhash(text) */
} cn_chunk;

typedef struct cn_chunks {
	cn_chunk *v;
	size_t n, cap;
	cn_arena arena; /* chunk texts and headings */
} cn_chunks;

void cn_chunks_init(cn_chunks *c);
void cn_chunks_free(cn_chunks *c);

/* Appends the chunks of doc to out. CAIRN_EINVAL for inconsistent params (target < 1,
 * min > target, max < target, overlap_pct outside 0..90); CAIRN_EEMPTY when the document has
 * no text at all. On error out may hold some chunks; cn_chunks_free releases them. */
cairn_status cn_chunk_doc(const cn_doc *doc, const cn_chunk_params *p, cn_chunks *out, cn_err *err);

/* Built-in estimate of subword-model tokens, additive over whitespace-joined pieces and
 * never smaller for the pieces of a split word than for the whole (the chunker relies on
 * that): a word (run of letters/digits) counts ceil(a/6) for its a ASCII characters plus
 * ceil(w/3) for its w non-ASCII letters; each punctuation/symbol character counts 1;
 * each CJK ideograph, kana or hangul syllable counts 1; whitespace counts 0. English prose
 * comes out near words × 1.3–1.4. */
size_t cn_estimate_tokens(const char *text, size_t len);

/* ---- near duplicates ---------------------------------------------------------------- */

/* 64-bit SimHash over word 3-shingles (words: runs of ASCII letters/digits, lower-cased,
 * and non-ASCII bytes taken raw). Texts with 1–2 words hash their words as one shingle;
 * no words → 0. */
uint64_t cn_simhash(const char *text, size_t len);
/* The same fingerprint scheme over words the caller has already hashed (e.g. analyzed
 * terms, so near-duplicates are judged after folding and stemming, with no second pass
 * over the text). */
uint64_t cn_simhash_words(const uint64_t *word_hashes, size_t n);
static inline int cn_hamming64(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

/* ---- JSON Lines (BEIR corpus format) ------------------------------------------------ */

typedef struct cn_jsonl_record {
	const char *id;    /* "_id" (a number is printed in decimal) */
	const char *title; /* "" when absent */
	const char *text;
	size_t text_len;
	const char *metadata_json; /* JSON object of the other keys, values as strings; "{}" */
	uint64_t line;             /* 1-based */
	uint64_t src_start, src_end; /* the line's byte range (without the newline) */
} cn_jsonl_record;

typedef struct cn_jsonl_reader cn_jsonl_reader;

/* data stays owned by the caller and must outlive the reader. A leading BOM is skipped. */
cairn_status cn_jsonl_open(const char *path, const char *data, size_t len, cn_jsonl_reader **out,
			   cn_err *err);
/* CAIRN_OK with *rec filled (valid until the next call), CAIRN_ENOTFOUND at the end,
 * CAIRN_EFORMAT "PATH:LINE: reason" for a malformed line (the reader has moved past it; call
 * again to continue), CAIRN_ENOMEM. Blank lines are skipped. */
cairn_status cn_jsonl_next(cn_jsonl_reader *r, cn_jsonl_record *rec, cn_err *err);
void cn_jsonl_close(cn_jsonl_reader *r);

#endif
