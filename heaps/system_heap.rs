// SPDX-License-Identifier: GPL-2.0
//! The `system` heap: pages from the buddy allocator, largest first
//! (1 MiB, 64 KiB, 4 KiB chunks, no reclaim for the large ones), zeroed by
//! the page allocator, charged to the caller's memory cgroup when
//! `mem_accounting` is on.

use crate::ffi::mem::{self, Chunk};
use crate::heap::HeapKind;
use crate::heap_buffer::{HeapBuffer, MmapRule};
use kernel::prelude::*;

/// Chunk orders, largest first.
const ORDERS: [u32; 3] = [8, 4, 0];

/// Allocates `len` (page-aligned) bytes as chunks.
pub(crate) fn allocate_chunks(len: usize) -> Result<KVec<Chunk>> {
    let mut chunks = KVec::new();
    let mut remaining = len;
    let mut max_order = ORDERS[0];
    while remaining > 0 {
        // A killed task stops allocating (its memory is freed on return).
        if mem::fatal_signal_pending() {
            return Err(EINTR);
        }
        let chunk = ORDERS
            .iter()
            .filter(|&&o| o <= max_order && (mem::PAGE_SIZE << o) <= remaining)
            .find_map(|&o| Chunk::alloc_order(o))
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
    fn allocate(
        &self,
        name: &'static CStr,
        len: usize,
        fd_flags: u32,
    ) -> Result<kernel::sync::aref::ARef<crate::ffi::object::DmaBuf>> {
        let chunks = allocate_chunks(len)?;
        HeapBuffer::export(chunks, MmapRule::Any, fd_flags, name)
    }
}
