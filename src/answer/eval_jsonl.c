/*
 * cairn eval answers on a JSON Lines question set (eval_int.h): the format a team writes by
 * hand, so every field but the question is optional and each metric is computed over the
 * questions that carry what it needs (gold answers for EM/F1/ROUGE-L/BLEU, gold doc ids or
 * evidence for citation precision/recall, "answerable": false for abstention precision and
 * recall). Unlike the SQuAD/SciFact runners, no question is asked twice: a set names its own
 * unanswerable questions. Abstention is decided as there, from the confidence against the
 * caller's min_confidence (the answerer runs with 0), so a threshold can be studied from the
 * per-question file. Per-question rows are JSON Lines written with jansson, so that other
 * tools (cairn eval compare, reports) read them without a second parser.
 */
#include "answer/answer_int.h"
#include "answer/eval_int.h"
#include "answer/eval_metrics.h"
#include "text/text.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SET_BYTES ((size_t)1 << 30)
#define MAX_GOLD 256

void cn_eval_fingerprint(const char *path, uint64_t *bytes, uint32_t *crc)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		*crc = cn_crc32c(*crc, buf, n);
		*bytes += n;
	}
	fclose(f);
}

cairn_status cn_eval_tmpdir(const char *work_dir, const char *tag, char *buf, size_t cap, cn_err *err)
{
	if (work_dir) {
		cairn_status st = cn_mkdir_p(work_dir, err);
		if (st)
			return st;
		snprintf(buf, cap, "%s/cairn-%s-XXXXXX", work_dir, tag);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(buf, cap, "%s/cairn-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	}
	if (!mkdtemp(buf))
		return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", buf, strerror(errno));
	return CAIRN_OK;
}

/* The answerer's estimate (ask.c): four tokens for every three words. */
static size_t words_to_tokens(const char *s)
{
	return (cn_count_words(s, strlen(s)) * 4 + 2) / 3;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void cn_eval_rmtree(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		cn_log(CAIRN_LOG_WARN, "eval: could not remove %s: %s", dir, strerror(errno));
}

void cn_eval_ask_cost(const cairn_answer *a, const char *question, double latency_ms, cn_ask_cost *out)
{
	memset(out, 0, sizeof *out);
	out->latency_ms = latency_ms;
	out->ttft_ms = latency_ms;
	const cairn_answer_view *v = cairn_answer_get(a);
	const gen_info *g = a->gen;
	if (g && g->n_calls > 0 && !g->endpoint) {
		/* a local model: the prompt and every attempt counted by its tokenizer; the first
		 * token comes when the last attempt starts decoding */
		for (int i = 0; i < g->n_calls; i++) {
			out->tokens_in += g->calls[i].prompt_tokens;
			out->tokens_out += g->calls[i].tokens;
		}
		double dec = g->calls[g->n_calls - 1].seconds * 1000;
		out->ttft_ms = latency_ms > dec ? latency_ms - dec : 0;
		out->measured = true;
		return;
	}
	/* extractive, or an endpoint (not streamed: the first token arrives with the reply):
	 * the question and the context in, the answer out, by the built-in estimate */
	out->tokens_in = (double)words_to_tokens(question) + (double)a->used_tokens;
	out->tokens_out = v->answer ? (double)words_to_tokens(v->answer) : 0;
}

typedef struct jq {
	char *id, *text;
	char **answers;
	size_t n_answers;
	cn_gold_item *gold;
	size_t n_gold;
	bool unanswerable;
} jq;

static void jq_free(jq *q)
{
	cn_free(q->id);
	cn_free(q->text);
	for (size_t i = 0; i < q->n_answers; i++)
		cn_free(q->answers[i]);
	cn_free(q->answers);
	for (size_t i = 0; i < q->n_gold; i++) {
		cn_free((char *)q->gold[i].doc_id);
		cn_free((char *)q->gold[i].text);
	}
	cn_free(q->gold);
	memset(q, 0, sizeof *q);
}

static char *dup_str(json_t *v)
{
	if (json_is_string(v))
		return cn_strndup(json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		char b[32];
		snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
		return cn_strndup(b, strlen(b));
	}
	return NULL;
}

/* One line of the set into q; a message naming what is wrong otherwise. */
static cairn_status parse_question(json_t *o, jq *q, size_t lineno, const char *path, cn_err *err)
{
	memset(q, 0, sizeof *q);
	json_t *qt = json_object_get(o, "question");
	if (!json_is_string(qt) || json_string_length(qt) == 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: no \"question\" string", path, lineno);
	json_t *ans = json_object_get(o, "answers");
	json_t *ids = json_object_get(o, "doc_ids");
	json_t *ev = json_object_get(o, "evidence");
	json_t *aw = json_object_get(o, "answerable");
	if ((ans && !json_is_array(ans)) || (ids && !json_is_array(ids)) || (ev && !json_is_array(ev)) ||
	    (aw && !json_is_boolean(aw)))
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s:%zu: \"answers\", \"doc_ids\" and \"evidence\" must be arrays, \"answerable\" a boolean",
		                  path, lineno);
	size_t na = ans ? json_array_size(ans) : 0, ni = ids ? json_array_size(ids) : 0, ne = ev ? json_array_size(ev) : 0;
	if (na > MAX_GOLD || ni + ne > MAX_GOLD)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s:%zu: more than %d answers or gold items", path, lineno, MAX_GOLD);
	q->text = dup_str(qt);
	json_t *idv = json_object_get(o, "id");
	char b[32];
	snprintf(b, sizeof b, "q%zu", lineno);
	q->id = idv ? dup_str(idv) : cn_strndup(b, strlen(b));
	q->answers = cn_calloc(na + 1, sizeof *q->answers);
	q->gold = cn_calloc(ni + ne + 1, sizeof *q->gold);
	if (!q->text || !q->id || !q->answers || !q->gold)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	q->unanswerable = aw && json_is_false(aw);
	for (size_t i = 0; i < na; i++) {
		json_t *a = json_array_get(ans, i);
		if (!json_is_string(a))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: answers[%zu] is not a string", path, lineno, i);
		if (!(q->answers[q->n_answers++] = dup_str(a)))
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ne; i++) {
		json_t *e = json_array_get(ev, i);
		json_t *d = json_object_get(e, "doc_id"), *t = json_object_get(e, "text");
		if (!json_is_object(e) || (!d && !t) || (d && !json_is_string(d) && !json_is_integer(d)) ||
		    (t && !json_is_string(t)))
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: evidence[%zu] needs \"doc_id\" and/or \"text\" strings", path,
			                  lineno, i);
		cn_gold_item *g = &q->gold[q->n_gold++];
		g->doc_id = d ? dup_str(d) : NULL;
		g->text = t ? dup_str(t) : NULL;
		if ((d && !g->doc_id) || (t && !g->text))
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ni; i++) {
		char *d = dup_str(json_array_get(ids, i));
		if (!d)
			return cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: doc_ids[%zu] is not a string", path, lineno, i);
		bool named = false; /* an evidence item already names this document */
		for (size_t k = 0; k < q->n_gold && !named; k++)
			named = q->gold[k].doc_id && !strcmp(q->gold[k].doc_id, d);
		if (named) {
			cn_free(d);
			continue;
		}
		q->gold[q->n_gold].doc_id = d;
		q->gold[q->n_gold++].text = NULL;
	}
	return CAIRN_OK;
}

static cairn_status load_set(const char *path, jq **out, size_t *n_out, cn_err *err)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_SET_BYTES, &data, &len, err);
	if (st)
		return st;
	jq *qs = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	for (size_t i = 0; !st && i < len;) {
		size_t e = i;
		while (e < len && data[e] != '\n')
			e++;
		lineno++;
		size_t b = i;
		while (b < e && (data[b] == ' ' || data[b] == '\t' || data[b] == '\r'))
			b++;
		if (b < e) {
			json_error_t je;
			json_t *o = json_loadb(data + b, e - b, 0, &je);
			if (!json_is_object(o)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: not a JSON object: %s", path, lineno,
				                o ? "another JSON value" : je.text);
			} else if (CN_GROW(qs, cap, n + 1)) {
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			} else {
				st = parse_question(o, &qs[n], lineno, path, err);
				n++;
			}
			json_decref(o);
		}
		i = e + 1;
	}
	cn_free(data);
	if (!st && n == 0)
		st = cn_err_set(err, CAIRN_EEMPTY, "%s: no questions", path);
	if (st) {
		for (size_t i = 0; i < n; i++)
			jq_free(&qs[i]);
		cn_free(qs);
		return st;
	}
	*out = qs;
	*n_out = n;
	return CAIRN_OK;
}

/* A .jsonl corpus: one record per line, {"doc_id"|"id"|"_id", "title"?, "text"|"contents"}. */
static cairn_status ingest_records(cairn_kb *kb, const char *path, int64_t *docs, cn_err *err)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_SET_BYTES, &data, &len, err);
	if (st)
		return st;
	cairn_ingest_params ip = cairn_ingest_default_params();
	size_t lineno = 0;
	for (size_t i = 0; !st && i < len;) {
		size_t e = i;
		while (e < len && data[e] != '\n')
			e++;
		lineno++;
		if (e > i && !(e == i + 1 && data[i] == '\r')) {
			json_error_t je;
			json_t *o = json_loadb(data + i, e - i, 0, &je);
			json_t *id = json_object_get(o, "doc_id");
			if (!id)
				id = json_object_get(o, "id");
			if (!id)
				id = json_object_get(o, "_id");
			json_t *t = json_object_get(o, "text");
			if (!t)
				t = json_object_get(o, "contents");
			char *ids = id ? dup_str(id) : NULL;
			if (!json_is_object(o) || !ids || !json_is_string(t)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s:%zu: not a record {\"doc_id\", \"title\", \"text\"}", path,
				                lineno);
			} else if (json_string_length(t) > 0) {
				cairn_record r;
				memset(&r, 0, sizeof r);
				r.doc_id = ids;
				r.title = json_string_value(json_object_get(o, "title"));
				r.text = json_string_value(t);
				r.text_len = json_string_length(t);
				if ((st = cairn_kb_add_record(kb, &r, &ip)))
					cn_err_set(err, st, "%s:%zu: %s", path, lineno, cairn_kb_errmsg(kb));
				else
					(*docs)++;
			}
			cn_free(ids);
			json_decref(o);
		}
		i = e + 1;
	}
	cn_free(data);
	return st;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* the chunk text of a citation from the answer's context, else its quote */
static const char *cited_passage(const cairn_answer *a, const cairn_citation *c)
{
	for (size_t i = 0; i < a->nctx; i++)
		if (a->ctx[i].hit && a->ctx[i].hit->chunk_id == c->chunk_id && a->ctx[i].hit->text)
			return a->ctx[i].hit->text;
	return c->quote;
}

typedef struct totals {
	size_t n, answered, with_answers, with_ev, answered_ev, refused;
	double em, f1, rouge, bleu, support, vcprec, cprec, crec;
	cn_bleu_stats corpus;
	double *lat, *ttft;
	int *unans, *abst;
	double tin, tout, cost;
	bool measured;
} totals;

static const char *path_of(const cairn_answer_eval_params *p)
{
	return p->per_question_path ? p->per_question_path : "eval answers";
}

static cairn_status ask_one(cairn_kb *kb, const jq *q, size_t i, const cairn_answer_eval_params *p,
                            const cairn_ask_params *ap, totals *T, FILE *pq, cn_err *err)
{
	uint64_t t0 = cn_now_ns();
	cairn_answer *a = NULL;
	cairn_status st = cairn_ask(kb, q->text, ap, &a);
	if (st)
		return cn_err_set(err, st, "asking \"%.80s\": %s", q->text, cairn_kb_errmsg(kb));
	double ms = (double)(cn_now_ns() - t0) / 1e6;
	const cairn_answer_view *v = cairn_answer_get(a);
	bool abst = v->abstained || v->confidence < p->ask.min_confidence;
	cn_ask_cost c;
	cn_eval_ask_cost(a, q->text, ms, &c);
	T->lat[i] = c.latency_ms;
	T->ttft[i] = c.ttft_ms;
	T->unans[i] = q->unanswerable;
	T->abst[i] = abst;
	T->tin += c.tokens_in;
	T->tout += c.tokens_out;
	T->measured |= c.measured;
	double cost = p->has_prices ? c.tokens_in / 1000 * p->price_input_per_1k + c.tokens_out / 1000 * p->price_output_per_1k : 0;
	T->cost += cost;
	T->refused += v->guard.refused != 0;
	const char *pred = abst ? "" : v->answer;
	json_t *row = json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "id", q->id, "question",
	                        q->text, "answerable", !q->unanswerable, "abstained", abst, "refused", v->guard.refused != 0,
	                        "answer", v->answer ? v->answer : "", "confidence", v->confidence, "latency_ms", c.latency_ms,
	                        "ttft_ms", c.ttft_ms, "tokens_in", c.tokens_in, "tokens_out", c.tokens_out, "cost", cost);
	if (!row) {
		cairn_answer_free(a);
		return cn_err_set(err, CAIRN_EFORMAT, "%s: question %s: cannot encode its row (not UTF-8?)", path_of(p), q->id);
	}
	T->n++;
	if (!abst) {
		T->answered++;
		T->support += v->support_rate;
		T->vcprec += v->citation_precision;
		json_object_set_new(row, "support_rate", json_real(v->support_rate));
	}
	if (!q->unanswerable && q->n_answers) {
		double em = 0, f1 = 0;
		for (size_t g = 0; g < q->n_answers; g++) {
			double e = cn_squad_exact(pred, q->answers[g]), f = cn_squad_f1(pred, q->answers[g]);
			em = e > em ? e : em;
			f1 = f > f1 ? f : f1;
		}
		if (abst)
			em = f1 = 0;
		double rl = cn_rouge_l(pred, (const char *const *)q->answers, q->n_answers);
		cn_bleu_stats bs;
		if (cn_bleu_stats_of(pred, (const char *const *)q->answers, q->n_answers, &bs)) {
			json_decref(row);
			cairn_answer_free(a);
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
		double bl = cn_bleu_sentence(&bs);
		cn_bleu_add(&T->corpus, &bs);
		T->with_answers++;
		T->em += em;
		T->f1 += f1;
		T->rouge += rl;
		T->bleu += bl;
		json_object_set_new(row, "em", json_real(em));
		json_object_set_new(row, "f1", json_real(f1));
		json_object_set_new(row, "rouge_l", json_real(rl));
		json_object_set_new(row, "bleu", json_real(bl));
	}
	cn_cited *cc = cn_calloc(v->n_citations + 1, sizeof *cc);
	if (!cc || !cn_eval_row_answer(row, a, abst, (const char *const *)q->answers, q->unanswerable ? 0 : q->n_answers)) {
		cn_free(cc);
		json_decref(row);
		cairn_answer_free(a);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t k = 0; !abst && k < v->n_citations; k++) {
		cc[k].doc_id = v->citations[k].doc_id;
		cc[k].passage = cited_passage(a, &v->citations[k]);
	}
	if (!q->unanswerable && q->n_gold) {
		size_t correct = 0, found = 0, nc = abst ? 0 : v->n_citations;
		cn_citation_match(cc, nc, q->gold, q->n_gold, &correct, &found);
		double rec = (double)found / (double)q->n_gold;
		T->with_ev++;
		T->crec += rec;
		json_object_set_new(row, "citation_recall", json_real(rec));
		if (!abst) {
			double prec = nc ? (double)correct / (double)nc : 0;
			T->answered_ev++;
			T->cprec += prec;
			json_object_set_new(row, "citation_precision", json_real(prec));
		}
	}
	cn_free(cc);
	if (pq) {
		char *line = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (!line || fprintf(pq, "%s\n", line) < 0)
			st = cn_err_set(err, line ? CAIRN_EIO : CAIRN_ENOMEM, "%s: cannot write: %s", p->per_question_path,
			                line ? strerror(errno) : "out of memory");
		free(line);
	}
	json_decref(row);
	cairn_answer_free(a);
	return st;
}

/* s cut to at most max bytes, on a UTF-8 character boundary. */
static json_t *json_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return json_string(s);
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return json_stringn(s, max);
}

bool cn_eval_row_answer(json_t *row, const cairn_answer *a, bool abstained, const char *const *gold, size_t n_gold)
{
	const cairn_answer_view *v = cairn_answer_get(a);
	bool ok = true;
	if (n_gold) {
		json_t *g = json_array();
		for (size_t i = 0; g && i < n_gold; i++)
			ok &= json_array_append_new(g, json_string(gold[i])) == 0;
		ok &= g && json_object_set_new(row, "gold", g) == 0;
	}
	json_t *sents = json_array(), *cites = json_array();
	ok &= sents && cites;
	for (size_t i = 0; ok && !abstained && i < v->n_sentences; i++) {
		const cairn_answer_sentence *s = &v->sentences[i];
		json_t *ids = json_array();
		for (size_t k = 0; ids && k < s->n_citations; k++)
			ok &= json_array_append_new(ids, json_integer(s->citations[k])) == 0;
		ok &= ids && json_array_append_new(sents, json_pack("{s:s, s:b, s:o}", "text", s->text ? s->text : "",
		                                                    "supported", s->supported != 0, "citations", ids)) == 0;
	}
	for (size_t k = 0; ok && !abstained && k < v->n_citations; k++) {
		const cairn_citation *c = &v->citations[k];
		ok &= json_array_append_new(cites, json_pack("{s:i, s:s, s:I, s:s, s:o}", "id", c->id, "doc_id", c->doc_id,
		                                             "chunk_id", (json_int_t)c->chunk_id, "title",
		                                             c->title ? c->title : "", "quote",
		                                             json_cut(c->quote ? c->quote : "", 300))) == 0;
	}
	if (!abstained && ok)
		ok &= json_object_set_new(row, "sentences", sents) == 0;
	else
		json_decref(sents);
	if (ok)
		ok &= json_object_set_new(row, "citations", cites) == 0;
	else
		json_decref(cites);
	return ok;
}

static double rat(double a, double b) { return b > 0 ? a / b : 0; }

cairn_status cn_eval_answers_jsonl(const char *path, const cairn_answer_eval_params *p, cairn_answer_eval_report *out,
                                   cn_err *err)
{
	uint64_t t_start = cn_now_ns();
	if (!!p->kb_dir == !!p->corpus)
		return cn_err_set(err, CAIRN_EINVAL, "%s: a JSON Lines set needs its documents: a corpus or a KB (one of them)",
		                  path);
	jq *qs = NULL;
	size_t nq = 0;
	cairn_status st = load_set(path, &qs, &nq, err);
	if (st)
		return st;
	snprintf(out->format, sizeof out->format, "jsonl");
	cn_eval_fingerprint(path, &out->dataset_bytes, &out->dataset_crc32c);
	/* which questions: the first N, or N drawn with the seed (kept in file order) */
	size_t *pick = cn_malloc((nq + 1) * sizeof *pick);
	if (!pick) {
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nq; i++)
		pick[i] = i;
	size_t n = nq;
	if (p->max_questions > 0 && (size_t)p->max_questions < nq) {
		n = (size_t)p->max_questions;
		if (p->seed) {
			uint64_t s = p->seed;
			for (size_t i = 0; i < n; i++) { /* partial Fisher–Yates, then sort the sample */
				s = s * 6364136223846793005ULL + 1442695040888963407ULL;
				size_t j = i + (size_t)((s >> 33) % (nq - i));
				size_t t = pick[i];
				pick[i] = pick[j];
				pick[j] = t;
			}
			for (size_t i = 1; i < n; i++)
				for (size_t j = i; j > 0 && pick[j - 1] > pick[j]; j--) {
					size_t t = pick[j];
					pick[j] = pick[j - 1];
					pick[j - 1] = t;
				}
		}
	}
	char kbdir[4096] = "";
	cairn_kb *kb = NULL;
	char ebuf[1024];
	cairn_kb_params kp = cairn_kb_default_params();
	if (p->kb_dir) {
		snprintf(out->kb, sizeof out->kb, "%s", p->kb_dir);
		if (!cn_is_dir(p->kb_dir))
			st = cn_err_set(err, CAIRN_ENOTFOUND, "%s: no knowledge base there", p->kb_dir);
		else if ((st = cairn_kb_open(p->kb_dir, &kp, &kb, ebuf, sizeof ebuf)))
			cn_err_set(err, st, "%s", ebuf);
		cairn_kb_stats ks;
		if (!st && cairn_kb_stats_get(kb, &ks) == CAIRN_OK)
			out->documents = ks.documents;
	} else {
		snprintf(out->kb, sizeof out->kb, "built");
		if (!cn_path_exists(p->corpus))
			st = cn_err_set(err, CAIRN_ENOTFOUND, "%s: no such corpus", p->corpus);
		if (!st)
			st = cn_eval_tmpdir(p->work_dir, "evalans", kbdir, sizeof kbdir, err);
		if (!st && (st = cairn_kb_open(kbdir, &kp, &kb, ebuf, sizeof ebuf)))
			cn_err_set(err, st, "%s", ebuf);
		uint64_t t0 = cn_now_ns();
		if (!st && !cn_is_dir(p->corpus) && ends_with(p->corpus, ".jsonl")) {
			st = ingest_records(kb, p->corpus, &out->documents, err);
		} else if (!st) {
			cairn_ingest_params ip = cairn_ingest_default_params();
			cairn_ingest_stats is;
			const char *paths[1] = {p->corpus};
			if ((st = cairn_ingest_paths(kb, paths, 1, &ip, &is)))
				cn_err_set(err, st, "%s: %s", p->corpus, cairn_kb_errmsg(kb));
			out->documents = is.added + is.updated + is.unchanged;
		}
		if (!st && (st = cairn_kb_commit(kb)))
			cn_err_set(err, st, "commit: %s", cairn_kb_errmsg(kb));
		out->index_build_s = (double)(cn_now_ns() - t0) / 1e9;
	}
	totals T;
	memset(&T, 0, sizeof T);
	T.lat = cn_calloc(n + 1, sizeof *T.lat);
	T.ttft = cn_calloc(n + 1, sizeof *T.ttft);
	T.unans = cn_calloc(n + 1, sizeof *T.unans);
	T.abst = cn_calloc(n + 1, sizeof *T.abst);
	if (!st && (!T.lat || !T.ttft || !T.unans || !T.abst))
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	FILE *pq = NULL;
	if (!st && p->per_question_path && !(pq = fopen(p->per_question_path, "w")))
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", p->per_question_path, strerror(errno));
	cairn_ask_params ap = p->ask;
	ap.min_confidence = 0;
	for (size_t i = 0; !st && i < n; i++) {
		st = ask_one(kb, &qs[pick[i]], i, p, &ap, &T, pq, err);
		if (!st && p->on_progress && (i + 1) % 20 == 0) {
			cairn_ingest_progress pr = {(int64_t)i + 1, (int64_t)n, 0, 0, qs[pick[i]].id};
			if (p->on_progress(&pr, p->user_data))
				st = cn_err_set(err, CAIRN_EINTERRUPTED, "eval: stopped");
		}
	}
	if (pq && fclose(pq) != 0 && !st)
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot write: %s", p->per_question_path, strerror(errno));
	cn_eval_kb_facts(kb, out);
	if (kb)
		cairn_kb_close(kb);
	if (kbdir[0] && !p->work_dir)
		cn_eval_rmtree(kbdir);
	if (!st) {
		size_t answerable = 0, abst_answerable = 0, lat_n = T.n;
		double lat_sum = 0;
		for (size_t i = 0; i < T.n; i++) {
			answerable += !T.unans[i];
			abst_answerable += !T.unans[i] && T.abst[i];
			lat_sum += T.lat[i];
		}
		out->questions = (int64_t)answerable;
		out->questions_unanswerable = (int64_t)(T.n - answerable);
		out->unanswerable_questions = out->questions_unanswerable;
		out->answer_rate = rat((double)(answerable - abst_answerable), (double)answerable);
		out->abstain_answerable = rat((double)abst_answerable, (double)answerable);
		size_t abst_unans = 0;
		for (size_t i = 0; i < T.n; i++)
			abst_unans += T.unans[i] && T.abst[i];
		out->abstain_unanswerable = rat((double)abst_unans, (double)(T.n - answerable));
		cn_abstention_pr(T.unans, T.abst, T.n, &out->abstention_precision, &out->abstention_recall);
		out->questions_with_answers = (int64_t)T.with_answers;
		out->exact_match = rat(T.em, (double)T.with_answers);
		out->f1 = rat(T.f1, (double)T.with_answers);
		out->rouge_l = rat(T.rouge, (double)T.with_answers);
		out->bleu = rat(T.bleu, (double)T.with_answers);
		out->corpus_bleu = cn_bleu_corpus(&T.corpus);
		out->groundedness = rat(T.support, (double)T.answered);
		out->support_rate = out->groundedness;
		out->citation_precision = rat(T.vcprec, (double)T.answered);
		out->questions_with_evidence = (int64_t)T.with_ev;
		out->citation_precision_gold = rat(T.cprec, (double)T.answered_ev);
		out->citation_recall_gold = rat(T.crec, (double)T.with_ev);
		out->refusal_rate = rat((double)T.refused, (double)T.n);
		out->latency_mean_ms = rat(lat_sum, (double)lat_n);
		out->latency_p50_ms = cn_percentile(T.lat, T.n, 50);
		out->latency_p95_ms = cn_percentile(T.lat, T.n, 95);
		out->latency_p99_ms = cn_percentile(T.lat, T.n, 99);
		out->ttft_p50_ms = cn_percentile(T.ttft, T.n, 50);
		out->ttft_p95_ms = cn_percentile(T.ttft, T.n, 95);
		out->tokens_in_mean = rat(T.tin, (double)T.n);
		out->tokens_out_mean = rat(T.tout, (double)T.n);
		out->tokens_measured = T.measured;
		out->cost_total = T.cost;
		out->cost_per_request = rat(T.cost, (double)T.n);
	}
	cn_free(T.lat);
	cn_free(T.ttft);
	cn_free(T.unans);
	cn_free(T.abst);
done:
	cn_free(pick);
	for (size_t i = 0; i < nq; i++)
		jq_free(&qs[i]);
	cn_free(qs);
	out->seconds = (double)(cn_now_ns() - t_start) / 1e9;
	return st;
}
