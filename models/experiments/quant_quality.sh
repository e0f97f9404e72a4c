#!/bin/sh
# The accuracy tables of docs/quantization.md ("Accuracy"): perplexity, KL divergence and top-1
# agreement against the BF16 base, on held-out WordNet glosses, for dsv3's own formats (FP8,
# INT8 in 128x128 blocks and as 8-bit GPTQ g32, INT4 GPTQ g128 and g32, symmetric and --asym)
# and, read through the GGUF import, llama.cpp's Q8_0, Q4_0 and Q4_K_M files of the same
# checkpoint (made by llama.cpp's own llama-quantize from dsv3's BF16 GGUF: build llama.cpp
# yourself and pass its llama-quantize, or "-" to skip those rows).
# Models: models/default, and "larger" (quant_larger.json: hidden 512, 256-wide experts, 29.9 M
# parameters), trained here for 500 steps of 2,048 tokens (about 20 minutes on 2 cores) on the
# default model's corpus split, unless WORK/larger already holds it.
#   usage: quant_quality.sh DSV3 LLAMA_QUANTIZE|- WORK [default|larger ...]
# Needs Debian's wordnet-base (the corpus).
set -eu
dsv3=$1 lq=$2 work=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
models="$here/../default"
mkdir -p "$work"
[ -s "$work/wordnet.txt" ] || sh "$models/make_corpus.sh" > "$work/wordnet.txt"
[ -s "$work/heldout.txt" ] || python3 "$models/make_heldout.py" "$work/wordnet.txt" > "$work/heldout.txt"

train_larger() {  # the default model's recipe and split (--val-fraction 0.01 --data-seed 1), shorter
  [ -s "$work/larger/model.safetensors" ] && return 0
  steps=${LARGER_STEPS:-500}
  "$dsv3" train --config "$here/quant_larger.json" --tokenizer "$models" \
    --data "$work/wordnet.txt" --doc-split line --val-fraction 0.01 --data-seed 1 \
    --seq-len 256 --micro-batch 8 --batch-tokens 2048 --steps "$steps" \
    --lr 3e-3 --lr-final 3e-4 --warmup-steps 20 --decay-start $((steps * 2 / 5)) --decay-end "$steps" \
    --alpha 1e-4 --bias-update-speed 0.001 --seed 1 --init-std 0.02 \
    --eval-every 0 --eval-sequences 0 --log-every 10 --save-dtype bf16 --out "$work/larger"
}

ppl() {  # row-name model [extra options]: one row (sh has no local variables: names of its own)
  row=$1 row_model=$2
  shift 2
  echo "== $row ($(du -b "$row_model" 2>/dev/null | tail -1 | cut -f1) bytes)"
  "$dsv3" perplexity --model "$row_model" --text "$work/heldout.txt" --lines --threads 2 "$@"
}

measure() {  # tag model-dir
  tag=$1 m=$2 d=$work/$1
  mkdir -p "$d"
  ppl "$tag bf16" "$m" --save-logits "$d/base.lp"
  "$dsv3" quantize --model "$m" --out "$d/fp8" > /dev/null
  "$dsv3" quantize --model "$m" --out "$d/int8" --format int8 > /dev/null
  "$dsv3" quantize --model "$m" --out "$d/int4g128" --format int4 --group 128 > /dev/null
  "$dsv3" quantize --model "$m" --out "$d/int4g32" --format int4 --group 32 > /dev/null
  "$dsv3" quantize --model "$m" --out "$d/int8g32" --format int8 --group 32 > /dev/null  # 8-bit GPTQ
  "$dsv3" quantize --model "$m" --out "$d/int4g128a" --format int4 --group 128 --asym > /dev/null
  "$dsv3" quantize --model "$m" --out "$d/int4g32a" --format int4 --group 32 --asym > /dev/null
  for f in fp8 int8 int8g32 int4g128 int4g32 int4g128a int4g32a; do ppl "$tag $f" "$d/$f" --kl-base "$d/base.lp"; done
  [ "$lq" = "-" ] && return 0
  "$dsv3" quantize --model "$m" --format gguf --type bf16 --out "$d/bf16.gguf" > /dev/null
  ppl "$tag gguf bf16" "$d/bf16.gguf" --kl-base "$d/base.lp"
  for t in Q8_0 Q4_0 Q4_K_M; do
    "$lq" "$d/bf16.gguf" "$d/$t.gguf" "$t" 2 > "$d/$t.quantize.log" 2>&1
    ppl "$tag llama.cpp $t" "$d/$t.gguf" --kl-base "$d/base.lp"
  done
}

for which in ${@:-default larger}; do
  case $which in
    default) measure default "$models" ;;
    larger) train_larger && measure larger "$work/larger" ;;
  esac
done
