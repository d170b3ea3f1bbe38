// SPDX-License-Identifier: GPL-2.0
//! Memory for the heaps: page chunks from the buddy allocator, CMA
//! regions, DMA mapping and syncing of tables, and remapping into user
//! address spaces.
//!
//! C headers: [`include/linux/gfp.h`](srctree/include/linux/gfp.h),
//! [`include/linux/cma.h`](srctree/include/linux/cma.h),
//! [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::rust_api::OwnedTable;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::dma::DataDirection;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_uint, c_ulong};
use kernel::prelude::*;

#[allow(improper_ctypes)]
extern "C" {
    fn dmabuf_rs_page_to_pfn(page: *mut bindings::page) -> c_ulong;
    fn dmabuf_rs_nth_page(page: *mut bindings::page, n: c_ulong) -> *mut bindings::page;
    fn dmabuf_rs_page_address(page: *mut bindings::page) -> *mut core::ffi::c_void;
    fn dmabuf_rs_default_cma() -> *mut bindings::cma;
    fn dmabuf_rs_sync_for_cpu(
        dev: *mut bindings::device,
        sgt: *mut bindings::sg_table,
        dir: bindings::dma_data_direction,
    );
    fn dmabuf_rs_sync_for_device(
        dev: *mut bindings::device,
        sgt: *mut bindings::sg_table,
        dir: bindings::dma_data_direction,
    );
    fn dmabuf_rs_vma_start(vma: *mut bindings::vm_area_struct) -> c_ulong;
    fn dmabuf_rs_vma_end(vma: *mut bindings::vm_area_struct) -> c_ulong;
    fn dmabuf_rs_vma_is_shared(vma: *mut bindings::vm_area_struct) -> bool;
    fn dmabuf_rs_vma_set_pfnmap(vma: *mut bindings::vm_area_struct);
    fn dmabuf_rs_remap_pfn(
        vma: *mut bindings::vm_area_struct,
        addr: c_ulong,
        pfn: c_ulong,
        size: c_ulong,
    ) -> i32;
    fn dmabuf_rs_fatal_signal_pending() -> bool;
    fn dmabuf_rs_heap_gfp(high_order: bool) -> bindings::gfp_t;
    fn dmabuf_rs_cma_alignment() -> c_uint;
    fn cma_alloc(
        cma: *mut bindings::cma,
        count: c_ulong,
        align: c_uint,
        no_warn: bool,
    ) -> *mut bindings::page;
    fn cma_release(cma: *mut bindings::cma, pages: *const bindings::page, count: c_ulong) -> bool;
    fn cma_get_name(cma: *const bindings::cma) -> *const c_char;
    fn dma_contiguous_get_area_by_idx(idx: c_uint) -> *mut bindings::cma;
}

/// The page size.
pub(crate) const PAGE_SIZE: usize = bindings::PAGE_SIZE;

/// Whether the current task has a fatal signal pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's state.
    unsafe { dmabuf_rs_fatal_signal_pending() }
}

/// Physically contiguous pages: `count` pages starting at `page`.
///
/// # Invariants
///
/// `page` is the first of `count` contiguous, allocated pages, which this
/// object frees according to `source`.
pub(crate) struct Chunk {
    page: NonNull<bindings::page>,
    count: usize,
    source: Source,
}

enum Source {
    /// `alloc_pages` of this order (a compound page when order > 0).
    Buddy(u32),
    /// A CMA allocation from this area.
    Cma(NonNull<bindings::cma>),
}

// SAFETY: Pages may be freed from any thread.
unsafe impl Send for Chunk {}
// SAFETY: The chunk is immutable once allocated.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// Allocates `2^order` zeroed pages from the buddy allocator, without
    /// reclaim or warnings for high orders, as the system heap does.
    pub(crate) fn alloc_order(order: u32) -> Option<Chunk> {
        // SAFETY: Any order and flag combination is allowed.
        let page = unsafe { bindings::alloc_pages(dmabuf_rs_heap_gfp(order > 0), order) };
        // INVARIANT: A new allocation of 2^order pages.
        NonNull::new(page).map(|page| Chunk {
            page,
            count: 1 << order,
            source: Source::Buddy(order),
        })
    }

    /// The number of pages.
    pub(crate) fn pages(&self) -> usize {
        self.count
    }

    /// The byte length.
    pub(crate) fn len(&self) -> usize {
        self.count * PAGE_SIZE
    }

    /// The raw first page.
    pub(crate) fn first_page(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The raw `n`-th page.
    pub(crate) fn nth_page(&self, n: usize) -> *mut bindings::page {
        // SAFETY: The pages are contiguous by the type invariant.
        unsafe { dmabuf_rs_nth_page(self.page.as_ptr(), n as c_ulong) }
    }

    /// The page frame number of the `n`-th page.
    pub(crate) fn pfn(&self, n: usize) -> usize {
        // SAFETY: A valid page.
        unsafe { dmabuf_rs_page_to_pfn(self.nth_page(n)) as usize }
    }

    /// Zeroes the chunk in one extent through the linear map (64-bit
    /// kernels have no highmem).
    pub(crate) fn zero(&self) {
        // SAFETY: The pages are contiguous and ours; the linear map covers
        // them.
        unsafe {
            let va = dmabuf_rs_page_address(self.page.as_ptr());
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
            Source::Cma(cma) => unsafe {
                cma_release(cma.as_ptr(), self.page.as_ptr(), self.count as c_ulong);
            },
        }
    }
}

/// A CMA area.
#[derive(Clone, Copy)]
pub(crate) struct CmaArea(NonNull<bindings::cma>);

// SAFETY: CMA areas are global, static and internally locked.
unsafe impl Send for CmaArea {}
// SAFETY: As above.
unsafe impl Sync for CmaArea {}

impl CmaArea {
    /// The default area (`dev_get_cma_area(NULL)`).
    pub(crate) fn default_area() -> Option<CmaArea> {
        // SAFETY: Reads a global.
        NonNull::new(unsafe { dmabuf_rs_default_cma() }).map(CmaArea)
    }

    /// The `idx`-th area.
    pub(crate) fn by_index(idx: u32) -> Option<CmaArea> {
        // SAFETY: Any index; NULL past the end.
        NonNull::new(unsafe { dma_contiguous_get_area_by_idx(idx) }).map(CmaArea)
    }

    /// The area's name.
    pub(crate) fn name(&self) -> &'static CStr {
        // SAFETY: CMA names are static strings.
        unsafe { CStr::from_char_ptr(cma_get_name(self.0.as_ptr())) }
    }

    /// Allocates `count` contiguous pages aligned to `2^min(order, CMA_ALIGNMENT)`.
    pub(crate) fn alloc(&self, count: usize, order: u32) -> Option<Chunk> {
        // SAFETY: Reads a constant.
        let align = order.min(unsafe { dmabuf_rs_cma_alignment() });
        // SAFETY: A valid area; failure returns NULL.
        let page = unsafe { cma_alloc(self.0.as_ptr(), count as c_ulong, align, false) };
        // INVARIANT: A new CMA allocation of `count` pages.
        NonNull::new(page).map(|page| Chunk {
            page,
            count,
            source: Source::Cma(self.0),
        })
    }
}

/// A table DMA-mapped for one device.
pub(crate) struct DeviceTable {
    dev: *mut bindings::device,
    table: *mut bindings::sg_table,
    dir: DataDirection,
}

// SAFETY: Raw pointers used only under the owner's lock.
unsafe impl Send for DeviceTable {}

impl DeviceTable {
    /// DMA-maps `table` for the device of `attach`.
    pub(crate) fn map(
        attach: &super::object::Attachment,
        table: &OwnedTable,
        dir: DataDirection,
    ) -> Result<DeviceTable> {
        let dev = attach.dev();
        let raw = table.as_raw();
        // SAFETY: A live device and an allocated table.
        to_result(unsafe { bindings::dma_map_sgtable(dev, raw, dir.into(), 0) })?;
        Ok(DeviceTable {
            dev,
            table: raw,
            dir,
        })
    }

    /// Whether this entry is the mapping of `table`.
    pub(crate) fn is(&self, table: &OwnedTable) -> bool {
        self.table == table.as_raw()
    }

    /// Undoes [`DeviceTable::map`].
    pub(crate) fn unmap(self) {
        // SAFETY: Mapped by `map` with the same device and direction.
        unsafe { bindings::dma_unmap_sgtable(self.dev, self.table, self.dir.into(), 0) };
    }

    /// Syncs the mapping for CPU access in `dir`.
    pub(crate) fn sync_for_cpu(&self, dir: DataDirection) {
        // SAFETY: A live mapping.
        unsafe { dmabuf_rs_sync_for_cpu(self.dev, self.table, dir.into()) };
    }

    /// Syncs the mapping back for the device in `dir`.
    pub(crate) fn sync_for_device(&self, dir: DataDirection) {
        // SAFETY: A live mapping.
        unsafe { dmabuf_rs_sync_for_device(self.dev, self.table, dir.into()) };
    }
}

/// A VMA being set up by a dma-buf mmap.
pub(crate) struct Vma(*mut bindings::vm_area_struct);

impl Vma {
    /// Wraps the raw VMA of an mmap call.
    ///
    /// # Safety
    ///
    /// `vma` must be valid and being set up (mmap lock held) while used.
    pub(crate) unsafe fn from_raw(vma: *mut bindings::vm_area_struct) -> Vma {
        Vma(vma)
    }

    /// First page offset into the buffer.
    pub(crate) fn pgoff(&self) -> usize {
        // SAFETY: Valid by the safety requirements of `from_raw`.
        unsafe { (*self.0).vm_pgoff }
    }

    /// Start and end addresses.
    pub(crate) fn range(&self) -> (usize, usize) {
        // SAFETY: Valid by the safety requirements of `from_raw`.
        unsafe {
            (
                dmabuf_rs_vma_start(self.0) as usize,
                dmabuf_rs_vma_end(self.0) as usize,
            )
        }
    }

    /// Whether the mapping is shared.
    pub(crate) fn is_shared(&self) -> bool {
        // SAFETY: Valid VMA.
        unsafe { dmabuf_rs_vma_is_shared(self.0) }
    }

    /// Marks the VMA as a PFN map of I/O-like memory.
    pub(crate) fn set_pfnmap(&self) {
        // SAFETY: Valid VMA being set up.
        unsafe { dmabuf_rs_vma_set_pfnmap(self.0) };
    }

    /// Maps `size` bytes of frames from `pfn` at `addr`.
    pub(crate) fn remap_pfn(&self, addr: usize, pfn: usize, size: usize) -> Result {
        // SAFETY: Valid VMA; the frames belong to the buffer, which the
        // mapping keeps alive through its file reference.
        to_result(unsafe {
            dmabuf_rs_remap_pfn(self.0, addr as c_ulong, pfn as c_ulong, size as c_ulong)
        })
    }
}
