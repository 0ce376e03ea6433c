/* guard redaction and vault: mask output and offset maps checked by hand; keyed-hash tokens
 * against Python's hashlib.blake2b(b"EMAIL_ADDRESS\0" + value, key=bytes(range(32)),
 * digest_size=8); token mode round trip through the encrypted vault across reopenings; the
 * permission gate; key parsing; and a vault that is tampered with (a flipped byte, records
 * swapped, a wrong key, a modified header) failing with CAIRN_ECORRUPT, while a torn tail
 * left by a crash is cut off and the vault keeps working. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"
#include "testutil.h"

static uint8_t key0[32], key1[32];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 32; i++) {
		key0[i] = (uint8_t)i;
		key1[i] = (uint8_t)(i + 1);
	}
	return 0;
}

static void test_mask_and_map(void **state)
{
	(void)state;
	const char *s = "Mail alice@example.com or call +1 415 555 2671.";
	cairn_redact_params p = cairn_redact_default_params();
	cairn_redacted r;
	char eb[256];
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(r.text, "Mail [EMAIL_ADDRESS] or call [PHONE_NUMBER].");
	assert_int_equal(r.len, strlen(r.text));
	assert_int_equal(r.n_items, 2);
	assert_string_equal(r.items[0].type, "EMAIL_ADDRESS");
	assert_int_equal(r.items[0].src_start, 5);
	assert_int_equal(r.items[0].src_end, 22);
	assert_int_equal(r.items[0].out_start, 5);
	assert_int_equal(r.items[0].out_end, 20);
	assert_memory_equal(r.text + r.items[1].out_start, "[PHONE_NUMBER]", 14);
	assert_int_equal(r.items[1].out_end - r.items[1].out_start, 14);
	assert_memory_equal(s + r.items[1].src_start, "+1 415 555 2671", 15);
	cairn_redacted_free(&r);
	/* nothing to redact, and the empty input */
	assert_int_equal(cairn_redact("plain words", 11, &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(r.text, "plain words");
	assert_int_equal(r.n_items, 0);
	cairn_redacted_free(&r);
	assert_int_equal(cairn_redact("", 0, &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(r.text, "");
	cairn_redacted_free(&r);
	/* an unknown type name is a usage error */
	p.pii.types = "EMAIL_ADDRESS,NOPE";
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_EINVAL);
	assert_non_null(strstr(eb, "NOPE"));
	p.pii.types = "PHONE_NUMBER";
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(r.text, "Mail alice@example.com or call [PHONE_NUMBER].");
	cairn_redacted_free(&r);
}

static void test_hash_mode(void **state)
{
	(void)state;
	const char *s = "to alice@example.com";
	cairn_redact_params p = cairn_redact_default_params();
	p.mode = CAIRN_REDACT_HASH;
	cairn_redacted r;
	char eb[256];
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_EINVAL); /* no key */
	p.key = key0;
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(r.text, "to <EMAIL_ADDRESS:830cb7855b6a8b88>"); /* hashlib.blake2b */
	cairn_redacted_free(&r);
	p.key = key1;
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_string_not_equal(r.text, "to <EMAIL_ADDRESS:830cb7855b6a8b88>");
	cairn_redacted_free(&r);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long l = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)l + 1);
	assert_int_equal(fread(b, 1, (size_t)l, f), (size_t)l);
	fclose(f);
	*n = (size_t)l;
	return b;
}

static void spit(const char *path, const char *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static void test_token_round_trip(void **state)
{
	(void)state;
	char dir[256], vault[300], eb[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "vault"), 0);
	snprintf(vault, sizeof vault, "%s/v.vault", dir);
	const char *s = "alice@example.com wrote to bob@example.org; alice@example.com again. Card 4111111111111111";
	cairn_redact_params p = cairn_redact_default_params();
	p.mode = CAIRN_REDACT_TOKEN;
	p.key = key0;
	p.vault_path = vault;
	cairn_redacted r;
	assert_int_equal(cairn_redact(s, strlen(s), &p, &r, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(r.n_items, 4);
	assert_null(strstr(r.text, "alice"));
	assert_null(strstr(r.text, "4111111111111111")); /* ids are random hex: "4111" alone could occur */
	/* the same value gets the same token; different values differ */
	size_t l0 = r.items[0].out_end - r.items[0].out_start, l2 = r.items[2].out_end - r.items[2].out_start;
	assert_int_equal(l0, l2);
	assert_memory_equal(r.text + r.items[0].out_start, r.text + r.items[2].out_start, l0);
	assert_memory_not_equal(r.text + r.items[0].out_start, r.text + r.items[1].out_start, 20);
	assert_memory_equal(r.text + r.items[0].out_start, "<EMAIL_ADDRESS_", 15);
	/* rehydrate: needs the permission, the key, and gives back the original exactly */
	char *out = NULL;
	size_t out_len = 0;
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 0, &out, &out_len, eb, sizeof eb), CAIRN_EINVAL);
	assert_null(out);
	assert_non_null(strstr(eb, "permission"));
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(out_len, strlen(s));
	assert_string_equal(out, s);
	cairn_free(out);
	/* a second run (vault reopened) reuses the ids and adds new values */
	cairn_redacted r2;
	const char *s2 = "again alice@example.com and carol@example.net";
	assert_int_equal(cairn_redact(s2, strlen(s2), &p, &r2, eb, sizeof eb), CAIRN_OK);
	assert_memory_equal(r2.text + r2.items[0].out_start, r.text + r.items[0].out_start, l0);
	assert_int_equal(cairn_rehydrate(r2.text, r2.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, s2);
	cairn_free(out);
	/* unknown tokens and look-alikes are left alone */
	const char *odd = "<EMAIL_ADDRESS_0000000000000000> <X_zz> <";
	assert_int_equal(cairn_rehydrate(odd, strlen(odd), vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, odd);
	cairn_free(out);
	/* wrong key */
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key1, 1, &out, &out_len, eb, sizeof eb), CAIRN_ECORRUPT);
	assert_non_null(strstr(eb, "wrong key"));
	cairn_redacted_free(&r2);

	/* tampering */
	size_t n;
	char *orig = slurp(vault, &n);
	assert_true(n > 64 + 3 * 40);
	char *t = malloc(n);
	memcpy(t, orig, n);
	t[n - 5] ^= 1; /* inside the last record's ciphertext */
	spit(vault, t, n);
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_ECORRUPT);
	assert_non_null(strstr(eb, "authentication"));
	memcpy(t, orig, n);
	t[10] ^= 1; /* header: file id */
	spit(vault, t, n);
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_ECORRUPT);
	/* swap the first two records (reorder) */
	{
		size_t h = 64;
		uint32_t c1 = cn_load_u32le(orig + h);
		size_t len1 = 28 + c1;
		uint32_t c2 = cn_load_u32le(orig + h + len1);
		size_t len2 = 28 + c2;
		memcpy(t, orig, n);
		memcpy(t + h, orig + h + len1, len2);
		memcpy(t + h + len2, orig + h, len1);
		spit(vault, t, n);
		assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb),
		                 CAIRN_ECORRUPT);
		/* delete the first record */
		spit(vault, orig, h);
		FILE *f = fopen(vault, "ab");
		fwrite(orig + h + len1, 1, n - h - len1, f);
		fclose(f);
		assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb),
		                 CAIRN_ECORRUPT);
	}
	/* a torn tail (crash mid-append): ignored, and the next append cuts it off */
	memcpy(t, orig, n);
	spit(vault, t, n);
	FILE *f = fopen(vault, "ab");
	fwrite("\x50\x00\x00\x00partial", 1, 11, f);
	fclose(f);
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, s);
	cairn_free(out);
	const char *s3 = "new dave@example.com";
	assert_int_equal(cairn_redact(s3, strlen(s3), &p, &r2, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(cairn_rehydrate(r2.text, r2.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_OK);
	assert_string_equal(out, s3);
	cairn_free(out);
	cairn_redacted_free(&r2);
	/* not a vault at all */
	spit(vault, "hello", 5);
	assert_int_equal(cairn_rehydrate(r.text, r.len, vault, key0, 1, &out, &out_len, eb, sizeof eb), CAIRN_ECORRUPT);
	assert_non_null(strstr(eb, "not a cairn vault"));
	free(t);
	free(orig);
	cairn_redacted_free(&r);
	cn_test_rmtree(dir);
}

static void test_keys(void **state)
{
	(void)state;
	uint8_t k[32];
	cn_err err;
	cn_err_clear(&err);
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n";
	assert_int_equal(cn_key_parse(hex, strlen(hex), k, &err), CAIRN_OK);
	assert_memory_equal(k, key0, 32);
	assert_int_equal(cn_key_parse((const char *)key1, 32, k, &err), CAIRN_OK);
	assert_memory_equal(k, key1, 32);
	assert_int_equal(cn_key_parse("abcd", 4, k, &err), CAIRN_EINVAL);
	assert_null(strstr(err.msg, "abcd")); /* the key never enters a message */
	char dir[256], path[300], eb[256];
	assert_int_equal(cn_test_mkdtemp(dir, sizeof dir, "key"), 0);
	snprintf(path, sizeof path, "%s/k", dir);
	spit(path, hex, strlen(hex));
	assert_int_equal(cairn_key_load(path, NULL, k, eb, sizeof eb), CAIRN_OK);
	assert_memory_equal(k, key0, 32);
	setenv("CAIRN_TEST_KEY", "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100", 1);
	assert_int_equal(cairn_key_load(NULL, "CAIRN_TEST_KEY", k, eb, sizeof eb), CAIRN_OK);
	assert_int_equal(k[0], 0x1f);
	assert_int_equal(k[31], 0x00);
	setenv("CAIRN_TEST_KEY", "secretsecret", 1);
	assert_int_equal(cairn_key_load(NULL, "CAIRN_TEST_KEY", k, eb, sizeof eb), CAIRN_EINVAL);
	assert_null(strstr(eb, "secretsecret"));
	assert_int_equal(cairn_key_load(NULL, "CAIRN_TEST_KEY_UNSET_X", k, eb, sizeof eb), CAIRN_ENOTFOUND);
	assert_int_equal(cairn_key_load(path, "CAIRN_TEST_KEY", k, eb, sizeof eb), CAIRN_EINVAL);
	cairn_key_wipe(k);
	for (int i = 0; i < 32; i++)
		assert_int_equal(k[i], 0);
	cn_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_and_map),
		cmocka_unit_test(test_hash_mode),
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
