/*
 * fuzz_decoder — the decoder's loader and forward pass (src/model/decoder_load.c, decoder.c)
 * over arbitrary model files: cn_gguf_open_mem, then cn_decoder_open_gguf with the file's own
 * tokenizer. Checks: a failed open returns no model, a known status (CAIRN_ENOTFOUND: a file
 * without a tokenizer) and a message naming the input. On success the loader's claim is
 * tested — validation makes the forward pass safe on whatever the file holds — by a context
 * of 8 positions evaluating the first and the last
 * token id with all logits, then one token for the last-token logits, truncating to 1 and
 * evaluating again: every call succeeds (the values may be anything: non-finite weights are
 * not the loader's business), the cache holds what was evaluated, and a token past the
 * vocabulary is refused without changing it. Seeds: tiny llama and qwen2 models written by
 * tests/reference/make_decoder_gguf.py (F32, F16, Q8_0, tied output, rope_freqs, linear
 * scaling).
 */
#include "fuzz.h"

#include <string.h>

#include "model/model.h"

static volatile float sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cn_gguf *g = NULL;
	cn_err err;
	cn_err_clear(&err);
	if (cn_gguf_open_mem(size ? (const void *)data : "", size, "fuzz.gguf", &g, &err) != CAIRN_OK)
		return 0; /* the reader's own target covers this */
	cn_decoder_model *m = (cn_decoder_model *)1;
	cairn_status st = cn_decoder_open_gguf(g, NULL, &m, &err);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(m == NULL, "failed open returned a model");
		FUZZ_CHECK(st == CAIRN_EFORMAT || st == CAIRN_EUNSUPPORTED || st == CAIRN_ENOMEM || st == CAIRN_EINVAL ||
		               st == CAIRN_ENOTFOUND || st == CAIRN_ETOOBIG,
		           "status %d", st);
		FUZZ_CHECK(strstr(err.msg, "fuzz.gguf") != NULL, "message \"%s\"", err.msg);
		return 0;
	}
	const cn_decoder_hparams *hp = cn_decoder_hparams_get(m);
	FUZZ_CHECK(hp->n_vocab >= 1 && hp->n_head % hp->n_head_kv == 0 && hp->head_dim % 2 == 0, "hparams");
	cn_decoder_ctx *c = NULL;
	if (cn_decoder_ctx_new(m, NULL, 8, 4, &c, &err) == CAIRN_OK) {
		int64_t V = hp->n_vocab;
		float *lg = malloc((size_t)(2 * V) * sizeof(float));
		FUZZ_CHECK(lg != NULL, "out of memory");
		int32_t ids[2] = {0, (int32_t)(V - 1)};
		FUZZ_CHECK(cn_decoder_eval(c, ids, 2, CN_DEC_ALL_LOGITS, lg, &err) == CAIRN_OK, "eval: %s", err.msg);
		sink += lg[0] + lg[2 * V - 1];
		FUZZ_CHECK(cn_decoder_eval(c, ids, 1, 0, lg, &err) == CAIRN_OK, "eval 1: %s", err.msg);
		FUZZ_CHECK(cn_decoder_n_past(c) == 3, "n_past %lld", (long long)cn_decoder_n_past(c));
		FUZZ_CHECK(cn_decoder_truncate(c, 1, &err) == CAIRN_OK, "truncate");
		FUZZ_CHECK(cn_decoder_eval(c, &ids[1], 1, 0, lg, &err) == CAIRN_OK, "eval 2: %s", err.msg);
		sink += lg[V - 1];
		int32_t bad = (int32_t)V;
		FUZZ_CHECK(cn_decoder_eval(c, &bad, 1, 0, lg, &err) == CAIRN_EINVAL, "id past the vocabulary");
		FUZZ_CHECK(cn_decoder_n_past(c) == 2 && cn_decoder_tokens(c)[1] == ids[1], "cache changed");
		free(lg);
		cn_decoder_ctx_free(c);
	}
	cn_decoder_close(m);
	return 0;
}
