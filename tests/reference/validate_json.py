#!/usr/bin/python3
"""Independent check of constrained generation (tests/unit/test_sample.c,
tests/unit/test_constrained.c, tests/e2e/generate.sh): every document must be strict JSON
(no duplicate keys, no NaN/Infinity, valid UTF-8) and valid against the schema by
python3-jsonschema (Draft 2020-12), which shares no code with cairn.

    validate_json.py SCHEMA.json DOCS       DOCS: records "LENGTH\\n" + LENGTH bytes + "\\n"
    validate_json.py SCHEMA.json --one DOC  one document in a file

Prints "N valid, M invalid" and the first invalid documents with the reason; exits 1 if
any is invalid or there are none.
"""
import json
import sys

import jsonschema


def strict_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


def bad_constant(name):
    raise ValueError("non-standard constant %s" % name)


def check(validator, raw):
    text = raw.decode("utf-8")  # strict: invalid UTF-8 raises
    doc = json.loads(text, object_pairs_hook=strict_pairs, parse_constant=bad_constant)
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        raise ValueError("%s at %s" % (errs[0].message, "/".join(map(str, errs[0].path))))


def records(path):
    data = open(path, "rb").read()
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        n = int(data[i:nl])
        yield data[nl + 1:nl + 1 + n]
        i = nl + 1 + n + 1


def main():
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    docs = [open(sys.argv[3], "rb").read()] if sys.argv[2] == "--one" else list(records(sys.argv[2]))
    bad = 0
    for raw in docs:
        try:
            check(validator, raw)
        except Exception as e:  # noqa: BLE001 — any failure is a finding
            bad += 1
            if bad <= 5:
                print("INVALID (%s): %r" % (e, raw[:300]))
    print("%d valid, %d invalid" % (len(docs) - bad, bad))
    sys.exit(1 if bad or not docs else 0)


if __name__ == "__main__":
    main()
