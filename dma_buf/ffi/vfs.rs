// SPDX-License-Identifier: GPL-2.0
//! The VFS side: the private "dmabuf" mount, its files and fds.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::bindings;
use kernel::error::from_err_ptr;
use kernel::prelude::*;

/// The internal mount of the "dmabuf" pseudo file system.
static MOUNT: AtomicPtr<bindings::vfsmount> = AtomicPtr::new(core::ptr::null_mut());

/// The next inode number: every dma-buf gets a unique `st_ino`.
static NEXT_INO: AtomicU64 = AtomicU64::new(0);

/// Mounts the pseudo file system (module init).
pub(crate) fn mount() -> Result {
    // SAFETY: Called once at module init.
    let mnt = from_err_ptr(unsafe { super::dmabuf_rs_kern_mount() })?;
    MOUNT.store(mnt, Ordering::Release);
    Ok(())
}

/// Unmounts it (module exit: no dma-buf can be alive then, each holds a
/// reference on this module).
pub(crate) fn unmount() {
    let mnt = MOUNT.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !mnt.is_null() {
        // SAFETY: `mnt` came from `kern_mount`.
        unsafe { bindings::kern_unmount(mnt) };
    }
}

/// Creates a file on the pseudo file system with operations `fops`,
/// `i_size` = `size`, a fresh inode number and `flags & (O_ACCMODE |
/// O_NONBLOCK)`. Returns it with one reference.
pub(crate) fn new_file(
    size: usize,
    flags: i32,
    fops: &'static bindings::file_operations,
) -> Result<*mut bindings::file> {
    let mnt = MOUNT.load(Ordering::Acquire);
    // SAFETY: The mount is alive while the module is loaded.
    let inode = from_err_ptr(unsafe { bindings::alloc_anon_inode((*mnt).mnt_sb) })?;
    let size = i64::try_from(size).map_err(|_| EINVAL)?;
    // SAFETY: `inode` is a new inode that only we reference.
    unsafe {
        (*inode).i_size = size;
        bindings::inode_set_bytes(inode, size);
        (*inode).i_ino = NEXT_INO.fetch_add(1, Ordering::Relaxed) + 1;
    }
    let flags = flags & (bindings::O_ACCMODE | bindings::O_NONBLOCK) as i32;
    // SAFETY: `inode` and `mnt` are valid, the name is a NUL-terminated
    // string, `fops` is static.
    let file =
        unsafe { bindings::alloc_file_pseudo(inode, mnt, c"dmabuf".as_char_ptr(), flags, fops) };
    match from_err_ptr(file) {
        Ok(file) => Ok(file),
        Err(e) => {
            // SAFETY: The inode was not consumed by the failed call.
            unsafe { bindings::iput(inode) };
            Err(e)
        }
    }
}

/// Sets the private data of `file` and its dentry.
///
/// # Safety
///
/// `file` must be a file returned by [`new_file`] that no one else uses yet.
pub(crate) unsafe fn set_private(file: *mut bindings::file, data: *mut core::ffi::c_void) {
    // SAFETY: By the safety requirements.
    unsafe {
        (*file).private_data = data;
        (*(*file).__bindgen_anon_1.f_path.dentry).d_fsdata = data;
    }
}

/// Takes a reference on `file`.
///
/// # Safety
///
/// `file` must be valid and referenced by the caller.
pub(crate) unsafe fn get_file(file: *mut bindings::file) {
    // SAFETY: By the safety requirements.
    unsafe { bindings::get_file(file) };
}

/// Drops a reference on `file`.
///
/// # Safety
///
/// The caller must own the reference it drops.
pub(crate) unsafe fn fput(file: *mut bindings::file) {
    // SAFETY: By the safety requirements.
    unsafe { bindings::fput(file) };
}

/// The number of references on `file`.
///
/// # Safety
///
/// `file` must be valid.
pub(crate) unsafe fn file_count(file: *mut bindings::file) -> i64 {
    // SAFETY: By the safety requirements.
    unsafe { super::dmabuf_rs_file_count(file) as i64 }
}

/// Looks up `fd` in the current task: the file with a new reference.
pub(crate) fn fget(fd: i32) -> Option<*mut bindings::file> {
    // SAFETY: Any value may be passed; NULL comes back for a bad fd.
    let file = unsafe { bindings::fget(fd as u32) };
    (!file.is_null()).then_some(file)
}

/// Reserves an fd with `flags` (`get_unused_fd_flags`).
pub(crate) fn reserve_fd(flags: u32) -> Result<i32> {
    // SAFETY: Safe to call with any flags.
    let fd = unsafe { bindings::get_unused_fd_flags(flags) };
    if fd < 0 {
        return Err(Error::from_errno(fd));
    }
    Ok(fd)
}

/// Releases a reserved, never installed fd.
pub(crate) fn put_reserved_fd(fd: i32) {
    // SAFETY: `fd` was reserved by `reserve_fd` and not installed.
    unsafe { bindings::put_unused_fd(fd as u32) };
}

/// Installs `file` at the reserved `fd`, consuming one reference.
///
/// # Safety
///
/// `fd` must be reserved and not installed; the caller gives up one
/// reference on `file`.
pub(crate) unsafe fn fd_install(fd: i32, file: *mut bindings::file) {
    // SAFETY: By the safety requirements.
    unsafe { bindings::fd_install(fd as u32, file) };
}
