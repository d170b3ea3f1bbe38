// SPDX-License-Identifier: GPL-2.0
//! CPU access brackets: `begin_cpu_access` / `end_cpu_access`.
//!
//! Begin calls the exporter (cache maintenance), then waits for the fences
//! that conflict with the access: a write waits for every fence, a read
//! only for writers. Both run without the reservation lock.

use crate::ffi::entry::{self, RawDirection};
use crate::ffi::object::DmaBuf;
use crate::ffi::resv::Usage;
use kernel::prelude::*;

/// `dma_buf_begin_cpu_access`.
pub(crate) fn begin(buf: &DmaBuf, dir: RawDirection) -> Result {
    buf.resv().might_lock();
    entry::op_cpu_access(buf, dir, true)?;
    buf.resv().wait(Usage::for_access(entry::is_write(dir)))
}

/// `dma_buf_end_cpu_access`.
pub(crate) fn end(buf: &DmaBuf, dir: RawDirection) -> Result {
    buf.resv().might_lock();
    entry::op_cpu_access(buf, dir, false)
}
