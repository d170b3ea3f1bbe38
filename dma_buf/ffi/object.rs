// SPDX-License-Identifier: GPL-2.0
//! The dma-buf object (`struct dma_buf`) and its attachments.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)
//!
//! The object is the C `struct dma_buf`, so C importers and exporters read
//! its public fields directly. It is allocated here together with an
//! embedded `struct dma_resv` (used when the exporter brings none), and is
//! owned by its file: a reference to the buffer is a reference to the file.
//! It is freed when the file's dentry dies, which is after the file is
//! gone and after any `O_PATH` user of `/proc/<pid>/fd/N` let go.

use super::resv::{Resv, ResvHeld};
use super::vfs;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// Memory of one buffer: the C object and the reservation object it
/// embeds when the exporter brings none.
#[repr(C)]
pub(crate) struct Allocation {
    buf: Opaque<bindings::dma_buf>,
    resv: Opaque<bindings::dma_resv>,
}

/// A dma-buf.
///
/// # Invariants
///
/// The wrapped `struct dma_buf` was set up by [`DmaBuf::export`] and not yet
/// released: `ops`, `priv`, `resv`, `exp_name` and `size` are valid and
/// constant, and the memory is an [`Allocation`].
#[repr(transparent)]
pub(crate) struct DmaBuf(Opaque<bindings::dma_buf>);

// SAFETY: All mutable state is behind the reservation lock, the name lock
// or the poll wait queue lock; references are file references.
unsafe impl Send for DmaBuf {}
// SAFETY: As above.
unsafe impl Sync for DmaBuf {}

/// An attachment of a device to a dma-buf (`struct dma_buf_attachment`).
///
/// # Invariants
///
/// The attachment was made by [`DmaBuf::attach`] and is not yet detached;
/// `dmabuf` and `dev` are valid and constant.
#[repr(transparent)]
pub(crate) struct Attachment(Opaque<bindings::dma_buf_attachment>);

/// What to export (the fields of `struct dma_buf_export_info`).
pub(crate) struct ExportInfo {
    pub(crate) exp_name: *const kernel::ffi::c_char,
    pub(crate) owner: *mut bindings::module,
    pub(crate) ops: *const bindings::dma_buf_ops,
    pub(crate) size: usize,
    pub(crate) flags: i32,
    pub(crate) resv: *mut bindings::dma_resv,
    pub(crate) priv_: *mut core::ffi::c_void,
}

/// The direction of a DMA transfer (`enum dma_data_direction`).
pub(crate) type RawDirection = bindings::dma_data_direction;

/// Whether a direction includes CPU writes (`DMA_TO_DEVICE` or
/// bidirectional), as the fence wait of `begin_cpu_access` needs.
pub(crate) fn is_write(dir: RawDirection) -> bool {
    dir == bindings::dma_data_direction::DMA_BIDIRECTIONAL
        || dir == bindings::dma_data_direction::DMA_TO_DEVICE
}

/// Raw direction constants for the ioctl layer.
pub(crate) mod direction {
    use super::RawDirection;
    use kernel::bindings;
    /// `DMA_BIDIRECTIONAL`.
    pub(crate) const BIDIRECTIONAL: RawDirection = bindings::dma_data_direction::DMA_BIDIRECTIONAL;
    /// `DMA_TO_DEVICE`.
    pub(crate) const TO_DEVICE: RawDirection = bindings::dma_data_direction::DMA_TO_DEVICE;
    /// `DMA_FROM_DEVICE`.
    pub(crate) const FROM_DEVICE: RawDirection = bindings::dma_data_direction::DMA_FROM_DEVICE;
}

/// Global list of live buffers, for debugfs.
struct BufList(Opaque<bindings::list_head>);
// SAFETY: The list is only touched under `BUFFERS`.
unsafe impl Send for BufList {}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `init_buffer_list` at module init, before use.
    unsafe(uninit) static BUFFERS: Mutex<BufList> = BufList(Opaque::uninit());
}

/// Sets up the global buffer list (module init, once).
pub(crate) fn init_buffer_list() {
    // SAFETY: Called once, at module init, before any other use.
    unsafe { BUFFERS.init() };
    let list = BUFFERS.lock();
    // SAFETY: The head is ours and uninitialized.
    unsafe { bindings::INIT_LIST_HEAD(list.0.get()) };
}

/// Calls `f` on every live buffer, under the list lock, stopping at the
/// first error.
pub(crate) fn for_each_buffer(mut f: impl FnMut(&DmaBuf) -> Result) -> Result {
    let list = BUFFERS.lock();
    let head = list.0.get();
    // SAFETY: The list is initialized and we hold its lock.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: Every entry is the `list_node` of a live buffer (removed
        // from the list in the file release, before the buffer dies).
        let buf = unsafe {
            &*(pos.byte_sub(core::mem::offset_of!(bindings::dma_buf, list_node)) as *const DmaBuf)
        };
        f(buf)?;
        // SAFETY: As above.
        pos = unsafe { (*pos).next };
    }
    Ok(())
}

impl DmaBuf {
    /// Wraps a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live dma-buf of this core for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf) -> &'a DmaBuf {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.get()
    }

    fn raw(&self) -> &bindings::dma_buf {
        // SAFETY: By the type invariant the object is valid; fields read
        // through this reference are constant or read under their lock.
        unsafe { &*self.as_raw() }
    }

    /// The exporter's operations.
    pub(crate) fn ops(&self) -> &bindings::dma_buf_ops {
        // SAFETY: By the type invariant `ops` is valid and constant.
        unsafe { &*self.raw().ops }
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.raw().size
    }

    /// The reservation object.
    pub(crate) fn resv(&self) -> &Resv {
        // SAFETY: By the type invariant `resv` is valid for the object's life.
        unsafe { Resv::from_raw(self.raw().resv) }
    }

    /// The file, or NULL once it was released (then only the dentry lives).
    pub(crate) fn file(&self) -> *mut bindings::file {
        self.raw().file
    }

    /// The exporter name.
    pub(crate) fn exp_name(&self) -> &CStr {
        // SAFETY: By the type invariant `exp_name` is a valid string that
        // outlives the buffer (the exporter module is pinned).
        unsafe { CStr::from_char_ptr(self.raw().exp_name) }
    }

    /// Exports a new buffer (`dma_buf_export`): validates `info`, pins the
    /// exporter module, creates the file and publishes the buffer. On
    /// success the caller owns the one file reference.
    pub(crate) fn export(info: &ExportInfo) -> Result<&'static DmaBuf> {
        if kernel::warn_on!(info.priv_.is_null() || info.ops.is_null()) {
            return Err(EINVAL);
        }
        // SAFETY: Checked non-NULL; the exporter's table is static.
        let ops = unsafe { &*info.ops };
        if kernel::warn_on!(
            ops.map_dma_buf.is_none() || ops.unmap_dma_buf.is_none() || ops.release.is_none()
        ) {
            return Err(EINVAL);
        }
        if kernel::warn_on!(ops.pin.is_none() != ops.unpin.is_none()) {
            return Err(EINVAL);
        }
        // SAFETY: NULL (built in) or a module that is alive while its code
        // calls us.
        if !unsafe { bindings::try_module_get(info.owner) } {
            return Err(ENOENT);
        }
        let alloc = match KBox::new(
            Allocation {
                buf: Opaque::zeroed(),
                resv: Opaque::zeroed(),
            },
            GFP_KERNEL,
        ) {
            Ok(a) => KBox::into_raw(a),
            Err(e) => {
                // SAFETY: Taken above.
                unsafe { bindings::module_put(info.owner) };
                return Err(e.into());
            }
        };
        // SAFETY: `alloc` is a valid, zeroed allocation only we know of.
        let raw = unsafe { (*alloc).buf.get() };
        // SAFETY: As above; we initialize the fields before publishing.
        unsafe {
            (*raw).priv_ = info.priv_;
            (*raw).ops = info.ops;
            (*raw).size = info.size;
            (*raw).exp_name = info.exp_name;
            (*raw).owner = info.owner;
            super::dmabuf_rs_dma_buf_init_locks(raw);
            let poll = core::ptr::addr_of_mut!((*raw).poll);
            (*raw).cb_in.poll = poll;
            (*raw).cb_out.poll = poll;
            bindings::INIT_LIST_HEAD(core::ptr::addr_of_mut!((*raw).attachments));
            if info.resv.is_null() {
                let resv = (*alloc).resv.get();
                Resv::init(resv);
                (*raw).resv = resv;
            } else {
                (*raw).resv = info.resv;
            }
        }
        let file = match vfs::new_file(info.size, info.flags, super::entry::fops()) {
            Ok(f) => f,
            Err(e) => {
                // SAFETY: Nothing else knows the allocation; undo in reverse.
                unsafe { Self::free_allocation(alloc) };
                return Err(e);
            }
        };
        // From here on, the dentry's release frees everything.
        super::entry::pin_this_module();
        // SAFETY: `file` is new and unpublished; `raw` is fully set up.
        unsafe {
            vfs::set_private(file, raw.cast());
            (*raw).file = file;
        }
        // Publish last, once the object is complete.
        {
            let list = BUFFERS.lock();
            // SAFETY: The node is ours and the list is locked.
            unsafe {
                super::dmabuf_rs_list_add(core::ptr::addr_of_mut!((*raw).list_node), list.0.get())
            };
        }
        // SAFETY: Fully initialized above; lives until its dentry dies.
        Ok(unsafe { DmaBuf::from_raw(raw) })
    }

    /// Frees an allocation whose file was never created.
    ///
    /// # Safety
    ///
    /// `alloc` must come from `export` and be unpublished.
    unsafe fn free_allocation(alloc: *mut Allocation) {
        // SAFETY: By the safety requirements.
        unsafe {
            let raw = (*alloc).buf.get();
            if (*raw).resv == (*alloc).resv.get() {
                Resv::from_raw((*raw).resv).fini();
            }
            bindings::module_put((*raw).owner);
            drop(KBox::from_raw(alloc));
        }
    }

    /// The file is being released: unpublish the buffer and forget the
    /// file pointer, which is about to be freed while the dentry (and so
    /// the buffer) may live on.
    pub(crate) fn file_released(&self) {
        let _list = BUFFERS.lock();
        // SAFETY: The node is on the list, which is locked.
        unsafe {
            super::dmabuf_rs_list_del(core::ptr::addr_of_mut!((*self.as_raw()).list_node));
            (*self.as_raw()).file = core::ptr::null_mut();
        }
    }

    /// Frees the buffer when its dentry dies.
    ///
    /// # Safety
    ///
    /// Called once, from the dentry release, when nothing else can reach
    /// the buffer.
    pub(crate) unsafe fn release(ptr: *mut bindings::dma_buf) {
        // SAFETY: The dentry held the buffer until now.
        let buf = unsafe { DmaBuf::from_raw(ptr) };
        let raw = buf.raw();
        // A vmap or an armed poll callback both hold a file reference, so
        // they cannot be alive here; say so loudly if they are.
        kernel::warn_on!(raw.vmapping_counter != 0);
        kernel::warn_on!(raw.cb_in.active != 0 || raw.cb_out.active != 0);
        if let Some(release) = buf.ops().release {
            // SAFETY: The exporter's release, called once at the end.
            unsafe { release(ptr) };
        }
        let alloc: *mut Allocation = ptr.cast();
        // SAFETY: Nothing else uses the buffer any more.
        unsafe {
            if raw.resv == (*alloc).resv.get() {
                buf.resv().fini();
            }
            let head = core::ptr::addr_of_mut!((*ptr).attachments);
            kernel::warn_on!((*head).next != head);
            bindings::module_put(raw.owner);
            bindings::kfree((*ptr).name.cast());
            drop(KBox::from_raw(alloc));
        }
        super::entry::unpin_this_module();
    }

    /// Copies the name (at most `DMA_BUF_NAME_LEN - 1` bytes) into `out`
    /// under the name lock; returns its length, or `None` when no name was
    /// ever set (an empty name is `Some(0)`).
    pub(crate) fn copy_name(&self, out: &mut [u8; crate::uapi::DMA_BUF_NAME_LEN]) -> Option<usize> {
        let _g = NameLock::new(self);
        let name = self.raw().name;
        if name.is_null() {
            return None;
        }
        // SAFETY: Under the name lock the name is a valid string.
        let bytes = unsafe { CStr::from_char_ptr(name) }.to_bytes();
        let n = bytes.len().min(out.len() - 1);
        out[..n].copy_from_slice(&bytes[..n]);
        out[n] = 0;
        Some(n)
    }

    /// Replaces the name with `name`, a kmalloc'ed string (ownership passes).
    ///
    /// # Safety
    ///
    /// `name` must be a NUL-terminated string allocated with kmalloc.
    pub(crate) unsafe fn replace_name(&self, name: *mut kernel::ffi::c_char) {
        let old = {
            let _g = NameLock::new(self);
            // SAFETY: The name lock protects `name`.
            unsafe { core::mem::replace(&mut (*self.as_raw()).name, name.cast_const()) }
        };
        // SAFETY: The old name was kmalloc'ed (or NULL) and is unreachable.
        unsafe { bindings::kfree(old.cast()) };
    }

    /// Attaches `dev` (`dma_buf_dynamic_attach`). Returns the attachment,
    /// which the caller must pass to [`DmaBuf::detach`].
    pub(crate) fn attach(
        &self,
        dev: *mut bindings::device,
        importer_ops: *const bindings::dma_buf_attach_ops,
        importer_priv: *mut core::ffi::c_void,
    ) -> Result<*mut bindings::dma_buf_attachment> {
        let attach = KBox::into_raw(KBox::new(
            Opaque::<bindings::dma_buf_attachment>::zeroed(),
            GFP_KERNEL,
        )?)
        .cast::<bindings::dma_buf_attachment>();
        // SAFETY: The attachment is new and ours.
        unsafe {
            (*attach).dev = dev;
            (*attach).dmabuf = self.as_raw();
            if !importer_ops.is_null() {
                (*attach).peer2peer = (*importer_ops).allow_peer2peer;
            }
            (*attach).importer_ops = importer_ops;
            (*attach).importer_priv = importer_priv;
        }
        if let Some(op) = self.ops().attach {
            // SAFETY: Exporter callback, called without the resv lock.
            let ret = unsafe { op(self.as_raw(), attach) };
            if ret != 0 {
                // SAFETY: Never published.
                drop(unsafe {
                    KBox::from_raw(attach.cast::<Opaque<bindings::dma_buf_attachment>>())
                });
                return Err(Error::from_errno(ret));
            }
        }
        let _g = self.resv().lock();
        // SAFETY: Attachments are protected by the resv lock, held.
        unsafe {
            super::dmabuf_rs_list_add(
                core::ptr::addr_of_mut!((*attach).node),
                core::ptr::addr_of_mut!((*self.as_raw()).attachments),
            )
        };
        Ok(attach)
    }

    /// Detaches and frees `attach` (`dma_buf_detach`).
    ///
    /// # Safety
    ///
    /// `attach` must be an attachment of this buffer that is not mapped.
    pub(crate) unsafe fn detach(&self, attach: *mut bindings::dma_buf_attachment) {
        {
            let _g = self.resv().lock();
            // SAFETY: On our list, which the held resv lock protects.
            unsafe { super::dmabuf_rs_list_del(core::ptr::addr_of_mut!((*attach).node)) };
        }
        if let Some(op) = self.ops().detach {
            // SAFETY: Exporter callback, without the resv lock.
            unsafe { op(self.as_raw(), attach) };
        }
        // SAFETY: Unpublished above; allocated by `attach`.
        drop(unsafe { KBox::from_raw(attach.cast::<Opaque<bindings::dma_buf_attachment>>()) });
    }

    /// Calls `f` on each attachment, under the resv lock.
    pub(crate) fn for_each_attachment(&self, _held: &ResvHeld<'_>, mut f: impl FnMut(&Attachment)) {
        // SAFETY: The list is valid and protected by the held lock.
        unsafe {
            let head = core::ptr::addr_of_mut!((*self.as_raw()).attachments);
            let mut pos = (*head).next;
            while pos != head {
                let a = pos.byte_sub(core::mem::offset_of!(bindings::dma_buf_attachment, node));
                f(Attachment::from_raw(a.cast()));
                pos = (*pos).next;
            }
        }
    }

    /// The vmap state: (counter, cached map). Needs the resv lock.
    pub(crate) fn vmap_state(&self, _held: &ResvHeld<'_>) -> (u32, bindings::iosys_map) {
        let raw = self.raw();
        (raw.vmapping_counter, raw.vmap_ptr)
    }

    /// Sets the vmap state. Needs the resv lock.
    pub(crate) fn set_vmap_state(
        &self,
        _held: &ResvHeld<'_>,
        count: u32,
        map: bindings::iosys_map,
    ) {
        // SAFETY: Protected by the held resv lock.
        unsafe {
            (*self.as_raw()).vmapping_counter = count;
            (*self.as_raw()).vmap_ptr = map;
        }
    }

    /// The poll callback slots and wait queue (see `poll.rs`).
    pub(crate) fn poll_parts(
        &self,
    ) -> (
        *mut bindings::wait_queue_head,
        *mut bindings::dma_buf_dma_buf_poll_cb_t,
        *mut bindings::dma_buf_dma_buf_poll_cb_t,
    ) {
        let raw = self.as_raw();
        // SAFETY: Field addresses of a valid object.
        unsafe {
            (
                core::ptr::addr_of_mut!((*raw).poll),
                core::ptr::addr_of_mut!((*raw).cb_in),
                core::ptr::addr_of_mut!((*raw).cb_out),
            )
        }
    }

    /// Takes a file reference for an armed poll callback or a vmap.
    pub(crate) fn get_file_ref(&self) {
        // SAFETY: The caller holds a reference, so the file is valid.
        unsafe { vfs::get_file(self.file()) };
    }

    /// Drops a file reference taken with [`DmaBuf::get_file_ref`].
    ///
    /// # Safety
    ///
    /// The caller must own the reference.
    pub(crate) unsafe fn put_file_ref(file: *mut bindings::file) {
        // SAFETY: By the safety requirements.
        unsafe { vfs::fput(file) };
    }

    /// The file's flags and mode, and its reference count.
    pub(crate) fn file_info(&self) -> (u32, u32, i64, u64) {
        let file = self.file();
        // SAFETY: Buffers on the list have a live file (the list lock is
        // held by the caller, and the file release unlinks first).
        unsafe {
            (
                (*file).f_flags,
                (*file).f_mode,
                vfs::file_count(file),
                (*(*file).f_inode).i_ino,
            )
        }
    }
}

/// Holds `dma_buf.name_lock`.
struct NameLock<'a>(&'a DmaBuf);

impl<'a> NameLock<'a> {
    fn new(buf: &'a DmaBuf) -> Self {
        // SAFETY: The lock is initialized at export.
        unsafe { super::dmabuf_rs_name_lock(buf.as_raw()) };
        NameLock(buf)
    }
}

impl Drop for NameLock<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken in `new`.
        unsafe { super::dmabuf_rs_name_unlock(self.0.as_raw()) };
    }
}

impl Attachment {
    /// Wraps a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live attachment for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_attachment) -> &'a Attachment {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.0.get()
    }

    fn raw(&self) -> &bindings::dma_buf_attachment {
        // SAFETY: Valid by the type invariant.
        unsafe { &*self.as_raw() }
    }

    /// The buffer.
    pub(crate) fn dma_buf(&self) -> &DmaBuf {
        // SAFETY: By the type invariant the buffer outlives the attachment.
        unsafe { DmaBuf::from_raw(self.raw().dmabuf) }
    }

    /// Whether the importer is dynamic (brought `dma_buf_attach_ops`).
    pub(crate) fn is_dynamic(&self) -> bool {
        !self.raw().importer_ops.is_null()
    }

    /// Whether the importer can handle revocation (`invalidate_mappings`).
    pub(crate) fn is_revocable(&self) -> bool {
        // SAFETY: `importer_ops` is NULL or valid for the attachment's life.
        self.is_dynamic() && unsafe { (*self.raw().importer_ops).invalidate_mappings.is_some() }
    }

    /// Calls the importer's `invalidate_mappings`, if any.
    pub(crate) fn invalidate(&self, _held: &ResvHeld<'_>) {
        if self.is_revocable() {
            // SAFETY: Checked above; called with the resv lock held.
            unsafe {
                if let Some(f) = (*self.raw().importer_ops).invalidate_mappings {
                    f(self.as_raw())
                }
            }
        }
    }

    /// The attached device.
    pub(crate) fn dev(&self) -> *mut bindings::device {
        self.raw().dev
    }

    /// The attached device's name.
    pub(crate) fn dev_name(&self) -> &CStr {
        // SAFETY: The device is valid by the type invariant.
        unsafe { CStr::from_char_ptr(bindings::dev_name(self.raw().dev)) }
    }
}
