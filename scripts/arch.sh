# scripts/arch.sh — sourced by run.sh and bench.sh: the architecture
# ($ARCH, aarch64 when unset or "host") and its one QEMU command line, read
# from kernel/arch/$ARCH/arch.mk:
#   LVIO_IMG    build/<arch>/<image>
#   QEMU_CMD    array: the QEMU binary ($LVIO_QEMU overrides it), -M <machine>
#               and the architecture's arguments
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
