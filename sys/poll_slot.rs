// SPDX-License-Identifier: GPL-2.0
//! The poll callback slots of a dma-buf (`dma_buf.cb_in`, `dma_buf.cb_out`)
//! and the buffer's poll wait queue (`dma_buf.poll`).
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)
//!
//! A slot is claimed for one event, armed on a fence together with a file
//! reference that keeps the buffer alive, and released by the fence
//! callback, which wakes the pollers and drops both references. The slot's
//! `active` field is protected by the wait queue's lock, as in C, because
//! the callback runs in the fence's signalling context.

use super::dma_buf::DmaBuf;
use super::fence::Fence;
use super::glue;
use kernel::bindings;
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::types::Opaque;

/// `EPOLLIN`.
pub(crate) const EPOLLIN: u32 = 0x1;
/// `EPOLLOUT`.
pub(crate) const EPOLLOUT: u32 = 0x4;

/// One poll callback slot of a dma-buf.
///
/// # Invariants
///
/// The slot is `cb_in` or `cb_out` of a live [`DmaBuf`], whose `poll` field
/// its `poll` member points to.
#[repr(transparent)]
pub(crate) struct PollSlot(Opaque<bindings::dma_buf_dma_buf_poll_cb_t>);

/// Runs `f` under the buffer's poll wait queue lock.
fn with_wq_lock<R>(wq: *mut bindings::wait_queue_head, f: impl FnOnce() -> R) -> R {
    // SAFETY: `wq` is the initialized wait queue of a live buffer.
    let flags = unsafe { glue::dmabuf_rs_wq_lock_irqsave(wq) };
    let r = f();
    // SAFETY: Locked above with these flags.
    unsafe { glue::dmabuf_rs_wq_unlock_irqrestore(wq, flags) };
    r
}

impl PollSlot {
    /// Borrows a slot of a buffer.
    ///
    /// # Safety
    ///
    /// `ptr` must be `cb_in` or `cb_out` of a buffer that is live for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_dma_buf_poll_cb_t) -> &'a Self {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> *mut bindings::dma_buf_dma_buf_poll_cb_t {
        self.0.get()
    }

    fn wq(&self) -> *mut bindings::wait_queue_head {
        // SAFETY: By the type invariant `poll` was set at export and is constant.
        unsafe { (*self.raw()).poll }
    }

    /// Claims the slot for `event` if no callback is armed on it.
    pub(crate) fn claim(&self, event: u32) -> bool {
        let active = self.active_field();
        with_wq_lock(self.wq(), || {
            // SAFETY: `active` is protected by the wait queue lock, held.
            unsafe {
                if *active == 0 {
                    *active = event;
                    true
                } else {
                    false
                }
            }
        })
    }

    fn active_field(&self) -> *mut u32 {
        // SAFETY: A field address of a valid slot.
        unsafe { core::ptr::addr_of_mut!((*self.raw()).active) }
    }

    /// Wakes the pollers of the claimed event and releases the slot.
    pub(crate) fn complete(&self) {
        let wq = self.wq();
        let active = self.active_field();
        with_wq_lock(wq, || {
            // SAFETY: Under the wait queue lock; `wq` is valid.
            unsafe {
                glue::dmabuf_rs_wake_up_locked_poll(wq, *active);
                *active = 0;
            }
        });
    }

    /// Arms the claimed slot on `fence`: when it signals, the pollers are
    /// woken, the slot is released and `keep` is dropped. Gives `keep` back
    /// if the fence has already signalled (nothing is armed then).
    ///
    /// # Safety
    ///
    /// The slot must have been claimed by the caller, and `keep` must be a
    /// reference to the file of the buffer that holds this slot.
    pub(crate) unsafe fn arm(&self, fence: &Fence, keep: ARef<File>) -> Result<(), ARef<File>> {
        let fence_ref: ARef<Fence> = fence.into();
        // SAFETY: The slot is claimed (so unarmed) and stays valid until the
        // callback runs, because `keep` keeps the buffer alive until then.
        let cb = unsafe { core::ptr::addr_of_mut!((*self.raw()).cb) };
        // SAFETY: As above.
        if unsafe { fence.add_callback(cb, Some(slot_signalled)) } {
            // The callback now owns both references.
            core::mem::forget(fence_ref);
            core::mem::forget(keep);
            Ok(())
        } else {
            Err(keep)
        }
    }
}

/// Fence callback of an armed slot.
///
/// # Safety
///
/// `cb` must be the `cb` member of a slot armed by [`PollSlot::arm`], which
/// handed this call one reference on `fence` and one on the buffer's file.
unsafe extern "C" fn slot_signalled(
    fence: *mut bindings::dma_fence,
    cb: *mut bindings::dma_fence_cb,
) {
    // SAFETY: `cb` is the first member of the slot, which the file
    // reference owned by this call keeps alive.
    let slot = unsafe { PollSlot::from_raw(cb.cast()) };
    // SAFETY: The slot's wait queue is the `poll` member of its buffer.
    let buf = unsafe { DmaBuf::of_poll_wq(slot.wq()) };
    slot.complete();
    // SAFETY: The references handed over by `arm`; the file is the
    // buffer's, which is live while we hold it.
    unsafe {
        drop(Fence::from_raw_owned(fence));
        drop(buf.take_file_ref());
    }
}

impl DmaBuf {
    /// The poll slot for `EPOLLIN` or `EPOLLOUT`.
    pub(crate) fn poll_slot(&self, event: u32) -> &PollSlot {
        // SAFETY: A slot of a valid buffer, which it lives as long as.
        unsafe { PollSlot::from_raw(self.poll_cb(event == EPOLLIN)) }
    }

    /// Registers `pt` to wait on the buffer's poll wait queue.
    pub(crate) fn poll_wait(&self, file: &File, pt: &PollRequest<'_>) {
        // SAFETY: Valid file, wait queue and poll table (or NULL table).
        unsafe { bindings::poll_wait(file.as_ptr(), self.poll_wq(), pt.0) };
    }
}

/// The poll table of a `poll` call and the events it asks for.
///
/// # Invariants
///
/// The pointer is NULL or a valid `poll_table` for `'a`.
pub(crate) struct PollRequest<'a>(
    *mut bindings::poll_table_struct,
    core::marker::PhantomData<&'a ()>,
);

impl PollRequest<'_> {
    /// Wraps the poll table of a `poll` call.
    ///
    /// # Safety
    ///
    /// `pt` must be NULL or a valid poll table for `'a`.
    pub(crate) unsafe fn from_raw<'a>(pt: *mut bindings::poll_table_struct) -> PollRequest<'a> {
        // INVARIANT: By the safety requirements.
        PollRequest(pt, core::marker::PhantomData)
    }

    /// The events the caller asks for (all when the table is NULL).
    pub(crate) fn events(&self) -> u32 {
        // SAFETY: NULL or valid by the type invariant, as the helper allows.
        unsafe { glue::dmabuf_rs_poll_requested_events(self.0) }
    }
}
