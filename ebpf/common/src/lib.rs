//! Rust mirror of `ebpf/sensor_maps.h`: the key and value layouts of the maps of the XDP program
//! `sensor.bpf.o`, as `#[repr(C)]` types the loader reads and writes through aya.
//!
//! The C header is the source of truth. Every struct here has the same fields, in the same
//! order, with the same fixed-width types and the same explicit padding, so there are no
//! implicit padding bytes on either side; the tests at the end assert every size and field
//! offset against the numbers printed by `offsetof` on the C side (see `ebpf/README.md`).
//!
//! Byte order, as on the C side: addresses and ports are stored as on the wire (network byte
//! order); prefix lengths and counters are in host order. The constructors below do the
//! conversions, so callers pass plain `Ipv4Addr`/`Ipv6Addr`/`u16` values.
//!
//! The loader (`sensor/capture/src/xdp.rs`) reaches the maps through aya's typed maps with
//! types aya already knows as plain old data, so no `unsafe impl aya::Pod` is needed anywhere:
//! `PerCpuArray<_, [u64; COUNTERS_NR]>` read back with [`SensorCounters::from_array`] (then
//! [`SensorCounters::sum`] over the CPUs); `HashMap<_, [u8; FLOW_KEY_BYTES], [u64; 3]>` with
//! [`SensorFlowKey::to_bytes`] and [`SensorFlowValue::from_array`]; and
//! `LpmTrie<_, [u8; 4], u32>` / `LpmTrie<_, [u8; 16], u32>` with
//! `lpm_trie::Key::new(key.prefixlen, key.addr)`: aya's packed `Key<[u8; N]>` (prefix length,
//! then data) has exactly the layout of [`SensorLpmV4Key`] / [`SensorLpmV6Key`], and the `u32`
//! value is [`SensorCidrValue::rule_id`].

#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Name of the XDP program (the C function) in the object.
pub const PROG_NAME: &str = "sensor_xdp";
/// Name of the per-CPU counters map (`BPF_MAP_TYPE_PERCPU_ARRAY`, one entry).
pub const MAP_COUNTERS: &str = "counters";
/// Name of the LPM trie of ignored IPv4 networks.
pub const MAP_IGNORED_V4: &str = "ignored_v4";
/// Name of the LPM trie of ignored IPv6 networks.
pub const MAP_IGNORED_V6: &str = "ignored_v6";
/// Name of the hash map of bypassed flows.
pub const MAP_BYPASSED: &str = "bypassed_flows";
/// Name of the `XSKMAP` of `AF_XDP` sockets, indexed by RX queue.
pub const MAP_XSKS: &str = "xsks";

/// `max_entries` of [`MAP_IGNORED_V4`] (`SENSOR_MAX_IGNORED_CIDRS_V4`).
pub const MAX_IGNORED_CIDRS_V4: u32 = 65_536;
/// `max_entries` of [`MAP_IGNORED_V6`] (`SENSOR_MAX_IGNORED_CIDRS_V6`).
pub const MAX_IGNORED_CIDRS_V6: u32 = 65_536;
/// `max_entries` of [`MAP_BYPASSED`] (`SENSOR_MAX_BYPASSED_FLOWS`).
pub const MAX_BYPASSED_FLOWS: u32 = 262_144;
/// `max_entries` of [`MAP_XSKS`] (`SENSOR_MAX_RX_QUEUES`): queues at or above it cannot get a socket.
pub const MAX_RX_QUEUES: u32 = 64;

/// The only key of [`MAP_COUNTERS`] (`SENSOR_COUNTERS_KEY`).
pub const COUNTERS_KEY: u32 = 0;

/// Protocol numbers whose first four L4 bytes are the ports (`SENSOR_PROTO_*`).
pub const PROTO_TCP: u8 = 6;
/// UDP (`SENSOR_PROTO_UDP`).
pub const PROTO_UDP: u8 = 17;
/// SCTP (`SENSOR_PROTO_SCTP`).
pub const PROTO_SCTP: u8 = 132;

/// Index of each counter in [`SensorCounters`] read as `[u64; COUNTERS_NR]` (`enum sensor_counter_index`).
pub const CTR_SEEN: usize = 0;
/// Index of `redirected` (`SENSOR_CTR_REDIRECTED`).
pub const CTR_REDIRECTED: usize = 1;
/// Index of `dropped_by_filter` (`SENSOR_CTR_DROPPED_BY_FILTER`).
pub const CTR_DROPPED_BY_FILTER: usize = 2;
/// Index of `passed` (`SENSOR_CTR_PASSED`).
pub const CTR_PASSED: usize = 3;
/// Index of `errors` (`SENSOR_CTR_ERRORS`).
pub const CTR_ERRORS: usize = 4;
/// Index of `bypassed` (`SENSOR_CTR_BYPASSED`).
pub const CTR_BYPASSED: usize = 5;
/// Number of counters (`SENSOR_CTR_NR`).
pub const COUNTERS_NR: usize = 6;

/// `struct sensor_counters` (48 bytes, align 8): value of [`MAP_COUNTERS`], one copy per CPU.
///
/// Sum the copies of all CPUs with [`SensorCounters::add`]. For every copy and for the sum,
/// `seen == redirected + dropped_by_filter + passed + bypassed`, and `errors <= redirected +
/// passed` (malformed frames are delivered too).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SensorCounters {
    /// Every frame the program ran on.
    pub seen: u64,
    /// Frames handed to the `AF_XDP` socket of their RX queue.
    pub redirected: u64,
    /// Frames dropped because their source or destination is in an ignored CIDR.
    pub dropped_by_filter: u64,
    /// Frames passed to the kernel stack because their queue had no socket (fail-open).
    pub passed: u64,
    /// Malformed or truncated frames: no filter applied, delivered all the same (so also counted
    /// in `redirected` or `passed`).
    pub errors: u64,
    /// Frames dropped because their flow is in [`MAP_BYPASSED`].
    pub bypassed: u64,
}

impl SensorCounters {
    /// Adds another CPU's copy (wrapping, like the kernel's counters).
    pub fn add(&mut self, other: &SensorCounters) {
        self.seen = self.seen.wrapping_add(other.seen);
        self.redirected = self.redirected.wrapping_add(other.redirected);
        self.dropped_by_filter = self.dropped_by_filter.wrapping_add(other.dropped_by_filter);
        self.passed = self.passed.wrapping_add(other.passed);
        self.errors = self.errors.wrapping_add(other.errors);
        self.bypassed = self.bypassed.wrapping_add(other.bypassed);
    }

    /// The sum of the copies of all CPUs.
    pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a SensorCounters>) -> SensorCounters {
        let mut total = SensorCounters::default();
        for c in per_cpu {
            total.add(c);
        }
        total
    }

    /// The counters in index order ([`CTR_SEEN`] ..= [`CTR_BYPASSED`]).
    pub fn to_array(&self) -> [u64; COUNTERS_NR] {
        [self.seen, self.redirected, self.dropped_by_filter, self.passed, self.errors, self.bypassed]
    }

    /// The counters from their array form, as a loader reads the map's value.
    pub fn from_array(a: [u64; COUNTERS_NR]) -> Self {
        let [seen, redirected, dropped_by_filter, passed, errors, bypassed] = a;
        Self { seen, redirected, dropped_by_filter, passed, errors, bypassed }
    }
}

/// `struct sensor_lpm_v4_key` (8 bytes, align 4): key of [`MAP_IGNORED_V4`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorLpmV4Key {
    /// Prefix length, 0..=32, host byte order.
    pub prefixlen: u32,
    /// Network address, network byte order (host bits cleared by [`SensorLpmV4Key::new`]).
    pub addr: [u8; 4],
}

impl SensorLpmV4Key {
    /// The key of `addr/prefixlen`, host bits cleared; `None` if `prefixlen > 32`.
    pub fn new(addr: Ipv4Addr, prefixlen: u8) -> Option<Self> {
        if prefixlen > 32 {
            return None;
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefixlen)).unwrap_or(0);
        Some(Self { prefixlen: u32::from(prefixlen), addr: (u32::from(addr) & mask).to_be_bytes() })
    }
}

/// `struct sensor_lpm_v6_key` (20 bytes, align 4): key of [`MAP_IGNORED_V6`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorLpmV6Key {
    /// Prefix length, 0..=128, host byte order.
    pub prefixlen: u32,
    /// Network address, network byte order (host bits cleared by [`SensorLpmV6Key::new`]).
    pub addr: [u8; 16],
}

impl SensorLpmV6Key {
    /// The key of `addr/prefixlen`, host bits cleared; `None` if `prefixlen > 128`.
    pub fn new(addr: Ipv6Addr, prefixlen: u8) -> Option<Self> {
        if prefixlen > 128 {
            return None;
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(prefixlen)).unwrap_or(0);
        Some(Self { prefixlen: u32::from(prefixlen), addr: (u128::from(addr) & mask).to_be_bytes() })
    }
}

/// `struct sensor_cidr_value` (4 bytes, align 4): value of both LPM tries.
///
/// The program only tests for presence; user space stores which configuration entry
/// produced the prefix, to explain a match later.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorCidrValue {
    /// Index of the configuration entry that produced this prefix (free for user space).
    pub rule_id: u32,
}

/// `struct sensor_flow_key` (40 bytes, align 2): key of [`MAP_BYPASSED`].
///
/// Insert one direction only: the program also looks the frame up with source and destination
/// swapped. IPv4 addresses are IPv4-mapped (`::ffff:a.b.c.d`); ports are in network byte order
/// and 0 for protocols without ports (and for IPv4 fragments other than the first); for IPv6
/// `protocol` is the fixed header's next header (extension headers are not walked).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorFlowKey {
    /// Source address, 16 bytes, network byte order (IPv4-mapped for IPv4).
    pub src_addr: [u8; 16],
    /// Destination address, 16 bytes, network byte order (IPv4-mapped for IPv4).
    pub dst_addr: [u8; 16],
    /// Source port, network byte order (use [`SensorFlowKey::new`] or `u16::to_be`).
    pub src_port: u16,
    /// Destination port, network byte order.
    pub dst_port: u16,
    /// IP protocol number (IPv4 protocol / IPv6 next header).
    pub protocol: u8,
    /// Explicit padding: must be zero (keys are compared as raw bytes).
    pub pad: [u8; 3],
}

/// The 16-byte form of an address in a flow key: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn flow_addr(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl SensorFlowKey {
    /// The key of a flow as seen from `src` to `dst`; ports in host order (converted here).
    pub fn new(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, protocol: u8) -> Self {
        Self {
            src_addr: flow_addr(src),
            dst_addr: flow_addr(dst),
            src_port: src_port.to_be(),
            dst_port: dst_port.to_be(),
            protocol,
            pad: [0; 3],
        }
    }

    /// The key's bytes exactly as they lie in memory on the C side (the map's raw key).
    pub fn to_bytes(&self) -> [u8; FLOW_KEY_BYTES] {
        let mut b = [0; FLOW_KEY_BYTES];
        b[..16].copy_from_slice(&self.src_addr);
        b[16..32].copy_from_slice(&self.dst_addr);
        b[32..34].copy_from_slice(&self.src_port.to_ne_bytes());
        b[34..36].copy_from_slice(&self.dst_port.to_ne_bytes());
        b[36] = self.protocol;
        b
    }

    /// The same flow seen from the other end (the second lookup the program makes).
    pub fn reversed(&self) -> Self {
        Self {
            src_addr: self.dst_addr,
            dst_addr: self.src_addr,
            src_port: self.dst_port,
            dst_port: self.src_port,
            protocol: self.protocol,
            pad: [0; 3],
        }
    }
}

/// Size of [`SensorFlowKey`] in bytes, its raw form in the map.
pub const FLOW_KEY_BYTES: usize = 40;

/// `struct sensor_flow_value` (24 bytes, align 8): value of [`MAP_BYPASSED`].
///
/// Insert it zeroed; the program adds every bypassed frame of the flow (both directions).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorFlowValue {
    /// Frames dropped in the kernel for this flow.
    pub packets: u64,
    /// Their bytes, Ethernet header included.
    pub bytes: u64,
    /// `bpf_ktime_get_ns()` (`CLOCK_MONOTONIC`, ns) of the last one: 0 until the first.
    pub last_seen_ns: u64,
}

impl SensorFlowValue {
    /// The value from its raw form in the map (three native-endian `u64`s).
    pub fn from_array([packets, bytes, last_seen_ns]: [u64; 3]) -> Self {
        Self { packets, bytes, last_seen_ns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    // Sizes and offsets printed by `offsetof` on sensor_maps.h (gcc, x86_64), also asserted
    // at compile time in the header itself.

    #[test]
    fn counters_layout() {
        assert_eq!(size_of::<SensorCounters>(), 48);
        assert_eq!(align_of::<SensorCounters>(), 8);
        assert_eq!(offset_of!(SensorCounters, seen), 0);
        assert_eq!(offset_of!(SensorCounters, redirected), 8);
        assert_eq!(offset_of!(SensorCounters, dropped_by_filter), 16);
        assert_eq!(offset_of!(SensorCounters, passed), 24);
        assert_eq!(offset_of!(SensorCounters, errors), 32);
        assert_eq!(offset_of!(SensorCounters, bypassed), 40);
        assert_eq!(size_of::<SensorCounters>(), COUNTERS_NR * 8);
        // The indices follow the offsets.
        assert_eq!(offset_of!(SensorCounters, seen), CTR_SEEN * 8);
        assert_eq!(offset_of!(SensorCounters, redirected), CTR_REDIRECTED * 8);
        assert_eq!(offset_of!(SensorCounters, dropped_by_filter), CTR_DROPPED_BY_FILTER * 8);
        assert_eq!(offset_of!(SensorCounters, passed), CTR_PASSED * 8);
        assert_eq!(offset_of!(SensorCounters, errors), CTR_ERRORS * 8);
        assert_eq!(offset_of!(SensorCounters, bypassed), CTR_BYPASSED * 8);
    }

    #[test]
    fn lpm_keys_layout() {
        assert_eq!(size_of::<SensorLpmV4Key>(), 8);
        assert_eq!(align_of::<SensorLpmV4Key>(), 4);
        assert_eq!(offset_of!(SensorLpmV4Key, prefixlen), 0);
        assert_eq!(offset_of!(SensorLpmV4Key, addr), 4);

        assert_eq!(size_of::<SensorLpmV6Key>(), 20);
        assert_eq!(align_of::<SensorLpmV6Key>(), 4);
        assert_eq!(offset_of!(SensorLpmV6Key, prefixlen), 0);
        assert_eq!(offset_of!(SensorLpmV6Key, addr), 4);

        assert_eq!(size_of::<SensorCidrValue>(), 4);
        assert_eq!(align_of::<SensorCidrValue>(), 4);
        assert_eq!(offset_of!(SensorCidrValue, rule_id), 0);
    }

    #[test]
    fn flow_layout() {
        assert_eq!(size_of::<SensorFlowKey>(), 40);
        assert_eq!(align_of::<SensorFlowKey>(), 2);
        assert_eq!(offset_of!(SensorFlowKey, src_addr), 0);
        assert_eq!(offset_of!(SensorFlowKey, dst_addr), 16);
        assert_eq!(offset_of!(SensorFlowKey, src_port), 32);
        assert_eq!(offset_of!(SensorFlowKey, dst_port), 34);
        assert_eq!(offset_of!(SensorFlowKey, protocol), 36);
        assert_eq!(offset_of!(SensorFlowKey, pad), 37);

        assert_eq!(size_of::<SensorFlowValue>(), 24);
        assert_eq!(align_of::<SensorFlowValue>(), 8);
        assert_eq!(offset_of!(SensorFlowValue, packets), 0);
        assert_eq!(offset_of!(SensorFlowValue, bytes), 8);
        assert_eq!(offset_of!(SensorFlowValue, last_seen_ns), 16);
    }

    #[test]
    fn no_implicit_padding() {
        // Field sizes add up to the struct size: nothing is left uninitialised in a key.
        assert_eq!(6 * 8, size_of::<SensorCounters>());
        assert_eq!(4 + 4, size_of::<SensorLpmV4Key>());
        assert_eq!(4 + 16, size_of::<SensorLpmV6Key>());
        assert_eq!(16 + 16 + 2 + 2 + 1 + 3, size_of::<SensorFlowKey>());
        assert_eq!(3 * 8, size_of::<SensorFlowValue>());
    }

    #[test]
    fn flow_key_encoding() {
        let k = SensorFlowKey::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            40_000,
            443,
            PROTO_TCP,
        );
        assert_eq!(k.src_addr, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
        assert_eq!(k.dst_addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
        // In memory, ports are big-endian whatever the host.
        assert_eq!(k.src_port.to_ne_bytes(), 40_000u16.to_be_bytes());
        assert_eq!(k.dst_port.to_ne_bytes(), 443u16.to_be_bytes());
        assert_eq!(u16::from_be(k.dst_port), 443);
        assert_eq!(k.pad, [0; 3]);

        // The raw key: the struct's bytes in field order, padding zero.
        let raw = k.to_bytes();
        assert_eq!(raw.len(), size_of::<SensorFlowKey>());
        assert_eq!(raw[..16], k.src_addr);
        assert_eq!(raw[16..32], k.dst_addr);
        assert_eq!(raw[32..34], 40_000u16.to_be_bytes());
        assert_eq!(raw[34..36], 443u16.to_be_bytes());
        assert_eq!(raw[36..], [PROTO_TCP, 0, 0, 0]);

        let r = k.reversed();
        assert_eq!(r.src_addr, k.dst_addr);
        assert_eq!(r.dst_addr, k.src_addr);
        assert_eq!((r.src_port, r.dst_port), (k.dst_port, k.src_port));
        assert_eq!(r.protocol, PROTO_TCP);
        assert_eq!(r.reversed(), k);
    }

    #[test]
    fn lpm_key_encoding() {
        let k = SensorLpmV4Key::new(Ipv4Addr::new(203, 0, 113, 77), 24).unwrap();
        assert_eq!((k.prefixlen, k.addr), (24, [203, 0, 113, 0]));
        assert_eq!(SensorLpmV4Key::new(Ipv4Addr::new(10, 1, 2, 3), 0).unwrap().addr, [0; 4]);
        assert_eq!(SensorLpmV4Key::new(Ipv4Addr::new(10, 1, 2, 3), 32).unwrap().addr, [10, 1, 2, 3]);
        assert!(SensorLpmV4Key::new(Ipv4Addr::LOCALHOST, 33).is_none());

        let k = SensorLpmV6Key::new("2001:db8:ff:1::5".parse().unwrap(), 48).unwrap();
        assert_eq!(k.prefixlen, 48);
        assert_eq!(k.addr, "2001:db8:ff::".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(SensorLpmV6Key::new(Ipv6Addr::LOCALHOST, 0).unwrap().addr, [0; 16]);
        assert_eq!(SensorLpmV6Key::new(Ipv6Addr::LOCALHOST, 128).unwrap().addr, Ipv6Addr::LOCALHOST.octets());
        assert!(SensorLpmV6Key::new(Ipv6Addr::LOCALHOST, 129).is_none());
    }

    #[test]
    fn counters_sum() {
        let a = SensorCounters { seen: 5, redirected: 2, dropped_by_filter: 1, passed: 1, errors: 0, bypassed: 1 };
        let b = SensorCounters { seen: 3, redirected: 2, dropped_by_filter: 0, passed: 1, errors: 2, bypassed: 0 };
        let s = SensorCounters::sum([&a, &b]);
        assert_eq!(s.to_array(), [8, 4, 1, 2, 2, 1]);
        assert_eq!(s.seen, s.redirected + s.dropped_by_filter + s.passed + s.bypassed);
        assert_eq!(SensorCounters::from_array(s.to_array()), s);
        assert_eq!(SensorFlowValue::from_array([1, 2, 3]), SensorFlowValue { packets: 1, bytes: 2, last_seen_ns: 3 });
    }
}
