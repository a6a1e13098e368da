#!/usr/bin/env bash
# scripts/package-check.sh — the library as a kernel vendors it (make
# check-package): a copy of include/, src/, lvio.mk and lvio.cmake in a
# temporary directory, made read-only (as root that only documents it, so
# the copy's listing and checksums are compared before and after), is built
#  - with lvio.mk from another directory, for each kernel architecture with
#    its flags from kernel/arch/<arch>/arch.mk, warning-free;
#  - with LVIO_DRIVERS=rng: the archive has the rng and no gpu;
#  - with -DLVIO_WITH_GPU=0 over every source: the gpu objects (2D and 3D)
#    are empty; with LVIO_DRIVERS=gpu the 2D driver has no 3D calls;
#  - with lvio.cmake in a CMake project (host compiler), rng only.
# Prints one line (also build/summary-package.txt); exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d /tmp/lvio-package.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
lib=$tmp/vendor/levitate-virtio
mkdir -p "$lib" "$tmp/kernel"
cp -a include src lvio.mk lvio.cmake "$lib/"
chmod -R a-w "$lib"
listing() { (cd "$lib" && find . -printf '%p %s %T@\n' | sort && find . -type f -exec md5sum {} + | sort); }
before=$(listing)

arch_var() { sed -n "s/^$2 *:= *//p" "$repo/kernel/arch/$1/arch.mk"; }
fail() { echo "package: FAILED: $*" >&2; exit 1; }

n=0
cd "$tmp/kernel"
for a in aarch64 riscv64 x86_64; do
    flags="$(arch_var "$a" ARCH_TARGET) $(arch_var "$a" ARCH_CFLAGS) -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-builtin -fno-pic"
    make -s -f "$lib/lvio.mk" LVIO_OUT="$tmp/out/$a" LVIO_CC=clang LVIO_AR=llvm-ar \
        LVIO_CFLAGS="$flags" "$tmp/out/$a/liblvio.a" >/dev/null || fail "lvio.mk for $a"
    llvm-nm "$tmp/out/$a/liblvio.a" | grep -q ' T lvio_gpu_init$' || fail "$a: no lvio_gpu_init"
    n=$((n + 1))
done

# drivers_archive NAME DRIVERS: lvio.mk's archive of only those drivers;
# prints its symbols.
drivers_archive() {
    make -s -f "$lib/lvio.mk" LVIO_OUT="$tmp/out/$1" LVIO_CC=clang LVIO_AR=llvm-ar \
        LVIO_DRIVERS="$2" LVIO_CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -ffreestanding" \
        "$tmp/out/$1/liblvio.a" >/dev/null || fail "lvio.mk with LVIO_DRIVERS=$2"
    llvm-nm "$tmp/out/$1/liblvio.a"
}

syms=$(drivers_archive rng rng)
grep -q ' T lvio_rng_init$' <<<"$syms" || fail "LVIO_DRIVERS=rng: no lvio_rng_init"
! grep -q ' T lvio_gpu_' <<<"$syms" || fail "LVIO_DRIVERS=rng: gpu code in the archive"

for f in gpu gpu_fb gpu_edid gpu3d gpu3d_submit gpu3d_blob; do
    clang -std=c11 -Wall -Wextra -Werror -pedantic -ffreestanding -DLVIO_WITH_GPU=0 \
        -I"$lib/include" -c "$lib/src/drivers/$f.c" -o "$tmp/out/$f.o" || fail "$f.c with LVIO_WITH_GPU=0"
    [ "$(llvm-size "$tmp/out/$f.o" | awk 'NR == 2 { print $1 + $2 + $3 }')" = 0 ] ||
        fail "$f.c with LVIO_WITH_GPU=0 is not empty"
done

# The 3D part left out alone (LVIO_DRIVERS without gpu3d): the 2D driver
# stays, none of the 3D calls.
syms=$(drivers_archive gpu2d gpu)
grep -q ' T lvio_gpu_init_with$' <<<"$syms" || fail "LVIO_DRIVERS=gpu: no lvio_gpu_init_with"
! grep -q ' T lvio_gpu_ctx_submit$' <<<"$syms" || fail "LVIO_DRIVERS=gpu: gpu3d code in the archive"

if command -v cmake >/dev/null; then
    cat >"$tmp/kernel/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.13)
project(kernel C)
set(LVIO_DRIVERS rng)
include("$lib/lvio.cmake")
add_library(lvio STATIC \${LVIO_SOURCES})
target_include_directories(lvio PUBLIC \${LVIO_INCLUDE_DIRS})
target_compile_definitions(lvio PRIVATE \${LVIO_DEFINITIONS})
target_compile_options(lvio PRIVATE -std=c11 -Wall -Wextra -Werror)
CMAKE
    cmake -S "$tmp/kernel" -B "$tmp/cmake" >/dev/null || fail "cmake configure"
    cmake --build "$tmp/cmake" >/dev/null || fail "cmake build"
    csyms=$(nm "$tmp/cmake/liblvio.a")
    grep -q ' T lvio_rng_init$' <<<"$csyms" || fail "lvio.cmake: no lvio_rng_init"
    ! grep -q ' T lvio_gpu_' <<<"$csyms" || fail "lvio.cmake: gpu code with LVIO_DRIVERS=rng"
    cm="lvio.cmake"
else
    cm="no cmake: lvio.cmake not tried"
fi

[ "$before" = "$(listing)" ] || fail "the read-only copy changed"
mkdir -p "$repo/build"
echo "package: a read-only copy builds with lvio.mk ($n architectures, rng alone, gpu switched off) and $cm; nothing written into it" |
    tee "$repo/build/summary-package.txt"
