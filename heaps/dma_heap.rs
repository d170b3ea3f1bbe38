// SPDX-License-Identifier: GPL-2.0
//! The dma-heap device: `DMA_HEAP_IOCTL_ALLOC` on `/dev/dma_heap/<name>`.
//!
//! Dispatch follows upstream exactly: only `_IOC_NR` selects the command
//! (any number but 0 is `EINVAL`), the struct may be smaller or larger
//! than ours (copy what came, zero-fill the rest, copy back what the
//! caller's size says), and the new fd is reserved, copied out, and
//! installed only once the copy succeeded.

use crate::ffi::heap::DmaHeap;
use crate::ffi::vfs;
use kernel::fs::file::flags;
use kernel::ioctl::{_IOC_NR, _IOC_SIZE, _IOWR};
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

/// `struct dma_heap_allocation_data`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AllocationData {
    len: u64,
    fd: u32,
    fd_flags: u32,
    heap_flags: u64,
}

// SAFETY: Integers only, no padding; any bit pattern is valid.
unsafe impl FromBytes for AllocationData {}
// SAFETY: Integers only, no padding.
unsafe impl AsBytes for AllocationData {}

kernel::static_assert!(core::mem::size_of::<AllocationData>() == 24);

/// `DMA_HEAP_IOCTL_ALLOC`.
const DMA_HEAP_IOCTL_ALLOC: u32 = _IOWR::<AllocationData>(b'H' as u32, 0);
kernel::static_assert!(DMA_HEAP_IOCTL_ALLOC == 0xc018_4800);

const IOC_IN: u32 = 1 << 30;
const IOC_OUT: u32 = 2 << 30;

/// Valid `fd_flags`: `O_CLOEXEC | O_ACCMODE`.
const VALID_FD_FLAGS: u32 = flags::O_CLOEXEC | flags::O_ACCMODE;
/// No heap flags are defined.
const VALID_HEAP_FLAGS: u64 = 0;

/// The largest argument kept on the stack, as upstream (bigger is kmalloc'ed).
const STACK_KDATA: usize = 128;

/// Handles an ioctl on a heap file.
pub(crate) fn ioctl(heap: &DmaHeap, ucmd: u32, arg: usize) -> Result {
    // Only the command number is looked at; there is one command.
    if _IOC_NR(ucmd) >= 1 {
        return Err(EINVAL);
    }
    let kcmd = DMA_HEAP_IOCTL_ALLOC;
    let drv_size = _IOC_SIZE(kcmd);
    let mut out_size = _IOC_SIZE(ucmd);
    let mut in_size = out_size;
    if ucmd & kcmd & IOC_IN == 0 {
        in_size = 0;
    }
    if ucmd & kcmd & IOC_OUT == 0 {
        out_size = 0;
    }
    let ksize = in_size.max(out_size).max(drv_size);
    let mut stack = [0u8; STACK_KDATA];
    let mut heap_kdata = KVec::<u8>::new();
    let kdata: &mut [u8] = if ksize > STACK_KDATA {
        heap_kdata
            .resize(ksize, 0, GFP_KERNEL)
            .map_err(|_| ENOMEM)?;
        &mut heap_kdata
    } else {
        &mut stack[..ksize]
    };
    let user = UserSlice::new(UserPtr::from_addr(arg), ksize.max(1));
    let (reader, writer) = user.reader_writer();
    let mut reader = reader;
    reader.read_slice(&mut kdata[..in_size])?;
    let mut data = AllocationData::default();
    let n = core::mem::size_of::<AllocationData>();
    // SAFETY: `AllocationData` is plain data of `n` bytes; `kdata` has at least `n`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            kdata.as_ptr(),
            core::ptr::from_mut(&mut data).cast::<u8>(),
            n,
        )
    };

    let (buf, fd) = allocate(heap, &mut data)?;
    // SAFETY: As above, in the other direction.
    unsafe {
        core::ptr::copy_nonoverlapping(
            core::ptr::from_ref(&data).cast::<u8>(),
            kdata.as_mut_ptr(),
            n,
        )
    };
    let mut writer = writer;
    match writer.write_slice(&kdata[..out_size]) {
        Ok(()) => {
            // SAFETY: `fd` is reserved; the buffer's reference passes on.
            unsafe { vfs::fd_install(fd, buf.file()) };
            Ok(())
        }
        Err(_) => {
            vfs::put_reserved_fd(fd);
            // SAFETY: We own the buffer's only reference.
            unsafe { vfs::fput(buf.file()) };
            Err(EFAULT)
        }
    }
}

/// Validates the request, allocates and reserves the fd.
fn allocate<'a>(
    heap: &'a DmaHeap,
    data: &mut AllocationData,
) -> Result<(&'a crate::ffi::object::DmaBuf, i32)> {
    if data.fd != 0 {
        return Err(EINVAL);
    }
    if data.fd_flags & !VALID_FD_FLAGS != 0 {
        return Err(EINVAL);
    }
    if data.heap_flags & !VALID_HEAP_FLAGS != 0 {
        return Err(EINVAL);
    }
    let page = crate::ffi::mem::PAGE_SIZE as u64;
    let len = match data.len.checked_add(page - 1) {
        Some(l) => l & !(page - 1),
        None => 0,
    };
    if len == 0 {
        return Err(EINVAL);
    }
    let len = usize::try_from(len).map_err(|_| ENOMEM)?;
    let buf = heap.allocate(len, data.fd_flags, data.heap_flags)?;
    let fd = match vfs::reserve_fd(data.fd_flags) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: We own the new buffer's only reference.
            unsafe { vfs::fput(buf.file()) };
            return Err(e);
        }
    };
    data.fd = fd as u32;
    Ok((buf, fd))
}
