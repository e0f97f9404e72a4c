#!/usr/bin/env bash
# Data- and expert-parallel training equals one process bit for bit: `mpirun -np D dsv3 train
# --dp D --ep E` and `dsv3 train` with the same global batch (D micro-batches per step) log the
# same losses, gradient norms, expert loads and evaluations and export the same weights, byte for
# byte, while each rank holds only its own routed experts. With `resume`: a run whose ranks are
# all killed in the middle of writing a checkpoint resumes from the last complete one and ends
# identically; the export loads in single-process `dsv3 generate`; resuming with another layout
# is a one-line error. With `tcp`: the ranks talk over TCP on loopback (`--mca btl self,tcp`, the
# transport between machines) instead of shared memory.
# usage: train_dist.sh DSV3 CONFIG MPIRUN D E [resume|tcp] [-- more train options]
set -euo pipefail
dsv3=$1 config=$2 mpirun=$3 dp=$4 ep=$5; shift 5
resume=0 mca=()
[ "${1:-}" = resume ] && { resume=1; shift; }
[ "${1:-}" = tcp ] && { mca=(--mca btl self,tcp); shift; }
[ "${1:-}" = -- ] && shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 80); do
  printf 'note %d: %d quick foxes jump over %d lazy dogs and then %d of them rest.\n\n' $i $((i * 7 % 31)) $((i * 13 % 17)) $((i % 5))
done >"$tmp/corpus.txt"
args=(--config "$config" --data "$tmp/corpus.txt" --tokenizer bytes --doc-split blank --seq-len 32 --micro-batch 2
      --batch-tokens $((dp * 64)) --lr 3e-3 --warmup-steps 1 --eval-every 3 --eval-sequences 4 --log-every 0 --steps 6 "$@")
launch() { local n=$1; shift; timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" --oversubscribe "${mca[@]}" -x DSV3_TRAIN_DIE_IN_SAVE -np "$n" "$dsv3" train "${args[@]}" "$@"; }
values() { sed -E 's/"(elapsed_s|tok_s)":[^,}]*,?//g' "$1/metrics.jsonl"; }
same() {  # run folders $1 $2: same logged values and exported bytes
  diff <(values "$1") <(values "$2") >/dev/null || { echo "--dp $dp --ep $ep: logged values differ"; diff <(values "$1") <(values "$2") | head -4; exit 1; }
  cmp "$1/model.safetensors" "$2/model.safetensors" || { echo "--dp $dp --ep $ep: weights differ"; exit 1; }
}
export DSV3_TRAIN_DIE_IN_SAVE=-1

timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$dsv3" train "${args[@]}" --out "$tmp/one" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
launch "$dp" --dp "$dp" --ep "$ep" --out "$tmp/par" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
same "$tmp/one" "$tmp/par"
# Rank 0 holds 1/E of the experts: fewer parameter bytes than one process exactly when E > 1.
grep -q "^parallel: --dp $dp --ep $ep; " "$tmp/err" || { echo "no parallel: line"; cat "$tmp/err"; exit 1; }
held=$(sed -nE 's/^parallel: .*holds ([0-9.]+) MiB of parameters \(its experts; ([0-9.]+) MiB in one process.*/\1 \2/p' "$tmp/err")
[ -n "$held" ] && awk -v ep="$ep" '{ exit !(ep > 1 ? $1 < $2 : $1 == $2) }' <<<"$held" || { echo "--ep $ep: rank 0 holds $held MiB of parameters"; exit 1; }
# --measure-overlap (alternating steps, the same bits: compared above) prints the hidden share.
if printf '%s\n' "${args[@]}" | grep -qx -- --measure-overlap; then
  grep -qE "^overlap: .*calls over all ranks\): -?[0-9]+% of it hidden$" "$tmp/err" || { echo "no overlap: line"; cat "$tmp/err"; exit 1; }
fi
[ "$(wc -l <"$tmp/par/metrics.jsonl")" = 8 ] || { echo "expected 6 step + 2 eval lines (rank 0 only)"; exit 1; }
ls "$tmp/par"/trainer_state.step-6.rank-*-of-"$dp".safetensors >/dev/null

if [ "$resume" = 1 ]; then
  # Every rank dies in the middle of writing step 4's slice: the commit still names step 2.
  if DSV3_TRAIN_DIE_IN_SAVE=4 launch "$dp" --dp "$dp" --ep "$ep" --save-every 2 --out "$tmp/kill" >/dev/null 2>&1; then
    echo "the killed run exited 0"; exit 1
  fi
  grep -q '"step":2' "$tmp/kill/trainer_state.dp.json" || { echo "commit does not name step 2"; exit 1; }
  launch "$dp" --dp "$dp" --ep "$ep" --save-every 2 --out "$tmp/kill" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  grep -q "resuming .* at step 2" "$tmp/err" || { echo "did not resume at step 2"; cat "$tmp/err"; exit 1; }
  same "$tmp/one" "$tmp/kill"
  # The export is one ordinary checkpoint.
  "$dsv3" generate --model "$tmp/par" --tokens 116,104,101 --max-new-tokens 4 --ids >/dev/null
  # Another layout, or one process, on this folder: one line, non-zero exit.
  for other in "1" "$((dp / 2)) --dp $((dp / 2))" "$dp --dp $dp --ep $((ep > 1 ? ep / 2 : 2))"; do
    set -- $other; n=$1; shift
    if launch "$n" "$@" --out "$tmp/par" >"$tmp/out" 2>"$tmp/err"; then echo "resume with -np $n was accepted"; exit 1; fi
    grep -q "holds the checkpoint of a run with --dp $dp" "$tmp/err" || { echo "no layout error:"; cat "$tmp/err"; exit 1; }
    [ "$(grep -c "holds the checkpoint" "$tmp/err")" = 1 ] || { echo "expected the error once:"; cat "$tmp/err"; exit 1; }
  done
fi
echo "train --dp $dp --ep $ep == one process"
