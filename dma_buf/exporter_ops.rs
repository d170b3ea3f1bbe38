// SPDX-License-Identifier: GPL-2.0
//! The one place that calls an exporter's operations.
//!
//! Each call is made with the lock its C contract requires, proven by
//! type: the `map`, `unmap`, `pin`, `unpin`, `vmap` and `vunmap`
//! operations are methods of [`LockedDmaBuf`]; `attach`, `detach`, the CPU
//! access operations and `mmap` are methods of [`DmaBuf`], which the
//! unlocked entry points reach without the lock. (`release` runs when
//! nothing can reach the buffer any more.)

use super::locked::LockedDmaBuf;
use crate::sys::attachment::Attachment;
use crate::sys::dma_buf::DmaBuf;
use crate::sys::iosys_map::IosysMap;
use crate::sys::sg_table::MappedTable;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::dma::DataDirection;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;

/// `WARN_ON_ONCE`: warns the first time `cond` holds at the call site that
/// owns `warned`; returns `cond`.
pub(super) fn warn_once(warned: &AtomicBool, cond: bool) -> bool {
    if cond && !warned.swap(true, Ordering::Relaxed) {
        kernel::warn_on!(true);
    }
    cond
}

impl DmaBuf {
    /// The exporter's `attach` for a new, unlinked attachment of this buffer.
    #[inline]
    pub(super) fn exporter_attach(&self, a: &Attachment) -> Result {
        // SAFETY: A new attachment of this buffer, which uses this table;
        // no lock is held, as the operation expects.
        unsafe { self.ops().attach(self, a) }
    }

    /// The exporter's `detach` for an unlinked attachment of this buffer.
    #[inline]
    pub(super) fn exporter_detach(&self, a: &Attachment) {
        // SAFETY: As above, for an attachment just unlinked.
        unsafe { self.ops().detach(self, a) }
    }

    /// The exporter's `begin_cpu_access`.
    #[inline]
    pub(super) fn exporter_begin_cpu_access(&self, dir: DataDirection) -> Result {
        // SAFETY: This buffer's table; the entry points do not hold the lock.
        unsafe { self.ops().begin_cpu_access(self, dir) }
    }

    /// The exporter's `end_cpu_access`.
    #[inline]
    pub(super) fn exporter_end_cpu_access(&self, dir: DataDirection) -> Result {
        // SAFETY: As above.
        unsafe { self.ops().end_cpu_access(self, dir) }
    }

    /// The exporter's `mmap` of a VMA whose bounds were checked.
    #[inline]
    pub(super) fn exporter_mmap(&self, vma: &VmaNew) -> Result {
        // SAFETY: This buffer's table; `vma` is being set up for it.
        unsafe { self.ops().mmap(self, vma) }
    }

    /// The exporter's `release`, once, when nothing can reach the buffer.
    ///
    /// # Safety
    ///
    /// Nothing may use the buffer's exporter data afterwards.
    #[inline]
    pub(super) unsafe fn exporter_release(&self) {
        // SAFETY: By the safety requirements.
        unsafe { self.ops().release(self) }
    }
}

impl LockedDmaBuf<'_> {
    /// Whether `a` is an attachment of this buffer (a C caller may mix
    /// them up; that is a bug, reported once per call site).
    fn owns(&self, a: &Attachment) -> bool {
        !kernel::warn_on!(!a.belongs_to(self.buf()))
    }

    /// The exporter's `pin`.
    #[inline]
    pub(super) fn exporter_pin(&self, a: &Attachment) -> Result {
        if !self.owns(a) {
            return Err(EINVAL);
        }
        // SAFETY: `a` is ours and the lock is held (`self`).
        unsafe { self.buf().ops().pin(a) }
    }

    /// The exporter's `unpin`.
    #[inline]
    pub(super) fn exporter_unpin(&self, a: &Attachment) {
        if self.owns(a) {
            // SAFETY: `a` is ours and the lock is held (`self`).
            unsafe { self.buf().ops().unpin(a) }
        }
    }

    /// The exporter's `map_dma_buf`.
    #[inline]
    pub(super) fn exporter_map(&self, a: &Attachment, dir: DataDirection) -> Result<MappedTable> {
        if !self.owns(a) {
            return Err(EINVAL);
        }
        // SAFETY: `a` is ours and the lock is held (`self`).
        unsafe { self.buf().ops().map(a, dir) }
    }

    /// The exporter's `unmap_dma_buf`.
    ///
    /// # Safety
    ///
    /// `t` must come from [`LockedDmaBuf::exporter_map`] on `a`.
    #[inline]
    pub(super) unsafe fn exporter_unmap(&self, a: &Attachment, t: MappedTable, dir: DataDirection) {
        if self.owns(a) {
            // SAFETY: `a` is ours, the lock is held, `t` by the safety
            // requirements.
            unsafe { self.buf().ops().unmap(a, t, dir) }
        }
    }

    /// The exporter's `vmap`. An exporter that fails it is reported once,
    /// as upstream does (`WARN_ON_ONCE`).
    #[inline]
    pub(super) fn exporter_vmap(&self) -> Result<IosysMap> {
        // SAFETY: The lock is held (`self`).
        let r = unsafe { self.buf().ops().vmap(self.buf()) };
        static WARNED: AtomicBool = AtomicBool::new(false);
        warn_once(&WARNED, r.is_err());
        r
    }

    /// The exporter's `vunmap` of the cached mapping `map`.
    ///
    /// # Safety
    ///
    /// `map` must be the mapping [`LockedDmaBuf::exporter_vmap`] returned.
    #[inline]
    pub(super) unsafe fn exporter_vunmap(&self, map: &mut IosysMap) {
        // SAFETY: The lock is held (`self`); `map` by the safety requirements.
        unsafe { self.buf().ops().vunmap(self.buf(), map) }
    }
}
