// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note
//! The dma-heap userspace ABI, ABI-identical to `include/uapi/linux/dma-heap.h`.
//!
//! C header: [`include/uapi/linux/dma-heap.h`](srctree/include/uapi/linux/dma-heap.h)

use kernel::fs::file::flags;
use kernel::ioctl::_IOWR;
use kernel::transmute::{AsBytes, FromBytes};

/// `struct dma_heap_allocation_data`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct DmaHeapAllocationData {
    /// Size of the allocation in bytes.
    pub(crate) len: u64,
    /// The returned dma-buf fd.
    pub(crate) fd: u32,
    /// Flags of the returned fd.
    pub(crate) fd_flags: u32,
    /// Heap-specific flags.
    pub(crate) heap_flags: u64,
}

// SAFETY: Integers only, no padding; any bit pattern is valid.
unsafe impl FromBytes for DmaHeapAllocationData {}
// SAFETY: Integers only, no padding.
unsafe impl AsBytes for DmaHeapAllocationData {}

kernel::static_assert!(core::mem::size_of::<DmaHeapAllocationData>() == 24);

/// `DMA_HEAP_IOCTL_ALLOC`.
pub(crate) const DMA_HEAP_IOCTL_ALLOC: u32 = _IOWR::<DmaHeapAllocationData>(b'H' as u32, 0);
kernel::static_assert!(DMA_HEAP_IOCTL_ALLOC == 0xc018_4800);

/// Valid `fd_flags`: `O_CLOEXEC | O_ACCMODE`.
pub(crate) const DMA_HEAP_VALID_FD_FLAGS: u32 = flags::O_CLOEXEC | flags::O_ACCMODE;
/// Valid `heap_flags`: none are defined.
pub(crate) const DMA_HEAP_VALID_HEAP_FLAGS: u64 = 0;
