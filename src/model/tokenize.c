/*
 * tokenize.c — turning texts (and query/passage pairs) into the encoder's input sequences.
 *
 * The tokenizer is asked for the bare tokens and the specials are placed here rather than by
 * CN_TOK_ADD_SPECIAL, because truncation must keep the closing [SEP]: a BERT never saw an
 * input without it, and sentence-transformers and Hugging Face cut the text, not the special.
 * For pairs the passage is cut first (a reranker's question is the part that must survive),
 * but the query keeps at most half the room when both are long, so a pasted paragraph as a
 * query cannot push the passage out entirely.
 */
#include "model/model_int.h"

#include <string.h>

static cairn_status encode_bare(const cn_encoder_model *m, const char *prefix, const char *text, size_t len,
                                cn_tokvec *out, cn_err *err)
{
	if (!prefix || !*prefix)
		return cn_vocab_encode(m->vocab, text, len, 0, out, err);
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, prefix);
	cn_buf_append(&b, text, len);
	if (b.failed) {
		cn_buf_free(&b);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	cairn_status rc = cn_vocab_encode(m->vocab, b.data, b.len, 0, out, err);
	cn_buf_free(&b);
	return rc;
}

static cairn_status push_n(cn_tokvec *out, const int32_t *ids, size_t n, cn_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (cn_tokvec_push(out, ids[i]) != CAIRN_OK)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	return CAIRN_OK;
}

static cairn_status push1(cn_tokvec *out, int32_t id, cn_err *err)
{
	return id >= 0 ? push_n(out, &id, 1, err) : CAIRN_OK;
}

cairn_status cn_encoder_tokenize(const cn_encoder_model *m, const char *prefix, const char *text, size_t len,
                                 cn_tokvec *out, cn_err *err)
{
	cn_tokvec body;
	cn_tokvec_init(&body);
	cairn_status rc = encode_bare(m, prefix, text, len, &body, err);
	if (rc == CAIRN_OK) {
		size_t specials = (m->tok_first >= 0) + (m->tok_last >= 0);
		size_t budget = (size_t)m->hp.n_ctx - specials;
		size_t keep = body.n < budget ? body.n : budget;
		if (keep + specials == 0)
			rc = cn_err_set(err, CAIRN_EEMPTY, "the text has no tokens and the model adds no special ones");
		else if ((rc = push1(out, m->tok_first, err)) == CAIRN_OK && (rc = push_n(out, body.ids, keep, err)) == CAIRN_OK)
			rc = push1(out, m->tok_last, err);
	}
	cn_tokvec_free(&body);
	return rc;
}

cairn_status cn_encoder_tokenize_pair(const cn_encoder_model *m, const char *query, size_t qlen,
                                      const char *passage, size_t plen, cn_tokvec *out, size_t *n_first,
                                      cn_err *err)
{
	cn_tokvec q, p;
	cn_tokvec_init(&q);
	cn_tokvec_init(&p);
	cairn_status rc = encode_bare(m, NULL, query, qlen, &q, err);
	if (rc == CAIRN_OK)
		rc = encode_bare(m, NULL, passage, plen, &p, err);
	if (rc == CAIRN_OK) {
		size_t mid = m->tok_pair_sep >= 0 ? (m->pair_double_sep ? 2u : 1u) : 0u;
		size_t specials = (m->tok_first >= 0) + mid + (m->tok_last >= 0);
		size_t budget = (size_t)m->hp.n_ctx - specials;
		size_t q_cap = budget / 2;
		if (p.n < budget && budget - p.n > q_cap)
			q_cap = budget - p.n;
		size_t q_keep = q.n < q_cap ? q.n : q_cap;
		size_t p_keep = p.n < budget - q_keep ? p.n : budget - q_keep;
		size_t start = out->n;
		if ((rc = push1(out, m->tok_first, err)) == CAIRN_OK && (rc = push_n(out, q.ids, q_keep, err)) == CAIRN_OK &&
		    (rc = push1(out, m->tok_pair_sep, err)) == CAIRN_OK) {
			*n_first = out->n - start; /* segment A ends after its first separator */
			if ((!m->pair_double_sep || (rc = push1(out, m->tok_pair_sep, err)) == CAIRN_OK) &&
			    (rc = push_n(out, p.ids, p_keep, err)) == CAIRN_OK)
				rc = push1(out, m->tok_last, err);
		}
		if (rc == CAIRN_OK && out->n == start)
			rc = cn_err_set(err, CAIRN_EEMPTY, "the query and passage have no tokens");
	}
	cn_tokvec_free(&q);
	cn_tokvec_free(&p);
	return rc;
}
