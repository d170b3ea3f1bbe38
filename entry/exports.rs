// SPDX-License-Identifier: GPL-2.0
//! The exported C API of the dma-buf core (`EXPORT_SYMBOL_NS_GPL(..,
//! "DMA_BUF")`, the export lines are in `sys/glue.c`).
//!
//! Every function converts its arguments, checks what C callers are not
//! held to by types (`WARN` on NULL, lockdep assertions), and delegates to
//! [`crate::dma_buf`].
//!
//! # Locking convention
//!
//! This is the contract of `dma-buf.c`'s "locking convention", and here
//! each rule has a type: a function that needs the buffer's reservation
//! lock works on a [`LockedDmaBuf`], made either by taking the lock
//! ([`DmaBuf::lock`]) or, for the functions whose C callers must hold it,
//! by [`DmaBuf::assume_locked`], which asserts it for lockdep.
//!
//! Importers must hold the reservation lock when calling:
//! [`dma_buf_pin`], [`dma_buf_unpin`], [`dma_buf_map_attachment`],
//! [`dma_buf_unmap_attachment`], [`dma_buf_vmap`], [`dma_buf_vunmap`].
//!
//! Importers must not hold it when calling (these take it themselves, or
//! call exporter operations that may): [`dma_buf_attach`],
//! [`dma_buf_dynamic_attach`], [`dma_buf_detach`], [`dma_buf_export`],
//! [`dma_buf_fd`], [`dma_buf_get`], [`dma_buf_put`], [`dma_buf_mmap`],
//! [`dma_buf_begin_cpu_access`], [`dma_buf_end_cpu_access`],
//! [`dma_buf_map_attachment_unlocked`],
//! [`dma_buf_unmap_attachment_unlocked`], [`dma_buf_vmap_unlocked`],
//! [`dma_buf_vunmap_unlocked`].
//!
//! Exporters hold it when calling [`dma_buf_invalidate_mappings`], and get
//! their `pin`, `unpin`, `map_dma_buf`, `unmap_dma_buf`, `vmap` and
//! `vunmap` called with it held; `attach`, `detach`, `release`,
//! `begin_cpu_access`, `end_cpu_access` and `mmap` without it.

use crate::dma_buf::{Attachment, DmaBuf, LockedDmaBuf};
use crate::sys::attachment::AttachOps;
use crate::sys::dma_buf_ops::CDirection;
use crate::sys::export_info::{DmaBufExportInfo, ExportInfo};
use crate::sys::iosys_map::IosysMap;
use crate::sys::sg_table::MappedTable;
use core::ptr::NonNull;
use kernel::device::Device;
use kernel::dma::DataDirection;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::fs::file::FileDescriptorReservation;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::aref::ARef;

/// 0 or a negative errno.
#[inline]
fn errno(r: Result) -> c_int {
    r.err().map_or(0, |e| e.to_errno())
}

/// A live buffer from C, `None` (with a `WARN`) for NULL.
///
/// # Safety
///
/// `ptr` must be NULL or a live buffer for `'a`.
#[inline]
unsafe fn buf<'a>(ptr: *mut DmaBuf) -> Option<&'a DmaBuf> {
    // SAFETY: NULL or live by the safety requirements.
    let b = unsafe { ptr.as_ref() };
    if kernel::warn_on!(b.is_none()) {
        return None;
    }
    b
}

/// A live attachment with a buffer from C, `None` (with a `WARN`) for
/// NULL. The map and unmap entry points may sleep.
///
/// # Safety
///
/// `ptr` must be NULL or a live attachment for `'a`.
#[inline]
unsafe fn attachment<'a>(ptr: *mut Attachment) -> Option<&'a Attachment> {
    kernel::task::might_sleep();
    // SAFETY: NULL or live by the safety requirements.
    let a = unsafe { ptr.as_ref() };
    if kernel::warn_on!(a.is_none()) {
        return None;
    }
    a
}

/// A direction from C, `None` (with a `WARN`) outside the enum.
#[inline]
fn direction(dir: CDirection) -> Option<DataDirection> {
    let d = dir.get();
    if kernel::warn_on!(d.is_none()) {
        return None;
    }
    d
}

/// `dma_buf_export`: a new buffer from an exporter's info.
///
/// # Safety
///
/// `info` must be NULL or a valid export info for the call, with a static
/// `ops` table and the owner module of the calling exporter.
#[no_mangle]
unsafe extern "C" fn dma_buf_export(info: *const DmaBufExportInfo) -> *mut DmaBuf {
    let info = if info.is_null() {
        None
    } else {
        // SAFETY: Not NULL, so a valid export info by the C contract.
        unsafe { ExportInfo::from_c(info) }
    };
    let Some(info) = info else {
        kernel::warn_on!(true);
        return EINVAL.to_ptr();
    };
    match DmaBuf::export(info) {
        Ok(b) => ARef::into_raw(b).as_ptr(),
        Err(e) => e.to_ptr(),
    }
}

/// `dma_buf_fd`: installs the buffer's file in a new fd; the caller's
/// reference passes to the fd table.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller owns a reference.
#[no_mangle]
unsafe extern "C" fn dma_buf_fd(dmabuf: *mut DmaBuf, flags: c_int) -> c_int {
    // SAFETY: NULL or live by the C contract.
    let Some(b) = (unsafe { dmabuf.as_ref() }).filter(|b| b.has_file()) else {
        return EINVAL.to_errno();
    };
    match FileDescriptorReservation::get_unused_fd_flags(flags as u32) {
        Ok(fd) => {
            let n = fd.reserved_fd() as c_int;
            // SAFETY: The caller's reference passes on.
            DmaBuf::install(unsafe { ARef::from_raw(NonNull::from(b)) }, fd);
            n
        }
        Err(e) => e.to_errno(),
    }
}

/// `dma_buf_fd_install`: installs the buffer's file in a reserved fd.
///
/// # Safety
///
/// `dmabuf` must be a live buffer on which the caller owns a reference,
/// which passes to the fd table; `fd` must be reserved and not installed.
#[no_mangle]
unsafe extern "C" fn dma_buf_fd_install(dmabuf: *mut DmaBuf, fd: c_int) {
    // SAFETY: By the C contract.
    let buf = unsafe { ARef::from_raw(NonNull::new_unchecked(dmabuf)) };
    buf.trace_fd(fd);
    let file = DmaBuf::into_file(buf);
    // SAFETY: `fd` is reserved and not installed, by the C contract.
    unsafe { crate::sys::pseudo_fs::fd_install_reserved(fd as u32, file) };
}

/// `dma_buf_get`: the buffer open as `fd`, with a new reference.
///
/// # Safety
///
/// None: any `fd` is accepted.
#[no_mangle]
unsafe extern "C" fn dma_buf_get(fd: c_int) -> *mut DmaBuf {
    match DmaBuf::get(fd) {
        Ok(b) => ARef::into_raw(b).as_ptr(),
        Err(e) => e.to_ptr(),
    }
}

/// `dma_buf_put`: drops a buffer reference.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller owns a
/// reference, which this call consumes.
#[no_mangle]
unsafe extern "C" fn dma_buf_put(dmabuf: *mut DmaBuf) {
    // SAFETY: NULL or live by the C contract.
    if let Some(b) = unsafe { buf(dmabuf) }.filter(|b| !kernel::warn_on!(!b.has_file())) {
        // SAFETY: The caller's reference.
        DmaBuf::put(unsafe { ARef::from_raw(NonNull::from(b)) });
    }
}

/// `dma_buf_iter_begin`: the first live buffer, with a reference, or NULL
/// (for `kernel/bpf/dmabuf_iter.c`, built in; not exported, as upstream).
#[no_mangle]
extern "C" fn dma_buf_iter_begin() -> *mut DmaBuf {
    DmaBuf::iter_next(None).map_or(core::ptr::null_mut(), |b| ARef::into_raw(b).as_ptr())
}

/// `dma_buf_iter_next`: drops the reference on `dmabuf` and returns the
/// next live buffer, with a reference, or NULL. NULL ends the walk (C
/// dereferences it; restarting from the first buffer could make an
/// iterator loop for ever).
///
/// # Safety
///
/// `dmabuf` must be NULL or a buffer returned by `dma_buf_iter_begin` or
/// `dma_buf_iter_next`, whose reference this call consumes.
#[no_mangle]
unsafe extern "C" fn dma_buf_iter_next(dmabuf: *mut DmaBuf) -> *mut DmaBuf {
    let Some(prev) = NonNull::new(dmabuf) else {
        return core::ptr::null_mut();
    };
    // SAFETY: A referenced buffer whose reference passes to this call.
    let prev = unsafe { ARef::from_raw(prev) };
    DmaBuf::iter_next(Some(prev)).map_or(core::ptr::null_mut(), |b| ARef::into_raw(b).as_ptr())
}

/// `dma_buf_dynamic_attach`: attaches `dev` to the buffer.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer the caller holds a reference on,
/// `dev` NULL or a device that stays valid until the attachment is
/// detached, and `importer_ops` NULL or a table that outlives the
/// attachment.
#[no_mangle]
unsafe extern "C" fn dma_buf_dynamic_attach(
    dmabuf: *mut DmaBuf,
    dev: *mut Device,
    importer_ops: *const AttachOps,
    importer_priv: *mut c_void,
) -> *mut Attachment {
    // SAFETY: NULL or live by the C contract.
    let (Some(b), Some(dev)) = (unsafe { buf(dmabuf) }, unsafe { dev.as_ref() }) else {
        kernel::warn_on!(!dmabuf.is_null());
        return EINVAL.to_ptr();
    };
    // SAFETY: NULL or outliving the attachment, by the C contract.
    let ops = unsafe { importer_ops.as_ref() };
    // SAFETY: The importer keeps its device until it detaches (the C
    // contract; upstream takes no reference either).
    match unsafe { b.attach(dev, ops, importer_priv) } {
        Ok(a) => core::ptr::from_ref(a).cast_mut(),
        Err(e) => e.to_ptr(),
    }
}

/// `dma_buf_attach`: attaches `dev` as a static importer.
///
/// # Safety
///
/// As [`dma_buf_dynamic_attach`].
#[no_mangle]
unsafe extern "C" fn dma_buf_attach(dmabuf: *mut DmaBuf, dev: *mut Device) -> *mut Attachment {
    // SAFETY: The same contract, without importer operations.
    unsafe { dma_buf_dynamic_attach(dmabuf, dev, core::ptr::null(), core::ptr::null_mut()) }
}

/// `dma_buf_detach`: removes and frees an attachment of the buffer.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer, and `attach` NULL or a live,
/// unmapped attachment not used afterwards.
#[no_mangle]
unsafe extern "C" fn dma_buf_detach(dmabuf: *mut DmaBuf, attach: *mut Attachment) {
    // SAFETY: NULL or live by the C contract.
    let (Some(b), Some(a)) = (unsafe { dmabuf.as_ref() }, unsafe { attach.as_ref() }) else {
        kernel::warn_on!(true);
        return;
    };
    if !kernel::warn_on!(!a.belongs_to(b)) {
        // SAFETY: An unmapped attachment of `b`, by the C contract.
        unsafe { b.detach(a) };
    }
}

/// `dma_buf_pin` (resv held).
///
/// # Safety
///
/// `attach` must be a live attachment whose buffer's lock the caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_pin(attach: *mut Attachment) -> c_int {
    // SAFETY: By the C contract.
    let a = unsafe { &*attach };
    // SAFETY: By the C contract the caller holds the lock.
    errno(unsafe { a.dma_buf().assume_locked() }.pin(a))
}

/// `dma_buf_unpin` (resv held).
///
/// # Safety
///
/// As [`dma_buf_pin`].
#[no_mangle]
unsafe extern "C" fn dma_buf_unpin(attach: *mut Attachment) {
    // SAFETY: By the C contract.
    let a = unsafe { &*attach };
    // SAFETY: By the C contract the caller holds the lock.
    unsafe { a.dma_buf().assume_locked() }.unpin(a);
}

/// Maps `a` under `locked` and hands the table to C.
#[inline]
fn map(locked: &LockedDmaBuf<'_>, a: &Attachment, dir: CDirection) -> *mut SGTable {
    let Some(dir) = direction(dir) else {
        return EINVAL.to_ptr();
    };
    match locked.map(a, dir) {
        Ok(t) => t.into_raw(),
        Err(e) => e.to_ptr(),
    }
}

/// Takes back a table from C and unmaps it under `locked`.
///
/// # Safety
///
/// `table` must be NULL or come from mapping `a` in direction `dir`, and
/// not be used afterwards.
#[inline]
unsafe fn unmap(locked: &LockedDmaBuf<'_>, a: &Attachment, table: *mut SGTable, dir: CDirection) {
    // SAFETY: By the safety requirements.
    let t = unsafe { MappedTable::from_raw(table) };
    if let (Some(t), Some(dir)) = (t, direction(dir)) {
        // SAFETY: From mapping `a`, by the safety requirements.
        unsafe { locked.unmap(a, t, dir) };
    } else {
        kernel::warn_on!(true);
    }
}

/// `dma_buf_map_attachment` (resv held): the table for the device.
///
/// # Safety
///
/// `attach` must be NULL or a live attachment whose buffer's lock the
/// caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_map_attachment(
    attach: *mut Attachment,
    dir: CDirection,
) -> *mut SGTable {
    // SAFETY: NULL or live by the C contract.
    let Some(a) = (unsafe { attachment(attach) }) else {
        return EINVAL.to_ptr();
    };
    // SAFETY: By the C contract the caller holds the lock.
    map(&unsafe { a.dma_buf().assume_locked() }, a, dir)
}

/// `dma_buf_map_attachment_unlocked`: as [`dma_buf_map_attachment`],
/// taking the lock.
///
/// # Safety
///
/// `attach` must be NULL or a live attachment whose buffer's lock the
/// caller does not hold.
#[no_mangle]
unsafe extern "C" fn dma_buf_map_attachment_unlocked(
    attach: *mut Attachment,
    dir: CDirection,
) -> *mut SGTable {
    // SAFETY: NULL or live by the C contract.
    let Some(a) = (unsafe { attachment(attach) }) else {
        return EINVAL.to_ptr();
    };
    map(&a.dma_buf().lock(), a, dir)
}

/// `dma_buf_unmap_attachment` (resv held).
///
/// # Safety
///
/// `attach` must be NULL or a live attachment whose buffer's lock the
/// caller holds; `table` NULL or from mapping it, not used afterwards.
#[no_mangle]
unsafe extern "C" fn dma_buf_unmap_attachment(
    attach: *mut Attachment,
    table: *mut SGTable,
    dir: CDirection,
) {
    // SAFETY: NULL or live by the C contract.
    if let Some(a) = unsafe { attachment(attach) } {
        // SAFETY: By the C contract: lock held, `table` from mapping `a`.
        unsafe { unmap(&a.dma_buf().assume_locked(), a, table, dir) };
    }
}

/// `dma_buf_unmap_attachment_unlocked`: as [`dma_buf_unmap_attachment`],
/// taking the lock.
///
/// # Safety
///
/// As [`dma_buf_unmap_attachment`], without the lock held.
#[no_mangle]
unsafe extern "C" fn dma_buf_unmap_attachment_unlocked(
    attach: *mut Attachment,
    table: *mut SGTable,
    dir: CDirection,
) {
    // SAFETY: NULL or live by the C contract.
    if let Some(a) = unsafe { attachment(attach) } {
        // SAFETY: `table` from mapping `a`, by the C contract.
        unsafe { unmap(&a.dma_buf().lock(), a, table, dir) };
    }
}

/// `dma_buf_attach_revocable`: whether the importer can revoke access.
///
/// # Safety
///
/// `attach` must be a live attachment.
#[no_mangle]
unsafe extern "C" fn dma_buf_attach_revocable(attach: *mut Attachment) -> bool {
    // SAFETY: By the C contract.
    unsafe { &*attach }.is_revocable()
}

/// `dma_buf_invalidate_mappings` (the exporter holds the lock).
///
/// # Safety
///
/// `dmabuf` must be a live buffer whose lock the caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_invalidate_mappings(dmabuf: *mut DmaBuf) {
    // SAFETY: By the C contract: live, and the lock is held.
    unsafe { (*dmabuf).assume_locked() }.invalidate_mappings();
}

/// `dma_buf_begin_cpu_access` (no lock).
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer the caller holds a reference on.
#[no_mangle]
unsafe extern "C" fn dma_buf_begin_cpu_access(dmabuf: *mut DmaBuf, dir: CDirection) -> c_int {
    // SAFETY: NULL or live by the C contract.
    match (unsafe { buf(dmabuf) }, direction(dir)) {
        (Some(b), Some(dir)) => errno(b.begin_kernel_cpu_access(dir)),
        _ => EINVAL.to_errno(),
    }
}

/// `dma_buf_end_cpu_access` (no lock).
///
/// # Safety
///
/// As [`dma_buf_begin_cpu_access`].
#[no_mangle]
unsafe extern "C" fn dma_buf_end_cpu_access(dmabuf: *mut DmaBuf, dir: CDirection) -> c_int {
    // SAFETY: NULL or live by the C contract.
    match (unsafe { buf(dmabuf) }, direction(dir)) {
        (Some(b), Some(dir)) => errno(b.end_kernel_cpu_access(dir)),
        _ => EINVAL.to_errno(),
    }
}

/// `dma_buf_mmap`: maps the buffer into a VMA another file set up.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer the caller holds a reference on;
/// `vma` NULL or a VMA undergoing its initial set-up.
#[no_mangle]
unsafe extern "C" fn dma_buf_mmap(dmabuf: *mut DmaBuf, vma: *mut VmaNew, pgoff: c_ulong) -> c_int {
    // SAFETY: NULL or valid by the C contract.
    match (unsafe { buf(dmabuf) }, unsafe { vma.as_ref() }) {
        (Some(b), Some(vma)) => errno(b.mmap_into(vma, pgoff)),
        _ => {
            kernel::warn_on!(true);
            EINVAL.to_errno()
        }
    }
}

/// Vmaps the buffer under `locked` into `*map`, which the caller cleared
/// and which stays cleared on error (so only success writes it: the
/// repeated-vmap path of B7 is a few dozen instructions, and a second
/// store with its select cost a tenth of them).
///
/// # Safety
///
/// `map` must be valid for writes.
#[inline(always)]
unsafe fn vmap(locked: &LockedDmaBuf<'_>, map: *mut IosysMap) -> c_int {
    match locked.vmap() {
        Ok(m) => {
            // SAFETY: A valid out parameter, not shared during the call.
            unsafe { (*map).set(&m) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `dma_buf_vmap` (resv held): the kernel mapping of the whole buffer.
///
/// # Safety
///
/// `map` must be valid for writes; `dmabuf` NULL or a live buffer whose
/// lock the caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_vmap(dmabuf: *mut DmaBuf, map: *mut IosysMap) -> c_int {
    // SAFETY: A valid out parameter.
    unsafe { *map = IosysMap::CLEARED };
    // SAFETY: NULL or live by the C contract.
    match unsafe { buf(dmabuf) } {
        // SAFETY: The caller holds the lock; `map` is valid.
        Some(b) => unsafe { vmap(&b.assume_locked(), map) },
        None => EINVAL.to_errno(),
    }
}

/// `dma_buf_vmap_unlocked`: as [`dma_buf_vmap`], taking the lock.
///
/// # Safety
///
/// As [`dma_buf_vmap`], without the lock held.
#[no_mangle]
unsafe extern "C" fn dma_buf_vmap_unlocked(dmabuf: *mut DmaBuf, map: *mut IosysMap) -> c_int {
    // SAFETY: A valid out parameter.
    unsafe { *map = IosysMap::CLEARED };
    // SAFETY: NULL or live by the C contract.
    match unsafe { buf(dmabuf) } {
        // SAFETY: `map` is valid.
        Some(b) => unsafe { vmap(&b.lock(), map) },
        None => EINVAL.to_errno(),
    }
}

/// `dma_buf_vunmap` (resv held): undoes [`dma_buf_vmap`]; the exporter sees
/// the caller's `map`.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer whose lock the caller holds, and
/// `map` NULL or a mapping `dma_buf_vmap` returned for it.
#[no_mangle]
unsafe extern "C" fn dma_buf_vunmap(dmabuf: *mut DmaBuf, map: *mut IosysMap) {
    // SAFETY: NULL or valid by the C contract.
    if let (Some(b), Some(map)) = (unsafe { buf(dmabuf) }, unsafe { map.as_mut() }) {
        // SAFETY: The caller holds the lock.
        unsafe { b.assume_locked() }.vunmap(map);
    }
}

/// `dma_buf_vunmap_unlocked`: as [`dma_buf_vunmap`], taking the lock.
///
/// # Safety
///
/// As [`dma_buf_vunmap`], without the lock held.
#[no_mangle]
unsafe extern "C" fn dma_buf_vunmap_unlocked(dmabuf: *mut DmaBuf, map: *mut IosysMap) {
    // SAFETY: NULL or valid by the C contract.
    if let (Some(b), Some(map)) = (unsafe { buf(dmabuf) }, unsafe { map.as_mut() }) {
        b.lock().vunmap(map);
    }
}

#[kunit_tests(dmabuf_rs_exports)]
mod tests {
    use super::*;

    /// The BPF iterator's walk: from the first live buffer to NULL, each
    /// step giving the previous reference back; NULL ends it.
    #[test]
    fn iter_walk_ends_and_null_ends_it() -> Result {
        // SAFETY: NULL is accepted (it ends the walk).
        assert!(unsafe { dma_buf_iter_next(core::ptr::null_mut()) }.is_null());
        let mut steps = 0usize;
        let mut cur = dma_buf_iter_begin();
        while !cur.is_null() {
            steps += 1;
            assert!(steps < 1 << 20);
            // SAFETY: A buffer the walk returned, with its reference.
            cur = unsafe { dma_buf_iter_next(cur) };
        }
        Ok(())
    }
}
