/*
 * chat.h — chat templates: a conversation (system / user / assistant messages) turned into
 * the prompt text an instruction-tuned model was trained on.
 *
 * Design:
 *  - Models ship their template as Jinja source (GGUF tokenizer.chat_template). cairn does
 *    not run Jinja: as llama.cpp's llm_chat_detect_template does, the source is recognised by
 *    distinctive markers and mapped onto one of a fixed set of hand-written formatters, each
 *    written to reproduce the shipped template byte for byte (tests render the real Jinja
 *    with python3-jinja2 and compare). Parameters a template hard-codes that vary between
 *    models of one family (ChatML's and DeepSeek's default system prompt) are read out of the
 *    Jinja source.
 *  - The BOS rule: the prompt never starts with the BOS token's text. A template that opens
 *    with {{ bos_token }} has it dropped, and the caller adds the BOS token at tokenization
 *    (cn_chat_template.leading_bos says the template wants one), so a tokenizer that adds BOS
 *    by itself cannot produce two. BOS/EOS texts *inside* the conversation (Llama 2's
 *    "</s><s>[INST]" between turns) stay as text: tokenized with special-token parsing they
 *    become the control tokens, as the model saw in training.
 *  - Unknown templates are an error naming the problem and listing the names cairn knows;
 *    the caller may then pick one by name.
 */
#ifndef CAIRN_VOCAB_CHAT_H
#define CAIRN_VOCAB_CHAT_H

#include "base/base.h"

typedef enum cn_chat_kind {
	CN_CHAT_CHATML = 0,
	CN_CHAT_LLAMA3,
	CN_CHAT_LLAMA2,            /* Meta's Llama-2-chat: <<SYS>>, stripped turns, <s>[INST] each turn */
	CN_CHAT_MISTRAL_V0,        /* Mistral-7B-Instruct v0.1/v0.2 first template: no system role */
	CN_CHAT_MISTRAL_V1,
	CN_CHAT_MISTRAL_V3,
	CN_CHAT_MISTRAL_V3_TEKKEN,
	CN_CHAT_MISTRAL_V7,
	CN_CHAT_MISTRAL_V7_TEKKEN,
	CN_CHAT_PHI3,
	CN_CHAT_GEMMA,
	CN_CHAT_ZEPHYR,
	CN_CHAT_DEEPSEEK,
	CN_CHAT_COMMAND_R,
	CN_CHAT_KIND_COUNT
} cn_chat_kind;

typedef struct cn_chat_template {
	cn_chat_kind kind;
	const char *name;        /* "chatml", "llama3", … (static) */
	char *default_system;    /* used when the conversation has no system message; NULL = none */
	bool gen_always;         /* the template ends with the assistant header whatever
	                            add_generation_prompt says (Llama 3's original template) */
	bool eos_without_gen;    /* EOS text closes a conversation without a generation prompt */
	bool leading_bos;        /* the template opens with bos_token (dropped from the text) */
	const char *stop;        /* end-of-turn text ("<|im_end|>"); NULL = the EOS token's */
} cn_chat_template;

typedef struct cn_chat_msg {
	const char *role;        /* "system", "user", "assistant" (ChatML-like templates take any) */
	const char *content;
} cn_chat_msg;

/* "chatml, llama3, llama2, …": the names cn_chat_template_named accepts. */
const char *cn_chat_template_names(void);
/* A template by name; CAIRN_ENOTFOUND (message listing the names) when unknown. */
cairn_status cn_chat_template_named(const char *name, cn_chat_template *out, cn_err *err);
/* Recognises Jinja source (or a bare name) by its markers. CAIRN_EUNSUPPORTED when it is
 * none cairn formats; the message names the problem and lists the names. */
cairn_status cn_chat_template_detect(const char *jinja, size_t len, cn_chat_template *out, cn_err *err);
void cn_chat_template_free(cn_chat_template *t);

/* Appends the prompt for msgs[0..n) to out. bos/eos are the vocabulary's BOS and EOS token
 * texts (templates that write them between turns need them; NULL = "<s>" / "</s>").
 * CAIRN_EINVAL for a conversation the template cannot express (roles out of order, a system
 * message where the template has none), naming the template and the message. */
cairn_status cn_chat_apply(const cn_chat_template *t, const cn_chat_msg *msgs, size_t n, bool add_generation_prompt,
                           const char *bos, const char *eos, cn_buf *out, cn_err *err);

#endif
