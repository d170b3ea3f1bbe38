/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of the sys/glue.c wrappers; Rust declares them in sys.rs. */
#ifndef DMABUF_RS_GLUE_H
#define DMABUF_RS_GLUE_H

#include <linux/dma-buf.h>
#include <linux/poll.h>

struct cma;
struct dmem_cgroup_pool_state;
struct dmem_cgroup_region;
struct obj_cgroup;

struct dmabuf_rs_owner;

void dmabuf_rs_fence_put(struct dma_fence *fence);
extern bool dmabuf_rs_debug_misuse;
int dmabuf_rs_ledger_init(void);
u32 dmabuf_rs_stack_save(void);
void dmabuf_rs_stack_print(u32 handle);
void dmabuf_rs_current_owner(struct dmabuf_rs_owner *o);
struct dma_fence *dmabuf_rs_fence_get(struct dma_fence *fence);
void dmabuf_rs_resv_assert_held(struct dma_resv *resv);
void dmabuf_rs_resv_might_lock(struct dma_resv *resv);
long dmabuf_rs_file_count(struct file *file);
bool dmabuf_rs_file_ref_get(struct file *file);
__poll_t dmabuf_rs_poll_requested_events(poll_table *pt);
unsigned long dmabuf_rs_wq_lock_irqsave(wait_queue_head_t *wq);
void dmabuf_rs_wq_unlock_irqrestore(wait_queue_head_t *wq, unsigned long f);
void dmabuf_rs_wake_up_locked_poll(wait_queue_head_t *wq, __poll_t events);
void dmabuf_rs_init_waitqueue_head(wait_queue_head_t *wq);
void dmabuf_rs_spin_lock_init(spinlock_t *lock);
unsigned long dmabuf_rs_vma_pages(struct vm_area_struct *vma);
void dmabuf_rs_vm_flags_set(struct vm_area_struct *vma, unsigned long flags);
void *dmabuf_rs_kzalloc(size_t size);
void *dmabuf_rs_kzalloc_64(void);
void *dmabuf_rs_kzalloc_128(void);
void *dmabuf_rs_kzalloc_512(void);
extern struct mutex dmabuf_rs_list_mutex;
extern struct list_head dmabuf_rs_list;
int dmabuf_rs_list_lock_interruptible(void);
void dmabuf_rs_list_add(struct list_head *entry, struct list_head *head);
void dmabuf_rs_list_del(struct list_head *entry);
void dmabuf_rs_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			   unsigned int offset);
void *dmabuf_rs_vmap_pages(struct page **pages, unsigned int count, bool decrypted);
pgprot_t dmabuf_rs_pgprot_decrypted(pgprot_t prot);
int dmabuf_rs_set_pages_decrypted(struct page *page, int count, bool decrypted);
unsigned int dmabuf_rs_iminor(struct inode *inode);
unsigned long dmabuf_rs_page_to_pfn(struct page *page);
void *dmabuf_rs_page_address(struct page *page);
unsigned long dmabuf_rs_page_private(struct page *page);
void dmabuf_rs_set_page_private(struct page *page, unsigned long private);
struct cma *dmabuf_rs_default_cma(void);
void dmabuf_rs_sync_for_cpu(struct device *dev, struct sg_table *sgt,
			    enum dma_data_direction dir);
void dmabuf_rs_sync_for_device(struct device *dev, struct sg_table *sgt,
			       enum dma_data_direction dir);
#if IS_ENABLED(CONFIG_KUNIT)
int dmabuf_rs_dma_coerce_mask_64(struct device *dev);
#endif
bool dmabuf_rs_fatal_signal_pending(void);
unsigned int dmabuf_rs_cma_alignment(void);
bool dmabuf_rs_mem_accounting(void);
unsigned long dmabuf_rs_page_pool_size(void);
bool dmabuf_rs_page_pool_zero_at_free(void);
void dmabuf_rs_cond_resched(void);
void dmabuf_rs_params_lock(void);
void dmabuf_rs_params_unlock(void);
/* heaps/exports.rs */
void dmabuf_rs_page_pool_resized(void);
u32 dmabuf_rs_charge_policy(const char *heap);
struct dmem_cgroup_region *dmabuf_rs_dmem_register(u64 size, const char *kind,
						   const char *name);
void dmabuf_rs_dmem_unregister(struct dmem_cgroup_region *region);
int dmabuf_rs_dmem_try_charge(struct dmem_cgroup_region *region, u64 size,
			      struct dmem_cgroup_pool_state **pool);
void dmabuf_rs_dmem_uncharge(struct dmem_cgroup_pool_state *pool, u64 size);
u64 dmabuf_rs_total_ram(void);
struct obj_cgroup *dmabuf_rs_memcg_charge(size_t size);
void dmabuf_rs_memcg_uncharge(struct obj_cgroup *objcg, size_t size);
int dmabuf_rs_memcg_charge_more(struct obj_cgroup *objcg, size_t size);
bool dmabuf_rs_cc_shared_heap(void);
#ifndef CONFIG_MODULE_UNLOAD
bool dmabuf_rs_try_module_get(struct module *module);
void dmabuf_rs_module_get(struct module *module);
void dmabuf_rs_module_put(struct module *module);
#endif
struct file *dmabuf_rs_sync_file_create(struct dma_fence *fence);
void dmabuf_rs_sg_set_dma_only(struct scatterlist *sg, dma_addr_t addr, unsigned int len);

void dmabuf_rs_vunmap(const void *addr);
void dmabuf_rs_invalidate_kernel_vmap_range(void *vaddr, int size);
void dmabuf_rs_flush_kernel_vmap_range(void *vaddr, int size);
int dmabuf_rs_init_pseudo(struct fs_context *fc, unsigned long magic,
			  const struct dentry_operations *dops);

#endif
