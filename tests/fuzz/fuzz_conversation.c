/*
 * fuzz_conversation — the follow-up rewriter and the history budget of cairn_conversation
 * (src/answer/conversation.c) on arbitrary text. The input is split at its first two newlines
 * into the previous question, the previous standalone query and the new question. Checks: no
 * crash, leak or UB; an independent question comes back byte for byte; a rewrite is bounded
 * by the three inputs' lengths; the kept history never exceeds its budget and its counts add
 * up to the number of turns.
 */
#include "fuzz.h"

#include <string.h>

#include "answer/conversation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	char *pq = s, *ps = NULL, *q = NULL;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = 0;
		ps = nl + 1;
		nl = strchr(ps, '\n');
		if (nl) {
			*nl = 0;
			q = nl + 1;
		}
	}
	if (!q)
		q = pq;
	char word[24];
	cn_conv_dependent(q, strlen(q), word);
	FUZZ_CHECK(strlen(word) < 24, "marker too long");
	cn_buf out;
	cn_buf_init(&out);
	cn_conv_dep d = cn_conv_rewrite(q, pq, ps, &out);
	FUZZ_CHECK(!out.failed, "out of memory");
	size_t qn = strlen(q), bound = qn + strlen(pq) + (ps ? strlen(ps) : 0) + CN_CONV_MAX_TERMS + 2;
	if (d == CN_CONV_INDEPENDENT)
		FUZZ_CHECK(out.len == qn && (!qn || !memcmp(out.data, q, qn)), "independent question changed");
	else
		FUZZ_CHECK(out.len <= bound, "rewrite of %zu bytes exceeds %zu", out.len, bound);
	cn_buf_free(&out);

	cn_conv_turn turns[3] = {{pq, pq, q}, {ps ? ps : pq, q, pq}, {q, q, ps ? ps : q}};
	for (int budget = 16; budget <= 256; budget *= 4) {
		cn_buf h;
		cn_buf_init(&h);
		cn_conv_kept k;
		cn_conv_history(turns, 3, budget, (int)(size % 4), 8 + (int)(size % 40), &h, &k);
		FUZZ_CHECK(k.tokens <= budget, "history %d over budget %d", k.tokens, budget);
		FUZZ_CHECK(k.verbatim + k.summarized + k.dropped == 3, "counts");
		FUZZ_CHECK(cn_conv_tokens(h.data ? h.data : "", h.len) == k.tokens, "text and count disagree");
		FUZZ_CHECK(k.first == (size_t)k.dropped, "first kept turn");
		cn_buf_free(&h);
	}
	free(s);
	return 0;
}
