// SPDX-License-Identifier: GPL-2.0
//! The `system` heap: pages from the buddy allocator, largest first
//! (1 MiB, 64 KiB, 4 KiB chunks, without reclaim or warnings for the large
//! ones), zeroed by the page allocator, charged to the caller's memory
//! cgroup when `mem_accounting` is on. With its pool on (`page_pool_size`,
//! `heaps/pool.rs`), each chunk is a zeroed one of the pool's if it has
//! one, and the buffer rather than its pages carries the memcg charge.
//!
//! And the `system_cc_shared` heap (`DMABUF_HEAPS_SYSTEM_CC_SHARED`): the
//! same pages, shared with the host of a confidential guest (decrypted)
//! for devices that cannot reach private memory; registered only where
//! memory is encrypted, as upstream (see `sys/pages.rs`).

use super::buffer::{Chunks, Flavour, HeapBuffer, Memory};
use super::charge::{self, Policy, Region};
use super::kind::HeapKind;
use super::pool::{Pool, PoolHandle, ORDERS};
use crate::dma_buf::DmaBuf;
use crate::sys::cgroup::{self, MemcgCharge};
use crate::sys::pages::{self, Chunk, Gfp, Sharing, PAGE_SIZE};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

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

/// Where a buffer's chunks come from and how they are charged to the
/// memory cgroup.
pub(crate) struct Supply<'a> {
    /// New chunks carry their charge (`__GFP_ACCOUNT`).
    pub(crate) account: bool,
    /// Zeroed chunks to take before new ones.
    pub(crate) pool: Option<&'a Pool>,
    /// A charge grown by each chunk taken, after it is taken, as
    /// `__GFP_ACCOUNT` charges a page (a buffer that may get pooled pages
    /// cannot leave its charge on them).
    pub(crate) memcg: Option<&'a mut MemcgCharge>,
}

impl Supply<'_> {
    /// The next chunk of a buffer with `remaining` bytes (page-aligned,
    /// not zero) left to allocate, of at most `max_order`: of each order,
    /// largest first, a zeroed chunk from the pool if it has one, else a
    /// new one.
    fn next(&mut self, remaining: usize, max_order: u32) -> Result<Chunk> {
        // A killed task stops allocating (its memory is freed on return).
        if pages::fatal_signal_pending() {
            return Err(EINTR);
        }
        let chunk = ORDERS
            .iter()
            .filter(|&&o| o <= max_order && (PAGE_SIZE << o) <= remaining)
            .find_map(|&o| {
                self.pool
                    .and_then(|p| p.take(o))
                    .or_else(|| Chunk::alloc_order(o, gfp(o, self.account)))
            })
            .ok_or(ENOMEM)?;
        if let Some(m) = self.memcg.as_deref_mut() {
            m.grow(chunk.len())?;
        }
        Ok(chunk)
    }
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

/// Allocates `len` (page-aligned, not zero) bytes as chunks from
/// `supply`. A buffer that fits one chunk needs no array.
pub(crate) fn allocate_chunks(len: usize, mut supply: Supply<'_>) -> Result<Chunks> {
    let first = supply.next(len, ORDERS[0])?;
    if first.len() == len {
        return Ok(Chunks::One(first));
    }
    let mut remaining = len - first.len();
    // Once a smaller order was needed, larger ones are not tried again.
    let mut max_order = first.pages().trailing_zeros();
    let mut chunks = KVVec::with_capacity(chunks_expected(len), GFP_KERNEL)?;
    chunks.push(first, GFP_KERNEL)?;
    while remaining > 0 {
        let chunk = supply.next(remaining, max_order)?;
        remaining -= chunk.len();
        max_order = chunk.pages().trailing_zeros();
        chunks.push(chunk, GFP_KERNEL)?;
    }
    Ok(Chunks::Many(chunks))
}

/// The heap: `system` with private pages and a pool (used while
/// `page_pool_size` is set), `system_cc_shared` with shared ones.
pub(crate) struct SystemHeap {
    sharing: Sharing,
    region: Region,
    pool: Option<PoolHandle>,
}

impl SystemHeap {
    /// The heap `name` of `sharing` pages, with its dmem region.
    pub(crate) fn new(name: &CStr, sharing: Sharing) -> SystemHeap {
        // Shared pages would have to be made private to be pooled.
        let pool = match sharing {
            Sharing::Private => PoolHandle::new()
                .inspect_err(|e| pr_warn!("dma_heap: system heap without a pool: {:?}\n", e))
                .ok(),
            Sharing::Shared => None,
        };
        SystemHeap {
            sharing,
            // The page allocator's memory is the region's capacity.
            region: Region::register(c"dma_heap", name, cgroup::total_ram()),
            pool,
        }
    }
}

impl HeapKind for SystemHeap {
    fn allocate(&self, name: &'static CStr, len: usize, fd_flags: u32) -> Result<ARef<DmaBuf>> {
        let policy = Policy::of(name);
        let memcg = policy.memcg || pages::mem_accounting();
        // The pages carry their memcg charge (`__GFP_ACCOUNT`): only dmem
        // is charged apart. While the pool is on, pages may change owners
        // and carry none: the buffer holds the charge (`heaps/pool.rs`).
        let pool = self
            .pool
            .as_ref()
            .map(PoolHandle::pool)
            .filter(|_| pages::page_pool_size() > 0);
        let apart = Policy {
            memcg: false,
            ..policy
        };
        let charges = charge::charge(&self.region, apart, len)?;
        let mut grown = match pool {
            Some(_) if memcg => MemcgCharge::charge_current(0)?,
            _ => None,
        };
        let chunks = allocate_chunks(
            len,
            Supply {
                account: memcg && pool.is_none(),
                pool,
                memcg: grown.as_mut(),
            },
        )?;
        let charges = charge::add_memcg(charges, grown)?;
        let memory = match self.sharing {
            Sharing::Private if pool.is_some() => Memory::pooled(chunks),
            Sharing::Private => Memory::private(chunks, Flavour::System),
            Sharing::Shared => Memory::shared(chunks, Flavour::System)?,
        };
        HeapBuffer::export(memory, charges, fd_flags, name)
    }
}
