/* store: the segment container (round trip, every corruption caught) and the catalog's
 * transactions and writer lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/segfile.h"
#include "store/store.h"
#include "testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return cn_test_mkdtemp(tmpdir, sizeof tmpdir, "store");
}

static int teardown(void **state)
{
	(void)state;
	return cn_test_rmtree(tmpdir);
}

static void write_sample(const char *path)
{
	cn_err err;
	cn_err_clear(&err);
	cn_segw *w;
	assert_int_equal(cn_segw_open(path, CN_SEG_KIND_BM25, 7, &w, &err), CAIRN_OK);
	assert_int_equal(cn_segw_section(w, 1, "hello", 5, &err), CAIRN_OK);
	assert_int_equal(cn_segw_begin(w, 2, &err), CAIRN_OK);
	for (int i = 0; i < 1000; i++) {
		uint32_t v = (uint32_t)i * 2654435761u;
		assert_int_equal(cn_segw_append(w, &v, 4, &err), CAIRN_OK);
	}
	assert_int_equal(cn_segw_end(w, &err), CAIRN_OK);
	assert_int_equal(cn_segw_section(w, 3, "", 0, &err), CAIRN_OK);
	uint64_t bytes = 0;
	assert_int_equal(cn_segw_finish(w, &bytes, &err), CAIRN_OK);
	assert_true(bytes > 4005);
}

static void test_segfile_roundtrip(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/a.seg", tmpdir);
	write_sample(path);
	char tmp[140];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1); /* the temporary name is gone after the rename */
	cn_err err;
	cn_err_clear(&err);
	cn_segr *r;
	assert_int_equal(cn_segr_open(path, CN_SEG_KIND_BM25, &r, &err), CAIRN_OK);
	assert_int_equal(cn_segr_kind_version(r), 7);
	const uint8_t *d;
	size_t n;
	assert_int_equal(cn_segr_section(r, 1, &d, &n, &err), CAIRN_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(d, "hello", 5);
	assert_int_equal((uintptr_t)d % 64, 0);
	assert_int_equal(cn_segr_section(r, 2, &d, &n, &err), CAIRN_OK);
	assert_int_equal(n, 4000);
	uint32_t v;
	memcpy(&v, d + 4 * 999, 4);
	assert_int_equal(v, 999u * 2654435761u);
	assert_int_equal(cn_segr_section(r, 3, &d, &n, &err), CAIRN_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cn_segr_section(r, 9, &d, &n, &err), CAIRN_ECORRUPT);
	cn_segr_close(r);
	/* wrong kind is refused */
	cn_err_clear(&err);
	assert_int_equal(cn_segr_open(path, CN_SEG_KIND_VEC, &r, &err), CAIRN_ECORRUPT);
	assert_non_null(strstr(err.msg, "a.seg"));
}

static void test_segfile_every_corruption_detected(void **state)
{
	(void)state;
	char path[128], bad[128];
	snprintf(path, sizeof path, "%s/b.seg", tmpdir);
	snprintf(bad, sizeof bad, "%s/bad.seg", tmpdir);
	write_sample(path);
	char *data;
	size_t len;
	cn_err err;
	cn_err_clear(&err);
	assert_int_equal(cn_file_read(path, 1 << 20, &data, &len, &err), CAIRN_OK);
	/* Every truncation fails cleanly. */
	for (size_t cut = 0; cut < len; cut += (cut < 200 ? 1 : 97)) {
		FILE *f = fopen(bad, "wb");
		fwrite(data, 1, cut, f);
		fclose(f);
		cn_segr *r = NULL;
		cn_err_clear(&err);
		cairn_status st = cn_segr_open(bad, CN_SEG_KIND_BM25, &r, &err);
		assert_int_not_equal(st, CAIRN_OK);
		assert_null(r);
	}
	/* Every single-byte flip is caught (header CRC, table CRC or section CRC), except in
	 * the padding between sections, which no reader ever uses. */
	int caught = 0, flips = 0;
	for (size_t i = 0; i < len; i += 13) {
		data[i] ^= 0x5A;
		FILE *f = fopen(bad, "wb");
		fwrite(data, 1, len, f);
		fclose(f);
		data[i] ^= 0x5A;
		cn_segr *r = NULL;
		cn_err_clear(&err);
		flips++;
		if (cn_segr_open(bad, CN_SEG_KIND_BM25, &r, &err) != CAIRN_OK) {
			caught++;
			continue;
		}
		/* Not caught: must be padding — the sections still read back intact. */
		const uint8_t *d;
		size_t n;
		assert_int_equal(cn_segr_section(r, 1, &d, &n, &err), CAIRN_OK);
		assert_memory_equal(d, "hello", 5);
		cn_segr_close(r);
	}
	assert_true(caught > flips * 9 / 10);
	cn_free(data);
}

static void test_catalog_transactions_and_lock(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof dir, "%s/kb", tmpdir);
	cn_err err;
	cn_err_clear(&err);
	cn_store *s, *s2;
	/* opening a missing KB without create fails clearly */
	assert_int_equal(cn_store_open(dir, false, false, &s, &err), CAIRN_ENOTFOUND);
	cn_err_clear(&err);
	assert_int_equal(cn_store_open(dir, true, false, &s, &err), CAIRN_OK);
	assert_true(cn_store_is_new(s));
	int64_t gen = -1;
	assert_int_equal(cn_store_generation(s, &gen, &err), CAIRN_OK);
	assert_int_equal(gen, 0);
	assert_int_equal(cn_store_begin(s, &err), CAIRN_OK);
	/* a second writer (separate open file description) is refused while the first writes */
	assert_int_equal(cn_store_open(dir, true, false, &s2, &err), CAIRN_OK);
	assert_false(cn_store_is_new(s2));
	assert_int_equal(cn_store_begin(s2, &err), CAIRN_EBUSY);
	assert_non_null(strstr(err.msg, "another cairn process"));
	cn_err_clear(&err);
	int64_t id;
	char path[512];
	assert_int_equal(cn_store_segment_new(s, "bm25", &id, path, sizeof path, &err), CAIRN_OK);
	FILE *f = fopen(path, "w");
	fputs("x", f);
	fclose(f);
	assert_int_equal(cn_store_meta_set(s, "k", "v1", &err), CAIRN_OK);
	cn_store_rollback(s);
	/* rolled back: meta unchanged, generation unchanged; the file is an orphan for gc */
	char *v;
	assert_int_equal(cn_store_meta_get(s, "k", &v, &err), CAIRN_OK);
	assert_null(v);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(cn_store_begin(s2, &err), CAIRN_OK);
	assert_int_equal(cn_store_gc(s2, &err), CAIRN_OK);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(cn_store_meta_set(s2, "k", "v2", &err), CAIRN_OK);
	assert_int_equal(cn_store_commit(s2, &err), CAIRN_OK);
	assert_int_equal(cn_store_generation(s, &gen, &err), CAIRN_OK);
	assert_int_equal(gen, 1);
	assert_int_equal(cn_store_meta_get(s, "k", &v, &err), CAIRN_OK);
	assert_string_equal(v, "v2");
	cn_free(v);
	cn_store_close(s2);
	cn_store_close(s);
	/* read-only open of an existing KB works; of a directory without catalog it fails */
	assert_int_equal(cn_store_open(dir, false, true, &s, &err), CAIRN_OK);
	cn_store_close(s);
	cn_err_clear(&err);
	assert_int_equal(cn_store_open(tmpdir, false, true, &s, &err), CAIRN_ENOTFOUND);
	/* a file that is not a database is refused with the path in the message */
	char fake[128];
	snprintf(fake, sizeof fake, "%s/fake", tmpdir);
	char cat[400];
	snprintf(cat, sizeof cat, "mkdir -p %s && head -c 4096 /dev/urandom > %s/catalog.db", fake, fake);
	assert_int_equal(system(cat), 0);
	cn_err_clear(&err);
	assert_int_not_equal(cn_store_open(fake, false, false, &s, &err), CAIRN_OK);
	assert_non_null(strstr(err.msg, "fake"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segfile_roundtrip),
		cmocka_unit_test(test_segfile_every_corruption_detected),
		cmocka_unit_test(test_catalog_transactions_and_lock),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
