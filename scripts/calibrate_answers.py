#!/usr/bin/python3
"""Fits the extractive answerer's confidence model and reports its reliability.

    build/cairn eval answers ../shared/data/covid-qa-prerelease --features covid.tsv
    /usr/bin/python3 scripts/calibrate_answers.py covid.tsv [more.tsv ...]

Each TSV row is one question asked by `cairn eval answers` (answerable, or the same question
with its gold documents removed), with the answerer's confidence features and the outcome
`correct` (the gold answer lies in a cited sentence; always 0 for the unanswerable copy).
A logistic regression (Newton's method, a small L2 penalty) is fitted on the rows with
split 0 (COVID-QA: even-numbered papers) of the FIRST file and evaluated on the held-out
split 1 and on every other file. Prints the weights in the order src/answer/ask.c's
conf_w[] uses, then reliability tables (confidence decile → accuracy) and abstention rates
at a few thresholds.
"""
import sys

import numpy as np

FEATURES = ["coverage", "context_coverage", "chunk_coverage", "margin", "span", "missing_idf"]


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    X = np.array([[float(r[k]) for k in FEATURES] for r in rows])
    y = np.array([float(r["correct"]) for r in rows])
    split = np.array([int(r["split"]) for r in rows])
    ans = np.array([int(r["answerable"]) for r in rows])
    conf = np.array([float(r["confidence"]) for r in rows])
    return X, y, split, ans, conf


# missing_idf (the share of the question's idf carried by words no document contains) is
# held at a prior weight instead of fitted: the unanswerable copies are made by filtering,
# which leaves the removed paper in the idf statistics, so this data cannot show its effect.
# -2: a question all of whose weight is in unknown words has its odds cut by e^2 (~7x).
FIXED = {"missing_idf": -2.0}


def fit(X, y, l2=1e-2, iters=50):
    free = [i for i, f in enumerate(FEATURES) if f not in FIXED]
    offset = sum(X[:, FEATURES.index(f)] * v for f, v in FIXED.items())
    A = np.hstack([np.ones((len(X), 1)), X[:, free]])
    w = np.zeros(A.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(A @ w + offset)))
        g = A.T @ (p - y) + l2 * np.r_[0, w[1:]]
        H = A.T @ (A * (p * (1 - p))[:, None]) + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(H, g)
    full = np.zeros(len(FEATURES) + 1)
    full[0] = w[0]
    for j, i in enumerate(free):
        full[i + 1] = w[j + 1]
    for f, v in FIXED.items():
        full[FEATURES.index(f) + 1] = v
    return full


def predict(w, X):
    return 1 / (1 + np.exp(-(w[0] + X @ w[1:])))


def reliability(name, p, y, ans):
    print(f"\n{name}: {len(y)} questions ({int(ans.sum())} answerable), accuracy {y.mean():.3f}")
    print("| confidence | questions | mean confidence | accuracy |")
    print("|---|---:|---:|---:|")
    ece = 0.0
    for b in range(10):
        m = (p >= b / 10) & ((p < (b + 1) / 10) if b < 9 else (p <= 1))
        if m.sum():
            ece += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
            print(f"| {b/10:.1f}–{(b+1)/10:.1f} | {m.sum()} | {p[m].mean():.3f} | {y[m].mean():.3f} |")
    print(f"expected calibration error {ece:.3f}")
    for t in (0.1, 0.2, 0.25, 0.3, 0.4, 0.5):
        a = (p[ans == 1] < t).mean()
        u = (p[ans == 0] < t).mean() if (ans == 0).any() else float("nan")
        print(f"  threshold {t:.2f}: abstain {a:.3f} answerable, {u:.3f} unanswerable")


def main():
    X, y, split, ans, conf = load(sys.argv[1])
    tr, te = split == 0, split == 1
    w = fit(X[tr], y[tr])
    print("conf_w = {" + ", ".join(f"{v:.3f}" for v in w) + "}  /* bias, " + ", ".join(FEATURES) + " */")
    reliability(f"{sys.argv[1]} held-out split (the fitted model)", predict(w, X[te]), y[te], ans[te])
    reliability(f"{sys.argv[1]} held-out split (confidence as the answerer reported it)", conf[te], y[te], ans[te])
    for path in sys.argv[2:]:
        X2, y2, _, ans2, conf2 = load(path)
        reliability(f"{path} (confidence as reported)", conf2, y2, ans2)


if __name__ == "__main__":
    main()
