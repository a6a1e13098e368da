# lvio.mk — levitate-virtio in a kernel's own make build.
#
#     LVIO_DIR := third_party/levitate-virtio     # may be read-only
#     LVIO_OUT := build/lvio                      # objects and liblvio.a go here
#     LVIO_CC := clang
#     LVIO_CFLAGS := $(KERNEL_CFLAGS)             # your kernel's flags: see docs/porting.md
#     include $(LVIO_DIR)/lvio.mk
#     kernel.elf: $(KERNEL_OBJS) $(LVIO_LIB)      # or link $(LVIO_OBJS)
#
# What it gives (it defines only LVIO_* variables and rules for files under
# $(LVIO_OUT)):
#   LVIO_INCLUDES  -I flags for your own sources (include/ only: the library's
#                  private headers are found relative to its sources)
#   LVIO_SRCS      the sources of the core, LVIO_TRANSPORTS and LVIO_DRIVERS
#   LVIO_OBJS      their objects, $(LVIO_OUT)/src/...o, and a rule to build them
#   LVIO_LIB       $(LVIO_OUT)/liblvio.a (unless set), and a rule to archive
#                  LVIO_OBJS into it
# What you may set before including it:
#   LVIO_DIR        where the library is (default: this file's directory)
#   LVIO_OUT        where objects go (default build/lvio); never inside LVIO_DIR,
#                   which is only ever read
#   LVIO_CC, LVIO_AR, LVIO_CFLAGS   compiler, archiver (default cc, ar) and flags
#   LVIO_TRANSPORTS transports to build, of: mmio pci (default both)
#   LVIO_DRIVERS    drivers to build (default: every one in src/drivers: rng gpu ...)
#   LVIO_CONFIG     a configuration header of yours (include/lvio/config.h
#                   says what it may hold); passed as -DLVIO_CONFIG_HEADER
# A driver left out of LVIO_DRIVERS is also switched off for the compiler
# (-DLVIO_WITH_<NAME>=0), as config.h would.

LVIO_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
LVIO_OUT ?= build/lvio
LVIO_CC ?= cc
LVIO_AR ?= ar
LVIO_CFLAGS ?=

lvio_drivers_all := $(sort $(foreach f,$(notdir $(basename $(wildcard $(LVIO_DIR)/src/drivers/*.c))),\
	$(firstword $(subst _, ,$(f)))))
LVIO_TRANSPORTS ?= mmio pci
LVIO_DRIVERS ?= $(lvio_drivers_all)

LVIO_INCLUDES := -I$(LVIO_DIR)/include
LVIO_SRCS := $(sort $(wildcard $(LVIO_DIR)/src/core/*.c)) \
	$(sort $(foreach t,$(LVIO_TRANSPORTS),$(wildcard $(LVIO_DIR)/src/transport/$(t).c \
	                                                 $(LVIO_DIR)/src/transport/$(t)_*.c))) \
	$(sort $(foreach d,$(LVIO_DRIVERS),$(wildcard $(LVIO_DIR)/src/drivers/$(d).c \
	                                              $(LVIO_DIR)/src/drivers/$(d)_*.c)))
LVIO_OBJS := $(patsubst $(LVIO_DIR)/%.c,$(LVIO_OUT)/%.o,$(LVIO_SRCS))
LVIO_LIB ?= $(LVIO_OUT)/liblvio.a

lvio_upper = $(shell echo '$(1)' | tr a-z A-Z)
lvio_defines := $(foreach d,$(filter-out $(LVIO_DRIVERS),$(lvio_drivers_all)),\
	-DLVIO_WITH_$(call lvio_upper,$(d))=0) \
	$(if $(LVIO_CONFIG),-DLVIO_CONFIG_HEADER='"$(LVIO_CONFIG)"')

$(LVIO_OBJS): $(LVIO_OUT)/%.o: $(LVIO_DIR)/%.c
	@mkdir -p $(@D)
	$(LVIO_CC) $(LVIO_CFLAGS) $(lvio_defines) $(LVIO_INCLUDES) -MMD -MP -c $< -o $@

$(LVIO_LIB): $(LVIO_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(LVIO_AR) rcs $@ $(LVIO_OBJS)

-include $(LVIO_OBJS:.o=.d)
