/*
 * chat_api.c — the public cairn_chat_* calls.
 *
 * A template handle is opened from the model file rather than from a generator: it needs
 * only the file's metadata (tokenizer.chat_template) and vocabulary (the BOS/EOS texts some
 * templates write between turns, the id of the end-of-turn token), and keeping it apart lets
 * a program format conversations for a model it runs elsewhere (a server, another process).
 * Opening maps the file and walks its metadata; the weights are never touched.
 */
#include "vocab/chat.h"
#include "vocab/vocab.h"

#include <string.h>

struct cairn_chat_template {
	cn_chat_template t;
	char *bos, *eos;     /* the vocabulary's token texts, NUL-terminated */
	int32_t stop;
};

const char *cairn_chat_template_names(void) { return cn_chat_template_names(); }

static void copy_err(const cn_err *err, char *errbuf, size_t errbuf_size)
{
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err->msg);
}

static char *token_text(const cn_vocab *v, int32_t id, const char *fallback)
{
	size_t len = 0;
	const char *s = id >= 0 ? cn_vocab_token_text(v, id, &len) : NULL;
	if (!s)
		return cn_strdup(fallback);
	/* llama2.c's tokenizer.bin stores BOS as "\n<s>\n": the template means the bare text */
	while (len && (*s == '\n' || *s == ' ')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	return cn_strndup(s, len);
}

cairn_status cairn_chat_template_open(const char *model_path, const char *tokenizer_path, const char *name,
                                      cairn_chat_template **out, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (out)
		*out = NULL;
	if (!model_path || !out) {
		cn_err_set(&err, CAIRN_EINVAL, "chat template: no model path given");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	cn_gguf *g = NULL;
	cn_vocab *v = NULL;
	cairn_chat_template *ct = cn_calloc(1, sizeof(*ct));
	cairn_status rc = ct ? CAIRN_OK : cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", model_path);
	if (rc == CAIRN_OK)
		rc = cn_gguf_open(model_path, &g, &err);
	if (rc == CAIRN_OK)
		rc = tokenizer_path ? cn_vocab_load(tokenizer_path, NULL, &v, &err) : cn_vocab_from_gguf(g, &v, &err);
	if (rc == CAIRN_OK) {
		if (name) {
			rc = cn_chat_template_named(name, &ct->t, &err);
		} else {
			cn_gguf_str src = {NULL, 0};
			cairn_status st = cn_gguf_get_str(g, "tokenizer.chat_template", &src, &err);
			if (st != CAIRN_OK && st != CAIRN_ENOTFOUND)
				rc = st;
			else if ((rc = cn_chat_template_detect(src.ptr, (size_t)src.len, &ct->t, &err)) != CAIRN_OK) {
				/* the message says what is wrong with the template; add which file it came from */
				char msg[sizeof err.msg];
				snprintf(msg, sizeof msg, "%s", err.msg);
				cn_err_clear(&err);
				cn_err_set(&err, rc, "%s: %s", model_path, msg);
			}
		}
	}
	if (rc == CAIRN_OK) {
		cn_vocab_info vi;
		cn_vocab_get_info(v, &vi);
		ct->bos = token_text(v, vi.bos, "<s>");
		ct->eos = token_text(v, vi.eos, "</s>");
		if (!ct->bos || !ct->eos)
			rc = cn_err_set(&err, CAIRN_ENOMEM, "%s: out of memory", model_path);
		ct->stop = ct->t.stop ? cn_vocab_find(v, ct->t.stop, strlen(ct->t.stop)) : vi.eos;
		if (ct->stop < 0)
			ct->stop = vi.eot >= 0 ? vi.eot : vi.eos;
	}
	cn_vocab_free(v);
	cn_gguf_close(g);
	if (rc != CAIRN_OK) {
		cairn_chat_template_close(ct);
		copy_err(&err, errbuf, errbuf_size);
		return rc;
	}
	*out = ct;
	return CAIRN_OK;
}

void cairn_chat_template_close(cairn_chat_template *t)
{
	if (!t)
		return;
	cn_chat_template_free(&t->t);
	cn_free(t->bos);
	cn_free(t->eos);
	cn_free(t);
}

const char *cairn_chat_template_name(const cairn_chat_template *t) { return t ? t->t.name : ""; }

int32_t cairn_chat_template_stop_token(const cairn_chat_template *t) { return t ? t->stop : -1; }

int cairn_chat_template_adds_bos(const cairn_chat_template *t) { return t && t->t.leading_bos; }

cairn_status cairn_chat_format(const cairn_chat_template *t, const cairn_chat_message *msgs, size_t n,
                               int add_generation_prompt, char **out, size_t *len, char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	if (out)
		*out = NULL;
	if (len)
		*len = 0;
	if (!t || !out || (n && !msgs)) {
		cn_err_set(&err, CAIRN_EINVAL, "chat format: template, messages and out must not be NULL");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_EINVAL;
	}
	/* cairn_chat_message and cn_chat_msg have the same members, but are not the same type */
	cn_chat_msg *m = n ? cn_calloc(n, sizeof(*m)) : NULL;
	if (n && !m) {
		cn_err_set(&err, CAIRN_ENOMEM, "chat format: out of memory");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		m[i] = (cn_chat_msg){msgs[i].role, msgs[i].content};
	cn_buf b;
	cn_buf_init(&b);
	cn_buf_append(&b, "", 0);
	cairn_status rc = cn_chat_apply(&t->t, m, n, add_generation_prompt != 0, t->bos, t->eos, &b, &err);
	cn_free(m);
	if (rc == CAIRN_OK && b.failed)
		rc = cn_err_set(&err, CAIRN_ENOMEM, "chat format: out of memory");
	if (rc != CAIRN_OK) {
		cn_buf_free(&b);
		copy_err(&err, errbuf, errbuf_size);
		return rc;
	}
	size_t l = b.len;
	char *s = cn_buf_take(&b);
	if (!s) {
		cn_err_set(&err, CAIRN_ENOMEM, "chat format: out of memory");
		copy_err(&err, errbuf, errbuf_size);
		return CAIRN_ENOMEM;
	}
	*out = s;
	if (len)
		*len = l;
	return CAIRN_OK;
}
