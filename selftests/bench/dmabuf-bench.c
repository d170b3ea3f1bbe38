// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark program of `make bench` (selftests/bench/run-bench.sh):
 * operations B1-B10 of BENCHMARKS.md and their reference floors (and
 * B11, the Rust core's opt-in pool of zeroed pages), run
 * inside the guest on the stock (C) and on our (Rust) kernel. One static
 * binary for both kernels; the same heap names exist on both.
 *
 *   dmabuf-bench icount|wall [--batches N]
 *   dmabuf-bench profile OP HEAP SIZE N [--batches N]
 *
 * "icount" runs the CPU-bound rows (the guest runs under QEMU -icount, so
 * CLOCK_MONOTONIC counts guest instructions), "wall" the memory-bound rows
 * (zeroing, page touch) and the 2-thread row under plain TCG.
 *
 * "profile" (selftests/bench/profile.sh) runs one row's operation OP
 * (see prof_ops below) on HEAP with SIZE-byte buffers: first timed as the
 * row is (warm-ups, then --batches batches, 10 by default), then N more
 * times between the markers of the insn-profile QEMU plugin, which counts
 * the kernel's instructions per address in between. It prints
 *   T,ref,row,batches,k,ns_per_op   the row's median, timed as make bench does
 *   T,profiled,ops,ns,pairs         the profiled run: operations, ns in all
 *                                   (between the clock reads), marker pairs
 *
 * Output, one record a line, read by run-bench.sh:
 *   R,op,heap,size,batch,k,ns   one timed batch of k operations (ns in all)
 *   I,key,value                 facts about the guest (clocksource, ...)
 *   M,heap,count,field,bytes    B9 footprint: meminfo/slabinfo deltas
 *   P,text                      progress
 *   E,op,heap,size,text         an operation that could not be measured
 * Nothing here judges the numbers: the host compares the kernels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../kmod/dmabuf_bench.h"

#define KiB 1024UL
#define MiB (1024UL * 1024)

static const char *const heaps[] = { "system", "default_cma_region" };
#define NHEAPS 2
static int heap_fd[NHEAPS];
static int nbatches = 30;	/* timed batches per row (BENCHMARKS.md: >= 30) */
static int bench_dev = -1;	/* /dev/dmabuf_bench */
static int errors;

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void emit(const char *op, const char *heap, size_t size, int batch, long k, uint64_t ns)
{
	printf("R,%s,%s,%zu,%d,%ld,%llu\n", op, heap, size, batch, k, (unsigned long long)ns);
}

static void fail(const char *op, const char *heap, size_t size, const char *what)
{
	printf("E,%s,%s,%zu,%s: %s\n", op, heap, size, what, strerror(errno));
	errors++;
}

static void progress(const char *fmt, ...)
{
	va_list ap;

	printf("P,");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int warmups(size_t size)
{
	return size >= 16 * MiB ? 1 : 3;
}

/* Operations per batch: about the same batch time for every size. */
static long k_for(size_t size, long small)
{
	if (size <= 64 * KiB)
		return small;
	if (size <= MiB)
		return small / 8 > 0 ? small / 8 : 1;
	return 1;
}

static int heap_alloc(int h, size_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (ioctl(heap_fd[h], DMA_HEAP_IOCTL_ALLOC, &d))
		return -1;
	return (int)d.fd;
}

/* A generic timed batch: returns the batch's ns, or UINT64_MAX on error. */
typedef uint64_t (*batch_fn)(void *ctx, long k);

static void run(const char *op, const char *heap, size_t size, long k, batch_fn fn, void *ctx)
{
	int b, w = warmups(size);
	uint64_t ns;

	for (b = -w; b < nbatches; b++) {
		ns = fn(ctx, k);
		if (ns == UINT64_MAX) {
			fail(op, heap, size, "operation failed");
			return;
		}
		if (b >= 0)
			emit(op, heap, size, b, k, ns);
	}
	fflush(stdout);
}

/* ---- floors ---- */

struct fd_ctx {
	int fd;
	int fd2;
	size_t size;
	unsigned long arg;
	char path[64];
};

static uint64_t b_unknown_ioctl(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	/* ENOTTY from a dma-buf, EINVAL from the heap device: any error. */
	for (i = 0; i < k; i++)
		if (ioctl(c->fd, _IO('b', 0x7f)) != -1)
			return UINT64_MAX;
	return now_ns() - t0;
}

static uint64_t b_dup_close(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;
	int d;

	for (i = 0; i < k; i++) {
		d = dup(c->fd);
		if (d < 0)
			return UINT64_MAX;
		close(d);
	}
	return now_ns() - t0;
}

static char *membuf;

static uint64_t b_memset(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		memset(membuf, (int)i + 1, c->size);
		__asm__ volatile("" ::: "memory");
	}
	return now_ns() - t0;
}

static void touch(volatile char *m, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += 4096)
		m[off] = 1;
}

static uint64_t b_anon_touch(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		char *m = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return UINT64_MAX;
		touch(m, c->size);
		munmap(m, c->size);
	}
	return now_ns() - t0;
}

static const size_t sizes5[] = { 4 * KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB };

static void floors(int wall)
{
	struct fd_ctx c = { 0 };
	int buf;
	size_t i;

	progress("floors");
	/* The ioctl floor: an unknown ioctl on a dma-buf fd and on the heap fd. */
	buf = heap_alloc(0, 4096);
	if (buf < 0) {
		fail("floor: unknown ioctl (dma-buf fd)", "system", 4096, "ALLOC");
	} else {
		c.fd = buf;
		run("floor: unknown ioctl (dma-buf fd)", "system", 4096, 200, b_unknown_ioctl, &c);
		close(buf);
	}
	c.fd = heap_fd[0];
	run("floor: unknown ioctl (heap fd)", "system", 0, 200, b_unknown_ioctl, &c);
	/* The VFS floor. */
	c.fd = memfd_create("floor", MFD_CLOEXEC);
	run("floor: dup+close (memfd)", "-", 0, 200, b_dup_close, &c);
	close(c.fd);
	/* Zeroing bandwidth and the page-table floor, for the sizes that have rows. */
	membuf = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	for (i = 0; i < 5; i++) {
		c.size = sizes5[i];
		if (!wall && c.size > MiB)
			break;
		if (membuf != MAP_FAILED)
			run("floor: memset", "-", c.size, k_for(c.size, 64), b_memset, &c);
		run("floor: anon mmap+touch+munmap", "-", c.size, k_for(c.size, 64), b_anon_touch, &c);
	}
	if (membuf != MAP_FAILED)
		munmap(membuf, 64 * MiB);
}

/* ---- B1, B2: ALLOC + close, ALLOC alone, close alone ---- */

static void b1_b2(int h, size_t size)
{
	const char *heap = heaps[h];
	long k = k_for(size, 64), i;
	uint64_t a, c, t0, t1, t2;
	int b, fd;

	for (b = -warmups(size); b < nbatches; b++) {
		a = c = 0;
		for (i = 0; i < k; i++) {
			t0 = now_ns();
			fd = heap_alloc(h, size);
			t1 = now_ns();
			if (fd < 0) {
				fail("B1 ALLOC+close", heap, size, "DMA_HEAP_IOCTL_ALLOC");
				return;
			}
			close(fd);
			t2 = now_ns();
			a += t1 - t0;
			c += t2 - t1;
		}
		if (b < 0)
			continue;
		emit("B1 ALLOC+close", heap, size, b, k, a + c);
		emit("B2 ALLOC", heap, size, b, k, a);
		emit("B2 close", heap, size, b, k, c);
	}
	fflush(stdout);
}

/* ---- B3: mmap + touch one byte per page + munmap ---- */

static uint64_t b_mmap_touch(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		char *m = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);

		if (m == MAP_FAILED)
			return UINT64_MAX;
		touch(m, c->size);
		munmap(m, c->size);
	}
	return now_ns() - t0;
}

/* ---- B4: SYNC START+END ---- */

static uint64_t b_sync(void *p, long k)
{
	struct fd_ctx *c = p;
	struct dma_buf_sync s0 = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	struct dma_buf_sync s1 = { .flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW };
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++)
		if (ioctl(c->fd, DMA_BUF_IOCTL_SYNC, &s0) || ioctl(c->fd, DMA_BUF_IOCTL_SYNC, &s1))
			return UINT64_MAX;
	return now_ns() - t0;
}

/* ---- B5 ---- */

static uint64_t b_set_name(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++)
		if (ioctl(c->fd, DMA_BUF_SET_NAME_B, "bench-frame"))
			return UINT64_MAX;
	return now_ns() - t0;
}

static uint64_t b_export_sync_file(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };

		if (ioctl(c->fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e))
			return UINT64_MAX;
		close(e.fd);
	}
	return now_ns() - t0;
}

static uint64_t b_import_sync_file(void *p, long k)
{
	struct fd_ctx *c = p;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		struct dma_buf_import_sync_file im = { .flags = DMA_BUF_SYNC_WRITE, .fd = c->fd2 };

		if (ioctl(c->fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im))
			return UINT64_MAX;
	}
	return now_ns() - t0;
}

/* ---- B6, B7: in-kernel importer loops (/dev/dmabuf_bench) ---- */

static uint64_t b_kernel_loop(void *p, long k)
{
	struct fd_ctx *c = p;
	struct dmabuf_bench_run r = { .fd = c->fd, .op = (__u32)c->arg, .iters = (__u64)k };

	if (ioctl(bench_dev, DMABUF_BENCH_RUN, &r))
		return UINT64_MAX;
	return r.ns;
}

/* ---- B8: fd churn ---- */

static uint64_t b_fork_exit(void *p, long k)
{
	uint64_t t0 = now_ns();
	long i;
	int st;

	(void)p;
	for (i = 0; i < k; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return UINT64_MAX;
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &st, 0) != pid)
			return UINT64_MAX;
	}
	return now_ns() - t0;
}

static uint64_t b_fdinfo(void *p, long k)
{
	struct fd_ctx *c = p;
	char data[1024];
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++) {
		int f = open(c->path, O_RDONLY | O_CLOEXEC);

		if (f < 0 || read(f, data, sizeof(data)) <= 0)
			return UINT64_MAX;
		close(f);
	}
	return now_ns() - t0;
}

static uint64_t b_readlink(void *p, long k)
{
	struct fd_ctx *c = p;
	char link[256];
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < k; i++)
		if (readlink(c->path, link, sizeof(link)) <= 0)
			return UINT64_MAX;
	return now_ns() - t0;
}

static void fd_churn(const char *heap, int fd, const char *suffix)
{
	struct fd_ctx c = { .fd = fd };
	char op[64];

	snprintf(op, sizeof(op), "B8 dup+close%s", suffix);
	run(op, heap, 4096, 200, b_dup_close, &c);
	snprintf(op, sizeof(op), "B8 fork+exit%s", suffix);
	run(op, heap, 4096, 4, b_fork_exit, &c);
	snprintf(c.path, sizeof(c.path), "/proc/self/fdinfo/%d", fd);
	snprintf(op, sizeof(op), "B8 fdinfo read%s", suffix);
	run(op, heap, 4096, 50, b_fdinfo, &c);
	snprintf(c.path, sizeof(c.path), "/proc/self/fd/%d", fd);
	snprintf(op, sizeof(op), "B8 readlink fd%s", suffix);
	run(op, heap, 4096, 100, b_readlink, &c);
}

/* ---- B9: many live buffers ---- */

static long meminfo_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

#define MAXSLABS 512
struct slab_snap {
	int n;
	char name[MAXSLABS][64];
	long bytes[MAXSLABS];
};

/* Bytes held by each slab cache (num_objs * objsize); 0 if no /proc/slabinfo. */
static int slab_snapshot(struct slab_snap *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");

	s->n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && s->n < MAXSLABS) {
		long active, num, objsize;
		char name[64];

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &objsize) != 4)
			continue;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
		s->bytes[s->n++] = num * objsize;
	}
	fclose(f);
	return 1;
}

static const char *const mem_fields[] = {
	"MemFree", "Slab", "SUnreclaim", "SReclaimable", "PageTables", "VmallocUsed", "Percpu", "KernelStack",
};
#define NMEM (sizeof(mem_fields) / sizeof(mem_fields[0]))

static void settle(void)
{
	int f = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (f >= 0) {
		if (write(f, "3", 1) < 0)
			;
		close(f);
	}
}

static int *live;

static void many_buffers(int h, long max)
{
	static struct slab_snap s0, s1;
	const char *heap = heaps[h];
	long mem0[NMEM], mem1, n = 0, next, i, j;
	uint64_t t0, ns;
	int have_slab, chunk = 0;
	char op[64];

	progress("B9 %s: up to %ld live 4 KiB buffers", heap, max);
	settle();
	/*
	 * Warm up as every other row does, so that the first chunk (10
	 * ALLOCs) does not time the first ALLOCs after drop_caches.
	 */
	for (i = 0; i < 10; i++) {
		int fd = heap_alloc(h, 4096);

		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < (long)NMEM; i++)
		mem0[i] = meminfo_kb(mem_fields[i]);
	have_slab = slab_snapshot(&s0);
	/* Chunks [0,10) [10,100) [100,1000), then steps of 1000. */
	while (n < max) {
		next = n < 10 ? 10 : n < 100 ? 100 : n < 1000 ? 1000 : n + 1000;
		if (next > max)
			next = max;
		t0 = now_ns();
		for (i = n; i < next; i++) {
			live[i] = heap_alloc(h, 4096);
			if (live[i] < 0)
				break;
		}
		ns = now_ns() - t0;
		if (i < next) {
			snprintf(op, sizeof(op), "B9 ALLOC @%ld live", n);
			fail(op, heap, 4096, "DMA_HEAP_IOCTL_ALLOC");
			n = i;
			break;
		}
		snprintf(op, sizeof(op), "B9 ALLOC @%ld live", n);
		emit(op, heap, 4096, chunk++, next - n, ns);
		n = next;
	}
	fflush(stdout);
	settle();
	for (i = 0; i < (long)NMEM; i++) {
		mem1 = meminfo_kb(mem_fields[i]);
		if (mem0[i] >= 0 && mem1 >= 0)
			printf("M,%s,%ld,%s,%ld\n", heap, n, mem_fields[i],
			       (mem_fields[i][0] == 'M' ? mem0[i] - mem1 : mem1 - mem0[i]) * 1024);
	}
	if (have_slab && slab_snapshot(&s1)) {
		for (i = 0; i < s1.n; i++) {
			long before = 0;

			for (j = 0; j < s0.n; j++)
				if (!strcmp(s0.name[j], s1.name[i]))
					before = s0.bytes[j];
			if (s1.bytes[i] - before > 0)
				printf("M,%s,%ld,slab:%s,%ld\n", heap, n, s1.name[i], s1.bytes[i] - before);
		}
	} else {
		printf("M,%s,%ld,no-slabinfo,0\n", heap, n);
	}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		close(live[i]);
	ns = now_ns() - t0;
	snprintf(op, sizeof(op), "B9 close all (%ld live)", n);
	emit(op, heap, 4096, 0, n, ns);
	fflush(stdout);
}

/* ---- B10: two threads ALLOC+close ---- */

struct thr {
	int h;
	size_t size;
	long k;
	pthread_barrier_t *bar;
	uint64_t start, end;
	int err;
};

static void *thr_main(void *p)
{
	struct thr *t = p;
	long i;
	int fd;

	pthread_barrier_wait(t->bar);
	t->start = now_ns();
	for (i = 0; i < t->k; i++) {
		fd = heap_alloc(t->h, t->size);
		if (fd < 0) {
			t->err = 1;
			break;
		}
		close(fd);
	}
	t->end = now_ns();
	return NULL;
}

static void two_threads(int h, size_t size)
{
	long k = k_for(size, 32);
	pthread_barrier_t bar;
	pthread_t tid[2];
	struct thr t[2];
	uint64_t s, e;
	int b, i;

	for (b = -warmups(size); b < nbatches; b++) {
		pthread_barrier_init(&bar, NULL, 2);
		for (i = 0; i < 2; i++) {
			t[i] = (struct thr){ .h = h, .size = size, .k = k, .bar = &bar };
			pthread_create(&tid[i], NULL, thr_main, &t[i]);
		}
		for (i = 0; i < 2; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&bar);
		if (t[0].err || t[1].err) {
			fail("B10 2 threads ALLOC+close", heaps[h], size, "ALLOC");
			return;
		}
		s = t[0].start < t[1].start ? t[0].start : t[1].start;
		e = t[0].end > t[1].end ? t[0].end : t[1].end;
		if (b >= 0)
			emit("B10 2 threads ALLOC+close", heaps[h], size, b, 2 * k, e - s);
	}
	fflush(stdout);
}

/* ---- the guest's clock ---- */

static void read_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");

	out[0] = 0;
	if (f) {
		if (fgets(out, (int)n, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
	if (!out[0])
		snprintf(out, n, "unknown");
}

static void clock_facts(void)
{
	char cs[128];
	struct timespec res;
	uint64_t a, b, step = UINT64_MAX;
	int i, same = 0;

	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof(cs));
	printf("I,clocksource,%s\n", cs);
	read_line("/sys/devices/system/clocksource/clocksource0/available_clocksource", cs, sizeof(cs));
	printf("I,available_clocksource,%s\n", cs);
	clock_getres(CLOCK_MONOTONIC, &res);
	printf("I,clock_getres_ns,%ld\n", res.tv_sec * 1000000000L + res.tv_nsec);
	/* The smallest step CLOCK_MONOTONIC takes: a coarse clock shows ms. */
	a = now_ns();
	for (i = 0; i < 20000; i++) {
		b = now_ns();
		if (b == a)
			same++;
		else if (b - a < step)
			step = b - a;
		a = b;
	}
	printf("I,clock_min_step_ns,%llu\n", (unsigned long long)step);
	/*
	 * A 200 ms sleep (timed by the emulated timer, i.e. the host's clock
	 * in wall mode) as CLOCK_MONOTONIC sees it: far from 200 ms means the
	 * guest's TSC frequency is wrong.
	 */
	{
		struct timespec d = { 0, 200000000 };

		a = now_ns();
		nanosleep(&d, NULL);
		printf("I,sleep_200ms_ns,%llu\n", (unsigned long long)(now_ns() - a));
	}
	printf("I,clock_repeats_of_20000,%d\n", same);
	read_line("/proc/sys/fs/nr_open", cs, sizeof(cs));
	printf("I,nr_open,%s\n", cs);
	fflush(stdout);
}

/* ---- profile mode (selftests/bench/profile.sh) ---- */

/*
 * The markers of selftests/bench/insn-profile.c: 7-byte NOPs,
 * "nopl 0x3c465250(%rax)" and "nopl 0x3e465250(%rax)". The plugin counts
 * the instructions executed between a start and the next stop; without
 * the plugin they do nothing.
 */
static inline void profile_start(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x50, 0x52, 0x46, 0x3c" ::: "memory");
}

static inline void profile_stop(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x50, 0x52, 0x46, 0x3e" ::: "memory");
}

enum prof_kind {
	PK_BATCH,	/* one batch function, as run() times it: one marker pair */
	PK_B1,		/* ALLOC + close, as b1_b2() times it: a pair per operation */
	PK_B2_ALLOC,	/* ALLOC alone */
	PK_B2_CLOSE,	/* close alone */
};

enum prof_setup {
	PS_BUF,		/* c.fd: a buffer of the heap and size */
	PS_HEAPFD,	/* c.fd: the heap's device fd */
	PS_HOLD,	/* a buffer, attached and mapped by /dev/dmabuf_bench */
	PS_SYNC_FILE,	/* a buffer, and c.fd2 a sync file exported from it */
	PS_FDINFO,	/* a buffer, c.path its /proc/self/fdinfo file */
	PS_NONE,
};

struct prof_op {
	const char *name;	/* profile.sh's OP */
	const char *row;	/* the make bench row it is */
	enum prof_kind kind;
	enum prof_setup setup;
	batch_fn fn;
	unsigned long arg;
	long k;			/* the row's operations per batch ... */
	int scaled;		/* ... for small buffers: k_for(size, k) */
};

static const struct prof_op prof_ops[] = {
	{ "ioctl-floor", "floor: unknown ioctl (dma-buf fd)", PK_BATCH, PS_BUF, b_unknown_ioctl, 0, 200, 0 },
	{ "ioctl-floor-heap", "floor: unknown ioctl (heap fd)", PK_BATCH, PS_HEAPFD, b_unknown_ioctl, 0, 200, 0 },
	{ "alloc-close", "B1 ALLOC+close", PK_B1, PS_NONE, NULL, 0, 64, 1 },
	{ "alloc", "B2 ALLOC", PK_B2_ALLOC, PS_NONE, NULL, 0, 64, 1 },
	{ "close", "B2 close", PK_B2_CLOSE, PS_NONE, NULL, 0, 64, 1 },
	{ "mmap-touch", "B3 mmap+touch+munmap", PK_BATCH, PS_BUF, b_mmap_touch, 0, 16, 1 },
	{ "sync", "B4 SYNC START+END", PK_BATCH, PS_BUF, b_sync, 0, 100, 0 },
	{ "sync-importer", "B4 SYNC START+END (importer)", PK_BATCH, PS_HOLD, b_sync, 0, 100, 0 },
	{ "set-name", "B5 SET_NAME", PK_BATCH, PS_BUF, b_set_name, 0, 100, 0 },
	{ "export-sync-file", "B5 EXPORT_SYNC_FILE+close", PK_BATCH, PS_BUF, b_export_sync_file, 0, 100, 0 },
	{ "import-sync-file", "B5 IMPORT_SYNC_FILE", PK_BATCH, PS_SYNC_FILE, b_import_sync_file, 0, 100, 0 },
	{ "attach-map", "B6 attach+map+unmap+detach", PK_BATCH, PS_BUF, b_kernel_loop,
	  DMABUF_BENCH_ATTACH_MAP, 32, 1 },
	{ "vmap-first", "B7 vmap+vunmap first", PK_BATCH, PS_BUF, b_kernel_loop, DMABUF_BENCH_VMAP_FIRST, 32, 1 },
	{ "vmap-repeat", "B7 vmap+vunmap repeated", PK_BATCH, PS_BUF, b_kernel_loop,
	  DMABUF_BENCH_VMAP_REPEAT, 100, 0 },
	{ "dup-close", "B8 dup+close", PK_BATCH, PS_BUF, b_dup_close, 0, 200, 0 },
	{ "fdinfo", "B8 fdinfo read", PK_BATCH, PS_FDINFO, b_fdinfo, 0, 50, 0 },
};
#define NPROF_OPS (sizeof(prof_ops) / sizeof(prof_ops[0]))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One B1/B2 batch of k operations timed as b1_b2() does; with "mark",
 * the operation that kind measures is between the markers. Returns the
 * ns of that operation in all, UINT64_MAX on error.
 */
static uint64_t prof_alloc_batch(enum prof_kind kind, int h, size_t size, long k, int mark)
{
	uint64_t ns = 0, t0, t1, t2;
	long i;
	int fd;

	for (i = 0; i < k; i++) {
		if (mark && kind != PK_B2_CLOSE)
			profile_start();
		t0 = now_ns();
		fd = heap_alloc(h, size);
		t1 = now_ns();
		if (mark && kind == PK_B2_ALLOC)
			profile_stop();
		if (fd < 0) {
			if (mark && kind == PK_B1)
				profile_stop();
			return UINT64_MAX;
		}
		if (mark && kind == PK_B2_CLOSE)
			profile_start();
		close(fd);
		t2 = now_ns();
		if (mark && kind != PK_B2_ALLOC)
			profile_stop();
		ns += kind == PK_B1 ? t2 - t0 : kind == PK_B2_ALLOC ? t1 - t0 : t2 - t1;
	}
	return ns;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= KiB, end++;
	else if (*end == 'M' || *end == 'm')
		v *= MiB, end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int profile_main(int argc, char **argv)
{
	const struct prof_op *op = NULL;
	struct fd_ctx c = { .fd = -1, .fd2 = -1 };
	uint64_t ns, *per_op;
	long n, k, i, batches = nbatches > 0 ? nbatches : 1;
	size_t size, j;
	int h = -1, buf = -1, held = 0, ret = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: dmabuf-bench profile OP HEAP SIZE N [--batches N]\nOP:");
		for (j = 0; j < NPROF_OPS; j++)
			fprintf(stderr, " %s", prof_ops[j].name);
		fprintf(stderr, "\n");
		return 2;
	}
	for (j = 0; j < NPROF_OPS; j++)
		if (!strcmp(argv[0], prof_ops[j].name))
			op = &prof_ops[j];
	for (i = 0; i < NHEAPS; i++)
		if (!strcmp(argv[1], heaps[i]) || (!strcmp(argv[1], "cma") && i == 1))
			h = (int)i;
	n = atol(argv[3]);
	if (!op || h < 0 || parse_size(argv[2], &size) || !size || n <= 0) {
		printf("E,%s,%s,0,profile: unknown operation, heap, size or count (%s %s %s %s)\n",
		       argv[0], argv[1], argv[0], argv[1], argv[2], argv[3]);
		return 2;
	}
	k = op->scaled ? k_for(size, op->k) : op->k;
	printf("I,profile,%s,%s,%s,%zu,%ld\n", op->name, op->row, heaps[h], size, n);

	c.size = size;
	if (op->setup == PS_HEAPFD) {
		c.fd = heap_fd[h];
	} else if (op->setup != PS_NONE) {
		buf = heap_alloc(h, size);
		if (buf < 0) {
			fail(op->row, heaps[h], size, "DMA_HEAP_IOCTL_ALLOC");
			return 1;
		}
		c.fd = buf;
		c.arg = op->arg;
	}
	if (op->setup == PS_HOLD) {
		if (ioctl(bench_dev, DMABUF_BENCH_HOLD, c.fd)) {
			fail(op->row, heaps[h], size, "DMABUF_BENCH_HOLD (attach+map)");
			goto out;
		}
		held = 1;
	} else if (op->setup == PS_SYNC_FILE) {
		struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

		if (ioctl(c.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e)) {
			fail(op->row, heaps[h], size, "EXPORT_SYNC_FILE");
			goto out;
		}
		c.fd2 = e.fd;
	} else if (op->setup == PS_FDINFO) {
		snprintf(c.path, sizeof(c.path), "/proc/self/fdinfo/%d", c.fd);
	}

	/* The row as make bench times it: warm-ups, then the batches' median. */
	progress("profile %s: %s on %s, %zu bytes: %ld warm-up and %ld timed batches of %ld",
		 op->name, op->row, heaps[h], size, (long)warmups(size), batches, k);
	per_op = calloc(batches, sizeof(*per_op));
	if (!per_op)
		goto out;
	for (i = -warmups(size); i < batches; i++) {
		ns = op->kind == PK_BATCH ? op->fn(&c, k) : prof_alloc_batch(op->kind, h, size, k, 0);
		if (ns == UINT64_MAX) {
			fail(op->row, heaps[h], size, "operation failed");
			free(per_op);
			goto out;
		}
		if (i >= 0)
			per_op[i] = ns / k;
	}
	qsort(per_op, batches, sizeof(*per_op), cmp_u64);
	printf("T,ref,%s,%ld,%ld,%llu\n", op->row, batches, k,
	       (unsigned long long)(batches % 2 ? per_op[batches / 2] :
				    (per_op[batches / 2 - 1] + per_op[batches / 2]) / 2));
	free(per_op);

	/* The profiled run. */
	progress("profile %s: %ld operations between the markers", op->name, n);
	if (op->kind == PK_BATCH) {
		profile_start();
		ns = op->fn(&c, n);
		profile_stop();
	} else {
		ns = prof_alloc_batch(op->kind, h, size, n, 1);
	}
	if (ns == UINT64_MAX) {
		fail(op->row, heaps[h], size, "operation failed (profiled run)");
		goto out;
	}
	printf("T,profiled,%ld,%llu,%ld\n", n, (unsigned long long)ns, op->kind == PK_BATCH ? 1 : n);
	ret = 0;
out:
	if (held)
		ioctl(bench_dev, DMABUF_BENCH_UNHOLD, 0);
	if (c.fd2 >= 0)
		close(c.fd2);
	if (buf >= 0)
		close(buf);
	fflush(stdout);
	return ret;
}

/* ---- main ---- */

static int open_dmabuf(int h, size_t size, const char *op)
{
	int fd = heap_alloc(h, size);

	if (fd < 0)
		fail(op, heaps[h], size, "DMA_HEAP_IOCTL_ALLOC");
	return fd;
}

static void icount_rows(void)
{
	static const size_t sizes3[] = { 4 * KiB, MiB, 64 * MiB };
	struct fd_ctx c = { 0 };
	size_t i;
	int h, fd, sf;

	for (h = 0; h < NHEAPS; h++) {
		progress("B1/B2 ALLOC+close on %s", heaps[h]);
		for (i = 0; i < 3; i++)
			b1_b2(h, sizes5[i]);
	}
	for (h = 0; h < NHEAPS; h++) {
		progress("B3 mmap+touch on %s (small sizes)", heaps[h]);
		for (i = 0; i < 3; i++) {
			c.size = sizes5[i];
			c.fd = open_dmabuf(h, c.size, "B3 mmap+touch+munmap");
			if (c.fd < 0)
				continue;
			run("B3 mmap+touch+munmap", heaps[h], c.size, k_for(c.size, 16), b_mmap_touch, &c);
			close(c.fd);
		}
	}
	for (h = 0; h < NHEAPS; h++) {
		progress("B4 SYNC on %s", heaps[h]);
		for (i = 0; i < 3; i++) {
			c.size = sizes3[i];
			c.fd = open_dmabuf(h, c.size, "B4 SYNC START+END");
			if (c.fd < 0)
				continue;
			run("B4 SYNC START+END", heaps[h], c.size, 100, b_sync, &c);
			if (ioctl(bench_dev, DMABUF_BENCH_HOLD, c.fd)) {
				fail("B4 SYNC START+END (importer)", heaps[h], c.size, "attach+map");
			} else {
				run("B4 SYNC START+END (importer)", heaps[h], c.size, 100, b_sync, &c);
				ioctl(bench_dev, DMABUF_BENCH_UNHOLD, 0);
			}
			close(c.fd);
		}
	}
	progress("B5 SET_NAME, EXPORT/IMPORT_SYNC_FILE");
	for (h = 0; h < NHEAPS; h++) {
		c.fd = open_dmabuf(h, 4096, "B5");
		if (c.fd < 0)
			continue;
		run("B5 SET_NAME", heaps[h], 4096, 100, b_set_name, &c);
		run("B5 EXPORT_SYNC_FILE+close", heaps[h], 4096, 100, b_export_sync_file, &c);
		{
			struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

			if (ioctl(c.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e)) {
				fail("B5 IMPORT_SYNC_FILE", heaps[h], 4096, "EXPORT_SYNC_FILE");
			} else {
				sf = e.fd;
				c.fd2 = sf;
				run("B5 IMPORT_SYNC_FILE", heaps[h], 4096, 100, b_import_sync_file, &c);
				close(sf);
			}
		}
		close(c.fd);
	}
	for (h = 0; h < NHEAPS; h++) {
		progress("B6/B7 in-kernel attach/map and vmap on %s", heaps[h]);
		for (i = 0; i < 5; i++) {
			c.size = sizes5[i];
			c.fd = open_dmabuf(h, c.size, "B6 attach+map+unmap+detach");
			if (c.fd < 0)
				continue;
			c.arg = DMABUF_BENCH_ATTACH_MAP;
			run("B6 attach+map+unmap+detach", heaps[h], c.size, k_for(c.size, 32), b_kernel_loop, &c);
			c.arg = DMABUF_BENCH_VMAP_FIRST;
			run("B7 vmap+vunmap first", heaps[h], c.size, k_for(c.size, 32), b_kernel_loop, &c);
			c.arg = DMABUF_BENCH_VMAP_REPEAT;
			run("B7 vmap+vunmap repeated", heaps[h], c.size, 100, b_kernel_loop, &c);
			close(c.fd);
		}
	}
	progress("B8 fd churn");
	fd = open_dmabuf(0, 4096, "B8");
	if (fd >= 0) {
		fd_churn("system", fd, "");
		close(fd);
	}
	fd = memfd_create("floor", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, 4096) == 0)
		fd_churn("-", fd, " (memfd floor)");
	close(fd);
	for (h = 0; h < NHEAPS; h++) {
		progress("B10 two threads on %s", heaps[h]);
		two_threads(h, 64 * KiB);
		two_threads(h, MiB);
	}
	/* Last: it leaves the most behind in the allocators. */
	many_buffers(0, 100000);
	many_buffers(1, 16000);
}

/*
 * ---- B11: the system heap's pool of zeroed pages (heaps/pool.rs) ----
 * Only the Rust core has the pool; on stock the same sequences run
 * without it, so a row's ratio is "with the pool" over "upstream". The
 * pool is on only here (a cap of 256 MiB), and off again after.
 */
static char pool_param[96], pool_zero_param[96];

static void pool_set(const char *path, long v)
{
	char s[32];
	int f = path[0] ? open(path, O_WRONLY | O_CLOEXEC) : -1;

	if (f < 0)
		return;
	snprintf(s, sizeof(s), "%ld", v);
	if (write(f, s, strlen(s)) < 0)
		errors++;
	close(f);
}

/* The pool's dirty pages, pages zeroed and ns spent zeroing; 0 if the
 * kernel has a pool. */
static int pool_stat(long *dirty, long *zeroed, long *zero_ns)
{
	char line[512];
	long p, c, l, r;
	int found = 0;
	FILE *f = fopen("/sys/kernel/debug/dma_buf/owners", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "pool heap=system pages=%ld clean=%ld dirty=%ld limit=%ld reused=%ld zeroed=%ld zero_ns=%ld",
			   &p, &c, dirty, &l, &r, zeroed, zero_ns) == 7)
			found = 1;
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

/* Waits (up to 2 s) until the pool's worker has zeroed every freed page:
 * nothing of it runs during the next timed batch. 0 once it has. */
static int pool_wait_clean(void)
{
	long dirty = 0, z, ns;

	for (int i = 0; i < 200; i++) {
		if (pool_stat(&dirty, &z, &ns) || dirty == 0)
			return 0;
		usleep(10 * 1000);
	}
	return -1;
}

/* k ALLOCs of size bytes timed, then the buffers freed and the pool's
 * worker waited for (untimed); the ns, or UINT64_MAX if an ALLOC failed. */
static uint64_t timed_allocs(int *fds, long k, size_t size, const char *op)
{
	uint64_t t0 = now_ns(), t1;
	long i, bad = 0;

	for (i = 0; i < k; i++)
		fds[i] = heap_alloc(0, size);
	t1 = now_ns();
	for (i = 0; i < k; i++) {
		if (fds[i] < 0)
			bad++;
		else
			close(fds[i]);
	}
	pool_wait_clean();
	if (bad) {
		fail(op, heaps[0], size, "DMA_HEAP_IOCTL_ALLOC");
		return UINT64_MAX;
	}
	return t1 - t0;
}

static void b11(size_t size)
{
	const char *heap = heaps[0];
	long k = k_for(size, 16), i;
	long d0, z0 = 0, n0 = 0, z1 = 0, n1 = 0;
	int fds[16], b, pool = pool_param[0] != 0;
	uint64_t t0, t1, ns;

	for (b = -warmups(size); b < nbatches; b++) {
		/* Warm: k buffers freed, their pages zeroed; then k ALLOCs. */
		for (i = 0; i < k; i++)
			fds[i] = heap_alloc(0, size);
		pool_stat(&d0, &z0, &n0);
		for (i = 0; i < k; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (pool_wait_clean()) {
			fail("B11 ALLOC (pool warm)", heap, size, "the pool's worker did not finish in 2 s");
			return;
		}
		pool_stat(&d0, &z1, &n1);
		ns = timed_allocs(fds, k, size, "B11 ALLOC (pool warm)");
		if (ns == UINT64_MAX)
			return;
		if (b < 0)
			continue;
		emit("B11 ALLOC (pool warm)", heap, size, b, k, ns);
		/* The worker's time zeroing what the k frees gave it, per MiB. */
		if (pool && z1 - z0 >= (long)(k * size / 4096))
			emit("B11 pool worker zeroing per MiB freed", heap, size, b,
			     (long)(k * size / MiB) > 0 ? (long)(k * size / MiB) : 1, n1 - n0);
	}
	for (b = -warmups(size); b < nbatches; b++) {
		/* Cold: an empty pool (emptied by lowering its cap). */
		pool_set(pool_param, 0);
		pool_set(pool_param, 65536);
		ns = timed_allocs(fds, k, size, "B11 ALLOC (pool cold)");
		if (ns == UINT64_MAX)
			return;
		if (b >= 0)
			emit("B11 ALLOC (pool cold)", heap, size, b, k, ns);
	}
	/* Zeroing at free: the close pays what the worker did. */
	pool_set(pool_zero_param, 1);
	for (b = -warmups(size); b < nbatches; b++) {
		for (i = 0; i < k; i++)
			if ((fds[i] = heap_alloc(0, size)) < 0) {
				fail("B11 close (zeroing at free)", heap, size, "DMA_HEAP_IOCTL_ALLOC");
				pool_set(pool_zero_param, 0);
				return;
			}
		t0 = now_ns();
		for (i = 0; i < k; i++)
			close(fds[i]);
		t1 = now_ns();
		if (b >= 0)
			emit("B11 close (zeroing at free)", heap, size, b, k, t1 - t0);
	}
	pool_set(pool_zero_param, 0);
	fflush(stdout);
}

static void pool_rows(void)
{
	static const size_t sizes[] = { 64 * KiB, MiB, 16 * MiB, 64 * MiB };
	static const char *const mods[] = { "dma_heap", "dmabuf_rs" };

	for (int m = 0; m < 2 && !pool_param[0]; m++) {
		snprintf(pool_param, sizeof(pool_param), "/sys/module/%s/parameters/page_pool_size", mods[m]);
		snprintf(pool_zero_param, sizeof(pool_zero_param), "/sys/module/%s/parameters/page_pool_zero_at_free",
			 mods[m]);
		if (access(pool_param, W_OK))
			pool_param[0] = pool_zero_param[0] = 0;
	}
	progress("B11 the system heap's pool of zeroed pages%s", pool_param[0] ? "" : " (none: upstream's ALLOC)");
	pool_set(pool_param, 65536);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		b11(sizes[i]);
	pool_set(pool_param, 0);
}

static void wall_rows(void)
{
	struct fd_ctx c = { 0 };
	size_t i;
	int h;

	for (h = 0; h < NHEAPS; h++) {
		progress("B1/B2 ALLOC+close on %s (large sizes)", heaps[h]);
		for (i = 2; i < 5; i++)
			b1_b2(h, sizes5[i]);
	}
	for (h = 0; h < NHEAPS; h++) {
		progress("B3 mmap+touch on %s", heaps[h]);
		for (i = 0; i < 5; i++) {
			c.size = sizes5[i];
			c.fd = open_dmabuf(h, c.size, "B3 mmap+touch+munmap");
			if (c.fd < 0)
				continue;
			run("B3 mmap+touch+munmap", heaps[h], c.size, k_for(c.size, 16), b_mmap_touch, &c);
			close(c.fd);
		}
	}
	for (h = 0; h < NHEAPS; h++) {
		progress("B10 two threads on %s", heaps[h]);
		two_threads(h, 64 * KiB);
		two_threads(h, MiB);
	}
	/* Last: the pool is on only for these. */
	pool_rows();
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 110000, 110000 };
	int wall, profile, h, i;
	char path[64];

	if (argc < 2 || (strcmp(argv[1], "icount") && strcmp(argv[1], "wall") && strcmp(argv[1], "profile"))) {
		fprintf(stderr, "usage: %s icount|wall [--batches N]\n"
			"       %s profile OP HEAP SIZE N [--batches N]\n", argv[0], argv[0]);
		return 2;
	}
	profile = !strcmp(argv[1], "profile");
	wall = !strcmp(argv[1], "wall");
	if (profile)
		nbatches = 10;
	for (i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--batches"))
			nbatches = atoi(argv[i + 1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("I,mode,%s\n", argv[1]);
	printf("I,batches,%d\n", nbatches);
	if (!profile)
		clock_facts();
	for (h = 0; h < NHEAPS; h++) {
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", heaps[h]);
		heap_fd[h] = open(path, O_RDONLY | O_CLOEXEC);
		if (heap_fd[h] < 0) {
			printf("E,-,%s,0,open %s: %s\n", heaps[h], path, strerror(errno));
			return 1;
		}
	}
	bench_dev = open("/dev/dmabuf_bench", O_RDWR | O_CLOEXEC);
	if (bench_dev < 0) {
		printf("E,-,-,0,open /dev/dmabuf_bench (is dmabuf_bench.ko loaded?): %s\n", strerror(errno));
		return 1;
	}
	if (profile)
		return profile_main(argc - 2, argv + 2);
	if (!wall) {
		if (setrlimit(RLIMIT_NOFILE, &rl))
			printf("E,B9,-,0,setrlimit(RLIMIT_NOFILE 110000): %s\n", strerror(errno));
		live = calloc(110000, sizeof(*live));
	}
	floors(wall);
	if (wall)
		wall_rows();
	else
		icount_rows();
	printf("I,errors,%d\n", errors);
	progress("done");
	return 0;
}
