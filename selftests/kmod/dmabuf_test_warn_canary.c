// SPDX-License-Identifier: GPL-2.0
/*
 * Canaries of the debug kernels' detectors: loaded with bug=NAME, the
 * module makes the bug NAME on purpose, and the detector that should see
 * it must make vm-run fail (125) with its report (selftests/run-all.sh,
 * "the detectors fire"). A detector that stays silent here would stay
 * silent on a real bug of the core.
 *
 *   leak     an allocation nobody frees                        kmemleak
 *   uaf      a read after kfree()                              KASAN
 *   lockdep  two locks taken in both orders                    lockdep
 *   list     a list entry added twice                          DEBUG_LIST
 *   ubsan    an array index past the end                       UBSAN
 *   hung     70 s in D state (the hung-task timeout is 30 s)   hung task
 *
 * Each loads once it made its bug (a module that refuses to load is
 * loaded a second time by busybox's insmod); DEBUG_SG's canary, which
 * stops with BUG(), is dmabuf_test_warn_sg.c.
 */
#include <linux/delay.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "the bug to make: leak, uaf, lockdep, list, ubsan or hung");

/* Volatile: the compiler may not drop the allocation. */
static void *volatile leaked;
static DEFINE_MUTEX(canary_a);
static DEFINE_MUTEX(canary_b);
/* Out of the compiler's sight, so that nothing is folded away. */
static volatile int canary_index = 4;

static int canary_uaf(void)
{
	char *p = kmalloc(32, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	kfree(p);
	return READ_ONCE(p[canary_index]);
}

static void canary_lockdep(void)
{
	mutex_lock(&canary_a);
	mutex_lock(&canary_b);
	mutex_unlock(&canary_b);
	mutex_unlock(&canary_a);
	mutex_lock(&canary_b);
	mutex_lock(&canary_a);
	mutex_unlock(&canary_a);
	mutex_unlock(&canary_b);
}

static void canary_list(void)
{
	LIST_HEAD(head);
	struct list_head e;

	list_add(&e, &head);
	list_add(&e, &head);
	INIT_LIST_HEAD(&head);
}

static int canary_ubsan(void)
{
	int a[4] = { 1, 2, 3, 4 };

	return a[canary_index];
}

static int __init canary_init(void)
{
	if (!strcmp(bug, "leak")) {
		leaked = kmalloc(64, GFP_KERNEL);
		leaked = NULL;
	} else if (!strcmp(bug, "uaf")) {
		pr_info("dmabuf_test_warn_canary: read %d after free\n", canary_uaf());
	} else if (!strcmp(bug, "lockdep")) {
		canary_lockdep();
	} else if (!strcmp(bug, "list")) {
		canary_list();
	} else if (!strcmp(bug, "ubsan")) {
		pr_info("dmabuf_test_warn_canary: a[4] is %d\n", canary_ubsan());
	} else if (!strcmp(bug, "hung")) {
		msleep(70 * 1000);
	} else {
		return -EINVAL;
	}
	return 0;
}

static void __exit canary_exit(void)
{
}

module_init(canary_init);
module_exit(canary_exit);
MODULE_DESCRIPTION("Deliberate bugs, one per debug detector, to prove each one fires");
MODULE_LICENSE("GPL");
