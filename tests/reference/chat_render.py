#!/usr/bin/python3
"""Renders real chat templates with jinja2 exactly as Hugging Face transformers does
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, raise_exception), for
tests/unit/test_chat.c: cairn's hand-written formatters (src/vocab/chat.c) must produce the
same bytes. The templates are the verbatim texts models ship (tests/reference/chat_templates/,
and the tokenizer.chat_template of a GGUF given with --gguf NAME=PATH).

    chat_render.py OUT [--gguf phi3-mini=../shared/models/vocab/ggml-vocab-phi-3.gguf]

OUT gets one line per template and per rendered case, fields separated by spaces, strings
hex-encoded ("-" for empty):
    T name expected_kind bos eos template
    C name add_generation_prompt leading_bos n_messages role content ... output
The leading BOS text is removed from the output (cairn's BOS rule: the caller adds the BOS
token) and leading_bos says whether it was there. Conversations a template refuses
(raise_exception) are left out.
"""
import os
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))

# file name -> (the kind cairn must detect, bos text, eos text)
TEMPLATES = {
    "chatml-openhermes": ("chatml", "<s>", "<|im_end|>"),
    "chatml-smollm2": ("chatml", "<|im_start|>", "<|im_end|>"),
    "llama3": ("llama3", "<|begin_of_text|>", "<|end_of_text|>"),
    "llama2-chat": ("llama2", "<s>", "</s>"),
    "mistral-v0": ("mistral-v0", "<s>", "</s>"),
    "mistral-v1": ("mistral-v1", "<s>", "</s>"),
    "mistral-v3": ("mistral-v3", "<s>", "</s>"),
    "gemma": ("gemma", "<bos>", "<eos>"),
    "phi3-small": ("phi3", "<|endoftext|>", "<|endoftext|>"),
    "zephyr": ("zephyr", "<s>", "</s>"),
    "deepseek-coder": ("deepseek", "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<|EOT|>"),
    "command-r": ("command-r", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
}
GGUF_KINDS = {"phi3-mini": ("phi3", "<s>", "<|endoftext|>")}

SYS = {"role": "system", "content": "You are a helpful assistant"}
CONVERSATIONS = [
    [SYS, {"role": "user", "content": "Hello"}],
    [SYS, {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"},
     {"role": "user", "content": "Who are you"}],
    [{"role": "user", "content": "Hello"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "   I am an assistant   "},
     {"role": "user", "content": "Another question"}],
    [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": " What is 2+2? "},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?\n"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"}],
    [{"role": "system", "content": "R\u00e9ponds en fran\u00e7ais."},
     {"role": "user", "content": "\u00c7a va ? \u65e5\u672c\u8a9e"}],
]


def skip(name, conv, add_gen):
    """Cases where the shipped Jinja and cairn differ on purpose (docs/chat.md)."""
    if name == "phi3-mini":
        # Phi-3-mini's template drops system messages and writes the assistant header after
        # every user turn whatever add_generation_prompt says; cairn keeps the system message
        # (as Phi-3-small's template does) and writes the header only when asked.
        # Compared: no system message, ending with a user turn, generation prompt on.
        return conv[0]["role"] == "system" or conv[-1]["role"] != "user" or not add_gen
    return False


def hx(s):
    return s.encode("utf-8").hex() if s else "-"


def env():
    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)
    e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    e.globals["raise_exception"] = raise_exception
    return e


def main(argv):
    out_path = argv[0]
    sources = []
    for name, (kind, bos, eos) in TEMPLATES.items():
        with open(os.path.join(HERE, "chat_templates", name + ".jinja"), encoding="utf-8") as f:
            sources.append((name, kind, bos, eos, f.read()))
    i = 1
    while i < len(argv):
        if argv[i] == "--gguf":
            name, path = argv[i + 1].split("=", 1)
            sys.path.insert(0, HERE)
            import encoder_ref  # the reference GGUF reader
            g = encoder_ref.Gguf(path)
            kind, bos, eos = GGUF_KINDS[name]
            sources.append((name, kind, bos, eos, g.kv["tokenizer.chat_template"]))
            i += 2
        else:
            raise SystemExit("unknown argument " + argv[i])
    e = env()
    lines, n_cases = [], 0
    for name, kind, bos, eos, src in sources:
        lines.append("T %s %s %s %s %s" % (name, kind, hx(bos), hx(eos), hx(src)))
        tmpl = e.from_string(src)
        for conv in CONVERSATIONS:
            for add_gen in (True, False):
                if skip(name, conv, add_gen):
                    continue
                try:
                    text = tmpl.render(messages=conv, add_generation_prompt=add_gen, bos_token=bos, eos_token=eos)
                except jinja2.exceptions.TemplateError:
                    continue
                lead = "bos_token" in src and text.startswith(bos)
                if lead:
                    text = text[len(bos):]
                fields = ["C", name, str(int(add_gen)), str(int(lead)), str(len(conv))]
                for m in conv:
                    fields += [hx(m["role"]), hx(m["content"])]
                fields.append(hx(text))
                lines.append(" ".join(fields))
                n_cases += 1
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d templates, %d cases" % (len(sources), n_cases))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
