// SPDX-License-Identifier: GPL-2.0
//! Top layer: the entry points, which convert and delegate.
//!
//! - [`exports`]: the exported `dma_buf_*` functions of the C API, with the
//!   locking convention as their contract;
//! - [`file`]: the dma-buf file and dentry operations;
//! - [`ioctl`]: the dma-buf fd's ioctl decoder;
//! - [`debugfs`]: the debugfs file `dma_buf/bufinfo`.
//!
//! Each function here is a short trampoline into [`crate::dma_buf`].

#[cfg(CONFIG_DEBUG_FS)]
pub(crate) mod debugfs;
pub(crate) mod exports;
pub(crate) mod file;
pub(crate) mod ioctl;
#[cfg(CONFIG_DEBUG_FS)]
pub(crate) mod owners;
