//! Route netlink, for the one thing aya does not do: see which XDP program an interface holds
//! and take away a stale one.
//!
//! aya attaches through a `bpf_link`, which the kernel detaches by itself when the process
//! holding it dies, even by SIGKILL. A program attached the older way (netlink, as `ip link set
//! xdp` or `bpftool net attach` do, and as aya falls back to on kernels before 5.9) stays after
//! its process is gone, and makes the next `bpf_link` attach fail with `EBUSY`. [`attached`]
//! finds such a program; [`detach`] removes it (the kernel refuses, with `EBUSY`, to remove a
//! program held by a live `bpf_link`: a running sensor cannot be pushed off its interface).

use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;

/// Mode flags of `IFLA_XDP_FLAGS` (linux/if_link.h).
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// Receive buffer for one reply (a link message with all its attributes is a few KiB).
const REPLY_BYTES: usize = 64 * 1024;

/// An XDP program attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// The program's kernel id.
    pub prog_id: u32,
    /// Attached in generic (skb) mode rather than by the driver.
    pub generic: bool,
}

/// The XDP program attached to interface `ifindex`, if any (one of several modes: the first).
pub fn attached(ifindex: u32) -> io::Result<Option<Attached>> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    let reply = request(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)?;
    let Some(RouteNetlinkMessage::NewLink(link)) = reply else {
        return Err(io::Error::other("no link message in the netlink reply"));
    };
    let xdp = link.attributes.into_iter().find_map(|a| match a {
        LinkAttribute::Xdp(xdp) => Some(xdp),
        _ => None,
    });
    let (mut mode, mut prog_id) = (None, None);
    for nla in xdp.unwrap_or_default() {
        match nla {
            LinkXdp::Attached(m) => mode = Some(m),
            LinkXdp::ProgId(id) | LinkXdp::DrvProgId(id) | LinkXdp::SkbProgId(id) => {
                prog_id.get_or_insert(id);
            }
            _ => {}
        }
    }
    Ok(match (mode, prog_id) {
        (Some(XdpAttached::None) | None, _) | (_, None) => None,
        (Some(mode), Some(prog_id)) => Some(Attached { prog_id, generic: mode == XdpAttached::SocketBuffer }),
    })
}

/// Removes the program attached the netlink way to `ifindex` in the given mode.
pub fn detach(ifindex: u32, generic: bool) -> io::Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    let flags = if generic { XDP_FLAGS_SKB_MODE } else { XDP_FLAGS_DRV_MODE };
    msg.attributes.push(LinkAttribute::Xdp(vec![LinkXdp::Fd(-1), LinkXdp::Flags(flags)]));
    request(RouteNetlinkMessage::SetLink(msg), NLM_F_REQUEST | NLM_F_ACK).map(|_| ())
}

/// Sends one request and reads its reply: the message, `None` for a bare acknowledgement, or
/// the kernel's error.
fn request(msg: RouteNetlinkMessage, flags: u16) -> io::Result<Option<RouteNetlinkMessage>> {
    let socket = Socket::new(NETLINK_ROUTE)?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let mut reply = Vec::with_capacity(REPLY_BYTES);
    socket.recv(&mut reply, 0)?;
    let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply).map_err(io::Error::other)?;
    match parsed.payload {
        NetlinkPayload::InnerMessage(inner) => Ok(Some(inner)),
        NetlinkPayload::Error(e) => match e.code {
            None => Ok(None),
            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
        },
        _ => Ok(None),
    }
}
