// SPDX-License-Identifier: GPL-2.0
//! The heaps of this module as the framework sees them: a [`HeapKind`] is
//! registered with a `dma_heap_ops` table generated per kind, whose
//! `allocate` reaches [`HeapKind::allocate`].

use super::registry::{self, DmaHeap};
use crate::dma_buf::DmaBuf;
use crate::sys::heap::{allocate_result, dma_heap, dma_heap_ops, RawDmaBuf};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A kind of heap of this module.
pub(crate) trait HeapKind: Send + Sync + Sized + 'static {
    /// Allocates `len` (page-aligned, non-zero) bytes as a new buffer.
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>>;
}

/// One heap's data (the framework's `priv`).
pub(crate) struct Entry<K: HeapKind> {
    name: &'static CStr,
    kind: K,
}

struct Ops<K>(core::marker::PhantomData<K>);

impl<K: HeapKind> Ops<K> {
    const OPS: dma_heap_ops = dma_heap_ops {
        allocate: Some(allocate_tramp::<K>),
    };
}

/// `allocate` of heap kind `K`, typed as C's `dma_heap_ops.allocate`
/// (see `sys/heap.rs` for why the types matter).
///
/// # Safety
///
/// The framework calls this with a heap registered by [`add`] for kind
/// `K`, whose `priv` is an `Entry<K>` that outlives the registration.
unsafe extern "C" fn allocate_tramp<K: HeapKind>(
    heap: *mut dma_heap,
    len: kernel::ffi::c_ulong,
    fd_flags: u32,
    _heap_flags: u64,
) -> *mut RawDmaBuf {
    // SAFETY: By the safety requirements.
    let entry = unsafe { &*DmaHeap::from_raw(heap).priv_data().cast::<Entry<K>>() };
    allocate_result(entry.kind.allocate(entry.name, len, fd_flags))
}

/// Boxes a heap's data and registers it under `name`. A refused
/// registration is reported and leaves the heap out, as upstream does.
pub(crate) fn add<K: HeapKind>(name: &'static CStr, kind: K) -> Result<KBox<Entry<K>>> {
    let entry = KBox::new(Entry { name, kind }, GFP_KERNEL)?;
    let data = core::ptr::from_ref::<Entry<K>>(&entry).cast_mut().cast();
    // SAFETY: The name and table are static; `data` outlives the
    // registration (`Heaps` drops the registry first).
    if let Err(e) = unsafe { registry::add(name.as_char_ptr(), &Ops::<K>::OPS, data) } {
        pr_warn!(
            "dma_heap: heap {} not registered: {:?}\n",
            name.to_str().unwrap_or("?"),
            e
        );
    }
    Ok(entry)
}
