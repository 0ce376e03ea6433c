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

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline void vote(int32_t *v, uint64_t h)
{
	for (int b = 0; b < 64; b++)
		v[b] += (int32_t)((h >> b) & 1) * 2 - 1;
}

uint64_t cn_simhash(const char *text, size_t len)
{
	int32_t v[64] = {0};
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
			vote(v, mix64(w0 ^ rotl(w1, 21) * 0x9E3779B97F4A7C15ull ^ rotl(w2, 42) * 0xC2B2AE3D27D4EB4Full));
	}
	if (nw == 0)
		return 0;
	if (nw < 3)
		vote(v, mix64(w1 ^ rotl(w2, 21) * 0x9E3779B97F4A7C15ull ^ (uint64_t)nw));
	uint64_t r = 0;
	for (int b = 0; b < 64; b++)
		if (v[b] > 0)
			r |= 1ull << b;
	return r;
}
