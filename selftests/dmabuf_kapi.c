// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel API test through the C test module (/dev/dmabuf_test): export,
 * dma_buf_get errors, attach + map + cpu access + vmap by an importer,
 * data seen on both sides, debugfs bufinfo. Runs on both kernels.
 *
 *   dmabuf_kapi              the normal suite (TAP)
 *   dmabuf_kapi export-errors  dma_buf_export with bad info: each call
 *                            WARNs (as upstream) and must fail with EINVAL;
 *                            then an exporter's vmap fails twice, which
 *                            warns once (WARN_ON_ONCE) and is ENOMEM twice;
 *                            begin_cpu_access of NULL warns and is EINVAL
 *   dmabuf_kapi bounce       needs a boot with swiotlb=force: a held
 *                            mapping's device side is a bounce buffer,
 *                            which only the heaps' CPU-access syncs keep
 *                            in step with the CPU's side
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tap.h"
#include "kmod/dmabuf_test.h"


/* Whether the kernel has CONFIG_DMABUF_DEBUG, as the test module says. */
static int dmabuf_debug(void)
{
	static int known = -1;
	char c = 'Y';
	int f;

	if (known < 0) {
		f = open("/sys/module/dmabuf_test_c/parameters/dmabuf_debug", O_RDONLY);
		if (f >= 0) {
			if (read(f, &c, 1) != 1)
				c = 'Y';
			close(f);
		}
		known = c == 'Y';
	}
	return known;
}

static int file_has(const char *path, const char *needle)
{
	static char data[1 << 16];
	ssize_t n, off = 0;
	int f = open(path, O_RDONLY);

	if (f < 0)
		return 0;
	while ((n = read(f, data + off, sizeof(data) - 1 - off)) > 0)
		off += n;
	close(f);
	data[off] = 0;
	return strstr(data, needle) != NULL;
}

static int export(int dev, size_t size)
{
	struct dmabuf_test_export e = { .size = size, .flags = DMABUF_TEST_EXPORT_FD };

	if (ioctl(dev, DMABUF_TEST_EXPORT, &e))
		return -1;
	return e.fd;
}

static void sync_buf(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

static int heap_buf(const char *heap, size_t size)
{
	struct dma_heap_allocation_data d = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	int h = open(heap, O_RDWR | O_CLOEXEC), r;

	if (h < 0)
		return -1;
	r = ioctl(h, DMA_HEAP_IOCTL_ALLOC, &d);
	close(h);
	return r ? -1 : (int)d.fd;
}

static struct dmabuf_test_import last;

static void import_suite(int dev, int fd, size_t size, const char *who)
{
	struct dmabuf_test_import im = { .fd = fd };
	unsigned char *p;
	size_t i;
	int ok;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	result(p != MAP_FAILED, "%s: mmap", who);
	if (p == MAP_FAILED)
		return;
	/*
	 * The first bracket is read-write: udmabuf maps its CPU-sync table
	 * with the direction of the first begin_cpu_access and later syncs in
	 * other directions, which DMA_API_DEBUG reports unless that first
	 * direction was bidirectional (an upstream udmabuf quirk).
	 */
	sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	memset(p, 1, size);
	sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	im.fill_byte = 2;
	result(ioctl(dev, DMABUF_TEST_IMPORT, &im) == 0, "%s: importer attach/map/begin/vmap/end/unmap/detach", who);
	last = im;
	result(im.mapped_bytes == size, "%s: mapped table covers the buffer", who);
	/* The table's shape is data the differential compares for the heaps;
	 * not for the C exporter and udmabuf, whose tables merge the pages that
	 * happen to be physically contiguous. */
	printf("%s %s: %llu bytes in %llu entries\n", strstr(who, "heap") ? "data" : "#", who,
	       (unsigned long long)im.mapped_bytes, (unsigned long long)im.nents);
	result(im.byte_sum == size, "%s: importer read the bytes the CPU wrote through mmap", who);
	if (dmabuf_debug())
		result(!im.page_links, "%s: importer table has no page links (DMABUF_DEBUG)", who);
	else
		result(im.page_links, "%s: importer gets the exporter's table, page links kept (no DMABUF_DEBUG)",
		       who);
	result(im.vmap_same, "%s: a second vmap returns the cached mapping", who);
	result(!im.vmap_iomem, "%s: vmap is system memory", who);
	/* The exporter's vunmap gets the importer's map: if it clears it
	 * (the C test exporter and upstream's heaps do), the importer sees. */
	/* Data, not a verdict: the differential compares it with the C core. */
	printf("data %s: after the last vunmap the importer's map is %s\n", who,
	       im.vunmap_cleared ? "cleared by the exporter" : "left as it was");
	sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	for (ok = 1, i = 0; i < size; i++)
		ok &= p[i] == 2;
	sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	result(ok, "%s: CPU reads through mmap what the importer wrote through vmap", who);
	munmap(p, size);
}

static int udmabuf(size_t size)
{
	struct udmabuf_create c = { 0 };
	int memfd = memfd_create("t", MFD_ALLOW_SEALING), dev, fd;

	if (memfd < 0 || ftruncate(memfd, size) || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -1;
	dev = open("/dev/udmabuf", O_RDWR);
	if (dev < 0)
		return -1;
	c.memfd = memfd;
	c.size = size;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	close(memfd);
	return fd;
}

/* The importer patterns of real drivers (see kmod/dmabuf_test.h). */
static void reattach_suite(int dev, int fd, const char *who)
{
	static const char *checks[] = {
		"every attach and map succeeds",
		"every attachment maps to the same DMA segments as a live one",
		"nothing is left attached",
	};
	long mask = ioctl(dev, DMABUF_TEST_REATTACH, fd);

	for (int i = 0; i < 3; i++)
		result(mask >= 0 && (mask >> i) & 1, "%s: re-attaching importer: %s", who, checks[i]);
}

static void hold_suite(int dev)
{
	const size_t size = 4 << 20;
	const char *bufinfo = "/sys/kernel/debug/dma_buf/bufinfo";
	unsigned char *p;
	long slot, sum;
	int fd;

	fd = heap_buf("/dev/dma_heap/default_cma_region", size);
	result(fd >= 0, "vc-sm-cma importer: CMA heap buffer of 4 MiB");
	if (fd < 0)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	result(p != MAP_FAILED, "vc-sm-cma importer: mmap");
	if (p != MAP_FAILED) {
		sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
		memset(p, 0x5a, size);
		sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
		munmap(p, size);
	}
	slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
	result(slot >= 0, "vc-sm-cma importer: holds a CMA heap buffer (one contiguous DMA segment)");
	close(fd);
	if (slot < 0)
		return;
	result(file_has(bufinfo, "04194304\t"), "vc-sm-cma importer: the held buffer outlives its last fd (bufinfo)");
	sum = ioctl(dev, DMABUF_TEST_HELD_SUM, slot);
	result(sum == (long)size * 0x5a, "vc-sm-cma importer: reads the data written before the fd was closed");
	{
		/* The importer maps the held buffer for its users with
		 * dma_buf_mmap(): the VMA must lie inside the buffer. */
		unsigned char *q = mmap(NULL, size + 4096, PROT_READ, MAP_SHARED, dev, slot * 4096);

		result(q == MAP_FAILED && errno == EINVAL,
		       "dma_buf_mmap of one page more than the buffer fails with EINVAL");
		if (q != MAP_FAILED)
			munmap(q, size + 4096);
		q = mmap(NULL, size, PROT_READ, MAP_SHARED, dev, slot * 4096);
		result(q != MAP_FAILED && q[0] == 0x5a && q[size - 1] == 0x5a,
		       "dma_buf_mmap of the whole buffer maps it to its last byte");
		if (q != MAP_FAILED)
			munmap(q, size);
	}
	result(ioctl(dev, DMABUF_TEST_UNHOLD, slot) == 0, "vc-sm-cma importer: lets go");
	result(!file_has(bufinfo, "04194304\t"), "vc-sm-cma importer: the buffer is freed when the importer lets go");

	fd = heap_buf("/dev/dma_heap/system", (2 << 20) + 8192);
	if (fd >= 0) {
		slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
		result(slot == -1 && errno == EINVAL,
		       "vc-sm-cma importer: refuses a system heap buffer in several segments with EINVAL");
		if (slot >= 0)
			ioctl(dev, DMABUF_TEST_UNHOLD, slot);
		close(fd);
	} else {
		result(0, "vc-sm-cma importer: system heap buffer of 2 MiB + 8 KiB");
	}
}

/*
 * SET_NAME while an importer is attached and has the buffer mapped: 7.3
 * takes the new name (its kerneldoc still promises EBUSY, its code does not).
 */
static void name_while_attached(int dev)
{
	char path[64];
	long slot = -1;
	int fd;

	fd = heap_buf("/dev/dma_heap/default_cma_region", 1 << 20);
	if (fd >= 0)
		slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
	result(slot >= 0, "SET_NAME while attached: an importer attaches and maps a CMA heap buffer");
	if (slot < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	result(ioctl(fd, DMA_BUF_SET_NAME_A, "attached-a") == 0,
	       "SET_NAME_A while an importer is attached succeeds (no EBUSY)");
	result(ioctl(fd, DMA_BUF_SET_NAME_B, "attached-b") == 0,
	       "SET_NAME_B while an importer is attached succeeds (no EBUSY)");
	result(file_has(path, "name:\tattached-b\n"), "fdinfo shows the name set while attached");
	result(ioctl(dev, DMABUF_TEST_UNHOLD, slot) == 0, "SET_NAME while attached: the importer lets go");
	close(fd);
}

/*
 * A heap registered from C (dma_heap_add() in the test module) serves
 * DMA_HEAP_IOCTL_ALLOC from userspace: the core calls the C heap's
 * allocate through its C-typed pointer. Leaves the heap registered (heaps
 * are never removed), so it runs in a boot that unloads nothing; so does
 * an importer that detaches without unmapping (the C core leaves the DMA
 * mapping behind, which DMA-API debugging reports when the device goes).
 */
/* Writes one record to the kernel log. */
static void kmsg_mark(const char *text)
{
	int f = open("/dev/kmsg", O_WRONLY);

	if (f < 0 || write(f, text, strlen(text)) != (ssize_t)strlen(text))
		printf("# cannot write to /dev/kmsg\n");
	if (f >= 0)
		close(f);
}

static int c_heap(int dev)
{
	struct dma_heap_allocation_data d = { .len = 3 * 4096 - 100, .fd_flags = O_RDWR | O_CLOEXEC };
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	int heap, ok;
	char *p;

	printf("TAP version 13\n");
	result(ioctl(dev, DMABUF_TEST_HEAP_ADD) == 0, "dma_heap_add() of a C heap");
	heap = open("/dev/dma_heap/dmabuf_test_heap", O_RDONLY | O_CLOEXEC);
	result(heap >= 0, "/dev/dma_heap/dmabuf_test_heap opens");
	if (heap < 0) {
		printf("1..2\n");
		return 1;
	}
	result(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) == 0 && d.fd > 0, "ALLOC from the C heap");
	result(lseek(d.fd, 0, SEEK_END) == 3 * 4096, "the buffer is the page-rounded length");
	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, 0);
	ok = p != MAP_FAILED && !ioctl(d.fd, DMA_BUF_IOCTL_SYNC, &sync);
	if (ok) {
		memset(p, 0x5a, 3 * 4096);
		sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		ok = !ioctl(d.fd, DMA_BUF_IOCTL_SYNC, &sync) && p[0] == 0x5a && p[3 * 4096 - 1] == 0x5a;
		munmap(p, 3 * 4096);
	}
	result(ok, "the C heap's buffer maps, syncs and holds what was written");
	close(d.fd);
	/*
	 * An importer that detaches with the buffer still mapped (a driver
	 * bug): the buffer must stay usable (SYNC walks the exporter's
	 * mappings), and nothing may leak (kmemleak judges at the end).
	 */
	{
		int sys = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
		struct dma_heap_allocation_data s = { .len = 64 << 10, .fd_flags = O_RDWR | O_CLOEXEC };
		int r = -1;

		if (sys >= 0 && !ioctl(sys, DMA_HEAP_IOCTL_ALLOC, &s)) {
			/* With the Rust core's misuse detector on, this is
			 * reported on purpose (see selftests/guest-init). */
			kmsg_mark("dmabuf-rs-test: expected misuse begin\n");
			r = ioctl(dev, DMABUF_TEST_DETACH_MAPPED, s.fd);
			sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
			r = r > 0 && !ioctl(s.fd, DMA_BUF_IOCTL_SYNC, &sync);
			sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
			r = r && !ioctl(s.fd, DMA_BUF_IOCTL_SYNC, &sync);
			close(s.fd);
			kmsg_mark("dmabuf-rs-test: expected misuse end\n");
		}
		if (sys >= 0)
			close(sys);
		result(r == 1, "a system-heap buffer detached while mapped still syncs, and goes");
	}
	d.fd = 0;
	d.heap_flags = 1;
	result(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) == -1 && errno == EINVAL,
	       "unknown heap flags: EINVAL before the C heap is called");
	close(heap);
	printf("1..7\n");
	return 0;
}

/*
 * swiotlb=force: every mapping of the test device bounces, so a heap that
 * skipped the per-attachment sync in begin/end_cpu_access (as the C
 * heaps do it) would hand stale data to the CPU or to the device; and a
 * CMA buffer larger than a bounce buffer can be fails to map with ENOMEM
 * (cma_heap_map_dma_buf), not with the DMA layer's error.
 */
static int bounce(int dev)
{
	static const struct {
		const char *name, *path;
		size_t size;
	} bufs[] = {
		{ "system", "/dev/dma_heap/system", 4096 },
		{ "cma", "/dev/dma_heap/default_cma_region", 64 << 10 },
	};
	struct dmabuf_test_device d;
	unsigned char *p;
	size_t size, i;
	long slot;
	int fd;

	printf("TAP version 13\n");
	if (!file_has("/proc/cmdline", "swiotlb=force")) {
		printf("1..0 # SKIP needs a boot with swiotlb=force\n");
		return 0;
	}
	for (int b = 0; b < 2; b++) {
		const char *who = bufs[b].name;
		int same;

		size = bufs[b].size;
		fd = heap_buf(bufs[b].path, size);
		result(fd >= 0, "bounce %s: a buffer of %zu bytes", who, size);
		if (fd < 0)
			continue;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED, "bounce %s: mmap", who);
		if (p == MAP_FAILED) {
			close(fd);
			continue;
		}
		sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
		memset(p, 0xaa, size);
		sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
		slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
		result(slot >= 0, "bounce %s: the importer maps it in one segment", who);
		if (slot >= 0) {
			d = (struct dmabuf_test_device){ .slot = slot };
			result(!ioctl(dev, DMABUF_TEST_HELD_DEVICE, &d) && d.sum == size * 0xaa,
			       "bounce %s: the map gave the device the CPU's data", who);
			d = (struct dmabuf_test_device){ .slot = slot, .write = 1, .byte = 0x55 };
			result(!ioctl(dev, DMABUF_TEST_HELD_DEVICE, &d) && p[0] == 0xaa && p[size - 1] == 0xaa,
			       "bounce %s: the device's write is not in the CPU's view before SYNC_START", who);
			sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
			for (same = 0, i = 0; i < size; i++)
				same += p[i] == 0x55;
			sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
			result(same == (int)size, "bounce %s: SYNC_START gives the CPU the device's data (%d of %zu bytes)",
			       who, same, size);
			sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
			memset(p, 0x77, size);
			sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
			d = (struct dmabuf_test_device){ .slot = slot };
			result(!ioctl(dev, DMABUF_TEST_HELD_DEVICE, &d) && d.sum == size * 0x77,
			       "bounce %s: SYNC_END gives the device the CPU's data", who);
			result(ioctl(dev, DMABUF_TEST_UNHOLD, slot) == 0, "bounce %s: the importer lets go", who);
		}
		munmap(p, size);
		close(fd);
	}
	/* 1 MiB in one segment: more than one bounce buffer can be. */
	fd = heap_buf("/dev/dma_heap/default_cma_region", 1 << 20);
	result(fd >= 0, "bounce cma: a buffer of 1 MiB");
	if (fd >= 0) {
		slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
		result(slot == -1 && errno == ENOMEM, "bounce cma: a map the bounce buffers cannot take is ENOMEM (%s)",
		       slot == -1 ? strerrorname_np(errno) : "mapped");
		if (slot >= 0)
			ioctl(dev, DMABUF_TEST_UNHOLD, slot);
		close(fd);
	}
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	int dev, fd, fd2, memfd;
	long r;

	dev = open("/dev/dmabuf_test", O_RDWR);
	if (dev < 0) {
		printf("1..0 # SKIP /dev/dmabuf_test missing (dmabuf_test_c.ko not loaded)\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "export-errors")) {
		/*
		 * The WARNs these make are expected: selftests/guest-init
		 * reports each one's site instead of failing the run, only
		 * between these two markers.
		 */
		int kmsg = open("/dev/kmsg", O_WRONLY);
		/* One write() a record: glibc's dprintf() fails on /dev/kmsg. */
		static const char begin[] = "dmabuf-rs-test: expected warnings begin (dma_buf_export, vmap)\n";
		static const char end[] = "dmabuf-rs-test: expected warnings end\n";

		if (kmsg < 0 || write(kmsg, begin, sizeof(begin) - 1) != sizeof(begin) - 1)
			printf("cannot mark the expected warnings in /dev/kmsg\n");
		for (int i = 0; i < 3; i++) {
			r = ioctl(dev, DMABUF_TEST_EXPORT_ERROR, i);
			printf("export error %d: %s\n", i, r == -1 ? strerrorname_np(errno) : "no error");
		}
		/* An exporter's vmap failing twice: one WARN in all. */
		r = ioctl(dev, DMABUF_TEST_EXPORT_ERROR, 3);
		printf("vmap error twice: %s\n", r == -1 ? strerrorname_np(errno) : "no error");
		/* dma_buf_begin_cpu_access(NULL): one WARN, EINVAL (the
		 * module says ENOTBLK for that). */
		r = ioctl(dev, DMABUF_TEST_EXPORT_ERROR, 4);
		printf("begin_cpu_access of NULL: %s\n",
		       r == -1 && errno == ENOTBLK ? "EINVAL" : r == -1 ? strerrorname_np(errno) : "no error");
		if (kmsg >= 0) {
			if (write(kmsg, end, sizeof(end) - 1) != sizeof(end) - 1)
				printf("cannot mark the end of the expected warnings in /dev/kmsg\n");
			close(kmsg);
		}
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "c-heap"))
		return c_heap(dev);
	if (argc > 1 && !strcmp(argv[1], "bounce"))
		return bounce(dev);
	printf("TAP version 13\n");
	if (argc > 1 && !strcmp(argv[1], "cc-shared")) {
		/* An importer of the system heap's and of the system_cc_shared
		 * heap's buffers: the host requires the same results. */
		static const char *const heaps[] = { "system", "system_cc_shared" };

		for (int i = 0; i < 2; i++) {
			char path[64], who[64];

			snprintf(path, sizeof(path), "/dev/dma_heap/%s", heaps[i]);
			snprintf(who, sizeof(who), "%s heap", heaps[i]);
			fd = heap_buf(path, (2 << 20) + 8192);
			result(fd >= 0, "%s buffer of 2 MiB + 8 KiB", who);
			if (fd >= 0) {
				import_suite(dev, fd, (2 << 20) + 8192, who);
				reattach_suite(dev, fd, who);
				close(fd);
			}
		}
		printf("1..%d\n", test_no);
		return failed ? 1 : 0;
	}

	r = ioctl(dev, DMABUF_TEST_GET, -1);
	result(r == -1 && errno == EBADF, "dma_buf_get(-1) is EBADF");
	r = ioctl(dev, DMABUF_TEST_GET, 1000);
	result(r == -1 && errno == EBADF, "dma_buf_get(closed fd) is EBADF");
	memfd = memfd_create("x", 0);
	r = ioctl(dev, DMABUF_TEST_GET, memfd);
	result(r == -1 && errno == EINVAL, "dma_buf_get(memfd) is EINVAL");
	close(memfd);

	fd = export(dev, 64 * 1024);
	result(fd >= 0, "C exporter: dma_buf_export + dma_buf_fd");
	result(ioctl(dev, DMABUF_TEST_GET, fd) == 0, "dma_buf_get on an exported buffer");
	result(fcntl(fd, F_GETFD) == FD_CLOEXEC, "dma_buf_fd honours O_CLOEXEC");
	{
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
		result(file_has(p, "size:\t65536\n"), "fdinfo readable, with the buffer's size");
		result(file_has(p, "exp_name:\tdmabuf_test_c\n"), "fdinfo exp_name is the exporter's module");
		result(file_has(p, "size:\t65536\n"), "fdinfo size");
	}
	result(file_has("/sys/kernel/debug/dma_buf/bufinfo", "Dma-buf Objects:"), "debugfs bufinfo exists");
	result(file_has("/sys/kernel/debug/dma_buf/bufinfo", "00065536\t00000002\t"), "bufinfo lists the buffer's size and flags");
	result(file_has("/sys/kernel/debug/dma_buf/bufinfo", "\tdmabuf_test_c\t"), "bufinfo lists the exporter");
	{
		/* An exporter that gives no exp_name: C prints "(null)". */
		struct dmabuf_test_export e = { .size = 4096, .flags = DMABUF_TEST_EXPORT_NO_NAME };
		char p[64];

		result(ioctl(dev, DMABUF_TEST_EXPORT, &e) == 0, "C exporter without exp_name: export");
		if (e.fd >= 0) {
			snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", e.fd);
			result(file_has(p, "exp_name:\t(null)\n"), "fdinfo exp_name of a NULL name is (null)");
			result(file_has("/sys/kernel/debug/dma_buf/bufinfo", "\t(null)\t"),
			       "bufinfo lists a NULL exporter name as (null)");
			close(e.fd);
		}
	}
	import_suite(dev, fd, 64 * 1024, "C exporter");
	{
		/* The CMA heap aligns a buffer to its size's order: after a
		 * one-page buffer, a 64 KiB one still starts on 64 KiB (three
		 * times, all kept, so a heap that did not align would show). */
		int fds[6], ok = 1;

		for (int i = 0; i < 6; i++)
			fds[i] = heap_buf("/dev/dma_heap/default_cma_region", i % 2 ? 64 << 10 : 4096);
		for (int i = 1; i < 6; i += 2) {
			struct dmabuf_test_import imp = { .fd = fds[i] };

			ok &= fds[i] >= 0 && ioctl(dev, DMABUF_TEST_MAPINFO, &imp) == 0 && imp.nents == 1 &&
			      imp.dma_addr % (64 << 10) == 0;
		}
		for (int i = 0; i < 6; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		result(ok, "CMA heap: 64 KiB buffers after one-page ones start on 64 KiB (DMA address)");
	}
	{
		/* An exporter that can pin (a dynamic exporter) and a static
		 * importer: the core pins the buffer around the mapping. */
		struct dmabuf_test_export e = { .size = 8192, .flags = DMABUF_TEST_EXPORT_PINNABLE };
		struct dmabuf_test_import imp = { 0 };

		result(ioctl(dev, DMABUF_TEST_EXPORT, &e) == 0, "pinnable C exporter: export");
		imp.fd = e.fd;
		result(e.fd >= 0 && ioctl(dev, DMABUF_TEST_MAPINFO, &imp) == 0 &&
			       imp.pinned == (DMABUF_TEST_PINNED_AT_MAP | DMABUF_TEST_UNPINNED_AFTER),
		       "a static importer's map pins a pinnable exporter's buffer, its unmap unpins it");
		if (e.fd >= 0)
			close(e.fd);
	}

	{
		static const char *checks[] = {
			"dynamic attach keeps peer2peer and importer_priv",
			"dma_buf_attach_revocable is true with invalidate_mappings",
			"dma_buf_attach_revocable is false for a static importer",
			"dma_buf_pin/unpin under the reservation lock",
			"dma_buf_map_attachment under the reservation lock",
			"dma_buf_invalidate_mappings calls the importer once",
		};
		long mask = ioctl(dev, DMABUF_TEST_DYNAMIC, fd);

		for (int i = 0; i < 6; i++)
			result(mask >= 0 && (mask >> i) & 1, "dynamic importer: %s", checks[i]);
	}

	{
		static const char *what[] = { "a duplicate name", "an empty name", "no allocate op" };
		static const int want[] = { EEXIST, EINVAL, EINVAL };

		/* (The taken name: the C core creates the device first and
		 * sysfs refuses it with a stack dump, which selftests/guest-init
		 * counts as known there and fails on a Rust kernel.) */
		for (int i = 0; i < 3; i++) {
			r = ioctl(dev, DMABUF_TEST_HEAP_ADD_ERROR, i);
			result(r == -1 && errno == want[i], "dma_heap_add with %s fails with %s", what[i],
			       strerrorname_np(want[i]));
		}
	}

	fd2 = udmabuf(16 * 4096);
	result(fd2 >= 0, "udmabuf buffer");
	if (fd2 >= 0) {
		import_suite(dev, fd2, 16 * 4096, "udmabuf");
		reattach_suite(dev, fd2, "udmabuf");
		close(fd2);
	}
	close(fd);
	result(!file_has("/sys/kernel/debug/dma_buf/bufinfo", "\tdmabuf_test_c\t"), "bufinfo forgets closed buffers");

	fd = heap_buf("/dev/dma_heap/default_cma_region", 4 << 20);
	result(fd >= 0, "CMA heap buffer of 4 MiB");
	if (fd >= 0) {
		import_suite(dev, fd, 4 << 20, "CMA heap");
		result(last.nents == 1, "CMA heap: the importer sees one contiguous DMA segment");
		reattach_suite(dev, fd, "CMA heap");
		close(fd);
	}
	fd = heap_buf("/dev/dma_heap/system", (2 << 20) + 8192);
	result(fd >= 0, "system heap buffer of 2 MiB + 8 KiB");
	if (fd >= 0) {
		import_suite(dev, fd, (2 << 20) + 8192, "system heap");
		reattach_suite(dev, fd, "system heap");
		close(fd);
	}
	hold_suite(dev);
	name_while_attached(dev);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
