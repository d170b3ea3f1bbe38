// SPDX-License-Identifier: GPL-2.0
//! Registering the Rust heaps with the dma-heap framework.
//!
//! Each heap is a [`HeapKind`]; its `allocate` is reached from the
//! framework through a `dma_heap_ops` table generated per kind, and its
//! buffers are exported through the safe exporter API.

use crate::cma_heap::{self, CmaHeap};
use crate::ffi::heap::{self, DmaHeap, DmaHeapOps, RawDmaBuf};
use crate::ffi::object::DmaBuf;
use crate::heap_buffer::{HeapBuffer, HeapExport};
use crate::system_heap::SystemHeap;
use core::marker::PhantomData;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A kind of heap.
pub(crate) trait HeapKind: Send + Sync + Sized + 'static {
    /// Allocates `len` (page-aligned, non-zero) bytes as a new buffer.
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>>;
}

/// Exports a heap buffer under the heap's name.
pub(crate) fn export_heap_buffer(
    buf: Pin<KBox<HeapBuffer>>,
    len: usize,
    fd_flags: u32,
    name: &'static CStr,
) -> Result<ARef<DmaBuf>> {
    DmaBuf::export_rust(
        KBox::new(HeapExport(buf), GFP_KERNEL)?,
        len,
        fd_flags as i32,
        name,
    )
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
        let system = KBox::new(
            Entry {
                name: c"system",
                kind: SystemHeap,
            },
            GFP_KERNEL,
        )?;
        let ptr = core::ptr::from_ref::<Entry<SystemHeap>>(&system)
            .cast_mut()
            .cast();
        heaps.system = Some(system);
        if let Err(e) = heap::register(c"system", &Ops::<SystemHeap>::OPS, ptr) {
            pr_warn!("dma_heap: system heap not registered: {:?}\n", e);
        }
        for (name, area) in cma_heap::areas() {
            let entry = KBox::new(
                Entry {
                    name,
                    kind: CmaHeap(area),
                },
                GFP_KERNEL,
            )?;
            let ptr = core::ptr::from_ref::<Entry<CmaHeap>>(&entry)
                .cast_mut()
                .cast();
            heaps.cma.push(entry, GFP_KERNEL)?;
            if let Err(e) = heap::register(name, &Ops::<CmaHeap>::OPS, ptr) {
                pr_warn!(
                    "dma_heap: CMA heap {} not registered: {:?}\n",
                    name.to_str().unwrap_or("?"),
                    e
                );
            }
        }
        Ok(heaps)
    }
}

impl Drop for Heaps {
    fn drop(&mut self) {
        // Unregister first: no allocation can reach the entries afterwards.
        heap::exit();
    }
}
