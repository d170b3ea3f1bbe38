// SPDX-License-Identifier: GPL-2.0
/*
 * Test exporter and importer written in C against the dma-buf API, driven
 * from userspace through /dev/dmabuf_test. It builds unchanged against the
 * stock C core and the Rust core, which proves the C ABI and lets the same
 * userspace test compare both.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-heap.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include "dmabuf_test.h"

static struct miscdevice test_misc;

struct test_buf {
	struct page **pages;
	unsigned long npages;
	atomic_t begin_count, end_count, maps, vmaps;
	int last_dir;
	/* The pinnable flavour: pins held, and whether a map found one. */
	atomic_t pins;
	bool map_pinned;
};

static struct sg_table *test_map(struct dma_buf_attachment *a, enum dma_data_direction dir)
{
	struct test_buf *tb = a->dmabuf->priv;
	struct sg_table *sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	int ret;

	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages_segment(sgt, tb->pages, tb->npages, 0,
						tb->npages << PAGE_SHIFT,
						dma_get_max_seg_size(a->dev), GFP_KERNEL);
	if (ret)
		goto free;
	ret = dma_map_sgtable(a->dev, sgt, dir, 0);
	if (ret)
		goto table;
	atomic_inc(&tb->maps);
	tb->map_pinned = atomic_read(&tb->pins) > 0;
	return sgt;
table:
	sg_free_table(sgt);
free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void test_unmap(struct dma_buf_attachment *a, struct sg_table *sgt, enum dma_data_direction dir)
{
	struct test_buf *tb = a->dmabuf->priv;

	atomic_dec(&tb->maps);
	dma_unmap_sgtable(a->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void test_release(struct dma_buf *buf)
{
	struct test_buf *tb = buf->priv;
	unsigned long i;

	for (i = 0; i < tb->npages; i++)
		__free_page(tb->pages[i]);
	kvfree(tb->pages);
	kfree(tb);
}

static int test_begin(struct dma_buf *buf, enum dma_data_direction dir)
{
	struct test_buf *tb = buf->priv;

	atomic_inc(&tb->begin_count);
	tb->last_dir = dir;
	return 0;
}

static int test_end(struct dma_buf *buf, enum dma_data_direction dir)
{
	struct test_buf *tb = buf->priv;

	atomic_inc(&tb->end_count);
	tb->last_dir = dir;
	return 0;
}

static int test_mmap(struct dma_buf *buf, struct vm_area_struct *vma)
{
	struct test_buf *tb = buf->priv;
	unsigned long i, n = vma_pages(vma);
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     tb->pages[vma->vm_pgoff + i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int test_vmap(struct dma_buf *buf, struct iosys_map *map)
{
	struct test_buf *tb = buf->priv;
	void *va = vmap(tb->pages, tb->npages, VM_MAP, PAGE_KERNEL);

	if (!va)
		return -ENOMEM;
	atomic_inc(&tb->vmaps);
	iosys_map_set_vaddr(map, va);
	return 0;
}

static void test_vunmap(struct dma_buf *buf, struct iosys_map *map)
{
	struct test_buf *tb = buf->priv;

	atomic_dec(&tb->vmaps);
	vunmap(map->vaddr);
	/* As some exporters do: the caller's map is cleared. */
	iosys_map_clear(map);
}

static const struct dma_buf_ops test_ops = {
	.map_dma_buf = test_map,
	.unmap_dma_buf = test_unmap,
	.release = test_release,
	.begin_cpu_access = test_begin,
	.end_cpu_access = test_end,
	.mmap = test_mmap,
	.vmap = test_vmap,
	.vunmap = test_vunmap,
};

static int test_pin(struct dma_buf_attachment *a)
{
	struct test_buf *tb = a->dmabuf->priv;

	dma_resv_assert_held(a->dmabuf->resv);
	atomic_inc(&tb->pins);
	return 0;
}

static void test_unpin(struct dma_buf_attachment *a)
{
	struct test_buf *tb = a->dmabuf->priv;

	dma_resv_assert_held(a->dmabuf->resv);
	atomic_dec(&tb->pins);
}

/* An exporter that can pin (a dynamic exporter): the core must pin the
 * buffer while a static importer has it mapped. */
static const struct dma_buf_ops test_pin_ops = {
	.map_dma_buf = test_map,
	.unmap_dma_buf = test_unmap,
	.release = test_release,
	.begin_cpu_access = test_begin,
	.end_cpu_access = test_end,
	.mmap = test_mmap,
	.vmap = test_vmap,
	.vunmap = test_vunmap,
	.pin = test_pin,
	.unpin = test_unpin,
};

static const struct dma_buf_ops bad_ops = {
	.map_dma_buf = test_map,
	.release = test_release,
};

/* A buffer of the test exporter: SIZE bytes of zeroed pages. */
static struct dma_buf *export_test_buf(unsigned long size, u32 flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct test_buf *tb;
	struct dma_buf *buf;
	unsigned long i;

	if (!size || size > (64 << 20))
		return ERR_PTR(-EINVAL);
	tb = kzalloc(sizeof(*tb), GFP_KERNEL);
	if (!tb)
		return ERR_PTR(-ENOMEM);
	tb->npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	tb->pages = kvcalloc(tb->npages, sizeof(*tb->pages), GFP_KERNEL);
	if (!tb->pages)
		goto err;
	for (i = 0; i < tb->npages; i++) {
		tb->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!tb->pages[i])
			goto err;
	}
	info.ops = flags & DMABUF_TEST_EXPORT_PINNABLE ? &test_pin_ops : &test_ops;
	if (flags & DMABUF_TEST_EXPORT_NO_NAME)
		info.exp_name = NULL;
	info.size = tb->npages << PAGE_SHIFT;
	info.flags = O_RDWR;
	info.priv = tb;
	buf = dma_buf_export(&info);
	if (IS_ERR(buf))
		test_release(&(struct dma_buf){ .priv = tb });
	return buf;
err:
	if (tb->pages)
		for (i = 0; i < tb->npages; i++)
			if (tb->pages[i])
				__free_page(tb->pages[i]);
	kvfree(tb->pages);
	kfree(tb);
	return ERR_PTR(-ENOMEM);
}

static long do_export(struct dmabuf_test_export *arg, void __user *uarg)
{
	struct dma_buf *buf;
	int fd;

	buf = export_test_buf(arg->size, arg->flags);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (arg->flags & DMABUF_TEST_EXPORT_FD) {
		fd = dma_buf_fd(buf, O_CLOEXEC);
		if (fd < 0) {
			dma_buf_put(buf);
			return fd;
		}
		arg->fd = fd;
		/* Installed already: a failing copy leaves the fd behind. */
		return copy_to_user(uarg, arg, sizeof(*arg)) ? -EFAULT : 0;
	}
	/*
	 * Reserve the fd, copy it out, then install it: once installed it
	 * cannot be taken back, so a failing copy_to_user must come first
	 * (with dma_buf_fd, fault injection leaked the fd on EFAULT).
	 */
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(buf);
		return fd;
	}
	arg->fd = fd;
	if (copy_to_user(uarg, arg, sizeof(*arg))) {
		put_unused_fd(fd);
		dma_buf_put(buf);
		return -EFAULT;
	}
	dma_buf_fd_install(buf, fd);
	return 0;
}

/*
 * Exercises the importer API on the buffer behind arg->fd; with map_only,
 * just attach, map, count the mapped bytes and entries, unmap, detach.
 */
static long do_import(struct dmabuf_test_import *arg, bool map_only)
{
	struct dma_buf_attachment *a;
	struct dma_buf *buf;
	struct sg_table *sgt;
	struct scatterlist *sg;
	struct iosys_map map, map2;
	u64 total = 0, sum = 0;
	int i, ret;
	u8 *p;

	buf = dma_buf_get(arg->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	a = dma_buf_attach(buf, test_misc.this_device);
	if (IS_ERR(a)) {
		ret = PTR_ERR(a);
		goto put;
	}
	sgt = dma_buf_map_attachment_unlocked(a, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto detach;
	}
	for_each_sgtable_dma_sg(sgt, sg, i)
		total += sg_dma_len(sg);
	arg->mapped_bytes = total;
	arg->nents = sgt->nents;
	arg->dma_addr = sg_dma_address(sgt->sgl);
	if (map_only) {
		ret = 0;
		goto unmap;
	}
	/* Under CONFIG_DMABUF_DEBUG importers must not see page links. */
	arg->page_links = sg_page(sgt->sgl) != NULL;

	ret = dma_buf_begin_cpu_access(buf, DMA_FROM_DEVICE);
	if (ret)
		goto unmap;
	ret = dma_buf_vmap_unlocked(buf, &map);
	if (ret) {
		dma_buf_end_cpu_access(buf, DMA_FROM_DEVICE);
		goto unmap;
	}
	/* A second vmap returns the same, refcounted mapping. */
	ret = dma_buf_vmap_unlocked(buf, &map2);
	arg->vmap_same = !ret && iosys_map_is_equal(&map, &map2);
	arg->vmap_iomem = map.is_iomem;
	if (!ret)
		dma_buf_vunmap_unlocked(buf, &map2);
	p = map.vaddr;
	for (i = 0; i < buf->size; i++)
		sum += p[i];
	arg->byte_sum = sum;
	if (arg->fill_byte) {
		memset(p, arg->fill_byte, buf->size);
	}
	dma_buf_vunmap_unlocked(buf, &map);
	arg->vunmap_cleared = iosys_map_is_null(&map);
	ret = dma_buf_end_cpu_access(buf, DMA_FROM_DEVICE);
unmap:
	dma_buf_unmap_attachment_unlocked(a, sgt, DMA_BIDIRECTIONAL);
	if (buf->ops == &test_pin_ops) {
		struct test_buf *tb = buf->priv;

		arg->pinned = DMABUF_TEST_PINNED_AT_MAP * tb->map_pinned |
			      DMABUF_TEST_UNPINNED_AFTER * (atomic_read(&tb->pins) == 0);
	}
detach:
	dma_buf_detach(buf, a);
put:
	dma_buf_put(buf);
	return ret;
}

static atomic_t invalidations;

static void test_invalidate(struct dma_buf_attachment *a)
{
	atomic_inc(&invalidations);
}

static const struct dma_buf_attach_ops test_importer_ops = {
	.allow_peer2peer = true,
	.invalidate_mappings = test_invalidate,
};

/*
 * Dynamic importer on the buffer behind @fd: attach with importer ops,
 * map and unmap under the reservation lock, pin/unpin, and let the
 * exporter side invalidate the mappings. Returns a bit mask of checks
 * that held, so userspace can report each.
 */
static long do_dynamic(int fd)
{
	struct dma_buf_attachment *a, *s;
	struct dma_buf *buf;
	struct sg_table *sgt;
	long ok = 0;
	int ret;

	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	a = dma_buf_dynamic_attach(buf, test_misc.this_device, &test_importer_ops, &ok);
	if (IS_ERR(a)) {
		dma_buf_put(buf);
		return PTR_ERR(a);
	}
	ok |= (a->peer2peer && a->importer_priv == &ok) << 0;
	ok |= dma_buf_attach_revocable(a) << 1;
	s = dma_buf_attach(buf, test_misc.this_device);
	if (!IS_ERR(s)) {
		ok |= !dma_buf_attach_revocable(s) << 2;
		dma_buf_detach(buf, s);
	}

	dma_resv_lock(buf->resv, NULL);
	ret = dma_buf_pin(a);
	ok |= (ret == 0) << 3;
	if (!ret)
		dma_buf_unpin(a);
	sgt = dma_buf_map_attachment(a, DMA_TO_DEVICE);
	ok |= !IS_ERR(sgt) << 4;
	atomic_set(&invalidations, 0);
	dma_buf_invalidate_mappings(buf);
	ok |= (atomic_read(&invalidations) == 1) << 5;
	if (!IS_ERR(sgt))
		dma_buf_unmap_attachment(a, sgt, DMA_TO_DEVICE);
	dma_resv_unlock(buf->resv);

	dma_buf_detach(buf, a);
	dma_buf_put(buf);
	return ok;
}

static struct dma_buf *test_heap_allocate(struct dma_heap *heap, unsigned long len,
					  u32 fd_flags, u64 heap_flags)
{
	return ERR_PTR(-ENOMEM);
}

static const struct dma_heap_ops test_heap_ops = {
	.allocate = test_heap_allocate,
};

static const struct dma_heap_ops no_allocate_ops;

/*
 * A heap in C, as OP-TEE's or a vendor's: "dmabuf_test_heap" hands out
 * buffers of the test exporter. The core calls its allocate through the
 * C-typed pointer (with CONFIG_CFI the call is checked against this
 * function's C type). Heaps are never removed, so registering it pins
 * this module for good.
 */
static struct dma_buf *c_heap_allocate(struct dma_heap *heap, unsigned long len,
				       u32 fd_flags, u64 heap_flags)
{
	if (strcmp(dma_heap_get_name(heap), "dmabuf_test_heap") ||
	    dma_heap_get_drvdata(heap) != &c_heap_allocate)
		return ERR_PTR(-EBADSLT);
	return export_test_buf(len, 0);
}

static const struct dma_heap_ops c_heap_ops = {
	.allocate = c_heap_allocate,
};

/*
 * An importer bug: attach, map, and detach without unmapping. Returns the
 * table's entry count. Upstream's heaps free the table at detach and leave
 * the DMA mapping; the Rust heaps unmap it too and warn. A buggy importer
 * keeps the table pointer it was given (with DMABUF_DEBUG that is the
 * core's own copy of the table, which no detach can know of): so does this
 * one, every one (a boot may run several programs that do this), so that
 * kmemleak judges only what the core and the exporter own.
 */
static struct sg_table *kept_by_buggy_importer[32];
static atomic_t kept_by_buggy_count = ATOMIC_INIT(0);

static long do_detach_mapped(int fd)
{
	struct dma_buf_attachment *a;
	struct dma_buf *buf;
	struct sg_table *sgt;
	unsigned int slot;
	long ret;

	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	a = dma_buf_attach(buf, test_misc.this_device);
	if (IS_ERR(a)) {
		ret = PTR_ERR(a);
		goto put;
	}
	slot = atomic_inc_return(&kept_by_buggy_count) - 1;
	if (slot >= ARRAY_SIZE(kept_by_buggy_importer)) {
		ret = -ENOSPC;
		goto detach;
	}
	sgt = dma_buf_map_attachment_unlocked(a, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
	} else {
		kept_by_buggy_importer[slot] = sgt;
		ret = sgt->nents;
	}
detach:
	dma_buf_detach(buf, a);
put:
	dma_buf_put(buf);
	return ret;
}

static struct {
	struct dma_buf *buf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
} put_while_mapped;
static DEFINE_MUTEX(misuse_lock);
static struct {
	struct dma_buf *buf;
	struct iosys_map map;
} kept_vmap;

static long do_misuse(const struct dmabuf_test_misuse *m)
{
	struct dma_buf_attachment *a;
	struct dma_buf *buf;
	struct sg_table *sgt;
	long ret = 0;

	guard(mutex)(&misuse_lock);
	if (m->kind == DMABUF_TEST_DROP_VMAP) {
		if (!kept_vmap.buf)
			return -ENOENT;
		dma_buf_end_cpu_access(kept_vmap.buf, DMA_FROM_DEVICE);
		dma_buf_vunmap_unlocked(kept_vmap.buf, &kept_vmap.map);
		dma_buf_put(kept_vmap.buf);
		kept_vmap.buf = NULL;
		return 0;
	}
	if (m->kind == DMABUF_TEST_MISUSE_CLEANUP) {
		if (!put_while_mapped.buf)
			return -ENOENT;
		dma_buf_unmap_attachment_unlocked(put_while_mapped.attach, put_while_mapped.sgt,
						  DMA_TO_DEVICE);
		dma_buf_detach(put_while_mapped.buf, put_while_mapped.attach);
		put_while_mapped.buf = NULL;
		return 0;
	}
	buf = dma_buf_get(m->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	switch (m->kind) {
	case DMABUF_TEST_MISUSE_END_WITHOUT_BEGIN:
		ret = dma_buf_end_cpu_access(buf, DMA_FROM_DEVICE);
		break;
	case DMABUF_TEST_MISUSE_BEGIN_NOT_ENDED:
		ret = dma_buf_begin_cpu_access(buf, DMA_TO_DEVICE);
		break;
	case DMABUF_TEST_MISUSE_PUT_WHILE_MAPPED:
		if (put_while_mapped.buf) {
			ret = -EBUSY;
			break;
		}
		a = dma_buf_attach(buf, test_misc.this_device);
		if (IS_ERR(a)) {
			ret = PTR_ERR(a);
			break;
		}
		sgt = dma_buf_map_attachment_unlocked(a, DMA_TO_DEVICE);
		if (IS_ERR(sgt)) {
			dma_buf_detach(buf, a);
			ret = PTR_ERR(sgt);
			break;
		}
		/* Kept without a reference: the bug. */
		put_while_mapped.buf = buf;
		put_while_mapped.attach = a;
		put_while_mapped.sgt = sgt;
		break;
	case DMABUF_TEST_KEEP_VMAP:
		if (kept_vmap.buf) {
			ret = -EBUSY;
			break;
		}
		ret = dma_buf_vmap_unlocked(buf, &kept_vmap.map);
		if (ret)
			break;
		ret = dma_buf_begin_cpu_access(buf, DMA_FROM_DEVICE);
		if (ret) {
			dma_buf_vunmap_unlocked(buf, &kept_vmap.map);
			break;
		}
		/* Keeps the reference dma_buf_get() took. */
		kept_vmap.buf = buf;
		return 0;
	default:
		ret = -EINVAL;
	}
	dma_buf_put(buf);
	return ret;
}

static long do_heap_add(void)
{
	static DEFINE_MUTEX(lock);
	static struct dma_heap *heap;
	struct dma_heap_export_info info = {
		.name = "dmabuf_test_heap", .ops = &c_heap_ops, .priv = &c_heap_allocate,
	};
	long ret = 0;

	mutex_lock(&lock);
	if (!heap) {
		heap = dma_heap_add(&info);
		if (IS_ERR(heap)) {
			ret = PTR_ERR(heap);
			heap = NULL;
		} else {
			__module_get(THIS_MODULE);
		}
	}
	mutex_unlock(&lock);
	return ret;
}

/* dma_heap_add() refusals: none of these may register a heap. */
static long do_heap_add_error(u32 which)
{
	struct dma_heap_export_info info = { .name = "system", .ops = &test_heap_ops };
	struct dma_heap *heap;

	switch (which) {
	case 0: /* a name that is taken */
		break;
	case 1: /* an empty name */
		info.name = "";
		break;
	case 2: /* no allocate */
		info.name = "dmabuf_test_heap";
		info.ops = &no_allocate_ops;
		break;
	default:
		return -EINVAL;
	}
	heap = dma_heap_add(&info);
	return IS_ERR(heap) ? PTR_ERR(heap) : 0;
}

/* An exporter whose vmap always fails (case 3 of do_export_error). */
static struct sg_table *nomap_map(struct dma_buf_attachment *a, enum dma_data_direction dir)
{
	return ERR_PTR(-EINVAL);
}

static void nomap_unmap(struct dma_buf_attachment *a, struct sg_table *t,
			enum dma_data_direction dir)
{
}

static int failing_vmap(struct dma_buf *buf, struct iosys_map *map)
{
	return -ENOMEM;
}

static void nothing_to_release(struct dma_buf *buf)
{
}

static const struct dma_buf_ops failing_vmap_ops = {
	.map_dma_buf = nomap_map,
	.unmap_dma_buf = nomap_unmap,
	.vmap = failing_vmap,
	.release = nothing_to_release,
};

/*
 * Cases 0-2: dma_buf_export with bad info (each WARNs, as upstream).
 * Case 3: an exporter's vmap fails twice; the core warns the first time
 * only (upstream's WARN_ON_ONCE) and returns its error both times.
 * Case 4: dma_buf_begin_cpu_access(NULL) WARNs and is EINVAL (ENOTBLK
 * tells it from the ioctl's own EINVAL; EPROTO: another result).
 */
static long do_export_error(u32 which)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dma_buf *buf;
	int dummy;

	info.size = PAGE_SIZE;
	info.priv = &dummy;
	switch (which) {
	case 0: /* no ops */
		break;
	case 1: /* no unmap */
		info.ops = &bad_ops;
		break;
	case 2: /* no priv */
		info.ops = &test_ops;
		info.priv = NULL;
		break;
	case 3: { /* vmap fails, twice */
		struct iosys_map map;
		int first, second;

		info.ops = &failing_vmap_ops;
		buf = dma_buf_export(&info);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
		first = dma_buf_vmap_unlocked(buf, &map);
		second = dma_buf_vmap_unlocked(buf, &map);
		dma_buf_put(buf);
		return first == second ? second : -EPROTO;
	}
	case 4: /* begin_cpu_access without a buffer: WARN and EINVAL */
		return dma_buf_begin_cpu_access(NULL, DMA_TO_DEVICE) == -EINVAL ? -ENOTBLK : -EPROTO;
	default:
		return -EINVAL;
	}
	buf = dma_buf_export(&info);
	if (!IS_ERR(buf)) {
		dma_buf_put(buf);
		return 0;
	}
	return PTR_ERR(buf);
}

/*
 * vc-sm-cma's importer: its VideoCore can only take a buffer in one
 * contiguous DMA segment, and it keeps the buffer until the VideoCore lets
 * go, long after the process that shared it closed its fd.
 */
#define HOLD_SLOTS 8
static struct held {
	struct dma_buf *buf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
} held[HOLD_SLOTS];
static DEFINE_MUTEX(held_lock);

static void unhold(struct held *h)
{
	dma_buf_unmap_attachment_unlocked(h->attach, h->sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(h->buf, h->attach);
	dma_buf_put(h->buf);
	h->buf = NULL;
}

static long do_hold(int fd)
{
	struct dma_buf_attachment *a;
	struct dma_buf *buf;
	struct sg_table *sgt;
	long ret;
	int i;

	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	a = dma_buf_attach(buf, test_misc.this_device);
	if (IS_ERR(a)) {
		dma_buf_put(buf);
		return PTR_ERR(a);
	}
	sgt = dma_buf_map_attachment_unlocked(a, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto detach;
	}
	ret = -EINVAL;
	if (sgt->nents != 1 || sg_dma_len(sgt->sgl) < buf->size)
		goto unmap;
	mutex_lock(&held_lock);
	ret = -EBUSY;
	for (i = 0; i < HOLD_SLOTS; i++) {
		if (!held[i].buf) {
			held[i] = (struct held){ .buf = buf, .attach = a, .sgt = sgt };
			ret = i;
			break;
		}
	}
	mutex_unlock(&held_lock);
	if (ret >= 0)
		return ret;
unmap:
	dma_buf_unmap_attachment_unlocked(a, sgt, DMA_BIDIRECTIONAL);
detach:
	dma_buf_detach(buf, a);
	dma_buf_put(buf);
	return ret;
}

static long do_held_sum(unsigned long slot)
{
	struct iosys_map map;
	struct held *h;
	long sum = 0;
	size_t i;
	int ret;
	u8 *p;

	if (slot >= HOLD_SLOTS)
		return -EINVAL;
	mutex_lock(&held_lock);
	h = &held[slot];
	ret = -ENOENT;
	if (!h->buf)
		goto out;
	ret = dma_buf_begin_cpu_access(h->buf, DMA_FROM_DEVICE);
	if (ret)
		goto out;
	ret = dma_buf_vmap_unlocked(h->buf, &map);
	if (!ret) {
		p = map.vaddr;
		for (i = 0; i < h->buf->size; i++)
			sum += p[i];
		dma_buf_vunmap_unlocked(h->buf, &map);
	}
	dma_buf_end_cpu_access(h->buf, DMA_FROM_DEVICE);
out:
	mutex_unlock(&held_lock);
	return ret ? ret : sum;
}

static long do_held_device(struct dmabuf_test_device *arg)
{
	struct held *h;
	long ret = -ENOENT;
	size_t i, len;
	u8 *p;

	if (arg->slot >= HOLD_SLOTS)
		return -EINVAL;
	mutex_lock(&held_lock);
	h = &held[arg->slot];
	if (h->buf) {
		/* HOLD took one segment: what the device reads and writes. */
		p = phys_to_virt(dma_to_phys(test_misc.this_device, sg_dma_address(h->sgt->sgl)));
		len = sg_dma_len(h->sgt->sgl);
		if (arg->write)
			memset(p, arg->byte, len);
		arg->sum = 0;
		for (i = 0; i < len; i++)
			arg->sum += p[i];
		ret = 0;
	}
	mutex_unlock(&held_lock);
	return ret;
}

static long do_unhold(unsigned long slot)
{
	long ret = -ENOENT;

	if (slot >= HOLD_SLOTS)
		return -EINVAL;
	mutex_lock(&held_lock);
	if (held[slot].buf) {
		unhold(&held[slot]);
		ret = 0;
	}
	mutex_unlock(&held_lock);
	return ret;
}

/*
 * An importer that attaches the same buffer again and again (a capture
 * driver re-queueing the same dma-buf each frame): every attachment maps
 * to the same DMA segments, a second attachment alongside a live one sees
 * the same mapping, and nothing is left attached afterwards.
 */
#define REATTACH_ROUNDS 32
static long do_reattach(int fd)
{
	struct dma_buf_attachment *a, *first = NULL;
	struct sg_table *sgt, *first_sgt = NULL;
	struct scatterlist *sg, *sg0;
	struct dma_buf *buf;
	long ok = 1 << 0 | 1 << 1 | 1 << 2;
	int i, j;

	buf = dma_buf_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	for (i = 0; i < REATTACH_ROUNDS; i++) {
		a = dma_buf_attach(buf, test_misc.this_device);
		if (IS_ERR(a)) {
			ok &= ~(1 << 0);
			break;
		}
		sgt = dma_buf_map_attachment_unlocked(a, DMA_TO_DEVICE);
		if (IS_ERR(sgt)) {
			ok &= ~(1 << 0);
			dma_buf_detach(buf, a);
			break;
		}
		if (!first) {
			/* Kept mapped: the later rounds attach alongside it. */
			first = a;
			first_sgt = sgt;
			continue;
		}
		if (sgt->nents != first_sgt->nents) {
			ok &= ~(1 << 1);
		} else {
			sg0 = first_sgt->sgl;
			for_each_sgtable_dma_sg(sgt, sg, j) {
				if (sg_dma_address(sg) != sg_dma_address(sg0) ||
				    sg_dma_len(sg) != sg_dma_len(sg0))
					ok &= ~(1 << 1);
				sg0 = sg_next(sg0);
			}
		}
		dma_buf_unmap_attachment_unlocked(a, sgt, DMA_TO_DEVICE);
		dma_buf_detach(buf, a);
	}
	if (first) {
		dma_buf_unmap_attachment_unlocked(first, first_sgt, DMA_TO_DEVICE);
		dma_buf_detach(buf, first);
	}
	dma_resv_lock(buf->resv, NULL);
	if (!list_empty(&buf->attachments))
		ok &= ~(1 << 2);
	dma_resv_unlock(buf->resv);
	dma_buf_put(buf);
	return ok;
}

static long test_ioctl(struct file *f, unsigned int cmd, unsigned long uarg)
{
	void __user *up = (void __user *)uarg;
	long ret;

	switch (cmd) {
	case DMABUF_TEST_EXPORT: {
		struct dmabuf_test_export arg;

		if (copy_from_user(&arg, up, sizeof(arg)))
			return -EFAULT;
		return do_export(&arg, up);
	}
	case DMABUF_TEST_IMPORT:
	case DMABUF_TEST_MAPINFO: {
		struct dmabuf_test_import arg;

		if (copy_from_user(&arg, up, sizeof(arg)))
			return -EFAULT;
		ret = do_import(&arg, cmd == DMABUF_TEST_MAPINFO);
		if (copy_to_user(up, &arg, sizeof(arg)))
			return -EFAULT;
		return ret;
	}
	case DMABUF_TEST_GET: {
		struct dma_buf *buf = dma_buf_get((int)uarg);

		if (IS_ERR(buf))
			return PTR_ERR(buf);
		dma_buf_put(buf);
		return 0;
	}
	case DMABUF_TEST_EXPORT_ERROR:
		return do_export_error((u32)uarg);
	case DMABUF_TEST_DYNAMIC:
		return do_dynamic((int)uarg);
	case DMABUF_TEST_HEAP_ADD_ERROR:
		return do_heap_add_error((u32)uarg);
	case DMABUF_TEST_HOLD:
		return do_hold((int)uarg);
	case DMABUF_TEST_HELD_SUM:
		return do_held_sum(uarg);
	case DMABUF_TEST_UNHOLD:
		return do_unhold(uarg);
	case DMABUF_TEST_REATTACH:
		return do_reattach((int)uarg);
	case DMABUF_TEST_HEAP_ADD:
		return do_heap_add();
	case DMABUF_TEST_DETACH_MAPPED:
		return do_detach_mapped((int)uarg);
	case DMABUF_TEST_MISUSE: {
		struct dmabuf_test_misuse arg;

		if (copy_from_user(&arg, up, sizeof(arg)))
			return -EFAULT;
		return do_misuse(&arg);
	}
	case DMABUF_TEST_HELD_DEVICE: {
		struct dmabuf_test_device arg;
		long ret;

		if (copy_from_user(&arg, up, sizeof(arg)))
			return -EFAULT;
		ret = do_held_device(&arg);
		if (!ret && copy_to_user(up, &arg, sizeof(arg)))
			return -EFAULT;
		return ret;
	}
	}
	return -ENOTTY;
}

/*
 * mmap of /dev/dmabuf_test at page offset N maps the buffer held in slot N
 * with dma_buf_mmap(), as a driver maps an imported buffer for its users.
 */
static int test_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long slot = vma->vm_pgoff;
	int ret = -ENOENT;

	if (slot >= HOLD_SLOTS)
		return -EINVAL;
	mutex_lock(&held_lock);
	if (held[slot].buf)
		ret = dma_buf_mmap(held[slot].buf, vma, 0);
	mutex_unlock(&held_lock);
	return ret;
}

static const struct file_operations test_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = test_ioctl,
	.mmap = test_dev_mmap,
};

static struct device_dma_parameters test_dma_parms;

static struct miscdevice test_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabuf_test",
	.fops = &test_fops,
};

static int __init test_init(void)
{
	int ret = misc_register(&test_misc);

	if (ret)
		return ret;
	ret = dma_coerce_mask_and_coherent(test_misc.this_device, DMA_BIT_MASK(64));
	if (ret) {
		misc_deregister(&test_misc);
		return ret;
	}
	/* Like a device that can take a contiguous buffer in one segment. */
	test_misc.this_device->dma_parms = &test_dma_parms;
	dma_set_max_seg_size(test_misc.this_device, UINT_MAX);
	return 0;
}

static void __exit test_exit(void)
{
	struct dmabuf_test_misuse drop = { .kind = DMABUF_TEST_DROP_VMAP };
	int i;

	do_misuse(&drop);
	for (i = 0; i < HOLD_SLOTS; i++)
		if (held[i].buf)
			unhold(&held[i]);
	test_misc.this_device->dma_parms = NULL;
	misc_deregister(&test_misc);
}

/* Tells userspace whether importers should see page links (read-only). */
static bool dmabuf_debug = IS_ENABLED(CONFIG_DMABUF_DEBUG);
module_param(dmabuf_debug, bool, 0444);
MODULE_PARM_DESC(dmabuf_debug, "the kernel has CONFIG_DMABUF_DEBUG (read-only)");

module_init(test_init);
module_exit(test_exit);
MODULE_DESCRIPTION("dma-buf C ABI test exporter and importer");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
MODULE_IMPORT_NS("DMA_BUF_HEAP");
