#!/usr/bin/env bash
# scripts/deps.sh [group...] — make sure the Debian packages a make target
# needs are installed.
#
# Groups (no argument = build host qemu):
#   build  clang, ld.lld, llvm-objcopy, llvm-nm, make, dtc
#   cross  Debian's cross gcc for aarch64 and riscv64 (make check-lib builds
#          the library with them as well as with clang)
#   host   cmocka (libcmocka-dev), gcc
#   qemu   qemu-system-aarch64, qemu-system-riscv64 (qemu-system-misc),
#          qemu-system-x86_64 (qemu-system-x86), qemu-img (qemu-utils: the
#          block tests' qcow2 images), pytest and PIL for /usr/bin/python3,
#          ip (iproute2: the multiqueue net test's tap device, when root)
#   gl     headless GL for virtio-gpu-gl (3D, virgl): Xvfb (xvfb), xauth, and
#          QEMU's GTK display with its virtio-gpu-gl device modules
#          (qemu-system-gui); Mesa's llvmpipe (libgl1-mesa-dri) renders
#   font   a Terminus PSF console font (console-setup-linux)
#   static clang-tidy and cppcheck (make check-static)
#   fuzz   libFuzzer's runtime for clang 14 (make fuzz, make check-fuzz)
#   be     big-endian host tests (make check-be): s390x cross gcc, qemu-user,
#          and s390x libc/cmocka from Debian's multiarch (this adds the
#          s390x architecture to dpkg: `dpkg --add-architecture s390x`)
#
# A package written pkg@arch is a multiarch package (apt's pkg:arch).
#
# Silent when everything is there. When something is missing: as root it says
# "deps: installing <pkgs> with apt-get" and installs them (apt-get update only
# when needed); otherwise it prints the one `sudo apt-get install` line to run
# and exits 1.
#
# Environment (mostly for testing this script):
#   DEPS_DRY_RUN=1    only say what would be installed, install nothing, exit 0
#   DEPS_EXTRA="kind:what:package ..."   extra checks, e.g.
#                     DEPS_EXTRA="cmd:no-such-tool:some-package" (kinds: cmd,
#                     file, glob, py — py checks `import what` in /usr/bin/python3)
set -u

PY=/usr/bin/python3
FONT_GLOB='/usr/share/consolefonts/Uni2-Terminus16.psf.gz'
QEMU_GTK_GLOB='/usr/lib/*/qemu/ui-gtk.so'
QEMU_GL_GLOB='/usr/lib/*/qemu/hw-display-virtio-gpu-gl.so'
DRI_GLOB='/usr/lib/*/dri/swrast_dri.so'
FUZZER_GLOB='/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a'

checks_for_group() {
    case "$1" in
    build)
        echo "cmd:clang:clang cmd:ld.lld:lld cmd:llvm-objcopy:llvm cmd:llvm-nm:llvm cmd:make:make"
        echo "cmd:dtc:device-tree-compiler"
        ;;
    cross)
        echo "cmd:aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
        echo "cmd:riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu"
        ;;
    host)
        echo "file:/usr/include/cmocka.h:libcmocka-dev cmd:gcc:gcc"
        ;;
    qemu)
        echo "cmd:qemu-system-aarch64:qemu-system-arm cmd:qemu-system-riscv64:qemu-system-misc"
        echo "cmd:qemu-system-x86_64:qemu-system-x86 cmd:qemu-img:qemu-utils cmd:ip:iproute2"
        echo "py:pytest:python3-pytest py:PIL:python3-pil"
        ;;
    gl)
        echo "cmd:Xvfb:xvfb cmd:xauth:xauth glob:$QEMU_GTK_GLOB:qemu-system-gui"
        echo "glob:$QEMU_GL_GLOB:qemu-system-gui glob:$DRI_GLOB:libgl1-mesa-dri"
        ;;
    font)
        echo "glob:$FONT_GLOB:console-setup-linux"
        ;;
    static)
        echo "cmd:clang-tidy:clang-tidy cmd:cppcheck:cppcheck cmd:gcc:gcc"
        ;;
    fuzz)
        echo "cmd:clang:clang glob:$FUZZER_GLOB:libclang-rt-14-dev"
        ;;
    be)
        echo "cmd:s390x-linux-gnu-gcc:gcc-s390x-linux-gnu cmd:qemu-s390x:qemu-user"
        echo "file:/usr/s390x-linux-gnu/include/stdio.h:libc6-dev-s390x-cross"
        echo "file:/usr/lib/s390x-linux-gnu/libcmocka.so:libcmocka-dev@s390x"
        echo "file:/usr/include/cmocka.h:libcmocka-dev"
        ;;
    *)
        echo "deps: unknown group '$1' (groups: build cross host qemu gl font static be fuzz)" >&2
        return 1
        ;;
    esac
}

[ $# -eq 0 ] && set -- build host qemu

checks=""
for g in "$@"; do
    c=$(checks_for_group "$g") || exit 2
    checks="$checks $c"
done
checks="$checks ${DEPS_EXTRA:-}"

missing=""
add_missing() {
    case " $missing " in *" $1 "*) ;; *) missing="${missing:+$missing }$1" ;; esac
}

# Python modules are checked in one interpreter run (it is the slow part).
py_mods=""
py_pkgs=""
for c in $checks; do
    kind=${c%%:*}
    rest=${c#*:}
    what=${rest%:*}
    pkg=${rest##*:}
    case "$kind" in
    cmd)  command -v "$what" >/dev/null 2>&1 || add_missing "$pkg" ;;
    file) [ -e "$what" ] || add_missing "$pkg" ;;
    glob) compgen -G "$what" >/dev/null || add_missing "$pkg" ;;
    py)   py_mods="$py_mods $what"; py_pkgs="$py_pkgs $what=$pkg" ;;
    *)    echo "deps: bad check '$c'" >&2; exit 2 ;;
    esac
done

if [ -n "$py_mods" ]; then
    if [ ! -x "$PY" ]; then
        add_missing python3
        for mp in $py_pkgs; do add_missing "${mp#*=}"; done
    else
        # Prints the modules that fail to import.
        # shellcheck disable=SC2086  # one argument per module
        bad=$("$PY" - $py_mods <<'EOF' 2>/dev/null
import importlib, sys
for m in sys.argv[1:]:
    try:
        importlib.import_module(m)
    except Exception:
        print(m)
EOF
        ) || bad="$py_mods"
        for m in $bad; do
            for mp in $py_pkgs; do
                [ "${mp%%=*}" = "$m" ] && add_missing "${mp#*=}"
            done
        done
    fi
fi

[ -z "$missing" ] && exit 0

# Multiarch packages (pkg@arch): apt spells them pkg:arch, and dpkg must
# know the architecture first.
foreign=""
for p in $missing; do
    case "$p" in *@*)
        a=${p#*@}
        dpkg --print-foreign-architectures 2>/dev/null | grep -qx "$a" ||
            case " $foreign " in *" $a "*) ;; *) foreign="${foreign:+$foreign }$a" ;; esac
    esac
done
missing=$(echo "$missing" | tr '@' ':')

if [ "${DEPS_DRY_RUN:-0}" != 0 ]; then
    echo "deps: missing: $missing"
    for a in $foreign; do echo "deps: would run: dpkg --add-architecture $a"; done
    echo "deps: would run: apt-get install -y --no-install-recommends $missing"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: $missing" >&2
    echo "deps: run this, then try again:" >&2
    for a in $foreign; do echo "sudo dpkg --add-architecture $a && sudo apt-get update"; done
    echo "sudo apt-get install -y --no-install-recommends $missing"
    exit 1
fi

echo "deps: installing $missing with apt-get"
export DEBIAN_FRONTEND=noninteractive

apt_install() {
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
}
lists_empty() {
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

for a in $foreign; do
    echo "deps: adding the $a architecture to dpkg (multiarch)"
    dpkg --add-architecture "$a" || { echo "deps: dpkg --add-architecture $a failed" >&2; exit 1; }
done
if [ -n "$foreign" ]; then
    apt-get update || { echo "deps: apt-get update failed" >&2; exit 1; }
fi

if lists_empty; then
    apt-get update || { echo "deps: apt-get update failed" >&2; exit 1; }
    apt_install || { echo "deps: FAILED to install: $missing" >&2; exit 1; }
elif ! apt_install; then
    echo "deps: install failed; running apt-get update and trying again" >&2
    apt-get update || { echo "deps: apt-get update failed" >&2; exit 1; }
    apt_install || { echo "deps: FAILED to install: $missing" >&2; exit 1; }
fi

# Check again: a package that installed but did not provide what we look for
# is as much a failure as one that did not install.
if DEPS_DRY_RUN=1 bash "$0" "$@" | grep -q .; then
    echo "deps: still missing after install:" >&2
    DEPS_DRY_RUN=1 bash "$0" "$@" >&2
    exit 1
fi
exit 0
