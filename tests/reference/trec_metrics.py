#!/usr/bin/python3
"""Independent reference for cairn's retrieval measures (trec_eval 9.x definitions).

    /usr/bin/python3 tests/reference/trec_metrics.py [-q] [-m LIST] QRELS RUN

QRELS is TREC qrels ("qid iter docid rel") or BEIR qrels ("query-id corpus-id score" with a
header line), RUN a TREC run ("qid Q0 docid rank score tag").
Prints one line per measure, "name<TAB>all<TAB>value", averaged like `trec_eval -c`:
over every query of QRELS with at least one relevant document (rel >= 1); a query absent
from RUN scores 0. num_rel, num_ret and num_rel_ret are totals, as trec_eval prints them.

Written from the trec_eval documentation and source semantics, not from cairn's C code:
  - the run is ordered by score descending, ties by docid descending (strcmp order);
  - P_k divides by k; recall_k by the number of relevant documents;
  - ndcg_cut_k = DCG@k / IDCG@k with gain = grade, discount log2(1 + rank), the ideal
    ranking being all judged documents with grade > 0 sorted by grade;
  - map = mean of precision at each relevant retrieved document, over all relevant;
  - Rprec = precision at rank R (R = number relevant), dividing by R;
  - recip_rank = 1 / rank of the first relevant; mrr_cut_k the same within the top k;
  - success_k = 1 when some relevant document is in the top k;
  - ndcg (no cutoff) = DCG over the whole ranking / DCG of the whole ideal ranking.

-m LIST picks measures with trec_eval's -m syntax ("map,ndcg_cut.10,20,P.5"), in that order;
-q also prints "name<TAB>qid<TAB>value" for every query first (trec_eval -q).
"""
import math
import sys

CUTOFFS = [1, 3, 5, 10, 20, 100, 1000]


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 3:  # BEIR: query-id corpus-id score, header line first
                if parts[0] == "query-id":
                    continue
                qid, docid, rel = parts
            else:
                qid, _, docid, rel = parts
            qrels.setdefault(qid, {})[docid] = int(float(rel))
    return qrels


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            qid, _, docid, _, score, _ = parts
            run.setdefault(qid, []).append((float(score), docid))
    return run


def rank(entries):
    # Sorting (score, docid) pairs in reverse gives score descending and, among equal
    # scores, docid descending — trec_eval's order. Python compares str by code point,
    # which for UTF-8 is the byte order strcmp uses.
    ordered = sorted(entries, reverse=True)
    seen, out = set(), []
    for _, docid in ordered:
        if docid not in seen:
            seen.add(docid)
            out.append(docid)
    return out


def measures(judged, ranking, cutoffs=CUTOFFS):
    rels = [judged.get(d, 0) for d in ranking]
    relevant = [g for g in judged.values() if g >= 1]
    R = len(relevant)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)
    m = {"num_rel": R, "num_ret": len(ranking),
         "num_rel_ret": sum(1 for g in rels if g >= 1)}
    hits, ap = 0, 0.0
    for i, g in enumerate(rels):
        if g >= 1:
            hits += 1
            ap += hits / (i + 1)
    m["map"] = ap / R
    m["Rprec"] = sum(1 for g in rels[:R] if g >= 1) / R
    first = next((i + 1 for i, g in enumerate(rels) if g >= 1), None)
    m["recip_rank"] = 1.0 / first if first else 0.0
    dcg_all = sum(g / math.log2(i + 2) for i, g in enumerate(rels) if g > 0)
    idcg_all = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    m["ndcg"] = dcg_all / idcg_all if idcg_all > 0 else 0.0
    for k in cutoffs:
        top = rels[:k]
        nrel = sum(1 for g in top if g >= 1)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top) if g > 0)
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
        m["ndcg_cut_%d" % k] = dcg / idcg if idcg > 0 else 0.0
        m["mrr_cut_%d" % k] = 1.0 / first if first and first <= k else 0.0
        m["recall_%d" % k] = nrel / R
        m["P_%d" % k] = nrel / k
        m["success_%d" % k] = 1.0 if nrel else 0.0
    return m


BASES = {"ndcg_cut", "mrr_cut", "P", "recall", "success"}


def parse_measures(spec):
    """trec_eval -m syntax → ordered output names and the cutoffs they need."""
    names, cutoffs, last = [], set(), None
    for tok in spec.split(","):
        tok = tok.strip()
        if tok.isdigit():
            base, k = last, int(tok)
        elif "." in tok or "_" in tok and tok.rsplit("_", 1)[0] in BASES:
            base, k = tok.replace(".", "_").rsplit("_", 1)
            k = int(k)
        else:
            base, k = tok, None
        if k is None:
            name = base
        else:
            assert base in BASES, tok
            name, last = "%s_%d" % (base, k), base
            cutoffs.add(k)
        if name not in names:
            names.append(name)
    return names, sorted(cutoffs)


def main():
    args = sys.argv[1:]
    per_query, spec = False, None
    while args and args[0].startswith("-"):
        if args[0] == "-q":
            per_query = True
            args = args[1:]
        elif args[0] == "-m":
            spec = args[1]
            args = args[2:]
        else:
            break
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    names, cutoffs = parse_measures(spec) if spec else (None, CUTOFFS)
    qrels = read_qrels(args[0])
    run = read_run(args[1])
    totals, n = {}, 0
    for qid in qrels:  # file order, as cairn scores them
        judged = qrels[qid]
        if not any(g >= 1 for g in judged.values()):
            continue
        m = measures(judged, rank(run.get(qid, [])), cutoffs)
        n += 1
        for name in names or m:
            v = m[name]
            totals[name] = totals.get(name, 0.0) + v
            if per_query:
                print("%s\t%s\t%r" % (name, qid, float(v)))
    print("num_q\tall\t%d" % n)
    for name in names or totals:
        v = totals.get(name, 0.0)
        if not name.startswith("num_") and n:
            v = v / n
        print("%s\tall\t%r" % (name, float(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
