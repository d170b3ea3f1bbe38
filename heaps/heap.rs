// SPDX-License-Identifier: GPL-2.0
//! Registering the Rust heaps with the dma-heap framework.
//!
//! Each heap is a [`HeapKind`]; its `allocate` is reached from the
//! framework through a `dma_heap_ops` table generated per kind, and its
//! buffers are exported through the safe exporter API.

use crate::cma_heap::{self, CmaHeap};
use crate::ffi::heap::{self, DmaHeap, DmaHeapOps, RawDmaBuf};
use crate::ffi::object::DmaBuf;
use crate::system_heap::SystemHeap;
use core::marker::PhantomData;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A kind of heap.
pub(crate) trait HeapKind: Send + Sync + Sized + 'static {
    /// Allocates `len` (page-aligned, non-zero) bytes as a new buffer.
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>>;
}

/// One registered heap's data (the framework's `priv`).
struct Entry<K: HeapKind> {
    name: &'static CStr,
    kind: K,
}

struct Ops<K>(PhantomData<K>);

impl<K: HeapKind> Ops<K> {
    const OPS: DmaHeapOps = DmaHeapOps {
        allocate: Some(allocate_tramp::<K>),
    };
}

/// `allocate` of heap kind `K`.
///
/// # Safety
///
/// The framework calls this with a heap registered by [`Heaps::register`]
/// for kind `K`, whose `priv` is an `Entry<K>` that outlives the
/// registration.
unsafe extern "C" fn allocate_tramp<K: HeapKind>(
    heap: *mut DmaHeap,
    len: kernel::ffi::c_ulong,
    fd_flags: u32,
    _heap_flags: u64,
) -> *mut RawDmaBuf {
    // SAFETY: The framework passes a registered heap whose `priv` is an
    // `Entry<K>` owned by `Heaps`, which outlives the registration.
    let entry = unsafe { &*heap::heap_ref(heap).priv_().cast::<Entry<K>>() };
    let r = entry.kind.allocate(entry.name, len, fd_flags);
    heap::alloc_result(r)
}

/// The heap data, owned by the module; heaps are unregistered before it
/// is dropped.
pub(crate) struct Heaps {
    system: Option<KBox<Entry<SystemHeap>>>,
    cma: KVec<KBox<Entry<CmaHeap>>>,
}

impl Heaps {
    /// Sets up the framework and registers the system heap and one CMA
    /// heap per area (upstream registers them at boot and never removes
    /// them; we remove them at module exit).
    pub(crate) fn register() -> Result<Heaps> {
        heap::init()?;
        let mut heaps = Heaps {
            system: None,
            cma: KVec::new(),
        };
        heaps.system = Some(add(c"system", SystemHeap)?);
        let areas = cma_heap::areas();
        // Room first: a registered entry must never be dropped on a failed push.
        heaps.cma.reserve(areas.len(), GFP_KERNEL)?;
        for (name, area) in areas {
            heaps.cma.push(add(name, CmaHeap(area))?, GFP_KERNEL)?;
        }
        Ok(heaps)
    }
}

/// Boxes a heap's data and registers it under `name`. A refused
/// registration is reported and leaves the heap out, as upstream does.
fn add<K: HeapKind>(name: &'static CStr, kind: K) -> Result<KBox<Entry<K>>> {
    let entry = KBox::new(Entry { name, kind }, GFP_KERNEL)?;
    let ptr = core::ptr::from_ref::<Entry<K>>(&entry).cast_mut().cast();
    if let Err(e) = heap::register(name, &Ops::<K>::OPS, ptr) {
        pr_warn!(
            "dma_heap: heap {} not registered: {:?}\n",
            name.to_str().unwrap_or("?"),
            e
        );
    }
    Ok(entry)
}

impl Drop for Heaps {
    fn drop(&mut self) {
        // Unregister first: no allocation can reach the entries afterwards.
        heap::exit();
    }
}
