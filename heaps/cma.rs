// SPDX-License-Identifier: GPL-2.0
//! CMA heaps: physically contiguous buffers from the CMA areas, one heap
//! per area (`default_cma_region` for the default area, and each area
//! under its own name, e.g. `reserved` for the `cma=` area).

use super::buffer::{Chunks, Flavour, HeapBuffer, Memory};
use super::charge::{self, Policy, Region};
use super::kind::HeapKind;
use crate::dma_buf::DmaBuf;
use crate::sys::cma::CmaArea;
use crate::sys::pages::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// A CMA heap over one area, with the area's dmem region.
pub(crate) struct CmaHeap {
    area: CmaArea,
    region: Region,
}

impl HeapKind for CmaHeap {
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>> {
        // Charged first: a refused charge takes no CMA pages.
        let charges = charge::charge(&self.region, Policy::of(name), len)?;
        let pages = len / PAGE_SIZE;
        // Align to the allocation's order (capped by CONFIG_CMA_ALIGNMENT).
        let order = pages.next_power_of_two().trailing_zeros();
        let chunk = self.area.alloc(pages, order).ok_or(ENOMEM)?;
        // CMA memory is not zeroed by the allocator: clear it in one extent.
        chunk.zero();
        HeapBuffer::export(
            Memory::private(Chunks::One(chunk), Flavour::Cma),
            charges,
            fd_flags,
            name,
        )
    }
}

/// The heaps to register: the default area first, then every area; the
/// heaps of one area share its dmem region, `cma/<area>`.
pub(crate) fn heaps() -> Result<KVec<(&'static CStr, CmaHeap)>> {
    let mut areas = KVec::new();
    if let Some(def) = CmaArea::default_area() {
        areas.push((c"default_cma_region", def), GFP_KERNEL)?;
    }
    let mut i = 0;
    while let Some(area) = CmaArea::by_index(i) {
        areas.push((area.name(), area), GFP_KERNEL)?;
        i += 1;
    }
    let mut heaps: KVec<(&'static CStr, CmaHeap)> = KVec::with_capacity(areas.len(), GFP_KERNEL)?;
    for (name, area) in areas {
        let region = match heaps.iter().find(|(_, h)| h.area.is(&area)) {
            Some((_, h)) => h.region.clone(),
            None => Region::register(c"cma", area.name(), area.size()),
        };
        heaps.push((name, CmaHeap { area, region }), GFP_KERNEL)?;
    }
    Ok(heaps)
}
