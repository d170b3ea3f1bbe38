// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/dma_buf/bufinfo`, in the upstream format.

use crate::ffi::entry::SeqFilePtr;
use crate::ffi::object::{for_each_buffer, DmaBuf};
use crate::uapi::DMA_BUF_NAME_LEN;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::seq_print;

fn show_one(m: &SeqFile, raw: SeqFilePtr, buf: &DmaBuf) -> Result {
    let resv = buf.resv();
    let guard = resv.lock_interruptible()?;
    let (flags, mode, count, ino) = buf.file_info();
    let mut name = [0u8; DMA_BUF_NAME_LEN];
    let name = match buf.copy_name(&mut name) {
        Some(len) => core::str::from_utf8(&name[..len]).unwrap_or("?"),
        None => "<none>",
    };
    seq_print!(
        m,
        "{:08}\t{:08x}\t{:08x}\t{:08}\t{}\t{:08}\t{}\n",
        buf.size(),
        flags,
        mode,
        count,
        buf.exp_name().to_str().unwrap_or("?"),
        ino,
        name
    );
    // SAFETY: `raw` is the seq_file being shown.
    unsafe { resv.describe(&guard, raw) };
    seq_print!(m, "\tAttached Devices:\n");
    let mut attached = 0;
    buf.for_each_attachment(&guard, |a| {
        seq_print!(m, "\t{}\n", a.dev_name().to_str().unwrap_or("?"));
        attached += 1;
    });
    drop(guard);
    seq_print!(m, "Total {} devices attached\n\n", attached);
    Ok(())
}

/// Prints every buffer.
pub(crate) fn show(m: &SeqFile, raw: SeqFilePtr) -> Result {
    seq_print!(m, "\nDma-buf Objects:\n");
    seq_print!(
        m,
        "{:<8}\t{:<8}\t{:<8}\t{:<8}\texp_name\t{:<8}\tname\n",
        "size",
        "flags",
        "mode",
        "count",
        "ino"
    );
    let mut objects = 0;
    let mut bytes = 0usize;
    for_each_buffer(|buf| {
        show_one(m, raw, buf)?;
        objects += 1;
        bytes += buf.size();
        Ok(())
    })?;
    seq_print!(m, "\nTotal {} objects, {} bytes\n", objects, bytes);
    Ok(())
}
