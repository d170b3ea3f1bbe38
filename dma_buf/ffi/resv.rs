// SPDX-License-Identifier: GPL-2.0
//! The reservation object (`struct dma_resv`) and proofs that its lock is held.
//!
//! C header: [`include/linux/dma-resv.h`](srctree/include/linux/dma-resv.h)
//!
//! The dma-buf locking convention says which entry points run with the
//! buffer's reservation lock held. In this crate that rule is a type: a
//! function that needs the lock takes a [`ResvHeld`], which can only be
//! obtained by locking ([`Resv::lock`]) or, at the C boundary, by asserting
//! that the C caller holds it ([`Resv::assume_held`]).

use super::fence::Fence;
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::types::Opaque;

/// A `struct dma_resv`.
///
/// # Invariants
///
/// The wrapped object is initialized (`dma_resv_init`) for as long as a
/// reference to this type exists.
#[repr(transparent)]
pub(crate) struct Resv(Opaque<bindings::dma_resv>);

/// Which fences a wait or a query looks at (`enum dma_resv_usage`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Kernel-internal memory management fences.
    Kernel,
    /// Implicit write fences.
    Write,
    /// Implicit read fences.
    Read,
}

impl Usage {
    /// The usage that an access of this kind must wait for: writers wait
    /// for everything, readers only for writers (`dma_resv_usage_rw`).
    pub(crate) fn for_access(write: bool) -> Self {
        // SAFETY: A pure function of its argument.
        let raw = unsafe { super::dmabuf_rs_resv_usage_rw(write) };
        if raw == bindings::dma_resv_usage_DMA_RESV_USAGE_WRITE {
            Usage::Write
        } else {
            Usage::Read
        }
    }

    fn raw(self) -> bindings::dma_resv_usage {
        match self {
            Usage::Kernel => bindings::dma_resv_usage_DMA_RESV_USAGE_KERNEL,
            Usage::Write => bindings::dma_resv_usage_DMA_RESV_USAGE_WRITE,
            Usage::Read => bindings::dma_resv_usage_DMA_RESV_USAGE_READ,
        }
    }
}

/// Proof that the reservation lock of a [`Resv`] is held for `'a`.
///
/// It has no `Drop`: whoever holds the lock (a [`ResvGuard`] or a C caller)
/// releases it.
pub(crate) struct ResvHeld<'a> {
    resv: &'a Resv,
}

impl<'a> ResvHeld<'a> {
    /// The reservation object whose lock is held.
    pub(crate) fn resv(&self) -> &'a Resv {
        self.resv
    }
}

/// Holds the reservation lock; unlocks on drop.
pub(crate) struct ResvGuard<'a> {
    held: ResvHeld<'a>,
}

impl<'a> core::ops::Deref for ResvGuard<'a> {
    type Target = ResvHeld<'a>;
    fn deref(&self) -> &ResvHeld<'a> {
        &self.held
    }
}

impl Drop for ResvGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant of `ResvGuard` (it exists only while
        // it owns the lock), the lock is held by this context.
        unsafe { bindings::dma_resv_unlock(self.held.resv.as_raw()) };
    }
}

impl Resv {
    /// Wraps a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an initialized `struct dma_resv` that stays
    /// initialized for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_resv) -> &'a Resv {
        // SAFETY: `Resv` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_resv {
        self.0.get()
    }

    /// Initializes the object in place.
    ///
    /// # Safety
    ///
    /// `ptr` must point to writable memory for a `struct dma_resv` that is
    /// not yet initialized.
    pub(crate) unsafe fn init(ptr: *mut bindings::dma_resv) {
        // SAFETY: By the safety requirements of this function.
        unsafe { bindings::dma_resv_init(ptr) };
    }

    /// Tears down an object initialized with [`Resv::init`].
    ///
    /// # Safety
    ///
    /// No other reference to the object may be used after this call.
    pub(crate) unsafe fn fini(&self) {
        // SAFETY: By the safety requirements of this function.
        unsafe { bindings::dma_resv_fini(self.as_raw()) };
    }

    /// Takes the lock (not interruptible, no acquire context).
    pub(crate) fn lock(&self) -> ResvGuard<'_> {
        // SAFETY: The object is initialized by the type invariant. A NULL
        // context is allowed, and then the lock cannot fail.
        unsafe { bindings::dma_resv_lock(self.as_raw(), core::ptr::null_mut()) };
        ResvGuard {
            held: ResvHeld { resv: self },
        }
    }

    /// Takes the lock; a signal aborts the wait with `EINTR`.
    pub(crate) fn lock_interruptible(&self) -> Result<ResvGuard<'_>> {
        // SAFETY: The object is initialized by the type invariant.
        to_result(unsafe { super::dmabuf_rs_resv_lock_interruptible(self.as_raw()) })?;
        Ok(ResvGuard {
            held: ResvHeld { resv: self },
        })
    }

    /// Returns the proof that a C caller holds the lock, after asserting it
    /// (lockdep reports a caller that does not).
    ///
    /// # Safety
    ///
    /// The calling context must hold the lock for `'a`.
    pub(crate) unsafe fn assume_held<'a>(&'a self) -> ResvHeld<'a> {
        // SAFETY: The object is initialized by the type invariant.
        unsafe { super::dmabuf_rs_resv_assert_held(self.as_raw()) };
        ResvHeld { resv: self }
    }

    /// Tells lockdep that the caller may take this lock.
    pub(crate) fn might_lock(&self) {
        // SAFETY: The object is initialized by the type invariant.
        unsafe { super::dmabuf_rs_resv_might_lock(self.as_raw()) };
    }

    /// Waits (interruptibly) until every fence of `usage` has signalled.
    pub(crate) fn wait(&self, usage: Usage) -> Result {
        // SAFETY: The object is initialized by the type invariant.
        let ret = unsafe {
            bindings::dma_resv_wait_timeout(
                self.as_raw(),
                usage.raw(),
                true,
                kernel::task::MAX_SCHEDULE_TIMEOUT as usize,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// One fence that signals when all fences of `usage` have signalled,
    /// or `None` when there are none.
    pub(crate) fn get_singleton(&self, usage: Usage) -> Result<Option<Fence>> {
        let mut fence: *mut bindings::dma_fence = core::ptr::null_mut();
        // SAFETY: The object is initialized; `fence` is a valid out pointer.
        to_result(unsafe {
            bindings::dma_resv_get_singleton(self.as_raw(), usage.raw(), &mut fence)
        })?;
        // SAFETY: On success the C function hands over a reference (or NULL).
        Ok(unsafe { Fence::from_raw_owned(fence) })
    }

    /// Reserves room for `n` more fences.
    pub(crate) fn reserve_fences(&self, _held: &ResvHeld<'_>, n: u32) -> Result {
        // SAFETY: The object is initialized and locked (`_held`).
        to_result(unsafe { bindings::dma_resv_reserve_fences(self.as_raw(), n) })
    }

    /// Adds a fence (a slot must have been reserved).
    pub(crate) fn add_fence(&self, _held: &ResvHeld<'_>, fence: &Fence, usage: Usage) {
        // SAFETY: The object is initialized and locked; `fence` is valid.
        unsafe { bindings::dma_resv_add_fence(self.as_raw(), fence.as_raw(), usage.raw()) };
    }

    /// Arms `cb` on the first unsignalled fence of `usage`. Returns whether
    /// one was armed; the armed fence keeps a reference, dropped by `cb`.
    ///
    /// # Safety
    ///
    /// `cb` must be valid and unarmed, and stay valid until `func` runs.
    pub(crate) unsafe fn add_callback_on_first_pending(
        &self,
        _held: &ResvHeld<'_>,
        usage: Usage,
        cb: *mut bindings::dma_fence_cb,
        func: bindings::dma_fence_func_t,
    ) -> bool {
        // SAFETY: An all-zero cursor is a valid starting value before
        // `obj` and `usage` are set (what `dma_resv_iter_begin` does).
        let mut cursor: bindings::dma_resv_iter = unsafe { core::mem::zeroed() };
        cursor.obj = self.as_raw();
        cursor.usage = usage.raw();
        // SAFETY: The cursor is set up on a locked, initialized object.
        let mut fence = unsafe { bindings::dma_resv_iter_first(&mut cursor) };
        while !fence.is_null() {
            // SAFETY: `fence` is valid while the lock is held; we take a
            // reference for the callback.
            unsafe { super::dmabuf_rs_fence_get(fence) };
            // SAFETY: `cb` is valid and unarmed by the safety requirements.
            if unsafe { bindings::dma_fence_add_callback(fence, cb, func) } == 0 {
                return true;
            }
            // SAFETY: Drops the reference taken above; the fence was signalled.
            unsafe { super::dmabuf_rs_fence_put(fence) };
            // SAFETY: The cursor is valid and the lock is held.
            fence = unsafe { bindings::dma_resv_iter_next(&mut cursor) };
        }
        false
    }

    /// Prints the fences (`dma_resv_describe`) into a seq_file.
    ///
    /// # Safety
    ///
    /// `seq` must be a valid seq_file being shown.
    pub(crate) unsafe fn describe(&self, _held: &ResvHeld<'_>, seq: *mut bindings::seq_file) {
        // SAFETY: The object is locked; `seq` is valid by the safety requirements.
        unsafe { bindings::dma_resv_describe(self.as_raw(), seq) };
    }
}
