/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection scoped to the calling thread (/proc/thread-self/fail-nth)
 * for the userspace tests: slab and page allocations and user copies,
 * sleeping ones included, without a report per injected fault. Needs
 * write_file() (memcg.h) and the debug kernels' FAULT_INJECTION options.
 */
#ifndef DMABUF_RS_FAILNTH_H
#define DMABUF_RS_FAILNTH_H
#include <stdio.h>

/* Makes every fault point injectable and quiet; 0, or -1 without them. */
static int fail_nth_setup(void)
{
	static const char *const dbg = "/sys/kernel/debug";
	const char *attrs[] = { "failslab", "fail_page_alloc", "fail_usercopy" };
	char path[128];

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/verbose", dbg, attrs[i]);
		if (write_file(path, "0"))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/failslab/ignore-gfp-wait", dbg);
	write_file(path, "N");
	snprintf(path, sizeof(path), "%s/fail_page_alloc/ignore-gfp-wait", dbg);
	write_file(path, "N");
	snprintf(path, sizeof(path), "%s/fail_page_alloc/ignore-gfp-highmem", dbg);
	write_file(path, "N");
	snprintf(path, sizeof(path), "%s/fail_page_alloc/min-order", dbg);
	write_file(path, "0");
	return 0;
}

#endif
