/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of the glue.c helpers; the Rust side declares the same
 * functions in ffi.rs.
 */
#ifndef DMABUF_RS_GLUE_H
#define DMABUF_RS_GLUE_H

#include <linux/cdev.h>
#include <linux/dma-buf.h>
#include <linux/poll.h>
#include <linux/seq_file.h>

struct cma;

void dmabuf_rs_fence_put(struct dma_fence *fence);
struct dma_fence *dmabuf_rs_fence_get(struct dma_fence *fence);
struct file *dmabuf_rs_sync_file_create(struct dma_fence *fence);
unsigned int dmabuf_rs_resv_usage_rw(bool write);
void dmabuf_rs_resv_assert_held(struct dma_resv *resv);
void dmabuf_rs_resv_might_lock(struct dma_resv *resv);
int dmabuf_rs_resv_lock_interruptible(struct dma_resv *resv);
long dmabuf_rs_file_count(struct file *file);
__poll_t dmabuf_rs_poll_requested_events(poll_table *pt);
bool dmabuf_rs_poll_claim(wait_queue_head_t *wq, __poll_t *active, __poll_t event);
void dmabuf_rs_poll_wake(wait_queue_head_t *wq, __poll_t *active);
unsigned long dmabuf_rs_vma_pages(struct vm_area_struct *vma);
void dmabuf_rs_name_lock(struct dma_buf *dmabuf);
void dmabuf_rs_name_unlock(struct dma_buf *dmabuf);
void dmabuf_rs_dma_buf_init_locks(struct dma_buf *dmabuf);
struct vfsmount *dmabuf_rs_kern_mount(void);
struct dentry *dmabuf_rs_debugfs_init(void);
void dmabuf_rs_list_add(struct list_head *entry, struct list_head *head);
void dmabuf_rs_list_del(struct list_head *entry);
void dmabuf_rs_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			   unsigned int offset);
void dmabuf_rs_sg_set_dma_only(struct scatterlist *sg, dma_addr_t addr, unsigned int len);
void *dmabuf_rs_vmap_pages(struct page **pages, unsigned int count);
void dmabuf_rs_vunmap(const void *addr);
int dmabuf_rs_heap_chrdev_init(unsigned int minors);
void dmabuf_rs_heap_chrdev_exit(unsigned int minors);
int dmabuf_rs_heap_device_add(struct cdev *cdev, unsigned int minor, const char *name,
			      const struct file_operations *fops);
void dmabuf_rs_heap_device_del(struct cdev *cdev, unsigned int minor);
unsigned int dmabuf_rs_iminor(struct inode *inode);
unsigned long dmabuf_rs_page_to_pfn(struct page *page);
struct page *dmabuf_rs_nth_page(struct page *page, unsigned long n);
void *dmabuf_rs_page_address(struct page *page);
struct cma *dmabuf_rs_default_cma(void);
void dmabuf_rs_sync_for_cpu(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir);
void dmabuf_rs_sync_for_device(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir);
unsigned long dmabuf_rs_vma_start(struct vm_area_struct *vma);
unsigned long dmabuf_rs_vma_end(struct vm_area_struct *vma);
bool dmabuf_rs_vma_is_shared(struct vm_area_struct *vma);
void dmabuf_rs_vma_set_pfnmap(struct vm_area_struct *vma);
int dmabuf_rs_remap_pfn(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
			unsigned long size);
bool dmabuf_rs_fatal_signal_pending(void);
gfp_t dmabuf_rs_heap_gfp(bool high_order);
unsigned int dmabuf_rs_cma_alignment(void);
int dmabuf_rs_bufinfo_show(struct seq_file *s, void *unused);

#endif
