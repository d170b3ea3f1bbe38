// SPDX-License-Identifier: GPL-2.0
//! The exported C API of the heap framework (`EXPORT_SYMBOL_NS_GPL(..,
//! "DMA_BUF_HEAP")`, the export lines are in `sys/glue.c`).

use super::registry::{self, DmaHeap};
use crate::sys::heap::{dma_heap, dma_heap_export_info};
use kernel::ffi::{c_char, c_void};

/// `dma_heap_add`: registers a heap and creates `/dev/dma_heap/<name>`.
///
/// # Safety
///
/// `info` must point to a valid export info whose `name` is NULL or a
/// string and whose `ops` is NULL or a table, valid until module exit.
#[no_mangle]
unsafe extern "C" fn dma_heap_add(info: *const dma_heap_export_info) -> *mut dma_heap {
    // SAFETY: A valid export info, by the C contract.
    let info = unsafe { &*info };
    // SAFETY: As above.
    match unsafe { registry::add(info.name, info.ops, info.priv_) } {
        Ok(h) => h.as_raw(),
        Err(e) => e.to_ptr(),
    }
}

/// `dma_heap_get_drvdata`: the heap's exporter data.
///
/// # Safety
///
/// `heap` must be a heap registered by [`dma_heap_add`].
#[no_mangle]
unsafe extern "C" fn dma_heap_get_drvdata(heap: *mut dma_heap) -> *mut c_void {
    // SAFETY: A registered heap by the C contract.
    unsafe { DmaHeap::from_raw(heap) }.priv_data()
}

/// `dma_heap_get_name`: the heap's name.
///
/// # Safety
///
/// `heap` must be a heap registered by [`dma_heap_add`].
#[no_mangle]
unsafe extern "C" fn dma_heap_get_name(heap: *mut dma_heap) -> *const c_char {
    // SAFETY: A registered heap by the C contract.
    unsafe { DmaHeap::from_raw(heap) }.name_ptr()
}

/// Called by `sys/glue.c` after a write to `page_pool_size`, with this
/// module's parameters locked: the pool gives back what it holds beyond
/// the new cap.
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
#[no_mangle]
extern "C" fn dmabuf_rs_page_pool_resized() {
    super::pool::resized();
}
