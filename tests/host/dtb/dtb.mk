# Device trees for tests/host/test_fdt.c, compiled at test build time.
# qemu-virt.dtb is checked in as QEMU 7.2 dumped it (its .dts, from
# `dtc -I dtb -O dts`, is only for reading), so it is not rebuilt here:
#   qemu-system-aarch64 -M virt,dumpdtb=tests/host/dtb/qemu-virt.dtb \
#     -cpu cortex-a72 -m 256M -nographic -kernel build/aarch64/levitate.img \
#     -device virtio-rng-device -device virtio-gpu-device \
#     -append "poweroff console=ttyAMA0 lvio.test=rng"
# (-append needs -kernel; the virtio-mmio slots are in the tree whatever
# devices are attached.)

FDT_TEST_DTS := $(filter-out tests/host/dtb/qemu-virt.dts,$(wildcard tests/host/dtb/*.dts))
FDT_TEST_DTBS := $(patsubst tests/host/dtb/%.dts,build/host/dtb/%.dtb,$(FDT_TEST_DTS))

build/host/dtb/%.dtb: tests/host/dtb/%.dts
	@mkdir -p $(@D)
	dtc -I dts -O dtb -o $@ $<
