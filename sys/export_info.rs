// SPDX-License-Identifier: GPL-2.0
//! `struct dma_buf_export_info`: what an exporter hands in, and making a
//! buffer of it.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use super::dma_buf::{Allocation, NewDmaBuf};
use super::dma_buf_ops::DmaBufOps;
use super::glue;
use super::kmem;
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
    /// and `core` until it is freed.
    pub(crate) fn alloc(&self, exporter: ModuleRef, core: ModuleRef) -> Result<NewDmaBuf> {
        let info = self;
        // Zeroed in place rather than built on the stack and moved into a
        // `KBox`: the object is large (a copy of it showed up in the
        // instruction profile of every ALLOC), and all-zero is the state
        // `struct dma_buf` and `struct dma_resv` start in.
        // SAFETY: The module references, the only fields that are not plain
        // C data, are written below before anything reads them, and
        // `DmaBuf::free` drops them in place before `kfree`.
        let alloc = unsafe { kmem::kzalloc::<Allocation>()? }.as_ptr();
        // SAFETY: `alloc` is ours and the fields are not initialized yet:
        // written without dropping the zero bytes.
        unsafe {
            addr_of_mut!((*alloc).exporter).write(exporter);
            addr_of_mut!((*alloc).core).write(core);
        }
        // SAFETY: `alloc` is a valid, zeroed allocation only we know of; the
        // fields are set before anything else can see the object.
        unsafe {
            let raw = (*alloc).buf.as_raw();
            (*raw).priv_ = info.priv_;
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
        // SAFETY: From `kzalloc`, fully initialized above and unpublished.
        Ok(unsafe { NewDmaBuf::from_alloc(NonNull::new_unchecked(alloc)) })
    }

    /// The export info of a Rust exporter (built in: no owner module).
    pub(crate) fn new(
        exp_name: &'static CStr,
        ops: &'static DmaBufOps,
        size: usize,
        flags: i32,
        priv_: *mut core::ffi::c_void,
    ) -> Self {
        ExportInfo {
            exp_name: exp_name.as_char_ptr(),
            owner: core::ptr::null_mut(),
            ops,
            size,
            flags,
            resv: core::ptr::null_mut(),
            priv_,
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

/// `struct dma_buf_export_info`, as C exporters pass it.
#[repr(transparent)]
pub(crate) struct DmaBufExportInfo(bindings::dma_buf_export_info);
