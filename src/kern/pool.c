/*
 * pool.c — a small persistent thread pool for the kernels.
 *
 * Workers are created once and wait for jobs. The caller publishes a job (fn, ctx, the split
 * of [0, n) into nr contiguous ranges) and then one atomic word, `claim` = generation (high
 * 32 bits) | nr (16) | next unclaimed range (16). Every thread — the caller too — takes
 * ranges by compare-and-swap on that word until none are left, and the caller waits until
 * all nr ranges are done. A worker that the (shared) machine has not scheduled yet simply
 * finds nothing left when it wakes: unlike a barrier on every worker, nobody waits for a
 * thread that has no work in hand. A successful claim carries the generation, and the
 * caller cannot publish the next job before every claimed range of this one has finished,
 * so the job's fields are stable while a range runs. Waiting is spin-then-sleep: a short
 * spin (yielding now and then, see spin_step) catches the back-to-back jobs of a forward
 * pass without a futex round trip; after that, workers sleep on a condition variable so
 * an idle pool costs nothing.
 *
 * The split is static and contiguous: range r of nr gets n/nr items (+1 for the first
 * n%nr), nr = min(threads, n/grain). Which thread computes which range does not affect
 * any result, because callers give each output element to exactly one range; the thread
 * argument is the index of the thread running it (for per-thread scratch).
 */
#include "kern/kern_int.h"

#include <pthread.h>
#include <sched.h>
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
#define SPIN_YIELD 64   /* every 64th step of a spin yields the CPU */

/* One step of a spin-wait. When the machine has fewer free cores than the pool has
 * threads (it is shared), a pure pause loop burns the time slice that the thread being
 * waited for needs; yielding now and then hands it over, and costs one short system call
 * when nobody else wants the core. Measured with 2 threads while another process held
 * one of the 2 cores, Q8_0 decode, 3 interleaved rounds: 26.9 / 27.4 / 25.8 tok/s with pure
 * pause, 31.3 / 30.7 / 28.5 with the yield. */
static inline void spin_step(int s)
{
	if (s % SPIN_YIELD == SPIN_YIELD - 1)
		sched_yield();
	else
		CPU_RELAX();
}
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
	_Atomic uint64_t claim; /* generation << 32 | nr << 16 | next range */
	_Atomic int done;       /* ranges of the current job finished */
	_Atomic bool stop;
	/* the current job, written before claim is published, read after a successful claim */
	cn_pool_fn fn;
	void *ctx;
	int64_t base, rem;
};

#define CLAIM_GEN(c) ((uint32_t)((c) >> 32))
#define CLAIM_NR(c) ((uint32_t)(((c) >> 16) & 0xFFFF))
#define CLAIM_NEXT(c) ((uint32_t)((c) & 0xFFFF))

/* Takes and runs ranges of generation gen until none are left. */
static void take_ranges(cn_pool *p, uint32_t gen, int thread)
{
	uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
	for (;;) {
		if (CLAIM_GEN(c) != gen || CLAIM_NEXT(c) >= CLAIM_NR(c))
			return;
		if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
		                                           memory_order_acquire))
			continue;
		uint32_t r = CLAIM_NEXT(c), nr = CLAIM_NR(c);
		int64_t begin = (int64_t)r * p->base + ((int64_t)r < p->rem ? (int64_t)r : p->rem);
		int64_t end = begin + p->base + ((int64_t)r < p->rem ? 1 : 0);
		p->fn(p->ctx, begin, end, thread);
		if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == (int)nr && thread != 0) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->cv_done);
			pthread_mutex_unlock(&p->mu);
		}
		c = atomic_load_explicit(&p->claim, memory_order_acquire);
	}
}

static void *worker_main(void *arg)
{
	pool_worker *w = arg;
	cn_pool *p = w->pool;
	uint32_t seen = 0;
	for (;;) {
		uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
		for (int s = 0; CLAIM_GEN(c) == seen && s < SPIN_ITERS; s++) {
			spin_step(s);
			c = atomic_load_explicit(&p->claim, memory_order_acquire);
		}
		if (CLAIM_GEN(c) == seen) {
			pthread_mutex_lock(&p->mu);
			while (CLAIM_GEN(c = atomic_load_explicit(&p->claim, memory_order_acquire)) == seen &&
			       !atomic_load(&p->stop))
				pthread_cond_wait(&p->cv_work, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = CLAIM_GEN(c);
		take_ranges(p, seen, w->index);
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
	p->base = n / nr;
	p->rem = n % nr;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	uint32_t gen = CLAIM_GEN(atomic_load_explicit(&p->claim, memory_order_relaxed)) + 1;
	pthread_mutex_lock(&p->mu);
	atomic_store_explicit(&p->claim, (uint64_t)gen << 32 | (uint64_t)nr << 16, memory_order_release);
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	take_ranges(p, gen, 0);
	for (int s = 0; atomic_load_explicit(&p->done, memory_order_acquire) < nr && s < SPIN_ITERS; s++)
		spin_step(s);
	if (atomic_load_explicit(&p->done, memory_order_acquire) < nr) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load_explicit(&p->done, memory_order_acquire) < nr)
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
