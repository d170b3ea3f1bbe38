// SPDX-License-Identifier: GPL-2.0
//! The Linux dma-buf core, in Rust.
//!
//! A drop-in replacement for `drivers/dma-buf/dma-buf.c`: the same exported
//! symbols (namespace `DMA_BUF`), the same `struct dma_buf` layout and the
//! same userspace ABI on the dma-buf fd, so C importers and exporters (DRM
//! PRIME, V4L2, udmabuf) and unmodified userspace run on it.
//!
//! Layout: [`ffi`] is the only module that touches the C bindings; the
//! other modules hold the rules (attachment mapping, CPU access brackets,
//! vmap refcounting, ioctls, debugfs).

use kernel::prelude::*;

mod attachment;
mod cpu_access;
mod debugfs;
mod exporter;
mod ffi;
mod importer;
mod ioctl;
#[cfg(CONFIG_KUNIT)]
mod tests;
#[path = "../uapi/dma_buf.rs"]
mod uapi;
mod vmap;

#[path = "../heaps/cma_heap.rs"]
mod cma_heap;
#[path = "../heaps/dma_heap.rs"]
mod dma_heap;
#[path = "../heaps/heap.rs"]
mod heap;
#[path = "../heaps/heap_buffer.rs"]
mod heap_buffer;
#[path = "../heaps/system_heap.rs"]
mod system_heap;

module! {
    type: DmaBufCore,
    name: "dmabuf_rs",
    authors: ["The dmabuf-rs authors"],
    description: "dma-buf core and heaps in Rust",
    license: "GPL",
}

struct DmaBufCore {
    // Dropped first: heaps go before the file system their buffers use.
    _heaps: heap::Heaps,
    _debugfs: ffi::entry::Debugfs,
}

impl kernel::Module for DmaBufCore {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        ffi::object::init_buffer_list();
        ffi::vfs::mount()?;
        let debugfs = ffi::entry::Debugfs::new();
        let heaps = match heap::Heaps::register() {
            Ok(h) => h,
            Err(e) => {
                ffi::vfs::unmount();
                return Err(e);
            }
        };
        Ok(DmaBufCore {
            _heaps: heaps,
            _debugfs: debugfs,
        })
    }
}

impl Drop for DmaBufCore {
    fn drop(&mut self) {
        ffi::vfs::unmount();
    }
}
