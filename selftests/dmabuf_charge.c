// SPDX-License-Identifier: GPL-2.0
/*
 * Heap buffers charged to cgroups by the Rust core's per-heap policy
 * (issue 21; heaps/charge.rs), not in the C core: the charge parameter
 * (dma_heap.charge built in, dmabuf_rs.charge as a module), the heaps'
 * dmem regions (cma/<area>, dma_heap/system), each policy on each heap
 * with exact byte counts, dmem.max and memory.max, a charge that stays with the
 * allocating cgroup when the fd moves to another cgroup or the cgroup is
 * removed, injected allocation faults, and the stress test with charging
 * on. Boot without mem_accounting: with it the system heap is charged to
 * memcg under every policy, which the suite then expects.
 *
 *   dmabuf_charge [STRESS]   TAP; STRESS is the path of dmabuf_stress,
 *                            run 10 s with every heap charged to both.
 *                            Boot with dma_heap.charge=system:none
 *                            (dmabuf_rs.charge=... as a module).
 *
 * dmem counts bytes exactly; memcg counts pages through per-CPU stocks
 * and its slab statistics lag behind, so a memcg value is compared to
 * within four pages (a buffer here is 64 KiB or more, and a leak keeps
 * all of it charged; two pages proved too few: 2 pages and 616 bytes
 * once, with nothing leaked).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "heap.h"
#include "memcg.h"
#include "failnth.h"
#include "tap.h"
#include "phase.h"

#define CG "/sys/fs/cgroup"
#define CMA_HEAP "default_cma_region"
#define PAGE 4096L
#define MIB (1L << 20)
/* How far a memcg value may be from the expected one (see above). */
#define MEMCG_SLACK (4 * PAGE)

static const char *param;
static char cma_region[64];
static const char *sys_region = "dma_heap/system";

/* Sets the charge parameter; 0, or -errno of the write. */
static int set_policy(const char *val)
{
	int f = open(param, O_WRONLY | O_CLOEXEC), r = 0;

	if (f < 0)
		return -errno;
	if (write(f, val, strlen(val)) < 0)
		r = -errno;
	close(f);
	return r;
}

static void get_policy(char *out, size_t size)
{
	FILE *f = fopen(param, "r");

	out[0] = 0;
	if (f) {
		if (!fgets(out, size, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, "\n")] = 0;
}

/* The value of `region` in a dmem file (capacity, current, max); -1 if absent. */
static long long dmem_value(const char *file, const char *region)
{
	char line[256];
	size_t n = strlen(region);
	long long v = -1;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, region, n) && line[n] == ' ') {
			v = strcmp(line + n + 1, "max\n") ? atoll(line + n + 1) : -2;
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

static long long dmem_current(const char *cg, const char *region)
{
	char path[160];

	snprintf(path, sizeof(path), CG "/%s/dmem.current", cg);
	return dmem_value(path, region);
}

static int dmem_set_max(const char *cg, const char *region, const char *max)
{
	char path[160], val[128];

	snprintf(path, sizeof(path), CG "/%s/dmem.max", cg);
	snprintf(val, sizeof(val), "%s %s", region, max);
	return write_file(path, val);
}

/*
 * Makes cgroup `name` (a path under CG); with `parent`, memory and dmem
 * are enabled for its children (it can then hold no process itself).
 */
static int cg_make(const char *name, int parent)
{
	char path[160];

	snprintf(path, sizeof(path), CG "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), CG "/%s/cgroup.subtree_control", name);
	return parent ? write_file(path, "+memory +dmem") : 0;
}

static int cg_join(const char *name)
{
	char path[160], pid[32];

	snprintf(path, sizeof(path), CG "/%s/cgroup.procs", name);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(path, pid);
}

static long cma_free(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CmaFree: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v * 1024;
}

static int near(long got, long want)
{
	return labs(got - want) <= MEMCG_SLACK;
}

static const char *region_of(const char *heap)
{
	return strcmp(heap, "system") ? cma_region : sys_region;
}

/* Sends fd over a socket; receives one. */
static int send_fd(int sock, int fd)
{
	char c = 0, ctl[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *h;
	int fd = -1;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	h = CMSG_FIRSTHDR(&m);
	if (h && h->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static unsigned long long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

/* The id of cgroup `name`: its directory's inode number. */
static unsigned long long cgroup_id(const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), CG "/%s", name);
	return stat(path, &st) ? 0 : (unsigned long long)st.st_ino;
}

/* The cgroup= of buffer `ino` in the ledger (debugfs owners file); 0 if none. */
static unsigned long long owners_cgroup(unsigned long long ino)
{
	char line[1024], head[64];
	unsigned long long cg = 0;
	FILE *f;

	mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	f = fopen("/sys/kernel/debug/dma_buf/owners", "r");
	snprintf(head, sizeof(head), "buffer ino=%llu ", ino);
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " cgroup=");

		if (!strncmp(line, head, strlen(head)) && p) {
			cg = strtoull(p + 8, NULL, 10);
			break;
		}
	}
	if (f)
		fclose(f);
	return cg;
}

/* Whether the heap parameter mem_accounting is on (either name). */
static int mem_accounting(void)
{
	char c = 'N';
	FILE *f = fopen("/sys/module/dma_heap/parameters/mem_accounting", "r");

	if (!f)
		f = fopen("/sys/module/dmabuf_rs/parameters/mem_accounting", "r");
	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c == 'Y';
}

/* Each policy on each heap: what an ALLOC charges, and its close gives back. */
static void policies(void)
{
	static const char *const heaps[] = { "system", CMA_HEAP };
	static const char *const pols[] = { "none", "memcg", "dmem", "both" };
	/* Not page-aligned: the heaps charge what they allocate, whole pages. */
	const long len = MIB + 100, charged = MIB + PAGE;

	for (int h = 0; h < 2; h++) {
		for (int p = 0; p < 4; p++) {
			char val[64];
			long m0, m1, m2;
			long long d0, d1, d2;
			/* mem_accounting charges the system heap to memcg whatever its policy. */
			int fd, memcg = (p & 1) || (!h && mem_accounting()), dmem = p & 2;

			snprintf(val, sizeof(val), "%s:%s", heaps[h], pols[p]);
			set_policy(val);
			m0 = memcg_heap_bytes("charge-a");
			d0 = dmem_current("charge-a", region_of(heaps[h]));
			fd = heap_alloc(heaps[h], len);
			m1 = memcg_heap_bytes("charge-a");
			d1 = dmem_current("charge-a", region_of(heaps[h]));
			result(fd >= 0 && d1 - d0 == (dmem ? charged : 0) && near(m1 - m0, memcg ? charged : 0),
			       "%s: %s charges dmem %lld bytes (want %ld), memcg %ld (want %ld +-%ld)",
			       heaps[h], pols[p], d1 - d0, dmem ? charged : 0, m1 - m0,
			       memcg ? charged : 0, MEMCG_SLACK);
			close(fd);
			m2 = memcg_heap_bytes("charge-a");
			d2 = dmem_current("charge-a", region_of(heaps[h]));
			result(d2 == d0 && near(m2, m0), "%s: %s: the close gives it back (dmem %lld -> %lld, memcg %ld -> %ld)",
			       heaps[h], pols[p], d0, d2, m0, m2);
		}
	}
	set_policy("");
}

/* dmem.max: an ALLOC over it is EAGAIN and leaves nothing behind. */
static void limits(void)
{
	static const char *const heaps[] = { "system", CMA_HEAP };

	set_policy("system:dmem," CMA_HEAP ":dmem");
	for (int h = 0; h < 2; h++) {
		const char *r = region_of(heaps[h]);
		long long d0, d1;
		long free0, free1;
		int fd, fd2, err;

		result(!dmem_set_max("charge-a", r, "1M") && dmem_value(CG "/charge-a/dmem.max", r) == MIB,
		       "%s: dmem.max of %s set to 1 MiB", heaps[h], r);
		fd = heap_alloc(heaps[h], 512 << 10);
		d0 = dmem_current("charge-a", r);
		free0 = cma_free();
		errno = 0;
		fd2 = heap_alloc(heaps[h], 768 << 10);
		err = errno;
		d1 = dmem_current("charge-a", r);
		free1 = cma_free();
		result(fd >= 0 && fd2 < 0 && err == EAGAIN && d1 == d0 && d0 == 512 << 10 && free1 == free0,
		       "%s: an ALLOC over dmem.max is EAGAIN (%s), charges nothing (dmem %lld -> %lld) and takes no CMA page (CmaFree %ld -> %ld)",
		       heaps[h], strerror(err), d0, d1, free0, free1);
		close(fd);
		if (fd2 >= 0)
			close(fd2);
		fd = heap_alloc(heaps[h], MIB);
		result(fd >= 0 && dmem_current("charge-a", r) == MIB, "%s: up to dmem.max is allowed", heaps[h]);
		close(fd);
		dmem_set_max("charge-a", r, "max");
	}
	/*
	 * memory.max: a CMA ALLOC charged to memcg over it is ENOMEM, with
	 * no CMA page taken (1 MiB is a costly order: no OOM kill, as for a
	 * system-heap chunk of that order).
	 */
	set_policy(CMA_HEAP ":memcg");
	{
		char path[160], val[32];
		long free0, free1, cur;
		int fd, err;
		FILE *f;

		snprintf(path, sizeof(path), CG "/charge-a/memory.current");
		f = fopen(path, "r");
		cur = f && fscanf(f, "%ld", &cur) == 1 ? cur : -1;
		if (f)
			fclose(f);
		snprintf(val, sizeof(val), "%ld", cur + (256 << 10));
		write_file(CG "/charge-a/memory.max", val);
		free0 = cma_free();
		errno = 0;
		fd = heap_alloc(CMA_HEAP, MIB);
		err = errno;
		free1 = cma_free();
		write_file(CG "/charge-a/memory.max", "max");
		result(cur > 0 && fd < 0 && err == ENOMEM && free1 == free0,
		       "default_cma_region: memcg: an ALLOC over memory.max is ENOMEM (%s) and takes no CMA page (CmaFree %ld -> %ld)",
		       strerror(err), free0, free1);
		if (fd >= 0)
			close(fd);
	}
	set_policy("");
}

/*
 * A charge stays with the cgroup that allocated: when the fd is held by a
 * process of another cgroup at the close, and when the allocating cgroup
 * was removed first (its parent's hierarchical count shows it).
 */
static void follows_buffer(void)
{
	unsigned long long ino;
	int sv[2], fd, st;
	long long a, b;
	pid_t pid;

	set_policy("system:both," CMA_HEAP ":both");
	/* 1. Passed to a process of charge-b, which closes it last. */
	fd = heap_alloc(CMA_HEAP, MIB);
	ino = ino_of(fd);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		int got;
		char c;

		close(fd);
		cg_join("charge-b");
		got = recv_fd(sv[1]);
		write(sv[1], "r", 1);
		read(sv[1], &c, 1);
		close(got);
		_exit(got >= 0 ? 0 : 1);
	}
	send_fd(sv[0], fd);
	close(fd);
	wait_for("the other process to receive the fd");
	{
		char c;

		read(sv[0], &c, 1);
	}
	a = dmem_current("charge-a", cma_region);
	b = dmem_current("charge-b", cma_region);
	result(a == MIB && b == 0, "passed to another cgroup's process: still charged to the allocating cgroup (a %lld, b %lld)", a, b);
	{
		unsigned long long shown = owners_cgroup(ino), want = cgroup_id("charge-a");

		result(shown && shown == want,
		       "the ownership ledger names the charged cgroup: cgroup=%llu (charge-a is %llu)", shown, want);
	}
	write(sv[0], "c", 1);
	waitpid(pid, &st, 0);
	a = dmem_current("charge-a", cma_region);
	result(WIFEXITED(st) && !WEXITSTATUS(st) && a == 0,
	       "closed by the other cgroup's process: given back to the allocating cgroup (a %lld)", a);
	close(sv[0]);
	close(sv[1]);

	/* 2. Allocated in charge-p/charge-c, which is removed before the close. */
	cg_make("charge-p", 1);
	cg_make("charge-p/charge-c", 0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		int f1, f2;

		cg_join("charge-p/charge-c");
		f1 = heap_alloc(CMA_HEAP, MIB);
		f2 = heap_alloc("system", MIB);
		send_fd(sv[1], f1);
		send_fd(sv[1], f2);
		_exit(f1 >= 0 && f2 >= 0 ? 0 : 1);
	}
	wait_for("the allocating process");
	{
		int f1 = recv_fd(sv[0]), f2 = recv_fd(sv[0]), removed;
		long long pc, ps;

		waitpid(pid, &st, 0);
		removed = !rmdir(CG "/charge-p/charge-c");
		pc = dmem_current("charge-p", cma_region);
		ps = dmem_current("charge-p", sys_region);
		result(f1 >= 0 && f2 >= 0 && removed && pc == MIB && ps == MIB,
		       "the allocating cgroup removed: its charges stay, seen in its parent (cma %lld, system %lld)", pc, ps);
		close(f1);
		close(f2);
		pc = dmem_current("charge-p", cma_region);
		ps = dmem_current("charge-p", sys_region);
		result(pc == 0 && ps == 0, "closed after the cgroup was removed: given back (cma %lld, system %lld)", pc, ps);
	}
	close(sv[0]);
	close(sv[1]);
	set_policy("");
}

/*
 * Faults injected into every slab and page allocation and user copy of a
 * charged ALLOC (/proc/thread-self/fail-nth): each failure leaves no
 * charge.
 */
static void faults(void)
{
	static const char *const heaps[] = { "system", CMA_HEAP };
	int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);

	if (fail_nth_setup() && nth >= 0) {
		close(nth);
		nth = -1;
	}
	set_policy("system:both," CMA_HEAP ":both");
	for (int h = 0; h < 2; h++) {
		const char *r = region_of(heaps[h]);
		long long d0 = dmem_current("charge-a", r);
		long m0 = memcg_heap_bytes("charge-a"), worst = 0;
		int n, points = 0, bad = 0, errs = 0, other = 0;

		for (n = 1; nth >= 0 && n < 2000; n++) {
			char s[16] = "";
			int len = snprintf(s, sizeof(s), "%d", n), fd, e;

			pwrite(nth, s, len, 0);
			fd = heap_alloc(heaps[h], 64 << 10);
			e = errno;
			pread(nth, s, sizeof(s) - 1, 0);
			pwrite(nth, "0", 1, 0);
			if (fd >= 0) {
				close(fd);
				if (atoi(s) != 0)
					break;	/* no allocation left to fail */
				continue;
			}
			points++;
			/* EFAULT: a failed copy of the ioctl's argument (fail_usercopy). */
			if (e != ENOMEM && e != EFAULT) {
				errs++;
				other = e;
			}
			if (dmem_current("charge-a", r) != d0)
				bad++;
			if (labs(memcg_heap_bytes("charge-a") - m0) > worst)
				worst = labs(memcg_heap_bytes("charge-a") - m0);
		}
		result(nth >= 0 && points > 0 && !bad && !errs && worst <= MEMCG_SLACK,
		       "%s: %d injected failures of a charged ALLOC: errno ENOMEM or EFAULT (%d others, e.g. %s), no dmem charge left (%d points did), memcg within %ld (worst %ld)",
		       heaps[h], points, errs, other ? strerror(other) : "none", bad, MEMCG_SLACK, worst);
	}
	if (nth >= 0)
		close(nth);
	set_policy("");
}

/* The stress test with every heap charged to both: every counter back. */
static void stress(const char *prog)
{
	long long d0c, d0s, d1c, d1s;
	long m0, m1;
	int st;
	pid_t pid;

	set_policy("system:both," CMA_HEAP ":both");
	cg_make("charge-s", 0);
	/* A fresh cgroup: charges counted from zero, apart from the test's. */
	d0c = 0;
	d0s = 0;
	m0 = memcg_heap_bytes("charge-s");
	wait_for("dmabuf_stress (10 s)");
	pid = fork();
	if (pid == 0) {
		int log = open("/tmp/charge-stress.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* Its TAP lines are not this suite's. */
		dup2(log, 1);
		dup2(log, 2);
		cg_join("charge-s");
		execl(prog, prog, "10", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	/* Files an exiting task held are released by a worker: wait for it. */
	for (int i = 0; i < 50; i++) {
		d1c = dmem_current("charge-s", cma_region);
		d1s = dmem_current("charge-s", sys_region);
		if (d1c == d0c && d1s == d0s)
			break;
		usleep(100000);
	}
	m1 = memcg_heap_bytes("charge-s");
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char line[256];
		FILE *f = fopen("/tmp/charge-stress.log", "r");

		while (f && fgets(line, sizeof(line), f))
			printf("# stress: %s", line);
		if (f)
			fclose(f);
	}
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dmabuf_stress 10 with charging on passes (status %d)", st);
	result(d1c == d0c && d1s == d0s && near(m1, m0),
	       "after the stress test every charge is given back (dmem cma %lld, system %lld; memcg %ld -> %ld)",
	       d1c, d1s, m0, m1);
	set_policy("");
}

int main(int argc, char **argv)
{
	char val[256];
	long long cap;
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	wait_for("the set-up");
	printf("TAP version 13\n");
	param = "/sys/module/dma_heap/parameters/charge";
	if (access(param, R_OK))
		param = "/sys/module/dmabuf_rs/parameters/charge";
	if (access(param, R_OK)) {
		printf("1..0 # SKIP no charge parameter (the C core has no charge policies)\n");
		return 0;
	}
	mkdir(CG, 0755);
	mount("none", CG, "cgroup2", 0, NULL);
	write_file(CG "/cgroup.subtree_control", "+memory +dmem");
	cg_make("charge-a", 0);
	cg_make("charge-b", 0);
	if (cg_join("charge-a") || access(CG "/charge-a/dmem.current", R_OK)) {
		printf("1..0 # SKIP no dmem controller in cgroup2 (CONFIG_CGROUP_DMEM)\n");
		return 0;
	}
	printf("1..%d\n", argc > 1 ? 37 : 35);

	/* make check boots with dma_heap.charge=system:none (dmabuf_rs. as a module). */
	get_policy(val, sizeof(val));
	result(!strcmp(val, "system:none"), "%s has the boot's policy (\"%s\")", param, val);
	/* The CMA area behind default_cma_region (cma= gives it its name). */
	f = fopen(CG "/dmem.capacity", "r");
	while (f && fgets(val, sizeof(val), f))
		if (!strncmp(val, "cma/", 4))
			sscanf(val, "%63s", cma_region);
	if (f)
		fclose(f);
	cap = dmem_value(CG "/dmem.capacity", cma_region);
	result(cap == 128 * MIB, "dmem.capacity has the CMA area's region %s, 128 MiB (%lld)", cma_region, cap);
	cap = dmem_value(CG "/dmem.capacity", sys_region);
	result(cap > 64 * MIB, "dmem.capacity has %s, the page allocator's memory (%lld)", sys_region, cap);
	{
		static const char *const bad[] = { "system:bogus", "system", ":memcg", "system:both,",
			"a:none,b:none,c:none,d:none,e:none,f:none,g:none,h:none,i:none",
			"a-heap-name-of-more-than-32-bytes:none" };
		int refused = 0;

		set_policy("system:dmem");
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			refused += set_policy(bad[i]) == -EINVAL;
		get_policy(val, sizeof(val));
		result(refused == 6 && !strcmp(val, "system:dmem"),
		       "malformed policies are refused with EINVAL (%d of 6) and change nothing (\"%s\")", refused, val);
		set_policy("system:memcg," CMA_HEAP ":both");
		get_policy(val, sizeof(val));
		result(!strcmp(val, "system:memcg," CMA_HEAP ":both"), "a policy list reads back as written (\"%s\")", val);
		set_policy("");
	}
	wait_for("the policies");
	policies();
	wait_for("dmem.max");
	limits();
	wait_for("the charge's owner");
	follows_buffer();
	wait_for("the fault injection");
	faults();
	if (argc > 1)
		stress(argv[1]);
	return failed ? 1 : 0;
}
