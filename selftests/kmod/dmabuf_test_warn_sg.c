// SPDX-License-Identifier: GPL-2.0
/*
 * The DEBUG_SG canary (see dmabuf_test_warn_canary.c): a scatterlist entry
 * set to a buffer outside the linear map, which DEBUG_SG stops with BUG()
 * (the loading insmod dies; the module never finishes loading).
 */
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/vmalloc.h>

static int __init sg_canary_init(void)
{
	struct scatterlist sg;
	void *v = vmalloc(PAGE_SIZE);

	if (!v)
		return -ENOMEM;
	sg_init_table(&sg, 1);
	sg_set_buf(&sg, v, 16);
	vfree(v);
	return -EINVAL;
}

module_init(sg_canary_init);
MODULE_DESCRIPTION("Deliberate bad scatterlist entry, to prove DEBUG_SG fires");
MODULE_LICENSE("GPL");
