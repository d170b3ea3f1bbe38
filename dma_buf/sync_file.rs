// SPDX-License-Identifier: GPL-2.0
//! Implicit fences as sync_files: `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` and
//! `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`.

use crate::sys::dma_buf::DmaBuf;
use crate::sys::fence::Fence;
use crate::sys::resv::Usage;
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

impl DmaBuf {
    /// A sync_file of the fences an access (a write if `write`) would wait
    /// for; an always-signalled one when there are none.
    #[inline(always)]
    pub(crate) fn export_sync_file(&self, write: bool) -> Result<ARef<File>> {
        let fence = self
            .resv()
            .get_singleton(Usage::for_access(write))?
            .unwrap_or_else(Fence::stub);
        fence.to_sync_file()
    }

    /// Adds the fences of `fence` (arrays and chains unwrapped) as write
    /// fences if `write`, else as read fences.
    #[inline(always)]
    pub(crate) fn import_sync_file(&self, fence: &Fence, write: bool) -> Result {
        let usage = if write { Usage::Write } else { Usage::Read };
        let mut n = 0u32;
        fence.for_each_unwrapped(|_| n += 1);
        if n == 0 {
            return Ok(());
        }
        let locked = self.lock();
        let held = locked.held();
        held.reserve_fences(n)?;
        fence.for_each_unwrapped(|leaf| held.add_fence(leaf, usage));
        Ok(())
    }
}
