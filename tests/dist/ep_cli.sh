#!/usr/bin/env bash
# Expert-parallel inference equals one process bit for bit: logits (and MTP logits) of a
# 12-token prompt, and greedy generation of two prompts (plain, and MTP-speculative when the
# model has an MTP module), with 2 ranks over shared memory and 4 ranks over TCP on loopback.
# usage: ep_cli.sh DSV3 MODEL_DIR MPIRUN
set -euo pipefail
dsv3=$1 model=$2 mpirun=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tokens=5,9,13,200,7,1,99,42,17,3,300,12
prompts="5,9,13;7,8,9,10,11,12,13,14,15,16"
has_mtp=$(grep -Eq '"num_nextn_predict_layers": *[1-9]' "$model/config.json" && echo 1 || echo 0)
mtp_opt() { [ "$has_mtp" = 1 ] && echo "--mtp-out $tmp/mtp.$1" || true; }
spec_opt() { [ "$has_mtp" = 1 ] && echo "--speculative mtp" || true; }

"$dsv3" logits --model "$model" --tokens $tokens --out "$tmp/logits.1" $(mtp_opt 1)
"$dsv3" generate --model "$model" --tokens "$prompts" --max-new-tokens 10 --temperature 0 >"$tmp/gen.1"
"$dsv3" generate --model "$model" --tokens "$prompts" --max-new-tokens 10 --temperature 0 $(spec_opt) >"$tmp/spec.1"
for run in "2" "4 --mca btl self,tcp"; do
  set -- $run; n=$1; shift; transport=("$@")
  launch() { timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" --oversubscribe "${transport[@]}" -np "$n" "$dsv3" "$@"; }
  launch logits --model "$model" --tokens $tokens --out "$tmp/logits.$n" $(mtp_opt "$n") --ep "$n"
  cmp "$tmp/logits.1" "$tmp/logits.$n" || { echo "logits differ with --ep $n"; exit 1; }
  if [ "$has_mtp" = 1 ]; then cmp "$tmp/mtp.1" "$tmp/mtp.$n" || { echo "MTP logits differ with --ep $n"; exit 1; }; fi
  launch generate --model "$model" --tokens "$prompts" --max-new-tokens 10 --temperature 0 --ep "$n" >"$tmp/gen.$n"
  cmp "$tmp/gen.1" "$tmp/gen.$n" || { echo "greedy ids differ with --ep $n"; exit 1; }
  launch generate --model "$model" --tokens "$prompts" --max-new-tokens 10 --temperature 0 $(spec_opt) --ep "$n" >"$tmp/spec.$n"
  cmp "$tmp/spec.1" "$tmp/spec.$n" || { echo "speculative ids differ with --ep $n"; exit 1; }
  [ "$(wc -l <"$tmp/gen.$n")" = 2 ] || { echo "expected 2 output lines (rank 0 only), got $(wc -l <"$tmp/gen.$n")"; exit 1; }
done
# --profile: both ranks' timelines, every phase of a MoE layer, in one trace-event file.
timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" --oversubscribe -np 2 "$dsv3" logits --model "$model" --tokens $tokens --out "$tmp/l" --ep 2 \
  --profile "$tmp/trace.json" 2>/dev/null
for phase in router "dispatch start" "shared expert (rows in flight)" "dispatch wait" "routed experts" combine all-gather; do
  for rank in 0 1; do
    grep -q "{\"name\":\"$phase\",\"cat\":\"[a-z]*\",\"ph\":\"X\",\"ts\":[0-9.]*,\"dur\":[0-9.]*,\"pid\":$rank," "$tmp/trace.json" ||
      { echo "--profile: no '$phase' span of rank $rank"; exit 1; }
  done
done
echo "expert parallel == one process on $(basename "$model")"
