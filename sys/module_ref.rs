// SPDX-License-Identifier: GPL-2.0
//! A counted reference on a kernel module (`try_module_get`/`module_put`).
//! With `CONFIG_MODULE_UNLOAD` these are exported functions, called
//! directly (every buffer takes two such references); without it they are
//! static inline functions, reached through `sys/glue.c`.
//!
//! C header: [`include/linux/module.h`](srctree/include/linux/module.h)

#[cfg(CONFIG_MODULE_UNLOAD)]
use kernel::bindings::{__module_get, module_put, try_module_get};

#[cfg(not(CONFIG_MODULE_UNLOAD))]
use super::glue::{
    dmabuf_rs_module_get as __module_get, dmabuf_rs_module_put as module_put,
    dmabuf_rs_try_module_get as try_module_get,
};
use kernel::bindings;
use kernel::prelude::*;

/// One reference on a module, or on nothing for built-in code (NULL).
///
/// # Invariants
///
/// `module` is NULL or a module on which this object owns one reference.
pub(crate) struct ModuleRef {
    module: *mut bindings::module,
}

// SAFETY: Module references may be dropped from any thread.
unsafe impl Send for ModuleRef {}
// SAFETY: No method takes `&self` except the pointer comparison.
unsafe impl Sync for ModuleRef {}

impl ModuleRef {
    /// Takes a reference on `module` (NULL is built-in code); `ENOENT` if
    /// the module is being removed.
    ///
    /// # Safety
    ///
    /// `module` must be NULL or a module that is alive during the call.
    pub(crate) unsafe fn try_get(module: *mut bindings::module) -> Result<Self> {
        // SAFETY: By the safety requirements.
        if !unsafe { try_module_get(module) } {
            return Err(ENOENT);
        }
        // INVARIANT: Taken just above.
        Ok(ModuleRef { module })
    }

    /// Takes a reference on this module (the one running this code).
    pub(crate) fn this_module() -> Self {
        let module = super::this_module();
        // SAFETY: The module is alive: we are running its code.
        unsafe { __module_get(module) };
        // INVARIANT: Taken just above.
        ModuleRef { module }
    }

    /// The module (NULL for built-in code).
    pub(crate) fn as_ptr(&self) -> *mut bindings::module {
        self.module
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own this reference.
        unsafe { module_put(self.module) };
    }
}
