// SPDX-License-Identifier: GPL-2.0
/*
 * The dma_buf:* trace events of one fixed sequence, for the differential
 * of selftests/run-all.sh: the same events, with the same fields at the
 * same places, must come out of the Rust core and the C core.
 *
 * The sequence: a system-heap buffer is allocated and mapped, imported
 * into vgem (PRIME) and closed there, held by the test module (get,
 * attach, map) and mapped through its node (dma_buf_mmap) until it lets
 * go (unmap, detach, put), imported by the test module (get, attach, map,
 * vmap, detach, put), and the test module exports two buffers, one
 * through dma_buf_fd and one through a reserved fd and
 * dma_buf_fd_install. Each event is one TAP line, in order, with what
 * differs between boots renamed: inode numbers and attachment pointers
 * become #1, #2, ... by first appearance.
 *
 * Usage: dmabuf_trace (needs tracefs, vgem and the test module)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <drm/drm.h>
#include <linux/dma-heap.h>
#include "kmod/dmabuf_test.h"
#include "tap.h"
#include "vgem.h"

static const char *tracefs = "/sys/kernel/tracing";

static int write_file(const char *name, const char *val)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", tracefs, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* Names for values that differ between boots: "#k" by first appearance. */
struct names {
	char seen[32][40];
	int n;
};

static int name_of(struct names *t, const char *v)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->seen[i], v))
			return i + 1;
	if (t->n == 32)
		return 0;
	snprintf(t->seen[t->n], sizeof(t->seen[0]), "%s", v);
	return ++t->n;
}

/* Rewrites "KEY=VALUE" (or "KEY:VALUE") fields named in key to KEY#k. */
static void rename_field(char *line, const char *key, struct names *t)
{
	char *p = strstr(line, key), val[40], rest[512];
	size_t n;

	if (!p)
		return;
	p += strlen(key);
	n = strcspn(p, " \n");
	snprintf(val, sizeof(val), "%.*s", (int)n, p);
	snprintf(rest, sizeof(rest), "%s", p + n);
	sprintf(p - 1, "#%d%s", name_of(t, val), rest);
}

int main(void)
{
	static const char *const events[] = {
		"dma_buf_export", "dma_buf_fd", "dma_buf_get", "dma_buf_put",
		"dma_buf_mmap_internal", "dma_buf_mmap", "dma_buf_dynamic_attach",
		"dma_buf_detach",
	};
	int count[8] = { 0 };
	struct names inos = { 0 }, attachments = { 0 };
	char path[256], line[512];
	FILE *f;
	int heap, buf, vgem, test, n = 0;

	snprintf(path, sizeof(path), "%s/events/dma_buf", tracefs);
	if (access(path, F_OK))
		mount("nodev", tracefs, "tracefs", 0, NULL);
	if (access(path, F_OK)) {
		result(0, "tracefs shows events/dma_buf (%s)", strerror(errno));
		return 1;
	}
	heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	vgem = open_vgem();
	test = open("/dev/dmabuf_test", O_RDWR | O_CLOEXEC);
	if (heap < 0 || vgem < 0 || test < 0) {
		result(0, "the system heap, vgem and the test module are there");
		return 1;
	}

	if (write_file("tracing_on", "0") || write_file("trace", "") ||
	    write_file("events/enable", "0") || write_file("events/dma_buf/enable", "1") ||
	    write_file("tracing_on", "1")) {
		result(0, "enable the dma_buf events in tracefs");
		return 1;
	}

	/* A heap buffer, mapped by userspace. */
	struct dma_heap_allocation_data alloc = {
		.len = 4096, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc))
		return result(0, "DMA_HEAP_IOCTL_ALLOC"), 1;
	buf = alloc.fd;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED)
		return result(0, "mmap of the heap buffer"), 1;
	memset(p, 0x5a, 4096);
	munmap(p, 4096);

	/* Imported into vgem (PRIME) and closed there. */
	struct drm_prime_handle prime = { .fd = buf };
	if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime))
		return result(0, "vgem PRIME_FD_TO_HANDLE"), 1;
	struct drm_gem_close gc = { .handle = prime.handle };
	ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);

	/* Held by the test module and mapped through its node. */
	long slot = ioctl(test, DMABUF_TEST_HOLD, buf);
	if (slot < 0)
		return result(0, "test module HOLD"), 1;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, test, slot * 4096);
	if (p == MAP_FAILED)
		return result(0, "mmap of the held buffer through the test module"), 1;
	if (*(volatile unsigned char *)p != 0x5a)
		return result(0, "the held buffer's data through dma_buf_mmap"), 1;
	munmap(p, 4096);
	ioctl(test, DMABUF_TEST_UNHOLD, slot);

	/* Imported by the test module. */
	struct dmabuf_test_import imp = { .fd = buf };
	if (ioctl(test, DMABUF_TEST_IMPORT, &imp))
		return result(0, "test module import"), 1;
	close(buf);

	/* Exported by the test module, through dma_buf_fd and through a
	 * reserved fd with dma_buf_fd_install. */
	struct dmabuf_test_export e1 = { .size = 4096, .flags = DMABUF_TEST_EXPORT_FD };
	struct dmabuf_test_export e2 = { .size = 12288 };
	if (ioctl(test, DMABUF_TEST_EXPORT, &e1) || ioctl(test, DMABUF_TEST_EXPORT, &e2))
		return result(0, "test module export"), 1;
	close(e1.fd);
	close(e2.fd);

	write_file("events/dma_buf/enable", "0");
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	f = fopen(path, "r");
	if (!f)
		return result(0, "read the trace"), 1;
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": dma_buf_");

		if (line[0] == '#' || !ev)
			continue;
		ev += 2;
		ev[strcspn(ev, "\n")] = 0;
		for (int i = 0; i < 8; i++) {
			size_t l = strlen(events[i]);

			if (!strncmp(ev, events[i], l) && ev[l] == ':')
				count[i]++;
		}
		rename_field(ev, "ino=", &inos);
		rename_field(ev, "attachment:", &attachments);
		/* Data, not a verdict: the differential compares the events. */
		printf("data #%02d %s\n", ++n, ev);
	}
	fclose(f);
	write_file("trace", "");
	for (int i = 0; i < 8; i++)
		result(count[i] > 0, "dma_buf:%s fired (%d times)", events[i], count[i]);
	close(test);
	close(vgem);
	close(heap);
	printf("1..%d\n", test_no);
	return failed != 0;
}
