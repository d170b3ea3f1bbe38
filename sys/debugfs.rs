// SPDX-License-Identifier: GPL-2.0
//! A debugfs directory of read-only `seq_file`s (`single_open`).
//!
//! C headers: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h),
//! [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)
//!
//! The `kernel` crate's debugfs files print through `fmt`; the bufinfo file
//! also hands its `seq_file` to C (`dma_resv_describe`), so it is a plain
//! `single_open` file whose `show` is [`Show::show`].

use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::seq_file::SeqFile;

/// The contents of a file.
pub(crate) trait Show: 'static {
    /// Prints the whole file.
    fn show(m: &SeqFile) -> Result;
}

/// A debugfs directory and its files; removed on drop.
///
/// # Invariants
///
/// `dir` is NULL, an error pointer or a debugfs directory owned by us;
/// all three may be passed to `debugfs_remove`.
pub(crate) struct Dir {
    dir: *mut bindings::dentry,
}

// SAFETY: A debugfs dentry may be removed from any thread.
unsafe impl Send for Dir {}
// SAFETY: No method uses `&self`.
unsafe impl Sync for Dir {}

struct Fops<T>(core::marker::PhantomData<T>);

impl<T: Show> Fops<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: super::this_module(),
        open: Some(open::<T>),
        read: Some(bindings::seq_read),
        llseek: Some(bindings::seq_lseek),
        release: Some(bindings::single_release),
        ..pin_init::zeroed()
    };
}

/// # Safety
///
/// seq_file calls this with a valid `seq_file` being shown.
unsafe extern "C" fn show<T: Show>(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: Valid for the call.
    T::show(unsafe { SeqFile::from_raw(m) })
        .err()
        .map_or(0, |e| e.to_errno())
}

/// # Safety
///
/// The VFS calls this with a valid inode and file being opened.
unsafe extern "C" fn open<T: Show>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Valid inode and file; `show` matches the seq_file contract.
    unsafe { bindings::single_open(file, Some(show::<T>), (*inode).i_private) }
}

impl Dir {
    /// Creates `/sys/kernel/debug/<dir>/<file>` showing `T`. Failures only
    /// lose the debug file, as in C.
    pub(crate) fn new<T: Show>(dir: &'static CStr, file: &'static CStr) -> Self {
        // SAFETY: A static name.
        let d = unsafe { bindings::debugfs_create_dir(dir.as_char_ptr(), core::ptr::null_mut()) };
        // INVARIANT: Any value `debugfs_create_dir` returns may be removed.
        let dir = Dir { dir: d };
        dir.add::<T>(file);
        dir
    }

    /// Adds `<file>` showing `T` to the directory (a failure only loses
    /// the file).
    pub(crate) fn add<T: Show>(&self, file: &'static CStr) {
        let d = self.dir;
        if !d.is_null() && super::check_ptr(d).is_ok() {
            // SAFETY: A valid directory; the table and name are static.
            unsafe {
                bindings::debugfs_create_file_full(
                    file.as_char_ptr(),
                    0o444,
                    d,
                    core::ptr::null_mut(),
                    core::ptr::null(),
                    &Fops::<T>::FOPS,
                )
            };
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: NULL, an error pointer or our directory (type invariant).
        unsafe { bindings::debugfs_remove(self.dir) };
    }
}
