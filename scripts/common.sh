# SPDX-License-Identifier: GPL-2.0
# Shared settings of the build scripts (sourced).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KVER_MAJOR=7.3
BINDGEN_VERSION=0.73.2
CACHE=${DMABUF_RS_CACHE:-$HOME/.cache/dmabuf-rs}
SRC=$CACHE/linux-source-$KVER_MAJOR
SRC_TARBALL_STAMP=source.stamp
LLVM_SUFFIX=-19
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[dmabuf-rs] %s\n' "$*" >&2; }
die() { printf '[dmabuf-rs] ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the kernel arguments that put a TCG guest on the host's TSC at
# the host's measured frequency. Without them the guest cannot calibrate
# the TSC and falls back to a jiffies clock that loses ticks while the
# host is busy, so "DURATION seconds of guest time" stretches and
# under-counts real time. Compiles selftests/bench/tsc-khz.c into $1.
host_clock_append() {
	local bin=$1 khz
	gcc -O2 -Wall -Werror -o "$bin/tsc-khz.$$" "$REPO/selftests/bench/tsc-khz.c" ||
		die "compiling selftests/bench/tsc-khz.c failed"
	mv -f "$bin/tsc-khz.$$" "$bin/tsc-khz"
	khz=$("$bin/tsc-khz") || die "cannot measure the host's TSC frequency"
	echo "clocksource=tsc tsc=reliable tsc_early_khz=$khz"
}
