#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: builds what is missing, then boots the test kernel with the
# Rust core loaded and runs the demo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."
log "building the test kernel if needed (the first run takes a while)"
scripts/build-kernel.sh test >/dev/null
scripts/build-kmods.sh test
mkdir -p "$CACHE/bin"
gcc -static -O2 -Wall -I "$CACHE/build-test/usr-headers/include" -o "$CACHE/bin/demo" selftests/demo.c
rustc --edition 2021 -O -C strip=symbols -C target-feature=+crt-static -o "$CACHE/bin/dmabuf-top" tools/dmabuf-top.rs
log "booting the VM (about a minute under TCG)"
exec selftests/vm-run --kernel test --put "$CACHE/bin/demo" --put "$CACHE/bin/dmabuf-top" -- /tmp/demo
