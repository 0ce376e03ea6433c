/*
 * answer — grounded answers: the extractive answerer behind cairn_ask, its verifier, and the
 * answer evaluation (cairn_eval_answers).
 *
 * The module sees the engine only through include/cairn.h (cairn_search with chunk texts,
 * cairn_kb_doc_freqs for idf, cairn_kb_analyzer to analyse text exactly as the index does),
 * plus base, text (sentence segmentation) and lex (the analyzer). Files:
 *  - qtype.c: question types and answer-span candidates (numbers with units, dates,
 *    percentages, capitalised names, "X is Y" clauses) — pure functions on text.
 *  - verify.c: the verifier: is a sentence found in (or lexically and numerically aligned
 *    with) the passage it cites.
 *  - ask.c: cairn_ask — retrieval, context, sentence scoring, selection, confidence,
 *    abstention; the answer object and its JSON.
 *  - squad.c: SQuAD v1.1 answer normalisation, exact match and token F1.
 *  - eval_answers.c: cairn_eval_answers over SQuAD-format and SciFact data.
 *  - generate.c: the generative answerer's model-facing half — the prompt (rules, fenced
 *    passages), the output schema, validation and repair of what the model returns, one
 *    retry with the validation errors; pure functions plus a transport callback, so it is
 *    tested without a network.
 *  - ask_gen.c: cairn_ask with an endpoint or a local model — the passages from the context,
 *    the transport (src/remote, or local_gen.c), the model's sentences turned into
 *    citations, the verifier on generated sentences and the strict/lenient policy, the
 *    generative --explain.
 *  - local_gen.c: the other transport — the messages through the model's chat template into
 *    cairn's own decoder (cairn_generate, public API), decoding constrained by the answer
 *    schema so every reply is well-formed JSON; validation and verification are unchanged.
 *  - answer_int.h: the answer object's layout, shared by ask.c and ask_gen.c only.
 */
#ifndef CAIRN_ANSWER_H
#define CAIRN_ANSWER_H

#include "base/base.h"
#include "lex/lex.h"
#include "remote/remote.h"

/* ---- question types and spans (qtype.c) ---- */

typedef enum cn_qtype {
	CN_QT_SENTENCE = 0, /* no short answer expected: sentences */
	CN_QT_NUMBER,       /* how many …: a count, with the counted noun when it follows */
	CN_QT_QUANTITY,     /* how much/large, what is the size/rate…: number with unit */
	CN_QT_DURATION,     /* how long, what is the (incubation) period/duration: number + time unit */
	CN_QT_PERCENT,      /* what percentage/proportion */
	CN_QT_DATE,         /* when, what year */
	CN_QT_PERSON,       /* who */
	CN_QT_PLACE,        /* where */
	CN_QT_DEFINITION,   /* what is X: the clause after "X is" */
	CN_QT_COUNT_
} cn_qtype;

const char *cn_qtype_name(cn_qtype t);

/* The question's type from its wording (English). */
cn_qtype cn_question_type(const char *q, size_t n);

/* True for words that shape a question but carry no topic ("what", "how", "does", "many",
 * …): left out of the terms sentences are matched on. w is lowercase ASCII. */
bool cn_question_word(const char *w, size_t n);
/* Words that, right after "how", ask for a quantity ("how long", "how old"): the question's
 * type, not its topic. */
bool cn_question_word_after_how(const char *w, size_t n);

/* A candidate span [start, end) in a sentence, of a type. */
typedef struct cn_anspan {
	uint32_t start, end;
	cn_qtype type;
} cn_anspan;

/* Finds candidate answer spans of type t in s[0..n) (at most max; returns how many were
 * written). protect[i] (may be NULL) marks bytes covered by question terms: a candidate
 * may not lie inside them. For CN_QT_DEFINITION the candidate is the clause after the
 * first copula ("is", "are", "refers to", …) that follows a protected byte. */
size_t cn_find_spans(const char *s, size_t n, cn_qtype t, const uint8_t *protect, cn_anspan *out, size_t max);

/* ---- verification (verify.c) ---- */

typedef struct cn_verdict {
	bool found;        /* the text occurs in the passage (whitespace-insensitive) */
	double lexical;    /* fraction of the text's word tokens present in the passage */
	bool numbers_ok;   /* every number in the text occurs in the passage */
	bool supported;    /* found, or lexical >= 0.8 with numbers_ok */
	bool model_scored; /* a verification model (cross-encoder) also judged it */
	double model_score;/* its probability that the cited passages support the text */
} cn_verdict;

void cn_verify_text(const char *text, size_t tlen, const char *passage, size_t plen, cn_verdict *out);

/* A generated sentence (a paraphrase, not a quotation) against the passages it cites, taken
 * together: found = it occurs in one of them (whitespace-insensitive); lexical = the share of
 * its distinct terms — analysed by an (the knowledge base's analyzer: stems, stopwords out),
 * or lower-cased words when an is NULL, words that only attribute ("according", "passage",
 * "document", …) left out — that occur in them; numbers_ok = each of its numbers occurs in
 * one of them. supported = numbers_ok and (found or lexical >= 0.8); false with no passage. */
cairn_status cn_verify_generated(cn_analyzer *an, const char *text, size_t tlen, const char *const *passages,
                                 const size_t *plens, size_t np, cn_verdict *out);

/* ---- internal views of an answer (ask.c), for the evaluation ---- */

#define CN_ANS_NFEAT 6
/* The confidence features: coverage, context coverage, chunk coverage, margin, span,
 * missing idf (see ask.c). */
void cn_answer_features(const cairn_answer *a, double *f);
size_t cn_answer_context_count(const cairn_answer *a);
/* The i-th retrieved chunk's text as far as it entered the context (NULL when it did not). */
const char *cn_answer_context_text(const cairn_answer *a, size_t i, size_t *len, const char **doc_id);

/* ---- generative answers: prompt, validation, repair (generate.c) ---- */

/* A passage as the model sees it; ids are 1-based positions in the array. */
typedef struct cn_gen_passage {
	const char *text;
	size_t len;
	const char *title, *heading, *source; /* may be NULL */
} cn_gen_passage;

typedef struct cn_gen_quote {
	int passage;             /* 1-based id of the cited passage the quote was found in */
	size_t start, end;       /* its bytes in that passage's text (raw, not normalised) */
} cn_gen_quote;

typedef struct cn_gen_sentence {
	const char *text;        /* trimmed */
	const int *citations;    /* the ids it cites that exist, distinct, in the model's order */
	size_t n_citations;
	size_t n_given;          /* ids the model gave, existing or not */
	const cn_gen_quote *quotes; /* quotes located in a cited passage */
	size_t n_quotes;
	const char *problems;    /* NULL, or what is wrong with it ("no citation; …") */
} cn_gen_sentence;

typedef struct cn_gen_output {
	bool parsed;             /* JSON with the schema's shape (after repairs) */
	bool abstain;
	double confidence;       /* the model's, in [0, 1] */
	const cn_gen_sentence *sentences;
	size_t n_sentences;
	size_t n_problems;       /* sentence-level problems; valid = parsed && !n_problems */
	const char *errors;      /* the validation verdict, "" when valid */
	const char *repairs;     /* what was repaired before parsing, "" when nothing */
} cn_gen_output;

/* The JSON Schema of the model's reply (sent as response_format). */
const char *cn_gen_schema(void);

/* The prompt: *system holds the rules and the reply format, *user the passages, each between
 * BEGIN and END lines carrying its id and a fence code that occurs nowhere in the passages or
 * the question (so no document can close its own fence), then the question. In ar. */
cairn_status cn_gen_prompt(cn_arena *ar, const char *question, const cn_gen_passage *ps, size_t np,
                           int max_sentences, const char **system, const char **user);
/* The same with the conversation so far (NULL or "" = none), fenced as context, never evidence. */
cairn_status cn_gen_prompt_h(cn_arena *ar, const char *question, const char *history, const cn_gen_passage *ps,
                             size_t np, int max_sentences, const char **system, const char **user);

/* Validates one raw reply against the schema and the passages; repairs what is obviously
 * wrapping (code fences, text around the JSON object, surrounding quotation marks or "…" on
 * a quote, more sentences than max_sentences). Everything lives in ar. Fails only with
 * CAIRN_ENOMEM: an invalid reply is a verdict in out, not an error. */
cairn_status cn_gen_validate(cn_arena *ar, const char *raw, size_t n, const cn_gen_passage *ps, size_t np,
                             int max_sentences, cn_gen_output *out);

/* How a reply reaches the generator: send the messages, return the model's content (cn_malloc'd,
 * ownership passes to the caller) or fail with err filled. */
typedef cairn_status (*cn_gen_send_fn)(void *ud, const cn_chat_msg *msgs, size_t n, char **content, cn_err *err);

#define CN_GEN_MAX_ATTEMPTS 2

typedef struct cn_gen_attempt {
	const char *raw;         /* the model's reply, verbatim */
	cn_gen_output out;
} cn_gen_attempt;

typedef struct cn_gen_run {
	cn_arena arena;          /* everything below */
	const char *system, *user;
	const char *retry_message; /* the message that asked for the second attempt (NULL if none) */
	cn_gen_attempt attempts[CN_GEN_MAX_ATTEMPTS];
	int n_attempts;
	int chosen;              /* the attempt whose output counts (-1 before any) */
} cn_gen_run;

/* Prompt, send, validate; when the reply is invalid, send once more with the reply and the
 * validation errors appended. The chosen attempt is the valid one, else the one with the
 * fewest problems that parsed (the later on a tie), else the last. A transport failure is an
 * error (err filled); invalid replies are not. run is initialised here; free it with
 * cn_gen_run_free even on error. */
cairn_status cn_generate(cn_gen_run *run, const char *question, const cn_gen_passage *ps, size_t np,
                         int max_sentences, cn_gen_send_fn send, void *ud, cn_err *err);
cairn_status cn_generate_h(cn_gen_run *run, const char *question, const char *history, const cn_gen_passage *ps,
                           size_t np, int max_sentences, cn_gen_send_fn send, void *ud, cn_err *err);
void cn_gen_run_free(cn_gen_run *run);

/* ---- the local transport: a chat template and cairn's decoder (local_gen.c) ---- */

typedef struct cn_local_params {
	const char *model;          /* GGUF, or a llama2.c checkpoint with tokenizer */
	const char *tokenizer;      /* NULL = the model file's own vocabulary */
	const char *chat_template;  /* a template name; NULL = the model's tokenizer.chat_template */
	cairn_generator *generator; /* an open generator of model to use (borrowed); NULL = open one */
	int n_threads;              /* when opening: 0 = one per online CPU */
	double temperature;         /* 0 = greedy */
	int max_tokens;             /* per reply (default 512) */
	uint64_t seed;              /* 0 = a fixed seed */
	int n_passages;             /* passages in the prompt: citation ids are 1..n_passages */
	int max_sentences;
} cn_local_params;

cn_local_params cn_local_default_params(void);

typedef struct cn_local_call {  /* what the last cn_local_send saw */
	char *prompt;               /* the conversation as the template formatted it (cn_malloc'd) */
	int n_prompt_tokens, n_cached_tokens, n_tokens;
	double prompt_ms, generate_ms;
	const char *stop;           /* why generation ended, static text */
} cn_local_call;

typedef struct cn_local {
	const char *model;          /* borrowed from the params */
	cairn_generator *gen;
	bool owns_gen;
	cairn_chat_template *tmpl;
	int32_t stop_token;
	cn_buf schema;              /* the JSON Schema decoding is constrained by */
	cairn_generate_params gp;
	cn_local_call last;
} cn_local;

/* The answer schema as the local sampler enforces it: cn_gen_schema's shape with citation
 * ids in 1..n_passages, at least one citation and quote per sentence, at most max_sentences
 * sentences, capped strings, and the confidence an enum of eighths (bounds on a number are
 * outside the sampler's subset). Appends to out. */
cairn_status cn_local_schema(int n_passages, int max_sentences, cn_buf *out);
/* Opens the template (and the generator, unless one is lent); err names the model file. */
cairn_status cn_local_open(cn_local *l, const cn_local_params *p, cn_err *err);
void cn_local_close(cn_local *l);
const char *cn_local_template_name(const cn_local *l);
/* A cn_gen_send_fn (ud = cn_local *): formats msgs with the template, generates under the
 * schema, returns the text; the call is recorded in l->last. */
cairn_status cn_local_send(void *ud, const cn_chat_msg *msgs, size_t n, char **content, cn_err *err);

/* ---- pseudonyms for prompts that leave the machine (pseudonym.c) ---- */

typedef struct cn_pseudo {
	cn_strmap values;   /* original value → id */
	cn_strmap labels;   /* "[TYPE_n]" → id */
	uint32_t *label_of; /* value id → label id */
	uint32_t *value_of; /* label id → value id */
	size_t cap;
	size_t replaced;    /* distinct values replaced */
} cn_pseudo;

void cn_pseudo_init(cn_pseudo *p);
void cn_pseudo_free(cn_pseudo *p);
/* Appends text to out with each personal-data finding replaced by its placeholder (the same
 * value always by the same one). */
cairn_status cn_pseudo_apply(cn_pseudo *p, const char *text, size_t len, cn_buf *out, cn_err *err);
/* Appends text to out with every placeholder p made replaced by its value. */
cairn_status cn_pseudo_restore(const cn_pseudo *p, const char *text, size_t len, cn_buf *out, cn_err *err);

/* ---- SQuAD v1.1 metrics (squad.c) ---- */

/* The official normalize_answer: lower-case, drop ASCII punctuation, drop the words
 * a/an/the, collapse whitespace. Appends to out. */
void cn_squad_normalize(cn_buf *out, const char *s, size_t n);
double cn_squad_exact(const char *pred, const char *gold);
double cn_squad_f1(const char *pred, const char *gold);

#endif
