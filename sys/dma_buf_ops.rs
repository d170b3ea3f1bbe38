// SPDX-License-Identifier: GPL-2.0
//! `struct dma_buf_ops`: calling an exporter's operations, and building the
//! table of a Rust exporter.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)
//!
//! The calls here are `unsafe`: each states the locking its C contract
//! requires. The one place that makes them, with the locks proven by
//! types, is `dma_buf/exporter_ops.rs`.

use super::attachment::Attachment;
use super::check;
use super::dma_buf::DmaBuf;
use super::iosys_map::IosysMap;
use super::sg_table::{MappedTable, OwnedTable};
use kernel::bindings;
use kernel::dma::DataDirection;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;

/// An exporter's operation table.
#[repr(transparent)]
pub(crate) struct DmaBufOps(bindings::dma_buf_ops);

// SAFETY: An immutable table of function pointers.
unsafe impl Sync for DmaBufOps {}

/// Converts a C direction (as the trampolines receive it) to the kernel
/// type; C importers only pass the four values of the enum.
fn direction_of(dir: bindings::dma_data_direction) -> DataDirection {
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

/// `enum dma_data_direction` as C callers pass it to the exported API.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct CDirection(bindings::dma_data_direction);

impl CDirection {
    /// The direction, or `None` for a value outside the C enum.
    pub(crate) fn get(self) -> Option<DataDirection> {
        let v = self.0;
        (v == bindings::dma_data_direction::DMA_TO_DEVICE
            || v == bindings::dma_data_direction::DMA_FROM_DEVICE
            || v == bindings::dma_data_direction::DMA_NONE
            || v == bindings::dma_data_direction::DMA_BIDIRECTIONAL)
            .then(|| direction_of(v))
    }
}

impl DmaBufOps {
    /// Borrows a table; `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a table that is never freed nor changed.
    pub(crate) unsafe fn from_raw(ptr: *const bindings::dma_buf_ops) -> Option<&'static Self> {
        // SAFETY: By the safety requirements.
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    /// The raw pointer.
    pub(crate) fn as_raw(&'static self) -> *const bindings::dma_buf_ops {
        &self.0
    }

    /// Whether the mandatory `map_dma_buf`, `unmap_dma_buf` and `release`
    /// are all there.
    pub(crate) fn has_mandatory(&self) -> bool {
        self.0.map_dma_buf.is_some() && self.0.unmap_dma_buf.is_some() && self.0.release.is_some()
    }

    /// Whether `pin` and `unpin` come as a pair (both or neither).
    pub(crate) fn pin_pair_ok(&self) -> bool {
        self.0.pin.is_some() == self.0.unpin.is_some()
    }

    /// Whether the exporter is dynamic (has `pin`).
    #[inline]
    pub(crate) fn can_pin(&self) -> bool {
        self.0.pin.is_some()
    }

    /// Whether the exporter implements `mmap`.
    #[inline]
    pub(crate) fn has_mmap(&self) -> bool {
        self.0.mmap.is_some()
    }

    /// Whether the exporter implements `vmap`.
    #[inline]
    pub(crate) fn has_vmap(&self) -> bool {
        self.0.vmap.is_some()
    }

    /// `attach` (optional; no resv lock).
    ///
    /// # Safety
    ///
    /// `a` must be a new attachment of `buf`, which uses this table.
    #[inline]
    pub(crate) unsafe fn attach(&self, buf: &DmaBuf, a: &Attachment) -> Result {
        match self.0.attach {
            // SAFETY: By the safety requirements.
            Some(f) => check(unsafe { f(buf.as_raw(), a.as_raw()) }),
            None => Ok(()),
        }
    }

    /// `detach` (optional; no resv lock).
    ///
    /// # Safety
    ///
    /// `a` must be an unlinked attachment of `buf`, which uses this table.
    #[inline]
    pub(crate) unsafe fn detach(&self, buf: &DmaBuf, a: &Attachment) {
        if let Some(f) = self.0.detach {
            // SAFETY: By the safety requirements.
            unsafe { f(buf.as_raw(), a.as_raw()) };
        }
    }

    /// `pin` (optional; resv held).
    ///
    /// # Safety
    ///
    /// `a`'s buffer uses this table, and its resv lock is held.
    #[inline]
    pub(crate) unsafe fn pin(&self, a: &Attachment) -> Result {
        match self.0.pin {
            // SAFETY: By the safety requirements.
            Some(f) => check(unsafe { f(a.as_raw()) }),
            None => Ok(()),
        }
    }

    /// `unpin` (optional; resv held).
    ///
    /// # Safety
    ///
    /// `a`'s buffer uses this table, and its resv lock is held.
    #[inline]
    pub(crate) unsafe fn unpin(&self, a: &Attachment) {
        if let Some(f) = self.0.unpin {
            // SAFETY: By the safety requirements.
            unsafe { f(a.as_raw()) };
        }
    }

    /// `map_dma_buf` (mandatory; resv held). A NULL table is `ENOMEM`.
    ///
    /// # Safety
    ///
    /// `a`'s buffer uses this table, and its resv lock is held.
    #[inline]
    pub(crate) unsafe fn map(&self, a: &Attachment, dir: DataDirection) -> Result<MappedTable> {
        let f = self.0.map_dma_buf.ok_or(EINVAL)?;
        // SAFETY: By the safety requirements.
        let t = super::check_ptr(unsafe { f(a.as_raw(), dir.into()) })?;
        // SAFETY: The exporter hands the table over until unmap.
        unsafe { MappedTable::from_raw(t.cast()) }.ok_or(ENOMEM)
    }

    /// `unmap_dma_buf` (mandatory; resv held).
    ///
    /// # Safety
    ///
    /// `a`'s buffer uses this table, its resv lock is held, and `t` came
    /// from [`DmaBufOps::map`] on `a`.
    #[inline]
    pub(crate) unsafe fn unmap(&self, a: &Attachment, t: MappedTable, dir: DataDirection) {
        if let Some(f) = self.0.unmap_dma_buf {
            // SAFETY: By the safety requirements.
            unsafe { f(a.as_raw(), t.into_raw().cast(), dir.into()) };
        }
    }

    /// `release` (mandatory; called once, no lock).
    ///
    /// # Safety
    ///
    /// `buf` uses this table, and nothing uses it any more.
    pub(crate) unsafe fn release(&self, buf: &DmaBuf) {
        if let Some(f) = self.0.release {
            // SAFETY: By the safety requirements.
            unsafe { f(buf.as_raw()) };
        }
    }

    /// `begin_cpu_access` (optional; no resv lock).
    ///
    /// # Safety
    ///
    /// `buf` uses this table, and the resv lock is not held.
    #[inline]
    pub(crate) unsafe fn begin_cpu_access(&self, buf: &DmaBuf, dir: DataDirection) -> Result {
        match self.0.begin_cpu_access {
            // SAFETY: By the safety requirements.
            Some(f) => check(unsafe { f(buf.as_raw(), dir.into()) }),
            None => Ok(()),
        }
    }

    /// `end_cpu_access` (optional; no resv lock).
    ///
    /// # Safety
    ///
    /// `buf` uses this table, and the resv lock is not held.
    #[inline]
    pub(crate) unsafe fn end_cpu_access(&self, buf: &DmaBuf, dir: DataDirection) -> Result {
        match self.0.end_cpu_access {
            // SAFETY: By the safety requirements.
            Some(f) => check(unsafe { f(buf.as_raw(), dir.into()) }),
            None => Ok(()),
        }
    }

    /// `mmap` (optional: `EINVAL` without it; no resv lock).
    ///
    /// # Safety
    ///
    /// `buf` uses this table and `vma` is being set up for it.
    pub(crate) unsafe fn mmap(&self, buf: &DmaBuf, vma: &VmaNew) -> Result {
        let f = self.0.mmap.ok_or(EINVAL)?;
        // SAFETY: By the safety requirements.
        check(unsafe { f(buf.as_raw(), vma.as_ptr()) })
    }

    /// `vmap` (optional: `EINVAL` without it; resv held).
    ///
    /// # Safety
    ///
    /// `buf` uses this table, and its resv lock is held.
    #[inline]
    pub(crate) unsafe fn vmap(&self, buf: &DmaBuf) -> Result<IosysMap> {
        let f = self.0.vmap.ok_or(EINVAL)?;
        let mut map = IosysMap::CLEARED;
        // SAFETY: By the safety requirements; `map` is a valid out parameter.
        check(unsafe { f(buf.as_raw(), map.as_raw_mut()) })?;
        Ok(map)
    }

    /// `vunmap` (optional; resv held). The exporter may change `map`.
    ///
    /// # Safety
    ///
    /// `buf` uses this table, its resv lock is held, and `map` came from
    /// [`DmaBufOps::vmap`] on it.
    #[inline]
    pub(crate) unsafe fn vunmap(&self, buf: &DmaBuf, map: &mut IosysMap) {
        if let Some(f) = self.0.vunmap {
            // SAFETY: By the safety requirements.
            unsafe { f(buf.as_raw(), map.as_raw_mut()) };
        }
    }

    /// The table of Rust exporter type `T`.
    pub(crate) const fn of<T: ExporterCallbacks>() -> &'static DmaBufOps {
        &OpsTable::<T>::OPS
    }
}

impl DmaBuf {
    /// The exporter's operations.
    #[inline]
    pub(crate) fn ops(&self) -> &'static DmaBufOps {
        // SAFETY: Set at allocation to a static table and constant, by the
        // type invariant of `DmaBuf`.
        unsafe { &*(*self.as_raw()).ops.cast::<DmaBufOps>() }
    }
}

/// What a Rust exporter provides, as the C table calls it. The contract of
/// each method (which lock is held, what it must do) is documented on the
/// safe `Exporter` trait of `dma_buf/exporter.rs`, which implements this
/// one for every exporter.
pub(crate) trait ExporterCallbacks: Sized + Send + Sync + 'static {
    /// Whether `begin_cpu_access` is implemented.
    const HAS_BEGIN_CPU_ACCESS: bool;
    /// Whether `end_cpu_access` is implemented.
    const HAS_END_CPU_ACCESS: bool;
    /// Whether `mmap` is implemented.
    const HAS_MMAP: bool;
    /// Whether `vmap` and `vunmap` are implemented.
    const HAS_VMAP: bool;
    /// Whether `detach` is implemented.
    const HAS_DETACH: bool;

    /// `map_dma_buf`.
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable>;
    /// `unmap_dma_buf`.
    fn unmap(&self, attach: &Attachment, table: OwnedTable, dir: DataDirection);
    /// `release`; the data is dropped in place right after.
    fn release(self: Pin<&mut Self>);
    /// `begin_cpu_access`.
    fn begin_cpu_access(&self, dir: DataDirection) -> Result;
    /// `end_cpu_access`.
    fn end_cpu_access(&self, dir: DataDirection) -> Result;
    /// `mmap`.
    fn mmap(&self, vma: &VmaNew) -> Result;
    /// `vmap`.
    fn vmap(&self) -> Result<IosysMap>;
    /// `vunmap`; afterwards the caller's map is cleared.
    fn vunmap(&self, map: &IosysMap);
    /// `detach`.
    fn detach(&self, attach: &Attachment);
}

/// The `dma_buf_ops` table of exporter type `T`.
struct OpsTable<T>(core::marker::PhantomData<T>);

impl<T: ExporterCallbacks> OpsTable<T> {
    const OPS: DmaBufOps = DmaBufOps(bindings::dma_buf_ops {
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
        mmap: if T::HAS_MMAP {
            Some(mmap_tramp::<T>)
        } else {
            None
        },
        vmap: if T::HAS_VMAP {
            Some(vmap_tramp::<T>)
        } else {
            None
        },
        vunmap: if T::HAS_VMAP {
            Some(vunmap_tramp::<T>)
        } else {
            None
        },
        detach: if T::HAS_DETACH {
            Some(detach_tramp::<T>)
        } else {
            None
        },
        ..pin_init::zeroed()
    });
}

/// The exporter data of a buffer of type `T`.
///
/// # Safety
///
/// `buf` must be a live buffer exported with `T`'s table, whose `priv` is a
/// live `T`.
unsafe fn data<'a, T>(buf: *mut bindings::dma_buf) -> &'a T {
    // SAFETY: By the safety requirements.
    unsafe { &*DmaBuf::from_raw(buf).priv_data().cast::<T>() }
}

/// Converts a `Result` into 0 or a negative errno.
fn errno(r: Result) -> i32 {
    r.err().map_or(0, |e| e.to_errno())
}

/// # Safety
///
/// The core calls this with a live attachment of a `T` buffer, resv held.
unsafe extern "C" fn map_tramp<T: ExporterCallbacks>(
    a: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: A live attachment of a `T` buffer.
    let (t, a) = unsafe { (data::<T>((*a).dmabuf), Attachment::from_raw(a)) };
    match t.map(a, direction_of(dir)) {
        Ok(table) => table.into_mapped().into_raw().cast(),
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// The core calls this with a live attachment of a `T` buffer, resv held,
/// and a table [`map_tramp`] returned for it.
unsafe extern "C" fn unmap_tramp<T: ExporterCallbacks>(
    a: *mut bindings::dma_buf_attachment,
    table: *mut bindings::sg_table,
    dir: bindings::dma_data_direction,
) {
    // SAFETY: As above; the table came from `map_tramp`, so it is an
    // `OwnedTable` given away with `into_mapped`.
    unsafe {
        let Some(mapped) = MappedTable::from_raw(table.cast()) else {
            return;
        };
        let t = data::<T>((*a).dmabuf);
        t.unmap(
            Attachment::from_raw(a),
            OwnedTable::from_mapped(mapped),
            direction_of(dir),
        );
    }
}

/// # Safety
///
/// The core calls this with an attachment of a `T` buffer that it has
/// just unlinked (no resv lock), before freeing it.
unsafe extern "C" fn detach_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    a: *mut bindings::dma_buf_attachment,
) {
    // SAFETY: A live `T` buffer and an attachment of it, still allocated.
    let (t, a) = unsafe { (data::<T>(buf), Attachment::from_raw(a)) };
    t.detach(a);
}

/// # Safety
///
/// Called once, when a `T` buffer dies; its `priv` is the `T` that
/// `ExportInfo::alloc_with` initialized in the buffer's allocation, and
/// nothing uses it afterwards.
unsafe extern "C" fn release_tramp<T: ExporterCallbacks>(buf: *mut bindings::dma_buf) {
    // SAFETY: By the safety requirements.
    let data = unsafe { DmaBuf::from_raw(buf) }.priv_data().cast::<T>();
    // SAFETY: The data is live and never moves (it is freed in place with
    // the buffer), and ours alone now.
    T::release(unsafe { Pin::new_unchecked(&mut *data) });
    // SAFETY: As above; the buffer's memory is freed after this returns.
    unsafe { core::ptr::drop_in_place(data) };
}

/// # Safety
///
/// The core calls this with a live `T` buffer.
unsafe extern "C" fn begin_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> i32 {
    // SAFETY: A live `T` buffer.
    errno(unsafe { data::<T>(buf) }.begin_cpu_access(direction_of(dir)))
}

/// # Safety
///
/// The core calls this with a live `T` buffer.
unsafe extern "C" fn end_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> i32 {
    // SAFETY: A live `T` buffer.
    errno(unsafe { data::<T>(buf) }.end_cpu_access(direction_of(dir)))
}

/// # Safety
///
/// The core calls this with a live `T` buffer, resv held, and `map` valid
/// for writes.
unsafe extern "C" fn vmap_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) -> i32 {
    // SAFETY: A live `T` buffer.
    match unsafe { data::<T>(buf) }.vmap() {
        Ok(m) => {
            // SAFETY: A valid out parameter.
            unsafe { *map = m.into_c() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// The core calls this with a live `T` buffer, resv held, and the `map`
/// that [`vmap_tramp`] filled in.
unsafe extern "C" fn vunmap_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    map: *mut bindings::iosys_map,
) {
    // SAFETY: A live `T` buffer and a valid map.
    unsafe { data::<T>(buf).vunmap(&IosysMap::from_c(*map)) };
    // The mapping is gone: the caller's map is cleared, as upstream's heaps
    // clear it in their `vunmap` (`iosys_map_clear`), so that an importer
    // does not keep a stale address (the core passes the importer's map).
    // SAFETY: `map` is valid for writes (the core's contract).
    unsafe { *map = IosysMap::CLEARED.into_c() };
}

/// # Safety
///
/// The core calls this with a live `T` buffer and a VMA being set up.
unsafe extern "C" fn mmap_tramp<T: ExporterCallbacks>(
    buf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
) -> i32 {
    // SAFETY: A live `T` buffer; the VMA is undergoing its initial set-up.
    let (t, vma) = unsafe { (data::<T>(buf), VmaNew::from_raw(vma)) };
    errno(t.mmap(vma))
}
