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
