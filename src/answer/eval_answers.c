/*
 * cairn_eval_answers: how good are the answers, and does the answerer know when the
 * documents do not hold one?
 *
 * Two data layouts:
 *  - SQuAD-format JSON (v1.1 style, e.g. COVID-QA): each paragraph ("context") becomes one
 *    record (doc id = its document_id, else "aI.pJ"; title = the article title, else the
 *    context's first line), chunked as any document is. Scores: exact match and token F1 with
 *    SQuAD v1.1's normalisation, max over the gold answers (an abstention scores 0); the rate
 *    at which a gold answer lies inside a cited quote (both normalised; "grounded"); the rate
 *    at which it lies in the assembled context at all (what retrieval allowed).
 *  - SciFact (corpus.jsonl + claims_*.jsonl): each abstract is a record whose sentences are
 *    joined by blank lines, so a cited quote (the segmenter never crosses a blank line) maps
 *    back to exactly one abstract sentence. Sentence-level rationale selection is scored two
 *    ways: "official" is allenai/scifact's selection-only measure (a predicted sentence is
 *    correct when it belongs to a gold rationale of a gold evidence abstract *and every other
 *    sentence of that rationale is predicted too*; precision over every predicted sentence of
 *    every claim, NEI claims included; recall over every gold rationale sentence), "lenient"
 *    drops the whole-rationale condition (the sentence is in some gold rationale set).
 * Unanswerable questions come from the same questions: each is asked again with its gold
 * documents filtered out (`NOT doc="ID"`), so nothing in the knowledge base holds the answer
 * while everything else — including near-miss passages on the same topic — stays. (The idf
 * statistics still count the filtered documents; the effect is one document's worth.)
 *
 * Abstention is decided here from the answer's confidence (the answerer runs with
 * min_confidence 0), so the reliability table covers every question, answered or not.
 */
#include "answer/answer.h"
#include "answer/eval_int.h"
#include "answer/eval_metrics.h"
#include "text/text.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DATA_BYTES ((size_t)1 << 30)

cairn_answer_eval_params cairn_answer_eval_default_params(void)
{
	cairn_answer_eval_params p;
	memset(&p, 0, sizeof p);
	p.claims = "claims_dev.jsonl";
	p.ask = cairn_ask_default_params();
	p.unanswerable = 1;
	return p;
}

typedef struct question {
	const char *id;
	const char *text;
	const char **gold;      /* SQuAD answers */
	size_t n_gold;
	size_t doc;             /* SQuAD: index of the gold document */
	/* SciFact: evidence */
	const char **ev_doc;    /* doc id per rationale set */
	uint32_t **ev_sents;    /* sentence indices per set */
	size_t *ev_n;
	size_t n_sets;
	const char **no_docs;   /* documents to filter out for the unanswerable run */
	size_t n_no_docs;
} question;

typedef struct document {
	const char *id;
	const char *title;
	const char *text;
	size_t len;
	const char **sents;     /* SciFact: the abstract's sentences, whitespace-collapsed */
	size_t n_sents;
} document;

typedef struct dataset {
	char format[16];
	cn_arena arena;
	document *docs;
	size_t n_docs, cap_docs;
	cn_strmap doc_ids;
	question *qs;
	size_t n_qs, cap_qs;
	size_t skipped_impossible;
} dataset;

static void dataset_free(dataset *d)
{
	cn_arena_free(&d->arena);
	cn_free(d->docs);
	cn_free(d->qs);
	cn_strmap_free(&d->doc_ids);
}

static const char *astr(dataset *d, const char *s, size_t n) { return cn_arena_strndup(&d->arena, s, n); }

static bool json_to_id(json_t *v, char *out, size_t cap)
{
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n == 0 || n >= cap)
			return false;
		memcpy(out, json_string_value(v), n);
		out[n] = '\0';
		return true;
	}
	if (json_is_integer(v)) {
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
		return true;
	}
	return false;
}

static cairn_status add_doc(dataset *d, const char *id, const char *title, size_t tlen, const char *text, size_t len,
                            size_t *index, cn_err *err)
{
	char buf[300];
	snprintf(buf, sizeof buf, "%s", id);
	/* ids must be unique in the KB: a repeated one gets a suffix */
	for (int k = 2; cn_strmap_get(&d->doc_ids, buf, strlen(buf)) != UINT32_MAX && k < 1000000; k++)
		snprintf(buf, sizeof buf, "%s#%d", id, k);
	uint32_t sid;
	bool added;
	if (CN_GROW(d->docs, d->cap_docs, d->n_docs + 1) || cn_strmap_put(&d->doc_ids, buf, strlen(buf), &sid, &added))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	document *doc = &d->docs[d->n_docs];
	memset(doc, 0, sizeof *doc);
	doc->id = astr(d, buf, strlen(buf));
	doc->title = astr(d, title, tlen);
	doc->text = astr(d, text, len);
	doc->len = len;
	if (!doc->id || !doc->title || !doc->text)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	*index = d->n_docs++;
	return CAIRN_OK;
}

static question *new_question(dataset *d, cn_err *err)
{
	if (CN_GROW(d->qs, d->cap_qs, d->n_qs + 1)) {
		cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		return NULL;
	}
	question *q = &d->qs[d->n_qs++];
	memset(q, 0, sizeof *q);
	return q;
}

/* ---- SQuAD ---- */

static cairn_status load_squad(dataset *d, const char *path, cn_err *err)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_DATA_BYTES, &data, &len, err);
	if (st)
		return st;
	json_error_t je;
	json_t *root = json_loadb(data, len, 0, &je);
	cn_free(data);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%d: not JSON: %s", path, je.line, je.text);
	json_t *arts = json_object_get(root, "data");
	if (!json_is_array(arts)) {
		json_decref(root);
		return cn_err_set(err, CAIRN_EFORMAT, "%s: no \"data\" array (not SQuAD format)", path);
	}
	snprintf(d->format, sizeof d->format, "squad");
	size_t ai;
	json_t *art;
	json_array_foreach(arts, ai, art) {
		json_t *paras = json_object_get(art, "paragraphs");
		if (!json_is_array(paras)) {
			st = cn_err_set(err, CAIRN_EFORMAT, "%s: data[%zu] has no \"paragraphs\" array", path, ai);
			break;
		}
		const char *atitle = json_string_value(json_object_get(art, "title"));
		size_t pi;
		json_t *para;
		json_array_foreach(paras, pi, para) {
			json_t *ctx = json_object_get(para, "context");
			json_t *qas = json_object_get(para, "qas");
			if (!json_is_string(ctx) || !json_is_array(qas)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s: data[%zu].paragraphs[%zu] lacks \"context\" or \"qas\"",
				                path, ai, pi);
				break;
			}
			const char *text = json_string_value(ctx);
			size_t tlen = json_string_length(ctx);
			char id[256];
			if (!json_to_id(json_object_get(para, "document_id"), id, sizeof id) || strchr(id, '"') ||
			    strchr(id, '\\'))
				snprintf(id, sizeof id, "a%zu.p%zu", ai, pi);
			/* title: the article's, else the context's first line (COVID-QA: the paper title) */
			const char *title = atitle ? atitle : text;
			size_t tl = atitle ? strlen(atitle) : 0;
			if (!atitle) {
				while (tl < tlen && tl < 300 && text[tl] != '\n')
					tl++;
				while (tl > 0 && tl < tlen && ((unsigned char)text[tl] & 0xC0) == 0x80)
					tl--;
			}
			size_t di;
			if ((st = add_doc(d, id, title, tl, text, tlen, &di, err)))
				break;
			size_t qi;
			json_t *qa;
			json_array_foreach(qas, qi, qa) {
				json_t *qt = json_object_get(qa, "question");
				json_t *ans = json_object_get(qa, "answers");
				if (json_is_true(json_object_get(qa, "is_impossible"))) {
					d->skipped_impossible++;
					continue;
				}
				if (!json_is_string(qt) || !json_is_array(ans) || json_array_size(ans) == 0) {
					st = cn_err_set(err, CAIRN_EFORMAT, "%s: data[%zu].paragraphs[%zu].qas[%zu] lacks a question or answers",
					                path, ai, pi, qi);
					break;
				}
				question *q = new_question(d, err);
				if (!q) {
					st = CAIRN_ENOMEM;
					break;
				}
				char qid[256];
				if (!json_to_id(json_object_get(qa, "id"), qid, sizeof qid))
					snprintf(qid, sizeof qid, "q%zu", d->n_qs);
				q->id = astr(d, qid, strlen(qid));
				q->text = astr(d, json_string_value(qt), json_string_length(qt));
				q->doc = di;
				q->n_gold = json_array_size(ans);
				q->gold = cn_arena_alloc(&d->arena, q->n_gold * sizeof *q->gold);
				q->no_docs = cn_arena_alloc(&d->arena, sizeof *q->no_docs);
				if (!q->id || !q->text || !q->gold || !q->no_docs) {
					st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					break;
				}
				q->no_docs[0] = d->docs[di].id;
				q->n_no_docs = 1;
				for (size_t g = 0; g < q->n_gold; g++) {
					json_t *t = json_object_get(json_array_get(ans, g), "text");
					q->gold[g] = json_is_string(t) ? astr(d, json_string_value(t), json_string_length(t)) : "";
					if (!q->gold[g])
						st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				}
				if (st)
					break;
			}
			if (st)
				break;
		}
		if (st)
			break;
	}
	json_decref(root);
	if (!st && d->n_qs == 0)
		st = cn_err_set(err, CAIRN_EEMPTY, "%s: no answerable questions", path);
	return st;
}

/* ---- SciFact ---- */

static char *collapse(dataset *d, const char *s, size_t n)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_ws_collapse(&b, s, n);
	char *r = b.failed ? NULL : cn_arena_strndup(&d->arena, b.data ? b.data : "", b.len);
	cn_buf_free(&b);
	return r;
}

static cairn_status load_scifact(dataset *d, const char *dir, const char *claims, cn_err *err)
{
	char path[4096];
	snprintf(d->format, sizeof d->format, "scifact");
	snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_DATA_BYTES, &data, &len, err);
	if (st)
		return st;
	size_t lineno = 0;
	cn_buf text;
	cn_buf_init(&text);
	for (size_t i = 0; !st && i < len;) {
		size_t e = i;
		while (e < len && data[e] != '\n')
			e++;
		lineno++;
		if (e > i) {
			json_error_t je;
			json_t *o = json_loadb(data + i, e - i, 0, &je);
			json_t *abs = o ? json_object_get(o, "abstract") : NULL;
			json_t *title = o ? json_object_get(o, "title") : NULL;
			char id[64];
			if (!o || !json_is_array(abs) || !json_to_id(json_object_get(o, "doc_id"), id, sizeof id)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: not a SciFact abstract (doc_id, title, abstract[])", path,
				                lineno);
			} else {
				cn_buf_reset(&text);
				size_t ns = json_array_size(abs);
				for (size_t k = 0; k < ns; k++) {
					json_t *s = json_array_get(abs, k);
					if (k)
						cn_buf_puts(&text, "\n\n");
					if (json_is_string(s))
						cn_buf_append(&text, json_string_value(s), json_string_length(s));
				}
				size_t di;
				const char *t = json_is_string(title) ? json_string_value(title) : "";
				if (text.failed)
					st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
				if (!st)
					st = add_doc(d, id, t, strlen(t), text.data ? text.data : "", text.len, &di, err);
				if (!st) {
					document *doc = &d->docs[di];
					doc->n_sents = ns;
					doc->sents = ns ? cn_arena_alloc(&d->arena, ns * sizeof *doc->sents) : NULL;
					if (ns && !doc->sents)
						st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					for (size_t k = 0; !st && k < ns; k++) {
						json_t *s = json_array_get(abs, k);
						doc->sents[k] = json_is_string(s) ? collapse(d, json_string_value(s), json_string_length(s)) : "";
						if (!doc->sents[k])
							st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					}
				}
			}
			json_decref(o);
		}
		i = e + 1;
	}
	cn_buf_free(&text);
	cn_free(data);
	if (st)
		return st;
	snprintf(path, sizeof path, "%s/%s", dir, claims);
	if ((st = cn_file_read(path, MAX_DATA_BYTES, &data, &len, err)))
		return st;
	lineno = 0;
	for (size_t i = 0; !st && i < len;) {
		size_t e = i;
		while (e < len && data[e] != '\n')
			e++;
		lineno++;
		if (e > i) {
			json_error_t je;
			json_t *o = json_loadb(data + i, e - i, 0, &je);
			json_t *claim = o ? json_object_get(o, "claim") : NULL;
			json_t *ev = o ? json_object_get(o, "evidence") : NULL;
			json_t *cited = o ? json_object_get(o, "cited_doc_ids") : NULL;
			char id[64];
			if (!o || !json_is_string(claim) || !json_to_id(json_object_get(o, "id"), id, sizeof id)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: not a SciFact claim (id, claim)", path, lineno);
			} else if (ev && !json_is_object(ev)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: \"evidence\" is not an object", path, lineno);
			} else {
				question *q = new_question(d, err);
				if (!q) {
					st = CAIRN_ENOMEM;
				} else {
					q->id = astr(d, id, strlen(id));
					q->text = astr(d, json_string_value(claim), json_string_length(claim));
					size_t sets = 0;
					const char *key;
					json_t *val;
					if (ev)
						json_object_foreach(ev, key, val) sets += json_is_array(val) ? json_array_size(val) : 0;
					size_t ncited = json_is_array(cited) ? json_array_size(cited) : 0;
					size_t nev = ev ? json_object_size(ev) : 0;
					q->ev_doc = cn_arena_alloc(&d->arena, (sets + 1) * sizeof *q->ev_doc);
					q->ev_sents = cn_arena_alloc(&d->arena, (sets + 1) * sizeof *q->ev_sents);
					q->ev_n = cn_arena_alloc(&d->arena, (sets + 1) * sizeof *q->ev_n);
					q->no_docs = cn_arena_alloc(&d->arena, (nev + ncited + 1) * sizeof *q->no_docs);
					if (!q->id || !q->text || !q->ev_doc || !q->ev_sents || !q->ev_n || !q->no_docs)
						st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					if (ev && !st) {
						json_object_foreach(ev, key, val) {
							const char *dk = astr(d, key, strlen(key));
							if (!dk) {
								st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
								break;
							}
							q->no_docs[q->n_no_docs++] = dk;
							size_t si;
							json_t *set;
							if (!json_is_array(val))
								continue;
							json_array_foreach(val, si, set) {
								json_t *ss = json_object_get(set, "sentences");
								size_t n = json_is_array(ss) ? json_array_size(ss) : 0;
								uint32_t *v = cn_arena_alloc(&d->arena, (n + 1) * sizeof *v);
								if (!v) {
									st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
									break;
								}
								size_t m = 0;
								for (size_t k = 0; k < n; k++) {
									json_t *x = json_array_get(ss, k);
									if (json_is_integer(x) && json_integer_value(x) >= 0 &&
									    json_integer_value(x) < 100000)
										v[m++] = (uint32_t)json_integer_value(x);
								}
								q->ev_doc[q->n_sets] = dk;
								q->ev_sents[q->n_sets] = v;
								q->ev_n[q->n_sets] = m;
								q->n_sets++;
							}
							if (st)
								break;
						}
					}
					for (size_t k = 0; !st && k < ncited; k++) {
						char cid[64];
						if (!json_to_id(json_array_get(cited, k), cid, sizeof cid))
							continue;
						bool dup = false;
						for (size_t m = 0; m < q->n_no_docs; m++)
							dup |= !strcmp(q->no_docs[m], cid);
						if (!dup && (q->no_docs[q->n_no_docs] = astr(d, cid, strlen(cid))))
							q->n_no_docs++;
					}
				}
			}
			json_decref(o);
		}
		i = e + 1;
	}
	cn_free(data);
	if (!st && d->n_qs == 0)
		st = cn_err_set(err, CAIRN_EEMPTY, "%s: no claims", path);
	return st;
}

/* ---- running ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *norm(const char *s, size_t n)
{
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_putc(&b, ' ');
	cn_squad_normalize(&b, s, n);
	cn_buf_putc(&b, ' ');
	cn_buf_putc(&b, '\0');
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

/* Is normalised gold (" g ") inside normalised hay (" h ")? Token-aligned by the spaces. */
static bool contains_norm(const char *hay, const char *gold)
{
	return gold && hay && strlen(gold) > 2 && strstr(hay, gold) != NULL;
}

typedef struct accum {
	double em, f1, em_ans, f1_ans, grounded, in_ctx, support, cprec, conf;
	int64_t n, answered, abst, n_unans, abst_unans, n_nei, abst_nei;
	/* scifact */
	int64_t retrieved, relevant, correct_full, correct_lenient;
	int64_t rel_n[CAIRN_RELIABILITY_BINS];
	double rel_conf[CAIRN_RELIABILITY_BINS], rel_acc[CAIRN_RELIABILITY_BINS];
	double *lat, *ttft;
	size_t nlat, caplat, capttft;
	/* generation quality and cost (every ask, answerable or not) */
	double rouge, bleu, tin, tout;
	cn_bleu_stats corpus;
	int64_t refused;
	bool measured;
	cn_ask_cost last;       /* the latest ask's, for its per-question row */
	FILE *pq;               /* per-question JSON Lines, or NULL */
	bool pq_failed;
} accum;

/* One per-question row (the JSON Lines set's schema; scores < 0 are left out). */
static void pq_row(accum *A, const char *id, const char *qtext, bool answerable, bool abst, const cairn_answer *a,
                   const char *const *gold, size_t n_gold, double em, double f1, double rl, double bleu,
                   double price_in, double price_out)
{
	if (!A->pq)
		return;
	const cairn_answer_view *v = cairn_answer_get(a);
	const cn_ask_cost *c = &A->last;
	json_t *row = json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "id", id, "question",
	                        qtext, "answerable", answerable, "abstained", abst, "refused", v->guard.refused != 0,
	                        "answer", v->answer ? v->answer : "", "confidence", v->confidence, "latency_ms",
	                        c->latency_ms, "ttft_ms", c->ttft_ms, "tokens_in", c->tokens_in, "tokens_out", c->tokens_out,
	                        "cost", c->tokens_in / 1000 * price_in + c->tokens_out / 1000 * price_out);
	if (!row) {
		A->pq_failed = true;
		return;
	}
	if (!abst)
		json_object_set_new(row, "support_rate", json_real(v->support_rate));
	const char *names[4] = {"em", "f1", "rouge_l", "bleu"};
	double vals[4] = {em, f1, rl, bleu};
	for (int k = 0; k < 4; k++)
		if (vals[k] >= 0)
			json_object_set_new(row, names[k], json_real(vals[k]));
	if (!cn_eval_row_answer(row, a, abst, gold, n_gold))
		A->pq_failed = true;
	char *line = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!line || fprintf(A->pq, "%s\n", line) < 0)
		A->pq_failed = true;
	free(line);
	json_decref(row);
}

static void reliability_add(accum *A, double conf, bool correct)
{
	int b = (int)(conf * CAIRN_RELIABILITY_BINS);
	if (b < 0)
		b = 0;
	if (b >= CAIRN_RELIABILITY_BINS)
		b = CAIRN_RELIABILITY_BINS - 1;
	A->rel_n[b]++;
	A->rel_conf[b] += conf;
	A->rel_acc[b] += correct;
}

static cairn_status ask_timed(cairn_kb *kb, const char *q, const cairn_ask_params *ap, cairn_answer **out, accum *A,
                              cn_err *err)
{
	uint64_t t0 = cn_now_ns();
	cairn_status st = cairn_ask(kb, q, ap, out);
	if (st)
		return cn_err_set(err, st, "asking \"%.80s\": %s", q, cairn_kb_errmsg(kb));
	double ms = (double)(cn_now_ns() - t0) / 1e6;
	cn_ask_cost c;
	cn_eval_ask_cost(*out, q, ms, &c);
	A->last = c;
	if (!CN_GROW(A->lat, A->caplat, A->nlat + 1) && !CN_GROW(A->ttft, A->capttft, A->nlat + 1)) {
		A->ttft[A->nlat] = c.ttft_ms;
		A->lat[A->nlat++] = ms;
	}
	A->tin += c.tokens_in;
	A->tout += c.tokens_out;
	A->measured |= c.measured;
	A->refused += cairn_answer_get(*out)->guard.refused != 0;
	return CAIRN_OK;
}

static void write_features(cn_buf *fb, const question *q, size_t split, int answerable, int label, const cairn_answer *a,
                           double em, double f1)
{
	if (!fb)
		return;
	double f[CN_ANS_NFEAT];
	cn_answer_features(a, f);
	cn_buf_printf(fb, "%s\t%zu\t%d\t%d\t%.6f", q->id, split, answerable, label, cairn_answer_get(a)->confidence);
	for (int i = 0; i < CN_ANS_NFEAT; i++)
		cn_buf_printf(fb, "\t%.6f", f[i]);
	cn_buf_printf(fb, "\t%.4f\t%.4f\n", em, f1);
}

/* The filter that removes q's gold documents. */
static char *no_gold_filter(const question *q)
{
	cn_buf b;
	cn_buf_init(&b);
	for (size_t i = 0; i < q->n_no_docs; i++) {
		if (strchr(q->no_docs[i], '"') || strchr(q->no_docs[i], '\\'))
			continue;
		cn_buf_printf(&b, "%sNOT doc=\"%s\"", b.len ? " " : "", q->no_docs[i]);
	}
	cn_buf_putc(&b, '\0');
	if (b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	return cn_buf_take(&b);
}

static cairn_status run_squad(cairn_kb *kb, const dataset *d, const cairn_answer_eval_params *p, size_t nq, accum *A,
                              cn_buf *fb, cn_err *err)
{
	cairn_ask_params ap = p->ask;
	ap.min_confidence = 0;
	double thr = p->ask.min_confidence;
	cairn_status st = CAIRN_OK;
	for (size_t i = 0; !st && i < nq; i++) {
		const question *q = &d->qs[i];
		cairn_answer *a = NULL;
		if ((st = ask_timed(kb, q->text, &ap, &a, A, err)))
			break;
		const cairn_answer_view *v = cairn_answer_get(a);
		bool abst = v->abstained || v->confidence < thr;
		double em = 0, f1 = 0;
		bool grounded = false, inctx = false;
		char **gn = cn_calloc(q->n_gold ? q->n_gold : 1, sizeof *gn);
		if (!gn) {
			cairn_answer_free(a);
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
		for (size_t g = 0; g < q->n_gold; g++)
			gn[g] = norm(q->gold[g], strlen(q->gold[g]));
		if (!v->abstained) {
			for (size_t g = 0; g < q->n_gold; g++) {
				double e = cn_squad_exact(v->answer, q->gold[g]), f = cn_squad_f1(v->answer, q->gold[g]);
				em = e > em ? e : em;
				f1 = f > f1 ? f : f1;
			}
			for (size_t c = 0; c < v->n_citations && !grounded; c++) {
				char *h = norm(v->citations[c].quote, strlen(v->citations[c].quote));
				for (size_t g = 0; g < q->n_gold && !grounded; g++)
					grounded = contains_norm(h, gn[g]);
				cn_free(h);
			}
		}
		for (size_t c = 0; c < cn_answer_context_count(a) && !inctx; c++) {
			size_t len;
			const char *doc = NULL;
			const char *t = cn_answer_context_text(a, c, &len, &doc);
			if (!t || strcmp(doc, d->docs[q->doc].id) != 0)
				continue;
			char *h = norm(t, len);
			for (size_t g = 0; g < q->n_gold && !inctx; g++)
				inctx = contains_norm(h, gn[g]);
			cn_free(h);
		}
		A->n++;
		A->in_ctx += inctx;
		A->conf += v->confidence;
		reliability_add(A, v->confidence, grounded);
		write_features(fb, q, q->doc % 2, 1, grounded, a, em, f1);
		double q_rl = 0, q_bleu = 0;
		if (!abst) {
			cn_bleu_stats bs;
			if (cn_bleu_stats_of(v->answer, q->gold, q->n_gold, &bs) == CAIRN_OK) {
				q_bleu = cn_bleu_sentence(&bs);
				cn_bleu_add(&A->corpus, &bs);
			}
			q_rl = cn_rouge_l(v->answer, q->gold, q->n_gold);
			A->rouge += q_rl;
			A->bleu += q_bleu;
		} else {
			cn_bleu_stats bs;
			if (cn_bleu_stats_of("", q->gold, q->n_gold, &bs) == CAIRN_OK)
				cn_bleu_add(&A->corpus, &bs);
		}
		pq_row(A, q->id, q->text, true, abst, a, q->gold, q->n_gold, abst ? 0 : em, abst ? 0 : f1, q_rl, q_bleu,
		       p->price_input_per_1k, p->price_output_per_1k);
		if (abst) {
			A->abst++;
		} else {
			A->answered++;
			A->em += em;
			A->f1 += f1;
			A->grounded += grounded;
			A->support += v->support_rate;
			A->cprec += v->citation_precision;
		}
		cairn_answer_free(a);
		/* the same question with its paper removed */
		if (p->unanswerable) {
			char *flt = no_gold_filter(q);
			ap.filter = flt;
			st = flt ? ask_timed(kb, q->text, &ap, &a, A, err) : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			ap.filter = p->ask.filter;
			cn_free(flt);
			if (!st) {
				v = cairn_answer_get(a);
				A->n_unans++;
				A->abst_unans += v->abstained || v->confidence < thr;
				reliability_add(A, v->confidence, false);
				pq_row(A, q->id, q->text, false, v->abstained || v->confidence < thr, a, NULL, 0, -1, -1, -1, -1,
				       p->price_input_per_1k, p->price_output_per_1k);
				write_features(fb, q, q->doc % 2, 0, 0, a, 0, 0);
				cairn_answer_free(a);
			}
		}
		for (size_t g = 0; g < q->n_gold; g++)
			cn_free(gn[g]);
		cn_free(gn);
		if (p->on_progress && (i + 1) % 20 == 0) {
			cairn_ingest_progress pr = {(int64_t)i + 1, (int64_t)nq, 0, 0, q->id};
			if (p->on_progress(&pr, p->user_data))
				st = cn_err_set(err, CAIRN_EINTERRUPTED, "eval: stopped");
		}
	}
	return st;
}

/* The abstract sentence a quote comes from (-1 when none holds it). */
static int sentence_of(dataset *d, const document *doc, const char *quote)
{
	char *q = collapse(d, quote, strlen(quote));
	if (!q || !*q)
		return -1;
	for (size_t i = 0; i < doc->n_sents; i++)
		if (strstr(doc->sents[i], q))
			return (int)i;
	return -1;
}

static cairn_status run_scifact(cairn_kb *kb, dataset *d, const cairn_answer_eval_params *p, size_t nq, accum *A,
                                cn_buf *fb, cn_err *err)
{
	cairn_ask_params ap = p->ask;
	ap.min_confidence = 0;
	double thr = p->ask.min_confidence;
	cairn_status st = CAIRN_OK;
	for (size_t i = 0; !st && i < nq; i++) {
		const question *q = &d->qs[i];
		bool has_ev = q->n_sets > 0;
		for (size_t s = 0; s < q->n_sets; s++)
			A->relevant += (int64_t)q->ev_n[s];
		cairn_answer *a = NULL;
		if ((st = ask_timed(kb, q->text, &ap, &a, A, err)))
			break;
		const cairn_answer_view *v = cairn_answer_get(a);
		bool abst = v->abstained || v->confidence < thr;
		/* predicted (doc, sentence) pairs */
		const char *pdoc[16];
		int psent[16];
		size_t np = 0;
		for (size_t c = 0; !v->abstained && c < v->n_citations && np < 16; c++) {
			uint32_t di = cn_strmap_get(&d->doc_ids, v->citations[c].doc_id, strlen(v->citations[c].doc_id));
			if (di == UINT32_MAX)
				continue;
			int si = sentence_of(d, &d->docs[di], v->citations[c].quote);
			if (si < 0)
				continue;
			bool dup = false;
			for (size_t k = 0; k < np; k++)
				dup |= psent[k] == si && !strcmp(pdoc[k], d->docs[di].id);
			if (!dup) {
				pdoc[np] = d->docs[di].id;
				psent[np++] = si;
			}
		}
		bool any_correct = false; /* the would-be answer's, abstained or not (reliability) */
		{
			if (!abst)
				A->retrieved += (int64_t)np;
			for (size_t k = 0; k < np; k++) {
				bool lenient = false, full = false;
				for (size_t s = 0; s < q->n_sets; s++) {
					if (strcmp(q->ev_doc[s], pdoc[k]) != 0)
						continue;
					bool in = false;
					for (size_t m = 0; m < q->ev_n[s]; m++)
						in |= (int)q->ev_sents[s][m] == psent[k];
					if (!in)
						continue;
					lenient = true;
					/* every sentence of this rationale predicted too */
					bool all = true;
					for (size_t m = 0; m < q->ev_n[s]; m++) {
						bool got = false;
						for (size_t r = 0; r < np; r++)
							got |= psent[r] == (int)q->ev_sents[s][m] && !strcmp(pdoc[r], pdoc[k]);
						all &= got;
					}
					full |= all;
				}
				if (!abst) {
					A->correct_lenient += lenient;
					A->correct_full += full;
				}
				any_correct |= lenient;
			}
		}
		A->conf += v->confidence;
		if (has_ev) {
			A->n++;
			reliability_add(A, v->confidence, any_correct);
			write_features(fb, q, i % 2, 1, any_correct, a, 0, 0);
			pq_row(A, q->id, q->text, true, abst, a, NULL, 0, -1, -1, -1, -1, p->price_input_per_1k,
			       p->price_output_per_1k);
			if (abst) {
				A->abst++;
			} else {
				A->answered++;
				A->grounded += any_correct;
				A->support += v->support_rate;
				A->cprec += v->citation_precision;
			}
		} else {
			A->n_nei++;
			pq_row(A, q->id, q->text, false, abst, a, NULL, 0, -1, -1, -1, -1, p->price_input_per_1k,
			       p->price_output_per_1k);
			A->abst_nei += abst;
		}
		cairn_answer_free(a);
		if (has_ev && p->unanswerable) {
			char *flt = no_gold_filter(q);
			ap.filter = flt;
			st = flt ? ask_timed(kb, q->text, &ap, &a, A, err) : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			ap.filter = p->ask.filter;
			cn_free(flt);
			if (!st) {
				v = cairn_answer_get(a);
				A->n_unans++;
				A->abst_unans += v->abstained || v->confidence < thr;
				reliability_add(A, v->confidence, false);
				pq_row(A, q->id, q->text, false, v->abstained || v->confidence < thr, a, NULL, 0, -1, -1, -1, -1,
				       p->price_input_per_1k, p->price_output_per_1k);
				write_features(fb, q, i % 2, 0, 0, a, 0, 0);
				cairn_answer_free(a);
			}
		}
		if (p->on_progress && (i + 1) % 20 == 0) {
			cairn_ingest_progress pr = {(int64_t)i + 1, (int64_t)nq, 0, 0, q->id};
			if (p->on_progress(&pr, p->user_data))
				st = cn_err_set(err, CAIRN_EINTERRUPTED, "eval: stopped");
		}
	}
	return st;
}

/* The first (by name) *.json file of dir into out; 0 when found. */
static int first_json(const char *dir, char *out, size_t cap)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return -1;
	out[0] = '\0';
	struct dirent *e;
	while ((e = readdir(dh))) {
		size_t n = strlen(e->d_name);
		if (n > 5 && n < cap && !strcmp(e->d_name + n - 5, ".json") && e->d_name[0] != '.' &&
		    (!out[0] || strcmp(e->d_name, out) < 0))
			memcpy(out, e->d_name, n + 1);
	}
	closedir(dh);
	return out[0] ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static cairn_status eval_answers(const char *dataset_path, const cairn_answer_eval_params *p,
                                 cairn_answer_eval_report *out, cn_err *err)
{
	uint64_t t_start = cn_now_ns();
	dataset d;
	memset(&d, 0, sizeof d);
	cn_arena_init(&d.arena, 1 << 20);
	cn_strmap_init(&d.doc_ids);
	cairn_status st;
	char path[4096];
	/* layout: a SciFact directory, a SQuAD JSON file, or a directory holding one JSON file */
	snprintf(path, sizeof path, "%s/corpus.jsonl", dataset_path);
	size_t dl = strlen(dataset_path);
	if (!cn_is_dir(dataset_path) && dl > 6 && !strcmp(dataset_path + dl - 6, ".jsonl")) {
		dataset_free(&d);
		snprintf(out->dataset, sizeof out->dataset, "%s", dataset_path);
		return cn_eval_answers_jsonl(dataset_path, p, out, err);
	}
	if (p->kb_dir || p->corpus) {
		dataset_free(&d);
		return cn_err_set(err, CAIRN_EINVAL, "%s: --kb and --corpus apply to JSON Lines sets only (SQuAD and SciFact "
		                  "sets hold their documents)", dataset_path);
	}
	if (cn_is_dir(dataset_path) && cn_path_exists(path)) {
		cn_eval_fingerprint(path, &out->dataset_bytes, &out->dataset_crc32c);
		char cpath[4096];
		snprintf(cpath, sizeof cpath, "%s/%s", dataset_path, p->claims ? p->claims : "claims_dev.jsonl");
		cn_eval_fingerprint(cpath, &out->dataset_bytes, &out->dataset_crc32c);
		st = load_scifact(&d, dataset_path, p->claims ? p->claims : "claims_dev.jsonl", err);
	} else if (cn_is_dir(dataset_path)) {
		char name[1024];
		if (first_json(dataset_path, name, sizeof name) != 0) {
			st = cn_err_set(err, CAIRN_ENOTFOUND,
			                "%s: neither a SciFact directory (corpus.jsonl) nor one holding a SQuAD .json file",
			                dataset_path);
		} else {
			snprintf(path, sizeof path, "%s/%s", dataset_path, name);
			cn_eval_fingerprint(path, &out->dataset_bytes, &out->dataset_crc32c);
			st = load_squad(&d, path, err);
		}
	} else {
		cn_eval_fingerprint(dataset_path, &out->dataset_bytes, &out->dataset_crc32c);
		st = load_squad(&d, dataset_path, err);
	}
	if (st) {
		dataset_free(&d);
		return st;
	}
	snprintf(out->dataset, sizeof out->dataset, "%s", dataset_path);
	snprintf(out->format, sizeof out->format, "%s", d.format);
	out->documents = (int64_t)d.n_docs;

	/* the knowledge base */
	char kbdir[4096];
	if (p->work_dir) {
		if ((st = cn_mkdir_p(p->work_dir, err))) {
			dataset_free(&d);
			return st;
		}
		snprintf(kbdir, sizeof kbdir, "%s/cairn-evalans-XXXXXX", p->work_dir);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(kbdir, sizeof kbdir, "%s/cairn-evalans-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	}
	if (!mkdtemp(kbdir)) {
		dataset_free(&d);
		return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", kbdir, strerror(errno));
	}
	cairn_kb *kb = NULL;
	char ebuf[1024];
	cairn_kb_params kp = cairn_kb_default_params();
	st = cairn_kb_open(kbdir, &kp, &kb, ebuf, sizeof ebuf);
	if (st)
		cn_err_set(err, st, "%s", ebuf);
	uint64_t t0 = cn_now_ns();
	cairn_ingest_params ip = cairn_ingest_default_params();
	for (size_t i = 0; !st && i < d.n_docs; i++) {
		cairn_record r;
		memset(&r, 0, sizeof r);
		r.doc_id = d.docs[i].id;
		r.title = d.docs[i].title[0] ? d.docs[i].title : NULL;
		r.text = d.docs[i].text;
		r.text_len = d.docs[i].len;
		if (!r.text_len)
			continue;
		st = cairn_kb_add_record(kb, &r, &ip);
		if (st)
			cn_err_set(err, st, "adding %s: %s", r.doc_id, cairn_kb_errmsg(kb));
	}
	if (!st && (st = cairn_kb_commit(kb)))
		cn_err_set(err, st, "commit: %s", cairn_kb_errmsg(kb));
	out->index_build_s = (double)(cn_now_ns() - t0) / 1e9;

	accum A;
	memset(&A, 0, sizeof A);
	cn_buf fb;
	cn_buf_init(&fb);
	if (p->features_path)
		cn_buf_puts(&fb, "qid\tsplit\tanswerable\tcorrect\tconfidence\tcoverage\tcontext_coverage\tchunk_coverage\tmargin\tspan\tmissing_idf\tem\tf1\n");
	size_t nq = d.n_qs;
	if (p->max_questions > 0 && (size_t)p->max_questions < nq)
		nq = (size_t)p->max_questions;
	if (!st && p->per_question_path && !(A.pq = fopen(p->per_question_path, "w")))
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", p->per_question_path, strerror(errno));
	if (!st)
		st = !strcmp(d.format, "squad") ? run_squad(kb, &d, p, nq, &A, p->features_path ? &fb : NULL, err)
		                                : run_scifact(kb, &d, p, nq, &A, p->features_path ? &fb : NULL, err);
	if (!st && p->features_path) {
		if (fb.failed)
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		else
			st = cn_file_write_atomic(p->features_path, fb.data ? fb.data : "", fb.len, err);
	}
	cn_buf_free(&fb);
	if (A.pq && (fclose(A.pq) != 0 || A.pq_failed) && !st)
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot write", p->per_question_path);
	cn_eval_kb_facts(kb, out);
	cairn_kb_close(kb);
	if (!p->work_dir && nftw(kbdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		cn_log(CAIRN_LOG_WARN, "eval: could not remove %s: %s", kbdir, strerror(errno));
	if (!st) {
		out->questions = A.n;
		out->answer_rate = ratio((double)A.answered, (double)A.n);
		out->exact_match = ratio(A.em, (double)A.n);
		out->f1 = ratio(A.f1, (double)A.n);
		out->exact_match_answered = ratio(A.em, (double)A.answered);
		out->f1_answered = ratio(A.f1, (double)A.answered);
		out->gold_in_citations = ratio(A.grounded, (double)A.answered);
		out->gold_in_context = ratio(A.in_ctx, (double)A.n);
		double P = ratio((double)A.correct_lenient, (double)A.retrieved), R = ratio((double)A.correct_lenient, (double)A.relevant);
		out->rationale_p = P;
		out->rationale_r = R;
		out->rationale_f1 = P + R > 0 ? 2 * P * R / (P + R) : 0;
		P = ratio((double)A.correct_full, (double)A.retrieved);
		R = ratio((double)A.correct_full, (double)A.relevant);
		out->rationale_p_full = P;
		out->rationale_r_full = R;
		out->rationale_f1_full = P + R > 0 ? 2 * P * R / (P + R) : 0;
		out->claims_with_evidence = !strcmp(d.format, "scifact") ? A.n : 0;
		out->claims_nei = A.n_nei;
		out->nei_abstention = ratio((double)A.abst_nei, (double)A.n_nei);
		out->abstain_answerable = ratio((double)A.abst, (double)A.n);
		out->abstain_unanswerable = ratio((double)A.abst_unans, (double)A.n_unans);
		out->unanswerable_questions = A.n_unans;
		out->support_rate = ratio(A.support, (double)A.answered);
		out->citation_precision = ratio(A.cprec, (double)A.answered);
		out->mean_confidence = ratio(A.conf, (double)(A.n + A.n_nei));
		for (int b = 0; b < CAIRN_RELIABILITY_BINS; b++) {
			out->rel_n[b] = A.rel_n[b];
			out->rel_conf[b] = ratio(A.rel_conf[b], (double)A.rel_n[b]);
			out->rel_acc[b] = ratio(A.rel_acc[b], (double)A.rel_n[b]);
		}
		if (A.nlat) {
			double s = 0;
			for (size_t i = 0; i < A.nlat; i++)
				s += A.lat[i];
			qsort(A.lat, A.nlat, sizeof *A.lat, cmp_double);
			out->latency_mean_ms = s / (double)A.nlat;
			size_t r = (size_t)ceil(0.95 * (double)A.nlat);
			out->latency_p95_ms = A.lat[(r ? r : 1) - 1];
			out->latency_p50_ms = cn_percentile(A.lat, A.nlat, 50);
			out->latency_p99_ms = cn_percentile(A.lat, A.nlat, 99);
			out->ttft_p50_ms = cn_percentile(A.ttft, A.nlat, 50);
			out->ttft_p95_ms = cn_percentile(A.ttft, A.nlat, 95);
		}
		/* every ask counts for cost and refusals, the unanswerable re-asks included */
		double asks = (double)A.nlat;
		if (!strcmp(d.format, "squad")) {
			out->questions_with_answers = A.n;
			out->rouge_l = ratio(A.rouge, (double)A.n);
			out->bleu = ratio(A.bleu, (double)A.n);
			out->corpus_bleu = cn_bleu_corpus(&A.corpus);
		}
		out->groundedness = out->support_rate;
		out->refusal_rate = ratio((double)A.refused, asks);
		out->tokens_in_mean = ratio(A.tin, asks);
		out->tokens_out_mean = ratio(A.tout, asks);
		out->tokens_measured = A.measured;
		if (p->has_prices) {
			out->cost_total = A.tin / 1000 * p->price_input_per_1k + A.tout / 1000 * p->price_output_per_1k;
			out->cost_per_request = ratio(out->cost_total, asks);
		}
		out->abstention_recall = out->abstain_unanswerable;
		double ab = (double)A.abst_unans + (double)A.abst;
		out->abstention_precision = ratio((double)A.abst_unans, ab);
	}
	cn_free(A.lat);
	cn_free(A.ttft);
	dataset_free(&d);
	out->seconds = (double)(cn_now_ns() - t_start) / 1e9;
	return st;
}

cairn_status cairn_eval_answers(const char *dataset_path, const cairn_answer_eval_params *params,
                                cairn_answer_eval_report *out, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_answer_eval_params defaults = cairn_answer_eval_default_params();
	if (!params)
		params = &defaults;
	memset(out, 0, sizeof *out);
	snprintf(out->version, sizeof out->version, "%s", cairn_version());
	out->seed = params->seed;
	snprintf(out->kb, sizeof out->kb, "built");
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	cairn_status st = dataset_path ? eval_answers(dataset_path, params, out, &err)
	                          : cn_err_set(&err, CAIRN_EINVAL, "eval answers: no dataset given");
	if (st && errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err.msg);
	return st;
}
