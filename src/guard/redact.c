/*
 * redact.c — the public guard API: PII scan, redaction in three modes, rehydration, key
 * loading.
 *
 * Redaction rebuilds the text left to right from the scan's non-overlapping findings and
 * records, for each replacement, both the original byte range and where the replacement
 * landed in the output: citations computed on either text can be mapped to the other.
 * Keyed hashes are BLAKE2b (libsodium crypto_generichash) over type || NUL || value with the
 * caller's 32-byte key, truncated to 64 bits: stable per key (the same e-mail always hashes
 * the same, so redacted texts still join), not reversible, not guessable without the key.
 * Tokens are random ids whose originals sit in the encrypted vault (vault.c). Keys are
 * wiped from our copies after use; they never enter error messages.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

static void copy_err(const cn_err *err, char *errbuf, size_t n)
{
	if (errbuf && n)
		snprintf(errbuf, n, "%s", err->code ? err->msg : "");
}

cairn_pii_params cairn_pii_default_params(void)
{
	cairn_pii_params p = {.min_score = 0.5, .types = NULL};
	return p;
}

cairn_redact_params cairn_redact_default_params(void)
{
	cairn_redact_params p = {.pii = cairn_pii_default_params(), .mode = CAIRN_REDACT_MASK};
	return p;
}

static cairn_status parse_types(const char *types, uint32_t *mask, cn_err *err)
{
	*mask = 0;
	if (!types)
		return CAIRN_OK;
	const char *p = types;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		while (l && *p == ' ') {
			p++;
			l--;
		}
		while (l && p[l - 1] == ' ')
			l--;
		if (l) {
			int t = cn_pii_type_from_name(p, l);
			if (t < 0)
				return cn_err_set(err, CAIRN_EINVAL, "unknown PII type \"%.*s\"", (int)CN_MIN(l, 64), p);
			*mask |= 1u << t;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return CAIRN_OK;
}

static cairn_status scan(const char *text, size_t len, const cairn_pii_params *params, cn_pii_finding **f,
                         size_t *nf, cn_err *err)
{
	cairn_pii_params p = params ? *params : cairn_pii_default_params();
	cn_pii_opts o = cn_pii_default_opts();
	if (!(p.min_score >= 0 && p.min_score <= 1))
		return cn_err_set(err, CAIRN_EINVAL, "min_score must be in [0, 1]");
	o.min_score = (float)p.min_score;
	cairn_status st = parse_types(p.types, &o.type_mask, err);
	if (st != CAIRN_OK)
		return st;
	return cn_pii_scan(text, len, &o, f, nf, err);
}

cairn_status cairn_pii_scan(const char *text, size_t len, const cairn_pii_params *params,
                            cairn_pii_finding **findings, size_t *count, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	*findings = NULL;
	*count = 0;
	cn_pii_finding *f = NULL;
	size_t nf = 0;
	cairn_status st = scan(text, len, params, &f, &nf, &err);
	if (st == CAIRN_OK && nf) {
		cairn_pii_finding *o = cn_calloc(nf, sizeof *o);
		if (!o) {
			st = cn_err_set(&err, CAIRN_ENOMEM, "PII scan: out of memory");
		} else {
			for (size_t i = 0; i < nf; i++)
				o[i] = (cairn_pii_finding){.type = cn_pii_type_name(f[i].type),
				                           .start = f[i].start,
				                           .end = f[i].end,
				                           .score = f[i].score};
			*findings = o;
			*count = nf;
		}
	}
	cn_free(f);
	copy_err(&err, errbuf, errbuf_size);
	return st;
}

void cairn_pii_findings_free(cairn_pii_finding *findings) { cn_free(findings); }

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

cairn_status cairn_redact(const char *text, size_t len, const cairn_redact_params *params, cairn_redacted *out,
                          char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	memset(out, 0, sizeof *out);
	cairn_redact_params p = params ? *params : cairn_redact_default_params();
	if (p.mode != CAIRN_REDACT_MASK && p.mode != CAIRN_REDACT_HASH && p.mode != CAIRN_REDACT_TOKEN) {
		cn_err_set(&err, CAIRN_EINVAL, "redact: unknown mode %d", (int)p.mode);
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	if (p.mode != CAIRN_REDACT_MASK && !p.key) {
		cn_err_set(&err, CAIRN_EINVAL, "redact: %s mode needs a 32-byte key",
		           p.mode == CAIRN_REDACT_HASH ? "hash" : "token");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	if (p.mode == CAIRN_REDACT_TOKEN && (!p.vault_path || !*p.vault_path)) {
		cn_err_set(&err, CAIRN_EINVAL, "redact: token mode needs a vault file");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	if (sodium_init() < 0) {
		cn_err_set(&err, CAIRN_EINTERNAL, "libsodium failed to initialise");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	cn_pii_finding *f = NULL;
	size_t nf = 0;
	cn_vault *vault = NULL;
	cn_buf b;
	cn_buf_init(&b);
	cairn_status st = scan(text, len, &p.pii, &f, &nf, &err);
	if (st == CAIRN_OK && nf && p.mode == CAIRN_REDACT_TOKEN)
		st = cn_vault_open(p.vault_path, p.key, &vault, &err);
	cairn_redaction *items = NULL;
	if (st == CAIRN_OK && nf) {
		items = cn_calloc(nf, sizeof *items);
		if (!items)
			st = cn_err_set(&err, CAIRN_ENOMEM, "redact: out of memory");
	}
	size_t at = 0;
	for (size_t i = 0; i < nf && st == CAIRN_OK; i++) {
		const char *type = cn_pii_type_name(f[i].type);
		cn_buf_append(&b, text + at, f[i].start - at);
		size_t o0 = b.len;
		if (p.mode == CAIRN_REDACT_MASK) {
			cn_buf_printf(&b, "[%s]", type);
		} else if (p.mode == CAIRN_REDACT_HASH) {
			uint8_t h[8];
			char hx[17];
			crypto_generichash_state hs;
			crypto_generichash_init(&hs, p.key, CAIRN_KEY_BYTES, sizeof h);
			crypto_generichash_update(&hs, (const uint8_t *)type, strlen(type) + 1);
			crypto_generichash_update(&hs, (const uint8_t *)text + f[i].start, f[i].end - f[i].start);
			crypto_generichash_final(&hs, h, sizeof h);
			hex(h, sizeof h, hx);
			cn_buf_printf(&b, "<%s:%s>", type, hx);
		} else {
			char id[17];
			st = cn_vault_put(vault, type, text + f[i].start, f[i].end - f[i].start, id, &err);
			if (st != CAIRN_OK)
				break;
			cn_buf_printf(&b, "<%s_%s>", type, id);
		}
		items[i] = (cairn_redaction){.type = type,
		                             .src_start = f[i].start,
		                             .src_end = f[i].end,
		                             .out_start = o0,
		                             .out_end = b.len,
		                             .score = f[i].score};
		at = f[i].end;
	}
	if (st == CAIRN_OK) {
		cn_buf_append(&b, text ? text + at : "", len - at);
		if (b.failed || !b.data)
			cn_buf_append(&b, "", 0);
		if (b.failed)
			st = cn_err_set(&err, CAIRN_ENOMEM, "redact: out of memory");
	}
	cn_free(f);
	cn_vault_close(vault);
	if (st != CAIRN_OK) {
		cn_buf_free(&b);
		cn_free(items);
		copy_err(&err, errbuf, errbuf_size);
		return st;
	}
	if (!b.data) { /* empty input: still hand back an empty string */
		b.data = cn_calloc(1, 1);
		if (!b.data) {
			cn_free(items);
			cn_err_set(&err, CAIRN_ENOMEM, "redact: out of memory");
			copy_err(&err, errbuf, errbuf_size);
			return err.code;
		}
	}
	out->len = b.len;
	out->text = cn_buf_take(&b);
	if (!out->text) {
		out->text = b.data;
	}
	out->items = items;
	out->n_items = nf;
	copy_err(&err, errbuf, errbuf_size);
	return CAIRN_OK;
}

void cairn_redacted_free(cairn_redacted *r)
{
	if (!r)
		return;
	cn_free(r->text);
	cn_free(r->items);
	memset(r, 0, sizeof *r);
}

cairn_status cairn_key_load(const char *key_file, const char *env_name, uint8_t key[CAIRN_KEY_BYTES],
                            char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_status st;
	if (sodium_init() < 0) {
		st = cn_err_set(&err, CAIRN_EINTERNAL, "libsodium failed to initialise");
	} else if ((key_file != NULL) == (env_name != NULL)) {
		st = cn_err_set(&err, CAIRN_EINVAL, "key: give exactly one of a key file or an environment variable");
	} else if (key_file) {
		char *data = NULL;
		size_t len = 0;
		st = cn_file_read(key_file, 4096, &data, &len, &err);
		if (st == CAIRN_OK) {
			st = cn_key_parse(data, len, key, &err);
			if (st != CAIRN_OK)
				cn_err_prefix(&err, "%s: ", key_file);
			sodium_memzero(data, len);
			cn_free(data);
		}
	} else {
		const char *v = getenv(env_name);
		if (!v || !*v)
			st = cn_err_set(&err, CAIRN_ENOTFOUND, "key: environment variable %s is not set", env_name);
		else {
			st = cn_key_parse(v, strlen(v), key, &err);
			if (st != CAIRN_OK)
				cn_err_prefix(&err, "$%s: ", env_name);
		}
	}
	copy_err(&err, errbuf, errbuf_size);
	return st;
}

void cairn_key_wipe(uint8_t key[CAIRN_KEY_BYTES]) { sodium_memzero(key, CAIRN_KEY_BYTES); }

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

cairn_status cairn_rehydrate(const char *text, size_t len, const char *vault_path,
                             const uint8_t key[CAIRN_KEY_BYTES], int allowed, char **out, size_t *out_len,
                             char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	*out = NULL;
	if (out_len)
		*out_len = 0;
	/* Access control comes later: until principals exist, the caller vouches explicitly. */
	if (!allowed) {
		cn_err_set(&err, CAIRN_EINVAL, "rehydrate: the principal lacks the rehydration permission");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	if (!vault_path || !key) {
		cn_err_set(&err, CAIRN_EINVAL, "rehydrate: needs a vault file and its key");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	cn_vault *v = NULL;
	cairn_status st = cn_vault_open(vault_path, key, &v, &err);
	if (st != CAIRN_OK) {
		copy_err(&err, errbuf, errbuf_size);
		return st;
	}
	cn_buf b;
	cn_buf_init(&b);
	size_t at = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '<')
			continue;
		/* <TYPE_0123456789abcdef> with TYPE in [A-Z_], at most 31 bytes */
		size_t j = i + 1;
		while (j < len && j - i <= 32 && ((text[j] >= 'A' && text[j] <= 'Z') || text[j] == '_'))
			j++;
		/* j is at the first hex digit only if the type ran up to an underscore before it */
		size_t tend = j;
		if (tend < i + 3 || text[tend - 1] != '_' || tend + 17 > len || text[tend + 16] != '>')
			continue;
		bool ok = true;
		for (size_t k = 0; k < 16 && ok; k++)
			ok = is_hex(text[tend + k]);
		if (!ok)
			continue;
		size_t vlen;
		const char *val = cn_vault_get(v, text + tend, &vlen);
		if (!val)
			continue;
		cn_buf_append(&b, text + at, i - at);
		cn_buf_append(&b, val, vlen);
		at = tend + 17;
		i = at - 1;
	}
	cn_buf_append(&b, text ? text + at : "", len - at);
	cn_vault_close(v);
	if (b.failed || !b.data) {
		cn_buf_free(&b);
		cn_err_set(&err, CAIRN_ENOMEM, "rehydrate: out of memory");
		copy_err(&err, errbuf, errbuf_size);
		return err.code;
	}
	if (out_len)
		*out_len = b.len;
	*out = cn_buf_take(&b);
	copy_err(&err, errbuf, errbuf_size);
	return CAIRN_OK;
}
