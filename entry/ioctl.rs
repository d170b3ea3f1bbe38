// SPDX-License-Identifier: GPL-2.0
//! The dma-buf fd's ioctls: `SYNC`, `SET_NAME_A/B`, `EXPORT_SYNC_FILE`,
//! `IMPORT_SYNC_FILE`; everything else is `ENOTTY`.
//!
//! This file decodes and encodes the userspace arguments and checks their
//! flags; the buffer does the work.

use crate::dma_buf::DmaBuf;
use crate::sys::dma_buf::BufName;
use crate::sys::fence::Fence;
use crate::uapi::dma_buf::*;
use kernel::dma::DataDirection;
use kernel::fs::file::{flags::O_CLOEXEC, FileDescriptorReservation};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

/// Runs ioctl `cmd` with argument `arg` on `buf`.
#[inline]
pub(crate) fn dispatch(buf: &DmaBuf, cmd: u32, arg: usize) -> Result<i32> {
    match cmd {
        DMA_BUF_IOCTL_SYNC => sync(buf, arg)?,
        DMA_BUF_SET_NAME_A | DMA_BUF_SET_NAME_B => buf.set_name(BufName::from_user(arg)?),
        DMA_BUF_IOCTL_EXPORT_SYNC_FILE => export_sync_file(buf, arg)?,
        DMA_BUF_IOCTL_IMPORT_SYNC_FILE => import_sync_file(buf, arg)?,
        _ => return Err(ENOTTY),
    }
    Ok(0)
}

/// The argument of size `T` at `arg`.
fn user<T>(arg: usize) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
}

/// `DMA_BUF_IOCTL_SYNC`: begins or ends a CPU access bracket.
#[inline]
fn sync(buf: &DmaBuf, arg: usize) -> Result {
    let sync: DmaBufSync = user::<DmaBufSync>(arg).reader().read()?;
    if sync.flags & !DMA_BUF_SYNC_VALID_FLAGS_MASK != 0 {
        return Err(EINVAL);
    }
    let dir = match sync.flags & DMA_BUF_SYNC_RW {
        DMA_BUF_SYNC_READ => DataDirection::FromDevice,
        DMA_BUF_SYNC_WRITE => DataDirection::ToDevice,
        DMA_BUF_SYNC_RW => DataDirection::Bidirectional,
        _ => return Err(EINVAL),
    };
    if sync.flags & DMA_BUF_SYNC_END != 0 {
        buf.end_cpu_access(dir)
    } else {
        buf.begin_cpu_access(dir)
    }
}

/// The write flag of a sync-file request; `EINVAL` unless exactly the
/// read and write bits are used, at least one of them.
fn sync_file_writes(flags: u32) -> Result<bool> {
    let flags = u64::from(flags);
    if flags & !DMA_BUF_SYNC_RW != 0 || flags & DMA_BUF_SYNC_RW == 0 {
        return Err(EINVAL);
    }
    Ok(flags & DMA_BUF_SYNC_WRITE != 0)
}

/// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`: the fd is reserved first and installed
/// only once the result reached userspace, so no fd leaks on `EFAULT`.
#[inline]
fn export_sync_file(buf: &DmaBuf, arg: usize) -> Result {
    let (mut reader, mut writer) = user::<DmaBufExportSyncFile>(arg).reader_writer();
    let mut req: DmaBufExportSyncFile = reader.read()?;
    let write = sync_file_writes(req.flags)?;
    let fd = FileDescriptorReservation::get_unused_fd_flags(O_CLOEXEC)?;
    let file = buf.export_sync_file(write)?;
    req.fd = fd.reserved_fd() as i32;
    writer.write(&req)?;
    fd.fd_install(file);
    Ok(())
}

/// `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`.
#[inline(always)]
fn import_sync_file(buf: &DmaBuf, arg: usize) -> Result {
    let req: DmaBufImportSyncFile = user::<DmaBufImportSyncFile>(arg).reader().read()?;
    let write = sync_file_writes(req.flags)?;
    let fence = Fence::from_sync_file(req.fd).ok_or(EINVAL)?;
    buf.import_sync_file(&fence, write)
}
