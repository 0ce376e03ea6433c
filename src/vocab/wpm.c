/*
 * wpm.c — WordPiece (BERT): Hugging Face tokenizers' BertNormalizer + BertPreTokenizer +
 * WordPiece, on token texts in GGUF's convention (word-initial pieces carry a U+2581
 * prefix, continuation pieces are stored without "##").
 *
 * Design:
 *  - One streaming pass per fragment, no intermediate normalized string: each input code
 *    point goes through clean-text → CJK spacing → NFD → mark stripping → lowercasing and
 *    lands directly in the current word, so memory is one small word buffer per call and
 *    nothing is allocated per word. ASCII skips every Unicode stage through a 128-entry
 *    class table built at init (English text is almost all ASCII).
 *  - The order of stages is tokenizers' (the fast tokenizer that produced tokenizer.json
 *    files and llama.cpp's test vectors), not the slow Python BertTokenizer's where the two
 *    differ: clean text drops every C* code point except \t \n \r (so \v \f U+0085 are
 *    dropped, not spaces), whitespace is Unicode White_Space, accents are stripped before
 *    lowercasing, lowercasing is per character (no final-sigma rule), and the CJK ranges
 *    are tokenizers' (0x2B920, not 0x2B820, starts the fifth one).
 *  - NFD reorders runs of combining marks by canonical class. Marks that are stripped (Mn)
 *    cannot be seen, so only the rare surviving ones (Mc with a non-zero class: viramas,
 *    musical stems) are held in a pending run and stably sorted when the run ends; a run
 *    longer than the word limit makes the word [UNK] whatever its order, which bounds it.
 *  - Greedy longest-match-first lookup walks a byte trie with two roots (word-initial
 *    pieces, continuation pieces) whose edges live in one open-addressing hash table, so a
 *    word costs one probe per byte instead of one hash of every candidate substring. Ids
 *    come from the core's text → id map, so duplicate texts resolve as everywhere else.
 *  - Invalid UTF-8 bytes read as U+FFFD, which clean text drops (as llama.cpp does).
 */
#include <string.h>
#include <utf8proc.h>

#include "text/text.h"
#include "vocab/vocab_int.h"

#define WPM_NONE UINT32_MAX
#define WPM_ROOT_INIT 0u
#define WPM_ROOT_CONT 1u
#define WPM_MAX_CHARS_DEFAULT 100u

enum { C_WORD = 0, C_SPACE = 1, C_PUNCT = 2, C_DROP = 3 };

typedef struct wpm_algo {
	/* While building: keys ((parent << 8) | byte) + 1 (0 = empty) and vals (child) sized by
	 * the total key bytes. Then compacted into edges: key << 24 | child, sized by the nodes
	 * actually made (a third of the bytes for BERT), so lookups stay in cache. */
	uint64_t *keys;
	uint32_t *vals;
	uint64_t *edges;
	size_t mask;
	unsigned shift;
	int32_t *node_tok; /* token id ending at the node, -1 for none */
	uint32_t n_nodes;
	int32_t unk;
	uint32_t max_chars;
	bool clean, chinese, strip, lower;
	uint8_t ascii_class[128];
	uint8_t ascii_map[128]; /* lowercased when lower */
} wpm_algo;

static inline size_t edge_slot(const wpm_algo *a, uint64_t k)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> a->shift) & a->mask;
}

#define WPM_NODE_BITS 24

static inline uint32_t trie_next(const wpm_algo *a, uint32_t node, uint8_t b)
{
	uint64_t k = (((uint64_t)node << 8) | b) + 1;
	size_t i = edge_slot(a, k);
	for (;;) {
		uint64_t e = a->edges[i];
		if ((e >> WPM_NODE_BITS) == k)
			return (uint32_t)(e & ((1u << WPM_NODE_BITS) - 1));
		if (!e)
			return WPM_NONE;
		i = (i + 1) & a->mask;
	}
}

static void table_size(wpm_algo *a, size_t need)
{
	size_t nslots = 16;
	unsigned bits = 4;
	while (nslots < need * 2) {
		nslots <<= 1;
		bits++;
	}
	a->mask = nslots - 1;
	a->shift = 64 - bits;
}

/* Moves the build-time table into the packed one. */
static cairn_status trie_compact(wpm_algo *a)
{
	size_t old_n = a->mask + 1;
	table_size(a, a->n_nodes);
	a->edges = cn_calloc(a->mask + 1, sizeof(*a->edges));
	if (!a->edges)
		return CAIRN_ENOMEM;
	for (size_t j = 0; j < old_n; j++) {
		uint64_t k = a->keys[j];
		if (!k)
			continue;
		size_t i = edge_slot(a, k);
		while (a->edges[i])
			i = (i + 1) & a->mask;
		a->edges[i] = (k << WPM_NODE_BITS) | a->vals[j];
	}
	cn_free(a->keys);
	cn_free(a->vals);
	a->keys = NULL;
	a->vals = NULL;
	return CAIRN_OK;
}

static void trie_insert(wpm_algo *a, uint32_t root, const uint8_t *s, size_t n, int32_t id)
{
	uint32_t node = root;
	for (size_t j = 0; j < n; j++) {
		uint64_t k = (((uint64_t)node << 8) | s[j]) + 1;
		size_t i = edge_slot(a, k);
		while (a->keys[i] && a->keys[i] != k)
			i = (i + 1) & a->mask;
		if (!a->keys[i]) {
			a->keys[i] = k;
			a->vals[i] = a->n_nodes;
			a->node_tok[a->n_nodes++] = -1;
		}
		node = a->vals[i];
	}
	if (a->node_tok[node] < 0) /* same text twice: the core's map already chose the id */
		a->node_tok[node] = id;
}

static void wpm_free(cn_vocab *v)
{
	wpm_algo *a = v->algo;
	if (!a)
		return;
	cn_free(a->keys);
	cn_free(a->vals);
	cn_free(a->edges);
	cn_free(a->node_tok);
	cn_free(a);
	v->algo = NULL;
}

static bool is_ascii_punct(uint32_t c)
{
	return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
	       (c >= 123 && c <= 126);
}

static cairn_status wpm_init(cn_vocab *v, const cn_vocab_spec *spec, cn_err *err)
{
	const char *name = spec->name ? spec->name : "vocab";
	wpm_algo *a = cn_calloc(1, sizeof(*a));
	if (!a)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", name);
	v->algo = a;
	/* BERT's normalizer: uncased models lowercase and strip accents, cased ones neither;
	 * every model cleans text and spaces out CJK unless its configuration says otherwise. */
	a->lower = spec->lowercase;
	a->strip = spec->wpm_strip_accents < 0 ? spec->lowercase : spec->wpm_strip_accents != 0;
	a->clean = spec->wpm_clean_text != 0;
	a->chinese = spec->wpm_chinese_chars != 0;
	a->max_chars = spec->wpm_max_chars ? spec->wpm_max_chars : WPM_MAX_CHARS_DEFAULT;

	a->unk = v->unk;
	if (a->unk < 0 || (uint32_t)a->unk >= v->n_tokens)
		a->unk = cn_vocab_lookup(v, "[UNK]", 5);
	if (a->unk < 0) {
		wpm_free(v);
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: WordPiece vocabulary has no unknown token (needed for words it cannot spell)",
		                  name);
	}

	for (uint32_t c = 0; c < 128; c++) {
		uint8_t cls = C_WORD;
		bool ws = c == ' ' || (c >= 9 && c <= 13); /* Unicode White_Space in ASCII */
		bool ctl = c < 32 || c == 127;
		if (a->clean && (c == 0 || (ctl && c != '\t' && c != '\n' && c != '\r')))
			cls = C_DROP;
		else if (ws)
			cls = C_SPACE;
		else if (is_ascii_punct(c))
			cls = C_PUNCT;
		a->ascii_class[c] = cls;
		a->ascii_map[c] = (uint8_t)(a->lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
	}

	/* Trie size: at most one node per key byte, plus the two roots. */
	size_t total = 2;
	for (uint32_t i = 0; i < v->n_tokens; i++)
		total += v->tokens[i].len;
	if (total > UINT32_MAX / 4) {
		wpm_free(v);
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: token texts too large for the WordPiece trie", name);
	}
	table_size(a, total);
	a->keys = cn_calloc(a->mask + 1, sizeof(*a->keys));
	a->vals = cn_malloc((a->mask + 1) * sizeof(*a->vals));
	a->node_tok = cn_malloc(total * sizeof(*a->node_tok));
	if (!a->keys || !a->vals || !a->node_tok) {
		wpm_free(v);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory building the WordPiece trie", name);
	}
	a->node_tok[WPM_ROOT_INIT] = -1;
	a->node_tok[WPM_ROOT_CONT] = -1;
	a->n_nodes = 2;
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		const cn_vocab_token *t = &v->tokens[i];
		if (!t->len)
			continue;
		int32_t id = cn_vocab_lookup(v, t->text, t->len);
		if (id < 0)
			id = (int32_t)i;
		const uint8_t *s = (const uint8_t *)t->text;
		/* A bare "▁" is "##▁" rewritten (the word-initial empty piece could never match). */
		if (t->len > 3 && memcmp(s, "\xE2\x96\x81", 3) == 0)
			trie_insert(a, WPM_ROOT_INIT, s + 3, t->len - 3, id);
		else
			trie_insert(a, WPM_ROOT_CONT, s, t->len, id);
	}
	if (a->n_nodes >= (1u << WPM_NODE_BITS)) {
		wpm_free(v);
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: the WordPiece trie needs more than 2^24 nodes", name);
	}
	if (trie_compact(a) != CAIRN_OK) {
		wpm_free(v);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory building the WordPiece trie", name);
	}
	return CAIRN_OK;
}

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct wpm_state {
	const wpm_algo *a;
	cn_tokvec *out;
	cairn_status st;
	uint8_t *word;      /* the current word's bytes (only while nchars <= max_chars) */
	size_t wlen, wcap;
	uint32_t nchars;
	uint32_t *pend;     /* surviving combining marks of the current NFD run */
	size_t npend, pcap;
	uint8_t word_stack[512];
	uint32_t pend_stack[16];
} wpm_state;

/* Greedy longest-match-first over the finished word; the whole word is [UNK] when a
 * position has no piece or the word is too long. */
static void word_end(wpm_state *s)
{
	if (!s->nchars)
		return;
	const wpm_algo *a = s->a;
	cn_tokvec *out = s->out;
	size_t start_n = out->n;
	if (s->nchars > a->max_chars)
		goto unk;
	const uint8_t *w = s->word;
	size_t n = s->wlen, pos = 0;
	uint32_t root = WPM_ROOT_INIT;
	while (pos < n) {
		uint32_t node = root;
		int32_t best = -1;
		size_t best_end = 0;
		for (size_t j = pos; j < n; j++) {
			node = trie_next(a, node, w[j]);
			if (node == WPM_NONE)
				break;
			/* pieces end on character boundaries (as the reference shrinks by chars) */
			if (a->node_tok[node] >= 0 && (j + 1 == n || (w[j + 1] & 0xC0) != 0x80)) {
				best = a->node_tok[node];
				best_end = j + 1;
			}
		}
		if (best < 0) {
			out->n = start_n;
			goto unk;
		}
		if (cn_tokvec_push(out, best) != CAIRN_OK) {
			s->st = CAIRN_ENOMEM;
			break;
		}
		pos = best_end;
		root = WPM_ROOT_CONT;
	}
	s->nchars = 0;
	s->wlen = 0;
	return;
unk:
	if (cn_tokvec_push(out, a->unk) != CAIRN_OK)
		s->st = CAIRN_ENOMEM;
	s->nchars = 0;
	s->wlen = 0;
}

static void word_put(wpm_state *s, uint32_t cp)
{
	if (++s->nchars > s->a->max_chars)
		return; /* the word is [UNK] now; keep counting only */
	if (s->wcap - s->wlen < 4) {
		size_t ncap = s->wcap * 2;
		uint8_t *nw = s->word == s->word_stack ? cn_malloc(ncap) : cn_realloc(s->word, ncap);
		if (!nw) {
			s->st = CAIRN_ENOMEM;
			s->nchars = 0;
			s->wlen = 0;
			return;
		}
		if (s->word == s->word_stack)
			memcpy(nw, s->word_stack, s->wlen);
		s->word = nw;
		s->wcap = ncap;
	}
	s->wlen += cn_utf8_encode((int32_t)cp, (char *)s->word + s->wlen);
}

/* A code point of the normalized text: the pre-tokenizer splits on White_Space (dropped)
 * and punctuation (a word of its own). */
static bool is_white_space(uint32_t c)
{
	return c == ' ' || (c >= 9 && c <= 13) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

static void put_norm(wpm_state *s, uint32_t c)
{
	if (c < 128) {
		switch (s->a->ascii_class[c] == C_DROP ? C_WORD : s->a->ascii_class[c]) {
		case C_SPACE:
			word_end(s);
			return;
		case C_PUNCT:
			word_end(s);
			word_put(s, c);
			word_end(s);
			return;
		default:
			word_put(s, c);
			return;
		}
	}
	if (is_white_space(c)) {
		word_end(s);
		return;
	}
	utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
	if (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) {
		word_end(s);
		word_put(s, c);
		word_end(s);
		return;
	}
	word_put(s, c);
}

static inline uint32_t lower1(uint32_t c)
{
	return (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
}

static void flush_pending(wpm_state *s)
{
	for (size_t i = 0; i < s->npend; i++)
		put_norm(s, s->a->lower ? lower1(s->pend[i]) : s->pend[i]);
	s->npend = 0;
}

/* A surviving combining character (not Mn, canonical class != 0): stable insertion by
 * class, as NFD's canonical ordering would place it. */
static void pend_add(wpm_state *s, uint32_t c, unsigned ccc)
{
	if (s->npend > s->a->max_chars) {
		/* more marks than a word may hold: the word is [UNK] whatever their order */
		flush_pending(s);
	}
	if (s->npend == s->pcap) {
		size_t ncap = s->pcap * 2;
		uint32_t *np = s->pend == s->pend_stack ? cn_malloc(ncap * sizeof(*np))
		                                        : cn_realloc(s->pend, ncap * sizeof(*np));
		if (!np) {
			s->st = CAIRN_ENOMEM;
			s->npend = 0;
			return;
		}
		if (s->pend == s->pend_stack)
			memcpy(np, s->pend_stack, s->npend * sizeof(*np));
		s->pend = np;
		s->pcap = ncap;
	}
	size_t i = s->npend;
	while (i > 0 && utf8proc_get_property((utf8proc_int32_t)s->pend[i - 1])->combining_class > (int)ccc) {
		s->pend[i] = s->pend[i - 1];
		i--;
	}
	s->pend[i] = c;
	s->npend++;
}

/* After clean text and CJK spacing: NFD + strip Mn, then lowercase. */
static void put_clean(wpm_state *s, uint32_t c)
{
	const wpm_algo *a = s->a;
	if (!a->strip) {
		if (a->lower) {
			if (c == 0x130) { /* the one full lowercase mapping of two characters */
				put_norm(s, 'i');
				put_norm(s, 0x307);
				return;
			}
			c = lower1(c);
		}
		put_norm(s, c);
		return;
	}
	utf8proc_int32_t d[8];
	int bound = 0;
	utf8proc_ssize_t nd = c < 0xC0 ? 0 : utf8proc_decompose_char((utf8proc_int32_t)c, d, 8,
	                                                                 UTF8PROC_DECOMPOSE, &bound);
	if (nd <= 0 || nd > 8) {
		d[0] = (utf8proc_int32_t)c;
		nd = 1;
	}
	for (utf8proc_ssize_t k = 0; k < nd; k++) {
		const utf8proc_property_t *p = utf8proc_get_property(d[k]);
		if (p->combining_class == 0) {
			if (s->npend)
				flush_pending(s);
			if (p->category == UTF8PROC_CATEGORY_MN)
				continue;
			put_norm(s, a->lower ? lower1((uint32_t)d[k]) : (uint32_t)d[k]);
		} else if (p->category != UTF8PROC_CATEGORY_MN) {
			pend_add(s, (uint32_t)d[k], p->combining_class);
		}
	}
}

static bool is_chinese(uint32_t c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
	       (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
	       (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static void put_raw(wpm_state *s, uint32_t c)
{
	const wpm_algo *a = s->a;
	if (a->clean) {
		if (c == 0 || c == 0xFFFD)
			return;
		if (c != '\t' && c != '\n' && c != '\r') {
			utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
			if (cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC)
				return;
		}
		if (is_white_space(c))
			c = ' ';
	}
	if (a->chinese && is_chinese(c)) {
		put_clean(s, ' ');
		put_clean(s, c);
		put_clean(s, ' ');
		return;
	}
	put_clean(s, c);
}

static cairn_status wpm_encode(const cn_vocab *v, const char *text, size_t len, unsigned frag_flags,
                               cn_tokvec *out, cn_err *err)
{
	(void)frag_flags;
	const wpm_algo *a = v->algo;
	wpm_state s;
	s.a = a;
	s.out = out;
	s.st = CAIRN_OK;
	s.word = s.word_stack;
	s.wlen = 0;
	s.wcap = sizeof(s.word_stack);
	s.nchars = 0;
	s.pend = s.pend_stack;
	s.npend = 0;
	s.pcap = CN_ARRAY_LEN(s.pend_stack);

	const uint8_t *p = (const uint8_t *)text;
	size_t i = 0;
	while (i < len && s.st == CAIRN_OK) {
		uint8_t b = p[i];
		if (b < 0x80 && !s.npend) {
			/* ASCII: no decomposition, no marks; straight to the word */
			switch (a->ascii_class[b]) {
			case C_WORD:
				if (++s.nchars <= a->max_chars) {
					if (s.wlen < s.wcap)
						s.word[s.wlen++] = a->ascii_map[b];
					else {
						s.nchars--;
						word_put(&s, a->ascii_map[b]);
					}
				}
				break;
			case C_SPACE:
				word_end(&s);
				break;
			case C_PUNCT:
				word_end(&s);
				word_put(&s, b);
				word_end(&s);
				break;
			default:
				break;
			}
			i++;
			continue;
		}
		int32_t cp;
		size_t l = cn_utf8_decode(text + i, len - i, &cp);
		put_raw(&s, cp < 0 ? 0xFFFD : (uint32_t)cp);
		i += l;
	}
	if (s.st == CAIRN_OK) {
		flush_pending(&s);
		word_end(&s);
	}
	if (s.word != s.word_stack)
		cn_free(s.word);
	if (s.pend != s.pend_stack)
		cn_free(s.pend);
	if (s.st != CAIRN_OK)
		return cn_err_set(err, s.st, "WordPiece: out of memory");
	return CAIRN_OK;
}

/* Word-initial pieces read as " " + text (the core drops the space at the start of the
 * text); continuation pieces join the previous one. */
static void wpm_piece(const cn_vocab *v, int32_t id, cn_buf *out)
{
	const cn_vocab_token *t = &v->tokens[id];
	if (t->len >= 3 && memcmp(t->text, "\xE2\x96\x81", 3) == 0) {
		cn_buf_putc(out, ' ');
		cn_buf_append(out, t->text + 3, t->len - 3);
	} else {
		cn_buf_append(out, t->text, t->len);
	}
}

const cn_vocab_algo cn_wpm_algo = {
	.name = "wpm",
	.init = wpm_init,
	.free = wpm_free,
	.encode = wpm_encode,
	.piece = wpm_piece,
};
