//! MPLS label stack entries (RFC 3032), EtherType 0x8847/0x8848, and what follows the stack.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Label                  | TC  |S|      TTL      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! MPLS does not say what it carries. After the entry with S (bottom of stack) set, the first
//! nibble is the customary guess (RFC 4928): 4 is IPv4, 6 is IPv6, 0 is the control word of an
//! Ethernet pseudowire (RFC 4385, 4448), after which comes an Ethernet frame without preamble.
//! Zeek assumes IP; this decoder also follows the control word.

use crate::error::{Result, need};

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const ENTRY: Field = 0..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of one label stack entry.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Length of a pseudowire control word (RFC 4385).
pub const CONTROL_WORD_LEN: usize = 4;

/// A read/write view of one label stack entry followed by the rest of the packet.
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

    /// Checks that the buffer holds the whole entry.
    pub fn check_len(&self) -> Result<()> {
        need("MPLS label stack entry", self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn entry(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::ENTRY];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// The 20-bit label.
    #[inline]
    pub fn label(&self) -> u32 {
        self.entry() >> 12
    }

    /// Traffic class (formerly EXP), 0..=7.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((self.entry() >> 9) & 0x7) as u8
    }

    /// Whether this is the last entry of the stack (S bit).
    #[inline]
    pub fn bottom_of_stack(&self) -> bool {
        self.entry() & 0x100 != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.entry() as u8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// What follows this entry: the next entry, or the payload after the bottom of stack.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_entry(&mut self, value: u32) {
        self.buffer.as_mut()[field::ENTRY].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the label (only the low 20 bits are used).
    pub fn set_label(&mut self, value: u32) {
        let e = (self.entry() & 0x0000_0FFF) | ((value & 0xF_FFFF) << 12);
        self.set_entry(e);
    }

    /// Sets the traffic class (only the low 3 bits are used).
    pub fn set_traffic_class(&mut self, value: u8) {
        let e = (self.entry() & !0x0000_0E00) | (u32::from(value & 0x7) << 9);
        self.set_entry(e);
    }

    /// Sets the bottom-of-stack bit.
    pub fn set_bottom_of_stack(&mut self, value: bool) {
        let e = (self.entry() & !0x0000_0100) | if value { 0x100 } else { 0 };
        self.set_entry(e);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        let e = (self.entry() & !0xFF) | u32::from(value);
        self.set_entry(e);
    }
}

/// A parsed label stack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The 20-bit label.
    pub label: u32,
    /// Traffic class, 0..=7.
    pub traffic_class: u8,
    /// Bottom of stack.
    pub bottom_of_stack: bool,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Parses an entry; fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            label: packet.label(),
            traffic_class: packet.traffic_class(),
            bottom_of_stack: packet.bottom_of_stack(),
            ttl: packet.ttl(),
        })
    }

    /// Length of the emitted entry.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the entry into `packet` (whose buffer must hold [`HEADER_LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_entry(0);
        packet.set_label(self.label);
        packet.set_traffic_class(self.traffic_class);
        packet.set_bottom_of_stack(self.bottom_of_stack);
        packet.set_ttl(self.ttl);
    }
}

/// What the bytes after the bottom of the label stack most likely are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// First nibble 4.
    Ipv4,
    /// First nibble 6.
    Ipv6,
    /// First nibble 0: a pseudowire control word, then an Ethernet frame.
    EthernetPseudowire,
    /// Anything else (e.g. 1: a pseudowire associated channel, RFC 4385), with the nibble.
    Unknown(u8),
    /// Nothing follows the stack.
    Empty,
}

/// Guesses what follows the bottom of the label stack from its first nibble.
#[inline]
pub fn guess_payload(payload: &[u8]) -> Payload {
    match payload.first().map(|b| b >> 4) {
        None => Payload::Empty,
        Some(4) => Payload::Ipv4,
        Some(6) => Payload::Ipv6,
        Some(0) => Payload::EthernetPseudowire,
        Some(n) => Payload::Unknown(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // decode/zeek-mixed-vlan-mpls.pcap, frame 0, bytes 14..19 (after EtherType 0x8847):
    //   00 01 dd ff | 45 ...   label 29, TC 6, S=1, TTL 255, then IPv4
    static ENTRY: [u8; 5] = [0x00, 0x01, 0xdd, 0xff, 0x45];

    #[test]
    fn entry_fields() {
        let p = Packet::new_checked(&ENTRY[..]).unwrap();
        assert_eq!(p.label(), 29);
        assert_eq!(p.traffic_class(), 6);
        assert!(p.bottom_of_stack());
        assert_eq!(p.ttl(), 255);
        assert_eq!(guess_payload(p.payload()), Payload::Ipv4);
    }

    #[test]
    fn short_buffer_is_rejected() {
        assert!(Packet::new_checked(&ENTRY[..3]).is_err());
    }

    #[test]
    fn payload_guess() {
        assert_eq!(guess_payload(&[]), Payload::Empty);
        assert_eq!(guess_payload(&[0x60]), Payload::Ipv6);
        assert_eq!(guess_payload(&[0x00, 0x00]), Payload::EthernetPseudowire);
        assert_eq!(guess_payload(&[0x10]), Payload::Unknown(1));
    }

    #[test]
    fn repr_round_trip() {
        let repr = Repr::parse(&Packet::new_checked(&ENTRY[..]).unwrap()).unwrap();
        assert_eq!(repr, Repr { label: 29, traffic_class: 6, bottom_of_stack: true, ttl: 255 });
        let mut buf = [0xaau8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ENTRY[..4]);

        let other = Repr { label: 0xF_FFFF, traffic_class: 0, bottom_of_stack: false, ttl: 1 };
        let mut buf = [0u8; HEADER_LEN];
        other.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, [0xff, 0xff, 0xf0, 0x01]);
        assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), other);
    }
}
