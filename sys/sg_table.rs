// SPDX-License-Identifier: GPL-2.0
//! Scatter-gather tables passed between exporters and importers, and their
//! DMA mappings.
//!
//! C header: [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h)
//!
//! Three resources, one type each:
//! - [`MappedTable`]: the table an exporter's `map_dma_buf` returned, owned
//!   by the importer until it hands it back to `unmap_dma_buf`;
//! - [`OwnedTable`]: a kmalloc'ed table a Rust exporter builds over its
//!   pages; freed on drop;
//! - [`DeviceTable`]: an [`OwnedTable`]'s DMA mapping for one device;
//!   unmapped on drop (and it holds the device, so it cannot outlive it).
//!
//! The kernel's `SGTable<Owned>` maps pages it owns for a bound device
//! under `Devres`; here the table's ownership crosses the C ABI (the
//! importer keeps the pointer between map and unmap), so it is wrapped
//! this way instead.

use super::attachment::Attachment;
use super::check;
use super::glue;
use super::kmem;
use super::pages::{Chunk, Sharing};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::dma::DataDirection;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;

/// The longest entry a table gets: the largest page-aligned length an
/// entry's `unsigned int` holds (`sg_alloc_table_from_pages`'s limit).
const MAX_SEGMENT: usize = u32::MAX as usize & !(PAGE_SIZE - 1);

/// [`MAX_SEGMENT`] in pages.
const MAX_SEGMENT_PAGES: usize = MAX_SEGMENT / PAGE_SIZE;

/// The marks an entry keeps in the low bits of `page_link`.
const SG_MARKS: kernel::ffi::c_ulong =
    (bindings::SG_CHAIN | bindings::SG_END) as kernel::ffi::c_ulong;

/// Points an entry at `len` bytes from the start of `page`, keeping its
/// end and chain marks: `sg_set_page`, inline (it is called once per entry
/// while a table is built, and an out-of-line call costs more than its
/// three stores). With `CONFIG_DEBUG_SG` the C function's checks run.
///
/// # Safety
///
/// `sg` must be a valid, non-chain entry of a table the caller owns and
/// has not mapped; `page` a valid `struct page` (aligned, so its low bits
/// are free for the marks).
#[inline(always)]
unsafe fn set_entry(sg: *mut bindings::scatterlist, page: *mut bindings::page, len: u32) {
    #[cfg(CONFIG_DEBUG_SG)]
    // SAFETY: By the safety requirements.
    unsafe {
        glue::dmabuf_rs_sg_set_page(sg, page, len, 0)
    };
    #[cfg(not(CONFIG_DEBUG_SG))]
    // SAFETY: By the safety requirements, `sg` is ours to write.
    unsafe {
        (*sg).page_link = page as kernel::ffi::c_ulong | ((*sg).page_link & SG_MARKS);
        (*sg).offset = 0;
        (*sg).length = len;
    }
}

/// The entry after `sg`, following a chain entry to the next block of
/// the list; NULL after the last entry: `sg_next`, inline.
///
/// # Safety
///
/// `sg` must be a valid entry of a table built by `sg_alloc_table` (or a
/// one-entry list marked as the end) that the caller may read.
#[inline(always)]
unsafe fn next_entry(sg: *mut bindings::scatterlist) -> *mut bindings::scatterlist {
    // SAFETY: By the safety requirements: an entry that is not the last is
    // followed by another entry or a chain entry in the same block.
    unsafe {
        if (*sg).page_link & bindings::SG_END as kernel::ffi::c_ulong != 0 {
            return core::ptr::null_mut();
        }
        let n = sg.add(1);
        if (*n).page_link & bindings::SG_CHAIN as kernel::ffi::c_ulong != 0 {
            ((*n).page_link & !SG_MARKS) as *mut bindings::scatterlist
        } else {
            n
        }
    }
}

/// A table handed from an exporter to an importer.
///
/// # Invariants
///
/// `ptr` is a valid table owned by whoever holds this handle (the importer
/// between map and unmap).
pub(crate) struct MappedTable {
    ptr: NonNull<bindings::sg_table>,
}

// SAFETY: A handle to memory owned by its holder, usable from any thread.
unsafe impl Send for MappedTable {}

impl MappedTable {
    /// Takes over a table pointer; `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a valid table whose ownership passes to the
    /// handle (it came from `map_dma_buf`, or from [`MappedTable::into_raw`]).
    pub(crate) unsafe fn from_raw(ptr: *mut SGTable) -> Option<Self> {
        // INVARIANT: By the safety requirements.
        NonNull::new(ptr.cast()).map(|ptr| MappedTable { ptr })
    }

    /// Gives the table up to C (the importer).
    pub(crate) fn into_raw(self) -> *mut SGTable {
        self.ptr.as_ptr().cast()
    }

    /// Borrows the table.
    pub(crate) fn table(&self) -> &SGTable {
        // SAFETY: Valid and owned by the type invariant; the exporter does
        // not change it while it is mapped.
        unsafe { SGTable::from_raw(self.ptr.as_ptr()) }
    }

    /// Makes the `CONFIG_DMABUF_DEBUG` copy of the table for an importer:
    /// the same DMA addresses and lengths, but no page links, so an importer
    /// that touches `struct page` through it is caught. The original is
    /// kept inside and given back by [`MappedTable::undo_dma_only_copy`].
    pub(crate) fn dma_only_copy(self) -> Result<Self, (Error, Self)> {
        let copy = match KBox::new(
            DmaOnlyCopy {
                original: self.ptr,
                // SAFETY: Zero is a valid empty `sg_table`.
                copy: unsafe { core::mem::zeroed() },
            },
            GFP_KERNEL,
        ) {
            Ok(c) => KBox::into_raw(c),
            Err(e) => return Err((e.into(), self)),
        };
        // SAFETY: `copy` is ours; the original is a valid, mapped table.
        unsafe {
            let nents = (*self.ptr.as_ptr()).nents;
            let ret = bindings::sg_alloc_table(&mut (*copy).copy, nents, bindings::GFP_KERNEL);
            if ret != 0 {
                drop(KBox::from_raw(copy));
                return Err((Error::from_errno(ret), self));
            }
            let mut from = (*self.ptr.as_ptr()).sgl;
            let mut to = (*copy).copy.sgl;
            for _ in 0..nents {
                glue::dmabuf_rs_sg_set_dma_only(
                    to,
                    bindings::sg_dma_address(from),
                    bindings::sg_dma_len(from),
                );
                from = bindings::sg_next(from);
                to = bindings::sg_next(to);
            }
            // INVARIANT: The copy is owned by the new handle.
            Ok(MappedTable {
                ptr: NonNull::new_unchecked(&mut (*copy).copy),
            })
        }
    }

    /// Frees a copy made by [`MappedTable::dma_only_copy`] and gives back
    /// the original.
    ///
    /// # Safety
    ///
    /// `self` must come from [`MappedTable::dma_only_copy`].
    pub(crate) unsafe fn undo_dma_only_copy(self) -> Self {
        // SAFETY: `self` is the `copy` member of a `DmaOnlyCopy`.
        unsafe {
            let c = self
                .ptr
                .as_ptr()
                .byte_sub(core::mem::offset_of!(DmaOnlyCopy, copy))
                .cast::<DmaOnlyCopy>();
            let original = (*c).original;
            bindings::sg_free_table(self.ptr.as_ptr());
            drop(KBox::from_raw(c));
            // INVARIANT: The original passes back to the handle.
            MappedTable { ptr: original }
        }
    }
}

/// The debug copy of a table and the exporter's original.
#[repr(C)]
struct DmaOnlyCopy {
    original: NonNull<bindings::sg_table>,
    copy: bindings::sg_table,
}

/// The memory of an [`OwnedTable`]: the table, and room for a one-entry
/// list, so that a table of one entry (every CMA buffer, small system
/// buffers) takes one allocation, not two.
#[repr(C)]
struct TableStorage {
    /// First, so that a pointer to it is a pointer to the storage.
    table: bindings::sg_table,
    /// The list of a one-entry table.
    one: bindings::scatterlist,
}

/// A kmalloc'ed table over pages, owned by a Rust exporter until it gives
/// it to an importer.
///
/// # Invariants
///
/// `ptr` is the `table` of a kmalloc'ed [`TableStorage`] owned by this
/// object; its list is either the storage's own `one` entry (a table of
/// one entry) or allocated by `sg_alloc_table`.
pub(crate) struct OwnedTable {
    ptr: NonNull<bindings::sg_table>,
}

// SAFETY: The table is plain memory owned by this object.
unsafe impl Send for OwnedTable {}

impl OwnedTable {
    /// Whether the table's list is the storage's inline entry.
    fn is_inline(t: NonNull<bindings::sg_table>) -> bool {
        let s = t.as_ptr().cast::<TableStorage>();
        // SAFETY: `t` is the `table` of a live storage (type invariant).
        unsafe { core::ptr::eq((*s).table.sgl, core::ptr::addr_of_mut!((*s).one)) }
    }

    /// Builds a table with one entry per chunk of contiguous pages.
    pub(crate) fn from_chunks(chunks: &[Chunk]) -> Result<Self> {
        // An entry's length is an `unsigned int`: a chunk longer than
        // that (a CMA buffer of 4 GiB or more) takes several entries, cut
        // at page boundaries as `sg_alloc_table_from_pages` cuts them.
        // Counted in pages, with no division for the usual chunk.
        let mut entries = chunks.len();
        for c in chunks {
            if c.pages() > MAX_SEGMENT_PAGES {
                entries += (c.pages() - 1) / MAX_SEGMENT_PAGES;
            }
        }
        let n = u32::try_from(entries)?;
        // SAFETY: Zero is a valid empty table and entry, plain C data.
        let s = unsafe { kmem::kzalloc::<TableStorage>()? }.as_ptr();
        // SAFETY: `s` is ours; `table` is its first field (`repr(C)`).
        let t = unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*s).table)) };
        if n == 1 {
            // SAFETY: `s` is ours: a one-entry list, marked as the end, is
            // what `sg_alloc_table` would have made for one entry.
            unsafe {
                let one = core::ptr::addr_of_mut!((*s).one);
                bindings::sg_init_table(one, 1);
                (*s).table.sgl = one;
                (*s).table.nents = 1;
                (*s).table.orig_nents = 1;
            }
        } else {
            // SAFETY: `t` is ours and empty.
            let ret = unsafe { bindings::sg_alloc_table(t.as_ptr(), n, bindings::GFP_KERNEL) };
            if ret != 0 {
                // SAFETY: Nothing was allocated inside; free the storage.
                unsafe { kmem::kfree(NonNull::new_unchecked(s)) };
                return Err(Error::from_errno(ret));
            }
        }
        // INVARIANT: Set up above; from here on, drop frees it.
        let table = OwnedTable { ptr: t };
        // SAFETY: The table is ours and unmapped, and has exactly the
        // entries counted above, which the loops below visit in order (the
        // last `next_entry` gives NULL, never used); each chunk's pages are
        // contiguous and stay allocated while the table is used.
        unsafe {
            let mut sg = (*t.as_ptr()).sgl;
            for c in chunks {
                let mut first = 0;
                let mut left = c.pages();
                while left > MAX_SEGMENT_PAGES {
                    set_entry(sg, c.page_at(first), MAX_SEGMENT as u32);
                    sg = next_entry(sg);
                    first += MAX_SEGMENT_PAGES;
                    left -= MAX_SEGMENT_PAGES;
                }
                // `left <= MAX_SEGMENT_PAGES`: the length fits.
                set_entry(sg, c.page_at(first), (left * PAGE_SIZE) as u32);
                sg = next_entry(sg);
            }
        }
        Ok(table)
    }

    /// Gives the table to an importer (through the core).
    pub(crate) fn into_mapped(self) -> MappedTable {
        let ptr = self.ptr;
        core::mem::forget(self);
        // INVARIANT: Ownership passes to the handle.
        MappedTable { ptr }
    }

    /// Takes back a table that [`OwnedTable::into_mapped`] gave away.
    ///
    /// # Safety
    ///
    /// `t` must come from [`OwnedTable::into_mapped`].
    pub(crate) unsafe fn from_mapped(t: MappedTable) -> Self {
        // INVARIANT: By the safety requirements.
        OwnedTable { ptr: t.ptr }
    }

    /// Clears what a DMA mapping leaves behind in the table: dma-iommu
    /// marks the first entry of a table it bounced through swiotlb, in a
    /// successful map and in one that failed part-way, and neither the
    /// unmap nor the failure clears it; the mark would send the next
    /// device's sync and unmap down the swiotlb path. Cleared, the table is
    /// as [`OwnedTable::from_chunks`] made it, and may be mapped again for
    /// any device (`heaps/buffer.rs` keeps one).
    pub(crate) fn clear_dma_marks(&mut self) {
        #[cfg(CONFIG_NEED_SG_DMA_FLAGS)]
        // SAFETY: The table is allocated and owned by `self` (type
        // invariant), and not mapped: only its owner touches it.
        unsafe {
            let sgl = (*self.ptr.as_ptr()).sgl;
            if !sgl.is_null() {
                (*sgl).dma_flags = 0;
            }
        }
    }

    /// The number of entries.
    pub(crate) fn nents(&self) -> u32 {
        // SAFETY: Valid by the type invariant.
        unsafe { (*self.ptr.as_ptr()).nents }
    }

    /// Whether the table has one entry per chunk of `chunks`, in order,
    /// each covering the whole chunk, and ends after them; read with C's
    /// `sg_next()` (for the KUnit cases).
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn describes(&self, chunks: &[Chunk]) -> bool {
        let mut ok = self.nents() as usize == chunks.len();
        // SAFETY: A valid table with `nents` entries, owned by `self`.
        unsafe {
            let mut sg = (*self.ptr.as_ptr()).sgl;
            for c in chunks {
                if sg.is_null() {
                    return false;
                }
                let page = ((*sg).page_link & !SG_MARKS) as *mut bindings::page;
                ok &= page == c.page_at(0) && (*sg).offset == 0 && (*sg).length as usize == c.len();
                sg = bindings::sg_next(sg);
            }
            ok && sg.is_null()
        }
    }
}

impl Drop for OwnedTable {
    fn drop(&mut self) {
        if !Self::is_inline(self.ptr) {
            // SAFETY: Owned, with an allocated list (type invariant).
            unsafe { bindings::sg_free_table(self.ptr.as_ptr()) };
        }
        // SAFETY: The table is the first field of a storage we own.
        unsafe { kmem::kfree(self.ptr.cast::<TableStorage>()) };
    }
}

/// An [`OwnedTable`] DMA-mapped for one device; unmapped on drop.
///
/// # Invariants
///
/// `table` is mapped (`dma_map_sgtable`) for `dev` in direction `dir`, and
/// stays allocated while this object lives (its owner unmaps first).
/// `dev` is the device of `attach`, the attachment the table was mapped
/// for. The attachment takes no reference on its device (neither does
/// C's): the importer keeps the device alive until it detaches, so the
/// owner drops this object at the latest when `attach` is detached
/// (`heaps/buffer.rs` does, in its `detach`, for an importer that did not
/// unmap first).
pub(crate) struct DeviceTable {
    dev: *mut bindings::device,
    attach: *const bindings::dma_buf_attachment,
    table: NonNull<bindings::sg_table>,
    dir: DataDirection,
    /// The `DMA_ATTR_*` of the mapping, which the unmap repeats.
    attrs: kernel::ffi::c_ulong,
}

// SAFETY: The mapping may be synced and unmapped from any thread.
unsafe impl Send for DeviceTable {}
// SAFETY: Syncing is safe to call concurrently.
unsafe impl Sync for DeviceTable {}

impl DeviceTable {
    /// DMA-maps `table` for the device of `attach`. The mapping must be
    /// dropped before `attach` is detached.
    pub(crate) fn map(
        attach: &Attachment,
        table: &OwnedTable,
        dir: DataDirection,
        sharing: Sharing,
    ) -> Result<Self> {
        let dev = attach.raw_device();
        let attrs = match sharing {
            Sharing::Private => 0,
            Sharing::Shared => bindings::DMA_ATTR_CC_SHARED as kernel::ffi::c_ulong,
        };
        // SAFETY: The attachment's live device and an allocated table.
        check(unsafe { bindings::dma_map_sgtable(dev, table.ptr.as_ptr(), dir.into(), attrs) })?;
        // INVARIANT: Mapped just above, for the attachment's device.
        Ok(DeviceTable {
            dev,
            attach: attach.as_raw(),
            table: table.ptr,
            dir,
            attrs,
        })
    }

    /// Whether this is the mapping of `table`.
    pub(crate) fn is_of(&self, table: &OwnedTable) -> bool {
        self.table == table.ptr
    }

    /// Whether this mapping was made for `attach`.
    pub(crate) fn is_for(&self, attach: &Attachment) -> bool {
        core::ptr::eq(self.attach, attach.as_raw())
    }

    /// Unmaps the table and takes it back from the importer it was given
    /// to.
    ///
    /// # Safety
    ///
    /// The table must be the one the exporter gave away for this mapping
    /// (`OwnedTable::into_mapped`), and the importer must no longer use
    /// it: its attachment is being detached.
    pub(crate) unsafe fn unmap_and_take_back(self) -> OwnedTable {
        let ptr = self.table;
        drop(self);
        // INVARIANT: By the safety requirements the table is an
        // `OwnedTable` nobody else owns any more.
        OwnedTable { ptr }
    }

    /// Syncs the mapping for CPU access in `dir`.
    pub(crate) fn sync_for_cpu(&self, dir: DataDirection) {
        // SAFETY: A live mapping by the type invariant.
        unsafe { glue::dmabuf_rs_sync_for_cpu(self.dev, self.table.as_ptr(), dir.into()) };
    }

    /// Syncs the mapping back for the device in `dir`.
    pub(crate) fn sync_for_device(&self, dir: DataDirection) {
        // SAFETY: A live mapping by the type invariant.
        unsafe { glue::dmabuf_rs_sync_for_device(self.dev, self.table.as_ptr(), dir.into()) };
    }
}

impl Drop for DeviceTable {
    fn drop(&mut self) {
        let t = self.table.as_ptr();
        // SAFETY: Mapped with this device and direction (type invariant).
        unsafe { bindings::dma_unmap_sgtable(self.dev, t, self.dir.into(), self.attrs) };
    }
}

/// Lets `dev`, a faux device of a KUnit case, DMA-map any memory (a
/// 64-bit mask).
///
/// # Safety
///
/// Nothing may map for `dev` at the same time.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) unsafe fn kunit_dma_mask(dev: &kernel::device::Device) -> Result {
    // `Device` wraps a `struct device` transparently.
    let raw = core::ptr::from_ref(dev).cast_mut().cast();
    // SAFETY: A live device; no mapping runs concurrently (the safety
    // requirements).
    kernel::error::to_result(unsafe { glue::dmabuf_rs_dma_coerce_mask_64(raw) })
}

/// KUnit tests of the tables Rust exporters build, read back with C's own
/// `sg_next()` (which follows the chain entries `sg_alloc_table` puts at
/// the end of each page of entries).
#[kunit_tests(dmabuf_rs_sg_table)]
mod tests {
    use super::*;
    use crate::sys::pages::Gfp;

    fn chunks(n: usize, order: impl Fn(usize) -> u32) -> Result<KVec<Chunk>> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            v.push(
                Chunk::alloc_order(order(i), Gfp::HIGHUSER).ok_or(ENOMEM)?,
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }

    #[test]
    fn one_chunk_is_one_inline_entry() -> Result {
        let c = chunks(1, |_| 2)?;
        let t = OwnedTable::from_chunks(&c)?;
        assert!(OwnedTable::is_inline(t.ptr));
        assert!(t.describes(&c));
        Ok(())
    }

    #[test]
    fn many_chunks_cross_chained_blocks() -> Result {
        // More entries than one page of them holds (128 on 4 KiB pages),
        // so the list is chained; mixed sizes, as a fragmented heap gives.
        let c = chunks(300, |i| (i % 3) as u32)?;
        let t = OwnedTable::from_chunks(&c)?;
        assert!(!OwnedTable::is_inline(t.ptr));
        assert!(t.describes(&c));
        Ok(())
    }
}
