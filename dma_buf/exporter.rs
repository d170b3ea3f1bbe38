// SPDX-License-Identifier: GPL-2.0
//! The exporter side of the safe Rust API.
//!
//! A Rust exporter implements [`Exporter`] for its per-buffer data and
//! calls [`DmaBuf::export_rust`]; the core builds the `dma_buf_ops` table
//! from the trait (`sys/dma_buf_ops.rs`). `map`, `unmap` and `release` are
//! mandatory; the CPU access, mmap and vmap operations are optional:
//! `#[vtable]` leaves a missing one out of the C table, which gives
//! importers the upstream behaviour for it.
//!
//! Locking (the dma-buf convention, here part of each method's contract):
//! `map`, `unmap`, `vmap` and `vunmap` run with the buffer's reservation
//! lock held; `release`, `begin_cpu_access`, `end_cpu_access` and `mmap`
//! run without it.

use crate::sys::attachment::Attachment;
use crate::sys::dma_buf::DmaBuf;
use crate::sys::dma_buf_ops::{DmaBufOps, ExporterCallbacks};
use crate::sys::export_info::ExportInfo;
use crate::sys::iosys_map::IosysMap;
pub(crate) use crate::sys::sg_table::OwnedTable;
use kernel::dma::DataDirection;
use kernel::error::VTABLE_DEFAULT_ERROR;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A dma-buf exporter: the data behind one exported buffer.
#[vtable]
pub(crate) trait Exporter: Sized + Send + Sync + 'static {
    /// Builds `attach`'s table of the buffer, DMA-mapped for its device
    /// (resv held).
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable>;

    /// Takes back a table from [`Exporter::map`] (resv held).
    fn unmap(&self, attach: &Attachment, table: OwnedTable, dir: DataDirection);

    /// The buffer is gone: its last reference and its dentry died. The
    /// core drops the data in place right after; a failed export drops it
    /// without this call.
    fn release(self: Pin<&mut Self>);

    /// Prepares CPU access in direction `dir` (resv not held).
    fn begin_cpu_access(&self, _dir: DataDirection) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Ends CPU access in direction `dir` (resv not held).
    fn end_cpu_access(&self, _dir: DataDirection) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Sets up a userspace mapping (resv not held); the core has checked
    /// the range against the buffer size.
    fn mmap(&self, _vma: &VmaNew) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Maps the whole buffer into the kernel (resv held); the core caches
    /// and counts the result.
    fn vmap(&self) -> Result<IosysMap> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Undoes [`Exporter::vmap`] (resv held). The core then clears the
    /// importer's map, as upstream's heaps do in theirs.
    fn vunmap(&self, _map: &IosysMap) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `attach` is being detached (resv not held). An importer must have
    /// unmapped every table of it first; one that did not leaves tables
    /// behind that the exporter can let go of here.
    fn detach(&self, _attach: &Attachment) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Every exporter is what the C table of `sys/dma_buf_ops.rs` calls.
impl<T: Exporter> ExporterCallbacks for T {
    const HAS_BEGIN_CPU_ACCESS: bool = T::HAS_BEGIN_CPU_ACCESS;
    const HAS_END_CPU_ACCESS: bool = T::HAS_END_CPU_ACCESS;
    const HAS_MMAP: bool = T::HAS_MMAP;
    const HAS_VMAP: bool = T::HAS_VMAP;
    const HAS_DETACH: bool = T::HAS_DETACH;

    #[inline]
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable> {
        Exporter::map(self, attach, dir)
    }
    #[inline]
    fn unmap(&self, attach: &Attachment, table: OwnedTable, dir: DataDirection) {
        Exporter::unmap(self, attach, table, dir)
    }
    #[inline]
    fn release(self: Pin<&mut Self>) {
        <T as Exporter>::release(self)
    }
    #[inline]
    fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        Exporter::begin_cpu_access(self, dir)
    }
    #[inline]
    fn end_cpu_access(&self, dir: DataDirection) -> Result {
        Exporter::end_cpu_access(self, dir)
    }
    #[inline]
    fn mmap(&self, vma: &VmaNew) -> Result {
        Exporter::mmap(self, vma)
    }
    #[inline]
    fn vmap(&self) -> Result<IosysMap> {
        Exporter::vmap(self)
    }
    #[inline]
    fn vunmap(&self, map: &IosysMap) {
        Exporter::vunmap(self, map)
    }
    #[inline]
    fn detach(&self, attach: &Attachment) {
        Exporter::detach(self, attach)
    }
}

impl DmaBuf {
    /// Exports the data `data` initializes as a new buffer of `size` bytes
    /// with file `flags`, named `exp_name`. On failure the data, if it was
    /// initialized, is dropped, never released.
    ///
    /// The data lives pinned in the buffer's own allocation, after the C
    /// object: an exporter that holds a lock (which must not move) is its
    /// own exporter data, and a buffer costs one allocation. `T` may not
    /// be aligned beyond `kmalloc`'s guarantee (`ARCH_KMALLOC_MINALIGN`);
    /// such a `T` does not compile.
    pub(crate) fn export_rust<T: Exporter, E>(
        data: impl PinInit<T, E>,
        size: usize,
        flags: i32,
        exp_name: &'static CStr,
    ) -> Result<ARef<DmaBuf>>
    where
        Error: From<E>,
    {
        let info = ExportInfo::new(exp_name, DmaBufOps::of::<T>(), size, flags);
        DmaBuf::export_with(info, |info, exporter, core| {
            info.alloc_with(exporter, core, data)
        })
    }
}
