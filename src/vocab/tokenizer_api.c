/*
 * tokenizer_api.c — the public cairn_tokenizer_* calls over cn_vocab.
 *
 * A cairn_tokenizer is a cn_vocab: immutable after open, so the calls need no lock and keep
 * no per-handle error state (which concurrent callers would overwrite). The only ways they
 * fail are out-of-memory and bad ids, which the status code says by itself.
 */
#include "vocab/vocab.h"

#include <string.h>

struct cairn_tokenizer {
	cn_vocab *vocab;
};

cairn_tokenizer_params cairn_tokenizer_default_params(void)
{
	cairn_tokenizer_params p;
	memset(&p, 0, sizeof(p));
	return p;
}

cairn_status cairn_tokenizer_open(const char *path, const cairn_tokenizer_params *params, cairn_tokenizer **out,
                                  char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	*out = NULL;
	cairn_status rc;
	cairn_tokenizer *t = NULL;
	if (!path) {
		rc = cn_err_set(&err, CAIRN_EINVAL, "tokenizer: no path given");
	} else if (!(t = cn_calloc(1, sizeof(*t)))) {
		rc = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	} else {
		rc = cn_vocab_load(path, params ? params->pre : NULL, &t->vocab, &err);
	}
	if (rc != CAIRN_OK) {
		cn_free(t);
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "%s", err.msg);
		return rc;
	}
	*out = t;
	return CAIRN_OK;
}

void cairn_tokenizer_close(cairn_tokenizer *tok)
{
	if (!tok)
		return;
	cn_vocab_free(tok->vocab);
	cn_free(tok);
}

static unsigned encode_flags(unsigned flags)
{
	return ((flags & CAIRN_TOKENIZE_ADD_SPECIAL) ? CN_TOK_ADD_SPECIAL : 0) |
	       ((flags & CAIRN_TOKENIZE_PARSE_SPECIAL) ? CN_TOK_PARSE_SPECIAL : 0);
}

cairn_status cairn_tokenize(const cairn_tokenizer *tok, const char *text, size_t len, unsigned flags, int32_t **ids,
                            size_t *n_ids)
{
	*ids = NULL;
	*n_ids = 0;
	if (!tok || (!text && len))
		return CAIRN_EINVAL;
	cn_tokvec v;
	cn_tokvec_init(&v);
	cn_err err;
	cn_err_clear(&err);
	cairn_status rc = cn_vocab_encode(tok->vocab, text, len, encode_flags(flags), &v, &err);
	if (rc != CAIRN_OK) {
		cn_tokvec_free(&v);
		return rc;
	}
	if (!v.ids) { /* empty result: still hand over a buffer the caller can free */
		v.ids = cn_malloc(sizeof(int32_t));
		if (!v.ids)
			return CAIRN_ENOMEM;
	}
	*ids = v.ids;
	*n_ids = v.n;
	return CAIRN_OK;
}

int64_t cairn_tokenizer_count(const cairn_tokenizer *tok, const char *text, size_t len, unsigned flags)
{
	if (!tok || (!text && len))
		return -1;
	return cn_vocab_count(tok->vocab, text, len, encode_flags(flags));
}

cairn_status cairn_detokenize(const cairn_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags, char **text,
                              size_t *len)
{
	*text = NULL;
	if (len)
		*len = 0;
	if (!tok || (!ids && n))
		return CAIRN_EINVAL;
	cn_buf b;
	cn_buf_init(&b);
	cn_err err;
	cn_err_clear(&err);
	cairn_status rc = cn_vocab_decode(tok->vocab, ids, n, (flags & CAIRN_DETOKENIZE_SPECIAL) ? CN_DETOK_SPECIAL : 0, &b, &err);
	if (rc == CAIRN_OK && !b.data)
		cn_buf_append(&b, "", 0);
	if (rc == CAIRN_OK && b.failed)
		rc = CAIRN_ENOMEM;
	if (rc != CAIRN_OK) {
		cn_buf_free(&b);
		return rc;
	}
	if (len)
		*len = b.len;
	*text = cn_buf_take(&b);
	return CAIRN_OK;
}

void cairn_tokenizer_get_info(const cairn_tokenizer *tok, cairn_tokenizer_info *out)
{
	cn_vocab_info in;
	cn_vocab_get_info(tok->vocab, &in);
	memset(out, 0, sizeof(*out));
	out->kind = cn_vocab_kind_name(in.kind);
	out->pre = in.pre;
	out->n_tokens = (int32_t)in.n_tokens;
	out->bos = in.bos, out->eos = in.eos, out->eot = in.eot, out->unk = in.unk;
	out->pad = in.pad, out->cls = in.cls, out->sep = in.sep;
	out->add_bos = in.add_bos, out->add_eos = in.add_eos;
}

const char *cairn_tokenizer_token(const cairn_tokenizer *tok, int32_t id, size_t *len)
{
	return cn_vocab_token_text(tok->vocab, id, len);
}

const cn_vocab *cn_tokenizer_vocab(const cairn_tokenizer *tok) { return tok->vocab; }
