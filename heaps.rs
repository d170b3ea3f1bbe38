// SPDX-License-Identifier: GPL-2.0
//! The dma-heap framework and this module's heaps: an exporter built on the
//! safe API of [`crate::dma_buf`].
//!
//! - [`registry`]: every heap by name and minor, with its
//!   `/dev/dma_heap/<name>` node; [`exports`]: `dma_heap_add` and friends
//!   for C heaps; [`device`]: the node's `open` and `DMA_HEAP_IOCTL_ALLOC`;
//! - [`kind`]: how this module's heaps plug into the registry;
//! - [`buffer`]: the buffer both heaps export (an `Exporter`);
//! - [`system`] and [`cma`]: the allocation policies; [`charge`]: what
//!   their buffers are charged to (memcg, dmem); [`pool`]: the system
//!   heap's opt-in pool of zeroed pages.
//!
//! A heap allocation goes: the node's ioctl (`sys/cdev.rs`) →
//! [`device::dispatch`] → the heap's `allocate` (`kind::allocate_tramp`
//! for the heaps here) → [`kind::HeapKind::allocate`] →
//! [`buffer::HeapBuffer::export`].
//!
//! As with the C core, the heaps follow the configuration: the framework
//! with `DMABUF_HEAPS` (the crate root leaves this module out without it),
//! the system heap with `DMABUF_HEAPS_SYSTEM` (and `system_cc_shared` with
//! `DMABUF_HEAPS_SYSTEM_CC_SHARED`), the CMA heaps with `DMABUF_HEAPS_CMA`
//! (which needs `DMA_CMA`).

pub(crate) mod buffer;
pub(crate) mod charge;
#[cfg(CONFIG_DMABUF_HEAPS_CMA)]
pub(crate) mod cma;
pub(crate) mod device;
pub(crate) mod exports;
pub(crate) mod kind;
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
pub(crate) mod pool;
pub(crate) mod registry;
#[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
pub(crate) mod system;

use crate::sys::cdev::Region;
use kernel::prelude::*;
use kind::{add, Entry};

/// The heap framework and this module's heaps, from module init to exit.
///
/// Fields drop in declaration order: first the registry (every heap and
/// node goes, so no open or allocation can reach the heap data any more),
/// then the heap data. [`Heaps::register`] fills the fields of a `Heaps`
/// that exists from the start, so that a registration failing part-way
/// unwinds in that same order too.
pub(crate) struct Heaps {
    _registry: RegistryGuard,
    #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
    system: Option<KBox<Entry<system::SystemHeap>>>,
    #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)]
    system_cc_shared: Option<KBox<Entry<system::SystemHeap>>>,
    #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
    cma: KVec<KBox<Entry<cma::CmaHeap>>>,
}

/// Removes every heap and the char device region on drop; in a module
/// init that fails, then waits until the heap files opened meanwhile are
/// closed (`sys/module_ref.rs`), before the heap data goes.
struct RegistryGuard;

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        registry::exit();
        crate::sys::module_ref::wait_for_users_of_failing_init();
    }
}

impl Heaps {
    /// Sets up the framework and registers the system heap and one CMA heap
    /// per area (upstream registers them at boot and never removes them).
    pub(crate) fn register() -> Result<Heaps> {
        registry::init();
        let region =
            Region::new::<device::HeapDevice>(c"dma_heap", registry::NUM_HEAP_MINORS as u32)?;
        registry::set_region(region);
        // From here on an early return drops `heaps`: the registry first.
        #[allow(unused_mut)]
        let mut heaps = Heaps {
            _registry: RegistryGuard,
            #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
            system: None,
            #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)]
            system_cc_shared: None,
            #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
            cma: KVec::new(),
        };
        #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
        {
            use crate::sys::pages::Sharing;
            heaps.system = Some(add(
                c"system",
                system::SystemHeap::new(c"system", Sharing::Private),
            )?);
            // Upstream: only on a guest with encrypted memory (and, here,
            // on a debug kernel that asks for it: `sys/glue.c`).
            #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)]
            if crate::sys::pages::cc_shared_heap() {
                heaps.system_cc_shared = Some(add(
                    c"system_cc_shared",
                    system::SystemHeap::new(c"system_cc_shared", Sharing::Shared),
                )?);
            }
        }
        #[cfg(CONFIG_DMABUF_HEAPS_CMA)]
        {
            let cma_heaps = cma::heaps()?;
            heaps.cma.reserve(cma_heaps.len(), GFP_KERNEL)?;
            for (name, heap) in cma_heaps {
                let entry = add(name, heap)?;
                // Room reserved above. Were it not there, the entry is
                // leaked rather than dropped while still registered.
                if let Err(e) = heaps.cma.push_within_capacity(entry) {
                    KBox::leak(e.0);
                    return Err(ENOMEM);
                }
            }
        }
        Ok(heaps)
    }
}
