/*
 * pii_valid.c — the validators behind the PII patterns. A regex finds something shaped like
 * a card number or an IBAN; only a checksum or a registry rule says it is one. Each function
 * takes a byte range and never reads outside it.
 */
#include <math.h>
#include <string.h>

#include "guard/guard.h"

bool cn_luhn_ok(const char *s, size_t n)
{
	int sum = 0, k = 0;
	for (size_t i = n; i-- > 0;) {
		if (s[i] < '0' || s[i] > '9')
			continue;
		int d = s[i] - '0';
		if (k & 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		k++;
	}
	return k >= 2 && sum % 10 == 0;
}

static long prefix_num(const char *d, size_t n, size_t len)
{
	if (len > n)
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (d[i] - '0');
	return v;
}

/* Issuer identification numbers and lengths as the schemes publish them (ISO/IEC 7812
 * prefixes; Visa, Mastercard incl. the 2-series, Amex, Discover incl. the China UnionPay
 * co-branded range, Diners, JCB, Maestro, UnionPay, Mir, RuPay, Verve, Troy). */
const char *cn_card_issuer(const char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return NULL;
	if (n < 12 || n > 19)
		return NULL;
	long p1 = prefix_num(d, n, 1), p2 = prefix_num(d, n, 2), p3 = prefix_num(d, n, 3);
	long p4 = prefix_num(d, n, 4), p6 = prefix_num(d, n, 6);
	if (p1 == 4 && (n == 13 || n == 16 || n == 19))
		return "visa";
	if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16)
		return "mastercard";
	if ((p2 == 34 || p2 == 37) && n == 15)
		return "amex";
	if ((p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925)) &&
	    n >= 16)
		return "discover";
	if (((p3 >= 300 && p3 <= 305) || p3 == 309 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14)
		return "diners";
	if (p4 >= 3528 && p4 <= 3589 && n >= 16)
		return "jcb";
	if ((p4 == 1800 || p4 == 2131) && n == 15)
		return "jcb";
	if (p4 >= 2200 && p4 <= 2204 && n >= 16)
		return "mir";
	if (p2 == 62 && n >= 16)
		return "unionpay";
	if ((p2 == 60 || p2 == 65 || p2 == 81 || p2 == 82 || p3 == 508) && n == 16)
		return "rupay";
	if (p2 == 50 || (p2 >= 56 && p2 <= 69))
		return "maestro"; /* 12–19 digits */
	if (p4 == 9792 && n == 16)
		return "troy";
	return NULL;
}

/* Registered IBAN lengths (SWIFT IBAN registry), two letters then the length. */
static const char iban_lengths[] =
	"AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20"
	"EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30"
	"KZ20LB28LC32LI21LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24"
	"PL28PS29PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29"
	"VA22VG24XK20YE30";

static int iban_country_len(char a, char b)
{
	a = (char)(a & ~0x20);
	b = (char)(b & ~0x20);
	for (const char *p = iban_lengths; p[0]; p += 4)
		if (p[0] == a && p[1] == b)
			return (p[2] - '0') * 10 + (p[3] - '0');
	return 0;
}

bool cn_iban_ok(const char *s, size_t n)
{
	char c[40];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == ' ')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 32);
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			return false;
		if (k >= sizeof c)
			return false;
		c[k++] = ch;
	}
	if (k < 15)
		return false;
	if (!(c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] >= '0' && c[2] <= '9' &&
	      c[3] >= '0' && c[3] <= '9'))
		return false;
	if ((size_t)iban_country_len(c[0], c[1]) != k)
		return false;
	/* mod 97 of BBAN + country + check digits, letters as 10..35, digit by digit */
	unsigned rem = 0;
	for (size_t j = 0; j < k; j++) {
		char ch = c[(j + 4) % k];
		if (ch >= '0' && ch <= '9')
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return rem == 1;
}

bool cn_ssn_ok(const char *d)
{
	for (int i = 0; i < 9; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	if (!memcmp(d, "000", 3) || !memcmp(d, "666", 3) || d[0] == '9')
		return false;
	if (!memcmp(d + 3, "00", 2) || !memcmp(d + 5, "0000", 4))
		return false;
	/* published or advertised example numbers, and all-same-digit fillers */
	static const char *const bad[] = {"078051120", "123456789", "219099999", "457555462",
	                                  "111111111", "222222222", "333333333", "444444444",
	                                  "555555555", "777777777", "888888888", "987654320",
	                                  "987654321", "987654322", "987654323", "987654324",
	                                  "987654325", "987654326", "987654327", "987654328",
	                                  "987654329"};
	for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++)
		if (!memcmp(d, bad[i], 9))
			return false;
	return true;
}

bool cn_ipv4_ok(const char *s, size_t n)
{
	int parts = 0, digits = 0, val = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (digits == 0 || val > 255)
				return false;
			parts++;
			digits = val = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return false;
		val = val * 10 + (s[i] - '0');
	}
	return parts == 4;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool cn_ipv6_ok(const char *s, size_t n)
{
	if (n < 2 || n > 45)
		return false;
	int groups = 0, nonempty = 0;
	bool dcolon = false;
	size_t i = 0;
	if (s[0] == ':') {
		if (s[1] != ':')
			return false;
		dcolon = true;
		i = 2;
		if (i == n)
			return false; /* "::" alone: the unspecified address, not PII */
	}
	while (i < n) {
		size_t j = i;
		while (j < n && hexval(s[j]) >= 0)
			j++;
		if (j < n && s[j] == '.') { /* trailing dotted IPv4 */
			if (!cn_ipv4_ok(s + i, n - i))
				return false;
			groups += 2;
			nonempty++;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		groups++;
		nonempty++;
		if (j == n)
			break;
		if (s[j] != ':')
			return false;
		if (j + 1 < n && s[j + 1] == ':') {
			if (dcolon)
				return false;
			dcolon = true;
			i = j + 2;
			if (i == n)
				break;
		} else {
			i = j + 1;
			if (i == n)
				return false; /* trailing single colon */
		}
	}
	if (dcolon ? groups > 7 : groups != 8)
		return false;
	return nonempty >= 2;
}

double cn_entropy(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	size_t cnt[256] = {0};
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)s[i]]++;
	double h = 0;
	for (int c = 0; c < 256; c++)
		if (cnt[c]) {
			double p = (double)cnt[c] / (double)n;
			h -= p * log2(p);
		}
	return h;
}
