#!/bin/sh
# Reproduces models/default from Debian's wordnet-base package (WordNet 3.0 license):
# the corpus, the BPE tokenizer, and the training run. About an hour on 2 cores.
#   usage: models/default/train.sh [WORK_DIR]      (needs build/dsv3 and: apt-get install wordnet-base)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-default}
mkdir -p "$work"
sh "$here/make_corpus.sh" > "$work/wordnet.txt"
"$dsv3" tokenizer-train --input "$work/wordnet.txt" --vocab-size 4096 --out "$work/tok"
"$dsv3" train --config "$here/train_config.json" --tokenizer "$work/tok" \
  --data "$work/wordnet.txt" --doc-split line --val-fraction 0.01 --fim-rate 0.1 --data-seed 1 \
  --seq-len 256 --micro-batch 8 --batch-tokens 4096 --steps 600 \
  --lr 3e-3 --lr-final 3e-4 --warmup-steps 30 --decay-start 250 --decay-end 600 \
  --lambda-mtp 0.3 --lambda-mtp-final 0.1 --lambda-mtp-switch 420 --alpha 1e-4 \
  --bias-update-speed 0.001 --bias-update-stop 580 --seed 1 --init-std 0.02 \
  --eval-every 100 --eval-sequences 0 --save-every 50 --log-every 10 --save-dtype bf16 --out "$work/run"
echo "trained model: $work/run (config.json, model.safetensors, tokenizer files)"
