// SPDX-License-Identifier: GPL-2.0
//! `poll` of the dma-buf fd: implicit fences as readiness.
//!
//! `EPOLLIN` is ready when no write fence is pending, `EPOLLOUT` when no
//! fence at all is. For an event that is not ready, the buffer's slot for
//! it is armed on the first pending fence, holding a file reference; the
//! fence callback wakes the pollers and drops it (`sys/poll_slot.rs`). A
//! slot that is already armed means "not ready" without arming again.

use super::locked::LockedDmaBuf;
use crate::sys::dma_buf::DmaBuf;
use crate::sys::poll_slot::{PollRequest, EPOLLIN, EPOLLOUT};
use crate::sys::resv::Usage;
use kernel::fs::File;
use kernel::sync::aref::ARef;

impl DmaBuf {
    /// The ready events among those `pt` asks for.
    pub(crate) fn poll(&self, file: &File, pt: &PollRequest<'_>) -> u32 {
        self.poll_wait(file, pt);
        let mut events = pt.events() & (EPOLLIN | EPOLLOUT);
        if events == 0 {
            return 0;
        }
        let locked = self.lock();
        for event in [EPOLLOUT, EPOLLIN] {
            if events & event != 0 && !self.poll_arm(&locked, file, event) {
                events &= !event;
            }
        }
        events
    }

    /// Arms the slot of `event`; returns whether the event is ready now.
    fn poll_arm(&self, locked: &LockedDmaBuf<'_>, file: &File, event: u32) -> bool {
        let slot = self.poll_slot(event);
        if !slot.claim(event) {
            // A callback is already armed: not ready.
            return false;
        }
        let mut keep = Some(ARef::from(file));
        locked
            .held()
            .find_fence(Usage::for_access(event == EPOLLOUT), |fence| {
                let Some(k) = keep.take() else {
                    return true;
                };
                // SAFETY: The slot is claimed by us; `k` is a reference on this
                // buffer's file (`file` is it).
                match unsafe { slot.arm(fence, k) } {
                    Ok(()) => true,
                    Err(k) => {
                        keep = Some(k);
                        false
                    }
                }
            });
        match keep {
            // Armed: the callback reports readiness later.
            None => false,
            // No pending fence: ready now.
            Some(k) => {
                slot.complete();
                drop(k);
                true
            }
        }
    }
}
