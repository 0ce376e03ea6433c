/* Allocation wrappers: one place to count and fail allocations in tests, and the arena. */
#include "base.h"

#include <stdlib.h>
#include <string.h>

/* Fault injection is process-wide and meant for single-threaded tests. */
static long fail_countdown;

void cn_alloc_fail_after(long n) { fail_countdown = n; }

static bool should_fail(void)
{
	if (fail_countdown <= 0)
		return false;
	if (--fail_countdown == 0)
		return true;
	return false;
}

void *cn_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *cn_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *cn_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void cn_free(void *p) { free(p); }
void cairn_free(void *p) { free(p); }

char *cn_strndup(const char *s, size_t n)
{
	char *d = cn_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *cn_strdup(const char *s) { return s ? cn_strndup(s, strlen(s)) : NULL; }

bool cn_mul_overflows(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

cairn_status cn_grow(void **arr, size_t *cap, size_t need, size_t esz)
{
	if (need <= *cap)
		return CAIRN_OK;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return CAIRN_ENOMEM;
		ncap *= 2;
	}
	size_t bytes;
	if (cn_mul_overflows(ncap, esz, &bytes))
		return CAIRN_ENOMEM;
	void *p = cn_realloc(*arr, bytes);
	if (!p)
		return CAIRN_ENOMEM;
	*arr = p;
	*cap = ncap;
	return CAIRN_OK;
}

struct cn_arena_block {
	cn_arena_block *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

void cn_arena_init(cn_arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size ? block_size : 64 * 1024;
	a->total = 0;
}

void *cn_arena_alloc(cn_arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	cn_arena_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = n > a->block_size ? n : a->block_size;
		b = cn_malloc(sizeof *b + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		/* An oversized block goes behind the head so the head's free space is not lost. */
		if (a->head && n > a->block_size) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += n;
	a->total += n;
	return p;
}

char *cn_arena_strndup(cn_arena *a, const char *s, size_t n)
{
	char *d = cn_arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void cn_arena_free(cn_arena *a)
{
	cn_arena_block *b = a->head;
	while (b) {
		cn_arena_block *next = b->next;
		cn_free(b);
		b = next;
	}
	a->head = NULL;
	a->total = 0;
}
