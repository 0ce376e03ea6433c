/* Varints, little-endian loads/stores, CRC32C and a 64-bit hash.
 *
 * CRC32C: the SSE4.2 crc32 instruction does 8 bytes a cycle; the table path (slicing-by-8)
 * is the portable reference the tests compare it with. The choice is made once, at first
 * use, from cpuid. */
#include "base.h"

#include <string.h>

size_t cn_varint_put(uint8_t *dst, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		dst[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	dst[n++] = (uint8_t)v;
	return n;
}

size_t cn_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < 10 && p + i < end; i++) {
		uint64_t byte = p[i];
		if (i == 9 && byte > 1)
			return 0; /* would overflow 64 bits */
		r |= (byte & 0x7F) << (7 * i);
		if (!(byte & 0x80)) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

/* ---- CRC32C ---- */

static uint32_t crc_table[8][256];
static int crc_mode; /* 0 = not yet chosen, 1 = table, 2 = sse4.2 */

static void crc_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

uint32_t cn_crc32c_table(uint32_t crc, const void *data, size_t n);
uint32_t cn_crc32c_table(uint32_t crc, const void *data, size_t n)
{
	if (!crc_table[0][1])
		crc_init_table();
	const uint8_t *p = data;
	crc = ~crc;
	while (n >= 8) {
		uint64_t w = cn_load_u64le(p) ^ crc;
		crc = crc_table[7][w & 0xFF] ^ crc_table[6][(w >> 8) & 0xFF] ^
		      crc_table[5][(w >> 16) & 0xFF] ^ crc_table[4][(w >> 24) & 0xFF] ^
		      crc_table[3][(w >> 32) & 0xFF] ^ crc_table[2][(w >> 40) & 0xFF] ^
		      crc_table[1][(w >> 48) & 0xFF] ^ crc_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t c = ~crc;
	while (n >= 8) {
		c = __builtin_ia32_crc32di(c, cn_load_u64le(p));
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}
#endif

uint32_t cn_crc32c(uint32_t crc, const void *data, size_t n)
{
	if (!crc_mode) {
		crc_mode = 1;
#if defined(__x86_64__)
		__builtin_cpu_init();
		if (__builtin_cpu_supports("sse4.2"))
			crc_mode = 2;
#endif
	}
#if defined(__x86_64__)
	if (crc_mode == 2)
		return crc32c_hw(crc, data, n);
#endif
	return cn_crc32c_table(crc, data, n);
}

/* ---- hash: a compact wyhash-style mix; not for adversarial keys in public tables ---- */

static inline uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t cn_hash64(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = data;
	const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
	               k2 = 0x8ebc6af09c88c6e3ull;
	uint64_t h = seed ^ mix(seed ^ k0, k1) ^ n;
	while (n >= 16) {
		h = mix(cn_load_u64le(p) ^ k1, cn_load_u64le(p + 8) ^ h);
		p += 16;
		n -= 16;
	}
	uint64_t a = 0, b = 0;
	if (n >= 8) {
		a = cn_load_u64le(p);
		b = cn_load_u64le(p + n - 8);
	} else if (n >= 4) {
		a = cn_load_u32le(p);
		b = cn_load_u32le(p + n - 4);
	} else if (n > 0) {
		a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
	}
	return mix(a ^ k2 ^ h, b ^ k1);
}
