// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of the object model, through the safe Rust API and a Rust
//! test exporter whose pages and counters the tests control.

use crate::exporter::{Exporter, OwnedTable};
use crate::ffi::object::{Attachment, DmaBuf};
use crate::ffi::rust_api;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::dma::DataDirection;
use kernel::page::Page;
use kernel::prelude::*;

/// What the test exporter saw, shared with the test through a static
/// (KUnit runs the cases one after another).
static MAPS: AtomicU32 = AtomicU32::new(0);
static UNMAPS: AtomicU32 = AtomicU32::new(0);
static BEGINS: AtomicU32 = AtomicU32::new(0);
static ENDS: AtomicU32 = AtomicU32::new(0);
static VMAPS: AtomicU32 = AtomicU32::new(0);
static VUNMAPS: AtomicU32 = AtomicU32::new(0);
/// Drops and releases of exporters tagged [`ERROR_TAG`] only: buffers of
/// earlier cases may still be released late (the final `fput` from a
/// kernel thread is deferred), so untagged counts would race.
static TAGGED_DROPS: AtomicU32 = AtomicU32::new(0);
static TAGGED_RELEASES: AtomicU32 = AtomicU32::new(0);
const ERROR_TAG: u32 = 0xe770;

fn reset() {
    for c in [&MAPS, &UNMAPS, &BEGINS, &ENDS, &VMAPS, &VUNMAPS] {
        c.store(0, Ordering::SeqCst);
    }
}

struct TestExporter {
    pages: KVec<Page>,
    tag: u32,
}

impl Drop for TestExporter {
    fn drop(&mut self) {
        if self.tag == ERROR_TAG {
            TAGGED_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[vtable]
impl Exporter for TestExporter {
    fn map(&self, _attach: &Attachment, _dir: DataDirection) -> Result<OwnedTable> {
        MAPS.fetch_add(1, Ordering::SeqCst);
        let table = OwnedTable::from_pages(&self.pages)?;
        if table.nents() == 0 {
            return Err(EINVAL);
        }
        Ok(table)
    }

    fn unmap(&self, _attach: &Attachment, table: OwnedTable, _dir: DataDirection) {
        UNMAPS.fetch_add(1, Ordering::SeqCst);
        drop(table);
    }

    fn release(this: KBox<Self>) {
        if this.tag == ERROR_TAG {
            TAGGED_RELEASES.fetch_add(1, Ordering::SeqCst);
        }
        drop(this);
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

    fn vmap(&self) -> Result<*mut u8> {
        VMAPS.fetch_add(1, Ordering::SeqCst);
        rust_api::vmap_pages(&self.pages)
    }

    fn vunmap(&self, vaddr: *mut u8) {
        VUNMAPS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `vaddr` came from `vmap_pages` in `vmap`.
        unsafe { rust_api::vunmap_pages(vaddr) };
    }
}

fn new_buffer(pages: usize) -> Result<kernel::sync::aref::ARef<DmaBuf>> {
    let mut v = KVec::with_capacity(pages, GFP_KERNEL)?;
    for _ in 0..pages {
        v.push(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?, GFP_KERNEL)?;
    }
    DmaBuf::export_rust(
        KBox::new(TestExporter { pages: v, tag: 0 }, GFP_KERNEL)?,
        pages * 4096,
        2,
        c"dmabuf_kunit",
    )
}

#[kunit_tests(dmabuf_rs)]
mod kunit {
    use super::*;
    use kernel::device::{Bound, Device};
    use kernel::faux;

    /// The plain device of a faux device registration.
    fn device(reg: &faux::Registration) -> &Device<Bound> {
        let fdev: &faux::Device<Bound> = reg.as_ref();
        fdev.as_ref()
    }

    #[test]
    fn export_and_refcount() -> Result {
        reset();
        let buf = new_buffer(3)?;
        assert_eq!(buf.size(), 3 * 4096);
        assert_eq!(buf.file_refs(), 1);
        let second = buf.clone();
        assert_eq!(buf.file_refs(), 2);
        drop(second);
        assert_eq!(buf.file_refs(), 1);
        Ok(())
    }

    #[test]
    fn attach_detach_list() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-a", None)?;
        let buf = new_buffer(1)?;
        assert_eq!(buf.attachment_count(), 0);
        {
            let a = buf.attach_guard(device(&dev))?;
            let b = buf.attach_guard(device(&dev))?;
            assert_eq!(buf.attachment_count(), 2);
            drop(a);
            assert_eq!(buf.attachment_count(), 1);
            drop(b);
        }
        assert_eq!(buf.attachment_count(), 0);
        Ok(())
    }

    #[test]
    fn map_unmap_balanced() -> Result {
        reset();
        let dev = faux::Registration::new(c"dmabuf-kunit-m", None)?;
        let buf = new_buffer(4)?;
        let a = buf.attach_guard(device(&dev))?;
        {
            let m = a.map(DataDirection::Bidirectional)?;
            let entries = m.table().iter().count();
            assert!(entries >= 1);
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
        let a = buf.attach_guard(device(&dev))?;
        {
            let held = buf.lock_resv();
            let m = a.map_locked(&held, DataDirection::ToDevice)?;
            assert!(m.table().iter().count() >= 1);
            assert_eq!(MAPS.load(Ordering::SeqCst), 1);
        }
        assert_eq!(UNMAPS.load(Ordering::SeqCst), 1);
        // Another buffer's lock is no proof for this one.
        let wrong = other.lock_resv();
        assert_eq!(
            a.map_locked(&wrong, DataDirection::ToDevice).err(),
            Some(EINVAL)
        );
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
            assert_eq!(buf.vmap_count(), 2);
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
            drop(v1);
            assert_eq!(buf.vmap_count(), 1);
            assert_eq!(VUNMAPS.load(Ordering::SeqCst), 0);
        }
        assert_eq!(buf.vmap_count(), 0);
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
    fn export_error_gives_the_data_back() -> Result {
        reset();
        let data = KBox::new(
            TestExporter {
                pages: KVec::new(),
                tag: ERROR_TAG,
            },
            GFP_KERNEL,
        )?;
        // A size no file can have: the export fails after allocating the
        // object, and everything must be undone without calling release.
        let r = DmaBuf::export_rust(data, usize::MAX, 2, c"dmabuf_kunit");
        assert_eq!(r.err(), Some(EINVAL));
        assert_eq!(TAGGED_DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(TAGGED_RELEASES.load(Ordering::SeqCst), 0);
        Ok(())
    }

    #[test]
    fn get_refuses_bad_fds() -> Result {
        assert_eq!(DmaBuf::get(-1).err(), Some(EBADF));
        Ok(())
    }
}
