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

/// Waits, in an init of this module that is failing, until nothing but the
/// loader holds a reference on the module.
///
/// A char device or buffer file opened while init runs (its node became
/// visible before a later step failed) holds a reference on the module,
/// but the loader frees a module whose init failed without waiting for
/// such references (`do_init_module` in `kernel/module/main.c`): the
/// file's last close would then run freed code and put a freed module. So
/// a failing init, once its nodes are removed, waits here until the files
/// opened meanwhile are closed. Outside init it returns at once (at exit
/// `delete_module` has seen no reference), and so it does for built-in
/// code.
#[cfg(CONFIG_MODULE_UNLOAD)]
pub(crate) fn wait_for_users_of_failing_init() {
    let module = super::this_module();
    if module.is_null() {
        return;
    }
    // SAFETY: This module is alive while its code runs, and only the
    // loader, in the thread running this init, changes its state.
    if unsafe { (*module).state } != bindings::module_state_MODULE_STATE_COMING {
        return;
    }
    // The loader holds one reference of its own during init (`load_module`).
    // SAFETY: As above.
    while unsafe { bindings::module_refcount(module) } > 1 {
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
    }
}

/// Without `CONFIG_MODULE_UNLOAD` files take no reference: nothing to wait
/// for.
#[cfg(not(CONFIG_MODULE_UNLOAD))]
pub(crate) fn wait_for_users_of_failing_init() {}
