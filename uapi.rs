// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note
//! The userspace ABI: `include/uapi/linux/dma-buf.h` and
//! `include/uapi/linux/dma-heap.h`, which the `uapi` crate lacks.

pub(crate) mod dma_buf;
pub(crate) mod dma_heap;
