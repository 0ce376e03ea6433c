/*
 * cairn_ask with the extractive answerer: the answer is made of sentences (or, for short
 * factual questions, a span of one sentence) taken verbatim from the retrieved passages, so
 * every word of it can be checked against its citation.
 *
 * Stages, each recorded for --explain:
 *  1. Question. Analysed with the knowledge base's own analyzer (same tokens, stems and
 *     stopwords as the index), minus question words ("what", "how many", …); the idf of each
 *     term comes from the index (cairn_kb_doc_freqs), so rare words weigh more. The retrieval
 *     query is the question's content words.
 *  2. Retrieval and context. BM25 top-k chunks with their text; chunks enter the context in
 *     rank order while the token budget lasts (the first one is cut at a sentence boundary if
 *     it alone is too long). Only sentences of the context can be cited.
 *  3. Sentence scoring. score = idf-weighted coverage of the question's terms by the sentence
 *     + 0.3 × coverage by its neighbours and its chunk's title/heading (terms the sentence
 *     leaves to context, e.g. a subject named in the previous sentence) + 0.25 × the share of
 *     the question's adjacent term pairs found adjacent in the sentence + 0.1 × the chunk's
 *     retrieval score relative to the best + an answer-type bonus (0.2) when a factoid
 *     question's expected kind of span (number, date, name…) occurs in the sentence outside
 *     the question's own words − penalties for fragments (< 5 words) and sentences that only
 *     repeat the question. Coverage dominates by design: an answer sentence shares the
 *     question's rare words; the other terms break ties. Near-duplicate sentences (the
 *     chunker's overlap repeats text) are scored once.
 *  4. Selection. Factoid question with a span found: the span, citing its sentence. Otherwise
 *     the best sentence plus up to max_sentences − 1 others scoring within 85% of it that are
 *     not near-duplicates, ordered by document and position.
 *  5. Confidence. A logistic function of features of the evidence (coverage by the best
 *     sentence and its chunk, margin to the runner-up, span found, share of the question's
 *     idf absent from the whole index), fitted on a held-out split (docs/answers.md shows the
 *     fit and the reliability table). Below min_confidence the answer is an abstention that
 *     cites the closest passages.
 *  6. Verification (verify.c) of every sentence against its citation, and of every citation
 *     against the context (the quote must be the passage's text at the recorded offset).
 *
 * With an endpoint (generative mode) stages 1–3 run as above and ask_gen.c takes over from
 * there: the model writes the answer from the context's passages, and the same citation check
 * plus the generated-sentence verifier decide what is shown. The candidates of stage 3 still
 * serve as an abstention's closest passages. The answer object's layout is in answer_int.h.
 */
#include "answer/answer_int.h"
#include "lex/lex.h"
#include "text/text.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QTERMS 64
#define MAX_K 1000
#define MAX_QUESTION_BYTES 4096
#define EXPLAIN_CANDIDATES 8

/* Scoring weights (stage 3); their rationale is in the comment at the top. */
#define W_CONTEXT 0.3
#define W_BIGRAM 0.25
#define W_RETRIEVAL 0.1
#define W_TYPE 0.2
#define SELECT_RATIO 0.85  /* extra sentences must score within 15% of the best */
#define DUP_JACCARD 0.6    /* term-set overlap above which two sentences say the same */

cairn_ask_params cairn_ask_default_params(void)
{
	cairn_ask_params p = {
		.k = 8,
		.context_tokens = 3000,
		.max_sentences = 3,
		.min_confidence = 0.2,
		.strict = 1,
		.spans = 1,
		.redact_remote = 1,
		.injection_question = CAIRN_INJECTION_POLICY_FLAG,
		.injection_documents = CAIRN_INJECTION_POLICY_QUARANTINE,
		.verify_threshold = 0.5,
		.retrieval = -1,
		.temperature = 0.0,
		.max_tokens = 1024,
		.timeout_ms = 60000,
	};
	return p;
}

static double idf_of(int64_t df, int64_t n)
{
	double N = (double)(n > 0 ? n : 0), d = (double)(df > 0 ? df : 0);
	if (d > N)
		d = N;
	return log(1.0 + (N - d + 0.5) / (d + 0.5));
}

static int estimate_tokens(const char *s, size_t n)
{
	size_t w = cn_count_words(s, n);
	size_t t = (w * 4 + 2) / 3;
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

/* Tokens of s[0..n) as the answer's budget counts them: the local model's own tokenizer
 * when there is one, else the estimate. */
static int count_tokens(const cairn_answer *a, const char *s, size_t n)
{
	if (a->tok) {
		int64_t t = cairn_tokenizer_count(a->tok, s, n, 0);
		if (t >= 0)
			return t > INT32_MAX ? INT32_MAX : (int)t;
	}
	return estimate_tokens(s, n);
}

/* The generative prompt's budget split by class: context_tokens covers the whole prompt —
 * the rules and task instructions (measured on the real prompt scaffolding), the
 * conversation, the question, and the passages with their fence and metadata lines; the
 * evidence gets what is left (at least 64 tokens: a budget smaller than the fixed parts
 * still admits one passage's first sentences). */
static cairn_status split_budget(cairn_answer *a, const cairn_ask_params *p, const char *question, size_t qlen)
{
	a->split.total = p->context_tokens;
	if (!a->gen) {
		a->budget = p->context_tokens;
		return CAIRN_OK;
	}
	if (a->gen->local_model && !a->tok) {
		cairn_tokenizer_params tp = cairn_tokenizer_default_params();
		const char *path = a->gen->local_tokenizer ? a->gen->local_tokenizer : a->gen->local_model;
		if (cairn_tokenizer_open(path, &tp, &a->tok, NULL, 0) != CAIRN_OK)
			a->tok = NULL; /* the estimate will do; generation reports a real error later */
	}
	a->split.model_tokens = a->tok != NULL;
	cn_arena ar;
	cn_arena_init(&ar, 8192);
	const char *sys = NULL, *user = NULL;
	cn_gen_passage one = {"", 0, "Title", "Section", "source"};
	cairn_status st = cn_gen_prompt_h(&ar, "", NULL, NULL, 0, p->max_sentences, &sys, &user);
	if (!st) {
		a->split.rules = count_tokens(a, sys, strlen(sys)) + count_tokens(a, user, strlen(user));
		const char *sys1, *user1;
		st = cn_gen_prompt_h(&ar, "", NULL, &one, 1, p->max_sentences, &sys1, &user1);
		if (!st)
			a->split.per_passage = CN_MAX(0, count_tokens(a, user1, strlen(user1)) - count_tokens(a, user, strlen(user)));
	}
	cn_arena_free(&ar);
	if (st)
		return st;
	a->split.conversation = p->history ? count_tokens(a, p->history, strlen(p->history)) : 0;
	a->split.question = count_tokens(a, question, qlen);
	int rest = a->split.total - a->split.rules - a->split.conversation - a->split.question;
	a->budget = rest < 64 ? 64 : rest;
	return CAIRN_OK;
}

static double mask_idf(const qterm *qt, size_t nq, uint64_t m)
{
	double s = 0;
	for (size_t i = 0; i < nq; i++)
		if (m & (1ull << i))
			s += qt[i].idf;
	return s;
}

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	if (x->chunk != y->chunk)
		return x->chunk < y->chunk ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int popcount64(uint64_t x) { return __builtin_popcountll(x); }

static double jaccard(uint64_t a, uint64_t b)
{
	int u = popcount64(a | b);
	return u ? (double)popcount64(a & b) / u : 1.0;
}

/* ---- confidence ---- */

/* Logistic model over the evidence features, fitted by scripts/calibrate_answers.py on the
 * even-numbered COVID-QA papers (answerable questions and the same questions with their
 * paper removed; label: the gold answer lies inside a cited sentence). See docs/answers.md. */
static const double conf_w[CN_ANS_NFEAT + 1] = {
	-4.923, /* bias */
	1.982,  /* coverage of the question's idf by the best sentence */
	1.533,  /* coverage left to its neighbours/heading */
	1.703,  /* coverage by the best sentence's chunk */
	5.407,  /* margin of the best score over the runner-up */
	-0.223, /* factoid: span found (+1) / not found (−1); 0 otherwise */
	-2.0,   /* share of the question's idf in words no document has: a prior, not fitted
	           (the filtered-out paper still counts in idf, so the data cannot show it) */
};

static double confidence_of(const double *f)
{
	double z = conf_w[0];
	for (int i = 0; i < CN_ANS_NFEAT; i++)
		z += conf_w[i + 1] * f[i];
	return 1.0 / (1.0 + exp(-z));
}

/* ---- the answer object ---- */

const cairn_answer_view *cairn_answer_get(const cairn_answer *a) { return a ? &a->view : NULL; }

void cairn_answer_free(cairn_answer *a)
{
	if (!a)
		return;
	cairn_results_free(a->res);
	if (a->gen)
		cn_gen_run_free(&a->gen->run);
	cairn_tokenizer_close(a->tok);
	cn_arena_free(&a->arena);
	cn_free(a);
}

size_t cn_answer_context_count(const cairn_answer *a) { return a ? a->nctx : 0; }

const char *cn_answer_context_text(const cairn_answer *a, size_t i, size_t *len, const char **doc_id)
{
	if (!a || i >= a->nctx || !a->ctx[i].in_context) {
		*len = 0;
		return NULL;
	}
	*len = a->ctx[i].limit;
	if (doc_id)
		*doc_id = a->ctx[i].hit->doc_id;
	return a->ctx[i].hit->text;
}

void cn_answer_features(const cairn_answer *a, double *f)
{
	for (int i = 0; i < CN_ANS_NFEAT; i++)
		f[i] = a ? a->feat[i] : 0;
}

static char *astrndup(cairn_answer *a, const char *s, size_t n) { return cn_arena_strndup(&a->arena, s ? s : "", s ? n : 0); }

char *cn_ans_strndup(cairn_answer *a, const char *s, size_t n) { return astrndup(a, s, n); }

/* Whitespace-collapsed copy of s[0..n) in the arena. */
static char *acollapse(cairn_answer *a, const char *s, size_t n)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_ws_collapse(&b, s, n);
	char *r = b.failed ? NULL : astrndup(a, b.data ? b.data : "", b.len);
	cn_buf_free(&b);
	return r;
}

/* ---- the pipeline ---- */

typedef struct work {
	cn_analyzer *an;
	cn_tokens qtok, ctok, htok;
	cn_strmap qmap;
	uint64_t pairs[MAX_QTERMS];
	double total_idf, pair_total;
	cand *c;
	size_t nc, cc;
	cn_strmap seen;
	cn_span *sent;
	char qnorm[256]; /* the question, lower-cased, without its final '?' (for quotations) */
	size_t qnorm_len;
} work;

static void work_free(work *w)
{
	cn_analyzer_free(w->an);
	cn_tokens_free(&w->qtok);
	cn_tokens_free(&w->ctok);
	cn_tokens_free(&w->htok);
	cn_strmap_free(&w->qmap);
	cn_strmap_free(&w->seen);
	cn_free(w->c);
	cn_free(w->sent);
}

static int32_t qindex(const work *w, const cn_tokens *t, size_t i)
{
	uint32_t id = cn_strmap_get(&w->qmap, cn_token_term(t, i), t->v[i].term_len);
	return id == UINT32_MAX ? -1 : (int32_t)id;
}

/* Stage 1: question terms, their idf and adjacent pairs; the retrieval query. */
static cairn_status analyse_question(cairn_kb *kb, cairn_answer *a, work *w, const char *q, size_t qlen)
{
	cairn_status st = cn_analyze(w->an, q, qlen, 0, &w->qtok);
	if (st)
		return st;
	a->qt = cn_arena_alloc(&a->arena, MAX_QTERMS * sizeof *a->qt);
	const char **terms = cn_arena_alloc(&a->arena, MAX_QTERMS * sizeof *terms);
	int64_t *df = cn_arena_alloc(&a->arena, MAX_QTERMS * sizeof *df);
	if (!a->qt || !terms || !df)
		return CAIRN_ENOMEM;
	cn_buf query;
	cn_buf_init(&query);
	int32_t prev = -1;
	uint32_t prev_pos = 0;
	for (size_t i = 0; i < w->qtok.n; i++) {
		const cn_token *t = &w->qtok.v[i];
		char lw[24];
		size_t n = t->end - t->start;
		bool qword = false;
		if (n < sizeof lw) {
			size_t m = 0;
			for (size_t j = 0; j < n; j++)
				if (q[t->start + j] != '\'')
					lw[m++] = (char)tolower((unsigned char)q[t->start + j]);
			qword = cn_question_word(lw, m);
			/* "how long", "how old": the type, not the topic */
			size_t b = t->start;
			while (b > 0 && (q[b - 1] == ' ' || q[b - 1] == '\t'))
				b--;
			if (!qword && b >= 3 && (b == 3 || !isalnum((unsigned char)q[b - 4])) &&
			    tolower((unsigned char)q[b - 3]) == 'h' && tolower((unsigned char)q[b - 2]) == 'o' &&
			    tolower((unsigned char)q[b - 1]) == 'w')
				qword = cn_question_word_after_how(lw, m);
		}
		if (qword)
			continue;
		uint32_t id;
		bool added;
		if (a->nq >= MAX_QTERMS && cn_strmap_get(&w->qmap, cn_token_term(&w->qtok, i), t->term_len) == UINT32_MAX)
			continue;
		if (cn_strmap_put(&w->qmap, cn_token_term(&w->qtok, i), t->term_len, &id, &added)) {
			cn_buf_free(&query);
			return CAIRN_ENOMEM;
		}
		if (added) {
			a->qt[a->nq].term = astrndup(a, cn_strmap_key(&w->qmap, id), t->term_len);
			if (!a->qt[a->nq].term) {
				cn_buf_free(&query);
				return CAIRN_ENOMEM;
			}
			a->qt[a->nq].len = t->term_len;
			terms[a->nq] = a->qt[a->nq].term;
			a->nq++;
		}
		if (query.len)
			cn_buf_putc(&query, ' ');
		cn_buf_append(&query, q + t->start, n);
		if (prev >= 0 && (int32_t)id != prev && t->pos - prev_pos <= 2)
			w->pairs[prev] |= 1ull << id;
		prev = (int32_t)id;
		prev_pos = t->pos;
	}
	a->query = query.failed ? NULL : astrndup(a, query.data ? query.data : "", query.len);
	cn_buf_free(&query);
	if (!a->query)
		return CAIRN_ENOMEM;
	if (!a->nq)
		return CAIRN_OK;
	int64_t n_chunks = 0;
	st = cairn_kb_doc_freqs(kb, terms, a->nq, df, &n_chunks);
	if (st)
		return st;
	for (size_t i = 0; i < a->nq; i++) {
		a->qt[i].df = df[i];
		a->qt[i].idf = idf_of(df[i], n_chunks);
		w->total_idf += a->qt[i].idf;
	}
	for (size_t i = 0; i < a->nq; i++)
		for (size_t j = 0; j < a->nq; j++)
			if (w->pairs[i] & (1ull << j))
				w->pair_total += (a->qt[i].idf + a->qt[j].idf) / 2;
	return CAIRN_OK;
}

/* Stage 2: retrieval and the context under the token budget. */
static cairn_status build_context(cairn_kb *kb, cairn_answer *a, const cairn_ask_params *p)
{
	cairn_search_params sp = cairn_search_default_params();
	sp.k = p->k;
	sp.filter = p->filter;
	sp.groups = p->groups;
	sp.n_groups = p->n_groups;
	sp.snippets = 0;
	sp.with_text = 1;
	/* Paraphrased questions are where vectors help most: use them when the KB has them.
	 * The answerer's retrieval feature is a score relative to the best candidate, so it
	 * reads BM25 and fused scores alike. */
	sp.mode = p->retrieval >= 0 ? (cairn_search_mode)p->retrieval
	          : cairn_kb_has_embeddings(kb) ? CAIRN_SEARCH_HYBRID : CAIRN_SEARCH_BM25;
	sp.rerank_model = p->rerank_model;
	sp.skip_audit = 1; /* cairn_ask records the whole question (audit_ask) */
	cairn_status st = cairn_search(kb, a->query, &sp, &a->res);
	if (st)
		return st;
	size_t n = cairn_results_count(a->res);
	a->ctx = n ? cn_arena_alloc(&a->arena, n * sizeof *a->ctx) : NULL;
	if (n && !a->ctx)
		return CAIRN_ENOMEM;
	a->nctx = n;
	size_t nq = 0;
	for (size_t i = 0; i < n; i++) {
		ctx_chunk *c = &a->ctx[i];
		memset(c, 0, sizeof *c);
		c->hit = cairn_results_get(a->res, i);
		if (!c->hit->text)
			continue;
		if (p->injection_documents >= 0) {
			/* Indirect injection: a flagged chunk never reaches the context (quarantine), or
			 * the whole request is refused; it takes none of the budget either way. */
			cairn_injection_result r;
			if (cairn_injection_scan(c->hit->text, c->hit->text_len, CAIRN_INJECTION_DOCUMENT, &r, NULL, 0))
				return CAIRN_ENOMEM;
			c->inj_score = r.score;
			c->inj_reasons = r.reasons;
			cairn_injection_action act = cairn_injection_decide((cairn_injection_policy)p->injection_documents, &r);
			if (act == CAIRN_INJECTION_REFUSED)
				a->refuse_reason = "a retrieved passage looks like a prompt-injection attempt";
			if (act == CAIRN_INJECTION_QUARANTINED || act == CAIRN_INJECTION_REFUSED) {
				c->quarantined = true;
				nq++;
				continue;
			}
		}
		c->tokens = count_tokens(a, c->hit->text, c->hit->text_len) + a->split.per_passage;
		if (a->used_tokens + c->tokens <= a->budget) {
			c->in_context = true;
			c->limit = c->hit->text_len;
			a->used_tokens += c->tokens;
		} else if (a->used_tokens == 0) {
			/* The best chunk alone is over the budget: keep its first sentences that fit. */
			cn_span *s = NULL;
			size_t ns = 0;
			if (cn_sentences_all(c->hit->text, c->hit->text_len, &s, &ns))
				return CAIRN_ENOMEM;
			size_t lim = 0;
			int used = 0;
			for (size_t j = 0; j < ns; j++) {
				int t = count_tokens(a, c->hit->text + s[j].start, s[j].end - s[j].start);
				if (used + t > a->budget)
					break;
				used += t;
				lim = s[j].end;
			}
			cn_free(s);
			if (lim) {
				c->in_context = true;
				c->truncated = true;
				c->limit = lim;
				a->used_tokens += used;
			}
		}
	}
	if (nq) {
		int64_t *ids = cn_arena_alloc(&a->arena, nq * sizeof *ids);
		if (!ids)
			return CAIRN_ENOMEM;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (a->ctx[i].quarantined)
				ids[k++] = a->ctx[i].hit->chunk_id;
		a->view.guard.quarantined = ids;
		a->view.guard.n_quarantined = k;
	}
	return CAIRN_OK;
}

/* Case-insensitive (ASCII) search of needle in hay[0..n). */
static bool contains_ci(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++) {
		size_t j = 0;
		while (j < m && tolower((unsigned char)hay[i + j]) == needle[j])
			j++;
		if (j == m)
			return true;
	}
	return false;
}

/* Table rows (rendered "a | b | c", one per line) are units of their own: the segmenter
 * sees no terminator between them, but each row is a separate statement. */
static bool table_line(const char *s, size_t n) { return n >= 3 && memmem(s, n, " | ", 3) != NULL; }

/* A line that starts a list item: "- ", "* ", "• ", "1. ", "2) ". */
static bool list_item(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i + 1 < n && (s[i] == '-' || s[i] == '*' || s[i] == '+') && s[i + 1] == ' ')
		return true;
	if (i + 3 < n && (unsigned char)s[i] == 0xe2 && (unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] == 0xa2)
		return true;
	size_t d = i;
	while (d < n && d - i < 3 && s[d] >= '0' && s[d] <= '9')
		d++;
	return d > i && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ';
}

static cairn_status split_sentences(const char *text, size_t len, cn_span **out, size_t *count)
{
	cn_free(*out);
	*out = NULL;
	cn_span *s = NULL;
	size_t ns = 0;
	if (cn_sentences_all(text, len, &s, &ns))
		return CAIRN_ENOMEM;
	cn_span *r = NULL;
	size_t nr = 0, cap = 0;
	for (size_t i = 0; i < ns; i++) {
		const char *p = text + s[i].start;
		size_t n = s[i].end - s[i].start;
		bool table = memchr(p, '\n', n) && table_line(p, n);
		uint32_t a = s[i].start;
		for (uint32_t j = s[i].start; j <= s[i].end; j++) {
			if (j < s[i].end && (text[j] != '\n' || !(table || list_item(text + j + 1, s[i].end - j - 1))))
				continue;
			uint32_t b = j;
			while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
				a++;
			while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
				b--;
			if (b > a) {
				if (CN_GROW(r, cap, nr + 1)) {
					cn_free(r);
					cn_free(s);
					return CAIRN_ENOMEM;
				}
				r[nr++] = (cn_span){a, b};
			}
			a = j + 1;
		}
	}
	cn_free(s);
	*out = r;
	*count = nr;
	return CAIRN_OK;
}

/* Stage 3: candidate sentences of one context chunk. */
static cairn_status chunk_candidates(cairn_answer *a, work *w, uint32_t ci, double top_score)
{
	ctx_chunk *c = &a->ctx[ci];
	const char *text = c->hit->text;
	size_t len = c->limit;
	cn_tokens_reset(&w->htok);
	cn_tokens_reset(&w->ctok);
	cairn_status st = cn_analyze(w->an, c->hit->title, strlen(c->hit->title), 0, &w->htok);
	if (!st)
		st = cn_analyze(w->an, c->hit->heading, strlen(c->hit->heading), 0, &w->htok);
	if (!st)
		st = cn_analyze(w->an, text, len, 0, &w->ctok);
	if (st)
		return st;
	uint64_t head = 0;
	for (size_t i = 0; i < w->htok.n; i++) {
		int32_t q = qindex(w, &w->htok, i);
		if (q >= 0)
			head |= 1ull << q;
	}
	size_t ns = 0;
	if (split_sentences(text, len, &w->sent, &ns))
		return CAIRN_ENOMEM;
	if (!ns)
		return CAIRN_OK;
	uint64_t *masks = cn_calloc(ns, sizeof *masks);
	if (!masks)
		return CAIRN_ENOMEM;
	size_t first = w->nc;
	size_t ti = 0;
	uint64_t all = head;
	for (size_t si = 0; si < ns; si++) {
		cn_span s = w->sent[si];
		while (ti < w->ctok.n && w->ctok.v[ti].start < s.start)
			ti++;
		uint64_t m = 0;
		double big = 0;
		uint64_t pairs_seen[MAX_QTERMS] = {0};
		size_t tj = ti;
		for (; tj < w->ctok.n && w->ctok.v[tj].end <= s.end; tj++) {
			int32_t q = qindex(w, &w->ctok, tj);
			if (q < 0)
				continue;
			m |= 1ull << q;
			/* adjacent pair: a following term within two positions */
			for (size_t u = tj + 1; u < w->ctok.n && w->ctok.v[u].end <= s.end && w->ctok.v[u].pos <= w->ctok.v[tj].pos + 2;
			     u++) {
				int32_t r = qindex(w, &w->ctok, u);
				if (r >= 0 && (w->pairs[q] & (1ull << r)) && !(pairs_seen[q] & (1ull << r))) {
					pairs_seen[q] |= 1ull << r;
					big += (a->qt[q].idf + a->qt[r].idf) / 2;
				}
			}
		}
		masks[si] = m;
		all |= m;
		size_t words = cn_count_words(text + s.start, s.end - s.start);
		if (!m || words < 3)
			continue;
		/* A question in the documents (an FAQ heading) is not an answer, nor is a sentence
		 * that quotes this question (an FAQ, an example in a manual): neither is a candidate. */
		size_t e = s.end;
		while (e > s.start && (text[e - 1] == ' ' || text[e - 1] == '"' || text[e - 1] == ')'))
			e--;
		if (e > s.start && text[e - 1] == '?')
			continue;
		if (w->qnorm_len >= 12 && contains_ci(text + s.start, s.end - s.start, w->qnorm, w->qnorm_len))
			continue;
		/* the chunker's overlap repeats sentences of the previous chunk: score each once */
		cn_buf key;
		cn_buf_init(&key);
		cn_ws_collapse(&key, text + s.start, s.end - s.start);
		uint32_t kid;
		bool added = false;
		if (key.failed || cn_strmap_put(&w->seen, key.data ? key.data : "", key.len, &kid, &added)) {
			cn_buf_free(&key);
			cn_free(masks);
			return CAIRN_ENOMEM;
		}
		cn_buf_free(&key);
		if (!added)
			continue;
		if (CN_GROW(w->c, w->cc, w->nc + 1)) {
			cn_free(masks);
			return CAIRN_ENOMEM;
		}
		cand *x = &w->c[w->nc++];
		memset(x, 0, sizeof *x);
		x->chunk = ci;
		x->start = s.start;
		x->end = s.end;
		x->words = (uint32_t)(words > UINT32_MAX ? UINT32_MAX : words);
		x->mask = m;
		x->big = w->pair_total > 0 ? big / w->pair_total : 0;
		x->retr = top_score > 0 ? c->hit->score / top_score : 0;
		/* neighbour index: remember the sentence index in sp_start until masks are known */
		x->sp_start = (uint32_t)si;
		/* sentences that only repeat the question (titles, headings): little new content */
		size_t qwords = (size_t)popcount64(m);
		if (words < 5)
			x->pen -= 0.2;
		else if (words <= qwords + 2)
			x->pen -= 0.2;
		if (words > 80)
			x->pen -= 0.1;

	}
	c->mask = all;
	for (size_t i = first; i < w->nc; i++) {
		cand *x = &w->c[i];
		size_t si = x->sp_start;
		uint64_t nb = head;
		if (si > 0)
			nb |= masks[si - 1];
		if (si + 1 < ns)
			nb |= masks[si + 1];
		x->ctx_mask = nb & ~x->mask;
		x->sp_start = 0;
	}
	cn_free(masks);
	return CAIRN_OK;
}

/* The span of x for the question type, nearest to the question's words in the sentence. */
static void find_span(cairn_answer *a, work *w, cand *x)
{
	const char *text = a->ctx[x->chunk].hit->text;
	size_t n = x->end - x->start;
	if (n > 65535)
		return;
	uint8_t *protect = cn_calloc(n + 1, 1);
	if (!protect)
		return;
	/* bytes of the question's terms, from the chunk analysis (re-analyse the sentence) */
	cn_tokens t;
	cn_tokens_init(&t);
	if (cn_analyze(w->an, text + x->start, n, 0, &t) == CAIRN_OK) {
		for (size_t i = 0; i < t.n; i++)
			if (qindex(w, &t, i) >= 0)
				memset(protect + t.v[i].start, 1, t.v[i].end - t.v[i].start);
	}
	cn_anspan sp[32];
	size_t k = cn_find_spans(text + x->start, n, a->qtype, protect, sp, CN_ARRAY_LEN(sp));
	size_t best = SIZE_MAX;
	double best_d = 1e18;
	bool best_exact = false;
	for (size_t i = 0; i < k; i++) {
		bool exact = sp[i].type == a->qtype;
		double d = 1e9;
		for (size_t j = 0; j < t.n; j++) {
			if (qindex(w, &t, j) < 0)
				continue;
			double dj = t.v[j].end <= sp[i].start ? (double)(sp[i].start - t.v[j].end)
			            : sp[i].end <= t.v[j].start ? (double)(t.v[j].start - sp[i].end)
			                                         : 0.0;
			if (dj < d)
				d = dj;
		}
		if (best == SIZE_MAX || (exact && !best_exact) || (exact == best_exact && d < best_d)) {
			best = i;
			best_d = d;
			best_exact = exact;
		}
	}
	if (best != SIZE_MAX) {
		x->has_span = true;
		x->sp_start = x->start + sp[best].start;
		x->sp_end = x->start + sp[best].end;
	}
	cn_tokens_free(&t);
	cn_free(protect);
}

static bool factoid(cn_qtype t) { return t != CN_QT_SENTENCE; }

/* Do candidates x and y give the same answer? Spans: one contains the other (SQuAD-normalised);
 * sentences: 80% of the words of one are in the other. */
static bool agrees(const cairn_answer *a, const cand *x, const cand *y)
{
	const char *tx = a->ctx[x->chunk].hit->text, *ty = a->ctx[y->chunk].hit->text;
	if (x->has_span && y->has_span) {
		cn_buf p, q;
		cn_buf_init(&p);
		cn_buf_init(&q);
		cn_squad_normalize(&p, tx + x->sp_start, x->sp_end - x->sp_start);
		cn_squad_normalize(&q, ty + y->sp_start, y->sp_end - y->sp_start);
		cn_buf_putc(&p, '\0');
		cn_buf_putc(&q, '\0');
		bool same = !p.failed && !q.failed && p.len > 1 && q.len > 1 &&
		            (strstr(p.data, q.data) != NULL || strstr(q.data, p.data) != NULL);
		cn_buf_free(&p);
		cn_buf_free(&q);
		return same;
	}
	cn_verdict v;
	cn_verify_text(ty + y->start, y->end - y->start, tx + x->start, x->end - x->start, &v);
	return v.lexical >= 0.8;
}

/* Order of the selected sentences: by document (in the order of its best passage), then by
 * position in the source. */
typedef struct sel {
	cand *c;
	size_t doc_rank;
	int64_t pos, off;
} sel;

static int cmp_sel(const void *a, const void *b)
{
	const sel *x = a, *y = b;
	if (x->doc_rank != y->doc_rank)
		return x->doc_rank < y->doc_rank ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static cairn_status fill_citation(cairn_answer *a, cairn_citation *ct, int id, const cand *x)
{
	const ctx_chunk *c = &a->ctx[x->chunk];
	const cairn_hit *h = c->hit;
	ct->id = id;
	ct->doc_id = h->doc_id;
	ct->chunk_id = h->chunk_id;
	ct->title = h->title;
	ct->source = h->source;
	ct->heading = h->heading;
	ct->start = h->byte_start;
	ct->end = h->byte_end;
	ct->quote = astrndup(a, h->text + x->start, x->end - x->start);
	ct->quote_offset = x->start;
	ct->score = h->score;
	ct->rank = (int)x->chunk + 1;
	return ct->quote ? CAIRN_OK : CAIRN_ENOMEM;
}

void cn_ans_check_citations(cairn_answer *a)
{
	cairn_answer_view *v = &a->view;
	for (size_t i = 0; i < v->n_citations; i++) {
		const cairn_citation *ct = &v->citations[i];
		bool inctx = false, quote_ok = false;
		for (size_t j = 0; j < a->nctx; j++) {
			const ctx_chunk *c = &a->ctx[j];
			if (!c->in_context || c->hit->chunk_id != ct->chunk_id || strcmp(c->hit->doc_id, ct->doc_id) != 0)
				continue;
			inctx = true;
			size_t ql = strlen(ct->quote);
			quote_ok = ct->quote_offset >= 0 && (uint64_t)ct->quote_offset + ql <= c->limit &&
			           memcmp(c->hit->text + ct->quote_offset, ct->quote, ql) == 0;
		}
		a->cite_in_context[i] = inctx;
		a->cite_quote_ok[i] = quote_ok;
	}
}

/* Stage 6: verify each sentence against its citations, each citation against the context. */
static void verify(cairn_answer *a)
{
	cairn_answer_view *v = &a->view;
	size_t supported = 0, cites_used = 0, cites_ok = 0;
	cn_ans_check_citations(a);
	for (size_t i = 0; i < v->n_sentences; i++) {
		const cairn_answer_sentence *s = &v->sentences[i];
		cn_verdict best = {0};
		bool any = false;
		for (size_t j = 0; j < s->n_citations; j++) {
			int id = s->citations[j];
			cites_used++;
			if (id < 1 || (size_t)id > v->n_citations)
				continue;
			const cairn_citation *ct = &v->citations[id - 1];
			cn_verdict vd;
			cn_verify_text(s->text, strlen(s->text), ct->quote, strlen(ct->quote), &vd);
			bool ok = vd.supported && a->cite_in_context[id - 1] && a->cite_quote_ok[id - 1];
			if (ok)
				cites_ok++;
			if (!any || (ok && !best.supported) || vd.lexical > best.lexical) {
				best = vd;
				best.supported = ok;
			}
			any = true;
		}
		a->verdicts[i] = best;
		a->sents[i].supported = best.supported;
		supported += best.supported;
	}
	v->support_rate = v->n_sentences ? (double)supported / (double)v->n_sentences : 1.0;
	v->citation_precision = cites_used ? (double)cites_ok / (double)cites_used : 1.0;
}

cairn_status cn_ans_abstain(cairn_answer *a, const char *question, const char *reason, const char *message, cand *c,
                            size_t nc)
{
	cairn_answer_view *v = &a->view;
	v->abstained = 1;
	a->abstain_reason = reason;
	cn_buf b;
	cn_buf_init(&b);
	if (message) {
		cn_buf_puts(&b, message);
	} else {
		cn_buf_puts(&b, "The documents do not say");
		size_t ql = strlen(question);
		while (ql && (question[ql - 1] == '?' || question[ql - 1] == ' ' || question[ql - 1] == '\n'))
			ql--;
		cn_buf_puts(&b, ": \"");
		cn_buf_append(&b, question, ql);
		cn_buf_puts(&b, "?\"");
	}
	/* the closest passages, one per chunk */
	size_t n = 0;
	cairn_citation *ct = cn_arena_alloc(&a->arena, 3 * sizeof *ct);
	if (!ct) {
		cn_buf_free(&b);
		return CAIRN_ENOMEM;
	}
	for (size_t i = 0; i < nc && n < 3; i++) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= ct[j].chunk_id == a->ctx[c[i].chunk].hit->chunk_id;
		if (dup)
			continue;
		memset(&ct[n], 0, sizeof ct[n]);
		if (fill_citation(a, &ct[n], (int)n + 1, &c[i])) {
			cn_buf_free(&b);
			return CAIRN_ENOMEM;
		}
		n++;
	}
	if (n)
		cn_buf_puts(&b, n == 1 ? ". The closest passage is cited below." : ". The closest passages are cited below.");
	else
		cn_buf_puts(&b, ".");
	v->answer = b.failed ? NULL : astrndup(a, b.data ? b.data : "", b.len);
	cn_buf_free(&b);
	v->citations = ct;
	v->n_citations = n;
	v->sentences = NULL;
	v->n_sentences = 0;
	v->support_rate = 1.0;
	v->citation_precision = 1.0;
	return v->answer ? CAIRN_OK : CAIRN_ENOMEM;
}

/* Output DLP: personal data masked in everything the caller reads of the answer — the
 * answer, its sentences, the quotes of its citations and the --explain candidates. */
#define DLP_TYPES "EMAIL_ADDRESS,PHONE_NUMBER,US_SSN,CREDIT_CARD,IBAN_CODE,IP_ADDRESS,MAC_ADDRESS," \
	"US_DRIVER_LICENSE,API_KEY,JWT,PRIVATE_KEY,SECRET,PERSON,STREET_ADDRESS"

static cairn_status dlp_mask(cairn_answer *a, const char **s)
{
	if (!*s || !**s)
		return CAIRN_OK;
	cairn_redact_params rp = cairn_redact_default_params();
	rp.mode = CAIRN_REDACT_MASK;
	rp.pii.types = DLP_TYPES;
	cairn_redacted r = {0};
	if (cairn_redact(*s, strlen(*s), &rp, &r, NULL, 0) != CAIRN_OK)
		return CAIRN_ENOMEM;
	if (r.n_items)
		*s = astrndup(a, r.text, r.len);
	cairn_redacted_free(&r);
	return *s ? CAIRN_OK : CAIRN_ENOMEM;
}

/* A whole serialized view masked: every JSON string value (keys and numbers untouched, so
 * the document stays valid), or all of a text. NULL when out of memory. */
static json_t *dlp_json(json_t *j)
{
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		cairn_redact_params rp = cairn_redact_default_params();
		rp.mode = CAIRN_REDACT_MASK;
		rp.pii.types = DLP_TYPES;
		cairn_redacted r = {0};
		if (cairn_redact(s, json_string_length(j), &rp, &r, NULL, 0) != CAIRN_OK)
			return NULL;
		json_t *out = r.n_items ? json_stringn(r.text, r.len) : json_incref(j);
		cairn_redacted_free(&r);
		return out;
	}
	if (json_is_object(j)) {
		json_t *o = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) {
			json_t *m = dlp_json(v);
			if (!m || json_object_set_new(o, k, m)) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	if (json_is_array(j)) {
		json_t *arr = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			json_t *m = dlp_json(v);
			if (!m || json_array_append_new(arr, m)) {
				json_decref(arr);
				return NULL;
			}
		}
		return arr;
	}
	return json_incref(j);
}

static char *dlp_serialized(char *text, bool is_json)
{
	if (!text)
		return NULL;
	char *out = NULL;
	if (is_json) {
		json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
		json_t *m = j ? dlp_json(j) : NULL;
		out = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		json_decref(m);
	} else {
		cairn_redact_params rp = cairn_redact_default_params();
		rp.mode = CAIRN_REDACT_MASK;
		rp.pii.types = DLP_TYPES;
		cairn_redacted r = {0};
		if (cairn_redact(text, strlen(text), &rp, &r, NULL, 0) == CAIRN_OK)
			out = r.text, r.text = NULL;
		cairn_redacted_free(&r);
	}
	cairn_free(text);
	/* (jansson and cairn_redact allocate with malloc, as cairn_free expects) */
	return out;
}

static cairn_status dlp_answer(cairn_answer *a)
{
	cairn_answer_view *v = &a->view;
	cairn_status st = dlp_mask(a, &v->answer);
	cairn_answer_sentence *sents = (cairn_answer_sentence *)v->sentences; /* our arena's */
	for (size_t i = 0; !st && i < v->n_sentences; i++)
		st = dlp_mask(a, &sents[i].text);
	cairn_citation *cites = (cairn_citation *)v->citations;
	for (size_t i = 0; !st && i < v->n_citations; i++) {
		st = dlp_mask(a, &cites[i].quote);
		if (!st)
			st = dlp_mask(a, &cites[i].title);
		if (!st)
			st = dlp_mask(a, &cites[i].heading);
	}
	for (size_t i = 0; !st && i < a->ntop; i++) {
		st = dlp_mask(a, &a->top_text[i]);
		if (!st && a->top_span[i])
			st = dlp_mask(a, &a->top_span[i]);
	}
	return st;
}

/* The audit record of one question: who, what, which chunks were in the context, the
 * answer and the decisions taken (abstention, confidence, verifier support). An audited
 * knowledge base does not answer off the record: a failure here fails the call. */
static cairn_status audit_ask(cairn_kb *kb, const cairn_answer *a, const cairn_ask_params *p)
{
	if (!cairn_audit_enabled(kb))
		return CAIRN_OK;
	const cairn_answer_view *v = &a->view;
	int64_t *ids = a->nctx ? cn_malloc(a->nctx * sizeof *ids) : NULL;
	if (a->nctx && !ids)
		return CAIRN_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < a->nctx; i++)
		if (a->ctx[i].in_context)
			ids[n++] = a->ctx[i].hit->chunk_id;
	char decisions[384];
	snprintf(decisions, sizeof decisions,
	         "{\"mode\":\"%s\",\"abstained\":%s,\"confidence\":%.4f,\"support_rate\":%.4f,"
	         "\"injection\":{\"question_score\":%.4f,\"question_flagged\":%s,\"refused\":%s,\"quarantined\":%zu}}",
	         v->mode, v->abstained ? "true" : "false", isfinite(v->confidence) ? v->confidence : 0.0,
	         isfinite(v->support_rate) ? v->support_rate : 0.0, v->guard.question_score,
	         v->guard.question_flagged ? "true" : "false", v->guard.refused ? "true" : "false",
	         v->guard.n_quarantined);
	cairn_audit_entry e = {
		.action = "ask",
		.principal = p->principal,
		.question = v->question,
		.chunk_ids = ids,
		.n_chunks = n,
		.answer = v->answer,
		.decisions_json = decisions,
	};
	cairn_status st = cairn_audit_append(kb, &e);
	cn_free(ids);
	return st;
}

cairn_status cairn_ask(cairn_kb *kb, const char *question, const cairn_ask_params *params, cairn_answer **out)
{
	*out = NULL;
	uint64_t t0 = cn_now_ns();
	cairn_ask_params p = params ? *params : cairn_ask_default_params();
	if (!kb)
		return CAIRN_EINVAL;
	if (!question)
		question = "";
	size_t qlen = strnlen(question, MAX_QUESTION_BYTES + 1);
	if (qlen > MAX_QUESTION_BYTES)
		qlen = MAX_QUESTION_BYTES; /* longer questions are cut (at a UTF-8 boundary below) */
	while (qlen > 0 && qlen < strlen(question) && ((unsigned char)question[qlen] & 0xC0) == 0x80)
		qlen--;
	/* Out-of-range settings are clamped: an answer is always possible. */
	if (p.k < 1)
		p.k = 8;
	if (p.k > MAX_K)
		p.k = MAX_K;
	if (p.context_tokens < 64)
		p.context_tokens = p.context_tokens <= 0 ? 3000 : 64;
	if (p.max_sentences < 1)
		p.max_sentences = 3;
	if (p.max_sentences > 10)
		p.max_sentences = 10;
	if (!(p.min_confidence >= 0))
		p.min_confidence = 0;

	cairn_answer *a = cn_calloc(1, sizeof *a);
	if (!a)
		return CAIRN_ENOMEM;
	cn_arena_init(&a->arena, 16 * 1024);
	a->min_confidence = p.min_confidence;
	work w;
	memset(&w, 0, sizeof w);
	cn_tokens_init(&w.qtok);
	cn_tokens_init(&w.ctok);
	cn_tokens_init(&w.htok);
	cn_strmap_init(&w.qmap);
	cn_strmap_init(&w.seen);
	cairn_answer_view *v = &a->view;
	v->mode = "extractive";
	v->question = astrndup(a, question, qlen);
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = v->question ? CAIRN_OK : CAIRN_ENOMEM;
	if (!st && cn_ans_gen_wanted(&p)) {
		v->mode = "generative";
		st = cn_ans_gen_setup(a, &p, &err);
	}
	if (!st)
		st = cn_analyzer_from_signature(cairn_kb_analyzer(kb), &w.an, &err);
	a->qtype = cn_question_type(question, qlen);
	if (!p.spans && a->qtype != CN_QT_SENTENCE)
		a->qtype = CN_QT_SENTENCE;
	v->answer_type = cn_qtype_name(a->qtype);
	{
		size_t n = qlen;
		while (n > 0 && (question[n - 1] == '?' || question[n - 1] == ' ' || question[n - 1] == '\n'))
			n--;
		size_t b0 = 0;
		while (b0 < n && question[b0] == ' ')
			b0++;
		if (n - b0 < sizeof w.qnorm) {
			for (size_t i = b0; i < n; i++)
				w.qnorm[i - b0] = (char)tolower((unsigned char)question[i]);
			w.qnorm_len = n - b0;
		}
	}
	if (!st && p.injection_question >= 0) {
		/* Direct injection: scored always, refused when the policy says so. */
		cairn_injection_result r;
		if (cairn_injection_scan(question, qlen, CAIRN_INJECTION_QUESTION, &r, NULL, 0))
			st = CAIRN_ENOMEM;
		else {
			v->guard.question_score = r.score;
			v->guard.question_flagged = r.flagged;
			v->guard.question_reasons = r.reasons;
			if (cairn_injection_decide((cairn_injection_policy)p.injection_question, &r) == CAIRN_INJECTION_REFUSED)
				a->refuse_reason = "the question looks like a prompt-injection attempt";
		}
	}
	if (!st && a->refuse_reason) {
		v->guard.refused = 1;
		st = cn_ans_abstain(a, question, a->refuse_reason,
		                    "Refused: the question looks like an attempt to override the assistant's instructions.",
		                    NULL, 0);
		if (!st)
			goto done;
	}
	if (!st)
		st = analyse_question(kb, a, &w, question, qlen);
	if (!st)
		st = split_budget(a, &p, question, qlen);
	if (!st && a->nq)
		st = build_context(kb, a, &p);
	if (!st && a->refuse_reason) {
		v->guard.refused = 1;
		st = cn_ans_abstain(a, question, a->refuse_reason,
		                    "Refused: a document retrieved for this question tries to give the assistant instructions.",
		                    NULL, 0);
		if (!st)
			goto done;
	}
	double top_score = a->nctx ? a->ctx[0].hit->score : 0;
	for (size_t i = 0; !st && i < a->nctx; i++)
		if (a->ctx[i].in_context)
			st = chunk_candidates(a, &w, (uint32_t)i, top_score);
	if (st)
		goto fail;

	/* scores */
	bool fq = factoid(a->qtype);
	for (size_t i = 0; i < w.nc; i++) {
		cand *x = &w.c[i];
		x->cov = w.total_idf > 0 ? mask_idf(a->qt, a->nq, x->mask) / w.total_idf : 0;
		x->ctx = w.total_idf > 0 ? mask_idf(a->qt, a->nq, x->ctx_mask) / w.total_idf : 0;
		x->score = x->cov + W_CONTEXT * x->ctx + W_BIGRAM * x->big + W_RETRIEVAL * x->retr + x->pen;
	}
	if (w.nc)
		qsort(w.c, w.nc, sizeof *w.c, cmp_cand);
	if (fq && w.nc) {
		/* spans for the leading candidates only: the bonus reorders among close scores */
		size_t lim = w.nc < 30 ? w.nc : 30;
		for (size_t i = 0; i < lim; i++) {
			find_span(a, &w, &w.c[i]);
			if (w.c[i].has_span) {
				w.c[i].typeb = W_TYPE;
				w.c[i].score += W_TYPE;
			}
		}
		qsort(w.c, w.nc, sizeof *w.c, cmp_cand);
	}
	/* explain: the leading candidates */
	a->ntop = w.nc < EXPLAIN_CANDIDATES ? w.nc : EXPLAIN_CANDIDATES;
	if (a->ntop) {
		a->top = cn_arena_alloc(&a->arena, a->ntop * sizeof *a->top);
		a->top_text = cn_arena_alloc(&a->arena, a->ntop * sizeof *a->top_text);
		a->top_span = cn_arena_alloc(&a->arena, a->ntop * sizeof *a->top_span);
		if (!a->top || !a->top_text || !a->top_span) {
			st = CAIRN_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < a->ntop; i++) {
			a->top[i] = w.c[i];
			const char *t = a->ctx[w.c[i].chunk].hit->text;
			a->top_text[i] = acollapse(a, t + w.c[i].start, w.c[i].end - w.c[i].start);
			a->top_span[i] = w.c[i].has_span ? astrndup(a, t + w.c[i].sp_start, w.c[i].sp_end - w.c[i].sp_start) : NULL;
			if (!a->top_text[i]) {
				st = CAIRN_ENOMEM;
				goto fail;
			}
		}
	}

	/* confidence features */
	if (w.nc) {
		cand *b = &w.c[0];
		/* the runner-up is the best candidate saying something else: passages that agree
		 * (the same span, or mostly the same words) support the answer, not compete with it */
		double second = -1;
		for (size_t i = 1; i < w.nc && i < 30; i++) {
			if (!agrees(a, b, &w.c[i])) {
				second = w.c[i].score;
				break;
			}
		}
		double missing = 0;
		for (size_t i = 0; i < a->nq; i++)
			if (a->qt[i].df == 0)
				missing += a->qt[i].idf;
		a->feat[0] = b->cov;
		a->feat[1] = b->ctx;
		a->feat[2] = w.total_idf > 0 ? mask_idf(a->qt, a->nq, a->ctx[b->chunk].mask) / w.total_idf : 0;
		a->feat[3] = second >= 0 ? b->score - second : b->score;
		a->feat[4] = fq ? (b->has_span ? 1.0 : -1.0) : 0.0;
		a->feat[5] = w.total_idf > 0 ? missing / w.total_idf : 0;
		v->confidence = confidence_of(a->feat);
	} else {
		double missing = 0;
		for (size_t i = 0; i < a->nq; i++)
			if (a->qt[i].df == 0)
				missing += a->qt[i].idf;
		a->feat[5] = w.total_idf > 0 ? missing / w.total_idf : 1;
		v->confidence = 0;
	}

	if (!a->nq) {
		st = cn_ans_abstain(a, question, "the question has no searchable words", NULL, NULL, 0);
	} else if (a->gen) {
		/* Stages 3–6 the generative way; the candidates above serve an abstention only */
		st = cn_ans_generative(a, w.an, w.c, w.nc, &p, v->question, &err);
		if (st)
			goto fail;
		goto done;
	} else if (!w.nc) {
		st = cn_ans_abstain(a, question, "no passage shares a word with the question", NULL, NULL, 0);
	} else if (v->confidence < p.min_confidence) {
		st = cn_ans_abstain(a, question, "confidence below the threshold", NULL, w.c, w.nc);
	} else {
		/* Stage 4: selection */
		sel chosen[10];
		size_t nsel = 0;
		cand *b = &w.c[0];
		bool span = fq && b->has_span;
		chosen[nsel++] = (sel){b, 0, 0, 0};
		for (size_t i = 1; !span && i < w.nc && nsel < (size_t)p.max_sentences; i++) {
			cand *x = &w.c[i];
			if (x->score < SELECT_RATIO * b->score)
				break;
			/* a further sentence must bring question terms the chosen ones lack */
			uint64_t covered = 0;
			for (size_t j = 0; j < nsel; j++)
				covered |= chosen[j].c->mask;
			if (!(x->mask & ~covered))
				continue;
			bool dup = false;
			/* near-duplicate: mostly the same question terms and mostly the same words */
			for (size_t j = 0; !dup && j < nsel; j++) {
				if (jaccard(x->mask, chosen[j].c->mask) < DUP_JACCARD)
					continue;
				cn_verdict vd;
				const char *tx = a->ctx[x->chunk].hit->text, *ty = a->ctx[chosen[j].c->chunk].hit->text;
				cn_verify_text(tx + x->start, x->end - x->start, ty + chosen[j].c->start,
				               chosen[j].c->end - chosen[j].c->start, &vd);
				dup = vd.lexical >= 0.8;
			}
			if (!dup)
				chosen[nsel++] = (sel){x, 0, 0, 0};
		}
		for (size_t i = 0; i < nsel; i++) {
			/* the document's rank: its best-ranked chunk among the chosen */
			const char *doc = a->ctx[chosen[i].c->chunk].hit->doc_id;
			size_t r = chosen[i].c->chunk;
			for (size_t j = 0; j < nsel; j++)
				if (!strcmp(a->ctx[chosen[j].c->chunk].hit->doc_id, doc) && chosen[j].c->chunk < r)
					r = chosen[j].c->chunk;
			chosen[i].doc_rank = r;
			chosen[i].pos = a->ctx[chosen[i].c->chunk].hit->byte_start;
			chosen[i].off = chosen[i].c->start;
		}
		qsort(chosen, nsel, sizeof *chosen, cmp_sel);
		a->sents = cn_arena_alloc(&a->arena, nsel * sizeof *a->sents);
		a->cites = cn_arena_alloc(&a->arena, nsel * sizeof *a->cites);
		int *ids = cn_arena_alloc(&a->arena, nsel * sizeof *ids);
		if (!a->sents || !a->cites || !ids) {
			st = CAIRN_ENOMEM;
			goto fail;
		}
		cn_buf ans;
		cn_buf_init(&ans);
		for (size_t i = 0; i < nsel; i++) {
			cand *x = chosen[i].c;
			memset(&a->cites[i], 0, sizeof a->cites[i]);
			st = fill_citation(a, &a->cites[i], (int)i + 1, x);
			const char *t = a->ctx[x->chunk].hit->text;
			const char *s = span ? astrndup(a, t + x->sp_start, x->sp_end - x->sp_start)
			                     : acollapse(a, t + x->start, x->end - x->start);
			if (!s)
				st = CAIRN_ENOMEM;
			if (st)
				break;
			ids[i] = (int)i + 1;
			a->sents[i] = (cairn_answer_sentence){s, &ids[i], 1, 0};
			if (ans.len)
				cn_buf_putc(&ans, ' ');
			cn_buf_puts(&ans, s);
		}
		v->answer = st || ans.failed ? NULL : astrndup(a, ans.data ? ans.data : "", ans.len);
		cn_buf_free(&ans);
		if (!st && !v->answer)
			st = CAIRN_ENOMEM;
		if (st)
			goto fail;
		a->raw_answer = v->answer;
		v->sentences = a->sents;
		v->n_sentences = nsel;
		v->citations = a->cites;
		v->n_citations = nsel;
	}
	if (st)
		goto fail;
	/* Stage 6: verification */
	size_t nv = v->n_sentences ? v->n_sentences : 1, nci = v->n_citations ? v->n_citations : 1;
	a->verdicts = cn_arena_alloc(&a->arena, nv * sizeof *a->verdicts);
	a->cite_in_context = cn_arena_alloc(&a->arena, nci * sizeof *a->cite_in_context);
	a->cite_quote_ok = cn_arena_alloc(&a->arena, nci * sizeof *a->cite_quote_ok);
	if (!a->verdicts || !a->cite_in_context || !a->cite_quote_ok) {
		st = CAIRN_ENOMEM;
		goto fail;
	}
	if (!v->abstained) {
		verify(a);
		if (p.strict) {
			/* keep only supported sentences; none left → abstain */
			size_t k = 0;
			for (size_t i = 0; i < v->n_sentences; i++)
				if (a->sents[i].supported) {
					a->sents[k] = a->sents[i];
					a->verdicts[k] = a->verdicts[i];
					k++;
				}
			if (k < v->n_sentences) {
				v->n_sentences = k;
				if (!k) {
					st = cn_ans_abstain(a, question, "the verifier rejected every sentence", NULL, w.c, w.nc);
				} else {
					cn_buf ans;
					cn_buf_init(&ans);
					for (size_t i = 0; i < k; i++) {
						if (i)
							cn_buf_putc(&ans, ' ');
						cn_buf_puts(&ans, a->sents[i].text);
					}
					v->answer = ans.failed ? NULL : astrndup(a, ans.data ? ans.data : "", ans.len);
					cn_buf_free(&ans);
					if (!v->answer)
						st = CAIRN_ENOMEM;
				}
			}
		}
	}
	if (st)
		goto fail;
done:
	work_free(&w);
	v->seconds = (double)(cn_now_ns() - t0) / 1e9;
	a->dlp = p.redact_output != 0;
	st = a->dlp ? dlp_answer(a) : CAIRN_OK;
	if (!st)
		st = audit_ask(kb, a, &p);
	if (st)
		goto fail;
	*out = a;
	return CAIRN_OK;
fail:
	if (p.errbuf && p.errbuf_size) {
		const char *m = err.code ? err.msg : cairn_kb_errmsg(kb);
		snprintf(p.errbuf, p.errbuf_size, "%s", m && *m ? m : cairn_status_name(st));
	}
	work_free(&w);
	cairn_answer_free(a);
	return st;
}

/* ---- JSON ---- */

static void jstr(cn_buf *b, const char *s) { cn_buf_put_json_str(b, s ? s : "", s ? strlen(s) : 0); }

static void jnum(cn_buf *b, double x) { cn_buf_printf(b, "%.4g", isfinite(x) ? x : 0.0); }

static void json_citation(cn_buf *b, const cairn_citation *c)
{
	cn_buf_printf(b, "{\"id\":%d,\"doc_id\":", c->id);
	jstr(b, c->doc_id);
	cn_buf_printf(b, ",\"chunk_id\":%lld,\"title\":", (long long)c->chunk_id);
	jstr(b, c->title);
	cn_buf_puts(b, ",\"source\":");
	jstr(b, c->source);
	cn_buf_puts(b, ",\"heading\":");
	jstr(b, c->heading);
	cn_buf_printf(b, ",\"start\":%lld,\"end\":%lld,\"quote\":", (long long)c->start, (long long)c->end);
	jstr(b, c->quote);
	cn_buf_printf(b, ",\"quote_offset\":%lld,\"rank\":%d,\"score\":", (long long)c->quote_offset, c->rank);
	jnum(b, c->score);
	cn_buf_putc(b, '}');
}

static const char *const feat_names[CN_ANS_NFEAT] = {
	"coverage", "context_coverage", "chunk_coverage", "margin", "span", "missing_idf",
};

static void json_explain(cn_buf *b, const cairn_answer *a)
{
	cn_buf_puts(b, ",\"explain\":{\"question_type\":");
	jstr(b, cn_qtype_name(a->qtype));
	cn_buf_puts(b, ",\"query\":");
	jstr(b, a->query);
	cn_buf_puts(b, ",\"terms\":[");
	for (size_t i = 0; i < a->nq; i++) {
		cn_buf_puts(b, i ? ",{\"term\":" : "{\"term\":");
		jstr(b, a->qt[i].term);
		cn_buf_printf(b, ",\"df\":%lld,\"idf\":", (long long)a->qt[i].df);
		jnum(b, a->qt[i].idf);
		cn_buf_putc(b, '}');
	}
	cn_buf_printf(b, "],\"context_budget\":%d,\"context_tokens\":%d,", a->budget, a->used_tokens);
	if (a->gen)
		cn_buf_printf(b, "\"budget_split\":{\"total\":%d,\"rules_and_instructions\":%d,\"conversation\":%d,"
		                 "\"question\":%d,\"per_passage_overhead\":%d,\"evidence\":%d,\"counted_with\":\"%s\"},",
		              a->split.total, a->split.rules, a->split.conversation, a->split.question, a->split.per_passage,
		              a->budget, a->split.model_tokens ? "model tokenizer" : "estimate");
	cn_buf_puts(b, "\"retrieved\":[");
	for (size_t i = 0; i < a->nctx; i++) {
		const ctx_chunk *c = &a->ctx[i];
		cn_buf_printf(b, "%s{\"rank\":%zu,\"doc_id\":", i ? "," : "", i + 1);
		jstr(b, c->hit->doc_id);
		cn_buf_printf(b, ",\"chunk_id\":%lld,\"title\":", (long long)c->hit->chunk_id);
		jstr(b, c->hit->title);
		cn_buf_puts(b, ",\"heading\":");
		jstr(b, c->hit->heading);
		cn_buf_puts(b, ",\"score\":");
		jnum(b, c->hit->score);
		cn_buf_printf(b, ",\"tokens\":%d,\"in_context\":%s,\"cut\":", c->tokens, c->in_context ? "true" : "false");
		jstr(b, !c->in_context ? "over the token budget" : c->truncated ? "truncated to the budget" : "");
		cn_buf_putc(b, '}');
	}
	cn_buf_puts(b, "],\"candidates\":[");
	for (size_t i = 0; i < a->ntop; i++) {
		const cand *x = &a->top[i];
		cn_buf_printf(b, "%s{\"text\":", i ? "," : "");
		jstr(b, a->top_text[i]);
		cn_buf_printf(b, ",\"rank\":%u,\"score\":", x->chunk + 1);
		jnum(b, x->score);
		cn_buf_puts(b, ",\"coverage\":");
		jnum(b, x->cov);
		cn_buf_puts(b, ",\"context_coverage\":");
		jnum(b, x->ctx);
		cn_buf_puts(b, ",\"bigrams\":");
		jnum(b, x->big);
		cn_buf_puts(b, ",\"span\":");
		if (a->top_span[i])
			jstr(b, a->top_span[i]);
		else
			cn_buf_puts(b, "null");
		cn_buf_putc(b, '}');
	}
	cn_buf_puts(b, "],\"raw_answer\":");
	jstr(b, a->raw_answer ? a->raw_answer : "");
	cn_buf_puts(b, ",\"confidence_features\":{");
	for (int i = 0; i < CN_ANS_NFEAT; i++) {
		cn_buf_printf(b, "%s\"%s\":", i ? "," : "", feat_names[i]);
		jnum(b, a->feat[i]);
	}
	cn_buf_puts(b, "},\"min_confidence\":");
	jnum(b, a->min_confidence);
	cn_buf_puts(b, ",\"abstain_reason\":");
	if (a->abstain_reason)
		jstr(b, a->abstain_reason);
	else
		cn_buf_puts(b, "null");
	cn_buf_puts(b, ",\"verifier\":[");
	const cairn_answer_view *v = &a->view;
	for (size_t i = 0; i < v->n_sentences; i++) {
		const cn_verdict *vd = &a->verdicts[i];
		cn_buf_printf(b, "%s{\"sentence\":%zu,\"found\":%s,\"lexical\":", i ? "," : "", i,
		              vd->found ? "true" : "false");
		jnum(b, vd->lexical);
		cn_buf_printf(b, ",\"numbers_ok\":%s,\"supported\":%s,\"citations\":[", vd->numbers_ok ? "true" : "false",
		              vd->supported ? "true" : "false");
		const cairn_answer_sentence *s = &v->sentences[i];
		for (size_t j = 0; j < s->n_citations; j++) {
			int id = s->citations[j];
			bool ok = id >= 1 && (size_t)id <= v->n_citations;
			cn_buf_printf(b, "%s{\"id\":%d,\"in_context\":%s,\"quote_matches_passage\":%s}", j ? "," : "", id,
			              ok && a->cite_in_context[id - 1] ? "true" : "false",
			              ok && a->cite_quote_ok[id - 1] ? "true" : "false");
		}
		cn_buf_puts(b, "]}");
	}
	cn_buf_putc(b, ']');
	if (a->gen)
		cn_ans_gen_explain_json(b, a);
	cn_buf_putc(b, '}');
}

char *cairn_answer_to_json(const cairn_answer *a, int explain)
{
	if (!a)
		return NULL;
	const cairn_answer_view *v = &a->view;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_puts(&b, "{\"question\":");
	jstr(&b, v->question);
	cn_buf_puts(&b, ",\"mode\":");
	jstr(&b, v->mode);
	cn_buf_puts(&b, ",\"answer\":");
	jstr(&b, v->answer);
	cn_buf_puts(&b, ",\"answer_type\":");
	jstr(&b, v->answer_type);
	cn_buf_printf(&b, ",\"abstained\":%s,\"confidence\":", v->abstained ? "true" : "false");
	jnum(&b, v->confidence);
	cn_buf_puts(&b, ",\"sentences\":[");
	for (size_t i = 0; i < v->n_sentences; i++) {
		const cairn_answer_sentence *s = &v->sentences[i];
		cn_buf_puts(&b, i ? ",{\"text\":" : "{\"text\":");
		jstr(&b, s->text);
		cn_buf_puts(&b, ",\"citations\":[");
		for (size_t j = 0; j < s->n_citations; j++)
			cn_buf_printf(&b, "%s%d", j ? "," : "", s->citations[j]);
		cn_buf_printf(&b, "],\"supported\":%s}", s->supported ? "true" : "false");
	}
	cn_buf_puts(&b, "],\"citations\":[");
	for (size_t i = 0; i < v->n_citations; i++) {
		if (i)
			cn_buf_putc(&b, ',');
		json_citation(&b, &v->citations[i]);
	}
	cn_buf_puts(&b, "],\"verification\":{\"support_rate\":");
	jnum(&b, v->support_rate);
	cn_buf_puts(&b, ",\"citation_precision\":");
	jnum(&b, v->citation_precision);
	cn_buf_puts(&b, "},\"guard\":{\"question\":{\"score\":");
	jnum(&b, v->guard.question_score);
	cn_buf_printf(&b, ",\"flagged\":%s,\"reasons\":[", v->guard.question_flagged ? "true" : "false");
	for (int f = 0, k = 0; f < CAIRN_INJ_NFEATURES; f++)
		if (v->guard.question_reasons & (1u << f)) {
			if (k++)
				cn_buf_putc(&b, ',');
			jstr(&b, cairn_injection_feature_name((cairn_injection_feature)f));
		}
	cn_buf_printf(&b, "]},\"refused\":%s,\"quarantined\":[", v->guard.refused ? "true" : "false");
	for (size_t i = 0; i < v->guard.n_quarantined; i++)
		cn_buf_printf(&b, "%s%lld", i ? "," : "", (long long)v->guard.quarantined[i]);
	cn_buf_printf(&b, "]},\"took_ms\":%.3f", v->seconds * 1e3);
	if (explain)
		json_explain(&b, a);
	cn_buf_puts(&b, "}");
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return a->dlp ? dlp_serialized(cn_buf_take(&b), true) : cn_buf_take(&b);
}

/* ---- --explain as text ---- */

char *cairn_answer_explain(const cairn_answer *a)
{
	if (!a)
		return NULL;
	const cairn_answer_view *v = &a->view;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_printf(&b, "1. question  type %s; search query \"%s\"\n   terms (idf):", cn_qtype_name(a->qtype),
	              a->query ? a->query : "");
	for (size_t i = 0; i < a->nq; i++)
		cn_buf_printf(&b, " %s (%.2f)", a->qt[i].term, a->qt[i].idf);
	cn_buf_printf(&b, "\n2. retrieval and context  budget %d tokens, %d used\n", a->budget, a->used_tokens);
	if (a->gen)
		cn_buf_printf(&b, "   prompt budget %d (%s): rules and instructions %d, conversation %d, question %d, "
		                  "evidence %d (%d per passage for its fence and metadata)\n",
		              a->split.total, a->split.model_tokens ? "model tokens" : "estimated tokens", a->split.rules,
		              a->split.conversation, a->split.question, a->budget, a->split.per_passage);
	for (size_t i = 0; i < a->nctx; i++) {
		const ctx_chunk *c = &a->ctx[i];
		cn_buf_printf(&b, "   #%zu %-9.3f %-26s %s — %s  (%d tokens)\n", i + 1, c->hit->score,
		              !c->in_context ? "cut: over the budget" : c->truncated ? "in context (truncated)" : "in context",
		              *c->hit->heading ? c->hit->heading : *c->hit->title ? c->hit->title : c->hit->doc_id,
		              c->hit->source, c->tokens);
	}
	if (a->gen) {
		cn_ans_gen_explain_text(&b, a);
		goto end;
	}
	cn_buf_puts(&b, "3. candidate sentences  score = coverage + 0.3 context + 0.25 bigrams + 0.1 rank + type\n");
	for (size_t i = 0; i < a->ntop; i++) {
		const cand *x = &a->top[i];
		size_t tl = strlen(a->top_text[i]), cut = tl > 160 ? 160 : tl;
		while (cut < tl && cut > 0 && ((unsigned char)a->top_text[i][cut] & 0xC0) == 0x80)
			cut--; /* never cut a UTF-8 sequence */
		cn_buf_printf(&b, "   %.3f  cov %.2f ctx %.2f big %.2f  #%u  %.*s%s", x->score, x->cov, x->ctx, x->big,
		              x->chunk + 1, (int)cut, a->top_text[i], cut < tl ? "…" : "");
		if (a->top_span[i])
			cn_buf_printf(&b, "  [span: %s]", a->top_span[i]);
		cn_buf_putc(&b, '\n');
	}
	cn_buf_printf(&b, "4. raw answer  %s\n", a->raw_answer ? a->raw_answer : "(none)");
	cn_buf_printf(&b, "5. confidence  %.3f (abstain below %.2f):", v->confidence, a->min_confidence);
	for (int i = 0; i < CN_ANS_NFEAT; i++)
		cn_buf_printf(&b, " %s %.3f", feat_names[i], a->feat[i]);
	cn_buf_putc(&b, '\n');
	if (a->abstain_reason)
		cn_buf_printf(&b, "   abstained: %s\n", a->abstain_reason);
	cn_buf_puts(&b, "6. verifier\n");
	for (size_t i = 0; i < v->n_sentences; i++) {
		const cn_verdict *vd = &a->verdicts[i];
		cn_buf_printf(&b, "   sentence %zu: %s (found in quote: %s, words in quote %.0f%%, numbers %s)", i + 1,
		              vd->supported ? "supported" : "NOT supported", vd->found ? "yes" : "no", vd->lexical * 100,
		              vd->numbers_ok ? "match" : "MISSING");
		const cairn_answer_sentence *s = &v->sentences[i];
		for (size_t j = 0; j < s->n_citations; j++) {
			int id = s->citations[j];
			bool ok = id >= 1 && (size_t)id <= v->n_citations;
			cn_buf_printf(&b, "; [%d] %s", id,
			              ok && a->cite_in_context[id - 1] && a->cite_quote_ok[id - 1] ? "quote is in the context"
			                                                                            : "NOT in the context");
		}
		cn_buf_putc(&b, '\n');
	}
	cn_buf_printf(&b, "   support rate %.2f, citation precision %.2f\n", v->support_rate, v->citation_precision);
end:
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	cn_buf_putc(&b, '\0');
	return a->dlp ? dlp_serialized(cn_buf_take(&b), false) : cn_buf_take(&b);
}
