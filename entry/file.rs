// SPDX-License-Identifier: GPL-2.0
//! The dma-buf file and dentry operations.
//!
//! The tables are built in `sys/pseudo_fs.rs` from [`DmaBufFile`]'s
//! implementation of [`FileOps`]; each operation delegates to the buffer.

use crate::dma_buf::{DmaBuf, DyingDmaBuf};
use crate::sys::poll_slot::PollRequest;
use crate::sys::pseudo_fs::FileOps;
use crate::sys::seq_file::print_fdinfo;
use crate::uapi::dma_buf::DMA_BUF_NAME_LEN;
use kernel::fs::File;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;

/// `SEEK_SET`.
const SEEK_SET: i32 = 0;
/// `SEEK_END`.
const SEEK_END: i32 = 2;

/// The operations of a dma-buf's file.
pub(crate) struct DmaBufFile;

impl FileOps for DmaBufFile {
    fn release(buf: &DyingDmaBuf) {
        DmaBuf::file_released(buf);
    }

    fn mmap(buf: &DmaBuf, vma: &VmaNew) -> Result {
        buf.mmap(vma)
    }

    /// Only `SEEK_SET` and `SEEK_END`, to offset 0 (the size is found so).
    fn llseek(buf: &DmaBuf, offset: i64, whence: i32) -> Result<i64> {
        let base = match whence {
            SEEK_END => i64::try_from(buf.size()).map_err(|_| EINVAL)?,
            SEEK_SET => 0,
            _ => return Err(EINVAL),
        };
        if offset != 0 {
            return Err(EINVAL);
        }
        Ok(base)
    }

    fn poll(buf: &DmaBuf, file: &File, pt: &PollRequest<'_>) -> u32 {
        buf.poll(file, pt)
    }

    #[inline]
    fn ioctl(buf: &DmaBuf, cmd: u32, arg: usize) -> Result<i32> {
        super::ioctl::dispatch(buf, cmd, arg)
    }

    fn show_fdinfo(buf: &DmaBuf, _file: &File, m: &SeqFile) {
        let mut name = [0u8; DMA_BUF_NAME_LEN];
        // `copy_name` ends the copy with a NUL inside the array.
        let name = buf
            .copy_name(&mut name)
            .and_then(|len| CStr::from_bytes_with_nul(&name[..=len]).ok());
        // SAFETY: fdinfo is shown for an open file, so it is not released.
        let count = unsafe { buf.file_count() } - 1;
        print_fdinfo(
            m,
            buf.size(),
            count as kernel::ffi::c_long,
            buf.exp_name(),
            name,
        );
    }

    /// `/<dentry name>:<buffer name>`, as `/proc/<pid>/fd` shows it.
    fn dname(buf: &DyingDmaBuf, base: &[u8], out: &mut [u8]) -> Result<usize> {
        let mut name = [0u8; DMA_BUF_NAME_LEN];
        let len = buf.copy_name(&mut name).unwrap_or(0);
        let mut at = 0;
        for part in [b"/", base, b":", &name[..len]] {
            out.get_mut(at..at + part.len())
                .ok_or(ENAMETOOLONG)?
                .copy_from_slice(part);
            at += part.len();
        }
        Ok(at)
    }

    unsafe fn dentry_release(buf: &DyingDmaBuf) {
        // SAFETY: The dentry, the last user, is dying (caller's contract).
        unsafe { DmaBuf::release(buf) };
    }
}

/// The exporter name as C prints it: its bytes, `(null)` when missing.
pub(crate) fn exp_name(buf: &DmaBuf) -> &[u8] {
    buf.exp_name().map_or(b"(null)", |n| n.to_bytes())
}
