//! [`FileSource`]: frames from one pcap or pcapng file, parsed by the `pcap-parser` crate.
//!
//! Timestamps: classic pcap has microsecond or nanosecond resolution by magic number; pcapng has a
//! resolution (`if_tsresol`) and an offset (`if_tsoffset`) per interface, and every enhanced packet
//! block names its interface, which also gives its link type. Simple packet blocks carry no
//! timestamp and take the previous packet's.

use crate::{CaptureAnomaly, CaptureError, Frame, PacketSource, Poll};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use sensor_wire::{LinkType, Timestamp};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Initial size of the reader's buffer. Big enough for many records per `read(2)`.
const READ_BUFFER: usize = 1 << 20;

/// Largest record the reader will grow its buffer for. The largest snap length in use is
/// 262144 bytes (tcpdump's default); a record claiming more than this is damaged, and growing
/// without a bound would let one corrupt length field allocate gigabytes.
const MAX_RECORD: usize = 16 << 20;

/// An interface described by a pcapng interface description block.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

/// Frames from one capture file.
pub struct FileSource {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    /// Length in bytes; `None` for a pipe or FIFO.
    file_len: Option<u64>,
    /// Classic pcap: the file's link type and whether timestamps are in nanoseconds.
    legacy: Option<(LinkType, bool)>,
    /// pcapng: the interfaces of the current section.
    interfaces: Vec<Interface>,
    anomalies: Vec<CaptureAnomaly>,
    last_ts: Option<Timestamp>,
    ended: bool,
    /// Current size of the reader's buffer.
    capacity: usize,
}

/// What one step of the reader produced, with every borrow of the reader released.
enum Step {
    /// A block was handled (delivered or bookkeeping); consume `len` bytes.
    Consumed { len: usize, delivered: bool },
    /// The reader needs more bytes.
    Refill,
    /// The block does not fit in the buffer.
    Grow,
    /// End of file.
    End,
    /// The last record is cut short.
    Truncated,
    /// A fatal error.
    Fail(CaptureError),
}

impl FileSource {
    /// Opens a capture file, or a pipe or FIFO (`tcpdump -w - | sensor replay /dev/stdin`), and
    /// reads its header.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let io = |source| CaptureError::Io { path: path.to_owned(), source };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        FileSource::from_reader(path, file, meta.is_file().then_some(meta.len()))
    }

    /// Reads a capture from any reader (`name` is used in messages; `len`, when known, for
    /// progress).
    pub fn from_reader(
        name: &Path,
        reader: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> Result<FileSource, CaptureError> {
        let path = name;
        if len == Some(0) {
            return Err(CaptureError::Empty { path: path.to_owned() });
        }
        let reader = pcap_parser::create_reader(READ_BUFFER, reader).map_err(|e| match e {
            PcapError::HeaderNotRecognized => CaptureError::NotACapture { path: path.to_owned() },
            PcapError::Eof => CaptureError::Empty { path: path.to_owned() },
            other => CaptureError::Malformed {
                path: path.to_owned(),
                offset: 0,
                reason: format!("bad file header: {other}"),
            },
        })?;
        let mut source = FileSource {
            path: path.to_owned(),
            reader,
            file_len: len,
            legacy: None,
            interfaces: Vec::new(),
            anomalies: Vec::new(),
            last_ts: None,
            ended: false,
            capacity: READ_BUFFER,
        };
        // Read the file header now, so that a bad header or an unsupported link type is reported
        // at open time rather than in the middle of a run.
        source.read_headers()?;
        Ok(source)
    }

    /// Consumes the blocks before the first packet (file header, section and interface blocks).
    fn read_headers(&mut self) -> Result<(), CaptureError> {
        loop {
            let is_header = match self.reader.next() {
                Ok((_, PcapBlockOwned::LegacyHeader(_) | PcapBlockOwned::NG(Block::SectionHeader(_))))
                | Ok((_, PcapBlockOwned::NG(Block::InterfaceDescription(_)))) => true,
                Ok(_) | Err(PcapError::Eof) => false,
                Err(PcapError::Incomplete(_)) => {
                    self.refill()?;
                    continue;
                }
                Err(_) => false, // reported with its offset by the first poll
            };
            if !is_header {
                return Ok(());
            }
            match self.step(&mut |_| {}) {
                Step::Consumed { len, .. } => self.reader.consume(len),
                Step::Fail(e) => return Err(e),
                _ => return Ok(()),
            }
        }
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn malformed(&self, reason: String) -> CaptureError {
        malformed_at(&self.path, self.reader.consumed(), reason)
    }

    /// Refills the reader's buffer from the file.
    fn refill(&mut self) -> Result<(), CaptureError> {
        let result = self.reader.refill().map_err(|e| e.to_string());
        result.map_err(|e| self.malformed(format!("read failed: {e}")))
    }

    /// Reads one block and hands it to `sink` if it is a packet.
    fn step(&mut self, sink: &mut dyn FnMut(Frame<'_>)) -> Step {
        let offset = self.reader.consumed();
        let (len, block) = match self.reader.next() {
            Ok(ok) => ok,
            Err(PcapError::Eof) => return Step::End,
            Err(PcapError::Incomplete(_)) => return Step::Refill,
            Err(PcapError::BufferTooSmall) => return Step::Grow,
            Err(PcapError::UnexpectedEof) => return Step::Truncated,
            Err(e) => {
                return Step::Fail(malformed_at(&self.path, offset, format!("unparseable block: {e}")));
            }
        };
        let mut delivered = false;
        match block {
            PcapBlockOwned::LegacyHeader(header) => {
                let link = LinkType(header.network.0 as u32);
                if !link.is_supported() {
                    return Step::Fail(CaptureError::UnsupportedLink { path: self.path.clone(), link });
                }
                self.legacy = Some((link, header.is_nanosecond_precision()));
            }
            PcapBlockOwned::Legacy(record) => {
                let Some((link, nanos)) = self.legacy else {
                    return Step::Fail(malformed_at(&self.path, offset, "packet record before the file header".into()));
                };
                let frac = if nanos { record.ts_usec.min(999_999_999) } else { record.ts_usec.min(999_999) * 1000 };
                let ts = Timestamp::from_parts(u64::from(record.ts_sec), frac);
                let caplen = (record.caplen as usize).min(record.data.len());
                self.last_ts = Some(ts);
                sink(Frame { ts, link, data: &record.data[..caplen], orig_len: record.origlen });
                delivered = true;
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let link = LinkType(idb.linktype.0 as u32);
                if !link.is_supported() {
                    return Step::Fail(CaptureError::UnsupportedLink { path: self.path.clone(), link });
                }
                let Some(units_per_sec) = ts_units_per_sec(idb.if_tsresol) else {
                    let reason = format!("interface timestamp resolution {:#x} out of range", idb.if_tsresol);
                    return Step::Fail(malformed_at(&self.path, offset, reason));
                };
                self.interfaces.push(Interface { link, units_per_sec, offset_secs: idb.ts_offset() });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => match self.interfaces.get(epb.if_id as usize).copied() {
                Some(iface) => {
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let ts = ticks_to_timestamp(ticks, iface);
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    self.last_ts = Some(ts);
                    sink(Frame { ts, link: iface.link, data: &epb.data[..caplen], orig_len: epb.origlen });
                    delivered = true;
                }
                None => {
                    let detail = format!("packet names interface {} of {}", epb.if_id, self.interfaces.len());
                    self.anomalies.push(capture_anomaly(&self.path, offset, self.last_ts, detail));
                }
            },
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => match self.interfaces.first().copied() {
                Some(iface) => {
                    let ts = self.last_ts.unwrap_or_default();
                    sink(Frame { ts, link: iface.link, data: spb.data, orig_len: spb.origlen });
                    delivered = true;
                }
                None => {
                    let detail = "simple packet block before any interface block".to_owned();
                    self.anomalies.push(capture_anomaly(&self.path, offset, self.last_ts, detail));
                }
            },
            // Name resolution, statistics, journal, secrets, custom and unknown blocks carry no packets.
            PcapBlockOwned::NG(_) => {}
        }
        Step::Consumed { len, delivered }
    }
}

fn malformed_at(path: &Path, offset: usize, reason: String) -> CaptureError {
    CaptureError::Malformed { path: path.to_owned(), offset: offset as u64, reason }
}

/// A packet block that names an interface the section never described.
fn capture_anomaly(path: &Path, offset: usize, ts: Option<Timestamp>, detail: String) -> CaptureAnomaly {
    let addl = format!("{}: {detail} at byte offset {offset}", path.display());
    CaptureAnomaly { name: "capture_unknown_interface", addl, ts }
}

/// Timestamp units per second of a pcapng `if_tsresol` value: 10^n, or 2^n when the top bit is
/// set. (pcap-parser 0.17's `ts_resolution` tests the base-2 exponent with the flag bit still set,
/// so it refuses every base-2 resolution; this reads the option as the pcapng spec defines it.)
fn ts_units_per_sec(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 { 10u64.checked_pow(exponent) } else { 1u64.checked_shl(exponent).filter(|_| exponent < 64) }
}

/// Converts pcapng timestamp ticks to nanoseconds since the epoch, without overflow.
fn ticks_to_timestamp(ticks: u64, iface: Interface) -> Timestamp {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(iface.units_per_sec);
    let offset = i128::from(iface.offset_secs) * 1_000_000_000;
    let total = (nanos as i128 + offset).clamp(0, i128::from(u64::MAX));
    Timestamp(total as u64)
}

impl PacketSource for FileSource {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(Frame<'_>)) -> Result<Poll, CaptureError> {
        let mut delivered = 0;
        while delivered < budget && !self.ended {
            match self.step(sink) {
                Step::Consumed { len, delivered: packet } => {
                    // No shift here: `refill` moves the unread tail to the front, which is then
                    // at most one partial record, instead of half the buffer every half buffer.
                    self.reader.consume_noshift(len);
                    delivered += usize::from(packet);
                }
                // Hand over what was read before waiting for more: from a pipe or FIFO the next
                // read blocks until the writer sends more, and the caller has work to do
                // meanwhile (flushing on its timer).
                Step::Refill if delivered > 0 => break,
                Step::Refill => self.refill()?,
                Step::Grow => {
                    let bigger = self.capacity * 2;
                    if bigger > MAX_RECORD || !self.reader.grow(bigger) {
                        return Err(self.malformed(format!("record larger than {MAX_RECORD} bytes")));
                    }
                    self.capacity = bigger;
                    self.refill()?;
                }
                Step::End => self.ended = true,
                Step::Truncated => {
                    let left = self.reader.data().len();
                    let addl = format!(
                        "{}: last record cut short at byte offset {} ({left} bytes left)",
                        self.path.display(),
                        self.reader.consumed()
                    );
                    self.anomalies.push(CaptureAnomaly { name: "truncated_capture_record", addl, ts: self.last_ts });
                    self.ended = true;
                }
                Step::Fail(e) => return Err(e),
            }
        }
        Ok(if delivered > 0 { Poll::Delivered(delivered) } else { Poll::End })
    }

    fn take_anomalies(&mut self) -> Vec<CaptureAnomaly> {
        std::mem::take(&mut self.anomalies)
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.reader.consumed() as u64, self.file_len)
    }
}
