/*
 * fuzz_bpe — byte-level BPE (src/vocab/bpe.c) and every pre-tokenizer family
 * (src/vocab/pretok.c) on arbitrary bytes. Vocabulary: GPT-2's vocab.json + merges.txt from
 * ../shared (or $CAIRN_SHARED) when present, else a small tiktoken-style one built here.
 * Checks: every family's pieces are non-empty and cover the input exactly, in order;
 * decode(encode(x)) == x for any bytes (byte-level BPE is lossless), also with special
 * tokens parsed (rendered back with CN_DETOK_SPECIAL); cn_vocab_count agrees with encode.
 */
#include "fuzz.h"

#include <string.h>

#include "vocab/pretok_int.h"
#include "vocab/vocab_int.h"

static cn_vocab *vocab;

static cn_vocab *synthetic(void)
{
	static char bytes[256];
	static const char *const extra[] = {" t", "he", " the", "in", "ing", "<|endoftext|>"};
	cn_gguf_str tokens[256 + 6];
	uint32_t attrs[256 + 6];
	for (int i = 0; i < 256; i++) {
		bytes[i] = (char)i;
		tokens[i] = (cn_gguf_str){bytes + i, 1};
		attrs[i] = CN_TOKEN_NORMAL;
	}
	for (int i = 0; i < 6; i++) {
		tokens[256 + i] = (cn_gguf_str){extra[i], strlen(extra[i])};
		attrs[256 + i] = i == 5 ? CN_TOKEN_CONTROL : CN_TOKEN_NORMAL;
	}
	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = "synthetic";
	s.kind = CN_VOCAB_BPE;
	s.pre = "gpt-2";
	s.raw_bytes = true;
	s.n_tokens = 262;
	s.tokens = tokens;
	s.attrs = attrs;
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	FUZZ_CHECK(cn_vocab_build(&s, &v, &err) == CAIRN_OK, "synthetic vocabulary: %s", err.msg);
	return v;
}

static cn_vocab *load_vocab(void)
{
	const char *env = getenv("CAIRN_SHARED");
	char path[1024];
	snprintf(path, sizeof(path), "%s/models/gpt2-tokenizer/vocab.json", env && *env ? env : "../shared");
	cn_map m;
	cn_err err;
	cn_err_clear(&err);
	if (cn_map_open(path, &m, &err) != CAIRN_OK)
		return synthetic();
	cn_vocab *v = NULL;
	cairn_status rc = cn_vocab_load_vocab_json(path, m.data, m.len, NULL, &v, &err);
	cn_map_close(&m);
	FUZZ_CHECK(rc == CAIRN_OK, "%s", err.msg);
	return v;
}

typedef struct cover {
	const char *base;
	size_t pos;
} cover;

static cairn_status check_piece(void *ctx, const char *p, size_t len)
{
	cover *c = ctx;
	FUZZ_CHECK(len > 0, "empty piece");
	FUZZ_CHECK(p == c->base + c->pos, "piece at %zu, expected %zu", (size_t)(p - c->base), c->pos);
	c->pos += len;
	return CAIRN_OK;
}

static void round_trip(const char *s, size_t n, unsigned tflags, unsigned dflags)
{
	cn_tokvec tv;
	cn_tokvec_init(&tv);
	cn_err err;
	cn_err_clear(&err);
	FUZZ_CHECK(cn_vocab_encode(vocab, s, n, tflags, &tv, &err) == CAIRN_OK, "encode: %s", err.msg);
	cn_buf b;
	cn_buf_init(&b);
	FUZZ_CHECK(cn_vocab_decode(vocab, tv.ids, tv.n, dflags, &b, &err) == CAIRN_OK, "decode: %s", err.msg);
	FUZZ_CHECK(b.len == n && (n == 0 || memcmp(b.data, s, n) == 0), "decode(encode(x)) != x (%zu vs %zu bytes)",
	           b.len, n);
	FUZZ_CHECK(cn_vocab_count(vocab, s, n, tflags) == (int64_t)tv.n, "count disagrees with encode");
	cn_buf_free(&b);
	cn_tokvec_free(&tv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	if (!vocab)
		vocab = load_vocab();
	const char *s = (const char *)data;
	for (size_t i = 0; cn_pretok_at(i); i++) {
		cover c = {s, 0};
		FUZZ_CHECK(cn_pretok_split(cn_pretok_at(i), s, size, check_piece, &c) == CAIRN_OK, "split failed");
		FUZZ_CHECK(c.pos == size, "%s: pieces cover %zu of %zu bytes", cn_pretok_name(cn_pretok_at(i)), c.pos, size);
	}
	round_trip(s, size, 0, 0);
	round_trip(s, size, CN_TOK_PARSE_SPECIAL, CN_DETOK_SPECIAL);
	return 0;
}
