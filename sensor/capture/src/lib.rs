//! Capture sources: where frames come from.
//!
//! Every source implements [`PacketSource`]: the pipeline asks it for a batch of frames and the
//! source hands each one, borrowed, to a sink closure. Borrowing keeps the data where it already is
//! (a file reader's buffer today, an AF_XDP UMEM frame or a TPACKET block later) and matches how
//! rings work: receive a batch, process it in place, release it.
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | the [`PacketSource`] trait, [`Frame`], [`Poll`], [`CaptureError`], [`CaptureAnomaly`] |
//! | `file.rs` | [`FileSource`]: classic pcap (µs and ns, either byte order) and pcapng (several interfaces, per-interface link type, timestamp resolution and offset) through the `pcap-parser` crate |
//! | `merge.rs` | [`MergedFiles`]: several captures as one timeline, merged by timestamp |
//! | `afpacket.rs` | [`AfPacketSource`]: live capture through an AF_PACKET TPACKET_V3 ring, with fanout |
//! | `xdp.rs` | [`XdpProgram`]: the XDP program (`ebpf/`, built by `build.rs`) loaded and attached by aya, its counters, ignored networks and [`BypassTable`] |
//! | `netlink.rs` | which XDP program an interface holds, and removing a stale one of ours |
//! | `afxdp.rs` | [`AfXdpSource`]: live capture of one RX queue through an AF_XDP socket (`xdpilone` rings) |
//! | `mapping.rs` | memory shared with the kernel (a ring, a UMEM), unmapped on drop |
//!
//! This crate is the only one of the sensor allowed `unsafe` code (the kernel's shared rings,
//! in `mapping.rs`, `afpacket.rs` and `afxdp.rs`); every block says why it holds.
//!
//! Invariants: a source never panics on any input bytes. A damaged record in the middle of a file is
//! an error naming the file and the byte offset; a truncated *last* record is a [`CaptureAnomaly`]
//! and the source ends normally, so everything before it is processed.
//!
//! ```no_run
//! use sensor_capture::{FileSource, PacketSource, Poll};
//! let mut src = FileSource::open("capture.pcapng".as_ref())?;
//! let mut frames = 0;
//! while let Poll::Delivered(_) = src.poll(256, &mut |_frame| frames += 1)? {}
//! # Ok::<(), sensor_capture::CaptureError>(())
//! ```

mod afpacket;
mod afxdp;
mod file;
mod mapping;
mod merge;
mod netlink;
mod xdp;

pub use afpacket::{AfPacketConfig, AfPacketSource};
pub use afxdp::{AfXdpConfig, AfXdpSource};
pub use file::FileSource;
pub use merge::MergedFiles;
pub use sensor_ebpf_common::{MAX_RX_QUEUES, SensorCounters, SensorFlowKey};
pub use xdp::{Attached, BypassTable, XdpHandles, XdpMode, XdpProgram};

use sensor_wire::{LinkType, Timestamp};
use std::path::PathBuf;

/// One captured frame, borrowed from the source until the sink returns.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// When the frame was captured.
    pub ts: Timestamp,
    /// The link layer of `data`.
    pub link: LinkType,
    /// The captured bytes (may be shorter than `orig_len` when a snap length cut it).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// What one call to [`PacketSource::poll`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Poll {
    /// This many frames went to the sink (at least one).
    Delivered(usize),
    /// Nothing is available right now (live sources); try again.
    Idle,
    /// The source is exhausted (end of the capture files).
    End,
}

/// A problem with the capture itself (not with a packet) that did not stop processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureAnomaly {
    /// Zeek-style weird name, e.g. `truncated_capture_record`.
    pub name: &'static str,
    /// Human-readable detail naming the file and offset.
    pub addl: String,
    /// Timestamp of the last frame before the anomaly, if any.
    pub ts: Option<Timestamp>,
}

/// Errors that stop a source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}")]
    Io {
        /// The capture file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not a capture")]
    Empty {
        /// The capture file.
        path: PathBuf,
    },
    /// The file does not start with a pcap or pcapng header.
    #[error("{path}: not a pcap or pcapng capture (unrecognised file header)")]
    NotACapture {
        /// The capture file.
        path: PathBuf,
    },
    /// The header or a record is damaged beyond recovery.
    #[error("{path}: malformed capture at byte offset {offset}: {reason}")]
    Malformed {
        /// The capture file.
        path: PathBuf,
        /// Byte offset of the damaged block.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The XDP program could not be loaded or attached.
    #[error("{iface}: cannot {op}: {detail}")]
    Xdp {
        /// The interface.
        iface: String,
        /// What was being done.
        op: &'static str,
        /// Why it failed, with the causes.
        detail: String,
    },
    /// Live capture on an interface failed.
    #[error("{iface}: cannot {op}")]
    Live {
        /// The interface.
        iface: String,
        /// What was being done.
        op: &'static str,
        /// The system error.
        source: std::io::Error,
    },
    /// The capture uses a link type the decoder does not support.
    #[error("{path}: unsupported link type {link}")]
    UnsupportedLink {
        /// The capture file.
        path: PathBuf,
        /// The link type.
        link: LinkType,
    },
}

/// The index of interface `iface`; an error naming it when there is no such interface.
pub fn interface_index(iface: &str) -> Result<u32, CaptureError> {
    let missing = |_| CaptureError::Live {
        iface: iface.into(),
        op: "find the interface",
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such interface"),
    };
    if iface.is_empty() || iface.contains('/') {
        return Err(missing(()));
    }
    nix::net::if_::if_nametoindex(iface).map_err(|_| missing(()))
}

/// The IP addresses configured on interface `iface` (a monitor port should have none: an
/// address makes the host answer, and send, on the port it watches).
pub fn interface_addresses(iface: &str) -> Vec<std::net::IpAddr> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    all.filter(|a| a.interface_name == iface)
        .filter_map(|a| {
            let addr = a.address?;
            addr.as_sockaddr_in()
                .map(|v4| std::net::IpAddr::V4(v4.ip()))
                .or_else(|| addr.as_sockaddr_in6().map(|v6| std::net::IpAddr::V6(v6.ip())))
        })
        .collect()
}

/// A source of frames: capture files, live interfaces.
pub trait PacketSource {
    /// Hands up to `budget` frames to `sink`, in capture order.
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(Frame<'_>)) -> Result<Poll, CaptureError>;

    /// Takes the anomalies found since the last call.
    fn take_anomalies(&mut self) -> Vec<CaptureAnomaly>;

    /// Bytes consumed so far and the total expected, when known (for progress display).
    fn progress(&self) -> (u64, Option<u64>);

    /// What the kernel counted for a live source, since it opened; `None` for files.
    fn kernel_stats(&mut self) -> Option<KernelStats> {
        None
    }

    /// Asks the kernel to stop delivering this flow (both directions): user space has seen
    /// enough of it. Returns whether the source can (only AF_XDP with its XDP program can).
    fn bypass(&mut self, flow: &SensorFlowKey) -> bool {
        let _ = flow;
        false
    }
}

/// A live source's kernel counters, since it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelStats {
    /// An AF_PACKET ring (`PACKET_STATISTICS`).
    Packet {
        /// Frames the kernel handed to the source.
        received: u64,
        /// Frames the kernel dropped because the source's ring was full.
        dropped: u64,
        /// Times the ring was full (every block waiting for user space).
        freezes: u64,
    },
    /// An AF_XDP socket (`XDP_STATISTICS`).
    Xsk {
        /// Frames read from the RX ring.
        received: u64,
        /// Frames the kernel dropped for the socket: larger than a UMEM frame, or no free frame
        /// to copy into.
        rx_dropped: u64,
        /// Frames dropped because the RX ring was full.
        rx_ring_full: u64,
        /// Times the kernel found the fill ring empty (user space too slow to give frames back).
        fill_ring_empty: u64,
        /// Descriptors the kernel found invalid.
        invalid_descs: u64,
    },
}

impl KernelStats {
    /// Frames the source received.
    pub fn received(&self) -> u64 {
        match *self {
            KernelStats::Packet { received, .. } | KernelStats::Xsk { received, .. } => received,
        }
    }

    /// Frames the kernel lost for want of room (ring full, no free frame).
    pub fn dropped(&self) -> u64 {
        match *self {
            KernelStats::Packet { dropped, .. } => dropped,
            KernelStats::Xsk { rx_dropped, rx_ring_full, .. } => rx_dropped + rx_ring_full,
        }
    }
}

impl std::fmt::Display for KernelStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            KernelStats::Packet { received, dropped, freezes } => {
                write!(f, "{received} received, {dropped} dropped, ring full {freezes} times")
            }
            KernelStats::Xsk { received, rx_dropped, rx_ring_full, fill_ring_empty, invalid_descs } => write!(
                f,
                "{received} received, {} dropped (rx_dropped {rx_dropped}, rx_ring_full {rx_ring_full}), \
                 fill ring empty {fill_ring_empty} times, {invalid_descs} invalid descriptors",
                rx_dropped + rx_ring_full
            ),
        }
    }
}
