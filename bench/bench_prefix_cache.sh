#!/usr/bin/env bash
# Time to first token of a request whose long prompt prefix is in dsv3 serve's prefix cache,
# against the same request on a server without the cache; then the latent-cache memory of N
# concurrent requests sharing that prefix.
#   bash bench/bench_prefix_cache.sh MODEL_DIR [PREFIX_TOKENS=2000] [ROUNDS=7] [VOCAB=32000] [N=8]
# Two servers run side by side (OMP_WAIT_POLICY=passive: the idle one sleeps), one with
# --prefix-cache-mb 1024 that has seen the prefix once. Each round sends one request to each, in
# alternating order: PREFIX (the same PREFIX_TOKENS random ids) + 16 fresh ids, max_tokens 1, so
# its whole time is its time to the first token. Printed per round: wall seconds and the
# server's CPU seconds (user + system) of each, and their ratios; then the medians.
# Memory: N requests with the prefix (+ 16 fresh ids, 8 new tokens) at once to the cached server;
# the dsv3_sequence_cache_*_peak gauges give the latent-cache bytes they held, with the cached
# pages shared, against with a copy each.
set -euo pipefail
model=$1 prefix_len=${2:-2000} rounds=${3:-7} vocab=${4:-32000} n_seq=${5:-8}
bin=${DSV3_BINARY:-build/dsv3}
export OMP_WAIT_POLICY=passive
ids() { local n=$1 out=""; for ((i = 0; i < n; ++i)); do out+="$(( (RANDOM * 32768 + RANDOM) % (vocab - 2) + 2 )),"; done; echo "${out%,}"; }
RANDOM=7
prefix=$(ids "$prefix_len")

declare -A port pid
serve() {  # serve NAME OPTIONS...: starts dsv3 serve, sets port[NAME] and pid[NAME]
  local name=$1 log; shift; log=$(mktemp)
  "$bin" serve --model "$model" --port 0 --context $((prefix_len + 64)) --max-prefill-tokens 512 "$@" 2>"$log" &
  pid[$name]=$!
  for _ in $(seq 1200); do
    port[$name]=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "${port[$name]}" ] && return 0
    sleep 0.1
  done
  echo "dsv3 serve did not start: $(cat "$log")" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"; }
request() {  # request NAME BODY: prints "wall cpu" seconds
  local t0; t0=$(cpu_ticks "$1")
  local wall; wall=$(curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' -d "$2" \
    "http://127.0.0.1:${port[$1]}/v1/completions")
  echo "$wall $(awk -v a="$t0" -v b="$(cpu_ticks "$1")" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b - a) / hz}')"
}
body() { echo "{\"model\":\"$model\",\"prompt\":[$prefix,$(ids 16)],\"max_tokens\":$1,\"temperature\":0}"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

serve uncached
serve cached --prefix-cache-mb 1024
trap 'kill -TERM ${pid[cached]} ${pid[uncached]} 2>/dev/null || true' EXIT
request cached "$(body 1)" >/dev/null  # fills the cache
rows=()
echo "round  uncached wall/cpu s  cached wall/cpu s  ratio wall  ratio cpu"
for ((r = 1; r <= rounds; ++r)); do
  b=$(body 1)
  if ((r % 2)); then u=$(request uncached "$b"); c=$(request cached "$b")
  else c=$(request cached "$b"); u=$(request uncached "$b"); fi
  read -r uw uc <<<"$u"; read -r cw cc <<<"$c"
  rw=$(awk -v a="$uw" -v b="$cw" 'BEGIN{printf "%.1f", a / b}')
  rc=$(awk -v a="$uc" -v b="$cc" 'BEGIN{printf "%.1f", (b > 0) ? a / b : 0}')
  printf '%5d  %8.2f / %-8.2f  %7.3f / %-7.3f  %10s  %9s\n' "$r" "$uw" "$uc" "$cw" "$cc" "$rw" "$rc"
  rows+=("$uw $uc $cw $cc $rw $rc")
done
col() { printf '%s\n' "${rows[@]}" | awk -v k="$1" '{print $k}' | median; }
echo "median: uncached $(col 1) s wall, $(col 2) s cpu; cached $(col 3) s wall, $(col 4) s cpu;" \
     "ratio $(col 5)x wall, $(col 6)x cpu"
curl -s "http://127.0.0.1:${port[cached]}/metrics" | grep -E '^dsv3_prefix_cache_(hits|reused)'

clients=()
for ((i = 0; i < n_seq; ++i)); do request cached "$(body 8)" >/dev/null & clients+=($!); done
wait "${clients[@]}"
m=$(curl -s "http://127.0.0.1:${port[cached]}/metrics")
shared=$(grep '^dsv3_sequence_cache_bytes_peak' <<<"$m" | awk '{print $2}')
copied=$(grep '^dsv3_sequence_cache_unshared_bytes_peak' <<<"$m" | awk '{print $2}')
awk -v s="$shared" -v c="$copied" -v n="$n_seq" 'BEGIN{printf "%d requests on the cached prefix: latent cache %.1f MiB shared in place, %.1f MiB with a copy each (%.1f MiB saved)\n", n, s / 1048576, c / 1048576, (c - s) / 1048576}'
