#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-rootfs.sh [debian]: builds the Debian guest root filesystem that
# `selftests/vm-run --rootfs debian` boots, and prints the image's path.
#
# mmdebstrap (from bookworm) builds a trixie minbase tarball with the real
# dma-buf clients (v4l-utils, GStreamer, libcamera, IGT); mke2fs -d turns
# it into an ext4 image (no loop mount). Both are cached under the cache
# directory, keyed by the package list and this script, so a second run
# does nothing. The host's apt sources are not touched: the mirror URI is
# read from them and given to mmdebstrap.
#
# The image holds only Debian: the kernel modules, the test modules and the
# guest's init come from vm-run's initramfs, which mounts this image and
# runs the command in it (see selftests/guest-init).
set -euo pipefail
. "$(dirname "$0")/common.sh"

name=${1:-debian}
[ "$name" = debian ] || die "unknown root filesystem '$name' (only: debian)"

SUITE=trixie
PKGS="kmod udev procps v4l-utils gstreamer1.0-tools gstreamer1.0-plugins-base
gstreamer1.0-plugins-good libcamera-tools libcamera-ipa intel-gpu-tools"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The key: the package list, the suite and this script's own text (its
# options shape the result).
key=$({ echo "$SUITE"; echo $PKGS; cat "$0"; } | sha256sum | cut -c1-16)
dir=$CACHE/rootfs-$name-$key
tarball=$dir/rootfs.tar
img=$dir/rootfs.ext4
if [ -f "$img" ] && [ -f "$dir/done" ]; then
	echo "$img"
	exit 0
fi

mkdir -p "$CACHE"
exec 8>"$CACHE/.rootfs.lock"
if ! flock -n 8; then
	log "waiting for another root filesystem build (lock $CACHE/.rootfs.lock)"
	flock 8
	if [ -f "$img" ] && [ -f "$dir/done" ]; then echo "$img"; exit 0; fi
fi

for p in mmdebstrap e2fsprogs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		log "installing $p (bookworm)"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" ||
			{ as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p"; } ||
			die "apt-get install $p failed"
	fi
done

uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || die "cannot find the Debian mirror in the apt sources"

mkdir -p "$dir"
t0=$(date +%s)
if [ ! -f "$tarball" ]; then
	log "building the $SUITE root filesystem with mmdebstrap (about 2 minutes; packages: $(echo $PKGS))"
	# No documentation, manuals or translations: a third of the size.
	as_root mmdebstrap --variant=minbase --include="$(echo $PKGS | tr ' ' ,)" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--customize-hook='echo dmabuf-rs >"$1/etc/hostname"' \
		--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		--format=tar "$SUITE" "$tarball.tmp" "deb $uri $SUITE main" >"$dir/mmdebstrap.log" 2>&1 || {
		tail -n 30 "$dir/mmdebstrap.log" >&2
		die "mmdebstrap failed; full log: $dir/mmdebstrap.log"
	}
	as_root chown "$(id -u):$(id -g)" "$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
	log "tarball: $(du -m "$tarball" | cut -f1 | head -n1) MB in $(($(date +%s) - t0)) s"
fi

# ext4 image from the tarball: unpack (as root, to keep owners and device
# nodes) and let mke2fs copy the tree in (its messages go to stderr: stdout
# is only the image path).
t1=$(date +%s)
tree=$dir/tree
as_root rm -rf "$tree"
mkdir -p "$tree"
as_root tar -xf "$tarball" -C "$tree" --numeric-owner
# The mount points vm-run's init uses.
as_root mkdir -p "$tree/mnt/huge" "$tree/lib/dmabuf-rs" "$tree/sys/kernel/debug"
mb=$(($(du -sm "$tree" | cut -f1) * 5 / 4 + 256))
rm -f "$img.tmp"
as_root mke2fs -q -t ext4 -L dmabuf-rs -E root_owner=0:0 -d "$tree" "$img.tmp" "${mb}M" >&2 ||
	die "mke2fs -d failed"
as_root rm -rf "$tree"
as_root chown "$(id -u):$(id -g)" "$img.tmp"
mv "$img.tmp" "$img"
date -u +%FT%TZ >"$dir/done"
log "image: $img (${mb} MB) in $(($(date +%s) - t1)) s"
echo "$img"
