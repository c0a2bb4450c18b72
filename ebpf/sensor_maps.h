/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * sensor_maps.h - map key/value layouts shared by the XDP program
 * (sensor.bpf.c) and the Rust loader (mirrored by common/src/lib.rs).
 *
 * This is the ONE place these layouts are defined. Rules:
 *   - fixed-width types only (__u8/__u16/__u32/__u64 from linux/types.h);
 *   - every struct spells out its padding, so that C and #[repr(C)] Rust agree
 *     byte for byte and no uninitialised padding ever reaches a map key
 *     (hash and LPM keys are compared as raw bytes);
 *   - every struct states its size; the _Static_asserts at the end of this
 *     file and the tests in common/src/lib.rs check sizes and offsets on both sides.
 * Change a layout here, then in common/src/lib.rs, then in ebpf/README.md.
 *
 * Byte order: addresses and ports are stored exactly as they appear on the
 * wire (network byte order). Counters and prefix lengths are host order.
 */
#ifndef SENSOR_MAPS_H
#define SENSOR_MAPS_H

#include <linux/types.h>

/* ------------------------------------------------------------------------
 * Map names, as the loader looks them up in the object (BPF object names
 * are limited to 15 characters).
 * ------------------------------------------------------------------------ */
#define SENSOR_MAP_COUNTERS	"counters"
#define SENSOR_MAP_IGNORED_V4	"ignored_v4"
#define SENSOR_MAP_IGNORED_V6	"ignored_v6"
#define SENSOR_MAP_BYPASSED	"bypassed_flows"
#define SENSOR_MAP_XSKS		"xsks"
#define SENSOR_PROG_NAME	"sensor_xdp"

/* ------------------------------------------------------------------------
 * Map sizes (max_entries), shared so user space can refuse a configuration
 * that does not fit instead of failing on insert.
 * ------------------------------------------------------------------------ */

/* Ignored networks per family: far more than any hand-written
 * configuration, enough for a generated list (a cloud provider's ranges, a
 * country block list). LPM tries allocate per entry, so unused room is free. */
#define SENSOR_MAX_IGNORED_CIDRS_V4	65536
#define SENSOR_MAX_IGNORED_CIDRS_V6	65536

/* Bypassed flows: elephant flows are few at any one time, but a busy link
 * carries hundreds of thousands of concurrent flows and user space may bypass
 * a whole class of them; 2^18 leaves room before inserts fail (E2BIG).
 * Preallocated: about 32 MiB of kernel memory. */
#define SENSOR_MAX_BYPASSED_FLOWS	262144

/* RX queues, one AF_XDP socket each: above the queue count of the NICs the
 * appliance targets; the XSKMAP costs a pointer per slot. Frames from a
 * queue >= this limit find no socket and are passed (fail-open). */
#define SENSOR_MAX_RX_QUEUES		64

/* ------------------------------------------------------------------------
 * counters: BPF_MAP_TYPE_PERCPU_ARRAY, one entry (key SENSOR_COUNTERS_KEY),
 * value struct sensor_counters; user space reads one copy per possible CPU
 * and sums them.
 * ------------------------------------------------------------------------ */
#define SENSOR_COUNTERS_KEY	0

/*
 * Position of each counter in struct sensor_counters, for user space that
 * prefers to read the value as an array of __u64 (offset = index * 8).
 */
enum sensor_counter_index {
	SENSOR_CTR_SEEN			= 0, /* every frame the program ran on */
	SENSOR_CTR_REDIRECTED		= 1, /* handed to an AF_XDP socket */
	SENSOR_CTR_DROPPED_BY_FILTER	= 2, /* src or dst in an ignored CIDR */
	SENSOR_CTR_PASSED		= 3, /* no socket on this queue: to the stack */
	SENSOR_CTR_ERRORS		= 4, /* malformed/truncated: delivered unfiltered */
	SENSOR_CTR_BYPASSED		= 5, /* flow in bypassed_flows: dropped */
	SENSOR_CTR_NR			= 6, /* number of counters */
};

/*
 * 48 bytes, align 8. Invariants (per CPU, and so for the sums):
 *   seen == redirected + dropped_by_filter + passed + bypassed
 *   errors <= redirected + passed
 * ("passed" counts fail-open passes for want of a socket; "errors" counts
 * malformed frames, which no filter applies to and which are delivered, so
 * they are also in "redirected" or "passed").
 */
struct sensor_counters {
	__u64 seen;			/* offset  0 */
	__u64 redirected;		/* offset  8 */
	__u64 dropped_by_filter;	/* offset 16 */
	__u64 passed;			/* offset 24 */
	__u64 errors;			/* offset 32 */
	__u64 bypassed;			/* offset 40 */
};

/* ------------------------------------------------------------------------
 * ignored_v4 / ignored_v6: BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC.
 * Written by user space from configuration; the program only looks up.
 * A frame whose source OR destination address matches any prefix is dropped.
 * ------------------------------------------------------------------------ */

/* 8 bytes, align 4. Layout required by LPM tries: prefix length first. */
struct sensor_lpm_v4_key {
	__u32 prefixlen;		/* offset 0: 0..32, host byte order */
	__u8  addr[4];			/* offset 4: network byte order */
};

/* 20 bytes, align 4. */
struct sensor_lpm_v6_key {
	__u32 prefixlen;		/* offset 0: 0..128, host byte order */
	__u8  addr[16];			/* offset 4: network byte order */
};

/*
 * 4 bytes, align 4. Value of both LPM tries. The program ignores it;
 * user space stores the index of the configuration entry that produced the
 * prefix, so a lookup from user space can say why an address is ignored.
 */
struct sensor_cidr_value {
	__u32 rule_id;			/* offset 0 */
};

/* ------------------------------------------------------------------------
 * bypassed_flows: BPF_MAP_TYPE_HASH. User space inserts ONE direction of a
 * flow (value zeroed); the program matches the key as seen on the wire and
 * with source and destination swapped, drops the frame and updates the value.
 * User space deletes entries (e.g. when last_seen_ns is old).
 * ------------------------------------------------------------------------ */

/* Protocols whose first four L4 bytes are the source and destination port. */
#define SENSOR_PROTO_TCP	6
#define SENSOR_PROTO_UDP	17
#define SENSOR_PROTO_SCTP	132

/*
 * 40 bytes, align 2. IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d: ten zero bytes, two 0xff bytes, the four address bytes).
 * Ports are in network byte order, and are 0 for protocols without ports
 * (ICMP, ...) and for IPv4 fragments other than the first. pad must be zero.
 */
struct sensor_flow_key {
	__u8  src_addr[16];		/* offset  0 */
	__u8  dst_addr[16];		/* offset 16 */
	__u16 src_port;			/* offset 32: network byte order */
	__u16 dst_port;			/* offset 34: network byte order */
	__u8  protocol;			/* offset 36: IPPROTO_* (IPv6: fixed header's next header) */
	__u8  pad[3];			/* offset 37: must be zero */
};

/*
 * 24 bytes, align 8. Insert with all fields zero; the program adds to
 * packets/bytes atomically and stores last_seen_ns (bpf_ktime_get_ns(),
 * CLOCK_MONOTONIC) on every bypassed frame, both directions together.
 */
struct sensor_flow_value {
	__u64 packets;			/* offset  0 */
	__u64 bytes;			/* offset  8: frame bytes incl. L2 header */
	__u64 last_seen_ns;		/* offset 16 */
};

/* ------------------------------------------------------------------------
 * xsks: BPF_MAP_TYPE_XSKMAP, key __u32 RX queue index, value __u32 AF_XDP
 * socket fd (written by user space; reads back as nothing useful).
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Compile-time layout checks (C side; common/src/lib.rs checks the Rust side).
 * ------------------------------------------------------------------------ */
#define SENSOR_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define SENSOR_ASSERT_OFFSET(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), \
		       #type "." #field " must be at offset " #off)

SENSOR_ASSERT_SIZE(struct sensor_counters, 48);
SENSOR_ASSERT_OFFSET(struct sensor_counters, seen, SENSOR_CTR_SEEN * 8);
SENSOR_ASSERT_OFFSET(struct sensor_counters, redirected, SENSOR_CTR_REDIRECTED * 8);
SENSOR_ASSERT_OFFSET(struct sensor_counters, dropped_by_filter, SENSOR_CTR_DROPPED_BY_FILTER * 8);
SENSOR_ASSERT_OFFSET(struct sensor_counters, passed, SENSOR_CTR_PASSED * 8);
SENSOR_ASSERT_OFFSET(struct sensor_counters, errors, SENSOR_CTR_ERRORS * 8);
SENSOR_ASSERT_OFFSET(struct sensor_counters, bypassed, SENSOR_CTR_BYPASSED * 8);
SENSOR_ASSERT_SIZE(struct sensor_counters, SENSOR_CTR_NR * 8);

SENSOR_ASSERT_SIZE(struct sensor_lpm_v4_key, 8);
SENSOR_ASSERT_OFFSET(struct sensor_lpm_v4_key, addr, 4);
SENSOR_ASSERT_SIZE(struct sensor_lpm_v6_key, 20);
SENSOR_ASSERT_OFFSET(struct sensor_lpm_v6_key, addr, 4);
SENSOR_ASSERT_SIZE(struct sensor_cidr_value, 4);

SENSOR_ASSERT_SIZE(struct sensor_flow_key, 40);
SENSOR_ASSERT_OFFSET(struct sensor_flow_key, dst_addr, 16);
SENSOR_ASSERT_OFFSET(struct sensor_flow_key, src_port, 32);
SENSOR_ASSERT_OFFSET(struct sensor_flow_key, dst_port, 34);
SENSOR_ASSERT_OFFSET(struct sensor_flow_key, protocol, 36);
SENSOR_ASSERT_OFFSET(struct sensor_flow_key, pad, 37);

SENSOR_ASSERT_SIZE(struct sensor_flow_value, 24);
SENSOR_ASSERT_OFFSET(struct sensor_flow_value, bytes, 8);
SENSOR_ASSERT_OFFSET(struct sensor_flow_value, last_seen_ns, 16);

#endif /* SENSOR_MAPS_H */
