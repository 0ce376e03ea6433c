/*
 * pii.c — the PII scanner: PCRE2 candidate patterns, validators, context scoring, overlap
 * resolution.
 *
 * Why this shape:
 *  - The patterns are compiled once per process (pthread_once) with JIT when the platform
 *    has it, in byte mode (no PCRE2_UTF): arbitrary bytes, including invalid UTF-8 and NULs,
 *    can be scanned without a validation pass, and spans are byte offsets by construction.
 *    Every pattern is written so it cannot backtrack catastrophically (bounded repeats, no
 *    nested unbounded quantifiers), and a match limit backs that up.
 *  - Patterns are deliberately permissive; the C code after each match decides, with the
 *    real rules (checksums, registry lengths, reserved ranges) and with the text around the
 *    match. A score below 0.5 (the default threshold) means "shape only": such candidates
 *    are kept internally so that a stronger overlapping reading (an SSN, an IP) wins, and are
 *    reported only when the caller lowers the threshold.
 *  - Context is read from a byte window before and after the span (words matched case-
 *    insensitively at word boundaries), so the cost per candidate is bounded.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <string.h>

#include "guard/guard.h"

static const char *const type_names[CN_PII_NTYPES] = {
	"EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN",   "CREDIT_CARD", "IBAN_CODE",   "IP_ADDRESS",
	"MAC_ADDRESS",   "DATE_TIME",    "US_DRIVER_LICENSE",       "API_KEY",     "JWT",
	"PRIVATE_KEY",   "SECRET",       "PERSON",   "ORGANIZATION", "LOCATION",   "STREET_ADDRESS",
};

const char *cn_pii_type_name(cn_pii_type t)
{
	return (unsigned)t < CN_PII_NTYPES ? type_names[t] : "UNKNOWN";
}

int cn_pii_type_from_name(const char *name, size_t len)
{
	for (int t = 0; t < CN_PII_NTYPES; t++)
		if (strlen(type_names[t]) == len && !strncasecmp(type_names[t], name, len))
			return t;
	if (len == 3 && !strncasecmp(name, "GPE", 3))
		return CN_PII_LOCATION;
	return -1;
}

cn_pii_opts cn_pii_default_opts(void)
{
	cn_pii_opts o = {.min_score = 0.5f, .type_mask = 0};
	return o;
}

/* ---- patterns ------------------------------------------------------------------------ */

enum {
	P_EMAIL,
	P_CARD,
	P_IBAN,
	P_SSN,
	P_IPV4,
	P_IPV6,
	P_MAC,
	P_MAC_DOT,
	P_PHONE,
	P_DATE,
	P_YEAR,
	P_WEEKDAY,
	P_DL,
	P_AWS,
	P_GITHUB,
	P_SLACK,
	P_STRIPE,
	P_GOOGLE,
	P_JWT,
	P_PEM,
	P_SECRET_KV,
	P_HIGHENT,
	P_COUNT
};

#define MONTHS "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"

static const struct {
	const char *re;
	uint32_t flags;
	cn_pii_type type;
} patterns[P_COUNT] = {
	[P_EMAIL] = {"(?<![A-Za-z0-9._%+\\-])[A-Za-z0-9][A-Za-z0-9._%+\\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\\-]{0,61}[A-Za-z0-9])?\\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\\-])",
	             0, CN_PII_EMAIL},
	[P_CARD] = {"(?<![\\d\\-])\\d(?:[ \\-]?\\d){11,18}(?!\\d|[ \\-]\\d)", 0, CN_PII_CARD},
	[P_IBAN] = {"(?<![A-Za-z0-9])[A-Za-z]{2}\\d{2}(?: ?[A-Za-z0-9]){11,31}", 0, CN_PII_IBAN},
	[P_SSN] = {"(?<![\\d\\-])\\d{3}([ \\-]?)\\d{2}\\1\\d{4}(?!\\d|-\\d)", 0, CN_PII_SSN},
	[P_IPV4] = {"(?<![\\d.])(?:\\d{1,3}\\.){3}\\d{1,3}(?!\\d|\\.\\d)", 0, CN_PII_IP},
	[P_IPV6] = {"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\\d{1,3}(?:\\.\\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\\w:])",
	            0, CN_PII_IP},
	[P_MAC] = {"(?<![0-9A-Fa-f:\\-])[0-9A-Fa-f]{2}([:\\-])(?:[0-9A-Fa-f]{2}\\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:\\-])",
	           0, CN_PII_MAC},
	[P_MAC_DOT] = {"(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])", 0,
	               CN_PII_MAC},
	[P_PHONE] = {"(?<![\\w+.\\-/])(?:(?:\\+|00)\\d{1,3}[ .\\-]?)?(?:\\(0\\)[ .\\-]?)?(?:\\(\\d{1,5}\\)[ .\\-]?)?\\d{1,12}(?:[ .\\-]\\d{1,8}){0,6}(?: ?(?:x|ext\\.?|\\#) ?\\d{1,6})?(?!\\w|[.\\-/]\\d)",
	             0, CN_PII_PHONE},
	[P_DATE] = {"(?<![\\w/.\\-])(?:\\d{4}-\\d{1,2}-\\d{1,2}(?:[ T]\\d{1,2}:\\d{2}(?::\\d{2})?)?|\\d{1,2}/\\d{1,2}/(?:\\d{4}|\\d{2})|\\d{1,2}[.\\-]\\d{1,2}[.\\-]\\d{4}|\\d{1,2}(?:st|nd|rd|th)? " MONTHS "\\.?,? \\d{4}|" MONTHS "\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4})(?![\\w/]|[.\\-]\\d)",
	            0, CN_PII_DATE},
	[P_YEAR] = {"(?<![\\w./\\-])(?:1[89]|20)\\d{2}(?![\\w/]|[.\\-]\\d)", 0, CN_PII_DATE},
	[P_WEEKDAY] = {"\\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\\b", 0, CN_PII_DATE},
	[P_DL] = {"(?i:driver'?s?\\s+licen[cs]e|driving\\s+licen[cs]e|licen[cs]e\\s+(?:no\\b|number|\\#)|\\bDL\\s*(?:\\#|no\\b|number))[^\\n]{0,30}?(?<![\\w\\-])([A-Z0-9][A-Z0-9\\-]{3,18}[A-Z0-9])(?![\\w\\-])",
	          0, CN_PII_DL},
	[P_AWS] = {"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16}(?![A-Z0-9])", 0,
	           CN_PII_API_KEY},
	[P_GITHUB] = {"\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\\b", 0, CN_PII_API_KEY},
	[P_SLACK] = {"\\bxox[abposr]-[A-Za-z0-9\\-]{10,250}", 0, CN_PII_API_KEY},
	[P_STRIPE] = {"\\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,247}\\b", 0, CN_PII_API_KEY},
	[P_GOOGLE] = {"\\bAIza[0-9A-Za-z_\\-]{35}(?![0-9A-Za-z_\\-])", 0, CN_PII_API_KEY},
	[P_JWT] = {"\\beyJ[A-Za-z0-9_\\-]{4,4000}\\.eyJ[A-Za-z0-9_\\-]{4,16000}\\.[A-Za-z0-9_\\-]{8,4000}(?![A-Za-z0-9_\\-])",
	           0, CN_PII_JWT},
	[P_PEM] = {"-----BEGIN ([A-Z0-9]{1,20} ){0,3}PRIVATE KEY( BLOCK)?-----[A-Za-z0-9+/=:,\\-\\s]{0,16384}?-----END ([A-Z0-9]{1,20} ){0,3}PRIVATE KEY( BLOCK)?-----",
	           0, CN_PII_PRIVATE_KEY},
	[P_SECRET_KV] = {"(?i)\\b(api[_\\-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_\\-]?key|auth[_\\-]?key|client[_\\-]?secret|bearer)[\\w\\-]{0,20}[\"']?\\s{0,3}(?:[:=]|:=|=>)\\s{0,3}[\"']?([^\\s\"',;<>]{6,200})",
	                 0, CN_PII_SECRET},
	/* found by a byte-class scan in C (high_entropy_runs), not by PCRE2: a regex attempt at
	 * every word start cost more than the whole rest of the secret detection */
	[P_HIGHENT] = {"(*FAIL)", 0, CN_PII_SECRET},
};

static pcre2_code *g_code[P_COUNT];
static pcre2_match_context *g_mctx;
static bool g_ok;
static char g_msg[256];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void compile_all(void)
{
	g_ok = true;
	for (int i = 0; i < P_COUNT; i++) {
		int ec;
		PCRE2_SIZE off;
		g_code[i] = pcre2_compile((PCRE2_SPTR)patterns[i].re, PCRE2_ZERO_TERMINATED, patterns[i].flags, &ec,
		                          &off, NULL);
		if (!g_code[i]) {
			char m[128];
			pcre2_get_error_message(ec, (PCRE2_UCHAR *)m, sizeof m);
			snprintf(g_msg, sizeof g_msg, "PII pattern %d: %s at %zu", i, m, (size_t)off);
			g_ok = false;
			return;
		}
		(void)pcre2_jit_compile(g_code[i], PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
	}
	g_mctx = pcre2_match_context_create(NULL);
	if (g_mctx) {
		pcre2_set_match_limit(g_mctx, 1000000);
		pcre2_set_depth_limit(g_mctx, 10000);
	} else {
		g_ok = false;
		snprintf(g_msg, sizeof g_msg, "PII patterns: out of memory");
	}
}

/* ---- helpers --------------------------------------------------------------------------- */

cairn_status cn_pii_push(cn_pii_vec *v, cn_pii_type t, size_t start, size_t end, float score)
{
	if (end <= start)
		return CAIRN_OK;
	if (CN_GROW(v->v, v->cap, v->n + 1) != CAIRN_OK)
		return CAIRN_ENOMEM;
	if (score > 1.0f)
		score = 1.0f;
	if (score < 0.0f)
		score = 0.0f;
	v->v[v->n++] = (cn_pii_finding){.type = t, .start = (uint32_t)start, .end = (uint32_t)end, .score = score};
	return CAIRN_OK;
}

static bool is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static bool window_has(const char *s, size_t lo, size_t hi, const char *w)
{
	size_t wl = strlen(w);
	if (hi < lo + wl)
		return false;
	char c0 = (char)(w[0] | 0x20);
	for (size_t i = lo; i + wl <= hi; i++) {
		if ((char)(s[i] | 0x20) != c0) /* cheap first-byte filter before the full compare */
			continue;
		if (!strncasecmp(s + i, w, wl) && (i == 0 || !is_word_byte((unsigned char)s[i - 1])) &&
		    (!is_word_byte((unsigned char)w[wl - 1]) || i + wl >= hi ||
		     !is_word_byte((unsigned char)s[i + wl]) ||
		     /* plural / inflected endings: "phones", "called" */
		     (s[i + wl] == 's' || s[i + wl] == 'S' || s[i + wl] == 'e' || s[i + wl] == 'i')))
			return true;
	}
	return false;
}

bool cn_pii_context(const char *s, size_t n, size_t start, size_t end, size_t before, size_t after,
                    const char *const *words)
{
	size_t lo = start > before ? start - before : 0;
	size_t hi = end + after < n ? end + after : n;
	for (const char *const *w = words; *w; w++)
		if (window_has(s, lo, start, *w) || window_has(s, end, hi, *w))
			return true;
	return false;
}

static const char *const ctx_phone[] = {"phone", "tel", "tel.", "telephone", "mobile", "mob", "cell", "fax",
                                        "call", "desk", "office", "contact", "whatsapp", "sms", "dial",
                                        "ring", "reach", "text", "message", "answer", "landline", "hotline",
                                        "home", "work", NULL};
static const char *const anti_phone[] = {"invoice", "order", "account", "acct", "isbn", "serial", "ref",
                                         "tracking", "zip", "postal", "postcode", "page", "version",
                                         "ssn", "social security", "card", "iban", "id", "case", NULL};
static const char *const street_after[] = {"st", "st.", "street", "rue", "apt", "suite", "road", "rd",
                                           "ave", "avenue", "lane", "ln", "blvd", "boulevard", "via",
                                           "calle", "strasse", "drive", "dr", "way", "box", "unit", NULL};
static const char *const ctx_ssn[] = {"ssn", "ssns", "social security", "social sec", "ss#", "ss #",
                                      "taxpayer", "tin", NULL};
static const char *const ctx_card[] = {"card", "credit", "debit", "visa", "mastercard", "amex",
                                       "american express", "discover", "jcb", "diners", "maestro",
                                       "payment", "pay", "cc", "pan", NULL};
static const char *const anti_card[] = {"order", "invoice", "tracking", "isbn", "account", "phone", NULL};
static const char *const ctx_iban[] = {"iban", "account", "bank", "transfer", "wire", "swift", "bic", NULL};
static const char *const ctx_dob[] = {"born", "birth", "dob", "d.o.b", "birthday", "birthdate", "age", NULL};
static const char *const ctx_year[] = {"in", "since", "during", "until", "till", "from", "by", "year",
                                       "born", "of", "circa", "around", "before", "after", NULL};
static const char *const ctx_secret[] = {"key", "secret", "token", "password", "passwd", "credential",
                                         "bearer", "auth", "authorization", "apikey", "api_key", NULL};
static const char *const ctx_ip[] = {"ip", "address", "host", "server", "client", "from", "connect", NULL};
static const char *const ctx_mac[] = {"mac", "hwaddr", "ether", "hardware", "wifi", "bssid", NULL};

/* digits of s[a..b) into d (up to cap); returns the count (may exceed cap: truncated) */
static size_t digits_of(const char *s, size_t a, size_t b, char *d, size_t cap)
{
	size_t k = 0;
	for (size_t i = a; i < b; i++)
		if (s[i] >= '0' && s[i] <= '9') {
			if (k < cap)
				d[k] = s[i];
			k++;
		}
	return k;
}

/* ---- per-pattern decisions ------------------------------------------------------------ */

static float score_card(const char *s, size_t n, size_t a, size_t b)
{
	char d[24];
	size_t k = digits_of(s, a, b, d, sizeof d);
	if (k < 12 || k > 19)
		return 0;
	bool sp = memchr(s + a, ' ', b - a) != NULL, da = memchr(s + a, '-', b - a) != NULL;
	if (sp && da)
		return 0; /* mixed separators: not how a card number is written */
	if (!cn_luhn_ok(d, k))
		return 0;
	const char *iss = cn_card_issuer(d, k);
	/* repeated-digit fillers pass Luhn but are no one's card */
	bool same = true;
	for (size_t i = 1; i < k; i++)
		same = same && d[i] == d[0];
	if (same)
		return 0;
	/* an unknown prefix with a valid check digit is a card when the text says so */
	float sc = iss ? (k >= 15 ? 0.85f : 0.6f) : 0.35f;
	if (cn_pii_context(s, n, a, b, 48, 16, ctx_card))
		sc += 0.3f;
	if (cn_pii_context(s, n, a, b, 32, 0, anti_card))
		sc -= 0.3f;
	return sc;
}

/* Walks the IBAN candidate at s[a..b): takes exactly the registered number of alphanumerics
 * for its country, so a trailing word is not swallowed. Returns the end, or 0. */
static size_t iban_end(const char *s, size_t a, size_t b)
{
	char tmp[48];
	size_t k = 0, i = a;
	/* collect up to 34 alnum chars and try every prefix whose length is registered */
	size_t ends[40];
	while (i < b && k < 34) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		tmp[k] = s[i];
		ends[k] = i + 1;
		k++;
		i++;
	}
	for (size_t len = k; len >= 15; len--) {
		if (cn_iban_ok(tmp, len)) {
			size_t e = ends[len - 1];
			if (e < b && s[e] != ' ')
				return 0; /* followed directly by more alphanumerics */
			return e;
		}
	}
	return 0;
}

static float score_ssn(const char *s, size_t n, size_t a, size_t b)
{
	char d[12];
	if (digits_of(s, a, b, d, sizeof d) != 9 || !cn_ssn_ok(d))
		return 0;
	char sep = s[a + 3];
	float sc = sep == '-' ? 0.8f : sep == ' ' ? 0.45f : 0.3f;
	if (cn_pii_context(s, n, a, b, 48, 16, ctx_ssn))
		sc += 0.2f;
	return sc;
}

static bool looks_like_date(const char *s, size_t a, size_t b)
{
	/* groups split by one separator kind; a 19xx/20xx group with 1–2 digit others */
	size_t g[8], ng = 0, cur = 0;
	char sep = 0;
	for (size_t i = a; i < b; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			cur++;
			continue;
		}
		if (sep && s[i] != sep)
			return false;
		sep = s[i];
		if (ng < 8)
			g[ng++] = cur;
		cur = 0;
	}
	if (ng < 8)
		g[ng++] = cur;
	if (ng != 3 || (sep != '-' && sep != '.' && sep != '/'))
		return false;
	size_t y = g[0] == 4 ? 0 : g[2] == 4 ? 2 : 9;
	if (y == 9)
		return false;
	const char *p = s + a;
	if (y == 2) {
		p = s + b - 4;
	}
	if (!((p[0] == '1' && p[1] == '9') || (p[0] == '2' && p[1] == '0')))
		return false;
	for (size_t i = 0; i < 3; i++)
		if (i != y && g[i] > 2)
			return false;
	return true;
}

static float score_phone(const char *s, size_t n, size_t a, size_t b)
{
	/* the extension is not counted in the digits */
	size_t core_end = b;
	for (size_t i = a; i < b; i++)
		if (s[i] == 'x' || s[i] == 'e' || s[i] == '#') {
			core_end = i;
			while (core_end > a && s[core_end - 1] == ' ')
				core_end--;
			break;
		}
	char d[24];
	size_t k = digits_of(s, a, core_end, d, sizeof d);
	if (k < 7 || k > 15)
		return 0;
	if (looks_like_date(s, a, core_end))
		return 0;
	/* group structure */
	size_t groups[12], ng = 0, cur = 0;
	char sep = 0;
	bool mixed = false, paren = false;
	for (size_t i = a; i < core_end; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9') {
			cur++;
			continue;
		}
		if (c == '(' || c == ')')
			paren = true;
		if (c == ' ' || c == '-' || c == '.') {
			if (sep && c != sep && !paren)
				mixed = true;
			if (!sep)
				sep = c;
		}
		if (cur) {
			if (ng < 12)
				groups[ng++] = cur;
			cur = 0;
		}
	}
	if (cur && ng < 12)
		groups[ng++] = cur;
	float sc;
	if (s[a] == '+') {
		sc = k >= 8 ? 0.8f : 0.4f;
	} else if (b - a > 2 && s[a] == '0' && s[a + 1] == '0') {
		sc = k >= 10 ? 0.6f : 0.3f;
	} else if (k == 10 && ng == 3 && groups[0] == 3 && groups[1] == 3 && groups[2] == 4 && !mixed &&
	           d[0] >= '2') {
		sc = 0.75f; /* North American (NXX) NXX-XXXX */
	} else if (k == 11 && d[0] == '1' && ng == 4 && groups[1] == 3 && groups[2] == 3 && groups[3] == 4) {
		sc = 0.75f;
	} else if (ng >= 2 && !mixed) {
		sc = 0.35f; /* national formats: 0xx xxxx xxxx, xx xx xx xx xx, (0x) xxxx xxxx, … */
	} else if (ng >= 2) {
		sc = 0.25f;
	} else {
		sc = k >= 10 ? 0.25f : 0.05f; /* an unbroken digit run: ten digits at least */
	}
	if (cn_pii_context(s, n, a, b, 40, 24, ctx_phone))
		sc += 0.4f;
	if (cn_pii_context(s, n, a, b, 24, 0, anti_phone))
		sc -= 0.4f;
	/* house numbers: "17031 2202 Rissik St", "6556 106 Rue …" */
	if (cn_pii_context(s, n, b, b, 0, 24, street_after))
		sc -= 0.4f;
	return sc;
}

static bool date_fields_ok(const char *s, size_t a, size_t b)
{
	/* numeric dates: every 1–2 digit field ≤ 31 and at least one ≤ 12 */
	int f[3], nf = 0, v = 0, dg = 0;
	for (size_t i = a; i <= b && nf < 3; i++) {
		if (i < b && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (s[i] - '0');
			dg++;
			continue;
		}
		if (dg) {
			f[nf++] = dg <= 2 ? v : -1;
		}
		if (i < b && (s[i] == ' ' || s[i] == 'T'))
			break; /* time part */
		v = dg = 0;
	}
	int small = 0, ok12 = 0;
	for (int i = 0; i < nf; i++)
		if (f[i] >= 0) {
			if (f[i] == 0 || f[i] > 31)
				return false;
			small++;
			if (f[i] <= 12)
				ok12++;
		}
	return small < 2 || ok12 >= 1;
}

static bool prev_word_in(const char *s, size_t a, const char *const *words)
{
	size_t i = a;
	while (i > 0 && s[i - 1] == ' ')
		i--;
	size_t e = i;
	while (i > 0 && ((s[i - 1] >= 'a' && s[i - 1] <= 'z') || (s[i - 1] >= 'A' && s[i - 1] <= 'Z')))
		i--;
	if (e == i || e - i > 12)
		return false;
	for (const char *const *w = words; *w; w++)
		if (strlen(*w) == e - i && !strncasecmp(s + i, *w, e - i))
			return true;
	return false;
}

/* ---- the scan -------------------------------------------------------------------------- */

static int cmp_start(const void *x, const void *y)
{
	const cn_pii_finding *p = x, *q = y;
	if (p->start != q->start)
		return p->start < q->start ? -1 : 1;
	if (p->end != q->end)
		return p->end > q->end ? -1 : 1;
	return (int)p->type - (int)q->type;
}

static bool better(const cn_pii_finding *p, const cn_pii_finding *q)
{
	if (p->score != q->score)
		return p->score > q->score;
	if (p->end - p->start != q->end - q->start)
		return p->end - p->start > q->end - q->start;
	return p->start < q->start;
}

/* Keeps, within each cluster of overlapping candidates, the best one first and then every
 * next-best one that overlaps nothing kept. Clusters are small in real text; the greedy pass
 * inside one is quadratic in the cluster size only. */
static cairn_status resolve(cn_pii_vec *v, float min_score, cn_pii_vec *out)
{
	if (v->n > 1)
		qsort(v->v, v->n, sizeof *v->v, cmp_start);
	size_t i = 0;
	while (i < v->n) {
		size_t j = i + 1;
		uint32_t mx = v->v[i].end;
		while (j < v->n && v->v[j].start < mx) {
			if (v->v[j].end > mx)
				mx = v->v[j].end;
			j++;
		}
		/* cluster [i, j): repeated selection of the best remaining non-overlapping one */
		size_t first_out = out->n;
		for (;;) {
			size_t best = SIZE_MAX;
			for (size_t k = i; k < j; k++) {
				if (v->v[k].score < min_score || v->v[k].end == 0)
					continue;
				bool clash = false;
				for (size_t m = first_out; m < out->n && !clash; m++)
					clash = v->v[k].start < out->v[m].end && out->v[m].start < v->v[k].end;
				if (clash) {
					v->v[k].end = 0; /* never again */
					continue;
				}
				if (best == SIZE_MAX || better(&v->v[k], &v->v[best]))
					best = k;
			}
			if (best == SIZE_MAX)
				break;
			if (cn_pii_push(out, v->v[best].type, v->v[best].start, v->v[best].end, v->v[best].score))
				return CAIRN_ENOMEM;
			v->v[best].end = 0;
		}
		if (out->n - first_out > 1)
			qsort(out->v + first_out, out->n - first_out, sizeof *out->v, cmp_start);
		i = j;
	}
	return CAIRN_OK;
}

static cairn_status run_pattern(int p, const char *s, size_t n, pcre2_match_data *md, uint32_t mask,
                                cn_pii_vec *v)
{
	cn_pii_type type = patterns[p].type;
	if (mask && !(mask & (1u << type)))
		return CAIRN_OK;
	size_t off = 0;
	while (off < n) {
		int rc = pcre2_match(g_code[p], (PCRE2_SPTR)s, n, off, 0, md, g_mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* a match or JIT-stack limit on hostile input: give up on this line only, so
			 * the rest of the text is still scanned and the total work stays bounded */
			const char *nl = memchr(s + off, '\n', n - off);
			if (!nl)
				break;
			off = (size_t)(nl - s) + 1;
			continue;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t a = ov[0], b = ov[1];
		off = b > a ? b : a + 1;
		float sc = 0;
		switch (p) {
		case P_EMAIL: {
			const char *at = memchr(s + a, '@', b - a);
			if (!at || at[-1] == '.' || memmem(s + a, (size_t)(at - s) - a, "..", 2))
				break;
			sc = 0.95f;
			break;
		}
		case P_CARD:
			sc = score_card(s, n, a, b);
			break;
		case P_IBAN: {
			size_t e = iban_end(s, a, b);
			if (!e)
				break;
			b = e;
			off = e;
			sc = 0.9f + (cn_pii_context(s, n, a, b, 40, 0, ctx_iban) ? 0.1f : 0.0f);
			break;
		}
		case P_SSN:
			sc = score_ssn(s, n, a, b);
			break;
		case P_IPV4:
			if (!cn_ipv4_ok(s + a, b - a))
				break;
			sc = 0.85f + (cn_pii_context(s, n, a, b, 32, 0, ctx_ip) ? 0.1f : 0.0f);
			break;
		case P_IPV6:
			if (!cn_ipv6_ok(s + a, b - a))
				break;
			sc = 0.85f;
			break;
		case P_MAC:
		case P_MAC_DOT: {
			bool letter = false;
			for (size_t i = a; i < b; i++)
				letter = letter || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f');
			sc = letter ? 0.8f : 0.45f;
			if (cn_pii_context(s, n, a, b, 32, 0, ctx_mac))
				sc += 0.15f;
			break;
		}
		case P_PHONE:
			sc = score_phone(s, n, a, b);
			break;
		case P_DATE:
			if (!date_fields_ok(s, a, b))
				break;
			sc = 0.6f + (cn_pii_context(s, n, a, b, 20, 0, ctx_dob) ? 0.3f : 0.0f);
			break;
		case P_YEAR:
			if (prev_word_in(s, a, ctx_year))
				sc = 0.5f + (cn_pii_context(s, n, a, b, 20, 0, ctx_dob) ? 0.3f : 0.0f);
			break;
		case P_WEEKDAY:
			sc = 0.5f;
			break;
		case P_DL: {
			if (rc < 2 || ov[2] == PCRE2_UNSET)
				break;
			a = ov[2];
			b = ov[3];
			char d[32];
			if (digits_of(s, a, b, d, sizeof d) < 4)
				break;
			sc = 0.8f;
			break;
		}
		case P_AWS:
		case P_GITHUB:
		case P_SLACK:
		case P_STRIPE:
		case P_GOOGLE:
			sc = p == P_STRIPE && s[a] == 'p' ? 0.4f : 0.95f; /* publishable keys are public */
			break;
		case P_JWT:
			sc = 0.9f;
			break;
		case P_PEM:
			sc = 0.99f;
			break;
		case P_SECRET_KV: {
			if (rc < 3 || ov[4] == PCRE2_UNSET)
				break;
			size_t ka = ov[2];
			a = ov[4];
			b = ov[5];
			bool pw = (s[ka] | 0x20) == 'p';
			double h = cn_entropy(s + a, b - a);
			if (pw)
				sc = 0.75f;
			else if (b - a >= 12 && h >= 3.0)
				sc = 0.8f;
			break;
		}
		default:
			break;
		}
		if (sc > 0.05f && cn_pii_push(v, type, a, b, sc))
			return CAIRN_ENOMEM;
	}
	return CAIRN_OK;
}

static bool b64_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '_' || c == '-';
}

/* Runs of 24–512 base64/base64url bytes (plus '=' padding) that look random, beside a
 * key/secret/token word: SECRET. */
static cairn_status high_entropy_runs(const char *s, size_t n, cn_pii_vec *v)
{
	size_t i = 0;
	while (i < n) {
		if (!b64_byte((unsigned char)s[i])) {
			i++;
			continue;
		}
		size_t a = i;
		while (i < n && b64_byte((unsigned char)s[i]))
			i++;
		size_t b = i;
		while (i < n && i - b < 2 && s[i] == '=')
			i++;
		if (i < n && (b64_byte((unsigned char)s[i]) || s[i] == '='))
			continue; /* more than two '=' */
		if (b - a < 24 || b - a > 512)
			continue;
		int lo = 0, up = 0, dg = 0;
		for (size_t k = a; k < b; k++) {
			char c = s[k];
			lo += c >= 'a' && c <= 'z';
			up += c >= 'A' && c <= 'Z';
			dg += c >= '0' && c <= '9';
		}
		if (!dg || (!lo && !up) || cn_entropy(s + a, b - a) < 4.0)
			continue;
		float sc = cn_pii_context(s, n, a, b, 48, 0, ctx_secret) ? 0.7f : 0.3f;
		if (cn_pii_push(v, CN_PII_SECRET, a, i, sc))
			return CAIRN_ENOMEM;
	}
	return CAIRN_OK;
}

cairn_status cn_pii_scan(const char *s, size_t n, const cn_pii_opts *opts, cn_pii_finding **out,
                         size_t *count, cn_err *err)
{
	*out = NULL;
	*count = 0;
	cn_pii_opts o = opts ? *opts : cn_pii_default_opts();
	if (n >= UINT32_MAX)
		return cn_err_set(err, CAIRN_ETOOBIG, "PII scan: input of %zu bytes (limit 4 GiB)", n);
	pthread_once(&g_once, compile_all);
	if (!g_ok)
		return cn_err_set(err, CAIRN_EINTERNAL, "%s", g_msg);
	if (n == 0 || !s)
		return CAIRN_OK;
	pcre2_match_data *md = pcre2_match_data_create(8, NULL);
	if (!md)
		return cn_err_set(err, CAIRN_ENOMEM, "PII scan: out of memory");
	cn_pii_vec cand = {0}, res = {0};
	cairn_status st = CAIRN_OK;
	for (int p = 0; p < P_COUNT && st == CAIRN_OK; p++)
		if (p != P_HIGHENT)
			st = run_pattern(p, s, n, md, o.type_mask, &cand);
	if (st == CAIRN_OK && (!o.type_mask || (o.type_mask & (1u << CN_PII_SECRET))))
		st = high_entropy_runs(s, n, &cand);
	pcre2_match_data_free(md);
	if (st == CAIRN_OK)
		st = cn_pii_ner(s, n, o.type_mask, &cand);
	if (st == CAIRN_OK)
		st = resolve(&cand, o.min_score, &res);
	cn_free(cand.v);
	if (st != CAIRN_OK) {
		cn_free(res.v);
		return cn_err_set(err, st, "PII scan: out of memory");
	}
	/* the type mask also filters NER output, which tags several types at once */
	size_t k = 0;
	for (size_t i = 0; i < res.n; i++)
		if (!o.type_mask || (o.type_mask & (1u << res.v[i].type)))
			res.v[k++] = res.v[i];
	if (k == 0) {
		cn_free(res.v);
		return CAIRN_OK;
	}
	*out = res.v;
	*count = k;
	return CAIRN_OK;
}
