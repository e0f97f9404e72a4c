#!/usr/bin/env bash
# Plain vs MTP speculative greedy decoding through `dsv3 generate`: tokens/s, acceptance rate,
# tokens per step, and whether the ids are identical. Prints a markdown table.
#   bash bench/bench_speculative.sh [MODEL_DIR] [NEW_TOKENS] [PROMPTS] [DRAFTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-tests/data/models/v3-tiny-fp8}
n=${2:-256}
prompts=${3:-"5,9,13"}
shift $(( $# < 3 ? $# : 3 )) || true
drafts=("$@")
((${#drafts[@]})) || drafts=(1 2 3)
bin=build/dsv3
echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), model $model, $n new tokens, prompts '$prompts', greedy"
echo "# command: ${DSV3_THREADS:+DSV3_THREADS=$DSV3_THREADS }bash bench/bench_speculative.sh $model $n '$prompts' ${drafts[*]}"
echo "| decoding | tokens/s | acceptance rate | tokens per step | ids identical to plain |"
echo "|---|---|---|---|---|"
run() {  # prints "ids<TAB>stats"
  "$bin" generate --model "$model" --tokens "$prompts" --max-new-tokens "$n" --temperature 0 --ids --stats ${DSV3_THREADS:+--threads $DSV3_THREADS} "$@" 2>/tmp/bench_spec.$$ | md5sum | cut -d' ' -f1
  cat /tmp/bench_spec.$$
}
plain=$(run)
plain_ids=$(echo "$plain" | head -1)
tps=$(echo "$plain" | sed -n 's/.*decode: [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p')
echo "| plain | $tps | - | 1.00 | - |"
for d in "${drafts[@]}"; do
  out=$(run --speculative mtp --draft "$d")
  tps=$(echo "$out" | sed -n 's/.*decode: [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p')
  rate=$(echo "$out" | sed -n 's/.*acceptance rate \([0-9.]*%\).*/\1/p')
  per=$(echo "$out" | sed -n 's/.*), \([0-9.]*\) tokens per sequence per step.*/\1/p')
  same=no; [ "$(echo "$out" | head -1)" = "$plain_ids" ] && same=yes
  echo "| mtp, $d draft(s) | $tps | $rate | $per | $same |"
done
rm -f /tmp/bench_spec.$$
