#!/usr/bin/env bash
# usage: mk/test-all.sh MAKE PYTHON — what `make test` runs: lint, the unit tests and the end-to-end
# tests, in two lanes at once. The e2e tests (real Ray) spend much of their time waiting: deploys,
# replica restarts, Ray stops and starts, polls. Beside them, lint (ruff, mypy) then the unit tests
# (CPU-bound, no Ray) run under `nice -n 19`, so they take the CPU the e2e lane leaves idle and
# little of the rest (Ray runs its workers at nice 15, the tests' own processes at 0). The e2e
# output streams; the side lane's is printed once both are done (and kept in build/test-side.log).
# Every step runs; the exit status is 1 when any of them failed. Both lanes print their slowest
# tests (--durations), so every CI log says where the time went.
set -uo pipefail
make_cmd=$1 py=$2
export HF_HUB_OFFLINE=1
mkdir -p build
side_log=build/test-side.log
start=$SECONDS

set -m  # the side lane gets its own process group, so an interrupt can stop all of it
(
  rc=0
  nice -n 19 "$make_cmd" --no-print-directory lint || rc=1
  echo "$py -m pytest tests/unit -q -rs --durations=15"
  nice -n 19 "$py" -m pytest tests/unit -q -rs --durations=15 || rc=1
  exit $rc
) > "$side_log" 2>&1 &
side=$!
set +m
trap 'kill -- -"$side" 2>/dev/null; exit 130' INT TERM HUP

echo "lint + unit tests: beside the e2e tests, under nice (log: $side_log)"
echo "$py -m pytest tests/e2e -q -rs --durations=30"
"$py" -m pytest tests/e2e -q -rs --durations=30
e2e_rc=$?
echo "e2e tests: exit $e2e_rc after $((SECONDS - start)) s"

wait "$side"
side_rc=$?
echo "---- lint + unit tests, run beside the e2e tests: exit $side_rc after $((SECONDS - start)) s ----"
cat "$side_log"
if [ "$e2e_rc" -ne 0 ] || [ "$side_rc" -ne 0 ]; then
  echo "make test: FAILED (e2e tests exit $e2e_rc; lint + unit tests exit $side_rc)"
  exit 1
fi
