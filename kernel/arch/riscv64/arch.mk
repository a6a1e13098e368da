# riscv64 on QEMU's virt machine (OpenSBI in M-mode, this kernel in S-mode):
# what kernel/kernel.mk, the scripts and the QEMU tests need to know of this
# architecture. Nothing outside kernel/arch/riscv64/ names it.

# Compiler target and flags (the assembler gets ARCH_TARGET too): RV64IMAC,
# no FP registers at all (no state to save in a trap); medany, because the
# image is linked at 0xffffffff80000000 and everything is reached PC-relative;
# no linker relaxation (ld.lld 14 cannot relax RISC-V).
ARCH_TARGET := --target=riscv64-unknown-elf -march=rv64imac -mabi=lp64 -mno-relax
ARCH_CFLAGS := -mcmodel=medany
# What -kernel boots: a flat binary, which OpenSBI's loader puts at 0x80200000
# and enters at offset 0 (boot.S starts there).
ARCH_IMAGE := levitate.img
ARCH_IMAGE_FROM_ELF := binary

# The one QEMU command line: scripts/run.sh, scripts/bench.sh and
# tests/qemu/qemu.py read these three lines (ARCH_QEMU_* := value).
ARCH_QEMU := qemu-system-riscv64
ARCH_QEMU_MACHINE := virt
ARCH_QEMU_ARGS := -m 256M
# The Debian package that has $(ARCH_QEMU).
ARCH_QEMU_PACKAGE := qemu-system-misc
