// SPDX-License-Identifier: GPL-2.0
//! A VMA set up as a PFN map (`VM_PFNMAP`), filled with `remap_pfn_range`.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! Built like the `kernel` crate's `VmaMixedMap`: only a [`VmaNew`] (a VMA
//! in its initial set-up) can become one, through [`set_pfnmap`], and the
//! returned type proves the flags are set. The `kernel` crate does not
//! offer `VM_PFNMAP` yet.
//
// TODO: move to `kernel::mm::virt` next to `VmaMixedMap`.

use super::check;
use super::glue;
use super::pages::Sharing;
use kernel::bindings;
use kernel::mm::virt::{VmaNew, VmaRef};
use kernel::prelude::*;

/// A VMA with `VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP` set.
///
/// # Invariants
///
/// The VMA is undergoing its initial set-up (as a [`VmaNew`]) and has those
/// flags set.
#[repr(transparent)]
pub(crate) struct VmaPfnMap {
    vma: VmaRef,
}

impl core::ops::Deref for VmaPfnMap {
    type Target = VmaRef;
    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

/// The offset of the VMA into its file, in pages (`vm_pgoff`).
pub(crate) fn pgoff(vma: &VmaRef) -> usize {
    // SAFETY: `vm_pgoff` of a valid VMA; it is not changed while the VMA is
    // borrowed by an mmap call.
    unsafe { (*vma.as_ptr()).vm_pgoff }
}

/// The VMA's length in pages (`vma_pages`).
pub(crate) fn pages(vma: &VmaRef) -> usize {
    // SAFETY: A valid VMA.
    unsafe { glue::dmabuf_rs_vma_pages(vma.as_ptr()) as usize }
}

/// Sets the offset into the file (`vm_pgoff`) of a VMA being set up.
pub(crate) fn set_pgoff(vma: &VmaNew, pgoff: usize) {
    // SAFETY: The VMA is undergoing its initial set-up and not yet shared.
    unsafe { (*vma.as_ptr()).vm_pgoff = pgoff };
}

/// Makes a VMA being set up map `file` (`vma_set_file`).
pub(crate) fn set_file(vma: &VmaNew, file: &kernel::fs::File) {
    // SAFETY: The VMA is undergoing its initial set-up; `file` is valid and
    // the call takes its own reference.
    unsafe { bindings::vma_set_file(vma.as_ptr(), file.as_ptr()) };
}

/// Turns a VMA being set up into a PFN map.
pub(crate) fn set_pfnmap(vma: &VmaNew) -> &VmaPfnMap {
    let flags =
        bindings::VM_IO | bindings::VM_PFNMAP | bindings::VM_DONTEXPAND | bindings::VM_DONTDUMP;
    // SAFETY: The VMA is undergoing its initial set-up, so its flags may
    // change; these flags form a valid combination for `remap_pfn_range`.
    unsafe { glue::dmabuf_rs_vm_flags_set(vma.as_ptr(), flags) };
    // SAFETY: `VmaPfnMap` is a transparent wrapper of `VmaRef`, as `VmaNew`
    // is; the flags are set (type invariant).
    unsafe { &*core::ptr::from_ref(vma).cast::<VmaPfnMap>() }
}

impl VmaPfnMap {
    /// Maps `size` bytes of frames from `pfn` at `addr` (`remap_pfn_range`),
    /// with the VMA's protection, decrypted (`pgprot_decrypted`) for frames
    /// shared with the host.
    ///
    /// # Safety
    ///
    /// The frames must stay allocated, and in the `sharing` form, while the
    /// mapping can exist (the mapping's file keeps the memory's owner
    /// alive).
    pub(crate) unsafe fn remap_pfn_range(
        &self,
        addr: usize,
        pfn: usize,
        size: usize,
        sharing: Sharing,
    ) -> Result {
        let vma = self.as_ptr();
        // SAFETY: A valid VMA; its protection does not change during set-up.
        let mut prot = unsafe { (*vma).vm_page_prot };
        if sharing == Sharing::Shared {
            // SAFETY: Computes a protection value.
            prot = unsafe { glue::dmabuf_rs_pgprot_decrypted(prot) };
        }
        // SAFETY: A VMA being set up as a PFN map (type invariant); the
        // frames by the safety requirements.
        check(unsafe { bindings::remap_pfn_range(vma, addr, pfn, size, prot) })
    }
}
