#!/usr/bin/env bash
# Pipeline-parallel inference equals one process: greedy generation of two prompts with the 3
# decoder layers of v3-tiny split over 2 ranks (the balanced split), sampled MTP-speculative
# generation (rank 0 alone samples) over 3 (--stage-layers 1,1,1, the two sequences in 2
# micro-batches) and over 2 in 2 micro-batches, and greedy and sampled MTP-speculative over 2
# stages of 2 expert-parallel ranks each (--pp 2 --ep 2); all of them with P steps in flight (the
# default --in-flight P: rank 0 starts one sequence's step while the later stages run the
# other's), and greedy at P = 2 with one step at a time (--in-flight 1);
# rank 0 alone prints. A --pp that is not the job's size, a stage without a layer, and --profile
# with --pp, are one error line; a bad prompt, and rank 1 killed mid-step, end the job with an
# error. usage: pp_generate.sh DSV3 MODEL_DIR MPIRUN
set -euo pipefail
dsv3=$1 model=$2 mpirun=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prompts="5,9,13;7,8,9,10,11,12,13,14,15,16"
gen=(generate --model "$model" --tokens "$prompts" --max-new-tokens 10 --temperature 0)
"$dsv3" "${gen[@]}" >"$tmp/gen.1"
sampled=(--temperature 0.8 --seed 3 --speculative mtp)
"$dsv3" "${gen[@]}" "${sampled[@]}" >"$tmp/sampled.1"
launch() { timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" --oversubscribe -np "$@"; }
launch 2 "$dsv3" "${gen[@]}" --pp 2 >"$tmp/gen.2" 2>"$tmp/err"
cmp "$tmp/gen.1" "$tmp/gen.2" || { echo "greedy ids differ with --pp 2"; cat "$tmp/err"; exit 1; }
[ "$(wc -l <"$tmp/gen.2")" = 2 ] || { echo "expected 2 output lines (rank 0 only), got $(wc -l <"$tmp/gen.2")"; exit 1; }
launch 3 "$dsv3" "${gen[@]}" "${sampled[@]}" --pp 3 --stage-layers 1,1,1 --micro-batches 2 >"$tmp/sampled.3" 2>"$tmp/err"
cmp "$tmp/sampled.1" "$tmp/sampled.3" || { echo "sampled speculative ids differ with --pp 3"; cat "$tmp/err"; exit 1; }
launch 2 "$dsv3" "${gen[@]}" "${sampled[@]}" --pp 2 --micro-batches 2 >"$tmp/sampled.2" 2>"$tmp/err"
cmp "$tmp/sampled.1" "$tmp/sampled.2" || { echo "sampled ids differ with --pp 2"; cat "$tmp/err"; exit 1; }
launch 2 "$dsv3" "${gen[@]}" --pp 2 --in-flight 1 >"$tmp/one_step.2" 2>"$tmp/err"
cmp "$tmp/gen.1" "$tmp/one_step.2" || { echo "greedy ids differ with --pp 2 --in-flight 1"; cat "$tmp/err"; exit 1; }
launch 4 "$dsv3" "${gen[@]}" --pp 2 --ep 2 --micro-batches 2 >"$tmp/ep.4" 2>"$tmp/err"
cmp "$tmp/gen.1" "$tmp/ep.4" || { echo "greedy ids differ with --pp 2 --ep 2"; cat "$tmp/err"; exit 1; }
# The MTP module's routed experts are spread over stage 0's 2 ranks: both run each draft call.
launch 4 "$dsv3" "${gen[@]}" "${sampled[@]}" --pp 2 --ep 2 >"$tmp/ep_spec.4" 2>"$tmp/err"
cmp "$tmp/sampled.1" "$tmp/ep_spec.4" || { echo "sampled speculative ids differ with --pp 2 --ep 2"; cat "$tmp/err"; exit 1; }
# An error on rank 0 (which alone checks the prompts) ends the job; the followers do not wait on.
if launch 2 "$dsv3" generate --model "$model" --tokens 5,9999 --max-new-tokens 2 --pp 2 >/dev/null 2>"$tmp/err" ||
  ! grep -q "outside the vocabulary" "$tmp/err"; then
  echo "a bad prompt under --pp: expected an error and a non-zero exit"; cat "$tmp/err"; exit 1
fi
if launch 2 "$dsv3" "${gen[@]}" --pp 2 --profile "$tmp/p.json" >/dev/null 2>"$tmp/err" ||
  ! grep -q "error: --profile does not run with --pp yet" "$tmp/err"; then
  echo "--profile with --pp: expected one error line"; cat "$tmp/err"; exit 1
fi
if launch 2 "$dsv3" "${gen[@]}" --pp 2 --stage-layers 3,0 >/dev/null 2>"$tmp/err" ||
  ! grep -q "error: --stage-layers: stage 1 has 0 layers" "$tmp/err"; then
  echo "a stage without a layer: expected one error line"; cat "$tmp/err"; exit 1
fi
# Rank 1 killed at its 5th hand-over of hidden states (mid-decode): the job ends, never hangs.
rc=0; DSV3_PIPELINE_FAULT=1:4:kill launch 2 "$dsv3" "${gen[@]}" --pp 2 >/dev/null 2>"$tmp/err" || rc=$?
if [ $rc = 0 ] || [ $rc = 124 ] || ! grep -q "exited on signal 9" "$tmp/err"; then
  echo "a rank dying mid-step: expected the job to end with an error, exit $rc"; cat "$tmp/err"; exit 1
fi
if "$dsv3" "${gen[@]}" --pp 1 --in-flight 0 >/dev/null 2>"$tmp/err" ||
  ! grep -q "error: --in-flight must be at least 1, got 0" "$tmp/err"; then
  echo "--in-flight 0: expected one error line"; cat "$tmp/err"; exit 1
fi
if launch 2 "$dsv3" "${gen[@]}" --pp 3 >/dev/null 2>"$tmp/err" || ! grep -q "error: --pp 3 but the job has 2 rank(s)" "$tmp/err"; then
  echo "--pp against -np: expected one error line"; cat "$tmp/err"; exit 1
fi
echo "pipeline-parallel generate == one process on $(basename "$model")"
