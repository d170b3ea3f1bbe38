// SPDX-License-Identifier: GPL-2.0
/*
 * BPF side of selftests/dmabuf_bpf_iter.c: the two ways a BPF program can
 * walk the live dma-bufs of a 7.3 kernel, both of which end in the core's
 * dma_buf_iter_begin()/dma_buf_iter_next():
 *
 * - "iter/dmabuf": a seq_file iterator (kernel/bpf/dmabuf_iter.c) that
 *   prints one record per buffer: inode, size, name, exporter name, one
 *   field per line;
 * - a "syscall" program using the open-coded iterator kfuncs
 *   (bpf_iter_dmabuf_new/next/destroy) that counts every buffer, and the
 *   buffers whose name starts with PREFIX with their sizes added up.
 *
 * No vmlinux.h: the few kernel types read here are declared with
 * preserve_access_index, so libbpf relocates every field against the
 * running kernel's BTF (CO-RE).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define NAME_LEN 32 /* DMA_BUF_NAME_LEN */

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct dma_buf {
	__u64 size;
	struct file *file;
	const char *exp_name;
	const char *name;
} __attribute__((preserve_access_index));

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__dmabuf {
	struct bpf_iter_meta *meta;
	struct dma_buf *dmabuf;
} __attribute__((preserve_access_index));

struct bpf_iter_dmabuf {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_dmabuf_new(struct bpf_iter_dmabuf *it) __ksym;
extern struct dma_buf *bpf_iter_dmabuf_next(struct bpf_iter_dmabuf *it) __ksym;
extern void bpf_iter_dmabuf_destroy(struct bpf_iter_dmabuf *it) __ksym;

char _license[] SEC("license") = "GPL";

/* The loader names its buffers so. */
#define PREFIX "bpfit-"

/* Results of the syscall program: [0] buffers matched, [1] their bytes,
 * [2] buffers seen in all. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static void add(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&counts, &slot);

	if (p)
		__sync_fetch_and_add(p, v);
}

SEC("iter/dmabuf")
int list_buffers(struct bpf_iter__dmabuf *ctx)
{
	struct dma_buf *d = ctx->dmabuf;
	char name[NAME_LEN] = {};
	const char *pname = NULL, *exp = NULL;
	unsigned long ino = 0;
	__u64 size = 0;

	if (!d)
		return 0;
	if (BPF_CORE_READ_INTO(&ino, d, file, f_inode, i_ino) ||
	    bpf_core_read(&size, sizeof(size), &d->size) ||
	    bpf_core_read(&pname, sizeof(pname), &d->name) ||
	    bpf_core_read(&exp, sizeof(exp), &d->exp_name))
		return 1;
	/* A name is optional, and any bytes userspace chose: keep newlines
	 * out of it, since they separate the fields. */
	if (pname && bpf_probe_read_kernel_str(name, sizeof(name), pname) > 0) {
		for (int i = 0; i < NAME_LEN; i++)
			if (name[i] == '\n')
				name[i] = ' ';
	}
	BPF_SEQ_PRINTF(ctx->meta->seq, "%lu\n%llu\n%s\n%s\n", ino, size, name, exp);
	return 0;
}

SEC("syscall")
int count_buffers(void *ctx)
{
	struct bpf_iter_dmabuf it;
	struct dma_buf *d;

	bpf_iter_dmabuf_new(&it);
	while ((d = bpf_iter_dmabuf_next(&it))) {
		char name[NAME_LEN] = {};
		const char *pname = NULL;
		__u64 size = 0;
		int same = 1;

		add(2, 1);
		if (bpf_core_read(&pname, sizeof(pname), &d->name) || !pname ||
		    bpf_probe_read_kernel_str(name, sizeof(name), pname) < 0)
			continue;
		for (int i = 0; i < (int)sizeof(PREFIX) - 1; i++)
			if (name[i] != PREFIX[i])
				same = 0;
		if (!same)
			continue;
		if (bpf_core_read(&size, sizeof(size), &d->size))
			continue;
		add(0, 1);
		add(1, size);
	}
	bpf_iter_dmabuf_destroy(&it);
	return 0;
}
