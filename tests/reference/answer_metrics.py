#!/usr/bin/python3
"""Independent reference for cairn's answer metrics (src/answer/eval_metrics.c), written
from the published definitions, not from cairn's code:

  - ROUGE-L: google-research rouge-score's rougeL with its default tokenizer
    (tokenize.py: lower(), re.sub(r"[^a-z0-9]+", " "), keep tokens matching ^[a-z0-9]+$),
    LCS by dynamic programming, P = lcs/len(pred), R = lcs/len(target), F = 2PR/(P+R);
    max F over references (score_multi).
  - BLEU: NLTK's bleu_score.corpus_bleu / sentence_bleu with weights (0.25,)*4:
    modified_precision (clipped counts; denominator max(1, hypothesis n-grams)),
    closest_ref_length (ties to the shorter), brevity_penalty, and for sentences
    SmoothingFunction().method1 (epsilon 0.1 over the denominator for a zero numerator);
    0 when no unigram matches. Corpus BLEU here is unsmoothed and 0 when any order has no
    match (NLTK's method0 returns a number below 1e-70 there).

    /usr/bin/python3 tests/reference/answer_metrics.py PAIRS.json

PAIRS.json: [[hypothesis, [reference, ...]], ...]. Prints JSON:
{"rouge_l": [...], "bleu": [...], "corpus_bleu": x}.
"""
import json
import math
import re
import sys
from collections import Counter


def tokenize(text):
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return [t for t in re.split(r"\s+", text) if re.match(r"^[a-z0-9]+$", t)]


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l(pred, refs):
    p = tokenize(pred)
    best = 0.0
    for r in refs:
        t = tokenize(r)
        if not p or not t:
            continue
        n = lcs(t, p)
        prec, rec = n / len(p), n / len(t)
        f = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
        best = max(best, f)
    return best


def ngrams(toks, n):
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def stats(hyp, refs):
    h = tokenize(hyp)
    rs = [tokenize(r) for r in refs]
    num, den = [], []
    for n in range(1, 5):
        counts = ngrams(h, n)
        maxref = Counter()
        for r in rs:
            rc = ngrams(r, n)
            for g in counts:
                maxref[g] = max(maxref[g], rc[g])
        clipped = sum(min(c, maxref[g]) for g, c in counts.items())
        num.append(clipped)
        den.append(max(1, sum(counts.values())))
    ref_len = min((len(r) for r in rs), key=lambda L: (abs(L - len(h)), L)) if rs else 0
    return num, den, len(h), ref_len


def bp(r, c):
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1 - r / c)


def sentence_bleu(hyp, refs):
    num, den, c, r = stats(hyp, refs)
    if num[0] == 0:
        return 0.0
    p = [(x if x else 0.1) / d for x, d in zip(num, den)]
    return bp(r, c) * math.exp(math.fsum(0.25 * math.log(x) for x in p))


def corpus_bleu(pairs):
    N, D, C, R = [0] * 4, [0] * 4, 0, 0
    for hyp, refs in pairs:
        num, den, c, r = stats(hyp, refs)
        N = [a + b for a, b in zip(N, num)]
        D = [a + b for a, b in zip(D, den)]
        C += c
        R += r
    if any(x == 0 for x in N):
        return 0.0
    return bp(R, C) * math.exp(math.fsum(0.25 * math.log(n / d) for n, d in zip(N, D)))


def main():
    pairs = json.load(open(sys.argv[1], encoding="utf-8"))
    print(json.dumps({
        "rouge_l": [rouge_l(h, r) for h, r in pairs],
        "bleu": [sentence_bleu(h, r) for h, r in pairs],
        "corpus_bleu": corpus_bleu(pairs),
    }))


if __name__ == "__main__":
    main()
