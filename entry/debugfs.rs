// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/dma_buf/bufinfo`, in the upstream format.

use super::file::exp_name;
use crate::dma_buf::DmaBuf;
use crate::sys::debugfs::Show;
use crate::sys::pseudo_fs;
use crate::sys::seq_file::write_bytes;
use crate::uapi::dma_buf::DMA_BUF_NAME_LEN;
use kernel::prelude::*;
use kernel::seq_file::{seq_print, SeqFile};
use kernel::sync::aref::ARef;

/// The contents of `bufinfo`.
pub(crate) struct BufInfo;

impl Show for BufInfo {
    fn show(m: &SeqFile) -> Result {
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
        DmaBuf::for_each(|buf| {
            show_one(m, buf)?;
            objects += 1;
            bytes += buf.size();
            Ok(())
        })?;
        seq_print!(m, "\nTotal {} objects, {} bytes\n", objects, bytes);
        Ok(())
    }
}

fn show_one(m: &SeqFile, buf: &ARef<DmaBuf>) -> Result {
    let locked = buf.lock_interruptible()?;
    // The count without the reference `DmaBuf::for_each` holds for this walk.
    let count = DmaBuf::file_refs(buf) - 1;
    let file = DmaBuf::file_of(buf);
    let mut name = [0u8; DMA_BUF_NAME_LEN];
    let name: &[u8] = match buf.copy_name(&mut name) {
        Some(len) => &name[..len],
        None => b"<none>",
    };
    seq_print!(
        m,
        "{:08}\t{:08x}\t{:08x}\t{:08}\t",
        buf.size(),
        file.flags(),
        pseudo_fs::f_mode(file),
        count
    );
    write_bytes(m, exp_name(buf));
    seq_print!(m, "\t{:08}\t", pseudo_fs::ino(file));
    write_bytes(m, name);
    seq_print!(m, "\n");
    locked.held().describe(m);
    seq_print!(m, "\tAttached Devices:\n");
    let mut attached = 0;
    locked.for_each_attachment(|a| {
        seq_print!(m, "\t");
        write_bytes(m, a.dev_name().to_bytes());
        seq_print!(m, "\n");
        attached += 1;
    });
    drop(locked);
    seq_print!(m, "Total {} devices attached\n\n", attached);
    Ok(())
}
