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
