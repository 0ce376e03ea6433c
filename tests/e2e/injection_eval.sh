#!/bin/bash
# The prompt-injection detector on the labelled data of ../shared (docs/injection.md):
# `cairn eval injection --json` must reach at least the held-out figures measured when the
# detector was built, less a small margin (a regression guard, not a reference), and the
# table form must print every data set. Skips when ../shared/data is absent.
source "$(dirname "$0")/lib.bash"
set -e
ROOT="${CAIRN_SHARED:-../shared}/data"
[ -f "$ROOT/tensor-trust/hijacking_robustness_dataset.jsonl" ] || skip "skipped: $ROOT/tensor-trust not present (needs ../shared)"
cd "$(dirname "$0")/../.."
expect_rc 0 "$CAIRN" eval injection --data-root "$ROOT" --docs docs --json
cat "$WORK/out"
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
rows = {d["dataset"]: d for d in r["datasets"]}
# held-out half: measured value minus a margin (attacks: at least; benign: at most)
attack_min = {  # measured held-out: 0.945, 1.000, 0.797, 0.986
    "tensor-trust hijacking": 0.92,
    "giskard prompt injections": 0.95,
    "bipia text attacks (planted)": 0.75,
    "bipia code attacks (planted)": 0.95,
}
benign_max = {  # measured held-out: 0, 0, 0.016, 0, 0, 0, 0.0004, 0.006
    "covid-qa questions": 0.01,
    "scifact claims": 0.01,
    "bipia clean email contexts": 0.04,
    "bipia clean table contexts": 0.01,
    "bipia clean code contexts": 0.03,
    "covid-qa paper paragraphs": 0.005,
    "scifact abstracts": 0.005,
    "docs/ paragraphs": 0.02,  # the guide grows; a page about attacks belongs in docs/injection.md
}
bad = []
for name, lo in attack_min.items():
    d = rows[name]
    if d["present"] and d["held_out"]["rate"] < lo:
        bad.append(f"{name}: held-out detection {d['held_out']['rate']:.3f} < {lo}")
for name, hi in benign_max.items():
    d = rows[name]
    if d["present"] and d["held_out"]["rate"] > hi:
        bad.append(f"{name}: held-out false positives {d['held_out']['rate']:.3f} > {hi}")
if r["detection"]["held_out"] < 0.89:  # measured 0.913
    bad.append(f"pooled held-out detection {r['detection']['held_out']:.3f} < 0.89")
if r["false_positives"]["held_out"] > 0.005:  # measured 0.0006
    bad.append(f"pooled held-out false positives {r['false_positives']['held_out']:.3f} > 0.005")
# the halves are a fixed split: both non-empty for every data set found
for d in r["datasets"]:
    if d["present"]:
        assert d["tuning"]["n"] > 0 and d["held_out"]["n"] > 0, d
assert not bad, "\n".join(bad)
PY
expect_rc 0 "$CAIRN" eval injection --data-root "$ROOT" --docs docs
contains "$WORK/out" "tensor-trust hijacking"
contains "$WORK/out" "detection on attacks"
contains "$WORK/out" "false positives, benign"
# errors: a missing data root is named, an unknown option is a usage error
expect_rc 1 "$CAIRN" eval injection --data-root "$WORK/none"
contains "$WORK/err" "$WORK/none"
expect_rc 2 "$CAIRN" eval injection --bogus
echo ok
