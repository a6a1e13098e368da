# x86_64 on QEMU's q35 (SeaBIOS) and microvm (qboot), booted by PVH: what
# kernel/kernel.mk, the scripts and the QEMU tests need to know of this
# architecture. Nothing outside kernel/arch/x86_64/ names it.

# Compiler target and flags: no SSE/x87 registers (no state to save in an
# interrupt), no red zone (interrupts arrive on the kernel's own stack),
# the kernel code model (linked in the top 2 GiB at 0xffffffff80000000).
ARCH_TARGET := --target=x86_64-unknown-elf
ARCH_CFLAGS := -mgeneral-regs-only -mno-red-zone -mcmodel=kernel
# What -kernel boots: the ELF itself (PVH: its Xen note names the entry).
ARCH_IMAGE := levitate.elf
ARCH_IMAGE_FROM_ELF :=

# The one QEMU command line: scripts/run.sh, scripts/bench.sh and
# tests/qemu/qemu.py read these three lines (ARCH_QEMU_* := value).
# isa-debug-exit ends QEMU at power-off (status 1 after the verdict, 3
# after a panic: arch/x86_64/power.c); -vga none leaves the first display
# (QMP's screendump) and slot 00:01.0 to the first virtio device, as on virt.
ARCH_QEMU := qemu-system-x86_64
ARCH_QEMU_MACHINE := q35
ARCH_QEMU_ARGS := -m 256M -vga none -device isa-debug-exit,iobase=0xf4,iosize=0x04
# QEMU's exit status after a clean power-off (isa-debug-exit's for 0).
ARCH_QEMU_EXIT_OK := 1
# The default machine's virtio transport, as QEMU spells its devices
# (virtio-rng-<this>): q35 has no virtio-mmio (-M microvm has).
ARCH_QEMU_VIRTIO := pci
# The Debian package that has $(ARCH_QEMU).
ARCH_QEMU_PACKAGE := qemu-system-x86
