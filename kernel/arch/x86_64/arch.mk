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
# after a panic: arch/x86_64/power.c).
ARCH_QEMU := qemu-system-x86_64
ARCH_QEMU_MACHINE := q35
ARCH_QEMU_ARGS := -m 256M -device isa-debug-exit,iobase=0xf4,iosize=0x04
# The Debian package that has $(ARCH_QEMU).
ARCH_QEMU_PACKAGE := qemu-system-x86
