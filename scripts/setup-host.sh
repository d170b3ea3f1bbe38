#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs what the build needs on a Debian 12 host, idempotently:
# host packages, rust-src, a pinned bindgen-cli, and Debian's
# linux-source-7.3 (downloaded from trixie-backports, never installed).
set -euo pipefail

. "$(dirname "$0")/common.sh"

PKGS="clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev
cpio qemu-system-x86 busybox-static kmod rsync python3 xz-utils zstd gcc make libc6-dev
dwarves libbpf-dev zlib1g-dev libzstd-dev libcap-dev"

need_pkgs=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		need_pkgs="$need_pkgs $p"
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bpo_list=/etc/apt/sources.list.d/dmabuf-rs-trixie-backports.sources
apt_updated=0
if [ -n "$need_pkgs" ]; then
	log "installing host packages:$need_pkgs"
	as_root apt-get update -q || die "apt-get update failed: check the network to the Debian mirror"
	apt_updated=1
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need_pkgs ||
		die "apt-get install failed for:$need_pkgs"
fi

# rust-src: the kernel builds `core` from it.
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "adding rustup component rust-src"
	rustup component add rust-src || die "rustup component add rust-src failed"
fi

# bindgen, pinned.
if ! command -v bindgen >/dev/null || ! bindgen --version | grep -q " $BINDGEN_VERSION\$"; then
	log "installing bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --locked --version "$BINDGEN_VERSION" bindgen-cli ||
		die "cargo install bindgen-cli failed"
fi

# Kernel source: only the .deb is downloaded from trixie-backports.
mkdir -p "$CACHE"
if [ ! -f "$CACHE/$SRC_TARBALL_STAMP" ]; then
	if ! ls "$CACHE"/linux-source-${KVER_MAJOR}_*.deb >/dev/null 2>&1; then
		if [ ! -f "$bpo_list" ]; then
			uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
			[ -n "$uri" ] || uri=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
			[ -n "$uri" ] || die "cannot find the Debian mirror in the apt sources"
			log "adding trixie-backports (download only, NotAutomatic) from $uri"
			printf 'Types: deb\nURIs: %s\nSuites: trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				"$uri" | as_root tee "$bpo_list" >/dev/null
			apt_updated=0
		fi
		[ $apt_updated = 1 ] || as_root apt-get update -q || die "apt-get update failed"
		(cd "$CACHE" && apt-get download "linux-source-$KVER_MAJOR") ||
			die "apt-get download linux-source-$KVER_MAJOR failed: is trixie-backports reachable?"
	fi
	deb=$(ls "$CACHE"/linux-source-${KVER_MAJOR}_*.deb | sort -V | tail -n1)
	log "unpacking $(basename "$deb")"
	rm -rf "$CACHE/deb" "$CACHE/src.tmp"
	dpkg-deb -x "$deb" "$CACHE/deb" || die "dpkg-deb -x $deb failed"
	mkdir -p "$CACHE/src.tmp"
	tar -xJf "$CACHE"/deb/usr/src/linux-source-$KVER_MAJOR.tar.xz -C "$CACHE/src.tmp" ||
		die "unpacking the kernel tarball failed"
	rm -rf "$SRC"
	mv "$CACHE/src.tmp/linux-source-$KVER_MAJOR" "$SRC"
	rm -rf "$CACHE/src.tmp" "$CACHE/deb"
	basename "$deb" >"$CACHE/$SRC_TARBALL_STAMP"
fi
log "kernel source: $(cat "$CACHE/$SRC_TARBALL_STAMP") in $SRC"
