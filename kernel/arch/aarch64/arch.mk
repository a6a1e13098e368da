# aarch64 on QEMU's virt machine: what kernel/kernel.mk, the scripts and the
# QEMU tests need to know of this architecture. Nothing outside
# kernel/arch/aarch64/ names it.

# Compiler target and flags: no FP/SIMD registers (no state to save in an
# interrupt), no unaligned accesses (Device memory faults on them).
ARCH_TARGET := --target=aarch64-none-elf
ARCH_CFLAGS := -mgeneral-regs-only -mstrict-align -mcmodel=small
# What -kernel boots: the raw image (the arm64 Image header is in boot.S).
ARCH_IMAGE := levitate.img
ARCH_IMAGE_FROM_ELF := binary

# The one QEMU command line: scripts/run.sh, scripts/bench.sh and
# tests/qemu/qemu.py read these three lines (ARCH_QEMU_* := value).
ARCH_QEMU := qemu-system-aarch64
ARCH_QEMU_MACHINE := virt
ARCH_QEMU_ARGS := -cpu cortex-a72 -m 256M
# The Debian package that has $(ARCH_QEMU).
ARCH_QEMU_PACKAGE := qemu-system-arm
