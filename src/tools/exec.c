/*
 * Executors: the only place an action leaves cairn.
 *
 * HTTP: libcurl directly rather than src/remote, whose client speaks the chat-completions
 * wire format; here the body is the tool's arguments. Same rules as remote: http(s) only, no
 * redirects (they would carry the call elsewhere), a whole-request timeout, a response cap
 * enforced while reading (the transfer is aborted past it, so a hostile service cannot make
 * us buffer gigabytes). No retries: a retried write is exactly what idempotency forbids us
 * to do blindly.
 *
 * Local commands: posix_spawn with an argv built from the configuration, never a shell, so
 * an argument cannot become a second command; the arguments go in as one JSON argument (or
 * on stdin), never spliced into other words. The environment is empty except for the
 * allowlisted names, so secrets in cairn's environment do not leak into tools. Output is read
 * through a pipe with poll() against a deadline; past it the child is killed (SIGKILL) and
 * reaped, and likewise past the output cap. File descriptors beyond 0-2 are closed in the
 * child.
 */
#include "tools/tools.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void cn_exec_result_free(cn_exec_result *r)
{
	if (!r)
		return;
	cn_free(r->output);
	memset(r, 0, sizeof *r);
}

/* ---- HTTP ---- */

typedef struct sink {
	cn_buf *b;
	size_t max;
	bool over;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	sink *s = ud;
	size_t len = size * n;
	if (s->b->len + len > s->max) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	cn_buf_append(s->b, p, len);
	return s->b->failed ? 0 : len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static cairn_status http_request(const char *url, const char *body, const char *bearer, long timeout_ms,
                                 size_t max_bytes, long *status, cn_buf *resp, bool *over, cn_err *err)
{
	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h)
		return cn_err_set(err, CAIRN_ENOMEM, "%s: could not start an HTTP request", url);
	struct curl_slist *hdr = NULL;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	char auth[1200];
	if (bearer) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
		hdr = curl_slist_append(hdr, auth);
	}
	sink snk = {.b = resp, .max = max_bytes};
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cairn-tools/0.1");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CN_MIN(timeout_ms, 10000L));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &snk);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	if (bearer)
		memset(auth, 0, sizeof auth);
	if (over)
		*over = snk.over;
	if (snk.over && !over)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: the response is larger than %zu bytes", url, max_bytes);
	if (rc != CURLE_OK && !snk.over) {
		if (rc == CURLE_OPERATION_TIMEDOUT)
			return cn_err_set(err, CAIRN_EIO, "%s: timed out after %ld ms", url, timeout_ms);
		return cn_err_set(err, CAIRN_EIO, "%s: %s", url, *ebuf ? ebuf : curl_easy_strerror(rc));
	}
	if (resp->failed)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	return CAIRN_OK;
}

cairn_status cn_http_post_json(const char *url, const char *body, const char *bearer, long timeout_ms,
                               size_t max_bytes, long *status, cn_buf *resp, cn_err *err)
{
	return http_request(url, body, bearer, timeout_ms, max_bytes, status, resp, NULL, err);
}

/* url?k=v&… from the top-level scalar arguments (arrays and objects go as their JSON). */
static cairn_status get_url(const char *base, const char *args_json, cn_buf *url, cn_err *err)
{
	json_t *a = json_loads(args_json, 0, NULL);
	if (!json_is_object(a)) {
		json_decref(a);
		return cn_err_set(err, CAIRN_EINVAL, "arguments are not a JSON object");
	}
	CURL *h = curl_easy_init();
	cn_buf_puts(url, base);
	char sep = strchr(base, '?') ? '&' : '?';
	const char *k;
	json_t *v;
	json_object_foreach(a, k, v) {
		char *val = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		const char *vs = json_is_string(v) ? json_string_value(v) : val ? val : "";
		char *ek = h ? curl_easy_escape(h, k, 0) : NULL, *ev = h ? curl_easy_escape(h, vs, 0) : NULL;
		if (ek && ev)
			cn_buf_printf(url, "%c%s=%s", sep, ek, ev);
		sep = '&';
		curl_free(ek);
		curl_free(ev);
		free(val);
	}
	if (h)
		curl_easy_cleanup(h);
	json_decref(a);
	return url->failed || !h ? cn_err_set(err, CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

static cairn_status run_http(const cn_executor *x, const char *args, cn_exec_result *out, cn_err *err)
{
	cn_buf resp, url;
	cn_buf_init(&resp);
	cn_buf_init(&url);
	pthread_once(&curl_once, curl_init_once);
	cairn_status st = CAIRN_OK;
	if (x->get)
		st = get_url(x->url, args, &url, err);
	bool over = false;
	if (!st)
		st = http_request(x->get ? url.data : x->url, x->get ? NULL : args, NULL, x->timeout_ms, x->max_output,
		                  &out->status, &resp, &over, err);
	cn_buf_free(&url);
	if (st) {
		if (st == CAIRN_EIO && strstr(err ? err->msg : "", "timed out"))
			out->timed_out = true;
		cn_buf_free(&resp);
		return st;
	}
	out->truncated = over;
	out->ok = !over && out->status >= 200 && out->status < 300;
	out->len = resp.len;
	out->output = resp.data ? cn_buf_take(&resp) : cn_strdup("");
	cn_buf_free(&resp);
	return out->output ? CAIRN_OK : cn_err_set(err, CAIRN_ENOMEM, "out of memory");
}

/* ---- local commands ---- */

static cairn_status run_command(const cn_executor *x, const char *args, cn_exec_result *out, cn_err *err)
{
	/* argv: the configured words, then the arguments' JSON as one more word */
	size_t n = x->argc + (x->args_stdin ? 0 : 1);
	char **argv = cn_calloc(n + 1, sizeof *argv);
	char **envp = cn_calloc(x->n_env + 1, sizeof *envp);
	cn_buf envs;
	cn_buf_init(&envs);
	if (!argv || !envp) {
		cn_free(argv);
		cn_free(envp);
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < x->argc; i++)
		argv[i] = x->argv[i];
	if (!x->args_stdin)
		argv[x->argc] = (char *)args;
	size_t ne = 0;
	for (size_t i = 0; i < x->n_env; i++) {
		const char *v = getenv(x->env[i]);
		if (v) {
			size_t len = strlen(x->env[i]) + strlen(v) + 2;
			char *e = cn_malloc(len);
			if (e) {
				snprintf(e, len, "%s=%s", x->env[i], v);
				envp[ne++] = e;
			}
		}
	}
	int outp[2] = {-1, -1}, inp[2] = {-1, -1};
	cairn_status st = CAIRN_OK;
	pid_t pid = -1;
	posix_spawn_file_actions_t fa;
	bool fa_init = false;
	if (pipe2(outp, O_CLOEXEC) || (x->args_stdin && pipe2(inp, O_CLOEXEC))) {
		st = cn_err_set(err, CAIRN_EIO, "%s: pipe: %s", x->argv[0], strerror(errno));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	fa_init = true;
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	if (x->args_stdin)
		posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	/* nothing else of ours (database, sockets) reaches the tool */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	int rc = posix_spawn(&pid, x->argv[0], &fa, NULL, argv, envp);
	if (rc) {
		pid = -1;
		st = cn_err_set(err, CAIRN_EIO, "%s: cannot run: %s", x->argv[0], strerror(rc));
		goto done;
	}
	close(outp[1]);
	outp[1] = -1;
	if (x->args_stdin) {
		close(inp[0]);
		inp[0] = -1;
		/* Non-blocking write: a child that does not read cannot stall us (what does not fit
		 * the pipe is dropped). SIGPIPE is blocked on this thread for the write and a pending
		 * one consumed, so a child that exits early does not kill the caller. */
		sigset_t pipe_set, old;
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
		size_t len = strlen(args), off = 0;
		fcntl(inp[1], F_SETFL, O_NONBLOCK);
		while (off < len) {
			ssize_t w = write(inp[1], args + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(inp[1]);
		inp[1] = -1;
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	cn_buf b;
	cn_buf_init(&b);
	uint64_t deadline = cn_now_ns() + (uint64_t)x->timeout_ms * 1000000ull;
	char chunk[8192];
	for (;;) {
		uint64_t now = cn_now_ns();
		if (now >= deadline) {
			out->timed_out = true;
			break;
		}
		struct pollfd p = {.fd = outp[0], .events = POLLIN};
		int pr = poll(&p, 1, (int)CN_MAX(1, (deadline - now) / 1000000ull));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t r = read(outp[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t room = x->max_output > b.len ? x->max_output - b.len : 0;
		cn_buf_append(&b, chunk, CN_MIN((size_t)r, room));
		if ((size_t)r > room) {
			out->truncated = true; /* over the cap: stop it rather than drain it */
			break;
		}
	}
	if (out->timed_out || out->truncated)
		kill(pid, SIGKILL);
	int wst = 0;
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	out->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : WIFSIGNALED(wst) ? -WTERMSIG(wst) : -1;
	out->ok = !out->timed_out && !out->truncated && WIFEXITED(wst) && WEXITSTATUS(wst) == 0;
	out->len = b.len;
	out->output = b.data ? cn_buf_take(&b) : cn_strdup("");
	if (b.failed || !out->output)
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	cn_buf_free(&b);
done:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	for (size_t i = 0; i < ne; i++)
		cn_free(envp[i]);
	cn_free(envp);
	cn_free(argv);
	cn_buf_free(&envs);
	return st;
}

cairn_status cn_exec_run(const cn_executor *x, const char *args_json, cn_exec_result *out, cn_err *err)
{
	memset(out, 0, sizeof *out);
	return x->kind == CN_EXEC_HTTP ? run_http(x, args_json, out, err) : run_command(x, args_json, out, err);
}

void cn_exec_describe(const cn_executor *x, const char *args_json, cn_buf *out)
{
	if (x->kind == CN_EXEC_HTTP) {
		if (x->get) {
			cn_err e;
			cn_err_clear(&e);
			cn_buf u;
			cn_buf_init(&u);
			pthread_once(&curl_once, curl_init_once);
			if (get_url(x->url, args_json, &u, &e) == CAIRN_OK)
				cn_buf_printf(out, "GET %s", u.data);
			cn_buf_free(&u);
		} else {
			cn_buf_printf(out, "POST %s %s", x->url, args_json);
		}
		return;
	}
	for (size_t i = 0; i < x->argc; i++) {
		if (i)
			cn_buf_putc(out, ' ');
		cn_buf_put_json_str(out, x->argv[i], strlen(x->argv[i]));
	}
	if (x->args_stdin)
		cn_buf_printf(out, " < %s", args_json);
	else {
		cn_buf_putc(out, ' ');
		cn_buf_put_json_str(out, args_json, strlen(args_json));
	}
}
