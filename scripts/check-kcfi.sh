#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-kcfi.sh [KERNEL]: the function types that cross between C and
# Rust get the same kCFI hash on both sides. With CONFIG_CFI an indirect
# call traps unless the hash the caller expects is the callee's; rustc
# hashes a #[repr(C)] struct by its name alone, as clang does a C struct,
# so a Rust type of another name in such a signature traps at run time.
#
# For each pair (a Rust function-pointer type of the crate, the C field it
# stands for), an indirect call through each is compiled (rustc with
# -Zsanitizer=kcfi, clang with -fsanitize=kcfi, both normalizing
# integers as the kernel does) and the two call sites' hashes compared.
# The Rust declarations are taken from the crate's own files (sys/heap.rs),
# the C ones from the kernel headers. Prints TAP; exit 1 on a mismatch.
set -euo pipefail
. "$(dirname "$0")/common.sh"
kernel=${1:-test}
O=$CACHE/build-$kernel
[ -f "$O/include/generated/autoconf.h" ] || die "check-kcfi: kernel '$kernel' is not configured (build it first)"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

# The Rust side: the declarations of sys/heap.rs (from `pub(crate) struct
# dma_heap` to the end of `struct dma_heap_ops`), with the kernel crate's
# names mapped to core's.
decls=$(awk '
	/^#\[/ { attrs = attrs $0 "\n"; next }
	/^pub\(crate\) (struct dma_heap \{|struct dma_heap_ops \{|type AllocateFn|type RawDmaBuf)/ { on = 1; printf "%s", attrs }
	{ attrs = "" }
	on { print; if (/^}/ || /;$/) on = 0 }' "$REPO/sys/heap.rs")
[ "$(grep -c 'struct dma_heap\b\|type AllocateFn\|struct dma_heap_ops\|type RawDmaBuf' <<<"$decls")" -ge 4 ] ||
	die "check-kcfi: the declarations in sys/heap.rs moved; update this script"
cat >"$w/r.rs" <<RS
#![no_std]
#![allow(non_camel_case_types, dead_code)]
use core::ffi::c_ulong;
mod bindings {
    #[repr(C)]
    pub struct dma_buf {
        _p: [u8; 0],
    }
}
#[repr(C)]
struct DmaHeapNamedInRust {
    _p: [u8; 0],
}
$(sed 's/#\[allow(non_camel_case_types)\]//' <<<"$decls")
#[no_mangle]
pub unsafe fn kcfi_call_heap_allocate(ops: &dma_heap_ops, heap: *mut dma_heap) -> *mut RawDmaBuf {
    unsafe { (ops.allocate.unwrap())(heap, 1, 2, 3) }
}
// What the crate had before: a Rust name in the signature. Must differ.
#[no_mangle]
pub unsafe fn kcfi_call_wrong_name(
    f: unsafe extern "C" fn(*mut DmaHeapNamedInRust, c_ulong, u32, u64) -> *mut RawDmaBuf,
    heap: *mut DmaHeapNamedInRust,
) -> *mut RawDmaBuf {
    unsafe { f(heap, 1, 2, 3) }
}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
RS
RUSTC_BOOTSTRAP=1 rustc --edition=2021 --crate-type=lib --emit=llvm-ir -Copt-level=0 -Cpanic=abort \
	-Zsanitizer=kcfi -Zsanitizer-cfi-normalize-integers \
	-Cunsafe-allow-abi-mismatch=sanitizer,sanitizer-cfi-normalize-integers \
	--target x86_64-unknown-linux-gnu "$w/r.rs" -o "$w/r.ll" 2>"$w/rustc.log" ||
	{ cat "$w/rustc.log" >&2; die "check-kcfi: rustc failed"; }

cat >"$w/c.c" <<'C'
#include <linux/dma-heap.h>
void *kcfi_call_heap_allocate(const struct dma_heap_ops *ops, struct dma_heap *heap)
{
	return ops->allocate(heap, 1, 2, 3);
}
C
clang$LLVM_SUFFIX -S -emit-llvm -O2 -nostdinc -D__KERNEL__ -fsanitize=kcfi \
	-fsanitize-cfi-icall-experimental-normalize-integers \
	-I"$SRC/include" -I"$SRC/arch/x86/include" -I"$O/arch/x86/include/generated" -I"$O/include" \
	-I"$SRC/include/uapi" -I"$SRC/arch/x86/include/uapi" -I"$O/arch/x86/include/generated/uapi" \
	-I"$O/include/generated/uapi" -include "$SRC/include/linux/kconfig.h" "$w/c.c" -o "$w/c.ll" 2>"$w/clang.log" ||
	{ cat "$w/clang.log" >&2; die "check-kcfi: clang failed"; }

# The hash in the "kcfi" operand bundle of the one indirect call in FUNC.
hash_in() { # hash_in FILE FUNC
	awk -v f="@$2(" 'index($0, "define") && index($0, f) { on = 1 } on && /"kcfi"\(i32/ { match($0, /"kcfi"\(i32 -?[0-9]+\)/); print substr($0, RSTART + 11, RLENGTH - 12); exit } on && /^}/ { exit }' "$1"
}
c=$(hash_in "$w/c.ll" kcfi_call_heap_allocate)
r=$(hash_in "$w/r.ll" kcfi_call_heap_allocate)
bad=$(hash_in "$w/r.ll" kcfi_call_wrong_name)
rc=0
if [ -n "$c" ] && [ "$c" = "$r" ]; then
	echo "ok 1 - kcfi: dma_heap_ops.allocate hashes alike in Rust (sys/heap.rs) and C (include/linux/dma-heap.h): $r"
else
	echo "not ok 1 - kcfi: dma_heap_ops.allocate: Rust ${r:-none}, C ${c:-none}"; rc=1
fi
if [ -n "$bad" ] && [ "$bad" != "$c" ]; then
	echo "ok 2 - kcfi: the check can fail: a Rust-named heap type hashes otherwise ($bad)"
else
	echo "not ok 2 - kcfi: a Rust-named heap type should hash otherwise (got ${bad:-none})"; rc=1
fi
exit $rc
