// SPDX-License-Identifier: GPL-2.0
//! Charges to cgroups: regions of the device-memory controller (`dmem`)
//! and kernel memory charged to a memory cgroup (`memcg`), each charge an
//! owned value that uncharges when dropped.
//!
//! C headers: [`include/linux/cgroup_dmem.h`](srctree/include/linux/cgroup_dmem.h),
//! [`include/linux/memcontrol.h`](srctree/include/linux/memcontrol.h)
//!
//! A charge is taken in the allocating task's cgroup and kept by whoever
//! owns the value; it is given back to that cgroup (which may have been
//! removed meanwhile: the charge holds a reference to its state) from any
//! task. Which heap charges what is decided in `heaps/charge.rs`.

use super::glue;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::prelude::*;

/// A region of the `dmem` controller (`struct dmem_cgroup_region`): a
/// line in `dmem.capacity`, with `dmem.current` and `dmem.max` per cgroup.
///
/// # Invariants
///
/// `self.0` was returned by `dmem_cgroup_register_region` and is
/// unregistered only by the drop.
pub(crate) struct DmemRegion(NonNull<c_void>);

// SAFETY: The dmem controller locks its regions itself; a region may be
// charged and unregistered from any task.
unsafe impl Send for DmemRegion {}
// SAFETY: As above.
unsafe impl Sync for DmemRegion {}

impl DmemRegion {
    /// Registers the region `<kind>/<name>` of `size` bytes. `None` when
    /// the kernel has no `dmem` controller (`CONFIG_CGROUP_DMEM`).
    pub(crate) fn register(kind: &CStr, name: &CStr, size: u64) -> Result<Option<DmemRegion>> {
        let (kind, name) = (kind.as_char_ptr(), name.as_char_ptr());
        // SAFETY: The names are NUL-terminated strings, copied by the call.
        let r = unsafe { glue::dmabuf_rs_dmem_register(size, kind, name) };
        // INVARIANT: A region `dmem_cgroup_register_region` returned.
        Ok(NonNull::new(super::check_ptr(r)?).map(DmemRegion))
    }

    /// Charges `size` bytes to the calling task's `dmem` cgroup. `EAGAIN`
    /// when the cgroup or one above it would exceed its `dmem.max` (the
    /// controller's errno, which upstream's CMA-heap series passes to
    /// userspace), `ENOMEM` when the controller has no memory.
    pub(crate) fn try_charge(&self, size: u64) -> Result<DmemCharge> {
        let mut pool = core::ptr::null_mut();
        // SAFETY: A registered region (type invariant); `pool` is writable.
        super::check(unsafe { glue::dmabuf_rs_dmem_try_charge(self.0.as_ptr(), size, &mut pool) })?;
        // INVARIANT: The pool the charge was taken in, with the reference
        // `dmem_cgroup_try_charge` gives the caller.
        Ok(DmemCharge {
            pool: NonNull::new(pool).ok_or(EINVAL)?,
            size,
        })
    }
}

impl Drop for DmemRegion {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant), unregistered once, here.
        unsafe { glue::dmabuf_rs_dmem_unregister(self.0.as_ptr()) };
    }
}

/// `size` bytes charged to a `dmem` pool (a cgroup's use of a region).
///
/// # Invariants
///
/// `pool` was returned by a successful `dmem_cgroup_try_charge` of `size`
/// bytes, whose charge and reference this value owns.
pub(crate) struct DmemCharge {
    pool: NonNull<c_void>,
    size: u64,
}

// SAFETY: A charge may be given back from any task.
unsafe impl Send for DmemCharge {}
// SAFETY: No method reads or writes through `&self`.
unsafe impl Sync for DmemCharge {}

impl Drop for DmemCharge {
    fn drop(&mut self) {
        // SAFETY: The charge and reference this value owns (type
        // invariant), given back once.
        unsafe { glue::dmabuf_rs_dmem_uncharge(self.pool.as_ptr(), self.size) };
    }
}

/// `size` bytes charged to a memory cgroup as kernel memory.
///
/// # Invariants
///
/// `objcg` is a `struct obj_cgroup` with a reference this value owns, and
/// `size` bytes charged to it by `obj_cgroup_charge`.
pub(crate) struct MemcgCharge {
    objcg: NonNull<c_void>,
    size: usize,
}

// SAFETY: A charge may be given back from any task.
unsafe impl Send for MemcgCharge {}
// SAFETY: No method reads or writes through `&self`.
unsafe impl Sync for MemcgCharge {}

impl MemcgCharge {
    /// Charges `size` bytes to the calling task's memory cgroup, as
    /// `__GFP_ACCOUNT` charges pages (`memory.current`, and `kernel` in
    /// `memory.stat`). `None` when kernel memory is not accounted (no
    /// `CONFIG_MEMCG`, or `cgroup.memory=nokmem`); `ENOMEM` at the
    /// cgroup's limit.
    pub(crate) fn charge_current(size: usize) -> Result<Option<MemcgCharge>> {
        // SAFETY: No requirements; it may sleep (reclaim), as ALLOC may.
        let objcg = super::check_ptr(unsafe { glue::dmabuf_rs_memcg_charge(size) })?;
        // INVARIANT: The object with the reference and charge taken above.
        Ok(NonNull::new(objcg).map(|objcg| MemcgCharge { objcg, size }))
    }

    /// Charges `size` more bytes to the same cgroup: `ENOMEM` at its
    /// limit, when nothing more is charged.
    #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
    pub(crate) fn grow(&mut self, size: usize) -> Result {
        // SAFETY: The object this value holds a reference to (type
        // invariant); it may sleep, as ALLOC may.
        super::check(unsafe { glue::dmabuf_rs_memcg_charge_more(self.objcg.as_ptr(), size) })?;
        // INVARIANT: `size` more bytes were charged.
        self.size += size;
        Ok(())
    }
}

impl Drop for MemcgCharge {
    fn drop(&mut self) {
        // SAFETY: The charge and reference this value owns (type
        // invariant), given back once.
        unsafe { glue::dmabuf_rs_memcg_uncharge(self.objcg.as_ptr(), self.size) };
    }
}

/// What a heap's policy names: `0` none, `1` memcg, `2` dmem, `3` both,
/// from the `charge` parameter (`sys/glue.c`).
pub(crate) fn charge_policy(heap: &CStr) -> u32 {
    // SAFETY: A NUL-terminated string, read during the call.
    unsafe { glue::dmabuf_rs_charge_policy(heap.as_char_ptr()) }
}

/// The bytes of memory the page allocator manages.
pub(crate) fn total_ram() -> u64 {
    // SAFETY: Reads a counter.
    unsafe { glue::dmabuf_rs_total_ram() }
}
