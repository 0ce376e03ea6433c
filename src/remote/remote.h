/*
 * remote — a client for OpenAI-compatible HTTP endpoints (chat completions), over libcurl.
 *
 * The module knows HTTP, JSON and the OpenAI wire format; it knows nothing of questions,
 * passages or answers (the answer module builds the messages and reads the content). It
 * depends on base only, plus libcurl and jansson.
 *
 * Contract:
 *  - One call = one logical request: POST {endpoint}/v1/chat/completions, retried with
 *    exponential backoff on 408/429/5xx, timeouts and dropped connections, at most
 *    1 + max_retries attempts (Retry-After is honoured up to a cap). Other failures (4xx,
 *    a body that is not the expected JSON, a response over the size limit, an unknown host)
 *    are final at once. A 400/422 answer to a request that carried `response_format` is
 *    retried once without it: servers that do not know structured output may reject it.
 *  - The API key is read from the environment variable the caller names, at call time. It
 *    goes into the Authorization header and nowhere else: it is never part of an error
 *    message (a server that echoes it has it replaced by "***"), of the request record, or of
 *    a log line. The endpoint is shown without any user:password part.
 *  - Only http and https; redirects are not followed (a redirect would carry the key to
 *    another host).
 *  - Thread-safe: each call uses its own curl handle; libcurl's global state is set up once
 *    (pthread_once) and torn down when the library is unloaded or the program exits.
 */
#ifndef CAIRN_REMOTE_H
#define CAIRN_REMOTE_H

#include "base/base.h"

typedef struct cn_remote_params {
	const char *endpoint;       /* base URL: http://host:port, …/v1, or the full …/chat/completions */
	const char *api_key_env;    /* environment variable holding the key; NULL = no key */
	long timeout_ms;            /* whole request, per attempt (default 60000) */
	long connect_timeout_ms;    /* connection set-up, per attempt (default min(timeout, 10000)) */
	int max_retries;            /* further attempts after the first (default 2, at most 10) */
	long backoff_ms;            /* first retry delay, doubled each time (default 250, cap 4000) */
	size_t max_response_bytes;  /* larger bodies fail (default 8 MiB) */
} cn_remote_params;

cn_remote_params cn_remote_default_params(void);

typedef struct cn_chat_msg {
	const char *role;           /* "system", "user", "assistant" */
	const char *content;
} cn_chat_msg;

typedef struct cn_chat_request {
	const char *model;          /* NULL: the field is left out (single-model local servers) */
	const cn_chat_msg *messages;
	size_t n_messages;
	double temperature;
	int max_tokens;             /* <= 0: left out */
	/* Structured output: the JSON text of a JSON Schema and its name; sent as
	 * response_format {"type":"json_schema",...} when non-NULL. */
	const char *json_schema;
	const char *schema_name;
} cn_chat_request;

typedef struct cn_chat_result {
	char *content;              /* choices[0].message.content (cn_free'd by cn_chat_result_free) */
	char *finish_reason;        /* "stop", "length", … or NULL */
	long http_status;           /* of the last attempt (0 when none completed) */
	int attempts;               /* HTTP attempts made, retries included */
	bool schema_dropped;        /* the server rejected response_format; sent again without it */
	int64_t prompt_tokens, completion_tokens; /* usage, -1 when not reported */
	double seconds;
} cn_chat_result;

/* Sends the request. On success out->content is the model's message. On failure err names
 * the endpoint and the HTTP status or the transport error; out still says how many attempts
 * were made (free it either way). */
cairn_status cn_remote_chat(const cn_remote_params *p, const cn_chat_request *req, cn_chat_result *out, cn_err *err);
void cn_chat_result_free(cn_chat_result *r);

/* ---- pieces, exposed for tests ---- */

/* The chat-completions URL for an endpoint (trailing '/' dropped; "/v1/chat/completions"
 * appended unless the endpoint already ends in "/v1" or "/chat/completions"). Fails with
 * CAIRN_EINVAL for anything but an http(s) URL with a host. */
cairn_status cn_remote_chat_url(const char *endpoint, cn_buf *out, cn_err *err);
/* The endpoint for messages: scheme://host… with any user:password@ removed. */
void cn_remote_display_url(const char *endpoint, cn_buf *out);
/* The request body: {"model":…,"messages":[…],"temperature":…,"max_tokens":…,
 * "response_format":…,"stream":false}. with_schema = 0 leaves response_format out. */
cairn_status cn_remote_chat_body(const cn_chat_request *req, bool with_schema, cn_buf *out, cn_err *err);
/* Parses a chat-completions response body strictly (JSON object, choices[0].message.content
 * a string); fills content, finish_reason and usage. where names the endpoint in messages. */
cairn_status cn_remote_parse_chat(const char *body, size_t len, const char *where, cn_chat_result *out, cn_err *err);
/* Replaces every occurrence of secret (when non-empty) in s with "***", in place. */
void cn_remote_scrub(char *s, const char *secret);

#endif
