#!/usr/bin/env bash
# scripts/bench.sh — the in-guest benchmarks (used by `make bench`, which
# builds the kernel first; ARCH=<arch>, default aarch64).
#
# Boots build/<arch>/<image> (the QEMU command line of
# kernel/arch/<arch>/arch.mk) with a 1280x800 virtio-gpu, a virtio-rng and a
# 64 MiB virtio-blk scratch disk in /dev/shm, and `-append "poweroff bench"`;
# the kernel prints lines
#     bench: <name>: <value> <unit>
# which are shown as a table and saved to build/bench.txt (the whole serial
# log goes to build/bench.log). Then three more boots measure the block device
# again with one thing changed (the other way of servicing it, INDIRECT_DESC
# off, EVENT_IDX off), a second table (serial in build/bench-variant<n>.log);
# and a last boot, without poweroff, times the console's echo port and a
# key's echo (scripts/bench-io.py), a third; before that a boot with a
# virtio-gpu-gl on a GL display gives the GPU 3D figures (`bench: gpu3d`). Fails on: no bench lines, a FAIL verdict or no verdict, a PANIC, QEMU
# failing, or the timeout.
#
#   BENCH_TIMEOUT=120       seconds before QEMU is killed
#   LVIO_KERNEL=path.img    another image;  LVIO_QEMU=...  another QEMU
#   QEMU_ARGS='-global virtio-mmio.force-legacy=false'   extra QEMU args (split on spaces)
#   BENCH_APPEND=irq.off    more bootargs (irq.off: everything polled, to compare)
#   BENCH_VARIANTS=0        not the block device's variants
#   BENCH_IO=0              not the echo port and key figures (scripts/bench-io.py)
#   BENCH_GL=0              not the GPU 3D figures (a virtio-gpu-gl boot under Xvfb)
# All TCG (no KVM here): the numbers compare builds on one machine, nothing more.
set -u
cd "$(dirname "$0")/.." || exit 1

source scripts/arch.sh
img=${LVIO_KERNEL:-$LVIO_IMG}
qemu=${QEMU_CMD[0]}
limit=${BENCH_TIMEOUT:-120}
out=build/bench.txt
log=build/bench.log

fail() {
    echo "bench: FAILED: $*" >&2
    if [ -s "$log" ]; then
        echo "---- serial ($log) ----" >&2
        tail -n 40 "$log" >&2
    fi
    exit 1
}

[ -f "$img" ] || { echo "bench: $img not found: run make ARCH=$ARCH first" >&2; exit 1; }
command -v "$qemu" >/dev/null || { echo "bench: $qemu not found: run scripts/deps.sh qemu" >&2; exit 1; }
command -v timeout >/dev/null || { echo "bench: timeout (coreutils) not found" >&2; exit 1; }
mkdir -p build
rm -f "$out"

# The block benchmarks' disk: a 64 MiB raw image in RAM (/dev/shm), so the
# host's disk is not what is measured; QEMU's aio=threads and cache=writeback
# (its defaults, said here); virtio-blk-pci with 4 queues, serial
# lvio-scratch (the only disk the kernel writes to).
shm=$(mktemp -d /dev/shm/lvio-bench.XXXXXX) || { echo "bench: no /dev/shm" >&2; exit 1; }
trap 'rm -rf "$shm"' EXIT
truncate -s 64M "$shm/scratch.img"

# One boot with the benchmarks on: $1 the serial log, $2 more properties of
# the blk device (",indirect_desc=off"), $3 more bootargs. Fails like above.
boot() {
    local blog=$1 props=$2 append=$3 rc verdict
    local cmd=("${QEMU_CMD[@]}" -nic none -display none
         -serial stdio -monitor none -no-reboot -kernel "$img"
         -device virtio-gpu-$VIRTIO,xres=1280,yres=800 -device virtio-rng-$VIRTIO
         -drive "if=none,id=bench0,file=$shm/scratch.img,format=raw,aio=threads,cache=writeback"
         -device "virtio-blk-pci,drive=bench0,serial=lvio-scratch,num-queues=4$props")
    local extra=()
    if [ -n "${QEMU_ARGS:-}" ]; then
        read -r -a extra <<<"$QEMU_ARGS"
    fi
    cmd+=(${extra[@]+"${extra[@]}"} -append "poweroff bench${append:+ $append}")

    run_logged "$blog" "${cmd[@]}"
}

# Run "$@" (a QEMU command line, or one wrapped) with the timeout, its
# output into log $1, and fail as above.
run_logged() {
    local blog=$1 rc verdict
    shift
    printf 'bench:'
    printf ' %q' "$@"
    printf '\n'
    log=$blog
    # QEMU's stderr goes to the log too; the serial is CRLF.
    timeout -k 5 "$limit" "$@" </dev/null 2>&1 | tr -d '\r' >"$blog"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "QEMU did not power off within ${limit} s (killed; BENCH_TIMEOUT=$limit)"
    fi
    if grep -q '^levitate: PANIC' "$blog"; then
        fail "kernel panicked: $(grep -m1 '^levitate: PANIC' "$blog")"
    fi
    [ "$rc" -eq "$QEMU_EXIT_OK" ] || fail "QEMU exited with status $rc"
    verdict=$(grep -E '^levitate: (PASS|FAIL) ' "$blog" | tail -n 1)
    [ -n "$verdict" ] || fail "no 'levitate: PASS|FAIL' verdict"
    case "$verdict" in
        "levitate: FAIL "*) fail "in-guest tests failed ($verdict): the numbers would not mean much" ;;
    esac
    grep -qE '^bench: .+: [-+]?[0-9][0-9.eE+-]* [^ ].*$' "$blog" ||
        fail "no 'bench: <name>: <value> <unit>' lines (was the kernel built with benchmarks?)"
}

# The value of bench line $2 in log $1 ("-" when absent).
value_of() {
    local v
    v=$(grep -F "bench: $2: " "$1" | tail -n 1 | sed -E 's/^.*: ([-+]?[0-9][0-9.eE+-]*) [^ ]+.*$/\1/')
    printf '%s' "${v:--}"
}

boot "$log" "" "${BENCH_APPEND:-}"
verdict=$(grep -E '^levitate: (PASS|FAIL) ' "$log" | tail -n 1)
bench=$(grep -E '^bench: .+: [-+]?[0-9][0-9.eE+-]* [^ ].*$' "$log")

# name | value (right-aligned) | unit
printf '%s\n' "$bench" | awk '
    BEGIN { n = 0; wn = 9; wv = 5; wu = 4 }
    {
        line = substr($0, 8)                     # after "bench: "
        i = match(line, /: [-+]?[0-9][0-9.eE+-]* /)
        name[n] = substr(line, 1, i - 1)
        rest = substr(line, i + 2)
        sp = index(rest, " ")
        value[n] = substr(rest, 1, sp - 1)
        unit[n] = substr(rest, sp + 1)
        if (length(name[n]) > wn) wn = length(name[n])
        if (length(value[n]) > wv) wv = length(value[n])
        if (length(unit[n]) > wu) wu = length(unit[n])
        n++
    }
    function dashes(k,   s) { s = ""; while (k-- > 0) s = s "-"; return s }
    END {
        printf "%-" wn "s | %" wv "s | %s\n", "benchmark", "value", "unit"
        printf "%s-+-%s-+-%s\n", dashes(wn), dashes(wv), dashes(wu)
        for (k = 0; k < n; k++)
            printf "%-" wn "s | %" wv "s | %s\n", name[k], value[k], unit[k]
    }' >"$out.tmp" && mv "$out.tmp" "$out" || fail "could not write $out"

# The block device's figures again with one thing changed each time: the
# other way of servicing it (polled when the first boot took interrupts, and
# the other way round), then INDIRECT_DESC off, then EVENT_IDX off (the
# device stops offering it: QEMU's properties). BENCH_VARIANTS=0 skips them.
if [ "${BENCH_VARIANTS:-1}" != 0 ]; then
    first=$log
    case " ${BENCH_APPEND:-} " in
        *" irq.off "*) other=("interrupts" "" "${BENCH_APPEND//irq.off/}") ;;
        *) other=("polled (irq.off)" "" "${BENCH_APPEND:+$BENCH_APPEND }irq.off") ;;
    esac
    names=("as above" "${other[0]}" "indirect_desc=off" "event_idx=off")
    props=("" "" ",indirect_desc=off" ",event_idx=off")
    appends=("" "${other[2]}" "${BENCH_APPEND:-}" "${BENCH_APPEND:-}")
    rows=()
    for i in 0 1 2 3; do
        vlog=$first
        if [ "$i" -gt 0 ]; then
            vlog=build/bench-variant$i.log
            boot "$vlog" "${props[$i]}" "${appends[$i]}"
        fi
        rows+=("$(printf '%-18s | %9s | %9s | %9s | %11s | %11s' "${names[$i]}" \
            "$(value_of "$vlog" "blk 4k random read depth 1, median")" \
            "$(value_of "$vlog" "blk 4k random read depth 32, 1 queue")" \
            "$(value_of "$vlog" "blk 4k random read depth 32, 4 queues")" \
            "$(value_of "$vlog" "blk notifies per 100 requests at depth 32")" \
            "$(value_of "$vlog" "blk interrupts per 100 requests at depth 32")")")
    done
    log=$first
    {
        echo
        printf '%-18s | %9s | %9s | %9s | %11s | %11s\n' "blk variant" "depth 1" "depth 32" \
            "depth 32" "notifies" "interrupts"
        printf '%-18s | %9s | %9s | %9s | %11s | %11s\n' "" "median us" "1q IOPS" "4q IOPS" \
            "/100 req" "/100 req"
        printf '%s\n' "-------------------+-----------+-----------+-----------+-------------+------------"
        printf '%s\n' "${rows[@]}"
    } >>"$out"
fi

# GPU 3D: one more boot with a virtio-gpu-gl (virgl) alone on QEMU's GL
# display (GTK with OpenGL on an Xvfb of its own, xvfb-run; Mesa's llvmpipe
# renders): the kernel's `bench: gpu3d` lines, a table of their own (serial
# in build/bench-gl.log). BENCH_GL=0 skips it.
if [ "${BENCH_GL:-1}" != 0 ]; then
    first=$log
    command -v xvfb-run >/dev/null || fail "xvfb-run not found: run scripts/deps.sh gl (or BENCH_GL=0)"
    glcmd=(xvfb-run -a -s "-nolisten tcp -screen 0 1280x1024x24"
           "${QEMU_CMD[@]}" -nic none -display gtk,gl=on
           -serial stdio -monitor none -no-reboot -kernel "$img"
           -device virtio-gpu-gl-$VIRTIO -append "poweroff bench${BENCH_APPEND:+ $BENCH_APPEND}")
    run_logged build/bench-gl.log "${glcmd[@]}"
    gl=$(grep -E '^bench: gpu3d .+: [-+]?[0-9][0-9.eE+-]* [^ ].*$' build/bench-gl.log)
    [ -n "$gl" ] || fail "no 'bench: gpu3d' lines: did the GL device get VIRGL? (build/bench-gl.log)"
    {
        echo
        printf '%-40s | %9s | %s\n' "gpu3d (virtio-gpu-gl-$VIRTIO, llvmpipe)" "value" "unit"
        printf '%s\n' "-----------------------------------------+-----------+------"
        printf '%s\n' "$gl" | awk '
            { line = substr($0, 8); i = match(line, /: [-+]?[0-9][0-9.eE+-]* /)
              rest = substr(line, i + 2); sp = index(rest, " ")
              printf "%-40s | %9s | %s\n", substr(line, 1, i - 1), substr(rest, 1, sp - 1),
                     substr(rest, sp + 1) }'
    } >>"$out"
    bench="$bench"$'\n'"$gl"
    log=$first
fi

# What needs the host on the other side: the echo port's throughput and a
# key's way to the shell (scripts/bench-io.py boots once more, without
# poweroff). BENCH_IO=0 skips it.
if [ "${BENCH_IO:-1}" != 0 ]; then
    io=$(LVIO_ARCH=$ARCH /usr/bin/python3 scripts/bench-io.py) || fail "scripts/bench-io.py failed"
    {
        echo
        printf '%s\n' "$io" | awk '
            { line = substr($0, 8); i = match(line, /: [0-9.]+ /)
              printf "%-34s | %8s | %s\n", substr(line, 1, i - 1),
                     substr(line, i + 2, RLENGTH - 3), substr(line, i + RLENGTH) }'
    } >>"$out"
fi

cat "$out"
echo "bench: $(grep -c '' <<<"$bench") results, $verdict; saved to $out (serial in $log)"
