// SPDX-License-Identifier: GPL-2.0
//! The raw half of the safe Rust API: reference counting of [`DmaBuf`],
//! the `dma_buf_ops` table built from an [`Exporter`], owned tables, and
//! the importer calls behind the RAII guards of `importer.rs`.

use super::entry;
use super::object::{Attachment, DmaBuf, ExportInfo};
use super::resv::ResvHeld;
use super::vfs;
use crate::exporter::Exporter;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::device::{Device, DeviceContext};
use kernel::dma::DataDirection;
use kernel::error::to_result;
use kernel::page::Page;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::aref::{ARef, AlwaysRefCounted};

/// A raw attachment pointer (held by the importer guards).
pub(crate) type RawAttachment = bindings::dma_buf_attachment;
/// A raw table pointer (held by the mapping guard).
pub(crate) type RawTable = bindings::sg_table;

// SAFETY: A dma-buf is refcounted by its file: `get_file`/`fput` keep the
// object alive exactly as long as a reference exists.
unsafe impl AlwaysRefCounted for DmaBuf {
    fn inc_ref(&self) {
        // SAFETY: The caller holds a reference, so the file is alive.
        unsafe { vfs::get_file(self.file()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up its reference.
        unsafe { vfs::fput(obj.as_ref().file()) };
    }
}

/// Converts a kernel direction to the C value.
pub(crate) fn raw_dir(dir: DataDirection) -> bindings::dma_data_direction {
    dir.into()
}

/// Converts a C direction (from a trampoline) to the kernel type.
fn from_raw_dir(dir: bindings::dma_data_direction) -> DataDirection {
    if dir == bindings::dma_data_direction::DMA_TO_DEVICE {
        DataDirection::ToDevice
    } else if dir == bindings::dma_data_direction::DMA_FROM_DEVICE {
        DataDirection::FromDevice
    } else if dir == bindings::dma_data_direction::DMA_NONE {
        DataDirection::None
    } else {
        DataDirection::Bidirectional
    }
}

impl DmaBuf {
    /// Looks up the dma-buf open as `fd` (`EBADF`, or `EINVAL` for any
    /// other kind of file).
    pub(crate) fn get(fd: i32) -> Result<ARef<DmaBuf>> {
        let file = vfs::fget(fd).ok_or(EBADF)?;
        // SAFETY: `fget` returned a valid file.
        match unsafe { entry::buf_of_file(file) } {
            // SAFETY: The reference `fget` took becomes the `ARef`'s.
            Some(buf) => Ok(unsafe { ARef::from_raw(NonNull::from(buf)) }),
            None => {
                // SAFETY: Drops the reference `fget` took.
                unsafe { vfs::fput(file) };
                Err(EINVAL)
            }
        }
    }

    /// Exports `data` as a new dma-buf of `size` bytes, named `exp_name`.
    pub(crate) fn export_rust<T: Exporter>(
        data: KBox<T>,
        size: usize,
        flags: i32,
        exp_name: &'static CStr,
    ) -> Result<ARef<DmaBuf>> {
        let priv_ = KBox::into_raw(data);
        let info = ExportInfo {
            exp_name: exp_name.as_char_ptr(),
            owner: core::ptr::null_mut(),
            ops: OpsTable::<T>::build(),
            size,
            flags,
            resv: core::ptr::null_mut(),
            priv_: priv_.cast(),
        };
        match DmaBuf::export(&info) {
            // SAFETY: `export` hands over the one file reference.
            Ok(buf) => Ok(unsafe { ARef::from_raw(NonNull::from(buf)) }),
            Err(e) => {
                // SAFETY: Export failed, so the data is still ours.
                drop(unsafe { KBox::from_raw(priv_) });
                Err(e)
            }
        }
    }

    /// The number of file references (for tests and fdinfo).
    pub(crate) fn file_refs(&self) -> i64 {
        // SAFETY: The caller holds a reference.
        unsafe { vfs::file_count(self.file()) }
    }

    /// Attaches `dev` as a static importer; the raw attachment.
    pub(crate) fn attach_device<Ctx: DeviceContext>(
        &self,
        dev: &Device<Ctx>,
    ) -> Result<NonNull<bindings::dma_buf_attachment>> {
        // `Device<Ctx>` is a transparent wrapper of `struct device`.
        let raw_dev = core::ptr::from_ref(dev)
            .cast_mut()
            .cast::<bindings::device>();
        let a = self.attach(raw_dev, core::ptr::null(), core::ptr::null_mut())?;
        NonNull::new(a).ok_or(ENOMEM)
    }

    /// `dma_buf_vmap_unlocked`: the kernel address of the whole buffer.
    pub(crate) fn vmap_unlocked(&self) -> Result<*mut u8> {
        let guard = self.resv().lock();
        let map = crate::vmap::vmap(self, &guard)?;
        if map.is_iomem {
            crate::vmap::vunmap(self, &guard, &map);
            return Err(EINVAL);
        }
        // SAFETY: A system-memory map; `vaddr` is the active member.
        Ok(unsafe { map.__bindgen_anon_1.vaddr }.cast())
    }

    /// `dma_buf_vunmap_unlocked` of an address from [`DmaBuf::vmap_unlocked`].
    pub(crate) fn vunmap_unlocked(&self, vaddr: *mut u8) {
        let mut map = crate::vmap::CLEARED;
        map.__bindgen_anon_1.vaddr = vaddr.cast();
        let guard = self.resv().lock();
        crate::vmap::vunmap(self, &guard, &map);
    }

    /// The vmap count (read under the resv lock).
    pub(crate) fn vmap_count(&self) -> u32 {
        let guard = self.resv().lock();
        self.vmap_state(&guard).0
    }

    /// The number of attachments.
    pub(crate) fn attachment_count(&self) -> usize {
        let guard = self.resv().lock();
        let mut n = 0;
        self.for_each_attachment(&guard, |_| n += 1);
        n
    }
}

/// Maps a raw attachment (`dma_buf_map_attachment_unlocked`).
///
/// # Safety
///
/// `a` must be a live attachment.
pub(crate) unsafe fn map_unlocked(
    a: NonNull<bindings::dma_buf_attachment>,
    dir: DataDirection,
) -> Result<NonNull<bindings::sg_table>> {
    // SAFETY: By the safety requirements.
    let buf = unsafe { Attachment::from_raw(a.as_ptr()) }.dma_buf();
    let guard = buf.resv().lock();
    // SAFETY: By the safety requirements; `guard` is this buffer's lock.
    unsafe { map_locked(a, &guard, dir) }
}

/// Maps a raw attachment with the caller holding the reservation lock
/// (`dma_buf_map_attachment`). `EINVAL` if `held` is another buffer's lock.
///
/// # Safety
///
/// `a` must be a live attachment.
pub(crate) unsafe fn map_locked(
    a: NonNull<bindings::dma_buf_attachment>,
    held: &ResvHeld<'_>,
    dir: DataDirection,
) -> Result<NonNull<bindings::sg_table>> {
    // SAFETY: By the safety requirements.
    let a = unsafe { Attachment::from_raw(a.as_ptr()) };
    if !core::ptr::eq(held.resv(), a.dma_buf().resv()) {
        return Err(EINVAL);
    }
    let t = crate::attachment::map(a, held, raw_dir(dir))?;
    NonNull::new(t).ok_or(ENOMEM)
}

/// Unmaps a table from [`map_locked`] with the lock held.
///
/// # Safety
///
/// `t` must come from [`map_locked`] on `a` with `dir`, and `held` must be
/// the lock of `a`'s buffer.
pub(crate) unsafe fn unmap_locked(
    a: NonNull<bindings::dma_buf_attachment>,
    held: &ResvHeld<'_>,
    t: NonNull<bindings::sg_table>,
    dir: DataDirection,
) {
    // SAFETY: By the safety requirements.
    unsafe {
        crate::attachment::unmap(
            Attachment::from_raw(a.as_ptr()),
            held,
            t.as_ptr(),
            raw_dir(dir),
        )
    };
}

/// Unmaps a table from [`map_unlocked`].
///
/// # Safety
///
/// `t` must come from [`map_unlocked`] on `a` with `dir`.
pub(crate) unsafe fn unmap_unlocked(
    a: NonNull<bindings::dma_buf_attachment>,
    t: NonNull<bindings::sg_table>,
    dir: DataDirection,
) {
    // SAFETY: By the safety requirements.
    let buf = unsafe { Attachment::from_raw(a.as_ptr()) }.dma_buf();
    let guard = buf.resv().lock();
    // SAFETY: By the safety requirements; `guard` is this buffer's lock.
    unsafe { unmap_locked(a, &guard, t, dir) };
}

/// Borrows a mapped table as the kernel's [`SGTable`].
///
/// # Safety
///
/// `t` must be a live mapped table for `'a`.
pub(crate) unsafe fn borrow_table<'a>(t: NonNull<bindings::sg_table>) -> &'a SGTable {
    // SAFETY: By the safety requirements.
    unsafe { SGTable::from_raw(t.as_ptr()) }
}

/// Detaches a raw attachment.
///
/// # Safety
///
/// `a` must be a live, unmapped attachment of `buf`.
pub(crate) unsafe fn detach(buf: &DmaBuf, a: NonNull<bindings::dma_buf_attachment>) {
    // SAFETY: By the safety requirements.
    unsafe { buf.detach(a.as_ptr()) };
}

/// A table an exporter builds for an importer: a kmalloc'ed `sg_table`
/// whose ownership passes to the importer until unmap.
///
/// # Invariants
///
/// `ptr` is a kmalloc'ed, allocated `sg_table` owned by this object.
pub(crate) struct OwnedTable {
    ptr: NonNull<bindings::sg_table>,
}

// SAFETY: The table is plain memory owned by this object.
unsafe impl Send for OwnedTable {}

impl OwnedTable {
    /// Builds a table over `pages` (merged into as few entries as the
    /// pages allow), not DMA-mapped.
    pub(crate) fn from_pages(pages: &[Page]) -> Result<Self> {
        let mut raw: KVec<*mut bindings::page> = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        for p in pages {
            raw.push(p.as_ptr(), GFP_KERNEL)?;
        }
        let t = KBox::new(
            // SAFETY: Zero is a valid empty `sg_table`.
            unsafe { core::mem::zeroed::<bindings::sg_table>() },
            GFP_KERNEL,
        )?;
        let t = KBox::into_raw(t);
        let n = u32::try_from(pages.len())?;
        let size = (pages.len() as u64) << bindings::PAGE_SHIFT;
        // SAFETY: `t` is ours; `raw` holds `n` valid pages.
        let ret = unsafe {
            bindings::sg_alloc_table_from_pages_segment(
                t,
                raw.as_mut_ptr(),
                n,
                0,
                size as kernel::ffi::c_ulong,
                u32::MAX,
                bindings::GFP_KERNEL,
            )
        };
        if ret != 0 {
            // SAFETY: Never allocated inside; free the box.
            drop(unsafe { KBox::from_raw(t) });
            return to_result(ret).map(|()| unreachable!());
        }
        // INVARIANT: Allocated above.
        Ok(OwnedTable {
            // SAFETY: From `KBox::into_raw`, never NULL.
            ptr: unsafe { NonNull::new_unchecked(t) },
        })
    }

    /// Builds a table with one entry per chunk of contiguous pages.
    pub(crate) fn from_chunks(chunks: &[super::mem::Chunk]) -> Result<Self> {
        let t = KBox::into_raw(KBox::new(
            // SAFETY: Zero is a valid empty `sg_table`.
            unsafe { core::mem::zeroed::<bindings::sg_table>() },
            GFP_KERNEL,
        )?);
        // SAFETY: `t` is ours.
        let ret = unsafe {
            bindings::sg_alloc_table(t, u32::try_from(chunks.len())?, bindings::GFP_KERNEL)
        };
        if ret != 0 {
            // SAFETY: Nothing was allocated inside; free the box.
            drop(unsafe { KBox::from_raw(t) });
            return Err(Error::from_errno(ret));
        }
        // SAFETY: The table has one entry per chunk; each chunk's pages
        // are contiguous and stay allocated while the table is used.
        unsafe {
            let mut sg = (*t).sgl;
            for c in chunks {
                super::dmabuf_rs_sg_set_page(sg, c.first_page(), u32::try_from(c.len())?, 0);
                sg = bindings::sg_next(sg);
            }
        }
        // INVARIANT: Allocated above.
        Ok(OwnedTable {
            // SAFETY: From `KBox::into_raw`.
            ptr: unsafe { NonNull::new_unchecked(t) },
        })
    }

    /// The raw table.
    pub(crate) fn as_raw(&self) -> *mut bindings::sg_table {
        self.ptr.as_ptr()
    }

    /// The number of entries.
    pub(crate) fn nents(&self) -> u32 {
        // SAFETY: Valid by the type invariant.
        unsafe { (*self.ptr.as_ptr()).nents }
    }

    fn into_raw(self) -> *mut bindings::sg_table {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }

    /// # Safety
    ///
    /// `p` must come from [`OwnedTable::into_raw`].
    unsafe fn from_raw(p: *mut bindings::sg_table) -> Self {
        // INVARIANT: By the safety requirements.
        OwnedTable {
            // SAFETY: Non-NULL by the safety requirements.
            ptr: unsafe { NonNull::new_unchecked(p) },
        }
    }
}

impl Drop for OwnedTable {
    fn drop(&mut self) {
        // SAFETY: Owned by the type invariant.
        unsafe {
            bindings::sg_free_table(self.ptr.as_ptr());
            drop(KBox::from_raw(self.ptr.as_ptr()));
        }
    }
}

/// The `dma_buf_ops` table of exporter type `T`.
struct OpsTable<T>(PhantomData<T>);

impl<T: Exporter> OpsTable<T> {
    const OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
        map_dma_buf: Some(map_tramp::<T>),
        unmap_dma_buf: Some(unmap_tramp::<T>),
        release: Some(release_tramp::<T>),
        begin_cpu_access: if T::HAS_BEGIN_CPU_ACCESS {
            Some(begin_tramp::<T>)
        } else {
            None
        },
        end_cpu_access: if T::HAS_END_CPU_ACCESS {
            Some(end_tramp::<T>)
        } else {
            None
        },
        vmap: if T::HAS_VMAP {
            Some(vmap_tramp::<T>)
        } else {
            None
        },
        mmap: if T::HAS_MMAP {
            Some(mmap_tramp::<T>)
        } else {
            None
        },
        vunmap: if T::HAS_VMAP {
            Some(vunmap_tramp::<T>)
        } else {
            None
        },
        // SAFETY: All-zero is a valid ops table (no other operation).
        ..unsafe { core::mem::zeroed() }
    };

    fn build() -> &'static bindings::dma_buf_ops {
        &Self::OPS
    }
}

/// # Safety
///
/// `buf` must be a live buffer exported with `T`.
unsafe fn data<'a, T: Exporter>(buf: *mut bindings::dma_buf) -> &'a T {
    // SAFETY: By the safety requirements `priv` is a live `T`.
    unsafe { &*(*buf).priv_.cast::<T>() }
}

/// `map_dma_buf` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live attachment of a buffer exported with
/// `T`, holding the buffer's reservation lock.
unsafe extern "C" fn map_tramp<T: Exporter>(
    a: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The core calls this with a live attachment of a `T` buffer.
    let (t, a) = unsafe { (data::<T>((*a).dmabuf), Attachment::from_raw(a)) };
    match t.map(a, from_raw_dir(dir)) {
        Ok(table) => table.into_raw(),
        Err(e) => e.to_ptr(),
    }
}

/// `unmap_dma_buf` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live attachment of a buffer exported with
/// `T`, holding the buffer's reservation lock, and with a `table` that
/// [`map_tramp`] returned for that attachment and that is not used
/// afterwards.
unsafe extern "C" fn unmap_tramp<T: Exporter>(
    a: *mut bindings::dma_buf_attachment,
    table: *mut bindings::sg_table,
    dir: bindings::dma_data_direction,
) {
    // SAFETY: As in `map_tramp`; `table` came from it.
    unsafe {
        let t = data::<T>((*a).dmabuf);
        t.unmap(
            Attachment::from_raw(a),
            OwnedTable::from_raw(table),
            from_raw_dir(dir),
        );
    }
}

/// `release` of exporter type `T`: frees the exporter data.
///
/// # Safety
///
/// The core calls this exactly once, when the last reference to a buffer
/// exported with `T` is gone; its `priv` is the `KBox<T>` given at export.
unsafe extern "C" fn release_tramp<T: Exporter>(buf: *mut bindings::dma_buf) {
    // SAFETY: Called once at the end; `priv` is the `KBox<T>` given at export.
    let data = unsafe { KBox::from_raw((*buf).priv_.cast::<T>()) };
    T::release(data);
}

/// `begin_cpu_access` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live buffer exported with `T`.
unsafe extern "C" fn begin_tramp<T: Exporter>(
    buf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> i32 {
    // SAFETY: A live `T` buffer.
    match unsafe { data::<T>(buf) }.begin_cpu_access(from_raw_dir(dir)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `end_cpu_access` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live buffer exported with `T`.
unsafe extern "C" fn end_tramp<T: Exporter>(
    buf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> i32 {
    // SAFETY: A live `T` buffer.
    match unsafe { data::<T>(buf) }.end_cpu_access(from_raw_dir(dir)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `vmap` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live buffer exported with `T`, holding its
/// reservation lock, and with `map` valid for writes.
unsafe extern "C" fn vmap_tramp<T: Exporter>(
    buf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) -> i32 {
    // SAFETY: A live `T` buffer; `map` is a valid out parameter.
    match unsafe { data::<T>(buf) }.vmap() {
        Ok(vaddr) => {
            // SAFETY: Valid out parameter; a system-memory address.
            unsafe {
                (*map).__bindgen_anon_1.vaddr = vaddr.cast();
                (*map).is_iomem = false;
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `vunmap` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live buffer exported with `T`, holding its
/// reservation lock, and with a valid `map` that [`vmap_tramp`] filled in.
unsafe extern "C" fn vunmap_tramp<T: Exporter>(
    buf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) {
    // SAFETY: A live `T` buffer; `map` is what `vmap_tramp` returned.
    unsafe { data::<T>(buf).vunmap((*map).__bindgen_anon_1.vaddr.cast()) };
}

/// `mmap` of exporter type `T`.
///
/// # Safety
///
/// The core calls this with a live buffer exported with `T` and a valid
/// VMA that is being set up under the mmap lock.
unsafe extern "C" fn mmap_tramp<T: Exporter>(
    buf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
) -> i32 {
    // SAFETY: A live `T` buffer; the VMA is being set up by mmap.
    let (t, vma) = unsafe { (data::<T>(buf), super::mem::Vma::from_raw(vma)) };
    match t.mmap(&vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `vmap` of pages into one contiguous kernel range.
pub(crate) fn vmap_pages(pages: &[Page]) -> Result<*mut u8> {
    let mut raw: KVec<*mut bindings::page> = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
    for p in pages {
        raw.push(p.as_ptr(), GFP_KERNEL)?;
    }
    vmap_raw(raw)
}

/// `vmap` of every page of `chunks`.
pub(crate) fn vmap_chunks(chunks: &[super::mem::Chunk]) -> Result<*mut u8> {
    let total = chunks.iter().map(|c| c.pages()).sum();
    let mut raw: KVec<*mut bindings::page> = KVec::with_capacity(total, GFP_KERNEL)?;
    for c in chunks {
        for i in 0..c.pages() {
            raw.push(c.nth_page(i), GFP_KERNEL)?;
        }
    }
    vmap_raw(raw)
}

fn vmap_raw(mut raw: KVec<*mut bindings::page>) -> Result<*mut u8> {
    // SAFETY: `raw` holds valid pages; the flags are standard.
    let va = unsafe { super::dmabuf_rs_vmap_pages(raw.as_mut_ptr(), u32::try_from(raw.len())?) };
    if va.is_null() {
        return Err(ENOMEM);
    }
    Ok(va.cast())
}

/// Undoes [`vmap_pages`].
///
/// # Safety
///
/// `va` must come from [`vmap_pages`] and not be used afterwards.
pub(crate) unsafe fn vunmap_pages(va: *mut u8) {
    // SAFETY: By the safety requirements.
    unsafe { super::dmabuf_rs_vunmap(va.cast()) };
}
