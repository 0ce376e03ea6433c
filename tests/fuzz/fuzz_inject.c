/*
 * fuzz_inject — the prompt-injection detector and the fence (src/guard) on arbitrary bytes.
 * Byte 0 picks the kind (bit 0: question or document); the rest is the text. Checks: the scan
 * succeeds; the score is in [0,1] and flagged agrees with the threshold; reasons name only
 * known features and include every span's feature; spans lie inside the input, sorted, at most
 * CAIRN_INJECTION_MAX_SPANS of n_spans_total; a second scan gives the same result (no hidden
 * state); the fenced text holds the fence id exactly twice (its BEGIN and END lines), exactly
 * two "<<<" and ">>>" markers and no "<|" control-token opener, whatever the input.
 */
#include "fuzz.h"

#include <string.h>

#include "guard/inject.h"

static size_t count(const char *hay, size_t n, const char *needle)
{
	size_t k = 0, m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			k++;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	cairn_injection_kind kind = (data[0] & 1) ? CAIRN_INJECTION_DOCUMENT : CAIRN_INJECTION_QUESTION;
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	cairn_injection_result a, b;
	char err[256];
	FUZZ_CHECK(cairn_injection_scan(text, n, kind, &a, err, sizeof err) == CAIRN_OK, "scan failed: %s", err);
	FUZZ_CHECK(a.score >= 0.0 && a.score <= 1.0, "score %f", a.score);
	FUZZ_CHECK(a.flagged == (a.score >= a.threshold), "flagged %d score %f threshold %f", a.flagged, a.score,
	           a.threshold);
	FUZZ_CHECK((a.reasons >> CAIRN_INJ_NFEATURES) == 0, "unknown reason bits %x", a.reasons);
	FUZZ_CHECK(a.n_spans <= CAIRN_INJECTION_MAX_SPANS && a.n_spans <= a.n_spans_total, "span counts %zu/%zu",
	           a.n_spans, a.n_spans_total);
	for (size_t i = 0; i < a.n_spans; i++) {
		const cairn_injection_span *s = &a.spans[i];
		FUZZ_CHECK(s->start <= s->end && s->end <= n, "span %zu [%zu,%zu) of %zu", i, s->start, s->end, n);
		FUZZ_CHECK((a.reasons >> s->feature) & 1u, "span feature %d not in reasons", (int)s->feature);
		if (i)
			FUZZ_CHECK(a.spans[i - 1].start <= s->start, "spans out of order at %zu", i);
	}
	FUZZ_CHECK(cairn_injection_scan(text, n, kind, &b, err, sizeof err) == CAIRN_OK, "second scan failed");
	FUZZ_CHECK(a.score == b.score && a.reasons == b.reasons && a.n_spans_total == b.n_spans_total,
	           "scans differ");

	cairn_fence f;
	memcpy(f.id, "0123456789abcdef0123456789abcdef", 33);
	char *w = cairn_fence_wrap(&f, "fuzz", text, n);
	FUZZ_CHECK(w != NULL, "wrap failed");
	size_t wl = strlen(w);
	FUZZ_CHECK(count(w, wl, f.id) == 2, "fence id appears %zu times", count(w, wl, f.id));
	FUZZ_CHECK(count(w, wl, "<<<") == 2 && count(w, wl, ">>>") == 2, "markers %zu/%zu", count(w, wl, "<<<"),
	           count(w, wl, ">>>"));
	FUZZ_CHECK(count(w, wl, "<|") == 0, "a control-token opener survived");
	cairn_free(w);
	return 0;
}
