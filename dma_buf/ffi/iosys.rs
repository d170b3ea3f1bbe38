// SPDX-License-Identifier: GPL-2.0
//! Helpers on the raw `struct iosys_map` that the vmap cache stores.
//!
//! C header: [`include/linux/iosys-map.h`](srctree/include/linux/iosys-map.h)

use super::entry::RawIosysMap;

/// An empty map (`iosys_map_clear`).
// SAFETY: All-zero is the cleared `iosys_map` (NULL address, system memory).
pub(crate) const CLEARED: RawIosysMap = unsafe { core::mem::zeroed() };

/// Whether two maps are equal (`iosys_map_is_equal`).
pub(crate) fn same(a: &RawIosysMap, b: &RawIosysMap) -> bool {
    // SAFETY: Both union members are pointers of the same size.
    a.is_iomem == b.is_iomem && unsafe { a.__bindgen_anon_1.vaddr == b.__bindgen_anon_1.vaddr }
}

/// Whether a map is empty.
pub(crate) fn is_null(a: &RawIosysMap) -> bool {
    same(a, &CLEARED)
}
