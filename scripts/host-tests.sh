#!/usr/bin/env bash
# Run the host test binaries given as arguments (cmocka), show their output,
# and end with one summary line: "host: N passed, M failed". A binary that
# runs past HOST_TEST_TIMEOUT seconds (default 300) is killed and counted
# as a failure, so a hang cannot stall `make test`.
set -u
passed=0
failed=0
mkdir -p build
for t in "$@"; do
  out=$(timeout "${HOST_TEST_TIMEOUT:-300}" "$t" 2>&1)
  rc=$?
  [ "$rc" -eq 124 ] && out="$out
host: $t timed out after ${HOST_TEST_TIMEOUT:-300} s"
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
    echo "host: $t exited with status $rc"   # a crash, not a test failure
    failed=$((failed + 1))
  fi
done
line="host: $passed passed, $failed failed"
echo "$line" | tee build/summary-host.txt
[ "$failed" -eq 0 ]
