//! Test-only capture reading: a minimal pcap → Ethernet/VLAN/SLL/raw → IPv4/IPv6 → UDP/TCP
//! decoder (no fragments, no IPv6 extension headers) and a flow table that feeds
//! [`DnsFlow`]s the way the pipeline will, with Zeek's connection orientation.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;

use pcap_parser::PcapCapture;
use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsStats, DnsTransport, is_dns_port};
use sensor_wire::{TcpFlags, TcpSegment, Timestamp};

/// Path of a shared capture, from the crate directory.
pub fn capture_path(rel: &str) -> String {
    format!("{}/../../../shared/data/pcaps/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// A decoded packet.
pub struct Pkt {
    pub ts: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub tcp: Option<(u32, u32, u8, u16)>, // seq, ack, flags, window
    pub payload: Vec<u8>,
}

/// All UDP/TCP packets of a capture with a valid checksum, as Zeek keeps them by default.
pub fn read_packets(rel: &str) -> Vec<Pkt> {
    read_packets_with(rel, true)
}

/// All UDP/TCP packets of a capture; `verify_checksums` false is Zeek's `-C`, for captures
/// taken on a host with checksum offload.
pub fn read_packets_with(rel: &str, verify_checksums: bool) -> Vec<Pkt> {
    let bytes = std::fs::read(capture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let cap = PcapCapture::from_file(&bytes).unwrap_or_else(|e| panic!("{rel}: {e:?}"));
    assert_eq!(cap.header.magic_number, 0xa1b2c3d4, "{rel}: only little-endian microsecond pcaps are handled");
    let link = cap.header.network.0;
    cap.blocks
        .iter()
        .filter_map(|b| {
            let ts = Timestamp::from_parts(u64::from(b.ts_sec), b.ts_usec * 1000);
            decode(link, b.data, ts, verify_checksums)
        })
        .collect()
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn decode(link: i32, frame: &[u8], ts: Timestamp, verify_checksums: bool) -> Option<Pkt> {
    let (mut ethertype, mut at) = match link {
        1 => (be16(frame, 12)?, 14),
        113 => (be16(frame, 14)?, 16),
        101 | 12 => (if frame.first()? >> 4 == 4 { 0x0800 } else { 0x86dd }, 0),
        _ => return None,
    };
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = be16(frame, at + 2)?;
        at += 4;
    }
    let ip = frame.get(at..)?;
    let (src, dst, proto, l4, pseudo): (IpAddr, IpAddr, u8, &[u8], Vec<u8>) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            if be16(ip, 6)? & 0x3fff != 0 {
                return None; // fragment
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let l4 = ip.get(ihl..total.min(ip.len()))?;
            (
                src.into(),
                dst.into(),
                ip[9],
                l4,
                [&src[..], &dst[..], &[0, ip[9]], &(l4.len() as u16).to_be_bytes()].concat(),
            )
        }
        0x86dd => {
            let plen = usize::from(be16(ip, 4)?);
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let l4 = ip.get(40..(40 + plen).min(ip.len()))?;
            let len = (l4.len() as u32).to_be_bytes();
            (src.into(), dst.into(), ip[6], l4, [&src[..], &dst[..], &len[..], &[0, 0, 0, ip[6]]].concat())
        }
        _ => return None,
    };
    // Zeek drops packets whose UDP/TCP checksum is wrong before any analyzer sees them
    // (`ignore_checksums = F`); so does the pipeline. A zero UDP checksum over IPv4 means none.
    let unchecked = proto == 17 && src.is_ipv4() && be16(l4, 6)? == 0;
    if verify_checksums && !unchecked && checksum(&pseudo, l4) != 0xffff {
        return None;
    }
    let (sport, dport) = (be16(l4, 0)?, be16(l4, 2)?);
    match proto {
        17 => {
            let ulen = usize::from(be16(l4, 4)?);
            let payload = l4.get(8..ulen.min(l4.len()))?.to_vec();
            Some(Pkt { ts, src, dst, sport, dport, tcp: None, payload })
        }
        6 => {
            let seq = u32::from_be_bytes(l4.get(4..8)?.try_into().ok()?);
            let ack = u32::from_be_bytes(l4.get(8..12)?.try_into().ok()?);
            let off = usize::from(l4.get(12)? >> 4) * 4;
            let flags = *l4.get(13)?;
            let window = be16(l4, 14)?;
            let payload = l4.get(off..)?.to_vec();
            Some(Pkt { ts, src, dst, sport, dport, tcp: Some((seq, ack, flags, window)), payload })
        }
        _ => None,
    }
}

/// Internet checksum (RFC 1071) over the pseudo-header and the segment.
fn checksum(pseudo: &[u8], l4: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in pseudo.chunks(2).chain(l4.chunks(2)) {
        sum += u32::from(u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Zeek's `likely_server_ports` with only the DNS analyzer loaded.
fn likely_server(port: u16) -> bool {
    matches!(port, 53 | 137 | 5353 | 5355)
}

/// Weird names with their `addl`.
pub type Weirds = Vec<(&'static str, Option<String>)>;
/// A flow's key: protocol and both endpoints, lower one first.
type ConnKey = (&'static str, (IpAddr, u16), (IpAddr, u16));

/// A record with the flow's endpoints as Zeek would log them.
#[derive(Debug, Clone)]
pub struct Logged {
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub proto: &'static str,
    pub rec: DnsRecord,
}

#[derive(Default)]
pub struct Collect {
    pub records: Vec<DnsRecord>,
    pub weirds: Vec<(&'static str, Option<String>)>,
    pub violations: Vec<&'static str>,
    pub flipped: bool,
}

impl DnsSink for Collect {
    fn record(&mut self, rec: &DnsRecord) {
        self.records.push(rec.clone());
    }
    fn weird(&mut self, _: Timestamp, name: &'static str, addl: Option<&str>) {
        self.weirds.push((name, addl.map(str::to_owned)));
    }
    fn violation(&mut self, _: Timestamp, reason: &'static str) {
        self.violations.push(reason);
    }
    fn roles_flipped(&mut self, _: Timestamp) {
        self.flipped = !self.flipped;
    }
}

struct Conn {
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: &'static str,
    flow: DnsFlow,
    out: Collect,
}

/// Runs every DNS flow of a capture; returns the records (with endpoints) and all weirds.
pub fn run_capture(rel: &str, cfg: &DnsConfig) -> (Vec<Logged>, Weirds) {
    let (logged, weirds, _) = run_capture_stats(rel, cfg, true);
    (logged, weirds)
}

/// [`run_capture`] with the flows' counters summed.
pub fn run_capture_stats(rel: &str, cfg: &DnsConfig, verify_checksums: bool) -> (Vec<Logged>, Weirds, DnsStats) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut index: HashMap<ConnKey, usize> = HashMap::new();
    for p in read_packets_with(rel, verify_checksums) {
        let (proto, transport) = if p.tcp.is_some() { ("tcp", DnsTransport::Tcp) } else { ("udp", DnsTransport::Udp) };
        if !is_dns_port(transport, p.sport, p.dport) {
            continue;
        }
        let (a, b) = ((p.src, p.sport), (p.dst, p.dport));
        let key = if a <= b { (proto, a, b) } else { (proto, b, a) };
        let i = *index.entry(key).or_insert_with(|| {
            let flip = match p.tcp {
                Some((_, _, flags, _)) if flags & TcpFlags::SYN != 0 => flags & TcpFlags::ACK != 0,
                _ => likely_server(p.sport) && !likely_server(p.dport),
            };
            let (orig, resp) = if flip { (b, a) } else { (a, b) };
            conns.push(Conn {
                orig,
                resp,
                proto,
                flow: DnsFlow::with_addrs(transport, orig.0, resp.0),
                out: Collect::default(),
            });
            conns.len() - 1
        });
        let c = &mut conns[i];
        let from_orig = (p.src, p.sport) == c.orig;
        match p.tcp {
            None => c.flow.udp(cfg, p.ts, from_orig, &p.payload, &mut c.out),
            Some((seq, ack, flags, window)) => {
                let seg = TcpSegment {
                    src_port: p.sport,
                    dst_port: p.dport,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    window,
                    payload_len: p.payload.len() as u32,
                    payload: &p.payload,
                };
                c.flow.tcp(cfg, p.ts, from_orig, &seg, &mut c.out);
            }
        }
    }
    let mut logged = Vec::new();
    let mut weirds = Vec::new();
    let mut stats = DnsStats::default();
    for mut c in conns {
        c.flow.finish(&mut c.out);
        let s = c.flow.stats();
        stats.messages += s.messages;
        stats.records += s.records;
        stats.weirds += s.weirds;
        stats.not_dns += s.not_dns;
        stats.tcp_gaps += s.tcp_gaps;
        stats.tcp_gap_bytes += s.tcp_gap_bytes;
        stats.tcp_duplicate_bytes += s.tcp_duplicate_bytes;
        let (orig, resp) = if c.out.flipped { (c.resp, c.orig) } else { (c.orig, c.resp) };
        for rec in c.out.records {
            logged.push(Logged { orig, resp, proto: c.proto, rec });
        }
        weirds.extend(c.out.weirds);
    }
    (logged, weirds, stats)
}
