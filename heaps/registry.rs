// SPDX-License-Identifier: GPL-2.0
//! The dma-heap registry: every heap, C or Rust, registered by name with a
//! minor and a `/dev/dma_heap/<name>` node.
//!
//! C header: [`include/linux/dma-heap.h`](srctree/include/linux/dma-heap.h)
//!
//! C heaps come through `dma_heap_add` (`heaps/exports.rs`), the Rust heaps
//! of this module through the same [`add`]. Upstream heaps are never
//! removed; here every heap goes at module exit, when no heap file or
//! buffer can be left (both pin the module).

use crate::dma_buf::DmaBuf;
use crate::sys::cdev::{Node, Region};
use crate::sys::heap::{self, dma_heap, dma_heap_ops};
use kernel::ffi::{c_char, c_void};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// Minors available for heaps.
pub(crate) const NUM_HEAP_MINORS: usize = 128;

/// A registered heap: what a `struct dma_heap *` points to (C sees only
/// the pointer, [`DmaHeap::as_raw`]).
///
/// # Invariants
///
/// `name` is a non-empty string and `ops` a table with `allocate`, both
/// valid until the heap is removed at module exit.
pub(crate) struct DmaHeap {
    name: *const c_char,
    ops: *const dma_heap_ops,
    priv_: *mut c_void,
    /// The device node; removed before the heap is freed.
    node: Option<Node>,
}

// SAFETY: The fields are constant after registration; the exporter's
// data is the exporter's to synchronize, as in C.
unsafe impl Send for DmaHeap {}
// SAFETY: As above.
unsafe impl Sync for DmaHeap {}

impl DmaHeap {
    /// The heap name.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: Valid by the type invariant.
        unsafe { CStr::from_char_ptr(self.name) }
    }

    /// The name as C gave it.
    pub(crate) fn name_ptr(&self) -> *const c_char {
        self.name
    }

    /// The exporter data (`dma_heap_get_drvdata`).
    pub(crate) fn priv_data(&self) -> *mut c_void {
        self.priv_
    }

    /// The heap as C names it.
    pub(crate) fn as_raw(&self) -> *mut dma_heap {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// The heap behind a pointer C handed back.
    ///
    /// # Safety
    ///
    /// `heap` must come from [`DmaHeap::as_raw`] of a heap that is still
    /// registered for `'a`.
    pub(crate) unsafe fn from_raw<'a>(heap: *mut dma_heap) -> &'a DmaHeap {
        // SAFETY: By the safety requirements.
        unsafe { &*heap.cast::<DmaHeap>() }
    }

    /// Calls the heap's `allocate`; the new buffer.
    pub(crate) fn allocate(
        &self,
        len: usize,
        fd_flags: u32,
        heap_flags: u64,
    ) -> Result<ARef<DmaBuf>> {
        // SAFETY: The table is valid by the type invariant, `self` is the
        // heap it was registered for, and `allocate` follows the contract
        // (C heaps by the C API, ours in `heaps/kind.rs`).
        unsafe { heap::allocate(&*self.ops, self.as_raw(), len, fd_flags, heap_flags) }
    }
}

/// The heaps by minor, and the char device region.
struct Registry {
    heaps: [Option<KBox<DmaHeap>>; NUM_HEAP_MINORS],
    region: Option<Region>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init` at module init, before any use.
    unsafe(uninit) static HEAPS: Mutex<Registry> = Registry {
        heaps: [const { None }; NUM_HEAP_MINORS],
        region: None,
    };
}

/// Sets up the registry (module init, once, before any other use).
pub(crate) fn init() {
    // SAFETY: Called once, at module init, before any other use.
    unsafe { HEAPS.init() };
}

/// Gives the registry the char device region its nodes are made in.
pub(crate) fn set_region(region: Region) {
    HEAPS.lock().region = Some(region);
}

/// The heap of `minor`, for an open of its node.
pub(crate) fn lookup(minor: u32) -> Result<&'static DmaHeap> {
    let reg = HEAPS.lock();
    let heap = reg.heaps.get(minor as usize).and_then(|h| h.as_deref());
    let Some(heap) = heap else {
        pr_err!("dma_heap: minor {} unknown.\n", minor);
        return Err(ENODEV);
    };
    // SAFETY: Heaps are freed only at module exit, and an open file pins
    // the module, so the heap outlives every file of it.
    Ok(unsafe { &*core::ptr::from_ref(heap) })
}

/// Removes every heap and the region (module exit).
pub(crate) fn exit() {
    let mut reg = HEAPS.lock();
    for slot in reg.heaps.iter_mut() {
        if let Some(mut heap) = slot.take() {
            // The node goes first: no new open can find the heap.
            drop(heap.node.take());
            drop(heap);
        }
    }
    drop(reg.region.take());
}

/// Registers a heap and creates its node (`dma_heap_add`).
///
/// # Safety
///
/// `name` must be a string and `ops` a table, both valid until module exit.
pub(crate) unsafe fn add(
    name: *const c_char,
    ops: *const dma_heap_ops,
    priv_: *mut c_void,
) -> Result<&'static DmaHeap> {
    // SAFETY: By the safety requirements.
    if name.is_null() || unsafe { *name } == 0 {
        pr_err!("dma_heap: Cannot add heap without a name\n");
        return Err(EINVAL);
    }
    // SAFETY: NULL or valid by the safety requirements.
    if ops.is_null() || unsafe { (*ops).allocate }.is_none() {
        pr_err!("dma_heap: Cannot add heap with invalid ops struct\n");
        return Err(EINVAL);
    }
    // SAFETY: Checked non-empty above.
    let cname = unsafe { CStr::from_char_ptr(name) };
    // The duplicate check and the insertion happen under one lock, before
    // any device exists. Upstream's own check comes after device_create(),
    // which already fails with EEXIST on the sysfs name, so EEXIST is what
    // callers see there too.
    let mut reg = HEAPS.lock();
    if reg.heaps.iter().flatten().any(|h| h.name() == cname) {
        pr_err!(
            "dma_heap: Already registered heap named {}\n",
            cname.to_str().unwrap_or("?")
        );
        return Err(EEXIST);
    }
    let minor = reg.heaps.iter().position(Option::is_none).ok_or_else(|| {
        pr_err!("dma_heap: Unable to get minor number for heap\n");
        EBUSY
    })?;
    let region = reg.region.as_ref().ok_or(ENODEV)?;
    let node = region.add(minor as u32, cname).inspect_err(|_| {
        pr_err!("dma_heap: Unable to create device\n");
    })?;
    // INVARIANT: Checked above; valid until exit by the safety requirements.
    let heap = KBox::new(
        DmaHeap {
            name,
            ops,
            priv_,
            node: Some(node),
        },
        GFP_KERNEL,
    )?;
    let ptr: *const DmaHeap = &*heap;
    reg.heaps[minor] = Some(heap);
    // SAFETY: The heap lives in the registry until module exit.
    Ok(unsafe { &*ptr })
}
