// SPDX-License-Identifier: GPL-2.0
//! The importer side of the safe Rust API.
//!
//! Every paired operation is a guard: an [`AttachmentGuard`] detaches on
//! drop, a [`Mapping`] unmaps, a [`CpuAccess`] ends the access bracket and a
//! [`Vmap`] drops its vmap reference. A guard borrows what it came from, so
//! a buffer cannot be detached while mapped, nor unbalanced calls written.
//! An [`AttachmentGuard`] holds its device (`ARef<Device>`), so the
//! attachment cannot outlive it (the core itself keeps no reference, as C).

use super::locked::LockedDmaBuf;
use crate::sys::attachment::Attachment;
use crate::sys::dma_buf::DmaBuf;
use crate::sys::iosys_map::IosysMap;
use crate::sys::sg_table::MappedTable;
use kernel::device::Device;
use kernel::dma::DataDirection;
use kernel::io::{io_project, Io, SysMem};
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::aref::ARef;

/// A device attached to a dma-buf; detaches on drop.
pub(crate) struct AttachmentGuard<'a> {
    buf: &'a DmaBuf,
    attach: &'a Attachment,
    /// The attached device, alive as long as the attachment (dropped
    /// after `drop` detached).
    _dev: ARef<Device>,
}

impl DmaBuf {
    /// Attaches `dev` as a static importer.
    pub(crate) fn attach_guard(&self, dev: ARef<Device>) -> Result<AttachmentGuard<'_>> {
        // SAFETY: The guard keeps `dev` until after it detached.
        let attach = unsafe { self.attach(&dev, None, core::ptr::null_mut())? };
        Ok(AttachmentGuard {
            buf: self,
            attach,
            _dev: dev,
        })
    }

    /// Starts CPU access in `dir` (exporter cache maintenance plus the
    /// implicit fence wait); the returned bracket ends it on drop.
    pub(crate) fn begin_cpu_access_guard(&self, dir: DataDirection) -> Result<CpuAccess<'_>> {
        self.begin_kernel_cpu_access(dir)?;
        Ok(CpuAccess { buf: self, dir })
    }

    /// Maps the whole buffer into the kernel (counted and cached); only
    /// system memory is offered through this API.
    pub(crate) fn vmap_guard(&self) -> Result<Vmap<'_>> {
        let locked = self.lock();
        let mut map = locked.vmap()?;
        if map.vaddr().is_none() {
            locked.vunmap(&mut map);
            return Err(EINVAL);
        }
        Ok(Vmap { buf: self, map })
    }
}

impl AttachmentGuard<'_> {
    /// Maps the attachment while the caller holds the buffer's reservation
    /// lock; the mapping cannot outlive that lock. `EINVAL` if `locked` is
    /// another buffer's.
    pub(crate) fn map_locked<'g>(
        &'g self,
        locked: &'g LockedDmaBuf<'g>,
        dir: DataDirection,
    ) -> Result<LockedMapping<'g>> {
        if !core::ptr::eq(locked.buf(), self.buf) {
            return Err(EINVAL);
        }
        let table = locked.map(self.attach, dir)?;
        Ok(LockedMapping {
            attach: self,
            locked,
            table: Some(table),
            dir,
        })
    }

    /// Maps the attachment for DMA in `dir` (takes the lock itself).
    pub(crate) fn map(&self, dir: DataDirection) -> Result<Mapping<'_>> {
        let table = self.buf.lock().map(self.attach, dir)?;
        Ok(Mapping {
            attach: self,
            table: Some(table),
            dir,
        })
    }
}

impl Drop for AttachmentGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Unmapped (every mapping borrows the guard) and not used
        // again.
        unsafe { self.buf.detach(self.attach) };
    }
}

/// A mapped attachment; unmaps on drop.
pub(crate) struct Mapping<'a> {
    attach: &'a AttachmentGuard<'a>,
    /// Always `Some` until the drop takes it.
    table: Option<MappedTable>,
    dir: DataDirection,
}

impl Mapping<'_> {
    /// The DMA addresses of the buffer for the importer's device.
    pub(crate) fn table(&self) -> Option<&SGTable> {
        self.table.as_ref().map(MappedTable::table)
    }
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.table.take() {
            let a = self.attach;
            // SAFETY: `t` came from mapping this attachment with `dir`.
            unsafe { a.buf.lock().unmap(a.attach, t, self.dir) };
        }
    }
}

/// A mapping made under the reservation lock; unmapped (still under it)
/// on drop.
pub(crate) struct LockedMapping<'g> {
    attach: &'g AttachmentGuard<'g>,
    locked: &'g LockedDmaBuf<'g>,
    /// Always `Some` until the drop takes it.
    table: Option<MappedTable>,
    dir: DataDirection,
}

impl LockedMapping<'_> {
    /// The DMA addresses of the buffer for the importer's device.
    pub(crate) fn table(&self) -> Option<&SGTable> {
        self.table.as_ref().map(MappedTable::table)
    }
}

impl Drop for LockedMapping<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.table.take() {
            // SAFETY: `t` came from mapping this attachment under `locked`,
            // which is still held (it outlives `self`).
            unsafe { self.locked.unmap(self.attach.attach, t, self.dir) };
        }
    }
}

/// A CPU access bracket; `end_cpu_access` on drop.
pub(crate) struct CpuAccess<'a> {
    buf: &'a DmaBuf,
    dir: DataDirection,
}

impl Drop for CpuAccess<'_> {
    fn drop(&mut self) {
        // An exporter error at the end of a bracket cannot be returned from
        // a drop; it is reported.
        if let Err(e) = self.buf.end_kernel_cpu_access(self.dir) {
            pr_warn!("end_cpu_access failed: {:?}\n", e);
        }
    }
}

/// A kernel mapping of the whole buffer; drops its reference on drop.
///
/// # Invariants
///
/// `map` is a system-memory mapping of the whole buffer, counted once for
/// this object.
pub(crate) struct Vmap<'a> {
    buf: &'a DmaBuf,
    map: IosysMap,
}

impl Vmap<'_> {
    /// The kernel address.
    pub(crate) fn addr(&self) -> *mut u8 {
        self.map.vaddr().unwrap_or(core::ptr::null_mut())
    }

    /// The mapping as a [`SysMem`] view of the buffer's bytes.
    pub(crate) fn as_sys_mem(&self) -> SysMem<'_, [u8]> {
        // SAFETY: System memory of `size` bytes, mapped while `self` lives
        // (type invariant).
        unsafe { self.map.as_sys_mem(self.buf.size()) }
    }

    /// The bytes `offset..offset + len` of the mapping, `EINVAL` when out
    /// of the buffer.
    fn range(&self, offset: usize, len: usize) -> Result<SysMem<'_, [u8]>> {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        let mem = self.as_sys_mem();
        (|| -> Result<_> { Ok(io_project!(mem, [try: offset..end])) })().map_err(|_| EINVAL)
    }

    /// Copies `out.len()` bytes at `offset` out of the buffer, through the
    /// system-memory accessors: a device may be writing the same bytes.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.range(offset, out.len())?.copy_to_slice(out);
        Ok(())
    }

    /// Copies `data` into the buffer at `offset` (as [`Vmap::read`]).
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.range(offset, data.len())?.copy_from_slice(data);
        Ok(())
    }

    /// Page-wise access: the bytes of page `index`.
    pub(crate) fn read_page(&self, index: usize, out: &mut [u8; 4096]) -> Result {
        self.read(index.checked_mul(4096).ok_or(EINVAL)?, out)
    }
}

impl Drop for Vmap<'_> {
    fn drop(&mut self) {
        self.buf.lock().vunmap(&mut self.map);
    }
}

/// The device of a faux device registration, with a reference: the
/// importer's device in the KUnit cases (here and in `heaps/buffer.rs`).
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn faux_device(reg: &kernel::faux::Registration) -> ARef<Device> {
    let fdev: &kernel::faux::Device<kernel::device::Bound> = reg.as_ref();
    let dev: &Device<kernel::device::Bound> = fdev.as_ref();
    let dev: &Device = dev;
    dev.into()
}

/// KUnit tests of the object model through the safe API, with a Rust test
/// exporter whose pages and counters the tests control.
#[kunit_tests(dmabuf_rs)]
mod tests {
    use super::*;
    use crate::dma_buf::exporter::{Exporter, OwnedTable};
    use crate::sys::pages::{Chunk, Gfp, PageArray, PageVmap, Sharing};
    use crate::sys::pseudo_fs;
    use core::sync::atomic::{AtomicU32, Ordering};
    use kernel::faux;
    use kernel::new_mutex;
    use kernel::sync::Mutex;

    // What the test exporter saw, shared with the tests through statics
    // (KUnit runs the cases one after another).
    static MAPS: AtomicU32 = AtomicU32::new(0);
    static UNMAPS: AtomicU32 = AtomicU32::new(0);
    static BEGINS: AtomicU32 = AtomicU32::new(0);
    static ENDS: AtomicU32 = AtomicU32::new(0);
    static VMAPS: AtomicU32 = AtomicU32::new(0);
    static VUNMAPS: AtomicU32 = AtomicU32::new(0);
    // Drops and releases of exporters tagged `ERROR_TAG` only: buffers of
    // earlier cases may still be released late (a final `fput` from a
    // kernel thread is deferred), so untagged counts would race.
    static TAGGED_DROPS: AtomicU32 = AtomicU32::new(0);
    static TAGGED_RELEASES: AtomicU32 = AtomicU32::new(0);
    // `TAGGED_DROPS` when the last tagged release ran.
    static DROPS_AT_RELEASE: AtomicU32 = AtomicU32::new(0);
    const ERROR_TAG: u32 = 0xe770;

    fn tagged_counts() -> (u32, u32) {
        (
            TAGGED_DROPS.load(Ordering::SeqCst),
            TAGGED_RELEASES.load(Ordering::SeqCst),
        )
    }

    fn reset() {
        for c in [&MAPS, &UNMAPS, &BEGINS, &ENDS, &VMAPS, &VUNMAPS] {
            c.store(0, Ordering::SeqCst);
        }
    }

    #[pin_data]
    struct TestExporter {
        chunks: KVec<Chunk>,
        tag: u32,
        #[pin]
        vmap: Mutex<Option<PageVmap>>,
    }

    struct Data(Pin<KBox<TestExporter>>);

    impl Drop for Data {
        fn drop(&mut self) {
            if self.0.tag == ERROR_TAG {
                TAGGED_DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[vtable]
    impl Exporter for Data {
        fn map(&self, _attach: &Attachment, _dir: DataDirection) -> Result<OwnedTable> {
            MAPS.fetch_add(1, Ordering::SeqCst);
            let table = OwnedTable::from_chunks(&self.0.chunks)?;
            if table.nents() == 0 {
                return Err(EINVAL);
            }
            Ok(table)
        }

        fn unmap(&self, _attach: &Attachment, table: OwnedTable, _dir: DataDirection) {
            UNMAPS.fetch_add(1, Ordering::SeqCst);
            drop(table);
        }

        fn release(self: Pin<&mut Self>) {
            if self.0.tag == ERROR_TAG {
                let drops = TAGGED_DROPS.load(Ordering::SeqCst);
                DROPS_AT_RELEASE.store(drops, Ordering::SeqCst);
                TAGGED_RELEASES.fetch_add(1, Ordering::SeqCst);
            }
        }

        fn begin_cpu_access(&self, _dir: DataDirection) -> Result {
            // A begin must never run while the previous bracket is open.
            if BEGINS.load(Ordering::SeqCst) != ENDS.load(Ordering::SeqCst) {
                return Err(EBUSY);
            }
            BEGINS.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn end_cpu_access(&self, _dir: DataDirection) -> Result {
            ENDS.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn vmap(&self) -> Result<IosysMap> {
            VMAPS.fetch_add(1, Ordering::SeqCst);
            // SAFETY: The chunks live as long as the exporter, which drops
            // the mapping first (`vunmap`, or its own drop).
            let v = unsafe { PageVmap::new(&PageArray::new(&self.0.chunks)?, Sharing::Private)? };
            let map = IosysMap::sys(v.addr());
            *self.0.vmap.lock() = Some(v);
            Ok(map)
        }

        fn vunmap(&self, _map: &IosysMap) {
            VUNMAPS.fetch_add(1, Ordering::SeqCst);
            drop(self.0.vmap.lock().take());
        }
    }

    fn exporter(pages: usize, tag: u32) -> Result<Data> {
        let mut chunks = KVec::with_capacity(pages, GFP_KERNEL)?;
        for _ in 0..pages {
            chunks.push(
                Chunk::alloc_order(0, Gfp::HIGHUSER.with(Gfp::ZERO)).ok_or(ENOMEM)?,
                GFP_KERNEL,
            )?;
        }
        let inner = KBox::pin_init(
            pin_init!(TestExporter {
                chunks,
                tag,
                vmap <- new_mutex!(None, "TestExporter::vmap"),
            }),
            GFP_KERNEL,
        )?;
        Ok(Data(inner))
    }

    fn new_buffer(pages: usize) -> Result<ARef<DmaBuf>> {
        DmaBuf::export_rust(exporter(pages, 0)?, pages * 4096, 2, c"dmabuf_kunit")
    }

    fn attachment_count(buf: &DmaBuf) -> usize {
        let mut n = 0;
        buf.lock().for_each_attachment(|_| n += 1);
        n
    }

    #[test]
    fn export_and_refcount() -> Result {
        reset();
        let buf = new_buffer(3)?;
        assert_eq!(buf.size(), 3 * 4096);
        assert_eq!(DmaBuf::file_refs(&buf), 1);
        let second = buf.clone();
        assert_eq!(DmaBuf::file_refs(&buf), 2);
        drop(second);
        assert_eq!(DmaBuf::file_refs(&buf), 1);
        Ok(())
    }

    #[test]
    fn attach_detach_list() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-a", None)?;
        let buf = new_buffer(1)?;
        assert_eq!(attachment_count(&buf), 0);
        {
            let a = buf.attach_guard(faux_device(&dev))?;
            let b = buf.attach_guard(faux_device(&dev))?;
            assert_eq!(attachment_count(&buf), 2);
            drop(a);
            assert_eq!(attachment_count(&buf), 1);
            drop(b);
        }
        assert_eq!(attachment_count(&buf), 0);
        Ok(())
    }

    #[test]
    fn map_unmap_balanced() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-m", None)?;
        let buf = new_buffer(4)?;
        let a = buf.attach_guard(faux_device(&dev))?;
        {
            let m = a.map(DataDirection::Bidirectional)?;
            assert!(m.table().is_some_and(|t| t.iter().count() >= 1));
            assert_eq!(MAPS.load(Ordering::SeqCst), 1);
            assert_eq!(UNMAPS.load(Ordering::SeqCst), 0);
        }
        assert_eq!(UNMAPS.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[test]
    fn map_under_the_reservation_lock() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-l", None)?;
        let buf = new_buffer(2)?;
        let other = new_buffer(1)?;
        let a = buf.attach_guard(faux_device(&dev))?;
        {
            let locked = buf.lock();
            let m = a.map_locked(&locked, DataDirection::ToDevice)?;
            assert!(m.table().is_some_and(|t| t.iter().count() >= 1));
            assert_eq!(MAPS.load(Ordering::SeqCst), 1);
        }
        assert_eq!(UNMAPS.load(Ordering::SeqCst), 1);
        // Another buffer's lock is no proof for this one.
        let wrong = other.lock();
        assert_eq!(
            a.map_locked(&wrong, DataDirection::ToDevice).err(),
            Some(EINVAL)
        );
        assert_eq!(MAPS.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[test]
    fn vmap_is_refcounted_and_cached() -> Result {
        reset();
        let buf = new_buffer(2)?;
        {
            let v1 = buf.vmap_guard()?;
            let v2 = buf.vmap_guard()?;
            assert_eq!(v1.addr(), v2.addr());
            assert_eq!(buf.lock().vmap_count(), 2);
            assert_eq!(VMAPS.load(Ordering::SeqCst), 1);
            v1.write(4096 + 10, b"rust")?;
            let mut out = [0u8; 4];
            v2.read(4096 + 10, &mut out)?;
            assert_eq!(&out, b"rust");
            assert!(v1.read(2 * 4096 - 2, &mut out).is_err());
            let mut page = [0u8; 4096];
            v2.read_page(1, &mut page)?;
            assert_eq!(&page[10..14], b"rust");
            assert!(v2.read_page(2, &mut page).is_err());
            assert_eq!(v2.as_sys_mem().as_ptr().cast::<u8>(), v2.addr());
            drop(v1);
            assert_eq!(buf.lock().vmap_count(), 1);
            assert_eq!(VUNMAPS.load(Ordering::SeqCst), 0);
        }
        assert_eq!(buf.lock().vmap_count(), 0);
        assert_eq!(VUNMAPS.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[test]
    fn cpu_access_brackets() -> Result {
        reset();
        let buf = new_buffer(1)?;
        {
            let _b = buf.begin_cpu_access_guard(DataDirection::FromDevice)?;
            assert_eq!(BEGINS.load(Ordering::SeqCst), 1);
            assert_eq!(ENDS.load(Ordering::SeqCst), 0);
        }
        assert_eq!(ENDS.load(Ordering::SeqCst), 1);
        let _again = buf.begin_cpu_access_guard(DataDirection::ToDevice)?;
        assert_eq!(BEGINS.load(Ordering::SeqCst), 2);
        Ok(())
    }

    #[test]
    fn ledger_counts_mappings_and_brackets() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-o", None)?;
        let buf = new_buffer(1)?;
        assert!(buf.ledger().owner.when_ns() > 0);
        let maps = |buf: &DmaBuf| {
            let mut n = [9u32; 4];
            buf.lock()
                .for_each_attachment(|a| n = a.ledger().maps.get());
            n
        };
        let a = buf.attach_guard(faux_device(&dev))?;
        assert_eq!(maps(&buf), [0; 4]);
        {
            let _m = a.map(DataDirection::ToDevice)?;
            let _n = a.map(DataDirection::FromDevice)?;
            assert_eq!(maps(&buf), [0, 1, 1, 0]);
            let _c = buf.begin_cpu_access_guard(DataDirection::FromDevice)?;
            assert_eq!(buf.ledger().cpu.get(), [0, 0, 1, 0]);
        }
        assert_eq!(maps(&buf), [0; 4]);
        assert_eq!(buf.ledger().cpu.get(), [0; 4]);
        // A userspace-style bracket (the SYNC ioctl's) is not counted.
        buf.begin_cpu_access(DataDirection::ToDevice)?;
        assert_eq!(buf.ledger().cpu.get(), [0; 4]);
        buf.end_cpu_access(DataDirection::ToDevice)?;
        Ok(())
    }

    #[test]
    fn export_error_gives_the_data_back() -> Result {
        reset();
        let (drops, releases) = tagged_counts();
        let data = exporter(0, ERROR_TAG)?;
        // A size no file can have: the export fails after allocating the
        // object, and everything must be undone without calling release.
        let r = DmaBuf::export_rust(data, usize::MAX, 2, c"dmabuf_kunit");
        assert_eq!(r.err(), Some(EINVAL));
        assert_eq!(tagged_counts(), (drops + 1, releases));
        // A failing initializer: nothing to drop, the allocation is freed
        // (kmemleak would report it otherwise).
        let r = DmaBuf::export_rust::<Data, Error>(Err(ENOMEM), 4096, 2, c"dmabuf_kunit");
        assert_eq!(r.err(), Some(ENOMEM));
        assert_eq!(tagged_counts(), (drops + 1, releases));
        Ok(())
    }

    #[test]
    fn last_put_releases_then_drops_once() -> Result {
        let (drops, releases) = tagged_counts();
        let buf = DmaBuf::export_rust(exporter(2, ERROR_TAG)?, 2 * 4096, 2, c"dmabuf_kunit")?;
        // The data lives in the buffer's allocation, right after it.
        let data = buf.priv_data() as usize;
        let base = buf.as_raw() as usize;
        assert!(data > base && data - base < 1024);
        assert_eq!(tagged_counts(), (drops, releases));
        DmaBuf::put(buf);
        // A kernel thread's last `fput` is deferred: run it.
        pseudo_fs::flush_deferred_fputs();
        assert_eq!(tagged_counts(), (drops + 1, releases + 1));
        // `release` ran before the drop.
        assert_eq!(DROPS_AT_RELEASE.load(Ordering::SeqCst), drops);
        Ok(())
    }
}
