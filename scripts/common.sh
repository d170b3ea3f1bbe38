# SPDX-License-Identifier: GPL-2.0
# Shared settings of the build scripts (sourced).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KVER_MAJOR=7.3
BINDGEN_VERSION=0.73.2
CACHE=${DMABUF_RS_CACHE:-$HOME/.cache/dmabuf-rs}
SRC=$CACHE/linux-source-$KVER_MAJOR
SRC_TARBALL_STAMP=source.stamp
LLVM_SUFFIX=-19
# The rustc whose LLVM is clang-19's (19.1.7), for the *-matched kernels
# (CONFIG_RUST_INLINE_HELPERS needs RUSTC_CLANG_LLVM_COMPATIBLE; issue 23).
MATCHED_RUST=1.86.0
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

# The make arguments that pick kernel KERNEL's Rust toolchain: nothing for
# the default toolchain, RUSTC= the matched one for the *-matched kernels
# (installed here on first use, with its rust-src).
rust_make_args() {
	case $1 in
	*-matched)
		if ! rustup which --toolchain "$MATCHED_RUST" rustc >/dev/null 2>&1 ||
			[ ! -d "$(rustc +"$MATCHED_RUST" --print sysroot)/lib/rustlib/src/rust/library" ]; then
			log "installing Rust $MATCHED_RUST with rust-src (LLVM 19, for the $1 kernel)" >&2
			rustup toolchain install "$MATCHED_RUST" --profile minimal --component rust-src >&2 ||
				die "rustup could not install Rust $MATCHED_RUST"
		fi
		echo "RUSTC=$(rustup which --toolchain "$MATCHED_RUST" rustc)"
		;;
	esac
}
