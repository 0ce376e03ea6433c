/*
 * OpenAI-compatible chat completions over libcurl (the contract is in remote.h).
 *
 * Why the details are as they are:
 *  - Retries only where a second try can succeed: 408, 429 and 5xx, timeouts, refused or
 *    dropped connections. A 4xx says the request is wrong and will stay wrong; an unknown
 *    host or a bad certificate will not fix itself in 250 ms. Backoff doubles from
 *    backoff_ms and is capped, a server's Retry-After is honoured up to RETRY_AFTER_CAP_S,
 *    so the worst case is bounded: (1 + max_retries) × timeout + the sum of the delays.
 *  - The response is read into memory up to max_response_bytes; a server streaming without
 *    end cannot exhaust memory.
 *  - The body is parsed strictly with jansson (duplicate keys rejected): the content is the
 *    one thing this module promises, and a response without a string content is an error
 *    naming what was missing, not an empty answer.
 *  - Error text from the server is shown (it is usually the most useful line: "model not
 *    found"), cut to ERR_SNIPPET bytes, control characters replaced, and scrubbed of the API
 *    key, because some servers echo the key they rejected.
 *  - The request body is built with cn_buf's JSON escaper (invalid UTF-8 becomes U+FFFD), so
 *    any question and any passage produce valid JSON.
 */
#include "remote/remote.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_BACKOFF_MS 250L
#define BACKOFF_CAP_MS 4000L
#define RETRY_AFTER_CAP_S 10L
#define MAX_RETRIES 10
#define DEFAULT_MAX_RESPONSE (8u << 20)
#define ERR_SNIPPET 300
#define MAX_KEY_BYTES 4096

cn_remote_params cn_remote_default_params(void)
{
	cn_remote_params p = {
		.timeout_ms = DEFAULT_TIMEOUT_MS,
		.connect_timeout_ms = 0,
		.max_retries = 2,
		.backoff_ms = DEFAULT_BACKOFF_MS,
		.max_response_bytes = DEFAULT_MAX_RESPONSE,
	};
	return p;
}

/* ---- libcurl's global state ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Released when the program exits or the shared library is unloaded, so that leak checkers
 * see libcurl's (and its TLS library's) global allocations returned. */
__attribute__((destructor)) static void curl_fini(void)
{
	if (curl_init_rc == CURLE_OK) {
		curl_global_cleanup();
		curl_init_rc = CURLE_FAILED_INIT;
	}
}

/* ---- URLs ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

cairn_status cn_remote_chat_url(const char *endpoint, cn_buf *out, cn_err *err)
{
	cn_buf_reset(out);
	if (!endpoint || !*endpoint)
		return cn_err_set(err, CAIRN_EINVAL, "no endpoint given");
	size_t scheme = !strncasecmp(endpoint, "http://", 7) ? 7 : !strncasecmp(endpoint, "https://", 8) ? 8 : 0;
	cn_buf shown;
	cn_buf_init(&shown);
	cn_remote_display_url(endpoint, &shown);
	cairn_status st = CAIRN_OK;
	if (!scheme)
		st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: not an http:// or https:// URL", shown.data ? shown.data : "");
	else if (!endpoint[scheme] || endpoint[scheme] == '/')
		st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: no host", shown.data ? shown.data : "");
	else
		for (const char *c = endpoint; *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
				st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: contains a space or control character",
				                shown.data ? shown.data : "");
				break;
			}
	cn_buf_free(&shown);
	if (st)
		return st;
	size_t n = strlen(endpoint);
	while (n > scheme && endpoint[n - 1] == '/')
		n--;
	cn_buf_append(out, endpoint, n);
	if (ends_with(endpoint, n, "/chat/completions"))
		;
	else if (ends_with(endpoint, n, "/v1"))
		cn_buf_puts(out, "/chat/completions");
	else
		cn_buf_puts(out, "/v1/chat/completions");
	return out->failed ? cn_err_set(err, CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

void cn_remote_display_url(const char *endpoint, cn_buf *out)
{
	cn_buf_reset(out);
	if (!endpoint)
		return;
	const char *p = strstr(endpoint, "://");
	const char *host = p ? p + 3 : endpoint;
	/* user:password@ sits before the first '/', '?' or '#' after the scheme */
	size_t auth_end = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth_end);
	if (at) {
		cn_buf_append(out, endpoint, (size_t)(host - endpoint));
		cn_buf_puts(out, at + 1);
	} else {
		cn_buf_puts(out, endpoint);
	}
	/* no control characters in what goes to a terminal */
	for (size_t i = 0; out->data && i < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f)
			out->data[i] = '?';
}

/* ---- the request body ---- */

cairn_status cn_remote_chat_body(const cn_chat_request *req, bool with_schema, cn_buf *out, cn_err *err)
{
	cn_buf_reset(out);
	cn_buf_putc(out, '{');
	if (req->model) {
		cn_buf_puts(out, "\"model\":");
		cn_buf_put_json_str(out, req->model, strlen(req->model));
		cn_buf_putc(out, ',');
	}
	cn_buf_puts(out, "\"messages\":[");
	for (size_t i = 0; i < req->n_messages; i++) {
		const cn_chat_msg *m = &req->messages[i];
		const char *c = m->content ? m->content : "";
		cn_buf_puts(out, i ? ",{\"role\":" : "{\"role\":");
		cn_buf_put_json_str(out, m->role ? m->role : "user", strlen(m->role ? m->role : "user"));
		cn_buf_puts(out, ",\"content\":");
		cn_buf_put_json_str(out, c, strlen(c));
		cn_buf_putc(out, '}');
	}
	double t = isfinite(req->temperature) ? req->temperature : 0.0;
	cn_buf_printf(out, "],\"temperature\":%.4g", t < 0 ? 0.0 : t > 2 ? 2.0 : t);
	if (req->max_tokens > 0)
		cn_buf_printf(out, ",\"max_tokens\":%d", req->max_tokens);
	if (with_schema && req->json_schema) {
		const char *name = req->schema_name ? req->schema_name : "answer";
		cn_buf_puts(out, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
		cn_buf_put_json_str(out, name, strlen(name));
		cn_buf_puts(out, ",\"strict\":true,\"schema\":");
		cn_buf_puts(out, req->json_schema);
		cn_buf_puts(out, "}}");
	}
	cn_buf_puts(out, ",\"stream\":false}");
	return out->failed ? cn_err_set(err, CAIRN_ENOMEM, "out of memory building the request") : CAIRN_OK;
}

/* ---- the response ---- */

static char *dup_str(const char *s) { return s ? cn_strdup(s) : NULL; }

cairn_status cn_remote_parse_chat(const char *body, size_t len, const char *where, cn_chat_result *out, cn_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "endpoint %s: the response is not JSON (%s at byte %d)", where, je.text,
		                  je.position);
	cairn_status st = CAIRN_OK;
	json_t *choices = json_object_get(root, "choices");
	json_t *c0 = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
	json_t *msg = json_is_object(c0) ? json_object_get(c0, "message") : NULL;
	json_t *content = json_is_object(msg) ? json_object_get(msg, "content") : NULL;
	if (!json_is_object(root))
		st = cn_err_set(err, CAIRN_EFORMAT, "endpoint %s: the response is not a JSON object", where);
	else if (!json_is_array(choices) || json_array_size(choices) == 0)
		st = cn_err_set(err, CAIRN_EFORMAT, "endpoint %s: the response has no choices", where);
	else if (!json_is_object(msg))
		st = cn_err_set(err, CAIRN_EFORMAT, "endpoint %s: choices[0] has no message object", where);
	else if (!json_is_string(content))
		st = cn_err_set(err, CAIRN_EFORMAT, "endpoint %s: choices[0].message.content is %s, not a string", where,
		                content ? "of another type" : "missing");
	if (!st) {
		cn_free(out->content);
		cn_free(out->finish_reason);
		out->content = cn_strndup(json_string_value(content), json_string_length(content));
		json_t *fr = json_object_get(c0, "finish_reason");
		out->finish_reason = json_is_string(fr) ? dup_str(json_string_value(fr)) : NULL;
		json_t *usage = json_object_get(root, "usage");
		json_t *pt = json_is_object(usage) ? json_object_get(usage, "prompt_tokens") : NULL;
		json_t *ct = json_is_object(usage) ? json_object_get(usage, "completion_tokens") : NULL;
		out->prompt_tokens = json_is_integer(pt) ? (int64_t)json_integer_value(pt) : -1;
		out->completion_tokens = json_is_integer(ct) ? (int64_t)json_integer_value(ct) : -1;
		if (!out->content)
			st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	json_decref(root);
	return st;
}

void cn_remote_scrub(char *s, const char *secret)
{
	if (!s || !secret || !*secret)
		return;
	size_t n = strlen(secret), r = n < 3 ? n : 3;
	char *w = s;
	for (const char *p = s; *p;) {
		if (!strncmp(p, secret, n)) {
			memset(w, '*', r);
			w += r;
			p += n;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
}

/* The server's own explanation of a failed request: error.message, error (a string) or
 * message from a JSON body, else the body's first bytes; control characters replaced. */
static void server_message(const cn_buf *body, char *out, size_t cap)
{
	out[0] = '\0';
	if (!body->len)
		return;
	const char *text = NULL;
	json_t *root = json_loadb(body->data, body->len, 0, NULL);
	if (json_is_object(root)) {
		json_t *e = json_object_get(root, "error");
		json_t *m = json_is_object(e) ? json_object_get(e, "message") : json_is_string(e) ? e : json_object_get(root, "message");
		if (json_is_string(m))
			text = json_string_value(m);
	}
	snprintf(out, cap, "%.*s", ERR_SNIPPET, text ? text : body->data);
	json_decref(root);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	/* a cut inside a UTF-8 sequence leaves a stray lead byte: drop it */
	size_t l = strlen(out);
	size_t k = l;
	while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
		k--;
	if (k > 0 && (unsigned char)out[k - 1] >= 0xC0) {
		unsigned char lead = (unsigned char)out[k - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (l - (k - 1) < need)
			out[k - 1] = '\0';
	}
}

/* ---- transfer ---- */

typedef struct sink {
	cn_buf body;
	size_t limit;
	bool over;
} sink;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	sink *s = ud;
	size_t n = size * nmemb;
	if (s->body.len + n > s->limit) {
		s->over = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	cn_buf_append(&s->body, p, n);
	return s->body.failed ? 0 : n;
}

static bool retryable_status(long code) { return code == 408 || code == 429 || (code >= 500 && code <= 599); }

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(long ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void cn_chat_result_free(cn_chat_result *r)
{
	if (!r)
		return;
	cn_free(r->content);
	cn_free(r->finish_reason);
	r->content = NULL;
	r->finish_reason = NULL;
}

cairn_status cn_remote_chat(const cn_remote_params *params, const cn_chat_request *req, cn_chat_result *out, cn_err *err)
{
	memset(out, 0, sizeof *out);
	out->prompt_tokens = out->completion_tokens = -1;
	uint64_t t0 = cn_now_ns();
	cn_remote_params p = params ? *params : cn_remote_default_params();
	if (p.timeout_ms <= 0)
		p.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (p.connect_timeout_ms <= 0)
		p.connect_timeout_ms = p.timeout_ms < DEFAULT_CONNECT_MS ? p.timeout_ms : DEFAULT_CONNECT_MS;
	if (p.max_retries < 0)
		p.max_retries = 0;
	if (p.max_retries > MAX_RETRIES)
		p.max_retries = MAX_RETRIES;
	if (p.backoff_ms < 0)
		p.backoff_ms = 0;
	if (p.max_response_bytes == 0)
		p.max_response_bytes = DEFAULT_MAX_RESPONSE;

	cn_buf url, shown, body, auth;
	cn_buf_init(&url);
	cn_buf_init(&shown);
	cn_buf_init(&body);
	cn_buf_init(&auth);
	sink snk = {.limit = p.max_response_bytes};
	cn_buf_init(&snk.body);
	CURL *h = NULL;
	struct curl_slist *headers = NULL;
	const char *key = NULL;
	cairn_status st = cn_remote_chat_url(p.endpoint, &url, err);
	cn_remote_display_url(url.data ? url.data : p.endpoint, &shown);
	const char *where = shown.data ? shown.data : "";
	if (st)
		goto done;
	if (p.api_key_env && *p.api_key_env) {
		key = getenv(p.api_key_env);
		if (!key || !*key) {
			st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: the environment variable %s (the API key) is not set",
			                where, p.api_key_env);
			goto done;
		}
		if (strlen(key) > MAX_KEY_BYTES || strpbrk(key, "\r\n")) {
			st = cn_err_set(err, CAIRN_EINVAL, "endpoint %s: the API key in %s is malformed", where, p.api_key_env);
			goto done;
		}
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		st = cn_err_set(err, CAIRN_EIO, "endpoint %s: libcurl failed to initialise: %s", where,
		                curl_easy_strerror(curl_init_rc));
		goto done;
	}
	h = curl_easy_init();
	if (key) {
		cn_buf_puts(&auth, "Authorization: Bearer ");
		cn_buf_puts(&auth, key);
	}
	/* "Expect:" turns off the 100-continue round trip */
	const char *hdr[] = {"Content-Type: application/json", "Accept: application/json", "Expect:",
	                     key && !auth.failed ? auth.data : NULL};
	bool hdr_ok = !key || !auth.failed;
	for (size_t i = 0; hdr_ok && i < CN_ARRAY_LEN(hdr) && hdr[i]; i++) {
		struct curl_slist *nh = curl_slist_append(headers, hdr[i]);
		if (!nh)
			hdr_ok = false; /* the list so far is freed below */
		else
			headers = nh;
	}
	if (!h || !hdr_ok) {
		st = cn_err_set(err, CAIRN_ENOMEM, "endpoint %s: out of memory", where);
		goto done;
	}
	char curl_err[CURL_ERROR_SIZE];
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cairn/0.1");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &snk);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */

	bool with_schema = req->json_schema != NULL;
	int max_attempts = 1 + p.max_retries;
	long delay = p.backoff_ms;
	for (;;) {
		if ((st = cn_remote_chat_body(req, with_schema, &body, err)))
			goto done;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		cn_buf_reset(&snk.body);
		snk.over = false;
		curl_err[0] = '\0';
		out->attempts++;
		CURLcode rc = curl_easy_perform(h);
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		out->http_status = code;
		bool last = out->attempts >= max_attempts;
		if (rc == CURLE_OK && code >= 200 && code <= 299) {
			st = cn_remote_parse_chat(snk.body.data, snk.body.len, where, out, err);
			goto done;
		}
		if (rc != CURLE_OK) {
			if (snk.over) {
				st = cn_err_set(err, CAIRN_ETOOBIG, "endpoint %s: the response is larger than %zu bytes", where,
				                p.max_response_bytes);
				goto done;
			}
			if (snk.body.failed) {
				st = cn_err_set(err, CAIRN_ENOMEM, "endpoint %s: out of memory reading the response", where);
				goto done;
			}
			if (!retryable_curl(rc) || last) {
				if (rc == CURLE_OPERATION_TIMEDOUT)
					st = cn_err_set(err, CAIRN_EIO, "endpoint %s: timed out after %ld ms (%d attempt%s)", where,
					                p.timeout_ms, out->attempts, out->attempts == 1 ? "" : "s");
				else
					st = cn_err_set(err, CAIRN_EIO, "endpoint %s: %s (%d attempt%s)", where,
					                curl_err[0] ? curl_err : curl_easy_strerror(rc), out->attempts,
					                out->attempts == 1 ? "" : "s");
				cn_remote_scrub(err ? err->msg : NULL, key);
				goto done;
			}
		} else {
			bool schema_rejected = with_schema && (code == 400 || code == 422) && !out->schema_dropped;
			if (schema_rejected) {
				/* a server without structured output: ask again, once, without it */
				with_schema = false;
				out->schema_dropped = true;
				max_attempts++;
				continue;
			}
			if (!retryable_status(code) || last) {
				char msg[ERR_SNIPPET + 8];
				server_message(&snk.body, msg, sizeof msg);
				st = cn_err_set(err, code == 401 || code == 403 ? CAIRN_EINVAL : CAIRN_EIO,
				                "endpoint %s: HTTP %ld%s%s (%d attempt%s)", where, code, msg[0] ? ": " : "", msg,
				                out->attempts, out->attempts == 1 ? "" : "s");
				cn_remote_scrub(err ? err->msg : NULL, key);
				goto done;
			}
			curl_off_t ra = -1;
			if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0)
				delay = (long)(ra > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : ra) * 1000L;
		}
		cn_log(CAIRN_LOG_INFO, "endpoint %s: attempt %d failed (%s), retrying in %ld ms", where, out->attempts,
		       rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error", delay);
		sleep_ms(delay);
		delay = p.backoff_ms ? CN_MIN(BACKOFF_CAP_MS, (delay > 0 ? delay : p.backoff_ms) * 2) : 0;
	}
done:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	if (auth.data)
		memset(auth.data, 0, auth.len); /* the key does not linger in freed memory */
	cn_buf_free(&auth);
	cn_buf_free(&url);
	cn_buf_free(&shown);
	cn_buf_free(&body);
	cn_buf_free(&snk.body);
	out->seconds = (double)(cn_now_ns() - t0) / 1e9;
	return st;
}
