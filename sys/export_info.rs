// SPDX-License-Identifier: GPL-2.0
//! `struct dma_buf_export_info`: what an exporter hands in, and making a
//! buffer of it.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use super::dma_buf::{Allocation, NewDmaBuf};
use super::dma_buf_ops::DmaBufOps;
use super::glue;
use super::kmem;
use super::ledger::Owner;
use super::module_ref::ModuleRef;
use super::resv::Resv;
use core::ptr::{addr_of_mut, NonNull};
use kernel::bindings;
use kernel::prelude::*;

/// The fields of `struct dma_buf_export_info` (the C type is read by the
/// C ABI entry point and converted into this one).
pub(crate) struct ExportInfo {
    /// Exporter name, shown in fdinfo and debugfs (may be NULL from C).
    exp_name: *const kernel::ffi::c_char,
    /// The exporter's module (NULL when built in).
    owner: *mut bindings::module,
    /// The exporter's operations.
    pub(crate) ops: &'static DmaBufOps,
    /// Size in bytes.
    pub(crate) size: usize,
    /// File flags.
    pub(crate) flags: i32,
    /// The exporter's reservation object, or NULL to embed one.
    resv: *mut bindings::dma_resv,
    /// The exporter's data.
    pub(crate) priv_: *mut core::ffi::c_void,
}

impl ExportInfo {
    /// Allocates and initializes a buffer from this info, holding `exporter`
    /// and `core` until it is freed; its `priv` is the exporter's.
    pub(crate) fn alloc(&self, exporter: ModuleRef, core: ModuleRef) -> Result<NewDmaBuf> {
        // Zeroed in place rather than built on the stack and moved into a
        // `KBox`: the object is large (a copy of it showed up in the
        // instruction profile of every ALLOC), and all-zero is the state
        // `struct dma_buf` and `struct dma_resv` start in.
        // SAFETY: The module references, the only fields that are not plain
        // C data, are written by `init_head` before anything reads them,
        // and `DmaBuf::free` drops them in place before `kfree`.
        let alloc = unsafe { kmem::kzalloc::<Allocation>()? }.as_ptr();
        // SAFETY: New, zeroed and ours.
        unsafe { self.init_head(alloc, exporter, core, self.priv_) };
        // SAFETY: From `kzalloc`, fully initialized above and unpublished;
        // the exporter keeps its data.
        Ok(unsafe { NewDmaBuf::from_alloc(NonNull::new_unchecked(alloc), None) })
    }

    /// Like [`ExportInfo::alloc`], for a Rust exporter: its data `T` is
    /// initialized by `data` in the same allocation, right after the
    /// buffer, and `priv` points to it. The data is dropped in place: by the
    /// release of the table built for `T` (`sys/dma_buf_ops.rs`), or by
    /// the returned object if the export fails before the buffer has a
    /// file.
    ///
    /// One allocation instead of two: on the bench and distro kernels the
    /// buffer takes 288 bytes of kmalloc-512, and a heap buffer's data
    /// (120 bytes) fits in the rest.
    pub(crate) fn alloc_with<T, E>(
        &self,
        exporter: ModuleRef,
        core: ModuleRef,
        data: impl PinInit<T, E>,
    ) -> Result<NewDmaBuf>
    where
        Error: From<E>,
    {
        // SAFETY: As in `alloc`; `data`'s bytes are initialized below
        // before anything reads them.
        let alloc = unsafe { kmem::kzalloc::<WithData<T>>()? }.as_ptr();
        // SAFETY: `alloc` is ours; the field is not initialized yet.
        let slot = unsafe { addr_of_mut!((*alloc).data) };
        // SAFETY: New, zeroed and ours; `WithData` starts with the
        // `Allocation` (`repr(C)`).
        unsafe { self.init_head(alloc.cast(), exporter, core, slot.cast()) };
        // SAFETY: As in `alloc`; the data is not initialized yet, so the
        // object must not drop it.
        let head = unsafe { NewDmaBuf::from_alloc(NonNull::new_unchecked(alloc.cast()), None) };
        // SAFETY: `slot` is valid for writes and uninitialized; it never
        // moves (the memory is freed in place after the data is dropped),
        // and on error `head` frees the memory without reading it.
        unsafe { data.__init(slot) }?;
        // SAFETY: The data is initialized, in the allocation, and
        // `drop_data::<T>` drops it: from here the object drops it if the
        // export fails.
        Ok(unsafe { head.owning_data(drop_data::<T>) })
    }

    /// Initializes the buffer and its reservation object in `alloc`.
    ///
    /// # Safety
    ///
    /// `alloc` must be a zeroed allocation only the caller knows of, its
    /// fields not initialized yet.
    unsafe fn init_head(
        &self,
        alloc: *mut Allocation,
        exporter: ModuleRef,
        core: ModuleRef,
        priv_: *mut core::ffi::c_void,
    ) {
        let info = self;
        // SAFETY: By the safety requirements the fields are not initialized
        // yet: written without dropping the zero bytes.
        unsafe {
            addr_of_mut!((*alloc).exporter).write(exporter);
            addr_of_mut!((*alloc).core).write(core);
            addr_of_mut!((*alloc).ledger.owner).write(Owner::current());
        }
        // SAFETY: By the safety requirements, `alloc` is a valid, zeroed
        // allocation only we know of; the fields are set before anything
        // else can see the object.
        unsafe {
            let raw = (*alloc).buf.as_raw();
            (*raw).priv_ = priv_;
            (*raw).ops = info.ops.as_raw();
            (*raw).size = info.size;
            (*raw).exp_name = info.exp_name;
            (*raw).owner = (*alloc).exporter.as_ptr();
            glue::dmabuf_rs_spin_lock_init(addr_of_mut!((*raw).name_lock));
            glue::dmabuf_rs_init_waitqueue_head(addr_of_mut!((*raw).poll));
            let poll = addr_of_mut!((*raw).poll);
            (*raw).cb_in.poll = poll;
            (*raw).cb_out.poll = poll;
            bindings::INIT_LIST_HEAD(addr_of_mut!((*raw).attachments));
            bindings::INIT_LIST_HEAD(addr_of_mut!((*raw).list_node));
            if info.resv.is_null() {
                let resv = (*alloc).resv.get();
                Resv::init(resv);
                (*raw).resv = resv;
            } else {
                (*raw).resv = info.resv;
            }
        }
    }

    /// The export info of a Rust exporter (built in: no owner module).
    pub(crate) fn new(
        exp_name: &'static CStr,
        ops: &'static DmaBufOps,
        size: usize,
        flags: i32,
    ) -> Self {
        ExportInfo {
            exp_name: exp_name.as_char_ptr(),
            owner: core::ptr::null_mut(),
            ops,
            size,
            flags,
            resv: core::ptr::null_mut(),
            // Set by `alloc_with`, to the data's place in the allocation.
            priv_: core::ptr::null_mut(),
        }
    }

    /// Takes a reference on the exporter's module (`ENOENT` while it is
    /// being removed).
    pub(crate) fn pin_owner(&self) -> Result<ModuleRef> {
        // SAFETY: `owner` is NULL or the live module of the exporter that is
        // calling us (the C contract of `dma_buf_export`).
        unsafe { ModuleRef::try_get(self.owner) }
    }

    /// Reads a C `struct dma_buf_export_info`; `None` if `ops` is NULL.
    ///
    /// # Safety
    ///
    /// `info` must point to a valid export info whose `ops`, if not NULL,
    /// is a static operation table.
    pub(crate) unsafe fn from_c(info: *const DmaBufExportInfo) -> Option<Self> {
        // SAFETY: By the safety requirements.
        let i = unsafe { &(*info).0 };
        // SAFETY: NULL or a static table, by the safety requirements.
        let ops = unsafe { DmaBufOps::from_raw(i.ops) }?;
        Some(ExportInfo {
            exp_name: i.exp_name,
            owner: i.owner,
            ops,
            size: i.size,
            flags: i.flags,
            resv: i.resv,
            priv_: i.priv_,
        })
    }
}

/// A buffer's allocation with a Rust exporter's data after it.
#[repr(C)]
struct WithData<T> {
    head: Allocation,
    data: T,
}

/// Drops a Rust exporter's data of type `T` in place.
///
/// # Safety
///
/// `data` must point to a live `T` that nothing uses afterwards.
unsafe fn drop_data<T>(data: *mut core::ffi::c_void) {
    // SAFETY: By the safety requirements.
    unsafe { core::ptr::drop_in_place(data.cast::<T>()) };
}

/// `struct dma_buf_export_info`, as C exporters pass it.
#[repr(transparent)]
pub(crate) struct DmaBufExportInfo(bindings::dma_buf_export_info);
