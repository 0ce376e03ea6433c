/* base: containers, codecs, checksums and file helpers against independent expectations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "testutil.h"

uint32_t cn_crc32c_table(uint32_t crc, const void *data, size_t n);

static void test_crc32c_known_values(void **state)
{
	(void)state;
	/* RFC 3720 appendix B.4 test vectors. */
	uint8_t zeros[32] = {0}, ones[32], inc[32];
	memset(ones, 0xFF, sizeof ones);
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	assert_int_equal(cn_crc32c(0, zeros, 32), 0x8A9136AAu);
	assert_int_equal(cn_crc32c(0, ones, 32), 0x62A8AB43u);
	assert_int_equal(cn_crc32c(0, inc, 32), 0x46DD794Eu);
	assert_int_equal(cn_crc32c(0, "123456789", 9), 0xE3069283u);
	/* Hardware and table paths agree on every length and alignment, and chaining works. */
	uint8_t buf[1000];
	for (int i = 0; i < 1000; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n < 300; n += 7) {
			assert_int_equal(cn_crc32c(0, buf + off, n), cn_crc32c_table(0, buf + off, n));
			uint32_t part = cn_crc32c(cn_crc32c(0, buf + off, n / 2), buf + off + n / 2, n - n / 2);
			assert_int_equal(part, cn_crc32c(0, buf + off, n));
		}
}

static void test_varint_roundtrip_and_bad_input(void **state)
{
	(void)state;
	uint64_t vals[] = {0, 1, 127, 128, 255, 300, 16383, 16384, (1ull << 32) - 1, 1ull << 35, UINT64_MAX};
	for (size_t i = 0; i < CN_ARRAY_LEN(vals); i++) {
		uint8_t b[10];
		size_t n = cn_varint_put(b, vals[i]);
		uint64_t v = 0;
		assert_int_equal(cn_varint_get(b, b + n, &v), n);
		assert_true(v == vals[i]);
		/* truncated input is refused, not over-read */
		if (n > 1)
			assert_int_equal(cn_varint_get(b, b + n - 1, &v), 0);
	}
	uint8_t overlong[11];
	memset(overlong, 0xFF, sizeof overlong);
	uint64_t v;
	assert_int_equal(cn_varint_get(overlong, overlong + 11, &v), 0);
	assert_int_equal(cn_varint_get(overlong, overlong, &v), 0);
}

static void test_strmap_dense_ids_and_growth(void **state)
{
	(void)state;
	cn_strmap m;
	cn_strmap_init(&m);
	char key[32];
	for (int i = 0; i < 50000; i++) {
		int n = snprintf(key, sizeof key, "k%d", i);
		uint32_t id;
		bool added;
		assert_int_equal(cn_strmap_put(&m, key, (size_t)n, &id, &added), CAIRN_OK);
		assert_true(added);
		assert_int_equal(id, i);
	}
	for (int i = 0; i < 50000; i += 97) {
		int n = snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(cn_strmap_get(&m, key, (size_t)n), i);
		uint32_t id;
		bool added;
		assert_int_equal(cn_strmap_put(&m, key, (size_t)n, &id, &added), CAIRN_OK);
		assert_false(added);
		assert_int_equal(id, i);
		assert_string_equal(cn_strmap_key(&m, id), key);
	}
	assert_int_equal(cn_strmap_get(&m, "absent", 6), UINT32_MAX);
	/* keys with embedded NULs are distinct by length */
	uint32_t a, b;
	assert_int_equal(cn_strmap_put(&m, "x\0y", 3, &a, NULL), CAIRN_OK);
	assert_int_equal(cn_strmap_put(&m, "x", 1, &b, NULL), CAIRN_OK);
	assert_int_not_equal(a, b);
	assert_int_equal(cn_strmap_count(&m), 50002);
	cn_strmap_free(&m);
}

static void test_buf_json_escaping(void **state)
{
	(void)state;
	cn_buf b;
	cn_buf_init(&b);
	const char in[] = "a\"b\\c\n\x01 \xC3\xA9 \xFF";
	cn_buf_put_json_str(&b, in, sizeof in - 1);
	assert_false(b.failed);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001 \xC3\xA9 \\ufffd\"");
	cn_buf_reset(&b);
	cn_buf_printf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.data, "42-x");
	char *taken = cn_buf_take(&b);
	assert_string_equal(taken, "42-x");
	assert_null(b.data);
	cn_free(taken);
}

static void test_alloc_failure_is_reported(void **state)
{
	(void)state;
	cn_buf b;
	cn_buf_init(&b);
	cn_alloc_fail_after(1);
	cn_buf_puts(&b, "hello");
	assert_true(b.failed);
	cn_buf_puts(&b, "more"); /* sticky: stays failed, no crash */
	assert_true(b.failed);
	cn_buf_free(&b);
	cn_strmap m;
	cn_strmap_init(&m);
	uint32_t id;
	cn_alloc_fail_after(1);
	assert_int_equal(cn_strmap_put(&m, "a", 1, &id, NULL), CAIRN_ENOMEM);
	assert_int_equal(cn_strmap_put(&m, "a", 1, &id, NULL), CAIRN_OK);
	cn_strmap_free(&m);
	cn_alloc_fail_after(0);
}

static void test_atomic_write_and_read_limits(void **state)
{
	(void)state;
	char dir[] = "/tmp/cairn-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/sub/dir/f.txt", dir);
	char sub[256];
	snprintf(sub, sizeof sub, "%s/sub/dir", dir);
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_mkdir_p(sub, &err), CAIRN_OK);
	assert_int_equal(cn_file_write_atomic(path, "hello world", 11, &err), CAIRN_OK);
	char *data;
	size_t len;
	assert_int_equal(cn_file_read(path, 100, &data, &len, &err), CAIRN_OK);
	assert_int_equal(len, 11);
	assert_string_equal(data, "hello world");
	cn_free(data);
	assert_int_equal(cn_file_read(path, 5, &data, &len, &err), CAIRN_ETOOBIG);
	assert_non_null(strstr(err.msg, "f.txt"));
	cn_err_clear(&err);
	assert_int_equal(cn_file_read("/nonexistent/x", 5, &data, &len, &err), CAIRN_ENOTFOUND);
	/* first error wins */
	cn_err_set(&err, CAIRN_EIO, "second");
	assert_int_equal(err.code, CAIRN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/x"));
	cn_err_prefix(&err, "ingest: ");
	assert_int_equal(strncmp(err.msg, "ingest: /nonexistent/x", 22), 0);
	assert_int_equal(cn_test_rmtree(dir), 0);
}

/* cn_map_load: the file's bytes, in a mapping of whole 2 MiB units, equal to cn_map_open's. */
static void test_map_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/cairn-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], empty[256];
	snprintf(path, sizeof path, "%s/w.bin", dir);
	snprintf(empty, sizeof empty, "%s/empty", dir);
	size_t n = (3u << 20) + 12345;
	uint8_t *bytes = malloc(n);
	assert_non_null(bytes);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		bytes[i] = (uint8_t)x;
	}
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_write_atomic(path, bytes, n, &err), CAIRN_OK);
	assert_int_equal(cn_file_write_atomic(empty, "", 0, &err), CAIRN_OK);
	cn_map a, b;
	assert_int_equal(cn_map_load(path, &a, &err), CAIRN_OK);
	assert_int_equal(cn_map_open(path, &b, &err), CAIRN_OK);
	assert_int_equal(a.len, n);
	assert_int_equal(a.cap, 4u << 20);
	assert_int_equal(b.cap, 0);
	assert_memory_equal(a.data, bytes, n);
	assert_memory_equal(a.data, b.data, n);
	cn_map_close(&a);
	cn_map_close(&b);
	assert_null(a.data);
	assert_int_equal(a.len + a.cap, 0);
	assert_int_equal(cn_map_load(empty, &a, &err), CAIRN_OK);
	assert_null(a.data);
	assert_int_equal(a.len, 0);
	cn_map_close(&a);
	assert_int_equal(cn_map_load("/nonexistent/model.gguf", &a, &err), CAIRN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
	free(bytes);
	assert_int_equal(cn_test_rmtree(dir), 0);
}

static void test_arena_alignment_and_large(void **state)
{
	(void)state;
	cn_arena a;
	cn_arena_init(&a, 128);
	for (int i = 1; i < 200; i++) {
		char *p = cn_arena_alloc(&a, (size_t)i);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 8, 0);
		memset(p, 0xAB, (size_t)i);
	}
	char *big = cn_arena_alloc(&a, 10000);
	assert_non_null(big);
	memset(big, 1, 10000);
	assert_string_equal(cn_arena_strndup(&a, "abcdef", 3), "abc");
	cn_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_values),
		cmocka_unit_test(test_varint_roundtrip_and_bad_input),
		cmocka_unit_test(test_strmap_dense_ids_and_growth),
		cmocka_unit_test(test_buf_json_escaping),
		cmocka_unit_test(test_alloc_failure_is_reported),
		cmocka_unit_test(test_atomic_write_and_read_limits),
		cmocka_unit_test(test_arena_alignment_and_large),
		cmocka_unit_test(test_map_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
