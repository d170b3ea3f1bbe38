// SPDX-License-Identifier: GPL-2.0
/*
 * make run: a short, plain-words tour of the Rust dma-buf core in the VM.
 */
#define _GNU_SOURCE
#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kmod/dmabuf_test.h"

#define SIZE (1 << 20)

static void show_file(const char *title, const char *path)
{
	char buf[8192];
	ssize_t n;
	int f = open(path, O_RDONLY);

	printf("\n--- %s (%s) ---\n", title, path);
	if (f < 0) {
		printf("(cannot open: %s)\n", strerror(errno));
		return;
	}
	while ((n = read(f, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(f);
}

static void sync_buf(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s))
		perror("DMA_BUF_IOCTL_SYNC");
}

int main(void)
{
	struct dmabuf_test_import im = { 0 };
	unsigned char *p;
	char path[64];
	int fd = -1, dev, card, ok = 1;

	printf("== dma-buf core in Rust: demo ==\n");
	dev = open("/dev/dma_heap/default_cma_region", O_RDWR);
	if (dev >= 0) {
		struct dma_heap_allocation_data a = { .len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC };

		if (ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &a) == 0)
			fd = a.fd;
		printf("1. Allocated 1 MiB of physically contiguous memory from the CMA heap\n"
		       "   (/dev/dma_heap/default_cma_region, served by the Rust heap): fd %d\n", fd);
		close(dev);
	} else {
		printf("1. The dma-heap device and the CMA heap are not written yet ([heaps] issue),\n"
		       "   so the buffer comes from the project's C test exporter (/dev/dmabuf_test).\n");
		dev = open("/dev/dmabuf_test", O_RDWR);
		struct dmabuf_test_export e = { .size = SIZE };
		if (dev < 0 || ioctl(dev, DMABUF_TEST_EXPORT, &e)) {
			perror("   export");
			return 1;
		}
		fd = e.fd;
		close(dev);
		printf("   Exported 1 MiB: dma-buf fd %d, made by the Rust core's dma_buf_export.\n", fd);
	}
	ioctl(fd, DMA_BUF_SET_NAME_B, "demo-frame");

	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	for (int i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7);
	sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	printf("2. Filled it through mmap, bracketed by DMA_BUF_IOCTL_SYNC START/END.\n");

	card = open("/dev/dri/card0", O_RDWR);
	if (card >= 0) {
		struct drm_prime_handle h = { .fd = fd }, back = { 0 };
		struct stat a, b;

		if (ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0) {
			printf("3. vgem (a real DRM driver, unmodified C) imported the fd through\n"
			       "   dma_buf_get + dma_buf_attach + dma_buf_map_attachment: GEM handle %u.\n", h.handle);
			back.handle = h.handle;
			back.flags = DRM_CLOEXEC;
			if (ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &back) == 0 &&
			    fstat(fd, &a) == 0 && fstat(back.fd, &b) == 0) {
				printf("   Exporting the GEM object again gives back %s (inode %lu).\n",
				       a.st_ino == b.st_ino ? "the very same dma-buf" : "A DIFFERENT buffer",
				       (unsigned long)b.st_ino);
				ok &= a.st_ino == b.st_ino;
				close(back.fd);
			}
		} else {
			perror("   DRM_IOCTL_PRIME_FD_TO_HANDLE");
			ok = 0;
		}
	} else {
		printf("3. vgem is not loaded; skipping the DRM import.\n");
	}

	dev = open("/dev/dmabuf_test", O_RDWR);
	im.fd = fd;
	if (dev >= 0 && ioctl(dev, DMABUF_TEST_IMPORT, &im) == 0) {
		unsigned long long want = 0;

		for (int i = 0; i < SIZE; i++)
			want += p[i];
		printf("4. The test importer attached, mapped (%llu bytes of DMA addresses), did\n"
		       "   begin_cpu_access + vmap and summed the bytes: %s.\n",
		       (unsigned long long)im.mapped_bytes, im.byte_sum == want ? "they match" : "MISMATCH");
		ok &= im.byte_sum == want;
	}

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	show_file("5. fdinfo of the buffer", path);
	show_file("6. debugfs entry", "/sys/kernel/debug/dma_buf/bufinfo");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	{
		char l[128] = { 0 };
		readlink(path, l, sizeof(l) - 1);
		printf("\n7. /proc/self/fd/%d -> %s\n", fd, l);
	}
	/* Who holds it: the test module holds it attached, mapped and
	 * vmapped in a CPU access; vgem is attached; this process has the
	 * fd and a mapping. */
	if (dev >= 0 && access("/tmp/dmabuf-top", X_OK) == 0) {
		struct dmabuf_test_misuse keep = { .fd = fd, .kind = DMABUF_TEST_KEEP_VMAP };
		long slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
		int kept = ioctl(dev, DMABUF_TEST_MISUSE, &keep) == 0;

		printf("\n8. dmabuf-top --once (the test module holds the buffer attached, mapped,\n"
		       "   vmapped and in a CPU access; vgem is attached; we hold the fd and a mapping):\n\n");
		fflush(stdout);
		ok &= system("/tmp/dmabuf-top --once") == 0;
		if (kept) {
			keep.kind = DMABUF_TEST_DROP_VMAP;
			ioctl(dev, DMABUF_TEST_MISUSE, &keep);
		}
		if (slot >= 0)
			ioctl(dev, DMABUF_TEST_UNHOLD, slot);
	}
	printf("\n== demo %s ==\n", ok ? "succeeded" : "FAILED");
	return ok ? 0 : 1;
}
