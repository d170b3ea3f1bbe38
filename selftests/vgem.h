/* SPDX-License-Identifier: GPL-2.0 */
/* Finding the vgem DRM device. */
#ifndef DMABUF_RS_VGEM_H
#define DMABUF_RS_VGEM_H
#include <drm/drm.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* An fd of the first /dev/dri/cardN whose driver is vgem, or -1. */
static inline int open_vgem(void)
{
	char name[16], path[32];

	for (int i = 0; i < 16; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
}

#endif
