/* String → dense id map. Linear probing over a power-of-two slot array; each 8-byte slot
 * holds the upper 32 bits of the key's hash beside id+1, so a probe rejects mismatches
 * without touching any other array (one cache miss per lookup in the common case). The full
 * hash is also kept by id so growth never rehashes strings. */
#include "base.h"

#include <string.h>

void cn_strmap_init(cn_strmap *m)
{
	memset(m, 0, sizeof *m);
	cn_arena_init(&m->arena, 256 * 1024);
}

void cn_strmap_free(cn_strmap *m)
{
	cn_free(m->slots);
	cn_free(m->hashes);
	cn_free(m->keys);
	cn_free(m->klens);
	cn_arena_free(&m->arena);
	memset(m, 0, sizeof *m);
}

uint32_t cn_strmap_get(const cn_strmap *m, const char *key, size_t len)
{
	if (!m->nslots)
		return UINT32_MAX;
	uint64_t h = cn_hash64(key, len, 0);
	uint64_t tag = h & 0xFFFFFFFF00000000ull;
	size_t mask = m->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint64_t s = m->slots[i];
		if (!s)
			return UINT32_MAX;
		if ((s & 0xFFFFFFFF00000000ull) != tag)
			continue;
		uint32_t id = (uint32_t)s - 1;
		if (m->klens[id] == len && memcmp(m->keys[id], key, len) == 0)
			return id;
	}
}

static cairn_status rehash(cn_strmap *m, size_t nslots)
{
	uint64_t *slots = cn_calloc(nslots, sizeof *slots);
	if (!slots)
		return CAIRN_ENOMEM;
	size_t mask = nslots - 1;
	for (size_t id = 0; id < m->count; id++) {
		size_t i = m->hashes[id] & mask;
		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = (m->hashes[id] & 0xFFFFFFFF00000000ull) | ((uint64_t)id + 1);
	}
	cn_free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	return CAIRN_OK;
}

cairn_status cn_strmap_put(cn_strmap *m, const char *key, size_t len, uint32_t *id, bool *added)
{
	if (added)
		*added = false;
	if (len > UINT32_MAX)
		return CAIRN_EINVAL;
	/* Keep the load factor under 1/2. */
	if ((m->count + 1) * 2 > m->nslots) {
		cairn_status st = rehash(m, m->nslots ? m->nslots * 2 : 64);
		if (st)
			return st;
	}
	uint64_t h = cn_hash64(key, len, 0);
	uint64_t tag = h & 0xFFFFFFFF00000000ull;
	size_t mask = m->nslots - 1;
	size_t i = h & mask;
	for (;; i = (i + 1) & mask) {
		uint64_t s = m->slots[i];
		if (!s)
			break;
		if ((s & 0xFFFFFFFF00000000ull) != tag)
			continue;
		uint32_t e = (uint32_t)s - 1;
		if (m->klens[e] == len && memcmp(m->keys[e], key, len) == 0) {
			*id = e;
			return CAIRN_OK;
		}
	}
	if (m->count >= UINT32_MAX - 1)
		return CAIRN_ETOOBIG;
	if (m->count == m->kcap) {
		size_t ncap = m->kcap ? m->kcap * 2 : 64;
		const char **keys = cn_realloc(m->keys, ncap * sizeof *keys);
		if (!keys)
			return CAIRN_ENOMEM;
		m->keys = keys;
		uint32_t *klens = cn_realloc(m->klens, ncap * sizeof *klens);
		if (!klens)
			return CAIRN_ENOMEM;
		m->klens = klens;
		uint64_t *hashes = cn_realloc(m->hashes, ncap * sizeof *hashes);
		if (!hashes)
			return CAIRN_ENOMEM;
		m->hashes = hashes;
		m->kcap = ncap;
	}
	char *copy = cn_arena_strndup(&m->arena, key, len);
	if (!copy)
		return CAIRN_ENOMEM;
	uint32_t nid = (uint32_t)m->count++;
	m->keys[nid] = copy;
	m->klens[nid] = (uint32_t)len;
	m->hashes[nid] = h;
	m->slots[i] = tag | ((uint64_t)nid + 1);
	*id = nid;
	if (added)
		*added = true;
	return CAIRN_OK;
}
