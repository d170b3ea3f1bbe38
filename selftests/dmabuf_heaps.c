// SPDX-License-Identifier: GPL-2.0
/*
 * The dma-heap rows of REFERENCE.md section 4 with their exact errno,
 * sizes from 1 byte to most of the CMA area, CMA exhaustion and reuse,
 * and the heap-specific mmap rules. Runs unchanged on the stock and the
 * Rust kernel; its TAP output must be identical.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "tap.h"


static void expect_errno(long ret, int err, const char *heap, const char *what)
{
	result(ret == -1 && errno == err, "%s: %s fails with %s (got %ld, %s)", heap, what,
	       strerrorname_np(err), ret, ret == -1 ? strerrorname_np(errno) : "-");
}

static int alloc(int heap, __u64 len, __u32 fd_flags, int *out)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = fd_flags };
	int ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d);

	*out = ret ? -1 : (int)d.fd;
	return ret;
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static void common_rows(const char *name)
{
	char path[128];
	int heap, fd, ret, before;
	struct dma_heap_allocation_data d;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	heap = open(path, O_RDONLY | O_CLOEXEC);
	result(heap >= 0, "%s: open %s", name, path);
	if (heap < 0)
		return;

	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL), EFAULT, name, "ALLOC with a NULL argument");
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, (void *)8), EFAULT, name, "ALLOC with an unmapped argument");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd = 5, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with fd != 0");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_NONBLOCK };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with fd_flags O_NONBLOCK");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR, .heap_flags = 1 };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with heap_flags 1");
	d = (struct dma_heap_allocation_data){ .len = 0, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC of 0 bytes");
	d = (struct dma_heap_allocation_data){ .len = UINT64_MAX - 4000, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC whose page-aligned length wraps to 0");
	expect_errno(ioctl(heap, _IOWR('H', 1, struct dma_heap_allocation_data), &d), EINVAL, name, "ioctl nr 1");
	expect_errno(ioctl(heap, _IO('x', 7)), EINVAL, name, "ioctl of another type, nr 7");

	/* Only the number counts: another type, nr 0, works. */
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };
	ret = ioctl(heap, _IOWR('Z', 0, struct dma_heap_allocation_data), &d);
	result(ret == 0, "%s: ioctl of type 'Z' nr 0 allocates", name);
	if (!ret)
		close(d.fd);
	{
		struct { __u64 len; __u32 fd, fd_flags; } older = { 4096, 0, O_RDWR | O_CLOEXEC };
		struct { __u64 len; __u32 fd, fd_flags; __u64 heap_flags, junk[3]; } newer = {
			4096, 0, O_RDWR | O_CLOEXEC, 0, { 0xdead, 0xbeef, 0xf00d } };

		ret = ioctl(heap, _IOWR('H', 0, older), &older);
		result(ret == 0, "%s: 16-byte (older) struct allocates", name);
		if (!ret)
			close(older.fd);
		ret = ioctl(heap, _IOWR('H', 0, newer), &newer);
		result(ret == 0, "%s: 48-byte (newer) struct with a garbage tail allocates", name);
		if (!ret)
			close(newer.fd);
	}

	/* Sizes round up to pages. */
	result(alloc(heap, 1, O_RDWR | O_CLOEXEC, &fd) == 0 && lseek(fd, 0, SEEK_END) == 4096,
	       "%s: 1-byte ALLOC gives a 4096-byte buffer", name);
	close(fd);
	result(alloc(heap, 5000, O_RDWR | O_CLOEXEC, &fd) == 0 && lseek(fd, 0, SEEK_END) == 8192,
	       "%s: 5000-byte ALLOC gives an 8192-byte buffer", name);
	close(fd);
	result(alloc(heap, 4096, O_RDWR, &fd) == 0 && fcntl(fd, F_GETFD) == 0,
	       "%s: fd without O_CLOEXEC", name);
	close(fd);

	/* The heap fd itself. */
	{
		char c;
		expect_errno(read(heap, &c, 1), EINVAL, name, "read on the heap fd");
		expect_errno(write(heap, &c, 1), EBADF, name, "write on the O_RDONLY heap fd");
		expect_errno(lseek(heap, 0, SEEK_SET), ESPIPE, name, "lseek on the heap fd");
		result(mmap(NULL, 4096, PROT_READ, MAP_SHARED, heap, 0) == MAP_FAILED && errno == ENODEV,
		       "%s: mmap of the heap fd fails with ENODEV", name);
	}

	/* Copy-out failure: EFAULT and no fd leaked. */
	{
		struct dma_heap_allocation_data *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
							   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		*ro = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };
		mprotect(ro, 4096, PROT_READ);
		before = count_fds();
		ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, ro);
		result(ret == -1 && errno == EFAULT && count_fds() == before,
		       "%s: read-only argument: EFAULT and no fd leaked", name);
		munmap(ro, 4096);
	}

	/* No fd available: EMFILE, and the buffer is freed (kmemleak checks). */
	{
		struct rlimit old, lim;
		int dupfd;

		/* Fill every slot below a limit of 64. */
		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = 64;
		setrlimit(RLIMIT_NOFILE, &lim);
		while ((dupfd = dup(heap)) >= 0)
			;
		d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };
		expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EMFILE, name, "ALLOC with no free fd");
		for (int f = 0; f < 64; f++)
			if (f > 2 && f != heap && fcntl(f, F_GETFD) != -1)
				close(f);
		setrlimit(RLIMIT_NOFILE, &old);
		heap = open(path, O_RDONLY | O_CLOEXEC);
	}

	/* mmap permission from the fd's access mode. */
	if (alloc(heap, 4096, O_RDONLY | O_CLOEXEC, &fd) == 0) {
		result(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES,
		       "%s: writable shared mmap of an O_RDONLY buffer fails with EACCES", name);
		close(fd);
	}
	close(heap);
}

static void cma_rows(const char *name, long area)
{
	char path[128];
	int heap, fd, n = 0, fds[512];
	void *p;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	heap = open(path, O_RDWR | O_CLOEXEC);
	if (heap < 0)
		return;
	expect_errno(alloc(heap, area * 4, O_RDWR, &fd), ENOMEM, name, "ALLOC larger than the CMA area");
	result(alloc(heap, area * 3 / 4, O_RDWR | O_CLOEXEC, &fd) == 0, "%s: ALLOC of three quarters of the area", name);
	if (fd >= 0) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p == MAP_FAILED && errno == EINVAL, "%s: MAP_PRIVATE fails with EINVAL", name);
		p = mmap(NULL, area * 3 / 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED && ((char *)p)[area * 3 / 4 - 1] == 0, "%s: shared mmap of it reads zero", name);
		if (p != MAP_FAILED)
			munmap(p, area * 3 / 4);
		close(fd);
	}
	/* Exhaust the area in 1 MiB buffers, free it, do it again. */
	while (n < 512 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fds[n]) == 0)
		n++;
	result(errno == ENOMEM && n > 0, "%s: exhausting the area ends with ENOMEM", name);
	printf("# %s: %d MiB buffers fit\n", name, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	{
		int m = 0;

		while (m < n && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fds[m]) == 0)
			m++;
		result(m == n, "%s: after freeing, the same number of buffers fits again", name);
		for (int i = 0; i < m; i++)
			close(fds[i]);
	}
	close(heap);
}

static void system_rows(void)
{
	int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC), fd;
	void *p;

	if (heap < 0)
		return;
	if (alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p != MAP_FAILED, "system: MAP_PRIVATE of a one-chunk buffer works");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(fd);
	}
	if (alloc(heap, (1 << 20) + 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		p = mmap(NULL, (1 << 20) + 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p == MAP_FAILED && errno == EINVAL, "system: MAP_PRIVATE of a multi-chunk buffer fails with EINVAL");
		p = mmap(NULL, (1 << 20) + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED, "system: MAP_SHARED of a multi-chunk buffer");
		if (p != MAP_FAILED) {
			memset(p, 0x33, (1 << 20) + 4096);
			munmap(p, (1 << 20) + 4096);
		}
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 256 * 4096);
		result(p != MAP_FAILED && *(unsigned char *)p == 0x33, "system: mmap at a page offset into the second chunk");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(fd);
	}
	result(alloc(heap, 48 << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "system: 48 MiB allocation");
	close(fd);
	close(heap);
}

static int rmmod_core(void)
{
	return system("rmmod dmabuf_rs 2>/dev/null") == 0;
}

/*
 * "rmmod" mode (Rust kernel only): the core cannot be removed while a heap
 * file, a buffer fd or a mapping of a buffer is alive, can once all are
 * gone, and works again after it is loaded again.
 */
static int rmmod_test(void)
{
	int heap, fd;
	void *p;

	printf("TAP version 13\n");
	/*
	 * Importers and test modules use the core; take every other module
	 * out first, users before what they use (busybox modprobe -r fails on
	 * already-removed shared dependencies, so rmmod in rounds).
	 */
	system("for round in 1 2 3 4 5 6; do for m in $(cut -d' ' -f1 /proc/modules); do "
	       "[ \"$m\" = dmabuf_rs ] || rmmod \"$m\" 2>/dev/null; done; done");
	result(system("test \"$(cut -d' ' -f1 /proc/modules)\" = dmabuf_rs") == 0,
	       "only the core is left loaded");
	heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	result(heap >= 0 && !rmmod_core(), "rmmod fails while a heap file is open");
	alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd);
	close(heap);
	result(fd >= 0 && !rmmod_core(), "rmmod fails while a buffer fd is open");
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	result(p != MAP_FAILED && !rmmod_core(), "rmmod fails while a mapping of a closed buffer is alive");
	munmap(p, 1 << 20);
	result(rmmod_core(), "rmmod succeeds once everything is gone");
	result(access("/dev/dma_heap/system", F_OK) != 0, "the heap devices are gone");
	result(system("modprobe dmabuf_rs") == 0, "the core loads again");
	heap = open("/dev/dma_heap/default_cma_region", O_RDWR | O_CLOEXEC);
	result(heap >= 0 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "heaps work after reloading");
	close(fd);
	close(heap);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	long area = (argc > 1 && strcmp(argv[1], "rmmod") ? atol(argv[1]) : 128) << 20;

	if (argc > 1 && !strcmp(argv[1], "rmmod"))
		return rmmod_test();

	if (access("/dev/dma_heap", F_OK)) {
		printf("1..0 # SKIP no /dev/dma_heap\n");
		return 0;
	}
	printf("TAP version 13\n");
	common_rows("system");
	common_rows("default_cma_region");
	common_rows("reserved");
	system_rows();
	cma_rows("default_cma_region", area);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
