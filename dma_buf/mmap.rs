// SPDX-License-Identifier: GPL-2.0
//! Userspace mappings: `mmap` of the dma-buf fd, and `dma_buf_mmap` for a
//! VMA that another file (a GEM or V4L2 node) set up.

use crate::sys::dma_buf::DmaBuf;
use crate::sys::pages::PAGE_SIZE;
use crate::sys::vma;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;

impl DmaBuf {
    /// The buffer's size in pages.
    fn pages(&self) -> usize {
        self.size() / PAGE_SIZE
    }

    /// `mmap` of the dma-buf fd: the range must lie inside the buffer.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        if !self.ops().has_mmap() {
            return Err(EINVAL);
        }
        let end = vma::pgoff(vma).checked_add(vma::pages(vma));
        if end.is_none_or(|end| end > self.pages()) {
            return Err(EINVAL);
        }
        self.trace_mmap_internal();
        self.exporter_mmap(vma)
    }

    /// `dma_buf_mmap`: maps the buffer from page `pgoff` into `vma`, which
    /// then refers to the buffer's file.
    pub(crate) fn mmap_into(&self, vma: &VmaNew, pgoff: usize) -> Result {
        if !self.ops().has_mmap() {
            return Err(EINVAL);
        }
        let end = pgoff.checked_add(vma::pages(vma)).ok_or(EOVERFLOW)?;
        if end > self.pages() {
            return Err(EINVAL);
        }
        // SAFETY: The caller of `dma_buf_mmap` holds a buffer reference.
        vma::set_file(vma, unsafe { self.file() });
        vma::set_pgoff(vma, pgoff);
        self.trace_mmap();
        self.exporter_mmap(vma)
    }
}
