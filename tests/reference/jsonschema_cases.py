#!/usr/bin/python3
"""Schema × instance verdicts from python3-jsonschema (Draft 2020-12), for test_tools.c.

Prints one JSON object a line: {"schema": S, "instance": I, "valid": true|false}, for every
pair of the schemas and instances below (formats excepted: the library checks some formats
only when optional packages are installed, so format cases are hand-written in the C test).
Exit 77 when jsonschema is missing.
"""
import itertools
import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:
    sys.exit(77)

SCHEMAS = [
    {"type": "string"},
    {"type": ["string", "null"]},
    {"type": "integer"},
    {"type": "number", "minimum": 0, "exclusiveMaximum": 10},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
    {"multipleOf": 3},
    {"multipleOf": 0.5},
    {"type": "string", "minLength": 2, "maxLength": 4},
    {"type": "string", "pattern": "^T-[0-9]{4}$"},
    {"pattern": "a+"},
    {"enum": ["open", "closed", 1, None]},
    {"const": {"a": [1, 2]}},
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
    {"type": "array", "uniqueItems": True},
    {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"type": "array", "contains": {"type": "string"}, "minContains": 2},
    {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
     "required": ["id"], "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "integer"}},
    {"type": "object", "patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
    {"type": "object", "minProperties": 1, "maxProperties": 2},
    {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
    {"allOf": [{"type": "integer"}, {"minimum": 2}]},
    {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]},
    {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 1}]},
    {"not": {"type": "string"}},
    {"type": "object", "properties": {"to": {"type": "object", "properties": {"addr": {"type": "string",
     "minLength": 3}}, "required": ["addr"]}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}},
    True,
    False,
    {"type": "boolean"},
    {"type": "null"},
    {"maximum": 5.5, "minimum": -2},
]

INSTANCES = [
    None, True, False, 0, 1, 1.0, 1.5, 2, 3, 4.5, 5, 6, 10, 12, -3, "", "a", "ab", "abcd", "abcde", "T-1234",
    "T-12345", "héllo", "aaa", "open", "closed", [], [1], [1, 2, 3, 4], [1, 1], [1, 1.0], ["x", 1], ["x", 1, 2],
    ["a", "b"], ["a", "a", "b"], {}, {"id": "x"}, {"id": "x", "n": 2}, {"id": "x", "n": 2.0}, {"id": 3},
    {"n": 1}, {"id": "x", "z": 1}, {"a": 1, "b": 2, "c": 3}, {"x-y": "s"}, {"x-y": 1}, {"Bad": 1},
    {"a": [1, 2]}, {"a": [1, 2.0]}, {"to": {"addr": "ab"}}, {"to": {"addr": "abc"}, "tags": ["a", "c"]},
    {"to": {}}, {"tags": ["b"]},
]


def main():
    for s, i in itertools.product(SCHEMAS, INSTANCES):
        valid = Draft202012Validator(s).is_valid(i)
        print(json.dumps({"schema": s, "instance": i, "valid": valid}))


if __name__ == "__main__":
    main()
