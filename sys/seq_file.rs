// SPDX-License-Identifier: GPL-2.0
//! Raw bytes into a `seq_file` (`seq_write`).
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)
//!
//! The `kernel` crate's `seq_print!` prints Rust strings; buffer names are
//! bytes (`SET_NAME` takes any), which C prints as they are.

use kernel::bindings;
use kernel::seq_file::SeqFile;

/// Writes `bytes` as they are (an overflow is the seq_file's to retry).
pub(crate) fn write_bytes(m: &SeqFile, bytes: &[u8]) {
    // `SeqFile` is a transparent wrapper of `struct seq_file`.
    let seq = core::ptr::from_ref(m)
        .cast_mut()
        .cast::<bindings::seq_file>();
    // SAFETY: A seq_file being shown, and `bytes.len()` readable bytes.
    unsafe { bindings::seq_write(seq, bytes.as_ptr().cast(), bytes.len()) };
}
