// SPDX-License-Identifier: GPL-2.0
//! Whole-buffer kernel mappings, refcounted and cached per buffer.
//!
//! The first `vmap` asks the exporter; later ones get the cached mapping
//! and count it; the last `vunmap` gives it back. Count and cache live in
//! the C object (`vmapping_counter`, `vmap_ptr`) under the reservation
//! lock, so both operations are methods of [`LockedDmaBuf`].

use super::locked::LockedDmaBuf;
use crate::sys::iosys_map::IosysMap;
use kernel::prelude::*;

impl LockedDmaBuf<'_> {
    /// `dma_buf_vmap`. Always inlined into its two entry points: the
    /// repeated-vmap path is a handful of loads and stores, and the call
    /// with its result returned through memory cost a fifth of it
    /// (the instruction profile of B7, `vmap-repeat`).
    #[inline(always)]
    pub(crate) fn vmap(&self) -> Result<IosysMap> {
        if !self.buf().ops().has_vmap() {
            return Err(EINVAL);
        }
        let (count, cached) = self.buf().vmap_state(self.held());
        if count > 0 {
            kernel::warn_on!(cached.is_null());
            let count = count.checked_add(1).ok_or(EOVERFLOW)?;
            self.buf().set_vmap_count(self.held(), count);
            self.buf().ledger_vmap();
            return Ok(cached);
        }
        kernel::warn_on!(!cached.is_null());
        let map = self.exporter_vmap()?;
        self.buf().set_vmap_state(self.held(), 1, map);
        self.buf().ledger_vmap();
        Ok(map)
    }

    /// `dma_buf_vunmap`: drops one count of the mapping `map`; the last
    /// one hands `map` itself to the exporter. An unbalanced or mismatched
    /// call is refused with a warning instead of stopping the kernel (C
    /// uses `BUG_ON`).
    #[inline]
    pub(crate) fn vunmap(&self, map: &mut IosysMap) {
        let (count, cached) = self.buf().vmap_state(self.held());
        if kernel::warn_on!(count == 0 || cached.is_null() || !cached.is_equal(map)) {
            return;
        }
        if count == 1 {
            // SAFETY: `map` is the cached mapping `exporter_vmap` returned.
            unsafe { self.exporter_vunmap(map) };
            self.buf().set_vmap_state(self.held(), 0, IosysMap::CLEARED);
        } else {
            self.buf().set_vmap_count(self.held(), count - 1);
        }
    }

    /// The number of vmap references.
    pub(crate) fn vmap_count(&self) -> u32 {
        self.buf().vmap_state(self.held()).0
    }
}
