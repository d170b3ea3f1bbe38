// SPDX-License-Identifier: GPL-2.0
/*
 * V4L2 and dma-buf, through vivid (an unmodified V4L2 driver) on whichever
 * dma-buf core the kernel has:
 *
 *  - a reference: frames captured into vivid's own buffers (MMAP) and read
 *    through the V4L2 mapping;
 *  - VIDIOC_EXPBUF: vivid's buffers exported as dma-bufs (videobuf2 is the
 *    exporter, the core gives the fd), used through that fd: size by
 *    lseek, fdinfo, SET_NAME seen in fdinfo and /proc, mmap + SYNC showing
 *    the frame vivid captured, and imported into vgem (PRIME caching gives
 *    the same dma-buf back, a vgem fence on the import is seen by the fd's
 *    poll);
 *  - V4L2_MEMORY_DMABUF: capture into buffers from the dma-heaps given on
 *    the command line (vivid vmaps them on vb2-vmalloc, attaches and maps
 *    them on vb2-dma-contig), each frame read through the heap buffer's
 *    mmap between SYNC START and END and compared with the reference.
 *
 * vivid's test pattern without its text overlay (the caller sets
 * osd_text_mode=2) is the same in every frame, so a frame's checksum is
 * known from the reference. Every result line is deterministic, so the
 * host compares them between the Rust core and the C core.
 *
 *   dmabuf_v4l2 /dev/videoN LABEL [HEAP...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/videodev2.h>
#include <drm/drm.h>
#include <drm/vgem_drm.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "vgem.h"

#define NBUF 2
#define NFRAMES 4
#define WIDTH 640
#define HEIGHT 480

static const char *label;
static __u32 sizeimage;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static int set_format(int v)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

	f.fmt.pix.width = WIDTH;
	f.fmt.pix.height = HEIGHT;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if (xioctl(v, VIDIOC_S_FMT, &f))
		return -1;
	sizeimage = f.fmt.pix.sizeimage;
	return f.fmt.pix.width == WIDTH && f.fmt.pix.height == HEIGHT &&
		       f.fmt.pix.pixelformat == V4L2_PIX_FMT_YUYV ? 0 : -1;
}

static int reqbufs(int v, __u32 memory, __u32 count)
{
	struct v4l2_requestbuffers r = {
		.count = count,
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = memory,
	};

	if (xioctl(v, VIDIOC_REQBUFS, &r))
		return -1;
	return r.count;
}

static int stream(int v, int on)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	return xioctl(v, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type);
}

/* Queue buffer @index; @fd is the dma-buf for MEMORY_DMABUF, else -1. */
static int qbuf(int v, __u32 index, int fd, __u32 length)
{
	struct v4l2_buffer b = {
		.index = index,
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = fd >= 0 ? V4L2_MEMORY_DMABUF : V4L2_MEMORY_MMAP,
	};

	if (fd >= 0) {
		b.m.fd = fd;
		b.length = length;
	}
	return xioctl(v, VIDIOC_QBUF, &b);
}

/* Dequeue one buffer (waiting up to 10 s); its index, or -1. */
static int dqbuf(int v, __u32 memory, __u32 *bytesused)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = memory };
	struct pollfd p = { .fd = v, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return -1;
	if (xioctl(v, VIDIOC_DQBUF, &b))
		return -1;
	*bytesused = b.bytesused;
	return b.flags & V4L2_BUF_FLAG_ERROR ? -1 : (int)b.index;
}

static int dmabuf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_READ | flags };

	return xioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

/* The checksum of a dma-buf's first @n bytes, read between SYNC START and
 * END through its own mmap; 0 and *err set if any step fails. */
static uint64_t dmabuf_sum(int fd, size_t n, int *err)
{
	unsigned char *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	uint64_t h = 0;

	if (p == MAP_FAILED) {
		*err = errno;
		return 0;
	}
	if (dmabuf_sync(fd, DMA_BUF_SYNC_START))
		*err = errno;
	else
		h = fnv1a(p, n);
	if (dmabuf_sync(fd, DMA_BUF_SYNC_END) && !*err)
		*err = errno;
	munmap(p, n);
	return h;
}

static char *fdinfo_field(int fd, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t k = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	val[0] = 0;
	if (!f)
		return val;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, k) && line[k] == ':') {
			char *s = line + k + 1;

			s += strspn(s, " \t");
			s[strcspn(s, "\n")] = 0;
			snprintf(val, len, "%s", s);
			break;
		}
	}
	fclose(f);
	return val;
}

static int poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static ino_t ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Reference frames in vivid's MMAP buffers; returns their checksum. */
static uint64_t reference(int v)
{
	unsigned char *map[NBUF];
	__u32 len[NBUF];
	uint64_t ref = 0;
	int ok = 1, same = 1, n;

	n = reqbufs(v, V4L2_MEMORY_MMAP, NBUF);
	result(n == NBUF, "%s: REQBUFS MMAP %d buffers", label, NBUF);
	if (n != NBUF)
		return 0;
	for (int i = 0; i < NBUF; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };

		map[i] = MAP_FAILED;
		if (xioctl(v, VIDIOC_QUERYBUF, &b) == 0) {
			len[i] = b.length;
			map[i] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, v, b.m.offset);
		}
		if (map[i] == MAP_FAILED || qbuf(v, i, -1, 0))
			ok = 0;
	}
	if (ok && !stream(v, 1)) {
		for (int f = 0; f < NFRAMES; f++) {
			__u32 used;
			int i = dqbuf(v, V4L2_MEMORY_MMAP, &used);
			uint64_t h;

			if (i < 0 || used != sizeimage) {
				ok = 0;
				break;
			}
			h = fnv1a(map[i], used);
			if (f && h != ref)
				same = 0;
			ref = h;
			qbuf(v, i, -1, 0);
		}
		stream(v, 0);
	} else {
		ok = 0;
	}
	result(ok && same, "%s: reference: %d frames of %u bytes through the V4L2 mmap, all %016llx",
	       label, NFRAMES, sizeimage, (unsigned long long)ref);
	for (int i = 0; i < NBUF; i++)
		if (map[i] != MAP_FAILED)
			munmap(map[i], len[i]);
	reqbufs(v, V4L2_MEMORY_MMAP, 0);
	return ok && same ? ref : 0;
}

/* vivid's buffers exported with VIDIOC_EXPBUF and used through the fd. */
static void expbuf(int v, uint64_t ref)
{
	int fd[NBUF], n, ok, err, drm;
	char val[128], link[128], path[64];
	__u32 used, length = 0;
	struct v4l2_buffer b = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	uint64_t h;
	ssize_t r;

	n = reqbufs(v, V4L2_MEMORY_MMAP, NBUF);
	result(n == NBUF && !xioctl(v, VIDIOC_QUERYBUF, &b), "%s: EXPBUF: REQBUFS MMAP and QUERYBUF",
	       label);
	if (n != NBUF)
		return;
	length = b.length;
	ok = 1;
	for (int i = 0; i < NBUF; i++) {
		struct v4l2_exportbuffer e = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .index = i,
					       .flags = O_RDWR | O_CLOEXEC };

		fd[i] = xioctl(v, VIDIOC_EXPBUF, &e) ? -1 : e.fd;
		ok &= fd[i] >= 0;
	}
	result(ok, "%s: VIDIOC_EXPBUF gives a dma-buf fd for each buffer", label);
	if (!ok)
		goto out;
	result(lseek(fd[0], 0, SEEK_END) == (off_t)length && lseek(fd[0], 0, SEEK_SET) == 0,
	       "%s: EXPBUF fd: lseek(SEEK_END) is the buffer's length (%u)", label, length);
	fdinfo_field(fd[0], "size", val, sizeof(val));
	result(strtoul(val, NULL, 10) == length, "%s: EXPBUF fd: fdinfo size %s", label, val);
	fdinfo_field(fd[0], "exp_name", val, sizeof(val));
	result(!strncmp(val, "videobuf2", 9), "%s: EXPBUF fd: fdinfo exp_name %s", label, val);
	result(!xioctl(fd[0], DMA_BUF_SET_NAME_B, "vivid-frame"), "%s: EXPBUF fd: SET_NAME", label);
	fdinfo_field(fd[0], "name", val, sizeof(val));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd[0]);
	r = readlink(path, link, sizeof(link) - 1);
	link[r > 0 ? r : 0] = 0;
	result(!strcmp(val, "vivid-frame") && !strcmp(link, "/dmabuf:vivid-frame"),
	       "%s: EXPBUF fd: the name in fdinfo (%s) and /proc (%s)", label, val, link);

	/* Frames captured into the exported buffers, read through the fds. */
	ok = !qbuf(v, 0, -1, 0) && !qbuf(v, 1, -1, 0) && !stream(v, 1);
	result(ok, "%s: EXPBUF: QBUF and STREAMON with the buffers exported", label);
	for (int f = 0; ok && f < NFRAMES; f++) {
		int i = dqbuf(v, V4L2_MEMORY_MMAP, &used);

		if (i < 0) {
			result(0, "%s: EXPBUF: DQBUF frame %d", label, f);
			break;
		}
		err = 0;
		h = dmabuf_sum(fd[i], used, &err);
		result(!err && h == ref, "%s: EXPBUF: frame %d read through the dma-buf mmap + SYNC is the reference (%016llx, errno %d)",
		       label, f, (unsigned long long)h, err);
		qbuf(v, i, -1, 0);
	}
	stream(v, 0);

	/* Imported into vgem: PRIME caches the import, and a vgem fence on it
	 * is in the buffer's reservation object, which the fd's poll sees. */
	drm = open_vgem();
	if (drm < 0) {
		result(1, "%s: EXPBUF into vgem # SKIP vgem is not loaded", label);
		goto out;
	}
	{
		struct drm_prime_handle p = { .fd = fd[1], .flags = DRM_CLOEXEC | DRM_RDWR };
		struct drm_prime_handle p2 = { .fd = fd[1] };
		struct drm_prime_handle back = { .flags = DRM_CLOEXEC };
		struct drm_vgem_fence_attach fa = { .flags = VGEM_FENCE_WRITE };
		struct drm_vgem_fence_signal fs = { 0 };
		struct drm_gem_close gc = { 0 };
		int idle, busy, done;

		ok = !ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);
		result(ok, "%s: EXPBUF fd imported into vgem (PRIME_FD_TO_HANDLE)", label);
		if (!ok)
			goto close_drm;
		result(!ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p2) && p2.handle == p.handle,
		       "%s: vgem: a second import gives the same GEM handle", label);
		back.handle = p.handle;
		ok = !ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &back);
		result(ok && ino(back.fd) == ino(fd[1]),
		       "%s: vgem: exporting the import gives vivid's dma-buf back (same inode)", label);
		if (ok)
			close(back.fd);
		idle = poll_now(fd[1], POLLIN | POLLOUT);
		fa.handle = p.handle;
		ok = !ioctl(drm, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa);
		busy = poll_now(fd[1], POLLIN | POLLOUT);
		fs.fence = fa.out_fence;
		ok = ok && !ioctl(drm, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs);
		done = poll_now(fd[1], POLLIN | POLLOUT);
		result(ok && idle == (POLLIN | POLLOUT) && busy == 0 && done == (POLLIN | POLLOUT),
		       "%s: vgem write fence on the import: the fd polls idle %#x, busy %#x, signalled %#x",
		       label, idle, busy, done);
		gc.handle = p.handle;
		result(!ioctl(drm, DRM_IOCTL_GEM_CLOSE, &gc), "%s: vgem: GEM_CLOSE of the import", label);
	}
close_drm:
	close(drm);
out:
	for (int i = 0; i < NBUF; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	reqbufs(v, V4L2_MEMORY_MMAP, 0);
}

/* Capture into buffers of the dma-heap @heap with MEMORY_DMABUF. */
static void import_heap(int v, const char *heap, uint64_t ref)
{
	char path[64];
	int h, fd[NBUF], ok = 1, n, err, again;
	__u32 size = (sizeimage + 4095) & ~4095u, used;
	uint64_t sum;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap);
	h = open(path, O_RDONLY | O_CLOEXEC);
	if (h < 0) {
		result(1, "%s: DMABUF from %s # SKIP %s: %s", label, heap, path, strerror(errno));
		return;
	}
	for (int i = 0; i < NBUF; i++) {
		struct dma_heap_allocation_data a = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };

		fd[i] = xioctl(h, DMA_HEAP_IOCTL_ALLOC, &a) ? -1 : (int)a.fd;
		ok &= fd[i] >= 0;
	}
	close(h);
	result(ok, "%s: %s: ALLOC %d buffers of %u bytes", label, heap, NBUF, size);
	if (!ok)
		goto out;
	n = reqbufs(v, V4L2_MEMORY_DMABUF, NBUF);
	result(n == NBUF, "%s: %s: REQBUFS DMABUF %d buffers", label, heap, NBUF);
	ok = n == NBUF && !qbuf(v, 0, fd[0], size) && !qbuf(v, 1, fd[1], size) && !stream(v, 1);
	result(ok, "%s: %s: QBUF the heap buffers and STREAMON (errno %d)", label, heap, ok ? 0 : errno);
	for (int f = 0; ok && f < NFRAMES; f++) {
		int i = dqbuf(v, V4L2_MEMORY_DMABUF, &used);

		if (i < 0) {
			result(0, "%s: %s: DQBUF frame %d", label, heap, f);
			break;
		}
		err = 0;
		sum = dmabuf_sum(fd[i], used, &err);
		result(!err && used == sizeimage && sum == ref,
		       "%s: %s: frame %d captured into the heap buffer, read through its mmap + SYNC, is the reference (%u bytes, %016llx, errno %d)",
		       label, heap, f, used, (unsigned long long)sum, err);
		/* Requeue the same fd: vb2 keeps the attachment and mapping. */
		qbuf(v, i, fd[i], size);
	}
	if (ok) {
		stream(v, 0);
		/* The two buffers swapped between the indexes: vb2 drops the
		 * old attachments and takes the new ones. */
		again = !qbuf(v, 0, fd[1], size) && !qbuf(v, 1, fd[0], size) && !stream(v, 1);
		for (int f = 0; again && f < 2; f++) {
			int i = dqbuf(v, V4L2_MEMORY_DMABUF, &used);

			err = 0;
			sum = i < 0 ? 0 : dmabuf_sum(fd[!i], used, &err);
			again = i >= 0 && !err && sum == ref;
			if (i >= 0)
				qbuf(v, i, fd[!i], size);
		}
		result(again, "%s: %s: the buffers swapped between the indexes still capture the reference",
		       label, heap);
		stream(v, 0);
	}
	result(reqbufs(v, V4L2_MEMORY_DMABUF, 0) == 0, "%s: %s: REQBUFS 0 lets the buffers go", label, heap);
out:
	for (int i = 0; i < NBUF; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

int main(int argc, char **argv)
{
	uint64_t ref;
	int v, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: %s /dev/videoN LABEL [HEAP...]\n", argv[0]);
		return 2;
	}
	label = argv[2];
	v = open(argv[1], O_RDWR | O_CLOEXEC);
	result(v >= 0, "%s: open the vivid capture node", label);
	if (v < 0)
		return 1;
	err = set_format(v);
	result(!err, "%s: S_FMT YUYV %dx%d (%u bytes)", label, WIDTH, HEIGHT, sizeimage);
	ref = reference(v);
	if (!ref)
		return 1;
	expbuf(v, ref);
	for (int i = 3; i < argc; i++)
		import_heap(v, argv[i], ref);
	close(v);
	printf("1..%d\n", test_no);
	return failed ? 1 : 0;
}
