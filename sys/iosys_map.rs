// SPDX-License-Identifier: GPL-2.0
//! `struct iosys_map`: a kernel address in system or I/O memory, as the
//! vmap calls pass it.
//!
//! C header: [`include/linux/iosys-map.h`](srctree/include/linux/iosys-map.h)
//!
//! The `kernel` crate's [`IoSysMap`](kernel::io::IoSysMap) is the typed
//! view of such an address; this type is the C value the dma-buf ABI
//! stores and passes, with the conversion to a [`SysMem`] view.

use kernel::bindings;
use kernel::io::SysMem;

/// A `struct iosys_map` value.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct IosysMap(bindings::iosys_map);

impl IosysMap {
    /// The cleared map (`iosys_map_clear`): NULL, system memory.
    pub(crate) const CLEARED: IosysMap = IosysMap(pin_init::zeroed());

    /// A map of system memory at `vaddr`.
    pub(crate) fn sys(vaddr: *mut u8) -> Self {
        let mut m = Self::CLEARED;
        m.0.__bindgen_anon_1.vaddr = vaddr.cast();
        m
    }

    /// Wraps a C value, field by field: the padding after `is_iomem` is
    /// then zero, and a later copy is two 8-byte moves instead of the
    /// pieces a copy of seven unknown padding bytes takes (B7's
    /// repeated vmap copies the cached map twice).
    pub(crate) fn from_c(m: bindings::iosys_map) -> Self {
        let mut r = Self::CLEARED;
        r.0.__bindgen_anon_1 = m.__bindgen_anon_1;
        r.0.is_iomem = m.is_iomem;
        r
    }

    /// The C value.
    pub(crate) fn into_c(self) -> bindings::iosys_map {
        self.0
    }

    /// Sets `self` to `m` field by field, leaving the padding alone (two
    /// stores; a whole-value copy moves the padding bytes in pieces).
    pub(crate) fn set(&mut self, m: &IosysMap) {
        self.0.__bindgen_anon_1 = m.0.__bindgen_anon_1;
        self.0.is_iomem = m.0.is_iomem;
    }

    /// A pointer for C out parameters.
    pub(crate) fn as_raw_mut(&mut self) -> *mut bindings::iosys_map {
        &mut self.0
    }

    /// Whether the address is I/O memory.
    pub(crate) fn is_iomem(&self) -> bool {
        self.0.is_iomem
    }

    /// The address, whichever memory it is in.
    fn addr(&self) -> *mut u8 {
        // SAFETY: Both union members are pointers of the same size.
        unsafe { self.0.__bindgen_anon_1.vaddr.cast() }
    }

    /// Whether two maps are equal (`iosys_map_is_equal`).
    pub(crate) fn is_equal(&self, other: &IosysMap) -> bool {
        self.is_iomem() == other.is_iomem() && self.addr() == other.addr()
    }

    /// Whether the map is cleared (`iosys_map_is_null`).
    pub(crate) fn is_null(&self) -> bool {
        self.addr().is_null()
    }

    /// The system-memory address, `None` for I/O memory or a cleared map.
    pub(crate) fn vaddr(&self) -> Option<*mut u8> {
        (!self.is_iomem() && !self.is_null()).then(|| self.addr())
    }

    /// Views `len` bytes of a system-memory map.
    ///
    /// # Safety
    ///
    /// The map must be of system memory and stay mapped, `len` bytes long,
    /// for `'a`.
    pub(crate) unsafe fn as_sys_mem<'a>(&self, len: usize) -> SysMem<'a, [u8]> {
        // SAFETY: By the safety requirements.
        unsafe { SysMem::new(core::ptr::slice_from_raw_parts_mut(self.addr(), len)) }
    }
}
