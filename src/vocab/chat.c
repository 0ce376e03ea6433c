/*
 * chat.c — the chat templates cairn formats, their detection from Jinja source, and the
 * formatters.
 *
 * Each formatter reproduces one shipped template, whitespace included, as Hugging Face
 * renders it (jinja2 with trim_blocks and lstrip_blocks): where templates of one family
 * differ in a way that changes bytes (Mistral's v1/v3/tekken spacing, where the system
 * prompt goes), they are separate kinds, told apart by markers as llama.cpp does. Jinja's
 * `trim` / `.strip()` are applied where the template applies them (ASCII whitespace: the
 * Unicode spaces Python would also strip are rare enough at message ends not to matter).
 * Templates without a system role (Gemma, Mistral v0) fold a system message into the first
 * user turn, as their later versions do, instead of refusing it as the Jinja would.
 */
#include "vocab/chat.h"

#include <string.h>

typedef struct kind_info {
	const char *name;
	bool leading_bos;
	const char *stop;
} kind_info;

static const kind_info KINDS[CN_CHAT_KIND_COUNT] = {
	[CN_CHAT_CHATML] = {"chatml", false, "<|im_end|>"},
	[CN_CHAT_LLAMA3] = {"llama3", true, "<|eot_id|>"},
	[CN_CHAT_LLAMA2] = {"llama2", true, NULL},
	[CN_CHAT_MISTRAL_V0] = {"mistral-v0", true, NULL},
	[CN_CHAT_MISTRAL_V1] = {"mistral-v1", true, NULL},
	[CN_CHAT_MISTRAL_V3] = {"mistral-v3", true, NULL},
	[CN_CHAT_MISTRAL_V3_TEKKEN] = {"mistral-v3-tekken", true, NULL},
	[CN_CHAT_MISTRAL_V7] = {"mistral-v7", true, NULL},
	[CN_CHAT_MISTRAL_V7_TEKKEN] = {"mistral-v7-tekken", true, NULL},
	[CN_CHAT_PHI3] = {"phi3", true, "<|end|>"},
	[CN_CHAT_GEMMA] = {"gemma", true, "<end_of_turn>"},
	[CN_CHAT_ZEPHYR] = {"zephyr", false, NULL},
	[CN_CHAT_DEEPSEEK] = {"deepseek", true, "<|EOT|>"},
	[CN_CHAT_COMMAND_R] = {"command-r", true, "<|END_OF_TURN_TOKEN|>"},
};

static const char NAMES[] = "chatml, llama3, llama2, mistral-v0, mistral-v1, mistral-v3, mistral-v3-tekken, "
                            "mistral-v7, mistral-v7-tekken, phi3, gemma, zephyr, deepseek, command-r";

const char *cn_chat_template_names(void) { return NAMES; }

static void init_kind(cn_chat_template *t, cn_chat_kind k)
{
	memset(t, 0, sizeof(*t));
	t->kind = k;
	t->name = KINDS[k].name;
	t->leading_bos = KINDS[k].leading_bos;
	t->stop = KINDS[k].stop;
}

static bool find_kind(const char *name, size_t len, cn_chat_kind *k)
{
	for (int i = 0; i < CN_CHAT_KIND_COUNT; i++)
		if (strlen(KINDS[i].name) == len && !memcmp(KINDS[i].name, name, len)) {
			*k = (cn_chat_kind)i;
			return true;
		}
	return false;
}

cairn_status cn_chat_template_named(const char *name, cn_chat_template *out, cn_err *err)
{
	cn_chat_kind k;
	memset(out, 0, sizeof(*out));
	if (!name || !find_kind(name, strlen(name), &k))
		return cn_err_set(err, CAIRN_ENOTFOUND, "chat template '%s' is unknown; known templates: %s",
		                  name ? name : "(null)", NAMES);
	init_kind(out, k);
	if (k == CN_CHAT_DEEPSEEK) {
		/* the default system prompt of deepseek-coder-*-instruct's template */
		out->default_system = cn_strdup(
		    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek "
		    "Company, and you only answer questions related to computer science. For politically sensitive "
		    "questions, security and privacy issues, and other non-computer science questions, you will refuse "
		    "to answer\n");
		if (!out->default_system)
			return cn_err_set(err, CAIRN_ENOMEM, "chat template: out of memory");
	}
	return CAIRN_OK;
}

void cn_chat_template_free(cn_chat_template *t)
{
	if (!t)
		return;
	cn_free(t->default_system);
	t->default_system = NULL;
}

/* ---- detection ----------------------------------------------------------------------------- */

typedef struct src {
	const char *p;
	size_t n;
} src;

static const char *find(src s, const char *needle)
{
	size_t m = strlen(needle);
	if (m == 0 || m > s.n)
		return NULL;
	for (size_t i = 0; i + m <= s.n; i++)
		if (s.p[i] == needle[0] && !memcmp(s.p + i, needle, m))
			return s.p + i;
	return NULL;
}

static bool has(src s, const char *needle) { return find(s, needle) != NULL; }

/* Reads the Jinja string literal whose opening quote is at q (bounded by end), unescaping
 * \n \t \\ \' \". NULL when it is not a closed literal. */
static char *read_literal(const char *q, const char *end, size_t *len)
{
	if (q >= end || (*q != '\'' && *q != '"'))
		return NULL;
	char quote = *q++;
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_append(&b, "", 0);
	for (; q < end && *q != quote; q++) {
		char c = *q;
		if (c == '\\' && q + 1 < end) {
			q++;
			c = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q == 'r' ? '\r' : *q;
		}
		cn_buf_putc(&b, c);
	}
	if (q >= end || b.failed) {
		cn_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return cn_buf_take(&b);
}

/* ChatML templates that add a system message when the conversation has none (Qwen2, Qwen2.5,
 * SmolLM2): the literal '<|im_start|>system\n…<|im_end|>\n' with text in the middle. */
static char *chatml_default_system(src s)
{
	static const char open[] = "<|im_start|>system";
	const char *end = s.p + s.n;
	src rest = s;
	const char *at;
	while ((at = find(rest, open)) != NULL) {
		if (at > s.p && (at[-1] == '\'' || at[-1] == '"')) {
			size_t len;
			char *lit = read_literal(at - 1, end, &len);
			static const char pre[] = "<|im_start|>system\n", post[] = "<|im_end|>\n";
			size_t a = sizeof(pre) - 1, b = sizeof(post) - 1;
			if (lit && len > a + b && !memcmp(lit + len - b, post, b)) {
				memmove(lit, lit + a, len - a - b);
				lit[len - a - b] = '\0';
				return lit;
			}
			cn_free(lit);
		}
		size_t skip = (size_t)(at - rest.p) + 1;
		rest.p += skip;
		rest.n -= skip;
	}
	return NULL;
}

/* deepseek-coder: {%- if not ns.found -%} {{'…default…'}} */
static char *deepseek_default_system(src s)
{
	const char *at = find(s, "not ns.found");
	if (!at)
		return NULL;
	src rest = {at, (size_t)(s.p + s.n - at)};
	const char *open = find(rest, "{{");
	if (!open)
		return NULL;
	open += 2;
	while (open < s.p + s.n && (*open == ' ' || *open == '-'))
		open++;
	size_t len;
	return read_literal(open, s.p + s.n, &len);
}

cairn_status cn_chat_template_detect(const char *jinja, size_t len, cn_chat_template *out, cn_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!jinja || len == 0)
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "the model has no chat template (tokenizer.chat_template); name one of: %s", NAMES);
	src s = {jinja, len};
	cn_chat_kind k;
	if (find_kind(jinja, len, &k))
		return cn_chat_template_named(KINDS[k].name, out, err);
	bool ok = true;
	if (has(s, "<|im_start|>") && !has(s, "<|im_sep|>") && !has(s, "<end_of_utterance>")) {
		init_kind(out, CN_CHAT_CHATML);
		out->default_system = chatml_default_system(s);
	} else if ((len >= 7 && !memcmp(jinja, "mistral", 7)) || has(s, "[INST]")) {
		if (has(s, "[SYSTEM_PROMPT]"))
			init_kind(out, has(s, "[SYSTEM_PROMPT] ") || has(s, "[INST] ") ? CN_CHAT_MISTRAL_V7
			                                                               : CN_CHAT_MISTRAL_V7_TEKKEN);
		else if (has(s, "' [INST] ' + system_message") || has(s, "[AVAILABLE_TOOLS]")) {
			if (has(s, " [INST]"))
				init_kind(out, CN_CHAT_MISTRAL_V1);
			else if (has(s, "\"[INST]\""))
				init_kind(out, CN_CHAT_MISTRAL_V3_TEKKEN);
			else
				init_kind(out, CN_CHAT_MISTRAL_V3);
		} else if (has(s, "<<SYS>>"))
			init_kind(out, CN_CHAT_LLAMA2);
		else
			init_kind(out, CN_CHAT_MISTRAL_V0);
	} else if (has(s, "<|assistant|>") && has(s, "<|end|>")) {
		init_kind(out, CN_CHAT_PHI3);
	} else if (has(s, "<|user|>") && (has(s, "eos_token") || has(s, "<|endoftext|>")) && !has(s, "[gMASK]")) {
		init_kind(out, CN_CHAT_ZEPHYR);
	} else if (has(s, "<start_of_turn>")) {
		init_kind(out, CN_CHAT_GEMMA);
	} else if (has(s, "### Instruction:") && has(s, "<|EOT|>")) {
		init_kind(out, CN_CHAT_DEEPSEEK);
		out->default_system = deepseek_default_system(s);
	} else if (has(s, "<|START_OF_TURN_TOKEN|>") && has(s, "<|USER_TOKEN|>")) {
		init_kind(out, CN_CHAT_COMMAND_R);
	} else if (has(s, "<|start_header_id|>") && has(s, "<|end_header_id|>")) {
		init_kind(out, CN_CHAT_LLAMA3);
		out->gen_always = !has(s, "add_generation_prompt");
	} else {
		ok = false;
	}
	if (!ok) {
		char head[64];
		size_t h = 0;
		for (size_t i = 0; i < len && h + 1 < sizeof head; i++)
			head[h++] = (jinja[i] >= 0x20 && jinja[i] < 0x7f) ? jinja[i] : ' ';
		head[h] = '\0';
		return cn_err_set(err, CAIRN_EUNSUPPORTED,
		                  "the model's chat template (\"%s%s\", %zu bytes) is not one cairn recognises; "
		                  "choose one by name: %s",
		                  head, len > h ? "…" : "", len, NAMES);
	}
	out->leading_bos = has(s, "bos_token");
	/* Phi-3-small's: {% else %}{{ eos_token }} closes a conversation without a generation prompt */
	out->eos_without_gen = out->kind == CN_CHAT_PHI3 && has(s, "{% else %}{{ eos_token }}");
	return CAIRN_OK;
}

/* ---- formatting ---------------------------------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static void put_trim(cn_buf *b, const char *s)
{
	size_t n = strlen(s), i = 0;
	while (i < n && is_space(s[i]))
		i++;
	while (n > i && is_space(s[n - 1]))
		n--;
	cn_buf_append(b, s + i, n - i);
}

static bool role_is(const cn_chat_msg *m, const char *r) { return !strcmp(m->role, r); }

/* Roles after an optional leading system message must go user, assistant, user, …: the
 * [INST] and Gemma templates raise an exception otherwise. */
static cairn_status check_alternation(const cn_chat_template *t, const cn_chat_msg *msgs, size_t n, size_t first,
                                      cn_err *err)
{
	for (size_t i = first; i < n; i++) {
		const char *want = (i - first) % 2 == 0 ? "user" : "assistant";
		if (!role_is(&msgs[i], want))
			return cn_err_set(err, CAIRN_EINVAL,
			                  "chat template %s: message %zu has role '%s' where '%s' was expected (after an "
			                  "optional first system message, roles must alternate user/assistant)",
			                  t->name, i + 1, msgs[i].role, want);
	}
	return CAIRN_OK;
}

static cairn_status check_roles(const cn_chat_template *t, const cn_chat_msg *msgs, size_t n, cn_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].role || !msgs[i].content)
			return cn_err_set(err, CAIRN_EINVAL, "chat template %s: message %zu has no role or no content", t->name,
			                  i + 1);
		bool known = role_is(&msgs[i], "system") || role_is(&msgs[i], "user") || role_is(&msgs[i], "assistant");
		bool any_role = t->kind == CN_CHAT_CHATML || t->kind == CN_CHAT_LLAMA3 || t->kind == CN_CHAT_PHI3 ||
		                t->kind == CN_CHAT_ZEPHYR;
		if (!known && !any_role)
			return cn_err_set(err, CAIRN_EINVAL,
			                  "chat template %s: message %zu has role '%s'; this template knows system, user and "
			                  "assistant",
			                  t->name, i + 1, msgs[i].role);
		if (i > 0 && role_is(&msgs[i], "system") && t->kind != CN_CHAT_CHATML && t->kind != CN_CHAT_LLAMA3 &&
		    t->kind != CN_CHAT_PHI3 && t->kind != CN_CHAT_ZEPHYR && t->kind != CN_CHAT_DEEPSEEK &&
		    t->kind != CN_CHAT_MISTRAL_V7 && t->kind != CN_CHAT_MISTRAL_V7_TEKKEN)
			return cn_err_set(err, CAIRN_EINVAL,
			                  "chat template %s: message %zu is a system message; this template takes one only "
			                  "as the first message",
			                  t->name, i + 1);
	}
	return CAIRN_OK;
}

static cairn_status fmt_inst(const cn_chat_template *t, const cn_chat_msg *msgs, size_t n, const char *bos,
                             const char *eos, cn_buf *b, cn_err *err)
{
	const char *sys = n > 0 && role_is(&msgs[0], "system") ? msgs[0].content : NULL;
	size_t first = sys ? 1 : 0;
	cairn_status rc = check_alternation(t, msgs, n, first, err);
	if (rc)
		return rc;
	for (size_t i = first; i < n; i++) {
		const cn_chat_msg *m = &msgs[i];
		bool user = role_is(m, "user"), loop_first = i == first, loop_last = i + 1 == n;
		switch (t->kind) {
		case CN_CHAT_LLAMA2:
			/* {{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}, the system prompt in
			 * <<SYS>> inside the first turn's content; the very first BOS is the caller's */
			if (user) {
				if (!loop_first)
					cn_buf_puts(b, bos);
				cn_buf_puts(b, "[INST] ");
				if (loop_first && sys) {
					cn_buf t2;
					cn_buf_init(&t2);
					cn_buf_puts(&t2, "<<SYS>>\n");
					cn_buf_puts(&t2, sys);
					cn_buf_puts(&t2, "\n<</SYS>>\n\n");
					cn_buf_puts(&t2, m->content);
					if (t2.failed) {
						cn_buf_free(&t2);
						return cn_err_set(err, CAIRN_ENOMEM, "chat template: out of memory");
					}
					put_trim(b, t2.data ? t2.data : "");
					cn_buf_free(&t2);
				} else {
					put_trim(b, m->content);
				}
				cn_buf_puts(b, " [/INST]");
			} else {
				cn_buf_puts(b, " ");
				put_trim(b, m->content);
				cn_buf_puts(b, " ");
				cn_buf_puts(b, eos);
			}
			break;
		case CN_CHAT_MISTRAL_V0:
			if (user) {
				cn_buf_puts(b, "[INST] ");
				if (loop_first && sys) {
					cn_buf_puts(b, sys);
					cn_buf_puts(b, "\n\n");
				}
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, " [/INST]");
			} else {
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, eos);
			}
			break;
		case CN_CHAT_MISTRAL_V1:
			if (user) {
				cn_buf_puts(b, " [INST] ");
				if (loop_first && sys) {
					cn_buf_puts(b, sys);
					cn_buf_puts(b, "\n\n");
				}
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, " [/INST]");
			} else {
				cn_buf_puts(b, " ");
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, eos);
			}
			break;
		default: /* v3 and v3-tekken: the system prompt joins the last message when it is a user's */
		{
			bool tekken = t->kind == CN_CHAT_MISTRAL_V3_TEKKEN;
			if (user) {
				cn_buf_puts(b, tekken ? "[INST]" : "[INST] ");
				if (loop_last && sys) {
					cn_buf_puts(b, sys);
					cn_buf_puts(b, "\n\n");
				}
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, "[/INST]");
			} else if (tekken) {
				cn_buf_puts(b, m->content);
				cn_buf_puts(b, eos);
			} else {
				cn_buf_puts(b, " ");
				put_trim(b, m->content);
				cn_buf_puts(b, eos);
			}
		}
		}
	}
	return CAIRN_OK;
}

cairn_status cn_chat_apply(const cn_chat_template *t, const cn_chat_msg *msgs, size_t n, bool add_generation_prompt,
                           const char *bos, const char *eos, cn_buf *out, cn_err *err)
{
	if (!bos)
		bos = "<s>";
	if (!eos)
		eos = "</s>";
	if (n > 0 && !msgs)
		return cn_err_set(err, CAIRN_EINVAL, "chat template %s: no messages", t->name);
	cairn_status rc = check_roles(t, msgs, n, err);
	if (rc)
		return rc;
	bool gen = add_generation_prompt || t->gen_always;
	bool has_sys = n > 0 && role_is(&msgs[0], "system");
	cn_buf *b = out;
	switch (t->kind) {
	case CN_CHAT_CHATML:
		if (t->default_system && n > 0 && !has_sys) {
			cn_buf_puts(b, "<|im_start|>system\n");
			cn_buf_puts(b, t->default_system);
			cn_buf_puts(b, "<|im_end|>\n");
		}
		for (size_t i = 0; i < n; i++)
			cn_buf_printf(b, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content);
		if (gen)
			cn_buf_puts(b, "<|im_start|>assistant\n");
		break;
	case CN_CHAT_LLAMA3:
		for (size_t i = 0; i < n; i++) {
			cn_buf_printf(b, "<|start_header_id|>%s<|end_header_id|>\n\n", msgs[i].role);
			put_trim(b, msgs[i].content);
			cn_buf_puts(b, "<|eot_id|>");
		}
		if (gen)
			cn_buf_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
		break;
	case CN_CHAT_PHI3:
		for (size_t i = 0; i < n; i++)
			cn_buf_printf(b, "<|%s|>\n%s<|end|>\n", msgs[i].role, msgs[i].content);
		if (gen)
			cn_buf_puts(b, "<|assistant|>\n");
		else if (t->eos_without_gen)
			cn_buf_puts(b, eos);
		break;
	case CN_CHAT_ZEPHYR:
		for (size_t i = 0; i < n; i++)
			cn_buf_printf(b, "<|%s|>\n%s%s\n", msgs[i].role, msgs[i].content, eos);
		if (gen)
			cn_buf_puts(b, "<|assistant|>\n");
		break;
	case CN_CHAT_GEMMA: {
		size_t first = has_sys ? 1 : 0;
		if ((rc = check_alternation(t, msgs, n, first, err)))
			return rc;
		for (size_t i = first; i < n; i++) {
			bool user = role_is(&msgs[i], "user");
			cn_buf_printf(b, "<start_of_turn>%s\n", user ? "user" : "model");
			if (i == first && has_sys) { /* Gemma 3's folding: the system text and a blank line */
				cn_buf_puts(b, msgs[0].content);
				cn_buf_puts(b, "\n\n");
			}
			put_trim(b, msgs[i].content);
			cn_buf_puts(b, "<end_of_turn>\n");
		}
		if (gen)
			cn_buf_puts(b, "<start_of_turn>model\n");
		break;
	}
	case CN_CHAT_DEEPSEEK:
		if (t->default_system && !has_sys)
			cn_buf_puts(b, t->default_system);
		for (size_t i = 0; i < n; i++) {
			if (role_is(&msgs[i], "system"))
				cn_buf_puts(b, msgs[i].content);
			else if (role_is(&msgs[i], "user"))
				cn_buf_printf(b, "### Instruction:\n%s\n", msgs[i].content);
			else
				cn_buf_printf(b, "### Response:\n%s\n<|EOT|>\n", msgs[i].content);
		}
		if (gen)
			cn_buf_puts(b, "### Response:\n");
		break;
	case CN_CHAT_COMMAND_R: {
		size_t first = has_sys ? 1 : 0;
		if ((rc = check_alternation(t, msgs, n, first, err)))
			return rc;
		if (has_sys)
			cn_buf_printf(b, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>%s<|END_OF_TURN_TOKEN|>", msgs[0].content);
		for (size_t i = first; i < n; i++) {
			cn_buf_puts(b, role_is(&msgs[i], "user") ? "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>"
			                                         : "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
			put_trim(b, msgs[i].content);
			cn_buf_puts(b, "<|END_OF_TURN_TOKEN|>");
		}
		if (gen)
			cn_buf_puts(b, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
		break;
	}
	case CN_CHAT_MISTRAL_V7:
	case CN_CHAT_MISTRAL_V7_TEKKEN: {
		const char *sp = t->kind == CN_CHAT_MISTRAL_V7 ? " " : "";
		for (size_t i = 0; i < n; i++) {
			if (role_is(&msgs[i], "system"))
				cn_buf_printf(b, "[SYSTEM_PROMPT]%s%s[/SYSTEM_PROMPT]", sp, msgs[i].content);
			else if (role_is(&msgs[i], "user"))
				cn_buf_printf(b, "[INST]%s%s[/INST]", sp, msgs[i].content);
			else
				cn_buf_printf(b, "%s%s%s", sp, msgs[i].content, eos);
		}
		break;
	}
	default:
		if ((rc = fmt_inst(t, msgs, n, bos, eos, b, err)))
			return rc;
	}
	if (b->failed)
		return cn_err_set(err, CAIRN_ENOMEM, "chat template %s: out of memory", t->name);
	return CAIRN_OK;
}
