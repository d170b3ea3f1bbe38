// SPDX-License-Identifier: GPL-2.0
//! The buffer both heaps export: chunks of physically contiguous pages,
//! one DMA-mapped table per mapped attachment, and a kernel mapping while
//! the core holds a vmap.
//!
//! Lock order (see `dma_buf/locked.rs`): the core's reservation lock, held
//! around `map`, `unmap`, `vmap` and `vunmap`, is taken before
//! `HeapBuffer::state`.

use crate::dma_buf::exporter::{Exporter, OwnedTable};
use crate::dma_buf::{Attachment, DmaBuf};
use crate::sys::iosys_map::IosysMap;
use crate::sys::kmem::LazyKVec;
use crate::sys::pages::{Chunk, PageArray, PageVmap, PAGE_SIZE};
use crate::sys::sg_table::DeviceTable;
use crate::sys::vma;
use kernel::alloc::KVVec;
use kernel::dma::DataDirection;
use kernel::mm::virt::{flags, VmaNew};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{aref::ARef, Mutex};

/// How the buffer may be mapped into userspace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MmapRule {
    /// Shared mappings only (CMA heap).
    SharedOnly,
    /// Any mapping; `remap_pfn_range` refuses a private one spanning
    /// several chunks, as upstream (system heap).
    Any,
}

/// Mutable state, under `HeapBuffer::state`.
struct State {
    /// Tables currently mapped for importers' devices.
    mapped: LazyKVec<DeviceTable>,
    /// The kernel mapping, while the core holds a vmap.
    vmap: Option<PageVmap>,
    /// The page array `vmap` takes, built at the first vmap and kept until
    /// release: a buffer mapped into the kernel once is usually mapped
    /// again (upstream's CMA heap keeps such an array for every buffer).
    pages: Option<PageArray>,
}

/// The chunks of a buffer. Most buffers have one (every CMA buffer, and
/// the system heap's up to 1 MiB), kept inline: no array to allocate.
pub(crate) enum Chunks {
    /// A single chunk.
    One(Chunk),
    /// Several chunks, in order.
    Many(KVVec<Chunk>),
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

/// A heap buffer, which is its own exporter data (pinned because of its
/// mutex), in the core's allocation of the buffer.
///
/// Fields drop in order: the state (the DMA mappings and the kernel
/// mapping, all gone by release anyway) before the chunks they map.
#[pin_data]
pub(crate) struct HeapBuffer {
    #[pin]
    state: Mutex<State>,
    chunks: Chunks,
    mmap_rule: MmapRule,
}

impl HeapBuffer {
    /// Exports `chunks` as a new dma-buf named after the heap `name`; its
    /// size is the chunks' total length.
    pub(crate) fn export(
        chunks: Chunks,
        mmap_rule: MmapRule,
        fd_flags: u32,
        name: &'static CStr,
    ) -> Result<ARef<DmaBuf>> {
        let len = chunks.as_slice().iter().map(Chunk::len).sum();
        let buf = pin_init!(HeapBuffer {
            state <- new_mutex!(State { mapped: LazyKVec::new(), vmap: None, pages: None }, "HeapBuffer::state"),
            chunks,
            mmap_rule,
        });
        DmaBuf::export_rust(buf, len, fd_flags as i32, name)
    }
}

#[vtable]
impl Exporter for HeapBuffer {
    #[inline]
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable> {
        let table = OwnedTable::from_chunks(self.chunks.as_slice())?;
        let mut state = self.state.lock();
        // Room first, so that recording the mapping below cannot fail (the
        // vector keeps its room once grown: usually nothing to do here).
        if state.mapped.spare_capacity_mut().is_empty() {
            state.mapped.reserve(1, GFP_KERNEL)?;
        }
        let mapped = DeviceTable::map(attach, &table, dir)?;
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
        // The order of the records does not matter: the found one swaps
        // with the last, which is popped.
        let mapping = state
            .mapped
            .iter()
            .position(|m| m.is_of(&table))
            .and_then(|i| {
                let last = state.mapped.len() - 1;
                state.mapped.as_mut_slice().swap(i, last);
                state.mapped.pop()
            });
        drop(state);
        // The DMA mapping goes before the table it maps.
        drop(mapping);
        drop(table);
    }

    fn release(self: Pin<&mut Self>) {
        // Nothing to do before the drop, which gives the chunks back to
        // their allocator.
    }

    #[inline]
    fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        for m in self.state.lock().mapped.iter() {
            m.sync_for_cpu(dir);
        }
        Ok(())
    }

    #[inline]
    fn end_cpu_access(&self, dir: DataDirection) -> Result {
        for m in self.state.lock().mapped.iter() {
            m.sync_for_device(dir);
        }
        Ok(())
    }

    fn mmap(&self, vma: &VmaNew) -> Result {
        let shared = vma.flags() & (flags::SHARED | flags::MAYSHARE) != 0;
        if self.mmap_rule == MmapRule::SharedOnly && !shared {
            return Err(EINVAL);
        }
        let (start, end) = (vma.start(), vma.end());
        let mut skip = vma::pgoff(vma);
        let pfnmap = vma::set_pfnmap(vma);
        let mut addr = start;
        for c in self.chunks.as_slice().iter() {
            if addr >= end {
                break;
            }
            if skip >= c.pages() {
                skip -= c.pages();
                continue;
            }
            let size = ((c.pages() - skip) * PAGE_SIZE).min(end - addr);
            // SAFETY: The chunk stays allocated while the mapping exists:
            // the mapping's file keeps the buffer alive.
            unsafe { pfnmap.remap_pfn_range(addr, c.pfn(skip), size)? };
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
            empty => empty.insert(PageArray::new(self.chunks.as_slice())?),
        };
        // SAFETY: The chunks outlive the mapping: `vunmap` or the state's
        // drop (before the chunks') removes it.
        let v = unsafe { PageVmap::new(pages)? };
        let map = IosysMap::sys(v.addr());
        state.vmap = Some(v);
        Ok(map)
    }

    #[inline]
    fn vunmap(&self, _map: &IosysMap) {
        drop(self.state.lock().vmap.take());
    }
}
