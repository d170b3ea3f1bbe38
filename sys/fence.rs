// SPDX-License-Identifier: GPL-2.0
//! Fences (`struct dma_fence`) and sync_files: what `poll` and the
//! sync-file ioctls need.
//!
//! C headers: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h),
//! [`include/linux/sync_file.h`](srctree/include/linux/sync_file.h)
//!
//! A `&Fence` borrows a fence, an `ARef<Fence>` owns one reference.

use super::glue;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::aref::{ARef, AlwaysRefCounted};
use kernel::types::Opaque;

/// A `struct dma_fence`.
///
/// # Invariants
///
/// The wrapped fence is valid, and its refcount is above zero, while a
/// reference to this type exists.
#[repr(transparent)]
pub(crate) struct Fence(Opaque<bindings::dma_fence>);

// SAFETY: Fences are refcounted and may be used and released from any thread.
unsafe impl Send for Fence {}
// SAFETY: Only thread-safe C functions are called through `&Fence`.
unsafe impl Sync for Fence {}

// SAFETY: `dma_fence_get`/`dma_fence_put` keep the fence alive exactly as
// long as a reference exists.
unsafe impl AlwaysRefCounted for Fence {
    fn inc_ref(&self) {
        // SAFETY: The fence is valid by the type invariant.
        unsafe { glue::dmabuf_rs_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference.
        unsafe { glue::dmabuf_rs_fence_put(obj.as_ptr().cast()) };
    }
}

/// Mirror of `struct dma_fence_unwrap` (its size is checked in glue.c).
#[repr(C)]
pub(crate) struct UnwrapCursor {
    chain: *mut bindings::dma_fence,
    array: *mut bindings::dma_fence,
    index: u32,
}

impl UnwrapCursor {
    /// A cursor before its first use (`dma_fence_unwrap_first` fills it).
    /// Not `#[derive(Default)]`: raw pointers implement `Default` only
    /// from Rust 1.88, and 7.3 builds with 1.85.
    const fn new() -> UnwrapCursor {
        UnwrapCursor {
            chain: core::ptr::null_mut(),
            array: core::ptr::null_mut(),
            index: 0,
        }
    }
}

impl Fence {
    /// Borrows a raw fence.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid fence that stays referenced for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_fence) -> &'a Fence {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Takes over a reference, or returns `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or a fence on which the caller gives up one reference.
    pub(crate) unsafe fn from_raw_owned(ptr: *mut bindings::dma_fence) -> Option<ARef<Fence>> {
        // SAFETY: By the safety requirements the reference passes to the `ARef`.
        NonNull::new(ptr.cast::<Fence>()).map(|p| unsafe { ARef::from_raw(p) })
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// The always-signalled stub fence.
    pub(crate) fn stub() -> ARef<Fence> {
        // SAFETY: Returns a new reference to a static fence, never NULL.
        let ptr = unsafe { bindings::dma_fence_get_stub() };
        // SAFETY: `ptr` is valid and carries the reference just taken.
        unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast::<Fence>())) }
    }

    /// The fence of the sync_file open as `fd`, or `None` if `fd` is not one.
    pub(crate) fn from_sync_file(fd: i32) -> Option<ARef<Fence>> {
        // SAFETY: Any fd may be passed; a new reference or NULL comes back.
        unsafe { Fence::from_raw_owned(glue::sync_file_get_fence(fd)) }
    }

    /// Calls `f` on every leaf fence of this (possibly array or chain) fence.
    #[inline(always)]
    pub(crate) fn for_each_unwrapped(&self, mut f: impl FnMut(&Fence)) {
        let mut cursor = UnwrapCursor::new();
        // SAFETY: The fence is valid; the cursor is ours.
        let mut leaf = unsafe { glue::dma_fence_unwrap_first(self.as_raw(), &mut cursor) };
        while !leaf.is_null() {
            // SAFETY: Leaves are kept alive by `self` while we iterate.
            f(unsafe { Fence::from_raw(leaf) });
            // SAFETY: The cursor was set up by `dma_fence_unwrap_first`.
            leaf = unsafe { glue::dma_fence_unwrap_next(&mut cursor) };
        }
    }

    /// Creates a sync_file holding this fence; returns its file.
    #[inline]
    pub(crate) fn to_sync_file(&self) -> Result<ARef<File>> {
        // SAFETY: The fence is valid; the sync_file takes its own reference.
        let file = unsafe { glue::dmabuf_rs_sync_file_create(self.as_raw()) };
        let file = NonNull::new(file.cast::<File>()).ok_or(ENOMEM)?;
        // SAFETY: A new file whose one reference passes to the `ARef`;
        // sync_files are not opened with `fdget_pos` semantics.
        Ok(unsafe { ARef::from_raw(file) })
    }

    /// Arms `func` to run once on `cb` when the fence signals. Returns
    /// `false` (and arms nothing) if it has already signalled.
    ///
    /// # Safety
    ///
    /// `cb` must be valid and unarmed, and stay valid until `func` runs.
    pub(crate) unsafe fn add_callback(
        &self,
        cb: *mut bindings::dma_fence_cb,
        func: bindings::dma_fence_func_t,
    ) -> bool {
        // SAFETY: The fence is valid; `cb` by the safety requirements.
        unsafe { bindings::dma_fence_add_callback(self.as_raw(), cb, func) == 0 }
    }
}
