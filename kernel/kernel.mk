# The aarch64 test kernel: build/aarch64/levitate.img.
#
# Included by the top-level Makefile; also usable alone, from the repository
# root:  make -f kernel/kernel.mk build/aarch64/levitate.img
# Defines only KERNEL_* variables and rules for files under build/aarch64/
# (plus the phony target kernel-aarch64). The library (every .c under src/)
# is compiled into the kernel with the same flags: freestanding, no FP/SIMD
# registers (-mgeneral-regs-only), no unaligned accesses (-mstrict-align).
# memcpy/memset/memcmp come from kernel/lib/string.c.

KERNEL_ARCH := aarch64
KERNEL_OUT := build/$(KERNEL_ARCH)
KERNEL_IMG := $(KERNEL_OUT)/levitate.img
KERNEL_ELF := $(KERNEL_OUT)/levitate.elf

KERNEL_CC ?= clang
KERNEL_LD ?= ld.lld
KERNEL_OBJCOPY ?= llvm-objcopy

KERNEL_TARGET := --target=aarch64-none-elf
KERNEL_CFLAGS := $(KERNEL_TARGET) -std=c11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -fno-builtin -nostdlib -fno-pic -mcmodel=small \
	-mgeneral-regs-only -mstrict-align -fno-stack-protector -fno-common \
	-fno-unwind-tables -fno-asynchronous-unwind-tables \
	-Ikernel -Iinclude -Isrc -MMD -MP
KERNEL_ASFLAGS := $(KERNEL_TARGET) -g -Ikernel/arch/$(KERNEL_ARCH) -MMD -MP
KERNEL_LDSCRIPT := kernel/arch/$(KERNEL_ARCH)/linker.ld
KERNEL_LDFLAGS := -nostdlib -static --no-pie -z max-page-size=4096 \
	-T $(KERNEL_LDSCRIPT)

KERNEL_C_SRCS := $(wildcard kernel/*.c kernel/lib/*.c kernel/arch/$(KERNEL_ARCH)/*.c) \
	$(shell find src -name '*.c' 2>/dev/null | sort)
KERNEL_S_SRCS := $(wildcard kernel/*.S kernel/arch/$(KERNEL_ARCH)/*.S)
KERNEL_C_OBJS := $(patsubst %.c,$(KERNEL_OUT)/%.o,$(KERNEL_C_SRCS))
KERNEL_S_OBJS := $(patsubst %.S,$(KERNEL_OUT)/%.o,$(KERNEL_S_SRCS))
KERNEL_OBJS := $(KERNEL_S_OBJS) $(KERNEL_C_OBJS)

.PHONY: kernel-$(KERNEL_ARCH)
kernel-$(KERNEL_ARCH): $(KERNEL_IMG)

$(KERNEL_IMG): $(KERNEL_ELF)
	$(KERNEL_OBJCOPY) -O binary $< $@

$(KERNEL_ELF): $(KERNEL_OBJS) $(KERNEL_LDSCRIPT)
	$(KERNEL_LD) $(KERNEL_LDFLAGS) -Map=$(KERNEL_OUT)/levitate.map -o $@ $(KERNEL_OBJS)

$(KERNEL_C_OBJS): $(KERNEL_OUT)/%.o: %.c
	@mkdir -p $(@D)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

$(KERNEL_S_OBJS): $(KERNEL_OUT)/%.o: %.S
	@mkdir -p $(@D)
	$(KERNEL_CC) $(KERNEL_ASFLAGS) -c $< -o $@

-include $(KERNEL_OBJS:.o=.d)

# The console font: a Debian console font (package console-setup-linux),
# decompressed here and embedded by kernel/font.S.
KERNEL_FONT ?= /usr/share/consolefonts/Uni2-Terminus16.psf.gz

$(KERNEL_OUT)/font.psf: $(KERNEL_FONT)
	@mkdir -p $(@D)
	gzip -dc $< > $@.tmp && mv $@.tmp $@

$(KERNEL_OUT)/kernel/font.o: $(KERNEL_OUT)/font.psf
$(KERNEL_OUT)/kernel/font.o: KERNEL_ASFLAGS += -I$(KERNEL_OUT)
