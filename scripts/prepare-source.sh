#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# prepare-source.sh: the unpacked kernel source ready to build the Rust
# core: the project's patch applied (re-applied if it changed) and the
# graft synced. Called by build-kernel.sh and kunit.sh under the build
# lock (they share the source tree).
set -euo pipefail
. "$(dirname "$0")/common.sh"

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
