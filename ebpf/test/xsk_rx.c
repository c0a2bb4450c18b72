// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * xsk_rx.c - minimal AF_XDP receiver used by attach_check.py only.
 *
 * Binds one copy-mode AF_XDP socket to IFNAME/QUEUE, puts it into the XSKMAP
 * with id MAP_ID (the program's "xsks" map), prints "ready", counts the
 * frames it receives for SECONDS seconds and prints "received N frames".
 * Not part of the sensor: the real loader is Rust (aya + xdpilone).
 *
 * Build: gcc -O2 -Wall -o xsk_rx xsk_rx.c -lbpf
 * Usage: xsk_rx IFNAME QUEUE MAP_ID SECONDS
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <bpf/bpf.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define NUM_FRAMES	2048	/* ring sizes must be powers of two */
#define FRAME_SIZE	2048
#define POLL_MS		100

struct ring {
	__u32 *producer;
	__u32 *consumer;
	void *desc;
	__u32 mask;
};

static void die(const char *what)
{
	fprintf(stderr, "xsk_rx: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *map_ring(int fd, const struct xdp_ring_offset *off, size_t desc_size,
		      __u64 pgoff, struct ring *r)
{
	size_t len = off->desc + NUM_FRAMES * desc_size;
	char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, fd, pgoff);

	if (base == MAP_FAILED)
		die("mmap ring");
	r->producer = (__u32 *)(base + off->producer);
	r->consumer = (__u32 *)(base + off->consumer);
	r->desc = base + off->desc;
	r->mask = NUM_FRAMES - 1;
	return base;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct xdp_umem_reg umem = {};
	struct xdp_mmap_offsets off;
	struct sockaddr_xdp sxdp = {};
	socklen_t optlen = sizeof(off);
	struct ring fill, rx;
	unsigned long long received = 0;
	__u32 queue, map_id, i, ring_size = NUM_FRAMES;
	int fd, map_fd;
	double deadline;
	void *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: %s IFNAME QUEUE MAP_ID SECONDS\n", argv[0]);
		return 2;
	}
	queue = strtoul(argv[2], NULL, 0);
	map_id = strtoul(argv[3], NULL, 0);
	deadline = now_s() + atof(argv[4]);

	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		die("socket(AF_XDP)");

	buf = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap umem");
	umem.addr = (__u64)(unsigned long)buf;
	umem.len = (__u64)NUM_FRAMES * FRAME_SIZE;
	umem.chunk_size = FRAME_SIZE;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &umem, sizeof(umem)))
		die("XDP_UMEM_REG");
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring_size, sizeof(ring_size)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring_size, sizeof(ring_size)) ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring_size, sizeof(ring_size)))
		die("ring sizes");
	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen))
		die("XDP_MMAP_OFFSETS");

	map_ring(fd, &off.fr, sizeof(__u64), XDP_UMEM_PGOFF_FILL_RING, &fill);
	map_ring(fd, &off.rx, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING, &rx);

	/* Give every frame to the kernel. */
	for (i = 0; i < NUM_FRAMES; i++)
		((__u64 *)fill.desc)[i] = (__u64)i * FRAME_SIZE;
	__atomic_store_n(fill.producer, NUM_FRAMES, __ATOMIC_RELEASE);

	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = if_nametoindex(argv[1]);
	sxdp.sxdp_queue_id = queue;
	sxdp.sxdp_flags = XDP_COPY;	/* veth: zero-copy is not supported */
	if (!sxdp.sxdp_ifindex)
		die("if_nametoindex");
	if (bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp)))
		die("bind");

	map_fd = bpf_map_get_fd_by_id(map_id);
	if (map_fd < 0)
		die("bpf_map_get_fd_by_id");
	if (bpf_map_update_elem(map_fd, &queue, &fd, 0))
		die("bpf_map_update_elem(xsks)");

	printf("ready\n");
	fflush(stdout);

	while (now_s() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		__u32 cons, prod, fprod;

		poll(&pfd, 1, POLL_MS);
		cons = *rx.consumer;
		prod = __atomic_load_n(rx.producer, __ATOMIC_ACQUIRE);
		fprod = *fill.producer;
		for (; cons != prod; cons++, fprod++) {
			const struct xdp_desc *d =
				&((struct xdp_desc *)rx.desc)[cons & rx.mask];

			/* Recycle the frame: back onto the fill ring. */
			((__u64 *)fill.desc)[fprod & fill.mask] = d->addr;
			received++;
		}
		__atomic_store_n(rx.consumer, cons, __ATOMIC_RELEASE);
		__atomic_store_n(fill.producer, fprod, __ATOMIC_RELEASE);
	}

	printf("received %llu frames\n", received);
	close(fd);	/* also removes the socket from the XSKMAP */
	return 0;
}
