/* Growable byte buffer. Appends never fail loudly: an allocation failure sets a sticky
 * flag the owner checks once at the end, which keeps serialisation code linear. */
#include "base.h"

#include <string.h>

void cn_buf_init(cn_buf *b) { memset(b, 0, sizeof *b); }

void cn_buf_free(cn_buf *b)
{
	cn_free(b->data);
	memset(b, 0, sizeof *b);
}

void cn_buf_reset(cn_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

bool cn_buf_reserve(cn_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra > SIZE_MAX - b->len - 1) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	char *p = cn_realloc(b->data, ncap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = ncap;
	return true;
}

void cn_buf_append_slow(cn_buf *b, const void *p, size_t n)
{
	if (!cn_buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void cn_buf_puts(cn_buf *b, const char *s) { cn_buf_append(b, s, strlen(s)); }


void cn_buf_printf(cn_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !cn_buf_reserve(b, (size_t)n)) {
		if (n < 0)
			b->failed = true;
		va_end(ap2);
		return;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

void cn_buf_put_u32le(cn_buf *b, uint32_t v)
{
	uint8_t t[4];
	cn_store_u32le(t, v);
	cn_buf_append(b, t, 4);
}

void cn_buf_put_u64le(cn_buf *b, uint64_t v)
{
	uint8_t t[8];
	cn_store_u64le(t, v);
	cn_buf_append(b, t, 8);
}

void cn_buf_put_varint(cn_buf *b, uint64_t v)
{
	uint8_t t[10];
	cn_buf_append(b, t, cn_varint_put(t, v));
}

void cn_buf_pad(cn_buf *b, size_t align)
{
	static const char zeros[64];
	while (b->len % align) {
		size_t n = align - b->len % align;
		cn_buf_append(b, zeros, n > sizeof zeros ? sizeof zeros : n);
		if (b->failed)
			return;
	}
}

/* Length of the valid UTF-8 sequence at p (1–4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned min;
	if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; }
	else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; }
	else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; }
	else return 0;
	if (avail < n)
		return 0;
	unsigned cp = c & (0x3F >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void cn_buf_put_json_str(cn_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	cn_buf_putc(b, '"');
	size_t i = 0;
	while (i < n) {
		/* Copy the longest run that needs no escaping in one go. */
		size_t j = i;
		while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
			j++;
		if (j > i) {
			cn_buf_append(b, p + i, j - i);
			i = j;
			continue;
		}
		unsigned c = p[i];
		if (c >= 0x80) {
			size_t len = utf8_seq_len(p + i, n - i);
			if (len) {
				cn_buf_append(b, p + i, len);
				i += len;
			} else {
				cn_buf_puts(b, "\\ufffd");
				i++;
			}
			continue;
		}
		switch (c) {
		case '"': cn_buf_puts(b, "\\\""); break;
		case '\\': cn_buf_puts(b, "\\\\"); break;
		case '\n': cn_buf_puts(b, "\\n"); break;
		case '\r': cn_buf_puts(b, "\\r"); break;
		case '\t': cn_buf_puts(b, "\\t"); break;
		case '\b': cn_buf_puts(b, "\\b"); break;
		case '\f': cn_buf_puts(b, "\\f"); break;
		default: cn_buf_printf(b, "\\u%04x", c); break;
		}
		i++;
	}
	cn_buf_putc(b, '"');
}

char *cn_buf_take(cn_buf *b)
{
	char *p = b->data;
	if (!p)
		p = cn_strdup("");
	memset(b, 0, sizeof *b);
	return p;
}
