/*
 * tokindex.c — the vocabulary as sorted byte strings, for token masks.
 *
 * A byte trie would give the same sharing of common prefixes, but the sorted list with each
 * entry's common-prefix length to its predecessor is the trie's depth-first order in two flat
 * arrays: no pointers, one allocation, and the mask walk (jschema.c) needs nothing else.
 * The bytes are what cn_vocab_piece gives in running text — SentencePiece's U+2581 already
 * a space and <0xNN> already the byte, byte-level BPE's alphabet already mapped back — so
 * the matcher sees exactly the bytes the generated text will hold.
 */
#include "sample/sample_int.h"

#include <stdlib.h>
#include <string.h>

static int cmp_ent(const void *pa, const void *pb, void *ctx)
{
	const uint8_t *g_sort_blob = ctx;
	const cn_tokent *a = pa, *b = pb;
	uint32_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(g_sort_blob + a->off, g_sort_blob + b->off, n);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Characters of b[0..n) when it is plain JSON string content (strict UTF-8 as the matcher
 * checks it: no overlong forms, surrogates or code points above U+10FFFF). */
static uint32_t plain_chars(const uint8_t *b, uint32_t n)
{
	uint32_t chars = 0;
	for (uint32_t i = 0; i < n; chars++) {
		uint8_t c = b[i];
		if (c < 0x80) {
			if (c < 0x20 || c == '"' || c == '\\')
				return CN_TOK_NOT_PLAIN;
			i++;
			continue;
		}
		uint32_t k;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return CN_TOK_NOT_PLAIN;
		if (i + k >= n) /* a character cut at the end of the token */
			return CN_TOK_NOT_PLAIN;
		if (b[i + 1] < lo || b[i + 1] > hi)
			return CN_TOK_NOT_PLAIN;
		for (uint32_t j = 2; j <= k; j++)
			if (b[i + j] < 0x80 || b[i + j] > 0xbf)
				return CN_TOK_NOT_PLAIN;
		i += k + 1;
	}
	return chars;
}

cairn_status cn_tokindex_build(const cn_vocab *v, int32_t n_vocab, cn_tokindex **out, cn_err *err)
{
	*out = NULL;
	cn_tokindex *t = cn_calloc(1, sizeof(*t));
	if (!t)
		return cn_err_set(err, CAIRN_ENOMEM, "token index: out of memory");
	for (int i = 0; i < 256; i++)
		t->byte_tok[i] = -1;
	t->n_vocab = n_vocab;
	t->ent = cn_malloc((size_t)n_vocab * sizeof(cn_tokent));
	t->eog = cn_malloc((size_t)n_vocab * sizeof(int32_t));
	cn_buf blob, piece;
	cn_buf_init(&blob);
	cn_buf_init(&piece);
	cairn_status rc = CAIRN_OK;
	if (!t->ent || !t->eog)
		rc = cn_err_set(err, CAIRN_ENOMEM, "token index: out of memory");
	for (int32_t id = 0; rc == CAIRN_OK && id < n_vocab; id++) {
		if (cn_vocab_is_eog(v, id)) {
			t->eog[t->n_eog++] = id;
			continue;
		}
		cn_buf_reset(&piece);
		if ((rc = cn_vocab_piece(v, id, 0, &piece, err)) != CAIRN_OK)
			break;
		if (!piece.len || piece.len > 0xffff)
			continue;
		if (blob.len > UINT32_MAX - piece.len) {
			rc = cn_err_set(err, CAIRN_ETOOBIG, "token index: the vocabulary's text exceeds 4 GiB");
			break;
		}
		t->ent[t->n] = (cn_tokent){(uint32_t)blob.len, (uint32_t)piece.len, id, 0,
		                           plain_chars((const uint8_t *)piece.data, (uint32_t)piece.len)};
		t->n++;
		cn_buf_append(&blob, piece.data, piece.len);
		if (piece.len == 1 && t->byte_tok[(uint8_t)piece.data[0]] < 0)
			t->byte_tok[(uint8_t)piece.data[0]] = id;
	}
	if (rc == CAIRN_OK && (blob.failed || piece.failed))
		rc = cn_err_set(err, CAIRN_ENOMEM, "token index: out of memory");
	cn_buf_free(&piece);
	if (rc != CAIRN_OK) {
		cn_buf_free(&blob);
		cn_tokindex_free(t);
		return rc;
	}
	t->bytes = (uint8_t *)cn_buf_take(&blob);
	if (!t->bytes) { /* an empty vocabulary: keep a valid pointer */
		t->bytes = cn_malloc(1);
		if (!t->bytes) {
			cn_tokindex_free(t);
			return cn_err_set(err, CAIRN_ENOMEM, "token index: out of memory");
		}
	}
	qsort_r(t->ent, t->n, sizeof(cn_tokent), cmp_ent, t->bytes); /* glibc's, thread-safe */
	uint32_t maxlen = 0;
	for (size_t i = 0; i < t->n; i++) {
		cn_tokent *e = &t->ent[i];
		if (e->len > maxlen)
			maxlen = e->len;
		if (!i)
			continue;
		const cn_tokent *p = &t->ent[i - 1];
		uint32_t n = p->len < e->len ? p->len : e->len, l = 0;
		while (l < n && t->bytes[p->off + l] == t->bytes[e->off + l])
			l++;
		e->lcp = l;
	}
	t->max_len = maxlen;
	for (size_t i = 0; i < t->n; i++)
		t->first_end[t->bytes[t->ent[i].off]] = (uint32_t)i + 1;
	*out = t;
	return CAIRN_OK;
}

void cn_tokindex_free(cn_tokindex *t)
{
	if (!t)
		return;
	cn_free(t->ent);
	cn_free(t->eog);
	cn_free(t->bytes);
	cn_free(t);
}

int32_t cn_tokindex_byte_token(const cn_tokindex *t, uint8_t b)
{
	return t->byte_tok[b];
}

size_t cn_tokindex_n_eog(const cn_tokindex *t)
{
	return t->n_eog;
}
