#!/usr/bin/env bash
# `mpirun -np 2 dsv3 serve --ep 2` answers as one-process serve: greedy completions (whole, and
# streamed, and three at once, which share steps), a client hanging up mid-stream (the
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
complete() {
  request POST /v1/completions "{\"model\":\"$tag\",\"temperature\":0,$1}" | { grep -o '"text":"[^"]*"' || true; } | tr -d '\n'
  echo
}
# The answers a server gives (every text field, in order; concurrent ones in prompt order).
answers() {
  complete '"prompt":[5,9,13],"max_tokens":12'
  complete '"prompt":[7,8],"max_tokens":10,"stream":true'
  for p in 1 2 3; do complete "\"prompt\":[$p,40,41,42],\"max_tokens\":16" >"$tmp/c$p" & done
  wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
  cat "$tmp/c1" "$tmp/c2" "$tmp/c3"
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
rank_pid() { for p in $(pgrep -f -- "$tag"); do grep -qz "^OMPI_COMM_WORLD_RANK=$1$" /proc/$p/environ 2>/dev/null && echo $p; done; }
ended_within() {  # PID SECONDS: waits for PID to exit; sets $rc
  for _ in $(seq $(($2 * 20))); do kill -0 "$1" 2>/dev/null || { rc=0; wait "$1" || rc=$?; return 0; }; sleep 0.05; done
  echo "job still running after $2 s"; exit 1
}

# MTP speculative greedy decoding gives plain greedy's tokens, so one reference serves both.
start "$tmp/one.log" "$dsv3" serve
answers >"$tmp/one.txt"
kill -TERM $pid; wait $pid
[ "$(grep -c text "$tmp/one.txt")" = 6 ] && grep -q "cancelled 1" "$tmp/one.txt" || { cat "$tmp/one.txt"; exit 1; }
start "$tmp/ep.log" timeout 60 "$mpirun" -np 2 "$dsv3" serve $par --speculative mtp
answers >"$tmp/ep.txt"
diff "$tmp/one.txt" "$tmp/ep.txt" || { echo "serve $par --speculative mtp answers differently from one process"; cat "$tmp/ep.log"; exit 1; }
kill -TERM "$(rank_pid 0)"  # rank 0 stops serving and releases the other rank
ended_within $pid 10
[ $rc = 0 ] && grep -q "dsv3 serve: stopped" "$tmp/ep.log" || { echo "SIGTERM to rank 0: exit $rc"; cat "$tmp/ep.log"; exit 1; }
[ -z "$(pgrep -f -- "$tag")" ] || { echo "ranks left running"; exit 1; }

start "$tmp/ep.log" timeout 60 "$mpirun" -np 2 "$dsv3" serve $par
[ "$(complete '"prompt":[5,9,13],"max_tokens":12')" = "$(head -1 "$tmp/one.txt")" ] || { echo "serve $par differs"; exit 1; }
kill -9 "$(rank_pid 1)"
ended_within $pid 10
[ $rc != 0 ] || { echo "a dead rank left exit code 0"; exit 1; }
[ -z "$(pgrep -f -- "$tag")" ] || { echo "ranks left running after a rank died"; exit 1; }
echo "serve $par == one-process serve (plain and MTP-speculative)"
