// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/dma_buf/owners`: the ownership ledger, one line per
//! buffer and one per attachment (format in `Documentation/dma-buf-rust.rst`,
//! "The ownership ledger"). Not in the C core.
//!
//! The walk is bufinfo's: each buffer with a reference, under the list
//! lock, and its attachments under its reservation lock, so buffers may
//! die while the file is read.

use super::file::exp_name;
use crate::dma_buf::DmaBuf;
use crate::sys::debugfs::Show;
use crate::sys::ledger::DirCounts;
use crate::sys::pseudo_fs;
use crate::sys::seq_file::write_bytes;
use crate::uapi::dma_buf::DMA_BUF_NAME_LEN;
use kernel::prelude::*;
use kernel::seq_file::{seq_print, SeqFile};
use kernel::sync::aref::ARef;

/// The format's version, on the first line; a change that can break a
/// parser (a field renamed, moved or removed) makes it 2. New fields are
/// added at the end of a line.
const VERSION: u32 = 1;

/// The contents of `owners`.
pub(crate) struct Owners;

impl Show for Owners {
    fn show(m: &SeqFile) -> Result {
        seq_print!(m, "# dma_buf owners {}\n", VERSION);
        DmaBuf::for_each(|buf| show_one(m, buf))
    }
}

/// Writes `bytes` as one field value: printable ASCII as it is, other
/// bytes, spaces, `=` and `\` as `\xHH`; empty as `\x00` would be
/// ambiguous, so an empty value is written `""`.
fn write_value(m: &SeqFile, bytes: &[u8]) {
    if bytes.is_empty() {
        write_bytes(m, b"\"\"");
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 128];
    let mut n = 0;
    for &c in bytes {
        if n + 4 > out.len() {
            write_bytes(m, &out[..n]);
            n = 0;
        }
        if c > b' ' && c < 0x7f && c != b'=' && c != b'\\' && c != b'"' {
            out[n] = c;
            n += 1;
        } else {
            out[n..n + 4].copy_from_slice(&[
                b'\\',
                b'x',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]);
            n += 4;
        }
    }
    write_bytes(m, &out[..n]);
}

/// The counts per direction, `bidir,to_dev,from_dev,none`.
fn write_dirs(m: &SeqFile, c: &DirCounts) {
    let [b, t, f, n] = c.get();
    seq_print!(m, "{},{},{},{}", b, t, f, n);
}

fn show_one(m: &SeqFile, buf: &ARef<DmaBuf>) -> Result {
    let locked = buf.lock_interruptible()?;
    // The count without the reference `DmaBuf::for_each` holds.
    let refs = DmaBuf::file_refs(buf) - 1;
    let ino = pseudo_fs::ino(DmaBuf::file_of(buf));
    let l = buf.ledger();
    seq_print!(m, "buffer ino={} size={} exporter=", ino, buf.size());
    write_value(m, exp_name(buf));
    let mut name = [0u8; DMA_BUF_NAME_LEN];
    match buf.copy_name(&mut name) {
        Some(len) => {
            seq_print!(m, " name=");
            write_value(m, &name[..len]);
        }
        None => seq_print!(m, " name=-"),
    }
    seq_print!(m, " refs={} tgid={} comm=", refs, l.owner.tgid());
    write_value(m, l.owner.comm());
    seq_print!(
        m,
        " cgroup={} exported_ns={} vmaps={} cpu=",
        l.owner.cgroup(),
        l.owner.when_ns(),
        locked.vmap_count()
    );
    write_dirs(m, &l.cpu);
    seq_print!(m, "\n");
    locked.for_each_attachment(|a| {
        let al = a.ledger();
        seq_print!(m, "attachment ino={} device=", ino);
        write_value(m, a.dev_name().to_bytes());
        seq_print!(
            m,
            " kind={} p2p={} pins={} maps=",
            a.kind(),
            u8::from(a.is_peer2peer()),
            al.pins.load(core::sync::atomic::Ordering::Relaxed)
        );
        write_dirs(m, &al.maps);
        seq_print!(m, "\n");
    });
    Ok(())
}
