// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: threads race close/dup2, mmap, SYNC, SET_NAME, fdinfo and
 * readlink, poll, EXPORT_SYNC_FILE and in-kernel attach+map (through the
 * test module) on a few shared buffers that a replacer thread keeps
 * swapping out from under them. Run under lockdep, KASAN and kmemleak:
 * the kernel must stay silent. Usage: dmabuf_stress SECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "kmod/dmabuf_test.h"

#define SLOTS 4
#define SIZE (64 * 1024)

static int slot_fd[SLOTS];	/* fixed fd numbers, re-pointed by dup2 */
static atomic_int stop;
static atomic_long ops[16], bad[16];
static const char *names[16];
static int test_dev = -1;

static int new_buffer(void)
{
	static const char *heaps[] = { "/dev/dma_heap/system", "/dev/dma_heap/default_cma_region" };
	static atomic_int n;
	struct dma_heap_allocation_data d = { .len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC };
	int h = open(heaps[atomic_fetch_add(&n, 1) & 1], O_RDWR | O_CLOEXEC), r;

	if (h < 0)
		return -1;
	r = ioctl(h, DMA_HEAP_IOCTL_ALLOC, &d);
	close(h);
	return r ? -1 : (int)d.fd;
}

/* Errors a racing fd swap can legitimately cause. */
static int expected(int e)
{
	return e == EBADF || e == EINTR || e == EAGAIN || e == ENOTTY;
}

#define LOOP(id, ...)                                                    \
	static void *t_##id(void *arg)                                     \
	{                                                                  \
		unsigned int seed = id;                                    \
		(void)arg;                                                 \
		while (!atomic_load(&stop)) {                              \
			int fd = slot_fd[rand_r(&seed) % SLOTS];           \
			(void)fd;                                          \
			__VA_ARGS__;                                            \
			atomic_fetch_add(&ops[id], 1);                     \
		}                                                          \
		return NULL;                                               \
	}

static void check(int id, long r)
{
	if (r < 0 && !expected(errno)) {
		if (atomic_fetch_add(&bad[id], 1) < 3)
			fprintf(stderr, "%s: unexpected %s\n", names[id], strerror(errno));
	}
}

LOOP(0, {	/* replacer: the fd now names a new buffer, the old one dies */
	int nb = new_buffer();
	if (nb >= 0) {
		dup2(nb, fd);
		close(nb);
	}
})
LOOP(1, {	/* dup + close */
	int d = dup(fd);
	if (d >= 0)
		close(d);
})
LOOP(2, {	/* mmap + touch + munmap */
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		p[rand_r(&seed) % SIZE] = 1;
		munmap(p, SIZE);
	} else {
		check(2, -1);
	}
})
LOOP(3, {	/* SYNC brackets */
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	check(3, ioctl(fd, DMA_BUF_IOCTL_SYNC, &s));
	s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	check(3, ioctl(fd, DMA_BUF_IOCTL_SYNC, &s));
})
LOOP(4, {	/* SET_NAME racing everything, including the last close */
	char n[32];
	snprintf(n, sizeof(n), "stress-%u", rand_r(&seed) % 1000);
	check(4, ioctl(fd, DMA_BUF_SET_NAME_B, n));
})
LOOP(5, {	/* fdinfo + readlink + bufinfo */
	char path[64], buf[4096];
	int f;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	if (f >= 0) {
		read(f, buf, sizeof(buf));
		close(f);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	readlink(path, buf, sizeof(buf));
	if ((rand_r(&seed) & 63) == 0) {
		f = open("/sys/kernel/debug/dma_buf/bufinfo", O_RDONLY);
		if (f >= 0) {
			while (read(f, buf, sizeof(buf)) > 0)
				;
			close(f);
		}
	}
})
LOOP(6, {	/* in-kernel attach + map + vmap + cpu access + detach */
	struct dmabuf_test_import im = { .fd = fd };
	if (test_dev >= 0)
		check(6, ioctl(test_dev, DMABUF_TEST_IMPORT, &im));
})
LOOP(7, {	/* poll + EXPORT_SYNC_FILE */
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_RW };
	poll(&p, 1, 0);
	if (ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0)
		close(ex.fd);
	else
		check(7, -1);
})

int main(int argc, char **argv)
{
	void *(*fns[])(void *) = { t_0, t_1, t_2, t_3, t_4, t_5, t_6, t_7 };
	const char *nm[] = { "replace", "dup/close", "mmap", "sync", "set_name",
			     "fdinfo/readlink", "attach/map", "poll/export" };
	int secs = argc > 1 ? atoi(argv[1]) : 60, failed = 0, n = 8;
	pthread_t th[8];

	for (int i = 0; i < n; i++)
		names[i] = nm[i];
	for (int i = 0; i < SLOTS; i++) {
		int b = new_buffer();

		if (b < 0) {
			printf("1..0 # SKIP no heap to allocate from\n");
			return 0;
		}
		slot_fd[i] = fcntl(b, F_DUPFD_CLOEXEC, 100 + i);
		close(b);
	}
	test_dev = open("/dev/dmabuf_test", O_RDWR);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, fns[i], NULL);
	sleep(secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < SLOTS; i++)
		close(slot_fd[i]);
	printf("TAP version 13\n");
	for (int i = 0; i < n; i++) {
		int ok = ops[i] > 0 && bad[i] == 0;

		printf("%s %d - %s: %ld operations in %d s, %ld unexpected errors\n", ok ? "ok" : "not ok",
		       i + 1, nm[i], (long)ops[i], secs, (long)bad[i]);
		failed += !ok;
	}
	printf("1..%d\n", n);
	return failed != 0;
}
