// SPDX-License-Identifier: GPL-2.0
//! Zeroed `kmalloc` of plain C objects, for the per-attachment and
//! per-map hot paths.
//!
//! C header: [`include/linux/slab.h`](srctree/include/linux/slab.h)
//!
//! The `kernel` crate's `KBox` allocates through its `Allocator` trait,
//! which reallocates NULL with `krealloc_node_align()` and frees by
//! reallocating to size 0, with a bucket lookup for the variable size: on
//! the bench kernel that is about 150 guest instructions per object more
//! than C's `kzalloc()` of a constant size (the instruction profile of B6,
//! `selftests/bench/profile.sh attach-map system 4K`).
//! Objects that are plain C data, valid when all-zero (an attachment, a
//! scatter-gather table with its inline entry, a buffer's allocation, whose
//! two module references and Rust exporter data are written in place and
//! dropped in place before it is freed) use these two instead. Everything
//! else stays in `KBox`.
//!
//! The `kernel` crate's `Vec` also calls its allocator when it drops
//! without ever having allocated (`krealloc_node_align(NULL, 0)`); a vector
//! that usually stays empty is a [`LazyKVec`].

use super::glue;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// Allocates a zeroed `T` with `kzalloc(GFP_KERNEL)`.
///
/// # Safety
///
/// All-zero bytes must be a valid `T`, or the caller must write the
/// fields for which they are not before the object is used. [`kfree`]
/// does not drop the object: a `T` with drop glue is dropped in place
/// first by its owner.
pub(crate) unsafe fn kzalloc<T>() -> Result<NonNull<T>> {
    const { assert!(core::mem::align_of::<T>() <= bindings::ARCH_KMALLOC_MINALIGN) };
    // SAFETY: Any size may be asked for; kmalloc aligns to at least
    // `ARCH_KMALLOC_MINALIGN`, which is enough for `T` (asserted above).
    // The size is known here, not in C: the small ones call a wrapper with
    // a constant size (kmalloc's own bucket for it), which saves the
    // bucket lookup of a variable-size `kzalloc`.
    let p = unsafe {
        match core::mem::size_of::<T>() {
            0..=64 => glue::dmabuf_rs_kzalloc_64(),
            65..=128 => glue::dmabuf_rs_kzalloc_128(),
            // A buffer, alone or with a heap buffer after it.
            257..=512 => glue::dmabuf_rs_kzalloc_512(),
            n => glue::dmabuf_rs_kzalloc(n),
        }
    };
    NonNull::new(p.cast()).ok_or(ENOMEM)
}

/// Frees an object from [`kzalloc`].
///
/// # Safety
///
/// `p` must come from [`kzalloc`], and its object must have been dropped
/// in place or need no drop; `p` is not used afterwards.
pub(crate) unsafe fn kfree<T>(p: NonNull<T>) {
    // SAFETY: kmalloc'ed by the safety requirements.
    unsafe { bindings::kfree(p.as_ptr().cast()) };
}

/// A [`KVec`] that does not call the allocator when it drops without ever
/// having allocated: the `kernel` crate's `Vec` frees its buffer even at
/// capacity 0, through `krealloc_node_align()` of NULL (about 55 guest
/// instructions in the profiles of a heap buffer's release, whose table
/// list is empty unless it was mapped, and of every heap ALLOC, whose
/// argument vector is empty unless the argument outgrows the stack).
pub(crate) struct LazyKVec<T>(ManuallyDrop<KVec<T>>);

impl<T> LazyKVec<T> {
    /// An empty vector, with no memory.
    pub(crate) const fn new() -> Self {
        LazyKVec(ManuallyDrop::new(KVec::new()))
    }
}

impl<T> Deref for LazyKVec<T> {
    type Target = KVec<T>;

    fn deref(&self) -> &KVec<T> {
        &self.0
    }
}

impl<T> DerefMut for LazyKVec<T> {
    fn deref_mut(&mut self) -> &mut KVec<T> {
        &mut self.0
    }
}

impl<T> Drop for LazyKVec<T> {
    fn drop(&mut self) {
        // At capacity 0 the vector holds no element (its length is at most
        // its capacity) and no memory: there is nothing to drop or free.
        if self.0.capacity() != 0 {
            // SAFETY: Dropped once, here; `self.0` is not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.0) };
        }
    }
}
