// SPDX-License-Identifier: GPL-2.0
//! Physically contiguous page chunks (from the buddy allocator or a CMA
//! area) and kernel mappings of them.
//!
//! C headers: [`include/linux/gfp.h`](srctree/include/linux/gfp.h),
//! [`include/linux/vmalloc.h`](srctree/include/linux/vmalloc.h)
//!
//! The `kernel` crate's `Page` is one order-0 page; heaps need high-order
//! and CMA chunks, so [`Chunk`] owns `count` contiguous pages and frees
//! them to where they came from.

use super::glue;
use core::ptr::NonNull;
use kernel::alloc::KVVec;
use kernel::bindings;
use kernel::prelude::*;

/// The page size.
pub(crate) const PAGE_SIZE: usize = bindings::PAGE_SIZE;

/// Page allocation flags (`gfp_t`) beyond those of `kernel::alloc::flags`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gfp(bindings::gfp_t);

impl Gfp {
    const fn bit(b: u32) -> Gfp {
        Gfp(1 << b)
    }
    /// `__GFP_ZERO`.
    pub(crate) const ZERO: Gfp = Gfp::bit(bindings::___GFP_ZERO_BIT);
    /// `__GFP_NOWARN`.
    pub(crate) const NOWARN: Gfp = Gfp::bit(bindings::___GFP_NOWARN_BIT);
    /// `__GFP_NORETRY`.
    pub(crate) const NORETRY: Gfp = Gfp::bit(bindings::___GFP_NORETRY_BIT);
    /// `__GFP_COMP`.
    pub(crate) const COMP: Gfp = Gfp::bit(bindings::___GFP_COMP_BIT);
    /// `__GFP_ACCOUNT`.
    pub(crate) const ACCOUNT: Gfp = Gfp::bit(bindings::___GFP_ACCOUNT_BIT);
    /// `__GFP_RECLAIM` (direct and kswapd reclaim).
    pub(crate) const RECLAIM: Gfp = Gfp(Gfp::bit(bindings::___GFP_DIRECT_RECLAIM_BIT).0
        | Gfp::bit(bindings::___GFP_KSWAPD_RECLAIM_BIT).0);
    /// `GFP_HIGHUSER`: `GFP_USER | __GFP_HIGHMEM`.
    pub(crate) const HIGHUSER: Gfp = Gfp(Gfp::RECLAIM.0
        | Gfp::bit(bindings::___GFP_IO_BIT).0
        | Gfp::bit(bindings::___GFP_FS_BIT).0
        | Gfp::bit(bindings::___GFP_HARDWALL_BIT).0
        | Gfp::bit(bindings::___GFP_HIGHMEM_BIT).0);

    /// Both sets of flags.
    pub(crate) const fn with(self, other: Gfp) -> Gfp {
        Gfp(self.0 | other.0)
    }

    /// These flags without `other`.
    pub(crate) const fn without(self, other: Gfp) -> Gfp {
        Gfp(self.0 & !other.0)
    }
}

/// The `mem_accounting` parameter (`dma_heap.mem_accounting` upstream):
/// charge heap memory to the allocating task's memory cgroup.
pub(crate) fn mem_accounting() -> bool {
    // SAFETY: Reads a module parameter.
    unsafe { glue::dmabuf_rs_mem_accounting() }
}

/// The `page_pool_size` parameter: how many pages the system heap's pool
/// of zeroed pages may keep (`0`, the default: no pool).
pub(crate) fn page_pool_size() -> usize {
    // SAFETY: Reads a module parameter.
    unsafe { glue::dmabuf_rs_page_pool_size() }
}

/// The `page_pool_zero_at_free` parameter: zero pages for the pool as
/// their buffer is freed rather than in the background.
pub(crate) fn page_pool_zero_at_free() -> bool {
    // SAFETY: Reads a module parameter.
    unsafe { glue::dmabuf_rs_page_pool_zero_at_free() }
}

/// Runs `f` with no parameter of this module being set meanwhile
/// (`kernel_param_lock`, which a write to a parameter holds around its
/// set callback).
pub(crate) fn with_params_locked<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: No requirements; may sleep, as callers may.
    unsafe { glue::dmabuf_rs_params_lock() };
    let r = f();
    // SAFETY: Taken above.
    unsafe { glue::dmabuf_rs_params_unlock() };
    r
}

/// Whether the `system_cc_shared` heap is registered: on a guest whose
/// memory is encrypted (`CC_ATTR_MEM_ENCRYPT`) without highmem, as
/// upstream, or on a debug kernel when its parameter asks for it.
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)]
pub(crate) fn cc_shared_heap() -> bool {
    // SAFETY: Reads a parameter and the platform's attributes.
    unsafe { glue::dmabuf_rs_cc_shared_heap() }
}

/// How a confidential guest's CPU and devices see some pages. Elsewhere
/// both forms behave alike (nothing is encrypted).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sharing {
    /// Private to the guest (encrypted): every heap's buffers but the
    /// `system_cc_shared` heap's.
    Private,
    /// Shared with the host (decrypted, `set_memory_decrypted`): mapped
    /// into the kernel and userspace with `pgprot_decrypted`, and for
    /// devices with `DMA_ATTR_CC_SHARED`.
    #[cfg_attr(not(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED), allow(dead_code))]
    Shared,
}

/// Whether the current task has a fatal signal pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's state.
    unsafe { glue::dmabuf_rs_fatal_signal_pending() }
}

/// Where a chunk's pages go back to.
pub(super) enum Source {
    /// `alloc_pages` of this order (a compound page when order > 0).
    Buddy(u32),
    /// A CMA allocation from this area.
    #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
    Cma(NonNull<bindings::cma>),
}

/// `count` physically contiguous pages starting at `page`.
///
/// # Invariants
///
/// `page` is the first of `count` contiguous, allocated pages, which this
/// object owns and frees according to `source`.
pub(crate) struct Chunk {
    page: NonNull<bindings::page>,
    count: usize,
    source: Source,
}

// SAFETY: Pages may be freed from any thread.
unsafe impl Send for Chunk {}
// SAFETY: The chunk is immutable once allocated.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// Takes ownership of freshly allocated pages.
    ///
    /// # Safety
    ///
    /// `page` must be the first of `count` contiguous pages allocated as
    /// `source` says, whose ownership passes to the chunk.
    pub(super) unsafe fn from_raw(
        page: NonNull<bindings::page>,
        count: usize,
        source: Source,
    ) -> Self {
        // INVARIANT: By the safety requirements.
        Chunk {
            page,
            count,
            source,
        }
    }

    /// Allocates `2^order` pages from the buddy allocator with `gfp`.
    #[inline]
    pub(crate) fn alloc_order(order: u32, gfp: Gfp) -> Option<Chunk> {
        // SAFETY: Any order and flag combination is allowed.
        let page = unsafe { bindings::alloc_pages(gfp.0, order) };
        // SAFETY: A new allocation of 2^order pages.
        NonNull::new(page).map(|p| unsafe { Chunk::from_raw(p, 1 << order, Source::Buddy(order)) })
    }

    /// The order of a chunk from the buddy allocator (`None` for CMA).
    pub(crate) fn buddy_order(&self) -> Option<u32> {
        match self.source {
            Source::Buddy(order) => Some(order),
            #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
            Source::Cma(_) => None,
        }
    }

    /// The number of pages.
    pub(crate) fn pages(&self) -> usize {
        self.count
    }

    /// The byte length.
    pub(crate) fn len(&self) -> usize {
        self.count * PAGE_SIZE
    }

    /// The raw `n`-th page (for tables and page arrays); `n` must be below
    /// [`Chunk::pages`].
    #[inline]
    pub(super) fn page_at(&self, n: usize) -> *mut bindings::page {
        debug_assert!(n < self.count);
        // SAFETY: The chunk's pages are contiguous (type invariant), and so
        // are their `struct page`s in the memory map (x86-64 has a virtually
        // contiguous memmap; the kernel itself indexes pages this way), so
        // `n < count` stays inside the chunk's run of `struct page`s.
        unsafe { self.page.as_ptr().add(n) }
    }

    /// The page frame number of the `n`-th page.
    pub(crate) fn pfn(&self, n: usize) -> usize {
        // SAFETY: A valid page.
        let first = unsafe { glue::dmabuf_rs_page_to_pfn(self.page.as_ptr()) } as usize;
        first + n
    }

    /// Makes the chunk's pages private to the guest or shared with the
    /// host (`set_memory_encrypted` / `set_memory_decrypted` on their
    /// linear map; nothing happens where memory is not encrypted).
    ///
    /// # Safety
    ///
    /// No mapping of the pages may exist but the kernel's linear map (the
    /// change would make another one read the other form), and nothing
    /// may use them meanwhile.
    #[cfg_attr(not(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED), allow(dead_code))]
    pub(crate) unsafe fn set_sharing(&self, sharing: Sharing) -> Result {
        let count = kernel::ffi::c_int::try_from(self.count)?;
        let decrypted = sharing == Sharing::Shared;
        // SAFETY: `count` pages of ours from the chunk's first, in the
        // linear map (no highmem where the shared heap exists) and mapped
        // nowhere else (by the safety requirements).
        super::check(unsafe {
            glue::dmabuf_rs_set_pages_decrypted(self.page.as_ptr(), count, decrypted)
        })
    }

    /// Zeroes the chunk in one extent through the linear map (64-bit
    /// kernels have no highmem).
    pub(crate) fn zero(&self) {
        // SAFETY: The pages are contiguous and ours; the linear map covers
        // them; nobody else can see them yet.
        unsafe {
            let va = glue::dmabuf_rs_page_address(self.page.as_ptr());
            core::ptr::write_bytes(va.cast::<u8>(), 0, self.len());
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        match self.source {
            // SAFETY: Allocated by `alloc_pages` with this order.
            Source::Buddy(order) => unsafe { bindings::__free_pages(self.page.as_ptr(), order) },
            // SAFETY: Allocated by `cma_alloc` from this area.
            #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
            Source::Cma(cma) => unsafe {
                glue::cma_release(cma.as_ptr(), self.page.as_ptr(), self.count);
            },
        }
    }
}

/// A stack of chunks of `2^order` pages from the buddy allocator, linked
/// through their first page's `private` word (the owner of an allocated
/// page may use it), so that keeping a chunk takes no memory. Chunks left
/// in the stack are freed with it.
///
/// # Invariants
///
/// `head` is NULL or the first page of a chunk of `2^order` pages from
/// `alloc_pages(order)` that the stack owns, whose `private` word holds the
/// next such page or 0 at the last.
pub(crate) struct ChunkStack {
    head: *mut bindings::page,
    order: u32,
}

// SAFETY: The stack owns its pages, which may be freed from any thread.
unsafe impl Send for ChunkStack {}

impl ChunkStack {
    /// An empty stack of chunks of `order`.
    pub(crate) const fn new(order: u32) -> ChunkStack {
        // INVARIANT: Empty.
        ChunkStack {
            head: core::ptr::null_mut(),
            order,
        }
    }

    /// Keeps `chunk`; gives it back if it is not from the buddy allocator
    /// with the stack's order.
    pub(crate) fn push(&mut self, chunk: Chunk) -> Result<(), Chunk> {
        if chunk.buddy_order() != Some(self.order) {
            return Err(chunk);
        }
        let page = core::mem::ManuallyDrop::new(chunk).page.as_ptr();
        // SAFETY: The chunk's first page, now the stack's (the chunk is
        // not dropped); nobody else uses its `private` word.
        unsafe { glue::dmabuf_rs_set_page_private(page, self.head.expose_provenance()) };
        // INVARIANT: `page` heads a chunk of the stack's order, and links
        // to the previous head.
        self.head = page;
        Ok(())
    }

    /// Takes the chunk kept last.
    pub(crate) fn pop(&mut self) -> Option<Chunk> {
        let page = NonNull::new(self.head)?;
        // SAFETY: A page of the stack (type invariant).
        let next = unsafe { glue::dmabuf_rs_page_private(page.as_ptr()) };
        // SAFETY: As above; the word is cleared before the page leaves.
        unsafe { glue::dmabuf_rs_set_page_private(page.as_ptr(), 0) };
        // INVARIANT: The rest of the stack, from its link.
        self.head = core::ptr::with_exposed_provenance_mut(next);
        // SAFETY: By the type invariant, the first page of a chunk of
        // `2^order` pages from `alloc_pages(order)`, whose ownership passes
        // from the stack to the chunk.
        Some(unsafe { Chunk::from_raw(page, 1 << self.order, Source::Buddy(self.order)) })
    }
}

impl Drop for ChunkStack {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

/// The `struct page` pointers of every page of some chunks, in order, as
/// `vmap` takes them. The array is vmalloc-backed when large, so a big
/// buffer of small chunks does not need a high-order allocation.
///
/// # Invariants
///
/// Every element points to a page of the chunks it was built from; their
/// owner keeps them allocated while the array is used for a mapping.
pub(crate) struct PageArray {
    pages: KVVec<*mut bindings::page>,
}

// SAFETY: An array of pointers that are only passed to `vmap`.
unsafe impl Send for PageArray {}
// SAFETY: As above; the array is not changed after it is built.
unsafe impl Sync for PageArray {}

impl PageArray {
    /// Lists every page of `chunks`.
    ///
    /// Each chunk's `struct page`s are consecutive (see [`Chunk::page_at`]),
    /// so the array is filled by pointer arithmetic, one store a page.
    pub(crate) fn new(chunks: &[Chunk]) -> Result<Self> {
        let total: usize = chunks.iter().map(Chunk::pages).sum();
        let mut pages = KVVec::with_capacity(total, GFP_KERNEL)?;
        let spare = pages.spare_capacity_mut();
        let mut at = 0;
        for c in chunks {
            for (i, slot) in spare[at..at + c.pages()].iter_mut().enumerate() {
                slot.write(c.page_at(i));
            }
            at += c.pages();
        }
        // SAFETY: The first `total` elements were written above.
        unsafe { pages.inc_len(total) };
        // INVARIANT: Pages of `chunks`.
        Ok(PageArray { pages })
    }
}

/// A contiguous kernel mapping of every page of some chunks (`vmap`);
/// unmapped on drop.
///
/// # Invariants
///
/// `addr` is a `vmap` of the chunks' pages, owned by this object; the
/// chunks' owner keeps them allocated while it exists.
pub(crate) struct PageVmap {
    addr: NonNull<u8>,
    len: usize,
}

// SAFETY: A kernel mapping may be used and removed from any thread.
unsafe impl Send for PageVmap {}
// SAFETY: The mapping itself is immutable.
unsafe impl Sync for PageVmap {}

impl PageVmap {
    /// Maps the pages of `pages`, in order, as `sharing` says they are.
    ///
    /// # Safety
    ///
    /// The chunks the array lists must outlive the mapping, and be in the
    /// `sharing` form while it exists.
    pub(crate) unsafe fn new(pages: &PageArray, sharing: Sharing) -> Result<Self> {
        let count = u32::try_from(pages.pages.len())?;
        let decrypted = sharing == Sharing::Shared;
        // SAFETY: The array holds `count` valid pages (type invariant of
        // `PageArray`); `vmap` only reads it; the flags are standard.
        let va = unsafe {
            glue::dmabuf_rs_vmap_pages(pages.pages.as_ptr().cast_mut(), count, decrypted)
        };
        // INVARIANT: A new mapping of the pages.
        Ok(PageVmap {
            addr: NonNull::new(va.cast()).ok_or(ENOMEM)?,
            len: pages.pages.len() * PAGE_SIZE,
        })
    }

    /// The kernel address.
    pub(crate) fn addr(&self) -> *mut u8 {
        self.addr.as_ptr()
    }

    /// The length in bytes, as a C `int` (saturated: the range helpers
    /// take one, and only aliasing caches use it).
    fn c_len(&self) -> kernel::ffi::c_int {
        kernel::ffi::c_int::try_from(self.len).unwrap_or(kernel::ffi::c_int::MAX)
    }

    /// Before the CPU reads through this mapping what a device wrote:
    /// drops the mapping's lines from a cache that aliases
    /// (`invalidate_kernel_vmap_range`; nothing to do on x86).
    pub(crate) fn invalidate(&self) {
        // SAFETY: Our mapping of `len` bytes, by the type invariant.
        unsafe { glue::dmabuf_rs_invalidate_kernel_vmap_range(self.addr().cast(), self.c_len()) };
    }

    /// After the CPU wrote through this mapping, before a device reads:
    /// writes the mapping's lines back (`flush_kernel_vmap_range`).
    pub(crate) fn flush(&self) {
        // SAFETY: As above.
        unsafe { glue::dmabuf_rs_flush_kernel_vmap_range(self.addr().cast(), self.c_len()) };
    }
}

impl Drop for PageVmap {
    fn drop(&mut self) {
        // SAFETY: Our mapping, by the type invariant.
        unsafe { glue::dmabuf_rs_vunmap(self.addr.as_ptr().cast()) };
    }
}

#[kunit_tests(dmabuf_rs_pages)]
mod tests {
    use super::*;

    fn chunk(order: u32) -> Result<Chunk> {
        Chunk::alloc_order(order, Gfp::HIGHUSER).ok_or(ENOMEM)
    }

    /// The word a stack links through, as the page allocator sees it.
    fn private(c: &Chunk) -> usize {
        // SAFETY: A page of ours, read only.
        unsafe { glue::dmabuf_rs_page_private(c.page.as_ptr()) }
    }

    #[test]
    fn chunk_stack_is_lifo_of_one_order() -> Result {
        let mut s = ChunkStack::new(2);
        let (a, b) = (chunk(2)?, chunk(2)?);
        let (pa, pb) = (a.pfn(0), b.pfn(0));
        assert!(s.push(a).is_ok());
        assert!(s.push(b).is_ok());
        // Another order, or a chunk that is not the buddy allocator's,
        // is given back.
        let other = s.push(chunk(0)?).err().ok_or(EINVAL)?;
        assert_eq!(other.pages(), 1);
        let top = s.pop().ok_or(EINVAL)?;
        assert_eq!(
            (top.pfn(0), top.pages(), top.buddy_order()),
            (pb, 4, Some(2))
        );
        // The link is cleared before a chunk leaves the stack.
        assert_eq!(private(&top), 0);
        let next = s.pop().ok_or(EINVAL)?;
        assert_eq!((next.pfn(0), private(&next)), (pa, 0));
        assert!(s.pop().is_none());
        // A stack dropped with chunks in it frees them (KASAN and the page
        // allocator's checks would see a chunk freed twice).
        assert!(s.push(top).is_ok());
        assert!(s.push(next).is_ok());
        drop(s);
        Ok(())
    }
}
