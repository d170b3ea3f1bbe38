// SPDX-License-Identifier: GPL-2.0
//! Mapping attachments: pinning, the exporter's table, the implicit fence
//! wait of static importers and the debug copy handed to importers.
//!
//! Every function here needs the reservation lock, so each takes a
//! [`ResvHeld`].

use crate::ffi::entry::{self, RawDirection, SgTablePtr};
use crate::ffi::object::Attachment;
use crate::ffi::resv::{ResvHeld, Usage};
use kernel::prelude::*;

/// Whether mapping `a` must pin the buffer: a dynamic exporter serving a
/// static importer.
fn pin_on_map(a: &Attachment) -> bool {
    entry::exporter_pins(a.dma_buf()) && !a.is_dynamic()
}

/// `dma_buf_pin`.
pub(crate) fn pin(a: &Attachment, held: &ResvHeld<'_>) -> Result {
    entry::op_pin(a, held)
}

/// `dma_buf_unpin`.
pub(crate) fn unpin(a: &Attachment, held: &ResvHeld<'_>) {
    entry::op_unpin(a, held)
}

/// `dma_buf_map_attachment`: the table for the importer.
pub(crate) fn map(a: &Attachment, held: &ResvHeld<'_>, dir: RawDirection) -> Result<SgTablePtr> {
    if pin_on_map(a) {
        let r = entry::op_pin(a, held);
        // A static importer cannot cope with a busy buffer.
        if let Err(e) = r {
            kernel::warn_on!(e == EBUSY);
            return Err(e);
        }
    }
    let undo_pin = |a: &Attachment| {
        if pin_on_map(a) {
            entry::op_unpin(a, held);
        }
    };
    let table = match entry::op_map(a, held, dir) {
        Ok(t) => t,
        Err(e) => {
            undo_pin(a);
            return Err(e);
        }
    };
    let ready = if a.is_dynamic() {
        Ok(())
    } else {
        // Static importers cannot see fences: wait for the kernel's.
        held.resv().wait(Usage::Kernel)
    };
    // SAFETY: `table` was just returned by the exporter for `a`.
    let wrapped = ready.and_then(|()| unsafe { entry::wrap_table(table) });
    match wrapped {
        Ok(t) => Ok(t),
        Err(e) => {
            // SAFETY: `table` came from `op_map` on `a`.
            unsafe { entry::op_unmap(a, held, table, dir) };
            undo_pin(a);
            Err(e)
        }
    }
}

/// `dma_buf_unmap_attachment`.
///
/// # Safety
///
/// `table` must come from [`map`] on `a` and not be used afterwards.
pub(crate) unsafe fn unmap(
    a: &Attachment,
    held: &ResvHeld<'_>,
    table: SgTablePtr,
    dir: RawDirection,
) {
    // SAFETY: By the safety requirements.
    unsafe {
        let original = entry::unwrap_table(table);
        entry::op_unmap(a, held, original, dir);
    }
    if pin_on_map(a) {
        entry::op_unpin(a, held);
    }
}
