#!/usr/bin/python3
"""gen_zipf.py — deterministic synthetic Zipf corpus + queries for the BM25 benchmark.

Why synthetic: the growth curve (10k → 1M documents) needs corpora of any size with the same
statistics, and no real corpus we ship has a million documents. The text imitates natural
language where it matters to an inverted index: term frequencies follow Zipf's law
(exponent 1.07), frequent words are short (law of abbreviation), the vocabulary is large
(default 300k words), documents vary in length (log-normal, clipped to 50–400 words) and
words are pronounceable lower-case letter strings, so Porter/Snowball stemmers and Unicode
tokenizers treat them as ordinary English-like words (some end in -ing/-ed/-s and get stemmed,
as real words do).

Queries (2–8 terms) are sampled from the same distribution but biased toward the mid
frequencies (half the terms Zipf-distributed above rank 20, half log-uniform on ranks
100–20000), like real keyword queries, which are not made of stop words.

Everything depends only on --seed, so every engine and every run sees the same bytes.
Output: corpus JSONL {"_id","title","text"} and queries JSONL {"_id","text"} (BEIR layout).

Usage: gen_zipf.py --docs N --corpus OUT.jsonl --queries OUT.jsonl [--vocab V] [--seed S]
"""
import argparse
import json
import sys

import numpy as np

ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
          "w", "z", "br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "tr", "ch", "th"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
CODAS = ["", "", "", "n", "r", "l", "s", "t", "m", "nd", "st", "rk", "ng"]
SUFFIXES = ["", "", "", "", "", "", "s", "ed", "ing", "er", "ly", "ion", "ness"]


def make_vocab(v, rng):
    """v distinct pronounceable words, shortest first (rank 1 = shortest)."""
    seen = set()
    words = []
    # Draw in batches until we have v distinct words; the syllable count grows with need.
    while len(words) < v:
        n = (v - len(words)) * 2 + 1000
        nsyl = rng.choice([1, 2, 2, 3, 3, 3, 4, 4], size=n)
        on = rng.integers(0, len(ONSETS), size=(n, 4))
        vo = rng.integers(0, len(VOWELS), size=(n, 4))
        co = rng.integers(0, len(CODAS), size=(n, 4))
        su = rng.integers(0, len(SUFFIXES), size=n)
        for i in range(n):
            w = "".join(ONSETS[on[i, j]] + VOWELS[vo[i, j]] + CODAS[co[i, j]]
                        for j in range(nsyl[i]))
            w += SUFFIXES[su[i]]
            if len(w) < 2 or w in seen:
                continue
            seen.add(w)
            words.append(w)
            if len(words) == v:
                break
    # Law of abbreviation: frequent words are short. Stable sort keeps it deterministic.
    words.sort(key=len)
    return words


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--nqueries", type=int, default=200)
    ap.add_argument("--vocab", type=int, default=300000)
    ap.add_argument("--exponent", type=float, default=1.07)
    ap.add_argument("--seed", type=int, default=20240611)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    vocab = make_vocab(a.vocab, rng)
    vocab_arr = np.array(vocab, dtype=object)
    ranks = np.arange(1, a.vocab + 1, dtype=np.float64)
    p = ranks ** -a.exponent
    cdf = np.cumsum(p)
    cdf /= cdf[-1]

    # Queries first, from their own stream, so they do not depend on the corpus size.
    qrng = np.random.default_rng(a.seed + 1)
    mid_cdf = cdf[20:] - cdf[19]
    mid_cdf /= mid_cdf[-1]
    with open(a.queries, "w") as qf:
        for qi in range(a.nqueries):
            n = int(qrng.integers(2, 9))
            terms = []
            for _ in range(n):
                if qrng.random() < 0.5:
                    r = 20 + int(np.searchsorted(mid_cdf, qrng.random()))
                else:
                    r = int(np.exp(qrng.uniform(np.log(100), np.log(20000))))
                terms.append(vocab[min(r, a.vocab - 1)])
            qf.write(json.dumps({"_id": "q%d" % qi, "text": " ".join(terms)}) + "\n")

    drng = np.random.default_rng(a.seed + 2)
    batch = 5000
    with open(a.corpus, "w", buffering=1 << 20) as cf:
        for start in range(0, a.docs, batch):
            nb = min(batch, a.docs - start)
            lens = np.clip(np.rint(drng.lognormal(np.log(120), 0.6, size=nb)), 50, 400).astype(np.int64)
            tlens = drng.integers(3, 9, size=nb)
            total = int(lens.sum() + tlens.sum())
            idx = np.searchsorted(cdf, drng.random(total))
            idx = np.minimum(idx, a.vocab - 1)
            words = vocab_arr[idx].tolist()
            out = []
            pos = 0
            for i in range(nb):
                t = " ".join(words[pos:pos + tlens[i]])
                pos += tlens[i]
                body = " ".join(words[pos:pos + lens[i]])
                pos += lens[i]
                # Hand-formatted JSON: the words never need escaping.
                out.append('{"_id": "d%d", "title": "%s", "text": "%s."}\n'
                           % (start + i, t.capitalize(), body.capitalize()))
            cf.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
