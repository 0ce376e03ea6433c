/*
 * SimHash (Charikar 2002) over word 3-shingles, for near-duplicate chunks.
 *
 * Each shingle hashes to 64 bits; each bit votes ±1; the fingerprint keeps the sign of each
 * bit's total. A one-word edit changes at most three shingles, so in a 300-word text ~1% of
 * the votes move and only bits whose totals were near zero flip: a few bits, against ~32 for
 * unrelated texts. Words are hashed incrementally (FNV-1a over lower-cased bytes) so nothing
 * is copied; shingles combine three word hashes position-sensitively and are finalised with
 * the splitmix64 mixer so shingle bits are independent.
 */
#include "ingest/ingest_int.h"

#include <string.h>

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Bit counting is bit-sliced: spread[x] puts bit j of byte x into byte j of a word, so one
 * add updates eight 8-bit counters; they are flushed to wide totals every 255 shingles.
 * Same result as 64 separate ±1 votes, ~8× fewer operations. */
#define S(b) ((uint64_t)((b) & 1) | (uint64_t)((b) >> 1 & 1) << 8 | (uint64_t)((b) >> 2 & 1) << 16 | \
	      (uint64_t)((b) >> 3 & 1) << 24 | (uint64_t)((b) >> 4 & 1) << 32 |                       \
	      (uint64_t)((b) >> 5 & 1) << 40 | (uint64_t)((b) >> 6 & 1) << 48 | (uint64_t)((b) >> 7 & 1) << 56)
#define R4(n) S(n), S(n + 1), S(n + 2), S(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)
static const uint64_t spread[256] = {R64(0), R64(64), R64(128), R64(192)};

typedef struct votes {
	uint64_t lane[8]; /* 8-bit counters of set bits, bit 8k+j in byte j of lane[k] */
	uint32_t ones[64];
	uint32_t pending, total;
} votes;

static void flush(votes *v)
{
	for (int k = 0; k < 8; k++) {
		for (int j = 0; j < 8; j++)
			v->ones[8 * k + j] += (uint32_t)(v->lane[k] >> (8 * j) & 0xFF);
		v->lane[k] = 0;
	}
	v->pending = 0;
}

static inline void vote(votes *v, uint64_t h)
{
	for (int k = 0; k < 8; k++)
		v->lane[k] += spread[(h >> (8 * k)) & 0xFF];
	v->total++;
	if (++v->pending == 255)
		flush(v);
}

uint64_t cn_simhash(const char *text, size_t len)
{
	votes v;
	memset(&v, 0, sizeof v);
	uint64_t w0 = 0, w1 = 0, w2 = 0;
	size_t nw = 0, i = 0;
	const unsigned char *s = (const unsigned char *)text;
	while (i < len) {
		unsigned c = s[i];
		bool word = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!word) {
			i++;
			continue;
		}
		uint64_t h = 0xCBF29CE484222325ull;
		while (i < len) {
			c = s[i];
			if (c >= 'A' && c <= 'Z')
				c += 32;
			else if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				break;
			h = (h ^ c) * 0x100000001B3ull;
			i++;
		}
		w0 = w1;
		w1 = w2;
		w2 = h;
		if (++nw >= 3)
			vote(&v, mix64(w0 ^ rotl(w1, 21) * 0x9E3779B97F4A7C15ull ^ rotl(w2, 42) * 0xC2B2AE3D27D4EB4Full));
	}
	if (nw == 0)
		return 0;
	if (nw < 3)
		vote(&v, mix64(w1 ^ rotl(w2, 21) * 0x9E3779B97F4A7C15ull ^ (uint64_t)nw));
	flush(&v);
	uint64_t r = 0;
	for (int b = 0; b < 64; b++)
		if (2 * (uint64_t)v.ones[b] > v.total) /* more +1 than -1 votes */
			r |= 1ull << b;
	return r;
}

uint64_t cn_simhash_words(const uint64_t *wh, size_t n)
{
	if (n == 0)
		return 0;
	votes v;
	memset(&v, 0, sizeof v);
	for (size_t i = 2; i < n; i++)
		vote(&v, mix64(wh[i - 2] ^ rotl(wh[i - 1], 21) * 0x9E3779B97F4A7C15ull ^ rotl(wh[i], 42) * 0xC2B2AE3D27D4EB4Full));
	if (n < 3)
		vote(&v, mix64((n == 2 ? wh[0] : 0) ^ rotl(wh[n - 1], 21) * 0x9E3779B97F4A7C15ull ^ (uint64_t)n));
	flush(&v);
	uint64_t r = 0;
	for (int b = 0; b < 64; b++)
		if (2 * (uint64_t)v.ones[b] > v.total)
			r |= 1ull << b;
	return r;
}

/* The plain version kept as the reference for the bit-sliced one (tests compare them). */
uint64_t cn_simhash_ref(const char *text, size_t len)
{
	int32_t v[64] = {0};
	uint64_t w[3] = {0, 0, 0};
	size_t nw = 0, i = 0;
	const unsigned char *s = (const unsigned char *)text;
	for (;;) {
		while (i < len && !(s[i] >= 0x80 || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				    (s[i] >= '0' && s[i] <= '9')))
			i++;
		if (i >= len)
			break;
		uint64_t h = 0xCBF29CE484222325ull;
		for (; i < len; i++) {
			unsigned c = s[i];
			if (c >= 'A' && c <= 'Z')
				c += 32;
			else if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				break;
			h = (h ^ c) * 0x100000001B3ull;
		}
		w[0] = w[1];
		w[1] = w[2];
		w[2] = h;
		uint64_t sh = 0;
		if (++nw >= 3)
			sh = mix64(w[0] ^ rotl(w[1], 21) * 0x9E3779B97F4A7C15ull ^ rotl(w[2], 42) * 0xC2B2AE3D27D4EB4Full);
		else
			continue;
		for (int b = 0; b < 64; b++)
			v[b] += (sh >> b) & 1 ? 1 : -1;
	}
	if (!nw)
		return 0;
	if (nw < 3) {
		uint64_t sh = mix64(w[1] ^ rotl(w[2], 21) * 0x9E3779B97F4A7C15ull ^ (uint64_t)nw);
		for (int b = 0; b < 64; b++)
			v[b] += (sh >> b) & 1 ? 1 : -1;
	}
	uint64_t r = 0;
	for (int b = 0; b < 64; b++)
		if (v[b] > 0)
			r |= 1ull << b;
	return r;
}
