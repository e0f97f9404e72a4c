#!/bin/sh
# Context extension of the default model with YaRN, in two stages as DeepSeek-V3 went from 4K to
# 32K to 128K (report §4.3), scaled down: trained on 256-token sequences, the model gets YaRN for
# a 4,096-token context once (factor 16 from 256, β 32/1, mscale 1, the report's settings), then
# trains briefly at 1,024 and at 4,096 tokens with the same settings. The corpus and the held-out
# split are pre-training's (train.sh), so data/eval/wordnet_heldout.txt stays held out.
#   usage: models/default/extend_context.sh [WORK_DIR]   (WORK_DIR/wordnet.txt as train.sh makes it)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-default}
mkdir -p "$work"
[ -s "$work/wordnet.txt" ] || sh "$here/make_corpus.sh" > "$work/wordnet.txt"
common="--data $work/wordnet.txt --doc-split line --val-fraction 0.01 --fim-rate 0.1 --data-seed 1
  --lambda-mtp 0.1 --alpha 1e-4 --bias-update-speed 0.001 --seed 1
  --eval-every 0 --eval-sequences 16 --save-every 5 --log-every 5 --save-dtype bf16"
# Stage 1: YaRN written into the config, 1,024-token sequences.
"$dsv3" train --init "$here" --extend-context 4096 --original-context 256 $common \
  --seq-len 1024 --micro-batch 4 --batch-tokens 4096 --steps 30 \
  --lr 3e-4 --lr-final 3e-5 --warmup-steps 3 --decay-start 3 --decay-end 30 --out "$work/ext1024"
# Stage 2: the same YaRN settings (read from stage 1's config), 4,096-token sequences.
"$dsv3" train --init "$work/ext1024" $common \
  --seq-len 4096 --micro-batch 1 --batch-tokens 4096 --steps 8 \
  --lr 1e-4 --lr-final 1e-5 --warmup-steps 0 --decay-start 0 --decay-end 8 --eval-sequences 4 --out "$work/ext4096"
echo "extended models: $work/ext1024 (stage 1) and $work/ext4096 (stage 2)"
