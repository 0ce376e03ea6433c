/*
 * cairn_ask with an endpoint or a local model: the generative answerer. Retrieval and the
 * context are the extractive answerer's (ask.c, stages 1–2); from there:
 *
 *  3. The passages in the context, in rank order, become the prompt's numbered passages
 *     (generate.c: rules, fences, reply schema) and go to the endpoint (src/remote: timeouts,
 *     retries, size limit) or to the local model (local_gen.c: chat template, cairn's decoder
 *     under the reply schema). An invalid reply is sent back once with its validation errors.
 *     The transport is chosen here and nowhere else: stages 4–6 do not know which it was.
 *  4. The chosen reply's sentences become the answer's sentences; each located quote becomes
 *     a citation — the passage's document, heading, byte range, and the quote verbatim from
 *     the chunk text at its offset, exactly what an extractive citation holds. A quote that
 *     appears twice is one citation. Passage ids outside the context, passages cited without
 *     a quote, and quotes that are not in a cited passage produce no citation.
 *  5. Verification: a sentence is supported only if it has a citation, every citation's
 *     quote is the context's text at its offset (the check every answer gets), and the
 *     sentence aligns with the passages it cites (verify.c: terms and numbers). So a sentence
 *     without a citation, citing a passage it was not given, or adding a figure the passage
 *     lacks is unsupported whatever the model claims.
 *  6. Policy: strict drops unsupported sentences (abstaining when none is left) and the
 *     citations only they used; lenient keeps them with supported = false. The confidence is
 *     the model's own, scaled by the share of its sentences the verifier supports — not
 *     calibrated like the extractive one, and documented as such.
 *
 * A reply that never validates, a model that abstains, or a confidence under the threshold
 * give an abstention citing the closest passages (the extractive candidates). Nothing the
 * model wrote reaches the user as grounded without passing 4 and 5.
 *
 * The API key stays in the environment: this file passes the variable's name to the remote
 * module and records only the name, for --explain.
 */
#include "answer/answer_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 1024
#define MAX_MAX_TOKENS 131072
#define DEFAULT_TIMEOUT_MS 60000

bool cn_ans_gen_wanted(const cairn_ask_params *p)
{
	return (p->endpoint && *p->endpoint) || (p->local_model && *p->local_model) || p->generator;
}

/* A local model: the file and its chat template are checked here (the template is opened
 * and closed again: it reads metadata only); the generator is opened when the model is asked. */
static cairn_status local_setup(cairn_answer *a, const cairn_ask_params *p, cn_err *err)
{
	if (p->endpoint && *p->endpoint)
		return cn_err_set(err, CAIRN_EINVAL, "ask: endpoint and local_model exclude each other: give one of them");
	if (!p->local_model || !*p->local_model)
		return cn_err_set(err, CAIRN_EINVAL,
		                  "ask: a generator needs local_model, the file it was opened from (for its chat template)");
	cairn_chat_template *t = NULL;
	char eb[512] = "";
	cairn_status st = cairn_chat_template_open(p->local_model, p->local_tokenizer, p->chat_template, &t, eb, sizeof eb);
	if (st)
		return cn_err_set(err, st, "local model: %s%s", eb,
		                  st == CAIRN_EUNSUPPORTED && !p->chat_template ? " (chat_template, --chat-template)" : "");
	gen_info *g = cn_arena_alloc(&a->arena, sizeof *g);
	if (!g) {
		cairn_chat_template_close(t);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	memset(g, 0, sizeof *g);
	g->run.chosen = -1;
	const char *name = cairn_chat_template_name(t);
	g->chat_template = cn_ans_strndup(a, name, strlen(name));
	cairn_chat_template_close(t);
	g->local_model = cn_ans_strndup(a, p->local_model, strlen(p->local_model));
	g->local_tokenizer = p->local_tokenizer ? cn_ans_strndup(a, p->local_tokenizer, strlen(p->local_tokenizer)) : NULL;
	g->lent_generator = p->generator != NULL;
	g->threads = p->local_threads > 0 ? p->local_threads : 0;
	g->temperature = isfinite(p->temperature) ? CN_MAX(0.0, CN_MIN(2.0, p->temperature)) : 0.0;
	g->max_tokens = p->max_tokens > 0 ? CN_MIN(p->max_tokens, MAX_MAX_TOKENS) : DEFAULT_MAX_TOKENS;
	g->strict = p->strict != 0;
	if (!g->chat_template || !g->local_model || (p->local_tokenizer && !g->local_tokenizer))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	a->gen = g;
	return CAIRN_OK;
}

cairn_status cn_ans_gen_setup(cairn_answer *a, const cairn_ask_params *p, cn_err *err)
{
	if ((p->local_model && *p->local_model) || p->generator)
		return local_setup(a, p, err);
	cn_buf url, shown;
	cn_buf_init(&url);
	cn_buf_init(&shown);
	cairn_status st = cn_remote_chat_url(p->endpoint, &url, err);
	cn_remote_display_url(p->endpoint, &shown);
	if (!st && p->api_key_env && *p->api_key_env) {
		const char *key = getenv(p->api_key_env);
		if (!key || !*key)
			st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: the environment variable %s (the API key) is not set",
			                shown.data ? shown.data : "", p->api_key_env);
	}
	gen_info *g = st ? NULL : cn_arena_alloc(&a->arena, sizeof *g);
	if (!st && !g)
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (!st) {
		memset(g, 0, sizeof *g);
		g->run.chosen = -1;
		g->endpoint = cn_ans_strndup(a, shown.data, shown.len);
		g->model = p->model_name ? cn_ans_strndup(a, p->model_name, strlen(p->model_name)) : NULL;
		g->api_key_env = p->api_key_env && *p->api_key_env ? cn_ans_strndup(a, p->api_key_env, strlen(p->api_key_env))
		                                                   : NULL;
		g->temperature = isfinite(p->temperature) ? CN_MAX(0.0, CN_MIN(2.0, p->temperature)) : 0.0;
		g->max_tokens = p->max_tokens > 0 ? CN_MIN(p->max_tokens, MAX_MAX_TOKENS) : DEFAULT_MAX_TOKENS;
		g->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : DEFAULT_TIMEOUT_MS;
		g->strict = p->strict != 0;
		if (!g->endpoint || (p->model_name && !g->model) || (p->api_key_env && *p->api_key_env && !g->api_key_env))
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		else
			a->gen = g;
	}
	cn_buf_free(&url);
	cn_buf_free(&shown);
	return st;
}

/* ---- transport: src/remote, with what each call saw recorded for --explain ---- */

typedef struct transport {
	cairn_answer *a;
	cn_remote_params rp;
	cn_chat_request rq;
	cn_pseudo *pseudo;      /* non-NULL: personal data leaves only as placeholders */
} transport;

/* The messages with personal data replaced (pseudonym.c); their texts live in bufs. */
static cairn_status pseudonymise(transport *t, const cn_chat_msg *msgs, size_t n, cn_chat_msg *out, cn_buf *bufs,
                                 cn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = msgs[i];
		cn_buf_init(&bufs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].content)
			continue;
		cn_buf_reserve(&bufs[i], 1);
		cairn_status st = cn_pseudo_apply(t->pseudo, msgs[i].content, strlen(msgs[i].content), &bufs[i], err);
		if (st)
			return st;
		out[i].content = bufs[i].data ? bufs[i].data : "";
	}
	return CAIRN_OK;
}

static cairn_status send_remote(void *ud, const cn_chat_msg *msgs, size_t n, char **content, cn_err *err)
{
	transport *t = ud;
	gen_info *g = t->a->gen;
	cn_chat_request rq = t->rq;
	rq.messages = msgs;
	rq.n_messages = n;
	cn_chat_msg masked[8];
	cn_buf bufs[8];
	size_t nb = 0;
	if (t->pseudo) {
		if (n > 8)
			return cn_err_set(err, CAIRN_EINTERNAL, "too many chat messages");
		nb = n;
		cairn_status st = pseudonymise(t, msgs, n, masked, bufs, err);
		if (st) {
			for (size_t i = 0; i < nb; i++)
				cn_buf_free(&bufs[i]);
			return st;
		}
		rq.messages = masked;
	}
	cn_chat_result r;
	cairn_status st = cn_remote_chat(&t->rp, &rq, &r, err);
	for (size_t i = 0; i < nb; i++)
		cn_buf_free(&bufs[i]);
	if (!st && t->pseudo && r.content) {
		/* the reply speaks in placeholders: back to the real values before validation */
		cn_buf back;
		cn_buf_init(&back);
		cn_buf_reserve(&back, 1);
		st = cn_pseudo_restore(t->pseudo, r.content, strlen(r.content), &back, err);
		if (!st) {
			char *c = cn_malloc(back.len + 1);
			if (!c) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			} else {
				memcpy(c, back.data ? back.data : "", back.len + 1);
				cn_free(r.content);
				r.content = c;
			}
		}
		cn_buf_free(&back);
	}
	if (g->n_calls < CN_GEN_MAX_ATTEMPTS) {
		gen_call *c = &g->calls[g->n_calls++];
		c->http_status = r.http_status;
		c->requests = r.attempts;
		c->schema_dropped = r.schema_dropped;
		c->finish_reason = r.finish_reason ? cn_ans_strndup(t->a, r.finish_reason, strlen(r.finish_reason)) : NULL;
		c->seconds = r.seconds;
	}
	if (!st) {
		*content = r.content;
		r.content = NULL;
	}
	cn_chat_result_free(&r);
	return st;
}

/* ---- transport: a local model (local_gen.c), each call recorded for --explain ---- */

typedef struct local_transport {
	cairn_answer *a;
	cn_local local;
} local_transport;

static cairn_status send_local(void *ud, const cn_chat_msg *msgs, size_t n, char **content, cn_err *err)
{
	local_transport *t = ud;
	gen_info *g = t->a->gen;
	cairn_status st = cn_local_send(&t->local, msgs, n, content, err);
	const cn_local_call *l = &t->local.last;
	if (g->n_calls < CN_GEN_MAX_ATTEMPTS && l->prompt) {
		gen_call *c = &g->calls[g->n_calls++];
		c->prompt = cn_ans_strndup(t->a, l->prompt, strlen(l->prompt));
		c->prompt_tokens = l->n_prompt_tokens;
		c->cached_tokens = l->n_cached_tokens;
		c->tokens = l->n_tokens;
		c->prompt_seconds = l->prompt_ms / 1000.0;
		c->seconds = l->generate_ms / 1000.0;
		c->stop = l->stop;
		if (!c->prompt && !st) {
			cn_free(*content);
			*content = NULL;
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
	}
	return st;
}

static cairn_status generate_local(cairn_answer *a, const cairn_ask_params *p, const char *question,
                                   const cn_gen_passage *ps, size_t np, cn_err *err)
{
	gen_info *g = a->gen;
	local_transport t = {.a = a};
	cn_local_params lp = cn_local_default_params();
	lp.model = p->local_model;
	lp.tokenizer = p->local_tokenizer;
	lp.chat_template = p->chat_template;
	lp.generator = p->generator;
	lp.n_threads = g->threads;
	lp.temperature = g->temperature;
	lp.max_tokens = g->max_tokens;
	lp.n_passages = (int)CN_MIN(np, (size_t)INT32_MAX);
	lp.max_sentences = p->max_sentences;
	cairn_status st = cn_local_open(&t.local, &lp, err);
	if (st)
		return st;
	g->schema = cn_ans_strndup(a, t.local.schema.data, t.local.schema.len);
	if (!g->schema) {
		cn_local_close(&t.local);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	g->called = true;
	st = cn_generate_h(&g->run, question, p->history, ps, np, p->max_sentences, send_local, &t, err);
	cn_local_close(&t.local);
	return st;
}

/* ---- stages 4–6 ---- */

static cairn_status alloc_checks(cairn_answer *a, size_t ns, size_t nc)
{
	a->verdicts = cn_arena_alloc(&a->arena, (ns ? ns : 1) * sizeof *a->verdicts);
	a->cite_in_context = cn_arena_alloc(&a->arena, (nc ? nc : 1) * sizeof *a->cite_in_context);
	a->cite_quote_ok = cn_arena_alloc(&a->arena, (nc ? nc : 1) * sizeof *a->cite_quote_ok);
	if (!a->verdicts || !a->cite_in_context || !a->cite_quote_ok)
		return CAIRN_ENOMEM;
	memset(a->verdicts, 0, (ns ? ns : 1) * sizeof *a->verdicts);
	memset(a->cite_in_context, 0, (nc ? nc : 1) * sizeof *a->cite_in_context);
	memset(a->cite_quote_ok, 0, (nc ? nc : 1) * sizeof *a->cite_quote_ok);
	return CAIRN_OK;
}

static cairn_status abstain(cairn_answer *a, const char *question, const char *reason, const char *message, cand *c,
                            size_t nc)
{
	cairn_status st = cn_ans_abstain(a, question, reason, message, c, nc);
	if (!st)
		st = alloc_checks(a, 0, a->view.n_citations);
	if (!st)
		cn_ans_check_citations(a);
	return st;
}

/* The citation for a located quote: the passage's chunk, the quote verbatim at its offset. */
static cairn_status fill_citation(cairn_answer *a, cairn_citation *ct, int id, size_t ci, const cn_gen_quote *q)
{
	const cairn_hit *h = a->ctx[ci].hit;
	memset(ct, 0, sizeof *ct);
	ct->id = id;
	ct->doc_id = h->doc_id;
	ct->chunk_id = h->chunk_id;
	ct->title = h->title;
	ct->source = h->source;
	ct->heading = h->heading;
	ct->start = h->byte_start;
	ct->end = h->byte_end;
	ct->quote = cn_ans_strndup(a, h->text + q->start, q->end - q->start);
	ct->quote_offset = (int64_t)q->start;
	ct->score = h->score;
	ct->rank = (int)ci + 1;
	return ct->quote ? CAIRN_OK : CAIRN_ENOMEM;
}

/* The passages (context texts) of citations ids[0..n), distinct; returns how many. */
static size_t cited_passages(const cairn_answer *a, const int *ids, size_t n, const char **txt, size_t *len)
{
	size_t k = 0;
	for (size_t j = 0; j < n; j++) {
		const cairn_citation *ct = &a->view.citations[ids[j] - 1];
		size_t ci = (size_t)ct->rank - 1;
		bool dup = false;
		for (size_t t = 0; t < k; t++)
			dup |= txt[t] == a->ctx[ci].hit->text;
		if (!dup) {
			txt[k] = a->ctx[ci].hit->text;
			len[k] = a->ctx[ci].limit;
			k++;
		}
	}
	return k;
}

static cairn_status join_answer(cairn_answer *a)
{
	cairn_answer_view *v = &a->view;
	cn_buf ans;
	cn_buf_init(&ans);
	for (size_t i = 0; i < v->n_sentences; i++) {
		if (i)
			cn_buf_putc(&ans, ' ');
		cn_buf_puts(&ans, v->sentences[i].text);
	}
	v->answer = ans.failed ? NULL : cn_ans_strndup(a, ans.data ? ans.data : "", ans.len);
	cn_buf_free(&ans);
	return v->answer ? CAIRN_OK : CAIRN_ENOMEM;
}

static cairn_status after_reply(cairn_answer *a, cn_analyzer *an, cand *c, size_t nc, const cairn_ask_params *p,
                                const char *question, cn_err *err);

cairn_status cn_ans_generative(cairn_answer *a, cn_analyzer *an, cand *c, size_t nc, const cairn_ask_params *p,
                               const char *question, cn_err *err)
{
	gen_info *g = a->gen;
	cairn_answer_view *v = &a->view;
	v->confidence = 0;
	size_t np = 0;
	for (size_t i = 0; i < a->nctx; i++)
		np += a->ctx[i].in_context;
	if (!np)
		return abstain(a, question, "no passage entered the context: the model was not asked", NULL, c, nc);

	/* stage 3: the passages, the prompt, the model */
	g->np = np;
	g->passage_ctx = cn_arena_alloc(&a->arena, np * sizeof *g->passage_ctx);
	cn_gen_passage *ps = cn_calloc(np, sizeof *ps);
	if (!g->passage_ctx || !ps) {
		cn_free(ps);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0, k = 0; i < a->nctx; i++) {
		const ctx_chunk *x = &a->ctx[i];
		if (!x->in_context)
			continue;
		g->passage_ctx[k] = i;
		ps[k] = (cn_gen_passage){x->hit->text, x->limit, x->hit->title, x->hit->heading, x->hit->source};
		k++;
	}
	if (g->local_model) {
		cairn_status st = generate_local(a, p, question, ps, np, err);
		cn_free(ps);
		if (st)
			return st;
		return after_reply(a, an, c, nc, p, question, err);
	}
	transport t = {.a = a, .rp = cn_remote_default_params()};
	t.rp.endpoint = p->endpoint;
	t.rp.api_key_env = g->api_key_env;
	t.rp.timeout_ms = g->timeout_ms;
	t.rq.model = g->model;
	t.rq.temperature = g->temperature;
	t.rq.max_tokens = g->max_tokens;
	t.rq.json_schema = cn_gen_schema();
	t.rq.schema_name = "cairn_answer";
	g->called = true;
	cn_pseudo pseudo;
	cn_pseudo_init(&pseudo);
	if (p->redact_remote)
		t.pseudo = &pseudo;
	cairn_status st = cn_generate_h(&g->run, question, p->history, ps, np, p->max_sentences, send_remote, &t, err);
	g->pseudonymised = pseudo.replaced;
	cn_pseudo_free(&pseudo);
	cn_free(ps);
	if (st)
		return st;
	return after_reply(a, an, c, nc, p, question, err);
}

/* Stages 4–6, from the chosen reply on (either transport). */
static cairn_status after_reply(cairn_answer *a, cn_analyzer *an, cand *c, size_t nc, const cairn_ask_params *p,
                                const char *question, cn_err *err)
{
	gen_info *g = a->gen;
	cairn_answer_view *v = &a->view;
	cairn_status st = CAIRN_OK;
	const cn_gen_attempt *at = &g->run.attempts[g->run.chosen];
	const cn_gen_output *o = &at->out;
	a->raw_answer = at->raw;
	g->model_confidence = o->confidence;
	if (!o->parsed)
		return abstain(a, question, "the model's reply failed validation",
		               "No grounded answer: the model's reply could not be validated", c, nc);
	if (o->abstain)
		return abstain(a, question, "the model found no answer in the passages", NULL, c, nc);
	if (o->confidence < p->min_confidence) {
		st = abstain(a, question, "the model's confidence is below the threshold", NULL, c, nc);
		v->confidence = o->confidence;
		return st;
	}

	/* stage 4: sentences and citations */
	size_t ns = o->n_sentences, nq = 0;
	for (size_t i = 0; i < ns; i++)
		nq += o->sentences[i].n_quotes;
	a->sents = cn_arena_alloc(&a->arena, (ns ? ns : 1) * sizeof *a->sents);
	a->cites = cn_arena_alloc(&a->arena, (nq ? nq : 1) * sizeof *a->cites);
	g->sents = cn_arena_alloc(&a->arena, (ns ? ns : 1) * sizeof *g->sents);
	int **ids = cn_arena_alloc(&a->arena, (ns ? ns : 1) * sizeof *ids);
	if (!a->sents || !a->cites || !g->sents || !ids || alloc_checks(a, ns, nq))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	g->n_sents = ns;
	size_t ncite = 0;
	for (size_t i = 0; i < ns; i++) {
		const cn_gen_sentence *s = &o->sentences[i];
		ids[i] = cn_arena_alloc(&a->arena, (s->n_quotes ? s->n_quotes : 1) * sizeof **ids);
		if (!ids[i])
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		size_t nid = 0;
		for (size_t j = 0; j < s->n_quotes; j++) {
			const cn_gen_quote *q = &s->quotes[j];
			size_t ci = g->passage_ctx[q->passage - 1];
			int id = 0;
			for (size_t k = 0; k < ncite && !id; k++)
				if (a->cites[k].rank == (int)ci + 1 && a->cites[k].quote_offset == (int64_t)q->start &&
				    strlen(a->cites[k].quote) == q->end - q->start)
					id = (int)k + 1;
			if (!id) {
				if (fill_citation(a, &a->cites[ncite], (int)ncite + 1, ci, q))
					return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				id = (int)++ncite;
			}
			bool dup = false;
			for (size_t k = 0; k < nid; k++)
				dup |= ids[i][k] == id;
			if (!dup)
				ids[i][nid++] = id;
		}
		a->sents[i] = (cairn_answer_sentence){s->text, ids[i], nid, 0};
		g->sents[i] = (gen_sentence){s->text, s->citations, s->n_citations, s->problems, {0}, true};
	}
	v->sentences = a->sents;
	v->n_sentences = ns;
	v->citations = a->cites;
	v->n_citations = ncite;

	/* stage 5: verification */
	cn_ans_check_citations(a);
	const char **txt = cn_calloc(ncite ? ncite : 1, sizeof *txt);
	size_t *len = cn_calloc(ncite ? ncite : 1, sizeof *len);
	if (!txt || !len) {
		cn_free(txt);
		cn_free(len);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	size_t supported = 0, cites_used = 0, cites_ok = 0;
	cairn_encoder *judge = NULL;
	if (p->verify_model && *p->verify_model) {
		/* the second verifier: a cross-encoder scoring (sentence, cited passage) pairs */
		char msg[512];
		cairn_encoder_params ep = cairn_encoder_default_params();
		cairn_encoder_info info;
		if (cairn_encoder_open(p->verify_model, &ep, &judge, msg, sizeof msg) != CAIRN_OK)
			st = cn_err_set(err, CAIRN_EINVAL, "verify model: %s", msg);
		else if (cairn_encoder_get_info(judge, &info), !info.is_reranker)
			st = cn_err_set(err, CAIRN_EINVAL, "verify model %s: not a cross-encoder (it embeds; pass a reranker)",
			                p->verify_model);
	}
	for (size_t i = 0; i < ns && !st; i++) {
		cairn_answer_sentence *s = &a->sents[i];
		size_t k = cited_passages(a, s->citations, s->n_citations, txt, len);
		cn_verdict vd;
		st = cn_verify_generated(an, s->text, strlen(s->text), txt, len, k, &vd);
		if (!st && judge && k) {
			float scores[64];
			char *ptext[64];
			size_t kk = k < 64 ? k : 64, made = 0;
			for (size_t j = 0; j < kk; j++) {
				if (!(ptext[j] = cn_strndup(txt[j], len[j])))
					break;
				made++;
			}
			if (made < kk || cairn_rerank(judge, s->text, (const char *const *)ptext, kk, scores) != CAIRN_OK)
				st = cn_err_set(err, CAIRN_EIO, "verify model %s: scoring failed", p->verify_model);
			for (size_t j = 0; j < made; j++)
				cn_free(ptext[j]);
			if (!st) {
				float best = scores[0];
				for (size_t j = 1; j < kk; j++)
					best = scores[j] > best ? scores[j] : best;
				vd.model_scored = true;
				vd.model_score = 1.0 / (1.0 + exp(-(double)best));
				vd.supported = vd.supported && vd.model_score >= p->verify_threshold;
			}
		}
		bool cites_fine = s->n_citations > 0;
		for (size_t j = 0; j < s->n_citations && !st; j++) {
			int id = s->citations[j];
			bool ok = a->cite_in_context[id - 1] && a->cite_quote_ok[id - 1];
			cites_fine &= ok;
			cn_verdict one;
			size_t k1 = cited_passages(a, &s->citations[j], 1, txt, len);
			st = cn_verify_generated(an, s->text, strlen(s->text), txt, len, k1, &one);
			cites_ok += ok && one.supported;
		}
		/* ids the model gave that led to no citation (outside the context, or no quote)
		 * count as citations that do not support */
		size_t given = o->sentences[i].n_given;
		cites_used += s->n_citations + (given > k ? given - k : 0);
		vd.supported = vd.supported && cites_fine;
		a->verdicts[i] = vd;
		g->sents[i].verdict = vd;
		s->supported = vd.supported;
		supported += vd.supported;
	}
	cn_free(txt);
	cn_free(len);
	cairn_encoder_close(judge);
	if (st)
		return err->code ? st : cn_err_set(err, st, "out of memory verifying the answer");
	v->support_rate = ns ? (double)supported / (double)ns : 1.0;
	v->citation_precision = cites_used ? (double)cites_ok / (double)cites_used : 1.0;
	v->confidence = o->confidence * v->support_rate;

	/* stage 6: the policy */
	if (g->strict && supported < ns) {
		if (!supported) {
			for (size_t i = 0; i < ns; i++)
				g->sents[i].kept = false;
			st = abstain(a, question, "the verifier rejected every sentence", NULL, c, nc);
			v->confidence = 0;
			return st;
		}
		/* keep the supported sentences and the citations they use, renumbered from 1 */
		int *remap = cn_calloc(ncite + 1, sizeof *remap);
		if (!remap)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		size_t k = 0;
		for (size_t i = 0; i < ns; i++) {
			g->sents[i].kept = a->sents[i].supported;
			if (!a->sents[i].supported)
				continue;
			a->sents[k] = a->sents[i];
			a->verdicts[k] = a->verdicts[i];
			ids[k] = ids[i];
			k++;
		}
		int next = 0;
		for (size_t i = 0; i < k; i++)
			for (size_t j = 0; j < a->sents[i].n_citations; j++) {
				int id = ids[i][j];
				if (!remap[id]) {
					remap[id] = ++next;
					size_t to = (size_t)next - 1, from = (size_t)id - 1;
					a->cites[to] = a->cites[from];
					a->cites[to].id = next;
					a->cite_in_context[to] = a->cite_in_context[from];
					a->cite_quote_ok[to] = a->cite_quote_ok[from];
				}
				ids[i][j] = remap[id];
			}
		cn_free(remap);
		v->n_sentences = k;
		v->n_citations = (size_t)next;
	}
	return join_answer(a) ? cn_err_set(err, CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

/* ---- --explain ---- */

static void jstr(cn_buf *b, const char *s) { cn_buf_put_json_str(b, s ? s : "", s ? strlen(s) : 0); }
static void jnum(cn_buf *b, double x) { cn_buf_printf(b, "%.4g", isfinite(x) ? x : 0.0); }

static void indent(cn_buf *b, const char *s, const char *pad)
{
	cn_buf_puts(b, pad);
	for (const char *c = s ? s : ""; *c; c++) {
		cn_buf_putc(b, *c);
		if (*c == '\n' && c[1])
			cn_buf_puts(b, pad);
	}
	cn_buf_putc(b, '\n');
}

void cn_ans_gen_explain_text(cn_buf *b, const cairn_answer *a)
{
	const gen_info *g = a->gen;
	const cairn_answer_view *v = &a->view;
	if (g->local_model) {
		cn_buf_printf(b, "3. prompt  local model %s%s%s, chat template %s, %s generator, temperature %.2g, max_tokens %d\n",
		              g->local_model, g->local_tokenizer ? ", tokenizer " : "", g->local_tokenizer ? g->local_tokenizer : "",
		              g->chat_template, g->lent_generator ? "the caller's" : "a new", g->temperature, g->max_tokens);
		cn_buf_puts(b, "   decoding constrained by the answer's JSON Schema: every reply is well-formed JSON of its "
		               "shape, with passage numbers in range (quotes and support are checked below)\n");
	} else {
		cn_buf_printf(b, "3. prompt  endpoint %s, model %s, temperature %.2g, max_tokens %d, timeout %d ms, key %s%s\n",
		              g->endpoint, g->model ? g->model : "(not sent)", g->temperature, g->max_tokens, g->timeout_ms,
		              g->api_key_env ? "from $" : "none", g->api_key_env ? g->api_key_env : "");
	}
	if (!g->called) {
		cn_buf_puts(b, "   (the model was not asked)\n");
	} else {
		cn_buf_puts(b, "   --- system ---\n");
		indent(b, g->run.system, "   ");
		cn_buf_puts(b, "   --- user ---\n");
		indent(b, g->run.user, "   ");
		if (g->local_model && g->n_calls && g->calls[0].prompt) {
			cn_buf_printf(b, "   --- formatted by the %s template ---\n", g->chat_template);
			indent(b, g->calls[0].prompt, "   ");
		}
	}
	if (g->pseudonymised)
		cn_buf_printf(b, "   (sent with %zu personal-data value%s replaced by placeholders, restored in the reply)\n",
		              g->pseudonymised, g->pseudonymised == 1 ? "" : "s");
	cn_buf_puts(b, "4. model replies\n");
	for (int i = 0; i < g->run.n_attempts; i++) {
		const cn_gen_attempt *at = &g->run.attempts[i];
		const gen_call *c = i < g->n_calls ? &g->calls[i] : NULL;
		cn_buf_printf(b, "   reply %d", i + 1);
		if (c && g->local_model)
			cn_buf_printf(b, " (%d prompt tokens, %d reused from the cache, %.2f s; %d tokens in %.2f s, %.1f tokens/s; "
			              "stop: %s; schema-constrained)",
			              c->prompt_tokens, c->cached_tokens, c->prompt_seconds, c->tokens, c->seconds,
			              c->seconds > 0 ? c->tokens / c->seconds : 0.0, c->stop ? c->stop : "?");
		else if (c)
			cn_buf_printf(b, " (HTTP %ld, %d request%s, %.2f s, finish_reason %s%s)", c->http_status, c->requests,
			              c->requests == 1 ? "" : "s", c->seconds, c->finish_reason ? c->finish_reason : "none",
			              c->schema_dropped ? ", response_format rejected and dropped" : "");
		cn_buf_puts(b, i == 1 ? ", asked again with:\n" : ":\n");
		if (i == 1)
			indent(b, g->run.retry_message, "   > ");
		indent(b, at->raw, "   | ");
		if (at->out.parsed && !at->out.n_problems)
			cn_buf_puts(b, "   validation: valid");
		else
			cn_buf_printf(b, "   validation: INVALID — %s", at->out.errors);
		if (*at->out.repairs)
			cn_buf_printf(b, " (repaired: %s)", at->out.repairs);
		cn_buf_putc(b, '\n');
	}
	if (g->run.chosen >= 0)
		cn_buf_printf(b, "   used: reply %d\n", g->run.chosen + 1);
	cn_buf_printf(b, "5. confidence  %.3f = the model's %.3f × support rate (abstain when the model's is below %.2f)\n",
	              v->confidence, g->model_confidence, a->min_confidence);
	if (a->abstain_reason)
		cn_buf_printf(b, "   abstained: %s\n", a->abstain_reason);
	cn_buf_printf(b, "6. verifier  policy %s\n",
	              g->strict ? "strict: unsupported sentences are dropped" : "lenient: unsupported sentences are kept, flagged");
	for (size_t i = 0; i < g->n_sents; i++) {
		const gen_sentence *s = &g->sents[i];
		const cn_verdict *vd = &s->verdict;
		cn_buf_printf(b, "   sentence %zu: %s%s — cites passage%s", i + 1, vd->supported ? "supported" : "NOT supported",
		              s->kept ? "" : ", dropped", s->n_passages == 1 ? "" : "s");
		for (size_t j = 0; j < s->n_passages; j++)
			cn_buf_printf(b, "%s%d", j ? "," : " ", s->passages[j]);
		if (!s->n_passages)
			cn_buf_puts(b, " none");
		cn_buf_printf(b, "; found in them: %s, terms in them %.0f%%, numbers %s", vd->found ? "yes" : "no",
		              vd->lexical * 100, vd->numbers_ok ? "match" : "MISSING");
		if (vd->model_scored)
			cn_buf_printf(b, ", verify model %.2f", vd->model_score);
		cn_buf_putc(b, '\n');
		cn_buf_printf(b, "      \"%s\"\n", s->text);
		if (s->problems)
			cn_buf_printf(b, "      validation: %s\n", s->problems);
	}
	for (size_t i = 0; !v->abstained && i < v->n_citations; i++)
		cn_buf_printf(b, "   [%d] %s\n", v->citations[i].id,
		              a->cite_in_context[i] && a->cite_quote_ok[i] ? "quote is in the context" : "NOT in the context");
	cn_buf_printf(b, "   support rate %.2f, citation precision %.2f\n", v->support_rate, v->citation_precision);
}

void cn_ans_gen_explain_json(cn_buf *b, const cairn_answer *a)
{
	const gen_info *g = a->gen;
	if (g->local_model) {
		cn_buf_puts(b, ",\"generator\":{\"local_model\":");
		jstr(b, g->local_model);
		cn_buf_puts(b, ",\"local_tokenizer\":");
		if (g->local_tokenizer)
			jstr(b, g->local_tokenizer);
		else
			cn_buf_puts(b, "null");
		cn_buf_puts(b, ",\"chat_template\":");
		jstr(b, g->chat_template);
		cn_buf_printf(b, ",\"lent_generator\":%s,\"constrained\":true,\"schema\":",
		              g->lent_generator ? "true" : "false");
		cn_buf_puts(b, g->schema ? g->schema : "null"); /* JSON text we built */
	} else {
		cn_buf_puts(b, ",\"generator\":{\"endpoint\":");
		jstr(b, g->endpoint);
		cn_buf_puts(b, ",\"model\":");
		if (g->model)
			jstr(b, g->model);
		else
			cn_buf_puts(b, "null");
		cn_buf_puts(b, ",\"api_key_env\":");
		if (g->api_key_env)
			jstr(b, g->api_key_env);
		else
			cn_buf_puts(b, "null");
	}
	cn_buf_puts(b, ",\"temperature\":");
	jnum(b, g->temperature);
	cn_buf_printf(b, ",\"max_tokens\":%d", g->max_tokens);
	if (!g->local_model)
		cn_buf_printf(b, ",\"timeout_ms\":%d", g->timeout_ms);
	cn_buf_printf(b, ",\"policy\":\"%s\",\"called\":%s,\"prompt\":{\"system\":", g->strict ? "strict" : "lenient",
	              g->called ? "true" : "false");
	jstr(b, g->run.system);
	cn_buf_puts(b, ",\"user\":");
	jstr(b, g->run.user);
	cn_buf_puts(b, "},\"retry_message\":");
	if (g->run.retry_message)
		jstr(b, g->run.retry_message);
	else
		cn_buf_puts(b, "null");
	cn_buf_puts(b, ",\"replies\":[");
	for (int i = 0; i < g->run.n_attempts; i++) {
		const cn_gen_attempt *at = &g->run.attempts[i];
		const gen_call *c = i < g->n_calls ? &g->calls[i] : NULL;
		cn_buf_puts(b, i ? ",{\"raw\":" : "{\"raw\":");
		jstr(b, at->raw);
		cn_buf_printf(b, ",\"valid\":%s,\"parsed\":%s,\"errors\":", at->out.parsed && !at->out.n_problems ? "true" : "false",
		              at->out.parsed ? "true" : "false");
		jstr(b, at->out.errors);
		cn_buf_puts(b, ",\"repairs\":");
		jstr(b, at->out.repairs);
		if (c && g->local_model) {
			cn_buf_puts(b, ",\"formatted_prompt\":");
			jstr(b, c->prompt);
			cn_buf_printf(b, ",\"prompt_tokens\":%d,\"cached_tokens\":%d,\"tokens\":%d,\"prompt_seconds\":",
			              c->prompt_tokens, c->cached_tokens, c->tokens);
			jnum(b, c->prompt_seconds);
			cn_buf_puts(b, ",\"seconds\":");
			jnum(b, c->seconds);
			cn_buf_puts(b, ",\"tokens_per_second\":");
			jnum(b, c->seconds > 0 ? c->tokens / c->seconds : 0.0);
			cn_buf_puts(b, ",\"stop\":");
			jstr(b, c->stop);
		} else if (c) {
			cn_buf_printf(b, ",\"http_status\":%ld,\"requests\":%d,\"schema_dropped\":%s,\"seconds\":", c->http_status,
			              c->requests, c->schema_dropped ? "true" : "false");
			jnum(b, c->seconds);
			cn_buf_puts(b, ",\"finish_reason\":");
			if (c->finish_reason)
				jstr(b, c->finish_reason);
			else
				cn_buf_puts(b, "null");
		}
		cn_buf_putc(b, '}');
	}
	cn_buf_printf(b, "],\"used_reply\":%d,\"pseudonymised_values\":%zu,\"model_confidence\":", g->run.chosen + 1,
	              g->pseudonymised);
	jnum(b, g->model_confidence);
	cn_buf_puts(b, ",\"sentences\":[");
	for (size_t i = 0; i < g->n_sents; i++) {
		const gen_sentence *s = &g->sents[i];
		cn_buf_puts(b, i ? ",{\"text\":" : "{\"text\":");
		jstr(b, s->text);
		cn_buf_puts(b, ",\"passages\":[");
		for (size_t j = 0; j < s->n_passages; j++)
			cn_buf_printf(b, "%s%d", j ? "," : "", s->passages[j]);
		cn_buf_puts(b, "],\"problems\":");
		if (s->problems)
			jstr(b, s->problems);
		else
			cn_buf_puts(b, "null");
		cn_buf_printf(b, ",\"found\":%s,\"lexical\":", s->verdict.found ? "true" : "false");
		jnum(b, s->verdict.lexical);
		cn_buf_printf(b, ",\"numbers_ok\":%s,\"supported\":%s,\"kept\":%s", s->verdict.numbers_ok ? "true" : "false",
		              s->verdict.supported ? "true" : "false", s->kept ? "true" : "false");
		if (s->verdict.model_scored) {
			cn_buf_puts(b, ",\"model_score\":");
			jnum(b, s->verdict.model_score);
		}
		cn_buf_putc(b, '}');
	}
	cn_buf_puts(b, "]}");
}
