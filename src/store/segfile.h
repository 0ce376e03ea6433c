/*
 * segfile — the container format of every immutable index segment (bm25 today, vectors
 * later). Owned by the store module; index modules put their bytes in numbered sections.
 *
 * On disk (little-endian):
 *
 *   offset 0   header, 64 bytes
 *              u8[8]  magic "CAIRNSEG"
 *              u32    container version (1)
 *              u32    kind (CN_SEG_KIND_*)
 *              u32    kind-specific format version
 *              u32    section count n (≤ 64)
 *              u64    table offset
 *              u64    file length (the whole file, checked on open)
 *              u8[20] reserved, zero
 *              u32    CRC32C of header bytes 0..59
 *   …          sections, each starting at a 64-byte boundary, zero padding between
 *   table      n × { u32 id, u32 crc32c(section), u64 offset, u64 length } then u32 CRC32C
 *              of the table entries
 *
 * A writer streams sections to "<name>.tmp", writes the table, then the header, fsyncs,
 * renames to the final name and fsyncs the directory. A reader maps the file and checks
 * magic, versions, every offset and length against the file size, and every CRC before any
 * section is handed out, so index code downstream may trust section boundaries (it must
 * still check its own internal offsets against the section length).
 */
#ifndef CAIRN_SEGFILE_H
#define CAIRN_SEGFILE_H

#include "base/base.h"

enum { CN_SEG_KIND_BM25 = 1, CN_SEG_KIND_VEC = 2 };
#define CN_SEG_MAX_SECTIONS 64

typedef struct cn_segw cn_segw;

/* Starts writing final_path (through final_path + ".tmp"). */
cairn_status cn_segw_open(const char *final_path, uint32_t kind, uint32_t kind_version, cn_segw **out,
                          cn_err *err);
/* Appends one whole section. ids are unique small integers chosen by the index module. */
cairn_status cn_segw_section(cn_segw *w, uint32_t id, const void *data, size_t len, cn_err *err);
/* Streaming form: begin, append any number of times, end. */
cairn_status cn_segw_begin(cn_segw *w, uint32_t id, cn_err *err);
cairn_status cn_segw_append(cn_segw *w, const void *data, size_t len, cn_err *err);
cairn_status cn_segw_end(cn_segw *w, cn_err *err);
/* Writes table and header, fsyncs, renames, fsyncs the directory; frees w either way.
 * *bytes (may be NULL) gets the file size. */
cairn_status cn_segw_finish(cn_segw *w, uint64_t *bytes, cn_err *err);
/* Abandons the file (removes the temporary); frees w. */
void cn_segw_abort(cn_segw *w);

typedef struct cn_segr cn_segr;

cairn_status cn_segr_open(const char *path, uint32_t kind, cn_segr **out, cn_err *err);
void cn_segr_close(cn_segr *r);
uint32_t cn_segr_kind_version(const cn_segr *r);
uint64_t cn_segr_bytes(const cn_segr *r);
const char *cn_segr_path(const cn_segr *r);
/* data and len get the section; CAIRN_ENOTFOUND (with err set) when absent. Sections start
 * 64-byte aligned in memory. */
cairn_status cn_segr_section(const cn_segr *r, uint32_t id, const uint8_t **data, size_t *len, cn_err *err);

#endif
