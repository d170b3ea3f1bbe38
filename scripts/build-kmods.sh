#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-kmods.sh KERNEL: builds the in-kernel test modules (selftests/kmod)
# against one of the project's kernels into $CACHE/kmod-KERNEL/.
set -euo pipefail
. "$(dirname "$0")/common.sh"
kernel=${1:?usage: build-kmods.sh KERNEL}
O=$CACHE/build-$kernel
src=$CACHE/kmod-src-$kernel
mkdir -p "$src" "$CACHE/kmod-$kernel"
rsync -r --checksum --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' --exclude='*.mod*' \
	--exclude='modules.order' --exclude='Module.symvers' "$REPO/selftests/kmod/" "$src/"
make -s -C "$O" LLVM=$LLVM_SUFFIX $(rust_make_args "$kernel") M="$src" modules >"$src/build.log" 2>&1 || {
	cat "$src/build.log" >&2
	die "building the test modules for $kernel failed"
}
for ko in "$src"/*.ko; do
	cmp -s "$ko" "$CACHE/kmod-$kernel/$(basename "$ko")" || cp "$ko" "$CACHE/kmod-$kernel/"
done
