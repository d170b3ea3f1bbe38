// SPDX-License-Identifier: GPL-2.0
//! The `system` heap: pages from the buddy allocator, largest first
//! (1 MiB, 64 KiB, 4 KiB chunks, without reclaim or warnings for the large
//! ones), zeroed by the page allocator, charged to the caller's memory
//! cgroup when `mem_accounting` is on.

use super::buffer::{HeapBuffer, MmapRule};
use super::kind::HeapKind;
use crate::dma_buf::DmaBuf;
use crate::sys::pages::{self, Chunk, Gfp, PAGE_SIZE};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// Chunk orders, largest first.
const ORDERS: [u32; 3] = [8, 4, 0];

/// The flags for a chunk of `order`: order 0 may reclaim, larger ones give
/// up at once (a smaller order is tried instead).
fn gfp(order: u32) -> Gfp {
    let low = Gfp::HIGHUSER.with(Gfp::ZERO);
    let gfp = if order > 0 {
        low.with(Gfp::NOWARN)
            .with(Gfp::NORETRY)
            .without(Gfp::RECLAIM)
            .with(Gfp::COMP)
    } else {
        low
    };
    if pages::mem_accounting() {
        gfp.with(Gfp::ACCOUNT)
    } else {
        gfp
    }
}

/// Allocates `len` (page-aligned) bytes as chunks.
pub(crate) fn allocate_chunks(len: usize) -> Result<KVVec<Chunk>> {
    let mut chunks = KVVec::new();
    let mut remaining = len;
    let mut max_order = ORDERS[0];
    while remaining > 0 {
        // A killed task stops allocating (its memory is freed on return).
        if pages::fatal_signal_pending() {
            return Err(EINTR);
        }
        let chunk = ORDERS
            .iter()
            .filter(|&&o| o <= max_order && (PAGE_SIZE << o) <= remaining)
            .find_map(|&o| Chunk::alloc_order(o, gfp(o)))
            .ok_or(ENOMEM)?;
        remaining -= chunk.len();
        // Once a smaller order was needed, larger ones are not tried again.
        max_order = chunk.pages().trailing_zeros();
        chunks.push(chunk, GFP_KERNEL)?;
    }
    Ok(chunks)
}

/// The heap.
pub(crate) struct SystemHeap;

impl HeapKind for SystemHeap {
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>> {
        HeapBuffer::export(allocate_chunks(len)?, MmapRule::Any, fd_flags, name)
    }
}
