// SPDX-License-Identifier: GPL-2.0
/*
 * C half of the Rust dma-buf core: the symbol exports of the functions
 * defined in entry/exports.rs and heaps/exports.rs, the heap parameter,
 * and one-line wrappers of static inline functions and macros the Rust
 * bindings cannot call (declared in sys.rs). No decision is made here.
 */

#include <linux/cc_platform.h>
#include <linux/cgroup.h>
#include <linux/cgroup_dmem.h>
#include <linux/cma.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-unwrap.h>
#include <linux/dma-heap.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/pseudo_fs.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>
#include <linux/set_memory.h>
#include <linux/sync_file.h>
#include <linux/vmalloc.h>

#include "glue.h"

/*
 * The dma_buf:* trace events of the C core, from its own header: each
 * gets its tracepoint here and a rust_do_trace_<event>() that
 * sys/trace.rs calls once it has seen the event enabled.
 */
#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include <trace/events/dma_buf.h>

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

#ifdef CONFIG_DMABUF_HEAPS
EXPORT_SYMBOL_NS_GPL(dma_heap_add, "DMA_BUF_HEAP");
EXPORT_SYMBOL_NS_GPL(dma_heap_get_drvdata, "DMA_BUF_HEAP");
EXPORT_SYMBOL_NS_GPL(dma_heap_get_name, "DMA_BUF_HEAP");

/*
 * Built in, the heap parameter keeps upstream's name (dma-heap.c's
 * KBUILD_MODNAME): dma_heap.mem_accounting on the command line and in
 * /sys/module/dma_heap/parameters. A module's parameters are named after
 * the module: dmabuf_rs.mem_accounting.
 */
#ifndef MODULE
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "dma_heap."
#endif
bool __read_mostly mem_accounting;
module_param(mem_accounting, bool, 0444);
MODULE_PARM_DESC(mem_accounting,
		 "Enable cgroup-based memory accounting for dma-buf heap allocations (default=false).");
EXPORT_SYMBOL_NS_GPL(mem_accounting, "DMA_BUF_HEAP");

/*
 * The system heap's pool of zeroed pages (heaps/pool.rs; not upstream,
 * off by default): page_pool_size caps it in pages, as TTM's parameter of
 * that name caps its pools; 0 keeps upstream's behaviour, where freed
 * pages go straight back to the page allocator. page_pool_zero_at_free
 * zeroes pages as their buffer is freed instead of in a background work
 * item. Both are read at each allocation and free; lowering the cap
 * frees the excess at once.
 */
static unsigned long page_pool_size;

/* Lets the pool give back what it holds beyond a lowered cap at once. */
static int page_pool_size_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_ulong(val, kp);

	if (!ret && IS_ENABLED(CONFIG_DMABUF_HEAPS_SYSTEM))
		dmabuf_rs_page_pool_resized();
	return ret;
}

static const struct kernel_param_ops page_pool_size_ops = {
	.set = page_pool_size_set,
	.get = param_get_ulong,
};
module_param_cb(page_pool_size, &page_pool_size_ops, &page_pool_size, 0644);
MODULE_PARM_DESC(page_pool_size,
		 "Pages of zeroed memory the system heap keeps for its next allocations (default=0, no pool).");
static bool page_pool_zero_at_free;
module_param(page_pool_zero_at_free, bool, 0644);
MODULE_PARM_DESC(page_pool_zero_at_free,
		 "Zero pages going to the system heap's pool when their buffer is freed, not in the background (default=false).");

unsigned long dmabuf_rs_page_pool_size(void)
{
	return READ_ONCE(page_pool_size);
}

bool dmabuf_rs_page_pool_zero_at_free(void)
{
	return READ_ONCE(page_pool_zero_at_free);
}

void dmabuf_rs_cond_resched(void)
{
	cond_resched();
}

/*
 * Holds off this module's parameter callbacks (a write to a parameter
 * runs its set under this lock), for the pool's teardown at module exit:
 * exit runs before the parameters' sysfs files go.
 */
void dmabuf_rs_params_lock(void)
{
	kernel_param_lock(THIS_MODULE);
}

void dmabuf_rs_params_unlock(void)
{
	kernel_param_unlock(THIS_MODULE);
}

/*
 * Which cgroup controllers a heap's buffers are charged to (issue 21):
 * dma_heap.charge built in, dmabuf_rs.charge as a module, a list of
 * heap:policy separated by commas, policy none, memcg, dmem or both, e.g.
 * "system:both,default_cma_region:dmem". A heap not listed is charged as
 * upstream charges it (nothing, or memcg for the system heaps with
 * mem_accounting). Writable at run time: a buffer uncharges at release
 * what it was charged at allocation (heaps/charge.rs).
 */
#define CHARGE_MAX_HEAPS 8
#define CHARGE_HEAP_NAME 32
struct charge_entry {
	char heap[CHARGE_HEAP_NAME];
	u32 policy;
};
static const char *const charge_policies[] = { "none", "memcg", "dmem", "both" };
static DEFINE_SPINLOCK(charge_lock);
static struct charge_entry charge_table[CHARGE_MAX_HEAPS];
static unsigned int charge_count;

/*
 * Built in, this runs while the command line is parsed, before the slab
 * allocator exists: the copy to cut up is on the stack.
 */
static int charge_set(const char *val, const struct kernel_param *kp)
{
	struct charge_entry table[CHARGE_MAX_HEAPS] = {};
	char copy[CHARGE_MAX_HEAPS * (CHARGE_HEAP_NAME + 6)];
	char *rest, *item;
	unsigned int n = 0;

	if (strscpy(copy, val) < 0)
		goto invalid;
	/* Trimmed (sysfs writes end in a newline); empty is the empty list. */
	rest = strim(copy);
	if (!*rest)
		rest = NULL;
	while ((item = strsep(&rest, ","))) {
		char *policy = strchr(item, ':');
		int p;

		if (!policy || policy == item || n == CHARGE_MAX_HEAPS ||
		    policy - item >= CHARGE_HEAP_NAME)
			goto invalid;
		*policy++ = '\0';
		p = match_string(charge_policies, ARRAY_SIZE(charge_policies), policy);
		if (p < 0)
			goto invalid;
		strscpy(table[n].heap, item);
		table[n++].policy = p;
	}
	spin_lock(&charge_lock);
	memcpy(charge_table, table, sizeof(table));
	WRITE_ONCE(charge_count, n);
	spin_unlock(&charge_lock);
	return 0;

invalid:
	pr_warn("dma_heap: charge: expected heap:none|memcg|dmem|both[,...] (at most %d heaps, names under %d bytes)\n",
		CHARGE_MAX_HEAPS, CHARGE_HEAP_NAME);
	return -EINVAL;
}

static int charge_get(char *buf, const struct kernel_param *kp)
{
	unsigned int i;
	int len = 0;

	spin_lock(&charge_lock);
	for (i = 0; i < charge_count; i++)
		len += scnprintf(buf + len, PAGE_SIZE - len, "%s%s:%s", i ? "," : "",
				 charge_table[i].heap, charge_policies[charge_table[i].policy]);
	spin_unlock(&charge_lock);
	return len + scnprintf(buf + len, PAGE_SIZE - len, "\n");
}

static const struct kernel_param_ops charge_ops = {
	.set = charge_set,
	.get = charge_get,
};
module_param_cb(charge, &charge_ops, NULL, 0644);
MODULE_PARM_DESC(charge,
		 "Charge heaps' buffers to cgroups: heap:none|memcg|dmem|both[,...] (default: none listed).");

/* The policy of the heap @heap (0 none, 1 memcg, 2 dmem, 3 both). */
u32 dmabuf_rs_charge_policy(const char *heap)
{
	unsigned int i;
	u32 policy = 0;

	/* The default, nothing listed: one load on every ALLOC. */
	if (!READ_ONCE(charge_count))
		return 0;
	spin_lock(&charge_lock);
	for (i = 0; i < charge_count; i++) {
		if (!strcmp(charge_table[i].heap, heap)) {
			policy = charge_table[i].policy;
			break;
		}
	}
	spin_unlock(&charge_lock);
	return policy;
}

/*
 * Debug kernels only (DMABUF_DEBUG): register the system_cc_shared heap
 * although memory is not encrypted, so that its paths (decrypting,
 * mapping decrypted, re-encrypting) run in an ordinary guest, where they
 * change nothing. Upstream has no such parameter.
 */
#if IS_ENABLED(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED) && IS_ENABLED(CONFIG_DMABUF_DEBUG)
static bool cc_shared_heap_unencrypted;
module_param(cc_shared_heap_unencrypted, bool, 0444);
MODULE_PARM_DESC(cc_shared_heap_unencrypted,
		 "Register system_cc_shared without memory encryption (testing; default=false).");
#endif
#endif

/*
 * The misuse detector of the ownership ledger (dma_buf/ledger.rs):
 * dma_buf.debug_misuse built in, dmabuf_rs.debug_misuse as a module. Read
 * at boot or load only: the stacks it saves need stackdepot, which is
 * initialized then (dmabuf_rs_ledger_init).
 */
#ifndef MODULE
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "dma_buf."
#endif
bool __read_mostly dmabuf_rs_debug_misuse;
module_param_named(debug_misuse, dmabuf_rs_debug_misuse, bool, 0444);
MODULE_PARM_DESC(debug_misuse,
		 "Save the stacks of attach, map, vmap and begin_cpu_access and report importers that leave them unbalanced (default=false).");

int dmabuf_rs_ledger_init(void)
{
	if (IS_ENABLED(CONFIG_STACKDEPOT) && READ_ONCE(dmabuf_rs_debug_misuse))
		return stack_depot_init();
	return 0;
}

u32 dmabuf_rs_stack_save(void)
{
#ifdef CONFIG_STACKDEPOT
	unsigned long entries[16];
	unsigned int n;

	/* Skips this function and the ledger's caller of it. */
	n = stack_trace_save(entries, ARRAY_SIZE(entries), 2);
	return stack_depot_save(entries, n, GFP_NOWAIT | __GFP_NOWARN);
#else
	return 0;
#endif
}

void dmabuf_rs_stack_print(u32 handle)
{
	if (IS_ENABLED(CONFIG_STACKDEPOT) && handle)
		stack_depot_print(handle);
	else
		pr_warn("  (no stack saved)\n");
}

/* The Rust mirror is Owner in sys/ledger.rs (packed to 4 there too). */
struct dmabuf_rs_owner {
	u64 cgroup;
	u64 when_ns;
	s32 tgid;
	char comm[TASK_COMM_LEN];
} __packed __aligned(4);
static_assert(sizeof(struct dmabuf_rs_owner) == 36);

/*
 * Every export records this, so it is kept to a few dozen instructions:
 * the name is copied whole (another thread may rename the task through
 * /proc at the same moment; both names end in NUL at comm[15], so the
 * copy does too, and a mixed name is harmless in a record), not through
 * get_task_comm()'s strscpy_pad(), and the time is the coarse boot time
 * (the last tick's, no clocksource read): a record's time need not be
 * finer than a tick.
 */
void dmabuf_rs_current_owner(struct dmabuf_rs_owner *o)
{
	o->tgid = task_tgid_nr(current);
	BUILD_BUG_ON(sizeof(o->comm) != sizeof(current->comm));
	data_race(memcpy(o->comm, current->comm, sizeof(o->comm)));
	o->when_ns = ktime_get_coarse_boottime_ns();
#ifdef CONFIG_CGROUPS
	rcu_read_lock();
	o->cgroup = cgroup_id(task_dfl_cgroup(current));
	rcu_read_unlock();
#endif
}

/* The Rust mirror of struct dma_fence_unwrap (sys/fence.rs) has this size. */
static_assert(sizeof(struct dma_fence_unwrap) == 3 * sizeof(void *));

void dmabuf_rs_fence_put(struct dma_fence *fence)
{
	dma_fence_put(fence);
}

struct dma_fence *dmabuf_rs_fence_get(struct dma_fence *fence)
{
	return dma_fence_get(fence);
}

void dmabuf_rs_resv_assert_held(struct dma_resv *resv)
{
	dma_resv_assert_held(resv);
}

void dmabuf_rs_resv_might_lock(struct dma_resv *resv)
{
	might_lock(&resv->lock.base);
}

long dmabuf_rs_file_count(struct file *file)
{
	return file_count(file);
}

bool dmabuf_rs_file_ref_get(struct file *file)
{
	return file_ref_get(&file->f_ref);
}

__poll_t dmabuf_rs_poll_requested_events(poll_table *pt)
{
	return poll_requested_events(pt);
}

unsigned long dmabuf_rs_wq_lock_irqsave(wait_queue_head_t *wq)
{
	unsigned long f;

	spin_lock_irqsave(&wq->lock, f);
	return f;
}

void dmabuf_rs_wq_unlock_irqrestore(wait_queue_head_t *wq, unsigned long f)
{
	spin_unlock_irqrestore(&wq->lock, f);
}

void dmabuf_rs_wake_up_locked_poll(wait_queue_head_t *wq, __poll_t events)
{
	wake_up_locked_poll(wq, events);
}

void dmabuf_rs_init_waitqueue_head(wait_queue_head_t *wq)
{
	init_waitqueue_head(wq);
}

void dmabuf_rs_spin_lock_init(spinlock_t *lock)
{
	spin_lock_init(lock);
}

unsigned long dmabuf_rs_vma_pages(struct vm_area_struct *vma)
{
	return vma_pages(vma);
}

void dmabuf_rs_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vm_flags_set(vma, flags);
}

void *dmabuf_rs_kzalloc(size_t size)
{
	return kzalloc(size, GFP_KERNEL);
}

/* A constant size lets kzalloc() pick its kmalloc cache at compile time. */
void *dmabuf_rs_kzalloc_64(void)
{
	return kzalloc(64, GFP_KERNEL);
}

void *dmabuf_rs_kzalloc_128(void)
{
	return kzalloc(128, GFP_KERNEL);
}

void *dmabuf_rs_kzalloc_512(void)
{
	return kzalloc(512, GFP_KERNEL);
}

/*
 * The list of live buffers and its lock (sys/buf_list.rs), here so that
 * they are initialized at build time and the lock can be taken
 * interruptibly (bufinfo, as dma_buf_debug_show).
 */
DEFINE_MUTEX(dmabuf_rs_list_mutex);
LIST_HEAD(dmabuf_rs_list);

int dmabuf_rs_list_lock_interruptible(void)
{
	return mutex_lock_interruptible(&dmabuf_rs_list_mutex);
}

void dmabuf_rs_list_add(struct list_head *entry, struct list_head *head)
{
	list_add(entry, head);
}

void dmabuf_rs_list_del(struct list_head *entry)
{
	list_del(entry);
}

#ifdef CONFIG_DEBUG_SG
/* Rust sets entries inline; this keeps sg_set_page()'s checks when asked. */
void dmabuf_rs_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			   unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}
#endif

void *dmabuf_rs_vmap_pages(struct page **pages, unsigned int count, bool decrypted)
{
	return vmap(pages, count, VM_MAP, decrypted ? pgprot_decrypted(PAGE_KERNEL) : PAGE_KERNEL);
}

pgprot_t dmabuf_rs_pgprot_decrypted(pgprot_t prot)
{
	return pgprot_decrypted(prot);
}

int dmabuf_rs_set_pages_decrypted(struct page *page, int count, bool decrypted)
{
	unsigned long addr = (unsigned long)page_address(page);

	return decrypted ? set_memory_decrypted(addr, count) : set_memory_encrypted(addr, count);
}

void dmabuf_rs_vunmap(const void *addr)
{
	vunmap(addr);
}

void dmabuf_rs_invalidate_kernel_vmap_range(void *vaddr, int size)
{
	invalidate_kernel_vmap_range(vaddr, size);
}

void dmabuf_rs_flush_kernel_vmap_range(void *vaddr, int size)
{
	flush_kernel_vmap_range(vaddr, size);
}

unsigned int dmabuf_rs_iminor(struct inode *inode)
{
	return iminor(inode);
}

unsigned long dmabuf_rs_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

void *dmabuf_rs_page_address(struct page *page)
{
	return page_address(page);
}

unsigned long dmabuf_rs_page_private(struct page *page)
{
	return page_private(page);
}

void dmabuf_rs_set_page_private(struct page *page, unsigned long private)
{
	set_page_private(page, private);
}

#if IS_ENABLED(CONFIG_DMABUF_HEAPS_CMA)
struct cma *dmabuf_rs_default_cma(void)
{
	return dev_get_cma_area(NULL);
}
#endif

void dmabuf_rs_sync_for_cpu(struct device *dev, struct sg_table *sgt,
			    enum dma_data_direction dir)
{
	dma_sync_sgtable_for_cpu(dev, sgt, dir);
}

void dmabuf_rs_sync_for_device(struct device *dev, struct sg_table *sgt,
			       enum dma_data_direction dir)
{
	dma_sync_sgtable_for_device(dev, sgt, dir);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* A faux device of a KUnit case: let it DMA-map anything. */
int dmabuf_rs_dma_coerce_mask_64(struct device *dev)
{
	return dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
}
#endif

bool dmabuf_rs_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

#if IS_ENABLED(CONFIG_DMABUF_HEAPS_CMA)
unsigned int dmabuf_rs_cma_alignment(void)
{
	return CONFIG_CMA_ALIGNMENT;
}
#endif

#ifndef CONFIG_MODULE_UNLOAD
/* Static inline without module unloading (otherwise Rust calls them). */
bool dmabuf_rs_try_module_get(struct module *module)
{
	return try_module_get(module);
}

void dmabuf_rs_module_get(struct module *module)
{
	__module_get(module);
}

void dmabuf_rs_module_put(struct module *module)
{
	module_put(module);
}
#endif

#ifdef CONFIG_DMABUF_HEAPS
bool dmabuf_rs_mem_accounting(void)
{
	return READ_ONCE(mem_accounting);
}

/*
 * The dmem controller (include/linux/cgroup_dmem.h): without
 * CONFIG_CGROUP_DMEM its functions are inline stubs (no region, every
 * charge succeeds and charges nothing), hence these wrappers.
 */
struct dmem_cgroup_region *dmabuf_rs_dmem_register(u64 size, const char *kind,
						   const char *name)
{
	struct dmem_cgroup_init init = { .size = size };

	return dmem_cgroup_register_region(&init, "%s/%s", kind, name);
}

void dmabuf_rs_dmem_unregister(struct dmem_cgroup_region *region)
{
	dmem_cgroup_unregister_region(region);
}

int dmabuf_rs_dmem_try_charge(struct dmem_cgroup_region *region, u64 size,
			      struct dmem_cgroup_pool_state **pool)
{
	return dmem_cgroup_try_charge(region, size, pool, NULL);
}

void dmabuf_rs_dmem_uncharge(struct dmem_cgroup_pool_state *pool, u64 size)
{
	dmem_cgroup_uncharge(pool, size);
}

/* Bytes of the page allocator, the system heaps' dmem capacity. */
u64 dmabuf_rs_total_ram(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

/*
 * Charges @size bytes to the calling task's memory cgroup as kernel
 * memory (memory.current, "kernel" in memory.stat), as __GFP_ACCOUNT
 * charges the system heap's pages: the cgroup's object (with a reference
 * the uncharge drops), NULL when kernel memory is not accounted, or
 * ERR_PTR(-ENOMEM) at the cgroup's limit.
 */
struct obj_cgroup *dmabuf_rs_memcg_charge(size_t size)
{
#ifdef CONFIG_MEMCG
	struct obj_cgroup *objcg;

	if (!memcg_kmem_online())
		return NULL;
	objcg = get_obj_cgroup_from_current();
	if (!objcg)
		return NULL;
	if (obj_cgroup_charge(objcg, GFP_KERNEL, size)) {
		obj_cgroup_put(objcg);
		return ERR_PTR(-ENOMEM);
	}
	return objcg;
#else
	return NULL;
#endif
}

/* Charges @size more bytes to @objcg: 0 or -ENOMEM at its limit. */
int dmabuf_rs_memcg_charge_more(struct obj_cgroup *objcg, size_t size)
{
#ifdef CONFIG_MEMCG
	return obj_cgroup_charge(objcg, GFP_KERNEL, size);
#else
	return 0;
#endif
}

void dmabuf_rs_memcg_uncharge(struct obj_cgroup *objcg, size_t size)
{
#ifdef CONFIG_MEMCG
	obj_cgroup_uncharge(objcg, size);
	obj_cgroup_put(objcg);
#endif
}

#if IS_ENABLED(CONFIG_DMABUF_HEAPS_SYSTEM_CC_SHARED)
bool dmabuf_rs_cc_shared_heap(void)
{
	if (IS_ENABLED(CONFIG_HIGHMEM))
		return false;
#if IS_ENABLED(CONFIG_DMABUF_DEBUG)
	if (READ_ONCE(cc_shared_heap_unencrypted))
		return true;
#endif
	return cc_platform_has(CC_ATTR_MEM_ENCRYPT);
}
#endif
#endif

/* sync_file_create() returns the sync_file; Rust wants its file (or NULL). */
struct file *dmabuf_rs_sync_file_create(struct dma_fence *fence)
{
	struct sync_file *sync_file = sync_file_create(fence);

	return sync_file ? sync_file->file : NULL;
}

/* init_pseudo() with the file system's dentry operations. */
int dmabuf_rs_init_pseudo(struct fs_context *fc, unsigned long magic,
			  const struct dentry_operations *dops)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, magic);

	if (!ctx)
		return -ENOMEM;
	ctx->dops = dops;
	return 0;
}

/* The DMABUF_DEBUG copy: a DMA address and length, no page link. */
void dmabuf_rs_sg_set_dma_only(struct scatterlist *sg, dma_addr_t addr, unsigned int len)
{
	sg->offset = 0;
	sg->length = 0;
	sg_assign_page(sg, NULL);
	sg_dma_address(sg) = addr;
	sg_dma_len(sg) = len;
}

#ifndef MODULE
/*
 * Built in, the core starts at subsys_initcall, the level of the C core's
 * dma_buf_init() and dma_heap_init(), so that built-in users of the API
 * (any driver's module_init, at device_initcall) find it ready; see
 * dmabuf_rs_builtin_init() in dmabuf_rs_main.rs.
 */
int dmabuf_rs_builtin_init(void);

static int __init dmabuf_rs_subsys_init(void)
{
	return dmabuf_rs_builtin_init();
}
subsys_initcall(dmabuf_rs_subsys_init);
#endif
