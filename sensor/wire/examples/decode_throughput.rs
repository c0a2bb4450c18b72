//! Decoder throughput on a capture, in frames per second on one core.
//!
//! ```text
//! cargo run --release -p sensor-wire --example decode_throughput -- <capture.pcap> [rounds]
//! ```
//! The capture is read into memory first; the decoder then runs over it `rounds` times
//! (default 20), with one anomaly vector reused throughout, as a worker would.

use std::time::Instant;

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};
use sensor_wire::{Decode, DecoderConfig, FrameDecoder, LinkType, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: decode_throughput <capture> [rounds]")?;
    let rounds: u32 = args.next().map_or(Ok(20), |r| r.parse())?;

    let mut reader = create_reader(1 << 20, std::fs::File::open(&path)?).map_err(|e| format!("{path}: {e:?}"))?;
    let (mut frames, mut link, mut links) = (Vec::new(), LinkType(1), Vec::new());
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => link = LinkType(h.network.0 as u32),
                    PcapBlockOwned::Legacy(b) => frames.push((link, b.data.to_vec())),
                    PcapBlockOwned::NG(Block::InterfaceDescription(i)) => links.push(LinkType(i.linktype.0 as u32)),
                    PcapBlockOwned::NG(Block::EnhancedPacket(p)) => {
                        let len = (p.caplen as usize).min(p.data.len());
                        let l = links.get(p.if_id as usize).copied().unwrap_or(link);
                        frames.push((l, p.data[..len].to_vec()));
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().map_err(|e| format!("{e:?}"))?,
            Err(e) => return Err(format!("{path}: {e:?}").into()),
        }
    }

    let mut decoder = FrameDecoder::new(DecoderConfig::default());
    let mut anomalies = Vec::with_capacity(64);
    let (mut packets, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    for round in 0..rounds {
        for (i, (link, data)) in frames.iter().enumerate() {
            let ts = Timestamp(u64::from(round) * 1_000_000_000 + i as u64);
            if let Decode::Packet(p) = decoder.decode(*link, ts, data, &mut anomalies) {
                packets += 1;
                bytes += u64::from(p.ip_len);
            }
            anomalies.clear();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = frames.len() as f64 * f64::from(rounds);
    println!(
        "{path}: {} frames x {rounds}: {:.2} M frames/s, {:.1} ns/frame ({packets} packets, {:.1} Gbit/s of IP)",
        frames.len(),
        n / secs / 1e6,
        secs * 1e9 / n,
        bytes as f64 * 8.0 / secs / 1e9,
    );
    Ok(())
}
