// SPDX-License-Identifier: GPL-2.0
//! Fences and sync_files: what the sync-file ioctls and `poll` need.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h)

use kernel::bindings;
use kernel::prelude::*;

/// A counted reference to a `struct dma_fence`.
///
/// # Invariants
///
/// `ptr` is a valid fence on which this object owns one reference.
pub(crate) struct Fence {
    ptr: core::ptr::NonNull<bindings::dma_fence>,
}

// SAFETY: Fence references may be dropped and used from any thread.
unsafe impl Send for Fence {}
// SAFETY: Only thread-safe C functions are called through `&Fence`.
unsafe impl Sync for Fence {}

impl Fence {
    /// Takes over a reference, or returns `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or a fence on which the caller gives up one reference.
    pub(crate) unsafe fn from_raw_owned(ptr: *mut bindings::dma_fence) -> Option<Fence> {
        // INVARIANT: By the safety requirements.
        core::ptr::NonNull::new(ptr).map(|ptr| Fence { ptr })
    }

    /// The always-signalled stub fence.
    pub(crate) fn stub() -> Fence {
        // SAFETY: Returns a new reference to a static fence; never NULL.
        let ptr = unsafe { bindings::dma_fence_get_stub() };
        // SAFETY: A reference handed over by the C function.
        unsafe { Fence::from_raw_owned(ptr) }.expect("dma_fence_get_stub never fails")
    }

    /// The fence of the sync_file open as `fd`, or `None` if `fd` is not one.
    pub(crate) fn from_sync_file(fd: i32) -> Option<Fence> {
        // SAFETY: Any fd may be passed; a new reference or NULL comes back.
        unsafe { Fence::from_raw_owned(super::sync_file_get_fence(fd)) }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_fence {
        self.ptr.as_ptr()
    }

    /// Calls `f` on every leaf fence of this (possibly array/chain) fence.
    pub(crate) fn for_each_unwrapped(&self, mut f: impl FnMut(*mut bindings::dma_fence)) {
        let mut cursor = RawUnwrap::default();
        // SAFETY: The fence is valid; the cursor is ours.
        let mut leaf = unsafe { super::dma_fence_unwrap_first(self.as_raw(), &mut cursor) };
        while !leaf.is_null() {
            f(leaf);
            // SAFETY: The cursor was set up by `dma_fence_unwrap_first`.
            leaf = unsafe { super::dma_fence_unwrap_next(&mut cursor) };
        }
    }

    /// Creates a sync_file holding this fence and returns its file (one
    /// reference), or `ENOMEM`.
    pub(crate) fn to_sync_file(&self) -> Result<*mut bindings::file> {
        // SAFETY: The fence is valid; the sync_file takes its own reference.
        let file = unsafe { super::dmabuf_rs_sync_file_create(self.as_raw()) };
        if file.is_null() {
            Err(ENOMEM)
        } else {
            Ok(file)
        }
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference.
        unsafe { super::dmabuf_rs_fence_put(self.as_raw()) };
    }
}

/// Mirror of `struct dma_fence_unwrap` (the size is checked in glue.c).
#[repr(C)]
#[derive(Default)]
pub(crate) struct RawUnwrap {
    chain: *mut bindings::dma_fence,
    array: *mut bindings::dma_fence,
    index: u32,
}
