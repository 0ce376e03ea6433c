/*
 * generate.c — the public cairn_generator_* calls: a validated decoder, its thread pool and
 * one context (KV cache) behind a handle, and the generation loop.
 *
 * The loop is deliberately split where later parts plug in: the prompt is tokenized here
 * (a chat template will produce it), every step hands the next token's logits to the
 * caller's on_logits hook before choosing (constrained decoding masks them there), and the
 * choice itself is one function (choose: greedy argmax today, a sampler chain later). Text
 * is streamed as token pieces in running-text form (no SentencePiece prefix stripping:
 * the prompt came first), so the pieces concatenate to exactly the returned text.
 *
 * The BOS token is placed here rather than by CN_TOK_ADD_SPECIAL, which would also append
 * EOS for tokenizers that ask for it — an end-of-text marker that must not close a prompt
 * the model is to continue.
 */
#include "model/model.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CTX_CAP 4096

struct cairn_generator {
	cn_decoder_model *m;
	cn_decoder_ctx *ctx;
	cn_pool *pool;
	pthread_mutex_t mu;
	cn_err err;
	float *logits;
	cn_tokvec toks;
};

cairn_generator_params cairn_generator_default_params(void)
{
	cairn_generator_params p;
	memset(&p, 0, sizeof(p));
	return p;
}

cairn_generate_params cairn_generate_default_params(void)
{
	cairn_generate_params p;
	memset(&p, 0, sizeof(p));
	p.max_tokens = 256;
	p.add_bos = -1;
	return p;
}

static void copy_err(const cn_err *err, char *errbuf, size_t errbuf_size)
{
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err->msg);
}

cairn_status cairn_generator_open(const char *path, const cairn_generator_params *params, cairn_generator **out,
                                  char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (out)
		*out = NULL;
	if (!path || !out) {
		cn_err_set(&err, CAIRN_EINVAL, "generator: no model path given");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cairn_generator_params p = params ? *params : cairn_generator_default_params();
	if (p.n_threads < 0 || p.n_threads > 1024 || p.n_ctx < 0 || p.n_batch < 0) {
		cn_err_set(&err, CAIRN_EINVAL, "%s: n_threads = %d (0..1024), n_ctx = %d, n_batch = %d (≥ 0)", path,
		           p.n_threads, p.n_ctx, p.n_batch);
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cairn_generator *g = cn_calloc(1, sizeof(*g));
	if (!g) {
		cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", path);
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_ENOMEM;
	}
	cn_tokvec_init(&g->toks);
	cairn_status rc = cn_decoder_open(path, p.tokenizer, &g->m, &err);
	if (rc == CAIRN_OK)
		rc = cn_pool_create(p.n_threads, &g->pool, &err);
	if (rc == CAIRN_OK) {
		int64_t n_ctx = p.n_ctx;
		if (n_ctx == 0) {
			int64_t train = cn_decoder_hparams_get(g->m)->n_ctx_train;
			n_ctx = train < DEFAULT_CTX_CAP ? train : DEFAULT_CTX_CAP;
		}
		rc = cn_decoder_ctx_new(g->m, g->pool, n_ctx, p.n_batch, &g->ctx, &err);
	}
	if (rc == CAIRN_OK) {
		g->logits = cn_malloc((size_t)cn_decoder_hparams_get(g->m)->n_vocab * sizeof(float));
		if (!g->logits)
			rc = cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	if (rc == CAIRN_OK && pthread_mutex_init(&g->mu, NULL) != 0)
		rc = cn_err_set(&err, CAIRN_ENOMEM, "%s: cannot create a mutex", path);
	if (rc != CAIRN_OK) {
		cn_free(g->logits);
		cn_decoder_ctx_free(g->ctx);
		cn_pool_free(g->pool);
		cn_decoder_close(g->m);
		cn_tokvec_free(&g->toks);
		cn_free(g);
		copy_err(&err, errbuf, errbuf_size);
		return rc;
	}
	*out = g;
	return CAIRN_OK;
}

void cairn_generator_close(cairn_generator *gen)
{
	if (!gen)
		return;
	pthread_mutex_destroy(&gen->mu);
	cn_free(gen->logits);
	cn_decoder_ctx_free(gen->ctx);
	cn_pool_free(gen->pool);
	cn_decoder_close(gen->m);
	cn_tokvec_free(&gen->toks);
	cn_free(gen);
}

const char *cairn_generator_errmsg(const cairn_generator *gen)
{
	return gen ? gen->err.msg : "no generator";
}

void cairn_generator_get_info(const cairn_generator *gen, cairn_generator_info *out)
{
	memset(out, 0, sizeof(*out));
	out->bos = out->eos = -1;
	if (!gen)
		return;
	const cn_decoder_hparams *hp = cn_decoder_hparams_get(gen->m);
	cn_vocab_info vi;
	cn_vocab_get_info(cn_decoder_vocab(gen->m), &vi);
	out->architecture = hp->arch_name;
	out->n_vocab = (int)hp->n_vocab;
	out->dim = (int)hp->n_embd;
	out->n_layers = (int)hp->n_layer;
	out->n_heads = (int)hp->n_head;
	out->n_kv_heads = (int)hp->n_head_kv;
	out->n_ctx_train = (int)hp->n_ctx_train;
	out->n_ctx = (int)cn_decoder_ctx_size(gen->ctx);
	out->bos = vi.bos;
	out->eos = vi.eos;
}

/* ---- generation -------------------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Greedy: the first of the largest logits (NaN never wins). */
static int32_t choose(const float *logits, int64_t n)
{
	int32_t best = 0;
	for (int64_t i = 1; i < n; i++)
		if (logits[i] > logits[best] || logits[best] != logits[best])
			best = (int32_t)i;
	return best;
}

static cairn_status tokenize_prompt(cairn_generator *g, const char *prompt, const cairn_generate_params *p)
{
	const cn_vocab *v = cn_decoder_vocab(g->m);
	cn_vocab_info vi;
	cn_vocab_get_info(v, &vi);
	g->toks.n = 0;
	bool bos = p->add_bos < 0 ? vi.add_bos : p->add_bos != 0;
	if (bos && vi.bos >= 0 && cn_tokvec_push(&g->toks, vi.bos) != CAIRN_OK)
		return cn_err_set(&g->err, CAIRN_ENOMEM, "generator: out of memory");
	cairn_status rc = cn_vocab_encode(v, prompt, strlen(prompt), p->parse_special ? CN_TOK_PARSE_SPECIAL : 0,
	                                  &g->toks, &g->err);
	if (rc != CAIRN_OK)
		return rc;
	if (g->toks.n == 0)
		return cn_err_set(&g->err, CAIRN_EEMPTY, "generator: the prompt has no tokens and no BOS is added");
	if ((int64_t)g->toks.n > cn_decoder_ctx_size(g->ctx))
		return cn_err_set(&g->err, CAIRN_ETOOBIG, "generator: the prompt has %zu tokens; the context holds %lld",
		                  g->toks.n, (long long)cn_decoder_ctx_size(g->ctx));
	return CAIRN_OK;
}

static cairn_status run(cairn_generator *g, const cairn_generate_params *p, cairn_generation *out, cn_buf *text,
                        cn_tokvec *gen)
{
	const cn_vocab *v = cn_decoder_vocab(g->m);
	int64_t n_vocab = cn_decoder_hparams_get(g->m)->n_vocab;
	double t0 = now_ms();
	cairn_status rc = cn_decoder_truncate(g->ctx, 0, &g->err);
	if (rc == CAIRN_OK)
		rc = cn_decoder_eval(g->ctx, g->toks.ids, (int64_t)g->toks.n, 0, g->logits, &g->err);
	if (rc != CAIRN_OK)
		return rc;
	double t1 = now_ms();
	out->n_prompt_tokens = (int)g->toks.n;
	out->prompt_ms = t1 - t0;
	out->stop = CAIRN_STOP_MAX_TOKENS;
	for (int k = 0; k < p->max_tokens; k++) {
		if (p->on_logits)
			p->on_logits(g->logits, (int32_t)n_vocab, p->user_data);
		int32_t id = choose(g->logits, n_vocab);
		if (cn_tokvec_push(gen, id) != CAIRN_OK)
			return cn_err_set(&g->err, CAIRN_ENOMEM, "generator: out of memory");
		if (!p->ignore_eos && cn_vocab_is_eog(v, id)) {
			out->stop = CAIRN_STOP_EOG;
			break;
		}
		size_t before = text->len;
		if ((rc = cn_vocab_piece(v, id, 0, text, &g->err)) != CAIRN_OK)
			return rc;
		if (p->on_token && p->on_token(id, text->data ? text->data + before : "", text->len - before, p->user_data)) {
			out->stop = CAIRN_STOP_CALLBACK;
			break;
		}
		if (k + 1 == p->max_tokens)
			break; /* the last token's logits are never needed */
		if (cn_decoder_n_past(g->ctx) >= cn_decoder_ctx_size(g->ctx)) {
			out->stop = CAIRN_STOP_CONTEXT;
			break;
		}
		if ((rc = cn_decoder_eval(g->ctx, &id, 1, 0, g->logits, &g->err)) != CAIRN_OK)
			return rc;
	}
	out->generate_ms = now_ms() - t1;
	return CAIRN_OK;
}

cairn_status cairn_generate(cairn_generator *gen, const char *prompt, const cairn_generate_params *params,
                            cairn_generation *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!gen)
		return CAIRN_EINVAL;
	pthread_mutex_lock(&gen->mu);
	cn_err_clear(&gen->err);
	cairn_generate_params p = params ? *params : cairn_generate_default_params();
	cairn_status rc = CAIRN_OK;
	if (!prompt || !out)
		rc = cn_err_set(&gen->err, CAIRN_EINVAL, "generator: prompt and out must not be NULL");
	else if (p.max_tokens < 0)
		rc = cn_err_set(&gen->err, CAIRN_EINVAL, "generator: max_tokens = %d", p.max_tokens);
	if (rc == CAIRN_OK)
		rc = tokenize_prompt(gen, prompt, &p);
	cn_buf text;
	cn_buf_init(&text);
	cn_tokvec toks;
	cn_tokvec_init(&toks);
	if (rc == CAIRN_OK)
		rc = run(gen, &p, out, &text, &toks);
	if (rc == CAIRN_OK) {
		/* hand over: the text always NUL-terminated, even when empty */
		out->len = text.len;
		out->text = cn_malloc(text.len + 1);
		if (!out->text) {
			rc = cn_err_set(&gen->err, CAIRN_ENOMEM, "generator: out of memory");
		} else {
			if (text.len)
				memcpy(out->text, text.data, text.len);
			out->text[text.len] = '\0';
			out->n_tokens = (int)toks.n;
			out->tokens = toks.ids;
			toks.ids = NULL;
		}
	}
	if (rc != CAIRN_OK && out) {
		cn_free(out->text);
		memset(out, 0, sizeof(*out));
	}
	cn_buf_free(&text);
	cn_tokvec_free(&toks);
	pthread_mutex_unlock(&gen->mu);
	return rc;
}

void cairn_generation_free(cairn_generation *g)
{
	if (!g)
		return;
	cn_free(g->text);
	cn_free(g->tokens);
	memset(g, 0, sizeof(*g));
}
