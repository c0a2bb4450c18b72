//! [`AfPacketSource`]: live capture from an interface through an AF_PACKET socket with a
//! TPACKET_V3 receive ring: the fallback when XDP cannot attach, and the method any Linux
//! interface supports.
//!
//! The kernel fills blocks of a ring shared with this process (`mmap`); a block holds many frames
//! and is handed over when full or after [`AfPacketConfig::block_timeout`]. The source reads a
//! block's frames in place, hands them to the sink, and gives the block back. Sockets of one
//! [`AfPacketConfig::fanout_group`] share an interface's traffic by flow hash
//! (`PACKET_FANOUT_HASH`), one per worker. The socket puts the interface in promiscuous mode for
//! as long as it is open (a membership, dropped with the socket), ignores outgoing frames, and
//! never transmits: it has a receive ring only.
//!
//! This is the one place the sensor uses `unsafe`: the socket options, the shared ring and the
//! frame headers the kernel writes in it. Each block says why it holds; the rest of the sensor
//! sees a safe [`PacketSource`].

#![allow(unsafe_code)] // the kernel's ring; each block documents why it holds
#![deny(clippy::undocumented_unsafe_blocks)]

use crate::mapping::Mapping;
use crate::{CaptureError, Frame, KernelStats, PacketSource, Poll};
use sensor_wire::{LinkType, Timestamp};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Ring settings (`[capture.afpacket]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Bytes per block (a power of two, a multiple of the page size). Default 1 MiB.
    pub block_bytes: u32,
    /// Blocks in the ring. Default 64 (a 64 MiB ring).
    pub blocks: u32,
    /// The frame size the kernel accounts in (TPACKET_V3 packs frames, this only bounds the
    /// frame count). Default 2048.
    pub frame_bytes: u32,
    /// A block is handed over after this long even when not full. Default 10 ms.
    pub block_timeout: Duration,
    /// Sockets with the same group split the interface's traffic by flow; `None`: this socket
    /// sees all of it.
    pub fanout_group: Option<u16>,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        AfPacketConfig {
            block_bytes: 1 << 20,
            blocks: 64,
            frame_bytes: 2048,
            block_timeout: Duration::from_millis(10),
            fanout_group: None,
        }
    }
}

/// How long one `poll` waits for the kernel when the ring is empty.
const WAIT: Duration = Duration::from_millis(100);
/// ETH_P_ALL in network byte order, as `socket` and `bind` want it.
const ALL_PROTOCOLS: u16 = (libc::ETH_P_ALL as u16).to_be();
/// ARPHRD_ETHER and ARPHRD_NONE (tun devices: bare IP).
const ARPHRD_ETHER: u32 = 1;
const ARPHRD_NONE: u32 = 65534;

/// A live AF_PACKET capture of one interface.
pub struct AfPacketSource {
    iface: String,
    link: LinkType,
    // Field order: the ring is unmapped before the socket closes (frames are borrowed from it
    // only within `poll`).
    ring: Mapping,
    fd: OwnedFd,
    block_bytes: usize,
    blocks: usize,
    next: usize,
    /// `PACKET_STATISTICS`, accumulated: (received, dropped, freezes).
    stats: (u64, u64, u64),
    /// Blocks cut short because their layout did not make sense (never expected).
    bad_blocks: u64,
}

impl core::fmt::Debug for AfPacketSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AfPacketSource").field("iface", &self.iface).field("blocks", &self.blocks).finish()
    }
}

fn live_error(iface: &str, op: &'static str, source: io::Error) -> CaptureError {
    CaptureError::Live { iface: iface.to_owned(), op, source }
}

/// `setsockopt` with a plain value.
fn set_option<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // Safety: `value` is a live, initialised `T` and the length passed is its size; the kernel
    // only reads it.
    let r = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), size_of::<T>() as libc::socklen_t)
    };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// The interface's index and ARP hardware type, from sysfs and `if_nametoindex`.
fn interface(iface: &str) -> Result<(u32, u32), CaptureError> {
    let missing =
        || live_error(iface, "find the interface", io::Error::new(io::ErrorKind::NotFound, "no such interface"));
    if iface.is_empty() || iface.len() >= libc::IFNAMSIZ || iface.contains(['/', '\0']) {
        return Err(missing());
    }
    let hw = std::fs::read_to_string(format!("/sys/class/net/{iface}/type")).map_err(|_| missing())?;
    let hw: u32 = hw.trim().parse().map_err(|_| missing())?;
    Ok((crate::interface_index(iface)?, hw))
}

// Safety: the ring pointer refers to a mapping this source owns alone and touches only through
// `&mut self`; moving the source to a worker thread moves that sole ownership with it.
unsafe impl Send for AfPacketSource {}

impl AfPacketSource {
    /// Opens `iface` for capture. Needs root or CAP_NET_RAW.
    pub fn open(iface: &str, cfg: &AfPacketConfig) -> Result<AfPacketSource, CaptureError> {
        let (index, hw) = interface(iface)?;
        let link = match hw {
            ARPHRD_ETHER => LinkType::ETHERNET,
            ARPHRD_NONE => LinkType::RAW,
            other => {
                return Err(live_error(
                    iface,
                    "check the link type",
                    io::Error::new(io::ErrorKind::Unsupported, format!("ARP hardware type {other} is not supported")),
                ));
            }
        };
        let err = |op| move |e| live_error(iface, op, e);
        // Protocol 0: no frame is queued before the ring exists; `bind` starts the capture.
        // Safety: plain system call; the returned descriptor is owned below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(err("open an AF_PACKET socket (needs root or CAP_NET_RAW)")(io::Error::last_os_error()));
        }
        // Safety: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        set_option(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &(libc::tpacket_versions::TPACKET_V3 as libc::c_int))
            .map_err(err("select TPACKET_V3"))?;
        let ring_bytes = cfg.block_bytes as usize * cfg.blocks as usize;
        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_bytes,
            tp_block_nr: cfg.blocks,
            tp_frame_size: cfg.frame_bytes,
            tp_frame_nr: (ring_bytes / cfg.frame_bytes.max(1) as usize) as u32,
            tp_retire_blk_tov: cfg.block_timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_option(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(err("set up the receive ring"))?;
        let ring = Mapping::of_socket(fd.as_fd(), ring_bytes).map_err(err("map the receive ring"))?;
        set_option(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &(1 as libc::c_int))
            .map_err(err("ignore outgoing frames"))?;
        // Safety: `sockaddr_ll` is plain data for which all zeroes is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ALL_PROTOCOLS;
        addr.sll_ifindex = index as i32;
        // Safety: `addr` is a valid `sockaddr_ll` and the length is its size.
        let bound = unsafe {
            libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), size_of::<libc::sockaddr_ll>() as libc::socklen_t)
        };
        if bound != 0 {
            return Err(err("bind to the interface")(io::Error::last_os_error()));
        }
        let promisc = libc::packet_mreq {
            mr_ifindex: index as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        set_option(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &promisc)
            .map_err(err("enter promiscuous mode"))?;
        if let Some(group) = cfg.fanout_group {
            let arg: u32 = u32::from(group) | (libc::PACKET_FANOUT_HASH << 16);
            set_option(&fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg).map_err(err("join the fanout group"))?;
        }
        Ok(AfPacketSource {
            iface: iface.to_owned(),
            link,
            ring,
            fd,
            block_bytes: cfg.block_bytes as usize,
            blocks: cfg.blocks as usize,
            next: 0,
            stats: (0, 0, 0),
            bad_blocks: 0,
        })
    }

    /// The interface.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The block status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        let offset = i * self.block_bytes + core::mem::offset_of!(libc::tpacket_block_desc, hdr);
        // Safety: `i < blocks`, so the word lies inside the mapping, which lives as long as
        // `self`; `block_status` is the first field of `hdr`, 8-byte aligned in a page-aligned
        // block; the kernel accesses it atomically too.
        unsafe { AtomicU32::from_ptr(self.ring.base().as_ptr().add(offset).cast()) }
    }

    /// Waits up to [`WAIT`] for the socket to be readable (a block handed over).
    fn wait(&self) -> io::Result<()> {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN | libc::POLLERR, revents: 0 };
        // Safety: one live `pollfd`.
        let r = unsafe { libc::poll(&raw mut pfd, 1, WAIT.as_millis() as libc::c_int) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Hands the frames of block `i` (owned by user space) to `sink`; returns how many.
    fn read_block(&mut self, i: usize, sink: &mut dyn FnMut(Frame<'_>)) -> usize {
        // Safety: block `i` lies inside the mapping and belongs to user space until its status
        // is set back to TP_STATUS_KERNEL (after this function), so the kernel does not write
        // it meanwhile; the slice does not outlive this call.
        let block: &[u8] = unsafe {
            core::slice::from_raw_parts(self.ring.base().as_ptr().add(i * self.block_bytes), self.block_bytes)
        };
        let field = |at: usize| block.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        // tpacket_block_desc: version, offset_to_priv, then hdr (tpacket_hdr_v1): block_status,
        // num_pkts, offset_to_first_pkt.
        let hdr = core::mem::offset_of!(libc::tpacket_block_desc, hdr);
        let (Some(count), Some(first)) = (field(hdr + 4), field(hdr + 8)) else { return 0 };
        let mut at = first as usize;
        let mut delivered = 0;
        for _ in 0..count {
            // tpacket3_hdr: next offset, sec, nsec, snaplen, len, status, mac (u16), net (u16).
            let (Some(next), Some(sec), Some(nsec), Some(snaplen), Some(len)) =
                (field(at), field(at + 4), field(at + 8), field(at + 12), field(at + 16))
            else {
                self.bad_blocks += 1;
                break;
            };
            let mac = block.get(at + 24..at + 26).map_or(0, |b| usize::from(u16::from_ne_bytes([b[0], b[1]])));
            let Some(data) = block.get(at + mac..at + mac + snaplen as usize) else {
                self.bad_blocks += 1;
                break;
            };
            sink(Frame { ts: Timestamp::from_parts(u64::from(sec), nsec), link: self.link, data, orig_len: len });
            delivered += 1;
            if next == 0 {
                break;
            }
            at += next as usize;
        }
        delivered
    }
}

impl PacketSource for AfPacketSource {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(Frame<'_>)) -> Result<Poll, CaptureError> {
        let mut delivered = 0;
        let mut waited = false;
        while delivered < budget {
            let i = self.next;
            if self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                if delivered > 0 || waited {
                    break;
                }
                self.wait().map_err(|e| live_error(&self.iface, "wait for frames", e))?;
                waited = true;
                continue;
            }
            delivered += self.read_block(i, sink);
            // The frames were used in place: the block goes back to the kernel.
            self.status(i).store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.next = (i + 1) % self.blocks;
        }
        Ok(if delivered > 0 { Poll::Delivered(delivered) } else { Poll::Idle })
    }

    fn take_anomalies(&mut self) -> Vec<crate::CaptureAnomaly> {
        Vec::new()
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (0, None)
    }

    /// The socket's `PACKET_STATISTICS`, accumulated (the kernel resets them at each read).
    fn kernel_stats(&mut self) -> Option<KernelStats> {
        let mut v3 = libc::tpacket_stats_v3 { tp_packets: 0, tp_drops: 0, tp_freeze_q_cnt: 0 };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // Safety: `v3` and `len` are live and sized for the option; the kernel writes at most
        // `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut v3).cast(),
                &raw mut len,
            )
        };
        if r == 0 {
            self.stats.0 += u64::from(v3.tp_packets);
            self.stats.1 += u64::from(v3.tp_drops);
            self.stats.2 += u64::from(v3.tp_freeze_q_cnt);
        }
        let (received, dropped, freezes) = self.stats;
        Some(KernelStats::Packet { received, dropped, freezes })
    }
}
