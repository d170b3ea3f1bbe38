// SPDX-License-Identifier: GPL-2.0
//! The system heap's pool of zeroed pages: not upstream (Android's kernels
//! keep such pools), off unless `page_pool_size` is set.
//!
//! With a cap of `page_pool_size` pages, a freed system-heap buffer's
//! chunks go to per-order stacks instead of the page allocator, as long as
//! the pool has room. They arrive dirty: a background work item zeroes
//! them and moves them to the clean stacks (or the free itself does, with
//! `page_pool_zero_at_free`). An ALLOC takes clean chunks of each order
//! before it asks the page allocator; a dirty chunk is never handed out,
//! so no buffer ever shows its pages' last owner's data, however far
//! behind the worker is. Reclaim takes pages back through a shrinker
//! (dirty ones first), and lowering the cap frees the excess at once.
//!
//! Charging: a pooled page belongs to no cgroup. Buffers made while the
//! pool is on are allocated without `__GFP_ACCOUNT`; the buffer itself is
//! charged, chunk by chunk as its pages are taken (`Supply` in
//! `heaps/system.rs`), so the charge is the new owner's whether its pages
//! come from the pool or not, and goes at the buffer's release, when its
//! pages enter the pool. A buffer made while the pool was off keeps
//! page-carried charges and is never pooled.
//!
//! What the pool holds is shown in `dma_buf/owners` (a `pool` line, see
//! `Documentation/dma-buf-rust.rst`).

use crate::sys::pages::{self, Chunk, ChunkStack};
use crate::sys::shrinker::{Shrink, Shrinker};
use crate::sys::workqueue;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::seq_file::{seq_print, SeqFile};
use kernel::sync::{Arc, ArcBorrow, SpinLock};
use kernel::time::{Instant, Monotonic};
use kernel::workqueue::{self as wq, impl_has_work, new_work, Work, WorkItem};

/// The orders of the system heap's chunks, largest first: the pool keeps
/// a stack of each.
pub(crate) const ORDERS: [u32; 3] = [8, 4, 0];

/// The stack of `order` in a per-order array.
fn index(order: u32) -> Option<usize> {
    ORDERS.iter().position(|&o| o == order)
}

/// The stacks, under `Pool::lists`.
struct Lists {
    /// Zeroed chunks, per order of [`ORDERS`].
    clean: [ChunkStack; ORDERS.len()],
    /// Chunks that still hold their last buffer's data.
    dirty: [ChunkStack; ORDERS.len()],
    /// Pages in `clean` and in `dirty`.
    clean_pages: usize,
    dirty_pages: usize,
}

impl Lists {
    fn pages(&self) -> usize {
        self.clean_pages + self.dirty_pages
    }

    /// Takes a chunk to give back to the page allocator: a dirty one
    /// first (using it would cost a zeroing), the largest first.
    fn pop_any(&mut self) -> Option<Chunk> {
        if let Some(c) = self.dirty.iter_mut().find_map(ChunkStack::pop) {
            self.dirty_pages -= c.pages();
            return Some(c);
        }
        let c = self.clean.iter_mut().find_map(ChunkStack::pop)?;
        self.clean_pages -= c.pages();
        Some(c)
    }
}

/// The pool.
#[pin_data]
pub(crate) struct Pool {
    #[pin]
    lists: SpinLock<Lists>,
    /// Zeroes the dirty chunks.
    #[pin]
    work: Work<Pool>,
    /// Copies of the lists' counts, written under the lock, read without
    /// it (the ALLOC fast path and the shrinker's count).
    clean_pages: AtomicUsize,
    pages: AtomicUsize,
    /// Pages handed to new buffers, pages zeroed, and the time spent
    /// zeroing them, since the pool was made.
    reused: AtomicU64,
    zeroed: AtomicU64,
    zero_ns: AtomicU64,
}

impl_has_work! {
    impl HasWork<Self> for Pool { self.work }
}

impl Pool {
    fn new() -> impl PinInit<Self> {
        pin_init!(Pool {
            lists <- new_spinlock!(
                Lists {
                    clean: ORDERS.map(ChunkStack::new),
                    dirty: ORDERS.map(ChunkStack::new),
                    clean_pages: 0,
                    dirty_pages: 0,
                },
                "dma_heap_pool"
            ),
            work <- new_work!("dma_heap_pool"),
            clean_pages: AtomicUsize::new(0),
            pages: AtomicUsize::new(0),
            reused: AtomicU64::new(0),
            zeroed: AtomicU64::new(0),
            zero_ns: AtomicU64::new(0),
        })
    }

    /// Publishes the lists' counts after a change under the lock.
    fn publish(&self, lists: &Lists) {
        self.clean_pages.store(lists.clean_pages, Ordering::Relaxed);
        self.pages.store(lists.pages(), Ordering::Relaxed);
    }

    /// A zeroed chunk of `order`, if the pool has one.
    #[inline]
    pub(crate) fn take(&self, order: u32) -> Option<Chunk> {
        if self.clean_pages.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let i = index(order)?;
        let mut lists = self.lists.lock();
        let chunk = lists.clean[i].pop()?;
        lists.clean_pages -= chunk.pages();
        self.publish(&lists);
        drop(lists);
        self.reused
            .fetch_add(chunk.pages() as u64, Ordering::Relaxed);
        Some(chunk)
    }

    /// Zeroes `chunk`, counting the time.
    fn zero(&self, chunk: &Chunk) {
        let start = Instant::<Monotonic>::now();
        chunk.zero();
        let ns = start.elapsed().as_nanos();
        self.zero_ns.fetch_add(ns as u64, Ordering::Relaxed);
        self.zeroed
            .fetch_add(chunk.pages() as u64, Ordering::Relaxed);
    }

    /// Keeps `chunk`, zeroed when `clean`, if the pool has room for it
    /// below `cap` pages; gives it back otherwise (or if it is not of an
    /// order the pool keeps).
    fn keep(&self, chunk: Chunk, clean: bool, cap: usize) -> Result<(), Chunk> {
        let Some(i) = chunk.buddy_order().and_then(index) else {
            return Err(chunk);
        };
        let n = chunk.pages();
        let mut lists = self.lists.lock();
        if lists.pages() + n > cap {
            return Err(chunk);
        }
        if clean {
            lists.clean[i].push(chunk)?;
            lists.clean_pages += n;
        } else {
            lists.dirty[i].push(chunk)?;
            lists.dirty_pages += n;
        }
        self.publish(&lists);
        Ok(())
    }

    /// Gives up to `want` pages back to the page allocator, dirty ones
    /// first; how many it gave. One chunk at a time: the lock is never
    /// held while pages are freed.
    fn release(&self, want: usize) -> usize {
        let mut freed = 0;
        while freed < want {
            let mut lists = self.lists.lock();
            let Some(chunk) = lists.pop_any() else {
                break;
            };
            self.publish(&lists);
            drop(lists);
            freed += chunk.pages();
        }
        freed
    }

    /// Frees what the pool holds beyond `cap` pages (after the cap was
    /// lowered).
    fn trim(&self, cap: usize) {
        let pages = self.pages.load(Ordering::Relaxed);
        if pages > cap {
            self.release(pages - cap);
        }
    }

    /// Takes the chunks of a freed buffer: each is kept while there is
    /// room, the rest go back to the page allocator.
    fn recycle(this: ArcBorrow<'_, Pool>, chunks: impl IntoIterator<Item = Chunk>) {
        let cap = pages::page_pool_size();
        let at_free = pages::page_pool_zero_at_free();
        let mut dirty = false;
        let give = |chunk: Chunk| {
            if this.pages.load(Ordering::Relaxed) + chunk.pages() > cap {
                return;
            }
            if at_free {
                this.zero(&chunk);
                let _ = this.keep(chunk, true, cap);
            } else {
                dirty |= this.keep(chunk, false, cap).is_ok();
            }
        };
        chunks.into_iter().for_each(give);
        if dirty {
            // Already queued: the queued run will see these chunks too.
            let _ = wq::system_unbound().enqueue(Arc::from(this));
        }
        // Read again: a cap lowered meanwhile trimmed before these came.
        this.trim(pages::page_pool_size());
    }

    /// The pool's line of `dma_buf/owners`.
    fn show(&self, m: &SeqFile) {
        let (clean, dirty) = {
            let lists = self.lists.lock();
            (lists.clean_pages, lists.dirty_pages)
        };
        seq_print!(
            m,
            "pool heap=system pages={} clean={} dirty={} limit={} reused={} zeroed={} zero_ns={}\n",
            clean + dirty,
            clean,
            dirty,
            pages::page_pool_size(),
            self.reused.load(Ordering::Relaxed),
            self.zeroed.load(Ordering::Relaxed),
            self.zero_ns.load(Ordering::Relaxed)
        );
    }
}

impl WorkItem for Pool {
    type Pointer = Arc<Pool>;

    /// Zeroes the dirty chunks, one at a time, and keeps them as clean
    /// ones (or frees them if the cap was lowered meanwhile).
    fn run(this: Arc<Pool>) {
        loop {
            let chunk = {
                let mut lists = this.lists.lock();
                let Some(c) = lists.dirty.iter_mut().find_map(ChunkStack::pop) else {
                    return;
                };
                lists.dirty_pages -= c.pages();
                this.publish(&lists);
                c
            };
            this.zero(&chunk);
            let _ = this.keep(chunk, true, pages::page_pool_size());
            workqueue::cond_resched();
        }
    }
}

impl Shrink for Pool {
    fn count(&self) -> usize {
        self.pages.load(Ordering::Relaxed)
    }

    fn scan(&self, nr: usize) -> usize {
        self.release(nr)
    }
}

/// The pool that freed buffers go to: set by the [`PoolHandle`] while it
/// exists (an `Arc` reference it holds), NULL otherwise.
static POOL: AtomicPtr<Pool> = AtomicPtr::new(ptr::null_mut());

/// Calls `f` with the pool, if there is one.
fn with<R>(f: impl FnOnce(ArcBorrow<'_, Pool>) -> R) -> Option<R> {
    let p = NonNull::new(POOL.load(Ordering::Acquire))?;
    // SAFETY: A non-NULL `POOL` is an `Arc` reference of the handle, which
    // takes it back only in its drop, at module exit. Every caller runs
    // before that or is waited for: the release of a system-heap buffer
    // and a read of `dma_buf/owners` pin the module, and a write to
    // `page_pool_size` holds the parameter lock the drop takes.
    Some(f(unsafe { ArcBorrow::from_raw(p.as_ptr()) }))
}

/// Frees what the pool holds beyond a cap just lowered (called with the
/// parameters locked: see [`PoolHandle`]'s drop).
pub(crate) fn resized() {
    with(|pool| pool.trim(pages::page_pool_size()));
}

/// Takes a freed buffer's chunks for the pool (they are freed if there is
/// no pool or no room).
pub(crate) fn recycle(chunks: impl IntoIterator<Item = Chunk>) {
    // Without a pool the closure, and the chunks with it, are dropped.
    with(move |pool| Pool::recycle(pool, chunks));
}

/// Prints the pool's line of `dma_buf/owners` while the pool is on or
/// holds pages.
pub(crate) fn show(m: &SeqFile) {
    with(|pool| {
        if pages::page_pool_size() > 0 || pool.pages.load(Ordering::Relaxed) > 0 {
            pool.show(m);
        }
    });
}

/// The system heap's pool, from its registration to module exit: the
/// pool, its shrinker, and the pointer freed buffers find it by.
pub(crate) struct PoolHandle {
    shrinker: Shrinker<Pool>,
}

impl PoolHandle {
    /// Makes the pool and registers its shrinker.
    pub(crate) fn new() -> Result<PoolHandle> {
        let pool = Arc::pin_init(Pool::new(), GFP_KERNEL)?;
        let shrinker = Shrinker::register(c"dma_heap-system-pool", pool.clone())?;
        POOL.store(Arc::into_raw(pool).cast_mut(), Ordering::Release);
        Ok(PoolHandle { shrinker })
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &Pool {
        self.shrinker.data()
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        // A write to `page_pool_size` reaches the pool with the module's
        // parameters locked: once the pointer is cleared under that lock,
        // no such write is using the pool (their files outlive exit).
        let p = pages::with_params_locked(|| POOL.swap(ptr::null_mut(), Ordering::AcqRel));
        if !p.is_null() {
            // SAFETY: The reference `new` made with `Arc::into_raw`, taken
            // back once (the pointer is NULL now).
            drop(unsafe { Arc::from_raw(p) });
        }
        // No buffer is left to queue the work again; once it is done,
        // the shrinker goes (the field's drop, after this) with the last
        // reference, and the pool frees its pages.
        workqueue::flush(self.pool());
    }
}
