#!/usr/bin/env bash
# scripts/be-tests.sh — the host unit tests again on a big-endian CPU: built
# with Debian's s390x cross gcc and run under qemu-user (qemu-s390x), with
# s390x cmocka from Debian's multiarch packages (scripts/deps.sh be).
# Legacy virtio devices are guest-endian and modern ones little-endian: on a
# little-endian host both look the same, here they do not.
#
# No sanitizers (they do not run under qemu-user); everything else as in
# `make check-host`. Writes build/summary-be.txt.
set -u
cd "$(dirname "$0")/.."

CC=${BE_CC:-s390x-linux-gnu-gcc}
RUN=${BE_RUN:-qemu-s390x}
OUT=build/be
mkdir -p "$OUT"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude -Isrc -Ikernel)
mapfile -t LIB < <(find src -name '*.c' | sort)
mapfile -t SIM < <(ls tests/host/sim*.c | sort)

passed=0 failed=0 bad=""
for t in tests/host/test_*.c; do
    n=$(basename "$t" .c)
    case $n in
    test_fdt) srcs=(kernel/fdt.c) ;;
    test_keymap) srcs=(kernel/keymap.c) ;;
    test_netstack) srcs=(kernel/netstack.c) ;;
    test_virgl) srcs=(kernel/virgl.c) ;;
    test_gfx) srcs=(kernel/gfx.c kernel/fbcon.c kernel/psf.c -DFONT_PATH="\"build/host/font.psf\"") ;;
    *) srcs=("${SIM[@]}" "${LIB[@]}") ;;
    esac
    if [ "$n" = test_gfx ] && [ ! -f build/host/font.psf ]; then
        echo "be: $n skipped: build/host/font.psf missing (make check-host makes it)"
        continue
    fi
    if ! "$CC" "${CFLAGS[@]}" -o "$OUT/$n" "$t" "${srcs[@]}" -lcmocka; then
        echo "be: $n: build failed"
        failed=$((failed + 1)); bad="$bad $n"; continue
    fi
    # -L /: the s390x loader and libraries from Debian's multiarch packages.
    log="$OUT/$n.log"
    timeout 300 "$RUN" -L / "$OUT/$n" >"$log" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ $rc -ne 0 ]; then
        [ -z "$f" ] && failed=$((failed + 1))
        bad="$bad $n"
        grep -E "^\[  (FAILED|ERROR)|Failure|ERROR:" "$log" | head -20
    fi
done
line="be: $passed passed, $failed failed (s390x, big-endian, under qemu-user)"
echo "$line" | tee build/summary-be.txt
[ -z "$bad" ] || { echo "be: failing:$bad (logs in $OUT/)"; exit 1; }
