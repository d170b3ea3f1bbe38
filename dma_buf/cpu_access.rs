// SPDX-License-Identifier: GPL-2.0
//! CPU access brackets: `begin_cpu_access` / `end_cpu_access`.
//!
//! Begin calls the exporter (cache maintenance), then waits for the fences
//! that conflict with the access: a write waits for every fence, a read
//! only for writers. Both run without the reservation lock, and tell
//! lockdep they may take it. Kernel importers' brackets are counted by
//! the ledger; userspace's (`DMA_BUF_IOCTL_SYNC`) are not.

use crate::sys::dma_buf::DmaBuf;
use crate::sys::resv::Usage;
use kernel::dma::DataDirection;
use kernel::prelude::*;

/// Whether an access in `dir` writes (`DMA_TO_DEVICE` or bidirectional).
fn writes(dir: DataDirection) -> bool {
    matches!(dir, DataDirection::ToDevice | DataDirection::Bidirectional)
}

impl DmaBuf {
    /// `dma_buf_begin_cpu_access`.
    #[inline]
    pub(crate) fn begin_cpu_access(&self, dir: DataDirection) -> Result {
        self.might_lock();
        self.exporter_begin_cpu_access(dir)?;
        self.resv().wait(Usage::for_access(writes(dir)))
    }

    /// `dma_buf_end_cpu_access`.
    #[inline]
    pub(crate) fn end_cpu_access(&self, dir: DataDirection) -> Result {
        self.might_lock();
        self.exporter_end_cpu_access(dir)
    }

    /// [`DmaBuf::begin_cpu_access`] for a kernel importer: a bracket the
    /// ledger counts (`ledger.rs`) until its end.
    pub(crate) fn begin_kernel_cpu_access(&self, dir: DataDirection) -> Result {
        self.begin_cpu_access(dir)?;
        self.ledger_begin(dir);
        Ok(())
    }

    /// [`DmaBuf::end_cpu_access`] for a kernel importer.
    pub(crate) fn end_kernel_cpu_access(&self, dir: DataDirection) -> Result {
        self.ledger_end(dir);
        self.end_cpu_access(dir)
    }
}
