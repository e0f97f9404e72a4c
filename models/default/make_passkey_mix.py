#!/usr/bin/env python3
"""Training data for passkey retrieval (docs/evaluation.md): N documents in the format of
`dsv3 eval --kind passkey` (src/eval/passkey.cpp: its instructions, filler and question, a
random five-digit key stated twice at a random place, the key as the answer), shuffled with
M lines of the WordNet corpus that are not in the held-out file, as {"text": ...} lines for
`dsv3 train --data`. The evaluation's keys come from its own generator, not this one.
    usage: make_passkey_mix.py wordnet.txt heldout.txt N M MIN_SENTENCES MAX_SENTENCES > mix.jsonl
"""
import json
import random
import sys

INTRO = ("There is an important piece of information hidden inside a lot of irrelevant text. "
         "Find it and memorize it. I will quiz you about it.\n")
FILLER = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."]


def passkey_doc(rng, lo, hi):
    key = str(rng.randint(10000, 99999))
    n = rng.randint(lo, hi)
    first = rng.randint(0, 4)
    sentences = [FILLER[j % 5] for j in range(first, rng.randint(0, 4) + n)]  # n − 4 to n + 4 sentences
    sentences.insert(rng.randint(0, n), f"The pass key is {key}. Remember it. {key} is the pass key.")
    return INTRO + " ".join(sentences) + " \nWhat is the pass key? The pass key is " + key + "."


def main():
    corpus, heldout, n, m, lo, hi = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    rng = random.Random(7)
    held = {line.rstrip("\n") for line in open(heldout)}
    docs = [passkey_doc(rng, lo, hi) for _ in range(n)]
    lines = [line.rstrip("\n") for line in open(corpus) if line.strip() and line.rstrip("\n") not in held]
    rng.shuffle(lines)
    docs += lines[:m]
    rng.shuffle(docs)
    for d in docs:
        print(json.dumps({"text": d}))


main()
