// SPDX-License-Identifier: GPL-2.0
//! Contiguous memory allocator areas (`struct cma`).
//!
//! C header: [`include/linux/cma.h`](srctree/include/linux/cma.h)

use super::glue;
use super::pages::{Chunk, Source};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// A CMA area.
///
/// # Invariants
///
/// The area is registered at boot and never goes away.
#[derive(Clone, Copy)]
pub(crate) struct CmaArea(NonNull<bindings::cma>);

// SAFETY: CMA areas are global, static and internally locked.
unsafe impl Send for CmaArea {}
// SAFETY: As above.
unsafe impl Sync for CmaArea {}

impl CmaArea {
    /// The default area (`dev_get_cma_area(NULL)`).
    pub(crate) fn default_area() -> Option<CmaArea> {
        // SAFETY: Reads a global.
        NonNull::new(unsafe { glue::dmabuf_rs_default_cma() }).map(CmaArea)
    }

    /// The `idx`-th area, `None` past the last.
    pub(crate) fn by_index(idx: u32) -> Option<CmaArea> {
        // SAFETY: Any index is allowed.
        NonNull::new(unsafe { glue::dma_contiguous_get_area_by_idx(idx) }).map(CmaArea)
    }

    /// The area's name.
    pub(crate) fn name(&self) -> &'static CStr {
        // SAFETY: A valid area (type invariant); CMA names are static.
        unsafe { CStr::from_char_ptr(glue::cma_get_name(self.0.as_ptr())) }
    }

    /// The area's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: A valid area (type invariant).
        unsafe { glue::cma_get_size(self.0.as_ptr()) as u64 }
    }

    /// Whether `self` and `other` are the same area.
    pub(crate) fn is(&self, other: &CmaArea) -> bool {
        self.0 == other.0
    }

    /// Allocates `count` contiguous pages aligned to
    /// `2^min(order, CONFIG_CMA_ALIGNMENT)` pages; not zeroed.
    pub(crate) fn alloc(&self, count: usize, order: u32) -> Option<Chunk> {
        // SAFETY: Reads a constant.
        let align = order.min(unsafe { glue::dmabuf_rs_cma_alignment() });
        // SAFETY: A valid area; failure returns NULL.
        let page = unsafe { glue::cma_alloc(self.0.as_ptr(), count, align, false) };
        // SAFETY: A new allocation of `count` pages from this area.
        NonNull::new(page).map(|p| unsafe { Chunk::from_raw(p, count, Source::Cma(self.0)) })
    }
}
