#!/usr/bin/env bash
# scripts/lib-check.sh — make check-lib: the library builds warning-free
# (WARN, -pedantic, -O2) with
#   - gcc and clang for this host;
#   - clang, freestanding, for each kernel architecture with the flags its
#     kernel/arch/<arch>/arch.mk gives (ARCH_TARGET, ARCH_CFLAGS);
#   - Debian's cross gcc (x86_64: this host's gcc) for the same three, with
#     the same flags as gcc spells them (ARCH_TARGET without --target=);
#   - clang for a 32-bit target, riscv32 (rv32imac, ilp32), whose objects,
#     linked together (ld.lld -r), may leave undefined only memcpy, memset
#     and memcmp: the functions the library declares and its user provides.
#     Anything else (__udivdi3, __umoddi3, ...) is a compiler helper the
#     library would silently ask every 32-bit kernel for.
# Arguments: the warning flags, then the library's sources.
# Ends with one line in build/summary-lib.txt.
set -u
warn=$1
shift
srcs=("$@")
arches="aarch64 riscv64 x86_64"
allowed="memcmp memcpy memset"
# As a kernel builds it (the Makefile's LVIO_CFLAGS): Debian's gcc makes PIE
# by default, which x86_64's kernel code model refuses.
free="-ffreestanding -fno-builtin -fno-pic -fno-stack-protector"

fail() {
    echo "check-lib: FAILED: $*" >&2
    exit 1
}

# build CC FLAGS... : compile every source with CC and FLAGS, objects discarded.
build() {
    local cc=$1
    shift
    for f in "${srcs[@]}"; do
        # shellcheck disable=SC2086  # warn is a list of flags
        "$cc" "$@" $warn -pedantic -O2 -Iinclude -c "$f" -o /dev/null ||
            fail "$cc $* on $f"
    done
}

arch_var() { # arch_var ARCH NAME: NAME's value in that arch.mk
    sed -n "s/^$2 := //p" "kernel/arch/$1/arch.mk"
}

gcc_for() {
    case "$1" in
    x86_64) [ "$(uname -m)" = x86_64 ] && echo gcc || echo x86_64-linux-gnu-gcc ;;
    *) echo "$1-linux-gnu-gcc" ;;
    esac
}

for cc in gcc clang; do build "$cc"; done

for a in $arches; do
    target=$(arch_var "$a" ARCH_TARGET)
    cflags=$(arch_var "$a" ARCH_CFLAGS)
    [ -n "$target" ] || fail "no ARCH_TARGET in kernel/arch/$a/arch.mk"
    # shellcheck disable=SC2086
    build clang $target $cflags $free
    gcc_cc=$(gcc_for "$a")
    command -v "$gcc_cc" >/dev/null || fail "$gcc_cc is missing (scripts/deps.sh cross)"
    gcc_flags=""
    for w in $target $cflags; do
        case "$w" in --target=*) ;; *) gcc_flags="$gcc_flags $w" ;; esac
    done
    # shellcheck disable=SC2086
    build "$gcc_cc" $gcc_flags $free
done

# The 32-bit build, kept, and what it leaves undefined.
out=build/riscv32/lib-check
rm -rf "$out"
mkdir -p "$out"
objs=()
for f in "${srcs[@]}"; do
    o="$out/$(echo "${f%.c}" | tr / _).o"
    # shellcheck disable=SC2086
    clang --target=riscv32-unknown-elf -march=rv32imac -mabi=ilp32 -mno-relax \
        $free $warn -pedantic -O2 -Iinclude -c "$f" -o "$o" ||
        fail "clang riscv32 on $f"
    objs+=("$o")
done
ld.lld -r -o "$out/lvio.o" "${objs[@]}" || fail "ld.lld -r of the riscv32 objects"
undef=$(llvm-nm -u "$out/lvio.o" | awk '{print $NF}' | sort -u)
# shellcheck disable=SC2086  # one line per allowed name
extra=$(comm -23 <(printf '%s\n' "$undef") <(printf '%s\n' $allowed))
if [ -n "$extra" ]; then
    echo "check-lib: the riscv32 library needs symbols it does not declare" >&2
    echo "check-lib: (allowed: $allowed; compiler helpers such as __udivdi3 come" >&2
    echo "check-lib: from 64-bit / and %: use lvio_div64 / lvio_mod64 in src/core/internal.h):" >&2
    printf '%s\n' "$extra" | sed 's/^/  /' >&2
    exit 1
fi

mkdir -p build
echo "lib: warning-free with gcc and clang (host), clang and gcc for $arches" \
    "(freestanding, arch.mk flags), clang for riscv32; riscv32 needs only: $(printf '%s' "$undef" | tr '\n' ' ')" |
    tee build/summary-lib.txt
