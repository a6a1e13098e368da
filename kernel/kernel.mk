# The test kernel for one architecture: build/<arch>/ (ARCH=<arch>;
# aarch64 when ARCH is host or unset).
#
# Included by the top-level Makefile; also usable alone, from the repository
# root:  make -f kernel/kernel.mk ARCH=aarch64 build/aarch64/levitate.img
# Defines only KERNEL_* variables and rules for files under build/<arch>/
# (plus the phony target kernel-<arch>). What is particular to an
# architecture comes from kernel/arch/<arch>/arch.mk (ARCH_* variables: the
# compiler target and flags, the image, the QEMU command line) and its
# sources under kernel/arch/<arch>/. The library (every .c under src/) is
# compiled into the kernel with the same flags, freestanding.
# memcpy/memset/memcmp come from kernel/lib/string.c.

KERNEL_ARCH := $(if $(filter-out host,$(ARCH)),$(ARCH),aarch64)
include kernel/arch/$(KERNEL_ARCH)/arch.mk
KERNEL_OUT := build/$(KERNEL_ARCH)
KERNEL_IMG := $(KERNEL_OUT)/$(ARCH_IMAGE)
KERNEL_ELF := $(KERNEL_OUT)/levitate.elf

KERNEL_CC ?= clang
KERNEL_LD ?= ld.lld
KERNEL_OBJCOPY ?= llvm-objcopy

KERNEL_TARGET := $(ARCH_TARGET)
KERNEL_CFLAGS := $(KERNEL_TARGET) -std=c11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -fno-builtin -nostdlib -fno-pic $(ARCH_CFLAGS) \
	-fno-stack-protector -fno-common \
	-fno-unwind-tables -fno-asynchronous-unwind-tables \
	-DKERNEL_ARCH_NAME='"$(KERNEL_ARCH)"' \
	-Ikernel -Ikernel/arch/$(KERNEL_ARCH) -Iinclude -Isrc -MMD -MP
KERNEL_ASFLAGS := $(KERNEL_TARGET) -g -Ikernel -Ikernel/arch/$(KERNEL_ARCH) -MMD -MP
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

# (An architecture whose image is the ELF itself, x86_64's, has no
# ARCH_IMAGE_FROM_ELF.)
ifneq ($(ARCH_IMAGE_FROM_ELF),)
$(KERNEL_IMG): $(KERNEL_ELF)
	$(KERNEL_OBJCOPY) -O $(ARCH_IMAGE_FROM_ELF) $< $@
endif

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
