// SPDX-License-Identifier: GPL-2.0
//! Bottom layer: safe wrappers over the C types this crate needs and the
//! 7.3 `kernel` crate lacks.
//!
//! These files are the only ones in the crate that name `bindings::`
//! (`scripts/check-layers.py` enforces it). Each wraps one C concept in a
//! type whose safe methods cannot be misused and whose `unsafe` methods say
//! what the caller must guarantee; nothing here knows about the dma-buf
//! rules (which entry point takes which lock, when to pin, what to cache):
//! those are in [`crate::dma_buf`].
//!
//! The few C static inline functions and macros the bindings cannot reach
//! are one-line wrappers in `sys/glue.c`, declared in [`glue`].

pub(crate) mod attachment;
pub(crate) mod buf_list;
pub(crate) mod cdev;
#[cfg(CONFIG_DMABUF_HEAPS)]
pub(crate) mod cgroup;
#[cfg(CONFIG_DMABUF_HEAPS_CMA)]
pub(crate) mod cma;
#[cfg(CONFIG_DEBUG_FS)]
pub(crate) mod debugfs;
pub(crate) mod dma_buf;
pub(crate) mod dma_buf_ops;
pub(crate) mod export_info;
pub(crate) mod fence;
#[cfg(CONFIG_DMABUF_HEAPS)]
pub(crate) mod heap;
pub(crate) mod iosys_map;
pub(crate) mod kmem;
pub(crate) mod ledger;
pub(crate) mod module_ref;
pub(crate) mod pages;
pub(crate) mod poll_slot;
pub(crate) mod pseudo_fs;
pub(crate) mod resv;
pub(crate) mod seq_file;
pub(crate) mod sg_table;
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
pub(crate) mod shrinker;
pub(crate) mod trace;
pub(crate) mod vma;
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
pub(crate) mod workqueue;

/// This module, for the `owner` of operation tables (an open file then
/// pins it).
const fn this_module() -> *mut kernel::bindings::module {
    <crate::LocalModule as kernel::ModuleMetadata>::THIS_MODULE.as_ptr()
}

/// `Ok` for a C return value of 0 or more, else the error it encodes.
///
/// The same as `kernel::error::to_result` for the negative values C
/// returns, but inlined: the success path, which the hot paths take, is a
/// compare and a branch instead of a call into the `kernel` crate.
#[inline]
fn check(ret: kernel::ffi::c_int) -> kernel::error::Result {
    if ret >= 0 {
        Ok(())
    } else {
        Err(kernel::error::Error::from_errno(ret))
    }
}

/// `Ok(ptr)` for a pointer C returned, or the error an `ERR_PTR` encodes.
///
/// The same as `kernel::error::from_err_ptr`, but inlined: that one calls
/// the `IS_ERR` and `PTR_ERR` helpers out of line, about 20 instructions
/// on every SET_NAME, map and export (the bench's instruction profile).
#[inline]
pub(crate) fn check_ptr<T>(ptr: *mut T) -> kernel::error::Result<*mut T> {
    let v = ptr as isize;
    if v < 0 && v >= -(kernel::bindings::MAX_ERRNO as isize) {
        // `v` is in `-MAX_ERRNO..0`, which fits.
        Err(kernel::error::Error::from_errno(v as kernel::ffi::c_int))
    } else {
        Ok(ptr)
    }
}

/// Declarations of the one-line C wrappers in `sys/glue.c`.
mod glue {
    use kernel::bindings;
    use kernel::ffi::{c_int, c_long, c_uint, c_ulong};

    // Bindgen gives some kernel structs zero-sized opaque members, which
    // the lint flags; these are pointers to C objects, never values.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(crate) fn dmabuf_rs_fence_put(fence: *mut bindings::dma_fence);
        pub(crate) static dmabuf_rs_debug_misuse: bool;
        pub(crate) fn dmabuf_rs_ledger_init() -> c_int;
        pub(crate) fn dmabuf_rs_stack_save() -> u32;
        pub(crate) fn dmabuf_rs_stack_print(handle: u32);
        pub(crate) fn dmabuf_rs_current_owner(o: *mut super::ledger::Owner);
        pub(crate) fn dmabuf_rs_fence_get(
            fence: *mut bindings::dma_fence,
        ) -> *mut bindings::dma_fence;
        pub(crate) fn dmabuf_rs_sync_file_create(
            fence: *mut bindings::dma_fence,
        ) -> *mut bindings::file;
        pub(crate) fn sync_file_get_fence(fd: c_int) -> *mut bindings::dma_fence;
        pub(crate) fn dma_fence_unwrap_first(
            head: *mut bindings::dma_fence,
            cursor: *mut super::fence::UnwrapCursor,
        ) -> *mut bindings::dma_fence;
        pub(crate) fn dma_fence_unwrap_next(
            cursor: *mut super::fence::UnwrapCursor,
        ) -> *mut bindings::dma_fence;
        pub(crate) fn dmabuf_rs_resv_assert_held(resv: *mut bindings::dma_resv);
        pub(crate) fn dmabuf_rs_resv_might_lock(resv: *mut bindings::dma_resv);
        pub(crate) fn dmabuf_rs_file_count(file: *mut bindings::file) -> c_long;
        pub(crate) fn dmabuf_rs_file_ref_get(file: *mut bindings::file) -> bool;
        pub(crate) fn dmabuf_rs_poll_requested_events(
            pt: *mut bindings::poll_table_struct,
        ) -> c_uint;
        pub(crate) fn dmabuf_rs_wq_lock_irqsave(wq: *mut bindings::wait_queue_head) -> c_ulong;
        pub(crate) fn dmabuf_rs_wq_unlock_irqrestore(
            wq: *mut bindings::wait_queue_head,
            flags: c_ulong,
        );
        pub(crate) fn dmabuf_rs_wake_up_locked_poll(
            wq: *mut bindings::wait_queue_head,
            events: c_uint,
        );
        pub(crate) fn dmabuf_rs_init_waitqueue_head(wq: *mut bindings::wait_queue_head);
        pub(crate) fn dmabuf_rs_spin_lock_init(lock: *mut bindings::spinlock_t);
        pub(crate) fn dmabuf_rs_vma_pages(vma: *mut bindings::vm_area_struct) -> c_ulong;
        pub(crate) fn dmabuf_rs_vm_flags_set(vma: *mut bindings::vm_area_struct, flags: c_ulong);
        pub(crate) fn dmabuf_rs_kzalloc(size: usize) -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_kzalloc_64() -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_kzalloc_128() -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_kzalloc_512() -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_list_add(
            entry: *mut bindings::list_head,
            head: *mut bindings::list_head,
        );
        pub(crate) fn dmabuf_rs_list_del(entry: *mut bindings::list_head);
        pub(crate) static mut dmabuf_rs_list_mutex: bindings::mutex;
        pub(crate) static mut dmabuf_rs_list: bindings::list_head;
        pub(crate) fn dmabuf_rs_list_lock_interruptible() -> c_int;
        #[cfg(CONFIG_DEBUG_SG)]
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
        pub(crate) fn dmabuf_rs_iminor(inode: *mut bindings::inode) -> c_uint;
        pub(crate) fn dmabuf_rs_page_to_pfn(page: *mut bindings::page) -> c_ulong;
        pub(crate) fn dmabuf_rs_vmap_pages(
            pages: *mut *mut bindings::page,
            count: c_uint,
            decrypted: bool,
        ) -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_pgprot_decrypted(prot: bindings::pgprot_t) -> bindings::pgprot_t;
        pub(crate) fn dmabuf_rs_set_pages_decrypted(
            page: *mut bindings::page,
            count: c_int,
            decrypted: bool,
        ) -> c_int;
        pub(crate) fn dmabuf_rs_vunmap(addr: *const core::ffi::c_void);
        pub(crate) fn dmabuf_rs_invalidate_kernel_vmap_range(
            vaddr: *mut core::ffi::c_void,
            size: c_int,
        );
        pub(crate) fn dmabuf_rs_flush_kernel_vmap_range(vaddr: *mut core::ffi::c_void, size: c_int);
        pub(crate) fn dmabuf_rs_init_pseudo(
            fc: *mut bindings::fs_context,
            magic: c_ulong,
            dops: *const bindings::dentry_operations,
        ) -> c_int;
        pub(crate) fn dmabuf_rs_page_address(page: *mut bindings::page) -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_page_private(page: *mut bindings::page) -> c_ulong;
        pub(crate) fn dmabuf_rs_set_page_private(page: *mut bindings::page, private: c_ulong);
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn dmabuf_rs_default_cma() -> *mut bindings::cma;
        pub(crate) fn dmabuf_rs_sync_for_cpu(
            dev: *mut bindings::device,
            sgt: *mut bindings::sg_table,
            dir: bindings::dma_data_direction,
        );
        pub(crate) fn dmabuf_rs_sync_for_device(
            dev: *mut bindings::device,
            sgt: *mut bindings::sg_table,
            dir: bindings::dma_data_direction,
        );
        #[cfg(CONFIG_KUNIT = "y")]
        pub(crate) fn dmabuf_rs_dma_coerce_mask_64(dev: *mut bindings::device) -> c_int;
        pub(crate) fn dmabuf_rs_fatal_signal_pending() -> bool;
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn dmabuf_rs_cma_alignment() -> c_uint;
        pub(crate) fn dmabuf_rs_mem_accounting() -> bool;
        pub(crate) fn dmabuf_rs_page_pool_size() -> c_ulong;
        pub(crate) fn dmabuf_rs_page_pool_zero_at_free() -> bool;
        pub(crate) fn dmabuf_rs_cond_resched();
        pub(crate) fn dmabuf_rs_params_lock();
        pub(crate) fn dmabuf_rs_params_unlock();
        pub(crate) fn dmabuf_rs_charge_policy(heap: *const kernel::ffi::c_char) -> u32;
        pub(crate) fn dmabuf_rs_dmem_register(
            size: u64,
            kind: *const kernel::ffi::c_char,
            name: *const kernel::ffi::c_char,
        ) -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_dmem_unregister(region: *mut core::ffi::c_void);
        pub(crate) fn dmabuf_rs_dmem_try_charge(
            region: *mut core::ffi::c_void,
            size: u64,
            pool: *mut *mut core::ffi::c_void,
        ) -> c_int;
        pub(crate) fn dmabuf_rs_dmem_uncharge(pool: *mut core::ffi::c_void, size: u64);
        pub(crate) fn dmabuf_rs_total_ram() -> u64;
        pub(crate) fn dmabuf_rs_memcg_charge(size: usize) -> *mut core::ffi::c_void;
        pub(crate) fn dmabuf_rs_memcg_uncharge(objcg: *mut core::ffi::c_void, size: usize);
        pub(crate) fn dmabuf_rs_memcg_charge_more(
            objcg: *mut core::ffi::c_void,
            size: usize,
        ) -> c_int;
        #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)]
        pub(crate) fn dmabuf_rs_cc_shared_heap() -> bool;
        #[cfg(not(CONFIG_MODULE_UNLOAD))]
        pub(crate) fn dmabuf_rs_try_module_get(module: *mut bindings::module) -> bool;
        #[cfg(not(CONFIG_MODULE_UNLOAD))]
        pub(crate) fn dmabuf_rs_module_get(module: *mut bindings::module);
        #[cfg(not(CONFIG_MODULE_UNLOAD))]
        pub(crate) fn dmabuf_rs_module_put(module: *mut bindings::module);
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn cma_alloc(
            cma: *mut bindings::cma,
            count: c_ulong,
            align: c_uint,
            no_warn: bool,
        ) -> *mut bindings::page;
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn cma_release(
            cma: *mut bindings::cma,
            pages: *const bindings::page,
            count: c_ulong,
        ) -> bool;
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn cma_get_name(cma: *const bindings::cma) -> *const kernel::ffi::c_char;
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn cma_get_size(cma: *const bindings::cma) -> c_ulong;
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        pub(crate) fn dma_contiguous_get_area_by_idx(idx: c_uint) -> *mut bindings::cma;
    }
}
