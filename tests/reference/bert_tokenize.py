#!/usr/bin/python3
"""Independent reference for cairn's WordPiece tokenizer (src/vocab/wpm.c).

A plain re-implementation of BERT's tokenization on Python's own Unicode database
(unicodedata), written from the Hugging Face `tokenizers` sources (BertNormalizer,
BertPreTokenizer, WordPiece), which is what tokenizer.json files and llama.cpp's
ggml-vocab-bert-bge test vectors come from. Where the older Python BertTokenizer
(transformers' BasicTokenizer) differs, this follows `tokenizers`, and says so:

  * clean text drops every C* code point except \\t \\n \\r (also \\v \\f U+0085, which
    are White_Space; the slow tokenizer turns only Zs into spaces and keeps U+2028);
  * whitespace is the Unicode White_Space property (Rust char::is_whitespace), not Zs;
  * accents are stripped (NFD, drop Mn) *before* lowercasing, and lowercasing is per
    character (Rust char::to_lowercase: no final-sigma rule; str.lower() on a whole
    string would apply it);
  * the fifth CJK range starts at U+2B920 (tokenizers' value; BERT's Python has 2B820);
  * no NFC step (the slow tokenizer NFC-normalizes first).

Usage:
  bert_tokenize.py tokenize VOCAB_TXT IN.jsonl OUT LOWER   one JSON string per input line;
                                                          writes the ids, space separated
  bert_tokenize.py props OUT.bin                          Python's Unicode data per code point
                                                          (for the C test to find where it and
                                                          utf8proc disagree)
"""
import json
import struct
import sys
import unicodedata

WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    + list(range(0x2000, 0x200B))
)


def is_white_space(c):
    return ord(c) in WHITE_SPACE


def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c)[0] == "C"


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c)[0] == "P"


def is_chinese(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def normalize(text, lower, strip=None, clean=True, chinese=True):
    if strip is None:  # strip_accents follows lowercase unless the model says otherwise
        strip = lower
    out = list(text)
    if clean:
        out = [" " if is_white_space(c) else c for c in out
               if not (c == "\0" or c == "\ufffd" or is_control(c))]
    s = "".join(" " + c + " " if chinese and is_chinese(ord(c)) else c for c in out)
    if strip:
        s = unicodedata.normalize("NFD", s)
        s = "".join(c for c in s if unicodedata.category(c) != "Mn")
    if lower:
        s = "".join(c.lower() for c in s)
    return s


def pre_tokenize(s):
    words, cur = [], []
    for c in s:
        if is_white_space(c):
            if cur:
                words.append("".join(cur))
                cur = []
        elif is_punctuation(c):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(c)
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


def wordpiece(word, vocab, unk, max_chars=100):
    if len(word) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = vocab[sub]
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8", newline="") as f:
        for i, line in enumerate(f.read().split("\n")):
            if line.endswith("\r"):
                line = line[:-1]
            vocab.setdefault(line, i)  # first occurrence wins, as in cairn's core
    return vocab


def tokenize(text, vocab, lower, strip=None, clean=True, chinese=True, max_chars=100):
    unk = vocab["[UNK]"]
    ids = []
    for w in pre_tokenize(normalize(text, lower, strip, clean, chinese)):
        ids.extend(wordpiece(w, vocab, unk, max_chars))
    return ids


def props(out_path):
    # per code point: category (2 bytes), canonical class, NFD length, lowercase (u32,
    # 0xFFFFFFFF when it is more than one character), FNV-1a of the NFD code points
    rec = struct.Struct("<2sBBII")
    with open(out_path, "wb") as f:
        buf = bytearray()
        for cp in range(0x110000):
            c = chr(cp)
            if 0xD800 <= cp <= 0xDFFF:
                buf += rec.pack(b"Cs", 0, 1, cp, 0)
                continue
            low = c.lower()
            d = unicodedata.normalize("NFD", c)
            h = 0x811C9DC5
            for x in d:
                h ^= ord(x)
                h = (h * 0x01000193) & 0xFFFFFFFF
            buf += rec.pack(
                unicodedata.category(c).encode(),
                unicodedata.combining(c),
                len(d),
                ord(low) if len(low) == 1 else 0xFFFFFFFF,
                h,
            )
        f.write(buf)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "props" and len(sys.argv) == 3:
        props(sys.argv[2])
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "tokenize":
        vocab = load_vocab(sys.argv[2])
        # "1"/"0" (lowercase, the rest default) or "LOWER,STRIP,CLEAN,CHINESE,MAXCHARS"
        f5 = sys.argv[5].split(",")
        lower = f5[0] == "1"
        strip = f5[1] == "1" if len(f5) > 1 else None
        clean = f5[2] == "1" if len(f5) > 2 else True
        chinese = f5[3] == "1" if len(f5) > 3 else True
        max_chars = int(f5[4]) if len(f5) > 4 else 100
        with open(sys.argv[3], encoding="utf-8") as f, open(sys.argv[4], "w") as g:
            for line in f:
                ids = tokenize(json.loads(line), vocab, lower, strip, clean, chinese, max_chars)
                g.write(" ".join(map(str, ids)) + "\n")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
