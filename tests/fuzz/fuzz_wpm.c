/*
 * fuzz_wpm — WordPiece (src/vocab/wpm.c, wpm_load.c). Byte 0 picks the mode:
 *   0: the rest is text for an uncased vocabulary, 1: for a cased one (both built once from
 *      an embedded vocab.txt with pieces, marks, CJK, U+2581 and specials);
 *   2: the rest is a vocab.txt (up to the first NUL) followed by text to encode with it.
 * Checks: encoding succeeds; every id is inside the vocabulary; cn_vocab_count agrees; with
 * CN_TOK_ADD_SPECIAL the result is [CLS] + the same ids + [SEP]; splitting the text at its
 * first ASCII space gives the concatenation of the two halves' ids (a space ends every word
 * and every NFD run); decoding the ids succeeds. A vocab.txt either loads or fails with a
 * message.
 */
#include "fuzz.h"

#include <string.h>

#include "vocab/vocab_int.h"

static const char vocab_txt[] =
	"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n[unused0]\nun\n##aff\n##able\nhello\nworld\n,\n!\n.\na\n##a\naa\n"
	"cafe\ncaf\xC3\xA9\nx\n##y\n\xE4\xB8\xAD\ni\ne\n\xE2\x96\x81\n##\xE2\x96\x81\nstra\n##sse\nstra\xC3\x9F" "e\n##\n"
	"the\n##s\n##ing\n##ed\nto\n##\xCC\x81\n\xF0\x9D\x85\x97\n##\xF0\x9D\x85\xA5\n\xD7\x90\n##b\nb\n";

static cn_vocab *uncased, *cased;

static cn_vocab *build(bool lower)
{
	/* the loader fills a spec from vocab.txt; build a second one with lowercase off */
	cn_vocab *v = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_vocab_load_vocab_txt("/nonexistent-dir/vocab.txt", (const uint8_t *)vocab_txt,
	                            sizeof(vocab_txt) - 1, &v, &err) != CAIRN_OK) {
		fprintf(stderr, "fuzz_wpm: %s\n", err.msg);
		abort();
	}
	if (lower)
		return v;
	cn_vocab_spec s;
	cn_vocab_spec_init(&s);
	s.name = "cased";
	s.kind = CN_VOCAB_WPM;
	s.n_tokens = v->n_tokens;
	cn_gguf_str *toks = calloc(v->n_tokens, sizeof(*toks));
	uint32_t *attrs = calloc(v->n_tokens, sizeof(*attrs));
	if (!toks || !attrs)
		abort();
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		toks[i] = (cn_gguf_str){v->tokens[i].text, v->tokens[i].len};
		attrs[i] = v->tokens[i].attr;
	}
	s.tokens = toks;
	s.attrs = attrs;
	s.unk = v->unk, s.cls = v->cls, s.sep = v->sep;
	s.lowercase = false;
	cn_vocab *c = NULL;
	if (cn_vocab_build(&s, &c, &err) != CAIRN_OK) {
		fprintf(stderr, "fuzz_wpm: %s\n", err.msg);
		abort();
	}
	free(toks);
	free(attrs);
	cn_vocab_free(v);
	return c;
}

static void check(const cn_vocab *v, const char *text, size_t n)
{
	cn_err err;
	cn_err_clear(&err);
	cn_tokvec t, s, a, b;
	cn_tokvec_init(&t);
	cn_tokvec_init(&s);
	cn_tokvec_init(&a);
	cn_tokvec_init(&b);
	FUZZ_CHECK(cn_vocab_encode(v, text, n, 0, &t, &err) == CAIRN_OK, "encode: %s", err.msg);
	for (size_t i = 0; i < t.n; i++)
		FUZZ_CHECK(t.ids[i] >= 0 && (uint32_t)t.ids[i] < v->n_tokens, "id %d out of range", t.ids[i]);
	FUZZ_CHECK(cn_vocab_count(v, text, n, 0) == (int64_t)t.n, "count != encode");

	FUZZ_CHECK(cn_vocab_encode(v, text, n, CN_TOK_ADD_SPECIAL, &s, &err) == CAIRN_OK, "encode: %s", err.msg);
	FUZZ_CHECK(s.n == t.n + 2 && s.ids[0] == v->cls && s.ids[s.n - 1] == v->sep &&
	                   (t.n == 0 || memcmp(s.ids + 1, t.ids, t.n * sizeof(int32_t)) == 0),
	           "ADD_SPECIAL is not [CLS] ids [SEP]");

	const char *sp = memchr(text, ' ', n);
	if (sp) {
		size_t k = (size_t)(sp - text);
		FUZZ_CHECK(cn_vocab_encode(v, text, k, 0, &a, &err) == CAIRN_OK, "encode: %s", err.msg);
		FUZZ_CHECK(cn_vocab_encode(v, sp + 1, n - k - 1, 0, &a, &err) == CAIRN_OK, "encode: %s", err.msg);
		FUZZ_CHECK(a.n == t.n && (t.n == 0 || memcmp(a.ids, t.ids, t.n * sizeof(int32_t)) == 0),
		           "splitting at a space changed the tokens (%zu vs %zu)", a.n, t.n);
	}

	cn_buf d;
	cn_buf_init(&d);
	FUZZ_CHECK(cn_vocab_decode(v, t.ids, t.n, 0, &d, &err) == CAIRN_OK, "decode: %s", err.msg);
	cn_buf_free(&d);
	cn_tokvec_free(&t);
	cn_tokvec_free(&s);
	cn_tokvec_free(&a);
	cn_tokvec_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	if (!uncased) {
		uncased = build(true);
		cased = build(false);
	}
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0:
		check(uncased, text, n);
		break;
	case 1:
		check(cased, text, n);
		break;
	default: {
		const char *nul = memchr(text, 0, n);
		size_t vl = nul ? (size_t)(nul - text) : n;
		cn_vocab *v = NULL;
		cn_err err;
		cn_err_clear(&err);
		cairn_status st = cn_vocab_load_vocab_txt("/nonexistent-dir/vocab.txt", (const uint8_t *)text, vl,
		                                          &v, &err);
		if (st != CAIRN_OK) {
			FUZZ_CHECK(v == NULL && err.msg[0], "failed load without a message or with a vocabulary");
			break;
		}
		if (v->cls >= 0 && v->sep >= 0 && nul)
			check(v, nul + 1, n - vl - 1);
		cn_vocab_free(v);
		break;
	}
	}
	return 0;
}
