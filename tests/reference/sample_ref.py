#!/usr/bin/python3
"""Reference for cairn's sampler chain (src/sample/sampler.c), written from llama.cpp's
definitions (src/llama-sampling.cpp: llama_sampler_penalties_apply, top_k, top_p, min_p,
temp, dist; the order of common/sampling.cpp) and the published xoshiro256** / splitmix64
algorithms (Blackman & Vigna), not from cairn's C code. Plain Python, float64.

Prints, for tests/unit/test_sample.c:
    rng SEED v1 v2 v3 v4 v5          first outputs of xoshiro256** seeded by splitmix64(SEED)
    uniform SEED u1 u2 u3            (v >> 11) * 2^-53
    case NAME
    params TEMP TOP_K TOP_P MIN_P REPEAT FREQ PRESENCE
    hist N id...
    logits N l0 l1 ...
    expect N id:p ...                the kept tokens and their final probabilities, by id
"""
import math
import random
from collections import Counter

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro:
    def __init__(self, seed):
        x = seed
        self.s = []
        for _ in range(4):
            x, v = splitmix64(x)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def softmax(cands):
    mx = max(l for _, l in cands)
    e = [(i, math.exp(l - mx)) for i, l in cands]
    z = sum(v for _, v in e)
    return [(i, v / z) for i, v in e]


def chain(logits, hist, temp, top_k, top_p, min_p, repeat, freq, presence):
    logits = list(logits)
    counts = Counter(hist)
    for tok, c in counts.items():
        if logits[tok] <= 0:
            logits[tok] *= repeat
        else:
            logits[tok] /= repeat
        logits[tok] -= c * freq + (1 if c > 0 else 0) * presence
    cands = [(i, l) for i, l in enumerate(logits)]
    if temp <= 0:  # greedy: the first largest
        best = max(range(len(logits)), key=lambda i: (logits[i], -i))
        return [(best, 1.0)]
    if top_k > 0:
        cands = sorted(cands, key=lambda c: (-c[1], c[0]))[:top_k]
    if top_p < 1:
        probs = sorted(softmax(cands), key=lambda c: (-c[1], c[0]))
        cum, keep = 0.0, len(probs)
        for k, (_, p) in enumerate(probs):
            cum += p
            if cum >= top_p:
                keep = k + 1
                break
        ids = set(i for i, _ in probs[:keep])
        cands = [c for c in cands if c[0] in ids]
    if min_p > 0:
        mx = max(l for _, l in cands)
        cands = [c for c in cands if c[1] >= mx + math.log(min_p)]
    cands = [(i, l / temp) for i, l in cands]
    return sorted(softmax(cands))


def main():
    for seed in (0, 42, 0xDEADBEEFCAFEF00D):
        r = Xoshiro(seed)
        print("rng", seed, *[r.next() for _ in range(5)])
        r = Xoshiro(seed)
        print("uniform", seed, *["%.17g" % ((r.next() >> 11) * 2.0 ** -53) for _ in range(3)])
    rnd = random.Random(5)

    def logits_of(n, scale=2.0):
        # 4 decimals: the same numbers on both sides; distinct values, so no ties
        vals = set()
        out = []
        while len(out) < n:
            v = round(rnd.gauss(0, scale), 4)
            if v not in vals:
                vals.add(v)
                out.append(v)
        return out

    cases = [
        ("top_k", 32, [], (1.0, 5, 1.0, 0.0, 1.0, 0.0, 0.0)),
        ("top_p", 32, [], (1.0, 0, 0.9, 0.0, 1.0, 0.0, 0.0)),
        ("top_p_small", 32, [], (1.0, 0, 0.05, 0.0, 1.0, 0.0, 0.0)),
        ("min_p", 32, [], (1.0, 0, 1.0, 0.05, 1.0, 0.0, 0.0)),
        ("temp", 16, [], (0.5, 0, 1.0, 0.0, 1.0, 0.0, 0.0)),
        ("temp_hot", 16, [], (1.7, 0, 1.0, 0.0, 1.0, 0.0, 0.0)),
        ("penalties", 24, [3, 3, 3, 7, 11, 11, 0, 5, 23], (1.0, 0, 1.0, 0.0, 1.3, 0.2, 0.5)),
        ("repeat_only", 24, [1, 2, 3, 4, 5, 6, 1, 1], (1.0, 0, 1.0, 0.0, 1.5, 0.0, 0.0)),
        ("chain", 64, [9, 9, 12, 40, 41], (0.8, 40, 0.95, 0.05, 1.1, 0.1, 0.1)),
        ("greedy", 32, [], (0.0, 0, 1.0, 0.0, 1.0, 0.0, 0.0)),
        ("greedy_pen", 32, None, (0.0, 0, 1.0, 0.0, 2.0, 0.0, 1.0)),
        ("big_top_p", 20000, [], (1.0, 0, 0.5, 0.0, 1.0, 0.0, 0.0)),
        ("big_top_k", 20000, [], (0.9, 100, 1.0, 0.0, 1.0, 0.0, 0.0)),
        ("big_min_p", 20000, [], (1.0, 0, 1.0, 0.2, 1.0, 0.0, 0.0)),
        ("chi", 10, [], (0.8, 0, 0.97, 0.0, 1.0, 0.0, 0.0)),
    ]
    for name, n, hist, (temp, k, p, mp, rep, fq, pr) in cases:
        logits = logits_of(n, 4.0 if n > 1000 else 2.0)
        if hist is None:  # penalise the argmax so that greedy changes its mind
            hist = [max(range(n), key=lambda i: logits[i])]
        out = chain(logits, hist, temp, k, p, mp, rep, fq, pr)
        print("case", name)
        print("params", temp, k, p, mp, rep, fq, pr)
        print("hist", len(hist), *hist)
        print("logits", n, *logits)
        print("expect", len(out), *["%d:%.9g" % (i, q) for i, q in out])


if __name__ == "__main__":
    main()
