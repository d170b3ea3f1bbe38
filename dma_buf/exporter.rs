// SPDX-License-Identifier: GPL-2.0
//! The exporter side of the safe Rust API.
//!
//! A Rust exporter implements [`Exporter`] for its per-buffer data and
//! calls [`DmaBuf::export_rust`]; the core builds the `dma_buf_ops` table
//! from the trait. `map`, `unmap` and `release` are mandatory; the CPU
//! access and vmap operations are optional (`#[vtable]` leaves them out of
//! the C table when not implemented, which gives importers the upstream
//! behaviour for a missing operation).
//!
//! Locking (the dma-buf convention, here part of the contract of each
//! method): `map`, `unmap`, `vmap` and `vunmap` run with the buffer's
//! reservation lock held; `release`, `begin_cpu_access` and
//! `end_cpu_access` run without it.

pub(crate) use crate::ffi::mem::Vma;
use crate::ffi::object::Attachment;
pub(crate) use crate::ffi::rust_api::OwnedTable;
use kernel::dma::DataDirection;
use kernel::error::VTABLE_DEFAULT_ERROR;
use kernel::prelude::*;

/// A dma-buf exporter: the data behind one exported buffer.
#[vtable]
pub(crate) trait Exporter: Sized + Send + Sync + 'static {
    /// Builds the table of `attach`'s view of the buffer (resv held).
    fn map(&self, attach: &Attachment, dir: DataDirection) -> Result<OwnedTable>;

    /// Takes back a table from [`Exporter::map`] (resv held).
    fn unmap(&self, attach: &Attachment, table: OwnedTable, dir: DataDirection);

    /// The buffer is gone: the last reference and its dentry died.
    fn release(this: KBox<Self>);

    /// Prepares CPU access in direction `dir` (resv not held).
    fn begin_cpu_access(&self, _dir: DataDirection) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Ends CPU access in direction `dir` (resv not held).
    fn end_cpu_access(&self, _dir: DataDirection) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Sets up a userspace mapping (resv not held); the core has checked
    /// the bounds against the buffer size.
    fn mmap(&self, _vma: &Vma) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Maps the whole buffer into the kernel (resv held); the core caches
    /// and refcounts the result.
    fn vmap(&self) -> Result<*mut u8> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Undoes [`Exporter::vmap`] (resv held).
    fn vunmap(&self, _vaddr: *mut u8) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}
