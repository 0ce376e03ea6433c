/* sample_int.h — private to the sample module: the token index's layout, shared by
 * tokindex.c (which builds it) and jschema.c (whose mask walk reads it). */
#ifndef CAIRN_SAMPLE_INT_H
#define CAIRN_SAMPLE_INT_H

#include "sample/sample.h"

typedef struct cn_tokent {
	uint32_t off, len; /* the token's bytes: bytes[off .. off + len) */
	int32_t id;
	uint32_t lcp;      /* bytes in common with the entry before (0 for the first) */
	uint32_t nchars;   /* "plain" string content — whole UTF-8 characters, no '"', '\\' or
	                      control bytes — has this many characters; CN_TOK_NOT_PLAIN if not */
} cn_tokent;

#define CN_TOK_NOT_PLAIN UINT32_MAX

struct cn_tokindex {
	int32_t n_vocab;
	cn_tokent *ent; /* sorted by bytes */
	size_t n;
	uint8_t *bytes;
	uint32_t max_len;
	int32_t *eog;   /* end-of-generation ids */
	size_t n_eog;
	int32_t byte_tok[256];
	uint32_t first_end[256]; /* entries beginning with byte b end before first_end[b] */
};

#endif
