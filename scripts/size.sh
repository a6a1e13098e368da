#!/usr/bin/env bash
# scripts/size.sh — the library's footprint (make size): .text (with
# .rodata), .data and .bss of each component compiled at -Os for each
# kernel architecture (clang, the architecture's flags from
# kernel/arch/<arch>/arch.mk), and the RAM one device object costs (sizeof
# of the structs a kernel keeps per device). Prints a table and saves it to
# build/size.txt.
#
#   SIZE_ARCHES="aarch64 riscv64 x86_64"   the architectures
set -eu
cd "$(dirname "$0")/.."
arches=${SIZE_ARCHES:-aarch64 riscv64 x86_64}
out=build/size
mkdir -p "$out"

arch_var() { sed -n "s/^$2 *:= *//p" "kernel/arch/$1/arch.mk"; }

# component -> its sources
components() {
    echo "core $(ls src/core/*.c | tr '\n' ' ')"
    echo "mmio src/transport/mmio.c"
    echo "pci $(ls src/transport/pci*.c | tr '\n' ' ')"
    for d in $(ls src/drivers/*.c | xargs -n1 basename | sed 's/[_.].*//' | sort -u); do
        echo "$d $(ls src/drivers/"$d".c src/drivers/"$d"_*.c 2>/dev/null | tr '\n' ' ')"
    done
}

# The structs of one device: a symbol per struct, its size that of the struct.
cat >"$out/sizes.c" <<'C'
#include <lvio/lvio.h>
#define SIZE(name, type) const char lvio_sizeof_##name[sizeof(type)] = {0}
SIZE(device, struct lvio_device);
SIZE(virtqueue, struct lvio_virtqueue);
SIZE(rng, struct lvio_rng);
SIZE(gpu, struct lvio_gpu);
SIZE(gpu_fb, struct lvio_gpu_fb);
SIZE(blk, struct lvio_blk);
SIZE(input, struct lvio_input);
SIZE(console, struct lvio_console);
SIZE(console_port, struct lvio_console_port);
SIZE(net, struct lvio_net);
C

declare -A T D B S
for a in $arches; do
    flags="$(arch_var "$a" ARCH_TARGET) $(arch_var "$a" ARCH_CFLAGS) -std=c11 -Os -ffreestanding -fno-builtin -fno-pic -fno-stack-protector -fno-common -fno-asynchronous-unwind-tables -fno-unwind-tables -Iinclude"
    while read -r comp srcs; do
        t=0 d=0 b=0
        for f in $srcs; do
            o="$out/$a/${f//\//_}.o"
            mkdir -p "$out/$a"
            # shellcheck disable=SC2086
            clang $flags -c "$f" -o "$o"
            read -r ft fd fb _ < <(llvm-size "$o" | tail -n 1)
            t=$((t + ft)) d=$((d + fd)) b=$((b + fb))
        done
        T[$comp,$a]=$t D[$comp,$a]=$d B[$comp,$a]=$b
    done < <(components)
    # shellcheck disable=SC2086
    clang $flags -c "$out/sizes.c" -o "$out/$a/sizes.o"
    while read -r _addr size _type name; do
        S[${name#lvio_sizeof_},$a]=$((16#$size))
    done < <(llvm-nm -S --defined-only "$out/$a/sizes.o" | grep lvio_sizeof_)
done

{
    printf '%-10s' "component"
    for a in $arches; do printf ' | %-22s' "$a text/data/bss"; done
    printf '\n%s' "----------"
    for a in $arches; do printf -- '-+-%s' "----------------------"; done
    printf '\n'
    total_line=()
    while read -r comp _; do
        printf '%-10s' "$comp"
        for a in $arches; do
            printf ' | %-22s' "${T[$comp,$a]} / ${D[$comp,$a]} / ${B[$comp,$a]}"
        done
        printf '\n'
    done < <(components)
    printf '%-10s' "all"
    for a in $arches; do
        t=0 d=0 b=0
        while read -r comp _; do
            t=$((t + T[$comp,$a])) d=$((d + D[$comp,$a])) b=$((b + B[$comp,$a]))
        done < <(components)
        printf ' | %-22s' "$t / $d / $b"
    done
    printf '\n\nRAM per object (sizeof, bytes; DMA pages for rings and requests come from the HAL):\n'
    printf '%-20s' "struct"
    for a in $arches; do printf ' | %7s' "$a"; done
    printf '\n'
    for s in device virtqueue rng gpu gpu_fb blk input console console_port net; do
        [ -n "${S[$s,${arches%% *}]:-}" ] || continue
        printf '%-20s' "lvio_$s"
        for a in $arches; do printf ' | %7s' "${S[$s,$a]}"; done
        printf '\n'
    done
} | tee build/size.txt
