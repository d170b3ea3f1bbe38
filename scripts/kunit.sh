#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make kunit: the core's KUnit suite through the kernel's own runner,
# tools/testing/kunit/kunit.py, with the graft's .kunitconfig, on x86_64
# QEMU: what a kernel developer runs. kunit.py builds its own kernel (the
# KUnit defconfig plus .kunitconfig, the core built in) in
# $CACHE/build-kunit; make check runs the same suite in its VMs instead.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
	log "waiting for a kernel build to finish (lock $CACHE/.build.lock)"
	flock 9
fi
"$REPO/scripts/setup-host.sh"
"$REPO/scripts/prepare-source.sh"
# KVM hangs the guest on the machines this was made on (TOOLCHAIN.md);
# kunit.py cannot be told to skip it, so its QEMU is a wrapper that does.
if [ "${DMABUF_RS_KVM:-0}" != 1 ]; then
	qdir=$CACHE/kunit-qemu
	mkdir -p "$qdir"
	ln -sf "$REPO/scripts/qemu-tcg" "$qdir/qemu-system-x86_64"
	export PATH="$qdir:$PATH"
	log "kunit.py's QEMU runs through scripts/qemu-tcg, which drops its -accel kvm (DMABUF_RS_KVM=1 keeps it)"
fi
log "kunit.py: building the KUnit kernel in $CACHE/build-kunit and running the suite (the first build takes about 10 minutes)"
cd "$SRC"
exec python3 tools/testing/kunit/kunit.py run --kunitconfig=drivers/dma-buf/rust \
	--arch=x86_64 --build_dir="$CACHE/build-kunit" --jobs="$(($(nproc) + 1))" \
	--make_options LLVM=$LLVM_SUFFIX --timeout=900 "$@"
