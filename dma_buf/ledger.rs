// SPDX-License-Identifier: GPL-2.0
//! The ownership ledger and the misuse detector (not in the C core).
//!
//! The ledger is always kept: who exported each buffer (task, cgroup,
//! time: `sys/ledger.rs` `Owner`), and per attachment the mappings it holds
//! per direction and its explicit pins; per buffer the CPU-access brackets
//! that kernel importers began and did not end, per direction (the
//! `DMA_BUF_IOCTL_SYNC` brackets of userspace are not counted: the uapi
//! lets them be unbalanced). Counts change on paths that already hold the
//! buffer's reservation lock (map, unmap, pin, unpin) or already call the
//! exporter (begin and end of CPU access), as relaxed atomics; the vmap
//! count is the core's own. `debugfs/dma_buf/owners` shows it
//! (`entry/owners.rs`).
//!
//! The misuse detector is the `debug_misuse` parameter (off by default):
//! then attach, map, vmap and begin of CPU access also save their stack
//! (stackdepot), and what an importer leaves unbalanced is reported with
//! the saved stacks and the device's name: a detach with mappings alive,
//! the last file reference put while an attachment is mapped, a buffer
//! released with attachments, with vmaps, or with CPU accesses never
//! ended, and an end of CPU access without a begin. Each site is reported
//! once (a site is the kind with the saved stack, or the caller's stack
//! when nothing was saved) and at most [`MAX_SITES`] sites per boot; a
//! report is a `pr_warn`, never a `WARN` or `BUG` (the `WARN`s the core
//! gives for the same bugs as the C core, detector on or off, stay).

use crate::sys::attachment::Attachment;
use crate::sys::dma_buf::{DmaBuf, DyingDmaBuf};
use crate::sys::ledger::{self, dir_index, Stack, DIR_NAMES};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::dma::DataDirection;
use kernel::prelude::*;

/// How many distinct sites are reported; later ones are counted only.
pub(crate) const MAX_SITES: usize = 64;

/// The sites reported so far (`kind << 32 | stack`), 0 for a free slot.
static SITES: [AtomicU64; MAX_SITES] = [const { AtomicU64::new(0) }; MAX_SITES];
/// Set when a site did not fit, so that this is said once.
static SITES_FULL: AtomicBool = AtomicBool::new(false);

/// What an importer left unbalanced.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Misuse {
    DetachMapped = 1,
    PutWhileMapped,
    ReleasedAttached,
    ReleasedVmapped,
    BeginNotEnded,
    EndWithoutBegin,
}

impl Misuse {
    fn what(self) -> &'static str {
        match self {
            Misuse::DetachMapped => "detach with mappings alive",
            Misuse::PutWhileMapped => "last reference put while mapped",
            Misuse::ReleasedAttached => "buffer released with an attachment",
            Misuse::ReleasedVmapped => "buffer released while vmapped",
            Misuse::BeginNotEnded => "begin_cpu_access never ended",
            Misuse::EndWithoutBegin => "end_cpu_access without begin_cpu_access",
        }
    }
}

/// Whether `kind` at `site` is new (and now recorded).
fn first_report(kind: Misuse, site: Stack) -> bool {
    let key = (kind as u64) << 32 | u64::from(site.key());
    for slot in &SITES {
        match slot.compare_exchange(0, key, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(k) if k == key => return false,
            Err(_) => {}
        }
    }
    if !SITES_FULL.swap(true, Ordering::Relaxed) {
        pr_warn!(
            "dma-buf misuse: more than {} sites, no more reports\n",
            MAX_SITES
        );
    }
    false
}

/// Reports `kind` on the buffer `ino` (`dev`: the importer's device, if
/// one is concerned; `detail`: counts), once per site, with the saved
/// stacks; `site` is the first of them.
fn report(
    kind: Misuse,
    ino: u64,
    dev: Option<&CStr>,
    detail: core::fmt::Arguments<'_>,
    stacks: &[(&str, Stack)],
) {
    let site = stacks.first().map_or(Stack::NONE, |s| s.1);
    if !first_report(kind, site) {
        return;
    }
    match dev {
        Some(dev) => pr_warn!(
            "dma-buf misuse: {}: buffer ino {}, device {}, {}\n",
            kind.what(),
            ino,
            dev.to_str().unwrap_or("?"),
            detail
        ),
        None => pr_warn!(
            "dma-buf misuse: {}: buffer ino {}, {}\n",
            kind.what(),
            ino,
            detail
        ),
    }
    for (op, stack) in stacks {
        pr_warn!("dma-buf misuse: the {} was called from:\n", op);
        stack.print();
    }
}

/// The stack to save for an operation: the caller's when the detector is
/// on, none otherwise.
fn stack_if_on() -> Option<Stack> {
    ledger::misuse_detector().then(Stack::save)
}

impl DmaBuf {
    /// The buffer's file exists now: remember its inode number.
    pub(super) fn ledger_published(&self, ino: u64) {
        self.ledger().ino.store(ino, Ordering::Relaxed);
    }

    /// A kernel importer began CPU access in `dir`.
    pub(super) fn ledger_begin(&self, dir: DataDirection) {
        let l = self.ledger();
        l.cpu.inc(dir);
        if let Some(s) = stack_if_on() {
            l.begin_stack[dir_index(dir)].set(s);
        }
    }

    /// A kernel importer ends CPU access in `dir`.
    pub(super) fn ledger_end(&self, dir: DataDirection) {
        if !self.ledger().cpu.dec(dir) {
            if let Some(here) = stack_if_on() {
                report(
                    Misuse::EndWithoutBegin,
                    self.ledger().ino.load(Ordering::Relaxed),
                    None,
                    format_args!("direction {}", DIR_NAMES[dir_index(dir)]),
                    &[("end_cpu_access", here)],
                );
            }
        }
    }

    /// A kernel mapping was handed out.
    pub(super) fn ledger_vmap(&self) {
        if let Some(s) = stack_if_on() {
            self.ledger().vmap_stack.set(s);
        }
    }

    /// The last file reference is gone: an attachment still mapped is an
    /// importer that put its reference too early.
    pub(super) fn ledger_file_released(&self) {
        if !ledger::misuse_detector() {
            return;
        }
        let ino = self.ledger().ino.load(Ordering::Relaxed);
        self.lock().for_each_attachment(|a| {
            let maps = a.ledger().maps.total();
            if maps != 0 {
                report(
                    Misuse::PutWhileMapped,
                    ino,
                    Some(a.dev_name()),
                    format_args!("{} mapping(s)", maps),
                    &[
                        ("map", a.ledger().map_stack.get()),
                        ("attach", a.ledger().attach_stack.get()),
                    ],
                );
            }
        });
    }

    /// The buffer is being released (nothing else can reach it): what is
    /// still attached, vmapped or in a CPU access was never given back.
    pub(super) fn ledger_release(&self, vmaps: u32) {
        if !ledger::misuse_detector() {
            return;
        }
        let l = self.ledger();
        let ino = l.ino.load(Ordering::Relaxed);
        self.lock().for_each_attachment(|a| {
            report(
                Misuse::ReleasedAttached,
                ino,
                Some(a.dev_name()),
                format_args!("{} mapping(s)", a.ledger().maps.total()),
                &[("attach", a.ledger().attach_stack.get())],
            );
        });
        if vmaps != 0 {
            report(
                Misuse::ReleasedVmapped,
                ino,
                None,
                format_args!("{} vmap(s)", vmaps),
                &[("vmap", l.vmap_stack.get())],
            );
        }
        for (i, n) in l.cpu.get().into_iter().enumerate() {
            if n != 0 {
                report(
                    Misuse::BeginNotEnded,
                    ino,
                    None,
                    format_args!("{} open in direction {}", n, DIR_NAMES[i]),
                    &[("begin_cpu_access", l.begin_stack[i].get())],
                );
            }
        }
    }
}

impl DyingDmaBuf {
    /// See [`DmaBuf::ledger_file_released`].
    pub(super) fn ledger_file_released(&self) {
        // SAFETY: Locks the buffer and reads its attachments; no reference
        // is made.
        unsafe { self.buf() }.ledger_file_released();
    }
}

impl Attachment {
    /// Attached: save the stack.
    pub(super) fn ledger_attached(&self) {
        if let Some(s) = stack_if_on() {
            self.ledger().attach_stack.set(s);
        }
    }

    /// Mapped in `dir` (under the reservation lock).
    pub(super) fn ledger_mapped(&self, dir: DataDirection) {
        let l = self.ledger();
        l.maps.inc(dir);
        if let Some(s) = stack_if_on() {
            l.map_stack.set(s);
        }
    }

    /// Unmapped in `dir` (under the reservation lock).
    pub(super) fn ledger_unmapped(&self, dir: DataDirection) {
        self.ledger().maps.dec(dir);
    }

    /// Pinned (`true`) or unpinned, explicitly (under the lock).
    pub(super) fn ledger_pinned(&self, pinned: bool) {
        let pins = &self.ledger().pins;
        if pinned {
            pins.fetch_add(1, Ordering::Relaxed);
        } else {
            // Unbalanced unpins are the exporter's to refuse; keep 0.
            let _ = pins.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Being detached: mappings still alive are an importer bug.
    pub(super) fn ledger_detaching(&self) {
        let maps = self.ledger().maps.total();
        if maps != 0 && ledger::misuse_detector() {
            report(
                Misuse::DetachMapped,
                self.dma_buf().ledger().ino.load(Ordering::Relaxed),
                Some(self.dev_name()),
                format_args!("{} mapping(s)", maps),
                &[
                    ("map", self.ledger().map_stack.get()),
                    ("attach", self.ledger().attach_stack.get()),
                ],
            );
        }
    }

    /// The kind the owners file shows: `static`, `dynamic` or `revocable`.
    pub(crate) fn kind(&self) -> &'static str {
        if self.is_revocable() {
            "revocable"
        } else if self.is_dynamic() {
            "dynamic"
        } else {
            "static"
        }
    }
}
