/*
 * vault.c — the encrypted store behind reversible redaction tokens.
 *
 * File layout (all integers little-endian):
 *   header  "CNVAULT1" | file_id[24] (random) | keycheck[32]
 *           keycheck = BLAKE2b-256(key, "cairn-vault-keycheck" || file_id): a wrong key is
 *           reported as such before any record is read, even in an empty vault.
 *   record  u32 clen | nonce[24] | ciphertext[clen]
 *           XChaCha20-Poly1305 (IETF) of  u8 type_len | type | id[16] | value,
 *           additional data = file_id || u64 record index.
 * Why: records are appended (fsync after each), so storing a token never rewrites what is
 * already there; each record authenticates itself, and binding its index and the file id
 * into the additional data makes an edited, reordered, deleted or transplanted record fail
 * to decrypt. A torn tail (a crash mid-append leaves fewer bytes than the length prefix
 * promises) is crash residue, not tampering: it is ignored and cut off before the next
 * append. Dropping whole records from the end cannot be told from an older vault — callers
 * that need that guarantee keep the record count elsewhere (the audit trail will).
 * The header is written crash-safe (temp file, fsync, rename). The key is copied into
 * mlock'ed memory and wiped on close; decrypted values are wiped on close too. Same type and
 * value → same id: a keyed BLAKE2b of (type, value) indexes the ids, so no plaintext sits in
 * the lookup table.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "guard/guard.h"

#define MAGIC "CNVAULT1"
#define HDR_LEN (8 + 24 + 32)
#define MAX_RECORD (1u << 24) /* 16 MiB per value: a bound on what a length prefix may ask for */

typedef struct ventry {
	char type[32];
	char id[17];
	char *value;
	size_t len;
} ventry;

struct cn_vault {
	char *path;
	uint8_t key[CN_VAULT_KEY_BYTES];
	uint8_t file_id[24];
	ventry *e;
	size_t n, cap;
	cn_strmap by_id;   /* id → entry */
	cn_strmap by_hash; /* keyed hash of (type, value) → entry */
	uint64_t good_end; /* file offset after the last whole record */
};

static void keycheck(const uint8_t key[CN_VAULT_KEY_BYTES], const uint8_t fid[24], uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, CN_VAULT_KEY_BYTES, 32);
	crypto_generichash_update(&st, (const uint8_t *)"cairn-vault-keycheck", 20);
	crypto_generichash_update(&st, fid, 24);
	crypto_generichash_final(&st, out, 32);
}

static void value_hash(const cn_vault *v, const char *type, const char *value, size_t len, uint8_t out[16])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, v->key, CN_VAULT_KEY_BYTES, 16);
	crypto_generichash_update(&st, (const uint8_t *)type, strlen(type) + 1);
	crypto_generichash_update(&st, (const uint8_t *)value, len);
	crypto_generichash_final(&st, out, 16);
}

static void make_ad(const cn_vault *v, uint64_t index, uint8_t ad[32])
{
	memcpy(ad, v->file_id, 24);
	cn_store_u64le(ad + 24, index);
}

static cairn_status add_entry(cn_vault *v, const char *type, size_t tlen, const char *id, const char *value,
                              size_t len, cn_err *err)
{
	if (CN_GROW(v->e, v->cap, v->n + 1) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", v->path);
	ventry *e = &v->e[v->n];
	memset(e, 0, sizeof *e);
	memcpy(e->type, type, tlen);
	e->type[tlen] = '\0';
	memcpy(e->id, id, 16);
	e->id[16] = '\0';
	e->value = cn_malloc(len + 1);
	if (!e->value)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", v->path);
	memcpy(e->value, value, len);
	e->value[len] = '\0';
	e->len = len;
	uint32_t idx;
	uint8_t h[16];
	value_hash(v, e->type, value, len, h);
	if (cn_strmap_put(&v->by_id, id, 16, &idx, NULL) != CAIRN_OK ||
	    cn_strmap_put(&v->by_hash, (const char *)h, 16, &idx, NULL) != CAIRN_OK) {
		sodium_memzero(e->value, len);
		cn_free(e->value);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", v->path);
	}
	v->n++;
	return CAIRN_OK;
}

static cairn_status load(cn_vault *v, const uint8_t *d, size_t n, cn_err *err)
{
	if (n < HDR_LEN || memcmp(d, MAGIC, 8))
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: not a cairn vault (bad header)", v->path);
	memcpy(v->file_id, d + 8, 24);
	uint8_t kc[32];
	keycheck(v->key, v->file_id, kc);
	if (sodium_memcmp(kc, d + 32, 32) != 0)
		return cn_err_set(err, CAIRN_ECORRUPT, "%s: wrong key, or the vault header was modified", v->path);
	size_t off = HDR_LEN;
	uint64_t index = 0;
	uint8_t *plain = NULL;
	size_t plen = 0;
	cairn_status st = CAIRN_OK;
	while (off < n) {
		if (n - off < 4 + 24) /* torn tail */
			break;
		uint32_t clen = cn_load_u32le(d + off);
		if (clen < crypto_aead_xchacha20poly1305_ietf_ABYTES + 1 + 16 || clen > MAX_RECORD) {
			st = cn_err_set(err, CAIRN_ECORRUPT, "%s: record %llu at byte %zu: bad length %u", v->path,
			                (unsigned long long)index, off, clen);
			break;
		}
		if (n - off - 4 - 24 < clen) /* torn tail: an append that did not finish */
			break;
		const uint8_t *nonce = d + off + 4, *ct = d + off + 28;
		plen = clen - crypto_aead_xchacha20poly1305_ietf_ABYTES;
		plain = cn_malloc(plen);
		if (!plain) {
			st = cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", v->path);
			break;
		}
		uint8_t ad[32];
		make_ad(v, index, ad);
		unsigned long long got;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, ct, clen, ad, sizeof ad, nonce,
		                                               v->key) != 0) {
			st = cn_err_set(err, CAIRN_ECORRUPT,
			                "%s: record %llu at byte %zu fails authentication (tampered, reordered or "
			                "from another vault)",
			                v->path, (unsigned long long)index, off);
			break;
		}
		size_t tlen = plain[0];
		if (tlen == 0 || tlen >= 32 || 1 + tlen + 16 > plen) {
			st = cn_err_set(err, CAIRN_ECORRUPT, "%s: record %llu: bad layout", v->path,
			                (unsigned long long)index);
			break;
		}
		st = add_entry(v, (const char *)plain + 1, tlen, (const char *)plain + 1 + tlen,
		               (const char *)plain + 1 + tlen + 16, plen - 1 - tlen - 16, err);
		sodium_memzero(plain, plen);
		cn_free(plain);
		plain = NULL;
		if (st != CAIRN_OK)
			break;
		off += 4 + 24 + clen;
		index++;
	}
	if (plain) {
		sodium_memzero(plain, plen);
		cn_free(plain);
	}
	v->good_end = off;
	return st;
}

cairn_status cn_vault_open(const char *path, const uint8_t key[CN_VAULT_KEY_BYTES], cn_vault **out,
                           cn_err *err)
{
	*out = NULL;
	if (sodium_init() < 0)
		return cn_err_set(err, CAIRN_EINTERNAL, "libsodium failed to initialise");
	cn_vault *v = cn_calloc(1, sizeof *v);
	if (!v)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	v->path = cn_strdup(path);
	if (!v->path) {
		cn_free(v);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	sodium_mlock(v->key, sizeof v->key); /* best effort: no swap copy of the key */
	memcpy(v->key, key, CN_VAULT_KEY_BYTES);
	cn_strmap_init(&v->by_id);
	cn_strmap_init(&v->by_hash);
	cairn_status st;
	if (!cn_path_exists(path)) {
		uint8_t hdr[HDR_LEN];
		memcpy(hdr, MAGIC, 8);
		randombytes_buf(v->file_id, 24);
		memcpy(hdr + 8, v->file_id, 24);
		keycheck(v->key, v->file_id, hdr + 32);
		st = cn_file_write_atomic(path, hdr, sizeof hdr, err);
		v->good_end = HDR_LEN;
	} else {
		char *data = NULL;
		size_t len = 0;
		st = cn_file_read(path, (size_t)1 << 31, &data, &len, err);
		if (st == CAIRN_OK) {
			st = load(v, (const uint8_t *)data, len, err);
			sodium_memzero(data, len);
			cn_free(data);
		}
	}
	if (st != CAIRN_OK) {
		cn_vault_close(v);
		return st;
	}
	*out = v;
	return CAIRN_OK;
}

void cn_vault_close(cn_vault *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		sodium_memzero(v->e[i].value, v->e[i].len);
		cn_free(v->e[i].value);
	}
	cn_free(v->e);
	cn_strmap_free(&v->by_id);
	cn_strmap_free(&v->by_hash);
	sodium_munlock(v->key, sizeof v->key); /* also zeroes it */
	cn_free(v->path);
	cn_free(v);
}

const char *cn_vault_get(const cn_vault *v, const char *id, size_t *len)
{
	uint32_t i = cn_strmap_get(&v->by_id, id, 16);
	if (i == UINT32_MAX)
		return NULL;
	*len = v->e[i].len;
	return v->e[i].value;
}

cairn_status cn_vault_put(cn_vault *v, const char *type, const char *value, size_t len, char id[17],
                          cn_err *err)
{
	size_t tlen = strlen(type);
	if (tlen == 0 || tlen >= 32)
		return cn_err_set(err, CAIRN_EINVAL, "vault: bad type name");
	if (len > MAX_RECORD - 64)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: value of %zu bytes too large for the vault", v->path, len);
	uint8_t h[16];
	value_hash(v, type, value, len, h);
	uint32_t have = cn_strmap_get(&v->by_hash, (const char *)h, 16);
	if (have != UINT32_MAX) {
		memcpy(id, v->e[have].id, 17);
		return CAIRN_OK;
	}
	/* a fresh random id, unique in this vault */
	static const char hx[] = "0123456789abcdef";
	for (;;) {
		uint8_t r[8];
		randombytes_buf(r, sizeof r);
		for (int i = 0; i < 8; i++) {
			id[2 * i] = hx[r[i] >> 4];
			id[2 * i + 1] = hx[r[i] & 15];
		}
		id[16] = '\0';
		if (cn_strmap_get(&v->by_id, id, 16) == UINT32_MAX)
			break;
	}
	size_t plen = 1 + tlen + 16 + len;
	size_t clen = plen + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	size_t rlen = 4 + 24 + clen;
	uint8_t *rec = cn_malloc(rlen), *plain = cn_malloc(plen);
	if (!rec || !plain) {
		cn_free(rec);
		cn_free(plain);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", v->path);
	}
	plain[0] = (uint8_t)tlen;
	memcpy(plain + 1, type, tlen);
	memcpy(plain + 1 + tlen, id, 16);
	memcpy(plain + 1 + tlen + 16, value, len);
	cn_store_u32le(rec, (uint32_t)clen);
	randombytes_buf(rec + 4, 24);
	uint8_t ad[32];
	make_ad(v, v->n, ad);
	unsigned long long got;
	crypto_aead_xchacha20poly1305_ietf_encrypt(rec + 28, &got, plain, plen, ad, sizeof ad, NULL, rec + 4, v->key);
	sodium_memzero(plain, plen);
	cn_free(plain);

	cairn_status st = CAIRN_OK;
	int fd = open(v->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		st = cn_err_set(err, CAIRN_EIO, "%s: %s", v->path, strerror(errno));
	} else {
		/* cut a torn tail left by an earlier crash, then append at the known end */
		if (ftruncate(fd, (off_t)v->good_end) != 0 ||
		    pwrite(fd, rec, rlen, (off_t)v->good_end) != (ssize_t)rlen || fsync(fd) != 0)
			st = cn_err_set(err, CAIRN_EIO, "%s: append failed: %s", v->path, strerror(errno));
		close(fd);
	}
	cn_free(rec);
	if (st != CAIRN_OK)
		return st;
	v->good_end += rlen;
	return add_entry(v, type, tlen, id, value, len, err);
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

cairn_status cn_key_parse(const char *text, size_t n, uint8_t key[CN_VAULT_KEY_BYTES], cn_err *err)
{
	size_t a = 0, b = n;
	while (a < b && (text[a] == ' ' || text[a] == '\n' || text[a] == '\r' || text[a] == '\t'))
		a++;
	while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\n' || text[b - 1] == '\r' || text[b - 1] == '\t'))
		b--;
	if (b - a == 2 * CN_VAULT_KEY_BYTES) {
		bool ok = true;
		for (size_t i = 0; i < CN_VAULT_KEY_BYTES && ok; i++) {
			int h = hexv(text[a + 2 * i]), l = hexv(text[a + 2 * i + 1]);
			ok = h >= 0 && l >= 0;
			key[i] = ok ? (uint8_t)(h << 4 | l) : 0;
		}
		if (ok)
			return CAIRN_OK;
	}
	if (n == CN_VAULT_KEY_BYTES) {
		memcpy(key, text, CN_VAULT_KEY_BYTES);
		return CAIRN_OK;
	}
	sodium_memzero(key, CN_VAULT_KEY_BYTES);
	return cn_err_set(err, CAIRN_EINVAL, "key: expected 64 hex digits or 32 raw bytes (got %zu bytes)", n);
}
