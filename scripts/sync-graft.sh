#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copies this repo's core sources into the kernel tree's graft directory,
# touching only files whose content changed.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dst=$SRC/drivers/dma-buf/rust
mkdir -p "$dst"
cd "$REPO"
rsync -r --checksum --delete --include='.kunitconfig' --exclude='*.o' --exclude='*.ko' --exclude='*.cmd' \
	--exclude='*.mod*' --exclude='.*' --exclude='modules.order' --exclude='Module.symvers' \
	.kunitconfig Kbuild Makefile Kconfig dmabuf_rs_main.rs sys.rs sys dma_buf.rs dma_buf entry.rs entry heaps.rs heaps uapi.rs uapi "$dst/" || die "syncing the graft failed"
