#!/usr/bin/env python3
"""The task files of data/eval, made from the default model's corpus (WordNet 3.0 glosses, one
synset per line "word, other word: definition; "example""; see models/default/make_corpus.sh).

    sh models/default/make_corpus.sh > wordnet.txt
    models/default/make_heldout.py wordnet.txt > heldout.txt
    data/eval/make_tasks.py wordnet.txt heldout.txt data/eval

Writes (seeded, so the files are reproducible):
  wordnet_mc_train.jsonl    100 definitions to pick among 4 for synsets the model trained on
  wordnet_mc_heldout.jsonl  100 of the same for held-out synsets (the 1% dsv3 train kept out)
  wordnet_synonym.jsonl     100 "WORD," prompts whose continuation is a synonym (generation)
  wordnet_heldout.txt       300 held-out lines, for perplexity (--lines)
  wordnet_first_letter_train.jsonl / _heldout.jsonl
                            400 / 100 "WORD," prompts (disjoint words) whose answer is WORD's
                            first letter: a task GRPO can learn (docs/post-training.md), scored
                            with --answer 'regex:^\s*(\w)' (the first letter of the output)
  wordnet_vowel_train.jsonl / _heldout.jsonl
                            the same prompts; the answer is any vowel: the continuation must
                            start with a vowel (a preference GRPO can teach in a few steps)
"""
import json
import random
import sys


def split(line):
    words, _, gloss = line.partition(": ")
    definition = gloss.split('; "')[0].strip()
    return [w.strip() for w in words.split(", ")], definition


def mc_items(lines, pool, rng, n):
    items = []
    for line in rng.sample(lines, n):
        words, definition = split(line)
        choices = [definition]
        while len(choices) < 4:
            other = split(rng.choice(pool))[1]
            if other and other not in choices:
                choices.append(other)
        rng.shuffle(choices)
        items.append({"question": ", ".join(words) + ":", "choices": choices, "answer": choices.index(definition)})
    return items


def synonym_items(lines, rng, n):
    # Every line that starts "WORD, ": the synonyms that may follow the prompt "WORD,".
    follows = {}
    for line in lines:
        words, _ = split(line)
        if len(words) >= 2 and words[0].isalpha() and words[0].islower():
            follows.setdefault(words[0], set()).add(words[1])
    heads = sorted(follows)
    return [{"prompt": h + ",", "answer": sorted(follows[h]), "stop": [",", ":"]} for h in rng.sample(heads, n)]


def first_letter_items(lines, rng, n_train, n_heldout):
    # The prompts of synonym_items; the answer is the prompt word's own first letter.
    heads = sorted({split(l)[0][0] for l in lines if len(split(l)[0]) >= 2 and split(l)[0][0].isalpha()
                    and split(l)[0][0].islower()})
    chosen = rng.sample(heads, n_train + n_heldout)
    items = [{"prompt": h + ",", "answer": h[0], "stop": [",", ":"]} for h in chosen]
    return items[:n_train], items[n_train:]


def write_jsonl(path, items):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")


def main():
    corpus, heldout_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(corpus, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if ": " in l]
    with open(heldout_path, encoding="utf-8") as f:
        heldout = [l.rstrip("\n") for l in f if ": " in l]
    held = set(heldout)
    train = [l for l in lines if l not in held]
    rng = random.Random(15)
    write_jsonl(f"{out}/wordnet_mc_train.jsonl", mc_items(train, lines, rng, 100))
    write_jsonl(f"{out}/wordnet_mc_heldout.jsonl", mc_items(heldout, lines, rng, 100))
    write_jsonl(f"{out}/wordnet_synonym.jsonl", synonym_items(train, rng, 100))
    with open(f"{out}/wordnet_heldout.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(heldout[:300]) + "\n")
    fl_train, fl_heldout = first_letter_items(train, random.Random(16), 400, 100)
    write_jsonl(f"{out}/wordnet_first_letter_train.jsonl", fl_train)
    write_jsonl(f"{out}/wordnet_first_letter_heldout.jsonl", fl_heldout)
    for name, items in (("train", fl_train), ("heldout", fl_heldout)):
        write_jsonl(f"{out}/wordnet_vowel_{name}.jsonl", [dict(it, answer=list("aeiou")) for it in items])


main()
