#!/usr/bin/python3
"""Builds the tokenizer benchmark text (deterministic): ~4 MB of paragraphs separated by
blank lines, mixing what a knowledge base holds.

  - English prose: SciFact abstracts (../shared/data/scifact-beir/corpus.jsonl), 2.4 MB
  - chat/dialogue: ../shared/models/llama3-tokenizer/753.txt
  - Markdown: this repository's docs/*.md
  - code: this repository's src/**/*.c
  - multilingual: paragraphs of pseudo-words drawn from Latin-with-accents, Cyrillic, Greek,
    Arabic, Devanagari, Thai, Hangul, kana and CJK ranges, digits, punctuation and emoji
    (fixed seed), 0.6 MB — not real language, but real code points in realistic runs.

    gen_mixed.py SHARED_DIR REPO_DIR OUT_FILE
"""
import glob, json, os, random, sys

shared, repo, out = sys.argv[1], sys.argv[2], sys.argv[3]
paras = []
size = 0

def add(p):
    global size
    p = p.strip("\n").replace("\n\n\n", "\n\n")
    if p:
        paras.append(p)
        size += len(p.encode()) + 2

corpus = os.path.join(shared, "data/scifact-beir/corpus.jsonl")
with open(corpus, encoding="utf-8") as f:
    for line in f:
        d = json.loads(line)
        add((d.get("title") or "") + "\n" + (d.get("text") or ""))
        if size > 2_400_000:
            break
for p in open(os.path.join(shared, "models/llama3-tokenizer/753.txt"), encoding="utf-8").read().split("\n\n"):
    add(p)
for path in sorted(glob.glob(os.path.join(repo, "docs/**/*.md"), recursive=True)):
    for p in open(path, encoding="utf-8").read().split("\n\n"):
        add(p)
code_budget = size + 500_000
for path in sorted(glob.glob(os.path.join(repo, "src/*/*.c"))):
    for p in open(path, encoding="utf-8").read().split("\n\n"):
        add(p)
    if size > code_budget:
        break

rng = random.Random(20261128)
scripts = [
    [(0x61, 0x7A), (0xE0, 0xFF)], [(0x430, 0x44F)], [(0x3B1, 0x3C9)], [(0x627, 0x64A)],
    [(0x915, 0x939), (0x93E, 0x94C)], [(0xE01, 0xE30)], [(0xAC00, 0xD7A3)],
    [(0x3041, 0x3096), (0x30A1, 0x30FA)], [(0x4E00, 0x9FA5)],
]
emoji = ["😀", "😦", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🚀", "⁂", "—", "…", "«", "»"]
target = size + 600_000
while size < target:
    words = []
    script = rng.choice(scripts)
    for _ in range(rng.randint(20, 120)):
        r = rng.random()
        if r < 0.06:
            words.append(str(rng.randint(0, 100000)))
        elif r < 0.09:
            words.append(rng.choice(emoji))
        else:
            lo, hi = rng.choice(script)
            words.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 9))))
        if rng.random() < 0.08:
            words[-1] += rng.choice([",", ".", "!", "?", ":", ";", "。", "،"])
        if rng.random() < 0.1:
            script = rng.choice(scripts)
    add(" ".join(words))

with open(out, "w", encoding="utf-8") as f:
    f.write("\n\n".join(paras) + "\n")
print(f"{out}: {len(paras)} paragraphs, {os.path.getsize(out)} bytes")
