#!/usr/bin/python3
"""Independent reference for cairn's SQuAD scoring: the logic of the official SQuAD v1.1
evaluation script (evaluate-v1.1.py: normalize_answer, exact_match_score, f1_score),
written out here so the unit test can compare on generated pairs.

    /usr/bin/python3 tests/reference/squad_eval.py PAIRS.json

PAIRS.json is a JSON array of [prediction, ground_truth] pairs; prints a JSON array of
[normalized_prediction, exact_match, f1] for each pair.
"""
import json
import re
import string
import sys
from collections import Counter


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        pairs = json.load(f)
    out = [[normalize_answer(p), float(exact_match_score(p, g)), float(f1_score(p, g))] for p, g in pairs]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
