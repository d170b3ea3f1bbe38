/* SPDX-License-Identifier: GPL-2.0 */
/* The sw_sync debugfs interface (/sys/kernel/debug/sync/sw_sync), whose
 * uapi header the kernel does not install. */
#ifndef DMABUF_RS_SW_SYNC_H
#define DMABUF_RS_SW_SYNC_H
#include <linux/ioctl.h>
#include <linux/types.h>

struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)

#endif
