// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * sensor.bpf.c - XDP front end of the sensor's live capture.
 *
 * For every frame received on the monitor port:
 *   1. count it (per-CPU counters);
 *   2. parse Ethernet, up to two VLAN tags (802.1Q / 802.1ad), then the
 *      fixed IPv4 or IPv6 header and, for TCP/UDP/SCTP, the two ports;
 *   3. drop it if its source or destination address lies in an ignored
 *      CIDR (LPM tries filled by user space from configuration);
 *   4. drop it if its flow, in either direction, is bypassed (hash map
 *      filled by user space, typically with elephant flows it has given up
 *      on inspecting);
 *   5. otherwise redirect it to the AF_XDP socket bound to its RX queue.
 *
 * Fail-open: the program must never hide traffic from the host, nor from the
 * sensor, because of its own limits. A frame whose queue has no socket is
 * passed to the kernel stack (counted in `passed`). A frame it cannot parse
 * (truncated, inconsistent headers) is delivered like any other, unfiltered,
 * and also counted in `errors`: malformed traffic is what a sensor must see
 * (its decoder turns it into anomaly records). Frames that are simply not IP
 * (ARP, LLDP, ...) or carry more VLAN tags than parsed are delivered as well:
 * only the in-kernel filters cannot apply to them.
 *
 * Layouts shared with user space live in sensor_maps.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sensor_maps.h"

/*
 * Map sizes (SENSOR_MAX_*) are defined, with the reasons for them, in
 * sensor_maps.h, since user space needs them too (to refuse a configuration
 * that cannot fit). The LPM tries are not preallocated, so their size is
 * only a ceiling; the flow table is preallocated (predictable memory, no
 * allocation on the insert path): about 128 bytes per entry with kernel
 * overhead, 32 MiB at 2^18 entries.
 */

/* One entry, holding one struct sensor_counters per CPU. */
#define COUNTERS_ENTRIES	1

/* Parsing limits and header constants (the kernel's own definitions of
 * these are not part of the UAPI headers). */
#define MAX_VLAN_TAGS		2	/* outer 802.1ad + inner 802.1Q (QinQ) */
#define IPV4_VERSION		4
#define IPV6_VERSION		6
#define IPV4_IHL_UNIT		4	/* IHL counts 32-bit words */
#define IPV4_FRAG_OFFSET_MASK	0x1fff	/* fragment offset bits of frag_off */
#define IPV4_ADDR_LEN		4
#define IPV6_ADDR_LEN		16
#define IPV4_HOST_PREFIXLEN	32
#define IPV6_HOST_PREFIXLEN	128
/* ::ffff:a.b.c.d - ten zero bytes, two 0xff bytes, then the IPv4 address */
#define IPV4_MAPPED_ZERO_LEN	10
#define IPV4_MAPPED_ONES_LEN	2
#define IPV4_MAPPED_PREFIX_LEN	(IPV4_MAPPED_ZERO_LEN + IPV4_MAPPED_ONES_LEN)

/* ------------------------------------------------------------------------
 * Maps (BTF-defined). Names must match SENSOR_MAP_* in sensor_maps.h.
 * ------------------------------------------------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTERS_ENTRIES);
	__type(key, __u32);
	__type(value, struct sensor_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SENSOR_MAX_IGNORED_CIDRS_V4);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for LPM tries */
	__type(key, struct sensor_lpm_v4_key);
	__type(value, struct sensor_cidr_value);
} ignored_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SENSOR_MAX_IGNORED_CIDRS_V6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sensor_lpm_v6_key);
	__type(value, struct sensor_cidr_value);
} ignored_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SENSOR_MAX_BYPASSED_FLOWS);
	__type(key, struct sensor_flow_key);
	__type(value, struct sensor_flow_value);
} bypassed_flows SEC(".maps");

/*
 * The kernel rejects BTF key/value types on XSKMAP (map_check_no_btf);
 * libbpf drops them silently before creating the map, other loaders may not.
 * So this one map declares plain sizes: key = RX queue index, value = socket
 * fd (write-only from user space).
 */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, SENSOR_MAX_RX_QUEUES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} xsks SEC(".maps");

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

/* 802.1Q / 802.1ad tag as it follows the MAC addresses (not in the UAPI). */
struct vlan_hdr {
	__be16 tci;		/* priority, DEI, VLAN id */
	__be16 encap_proto;	/* EtherType of what follows */
};

/* First four bytes of TCP, UDP and SCTP headers. */
struct l4_ports {
	__be16 source;
	__be16 dest;
};

/* Bounds-checked read position in the frame. */
struct cursor {
	void *pos;
	void *end;
};

enum parse_status {
	PARSE_OK,		/* IPv4/IPv6 parsed, flow key filled */
	PARSE_NOT_IP,		/* valid frame the filters do not apply to */
	PARSE_MALFORMED,	/* truncated or inconsistent headers */
};

/* What the filters need to know about a parsed IP frame. */
struct frame_info {
	struct sensor_flow_key flow;	/* addresses, ports, protocol */
	__u16 l3_proto;			/* ETH_P_IP or ETH_P_IPV6, host order */
};

static __always_inline int is_vlan_proto(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) ||
	       proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline int proto_has_ports(__u8 protocol)
{
	return protocol == SENSOR_PROTO_TCP ||
	       protocol == SENSOR_PROTO_UDP ||
	       protocol == SENSOR_PROTO_SCTP;
}

/* Store an IPv4 address in its IPv4-mapped IPv6 form (::ffff:a.b.c.d). */
static __always_inline void ipv4_to_mapped(__u8 *dst, const __be32 *addr)
{
	__builtin_memset(dst, 0, IPV4_MAPPED_ZERO_LEN);
	__builtin_memset(dst + IPV4_MAPPED_ZERO_LEN, 0xff, IPV4_MAPPED_ONES_LEN);
	__builtin_memcpy(dst + IPV4_MAPPED_PREFIX_LEN, addr, IPV4_ADDR_LEN);
}

/*
 * Skip the Ethernet header and up to MAX_VLAN_TAGS VLAN tags; return the
 * EtherType of the payload (network byte order) through *proto. A frame
 * with more tags comes back with a VLAN EtherType, i.e. "not IP".
 */
static __always_inline enum parse_status parse_ethernet(struct cursor *c,
							__be16 *proto)
{
	struct ethhdr *eth = c->pos;
	int i;

	if ((void *)(eth + 1) > c->end)
		return PARSE_MALFORMED;
	c->pos = eth + 1;
	*proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_hdr *vlan = c->pos;

		if (!is_vlan_proto(*proto))
			break;
		if ((void *)(vlan + 1) > c->end)
			return PARSE_MALFORMED;
		*proto = vlan->encap_proto;
		c->pos = vlan + 1;
	}
	return PARSE_OK;
}

/*
 * Fixed IPv4 header (options skipped using IHL). Sets *has_l4 to false for
 * a fragment other than the first, which carries no L4 header.
 */
static __always_inline enum parse_status parse_ipv4(struct cursor *c,
						    struct sensor_flow_key *flow,
						    int *has_l4)
{
	struct iphdr *iph = c->pos;
	__u32 hdr_len;

	if ((void *)(iph + 1) > c->end)
		return PARSE_MALFORMED;
	if (iph->version != IPV4_VERSION)
		return PARSE_MALFORMED;

	hdr_len = iph->ihl * IPV4_IHL_UNIT;
	if (hdr_len < sizeof(*iph))
		return PARSE_MALFORMED;
	if (c->pos + hdr_len > c->end)
		return PARSE_MALFORMED;
	c->pos += hdr_len;

	ipv4_to_mapped(flow->src_addr, &iph->saddr);
	ipv4_to_mapped(flow->dst_addr, &iph->daddr);
	flow->protocol = iph->protocol;
	*has_l4 = !(iph->frag_off & bpf_htons(IPV4_FRAG_OFFSET_MASK));
	return PARSE_OK;
}

/*
 * Fixed IPv6 header only: extension headers are not walked, so the protocol
 * is the fixed header's next header (e.g. 44 for a fragment, ports 0).
 */
static __always_inline enum parse_status parse_ipv6(struct cursor *c,
						    struct sensor_flow_key *flow)
{
	struct ipv6hdr *ip6h = c->pos;

	if ((void *)(ip6h + 1) > c->end)
		return PARSE_MALFORMED;
	if (ip6h->version != IPV6_VERSION)
		return PARSE_MALFORMED;
	c->pos = ip6h + 1;

	__builtin_memcpy(flow->src_addr, &ip6h->saddr, IPV6_ADDR_LEN);
	__builtin_memcpy(flow->dst_addr, &ip6h->daddr, IPV6_ADDR_LEN);
	flow->protocol = ip6h->nexthdr;
	return PARSE_OK;
}

/* Ports of TCP/UDP/SCTP; left at 0 for other protocols. */
static __always_inline enum parse_status parse_ports(struct cursor *c,
						     struct sensor_flow_key *flow)
{
	struct l4_ports *ports = c->pos;

	if (!proto_has_ports(flow->protocol))
		return PARSE_OK;
	if ((void *)(ports + 1) > c->end)
		return PARSE_MALFORMED;
	flow->src_port = ports->source;
	flow->dst_port = ports->dest;
	return PARSE_OK;
}

/* Fill *info from the frame; info must be zeroed by the caller. */
static __always_inline enum parse_status parse_frame(struct cursor *c,
						     struct frame_info *info)
{
	enum parse_status status;
	__be16 proto;
	int has_l4 = 1;

	status = parse_ethernet(c, &proto);
	if (status != PARSE_OK)
		return status;

	if (proto == bpf_htons(ETH_P_IP)) {
		info->l3_proto = ETH_P_IP;
		status = parse_ipv4(c, &info->flow, &has_l4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		info->l3_proto = ETH_P_IPV6;
		status = parse_ipv6(c, &info->flow);
	} else {
		return PARSE_NOT_IP;
	}
	if (status != PARSE_OK || !has_l4)
		return status;
	return parse_ports(c, &info->flow);
}

/* ------------------------------------------------------------------------
 * Filters
 * ------------------------------------------------------------------------ */

static __always_inline int ipv4_ignored(const __u8 *mapped_addr)
{
	struct sensor_lpm_v4_key key = { .prefixlen = IPV4_HOST_PREFIXLEN };

	__builtin_memcpy(key.addr, mapped_addr + IPV4_MAPPED_PREFIX_LEN,
			 IPV4_ADDR_LEN);
	return bpf_map_lookup_elem(&ignored_v4, &key) != NULL;
}

static __always_inline int ipv6_ignored(const __u8 *addr)
{
	struct sensor_lpm_v6_key key = { .prefixlen = IPV6_HOST_PREFIXLEN };

	__builtin_memcpy(key.addr, addr, IPV6_ADDR_LEN);
	return bpf_map_lookup_elem(&ignored_v6, &key) != NULL;
}

/* True if the source or the destination lies in an ignored CIDR. */
static __always_inline int frame_ignored(const struct frame_info *info)
{
	if (info->l3_proto == ETH_P_IP)
		return ipv4_ignored(info->flow.src_addr) ||
		       ipv4_ignored(info->flow.dst_addr);
	return ipv6_ignored(info->flow.src_addr) ||
	       ipv6_ignored(info->flow.dst_addr);
}

/* The same flow seen from the other end. */
static __always_inline void flow_reverse(struct sensor_flow_key *rev,
					 const struct sensor_flow_key *flow)
{
	__builtin_memcpy(rev->src_addr, flow->dst_addr, IPV6_ADDR_LEN);
	__builtin_memcpy(rev->dst_addr, flow->src_addr, IPV6_ADDR_LEN);
	rev->src_port = flow->dst_port;
	rev->dst_port = flow->src_port;
	rev->protocol = flow->protocol;
}

/* The bypass entry of this flow, whichever direction user space stored. */
static __always_inline struct sensor_flow_value *
bypassed_flow_lookup(const struct sensor_flow_key *flow)
{
	struct sensor_flow_key rev = {};	/* zeroes rev.pad too */
	struct sensor_flow_value *value;

	value = bpf_map_lookup_elem(&bypassed_flows, flow);
	if (value)
		return value;
	flow_reverse(&rev, flow);
	return bpf_map_lookup_elem(&bypassed_flows, &rev);
}

/* Several CPUs may update one flow: add atomically; the time is a hint. */
static __always_inline void bypassed_flow_account(struct sensor_flow_value *value,
						  __u64 frame_len)
{
	__sync_fetch_and_add(&value->packets, 1);
	__sync_fetch_and_add(&value->bytes, frame_len);
	value->last_seen_ns = bpf_ktime_get_ns();
}

/* ------------------------------------------------------------------------
 * Delivery
 * ------------------------------------------------------------------------ */

/*
 * Hand the frame to the AF_XDP socket of its RX queue. bpf_redirect_map
 * returns XDP_REDIRECT when the queue has a socket and the fallback action
 * given in its flags (XDP_PASS) when it does not.
 */
static __always_inline int deliver(struct xdp_md *ctx,
				   struct sensor_counters *cnt)
{
	long action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);

	if (action == XDP_REDIRECT)
		cnt->redirected++;
	else
		cnt->passed++;
	return action;
}

SEC("xdp")
int sensor_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor cur = { .pos = data, .end = data_end };
	struct frame_info info = {};
	struct sensor_flow_value *bypass;
	struct sensor_counters *cnt;
	__u32 key = SENSOR_COUNTERS_KEY;

	/* Per-CPU data: plain increments are safe, XDP does not migrate. */
	cnt = bpf_map_lookup_elem(&counters, &key);
	if (!cnt)
		return XDP_PASS;	/* cannot happen for index 0; fail open */
	cnt->seen++;

	switch (parse_frame(&cur, &info)) {
	case PARSE_OK:
		break;
	case PARSE_NOT_IP:
		return deliver(ctx, cnt);
	case PARSE_MALFORMED:
	default:
		/* Unfiltered, but the sensor sees it (an anomaly to record). */
		cnt->errors++;
		return deliver(ctx, cnt);
	}

	if (frame_ignored(&info)) {
		cnt->dropped_by_filter++;
		return XDP_DROP;
	}

	bypass = bypassed_flow_lookup(&info.flow);
	if (bypass) {
		bypassed_flow_account(bypass, data_end - data);
		cnt->bypassed++;
		return XDP_DROP;
	}

	return deliver(ctx, cnt);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
