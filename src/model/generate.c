/*
 * generate.c — the public cairn_generator_* calls: a validated decoder, its thread pool and
 * one context (KV cache) behind a handle, and the generation loop.
 *
 * One step of the loop: the caller's on_logits hook, then the JSON-schema mask (which wins
 * over the hook: a document that must stay valid cannot take a forbidden token), then the
 * sampler chain (src/sample: penalties, top-k/p, min-p, temperature, seeded draw; greedy
 * by default). Text is streamed as token pieces in running-text form (no SentencePiece
 * prefix stripping: the prompt came first), so the pieces concatenate to exactly the
 * returned text — except that with stop strings, bytes that may begin one are held back
 * until they cannot, and a stop string found is cut with everything after it.
 *
 * Prefix reuse: the context remembers every token whose K/V it holds, which after a call
 * is the prompt and the generated tokens but the last. A new prompt is compared with them
 * and only what follows the common prefix is evaluated (at least one token, for its
 * logits): a fixed system prompt or a growing conversation costs its new tokens only.
 * Results do not depend on it beyond float rounding of the batched prompt pass (the
 * kernels are deterministic per row, so in practice not at all; tests compare).
 *
 * The BOS token is placed here rather than by CN_TOK_ADD_SPECIAL, which would also append
 * EOS for tokenizers that ask for it — an end-of-text marker that must not close a prompt
 * the model is to continue.
 */
#include "model/model.h"
#include "sample/sample.h"

#include <math.h>
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
	cn_tokindex *tokidx; /* built on the first constrained call */
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
	p.top_p = 1.0f;
	p.repeat_penalty = 1.0f;
	p.repeat_last_n = 64;
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
	cn_tokindex_free(gen->tokidx);
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

/* The per-call state of the loop besides the generator's. */
typedef struct gen_state {
	cn_sampler *smp;
	cn_jschema *schema;
	cn_jmatch *match;
	size_t streamed; /* bytes of text already given to on_token */
	size_t max_stop; /* longest stop string */
} gen_state;

/* Where the first stop string occurs in text[from..), or -1. */
static int64_t find_stop(const cairn_generate_params *p, const cn_buf *text, size_t from)
{
	int64_t best = -1;
	for (int i = 0; i < p->n_stop; i++) {
		size_t n = strlen(p->stop[i]);
		for (size_t k = from; k + n <= text->len; k++)
			if (!memcmp(text->data + k, p->stop[i], n)) {
				if (best < 0 || (int64_t)k < best)
					best = (int64_t)k;
				break;
			}
	}
	return best;
}

/* Bytes at the end of text that could begin a stop string (held back from streaming). */
static size_t stop_holdback(const cairn_generate_params *p, const cn_buf *text, size_t from)
{
	size_t hold = 0;
	for (int i = 0; i < p->n_stop; i++) {
		size_t n = strlen(p->stop[i]);
		for (size_t k = n - 1; k > hold; k--)
			if (k <= text->len - from && !memcmp(text->data + text->len - k, p->stop[i], k)) {
				hold = k;
				break;
			}
	}
	return hold;
}

static cairn_status eval_prompt(cairn_generator *g, const cairn_generate_params *p, cairn_generation *out)
{
	/* the longest prefix shared with the cache, leaving one token to evaluate for logits */
	int64_t keep = 0;
	if (!p->no_prefix_reuse) {
		const int32_t *have = cn_decoder_tokens(g->ctx);
		int64_t n_have = cn_decoder_n_past(g->ctx);
		while (keep < n_have && keep < (int64_t)g->toks.n && have[keep] == g->toks.ids[keep])
			keep++;
		if (keep == (int64_t)g->toks.n)
			keep--;
	}
	cairn_status rc = cn_decoder_truncate(g->ctx, keep, &g->err);
	if (rc == CAIRN_OK)
		rc = cn_decoder_eval(g->ctx, g->toks.ids + keep, (int64_t)g->toks.n - keep, 0, g->logits, &g->err);
	if (rc != CAIRN_OK) {
		cn_decoder_truncate(g->ctx, 0, NULL); /* nothing half-known stays for the next call */
		return rc;
	}
	out->n_cached_tokens = (int)keep;
	return CAIRN_OK;
}

static cairn_status run(cairn_generator *g, const cairn_generate_params *p, gen_state *st, cairn_generation *out,
                        cn_buf *text, cn_tokvec *gen)
{
	const cn_vocab *v = cn_decoder_vocab(g->m);
	int64_t n_vocab = cn_decoder_hparams_get(g->m)->n_vocab;
	double t0 = now_ms();
	cairn_status rc = eval_prompt(g, p, out);
	if (rc != CAIRN_OK)
		return rc;
	for (size_t i = 0; i < g->toks.n; i++)
		cn_sampler_accept(st->smp, g->toks.ids[i]);
	double t1 = now_ms();
	out->n_prompt_tokens = (int)g->toks.n;
	out->prompt_ms = t1 - t0;
	out->stop = CAIRN_STOP_MAX_TOKENS;
	int64_t ctx = cn_decoder_ctx_size(g->ctx);
	for (int k = 0; k < p->max_tokens; k++) {
		if (p->on_logits)
			p->on_logits(g->logits, (int32_t)n_vocab, p->user_data);
		if (st->match) {
			if (cn_jmatch_done(st->match) && cn_tokindex_n_eog(g->tokidx) == 0) {
				out->stop = CAIRN_STOP_EOG; /* complete, and no end token to say so */
				break;
			}
			/* tokens left, this one included: max_tokens, or the cache's room */
			int64_t budget = p->max_tokens - k, room = ctx - cn_decoder_n_past(g->ctx) + 1;
			if (room < budget)
				budget = room;
			if (!cn_jmatch_mask(st->match, g->tokidx, budget, g->logits, (int32_t)n_vocab))
				return cn_err_set(&g->err, CAIRN_EINTERNAL,
				                  "generator: no token can continue the JSON document (budget %lld)", (long long)budget);
		}
		int32_t id = cn_sampler_sample(st->smp, g->logits);
		cn_sampler_accept(st->smp, id);
		if (cn_tokvec_push(gen, id) != CAIRN_OK)
			return cn_err_set(&g->err, CAIRN_ENOMEM, "generator: out of memory");
		if ((!p->ignore_eos || st->match) && cn_vocab_is_eog(v, id)) {
			out->stop = CAIRN_STOP_EOG;
			break;
		}
		size_t before = text->len;
		if ((rc = cn_vocab_piece(v, id, 0, text, &g->err)) != CAIRN_OK)
			return rc;
		if (text->failed)
			return cn_err_set(&g->err, CAIRN_ENOMEM, "generator: out of memory");
		if (st->match && !cn_jmatch_feed(st->match, (const uint8_t *)text->data + before, text->len - before))
			return cn_err_set(&g->err, CAIRN_EINTERNAL, "generator: a masked token was chosen");
		bool stop = false;
		if (p->n_stop) {
			size_t from = before >= st->max_stop ? before - st->max_stop + 1 : 0;
			int64_t at = find_stop(p, text, from);
			if (at >= 0) {
				text->len = (size_t)at;
				text->data[at] = '\0';
				out->stop = CAIRN_STOP_STRING;
				stop = true;
			}
		}
		size_t upto = stop || !p->n_stop ? text->len : text->len - stop_holdback(p, text, st->streamed);
		if (upto < st->streamed)
			upto = st->streamed;
		if (p->on_token && (upto > st->streamed || !p->n_stop) &&
		    p->on_token(id, text->data ? text->data + st->streamed : "", upto - st->streamed, p->user_data)) {
			st->streamed = upto;
			if (!stop)
				out->stop = CAIRN_STOP_CALLBACK;
			break;
		}
		st->streamed = upto;
		if (stop)
			break;
		if (k + 1 == p->max_tokens)
			break; /* the last token's logits are never needed */
		if (cn_decoder_n_past(g->ctx) >= ctx) {
			out->stop = CAIRN_STOP_CONTEXT;
			break;
		}
		if ((rc = cn_decoder_eval(g->ctx, &id, 1, 0, g->logits, &g->err)) != CAIRN_OK)
			return rc;
	}
	/* held-back bytes that never became a stop string */
	if (p->on_token && st->streamed < text->len)
		p->on_token(-1, text->data + st->streamed, text->len - st->streamed, p->user_data);
	out->generate_ms = now_ms() - t1;
	return CAIRN_OK;
}

/* Checks the parameters and builds the sampler and the schema matcher. */
static cairn_status setup(cairn_generator *g, const cairn_generate_params *p, gen_state *st)
{
	int64_t n_vocab = cn_decoder_hparams_get(g->m)->n_vocab;
	int64_t ctx = cn_decoder_ctx_size(g->ctx);
	if (p->top_k < 0 || p->repeat_last_n < -1 || p->n_stop < 0 || (p->n_stop > 0 && !p->stop))
		return cn_err_set(&g->err, CAIRN_EINVAL, "generator: top_k = %d, repeat_last_n = %d, n_stop = %d", p->top_k,
		                  p->repeat_last_n, p->n_stop);
	for (int i = 0; i < p->n_stop; i++) {
		if (!p->stop[i] || !p->stop[i][0])
			return cn_err_set(&g->err, CAIRN_EINVAL, "generator: stop string %d is NULL or empty", i);
		size_t n = strlen(p->stop[i]);
		if (n > 4096)
			return cn_err_set(&g->err, CAIRN_EINVAL, "generator: stop string %d is over 4096 bytes", i);
		if (n > st->max_stop)
			st->max_stop = n;
	}
	if (p->n_stop && p->json_schema)
		return cn_err_set(&g->err, CAIRN_EINVAL,
		                  "generator: stop strings cannot be combined with json_schema (the document ends itself)");
	cn_sampler_params sp = {
		.temperature = p->temperature,
		.top_k = p->top_k,
		.top_p = p->top_p,
		.min_p = p->min_p,
		.repeat_penalty = p->repeat_penalty,
		.repeat_last_n = p->repeat_last_n < 0 ? (int32_t)ctx : p->repeat_last_n,
		.presence_penalty = p->presence_penalty,
		.frequency_penalty = p->frequency_penalty,
		.seed = p->seed,
	};
	cairn_status rc = cn_sampler_new(&sp, (int32_t)n_vocab, &st->smp, &g->err);
	if (rc != CAIRN_OK || !p->json_schema)
		return rc;
	if ((rc = cn_jschema_compile(p->json_schema, strlen(p->json_schema), &st->schema, &g->err)) != CAIRN_OK)
		return rc;
	if (!g->tokidx && (rc = cn_tokindex_build(cn_decoder_vocab(g->m), (int32_t)n_vocab, &g->tokidx, &g->err)) != CAIRN_OK)
		return rc;
	if ((rc = cn_jschema_check_vocab(st->schema, g->tokidx, &g->err)) != CAIRN_OK)
		return rc;
	int64_t need = cn_jschema_min_bytes(st->schema);
	int64_t room = ctx - (int64_t)g->toks.n + 1;
	if (p->max_tokens < need || room < need)
		return cn_err_set(&g->err, CAIRN_EINVAL,
		                  "generator: the schema's shortest document needs %lld tokens; max_tokens is %d and the "
		                  "context has room for %lld",
		                  (long long)need, p->max_tokens, (long long)room);
	return cn_jmatch_new(st->schema, &st->match, &g->err);
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
	gen_state st;
	memset(&st, 0, sizeof(st));
	if (rc == CAIRN_OK)
		rc = setup(gen, &p, &st);
	cn_buf text;
	cn_buf_init(&text);
	cn_tokvec toks;
	cn_tokvec_init(&toks);
	if (rc == CAIRN_OK)
		rc = run(gen, &p, &st, out, &text, &toks);
	cn_sampler_free(st.smp);
	cn_jmatch_free(st.match);
	cn_jschema_free(st.schema);
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
