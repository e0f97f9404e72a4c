#!/bin/sh
# The experiments of docs/training.md: the same small DeepSeek-V3-style model (3 layers: 1 dense,
# 2 MoE with 16 routed experts in 4 groups, top-4, 1 shared; MTP D=1) on the same data and seed,
# changing one thing at a time.
#   usage: run_experiments.sh DSV3 TOKENIZER_DIR CORPUS OUT_DIR [experiment...]
# experiments: bias bias01 aux none bf16 fp8 mtp nomtp (default: all)
set -eu
dsv3=$1 tok=$2 corpus=$3 out=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
run() {  # name config extra-options...
  name=$1 cfg=$2
  shift 2
  "$dsv3" train --config "$here/$cfg" --tokenizer "$tok" --data "$corpus" --doc-split line \
    --val-fraction 0.01 --seq-len 128 --micro-batch 8 --batch-tokens 2048 --steps 200 \
    --lr 3e-3 --warmup-steps 20 --decay-start 100 --decay-end 200 --seed 1 \
    --eval-every 100 --threads 1 --eval-sequences 0 --log-every 50 --out "$out/$name" "$@"
}
for e in ${@:-bias bias01 aux none bf16 fp8 mtp nomtp}; do
  case $e in
    bias)  run bias  small.json --bias-update-speed 0.001 --alpha 0 ;;     # auxiliary-loss-free only
    bias01) run bias01 small.json --bias-update-speed 0.01 --alpha 0 ;;    # ... with γ for a short run
    aux)   run aux   small.json --bias-update-speed 0 --alpha 0.01 ;;      # auxiliary loss only
    none)  run none  small.json --bias-update-speed 0 --alpha 0 ;;         # no balancing
    bf16)  run bf16  small.json --precision bf16 ;;
    fp8)   run fp8   small.json --precision fp8 ;;
    mtp)   run mtp   small.json --lambda-mtp 0.3 ;;
    nomtp) run nomtp small_no_mtp.json ;;
  esac
done
