/*
 * vocab — model tokenizers: SentencePiece (BPE and unigram), byte-level BPE, WordPiece.
 *
 * Design:
 *  - One immutable cn_vocab per model, built from a neutral description (cn_vocab_spec) that
 *    mirrors GGUF's tokenizer.ggml.* keys. Every file format is a loader that fills a spec:
 *    GGUF metadata, SentencePiece `tokenizer.model`, Hugging Face `tokenizer.json`,
 *    `vocab.json` + `merges.txt`, tiktoken rank files, BERT `vocab.txt`, llama2.c
 *    `tokenizer.bin`. So there is one encoder per algorithm, not one per file format.
 *  - Encoding is two-level, as in llama.cpp: the text is first partitioned on special tokens
 *    (user-defined tokens always; control tokens only with CN_TOK_PARSE_SPECIAL), then each
 *    plain fragment goes to the algorithm (cn_vocab_algo in vocab_int.h). Byte-level BPE
 *    splits fragments with hand-written pre-tokenizers per model family (no regex engine on
 *    the hot path).
 *  - A cn_vocab is read-only after it is built: encode and decode keep their scratch on the
 *    caller's side, so one vocabulary serves any number of threads.
 *  - Bit-exactness is the contract: the output equals the tokenizer the model was trained
 *    with (SentencePiece, Hugging Face tokenizers, tiktoken), checked against their test
 *    vectors and differentially against python3-sentencepiece.
 */
#ifndef CAIRN_VOCAB_H
#define CAIRN_VOCAB_H

#include "base/base.h"
#include "gguf/gguf.h"

typedef enum cn_vocab_kind {
	CN_VOCAB_NONE = 0,
	CN_VOCAB_SPM = 1, /* SentencePiece BPE: score-ordered merges, U+2581 for spaces, byte fallback */
	CN_VOCAB_BPE = 2, /* byte-level BPE (GPT-2 family): pre-tokenizer split, ranked merges */
	CN_VOCAB_WPM = 3, /* WordPiece (BERT): basic tokenizer, greedy longest match */
	CN_VOCAB_UGM = 4  /* SentencePiece unigram: Viterbi over piece log-probabilities */
} cn_vocab_kind;

const char *cn_vocab_kind_name(cn_vocab_kind k); /* "spm", "bpe", "wpm", "ugm" */

/* Token attributes (bit set). GGUF's token_type values map onto them. */
enum {
	CN_TOKEN_NORMAL = 1u << 0,
	CN_TOKEN_UNKNOWN = 1u << 1,
	CN_TOKEN_CONTROL = 1u << 2,      /* <s>, </s>, <|eot_id|>: never produced from text unless parsed */
	CN_TOKEN_USER_DEFINED = 1u << 3, /* added tokens: always matched in text as a whole */
	CN_TOKEN_UNUSED = 1u << 4,
	CN_TOKEN_BYTE = 1u << 5,         /* <0x0A>: SentencePiece byte fallback */
	CN_TOKEN_LSTRIP = 1u << 6,       /* added-token flags from tokenizer.json */
	CN_TOKEN_RSTRIP = 1u << 7
};

/* GGUF tokenizer.ggml.token_type value (1..6) → attribute bits; 0 for an unknown value. */
uint32_t cn_vocab_attr_from_gguf_type(int64_t t);

/* The neutral description every loader fills. Arrays are borrowed: cn_vocab_build copies
 * what it keeps. Token texts are in GGUF's conventions:
 *  - SPM/UGM: SentencePiece pieces (U+2581 marks a space), byte pieces "<0x0A>";
 *  - BPE: GPT-2's byte-to-unicode alphabet ("Ġthe"), unless raw_bytes (tiktoken);
 *  - WPM: llama.cpp's rewrite of vocab.txt: word-initial pieces start with U+2581, "##"
 *    continuation prefixes removed, "[CLS]"-style specials unchanged. */
typedef struct cn_vocab_spec {
	const char *name;      /* the file, for messages */
	cn_vocab_kind kind;
	const char *pre;       /* tokenizer.ggml.pre ("llama-bpe", "qwen2", "gpt-2", …); NULL = default */
	uint32_t n_tokens;
	const cn_gguf_str *tokens;
	const float *scores;   /* may be NULL */
	const uint32_t *attrs; /* CN_TOKEN_* per token; may be NULL (derived from the text) */
	bool raw_bytes;        /* BPE tokens are raw byte strings (tiktoken), not GPT-2 alphabet */
	uint32_t n_merges;
	const cn_gguf_str *merges; /* "left right" in rank order (BPE); NULL with raw_bytes means
	                              rank = token id of the concatenation (tiktoken) */
	/* Special token ids, -1 when the model has none. */
	int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
	/* -1 = the default for the kind (SPM: bos yes, eos no, space prefix yes; BPE: neither
	 * unless the model says; WPM: cls + sep). */
	int add_bos, add_eos, add_space_prefix;
	int remove_extra_whitespaces; /* SentencePiece normalizer flag; -1 = default (no) */
	int treat_whitespace_as_suffix;
	bool byte_fallback;    /* SPM: unknown characters become <0xXX> tokens (if present) */
	bool lowercase;        /* WPM: lowercase (uncased BERT) */
	/* WPM, the rest of BERT's normalizer: -1 = the default (strip accents when lowercasing,
	 * clean text, space out CJK ideographs); max_chars 0 = 100. */
	int wpm_strip_accents, wpm_clean_text, wpm_chinese_chars;
	uint32_t wpm_max_chars;
	/* SentencePiece precompiled_charsmap (UGM normalization); NULL when identity. */
	const uint8_t *charsmap;
	size_t charsmap_len;
} cn_vocab_spec;

void cn_vocab_spec_init(cn_vocab_spec *s); /* zeroes, ids -1, flags -1 */

typedef struct cn_vocab cn_vocab;

cairn_status cn_vocab_build(const cn_vocab_spec *spec, cn_vocab **out, cn_err *err);
void cn_vocab_free(cn_vocab *v);

/* Loads a vocabulary from any supported file, told apart by name and content: *.gguf (and
 * llama2.c checkpoints: not supported, they carry no vocabulary), tokenizer.model
 * (SentencePiece protobuf, or tiktoken text as Llama 3 ships it), tokenizer.json, vocab.json
 * (merges.txt beside it), *.tiktoken, vocab.txt, llama2.c tokenizer.bin. pre overrides the
 * pre-tokenizer (tiktoken files do not name theirs; NULL = guess from the file). */
cairn_status cn_vocab_load(const char *path, const char *pre, cn_vocab **out, cn_err *err);
/* From an open GGUF's tokenizer.ggml.* metadata. */
cairn_status cn_vocab_from_gguf(const cn_gguf *g, cn_vocab **out, cn_err *err);

/* ---- encoding ------------------------------------------------------------------------- */

enum {
	CN_TOK_ADD_SPECIAL = 1u << 0,   /* BOS/EOS (WPM: CLS/SEP) as the model's metadata says */
	CN_TOK_PARSE_SPECIAL = 1u << 1  /* control-token texts in the input become those tokens */
};

typedef struct cn_tokvec {
	int32_t *ids;
	size_t n;
	size_t cap;
} cn_tokvec;

void cn_tokvec_init(cn_tokvec *t);
void cn_tokvec_free(cn_tokvec *t);
cairn_status cn_tokvec_push(cn_tokvec *t, int32_t id);

/* Appends the tokens of text[0..len) to out. Invalid UTF-8 is tokenized as its bytes
 * (byte-level BPE, SPM byte fallback) or as unknown tokens; it never fails for that. */
cairn_status cn_vocab_encode(const cn_vocab *v, const char *text, size_t len, unsigned flags,
                             cn_tokvec *out, cn_err *err);
/* The number of tokens cn_vocab_encode would produce; -1 on error (out of memory). */
int64_t cn_vocab_count(const cn_vocab *v, const char *text, size_t len, unsigned flags);

/* ---- decoding ------------------------------------------------------------------------- */

enum {
	CN_DETOK_SPECIAL = 1u << 0,     /* render control tokens as their text (default: drop) */
	CN_DETOK_KEEP_PREFIX = 1u << 1  /* keep the leading space SentencePiece added */
};

/* Appends the text of ids to out. Out-of-range ids are an error (CAIRN_EINVAL). */
cairn_status cn_vocab_decode(const cn_vocab *v, const int32_t *ids, size_t n, unsigned flags,
                             cn_buf *out, cn_err *err);
/* The bytes one token stands for in running text (for streaming generation: bytes of a
 * multi-byte character may be split across tokens). */
cairn_status cn_vocab_piece(const cn_vocab *v, int32_t id, unsigned flags, cn_buf *out,
                            cn_err *err);

/* The vocabulary behind a public cairn_tokenizer handle (tokenizer_api.c). */
const cn_vocab *cn_tokenizer_vocab(const cairn_tokenizer *tok);

/* ---- introspection -------------------------------------------------------------------- */

typedef struct cn_vocab_info {
	cn_vocab_kind kind;
	const char *pre;       /* the pre-tokenizer in use ("gpt-2", "llama3", …; "" for none) */
	uint32_t n_tokens;
	uint32_t n_merges;
	int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
	bool add_bos, add_eos, add_space_prefix;
} cn_vocab_info;

void cn_vocab_get_info(const cn_vocab *v, cn_vocab_info *out);
/* The token's text as stored (GGUF convention); NULL when out of range. */
const char *cn_vocab_token_text(const cn_vocab *v, int32_t id, size_t *len);
uint32_t cn_vocab_token_attr(const cn_vocab *v, int32_t id);
float cn_vocab_token_score(const cn_vocab *v, int32_t id);
/* Token id whose stored text is exactly text[0..len), or -1. */
int32_t cn_vocab_find(const cn_vocab *v, const char *text, size_t len);
/* True for ids that end a generation turn (eos, eot, eom). */
bool cn_vocab_is_eog(const cn_vocab *v, int32_t id);

#endif
