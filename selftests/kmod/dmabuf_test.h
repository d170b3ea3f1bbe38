/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* ioctls of /dev/dmabuf_test (selftests/kmod/dmabuf_test_c.c). */
#ifndef DMABUF_TEST_H
#define DMABUF_TEST_H
#include <linux/ioctl.h>
#include <linux/types.h>

struct dmabuf_test_export {
	__u64 size;	/* in: bytes */
	__s32 fd;	/* out: the new dma-buf */
	__u32 flags;	/* in: DMABUF_TEST_EXPORT_* */
};
/* Get the fd from dma_buf_fd (installed at once), not reserved, copied
 * out and then installed with dma_buf_fd_install. */
#define DMABUF_TEST_EXPORT_FD		(1 << 0)
/* Export with a NULL exp_name. */
#define DMABUF_TEST_EXPORT_NO_NAME	(1 << 1)
/* An exporter with pin/unpin (as a dynamic exporter): IMPORT and MAPINFO
 * of such a buffer set `pinned`. */
#define DMABUF_TEST_EXPORT_PINNABLE	(1 << 2)

struct dmabuf_test_import {
	__s32 fd;		/* in: a dma-buf of any exporter */
	__u8 fill_byte;		/* in: if nonzero, written through the vmap */
	__u8 page_links;	/* out: first sg entry has a page */
	__u8 vmap_same;		/* out: second vmap returned the same map */
	__u8 vmap_iomem;	/* out: the map is I/O memory */
	__u8 vunmap_cleared;	/* out: the exporter's iosys_map_clear in vunmap
				 * cleared the importer's map */
	__u8 pinned;		/* out: DMABUF_TEST_PINNED_AT_MAP |
				 * DMABUF_TEST_UNPINNED_AFTER */
	__u8 pad[6];
	__u64 mapped_bytes;	/* out: sum of the DMA lengths */
	__u64 nents;		/* out: mapped entries */
	__u64 byte_sum;		/* out: sum of all bytes read through vmap */
	__u64 dma_addr;		/* out: the first entry's DMA address */
};

/* The pinnable exporter saw a pin at its map, and none is left after the
 * unmap. */
#define DMABUF_TEST_PINNED_AT_MAP	(1 << 0)
#define DMABUF_TEST_UNPINNED_AFTER	(1 << 1)

#define DMABUF_TEST_EXPORT		_IOWR('T', 0, struct dmabuf_test_export)
#define DMABUF_TEST_IMPORT		_IOWR('T', 1, struct dmabuf_test_import)
#define DMABUF_TEST_GET			_IO('T', 2)
#define DMABUF_TEST_EXPORT_ERROR	_IO('T', 3)
#define DMABUF_TEST_DYNAMIC		_IO('T', 4)
#define DMABUF_TEST_HEAP_ADD_ERROR	_IO('T', 5)
/*
 * Importer patterns of real drivers. HOLD (vc-sm-cma): attach and map the
 * buffer behind fd, refuse it with EINVAL unless the mapping is one
 * contiguous DMA segment, and keep it (reference, attachment, mapping)
 * until UNHOLD, whatever userspace does with its fd; returns a slot.
 * HELD_SUM: the sum of the held buffer's bytes, read through vmap inside
 * begin/end_cpu_access. REATTACH: attach, map, unmap, detach the buffer
 * behind fd many times; returns a mask of the checks that held.
 * mmap of /dev/dmabuf_test at page offset N maps the buffer held in slot N
 * through dma_buf_mmap().
 */
#define DMABUF_TEST_HOLD		_IO('T', 6)
#define DMABUF_TEST_HELD_SUM		_IO('T', 7)
#define DMABUF_TEST_UNHOLD		_IO('T', 8)
#define DMABUF_TEST_REATTACH		_IO('T', 9)
/* Attach, map, count the mapped bytes and entries, unmap, detach. */
#define DMABUF_TEST_MAPINFO		_IOWR('T', 10, struct dmabuf_test_import)
/* Registers the C heap "dmabuf_test_heap" (once; pins the module). */
#define DMABUF_TEST_HEAP_ADD		_IO('T', 11)
/* Attaches to the buffer of fd, maps, detaches without unmapping (an
 * importer bug); the table's entry count. */
#define DMABUF_TEST_DETACH_MAPPED	_IO('T', 12)

/*
 * Importer bugs on purpose, for the ledger's misuse detector (arg: struct
 * dmabuf_test_misuse). END_WITHOUT_BEGIN ends a CPU access it never
 * began; BEGIN_NOT_ENDED begins one and drops its reference without
 * ending it; PUT_WHILE_MAPPED attaches, maps, and drops its reference
 * keeping the mapping (one at a time), which CLEANUP then unmaps and
 * detaches (userspace keeps the buffer alive in between, e.g. with an
 * O_PATH open of /proc/self/fd/N, and closes its fd first).
 */
struct dmabuf_test_misuse {
	__s32 fd;
	__u32 kind;
};
#define DMABUF_TEST_MISUSE_END_WITHOUT_BEGIN	0
#define DMABUF_TEST_MISUSE_BEGIN_NOT_ENDED	1
#define DMABUF_TEST_MISUSE_PUT_WHILE_MAPPED	2
#define DMABUF_TEST_MISUSE_CLEANUP		3
/* Not bugs, for the ledger's scenario: KEEP_VMAP takes a reference,
 * vmaps the buffer and begins a CPU access from the device (one at a
 * time); DROP_VMAP ends it all. */
#define DMABUF_TEST_KEEP_VMAP			4
#define DMABUF_TEST_DROP_VMAP			5
#define DMABUF_TEST_MISUSE		_IOW('T', 13, struct dmabuf_test_misuse)

/*
 * The device's side of the buffer held in `slot` (HOLD): the memory at
 * the mapping's DMA address, which under swiotlb=force is a bounce buffer
 * the CPU side reaches only through the exporter's syncs. If `write`,
 * `byte` is first written over all of it (as a device's DMA write would);
 * `sum` is the sum of its bytes. There is no IOMMU in the test guests.
 */
struct dmabuf_test_device {
	__u32 slot;	/* in */
	__u8 write;	/* in */
	__u8 byte;	/* in */
	__u8 pad[2];
	__u64 sum;	/* out */
};
#define DMABUF_TEST_HELD_DEVICE		_IOWR('T', 14, struct dmabuf_test_device)

#endif
