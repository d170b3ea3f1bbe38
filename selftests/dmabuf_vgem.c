// SPDX-License-Identifier: GPL-2.0
/*
 * DRM PRIME through vgem, an unmodified DRM driver, on whichever dma-buf
 * core the kernel has: heap buffers imported into vgem (DRM does not map
 * imports itself, so vgem's side is its fences and handles), vgem buffers
 * exported, written by vgem's mapping and used through the dma-buf
 * fd, vgem fences seen by the dma-buf's poll and EXPORT_SYNC_FILE, an
 * IMPORT_SYNC_FILE fence seen by vgem, and the object caching of PRIME
 * (re-import gives the same GEM handle, re-export the same dma-buf).
 * Runs on both kernels; the results must be identical.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <drm/vgem_drm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sw_sync.h"
#include "tap.h"
#include "vgem.h"


#define SIZE (64 * 1024)

static int poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static void sync_buf(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

static ino_t ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int prime_import(int drm, int fd, __u32 *handle)
{
	struct drm_prime_handle p = { .fd = fd };
	int r = ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);

	*handle = p.handle;
	return r;
}

static int prime_export(int drm, __u32 handle)
{
	struct drm_prime_handle p = { .handle = handle, .flags = DRM_CLOEXEC | DRM_RDWR };

	return ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) ? -1 : p.fd;
}

/* vgem's own CPU mapping of a GEM object (dumb mmap offset). */
static unsigned char *vgem_map(int drm, __u32 handle, size_t size)
{
	struct drm_mode_map_dumb m = { .handle = handle };
	void *p;

	if (ioctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &m))
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, m.offset);
	return p == MAP_FAILED ? NULL : p;
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static int fence_attach(int drm, __u32 handle, int write, __u32 *fence)
{
	struct drm_vgem_fence_attach a = { .handle = handle, .flags = write ? VGEM_FENCE_WRITE : 0 };
	int r = ioctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &a);

	*fence = a.out_fence;
	return r;
}

static int fence_signal(int drm, __u32 fence)
{
	struct drm_vgem_fence_signal s = { .fence = fence };

	return ioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s);
}

static char *fdinfo_field(int fd, const char *key)
{
	static char line[256];
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return "?";
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			char *v = line + strlen(key) + 1;

			fclose(f);
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			return v;
		}
	}
	fclose(f);
	return "?";
}

/* A heap buffer imported into vgem. */
static void heap_to_vgem(int drm, const char *heap_path, const char *who)
{
	struct dma_heap_allocation_data d = { .len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC };
	int heap = open(heap_path, O_RDWR | O_CLOEXEC), fd, fd2, sf;
	unsigned char *p;
	__u32 h, h2, fence;

	if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d)) {
		result(0, "%s: heap buffer allocated", who);
		if (heap >= 0)
			close(heap);
		return;
	}
	close(heap);
	fd = d.fd;
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		result(0, "%s: mmap of the heap buffer", who);
		close(fd);
		return;
	}
	sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	memset(p, 0xa5, SIZE);
	sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);

	result(prime_import(drm, fd, &h) == 0, "%s: PRIME_FD_TO_HANDLE into vgem", who);
	/*
	 * DRM refuses its own (dumb) mapping of an import: userspace maps
	 * imports through the dma-buf. vgem has no other CPU path to them.
	 */
	{
		struct drm_mode_map_dumb m = { .handle = h };

		errno = 0;
		result(ioctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &m) == -1 && errno == EINVAL,
		       "%s: vgem refuses a dumb mapping of the import (EINVAL, a DRM rule)", who);
	}
	result(prime_import(drm, fd, &h2) == 0 && h2 == h, "%s: a second import gives back the same GEM handle", who);
	fd2 = prime_export(drm, h);
	result(fd2 >= 0 && ino(fd2) == ino(fd), "%s: re-exporting the import gives back the same dma-buf", who);
	if (fd2 >= 0)
		close(fd2);

	/* A vgem fence on the imported buffer is seen through our fd. */
	result(fence_attach(drm, h, 1, &fence) == 0, "%s: VGEM_FENCE_ATTACH (write) on the import", who);
	result(poll_now(fd, POLLIN | POLLOUT) == 0, "%s: poll on the dma-buf: busy while vgem's write fence is pending", who);
	{
		struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

		result(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0 && poll_now(ex.fd, POLLIN) == 0,
		       "%s: EXPORT_SYNC_FILE holds vgem's pending fence", who);
		sf = ex.fd;
	}
	result(fence_signal(drm, fence) == 0, "%s: VGEM_FENCE_SIGNAL", who);
	result(poll_now(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT), "%s: poll on the dma-buf: ready once vgem signalled", who);
	result(sf >= 0 && poll_now(sf, POLLIN) == POLLIN, "%s: the exported sync_file is signalled too", who);
	if (sf >= 0)
		close(sf);
	{
		struct drm_gem_close c = { .handle = h };

		result(ioctl(drm, DRM_IOCTL_GEM_CLOSE, &c) == 0, "%s: GEM_CLOSE of the import", who);
	}
	munmap(p, SIZE);
	close(fd);
}

/* A vgem buffer exported and used through the dma-buf fd. */
static void vgem_to_dmabuf(int drm)
{
	struct drm_mode_create_dumb c = { .width = SIZE / 4, .height = 1, .bpp = 32 };
	int fd, fd2, sw;
	unsigned char *q, *p;
	__u32 h, fence;
	char name[32];

	result(ioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &c) == 0 && c.size >= SIZE, "vgem: CREATE_DUMB of 64 KiB");
	h = c.handle;
	q = vgem_map(drm, h, SIZE);
	result(q != NULL, "vgem: its own mapping of the buffer");
	if (!q)
		return;
	memset(q, 0x3c, SIZE);
	fd = prime_export(drm, h);
	result(fd >= 0, "vgem: PRIME_HANDLE_TO_FD");
	if (fd < 0)
		return;
	result(fcntl(fd, F_GETFD) == FD_CLOEXEC && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR,
	       "vgem export: the fd is O_RDWR and close-on-exec");
	result(!strcmp(fdinfo_field(fd, "size"), "65536"), "vgem export: fdinfo size 65536");
	printf("# vgem export: fdinfo exp_name %s\n", fdinfo_field(fd, "exp_name"));
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	result(p != MAP_FAILED, "vgem export: mmap of the dma-buf fd");
	if (p != MAP_FAILED) {
		sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		result(all_bytes(p, SIZE, 0x3c), "vgem export: the dma-buf mapping shows what vgem's mapping wrote");
		memset(p, 0xc3, SIZE);
		sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		result(all_bytes(q, SIZE, 0xc3), "vgem export: vgem's mapping shows what the dma-buf mapping wrote");
		munmap(p, SIZE);
	}
	strcpy(name, "vgem-export");
	result(ioctl(fd, DMA_BUF_SET_NAME_B, name) == 0 && !strcmp(fdinfo_field(fd, "name"), "vgem-export"),
	       "vgem export: SET_NAME shows in fdinfo");
	fd2 = prime_export(drm, h);
	result(fd2 >= 0 && ino(fd2) == ino(fd), "vgem export: exporting again gives the same dma-buf");
	if (fd2 >= 0)
		close(fd2);
	{
		__u32 h2;

		result(prime_import(drm, fd, &h2) == 0 && h2 == h, "vgem export: importing it back gives the same GEM handle");
	}

	/* vgem fences, seen by our poll and EXPORT_SYNC_FILE. */
	result(fence_attach(drm, h, 0, &fence) == 0, "vgem export: VGEM_FENCE_ATTACH (read)");
	result(poll_now(fd, POLLIN | POLLOUT) == POLLIN, "vgem export: poll: readable, not writable, under a read fence");
	result(fence_signal(drm, fence) == 0, "vgem export: VGEM_FENCE_SIGNAL (read fence)");
	result(fence_attach(drm, h, 1, &fence) == 0, "vgem export: VGEM_FENCE_ATTACH (write)");
	result(poll_now(fd, POLLIN | POLLOUT) == 0, "vgem export: poll: busy under a write fence");
	{
		__u32 f2;

		errno = 0;
		result(fence_attach(drm, h, 1, &f2) == -1 && errno == EBUSY,
		       "vgem export: a second write fence is refused with EBUSY");
	}
	{
		struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_WRITE, .fd = -1 };

		result(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0 && poll_now(ex.fd, POLLIN) == 0,
		       "vgem export: EXPORT_SYNC_FILE holds the pending write fence");
		fence_signal(drm, fence);
		result(poll_now(ex.fd, POLLIN) == POLLIN, "vgem export: the sync_file signals with vgem's fence");
		result(poll_now(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT), "vgem export: poll: ready after the signal");
		if (ex.fd >= 0)
			close(ex.fd);
	}

	/* An IMPORT_SYNC_FILE fence, seen by vgem. */
	sw = open("/sys/kernel/debug/sync/sw_sync", O_RDWR);
	if (sw < 0) {
		printf("# SKIP sw_sync missing: IMPORT_SYNC_FILE into vgem not tested\n");
	} else {
		struct sw_sync_create_fence_data f = { .value = 1, .name = "t" };
		struct dma_buf_import_sync_file im = { .flags = DMA_BUF_SYNC_WRITE };
		__u32 inc = 1, f2;

		result(ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f) == 0, "vgem export: sw_sync fence");
		im.fd = f.fence;
		result(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im) == 0, "vgem export: IMPORT_SYNC_FILE (write)");
		errno = 0;
		result(fence_attach(drm, h, 0, &f2) == -1 && errno == EBUSY,
		       "vgem export: vgem sees the imported write fence (attach refused with EBUSY)");
		ioctl(sw, SW_SYNC_IOC_INC, &inc);
		result(fence_attach(drm, h, 1, &f2) == 0, "vgem export: vgem attaches once the imported fence signalled");
		fence_signal(drm, f2);
		close(f.fence);
		close(sw);
	}
	munmap(q, SIZE);
	close(fd);
	{
		struct drm_gem_close gc = { .handle = h };

		result(ioctl(drm, DRM_IOCTL_GEM_CLOSE, &gc) == 0, "vgem: GEM_CLOSE");
	}
}

int main(void)
{
	int drm = open_vgem();

	printf("TAP version 13\n");
	if (drm < 0) {
		printf("1..0 # SKIP no vgem device\n");
		return 0;
	}
	heap_to_vgem(drm, "/dev/dma_heap/system", "system heap");
	heap_to_vgem(drm, "/dev/dma_heap/default_cma_region", "CMA heap");
	vgem_to_dmabuf(drm);
	close(drm);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
