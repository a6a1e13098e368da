#!/usr/bin/env bash
# scripts/qemu-tests.sh [pytest args...] — the QEMU boot tests (tests/qemu)
# for each architecture in $QEMU_ARCHES (default "aarch64 riscv64 x86_64"), run by
# `make check-qemu` after it built each kernel. Each architecture runs the
# tests marked for it (tests/qemu/conftest.py: aarch64 the whole suite,
# riscv64 and x86_64 their subsets). Shows pytest's output, keeps it in
# build/qemu-tests.log, and ends with one summary line:
# "qemu: N passed, M failed (aarch64 ..., riscv64 ..., x86_64 ...)" (also in
# build/summary-qemu.txt).
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p build
log=build/qemu-tests.log
: >"$log"

passed=0
failed=0
skipped=0
parts=()
status=0
for arch in ${QEMU_ARCHES:-aarch64 riscv64 x86_64}; do
    alog=build/qemu-tests-$arch.log
    echo "== QEMU tests: $arch ==" | tee -a "$log"
    LVIO_ARCH=$arch /usr/bin/python3 -m pytest tests/qemu -q "$@" 2>&1 | tee "$alog"
    rc=${PIPESTATUS[0]}
    cat "$alog" >>"$log"

    # pytest's closing line, e.g. "1 failed, 14 passed, 1 skipped in 42.10s".
    last=$(grep -E ' in [0-9.]+s' "$alog" | tail -n 1)
    count() { printf '%s\n' "$last" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
    p=$(count passed)
    f=$(( $(count failed) + $(count error) ))
    s=$(count skipped)
    secs=$(printf '%s\n' "$last" | grep -oE ' in [0-9.]+s' | grep -oE '[0-9]+' | head -n 1)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # pytest stopped before or without failing a test (no kernel image,
        # no tests, an internal error): that is a failure too.
        echo "qemu: $arch: pytest exited with status $rc"
        f=1
    fi
    [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || status=1
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    parts+=("$arch $p passed, $f failed in ${secs:-?} s")
done

line="qemu: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
detail=$(IFS=';'; echo "${parts[*]}")
line="$line (${detail//;/; })"
echo "$line" | tee build/summary-qemu.txt
exit "$status"
