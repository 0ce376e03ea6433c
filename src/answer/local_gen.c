/*
 * The generative answerer's local transport: the messages cn_generate builds go through the
 * model's chat template and cairn's own decoder instead of an HTTP endpoint. Nothing leaves
 * the machine, so there is no pseudonymisation here.
 *
 * Decoding is constrained by a JSON Schema (docs/sample.md), so every reply is a complete
 * JSON document of the answer's shape whatever the model: a small or untrained model cannot
 * produce malformed JSON, only content the validator and the verifier then judge (quotes
 * that are not in the passages, sentences the passages do not support). The schema is the
 * remote one (cn_gen_schema) tightened to what the sampler can enforce and the validator
 * requires, built per question:
 *  - "confidence" is a number in [0, 1], but bounds on numbers are outside the supported
 *    subset; an enum of the eighths 0, 0.125, …, 1 keeps it in range (dyadic values, so
 *    their canonical JSON text is short and exact).
 *  - citation ids are integers in 1..np (np = passages in the prompt), at least one per
 *    sentence, and each sentence has at least one quote; at most max_sentences sentences.
 *  - at least one sentence. The validator refuses no sentences with "abstain": false, and
 *    the subset cannot tie the array to the flag (anyOf branches must differ in their first
 *    byte), so a model that abstains writes a sentence that is then ignored — the reverse
 *    would let a model produce an unparseable reply.
 * So the only replies validation can still refuse as malformed are those with a sentence or
 * quote of nothing but whitespace (or a \u0000 escape): the schema subset has no pattern.
 *  - sentence and quote strings are capped, so a rambling model still closes the document
 *    within its token budget (the sampler's termination guarantee does the rest).
 * What the schema cannot say — that a quote is a span of the passage it cites — is left to
 * validation and verification, exactly as for a remote model.
 *
 * The generator is opened per transport (mmap, cheap) unless the caller lends an open one;
 * cairn_generate serialises calls on a handle, and the retry's prompt shares the first's
 * prefix (system and user turns), so the KV cache makes the second attempt cost only its new
 * tokens. Generation stops at the template's end-of-turn token, at an end-of-generation
 * token, or when the document is complete.
 */
#include "answer/answer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TEXT_MAX_CHARS 600   /* per sentence */
#define QUOTE_MAX_CHARS 400
#define QUOTES_MAX 4         /* per sentence */
#define CITES_MAX 4
#define DEFAULT_SEED 0x636169726eull /* "cairn": the same question gives the same reply */

cairn_status cn_local_schema(int n_passages, int max_sentences, cn_buf *out)
{
	if (n_passages < 1)
		n_passages = 1;
	if (max_sentences < 1)
		max_sentences = 1;
	cn_buf_printf(out,
	              "{\"type\":\"object\",\"properties\":{"
	              "\"answer_sentences\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":%d,\"items\":{\"type\":\"object\",\"properties\":{"
	              "\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":%d},"
	              "\"citations\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":%d,"
	              "\"items\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":%d}},"
	              "\"quotes\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":%d,"
	              "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":%d}}},"
	              "\"required\":[\"text\",\"citations\",\"quotes\"],\"additionalProperties\":false}},"
	              "\"abstain\":{\"type\":\"boolean\"},"
	              "\"confidence\":{\"type\":\"number\",\"enum\":[0,0.125,0.25,0.375,0.5,0.625,0.75,0.875,1]}},"
	              "\"required\":[\"answer_sentences\",\"abstain\",\"confidence\"],\"additionalProperties\":false}",
	              max_sentences, TEXT_MAX_CHARS, CITES_MAX, n_passages, QUOTES_MAX, QUOTE_MAX_CHARS);
	return out->failed ? CAIRN_ENOMEM : CAIRN_OK;
}

cn_local_params cn_local_default_params(void)
{
	cn_local_params p;
	memset(&p, 0, sizeof p);
	p.max_tokens = 512;
	p.n_passages = 1;
	p.max_sentences = 3;
	return p;
}

static const char *name_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

cairn_status cn_local_open(cn_local *l, const cn_local_params *p, cn_err *err)
{
	memset(l, 0, sizeof l[0]);
	cn_buf_init(&l->schema);
	if (!p->model || !*p->model)
		return cn_err_set(err, CAIRN_EINVAL, "local model: no model file given");
	l->model = p->model;
	char eb[512] = "";
	cairn_status st = cairn_chat_template_open(p->model, p->tokenizer, p->chat_template, &l->tmpl, eb, sizeof eb);
	if (st)
		return cn_err_set(err, st, "local model: %s%s", eb,
		                  st == CAIRN_EUNSUPPORTED && !p->chat_template ? " (chat_template, --chat-template)" : "");
	if (p->generator) {
		l->gen = p->generator;
	} else {
		cairn_generator_params gp = cairn_generator_default_params();
		gp.n_threads = p->n_threads;
		gp.tokenizer = p->tokenizer;
		if ((st = cairn_generator_open(p->model, &gp, &l->gen, eb, sizeof eb))) {
			cn_local_close(l);
			return cn_err_set(err, st, "local model: %s", eb);
		}
		l->owns_gen = true;
	}
	if ((st = cn_local_schema(p->n_passages, p->max_sentences, &l->schema))) {
		cn_local_close(l);
		return cn_err_set(err, st, "out of memory");
	}
	l->stop_token = cairn_chat_template_stop_token(l->tmpl);
	cairn_generate_params *g = &l->gp;
	*g = cairn_generate_default_params();
	g->max_tokens = p->max_tokens > 0 ? p->max_tokens : 512;
	g->temperature = isfinite(p->temperature) && p->temperature > 0 ? (float)p->temperature : 0.0f;
	g->seed = p->seed ? p->seed : DEFAULT_SEED;
	g->parse_special = 1; /* the template's control-token texts become those tokens */
	g->add_bos = cairn_chat_template_adds_bos(l->tmpl) ? 1 : -1;
	g->json_schema = l->schema.data;
	return CAIRN_OK;
}

void cn_local_close(cn_local *l)
{
	if (!l)
		return;
	if (l->owns_gen)
		cairn_generator_close(l->gen);
	cairn_chat_template_close(l->tmpl);
	cn_free(l->last.prompt);
	cn_buf_free(&l->schema);
	memset(l, 0, sizeof l[0]);
}

const char *cn_local_template_name(const cn_local *l) { return l->tmpl ? cairn_chat_template_name(l->tmpl) : ""; }

/* Ends the turn at the template's end-of-turn token even when the vocabulary does not mark
 * it as an end-of-generation token (a schema-complete document also ends it). */
static int on_token(int32_t token, const char *text, size_t len, void *ud)
{
	(void)text;
	(void)len;
	const cn_local *l = ud;
	return l->stop_token >= 0 && token == l->stop_token;
}

static const char *stop_name(cairn_stop_reason s)
{
	switch (s) {
	case CAIRN_STOP_EOG: return "end of turn";
	case CAIRN_STOP_MAX_TOKENS: return "max_tokens";
	case CAIRN_STOP_CONTEXT: return "context full";
	case CAIRN_STOP_CALLBACK: return "end of turn";
	case CAIRN_STOP_STRING: return "stop string";
	}
	return "?";
}

cairn_status cn_local_send(void *ud, const cn_chat_msg *msgs, size_t n, char **content, cn_err *err)
{
	cn_local *l = ud;
	*content = NULL;
	cn_free(l->last.prompt);
	memset(&l->last, 0, sizeof l->last);
	if (n > 16)
		return cn_err_set(err, CAIRN_EINTERNAL, "too many chat messages");
	cairn_chat_message m[16];
	for (size_t i = 0; i < n; i++)
		m[i] = (cairn_chat_message){msgs[i].role, msgs[i].content ? msgs[i].content : ""};
	char eb[512] = "";
	char *prompt = NULL;
	size_t plen = 0;
	cairn_status st = cairn_chat_format(l->tmpl, m, n, 1, &prompt, &plen, eb, sizeof eb);
	if (st)
		return cn_err_set(err, st, "local model %s: %s", name_of(l->model), eb);
	l->last.prompt = cn_strndup(prompt, plen);
	cairn_generate_params gp = l->gp;
	gp.on_token = on_token;
	gp.user_data = l;
	cairn_generation g;
	st = cairn_generate(l->gen, prompt, &gp, &g);
	cairn_free(prompt);
	if (!l->last.prompt) {
		if (!st)
			cairn_generation_free(&g);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	if (st) {
		const char *why = cairn_generator_errmsg(l->gen);
		if (st == CAIRN_ETOOBIG)
			return cn_err_set(err, st,
			                  "local model %s: the prompt does not fit its context (%s); ask with fewer passages "
			                  "(-k, --context-tokens) or use a model with a longer context",
			                  name_of(l->model), why);
		return cn_err_set(err, st, "local model %s: %s", name_of(l->model), why);
	}
	l->last.n_prompt_tokens = g.n_prompt_tokens;
	l->last.n_cached_tokens = g.n_cached_tokens;
	l->last.n_tokens = g.n_tokens;
	l->last.prompt_ms = g.prompt_ms;
	l->last.generate_ms = g.generate_ms;
	l->last.stop = stop_name(g.stop);
	*content = cn_strndup(g.text ? g.text : "", g.len);
	cairn_generation_free(&g);
	return *content ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
}
