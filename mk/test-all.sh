#!/usr/bin/env bash
# usage: mk/test-all.sh MAKE PYTHON — what `make test` runs: lint, the unit tests and the end-to-end
# tests, in two lanes at once. The e2e tests (real Ray) spend much of their time waiting: deploys,
# replica restarts, Ray stops and starts, polls. Beside them, lint (ruff, mypy) then the unit tests
# (CPU-bound, no Ray) run in the idle scheduling class for CPU and disk (`chrt --idle`, `ionice -c 3`;
# `nice -n 19` where those are missing), so they take the CPU the e2e lane leaves idle and as little
# as the kernel allows of the rest. Under `nice -n 19` alone (before stop 20) they still took ~30 % of
# a core from Ray's nice-15 workers: on a slow CI machine a new Serve proxy then missed its ready
# check at the first deploy. The e2e output streams; the side lane's is printed once both are done
# (and kept in build/test-side.log). Every step runs; the exit status is 1 when any of them failed.
# Both lanes print their slowest tests (--durations) and a one-line reason per failed or erroring
# test (-rfEs) at the end, so the tail of every CI log says where the time went and what failed.
set -uo pipefail
make_cmd=$1 py=$2
export HF_HUB_OFFLINE=1
mkdir -p build
side_log=build/test-side.log e2e_log=build/test-e2e.log
start=$SECONDS

if command -v chrt >/dev/null && command -v ionice >/dev/null && chrt --idle 0 ionice -c 3 true 2>/dev/null; then
  idle=(chrt --idle 0 ionice -c 3)
else
  idle=(nice -n 19)
fi

set -m  # the side lane gets its own process group, so an interrupt can stop all of it
(
  rc=0
  "${idle[@]}" "$make_cmd" --no-print-directory lint || rc=1
  echo "${idle[*]} $py -m pytest tests/unit -q -rfEs --durations=15"
  "${idle[@]}" "$py" -m pytest tests/unit -q -rfEs --durations=15 || rc=1
  exit $rc
) > "$side_log" 2>&1 &
side=$!
set +m
trap 'kill -- -"$side" 2>/dev/null; exit 130' INT TERM HUP

echo "lint + unit tests: beside the e2e tests, under ${idle[*]} (log: $side_log)"
echo "$py -m pytest tests/e2e -q -rfEs --durations=30"
"$py" -m pytest tests/e2e -q -rfEs --durations=30 2>&1 | tee "$e2e_log"
e2e_rc=${PIPESTATUS[0]}
echo "e2e tests: exit $e2e_rc after $((SECONDS - start)) s"

wait "$side"
side_rc=$?
echo "---- lint + unit tests, run beside the e2e tests: exit $side_rc after $((SECONDS - start)) s ----"
cat "$side_log"
if [ "$e2e_rc" -ne 0 ]; then  # its reasons again, after the side lane's log: the end of the output
  echo "---- e2e tests failed: their summary again (all of it: $e2e_log) ----"
  sed -n '/Serve controller warnings\|short test summary info/,$p' "$e2e_log"
fi
if [ "$e2e_rc" -ne 0 ] || [ "$side_rc" -ne 0 ]; then
  echo "make test: FAILED (e2e tests exit $e2e_rc; lint + unit tests exit $side_rc)"
  exit 1
fi
