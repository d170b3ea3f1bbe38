// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note
//! The dma-buf userspace ABI, ABI-identical to `include/uapi/linux/dma-buf.h`.
//!
//! C header: [`include/uapi/linux/dma-buf.h`](srctree/include/uapi/linux/dma-buf.h)

use kernel::ioctl::{_IOW, _IOWR};
use kernel::transmute::{AsBytes, FromBytes};

/// `struct dma_buf_sync`: the argument of [`DMA_BUF_IOCTL_SYNC`].
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct DmaBufSync {
    /// `DMA_BUF_SYNC_*` flags.
    pub(crate) flags: u64,
}

/// `struct dma_buf_export_sync_file`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct DmaBufExportSyncFile {
    /// Read/write flags: `DMA_BUF_SYNC_READ`/`_WRITE`.
    pub(crate) flags: u32,
    /// Returned sync_file file descriptor.
    pub(crate) fd: i32,
}

/// `struct dma_buf_import_sync_file`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct DmaBufImportSyncFile {
    /// Read/write flags: `DMA_BUF_SYNC_READ`/`_WRITE`.
    pub(crate) flags: u32,
    /// The sync_file file descriptor to import.
    pub(crate) fd: i32,
}

// SAFETY: Plain integers, no padding; every bit pattern is valid.
unsafe impl FromBytes for DmaBufSync {}
// SAFETY: Plain integers, no padding.
unsafe impl AsBytes for DmaBufSync {}
// SAFETY: Plain integers, no padding; every bit pattern is valid.
unsafe impl FromBytes for DmaBufExportSyncFile {}
// SAFETY: Plain integers, no padding.
unsafe impl AsBytes for DmaBufExportSyncFile {}
// SAFETY: Plain integers, no padding; every bit pattern is valid.
unsafe impl FromBytes for DmaBufImportSyncFile {}
// SAFETY: Plain integers, no padding.
unsafe impl AsBytes for DmaBufImportSyncFile {}

kernel::static_assert!(core::mem::size_of::<DmaBufSync>() == 8);
kernel::static_assert!(core::mem::size_of::<DmaBufExportSyncFile>() == 8);
kernel::static_assert!(core::mem::size_of::<DmaBufImportSyncFile>() == 8);

/// CPU access for reading.
pub(crate) const DMA_BUF_SYNC_READ: u64 = 1 << 0;
/// CPU access for writing.
pub(crate) const DMA_BUF_SYNC_WRITE: u64 = 2;
/// CPU access for reading and writing.
pub(crate) const DMA_BUF_SYNC_RW: u64 = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
/// End of a CPU access bracket.
pub(crate) const DMA_BUF_SYNC_END: u64 = 1 << 2;
/// Every valid flag bit.
pub(crate) const DMA_BUF_SYNC_VALID_FLAGS_MASK: u64 = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;

/// Longest name including its NUL.
pub(crate) const DMA_BUF_NAME_LEN: usize = 32;

/// The ioctl type letter.
const DMA_BUF_BASE: u32 = b'b' as u32;

/// `DMA_BUF_IOCTL_SYNC`.
pub(crate) const DMA_BUF_IOCTL_SYNC: u32 = _IOW::<DmaBufSync>(DMA_BUF_BASE, 0);
/// `DMA_BUF_SET_NAME_A` (32-bit pointer size).
pub(crate) const DMA_BUF_SET_NAME_A: u32 = _IOW::<u32>(DMA_BUF_BASE, 1);
/// `DMA_BUF_SET_NAME_B` (64-bit pointer size).
pub(crate) const DMA_BUF_SET_NAME_B: u32 = _IOW::<u64>(DMA_BUF_BASE, 1);
/// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`.
pub(crate) const DMA_BUF_IOCTL_EXPORT_SYNC_FILE: u32 =
    _IOWR::<DmaBufExportSyncFile>(DMA_BUF_BASE, 2);
/// `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`.
pub(crate) const DMA_BUF_IOCTL_IMPORT_SYNC_FILE: u32 =
    _IOW::<DmaBufImportSyncFile>(DMA_BUF_BASE, 3);

kernel::static_assert!(DMA_BUF_IOCTL_SYNC == 0x4008_6200);
kernel::static_assert!(DMA_BUF_SET_NAME_A == 0x4004_6201);
kernel::static_assert!(DMA_BUF_SET_NAME_B == 0x4008_6201);
kernel::static_assert!(DMA_BUF_IOCTL_EXPORT_SYNC_FILE == 0xc008_6202);
kernel::static_assert!(DMA_BUF_IOCTL_IMPORT_SYNC_FILE == 0x4008_6203);
