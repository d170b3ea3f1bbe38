// SPDX-License-Identifier: GPL-2.0
//! The dma-heap device framework at the C boundary: `struct dma_heap`,
//! `/dev/dma_heap/<name>` (class `dma_heap`, 128 minors) and the exported
//! `dma_heap_*` functions. The ioctl rules are in `heaps/dma_heap.rs`.
//!
//! C header: [`include/linux/dma-heap.h`](srctree/include/linux/dma-heap.h)

use super::object::DmaBuf;
use kernel::bindings;
use kernel::error::from_err_ptr;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use kernel::prelude::*;
use kernel::types::Opaque;

/// Minors available for heaps.
const NUM_HEAP_MINORS: usize = 128;

#[allow(improper_ctypes)]
extern "C" {
    fn dmabuf_rs_heap_chrdev_init(minors: c_uint) -> c_int;
    fn dmabuf_rs_heap_chrdev_exit(minors: c_uint);
    fn dmabuf_rs_heap_device_add(
        cdev: *mut bindings::cdev,
        minor: c_uint,
        name: *const c_char,
        fops: *const bindings::file_operations,
    ) -> c_int;
    fn dmabuf_rs_heap_device_del(cdev: *mut bindings::cdev, minor: c_uint);
    fn dmabuf_rs_iminor(inode: *mut bindings::inode) -> c_uint;
}

/// `struct dma_heap_ops`.
#[repr(C)]
pub(crate) struct DmaHeapOps {
    /// Allocates a buffer of `len` (page-aligned) bytes.
    pub(crate) allocate:
        Option<unsafe extern "C" fn(*mut DmaHeap, c_ulong, u32, u64) -> *mut bindings::dma_buf>,
}

/// `struct dma_heap_export_info`.
#[repr(C)]
pub(crate) struct DmaHeapExportInfo {
    /// Heap name (device node name); must outlive the heap.
    pub(crate) name: *const c_char,
    /// The operations.
    pub(crate) ops: *const DmaHeapOps,
    /// Exporter data.
    pub(crate) priv_: *mut c_void,
}

/// A registered heap (`struct dma_heap`, opaque to C users).
///
/// # Invariants
///
/// Created by `dma_heap_add`, lives until module exit; `name` and `ops`
/// are valid for that long.
pub(crate) struct DmaHeap {
    name: *const c_char,
    ops: *const DmaHeapOps,
    priv_: *mut c_void,
    minor: u32,
    cdev: Opaque<bindings::cdev>,
}

struct Registry {
    heaps: [*mut DmaHeap; NUM_HEAP_MINORS],
}
// SAFETY: Only touched under `HEAPS`.
unsafe impl Send for Registry {}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init` at module init, before use.
    unsafe(uninit) static HEAPS: Mutex<Registry> = Registry { heaps: [core::ptr::null_mut(); NUM_HEAP_MINORS] };
}

/// Sets up the char device region and class (module init).
pub(crate) fn init() -> Result {
    // SAFETY: Called once at module init, before any other use.
    unsafe { HEAPS.init() };
    // SAFETY: Called once.
    kernel::error::to_result(unsafe { dmabuf_rs_heap_chrdev_init(NUM_HEAP_MINORS as c_uint) })
}

/// Removes every heap and the class (module exit: no heap file or buffer
/// can be open, both pin the module).
pub(crate) fn exit() {
    let mut reg = HEAPS.lock();
    for slot in reg.heaps.iter_mut() {
        let h = core::mem::take(slot);
        if !h.is_null() {
            // SAFETY: Registered by `dma_heap_add`; nothing uses it any more.
            unsafe {
                dmabuf_rs_heap_device_del((*h).cdev.get(), (*h).minor);
                drop(KBox::from_raw(h));
            }
        }
    }
    drop(reg);
    // SAFETY: Pairs with `init`.
    unsafe { dmabuf_rs_heap_chrdev_exit(NUM_HEAP_MINORS as c_uint) };
}

impl DmaHeap {
    /// The heap name.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: By the type invariant.
        unsafe { CStr::from_char_ptr(self.name) }
    }

    /// The exporter data.
    pub(crate) fn priv_(&self) -> *mut c_void {
        self.priv_
    }

    /// Calls the heap's `allocate`; returns the new buffer (one reference).
    pub(crate) fn allocate(&self, len: usize, fd_flags: u32, heap_flags: u64) -> Result<&DmaBuf> {
        // SAFETY: `ops` is valid by the type invariant; `allocate` was checked at add.
        let f = unsafe { (*self.ops).allocate }.ok_or(EINVAL)?;
        let me = core::ptr::from_ref(self).cast_mut();
        // SAFETY: A live heap; the callback follows the dma_heap_ops contract.
        let buf = from_err_ptr(unsafe { f(me, len as c_ulong, fd_flags, heap_flags) })?;
        // SAFETY: A new buffer of this core with one reference for us.
        Ok(unsafe { DmaBuf::from_raw(buf) })
    }
}

struct HeapFops(bindings::file_operations);
// SAFETY: An immutable table.
unsafe impl Sync for HeapFops {}

static HEAP_FOPS: HeapFops = HeapFops(bindings::file_operations {
    // Open heap files pin the module (the VFS takes and drops this ref).
    owner: <crate::LocalModule as kernel::ModuleMetadata>::THIS_MODULE.as_ptr(),
    open: Some(heap_open),
    unlocked_ioctl: Some(heap_ioctl),
    compat_ioctl: Some(heap_ioctl),
    // SAFETY: All-zero is a valid `file_operations`.
    ..unsafe { core::mem::zeroed() }
});

fn heap_fops() -> *const bindings::file_operations {
    &HEAP_FOPS.0
}

/// `open` of `/dev/dma_heap/<name>`: looks the heap up by minor.
///
/// # Safety
///
/// The VFS calls this with a valid inode of a heap device and a valid file
/// that is being opened on it.
unsafe extern "C" fn heap_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: The VFS passes a valid inode.
    let minor = unsafe { dmabuf_rs_iminor(inode) } as usize;
    let heap = {
        let reg = HEAPS.lock();
        reg.heaps
            .get(minor)
            .copied()
            .unwrap_or(core::ptr::null_mut())
    };
    if heap.is_null() {
        pr_err!("dma_heap: minor {} unknown.\n", minor);
        return ENODEV.to_errno();
    }
    // SAFETY: A valid file being opened.
    unsafe {
        (*file).private_data = heap.cast();
        bindings::nonseekable_open(inode, file);
    }
    0
}

/// `unlocked_ioctl` and `compat_ioctl` of a heap file.
///
/// # Safety
///
/// The VFS calls this with a valid file opened by [`heap_open`], whose
/// `private_data` is a registered heap.
unsafe extern "C" fn heap_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: A heap file: `private_data` is the heap, alive until exit.
    let heap = unsafe { &*(*file).private_data.cast::<DmaHeap>() };
    match crate::dma_heap::ioctl(heap, cmd, arg) {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// `dma_heap_add`: registers a heap and creates `/dev/dma_heap/<name>`.
///
/// # Safety
///
/// `info` must point to a valid `dma_heap_export_info`, whose `name` is
/// NULL or a NUL-terminated string and whose `ops` is NULL or a valid ops
/// table; a non-NULL `name` and `ops` must stay valid until module exit.
#[no_mangle]
unsafe extern "C" fn dma_heap_add(info: *const DmaHeapExportInfo) -> *mut DmaHeap {
    // SAFETY: The C contract: a valid export info.
    let info = unsafe { &*info };
    // SAFETY: NULL or a string.
    if info.name.is_null() || unsafe { *info.name } == 0 {
        pr_err!("dma_heap: Cannot add heap without a name\n");
        return EINVAL.to_ptr();
    }
    // SAFETY: NULL or a valid ops table.
    if info.ops.is_null() || unsafe { (*info.ops).allocate }.is_none() {
        pr_err!("dma_heap: Cannot add heap with invalid ops struct\n");
        return EINVAL.to_ptr();
    }
    match add(info) {
        Ok(h) => h,
        Err(e) => e.to_ptr(),
    }
}

fn add(info: &DmaHeapExportInfo) -> Result<*mut DmaHeap> {
    // SAFETY: Checked non-empty above.
    let name = unsafe { CStr::from_char_ptr(info.name) };
    // The duplicate check and the insertion happen under one lock, and
    // before any device exists. Upstream's own check comes after
    // device_create(), which already fails with EEXIST on the sysfs name,
    // so EEXIST is what callers see there too.
    let mut reg = HEAPS.lock();
    for &h in reg.heaps.iter() {
        // SAFETY: Registered heaps are valid.
        if !h.is_null() && unsafe { (*h).name() } == name {
            pr_err!(
                "dma_heap: Already registered heap named {}\n",
                name.to_str().unwrap_or("?")
            );
            return Err(EEXIST);
        }
    }
    let minor = reg.heaps.iter().position(|h| h.is_null()).ok_or_else(|| {
        pr_err!("dma_heap: Unable to get minor number for heap\n");
        EBUSY
    })?;
    let heap = KBox::into_raw(KBox::new(
        DmaHeap {
            name: info.name,
            ops: info.ops,
            priv_: info.priv_,
            minor: minor as u32,
            cdev: Opaque::zeroed(),
        },
        GFP_KERNEL,
    )?);
    // SAFETY: `heap` is ours; the cdev is embedded and lives until exit.
    let ret = unsafe {
        dmabuf_rs_heap_device_add((*heap).cdev.get(), minor as c_uint, info.name, heap_fops())
    };
    if ret != 0 {
        pr_err!("dma_heap: Unable to create device\n");
        // SAFETY: Never published.
        drop(unsafe { KBox::from_raw(heap) });
        return Err(Error::from_errno(ret));
    }
    reg.heaps[minor] = heap;
    Ok(heap)
}

/// `dma_heap_get_drvdata`: the heap's exporter data.
///
/// # Safety
///
/// `heap` must be a heap registered by [`dma_heap_add`].
#[no_mangle]
unsafe extern "C" fn dma_heap_get_drvdata(heap: *mut DmaHeap) -> *mut c_void {
    // SAFETY: A registered heap by the C contract.
    unsafe { (*heap).priv_ }
}

/// `dma_heap_get_name`: the heap's name.
///
/// # Safety
///
/// `heap` must be a heap registered by [`dma_heap_add`].
#[no_mangle]
unsafe extern "C" fn dma_heap_get_name(heap: *mut DmaHeap) -> *const c_char {
    // SAFETY: A registered heap by the C contract.
    unsafe { (*heap).name }
}

/// Registers a heap from Rust: `name` and `ops` are static, `priv_` is
/// the heap's data (leaked until module exit, like upstream heaps).
pub(crate) fn register(
    name: &'static CStr,
    ops: &'static DmaHeapOps,
    priv_: *mut c_void,
) -> Result {
    let info = DmaHeapExportInfo {
        name: name.as_char_ptr(),
        ops,
        priv_,
    };
    // SAFETY: A valid export info.
    from_err_ptr(unsafe { dma_heap_add(&info) }).map(|_| ())
}

/// The heap handed to an `allocate` trampoline.
///
/// # Safety
///
/// `heap` must be a registered heap.
pub(crate) unsafe fn heap_ref<'a>(heap: *mut DmaHeap) -> &'a DmaHeap {
    // SAFETY: By the safety requirements.
    unsafe { &*heap }
}

/// Converts an allocation result to what `allocate` returns to C.
pub(crate) fn alloc_result(r: Result<kernel::sync::aref::ARef<DmaBuf>>) -> *mut bindings::dma_buf {
    match r {
        Ok(buf) => kernel::sync::aref::ARef::into_raw(buf).as_ptr().cast(),
        Err(e) => e.to_ptr(),
    }
}

/// The raw allocate callback type and the buffer pointer it returns.
pub(crate) type RawDmaBuf = bindings::dma_buf;
