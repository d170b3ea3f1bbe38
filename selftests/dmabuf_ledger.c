// SPDX-License-Identifier: GPL-2.0
/*
 * The ownership ledger and the misuse detector of the Rust core (not in
 * the C core): /sys/kernel/debug/dma_buf/owners against what this process
 * did (who exported each buffer, its cgroup and time, each importer's
 * mappings, pins, CPU accesses), and, with the core's debug_misuse
 * parameter on, one report for each importer bug the test module makes
 * on purpose, with the device and the stack that made it.
 *
 *   dmabuf_ledger          TAP; needs dmabuf_test_c.ko and the Rust core
 *                          (SKIP without the owners file)
 *   dmabuf_ledger misuse   the same, then the misuse cases (the detector
 *                          must be on)
 * With DMABUF_TOP=PATH in the environment, tools/dmabuf-top (built at PATH)
 * is checked against the same buffers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "heap.h"
#include "tap.h"
#include "kmod/dmabuf_test.h"

#define OWNERS "/sys/kernel/debug/dma_buf/owners"
/* The CMA heap of the test kernels (cma= on the command line). */
#define CMA_HEAP "default_cma_region"

static char owners[1 << 20];

/* Reads the owners file into `owners`; its length, or -1. */
static ssize_t read_owners(void)
{
	ssize_t n, off = 0;
	int f = open(OWNERS, O_RDONLY);

	if (f < 0)
		return -1;
	while ((n = read(f, owners + off, sizeof(owners) - 1 - off)) > 0)
		off += n;
	close(f);
	owners[off] = 0;
	return off;
}

static unsigned long long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

/*
 * The `kind` line ("buffer" or "attachment") of buffer `ino`, number `nth`
 * (0 first), copied into `out`; 0 if there is none.
 */
static int line_of(const char *kind, unsigned long long ino, int nth, char *out, size_t size)
{
	char head[64];
	const char *p = owners;

	snprintf(head, sizeof(head), "%s ino=%llu ", kind, ino);
	while ((p = strstr(p, head))) {
		if (p == owners || p[-1] == '\n') {
			if (nth-- == 0) {
				const char *e = strchr(p, '\n');
				size_t len = e ? (size_t)(e - p) : strlen(p);

				if (len >= size)
					len = size - 1;
				memcpy(out, p, len);
				out[len] = 0;
				return 1;
			}
		}
		p += strlen(head);
	}
	return 0;
}

/* The value of `key=` in a line, copied into `out` (empty if absent). */
static const char *field(const char *line, const char *key, char *out, size_t size)
{
	char k[32];
	const char *p;
	size_t len;

	snprintf(k, sizeof(k), " %s=", key);
	out[0] = 0;
	p = strstr(line, k);
	if (!p)
		return out;
	p += strlen(k);
	len = strcspn(p, " ");
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = 0;
	return out;
}

static unsigned long long boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* This process's cgroup2 id (its directory's inode), 0 if unknown. */
static unsigned long long my_cgroup(void)
{
	char buf[512], path[600];
	struct stat st;
	FILE *f = fopen("/proc/self/cgroup", "r");
	unsigned long long id = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "0::", 3))
			continue;
		buf[strcspn(buf, "\n")] = 0;
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s", buf + 3);
		if (!stat(path, &st))
			id = st.st_ino;
	}
	fclose(f);
	return id;
}

/* Moves this process into a new child cgroup, so that its id is not the
 * root's; mounts cgroup2 if nothing is there. 0 on success. */
static int enter_cgroup(void)
{
	char pid[32];
	int f;

	if (access("/sys/fs/cgroup/cgroup.procs", F_OK)) {
		mkdir("/sys/fs/cgroup", 0755);
		if (mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL))
			return -1;
	}
	if (mkdir("/sys/fs/cgroup/dmabuf_ledger", 0755) && errno != EEXIST)
		return -1;
	f = open("/sys/fs/cgroup/dmabuf_ledger/cgroup.procs", O_WRONLY);
	if (f < 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write(f, pid, strlen(pid)) < 0) {
		close(f);
		return -1;
	}
	close(f);
	return 0;
}

/* A buffer exported by a child process named `comm`, passed to us: the
 * fd, and the child's pid in *pid. */
static int foreign_buffer(const char *comm, pid_t *pid)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (char[1]){ 0 }, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int sv[2], fd = -1, status;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	*pid = fork();
	if (*pid == 0) {
		int b;

		prctl(PR_SET_NAME, comm);
		b = heap_alloc("system", 4096);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &b, sizeof(int));
		_exit(b < 0 || sendmsg(sv[1], &msg, 0) != 1);
	}
	close(sv[1]);
	if (*pid > 0 && recvmsg(sv[0], &msg, 0) == 1) {
		c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	}
	close(sv[0]);
	if (*pid > 0)
		waitpid(*pid, &status, 0);
	return fd;
}

static int kmsg_mark(const char *text)
{
	int f = open("/dev/kmsg", O_WRONLY);
	int ok = f >= 0 && write(f, text, strlen(text)) == (ssize_t)strlen(text);

	if (f >= 0)
		close(f);
	return ok;
}

static char klog[4 << 20];

/*
 * The kernel log's records after the last "dmabuf-rs-test: expected
 * misuse begin" mark, one a line, into `klog`.
 */
static void read_klog(void)
{
	char rec[8192];
	size_t off = 0;
	ssize_t n;
	int f = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	klog[0] = 0;
	if (f < 0)
		return;
	while ((n = read(f, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg;

		if (n <= 0)
			continue;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (strstr(msg, "dmabuf-rs-test: expected misuse begin"))
			off = 0;
		n = strlen(msg);
		if (off + n + 1 < sizeof(klog)) {
			memcpy(klog + off, msg, n);
			off += n;
			if (n == 0 || msg[n - 1] != '\n')
				klog[off++] = '\n';
		}
		klog[off] = 0;
	}
	close(f);
}

static int count_in_klog(const char *needle)
{
	int n = 0;

	for (const char *p = klog; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/*
 * Whether the report `what` of buffer `ino` is in the log once, followed
 * within a few lines by "the OP was called from:" and a stack line naming
 * `fn` (the importer's module: the test module's functions are inlined).
 */
static int reported(const char *what, unsigned long long ino, const char *op, const char *fn)
{
	char needle[256], from[128];
	const char *p, *q;

	snprintf(needle, sizeof(needle), "dma-buf misuse: %s: buffer ino %llu,", what, ino);
	if (count_in_klog(needle) != 1)
		return 0;
	p = strstr(klog, needle);
	snprintf(from, sizeof(from), "dma-buf misuse: the %s was called from:", op);
	q = strstr(p, from);
	if (!q)
		return 0;
	q = strstr(q, fn);
	return q && q - p < 4096;
}

/*
 * tools/dmabuf-top in batch mode, while we hold our buffer (fd and mmap)
 * and one a child exported and exited: its sections name both.
 */
static void top(const char *path, int fd, pid_t child)
{
	char cmd[256], out[1 << 16], want[128];
	size_t n = 0;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s -b", path);
	f = popen(cmd, "r");
	if (f) {
		n = fread(out, 1, sizeof(out) - 1, f);
		result(pclose(f) == 0, "dmabuf-top -b exits 0");
	} else {
		result(0, "dmabuf-top -b runs");
	}
	out[n] = 0;
	printf("%s", out);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	result(strstr(out, "EXPORTERS") && strstr(out, "HOLDERS") && strstr(out, "IMPORTERS") &&
		       strstr(out, "KERNEL-ONLY"),
	       "dmabuf-top: the four sections");
	/* Columns are compared with runs of spaces made one. */
	for (char *r = out, *w = out; ; r++) {
		if (*r == ' ' && w > out && w[-1] == ' ')
			continue;
		if (!(*w++ = *r))
			break;
	}
	snprintf(want, sizeof(want), "\n %d dmabuf_ledger 1 12\n", getpid());
	result(strstr(out, want) != NULL, "dmabuf-top: we exported one buffer of 12 KiB");
	snprintf(want, sizeof(want), "\n %d ledger-child (exited) 1 4\n", child);
	result(strstr(out, want) != NULL, "dmabuf-top: the child exported one of 4 KiB and exited");
	snprintf(want, sizeof(want), "\n %d dmabuf_ledger 2 1 16\n", getpid());
	result(strstr(out, want) != NULL, "dmabuf-top: we hold 2 fds (16 KiB) and one mmap");
}

static void misuse(int dev)
{
	struct dmabuf_test_misuse m;
	unsigned long long ino;
	char path[64], line[1024], v[64];
	int fd, opath;

	kmsg_mark("dmabuf-rs-test: expected misuse begin\n");

	/* end without begin, twice from the same place: one report. */
	fd = heap_alloc("system", 4096);
	ino = ino_of(fd);
	m = (struct dmabuf_test_misuse){ .fd = fd, .kind = DMABUF_TEST_MISUSE_END_WITHOUT_BEGIN };
	ioctl(dev, DMABUF_TEST_MISUSE, &m);
	ioctl(dev, DMABUF_TEST_MISUSE, &m);
	close(fd);
	read_klog();
	result(reported("end_cpu_access without begin_cpu_access", ino, "end_cpu_access", "[dmabuf_test_c]"),
	       "misuse: an end_cpu_access without begin is reported once per site, with its stack");

	/* A begin never ended: reported when the buffer dies. */
	fd = heap_alloc("system", 4096);
	ino = ino_of(fd);
	m = (struct dmabuf_test_misuse){ .fd = fd, .kind = DMABUF_TEST_MISUSE_BEGIN_NOT_ENDED };
	result(ioctl(dev, DMABUF_TEST_MISUSE, &m) == 0, "misuse: a begin_cpu_access left open");
	read_owners();
	result(line_of("buffer", ino, 0, line, sizeof(line)) &&
		       !strcmp(field(line, "cpu", v, sizeof(v)), "0,1,0,0"),
	       "owners: an open to_dev bracket is counted (%s)", v);
	close(fd);
	read_klog();
	result(reported("begin_cpu_access never ended", ino, "begin_cpu_access", "[dmabuf_test_c]") &&
		       strstr(klog, "1 open in direction to_dev"),
	       "misuse: the open bracket is reported at release, with the begin's stack and direction");

	/* A detach with a mapping alive. */
	fd = heap_alloc("system", 64 << 10);
	ino = ino_of(fd);
	result(ioctl(dev, DMABUF_TEST_DETACH_MAPPED, fd) > 0, "misuse: detach while mapped");
	close(fd);
	read_klog();
	result(reported("detach with mappings alive", ino, "map", "[dmabuf_test_c]") &&
		       strstr(klog, "device dmabuf_test, 1 mapping(s)"),
	       "misuse: the detach is reported with the device and the map's stack");

	/* The last reference put while mapped: the test module keeps its
	 * mapping without a reference; an O_PATH open keeps the buffer (not
	 * its file) alive until the module has unmapped and detached. */
	fd = heap_alloc("system", 4096);
	ino = ino_of(fd);
	m = (struct dmabuf_test_misuse){ .fd = fd, .kind = DMABUF_TEST_MISUSE_PUT_WHILE_MAPPED };
	result(ioctl(dev, DMABUF_TEST_MISUSE, &m) == 0, "misuse: a mapping kept without a reference");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opath = open(path, O_PATH);
	close(fd);
	m.kind = DMABUF_TEST_MISUSE_CLEANUP;
	result(ioctl(dev, DMABUF_TEST_MISUSE, &m) == 0, "misuse: the mapping is given back late");
	close(opath);
	read_klog();
	result(reported("last reference put while mapped", ino, "map", "[dmabuf_test_c]") &&
		       reported("last reference put while mapped", ino, "attach", "[dmabuf_test_c]"),
	       "misuse: the last put while mapped is reported with the map's and the attach's stacks");
	/* Nothing else was reported: the cases above each gave one. */
	result(count_in_klog(": buffer ino ") == 4, "misuse: exactly the 4 reports (%d)",
	       count_in_klog(": buffer ino "));
	kmsg_mark("dmabuf-rs-test: expected misuse end\n");
}

int main(int argc, char **argv)
{
	char line[1024], v[256], want[64];
	unsigned long long ino, ino2, t0, t1, cg;
	int dev, fd, fd2, slot;
	pid_t child = -1;

	if (read_owners() < 0) {
		printf("1..0 # SKIP no %s (not the Rust core, or no debugfs)\n", OWNERS);
		return 0;
	}
	dev = open("/dev/dmabuf_test", O_RDWR);
	if (dev < 0) {
		printf("1..0 # SKIP /dev/dmabuf_test missing (dmabuf_test_c.ko not loaded)\n");
		return 0;
	}
	printf("TAP version 13\n");
	result(!strncmp(owners, "# dma_buf owners 1\n", 19), "owners: the first line gives version 1");
	result(enter_cgroup() == 0, "a cgroup of our own");
	cg = my_cgroup();
	prctl(PR_SET_NAME, "dmabuf_ledger");

	/* A CMA buffer: the importer below takes one DMA segment only. */
	t0 = boottime_ns();
	fd = heap_alloc(CMA_HEAP, 3 * 4096);
	t1 = boottime_ns();
	ino = ino_of(fd);
	result(fd >= 0 && !ioctl(fd, DMA_BUF_SET_NAME_B, "ledger test=1"), "a named CMA-heap buffer");
	read_owners();
	result(line_of("buffer", ino, 0, line, sizeof(line)), "owners: the buffer's line");
	printf("# %s\n", line);
	result(!strcmp(field(line, "size", v, sizeof(v)), "12288"), "owners: size=12288 (%s)", v);
	result(!strcmp(field(line, "exporter", v, sizeof(v)), CMA_HEAP), "owners: exporter=%s (%s)", CMA_HEAP, v);
	result(!strcmp(field(line, "name", v, sizeof(v)), "ledger\\x20test\\x3d1"),
	       "owners: the name, escaped (%s)", v);
	result(!strcmp(field(line, "refs", v, sizeof(v)), "1"), "owners: refs=1 (%s)", v);
	snprintf(want, sizeof(want), "%d", getpid());
	result(!strcmp(field(line, "tgid", v, sizeof(v)), want), "owners: tgid is ours");
	result(!strcmp(field(line, "comm", v, sizeof(v)), "dmabuf_ledger"), "owners: comm (%s)", v);
	snprintf(want, sizeof(want), "%llu", cg);
	result(cg > 1 && !strcmp(field(line, "cgroup", v, sizeof(v)), want),
	       "owners: the cgroup is ours");
	field(line, "exported_ns", v, sizeof(v));
	result(strtoull(v, NULL, 10) >= t0 && strtoull(v, NULL, 10) <= t1,
	       "owners: exported_ns is the ALLOC's time");
	result(!strcmp(field(line, "vmaps", v, sizeof(v)), "0") &&
		       !strcmp(field(line, "cpu", v, sizeof(v)), "0,0,0,0"),
	       "owners: no vmap, no CPU access");
	result(!line_of("attachment", ino, 0, line, sizeof(line)), "owners: no attachment yet");

	fd2 = dup(fd);
	read_owners();
	line_of("buffer", ino, 0, line, sizeof(line));
	result(!strcmp(field(line, "refs", v, sizeof(v)), "2"), "owners: a dup makes refs=2 (%s)", v);
	close(fd2);

	/* An importer (the test module) attaches and maps it. */
	slot = ioctl(dev, DMABUF_TEST_HOLD, fd);
	read_owners();
	result(slot >= 0 && line_of("attachment", ino, 0, line, sizeof(line)), "owners: the importer's attachment");
	printf("# %s\n", line);
	result(!strcmp(field(line, "device", v, sizeof(v)), "dmabuf_test") &&
		       !strcmp(field(line, "kind", v, sizeof(v)), "static") &&
		       !strcmp(field(line, "pins", v, sizeof(v)), "0") &&
		       !strcmp(field(line, "maps", v, sizeof(v)), "1,0,0,0"),
	       "owners: device dmabuf_test, static, one bidirectional mapping");
	result(ioctl(dev, DMABUF_TEST_HELD_SUM, slot) >= 0, "the importer reads it (begin, vmap, vunmap, end)");
	read_owners();
	line_of("buffer", ino, 0, line, sizeof(line));
	result(!strcmp(field(line, "vmaps", v, sizeof(v)), "0") &&
		       !strcmp(field(line, "cpu", v, sizeof(v)), "0,0,0,0"),
	       "owners: balanced brackets and vmaps leave nothing counted");
	result(ioctl(dev, DMABUF_TEST_UNHOLD, slot) == 0, "the importer lets go");
	read_owners();
	result(!line_of("attachment", ino, 0, line, sizeof(line)), "owners: no attachment after the detach");

	/* A CPU access begun by a kernel importer and not ended yet (with
	 * the detector on, misuse() does this, as the report is once per
	 * site). */
	if (argc < 2 || strcmp(argv[1], "misuse")) {
		struct dmabuf_test_misuse m = { .kind = DMABUF_TEST_MISUSE_BEGIN_NOT_ENDED };

		m.fd = fd2 = heap_alloc("system", 4096);
		ino2 = ino_of(fd2);
		result(ioctl(dev, DMABUF_TEST_MISUSE, &m) == 0, "a kernel importer begins a CPU access");
		read_owners();
		line_of("buffer", ino2, 0, line, sizeof(line));
		result(!strcmp(field(line, "cpu", v, sizeof(v)), "0,1,0,0"),
		       "owners: an open to_dev bracket is counted (%s)", v);
		close(fd2);
	}

	/* A buffer exported by another process: the exporter, not the holder. */
	fd2 = foreign_buffer("ledger-child", &child);
	ino2 = ino_of(fd2);
	read_owners();
	snprintf(want, sizeof(want), "%d", child);
	result(fd2 >= 0 && line_of("buffer", ino2, 0, line, sizeof(line)) &&
		       !strcmp(field(line, "tgid", v, sizeof(v)), want) &&
		       !strcmp(field(line, "comm", line + 512, 64), "ledger-child"),
	       "owners: a passed buffer names the process that exported it");
	if (getenv("DMABUF_TOP"))
		top(getenv("DMABUF_TOP"), fd, child);
	close(fd2);

	close(fd);
	read_owners();
	result(!line_of("buffer", ino, 0, line, sizeof(line)), "owners: the buffer's line goes with it");

	if (argc > 1 && !strcmp(argv[1], "misuse"))
		misuse(dev);
	printf("1..%d\n", test_no);
	return failed != 0;
}
