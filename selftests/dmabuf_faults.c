// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection on every dma-buf path a task can drive (issue 8): each
 * operation runs again and again with the Nth fault-injection point of the
 * calling thread made to fail (/proc/thread-self/fail-nth; slab and page
 * allocations, including those that may sleep, and user copies), N = 1, 2,
 * ... until the operation no longer reaches an Nth point. Every run must
 * succeed or fail with a clean errno, and afterwards the buffers, fds,
 * module references and CMA pages must be back where they were; kmemleak
 * (the guest's final scan), KASAN and lockdep watch the rest.
 *
 * The operations: heap ALLOC (system, CMA), mmap + touch, the SYNC ioctl,
 * SET_NAME, EXPORT_SYNC_FILE, IMPORT_SYNC_FILE, fdinfo, and through the
 * test module (selftests/kmod) a C exporter's export + dma_buf_fd_install, an
 * importer's get/attach/map/begin/vmap/end/unmap/detach, and a dynamic
 * importer's attach/pin/map/invalidate.
 *
 * The number of injection points differs between the cores (their
 * allocations differ), so the lines carry no counts; those go to "# "
 * lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kmod/dmabuf_test.h"
#include "heap.h"
#include "memcg.h"
#include "failnth.h"
#include "tap.h"

#define MAX_POINTS 2000

static int nth_fd = -1;
static int test_dev = -1;

static long read_long(const char *path, const char *key)
{
	char line[256];
	size_t k = key ? strlen(key) : 0;
	long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!key) {
			v = atol(line);
			break;
		}
		if (!strncmp(line, key, k) && line[k] == ':') {
			v = atol(line + k + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

/*
 * References on the modules the injected faults go through: the test
 * module (exporter and importer on every kernel) and, where the core is
 * a module, dmabuf_rs. Each file exists on the kernels that have it;
 * a file that is not there counts 0 on both sides of the comparison.
 */
/*
 * The system heap's pages charged to this task's memory cgroup (a cgroup
 * of its own, selftests/memcg.h); a leak in an ALLOC's unwinding keeps
 * whole chunks charged, at every point that leaks.
 */
static long heap_charged(void)
{
	static int ready = -1;

	if (ready < 0)
		ready = !memcg_join("dmabuf-faults");
	return ready ? memcg_heap_bytes("dmabuf-faults") : LONG_MIN;
}

static long module_refs(void)
{
	long c = read_long("/sys/module/dmabuf_test_c/refcnt", NULL);
	long r = read_long("/sys/module/dmabuf_rs/refcnt", NULL);

	return (c > 0 ? c : 0) + (r > 0 ? r : 0);
}

static void arm(int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%d", n);

	pwrite(nth_fd, s, len, 0);
}

/* Disarms; true if the armed point was reached (fail-nth then reads 0). */
static int disarm(void)
{
	char s[16] = "";
	int reached;

	pread(nth_fd, s, sizeof(s) - 1, 0);
	reached = atoi(s) == 0;
	pwrite(nth_fd, "0", 1, 0);
	return reached;
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* The operations. Each returns 0 or -errno, and frees what it made. */
static int buf = -1;	/* a system-heap buffer the operations use */

static int cur_n;

#define ARMED(expr)                \
	({                         \
		arm(cur_n);        \
		long __r = (expr); \
		__r;               \
	})

static int op_alloc_system(void)
{
	struct dma_heap_allocation_data d = { .len = 64 << 10, .fd_flags = O_RDWR | O_CLOEXEC };
	int h = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), r;

	r = ARMED(ioctl(h, DMA_HEAP_IOCTL_ALLOC, &d)) ? -errno : 0;
	close(h);
	if (!r)
		close(d.fd);
	return r;
}

static int op_alloc_cma(void)
{
	struct dma_heap_allocation_data d = { .len = 64 << 10, .fd_flags = O_RDWR | O_CLOEXEC };
	int h = open("/dev/dma_heap/default_cma_region", O_RDONLY | O_CLOEXEC), r;

	r = ARMED(ioctl(h, DMA_HEAP_IOCTL_ALLOC, &d)) ? -errno : 0;
	close(h);
	if (!r)
		close(d.fd);
	return r;
}

static int op_mmap(void)
{
	unsigned char *p = (void *)ARMED((long)mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
						    MAP_SHARED, buf, 0));
	int r = p == MAP_FAILED ? -errno : 0;

	if (!r) {
		/* The faults that populate the mapping, still armed. */
		for (int i = 0; i < (64 << 10); i += 4096)
			p[i] = 1;
		munmap(p, 64 << 10);
	}
	return r;
}

static int op_sync(void)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	int r = ARMED(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)) ? -errno : 0;

	if (!r) {
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
	}
	return r;
}

static int op_set_name(void)
{
	return ARMED(ioctl(buf, DMA_BUF_SET_NAME_B, "fault-injected")) ? -errno : 0;
}

static int op_export_sync_file(void)
{
	struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
	int r = ARMED(ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e)) ? -errno : 0;

	if (!r)
		close(e.fd);
	return r;
}

static int sync_file = -1;

static int op_import_sync_file(void)
{
	struct dma_buf_import_sync_file i = { .flags = DMA_BUF_SYNC_WRITE, .fd = sync_file };

	return ARMED(ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &i)) ? -errno : 0;
}

static int op_fdinfo(void)
{
	char path[64], tmp[4096];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", buf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = ARMED(read(fd, tmp, sizeof(tmp))) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int op_kmod_export(void)
{
	struct dmabuf_test_export e = { .size = 64 << 10 };
	int r = ARMED(ioctl(test_dev, DMABUF_TEST_EXPORT, &e)) ? -errno : 0;

	if (!r)
		close(e.fd);
	return r;
}

static int op_kmod_import(void)
{
	struct dmabuf_test_import i = { .fd = buf };

	return ARMED(ioctl(test_dev, DMABUF_TEST_IMPORT, &i)) ? -errno : 0;
}

static int op_kmod_dynamic(void)
{
	return ARMED(ioctl(test_dev, DMABUF_TEST_DYNAMIC, buf)) < 0 ? -errno : 0;
}

struct op {
	const char *name;
	int (*fn)(void);
	int needs_kmod;
};

static const struct op ops[] = {
	{ "ALLOC from the system heap", op_alloc_system, 0 },
	{ "ALLOC from the CMA heap", op_alloc_cma, 0 },
	{ "mmap + touch of a buffer", op_mmap, 0 },
	{ "DMA_BUF_IOCTL_SYNC", op_sync, 0 },
	{ "DMA_BUF_SET_NAME_B", op_set_name, 0 },
	{ "DMA_BUF_IOCTL_EXPORT_SYNC_FILE", op_export_sync_file, 0 },
	{ "DMA_BUF_IOCTL_IMPORT_SYNC_FILE", op_import_sync_file, 0 },
	{ "fdinfo read", op_fdinfo, 0 },
	{ "C exporter: dma_buf_export, then a reserved fd and dma_buf_fd_install", op_kmod_export, 1 },
	{ "C importer: get, attach, map, begin, vmap, end, unmap, detach", op_kmod_import, 1 },
	{ "dynamic importer: attach, pin, map, invalidate", op_kmod_dynamic, 1 },
};

static int clean_errno(int e)
{
	/* What an allocation or user-copy failure may become on its way out. */
	return e == ENOMEM || e == EFAULT || e == EINTR || e == ENOSPC || e == ENOBUFS;
}

int main(void)
{
	long refs0, cma0, refs1, cma1, pages0, pages1;
	int fds0, fds1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 || fail_nth_setup()) {
		printf("1..0 # SKIP no fault injection (CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY, FAULT_INJECTION_DEBUG_FS)\n");
		return 0;
	}
	test_dev = open("/dev/dmabuf_test", O_RDWR | O_CLOEXEC);
	buf = heap_alloc("system", 64 << 10);
	{
		struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
		int other = heap_alloc("system", 4096);

		ioctl(other, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
		sync_file = e.fd;
		close(other);
	}
	result(buf >= 0 && sync_file >= 0, "set-up: a buffer and a sync file");
	if (buf < 0 || sync_file < 0)
		return 1;

	/* The baseline, after one run of each operation (caches warm). */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].needs_kmod && test_dev < 0)
			continue;
		cur_n = 0;
		ops[i].fn();
		disarm();
	}
	/* The guest's splat check accepts upstream's one WARN of a failed
	 * exporter vmap only between these markers (selftests/guest-init). */
	write_file("/dev/kmsg", "dmabuf_faults: fault injection begins\n");
	refs0 = module_refs();
	cma0 = read_long("/proc/meminfo", "CmaFree");
	fds0 = count_fds();
	pages0 = heap_charged();

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int points = 0, failures = 0, dirty = 0, n, bad = 0;

		if (ops[i].needs_kmod && test_dev < 0) {
			result(1, "%s # SKIP /dev/dmabuf_test is not there", ops[i].name);
			continue;
		}
		for (n = 1; n <= MAX_POINTS; n++) {
			int r, reached;

			cur_n = n;
			r = ops[i].fn();
			reached = disarm();
			if (!reached)
				break;
			points++;
			if (r) {
				failures++;
				if (!clean_errno(-r)) {
					if (!bad)
						printf("# %s: point %d gave %s\n", ops[i].name, n,
						       strerrorname_np(-r));
					bad = -r;
				}
			}
			if (count_fds() != fds0 && !dirty) {
				printf("# %s: point %d left %d fds\n", ops[i].name, n, count_fds() - fds0);
				dirty = 1;
			}
		}
		printf("# %s: %d injection points, %d made it fail\n", ops[i].name, points, failures);
		result(!bad && !dirty && n <= MAX_POINTS && points > 0,
		       "%s: each injected fault gives success or a clean errno, no fd left behind", ops[i].name);
	}

	write_file("/dev/kmsg", "dmabuf_faults: fault injection ends\n");
	refs1 = module_refs();
	cma1 = read_long("/proc/meminfo", "CmaFree");
	fds1 = count_fds();
	printf("# module refcnt %ld -> %ld, CmaFree %ld -> %ld kB, fds %d -> %d\n", refs0, refs1, cma0, cma1,
	       fds0, fds1);
	result(refs0 == refs1 && cma0 == cma1 && fds0 == fds1,
	       "afterwards the module references, CMA pages and fds are back where they were");
	/* Freed files and their buffers go after an RCU grace period. */
	pages1 = pages0 == LONG_MIN ? LONG_MIN : memcg_settle("dmabuf-faults", pages0, 4);
	result(memcg_same(pages0, pages1),
	       "afterwards the system-heap pages charged to this task's memory cgroup are back, within 4 pages (bytes before=%ld after=%ld)",
	       pages0, pages1);
	close(buf);
	close(sync_file);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
