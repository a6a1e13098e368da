# levitate-virtio
#   make                 library + host tests (for this machine)
#   make ARCH=aarch64    the test kernel: build/aarch64/levitate.img
#   make ARCH=riscv64    the same for riscv64: build/riscv64/levitate.img
#   make ARCH=x86_64     the same for x86_64 (PVH ELF): build/x86_64/levitate.elf
#   make run             boot the kernel in QEMU with the default devices
#                        (ARCH=riscv64 / x86_64 for theirs; aarch64 by default;
#                        GPU=gl: a virtio-gpu-gl, 3D, on a GL display)
#   make test            everything: library builds, static analysis, host tests
#                        (also big-endian), fuzz corpus replay, QEMU tests
#   make lib ARCH=<arch> the library alone, with the architecture's flags: build/<arch>/liblvio.a
#                        (through lvio.mk, the fragment a kernel's own build includes)
#   make size            the library's footprint per component and architecture (build/size.txt)
#   make bench           in-guest benchmarks, printed as a table (build/bench.txt;
#                        ARCH=riscv64 / x86_64 for theirs)
# Missing Debian packages are installed by scripts/deps.sh (as root) or named.

ARCH ?= host
GPU ?= 2d
BUILD := build
HOSTB := $(BUILD)/host

LIB_SRCS := $(shell find src -name '*.c' | sort)
LIB_HDRS := $(shell find include src -name '*.h')

HOST_CC ?= gcc
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_CFLAGS := $(WARN) -g -O1 $(SAN) -Iinclude -Isrc
TEST_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 $(SAN) -Iinclude -Isrc -Ikernel

HOST_TESTS := $(patsubst tests/host/%.c,$(HOSTB)/%,$(wildcard tests/host/test_*.c))

.PHONY: all host run test bench lib size check-package check-host check-lib check-static check-be check-qemu deps-build deps-cross deps-host deps-font deps-qemu deps-gl deps-static deps-be clean
.DEFAULT_GOAL := all

ifeq ($(ARCH),host)
all: deps-host deps-font $(HOST_TESTS)
else
all: deps-build kernel-$(ARCH)
endif

# The kernel's own rules (kernel image for ARCH=aarch64).
-include kernel/kernel.mk
-include tests/host/dtb/dtb.mk

# ---- host tests -----------------------------------------------------------
# Each tests/host/test_X.c links with the library and the simulated device;
# test_fdt tests the kernel's device-tree reader instead.
SIM_SRCS = $(sort $(wildcard tests/host/sim*.c))
SIM_HDRS = $(wildcard tests/host/sim*.h)
$(HOSTB)/test_%: tests/host/test_%.c $(SIM_SRCS) $(SIM_HDRS) $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(SIM_SRCS) $(LIB_SRCS) -lcmocka

$(HOSTB)/test_fdt: tests/host/test_fdt.c kernel/fdt.c kernel/fdt.h $(FDT_TEST_DTBS)
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -o $@ tests/host/test_fdt.c kernel/fdt.c -lcmocka

# The kernel's drawing code (font reader, console, test card, cursor),
# tested against the real console font.
GFX_SRCS := kernel/gfx.c kernel/fbcon.c kernel/psf.c
$(HOSTB)/font.psf: $(KERNEL_FONT)
	@mkdir -p $(@D)
	gzip -dc $< > $@.tmp && mv $@.tmp $@

$(HOSTB)/test_gfx: tests/host/test_gfx.c $(GFX_SRCS) kernel/gfx.h kernel/psf.h $(HOSTB)/font.psf
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -DFONT_PATH='"$(HOSTB)/font.psf"' -o $@ tests/host/test_gfx.c $(GFX_SRCS) -lcmocka

# The kernel's keyboard layout and IPv4 responder.
$(HOSTB)/test_keymap: tests/host/test_keymap.c kernel/keymap.c kernel/keymap.h
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -o $@ tests/host/test_keymap.c kernel/keymap.c -lcmocka
$(HOSTB)/test_netstack: tests/host/test_netstack.c kernel/netstack.c kernel/netstack.h
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -o $@ tests/host/test_netstack.c kernel/netstack.c -lcmocka
# The kernel's virgl command encoder (GPU 3D), dword by dword.
$(HOSTB)/test_virgl: tests/host/test_virgl.c kernel/virgl.c kernel/virgl.h
	@mkdir -p $(@D)
	$(HOST_CC) $(TEST_CFLAGS) -o $@ tests/host/test_virgl.c kernel/virgl.c -lcmocka

check-host: deps-host deps-font $(HOST_TESTS)
	@scripts/host-tests.sh $(HOST_TESTS)

# ---- the library must build warning-free everywhere -----------------------
# scripts/lib-check.sh: gcc and clang for the host; clang and Debian's cross
# gcc, freestanding with each architecture's arch.mk flags, for aarch64,
# riscv64 and x86_64; clang for riscv32, whose objects may need no symbol but
# memcpy, memset and memcmp (no compiler helpers such as __udivdi3).
check-lib: deps-build deps-cross
	@scripts/lib-check.sh "$(WARN)" $(LIB_SRCS)

# ---- the library as a package ------------------------------------------------
# make lib ARCH=<arch>: build/<arch>/liblvio.a through lvio.mk (objects in
# build/<arch>/lvio/), with the architecture's compiler flags (arch.mk) and
# none of the kernel's. make size: scripts/size.sh. check-package: a
# read-only copy of the library builds with lvio.mk (each architecture, a
# driver left out) and lvio.cmake, and nothing is written into it.
LVIO_OUT := $(BUILD)/$(KERNEL_ARCH)/lvio
LVIO_LIB := $(BUILD)/$(KERNEL_ARCH)/liblvio.a
LVIO_CC := $(KERNEL_CC)
LVIO_AR := llvm-ar
LVIO_CFLAGS := $(KERNEL_TARGET) $(ARCH_CFLAGS) -std=c11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -fno-builtin -fno-pic -fno-stack-protector -fno-common
include lvio.mk

lib: deps-build $(LVIO_LIB)
	@echo "lib: $(LVIO_LIB), $(words $(LVIO_OBJS)) objects"

size: deps-build
	@scripts/size.sh

check-package: deps-build
	@scripts/package-check.sh

# ---- static analysis of the library ------------------------------------------
# clang-tidy (.clang-tidy: the checks and why some are off), cppcheck
# (warning, style, performance, portability) and gcc -fanalyzer, each with
# findings as errors. Suppressions live in the code, next to their reason.
CPPCHECK_FLAGS := --enable=warning,style,performance,portability --std=c11 --inline-suppr \
	--error-exitcode=1 -q -Iinclude -Isrc
check-static: deps-static
	@mkdir -p $(BUILD)
	@# One file per run: with several files in one run, clang-tidy 14's
	@# analyzer reported a va_list false positive in fmt.c that no run of
	@# fmt.c alone shows (the result depended on the files before it).
	@for f in $(LIB_SRCS); do \
	  clang-tidy --quiet $$f -- -std=c11 -Iinclude -Isrc > $(BUILD)/clang-tidy.log 2>&1 || \
	  { grep -v "warnings generated" $(BUILD)/clang-tidy.log; exit 1; }; done
	@cppcheck $(CPPCHECK_FLAGS) $(LIB_SRCS)
	@for f in $(LIB_SRCS); do \
	  gcc -std=c11 -fanalyzer -Werror -Wall -Wextra -O1 -Iinclude -Isrc -c $$f -o /dev/null || exit 1; done
	@mkdir -p $(BUILD)
	@echo "static: clang-tidy, cppcheck and gcc -fanalyzer clean on $(words $(LIB_SRCS)) library files" \
	  | tee $(BUILD)/summary-static.txt

# ---- the host tests on a big-endian CPU ----------------------------------------
check-be: deps-be deps-font $(HOSTB)/font.psf
	@scripts/be-tests.sh

# ---- fuzzing: make fuzz, make check-fuzz (rules in tests/fuzz/fuzz.mk) --------
-include tests/fuzz/fuzz.mk

# ---- QEMU --------------------------------------------------------------------
# run and bench boot ARCH's kernel (aarch64 when ARCH is host or unset);
# check-qemu builds every kernel and runs each architecture's QEMU tests.
KERNEL_RUN_ARCH := $(if $(filter-out host,$(ARCH)),$(ARCH),aarch64)
QEMU_ARCHES := aarch64 riscv64 x86_64

check-qemu: deps-qemu deps-gl
	@for a in $(QEMU_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a || exit 1; done
	QEMU_ARCHES="$(QEMU_ARCHES)" scripts/qemu-tests.sh

run: deps-qemu deps-gl
	$(MAKE) ARCH=$(KERNEL_RUN_ARCH)
	ARCH=$(KERNEL_RUN_ARCH) GPU=$(GPU) scripts/run.sh

test: deps-host deps-qemu deps-gl
	$(MAKE) check-lib
	$(MAKE) check-package
	$(MAKE) check-static
	$(MAKE) check-host
	$(MAKE) check-be
	$(MAKE) check-fuzz
	$(MAKE) check-qemu
	@scripts/summary.sh

bench: deps-qemu deps-gl
	$(MAKE) ARCH=$(KERNEL_RUN_ARCH)
	ARCH=$(KERNEL_RUN_ARCH) scripts/bench.sh

deps-build:
	@scripts/deps.sh build font
deps-cross:
	@scripts/deps.sh cross
deps-host:
	@scripts/deps.sh build host
deps-font:
	@scripts/deps.sh font
deps-static:
	@scripts/deps.sh static
deps-be:
	@scripts/deps.sh be
deps-qemu:
	@scripts/deps.sh build qemu
# Headless GL for virtio-gpu-gl (3D): Xvfb and QEMU's GTK display.
deps-gl:
	@scripts/deps.sh gl

clean:
	rm -rf $(BUILD)
