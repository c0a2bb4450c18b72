//! BSD loopback headers: `LINKTYPE_NULL` (0) and `LINKTYPE_LOOP` (108), a 4-byte protocol
//! family in front of the IP packet.
//!
//! For `NULL` the family is in the byte order of the *capturing* host, which the file does not
//! record; like tcpdump, a value with bits set in its upper half is taken as byte-swapped. For
//! `LOOP` (OpenBSD) it is always in network byte order. The IPv6 family differs between BSDs:
//! 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly), 30 (Darwin); all three are IPv6 here,
//! as in Zeek's `scripts/base/packet-protocols/null/main.zeek`.

use crate::error::{Result, need};

mod field {
    pub const FAMILY: core::ops::Range<usize> = 0..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of the loopback header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// `AF_INET` on every BSD.
pub const AF_INET: u32 = 2;
/// `AF_INET6` on NetBSD, OpenBSD and BSD/OS.
pub const AF_INET6_BSD: u32 = 24;
/// `AF_INET6` on FreeBSD and DragonFly BSD.
pub const AF_INET6_FREEBSD: u32 = 28;
/// `AF_INET6` on Darwin (macOS, iOS).
pub const AF_INET6_DARWIN: u32 = 30;

/// Byte order of the family field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyOrder {
    /// `LINKTYPE_NULL`: the capturing host's order, guessed from the value.
    Host,
    /// `LINKTYPE_LOOP`: network (big-endian) order.
    Network,
}

/// What a protocol family carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6 (any of the BSD values).
    Ipv6,
    /// Another family, with its value.
    Other(u32),
}

impl From<u32> for Family {
    fn from(value: u32) -> Self {
        match value {
            AF_INET => Family::Ipv4,
            AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => Family::Ipv6,
            other => Family::Other(other),
        }
    }
}

/// A read/write view of a loopback header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer, checking that no accessor will panic.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the whole header.
    pub fn check_len(&self) -> Result<()> {
        need("BSD loopback header", self.buffer.as_ref().len(), HEADER_LEN)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol family value, read in `order`.
    #[inline]
    pub fn family(&self, order: FamilyOrder) -> u32 {
        let d = &self.buffer.as_ref()[field::FAMILY];
        let b = [d[0], d[1], d[2], d[3]];
        match order {
            FamilyOrder::Network => u32::from_be_bytes(b),
            FamilyOrder::Host => {
                // Families are small numbers: a value with its upper half set was written by a
                // host of the other byte order (tcpdump's print-null.c does the same).
                let le = u32::from_le_bytes(b);
                if le & 0xFFFF_0000 != 0 { le.swap_bytes() } else { le }
            }
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// What follows the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes the family in the given order (`Host` writes little-endian).
    pub fn set_family(&mut self, value: u32, order: FamilyOrder) {
        let b = match order {
            FamilyOrder::Network => value.to_be_bytes(),
            FamilyOrder::Host => value.to_le_bytes(),
        };
        self.buffer.as_mut()[field::FAMILY].copy_from_slice(&b);
    }
}

/// A parsed loopback header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The protocol family value.
    pub family: u32,
    /// The byte order it is read and written in.
    pub order: FamilyOrder,
}

impl Repr {
    /// Parses a header in `order`; fails only on a short buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&T>, order: FamilyOrder) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr { family: p.family(order), order })
    }

    /// Length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `p` (whose buffer must hold [`HEADER_LEN`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_family(self.family, self.order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // No NULL/LOOP capture is in the shared set; these are the headers libpcap writes on a
    // little-endian FreeBSD host (NULL, AF_INET6 = 28) and on OpenBSD (LOOP, AF_INET = 2).
    static NULL_LE_INET6: [u8; 4] = [0x1c, 0x00, 0x00, 0x00];
    static NULL_BE_INET: [u8; 4] = [0x00, 0x00, 0x00, 0x02];
    static LOOP_INET: [u8; 4] = [0x00, 0x00, 0x00, 0x02];

    #[test]
    fn host_order_is_guessed() {
        let p = Packet::new_checked(&NULL_LE_INET6[..]).unwrap();
        assert_eq!(Family::from(p.family(FamilyOrder::Host)), Family::Ipv6);
        let p = Packet::new_checked(&NULL_BE_INET[..]).unwrap();
        assert_eq!(Family::from(p.family(FamilyOrder::Host)), Family::Ipv4);
    }

    #[test]
    fn network_order() {
        let p = Packet::new_checked(&LOOP_INET[..]).unwrap();
        assert_eq!(p.family(FamilyOrder::Network), AF_INET);
        assert!(Packet::new_checked(&LOOP_INET[..3]).is_err());
    }

    #[test]
    fn repr_round_trip() {
        for (bytes, order) in [(&NULL_LE_INET6, FamilyOrder::Host), (&LOOP_INET, FamilyOrder::Network)] {
            let repr = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap(), order).unwrap();
            let mut buf = [0u8; HEADER_LEN];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(&buf, bytes);
        }
    }
}
