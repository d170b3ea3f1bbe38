// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the Rust dma-buf core: the symbol exports (the functions are
 * defined in Rust, see exports.rs) and one-line wrappers of static inline
 * functions and macros that the Rust bindings cannot call. No policy lives
 * here.
 */

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-unwrap.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/pseudo_fs.h>
#include <linux/seq_file.h>
#include <linux/sync_file.h>
#include <linux/cdev.h>
#include <linux/cma.h>
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-heap.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/vmalloc.h>
#include <uapi/linux/magic.h>

#include "glue.h"

EXPORT_SYMBOL_NS_GPL(dma_buf_export, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_fd, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_fd_install, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_get, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_put, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_dynamic_attach, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_attach, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_detach, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_pin, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_unpin, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_map_attachment, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_map_attachment_unlocked, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_unmap_attachment, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_unmap_attachment_unlocked, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_attach_revocable, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_invalidate_mappings, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_begin_cpu_access, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_end_cpu_access, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_mmap, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_vmap, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_vmap_unlocked, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_vunmap, "DMA_BUF");
EXPORT_SYMBOL_NS_GPL(dma_buf_vunmap_unlocked, "DMA_BUF");

/* The Rust mirror of struct dma_fence_unwrap (ffi/fence.rs) has this size. */
static_assert(sizeof(struct dma_fence_unwrap) == 3 * sizeof(void *));

void dmabuf_rs_fence_put(struct dma_fence *fence)
{
	dma_fence_put(fence);
}

struct dma_fence *dmabuf_rs_fence_get(struct dma_fence *fence)
{
	return dma_fence_get(fence);
}

/* Returns the new sync_file's file, or NULL. */
struct file *dmabuf_rs_sync_file_create(struct dma_fence *fence)
{
	struct sync_file *sync_file = sync_file_create(fence);

	return sync_file ? sync_file->file : NULL;
}

unsigned int dmabuf_rs_resv_usage_rw(bool write)
{
	return dma_resv_usage_rw(write);
}

void dmabuf_rs_resv_assert_held(struct dma_resv *resv)
{
	dma_resv_assert_held(resv);
}

void dmabuf_rs_resv_might_lock(struct dma_resv *resv)
{
	might_lock(&resv->lock.base);
}

int dmabuf_rs_resv_lock_interruptible(struct dma_resv *resv)
{
	return dma_resv_lock_interruptible(resv, NULL);
}

long dmabuf_rs_file_count(struct file *file)
{
	return file_count(file);
}

__poll_t dmabuf_rs_poll_requested_events(poll_table *pt)
{
	return poll_requested_events(pt);
}

/* Atomically claims @dcb for @event under the wait queue lock. */
bool dmabuf_rs_poll_claim(wait_queue_head_t *wq, __poll_t *active, __poll_t event)
{
	bool claimed = false;

	spin_lock_irq(&wq->lock);
	if (!*active) {
		*active = event;
		claimed = true;
	}
	spin_unlock_irq(&wq->lock);
	return claimed;
}

/* Wakes pollers of *@active and clears it, under the wait queue lock. */
void dmabuf_rs_poll_wake(wait_queue_head_t *wq, __poll_t *active)
{
	unsigned long flags;

	spin_lock_irqsave(&wq->lock, flags);
	wake_up_locked_poll(wq, *active);
	*active = 0;
	spin_unlock_irqrestore(&wq->lock, flags);
}

unsigned long dmabuf_rs_vma_pages(struct vm_area_struct *vma)
{
	return vma_pages(vma);
}

void dmabuf_rs_name_lock(struct dma_buf *dmabuf)
{
	spin_lock(&dmabuf->name_lock);
}

void dmabuf_rs_name_unlock(struct dma_buf *dmabuf)
{
	spin_unlock(&dmabuf->name_lock);
}

void dmabuf_rs_dma_buf_init_locks(struct dma_buf *dmabuf)
{
	spin_lock_init(&dmabuf->name_lock);
	init_waitqueue_head(&dmabuf->poll);
}

/* The pseudo file system the dma-buf files live on. */
extern const struct dentry_operations dmabuf_rs_dentry_ops;

static int dmabuf_rs_fs_init_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, DMA_BUF_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->dops = &dmabuf_rs_dentry_ops;
	return 0;
}

static struct file_system_type dmabuf_rs_fs_type = {
	.name = "dmabuf",
	.init_fs_context = dmabuf_rs_fs_init_context,
	.kill_sb = kill_anon_super,
};

struct vfsmount *dmabuf_rs_kern_mount(void)
{
	return kern_mount(&dmabuf_rs_fs_type);
}

/* debugfs dma_buf/bufinfo: the seq_file body is Rust (debugfs.rs). */

static int dmabuf_rs_bufinfo_open(struct inode *inode, struct file *file)
{
	return single_open(file, dmabuf_rs_bufinfo_show, inode->i_private);
}

static const struct file_operations dmabuf_rs_bufinfo_fops = {
	.owner = THIS_MODULE,
	.open = dmabuf_rs_bufinfo_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

struct dentry *dmabuf_rs_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("dma_buf", NULL);

	if (IS_ERR(dir))
		return dir;
	debugfs_create_file("bufinfo", 0444, dir, NULL, &dmabuf_rs_bufinfo_fops);
	return dir;
}

void dmabuf_rs_list_add(struct list_head *entry, struct list_head *head)
{
	list_add(entry, head);
}

void dmabuf_rs_list_del(struct list_head *entry)
{
	list_del(entry);
}

void dmabuf_rs_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			   unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

/* Stores a DMA address and length into @sg and drops its page link. */
void dmabuf_rs_sg_set_dma_only(struct scatterlist *sg, dma_addr_t addr, unsigned int len)
{
	sg->offset = 0;
	sg->length = 0;
	sg_assign_page(sg, NULL);
	sg_dma_address(sg) = addr;
	sg_dma_len(sg) = len;
}

void *dmabuf_rs_vmap_pages(struct page **pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

void dmabuf_rs_vunmap(const void *addr)
{
	vunmap(addr);
}

/* ---- dma-heap: exports, the mem_accounting parameter, the char device. */

EXPORT_SYMBOL_NS_GPL(dma_heap_add, "DMA_BUF_HEAP");
EXPORT_SYMBOL_NS_GPL(dma_heap_get_drvdata, "DMA_BUF_HEAP");
EXPORT_SYMBOL_NS_GPL(dma_heap_get_name, "DMA_BUF_HEAP");

bool __read_mostly mem_accounting;
module_param(mem_accounting, bool, 0444);
MODULE_PARM_DESC(mem_accounting,
		 "Enable cgroup-based memory accounting for dma-buf heap allocations (default=false).");
EXPORT_SYMBOL_NS_GPL(mem_accounting, "DMA_BUF_HEAP");

static char *dmabuf_rs_heap_devnode(const struct device *dev, umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "dma_heap/%s", dev_name(dev));
}

static const struct class dmabuf_rs_heap_class = {
	.name = "dma_heap",
	.devnode = dmabuf_rs_heap_devnode,
};

static dev_t dmabuf_rs_heap_devt;

int dmabuf_rs_heap_chrdev_init(unsigned int minors)
{
	int ret = alloc_chrdev_region(&dmabuf_rs_heap_devt, 0, minors, "dma_heap");

	if (ret)
		return ret;
	ret = class_register(&dmabuf_rs_heap_class);
	if (ret)
		unregister_chrdev_region(dmabuf_rs_heap_devt, minors);
	return ret;
}

void dmabuf_rs_heap_chrdev_exit(unsigned int minors)
{
	class_unregister(&dmabuf_rs_heap_class);
	unregister_chrdev_region(dmabuf_rs_heap_devt, minors);
}

/* cdev_init + cdev_add + device_create of /dev/dma_heap/<name>. */
int dmabuf_rs_heap_device_add(struct cdev *cdev, unsigned int minor, const char *name,
			      const struct file_operations *fops)
{
	dev_t devt = MKDEV(MAJOR(dmabuf_rs_heap_devt), minor);
	struct device *dev;
	int ret;

	cdev_init(cdev, fops);
	ret = cdev_add(cdev, devt, 1);
	if (ret)
		return ret;
	dev = device_create(&dmabuf_rs_heap_class, NULL, devt, NULL, "%s", name);
	if (IS_ERR(dev)) {
		cdev_del(cdev);
		return PTR_ERR(dev);
	}
	return 0;
}

void dmabuf_rs_heap_device_del(struct cdev *cdev, unsigned int minor)
{
	device_destroy(&dmabuf_rs_heap_class, MKDEV(MAJOR(dmabuf_rs_heap_devt), minor));
	cdev_del(cdev);
}

unsigned int dmabuf_rs_iminor(struct inode *inode)
{
	return iminor(inode);
}

/* ---- Pages, CMA, DMA sync and mmap for the heaps. */

unsigned long dmabuf_rs_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

struct page *dmabuf_rs_nth_page(struct page *page, unsigned long n)
{
	return pfn_to_page(page_to_pfn(page) + n);
}

void *dmabuf_rs_page_address(struct page *page)
{
	return page_address(page);
}

struct cma *dmabuf_rs_default_cma(void)
{
	return dev_get_cma_area(NULL);
}

void dmabuf_rs_sync_for_cpu(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_sync_sgtable_for_cpu(dev, sgt, dir);
}

void dmabuf_rs_sync_for_device(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_sync_sgtable_for_device(dev, sgt, dir);
}

unsigned long dmabuf_rs_vma_start(struct vm_area_struct *vma)
{
	return vma->vm_start;
}

unsigned long dmabuf_rs_vma_end(struct vm_area_struct *vma)
{
	return vma->vm_end;
}

bool dmabuf_rs_vma_is_shared(struct vm_area_struct *vma)
{
	return vma->vm_flags & (VM_SHARED | VM_MAYSHARE);
}

void dmabuf_rs_vma_set_pfnmap(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
}

int dmabuf_rs_remap_pfn(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
			unsigned long size)
{
	return remap_pfn_range(vma, addr, pfn, size, vma->vm_page_prot);
}

bool dmabuf_rs_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

gfp_t dmabuf_rs_heap_gfp(bool high_order)
{
	gfp_t low = GFP_HIGHUSER | __GFP_ZERO;
	gfp_t high = ((GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_RECLAIM) |
		     __GFP_COMP;

	return (high_order ? high : low) | (READ_ONCE(mem_accounting) ? __GFP_ACCOUNT : 0);
}

unsigned int dmabuf_rs_cma_alignment(void)
{
	return CONFIG_CMA_ALIGNMENT;
}
