/*
 * The ingest pipeline: two stages so both cores work while a knowledge base is filled.
 *
 *   stage 1 (worker thread)  parse → chunk → analyse every chunk → fingerprint
 *   stage 2 (caller thread)  catalog rows, near-duplicate marking, bm25 builder
 *
 * Stage 1 is pure: it touches only its job and the worker's own analyzer (analyzers are not
 * thread-safe), so it needs no lock on the knowledge base. When the caller would otherwise
 * wait for the worker, it prepares queued jobs itself with the handle's analyzer, so both
 * cores stay busy whichever stage is the heavier. Stage 2 owns every shared thing
 * (SQLite connection, builder, duplicate index) and runs where the caller already holds
 * kb->mu. Jobs are committed strictly in submission order — the FIFO is drained from its
 * head, and a job is only taken once the worker has prepared it — so "last write wins"
 * holds exactly as in a serial ingest. The queue is bounded (jobs and source bytes), so a
 * huge corpus never sits in memory at once.
 *
 * Everything that must see the committed effect of earlier submissions (commit, rollback,
 * deletes, lookups of a document that is still in flight) drains the queue first.
 * CAIRN_THREADS=1 in the environment, or a failed pthread_create, runs both stages inline.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX_JOBS 256
#define QUEUE_MAX_BYTES ((size_t)64 << 20)

static void job_release_results(kb_job *j)
{
	if (j->toks) {
		for (size_t i = 0; i < j->chunks.n; i++)
			cn_tokens_free(&j->toks[i]);
		cn_free(j->toks);
		j->toks = NULL;
	}
	cn_free(j->simhash);
	cn_free(j->nbody);
	cn_free(j->vecs);
	j->simhash = NULL;
	j->nbody = NULL;
	j->vecs = NULL;
	cn_chunks_free(&j->chunks);
	cn_doc_free(&j->doc);
}

void kb_job_free(kb_job *j)
{
	if (!j)
		return;
	sodium_memzero(j->redact_key, sizeof j->redact_key);
	job_release_results(j);
	if (j->own_data)
		cn_free(j->data);
	cn_arena_free(&j->arena);
	cn_free(j);
}

kb_job *kb_job_new(void)
{
	kb_job *j = cn_calloc(1, sizeof *j);
	if (!j)
		return NULL;
	cn_arena_init(&j->arena, 4096);
	cn_doc_init(&j->doc);
	cn_chunks_init(&j->chunks);
	return j;
}

cairn_status kb_analyze_chunk(cn_analyzer *a, const char *title, const char *heading, const char *text, size_t len,
                              cn_tokens *t, size_t *body_from)
{
	/* Indexed text: title, heading path and body, so a chunk deep in a document is still
	 * found by the words of its title and section (the heading path usually starts with
	 * the title: then the title is not repeated). */
	size_t title_len = title ? strlen(title) : 0;
	if (!heading)
		heading = "";
	cairn_status st = CAIRN_OK;
	if (title_len && strncmp(heading, title, title_len) != 0)
		st = cn_analyze(a, title, title_len, 0, t);
	if (!st && *heading)
		st = cn_analyze(a, heading, strlen(heading), 0, t);
	*body_from = t->n;
	if (!st)
		st = cn_analyze(a, text, len, 0, t);
	return st;
}

void kb_redact_signature(const cairn_ingest_params *p, char *out, size_t size)
{
	char inj[32] = "";
	if (p->injection_scan)
		snprintf(inj, sizeof inj, "i:%d\n", p->injection_policy);
	if (!p->redact) {
		snprintf(out, size, "%s", inj);
		return;
	}
	snprintf(out, size, "r:%d/%s/%.3f\n%s", p->redact_mode, p->redact_types ? p->redact_types : "*",
	         p->redact_min_score, inj);
}

cairn_status kb_job_set_redact(cairn_kb *kb, kb_job *j, const cairn_ingest_params *p, cn_err *err)
{
	if (p->injection_scan) {
		if (p->injection_policy < CAIRN_INJECTION_POLICY_FLAG || p->injection_policy > CAIRN_INJECTION_POLICY_REFUSE)
			return cn_err_set(err, CAIRN_EINVAL, "injection_policy %d is not a policy", p->injection_policy);
		j->inj_scan = true;
		j->inj_policy = p->injection_policy;
	}
	if (!p->redact)
		return CAIRN_OK;
	if (p->redact_mode < CAIRN_REDACT_MASK || p->redact_mode > CAIRN_REDACT_TOKEN)
		return cn_err_set(err, CAIRN_EINVAL, "redact_mode %d is not a redaction mode", p->redact_mode);
	if (p->redact_mode != CAIRN_REDACT_MASK && !p->redact_key)
		return cn_err_set(err, CAIRN_EINVAL, "%s redaction needs a key (--key-file or --key-env)",
		                  p->redact_mode == CAIRN_REDACT_HASH ? "hash" : "token");
	j->redact = true;
	j->redact_mode = p->redact_mode;
	j->redact_min_score = p->redact_min_score;
	if (p->redact_key)
		memcpy(j->redact_key, p->redact_key, sizeof j->redact_key);
	if (p->redact_types && !(j->redact_types = cn_arena_strndup(&j->arena, p->redact_types, strlen(p->redact_types))))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (p->redact_mode == CAIRN_REDACT_TOKEN) {
		char path[4096];
		if (p->redact_vault) {
			snprintf(path, sizeof path, "%s", p->redact_vault);
		} else {
			snprintf(path, sizeof path, "%s/vault", cn_store_dir(kb->store));
			if (mkdir(path, 0700) != 0 && errno != EEXIST)
				return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", path, strerror(errno));
			snprintf(path, sizeof path, "%s/vault/pii.vault", cn_store_dir(kb->store));
		}
		if (!(j->redact_vault = cn_arena_strndup(&j->arena, path, strlen(path))))
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	return CAIRN_OK;
}

/* Where byte `at` of a chunk's text moved to after redaction. */
static size_t moved(const cairn_redacted *r, size_t at)
{
	size_t shift_at = at;
	for (size_t i = 0; i < r->n_items; i++) {
		const cairn_redaction *x = &r->items[i];
		if (x->src_end <= at)
			shift_at = at + x->out_end - x->src_end; /* items are in order: the last applies */
		else if (x->src_start < at)
			return x->out_start; /* inside a replaced span: its start */
	}
	return shift_at;
}

/* Replaces personal data in every chunk's text and heading (stage 1, after chunking). */
static cairn_status redact_chunks(kb_job *j, cn_err *err)
{
	cairn_redact_params rp = cairn_redact_default_params();
	rp.mode = (cairn_redact_mode)j->redact_mode;
	rp.pii.types = j->redact_types;
	if (j->redact_min_score > 0)
		rp.pii.min_score = j->redact_min_score;
	rp.key = j->redact_key;
	rp.vault_path = j->redact_vault;
	char msg[512];
	for (size_t i = 0; i < j->chunks.n; i++) {
		cn_chunk *c = &j->chunks.v[i];
		cairn_redacted r = {0};
		if (cairn_redact(c->text, c->len, &rp, &r, msg, sizeof msg) != CAIRN_OK)
			return cn_err_set(err, CAIRN_EIO, "%s: redaction failed: %s", j->info.doc_id, msg);
		if (r.n_items) {
			char *t = cn_arena_strndup(&j->chunks.arena, r.text, r.len);
			char *sec = NULL;
			if (t && c->sections) {
				/* section offsets point into the text: move them with it */
				cn_buf b;
				cn_buf_init(&b);
				for (const char *line = c->sections; *line;) {
					const char *nl = strchr(line, '\n');
					size_t ll = nl ? (size_t)(nl - line) : strlen(line);
					char *tab;
					unsigned long long off = strtoull(line, &tab, 10);
					if (tab > line && *tab == '\t' && (size_t)(tab - line) < ll)
						cn_buf_printf(&b, "%zu%.*s\n", moved(&r, (size_t)off), (int)(ll - (size_t)(tab - line)), tab);
					line += ll + (nl != NULL);
				}
				sec = b.failed ? NULL : cn_arena_strndup(&j->chunks.arena, b.data ? b.data : "", b.len);
				cn_buf_free(&b);
				if (!sec)
					t = NULL;
			}
			if (!t) {
				cairn_redacted_free(&r);
				return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", j->info.doc_id);
			}
			c->text = t;
			c->len = r.len;
			if (c->sections)
				c->sections = sec;
		}
		cairn_redacted_free(&r);
		if (c->heading && *c->heading) {
			if (cairn_redact(c->heading, strlen(c->heading), &rp, &r, msg, sizeof msg) != CAIRN_OK)
				return cn_err_set(err, CAIRN_EIO, "%s: redaction failed: %s", j->info.doc_id, msg);
			if (r.n_items && !(c->heading = cn_arena_strndup(&j->chunks.arena, r.text, r.len))) {
				cairn_redacted_free(&r);
				return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", j->info.doc_id);
			}
			cairn_redacted_free(&r);
		}
	}
	return CAIRN_OK;
}

/* The ingest-time injection policy over the chunks (stage 1, after redaction). */
static cairn_status scan_chunks(kb_job *j, cn_err *err)
{
	size_t kept = 0;
	bool flagged_any = false;
	for (size_t i = 0; i < j->chunks.n; i++) {
		cn_chunk *c = &j->chunks.v[i];
		cairn_injection_result r;
		char msg[256];
		if (cairn_injection_scan(c->text, c->len, CAIRN_INJECTION_DOCUMENT, &r, msg, sizeof msg) != CAIRN_OK)
			return cn_err_set(err, CAIRN_ENOMEM, "%s: injection scan: %s", j->info.doc_id, msg);
		if (r.flagged) {
			flagged_any = true;
			if (j->inj_policy == CAIRN_INJECTION_POLICY_REFUSE)
				return cn_err_set(err, CAIRN_EFORMAT,
				                  "%s: refused by the injection policy: chunk %zu looks like a prompt-injection "
				                  "attempt (score %.2f)", j->info.doc_id, i + 1, r.score);
			if (j->inj_policy == CAIRN_INJECTION_POLICY_QUARANTINE) {
				j->inj_quarantined++;
				continue;
			}
		}
		j->chunks.v[kept++] = *c;
	}
	j->chunks.n = kept;
	if (flagged_any && j->inj_policy == CAIRN_INJECTION_POLICY_FLAG) {
		/* the document carries the finding as a tag: `--filter 'injection!=flagged'` */
		const char **tags = cn_arena_alloc(&j->arena, (j->info.n_tags + 1) * sizeof *tags);
		if (!tags)
			return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", j->info.doc_id);
		for (size_t i = 0; i < j->info.n_tags; i++)
			tags[i] = j->info.tags[i];
		tags[j->info.n_tags] = "injection=flagged";
		j->info.tags = tags;
		j->info.n_tags++;
	}
	return CAIRN_OK;
}

/* Stage 1. */
static void prepare(kb_job *j, cn_analyzer *a)
{
	cn_err *err = &j->prep_err;
	cn_err_clear(err);
	cairn_status st = cn_parse(j->fmt, j->lang, j->info.doc_id, j->data, j->len, &j->doc, err);
	cn_chunk_params cp = j->cp;
	cp.skip_simhash = true; /* fingerprinted below from the analyzed terms */
	if (!st)
		st = cn_chunk_doc(&j->doc, &cp, &j->chunks, err);
	if (!st && j->redact)
		st = redact_chunks(j, err);
	if (!st && j->inj_scan)
		st = scan_chunks(j, err);
	if (!st && j->chunks.n) {
		j->toks = cn_calloc(j->chunks.n, sizeof *j->toks);
		j->simhash = cn_calloc(j->chunks.n, sizeof *j->simhash);
		j->nbody = cn_calloc(j->chunks.n, sizeof *j->nbody);
		if (!j->toks || !j->simhash || !j->nbody)
			st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", j->info.doc_id);
		else
			for (size_t i = 0; i < j->chunks.n; i++)
				cn_tokens_init(&j->toks[i]);
	}
	if (!st && j->title_from_doc)
		j->info.title = j->doc.title && *j->doc.title ? j->doc.title : NULL;
	const char *title = j->info.title;
	uint64_t *wh = NULL;
	size_t whcap = 0;
	for (size_t i = 0; !st && i < j->chunks.n; i++) {
		const cn_chunk *c = &j->chunks.v[i];
		cn_tokens *t = &j->toks[i];
		size_t body_from = 0;
		st = kb_analyze_chunk(a, title, c->heading, c->text, c->len, t, &body_from);
		if (st) {
			cn_err_set(err, st, "%s: analysis failed", j->info.doc_id);
			break;
		}
		/* The near-duplicate fingerprint: 3-shingles of the body's analyzed terms. */
		size_t nb = t->n - body_from;
		if (cn_grow((void **)&wh, &whcap, nb + 1, sizeof *wh)) {
			st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", j->info.doc_id);
			break;
		}
		for (size_t k = 0; k < nb; k++)
			wh[k] = cn_hash64(cn_token_term(t, body_from + k), t->v[body_from + k].term_len, 0);
		j->simhash[i] = cn_simhash_words(wh, nb);
		j->nbody[i] = nb;
	}
	cn_free(wh);
	if (!st && j->enc)
		st = kb_embed_job(j, err);
	j->prep_st = st;
	if (st)
		job_release_results(j);
}

static void *worker_main(void *arg)
{
	kb_writer *w = arg;
	pthread_mutex_lock(&w->qmu);
	for (;;) {
		while (!w->stop && !w->next_todo)
			pthread_cond_wait(&w->qcond, &w->qmu);
		if (w->stop)
			break;
		kb_job *j = w->next_todo;
		w->next_todo = j->next;
		pthread_mutex_unlock(&w->qmu);
		prepare(j, w->worker_analyzer);
		pthread_mutex_lock(&w->qmu);
		j->prepared = true;
		pthread_cond_broadcast(&w->dcond);
	}
	pthread_mutex_unlock(&w->qmu);
	return NULL;
}

static cairn_status ensure_worker(cairn_kb *kb, cn_err *err)
{
	kb_writer *w = &kb->w;
	if (!w->worker_analyzer) {
		cairn_status st = cn_analyzer_from_signature(kb->analyzer_sig, &w->worker_analyzer, err);
		if (st)
			return st;
	}
	if (w->thread_state != 0)
		return CAIRN_OK;
	const char *env = getenv("CAIRN_THREADS");
	w->thread_state = -1; /* inline unless the thread starts */
	if (env && atoi(env) == 1)
		return CAIRN_OK;
	pthread_mutex_init(&w->qmu, NULL);
	pthread_cond_init(&w->qcond, NULL);
	pthread_cond_init(&w->dcond, NULL);
	w->stop = false;
	if (pthread_create(&w->thread, NULL, worker_main, w) == 0) {
		w->thread_state = 1;
	} else {
		pthread_mutex_destroy(&w->qmu);
		pthread_cond_destroy(&w->qcond);
		pthread_cond_destroy(&w->dcond);
		cn_log(CAIRN_LOG_WARN, "ingest: could not start a worker thread; continuing on one core");
	}
	return CAIRN_OK;
}

void kb_pipeline_stop(kb_writer *w)
{
	if (w->thread_state == 1) {
		pthread_mutex_lock(&w->qmu);
		w->stop = true;
		pthread_cond_broadcast(&w->qcond);
		pthread_mutex_unlock(&w->qmu);
		pthread_join(w->thread, NULL);
		pthread_mutex_destroy(&w->qmu);
		pthread_cond_destroy(&w->qcond);
		pthread_cond_destroy(&w->dcond);
	}
	w->thread_state = 0;
	cn_analyzer_free(w->worker_analyzer);
	w->worker_analyzer = NULL;
}

/* Takes the head job once it is prepared (when wait is set, helping to prepare queued jobs
 * with steal_analyzer while the head is not ready, or waiting when there is none). */
static kb_job *take_head(kb_writer *w, bool wait, cn_analyzer *steal_analyzer)
{
	if (w->thread_state != 1) {
		kb_job *j = w->head;
		if (j) {
			w->head = j->next;
			if (!w->head)
				w->tail = NULL;
		}
		return j;
	}
	pthread_mutex_lock(&w->qmu);
	kb_job *j = w->head;
	while (j && !j->prepared && wait) {
		/* Rather than idle while the worker catches up, prepare the next unclaimed job
		 * here (the caller holds kb->mu, so kb->analyzer is ours to use). */
		kb_job *todo = w->next_todo;
		if (todo && steal_analyzer) {
			w->next_todo = todo->next;
			pthread_mutex_unlock(&w->qmu);
			prepare(todo, steal_analyzer);
			pthread_mutex_lock(&w->qmu);
			todo->prepared = true;
			pthread_cond_broadcast(&w->dcond);
			continue;
		}
		pthread_cond_wait(&w->dcond, &w->qmu);
	}
	if (j && j->prepared) {
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
	} else {
		j = NULL;
	}
	pthread_mutex_unlock(&w->qmu);
	return j;
}

cairn_status kb_pipeline_drain(cairn_kb *kb, bool all, cn_err *err)
{
	kb_writer *w = &kb->w;
	cairn_status st = CAIRN_OK;
	for (;;) {
		bool wait = all || w->queued_jobs > QUEUE_MAX_JOBS || w->queued_bytes > QUEUE_MAX_BYTES;
		kb_job *j = take_head(w, wait, kb->analyzer);
		if (!j)
			break;
		w->queued_jobs--;
		w->queued_bytes -= j->len;
		if (!st)
			st = kb_commit_job(kb, j, err);
		kb_job_free(j);
	}
	if (all && w->head == NULL)
		cn_strmap_free(&w->in_flight), cn_strmap_init(&w->in_flight);
	return st;
}

void kb_pipeline_discard(cairn_kb *kb)
{
	kb_writer *w = &kb->w;
	kb_job *j;
	while ((j = take_head(w, true, NULL)) != NULL)
		kb_job_free(j);
	w->queued_jobs = 0;
	w->queued_bytes = 0;
	cn_strmap_free(&w->in_flight);
	cn_strmap_init(&w->in_flight);
}

bool kb_pipeline_in_flight(const cairn_kb *kb, const char *doc_id)
{
	return cn_strmap_get(&kb->w.in_flight, doc_id, strlen(doc_id)) != UINT32_MAX;
}

cairn_status kb_pipeline_submit(cairn_kb *kb, kb_job *j, cn_err *err)
{
	kb_writer *w = &kb->w;
	cairn_status st = ensure_worker(kb, err);
	uint32_t id;
	if (!st && cn_strmap_put(&w->in_flight, j->info.doc_id, strlen(j->info.doc_id), &id, NULL))
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	if (st) {
		kb_job_free(j);
		return st;
	}
	j->next = NULL;
	w->queued_jobs++;
	w->queued_bytes += j->len;
	if (w->thread_state != 1) {
		prepare(j, w->worker_analyzer);
		j->prepared = true;
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		return kb_pipeline_drain(kb, true, err);
	}
	pthread_mutex_lock(&w->qmu);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	if (!w->next_todo)
		w->next_todo = j;
	pthread_cond_signal(&w->qcond);
	pthread_mutex_unlock(&w->qmu);
	return kb_pipeline_drain(kb, false, err);
}
