#!/bin/sh
# Passkey retrieval and its two-stage context extension on a model sized for it (docs/evaluation.md,
# "Run 8" and "The extension: 256 -> 1,024 -> 4,096 tokens"): a 2-layer DeepSeek-V3-architecture model (MLA with its
# decoupled RoPE, DeepSeekMoE with 4 routed experts and 1 shared, config.json here) with its own
# 1,024-id tokenizer (tokenizer/ here), trained from scratch at 256 tokens on passkey documents
# built token for token as `dsv3 eval --kind passkey --prompt-start eos` builds its prompts, each
# opening its own 256-token window, with copying drills whose copy sits 8-120 tokens after the keys
# (models/default/make_passkey_shards.py --window --gap); then `--extend-context 1024` and
# `--extend-context 4096` (YaRN, factors 4 and 16 from 256) on passkey documents up to the new
# length with 256-token ones kept in the mix (--short), at a tenth of the base's peak learning rate;
# `dsv3 eval` of every model at 240, 1,008 and 4,080 tokens. Not run in CI. The recipe of runs 1-7
# (the default tokenizer, data faults found on the way) is this file at commit ad6c2de.
#   usage: models/passkey/run.sh [WORK_DIR] [BASE1_STEPS] [BASE2_STEPS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-passkey-small}
steps1=${2:-2500}
steps2=${3:-1300}
mkdir -p "$work"
[ -s "$work/wordnet.txt" ] || sh "$here/../default/make_corpus.sh" > "$work/wordnet.txt"
heldout=$here/../../data/eval/wordnet_heldout.txt
probes=$here/../../data/eval
# The tokenizer: tokenizer/, written by make_tokenizer.sh (why 1,024 ids: there).
tok=$here/tokenizer
shards() { DSV3=$dsv3 "$here/../default/make_passkey_shards.py" --tokenizer "$tok" "$work/wordnet.txt" "$heldout" "$@"; }
common="--val-fraction 0.01 --data-seed 1 --eval-sequences 0 --log-every 10 --threads 1"
# Base at 256 tokens, part 1: 30,000 passkey documents of 80-245 tokens, each opening its own
# window, the windows' rest 1-2-key drills with 8-120 filler tokens before the copy and 3,000 corpus
# lines; stopped at step 2,500 of a 3,600-step schedule (BASE1_STEPS).
[ -d "$work/sh256" ] || shards --window 256 --gap 8 120 "$work/sh256" 30000 3000 80 245 71 40000 1 2
"$dsv3" train --config "$here/config.json" --tokenizer "$tok" --seed 3 --data "$work/sh256" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps "$steps1" --lr 3e-3 --lr-final 3e-4 \
  --warmup-steps 30 --decay-start 30 --decay-end 3600 --save-every 100 --out "$work/base1"
# Part 2: new windows of the same form whose drills hold 1-3 keys, half of them words (--word-keys:
# a copy that only a lookup by content can make); stopped at step 1,300 of 2,400 (BASE2_STEPS).
[ -d "$work/sh256w" ] || shards --window 256 --gap 8 120 --word-keys 0.5 "$work/sh256w" 20000 3000 80 245 74 40000 1 3
"$dsv3" train --init "$work/base1" --seed 4 --data "$work/sh256w" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps "$steps2" --lr 1.5e-3 --lr-final 1.5e-4 \
  --warmup-steps 10 --decay-start 10 --decay-end 2400 --save-every 100 --out "$work/base"
# Stage 1: YaRN for 1,024 tokens (factor 4 from 256): 1,200 passkey documents of 246-1,012 tokens
# and 600 of 80-245 (--short), each opening its own 1,024-token window; lr a tenth of the base's.
[ -d "$work/sh1024" ] || shards --window 1024 --gap 8 120 --short 600 80 245 "$work/sh1024" 1200 1000 246 1012 72 12000 1 2
"$dsv3" train --init "$work/base" --extend-context 1024 --data "$work/sh1024" $common \
  --seq-len 1024 --micro-batch 2 --batch-tokens 2048 --steps 300 --lr 3e-4 --lr-final 3e-5 \
  --warmup-steps 10 --decay-start 10 --decay-end 300 --save-every 100 --out "$work/ext1024"
# Stage 2: YaRN for 4,096 tokens (factor 16 from 256: --extend-context keeps the original length),
# 200 passkey documents of 246-4,084 tokens and 100 of 80-245, each opening its own 4,096-token window.
# (The docs' "stage 2, 50 steps" row: --steps 50 --lr 2e-4 --lr-final 2e-5 --decay-end 50.)
[ -d "$work/sh4096" ] || shards --window 4096 --gap 8 120 --short 100 80 245 "$work/sh4096" 200 1000 246 4084 73 12000 1 2
"$dsv3" train --init "$work/ext1024" --extend-context 4096 --data "$work/sh4096" $common \
  --seq-len 4096 --micro-batch 1 --batch-tokens 4096 --steps 120 --lr 3e-4 --lr-final 3e-5 \
  --warmup-steps 3 --decay-start 3 --decay-end 120 --save-every 20 --out "$work/ext4096"
# The models compared: copies without trainer state whose config allows 4,096 positions (plain
# RoPE past the base's 256: base-4096; stage 1's factor 4 past its 1,024: ext1024-4096), and the
# base's weights under each stage's config with no training (yarn1024, yarn4096).
copy() { rm -rf "$work/$2" && cp -r "$work/$1" "$work/$2" && rm -f "$work/$2/trainer_state.safetensors"; }
copy base base-4096; copy ext1024 ext1024-4096
sed -i 's/"max_position_embeddings": [0-9]*/"max_position_embeddings": 4096/' "$work/base-4096/config.json" "$work/ext1024-4096/config.json"
copy base yarn1024 && cp "$work/ext1024/config.json" "$work/yarn1024/"
copy base yarn4096 && cp "$work/ext4096/config.json" "$work/yarn4096/"
ev() { m=$1; shift; "$dsv3" eval --threads 1 --model "$work/$m" --prompt-start eos "$@"; }
pk() { ev "$1" --kind passkey --lengths "$2" --depths 0,0.25,0.5,0.75,1 --trials 10; }  # the same 50 keys at each length
for m in base yarn1024 ext1024 ext4096; do
  ev $m --task "$probes/copy_drill_mc.jsonl"
  ev $m --task "$probes/copy_drill.jsonl" --answer 'regex:^\s*(\d+)' --max-new-tokens 8
  ev $m --task "$probes/copy_drill_gap.jsonl" --answer 'regex:^\s*(\d+)' --max-new-tokens 8
  ev $m --kind passkey --lengths 128,240 --depths 0,0.5,1 --trials 10
  pk $m 240
  ev $m --task "$heldout" --lines --ctx 256
done
for m in base-4096 yarn1024 ext1024 ext4096; do pk $m 1008; ev $m --task "$heldout" --lines --ctx 1024; done
for m in base-4096 yarn4096 ext1024-4096 ext4096; do pk $m 4080; ev $m --task "$heldout" --lines --ctx 4096; done
