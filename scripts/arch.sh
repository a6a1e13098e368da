# scripts/arch.sh — sourced by run.sh and bench.sh: the architecture
# ($ARCH, aarch64 when unset or "host") and its one QEMU command line, read
# from kernel/arch/$ARCH/arch.mk:
#   LVIO_IMG    build/<arch>/<image>
#   QEMU_CMD    array: the QEMU binary ($LVIO_QEMU overrides it), -M <machine>
#               and the architecture's arguments
#   QEMU_EXIT_OK  QEMU's exit status after a clean power-off (0; x86_64's
#               isa-debug-exit: 1)
#   VIRTIO      the default machine's virtio device suffix: "device" (virtio-mmio)
#               or "pci" (x86_64's q35): -device virtio-rng-$VIRTIO
arch_var() {
    sed -n "s/^$1 *:= *//p" "kernel/arch/$ARCH/arch.mk"
}
ARCH=${ARCH:-aarch64}
[ "$ARCH" = host ] && ARCH=aarch64
if [ ! -f "kernel/arch/$ARCH/arch.mk" ]; then
    echo "no kernel for ARCH=$ARCH (kernel/arch/$ARCH/arch.mk)" >&2
    exit 1
fi
LVIO_IMG=build/$ARCH/$(arch_var ARCH_IMAGE)
read -r -a QEMU_CMD <<<"${LVIO_QEMU:-$(arch_var ARCH_QEMU)} -M $(arch_var ARCH_QEMU_MACHINE) $(arch_var ARCH_QEMU_ARGS)"
VIRTIO=$(arch_var ARCH_QEMU_VIRTIO)
VIRTIO=${VIRTIO:-device}
QEMU_EXIT_OK=$(arch_var ARCH_QEMU_EXIT_OK)
QEMU_EXIT_OK=${QEMU_EXIT_OK:-0}
