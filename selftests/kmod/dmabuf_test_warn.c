// SPDX-License-Identifier: GPL-2.0
/* Triggers a WARN on load: vm-run must report it and fail. */
#include <linux/bug.h>
#include <linux/module.h>

static int __init warn_init(void)
{
	WARN(1, "dmabuf_test_warn: deliberate warning\n");
	return 0;
}

static void __exit warn_exit(void)
{
}

module_init(warn_init);
module_exit(warn_exit);
MODULE_DESCRIPTION("Deliberate WARN to test the VM runner");
MODULE_LICENSE("GPL");
