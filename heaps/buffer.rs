// SPDX-License-Identifier: GPL-2.0
//! The buffer both heaps export: chunks of physically contiguous pages,
//! one DMA-mapped table per mapped attachment, and a kernel mapping while
//! the core holds a vmap.
//!
//! The table of an unmapped attachment is kept for the next map (of any
//! attachment): its entries describe the chunks, which never change, and
//! `dma_map_sgtable` rewrites the DMA side. Upstream's system heap keeps a
//! table per buffer and copies it at every attach; here a buffer that is
//! mapped again and again (an importer that attaches every frame) builds
//! its table once.
//!
//! Lock order (see `dma_buf/locked.rs`): the core's reservation lock, held
//! around `map`, `unmap`, `vmap` and `vunmap`, is taken before
//! `HeapBuffer::state`.

use super::charge::Charges;
use crate::dma_buf::exporter::{Exporter, OwnedTable};
use crate::dma_buf::{Attachment, DmaBuf};
use crate::sys::iosys_map::IosysMap;
use crate::sys::kmem::LazyKVec;
use crate::sys::pages::{Chunk, PageArray, PageVmap, Sharing, PAGE_SIZE};
use crate::sys::sg_table::DeviceTable;
use crate::sys::vma;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::alloc::KVVec;
use kernel::dma::DataDirection;
use kernel::mm::virt::{flags, VmaNew};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{aref::ARef, Mutex};

/// What differs between the two heaps' buffers, as it differs upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// The system heap's: any mapping into userspace (`remap_pfn_range`
    /// refuses a private one spanning several chunks, as upstream); a DMA
    /// mapping that fails gives its own errno, as `system_heap_map_dma_buf`.
    System,
    /// The CMA heap's: shared mappings only; a DMA mapping that fails is
    /// `ENOMEM`, whatever the DMA layer said, as `cma_heap_map_dma_buf`.
    Cma,
}

/// Mutable state, under `HeapBuffer::state`.
struct State {
    /// Tables currently mapped for importers' devices.
    mapped: LazyKVec<DeviceTable>,
    /// A table of the chunks that is not mapped, kept from the last unmap
    /// for the next map.
    spare: Option<OwnedTable>,
    /// The kernel mapping, while the core holds a vmap.
    vmap: Option<PageVmap>,
    /// The page array `vmap` takes, built at the first vmap and kept until
    /// release: a buffer mapped into the kernel once is usually mapped
    /// again (upstream's CMA heap keeps such an array for every buffer).
    pages: Option<PageArray>,
}

impl State {
    /// Removes and returns the first mapping record that `pred` picks. The
    /// order of the records does not matter: the found one swaps with the
    /// last, which is popped.
    fn take_mapping(&mut self, pred: impl Fn(&DeviceTable) -> bool) -> Option<DeviceTable> {
        let i = self.mapped.iter().position(pred)?;
        let last = self.mapped.len() - 1;
        self.mapped.as_mut_slice().swap(i, last);
        self.mapped.pop()
    }

    /// Keeps `table`, which is mapped for no device, as the spare: the one
    /// place a table becomes the spare, and where what a mapping left in
    /// it is cleared.
    fn keep(&mut self, mut table: OwnedTable) {
        table.clear_dma_marks();
        self.spare = Some(table);
    }
}

/// The chunks of a buffer. Most buffers have one (every CMA buffer, and
/// the system heap's up to 1 MiB), kept inline: no array to allocate.
pub(crate) enum Chunks {
    /// A single chunk.
    One(Chunk),
    /// Several chunks, in order.
    Many(KVVec<Chunk>),
}

impl IntoIterator for Chunks {
    type Item = Chunk;
    type IntoIter = core::iter::Chain<
        core::option::IntoIter<Chunk>,
        kernel::alloc::IntoIter<Chunk, kernel::alloc::allocator::KVmalloc>,
    >;

    /// The chunks, in order, by value (an empty array is no allocation).
    fn into_iter(self) -> Self::IntoIter {
        let (one, many) = match self {
            Chunks::One(c) => (Some(c), KVVec::new()),
            Chunks::Many(v) => (None, v),
        };
        Iterator::chain(one.into_iter(), many)
    }
}

impl Chunks {
    /// The chunks, in order.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[Chunk] {
        match self {
            Chunks::One(c) => core::slice::from_ref(c),
            Chunks::Many(v) => v,
        }
    }
}

/// A buffer's chunks in the form the CPU and devices see them: private to
/// a confidential guest, or shared with its host (the `system_cc_shared`
/// heap's), mapped by the rules of the heap's [`Flavour`] (kept here, in
/// what would be padding after `sharing`: a heap buffer, with the core's
/// buffer, fills a 512-byte allocation to the byte).
///
/// # Invariants
///
/// Every chunk is in the `sharing` form, or (while being shared, and at
/// drop) private: shared chunks are made private again before they go
/// back to the page allocator, and one that cannot be is leaked, as
/// upstream does (the host could read what its next owner writes).
pub(crate) struct Memory {
    chunks: Chunks,
    sharing: Sharing,
    flavour: Flavour,
    /// The chunks go to the system heap's pool when freed (also in what
    /// would be padding).
    pooled: bool,
}

impl Memory {
    /// Private chunks of a heap of `flavour`.
    pub(crate) fn private(chunks: Chunks, flavour: Flavour) -> Memory {
        Memory {
            chunks,
            sharing: Sharing::Private,
            flavour,
            pooled: false,
        }
    }

    /// Private chunks of the system heap that go to its pool when freed:
    /// they must carry no memcg charge (`heaps/pool.rs`).
    #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
    pub(crate) fn pooled(chunks: Chunks) -> Memory {
        Memory {
            chunks,
            sharing: Sharing::Private,
            flavour: Flavour::System,
            pooled: true,
        }
    }

    /// Shares freshly allocated chunks of a heap of `flavour`, which
    /// nothing maps yet, with the host. On an error those already shared
    /// are made private again.
    #[cfg_attr(not(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED), allow(dead_code))]
    pub(crate) fn shared(chunks: Chunks, flavour: Flavour) -> Result<Memory> {
        // INVARIANT: The drop of `memory` on an error below makes every
        // chunk private (a private one stays so).
        let memory = Memory {
            chunks,
            sharing: Sharing::Shared,
            flavour,
            pooled: false,
        };
        for c in memory.chunks.as_slice() {
            // SAFETY: The chunks are new: only the linear map maps them.
            unsafe { c.set_sharing(Sharing::Shared) }.inspect_err(|e| {
                pr_warn!("dma-buf system heap: failed to decrypt a chunk: {:?}\n", e);
            })?;
        }
        Ok(memory)
    }

    /// The chunks, in order.
    #[inline]
    pub(crate) fn chunks(&self) -> &[Chunk] {
        self.chunks.as_slice()
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        if self.sharing == Sharing::Private {
            #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
            if self.pooled {
                let chunks = core::mem::replace(&mut self.chunks, Chunks::Many(KVVec::new()));
                super::pool::recycle(chunks);
            }
            return;
        }
        let chunks = core::mem::replace(&mut self.chunks, Chunks::Many(KVVec::new()));
        let mut leaked = 0usize;
        let private = |c: Chunk| {
            // SAFETY: The buffer's mappings are gone (its state drops
            // before its memory, and its file before it).
            if unsafe { c.set_sharing(Sharing::Private) }.is_err() {
                leaked += c.pages();
                core::mem::forget(c);
            }
        };
        chunks.into_iter().for_each(private);
        if leaked > 0 {
            pr_warn!("dma-buf system heap: failed to re-encrypt {leaked} pages, leaking them\n");
        }
    }
}

/// A heap buffer, which is its own exporter data (pinned because of its
/// mutex), in the core's allocation of the buffer.
///
/// Fields drop in order: the state (the DMA mappings and the kernel
/// mapping, all gone by release anyway) before the memory they map, and
/// the memory before its cgroup charges are given back.
#[pin_data]
pub(crate) struct HeapBuffer {
    #[pin]
    state: Mutex<State>,
    memory: Memory,
    charges: Option<KBox<Charges>>,
}

impl HeapBuffer {
    /// Exports `memory`, with the cgroup charges taken for it, as a new
    /// dma-buf named after the heap `name`; its size is the chunks' total
    /// length.
    pub(crate) fn export(
        memory: Memory,
        charges: Option<KBox<Charges>>,
        fd_flags: u32,
        name: &'static CStr,
    ) -> Result<ARef<DmaBuf>> {
        let len = memory.chunks().iter().map(Chunk::len).sum();
        let buf = pin_init!(HeapBuffer {
            state <- new_mutex!(State { mapped: LazyKVec::new(), spare: None, vmap: None, pages: None }, "HeapBuffer::state"),
            memory,
            charges,
        });
        DmaBuf::export_rust(buf, len, fd_flags as i32, name)
    }

    /// The chunks, in order.
    #[inline]
    fn chunks(&self) -> &[Chunk] {
        self.memory.chunks()
    }
}

#[vtable]
impl Exporter for HeapBuffer {
    #[inline]
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable> {
        let mut state = self.state.lock();
        // Room first, so that recording the mapping below cannot fail (the
        // vector keeps its room once grown: usually nothing to do here).
        if state.mapped.spare_capacity_mut().is_empty() {
            state.mapped.reserve(1, GFP_KERNEL)?;
        }
        let table = match state.spare.take() {
            Some(table) => table,
            None => OwnedTable::from_chunks(self.chunks())?,
        };
        let mapped = match DeviceTable::map(attach, &table, dir, self.memory.sharing) {
            Ok(mapped) => mapped,
            Err(e) => {
                state.keep(table);
                return Err(match self.memory.flavour {
                    Flavour::System => e,
                    Flavour::Cma => ENOMEM,
                });
            }
        };
        if let Err(e) = state.mapped.push_within_capacity(mapped) {
            // Not reached: room was made above. Unmaps on drop.
            drop(e);
            return Err(ENOMEM);
        }
        Ok(table)
    }

    #[inline]
    fn unmap(&self, _attach: &Attachment, table: OwnedTable, _dir: DataDirection) {
        let mut state = self.state.lock();
        let mapping = state.take_mapping(|m| m.is_of(&table));
        // The DMA mapping goes before the table it maps; the table is kept
        // for the next map if none is.
        let found = mapping.is_some();
        drop(mapping);
        if found && state.spare.is_none() {
            state.keep(table);
            return;
        }
        drop(state);
        drop(table);
    }

    fn release(self: Pin<&mut Self>) {
        // Nothing to do before the drop, which gives the chunks back to
        // their allocator.
    }

    /// An importer that detaches with tables still mapped (a driver bug)
    /// leaves mappings for a device that may go away after the detach:
    /// later SYNCs and the release would use it. Upstream's heaps free
    /// the table and leave the DMA mapping; here every mapping of the
    /// attachment is unmapped and its table freed, with a warning (once)
    /// that names the device.
    fn detach(&self, attach: &Attachment) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let mut state = self.state.lock();
        while let Some(mapping) = state.take_mapping(|m| m.is_for(attach)) {
            if !WARNED.swap(true, Ordering::Relaxed) {
                pr_warn!(
                    "dma-buf: {} detached with a heap buffer still mapped; unmapping it\n",
                    attach.dev_name().to_str().unwrap_or("?")
                );
            }
            // SAFETY: Every table of `mapped` is one `map` gave away, and
            // the importer detaching `attach` no longer uses it.
            let table = unsafe { mapping.unmap_and_take_back() };
            if state.spare.is_none() {
                state.keep(table);
            }
        }
    }

    /// As upstream's heaps: the kernel mapping first (on a cache that
    /// aliases it must not keep stale lines), then every mapped table.
    #[inline]
    fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        let state = self.state.lock();
        if let Some(v) = &state.vmap {
            v.invalidate();
        }
        for m in state.mapped.iter() {
            m.sync_for_cpu(dir);
        }
        Ok(())
    }

    #[inline]
    fn end_cpu_access(&self, dir: DataDirection) -> Result {
        let state = self.state.lock();
        if let Some(v) = &state.vmap {
            v.flush();
        }
        for m in state.mapped.iter() {
            m.sync_for_device(dir);
        }
        Ok(())
    }

    fn mmap(&self, vma: &VmaNew) -> Result {
        let shared = vma.flags() & (flags::SHARED | flags::MAYSHARE) != 0;
        if self.memory.flavour == Flavour::Cma && !shared {
            return Err(EINVAL);
        }
        let (start, end) = (vma.start(), vma.end());
        let mut skip = vma::pgoff(vma);
        let pfnmap = vma::set_pfnmap(vma);
        let mut addr = start;
        for c in self.chunks() {
            if addr >= end {
                break;
            }
            if skip >= c.pages() {
                skip -= c.pages();
                continue;
            }
            let size = ((c.pages() - skip) * PAGE_SIZE).min(end - addr);
            // SAFETY: The chunk stays allocated, in its form, while the
            // mapping exists: the mapping's file keeps the buffer alive.
            unsafe { pfnmap.remap_pfn_range(addr, c.pfn(skip), size, self.memory.sharing)? };
            addr += size;
            skip = 0;
        }
        Ok(())
    }

    #[inline]
    fn vmap(&self) -> Result<IosysMap> {
        let mut state = self.state.lock();
        let pages = match &mut state.pages {
            Some(pages) => pages,
            empty => empty.insert(PageArray::new(self.memory.chunks())?),
        };
        // SAFETY: The chunks outlive the mapping, in their form: `vunmap`
        // or the state's drop (before the memory's) removes it.
        let v = unsafe { PageVmap::new(pages, self.memory.sharing)? };
        let map = IosysMap::sys(v.addr());
        state.vmap = Some(v);
        Ok(map)
    }

    #[inline]
    fn vunmap(&self, _map: &IosysMap) {
        drop(self.state.lock().vmap.take());
    }
}

/// KUnit tests of the heap buffer as an exporter, through the core's
/// importer API with a faux device.
#[kunit_tests(dmabuf_rs_heap_buffer)]
mod tests {
    use super::*;
    use crate::dma_buf::importer::{faux_device, Mapping};
    use crate::sys::pages::Gfp;
    use kernel::faux;
    use kernel::io::ResourceSize;

    /// The heap buffer behind `buf`.
    fn heap_buffer(buf: &DmaBuf) -> &HeapBuffer {
        // SAFETY: Every buffer of these tests comes from
        // `HeapBuffer::export`, whose data is a `HeapBuffer` living as long
        // as the buffer.
        unsafe { &*buf.priv_data().cast::<HeapBuffer>() }
    }

    /// The DMA segments of a mapping, as the importer sees them.
    /// The DMA lengths of a mapping's entries. Not their addresses: under
    /// `swiotlb=force` each mapping has its own bounce buffers.
    fn segments(m: &Mapping<'_>) -> Result<KVec<ResourceSize>> {
        let mut v = KVec::new();
        for sg in m.table().ok_or(EINVAL)?.iter() {
            v.push(sg.dma_len(), GFP_KERNEL)?;
        }
        Ok(v)
    }

    #[test]
    fn unmapped_table_is_kept_and_mapped_again() -> Result {
        let reg = faux::Registration::new(c"dmabuf-kunit-heap", None)?;
        let dev = faux_device(&reg);
        // SAFETY: The device is new: nothing maps for it yet.
        unsafe { crate::sys::sg_table::kunit_dma_mask(&dev)? };
        // 64 KiB + 8 KiB + 4 KiB: three chunks, one table entry each, none
        // longer than a faux device's segments may be (64 KiB; DMA-API
        // debugging warns on a longer one).
        let mut chunks = KVVec::with_capacity(3, GFP_KERNEL)?;
        for order in [4, 1, 0] {
            let c = Chunk::alloc_order(order, Gfp::HIGHUSER.with(Gfp::ZERO)).ok_or(ENOMEM)?;
            chunks.push(c, GFP_KERNEL)?;
        }
        let len = (16 + 2 + 1) * PAGE_SIZE;
        let buf = HeapBuffer::export(
            Memory::private(Chunks::Many(chunks), Flavour::System),
            None,
            2,
            c"kunit",
        )?;
        assert_eq!(buf.size(), len);
        let heap = heap_buffer(&buf);
        let a = buf.attach_guard(dev.clone())?;
        let b = buf.attach_guard(dev)?;
        assert!(heap.state.lock().spare.is_none());
        let first = {
            let m = a.map(DataDirection::Bidirectional)?;
            segments(&m)?
        };
        // The unmapped table is kept, and still describes the chunks.
        {
            let state = heap.state.lock();
            assert!(state.mapped.is_empty());
            let spare = state.spare.as_ref().ok_or(EINVAL)?;
            assert!(spare.describes(heap.chunks()));
        }
        {
            // The next map, from another attachment, takes it ...
            let m = b.map(DataDirection::ToDevice)?;
            assert!(heap.state.lock().spare.is_none());
            assert_eq!(segments(&m)?, first);
            // ... and a map alongside builds a second table.
            let m2 = a.map(DataDirection::FromDevice)?;
            assert_eq!(segments(&m2)?, first);
            assert_eq!(heap.state.lock().mapped.len(), 2);
        }
        // One of the two is kept, the other freed.
        let state = heap.state.lock();
        assert!(state.mapped.is_empty());
        assert!(state
            .spare
            .as_ref()
            .is_some_and(|t| t.describes(heap.chunks())));
        Ok(())
    }
}
