//! IPv6 extension headers (RFC 8200 §4, RFC 4302): hop-by-hop options (0), routing (43),
//! fragment (44), authentication (51) and destination options (60), read generically.
//!
//! smoltcp has views for some of these, but reads every header's length as 8-octet units; the
//! fragment header has no length field (its second byte is reserved, and attackers set it) and AH
//! counts 4-octet units. This view takes the header's kind, which comes from the previous
//! header's next-header field, and measures each kind correctly:
//!
//! ```text
//! kind              length
//! hop-by-hop, dst   (byte 1 + 1) * 8
//! routing           (byte 1 + 1) * 8     byte 2: routing type, byte 3: segments left
//! fragment          8                    bytes 2..4: offset (13 bits, 8-octet units) | M
//!                                        bytes 4..8: identification
//! AH                (byte 1 + 2) * 4
//! ```
//!
//! ESP (50) and No Next Header (59) end the chain and are not extension headers here.

use core::net::Ipv6Addr;

use smoltcp::wire::IpProtocol;

use crate::error::{Result, WireError, need};

mod field {
    pub const NEXT_HEADER: usize = 0;
    pub const LENGTH: usize = 1;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const FRAG_OFFSET_M: core::ops::Range<usize> = 2..4;
    pub const FRAG_IDENT: core::ops::Range<usize> = 4..8;
    pub const DATA: usize = 2;
}

/// The smallest extension header (every kind is at least 8 bytes long).
pub const MIN_HEADER_LEN: usize = 8;
/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// Whether `p` is an extension header this module measures.
#[inline]
pub fn is_ext_header(p: IpProtocol) -> bool {
    matches!(
        p,
        IpProtocol::HopByHop
            | IpProtocol::Ipv6Route
            | IpProtocol::Ipv6Frag
            | IpProtocol::IpSecAh
            | IpProtocol::Ipv6Opts
    )
}

/// A read/write view of one extension header (of a known kind) followed by the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
    kind: IpProtocol,
}

impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Wraps a buffer holding a header of `kind` without checking anything.
    pub const fn new_unchecked(buffer: T, kind: IpProtocol) -> Self {
        ExtHeader { buffer, kind }
    }

    /// Wraps a buffer, checking that `kind` is an extension header and that no accessor will
    /// panic.
    pub fn new_checked(buffer: T, kind: IpProtocol) -> Result<Self> {
        let h = Self::new_unchecked(buffer, kind);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the kind and that the buffer holds the whole header.
    pub fn check_len(&self) -> Result<()> {
        if !is_ext_header(self.kind) {
            return Err(WireError::Malformed { what: "IPv6 extension header", field: "kind" });
        }
        let len = self.buffer.as_ref().len();
        need("IPv6 extension header", len, MIN_HEADER_LEN)?;
        need("IPv6 extension header", len, self.header_len())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The kind of this header (the previous header's next-header value).
    pub fn kind(&self) -> IpProtocol {
        self.kind
    }

    /// The next-header field.
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Length of this header in bytes, by kind. Needs 2 bytes in the buffer.
    #[inline]
    pub fn header_len(&self) -> usize {
        let len_field = usize::from(self.buffer.as_ref()[field::LENGTH]);
        match self.kind {
            IpProtocol::Ipv6Frag => FRAGMENT_HEADER_LEN,
            IpProtocol::IpSecAh => (len_field + 2) * 4,
            _ => (len_field + 1) * 8,
        }
    }

    /// The raw length field (byte 1; reserved in a fragment header).
    pub fn length_field(&self) -> u8 {
        self.buffer.as_ref()[field::LENGTH]
    }

    /// Routing header: the routing type.
    #[inline]
    pub fn routing_type(&self) -> u8 {
        self.buffer.as_ref()[field::ROUTING_TYPE]
    }

    /// Routing header: segments left.
    #[inline]
    pub fn segments_left(&self) -> u8 {
        self.buffer.as_ref()[field::SEGMENTS_LEFT]
    }

    /// Routing header: the last 16 bytes of the header as an address — the final destination
    /// for routing types 0 and 2 — or `None` when the header is shorter than 24 bytes.
    pub fn routing_last_address(&self) -> Option<Ipv6Addr> {
        let len = self.header_len();
        let d = self.buffer.as_ref().get(len.checked_sub(16)?..len)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(d);
        (len >= 24).then(|| Ipv6Addr::from(a))
    }

    /// Fragment header: the fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::FRAG_OFFSET_M];
        u16::from_be_bytes([d[0], d[1]]) & 0xFFF8
    }

    /// Fragment header: more fragments follow.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[field::FRAG_OFFSET_M.end - 1] & 0x01 != 0
    }

    /// Fragment header: the identification.
    #[inline]
    pub fn frag_ident(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::FRAG_IDENT];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtHeader<&'a T> {
    /// The header's bytes after the next-header and length fields.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA..self.header_len()]
    }

    /// What follows this header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ExtHeader<T> {
    /// Sets the next-header field.
    pub fn set_next_header(&mut self, value: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value.into();
    }

    /// Sets the raw length field.
    pub fn set_length_field(&mut self, value: u8) {
        self.buffer.as_mut()[field::LENGTH] = value;
    }

    /// Fragment header: sets offset (bytes; the low 3 bits are dropped), M flag and
    /// identification, and clears the reserved bits.
    pub fn set_fragment(&mut self, offset: u16, more: bool, ident: u32) {
        let om = (offset & 0xFFF8) | u16::from(more);
        let b = self.buffer.as_mut();
        b[field::FRAG_OFFSET_M].copy_from_slice(&om.to_be_bytes());
        b[field::FRAG_IDENT].copy_from_slice(&ident.to_be_bytes());
    }
}

/// A parsed extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Hop-by-hop, routing, destination options or AH: kept as raw data.
    Generic {
        /// Which header this is.
        kind: IpProtocol,
        /// Its next-header field.
        next_header: IpProtocol,
        /// The bytes after the next-header and length fields.
        data: &'a [u8],
    },
    /// A fragment header.
    Fragment {
        /// Its next-header field.
        next_header: IpProtocol,
        /// Offset in bytes (a multiple of 8).
        offset: u16,
        /// More fragments follow.
        more: bool,
        /// Identification.
        ident: u32,
    },
}

impl<'a> Repr<'a> {
    /// Parses a header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &ExtHeader<&'a T>) -> Result<Repr<'a>> {
        h.check_len()?;
        Ok(match h.kind() {
            IpProtocol::Ipv6Frag => Repr::Fragment {
                next_header: h.next_header(),
                offset: h.frag_offset(),
                more: h.more_frags(),
                ident: h.frag_ident(),
            },
            kind => Repr::Generic { kind, next_header: h.next_header(), data: h.data() },
        })
    }

    /// Length of the emitted header.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Generic { data, .. } => data.len() + 2,
            Repr::Fragment { .. } => FRAGMENT_HEADER_LEN,
        }
    }

    /// Writes the header into `h` (whose buffer must hold [`Repr::buffer_len`] bytes). For a
    /// generic header, `data.len() + 2` must be a multiple of 8 (of 4 for AH) and at least 8, as
    /// [`Repr::parse`] guarantees; otherwise the length field is rounded down.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut ExtHeader<T>) {
        match *self {
            Repr::Generic { kind, next_header, data } => {
                let total = data.len() + 2;
                let len_field = if kind == IpProtocol::IpSecAh {
                    (total / 4).saturating_sub(2)
                } else {
                    (total / 8).saturating_sub(1)
                };
                h.set_next_header(next_header);
                h.set_length_field(u8::try_from(len_field).unwrap_or(u8::MAX));
                h.buffer.as_mut()[field::DATA..total].copy_from_slice(data);
            }
            Repr::Fragment { next_header, offset, more, ident } => {
                h.set_next_header(next_header);
                h.set_length_field(0);
                h.set_fragment(offset, more, ident);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // decode/zeek-ipv6-hbh-routing0.pcap, frame 0, bytes 54..102: a hop-by-hop header (PadN),
    // then a type-0 routing header with 2 segments left and two addresses, then UDP.
    //   2b 00 01 04 00 00 00 00                          HBH: next 43, len 0, PadN(4)
    //   11 04 00 02 00 00 00 00                          RH0: next 17, len 4, type 0, segleft 2
    //   20 01 00 78 00 01 00 32 00 00 00 00 00 00 00 01  2001:78:1:32::1
    //   20 01 00 78 00 01 00 32 00 00 00 00 00 00 00 02  2001:78:1:32::2
    static HBH_RH0: [u8; 48] = [
        0x2b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, //
        0x11, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, //
        0x20, 0x01, 0x00, 0x78, 0x00, 0x01, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x20, 0x01, 0x00, 0x78, 0x00, 0x01, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    ];

    // decode/sv-defrag-eth-vlan-ipv6-tcp.pcap, frame 1, bytes 58..66: fragment header.
    //   06 00 01 b9 a5 d3 3a 2d   next TCP, offset 440, M=1, id 0xa5d33a2d
    static FRAG: [u8; 8] = [0x06, 0x00, 0x01, 0xb9, 0xa5, 0xd3, 0x3a, 0x2d];

    // Synthetic AH (RFC 4302 layout; no AH capture is in the shared set): next TCP,
    // payload length 4 → (4 + 2) * 4 = 24 bytes; SPI 0x100, sequence 1, 12-byte ICV.
    static AH: [u8; 24] = [
        0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    ];

    #[test]
    fn hop_by_hop_then_routing0() {
        let hbh = ExtHeader::new_checked(&HBH_RH0[..], IpProtocol::HopByHop).unwrap();
        assert_eq!(hbh.header_len(), 8);
        assert_eq!(hbh.next_header(), IpProtocol::Ipv6Route);
        let rh = ExtHeader::new_checked(hbh.payload(), IpProtocol::Ipv6Route).unwrap();
        assert_eq!(rh.header_len(), 40);
        assert_eq!(rh.next_header(), IpProtocol::Udp);
        assert_eq!(rh.routing_type(), 0);
        assert_eq!(rh.segments_left(), 2);
        assert_eq!(rh.routing_last_address(), Some("2001:78:1:32::2".parse().unwrap()));
        assert!(rh.payload().is_empty());
    }

    #[test]
    fn fragment_header_ignores_reserved_length_byte() {
        let mut bytes = FRAG;
        bytes[1] = 0xff; // reserved; an 8-octet-unit reading would say 2048 bytes
        let h = ExtHeader::new_checked(&bytes[..], IpProtocol::Ipv6Frag).unwrap();
        assert_eq!(h.header_len(), 8);
        assert_eq!(h.next_header(), IpProtocol::Tcp);
        assert_eq!(h.frag_offset(), 440);
        assert!(h.more_frags());
        assert_eq!(h.frag_ident(), 0xa5d3_3a2d);
    }

    #[test]
    fn ah_counts_four_octet_units() {
        let h = ExtHeader::new_checked(&AH[..], IpProtocol::IpSecAh).unwrap();
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.next_header(), IpProtocol::Tcp);
        assert!(ExtHeader::new_checked(&AH[..20], IpProtocol::IpSecAh).is_err());
    }

    #[test]
    fn rejects_short_and_non_extension() {
        assert!(ExtHeader::new_checked(&HBH_RH0[..7], IpProtocol::HopByHop).is_err());
        // RH0 says 40 bytes; give it 39.
        assert!(ExtHeader::new_checked(&HBH_RH0[8..47], IpProtocol::Ipv6Route).is_err());
        assert!(ExtHeader::new_checked(&HBH_RH0[..], IpProtocol::Tcp).is_err());
    }

    #[test]
    fn repr_round_trip() {
        for (bytes, kind) in [
            (&HBH_RH0[..8], IpProtocol::HopByHop),
            (&HBH_RH0[8..], IpProtocol::Ipv6Route),
            (&FRAG[..], IpProtocol::Ipv6Frag),
            (&AH[..], IpProtocol::IpSecAh),
        ] {
            let repr = Repr::parse(&ExtHeader::new_checked(bytes, kind).unwrap()).unwrap();
            assert_eq!(repr.buffer_len(), bytes.len());
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut ExtHeader::new_unchecked(&mut buf[..], kind));
            assert_eq!(buf, bytes, "{kind}");
        }
    }
}
