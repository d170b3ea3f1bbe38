#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh FLAVOR: builds one of the project's kernels into the cache.
#   test        ours (Rust core as a module), debug options on
#   stock-test  upstream's C core and heaps, same debug options
#   bench       ours, no debug options
#   stock-bench upstream's C core, no debug options
#   kcsan       ours, KCSAN and lockdep instead of KASAN (make stress)
# A second run rebuilds only what changed. Prints the build directory.
set -euo pipefail
. "$(dirname "$0")/common.sh"

flavor=${1:?usage: build-kernel.sh test|stock-test|bench|stock-bench|kcsan}
case $flavor in
test) frags="base debug ours" ;;
stock-test) frags="base debug stock" ;;
bench) frags="base ours" ;;
stock-bench) frags="base stock" ;;
kcsan) frags="base kcsan ours" ;;
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

# The project's patch, applied once (and re-applied if it changed).
patch_file=$REPO/scripts/patches/0001-dma-buf-graft-the-Rust-core.patch
applied=$SRC/.dmabuf-rs-applied.patch
if ! cmp -s "$patch_file" "$applied" 2>/dev/null; then
	if [ -f "$applied" ]; then
		log "the kernel patch changed: reverting the old one"
		patch -d "$SRC" -p1 -R -s <"$applied" || die "cannot revert the old patch; delete $SRC and rerun"
		rm -f "$applied"
	fi
	log "applying $(basename "$patch_file")"
	patch -d "$SRC" -p1 -s --no-backup-if-mismatch <"$patch_file" ||
		die "the kernel patch does not apply to $SRC; delete it and rerun"
	cp "$patch_file" "$applied"
fi

# The graft: this repo's kbuild files and sources under drivers/dma-buf/rust.
# Only files whose content changed get a new mtime, so kbuild rebuilds
# only what changed even from a fresh clone.
"$REPO/scripts/sync-graft.sh"

O=$CACHE/build-$flavor
mkdir -p "$O"
mk() { make -C "$SRC" O="$O" LLVM=$LLVM_SUFFIX "$@"; }

cfg_hash=$(cd "$REPO/scripts/config" && cat $(for f in $frags; do echo $f.config; done) | sha256sum | cut -c1-16)
if [ "$(cat "$O/.dmabuf-rs-config" 2>/dev/null)" != "$cfg_hash" ] || [ ! -f "$O/.config" ]; then
	log "configuring $flavor kernel ($frags)"
	mk -s tinyconfig >/dev/null || die "make tinyconfig failed"
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
