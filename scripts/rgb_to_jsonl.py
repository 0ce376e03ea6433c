#!/usr/bin/python3
"""RGB (counterfactual split, en_fact.json) as a cairn JSON Lines question set.

    /usr/bin/python3 scripts/rgb_to_jsonl.py ../shared/data/rgb-counterfactual/en_fact.json OUT_DIR
    cairn eval answers OUT_DIR/set.jsonl --corpus OUT_DIR/corpus.jsonl --report-html rgb.html

RGB's questions are short factoid questions over web-search snippets (who won, when was X
released, what was the revenue): a check of answer spans (names, dates, amounts) that
COVID-QA's long scientific answers do not give. The corpus is every question's correct
passages (`positive`) and its related but non-answering ones (`negative`) — near misses such
as other years' winners; the edited `positive_wrong` passages are left out (they state the
counterfactual answer). Each question's gold evidence is its positive passages (`doc_ids`),
its gold answers RGB's `answer` (a string, or a list of alternatives).
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    n_docs = n_q = 0
    with open(src) as f, open(os.path.join(out, "corpus.jsonl"), "w") as c, \
            open(os.path.join(out, "set.jsonl"), "w") as s:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            ids = []
            for key, tag in (("positive", "p"), ("negative", "n")):
                for i, text in enumerate(r.get(key) or []):
                    doc_id = "rgb%s-%s%d" % (r["id"], tag, i)
                    c.write(json.dumps({"doc_id": doc_id, "title": "", "text": text}) + "\n")
                    n_docs += 1
                    if tag == "p":
                        ids.append(doc_id)
            answers = r["answer"] if isinstance(r["answer"], list) else [r["answer"]]
            answers = [a if isinstance(a, str) else a[0] for a in answers]  # nested alternatives
            s.write(json.dumps({"id": str(r["id"]), "question": r["query"], "answers": answers,
                                "doc_ids": ids}) + "\n")
            n_q += 1
    print("%d questions, %d passages -> %s" % (n_q, n_docs, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
