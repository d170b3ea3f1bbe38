/* SPDX-License-Identifier: GPL-2.0 */
/* A heap buffer in one call, for the userspace tests. */
#ifndef DMABUF_RS_HEAP_H
#define DMABUF_RS_HEAP_H
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dma-heap.h>

/* A new O_RDWR buffer of len bytes from /dev/dma_heap/<heap>: its fd, or
 * -1 with errno set. */
static int heap_alloc(const char *heap, size_t len)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = O_RDWR | O_CLOEXEC };
	char path[128];
	int h, r;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap);
	h = open(path, O_RDONLY | O_CLOEXEC);
	if (h < 0)
		return -1;
	r = ioctl(h, DMA_HEAP_IOCTL_ALLOC, &d);
	close(h);
	return r ? -1 : (int)d.fd;
}

#endif
