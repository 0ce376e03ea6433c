#!/usr/bin/python3
"""Reference side of the SentencePiece differential test (tests/unit/test_spm.c).

Generates a fixed-seed set of hostile-but-valid strings -- mixed scripts (Latin with
accents, Cyrillic, Greek, CJK, Arabic, Devanagari, Thai, Hangul), emoji with ZWJ sequences
and skin tones, whitespace runs (spaces, tabs, newlines, NBSP, ideographic space, other
Unicode spaces), digits, code, combining marks, unassigned-but-valid code points, private
use, U+FFFD, control characters, compatibility characters NFKC rewrites, very long words --
and writes, per model, what python3-sentencepiece's `sp.encode(s)` gives for each.

  spm_diff.py --count N --seed S OUT_DIR MODEL...

writes OUT_DIR/<i>.ids for the i-th MODEL (0, 1, ...), records of
  u32 byte length, UTF-8 bytes, u32 id count, int32 ids   (little-endian)
The same strings, in the same order, for every model. `generate(seed, count)` is also
used by tests/data/spm/train.py to add multilingual text to the training corpus.
"""
import os
import random
import struct
import sys

WORDS = ("the of and to in is that for it as with was on be by this are from or have an "
         "not which at but all their were can has more one other its also may new search index "
         "query document token model vocabulary segment ranking retrieval encoder decoder "
         "knowledge base chunk embedding sentence piece unigram merge score byte fallback").split()

SCRIPTS = [
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿčćđšžłńśźżőűœßÀÉÎÕÜŸ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯ",
    "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明",
    "مرحبابالعالماللغةالعربيةكتابقلمشمسقمرسلامعليكم",
    "नमस्तेदुनियाहिन्दीभाषाकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह",
    "สวัสดีชาวโลกภาษาไทยกขคงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
    "안녕하세요세계한국어가나다라마바사아자차카타파하",
    "ぁあぃいぅうぇえぉおかがきぎくぐけげこごさざしじすずせぜそぞたアイウエオカキクケコ",
]
EMOJI = ["😀", "😦", "🎉", "👍", "👍🏽", "👍🏿", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🇯🇵",
         "🧑🏻‍🤝‍🧑🏾", "☺", "✌️", "🤷‍♀️", "1️⃣", "🫠", "⁂"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u2009",
          "\u200b", "\u202f", " \t ", "\u2028", "\u0085", "\f", "\v"]
CODE = ['def f(x):\n    return x*2', 'if (a && b) { return -1; }', '#include <stdio.h>',
        'for i in range(10): print(i)', 'x = {"key": [1, 2.5, null]}', '<div class="a">b</div>',
        'SELECT * FROM t WHERE id=42;', '$ ls -la ~/src | grep "\\.c$"', 'a->b[c] >>= 3;',
        '```python\nimport os\n```', 'https://example.com/a/b?c=d&e=f#g']
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "\u0301", "x\u0336", "i\u0307\u0301",
             "\u1100\u1161\u11a8", "க\u0bcd", "a\u20dd"]
COMPAT = ["ﬁ", "ﬂ", "①", "㎞", "Ａ", "ｂ", "１２３", "ｶﾀｶﾅ", "™", "½", "ℌ", "Ⅻ", "ｍ²", "…", "‥",
          "ǆ", "ſ", "Ω", "Å", "ﷺ", "㍿", "ㅎ", "〜", "“quotes”", "‘x’", "–", "—", "−", "·"]
RARE = ["\u0378", "\u0870", "\u0eff", "\U0002fffd", "\U00030000", "\U000e0001", "\U000e007f",
        "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\ufffd", "\ufffe", "\uffff",
        "\U0001d400", "\U0001f9ff", "\u00ad", "\u200d", "\u2060", "\ufeff", "\u061c"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x80", "\x9f", "\x1f"]


def rand_word(r):
    k = r.random()
    if k < 0.45:
        w = r.choice(WORDS)
        return w.capitalize() if r.random() < 0.2 else (w.upper() if r.random() < 0.05 else w)
    if k < 0.75:
        s = r.choice(SCRIPTS)
        return "".join(r.choice(s) for _ in range(r.randint(1, 8)))
    if k < 0.82:
        return str(r.randint(0, 10 ** r.randint(1, 12)))
    if k < 0.88:
        return "".join(chr(r.randint(0x20, 0x7e)) for _ in range(r.randint(1, 6)))
    if k < 0.93:
        return r.choice(COMBINING)
    if k < 0.97:
        return r.choice(COMPAT)
    # any valid scalar value (no surrogates): rare, unassigned, private use
    while True:
        c = r.choice([r.randint(0x80, 0x7ff), r.randint(0x800, 0xffff), r.randint(0x10000, 0x10ffff)])
        if not 0xd800 <= c <= 0xdfff:
            return chr(c)


def rand_string(r):
    kind = r.random()
    if kind < 0.03:
        # very long word
        base = r.choice([r.choice(WORDS), r.choice(SCRIPTS)[:3], "ab", "x", "😀", "١٢٣"])
        return base * r.randint(50, 400)
    if kind < 0.06:
        return "".join(r.choice(SPACES) for _ in range(r.randint(1, 8)))
    parts = []
    for _ in range(r.randint(1, 25)):
        k = r.random()
        if k < 0.65:
            parts.append(rand_word(r))
        elif k < 0.73:
            parts.append(r.choice(EMOJI))
        elif k < 0.77:
            parts.append(r.choice(CODE))
        elif k < 0.82:
            parts.append(r.choice(RARE))
        elif k < 0.85:
            parts.append(r.choice(CONTROLS))
        else:
            parts.append(r.choice(SPACES))
        parts.append(" " if r.random() < 0.7 else r.choice(SPACES + ["", "", ",", ".", "-"]))
    s = "".join(parts)
    if r.random() < 0.3:
        s = r.choice(SPACES) + s
    if r.random() < 0.3:
        s = s.rstrip() if r.random() < 0.5 else s + r.choice(SPACES)
    return s


FIXED = ["", " ", "  ", "\n", "\t", "a", " a", "a ", "  a  b  ", "Hello world", " Hello world",
         "Hello World", "   Hello  \n\n World   ", "\u3000\u3000x\u3000", "\u00a0", "▁", "▁▁a▁",
         "<s>", "</s>", "<unk>", "<0x41>", "expensive 😦 padding ⁂ padding", "ﬁle ① ㎞ ＡＢＣ",
         "e\u0301 é", "\x00", "a\x00b", "🦙🦙🦙", "\ufffd\ufffd", "x" * 2000]


def generate(seed, count):
    r = random.Random(seed)
    out = list(FIXED)
    while len(out) < count:
        out.append(rand_string(r))
    return out[:count]


def main(argv):
    count, seed = 5000, 1
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--count":
            count = int(argv[i + 1]); i += 2
        elif argv[i] == "--seed":
            seed = int(argv[i + 1]); i += 2
        else:
            args.append(argv[i]); i += 1
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    import sentencepiece as spm
    out_dir, models = args[0], args[1:]
    strings = generate(seed, count)
    for i, m in enumerate(models):
        sp = spm.SentencePieceProcessor(model_file=m)
        with open(os.path.join(out_dir, "%d.ids" % i), "wb") as f:
            for s in strings:
                b = s.encode("utf-8")
                ids = sp.encode(s)
                f.write(struct.pack("<I", len(b)) + b + struct.pack("<I", len(ids)))
                f.write(struct.pack("<%di" % len(ids), *ids))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
