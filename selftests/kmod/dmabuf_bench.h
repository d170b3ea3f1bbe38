/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ioctls of /dev/dmabuf_bench (selftests/kmod/dmabuf_bench.c): in-kernel
 * importer loops for `make bench`, so one syscall times a whole batch.
 */
#ifndef DMABUF_BENCH_H
#define DMABUF_BENCH_H
#include <linux/ioctl.h>
#include <linux/types.h>

enum dmabuf_bench_op {
	DMABUF_BENCH_ATTACH_MAP = 0,	/* attach + map + unmap + detach */
	DMABUF_BENCH_VMAP_FIRST = 1,	/* vmap + vunmap, no other vmap held */
	DMABUF_BENCH_VMAP_REPEAT = 2,	/* vmap + vunmap while one vmap is held */
};

struct dmabuf_bench_run {
	__s32 fd;	/* in: a dma-buf of any exporter */
	__u32 op;	/* in: enum dmabuf_bench_op */
	__u64 iters;	/* in: loop iterations */
	__u64 ns;	/* out: ktime_get_ns() around the loop */
};

/* Runs one loop on the buffer behind .fd. */
#define DMABUF_BENCH_RUN	_IOWR('B', 0, struct dmabuf_bench_run)
/*
 * Attaches to the dma-buf whose fd is the argument and maps the
 * attachment, kept until DMABUF_BENCH_UNHOLD or close of this file: an
 * importer that begin/end_cpu_access must sync for.
 */
#define DMABUF_BENCH_HOLD	_IO('B', 1)
#define DMABUF_BENCH_UNHOLD	_IO('B', 2)

#endif
