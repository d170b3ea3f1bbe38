// SPDX-License-Identifier: GPL-2.0
//! The Linux dma-buf core and dma-heaps, in Rust.
//!
//! A drop-in replacement for `drivers/dma-buf/dma-buf.c`, `dma-heap.c` and
//! the system and CMA heaps: the same exported symbols (namespaces
//! `DMA_BUF` and `DMA_BUF_HEAP`), the same `struct dma_buf` layout and the
//! same userspace ABI, so C importers and exporters (DRM PRIME, V4L2,
//! udmabuf) and unmodified userspace run on it.
//!
//! # Layers
//!
//! Each layer uses only the ones below it (`scripts/check-layers.py`
//! checks it in `make check`):
//!
//! ```text
//!   entry/     exports.rs  file.rs  ioctl.rs  debugfs.rs      heaps/
//!              the C ABI and the fd: convert and delegate      registry, ALLOC,
//!        |                                                      system, cma:
//!        v                                                      an exporter on
//!   dma_buf/   the object model and its rules                   the safe API
//!              (export, attach/map, vmap, cpu access, poll,        |
//!              sync files; the Exporter trait, importer guards) <--+
//!        |                                                         |
//!        v                                                         v
//!   sys/       safe wrappers over the C types (resv, fence, pseudo fs,
//!              sg tables, pages, CMA, VMA, char devices, struct dma_buf);
//!              the only code that names `bindings::`; sys/glue.c has the
//!              EXPORT lines and one-line wrappers of C inlines
//!   uapi/      the userspace structs and ioctl numbers (used by all)
//! ```

// Helpers that only debugfs or the CMA heap use are dead code when those
// are configured out (the tested configurations have both).
#![cfg_attr(
    any(not(CONFIG_DEBUG_FS), not(CONFIG_DMABUF_HEAPS_CMA)),
    allow(dead_code)
)]

use kernel::prelude::*;

mod dma_buf;
mod entry;
#[cfg(CONFIG_DMABUF_HEAPS)]
mod heaps;
mod sys;
mod uapi;

module! {
    type: DmaBufCore,
    name: "dmabuf_rs",
    authors: ["The dmabuf-rs authors"],
    description: "dma-buf core and heaps in Rust",
    license: "GPL",
}

/// The core: its fields drop in declaration order at unload, which can
/// only happen once no buffer, heap file or mapping is left (each pins the
/// module).
struct Core {
    /// The heaps and their device nodes go first: no new buffer after this.
    #[cfg(CONFIG_DMABUF_HEAPS)]
    _heaps: heaps::Heaps,
    /// Then `/sys/kernel/debug/dma_buf`.
    #[cfg(CONFIG_DEBUG_FS)]
    _debugfs: sys::debugfs::Dir,
    /// Last, the pseudo file system the buffers' files lived on.
    _mount: sys::pseudo_fs::Mount,
}

impl Core {
    fn new() -> Result<Self> {
        sys::ledger::init()?;
        let mount = sys::pseudo_fs::Mount::new::<entry::file::DmaBufFile>()?;
        #[cfg(CONFIG_DEBUG_FS)]
        let debugfs = sys::debugfs::Dir::new::<entry::debugfs::BufInfo>(c"dma_buf", c"bufinfo");
        #[cfg(CONFIG_DEBUG_FS)]
        debugfs.add::<Owners>(c"owners");
        Ok(Core {
            #[cfg(CONFIG_DMABUF_HEAPS)]
            _heaps: heaps::Heaps::register()?,
            #[cfg(CONFIG_DEBUG_FS)]
            _debugfs: debugfs,
            _mount: mount,
        })
    }
}

/// `dma_buf/owners`: the ledger's lines (`entry/owners.rs`), then the
/// system heap's pool's (`heaps/pool.rs`), which the ledger's layer cannot
/// reach.
#[cfg(CONFIG_DEBUG_FS)]
struct Owners;

#[cfg(CONFIG_DEBUG_FS)]
impl sys::debugfs::Show for Owners {
    fn show(m: &kernel::seq_file::SeqFile) -> Result {
        entry::owners::Owners::show(m)?;
        #[cfg(CONFIG_DMABUF_HEAPS_SYSTEM)]
        heaps::pool::show(m);
        Ok(())
    }
}

/// The module. As a module it owns the core; built in, the core was set
/// up earlier, at `subsys_initcall` ([`dmabuf_rs_builtin_init`]), and this
/// is empty.
struct DmaBufCore {
    #[cfg(MODULE)]
    _core: Core,
}

impl kernel::Module for DmaBufCore {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(DmaBufCore {
            #[cfg(MODULE)]
            _core: Core::new()?,
        })
    }
}

/// The built-in core, set up once and never torn down (built-in code is
/// never unloaded); kept here so that kmemleak sees it referenced.
#[cfg(not(MODULE))]
static BUILTIN_CORE: core::sync::atomic::AtomicPtr<Core> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// Sets up the built-in core at `subsys_initcall` (called from
/// `sys/glue.c`), the level of the C core's `dma_buf_init` and
/// `dma_heap_init`: a built-in user of the API at a later level (every
/// driver's `module_init`) finds it ready.
#[cfg(not(MODULE))]
#[no_mangle]
extern "C" fn dmabuf_rs_builtin_init() -> kernel::ffi::c_int {
    let core = match Core::new().and_then(|c| KBox::new(c, GFP_KERNEL).map_err(Into::into)) {
        Ok(core) => core,
        Err(e) => return e.to_errno(),
    };
    BUILTIN_CORE.store(KBox::into_raw(core), core::sync::atomic::Ordering::Release);
    0
}
