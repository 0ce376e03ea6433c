#!/usr/bin/python3
"""SentencePiece (python3-sentencepiece, C++ inside) throughput on the same paragraphs as
bench_tokenize.c: one batch call per pass with num_threads=1, best of N passes; --ids-out
writes the ids one paragraph per line for comparison.

    bench_spm.py MODEL TEXT_FILE [--passes N] [--ids-out FILE]
"""
import json, sys, time
import sentencepiece as spm

def main():
    model, path = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    passes, ids_out = 3, None
    for i in range(0, len(args) - 1, 2):
        if args[i] == "--passes": passes = int(args[i + 1])
        if args[i] == "--ids-out": ids_out = args[i + 1]
    data = open(path, "rb").read()
    paras = [p.decode("utf-8") for p in data.split(b"\n\n") if p]
    t0 = time.perf_counter()
    sp = spm.SentencePieceProcessor(model_file=model)
    load_s = time.perf_counter() - t0
    best, ids = 1e30, None
    for _ in range(passes):
        t = time.perf_counter()
        ids = sp.encode(paras, num_threads=1)
        best = min(best, time.perf_counter() - t)
    if ids_out:
        with open(ids_out, "w") as f:
            for row in ids:
                f.write(" ".join(map(str, row)) + "\n")
    print(json.dumps({"engine": "sentencepiece", "model": model, "bytes": len(data), "paragraphs": len(paras),
                      "tokens": sum(map(len, ids)), "load_s": round(load_s, 4), "seconds": round(best, 4),
                      "mb_per_s": round(len(data) / 1e6 / best, 2)}))

main()
