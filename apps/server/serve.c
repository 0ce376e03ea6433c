/*
 * serve.c — `cairn serve`: the HTTP daemon, its limits, authentication, rate limiting,
 * dispatch, access log and graceful shutdown. The routes themselves live in routes.c.
 *
 * libmicrohttpd runs a fixed pool of polling threads; a request is handled on the thread
 * that read it, so a slow answer occupies one worker and the pool size bounds concurrency.
 * All workers share one cairn_kb: searches and answers are thread-safe on it, writes go
 * through one mutex here (an add/commit pair must not interleave with another's).
 *
 * The URL is taken raw (an identity unescape callback) and decoded by http_json.c, so an
 * escaped "/" or ".." in a document id is seen and refused instead of vanishing in MHD.
 * A body larger than --max-body-mb is refused from its Content-Length before it is read, or
 * dropped while it streams in (chunked uploads) and answered 413 at its end.
 *
 * Shutdown: SIGTERM/SIGINT set a flag through a self-pipe; the main thread stops accepting
 * (MHD_quiesce_daemon), waits for in-flight requests (counted from their first byte to
 * their completion callback, so a streaming answer finishes), then stops MHD — which closes
 * idle keep-alive connections — and closes the knowledge base.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

const char *const srv_route_names[SRV_N_ROUTES] = {
	"/", "/healthz", "/readyz", "/metrics", "/v1/search", "/v1/answer", "GET /v1/documents/{id}",
	"DELETE /v1/documents/{id}", "POST /v1/documents", "/v1/audit", "/v1/chat/completions", "/v1/embeddings",
	"/v1/models", "GET /v1/approvals", "POST /v1/approvals/{id}/{decision}", "other"};
const double srv_buckets[SRV_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10,   30};

static int sig_pipe[2] = {-1, -1};

double srv_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void srv_hist_add(srv_hist *h, double seconds)
{
	for (int i = 0; i < SRV_N_BUCKETS; i++)
		if (seconds <= srv_buckets[i]) {
			atomic_fetch_add(&h->count[i], 1);
			break;
		}
	atomic_fetch_add(&h->n, 1);
	atomic_fetch_add(&h->sum_us, (uint64_t)(seconds * 1e6));
}

/* ---- responses ---- */

static void add_common_headers(struct MHD_Response *resp, const char *ctype)
{
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue(struct MHD_Connection *c, srv_req *r, int status, struct MHD_Response *resp,
                             uint64_t bytes)
{
	if (!resp)
		return MHD_NO;
	r->status = status;
	r->bytes = bytes;
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result srv_send_json(struct MHD_Connection *c, srv_req *r, int status, char *json)
{
	if (!json)
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	size_t n = strlen(json);
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, json, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(json);
		return MHD_NO;
	}
	add_common_headers(resp, "application/json");
	return queue(c, r, status, resp, n);
}

static char *error_json(const char *code, const char *msg)
{
	char *s = srv_error_json(code, msg);
	if (s)
		return s;
	/* the message was not valid UTF-8 (a cut multi-byte character): keep ASCII */
	char clean[512];
	size_t i = 0;
	for (; msg[i] && i + 1 < sizeof clean; i++)
		clean[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
	clean[i] = 0;
	return srv_error_json(code, clean);
}

enum MHD_Result srv_send_error(struct MHD_Connection *c, srv_req *r, int status, const char *code, const char *msg)
{
	char *s = error_json(code, msg);
	if (!s) {
		static const char oom[] = "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
		struct MHD_Response *resp =
			MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
		if (resp)
			add_common_headers(resp, "application/json");
		return queue(c, r, 500, resp, sizeof oom - 1);
	}
	return srv_send_json(c, r, status, s);
}

enum MHD_Result srv_send_reqerr(struct MHD_Connection *c, srv_req *r, const srv_reqerr *e)
{
	return srv_send_error(c, r, e->status ? e->status : 400, e->code ? e->code : SRV_E_INVALID_REQUEST, e->msg);
}

/* SSE: the rendered events go out one at a time, so the client sees the framing as a stream
 * (chunked transfer encoding, no Content-Length). */
typedef struct sse_src {
	char *buf;
	size_t len;
} sse_src;

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	sse_src *s = cls;
	if (pos >= s->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* up to the end of the next event ("\n\n") */
	size_t start = (size_t)pos, end = start;
	const char *p = strstr(s->buf + start, "\n\n");
	end = p ? (size_t)(p - s->buf) + 2 : s->len;
	size_t n = end - start;
	if (n > max)
		n = max;
	memcpy(out, s->buf + start, n);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	sse_src *s = cls;
	free(s->buf);
	free(s);
}

enum MHD_Result srv_send_sse(struct MHD_Connection *c, srv_req *r, char *buf, size_t len)
{
	sse_src *s = malloc(sizeof *s);
	if (!s) {
		free(buf);
		return srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
	}
	s->buf = buf;
	s->len = len;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!resp) {
		sse_free(s);
		return MHD_NO;
	}
	add_common_headers(resp, "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return queue(c, r, 200, resp, len);
}

/* ---- authentication and rate limiting ---- */

/* Resolves the Authorization header into r->who; false when a response was queued. */
static bool authenticate(srv *s, struct MHD_Connection *c, srv_req *r, enum MHD_Result *ret)
{
	if (s->no_auth) {
		snprintf(r->principal, sizeof r->principal, "local");
		r->groups = NULL;
		r->n_groups = 0;
		r->perms = CAIRN_PERM_ADMIN | CAIRN_PERM_AUDIT;
		return true;
	}
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7] || strlen(h + 7) > 512) {
		atomic_fetch_add(&s->auth_401, 1);
		*ret = srv_send_error(c, r, 401, SRV_E_UNAUTHORIZED, "an API key is required: Authorization: Bearer KEY");
		return false;
	}
	const char *key = h + 7;
	while (*key == ' ')
		key++;
	cairn_principal *p = NULL;
	cairn_status st = cairn_api_key_lookup(s->kb, key, &p);
	if (st == CAIRN_ENOTFOUND || (st == CAIRN_OK && !p) || st == CAIRN_EINVAL) {
		atomic_fetch_add(&s->auth_401, 1);
		*ret = srv_send_error(c, r, 401, SRV_E_UNAUTHORIZED, "unknown or revoked API key");
		return false;
	}
	if (st != CAIRN_OK) {
		*ret = srv_send_error(c, r, 500, SRV_E_INTERNAL, "the key store could not be read");
		return false;
	}
	static const char *const no_groups[1];
	r->who = p;
	snprintf(r->principal, sizeof r->principal, "%s", p->name);
	r->perms = p->perms;
	if (p->perms & CAIRN_PERM_ADMIN) {
		r->groups = NULL;
		r->n_groups = 0;
	} else {
		r->groups = p->n_groups ? (const char *const *)p->groups : no_groups;
		r->n_groups = p->n_groups;
	}
	return true;
}

static bool rate_limit(srv *s, struct MHD_Connection *c, srv_req *r, enum MHD_Result *ret)
{
	if (s->rate <= 0 && !(r->who && r->who->rate > 0))
		return true;
	pthread_mutex_lock(&s->rl_mu);
	srv_rl_entry *e = NULL;
	for (size_t i = 0; i < s->n_rl; i++)
		if (!strcmp(s->rl[i].name, r->principal)) {
			e = &s->rl[i];
			break;
		}
	if (!e) {
		if (s->n_rl == s->cap_rl) {
			size_t nc = s->cap_rl ? s->cap_rl * 2 : 16;
			srv_rl_entry *n = realloc(s->rl, nc * sizeof *n);
			if (!n) {
				pthread_mutex_unlock(&s->rl_mu);
				*ret = srv_send_error(c, r, 500, SRV_E_INTERNAL, "out of memory");
				return false;
			}
			s->rl = n;
			s->cap_rl = nc;
		}
		e = &s->rl[s->n_rl++];
		memset(e, 0, sizeof *e);
		snprintf(e->name, sizeof e->name, "%s", r->principal);
	}
	int retry = 1;
	/* the principal's own limit when it has one, else the server's */
	double rate = r->who && r->who->rate > 0 ? r->who->rate : s->rate;
	double burst = r->who && r->who->burst >= 1 ? r->who->burst : s->burst;
	bool ok = srv_bucket_take(&e->b, srv_now(), rate, burst, &retry);
	pthread_mutex_unlock(&s->rl_mu);
	if (ok)
		return true;
	atomic_fetch_add(&s->auth_429, 1);
	char *body = error_json(SRV_E_RATE, "too many requests for this principal; retry later");
	if (!body) {
		*ret = MHD_NO;
		return false;
	}
	size_t n = strlen(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		*ret = MHD_NO;
		return false;
	}
	add_common_headers(resp, "application/json");
	char ra[16];
	snprintf(ra, sizeof ra, "%d", retry);
	MHD_add_response_header(resp, "Retry-After", ra);
	*ret = queue(c, r, 429, resp, n);
	return false;
}

/* ---- dispatch ---- */

static enum MHD_Result send_text(struct MHD_Connection *c, srv_req *r, int status, const char *ctype,
                                 const char *text)
{
	size_t n = strlen(text);
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	add_common_headers(resp, ctype);
	return queue(c, r, status, resp, n);
}

static enum MHD_Result dispatch(srv *s, struct MHD_Connection *c, srv_req *r, const char *url, const char *method)
{
	/* the path without its query string (MHD passes it separately) */
	size_t ulen = strcspn(url, "?");
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST"),
	     del = !strcmp(method, "DELETE");
	static const char docs[] = "/v1/documents/";
	int route = SRV_R_OTHER;
	const char *id_raw = NULL;
	size_t id_len = 0;
#define IS(p) (ulen == sizeof(p) - 1 && !strncmp(url, p, ulen))
	if (IS("/"))
		route = SRV_R_INDEX;
	else if (IS("/healthz"))
		route = SRV_R_HEALTH;
	else if (IS("/readyz"))
		route = SRV_R_READY;
	else if (IS("/metrics"))
		route = SRV_R_METRICS;
	else if (IS("/v1/search"))
		route = SRV_R_SEARCH;
	else if (IS("/v1/answer"))
		route = SRV_R_ANSWER;
	else if (IS("/v1/documents"))
		route = SRV_R_DOC_POST;
	else if (ulen > sizeof docs - 1 && !strncmp(url, docs, sizeof docs - 1)) {
		route = del ? SRV_R_DOC_DELETE : SRV_R_DOC_GET;
		id_raw = url + sizeof docs - 1;
		id_len = ulen - (sizeof docs - 1);
	} else if (IS("/v1/audit"))
		route = SRV_R_AUDIT;
	else if (IS("/v1/chat/completions"))
		route = SRV_R_CHAT;
	else if (IS("/v1/embeddings"))
		route = SRV_R_EMBED;
	else if (IS("/v1/models"))
		route = SRV_R_MODELS;
	else if (IS("/v1/approvals"))
		route = SRV_R_APPROVALS;
	else if (ulen > sizeof "/v1/approvals/" - 1 && !strncmp(url, "/v1/approvals/", sizeof "/v1/approvals/" - 1)) {
		route = SRV_R_APPROVAL_DECIDE;
		id_raw = url + sizeof "/v1/approvals/" - 1;
		id_len = ulen - (sizeof "/v1/approvals/" - 1);
	}
#undef IS
	r->route = route;
	bool want_get = route == SRV_R_INDEX || route == SRV_R_HEALTH || route == SRV_R_READY ||
	                route == SRV_R_METRICS || route == SRV_R_DOC_GET || route == SRV_R_AUDIT ||
	                route == SRV_R_MODELS || route == SRV_R_APPROVALS;
	bool want_del = route == SRV_R_DOC_DELETE;
	if (route == SRV_R_OTHER)
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no such route");
	if ((want_get && !get) || (want_del && !del) || (!want_get && !want_del && !post))
		return srv_send_error(c, r, 405, SRV_E_METHOD, "method not allowed on this route");
	if (r->too_big)
		return srv_send_error(c, r, 413, SRV_E_TOO_LARGE, "the request body exceeds --max-body-mb");

	switch (route) {
	case SRV_R_INDEX: {
		size_t n = strlen(srv_index_html);
		struct MHD_Response *resp =
			MHD_create_response_from_buffer(n, (void *)srv_index_html, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		add_common_headers(resp, "text/html; charset=utf-8");
		/* the page talks to this server only */
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		                        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
		                        "frame-ancestors 'none'");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		return queue(c, r, 200, resp, n);
	}
	case SRV_R_HEALTH:
		return send_text(c, r, 200, "application/json", "{\"status\":\"ok\"}");
	case SRV_R_READY: {
		cairn_kb_stats st;
		if (atomic_load(&s->stopping))
			return srv_send_error(c, r, 503, SRV_E_UNAVAILABLE, "shutting down");
		if (cairn_kb_stats_get(s->kb, &st) != CAIRN_OK)
			return srv_send_error(c, r, 503, SRV_E_UNAVAILABLE, "the knowledge base cannot be read");
		char buf[160];
		snprintf(buf, sizeof buf, "{\"status\":\"ready\",\"documents\":%lld,\"chunks\":%lld,\"generation\":%lld}",
		         (long long)st.documents, (long long)st.chunks, (long long)st.generation);
		return send_text(c, r, 200, "application/json", buf);
	}
	case SRV_R_METRICS:
		return srv_route_metrics(s, c, r);
	default:
		break;
	}

	/* authenticate before looking at the id: an anonymous client learns nothing */
	enum MHD_Result ret = MHD_NO;
	if (!authenticate(s, c, r, &ret) || !rate_limit(s, c, r, &ret))
		return ret;
	atomic_fetch_add(&s->auth_ok, 1);
	char id[SRV_MAX_ID + 1];
	if (id_raw) {
		srv_reqerr e;
		if (!srv_decode_id(id_raw, id_len, id, sizeof id, &e))
			return srv_send_reqerr(c, r, &e);
	}
	switch (route) {
	case SRV_R_SEARCH:
		return srv_route_search(s, c, r);
	case SRV_R_ANSWER:
		return srv_route_answer(s, c, r);
	case SRV_R_DOC_GET:
		return srv_route_doc_get(s, c, r, id);
	case SRV_R_DOC_DELETE:
		return srv_route_doc_delete(s, c, r, id);
	case SRV_R_DOC_POST:
		return srv_route_doc_post(s, c, r);
	case SRV_R_AUDIT:
		return srv_route_audit(s, c, r);
	case SRV_R_CHAT:
		return srv_route_chat(s, c, r);
	case SRV_R_EMBED:
		return srv_route_embed(s, c, r);
	case SRV_R_MODELS:
		return srv_route_models(s, c, r);
	case SRV_R_APPROVALS:
		return srv_route_approvals(s, c, r);
	case SRV_R_APPROVAL_DECIDE:
		return srv_route_approval_decide(s, c, r, id);
	default:
		return srv_send_error(c, r, 404, SRV_E_NOT_FOUND, "no such route");
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	srv *s = cls;
	srv_req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		r->t0 = srv_now();
		r->route = SRV_R_OTHER;
		*con_cls = r;
		atomic_fetch_add(&s->inflight, 1);
		snprintf(r->method, sizeof r->method, "%s", method);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		int64_t n = 0;
		if (cl && srv_parse_int(cl, 0, INT64_MAX / 2, &n) && (uint64_t)n > s->max_body) {
			/* refused before a byte of the body is read; MHD closes the connection after */
			r->answered_early = true;
			return srv_send_error(c, r, 413, SRV_E_TOO_LARGE, "the request body exceeds --max-body-mb");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->answered_early || r->too_big)
			return MHD_YES;
		if (n > s->max_body - r->len) {
			r->too_big = true;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
			return MHD_YES;
		}
		if (r->len + n + 1 > r->cap) {
			size_t nc = r->cap ? r->cap : 4096;
			while (nc < r->len + n + 1)
				nc *= 2;
			char *nb = realloc(r->body, nc);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			r->cap = nc;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		r->body[r->len] = 0;
		return MHD_YES;
	}
	if (r->answered_early)
		return MHD_YES;
	return dispatch(s, c, r, url, method);
}

static void fmt_time(char *buf, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + l, n - l, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	srv *s = cls;
	srv_req *r = *con_cls;
	if (!r)
		return;
	double dt = srv_now() - r->t0;
	int status = r->status;
	if (status > 0 && status < 600)
		atomic_fetch_add(&s->requests[r->route][status], 1);
	srv_hist_add(&s->latency[r->route], dt);
	atomic_fetch_add(&s->bytes_out, r->bytes);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[64] = "";
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr, sizeof addr);
	else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, addr, sizeof addr);
	/* the principal's name is printable ASCII without quotes by construction
	 * (cairn_principal_set); route names are ours. No key, body, id or question. */
	json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:f,s:s,s:I,s:s,s:b}", "time", "", "method", r->method,
	                      "route", srv_route_names[r->route], "status", status, "latency_ms", dt * 1e3,
	                      "principal", r->principal, "bytes", (json_int_t)r->bytes, "client", addr,
	                      "completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (j) {
		char tbuf[40];
		fmt_time(tbuf, sizeof tbuf);
		json_object_set_new(j, "time", json_string(tbuf));
		char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line) {
			size_t l = strlen(line);
			line[l] = '\n';
			fwrite(line, 1, l + 1, stderr);
			line[l] = 0;
			free(line);
		}
		json_decref(j);
	}
	cairn_principal_free(r->who);
	free(r->body);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls, (void)c;
	return strlen(s);
}

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (sig_pipe[1] >= 0) {
		ssize_t w = write(sig_pipe[1], "x", 1);
		(void)w;
	}
	errno = saved;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	size_t l = strlen(buf);
	while (l && buf[l - 1] == '\n')
		buf[--l] = 0;
	json_t *j = json_pack("{s:s,s:s}", "level", "warn", "message", buf);
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (line)
		fprintf(stderr, "%s\n", line);
	free(line);
	json_decref(j);
}

/* ---- the command ---- */

static void usage_die(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn: serve: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nRun `cairn help` for usage.\n");
	exit(2);
}

static long num_opt(const char *opt, const char *v, long lo, long hi)
{
	int64_t n;
	if (!v)
		usage_die("%s needs a value", opt);
	if (!srv_parse_int(v, lo, hi, &n)) {
		fprintf(stderr, "cairn: serve: %s: \"%s\" is not a number in %ld..%ld\n", opt, v, lo, hi);
		exit(2);
	}
	return (long)n;
}

static bool is_loopback(const struct sockaddr_in *a)
{
	return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

int cli_cmd_serve(const char *kbdir, int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080", *embed_model = NULL, *endpoint = NULL, *api_key_env = NULL,
		   *llm_model = NULL, *tools_path = NULL, *tools_state = NULL;
	long threads = 4, max_body_mb = 8, conn_limit = 256, per_ip = 64, timeout_s = 30, drain_s = 30;
	double rate = 20, burst = 40;
	bool no_auth = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--listen"))
			listen = v, i++;
		else if (!strcmp(a, "--threads"))
			threads = num_opt(a, v, 1, 256), i++;
		else if (!strcmp(a, "--max-body-mb"))
			max_body_mb = num_opt(a, v, 1, 4096), i++;
		else if (!strcmp(a, "--max-connections"))
			conn_limit = num_opt(a, v, 1, 100000), i++;
		else if (!strcmp(a, "--per-ip"))
			per_ip = num_opt(a, v, 0, 100000), i++;
		else if (!strcmp(a, "--timeout"))
			timeout_s = num_opt(a, v, 1, 3600), i++;
		else if (!strcmp(a, "--drain"))
			drain_s = num_opt(a, v, 0, 3600), i++;
		else if (!strcmp(a, "--embed-model"))
			embed_model = v, i++;
		else if (!strcmp(a, "--tools"))
			tools_path = v, i++;
		else if (!strcmp(a, "--tools-state"))
			tools_state = v, i++;
		else if (!strcmp(a, "--no-auth"))
			no_auth = true;
		else if (!strcmp(a, "--endpoint"))
			endpoint = v, i++;
		else if (!strcmp(a, "--api-key-env"))
			api_key_env = v, i++;
		else if (!strcmp(a, "--llm-model"))
			llm_model = v, i++;
		else if (!strcmp(a, "--rate")) {
			char *end = NULL;
			if (!v)
				usage_die("%s needs a value", a);
			rate = strtod(v, &end);
			if (!end || (*end && strcmp(end, "/s")) || !(rate >= 0) || rate > 1e6)
				usage_die("--rate wants N or N/s (0 = no limit), not \"%s\"", v);
			i++;
		} else if (!strcmp(a, "--burst"))
			burst = (double)num_opt(a, v, 1, 1000000), i++;
		else
			usage_die("unknown option %s", a);
		if (i >= argc)
			usage_die("%s needs a value", a);
	}
	if (!listen)
		usage_die("%s", "--listen needs ADDR:PORT");
	struct sockaddr_in addr = {.sin_family = AF_INET};
	{
		char host[64];
		const char *colon = strrchr(listen, ':');
		int64_t port;
		if (!colon || (size_t)(colon - listen) >= sizeof host || !srv_parse_int(colon + 1, 0, 65535, &port))
			usage_die("--listen wants ADDR:PORT (IPv4), not \"%s\"", listen);
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = 0;
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
			usage_die("--listen: \"%s\" is not an IPv4 address", host);
		addr.sin_port = htons((uint16_t)port);
	}
	if ((api_key_env || llm_model) && !endpoint)
		usage_die("%s", "--api-key-env and --llm-model go with --endpoint URL");
	if (no_auth && !is_loopback(&addr)) {
		fprintf(stderr, "cairn: serve: --no-auth is for local development: it binds only to a loopback "
		                "address (127.0.0.0/8), not %s\n", listen);
		return 2;
	}

	srv *s = calloc(1, sizeof *s);
	if (!s)
		return 1;
	s->no_auth = no_auth;
	s->endpoint = endpoint;
	s->api_key_env = api_key_env;
	s->llm_model = llm_model;
	s->rate = rate;
	s->burst = burst < 1 ? 1 : burst;
	s->max_body = (size_t)max_body_mb << 20;
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->rl_mu, NULL);

	cairn_kb_params kp = cairn_kb_default_params();
	kp.create = 0;
	char err[1024];
	if (cairn_kb_open(kbdir, &kp, &s->kb, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "cairn: serve: %s\n", err);
		free(s);
		return 1;
	}
	pthread_mutex_init(&s->tools_mu, NULL);
	if (tools_path && cairn_tools_open(s->kb, tools_path, tools_state, &s->tools, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "cairn: serve: tools: %s\n", err);
		cairn_kb_close(s->kb);
		free(s);
		return 1;
	}
	cairn_kb_stats st;
	if (!embed_model && cairn_kb_stats_get(s->kb, &st) == CAIRN_OK && st.embed_model[0])
		embed_model = st.embed_model[0] ? strdup(st.embed_model) : NULL;
	else if (embed_model)
		embed_model = strdup(embed_model);
	if (embed_model) {
		cairn_encoder_params ep = cairn_encoder_default_params();
		if (cairn_encoder_open(embed_model, &ep, &s->enc, err, sizeof err) != CAIRN_OK) {
			fprintf(stderr, "cairn: serve: embedding model: %s\n", err);
			free((char *)embed_model);
			cairn_kb_close(s->kb);
			free(s);
			return 1;
		}
		const char *base = strrchr(embed_model, '/');
		snprintf(s->embed_name, sizeof s->embed_name, "%s", base ? base + 1 : embed_model);
		char *dot = strrchr(s->embed_name, '.');
		if (dot && !strcmp(dot, ".gguf"))
			*dot = 0;
		free((char *)embed_model);
	}

	if (pipe2(sig_pipe, O_CLOEXEC) != 0) {
		fprintf(stderr, "cairn: serve: pipe: %s\n", strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_EPOLL;
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, ntohs(addr.sin_port), NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)conn_limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "cairn: serve: cannot listen on %s (in use, or not an address of this host)\n", listen);
		cairn_encoder_close(s->enc);
		cairn_kb_close(s->kb);
		free(s);
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[64];
	inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
	fprintf(stderr, "{\"level\":\"info\",\"message\":\"listening\",\"url\":\"http://%s:%u\",\"threads\":%ld,"
	                "\"auth\":%s}\n",
	        host, di ? di->port : ntohs(addr.sin_port), threads, no_auth ? "false" : "true");

	char ch;
	while (read(sig_pipe[0], &ch, 1) < 0 && errno == EINTR)
		;
	atomic_store(&s->stopping, true);
	/* MHD hands the listening socket back; closing it refuses new connections */
	MHD_socket lsock = MHD_quiesce_daemon(d);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	double t_end = srv_now() + (double)drain_s;
	while (atomic_load(&s->inflight) > 0 && srv_now() < t_end)
		usleep(20 * 1000);
	int left = atomic_load(&s->inflight);
	MHD_stop_daemon(d);
	fprintf(stderr, "{\"level\":\"info\",\"message\":\"stopped\",\"unfinished_requests\":%d}\n", left);
	cairn_encoder_close(s->enc);
	cairn_tools_close(s->tools);
	pthread_mutex_destroy(&s->tools_mu);
	cairn_kb_close(s->kb);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->rl_mu);
	free(s->rl);
	free(s);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	return 0;
}
