#!/usr/bin/env bash
# Time to first token of a request whose long prompt prefix is in dsv3 serve's prefix cache,
# against the same request on a server without the cache.
#   bash bench/bench_prefix_cache.sh MODEL_DIR [PREFIX_TOKENS=2000] [REPEATS=3] [VOCAB=32000]
# Each request is PREFIX (the same PREFIX_TOKENS random ids) + 16 fresh ids, max_tokens 1, so its
# whole time is its time to the first token. The cached server sees the prefix once first.
# Printed per request: wall seconds and the server's CPU seconds (user + system; robust when
# other jobs share the machine).
set -euo pipefail
model=$1 prefix_len=${2:-2000} repeats=${3:-3} vocab=${4:-32000}
bin=${DSV3_BINARY:-build/dsv3}
ids() { local n=$1 out=""; for ((i = 0; i < n; ++i)); do out+="$(( (RANDOM * 32768 + RANDOM) % (vocab - 2) + 2 )),"; done; echo "${out%,}"; }
RANDOM=7
prefix=$(ids "$prefix_len")

serve() {  # starts dsv3 serve with extra options; sets port and pid
  local log; log=$(mktemp)
  "$bin" serve --model "$model" --port 0 --context $((prefix_len + 64)) --max-prefill-tokens 512 "$@" 2>"$log" &
  pid=$!
  for _ in $(seq 600); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "dsv3 serve did not start: $(cat "$log")" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ttft() {  # "wall/cpu" seconds of one request: the shared prefix + 16 fresh ids, one new token
  local body="{\"model\":\"$model\",\"prompt\":[$prefix,$(ids 16)],\"max_tokens\":1,\"temperature\":0}"
  local t0; t0=$(cpu_ticks)
  local wall; wall=$(curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$port/v1/completions")
  echo "$wall/$(awk -v a="$t0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b - a) / hz}')"
}

for mode in uncached cached; do
  if [ $mode = cached ]; then serve --prefix-cache-mb 1024; else serve; fi
  [ $mode = cached ] && ttft >/dev/null  # the first request fills the cache
  times=()
  for ((r = 0; r < repeats; ++r)); do times+=("$(ttft)"); done
  echo "$mode (wall/cpu s): ${times[*]}"
  [ $mode = cached ] && curl -s "http://127.0.0.1:$port/metrics" | grep -E '^dsv3_prefix_cache_(hits|reused)'
  kill -TERM $pid; wait $pid || true
done
