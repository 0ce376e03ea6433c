/*
 * fuzz_spm — SentencePiece: tokenizer.model parsing (src/vocab/spm_load.c) and encoding
 * arbitrary bytes (spm.c BPE, ugm.c unigram, spm_norm.c).
 *
 * Byte 0 picks the mode:
 *  - even: the rest is a tokenizer.model. Loading fails with EFORMAT/EUNSUPPORTED/ETOOBIG and
 *    a message naming the file, or succeeds; a loaded model encodes a few fixed strings and
 *    the input itself, every id in range, and decodes them.
 *  - odd: the rest is text, encoded with two small byte-fallback models built at start-up (a
 *    BPE and a unigram over the same pieces). Checks: ids in range; encoding is
 *    deterministic; decode(encode(x)) == x (both models are lossless: no normalization, byte
 *    fallback for everything else, invalid UTF-8 included) unless x contains U+2581, which
 *    decodes as a space; the count equals the encoding's length.
 */
#include "fuzz.h"

#include <string.h>

#include "vocab/vocab_int.h"

static cn_vocab *models[2];

static void build_models(void)
{
	static const char *const words[] = {"\xE2\x96\x81", "\xE2\x96\x81t", "\xE2\x96\x81th", "\xE2\x96\x81the", "th", "he",
	                                    "in", "ing", "er", "\xE2\x96\x81" "a", "an", "and", "\xE2\x96\x81" "and", "on",
	                                    "\xC3\xA9", "\xE2\x96\x81\xE2\x96\x81", "\xE4\xB8\x80", "<0x", "ab", "abc"};
	enum { NW = sizeof words / sizeof words[0] };
	enum { N = 3 + 256 + 94 + NW };
	static cn_gguf_str toks[N];
	static float scores[N];
	static uint32_t attrs[N];
	static char bytes[256][8], chars[94][2];
	uint32_t n = 0;
	toks[n] = (cn_gguf_str){"<unk>", 5}, attrs[n++] = CN_TOKEN_UNKNOWN;
	toks[n] = (cn_gguf_str){"<s>", 3}, attrs[n++] = CN_TOKEN_CONTROL;
	toks[n] = (cn_gguf_str){"</s>", 4}, attrs[n++] = CN_TOKEN_CONTROL;
	for (int b = 0; b < 256; b++) {
		snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
		toks[n] = (cn_gguf_str){bytes[b], 6}, attrs[n++] = CN_TOKEN_BYTE;
	}
	for (int c = 0; c < 94; c++) {
		chars[c][0] = (char)('!' + c);
		toks[n] = (cn_gguf_str){chars[c], 1}, scores[n] = -5.0f - (float)c * 0.01f, attrs[n++] = CN_TOKEN_NORMAL;
	}
	for (int w = 0; w < NW; w++) {
		toks[n] = (cn_gguf_str){words[w], strlen(words[w])};
		scores[n] = -1.0f - (float)(w % 5) * 0.5f; /* ties on purpose */
		attrs[n++] = CN_TOKEN_NORMAL;
	}
	for (int k = 0; k < 2; k++) {
		cn_vocab_spec s;
		cn_vocab_spec_init(&s);
		s.name = k ? "fuzz-ugm" : "fuzz-bpe";
		s.kind = k ? CN_VOCAB_UGM : CN_VOCAB_SPM;
		s.n_tokens = n;
		s.tokens = toks;
		s.scores = scores;
		s.attrs = attrs;
		s.unk = 0, s.bos = 1, s.eos = 2;
		s.byte_fallback = true;
		s.remove_extra_whitespaces = 0;
		cn_err err;
		cn_err_clear(&err);
		FUZZ_CHECK(cn_vocab_build(&s, &models[k], &err) == CAIRN_OK, "%s", err.msg);
	}
}

static void encode_checked(const cn_vocab *v, const char *s, size_t n, bool lossless)
{
	cn_tokvec t, u;
	cn_tokvec_init(&t);
	cn_tokvec_init(&u);
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = cn_vocab_encode(v, s, n, 0, &t, &err);
	FUZZ_CHECK(st == CAIRN_OK, "encode: %s", err.msg);
	for (size_t i = 0; i < t.n; i++)
		FUZZ_CHECK(t.ids[i] >= 0 && (uint32_t)t.ids[i] < v->n_tokens, "id %d out of range", t.ids[i]);
	FUZZ_CHECK(cn_vocab_encode(v, s, n, 0, &u, &err) == CAIRN_OK, "second encode");
	FUZZ_CHECK(u.n == t.n && (t.n == 0 || memcmp(u.ids, t.ids, t.n * sizeof *t.ids) == 0), "not deterministic");
	FUZZ_CHECK(cn_vocab_count(v, s, n, 0) == (int64_t)t.n, "count differs from encode");
	cn_buf b;
	cn_buf_init(&b);
	FUZZ_CHECK(cn_vocab_decode(v, t.ids, t.n, 0, &b, &err) == CAIRN_OK, "decode: %s", err.msg);
	if (lossless && !memmem(s, n, "\xE2\x96\x81", 3))
		FUZZ_CHECK(b.len == n && (n == 0 || memcmp(b.data, s, n) == 0), "decode(encode(x)) != x (%zu vs %zu bytes)",
		           b.len, n);
	cn_buf_free(&b);
	cn_tokvec_free(&t);
	cn_tokvec_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!models[0])
		build_models();
	if (size == 0)
		return 0;
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	if ((data[0] & 1) == 0) {
		cn_err err;
		cn_err_clear(&err);
		cn_vocab *v = NULL;
		cairn_status st = cn_vocab_load_spm_model("fuzz.model", d, n, &v, &err);
		if (st != CAIRN_OK) {
			FUZZ_CHECK(v == NULL, "failed load returned a vocabulary");
			FUZZ_CHECK(st == CAIRN_EFORMAT || st == CAIRN_EUNSUPPORTED || st == CAIRN_ETOOBIG || st == CAIRN_ENOMEM,
			           "unexpected status %d: %s", (int)st, err.msg);
			FUZZ_CHECK(strstr(err.msg, "fuzz.model") != NULL, "message does not name the file: %s", err.msg);
			return 0;
		}
		static const char *const samples[] = {"", " ", "Hello world", "  a  b  ", "\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80",
		                                      "\xFF\xFE", "\t\n", "<s>"};
		for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
			encode_checked(v, samples[i], strlen(samples[i]), false);
		encode_checked(v, (const char *)d, n < 4096 ? n : 4096, false);
		cn_vocab_free(v);
		return 0;
	}
	for (int k = 0; k < 2; k++)
		encode_checked(models[k], (const char *)d, n, true);
	return 0;
}
