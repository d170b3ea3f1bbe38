// SPDX-License-Identifier: GPL-2.0
//! `struct dma_buf`: the C object every importer and exporter sees.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)
//!
//! The object is allocated here together with an embedded `struct
//! dma_resv` (used when the exporter brings none) and the module
//! references that keep its code alive; see [`Allocation`]. Fields that
//! other contexts change (the file, the name, the vmap cache, the poll
//! slots, the list links) are only read and written through raw places,
//! under the lock the C API documents for them, so no `&bindings::dma_buf`
//! is ever created.

use super::glue;
use super::iosys_map::IosysMap;
use super::kmem;
use super::ledger::BufLedger;
use super::module_ref::ModuleRef;
use super::resv::{Resv, ResvHeld};
use core::ptr::{addr_of, addr_of_mut, NonNull};
use kernel::bindings;
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::aref::{ARef, AlwaysRefCounted};
use kernel::types::Opaque;

/// Longest name, with its NUL (`DMA_BUF_NAME_LEN`).
pub(crate) const NAME_LEN: usize = 32;

/// A `struct dma_buf`.
///
/// # Invariants
///
/// The object is the `buf` member of an [`Allocation`] made by
/// `ExportInfo` (`sys/export_info.rs`) and not yet freed: `ops`, `priv`,
/// `resv`, `exp_name`, `owner` and `size` are set and constant, the locks,
/// lists and wait queue are initialized.
#[repr(transparent)]
pub(crate) struct DmaBuf(Opaque<bindings::dma_buf>);

/// A buffer reached without a reference of one's own: from its file's
/// release, or from its dentry (`d_dname`, `d_release`), which may outlive
/// the file (an `O_PATH` open of `/proc/<pid>/fd/N`). The file's count is
/// zero then, and after the release `dma_buf->file` is NULL. Unlike
/// [`DmaBuf`] this type is not refcounted, so no `ARef` can be made of it
/// (that would take a reference on a file that is gone or going); it offers
/// only what those paths need.
///
/// # Invariants
///
/// The object is a buffer made by `ExportInfo`, as for [`DmaBuf`], whose
/// memory stays allocated while the borrow lasts (its dentry's release
/// frees it).
#[repr(transparent)]
pub(crate) struct DyingDmaBuf(Opaque<bindings::dma_buf>);

impl DyingDmaBuf {
    /// Borrows a buffer reached from its file's release or its dentry.
    ///
    /// # Safety
    ///
    /// `ptr` must be a buffer made by `ExportInfo` whose memory lives for
    /// `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf) -> &'a DyingDmaBuf {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// The buffer, for code that reads its constant fields or its name
    /// (under the name lock), unpublishes it or releases it.
    ///
    /// # Safety
    ///
    /// The caller must not make a reference count of the result (no
    /// `ARef`, no `DmaBuf::file`), directly or through what it calls.
    pub(crate) unsafe fn buf(&self) -> &DmaBuf {
        // SAFETY: Both are transparent wrappers of the same C object, valid
        // by the type invariant.
        unsafe { &*core::ptr::from_ref(self).cast::<DmaBuf>() }
    }
}

// SAFETY: All mutable state is behind the reservation lock, the name lock,
// the poll wait queue lock or the buffer list lock; references are file
// references, which any thread may hold and drop.
unsafe impl Send for DmaBuf {}
// SAFETY: As above.
unsafe impl Sync for DmaBuf {}

/// The memory of one buffer. A Rust exporter's data follows it in the same
/// allocation (`WithData` in `sys/export_info.rs`), and is dropped in place
/// before the buffer is freed.
///
/// Fields drop in declaration order when the buffer is freed: the C object
/// and the embedded reservation object (torn down explicitly before, in
/// [`DmaBuf::free`]), the ledger's record (plain data), then the exporter
/// module's reference, and last the
/// reference on this module, whose code the buffer's file and dentry
/// operations are.
#[repr(C)]
pub(super) struct Allocation {
    pub(super) buf: DmaBuf,
    pub(super) resv: Opaque<bindings::dma_resv>,
    /// The ownership ledger's record (`sys/ledger.rs`).
    pub(super) ledger: BufLedger,
    pub(super) exporter: ModuleRef,
    pub(super) core: ModuleRef,
}

/// A name for a buffer: a kmalloc'ed NUL-terminated string.
///
/// # Invariants
///
/// `ptr` is a NUL-terminated string allocated with kmalloc, owned by us.
pub(crate) struct BufName {
    ptr: NonNull<kernel::ffi::c_char>,
}

impl BufName {
    /// Copies a name of at most `NAME_LEN` bytes, NUL included, from
    /// userspace (`strndup_user`: `EFAULT`, `EINVAL` when too long).
    #[inline]
    pub(crate) fn from_user(addr: usize) -> Result<Self> {
        // SAFETY: `strndup_user` checks the user pointer itself.
        let p = unsafe {
            bindings::strndup_user(addr as *const kernel::ffi::c_char, NAME_LEN as isize)
        };
        let p = super::check_ptr(p)?;
        // INVARIANT: A new kmalloc'ed string (never NULL on success).
        Ok(BufName {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
        })
    }

    fn into_raw(self) -> *mut kernel::ffi::c_char {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl Drop for BufName {
    fn drop(&mut self) {
        // SAFETY: Owned and kmalloc'ed by the type invariant.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

/// A buffer that is allocated and initialized but has no file yet; freed
/// on drop, with the exporter data it owns.
///
/// # Invariants
///
/// `alloc` is a live [`Allocation`] that nothing else knows of. If
/// `drop_data` is set, the buffer's `priv` is a live exporter data in the
/// same allocation, which `drop_data` drops in place.
pub(crate) struct NewDmaBuf {
    alloc: NonNull<Allocation>,
    drop_data: Option<unsafe fn(*mut core::ffi::c_void)>,
}

impl NewDmaBuf {
    /// Wraps a complete, unpublished allocation.
    ///
    /// # Safety
    ///
    /// `alloc` must be a live, fully initialized [`Allocation`] (its `buf`
    /// satisfies [`DmaBuf`]'s invariants) that nothing else knows of;
    /// `drop_data`, if set, must drop the buffer's `priv` in place, which
    /// must be live and in the allocation.
    pub(super) unsafe fn from_alloc(
        alloc: NonNull<Allocation>,
        drop_data: Option<unsafe fn(*mut core::ffi::c_void)>,
    ) -> Self {
        // INVARIANT: By the safety requirements.
        NewDmaBuf { alloc, drop_data }
    }

    /// The same buffer, now owning the exporter data its `priv` points to.
    ///
    /// # Safety
    ///
    /// The buffer's `priv` must be a live object in the same allocation,
    /// which `drop_data` drops in place.
    pub(super) unsafe fn owning_data(self, drop_data: unsafe fn(*mut core::ffi::c_void)) -> Self {
        let alloc = self.alloc;
        core::mem::forget(self);
        // INVARIANT: By the safety requirements.
        NewDmaBuf {
            alloc,
            drop_data: Some(drop_data),
        }
    }
}

impl NewDmaBuf {
    /// The buffer.
    pub(crate) fn buf(&self) -> &DmaBuf {
        // SAFETY: Live by the type invariant.
        unsafe { &self.alloc.as_ref().buf }
    }

    /// Gives the buffer to `file`, whose dentry release must now free it
    /// with [`DmaBuf::free`].
    pub(crate) fn give_to(self, file: &File) -> &DmaBuf {
        let raw = self.buf().as_raw();
        core::mem::forget(self);
        // SAFETY: `raw` is complete and ours; `file` is new and not yet
        // shared, so its private data and dentry may be written.
        unsafe {
            (*raw).file = file.as_ptr();
            let f = file.as_ptr();
            (*f).private_data = raw.cast();
            (*(*f).__bindgen_anon_1.f_path.dentry).d_fsdata = raw.cast();
            DmaBuf::from_raw(raw)
        }
    }
}

impl Drop for NewDmaBuf {
    fn drop(&mut self) {
        let buf = self.buf();
        // SAFETY: Never published, so nothing else can reach the buffer or
        // its data; by the type invariant `drop_data` drops the data, which
        // was never released (the exporter's `release` is not called for a
        // buffer that never had a file, as upstream).
        unsafe {
            if let Some(drop_data) = self.drop_data {
                drop_data(buf.priv_data());
            }
            DmaBuf::free(buf.as_raw());
        }
    }
}

// SAFETY: A buffer is refcounted by its file: `get_file`/`fput` keep the
// buffer alive exactly as long as a reference exists (the file's release,
// then its dentry's, free it).
unsafe impl AlwaysRefCounted for DmaBuf {
    fn inc_ref(&self) {
        // SAFETY: A reference exists, so the file is not released.
        unsafe { self.file() }.inc_ref();
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference on the unreleased file.
        drop(unsafe { obj.as_ref().take_file_ref() });
    }
}

impl DmaBuf {
    /// The file of a buffer reference (`dma_buf->file`), keeping the
    /// reference.
    pub(crate) fn into_file(this: ARef<DmaBuf>) -> ARef<File> {
        let buf = ARef::into_raw(this);
        // SAFETY: The buffer reference is a reference on its file.
        unsafe { buf.as_ref().take_file_ref() }
    }

    /// Borrows a raw buffer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a buffer made by `ExportInfo` that lives for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf) -> &'a DmaBuf {
        // SAFETY: Transparent wrapper; validity by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.get()
    }

    /// Frees a buffer: its embedded reservation object, its name, the
    /// module references, then its memory.
    ///
    /// # Safety
    ///
    /// `ptr` must come from `ExportInfo::alloc` or `ExportInfo::alloc_with`
    /// (whose exporter data must be dropped already), and nothing may use
    /// it afterwards.
    pub(crate) unsafe fn free(ptr: *mut bindings::dma_buf) {
        let alloc = ptr.cast::<Allocation>();
        // SAFETY: By the safety requirements the object is ours alone.
        unsafe {
            if (*ptr).resv == (*alloc).resv.get() {
                Resv::from_raw((*ptr).resv).fini();
            }
            bindings::kfree((*ptr).name.cast());
            // The module references, as the type says; then the memory
            // (with the exporter data after it, if any), which
            // `ExportInfo` got from `kmem::kzalloc`.
            core::ptr::drop_in_place(alloc);
            kmem::kfree(NonNull::new_unchecked(alloc));
        }
    }

    /// The ownership ledger's record of the buffer.
    pub(crate) fn ledger(&self) -> &BufLedger {
        // SAFETY: The `buf` member of an `Allocation` (type invariant); the
        // owner is constant once published, the rest is atomics.
        unsafe { &(*self.as_raw().cast::<Allocation>()).ledger }
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: Constant by the type invariant.
        unsafe { (*self.as_raw()).size }
    }

    /// The exporter's data (`priv`).
    pub(crate) fn priv_data(&self) -> *mut core::ffi::c_void {
        // SAFETY: Constant by the type invariant.
        unsafe { (*self.as_raw()).priv_ }
    }

    /// The exporter name, `None` if the exporter gave NULL.
    pub(crate) fn exp_name(&self) -> Option<&CStr> {
        // SAFETY: Constant by the type invariant.
        let p = unsafe { (*self.as_raw()).exp_name };
        // SAFETY: A string that outlives the buffer (the exporter module is
        // pinned by the allocation).
        (!p.is_null()).then(|| unsafe { CStr::from_char_ptr(p) })
    }

    /// The reservation object.
    pub(crate) fn resv(&self) -> &Resv {
        // SAFETY: By the type invariant `resv` is valid for the object's life.
        unsafe { Resv::from_raw((*self.as_raw()).resv) }
    }

    /// Whether the buffer still has its file (C callers check this).
    pub(crate) fn has_file(&self) -> bool {
        // SAFETY: A plain read of a pointer field; it is cleared only once
        // the file is released.
        !unsafe { core::ptr::read_volatile(addr_of!((*self.as_raw()).file)) }.is_null()
    }

    /// The buffer's file.
    ///
    /// # Safety
    ///
    /// The file must not have been released: the caller holds a reference
    /// to it, or the buffer list lock with the buffer on the list.
    pub(crate) unsafe fn file(&self) -> &File {
        // SAFETY: Not yet released by the safety requirements, so the field
        // is a valid file with a positive count.
        unsafe { File::from_raw_file((*self.as_raw()).file) }
    }

    /// The number of references on the buffer's file (fdinfo, debugfs).
    ///
    /// # Safety
    ///
    /// As for [`DmaBuf::file`].
    pub(crate) unsafe fn file_count(&self) -> i64 {
        // SAFETY: An unreleased file, by the safety requirements.
        unsafe { glue::dmabuf_rs_file_count(self.file().as_ptr()) as i64 }
    }

    /// The number of references on the buffer's file, seen from a holder
    /// of one of them.
    pub(crate) fn file_refs(this: &ARef<Self>) -> i64 {
        // SAFETY: The `ARef` is a reference on the file.
        unsafe { this.file_count() }
    }

    /// The buffer's file, seen from a holder of a reference.
    pub(crate) fn file_of(this: &ARef<Self>) -> &File {
        // SAFETY: The `ARef` is a reference on the file, so it is not
        // released.
        unsafe { this.file() }
    }

    /// Adopts one reference on the buffer's file that the caller owns.
    ///
    /// # Safety
    ///
    /// The caller must own one reference on the buffer's (unreleased) file,
    /// which passes to the returned `ARef`.
    pub(crate) unsafe fn take_file_ref(&self) -> ARef<File> {
        // SAFETY: By the safety requirements.
        unsafe { ARef::from_raw(NonNull::from(self.file())) }
    }

    /// A new reference, unless the file's last one is already gone (the
    /// buffer is still on the list until its release runs).
    ///
    /// # Safety
    ///
    /// The caller holds the buffer list lock with the buffer on the list,
    /// so that the file is not freed.
    pub(crate) unsafe fn try_get(&self) -> Option<ARef<DmaBuf>> {
        // SAFETY: The file is not freed (by the safety requirements); its
        // count may be zero, which `file_ref_get` refuses.
        if unsafe { glue::dmabuf_rs_file_ref_get((*self.as_raw()).file) } {
            // SAFETY: The reference just taken, on the buffer's file.
            Some(unsafe { ARef::from_raw(NonNull::from(self)) })
        } else {
            None
        }
    }

    /// The file is being released: forget it (the dentry, and so the
    /// buffer, may outlive it through an `O_PATH` user).
    ///
    /// # Safety
    ///
    /// Called once, from the file release, under the buffer list lock.
    pub(crate) unsafe fn clear_file(&self) {
        // SAFETY: By the safety requirements.
        unsafe {
            core::ptr::write_volatile(addr_of_mut!((*self.as_raw()).file), core::ptr::null_mut())
        };
    }

    /// Calls `f` with the name (`None` if never set), under the name lock.
    pub(crate) fn with_name<R>(&self, f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        self.with_name_locked(|| {
            // SAFETY: Under the name lock the name is NULL or a valid string.
            let name = unsafe { (*self.as_raw()).name };
            // SAFETY: As above; the borrow ends before the unlock.
            f((!name.is_null()).then(|| unsafe { CStr::from_char_ptr(name) }.to_bytes()))
        })
    }

    /// Calls `f` under the name lock (the name, and the trace events,
    /// which read it).
    pub(crate) fn with_name_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let lock = self.name_lock();
        // SAFETY: Initialized at allocation.
        unsafe { bindings::spin_lock(lock) };
        let r = f();
        // SAFETY: Locked above.
        unsafe { bindings::spin_unlock(lock) };
        r
    }

    /// Replaces the name.
    #[inline]
    pub(crate) fn set_name(&self, name: BufName) {
        let lock = self.name_lock();
        let new = name.into_raw();
        // SAFETY: Initialized at allocation; the name is protected by it.
        let old = unsafe {
            bindings::spin_lock(lock);
            let old = core::mem::replace(&mut (*self.as_raw()).name, new.cast_const());
            bindings::spin_unlock(lock);
            old
        };
        // SAFETY: The old name was kmalloc'ed (or NULL) and is unreachable.
        unsafe { bindings::kfree(old.cast()) };
    }

    fn name_lock(&self) -> *mut bindings::spinlock_t {
        // SAFETY: A field address of a valid object.
        unsafe { addr_of_mut!((*self.as_raw()).name_lock) }
    }

    pub(super) fn held_is_mine(&self, held: &ResvHeld<'_>) -> bool {
        !kernel::warn_on!(!core::ptr::eq(held.resv(), self.resv()))
    }

    /// The head of the attachment list.
    pub(super) fn attachments_head(&self) -> *mut bindings::list_head {
        // SAFETY: A field address of a valid object.
        unsafe { addr_of_mut!((*self.as_raw()).attachments) }
    }

    /// The poll wait queue.
    pub(super) fn poll_wq(&self) -> *mut bindings::wait_queue_head {
        // SAFETY: A field address of a valid object.
        unsafe { addr_of_mut!((*self.as_raw()).poll) }
    }

    /// A poll callback slot (`cb_in` if `input`, else `cb_out`).
    pub(super) fn poll_cb(&self, input: bool) -> *mut bindings::dma_buf_dma_buf_poll_cb_t {
        // SAFETY: Field addresses of a valid object.
        unsafe {
            if input {
                addr_of_mut!((*self.as_raw()).cb_in)
            } else {
                addr_of_mut!((*self.as_raw()).cb_out)
            }
        }
    }

    /// Whether no attachment is linked (for the release check).
    pub(crate) fn attachments_empty(&self) -> bool {
        // SAFETY: Only called when nothing else can reach the buffer.
        unsafe {
            let head = addr_of_mut!((*self.as_raw()).attachments);
            (*head).next == head
        }
    }

    /// The vmap count and cached mapping. `held` must be this buffer's lock:
    /// with a foreign proof nothing is read (the fields are not protected
    /// by that lock), and the state reads as not mapped, after a warning.
    pub(crate) fn vmap_state(&self, held: &ResvHeld<'_>) -> (u32, IosysMap) {
        if !self.held_is_mine(held) {
            return (0, IosysMap::CLEARED);
        }
        // SAFETY: Protected by the held resv lock, which is this buffer's.
        unsafe {
            (
                (*self.as_raw()).vmapping_counter,
                IosysMap::from_c((*self.as_raw()).vmap_ptr),
            )
        }
    }

    /// Sets the vmap count and cached mapping. `held` must be this
    /// buffer's lock (a foreign proof changes nothing).
    pub(crate) fn set_vmap_state(&self, held: &ResvHeld<'_>, count: u32, map: IosysMap) {
        if self.held_is_mine(held) {
            // SAFETY: Protected by the held resv lock.
            unsafe {
                (*self.as_raw()).vmapping_counter = count;
                (*self.as_raw()).vmap_ptr = map.into_c();
            }
        }
    }

    /// Sets the vmap count alone, the cached mapping staying as it is.
    /// `held` must be this buffer's lock (a foreign proof changes nothing).
    pub(crate) fn set_vmap_count(&self, held: &ResvHeld<'_>, count: u32) {
        if self.held_is_mine(held) {
            // SAFETY: Protected by the held resv lock.
            unsafe { (*self.as_raw()).vmapping_counter = count };
        }
    }

    /// The vmap count, read when nothing else can reach the buffer.
    pub(crate) fn vmap_count_at_release(&self) -> u32 {
        // SAFETY: The caller is the release path, alone with the buffer.
        unsafe { (*self.as_raw()).vmapping_counter }
    }

    /// The buffer whose `poll` member `wq` is.
    ///
    /// # Safety
    ///
    /// `wq` must be the `poll` member of a buffer that lives for `'a`.
    pub(crate) unsafe fn of_poll_wq<'a>(wq: *mut bindings::wait_queue_head) -> &'a DmaBuf {
        // SAFETY: By the safety requirements.
        unsafe {
            DmaBuf::from_raw(
                wq.byte_sub(core::mem::offset_of!(bindings::dma_buf, poll))
                    .cast(),
            )
        }
    }

    /// Whether a poll callback is still armed (for the release check).
    pub(crate) fn poll_armed_at_release(&self) -> bool {
        // SAFETY: The caller is the release path, alone with the buffer.
        unsafe { (*self.as_raw()).cb_in.active != 0 || (*self.as_raw()).cb_out.active != 0 }
    }

    /// The buffer list node.
    pub(super) fn list_node(&self) -> *mut bindings::list_head {
        // SAFETY: A field address of a valid object.
        unsafe { addr_of_mut!((*self.as_raw()).list_node) }
    }

    /// The buffer whose list node is `node`.
    ///
    /// # Safety
    ///
    /// `node` must be the `list_node` of a buffer that lives for `'a`.
    pub(super) unsafe fn from_list_node<'a>(node: *mut bindings::list_head) -> &'a DmaBuf {
        // SAFETY: By the safety requirements.
        unsafe {
            DmaBuf::from_raw(
                node.byte_sub(core::mem::offset_of!(bindings::dma_buf, list_node))
                    .cast(),
            )
        }
    }
}
