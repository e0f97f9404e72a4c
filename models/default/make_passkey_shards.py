#!/usr/bin/env python3
"""Passkey training data token for token as `dsv3 eval --kind passkey --prompt-start eos` builds its
prompts (src/eval/passkey.cpp, passkey_prompt): the instructions, the filler's tokens repeated,
the needle " The pass key is K. Remember it. K is the pass key. " encoded on its own and put at
a chosen depth, the question "\nWhat is the pass key? The pass key is", then the answer " K."
— N documents of L tokens (L uniform in [MIN_LEN, MAX_LEN], depth uniform in [0, 1]), shuffled
with M lines of the WordNet corpus that are not in the held-out file and C copying drills
("Keys: K1 K2 ... Kn. Again: K1 K2 ... Kn." for KEYS_MIN to KEYS_MAX random keys, default 4 to 12:
half their digits can only be predicted by copying from earlier in the context, which is what
retrieval needs and what a passkey document asks for only once or twice), written as a token-shard
folder for `dsv3 train --data DIR` (format: docs/distributed.md, "Data at scale: token shards";
each document is followed by EOS, so the next one starts as an --prompt-start eos prompt does).
Text documents cannot match the eval's prompts token for token: it joins separately
encoded pieces and cuts the filler between tokens, which re-encoding the joined text undoes.
The keys come from Python's generator seeded with SEED, not from the evaluation's.
--window T aligns the stream to `dsv3 train --seq-len T`, which cuts the shards into windows of T
tokens at multiples of T and attends across the documents inside a window: every passkey
document then opens its own window as an eval prompt does (EOS, the instructions, ...; MAX_LEN
plus the answer's tokens, about 7, plus 2 EOS must fit in T), the window's rest is corpus lines
and drills in turn (the last one cut to fit; all are used before any is used twice), and the
lines left over are packed into windows that start with EOS. Without it a document straddles two windows
whenever the stream says so, and about half the answers are trained with their needle cut off
or with another document's key before it.
--gap MIN MAX puts MIN to MAX of the filler's tokens (from a random place in it) between a drill's
"Keys: ... ." and its " Again: ... .", so that its copy sits at a varying distance, as a passkey's
does, and cannot be found by position alone (a drill without a gap can be copied from a fixed
distance back, which a 2-layer model learns long before it learns to look a key up by content).
--short K LO HI adds K passkey documents of LO to HI tokens (with their own keys, in the same
windows): a long stage's data keeps prompts of the pre-training length, so that the model is still
trained where a short prompt puts it (positions 0 to HI under the new RoPE) and keeps what it did there.
--word-keys F makes a fraction F of the drills' keys random words (first words of corpus lines)
instead of numbers: a word's first token rarely occurs anywhere else in the window, so the only way
to predict it in the copy is to look up what followed "Keys:" by content (an induction head),
while a number's digits, ten tokens in all, also follow the previous occurrence of the same digit
elsewhere and a passkey needle's second key can be copied from a fixed distance back.
--tokenizer DIR encodes with DIR/tokenizer.json (default: models/default's) and writes its vocabulary
size into the index.
    usage: make_passkey_shards.py [--window T] [--gap MIN MAX] [--short K LO HI] [--word-keys F] [--tokenizer DIR] wordnet.txt heldout.txt OUT_DIR N M MIN_LEN MAX_LEN [SEED [C [KEYS_MIN KEYS_MAX]]]
    (DSV3=path/to/dsv3, default build/dsv3)
"""
import json
import os
import random
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DSV3 = os.environ.get("DSV3", os.path.join(HERE, "..", "..", "build", "dsv3"))
INTRO = ("There is an important piece of information hidden inside a lot of irrelevant text. "
         "Find it and memorize it. I will quiz you about it.\n")
FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
QUESTION = "\nWhat is the pass key? The pass key is"
EOS = 1  # every dsv3 tokenizer's (BOS, EOS, pad lead the vocabulary)


def vocab_size(tokenizer_dir):
    """Ids in tokenizer.json: the BPE vocabulary and the added tokens (4,096 for models/default)."""
    t = json.load(open(os.path.join(tokenizer_dir, "tokenizer.json")))
    return max(list(t["model"]["vocab"].values()) + [a["id"] for a in t["added_tokens"]]) + 1


def tokenize(texts, tokenizer_dir):
    """Ids of each text alone, as `dsv3 tokenize --jsonl` gives them (no BOS)."""
    inp = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([DSV3, "tokenize", "--tokenizer", tokenizer_dir, "--jsonl", "-"], input=inp,
                         capture_output=True, text=True, check=True).stdout
    ids = [json.loads(line)["ids"] for line in out.splitlines()]
    assert len(ids) == len(texts), "dsv3 tokenize skipped a line"
    return ids


def passkey_doc(intro, filler, needle, question, answer, length, depth):
    """passkey_prompt's token layout (without the start token), then the answer."""
    room = length - (len(intro) + len(needle) + len(question))
    assert room >= 0, f"length {length} is shorter than the instructions, key and question"
    at = round(depth * room)  # llround: halves away from zero; round() to even differs only at .5
    out = list(intro)
    for i in range(room):
        if i == at:
            out += needle
        out.append(filler[i % len(filler)])
    if at == room:
        out += needle
    return out + question + answer


def fnv1a(data, h=14695981039346656037):  # FNV-1a's 64-bit offset basis (src/core/hash.h)
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def write_shards(out_dir, docs, vocab):
    """One shard: 64-byte header, u32 tokens (each document then EOS), pad to 8 bytes, u64 doc ends."""
    os.makedirs(out_dir, exist_ok=True)
    tokens, ends = [], []
    for d in docs:
        tokens += d + [EOS]
        ends.append(len(tokens))
    tok_bytes = struct.pack(f"<{len(tokens)}I", *tokens)
    end_bytes = struct.pack(f"<{len(ends)}Q", *ends)
    checksum = fnv1a(end_bytes, fnv1a(tok_bytes))
    header = b"DSV3TOK\0" + struct.pack("<IIQQQ", 2, 4, len(docs), len(tokens), checksum) + bytes(24)
    with open(os.path.join(out_dir, "shard-00000.tok"), "wb") as f:
        f.write(header + tok_bytes + (b"\0" * 4 if len(tokens) % 2 else b"") + end_bytes)
    index = {"format": "dsv3-token-shards", "version": 2, "eos": EOS, "vocab_size": vocab,
             "documents": len(docs), "tokens": len(tokens),
             "shards": [{"file": "shard-00000.tok", "documents": len(docs), "tokens": len(tokens),
                         "checksum": f"{checksum:x}"}]}
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


def windows(passkey_docs, other_docs, T):
    """Documents grouped so that each group is exactly T tokens once write_shards adds the EOS
    after each: an empty document (the EOS a prompt starts with), a passkey document, then other
    documents (taken in turn, again from the first when all are used), the last cut to fit; other
    documents never used are packed into groups that start the same way."""
    groups, used = [], 0
    for first in passkey_docs + [None] * len(other_docs):
        if first is None and used >= len(other_docs):
            break
        group = [[]] + ([first] if first is not None else [])
        room = T - sum(len(d) + 1 for d in group)
        assert room >= 0, f"a passkey document of {len(first)} tokens does not fit a window of {T}"
        while room > 0 and other_docs:
            d = other_docs[used % len(other_docs)][:room - 1]
            used += 1
            group.append(d)
            room -= len(d) + 1
        if room == 0:  # a last group the documents cannot fill is dropped, as the windows would drop it
            groups.append(group)
    return groups


def main():
    args, T, gap, tok, short, word_keys = sys.argv[1:], 0, None, HERE, (0, 0, 0), 0.0
    while args[:1] in (["--window"], ["--gap"], ["--tokenizer"], ["--short"], ["--word-keys"]):
        if args[0] == "--word-keys":
            word_keys, args = float(args[1]), args[2:]
        elif args[0] == "--short":
            short, args = tuple(map(int, args[1:4])), args[4:]
        elif args[0] == "--window":
            T, args = int(args[1]), args[2:]
        elif args[0] == "--tokenizer":
            tok, args = args[1], args[2:]
        else:
            gap, args = (int(args[1]), int(args[2])), args[3:]
    if len(args) not in (7, 8, 9, 11):
        sys.exit(__doc__)
    corpus, heldout, out_dir = args[0:3]
    n, m, lo, hi = map(int, args[3:7])
    rng = random.Random(int(args[7]) if len(args) > 7 else 7)
    n_copy = int(args[8]) if len(args) > 8 else 0
    keys_min, keys_max = map(int, args[9:11]) if len(args) > 9 else (4, 12)
    held = {line.rstrip("\n") for line in open(heldout)}
    lines = [line.rstrip("\n") for line in open(corpus) if line.strip() and line.rstrip("\n") not in held]
    rng.shuffle(lines)
    lines = lines[:m]
    gaps = []  # (tokens of filler, where in the filler they start as a fraction) of each gapped drill
    words = sorted({line.split(",")[0].split(":")[0] for line in lines} if word_keys else ())
    words = [w for w in words if w.isalpha()]
    for _ in range(n_copy):
        if word_keys and rng.random() < word_keys:
            ks = " ".join(rng.choice(words) for _ in range(rng.randint(keys_min, keys_max)))
        else:
            ks = " ".join(str(rng.randint(10000, 99999)) for _ in range(rng.randint(keys_min, keys_max)))
        if gap:
            lines += [f"Keys: {ks}.", f" Again: {ks}."]
            gaps.append((rng.randint(*gap), rng.random()))
        else:
            lines.append(f"Keys: {ks}. Again: {ks}.")
    n_long, n = n, n + short[0]
    keys = [str(rng.randint(10000, 99999)) for _ in range(n)]
    needles = [f" The pass key is {k}. Remember it. {k} is the pass key. " for k in keys]
    answers = [f" {k}." for k in keys]
    ids = tokenize([INTRO, FILLER, QUESTION] + needles + answers + lines, tok)
    intro, filler, question = ids[:3]
    needle_ids, answer_ids, line_ids = ids[3:3 + n], ids[3 + n:3 + 2 * n], ids[3 + 2 * n:]
    if gap:  # the drills are the last 2 * n_copy pieces: "Keys: ... ." and " Again: ... ."
        drills = line_ids[len(line_ids) - 2 * n_copy:]
        line_ids = line_ids[:len(line_ids) - 2 * n_copy]
        for i, (g, at) in enumerate(gaps):
            o = int(at * len(filler))
            line_ids.append(drills[2 * i] + [filler[(o + j) % len(filler)] for j in range(g)] + drills[2 * i + 1])
    docs = [passkey_doc(intro, filler, needle_ids[i], question, answer_ids[i],
                        rng.randint(lo, hi) if i < n_long else rng.randint(*short[1:]), rng.random())
            for i in range(n)]
    if T:
        rng.shuffle(line_ids)
        groups = windows(docs, line_ids, T)
        rng.shuffle(groups)
        docs = [d for g in groups for d in g]
    else:
        docs += line_ids
        rng.shuffle(docs)
    write_shards(out_dir, docs, vocab_size(tok))
    print(f"{out_dir}: {n_long} passkey documents of {lo}-{hi} tokens"
          f"{f' + {short[0]} of {short[1]}-{short[2]}' if short[0] else ''} + {m} corpus lines + {n_copy} copying drills"
          f"{f' ({word_keys:.0%} of words)' if word_keys else ''}"
          f"{f' with gaps of {gap[0]}-{gap[1]} tokens' if gap else ''}, "
          f"{sum(len(d) + 1 for d in docs)} tokens", file=sys.stderr)


main()
