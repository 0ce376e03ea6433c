/*
 * pool.c — a small persistent thread pool for the kernels.
 *
 * Workers are created once and wait for "generations": the caller publishes a job (fn,
 * ctx, the split of [0, n)), bumps the generation, runs range 0 itself and waits until
 * every worker has acknowledged the generation. Every worker acknowledges every job (even
 * one with no range for it), so no worker can still be reading the previous job's fields
 * when the next is published. Waiting is spin-then-sleep: a short spin catches the
 * back-to-back jobs of a forward pass (a matmul every few hundred microseconds) without a
 * futex round trip; after that, workers sleep on a condition variable so an idle pool
 * costs nothing on a shared machine.
 *
 * The split is static and contiguous: range r of nr gets n/nr items (+1 for the first
 * n%nr), nr = min(threads, n/grain). Which thread computes which range does not affect
 * any result, because callers give each output element to exactly one range.
 */
#include "kern/kern_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if CN_KERN_X86
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ITERS 2000 /* ~50 µs of pause before sleeping */
#define MAX_THREADS 256

typedef struct pool_scratch {
	void *raw;  /* from cn_malloc */
	void *ptr;  /* 64-byte aligned inside raw */
	size_t cap; /* usable bytes at ptr */
} pool_scratch;

typedef struct pool_worker {
	cn_pool *pool;
	int index;
	pthread_t th;
} pool_worker;

struct cn_pool {
	int n_threads;
	pool_worker *workers; /* n_threads - 1 */
	pool_scratch *scratch; /* n_slots: one per thread + the shared one */
	int n_slots;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	_Atomic uint64_t gen;
	_Atomic int pending;
	_Atomic bool stop;
	/* the current job, written before gen is bumped, read after */
	cn_pool_fn fn;
	void *ctx;
	int64_t base, rem;
	int nr;
};

static void run_range(cn_pool *p, int r)
{
	if (r >= p->nr)
		return;
	int64_t begin = r * p->base + (r < p->rem ? r : p->rem);
	int64_t end = begin + p->base + (r < p->rem ? 1 : 0);
	p->fn(p->ctx, begin, end, r);
}

static void *worker_main(void *arg)
{
	pool_worker *w = arg;
	cn_pool *p = w->pool;
	uint64_t seen = 0;
	for (;;) {
		uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
		for (int s = 0; g == seen && s < SPIN_ITERS; s++) {
			CPU_RELAX();
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
			       !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv_work, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = g;
		run_range(p, w->index);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->cv_done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

cairn_status cn_pool_create(int n_threads, cn_pool **out, cn_err *err)
{
	*out = NULL;
	if (n_threads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n_threads = c > 0 ? (int)c : 1;
	}
	if (n_threads > MAX_THREADS)
		n_threads = MAX_THREADS;
	cn_pool *p = cn_calloc(1, sizeof(*p));
	if (!p)
		return cn_err_set(err, CAIRN_ENOMEM, "thread pool: out of memory");
	p->n_threads = n_threads;
	p->n_slots = n_threads + 1;
	p->scratch = cn_calloc((size_t)n_threads + 1, sizeof(*p->scratch)); /* + the shared slot */
	p->workers = n_threads > 1 ? cn_calloc((size_t)n_threads - 1, sizeof(*p->workers)) : NULL;
	if (!p->scratch || (n_threads > 1 && !p->workers)) {
		cn_free(p->scratch);
		cn_free(p->workers);
		cn_free(p);
		return cn_err_set(err, CAIRN_ENOMEM, "thread pool: out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_work, NULL);
	pthread_cond_init(&p->cv_done, NULL);
	for (int i = 1; i < n_threads; i++) {
		pool_worker *w = &p->workers[i - 1];
		w->pool = p;
		w->index = i;
		int rc = pthread_create(&w->th, NULL, worker_main, w);
		if (rc != 0) {
			p->n_threads = i; /* free() joins the ones that started */
			cn_pool_free(p);
			return cn_err_set(err, CAIRN_EIO, "thread pool: cannot start thread %d of %d: %s", i + 1, n_threads,
			                  strerror(rc));
		}
	}
	*out = p;
	return CAIRN_OK;
}

void cn_pool_free(cn_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n_threads; i++)
		pthread_join(p->workers[i - 1].th, NULL);
	for (int i = 0; i < p->n_slots; i++)
		cn_free(p->scratch[i].raw);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_work);
	pthread_cond_destroy(&p->cv_done);
	cn_free(p->scratch);
	cn_free(p->workers);
	cn_free(p);
}

int cn_pool_threads(const cn_pool *pool) { return pool ? pool->n_threads : 1; }

void cn_pool_for(cn_pool *p, int64_t n, int64_t grain, cn_pool_fn fn, void *ctx)
{
	if (n <= 0)
		return;
	if (grain < 1)
		grain = 1;
	int64_t nr = n / grain;
	if (nr < 1)
		nr = 1;
	if (!p || p->n_threads == 1 || nr == 1) {
		fn(ctx, 0, n, 0);
		return;
	}
	if (nr > p->n_threads)
		nr = p->n_threads;
	p->fn = fn;
	p->ctx = ctx;
	p->nr = (int)nr;
	p->base = n / nr;
	p->rem = n % nr;
	atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	run_range(p, 0);
	for (int s = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && s < SPIN_ITERS; s++)
		CPU_RELAX();
	if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
			pthread_cond_wait(&p->cv_done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

void *cn_pool_scratch(cn_pool *p, int thread, size_t bytes)
{
	if (!p || thread < -1 || thread >= p->n_threads)
		return NULL;
	pool_scratch *s = &p->scratch[thread < 0 ? p->n_threads : thread];
	if (s->cap >= bytes && s->ptr)
		return s->ptr;
	cn_free(s->raw);
	s->raw = s->ptr = NULL;
	s->cap = 0;
	size_t want = bytes + (bytes >> 2) + 64; /* some headroom so growing shapes do not reallocate each call */
	if (want < bytes)
		return NULL;
	s->raw = cn_malloc(want);
	if (!s->raw)
		return NULL;
	s->ptr = (void *)(((uintptr_t)s->raw + 63) & ~(uintptr_t)63);
	s->cap = want - (size_t)((uint8_t *)s->ptr - (uint8_t *)s->raw);
	return s->ptr;
}
