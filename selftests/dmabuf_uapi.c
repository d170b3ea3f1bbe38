// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace test of the dma-buf fd ABI: every dma-buf row of
 * REFERENCE.md section 4 with its exact errno, fdinfo, /proc names,
 * lseek, poll with and without fences, and the sync-file ioctls.
 * Buffers come from udmabuf, which both the stock and the Rust kernel
 * have, so the TAP output of the two kernels can be compared line by line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sw_sync.h"
#include "tap.h"





/* Checks that a call returned -1 with errno @err (or >= 0 when err == 0). */
static void expect(long ret, int err, const char *what)
{
	if (err == 0)
		result(ret >= 0, "%s succeeds (ret %ld errno %d)", what, ret, ret < 0 ? errno : 0);
	else
		result(ret == -1 && errno == err, "%s fails with %s (ret %ld errno %d)", what,
		       strerrorname_np(err), ret, ret < 0 ? errno : 0);
}

static int new_buf(size_t pages)
{
	struct udmabuf_create c = { 0 };
	int memfd, fd;

	memfd = memfd_create("t", MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, pages * 4096) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		return -1;
	c.memfd = memfd;
	c.size = pages * 4096;
	c.flags = UDMABUF_FLAGS_CLOEXEC;
	fd = open("/dev/udmabuf", O_RDWR);
	if (fd < 0)
		return -1;
	int buf = ioctl(fd, UDMABUF_CREATE, &c);
	close(fd);
	close(memfd);
	return buf;
}

/* Whether the first 64 KiB of file @path contain @line. */
static int file_has(const char *path, const char *line)
{
	static char data[65536];
	ssize_t n, got = 0;
	int f;

	f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	while ((n = read(f, data + got, sizeof(data) - 1 - got)) > 0)
		got += n;
	close(f);
	data[got] = 0;
	return strstr(data, line) != NULL;
}

static int fdinfo_has(int fd, const char *line)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return file_has(path, line);
}

static int link_is(int fd, const char *want)
{
	char path[64], got[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, got, sizeof(got) - 1);
	if (n < 0)
		return 0;
	got[n] = 0;
	return strcmp(got, want) == 0;
}

/* Whether the /proc/self/maps line starting with @start contains @what. */
static int maps_line_has(const char *start, const char *what)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, start, strlen(start)) && strstr(line, what))
			found = 1;
	fclose(f);
	return found;
}

/*
 * SYNC from another thread while a fence is pending, to see whether it
 * waits for that fence (the fence is signalled, by sw_sync, in the end).
 */
struct sync_waiter {
	int fd;
	__u64 flags;
	volatile int done;
	int ret;
};

static void *sync_thread(void *arg)
{
	struct sync_waiter *w = arg;
	struct dma_buf_sync sync = { .flags = w->flags };

	w->ret = ioctl(w->fd, DMA_BUF_IOCTL_SYNC, &sync);
	w->done = 1;
	return NULL;
}

/*
 * 1 when SYNC START with these flags on fd waited for the pending fence
 * that the next increment of the sw_sync timeline sw signals (it had not
 * returned 200 ms later, and returned 0 once the fence signalled), 0 when
 * it returned before the fence signalled, -1 when it failed or did not
 * return within 10 s of the signal. A SYNC that does not wait but whose
 * thread is not scheduled within 200 ms counts as waiting: a busy host
 * can hide a missing wait, never invent one.
 */
static int sync_waits(int fd, int sw, __u64 flags)
{
	struct sync_waiter w = { .fd = fd, .flags = DMA_BUF_SYNC_START | flags, .ret = -1 };
	struct timespec deadline;
	struct dma_buf_sync end = { .flags = DMA_BUF_SYNC_END | flags };
	__u32 one = 1;
	pthread_t t;
	int waited;

	if (pthread_create(&t, NULL, sync_thread, &w))
		return -1;
	usleep(200 * 1000);
	waited = !w.done;
	ioctl(sw, SW_SYNC_IOC_INC, &one);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	if (pthread_timedjoin_np(t, NULL, &deadline)) {
		printf("# SYNC 0x%llx did not return 10 s after its fence signalled\n",
		       (unsigned long long)flags);
		return -1;
	}
	if (w.ret)
		return -1;
	ioctl(fd, DMA_BUF_IOCTL_SYNC, &end);
	return waited;
}

static int poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

int main(void)
{
	struct dma_buf_sync sync;
	struct dma_buf_export_sync_file ex;
	struct dma_buf_import_sync_file im;
	char longname[64];
	struct stat st, st2;
	int fd, fd2, sw, r;
	void *bad = (void *)8;

	if (access("/dev/udmabuf", F_OK)) {
		printf("1..0 # SKIP no /dev/udmabuf (CONFIG_UDMABUF)\n");
		return 0;
	}
	printf("TAP version 13\n");
	fd = new_buf(4);
	result(fd >= 0, "udmabuf export of 4 pages");
	if (fd < 0)
		return 1;

	/* lseek */
	result(lseek(fd, 0, SEEK_END) == 16384, "lseek(SEEK_END, 0) returns the size");
	result(lseek(fd, 0, SEEK_SET) == 0, "lseek(SEEK_SET, 0) returns 0");
	expect(lseek(fd, 0, SEEK_CUR), EINVAL, "lseek(SEEK_CUR)");
	expect(lseek(fd, 1, SEEK_END), EINVAL, "lseek(SEEK_END, 1)");
	expect(lseek(fd, 4096, SEEK_SET), EINVAL, "lseek(SEEK_SET, 4096)");
	{
		char c;
		expect(read(fd, &c, 1), EINVAL, "read");
		expect(write(fd, &c, 1), EINVAL, "write");
	}

	/* SYNC */
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, bad), EFAULT, "SYNC with a bad pointer");
	sync.flags = DMA_BUF_SYNC_RW | 8;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC with an unknown flag");
	/* The flags are 64 bits wide: a bit above the low 32 counts too. */
	sync.flags = DMA_BUF_SYNC_RW | (1ULL << 32);
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC with flag bit 32");
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW | (1ULL << 63);
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC START with flag bit 63");
	sync.flags = 0;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC with neither READ nor WRITE");
	sync.flags = DMA_BUF_SYNC_END;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC END alone");
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	r = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
	/* udmabuf refuses an END before any START (it has no table yet). */
	result(r == -1 && errno == EINVAL, "SYNC END without START on udmabuf: EINVAL (exporter errno passes through)");
	sync.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0, "SYNC START RW");
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0, "SYNC END RW");
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
	expect(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), 0, "SYNC END WRITE after a bracket");

	/* Unknown ioctls */
	expect(ioctl(fd, _IOW('b', 9, __u64), &sync), ENOTTY, "unknown dma-buf ioctl");
	expect(ioctl(fd, _IO('x', 0)), ENOTTY, "foreign ioctl");

	/* Names */
	result(link_is(fd, "/dmabuf:"), "readlink of an unnamed buffer is /dmabuf:");
	result(!fdinfo_has(fd, "\nname:\t"), "fdinfo has no name line before SET_NAME");
	expect(ioctl(fd, DMA_BUF_SET_NAME_A, NULL), EFAULT, "SET_NAME_A NULL");
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, NULL), EFAULT, "SET_NAME_B NULL");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[63] = 0;
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, longname), EINVAL, "SET_NAME of 63 chars");
	longname[32] = 0;
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, longname), EINVAL, "SET_NAME of 32 chars");
	expect(ioctl(fd, DMA_BUF_SET_NAME_A, longname), EINVAL, "SET_NAME_A of 32 chars");
	longname[31] = 0;
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, longname), 0, "SET_NAME of 31 chars");
	expect(ioctl(fd, DMA_BUF_SET_NAME_A, ""), 0, "SET_NAME_A empty");
	result(fdinfo_has(fd, "name:\t\n"), "fdinfo shows the empty name");
	expect(ioctl(fd, DMA_BUF_SET_NAME_A, "cam0"), 0, "SET_NAME_A cam0");
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, "frame"), 0, "SET_NAME_B frame");
	result(link_is(fd, "/dmabuf:frame"), "readlink shows /dmabuf:frame");
	result(fdinfo_has(fd, "size:\t16384\n"), "fdinfo size");
	result(fdinfo_has(fd, "count:\t1\n"), "fdinfo count 1");
	fd2 = dup(fd);
	result(fdinfo_has(fd, "count:\t2\n"), "fdinfo count 2 after dup");
	close(fd2);
	result(fdinfo_has(fd, "exp_name:\tudmabuf\n"), "fdinfo exp_name");
	result(fdinfo_has(fd, "name:\tframe\n"), "fdinfo name");
	/* A name is bytes: one that is not UTF-8 is shown byte for byte. */
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, "cam\xff\xfe"), 0, "SET_NAME of non-UTF-8 bytes");
	result(fdinfo_has(fd, "name:\tcam\xff\xfe\n"), "fdinfo shows a non-UTF-8 name byte for byte");
	result(link_is(fd, "/dmabuf:cam\xff\xfe"), "readlink shows a non-UTF-8 name byte for byte");
	result(file_has("/sys/kernel/debug/dma_buf/bufinfo", "\tcam\xff\xfe\n"),
	       "bufinfo shows a non-UTF-8 name byte for byte");
	expect(ioctl(fd, DMA_BUF_SET_NAME_B, "frame"), 0, "SET_NAME back to frame");

	/* stat */
	fd2 = new_buf(2);
	result(fstat(fd, &st) == 0 && fstat(fd2, &st2) == 0 && st.st_ino != st2.st_ino,
	       "distinct buffers have distinct st_ino");
	result(st.st_size == 16384 && st2.st_size == 8192, "st_size is the buffer size");
	close(fd2);

	/* mmap */
	{
		void *p = mmap(NULL, 5 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p == MAP_FAILED && errno == EINVAL, "mmap beyond the size fails with EINVAL");
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4 * 4096);
		result(p == MAP_FAILED && errno == EINVAL, "mmap at pgoff == pages fails with EINVAL");
		p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		result(p != MAP_FAILED, "mmap of the whole buffer");
		{
			char want[64];

			snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
			result(maps_line_has(want, "/dmabuf:frame"), "/proc/self/maps names the mapping /dmabuf:frame");
		}
		if (p != MAP_FAILED) {
			memset(p, 0x5a, 4 * 4096);
			result(((unsigned char *)p)[4 * 4096 - 1] == 0x5a, "write and read back through mmap");
			munmap(p, 4 * 4096);
		}
	}

	/* poll without fences */
	result(poll_now(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT), "poll with no fences: IN|OUT");
	result(poll_now(fd, POLLIN) == POLLIN, "poll IN with no fences");

	/* EXPORT_SYNC_FILE */
	expect(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, bad), EFAULT, "EXPORT_SYNC_FILE bad pointer");
	ex.flags = 0;
	expect(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), EINVAL, "EXPORT_SYNC_FILE flags 0");
	ex.flags = DMA_BUF_SYNC_RW | 4;
	expect(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), EINVAL, "EXPORT_SYNC_FILE unknown flag");
	ex.flags = DMA_BUF_SYNC_READ;
	ex.fd = -1;
	expect(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), 0, "EXPORT_SYNC_FILE READ");
	result(ex.fd >= 0 && poll_now(ex.fd, POLLIN) == POLLIN, "exported sync_file (no fences) is signalled");
	result(fcntl(ex.fd, F_GETFD) == FD_CLOEXEC, "exported sync_file fd is close-on-exec");
	close(ex.fd);
	{
		/* Copy-out failure: EFAULT, and the reserved fd is not leaked. */
		struct dma_buf_export_sync_file *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
							   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int before = 0, after = 0, e;

		ro->flags = DMA_BUF_SYNC_READ;
		mprotect(ro, 4096, PROT_READ);
		for (int f = 0; f < 256; f++)
			before += fcntl(f, F_GETFD) != -1;
		r = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, ro);
		e = errno;
		for (int f = 0; f < 256; f++)
			after += fcntl(f, F_GETFD) != -1;
		result(r == -1 && e == EFAULT && before == after,
		       "EXPORT_SYNC_FILE with a read-only argument: EFAULT, no fd leaked");
		if (r != -1 || e != EFAULT || before != after)
			printf("# ret %d errno %d fds %d -> %d\n", r, e, before, after);
		munmap(ro, 4096);
	}

	/* IMPORT_SYNC_FILE */
	expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, bad), EFAULT, "IMPORT_SYNC_FILE bad pointer");
	im.flags = 0;
	im.fd = 0;
	expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL, "IMPORT_SYNC_FILE flags 0");
	im.flags = DMA_BUF_SYNC_WRITE;
	im.fd = fd;
	expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL, "IMPORT_SYNC_FILE of a non-sync_file fd");
	im.fd = -1;
	expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL, "IMPORT_SYNC_FILE of fd -1");
	{
		/* A real sync_file, so that only the flags can be refused. */
		struct dma_buf_export_sync_file sf = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

		r = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &sf);
		result(r == 0 && sf.fd >= 0, "a signalled sync_file to import");
		im.fd = sf.fd;
		im.flags = 0;
		expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL, "IMPORT_SYNC_FILE of a sync_file with flags 0");
		im.flags = DMA_BUF_SYNC_RW | 4;
		expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL,
		       "IMPORT_SYNC_FILE of a sync_file with an unknown flag");
		im.flags = DMA_BUF_SYNC_READ;
		expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), 0, "IMPORT_SYNC_FILE READ of that sync_file");
		if (sf.fd >= 0)
			close(sf.fd);
	}
	sw = open("/sys/kernel/debug/sync/sw_sync", O_RDWR);
	if (sw < 0) {
		printf("# SKIP sw_sync missing: fence tests not run\n");
	} else {
		struct sw_sync_create_fence_data f = { .value = 1, .name = "t" };
		__u32 one = 1;

		result(ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f) == 0, "sw_sync fence created");
		im.flags = DMA_BUF_SYNC_WRITE;
		im.fd = f.fence;
		expect(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), 0, "IMPORT_SYNC_FILE WRITE of an unsignalled fence");
		result(poll_now(fd, POLLIN | POLLOUT) == 0, "poll: busy while the write fence is pending");
		result(poll_now(fd, POLLIN | POLLOUT) == 0, "poll again: still busy (callbacks armed once)");
		ex.flags = DMA_BUF_SYNC_READ;
		expect(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), 0, "EXPORT_SYNC_FILE while busy");
		result(poll_now(ex.fd, POLLIN) == 0, "exported sync_file is unsignalled");
		result(ioctl(sw, SW_SYNC_IOC_INC, &one) == 0, "signal the sw_sync fence");
		result(poll_now(ex.fd, POLLIN) == POLLIN, "exported sync_file signalled with it");
		result(poll_now(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT), "poll: ready after the fence signalled");
		close(ex.fd);
		close(f.fence);

		/* Only a reader's fence pending: POLLIN waits for writers
		 * only, POLLOUT for every fence. */
		f.value = 2;
		result(ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f) == 0, "sw_sync fence for a reader created");
		fd2 = new_buf(1);
		im.flags = DMA_BUF_SYNC_READ;
		im.fd = f.fence;
		expect(ioctl(fd2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), 0, "IMPORT_SYNC_FILE READ of an unsignalled fence");
		result(poll_now(fd2, POLLIN) == POLLIN, "poll IN with only a reader's fence pending: ready");
		result(poll_now(fd2, POLLOUT) == 0, "poll OUT with a reader's fence pending: busy");
		result(ioctl(sw, SW_SYNC_IOC_INC, &one) == 0, "signal the reader's fence");
		result(poll_now(fd2, POLLOUT) == POLLOUT, "poll OUT: ready once the reader's fence signalled");
		close(fd2);
		close(f.fence);
		im.flags = DMA_BUF_SYNC_WRITE;

		/* A pending poll callback must keep the file alive. */
		f.value = 3;
		ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f);
		fd2 = new_buf(1);
		im.fd = f.fence;
		ioctl(fd2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im);
		result(poll_now(fd2, POLLOUT) == 0, "poll arms a callback on a pending fence");
		close(fd2);
		result(ioctl(sw, SW_SYNC_IOC_INC, &one) == 0, "fence signalled after the buffer fd was closed");
		close(f.fence);

		/*
		 * A CPU access waits for the fences of its usage class
		 * (dma_resv_usage_rw): a read for the writers, a write for
		 * everyone. Without the wait, the CPU reads a frame the device
		 * is still writing.
		 */
		{
			static const struct {
				__u32 fence;
				__u64 access;
				int waits;
				const char *what;
			} rows[] = {
				{ DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_READ, 1, "a read waits for a pending write fence" },
				{ DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_WRITE, 1, "a write waits for a pending write fence" },
				{ DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW, 1, "a read-write access waits for a pending write fence" },
				{ DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, 1, "a write waits for a pending read fence" },
				{ DMA_BUF_SYNC_READ, DMA_BUF_SYNC_READ, 0, "a read does not wait for a pending read fence" },
			};

			for (unsigned int i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
				int w = -1;

				f.value = 4 + i;
				fd2 = new_buf(1);
				if (fd2 >= 0 && ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f) == 0) {
					im.flags = rows[i].fence;
					im.fd = f.fence;
					if (ioctl(fd2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im) == 0)
						w = sync_waits(fd2, sw, rows[i].access);
					close(f.fence);
				}
				if (fd2 >= 0)
					close(fd2);
				result(w == rows[i].waits, "SYNC: %s (%s)", rows[i].what,
				       w < 0 ? "failed" : w ? "waited" : "did not wait");
			}
			/* The same classes for exported sync files: a write one
			 * carries every fence, a read one the writers' only. */
			f.value = 4 + sizeof(rows) / sizeof(rows[0]);
			fd2 = new_buf(1);
			if (fd2 >= 0 && ioctl(sw, SW_SYNC_IOC_CREATE_FENCE, &f) == 0) {
				int wr = -1, rd = -1;

				im.flags = DMA_BUF_SYNC_READ;
				im.fd = f.fence;
				if (ioctl(fd2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im) == 0) {
					ex.flags = DMA_BUF_SYNC_WRITE;
					if (ioctl(fd2, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0) {
						wr = poll_now(ex.fd, POLLIN);
						close(ex.fd);
					}
					ex.flags = DMA_BUF_SYNC_READ;
					if (ioctl(fd2, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0) {
						rd = poll_now(ex.fd, POLLIN);
						close(ex.fd);
					}
				}
				result(wr == 0, "EXPORT_SYNC_FILE WRITE with a read fence pending: unsignalled");
				result(rd == POLLIN, "EXPORT_SYNC_FILE READ with only a read fence pending: signalled");
				ioctl(sw, SW_SYNC_IOC_INC, &one);
				close(f.fence);
			} else {
				result(0, "a buffer and a fence for the sync-file classes");
			}
			if (fd2 >= 0)
				close(fd2);
		}
		close(sw);
	}

	/* O_PATH on /proc/self/fd/N outlives the fd. */
	{
		char path[64];
		int op;

		fd2 = new_buf(1);
		ioctl(fd2, DMA_BUF_SET_NAME_B, "opath");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd2);
		op = open(path, O_PATH);
		result(op >= 0, "O_PATH open of /proc/self/fd/N");
		close(fd2);
		result(link_is(op, "/dmabuf:opath"), "O_PATH keeps the name after the last fd closed");
		result(fstat(op, &st) == 0 && st.st_size == 4096, "fstat through O_PATH");
		close(op);
	}

	close(fd);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
