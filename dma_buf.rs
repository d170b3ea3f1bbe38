// SPDX-License-Identifier: GPL-2.0
//! Middle layer: the dma-buf object model and its rules, in safe Rust.
//!
//! The C object and its fields are wrapped in `crate::sys`; here are the
//! rules upstream keeps in `drivers/dma-buf/dma-buf.c`: export and release,
//! the buffer list, names, attachments and mapping (pinning, the implicit
//! fence wait, the `DMABUF_DEBUG` copy), the vmap count and cache, CPU
//! access, mmap bounds, poll, and the sync-file operations. Exporter
//! operations are called from one file only, [`exporter_ops`].
//!
//! Operations that need the reservation lock are methods of
//! [`LockedDmaBuf`], which exists only while the lock of that very buffer
//! is held (see `locked.rs`, which also states the lock order).
//!
//! Rust drivers use [`exporter::Exporter`] and the guards of [`importer`].

pub(crate) mod attachment;
pub(crate) mod buffer;
pub(crate) mod cpu_access;
pub(crate) mod exporter;
pub(crate) mod exporter_ops;
pub(crate) mod importer;
pub(crate) mod ledger;
pub(crate) mod locked;
pub(crate) mod mmap;
pub(crate) mod poll;
pub(crate) mod sync_file;
pub(crate) mod vmap;

pub(crate) use crate::sys::attachment::Attachment;
pub(crate) use crate::sys::dma_buf::{DmaBuf, DyingDmaBuf};
pub(crate) use locked::LockedDmaBuf;
