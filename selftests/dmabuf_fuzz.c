// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, reproducible fuzzer for the heap devices and the dma-buf fd.
 *
 *   dmabuf_fuzz SEED OPS        run OPS random operations from SEED
 *   dmabuf_fuzz SEED OPS -v     the same, printing every operation
 *
 * Operations: heap ALLOC with random sizes, flags and argument pointers
 * (NULL, inaccessible, read-only, straddling a page end), mmap / mremap /
 * munmap / page touch, SYNC, SET_NAME, EXPORT and IMPORT_SYNC_FILE with
 * sw_sync fences, poll, lseek, fdinfo, readlink, dup, close, fork, fd
 * passing over an AF_UNIX socket, and in-kernel attach / map / vmap /
 * begin-end through the test module. Single-threaded, so a seed gives the
 * same sequence on every kernel: the results (return value or errno of
 * each deterministic operation) are folded into a hash printed every 500
 * operations, which must be equal on the Rust and the C core. Results
 * that depend on the memory state (the chunk layout of a private system
 * heap mapping) run but are left out of the hash.
 *
 * At the end every buffer, mapping and fence is gone and the process has
 * the fds it started with; the kernel (lockdep, KASAN, kmemleak) must stay
 * silent, which vm-run checks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kmod/dmabuf_test.h"
#include "sw_sync.h"

#define BUFS 8
#define MAPS 6
#define MAX_LIVE_BYTES (48u << 20)

static uint64_t rng;
static uint64_t hash = 1469598103934665603ull;
static long op_no, hashed;
static int verbose;

static char heap_names[4][300];
static int nheaps;
static struct {
	int fd;
	size_t size;
	int cma;
} bufs[BUFS];
static struct {
	char *addr;
	size_t len;
	int buf;
} maps[MAPS];
static size_t live_bytes;
static int timeline = -1, test_dev = -1;
static unsigned int tl_next, tl_now;
static char *page_ro, *page_edge;	/* read-only page; page before a guard page */
static char *hole;			/* an inaccessible page */
static sigjmp_buf touch_env;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static unsigned int pick(unsigned int n)
{
	return n ? next() % n : 0;
}

/* Folds one result into the hash (deterministic operations only). */
static void record(const char *op, long r, int deterministic)
{
	op_no++;
	if (verbose)
		printf("# %ld %s -> %ld%s\n", op_no, op, r, deterministic ? "" : " (not hashed)");
	if (deterministic) {
		const char *p;

		for (p = op; *p; p++)
			hash = (hash ^ (unsigned char)*p) * 1099511628211ull;
		hash = (hash ^ (uint64_t)r) * 1099511628211ull;
		hashed++;
	}
	if (op_no % 500 == 0)
		printf("hash@%ld %016llx\n", op_no, (unsigned long long)hash);
}

static long res(long ret)
{
	return ret < 0 ? -errno : ret;
}

/* A pointer to @size bytes of argument: good, NULL, inaccessible,
 * read-only or straddling into a guard page. */
static void *arg_ptr(void *good, size_t size, int *kind)
{
	*kind = pick(10);
	switch (*kind) {
	case 0:
		return NULL;
	case 1:
		return hole;
	case 2:
		memcpy(page_ro + 0, good, 0);
		return page_ro;
	case 3:
		memcpy(page_edge + 4096 - size / 2, good, size / 2);
		return page_edge + 4096 - size / 2;
	default:
		return good;
	}
}

static int free_buf_slot(void)
{
	for (int i = 0; i < BUFS; i++)
		if (bufs[i].fd < 0)
			return i;
	return -1;
}

static int some_buf(void)
{
	int start = pick(BUFS);

	for (int i = 0; i < BUFS; i++)
		if (bufs[(start + i) % BUFS].fd >= 0)
			return (start + i) % BUFS;
	return -1;
}

static void drop_maps_of(int b)
{
	for (int i = 0; i < MAPS; i++)
		if (maps[i].addr && maps[i].buf == b) {
			munmap(maps[i].addr, maps[i].len & ~1ul);
			maps[i].addr = NULL;
		}
}

static void close_buf(int b)
{
	if (verbose)
		printf("#   close slot %d fd %d\n", b, bufs[b].fd);
	close(bufs[b].fd);
	bufs[b].fd = -1;
	live_bytes -= bufs[b].size;
}

static void op_alloc(void)
{
	static const size_t sizes[] = { 0, 1, 4096, 4097, 65536, 1 << 20, 3 << 20, 8 << 20 };
	struct dma_heap_allocation_data d = { 0 };
	int h = pick(nheaps), slot = free_buf_slot(), kind, heap;
	long r;
	void *p;

	d.len = pick(20) == 0 ? (uint64_t)-1 - pick(4096) : sizes[pick(8)];
	d.fd_flags = pick(8) == 0 ? pick(1u << 20) : (pick(2) ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	d.heap_flags = pick(12) == 0 ? 1ull << pick(64) : 0;
	d.fd = pick(16) == 0 ? 1 + pick(100) : 0;
	if (slot < 0 || live_bytes + d.len > MAX_LIVE_BYTES) {
		/* Keep memory bounded: make room instead. */
		int b = some_buf();

		if (b >= 0) {
			drop_maps_of(b);
			close_buf(b);
		}
		record("free", 0, 1);
		return;
	}
	heap = open(heap_names[h], O_RDWR | O_CLOEXEC);
	p = arg_ptr(&d, sizeof(d), &kind);
	r = res(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, p));
	if (verbose)
		printf("#   alloc slot %d kind %d fd %d\n", slot, kind, r == 0 ? (int)d.fd : -1);
	if (r == 0 && p == &d) {
		bufs[slot].fd = d.fd;
		bufs[slot].size = (d.len + 4095) & ~4095ull;
		bufs[slot].cma = strstr(heap_names[h], "system") == NULL;
		live_bytes += bufs[slot].size;
	} else if (r == 0 && kind == 3) {
		/* Copied back over the page edge: the fd is in the guard half. */
		close(((struct dma_heap_allocation_data *)p)->fd);
	}
	close(heap);
	record("alloc", r, 1);
}

static void op_mmap(void)
{
	int b = some_buf(), m, flags, prot;
	size_t pages, off, len;
	char *a;

	for (m = 0; m < MAPS && maps[m].addr; m++)
		;
	if (b < 0 || m == MAPS) {
		record("mmap-skip", 0, 1);
		return;
	}
	pages = bufs[b].size / 4096;
	off = pick(pages + 1);
	len = (1 + pick(pages + 1)) * 4096;
	flags = pick(4) == 0 ? MAP_PRIVATE : MAP_SHARED;
	prot = pick(3) == 0 ? PROT_READ : PROT_READ | PROT_WRITE;
	a = mmap(NULL, len, prot, flags, bufs[b].fd, off * 4096);
	/* A private system-heap mapping over several chunks is refused, and
	 * the chunk layout depends on the memory state. */
	record("mmap", a == MAP_FAILED ? -errno : 0, !(flags == MAP_PRIVATE && !bufs[b].cma && len > 4096));
	if (verbose)
		printf("#   map %d buf %d %s off %zu len %zu prot %d flags %d -> %p\n", m, b,
		       bufs[b].cma ? "cma" : "system", off, len, prot, flags, (void *)a);
	if (a != MAP_FAILED) {
		maps[m].addr = a;
		maps[m].len = len;
		maps[m].buf = b;
		if (!(prot & PROT_WRITE))
			maps[m].len |= 1;	/* read-only marker */
	}
}

static volatile int in_touch, cur_op;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!in_touch) {
		/* A fault outside a page touch is a bug of this program. */
		fprintf(stderr, "dmabuf_fuzz: signal %d at %p in operation %ld (kind %d)\n", sig, si->si_addr,
			op_no + 1, cur_op);
		_exit(3);
	}
	siglongjmp(touch_env, sig);
}

static void op_touch(void)
{
	int m = pick(MAPS), sig;
	size_t len;

	if (!maps[m].addr) {
		record("touch-skip", 0, 1);
		return;
	}
	len = maps[m].len & ~1ul;
	if (verbose)
		printf("#   touch map %d %p len %zu%s\n", m, (void *)maps[m].addr, len,
		       maps[m].len & 1 ? " (read)" : "");
	sig = sigsetjmp(touch_env, 1);
	if (!sig) {
		volatile char *p = maps[m].addr;

		in_touch = 1;
		for (size_t i = 0; i < len; i += 4096) {
			if (maps[m].len & 1)
				(void)p[i];
			else
				p[i] = (char)(op_no + i / 4096);
		}
	}
	in_touch = 0;
	record("touch", sig, 1);
}

static void op_munmap_or_mremap(void)
{
	int m = pick(MAPS);
	size_t len;
	void *n;

	if (!maps[m].addr) {
		record("unmap-skip", 0, 1);
		return;
	}
	len = maps[m].len & ~1ul;
	if (pick(2)) {
		/* Growing past the buffer must fail (VM_DONTEXPAND). */
		n = mremap(maps[m].addr, len, len + 4096 * (1 + pick(4)), MREMAP_MAYMOVE);
		record("mremap", n == MAP_FAILED ? -errno : 0, 1);
		if (n != MAP_FAILED) {
			munmap(n, len);
			maps[m].addr = NULL;
		}
		return;
	}
	munmap(maps[m].addr, len);
	maps[m].addr = NULL;
	record("munmap", 0, 1);
}

/* Signals every fence made so far, so that nothing can block. */
static void settle(void)
{
	if (timeline >= 0 && tl_now < tl_next) {
		__u32 inc = tl_next - tl_now;

		ioctl(timeline, SW_SYNC_IOC_INC, &inc);
		tl_now = tl_next;
	}
}

static void op_sync(void)
{
	int b = some_buf(), kind;
	struct dma_buf_sync s = { 0 };
	void *p;

	if (b < 0) {
		record("sync-skip", 0, 1);
		return;
	}
	settle();
	s.flags = pick(10) == 0 ? next() : pick(2) * DMA_BUF_SYNC_END | (1 + pick(3));
	p = arg_ptr(&s, sizeof(s), &kind);
	record("sync", res(ioctl(bufs[b].fd, DMA_BUF_IOCTL_SYNC, p)), 1);
}

static void op_set_name(void)
{
	char name[64];
	int b = some_buf(), kind;
	size_t n = pick(40);
	void *p;

	if (b < 0) {
		record("name-skip", 0, 1);
		return;
	}
	for (size_t i = 0; i < n; i++)
		name[i] = 1 + pick(255);
	name[n] = 0;
	p = arg_ptr(name, n + 1, &kind);
	if (kind == 2)
		p = page_ro;	/* a read-only string is fine to read */
	record("set_name", res(ioctl(bufs[b].fd, pick(2) ? DMA_BUF_SET_NAME_A : DMA_BUF_SET_NAME_B, p)), 1);
}

static void op_export_sync_file(void)
{
	struct dma_buf_export_sync_file e = { 0 };
	int b = some_buf(), kind;
	long r;
	void *p;

	if (b < 0) {
		record("export-skip", 0, 1);
		return;
	}
	e.flags = pick(8) == 0 ? next() : 1 + pick(3);
	p = arg_ptr(&e, sizeof(e), &kind);
	r = res(ioctl(bufs[b].fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, p));
	if (r == 0 && p == &e) {
		struct pollfd pf = { .fd = e.fd, .events = POLLIN };

		/* Ready unless an unsignalled fence was imported. */
		r = poll(&pf, 1, 0);
		close(e.fd);
	}
	record("export_sync_file", r, 1);
}

static void op_import_sync_file(void)
{
	struct sw_sync_create_fence_data f = { 0 };
	struct dma_buf_import_sync_file im = { 0 };
	int b = some_buf(), kind;
	void *p;

	if (b < 0 || timeline < 0) {
		record("import-skip", 0, 1);
		return;
	}
	f.value = ++tl_next;
	strcpy(f.name, "fuzz");
	if (ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, &f)) {
		record("fence", -errno, 1);
		return;
	}
	im.flags = pick(8) == 0 ? next() : 1 + pick(3);
	im.fd = pick(10) == 0 ? bufs[b].fd : f.fence;
	p = arg_ptr(&im, sizeof(im), &kind);
	record("import_sync_file", res(ioctl(bufs[b].fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, p)), 1);
	close(f.fence);
	if (pick(2))
		settle();
}

static void op_poll(void)
{
	int b = some_buf();
	struct pollfd pf;

	if (b < 0) {
		record("poll-skip", 0, 1);
		return;
	}
	pf.fd = bufs[b].fd;
	pf.events = (short)(1 + pick(7));
	pf.revents = 0;
	record("poll", poll(&pf, 1, 0) < 0 ? -errno : pf.revents, 1);
}

static void op_file(void)
{
	int b = some_buf(), which = pick(5), f;
	char path[64], data[512];
	long r;

	if (b < 0) {
		record("file-skip", 0, 1);
		return;
	}
	switch (which) {
	case 0:
		r = res(lseek(bufs[b].fd, pick(3) ? 0 : 1 + pick(9), pick(5)));
		break;
	case 1:
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", bufs[b].fd);
		f = open(path, O_RDONLY);
		r = f < 0 ? -errno : read(f, data, sizeof(data)) > 0;
		if (f >= 0)
			close(f);
		break;
	case 2:
		snprintf(path, sizeof(path), "/proc/self/fd/%d", bufs[b].fd);
		r = res(readlink(path, data, sizeof(data)));
		break;
	case 3:
		r = res(read(bufs[b].fd, data, 16));
		break;
	default:
		r = res(ioctl(bufs[b].fd, _IOWR('b', 4 + pick(60), __u64), data));
		break;
	}
	record("file", r, 1);
}

static void op_dup_close(void)
{
	int b = some_buf(), slot = free_buf_slot(), fd;

	if (b < 0) {
		record("dup-skip", 0, 1);
		return;
	}
	if (pick(2) || slot < 0 || live_bytes + bufs[b].size > MAX_LIVE_BYTES) {
		drop_maps_of(b);
		close_buf(b);
		record("close", 0, 1);
		return;
	}
	fd = dup(bufs[b].fd);
	if (verbose)
		printf("#   dup slot %d fd %d -> slot %d fd %d\n", b, bufs[b].fd, slot, fd);
	bufs[slot] = bufs[b];
	bufs[slot].fd = fd;
	live_bytes += bufs[slot].size;
	record("dup", fd >= 0, 1);
}

static void op_fork(void)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		/* The child inherits the buffers and mappings, uses them, exits
		 * (a fault kills it: it must not jump into the parent's state). */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		for (int i = 0; i < MAPS; i++)
			if (maps[i].addr && !(maps[i].len & 1))
				maps[i].addr[0] = 1;
		for (int i = 0; i < BUFS; i++)
			if (bufs[i].fd >= 0)
				close(bufs[i].fd);
		_exit(7);
	}
	waitpid(pid, &status, 0);
	record("fork", WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status), 1);
}

static void op_pass_fd(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int sv[2], b = some_buf(), got = -1;
	long r;

	if (b < 0) {
		record("pass-skip", 0, 1);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) {
		record("pass", -errno, 1);
		return;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &bufs[b].fd, sizeof(int));
	r = res(sendmsg(sv[0], &msg, 0));
	/* Half the time the fd dies in flight, with the socket. */
	if (r > 0 && pick(2)) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_controllen = sizeof(cbuf);
		r = res(recvmsg(sv[1], &msg, 0));
		c = CMSG_FIRSTHDR(&msg);
		if (r > 0 && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			memcpy(&got, CMSG_DATA(c), sizeof(int));
			/* A new fd for the same buffer. */
			r = got >= 0 && got != bufs[b].fd && fcntl(got, F_GETFD) >= 0;
			if (got >= 0 && got != bufs[b].fd)
				close(got);
		}
	}
	close(sv[0]);
	close(sv[1]);
	record("pass", r, 1);
}

static void op_kernel_import(void)
{
	struct dmabuf_test_import im = { 0 };
	int b = some_buf();
	long r;

	if (b < 0 || test_dev < 0) {
		record("kimport-skip", 0, 1);
		return;
	}
	settle();
	im.fd = pick(10) == 0 ? 1000 + pick(100) : bufs[b].fd;
	r = res(ioctl(test_dev, DMABUF_TEST_IMPORT, &im));
	/* The byte sum is what the fuzzer wrote through its mappings. */
	record("kimport", r ? r : (long)(im.byte_sum & 0xffff), 1);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static void (*const ops[])(void) = {
		op_alloc, op_alloc, op_alloc, op_mmap, op_mmap, op_touch, op_touch,
		op_munmap_or_mremap, op_sync, op_sync, op_set_name, op_export_sync_file,
		op_import_sync_file, op_poll, op_file, op_file, op_dup_close, op_dup_close,
		op_fork, op_pass_fd, op_kernel_import,
	};
	long total;
	int fds_before, fds_after;
	DIR *d;
	struct dirent *e;
	char *pages;

	if (argc < 3) {
		fprintf(stderr, "usage: dmabuf_fuzz SEED OPS [-v]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	total = atol(argv[2]);
	verbose = argc > 3 && !strcmp(argv[3], "-v");
	{
		struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

		sigaction(SIGBUS, &sa, NULL);
		sigaction(SIGSEGV, &sa, NULL);
	}

	d = opendir("/dev/dma_heap");
	while (d && (e = readdir(d)) && nheaps < 4)
		if (e->d_name[0] != '.')
			snprintf(heap_names[nheaps++], sizeof(heap_names[0]), "/dev/dma_heap/%s", e->d_name);
	if (d)
		closedir(d);
	if (!nheaps) {
		printf("not ok 1 - no heaps in /dev/dma_heap\n");
		return 1;
	}
	/* Heaps are listed in directory order, which differs between kernels. */
	qsort(heap_names, nheaps, sizeof(heap_names[0]), (int (*)(const void *, const void *))strcmp);
	pages = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page_ro = pages;
	page_edge = pages + 4096;
	hole = pages + 3 * 4096;
	memset(pages, 'n', 2 * 4096);
	mprotect(page_ro, 4096, PROT_READ);
	mprotect(pages + 2 * 4096, 4096, PROT_NONE);
	/* An inaccessible page that stays reserved, so no mapping lands there. */
	mprotect(hole, 4096, PROT_NONE);
	for (int i = 0; i < BUFS; i++)
		bufs[i].fd = -1;
	timeline = open("/sys/kernel/debug/sync/sw_sync", O_RDWR);
	test_dev = open("/dev/dmabuf_test", O_RDWR);
	fds_before = count_fds();

	while (op_no < total) {
		cur_op = pick(sizeof(ops) / sizeof(ops[0]));
		ops[cur_op]();
	}

	settle();
	for (int i = 0; i < MAPS; i++)
		if (maps[i].addr)
			munmap(maps[i].addr, maps[i].len & ~1ul);
	for (int i = 0; i < BUFS; i++)
		if (bufs[i].fd >= 0)
			close(bufs[i].fd);
	fds_after = count_fds();
	if (fds_after != fds_before) {
		d = opendir("/proc/self/fd");
		while (d && (e = readdir(d))) {
			char path[300], target[300] = "";

			snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
			if (e->d_name[0] != '.' && readlink(path, target, sizeof(target) - 1) > 0)
				printf("# open at the end: fd %s -> %s\n", e->d_name, target);
		}
		if (d)
			closedir(d);
	}
	printf("hash %016llx after %ld operations (%ld hashed), seed %s, heaps %d, sw_sync %s, test module %s\n",
	       (unsigned long long)hash, op_no, hashed, argv[1], nheaps, timeline >= 0 ? "yes" : "no",
	       test_dev >= 0 ? "yes" : "no");
	printf("%s 1 - seed %s: %ld operations, the fds are back to %d (now %d)\n",
	       fds_after == fds_before ? "ok" : "not ok", argv[1], op_no, fds_before, fds_after);
	return fds_after == fds_before ? 0 : 1;
}
