// SPDX-License-Identifier: GPL-2.0
//! The global list of live buffers (`dma_buf.list_node`), for debugfs and
//! iteration.
//!
//! C header: [`include/linux/list.h`](srctree/include/linux/list.h)

use super::dma_buf::DmaBuf;
use super::glue;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// The list head.
struct Head(Opaque<bindings::list_head>);
// SAFETY: The list is only touched under `BUFFERS`.
unsafe impl Send for Head {}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init` at module init, before any use.
    unsafe(uninit) static BUFFERS: Mutex<Head> = Head(Opaque::uninit());
}

/// Sets up the list (module init, once, before any buffer exists).
pub(crate) fn init() {
    // SAFETY: Called once, at module init, before any other use.
    unsafe { BUFFERS.init() };
    let list = BUFFERS.lock();
    // SAFETY: The head is ours and uninitialized.
    unsafe { bindings::INIT_LIST_HEAD(list.0.get()) };
}

/// Adds a complete buffer to the list.
pub(crate) fn publish(buf: &DmaBuf) {
    let list = BUFFERS.lock();
    // SAFETY: The node is initialized and unlinked; the list is locked.
    unsafe { glue::dmabuf_rs_list_add(buf.list_node(), list.0.get()) };
}

/// Removes a buffer whose file is being released and forgets the file.
///
/// # Safety
///
/// Called once per published buffer, from its file release.
pub(crate) unsafe fn unpublish(buf: &DmaBuf) {
    let _list = BUFFERS.lock();
    // SAFETY: The node is on the list, which is locked; the file is being
    // released, and list walkers only see the file under this lock.
    unsafe {
        glue::dmabuf_rs_list_del(buf.list_node());
        buf.clear_file();
    }
}

/// Calls `f` on every live buffer under the list lock, stopping at the
/// first error. Buffers seen here have their file (it is unpublished
/// before it goes).
pub(crate) fn for_each(mut f: impl FnMut(&DmaBuf) -> Result) -> Result {
    let list = BUFFERS.lock();
    let head = list.0.get();
    // SAFETY: The list is initialized and we hold its lock.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: Every entry is the node of a live buffer, unlinked before
        // its file (and so the buffer) goes away, under this lock.
        f(unsafe { DmaBuf::from_list_node(pos) })?;
        // SAFETY: As above.
        pos = unsafe { (*pos).next };
    }
    Ok(())
}
