// SPDX-License-Identifier: GPL-2.0
//! Charging heap buffers to cgroups, by a policy per heap.
//!
//! Upstream 7.3 charges the system heaps' pages to the allocating task's
//! memory cgroup when `mem_accounting` is on (`__GFP_ACCOUNT`) and charges
//! CMA-heap buffers to nobody. The `charge` parameter (`sys/glue.c`) names
//! a policy per heap: `none` (upstream's behaviour, the default),
//! `memcg`, `dmem` or `both`.
//!
//! - memcg: the system heaps allocate with `__GFP_ACCOUNT`, as with
//!   `mem_accounting` (which still turns it on for them); a CMA heap
//!   charges the buffer's size as kernel memory, the same counters.
//! - dmem: the buffer's size is charged to the heap's region of the dmem
//!   controller: `cma/<area>` for a CMA heap (the name of the upstream
//!   CMA-heap series; the heaps of one area share it), `dma_heap/<heap>`
//!   for a system heap, whose capacity is the page allocator's memory.
//! - both: each once; the dmem charge never reaches memcg in 7.3, so no
//!   page is counted twice there.
//!
//! A buffer is charged before its memory is allocated (a refused charge
//! allocates nothing) and keeps its charges, in the allocating task's
//! cgroups, until its release, whoever holds its fds by then and whether
//! or not those cgroups still exist: the charge follows the buffer's life,
//! not the fd. The policy is read at each allocation; changing it affects
//! later buffers only.

use crate::sys::cgroup::{self, DmemCharge, DmemRegion, MemcgCharge};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What a heap's buffers are charged to.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    /// The memory cgroup.
    pub(crate) memcg: bool,
    /// The heap's dmem region.
    pub(crate) dmem: bool,
}

impl Policy {
    /// The policy the `charge` parameter gives the heap `name` now.
    #[inline]
    pub(crate) fn of(name: &CStr) -> Policy {
        let p = cgroup::charge_policy(name);
        Policy {
            memcg: p & 1 != 0,
            dmem: p & 2 != 0,
        }
    }
}

/// A heap's dmem region, if the kernel has the controller.
#[derive(Clone)]
pub(crate) struct Region(Option<Arc<DmemRegion>>);

impl Region {
    /// Registers `<kind>/<name>` of `size` bytes. A region that cannot be
    /// registered is reported and left out: the heap then charges memcg
    /// only, whatever its policy.
    pub(crate) fn register(kind: &CStr, name: &CStr, size: u64) -> Region {
        match DmemRegion::register(kind, name, size).and_then(|r| {
            r.map(|r| Arc::new(r, GFP_KERNEL).map_err(Error::from))
                .transpose()
        }) {
            Ok(r) => Region(r),
            Err(e) => {
                pr_warn!(
                    "dma_heap: no dmem region for {}/{}: {:?}\n",
                    kind.to_str().unwrap_or("?"),
                    name.to_str().unwrap_or("?"),
                    e
                );
                Region(None)
            }
        }
    }
}

/// What a buffer was charged at its allocation, given back when dropped
/// (with the buffer).
pub(crate) struct Charges {
    _dmem: Option<DmemCharge>,
    _memcg: Option<MemcgCharge>,
}

/// Charges a new buffer of `len` bytes by `policy`: to `region` for dmem,
/// and its size to the memory cgroup for memcg (a heap whose pages carry
/// their memcg charge, `__GFP_ACCOUNT`, passes a policy without memcg).
/// `None` when nothing was charged. `EAGAIN` at a `dmem.max`, `ENOMEM` at
/// a memory cgroup's limit; nothing stays charged on an error.
pub(crate) fn charge(region: &Region, policy: Policy, len: usize) -> Result<Option<KBox<Charges>>> {
    let dmem = match (&region.0, policy.dmem) {
        (Some(r), true) => Some(r.try_charge(len as u64)?),
        _ => None,
    };
    let memcg = if policy.memcg {
        MemcgCharge::charge_current(len)?
    } else {
        None
    };
    bundle(dmem, memcg)
}

/// The charges, boxed; `None` when there is none.
fn bundle(dmem: Option<DmemCharge>, memcg: Option<MemcgCharge>) -> Result<Option<KBox<Charges>>> {
    if dmem.is_none() && memcg.is_none() {
        return Ok(None);
    }
    Ok(Some(KBox::new(
        Charges {
            _dmem: dmem,
            _memcg: memcg,
        },
        GFP_KERNEL,
    )?))
}

/// Adds to a buffer's charges (of [`charge`] with a policy without memcg)
/// the memcg charge taken as its pages were (the system heap's, with its
/// pool on). Nothing stays charged on an error.
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
pub(crate) fn add_memcg(
    charges: Option<KBox<Charges>>,
    memcg: Option<MemcgCharge>,
) -> Result<Option<KBox<Charges>>> {
    match (charges, memcg) {
        (charges, None) => Ok(charges),
        (None, memcg) => bundle(None, memcg),
        (Some(mut c), memcg) => {
            c._memcg = memcg;
            Ok(Some(c))
        }
    }
}
