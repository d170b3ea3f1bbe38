// SPDX-License-Identifier: GPL-2.0
/*
 * An importer bug on purpose: vmap a buffer, then drop the last reference
 * without vunmap. The Rust core must warn and give the mapping back to the
 * exporter before the exporter's release (the C core stops with BUG()).
 * The exporter here logs the order it saw; run it on the Rust kernel only:
 *   insmod dmabuf_test_warn_vmap.ko   (vm-run then exits 125: the WARN)
 * and look for "dmabuf_test_warn_vmap: vunmap before release".
 * With attach=1 it also attaches a device and never detaches (the core
 * warns at the release as well, and the attachment leaks, as in C); with
 * the core's debug_misuse parameter on, each bug is also reported with the
 * stack that made it.
 */
#include <linux/device/faux.h>
#include <linux/dma-buf.h>
#include <linux/iosys-map.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

MODULE_IMPORT_NS("DMA_BUF");

struct leak_buf {
	void *vaddr;
	bool vunmapped;
};

static struct sg_table *leak_map(struct dma_buf_attachment *a, enum dma_data_direction dir)
{
	return ERR_PTR(-EINVAL);
}

static void leak_unmap(struct dma_buf_attachment *a, struct sg_table *t,
		       enum dma_data_direction dir)
{
}

static int leak_vmap(struct dma_buf *buf, struct iosys_map *map)
{
	struct leak_buf *b = buf->priv;

	iosys_map_set_vaddr(map, b->vaddr);
	return 0;
}

static void leak_vunmap(struct dma_buf *buf, struct iosys_map *map)
{
	struct leak_buf *b = buf->priv;

	if (map->vaddr == b->vaddr)
		b->vunmapped = true;
}

static void leak_release(struct dma_buf *buf)
{
	struct leak_buf *b = buf->priv;

	pr_info("dmabuf_test_warn_vmap: %s\n",
		b->vunmapped ? "vunmap before release" : "release while still vmapped");
	vfree(b->vaddr);
	kfree(b);
}

static const struct dma_buf_ops leak_ops = {
	.map_dma_buf = leak_map,
	.unmap_dma_buf = leak_unmap,
	.vmap = leak_vmap,
	.vunmap = leak_vunmap,
	.release = leak_release,
};

static bool attach;
module_param(attach, bool, 0444);
MODULE_PARM_DESC(attach, "also leave an attachment behind");

static int __init leak_init(void)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct iosys_map map;
	struct leak_buf *b;
	struct dma_buf *buf;
	int ret;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->vaddr = vzalloc(PAGE_SIZE);
	if (!b->vaddr) {
		kfree(b);
		return -ENOMEM;
	}
	info.ops = &leak_ops;
	info.size = PAGE_SIZE;
	info.flags = O_RDWR;
	info.priv = b;
	buf = dma_buf_export(&info);
	if (IS_ERR(buf)) {
		vfree(b->vaddr);
		kfree(b);
		return PTR_ERR(buf);
	}
	ret = dma_buf_vmap_unlocked(buf, &map);
	pr_info("dmabuf_test_warn_vmap: vmap %d\n", ret);
	if (attach) {
		/* Never destroyed: the leaked attachment points to it. */
		struct faux_device *fdev = faux_device_create("dmabuf_test_warn_vmap", NULL, NULL);
		struct dma_buf_attachment *a;

		a = fdev ? dma_buf_attach(buf, &fdev->dev) : ERR_PTR(-ENOMEM);
		pr_info("dmabuf_test_warn_vmap: attach %d\n", PTR_ERR_OR_ZERO(a));
	}
	/* The bug: the last reference goes while the buffer is vmapped. */
	dma_buf_put(buf);
	return 0;
}

static void __exit leak_exit(void)
{
}

module_init(leak_init);
module_exit(leak_exit);
MODULE_DESCRIPTION("Releases a vmapped dma-buf on purpose (importer bug)");
MODULE_LICENSE("GPL");
