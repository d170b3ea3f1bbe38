// SPDX-License-Identifier: GPL-2.0
//! The C ABI of the core: the exported `dma_buf_*` functions, the dma-buf
//! file operations and the dentry operations.
//!
//! Each function converts its arguments, runs the contract checks that C
//! callers are not held to by types (`WARN_ON` on NULL, lock assertions),
//! and calls into the typed object model.

use super::fence::Fence;
use super::object::{self, Attachment, DmaBuf, ExportInfo};
use super::resv::{ResvHeld, Usage};
use super::{sgt, vfs};
use crate::uapi::*;
use kernel::bindings;
use kernel::error::{from_err_ptr, to_result};
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

const EPOLLIN: c_uint = 0x1;
const EPOLLOUT: c_uint = 0x4;
const EPOLLERR: c_uint = 0x8;
const SEEK_SET: c_int = 0;
const SEEK_END: c_int = 2;
const O_CLOEXEC: u32 = bindings::O_CLOEXEC;

struct Fops(bindings::file_operations);
// SAFETY: An immutable table of function pointers.
unsafe impl Sync for Fops {}

static FOPS: Fops = Fops(bindings::file_operations {
    release: Some(file_release),
    mmap: Some(file_mmap),
    llseek: Some(file_llseek),
    poll: Some(file_poll),
    unlocked_ioctl: Some(file_ioctl),
    compat_ioctl: bindings::compat_ptr_ioctl,
    show_fdinfo: Some(file_show_fdinfo),
    // SAFETY: All-zero is a valid `file_operations` (no other operation).
    ..unsafe { core::mem::zeroed() }
});

/// The dma-buf file operations; `dma_buf_get` accepts exactly files that
/// use this table.
pub(crate) fn fops() -> &'static bindings::file_operations {
    &FOPS.0
}

#[repr(transparent)]
// Read by the C side only (glue.c), through the symbol.
#[allow(dead_code)]
struct Dops(bindings::dentry_operations);
// SAFETY: An immutable table of function pointers.
unsafe impl Sync for Dops {}

/// Dentry operations of the pseudo file system (referenced from glue.c).
#[no_mangle]
static dmabuf_rs_dentry_ops: Dops = Dops(bindings::dentry_operations {
    d_dname: Some(dentry_dname),
    d_release: Some(dentry_release),
    // SAFETY: All-zero is a valid `dentry_operations`.
    ..unsafe { core::mem::zeroed() }
});

/// The buffer behind a file of ours, or `None` for any other file.
///
/// # Safety
///
/// `file` must be valid.
pub(crate) unsafe fn buf_of_file<'a>(file: *mut bindings::file) -> Option<&'a DmaBuf> {
    // SAFETY: `file` is valid by the safety requirements; our files'
    // private data is the buffer, alive while the file is.
    unsafe {
        if !core::ptr::eq((*file).f_op, fops()) {
            return None;
        }
        Some(DmaBuf::from_raw((*file).private_data.cast()))
    }
}

// ---------------------------------------------------------------------
// Dentry and file operations.

/// `d_dname`: writes `/<base>:<name>` at the end of `buffer`.
///
/// # Safety
///
/// The VFS calls this with a valid dentry of our pseudo file system, whose
/// `d_fsdata` is a live buffer, and with `buffer` valid for writes of
/// `buflen` bytes.
unsafe extern "C" fn dentry_dname(
    dentry: *mut bindings::dentry,
    buffer: *mut c_char,
    buflen: c_int,
) -> *mut c_char {
    // SAFETY: The VFS passes a valid dentry; `d_fsdata` is the buffer,
    // freed only in `d_release` of this very dentry.
    let buf = unsafe { DmaBuf::from_raw((*dentry).d_fsdata.cast()) };
    let mut name = [0u8; DMA_BUF_NAME_LEN];
    let len = buf.copy_name(&mut name).unwrap_or(0);
    // SAFETY: The dentry's name is a valid string while the dentry lives.
    let base =
        unsafe { CStr::from_char_ptr((*dentry).__bindgen_anon_1.d_name.name.cast()) }.to_bytes();
    // "/<base>:<name>" with its NUL, at most 64 bytes, like `dynamic_dname`.
    let mut tmp = [0u8; 64];
    let parts: [&[u8]; 4] = [b"/", base, b":", &name[..len]];
    let mut sz = 0;
    for part in parts {
        let Some(dst) = tmp.get_mut(sz..sz + part.len()) else {
            return ENAMETOOLONG.to_ptr();
        };
        dst.copy_from_slice(part);
        sz += part.len();
    }
    sz += 1; // The NUL (`tmp` is zeroed).
    if sz > tmp.len() || sz > buflen as usize {
        return ENAMETOOLONG.to_ptr();
    }
    // SAFETY: The VFS gives a buffer of `buflen` bytes; the name goes at
    // its end, as the VFS expects from `d_dname`.
    unsafe {
        let out = buffer.add(buflen as usize - sz);
        core::ptr::copy_nonoverlapping(tmp.as_ptr(), out.cast::<u8>(), sz);
        out
    }
}

/// `d_release`: releases the buffer behind a dying dentry.
///
/// # Safety
///
/// The VFS calls this once, with a valid dentry of our pseudo file system
/// that nothing else can reach any more.
unsafe extern "C" fn dentry_release(dentry: *mut bindings::dentry) {
    // SAFETY: Valid dentry from the VFS.
    let ptr: *mut bindings::dma_buf = unsafe { (*dentry).d_fsdata.cast() };
    if ptr.is_null() {
        // File creation failed before the buffer was attached.
        return;
    }
    // SAFETY: The dentry is dying; nothing else can reach the buffer.
    unsafe { DmaBuf::release(ptr) };
}

/// `release` of a dma-buf file: the last file reference is gone.
///
/// # Safety
///
/// The VFS calls this once, with a valid file that uses our operations.
unsafe extern "C" fn file_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The VFS passes a valid file.
    match unsafe { buf_of_file(file) } {
        Some(buf) => {
            buf.file_released();
            0
        }
        None => EINVAL.to_errno(),
    }
}

/// `mmap` of a dma-buf file: checks the range and calls the exporter.
///
/// # Safety
///
/// The VFS calls this with a valid file and a valid VMA that is being set
/// up for it, with the mmap lock held.
unsafe extern "C" fn file_mmap(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: The VFS passes a valid file.
    let Some(buf) = (unsafe { buf_of_file(file) }) else {
        return EINVAL.to_errno();
    };
    let Some(mmap) = buf.ops().mmap else {
        return EINVAL.to_errno();
    };
    // SAFETY: `vma` is valid during the call.
    let (pgoff, pages) = unsafe { ((*vma).vm_pgoff, super::dmabuf_rs_vma_pages(vma)) };
    let limit = (buf.size() >> bindings::PAGE_SHIFT) as c_ulong;
    if pgoff.checked_add(pages).is_none_or(|end| end > limit) {
        return EINVAL.to_errno();
    }
    // SAFETY: Exporter callback with a valid buffer and vma.
    unsafe { mmap(buf.as_raw(), vma) }
}

/// `llseek` of a dma-buf file: only `SEEK_SET` and `SEEK_END` to offset 0.
///
/// # Safety
///
/// The VFS calls this with a valid file.
unsafe extern "C" fn file_llseek(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: The VFS passes a valid file.
    let Some(buf) = (unsafe { buf_of_file(file) }) else {
        return bindings::loff_t::from(EBADF.to_errno());
    };
    let base = match whence {
        SEEK_END => buf.size() as bindings::loff_t,
        SEEK_SET => 0,
        _ => return bindings::loff_t::from(EINVAL.to_errno()),
    };
    if offset != 0 {
        return bindings::loff_t::from(EINVAL.to_errno());
    }
    base
}

/// Fence callback of an armed poll slot: wakes the pollers and drops the
/// file reference the slot held.
///
/// # Safety
///
/// `cb` must be the `cb` field of a claimed poll slot of a live buffer,
/// whose arming took a file reference that this call consumes, and `fence`
/// must be NULL or a fence reference that this call consumes.
unsafe extern "C" fn poll_fence_cb(
    fence: *mut bindings::dma_fence,
    cb: *mut bindings::dma_fence_cb,
) {
    // SAFETY: `cb` is the first field of a `dma_buf_poll_cb_t` inside a
    // live buffer: the armed callback holds a file reference.
    unsafe {
        let dcb = cb.cast::<bindings::dma_buf_dma_buf_poll_cb_t>();
        let wq = (*dcb).poll;
        let buf = wq
            .byte_sub(core::mem::offset_of!(bindings::dma_buf, poll))
            .cast::<bindings::dma_buf>();
        let file = (*buf).file;
        super::dmabuf_rs_poll_wake(wq, core::ptr::addr_of_mut!((*dcb).active));
        super::dmabuf_rs_fence_put(fence);
        DmaBuf::put_file_ref(file);
    }
}

/// Arms one poll slot for `event`; returns whether the event is ready now.
fn poll_arm(
    buf: &DmaBuf,
    held: &ResvHeld<'_>,
    dcb: *mut bindings::dma_buf_dma_buf_poll_cb_t,
    event: c_uint,
) -> bool {
    let (wq, _, _) = buf.poll_parts();
    // SAFETY: `dcb` and `wq` belong to the live buffer.
    if !unsafe { super::dmabuf_rs_poll_claim(wq, core::ptr::addr_of_mut!((*dcb).active), event) } {
        // A callback is already armed: not ready.
        return false;
    }
    // The armed callback owns a file reference, dropped when it runs.
    buf.get_file_ref();
    // SAFETY: The slot is claimed by us and stays valid (file reference).
    let armed = unsafe {
        buf.resv().add_callback_on_first_pending(
            held,
            Usage::for_access(event == EPOLLOUT),
            core::ptr::addr_of_mut!((*dcb).cb),
            Some(poll_fence_cb),
        )
    };
    if !armed {
        // No pending fence: complete at once.
        // SAFETY: As if a (NULL) fence had signalled.
        unsafe { poll_fence_cb(core::ptr::null_mut(), core::ptr::addr_of_mut!((*dcb).cb)) };
        return true;
    }
    false
}

/// `poll` of a dma-buf file: arms fence callbacks for the requested events.
///
/// # Safety
///
/// The VFS calls this with a valid file and with `pt` valid or NULL.
unsafe extern "C" fn file_poll(
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
) -> c_uint {
    // SAFETY: The VFS passes a valid file.
    let Some(buf) = (unsafe { buf_of_file(file) }) else {
        return EPOLLERR;
    };
    let (wq, cb_in, cb_out) = buf.poll_parts();
    // SAFETY: Valid file, wait queue and poll table.
    unsafe { bindings::poll_wait(file, wq, pt) };
    // SAFETY: `pt` is valid or NULL, as the helper allows.
    let mut events = unsafe { super::dmabuf_rs_poll_requested_events(pt) } & (EPOLLIN | EPOLLOUT);
    if events == 0 {
        return 0;
    }
    let guard = buf.resv().lock();
    if events & EPOLLOUT != 0 && !poll_arm(buf, &guard, cb_out, EPOLLOUT) {
        events &= !EPOLLOUT;
    }
    if events & EPOLLIN != 0 && !poll_arm(buf, &guard, cb_in, EPOLLIN) {
        events &= !EPOLLIN;
    }
    events
}

/// `show_fdinfo` of a dma-buf file.
///
/// # Safety
///
/// The VFS calls this with a valid seq_file and a valid file.
unsafe extern "C" fn file_show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: The VFS passes a valid file.
    let Some(buf) = (unsafe { buf_of_file(file) }) else {
        return;
    };
    // SAFETY: `m` is valid for the duration of the call.
    let m = unsafe { kernel::seq_file::SeqFile::from_raw(m) };
    let mut name = [0u8; DMA_BUF_NAME_LEN];
    let len = buf.copy_name(&mut name);
    // SAFETY: The file is valid.
    let count = unsafe { vfs::file_count(file) } - 1;
    kernel::seq_print!(m, "size:\t{}\n", buf.size());
    kernel::seq_print!(m, "count:\t{}\n", count);
    kernel::seq_print!(m, "exp_name:\t{}\n", buf.exp_name().to_str().unwrap_or("?"));
    if let Some(len) = len {
        let s = core::str::from_utf8(&name[..len]).unwrap_or("?");
        kernel::seq_print!(m, "name:\t{}\n", s);
    }
}

/// `unlocked_ioctl` of a dma-buf file.
///
/// # Safety
///
/// The VFS calls this with a valid file.
unsafe extern "C" fn file_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: The VFS passes a valid file.
    let Some(buf) = (unsafe { buf_of_file(file) }) else {
        return ENOTTY.to_errno() as c_long;
    };
    match crate::ioctl::dispatch(buf, cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

// ---------------------------------------------------------------------
// Operations the ioctl layer needs.

/// `SET_NAME`: copies at most `DMA_BUF_NAME_LEN` bytes from userspace.
pub(crate) fn set_name_from_user(buf: &DmaBuf, uptr: usize) -> Result {
    // SAFETY: `strndup_user` checks the user pointer itself.
    let name = unsafe { bindings::strndup_user(uptr as *const c_char, DMA_BUF_NAME_LEN as c_long) };
    let name = from_err_ptr(name)?;
    // SAFETY: A kmalloc'ed NUL-terminated string; ownership passes.
    unsafe { buf.replace_name(name) };
    Ok(())
}

/// `EXPORT_SYNC_FILE`.
pub(crate) fn export_sync_file(buf: &DmaBuf, uptr: usize) -> Result {
    let (mut reader, mut writer) = UserSlice::new(
        UserPtr::from_addr(uptr),
        core::mem::size_of::<DmaBufExportSyncFile>(),
    )
    .reader_writer();
    let mut arg: DmaBufExportSyncFile = reader.read()?;
    let flags = u64::from(arg.flags);
    if flags & !DMA_BUF_SYNC_RW != 0 || flags & DMA_BUF_SYNC_RW == 0 {
        return Err(EINVAL);
    }
    let fd = vfs::reserve_fd(O_CLOEXEC)?;
    let result = (|| {
        let fence = buf
            .resv()
            .get_singleton(Usage::for_access(flags & DMA_BUF_SYNC_WRITE != 0))?
            .unwrap_or_else(Fence::stub);
        let sync_file = fence.to_sync_file()?;
        arg.fd = fd;
        if let Err(e) = writer.write(&arg) {
            // SAFETY: We own the only reference of the new file.
            unsafe { vfs::fput(sync_file) };
            return Err(e);
        }
        Ok(sync_file)
    })();
    match result {
        Ok(file) => {
            // SAFETY: `fd` is reserved; the reference passes to the table.
            unsafe { vfs::fd_install(fd, file) };
            Ok(())
        }
        Err(e) => {
            vfs::put_reserved_fd(fd);
            Err(e)
        }
    }
}

/// `IMPORT_SYNC_FILE`.
pub(crate) fn import_sync_file(buf: &DmaBuf, uptr: usize) -> Result {
    let mut reader = UserSlice::new(
        UserPtr::from_addr(uptr),
        core::mem::size_of::<DmaBufImportSyncFile>(),
    )
    .reader();
    let arg: DmaBufImportSyncFile = reader.read()?;
    let flags = u64::from(arg.flags);
    if flags & !DMA_BUF_SYNC_RW != 0 || flags & DMA_BUF_SYNC_RW == 0 {
        return Err(EINVAL);
    }
    let fence = Fence::from_sync_file(arg.fd).ok_or(EINVAL)?;
    let usage = if flags & DMA_BUF_SYNC_WRITE != 0 {
        Usage::Write
    } else {
        Usage::Read
    };
    let mut n = 0u32;
    fence.for_each_unwrapped(|_| n += 1);
    if n == 0 {
        return Ok(());
    }
    let resv = buf.resv();
    let guard = resv.lock();
    resv.reserve_fences(&guard, n)?;
    fence.for_each_unwrapped(|leaf| {
        // SAFETY: `leaf` is kept alive by `fence`; `add_fence` takes its own
        // reference, so the borrowed wrapper must not drop one.
        let leaf = core::mem::ManuallyDrop::new(unsafe { Fence::from_raw_owned(leaf) });
        if let Some(leaf) = leaf.as_ref() {
            resv.add_fence(&guard, leaf, usage);
        }
    });
    Ok(())
}

// ---------------------------------------------------------------------
// The exported API (the EXPORT_SYMBOL lines are in glue.c).

/// Converts a `Result` into 0 or a negative errno for C.
fn errno_of(r: Result) -> c_int {
    r.err().map_or(0, |e| e.to_errno())
}

/// Converts a `Result<*mut T>` into an `ERR_PTR`-style pointer.
fn to_err_ptr<T>(r: Result<*mut T>) -> *mut T {
    r.unwrap_or_else(|e| e.to_ptr())
}

/// `dma_buf_export`: creates a new dma-buf from an exporter's info.
///
/// # Safety
///
/// `info` must be NULL or point to a valid `dma_buf_export_info` for the
/// duration of the call, whose fields follow the C API's contract.
#[no_mangle]
unsafe extern "C" fn dma_buf_export(
    info: *const bindings::dma_buf_export_info,
) -> *mut bindings::dma_buf {
    if kernel::warn_on!(info.is_null()) {
        return EINVAL.to_ptr();
    }
    // SAFETY: Checked non-NULL; valid for the call by the C contract.
    let i = unsafe { &*info };
    let info = ExportInfo {
        exp_name: i.exp_name,
        owner: i.owner,
        ops: i.ops,
        size: i.size,
        flags: i.flags,
        resv: i.resv,
        priv_: i.priv_,
    };
    to_err_ptr(DmaBuf::export(&info).map(|b| b.as_raw()))
}

/// `dma_buf_fd`: installs the buffer's file in a new fd.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller owns a
/// reference; on success that reference passes to the fd table.
#[no_mangle]
unsafe extern "C" fn dma_buf_fd(dmabuf: *mut bindings::dma_buf, flags: c_int) -> c_int {
    // SAFETY: NULL or a live buffer the caller holds a reference on.
    if dmabuf.is_null() || unsafe { (*dmabuf).file }.is_null() {
        return EINVAL.to_errno();
    }
    let fd = match vfs::reserve_fd(flags as u32) {
        Ok(fd) => fd,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The caller's reference passes to the fd table.
    unsafe { vfs::fd_install(fd, (*dmabuf).file) };
    fd
}

/// `dma_buf_fd_install`: installs the buffer's file in a reserved fd.
///
/// # Safety
///
/// `dmabuf` must be a live buffer on which the caller owns a reference,
/// which passes to the fd table, and `fd` must be reserved and not yet
/// installed.
#[no_mangle]
unsafe extern "C" fn dma_buf_fd_install(dmabuf: *mut bindings::dma_buf, fd: c_int) {
    // SAFETY: By the C contract `fd` is reserved and the caller's
    // reference passes to the fd table.
    unsafe { vfs::fd_install(fd, (*dmabuf).file) };
}

/// `dma_buf_get`: the buffer open as `fd`, with a new reference.
///
/// # Safety
///
/// There are no requirements on the caller: any `fd` is accepted, and a
/// file that is not a dma-buf is rejected.
#[no_mangle]
unsafe extern "C" fn dma_buf_get(fd: c_int) -> *mut bindings::dma_buf {
    let Some(file) = vfs::fget(fd) else {
        return EBADF.to_ptr();
    };
    // SAFETY: `fget` returned a valid file with a reference.
    match unsafe { buf_of_file(file) } {
        Some(buf) => buf.as_raw(),
        None => {
            // SAFETY: Drops the reference `fget` took.
            unsafe { vfs::fput(file) };
            EINVAL.to_ptr()
        }
    }
}

/// `dma_buf_put`: drops a buffer reference.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller owns a
/// reference, which this call consumes.
#[no_mangle]
unsafe extern "C" fn dma_buf_put(dmabuf: *mut bindings::dma_buf) {
    let invalid = dmabuf.is_null()
        // SAFETY: `dmabuf` is not NULL, so it is a buffer on which the
        // caller owns a reference.
        || unsafe { (*dmabuf).file }.is_null();
    if kernel::warn_on!(invalid) {
        return;
    }
    // SAFETY: `dmabuf` is not NULL, so it is a buffer on which the caller
    // owns a reference; that reference passes to `fput`.
    unsafe { vfs::fput((*dmabuf).file) };
}

/// `dma_buf_dynamic_attach`: attaches `dev` to the buffer.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller holds a
/// reference, `dev` must be NULL or a valid device, and `importer_ops`
/// must be NULL or a valid ops table that outlives the attachment.
#[no_mangle]
unsafe extern "C" fn dma_buf_dynamic_attach(
    dmabuf: *mut bindings::dma_buf,
    dev: *mut bindings::device,
    importer_ops: *const bindings::dma_buf_attach_ops,
    importer_priv: *mut c_void,
) -> *mut bindings::dma_buf_attachment {
    if kernel::warn_on!(dmabuf.is_null() || dev.is_null()) {
        return EINVAL.to_ptr();
    }
    // SAFETY: A live buffer the caller holds a reference on.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    to_err_ptr(buf.attach(dev, importer_ops, importer_priv))
}

/// `dma_buf_attach`: attaches `dev` as a static importer.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller holds a
/// reference, and `dev` must be NULL or a valid device.
#[no_mangle]
unsafe extern "C" fn dma_buf_attach(
    dmabuf: *mut bindings::dma_buf,
    dev: *mut bindings::device,
) -> *mut bindings::dma_buf_attachment {
    // SAFETY: Same contract, no importer ops: a static importer.
    unsafe { dma_buf_dynamic_attach(dmabuf, dev, core::ptr::null(), core::ptr::null_mut()) }
}

/// `dma_buf_detach`: removes an attachment from its buffer.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer, and `attach` must be NULL or a
/// live attachment, which this call frees when it belongs to `dmabuf`.
#[no_mangle]
unsafe extern "C" fn dma_buf_detach(
    dmabuf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) {
    let invalid = dmabuf.is_null()
        || attach.is_null()
        // SAFETY: `attach` is not NULL, so it is a live attachment by the C
        // contract.
        || unsafe { (*attach).dmabuf } != dmabuf;
    if kernel::warn_on!(invalid) {
        return;
    }
    // SAFETY: Both are not NULL, so by the C contract `dmabuf` is a live
    // buffer and `attach` one of its live attachments.
    unsafe { DmaBuf::from_raw(dmabuf).detach(attach) };
}

/// The common entry check of map and unmap: may sleep, and a NULL
/// attachment or one without a buffer is a caller bug (`WARN`).
///
/// # Safety
///
/// `attach` must be NULL or a live attachment.
unsafe fn checked_attachment<'a>(
    attach: *mut bindings::dma_buf_attachment,
) -> Option<&'a Attachment> {
    kernel::task::might_sleep();
    let invalid = attach.is_null()
        // SAFETY: `attach` is not NULL, so it is a live attachment by the
        // safety requirements.
        || unsafe { (*attach).dmabuf }.is_null();
    if kernel::warn_on!(invalid) {
        return None;
    }
    // SAFETY: Checked above; live by the safety requirements.
    Some(unsafe { Attachment::from_raw(attach) })
}

/// The attachment and its buffer's held resv lock, after checking the C
/// caller holds it.
///
/// # Safety
///
/// `attach` must be a live attachment whose buffer's lock the caller holds.
unsafe fn locked_attachment<'a>(
    attach: *mut bindings::dma_buf_attachment,
) -> (&'a Attachment, ResvHeld<'a>) {
    // SAFETY: By the safety requirements.
    let a = unsafe { Attachment::from_raw(attach) };
    // SAFETY: By the safety requirements the caller holds the lock.
    let held = unsafe { a.dma_buf().resv().assume_held() };
    (a, held)
}

/// `dma_buf_pin`: pins the buffer for a dynamic importer.
///
/// # Safety
///
/// `attach` must be a live attachment whose buffer's reservation lock the
/// caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_pin(attach: *mut bindings::dma_buf_attachment) -> c_int {
    // SAFETY: C contract: a live attachment, resv held.
    let (a, held) = unsafe { locked_attachment(attach) };
    kernel::warn_on!(!a.is_dynamic());
    errno_of(crate::attachment::pin(a, &held))
}

/// `dma_buf_unpin`: undoes [`dma_buf_pin`].
///
/// # Safety
///
/// `attach` must be a live attachment whose buffer's reservation lock the
/// caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_unpin(attach: *mut bindings::dma_buf_attachment) {
    // SAFETY: C contract: a live attachment, resv held.
    let (a, held) = unsafe { locked_attachment(attach) };
    kernel::warn_on!(!a.is_dynamic());
    crate::attachment::unpin(a, &held);
}

/// `dma_buf_map_attachment`: maps the buffer for the attached device.
///
/// # Safety
///
/// `attach` must be NULL or a live attachment; if it is not NULL, the
/// caller must hold its buffer's reservation lock.
#[no_mangle]
unsafe extern "C" fn dma_buf_map_attachment(
    attach: *mut bindings::dma_buf_attachment,
    dir: RawDirection,
) -> *mut bindings::sg_table {
    // SAFETY: NULL or a live attachment by the C contract.
    let Some(a) = (unsafe { checked_attachment(attach) }) else {
        return EINVAL.to_ptr();
    };
    // SAFETY: C contract: the caller holds the resv lock.
    let held = unsafe { a.dma_buf().resv().assume_held() };
    to_err_ptr(crate::attachment::map(a, &held, dir))
}

/// `dma_buf_map_attachment_unlocked`: as [`dma_buf_map_attachment`], taking
/// the reservation lock itself.
///
/// # Safety
///
/// `attach` must be NULL or a live attachment whose buffer's reservation
/// lock the caller does not hold.
#[no_mangle]
unsafe extern "C" fn dma_buf_map_attachment_unlocked(
    attach: *mut bindings::dma_buf_attachment,
    dir: RawDirection,
) -> *mut bindings::sg_table {
    // SAFETY: NULL or a live attachment by the C contract.
    let Some(a) = (unsafe { checked_attachment(attach) }) else {
        return EINVAL.to_ptr();
    };
    let guard = a.dma_buf().resv().lock();
    to_err_ptr(crate::attachment::map(a, &guard, dir))
}

/// `dma_buf_unmap_attachment`: undoes [`dma_buf_map_attachment`].
///
/// # Safety
///
/// `attach` must be NULL or a live attachment; if it is not NULL, the
/// caller must hold its buffer's reservation lock, and `table` must be NULL
/// or come from mapping `attach` and not be used afterwards.
#[no_mangle]
unsafe extern "C" fn dma_buf_unmap_attachment(
    attach: *mut bindings::dma_buf_attachment,
    table: *mut bindings::sg_table,
    dir: RawDirection,
) {
    // SAFETY: NULL or a live attachment by the C contract.
    let Some(a) = (unsafe { checked_attachment(attach) }) else {
        return;
    };
    if kernel::warn_on!(table.is_null()) {
        return;
    }
    // SAFETY: C contract: resv held, `table` from a map of this attachment.
    unsafe {
        let held = a.dma_buf().resv().assume_held();
        crate::attachment::unmap(a, &held, table, dir);
    }
}

/// `dma_buf_unmap_attachment_unlocked`: as [`dma_buf_unmap_attachment`],
/// taking the reservation lock itself.
///
/// # Safety
///
/// `attach` must be NULL or a live attachment whose buffer's reservation
/// lock the caller does not hold, and `table` must be NULL or come from
/// mapping `attach` and not be used afterwards.
#[no_mangle]
unsafe extern "C" fn dma_buf_unmap_attachment_unlocked(
    attach: *mut bindings::dma_buf_attachment,
    table: *mut bindings::sg_table,
    dir: RawDirection,
) {
    // SAFETY: NULL or a live attachment by the C contract.
    let Some(a) = (unsafe { checked_attachment(attach) }) else {
        return;
    };
    if kernel::warn_on!(table.is_null()) {
        return;
    }
    let guard = a.dma_buf().resv().lock();
    // SAFETY: `table` came from mapping this attachment.
    unsafe { crate::attachment::unmap(a, &guard, table, dir) };
}

/// `dma_buf_attach_revocable`: whether the importer can revoke its access.
///
/// # Safety
///
/// `attach` must be a live attachment.
#[no_mangle]
unsafe extern "C" fn dma_buf_attach_revocable(attach: *mut bindings::dma_buf_attachment) -> bool {
    // SAFETY: A live attachment by the C contract.
    unsafe { Attachment::from_raw(attach) }.is_revocable()
}

/// `dma_buf_invalidate_mappings`: tells the importers to drop their mappings.
///
/// # Safety
///
/// `dmabuf` must be a live buffer whose reservation lock the caller (the
/// exporter) holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_invalidate_mappings(dmabuf: *mut bindings::dma_buf) {
    // SAFETY: A live buffer whose resv the exporter holds.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    // SAFETY: As above.
    let held = unsafe { buf.resv().assume_held() };
    buf.for_each_attachment(&held, |a| a.invalidate(&held));
}

/// `dma_buf_begin_cpu_access`: starts a CPU access bracket.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller holds a
/// reference; the caller must not hold its reservation lock.
#[no_mangle]
unsafe extern "C" fn dma_buf_begin_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    dir: RawDirection,
) -> c_int {
    if kernel::warn_on!(dmabuf.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: A live buffer by the C contract.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    errno_of(crate::cpu_access::begin(buf, dir))
}

/// `dma_buf_end_cpu_access`: ends a CPU access bracket.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller holds a
/// reference; the caller must not hold its reservation lock.
#[no_mangle]
unsafe extern "C" fn dma_buf_end_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    dir: RawDirection,
) -> c_int {
    if kernel::warn_on!(dmabuf.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: A live buffer by the C contract.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    errno_of(crate::cpu_access::end(buf, dir))
}

/// `dma_buf_mmap`: maps the buffer into a VMA that another file set up.
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer on which the caller holds a
/// reference, and `vma` must be NULL or a valid VMA being set up under the
/// mmap lock.
#[no_mangle]
unsafe extern "C" fn dma_buf_mmap(
    dmabuf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
    pgoff: c_ulong,
) -> c_int {
    if kernel::warn_on!(dmabuf.is_null() || vma.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: A live buffer by the C contract.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    let Some(mmap) = buf.ops().mmap else {
        return EINVAL.to_errno();
    };
    // SAFETY: `vma` is valid during the call.
    let pages = unsafe { super::dmabuf_rs_vma_pages(vma) };
    let Some(end) = pgoff.checked_add(pages) else {
        return EOVERFLOW.to_errno();
    };
    if end > (buf.size() >> bindings::PAGE_SHIFT) as c_ulong {
        return EINVAL.to_errno();
    }
    // SAFETY: The vma is being set up by the caller; it now maps our file.
    unsafe {
        bindings::vma_set_file(vma, buf.file());
        (*vma).vm_pgoff = pgoff;
        mmap(dmabuf, vma)
    }
}

/// `dma_buf_vmap`: maps the buffer into the kernel address space.
///
/// # Safety
///
/// `map` must be valid for writes; `dmabuf` must be NULL or a live buffer
/// whose reservation lock the caller holds.
#[no_mangle]
unsafe extern "C" fn dma_buf_vmap(
    dmabuf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) -> c_int {
    // SAFETY: `map` is a valid out parameter by the C contract.
    unsafe { *map = crate::vmap::CLEARED };
    if kernel::warn_on!(dmabuf.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: A live buffer whose resv the caller holds.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    // SAFETY: As above.
    let held = unsafe { buf.resv().assume_held() };
    match crate::vmap::vmap(buf, &held) {
        // SAFETY: Valid out parameter.
        Ok(m) => unsafe {
            *map = m;
            0
        },
        Err(e) => e.to_errno(),
    }
}

/// `dma_buf_vmap_unlocked`: as [`dma_buf_vmap`], taking the reservation lock
/// itself.
///
/// # Safety
///
/// `map` must be valid for writes; `dmabuf` must be NULL or a live buffer
/// whose reservation lock the caller does not hold.
#[no_mangle]
unsafe extern "C" fn dma_buf_vmap_unlocked(
    dmabuf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) -> c_int {
    // SAFETY: `map` is a valid out parameter by the C contract.
    unsafe { *map = crate::vmap::CLEARED };
    if kernel::warn_on!(dmabuf.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: A live buffer.
    let buf = unsafe { DmaBuf::from_raw(dmabuf) };
    let guard = buf.resv().lock();
    match crate::vmap::vmap(buf, &guard) {
        // SAFETY: Valid out parameter.
        Ok(m) => unsafe {
            *map = m;
            0
        },
        Err(e) => e.to_errno(),
    }
}

/// `dma_buf_vunmap`: undoes [`dma_buf_vmap`].
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer whose reservation lock the caller
/// holds, and `map` must be NULL or a mapping that `dma_buf_vmap` returned
/// for it.
#[no_mangle]
unsafe extern "C" fn dma_buf_vunmap(dmabuf: *mut bindings::dma_buf, map: *mut bindings::iosys_map) {
    if kernel::warn_on!(dmabuf.is_null() || map.is_null()) {
        return;
    }
    // SAFETY: A live buffer whose resv the caller holds; `map` is valid.
    unsafe {
        let buf = DmaBuf::from_raw(dmabuf);
        let held = buf.resv().assume_held();
        crate::vmap::vunmap(buf, &held, &*map);
    }
}

/// `dma_buf_vunmap_unlocked`: undoes [`dma_buf_vmap_unlocked`].
///
/// # Safety
///
/// `dmabuf` must be NULL or a live buffer whose reservation lock the caller
/// does not hold, and `map` must be NULL or a mapping that
/// `dma_buf_vmap_unlocked` returned for it.
#[no_mangle]
unsafe extern "C" fn dma_buf_vunmap_unlocked(
    dmabuf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) {
    if kernel::warn_on!(dmabuf.is_null() || map.is_null()) {
        return;
    }
    // SAFETY: A live buffer; `map` is valid.
    unsafe {
        let buf = DmaBuf::from_raw(dmabuf);
        let guard = buf.resv().lock();
        crate::vmap::vunmap(buf, &guard, &*map);
    }
}

// ---------------------------------------------------------------------
// Exporter callbacks, for the modules above this layer.

/// Calls the exporter's `map_dma_buf`.
pub(crate) fn op_map(
    a: &Attachment,
    _held: &ResvHeld<'_>,
    dir: RawDirection,
) -> Result<*mut bindings::sg_table> {
    let buf = a.dma_buf();
    let map = buf.ops().map_dma_buf.ok_or(EINVAL)?;
    // SAFETY: Mandatory op (checked at export), resv held.
    let t = unsafe { map(a.as_raw(), dir) };
    if t.is_null() {
        return Err(ENOMEM);
    }
    from_err_ptr(t)
}

/// Calls the exporter's `unmap_dma_buf`.
///
/// # Safety
///
/// `table` must come from [`op_map`] on `a`.
pub(crate) unsafe fn op_unmap(
    a: &Attachment,
    _held: &ResvHeld<'_>,
    table: *mut bindings::sg_table,
    dir: RawDirection,
) {
    if let Some(unmap) = a.dma_buf().ops().unmap_dma_buf {
        // SAFETY: By the safety requirements, resv held.
        unsafe { unmap(a.as_raw(), table, dir) };
    }
}

/// Calls the exporter's `pin` (if any).
pub(crate) fn op_pin(a: &Attachment, _held: &ResvHeld<'_>) -> Result {
    match a.dma_buf().ops().pin {
        // SAFETY: resv held, live attachment.
        Some(pin) => to_result(unsafe { pin(a.as_raw()) }),
        None => Ok(()),
    }
}

/// Calls the exporter's `unpin` (if any).
pub(crate) fn op_unpin(a: &Attachment, _held: &ResvHeld<'_>) {
    if let Some(unpin) = a.dma_buf().ops().unpin {
        // SAFETY: resv held, live attachment.
        unsafe { unpin(a.as_raw()) };
    }
}

/// Whether the exporter is dynamic (has `pin`).
pub(crate) fn exporter_pins(buf: &DmaBuf) -> bool {
    buf.ops().pin.is_some()
}

/// Calls `begin_cpu_access` / `end_cpu_access` of the exporter.
pub(crate) fn op_cpu_access(buf: &DmaBuf, dir: RawDirection, begin: bool) -> Result {
    let op = if begin {
        buf.ops().begin_cpu_access
    } else {
        buf.ops().end_cpu_access
    };
    match op {
        // SAFETY: Live buffer, resv not held (the convention for these ops).
        Some(f) => to_result(unsafe { f(buf.as_raw(), dir) }),
        None => Ok(()),
    }
}

/// Calls the exporter's `vmap`.
pub(crate) fn op_vmap(buf: &DmaBuf, _held: &ResvHeld<'_>) -> Result<bindings::iosys_map> {
    let vmap = buf.ops().vmap.ok_or(EINVAL)?;
    let mut map = crate::vmap::CLEARED;
    // SAFETY: Live buffer, resv held, valid out parameter.
    let ret = unsafe { vmap(buf.as_raw(), &mut map) };
    if kernel::warn_on!(ret != 0) {
        return Err(Error::from_errno(ret));
    }
    Ok(map)
}

/// Whether the exporter implements `vmap`.
pub(crate) fn has_vmap(buf: &DmaBuf) -> bool {
    buf.ops().vmap.is_some()
}

/// Calls the exporter's `vunmap` (if any).
pub(crate) fn op_vunmap(buf: &DmaBuf, _held: &ResvHeld<'_>, map: &bindings::iosys_map) {
    if let Some(vunmap) = buf.ops().vunmap {
        let mut m = *map;
        // SAFETY: Live buffer, resv held, `m` is the exporter's mapping.
        unsafe { vunmap(buf.as_raw(), &mut m) };
    }
}

/// Wraps and unwraps importer tables (DMABUF_DEBUG).
pub(crate) use sgt::{unwrap as unwrap_table, wrap as wrap_table};

// ---------------------------------------------------------------------
// debugfs.

/// The `show` callback of debugfs `dma_buf/bufinfo`.
///
/// # Safety
///
/// seq_file calls this with a valid `seq_file` that is being shown.
#[no_mangle]
unsafe extern "C" fn dmabuf_rs_bufinfo_show(
    s: *mut bindings::seq_file,
    _unused: *mut c_void,
) -> c_int {
    // SAFETY: seq_file passes a valid file being shown.
    let m = unsafe { kernel::seq_file::SeqFile::from_raw(s) };
    errno_of(crate::debugfs::show(m, s))
}

/// The `dma_buf` debugfs directory; removed on drop.
pub(crate) struct Debugfs(*mut bindings::dentry);

// SAFETY: A debugfs dentry may be removed from any thread.
unsafe impl Send for Debugfs {}
// SAFETY: No methods take `&self`.
unsafe impl Sync for Debugfs {}

impl Debugfs {
    /// Creates `dma_buf/bufinfo` (failures only lose the debug file).
    pub(crate) fn new() -> Self {
        // SAFETY: Called once at module init.
        Debugfs(unsafe { super::dmabuf_rs_debugfs_init() })
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        // SAFETY: NULL, an error pointer or our directory; all allowed.
        unsafe { bindings::debugfs_remove(self.0) };
    }
}

fn this_module() -> *mut bindings::module {
    <crate::LocalModule as kernel::ModuleMetadata>::THIS_MODULE.as_ptr()
}

/// Takes a reference on this module: every live dma-buf holds one, since
/// its dentry's operations are code of this module.
pub(crate) fn pin_this_module() {
    // SAFETY: The module is alive (we are running its code).
    unsafe { bindings::__module_get(this_module()) };
}

/// Drops a reference taken by [`pin_this_module`]. Called last in the
/// dentry release, with nothing of the module's left to run but the return.
pub(crate) fn unpin_this_module() {
    // SAFETY: Pairs with `pin_this_module`.
    unsafe { bindings::module_put(this_module()) };
}

pub(crate) use object::{direction, is_write};

/// A raw table pointer handed between importer and exporter.
pub(crate) type SgTablePtr = *mut bindings::sg_table;
/// A raw `struct iosys_map` value.
pub(crate) type RawIosysMap = bindings::iosys_map;
pub(crate) use super::object::RawDirection;
/// A raw seq_file pointer (for `dma_resv_describe`).
pub(crate) type SeqFilePtr = *mut bindings::seq_file;
