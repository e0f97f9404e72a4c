#!/bin/sh
# The default model's second stage: supervised fine-tuning on chat built from the same WordNet
# corpus (make_chat.sh), loss on the assistant's replies only. Run after train.sh.
#   usage: models/default/sft.sh [WORK_DIR]      (WORK_DIR as given to train.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-default}
sh "$here/make_chat.sh" "$work/wordnet.txt" > "$work/chat.jsonl"
"$dsv3" train --init "$work/run" --sft --data "$work/chat.jsonl" --val-fraction 0.01 --data-seed 1 --fim-rate 0 \
  --seq-len 256 --micro-batch 8 --batch-tokens 4096 --steps 300 \
  --lr 5e-4 --lr-final 5e-5 --warmup-steps 10 --decay-start 30 --decay-end 300 \
  --lambda-mtp 0.1 --alpha 1e-4 --bias-update-speed 0.001 --bias-update-stop 280 --seed 1 \
  --eval-every 100 --eval-sequences 0 --save-every 50 --log-every 10 --save-dtype bf16 --out "$work/sft"
echo "chat model: $work/sft (copy config.json, model.safetensors and the tokenizer files to models/default)"
