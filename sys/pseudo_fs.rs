// SPDX-License-Identifier: GPL-2.0
//! The private "dmabuf" pseudo file system: its mount, its files (one per
//! buffer) and their file and dentry operations.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/pseudo_fs.h`](srctree/include/linux/pseudo_fs.h)
//!
//! Like `miscdevice.rs`, the operation tables are `const`s built from a
//! trait, [`FileOps`], whose implementation (in `entry/file.rs`) holds the
//! short entry points; the trampolines here only convert pointers.
//!
//! A file of this file system owns its buffer: the file's `private_data`
//! and its dentry's `d_fsdata` point to it, and the dentry's release frees
//! it, which may be after the file is gone (an `O_PATH` open of
//! `/proc/<pid>/fd/N` holds the dentry).

use super::dma_buf::{DmaBuf, DyingDmaBuf, NewDmaBuf};
use super::glue;
use super::poll_slot::PollRequest;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong};
use kernel::fs::File;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::sync::aref::ARef;

/// The operations of the buffers' files and dentries.
pub(crate) trait FileOps: 'static {
    /// The last file reference is gone (`release`).
    fn release(buf: &DyingDmaBuf);
    /// `mmap` of the file.
    fn mmap(buf: &DmaBuf, vma: &VmaNew) -> Result;
    /// `llseek` of the file: the new position.
    fn llseek(buf: &DmaBuf, offset: i64, whence: i32) -> Result<i64>;
    /// `poll` of the file: the ready events.
    fn poll(buf: &DmaBuf, file: &File, pt: &PollRequest<'_>) -> u32;
    /// `unlocked_ioctl` and `compat_ioctl` of the file.
    fn ioctl(buf: &DmaBuf, cmd: u32, arg: usize) -> Result<i32>;
    /// `show_fdinfo` of the file.
    fn show_fdinfo(buf: &DmaBuf, file: &File, m: &SeqFile);
    /// `d_dname`: writes the path name of the dentry named `base` into
    /// `out` (without the NUL) and returns its length.
    fn dname(buf: &DyingDmaBuf, base: &[u8], out: &mut [u8]) -> Result<usize>;
    /// `d_release`: the dentry, the last thing that could reach `buf`, dies.
    ///
    /// # Safety
    ///
    /// Called once per buffer; nothing uses `buf` afterwards.
    unsafe fn dentry_release(buf: &DyingDmaBuf);
}

/// The internal mount; set while a [`Mount`] exists.
static MOUNT: AtomicPtr<bindings::vfsmount> = AtomicPtr::new(core::ptr::null_mut());
/// The file operations of our files; set while a [`Mount`] exists.
static FOPS: AtomicPtr<bindings::file_operations> = AtomicPtr::new(core::ptr::null_mut());
/// The last inode number: every buffer gets a unique `st_ino`.
static LAST_INO: AtomicU64 = AtomicU64::new(0);

/// `struct file_system_type` of "dmabuf"; the VFS reads it and keeps its
/// lockdep keys in it, so it lives in static (writable) memory.
struct FsType(UnsafeCell<bindings::file_system_type>);
// SAFETY: Written only by `Mount::new` at module init, before the VFS sees
// it; afterwards only the VFS uses it, under its own rules.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(UnsafeCell::new(bindings::file_system_type {
    kill_sb: Some(bindings::kill_anon_super),
    ..pin_init::zeroed()
}));

/// The mounted pseudo file system; unmounted on drop.
///
/// # Invariants
///
/// `MOUNT` holds the `kern_mount` of `FS_TYPE` and `FOPS` the table of the
/// [`FileOps`] it was mounted with, until this object drops.
pub(crate) struct Mount(());

impl Mount {
    /// Mounts the file system with the operations of `T` (module init).
    pub(crate) fn new<T: FileOps>() -> Result<Self> {
        // SAFETY: Module init, before the VFS knows the type: nothing else
        // reads it.
        unsafe {
            let fs_type = FS_TYPE.0.get();
            (*fs_type).name = c"dmabuf".as_char_ptr();
            (*fs_type).init_fs_context = Some(init_fs_context::<T>);
        }
        // SAFETY: The type is set up above.
        let mnt = super::check_ptr(unsafe { bindings::kern_mount(FS_TYPE.0.get()) })?;
        FOPS.store(
            core::ptr::from_ref(&FileTable::<T>::FOPS).cast_mut(),
            Ordering::Release,
        );
        MOUNT.store(mnt, Ordering::Release);
        // INVARIANT: Both set above.
        Ok(Mount(()))
    }
}

/// Unmounting at module exit.
///
/// Every buffer holds a reference on this module until its dentry's
/// `d_release` has run, so no buffer is alive here. But `__fput` drops the
/// mount reference of a file only after `dput` has returned from that
/// `d_release`: a file whose buffer let the module go may still hold the
/// mount. Were its `mntput` the last one, it would run `kill_sb` with this
/// module's `FS_TYPE` and the root dentry's operations after the module is
/// freed. So the drop waits until the mount holds no file reference (only
/// `kern_mount`'s and the one taken here; `may_umount_tree` counts the
/// root's references against two), then unmounts: the last `mntput`, and
/// with it `kill_sb`, runs here, while the module is still loaded. The
/// wait ends: no new file can appear (no buffer is alive to make one), and
/// each file in flight drops its reference right after its `dput`.
impl Drop for Mount {
    fn drop(&mut self) {
        let mnt = MOUNT.swap(core::ptr::null_mut(), Ordering::AcqRel);
        FOPS.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: `mnt` came from `kern_mount` and is still mounted (type
        // invariant); the extra reference is dropped below.
        unsafe { bindings::mntget(mnt) };
        // SAFETY: As above; `may_umount_tree` only reads the counts.
        while unsafe { bindings::may_umount_tree(mnt) } == 0 {
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
        }
        // SAFETY: The reference taken above; `kern_mount`'s is left, and
        // no file holds one, so `kern_unmount` drops the last.
        unsafe {
            bindings::mntput(mnt);
            bindings::kern_unmount(mnt);
        }
    }
}

/// Creates the file of a new buffer: `i_size` = its size, a fresh inode
/// number, `flags & (O_ACCMODE | O_NONBLOCK)`. On success the file owns the
/// buffer, and the caller the file's one reference.
pub(crate) fn new_file(new: NewDmaBuf, flags: i32) -> Result<ARef<DmaBuf>> {
    let mnt = MOUNT.load(Ordering::Acquire);
    let size = i64::try_from(new.buf().size()).map_err(|_| EINVAL)?;
    // SAFETY: The mount is alive while a `Mount` exists, which is the whole
    // time buffers can be made.
    let inode = super::check_ptr(unsafe { bindings::alloc_anon_inode((*mnt).mnt_sb) })?;
    // SAFETY: `inode` is new and only ours.
    unsafe {
        (*inode).i_size = size;
        bindings::inode_set_bytes(inode, size);
        (*inode).i_ino = LAST_INO.fetch_add(1, Ordering::Relaxed) + 1;
    }
    let flags = flags & (bindings::O_ACCMODE | bindings::O_NONBLOCK) as i32;
    // SAFETY: `inode` and `mnt` are valid, the name is a static string, the
    // table is static.
    let file = unsafe {
        bindings::alloc_file_pseudo(
            inode,
            mnt,
            c"dmabuf".as_char_ptr(),
            flags,
            FOPS.load(Ordering::Acquire),
        )
    };
    let file = match super::check_ptr(file) {
        Ok(f) => f,
        Err(e) => {
            // SAFETY: The failed call did not consume the inode.
            unsafe { bindings::iput(inode) };
            return Err(e);
        }
    };
    // SAFETY: A new file with one reference, which passes to the `ARef`.
    let file: ARef<File> =
        unsafe { ARef::from_raw(core::ptr::NonNull::new_unchecked(file.cast())) };
    let buf = core::ptr::NonNull::from(new.give_to(&file));
    core::mem::forget(file);
    // SAFETY: The file's reference is the buffer's.
    Ok(unsafe { ARef::from_raw(buf) })
}

/// Runs the final `fput`s that kernel threads deferred (the KUnit cases
/// wait with it for a buffer's release).
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn flush_deferred_fputs() {
    // SAFETY: May be called from any task that holds no file lock.
    unsafe { bindings::flush_delayed_fput() };
}

/// The buffer of `file` if it is one of ours (`dma_buf_get`'s check: the
/// file operations, so an `O_PATH` file of the same dentry is not).
pub(crate) fn dma_buf_of(file: &File) -> Option<&DmaBuf> {
    let f = file.as_ptr();
    // SAFETY: A valid file; our files' private data is their buffer, alive
    // while the file is.
    unsafe {
        if (*f).f_op != FOPS.load(Ordering::Acquire).cast_const() {
            return None;
        }
        Some(DmaBuf::from_raw((*f).private_data.cast()))
    }
}

/// The buffer open as `fd` in the current task, with a new reference:
/// `EBADF` for a bad fd, `EINVAL` for a file that is not a dma-buf.
pub(crate) fn fget(fd: i32) -> Result<ARef<DmaBuf>> {
    // SAFETY: Any value may be passed; NULL comes back for a bad fd.
    let file = unsafe { bindings::fget(fd as u32) };
    if file.is_null() {
        return Err(EBADF);
    }
    // SAFETY: `fget` returned a valid file with a new reference, which
    // passes to the `ARef` (our files are not opened `FMODE_ATOMIC_POS`).
    let file: ARef<File> =
        unsafe { ARef::from_raw(core::ptr::NonNull::new_unchecked(file.cast())) };
    let buf = core::ptr::NonNull::from(dma_buf_of(&file).ok_or(EINVAL)?);
    core::mem::forget(file);
    // SAFETY: The file reference is the buffer's reference.
    Ok(unsafe { ARef::from_raw(buf) })
}

/// The operation tables of `T`.
struct FileTable<T>(core::marker::PhantomData<T>);

impl<T: FileOps> FileTable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        release: Some(release::<T>),
        mmap: Some(mmap::<T>),
        llseek: Some(llseek::<T>),
        poll: Some(poll::<T>),
        unlocked_ioctl: Some(ioctl::<T>),
        compat_ioctl: bindings::compat_ptr_ioctl,
        show_fdinfo: Some(show_fdinfo::<T>),
        ..pin_init::zeroed()
    };

    const DOPS: bindings::dentry_operations = bindings::dentry_operations {
        d_dname: Some(d_dname::<T>),
        d_release: Some(d_release::<T>),
        ..pin_init::zeroed()
    };
}

/// `init_fs_context` of the file system type.
///
/// # Safety
///
/// The VFS calls this with a valid new `fs_context`.
unsafe extern "C" fn init_fs_context<T: FileOps>(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: A valid context; `DMA_BUF_MAGIC` is the upstream magic; the
    // table is static.
    unsafe {
        glue::dmabuf_rs_init_pseudo(
            fc,
            bindings::DMA_BUF_MAGIC as c_ulong,
            &FileTable::<T>::DOPS,
        )
    }
}

/// The buffer behind a file of ours.
///
/// # Safety
///
/// `file` must be a valid file created by [`new_file`].
unsafe fn buf_of<'a>(file: *mut bindings::file) -> &'a DmaBuf {
    // SAFETY: Our files' private data is their buffer, alive while they are.
    unsafe { DmaBuf::from_raw((*file).private_data.cast()) }
}

/// # Safety
///
/// The VFS calls this once per file, with a valid file of ours.
unsafe extern "C" fn release<T: FileOps>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: A valid file of ours, whose buffer lives until its dentry's
    // release; the file's count is zero, hence the unrefcounted type.
    T::release(unsafe { DyingDmaBuf::from_raw((*file).private_data.cast()) });
    0
}

/// # Safety
///
/// The VFS calls this with a valid file of ours and a VMA being set up.
unsafe extern "C" fn mmap<T: FileOps>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: A valid file of ours; the VMA is undergoing initial set-up.
    let r = unsafe { T::mmap(buf_of(file), VmaNew::from_raw(vma)) };
    r.err().map_or(0, |e| e.to_errno())
}

/// # Safety
///
/// The VFS calls this with a valid file of ours.
unsafe extern "C" fn llseek<T: FileOps>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: A valid file of ours.
    match T::llseek(unsafe { buf_of(file) }, offset, whence) {
        Ok(pos) => pos,
        Err(e) => e.to_errno().into(),
    }
}

/// # Safety
///
/// The VFS calls this with a valid file of ours and a NULL or valid table.
unsafe extern "C" fn poll<T: FileOps>(
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
) -> c_uint {
    // SAFETY: A valid file of ours, valid for the call; `pt` is NULL or valid.
    unsafe {
        T::poll(
            buf_of(file),
            File::from_raw_file(file),
            &PollRequest::from_raw(pt),
        )
    }
}

/// # Safety
///
/// The VFS calls this with a valid file of ours.
unsafe extern "C" fn ioctl<T: FileOps>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: A valid file of ours.
    match T::ioctl(unsafe { buf_of(file) }, cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// The VFS calls this with a valid seq_file and a valid file of ours.
unsafe extern "C" fn show_fdinfo<T: FileOps>(
    m: *mut bindings::seq_file,
    file: *mut bindings::file,
) {
    // SAFETY: Valid for the call.
    unsafe {
        T::show_fdinfo(
            buf_of(file),
            File::from_raw_file(file),
            SeqFile::from_raw(m),
        )
    };
}

/// # Safety
///
/// The VFS calls this with a valid dentry of ours, whose `d_fsdata` is a
/// live buffer, and `buffer` valid for `buflen` bytes.
unsafe extern "C" fn d_dname<T: FileOps>(
    dentry: *mut bindings::dentry,
    buffer: *mut c_char,
    buflen: c_int,
) -> *mut c_char {
    // SAFETY: The dentry is valid; its buffer is freed only in its
    // `d_release`. The file may be gone (an `O_PATH` open holds the dentry).
    let buf = unsafe { DyingDmaBuf::from_raw((*dentry).d_fsdata.cast()) };
    // SAFETY: The dentry's name is a valid string while the dentry lives.
    let base = unsafe { CStr::from_char_ptr((*dentry).__bindgen_anon_1.d_name.name.cast()) };
    // At most 64 bytes with the NUL, like `dynamic_dname`.
    let mut tmp = [0u8; 64];
    let len = match T::dname(buf, base.to_bytes(), &mut tmp[..63]) {
        Ok(len) => len,
        Err(e) => return e.to_ptr(),
    };
    let sz = len + 1;
    if sz > buflen as usize {
        return ENAMETOOLONG.to_ptr();
    }
    // SAFETY: The VFS gives `buflen` bytes; the name and its NUL go at the end.
    unsafe {
        let out = buffer.add(buflen as usize - sz);
        core::ptr::copy_nonoverlapping(tmp.as_ptr(), out.cast::<u8>(), sz);
        out
    }
}

/// # Safety
///
/// The VFS calls this once, with a dying dentry of ours.
unsafe extern "C" fn d_release<T: FileOps>(dentry: *mut bindings::dentry) {
    // SAFETY: A valid dentry.
    let ptr: *mut bindings::dma_buf = unsafe { (*dentry).d_fsdata.cast() };
    if !ptr.is_null() {
        // SAFETY: The dentry is dying, nothing else can reach the buffer.
        unsafe { T::dentry_release(DyingDmaBuf::from_raw(ptr)) };
    }
}

/// The file's mode (`f_mode`).
pub(crate) fn f_mode(file: &File) -> u32 {
    // SAFETY: A valid file; `f_mode` does not change after open.
    unsafe { (*file.as_ptr()).f_mode }
}

/// The file's inode number.
pub(crate) fn ino(file: &File) -> u64 {
    // SAFETY: A valid file and its inode, constant after open.
    unsafe { (*(*file.as_ptr()).f_inode).i_ino }
}

/// Installs `file` at an fd that a C caller reserved (`dma_buf_fd_install`);
/// Rust code uses `FileDescriptorReservation` instead.
///
/// # Safety
///
/// `fd` must be reserved in the current task and not yet installed.
pub(crate) unsafe fn fd_install_reserved(fd: u32, file: ARef<File>) {
    let f = ARef::into_raw(file);
    // SAFETY: By the safety requirements; the reference passes to the table.
    unsafe { bindings::fd_install(fd, f.as_ptr().cast()) };
}
