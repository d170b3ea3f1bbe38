// SPDX-License-Identifier: GPL-2.0
/*
 * The system heap's pool of zeroed pages (issue 23; heaps/pool.rs), not in
 * the C core: the page_pool_size parameter (dma_heap. built in,
 * dmabuf_rs. as a module) and its line in dma_buf/owners; freed buffers'
 * pages kept, zeroed in the background or at free, and handed to a new
 * buffer of another process with no byte of their old data, also while
 * the worker cannot run and under injected allocation faults; the memcg
 * charge of a reused page going to its new owner; the cap; and the pool
 * given back to drop_caches and to memory pressure without an OOM kill.
 *
 *   dmabuf_pool    TAP. Boot with page_pool_size=16384 (under the
 *                  module's or the built-in name) and mem_accounting=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "heap.h"
#include "memcg.h"
#include "failnth.h"
#include "tap.h"
#include "phase.h"

#define PAGE 4096L
#define MIB (1L << 20)
#define BOOT_SIZE 16384L
#define PATTERN 0xa5

static char param[96], zero_param[96];

/* The pool's line of dma_buf/owners. */
struct pool {
	int present;
	long pages, clean, dirty, limit, reused, zeroed, zero_ns;
};

static struct pool pool_read(void)
{
	struct pool p = { 0 };
	char line[512];
	FILE *f = fopen("/sys/kernel/debug/dma_buf/owners", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "pool heap=system pages=%ld clean=%ld dirty=%ld limit=%ld reused=%ld zeroed=%ld zero_ns=%ld",
			   &p.pages, &p.clean, &p.dirty, &p.limit, &p.reused, &p.zeroed, &p.zero_ns) == 7)
			p.present = 1;
	if (f)
		fclose(f);
	return p;
}

static long read_long(const char *path)
{
	char v[64] = "";
	FILE *f = fopen(path, "r");

	if (!f || !fgets(v, sizeof(v), f))
		v[0] = 0;
	if (f)
		fclose(f);
	return v[0] ? (v[0] == 'Y' ? 1 : v[0] == 'N' ? 0 : atol(v)) : -1;
}

static void set_long(const char *path, long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", v);
	write_file(path, s);
}

/* Waits up to 5 s for the worker to have zeroed every dirty page. */
static struct pool pool_settled(void)
{
	struct pool p = pool_read();

	for (int i = 0; i < 50 && p.dirty; i++) {
		usleep(100 * 1000);
		p = pool_read();
	}
	return p;
}

/* Empties the pool (lowering the cap frees the excess at once) and sets
 * the cap to `cap` pages. */
static void pool_reset(long cap)
{
	/* A buffer still being freed (a delayed fput) may refill it: again. */
	for (int i = 0; i < 100; i++) {
		set_long(param, 0);
		if (pool_read().pages == 0)
			break;
		usleep(10 * 1000);
	}
	set_long(param, cap);
}

/* A buffer of len bytes filled with the pattern, then freed. */
static int free_dirty(size_t len)
{
	int fd = heap_alloc("system", len);
	void *p;

	if (fd < 0)
		return -1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -1;
	}
	memset(p, PATTERN, len);
	munmap(p, len);
	close(fd);
	return 0;
}

/* Bytes of an fd's buffer that are not zero (-1 if it cannot be read). */
static long nonzero_bytes(int fd, size_t len)
{
	const unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	long n = 0;

	if (p == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < len; i++)
		n += p[i] != 0;
	munmap((void *)p, len);
	return n;
}

/* In a new process: allocates len bytes and counts its non-zero bytes;
 * that count (0..254, 254 meaning "or more"), or 255 if the ALLOC failed. */
static int child_nonzero(size_t len)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = heap_alloc("system", len);
		long n;

		if (fd < 0)
			_exit(255);
		n = nonzero_bytes(fd, len);
		/* Closed here, the buffer is freed before the exit: an fd the
		 * exit closes is freed later, by a delayed fput. */
		close(fd);
		_exit(n < 0 ? 255 : n > 254 ? 254 : n);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 255;
	return WEXITSTATUS(st);
}

static void reuse(void)
{
	static const size_t sizes[] = { PAGE, 64 << 10, MIB, 4 * MIB + (68 << 10), 24 * MIB };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		struct pool a, b, c;
		int nz;

		pool_reset(BOOT_SIZE);
		a = pool_read();
		free_dirty(len);
		b = pool_settled();
		nz = child_nonzero(len);
		c = pool_read();
		result(b.pages - a.pages == (long)(len / PAGE) && b.dirty == 0 && b.zeroed - a.zeroed >= (long)(len / PAGE),
		       "%zu KiB: the freed buffer's %zu pages enter the pool and are zeroed in the background (pages %ld -> %ld, dirty %ld, zeroed +%ld)",
		       len >> 10, len / PAGE, a.pages, b.pages, b.dirty, b.zeroed - a.zeroed);
		result(nz == 0 && c.reused - b.reused == (long)(len / PAGE),
		       "%zu KiB: another process's new buffer is those pages (reused +%ld) and every byte reads 0 (%d non-zero%s)",
		       len >> 10, c.reused - b.reused, nz == 255 ? -1 : nz, nz == 255 ? ", ALLOC failed" : "");
	}
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Holding the pool's worker off: every CPU but 0 runs a spinning
 * SCHED_FIFO task and the caller runs SCHED_FIFO on CPU 0, with RT
 * throttling off, so no SCHED_OTHER task (the kworker that runs the
 * pool's work item included) runs until hold_end(). A child the caller
 * forks meanwhile inherits its policy and CPU.
 */
struct hold {
	volatile int stop, ready, refused;
	long rt;
	/* What the test's child saw (worker_behind). */
	long nonzero;
	struct pool at_alloc;
};

static struct hold *hold;

/* 1 when every CPU is held, 0 if SCHED_FIFO or the RT knob was refused
 * (then nothing is held). */
static int hold_begin(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct sched_param sp = { .sched_priority = 50 };
	cpu_set_t cpus;

	if (!hold)
		hold = mmap(NULL, sizeof(*hold), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (hold == MAP_FAILED) {
		hold = NULL;
		return 0;
	}
	memset((void *)hold, 0, sizeof(*hold));
	hold->rt = read_long("/proc/sys/kernel/sched_rt_runtime_us");
	if (hold->rt == -1 || write_file("/proc/sys/kernel/sched_rt_runtime_us", "-1"))
		return 0;
	for (long cpu = 1; cpu < ncpu; cpu++) {
		if (fork() == 0) {
			double end = now_s() + 15;

			CPU_ZERO(&cpus);
			CPU_SET(cpu, &cpus);
			if (sched_setaffinity(0, sizeof(cpus), &cpus) || sched_setscheduler(0, SCHED_FIFO, &sp))
				__sync_fetch_and_add(&hold->refused, 1);
			__sync_fetch_and_add(&hold->ready, 1);
			while (!hold->stop && now_s() < end)
				;
			_exit(0);
		}
	}
	for (int i = 0; i < 1000 && hold->ready < ncpu - 1; i++)
		usleep(10 * 1000);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (!hold->refused && hold->ready == ncpu - 1 && !sched_setaffinity(0, sizeof(cpus), &cpus) &&
	    !sched_setscheduler(0, SCHED_FIFO, &sp))
		return 1;
	printf("# could not hold the CPUs: %d of %ld spinners refused SCHED_FIFO, %d ready\n", hold->refused, ncpu - 1,
	       hold->ready);
	return 0;
}

static void hold_end(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (!hold)
		return;
	hold->stop = 1;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	if (hold->rt != -1)
		set_long("/proc/sys/kernel/sched_rt_runtime_us", hold->rt);
	while (wait(NULL) > 0)
		;
}

/*
 * The worker held off: the test frees a patterned buffer and waits for a
 * child to allocate the same length and check it. The pool then holds
 * only dirty pages, which must not be handed out.
 */
static void worker_behind(void)
{
	const size_t len = 8 * MIB;
	struct pool before, freed;
	pid_t pid;
	int held;

	pool_reset(BOOT_SIZE);
	held = hold_begin();
	before = pool_read();
	free_dirty(len);
	freed = pool_read();
	pid = fork();
	if (pid == 0) {
		int fd = heap_alloc("system", len);

		hold->at_alloc = pool_read();
		hold->nonzero = fd < 0 ? -2 : nonzero_bytes(fd, len);
		if (fd >= 0)
			close(fd);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	hold_end();
	result(held && freed.dirty - before.dirty == (long)(len / PAGE) && hold->at_alloc.dirty == freed.dirty,
	       "worker behind (every CPU held%s): the freed 8 MiB wait dirty in the pool (dirty %ld -> %ld, still %ld at the next ALLOC)",
	       held ? "" : ": NOT, see above", before.dirty, freed.dirty, hold->at_alloc.dirty);
	result(hold->nonzero == 0 && hold->at_alloc.reused == freed.reused,
	       "worker behind: another process's 8 MiB buffer gets none of them (reused +%ld) and reads 0 (%ld non-zero bytes)",
	       hold->at_alloc.reused - freed.reused, hold->nonzero);
	freed = pool_settled();
	result(freed.dirty == 0 && freed.clean >= (long)(len / PAGE),
	       "worker behind: once it runs, the worker zeroes them (clean %ld, dirty %ld)", freed.clean, freed.dirty);
}

/* Zeroing at free, with the worker held off: only the free can have
 * zeroed the pages found clean right after it. */
static void zero_at_free(void)
{
	const size_t len = 4 * MIB;
	struct pool a, b, c;
	int nz, held;

	pool_reset(BOOT_SIZE);
	set_long(zero_param, 1);
	held = hold_begin();
	a = pool_read();
	free_dirty(len);
	b = pool_read();
	hold_end();
	nz = child_nonzero(len);
	c = pool_read();
	set_long(zero_param, 0);
	printf("# zeroing 4 MiB at free took %ld ns\n", b.zero_ns - a.zero_ns);
	result(held && b.clean - a.clean == (long)(len / PAGE) && b.dirty == 0 && b.zeroed - a.zeroed == (long)(len / PAGE),
	       "page_pool_zero_at_free: with the worker held off, the free itself zeroes the 4 MiB (clean +%ld, dirty %ld, zeroed +%ld)",
	       b.clean - a.clean, b.dirty, b.zeroed - a.zeroed);
	result(nz == 0 && c.reused - b.reused == (long)(len / PAGE),
	       "page_pool_zero_at_free: another process's buffer reuses them (reused +%ld) and reads 0 (%d non-zero)",
	       c.reused - b.reused, nz);
}

/* Runs `len` bytes of ALLOC in cgroup `cg` in a new process, which holds
 * the buffer until `release` is written to its pipe; its pid. */
static long charged_in(const char *cg, size_t len, long *held)
{
	int to[2], from[2];
	long v = LONG_MIN;
	pid_t pid;
	char c;

	if (pipe(to) || pipe(from))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd;

		memcg_join(cg);
		fd = heap_alloc("system", len);
		write(from[1], "x", 1);
		read(to[0], &c, 1);
		if (fd >= 0)
			close(fd);
		_exit(fd < 0);
	}
	read(from[0], &c, 1);
	*held = memcg_heap_bytes(cg);
	write(to[1], "x", 1);
	waitpid(pid, NULL, 0);
	v = memcg_settle(cg, *held - (long)len, 2);
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	return v;
}

static void charge(void)
{
	const size_t len = 8 * MIB;
	long a0, b0, a_held, a_after, b_held, b_after, a_end;
	struct pool p0, p1, p2;

	if (memcg_make("pool-a") || memcg_make("pool-b") || read_long("/sys/module/dmabuf_rs/parameters/mem_accounting") == 0 ||
	    read_long("/sys/module/dma_heap/parameters/mem_accounting") == 0) {
		result(0, "memcg: no memory cgroup, or mem_accounting is off (boot with it)");
		result(0, "memcg: (skipped with the above)");
		return;
	}
	pool_reset(BOOT_SIZE);
	a0 = memcg_heap_bytes("pool-a");
	b0 = memcg_heap_bytes("pool-b");
	p0 = pool_read();
	a_after = charged_in("pool-a", len, &a_held);
	p1 = pool_settled();
	b_after = charged_in("pool-b", len, &b_held);
	p2 = pool_read();
	a_end = memcg_heap_bytes("pool-a");
	printf("# memcg: pool-a %ld -> %ld while held -> %ld after, pool-b %ld -> %ld -> %ld, pool-a at the end %ld\n", a0,
	       a_held, a_after, b0, b_held, b_after, a_end);
	result(memcg_within(a_held - a0, len, 2) && memcg_within(a_after, a0, 2) && p1.pages - p0.pages == (long)(len / PAGE),
	       "memcg: an 8 MiB buffer is charged to its cgroup, which is uncharged when its pages enter the pool (pool +%ld pages)",
	       p1.pages - p0.pages);
	result(p2.reused - p1.reused == (long)(len / PAGE) && memcg_within(b_held - b0, len, 2) && memcg_within(b_after, b0, 2) &&
		       memcg_within(a_end, a0, 2),
	       "memcg: the next owner of those pages, in another cgroup, is charged for them (reused +%ld) and the first is not",
	       p2.reused - p1.reused);
}

static void cap(void)
{
	struct pool p;

	pool_reset(1024);
	free_dirty(8 * MIB);
	p = pool_settled();
	result(p.pages <= 1024 && p.pages >= 768 && p.limit == 1024,
	       "a cap of 1024 pages: an 8 MiB buffer's free keeps at most that (%ld pages)", p.pages);
	set_long(param, 256);
	p = pool_read();
	result(p.pages <= 256 && p.pages > 0, "a cap lowered to 256: the write trims the pool to it at once (%ld pages)", p.pages);
	set_long(param, 0);
	p = pool_read();
	result(!p.present, "a cap of 0: the write empties the pool, and dma_buf/owners has no pool line");
	set_long(param, BOOT_SIZE);
}

static long meminfo(const char *key)
{
	char line[128];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1) * 1024;
	if (f)
		fclose(f);
	return v;
}

/* Fills the pool with `bytes` of freed 16 MiB buffers; the pool's pages. */
static long fill(long bytes)
{
	long n = bytes / (16 * MIB);
	int *fds = calloc(n, sizeof(int));

	for (long i = 0; i < n; i++)
		fds[i] = heap_alloc("system", 16 * MIB);
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return pool_settled().pages;
}

static void pressure(void)
{
	long pooled, left, want, st_ok, free_before;
	struct pool p;
	pid_t pid;
	int st;

	pool_reset(BOOT_SIZE);
	pooled = fill(64 * MIB);
	write_file("/proc/sys/vm/drop_caches", "2");
	p = pool_read();
	result(pooled == 16384 && p.pages == 0, "drop_caches gives the pool back to the page allocator (%ld pages -> %ld)",
	       pooled, p.pages);

	/* Half the memory in the pool, then a process that needs all but a
	 * sixteenth of it, and what was free, back. */
	set_long(param, meminfo("MemTotal") / PAGE);
	pooled = fill(meminfo("MemFree") / 2) * PAGE;
	free_before = meminfo("MemFree");
	want = free_before + pooled - pooled / 16 - 64 * MIB;
	pid = fork();
	if (pid == 0) {
		char *m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			_exit(2);
		for (long i = 0; i < want; i += PAGE)
			m[i] = 1;
		_exit(0);
	}
	st_ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	left = pool_read().pages * PAGE;
	printf("# memory pressure: a process touching %ld MiB, %ld MiB more than was free, ended %s; the pool held %ld MiB, %ld MiB after\n",
	       want / MIB, (want - free_before) / MIB, st_ok ? "with exit 0" : WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "badly",
	       pooled / MIB, left / MIB);
	result(pooled > 256 * MIB && st_ok && left < pooled / 8,
	       "memory pressure: a process that needs most of the pool's memory runs to its end as the shrinker gives the pool back");
	set_long(param, BOOT_SIZE);
}

static void faults(void)
{
	const size_t len = MIB + (64 << 10) + PAGE;
	int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	int points = 0, errs = 0, other = 0, dirty_out = 0, bad = 0, n;
	long free0, free1;
	struct pool p;

	if (fail_nth_setup() && nth >= 0) {
		close(nth);
		nth = -1;
	}
	pool_reset(0);
	write_file("/proc/sys/vm/drop_caches", "2");
	free0 = meminfo("MemFree");
	set_long(param, BOOT_SIZE);
	for (n = 1; nth >= 0 && n < 2000; n++) {
		char s[16] = "";
		int l = snprintf(s, sizeof(s), "%d", n), fd, e;
		long nz;

		/* The pool holds this length's chunks, patterned and zeroed. */
		free_dirty(len);
		pool_settled();
		pwrite(nth, s, l, 0);
		fd = heap_alloc("system", len);
		e = errno;
		pread(nth, s, sizeof(s) - 1, 0);
		pwrite(nth, "0", 1, 0);
		p = pool_read();
		bad += p.pages != p.clean + p.dirty || p.pages > BOOT_SIZE;
		if (fd >= 0) {
			nz = nonzero_bytes(fd, len);
			dirty_out += nz != 0;
			close(fd);
			if (atoi(s) != 0)
				break;
			continue;
		}
		points++;
		if (e != ENOMEM && e != EFAULT) {
			errs++;
			other = e;
		}
	}
	if (nth >= 0)
		close(nth);
	pool_reset(0);
	write_file("/proc/sys/vm/drop_caches", "2");
	free1 = meminfo("MemFree");
	for (int i = 0; i < 30 && free0 - free1 > 4 * MIB; i++) {
		usleep(100 * 1000);
		free1 = meminfo("MemFree");
	}
	set_long(param, BOOT_SIZE);
	printf("# %d injected failures (%d with another errno than ENOMEM or EFAULT, e.g. %s); MemFree %ld KiB before, %ld after\n",
	       points, errs, other ? strerror(other) : "none", free0 >> 10, free1 >> 10);
	result(nth >= 0 && points > 0 && !errs && !dirty_out && !bad,
	       "injected failures of an ALLOC served from the pool: ENOMEM or EFAULT; every buffer that was made reads 0 (%d did not); the counts stay consistent (%d times not)",
	       dirty_out, bad);
	result(free0 - free1 <= 4 * MIB, "after them and the pool emptied, MemFree is back to within 4 MiB: no chunk was lost");
}

int main(void)
{
	struct pool p;
	long v;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	wait_for("the set-up");
	printf("TAP version 13\n");
	strcpy(param, "/sys/module/dma_heap/parameters/page_pool_size");
	strcpy(zero_param, "/sys/module/dma_heap/parameters/page_pool_zero_at_free");
	if (access(param, R_OK)) {
		strcpy(param, "/sys/module/dmabuf_rs/parameters/page_pool_size");
		strcpy(zero_param, "/sys/module/dmabuf_rs/parameters/page_pool_zero_at_free");
	}
	if (access(param, R_OK)) {
		printf("1..0 # SKIP no page_pool_size parameter (the C core has no pool)\n");
		return 0;
	}
	printf("1..%d\n", 26);

	v = read_long(param);
	fd = heap_alloc("system", PAGE);
	close(fd);
	p = pool_read();
	result(v == BOOT_SIZE && p.present && p.limit == BOOT_SIZE,
	       "%s has the boot's %ld pages (%ld), and dma_buf/owners shows the pool (limit %ld)", param, BOOT_SIZE, v,
	       p.limit);
	result(read_long(zero_param) == 0, "page_pool_zero_at_free is off by default");
	wait_for("reuse across processes");
	reuse();
	wait_for("the worker held off");
	worker_behind();
	wait_for("zeroing at free");
	zero_at_free();
	wait_for("the memcg charge");
	charge();
	wait_for("the cap");
	cap();
	wait_for("memory pressure");
	pressure();
	wait_for("the fault injection");
	faults();
	return failed ? 1 : 0;
}
