/*
 * Shared between the answer-evaluation runners: eval_answers.c (SQuAD, SciFact) and
 * eval_jsonl.c (JSON Lines sets), and eval_safety.c.
 */
#ifndef CAIRN_EVAL_INT_H
#define CAIRN_EVAL_INT_H

#include "answer/answer.h"

/* A JSON Lines question set against kb_dir or corpus (cairn_answer_eval_params). */
cairn_status cn_eval_answers_jsonl(const char *path, const cairn_answer_eval_params *p, cairn_answer_eval_report *out,
                                   cn_err *err);

/* Adds the file's size and CRC-32C to *bytes and *crc (a missing file adds nothing). */
void cn_eval_fingerprint(const char *path, uint64_t *bytes, uint32_t *crc);

/* The knowledge base's generation, size and embedding model into the report (kb may be NULL). */
void cn_eval_kb_facts(cairn_kb *kb, cairn_answer_eval_report *out);

/* A temporary KB directory under work_dir (or $TMPDIR, /tmp) into buf; and its removal. */
cairn_status cn_eval_tmpdir(const char *work_dir, const char *tag, char *buf, size_t cap, cn_err *err);
void cn_eval_rmtree(const char *dir);

/* One measured ask: latency, time to first token and tokens in/out (counted by a local
 * generator when there is one, else estimated). */
typedef struct cn_ask_cost {
	double latency_ms, ttft_ms;
	double tokens_in, tokens_out;
	bool measured;
} cn_ask_cost;

void cn_eval_ask_cost(const cairn_answer *a, const char *question, double latency_ms, cn_ask_cost *out);

/* The answer's part of a per-question row (docs/answers.md#per-question-results): "gold"
 * (when given), and unless abstained "sentences" [{text, supported, citations}] and
 * "citations" [{id, doc_id, chunk_id, title, quote}] (quotes cut at 300 bytes), so a report
 * can show what was answered, from what, and the verifier's verdicts. False: no memory. */
struct json_t;
bool cn_eval_row_answer(struct json_t *row, const cairn_answer *a, bool abstained, const char *const *gold,
                        size_t n_gold);

#endif
