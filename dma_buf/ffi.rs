// SPDX-License-Identifier: GPL-2.0
//! The FFI edge of the core: the only module that names `bindings::`.
//!
//! Everything the rest of the crate needs from C is wrapped here in a type
//! whose methods are safe, or whose `unsafe` methods state exactly what the
//! caller must guarantee. The C ABI entry points (the exported `dma_buf_*`
//! functions and the file and dentry operations) live in [`entry`].

pub(crate) mod entry;
pub(crate) mod fence;
pub(crate) mod heap;
pub(crate) mod iosys;
pub(crate) mod mem;
pub(crate) mod object;
pub(crate) mod resv;
pub(crate) mod rust_api;
pub(crate) mod sgt;
pub(crate) mod vfs;

use kernel::bindings;
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};

// Thin wrappers in glue.c of static inline functions and macros, plus a few
// exported functions whose headers the generated bindings do not include.
// Bindgen gives some kernel structs zero-sized opaque members, which the
// lint flags; these are pointers to C objects, never values.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn dmabuf_rs_fence_put(fence: *mut bindings::dma_fence);
    pub(crate) fn dmabuf_rs_fence_get(fence: *mut bindings::dma_fence) -> *mut bindings::dma_fence;
    pub(crate) fn dmabuf_rs_sync_file_create(
        fence: *mut bindings::dma_fence,
    ) -> *mut bindings::file;
    pub(crate) fn sync_file_get_fence(fd: c_int) -> *mut bindings::dma_fence;
    pub(crate) fn dma_fence_unwrap_first(
        head: *mut bindings::dma_fence,
        cursor: *mut fence::RawUnwrap,
    ) -> *mut bindings::dma_fence;
    pub(crate) fn dma_fence_unwrap_next(cursor: *mut fence::RawUnwrap) -> *mut bindings::dma_fence;
    pub(crate) fn dmabuf_rs_resv_usage_rw(write: bool) -> c_uint;
    pub(crate) fn dmabuf_rs_resv_assert_held(resv: *mut bindings::dma_resv);
    pub(crate) fn dmabuf_rs_resv_might_lock(resv: *mut bindings::dma_resv);
    pub(crate) fn dmabuf_rs_resv_lock_interruptible(resv: *mut bindings::dma_resv) -> c_int;
    pub(crate) fn dmabuf_rs_file_count(file: *mut bindings::file) -> c_long;
    pub(crate) fn dmabuf_rs_poll_requested_events(pt: *mut bindings::poll_table_struct) -> c_uint;
    pub(crate) fn dmabuf_rs_poll_claim(
        wq: *mut bindings::wait_queue_head,
        active: *mut c_uint,
        event: c_uint,
    ) -> bool;
    pub(crate) fn dmabuf_rs_poll_wake(wq: *mut bindings::wait_queue_head, active: *mut c_uint);
    pub(crate) fn dmabuf_rs_vma_pages(vma: *mut bindings::vm_area_struct) -> c_ulong;
    pub(crate) fn dmabuf_rs_name_lock(buf: *mut bindings::dma_buf);
    pub(crate) fn dmabuf_rs_name_unlock(buf: *mut bindings::dma_buf);
    pub(crate) fn dmabuf_rs_dma_buf_init_locks(buf: *mut bindings::dma_buf);
    pub(crate) fn dmabuf_rs_kern_mount() -> *mut bindings::vfsmount;
    pub(crate) fn dmabuf_rs_debugfs_init() -> *mut bindings::dentry;
    pub(crate) fn dmabuf_rs_list_add(
        entry: *mut bindings::list_head,
        head: *mut bindings::list_head,
    );
    pub(crate) fn dmabuf_rs_list_del(entry: *mut bindings::list_head);
    pub(crate) fn dmabuf_rs_vmap_pages(
        pages: *mut *mut bindings::page,
        count: c_uint,
    ) -> *mut core::ffi::c_void;
    pub(crate) fn dmabuf_rs_vunmap(addr: *const core::ffi::c_void);
    pub(crate) fn dmabuf_rs_sg_set_page(
        sg: *mut bindings::scatterlist,
        page: *mut bindings::page,
        len: c_uint,
        offset: c_uint,
    );
    pub(crate) fn dmabuf_rs_sg_set_dma_only(
        sg: *mut bindings::scatterlist,
        addr: bindings::dma_addr_t,
        len: c_uint,
    );
}
