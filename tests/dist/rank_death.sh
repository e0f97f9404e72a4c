#!/usr/bin/env bash
# A rank killed with SIGKILL in the middle of collectives ends the whole job within seconds,
# with mpirun naming the dead rank and rank 0 saying why — never a hang. usage: rank_death.sh MPIRUN DIST_WORKER
set -uo pipefail
mpirun=$1 worker=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$mpirun" --oversubscribe -np 2 "$worker" spin >"$tmp/out" 2>"$tmp/err" &
launcher=$!
for _ in $(seq 300); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$tmp/out" || { echo "the job did not start"; kill -9 $launcher; exit 1; }
victim=$(pgrep -P $launcher | tail -1)
[ -n "$victim" ] || { echo "no rank process under mpirun ($launcher)"; kill -9 $launcher; exit 1; }
start=$(date +%s%N)
kill -9 "$victim"
for _ in $(seq 200); do kill -0 $launcher 2>/dev/null || break; sleep 0.05; done
if kill -0 $launcher 2>/dev/null; then
  echo "the job still runs 10 s after rank $victim was killed"; for p in $(pgrep -P $launcher); do kill -9 "$p"; done; kill -9 $launcher; exit 1
fi
wait $launcher; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$tmp/err"
[ $rc -ne 0 ] || { echo "mpirun exited 0 after a rank was killed"; exit 1; }
grep -q "exited on signal 9" "$tmp/err" || { echo "no message naming the killed rank"; exit 1; }
grep -q "dsv3: the job of 2 ranks is ending: another rank died" "$tmp/err" || { echo "no message from rank 0"; exit 1; }
echo "job ended ${ms} ms after kill -9 of one rank (exit code $rc)"
