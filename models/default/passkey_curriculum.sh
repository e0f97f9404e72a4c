#!/bin/sh
# Teaching the default model passkey retrieval (docs/evaluation.md, "Passkey retrieval: teaching
# the default model to copy"): short passkey documents built token for token as
# `dsv3 eval --kind passkey --prompt-start eos` builds its prompts, mixed with corpus lines and
# copying drills (make_passkey_shards.py), at 256 tokens; the runs below are the ones measured.
#   usage: models/default/passkey_curriculum.sh [WORK_DIR]   (one thread each: a shared machine)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-passkey}
mkdir -p "$work"
[ -s "$work/wordnet.txt" ] || sh "$here/make_corpus.sh" > "$work/wordnet.txt"
heldout=$here/../../data/eval/wordnet_heldout.txt
common="--val-fraction 0.01 --data-seed 1 --seq-len 256 --micro-batch 4 --batch-tokens 1024 --seed 1
  --eval-sequences 0 --log-every 10 --threads 1"
# A: the answer's form — 4,000 passkey documents of 84-128 tokens, 8,000 corpus lines; the first
# 150 steps of a 400-step schedule (what C starts from).
DSV3=$dsv3 "$here/make_passkey_shards.py" "$work/wordnet.txt" "$heldout" "$work/shA" 4000 8000 84 128 1
"$dsv3" train --init "$here" --data "$work/shA" $common --steps 150 --lr 1e-3 --lr-final 1e-4 \
  --warmup-steps 20 --decay-start 20 --decay-end 400 --save-every 50 --out "$work/runA"
# C: copying — from A's step 150, 3,000 passkey documents of 84-160 tokens, 6,000 corpus lines
# and 6,000 drills.
DSV3=$dsv3 "$here/make_passkey_shards.py" "$work/wordnet.txt" "$heldout" "$work/shC" 3000 6000 84 160 5 6000
"$dsv3" train --init "$work/runA" --data "$work/shC" $common --steps 400 --lr 1e-3 --lr-final 1e-4 \
  --warmup-steps 10 --decay-start 10 --decay-end 400 --save-every 50 --out "$work/runC"
for m in "$here" "$work/runA" "$work/runC"; do
  "$dsv3" eval --threads 1 --model "$m" --kind passkey --lengths 128,256 --depths 0,0.5,1 --trials 10 --prompt-start eos
done
