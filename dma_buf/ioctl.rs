// SPDX-License-Identifier: GPL-2.0
//! The dma-buf fd's ioctls: `SYNC`, `SET_NAME_A/B`, `EXPORT_SYNC_FILE`,
//! `IMPORT_SYNC_FILE`; everything else is `ENOTTY`.

use crate::ffi::entry::{self, direction};
use crate::ffi::object::DmaBuf;
use crate::uapi::*;
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

/// Runs ioctl `cmd` with argument `arg` on `buf`.
pub(crate) fn dispatch(buf: &DmaBuf, cmd: u32, arg: usize) -> Result<i32> {
    match cmd {
        DMA_BUF_IOCTL_SYNC => sync(buf, arg).map(|()| 0),
        DMA_BUF_SET_NAME_A | DMA_BUF_SET_NAME_B => entry::set_name_from_user(buf, arg).map(|()| 0),
        DMA_BUF_IOCTL_EXPORT_SYNC_FILE => entry::export_sync_file(buf, arg).map(|()| 0),
        DMA_BUF_IOCTL_IMPORT_SYNC_FILE => entry::import_sync_file(buf, arg).map(|()| 0),
        _ => Err(ENOTTY),
    }
}

/// `DMA_BUF_IOCTL_SYNC`: begin or end a CPU access bracket.
fn sync(buf: &DmaBuf, arg: usize) -> Result {
    let sync: DmaBufSync =
        UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<DmaBufSync>())
            .reader()
            .read()?;
    if sync.flags & !DMA_BUF_SYNC_VALID_FLAGS_MASK != 0 {
        return Err(EINVAL);
    }
    let dir = match sync.flags & DMA_BUF_SYNC_RW {
        DMA_BUF_SYNC_READ => direction::FROM_DEVICE,
        DMA_BUF_SYNC_WRITE => direction::TO_DEVICE,
        DMA_BUF_SYNC_RW => direction::BIDIRECTIONAL,
        _ => return Err(EINVAL),
    };
    if sync.flags & DMA_BUF_SYNC_END != 0 {
        crate::cpu_access::end(buf, dir)
    } else {
        crate::cpu_access::begin(buf, dir)
    }
}
