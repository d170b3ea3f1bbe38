// SPDX-License-Identifier: GPL-2.0
//! Raw bytes into a `seq_file` (`seq_write`), and the fdinfo lines in C's
//! formats (`seq_printf`).
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)
//!
//! The `kernel` crate's `seq_print!` prints Rust strings; buffer names are
//! bytes (`SET_NAME` takes any), which C prints as they are.

use kernel::bindings;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;

/// The C `struct seq_file` of `m` (`SeqFile` is a transparent wrapper of
/// it).
fn raw(m: &SeqFile) -> *mut bindings::seq_file {
    core::ptr::from_ref(m)
        .cast_mut()
        .cast::<bindings::seq_file>()
}

/// Writes `bytes` as they are (an overflow is the seq_file's to retry).
pub(crate) fn write_bytes(m: &SeqFile, bytes: &[u8]) {
    let seq = raw(m);
    // SAFETY: A seq_file being shown, and `bytes.len()` readable bytes.
    unsafe { bindings::seq_write(seq, bytes.as_ptr().cast(), bytes.len()) };
}

/// The lines a buffer shows in `/proc/<pid>/fdinfo/<fd>`, formatted by
/// `seq_printf` with the formats C's core uses: the bytes match upstream's
/// (names are printed as they are, a NULL exporter name as `(null)`), and
/// one call formats the three fixed lines, which `core::fmt` took about
/// 300 instructions more to do (the instruction profile of B8 fdinfo).
pub(crate) fn print_fdinfo(
    m: &SeqFile,
    size: usize,
    count: kernel::ffi::c_long,
    exp_name: Option<&CStr>,
    name: Option<&CStr>,
) {
    let seq = raw(m);
    let exp_name = exp_name.map_or(core::ptr::null(), CStr::as_char_ptr);
    // SAFETY: A seq_file being shown; each format's conversions match the
    // arguments' C types (`%zu` a `size_t`, `%ld` a `long`, `%s` a
    // NUL-terminated string or NULL).
    unsafe {
        bindings::seq_printf(
            seq,
            c"size:\t%zu\ncount:\t%ld\nexp_name:\t%s\n".as_char_ptr(),
            size,
            count,
            exp_name,
        );
        if let Some(name) = name {
            bindings::seq_printf(seq, c"name:\t%s\n".as_char_ptr(), name.as_char_ptr());
        }
    }
}
