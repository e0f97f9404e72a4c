#!/usr/bin/env bash
# Bad layouts and mismatched ranks end the job before any work: exit code non-zero and the
# reason printed once. usage: ep_errors.sh DSV3 MODELS_DIR MPIRUN DIST_WORKER
set -uo pipefail
dsv3=$1 models=$2 mpirun=$3 worker=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gen="generate --tokens 5,9 --max-new-tokens 2"
failures=0
expect() {  # expect NAME PATTERN COMMAND...: non-zero exit, PATTERN on exactly one stderr line
  local name=$1 pattern=$2; shift 2
  timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(grep -c -- "$pattern" "$tmp/err")
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$lines" != 1 ]; then
    echo "FAIL $name: exit $rc, '$pattern' on $lines line(s) of stderr:"; cat "$tmp/err"; failures=$((failures + 1))
  else
    echo "ok   $name: $(grep -- "$pattern" "$tmp/err")"
  fi
}
m=$models/v3-tiny
expect "experts not divisible" "error: --ep 3 does not divide the 16 routed experts" \
  "$mpirun" --oversubscribe -np 3 "$dsv3" $gen --model "$m" --ep 3
expect "--ep against -np" "error: --ep 4 but the job has 2 rank(s)" \
  "$mpirun" --oversubscribe -np 2 "$dsv3" $gen --model "$m" --ep 4
expect "no --ep under mpirun" "error: started by mpirun with 2 ranks: give --ep 2" \
  "$mpirun" --oversubscribe -np 2 "$dsv3" $gen --model "$m"
expect "different checkpoints" "error: rank 1 was given a different config or checkpoint" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" $gen --model "$m" --ep 2 : -np 1 "$dsv3" $gen --model "$m-fp8" --ep 2
expect "different --ep" "error: rank 1 was given a different --ep" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" $gen --model "$m" --ep 2 : -np 1 "$dsv3" $gen --model "$m" --ep 1
expect "D×P against the world" "error: layout --dp 3 × --pp 1 = 3 ranks, but the job has 2" \
  "$mpirun" --oversubscribe -np 2 "$worker" collectives --dp 3 --pp 1 --ep 1
expect "E not dividing D" "error: --ep 3 does not divide the 4 data-parallel ranks" \
  "$mpirun" --oversubscribe -np 4 "$worker" collectives --dp 4 --pp 1 --ep 3
expect "serve --ep with different prefix caches" "error: rank 1 was given a different --prefix-cache-mb than rank 0" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" serve --model "$m" --ep 2 --port 0 --prefix-cache-mb 8 : \
  -np 1 "$dsv3" serve --model "$m" --ep 2 --port 0 --prefix-cache-mb 4
expect "--dp-attention without --ep" "error: --dp-attention needs --ep N" "$dsv3" serve --model "$m" --dp-attention --port 0
expect "a command that does not run distributed" "error: does not run under mpirun with several ranks" \
  "$mpirun" --oversubscribe -np 2 "$dsv3" info --model "$m"
expect "one rank fails alone" "error on rank 1: /nonexistent/config.json" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" $gen --model "$m" --ep 2 : -np 1 "$dsv3" $gen --model /nonexistent --ep 2
# train --dp/--ep: the same checks before any training.
printf 'one small document of text for the trainer.\n\nand another one.\n' >"$tmp/corpus.txt"
train="train --config $models/../train/tiny_v3.json --data $tmp/corpus.txt --tokenizer bytes --seq-len 8 --steps 1 --out $tmp/run"
expect "train under mpirun without --dp" "error: started by mpirun with 2 ranks: give --dp 2" \
  "$mpirun" --oversubscribe -np 2 "$dsv3" $train
expect "train batch not shared evenly" "which the 2 data-parallel ranks do not share evenly" \
  "$mpirun" --oversubscribe -np 2 "$dsv3" $train --dp 2 --micro-batch 1 --batch-tokens 24
expect "train ranks given different options" "error: rank 1 was given a different training command" \
  "$mpirun" --oversubscribe -np 1 "$dsv3" $train --dp 2 --lr 1e-3 : -np 1 "$dsv3" $train --dp 2 --lr 2e-3
expect "train --ep not dividing the experts" "error: --ep 3 does not divide the 8 routed experts" \
  "$mpirun" --oversubscribe -np 3 "$dsv3" $train --dp 3 --ep 3
exit $failures
