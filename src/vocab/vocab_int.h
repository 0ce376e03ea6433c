/*
 * vocab_int.h — private to src/vocab: the vocabulary object and the interface each
 * tokenization algorithm (spm.c, ugm.c, bpe.c, wpm.c) implements.
 *
 * The core (vocab.c) owns the token table, the special-token partition and BOS/EOS
 * handling; an algorithm owns only what is particular to it (merge tables, tries,
 * pre-tokenizers, normalizers) behind `algo`.
 */
#ifndef CAIRN_VOCAB_INT_H
#define CAIRN_VOCAB_INT_H

#include "vocab/vocab.h"

typedef struct cn_vocab_token {
	const char *text; /* NUL-terminated copy in the vocab's arena (may hold NULs inside) */
	uint32_t len;
	uint32_t attr;    /* CN_TOKEN_* */
	float score;
} cn_vocab_token;

/* Flags the core passes with each plain fragment. */
enum {
	CN_FRAG_FIRST = 1u << 0,       /* the fragment starts the text, or follows a special token
	                                  (SentencePiece adds its space prefix only there) */
	CN_FRAG_AFTER_SPECIAL = 1u << 1
};

typedef struct cn_vocab_algo {
	const char *name;
	/* Builds v->algo from the spec; v->tokens, v->text_to_id and the special ids are already
	 * filled. On failure leaves v->algo NULL or freeable by free(). */
	cairn_status (*init)(cn_vocab *v, const cn_vocab_spec *spec, cn_err *err);
	void (*free)(cn_vocab *v);
	/* Appends the tokens of one fragment that holds no special token. Must be safe to call
	 * from several threads at once (scratch is per call). */
	cairn_status (*encode)(const cn_vocab *v, const char *text, size_t len, unsigned frag_flags,
	                       cn_tokvec *out, cn_err *err);
	/* Appends the bytes token id stands for in running text (the core handles control tokens
	 * and the leading-space rule). */
	void (*piece)(const cn_vocab *v, int32_t id, cn_buf *out);
} cn_vocab_algo;

extern const cn_vocab_algo cn_spm_algo; /* spm.c */
extern const cn_vocab_algo cn_ugm_algo; /* ugm.c */
extern const cn_vocab_algo cn_bpe_algo; /* bpe.c */
extern const cn_vocab_algo cn_wpm_algo; /* wpm.c */

struct cn_vocab {
	cn_vocab_kind kind;
	const cn_vocab_algo *ops;
	void *algo;

	uint32_t n_tokens;
	cn_vocab_token *tokens; /* [n_tokens] */
	cn_arena arena;         /* token texts */
	/* Exact text → id. cn_strmap ids are dense in insertion order; map_to_token turns one
	 * into a token id (the first token with that text wins, as in llama.cpp). */
	cn_strmap text_to_id;
	int32_t *map_to_token;

	char pre[40];
	uint32_t n_merges;
	int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
	bool add_bos, add_eos, add_space_prefix;
	bool remove_extra_whitespaces;
	bool treat_whitespace_as_suffix;
	bool byte_fallback;
	bool lowercase;

	/* Tokens matched whole in the input before the algorithm runs (control, user-defined,
	 * unknown with text), longest first. */
	int32_t *specials;
	const char **special_text; /* what is matched in the input (arena) */
	uint32_t *special_len;
	uint32_t n_specials;
	uint8_t special_first_byte[256]; /* quick reject while scanning */
};

/* Token id for exact text, or -1 (same as cn_vocab_find). */
static inline int32_t cn_vocab_lookup(const cn_vocab *v, const char *text, size_t len)
{
	uint32_t m = cn_strmap_get(&v->text_to_id, text, len);
	return m == UINT32_MAX ? -1 : v->map_to_token[m];
}

/* ---- interface to the loaders --------------------------------------------------------- */
/* Each reads one file format into a cn_vocab_spec and calls cn_vocab_build. data/len is the
 * whole file (the caller maps it); path is for messages and for finding companion files. */

/* spm_load.c: SentencePiece ModelProto (`tokenizer.model`), BPE or unigram. */
cairn_status cn_vocab_load_spm_model(const char *path, const uint8_t *data, size_t len,
                                     cn_vocab **out, cn_err *err);
/* spm_load.c: llama2.c `tokenizer.bin` (int32 max_token_length, then per token float32
 * score, int32 len, bytes; spaces stored as ' '), read as SentencePiece BPE. */
cairn_status cn_vocab_load_llama2c(const char *path, const uint8_t *data, size_t len,
                                   cn_vocab **out, cn_err *err);
/* bpe_load.c: tiktoken rank file (`base64 rank` lines); pre names the split (NULL: guess). */
cairn_status cn_vocab_load_tiktoken(const char *path, const uint8_t *data, size_t len,
                                    const char *pre, cn_vocab **out, cn_err *err);
/* bpe_load.c: Hugging Face / OpenAI `vocab.json` with `merges.txt` in the same directory. */
cairn_status cn_vocab_load_vocab_json(const char *path, const uint8_t *data, size_t len,
                                      const char *pre, cn_vocab **out, cn_err *err);
/* wpm_load.c: BERT `vocab.txt` (one token per line, "##" continuations). */
cairn_status cn_vocab_load_vocab_txt(const char *path, const uint8_t *data, size_t len,
                                     cn_vocab **out, cn_err *err);

/* Hugging Face tokenizer.json: vocab_load.c parses the document and the parts every model
 * type shares, then hands over by model.type. */
#include <jansson.h>

typedef struct cn_tokjson_added {
	int64_t id;
	const char *content; /* inside the json document */
	size_t len;
	bool special;        /* special: matched only with CN_TOK_PARSE_SPECIAL (CONTROL) */
	bool lstrip, rstrip;
} cn_tokjson_added;

typedef struct cn_tokjson {
	const char *path;
	json_t *root;  /* the whole document */
	json_t *model; /* root["model"], an object */
	cn_tokjson_added *added; /* root["added_tokens"] */
	size_t n_added;
	/* From post_processor (TemplateProcessing / BertProcessing / RobertaProcessing) and a
	 * tokenizer_config.json beside the file when there is one: the single-sequence template
	 * as "prefix token, suffix token" (-1 = none). */
	int32_t prefix_id, suffix_id;
	bool lowercase;          /* normalizer says lowercase (BertNormalizer, Lowercase) */
	bool strip_accents;
} cn_tokjson;

cairn_status cn_tokjson_bpe(const cn_tokjson *tj, const char *pre, cn_vocab **out, cn_err *err);  /* bpe_load.c */
cairn_status cn_tokjson_wordpiece(const cn_tokjson *tj, cn_vocab **out, cn_err *err);             /* wpm_load.c */
cairn_status cn_tokjson_unigram(const cn_tokjson *tj, cn_vocab **out, cn_err *err);               /* spm_load.c */

/* vocab_load.c: merges tj->added into a token table the handler built: ids inside the table
 * get attributes (special → CONTROL, otherwise USER_DEFINED; plus LSTRIP/RSTRIP), ids past
 * the end extend it (holes become unused "[PAD<id>]" tokens; texts live in arena). *tokens,
 * *attrs and (if scores is not NULL) *scores are cn_malloc'd arrays it may grow. */
cairn_status cn_tokjson_merge_added(const cn_tokjson *tj, cn_arena *arena, cn_gguf_str **tokens,
                                    uint32_t **attrs, float **scores, uint32_t *n_tokens,
                                    cn_err *err);

/* ---- helpers shared by the algorithms ------------------------------------------------- */

/* Length of the UTF-8 sequence starting with byte c (1 for invalid lead bytes). */
static inline size_t cn_utf8_len_lead(uint8_t c)
{
	static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
	return lens[c >> 4];
}

#endif
