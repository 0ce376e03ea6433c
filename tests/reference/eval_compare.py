#!/usr/bin/python3
"""Independent reference for `cairn eval compare` (written from the definitions in
docs/evaluation.md#compare, not from src/eval/compare.c).

    /usr/bin/python3 tests/reference/eval_compare.py A.json B.json [PERMS BOOT SEED]
        A, B: cairn result files (--report-json); prints one JSON object per measure:
        {"name", "a", "b", "diff", "p", "lo", "hi", "wins", "losses", "ties"}
    /usr/bin/python3 tests/reference/eval_compare.py --diffs FILE PERMS BOOT SEED
        FILE: one difference per line; prints "p lo hi exact_p" (exact_p: the randomization
        p-value by enumerating all 2^n sign patterns when n <= 20, else -1)

Answer runs (docs/evaluation.md#answer-runs): a measure that does not apply to a question is
null there; each measure is compared over the questions where both runs have a value ("n").
For refused, ttft_ms, tokens_in, tokens_out and cost lower is better: a win is a decrease.

Randomization test: for each of PERMS permutations, draw one splitmix64 word per 64
queries; query i's difference changes sign when bit (i % 64) of its word is set; count the
permutations whose |mean| >= |observed mean| - 1e-12; p = (count + 1) / (PERMS + 1).
Bootstrap: BOOT resamples of n indexes, index = (word * n) >> 64; the CI is the sorted
means at floor(0.025 BOOT) and ceil(0.975 BOOT) - 1. Both restart from SEED per measure.
"""
import itertools
import json
import math
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def randomization_p(d, perms, seed):
    n = len(d)
    obs = abs(sum(d) / n)
    rng, hits = SplitMix64(seed), 0
    for _ in range(perms):
        s, w = 0.0, 0
        for i, x in enumerate(d):
            if i % 64 == 0:
                w = rng.next()
            s += -x if (w >> (i % 64)) & 1 else x
        if abs(s / n) >= obs - 1e-12:
            hits += 1
    return (hits + 1) / (perms + 1)


def exact_p(d):
    n = len(d)
    obs = abs(sum(d) / n)
    hits = sum(1 for signs in itertools.product((1, -1), repeat=n)
               if abs(sum(s * x for s, x in zip(signs, d)) / n) >= obs - 1e-12)
    return hits / 2 ** n


def bootstrap(d, boot, seed):
    n = len(d)
    rng, means = SplitMix64(seed), []
    for _ in range(boot):
        s = 0.0
        for _ in range(n):
            s += d[(rng.next() * n) >> 64]
        means.append(s / n)
    means.sort()
    return means[int(math.floor(0.025 * boot))], means[max(int(math.ceil(0.975 * boot)) - 1, 0)]


def main():
    args = sys.argv[1:]
    if args and args[0] == "--diffs":
        d = [float(x) for x in open(args[1]).read().split()]
        perms, boot, seed = int(args[2]), int(args[3]), int(args[4])
        lo, hi = bootstrap(d, boot, seed)
        ex = exact_p(d) if len(d) <= 20 else -1.0
        print("%r %r %r %r" % (randomization_p(d, perms, seed), lo, hi, ex))
        return 0
    if len(args) not in (2, 5):
        sys.stderr.write(__doc__)
        return 2
    perms, boot, seed = (int(args[2]), int(args[3]), int(args[4])) if len(args) == 5 else (10000, 10000, 42)
    a, b = (json.load(open(p)) for p in args[:2])
    bq = {q["qid"]: q["values"] for q in b["per_query"]}
    pairs = [(q["values"], bq[q["qid"]]) for q in a["per_query"] if q["qid"] in bq]
    lower = {"refused", "ttft_ms", "tokens_in", "tokens_out", "cost"}
    for name in a["measures"]:
        if name not in b["measures"] or name.startswith("num_"):
            continue
        both = [(va[name], vb[name]) for va, vb in pairs
                if va.get(name) is not None and vb.get(name) is not None]
        if not both:
            continue
        d = [y - x for x, y in both]
        lo, hi = bootstrap(d, boot, seed)
        sign = -1 if name in lower else 1
        print(json.dumps({
            "name": name, "a": sum(x for x, _ in both) / len(both),
            "b": sum(y for _, y in both) / len(both), "diff": sum(d) / len(d),
            "p": randomization_p(d, perms, seed), "lo": lo, "hi": hi,
            "wins": sum(1 for x in d if sign * x > 1e-12), "losses": sum(1 for x in d if sign * x < -1e-12),
            "ties": sum(1 for x in d if abs(x) <= 1e-12), "n": len(d)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
