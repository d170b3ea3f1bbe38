// SPDX-License-Identifier: GPL-2.0
//! The `/dev/dma_heap/<name>` nodes: `open` finds the heap, and
//! `DMA_HEAP_IOCTL_ALLOC` decodes, checks and hands out the fd.
//!
//! Dispatch follows upstream exactly: only `_IOC_NR` selects the command
//! (any number but 0 is `EINVAL`), the argument may be smaller or larger
//! than ours (copy what came, zero-fill the rest, copy back what the
//! caller's size says), and the new fd is reserved, copied out, and
//! installed only once the copy succeeded.

use super::registry::{self, DmaHeap};
use crate::dma_buf::DmaBuf;
use crate::sys::cdev::ChrdevOps;
use crate::sys::kmem::LazyKVec;
use crate::sys::pages::PAGE_SIZE;
use crate::uapi::dma_heap::*;
use kernel::fs::file::FileDescriptorReservation;
use kernel::ioctl::{_IOC_NR, _IOC_SIZE};
use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

const IOC_IN: u32 = 1 << 30;
const IOC_OUT: u32 = 2 << 30;

/// The largest argument kept on the stack, as upstream (bigger is kmalloc'ed).
const STACK_KDATA: usize = 128;

/// The operations of the heap device nodes.
pub(crate) struct HeapDevice;

impl ChrdevOps for HeapDevice {
    type Target = DmaHeap;
    const CLASS: &'static CStr = c"dma_heap";
    const DEVNODE_FMT: &'static CStr = c"dma_heap/%s";

    fn open(minor: u32) -> Result<&'static DmaHeap> {
        registry::lookup(minor)
    }

    #[inline]
    fn ioctl(heap: &DmaHeap, cmd: u32, arg: usize) -> Result<i32> {
        dispatch(heap, cmd, arg)
    }
}

/// Handles an ioctl on a heap file: inline up to the command check, so
/// that an unknown command costs no call.
#[inline]
pub(crate) fn dispatch(heap: &DmaHeap, ucmd: u32, arg: usize) -> Result<i32> {
    // Only the command number is looked at; there is one command.
    if _IOC_NR(ucmd) >= 1 {
        return Err(EINVAL);
    }
    alloc_ioctl(heap, ucmd, arg)
}

/// `DMA_HEAP_IOCTL_ALLOC`, whatever the size bits of `ucmd` say.
fn alloc_ioctl(heap: &DmaHeap, ucmd: u32, arg: usize) -> Result<i32> {
    let kcmd = DMA_HEAP_IOCTL_ALLOC;
    let out_size = if ucmd & kcmd & IOC_OUT != 0 {
        _IOC_SIZE(ucmd)
    } else {
        0
    };
    let in_size = if ucmd & kcmd & IOC_IN != 0 {
        _IOC_SIZE(ucmd)
    } else {
        0
    };
    let ksize = in_size.max(out_size).max(_IOC_SIZE(kcmd));
    let mut stack = [0u8; STACK_KDATA];
    // Only a command bigger than the stack room allocates.
    let mut big = LazyKVec::<u8>::new();
    let kdata: &mut [u8] = if ksize > STACK_KDATA {
        big.resize(ksize, 0, GFP_KERNEL)?;
        &mut big
    } else {
        &mut stack[..ksize]
    };
    let (mut reader, mut writer) =
        UserSlice::new(UserPtr::from_addr(arg), ksize.max(1)).reader_writer();
    reader.read_slice(&mut kdata[..in_size])?;
    let n = core::mem::size_of::<DmaHeapAllocationData>();
    let mut data = decode(kdata)?;

    let buf = allocate(heap, &data)?;
    // The fd is reserved, then the result copied out, as upstream does;
    // on failure the buffer goes as upstream's `dma_buf_put`.
    let fd = match FileDescriptorReservation::get_unused_fd_flags(data.fd_flags) {
        Ok(fd) => fd,
        Err(e) => {
            DmaBuf::put(buf);
            return Err(e);
        }
    };
    data.fd = fd.reserved_fd();
    kdata[..n].copy_from_slice(data.as_bytes());
    if writer.write_slice(&kdata[..out_size]).is_err() {
        drop(fd);
        DmaBuf::put(buf);
        return Err(EFAULT);
    }
    DmaBuf::install(buf, fd);
    Ok(0)
}

/// The request in the first bytes of `kdata`, copied out: the bytes are a
/// `u8` array (alignment 1), so the struct cannot be borrowed in place.
fn decode(kdata: &[u8]) -> Result<DmaHeapAllocationData> {
    let n = core::mem::size_of::<DmaHeapAllocationData>();
    kdata
        .get(..n)
        .and_then(DmaHeapAllocationData::from_bytes_copy)
        .ok_or(EINVAL)
}

/// Checks the request and allocates.
fn allocate(
    heap: &DmaHeap,
    data: &DmaHeapAllocationData,
) -> Result<kernel::sync::aref::ARef<DmaBuf>> {
    if data.fd != 0 {
        return Err(EINVAL);
    }
    if data.fd_flags & !DMA_HEAP_VALID_FD_FLAGS != 0 {
        return Err(EINVAL);
    }
    if data.heap_flags & !DMA_HEAP_VALID_HEAP_FLAGS != 0 {
        return Err(EINVAL);
    }
    let page = PAGE_SIZE as u64;
    let len = match data.len.checked_add(page - 1) {
        Some(l) => l & !(page - 1),
        None => 0,
    };
    if len == 0 {
        return Err(EINVAL);
    }
    let len = usize::try_from(len).map_err(|_| ENOMEM)?;
    heap.allocate(len, data.fd_flags, data.heap_flags)
}

#[kunit_tests(dmabuf_rs_heap_ioctl)]
mod tests {
    use super::*;

    /// The argument decodes at every offset from an 8-byte boundary, as it
    /// may sit in the ioctl's `u8` stack array.
    #[test]
    fn decode_unaligned() -> Result {
        let want = DmaHeapAllocationData {
            len: 0x1234_5678_9abc,
            fd: 7,
            fd_flags: 0o2000002,
            heap_flags: 3,
        };
        let mut room = [0u8; STACK_KDATA + 8];
        for off in 0..8 {
            let n = core::mem::size_of::<DmaHeapAllocationData>();
            room[off..off + n].copy_from_slice(want.as_bytes());
            let got = decode(&room[off..])?;
            assert_eq!(got.len, want.len);
            assert_eq!(got.fd, want.fd);
            assert_eq!(got.fd_flags, want.fd_flags);
            assert_eq!(got.heap_flags, want.heap_flags);
        }
        assert_eq!(decode(&room[..4]).err(), Some(EINVAL));
        Ok(())
    }
}
