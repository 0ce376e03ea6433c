/*
 * principal — who may see what: principals (name, groups, permissions), their API keys, and
 * the knowledge base's ACL mode, kept in the catalog (tables principals, principal_groups,
 * api_keys; meta acl_mode).
 *
 * Design:
 *  - Enforcement is not here: a principal resolves to a list of groups, which callers put
 *    in cairn_search_params / cairn_ask_params, and the filter applies them inside the
 *    index walk of every retrieval path (filter.c). This file only stores and resolves.
 *    Admins resolve to "no restriction" (groups NULL) — the one way to see everything.
 *  - API keys are 32 random bytes, shown once as "ck_" + 12-character public id + secret.
 *    The catalog keeps the id and BLAKE2b(key) only; a lookup hashes the presented key and
 *    compares the stored hash with sodium_memcmp (constant time), so neither a catalog leak
 *    nor response timing reveals usable keys.
 *  - Each change is its own small catalog transaction (the writer LOCK is held for
 *    milliseconds); it is refused while this handle has an ingest open, so an access change
 *    never rides along, uncommitted, with half an ingest.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

#define NAME_MAX_LEN 128
#define KEY_ID_LEN 12     /* public part after "ck_" */
#define KEY_SECRET_LEN 43 /* base64url of 32 bytes, no padding */

static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == ',')
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	unsigned bit;
} PERMS[] = {
	{"admin", CAIRN_PERM_ADMIN},
	{"rehydrate", CAIRN_PERM_REHYDRATE},
	{"audit", CAIRN_PERM_AUDIT},
};

cairn_status cairn_perms_parse(const char *list, unsigned *perms)
{
	*perms = 0;
	if (!list)
		return CAIRN_OK;
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool found = n == 0;
		for (size_t i = 0; !found && i < sizeof PERMS / sizeof PERMS[0]; i++) {
			if (strlen(PERMS[i].name) == n && memcmp(PERMS[i].name, p, n) == 0) {
				*perms |= PERMS[i].bit;
				found = true;
			}
		}
		if (!found)
			return CAIRN_EINVAL;
		p += n + (e != NULL);
	}
	return CAIRN_OK;
}

void cairn_perms_format(unsigned perms, char *buf, size_t size)
{
	if (!size)
		return;
	buf[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < sizeof PERMS / sizeof PERMS[0]; i++) {
		if (!(perms & PERMS[i].bit))
			continue;
		int w = snprintf(buf + used, size - used, "%s%s", used ? "," : "", PERMS[i].name);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
	}
}

void cairn_principal_free(cairn_principal *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_groups; i++)
		cn_free(p->groups[i]);
	cn_free(p->groups);
	cn_free(p->name);
	cn_free(p);
}

/* Opens a catalog transaction for an access-control change (mu held). */
static cairn_status acl_begin(cairn_kb *kb, cn_err *err)
{
	if (kb->read_only)
		return cn_err_set(err, CAIRN_EINVAL, "%s: knowledge base opened read-only", cn_store_dir(kb->store));
	if (kb->w.active)
		return cn_err_set(err, CAIRN_EBUSY, "%s: commit the open ingest before changing access control",
		                  cn_store_dir(kb->store));
	return cn_store_begin(kb->store, err);
}

static cairn_status acl_end(cairn_kb *kb, cairn_status st, cn_err *err)
{
	if (!st)
		return cn_store_commit(kb->store, err);
	cn_store_rollback(kb->store);
	return st;
}

static cairn_status step_done(cairn_kb *kb, sqlite3_stmt *q, cn_err *err, const char *what)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? CAIRN_OK : cn_store_sqlerr(kb->store, err, what);
}

cairn_status cairn_principal_set(cairn_kb *kb, const char *name, const char *const *groups, size_t n_groups,
                                 unsigned perms)
{
	cn_err err = {0};
	if (!valid_name(name))
		return cn_err_set(&kb->err, CAIRN_EINVAL, "principal name \"%s\": want 1-%d printable characters without "
		                  "spaces or commas", name ? name : "", NAME_MAX_LEN),
		       kb_fail(kb, &kb->err);
	for (size_t i = 0; i < n_groups; i++)
		if (!valid_name(groups[i])) {
			cn_err_set(&err, CAIRN_EINVAL, "principal %s: group \"%s\": want 1-%d printable characters "
			           "without spaces or commas", name, groups[i] ? groups[i] : "", NAME_MAX_LEN);
			return kb_fail(kb, &err);
		}
	if (perms & ~(unsigned)(CAIRN_PERM_ADMIN | CAIRN_PERM_REHYDRATE | CAIRN_PERM_AUDIT)) {
		cn_err_set(&err, CAIRN_EINVAL, "principal %s: unknown permission bits 0x%x", name, perms);
		return kb_fail(kb, &err);
	}
	pthread_mutex_lock(&kb->mu);
	cairn_status st = acl_begin(kb, &err);
	if (!st) {
		sqlite3_stmt *q;
		st = cn_store_prepare(kb->store, "INSERT INTO principals(name, perms, created_at) VALUES(?1, ?2, ?3) "
		                      "ON CONFLICT(name) DO UPDATE SET perms = excluded.perms", &q, &err);
		if (!st) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, perms);
			sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
			st = step_done(kb, q, &err, "set principal");
		}
		if (!st)
			st = cn_store_prepare(kb->store, "DELETE FROM principal_groups WHERE name = ?1", &q, &err);
		if (!st) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			st = step_done(kb, q, &err, "set principal groups");
		}
		for (size_t i = 0; !st && i < n_groups; i++) {
			st = cn_store_prepare(kb->store, "INSERT OR IGNORE INTO principal_groups(name, grp) VALUES(?1, ?2)",
			                      &q, &err);
			if (!st) {
				sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
				sqlite3_bind_text(q, 2, groups[i], -1, SQLITE_STATIC);
				st = step_done(kb, q, &err, "set principal groups");
			}
		}
		st = acl_end(kb, st, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* Reads one principal (mu held). */
static cairn_status load_principal(cairn_kb *kb, const char *name, cairn_principal **out, cn_err *err)
{
	*out = NULL;
	sqlite3_stmt *q;
	cairn_status st = cn_store_prepare(kb->store, "SELECT perms FROM principals WHERE name = ?1", &q, err);
	if (st)
		return st;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return rc == SQLITE_DONE ? cn_err_set(err, CAIRN_ENOTFOUND, "no principal named \"%s\"", name)
		                         : cn_store_sqlerr(kb->store, err, "read principal");
	}
	cairn_principal *p = cn_calloc(1, sizeof *p);
	if (!p || !(p->name = cn_strdup(name))) {
		sqlite3_reset(q);
		cn_free(p);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	p->perms = (unsigned)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	/* its rate limit, when it has one (a catalog opened read-only before the table existed
	 * has none: no limit of its own) */
	if (!cn_store_prepare(kb->store, "SELECT rate, burst FROM principal_limits WHERE name = ?1", &q, err)) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW) {
			p->rate = sqlite3_column_double(q, 0);
			p->burst = sqlite3_column_double(q, 1);
		}
		sqlite3_reset(q);
	} else {
		cn_err_clear(err);
	}
	st = cn_store_prepare(kb->store, "SELECT grp FROM principal_groups WHERE name = ?1 ORDER BY grp", &q, err);
	if (!st) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		size_t cap = 0;
		while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (p->n_groups == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				char **g = cn_realloc(p->groups, ncap * sizeof *g);
				if (!g) {
					st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
					break;
				}
				p->groups = g;
				cap = ncap;
			}
			if (!(p->groups[p->n_groups] = cn_strdup((const char *)sqlite3_column_text(q, 0))))
				st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
			else
				p->n_groups++;
		}
		if (!st && rc != SQLITE_DONE)
			st = cn_store_sqlerr(kb->store, err, "read principal groups");
		sqlite3_reset(q);
	}
	if (st) {
		cairn_principal_free(p);
		return st;
	}
	*out = p;
	return CAIRN_OK;
}

cairn_status cairn_principal_get(cairn_kb *kb, const char *name, cairn_principal **out)
{
	cn_err err = {0};
	*out = NULL;
	if (!name)
		return cn_err_set(&err, CAIRN_EINVAL, "principal name is NULL"), kb_fail(kb, &err);
	pthread_mutex_lock(&kb->mu);
	cairn_status st = load_principal(kb, name, out, &err);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

cairn_status cairn_principal_set_rate(cairn_kb *kb, const char *name, double rate, double burst)
{
	cn_err err = {0};
	if (!name || !(rate >= 0 && rate <= 1e6) || !(burst >= 0 && burst <= 1e6))
		return cn_err_set(&err, CAIRN_EINVAL, "principal %s: rate %g/s and burst %g must be in 0..1000000",
		                  name ? name : "(null)", rate, burst),
		       kb_fail(kb, &err);
	pthread_mutex_lock(&kb->mu);
	cairn_principal *p = NULL;
	cairn_status st = load_principal(kb, name, &p, &err);
	cairn_principal_free(p);
	if (!st)
		st = acl_begin(kb, &err);
	if (!st) {
		sqlite3_stmt *q;
		st = cn_store_prepare(kb->store, "INSERT OR REPLACE INTO principal_limits(name, rate, burst) VALUES(?1, ?2, ?3)",
		                      &q, &err);
		if (!st) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_double(q, 2, rate);
			sqlite3_bind_double(q, 3, burst);
			st = step_done(kb, q, &err, "set principal rate");
		}
		st = acl_end(kb, st, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

cairn_status cairn_principal_remove(cairn_kb *kb, const char *name)
{
	cn_err err = {0};
	if (!name)
		return cn_err_set(&err, CAIRN_EINVAL, "principal name is NULL"), kb_fail(kb, &err);
	pthread_mutex_lock(&kb->mu);
	cairn_status st = acl_begin(kb, &err);
	if (!st) {
		static const char *const SQL[] = {
			"DELETE FROM principals WHERE name = ?1",
			"DELETE FROM principal_groups WHERE name = ?1",
			"DELETE FROM api_keys WHERE principal = ?1",
			"DELETE FROM principal_limits WHERE name = ?1",
		};
		for (size_t i = 0; !st && i < 4; i++) {
			sqlite3_stmt *q;
			st = cn_store_prepare(kb->store, SQL[i], &q, &err);
			if (!st) {
				sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
				st = step_done(kb, q, &err, "remove principal");
				if (!st && i == 0 && sqlite3_changes(cn_store_db(kb->store)) == 0)
					st = cn_err_set(&err, CAIRN_ENOTFOUND, "no principal named \"%s\"", name);
			}
		}
		st = acl_end(kb, st, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

cairn_status cairn_principal_list(cairn_kb *kb, cairn_principal ***out, size_t *n)
{
	cn_err err = {0};
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&kb->mu);
	sqlite3_stmt *q;
	cn_buf names = {0}; /* NUL-separated */
	size_t count = 0;
	cairn_status st = cn_store_prepare(kb->store, "SELECT name FROM principals ORDER BY name", &q, &err);
	if (!st) {
		int rc;
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			const char *s = (const char *)sqlite3_column_text(q, 0);
			cn_buf_append(&names, s, strlen(s) + 1);
			count++;
		}
		if (rc != SQLITE_DONE)
			st = cn_store_sqlerr(kb->store, &err, "list principals");
		sqlite3_reset(q);
	}
	cairn_principal **list = NULL;
	if (!st && names.failed)
		st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	if (!st && count && !(list = cn_calloc(count, sizeof *list)))
		st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
	const char *s = names.data;
	for (size_t i = 0; !st && i < count; i++) {
		st = load_principal(kb, s, &list[i], &err);
		s += strlen(s) + 1;
	}
	pthread_mutex_unlock(&kb->mu);
	cn_buf_free(&names);
	if (st) {
		for (size_t i = 0; list && i < count; i++)
			cairn_principal_free(list[i]);
		cn_free(list);
		return kb_fail(kb, &err);
	}
	*out = list;
	*n = count;
	return CAIRN_OK;
}

/* ---- API keys ---- */

static void key_hash(const char *key, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)key, strlen(key), NULL, 0);
}

cairn_status cairn_api_key_create(cairn_kb *kb, const char *principal, char **key_out)
{
	cn_err err = {0};
	*key_out = NULL;
	if (sodium_init() < 0)
		return cn_err_set(&err, CAIRN_EINTERNAL, "libsodium failed to initialise"), kb_fail(kb, &err);
	unsigned char raw[9 + 32];
	randombytes_buf(raw, sizeof raw);
	/* "ck_" + id (base64url of 9 bytes = 12 chars) + "_" + secret (43 chars). */
	char id[16], secret[48];
	sodium_bin2base64(id, sizeof id, raw, 9, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(secret, sizeof secret, raw + 9, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	size_t klen = 3 + sizeof id + 1 + sizeof secret; /* sized so the compiler can prove it fits; the key is 59 bytes */
	char *key = cn_malloc(klen);
	if (!key)
		return cn_err_set(&err, CAIRN_ENOMEM, "out of memory"), kb_fail(kb, &err);
	snprintf(key, klen, "ck_%s_%s", id, secret);
	sodium_memzero(secret, sizeof secret);
	unsigned char h[32];
	key_hash(key, h);

	pthread_mutex_lock(&kb->mu);
	cairn_principal *p = NULL;
	cairn_status st = load_principal(kb, principal ? principal : "", &p, &err);
	cairn_principal_free(p);
	if (!st)
		st = acl_begin(kb, &err);
	if (!st) {
		sqlite3_stmt *q;
		st = cn_store_prepare(kb->store, "INSERT INTO api_keys(id, principal, hash, created_at) "
		                      "VALUES(?1, ?2, ?3, ?4)", &q, &err);
		if (!st) {
			sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, principal, -1, SQLITE_STATIC);
			sqlite3_bind_blob(q, 3, h, 32, SQLITE_STATIC);
			sqlite3_bind_int64(q, 4, (int64_t)time(NULL));
			st = step_done(kb, q, &err, "store API key");
		}
		st = acl_end(kb, st, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	if (st) {
		sodium_memzero(key, klen);
		cn_free(key);
		return kb_fail(kb, &err);
	}
	*key_out = key;
	return CAIRN_OK;
}

/* The public id of a presented key, or false when it does not have the shape of one. */
static bool key_id(const char *key, char id[KEY_ID_LEN + 1])
{
	if (!key || strlen(key) != 3 + KEY_ID_LEN + 1 + KEY_SECRET_LEN || memcmp(key, "ck_", 3) != 0 ||
	    key[3 + KEY_ID_LEN] != '_')
		return false;
	memcpy(id, key + 3, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	return true;
}

cairn_status cairn_api_key_lookup(cairn_kb *kb, const char *key, cairn_principal **out)
{
	cn_err err = {0};
	*out = NULL;
	char id[KEY_ID_LEN + 1];
	unsigned char h[32];
	if (!key_id(key, id))
		return cn_err_set(&err, CAIRN_ENOTFOUND, "unknown API key"), kb_fail(kb, &err);
	key_hash(key, h);
	pthread_mutex_lock(&kb->mu);
	sqlite3_stmt *q;
	char *who = NULL;
	cairn_status st = cn_store_prepare(kb->store, "SELECT principal, hash FROM api_keys WHERE id = ?1", &q, &err);
	if (!st) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			const void *stored = sqlite3_column_blob(q, 1);
			int n = sqlite3_column_bytes(q, 1);
			if (n == 32 && sodium_memcmp(stored, h, 32) == 0 &&
			    !(who = cn_strdup((const char *)sqlite3_column_text(q, 0))))
				st = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		} else if (rc != SQLITE_DONE) {
			st = cn_store_sqlerr(kb->store, &err, "look up API key");
		}
		sqlite3_reset(q);
	}
	if (!st && !who)
		st = cn_err_set(&err, CAIRN_ENOTFOUND, "unknown API key");
	if (!st)
		st = load_principal(kb, who, out, &err);
	pthread_mutex_unlock(&kb->mu);
	cn_free(who);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

cairn_status cairn_api_key_revoke(cairn_kb *kb, const char *id_or_key)
{
	cn_err err = {0};
	char id[KEY_ID_LEN + 1];
	if (!key_id(id_or_key, id)) {
		size_t n = id_or_key ? strlen(id_or_key) : 0;
		if (n != KEY_ID_LEN)
			return cn_err_set(&err, CAIRN_EINVAL, "\"%s\" is neither an API key nor a key id",
			                  id_or_key ? id_or_key : ""),
			       kb_fail(kb, &err);
		memcpy(id, id_or_key, n + 1);
	}
	pthread_mutex_lock(&kb->mu);
	cairn_status st = acl_begin(kb, &err);
	if (!st) {
		sqlite3_stmt *q;
		st = cn_store_prepare(kb->store, "DELETE FROM api_keys WHERE id = ?1", &q, &err);
		if (!st) {
			sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
			st = step_done(kb, q, &err, "revoke API key");
			if (!st && sqlite3_changes(cn_store_db(kb->store)) == 0)
				st = cn_err_set(&err, CAIRN_ENOTFOUND, "no API key with id %s", id);
		}
		st = acl_end(kb, st, &err);
	}
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

/* ---- ACL mode ---- */

cairn_status cairn_kb_set_acl_closed(cairn_kb *kb, int closed)
{
	cn_err err = {0};
	pthread_mutex_lock(&kb->mu);
	cairn_status st = acl_begin(kb, &err);
	if (!st)
		st = acl_end(kb, cn_store_meta_set(kb->store, "acl_mode", closed ? "closed" : "open", &err), &err);
	pthread_mutex_unlock(&kb->mu);
	return st ? kb_fail(kb, &err) : CAIRN_OK;
}

bool kb_acl_closed_locked(cairn_kb *kb)
{
	char *v = NULL;
	cn_err err = {0};
	/* An unreadable setting fails closed. */
	if (cn_store_meta_get(kb->store, "acl_mode", &v, &err))
		return true;
	bool closed = v && strcmp(v, "open") != 0;
	cn_free(v);
	return closed;
}

int cairn_kb_acl_closed(cairn_kb *kb)
{
	pthread_mutex_lock(&kb->mu);
	bool closed = kb_acl_closed_locked(kb);
	pthread_mutex_unlock(&kb->mu);
	return closed;
}
