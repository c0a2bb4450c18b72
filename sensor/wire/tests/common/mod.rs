//! Helpers shared by the integration tests: reading pcap/pcapng captures with pcap-parser,
//! owned summaries of decoded frames, Zeek log parsing.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};
use sensor_wire::{
    Decode, DecodeCounters, DecoderConfig, DropReason, FrameDecoder, LinkType, NotIp, TcpFlags, Timestamp, Transport,
};

pub const SHARED: &str = "../../../shared/data/pcaps";

pub fn shared(rel: &str) -> PathBuf {
    Path::new(SHARED).join(rel)
}

pub struct Frame {
    pub link: LinkType,
    pub ts: Timestamp,
    pub data: Vec<u8>,
    /// Length on the wire (`orig_len`).
    pub wire_len: usize,
}

/// Reads a pcap or pcapng file (link type from the file header or the interface description).
pub fn read_capture(path: &Path) -> Vec<Frame> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = create_reader(1 << 20, file).expect("pcap or pcapng header");
    let (mut frames, mut legacy_link, mut nano) = (Vec::new(), LinkType(1), false);
    let mut interfaces: Vec<(LinkType, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_link = LinkType(h.network.0 as u32);
                        nano = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = if nano { b.ts_usec } else { b.ts_usec.saturating_mul(1000) };
                        frames.push(Frame {
                            link: legacy_link,
                            ts: Timestamp::from_parts(u64::from(b.ts_sec), frac),
                            data: b.data.to_vec(),
                            wire_len: b.origlen as usize,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push((LinkType(idb.linktype.0 as u32), idb.ts_resolution().unwrap_or(1_000_000)))
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (link, res) = interfaces[epb.if_id as usize];
                        let (secs, frac) = epb.decode_ts(0, res);
                        let nanos = u64::from(frac) * 1_000_000_000 / res;
                        let len = (epb.caplen as usize).min(epb.data.len());
                        frames.push(Frame {
                            link,
                            ts: Timestamp(u64::from(secs) * 1_000_000_000 + nanos),
                            data: epb.data[..len].to_vec(),
                            wire_len: epb.origlen as usize,
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    frames
}

/// An owned summary of one decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Packet(Pkt),
    Held,
    NotIp(NotIp),
    Dropped(DropReason),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pkt {
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_len: u32,
    pub reassembled: bool,
    pub t: T,
}

#[derive(Debug, Clone, PartialEq)]
pub enum T {
    Tcp { sp: u16, dp: u16, flags: TcpFlags, payload_len: u32, payload: Vec<u8> },
    Udp { sp: u16, dp: u16, payload_len: u32, payload: Vec<u8> },
    Icmp { v6: bool, kind: u8, code: u8, payload_len: u32 },
    Other { protocol: u8, payload_len: u32 },
}

impl Pkt {
    /// (protocol name, src port, dst port) as conn.log spells them.
    pub fn ports(&self) -> Option<(&'static str, u16, u16)> {
        match self.t {
            T::Tcp { sp, dp, .. } => Some(("tcp", sp, dp)),
            T::Udp { sp, dp, .. } => Some(("udp", sp, dp)),
            _ => None,
        }
    }
}

pub fn summarize(d: &Decode<'_>) -> Out {
    match d {
        Decode::Held => Out::Held,
        Decode::NotIp(k) => Out::NotIp(*k),
        Decode::Dropped(r) => Out::Dropped(*r),
        Decode::Packet(p) => Out::Packet(Pkt {
            vlan: p.vlan,
            inner_vlan: p.inner_vlan,
            src: p.src,
            dst: p.dst,
            ip_len: p.ip_len,
            reassembled: p.reassembled,
            t: match p.transport {
                Transport::Tcp(t) => T::Tcp {
                    sp: t.src_port,
                    dp: t.dst_port,
                    flags: t.flags,
                    payload_len: t.payload_len,
                    payload: t.payload.to_vec(),
                },
                Transport::Udp { src_port, dst_port, payload_len, payload } => {
                    T::Udp { sp: src_port, dp: dst_port, payload_len, payload: payload.to_vec() }
                }
                Transport::Icmp { v6, kind, code, payload_len } => T::Icmp { v6, kind, code, payload_len },
                Transport::Other { protocol, payload_len } => T::Other { protocol, payload_len },
            },
        }),
    }
}

pub struct Decoded {
    /// Per frame: the outcome and the anomaly names.
    pub frames: Vec<(Out, Vec<&'static str>)>,
    pub counters: DecodeCounters,
    /// Anomalies from a final `expire` 1 hour after the last frame.
    pub expired: Vec<&'static str>,
}

impl Decoded {
    pub fn packets(&self) -> impl Iterator<Item = &Pkt> {
        self.frames.iter().filter_map(|(o, _)| match o {
            Out::Packet(p) => Some(p),
            _ => None,
        })
    }
    pub fn anomalies(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.frames.iter().flat_map(|(_, a)| a.iter().copied())
    }
}

/// Decodes frames with `decode`, or with `decode_with_wire_len` when `wire` is set.
pub fn decode_frames(frames: &[Frame], wire: bool) -> Decoded {
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        an.clear();
        let o = if wire {
            summarize(&d.decode_with_wire_len(f.link, f.ts, &f.data, f.wire_len, &mut an))
        } else {
            summarize(&d.decode(f.link, f.ts, &f.data, &mut an))
        };
        out.push((o, an.iter().map(|a| a.name).collect()));
    }
    an.clear();
    let last = frames.last().map_or(Timestamp(0), |f| f.ts);
    d.expire(last.add(std::time::Duration::from_secs(3600)), &mut an);
    let counters = d.counters().clone();
    assert!(counters.is_balanced(), "{counters:?}");
    Decoded { frames: out, counters, expired: an.iter().map(|a| a.name).collect() }
}

pub fn decode(rel: &str) -> Decoded {
    decode_frames(&read_capture(&shared(rel)), false)
}

/// Rows of a Zeek log as field-name → value maps.
pub fn zeek_log(rel: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(shared(rel)).unwrap();
    let mut fields: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(String::from).collect();
        } else if line.starts_with('#') || fields.is_empty() {
            // Plain (zeek-cut) logs start with a header line without '#'.
            if fields.is_empty() && !line.starts_with('#') {
                fields = line.split('\t').map(String::from).collect();
            }
        } else {
            rows.push(fields.iter().cloned().zip(line.split('\t').map(String::from)).collect());
        }
    }
    rows
}

/// Checks a Zeek conn.log against the decoded packets: for every TCP/UDP connection, the
/// packets and IP bytes in each direction (Zeek's orig_pkts, orig_ip_bytes, resp_pkts,
/// resp_ip_bytes count IP total lengths, i.e. without link padding), and the VLAN ids when
/// logged. Returns how many connections were checked.
pub fn check_conn_log(capture: &str, log: &str) -> usize {
    let d = decode(capture);
    type Tuple = (String, IpAddr, u16, IpAddr, u16);
    let mut want: BTreeMap<Tuple, [u64; 4]> = BTreeMap::new();
    let mut vlans: BTreeMap<Tuple, (String, String)> = BTreeMap::new();
    for row in zeek_log(log) {
        let proto = row["proto"].clone();
        if proto != "tcp" && proto != "udp" {
            continue;
        }
        let t = (
            proto,
            row["id.orig_h"].parse().unwrap(),
            row["id.orig_p"].parse().unwrap(),
            row["id.resp_h"].parse().unwrap(),
            row["id.resp_p"].parse().unwrap(),
        );
        let e = want.entry(t.clone()).or_default();
        for (i, f) in ["orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"].iter().enumerate() {
            e[i] += row[*f].parse::<u64>().unwrap();
        }
        if let (Some(v), Some(iv)) = (row.get("vlan"), row.get("inner_vlan")) {
            vlans.insert(t, (v.clone(), iv.clone()));
        }
    }
    let show = |v: Option<u16>| v.map_or("-".to_string(), |v| v.to_string());
    for (t, want) in &want {
        let mut got = [0u64; 4];
        for p in d.packets() {
            let Some((proto, sp, dp)) = p.ports() else {
                continue;
            };
            if proto != t.0 {
                continue;
            }
            let dir = if (p.src, sp, p.dst, dp) == (t.1, t.2, t.3, t.4) {
                0
            } else if (p.src, sp, p.dst, dp) == (t.3, t.4, t.1, t.2) {
                2
            } else {
                continue;
            };
            got[dir] += 1;
            got[dir + 1] += u64::from(p.ip_len);
            if let Some((v, iv)) = vlans.get(t) {
                assert_eq!((&show(p.vlan), &show(p.inner_vlan)), (v, iv), "{capture} {t:?}");
            }
        }
        assert_eq!(&got, want, "{capture}: {t:?} [orig pkts, bytes, resp pkts, bytes]");
    }
    want.len()
}

/// Every capture under the shared directory.
pub fn all_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(SHARED), &mut out);
    out.sort();
    out
}
