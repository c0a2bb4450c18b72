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
//!
//! This crate is the only one of the sensor allowed `unsafe` code (the kernel's shared rings);
//! every block says why it holds.
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
mod file;
mod merge;

pub use afpacket::{AfPacketConfig, AfPacketSource};
pub use file::FileSource;
pub use merge::MergedFiles;

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
    /// Live capture on an interface failed.
    #[error("{iface}: cannot {op}: {source}")]
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
}

/// A live source's kernel counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames the kernel handed to the source.
    pub received: u64,
    /// Frames the kernel dropped because the source's ring was full.
    pub dropped: u64,
    /// Times the ring was full (every block waiting for user space).
    pub freezes: u64,
}
