// SPDX-License-Identifier: GPL-2.0
//! Shrinkers: memory a subsystem keeps for itself and gives back when
//! reclaim asks.
//!
//! C header: [`include/linux/shrinker.h`](srctree/include/linux/shrinker.h)
//!
//! The 7.3 `kernel` crate has no shrinker (binder registers its own with
//! `list_lru`); [`Shrinker`] registers one whose callbacks reach a
//! [`Shrink`] implementation it keeps alive.

use core::ptr::NonNull;
use kernel::bindings;
use kernel::ffi::c_ulong;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Something that keeps memory reclaim may take back.
pub(crate) trait Shrink: Send + Sync + 'static {
    /// How many objects could be freed now (an estimate).
    fn count(&self) -> usize;

    /// Frees about `nr` objects (more when they go in groups); how many
    /// were freed, 0 when none can be now (reclaim then stops asking).
    /// Called from reclaim: it must not sleep on memory allocation or take
    /// a lock held around one.
    fn scan(&self, nr: usize) -> usize;
}

/// A registered shrinker that calls `T`; unregistered on drop.
///
/// # Invariants
///
/// `raw` is a shrinker from `shrinker_alloc` that this object registered
/// and frees, whose `private_data` is `data`'s `T` and whose callbacks are
/// [`count_objects::<T>`] and [`scan_objects::<T>`].
pub(crate) struct Shrinker<T: Shrink> {
    raw: NonNull<bindings::shrinker>,
    data: Arc<T>,
}

// SAFETY: Registration and freeing may happen on any thread; `T` is
// `Send + Sync`.
unsafe impl<T: Shrink> Send for Shrinker<T> {}
// SAFETY: No method uses `&self` but to reach `T`, which is `Sync`.
unsafe impl<T: Shrink> Sync for Shrinker<T> {}

/// `count_objects`, typed as C's (kCFI checks the type).
///
/// # Safety
///
/// Reclaim calls this for a shrinker of [`Shrinker::register`] that has
/// not been freed, whose `private_data` is a `T`.
unsafe extern "C" fn count_objects<T: Shrink>(
    shrinker: *mut bindings::shrinker,
    _sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: By the safety requirements; `T` lives as long as the
    // registration (the `Shrinker` frees the shrinker before its `Arc`).
    let data = unsafe { &*(*shrinker).private_data.cast::<T>() };
    match data.count() {
        0 => bindings::SHRINK_EMPTY as c_ulong,
        n => n as c_ulong,
    }
}

/// `scan_objects`, typed as C's.
///
/// # Safety
///
/// As [`count_objects`], with `sc` valid for the call.
unsafe extern "C" fn scan_objects<T: Shrink>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: As in `count_objects`.
    let data = unsafe { &*(*shrinker).private_data.cast::<T>() };
    // SAFETY: `sc` is valid for the call; reclaim lets the callee write it.
    let nr = unsafe { (*sc).nr_to_scan };
    let freed = data.scan(nr);
    if freed == 0 {
        // Reclaim counts its progress by `nr_scanned`: reporting none
        // would make it ask again forever.
        return bindings::SHRINK_STOP as c_ulong;
    }
    // SAFETY: As above.
    unsafe { (*sc).nr_scanned = freed };
    freed
}

impl<T: Shrink> Shrinker<T> {
    /// Registers a shrinker named `name` (in
    /// `/sys/kernel/debug/shrinker` with `SHRINKER_DEBUG`) for `data`.
    pub(crate) fn register(name: &CStr, data: Arc<T>) -> Result<Self> {
        // SAFETY: A format and the one string it prints.
        let raw = unsafe { bindings::shrinker_alloc(0, c"%s".as_char_ptr(), name.as_char_ptr()) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: A new, unregistered shrinker of ours: nothing reads
        // these fields until `shrinker_register`.
        unsafe {
            let s = raw.as_ptr();
            (*s).count_objects = Some(count_objects::<T>);
            (*s).scan_objects = Some(scan_objects::<T>);
            (*s).private_data = core::ptr::from_ref::<T>(&data).cast_mut().cast();
            bindings::shrinker_register(s);
        }
        // INVARIANT: Registered above with `data` and our callbacks.
        Ok(Shrinker { raw, data })
    }

    /// What the shrinker calls.
    pub(crate) fn data(&self) -> &Arc<T> {
        &self.data
    }
}

impl<T: Shrink> Drop for Shrinker<T> {
    fn drop(&mut self) {
        // SAFETY: Our registered shrinker (type invariant). It returns once
        // no callback runs, and none starts after, so `data` may go next.
        unsafe { bindings::shrinker_free(self.raw.as_ptr()) };
    }
}
