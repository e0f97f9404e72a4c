#!/usr/bin/env bash
# `mpirun -np 2 dsv3 serve --ep 2` answers as one-process serve: greedy completions (whole, and
# streamed, and three at once, which share steps; a 7-token prompt prefilled 2 tokens a step;
# n = 3 choices, greedy and sampled; prefix-cache hits and misses), a client hanging up mid-stream (the
# sequence is cancelled on every rank, and the next requests still match), metrics; plain and
# MTP-speculative. SIGTERM to rank 0 ends the job cleanly; kill -9 of rank 1 ends it within
# seconds. Talks HTTP over bash's /dev/tcp (no client program needed).
# usage: ep_serve.sh DSV3 MODEL_DIR MPIRUN [PARALLEL] (PARALLEL: the 2-rank option, default --ep 2;
# tests/pipeline runs it with --pp 2)
set -euo pipefail
dsv3=$1 model=$2 mpirun=$3 par=${4:---ep 2}
tmp=$(mktemp -d)
tag="ep-serve-$$"  # in every rank's command line, to find the ranks
pid=
cleanup() {
  local rc=$?
  [ "$BASHPID" = $$ ] || return 0  # not in a pipeline's subshell
  [ $rc = 0 ] || tail -n 5 "$tmp"/*.log >&2
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  for p in $(pgrep -f -- "$tag"); do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start LOG CMD...: a server on a free loopback port, in the background; sets $port and $pid.
start() {
  local log=$1; shift
  : >"$log"  # a reused log's old address must not be read before the new server truncates it
  "$@" --model "$model" --name "$tag" --host 127.0.0.1 --port 0 2>"$log" & pid=$!
  for _ in $(seq 200); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "no server started:"; cat "$log"; exit 1
}
# request METHOD PATH [BODY]: the raw HTTP response (the server closes the connection).
request() {
  local body=${3:-}
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${#body}" "$body" >&3
  timeout 30 cat <&3
  exec 3<&-
}
complete() { sample "\"temperature\":0,$1"; }
sample() {  # every choice's text on one line
  request POST /v1/completions "{\"model\":\"$tag\",$1}" | { grep -o '"text":"[^"]*"' || true; } | tr -d '\n'
  echo
}
# The answers a server gives (every text field, in order; concurrent ones in prompt order).
# core_answers: the first 7 lines, without the prefix cache and the cancellation.
core_answers() {
  complete '"prompt":[5,9,13],"max_tokens":12'
  complete '"prompt":[7,8],"max_tokens":10,"stream":true'
  # 7 prompt tokens in chunks of 2 (--max-prefill-tokens 2): partial MTP rows per chunk.
  complete '"prompt":[3,1,4,1,5,9,2],"max_tokens":10'
  complete '"prompt":[2,7,1,8],"max_tokens":8,"n":3'  # several sequences of one request
  for p in 1 2 3; do complete "\"prompt\":[$p,40,41,42],\"max_tokens\":16" >"$tmp/c$p" & done
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  cat "$tmp/c1" "$tmp/c2" "$tmp/c3"
}
answers() {
  core_answers
  # Prefix cache: a 40-token prompt misses and stores its two 16-token blocks; the same prompt
  # hits both, one sharing only the first block hits that one (every rank restores the same rows).
  local p1 p2
  p1=$(seq -s, 100 139) p2=$(seq -s, 100 115),$(seq -s, 200 223)
  for p in "$p1" "$p1" "$p2"; do complete "\"prompt\":[$p],\"max_tokens\":8"; done
  request GET /metrics | grep -E '^dsv3_prefix_cache_(lookups|hits)_total'
  # Hang up after the first streamed chunk: the server cancels the sequence.
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  body="{\"model\":\"$tag\",\"temperature\":0,\"prompt\":[4,4],\"max_tokens\":100000,\"ignore_eos\":true,\"stream\":true}"
  printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body" >&3
  timeout 30 grep -m1 -q '"text"' <&3 || true
  exec 3<&-
  complete '"prompt":[9,9,9],"max_tokens":16'
  for _ in $(seq 100); do  # the cancellation shows in the metrics once the scheduler dropped it
    request GET /metrics | grep -q '^dsv3_cancelled_sequences_total 1$' && { echo "metrics: cancelled 1"; return 0; }
    sleep 0.05
  done
  echo "metrics: no cancelled sequence"
}
rank_pid() {  # OpenMPI's variable, else MPICH's (PMI) or PMIx's
  for p in $(pgrep -f -- "$tag"); do
    grep -qz -e "^OMPI_COMM_WORLD_RANK=$1$" -e "^PMI_RANK=$1$" -e "^PMIX_RANK=$1$" /proc/$p/environ 2>/dev/null && echo $p
  done
}
ended_within() {  # PID SECONDS: waits for PID to exit; sets $rc
  for _ in $(seq $(($2 * 20))); do kill -0 "$1" 2>/dev/null || { rc=0; wait "$1" || rc=$?; return 0; }; sleep 0.05; done
  echo "job still running after $2 s"; exit 1
}

# MTP speculative greedy decoding gives plain greedy's tokens, so one reference serves both.
# The prefix cache runs under --ep (every rank mirrors it), not under --pp.
ep_mode=0; [ "${par#--ep}" = "$par" ] || ep_mode=1
flags=(--max-prefill-tokens 2)
[ "$ep_mode" = 0 ] || flags+=(--prefix-cache-mb 4)
start "$tmp/one.log" "$dsv3" serve "${flags[@]}"
answers >"$tmp/one.txt"
sampled='"prompt":[2,7,1,8],"max_tokens":8,"n":3,"temperature":0.9,"seed":5'  # rank 0 samples for all
sample "$sampled" >"$tmp/one-sampled.txt"
kill -TERM $pid; wait $pid
prefix_hits=0
[ "$ep_mode" = 0 ] || prefix_hits=2
[ "$(grep -c text "$tmp/one.txt")" = 11 ] && [ "$(sed -n 4p "$tmp/one.txt" | grep -o text | wc -l)" = 3 ] &&
  [ "$(sed -n 8p "$tmp/one.txt")" = "$(sed -n 9p "$tmp/one.txt")" ] && grep -q "^dsv3_prefix_cache_hits_total $prefix_hits$" "$tmp/one.txt" &&
  grep -q "cancelled 1" "$tmp/one.txt" || { cat "$tmp/one.txt"; exit 1; }
start "$tmp/ep.log" timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" -np 2 "$dsv3" serve $par --speculative mtp "${flags[@]}"
answers >"$tmp/ep.txt"
diff "$tmp/one.txt" "$tmp/ep.txt" || { echo "serve $par --speculative mtp answers differently from one process"; cat "$tmp/ep.log"; exit 1; }
kill -TERM "$(rank_pid 0)"  # rank 0 stops serving and releases the other rank
ended_within $pid 10
[ $rc = 0 ] || { echo "SIGTERM to rank 0: exit $rc"; exit 1; }

# Data-parallel attention (--ep only): each rank runs its own sequences' rows (no prefix cache there).
if [ "$ep_mode" = 1 ]; then
  start "$tmp/dp.log" timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" -np 2 "$dsv3" serve --ep 2 --dp-attention --speculative mtp --max-prefill-tokens 2
  core_answers >"$tmp/dp.txt"
  diff <(head -n 7 "$tmp/one.txt") "$tmp/dp.txt" || { echo "serve --ep 2 --dp-attention answers differently"; cat "$tmp/dp.log"; exit 1; }
  kill -TERM "$(rank_pid 0)"
  ended_within $pid 10
  [ $rc = 0 ] && grep -q "dsv3 serve: stopped" "$tmp/ep.log" || { echo "SIGTERM to rank 0: exit $rc"; cat "$tmp/ep.log"; exit 1; }
fi
[ -z "$(pgrep -f -- "$tag")" ] || { echo "ranks left running"; exit 1; }

start "$tmp/ep.log" timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" -np 2 "$dsv3" serve $par "${flags[@]}"
[ "$(complete '"prompt":[5,9,13],"max_tokens":12')" = "$(head -1 "$tmp/one.txt")" ] || { echo "serve $par differs"; exit 1; }
# Sampled (plain decoding: speculative sampling draws other random numbers than plain sampling).
[ "$(sample "$sampled")" = "$(cat "$tmp/one-sampled.txt")" ] || { echo "serve $par samples differently"; exit 1; }
[ "$(grep -o text "$tmp/one-sampled.txt" | wc -l)" = 3 ] || { echo "n = 3 gave no 3 choices"; exit 1; }
kill -9 "$(rank_pid 1)"
ended_within $pid 10
[ $rc != 0 ] || { echo "a dead rank left exit code 0"; exit 1; }
[ -z "$(pgrep -f -- "$tag")" ] || { echo "ranks left running after a rank died"; exit 1; }
echo "serve $par == one-process serve (plain and MTP-speculative)"
