//! [`AfXdpSource`]: live capture of one RX queue through an AF_XDP socket, fed by the XDP
//! program ([`crate::XdpProgram`]) that redirects the queue's frames to it.
//!
//! The socket owns a UMEM: an anonymous mapping cut into [`AfXdpConfig::frames`] frames of
//! [`AfXdpConfig::frame_bytes`]. Frames go to the kernel through the fill ring and come back,
//! written, through the RX ring; the source reads them in place, hands them to the sink, and
//! puts them back on its free list, from whose tail (the frames just used, still in cache) the
//! fill ring is topped up after every batch. When the RX ring is empty the source sleeps in
//! `poll()` rather than spinning (on a core shared with the driver's NAPI thread, spinning
//! starves the very thread that fills the ring: docs/PLATFORM.md measured 0.56 against
//! 1.35 Mpps). The socket binds zero-copy where the driver supports it, in copy mode otherwise
//! ([`AfXdpSource::zero_copy`]), and never transmits: it has no TX ring.
//!
//! The crate chosen for the rings is `xdpilone` (docs/decisions/afxdp-crate.md). Its rings
//! hand out descriptors; the memory they point into, and its lifetime, are this file's, which
//! is why it holds `unsafe` blocks, each saying why it is sound.

#![allow(unsafe_code)] // the UMEM shared with the kernel; each block documents why it holds
#![deny(clippy::undocumented_unsafe_blocks)]

use crate::mapping::Mapping;
use crate::xdp::XdpHandles;
use crate::{CaptureError, Frame, KernelStats, PacketSource, Poll};
use sensor_wire::{LinkType, Timestamp};
use std::ffi::CString;
use std::io;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::time::Duration;
use xdpilone::{DeviceQueue, IfInfo, RingRx, Socket, SocketConfig, Umem, UmemConfig, User};

/// Ring and memory settings (`[capture.afxdp]` of the sensor's configuration).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AfXdpConfig {
    /// UMEM frames (a power of two). Default 32768: with 16384-entry rings, no loss at 1 Mpps
    /// where 8192 frames lost some (docs/PLATFORM.md).
    pub frames: u32,
    /// Bytes per frame: 2048 (Ethernet frames up to 1792 bytes in copy mode, which keeps 256
    /// bytes of headroom) or 4096 (up to 3840). Larger frames are dropped by the kernel and
    /// counted in `rx_dropped`. Default 2048.
    pub frame_bytes: u32,
    /// RX ring entries (a power of two). Default 16384.
    pub rx_ring: u32,
    /// Fill ring entries (a power of two). Default 16384.
    pub fill_ring: u32,
    /// Most frames handed over per `poll`. Default 256.
    pub batch: u32,
    /// Try a zero-copy bind first (copy mode when the driver refuses). Default true.
    pub zero_copy: bool,
}

impl Default for AfXdpConfig {
    fn default() -> Self {
        AfXdpConfig { frames: 32768, frame_bytes: 2048, rx_ring: 16384, fill_ring: 16384, batch: 256, zero_copy: true }
    }
}

/// How long one `poll` sleeps for the kernel when the RX ring is empty.
const WAIT_MS: u16 = 100;
/// When fewer frames than a batch are waiting, how long to let more gather before reading them.
/// At low rates the kernel wakes a reader sleeping in `poll()` for every frame or two, and a
/// wakeup (system calls, context switches: dear in a VM) costs more than the pipeline's work on
/// the frame: measured on veth at 50,000 frames/s, 7.9 µs of CPU per frame when woken by
/// `poll()` each time, where AF_PACKET, whose kernel hands over blocks, spent 3.2 (`make
/// bench-capture`). A millisecond gathers ~50 frames
/// at that rate, costs no throughput (at 1 Mpps a batch is always waiting, so there is no
/// pause) and fills at most 1/16 of the default RX ring at 1 Mpps; it adds at most a
/// millisecond to when a record is written, which nobody reads that fast.
const GATHER: Duration = Duration::from_millis(1);
/// Completion ring entries: the socket never transmits, but the kernel wants the ring.
const COMPLETION_RING: u32 = 64;
/// `XDP_BIND_*` flags (linux/if_xdp.h).
const BIND_NEED_WAKEUP: u16 = SocketConfig::XDP_BIND_NEED_WAKEUP;

/// The bytes of a received descriptor, if they lie inside the UMEM.
fn frame(umem: &Mapping, addr: u64, len: u32) -> Option<&[u8]> {
    let start = usize::try_from(addr).ok()?;
    let end = start.checked_add(len as usize)?;
    if end > umem.len() {
        return None;
    }
    // Safety: `start..end` lies inside the mapping (checked above), which lives as long as the
    // borrow of `umem`. The kernel wrote this frame before publishing its descriptor on the RX
    // ring (read with acquire ordering by xdpilone) and does not touch it again until the frame
    // is handed back on the fill ring, which happens only after the sink returned and this
    // borrow ended. Other frames of the area may be written meanwhile; the slice does not cover
    // them.
    Some(unsafe { std::slice::from_raw_parts(umem.base().as_ptr().add(start), len as usize) })
}

/// A live AF_XDP capture of one RX queue of an interface.
pub struct AfXdpSource {
    // Field order is drop order: rings and sockets before the UMEM and its area.
    rx: RingRx,
    device: DeviceQueue,
    user: User,
    /// Kept alive for the sockets (the kernel's registration of the area).
    _umem: Umem,
    area: Mapping,
    iface: String,
    frame_bytes: u64,
    /// Frames owned by user space, not on the fill ring; refilled from the tail.
    free: Vec<u64>,
    batch: u32,
    zero_copy: bool,
    received: u64,
}

// Safety: the raw pointers inside (the UMEM area, xdpilone's ring pointers) point into
// mappings this source owns alone; nothing else in the process refers to them, and they are
// only touched through `&mut self`. Moving the source to another thread moves that sole
// ownership with it. (xdpilone's shared device registry is an `Arc` of a `Sync` set.)
unsafe impl Send for AfXdpSource {}

impl AfXdpSource {
    /// Binds a socket to queue `queue` of `iface`, fills its fill ring, and routes the queue's
    /// frames to it through the program's socket map.
    pub fn open(iface: &str, queue: u32, cfg: &AfXdpConfig, maps: &XdpHandles) -> Result<AfXdpSource, CaptureError> {
        let live = |op, source| CaptureError::Live { iface: iface.into(), op, source };
        check(cfg).map_err(|e| live("use this AF_XDP configuration", e))?;
        let mut source = match cfg.zero_copy {
            true => Self::bind(iface, queue, cfg, true).or_else(|_| Self::bind(iface, queue, cfg, false)),
            false => Self::bind(iface, queue, cfg, false),
        }
        .map_err(|e| live("bind an AF_XDP socket", e))?;
        source.refill();
        maps.register(queue, source.user.as_raw_fd())
            .map_err(|e| live("put the AF_XDP socket in the XDP program's map", io::Error::other(e)))?;
        Ok(source)
    }

    fn bind(iface: &str, queue: u32, cfg: &AfXdpConfig, zero_copy: bool) -> io::Result<AfXdpSource> {
        let errno = |e: xdpilone::Errno| io::Error::from_raw_os_error(e.get_raw().abs());
        let len = cfg.frames as usize * cfg.frame_bytes as usize;
        let area = Mapping::anonymous(len)?;
        let umem_cfg = UmemConfig {
            fill_size: cfg.fill_ring,
            complete_size: COMPLETION_RING,
            frame_size: cfg.frame_bytes,
            headroom: 0,
            flags: 0,
        };
        // Safety: `area` is a fresh page-aligned mapping of `len` bytes that outlives the UMEM
        // (both end up in the returned source, the area dropped last).
        let umem =
            unsafe { Umem::new(umem_cfg, NonNull::slice_from_raw_parts(area.base(), area.len())) }.map_err(errno)?;
        let mut info = IfInfo::invalid();
        let name = CString::new(iface).map_err(io::Error::other)?;
        info.from_name(&name).map_err(errno)?;
        info.set_queue(queue);
        let socket = Socket::with_shared(&info, &umem).map_err(errno)?;
        let device = umem.fq_cq(&socket).map_err(errno)?;
        let mode = if zero_copy { SocketConfig::XDP_BIND_ZEROCOPY } else { SocketConfig::XDP_BIND_COPY };
        let socket_cfg = SocketConfig {
            rx_size: std::num::NonZeroU32::new(cfg.rx_ring),
            tx_size: None,
            bind_flags: BIND_NEED_WAKEUP | mode,
        };
        let user = umem.rx_tx(&socket, &socket_cfg).map_err(errno)?;
        let rx = user.map_rx().map_err(errno)?;
        umem.bind(&user).map_err(errno)?;
        let frame_bytes = u64::from(cfg.frame_bytes);
        Ok(AfXdpSource {
            rx,
            device,
            user,
            _umem: umem,
            area,
            iface: iface.to_owned(),
            frame_bytes,
            free: (0..u64::from(cfg.frames)).map(|i| i * frame_bytes).collect(),
            batch: cfg.batch,
            zero_copy,
            received: 0,
        })
    }

    /// Whether the socket is bound zero-copy (else the kernel copies each frame into the UMEM).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Gives the kernel as many free frames as the fill ring takes, most recently used first.
    fn refill(&mut self) {
        let n = u32::try_from(self.free.len()).unwrap_or(u32::MAX);
        if n == 0 {
            return;
        }
        let mut fill = self.device.fill(n);
        let given = fill.insert(self.free.iter().rev().copied());
        fill.commit();
        self.free.truncate(self.free.len() - given as usize);
    }

    /// Sleeps until the RX ring has frames or [`WAIT_MS`] passed; waking the kernel, too, when it
    /// asked for it (it stops filling the ring while it waits for free frames).
    fn wait(&mut self) -> io::Result<()> {
        // Safety: the descriptor belongs to `self.user`, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(self.user.as_raw_fd()) };
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, WAIT_MS) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A configuration the kernel would refuse, said before it does.
fn check(cfg: &AfXdpConfig) -> io::Result<()> {
    let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_string()));
    for (name, n) in [("frames", cfg.frames), ("rx_ring", cfg.rx_ring), ("fill_ring", cfg.fill_ring)] {
        if !n.is_power_of_two() {
            return bad(&format!("[capture.afxdp] {name} = {n} is not a power of two"));
        }
    }
    if !matches!(cfg.frame_bytes, 2048 | 4096) {
        return bad(&format!("[capture.afxdp] frame_bytes = {} must be 2048 or 4096", cfg.frame_bytes));
    }
    if cfg.fill_ring > cfg.frames {
        return bad("[capture.afxdp] fill_ring is larger than frames: the ring could never be full");
    }
    if cfg.batch == 0 {
        return bad("[capture.afxdp] batch must be at least 1");
    }
    Ok(())
}

impl PacketSource for AfXdpSource {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(Frame<'_>)) -> Result<Poll, CaptureError> {
        let want = u32::try_from(budget).unwrap_or(u32::MAX).min(self.batch);
        if self.rx.available() < want {
            // A trickle: let a batch gather, then, if the link is idle, sleep in the kernel until
            // a frame comes (the frame that wakes it is read at once).
            std::thread::sleep(GATHER);
            if self.rx.available() == 0 {
                self.wait().map_err(|source| CaptureError::Live {
                    iface: self.iface.clone(),
                    op: "wait for frames",
                    source,
                })?;
                if self.rx.available() == 0 {
                    return Ok(Poll::Idle);
                }
            }
        }
        let mut delivered = 0;
        {
            let AfXdpSource { rx, area, free, frame_bytes, .. } = &mut *self;
            let mut batch = rx.receive(want);
            while let Some(desc) = batch.read() {
                if let Some(data) = frame(area, desc.addr, desc.len) {
                    // AF_XDP frames carry no time of their own.
                    sink(Frame { ts: Timestamp::now(), link: LinkType::ETHERNET, data, orig_len: desc.len });
                    delivered += 1;
                }
                // Aligned UMEM: the frame starts at the chunk boundary below the data.
                free.push(desc.addr - desc.addr % *frame_bytes);
            }
            batch.release();
        }
        self.received += delivered as u64;
        self.refill();
        Ok(if delivered == 0 { Poll::Idle } else { Poll::Delivered(delivered) })
    }

    fn take_anomalies(&mut self) -> Vec<crate::CaptureAnomaly> {
        Vec::new()
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.received, None)
    }

    fn kernel_stats(&mut self) -> Option<KernelStats> {
        let s = self.user.statistics_v2().ok()?;
        Some(KernelStats::Xsk {
            received: self.received,
            rx_dropped: s.rx_dropped,
            rx_ring_full: s.rx_ring_full,
            fill_ring_empty: s.rx_fill_ring_empty_descs,
            invalid_descs: s.rx_invalid_descs,
        })
    }
}
