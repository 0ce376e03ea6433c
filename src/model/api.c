/*
 * api.c — the public cairn_encoder_* calls: a validated model, its thread pool, scratch
 * memory and prefixes behind one handle.
 *
 * Batching: texts are tokenized in input order and packed into batches of at most
 * max_batch texts and a token budget (max(context length, 4096) tokens), which bounds the
 * scratch memory whatever n is. Packing has no padding (model.h), so there is nothing to
 * gain from sorting texts by length: each batch costs exactly its real tokens, and results
 * are written straight to their input rows. The handle's lock serialises calls because the
 * scratch memory, the pool and the error message are per handle; a program that wants
 * parallel calls opens one handle per thread (the mapping is shared by the OS page cache).
 */
#include "model/model.h"

#include <pthread.h>
#include <string.h>

#define BATCH_TOKENS_MIN 4096

struct cairn_encoder {
	cn_encoder_model *m;
	cn_pool *pool;
	pthread_mutex_t mu;
	cn_enc_work work;
	char *prefix[2]; /* [CAIRN_EMBED_DOCUMENT], [CAIRN_EMBED_QUERY]; "" = none */
	int max_batch;
	bool normalize;
	cn_err err;
	/* per-call buffers, kept to avoid reallocating per batch */
	cn_tokvec toks;
	cn_enc_seq *seqs;
	size_t seqs_cap;
	int64_t *starts;
	size_t starts_cap;
};

cairn_encoder_params cairn_encoder_default_params(void)
{
	cairn_encoder_params p;
	memset(&p, 0, sizeof(p));
	p.max_batch = 32;
	p.normalize = 1;
	return p;
}

static void copy_err(const cn_err *err, char *errbuf, size_t errbuf_size)
{
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err->msg);
}

cairn_status cairn_encoder_open(const char *path, const cairn_encoder_params *params, cairn_encoder **out,
                                char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (out)
		*out = NULL;
	if (!path || !out) {
		cn_err_set(&err, CAIRN_EINVAL, "encoder: no model path given");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cairn_encoder_params p = params ? *params : cairn_encoder_default_params();
	if (p.n_threads < 0 || p.n_threads > 1024) {
		cn_err_set(&err, CAIRN_EINVAL, "%s: n_threads = %d (0..1024)", path, p.n_threads);
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cairn_encoder *e = cn_calloc(1, sizeof(*e));
	if (!e) {
		cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", path);
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_ENOMEM;
	}
	cn_tokvec_init(&e->toks);
	cairn_status rc = cn_encoder_load(path, &e->m, &err);
	if (rc == CAIRN_OK)
		rc = cn_pool_create(p.n_threads, &e->pool, &err);
	if (rc == CAIRN_OK) {
		bool nomic = cn_encoder_hparams_get(e->m)->arch == CN_ENC_NOMIC_BERT;
		const char *dq = nomic ? "search_query: " : "", *dd = nomic ? "search_document: " : "";
		e->prefix[CAIRN_EMBED_QUERY] = cn_strdup(p.query_prefix ? p.query_prefix : dq);
		e->prefix[CAIRN_EMBED_DOCUMENT] = cn_strdup(p.document_prefix ? p.document_prefix : dd);
		if (!e->prefix[0] || !e->prefix[1])
			rc = cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	if (rc == CAIRN_OK && pthread_mutex_init(&e->mu, NULL) != 0)
		rc = cn_err_set(&err, CAIRN_ENOMEM, "%s: cannot create a mutex", path);
	if (rc != CAIRN_OK) {
		cn_free(e->prefix[0]);
		cn_free(e->prefix[1]);
		cn_pool_free(e->pool);
		cn_encoder_free(e->m);
		cn_tokvec_free(&e->toks);
		cn_free(e);
		copy_err(&err, errbuf, errbuf_size);
		return rc;
	}
	e->max_batch = p.max_batch <= 0 ? 32 : p.max_batch > 4096 ? 4096 : p.max_batch;
	e->normalize = p.normalize != 0;
	*out = e;
	return CAIRN_OK;
}

void cairn_encoder_close(cairn_encoder *enc)
{
	if (!enc)
		return;
	pthread_mutex_destroy(&enc->mu);
	cn_free(enc->prefix[0]);
	cn_free(enc->prefix[1]);
	cn_pool_free(enc->pool);
	cn_encoder_free(enc->m);
	cn_enc_work_free(&enc->work);
	cn_tokvec_free(&enc->toks);
	cn_free(enc->seqs);
	cn_free(enc->starts);
	cn_free(enc);
}

const char *cairn_encoder_errmsg(const cairn_encoder *enc)
{
	return enc ? enc->err.msg : "no encoder";
}

void cairn_encoder_get_info(const cairn_encoder *enc, cairn_encoder_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!enc)
		return;
	const cn_encoder_hparams *hp = cn_encoder_hparams_get(enc->m);
	out->architecture = hp->arch_name;
	out->dim = (int)hp->n_embd;
	out->n_layers = (int)hp->n_layer;
	out->max_tokens = (int)hp->n_ctx;
	out->pooling = cn_pooling_name(hp->pooling);
	out->is_reranker = hp->pooling == CN_POOL_RANK;
}

/* ---- batching ---------------------------------------------------------------------------- */

typedef struct batcher {
	cairn_encoder *e;
	size_t n;        /* texts in the open batch */
	size_t first;    /* input index of its first text */
	int64_t budget;  /* tokens per batch */
	size_t out_stride;
	float *out;
} batcher;

static cairn_status flush(batcher *B)
{
	cairn_encoder *e = B->e;
	if (!B->n)
		return CAIRN_OK;
	for (size_t i = 0; i < B->n; i++)
		e->seqs[i].ids = e->toks.ids + e->starts[i];
	cairn_status rc = cn_encoder_forward(e->m, e->pool, &e->work, e->seqs, B->n, e->normalize,
	                                     B->out + B->first * B->out_stride, &e->err);
	B->first += B->n;
	B->n = 0;
	e->toks.n = 0;
	return rc;
}

/* Adds the tokens appended to e->toks since `start` as the next sequence, flushing first
 * when the batch is full. */
static cairn_status add_seq(batcher *B, size_t start, size_t n_first)
{
	cairn_encoder *e = B->e;
	int64_t len = (int64_t)(e->toks.n - start);
	if (B->n > 0 && ((int)B->n >= e->max_batch || (int64_t)start + len > B->budget)) {
		/* move this sequence's tokens to the front after running the others */
		int32_t *tmp = cn_malloc((size_t)len * sizeof(int32_t));
		if (!tmp)
			return cn_err_set(&e->err, CAIRN_ENOMEM, "encoder: out of memory");
		memcpy(tmp, e->toks.ids + start, (size_t)len * sizeof(int32_t));
		e->toks.n = start;
		cairn_status rc = flush(B);
		if (rc == CAIRN_OK) {
			for (int64_t i = 0; i < len && rc == CAIRN_OK; i++)
				rc = cn_tokvec_push(&e->toks, tmp[i]) == CAIRN_OK ? CAIRN_OK
				                                                   : cn_err_set(&e->err, CAIRN_ENOMEM, "out of memory");
		}
		cn_free(tmp);
		if (rc != CAIRN_OK)
			return rc;
		start = 0;
	}
	if (CN_GROW(e->seqs, e->seqs_cap, B->n + 1) != CAIRN_OK || CN_GROW(e->starts, e->starts_cap, B->n + 1) != CAIRN_OK)
		return cn_err_set(&e->err, CAIRN_ENOMEM, "encoder: out of memory");
	e->starts[B->n] = (int64_t)start;
	e->seqs[B->n] = (cn_enc_seq){.ids = NULL, .n = len, .n_first = (int64_t)n_first};
	B->n++;
	return CAIRN_OK;
}

static void batcher_init(batcher *B, cairn_encoder *e, float *out, size_t stride)
{
	const cn_encoder_hparams *hp = cn_encoder_hparams_get(e->m);
	memset(B, 0, sizeof(*B));
	B->e = e;
	B->budget = hp->n_ctx > BATCH_TOKENS_MIN ? hp->n_ctx : BATCH_TOKENS_MIN;
	B->out = out;
	B->out_stride = stride;
	e->toks.n = 0;
	cn_err_clear(&e->err);
}

cairn_status cairn_embed(cairn_encoder *enc, const char *const *texts, size_t n, cairn_embed_kind kind, float *out)
{
	if (!enc)
		return CAIRN_EINVAL;
	pthread_mutex_lock(&enc->mu);
	batcher B;
	batcher_init(&B, enc, out, (size_t)cn_encoder_hparams_get(enc->m)->n_embd);
	cairn_status rc = CAIRN_OK;
	if (cn_encoder_hparams_get(enc->m)->pooling == CN_POOL_RANK)
		rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: this model is a reranker (pooling rank): use cairn_rerank");
	else if (kind != CAIRN_EMBED_DOCUMENT && kind != CAIRN_EMBED_QUERY)
		rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: unknown embedding kind %d", (int)kind);
	else if (n && (!texts || !out))
		rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: texts and out must not be NULL");
	for (size_t i = 0; i < n && rc == CAIRN_OK; i++) {
		if (!texts[i]) {
			rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: text %zu is NULL", i);
			break;
		}
		size_t start = enc->toks.n;
		rc = cn_encoder_tokenize(enc->m, enc->prefix[kind], texts[i], strlen(texts[i]), &enc->toks, &enc->err);
		if (rc == CAIRN_OK)
			rc = add_seq(&B, start, enc->toks.n - start);
	}
	if (rc == CAIRN_OK)
		rc = flush(&B);
	pthread_mutex_unlock(&enc->mu);
	return rc;
}

cairn_status cairn_rerank(cairn_encoder *enc, const char *query, const char *const *passages, size_t n,
                          float *scores)
{
	if (!enc)
		return CAIRN_EINVAL;
	pthread_mutex_lock(&enc->mu);
	batcher B;
	batcher_init(&B, enc, scores, 1);
	cairn_status rc = CAIRN_OK;
	if (cn_encoder_hparams_get(enc->m)->pooling != CN_POOL_RANK)
		rc = cn_err_set(&enc->err, CAIRN_EINVAL,
		                "encoder: this model is an embedding model (no classification head): use cairn_embed");
	else if (!query || (n && (!passages || !scores)))
		rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: query, passages and scores must not be NULL");
	size_t qlen = query ? strlen(query) : 0;
	for (size_t i = 0; i < n && rc == CAIRN_OK; i++) {
		if (!passages[i]) {
			rc = cn_err_set(&enc->err, CAIRN_EINVAL, "encoder: passage %zu is NULL", i);
			break;
		}
		size_t start = enc->toks.n, n_first = 0;
		rc = cn_encoder_tokenize_pair(enc->m, query, qlen, passages[i], strlen(passages[i]), &enc->toks, &n_first,
		                              &enc->err);
		if (rc == CAIRN_OK)
			rc = add_seq(&B, start, n_first);
	}
	if (rc == CAIRN_OK)
		rc = flush(&B);
	pthread_mutex_unlock(&enc->mu);
	return rc;
}
