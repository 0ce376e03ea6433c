#!/usr/bin/python3
"""Trains the small SentencePiece models the tests use, on cairn's own text.

  train.py [OUT_DIR] [NAME...]      (default OUT_DIR: this directory; default NAME: the committed ones)

Corpus: docs/*.md and README.md of this repository plus 3000 mixed-script lines from
tests/reference/spm_diff.py's generator (seed 7, not the test seed), so the models have
pieces for many scripts and still meet unknown characters in the test strings.

Committed (each < 100 KB):
  unigram_rules.model        unigram, 2000 pieces, a small custom charsmap (a slice of NFKC:
                             fullwidth ASCII, ligatures, circled digits, squared units, roman
                             numerals, tab/CR/LF -> space, C0 controls deleted), default
                             add_dummy_prefix + remove_extra_whitespaces
  unigram_identity_bf.model  unigram, 1500 pieces, identity normalization, byte_fallback,
                             remove_extra_whitespaces=false (lossless)
  bpe_rmws.model             BPE, 1500 pieces, identity normalization, remove_extra_whitespaces,
                             no byte_fallback (unknown characters -> <unk>)
Trained by the differential test into a temporary directory (too big to commit: the nmt_nfkc
charsmap alone is ~240 KB):
  unigram_nfkc.model         unigram, 2000 pieces, default nmt_nfkc normalization
  bpe_suffix.model           BPE, 1000 pieces, treat_whitespace_as_suffix, byte_fallback
"""
import glob
import io
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import spm_diff  # noqa: E402

COMMITTED = ["unigram_rules", "unigram_identity_bf", "bpe_rmws"]


def corpus():
    text = []
    for p in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]:
        with open(p, encoding="utf-8") as f:
            text.append(f.read())
    text.append("\n".join(s.replace("\n", " ") for s in spm_diff.generate(7, 3000)))
    return "\n".join(text)


def rules_tsv():
    """A slice of NFKC as sentencepiece's normalization_rule_tsv (hex code points)."""
    lines = []
    def rule(src, dst):
        lines.append("%s\t%s" % (" ".join("%X" % ord(c) for c in src),
                                 " ".join("%X" % ord(c) for c in dst)))
    for cp in list(range(0xFF01, 0xFF5F)) + list(range(0xFB00, 0xFB07)) + list(range(0x2460, 0x2474)) + \
            list(range(0x3380, 0x33E0)) + list(range(0x2160, 0x2180)) + [0x2122, 0x2026, 0x00BD]:
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c)
        if n != c:
            rule(c, n)
    rule("e\u0301", "\u00e9")            # a two-character source
    for c in "\t\r\n\u3000\u00a0":
        rule(c, " ")
    for cp in list(range(0x01, 0x09)) + [0x0B, 0x0E, 0x1B, 0x7F]:
        lines.append("%X\t" % cp)       # deleted
    return "\n".join(lines) + "\n"


def train(name, out_dir, text):
    import sentencepiece as spm
    common = dict(sentence_iterator=iter(io.StringIO(text).read().split("\n")),
                  model_writer=None, num_threads=1, minloglevel=2)
    # a relative prefix (the trainer records it in the model): files do not depend on where
    # they were built
    args = dict(model_prefix=name)
    if name == "unigram_nfkc":
        args.update(model_type="unigram", vocab_size=2000)
    elif name == "unigram_rules":
        tsv = os.path.join(out_dir, "rules.tsv.tmp")
        with open(tsv, "w", encoding="utf-8") as f:
            f.write(rules_tsv())
        args.update(model_type="unigram", vocab_size=2000, normalization_rule_tsv="rules.tsv.tmp")
    elif name == "unigram_identity_bf":
        args.update(model_type="unigram", vocab_size=1500, normalization_rule_name="identity",
                    byte_fallback=True, remove_extra_whitespaces=False, character_coverage=0.995)
    elif name == "bpe_rmws":
        args.update(model_type="bpe", vocab_size=1500, normalization_rule_name="identity",
                    remove_extra_whitespaces=True, character_coverage=0.995)
    elif name == "bpe_suffix":
        args.update(model_type="bpe", vocab_size=1000, normalization_rule_name="identity",
                    treat_whitespace_as_suffix=True, byte_fallback=True, remove_extra_whitespaces=False,
                    character_coverage=0.995)
    else:
        raise SystemExit("unknown model " + name)
    del common["model_writer"]
    cwd = os.getcwd()
    os.chdir(out_dir)
    try:
        spm.SentencePieceTrainer.train(**common, **args)
    finally:
        os.chdir(cwd)
    for ext in (".vocab", ):
        try:
            os.remove(os.path.join(out_dir, name + ext))
        except OSError:
            pass
    if name == "unigram_rules":
        os.remove(os.path.join(out_dir, "rules.tsv.tmp"))


def main(argv):
    out_dir = os.path.abspath(argv[0]) if argv else HERE
    names = argv[1:] or COMMITTED
    text = corpus()
    for n in names:
        train(n, out_dir, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
