#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Checks dmabuf_rs.txt and dmabuf_rs.txt.const beside this script. It
# fetches nothing and changes nothing outside a temporary directory.
#
#   selftests/syzkaller/check.sh
#
# Needs (each step is skipped, and counted as failed, without its inputs):
#   LINUX      a Linux 7.3 source tree, default ~/.cache/dmabuf-rs/linux-source-7.3
#              (what `make check` unpacks), and gcc: the constant values;
#   SYZKALLER  a syzkaller source tree (a work tree, not a bare repository:
#              `git --git-dir=REPO archive HEAD | tar -x -C DIR` makes one);
#   GO         a Go toolchain at least as new as syzkaller's go.mod asks
#              (1.26 for its 2026 tree; Debian 12's golang-go is 1.19, too
#              old; trixie-backports' golang-1.27-go works), default `go`;
#   the Debian packages golang-golang-x-sys-dev,
#              golang-github-vividcortex-gohistogram-dev and
#              golang-github-prometheus-client-golang-dev: the only
#              non-standard imports of syz-sysgen, built from /usr/share/gocode
#              in GOPATH mode because no Go module proxy is needed or used.
set -u
here=$(cd "$(dirname "$0")" && pwd)
LINUX=${LINUX:-$HOME/.cache/dmabuf-rs/linux-source-7.3}
SYZKALLER=${SYZKALLER:-}
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# 1. Every value in the .const file, from the kernel's uapi headers (the
#    way syz-extract does it, without configuring a kernel tree) and the
#    x86_64 syscall table; and the literal ioctl numbers in the .txt.
consts() {
	local K=$LINUX gen=$tmp/asm-gen h n v want
	if [ ! -f "$K/include/uapi/linux/dma-heap.h" ] || ! command -v gcc >/dev/null; then
		bad "consts: no Linux tree at $K (set LINUX) or no gcc"
		return
	fi
	# x86 takes these asm headers from asm-generic at build time.
	mkdir -p "$gen/asm"
	for h in $(sed -n 's/^mandatory-y += \(.*\)\.h$/\1/p' "$K/include/uapi/asm-generic/Kbuild"); do
		[ -e "$K/arch/x86/include/uapi/asm/$h.h" ] ||
			echo "#include <asm-generic/$h.h>" >"$gen/asm/$h.h"
	done
	{
		echo '#include <linux/ioctl.h>'
		echo '#include <linux/fcntl.h>'
		echo '#include <linux/mman.h>'
		echo '#include <linux/dma-buf.h>'
		echo '#include <linux/dma-heap.h>'
		echo 'int printf(const char *, ...);'
		echo 'int main(void) {'
		grep -v '^#\|^arches\|^__NR_' "$here/dmabuf_rs.txt.const" | cut -d' ' -f1 |
			sed 's/.*/printf("%s = %llu\\n", "&", (unsigned long long)(&));/'
		# The re-encoded DMA_HEAP_IOCTL_ALLOC numbers, in the .txt's order.
		echo 'printf("cmds = %#lx, %#lx, %#lx, %#lx, %#lx, %#lx, %#lx, %#lx, %#lx, %#lx\n",'
		echo '  DMA_HEAP_IOCTL_ALLOC, _IOWR(0x48, 0, char[16]), _IOWR(0x48, 0, char[48]),'
		echo '  _IOWR(0x48, 0, char[144]), _IOW(0x48, 0, struct dma_heap_allocation_data),'
		echo '  _IOR(0x48, 0, struct dma_heap_allocation_data), _IO(0x48, 0),'
		echo '  _IOWR(0x58, 0, struct dma_heap_allocation_data),'
		echo '  _IOWR(0x48, 1, struct dma_heap_allocation_data),'
		echo '  _IOWR(0x48, 0xff, struct dma_heap_allocation_data));'
		echo 'return 0; }'
	} >"$tmp/consts.c"
	if ! gcc -D__EXPORTED_HEADERS__ -nostdinc -I "$K/include/uapi" -I "$K/arch/x86/include/uapi" \
		-I "$gen" -o "$tmp/consts" "$tmp/consts.c" 2>"$tmp/consts.log"; then
		bad "consts: compiling against $K failed:"
		cat "$tmp/consts.log"
		return
	fi
	"$tmp/consts" >"$tmp/values"
	for n in openat ioctl lseek mmap poll read; do
		awk -v s="$n" '$1 ~ /^[0-9]+$/ && ($2 == "common" || $2 == "64") && $3 == s { print "__NR_" s " = " $1 }' \
			"$K/arch/x86/entry/syscalls/syscall_64.tbl"
	done >>"$tmp/values"
	local errs=0 count=0
	while read -r n _ v; do
		case "$n" in '#'* | arches | '') continue ;; esac
		count=$((count + 1))
		want=$(awk -v n="$n" '$1 == n { print $3 }' "$tmp/values")
		if [ "$want" != "$v" ]; then
			echo "     $n = $v in the .const, ${want:-undefined} in $K"
			errs=$((errs + 1))
		fi
	done <"$here/dmabuf_rs.txt.const"
	[ "$errs" = 0 ] && ok "consts: all $count values equal Linux's ($K)" ||
		bad "consts: $errs of $count values differ from Linux's"
	want=$(sed -n 's/^cmds = //p' "$tmp/values")
	v=$(sed -n 's/^dmabuf_rs_heap_alloc_cmds = //p' "$here/dmabuf_rs.txt")
	[ "$want" = "$v" ] && ok "consts: the re-encoded ALLOC numbers are what the _IO* macros give" ||
		bad "consts: dmabuf_rs_heap_alloc_cmds is '$v', the macros give '$want'"
}

# 2. The ioctl numbers against the project's own uapi (uapi/*.rs asserts).
rust_uapi() {
	local errs=0 count=0 n hex v
	while read -r n hex; do
		count=$((count + 1))
		hex=${hex//_/}
		v=$(awk -v n="$n" '$1 == n { print $3 }' "$here/dmabuf_rs.txt.const")
		if [ "$v" != "$((hex))" ]; then
			echo "     $n = ${v:-missing} in the .const, $hex in uapi/"
			errs=$((errs + 1))
		fi
	done < <(sed -n 's/.*static_assert!(\([A-Z_]*\) == \(0x[0-9a-f_]*\)).*/\1 \2/p' "$here"/../../uapi/*.rs)
	[ "$count" -gt 0 ] && [ "$errs" = 0 ] && ok "uapi: $count ioctl numbers equal the project's uapi/*.rs" ||
		bad "uapi: $errs of $count ioctl numbers differ from uapi/*.rs"
}

# 3. syzkaller itself: syz-sysgen over sys/ with our files in sys/linux,
#    then our checker (pkg/ast, pkg/compiler, prog) on the result.
syzkaller() {
	local src=$tmp/gopath/src/github.com/google/syzkaller have need
	if [ -z "$SYZKALLER" ] || [ ! -f "$SYZKALLER/go.mod" ]; then
		bad "syzkaller: set SYZKALLER to a syzkaller source tree"
		return
	fi
	if ! have=$("$GO" env GOVERSION 2>/dev/null); then
		bad "syzkaller: no Go toolchain ($GO)"
		return
	fi
	need=$(sed -n 's/^go //p' "$SYZKALLER/go.mod")
	if [ "$(printf '%s\n%s\n' "go$need" "$have" | sort -V | head -1)" != "go$need" ]; then
		bad "syzkaller: its go.mod asks for go $need, $GO is $have"
		return
	fi
	mkdir -p "$(dirname "$src")" "$tmp/gopath/src/dmabufcheck"
	cp -r "$SYZKALLER" "$src"
	cp "$here/dmabuf_rs.txt" "$here/dmabuf_rs.txt.const" "$src/sys/linux/"
	cp "$here/checker/main.go" "$tmp/gopath/src/dmabufcheck/"
	export GO111MODULE=off GOTOOLCHAIN=local GOFLAGS= GOPATH="$tmp/gopath:/usr/share/gocode"
	if ! (cd "$src" && "$GO" build -o "$tmp/syz-sysgen" ./sys/syz-sysgen) >"$tmp/build.log" 2>&1; then
		bad "syzkaller: building syz-sysgen failed:"
		tail -20 "$tmp/build.log"
		return
	fi
	if (cd "$src" && "$tmp/syz-sysgen" -src "$src" -out "$src") >"$tmp/sysgen.log" 2>&1; then
		ok "syzkaller: syz-sysgen compiled sys/ for every OS and arch with our files in sys/linux"
	else
		bad "syzkaller: syz-sysgen failed:"
		tail -30 "$tmp/sysgen.log"
		return
	fi
	if ! (cd "$tmp/gopath/src/dmabufcheck" && "$GO" build -o "$tmp/checker.test" .) >"$tmp/build.log" 2>&1; then
		bad "syzkaller: building the checker failed:"
		tail -20 "$tmp/build.log"
		return
	fi
	# The name ends in .test: that turns on prog's validation of every program.
	"$tmp/checker.test" desc "$src" "$here/dmabuf_rs.txt" && ok "syzkaller: description checks" ||
		bad "syzkaller: description checks"
	"$tmp/checker.test" gen && ok "syzkaller: program generation" || bad "syzkaller: program generation"
}

consts
rust_uapi
syzkaller
echo "syzkaller descriptions: $pass passed, $fail failed"
[ "$fail" = 0 ]
