// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF dma-buf iterator of 7.3 (kernel/bpf/dmabuf_iter.c) on top of the
 * core's dma_buf_iter_begin()/dma_buf_iter_next(), for make distro: a
 * kernel whose core is built in and whose BPF can reach it.
 *
 * selftests/bpf/dmabuf_iter.bpf.c is loaded with libbpf (CO-RE against the
 * running kernel's BTF). Its "iter/dmabuf" program prints every live
 * buffer; the records must agree with debugfs bufinfo, list each buffer
 * this program allocated exactly once with its size, name and exporter,
 * survive being read a few bytes at a time (the seq_file stops and resumes
 * holding a reference to the next buffer), and let a buffer go that was
 * closed while the iterator held it. Its "syscall" program walks the same
 * list with the open-coded kfunc iterator and counts.
 *
 * Only pass/fail lines are printed, never inode numbers or counts of other
 * buffers, so the output can be compared between kernels.
 *
 * Usage: dmabuf_bpf_iter PATH-TO-dmabuf_iter.bpf.o
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "heap.h"
#include "tap.h"

#define MAX_RECORDS 4096
#define NBUF 6

struct record {
	unsigned long ino;
	unsigned long long size;
	char name[64];
	char exp[64];
};

static struct bpf_object *obj;
static struct bpf_link *iter_link;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	printf("# libbpf: ");
	return vprintf(fmt, ap);
}

/* Reads one whole pass of the iterator, chunk bytes per read(). Returns
 * the number of records, or -1. */
static int iterate(size_t chunk, struct record *rec, int max)
{
	static char text[1 << 20];
	size_t len = 0;
	int fd = bpf_iter_create(bpf_link__fd(iter_link)), n = 0;
	char *line;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, text + len, chunk);

		if (r < 0 || len + r >= sizeof(text) - chunk) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	text[len] = 0;
	/* Four lines per record; an empty name is an empty line. */
	line = text;
	while (*line && n < max) {
		char *f[4];

		for (int i = 0; i < 4; i++) {
			char *nl = strchr(line, '\n');

			if (!nl)
				return -1;
			*nl = 0;
			f[i] = line;
			line = nl + 1;
		}
		rec[n].ino = strtoul(f[0], NULL, 10);
		rec[n].size = strtoull(f[1], NULL, 10);
		snprintf(rec[n].name, sizeof(rec[n].name), "%s", f[2]);
		snprintf(rec[n].exp, sizeof(rec[n].exp), "%s", f[3]);
		n++;
	}
	return n;
}

static const struct record *find(const struct record *rec, int n, unsigned long ino, int *times)
{
	const struct record *hit = NULL;

	*times = 0;
	for (int i = 0; i < n; i++)
		if (rec[i].ino == ino) {
			hit = &rec[i];
			(*times)++;
		}
	return hit;
}

/* Every buffer in bufinfo must be a record with the same size, exporter
 * and name, and the numbers of buffers must be equal. */
static int agrees_with_bufinfo(const struct record *rec, int n)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512];
	int rows = 0, ok = 1;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long size, ino;
		unsigned int flags, mode;
		long count;
		char exp[64], name[64];
		const struct record *r;
		int times;

		if (sscanf(line, "%lu\t%x\t%x\t%ld\t%63s\t%lu\t%63[^\n]", &size, &flags, &mode, &count,
			   exp, &ino, name) != 7)
			continue;
		rows++;
		r = find(rec, n, ino, &times);
		if (times != 1 || r->size != size || strcmp(r->exp, exp) ||
		    strcmp(r->name, strcmp(name, "<none>") ? name : "")) {
			printf("# bufinfo ino %lu (%lu %s %s) not matched by the iterator (%d records)\n",
			       ino, size, exp, name, times);
			ok = 0;
		}
	}
	fclose(f);
	if (rows != n) {
		printf("# bufinfo lists %d buffers, the iterator %d\n", rows, n);
		ok = 0;
	}
	return ok && rows > 0;
}

static unsigned long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Runs the open-coded kfunc iterator; counts[] as in the BPF program. */
static int count_with_kfuncs(unsigned long long counts[3])
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "count_buffers");
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "counts");
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (!p || !m)
		return -1;
	for (__u32 k = 0; k < 3; k++) {
		unsigned long long zero = 0;

		if (bpf_map__update_elem(m, &k, sizeof(k), &zero, sizeof(zero), 0))
			return -1;
	}
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts) || opts.retval)
		return -1;
	for (__u32 k = 0; k < 3; k++)
		if (bpf_map__lookup_elem(m, &k, sizeof(k), &counts[k], sizeof(counts[k]), 0))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct record base[MAX_RECORDS], rec[MAX_RECORDS];
	int fds[NBUF + 1], nbase, n, all_once = 1, sizes_ok = 1, other;
	unsigned long inos[NBUF + 1];
	unsigned long long expect_bytes = 0, counts[3];
	char name[32];

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s dmabuf_iter.bpf.o\n", argv[0]);
		return 2;
	}
	libbpf_set_print(libbpf_log);
	obj = bpf_object__open_file(argv[1], NULL);
	result(obj && !bpf_object__load(obj), "the BPF object loads (CO-RE against the kernel's BTF, the dmabuf kfuncs resolve)");
	if (failed)
		return 1;
	iter_link = bpf_program__attach_iter(bpf_object__find_program_by_name(obj, "list_buffers"), NULL);
	result(iter_link != NULL, "an iter/dmabuf program attaches");
	if (!iter_link)
		return 1;

	/* One buffer that is not the test's (another name) lives throughout,
	 * so the list is never empty. */
	other = heap_alloc("system", 4096);
	result(other >= 0 && ioctl(other, DMA_BUF_SET_NAME_B, "other") == 0, "a buffer named 'other' to begin with");

	nbase = iterate(4096, base, MAX_RECORDS);
	result(nbase >= 0, "the iterator reads to the end before the test's buffers exist");
	result(nbase >= 0 && agrees_with_bufinfo(base, nbase), "it lists the same buffers as bufinfo (size, exporter, name, inode)");

	for (int i = 0; i <= NBUF; i++) {
		size_t len = (size_t)(i + 1) * 3 * 4096;

		fds[i] = heap_alloc("system", len);
		inos[i] = fds[i] < 0 ? 0 : ino_of(fds[i]);
		if (i < NBUF) { /* the last one stays unnamed */
			snprintf(name, sizeof(name), "bpfit-%d", i);
			if (fds[i] < 0 || ioctl(fds[i], DMA_BUF_SET_NAME_B, name))
				inos[i] = 0;
			expect_bytes += len;
		}
	}
	result(inos[0] && inos[NBUF], "%d system-heap buffers allocated, %d of them named", NBUF + 1, NBUF);

	/* A few bytes per read(): the seq_file stops and restarts many times
	 * (each stop holds a reference to the buffer to resume from). */
	n = iterate(7, rec, MAX_RECORDS);
	for (int i = 0; i <= NBUF; i++) {
		int times;
		const struct record *r = find(rec, n < 0 ? 0 : n, inos[i], &times);

		if (times != 1)
			all_once = 0;
		else if (r->size != (unsigned long long)(i + 1) * 3 * 4096 || strcmp(r->exp, "system"))
			sizes_ok = 0;
		else if (i < NBUF ? (snprintf(name, sizeof(name), "bpfit-%d", i), strcmp(r->name, name))
				  : r->name[0] != 0)
			sizes_ok = 0;
	}
	result(n == nbase + NBUF + 1, "read 7 bytes at a time, it lists every buffer once (%s)",
	       n == nbase + NBUF + 1 ? "the earlier ones and the new ones" : "count differs");
	result(all_once, "each new buffer appears exactly once");
	result(all_once && sizes_ok, "with its size, its exporter 'system' and its name (none for the unnamed one)");
	result(n > 0 && agrees_with_bufinfo(rec, n), "and it still agrees with bufinfo");

	/* The name is any bytes: a newline must not break the record. */
	ioctl(fds[0], DMA_BUF_SET_NAME_B, "bpfit-a\nb");
	n = iterate(4096, rec, MAX_RECORDS);
	{
		int times;
		const struct record *r = find(rec, n < 0 ? 0 : n, inos[0], &times);

		result(times == 1 && !strcmp(r->name, "bpfit-a b"),
		       "a name with a newline is printed with a space (the program's own rule)");
	}

	result(count_with_kfuncs(counts) == 0, "the open-coded kfunc iterator runs (bpf_iter_dmabuf_new/next/destroy)");
	result(counts[0] == NBUF && counts[1] == expect_bytes,
	       "it finds the %d named buffers and their bytes", NBUF);
	result(counts[2] == (unsigned long long)(nbase + NBUF + 1), "and as many buffers in all as the seq_file iterator");

	/* Close every buffer while an iterator is stopped in the middle of
	 * the list, holding one of them; then read on. */
	{
		int fd = bpf_iter_create(bpf_link__fd(iter_link));
		char c[64];
		ssize_t r = fd < 0 ? -1 : read(fd, c, 8);
		long total = 0;

		for (int i = 0; i <= NBUF; i++)
			close(fds[i]);
		while (r > 0) {
			total += r;
			r = read(fd, c, sizeof(c));
		}
		result(fd >= 0 && r == 0 && total > 0, "buffers closed while an iterator is stopped between them: it reads on to the end");
		if (fd >= 0)
			close(fd);
	}
	n = iterate(4096, rec, MAX_RECORDS);
	{
		int gone = 1, times;

		for (int i = 0; i <= NBUF; i++)
			if (find(rec, n < 0 ? 0 : n, inos[i], &times), times)
				gone = 0;
		result(n == nbase && gone, "after the iterator is closed, every closed buffer is gone from the list");
	}
	result(n >= 0 && agrees_with_bufinfo(rec, n), "and bufinfo agrees");
	result(count_with_kfuncs(counts) == 0 && counts[0] == 0 && counts[2] == (unsigned long long)nbase,
	       "the kfunc iterator finds none of them either");

	close(other);
	bpf_link__destroy(iter_link);
	bpf_object__close(obj);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
