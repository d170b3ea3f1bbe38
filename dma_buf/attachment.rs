// SPDX-License-Identifier: GPL-2.0
//! Attachments: attach and detach, pinning, and mapping for the attached
//! device (the exporter's table, the implicit fence wait of static
//! importers, and the `CONFIG_DMABUF_DEBUG` copy).

use super::exporter_ops::warn_once;
use super::locked::LockedDmaBuf;
use crate::sys::attachment::AttachOps;
use crate::sys::attachment::Attachment;
use crate::sys::dma_buf::DmaBuf;
use crate::sys::resv::Usage;
use crate::sys::sg_table::MappedTable;
use core::sync::atomic::AtomicBool;
use kernel::device::Device;
use kernel::dma::DataDirection;
use kernel::prelude::*;

impl DmaBuf {
    /// Attaches `dev` (`dma_buf_dynamic_attach`); a dynamic importer brings
    /// `importer_ops`. The attachment lives until [`DmaBuf::detach`].
    ///
    /// # Safety
    ///
    /// `dev` must stay alive until the attachment is detached: like C, the
    /// core takes no reference on the importer's device.
    pub(crate) unsafe fn attach(
        &self,
        dev: &Device,
        importer_ops: Option<&'static AttachOps>,
        importer_priv: *mut core::ffi::c_void,
    ) -> Result<&Attachment> {
        let ops = importer_ops.map_or(core::ptr::null(), core::ptr::from_ref);
        // SAFETY: `importer_ops` is static; `dev` outlives the attachment
        // by the safety requirements.
        let new = unsafe { Attachment::alloc(self, dev, ops, importer_priv)? };
        self.exporter_attach(new.get())?;
        let a = new.publish();
        a.ledger_attached();
        self.lock().link(a);
        self.trace_attach(a);
        Ok(a)
    }

    /// Detaches and frees `a` (`dma_buf_detach`).
    ///
    /// # Safety
    ///
    /// `a` must be an unmapped attachment of this buffer, not used
    /// afterwards.
    pub(crate) unsafe fn detach(&self, a: &Attachment) {
        a.ledger_detaching();
        self.lock().unlink(a);
        self.exporter_detach(a);
        self.trace_detach(a);
        // SAFETY: Unlinked above; by the safety requirements nothing uses it.
        unsafe { Attachment::free(a.as_raw()) };
    }
}

impl LockedDmaBuf<'_> {
    fn link(&self, a: &Attachment) {
        self.buf().link_attachment(self.held(), a);
    }

    fn unlink(&self, a: &Attachment) {
        self.buf().unlink_attachment(self.held(), a);
    }

    /// Calls `f` on each attachment.
    pub(crate) fn for_each_attachment(&self, f: impl FnMut(&Attachment)) {
        self.buf().for_each_attachment(self.held(), f);
    }

    /// Whether mapping `a` must pin the buffer: a dynamic exporter serving
    /// a static importer.
    fn pins_on_map(&self, a: &Attachment) -> bool {
        self.buf().ops().can_pin() && !a.is_dynamic()
    }

    /// `dma_buf_pin`: pins the buffer for a dynamic importer.
    pub(crate) fn pin(&self, a: &Attachment) -> Result {
        kernel::warn_on!(!a.is_dynamic());
        self.exporter_pin(a)?;
        a.ledger_pinned(true);
        Ok(())
    }

    /// `dma_buf_unpin`.
    pub(crate) fn unpin(&self, a: &Attachment) {
        kernel::warn_on!(!a.is_dynamic());
        self.exporter_unpin(a);
        a.ledger_pinned(false);
    }

    /// `dma_buf_map_attachment`: the table of the buffer for `a`'s device.
    pub(crate) fn map(&self, a: &Attachment, dir: DataDirection) -> Result<MappedTable> {
        let pinned = self.pins_on_map(a);
        if pinned {
            // A static importer cannot cope with a busy buffer (reported
            // once, as upstream).
            if let Err(e) = self.exporter_pin(a) {
                static WARNED: AtomicBool = AtomicBool::new(false);
                warn_once(&WARNED, e == EBUSY);
                return Err(e);
            }
        }
        let undo_pin = || {
            if pinned {
                self.exporter_unpin(a);
            }
        };
        let table = match self.exporter_map(a, dir) {
            Ok(t) => t,
            Err(e) => {
                undo_pin();
                return Err(e);
            }
        };
        // Static importers cannot see fences: wait for the kernel's.
        let ready = if a.is_dynamic() {
            Ok(())
        } else {
            self.held().resv().wait(Usage::Kernel)
        };
        let handed = match ready {
            Ok(()) if cfg!(CONFIG_DMABUF_DEBUG) => table.dma_only_copy(),
            Ok(()) => Ok(table),
            Err(e) => Err((e, table)),
        };
        let handed = handed.map_err(|(e, table)| {
            // SAFETY: `table` came from the exporter for `a`.
            unsafe { self.exporter_unmap(a, table, dir) };
            undo_pin();
            e
        })?;
        a.ledger_mapped(dir);
        Ok(handed)
    }

    /// `dma_buf_unmap_attachment`.
    ///
    /// # Safety
    ///
    /// `table` must come from [`LockedDmaBuf::map`] on `a`.
    pub(crate) unsafe fn unmap(&self, a: &Attachment, table: MappedTable, dir: DataDirection) {
        let table = if cfg!(CONFIG_DMABUF_DEBUG) {
            // SAFETY: `map` handed out the debug copy.
            unsafe { table.undo_dma_only_copy() }
        } else {
            table
        };
        a.ledger_unmapped(dir);
        // SAFETY: The exporter's table for `a`.
        unsafe { self.exporter_unmap(a, table, dir) };
        if self.pins_on_map(a) {
            self.exporter_unpin(a);
        }
    }

    /// `dma_buf_invalidate_mappings`: tells every importer that can handle
    /// it to drop its mappings.
    pub(crate) fn invalidate_mappings(&self) {
        let held = self.held();
        self.for_each_attachment(|a| a.invalidate_mappings(held));
    }
}
