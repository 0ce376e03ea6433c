/*
 * The tools file: which actions exist, who may take them, and how they run.
 *
 * Strict on purpose. Every object accepts a closed set of keys and a misspelt one
 * ("tier ": "read", "requried") is an error naming it, because a guardrail that silently
 * ignores a misconfigured field is no guardrail. Every tool's argument schema is checked by
 * cn_schema_check, so an unsupported JSON Schema keyword is refused rather than ignored.
 * Executors are resolved here too: a command's argv[0] must be an absolute path (no PATH
 * search, no shell), an HTTP executor's URL must be http(s). Limits have defaults and caps
 * so a configuration cannot ask for an unbounded buffer.
 */
#include "tools/tools.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

static const char *const tier_names[CN_TIER_COUNT] = {"read", "write-low", "write-high", "external", "admin"};

const char *cn_tier_name(int tier) { return tier >= 0 && tier < CN_TIER_COUNT ? tier_names[tier] : "unknown"; }

int cn_tier_parse(const char *s)
{
	for (int i = 0; i < CN_TIER_COUNT; i++)
		if (s && !strcmp(s, tier_names[i]))
			return i;
	return -1;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cn_free(v[i]);
	cn_free(v);
}

static void tool_free(cn_tool *t)
{
	cn_free(t->name);
	cn_free(t->description);
	json_decref(t->schema);
	free_strv(t->principals, t->n_principals);
	free_strv(t->groups, t->n_groups);
	for (size_t i = 0; i < t->n_forbid; i++) {
		for (char **p = t->forbid[i]; p && *p; p++)
			cn_free(*p);
		cn_free(t->forbid[i]);
	}
	cn_free(t->forbid);
	cn_free(t->exec.url);
	free_strv(t->exec.argv, t->exec.argc);
	free_strv(t->exec.env, t->exec.n_env);
}

void cn_tools_config_free(cn_tools_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		tool_free(&c->tools[i]);
	cn_free(c->tools);
	cn_free(c->path);
	memset(c, 0, sizeof *c);
}

const cn_tool *cn_tools_find(const cn_tools_config *c, const char *name)
{
	for (size_t i = 0; name && i < c->n; i++)
		if (!strcmp(c->tools[i].name, name))
			return &c->tools[i];
	return NULL;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static cairn_status only_keys(const json_t *obj, const char *const *allowed, const char *where, cn_err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(k, *a);
		if (!ok) {
			cn_buf list;
			cn_buf_init(&list);
			for (const char *const *a = allowed; *a; a++)
				cn_buf_printf(&list, "%s%s", a == allowed ? "" : ", ", *a);
			cairn_status st = cn_err_set(err, CAIRN_EFORMAT, "%s: unknown key \"%s\" (known: %s)", where, k,
			                             list.data ? list.data : "");
			cn_buf_free(&list);
			return st;
		}
	}
	return CAIRN_OK;
}

static cairn_status str_list(const json_t *v, const char *where, char ***out, size_t *n, size_t max, cn_err *err)
{
	if (!json_is_array(v))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an array of strings", where);
	size_t m = json_array_size(v);
	if (m > max)
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: at most %zu entries", where, max);
	char **a = cn_calloc(m + 1, sizeof *a);
	if (!a)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < m; i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 4096 ||
		    strlen(json_string_value(s)) != json_string_length(s)) {
			free_strv(a, i);
			return cn_err_set(err, CAIRN_EFORMAT, "%s[%zu]: expected a non-empty string", where, i);
		}
		if (!(a[i] = cn_strdup(json_string_value(s)))) {
			free_strv(a, i);
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		}
	}
	*out = a;
	*n = m;
	return CAIRN_OK;
}

static cairn_status get_limit(const json_t *obj, const char *key, const char *where, double lo, double hi,
                              double *out, cn_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return CAIRN_OK;
	if (!(json_is_integer(v) || json_is_real(v)))
		return cn_err_set(err, CAIRN_EFORMAT, "%s.%s: expected a number", where, key);
	double d = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
	if (!(d >= lo && d <= hi))
		return cn_err_set(err, CAIRN_EFORMAT, "%s.%s: %g is outside %g..%g", where, key, d, lo, hi);
	*out = d;
	return CAIRN_OK;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static cairn_status parse_http(const json_t *h, const char *where, cn_executor *x, cn_err *err)
{
	static const char *const keys[] = {"url", "method", "timeout_ms", "max_response_bytes", NULL};
	char w[200];
	snprintf(w, sizeof w, "%s.http", where);
	if (!json_is_object(h))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object", w);
	cairn_status st = only_keys(h, keys, w, err);
	if (st)
		return st;
	json_t *u = json_object_get(h, "url");
	const char *url = json_string_value(u);
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) || strlen(url) > 2048)
		return cn_err_set(err, CAIRN_EFORMAT, "%s.url: expected an http:// or https:// URL", w);
	x->kind = CN_EXEC_HTTP;
	if (!(x->url = cn_strdup(url)))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	json_t *m = json_object_get(h, "method");
	if (m) {
		const char *ms = json_string_value(m);
		if (!ms || (strcmp(ms, "POST") && strcmp(ms, "GET")))
			return cn_err_set(err, CAIRN_EFORMAT, "%s.method: POST or GET", w);
		x->get = !strcmp(ms, "GET");
	}
	double t = 10000, cap = 1 << 20;
	if ((st = get_limit(h, "timeout_ms", w, 1, 600000, &t, err)) ||
	    (st = get_limit(h, "max_response_bytes", w, 1, 64 << 20, &cap, err)))
		return st;
	x->timeout_ms = (long)t;
	x->max_output = (size_t)cap;
	return CAIRN_OK;
}

static cairn_status parse_command(const json_t *c, const char *where, cn_executor *x, cn_err *err)
{
	static const char *const keys[] = {"argv", "args", "env", "timeout_ms", "max_output_bytes", NULL};
	char w[200];
	snprintf(w, sizeof w, "%s.command", where);
	if (!json_is_object(c))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object", w);
	cairn_status st = only_keys(c, keys, w, err);
	if (st)
		return st;
	x->kind = CN_EXEC_COMMAND;
	char w2[220];
	snprintf(w2, sizeof w2, "%s.argv", w);
	json_t *av = json_object_get(c, "argv");
	if (!av)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: missing", w2);
	if ((st = str_list(av, w2, &x->argv, &x->argc, 256, err)))
		return st;
	if (x->argc == 0 || x->argv[0][0] != '/')
		return cn_err_set(err, CAIRN_EFORMAT, "%s: argv[0] must be an absolute path (no PATH search, no shell)",
		                  w2);
	json_t *a = json_object_get(c, "args");
	if (a) {
		const char *as = json_string_value(a);
		if (!as || (strcmp(as, "argv") && strcmp(as, "stdin")))
			return cn_err_set(err, CAIRN_EFORMAT, "%s.args: \"argv\" (one JSON argument) or \"stdin\"", w);
		x->args_stdin = !strcmp(as, "stdin");
	}
	json_t *e = json_object_get(c, "env");
	if (e) {
		snprintf(w2, sizeof w2, "%s.env", w);
		if ((st = str_list(e, w2, &x->env, &x->n_env, 64, err)))
			return st;
		for (size_t i = 0; i < x->n_env; i++)
			if (strchr(x->env[i], '='))
				return cn_err_set(err, CAIRN_EFORMAT, "%s[%zu]: a variable name, not an assignment", w2, i);
	}
	double t = 10000, cap = 1 << 20;
	if ((st = get_limit(c, "timeout_ms", w, 1, 600000, &t, err)) ||
	    (st = get_limit(c, "max_output_bytes", w, 1, 64 << 20, &cap, err)))
		return st;
	x->timeout_ms = (long)t;
	x->max_output = (size_t)cap;
	return CAIRN_OK;
}

static cairn_status parse_tool(const json_t *o, size_t idx, const char *file, cn_tool *t, cn_err *err)
{
	static const char *const keys[] = {"name",   "description", "arguments", "tier",       "allow",   "rate",
	                                   "forbid", "max_string",  "http",      "command",    NULL};
	char w[160];
	snprintf(w, sizeof w, "%s: tools[%zu]", file, idx);
	if (!json_is_object(o))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object", w);
	const char *name = json_string_value(json_object_get(o, "name"));
	if (!name || !valid_name(name))
		return cn_err_set(err, CAIRN_EFORMAT,
		                  "%s.name: expected 1-64 letters, digits, '_' or '-' (the name a model calls)", w);
	snprintf(w, sizeof w, "%s: tool \"%s\"", file, name);
	cairn_status st = only_keys(o, keys, w, err);
	if (st)
		return st;
	if (!(t->name = cn_strdup(name)))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	json_t *d = json_object_get(o, "description");
	if (!json_is_string(d) || json_string_length(d) == 0 || json_string_length(d) > 4096)
		return cn_err_set(err, CAIRN_EFORMAT, "%s.description: expected a string of 1-4096 bytes", w);
	if (!(t->description = cn_strdup(json_string_value(d))))
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
	json_t *tier = json_object_get(o, "tier");
	if (!tier || (t->tier = cn_tier_parse(json_string_value(tier))) < 0)
		return cn_err_set(err, CAIRN_EFORMAT, "%s.tier: one of read, write-low, write-high, external, admin", w);
	json_t *s = json_object_get(o, "arguments");
	if (!s)
		return cn_err_set(err, CAIRN_EFORMAT, "%s.arguments: missing (the JSON Schema of the arguments)", w);
	char sw[200];
	snprintf(sw, sizeof sw, "%s.arguments", w);
	if ((st = cn_schema_check(s, sw, err)))
		return st;
	if (!json_is_object(s) || !json_is_string(json_object_get(s, "type")) ||
	    strcmp(json_string_value(json_object_get(s, "type")), "object"))
		return cn_err_set(err, CAIRN_EFORMAT, "%s: the arguments must be declared \"type\": \"object\"", sw);
	t->schema = json_incref(s);

	json_t *allow = json_object_get(o, "allow");
	if (allow) {
		static const char *const akeys[] = {"principals", "groups", NULL};
		char aw[200];
		snprintf(aw, sizeof aw, "%s.allow", w);
		if (!json_is_object(allow))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object", aw);
		if ((st = only_keys(allow, akeys, aw, err)))
			return st;
		json_t *p = json_object_get(allow, "principals"), *g = json_object_get(allow, "groups");
		char lw[220];
		snprintf(lw, sizeof lw, "%s.principals", aw);
		if (p && (st = str_list(p, lw, &t->principals, &t->n_principals, 1024, err)))
			return st;
		snprintf(lw, sizeof lw, "%s.groups", aw);
		if (g && (st = str_list(g, lw, &t->groups, &t->n_groups, 1024, err)))
			return st;
		if (t->n_principals + t->n_groups == 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: names nobody (leave \"allow\" out to allow everyone)", aw);
	}
	json_t *rate = json_object_get(o, "rate");
	if (rate) {
		static const char *const rkeys[] = {"per_minute", "burst", NULL};
		char rw[200];
		snprintf(rw, sizeof rw, "%s.rate", w);
		if (!json_is_object(rate))
			return cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object", rw);
		if ((st = only_keys(rate, rkeys, rw, err)))
			return st;
		if (!json_object_get(rate, "per_minute"))
			return cn_err_set(err, CAIRN_EFORMAT, "%s.per_minute: missing", rw);
		if ((st = get_limit(rate, "per_minute", rw, 0.001, 1e6, &t->rate_per_minute, err)))
			return st;
		t->rate_burst = CN_MAX(1.0, floor(t->rate_per_minute));
		if ((st = get_limit(rate, "burst", rw, 1, 1e6, &t->rate_burst, err)))
			return st;
	}
	json_t *forbid = json_object_get(o, "forbid");
	if (forbid) {
		if (!json_is_array(forbid) || json_array_size(forbid) > 256)
			return cn_err_set(err, CAIRN_EFORMAT, "%s.forbid: expected an array of field-name arrays", w);
		t->forbid = cn_calloc(json_array_size(forbid) + 1, sizeof *t->forbid);
		if (!t->forbid)
			return cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		for (size_t i = 0; i < json_array_size(forbid); i++) {
			char fw[220];
			snprintf(fw, sizeof fw, "%s.forbid[%zu]", w, i);
			size_t n = 0;
			if ((st = str_list(json_array_get(forbid, i), fw, &t->forbid[i], &n, 64, err)))
				return st;
			t->n_forbid = i + 1;
			if (n < 2)
				return cn_err_set(err, CAIRN_EFORMAT, "%s: a combination names at least two fields", fw);
		}
	}
	double ms = 4096;
	if ((st = get_limit(o, "max_string", w, 1, 1 << 20, &ms, err)))
		return st;
	t->max_string = (size_t)ms;
	json_t *h = json_object_get(o, "http"), *c = json_object_get(o, "command");
	if (!!h == !!c)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: exactly one executor, \"http\" or \"command\"", w);
	return h ? parse_http(h, w, &t->exec, err) : parse_command(c, w, &t->exec, err);
}

cairn_status cn_tools_config_parse(const char *text, size_t len, const char *where, cn_tools_config *out, cn_err *err)
{
	memset(out, 0, sizeof *out);
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: line %d column %d: %s", where, je.line, je.column, je.text);
	static const char *const keys[] = {"tools", "$comment", NULL};
	cairn_status st = CAIRN_OK;
	json_t *tools = NULL;
	if (!json_is_object(root)) {
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: expected an object {\"tools\": [...]}", where);
		goto out;
	}
	if ((st = only_keys(root, keys, where, err)))
		goto out;
	tools = json_object_get(root, "tools");
	if (!json_is_array(tools) || json_array_size(tools) == 0 || json_array_size(tools) > 256) {
		st = cn_err_set(err, CAIRN_EFORMAT, "%s: \"tools\" must be an array of 1-256 tools", where);
		goto out;
	}
	if (!(out->tools = cn_calloc(json_array_size(tools), sizeof *out->tools)) || !(out->path = cn_strdup(where))) {
		st = cn_err_set(err, CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(tools); i++) {
		out->n = i + 1;
		if ((st = parse_tool(json_array_get(tools, i), i, where, &out->tools[i], err)))
			goto out;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out->tools[j].name, out->tools[i].name)) {
				st = cn_err_set(err, CAIRN_EFORMAT, "%s: tool \"%s\" is declared twice", where, out->tools[i].name);
				goto out;
			}
	}
out:
	json_decref(root);
	if (st)
		cn_tools_config_free(out);
	return st;
}

cairn_status cn_tools_config_load(const char *path, cn_tools_config *out, cn_err *err)
{
	char *data = NULL;
	size_t len = 0;
	memset(out, 0, sizeof *out);
	cairn_status st = cn_file_read(path, 4 << 20, &data, &len, err);
	if (st)
		return st;
	st = cn_tools_config_parse(data, len, path, out, err);
	cn_free(data);
	return st;
}
