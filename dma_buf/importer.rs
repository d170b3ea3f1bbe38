// SPDX-License-Identifier: GPL-2.0
//! The importer side of the safe Rust API.
//!
//! Every paired operation is a guard: an [`AttachmentGuard`] detaches on
//! drop, a [`Mapping`] unmaps, a [`CpuAccess`] ends the access bracket and a
//! [`Vmap`] drops its vmap reference. A guard borrows what it came from, so
//! a buffer cannot be detached while mapped, nor unbalanced calls written.

use crate::ffi::object::DmaBuf;
use crate::ffi::resv::{ResvGuard, ResvHeld};
use crate::ffi::rust_api;
use core::ptr::NonNull;
use kernel::device::{Device, DeviceContext};
use kernel::dma::DataDirection;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;

/// A device attached to a dma-buf; detaches on drop.
pub(crate) struct AttachmentGuard<'a> {
    buf: &'a DmaBuf,
    raw: NonNull<rust_api::RawAttachment>,
}

impl DmaBuf {
    /// Attaches `dev` as a static importer.
    pub(crate) fn attach_guard<'a, Ctx: DeviceContext>(
        &'a self,
        dev: &Device<Ctx>,
    ) -> Result<AttachmentGuard<'a>> {
        Ok(AttachmentGuard {
            buf: self,
            raw: self.attach_device(dev)?,
        })
    }

    /// Starts CPU access in `dir` (exporter cache maintenance plus the
    /// implicit fence wait); the returned bracket ends it on drop.
    pub(crate) fn begin_cpu_access_guard(&self, dir: DataDirection) -> Result<CpuAccess<'_>> {
        crate::cpu_access::begin(self, rust_api::raw_dir(dir))?;
        Ok(CpuAccess { buf: self, dir })
    }

    /// Maps the whole buffer into the kernel (refcounted and cached).
    pub(crate) fn vmap_guard(&self) -> Result<Vmap<'_>> {
        let vaddr = self.vmap_unlocked()?;
        Ok(Vmap { buf: self, vaddr })
    }
}

impl DmaBuf {
    /// Takes the buffer's reservation lock, for the `*_locked` operations.
    pub(crate) fn lock_resv(&self) -> ResvGuard<'_> {
        self.resv().lock()
    }
}

impl AttachmentGuard<'_> {
    /// Maps the attachment while the caller holds the buffer's
    /// reservation lock; the mapping cannot outlive that proof.
    pub(crate) fn map_locked<'g>(
        &'g self,
        held: &'g ResvHeld<'g>,
        dir: DataDirection,
    ) -> Result<LockedMapping<'g>> {
        // SAFETY: The attachment is live while the guard is.
        let table = unsafe { rust_api::map_locked(self.raw, held, dir)? };
        Ok(LockedMapping {
            attach: self,
            held,
            table,
            dir,
        })
    }

    /// Maps the attachment for DMA in `dir` (takes the resv lock).
    pub(crate) fn map(&self, dir: DataDirection) -> Result<Mapping<'_>> {
        // SAFETY: The attachment is live while the guard is.
        let table = unsafe { rust_api::map_unlocked(self.raw, dir)? };
        Ok(Mapping {
            attach: self,
            table,
            dir,
        })
    }
}

impl Drop for AttachmentGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Live and unmapped: every `Mapping` borrows the guard.
        unsafe { rust_api::detach(self.buf, self.raw) };
    }
}

/// A mapped attachment; unmaps on drop.
pub(crate) struct Mapping<'a> {
    attach: &'a AttachmentGuard<'a>,
    table: NonNull<rust_api::RawTable>,
    dir: DataDirection,
}

impl Mapping<'_> {
    /// The DMA addresses of the buffer for the importer's device.
    pub(crate) fn table(&self) -> &SGTable {
        // SAFETY: The table is mapped while `self` lives.
        unsafe { rust_api::borrow_table(self.table) }
    }
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        // SAFETY: `table` came from mapping this attachment with `dir`.
        unsafe { rust_api::unmap_unlocked(self.attach.raw, self.table, self.dir) };
    }
}

/// A mapping made under the reservation lock; unmapped (still under it)
/// on drop.
pub(crate) struct LockedMapping<'g> {
    attach: &'g AttachmentGuard<'g>,
    held: &'g ResvHeld<'g>,
    table: NonNull<rust_api::RawTable>,
    dir: DataDirection,
}

impl LockedMapping<'_> {
    /// The DMA addresses of the buffer for the importer's device.
    pub(crate) fn table(&self) -> &SGTable {
        // SAFETY: The table is mapped while `self` lives.
        unsafe { rust_api::borrow_table(self.table) }
    }
}

impl Drop for LockedMapping<'_> {
    fn drop(&mut self) {
        // SAFETY: `table` came from mapping this attachment under `held`,
        // which is still held (it outlives `self`).
        unsafe { rust_api::unmap_locked(self.attach.raw, self.held, self.table, self.dir) };
    }
}

/// A CPU access bracket; `end_cpu_access` on drop.
pub(crate) struct CpuAccess<'a> {
    buf: &'a DmaBuf,
    dir: DataDirection,
}

impl Drop for CpuAccess<'_> {
    fn drop(&mut self) {
        // An exporter error at the end of a bracket cannot be returned
        // from a drop; it is reported.
        if let Err(e) = crate::cpu_access::end(self.buf, rust_api::raw_dir(self.dir)) {
            pr_warn!("end_cpu_access failed: {:?}\n", e);
        }
    }
}

/// A kernel mapping of the whole buffer; drops its reference on drop.
pub(crate) struct Vmap<'a> {
    buf: &'a DmaBuf,
    vaddr: *mut u8,
}

impl Vmap<'_> {
    /// The kernel address (system memory).
    pub(crate) fn addr(&self) -> *mut u8 {
        self.vaddr
    }

    /// Copies `out.len()` bytes at `offset` out of the buffer.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        let end = offset.checked_add(out.len()).ok_or(EINVAL)?;
        if end > self.buf.size() {
            return Err(EINVAL);
        }
        // SAFETY: In bounds of the mapping, which lives while `self` does.
        unsafe {
            core::ptr::copy_nonoverlapping(self.vaddr.add(offset), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Copies `data` into the buffer at `offset`.
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(EINVAL)?;
        if end > self.buf.size() {
            return Err(EINVAL);
        }
        // SAFETY: In bounds of the mapping, which lives while `self` does.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.vaddr.add(offset), data.len())
        };
        Ok(())
    }

    /// Page-wise (kmap-style) access: the bytes of page `index`.
    pub(crate) fn read_page(&self, index: usize, out: &mut [u8; 4096]) -> Result {
        self.read(index.checked_mul(4096).ok_or(EINVAL)?, out)
    }
}

impl Drop for Vmap<'_> {
    fn drop(&mut self) {
        self.buf.vunmap_unlocked(self.vaddr);
    }
}
