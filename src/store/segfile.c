/* Segment container: see segfile.h for the byte layout and the crash-safety argument. */

#include "store/segfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define SEG_MAGIC "CAIRNSEG"
#define SEG_VERSION 1u
#define SEG_HEADER 64u
#define SEG_ALIGN 64u

typedef struct seg_entry {
	uint32_t id, crc;
	uint64_t off, len;
} seg_entry;

#define SEGW_BUFFER (1u << 20)

struct cn_segw {
	int fd;
	uint8_t *buf; /* writes are gathered here: index writers append many small pieces */
	size_t nbuf;
	char *final_path;
	char *tmp_path;
	uint32_t kind, kind_version;
	uint64_t pos;
	seg_entry sections[CN_SEG_MAX_SECTIONS];
	uint32_t nsections;
	bool in_section;
};

static cairn_status write_fd(cn_segw *w, const void *data, size_t len, cn_err *err)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cn_err_set(err, CAIRN_EIO, "%s: write failed: %s", w->tmp_path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return CAIRN_OK;
}

static cairn_status flush_buf(cn_segw *w, cn_err *err)
{
	cairn_status st = w->nbuf ? write_fd(w, w->buf, w->nbuf, err) : CAIRN_OK;
	w->nbuf = 0;
	return st;
}

/* Appends to the file through the buffer; w->pos counts bytes appended. */
static cairn_status write_all(cn_segw *w, const void *data, size_t len, cn_err *err)
{
	if (len == 0)
		return CAIRN_OK; /* empty sections pass data = NULL */
	w->pos += len;
	if (w->nbuf + len <= SEGW_BUFFER) {
		memcpy(w->buf + w->nbuf, data, len);
		w->nbuf += len;
		return CAIRN_OK;
	}
	cairn_status st = flush_buf(w, err);
	if (st)
		return st;
	if (len >= SEGW_BUFFER)
		return write_fd(w, data, len, err);
	memcpy(w->buf, data, len);
	w->nbuf = len;
	return CAIRN_OK;
}

static cairn_status pad_to(cn_segw *w, uint64_t align, cn_err *err)
{
	static const uint8_t zeros[SEG_ALIGN];
	uint64_t rem = w->pos % align;
	return rem ? write_all(w, zeros, (size_t)(align - rem), err) : CAIRN_OK;
}

cairn_status cn_segw_open(const char *final_path, uint32_t kind, uint32_t kind_version, cn_segw **out,
                          cn_err *err)
{
	*out = NULL;
	cn_segw *w = cn_calloc(1, sizeof *w);
	if (!w)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", final_path);
	w->fd = -1;
	w->final_path = cn_strdup(final_path);
	size_t n = strlen(final_path) + 8;
	w->tmp_path = cn_malloc(n);
	w->buf = cn_malloc(SEGW_BUFFER);
	if (!w->final_path || !w->tmp_path || !w->buf) {
		cn_segw_abort(w);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", final_path);
	}
	snprintf(w->tmp_path, n, "%s.tmp", final_path);
	w->kind = kind;
	w->kind_version = kind_version;
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		cairn_status st = cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", w->tmp_path, strerror(errno));
		cn_free(w->tmp_path);
		w->tmp_path = NULL; /* nothing to unlink */
		cn_segw_abort(w);
		return st;
	}
	uint8_t header[SEG_HEADER] = {0};
	cairn_status st = write_all(w, header, sizeof header, err); /* real header written at finish */
	if (st) {
		cn_segw_abort(w);
		return st;
	}
	*out = w;
	return CAIRN_OK;
}

cairn_status cn_segw_begin(cn_segw *w, uint32_t id, cn_err *err)
{
	if (w->in_section || w->nsections >= CN_SEG_MAX_SECTIONS)
		return cn_err_set(err, CAIRN_EINTERNAL, "%s: too many sections or nested section", w->tmp_path);
	for (uint32_t i = 0; i < w->nsections; i++)
		if (w->sections[i].id == id)
			return cn_err_set(err, CAIRN_EINTERNAL, "%s: duplicate section %u", w->tmp_path, id);
	cairn_status st = pad_to(w, SEG_ALIGN, err);
	if (st)
		return st;
	seg_entry *e = &w->sections[w->nsections];
	e->id = id;
	e->crc = 0;
	e->off = w->pos;
	e->len = 0;
	w->in_section = true;
	return CAIRN_OK;
}

cairn_status cn_segw_append(cn_segw *w, const void *data, size_t len, cn_err *err)
{
	if (!w->in_section)
		return cn_err_set(err, CAIRN_EINTERNAL, "%s: append outside a section", w->tmp_path);
	seg_entry *e = &w->sections[w->nsections];
	e->crc = cn_crc32c(e->crc, data, len);
	e->len += len;
	return write_all(w, data, len, err);
}

cairn_status cn_segw_end(cn_segw *w, cn_err *err)
{
	if (!w->in_section)
		return cn_err_set(err, CAIRN_EINTERNAL, "%s: end outside a section", w->tmp_path);
	w->in_section = false;
	w->nsections++;
	return CAIRN_OK;
}

cairn_status cn_segw_section(cn_segw *w, uint32_t id, const void *data, size_t len, cn_err *err)
{
	cairn_status st = cn_segw_begin(w, id, err);
	if (!st)
		st = cn_segw_append(w, data, len, err);
	if (!st)
		st = cn_segw_end(w, err);
	return st;
}

cairn_status cn_segw_finish(cn_segw *w, uint64_t *bytes, cn_err *err)
{
	cairn_status st = w->in_section ? cn_err_set(err, CAIRN_EINTERNAL, "%s: unfinished section", w->tmp_path)
	                                : pad_to(w, 8, err);
	uint64_t table_off = w->pos;
	if (!st) {
		uint8_t t[CN_SEG_MAX_SECTIONS * 24 + 4];
		size_t n = 0;
		for (uint32_t i = 0; i < w->nsections; i++) {
			cn_store_u32le(t + n, w->sections[i].id);
			cn_store_u32le(t + n + 4, w->sections[i].crc);
			cn_store_u64le(t + n + 8, w->sections[i].off);
			cn_store_u64le(t + n + 16, w->sections[i].len);
			n += 24;
		}
		cn_store_u32le(t + n, cn_crc32c(0, t, n));
		n += 4;
		st = write_all(w, t, n, err);
	}
	if (!st)
		st = flush_buf(w, err);
	if (!st) {
		uint8_t h[SEG_HEADER] = {0};
		memcpy(h, SEG_MAGIC, 8);
		cn_store_u32le(h + 8, SEG_VERSION);
		cn_store_u32le(h + 12, w->kind);
		cn_store_u32le(h + 16, w->kind_version);
		cn_store_u32le(h + 20, w->nsections);
		cn_store_u64le(h + 24, table_off);
		cn_store_u64le(h + 32, w->pos);
		cn_store_u32le(h + 60, cn_crc32c(0, h, 60));
		if (pwrite(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h)
			st = cn_err_set(err, CAIRN_EIO, "%s: header write failed: %s", w->tmp_path, strerror(errno));
	}
	if (!st && fsync(w->fd) != 0)
		st = cn_err_set(err, CAIRN_EIO, "%s: fsync failed: %s", w->tmp_path, strerror(errno));
	if (!st) {
		int rc = close(w->fd);
		w->fd = -1;
		if (rc != 0)
			st = cn_err_set(err, CAIRN_EIO, "%s: close failed: %s", w->tmp_path, strerror(errno));
	}
	if (!st && rename(w->tmp_path, w->final_path) != 0)
		st = cn_err_set(err, CAIRN_EIO, "%s: rename failed: %s", w->final_path, strerror(errno));
	if (!st) {
		char dir[PATH_MAX];
		const char *slash = strrchr(w->final_path, '/');
		if (slash)
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - w->final_path), w->final_path);
		else
			snprintf(dir, sizeof dir, ".");
		st = cn_fsync_dir(dir, err);
		if (bytes)
			*bytes = w->pos;
		cn_free(w->tmp_path);
		w->tmp_path = NULL; /* renamed: nothing to remove */
	}
	cn_segw_abort(w);
	return st;
}

void cn_segw_abort(cn_segw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	cn_free(w->tmp_path);
	cn_free(w->final_path);
	cn_free(w->buf);
	cn_free(w);
}

struct cn_segr {
	cn_map map;
	char *path;
	uint32_t kind_version;
	uint32_t nsections;
	seg_entry sections[CN_SEG_MAX_SECTIONS];
};

cairn_status cn_segr_open(const char *path, uint32_t kind, cn_segr **out, cn_err *err)
{
	*out = NULL;
	cn_segr *r = cn_calloc(1, sizeof *r);
	if (!r || !(r->path = cn_strdup(path))) {
		cn_free(r);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory", path);
	}
	cairn_status st = cn_map_open(path, &r->map, err);
	if (st)
		goto fail;
	const uint8_t *d = r->map.data;
	size_t len = r->map.len;
	if (len < SEG_HEADER || memcmp(d, SEG_MAGIC, 8) != 0) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: not a cairn segment (bad magic or truncated)", path);
		goto fail;
	}
	if (cn_load_u32le(d + 60) != cn_crc32c(0, d, 60)) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: segment header checksum mismatch", path);
		goto fail;
	}
	if (cn_load_u32le(d + 8) != SEG_VERSION) {
		st = cn_err_set(err, CAIRN_EUNSUPPORTED, "%s: segment container version %u not supported", path,
		                cn_load_u32le(d + 8));
		goto fail;
	}
	if (cn_load_u32le(d + 12) != kind) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: segment kind %u, expected %u", path, cn_load_u32le(d + 12),
		                kind);
		goto fail;
	}
	r->kind_version = cn_load_u32le(d + 16);
	r->nsections = cn_load_u32le(d + 20);
	uint64_t table_off = cn_load_u64le(d + 24);
	uint64_t file_len = cn_load_u64le(d + 32);
	if (file_len != len) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: segment is %zu bytes, header says %llu (truncated?)", path,
		                len, (unsigned long long)file_len);
		goto fail;
	}
	if (r->nsections > CN_SEG_MAX_SECTIONS || table_off < SEG_HEADER || table_off > len ||
	    len - table_off != (uint64_t)r->nsections * 24 + 4) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: bad section table", path);
		goto fail;
	}
	const uint8_t *t = d + table_off;
	if (cn_load_u32le(t + r->nsections * 24) != cn_crc32c(0, t, r->nsections * 24)) {
		st = cn_err_set(err, CAIRN_ECORRUPT, "%s: section table checksum mismatch", path);
		goto fail;
	}
	for (uint32_t i = 0; i < r->nsections; i++) {
		seg_entry *e = &r->sections[i];
		e->id = cn_load_u32le(t + i * 24);
		e->crc = cn_load_u32le(t + i * 24 + 4);
		e->off = cn_load_u64le(t + i * 24 + 8);
		e->len = cn_load_u64le(t + i * 24 + 16);
		if (e->off < SEG_HEADER || e->off % SEG_ALIGN || e->off > table_off || e->len > table_off - e->off) {
			st = cn_err_set(err, CAIRN_ECORRUPT, "%s: section %u lies outside the file", path, e->id);
			goto fail;
		}
		if (cn_crc32c(0, d + e->off, e->len) != e->crc) {
			st = cn_err_set(err, CAIRN_ECORRUPT, "%s: section %u checksum mismatch", path, e->id);
			goto fail;
		}
	}
	*out = r;
	return CAIRN_OK;
fail:
	cn_segr_close(r);
	return st;
}

void cn_segr_close(cn_segr *r)
{
	if (!r)
		return;
	cn_map_close(&r->map);
	cn_free(r->path);
	cn_free(r);
}

uint32_t cn_segr_kind_version(const cn_segr *r) { return r->kind_version; }
uint64_t cn_segr_bytes(const cn_segr *r) { return r->map.len; }
const char *cn_segr_path(const cn_segr *r) { return r->path; }

cairn_status cn_segr_section(const cn_segr *r, uint32_t id, const uint8_t **data, size_t *len, cn_err *err)
{
	for (uint32_t i = 0; i < r->nsections; i++) {
		if (r->sections[i].id == id) {
			*data = r->map.data + r->sections[i].off;
			*len = (size_t)r->sections[i].len;
			return CAIRN_OK;
		}
	}
	*data = NULL;
	*len = 0;
	return cn_err_set(err, CAIRN_ECORRUPT, "%s: missing section %u", r->path, id);
}
