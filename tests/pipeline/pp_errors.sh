#!/usr/bin/env bash
# Bad pipeline layouts end the job before any work: non-zero exit and the reason printed once.
# usage: pp_errors.sh DSV3 MPIRUN CONFIG CONFIG_WITH_2_LAYERS
set -uo pipefail
dsv3=$1 mpirun=$2 config=$3 config2=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'a small corpus of text.\n\nanother document here.\n' >"$tmp/corpus.txt"
train=(train --config "$config" --data "$tmp/corpus.txt" --tokenizer bytes --doc-split blank --seq-len 16
       --micro-batch 2 --steps 1 --out "$tmp/out" --threads 1)
failures=0
expect() {  # expect NAME PATTERN COMMAND...: non-zero exit, PATTERN on exactly one stderr line
  local name=$1 pattern=$2; shift 2
  timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; local rc=$?
  local lines; lines=$(grep -c -- "$pattern" "$tmp/stderr")
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$lines" != 1 ]; then
    echo "FAIL $name: exit $rc, '$pattern' on $lines line(s) of stderr:"; cat "$tmp/stderr"; failures=$((failures + 1))
  else
    echo "ok   $name: $(grep -- "$pattern" "$tmp/stderr")"
  fi
  [ ! -e "$tmp/out/metrics.jsonl" ] || { echo "FAIL $name: training started"; failures=$((failures + 1)); }
}
np2=("$mpirun" --oversubscribe -np 2 "$dsv3" "${train[@]}")
np3=("$mpirun" --oversubscribe -np 3 "$dsv3" "${train[@]}")
expect "odd P for dualpipe" "error: dualpipe needs an even number of pipeline ranks, got 3" \
  "${np3[@]}" --pp 3 --schedule dualpipe --micro-batches 6
expect "too few micro-batches" "error: dualpipe needs an even number of micro-batches (half per direction) of at least 2 x ranks = 4, got 2" \
  "${np2[@]}" --pp 2 --schedule dualpipe --micro-batches 2
expect "dualpipev micro-batches" "error: dualpipev needs at least 2 x ranks = 4 micro-batches, got 3" \
  "${np2[@]}" --pp 2 --schedule dualpipev --micro-batches 3
expect "more stages than layers" "error: pipeline: 2 decoder layers cannot fill 4 stages" \
  "${np2[@]}" --pp 2 --schedule dualpipev --micro-batches 4 --config "$config2"
expect "a stage without a layer" "error: --stage-layers: stage 1 has 0 layers" \
  "${np2[@]}" --pp 2 --micro-batches 2 --stage-layers 8,0
expect "--pp against -np" "error: layout --dp 1 × --pp 4 = 4 ranks, but the job has 2" \
  "${np2[@]}" --pp 4 --micro-batches 4
expect "--ep over too few pipelines" "error: --ep 2 does not divide the 1 data-parallel ranks" \
  "${np2[@]}" --pp 2 --ep 2 --micro-batches 2
expect "--ep against the experts" "error: --ep 3 does not divide the 8 routed experts" \
  "${np3[@]}" --pp 1 --dp 3 --ep 3 --micro-batches 3
expect "unknown schedule" "error: unknown pipeline schedule 'gpipe'" "${np2[@]}" --pp 2 --schedule gpipe --micro-batches 2
expect "--schedule without --pp" "error: --schedule needs --pp" "$dsv3" "${train[@]}" --schedule zb1p
expect "different options per rank" "error: rank 1 was given a different --schedule" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" "${train[@]}" --pp 2 --micro-batches 2 : \
  -np 1 "$dsv3" "${train[@]}" --pp 2 --micro-batches 2 --schedule zb1p
# A rank that fails or dies in the middle of a step ends the job on every rank, never a hang.
DSV3_PIPELINE_FAULT=1:3:error expect "a rank fails mid-step" "error on rank 1: pipeline rank 1: fault injected at operation 3" \
  "${np2[@]}" --pp 2 --schedule zb1p --micro-batches 4
DSV3_PIPELINE_FAULT=0:5:kill expect "a rank dies mid-step" "exited on signal 9" \
  "${np2[@]}" --pp 2 --schedule dualpipe --micro-batches 4
exit $failures
