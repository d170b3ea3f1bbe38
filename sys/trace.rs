// SPDX-License-Identifier: GPL-2.0
//! The `dma_buf:*` trace events of the C core.
//!
//! C header: [`include/trace/events/dma_buf.h`](srctree/include/trace/events/dma_buf.h)
//!
//! `sys/glue.c` instantiates the events of the C header, so tracefs shows
//! the same events with the same fields as on the C core, and each event
//! gets a `rust_do_trace_<event>` function. The methods here test the
//! event's static key inline (a patched jump, as the C `trace_*` calls),
//! and only when the event is on take the buffer's name lock and call
//! into C: the events read `exp_name`, and upstream emits them all under
//! that lock. With lockdep the lock is taken whether the event is on or
//! not, as upstream does, so that lockdep knows the lock at every place
//! an event can fire.
//!
//! `kernel::declare_trace!` cannot be used: it names the tracepoint
//! through `kernel::bindings`, which only knows the kernel's own events.

use super::attachment::Attachment;
use super::dma_buf::DmaBuf;
use kernel::bindings;
use kernel::ffi::c_int;

// `struct tracepoint` holds a zero-sized member that Rust calls not
// FFI-safe; the statics are only used by address (their static key).
// Without CONFIG_TRACEPOINTS there are no events (and no symbols).
#[cfg(CONFIG_TRACEPOINTS)]
#[allow(improper_ctypes)]
extern "C" {
    static __tracepoint_dma_buf_export: bindings::tracepoint;
    static __tracepoint_dma_buf_fd: bindings::tracepoint;
    static __tracepoint_dma_buf_get: bindings::tracepoint;
    static __tracepoint_dma_buf_put: bindings::tracepoint;
    static __tracepoint_dma_buf_mmap_internal: bindings::tracepoint;
    static __tracepoint_dma_buf_mmap: bindings::tracepoint;
    static __tracepoint_dma_buf_dynamic_attach: bindings::tracepoint;
    static __tracepoint_dma_buf_detach: bindings::tracepoint;
    fn rust_do_trace_dma_buf_export(dmabuf: *mut bindings::dma_buf);
    fn rust_do_trace_dma_buf_fd(dmabuf: *mut bindings::dma_buf, fd: c_int);
    fn rust_do_trace_dma_buf_get(dmabuf: *mut bindings::dma_buf, fd: c_int);
    fn rust_do_trace_dma_buf_put(dmabuf: *mut bindings::dma_buf);
    fn rust_do_trace_dma_buf_mmap_internal(dmabuf: *mut bindings::dma_buf);
    fn rust_do_trace_dma_buf_mmap(dmabuf: *mut bindings::dma_buf);
    fn rust_do_trace_dma_buf_dynamic_attach(
        dmabuf: *mut bindings::dma_buf,
        attach: *mut bindings::dma_buf_attachment,
        is_dynamic: bool,
        dev: *mut bindings::device,
    );
    fn rust_do_trace_dma_buf_detach(
        dmabuf: *mut bindings::dma_buf,
        attach: *mut bindings::dma_buf_attachment,
        is_dynamic: bool,
        dev: *mut bindings::device,
    );
}

/// Emits one event of `$buf`: `$tp` is its tracepoint, `$call` the C call.
macro_rules! emit {
    ($buf:expr, $tp:ident, $call:expr) => {{
        #[cfg(CONFIG_TRACEPOINTS)]
        let on = {
            // SAFETY: `$tp` is a tracepoint defined in C (sys/glue.c),
            // whose key is a real static key.
            unsafe { kernel::jump_label::static_branch_unlikely!($tp, bindings::tracepoint, key) }
        };
        #[cfg(not(CONFIG_TRACEPOINTS))]
        let on = false;
        if on || cfg!(CONFIG_LOCKDEP) {
            $buf.with_name_locked(|| {
                #[cfg(CONFIG_TRACEPOINTS)]
                if on {
                    // SAFETY: The arguments are live objects (the buffer
                    // has its file, an attachment its device), and the
                    // name lock is held, as the event requires.
                    unsafe { $call }
                }
            });
        }
    }};
}

// Without tracepoints the events' arguments are not used.
#[cfg_attr(not(CONFIG_TRACEPOINTS), allow(unused_variables))]
impl DmaBuf {
    /// `dma_buf:dma_buf_export`: a complete buffer was exported.
    #[inline]
    pub(crate) fn trace_export(&self) {
        emit!(
            self,
            __tracepoint_dma_buf_export,
            rust_do_trace_dma_buf_export(self.as_raw())
        );
    }

    /// `dma_buf:dma_buf_fd`: `fd` was given to the buffer's file.
    #[inline]
    pub(crate) fn trace_fd(&self, fd: c_int) {
        emit!(
            self,
            __tracepoint_dma_buf_fd,
            rust_do_trace_dma_buf_fd(self.as_raw(), fd)
        );
    }

    /// `dma_buf:dma_buf_get`: an importer took the buffer open as `fd`.
    #[inline]
    pub(crate) fn trace_get(&self, fd: c_int) {
        emit!(
            self,
            __tracepoint_dma_buf_get,
            rust_do_trace_dma_buf_get(self.as_raw(), fd)
        );
    }

    /// `dma_buf:dma_buf_put`: a reference goes (`dma_buf_put`).
    #[inline]
    pub(crate) fn trace_put(&self) {
        emit!(
            self,
            __tracepoint_dma_buf_put,
            rust_do_trace_dma_buf_put(self.as_raw())
        );
    }

    /// `dma_buf:dma_buf_mmap_internal`: userspace maps the buffer's fd.
    #[inline]
    pub(crate) fn trace_mmap_internal(&self) {
        emit!(
            self,
            __tracepoint_dma_buf_mmap_internal,
            rust_do_trace_dma_buf_mmap_internal(self.as_raw())
        );
    }

    /// `dma_buf:dma_buf_mmap`: a driver maps the buffer into its VMA.
    #[inline]
    pub(crate) fn trace_mmap(&self) {
        emit!(
            self,
            __tracepoint_dma_buf_mmap,
            rust_do_trace_dma_buf_mmap(self.as_raw())
        );
    }

    /// `dma_buf:dma_buf_dynamic_attach`: `a` was attached (static or dynamic).
    #[inline]
    pub(crate) fn trace_attach(&self, a: &Attachment) {
        emit!(
            self,
            __tracepoint_dma_buf_dynamic_attach,
            rust_do_trace_dma_buf_dynamic_attach(
                self.as_raw(),
                a.as_raw(),
                a.is_dynamic(),
                a.raw_device()
            )
        );
    }

    /// `dma_buf:dma_buf_detach`: `a` was detached (and is freed next).
    #[inline]
    pub(crate) fn trace_detach(&self, a: &Attachment) {
        emit!(
            self,
            __tracepoint_dma_buf_detach,
            rust_do_trace_dma_buf_detach(self.as_raw(), a.as_raw(), a.is_dynamic(), a.raw_device())
        );
    }
}
