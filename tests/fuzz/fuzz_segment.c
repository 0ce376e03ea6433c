/*
 * fuzz_segment — the bm25 segment reader (src/bm25/bm25_seg.c, bm25_search.c,
 * bm25_merge.c) on corrupted segments.
 *
 * Random bytes almost never get past the container's magic and CRC checks, so the input is
 * not the file itself: a valid segment is built once (140 small documents, so one term spans
 * two postings blocks, with labels, keys and mtimes), and the input is a list of patches
 *   byte 0        mode: 0xFF = leave the CRCs as patched (exercises the container checks);
 *                 anything else = recompute every section CRC, the table CRC and the header
 *                 CRC after patching, so mutations reach the bm25 validation behind them
 *   then 3 bytes  per patch: u16 little-endian offset (mod file size), new byte value
 * The patched bytes are written to a temp file (tmpfs when there is one), then:
 * cn_bm25_seg_open; if it opens, every accessor over every document and label, the deep
 * cn_bm25_seg_verify, block-max WAND and exhaustive searches (with and without a filter and
 * a deletion bitmap) and a merge into a second file. The engine searches and merges
 * segments that were opened but never verified, so those paths must be safe on any segment
 * open() accepts. Checks beyond "no crash, leak or UB":
 *  - failures carry a message; open failing with anything but ECORRUPT/EUNSUPPORTED is a bug;
 *  - on a segment that passes verify: searches succeed, WAND == exhaustive exactly (the
 *    unit tests demand the same), the merge succeeds and its output opens and verifies with
 *    the live document count;
 *  - a merge that succeeds on any input writes a segment that opens.
 * With no patches at all the pristine segment must open and verify.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bm25/bm25.h"

#define NDOCS 140

static char dir[256], seg_path[300], out_path[300];
static uint8_t *pristine;
static size_t pristine_len;
static cn_filter *filt;

static void cleanup(void)
{
	unlink(seg_path);
	unlink(out_path);
	rmdir(dir);
	cn_free(pristine);
	cn_filter_free(filt);
}

static void die(const char *what, const cn_err *err)
{
	fprintf(stderr, "fuzz_segment init: %s: %s\n", what, err ? err->msg : "");
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

static void init(void)
{
	if (pristine)
		return;
	snprintf(dir, sizeof dir, "%s/cairn-fuzzseg-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	snprintf(seg_path, sizeof seg_path, "%s/seg", dir);
	snprintf(out_path, sizeof out_path, "%s/merged", dir);
	atexit(cleanup);

	cn_err err;
	cn_err_clear(&err);
	cn_analyzer *a;
	cn_analyzer_params ap = cn_analyzer_default_params();
	if (cn_analyzer_new(&ap, &a, &err))
		die("analyzer", &err);
	cn_bm25_builder *b;
	if (cn_bm25_builder_new(&b))
		die("builder", NULL);
	cn_tokens t;
	cn_tokens_init(&t);
	for (int i = 0; i < NDOCS; i++) {
		char text[256], key[32];
		snprintf(text, sizeof text, "common words in document u%d %s %s %s", i, i % 3 ? "" : "alpha",
		         i % 5 ? "" : "beta beta beta", i % 7 ? "" : "gamma delta common");
		snprintf(key, sizeof key, "doc-%d", i / 2);
		const char *labs[4];
		size_t nl = 0;
		labs[nl++] = i % 2 ? "tag:team=ops" : "tag:team=eng";
		if (i % 4 == 0)
			labs[nl++] = "group:eng";
		labs[nl++] = "format:markdown";
		cn_tokens_reset(&t);
		if (cn_analyze(a, text, strlen(text), 0, &t))
			die("analyze", NULL);
		cn_bm25_doc d = {.chunk_id = 100 + (uint64_t)i, .doc_key = key, .mtime = 1700000000 + i,
		                 .labels = labs, .n_labels = nl};
		if (cn_bm25_builder_add(b, &d, &t))
			die("builder add", NULL);
	}
	cn_tokens_free(&t);
	cn_analyzer_free(a);
	uint64_t bytes;
	if (cn_bm25_builder_write(b, seg_path, &bytes, &err))
		die("builder write", &err);
	cn_bm25_builder_free(b);
	char *data;
	size_t len;
	if (cn_file_read(seg_path, 1u << 20, &data, &len, &err))
		die("read back", &err);
	pristine = (uint8_t *)data;
	pristine_len = len;
	const char *dump = getenv("FUZZ_SEGMENT_DUMP"); /* for writing patch seeds by hand */
	if (dump && write_file(dump, pristine, pristine_len) != 0)
		die("dump", NULL);
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

/* Recomputes the container checksums wherever the (patched) table still points inside. */
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

static void search(cn_bm25_view *v, bool verified)
{
	static const char *const words[] = {"common", "alpha", "beta", "u7", "gamma", "zzz", "document"};
	cn_bm25_qterm q[7];
	for (int i = 0; i < 7; i++)
		q[i] = (cn_bm25_qterm){.term = words[i], .len = (uint32_t)strlen(words[i]), .weight = i == 2 ? 2.0f : 1.0f};
	static const size_t qs[][2] = {{0, 1}, {1, 3}, {0, 7}, {5, 1}};
	for (int f = 0; f < 2; f++)
		for (size_t qi = 0; qi < 4; qi++) {
			cn_bm25_hit fast[10], slow[10];
			size_t nf = 0, ns = 0;
			int64_t m = 0;
			cn_err e1, e2;
			cn_err_clear(&e1);
			cn_err_clear(&e2);
			cn_bm25_params p = {.k1 = 0.9f, .b = 0.4f, .k = 10, .exhaustive = false, .filter = f ? filt : NULL};
			cairn_status s1 = cn_bm25_search(v, 1, q + qs[qi][0], qs[qi][1], &p, fast, &nf, &m, &e1);
			p.exhaustive = true;
			cairn_status s2 = cn_bm25_search(v, 1, q + qs[qi][0], qs[qi][1], &p, slow, &ns, &m, &e2);
			if (s1)
				FUZZ_CHECK(e1.msg[0], "search failed without a message");
			if (s2)
				FUZZ_CHECK(e2.msg[0], "search failed without a message");
			uint32_t nd = cn_bm25_seg_ndocs(v->seg);
			for (size_t i = 0; !s1 && i < nf; i++)
				FUZZ_CHECK(fast[i].seg == 0 && fast[i].docnum < nd, "hit %zu: doc %u of %u", i, fast[i].docnum, nd);
			for (size_t i = 0; !s2 && i < ns; i++)
				FUZZ_CHECK(slow[i].seg == 0 && slow[i].docnum < nd, "hit %zu: doc %u of %u", i, slow[i].docnum, nd);
			if (!verified)
				continue;
			FUZZ_CHECK(s1 == CAIRN_OK && s2 == CAIRN_OK, "search failed on a verified segment: %s%s", e1.msg,
			           e2.msg);
			FUZZ_CHECK(nf == ns, "wand %zu hits, exhaustive %zu", nf, ns);
			for (size_t i = 0; i < nf; i++)
				FUZZ_CHECK(fast[i].docnum == slow[i].docnum && fast[i].score == slow[i].score,
				           "rank %zu: wand (%u, %.9g) exhaustive (%u, %.9g)", i, fast[i].docnum,
				           (double)fast[i].score, slow[i].docnum, (double)slow[i].score);
		}
}

static void exercise(cn_bm25_seg *s)
{
	cn_err err;
	cn_err_clear(&err);
	uint32_t nd = cn_bm25_seg_ndocs(s), nl = cn_bm25_seg_nlabels(s);
	(void)cn_bm25_seg_nterms(s);
	(void)cn_bm25_seg_total_len(s);
	(void)cn_bm25_seg_bytes(s);
	for (uint32_t d = 0; d < nd; d++) {
		uint32_t kl;
		const char *k = cn_bm25_seg_doc_key(s, d, &kl);
		if (k && kl)
			(void)memchr(k, 0, kl); /* touch every byte */
		(void)cn_bm25_seg_chunk_id(s, d);
		(void)cn_bm25_seg_mtime(s, d);
		size_t n;
		const uint32_t *ids = cn_bm25_seg_doc_labels(s, d, &n);
		for (size_t j = 0; ids && j < n; j++)
			FUZZ_CHECK(ids[j] < nl, "doc %u: label id %u of %u", d, ids[j], nl);
	}
	for (uint32_t i = 0; i < nl; i++) {
		uint32_t ll;
		const char *l = cn_bm25_seg_label(s, i, &ll);
		if (l && ll)
			(void)memchr(l, 0, ll);
	}
	cairn_status vs = cn_bm25_seg_verify(s, &err);
	if (vs)
		FUZZ_CHECK(err.msg[0], "verify failed without a message");
	bool verified = vs == CAIRN_OK;

	cn_bm25_view v = {.seg = s, .deleted = NULL};
	search(&v, verified);
	uint8_t del[(NDOCS + 7) / 8 + 64];
	size_t nbytes = ((size_t)nd + 7) / 8;
	if (nbytes <= sizeof del) {
		memset(del, 0, sizeof del);
		for (uint32_t d = 0; d < nd; d += 3)
			del[d / 8] |= (uint8_t)(1u << (d % 8));
		v.deleted = del;
		search(&v, verified);
	}

	/* merge (with the deletions when they fit) into a second file */
	uint64_t bytes = 0;
	uint32_t mdocs = 0;
	cn_err_clear(&err);
	cairn_status ms = cn_bm25_merge(&v, 1, out_path, &bytes, &mdocs, &err);
	if (verified)
		FUZZ_CHECK(ms == CAIRN_OK, "merge of a verified segment failed: %s", err.msg);
	if (ms == CAIRN_OK) {
		uint32_t live = 0;
		for (uint32_t d = 0; d < nd; d++)
			live += !(v.deleted && (v.deleted[d / 8] >> (d % 8) & 1));
		FUZZ_CHECK(mdocs == live, "merge kept %u documents of %u live", mdocs, live);
		cn_bm25_seg *m = NULL;
		cn_err_clear(&err);
		cairn_status os = cn_bm25_seg_open(out_path, &m, &err);
		FUZZ_CHECK(os == CAIRN_OK, "merge output does not open: %s", err.msg);
		cn_err_clear(&err);
		cairn_status mv = cn_bm25_seg_verify(m, &err);
		if (verified)
			FUZZ_CHECK(mv == CAIRN_OK, "merge output of a verified segment fails verify: %s", err.msg);
		FUZZ_CHECK(cn_bm25_seg_ndocs(m) == mdocs, "merged segment has %u docs, merge said %u",
		           cn_bm25_seg_ndocs(m), mdocs);
		cn_bm25_seg_close(m);
		unlink(out_path);
	} else {
		FUZZ_CHECK(err.msg[0], "merge failed without a message");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size > 3 * 512 + 1)
		return 0;
	uint8_t *d = malloc(pristine_len);
	if (!d)
		return 0;
	memcpy(d, pristine, pristine_len);
	for (size_t i = 1; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % pristine_len;
		d[off] = data[i + 2];
	}
	if (size == 0 || data[0] != 0xFF)
		fix_crcs(d, pristine_len);
	bool pristine_input = memcmp(d, pristine, pristine_len) == 0;
	if (write_file(seg_path, d, pristine_len) != 0) {
		free(d);
		return 0;
	}
	free(d);
	cn_err err;
	cn_err_clear(&err);
	cn_bm25_seg *s = NULL;
	cairn_status st = cn_bm25_seg_open(seg_path, &s, &err);
	if (pristine_input)
		FUZZ_CHECK(st == CAIRN_OK, "the unpatched segment does not open: %s", err.msg);
	if (st != CAIRN_OK) {
		FUZZ_CHECK(s == NULL, "failed open returned a segment");
		FUZZ_CHECK(st == CAIRN_ECORRUPT || st == CAIRN_EUNSUPPORTED, "open status %d: %s", (int)st, err.msg);
		FUZZ_CHECK(err.msg[0], "open failed without a message");
		return 0;
	}
	if (pristine_input) {
		cn_err_clear(&err);
		FUZZ_CHECK(cn_bm25_seg_verify(s, &err) == CAIRN_OK, "the unpatched segment fails verify: %s", err.msg);
	}
	exercise(s);
	cn_bm25_seg_close(s);
	return 0;
}
