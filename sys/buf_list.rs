// SPDX-License-Identifier: GPL-2.0
//! The global list of live buffers (`dma_buf.list_node`), for debugfs and
//! iteration.
//!
//! C header: [`include/linux/list.h`](srctree/include/linux/list.h)

use super::dma_buf::DmaBuf;
use super::{check, glue};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::sync::lock::mutex::MutexGuard;
use kernel::sync::Mutex;

// The list and its lock are C objects (`sys/glue.c`), initialized at
// build time: a `kernel::sync::Mutex` offers no interruptible lock, and
// bufinfo takes this one interruptibly, as `dma_buf_debug_show` does.

/// The lock of the list.
fn mutex() -> &'static Mutex<()> {
    // SAFETY: `dmabuf_rs_list_mutex` is a mutex initialized statically
    // (`DEFINE_MUTEX`) that lives as long as the code using it, and is only
    // ever used through this `Mutex<()>`.
    unsafe { Mutex::from_raw(&raw mut glue::dmabuf_rs_list_mutex) }
}

/// Takes the list lock.
fn lock() -> MutexGuard<'static, ()> {
    mutex().lock()
}

/// Takes the list lock unless a signal comes first (`EINTR`).
fn lock_interruptible() -> Result<MutexGuard<'static, ()>> {
    // SAFETY: Locks the mutex `mutex()` wraps.
    check(unsafe { glue::dmabuf_rs_list_lock_interruptible() })?;
    // SAFETY: This task holds the lock, just taken above.
    Ok(unsafe { MutexGuard::new(mutex(), ()) })
}

/// The list head; touched only under the lock.
fn head() -> *mut bindings::list_head {
    &raw mut glue::dmabuf_rs_list
}

/// Adds a complete buffer to the list.
pub(crate) fn publish(buf: &DmaBuf) {
    let _list = lock();
    // SAFETY: The node is initialized and unlinked; the list is locked.
    unsafe { glue::dmabuf_rs_list_add(buf.list_node(), head()) };
}

/// Removes a buffer whose file is being released and forgets the file.
///
/// # Safety
///
/// Called once per published buffer, from its file release.
pub(crate) unsafe fn unpublish(buf: &DmaBuf) {
    let _list = lock();
    // SAFETY: The node is on the list, which is locked; the file is being
    // released, and list walkers only see the file under this lock.
    unsafe {
        glue::dmabuf_rs_list_del(buf.list_node());
        buf.clear_file();
    }
}

/// One step of the BPF dma-buf iterator (`dma_buf_iter_begin` without
/// `prev`, `dma_buf_iter_next` with it): drops `prev` (as `dma_buf_put`)
/// and returns the next buffer on the list after it, or the first one,
/// that can still be referenced, with a new reference.
pub(crate) fn next_live(prev: Option<ARef<DmaBuf>>) -> Option<ARef<DmaBuf>> {
    let _list = lock();
    let head = head();
    let mut pos = match prev {
        Some(b) => {
            let node = b.list_node();
            b.trace_put();
            // The node stays linked while the lock is held, even if this
            // was the last reference: `fput` defers the release, which
            // unpublishes the buffer under this lock.
            drop(b);
            node
        }
        None => head,
    };
    loop {
        // SAFETY: `pos` is the head or a linked node; the list is locked.
        pos = unsafe { (*pos).next };
        if pos == head {
            return None;
        }
        // SAFETY: Every entry is the node of a buffer on the list, which
        // the lock keeps there.
        let buf = unsafe { DmaBuf::from_list_node(pos) };
        // SAFETY: The buffer is on the list and the list is locked.
        if let Some(b) = unsafe { buf.try_get() } {
            return Some(b);
        }
    }
}

/// Calls `f` on every buffer on the list that can still be referenced,
/// with a reference on it, under the list lock, stopping at the first
/// error; `EINTR` if a signal comes while waiting for the lock. A buffer
/// on the list may have a file whose count already went to zero (its
/// release, which unpublishes it, is on its way): it is skipped, so `f`
/// never sees a buffer it could not hold.
pub(crate) fn for_each(mut f: impl FnMut(&ARef<DmaBuf>) -> Result) -> Result {
    let _list = lock_interruptible()?;
    let head = head();
    // SAFETY: The list is initialized and we hold its lock.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: Every entry is the node of a buffer on the list, which the
        // lock keeps there (and so its file allocated).
        let buf = unsafe { DmaBuf::from_list_node(pos) };
        // SAFETY: The buffer is on the list and the list is locked.
        if let Some(buf) = unsafe { buf.try_get() } {
            f(&buf)?;
            // Dropping the reference here is safe under the lock: were it
            // the last, `fput` defers the release, which takes this lock.
            drop(buf);
        }
        // SAFETY: `pos` is still linked: a buffer leaves the list only in
        // its release, under this lock.
        pos = unsafe { (*pos).next };
    }
    Ok(())
}
