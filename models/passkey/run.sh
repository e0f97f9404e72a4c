#!/bin/sh
# Passkey retrieval and its context extension on a model sized for it (docs/evaluation.md,
# "Passkey retrieval: a model that copies"): a 2-layer DeepSeek-V3-architecture model (MLA with
# its decoupled RoPE, DeepSeekMoE with 4 routed experts and 1 shared, config.json here) with the
# default model's tokenizer, trained from scratch at 256 tokens on passkey documents built token
# for token as `dsv3 eval --kind passkey --prompt-start eos` builds its prompts, short copying
# drills and WordNet lines (models/default/make_passkey_shards.py); then `--extend-context 1024`
# (YaRN, factor 4 from 256) on passkey documents of 200-1,012 tokens; `dsv3 eval` before and after.
# Not run in CI. What each run gave is in docs/evaluation.md: run 3, the pre-training, to step
# 1,500 of its 3,000-step schedule (copying learnt on drills near step 600, passkey still 0), run 4
# from its step 1,400 (PRETRAIN_STEPS, default 1400, stops the same schedule there), run 5, runs 6
# and 7 on aligned windows and gapped drills (partial retrieval), and stage 1 of the extension.
#   usage: models/passkey/run.sh [WORK_DIR] [PRETRAIN_STEPS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsv3=${DSV3:-$here/../../build/dsv3}
work=${1:-/tmp/dsv3-passkey-small}
steps=${2:-1400}
mkdir -p "$work"
[ -s "$work/wordnet.txt" ] || sh "$here/../default/make_corpus.sh" > "$work/wordnet.txt"
heldout=$here/../../data/eval/wordnet_heldout.txt
shards() { DSV3=$dsv3 "$here/../default/make_passkey_shards.py" "$work/wordnet.txt" "$heldout" "$@"; }
common="--val-fraction 0.01 --data-seed 1 --eval-sequences 0 --log-every 10 --threads 1"
# Pre-training at 256 tokens: 12,000 passkey documents of 96-200 tokens, 4,000 corpus lines,
# 40,000 drills of 1-2 keys ("Keys: K1 K2. Again: K1 K2.").
[ -d "$work/sh256" ] || shards "$work/sh256" 12000 4000 96 200 31 40000 1 2
"$dsv3" train --config "$here/config.json" --tokenizer "$here/../default" --seed 3 --data "$work/sh256" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps "$steps" --lr 3e-3 --lr-final 3e-4 \
  --warmup-steps 30 --decay-start 30 --decay-end 3000 --save-every 100 --out "$work/base"
# Run 4: passkey documents weighted up (15,000 of 96-140 tokens, 1,000 corpus lines, 5,000
# drills of 1-2 keys).
[ -d "$work/shF" ] || shards "$work/shF" 15000 1000 96 140 41 5000 1 2
"$dsv3" train --init "$work/base" --seed 4 --data "$work/shF" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps 400 --lr 2e-3 --lr-final 2e-4 \
  --warmup-steps 5 --decay-start 5 --decay-end 400 --save-every 50 --out "$work/run4"
# Run 5: run 4 continued on the same mix in another order.
"$dsv3" train --init "$work/run4" --seed 5 --data "$work/shF" --val-fraction 0.01 --data-seed 2 \
  --eval-sequences 0 --log-every 10 --threads 1 --seq-len 256 --micro-batch 8 --batch-tokens 2048 \
  --steps 300 --lr 1.5e-3 --lr-final 1.5e-4 --warmup-steps 5 --decay-start 5 --decay-end 300 \
  --save-every 50 --out "$work/run5"
# Run 6: run 5 continued on windows aligned to --seq-len (make_passkey_shards.py --window 256): each
# passkey document opens its own 256-token window with EOS, as an eval prompt does, so no answer is
# trained with its needle in the previous window or after another document's key (in shF 22% and
# 24% of them). Stopped at step 500 of its 1,200-step schedule.
[ -d "$work/shW" ] || shards --window 256 "$work/shW" 14000 3000 96 245 51 8000 1 2
"$dsv3" train --init "$work/run5" --seed 6 --data "$work/shW" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps 500 --lr 1.5e-3 --lr-final 1.5e-4 \
  --warmup-steps 5 --decay-start 5 --decay-end 1200 --save-every 100 --out "$work/run6"
# Run 7: run 6's step 500 on aligned windows whose drills have 8-120 filler tokens between the keys
# and their copy (--gap), so that they cannot be copied from a fixed distance back.
[ -d "$work/shG" ] || shards --window 256 --gap 8 120 "$work/shG" 14000 1000 96 245 61 24000 1 2
"$dsv3" train --init "$work/run6" --seed 7 --data "$work/shG" $common \
  --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps 1000 --lr 1.5e-3 --lr-final 1.5e-4 \
  --warmup-steps 5 --decay-start 5 --decay-end 1000 --save-every 100 --out "$work/run7"
# Stage 1: YaRN for 1,024 tokens written into the config (factor 4 from 256), passkey documents of
# 200-1,012 tokens, each opening its own 1,024-token window, and gapped drills.
[ -d "$work/sh1024g" ] || shards --window 1024 --gap 8 120 "$work/sh1024g" 1500 1000 200 1012 12 6000 1 2
"$dsv3" train --init "$work/run7" --extend-context 1024 --data "$work/sh1024g" $common \
  --seq-len 1024 --micro-batch 2 --batch-tokens 2048 --steps 150 --lr 1e-3 --lr-final 1e-4 \
  --warmup-steps 5 --decay-start 5 --decay-end 150 --save-every 50 --out "$work/ext1024"
# Stage 2: YaRN for 4,096 tokens (factor 16 from 256: --extend-context keeps the original length),
# passkey documents of 800-4,084 tokens, each opening its own 4,096-token window.
[ -d "$work/sh4096g" ] || shards --window 4096 --gap 8 120 "$work/sh4096g" 300 500 800 4084 13 3000 1 2
"$dsv3" train --init "$work/ext1024" --extend-context 4096 --data "$work/sh4096g" --val-fraction 0.01 \
  --data-seed 1 --eval-sequences 0 --log-every 5 --threads 1 --seq-len 4096 --micro-batch 1 \
  --batch-tokens 4096 --steps 30 --lr 5e-4 --lr-final 5e-5 --warmup-steps 2 --decay-start 2 \
  --decay-end 30 --save-every 10 --out "$work/ext4096"
# The unextended model at 1,008 tokens needs a config that allows them (plain RoPE still).
rm -rf "$work/base-1024" && cp -r "$work/run7" "$work/base-1024" && rm -f "$work/base-1024/trainer_state.safetensors"
sed -i 's/"max_position_embeddings": 256/"max_position_embeddings": 1024/' "$work/base-1024/config.json"
# Run 7's weights under stage 1's config: what YaRN does before any training.
rm -rf "$work/yarn1024" && cp -r "$work/base-1024" "$work/yarn1024" && cp "$work/ext1024/config.json" "$work/yarn1024/"
probes=$here/../../data/eval
for m in base-1024 yarn1024 ext1024; do
  "$dsv3" eval --threads 1 --model "$work/$m" --task "$probes/copy_drill_mc.jsonl" --prompt-start eos
  for t in copy_drill copy_drill_gap; do
    "$dsv3" eval --threads 1 --model "$work/$m" --task "$probes/$t.jsonl" --answer 'regex:^\s*(\d+)' \
      --max-new-tokens 8 --prompt-start eos
  done
  for L in 240 1008; do  # one length a run: every model gets the same 50 keys at each length
    "$dsv3" eval --threads 1 --model "$work/$m" --kind passkey --lengths $L --depths 0,0.25,0.5,0.75,1 \
      --trials 10 --prompt-start eos
  done
  for ctx in 256 1024; do
    "$dsv3" eval --threads 1 --model "$work/$m" --task "$heldout" --lines --ctx $ctx --prompt-start eos
  done
done
# At 4,080 tokens: run 7 and stage 1 in copies whose config allows 4,096 positions, and stage 2.
for m in run7 ext1024; do
  rm -rf "$work/$m-4096" && cp -r "$work/$m" "$work/$m-4096" && rm -f "$work/$m-4096/trainer_state.safetensors"
  sed -i 's/"max_position_embeddings": [0-9]*/"max_position_embeddings": 4096/' "$work/$m-4096/config.json"
done
for m in run7-4096 ext1024-4096 ext4096; do
  "$dsv3" eval --threads 1 --model "$work/$m" --kind passkey --lengths 4080 --depths 0,0.25,0.5,0.75,1 \
    --trials 10 --prompt-start eos
  "$dsv3" eval --threads 1 --model "$work/$m" --task "$heldout" --lines --ctx 4096 --prompt-start eos
done
