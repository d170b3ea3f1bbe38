#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Derives the built-in users of the dma-buf API from a kernel tree and
checks that the Rust core's Kconfig (DMABUF_RUST_BUILTIN_USERS) forces the
core built in for each of them.

A user is a Kconfig symbol whose block selects DMA_SHARED_BUFFER or
depends on it. Each must appear in DMABUF_RUST_BUILTIN_USERS' dependency
expression, or be covered by a symbol that does (COVERED: a bool or a
sub-option whose code is built only together with that one), or be the
dma-buf code itself (OWN). Usage: dmabuf-api-users.py KERNEL_SRC
RUST_KCONFIG; prints TAP lines, exit 1 if a user is not covered.
"""
import os
import re
import sys

# Symbols that are the dma-buf core, its heaps or its own options.
OWN = {"DMA_SHARED_BUFFER", "DMABUF_DEBUG", "DMABUF_HEAPS", "DMABUF_KUNIT_TEST",
       "SYNC_FILE", "UDMABUF", "DMABUF_SELFTESTS", "DMABUF_MOVE_NOTIFY",
       "DMABUF_SYSFS_STATS", "SW_SYNC", "DMABUF_RUST", "DMABUF_RUST_CORE",
       "DMABUF_RUST_BUILTIN_USERS"}
# symbol -> the listed symbol whose =y it implies (why it needs no entry).
COVERED = {
    "DRM_VIRTIO_GPU": "DRM",          # depends on DRM
    "IIO_BUFFER": "IIO",              # part of industrialio
    "INFINIBAND_USER_MEM": "INFINIBAND",
    "IOMMUFD_TEST": "IOMMUFD",
    "VIDEOBUF2_DMA_CONTIG": "VIDEOBUF2_CORE",  # selects VIDEOBUF2_CORE
    "VIDEOBUF2_VMALLOC": "VIDEOBUF2_CORE",
    "VIDEOBUF2_DMA_SG": "VIDEOBUF2_CORE",
    "XEN_GNTDEV_DMABUF": "XEN_GNTDEV",  # a bool inside xen-gntdev
}


def users(src):
    found = {}
    for dirpath, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "rust"
                   or dirpath != os.path.join(src, "drivers", "dma-buf")]
        for n in names:
            if not n.startswith("Kconfig"):
                continue
            path = os.path.join(dirpath, n)
            if os.path.join("drivers", "dma-buf", "rust") in path:
                continue
            sym = None
            with open(path, errors="replace") as f:
                for line in f:
                    m = re.match(r"^\s*(?:menu)?config\s+([A-Z0-9_]+)", line)
                    if m:
                        sym = m.group(1)
                        continue
                    if sym and re.match(r"^\s*(select|depends on|imply|def_bool|def_tristate|bool|tristate|default)\b.*\bDMA_SHARED_BUFFER\b", line):
                        found.setdefault(sym, os.path.relpath(path, src))
    return found


def main():
    src, kconfig = sys.argv[1], sys.argv[2]
    text = open(kconfig).read()
    m = re.search(r"config DMABUF_RUST_BUILTIN_USERS\n(.*?)\n\s*select", text, re.S)
    listed = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", m.group(1))) if m else set()
    bad = 0
    n = 0
    for sym, where in sorted(users(src).items()):
        if sym in OWN:
            continue
        n += 1
        if sym in listed:
            print(f"ok {n} - kconfig users: {sym} ({where}) forces the core built in")
        elif COVERED.get(sym) in listed:
            print(f"ok {n} - kconfig users: {sym} ({where}) is covered by {COVERED[sym]}")
        else:
            print(f"not ok {n} - kconfig users: {sym} ({where}) selects or depends on "
                  "DMA_SHARED_BUFFER but is not in DMABUF_RUST_BUILTIN_USERS")
            bad = 1
    if n == 0:
        print("not ok 1 - kconfig users: no user of DMA_SHARED_BUFFER found (wrong tree?)")
        bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
