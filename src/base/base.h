/*
 * base — the bottom layer every other module stands on. It depends on libc alone.
 *
 * Design:
 *  - Errors are values. Every fallible internal function returns a cairn_status and, when it
 *    fails, fills a caller-provided cn_err with a message that names the input and the
 *    problem ("docs/a.md: invalid UTF-8 at byte 1234"). The first error wins: cn_err_set
 *    does not overwrite an error already recorded, so long write sequences can thread one
 *    cn_err through and check it once (the "sticky rc" habit of SQLite's FTS5).
 *  - Allocation goes through cn_malloc/cn_calloc/cn_realloc/cn_free so tests can make the
 *    N-th allocation fail (cn_alloc_fail_after) and check that every path cleans up.
 *  - Small, dependable containers: a growable byte buffer (cn_buf), a string → u32 hash map
 *    (cn_strmap) with its keys interned in one arena, and a bump arena (cn_arena) for
 *    request-scoped memory.
 *  - File helpers implement the crash-safety contract of the knowledge base: write to a
 *    temporary name, fsync the file, rename over the target, fsync the directory.
 *  - CRC32C (Castagnoli) checksums every on-disk section; SSE4.2 when the CPU has it,
 *    slicing-by-8 otherwise, chosen at run time.
 *
 * Internal names use the cn_ prefix; only include/cairn.h carries cairn_.
 */
#ifndef CAIRN_BASE_H
#define CAIRN_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "cairn.h"

/* ---- errors ------------------------------------------------------------------------- */

#define CN_ERRMSG_MAX 1024

typedef struct cn_err {
	cairn_status code; /* CAIRN_OK when nothing has failed */
	char msg[CN_ERRMSG_MAX];
} cn_err;

void cn_err_clear(cn_err *err);
/* Records the error unless one is already recorded; returns code so callers can
 * `return cn_err_set(err, CAIRN_EIO, "%s: %s", path, strerror(errno));`. err may be NULL. */
cairn_status cn_err_set(cn_err *err, cairn_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
cairn_status cn_err_setv(cn_err *err, cairn_status code, const char *fmt, va_list ap);
/* Prefix an existing message with context ("ingest: " + msg). */
void cn_err_prefix(cn_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- logging ------------------------------------------------------------------------ */

void cn_log(cairn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- allocation --------------------------------------------------------------------- */

void *cn_malloc(size_t n);
void *cn_calloc(size_t count, size_t size);
void *cn_realloc(void *p, size_t n);
void cn_free(void *p);
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);
/* Test hook: the N-th allocation from now fails (N >= 1); 0 disables. */
void cn_alloc_fail_after(long n);
/* Overflow-checked a*b; returns false on overflow. */
bool cn_mul_overflows(size_t a, size_t b, size_t *out);

/* Grow *arr (element size esz) so it holds at least need elements; *cap updated.
 * Returns CAIRN_ENOMEM on failure leaving *arr untouched. */
cairn_status cn_grow(void **arr, size_t *cap, size_t need, size_t esz);
#define CN_GROW(arr, cap, need) cn_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* ---- byte buffer -------------------------------------------------------------------- */

typedef struct cn_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	bool failed; /* sticky: an append ran out of memory */
} cn_buf;

void cn_buf_init(cn_buf *b);
void cn_buf_free(cn_buf *b);
void cn_buf_reset(cn_buf *b); /* len = 0, keeps memory */
bool cn_buf_reserve(cn_buf *b, size_t extra);
void cn_buf_append_slow(cn_buf *b, const void *p, size_t n);
/* Inline fast paths: appends on the analysis and postings hot paths are tiny and frequent. */
static inline void cn_buf_append(cn_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n && !b->failed) { /* room for n bytes and the NUL (cap > len always when data) */
		if (n)
			__builtin_memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		cn_buf_append_slow(b, p, n);
	}
}
static inline void cn_buf_putc(cn_buf *b, char c)
{
	if (b->cap - b->len > 1 && !b->failed) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
	} else {
		cn_buf_append_slow(b, &c, 1);
	}
}
void cn_buf_puts(cn_buf *b, const char *s);
void cn_buf_printf(cn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cn_buf_put_u32le(cn_buf *b, uint32_t v);
void cn_buf_put_u64le(cn_buf *b, uint64_t v);
void cn_buf_put_varint(cn_buf *b, uint64_t v);
void cn_buf_pad(cn_buf *b, size_t align); /* zero-pad len to a multiple of align */
/* JSON string literal with escapes (quotes included); invalid UTF-8 bytes become U+FFFD. */
void cn_buf_put_json_str(cn_buf *b, const char *s, size_t n);
/* Hands the memory to the caller (who frees it with cn_free); b is reset to empty. */
char *cn_buf_take(cn_buf *b);

/* ---- varint / little-endian --------------------------------------------------------- */

size_t cn_varint_put(uint8_t *dst, uint64_t v); /* dst needs 10 bytes; returns bytes written */
/* Decodes from [p, end); returns bytes consumed, 0 when truncated or over-long. */
size_t cn_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v);
/* Inline: they sit on the hottest decoding paths. Little-endian hosts only (x86-64,
 * aarch64); a big-endian port swaps bytes here. */
static inline uint32_t cn_load_u32le(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return v;
}
static inline uint64_t cn_load_u64le(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}
static inline void cn_store_u32le(void *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void cn_store_u64le(void *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

/* ---- CRC32C ------------------------------------------------------------------------- */

uint32_t cn_crc32c(uint32_t crc, const void *data, size_t n); /* start with crc = 0 */

/* ---- hashing ------------------------------------------------------------------------ */

uint64_t cn_hash64(const void *data, size_t n, uint64_t seed); /* fast, non-cryptographic */

/* ---- arena -------------------------------------------------------------------------- */

typedef struct cn_arena_block cn_arena_block;
typedef struct cn_arena {
	cn_arena_block *head;
	size_t block_size;
	size_t total; /* bytes handed out */
} cn_arena;

void cn_arena_init(cn_arena *a, size_t block_size);
void *cn_arena_alloc(cn_arena *a, size_t n); /* 8-byte aligned; NULL on OOM */
char *cn_arena_strndup(cn_arena *a, const char *s, size_t n);
void cn_arena_free(cn_arena *a);

/* ---- string → u32 map --------------------------------------------------------------- */

/* Open addressing, linear probing, keys copied into an internal arena. Ids are dense
 * (0, 1, 2, … in insertion order), so callers keep parallel arrays indexed by id. */
typedef struct cn_strmap {
	uint64_t *slots; /* (hash tag << 32) | (id + 1); 0 = empty */
	uint64_t *hashes;
	size_t nslots;
	const char **keys; /* by id */
	uint32_t *klens;
	size_t count;
	size_t kcap;
	cn_arena arena;
} cn_strmap;

void cn_strmap_init(cn_strmap *m);
void cn_strmap_free(cn_strmap *m);
/* Returns the id of key, or UINT32_MAX if absent. */
uint32_t cn_strmap_get(const cn_strmap *m, const char *key, size_t len);
/* Inserts if absent. *id gets the id; *added (may be NULL) says whether it was new. */
cairn_status cn_strmap_put(cn_strmap *m, const char *key, size_t len, uint32_t *id, bool *added);
static inline size_t cn_strmap_count(const cn_strmap *m) { return m->count; }
static inline const char *cn_strmap_key(const cn_strmap *m, uint32_t id) { return m->keys[id]; }
static inline uint32_t cn_strmap_klen(const cn_strmap *m, uint32_t id) { return m->klens[id]; }

/* ---- files -------------------------------------------------------------------------- */

/* Reads a whole file (max_bytes guards against huge input: CAIRN_ETOOBIG). The result is
 * NUL-terminated; *len excludes the NUL. */
cairn_status cn_file_read(const char *path, size_t max_bytes, char **data, size_t *len, cn_err *err);
/* Crash-safe replace: tmp file in the same directory, write, fsync, rename, fsync dir. */
cairn_status cn_file_write_atomic(const char *path, const void *data, size_t len, cn_err *err);
cairn_status cn_fsync_dir(const char *dir, cn_err *err);
cairn_status cn_mkdir_p(const char *path, cn_err *err);
bool cn_path_exists(const char *path);
bool cn_is_dir(const char *path);

typedef struct cn_map {
	const uint8_t *data;
	size_t len;
	size_t cap; /* cn_map_load: bytes of the anonymous mapping; 0 for a file mapping */
} cn_map;
/* Read-only memory map; an empty file maps to {NULL, 0}. */
cairn_status cn_map_open(const char *path, cn_map *m, cn_err *err);
/* The file read into private memory advised for 2 MiB pages, then made read-only: for data
 * streamed end to end over and over (a decoder's weights), where a file mapping's 4 KiB
 * pages cost TLB misses and stop the hardware prefetcher at every page boundary. An empty
 * file gives {NULL, 0}. */
cairn_status cn_map_load(const char *path, cn_map *m, cn_err *err);
void cn_map_close(cn_map *m);

/* ---- time --------------------------------------------------------------------------- */

uint64_t cn_now_ns(void);      /* monotonic */
int64_t cn_wall_time_s(void);  /* seconds since the epoch */

/* ---- misc --------------------------------------------------------------------------- */

#define CN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Shell-style glob match (*, ?, [..]); '/' matched by * too when match_slash. */
bool cn_glob_match(const char *pattern, const char *s);

#endif
