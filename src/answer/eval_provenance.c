/*
 * eval_provenance.c — what makes an answer run reproducible, as one JSON object: the
 * version, the set's fingerprint, the knowledge base as it was asked, every model file's
 * fingerprint, the answerer's configuration and the seed.
 *
 * Built from the finished report and the parameters (not from inside the runner) so an
 * application can record it for any run it made; `eval compare` lays two of these side by
 * side and warns where the configurations differ. Model files are fingerprinted by size and
 * CRC-32C of their whole content: a path alone does not tell two quantisations of one
 * model apart. The API key is never part of it (only the variable's name is).
 */
#include "answer/eval_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cn_eval_kb_facts(cairn_kb *kb, cairn_answer_eval_report *out)
{
	cairn_kb_stats st;
	if (!kb || cairn_kb_stats_get(kb, &st) != CAIRN_OK)
		return;
	out->kb_generation = st.generation;
	out->kb_documents = st.documents;
	out->kb_chunks = st.chunks;
	snprintf(out->kb_embed_model, sizeof out->kb_embed_model, "%s", st.embed_model);
}

/* {"path", "size", "crc32c"}, or {"path", "error"} when the file cannot be read. */
static json_t *fingerprint(const char *path)
{
	uint64_t bytes = 0;
	uint32_t crc = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return json_pack("{s:s, s:s}", "path", path, "error", "cannot open");
	fclose(f);
	cn_eval_fingerprint(path, &bytes, &crc);
	char hex[9];
	snprintf(hex, sizeof hex, "%08x", crc);
	return json_pack("{s:s, s:I, s:s}", "path", path, "size", (json_int_t)bytes, "crc32c", hex);
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

cairn_status cairn_answer_eval_provenance(const char *dataset, const cairn_answer_eval_params *p,
                                          const cairn_answer_eval_report *r, char **json, char *errbuf,
                                          size_t errbuf_size)
{
	if (errbuf && errbuf_size)
		errbuf[0] = '\0';
	if (!p || !r || !json) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "eval answers: params, report and output are required");
		return CAIRN_EINVAL;
	}
	*json = NULL;
	char now[32], crc[9];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(crc, sizeof crc, "%08x", r->dataset_crc32c);
	const cairn_ask_params *a = &p->ask;
	const char *mode = a->local_model ? "local" : a->endpoint ? "endpoint" : "extractive";
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:I, s:s, s:I}, s:I}", "kind", "answers", "cairn_version",
	                      cairn_version(), "created", now, "dataset", "path", dataset ? dataset : r->dataset,
	                      "format", r->format, "size", (json_int_t)r->dataset_bytes, "crc32c", crc,
	                      "answerable_questions", (json_int_t)r->questions, "seed", (json_int_t)r->seed);
	json_t *kb = json_pack("{s:s, s:I, s:I, s:I}", "path", r->kb, "generation", (json_int_t)r->kb_generation,
	                       "documents", (json_int_t)r->kb_documents, "chunks", (json_int_t)r->kb_chunks);
	json_t *models = json_object();
	json_t *cfg = json_pack("{s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:i}", "mode", mode, "k", a->k,
	                        "context_tokens", a->context_tokens, "max_sentences", a->max_sentences, "min_confidence",
	                        a->min_confidence, "spans", a->spans, "strict", a->strict, "retrieval", a->retrieval,
	                        "unanswerable", p->unanswerable, "max_questions", p->max_questions);
	bool ok = o && kb && models && cfg;
	if (ok) {
		set_str(kb, "embed_model", r->kb_embed_model);
		const char *names[4] = {"local", "verify", "rerank", "embed"};
		const char *paths[4] = {a->local_model, a->verify_model, a->rerank_model,
		                        r->kb_embed_model[0] ? r->kb_embed_model : NULL};
		for (int i = 0; i < 4; i++)
			if (paths[i])
				ok &= json_object_set_new(models, names[i], fingerprint(paths[i])) == 0;
		set_str(cfg, "endpoint", a->endpoint);
		set_str(cfg, "model", a->model_name);
		set_str(cfg, "api_key_env", a->api_key_env);
		set_str(cfg, "chat_template", a->chat_template);
		set_str(cfg, "local_tokenizer", a->local_tokenizer);
		set_str(cfg, "filter", a->filter);
		if (a->local_model || a->endpoint) {
			json_object_set_new(cfg, "temperature", json_real(a->temperature));
			json_object_set_new(cfg, "max_tokens", json_integer(a->max_tokens));
		}
		if (a->verify_model)
			json_object_set_new(cfg, "verify_threshold", json_real(a->verify_threshold));
		json_object_set_new(cfg, "injection_question", json_integer(a->injection_question));
		json_object_set_new(cfg, "injection_documents", json_integer(a->injection_documents));
		if (p->has_prices) {
			json_object_set_new(cfg, "price_input_per_1k", json_real(p->price_input_per_1k));
			json_object_set_new(cfg, "price_output_per_1k", json_real(p->price_output_per_1k));
		}
		ok &= json_object_set(o, "kb", kb) == 0 && json_object_set(o, "models", models) == 0 &&
		      json_object_set(o, "config", cfg) == 0;
	}
	char *text = ok ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	json_decref(kb);
	json_decref(models);
	json_decref(cfg);
	if (text)
		*json = cn_strdup(text);
	free(text);
	if (!*json) {
		if (errbuf && errbuf_size)
			snprintf(errbuf, errbuf_size, "eval answers: out of memory (or a path that is not UTF-8)");
		return CAIRN_ENOMEM;
	}
	return CAIRN_OK;
}
