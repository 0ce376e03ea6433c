/*
 * fuzz_pii — the PII scanner (src/guard/pii*.c) and mask redaction on arbitrary bytes.
 * Byte 0 picks a type mask (0 = all types) and a threshold; the rest is the text.
 * Checks: findings sorted, non-overlapping, inside the input, scores in [0, 1] and at least
 * the threshold, types in range and in the mask; a second scan gives the same findings;
 * mask redaction reproduces the input between replacements byte for byte, each replacement
 * reads "[TYPE]", and out offsets advance consistently; key parsing never accepts anything
 * but 64 hex digits or 32 bytes.
 */
#include "fuzz.h"

#include <string.h>

#include "guard/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t sel = data[0];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	cn_pii_opts o = cn_pii_default_opts();
	o.min_score = (float)(sel & 3) * 0.25f;
	if (sel & 0x80)
		o.type_mask = 1u << ((sel >> 2) % CN_PII_NTYPES);
	cn_err err;
	cn_err_clear(&err);
	cn_pii_finding *f = NULL, *g = NULL;
	size_t nf = 0, ng = 0;
	cairn_status st = cn_pii_scan(s, n, &o, &f, &nf, &err);
	FUZZ_CHECK(st == CAIRN_OK, "scan failed: %s", err.msg);
	for (size_t i = 0; i < nf; i++) {
		FUZZ_CHECK(f[i].start < f[i].end && f[i].end <= n, "span %u..%u outside %zu", f[i].start, f[i].end, n);
		FUZZ_CHECK(f[i].score >= o.min_score && f[i].score <= 1.0f, "score %f", (double)f[i].score);
		FUZZ_CHECK((unsigned)f[i].type < CN_PII_NTYPES, "type %d", (int)f[i].type);
		FUZZ_CHECK(!o.type_mask || (o.type_mask & (1u << f[i].type)), "type %d outside the mask", (int)f[i].type);
		if (i)
			FUZZ_CHECK(f[i - 1].end <= f[i].start, "overlap at %zu", i);
	}
	st = cn_pii_scan(s, n, &o, &g, &ng, &err);
	FUZZ_CHECK(st == CAIRN_OK && ng == nf && (nf == 0 || !memcmp(f, g, nf * sizeof *f)), "not deterministic");
	cn_free(g);
	cn_free(f);

	cairn_redact_params p = cairn_redact_default_params();
	p.pii.min_score = 0.5;
	cairn_redacted r;
	char eb[256];
	st = cairn_redact(s, n, &p, &r, eb, sizeof eb);
	FUZZ_CHECK(st == CAIRN_OK, "redact failed: %s", eb);
	size_t src = 0, out = 0;
	for (size_t i = 0; i < r.n_items; i++) {
		const cairn_redaction *x = &r.items[i];
		size_t gap = x->src_start - src;
		FUZZ_CHECK(x->src_start >= src && x->out_start == out + gap, "offset map broken at %zu", i);
		FUZZ_CHECK(!memcmp(r.text + out, s + src, gap), "text between replacements changed");
		size_t tl = strlen(x->type);
		FUZZ_CHECK(x->out_end - x->out_start == tl + 2 && r.text[x->out_start] == '[' &&
		                   !memcmp(r.text + x->out_start + 1, x->type, tl),
		           "replacement is not [TYPE]");
		src = x->src_end;
		out = x->out_end;
	}
	FUZZ_CHECK(r.len - out == n - src && !memcmp(r.text + out, s + src, n - src), "tail changed");
	FUZZ_CHECK(r.text[r.len] == '\0', "not NUL-terminated");
	cairn_redacted_free(&r);

	uint8_t key[CN_VAULT_KEY_BYTES];
	if (cn_key_parse(s, n, key, &err) == CAIRN_OK) {
		size_t hexdigits = 0;
		for (size_t i = 0; i < n; i++)
			hexdigits += (s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f');
		FUZZ_CHECK(n == 32 || hexdigits >= 64, "key accepted from %zu bytes", n);
	}
	return 0;
}
