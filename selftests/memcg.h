/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Heap pages charged to a memory cgroup, for the userspace tests that
 * look for pages a failed or killed allocation left behind (kmemleak
 * does not track pages). Needs the heap accounting parameter on
 * (dma_heap.mem_accounting=1, as the suites boot).
 */
#ifndef DMABUF_RS_MEMCG_H
#define DMABUF_RS_MEMCG_H
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes val to path (a sysfs, cgroup or debugfs file); 0 on success. */
static inline int write_file(const char *path, const char *val)
{
	int f = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (f < 0)
		return -1;
	ok = write(f, val, strlen(val)) == (ssize_t)strlen(val);
	close(f);
	return ok ? 0 : -1;
}

/* Make /sys/fs/cgroup/<name> (cgroup v2 with the memory controller,
 * mounted if need be); 0 when it is there. */
static inline int memcg_make(const char *name)
{
	char path[128];

	mkdir("/sys/fs/cgroup", 0755);
	mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL);
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", name);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/memory.stat", name);
	return access(path, R_OK);
}

/* Move the calling task into /sys/fs/cgroup/<name>; 0 on success. */
static inline int memcg_join(const char *name)
{
	char path[128], pid[32];

	if (memcg_make(name))
		return -1;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", name);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(path, pid);
}

/*
 * Bytes charged to /sys/fs/cgroup/<name> as kernel memory that are
 * neither slab, nor kernel stacks, nor page tables, nor per-CPU memory:
 * with the accounting parameter on, the system heap's pages. Slab objects are charged a page
 * at a time through per-CPU stocks, so the value moves by a page or two
 * with nothing leaked; a leaked heap chunk stays charged whole. LONG_MIN
 * when the cgroup or its statistics are missing.
 */
static inline long memcg_heap_bytes(const char *name)
{
	char path[128], line[128];
	long kernel = -1, slab = 0, stack = 0, pt = 0, percpu = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/memory.stat", name);
	f = fopen(path, "r");
	if (!f)
		return LONG_MIN;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "kernel %ld", &v) == 1)
			kernel = v;
		else if (sscanf(line, "slab %ld", &v) == 1)
			slab = v;
		else if (sscanf(line, "kernel_stack %ld", &v) == 1)
			stack = v;
		else if (sscanf(line, "pagetables %ld", &v) == 1)
			pt = v;
		else if (sscanf(line, "percpu %ld", &v) == 1)
			percpu = v;
	}
	fclose(f);
	return kernel < 0 ? LONG_MIN : kernel - slab - stack - pt - percpu;
}

/* Two readings agree to within n pages (and both were taken). */
static inline int memcg_within(long a, long b, long n)
{
	return a != LONG_MIN && b != LONG_MIN && labs(a - b) <= n * 4096;
}

/* Two readings agree to within four pages. */
static inline int memcg_same(long a, long b)
{
	return memcg_within(a, b, 4);
}

/*
 * The heap bytes of cgroup <name> once what a finished call or run freed
 * has gone (some frees wait for an RCU grace period or a delayed fput):
 * read every 100 ms until within n pages of was, for up to 5 s; the last
 * reading either way.
 */
static inline long memcg_settle(const char *name, long was, long n)
{
	long now = memcg_heap_bytes(name);

	for (int i = 0; i < 50 && !memcg_within(was, now, n); i++) {
		usleep(100 * 1000);
		now = memcg_heap_bytes(name);
	}
	return now;
}

#endif
