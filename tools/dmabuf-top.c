// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf-top: who holds the dma-buf memory.
 *
 * Reads the Rust core's ownership ledger (/sys/kernel/debug/dma_buf/owners,
 * Documentation/dma-buf-rust.rst) and every process's fds and mappings
 * (/proc/PID/fdinfo, /proc/PID/maps), and shows, largest first:
 *
 *   exporters   the processes that made the buffers (alive or not)
 *   holders     the processes holding them now, by fd or by mmap
 *   importers   the devices attached, with their mappings
 *   kernel-only buffers no process holds (an importer or a leak keeps them)
 *
 * Usage: dmabuf-top [-b] [-n COUNT] [-d SECONDS]
 *   -b  batch: plain text, no screen clearing (for logs and pipes)
 *   -n  stop after COUNT screens (default: until interrupted; 1 with -b)
 *   -d  seconds between screens (default 2)
 *
 * Needs root (debugfs). Build: gcc -O2 -o dmabuf-top tools/dmabuf-top.c
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OWNERS "/sys/kernel/debug/dma_buf/owners"

struct buf {
	unsigned long long ino, size, cgroup;
	int tgid, fds, maps, attachments, mapped;
	char exporter[64], name[140], comm[68];
};

struct proc_use {
	int pid, fds, maps;
	unsigned long long bytes;
	char comm[68];
};

struct row {
	char key[160];
	int count, extra;
	unsigned long long bytes;
};

static struct buf *bufs;
static int nbufs, capbufs;

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
	len = strcspn(p, " \n");
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = 0;
	return out;
}

static struct buf *find_buf(unsigned long long ino)
{
	for (int i = 0; i < nbufs; i++)
		if (bufs[i].ino == ino)
			return &bufs[i];
	return NULL;
}

/* The ledger; -1 (with a message) if it cannot be read. */
static int read_owners(void)
{
	char line[4096], v[160];
	FILE *f = fopen(OWNERS, "r");

	nbufs = 0;
	if (!f) {
		fprintf(stderr, "dmabuf-top: cannot read %s: %s (needs root, debugfs, and the Rust dma-buf core)\n",
			OWNERS, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f) || strncmp(line, "# dma_buf owners 1\n", 19)) {
		fprintf(stderr, "dmabuf-top: %s is not in format 1\n", OWNERS);
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct buf *b;

		if (!strncmp(line, "buffer ", 7)) {
			if (nbufs == capbufs) {
				capbufs = capbufs ? 2 * capbufs : 256;
				bufs = realloc(bufs, capbufs * sizeof(*bufs));
				if (!bufs) {
					perror("dmabuf-top");
					exit(1);
				}
			}
			b = &bufs[nbufs++];
			memset(b, 0, sizeof(*b));
			b->ino = strtoull(field(line, "ino", v, sizeof(v)), NULL, 10);
			b->size = strtoull(field(line, "size", v, sizeof(v)), NULL, 10);
			b->cgroup = strtoull(field(line, "cgroup", v, sizeof(v)), NULL, 10);
			b->tgid = atoi(field(line, "tgid", v, sizeof(v)));
			field(line, "exporter", b->exporter, sizeof(b->exporter));
			field(line, "name", b->name, sizeof(b->name));
			field(line, "comm", b->comm, sizeof(b->comm));
		} else if (!strncmp(line, "attachment ", 11)) {
			b = find_buf(strtoull(field(line, "ino", v, sizeof(v)), NULL, 10));
			if (b) {
				unsigned int m[4] = { 0 };

				b->attachments++;
				sscanf(field(line, "maps", v, sizeof(v)), "%u,%u,%u,%u", &m[0], &m[1], &m[2], &m[3]);
				if (m[0] + m[1] + m[2] + m[3])
					b->mapped++;
			}
		}
	}
	fclose(f);
	return 0;
}

static void read_comm(int pid, char *out, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	out[0] = 0;
	f = fopen(path, "r");
	if (f) {
		if (fgets(out, size, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

/* The dma-buf fds and mappings of every process. */
static struct proc_use *scan_procs(int *n)
{
	struct proc_use *use = NULL;
	int count = 0, cap = 0;
	struct dirent *d;
	DIR *proc = opendir("/proc");

	while (proc && (d = readdir(proc))) {
		char path[300], line[512];
		struct proc_use u = { 0 };
		struct dirent *e;
		DIR *fds;
		FILE *f;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		u.pid = atoi(d->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fdinfo", u.pid);
		fds = opendir(path);
		while (fds && (e = readdir(fds))) {
			unsigned long long ino = 0;
			int is_dmabuf = 0;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", u.pid, e->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			while (fgets(line, sizeof(line), f)) {
				if (!strncmp(line, "exp_name:", 9))
					is_dmabuf = 1;
				else if (!strncmp(line, "ino:", 4))
					ino = strtoull(line + 4, NULL, 10);
			}
			fclose(f);
			if (is_dmabuf) {
				struct buf *b = find_buf(ino);

				u.fds++;
				if (b) {
					u.bytes += b->size;
					b->fds++;
				}
			}
		}
		if (fds)
			closedir(fds);
		snprintf(path, sizeof(path), "/proc/%d/maps", u.pid);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			unsigned long long ino = 0;
			struct buf *b;

			if (!strstr(line, "/dmabuf:") && !strstr(line, "anon_inode:dmabuf"))
				continue;
			if (sscanf(line, "%*s %*s %*s %*s %llu", &ino) != 1)
				continue;
			u.maps++;
			b = find_buf(ino);
			if (b)
				b->maps++;
		}
		if (f)
			fclose(f);
		if (!u.fds && !u.maps)
			continue;
		read_comm(u.pid, u.comm, sizeof(u.comm));
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			use = realloc(use, cap * sizeof(*use));
			if (!use) {
				perror("dmabuf-top");
				exit(1);
			}
		}
		use[count++] = u;
	}
	if (proc)
		closedir(proc);
	*n = count;
	return use;
}

static int by_bytes(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : strcmp(x->key, y->key);
}

static int by_use(const void *a, const void *b)
{
	const struct proc_use *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->pid - y->pid;
}

static void add_row(struct row *rows, int *n, const char *key, unsigned long long bytes, int extra)
{
	for (int i = 0; i < *n; i++) {
		if (!strcmp(rows[i].key, key)) {
			rows[i].count++;
			rows[i].bytes += bytes;
			rows[i].extra += extra;
			return;
		}
	}
	snprintf(rows[*n].key, sizeof(rows[*n].key), "%s", key);
	rows[*n].count = 1;
	rows[*n].bytes = bytes;
	rows[*n].extra = extra;
	(*n)++;
}

static void show(void)
{
	struct proc_use *use;
	struct row *rows;
	unsigned long long total = 0, kernel_only = 0;
	int nuse, nrows = 0, nkernel = 0;
	char key[160];

	use = scan_procs(&nuse);
	rows = calloc(nbufs + 1, sizeof(*rows));
	if (!rows) {
		perror("dmabuf-top");
		exit(1);
	}
	for (int i = 0; i < nbufs; i++) {
		char alive[64];

		total += bufs[i].size;
		snprintf(alive, sizeof(alive), "/proc/%d", bufs[i].tgid);
		snprintf(key, sizeof(key), "%7d %-16s %s", bufs[i].tgid, bufs[i].comm,
			 access(alive, F_OK) ? "(exited)" : "");
		add_row(rows, &nrows, key, bufs[i].size, 0);
	}
	printf("dma-buf: %d buffers, %llu KiB\n\n", nbufs, total >> 10);
	printf("EXPORTERS (who made them)\n%7s %-16s %-9s %8s %10s\n", "TGID", "COMM", "", "BUFFERS", "KIB");
	qsort(rows, nrows, sizeof(*rows), by_bytes);
	for (int i = 0; i < nrows; i++)
		printf("%-34s %8d %10llu\n", rows[i].key, rows[i].count, rows[i].bytes >> 10);

	qsort(use, nuse, sizeof(*use), by_use);
	printf("\nHOLDERS (fds and mappings now)\n%7s %-16s %6s %6s %10s\n", "PID", "COMM", "FDS", "MMAPS", "KIB(FD)");
	for (int i = 0; i < nuse; i++)
		printf("%7d %-16s %6d %6d %10llu\n", use[i].pid, use[i].comm, use[i].fds, use[i].maps,
		       use[i].bytes >> 10);

	/* Importers: the attachment lines, by device. */
	nrows = 0;
	{
		char line[4096], v[160];
		FILE *f = fopen(OWNERS, "r");

		free(rows);
		rows = calloc(4096, sizeof(*rows));
		while (f && rows && fgets(line, sizeof(line), f)) {
			struct buf *b;
			unsigned int m[4] = { 0 };

			if (strncmp(line, "attachment ", 11) || nrows >= 4095)
				continue;
			b = find_buf(strtoull(field(line, "ino", v, sizeof(v)), NULL, 10));
			sscanf(field(line, "maps", v, sizeof(v)), "%u,%u,%u,%u", &m[0], &m[1], &m[2], &m[3]);
			snprintf(key, sizeof(key), "%-24s %-9s", field(line, "device", v, sizeof(v)),
				 field(line, "kind", key + 100, 32));
			add_row(rows, &nrows, key, b ? b->size : 0, !!(m[0] + m[1] + m[2] + m[3]));
		}
		if (f)
			fclose(f);
	}
	printf("\nIMPORTERS (attached devices)\n%-24s %-9s %8s %7s %10s\n", "DEVICE", "KIND", "ATTACHED", "MAPPED",
	       "KIB");
	if (rows)
		qsort(rows, nrows, sizeof(*rows), by_bytes);
	for (int i = 0; rows && i < nrows; i++)
		printf("%s %8d %7d %10llu\n", rows[i].key, rows[i].count, rows[i].extra, rows[i].bytes >> 10);

	printf("\nKERNEL-ONLY (no fd, no mmap: held by an importer, or leaked)\n%10s %10s %-20s %s\n", "INO", "KIB",
	       "EXPORTER", "IMPORTERS");
	for (int i = 0; i < nbufs; i++) {
		if (bufs[i].fds || bufs[i].maps)
			continue;
		nkernel++;
		kernel_only += bufs[i].size;
		printf("%10llu %10llu %-20s %d\n", bufs[i].ino, bufs[i].size >> 10, bufs[i].exporter,
		       bufs[i].attachments);
	}
	printf("%d buffers, %llu KiB held by the kernel only\n", nkernel, kernel_only >> 10);
	free(rows);
	free(use);
}

int main(int argc, char **argv)
{
	int batch = 0, count = -1, delay = 2, opt;

	while ((opt = getopt(argc, argv, "bn:d:")) != -1) {
		switch (opt) {
		case 'b':
			batch = 1;
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 'd':
			delay = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: dmabuf-top [-b] [-n COUNT] [-d SECONDS]\n");
			return 2;
		}
	}
	if (count < 0)
		count = batch ? 1 : 0;
	for (int i = 0; count == 0 || i < count; i++) {
		if (i)
			sleep(delay > 0 ? delay : 1);
		if (read_owners())
			return 1;
		if (!batch)
			printf("\033[H\033[2J");
		show();
		fflush(stdout);
	}
	return 0;
}
