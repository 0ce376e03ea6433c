/*
 * ugm.c — SentencePiece unigram (cn_ugm_algo): sentencepiece's unigram_model.cc
 * EncodeOptimized, bit for bit, including its floating-point quirks.
 *
 * After normalization (spm_norm.c: precompiled charsmap, dummy prefix, whitespace rules) the
 * best segmentation is found in one left-to-right pass: best[e] holds the best-scoring path
 * that ends at byte e; from every character boundary the piece trie is walked once, and each
 * piece it meets offers best[start] + score to best[end]. A character no piece covers on its
 * own gets an unknown node scored min(normal scores) - 10 (sentencepiece's kUnkPenalty).
 * Backtracking from the end gives the pieces; unknown ones then go through the same
 * byte-fallback / unk-run rule as BPE.
 *
 * Exactness details copied on purpose: a piece's candidate score is computed in double
 * (sentencepiece's `auto score` is a double because of the user-defined branch) and compared
 * with the stored float, while the unknown candidate is float + float; user-defined pieces
 * score length · max_score − 0.1 with max_score starting at FLT_MIN, not −FLT_MAX; ties keep
 * the first candidate (strictly greater replaces). UNUSED pieces are not in the trie at all,
 * which is the same as sentencepiece skipping them.
 *
 * Scratch: one array of (score, start, id) per call, on the stack for short fragments.
 */
#include "vocab/spm_norm.h"

#include <float.h>
#include <string.h>

typedef struct ugm_state {
	cn_spm_trie trie;
	cn_spm_charsmap cm;
	bool has_cm;
	float min_score, max_score;
	cn_spm_out out;
} ugm_state;

static void ugm_free(cn_vocab *v)
{
	ugm_state *s = v->algo;
	if (!s)
		return;
	cn_spm_trie_free(&s->trie);
	cn_spm_charsmap_free(&s->cm);
	cn_free(s);
	v->algo = NULL;
}

static cairn_status ugm_init(cn_vocab *v, const cn_vocab_spec *spec, cn_err *err)
{
	ugm_state *s = cn_calloc(1, sizeof *s);
	if (!s)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", spec->name ? spec->name : "vocab");
	v->algo = s;
	cairn_status st = cn_spm_trie_build(&s->trie, v, CN_TOKEN_NORMAL | CN_TOKEN_USER_DEFINED, err);
	if (st == CAIRN_OK && spec->charsmap && spec->charsmap_len) {
		st = cn_spm_charsmap_init(&s->cm, spec->charsmap, spec->charsmap_len,
		                          spec->name ? spec->name : "vocab", err);
		s->has_cm = st == CAIRN_OK;
	}
	if (st != CAIRN_OK) {
		ugm_free(v);
		return st;
	}
	s->min_score = FLT_MAX;
	s->max_score = FLT_MIN; /* sic: sentencepiece's initial value */
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		const cn_vocab_token *t = &v->tokens[i];
		/* NORMAL only; a token also flagged user-defined is not */
		if ((t->attr & CN_TOKEN_NORMAL) && !(t->attr & (CN_TOKEN_USER_DEFINED | CN_TOKEN_CONTROL))) {
			if (t->score < s->min_score)
				s->min_score = t->score;
			if (t->score > s->max_score)
				s->max_score = t->score;
		}
	}
	cn_spm_out_init(&s->out, v);
	return CAIRN_OK;
}

typedef struct best_node {
	float score;
	int32_t start; /* -1: no path ends here yet */
	int32_t id;    /* -1 for an unknown character */
} best_node;

enum { STACK_NODES = 257 };

static cairn_status ugm_encode(const cn_vocab *v, const char *text, size_t len, unsigned frag_flags,
                               cn_tokvec *out, cn_err *err)
{
	const ugm_state *s = v->algo;
	if (len == 0)
		return CAIRN_OK;
	unsigned nf = 0;
	if (v->add_space_prefix && (frag_flags & CN_FRAG_FIRST))
		nf |= CN_SPM_NORM_ADD_WS;
	if (v->treat_whitespace_as_suffix)
		nf |= CN_SPM_NORM_SUFFIX;
	if (v->remove_extra_whitespaces)
		nf |= CN_SPM_NORM_REMOVE_EXTRA;
	cn_buf nb;
	cn_buf_init(&nb);
	if (cn_spm_normalize(s->has_cm ? &s->cm : NULL, text, len, nf, &nb) != CAIRN_OK) {
		cn_buf_free(&nb);
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory normalizing %zu bytes", len);
	}
	const uint8_t *t = (const uint8_t *)nb.data;
	size_t n = nb.len;
	if (n == 0) {
		cn_buf_free(&nb);
		return CAIRN_OK;
	}
	if (n >= INT32_MAX) {
		cn_buf_free(&nb);
		return cn_err_set(err, CAIRN_ETOOBIG, "vocab: fragment of %zu bytes is too long", n);
	}
	best_node stack_nodes[STACK_NODES];
	best_node *best = stack_nodes;
	if (n + 1 > STACK_NODES && !(best = cn_malloc((n + 1) * sizeof *best))) {
		cn_buf_free(&nb);
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory encoding %zu bytes", len);
	}
	for (size_t i = 0; i <= n; i++)
		best[i] = (best_node){.score = 0.0f, .start = -1, .id = -1};

	const float unk_score = s->min_score - 10.0f;
	for (size_t start = 0; start < n;) {
		const float till_here = best[start].score;
		size_t mblen = cn_spm_char_len(t + start, n - start);
		bool has_single = false;
		uint32_t node = 0;
		for (size_t k = start; k < n; k++) {
			node = cn_spm_trie_next(&s->trie, node, t[k]);
			if (!node)
				break;
			int32_t id = s->trie.nodes[node].value;
			if (id < 0)
				continue;
			size_t length = k + 1 - start;
			double score = (v->tokens[id].attr & CN_TOKEN_USER_DEFINED)
			                       ? (double)((float)length * s->max_score) - 0.1
			                       : (double)v->tokens[id].score;
			double cand = score + (double)till_here;
			best_node *tn = &best[k + 1];
			if (tn->start < 0 || cand > (double)tn->score) {
				tn->score = (float)cand;
				tn->start = (int32_t)start;
				tn->id = id;
			}
			if (length == mblen)
				has_single = true;
		}
		if (!has_single) {
			best_node *tn = &best[start + mblen];
			float cand = unk_score + till_here;
			if (tn->start < 0 || cand > tn->score) {
				tn->score = cand;
				tn->start = (int32_t)start;
				tn->id = -1;
			}
		}
		start += mblen;
	}

	/* backtrack; the pieces come out reversed, so collect their ends first */
	size_t count = 0;
	for (int32_t e = (int32_t)n; e > 0; e = best[e].start)
		count++;
	cairn_status st = CAIRN_OK;
	int32_t *ends = cn_malloc(count * sizeof *ends);
	if (!ends) {
		st = CAIRN_ENOMEM;
	} else {
		size_t k = count;
		for (int32_t e = (int32_t)n; e > 0; e = best[e].start)
			ends[--k] = e;
		bool prev_unk = false;
		for (size_t i = 0; i < count && st == CAIRN_OK; i++) {
			int32_t e = ends[i], b = best[e].start;
			st = cn_spm_emit(&s->out, (const char *)t + b, (size_t)(e - b), best[e].id, &prev_unk, out);
		}
		cn_free(ends);
	}
	if (best != stack_nodes)
		cn_free(best);
	cn_buf_free(&nb);
	if (st != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "vocab: out of memory for tokens");
	return CAIRN_OK;
}

static void ugm_piece(const cn_vocab *v, int32_t id, cn_buf *out)
{
	cn_spm_piece_text(v, id, out);
}

const cn_vocab_algo cn_ugm_algo = {
	.name = "ugm",
	.init = ugm_init,
	.free = ugm_free,
	.encode = ugm_encode,
	.piece = ugm_piece,
};
