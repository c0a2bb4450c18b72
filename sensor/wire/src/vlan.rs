//! 802.1Q / 802.1ad VLAN tag: the four bytes that follow a tag protocol identifier
//! (0x8100, 0x88A8, 0x9100, 0x9200) in an Ethernet header.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | PCP |D|        VLAN id        |     EtherType (inner)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::error::{Result, need};
use crate::ethertype::EtherType;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const TCI: Field = 0..2;
    pub const ETHERTYPE: Field = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of a VLAN tag after its TPID.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read/write view of a VLAN tag followed by its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer, checking that no accessor will panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the whole tag.
    pub fn check_len(&self) -> Result<()> {
        need("802.1Q tag", self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn tci(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::TCI];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Priority code point (802.1p class), 0..=7.
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator (formerly CFI).
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier, 0..=4095 (0: priority tag only).
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        self.tci() & 0x0FFF
    }

    /// EtherType (or 802.3 length) of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let d = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([d[0], d[1]]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// What follows the tag.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_tci(&mut self, value: u16) {
        self.buffer.as_mut()[field::TCI].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the priority code point (only the low 3 bits are used).
    pub fn set_pcp(&mut self, value: u8) {
        let tci = (self.tci() & 0x1FFF) | (u16::from(value & 0x07) << 13);
        self.set_tci(tci);
    }

    /// Sets the drop eligible indicator.
    pub fn set_dei(&mut self, value: bool) {
        let tci = (self.tci() & !0x1000) | if value { 0x1000 } else { 0 };
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier (only the low 12 bits are used).
    pub fn set_vlan_id(&mut self, value: u16) {
        let tci = (self.tci() & 0xF000) | (value & 0x0FFF);
        self.set_tci(tci);
    }

    /// Sets the inner EtherType.
    pub fn set_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(value).to_be_bytes());
    }

    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// A parsed VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier, 0..=4095.
    pub vlan_id: u16,
    /// EtherType of the payload.
    pub ethertype: EtherType,
}

impl Repr {
    /// Parses a tag. Every value of the fields is valid (VLAN 0 is a priority tag, 4095 is
    /// reserved but seen), so this fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr { pcp: packet.pcp(), dei: packet.dei(), vlan_id: packet.vlan_id(), ethertype: packet.ethertype() })
    }

    /// Length of the emitted tag.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the tag into `packet` (whose buffer must hold [`HEADER_LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_tci(0);
        packet.set_pcp(self.pcp);
        packet.set_dei(self.dei);
        packet.set_vlan_id(self.vlan_id);
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // decode/zeek-http-vlan-0.pcap, frame 0, bytes 14..18 (after TPID 0x8100):
    //   b0 00 08 00   PCP 5, DEI 1, VLAN 0 (priority tag), EtherType IPv4
    static PRIORITY_TAG: [u8; 4] = [0xb0, 0x00, 0x08, 0x00];

    // decode/zeek-vlan-qinqinq.pcap, frame 0, bytes 14..26: three stacked tags.
    //   00 1e 81 00 | 00 14 81 00 | 00 0a 08 00   VLAN 30, 20, 10, then IPv4
    static THREE_TAGS: [u8; 12] = [0x00, 0x1e, 0x81, 0x00, 0x00, 0x14, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00];

    #[test]
    fn priority_tag_fields() {
        let p = Packet::new_checked(&PRIORITY_TAG[..]).unwrap();
        assert_eq!(p.pcp(), 5);
        assert!(p.dei());
        assert_eq!(p.vlan_id(), 0);
        assert_eq!(p.ethertype(), EtherType::Ipv4);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn stacked_tags_walk() {
        let mut rest = &THREE_TAGS[..];
        let mut ids = Vec::new();
        loop {
            let p = Packet::new_checked(rest).unwrap();
            ids.push(p.vlan_id());
            rest = p.payload();
            if !p.ethertype().is_vlan_tpid() {
                assert_eq!(p.ethertype(), EtherType::Ipv4);
                break;
            }
        }
        assert_eq!(ids, [30, 20, 10]);
    }

    #[test]
    fn short_buffer_is_rejected() {
        assert!(Packet::new_checked(&PRIORITY_TAG[..3]).is_err());
    }

    #[test]
    fn repr_round_trip() {
        let repr = Repr::parse(&Packet::new_checked(&PRIORITY_TAG[..]).unwrap()).unwrap();
        assert_eq!(repr, Repr { pcp: 5, dei: true, vlan_id: 0, ethertype: EtherType::Ipv4 });
        let mut buf = [0xffu8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, PRIORITY_TAG);

        let other = Repr { pcp: 7, dei: true, vlan_id: 4095, ethertype: EtherType::Unknown(0x1234) };
        let mut buf = [0u8; HEADER_LEN];
        other.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, [0xff, 0xff, 0x12, 0x34]);
        assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), other);
    }
}
