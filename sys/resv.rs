// SPDX-License-Identifier: GPL-2.0
//! The reservation object (`struct dma_resv`), its lock guard and the
//! proof that its lock is held.
//!
//! C header: [`include/linux/dma-resv.h`](srctree/include/linux/dma-resv.h)
//!
//! The `kernel` crate has no `dma_resv` abstraction yet (its GEM shmem code
//! keeps a private guard, `drm/gem/shmem.rs`); this is ours. Operations that
//! need the lock are methods of [`ResvHeld`], which exists only while the
//! lock of the very object it points to is held, so a proof for one object
//! cannot be used on another.
//
// TODO: replace with the `kernel` crate's abstraction once it has one.

use super::fence::Fence;
use super::{check, glue};
use kernel::bindings;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::sync::aref::ARef;
use kernel::types::{NotThreadSafe, Opaque};

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
        // `dma_resv_usage_rw()`: a new write waits for the existing reads
        // and writes (every fence up to READ), a new read for the writes.
        if write {
            Usage::Read
        } else {
            Usage::Write
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

/// Proof that the lock of one [`Resv`] is held for `'a`.
///
/// It has no `Drop`: whoever holds the lock (a [`ResvGuard`], or a C caller
/// as asserted by [`Resv::assume_held`]) releases it.
///
/// # Invariants
///
/// The calling context holds the lock of `resv` for `'a`.
pub(crate) struct ResvHeld<'a> {
    resv: &'a Resv,
    _not_send: NotThreadSafe,
}

/// Holds the lock of a [`Resv`]; unlocks on drop.
///
/// # Invariants
///
/// The lock of `held.resv` is held by this context until the guard drops.
#[must_use = "the lock is released as soon as the guard is dropped"]
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
    #[inline]
    fn drop(&mut self) {
        self.held.resv.unlock();
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
    /// not yet initialized and not used by anyone else.
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

    /// The object's ww_mutex.
    #[inline]
    fn ww_mutex(&self) -> *mut bindings::ww_mutex {
        // SAFETY: A field address of a valid object.
        unsafe { core::ptr::addr_of_mut!((*self.as_raw()).lock) }
    }

    /// Releases the lock (`dma_resv_unlock`). Without mutex debugging
    /// that is the ww_mutex's unlock alone, called directly rather than
    /// through the `dma_resv_unlock` helper.
    ///
    /// Only [`ResvGuard`]'s drop calls this, when this context holds the
    /// lock (its type invariant).
    #[inline]
    fn unlock(&self) {
        if cfg!(CONFIG_DEBUG_MUTEXES) {
            // SAFETY: The caller holds the lock.
            unsafe { bindings::dma_resv_unlock(self.as_raw()) };
        } else {
            // SAFETY: As above; `dma_resv_reset_max_fences` is empty
            // without `CONFIG_DEBUG_MUTEXES`.
            unsafe { bindings::ww_mutex_unlock(self.ww_mutex()) };
        }
    }

    /// Takes the lock (not interruptible, no acquire context).
    #[inline]
    pub(crate) fn lock(&self) -> ResvGuard<'_> {
        // SAFETY: The object is initialized by the type invariant. With a
        // NULL context the lock cannot fail. `dma_resv_lock` is exactly
        // this call.
        unsafe { bindings::ww_mutex_lock(self.ww_mutex(), core::ptr::null_mut()) };
        // INVARIANT: Locked just above.
        ResvGuard {
            held: ResvHeld {
                resv: self,
                _not_send: NotThreadSafe,
            },
        }
    }

    /// Takes the lock; a signal aborts the wait with `EINTR`.
    pub(crate) fn lock_interruptible(&self) -> Result<ResvGuard<'_>> {
        // SAFETY: The object is initialized by the type invariant; this is
        // `dma_resv_lock_interruptible` with no acquire context.
        check(unsafe {
            bindings::ww_mutex_lock_interruptible(self.ww_mutex(), core::ptr::null_mut())
        })?;
        // INVARIANT: Locked just above.
        Ok(ResvGuard {
            held: ResvHeld {
                resv: self,
                _not_send: NotThreadSafe,
            },
        })
    }

    /// Returns the proof that the caller (a C caller, by its API contract)
    /// holds the lock, after asserting it: lockdep reports a caller that
    /// does not.
    ///
    /// # Safety
    ///
    /// The calling context must hold the lock for `'a`.
    pub(crate) unsafe fn assume_held<'a>(&'a self) -> ResvHeld<'a> {
        // SAFETY: The object is initialized by the type invariant.
        unsafe { glue::dmabuf_rs_resv_assert_held(self.as_raw()) };
        // INVARIANT: By the safety requirements.
        ResvHeld {
            resv: self,
            _not_send: NotThreadSafe,
        }
    }

    /// Tells lockdep that the caller may take this lock (nothing without
    /// `CONFIG_PROVE_LOCKING`, as C's `might_lock`).
    #[inline]
    pub(crate) fn might_lock(&self) {
        if !cfg!(CONFIG_PROVE_LOCKING) {
            return;
        }
        // SAFETY: The object is initialized by the type invariant.
        unsafe { glue::dmabuf_rs_resv_might_lock(self.as_raw()) };
    }

    /// Waits (interruptibly) until every fence of `usage` has signalled.
    #[inline]
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
        // The remaining timeout (positive) on success, or an errno.
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(())
    }

    /// One fence that signals when all fences of `usage` have signalled,
    /// or `None` when there are none.
    #[inline]
    pub(crate) fn get_singleton(&self, usage: Usage) -> Result<Option<ARef<Fence>>> {
        let mut fence: *mut bindings::dma_fence = core::ptr::null_mut();
        // SAFETY: The object is initialized; `fence` is a valid out pointer.
        check(unsafe { bindings::dma_resv_get_singleton(self.as_raw(), usage.raw(), &mut fence) })?;
        // SAFETY: On success the C function hands over a reference (or NULL).
        Ok(unsafe { Fence::from_raw_owned(fence) })
    }
}

impl<'a> ResvHeld<'a> {
    /// The reservation object whose lock is held.
    pub(crate) fn resv(&self) -> &'a Resv {
        self.resv
    }

    /// Reserves room for `n` more fences.
    #[inline]
    pub(crate) fn reserve_fences(&self, n: u32) -> Result {
        // SAFETY: The object is initialized and locked (type invariant).
        check(unsafe { bindings::dma_resv_reserve_fences(self.resv.as_raw(), n) })
    }

    /// Adds a fence (a slot must have been reserved).
    #[inline]
    pub(crate) fn add_fence(&self, fence: &Fence, usage: Usage) {
        // SAFETY: The object is initialized and locked; `fence` is valid.
        unsafe { bindings::dma_resv_add_fence(self.resv.as_raw(), fence.as_raw(), usage.raw()) };
    }

    /// Calls `f` on the unsignalled fences of `usage`, in order, until it
    /// returns `true`; returns whether it did.
    pub(crate) fn find_fence(&self, usage: Usage, mut f: impl FnMut(&Fence) -> bool) -> bool {
        // SAFETY: An all-zero cursor is a valid starting value before `obj`
        // and `usage` are set, which is what `dma_resv_iter_begin` does.
        let mut cursor: bindings::dma_resv_iter = unsafe { core::mem::zeroed() };
        cursor.obj = self.resv.as_raw();
        cursor.usage = usage.raw();
        // SAFETY: The cursor is set up on a locked, initialized object.
        let mut fence = unsafe { bindings::dma_resv_iter_first(&mut cursor) };
        while !fence.is_null() {
            // SAFETY: `fence` is valid while the lock is held, which outlasts
            // the borrow.
            if f(unsafe { Fence::from_raw(fence) }) {
                return true;
            }
            // SAFETY: The cursor is valid and the lock is held.
            fence = unsafe { bindings::dma_resv_iter_next(&mut cursor) };
        }
        false
    }

    /// Prints the fences (`dma_resv_describe`) into a seq_file.
    pub(crate) fn describe(&self, m: &SeqFile) {
        // `SeqFile` is a transparent wrapper of `struct seq_file`.
        let seq = core::ptr::from_ref(m)
            .cast_mut()
            .cast::<bindings::seq_file>();
        // SAFETY: The object is locked; `seq` is the seq_file being shown.
        unsafe { bindings::dma_resv_describe(self.resv.as_raw(), seq) };
    }
}
