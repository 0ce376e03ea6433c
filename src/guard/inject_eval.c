/*
 * inject_eval — measuring the injection detector on labelled data (cairn eval injection).
 *
 * Attacks: Tensor Trust hijacking attacks and the Giskard list are direct (scored as
 * questions); BIPIA's text and code attack instructions are indirect, so each is planted into
 * clean BIPIA contexts — at the start, in the middle (at a line or sentence boundary) and at
 * the end of three contexts picked by a hash of the attack — and the context is scored as a
 * document. Benign: the questions of COVID-QA and the SciFact claims (as questions), every
 * clean BIPIA context, every paragraph of the COVID-QA papers, every SciFact abstract and every
 * paragraph of the repository's Markdown guide (as documents; docs/injection.md itself is left
 * out because its examples are attacks on purpose).
 *
 * Every item belongs to a tuning half or a held-out half by a hash of its text (for planted
 * attacks, of the attack), so the detector can be looked at on one half and reported on the
 * other; the halves are fixed, not re-drawn per run.
 */
#include "guard/inject.h"

#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#define SPLIT_SEED 0x1d5eedULL
#define MAX_FILE (64u << 20)

typedef struct ev {
	cairn_injection_eval_report *rep;
	cairn_injection_eval_item_fn on_item;
	void *ud;
	cn_err *err;
} ev;

static int half_of(const char *s, size_t n)
{
	return (int)(cn_hash64(s, n, SPLIT_SEED) >> 17 & 1);
}

static cairn_injection_eval_row *add_row(ev *e, const char *name, cairn_injection_kind kind, int attacks)
{
	cairn_injection_eval_report *r = e->rep;
	if (r->n_rows >= CAIRN_INJECTION_EVAL_MAX_ROWS)
		return NULL;
	cairn_injection_eval_row *row = &r->rows[r->n_rows++];
	memset(row, 0, sizeof *row);
	snprintf(row->dataset, sizeof row->dataset, "%s", name);
	row->kind = kind;
	row->attacks = attacks;
	return row;
}

/* Scores one item; split_key decides its half (the text itself when NULL). */
static cairn_status score(ev *e, cairn_injection_eval_row *row, const char *text, size_t len, const char *split_key,
                          size_t key_len)
{
	if (!row)
		return CAIRN_OK;
	row->present = 1;
	int h = split_key ? half_of(split_key, key_len) : half_of(text, len);
	cairn_injection_result res;
	cairn_status st = cn_inject_scan(text, len, row->kind, &res, e->err);
	if (st != CAIRN_OK)
		return st;
	row->n[h]++;
	if (res.flagged)
		row->flagged[h]++;
	if (e->on_item)
		e->on_item(row, h, text, len, &res, e->ud);
	return CAIRN_OK;
}

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = cn_malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Calls fn on every line of a JSON Lines file that parses as an object. */
typedef cairn_status (*jsonl_fn)(ev *e, json_t *obj, void *ctx);

static cairn_status each_jsonl(ev *e, const char *path, jsonl_fn fn, void *ctx)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_FILE, &data, &len, e->err);
	if (st != CAIRN_OK)
		return st;
	size_t i = 0, line = 0;
	while (i < len && st == CAIRN_OK) {
		size_t j = i;
		while (j < len && data[j] != '\n')
			j++;
		line++;
		size_t a = i, b = j;
		while (a < b && (data[a] == ' ' || data[a] == '\r' || data[a] == '\t'))
			a++;
		if (b > a) {
			json_error_t je;
			json_t *o = json_loadb(data + a, b - a, 0, &je);
			if (!o || !json_is_object(o)) {
				json_decref(o);
				st = cn_err_set(e->err, CAIRN_EFORMAT, "%s:%zu: not a JSON object", path, line);
				break;
			}
			st = fn(e, o, ctx);
			json_decref(o);
		}
		i = j + 1;
	}
	cn_free(data);
	return st;
}

typedef struct field_ctx {
	cairn_injection_eval_row *row;
	const char *field;
} field_ctx;

static cairn_status score_field(ev *e, json_t *o, void *vctx)
{
	field_ctx *c = vctx;
	json_t *v = json_object_get(o, c->field);
	if (!json_is_string(v))
		return CAIRN_OK;
	return score(e, c->row, json_string_value(v), json_string_length(v), NULL, 0);
}

/* ---- contexts of BIPIA, kept for planting attacks ---------------------------------- */

typedef struct ctx_list {
	char **s;
	size_t *len;
	size_t n, cap, lcap;
} ctx_list;

static cairn_status collect_context(ev *e, json_t *o, void *vctx)
{
	ctx_list *l = vctx;
	json_t *v = json_object_get(o, "context");
	cn_buf b;
	cn_buf_init(&b);
	if (json_is_string(v)) {
		cn_buf_append(&b, json_string_value(v), json_string_length(v));
	} else if (json_is_array(v)) { /* Code QA: the answer as a list of lines */
		size_t i;
		json_t *line;
		json_array_foreach(v, i, line)
		{
			if (!json_is_string(line))
				continue;
			if (i)
				cn_buf_putc(&b, '\n');
			cn_buf_append(&b, json_string_value(line), json_string_length(line));
		}
	}
	if (!b.len) {
		cn_buf_free(&b);
		return CAIRN_OK;
	}
	if (b.failed || CN_GROW(l->s, l->cap, l->n + 1) != CAIRN_OK || CN_GROW(l->len, l->lcap, l->n + 1) != CAIRN_OK) {
		cn_buf_free(&b);
		return cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
	}
	l->len[l->n] = b.len;
	l->s[l->n++] = cn_buf_take(&b);
	return CAIRN_OK;
}

static void ctx_free(ctx_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cn_free(l->s[i]);
	cn_free(l->s);
	cn_free(l->len);
	memset(l, 0, sizeof *l);
}

static cairn_status load_contexts(ev *e, const char *dir, const char *sub, ctx_list *l)
{
	static const char *const splits[] = {"train.jsonl", "test.jsonl"};
	for (size_t k = 0; k < 2; k++) {
		char *d = path_join(dir, sub);
		char *p = d ? path_join(d, splits[k]) : NULL;
		cn_free(d);
		if (!p)
			return cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
		cairn_status st = CAIRN_OK;
		if (cn_path_exists(p))
			st = each_jsonl(e, p, collect_context, l);
		cn_free(p);
		if (st != CAIRN_OK)
			return st;
	}
	return CAIRN_OK;
}

/* Where to plant in the middle: after the line break nearest the middle, else after a ". ". */
static size_t middle_of(const char *s, size_t n)
{
	size_t m = n / 2;
	for (size_t d = 0; d < n / 2; d++) {
		if (m + d < n && s[m + d] == '\n')
			return m + d + 1;
		if (m >= d + 1 && s[m - d - 1] == '\n')
			return m - d;
	}
	for (size_t i = m; i + 1 < n; i++)
		if (s[i] == '.' && s[i + 1] == ' ')
			return i + 2;
	return n;
}

static cairn_status plant(ev *e, cairn_injection_eval_row *row, const char *atk, size_t alen, const ctx_list *ctx)
{
	if (!ctx->n)
		return CAIRN_OK;
	uint64_t h = cn_hash64(atk, alen, 0xb1b1aULL);
	cn_buf b;
	cn_buf_init(&b);
	cairn_status st = CAIRN_OK;
	for (uint64_t k = 0; k < 3 && st == CAIRN_OK; k++) {
		size_t ci = (size_t)((h + k * 7919u) % ctx->n);
		const char *c = ctx->s[ci];
		size_t cn = ctx->len[ci];
		size_t at = k == 0 ? 0 : k == 1 ? middle_of(c, cn) : cn;
		cn_buf_reset(&b);
		cn_buf_append(&b, c, at);
		if (at > 0 && c[at - 1] != '\n')
			cn_buf_putc(&b, '\n');
		cn_buf_append(&b, atk, alen);
		cn_buf_putc(&b, '\n');
		cn_buf_append(&b, c + at, cn - at);
		if (b.failed) {
			st = cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		st = score(e, row, b.data, b.len, atk, alen);
	}
	cn_buf_free(&b);
	return st;
}

static cairn_status bipia_attacks(ev *e, const char *dir, const char *kind, cairn_injection_eval_row *row,
                                  const ctx_list *ctx)
{
	static const char *const splits[] = {"train", "test"};
	for (size_t k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof name, "%s_attack_%s.json", kind, splits[k]);
		char *p = path_join(dir, name);
		if (!p)
			return cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
		if (!cn_path_exists(p)) {
			cn_free(p);
			continue;
		}
		json_error_t je;
		json_t *root = json_load_file(p, 0, &je);
		if (!json_is_object(root)) {
			json_decref(root);
			cairn_status st = cn_err_set(e->err, CAIRN_EFORMAT, "%s:%d: not a JSON object of attack lists", p, je.line);
			cn_free(p);
			return st;
		}
		cn_free(p);
		const char *key;
		json_t *arr;
		cairn_status st = CAIRN_OK;
		json_object_foreach(root, key, arr)
		{
			(void)key;
			size_t i;
			json_t *a;
			json_array_foreach(arr, i, a)
			{
				if (st == CAIRN_OK && json_is_string(a))
					st = plant(e, row, json_string_value(a), json_string_length(a), ctx);
			}
		}
		json_decref(root);
		if (st != CAIRN_OK)
			return st;
	}
	return CAIRN_OK;
}

/* ---- Giskard CSV (RFC 4180): the "prompt" column ------------------------------------ */

static cairn_status giskard(ev *e, const char *path, cairn_injection_eval_row *row)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_FILE, &data, &len, e->err);
	if (st != CAIRN_OK)
		return st;
	cn_buf field;
	cn_buf_init(&field);
	size_t i = 0, col = 0, rec = 0;
	long prompt_col = -1;
	while (i <= len && st == CAIRN_OK) {
		cn_buf_reset(&field);
		if (i < len && data[i] == '"') {
			i++;
			while (i < len) {
				if (data[i] == '"') {
					if (i + 1 < len && data[i + 1] == '"') {
						cn_buf_putc(&field, '"');
						i += 2;
						continue;
					}
					i++;
					break;
				}
				cn_buf_putc(&field, data[i++]);
			}
		} else {
			while (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r')
				cn_buf_putc(&field, data[i++]);
		}
		if (field.failed) {
			st = cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		if (rec == 0 && field.data && !strcmp(field.data, "prompt"))
			prompt_col = (long)col;
		else if (rec > 0 && (long)col == prompt_col && field.len)
			st = score(e, row, field.data, field.len, NULL, 0);
		if (i < len && data[i] == ',') {
			col++;
			i++;
		} else {
			while (i < len && (data[i] == '\r' || data[i] == '\n')) {
				if (data[i] == '\n')
					break;
				i++;
			}
			i++;
			col = 0;
			rec++;
		}
	}
	if (st == CAIRN_OK && prompt_col < 0)
		st = cn_err_set(e->err, CAIRN_EFORMAT, "%s: no \"prompt\" column in the header", path);
	cn_buf_free(&field);
	cn_free(data);
	return st;
}

/* ---- SQuAD questions ---------------------------------------------------------------- */

static cairn_status squad_questions(ev *e, const char *path, cairn_injection_eval_row *row)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return cn_err_set(e->err, CAIRN_EFORMAT, "%s:%d: %s", path, je.line, je.text);
	json_t *data = json_object_get(root, "data");
	cairn_status st = CAIRN_OK;
	if (!json_is_array(data)) {
		json_decref(root);
		return cn_err_set(e->err, CAIRN_EFORMAT, "%s: no \"data\" array", path);
	}
	size_t i, j, k;
	json_t *art, *par, *qa;
	json_array_foreach(data, i, art)
	{
		json_array_foreach(json_object_get(art, "paragraphs"), j, par)
		{
			json_array_foreach(json_object_get(par, "qas"), k, qa)
			{
				json_t *q = json_object_get(qa, "question");
				if (st == CAIRN_OK && json_is_string(q))
					st = score(e, row, json_string_value(q), json_string_length(q), NULL, 0);
			}
		}
	}
	json_decref(root);
	return st;
}

/* ---- SQuAD contexts, one item per paragraph (line) ----------------------------------- */

static cairn_status squad_paragraphs(ev *e, const char *path, cairn_injection_eval_row *row)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return cn_err_set(e->err, CAIRN_EFORMAT, "%s:%d: %s", path, je.line, je.text);
	cairn_status st = CAIRN_OK;
	size_t i, j;
	json_t *art, *par;
	json_array_foreach(json_object_get(root, "data"), i, art)
	{
		json_array_foreach(json_object_get(art, "paragraphs"), j, par)
		{
			json_t *c = json_object_get(par, "context");
			if (st != CAIRN_OK || !json_is_string(c))
				continue;
			const char *t = json_string_value(c);
			size_t n = json_string_length(c), a = 0;
			while (a < n && st == CAIRN_OK) {
				size_t b = a;
				while (b < n && t[b] != '\n')
					b++;
				if (b - a >= 40) /* skip headings and fragments */
					st = score(e, row, t + a, b - a, NULL, 0);
				a = b + 1;
			}
		}
	}
	json_decref(root);
	return st;
}

/* ---- Markdown paragraphs ------------------------------------------------------------ */

static cairn_status md_paragraphs(ev *e, const char *path, cairn_injection_eval_row *row)
{
	char *data = NULL;
	size_t len = 0;
	cairn_status st = cn_file_read(path, MAX_FILE, &data, &len, e->err);
	if (st != CAIRN_OK)
		return st;
	size_t i = 0, start = 0;
	bool in_code = false, has_text = false;
	while (i <= len && st == CAIRN_OK) {
		size_t j = i;
		while (j < len && data[j] != '\n')
			j++;
		size_t a = i;
		while (a < j && (data[a] == ' ' || data[a] == '\t'))
			a++;
		bool blank = a == j;
		if (j - a >= 3 && (!strncmp(data + a, "```", 3) || !strncmp(data + a, "~~~", 3)))
			in_code = !in_code;
		bool end = i >= len || (blank && !in_code);
		if (end) {
			if (has_text)
				st = score(e, row, data + start, i - start, NULL, 0);
			start = j + 1;
			has_text = false;
		} else {
			has_text = true;
		}
		i = j + 1;
	}
	cn_free(data);
	return st;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cairn_status md_dir(ev *e, const char *dir, cairn_injection_eval_row *row, int depth)
{
	if (depth > 8)
		return CAIRN_OK;
	DIR *d = opendir(dir);
	if (!d)
		return cn_err_set(e->err, CAIRN_ENOTFOUND, "%s: cannot open directory", dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	cairn_status st = CAIRN_OK;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (CN_GROW(names, cap, n + 1) != CAIRN_OK || !(names[n] = cn_strdup(de->d_name))) {
			st = cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n && st == CAIRN_OK; i++) {
		char *p = path_join(dir, names[i]);
		if (!p) {
			st = cn_err_set(e->err, CAIRN_ENOMEM, "out of memory");
			break;
		}
		size_t nl = strlen(names[i]);
		if (cn_is_dir(p))
			st = md_dir(e, p, row, depth + 1);
		else if (nl > 3 && !strcmp(names[i] + nl - 3, ".md") && strcmp(names[i], "injection.md") != 0)
			st = md_paragraphs(e, p, row);
		cn_free(p);
	}
	for (size_t i = 0; i < n; i++)
		cn_free(names[i]);
	cn_free(names);
	return st;
}

/* ---- the whole evaluation ----------------------------------------------------------- */

static cairn_status run_all(ev *e, const char *root, const char *docs_dir)
{
	cairn_status st = CAIRN_OK;
	char *p = NULL, *d = NULL;
#define JOIN2(a, b) (cn_free(p), p = path_join((a), (b)))

	/* attacks, direct */
	cairn_injection_eval_row *row = add_row(e, "tensor-trust hijacking", CAIRN_INJECTION_QUESTION, 1);
	JOIN2(root, "tensor-trust/hijacking_robustness_dataset.jsonl");
	if (p && cn_path_exists(p)) {
		field_ctx fc = {row, "attack"};
		st = each_jsonl(e, p, score_field, &fc);
	}
	row = add_row(e, "giskard prompt injections", CAIRN_INJECTION_QUESTION, 1);
	if (st == CAIRN_OK && JOIN2(root, "giskard-prompt-injections/prompt_injections.csv") && cn_path_exists(p))
		st = giskard(e, p, row);

	/* BIPIA: contexts, then attacks planted into them */
	ctx_list text_ctx = {0}, code_ctx = {0};
	d = path_join(root, "bipia");
	if (st == CAIRN_OK && d && cn_is_dir(d)) {
		st = load_contexts(e, d, "email", &text_ctx);
		if (st == CAIRN_OK)
			st = load_contexts(e, d, "table", &text_ctx);
		if (st == CAIRN_OK)
			st = load_contexts(e, d, "code", &code_ctx);
	}
	row = add_row(e, "bipia text attacks (planted)", CAIRN_INJECTION_DOCUMENT, 1);
	if (st == CAIRN_OK && d && cn_is_dir(d))
		st = bipia_attacks(e, d, "text", row, &text_ctx);
	row = add_row(e, "bipia code attacks (planted)", CAIRN_INJECTION_DOCUMENT, 1);
	if (st == CAIRN_OK && d && cn_is_dir(d))
		st = bipia_attacks(e, d, "code", row, &code_ctx);

	/* benign questions */
	row = add_row(e, "covid-qa questions", CAIRN_INJECTION_QUESTION, 0);
	if (st == CAIRN_OK && JOIN2(root, "covid-qa-prerelease/covidQA.part-a.json") && cn_path_exists(p))
		st = squad_questions(e, p, row);
	row = add_row(e, "scifact claims", CAIRN_INJECTION_QUESTION, 0);
	if (st == CAIRN_OK && JOIN2(root, "scifact-beir/queries.jsonl") && cn_path_exists(p)) {
		field_ctx fc = {row, "text"};
		st = each_jsonl(e, p, score_field, &fc);
	}

	/* benign documents */
	static const char *const subs[] = {"email", "table", "code"};
	for (size_t k = 0; k < 3 && st == CAIRN_OK; k++) {
		char name[64];
		snprintf(name, sizeof name, "bipia clean %s contexts", subs[k]);
		row = add_row(e, name, CAIRN_INJECTION_DOCUMENT, 0);
		if (!d || !cn_is_dir(d))
			continue;
		ctx_list l = {0};
		st = load_contexts(e, d, subs[k], &l);
		for (size_t i = 0; i < l.n && st == CAIRN_OK; i++)
			st = score(e, row, l.s[i], l.len[i], NULL, 0);
		ctx_free(&l);
	}
	/* more benign documents than the issue asks for: scientific prose */
	row = add_row(e, "covid-qa paper paragraphs", CAIRN_INJECTION_DOCUMENT, 0);
	if (st == CAIRN_OK && JOIN2(root, "covid-qa-prerelease/covidQA.part-a.json") && cn_path_exists(p))
		st = squad_paragraphs(e, p, row);
	row = add_row(e, "scifact abstracts", CAIRN_INJECTION_DOCUMENT, 0);
	if (st == CAIRN_OK && JOIN2(root, "scifact-beir/corpus.jsonl") && cn_path_exists(p)) {
		field_ctx fc = {row, "text"};
		st = each_jsonl(e, p, score_field, &fc);
	}
	row = add_row(e, "docs/ paragraphs", CAIRN_INJECTION_DOCUMENT, 0);
	if (st == CAIRN_OK && docs_dir && cn_is_dir(docs_dir))
		st = md_dir(e, docs_dir, row, 0);

	ctx_free(&text_ctx);
	ctx_free(&code_ctx);
	cn_free(d);
	cn_free(p);
#undef JOIN2
	return st;
}

cairn_status cairn_injection_eval(const char *data_root, const char *docs_dir, cairn_injection_eval_item_fn on_item,
                                  void *user_data, cairn_injection_eval_report *out, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = CAIRN_OK;
	if (!out || !data_root) {
		st = cn_err_set(&err, CAIRN_EINVAL, "eval injection: NULL argument");
	} else {
		memset(out, 0, sizeof *out);
		if (!cn_is_dir(data_root))
			st = cn_err_set(&err, CAIRN_ENOTFOUND, "%s: not a directory (expected the data sets' parent)", data_root);
	}
	if (st == CAIRN_OK) {
		uint64_t t0 = cn_now_ns();
		ev e = {out, on_item, user_data, &err};
		st = run_all(&e, data_root, docs_dir);
		if (st != CAIRN_OK && err.code == CAIRN_OK)
			cn_err_set(&err, st, "eval injection: %s", cairn_status_name(st));
		for (size_t i = 0; i < out->n_rows; i++) {
			const cairn_injection_eval_row *r = &out->rows[i];
			for (int h = 0; h < 2; h++) {
				if (r->attacks) {
					out->attacks[h] += r->n[h];
					out->detected[h] += r->flagged[h];
				} else {
					out->benign[h] += r->n[h];
					out->false_pos[h] += r->flagged[h];
				}
			}
		}
		out->seconds = (double)(cn_now_ns() - t0) / 1e9;
	}
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", st == CAIRN_OK ? "" : err.msg);
	return st;
}
