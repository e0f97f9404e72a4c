#!/usr/bin/env python3
"""The default model's held-out documents (what its training run evaluated on), one per line,
for `dsv3 perplexity --text`: the corpus lines split as `dsv3 train --doc-split line
--val-fraction 0.01 --data-seed 1` does (src/train/data.cpp: splitmix64 Fisher-Yates
permutation of the non-blank lines; the first round(n * 0.01) are held out).
    usage: make_corpus.sh > wordnet.txt; make_heldout.py wordnet.txt > heldout.txt
"""
import sys

M = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def permutation(n, seed):
    p = list(range(n))
    s = mix64(seed)
    for i in range(n - 1, 0, -1):
        s = mix64(s)
        j = s % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def main():
    with open(sys.argv[1], encoding="utf-8", newline="\n") as f:
        docs = [l.rstrip("\n") for l in f if l.strip(" \t\r\n")]
    n_val = max(1, int(len(docs) * 0.01 + 0.5))
    for i in permutation(len(docs), 1)[:n_val]:
        print(docs[i])


main()
