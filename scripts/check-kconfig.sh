#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-kconfig.sh: what Kconfig lets a user choose for the Rust core
# (issue 9), checked by resolving configurations, without building:
# the module form only without built-in users of the dma-buf API, what
# the code needs selected, the CMA heap only with DMA_CMA. Prints TAP
# lines "ok N - ..."; exit status 0 if all hold. Needs the patched,
# grafted source (scripts/build-kernel.sh sets it up).
set -uo pipefail
. "$(dirname "$0")/common.sh"

O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
n=0 bad=0
# resolve FRAGMENT... [-- CONFIG_X=v...]: tinyconfig + the fragments + the
# extra lines, resolved as olddefconfig does.
resolve() {
	local frags=() extra=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do frags+=("$REPO/scripts/config/$1.config"); shift; done
	[ $# -gt 0 ] && shift
	extra=("$@")
	if [ ! -f "$O/tiny.config" ]; then
		make -s -C "$SRC" O="$O" LLVM=$LLVM_SUFFIX tinyconfig >/dev/null 2>&1 || return 1
		cp "$O/.config" "$O/tiny.config"
	fi
	cp "$O/tiny.config" "$O/.config"
	printf '%s\n' "${extra[@]}" >"$O/extra.config"
	(cd "$O" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$O" .config "${frags[@]}" extra.config >/dev/null 2>&1) || return 1
	make -s -C "$SRC" O="$O" LLVM=$LLVM_SUFFIX olddefconfig >/dev/null 2>&1
}
# expect DESCRIPTION LINE...: each LINE ("CONFIG_X=v" or "CONFIG_X=n") holds.
expect() {
	local desc=$1 line got ok=1 why=""
	shift
	for line in "$@"; do
		case $line in
		*=n) got=$(grep -E "^${line%=n}=" "$O/.config") && { ok=0; why="$why $got"; } ;;
		*) grep -qx "$line" "$O/.config" || { ok=0; why="$why want $line, have $(grep -E "^${line%%=*}=" "$O/.config" || echo "${line%%=*} unset")"; } ;;
		esac
	done
	n=$((n + 1))
	if [ $ok = 1 ]; then echo "ok $n - kconfig: $desc"; else echo "not ok $n - kconfig: $desc:$why"; bad=1; fi
}

resolve base ours
expect "the module form is offered when no built-in code calls the API" \
	CONFIG_DMABUF_RUST=y CONFIG_DMABUF_RUST_CORE=m CONFIG_SYNC_FILE=y CONFIG_DMA_SHARED_BUFFER=y \
	CONFIG_DMABUF_HEAPS_SYSTEM=y CONFIG_DMABUF_HEAPS_CMA=y
resolve base ours -- CONFIG_BPF_SYSCALL=y
expect "with BPF_SYSCALL (the BPF dma-buf iterator) the core is built in, =m is not selectable" \
	CONFIG_BPF_SYSCALL=y CONFIG_DMABUF_RUST_CORE=y
resolve base ours -- CONFIG_NETDEVICES=y CONFIG_VIRTIO_NET=m CONFIG_INET=y
expect "with NET_DEVMEM (a network driver with a page pool) the core is built in" \
	CONFIG_NET_DEVMEM=y CONFIG_DMABUF_RUST_CORE=y
resolve base ours -- CONFIG_IO_URING=y CONFIG_INET=y CONFIG_NET_RX_BUSY_POLL=y CONFIG_NETDEVICES=y CONFIG_VIRTIO_NET=m
expect "with IO_URING_ZCRX the core is built in" \
	CONFIG_IO_URING_ZCRX=y CONFIG_DMABUF_RUST_CORE=y
resolve base ours -- CONFIG_DRM=y
expect "with a driver that uses dma-buf built in (DRM=y) the core is built in" \
	CONFIG_DRM=y CONFIG_DMABUF_RUST_CORE=y
resolve base ours -- "# CONFIG_SYNC_FILE is not set"
expect "SYNC_FILE is selected (the sync-file ioctls are always built)" \
	CONFIG_SYNC_FILE=y CONFIG_DMABUF_RUST_CORE=m
resolve base ours -- "# CONFIG_DMA_CMA is not set"
expect "without DMA_CMA there is no CMA heap, the rest stays" \
	CONFIG_DMA_CMA=n CONFIG_DMABUF_HEAPS_CMA=n CONFIG_DMABUF_HEAPS_SYSTEM=y CONFIG_DMABUF_RUST_CORE=m
resolve base ours -- CONFIG_UDMABUF=y
expect "with the core as a module, udmabuf (a user of the API) is limited to a module" \
	CONFIG_UDMABUF=m
resolve base ours
expect "the system_cc_shared heap is offered with the Rust core (the module form too)" \
	CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED=y CONFIG_DMABUF_RUST_CORE=m
resolve base ours -- "# CONFIG_DMABUF_HEAPS_SYSTEM is not set"
expect "without the system heap there is no system_cc_shared heap" \
	CONFIG_DMABUF_HEAPS_SYSTEM=n CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED=n
resolve base stock
expect "without DMABUF_RUST the C core and heaps are built" \
	CONFIG_DMABUF_RUST=n CONFIG_DMABUF_RUST_CORE=n CONFIG_DMABUF_HEAPS_SYSTEM=y
resolve base builtin
expect "the built-in form" CONFIG_DMABUF_RUST=y CONFIG_DMABUF_RUST_CORE=y
# The built-in users of the API are derived from the tree, not listed by
# hand: every symbol that selects or depends on DMA_SHARED_BUFFER must
# force the core built in (scripts/dmabuf-api-users.py).
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	"ok "*) echo "ok $n - ${line#ok * - }" ;;
	*) echo "not ok $n - ${line#not ok * - }"; bad=1 ;;
	esac
done < <(python3 "$REPO/scripts/dmabuf-api-users.py" "$SRC" "$REPO/Kconfig")
exit $bad
