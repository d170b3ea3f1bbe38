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
 *   dmabuf_ledger reader SECONDS   reads the owners file in a loop
 *                          (alongside the stress test): no torn record
 * With DMABUF_TOP=PATH in the environment, tools/dmabuf-top (built at PATH)
 * is checked against a scenario of two processes, vgem and the test
 * module (scenario() below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <sched.h>
#include <signal.h>
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
#include <stdarg.h>
#include "heap.h"
#include "vgem.h"
#include "tap.h"
#include "kmod/dmabuf_test.h"

#define OWNERS "/sys/kernel/debug/dma_buf/owners"
/* The CMA heap of the test kernels (cma= on the command line). */
#define CMA_HEAP "default_cma_region"

static char owners[1 << 20];

/* What the test waits for, said if it takes too long. */
static const char *volatile waiting = "the test";

static void timed_out(int sig)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "not ok - timed out (120 s) waiting for %s\n", waiting);

	(void)sig;
	write(1, msg, n);
	_exit(1);
}

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

/* Copies `len` bytes at `p` into `out` as a string, cut to `size`. */
static void copy_out(char *out, size_t size, const char *p, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = 0;
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

				copy_out(out, size, p, e ? (size_t)(e - p) : strlen(p));
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

	snprintf(k, sizeof(k), " %s=", key);
	out[0] = 0;
	p = strstr(line, k);
	if (!p)
		return out;
	p += strlen(k);
	copy_out(out, size, p, strcspn(p, " "));
	return out;
}

/*
 * How far the ledger's coarse export time may be before the ALLOC began:
 * a tick (4 ms at HZ=250) with room for a late one in an emulated guest.
 */
#define COARSE_SLACK_NS 200000000ULL

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

/* The output of `top --once --json` into `out`; 0 on success. */
static int run_top(const char *top, char *out, size_t size)
{
	char cmd[256];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --once --json", top);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(out, 1, size - 1, f);
	out[n] = 0;
	return pclose(f) == 0 ? 0 : -1;
}

/* The JSON object of buffer `ino` in dmabuf-top's list (its text up to
 * the next buffer's), in `obj`; empty if it is not listed. */
static const char *buffer_obj(const char *json, unsigned long long ino, char *obj, size_t size)
{
	char head[64];
	const char *p, *e;

	snprintf(head, sizeof(head), "{\"ino\":%llu,", ino);
	obj[0] = 0;
	p = strstr(json, head);
	if (!p)
		return obj;
	e = strstr(p + 1, "{\"ino\":");
	copy_out(obj, size, p, e ? (size_t)(e - p) : strlen(p));
	return obj;
}

static int has(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int has(const char *text, const char *fmt, ...)
{
	char needle[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(needle, sizeof(needle), fmt, ap);
	va_end(ap);
	if (strstr(text, needle))
		return 1;
	printf("# missing: %s\n", needle);
	return 0;
}

/* Without root the tool says what is missing, and fails. */
static void top_without_root(const char *top)
{
	char out[1024] = "";
	int p[2], status = 0;
	ssize_t n;
	pid_t c;

	if (pipe(p))
		return;
	c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (setgid(65534) || setuid(65534))
			_exit(99);
		execl(top, top, "--once", (char *)NULL);
		_exit(98);
	}
	close(p[1]);
	/* Until EOF: the message may come in several writes. */
	for (size_t off = 0; off < sizeof(out) - 1 && (n = read(p[0], out + off, sizeof(out) - 1 - off)) > 0;) {
		off += n;
		out[off] = 0;
	}
	close(p[0]);
	waitpid(c, &status, 0);
	if (!strstr(out, "run it as root"))
		printf("# dmabuf-top as uid 65534: status %#x, said: %s\n", status, out);
	result(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(out, "run it as root"),
	       "dmabuf-top without root fails and says to run it as root");
}

/* What process A of the scenario tells the test. */
struct scenario_a {
	unsigned long long ino[3];
	long slot;
	int ok;
};

/*
 * A scenario whose truth is known, followed by tools/dmabuf-top --json at
 * each step. Process A ("ledger-a") allocates two system buffers (8 KiB,
 * named "frame", and 4 KiB) and a 16 KiB CMA one, imports the first into
 * vgem, passes the second to process B ("ledger-b"), which maps it, and
 * has the test module hold the third (attached, mapped, vmapped, a CPU
 * access from the device begun). Then A exits, B exits, and the module
 * lets go.
 */
static void scenario(int dev, const char *top)
{
	static char json[1 << 18], obj[4096];
	int sv[2], pa[2], pb[2], ca[2], cb[2];
	struct scenario_a st = { .ok = 0 };
	unsigned long long *ino = st.ino;
	pid_t a, b;
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(pa) || pipe(pb) || pipe(ca) || pipe(cb)) {
		result(0, "scenario: pipes");
		return;
	}
	b = fork();
	if (b == 0) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		int fd = -1;
		void *p = MAP_FAILED;

		prctl(PR_SET_NAME, "ledger-b");
		if (recvmsg(sv[1], &msg, 0) == 1 && CMSG_FIRSTHDR(&msg))
			memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		if (fd >= 0)
			p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		c = p != MAP_FAILED;
		write(pb[1], &c, 1);
		read(cb[0], &c, 1);
		_exit(0);
	}
	a = fork();
	if (a == 0) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct dmabuf_test_misuse m = { .kind = DMABUF_TEST_KEEP_VMAP };
		struct drm_prime_handle h = { 0 };
		int fd[3], vgem = open_vgem();

		prctl(PR_SET_NAME, "ledger-a");
		fd[0] = heap_alloc("system", 8192);
		fd[1] = heap_alloc("system", 4096);
		fd[2] = heap_alloc(CMA_HEAP, 16384);
		for (int i = 0; i < 3; i++)
			ino[i] = ino_of(fd[i]);
		st.ok = fd[0] >= 0 && fd[1] >= 0 && fd[2] >= 0 && !ioctl(fd[0], DMA_BUF_SET_NAME_B, "frame");
		h.fd = fd[0];
		st.ok = st.ok && vgem >= 0 && !ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd[1], sizeof(int));
		st.ok = st.ok && sendmsg(sv[0], &msg, 0) == 1;
		st.slot = ioctl(dev, DMABUF_TEST_HOLD, fd[2]);
		m.fd = fd[2];
		st.ok = st.ok && st.slot >= 0 && !ioctl(dev, DMABUF_TEST_MISUSE, &m);
		write(pa[1], &st, sizeof(st));
		read(ca[0], &c, 1);
		_exit(0);
	}
	/* Only the children write these (and read the others): a child that
	 * dies gives end-of-file, not a wait. */
	close(pa[1]);
	close(pb[1]);
	close(ca[0]);
	close(cb[0]);
	close(sv[0]);
	close(sv[1]);
	waiting = "process A's report";
	result(a > 0 && b > 0 && read(pa[0], &st, sizeof(st)) == sizeof(st) && st.ok,
	       "scenario: A allocates, names, imports into vgem, passes to B; the module holds one");
	waiting = "process B's report";
	result(read(pb[0], &c, 1) == 1 && c == 1, "scenario: B maps the buffer A passed");
	waiting = "dmabuf-top and the children's exits";

	/* 1. Everyone holds what they took. */
	{
		/* The table, for the log. */
		char cmd[256], line[512];
		FILE *f;

		snprintf(cmd, sizeof(cmd), "%s --once", top);
		f = popen(cmd, "r");
		while (f && fgets(line, sizeof(line), f))
			printf("# %s", line);
		result(f && pclose(f) == 0, "scenario 1: dmabuf-top --once exits 0");
	}
	result(run_top(top, json, sizeof(json)) == 0, "scenario 1: dmabuf-top --once --json exits 0");
	printf("# %s", json);
	result(has(json, "{\"pid\":%d,\"comm\":\"ledger-a\",\"buffers\":3,\"bytes\":28672,\"fd_buffers\":3,"
			 "\"fd_bytes\":28672,\"map_buffers\":0,\"map_bytes\":0,\"pss\":26624}", a),
	       "scenario 1: A holds 3 buffers, 28 KiB by fd, 26 KiB proportionally");
	result(has(json, "{\"pid\":%d,\"comm\":\"ledger-b\",\"buffers\":1,\"bytes\":4096,\"fd_buffers\":1,"
			 "\"fd_bytes\":4096,\"map_buffers\":1,\"map_bytes\":4096,\"pss\":2048}", b),
	       "scenario 1: B holds 1 buffer by fd and mapping, half of it proportionally");
	result(has(json, "{\"device\":\"vgem\",\"attached\":1,\"attached_bytes\":8192,\"mapped\":0,\"mapped_bytes\":0}") &&
		       has(json, "{\"device\":\"dmabuf_test\",\"attached\":1,\"attached_bytes\":16384,\"mapped\":1,"
				 "\"mapped_bytes\":16384}"),
	       "scenario 1: vgem attached to its buffer (it maps at first use), dmabuf_test attached and mapped");
	result(has(json, "{\"exporter\":\"system\",\"buffers\":2,\"bytes\":12288}") &&
		       has(json, "{\"exporter\":\"%s\",\"buffers\":1,\"bytes\":16384}", CMA_HEAP),
	       "scenario 1: per exporter, 2 system buffers (12 KiB) and 1 CMA buffer (16 KiB)");
	buffer_obj(json, ino[0], obj, sizeof(obj));
	/* (Its references are vgem's business: not checked.) */
	result(has(obj, "\"size\":8192,\"exporter\":\"system\",\"name\":\"frame\",\"refs\":") &&
		       has(obj, "\"exported_by\":{\"tgid\":%d,\"comm\":\"ledger-a\",\"alive\":true,", a) &&
		       has(obj, "\"vmaps\":0,\"cpu_open\":[0,0,0,0],\"holders\":[{\"pid\":%d,\"fds\":1,\"maps\":0}],"
				"\"importers\":[{\"device\":\"vgem\",\"kind\":\"static\",\"pins\":0,\"maps\":[0,0,0,0]}]", a),
	       "scenario 1: the named buffer: A's, held by A, imported by vgem");
	buffer_obj(json, ino[1], obj, sizeof(obj));
	/* Holders by pid; the references: A's fd, B's fd and B's mapping. */
	result(has(obj, "\"refs\":3,") &&
		       (a < b ? has(obj, "\"holders\":[{\"pid\":%d,\"fds\":1,\"maps\":0},{\"pid\":%d,\"fds\":1,\"maps\":1}],"
					 "\"importers\":[]", a, b)
			      : has(obj, "\"holders\":[{\"pid\":%d,\"fds\":1,\"maps\":1},{\"pid\":%d,\"fds\":1,\"maps\":0}],"
					 "\"importers\":[]", b, a)),
	       "scenario 1: the passed buffer: 3 references, held by A (fd) and B (fd and mapping)");
	buffer_obj(json, ino[2], obj, sizeof(obj));
	/* References: A's fd, the module's hold and its vmap's. */
	result(has(obj, "\"refs\":3,") &&
		       has(obj, "\"vmaps\":1,\"cpu_open\":[0,0,1,0],\"holders\":[{\"pid\":%d,\"fds\":1,\"maps\":0}],"
				"\"importers\":[{\"device\":\"dmabuf_test\",\"kind\":\"static\",\"pins\":0,\"maps\":[1,0,0,0]}]", a),
	       "scenario 1: the CMA buffer: 3 references, one vmap, a from_dev CPU access open, attached and mapped by dmabuf_test");

	/* 2. A exits: its fds and its vgem handle go. */
	write(ca[1], &c, 1);
	waitpid(a, NULL, 0);
	result(run_top(top, json, sizeof(json)) == 0, "scenario 2: dmabuf-top --once --json exits 0");
	printf("# %s", json);
	snprintf(obj, sizeof(obj), "{\"pid\":%d,\"comm\"", a);
	result(!strstr(json, obj), "scenario 2: A is no holder any more");
	result(!buffer_obj(json, ino[0], obj, sizeof(obj))[0], "scenario 2: the buffer only A and vgem held is gone");
	buffer_obj(json, ino[1], obj, sizeof(obj));
	result(has(obj, "\"exported_by\":{\"tgid\":%d,\"comm\":\"ledger-a\",\"alive\":false,", a) &&
		       has(obj, "\"holders\":[{\"pid\":%d,\"fds\":1,\"maps\":1}]", b),
	       "scenario 2: the passed buffer: exported by A (exited), held by B alone");
	result(has(json, "{\"pid\":%d,\"comm\":\"ledger-b\",\"buffers\":1,\"bytes\":4096,\"fd_buffers\":1,"
			 "\"fd_bytes\":4096,\"map_buffers\":1,\"map_bytes\":4096,\"pss\":4096}", b),
	       "scenario 2: B's proportional share is now the whole buffer");
	buffer_obj(json, ino[2], obj, sizeof(obj));
	result(has(obj, "\"vmaps\":1,\"cpu_open\":[0,0,1,0],\"holders\":[],\"importers\":[{\"device\":\"dmabuf_test\""),
	       "scenario 2: the CMA buffer: no process holds it, the module still does");

	/* 3. B exits. */
	write(cb[1], &c, 1);
	waitpid(b, NULL, 0);
	result(run_top(top, json, sizeof(json)) == 0 && !buffer_obj(json, ino[1], obj, sizeof(obj))[0] &&
		       !strstr(json, "\"comm\":\"ledger-b\""),
	       "scenario 3: B exited: the passed buffer is gone");

	/* 4. The module lets go. */
	{
		struct dmabuf_test_misuse m = { .kind = DMABUF_TEST_DROP_VMAP };

		result(!ioctl(dev, DMABUF_TEST_MISUSE, &m) && !ioctl(dev, DMABUF_TEST_UNHOLD, st.slot),
		       "scenario 4: the module ends its CPU access, vunmaps and lets go");
	}
	result(run_top(top, json, sizeof(json)) == 0 && !buffer_obj(json, ino[2], obj, sizeof(obj))[0] &&
		       !strstr(json, "\"device\":\"dmabuf_test\""),
	       "scenario 4: the CMA buffer is gone, and dmabuf_test is attached to nothing");
	close(pa[0]);
	close(pb[0]);
	close(ca[1]);
	close(cb[1]);
	waiting = "nothing";
}

/* The DMA mappings DMA-API debugging tracks whose line has `needle`;
 * -1 without its dump file. */
static int dma_api_entries(const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/sys/kernel/debug/dma-api/dump", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
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
	/* The heap itself unmapped what the importer left (the C heaps leak
	 * the DMA mapping: REFERENCE.md section 5). */
	result(dma_api_entries(" dmabuf_test ") == 0,
	       "misuse: the heap unmapped what was left mapped at the detach (no DMA-API entry for dmabuf_test)");
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

/* Whether `line` is one whole record of format 1, its keys in order. */
static int whole_record(const char *line)
{
	static const char *const buffer_keys[] = { "ino", "size", "exporter", "name", "refs", "tgid", "comm",
						   "cgroup", "exported_ns", "vmaps", "cpu", NULL };
	static const char *const attach_keys[] = { "ino", "device", "kind", "p2p", "pins", "maps", NULL };
	const char *const *keys;
	const char *p;

	if (!strncmp(line, "buffer ", 7))
		keys = buffer_keys, p = line + 7;
	else if (!strncmp(line, "attachment ", 11))
		keys = attach_keys, p = line + 11;
	else
		return 0;
	for (; *keys; keys++) {
		size_t k = strlen(*keys), v;

		if (strncmp(p, *keys, k) || p[k] != '=')
			return 0;
		p += k + 1;
		v = strcspn(p, " \n");
		if (!v)
			return 0;
		p += v;
		if (keys[1]) {
			if (*p != ' ')
				return 0;
			p++;
		}
	}
	return *p == '\n';
}

/*
 * Reads the owners file in a loop for `secs` seconds (alongside the stress
 * test, whose buffers come and go meanwhile): every read starts with the
 * version line and every other line is a whole record.
 */
static int reader(int secs)
{
	time_t end = time(NULL) + secs;
	long reads = 0, records = 0, torn = 0;

	printf("TAP version 13\n");
	while (time(NULL) < end) {
		char *line, *save = NULL;

		if (read_owners() < 0) {
			torn++;
			break;
		}
		reads++;
		if (strncmp(owners, "# dma_buf owners 1\n", 19))
			torn++;
		for (line = strtok_r(owners + 19, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char rec[1100];

			snprintf(rec, sizeof(rec), "%s\n", line);
			records++;
			if (!whole_record(rec)) {
				if (!torn)
					printf("# torn: %s", rec);
				torn++;
			}
		}
	}
	printf("# %ld reads, %ld records, %ld torn\n", reads, records, torn);
	result(reads > 0 && torn == 0, "owners read in a loop while buffers come and go: every record whole");
	result(records > 0, "owners: the loop saw records");
	printf("1..%d\n", test_no);
	return failed != 0;
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
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, timed_out);
	alarm(argc > 2 && !strcmp(argv[1], "reader") ? atoi(argv[2]) + 120 : 120);
	if (argc > 2 && !strcmp(argv[1], "reader"))
		return reader(atoi(argv[2]));
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
	/* The ledger reads the coarse clock: the last tick's time, before t0. */
	field(line, "exported_ns", v, sizeof(v));
	result(strtoull(v, NULL, 10) + COARSE_SLACK_NS >= t0 && strtoull(v, NULL, 10) <= t1,
	       "owners: exported_ns is the ALLOC's time, to a tick (%s, ALLOC in [%llu, %llu])", v,
	       t0, t1);
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
	close(fd2);

	close(fd);
	read_owners();
	result(!line_of("buffer", ino, 0, line, sizeof(line)), "owners: the buffer's line goes with it");

	if (getenv("DMABUF_TOP")) {
		scenario(dev, getenv("DMABUF_TOP"));
		top_without_root(getenv("DMABUF_TOP"));
	}
	if (argc > 1 && !strcmp(argv[1], "misuse"))
		misuse(dev);
	printf("1..%d\n", test_no);
	return failed != 0;
}
