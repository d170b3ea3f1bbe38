// SPDX-License-Identifier: GPL-2.0
//! The C side of a dma-heap: `struct dma_heap`, `struct dma_heap_ops` and
//! `struct dma_heap_export_info`, with C's names and layout.
//!
//! C header: [`include/linux/dma-heap.h`](srctree/include/linux/dma-heap.h)
//!
//! The kernel's bindings do not include that header, so its types are
//! declared here, and they keep C's names on purpose. With `CONFIG_CFI`
//! every indirect call is checked against a hash of the callee's type;
//! clang hashes `struct dma_heap *` by the struct's name, and rustc hashes
//! a `#[repr(C)]` struct the same way, by its name alone. A pointer to a
//! Rust type of another name (or one without `repr(C)`) in a function
//! type that crosses to or from C gives another hash, and the call traps:
//! a C heap's `allocate` called from Rust, or this crate's `allocate`
//! called by C. `scripts/check-kcfi.sh` compiles these declarations with
//! rustc and the header with clang and compares the hashes.

use super::check_ptr;
use super::dma_buf::DmaBuf;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::{c_char, c_ulong, c_void};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// `struct dma_buf` as a heap's `allocate` returns it.
pub(crate) type RawDmaBuf = bindings::dma_buf;

/// `struct dma_heap`: what C holds of a heap, only ever a pointer that it
/// hands back to the heap framework (the framework's own record behind it
/// is `heaps/registry.rs`'s `DmaHeap`).
#[repr(C)]
#[allow(non_camel_case_types)]
pub(crate) struct dma_heap {
    _opaque: [u8; 0],
}

/// The type of `dma_heap_ops.allocate`: a new buffer with one reference,
/// or an `ERR_PTR`.
pub(crate) type AllocateFn =
    unsafe extern "C" fn(*mut dma_heap, c_ulong, u32, u64) -> *mut RawDmaBuf;

/// `struct dma_heap_ops`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub(crate) struct dma_heap_ops {
    /// Allocates a buffer of `len` (page-aligned) bytes.
    pub(crate) allocate: Option<AllocateFn>,
}

/// `struct dma_heap_export_info`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub(crate) struct dma_heap_export_info {
    /// Heap name (device node name); must outlive the heap.
    pub(crate) name: *const c_char,
    /// The operations.
    pub(crate) ops: *const dma_heap_ops,
    /// Exporter data.
    pub(crate) priv_: *mut c_void,
}

/// Calls a heap's `allocate` (C's or this crate's, through the same
/// C-typed pointer); the new buffer.
///
/// # Safety
///
/// `heap` must be the registered heap whose table `ops` is, and the
/// table's `allocate` must follow the `dma_heap_ops` contract.
pub(crate) unsafe fn allocate(
    ops: &dma_heap_ops,
    heap: *mut dma_heap,
    len: usize,
    fd_flags: u32,
    heap_flags: u64,
) -> Result<ARef<DmaBuf>> {
    let f = ops.allocate.ok_or(EINVAL)?;
    // SAFETY: By the safety requirements.
    let buf = check_ptr(unsafe { f(heap, len as c_ulong, fd_flags, heap_flags) })?;
    let buf = NonNull::new(buf).ok_or(ENOMEM)?;
    // SAFETY: `allocate` returns a new buffer of this core (every dma-buf
    // is made by `dma_buf_export`, which is this core's) with one
    // reference for the caller; `DmaBuf` is a transparent wrapper.
    Ok(unsafe { ARef::from_raw(buf.cast::<DmaBuf>()) })
}

/// A new buffer as `allocate` returns it: the reference moves to the
/// caller, or the error becomes an `ERR_PTR`.
pub(crate) fn allocate_result(r: Result<ARef<DmaBuf>>) -> *mut RawDmaBuf {
    match r {
        Ok(buf) => ARef::into_raw(buf).as_ptr().cast(),
        Err(e) => e.to_ptr(),
    }
}
