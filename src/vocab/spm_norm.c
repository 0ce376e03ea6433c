/*
 * spm_norm.c — the pieces of SentencePiece that BPE (spm.c) and unigram (ugm.c) share: the
 * normalizer (precompiled charsmap, dummy prefix, whitespace escaping and collapsing), a
 * compact piece trie, and the unknown/byte-fallback output rule.
 *
 * The charsmap is read as sentencepiece reads it — a darts-clone double array whose leaves
 * index a blob of NUL-terminated replacements — but every array index and blob offset is
 * checked, since the blob comes from a model file. The trie is built breadth-first from the
 * sorted piece list in one pass, so construction is O(total piece bytes · log) with three
 * allocations, and lookups touch one label run per byte.
 */
#include "vocab/spm_norm.h"

#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---------------------------------------------------------------------------- */

size_t cn_spm_utf8_valid_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0;
	size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (len == 3) {
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
	} else if (len == 4) {
		if (c == 0xF0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
	}
	return len;
}

/* ---- piece trie ----------------------------------------------------------------------- */

typedef struct trie_key {
	const char *s;
	uint32_t len;
	int32_t id;
} trie_key;

static int trie_key_cmp(const void *a, const void *b)
{
	const trie_key *x = a, *y = b;
	uint32_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, m);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void cn_spm_trie_free(cn_spm_trie *t)
{
	cn_free(t->nodes);
	cn_free(t->label);
	memset(t, 0, sizeof *t);
}

cairn_status cn_spm_trie_build(cn_spm_trie *t, const cn_vocab *v, uint32_t attr_mask, cn_err *err)
{
	memset(t, 0, sizeof *t);
	size_t nk = 0, total = 1;
	for (uint32_t i = 0; i < v->n_tokens; i++)
		if ((v->tokens[i].attr & attr_mask) && v->tokens[i].len > 0) {
			nk++;
			total += v->tokens[i].len;
		}
	if (total > UINT32_MAX / 2)
		return cn_err_set(err, CAIRN_ETOOBIG, "vocab: pieces too long in total (%zu bytes)", total);
	trie_key *keys = cn_malloc((nk ? nk : 1) * sizeof *keys);
	uint32_t *lo = cn_malloc(total * sizeof *lo);
	uint32_t *hi = cn_malloc(total * sizeof *hi);
	uint32_t *depth = cn_malloc(total * sizeof *depth);
	t->nodes = cn_malloc(total * sizeof *t->nodes);
	t->label = cn_malloc(total);
	if (!keys || !lo || !hi || !depth || !t->nodes || !t->label) {
		cn_free(keys), cn_free(lo), cn_free(hi), cn_free(depth);
		cn_spm_trie_free(t);
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory building the piece trie");
	}
	nk = 0;
	for (uint32_t i = 0; i < v->n_tokens; i++)
		if ((v->tokens[i].attr & attr_mask) && v->tokens[i].len > 0)
			keys[nk++] = (trie_key){v->tokens[i].text, v->tokens[i].len, (int32_t)i};
	qsort(keys, nk, sizeof *keys, trie_key_cmp);

	uint32_t n_nodes = 1;
	lo[0] = 0, hi[0] = (uint32_t)nk, depth[0] = 0;
	t->label[0] = 0;
	for (uint32_t node = 0; node < n_nodes; node++) {
		uint32_t i = lo[node], end = hi[node], d = depth[node];
		int32_t value = -1;
		/* keys equal to the node's prefix sort first; the smallest id is first among them */
		while (i < end && keys[i].len == d) {
			if (value < 0)
				value = keys[i].id;
			i++;
		}
		uint32_t base = n_nodes, kids = 0;
		while (i < end) {
			uint8_t c = (uint8_t)keys[i].s[d];
			uint32_t j = i + 1;
			while (j < end && (uint8_t)keys[j].s[d] == c)
				j++;
			uint32_t child = n_nodes++;
			t->label[child] = c;
			lo[child] = i, hi[child] = j, depth[child] = d + 1;
			kids++;
			i = j;
		}
		t->nodes[node] = (cn_spm_trie_node){.base = base, .value = value, .nkids = kids};
	}
	t->n_nodes = n_nodes;
	for (uint32_t k = 0; k < t->nodes[0].nkids; k++)
		t->root[t->label[t->nodes[0].base + k]] = t->nodes[0].base + k;
	cn_free(keys), cn_free(lo), cn_free(hi), cn_free(depth);
	/* give back what the upper bound over-reserved */
	cn_spm_trie_node *nn = cn_realloc(t->nodes, n_nodes * sizeof *nn);
	if (nn)
		t->nodes = nn;
	uint8_t *nl = cn_realloc(t->label, n_nodes);
	if (nl)
		t->label = nl;
	return CAIRN_OK;
}

/* ---- charsmap ------------------------------------------------------------------------- */

cairn_status cn_spm_charsmap_init(cn_spm_charsmap *m, const uint8_t *blob, size_t len,
                                  const char *name, cn_err *err)
{
	memset(m, 0, sizeof *m);
	if (!blob || len <= 4)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: precompiled_charsmap is too short (%zu bytes)",
		                  name, len);
	uint32_t trie_size = cn_load_u32le(blob);
	if ((size_t)trie_size >= len - 4 + 1 || trie_size < 4 || trie_size % 4)
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s: precompiled_charsmap trie size %u does not fit its %zu-byte blob",
		                  name, trie_size, len);
	size_t n_units = trie_size / 4, strs_len = len - 4 - trie_size;
	/* units first (aligned), then the strings plus a NUL so a lookup can never run off */
	m->units = cn_malloc(trie_size + strs_len + 1);
	if (!m->units)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory for the charsmap", name);
	memcpy(m->units, blob + 4, trie_size);
	char *strs = (char *)m->units + trie_size;
	memcpy(strs, blob + 4 + trie_size, strs_len);
	strs[strs_len] = '\0';
	m->n_units = n_units;
	m->strs = strs;
	m->strs_len = strs_len;
	return CAIRN_OK;
}

void cn_spm_charsmap_free(cn_spm_charsmap *m)
{
	cn_free(m->units);
	memset(m, 0, sizeof *m);
}

/* darts-clone unit fields */
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t du_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static inline bool du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* Longest charsmap rule matching a prefix of s[0..n): its length (0 = none) and the value. */
static size_t charsmap_longest(const cn_spm_charsmap *m, const uint8_t *s, size_t n, uint32_t *value)
{
	const uint32_t *a = m->units;
	size_t nu = m->n_units, best = 0;
	size_t pos = du_offset(a[0]);
	for (size_t i = 0; i < n; i++) {
		pos ^= s[i];
		if (pos >= nu)
			return best;
		uint32_t u = a[pos];
		if (du_label(u) != s[i])
			return best;
		pos ^= du_offset(u);
		if (du_has_leaf(u)) {
			if (pos >= nu)
				return best;
			best = i + 1;
			*value = du_value(a[pos]);
		}
	}
	return best;
}

/* sentencepiece's NormalizePrefix: what the next character(s) of s become, and how many
 * input bytes that consumes. */
static inline size_t norm_prefix(const cn_spm_charsmap *m, const uint8_t *s, size_t n,
                                 const char **rep, size_t *rep_len)
{
	if (m) {
		uint32_t value = 0;
		size_t l = charsmap_longest(m, s, n, &value);
		if (l) {
			if (value < m->strs_len) {
				*rep = m->strs + value;
				*rep_len = strlen(*rep); /* strs ends with a NUL of our own */
			} else {
				*rep = "";
				*rep_len = 0;
			}
			return l;
		}
	}
	size_t l = cn_spm_char_len(s, n);
	*rep = (const char *)s;
	*rep_len = l;
	return l;
}

static const char kSpace[3] = {'\xE2', '\x96', '\x81'};

cairn_status cn_spm_normalize(const cn_spm_charsmap *cm, const char *text, size_t len,
                              unsigned flags, cn_buf *out)
{
	cn_buf_reset(out);
	const uint8_t *s = (const uint8_t *)text;
	bool remove_extra = flags & CN_SPM_NORM_REMOVE_EXTRA;
	bool suffix = flags & CN_SPM_NORM_SUFFIX;
	if (len == 0)
		return CAIRN_OK;
	if (!cn_buf_reserve(out, len * 3 + 8))
		return CAIRN_ENOMEM;
	const char *rep;
	size_t rep_len;
	if (remove_extra) {
		while (len) {
			size_t l = norm_prefix(cm, s, len, &rep, &rep_len);
			if (!(rep_len == 1 && rep[0] == ' '))
				break;
			s += l, len -= l;
		}
		if (len == 0)
			return CAIRN_OK;
	}
	if (!suffix && (flags & CN_SPM_NORM_ADD_WS))
		cn_buf_append(out, kSpace, 3);
	bool prev_space = remove_extra;
	while (len) {
		size_t l = norm_prefix(cm, s, len, &rep, &rep_len);
		if (prev_space)
			while (rep_len && rep[0] == ' ')
				rep++, rep_len--;
		if (rep_len) {
			for (size_t k = 0; k < rep_len; k++) {
				if (rep[k] == ' ')
					cn_buf_append(out, kSpace, 3);
				else
					cn_buf_putc(out, rep[k]);
			}
			prev_space = rep[rep_len - 1] == ' ';
		}
		s += l, len -= l;
		if (!remove_extra)
			prev_space = false;
	}
	if (remove_extra)
		while (out->len >= 3 && memcmp(out->data + out->len - 3, kSpace, 3) == 0)
			out->data[out->len -= 3] = '\0';
	if (suffix && (flags & CN_SPM_NORM_ADD_WS))
		cn_buf_append(out, kSpace, 3);
	return out->failed ? CAIRN_ENOMEM : CAIRN_OK;
}

/* ---- output --------------------------------------------------------------------------- */

void cn_spm_out_init(cn_spm_out *o, const cn_vocab *v)
{
	o->byte_fallback = v->byte_fallback;
	o->unk = v->unk;
	for (int b = 0; b < 256; b++) {
		char name[8];
		static const char hex[] = "0123456789ABCDEF";
		name[0] = '<', name[1] = '0', name[2] = 'x', name[3] = hex[b >> 4], name[4] = hex[b & 15];
		name[5] = '>';
		o->byte_ids[b] = cn_vocab_lookup(v, name, 6);
	}
}

cairn_status cn_spm_emit(const cn_spm_out *o, const char *w, size_t n, int32_t id,
                         bool *prev_unk, cn_tokvec *out)
{
	bool is_unk = id < 0 || id == o->unk;
	if (is_unk && o->byte_fallback) {
		for (size_t i = 0; i < n; i++) {
			int32_t b = o->byte_ids[(uint8_t)w[i]];
			if (b < 0)
				b = o->unk;
			if (b >= 0 && cn_tokvec_push(out, b) != CAIRN_OK)
				return CAIRN_ENOMEM;
		}
	} else if (!(is_unk && *prev_unk)) {
		/* a run of unknown pieces is one unk token, as sentencepiece emits it */
		int32_t t = is_unk ? o->unk : id;
		if (t >= 0 && cn_tokvec_push(out, t) != CAIRN_OK)
			return CAIRN_ENOMEM;
	}
	*prev_unk = is_unk;
	return CAIRN_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void cn_spm_piece_text(const cn_vocab *v, int32_t id, cn_buf *out)
{
	const cn_vocab_token *t = &v->tokens[id];
	if (t->attr & CN_TOKEN_BYTE && t->len == 6 && memcmp(t->text, "<0x", 3) == 0 && t->text[5] == '>') {
		int h = hexval(t->text[3]), l = hexval(t->text[4]);
		if (h >= 0 && l >= 0) {
			cn_buf_putc(out, (char)(h * 16 + l));
			return;
		}
	}
	if (t->attr & CN_TOKEN_UNKNOWN) {
		cn_buf_append(out, " \xE2\x81\x87 ", 5);
		return;
	}
	const char *p = t->text, *end = t->text + t->len;
	while (p < end) {
		const char *q = p;
		while (q + 2 < end && !(q[0] == kSpace[0] && q[1] == kSpace[1] && q[2] == kSpace[2]))
			q++;
		if (q + 2 >= end) {
			cn_buf_append(out, p, (size_t)(end - p));
			return;
		}
		cn_buf_append(out, p, (size_t)(q - p));
		cn_buf_putc(out, ' ');
		p = q + 3;
	}
}
