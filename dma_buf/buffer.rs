// SPDX-License-Identifier: GPL-2.0
//! The buffer's life: export, the buffer list, the name, and release.
//!
//! A buffer is owned by its file: a reference to the buffer is a reference
//! to the file (`ARef<DmaBuf>`). When the last file reference goes, the
//! buffer leaves the list and forgets its file; it is released when the
//! file's dentry dies, which can be later (an `O_PATH` open of
//! `/proc/<pid>/fd/N` holds the dentry).

use crate::sys::buf_list;
use crate::sys::dma_buf::{DmaBuf, DyingDmaBuf, NewDmaBuf};
use crate::sys::export_info::ExportInfo;
use crate::sys::module_ref::ModuleRef;
use crate::sys::pseudo_fs;
use kernel::fs::file::FileDescriptorReservation;
use kernel::prelude::*;
use kernel::sync::aref::ARef;

impl DmaBuf {
    /// Exports a new buffer (`dma_buf_export`): checks the exporter's
    /// operations (a missing mandatory one is a driver bug: `WARN` and
    /// `EINVAL`, as upstream), pins the exporter's module and this one,
    /// creates the file and publishes the buffer once it is complete.
    pub(crate) fn export(info: ExportInfo) -> Result<ARef<DmaBuf>> {
        if kernel::warn_on!(info.priv_.is_null()) {
            return Err(EINVAL);
        }
        DmaBuf::export_with(info, |info, exporter, core| info.alloc(exporter, core))
    }

    /// The steps of [`DmaBuf::export`] after the `priv` check, with the
    /// buffer made by `alloc` (from the info and the two module
    /// references).
    #[inline]
    pub(super) fn export_with(
        info: ExportInfo,
        alloc: impl FnOnce(&ExportInfo, ModuleRef, ModuleRef) -> Result<NewDmaBuf>,
    ) -> Result<ARef<DmaBuf>> {
        if kernel::warn_on!(!info.ops.has_mandatory()) {
            return Err(EINVAL);
        }
        if kernel::warn_on!(!info.ops.pin_pair_ok()) {
            return Err(EINVAL);
        }
        let exporter = info.pin_owner()?;
        let new = alloc(&info, exporter, ModuleRef::this_module())?;
        let buf = pseudo_fs::new_file(new, info.flags)?;
        buf.ledger_published(pseudo_fs::ino(DmaBuf::file_of(&buf)));
        buf_list::publish(&buf);
        buf.trace_export();
        Ok(buf)
    }

    /// The buffer open as `fd` (`dma_buf_get`): `EBADF`, or `EINVAL` for
    /// any other kind of file.
    pub(crate) fn get(fd: i32) -> Result<ARef<DmaBuf>> {
        let buf = pseudo_fs::fget(fd)?;
        buf.trace_get(fd);
        Ok(buf)
    }

    /// Gives the buffer's file to the reserved `fd`, with this reference
    /// (`dma_buf_fd`).
    pub(crate) fn install(this: ARef<DmaBuf>, fd: FileDescriptorReservation) {
        this.trace_fd(fd.reserved_fd() as i32);
        fd.fd_install(DmaBuf::into_file(this));
    }

    /// Drops a reference (`dma_buf_put`).
    pub(crate) fn put(this: ARef<DmaBuf>) {
        this.trace_put();
        drop(this);
    }

    /// Walks the live buffers for the BPF dma-buf iterator: the first one
    /// without `prev`, else the one after `prev`, whose reference goes.
    /// Each buffer returned comes with a reference; a buffer whose last
    /// reference is already gone is skipped.
    pub(crate) fn iter_next(prev: Option<ARef<DmaBuf>>) -> Option<ARef<DmaBuf>> {
        buf_list::next_live(prev)
    }

    /// The last file reference is gone: leave the list.
    pub(crate) fn file_released(buf: &DyingDmaBuf) {
        buf.ledger_file_released();
        // SAFETY: Called once, from the file release; unpublishing takes no
        // reference.
        unsafe { buf_list::unpublish(buf.buf()) };
    }

    /// Releases the buffer when its dentry dies: a leftover vmap goes back
    /// to the exporter, then the exporter's `release`, then the memory.
    ///
    /// # Safety
    ///
    /// Called once, when nothing else can reach the buffer.
    pub(crate) unsafe fn release(buf: &DyingDmaBuf) {
        // SAFETY: The release takes no reference: it locks, vunmaps,
        // releases and frees the buffer.
        let this = unsafe { buf.buf() };
        // An armed poll callback holds a file reference, so none can be
        // armed here.
        kernel::warn_on!(this.poll_armed_at_release());
        this.ledger_release(this.vmap_count_at_release());
        // A vmap holds no reference: an importer that dropped its last one
        // while still mapped has a bug (C stops with `BUG_ON`). Warn, and
        // give the mapping back to the exporter before its `release`, so
        // no kernel mapping of freed memory is left behind.
        if kernel::warn_on!(this.vmap_count_at_release() != 0) {
            let locked = this.lock();
            let (_, mut cached) = this.vmap_state(locked.held());
            this.set_vmap_state(locked.held(), 1, cached);
            locked.vunmap(&mut cached);
        }
        // SAFETY: Nothing can reach the buffer any more.
        unsafe { this.exporter_release() };
        kernel::warn_on!(!this.attachments_empty());
        // SAFETY: Released above; nothing uses the buffer afterwards.
        unsafe { DmaBuf::free(this.as_raw()) };
    }

    /// Copies the name into `out` (cut to fit, with its NUL); returns its
    /// length, or `None` when no name was ever set.
    pub(crate) fn copy_name(&self, out: &mut [u8]) -> Option<usize> {
        self.with_name(|name| {
            let name = name?;
            let n = name.len().min(out.len().saturating_sub(1));
            out[..n].copy_from_slice(&name[..n]);
            if let Some(nul) = out.get_mut(n) {
                *nul = 0;
            }
            Some(n)
        })
    }

    /// Calls `f` on every live buffer, with a reference on it, under the
    /// list lock, stopping at the first error (`EINTR` when a signal comes
    /// while waiting for the lock, as upstream's bufinfo). A buffer whose
    /// last reference is already gone (its release is on its way) is
    /// skipped.
    pub(crate) fn for_each(f: impl FnMut(&ARef<DmaBuf>) -> Result) -> Result {
        buf_list::for_each(f)
    }
}

impl DyingDmaBuf {
    /// Copies the name, as [`DmaBuf::copy_name`].
    pub(crate) fn copy_name(&self, out: &mut [u8]) -> Option<usize> {
        // SAFETY: The name is read under its lock; no reference is made.
        unsafe { self.buf() }.copy_name(out)
    }
}
