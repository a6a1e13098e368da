# ---- fuzzing: tests/fuzz/ ------------------------------------------------------
# libFuzzer targets where the device is the fuzzer (tests/fuzz/fuzz_dev.h):
#   make fuzz          build, then run each target FUZZ_SECONDS on its corpus
#                      (tests/fuzz/corpus/<t>; new inputs go to
#                      build/fuzz/corpus/<t>); prints executions, exec/s and
#                      coverage per target; fails if any target crashed.
#                      FUZZ_RUNS=N runs N executions per target instead (a
#                      campaign: make fuzz FUZZ_RUNS=10000000), FUZZ_TARGETS
#                      picks targets (make fuzz FUZZ_TARGETS="rng gpu")
#   make fuzz-merge    add to the checked-in corpora the inputs a run found
#                      that reach new coverage
#   make check-fuzz    build, then replay the checked-in corpora (seconds);
#                      one summary line in build/summary-fuzz.txt
# Options (for make fuzz, fuzz-merge, check-fuzz):
#   FUZZ_CMP=1         build the harness with comparison tracing too (by
#                      default only the library has it), into build/fuzz-cmp/
#                      (binaries, logs, corpus and artifacts of such runs),
#                      so libFuzzer also learns the device model's and the
#                      targets' comparisons (slower per execution)
#   FUZZ_VALUE_PROFILE=1  run libFuzzer with -use_value_profile=1: inputs
#                      that bring a comparison's operands closer count as
#                      new coverage (best with FUZZ_CMP=1)
#   e.g. make fuzz FUZZ_CMP=1 FUZZ_VALUE_PROFILE=1 FUZZ_TARGETS=gpu
# The library and harness are built with LVIO_CLOCK_STALL_POLLS 64 (a wait
# on a clock that stands still ends after 64 polls, not a million) and
# LVIO_RESET_TIMEOUT_NS 32 ms (32 polls of the harness's clock, not 1000),
# so waits the fuzzer makes endless or stopped stay cheap.
# Every tests/fuzz/fuzz_<target>.c but the shared harness (fuzz_dev.c):
# a new target needs no line here.
FUZZ_TARGETS ?= $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_dev.c,\
	$(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_SECONDS ?= 60
FUZZ_CMP ?=
FUZZ_VALUE_PROFILE ?=
FUZZB := $(BUILD)/fuzz$(if $(filter 1,$(FUZZ_CMP)),-cmp)
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude -Isrc \
	-DLVIO_CLOCK_STALL_POLLS=64 -DLVIO_RESET_TIMEOUT_NS=32000000ull
# By default the harness (device model, HAL) keeps edge coverage but not
# comparison tracing: its loops over buffers and tables would cost half the
# time, and the comparisons that matter most are the library's.
FUZZ_HARNESS_CFLAGS := $(FUZZ_CFLAGS) \
	$(if $(filter 1,$(FUZZ_CMP)),,-fno-sanitize-coverage=trace-cmp)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZB)/fuzz_%)
FUZZ_ENV = FUZZB=$(FUZZB) FUZZ_VALUE_PROFILE=$(FUZZ_VALUE_PROFILE)

# The library and the shared harness are compiled once, for every target.
FUZZ_LIB_OBJS := $(patsubst src/%.c,$(FUZZB)/obj/%.o,$(LIB_SRCS)) $(FUZZB)/obj/fuzz_dev.o
.SECONDARY: $(FUZZ_LIB_OBJS)

$(FUZZB)/obj/%.o: src/%.c $(LIB_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZB)/obj/fuzz_dev.o: tests/fuzz/fuzz_dev.c tests/fuzz/fuzz_dev.h $(LIB_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_HARNESS_CFLAGS) -c -o $@ $<

$(FUZZB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_dev.h $(FUZZ_LIB_OBJS) $(LIB_HDRS) tests/fuzz/fuzz.mk
	$(FUZZ_CC) $(FUZZ_HARNESS_CFLAGS) -o $@ $< $(FUZZ_LIB_OBJS)

.PHONY: fuzz fuzz-build fuzz-merge check-fuzz deps-fuzz
# Missing packages are installed before anything is compiled.
$(FUZZ_LIB_OBJS) $(FUZZ_BINS): | deps-fuzz
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@$(FUZZ_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) \
		scripts/fuzz.sh run $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	@$(FUZZ_ENV) scripts/fuzz.sh merge $(FUZZ_TARGETS)

check-fuzz: fuzz-build
	@$(FUZZ_ENV) scripts/fuzz.sh check $(FUZZ_TARGETS)

deps-fuzz:
	@scripts/deps.sh build fuzz
