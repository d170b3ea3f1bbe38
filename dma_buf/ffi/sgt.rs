// SPDX-License-Identifier: GPL-2.0
//! Scatter-gather tables handed to importers.
//!
//! With `CONFIG_DMABUF_DEBUG` importers get a copy of the exporter's table
//! that carries only DMA addresses, so an importer that touches `struct
//! page` through it is caught.

use kernel::bindings;
use kernel::prelude::*;

/// The debug copy of a table and the exporter's original.
#[repr(C)]
struct Wrapper {
    original: *mut bindings::sg_table,
    wrapper: bindings::sg_table,
}

/// Wraps the exporter's `table` for the importer (debug builds only).
///
/// # Safety
///
/// `table` must be a valid, DMA-mapped table.
pub(crate) unsafe fn wrap(table: *mut bindings::sg_table) -> Result<*mut bindings::sg_table> {
    if !cfg!(CONFIG_DMABUF_DEBUG) {
        return Ok(table);
    }
    let w = KBox::new(
        Wrapper {
            original: table,
            // SAFETY: `sg_table` is plain data for which zero is a valid value.
            wrapper: unsafe { core::mem::zeroed() },
        },
        GFP_KERNEL,
    )?;
    let w = KBox::into_raw(w);
    // SAFETY: `w` is ours; `table` is valid by the safety requirements.
    unsafe {
        let nents = (*table).nents;
        let ret = bindings::sg_alloc_table(&mut (*w).wrapper, nents, bindings::GFP_KERNEL);
        if ret != 0 {
            drop(KBox::from_raw(w));
            return Err(Error::from_errno(ret));
        }
        let mut from = (*table).sgl;
        let mut to = (*w).wrapper.sgl;
        for _ in 0..nents {
            super::dmabuf_rs_sg_set_dma_only(
                to,
                bindings::sg_dma_address(from),
                bindings::sg_dma_len(from),
            );
            from = bindings::sg_next(from);
            to = bindings::sg_next(to);
        }
        Ok(&mut (*w).wrapper)
    }
}

/// Undoes [`wrap`]: frees the copy and returns the exporter's table.
///
/// # Safety
///
/// `table` must come from [`wrap`] and not be used afterwards.
pub(crate) unsafe fn unwrap(table: *mut bindings::sg_table) -> *mut bindings::sg_table {
    if !cfg!(CONFIG_DMABUF_DEBUG) {
        return table;
    }
    // SAFETY: `table` is the `wrapper` field of a `Wrapper` made by `wrap`.
    unsafe {
        let w = table
            .byte_sub(core::mem::offset_of!(Wrapper, wrapper))
            .cast::<Wrapper>();
        let original = (*w).original;
        bindings::sg_free_table(table);
        drop(KBox::from_raw(w));
        original
    }
}
