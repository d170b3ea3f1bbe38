// SPDX-License-Identifier: GPL-2.0
//! CMA heaps: physically contiguous buffers from the CMA areas, one heap
//! per area (`default_cma_region` for the default area, and each area
//! under its own name, e.g. `reserved` for the `cma=` area).

use super::buffer::{Chunks, Flavour, HeapBuffer, Memory};
use super::kind::HeapKind;
use crate::dma_buf::DmaBuf;
use crate::sys::cma::CmaArea;
use crate::sys::pages::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A CMA heap over one area.
pub(crate) struct CmaHeap(pub(crate) CmaArea);

impl HeapKind for CmaHeap {
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>> {
        let pages = len / PAGE_SIZE;
        // Align to the allocation's order (capped by CONFIG_CMA_ALIGNMENT).
        let order = pages.next_power_of_two().trailing_zeros();
        let chunk = self.0.alloc(pages, order).ok_or(ENOMEM)?;
        // CMA memory is not zeroed by the allocator: clear it in one extent.
        chunk.zero();
        HeapBuffer::export(
            Memory::private(Chunks::One(chunk)),
            Flavour::Cma,
            fd_flags,
            name,
        )
    }
}

/// The heaps to register: the default area first, then every area.
pub(crate) fn areas() -> Result<KVec<(&'static CStr, CmaArea)>> {
    let mut v = KVec::new();
    if let Some(def) = CmaArea::default_area() {
        v.push((c"default_cma_region", def), GFP_KERNEL)?;
    }
    let mut i = 0;
    while let Some(area) = CmaArea::by_index(i) {
        v.push((area.name(), area), GFP_KERNEL)?;
        i += 1;
    }
    Ok(v)
}
