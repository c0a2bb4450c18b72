//! `sensor demo`: a short, realistic scenario synthesised frame by frame, written as a pcap and
//! replayed, so the sensor can be tried with nothing but this repository.
//!
//! The office network 10.1.0.0/24: a workstation resolves names through the corporate resolver,
//! browses a web site, opens an SMB session to the file server, then (malware-like) looks up a
//! burst of random-looking names that do not exist and tunnels data out through TXT queries
//! under one domain; meanwhile another host sweeps the file server's ports. Frames are built with `smoltcp::wire`; timestamps are fixed, so the capture is
//! the same bytes every time.

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};
use std::path::Path;

/// 2026-11-02 09:00:00 UTC, the scenario's start.
const START_NS: u64 = 1_793_610_000_000_000_000;

const WORKSTATION: Ipv4Address = Ipv4Address::new(10, 1, 0, 23);
const RESOLVER: Ipv4Address = Ipv4Address::new(10, 1, 0, 2);
const FILE_SERVER: Ipv4Address = Ipv4Address::new(10, 1, 0, 10);
const SCANNER: Ipv4Address = Ipv4Address::new(10, 1, 0, 66);
const WEB_SERVER: Ipv4Address = Ipv4Address::new(93, 184, 216, 34);

/// Ports the sweep probes; 80 and 445 are open on the file server.
const SWEEP_PORTS: [u16; 20] =
    [21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 993, 995, 1433, 3306, 3389, 5900, 8080, 8443];
const OPEN_PORTS: [u16; 2] = [80, 445];

/// Names the workstation fails to resolve in a burst (shaped like generated domains).
const NXDOMAIN_BURST: usize = 25;

/// Queries of the DNS tunnel, and the domain it runs under (reserved for documentation).
const TUNNEL_QUERIES: usize = 40;
const TUNNEL_DOMAIN: &str = "sync.example.org";
/// Characters of each query's encoded label, and of each answer's text.
const TUNNEL_LABEL: usize = 60;
const TUNNEL_ANSWER: usize = 120;
/// DNS record types used.
const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;

/// A capture being built.
struct Scenario {
    now_ns: u64,
    frames: Vec<(u64, Vec<u8>)>,
    /// xorshift state for the generated names: fixed seed, same names every run.
    rng: u64,
}

fn mac_of(ip: Ipv4Address) -> EthernetAddress {
    let o = ip.octets();
    EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
}

/// Where frames to off-site addresses go.
const GATEWAY_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x0a, 0x01, 0x00, 0x01]);

impl Scenario {
    fn new() -> Scenario {
        Scenario { now_ns: START_NS, frames: Vec::new(), rng: 0x9e37_79b9_7f4a_7c15 }
    }

    fn wait_ms(&mut self, ms: u64) {
        self.now_ns += ms * 1_000_000;
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Builds Ethernet + IPv4 around a transport payload written by `transport`.
    fn ip_frame(
        &mut self,
        src: Ipv4Address,
        dst: Ipv4Address,
        protocol: IpProtocol,
        l4_len: usize,
        transport: impl FnOnce(&mut [u8]),
    ) {
        let eth = EthernetRepr {
            src_addr: if src.is_private() { mac_of(src) } else { GATEWAY_MAC },
            dst_addr: if dst.is_private() { mac_of(dst) } else { GATEWAY_MAC },
            ethertype: EthernetProtocol::Ipv4,
        };
        let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: protocol, payload_len: l4_len, hop_limit: 64 };
        let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + l4_len];
        let mut frame = EthernetFrame::new_unchecked(&mut buf);
        eth.emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet, &ChecksumCapabilities::default());
        transport(packet.payload_mut());
        self.frames.push((self.now_ns, buf));
    }

    fn udp(&mut self, src: (Ipv4Address, u16), dst: (Ipv4Address, u16), payload: &[u8]) {
        let repr = UdpRepr { src_port: src.1, dst_port: dst.1 };
        let len = repr.header_len() + payload.len();
        self.ip_frame(src.0, dst.0, IpProtocol::Udp, len, |buf| {
            let mut packet = UdpPacket::new_unchecked(buf);
            repr.emit(
                &mut packet,
                &IpAddress::Ipv4(src.0),
                &IpAddress::Ipv4(dst.0),
                payload.len(),
                |p| p.copy_from_slice(payload),
                &ChecksumCapabilities::default(),
            );
        });
    }

    fn tcp(
        &mut self,
        src: (Ipv4Address, u16),
        dst: (Ipv4Address, u16),
        control: TcpControl,
        seq: u32,
        ack: Option<u32>,
        payload: &[u8],
    ) {
        let repr = TcpRepr {
            src_port: src.1,
            dst_port: dst.1,
            control,
            seq_number: TcpSeqNumber(seq as i32),
            ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: 64240,
            window_scale: None,
            max_seg_size: (control == TcpControl::Syn).then_some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let len = repr.buffer_len();
        self.ip_frame(src.0, dst.0, IpProtocol::Tcp, len, |buf| {
            let mut packet = TcpPacket::new_unchecked(buf);
            repr.emit(&mut packet, &IpAddress::Ipv4(src.0), &IpAddress::Ipv4(dst.0), &ChecksumCapabilities::default());
        });
    }

    /// A DNS exchange through the resolver.
    fn lookup(&mut self, client_port: u16, id: u16, name: &str, qtype: u16, answer: Answer<'_>) {
        let client = (WORKSTATION, client_port);
        let server = (RESOLVER, 53);
        self.udp(client, server, &dns_message(id, name, qtype, None));
        self.wait_ms(12);
        self.udp(server, client, &dns_message(id, name, qtype, Some(answer)));
        self.wait_ms(30);
    }

    /// A TCP session: handshake, one request and one response, orderly close.
    fn session(&mut self, client: (Ipv4Address, u16), server: (Ipv4Address, u16), request: &[u8], response: &[u8]) {
        let (c, s) = (0x1000_0000u32, 0x5000_0000u32);
        self.tcp(client, server, TcpControl::Syn, c, None, &[]);
        self.wait_ms(20);
        self.tcp(server, client, TcpControl::Syn, s, Some(c + 1), &[]);
        self.wait_ms(20);
        self.tcp(client, server, TcpControl::None, c + 1, Some(s + 1), &[]);
        self.tcp(client, server, TcpControl::Psh, c + 1, Some(s + 1), request);
        self.wait_ms(40);
        let req = request.len() as u32;
        self.tcp(server, client, TcpControl::Psh, s + 1, Some(c + 1 + req), response);
        self.wait_ms(5);
        let resp = response.len() as u32;
        self.tcp(client, server, TcpControl::Fin, c + 1 + req, Some(s + 1 + resp), &[]);
        self.wait_ms(20);
        self.tcp(server, client, TcpControl::Fin, s + 1 + resp, Some(c + 2 + req), &[]);
        self.wait_ms(20);
        self.tcp(client, server, TcpControl::None, c + 2 + req, Some(s + 2 + resp), &[]);
    }

    /// `len` characters of base32 (what tunnels encode their data in).
    fn encoded(&mut self, len: usize) -> String {
        const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        (0..len).map(|_| char::from(BASE32[(self.random() % 32) as usize])).collect()
    }

    fn generated_name(&mut self) -> String {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let len = 10 + (self.random() % 8) as usize;
        let mut name: String = (0..len).map(|_| char::from(LETTERS[(self.random() % 36) as usize])).collect();
        name.push_str([".com", ".net", ".info", ".biz"][(self.random() % 4) as usize]);
        name
    }
}

/// What a DNS response answers.
#[derive(Clone, Copy)]
enum Answer<'a> {
    /// NXDOMAIN.
    NoSuchName,
    /// A records (300 s TTL); none: NOERROR without data.
    Addresses(&'a [[u8; 4]]),
    /// One TXT record (TTL 0, as tunnels answer).
    Text(&'a str),
}

/// Encodes a DNS query (`answer` None) or its response.
fn dns_message(id: u16, name: &str, qtype: u16, answer: Option<Answer<'_>>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    let (flags, ancount): (u16, u16) = match answer {
        None => (0x0100, 0),                                    // RD
        Some(Answer::NoSuchName) => (0x8183, 0),                // QR RD RA, NXDOMAIN
        Some(Answer::Addresses(a)) => (0x8180, a.len() as u16), // QR RD RA, NOERROR
        Some(Answer::Text(_)) => (0x8180, 1),
    };
    m.extend_from_slice(&flags.to_be_bytes());
    for count in [1, ancount, 0, 0] {
        m.extend_from_slice(&count.to_be_bytes());
    }
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    // Each answer: a pointer to the question name, its type, class IN, TTL, data.
    let mut record = |rtype: u16, ttl: u32, data: &[u8]| {
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
    };
    match answer {
        Some(Answer::Addresses(addrs)) => addrs.iter().for_each(|a| record(TYPE_A, 300, a)),
        Some(Answer::Text(text)) => record(TYPE_TXT, 0, &[&[text.len() as u8][..], text.as_bytes()].concat()),
        _ => {}
    }
    m
}

/// Builds the scenario's frames: (timestamp in ns, Ethernet frame).
fn build() -> Vec<(u64, Vec<u8>)> {
    let mut s = Scenario::new();
    // Morning lookups and a web page.
    s.lookup(51000, 0x1a2b, "www.example.com", TYPE_A, Answer::Addresses(&[[93, 184, 216, 34]]));
    s.lookup(51001, 0x1a2c, "www.example.com", TYPE_AAAA, Answer::Addresses(&[]));
    s.session(
        (WORKSTATION, 49812),
        (WEB_SERVER, 80),
        b"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        &[b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1200\r\n\r\n".as_slice(), &[b'x'; 1200]]
            .concat(),
    );
    s.wait_ms(500);
    // The file server.
    s.lookup(51002, 0x1a2d, "files.corp.example", TYPE_A, Answer::Addresses(&[[10, 1, 0, 10]]));
    let negotiate = [&[0u8, 0, 0, 0x6c][..], b"\xfeSMB", &[0u8; 100]].concat();
    let negotiated = [&[0u8, 0, 0, 0xc4][..], b"\xfeSMB", &[0u8; 192]].concat();
    s.session((WORKSTATION, 49813), (FILE_SERVER, 445), &negotiate, &negotiated);
    s.wait_ms(2000);
    // A burst of lookups for names that do not exist.
    for i in 0..NXDOMAIN_BURST {
        let name = s.generated_name();
        s.lookup(52000 + i as u16, 0x4000 + i as u16, &name, TYPE_A, Answer::NoSuchName);
    }
    s.wait_ms(1000);
    // A DNS tunnel: data out in base32 labels of TXT queries, commands back in the answers.
    for i in 0..TUNNEL_QUERIES {
        let name = format!("{}.{TUNNEL_DOMAIN}", s.encoded(TUNNEL_LABEL));
        let text = s.encoded(TUNNEL_ANSWER);
        s.lookup(53000 + i as u16, 0x6000 + i as u16, &name, TYPE_TXT, Answer::Text(&text));
        s.wait_ms(200);
    }
    s.wait_ms(1000);
    // A port sweep of the file server.
    for (i, &port) in SWEEP_PORTS.iter().enumerate() {
        let scanner = (SCANNER, 40000 + i as u16);
        let target = (FILE_SERVER, port);
        let seq = 0x7000_0000 + i as u32;
        s.tcp(scanner, target, TcpControl::Syn, seq, None, &[]);
        s.wait_ms(1);
        if OPEN_PORTS.contains(&port) {
            s.tcp(target, scanner, TcpControl::Syn, 0x2000_0000, Some(seq + 1), &[]);
            s.wait_ms(1);
            s.tcp(scanner, target, TcpControl::Rst, seq + 1, None, &[]);
        } else {
            s.tcp(target, scanner, TcpControl::Rst, 0, Some(seq + 1), &[]);
        }
        s.wait_ms(3);
    }
    s.frames
}

/// Writes the scenario as a classic pcap file (Ethernet, microseconds). Returns the frame count.
pub fn write_pcap(path: &Path) -> anyhow::Result<usize> {
    let frames = build();
    let mut header = PcapHeader { network: Linktype::ETHERNET, snaplen: 65535, ..PcapHeader::new() };
    let mut bytes = header.to_vec().map_err(|e| anyhow::anyhow!("cannot encode the pcap header: {e:?}"))?;
    for (ts, frame) in &frames {
        let mut record = LegacyPcapBlock {
            ts_sec: (ts / 1_000_000_000) as u32,
            ts_usec: (ts % 1_000_000_000 / 1000) as u32,
            caplen: frame.len() as u32,
            origlen: frame.len() as u32,
            data: frame,
        };
        bytes.extend(record.to_vec().map_err(|e| anyhow::anyhow!("cannot encode a pcap record: {e:?}"))?);
    }
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_is_deterministic_and_complete() {
        let a = build();
        assert_eq!(a, build(), "same bytes every run");
        // 2 lookups + web session, 1 lookup + SMB session, 25 lookups, the tunnel, the sweep.
        let expected =
            2 * 2 + 8 + 2 + 8 + NXDOMAIN_BURST * 2 + TUNNEL_QUERIES * 2 + SWEEP_PORTS.len() * 2 + OPEN_PORTS.len();
        assert_eq!(a.len(), expected);
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "timestamps never go backwards");
    }

    #[test]
    fn dns_messages_are_well_formed() {
        let q = dns_message(7, "a.example", TYPE_A, None);
        assert_eq!(&q[..4], &[0, 7, 0x01, 0x00]);
        assert_eq!(q.len(), 12 + 11 + 4);
        let r = dns_message(7, "a.example", TYPE_A, Some(Answer::Addresses(&[[1, 2, 3, 4]])));
        assert_eq!(r.len(), q.len() + 16);
        assert_eq!(&r[r.len() - 4..], &[1, 2, 3, 4]);
        let t = dns_message(7, "a.example", TYPE_TXT, Some(Answer::Text("hi")));
        assert_eq!(&t[t.len() - 5..], &[0, 3, 2, b'h', b'i']);
    }
}
