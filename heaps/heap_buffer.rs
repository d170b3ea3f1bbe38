// SPDX-License-Identifier: GPL-2.0
//! The buffer both heaps export: chunks of physically contiguous pages,
//! one DMA-mapped table per mapped attachment, and a cached kernel mapping.
//!
//! Lock order: the core's reservation lock (held around `map`, `unmap`,
//! `vmap`, `vunmap`) is taken before `HeapBuffer::state`.

use crate::exporter::{Exporter, OwnedTable, Vma};
use crate::ffi::mem::{Chunk, DeviceTable};
use crate::ffi::object::{Attachment, DmaBuf};
use crate::ffi::rust_api;
use kernel::dma::DataDirection;
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
}

/// A heap buffer.
#[pin_data]
pub(crate) struct HeapBuffer {
    chunks: KVec<Chunk>,
    mmap_rule: MmapRule,
    #[pin]
    state: Mutex<State>,
}

impl HeapBuffer {
    /// Exports `chunks` as a new dma-buf named after the heap `name`; its
    /// size is the chunks' total length.
    pub(crate) fn export(
        chunks: KVec<Chunk>,
        mmap_rule: MmapRule,
        fd_flags: u32,
        name: &'static CStr,
    ) -> Result<ARef<DmaBuf>> {
        let len = chunks.iter().map(Chunk::len).sum();
        let buf = Self::new(chunks, mmap_rule)?;
        DmaBuf::export_rust(
            KBox::new(HeapExport(buf), GFP_KERNEL)?,
            len,
            fd_flags as i32,
            name,
        )
    }

    fn new(chunks: KVec<Chunk>, mmap_rule: MmapRule) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(HeapBuffer {
                chunks,
                mmap_rule,
                state <- new_mutex!(State { mapped: KVec::new() }, "HeapBuffer::state"),
            }),
            GFP_KERNEL,
        )
    }

    fn each_mapped(&self, f: impl Fn(&DeviceTable)) {
        let state = self.state.lock();
        for m in state.mapped.iter() {
            f(m);
        }
    }
}

/// The exporter data: the pinned buffer (pinned because of its mutex).
pub(crate) struct HeapExport(pub(crate) Pin<KBox<HeapBuffer>>);

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
        if let Some(i) = state.mapped.iter().position(|m| m.is(&table)) {
            let m = state.mapped.remove(i);
            drop(state);
            if let Ok(m) = m {
                m.unmap();
            }
        }
        drop(table);
    }

    fn release(this: KBox<Self>) {
        // The chunks go back to their allocator when `this` drops.
        drop(this);
    }

    fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        self.0.each_mapped(|m| m.sync_for_cpu(dir));
        Ok(())
    }

    fn end_cpu_access(&self, dir: DataDirection) -> Result {
        self.0.each_mapped(|m| m.sync_for_device(dir));
        Ok(())
    }

    fn mmap(&self, vma: &Vma) -> Result {
        if self.0.mmap_rule == MmapRule::SharedOnly && !vma.is_shared() {
            return Err(EINVAL);
        }
        vma.set_pfnmap();
        let (start, end) = vma.range();
        let page = crate::ffi::mem::PAGE_SIZE;
        let mut skip = vma.pgoff();
        let mut addr = start;
        for c in self.0.chunks.iter() {
            if addr >= end {
                break;
            }
            if skip >= c.pages() {
                skip -= c.pages();
                continue;
            }
            let size = ((c.pages() - skip) * page).min(end - addr);
            vma.remap_pfn(addr, c.pfn(skip), size)?;
            addr += size;
            skip = 0;
        }
        Ok(())
    }

    fn vmap(&self) -> Result<*mut u8> {
        rust_api::vmap_chunks(&self.0.chunks)
    }

    fn vunmap(&self, vaddr: *mut u8) {
        // SAFETY: `vaddr` came from `vmap_chunks` in `vmap`.
        unsafe { rust_api::vunmap_pages(vaddr) };
    }
}
