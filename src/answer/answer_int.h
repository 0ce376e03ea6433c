/*
 * The answer object's layout, private to the answer module: ask.c (the pipeline, the
 * extractive answerer, JSON and --explain) and ask_gen.c (the generative answerer) both fill
 * it. Everything it points to lives in its arena, in the search results it keeps, or — for a
 * generative answer — in the generator run's arena; cairn_answer_free releases all three.
 */
#ifndef CAIRN_ANSWER_INT_H
#define CAIRN_ANSWER_INT_H

#include "answer/answer.h"

typedef struct qterm {
	const char *term;
	uint32_t len;
	int64_t df;
	double idf;
} qterm;

typedef struct ctx_chunk {
	const cairn_hit *hit;
	size_t limit;       /* bytes of the text in the context (0 = not in it) */
	int tokens;         /* estimated tokens of the whole chunk */
	bool in_context;
	bool quarantined;        /* flagged by the injection guard and kept out of the context */
	double inj_score;
	uint32_t inj_reasons;
	bool truncated;
	uint64_t mask;      /* question terms anywhere in the context part, title and heading */
} ctx_chunk;

typedef struct cand {
	uint32_t chunk;     /* index into ctx */
	uint32_t start, end;/* sentence in the chunk text */
	uint32_t words;
	uint64_t mask, ctx_mask;
	double cov, ctx, big, retr, pen, typeb, score;
	bool has_span;
	uint32_t sp_start, sp_end;
} cand;

/* ---- the generative answerer's record (ask_gen.c), for --explain ---- */

typedef struct gen_call {   /* one model reply: what the transport saw */
	long http_status;
	int requests;           /* HTTP attempts, retries included */
	bool schema_dropped;    /* response_format rejected and left out */
	const char *finish_reason;
	double seconds;
	/* a local model's call (local_gen.c) */
	const char *prompt;     /* the conversation as the chat template formatted it */
	int prompt_tokens, cached_tokens, tokens;
	double prompt_seconds;  /* seconds is the generation's */
	const char *stop;
} gen_call;

typedef struct gen_sentence { /* a sentence of the chosen reply, before the policy */
	const char *text;
	const int *passages;    /* passage ids it cites that exist */
	size_t n_passages;
	const char *problems;   /* validation's, or NULL */
	cn_verdict verdict;
	bool kept;
} gen_sentence;

typedef struct gen_info {
	const char *endpoint;   /* shown form (no user:password); NULL for a local model */
	/* a local model (local_gen.c) instead of an endpoint */
	const char *local_model, *local_tokenizer;
	const char *chat_template; /* the template's name */
	bool lent_generator;    /* the caller's open generator was used */
	const char *schema;     /* the JSON Schema decoding was constrained by (once called) */
	int threads;
	const char *model;
	const char *api_key_env;/* the variable's name; the key itself is never stored */
	double temperature;
	int max_tokens;
	int timeout_ms;
	bool strict;
	bool called;            /* the model was asked (false: no passage in the context) */
	cn_gen_run run;
	gen_call calls[CN_GEN_MAX_ATTEMPTS];
	int n_calls;
	double model_confidence;
	gen_sentence *sents;
	size_t n_sents;
	size_t np;              /* passages in the prompt */
	size_t *passage_ctx;    /* passage id − 1 → index into ctx */
	size_t pseudonymised;   /* personal-data values sent to the endpoint as placeholders */
} gen_info;

struct cairn_answer {
	cn_arena arena;
	cairn_results *res;
	cairn_answer_view view;
	cairn_answer_sentence *sents;
	cairn_citation *cites;
	/* explain */
	cn_qtype qtype;
	qterm *qt;
	size_t nq;
	const char *query;
	ctx_chunk *ctx;
	size_t nctx;
	int budget, used_tokens;
	/* The prompt's budget by class (generative answers): what the rules and instructions,
	 * the conversation and the question take leaves the evidence its share (budget). */
	struct {
		int total, rules, conversation, question, per_passage;
		bool model_tokens;          /* counted with the local model's own tokenizer */
	} split;
	cairn_tokenizer *tok;           /* the local model's tokenizer, for the budget; owned */
	cand *top;
	size_t ntop;
	const char **top_text, **top_span;
	const char *raw_answer;
	const char *abstain_reason;
	const char *refuse_reason; /* set when an injection policy refuses the request */
	bool dlp;                  /* redact_output: everything handed out is masked */
	cn_verdict *verdicts;
	bool *cite_in_context, *cite_quote_ok;
	double feat[CN_ANS_NFEAT];
	double min_confidence;
	gen_info *gen;          /* NULL for an extractive answer */
};

/* ---- ask.c, for ask_gen.c ---- */

char *cn_ans_strndup(cairn_answer *a, const char *s, size_t n);
/* Turns a into an abstention: message (NULL = "The documents do not say: …") and the closest
 * passages, the first sentences of c[0..nc) from distinct chunks. */
cairn_status cn_ans_abstain(cairn_answer *a, const char *question, const char *reason, const char *message, cand *c,
                            size_t nc);
/* For each citation of the view: is its chunk in the context, and is its quote that chunk's
 * text at quote_offset (fills a->cite_in_context, a->cite_quote_ok). */
void cn_ans_check_citations(cairn_answer *a);

/* ---- ask_gen.c ---- */

/* True when p asks for a generative answer (an endpoint or a local model). */
bool cn_ans_gen_wanted(const cairn_ask_params *p);
/* Checks the generative settings (endpoint URL and API key variable, or the local model and
 * its chat template) before any work and records them in a->gen (whose presence makes the
 * answer generative). */
cairn_status cn_ans_gen_setup(cairn_answer *a, const cairn_ask_params *p, cn_err *err);
/* Stages 3–6 of a generative answer, after retrieval: prompt, model, validation, citations,
 * verification, policy. c[0..nc) are the extractive candidates (for an abstention's closest
 * passages). Transport failures are errors (err names the endpoint). */
cairn_status cn_ans_generative(cairn_answer *a, cn_analyzer *an, cand *c, size_t nc, const cairn_ask_params *p,
                               const char *question, cn_err *err);
void cn_ans_gen_explain_text(cn_buf *b, const cairn_answer *a);
void cn_ans_gen_explain_json(cn_buf *b, const cairn_answer *a);

#endif
