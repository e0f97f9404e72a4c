#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for a bounded time on a
# copy of its committed seed corpus. Exits non-zero on any finding (crash, leak, timeout).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
jobs=$(nproc)
CXX=clang++ CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DDSV3_FUZZ=ON \
  -DDSV3_BUILD_TESTS=OFF -DDSV3_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_tokenizer_encode fuzz_tokenizer_json fuzz_safetensors fuzz_config fuzz_trace fuzz_gguf \
  fuzz_json_schema fuzz_eval_task
for target in tokenizer_encode:encode tokenizer_json:tokenizer_json safetensors:safetensors config:config trace:trace gguf:gguf json_schema:json_schema eval_task:eval_task; do
  name="fuzz_${target%%:*}"
  corpus="fuzz/corpus/${target##*:}"
  work="build-fuzz/corpus-${target%%:*}"
  rm -rf "$work" && mkdir -p "$work"
  echo "== $name for ${seconds}s"
  status=0
  (cd build-fuzz && ./fuzz/"$name" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=8192 \
     -print_final_stats=1 "../$work" "../$corpus" >"$name.log" 2>&1) || status=$?
  tail -n 25 "build-fuzz/$name.log"
  [ "$status" -eq 0 ] || { echo "$name: finding (exit $status); log and reproducer in build-fuzz/"; exit 1; }
done
echo "fuzz: no findings"
