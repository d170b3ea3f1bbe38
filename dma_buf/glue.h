/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of the glue.c helpers; the Rust side declares the same
 * functions in ffi.rs.
 */
#ifndef DMABUF_RS_GLUE_H
#define DMABUF_RS_GLUE_H

#include <linux/dma-buf.h>
#include <linux/poll.h>
#include <linux/seq_file.h>

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
void dmabuf_rs_sg_set_dma_only(struct scatterlist *sg, dma_addr_t addr, unsigned int len);
void *dmabuf_rs_vmap_pages(struct page **pages, unsigned int count);
void dmabuf_rs_vunmap(const void *addr);
int dmabuf_rs_bufinfo_show(struct seq_file *s, void *unused);

#endif
