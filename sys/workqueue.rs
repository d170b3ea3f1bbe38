// SPDX-License-Identifier: GPL-2.0
//! What work items of the `kernel` crate's workqueue need and it lacks:
//! waiting for one to finish, and yielding the CPU in a long one.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use super::glue;
use kernel::bindings;
use kernel::workqueue::{HasWork, Work};

/// Waits until `item`'s work of `ID` has finished running, if it was
/// queued or running at the call (`flush_work`).
pub(crate) fn flush<T: HasWork<T, ID>, const ID: u64>(item: &T) {
    let ptr = core::ptr::from_ref(item).cast_mut();
    // SAFETY: `ptr` points to a valid `T`, whose `Work` field
    // `raw_get_work` finds; that field was initialized with the work
    // function (`Work::new`), so `flush_work` may wait on it.
    unsafe { bindings::flush_work(Work::raw_get(T::raw_get_work(ptr))) };
}

/// Lets another task run if one should (`cond_resched`): called between
/// the steps of a long work item on a kernel without full preemption.
pub(crate) fn cond_resched() {
    // SAFETY: Called from process context without spinlocks held, as the
    // work function that calls it runs.
    unsafe { glue::dmabuf_rs_cond_resched() };
}
