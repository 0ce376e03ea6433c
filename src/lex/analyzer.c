/*
 * The analyzer: segments (wordbreak.c) → possessive → fold → stopwords → stem → terms.
 *
 * Order and behaviour follow Anserini's DefaultEnglishAnalyzer (StandardTokenizer →
 * EnglishPossessiveFilter → LowerCaseFilter → StopFilter → PorterStemFilter):
 *  - the possessive filter runs on the surface form, so "'S" goes too;
 *  - folding is ASCII lower-casing on the fast path and NFKC + case folding (utf8proc) for
 *    anything else, which also maps full-width forms ("ＡＢＣ" → "abc");
 *  - stopwords are checked after folding and before stemming, and still take a position:
 *    token positions count every word the tokenizer produced (Lucene's position increments),
 *    so phrase positions keep gaps where stopwords were.
 *
 * The cache. Everything after segmentation is a pure function of the surface bytes, so the
 * analyzer memoises it: a hash table (its own, not cn_strmap: one 16-byte slot per probe
 * and the surface form stored next to its term halve the cost of a hit) from the surface form (after possessive removal, before
 * folding — keying on the raw bytes saves the folding copy on every hit) to the final term
 * or a "dropped" marker. Natural text repeats words heavily, so after warm-up most words
 * cost one hash lookup. The cache is cleared when it exceeds CN_LEX_CACHE_MAX entries so
 * memory stays bounded on adversarial input. This is why an analyzer is not thread-safe.
 *
 * Terms are capped at CN_LEX_MAX_TOKEN bytes (at a character boundary), also after NFKC
 * expansion, so index code can rely on the limit.
 */
#include "lex/lexint.h"
#include "text/text.h"

#include <libstemmer.h>
#include <string.h>
#include <utf8proc.h>

#define CN_LEX_CACHE_MAX (1u << 20)

static const char *const k_lucene_stop[] = {
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
	"is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
	"there", "these", "they", "this", "to", "was", "will", "with",
};

/* Snowball's English stop list (snowballstem.org, english/stop.txt). */
static const char *const k_snowball_stop[] = {
	"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
	"yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself",
	"it", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
	"who", "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be",
	"been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "would",
	"should", "could", "ought", "i'm", "you're", "he's", "she's", "it's", "we're", "they're",
	"i've", "you've", "we've", "they've", "i'd", "you'd", "he'd", "she'd", "we'd", "they'd",
	"i'll", "you'll", "he'll", "she'll", "we'll", "they'll", "isn't", "aren't", "wasn't",
	"weren't", "hasn't", "haven't", "hadn't", "doesn't", "don't", "didn't", "won't",
	"wouldn't", "shan't", "shouldn't", "can't", "cannot", "couldn't", "mustn't", "let's",
	"that's", "who's", "what's", "here's", "there's", "when's", "where's", "why's", "how's",
	"a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while", "of",
	"at", "by", "for", "with", "about", "against", "between", "into", "through", "during",
	"before", "after", "above", "below", "to", "from", "up", "down", "in", "out", "on",
	"off", "over", "under", "again", "further", "then", "once", "here", "there", "when",
	"where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other",
	"some", "such", "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very",
};

/* One cached word: c_terms[off, off+klen) is the surface form, the term follows it. */
typedef struct cache_ent {
	uint64_t h;
	uint32_t off;
	uint16_t klen;
	uint16_t tlen; /* CN_TERM_DROPPED16 when the word is dropped */
} cache_ent;

#define CN_TERM_DROPPED16 UINT16_MAX

struct cn_analyzer {
	char stem_name[32];
	char stop_name[16];
	bool possessive, cjk_bigrams;
	struct sb_stemmer *stemmer; /* NULL: no stemming */
	bool porter;                /* stemmer is "porter": apply Lucene's short-word rule */
	const char *const *stop;
	size_t n_stop;
	char sig[96];

	cache_ent *tab;   /* open addressing, linear probing, load <= 1/2; h == 0: empty */
	size_t mask;      /* slots - 1 (0 before the first insert) */
	size_t count;
	cn_buf c_terms;   /* per entry: surface bytes, then the final term */

	int32_t *fold;    /* utf8proc scratch */
	size_t fold_cap;
};

cn_analyzer_params cn_analyzer_default_params(void)
{
	return (cn_analyzer_params){"porter", "lucene", true, true};
}

static bool stemmer_known(const char *name)
{
	for (const char **l = sb_stemmer_list(); *l; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

cairn_status cn_analyzer_new(const cn_analyzer_params *p, cn_analyzer **out, cn_err *err)
{
	*out = NULL;
	cn_analyzer_params d = cn_analyzer_default_params();
	if (!p)
		p = &d;
	const char *stem = p->stemmer ? p->stemmer : "porter";
	const char *stop = p->stopwords ? p->stopwords : "lucene";
	if (strcmp(stem, "none") != 0 && (strlen(stem) >= 32 || !stemmer_known(stem)))
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "analyzer: unknown stemmer \"%.64s\" (use a libstemmer algorithm name or \"none\")",
		                  stem);
	const char *const *list = NULL;
	size_t n_list = 0;
	if (strcmp(stop, "lucene") == 0) {
		list = k_lucene_stop;
		n_list = CN_ARRAY_LEN(k_lucene_stop);
	} else if (strcmp(stop, "english") == 0) {
		list = k_snowball_stop;
		n_list = CN_ARRAY_LEN(k_snowball_stop);
	} else if (strcmp(stop, "none") != 0) {
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "analyzer: unknown stopword list \"%.64s\" (use \"lucene\", \"english\" or \"none\")",
		                  stop);
	}
	cn_analyzer *a = cn_calloc(1, sizeof *a);
	if (!a)
		return cn_err_set(err, CAIRN_ENOMEM, "analyzer: out of memory");
	snprintf(a->stem_name, sizeof a->stem_name, "%s", stem);
	snprintf(a->stop_name, sizeof a->stop_name, "%s", stop);
	a->possessive = p->possessive;
	a->cjk_bigrams = p->cjk_bigrams;
	a->stop = list;
	a->n_stop = n_list;
	a->porter = strcmp(stem, "porter") == 0;
	if (strcmp(stem, "none") != 0 && !a->porter) { /* "porter" is our Lucene-exact porter.c */
		a->stemmer = sb_stemmer_new(stem, "UTF_8");
		if (!a->stemmer) {
			cn_free(a);
			return cn_err_set(err, CAIRN_ENOMEM, "analyzer: cannot create stemmer \"%s\"", stem);
		}
	}
	snprintf(a->sig, sizeof a->sig, "v1;stem=%s;stop=%s;poss=%d;cjk=%d", a->stem_name,
	         a->stop_name, a->possessive ? 1 : 0, a->cjk_bigrams ? 1 : 0);
	cn_buf_init(&a->c_terms);
	*out = a;
	return CAIRN_OK;
}

void cn_analyzer_free(cn_analyzer *a)
{
	if (!a)
		return;
	if (a->stemmer)
		sb_stemmer_delete(a->stemmer);
	cn_free(a->tab);
	cn_buf_free(&a->c_terms);
	cn_free(a->fold);
	cn_free(a);
}

const char *cn_analyzer_signature(const cn_analyzer *a) { return a->sig; }

static bool parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

cairn_status cn_analyzer_from_signature(const char *sig, cn_analyzer **out, cn_err *err)
{
	*out = NULL;
	char buf[256];
	if (!sig || strlen(sig) >= sizeof buf)
		return cn_err_set(err, CAIRN_EUNSUPPORTED, "analyzer signature: missing or too long");
	memcpy(buf, sig, strlen(sig) + 1);
	char *save = NULL;
	char *tok = strtok_r(buf, ";", &save);
	if (!tok || strcmp(tok, "v1") != 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "analyzer signature \"%s\": unsupported version \"%s\" (this build reads v1)",
		                  sig, tok ? tok : "");
	cn_analyzer_params p = cn_analyzer_default_params();
	unsigned seen = 0;
	while ((tok = strtok_r(NULL, ";", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return cn_err_set(err, CAIRN_EUNSUPPORTED, "analyzer signature \"%s\": bad item \"%s\"", sig, tok);
		*eq = '\0';
		const char *k = tok, *v = eq + 1;
		unsigned bit;
		bool ok = true;
		if (strcmp(k, "stem") == 0) {
			bit = 1;
			p.stemmer = v;
		} else if (strcmp(k, "stop") == 0) {
			bit = 2;
			p.stopwords = v;
		} else if (strcmp(k, "poss") == 0) {
			bit = 4;
			ok = parse_bool(v, &p.possessive);
		} else if (strcmp(k, "cjk") == 0) {
			bit = 8;
			ok = parse_bool(v, &p.cjk_bigrams);
		} else {
			return cn_err_set(err, CAIRN_EUNSUPPORTED, "analyzer signature \"%s\": unknown key \"%s\"", sig, k);
		}
		if (!ok || (seen & bit))
			return cn_err_set(err, CAIRN_EUNSUPPORTED, "analyzer signature \"%s\": bad or repeated \"%s\"", sig, k);
		seen |= bit;
	}
	if (seen != 15)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "analyzer signature \"%s\": incomplete (needs stem, stop, poss and cjk)", sig);
	cairn_status st = cn_analyzer_new(&p, out, err);
	if (st)
		cn_err_prefix(err, "analyzer signature \"%s\": ", sig);
	return st;
}

/* ---- tokens ------------------------------------------------------------------------- */

void cn_tokens_init(cn_tokens *t)
{
	memset(t, 0, sizeof *t);
	cn_buf_init(&t->terms);
}

void cn_tokens_reset(cn_tokens *t)
{
	t->n = 0;
	t->n_words = 0;
	cn_buf_reset(&t->terms);
	t->terms.failed = false;
}

void cn_tokens_free(cn_tokens *t)
{
	cn_free(t->v);
	cn_buf_free(&t->terms);
	memset(t, 0, sizeof *t);
}

/* ---- term resolution ---------------------------------------------------------------- */

static bool is_stop(const cn_analyzer *a, const char *t, size_t n)
{
	for (size_t i = 0; i < a->n_stop; i++) {
		const char *w = a->stop[i];
		if (w[0] == t[0] && strlen(w) == n && memcmp(w, t, n) == 0)
			return true;
	}
	return false;
}

/* Longest prefix of t[0..n) that is at most max bytes and ends on a character boundary. */
static size_t clamp_utf8(const char *t, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && ((uint8_t)t[k] & 0xC0) == 0x80)
		k--;
	return k;
}

static void cache_clear(cn_analyzer *a)
{
	if (a->tab)
		memset(a->tab, 0, (a->mask + 1) * sizeof *a->tab);
	a->count = 0;
	cn_buf_reset(&a->c_terms);
}

/* wyhash-style mixing, inlined: words are short and this runs once per token. */
static inline uint64_t mix64(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t word_hash(const char *p, size_t n)
{
	const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
	uint64_t h = k0 ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix64(h ^ w, k1);
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = mix64(h ^ w ^ k0, k1);
	return h | 1;
}

static cairn_status cache_grow(cn_analyzer *a)
{
	size_t slots = a->mask ? (a->mask + 1) * 2 : 4096;
	cache_ent *t = cn_calloc(slots, sizeof *t);
	if (!t)
		return CAIRN_ENOMEM;
	for (size_t i = 0; a->mask && i <= a->mask; i++) {
		if (!a->tab[i].h)
			continue;
		size_t j = a->tab[i].h & (slots - 1);
		while (t[j].h)
			j = (j + 1) & (slots - 1);
		t[j] = a->tab[i];
	}
	cn_free(a->tab);
	a->tab = t;
	a->mask = slots - 1;
	return CAIRN_OK;
}

/* NFKC + case fold of raw[0..n) into a->fold (as UTF-8 bytes), returned in *out, *out_len.
 * A token utf8proc refuses (it cannot be, after segmentation) folds to nothing. */
static cairn_status fold_unicode(cn_analyzer *a, const char *raw, size_t n, const char **out, size_t *out_len)
{
	const utf8proc_option_t opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
	                               UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
	*out = "";
	*out_len = 0;
	for (;;) {
		utf8proc_ssize_t r = utf8proc_decompose((const utf8proc_uint8_t *)raw, (utf8proc_ssize_t)n,
		                                        a->fold, (utf8proc_ssize_t)a->fold_cap, opts);
		if (r < 0)
			return CAIRN_OK;
		if ((size_t)r > a->fold_cap) {
			if (CN_GROW(a->fold, a->fold_cap, (size_t)r))
				return CAIRN_ENOMEM;
			continue;
		}
		r = utf8proc_reencode(a->fold, r, opts);
		if (r < 0)
			return CAIRN_OK;
		*out = (const char *)a->fold;
		*out_len = (size_t)r;
		return CAIRN_OK;
	}
}

/* Final term for the surface form raw[0..n): term in *term, *term_len, or *term = NULL when the
 * word is dropped (a stopword, or nothing left after folding). */
static cairn_status resolve(cn_analyzer *a, const char *raw, size_t n, bool ascii, const char **term,
                            size_t *term_len)
{
	uint64_t h = word_hash(raw, n);
	size_t i = h & a->mask;
	if (a->tab) {
		for (;; i = (i + 1) & a->mask) {
			const cache_ent *e = &a->tab[i];
			if (!e->h)
				break;
			if (e->h == h && e->klen == n && memcmp(a->c_terms.data + e->off, raw, n) == 0) {
				if (e->tlen == CN_TERM_DROPPED16) {
					*term = NULL;
					return CAIRN_OK;
				}
				*term = a->c_terms.data + e->off + n;
				*term_len = e->tlen;
				return CAIRN_OK;
			}
		}
	}

	char low[CN_LEX_MAX_TOKEN + 1];
	const char *t;
	size_t tl;
	if (ascii && n <= CN_LEX_MAX_TOKEN) {
		for (size_t k = 0; k < n; k++) {
			char c = raw[k];
			low[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		t = low;
		tl = n;
	} else {
		cairn_status st = fold_unicode(a, raw, n, &t, &tl);
		if (st)
			return st;
		tl = clamp_utf8(t, tl, CN_LEX_MAX_TOKEN);
	}
	bool dropped = tl == 0 || is_stop(a, t, tl);
	/* Lucene's PorterStemmer leaves words of one or two characters alone; Snowball's
	 * "porter" would turn "as" into "a" and "s" into nothing. */
	size_t chars = 0;
	for (size_t k = 0; k < tl && chars <= 2; k++)
		chars += ((uint8_t)t[k] & 0xC0) != 0x80;
	char stemmed[CN_LEX_MAX_TOKEN + 1];
	if (!dropped && a->porter && chars > 2) {
		memcpy(stemmed, t, tl);
		tl = cn_porter_stem(stemmed, tl);
		t = stemmed;
	} else if (!dropped && a->stemmer) {
		const sb_symbol *r = sb_stemmer_stem(a->stemmer, (const sb_symbol *)t, (int)tl);
		if (!r)
			return CAIRN_ENOMEM;
		t = (const char *)r;
		tl = clamp_utf8(t, (size_t)sb_stemmer_length(a->stemmer), CN_LEX_MAX_TOKEN);
		dropped = tl == 0;
	}

	/* Insert. Bounded: clear when full (or when offsets would outgrow 32 bits). The
	 * surface form can be longer than a token (a CJK bigram of two marked characters is
	 * at most 2 * CN_LEX_MAX_UNIT), never longer than 16 bits. */
	if (n > UINT16_MAX - 1)
		goto uncached;
	if (a->count >= CN_LEX_CACHE_MAX || a->c_terms.len > UINT32_MAX - 2 * UINT16_MAX)
		cache_clear(a);
	if ((a->count + 1) * 2 > a->mask + 1) {
		if (cache_grow(a))
			return CAIRN_ENOMEM;
	}
	size_t off = a->c_terms.len;
	cn_buf_append(&a->c_terms, raw, n);
	if (!dropped)
		cn_buf_append(&a->c_terms, t, tl);
	if (a->c_terms.failed) {
		a->c_terms.failed = false;
		a->c_terms.len = off;
		if (a->c_terms.data)
			a->c_terms.data[off] = '\0';
		return CAIRN_ENOMEM;
	}
	i = h & a->mask;
	while (a->tab[i].h)
		i = (i + 1) & a->mask;
	a->tab[i] = (cache_ent){h, (uint32_t)off, (uint16_t)n, dropped ? CN_TERM_DROPPED16 : (uint16_t)tl};
	a->count++;
	if (dropped) {
		*term = NULL;
		return CAIRN_OK;
	}
	*term = a->c_terms.data + off + n;
	*term_len = tl;
	return CAIRN_OK;
uncached:
	*term = dropped ? NULL : t;
	*term_len = tl;
	return CAIRN_OK;
}

static cairn_status emit(cn_tokens *out, const char *term, size_t tl, uint32_t pos, uint32_t start, uint32_t end)
{
	if (out->n + 1 > out->cap && CN_GROW(out->v, out->cap, out->n + 1))
		return CAIRN_ENOMEM;
	size_t off = out->terms.len;
	if (off > UINT32_MAX - tl - 1)
		return CAIRN_ETOOBIG;
	cn_buf_append(&out->terms, term, tl);
	cn_buf_putc(&out->terms, '\0');
	if (out->terms.failed)
		return CAIRN_ENOMEM;
	out->v[out->n++] = (cn_token){(uint32_t)off, (uint32_t)tl, pos, start, end};
	return CAIRN_OK;
}

/* One word or CJK piece: resolve it and emit it, always taking a position. */
static cairn_status piece(cn_analyzer *a, const char *text, size_t s, size_t e, bool ascii, uint32_t base,
                          cn_tokens *out)
{
	if (out->n_words >= UINT32_MAX)
		return CAIRN_ETOOBIG;
	uint32_t pos = (uint32_t)out->n_words++;
	size_t n = e - s;
	const char *raw = text + s;
	if (a->possessive && n >= 2 && (raw[n - 1] == 's' || raw[n - 1] == 'S')) {
		if (raw[n - 2] == '\'')
			n -= 2;
		else if (n >= 4 && memcmp(raw + n - 4, "\xE2\x80\x99", 3) == 0) /* ’ */
			n -= 4;
		else if (n >= 4 && memcmp(raw + n - 4, "\xEF\xBC\x87", 3) == 0) /* ＇ */
			n -= 4;
	}
	if (!n)
		return CAIRN_OK;
	const char *term;
	size_t tl = 0;
	cairn_status st = resolve(a, raw, n, ascii, &term, &tl);
	if (st || !term)
		return st;
	return emit(out, term, tl, pos, base + (uint32_t)s, base + (uint32_t)e);
}

cairn_status cn_analyze(cn_analyzer *a, const char *text, size_t len, uint32_t base_offset, cn_tokens *out)
{
	if (len > UINT32_MAX - (size_t)base_offset)
		return CAIRN_ETOOBIG;
	size_t n0 = out->n, t0 = out->terms.len, w0 = out->n_words;
	const uint8_t *s = (const uint8_t *)text;
	size_t pos = 0;
	cn_seg g;
	cairn_status st = CAIRN_OK;
	while (!st && cn_seg_next(s, len, &pos, &g)) {
		if (g.kind == CN_SEG_WORD) {
			st = piece(a, text, g.start, g.end, g.ascii, base_offset, out);
			continue;
		}
		/* A run without spaces: overlapping bigrams, or one unigram if alone. */
		size_t u0 = g.start, u1 = cn_seg_unit_end(s, len, u0);
		if (g.units == 1 || !a->cjk_bigrams) {
			for (;;) {
				st = piece(a, text, u0, u1, false, base_offset, out);
				if (st || u1 >= g.end)
					break;
				u0 = u1;
				u1 = cn_seg_unit_end(s, len, u0);
			}
			continue;
		}
		while (!st && u1 < g.end) {
			size_t u2 = cn_seg_unit_end(s, len, u1);
			st = piece(a, text, u0, u2, false, base_offset, out);
			u0 = u1;
			u1 = u2;
		}
	}
	if (st) {
		out->n = n0;
		out->terms.len = t0;
		out->terms.failed = false;
		if (out->terms.data)
			out->terms.data[t0] = '\0';
		out->n_words = w0;
	}
	return st;
}

size_t cn_count_words(const char *text, size_t len)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t pos = 0, count = 0;
	cn_seg g;
	while (cn_seg_next(s, len, &pos, &g))
		count += g.kind == CN_SEG_WORD ? 1 : (g.units > 1 ? g.units - 1 : 1);
	return count;
}
