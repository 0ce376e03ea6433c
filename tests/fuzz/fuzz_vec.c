/*
 * fuzz_vec — the vector segment reader (src/vec/vec_seg.c) and everything that runs on a
 * segment it accepts: graph and exact search with filters and deletions (vec_search.c) and
 * merge (vec_merge.c, vec_build.c).
 *
 * As in fuzz_segment, the input is a list of patches to a valid segment built at start-up,
 * not the file itself (random bytes never pass the container's CRCs):
 *   byte 0        0xFF = leave the CRCs as patched (exercises the container checks) on
 *                 segment A; otherwise bit 0 picks the segment (A: 150 vectors, dim 16, INT8,
 *                 L2; B: 120 vectors, dim 12, F32, cosine; both M = 4 so upper levels exist,
 *                 with labels and mtimes) and every section CRC, the table CRC and the header
 *                 CRC are recomputed after patching, so mutations reach the vec validation
 *   then 3 bytes  per patch: u16 little-endian offset (mod file size), new byte value
 * Checks beyond "no crash, leak or UB":
 *  - open fails only with ECORRUPT/EUNSUPPORTED, returns no segment, and has a message;
 *  - the pristine segments open;
 *  - on any segment open accepts: every accessor over every vector and label; searches in
 *    AUTO, GRAPH and EXACT modes, with and without a filter and a deletion bitmap, succeed,
 *    return at most k hits sorted by score, never a deleted vector nor one the filter
 *    rejects (checked here by evaluating the filter on the hit's labels);
 *  - a merge succeeds, or fails with EINVAL for a non-finite stored vector, always with a
 *    message; a successful merge writes a segment that opens with the live count.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "vec/vec.h"

static char dir[256], seg_path[300], out_path[300];
static uint8_t *pristine[2];
static size_t pristine_len[2];
static cn_filter *filt;

static void cleanup(void)
{
	unlink(seg_path);
	unlink(out_path);
	rmdir(dir);
	cn_free(pristine[0]);
	cn_free(pristine[1]);
	cn_filter_free(filt);
}

static void die(const char *what, const cn_err *err)
{
	fprintf(stderr, "fuzz_vec init: %s: %s\n", what, err ? err->msg : "");
	abort();
}

static int write_file(const char *path, const uint8_t *d, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, d, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static void make(int which, uint32_t n, uint32_t dim, cn_vec_metric metric, cn_vec_storage storage)
{
	cn_err err;
	cn_err_clear(&err);
	cn_vec_params p = cn_vec_default_params(dim);
	p.metric = metric;
	p.storage = storage;
	p.M = 4;
	p.ef_construction = 20;
	cn_vec_builder *b;
	if (cn_vec_builder_new(&p, &b, &err))
		die("builder", &err);
	uint64_t s = 12345 + (uint64_t)which;
	float v[64];
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < dim; j++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			v[j] = (float)((int)(s >> 40 & 0xff) - 128) / 64.0f + (float)(i % 5);
		}
		const char *labs[3];
		size_t nl = 0;
		labs[nl++] = i % 2 ? "tag:team=ops" : "tag:team=eng";
		if (i % 4 == 0)
			labs[nl++] = "group:eng";
		labs[nl++] = "format:markdown";
		cn_vec_item it = {.chunk_id = 100 + i, .vec = v, .mtime = 1700000000 + i, .labels = labs, .n_labels = nl};
		if (cn_vec_builder_add(b, &it, &err))
			die("add", &err);
	}
	if (cn_vec_builder_write(b, seg_path, NULL, &err))
		die("write", &err);
	cn_vec_builder_free(b);
	char *data;
	size_t len;
	if (cn_file_read(seg_path, 1u << 20, &data, &len, &err))
		die("read back", &err);
	pristine[which] = (uint8_t *)data;
	pristine_len[which] = len;
}

static void init(void)
{
	if (pristine[0])
		return;
	snprintf(dir, sizeof dir, "%s/cairn-fuzzvec-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	snprintf(seg_path, sizeof seg_path, "%s/seg", dir);
	snprintf(out_path, sizeof out_path, "%s/merged", dir);
	atexit(cleanup);
	make(0, 150, 16, CN_VEC_L2, CN_VEC_INT8);
	make(1, 120, 12, CN_VEC_COSINE, CN_VEC_F32);
	const char *dump = getenv("FUZZ_VEC_DUMP"); /* for writing patch seeds by hand */
	if (dump) {
		char p[512];
		snprintf(p, sizeof p, "%s.a", dump);
		if (write_file(p, pristine[0], pristine_len[0]) != 0)
			die("dump", NULL);
		snprintf(p, sizeof p, "%s.b", dump);
		if (write_file(p, pristine[1], pristine_len[1]) != 0)
			die("dump", NULL);
	}
	cn_err err;
	cn_err_clear(&err);
	if (cn_filter_compile("team=eng OR NOT group=eng", NULL, 0, &filt, &err))
		die("filter", &err);
}

static uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static void st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crcs(uint8_t *d, size_t len)
{
	uint32_t n = ld32(d + 20);
	uint64_t toff = ld64(d + 24);
	if (n <= 64 && toff >= 64 && toff <= len && len - toff >= (uint64_t)n * 24 + 4) {
		uint8_t *t = d + toff;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t off = ld64(t + i * 24 + 8), sl = ld64(t + i * 24 + 16);
			if (off <= len && sl <= len - off)
				st32(t + i * 24 + 4, cn_crc32c(0, d + off, sl));
		}
		st32(t + n * 24, cn_crc32c(0, t, (size_t)n * 24));
	}
	st32(d + 60, cn_crc32c(0, d, 60));
}

static void exercise(cn_vec_seg *s)
{
	uint32_t n = cn_vec_seg_count(s), dim = cn_vec_seg_dim(s), nl = cn_vec_seg_nlabels(s);
	volatile uint64_t sink = 0;
	for (uint32_t i = 0; i <= n; i++) {
		sink += cn_vec_seg_chunk_id(s, i) + (uint64_t)cn_vec_seg_mtime(s, i);
		const float *v = cn_vec_seg_vector(s, i);
		if (v)
			sink += (uint64_t)(v[0] == v[dim - 1]);
		size_t k;
		const uint32_t *ids = cn_vec_seg_labels_of(s, i, &k);
		for (size_t j = 0; j < k; j++) {
			FUZZ_CHECK(ids[j] < nl, "label id %u of %u", ids[j], nl);
			uint32_t ll;
			const char *l = cn_vec_seg_label(s, ids[j], &ll);
			if (ll)
				sink += (uint8_t)l[ll - 1];
		}
	}
	cn_label_source src;
	cn_vec_seg_label_source(s, &src);
	cn_filter_bound *fb = NULL;
	cn_err err;
	cn_err_clear(&err);
	FUZZ_CHECK(cn_filter_bind(filt, &src, &fb, &err) == CAIRN_OK, "bind: %s", err.msg);

	uint8_t *del = calloc((size_t)n / 8 + 1, 1);
	for (uint32_t i = 0; i < n; i += 3)
		del[i / 8] |= (uint8_t)(1u << (i % 8));
	float *q = calloc(dim, sizeof *q);
	for (uint32_t j = 0; j < dim; j++)
		q[j] = (float)(j % 3) - 0.5f;
	for (int m = 0; m < 3; m++)
		for (int f = 0; f < 2; f++)
			for (int dl = 0; dl < 2; dl++) {
				cn_vec_view v = {.seg = s, .deleted = dl ? del : NULL};
				cn_vec_query qp = {.k = 7, .ef_search = 10, .filter = f ? filt : NULL, .mode = (cn_vec_mode)m};
				cn_vec_hit h[7];
				size_t nh = 99;
				cn_err_clear(&err);
				cairn_status st = cn_vec_search(&v, 1, q, &qp, h, &nh, &err);
				FUZZ_CHECK(st == CAIRN_OK, "search on an opened segment failed: %s", err.msg);
				FUZZ_CHECK(nh <= 7, "%zu hits for k = 7", nh);
				for (size_t i = 0; i < nh; i++) {
					FUZZ_CHECK(h[i].idx < n, "hit %u of %u vectors", h[i].idx, n);
					FUZZ_CHECK(!(i > 0 && h[i - 1].score < h[i].score), "hits not sorted");
					FUZZ_CHECK(!dl || !(del[h[i].idx / 8] >> (h[i].idx % 8) & 1), "deleted vector %u returned", h[i].idx);
					FUZZ_CHECK(h[i].chunk_id == cn_vec_seg_chunk_id(s, h[i].idx), "chunk id mismatch");
					if (f) {
						size_t k;
						const uint32_t *ids = cn_vec_seg_labels_of(s, h[i].idx, &k);
						FUZZ_CHECK(cn_filter_eval(fb, ids, k, cn_vec_seg_mtime(s, h[i].idx)),
						           "vector %u returned outside the filter", h[i].idx);
					}
				}
			}
	cn_filter_bound_free(fb);

	/* merge with the deletions */
	cn_vec_view v = {.seg = s, .deleted = del};
	uint64_t bytes = 0;
	uint32_t cnt = 0;
	cn_err_clear(&err);
	cairn_status ms = cn_vec_merge(&v, 1, NULL, out_path, &bytes, &cnt, &err);
	if (ms == CAIRN_OK) {
		uint32_t live = 0;
		for (uint32_t i = 0; i < n; i++)
			live += !(del[i / 8] >> (i % 8) & 1);
		FUZZ_CHECK(cnt == live, "merge kept %u of %u live vectors", cnt, live);
		cn_vec_seg *m = NULL;
		cn_err_clear(&err);
		FUZZ_CHECK(cn_vec_seg_open(out_path, &m, &err) == CAIRN_OK, "merge output does not open: %s", err.msg);
		FUZZ_CHECK(cn_vec_seg_count(m) == cnt, "merged count");
		cn_vec_seg_close(m);
		unlink(out_path);
	} else {
		FUZZ_CHECK(err.msg[0], "merge failed without a message");
		FUZZ_CHECK(ms == CAIRN_EINVAL && strstr(err.msg, "not finite"), "merge failed: %d %s", (int)ms, err.msg);
	}
	free(del);
	free(q);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size > 3 * 512 + 1)
		return 0;
	int which = size && data[0] != 0xFF ? data[0] & 1 : 0;
	size_t len = pristine_len[which];
	uint8_t *d = malloc(len);
	if (!d)
		return 0;
	memcpy(d, pristine[which], len);
	for (size_t i = 1; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % len;
		d[off] = data[i + 2];
	}
	if (size == 0 || data[0] != 0xFF)
		fix_crcs(d, len);
	bool pristine_input = memcmp(d, pristine[which], len) == 0;
	if (write_file(seg_path, d, len) != 0) {
		free(d);
		return 0;
	}
	free(d);
	cn_err err;
	cn_err_clear(&err);
	cn_vec_seg *s = NULL;
	cairn_status st = cn_vec_seg_open(seg_path, &s, &err);
	if (pristine_input)
		FUZZ_CHECK(st == CAIRN_OK, "the unpatched segment does not open: %s", err.msg);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(s == NULL, "failed open returned a segment");
		FUZZ_CHECK(st == CAIRN_ECORRUPT || st == CAIRN_EUNSUPPORTED, "open status %d: %s", (int)st, err.msg);
		FUZZ_CHECK(err.msg[0], "open failed without a message");
		return 0;
	}
	exercise(s);
	cn_vec_seg_close(s);
	return 0;
}
