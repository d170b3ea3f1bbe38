// SPDX-License-Identifier: GPL-2.0
//! What the ownership ledger records of a buffer and of an attachment,
//! and the two kernel facilities it needs that the `kernel` crate lacks:
//! the exporting task's identity and saved stacks (stackdepot).
//!
//! C headers: [`include/linux/stackdepot.h`](srctree/include/linux/stackdepot.h),
//! [`include/linux/cgroup.h`](srctree/include/linux/cgroup.h)
//!
//! The records live in the same allocations as the C objects (after
//! `struct dma_buf` and after `struct dma_buf_attachment`), so C drivers
//! see the objects they always saw. The rules (what is counted when, and
//! what is a misuse) are in `dma_buf/ledger.rs`.

use super::glue;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::dma::DataDirection;

/// The task that exported a buffer, as it was at the export.
///
/// Mirrors `struct dmabuf_rs_owner` of `sys/glue.c`, which fills it (its
/// size is asserted there). Packed to 4 bytes, so that it has no tail
/// padding and [`BufLedger`] none at all (see there); its `u64`s are read
/// by value only.
#[repr(C, packed(4))]
pub(crate) struct Owner {
    /// The id of the task's cgroup on the default hierarchy (the inode
    /// number of its directory in cgroup2), 0 without cgroups.
    cgroup: u64,
    /// When, in nanoseconds of `CLOCK_BOOTTIME` as of the last tick (the
    /// coarse clock).
    when_ns: u64,
    /// The thread group id, in the initial pid namespace.
    tgid: i32,
    /// The exporting thread's name, NUL-padded.
    comm: [u8; 16],
}

impl Owner {
    /// The calling task, now.
    pub(crate) fn current() -> Owner {
        let mut o = Owner {
            cgroup: 0,
            when_ns: 0,
            tgid: 0,
            comm: [0; 16],
        };
        // SAFETY: `o` is a valid `struct dmabuf_rs_owner` to write.
        unsafe { glue::dmabuf_rs_current_owner(&mut o) };
        o
    }

    /// The thread group id.
    pub(crate) fn tgid(&self) -> i32 {
        self.tgid
    }

    /// The thread name, without its padding.
    pub(crate) fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|&c| c == 0).unwrap_or(16);
        &self.comm[..n]
    }

    /// The cgroup2 id.
    pub(crate) fn cgroup(&self) -> u64 {
        self.cgroup
    }

    /// The export time, in nanoseconds since boot.
    pub(crate) fn when_ns(&self) -> u64 {
        self.when_ns
    }
}

/// A saved call stack: a stackdepot handle, or none (the detector was off,
/// stackdepot is not built, or it had no memory).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stack(u32);

impl Stack {
    /// No stack.
    pub(crate) const NONE: Stack = Stack(0);

    /// The caller's stack, without the frames of the ledger itself.
    pub(crate) fn save() -> Stack {
        // SAFETY: No requirements; it allocates without sleeping.
        Stack(unsafe { glue::dmabuf_rs_stack_save() })
    }

    /// Prints the stack to the kernel log (a line saying there is none if
    /// so).
    pub(crate) fn print(self) {
        // SAFETY: 0 or a handle `stack_depot_save` returned.
        unsafe { glue::dmabuf_rs_stack_print(self.0) };
    }

    /// The handle, as a key for reporting each site once.
    pub(crate) fn key(self) -> u32 {
        self.0
    }
}

/// A place for a saved stack, written and read without a lock.
#[derive(Default)]
pub(crate) struct StackSlot(AtomicU32);

impl StackSlot {
    /// Saves `s` here.
    pub(crate) fn set(&self, s: Stack) {
        self.0.store(s.0, Ordering::Relaxed);
    }

    /// The stack saved here last.
    pub(crate) fn get(&self) -> Stack {
        Stack(self.0.load(Ordering::Relaxed))
    }
}

/// The index of a direction: the C enum's value (0 to 3).
pub(crate) fn dir_index(dir: DataDirection) -> usize {
    match dir {
        DataDirection::Bidirectional => 0,
        DataDirection::ToDevice => 1,
        DataDirection::FromDevice => 2,
        DataDirection::None => 3,
    }
}

/// The names of the directions, by [`dir_index`], as the owners file
/// shows them.
pub(crate) const DIR_NAMES: [&str; 4] = ["bidir", "to_dev", "from_dev", "none"];

/// A count per direction.
#[derive(Default)]
pub(crate) struct DirCounts([AtomicU32; 4]);

impl DirCounts {
    /// Adds one in `dir`.
    pub(crate) fn inc(&self, dir: DataDirection) {
        self.0[dir_index(dir)].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one away in `dir`; `false` (and nothing changes) if there was
    /// none.
    pub(crate) fn dec(&self, dir: DataDirection) -> bool {
        self.0[dir_index(dir)]
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// The count per direction index.
    pub(crate) fn get(&self) -> [u32; 4] {
        [0, 1, 2, 3].map(|i| self.0[i].load(Ordering::Relaxed))
    }

    /// The sum over the directions.
    pub(crate) fn total(&self) -> u32 {
        self.get().iter().sum()
    }
}

/// What the ledger keeps of a buffer. Zero (no owner, nothing counted) is
/// a valid state: the allocation starts zeroed.
///
/// Its 80 bytes have no padding, and their order keeps it so: they are
/// what a buffer's allocation grows by, and on x86_64 without lock
/// debugging a heap buffer's allocation (`struct dma_buf`, its
/// reservation object, this record, two module references and the heap's
/// data: `WithData` in `sys/export_info.rs`) is exactly 512 bytes, the
/// `kmalloc-512` cache; 8 bytes more would double it (`make bench`, B9's
/// footprint, shows the cache).
#[repr(C)]
pub(crate) struct BufLedger {
    /// Set before the buffer is published, constant afterwards.
    pub(crate) owner: Owner,
    /// The stack of the last vmap (detector on).
    pub(crate) vmap_stack: StackSlot,
    /// The inode number of the buffer's file (for reports made after the
    /// file is gone), set once the file exists.
    pub(crate) ino: AtomicU64,
    /// CPU-access brackets of kernel importers begun and not ended.
    pub(crate) cpu: DirCounts,
    /// The stack of the last begin, per direction (detector on).
    pub(crate) begin_stack: [StackSlot; 4],
}

const _: () = assert!(core::mem::size_of::<BufLedger>() == 80);

/// What the ledger keeps of an attachment; zero is a valid state.
#[repr(C)]
#[derive(Default)]
pub(crate) struct AttachLedger {
    /// Mappings held, per direction.
    pub(crate) maps: DirCounts,
    /// Explicit pins (`dma_buf_pin`) held.
    pub(crate) pins: AtomicU32,
    /// The stack of the attach (detector on).
    pub(crate) attach_stack: StackSlot,
    /// The stack of the last map (detector on).
    pub(crate) map_stack: StackSlot,
}

/// Whether the misuse detector is on (the `debug_misuse` parameter).
#[inline]
pub(crate) fn misuse_detector() -> bool {
    // SAFETY: A `bool` the kernel writes only while parsing parameters, at
    // boot or load, before any buffer exists (the parameter is read-only
    // in sysfs); a volatile read, as C's `READ_ONCE`.
    unsafe { core::ptr::read_volatile(&raw const glue::dmabuf_rs_debug_misuse) }
}

/// Prepares what the detector needs (stackdepot), when it is on; called
/// once at initialization.
pub(crate) fn init() -> kernel::error::Result {
    // SAFETY: Called from the module's initialization, which may sleep.
    kernel::error::to_result(unsafe { glue::dmabuf_rs_ledger_init() })
}
