// SPDX-License-Identifier: GPL-2.0
//! Character devices: a region of minors with its device class, and one
//! device node per minor.
//!
//! C headers: [`include/linux/cdev.h`](srctree/include/linux/cdev.h),
//! [`include/linux/device/class.h`](srctree/include/linux/device/class.h)
//!
//! The file operations are a `const` table built from [`ChrdevOps`], like
//! `miscdevice.rs`. Each node's `struct cdev` comes from `cdev_alloc`, so
//! its memory belongs to its kobject: an `open` racing `cdev_del` or a
//! delayed kobject release never touches freed memory, and the table's
//! `owner` keeps this module loaded while a node is open. For the same
//! reason the class comes from `class_create`: its memory belongs to the
//! driver core, which frees it when the class's last kobject reference
//! goes, possibly after `class_destroy` and after this module is gone
//! (`CONFIG_DEBUG_KOBJECT_RELEASE` makes that late on purpose). The
//! class's name stays a string of this module; after unregistering, the
//! driver core reads it only in a `pr_debug` of the release.

use super::glue;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;

/// The operations of the devices of a region.
pub(crate) trait ChrdevOps: 'static {
    /// What an open file of a node refers to.
    type Target: Sync + 'static;
    /// The class name (`/sys/class/<name>`).
    const CLASS: &'static CStr;
    /// `devnode` format of the nodes, given the device name (`%s`).
    const DEVNODE_FMT: &'static CStr;
    /// The object behind `minor`, which must outlive every open file of
    /// it (open files pin this module, and the module frees them last).
    fn open(minor: u32) -> Result<&'static Self::Target>;
    /// `unlocked_ioctl` and `compat_ioctl`.
    fn ioctl(target: &Self::Target, cmd: u32, arg: usize) -> Result<i32>;
}

/// A region of `count` minors and its class; released on drop.
///
/// # Invariants
///
/// `devt` is an allocated region of `count` minors and `class` a class
/// from `class_create`, both owned by this object.
pub(crate) struct Region {
    devt: bindings::dev_t,
    count: u32,
    class: NonNull<bindings::class>,
    fops: &'static bindings::file_operations,
}

// SAFETY: The region is only read after registration.
unsafe impl Send for Region {}
// SAFETY: As above.
unsafe impl Sync for Region {}

/// One device node; removed on drop.
///
/// # Invariants
///
/// `cdev` is a `cdev_alloc`ed, added device whose reference this object
/// owns, and `devt` has a device created in the region's class.
pub(crate) struct Node {
    cdev: NonNull<bindings::cdev>,
    devt: bindings::dev_t,
    class: *const bindings::class,
}

// SAFETY: Removal may happen from any thread.
unsafe impl Send for Node {}
// SAFETY: No method uses `&self`.
unsafe impl Sync for Node {}

struct Fops<T>(core::marker::PhantomData<T>);

impl<T: ChrdevOps> Fops<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: super::this_module(),
        open: Some(open::<T>),
        unlocked_ioctl: Some(ioctl::<T>),
        compat_ioctl: Some(ioctl::<T>),
        ..pin_init::zeroed()
    };
}

impl Region {
    /// Allocates `count` minors named `name` and registers the class; the
    /// nodes will have the operations of `T`.
    pub(crate) fn new<T: ChrdevOps>(name: &'static CStr, count: u32) -> Result<Self> {
        let mut devt: bindings::dev_t = 0;
        // SAFETY: Valid out pointer and static name.
        to_result(unsafe {
            bindings::alloc_chrdev_region(&mut devt, 0, count, name.as_char_ptr())
        })?;
        // SAFETY: A static name (the module documentation says when the
        // driver core reads it after unregistering).
        let class = unsafe { bindings::class_create(T::CLASS.as_char_ptr()) };
        // `class_create` returns an `ERR_PTR` on failure, never NULL.
        let class = match super::check_ptr(class).and_then(|c| NonNull::new(c).ok_or(ENOMEM)) {
            Ok(c) => c,
            Err(e) => {
                // SAFETY: Allocated above.
                unsafe { bindings::unregister_chrdev_region(devt, count) };
                return Err(e);
            }
        };
        // SAFETY: No device of the class exists yet, so nothing reads
        // `devnode` concurrently (upstream's dma-heap sets it the same way).
        unsafe { (*class.as_ptr()).devnode = Some(devnode::<T>) };
        // INVARIANT: Both registered above.
        Ok(Region {
            devt,
            count,
            class,
            fops: &Fops::<T>::FOPS,
        })
    }

    /// Creates the node `name` (`/dev/<devnode>`) for `minor`.
    pub(crate) fn add(&self, minor: u32, name: &CStr) -> Result<Node> {
        if minor >= self.count {
            return Err(EINVAL);
        }
        let devt = self.devt + minor;
        // SAFETY: Allocates a refcounted cdev.
        let cdev = NonNull::new(unsafe { bindings::cdev_alloc() }).ok_or(ENOMEM)?;
        // SAFETY: `cdev` is new and ours; the table is static.
        unsafe {
            (*cdev.as_ptr()).owner = super::this_module();
            (*cdev.as_ptr()).ops = self.fops;
        }
        // SAFETY: A set-up cdev and a minor of our region.
        if let Err(e) = to_result(unsafe { bindings::cdev_add(cdev.as_ptr(), devt, 1) }) {
            // SAFETY: Drops the allocation's reference (`cdev_del` does so
            // for an added one; for a failed add it frees through the kobject).
            unsafe { bindings::kobject_put(&mut (*cdev.as_ptr()).kobj) };
            return Err(e);
        }
        // SAFETY: A registered class and a valid name for `%s`.
        let dev = unsafe {
            bindings::device_create(
                self.class.as_ptr(),
                core::ptr::null_mut(),
                devt,
                core::ptr::null_mut(),
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        if let Err(e) = super::check_ptr(dev) {
            // SAFETY: Added above.
            unsafe { bindings::cdev_del(cdev.as_ptr()) };
            return Err(e);
        }
        // INVARIANT: Added and created above.
        Ok(Node {
            cdev,
            devt,
            class: self.class.as_ptr(),
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: Registered by `new` (type invariant); every node is gone
        // (they borrow nothing, but the owner drops them first).
        unsafe {
            bindings::class_destroy(self.class.as_ptr());
            bindings::unregister_chrdev_region(self.devt, self.count);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: Created and added by `Region::add` (type invariant); the
        // class outlives its nodes.
        unsafe {
            bindings::device_destroy(self.class, self.devt);
            bindings::cdev_del(self.cdev.as_ptr());
        }
    }
}

/// # Safety
///
/// The driver core calls this with a valid device of the class.
unsafe extern "C" fn devnode<T: ChrdevOps>(
    dev: *const bindings::device,
    _mode: *mut bindings::umode_t,
) -> *mut c_char {
    // SAFETY: A valid device; the format takes one string.
    unsafe {
        bindings::kasprintf(
            bindings::GFP_KERNEL,
            T::DEVNODE_FMT.as_char_ptr(),
            bindings::dev_name(dev),
        )
    }
}

/// # Safety
///
/// The VFS calls this with a valid inode of a node and a file being opened.
unsafe extern "C" fn open<T: ChrdevOps>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: A valid inode.
    let minor = unsafe { glue::dmabuf_rs_iminor(inode) };
    match T::open(minor) {
        Ok(target) => {
            // SAFETY: A file being opened; the target outlives it.
            unsafe {
                (*file).private_data = core::ptr::from_ref(target).cast_mut().cast();
                bindings::nonseekable_open(inode, file)
            }
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// The VFS calls this with a valid file opened by [`open`].
unsafe extern "C" fn ioctl<T: ChrdevOps>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: `private_data` is the target set by `open`, which outlives the file.
    let target = unsafe { &*(*file).private_data.cast::<T::Target>() };
    match T::ioctl(target, cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}
