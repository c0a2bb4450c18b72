//! Linux "cooked" capture headers: `LINKTYPE_LINUX_SLL` (113, 16 bytes) and
//! `LINKTYPE_LINUX_SLL2` (276, 20 bytes), as written by libpcap on the `any` device.
//!
//! ```text
//! SLL (v1)                              SLL2
//!  0..2   packet type                    0..2   protocol
//!  2..4   ARPHRD_ type                   2..4   reserved (MBZ)
//!  4..6   link-layer address length      4..8   interface index
//!  6..14  link-layer address (padded)    8..10  ARPHRD_ type
//! 14..16  protocol                      10      packet type
//!                                       11      link-layer address length
//!                                       12..20  link-layer address (padded)
//! ```
//!
//! The protocol field is an EtherType, except for a few small values that name a non-Ethernet
//! payload: 0x0001 (Novell 802.3), 0x0004 (802.2 LLC), 0x000C (CAN), … (see
//! <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>). The decoder treats every value
//! below 0x0600 as "not IP".

use crate::error::{Result, need};
use crate::ethertype::EtherType;
use crate::macros::enum_with_unknown;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub mod v1 {
        use super::Field;
        pub const PACKET_TYPE: Field = 0..2;
        pub const ARPHRD: Field = 2..4;
        pub const ADDR_LEN: Field = 4..6;
        pub const ADDR: Field = 6..14;
        pub const PROTOCOL: Field = 14..16;
        pub const PAYLOAD: usize = 16;
    }
    pub mod v2 {
        use super::Field;
        pub const PROTOCOL: Field = 0..2;
        pub const RESERVED: Field = 2..4;
        pub const IF_INDEX: Field = 4..8;
        pub const ARPHRD: Field = 8..10;
        pub const PACKET_TYPE: usize = 10;
        pub const ADDR_LEN: usize = 11;
        pub const ADDR: Field = 12..20;
        pub const PAYLOAD: usize = 20;
    }
}

/// Length of a Linux cooked v1 header.
pub const SLL_HEADER_LEN: usize = field::v1::PAYLOAD;
/// Length of a Linux cooked v2 header.
pub const SLL2_HEADER_LEN: usize = field::v2::PAYLOAD;

enum_with_unknown! {
    /// Direction of the packet relative to the capturing host (`PACKET_*` in `<linux/if_packet.h>`).
    pub enum PacketType(u16) {
        /// Sent to this host.
        Host = 0,
        /// Broadcast by another host.
        Broadcast = 1,
        /// Multicast by another host.
        Multicast = 2,
        /// Sent by another host to another host (promiscuous capture).
        OtherHost = 3,
        /// Sent by this host.
        Outgoing = 4,
    }
}

#[inline]
fn be16(d: &[u8], f: core::ops::Range<usize>) -> u16 {
    let d = &d[f];
    u16::from_be_bytes([d[0], d[1]])
}

/// A read/write view of a Linux cooked v1 header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SllPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SllPacket<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        SllPacket { buffer }
    }

    /// Wraps a buffer, checking that no accessor will panic.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the whole header.
    pub fn check_len(&self) -> Result<()> {
        need("Linux cooked (SLL) header", self.buffer.as_ref().len(), SLL_HEADER_LEN)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Packet type (direction).
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(be16(self.buffer.as_ref(), field::v1::PACKET_TYPE))
    }

    /// `ARPHRD_*` type of the capturing interface (1: Ethernet, 772: loopback, …).
    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::v1::ARPHRD)
    }

    /// Length of the link-layer address (may exceed 8; only 8 bytes are stored).
    pub fn addr_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::v1::ADDR_LEN)
    }

    /// The 8 link-layer address bytes as stored (zero-padded).
    pub fn addr(&self) -> [u8; 8] {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buffer.as_ref()[field::v1::ADDR]);
        a
    }

    /// Protocol: an EtherType, or a small value naming a non-Ethernet payload.
    #[inline]
    pub fn protocol(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::v1::PROTOCOL))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> SllPacket<&'a T> {
    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::v1::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SllPacket<T> {
    fn set16(&mut self, f: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[f].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the packet type.
    pub fn set_packet_type(&mut self, v: PacketType) {
        self.set16(field::v1::PACKET_TYPE, v.into());
    }
    /// Sets the `ARPHRD_*` type.
    pub fn set_arphrd_type(&mut self, v: u16) {
        self.set16(field::v1::ARPHRD, v);
    }
    /// Sets the address length field.
    pub fn set_addr_len(&mut self, v: u16) {
        self.set16(field::v1::ADDR_LEN, v);
    }
    /// Sets the 8 stored address bytes.
    pub fn set_addr(&mut self, v: [u8; 8]) {
        self.buffer.as_mut()[field::v1::ADDR].copy_from_slice(&v);
    }
    /// Sets the protocol.
    pub fn set_protocol(&mut self, v: EtherType) {
        self.set16(field::v1::PROTOCOL, v.into());
    }
}

/// A parsed Linux cooked v1 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SllRepr {
    /// Packet type.
    pub packet_type: PacketType,
    /// `ARPHRD_*` type.
    pub arphrd_type: u16,
    /// Address length field.
    pub addr_len: u16,
    /// Stored address bytes.
    pub addr: [u8; 8],
    /// Protocol.
    pub protocol: EtherType,
}

impl SllRepr {
    /// Parses a header; fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &SllPacket<&T>) -> Result<SllRepr> {
        p.check_len()?;
        Ok(SllRepr {
            packet_type: p.packet_type(),
            arphrd_type: p.arphrd_type(),
            addr_len: p.addr_len(),
            addr: p.addr(),
            protocol: p.protocol(),
        })
    }

    /// Length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        SLL_HEADER_LEN
    }

    /// Writes the header into `p` (whose buffer must hold [`SLL_HEADER_LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut SllPacket<T>) {
        p.set_packet_type(self.packet_type);
        p.set_arphrd_type(self.arphrd_type);
        p.set_addr_len(self.addr_len);
        p.set_addr(self.addr);
        p.set_protocol(self.protocol);
    }
}

/// A read/write view of a Linux cooked v2 header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sll2Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Sll2Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Sll2Packet { buffer }
    }

    /// Wraps a buffer, checking that no accessor will panic.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the whole header.
    pub fn check_len(&self) -> Result<()> {
        need("Linux cooked v2 (SLL2) header", self.buffer.as_ref().len(), SLL2_HEADER_LEN)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Protocol: an EtherType, or a small value naming a non-Ethernet payload.
    #[inline]
    pub fn protocol(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::v2::PROTOCOL))
    }

    /// The reserved field (zero when well formed).
    pub fn reserved(&self) -> u16 {
        be16(self.buffer.as_ref(), field::v2::RESERVED)
    }

    /// Index of the capturing interface.
    pub fn if_index(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::v2::IF_INDEX];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// `ARPHRD_*` type of the capturing interface.
    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::v2::ARPHRD)
    }

    /// Packet type (direction).
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(u16::from(self.buffer.as_ref()[field::v2::PACKET_TYPE]))
    }

    /// Length of the link-layer address.
    pub fn addr_len(&self) -> u8 {
        self.buffer.as_ref()[field::v2::ADDR_LEN]
    }

    /// The 8 link-layer address bytes as stored (zero-padded).
    pub fn addr(&self) -> [u8; 8] {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buffer.as_ref()[field::v2::ADDR]);
        a
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Sll2Packet<&'a T> {
    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::v2::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Sll2Packet<T> {
    /// Sets the protocol.
    pub fn set_protocol(&mut self, v: EtherType) {
        self.buffer.as_mut()[field::v2::PROTOCOL].copy_from_slice(&u16::from(v).to_be_bytes());
    }
    /// Sets the reserved field.
    pub fn set_reserved(&mut self, v: u16) {
        self.buffer.as_mut()[field::v2::RESERVED].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the interface index.
    pub fn set_if_index(&mut self, v: u32) {
        self.buffer.as_mut()[field::v2::IF_INDEX].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the `ARPHRD_*` type.
    pub fn set_arphrd_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::v2::ARPHRD].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the packet type (only the low byte is stored).
    pub fn set_packet_type(&mut self, v: PacketType) {
        self.buffer.as_mut()[field::v2::PACKET_TYPE] = u16::from(v) as u8;
    }
    /// Sets the address length.
    pub fn set_addr_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::v2::ADDR_LEN] = v;
    }
    /// Sets the 8 stored address bytes.
    pub fn set_addr(&mut self, v: [u8; 8]) {
        self.buffer.as_mut()[field::v2::ADDR].copy_from_slice(&v);
    }
}

/// A parsed Linux cooked v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sll2Repr {
    /// Protocol.
    pub protocol: EtherType,
    /// Interface index.
    pub if_index: u32,
    /// `ARPHRD_*` type.
    pub arphrd_type: u16,
    /// Packet type (one byte on the wire).
    pub packet_type: PacketType,
    /// Address length.
    pub addr_len: u8,
    /// Stored address bytes.
    pub addr: [u8; 8],
}

impl Sll2Repr {
    /// Parses a header; fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Sll2Packet<&T>) -> Result<Sll2Repr> {
        p.check_len()?;
        Ok(Sll2Repr {
            protocol: p.protocol(),
            if_index: p.if_index(),
            arphrd_type: p.arphrd_type(),
            packet_type: p.packet_type(),
            addr_len: p.addr_len(),
            addr: p.addr(),
        })
    }

    /// Length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        SLL2_HEADER_LEN
    }

    /// Writes the header into `p` (whose buffer must hold [`SLL2_HEADER_LEN`] bytes); the
    /// reserved field is written as zero.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Sll2Packet<T>) {
        p.set_protocol(self.protocol);
        p.set_reserved(0);
        p.set_if_index(self.if_index);
        p.set_arphrd_type(self.arphrd_type);
        p.set_packet_type(self.packet_type);
        p.set_addr_len(self.addr_len);
        p.set_addr(self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ot-ics/icsnpp-s7comm-plus.pcap (LINKTYPE_LINUX_SLL), frame 0, bytes 0..17:
    //   00 03 00 01 00 06 ac 64 17 46 0d 51 00 00 08 00 | 45
    //   other host, ARPHRD_ETHER, 6-byte address ac:64:17:46:0d:51, IPv4
    static SLL: [u8; 17] =
        [0x00, 0x03, 0x00, 0x01, 0x00, 0x06, 0xac, 0x64, 0x17, 0x46, 0x0d, 0x51, 0x00, 0x00, 0x08, 0x00, 0x45];

    // decode/zeek-linux-sll2.pcap (LINKTYPE_LINUX_SLL2), frame 0, bytes 0..21:
    //   08 00 00 00 00 00 00 01 03 04 00 06 00 00 00 00 00 00 00 00 | 45
    //   IPv4, interface 1, ARPHRD_LOOPBACK (772), to us, 6-byte zero address
    static SLL2: [u8; 21] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x45,
    ];

    #[test]
    fn sll_fields() {
        let p = SllPacket::new_checked(&SLL[..]).unwrap();
        assert_eq!(p.packet_type(), PacketType::OtherHost);
        assert_eq!(p.arphrd_type(), 1);
        assert_eq!(p.addr_len(), 6);
        assert_eq!(p.addr(), [0xac, 0x64, 0x17, 0x46, 0x0d, 0x51, 0, 0]);
        assert_eq!(p.protocol(), EtherType::Ipv4);
        assert_eq!(p.payload(), &[0x45]);
        assert!(SllPacket::new_checked(&SLL[..15]).is_err());
    }

    #[test]
    fn sll2_fields() {
        let p = Sll2Packet::new_checked(&SLL2[..]).unwrap();
        assert_eq!(p.protocol(), EtherType::Ipv4);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.if_index(), 1);
        assert_eq!(p.arphrd_type(), 772);
        assert_eq!(p.packet_type(), PacketType::Host);
        assert_eq!(p.addr_len(), 6);
        assert_eq!(p.payload(), &[0x45]);
        assert!(Sll2Packet::new_checked(&SLL2[..19]).is_err());
    }

    #[test]
    fn sll_round_trip() {
        let repr = SllRepr::parse(&SllPacket::new_checked(&SLL[..]).unwrap()).unwrap();
        let mut buf = [0u8; SLL_HEADER_LEN];
        repr.emit(&mut SllPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf, SLL[..SLL_HEADER_LEN]);
    }

    #[test]
    fn sll2_round_trip() {
        let repr = Sll2Repr::parse(&Sll2Packet::new_checked(&SLL2[..]).unwrap()).unwrap();
        let mut buf = [0xffu8; SLL2_HEADER_LEN];
        repr.emit(&mut Sll2Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, SLL2[..SLL2_HEADER_LEN]);
    }
}
