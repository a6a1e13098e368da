#!/usr/bin/env bash
# scripts/run.sh [qemu args...] — boot the aarch64 test kernel interactively
# (used by `make run`, which builds it first).
#
#   QEMU_ARGS='-global virtio-mmio.force-legacy=false' scripts/run.sh   # modern MMIO
#   RUN_APPEND=poweroff scripts/run.sh      # kernel command line (-append)
#   LVIO_KERNEL=path/to/levitate.img        # another image
# Extra arguments (and $QEMU_ARGS, split on spaces) go to QEMU after the defaults.
set -eu
cd "$(dirname "$0")/.."

img=${LVIO_KERNEL:-build/aarch64/levitate.img}
if [ ! -f "$img" ]; then
    echo "run: $img not found: run make ARCH=aarch64 first" >&2
    exit 1
fi
qemu=${LVIO_QEMU:-qemu-system-aarch64}
command -v "$qemu" >/dev/null || { echo "run: $qemu not found: run scripts/deps.sh qemu" >&2; exit 1; }

# -nic none: no default network card (virt would add a virtio-net-pci).
cmd=("$qemu" -M virt -cpu cortex-a72 -m 256M -nic none -kernel "$img")
if [ -n "${RUN_APPEND:-}" ]; then
    cmd+=(-append "$RUN_APPEND")
fi

# ---- default devices --------------------------------------------------------
cmd+=(-device virtio-rng-device)
# GPU: add the virtio-gpu device here when its driver lands, e.g.
# cmd+=(-device virtio-gpu-device)
# ------------------------------------------------------------------------------

if [ -z "${DISPLAY:-}" ]; then
    cmd+=(-nographic)               # serial (and QEMU's monitor, Ctrl-A C) on this terminal
else
    cmd+=(-serial mon:stdio)        # a window for the display, serial stays here
fi

extra=()
if [ -n "${QEMU_ARGS:-}" ]; then
    read -r -a extra <<<"$QEMU_ARGS"
fi
cmd+=(${extra[@]+"${extra[@]}"} "$@")

printf 'run:'
printf ' %q' "${cmd[@]}"
printf '\n(quit: Ctrl-A X)\n'
exec "${cmd[@]}"
