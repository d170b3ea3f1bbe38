// SPDX-License-Identifier: GPL-2.0
/*
 * The dma-heap rows of REFERENCE.md section 4 with their exact errno,
 * sizes from 1 byte to most of the CMA area, CMA exhaustion and reuse,
 * the heap-specific mmap rules, and the bug classes of the C core's CVEs. Runs unchanged on the stock and the
 * Rust kernel; its TAP output must be identical.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kmod/dmabuf_test.h"
#include "memcg.h"
#include "sw_sync.h"
#include "tap.h"


static void expect_errno(long ret, int err, const char *heap, const char *what)
{
	result(ret == -1 && errno == err, "%s: %s fails with %s (got %ld, %s)", heap, what,
	       strerrorname_np(err), ret, ret == -1 ? strerrorname_np(errno) : "-");
}

static int alloc(int heap, __u64 len, __u32 fd_flags, int *out)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = fd_flags };
	int ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d);

	*out = ret ? -1 : (int)d.fd;
	return ret;
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* This task's cgroup: the suites boot with the accounting parameter on,
 * so the system heap's pages are charged to it. */
#define HEAPS_CG "dmabuf-heaps"

/*
 * A new buffer reads zero, also on memory a freed buffer of the same heap
 * had filled: 8 rounds of ALLOC, check, fill, free. 32 KiB are eight
 * single pages on the system heap, which the page allocator's per-CPU
 * lists hand out again at once; a CMA heap gives the same place again.
 */
static void zeroed_rows(const char *name, int heap)
{
	const size_t len = 32 << 10;
	int ok = 1, rounds = 0;

	for (int r = 0; r < 8 && ok; r++) {
		unsigned char *p;
		int fd;

		if (alloc(heap, len, O_RDWR | O_CLOEXEC, &fd))
			break;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			for (size_t i = 0; i < len && ok; i++)
				ok = p[i] == 0;
			memset(p, 0xa5, len);
			munmap(p, len);
			rounds++;
		}
		close(fd);
	}
	result(ok && rounds == 8, "%s: a new buffer reads zero, also where a freed one was filled (8 rounds)", name);
}

static void common_rows(const char *name)
{
	char path[128];
	int heap, fd, ret, before;
	struct dma_heap_allocation_data d;
	/* The failed ALLOCs below allocate 1 MiB from the system heaps, so a
	 * buffer they leak shows in its cgroup's charge; 4 KiB elsewhere. */
	int sys = !strcmp(name, "system") || !strcmp(name, "system_cc_shared");
	__u64 failed_len = sys ? 1 << 20 : 4096;
	long charged0 = memcg_heap_bytes(HEAPS_CG);

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	heap = open(path, O_RDONLY | O_CLOEXEC);
	result(heap >= 0, "%s: open %s", name, path);
	if (heap < 0)
		return;

	zeroed_rows(name, heap);
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL), EFAULT, name, "ALLOC with a NULL argument");
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, (void *)8), EFAULT, name, "ALLOC with an unmapped argument");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd = 5, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with fd != 0");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_NONBLOCK };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with fd_flags O_NONBLOCK");
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR, .heap_flags = 1 };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC with heap_flags 1");
	d = (struct dma_heap_allocation_data){ .len = 0, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC of 0 bytes");
	d = (struct dma_heap_allocation_data){ .len = UINT64_MAX - 4000, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC whose page-aligned length wraps to 0");
	/* The smallest length that wraps: 2^64 - 4095. */
	d = (struct dma_heap_allocation_data){ .len = UINT64_MAX - 4094, .fd_flags = O_RDWR };
	expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, name, "ALLOC of 2^64 - 4095 bytes");
	expect_errno(ioctl(heap, _IOWR('H', 1, struct dma_heap_allocation_data), &d), EINVAL, name, "ioctl nr 1");
	expect_errno(ioctl(heap, _IO('x', 7)), EINVAL, name, "ioctl of another type, nr 7");

	/* Only the number counts: another type, nr 0, works. */
	d = (struct dma_heap_allocation_data){ .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };
	ret = ioctl(heap, _IOWR('Z', 0, struct dma_heap_allocation_data), &d);
	result(ret == 0, "%s: ioctl of type 'Z' nr 0 allocates", name);
	if (!ret)
		close(d.fd);
	{
		struct { __u64 len; __u32 fd, fd_flags; } older = { 4096, 0, O_RDWR | O_CLOEXEC };
		struct { __u64 len; __u32 fd, fd_flags; __u64 heap_flags, junk[3]; } newer = {
			4096, 0, O_RDWR | O_CLOEXEC, 0, { 0xdead, 0xbeef, 0xf00d } };

		ret = ioctl(heap, _IOWR('H', 0, older), &older);
		result(ret == 0, "%s: 16-byte (older) struct allocates", name);
		if (!ret)
			close(older.fd);
		ret = ioctl(heap, _IOWR('H', 0, newer), &newer);
		result(ret == 0, "%s: 48-byte (newer) struct with a garbage tail allocates", name);
		if (!ret)
			close(newer.fd);
	}

	/* Sizes round up to pages. */
	result(alloc(heap, 1, O_RDWR | O_CLOEXEC, &fd) == 0 && lseek(fd, 0, SEEK_END) == 4096,
	       "%s: 1-byte ALLOC gives a 4096-byte buffer", name);
	close(fd);
	result(alloc(heap, 5000, O_RDWR | O_CLOEXEC, &fd) == 0 && lseek(fd, 0, SEEK_END) == 8192,
	       "%s: 5000-byte ALLOC gives an 8192-byte buffer", name);
	close(fd);
	result(alloc(heap, 4096, O_RDWR, &fd) == 0 && fcntl(fd, F_GETFD) == 0,
	       "%s: fd without O_CLOEXEC", name);
	close(fd);
	/*
	 * The fd_flags mask is O_CLOEXEC | O_ACCMODE, so the access mode 3
	 * (neither O_RDONLY, O_WRONLY nor O_RDWR) passes it, and the buffer's
	 * file keeps it.
	 */
	ret = alloc(heap, 4096, O_ACCMODE | O_CLOEXEC, &fd);
	result(ret == 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_ACCMODE,
	       "%s: ALLOC with fd_flags O_ACCMODE is accepted and the fd keeps that access mode", name);
	if (!ret)
		close(fd);

	/* SYNC END with no START before it: the heaps accept it. */
	if (alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ };

		result(ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) == 0, "%s: SYNC END READ without START succeeds", name);
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		result(ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) == 0, "%s: SYNC END RW without START succeeds", name);
		close(fd);
	} else {
		result(0, "%s: ALLOC for SYNC END without START", name);
	}

	/* The heap fd itself. */
	{
		char c;
		expect_errno(read(heap, &c, 1), EINVAL, name, "read on the heap fd");
		expect_errno(write(heap, &c, 1), EBADF, name, "write on the O_RDONLY heap fd");
		ret = open(path, O_RDWR | O_CLOEXEC);
		result(ret >= 0, "%s: open %s read-write", name, path);
		if (ret >= 0) {
			expect_errno(write(ret, &c, 1), EINVAL, name, "write on an O_RDWR heap fd");
			expect_errno(read(ret, &c, 1), EINVAL, name, "read on an O_RDWR heap fd");
			close(ret);
		}
		expect_errno(lseek(heap, 0, SEEK_SET), ESPIPE, name, "lseek on the heap fd");
		result(mmap(NULL, 4096, PROT_READ, MAP_SHARED, heap, 0) == MAP_FAILED && errno == ENODEV,
		       "%s: mmap of the heap fd fails with ENODEV", name);
	}

	/* Copy-out failure: EFAULT and no fd leaked. */
	{
		struct dma_heap_allocation_data *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
							   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		*ro = (struct dma_heap_allocation_data){ .len = failed_len, .fd_flags = O_RDWR | O_CLOEXEC };
		mprotect(ro, 4096, PROT_READ);
		before = count_fds();
		ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, ro);
		result(ret == -1 && errno == EFAULT && count_fds() == before,
		       "%s: read-only argument: EFAULT and no fd leaked", name);
		munmap(ro, 4096);
	}

	/* No fd available: EMFILE, and the buffer is freed (kmemleak checks). */
	{
		struct rlimit old, lim;
		int dupfd;

		/* Fill every slot below a limit of 64. */
		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = 64;
		setrlimit(RLIMIT_NOFILE, &lim);
		while ((dupfd = dup(heap)) >= 0)
			;
		d = (struct dma_heap_allocation_data){ .len = failed_len, .fd_flags = O_RDWR | O_CLOEXEC };
		expect_errno(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EMFILE, name, "ALLOC with no free fd");
		for (int f = 0; f < 64; f++)
			if (f > 2 && f != heap && fcntl(f, F_GETFD) != -1)
				close(f);
		setrlimit(RLIMIT_NOFILE, &old);
		heap = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (sys) {
		long charged1 = memcg_settle(HEAPS_CG, charged0, 4), live = LONG_MIN;

		/* kmemleak does not see pages: the cgroup's charge does. */
		result(memcg_same(charged0, charged1),
		       "%s: the pages of the EFAULT and EMFILE ALLOCs are given back, within 4 pages of the cgroup's charge (bytes before=%ld after=%ld)",
		       name, charged0, charged1);
		/* And the charge is what would show such a leak. */
		if (alloc(heap, failed_len, O_RDWR | O_CLOEXEC, &fd) == 0) {
			live = memcg_heap_bytes(HEAPS_CG);
			close(fd);
		}
		result(charged1 != LONG_MIN && live != LONG_MIN && live - charged1 >= (long)failed_len - 4 * 4096,
		       "%s: a live 1 MiB buffer is in that charge (so the check above sees heap pages)", name);
	}

	/* mmap permission from the fd's access mode. */
	if (alloc(heap, 4096, O_RDONLY | O_CLOEXEC, &fd) == 0) {
		result(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES,
		       "%s: writable shared mmap of an O_RDONLY buffer fails with EACCES", name);
		close(fd);
	}
	close(heap);
}

static void cma_rows(const char *name, long area)
{
	char path[128];
	int heap, fd, n = 0, fds[512];
	void *p;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	heap = open(path, O_RDWR | O_CLOEXEC);
	if (heap < 0)
		return;
	expect_errno(alloc(heap, area * 4, O_RDWR, &fd), ENOMEM, name, "ALLOC larger than the CMA area");
	result(alloc(heap, area * 3 / 4, O_RDWR | O_CLOEXEC, &fd) == 0, "%s: ALLOC of three quarters of the area", name);
	if (fd >= 0) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p == MAP_FAILED && errno == EINVAL, "%s: MAP_PRIVATE fails with EINVAL", name);
		p = mmap(NULL, area * 3 / 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED && ((char *)p)[area * 3 / 4 - 1] == 0, "%s: shared mmap of it reads zero", name);
		if (p != MAP_FAILED)
			munmap(p, area * 3 / 4);
		close(fd);
	}
	/*
	 * No fd for a buffer of three quarters of the area: EMFILE, and the
	 * buffer is freed (the same size fits again; a leak would leave only
	 * a quarter).
	 */
	{
		struct rlimit old, lim;
		int fill[64], nfill = 0, ret, err;

		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = 64;
		setrlimit(RLIMIT_NOFILE, &lim);
		while (nfill < 64 && (fill[nfill] = dup(heap)) >= 0)
			nfill++;
		ret = alloc(heap, area * 3 / 4, O_RDWR | O_CLOEXEC, &fd);
		err = errno;
		if (!ret)
			close(fd);
		while (nfill)
			close(fill[--nfill]);
		setrlimit(RLIMIT_NOFILE, &old);
		errno = err;
		expect_errno(ret, EMFILE, name, "ALLOC of three quarters of the area with no free fd");
		ret = alloc(heap, area * 3 / 4, O_RDWR | O_CLOEXEC, &fd);
		result(ret == 0, "%s: the buffer of the EMFILE case was freed: three quarters of the area allocate again",
		       name);
		if (!ret)
			close(fd);
	}
	/* Exhaust the area in 1 MiB buffers, free it, do it again. */
	while (n < 512 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fds[n]) == 0)
		n++;
	result(errno == ENOMEM && n > 0, "%s: exhausting the area ends with ENOMEM", name);
	printf("data %s: %d MiB buffers fit\n", name, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	{
		int m = 0;

		while (m < n && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fds[m]) == 0)
			m++;
		result(m == n, "%s: after freeing, the same number of buffers fits again", name);
		for (int i = 0; i < m; i++)
			close(fds[i]);
	}
	close(heap);
}

static void system_rows(void)
{
	int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC), fd;
	void *p;

	if (heap < 0)
		return;
	if (alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p != MAP_FAILED, "system: MAP_PRIVATE of a one-chunk buffer works");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(fd);
	}
	if (alloc(heap, (1 << 20) + 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		p = mmap(NULL, (1 << 20) + 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		result(p == MAP_FAILED && errno == EINVAL, "system: MAP_PRIVATE of a multi-chunk buffer fails with EINVAL");
		p = mmap(NULL, (1 << 20) + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED, "system: MAP_SHARED of a multi-chunk buffer");
		if (p != MAP_FAILED) {
			memset(p, 0x33, (1 << 20) + 4096);
			munmap(p, (1 << 20) + 4096);
		}
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 256 * 4096);
		result(p != MAP_FAILED && *(unsigned char *)p == 0x33, "system: mmap at a page offset into the second chunk");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		close(fd);
	}
	result(alloc(heap, 48 << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "system: 48 MiB allocation");
	close(fd);
	close(heap);
}

/*
 * The classes of bug behind the C core's CVEs of 2022-2026, one row each,
 * on both kernels (issue 8, item 8).
 */

static sigjmp_buf touch_env;

static void touch_signal(int sig)
{
	siglongjmp(touch_env, sig);
}

/* Writes a byte at @p: 0, or the signal that stopped it. */
static int touch(volatile unsigned char *p)
{
	struct sigaction sa = { .sa_handler = touch_signal }, old_bus, old_segv;
	int sig;

	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(touch_env, 1);
	if (!sig)
		*p = 0x5a;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

static volatile int race_close_stop;

/* Closes the fd numbers an ALLOC in the other thread is about to get. */
static void *close_racer(void *arg)
{
	int base = *(int *)arg;

	while (!race_close_stop)
		for (int fd = base; fd < base + 4; fd++)
			close(fd);
	return NULL;
}

static int poll_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * Memory pressure (issue 8): a task killed in the middle of a large
 * system-heap allocation dies, its partial allocation is given back, and
 * the heap works afterwards.
 */
static long mem_kib(const char *key)
{
	char line[128];
	size_t k = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, k) && line[k] == ':')
			v = atol(line + k + 1);
	if (f)
		fclose(f);
	return v;
}

/* MemFree once it is back within 64 MiB of before (at most 5 s). */
static long memfree_back(long before)
{
	long after = 0;

	for (int i = 0; i < 50; i++) {
		after = mem_kib("MemFree");
		if (after > before - 65536)
			break;
		usleep(100 * 1000);
	}
	return after;
}

/* The system heap still gives out 1 MiB. */
static void system_heap_works(const char *after_what)
{
	int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC), fd = -1;

	result(heap >= 0 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "system: ALLOC works after %s",
	       after_what);
	if (fd >= 0)
		close(fd);
	if (heap >= 0)
		close(heap);
}

/* The cgroup of the tasks killed in an ALLOC: whatever heap pages it is
 * still charged for once they are gone were leaked. */
#define KILLED_CG "dmabuf-killed"

/* memory.peak of /sys/fs/cgroup/<name> in bytes, -1 if unreadable. */
static long cg_read_peak(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/memory.peak", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void kill_during_alloc(void)
{
	long before = mem_kib("MemFree"), after = 0, cg0, cg1, peak;
	int status = 0, fd, heap;
	pid_t pid;

	memcg_make(KILLED_CG);
	cg0 = memcg_heap_bytes(KILLED_CG);
	pid = fork();
	if (pid == 0) {
		if (memcg_join(KILLED_CG))
			_exit(5);
		heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
		/* Most of the guest's free memory: it takes a while. */
		alloc(heap, (__u64)(before / 2) << 10, O_RDWR | O_CLOEXEC, &fd);
		pause();
		_exit(0);
	}
	/* Killed once 32 MiB are charged (or after 10 s): the heap must stop
	 * at the signal, so the cgroup's peak stays far below the ALLOC's
	 * length (a heap that went on would reach all of it). */
	for (int i = 0; i < 20000 && memcg_heap_bytes(KILLED_CG) - cg0 < (32 << 20); i++)
		usleep(500);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	peak = cg_read_peak(KILLED_CG);
	result(peak > 0 && peak < ((before / 2) << 10) / 4,
	       "system: a killed ALLOC stops at the signal: its cgroup's peak stays below a quarter of the length");
	printf("# killed ALLOC: %ld KiB asked, cgroup peak %ld KiB\n", before / 2, peak >> 10);
	/* The pages come back once the child's last fd is closed. */
	after = memfree_back(before);
	cg1 = memcg_settle(KILLED_CG, cg0, 4);
	result(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && after > before - 65536,
	       "system: a task killed during a large ALLOC dies and its memory comes back (within 64 MiB)");
	result(memcg_same(cg0, cg1),
	       "system: its cgroup is charged for none of the heap's pages afterwards, within 4 pages (bytes before=%ld after=%ld)",
	       cg0, cg1);
	system_heap_works("that");
}

/*
 * A system-heap ALLOC of twice the RAM: ENOMEM, or the OOM killer stops the
 * allocating task (it volunteers with oom_score_adj 1000, so no other task
 * is chosen) and the heap gives up on the fatal signal. Either way the
 * kernel lives on, the memory comes back and the heap works afterwards.
 */
static void alloc_beyond_ram(void)
{
	long total = mem_kib("MemTotal"), before = mem_kib("MemFree"), after = 0, cg0, cg1;
	int status = 0, fd, heap;
	pid_t pid;

	memcg_make(KILLED_CG);
	cg0 = memcg_heap_bytes(KILLED_CG);
	pid = fork();
	if (pid == 0) {
		FILE *adj = fopen("/proc/self/oom_score_adj", "w");

		if (!adj || fputs("1000", adj) < 0 || fclose(adj) || memcg_join(KILLED_CG))
			_exit(3);
		heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
		if (heap < 0)
			_exit(4);
		if (!alloc(heap, (__u64)total << 11, O_RDWR | O_CLOEXEC, &fd))
			_exit(2);
		_exit(errno == ENOMEM ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	after = memfree_back(before);
	/* Which of the two it was is data the differential compares. */
	if (WIFSIGNALED(status))
		printf("data system: ALLOC of twice the RAM: killed by signal %d\n", WTERMSIG(status));
	else
		printf("data system: ALLOC of twice the RAM: exit status %d (0 = ENOMEM)\n", WEXITSTATUS(status));
	result(((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
		(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) && after > before - 65536,
	       "system: ALLOC of twice the RAM fails with ENOMEM or its task is OOM-killed, and the memory comes back (within 64 MiB)");
	cg1 = memcg_settle(KILLED_CG, cg0, 4);
	result(memcg_same(cg0, cg1),
	       "system: its cgroup is charged for none of the heap's pages afterwards, within 4 pages (bytes before=%ld after=%ld)",
	       cg0, cg1);
	system_heap_works("the ALLOC of twice the RAM");
}

static void cve_rows(const char *name)
{
	char path[64];
	int heap, fd, sw;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	heap = open(path, O_RDWR | O_CLOEXEC);
	if (heap < 0)
		return;

	/* A full fd table: EXPORT_SYNC_FILE fails with EMFILE, and frees
	 * its sync file (kmemleak); the buffer stays usable. */
	if (alloc(heap, 8192, O_RDWR | O_CLOEXEC, &fd) == 0) {
		struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
		struct rlimit old, lim;

		int fill[64], nfill = 0;

		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = fd + 1;
		setrlimit(RLIMIT_NOFILE, &lim);
		/* The holes below the limit, filled. */
		while (nfill < 64 && (fill[nfill] = dup(fd)) >= 0)
			nfill++;
		expect_errno(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), EMFILE, name,
			     "EXPORT_SYNC_FILE with no free fd");
		while (nfill)
			close(fill[--nfill]);
		setrlimit(RLIMIT_NOFILE, &old);
		result(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0 && ex.fd >= 0,
		       "%s: EXPORT_SYNC_FILE works again once an fd is free", name);
		if (ex.fd >= 0)
			close(ex.fd);

		/* A mapping grown with mremap past the buffer's end: the
		 * pages beyond it fault with SIGBUS, never a stray page. */
		{
			unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), *q;
			int in = -1, beyond = -1, err = 0;

			q = p == MAP_FAILED ? MAP_FAILED : mremap(p, 8192, 16384, MREMAP_MAYMOVE);
			err = q == MAP_FAILED ? errno : 0;
			if (q != MAP_FAILED) {
				in = touch(q + 4096);
				beyond = touch(q + 12288);
				munmap(q, 16384);
			} else if (p != MAP_FAILED) {
				munmap(p, 8192);
			}
			if (p != MAP_FAILED && q == MAP_FAILED)
				result(err == EFAULT, "%s: mremap past the end is refused (%s)", name,
				       strerrorname_np(err));
			else
				result(in == 0 && beyond == SIGBUS,
				       "%s: mremap past the end: inside writable, beyond SIGBUS (got %s, %s)",
				       name, in < 0 ? "-" : in ? strsignal(in) : "ok",
				       beyond < 0 ? "-" : beyond ? strsignal(beyond) : "a page");
		}
		close(fd);
	}

	/* close() racing the fd right after ALLOC installs it. The racer
	 * closes the four lowest free fds; when it is not scheduled (a busy
	 * host), the fds ALLOC hands out above those are closed here, so the
	 * table never fills and an ALLOC can fail only through the race. */
	{
		int base = dup(0), n = 0, err = 0;
		pthread_t t;

		close(base);
		race_close_stop = 0;
		pthread_create(&t, NULL, close_racer, &base);
		for (int i = 0; i < 2000; i++) {
			struct dma_heap_allocation_data d = { .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };

			if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) == 0) {
				n++;
				if ((int)d.fd >= base + 4)
					close(d.fd);
			} else if (!err) {
				err = errno;
			}
		}
		race_close_stop = 1;
		pthread_join(t, NULL);
		for (int f = base; f < base + 4; f++)
			close(f);
		result(n == 2000 && fcntl(heap, F_GETFD) != -1,
		       "%s: 2000 ALLOCs with their fds closed by another thread as they appear", name);
		if (n != 2000)
			printf("# %s: %d ALLOCs failed, the first with %s\n", name, 2000 - n,
			       strerrorname_np(err));
	}

	/* A fence older than the one present, imported from userspace, does
	 * not replace it: the buffer stays busy until the newer one signals. */
	sw = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);
	if (sw >= 0 && alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		struct sw_sync_create_fence_data f2 = { .value = 2 }, f1 = { .value = 1 };
		struct dma_buf_import_sync_file im = { .flags = DMA_BUF_SYNC_WRITE };
		__u32 one = 1;
		int ok, busy1, busy2, idle;

		ok = !ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f2) && !ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f1);
		im.fd = f2.fence;
		ok = ok && !ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		im.fd = f1.fence;
		ok = ok && !ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		busy1 = !poll_in(fd);
		ioctl(sw, SW_SYNC_IOC_INC, &one);
		busy2 = !poll_in(fd);
		ioctl(sw, SW_SYNC_IOC_INC, &one);
		idle = poll_in(fd);
		result(ok && busy1 && busy2 && idle,
		       "%s: an older imported fence does not replace a newer one (busy %d, after the older signals %d, idle %d)",
		       name, busy1, busy2, idle);
		close(f1.fence);
		close(f2.fence);
		close(fd);
	}
	if (sw >= 0)
		close(sw);

	/* Every unknown command number of the heap ioctl (the index into
	 * upstream's command table, clamped against speculation there). */
	{
		int bad = 0;

		for (unsigned int nr = 1; nr < 256; nr++) {
			struct dma_heap_allocation_data d = { .len = 4096, .fd_flags = O_RDWR | O_CLOEXEC };

			if (ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, nr, struct dma_heap_allocation_data), &d) != -1 ||
			    errno != EINVAL)
				bad++;
		}
		result(!bad, "%s: heap ioctl numbers 1-255 all fail with EINVAL (%d did not)", name, bad);
	}
	close(heap);
}

static int rmmod_core(void)
{
	return system("rmmod dmabuf_rs 2>/dev/null") == 0;
}


static volatile int race_stop;
static volatile long race_allocs;

/*
 * The other side of the unload race: ALLOC + close of small buffers in a
 * loop, every other one also opened O_PATH through /proc/self/fd and that
 * file closed last (it holds the buffer's dentry after the fd is gone),
 * with short pauses in which the module can go.
 */
static void *race_allocator(void *arg)
{
	char path[64];

	(void)arg;
	for (long i = 0; !race_stop; i++) {
		int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), fd, opath = -1;

		if (heap >= 0 && alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
			if (i & 1) {
				snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
				opath = open(path, O_PATH | O_CLOEXEC);
			}
			if (i & 2)
				close(heap), heap = -1;
			close(fd);
			race_allocs++;
		}
		if (heap >= 0)
			close(heap);
		if (opath >= 0)
			close(opath);
		usleep(1000 + (i % 4) * 500);
	}
	return NULL;
}

/*
 * Module unload racing the last references of buffers (issue 8, defect 2):
 * a thread allocates and closes buffers (and O_PATH files of them) while
 * the main thread removes and loads the core in a loop. rmmod must only
 * succeed when nothing is alive, and the last file's mntput must not run
 * module code after the module is gone (KASAN and the guest's splat check
 * watch that). Goes on until rmmod has succeeded @want times and ALLOC
 * has worked in between, or 600 attempts.
 */
static void unload_race(int want)
{
	int removed = 0, failed_rm = 0, attempts = 0, loaded = 1;
	long allocs_seen = 0, allocs_while_loaded = 0;
	pthread_t t;

	race_stop = 0;
	race_allocs = 0;
	pthread_create(&t, NULL, race_allocator, NULL);
	while (attempts++ < 600 && (removed < want || allocs_while_loaded < want)) {
		/*
		 * Did ALLOC work since the core was loaded or last looked at?
		 * Counted before each removal attempt, whether the last one
		 * failed or the core was reloaded since (on a slow kernel the
		 * removals nearly all succeed, so counting only after failed
		 * ones would miss the buffers made between reloads).
		 */
		if (loaded && race_allocs > allocs_seen)
			allocs_while_loaded++;
		allocs_seen = race_allocs;
		if (rmmod_core()) {
			removed++;
			loaded = 0;
		} else {
			failed_rm++;
		}
		usleep(2000);
		if (!loaded) {
			loaded = system("modprobe dmabuf_rs") == 0;
			allocs_seen = race_allocs;
		}
		usleep(3000);
	}
	race_stop = 1;
	pthread_join(t, NULL);
	printf("# unload race: %d attempts, rmmod succeeded %d times and failed %d times, %ld buffers,"
	       " ALLOC worked in %ld loaded periods\n",
	       attempts - 1, removed, failed_rm, race_allocs, allocs_while_loaded);
	result(removed >= want && allocs_while_loaded >= want,
	       "unload race: rmmod succeeded and ALLOC worked in between, each at least %d times, with buffers and O_PATH files closing", want);
	if (!loaded)
		loaded = system("modprobe dmabuf_rs") == 0;
	result(loaded, "unload race: the core is loaded again at the end");
}

/*
 * Load, allocate from both heaps, map, touch, free, unload: @n times
 * (issue 8, item 7). On the debug kernel kmemleak (the guest's final scan)
 * is the judge of leaks; the memory counters are printed for reading (the
 * KASAN quarantine makes them move), and compared on a non-debug kernel.
 */
static void load_cycles(int n)
{
	char kind[32] = "";
	FILE *k = fopen("/etc/dmabuf-rs-kernel", "r");

	if (k) {
		if (fgets(kind, sizeof(kind), k))
			kind[strcspn(kind, "\n")] = 0;
		fclose(k);
	}
	long free0 = 0, slab0 = 0, free1, slab1;
	int ok = 0;

	for (int i = 0; i < n; i++) {
		int good = system("modprobe dmabuf_rs") == 0;
		const char *heaps[] = { "/dev/dma_heap/system", "/dev/dma_heap/default_cma_region" };

		for (int h = 0; good && h < 2; h++) {
			int heap = open(heaps[h], O_RDONLY | O_CLOEXEC), fd = -1;
			unsigned char *p = MAP_FAILED;

			good = heap >= 0 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd) == 0;
			if (good)
				p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			good = good && p != MAP_FAILED;
			if (good) {
				memset(p, i, 1 << 20);
				good = p[12345] == (unsigned char)i;
				munmap(p, 1 << 20);
			}
			if (fd >= 0)
				close(fd);
			if (heap >= 0)
				close(heap);
		}
		good = good && rmmod_core();
		ok += good;
		if (i == n / 2 - 1) {
			free0 = mem_kib("MemFree");
			slab0 = mem_kib("Slab");
		}
		if (i == n / 4 - 1 || i == n / 2 - 1 || i == 3 * n / 4 - 1 || i == n - 1)
			printf("# after %d load cycles: MemFree %ld KiB, Slab %ld KiB\n", i + 1,
			       mem_kib("MemFree"), mem_kib("Slab"));
	}
	free1 = mem_kib("MemFree");
	slab1 = mem_kib("Slab");
	result(ok == n, "%d cycles of load, ALLOC from both heaps, mmap + touch, free, unload (%d good)", n, ok);
	/*
	 * A leak grows with the cycles; caches warm up in the first ones. So
	 * the second half must not grow: less than 64 bytes a cycle, on a
	 * kernel without the KASAN quarantine (whose freed objects count in
	 * Slab and MemFree until it recycles them) and with enough cycles.
	 */
	if (!strcmp(kind, "bench") && n >= 200)
		result(slab1 - slab0 < n / 2 * 64 / 1024 && free0 - free1 < n / 2 * 64 / 1024,
		       "no memory growth in the second half of the cycles (Slab %+ld KiB, MemFree %+ld KiB)",
		       slab1 - slab0, free1 - free0);
	result(system("modprobe dmabuf_rs") == 0, "the core loads again after the cycles");
}

/* Entries in a directory other than . and .. (-1 if it cannot be read). */
static int dir_entries(const char *path)
{
	char cmd[160], line[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A %s 2>/dev/null | wc -l", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	pclose(p);
	return line[0] ? atoi(line) : -1;
}

/*
 * Module load under fault injection, racing an opener of the heap nodes
 * (issue 19, defect 2): for each N of the last 300 points of a load (and
 * one N in 8 before them), the Nth allocation (slab or
 * page) or user copy of this thread fails while it loads dmabuf_rs.ko with
 * finit_module(); a thread opens /dev/dma_heap/system and allocates
 * meanwhile. A load that fails must fail cleanly: a plain errno, no heap
 * node or class device left behind, no module; a load that succeeds must
 * unload again. KASAN watches the nodes of a half-registered heap (a heap
 * whose data went before its node, as it did, is a use after free for
 * the opener). Ends when the Nth point is past the whole load.
 */
static volatile int lf_stop;
static volatile long lf_allocs, lf_opens;

static void *load_fault_opener(void *arg)
{
	(void)arg;
	while (!lf_stop) {
		int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), fd;

		if (heap >= 0) {
			lf_opens++;
			if (alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
				close(fd);
				lf_allocs++;
			}
			close(heap);
		}
		usleep(200);
	}
	return NULL;
}

static void load_faults(void)
{
	const char *dbg = "/sys/kernel/debug";
	const char *attrs[] = { "failslab", "fail_page_alloc", "fail_usercopy" };
	char path[256], ko[256] = "", buf[32];
	int points = 0, failures = 0, bad = 0, leftover = 0, unload_failed = 0, n, kofd, nth;
	long total;
	FILE *p;
	pthread_t t;

	p = popen("find /lib/modules -name 'dmabuf_rs.ko*' | head -n 1", "r");
	if (p) {
		if (fgets(ko, sizeof(ko), p))
			ko[strcspn(ko, "\n")] = 0;
		pclose(p);
	}
	kofd = ko[0] ? open(ko, O_RDONLY | O_CLOEXEC) : -1;
	nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (kofd < 0 || nth < 0 || !rmmod_core()) {
		result(0, "load under fault injection # SKIP %s",
		       kofd < 0 ? "no dmabuf_rs.ko" : nth < 0 ? "no fail-nth" : "the core did not unload");
		if (kofd >= 0)
			close(kofd);
		if (nth >= 0)
			close(nth);
		system("modprobe dmabuf_rs");
		return;
	}
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/task-filter", dbg, attrs[i]);
		write_file(path, "Y");
		snprintf(path, sizeof(path), "%s/%s/verbose", dbg, attrs[i]);
		write_file(path, "0");
	}
	snprintf(path, sizeof(path), "%s/failslab/ignore-gfp-wait", dbg);
	write_file(path, "N");
	snprintf(path, sizeof(path), "%s/fail_page_alloc/ignore-gfp-wait", dbg);
	write_file(path, "N");
	/* The module's KUnit suites would run (and fail) on every load. */
	write_file("/sys/module/kunit/parameters/filter_glob", "dmabuf_none_at_load");
	/*
	 * The kernel's own code warns when an injected fault fails it: the
	 * trace events' field definitions of the module being loaded
	 * (WARN_ON_ONCE in event_define_fields). Only between these markers,
	 * and make check accepts that site only (selftests/run-all.sh).
	 */
	write_file("/dev/kmsg", "dmabuf-rs-test: expected warnings begin (module load under fault injection)\n");
	/*
	 * How many points a whole load has: a clean load with a count too big
	 * to reach, and what is left of it. The module's own init is the end
	 * of the load: every point of the last 300 is tried, and one in 8
	 * before them (the module loader's own allocations, before any of
	 * the core's code runs).
	 */
	pwrite(nth, "1000000", 7, 0);
	total = syscall(__NR_finit_module, kofd, "", 0) ? -1 : 0;
	buf[0] = 0;
	if (!total && pread(nth, buf, sizeof(buf) - 1, 0) > 0)
		total = 1000000 - atol(buf);
	pwrite(nth, "0", 1, 0);
	if (!rmmod_core())
		unload_failed++;
	lf_stop = 0;
	pthread_create(&t, NULL, load_fault_opener, NULL);
	for (n = 1; n <= 3000; n += n < total - 300 ? 8 : 1) {
		int r, e, reached;

		snprintf(buf, sizeof(buf), "%d", n);
		if (pwrite(nth, buf, strlen(buf), 0) < 0)
			break;
		r = syscall(__NR_finit_module, kofd, "", 0);
		e = errno;
		r = r ? -e : 0;
		buf[0] = 0;
		reached = pread(nth, buf, sizeof(buf) - 1, 0) > 0 && atoi(buf) == 0;
		pwrite(nth, "0", 1, 0);
		if (!reached && !r) {
			/* Past the last point: a clean load; unload it. */
			if (!rmmod_core())
				unload_failed++;
			break;
		}
		points++;
		if (r) {
			failures++;
			if (e != ENOMEM && e != EFAULT && e != EINVAL && e != ENOSPC && e != EBUSY) {
				if (!bad)
					printf("# load fault %d: finit_module gave %s\n", n, strerrorname_np(e));
				bad = e;
			}
			if (dir_entries("/dev/dma_heap") > 0 || dir_entries("/sys/class/dma_heap") > 0) {
				if (!leftover)
					printf("# load fault %d: %s failed but left heap nodes behind\n", n,
					       strerrorname_np(e));
				leftover++;
			}
		} else {
			/* The fault was absorbed: the core works, and unloads. */
			for (int tries = 0; tries < 50 && !rmmod_core(); tries++)
				usleep(20000);
			if (access("/dev/dma_heap/system", F_OK) == 0)
				unload_failed++;
		}
	}
	lf_stop = 1;
	pthread_join(t, NULL);
	write_file("/dev/kmsg", "dmabuf-rs-test: expected warnings end\n");
	write_file("/sys/module/kunit/parameters/filter_glob", "dmabuf*");
	close(kofd);
	close(nth);
	printf("# load under fault injection: %ld points in a load, %d tried, %d made the load fail; the opener opened %ld times and allocated %ld times\n",
	       total, points, failures, lf_opens, lf_allocs);
	result(total > 300 && points > 300 && n <= 3000 && !bad && !leftover && !unload_failed,
	       "load under fault injection racing an opener: every point gives a clean load or a clean errno with nothing left registered");
	result(system("modprobe dmabuf_rs") == 0, "the core loads again after the faults");
}

/*
 * "rmmod" mode (Rust kernels only): the core cannot be removed while a heap
 * file, a buffer fd, a mapping of a buffer or an O_PATH file of a closed
 * buffer is alive, can once all are gone, and works again after it is
 * loaded again; then the unload race and the load cycles.
 *   dmabuf_heaps rmmod [RACE_ROUNDS (5)] [CYCLES (20)]
 */
static int rmmod_test(int race_rounds, int cycles)
{
	int heap, fd;
	void *p;

	printf("TAP version 13\n");
	/*
	 * Importers and test modules use the core; take every other module
	 * out first, users before what they use (busybox modprobe -r fails on
	 * already-removed shared dependencies, so rmmod in rounds).
	 */
	system("for round in 1 2 3 4 5 6; do for m in $(cut -d' ' -f1 /proc/modules); do "
	       "[ \"$m\" = dmabuf_rs ] || rmmod \"$m\" 2>/dev/null; done; done");
	result(system("test \"$(cut -d' ' -f1 /proc/modules)\" = dmabuf_rs") == 0,
	       "only the core is left loaded");
	heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	result(heap >= 0 && !rmmod_core(), "rmmod fails while a heap file is open");
	alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd);
	close(heap);
	result(fd >= 0 && !rmmod_core(), "rmmod fails while a buffer fd is open");
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	result(p != MAP_FAILED && !rmmod_core(), "rmmod fails while a mapping of a closed buffer is alive");
	munmap(p, 1 << 20);
	/* An O_PATH file of a buffer's fd holds its dentry, and so the buffer. */
	heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	if (alloc(heap, 4096, O_RDWR | O_CLOEXEC, &fd) == 0) {
		char path[64];
		int opath;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		opath = open(path, O_PATH | O_CLOEXEC);
		close(fd);
		close(heap);
		result(opath >= 0 && !rmmod_core(), "rmmod fails while an O_PATH file of a closed buffer is open");
		close(opath);
	} else {
		result(0, "ALLOC for the O_PATH case");
		close(heap);
	}
	result(rmmod_core(), "rmmod succeeds once everything is gone");
	result(access("/dev/dma_heap/system", F_OK) != 0, "the heap devices are gone");
	result(system("modprobe dmabuf_rs") == 0, "the core loads again");
	heap = open("/dev/dma_heap/default_cma_region", O_RDWR | O_CLOEXEC);
	result(heap >= 0 && alloc(heap, 1 << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "heaps work after reloading");
	close(fd);
	close(heap);
	unload_race(race_rounds);
	load_cycles(cycles);
	load_faults();
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}

/*
 * "bigcma MB" mode (guest with cma= of more than MB): a CMA-heap buffer of
 * MB MiB, mapped by the test module's importer. At 4 GiB and more one
 * contiguous chunk is longer than a table entry can say (issue 8, defect
 * 5): the table must split it, like upstream, and map all of it, every
 * time (kmemleak watches the tables).
 */
/*
 * CMA buffers of each size in sizes[] (MiB), each mapped three times by an
 * importer; a size above 4 GiB needs a table entry longer than one can
 * say (issue 8, defect 5).
 */
static int bigcma_test(char **sizes, int n)
{
	struct dmabuf_test_import im = { 0 };
	int heap, dev;

	printf("TAP version 13\n");
	heap = open("/dev/dma_heap/default_cma_region", O_RDWR | O_CLOEXEC);
	dev = open("/dev/dmabuf_test", O_RDWR | O_CLOEXEC);
	result(heap >= 0 && dev >= 0, "the CMA heap and the test module are there");
	if (heap < 0 || dev < 0)
		return 1;
	for (int s = 0; s < n; s++) {
		long mb = atol(sizes[s]);
		unsigned long long nents = 0, bytes = 0;
		int fd = -1, ok = 1;

		result(alloc(heap, (__u64)mb << 20, O_RDWR | O_CLOEXEC, &fd) == 0, "ALLOC of %ld MiB from the CMA heap", mb);
		if (fd < 0)
			continue;
		for (int i = 0; i < 3; i++) {
			im.fd = fd;
			if (ioctl(dev, DMABUF_TEST_MAPINFO, &im)) {
				ok = 0;
				printf("# map %d: %s\n", i, strerror(errno));
				break;
			}
			if (i && (im.nents != nents || im.mapped_bytes != bytes))
				ok = 0;
			nents = im.nents;
			bytes = im.mapped_bytes;
		}
		result(ok && bytes == (unsigned long long)mb << 20,
		       "%ld MiB mapped three times by an importer: all of it each time, in %llu entries", mb, nents);
		close(fd);
	}
	close(dev);
	close(heap);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}

/* A cgroup v2 file of the test cgroup, as a number (-1 if unreadable). */
static long cg_read(const char *name)
{
	char path[128], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/dmabuf-test/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = atol(buf);
		fclose(f);
	}
	return v;
}

/*
 * The heap parameter mem_accounting (issue 9): with it, a system-heap
 * buffer is charged to the allocating task's memory cgroup while it lives
 * (upstream allocates its pages with __GFP_ACCOUNT); without it, nothing is
 * charged. The CMA heap never charges. The parameter is read where the
 * kernel shows it: /sys/module/dma_heap (built in, as upstream) or
 * /sys/module/dmabuf_rs (the module).
 */
static int memcg_test(void)
{
	const long mb = 64, len = mb << 20;
	char acct = '?', buf[16];
	long before, during, after;
	int heap, fd, f;

	f = open("/sys/module/dma_heap/parameters/mem_accounting", O_RDONLY);
	if (f < 0)
		f = open("/sys/module/dmabuf_rs/parameters/mem_accounting", O_RDONLY);
	if (f >= 0 && read(f, buf, 1) == 1)
		acct = buf[0];
	if (f >= 0)
		close(f);
	result(acct == 'Y' || acct == 'N', "mem_accounting is shown in /sys/module (%c)", acct);
	mkdir("/sys/fs/cgroup", 0755);
	mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL);
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir("/sys/fs/cgroup/dmabuf-test", 0755);
	snprintf(buf, sizeof(buf), "%d", getpid());
	if (write_file("/sys/fs/cgroup/dmabuf-test/cgroup.procs", buf) || cg_read("memory.current") < 0) {
		result(0, "memcg: a cgroup v2 with the memory controller for this task");
		return 1;
	}
	heap = open("/dev/dma_heap/system", O_RDWR);
	before = cg_read("memory.current");
	if (heap < 0 || alloc(heap, len, O_RDWR | O_CLOEXEC, &fd)) {
		result(0, "memcg: allocate %ld MiB from the system heap", mb);
		return 1;
	}
	during = cg_read("memory.current");
	close(fd);
	after = cg_read("memory.current");
	printf("# memory.current: %ld before, %ld with the buffer, %ld after close\n", before,
	       during, after);
	/* What the buffer changed, to the byte, is compared with the C core. */
	printf("data memcg: a %ld MiB buffer changed memory.current by %+ld bytes, %+ld after close\n",
	       mb, during - before, after - before);
	if (acct == 'Y') {
		result(during - before >= len / 8 * 7, "memcg: with mem_accounting a %ld MiB system-heap buffer is charged to the allocating task's cgroup", mb);
		result(during - after >= len / 8 * 7, "memcg: and uncharged when it is freed");
	} else {
		result(during - before < len / 4, "memcg: without mem_accounting a %ld MiB system-heap buffer is not charged", mb);
	}
	close(heap);
	heap = open("/dev/dma_heap/default_cma_region", O_RDWR);
	before = cg_read("memory.current");
	if (heap >= 0 && !alloc(heap, 16 << 20, O_RDWR | O_CLOEXEC, &fd)) {
		during = cg_read("memory.current");
		close(fd);
		result(during - before < 4 << 20, "memcg: a 16 MiB CMA-heap buffer is not charged (%s)",
		       acct == 'Y' ? "mem_accounting on" : "mem_accounting off");
	} else {
		result(0, "memcg: allocate 16 MiB from the CMA heap");
	}
	if (heap >= 0)
		close(heap);
	write_file("/sys/fs/cgroup/cgroup.procs", buf);
	rmdir("/sys/fs/cgroup/dmabuf-test");
	printf("1..%d\n", test_no);
	return failed != 0;
}

int main(int argc, char **argv)
{
	long area = (argc > 1 && strcmp(argv[1], "rmmod") ? atol(argv[1]) : 128) << 20;

	if (argc > 2 && !strcmp(argv[1], "bigcma"))
		return bigcma_test(argv + 2, argc - 2);
	if (argc > 1 && !strcmp(argv[1], "memcg"))
		return memcg_test();
	if (argc > 1 && !strcmp(argv[1], "oom")) {
		/* Its own run: it fills the guest's RAM. */
		printf("TAP version 13\n");
		alloc_beyond_ram();
		printf("1..%d\n", test_no);
		return failed ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "rmmod"))
		return rmmod_test(argc > 2 ? atoi(argv[2]) : 5, argc > 3 ? atoi(argv[3]) : 20);
	if (argc > 1 && !strcmp(argv[1], "cc-shared")) {
		/* The system_cc_shared heap (registered in an ordinary guest by
		 * a debug parameter) beside the system heap: the host requires
		 * the same results from both. */
		printf("TAP version 13\n");
		memcg_join(HEAPS_CG);
		result(access("/dev/dma_heap/system_cc_shared", F_OK) == 0,
		       "/dev/dma_heap/system_cc_shared exists");
		common_rows("system");
		common_rows("system_cc_shared");
		printf("1..%d\n", test_no);
		return failed ? 1 : 0;
	}

	if (access("/dev/dma_heap", F_OK)) {
		printf("1..0 # SKIP no /dev/dma_heap\n");
		return 0;
	}
	printf("TAP version 13\n");
	memcg_join(HEAPS_CG);
	common_rows("system");
	common_rows("default_cma_region");
	common_rows("reserved");
	system_rows();
	cma_rows("default_cma_region", area);
	cve_rows("system");
	cve_rows("default_cma_region");
	kill_during_alloc();
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
