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
use crate::sys::pages::{Chunk, PageVmap, PAGE_SIZE};
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
    mapped: KVec<DeviceTable>,
    /// The kernel mapping, while the core holds a vmap.
    vmap: Option<PageVmap>,
}

/// A heap buffer.
///
/// Fields drop in order: the state (the DMA mappings and the kernel
/// mapping, all gone by release anyway) before the chunks they map.
#[pin_data]
pub(crate) struct HeapBuffer {
    #[pin]
    state: Mutex<State>,
    chunks: KVVec<Chunk>,
    mmap_rule: MmapRule,
}

impl HeapBuffer {
    /// Exports `chunks` as a new dma-buf named after the heap `name`; its
    /// size is the chunks' total length.
    pub(crate) fn export(
        chunks: KVVec<Chunk>,
        mmap_rule: MmapRule,
        fd_flags: u32,
        name: &'static CStr,
    ) -> Result<ARef<DmaBuf>> {
        let len = chunks.iter().map(Chunk::len).sum();
        let buf = KBox::pin_init(
            pin_init!(HeapBuffer {
                state <- new_mutex!(State { mapped: KVec::new(), vmap: None }, "HeapBuffer::state"),
                chunks,
                mmap_rule,
            }),
            GFP_KERNEL,
        )?;
        DmaBuf::export_rust(
            KBox::new(HeapExport(buf), GFP_KERNEL)?,
            len,
            fd_flags as i32,
            name,
        )
    }
}

/// The exporter data: the pinned buffer (pinned because of its mutex).
pub(crate) struct HeapExport(Pin<KBox<HeapBuffer>>);

#[vtable]
impl Exporter for HeapExport {
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable> {
        let table = OwnedTable::from_chunks(&self.0.chunks)?;
        let mut state = self.0.state.lock();
        // Room first, so that recording the mapping below cannot fail.
        state.mapped.reserve(1, GFP_KERNEL)?;
        let mapped = DeviceTable::map(attach, &table, dir)?;
        state.mapped.push(mapped, GFP_KERNEL)?;
        Ok(table)
    }

    fn unmap(&self, _attach: &Attachment, table: OwnedTable, _dir: DataDirection) {
        let mut state = self.0.state.lock();
        let i = state.mapped.iter().position(|m| m.is_of(&table));
        let mapping = i.and_then(|i| state.mapped.remove(i).ok());
        drop(state);
        // The DMA mapping goes before the table it maps.
        drop(mapping);
        drop(table);
    }

    fn release(this: KBox<Self>) {
        // The chunks go back to their allocator when `this` drops.
        drop(this);
    }

    fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        for m in self.0.state.lock().mapped.iter() {
            m.sync_for_cpu(dir);
        }
        Ok(())
    }

    fn end_cpu_access(&self, dir: DataDirection) -> Result {
        for m in self.0.state.lock().mapped.iter() {
            m.sync_for_device(dir);
        }
        Ok(())
    }

    fn mmap(&self, vma: &VmaNew) -> Result {
        let shared = vma.flags() & (flags::SHARED | flags::MAYSHARE) != 0;
        if self.0.mmap_rule == MmapRule::SharedOnly && !shared {
            return Err(EINVAL);
        }
        let (start, end) = (vma.start(), vma.end());
        let mut skip = vma::pgoff(vma);
        let pfnmap = vma::set_pfnmap(vma);
        let mut addr = start;
        for c in self.0.chunks.iter() {
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

    fn vmap(&self) -> Result<IosysMap> {
        // SAFETY: The chunks outlive the mapping: `vunmap` or the state's
        // drop (before the chunks') removes it.
        let v = unsafe { PageVmap::new(&self.0.chunks)? };
        let map = IosysMap::sys(v.addr());
        self.0.state.lock().vmap = Some(v);
        Ok(map)
    }

    fn vunmap(&self, _map: &IosysMap) {
        drop(self.0.state.lock().vmap.take());
    }
}
