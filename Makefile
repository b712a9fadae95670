# Vireo build. ./configure writes config.mak; `make` builds build/qemu-system-x86_64.
# `make check` runs every test, `make check-asan` the sanitizer build's tests, `make bench` the
# benchmarks (never part of the tests).
-include config.mak
BUILD ?= build
CC ?= cc
Q := $(if $(V),,@)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow=local -Wstrict-prototypes
SAN_FLAGS ?=
# (before CFLAGS_ALL: := expands SAN_FLAGS right here)
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -I$(BUILD)/generated \
    $(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -MMD -MP
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)
LIBS_ALL := $(PKG_LIBS)

# Everything but main() goes into one static library shared by the binaries and unit tests.
LIB_DIRS := util system accel accel/kvm accel/tcg target/x86 hw/core hw/x86 hw/char hw/input hw/timer hw/pci hw/isa hw/ide \
    hw/acpi hw/intc hw/misc hw/virtio hw/block hw/scsi hw/usb hw/net hw/display net chardev block nbd monitor ui backends
LIB_SRCS := $(filter-out system/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libvireo.a

UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

SYSEMU := $(BUILD)/qemu-system-x86_64

# qemu-img (qemu-img/qemu-img.c + img-*.c) and qemu-io (qemu-img/qemu-io.c), sharing tools.c.
QEMU_IMG := $(BUILD)/qemu-img
QEMU_IO := $(BUILD)/qemu-io
QEMU_NBD := $(BUILD)/qemu-nbd
# (objects go to $(BUILD)/tools/: $(BUILD)/qemu-img is the binary)
TOOLS_COMMON_OBJS := $(BUILD)/tools/tools.o
QEMU_IMG_OBJS := $(BUILD)/tools/qemu-img.o $(patsubst qemu-img/%.c,$(BUILD)/tools/%.o,$(wildcard qemu-img/img-*.c))

# Static helpers that test guests run (tests/tcg/pci-guest.sh's zeroout and sgio): built here on
# the host, because the nested test guest has no compiler. Without a static libc they are left
# out (the test then builds them itself, or skips the checks that need them).
GUEST_BINS := $(BUILD)/guest/zeroout $(BUILD)/guest/sgio

all: $(SYSEMU) $(QEMU_IMG) $(QEMU_IO) $(QEMU_NBD) $(UNIT_BINS) $(GUEST_BINS)

$(BUILD)/guest/%: tests/tcg/%.c
	@mkdir -p $(dir $@)
	$(Q)if $(CC) -static -O2 -Wall -Wextra -Werror -o $@ $< 2>/dev/null; then \
		echo "  CC   $@"; else echo "  (no static libc: $@ not built)"; fi

config.mak:
	@echo "config.mak missing: run ./configure first" >&2; exit 1

$(SYSEMU): $(BUILD)/system/main.o $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
	@echo "  LINK $@"

$(QEMU_IMG): $(QEMU_IMG_OBJS) $(TOOLS_COMMON_OBJS) $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
	@echo "  LINK $@"

$(QEMU_IO): $(BUILD)/tools/qemu-io.o $(TOOLS_COMMON_OBJS) $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
	@echo "  LINK $@"

$(QEMU_NBD): $(BUILD)/tools/qemu-nbd.o $(TOOLS_COMMON_OBJS) $(LIB)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
	@echo "  LINK $@"

$(BUILD)/tools/%.o: qemu-img/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<
	@echo "  CC   $@"

$(LIB): $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB) $(LIBS_ALL)
	@echo "  CC   $@"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<
	@echo "  CC   $@"

# ACPI DSDT: compiled from ASL with iasl into a C array.
$(BUILD)/generated/dsdt.hex: hw/x86/dsdt.dsl
	@mkdir -p $(dir $@)
	$(Q)iasl -p $(BUILD)/generated/dsdt -tc $< >$(BUILD)/generated/iasl.log 2>&1 || \
	    (cat $(BUILD)/generated/iasl.log; exit 1)
	@echo "  IASL $@"
$(BUILD)/hw/x86/acpi-build.o: $(BUILD)/generated/dsdt.hex

check: all
	tests/run.sh

# The sanitizer build lives in its own directory.
check-asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 all
	VIREO_BUILD=build-asan tests/run.sh --asan

bench: all
	bench/run.sh

# The x87 instructions of x87.S on random operands beside QEMU 7.2 (not part of the tests).
x87-random: all
	tests/tcg/x87-random.py $(or $(SEED),1) $(or $(ROUNDS),4)

# libFuzzer over the VNC client-message parser (not part of the tests).
fuzz-vnc:
	tests/fuzz/fuzz-vnc.sh

fuzz-virtqueue:
	tests/fuzz/fuzz-virtqueue.sh

# libFuzzer over the NBD server's option and request parsing (not part of the tests).
fuzz-nbd:
	tests/fuzz/fuzz-nbd.sh

# The differential randomized tester of the block layer against QEMU 7.2, for DURATION seconds
# (SEED= to repeat a run); failures are minimised into $(BUILD)/blockdiff/. Never part of check.
DURATION ?= 3600
blockdiff-long fuzz-block-diff: $(QEMU_IMG) $(QEMU_IO)
	nice -n 19 python3 tests/lib/blockdiff.py --vireo $(BUILD) --duration $(DURATION) \
	    --out $(BUILD)/blockdiff $(if $(SEED),--seed-base $(SEED))

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan

.PHONY: all check check-asan bench x87-random fuzz-vnc fuzz-virtqueue fuzz-nbd fuzz-block-diff blockdiff-long format clean
-include $(LIB_OBJS:.o=.d) $(BUILD)/system/main.d
-include $(TOOLS_COMMON_OBJS:.o=.d) $(QEMU_IMG_OBJS:.o=.d) $(BUILD)/tools/qemu-io.d $(BUILD)/tools/qemu-nbd.d
