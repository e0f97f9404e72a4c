#!/bin/sh
# models/passkey/tokenizer: 1,024 ids of byte-level BPE (`dsv3 tokenizer-train`) trained on the WordNet
# lines outside the held-out file and 1,000 passkey prompts and drills, so that the instructions,
# filler, needle and question take about as many tokens as with models/default's 4,096 ids (40, 25,
# 28, 12 against 40, 30, 29, 14) and a key is still one token a digit (no digit pair but `18` and
# `19` is merged), while the embedding and output matrices, 77% of the 4,096-id model's parameters
# and most of its arithmetic per token, shrink fourfold.
#   usage: make_tokenizer.sh wordnet.txt OUT_DIR   (wordnet.txt from models/default/make_corpus.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
corpus=$(mktemp)
trap 'rm -f "$corpus"' EXIT
python3 - "$1" "$here/../../data/eval/wordnet_heldout.txt" > "$corpus" <<'EOF'
import random, sys
r = random.Random(5)
intro = ("There is an important piece of information hidden inside a lot of irrelevant text. "
         "Find it and memorize it. I will quiz you about it.\n")
filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
held = {l.rstrip("\n") for l in open(sys.argv[2])}
sys.stdout.writelines(l for l in open(sys.argv[1]) if l.rstrip("\n") not in held)
for _ in range(1000):
    k = str(r.randint(10000, 99999))
    print(intro + filler * 3 + f" The pass key is {k}. Remember it. {k} is the pass key. " + filler
          + f"\nWhat is the pass key? The pass key is {k}.")
    print(f"Keys: {k}. {filler}Again: {k}.")
EOF
"$dsv3" tokenizer-train --input "$corpus" --vocab-size 1024 --out "$2"
