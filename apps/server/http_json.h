/* http_json.h — the server's request parsing and validation, apart from any socket so that it
 * can be tested and fuzzed alone (tests/fuzz/fuzz_http_json.c): JSON bodies, path ids, query
 * numbers, OpenAI request shapes, the token bucket and base64. Depends on cairn.h, jansson
 * and libc only. */
#ifndef CAIRN_SERVER_HTTP_JSON_H
#define CAIRN_SERVER_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cairn.h"

/* The stable error codes of docs/server.md. */
#define SRV_E_INVALID_JSON "invalid_json"
#define SRV_E_INVALID_REQUEST "invalid_request"
#define SRV_E_UNAUTHORIZED "unauthorized"
#define SRV_E_FORBIDDEN "forbidden"
#define SRV_E_NOT_FOUND "not_found"
#define SRV_E_METHOD "method_not_allowed"
#define SRV_E_TOO_LARGE "payload_too_large"
#define SRV_E_RATE "rate_limited"
#define SRV_E_UNAVAILABLE "unavailable"
#define SRV_E_INTERNAL "internal_error"
#define SRV_E_UNSUPPORTED "unsupported"
#define SRV_E_UPSTREAM "upstream_error"
#define SRV_E_CONFLICT "conflict"

#define SRV_MAX_ID 1024        /* bytes of a document id */
#define SRV_MAX_QUERY 8192     /* bytes of a query or question */
#define SRV_MAX_EMBED_INPUTS 256

/* A request the parser refused: the HTTP status, a code above and a message. */
typedef struct srv_reqerr {
	int status;
	const char *code;
	char msg[256];
} srv_reqerr;

bool srv_utf8_valid(const char *s, size_t n);

/* The body as a JSON object: invalid UTF-8, NULs, malformed or truncated JSON, duplicate
 * keys and non-objects are 400 with a message. *out: json_decref it. */
bool srv_json_object(const char *body, size_t len, json_t **out, srv_reqerr *e);

typedef struct srv_search_req {
	const char *query;        /* borrowed from the JSON */
	int k;
	const char *filter;
	cairn_search_mode mode;
	bool collapse, rm3, dedupe, snippets;
	bool rerank;
} srv_search_req;
bool srv_parse_search(json_t *o, srv_search_req *r, srv_reqerr *e);

typedef struct srv_answer_req {
	const char *question;
	int k;
	const char *filter;
	int max_sentences;
	double min_confidence;    /* < 0: the default */
	int retrieval;            /* -1 default, else a cairn_search_mode */
	bool explain, stream, lenient;
} srv_answer_req;
bool srv_parse_answer(json_t *o, srv_answer_req *r, srv_reqerr *e);

typedef struct srv_chat_req {
	const char *question;     /* the last user message's text (borrowed or in buf) */
	char *buf;                /* free(): joined text parts of an array content, or NULL */
	bool stream;
	const char *model;
	size_t prompt_chars;      /* every message's text, for the usage estimate */
} srv_chat_req;
bool srv_parse_chat(json_t *o, srv_chat_req *r, srv_reqerr *e);

typedef struct srv_embed_req {
	const char *inputs[SRV_MAX_EMBED_INPUTS];
	size_t n;
	bool base64;
	const char *model;
} srv_embed_req;
bool srv_parse_embed(json_t *o, srv_embed_req *r, srv_reqerr *e);

typedef struct srv_doc_req {
	const char *doc_id, *title, *text;
	size_t text_len;
	char *metadata;           /* free(): the metadata object as JSON, or NULL */
	const char *const *acl;   /* borrowed strings in acl_buf */
	const char *acl_buf[64];
	size_t n_acl;
} srv_doc_req;
bool srv_parse_doc(json_t *o, srv_doc_req *r, srv_reqerr *e);

/* Percent-decodes raw[0..n) into out (cap bytes with the NUL) and validates it as a document
 * id: 1..SRV_MAX_ID bytes of valid UTF-8, no control characters, no NUL, no "." or ".."
 * path segment, no backslash. */
bool srv_decode_id(const char *raw, size_t n, char *out, size_t cap, srv_reqerr *e);
/* A decimal integer in lo..hi, the whole string. */
bool srv_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* Percent-decodes (and '+' as space, in query strings) into out; false when it does not fit
 * or an escape is malformed. */
bool srv_percent_decode(const char *raw, size_t n, bool plus_space, char *out, size_t cap, size_t *out_len);

/* Token bucket: rate tokens per second up to burst. Takes one token at time now (seconds);
 * when empty, false and *retry_after the whole seconds until one is there (at least 1). */
typedef struct srv_bucket {
	double tokens;
	double last;
} srv_bucket;
bool srv_bucket_take(srv_bucket *b, double now, double rate, double burst, int *retry_after);

/* Standard base64 of n bytes; malloc'd, NUL-terminated. */
char *srv_base64(const unsigned char *p, size_t n);

/* Rough token estimate for OpenAI usage fields: one per 4 bytes, at least 1 for non-empty. */
int64_t srv_estimate_tokens(size_t bytes);

/* {"error":{"code":..,"message":..}} as a malloc'd string. */
char *srv_error_json(const char *code, const char *msg);

#endif
