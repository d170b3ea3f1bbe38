#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh FLAVOR: builds one of the project's kernels into the cache.
#   test        ours (Rust core as a module), debug options on
#   test-builtin ours built in (CONFIG_DMABUF_RUST_CORE=y), debug options on
#   stock-test  upstream's C core and heaps, same debug options
#   bench       ours, no debug options
#   stock-bench upstream's C core, no debug options
#   kcsan       ours, KCSAN and lockdep instead of KASAN (make stress)
#   kcfi        test-builtin with kCFI (make configs)
#   distro      x86_64_defconfig with networking, BPF (and BTF) and io_uring, the
#               Rust core built in, no debug options (make distro)
#   stock-distro the same with upstream's C core
#   test-iommufd, stock-test-iommufd  test and stock-test with iommufd and
#               its selftest hooks (make iommufd)
#   bench-matched, stock-bench-matched  bench and stock-bench built with
#               the rustc whose LLVM is clang's ($MATCHED_RUST) and
#               CONFIG_RUST_INLINE_HELPERS (make bench BENCH_TOOLCHAIN=matched)
# A second run rebuilds only what changed. Prints the build directory.
set -euo pipefail
. "$(dirname "$0")/common.sh"

flavor=${1:?usage: build-kernel.sh test|test-builtin|stock-test|bench|stock-bench|kcsan|kcfi|distro|stock-distro|bench-matched|stock-bench-matched|test-iommufd|stock-test-iommufd}
# seed: a flavour whose configuration differs only in the dma-buf options;
# a first build starts from a copy of its tree (see below). start: the
# configuration the fragments are merged into.
seed="" start=tinyconfig
case $flavor in
test) frags="base debug ours" ;;
test-builtin) frags="base debug builtin" seed=test ;;
stock-test) frags="base debug stock" seed=test ;;
stock-bench) frags="base stock" seed=bench ;;
bench) frags="base ours" ;;
kcsan) frags="base kcsan ours" ;;
kcfi) frags="base debug builtin kcfi" seed=test-builtin ;;
distro) frags="distro builtin" start=defconfig ;;
stock-distro) frags="distro stock" start=defconfig seed=distro ;;
test-iommufd) frags="base debug ours iommufd" seed=test ;;
stock-test-iommufd) frags="base debug stock iommufd" seed=stock-test ;;
bench-matched) frags="base ours inline" seed=bench ;;
stock-bench-matched) frags="base stock inline" seed=stock-bench ;;
*) die "unknown kernel flavour '$flavor'" ;;
esac

# One kernel build at a time per cache: the builds share the source tree
# (patch, graft) and a 2-core machine gains nothing from two at once.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
	log "waiting for another kernel build to finish (lock $CACHE/.build.lock)"
	flock 9
fi

"$REPO/scripts/setup-host.sh"

# The kernel source with the project's patch and the graft.
"$REPO/scripts/prepare-source.sh"

O=$CACHE/build-$flavor
# A first build of a flavour that differs from its seed only in the
# dma-buf options starts from a copy of the seed's tree: kbuild records
# which objects depend on which options (include/config/), so only those
# (the dma-buf directory, the Rust crates, what links them) are rebuilt,
# minutes instead of a full build.
if [ -n "$seed" ] && [ ! -f "$O/.config" ] && [ -f "$CACHE/build-$seed/vmlinux" ]; then
	log "starting the $flavor tree from a copy of build-$seed (only what the dma-buf options change is rebuilt)"
	rm -rf "$O"
	cp -a "$CACHE/build-$seed" "$O.tmp" || die "copying build-$seed failed"
	rm -rf "$O.tmp/modroot" "$O.tmp/modroot.new" "$O.tmp/usr-headers" "$O.tmp/.dmabuf-rs-config"
	mv "$O.tmp" "$O"
fi
mkdir -p "$O"
rust_args=$(rust_make_args "$flavor")
mk() { make -C "$SRC" O="$O" LLVM=$LLVM_SUFFIX $rust_args "$@"; }

cfg_hash=$(cd "$REPO/scripts/config" && { cat $(for f in $frags; do echo $f.config; done); [ "$start" = tinyconfig ] || echo "$start"; } | sha256sum | cut -c1-16)
if [ "$(cat "$O/.dmabuf-rs-config" 2>/dev/null)" != "$cfg_hash" ] || [ ! -f "$O/.config" ]; then
	log "configuring $flavor kernel ($start + $frags)"
	mk -s "$start" >/dev/null || die "make $start failed"
	(cd "$O" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$O" .config \
		$(for f in $frags; do echo "$REPO/scripts/config/$f.config"; done) >/dev/null) ||
		die "merge_config.sh failed"
	mk -s olddefconfig >/dev/null || die "make olddefconfig failed"
	# What the fragments asked for must be in the final .config.
	missing=""
	for f in $frags; do
		while read -r line; do
			case "$line" in
			CONFIG_*=*) grep -qx "$line" "$O/.config" || missing="$missing $line" ;;
			"# CONFIG_"*" is not set")
				opt=${line#\# }; opt=${opt%% *}
				grep -q "^$opt=" "$O/.config" && missing="$missing !$opt" ;;
			esac
		done <"$REPO/scripts/config/$f.config"
	done
	[ -z "$missing" ] || die "the $flavor .config lacks:$missing (a dependency is off; fix scripts/config/)"
	echo "$cfg_hash" >"$O/.dmabuf-rs-config"
fi

log "building $flavor kernel in $O"
mk -s -j"$(($(nproc) + 1))" bzImage modules >"$O/build.log" 2>&1 || {
	tail -n 40 "$O/build.log" >&2
	die "kernel build ($flavor) failed; full log: $O/build.log"
}
rm -rf "$O/modroot.new"
mk -s INSTALL_MOD_PATH="$O/modroot.new" INSTALL_MOD_STRIP=1 modules_install >>"$O/build.log" 2>&1 ||
	die "modules_install ($flavor) failed; see $O/build.log"
rm -rf "$O/modroot" && mv "$O/modroot.new" "$O/modroot"
if [ ! -d "$O/usr-headers/include" ]; then
	mk -s INSTALL_HDR_PATH="$O/usr-headers" headers_install >>"$O/build.log" 2>&1 ||
		die "headers_install failed; see $O/build.log"
fi
echo "$O"
