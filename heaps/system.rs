// SPDX-License-Identifier: GPL-2.0
//! The `system` heap: pages from the buddy allocator, largest first
//! (1 MiB, 64 KiB, 4 KiB chunks, without reclaim or warnings for the large
//! ones), zeroed by the page allocator, charged to the caller's memory
//! cgroup when `mem_accounting` is on.
//!
//! And the `system_cc_shared` heap (`DMABUF_HEAPS_SYSTEM_CC_SHARED`): the
//! same pages, shared with the host of a confidential guest (decrypted)
//! for devices that cannot reach private memory; registered only where
//! memory is encrypted, as upstream (see `sys/pages.rs`).

use super::buffer::{Chunks, Flavour, HeapBuffer, Memory};
use super::charge::{self, Policy, Region};
use super::kind::HeapKind;
use crate::dma_buf::DmaBuf;
use crate::sys::cgroup;
use crate::sys::pages::{self, Chunk, Gfp, Sharing, PAGE_SIZE};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

/// Chunk orders, largest first.
const ORDERS: [u32; 3] = [8, 4, 0];

/// The flags for a chunk of `order`: order 0 may reclaim, larger ones give
/// up at once (a smaller order is tried instead); charged to the memory
/// cgroup when `account`.
fn gfp(order: u32, account: bool) -> Gfp {
    let low = Gfp::HIGHUSER.with(Gfp::ZERO);
    let gfp = if order > 0 {
        low.with(Gfp::NOWARN)
            .with(Gfp::NORETRY)
            .without(Gfp::RECLAIM)
            .with(Gfp::COMP)
    } else {
        low
    };
    if account {
        gfp.with(Gfp::ACCOUNT)
    } else {
        gfp
    }
}

/// The next chunk of a buffer with `remaining` bytes (page-aligned, not
/// zero) left to allocate, of at most `max_order`.
fn next_chunk(remaining: usize, max_order: u32, account: bool) -> Result<Chunk> {
    // A killed task stops allocating (its memory is freed on return).
    if pages::fatal_signal_pending() {
        return Err(EINTR);
    }
    ORDERS
        .iter()
        .filter(|&&o| o <= max_order && (PAGE_SIZE << o) <= remaining)
        .find_map(|&o| Chunk::alloc_order(o, gfp(o, account)))
        .ok_or(ENOMEM)
}

/// How many chunks `len` bytes take when every allocation gets the largest
/// order that fits (more are needed only when large orders fail).
fn chunks_expected(len: usize) -> usize {
    let mut n = 0;
    let mut rest = len;
    for o in ORDERS {
        n += rest / (PAGE_SIZE << o);
        rest %= PAGE_SIZE << o;
    }
    n
}

/// Allocates `len` (page-aligned, not zero) bytes as chunks, charged to
/// the memory cgroup when `account`. A buffer that fits one chunk needs
/// no array.
pub(crate) fn allocate_chunks(len: usize, account: bool) -> Result<Chunks> {
    let first = next_chunk(len, ORDERS[0], account)?;
    if first.len() == len {
        return Ok(Chunks::One(first));
    }
    let mut remaining = len - first.len();
    // Once a smaller order was needed, larger ones are not tried again.
    let mut max_order = first.pages().trailing_zeros();
    let mut chunks = KVVec::with_capacity(chunks_expected(len), GFP_KERNEL)?;
    chunks.push(first, GFP_KERNEL)?;
    while remaining > 0 {
        let chunk = next_chunk(remaining, max_order, account)?;
        remaining -= chunk.len();
        max_order = chunk.pages().trailing_zeros();
        chunks.push(chunk, GFP_KERNEL)?;
    }
    Ok(Chunks::Many(chunks))
}

/// The heap: `system` with private pages, `system_cc_shared` with shared
/// ones.
pub(crate) struct SystemHeap {
    sharing: Sharing,
    region: Region,
}

impl SystemHeap {
    /// The heap `name` of `sharing` pages, with its dmem region.
    pub(crate) fn new(name: &CStr, sharing: Sharing) -> SystemHeap {
        SystemHeap {
            sharing,
            // The page allocator's memory is the region's capacity.
            region: Region::register(c"dma_heap", name, cgroup::total_ram()),
        }
    }
}

impl HeapKind for SystemHeap {
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>> {
        let policy = Policy::of(name);
        // The pages carry their memcg charge (`__GFP_ACCOUNT`): only dmem
        // is charged apart.
        let apart = Policy {
            memcg: false,
            ..policy
        };
        let charges = charge::charge(&self.region, apart, len)?;
        let chunks = allocate_chunks(len, policy.memcg || pages::mem_accounting())?;
        let memory = match self.sharing {
            Sharing::Private => Memory::private(chunks, Flavour::System),
            Sharing::Shared => Memory::shared(chunks, Flavour::System)?,
        };
        HeapBuffer::export(memory, charges, fd_flags, name)
    }
}
