# SPDX-License-Identifier: GPL-2.0
#
# Two roles: inside kbuild (KERNELRELEASE set) this is the graft's
# kbuild file; from a shell it holds the project's commands.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

KDIR ?= /lib/modules/$(shell uname -r)/build
LLVM ?= 1

# Build the module against your own (patched) 7.3 tree.
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) clean

# The README's two commands.
check:
	@bash selftests/run-all.sh

run:
	@bash selftests/demo.sh

# The Rust core against the C core on the non-debug kernels (not part of
# check; see Documentation/benchmarks.rst).
bench:
	@bash selftests/bench/run-bench.sh

# The seeded fuzzer for as long as asked (not part of check; a short run
# is): make fuzz DURATION=3600 [SEED=1] [KERNEL=test].
fuzz:
	@bash selftests/fuzz.sh

# The long race and unload tests (not part of check; short runs are):
# make stress [DURATION=600] [CYCLES=1000].
stress:
	@bash selftests/stress.sh

# The KUnit suite through the kernel's runner (tools/testing/kunit/kunit.py
# with .kunitconfig), on its own x86_64 QEMU kernel; not part of check.
kunit:
	@bash scripts/kunit.sh

# The Rust core built into a distribution-style kernel (x86_64_defconfig
# with networking, BPF and io_uring) against the same kernel with the C
# core; not part of check (see selftests/distro.sh).
distro:
	@bash selftests/distro.sh

# Upstream's iommufd selftest (its dma-buf import, revocation included)
# on the Rust core and the C core; not part of check yet (see
# selftests/iommufd.sh).
iommufd:
	@bash selftests/iommufd.sh

# The configurations Kconfig offers around the core, each linked, and a
# kCFI kernel booted with the suites; not part of check (see
# scripts/configs.sh).
configs:
	@bash scripts/configs.sh

# Mutation testing: each patch of selftests/mutants/ breaks one rule of
# the core; the suites must notice (see scripts/mutants.sh). Not part of
# check. MUTANTS="NAME ..." runs only those.
mutants:
	@bash scripts/mutants.sh

.PHONY: modules clean check run bench fuzz stress kunit distro configs mutants iommufd
endif
