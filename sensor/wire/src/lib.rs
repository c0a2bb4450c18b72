//! Frame decoding: from a captured frame to the addresses, ports and payload the flow table needs.
//!
//! # What this crate owns
//! The first stage of the packet path. [`FrameDecoder::decode`] takes one captured frame and
//! its link type and returns a [`Decode`]: an IP packet with its transport layer, a fragment
//! held for reassembly, a non-IP frame, or a drop with a reason. Anomalies are pushed beside
//! the result, named after Zeek's `weird`s ([`weird`]); an anomaly is not an error, and a packet
//! can come with anomalies.
//!
//! Supported: link types Ethernet (1), Linux cooked v1 (113) and v2 (276), raw IP (101, 12,
//! 14), raw IPv4 (228) and IPv6 (229), BSD loopback (0) and OpenBSD loopback (108); 802.1Q /
//! 802.1ad tag stacks (TPIDs 0x8100, 0x88A8, 0x9100, 0x9200); MPLS label stacks with IPv4,
//! IPv6 or an Ethernet pseudowire (control word) after them; ARP (classified, not parsed
//! further); IPv4 with options; IPv6 with hop-by-hop, routing, destination-options, fragment and
//! AH extension headers; IPv4 and IPv6 fragment reassembly; TCP, UDP, ICMP and ICMPv6 headers.
//!
//! # Map
//! | file | what |
//! |---|---|
//! | `types.rs` | the public result types ([`Decoded`], [`Transport`], [`Anomaly`], …) |
//! | `config.rs`, `counters.rs` | [`DecoderConfig`] / [`FragmentConfig`], [`DecodeCounters`] |
//! | `decode/` | [`FrameDecoder`]: link layer, IPv4, IPv6 chain, transport; the limits |
//! | `frag/` | reassembly table and overlap policy ([`frag`]) |
//! | `vlan.rs`, `mpls.rs`, `sll.rs`, `null.rs`, `ipv6ext.rs` | byte views smoltcp lacks |
//! | `ethertype.rs` | [`EtherType`] |
//! | `weird.rs` | anomaly names and where Zeek defines them |
//!
//! Ethernet, ARP, IPv4, IPv6, TCP, UDP and ICMP headers are read with `smoltcp::wire` views;
//! the views added here follow the same shape: `Packet<T: AsRef<[u8]>>` with `new_checked` /
//! `check_len`, accessors that cannot panic once `check_len` passed, and a `Repr` with `parse`
//! and `emit`.
//!
//! # Invariants
//! - `decode` never panics, whatever the bytes, and every loop in it is bounded by a named
//!   limit ([`decode::MAX_VLAN_TAGS`], [`decode::MAX_MPLS_LABELS`],
//!   [`decode::MAX_PSEUDOWIRE_NESTING`], [`decode::MAX_IPV6_EXT_HEADERS`]).
//! - Lengths come from the IP header, not from the capture: Ethernet padding is cut off, and a
//!   frame cut by a snap length still decodes, with `payload` shorter than `payload_len`.
//! - Unfragmented packets are never hashed, copied or allocated for. Fragments are held in a
//!   table bounded by [`FragmentConfig`]; once its buffers are warm, reassembly does not allocate.
//! - Every frame is counted exactly once in [`DecodeCounters`] ([`DecodeCounters::is_balanced`]).
//!
//! # What it does not do
//! - **No checksum verification** (SPAN copies from offloading NICs carry wrong checksums).
//! - **No tunnel decapsulation** (IP-in-IP, GRE, VXLAN, Geneve, Teredo): the outer packet is
//!   returned with [`Transport::Other`].
//! - **No IPv6 jumbograms**: a payload length of 0 is taken literally, and reassembly stops at
//!   65 535 bytes.
//! - **No TCP or application reassembly**: that is the flow stage's job.
//! - Mobile IPv6 home-address options are not applied to the source address (Zeek does).
//!
//! # Example
//! ```
//! use sensor_wire::{Decode, DecoderConfig, FrameDecoder, LinkType, Timestamp, Transport};
//!
//! // A raw IPv4/UDP packet, 10.0.0.1:1024 -> 10.0.0.2:53, 4 bytes of payload.
//! let frame = [
//!     0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
//!     0x04, 0x00, 0x00, 0x35, 0, 12, 0, 0, // UDP
//!     b'a', b'b', b'c', b'd',
//! ];
//! let mut decoder = FrameDecoder::new(DecoderConfig::default());
//! let mut anomalies = Vec::new();
//! match decoder.decode(LinkType::RAW, Timestamp::from_parts(1, 0), &frame, &mut anomalies) {
//!     Decode::Packet(p) => {
//!         assert_eq!(p.src.to_string(), "10.0.0.1");
//!         assert!(matches!(p.transport, Transport::Udp { dst_port: 53, payload_len: 4, .. }));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert!(anomalies.is_empty());
//! assert!(decoder.counters().is_balanced());
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod config;
mod counters;
pub mod decode;
pub mod error;
mod ethertype;
pub mod frag;
pub mod ipv6ext;
mod macros;
pub mod mpls;
pub mod null;
pub mod sll;
mod types;
pub mod vlan;
pub mod weird;

pub use config::{DecoderConfig, FragmentConfig};
pub use counters::{DecodeCounters, DropCounters};
pub use decode::FrameDecoder;
pub use error::WireError;
pub use ethertype::EtherType;
pub use frag::FragmentUsage;
pub use types::*;
