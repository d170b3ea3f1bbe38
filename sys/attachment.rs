// SPDX-License-Identifier: GPL-2.0
//! `struct dma_buf_attachment` and the importer's `struct dma_buf_attach_ops`.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use super::dma_buf::DmaBuf;
use super::glue;
use super::kmem;
use super::ledger::AttachLedger;
use super::resv::ResvHeld;
use core::ptr::{addr_of_mut, NonNull};
use kernel::bindings;
use kernel::device::Device;
use kernel::prelude::*;
use kernel::types::Opaque;

/// The importer's operations (`struct dma_buf_attach_ops`).
#[repr(transparent)]
pub(crate) struct AttachOps(bindings::dma_buf_attach_ops);

/// An attachment of a device to a dma-buf.
///
/// # Invariants
///
/// The attachment was made by [`Attachment::alloc`] and is not yet freed
/// (so it is the `attach` member of an [`AttachAlloc`]);
/// `dmabuf`, `dev`, `importer_ops` and `importer_priv` are constant, `dev`
/// outlives the attachment (the importer's promise, as in C: no reference
/// is taken), and `importer_ops` is NULL or outlives it.
#[repr(transparent)]
pub(crate) struct Attachment(Opaque<bindings::dma_buf_attachment>);

// SAFETY: The fields read through `&Attachment` are constant; the list
// links are only touched under the buffer's reservation lock.
unsafe impl Send for Attachment {}
// SAFETY: As above.
unsafe impl Sync for Attachment {}

/// The memory of an attachment: the C object, then the ledger's record of
/// it, which only this crate reads.
#[repr(C)]
struct AttachAlloc {
    attach: bindings::dma_buf_attachment,
    ledger: AttachLedger,
}

/// A new attachment that is not linked to its buffer yet; freed on drop.
pub(crate) struct NewAttachment(NonNull<Attachment>);

impl NewAttachment {
    /// The attachment.
    pub(crate) fn get(&self) -> &Attachment {
        // SAFETY: Live until dropped or published.
        unsafe { self.0.as_ref() }
    }

    /// Publishes the attachment: from now on [`Attachment::free`] frees it.
    pub(crate) fn publish(self) -> &'static Attachment {
        let p = self.0;
        core::mem::forget(self);
        // SAFETY: Live until `Attachment::free`, which the owner calls.
        unsafe { p.as_ref() }
    }
}

impl Drop for NewAttachment {
    fn drop(&mut self) {
        // SAFETY: Never published, so nobody else knows it.
        unsafe { Attachment::free(self.0.as_ptr().cast()) };
    }
}

impl Attachment {
    /// Borrows a raw attachment.
    ///
    /// # Safety
    ///
    /// `ptr` must be an attachment made by [`Attachment::alloc`] that lives
    /// for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_attachment) -> &'a Attachment {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.0.get()
    }

    /// Allocates an attachment of `dev` to `buf`.
    ///
    /// # Safety
    ///
    /// `dev` must outlive the attachment, and `importer_ops` be NULL or
    /// valid for the attachment's life.
    pub(crate) unsafe fn alloc(
        buf: &DmaBuf,
        dev: &Device,
        importer_ops: *const AttachOps,
        importer_priv: *mut core::ffi::c_void,
    ) -> Result<NewAttachment> {
        // SAFETY: An all-zero attachment is valid plain data, and an
        // all-zero ledger record is its empty state.
        let alloc = unsafe { kmem::kzalloc::<AttachAlloc>()? }.as_ptr();
        // SAFETY: A field of the new allocation.
        let a = unsafe { addr_of_mut!((*alloc).attach) };
        // SAFETY: The attachment is new and ours. `Device` wraps a
        // `struct device` transparently.
        unsafe {
            (*a).dev = core::ptr::from_ref(dev).cast_mut().cast();
            (*a).dmabuf = buf.as_raw();
            let ops = importer_ops.cast::<bindings::dma_buf_attach_ops>();
            if !ops.is_null() {
                (*a).peer2peer = (*ops).allow_peer2peer;
            }
            (*a).importer_ops = ops;
            (*a).importer_priv = importer_priv;
            bindings::INIT_LIST_HEAD(addr_of_mut!((*a).node));
        }
        // INVARIANT: Set up above.
        // SAFETY: From `kzalloc`, not NULL.
        Ok(NewAttachment(unsafe { NonNull::new_unchecked(a.cast()) }))
    }

    /// Frees an attachment.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Attachment::alloc`], be unlinked, and nothing
    /// may use it afterwards.
    pub(crate) unsafe fn free(ptr: *mut bindings::dma_buf_attachment) {
        // SAFETY: By the safety requirements: the first member of an
        // `AttachAlloc` from `kzalloc` in `alloc` (no field needs a drop).
        unsafe { kmem::kfree(NonNull::new_unchecked(ptr.cast::<AttachAlloc>())) };
    }

    /// The ledger's record of this attachment.
    pub(crate) fn ledger(&self) -> &AttachLedger {
        // SAFETY: The `attach` member of an `AttachAlloc` (type invariant),
        // at its start (`repr(C)`); the record is only used through atomics.
        unsafe { &(*self.as_raw().cast::<AttachAlloc>()).ledger }
    }

    /// Whether the importer handles peer-to-peer memory (`peer2peer`).
    pub(crate) fn is_peer2peer(&self) -> bool {
        // SAFETY: Constant by the type invariant.
        unsafe { (*self.as_raw()).peer2peer }
    }

    /// The buffer.
    pub(crate) fn dma_buf(&self) -> &DmaBuf {
        // SAFETY: Constant; the buffer outlives its attachments (type invariant).
        unsafe { DmaBuf::from_raw((*self.as_raw()).dmabuf) }
    }

    /// Whether this attachment belongs to `buf`.
    pub(crate) fn belongs_to(&self, buf: &DmaBuf) -> bool {
        // SAFETY: Constant by the type invariant.
        core::ptr::eq(unsafe { (*self.as_raw()).dmabuf }, buf.as_raw())
    }

    /// The attached device's pointer, valid while the attachment lives
    /// (type invariant).
    pub(crate) fn raw_device(&self) -> *mut bindings::device {
        // SAFETY: Constant by the type invariant.
        unsafe { (*self.as_raw()).dev }
    }

    /// The attached device's name.
    pub(crate) fn dev_name(&self) -> &CStr {
        // SAFETY: The device is valid by the type invariant.
        unsafe { CStr::from_char_ptr(bindings::dev_name((*self.as_raw()).dev)) }
    }

    /// Whether the importer is dynamic (brought `dma_buf_attach_ops`).
    pub(crate) fn is_dynamic(&self) -> bool {
        // SAFETY: Constant by the type invariant.
        !unsafe { (*self.as_raw()).importer_ops }.is_null()
    }

    /// Whether the importer can handle revocation (`invalidate_mappings`).
    pub(crate) fn is_revocable(&self) -> bool {
        // SAFETY: `importer_ops` is NULL or valid (type invariant).
        unsafe {
            let ops = (*self.as_raw()).importer_ops;
            !ops.is_null() && (*ops).invalidate_mappings.is_some()
        }
    }

    /// Calls the importer's `invalidate_mappings`, if it has one; `held`
    /// must be the buffer's reservation lock, which the callback expects
    /// held (with another lock's proof it warns and calls nothing).
    pub(crate) fn invalidate_mappings(&self, held: &ResvHeld<'_>) {
        // SAFETY: A live attachment's buffer and its constant `resv`.
        let resv = unsafe { (*(*self.as_raw()).dmabuf).resv };
        if kernel::warn_on!(!core::ptr::eq(held.resv().as_raw(), resv)) {
            return;
        }
        // SAFETY: `importer_ops` is NULL or valid (type invariant); the
        // callback runs with the buffer's resv lock held, as its contract
        // says.
        unsafe {
            let ops = (*self.as_raw()).importer_ops;
            if !ops.is_null() {
                if let Some(f) = (*ops).invalidate_mappings {
                    f(self.as_raw());
                }
            }
        }
    }

    /// The buffer's list node of this attachment.
    pub(super) fn list_node(&self) -> *mut bindings::list_head {
        // SAFETY: A field address of a valid object.
        unsafe { addr_of_mut!((*self.as_raw()).node) }
    }

    /// The attachment whose list node is `node`.
    ///
    /// # Safety
    ///
    /// `node` must be the `node` of a live attachment, live for `'a`.
    pub(super) unsafe fn from_list_node<'a>(node: *mut bindings::list_head) -> &'a Attachment {
        // SAFETY: By the safety requirements.
        unsafe {
            Attachment::from_raw(
                node.byte_sub(core::mem::offset_of!(bindings::dma_buf_attachment, node))
                    .cast(),
            )
        }
    }
}

impl DmaBuf {
    /// Calls `f` on each attachment, in attach order (newest first, as C).
    /// `held` must be this buffer's lock (a foreign proof visits nothing).
    pub(crate) fn for_each_attachment(&self, held: &ResvHeld<'_>, mut f: impl FnMut(&Attachment)) {
        if !self.held_is_mine(held) {
            return;
        }
        // SAFETY: The list is valid and protected by the held lock.
        unsafe {
            let head = self.attachments_head();
            let mut pos = (*head).next;
            while pos != head {
                let next = (*pos).next;
                f(Attachment::from_list_node(pos));
                pos = next;
            }
        }
    }

    /// Links a new attachment (it must not be linked yet).
    pub(crate) fn link_attachment(&self, held: &ResvHeld<'_>, a: &Attachment) {
        if self.held_is_mine(held) {
            // SAFETY: Protected by the held lock; the node is unlinked.
            unsafe { glue::dmabuf_rs_list_add(a.list_node(), self.attachments_head()) };
        }
    }

    /// Unlinks an attachment of this buffer.
    pub(crate) fn unlink_attachment(&self, held: &ResvHeld<'_>, a: &Attachment) {
        if self.held_is_mine(held) {
            // SAFETY: Protected by the held lock; the node is on our list.
            unsafe { glue::dmabuf_rs_list_del(a.list_node()) };
        }
    }
}
