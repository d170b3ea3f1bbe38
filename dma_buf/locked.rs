// SPDX-License-Identifier: GPL-2.0
//! The reservation lock of a buffer, held: [`LockedDmaBuf`].
//!
//! # Lock order
//!
//! Outermost first; this crate never takes them in another order:
//!
//! 1. the buffer list mutex (`sys/buf_list.rs`; debugfs walks the list and
//!    locks each buffer);
//! 2. a buffer's reservation lock (`dma_resv`, a ww_mutex; importers and
//!    exporters take it around the locked entry points);
//! 3. a heap buffer's state mutex (`heaps/buffer.rs`, taken by exporter
//!    operations that run under the reservation lock);
//! 4. spinlocks: a buffer's `name_lock`, and its poll wait queue lock
//!    (interrupt-safe, also taken by fence callbacks).

use crate::sys::dma_buf::DmaBuf;
use crate::sys::resv::{ResvGuard, ResvHeld};
use kernel::prelude::*;

/// How the lock is held.
enum Hold<'a> {
    /// By this object, which unlocks it on drop.
    Owned(ResvGuard<'a>),
    /// By a C caller, as its API contract requires (asserted).
    Caller(ResvHeld<'a>),
}

/// A buffer whose reservation lock is held: the only way to reach the
/// operations that need it (attachment mapping, pinning, the vmap cache,
/// the attachment list). A proof for one buffer gives no access to another.
#[must_use = "the lock is released as soon as this is dropped"]
pub(crate) struct LockedDmaBuf<'a> {
    buf: &'a DmaBuf,
    hold: Hold<'a>,
}

impl DmaBuf {
    /// Takes the buffer's reservation lock.
    #[inline]
    pub(crate) fn lock(&self) -> LockedDmaBuf<'_> {
        LockedDmaBuf {
            buf: self,
            hold: Hold::Owned(self.resv().lock()),
        }
    }

    /// Takes the buffer's reservation lock; a signal aborts with `EINTR`.
    #[inline]
    pub(crate) fn lock_interruptible(&self) -> Result<LockedDmaBuf<'_>> {
        Ok(LockedDmaBuf {
            buf: self,
            hold: Hold::Owned(self.resv().lock_interruptible()?),
        })
    }

    /// The proof for a lock that the caller holds (lockdep checks it).
    ///
    /// # Safety
    ///
    /// The calling context must hold the buffer's reservation lock for `'a`.
    #[inline]
    pub(crate) unsafe fn assume_locked(&self) -> LockedDmaBuf<'_> {
        LockedDmaBuf {
            buf: self,
            // SAFETY: By the safety requirements.
            hold: Hold::Caller(unsafe { self.resv().assume_held() }),
        }
    }

    /// Tells lockdep that the caller may take this buffer's lock (the
    /// unlocked entry points say so even on paths that do not lock).
    #[inline]
    pub(crate) fn might_lock(&self) {
        self.resv().might_lock();
    }
}

impl<'a> LockedDmaBuf<'a> {
    /// The buffer.
    #[inline]
    pub(crate) fn buf(&self) -> &'a DmaBuf {
        self.buf
    }

    /// The held lock, for the lower layer's locked operations.
    #[inline]
    pub(crate) fn held(&self) -> &ResvHeld<'a> {
        match &self.hold {
            Hold::Owned(guard) => guard,
            Hold::Caller(held) => held,
        }
    }
}
