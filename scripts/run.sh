#!/usr/bin/env bash
# scripts/run.sh [qemu args...] — boot the test kernel interactively
# (used by `make run`, which builds it first; ARCH=<arch>, default aarch64,
# with the QEMU command line of kernel/arch/<arch>/arch.mk).
#
#   QEMU_ARGS='-global virtio-mmio.force-legacy=false' scripts/run.sh   # modern MMIO
#   RUN_APPEND=poweroff scripts/run.sh      # kernel command line (-append)
#   LVIO_KERNEL=path/to/levitate.img        # another image
# Extra arguments (and $QEMU_ARGS, split on spaces) go to QEMU after the defaults.
#
# Without $DISPLAY it runs headless on this terminal (Ctrl-A X quits, Ctrl-A C
# is QEMU's monitor), logs the serial to build/run.log, and once the kernel's
# verdict is there saves the GPU's screen to build/screen.png
# (scripts/screenshot.py over QMP at build/qmp.sock). With $DISPLAY: a window.
#
#   GPU=gl scripts/run.sh        (make run GPU=gl) the GPU is virtio-gpu-gl-<V>:
#                                3D (virgl), the kernel's gpu3d test; QEMU's
#                                display is GTK with OpenGL (-display gtk,gl=on),
#                                in a window with $DISPLAY, else on an Xvfb of
#                                its own (xvfb-run; scripts/deps.sh gl). QEMU
#                                cannot screendump a GL scanout: no screen.png.
set -eu
cd "$(dirname "$0")/.."

source scripts/arch.sh
img=${LVIO_KERNEL:-$LVIO_IMG}
if [ ! -f "$img" ]; then
    echo "run: $img not found: run make ARCH=$ARCH first" >&2
    exit 1
fi
command -v "${QEMU_CMD[0]}" >/dev/null || { echo "run: ${QEMU_CMD[0]} not found: run scripts/deps.sh qemu" >&2; exit 1; }

# -nic none: no default network card (virt would add a virtio-net-pci).
cmd=("${QEMU_CMD[@]}" -nic none -kernel "$img")
if [ -n "${RUN_APPEND:-}" ]; then
    cmd+=(-append "$RUN_APPEND")
fi

# ---- default devices --------------------------------------------------------
cmd+=(-device virtio-rng-$VIRTIO)
gpu=${GPU:-2d}
case "$gpu" in
2d) cmd+=(-device virtio-gpu-$VIRTIO) ;;
gl) cmd+=(-device virtio-gpu-gl-$VIRTIO -display gtk,gl=on) ;;
*) echo "run: GPU=$gpu: say 2d (the default) or gl" >&2; exit 1 ;;
esac
# Type on the screen's shell, point with the tablet (virtio-input: a VIRTIO
# 1.0 device, so its PCI form is modern).
cmd+=(-device virtio-keyboard-$VIRTIO -device virtio-tablet-$VIRTIO)
# ------------------------------------------------------------------------------

shot=
wrap=()
if [ "$gpu" = gl ] && [ -z "${DISPLAY:-}" ]; then
    # Headless GL: the GTK display on an X server in memory, serial and
    # monitor on this terminal as below.
    command -v xvfb-run >/dev/null || { echo "run: xvfb-run not found: run scripts/deps.sh gl" >&2; exit 1; }
    mkdir -p build
    rm -f build/run.log
    wrap=(xvfb-run -a -s "-nolisten tcp -screen 0 1280x1024x24")
    cmd+=(-chardev stdio,id=con0,mux=on,logfile=build/run.log
          -serial chardev:con0 -mon chardev=con0,mode=readline)
    echo "run: GL display on Xvfb; the serial is here and in build/run.log (no screenshot: QEMU cannot screendump a GL scanout)"
elif [ -z "${DISPLAY:-}" ]; then
    # Headless: serial and QEMU's monitor (Ctrl-A C) on this terminal, as
    # -nographic's mon:stdio would be, but spelled out: a -qmp option would
    # otherwise turn the default into a plain stdio serial without Ctrl-A.
    mkdir -p build
    rm -f build/qmp.sock build/screen.png build/run.log
    cmd+=(-nographic
          -chardev stdio,id=con0,mux=on,logfile=build/run.log
          -serial chardev:con0 -mon chardev=con0,mode=readline
          -qmp unix:build/qmp.sock,server=on,wait=off)
    py=$(command -v python3 || true)
    if [ -n "$py" ]; then
        shot=1
    else
        echo "run: python3 not found: no screenshot" >&2
    fi
else
    cmd+=(-serial mon:stdio)        # a window for the display, serial stays here
fi

extra=()
if [ -n "${QEMU_ARGS:-}" ]; then
    read -r -a extra <<<"$QEMU_ARGS"
fi
cmd+=(${extra[@]+"${extra[@]}"} "$@")

printf 'run:'
printf ' %q' ${wrap[@]+"${wrap[@]}"} "${cmd[@]}"
printf '\n(quit: Ctrl-A X)\n'
if [ -z "$shot" ]; then
    exec ${wrap[@]+"${wrap[@]}"} "${cmd[@]}"
fi

# The screenshot helper waits for QMP, then for the verdict in the serial log,
# then saves build/screen.png and says so; it gives up quietly if QEMU quits first.
"$py" scripts/screenshot.py --socket build/qmp.sock --out build/screen.png \
    --log build/run.log --timeout 30 --pid $$ --prefix run </dev/null &
helper=$!
rc=0
"${cmd[@]}" || rc=$?
kill "$helper" 2>/dev/null || true
wait "$helper" 2>/dev/null || true
rm -f build/qmp.sock
exit "$rc"
