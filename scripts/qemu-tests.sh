#!/usr/bin/env bash
# scripts/qemu-tests.sh [pytest args...] — the QEMU boot tests (tests/qemu),
# run by `make check-qemu` after `make ARCH=aarch64`. Shows pytest's output,
# keeps it in build/qemu-tests.log, and ends with one summary line:
# "qemu: N passed, M failed" (also in build/summary-qemu.txt).
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p build
log=build/qemu-tests.log

/usr/bin/python3 -m pytest tests/qemu -q "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# pytest's closing line, e.g. "1 failed, 14 passed, 1 skipped in 42.10s".
last=$(grep -E ' in [0-9.]+s' "$log" | tail -n 1)
count() { printf '%s\n' "$last" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
passed=$(count passed)
failed=$(( $(count failed) + $(count error) ))
skipped=$(count skipped)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # pytest stopped before or without failing a test (no kernel image,
    # no tests, an internal error): that is a failure too.
    echo "qemu: pytest exited with status $rc"
    failed=1
fi
line="qemu: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line" | tee build/summary-qemu.txt
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
