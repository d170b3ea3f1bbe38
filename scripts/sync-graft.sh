#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copies this repo's core sources into the kernel tree's graft directory,
# touching only files whose content changed.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dst=$SRC/drivers/dma-buf/rust
mkdir -p "$dst"
cd "$REPO"
rsync -r --checksum --delete --exclude='*.o' --exclude='*.ko' --exclude='*.cmd' \
	--exclude='*.mod*' --exclude='.*' --exclude='modules.order' --exclude='Module.symvers' \
	Kbuild Makefile Kconfig dma_buf heaps uapi "$dst/" || die "syncing the graft failed"
