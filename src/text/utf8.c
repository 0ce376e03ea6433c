/*
 * UTF-8 validation, decoding and encoding, plus whitespace collapsing.
 *
 * Validation follows RFC 3629 table 3-7 exactly (the second byte's allowed range depends on
 * the first byte), which rules out overlongs, surrogates and values above U+10FFFF without
 * decoding. Text in this engine is overwhelmingly ASCII, so the validator skips eight bytes
 * at a time while none of them has the high bit set.
 */
#include "text/text.h"

#include <string.h>

/* Length of the sequence starting with byte c when it is a valid lead byte, else 0. The
 * second-byte range for E0/ED/F0/F4 is checked separately. */
static inline size_t lead_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	if (c < 0xF5)
		return 4;
	return 0;
}

/* Returns the length of the valid sequence at p (p < e), or 0 if invalid/truncated. */
static inline size_t seq_len(const uint8_t *p, const uint8_t *e)
{
	size_t l = lead_len(p[0]);
	if (l <= 1)
		return l;
	if ((size_t)(e - p) < l)
		return 0;
	uint8_t c = p[0], d = p[1];
	uint8_t lo = 0x80, hi = 0xBF;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (d < lo || d > hi)
		return 0;
	for (size_t i = 2; i < l; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return l;
}

bool cn_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
	const uint8_t *p = (const uint8_t *)s, *e = p + n;
	while (p < e) {
		while ((size_t)(e - p) >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		if (p >= e)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t l = seq_len(p, e);
		if (!l) {
			if (bad_offset)
				*bad_offset = (size_t)(p - (const uint8_t *)s);
			return false;
		}
		p += l;
	}
	return true;
}

size_t cn_utf8_decode(const char *s, size_t n, int32_t *cp)
{
	if (!n) {
		*cp = -1;
		return 0;
	}
	const uint8_t *p = (const uint8_t *)s;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	size_t l = seq_len(p, p + n);
	switch (l) {
	case 2:
		*cp = ((int32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
		return 2;
	case 3:
		*cp = ((int32_t)(p[0] & 0x0F) << 12) | ((int32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
		return 3;
	case 4:
		*cp = ((int32_t)(p[0] & 0x07) << 18) | ((int32_t)(p[1] & 0x3F) << 12) |
		      ((int32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
		return 4;
	default:
		*cp = -1;
		return 1;
	}
}

size_t cn_utf8_encode(int32_t cp, char out[4])
{
	if (cp < 0)
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return 0;
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		return 0;
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static bool is_space_cp(int32_t c)
{
	if (c < 0x80)
		return c == ' ' || (c >= '\t' && c <= '\r');
	return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void cn_ws_collapse(cn_buf *out, const char *s, size_t n)
{
	size_t i = 0;
	bool pending = false, any = false;
	while (i < n) {
		int32_t c;
		size_t l = cn_utf8_decode(s + i, n - i, &c);
		if (c >= 0 && is_space_cp(c)) {
			pending = any;
			i += l;
			continue;
		}
		if (pending)
			cn_buf_putc(out, ' ');
		pending = false;
		any = true;
		if (c < 0)
			cn_buf_append(out, "\xEF\xBF\xBD", 3);
		else
			cn_buf_append(out, s + i, l);
		i += l;
	}
}
