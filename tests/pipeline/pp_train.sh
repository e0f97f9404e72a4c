#!/usr/bin/env bash
# Pipeline-parallel training equals one process (as DeepSeek's DualPipe repository checks
# itself): for each schedule and P ranks, N steps of `dsv3 train --pp P` against the
# single-process run with the same micro-batches; pp_compare checks the losses (step 1 to the
# bit) and the updated parameters. Also: --trace writes the measured run, which `dsv3 plot
# --trace` draws. MODE exact: one step without gradient clipping, after which every tensor but
# the embedding (its gradient is the sum of the first stage's and the MTP module's, added on two
# ranks) must equal one process's to the bit: each micro-batch's gradient goes into the trainer's
# pairwise sum in micro-batch order on every rank, so the grouping is one process's. MODE steps:N:
# N steps (the DualPipe run also resumed after step N/2); dp2:N the same with --dp 2; ep2:N with
# --dp 2 --ep 2 (each stage's routed experts split over the two pipelines, the ranks talking over
# TCP: --mca btl self,tcp). Each step of
# an mpirun run costs ~0.15 s here (more under ASan), so the CI runs 2 to 4; the issue's 10 by hand.
# usage: pp_train.sh DSV3 MPIRUN CONFIG PP_COMPARE P M MODE SCHEDULE...
set -euo pipefail
dsv3=$1 mpirun=$2 config=$3 compare=$4 P=$5 M=$6 mode=$7; shift 7
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 40); do
  printf 'document %d: the quick brown fox %d jumps over the lazy dog %d times.\n\n' $i $((i * 7)) $((i % 5))
done >"$tmp/corpus.txt"
common=(--config "$config" --data "$tmp/corpus.txt" --tokenizer bytes --doc-split blank --seq-len 16 --micro-batch 2
        --micro-batches "$M" --lr 1e-3 --warmup-steps 0 --eval-sequences 2 --log-every 0 --threads 1)
exact=()
dp=1 ep=1 mca=()
[ "${mode%%:*}" = dp2 ] && dp=2  # dp2: two pipelines, each with half of every step's micro-batches
[ "${mode%%:*}" = ep2 ] && { dp=2 ep=2 mca=(--mca btl self,tcp); }
n=${mode#*:}
# exact: the shared gradients also travel in pieces of 100 values (every tensor takes several).
if [ "$mode" = exact ]; then common+=(--steps 1 --clip 0); exact=(embed_tokens); export DSV3_PIPELINE_SUM_PIECE=100; else common+=(--decay-end "$n"); fi
steps=(); [ "$mode" = exact ] || steps=(--steps "$n")
"$dsv3" train "${common[@]}" "${steps[@]}" --out "$tmp/ref" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
# Parameters: within 1e-6 relative per tensor, as the issue asks of gradients and of training.
# Where a gradient is summed in another order (the shared embedding; DualPipe's two copies of a
# stage) it changes in its last bits; Adam divides each gradient by its own magnitude, so where
# a sum nearly cancels the step can change by a sizeable part of lr: lr = 1e-3 keeps that small.
tol=1e-6
status=0
for schedule in "$@"; do
  out="$tmp/$schedule"
  launch() { timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" "${mca[@]}" --oversubscribe -np $((P * dp)) "$dsv3" train "${common[@]}" --pp "$P" --dp $dp --ep $ep --schedule "$schedule" "$@"; }
  if ! launch "${steps[@]}" --trace "$out.trace.json" --out "$out" 2>"$tmp/err"; then
    echo "FAIL $schedule P=$P M=$M: train exited non-zero"; cat "$tmp/err"; status=1; continue
  fi
  if "$compare" "$tmp/ref" "$out" $tol "${exact[@]}" >"$tmp/cmp"; then
    echo "ok   $schedule P=$P dp=$dp ep=$ep M=$M: $(tail -1 "$tmp/cmp")"
  else
    echo "FAIL $schedule P=$P M=$M:"; cat "$tmp/cmp"; status=1
  fi
  "$dsv3" plot --trace "$out.trace.json" --out "$out.svg" --check >"$tmp/plot" ||
    { echo "FAIL $schedule: plot --trace"; cat "$tmp/plot"; status=1; continue; }
  for r in $(seq 0 $((P - 1))); do
    grep -q "\"pid\": $r, \"tid\": 0" "$out.trace.json" || { echo "FAIL $schedule: no compute of rank $r in the trace"; status=1; }
  done
  grep -q "<svg" "$out.svg" || { echo "FAIL $schedule: no SVG"; status=1; }
  # Checkpoint and resume: half of the steps, then the same command resumes to the same bits.
  # With --ep the resumed run alternates steps with DualPipe's F&B pairs interleaved at their
  # all-to-alls and run one after the other (--measure-overlap): the bits must not change.
  if [ "$mode" != exact ] && [ "$schedule" = dualpipe ]; then
    measure=(); [ $ep = 1 ] || measure=(--measure-overlap)
    launch --steps $((n / 2)) --out "$out.resumed" 2>"$tmp/err" &&
      launch --steps "$n" --out "$out.resumed" "${measure[@]}" 2>"$tmp/err" &&
      { [ $ep = 1 ] || grep -q "^overlap: " "$tmp/err"; } &&
      grep -q "resuming" "$tmp/err" && "$compare" "$out" "$out.resumed" 0 >"$tmp/cmp" &&
      cmp -s "$out/model.safetensors" "$out.resumed/model.safetensors" &&
      echo "ok   $schedule P=$P: resumed after step $((n / 2)), identical to the bit" ||
      { echo "FAIL $schedule P=$P: resume"; cat "$tmp/err" "$tmp/cmp"; status=1; }
    # Each rank saved only its stages' tensors: one process cannot take the run over.
    if "$dsv3" train "${common[@]}" --steps $((n + 1)) --out "$out.resumed" 2>"$tmp/err" ||
      ! grep -q "holds the checkpoint of a pipeline run" "$tmp/err"; then
      echo "FAIL $schedule: a single process resumed a pipeline checkpoint"; cat "$tmp/err"; status=1
    fi
    ls "$out.resumed"/trainer_state.step-"$n".pp-rank-*-of-"$P"*.safetensors >/dev/null ||
      { echo "FAIL $schedule: no per-rank trainer states"; status=1; }
  fi
done
exit $status
