// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel importer loops for `make bench` (selftests/bench/), driven
 * through /dev/dmabuf_bench. Built from this one source against the stock
 * C core and against the Rust core, so both are timed through the same
 * importer code. Each DMABUF_BENCH_RUN call runs a whole batch and
 * returns its in-kernel time; the module does nothing until asked.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/iosys-map.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "dmabuf_bench.h"

static struct miscdevice bench_misc;

/* One importer attachment held per open file (DMABUF_BENCH_HOLD). */
struct bench_file {
	struct mutex lock;
	struct dma_buf *buf;
	struct dma_buf_attachment *att;
	struct sg_table *sgt;
};

static long run_attach_map(struct dma_buf *buf, u64 iters)
{
	struct dma_buf_attachment *a;
	struct sg_table *sgt;
	u64 i;

	for (i = 0; i < iters; i++) {
		a = dma_buf_attach(buf, bench_misc.this_device);
		if (IS_ERR(a))
			return PTR_ERR(a);
		sgt = dma_buf_map_attachment_unlocked(a, DMA_BIDIRECTIONAL);
		if (IS_ERR(sgt)) {
			dma_buf_detach(buf, a);
			return PTR_ERR(sgt);
		}
		dma_buf_unmap_attachment_unlocked(a, sgt, DMA_BIDIRECTIONAL);
		dma_buf_detach(buf, a);
		cond_resched();
	}
	return 0;
}

static long run_vmap(struct dma_buf *buf, u64 iters)
{
	struct iosys_map map;
	u64 i;
	int ret;

	for (i = 0; i < iters; i++) {
		ret = dma_buf_vmap_unlocked(buf, &map);
		if (ret)
			return ret;
		dma_buf_vunmap_unlocked(buf, &map);
		cond_resched();
	}
	return 0;
}

static long do_run(struct dmabuf_bench_run *arg)
{
	struct iosys_map held;
	struct dma_buf *buf;
	u64 t0;
	long ret;

	buf = dma_buf_get(arg->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	switch (arg->op) {
	case DMABUF_BENCH_ATTACH_MAP:
		t0 = ktime_get_ns();
		ret = run_attach_map(buf, arg->iters);
		arg->ns = ktime_get_ns() - t0;
		break;
	case DMABUF_BENCH_VMAP_FIRST:
		t0 = ktime_get_ns();
		ret = run_vmap(buf, arg->iters);
		arg->ns = ktime_get_ns() - t0;
		break;
	case DMABUF_BENCH_VMAP_REPEAT:
		ret = dma_buf_vmap_unlocked(buf, &held);
		if (ret)
			break;
		t0 = ktime_get_ns();
		ret = run_vmap(buf, arg->iters);
		arg->ns = ktime_get_ns() - t0;
		dma_buf_vunmap_unlocked(buf, &held);
		break;
	default:
		ret = -EINVAL;
	}
	dma_buf_put(buf);
	return ret;
}

static void unhold(struct bench_file *bf)
{
	if (!bf->buf)
		return;
	dma_buf_unmap_attachment_unlocked(bf->att, bf->sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(bf->buf, bf->att);
	dma_buf_put(bf->buf);
	bf->buf = NULL;
}

static long hold(struct bench_file *bf, int fd)
{
	struct dma_buf *buf;
	long ret;

	if (bf->buf)
		return -EBUSY;
	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	bf->att = dma_buf_attach(buf, bench_misc.this_device);
	if (IS_ERR(bf->att)) {
		ret = PTR_ERR(bf->att);
		goto put;
	}
	bf->sgt = dma_buf_map_attachment_unlocked(bf->att, DMA_BIDIRECTIONAL);
	if (IS_ERR(bf->sgt)) {
		ret = PTR_ERR(bf->sgt);
		goto detach;
	}
	bf->buf = buf;
	return 0;
detach:
	dma_buf_detach(buf, bf->att);
put:
	dma_buf_put(buf);
	return ret;
}

static long bench_ioctl(struct file *f, unsigned int cmd, unsigned long uarg)
{
	struct bench_file *bf = f->private_data;
	void __user *up = (void __user *)uarg;
	long ret;

	switch (cmd) {
	case DMABUF_BENCH_RUN: {
		struct dmabuf_bench_run arg;

		if (copy_from_user(&arg, up, sizeof(arg)))
			return -EFAULT;
		ret = do_run(&arg);
		if (!ret && copy_to_user(up, &arg, sizeof(arg)))
			return -EFAULT;
		return ret;
	}
	case DMABUF_BENCH_HOLD:
		mutex_lock(&bf->lock);
		ret = hold(bf, (int)uarg);
		mutex_unlock(&bf->lock);
		return ret;
	case DMABUF_BENCH_UNHOLD:
		mutex_lock(&bf->lock);
		unhold(bf);
		mutex_unlock(&bf->lock);
		return 0;
	}
	return -ENOTTY;
}

static int bench_open(struct inode *inode, struct file *f)
{
	struct bench_file *bf = kzalloc(sizeof(*bf), GFP_KERNEL);

	if (!bf)
		return -ENOMEM;
	mutex_init(&bf->lock);
	f->private_data = bf;
	return 0;
}

static int bench_release(struct inode *inode, struct file *f)
{
	struct bench_file *bf = f->private_data;

	unhold(bf);
	mutex_destroy(&bf->lock);
	kfree(bf);
	return 0;
}

static const struct file_operations bench_fops = {
	.owner = THIS_MODULE,
	.open = bench_open,
	.release = bench_release,
	.unlocked_ioctl = bench_ioctl,
};

static struct device_dma_parameters bench_dma_parms;

static struct miscdevice bench_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabuf_bench",
	.fops = &bench_fops,
};

static int __init bench_init(void)
{
	int ret = misc_register(&bench_misc);

	if (ret)
		return ret;
	ret = dma_coerce_mask_and_coherent(bench_misc.this_device, DMA_BIT_MASK(64));
	if (ret) {
		misc_deregister(&bench_misc);
		return ret;
	}
	/* The same device model as dmabuf_test_c: one segment may be large. */
	bench_misc.this_device->dma_parms = &bench_dma_parms;
	dma_set_max_seg_size(bench_misc.this_device, UINT_MAX);
	return 0;
}

static void __exit bench_exit(void)
{
	bench_misc.this_device->dma_parms = NULL;
	misc_deregister(&bench_misc);
}

module_init(bench_init);
module_exit(bench_exit);
MODULE_DESCRIPTION("dma-buf importer loops for make bench");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
