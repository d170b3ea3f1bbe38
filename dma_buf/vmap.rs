// SPDX-License-Identifier: GPL-2.0
//! Whole-buffer kernel mappings, refcounted and cached per buffer.
//!
//! The first `vmap` asks the exporter; later ones get the cached mapping
//! and bump the count; the last `vunmap` gives it back. The count and the
//! cached mapping are protected by the reservation lock, so both functions
//! take a [`ResvHeld`].

use crate::ffi::entry::{self, RawIosysMap};
pub(crate) use crate::ffi::iosys::{is_null, same, CLEARED};
use crate::ffi::object::DmaBuf;
use crate::ffi::resv::ResvHeld;
use kernel::prelude::*;

/// `dma_buf_vmap`.
pub(crate) fn vmap(buf: &DmaBuf, held: &ResvHeld<'_>) -> Result<RawIosysMap> {
    if !entry::has_vmap(buf) {
        return Err(EINVAL);
    }
    let (count, cached) = buf.vmap_state(held);
    if count > 0 {
        kernel::warn_on!(is_null(&cached));
        buf.set_vmap_state(held, count.checked_add(1).ok_or(EOVERFLOW)?, cached);
        return Ok(cached);
    }
    kernel::warn_on!(!is_null(&cached));
    let map = entry::op_vmap(buf, held)?;
    buf.set_vmap_state(held, 1, map);
    Ok(map)
}

/// `dma_buf_vunmap`. An unbalanced or mismatched call is refused with a
/// warning instead of crashing the kernel.
pub(crate) fn vunmap(buf: &DmaBuf, held: &ResvHeld<'_>, map: &RawIosysMap) {
    let (count, cached) = buf.vmap_state(held);
    if kernel::warn_on!(count == 0 || is_null(&cached) || !same(&cached, map)) {
        return;
    }
    if count == 1 {
        entry::op_vunmap(buf, held, map);
        buf.set_vmap_state(held, 0, CLEARED);
    } else {
        buf.set_vmap_state(held, count - 1, cached);
    }
}
